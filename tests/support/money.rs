//! Reading the API's amounts back. The wire writes money in rupees as exact decimals (`1500.5`);
//! tests compare in integer paise, as the ledger counts. The number's text is read digit by
//! digit: a JSON number of at most 15 significant digits prints back exactly as it was sent.

use serde_json::Value;

/// The paise of a rupee amount as the API wrote it (`1500.5` → `150050`). Panics on anything
/// that is not a JSON number with at most two decimals.
pub fn minor(v: &Value) -> i64 {
    assert!(v.is_number(), "not an amount: {v}");
    let text = v.to_string();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    assert!(
        fraction.len() <= 2 && !text.contains(['e', 'E']),
        "more than paise in {text}"
    );
    let paise =
        whole.parse::<i64>().unwrap() * 100 + format!("{fraction:0<2}").parse::<i64>().unwrap();
    if negative { -paise } else { paise }
}
