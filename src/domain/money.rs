//! Money: [`MinorUnits`] (an `i64` count of paise, cents…) with their currency. No floats
//! anywhere.
//!
//! Amounts arrive from the original API as rupee decimals in JSON (`"rate": 199.99`); they are
//! parsed exactly from their text by [`Money::parse_major`] and never pass through `f64`.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Largest amount accepted from a request, in major units (10^12 rupees).
pub const AMOUNT_MAJOR_MAX: i64 = 1_000_000_000_000;

/// Currencies the deployment may be configured with. Each knows its minor digits; matched
/// without a `_` arm so a new currency must say how many digits it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Currency {
    Inr,
    Usd,
    Eur,
    Gbp,
    Jpy,
}

impl Currency {
    pub const ALL: [Currency; 5] = [
        Currency::Inr,
        Currency::Usd,
        Currency::Eur,
        Currency::Gbp,
        Currency::Jpy,
    ];

    /// Number of minor digits (paise per rupee = 10^2).
    pub fn minor_digits(self) -> u32 {
        match self {
            Currency::Inr | Currency::Usd | Currency::Eur | Currency::Gbp => 2,
            Currency::Jpy => 0,
        }
    }

    /// Lower-case ISO 4217 code, as Stripe writes it.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Inr => "inr",
            Currency::Usd => "usd",
            Currency::Eur => "eur",
            Currency::Gbp => "gbp",
            Currency::Jpy => "jpy",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "inr" => Ok(Currency::Inr),
            "usd" => Ok(Currency::Usd),
            "eur" => Ok(Currency::Eur),
            "gbp" => Ok(Currency::Gbp),
            "jpy" => Ok(Currency::Jpy),
            _ => Err(MoneyError::UnknownCurrency(s.to_string())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must be a decimal number such as 199.99")]
    NotANumber,
    #[error("amount must be greater than zero")]
    NotPositive,
    #[error("amount has more than {0} decimal places")]
    TooPrecise(u32),
    #[error("amount is larger than the maximum of {AMOUNT_MAJOR_MAX} major units")]
    TooLarge,
    #[error("unknown currency {0:?}")]
    UnknownCurrency(String),
    #[error("currencies differ: {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("arithmetic overflow")]
    Overflow,
}

/// A signed count of a currency's minor units (paise for INR): the only amount type of the
/// domain. Stored and serialised as a plain integer. Amounts are bounded (at most 10^12 major
/// units come in, see [`AMOUNT_MAJOR_MAX`]), so the sums a transition makes cannot overflow;
/// totals over many entries are summed in `i128`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct MinorUnits(i64);

impl MinorUnits {
    pub const ZERO: MinorUnits = MinorUnits(0);

    pub const fn new(minor: i64) -> MinorUnits {
        MinorUnits(minor)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for MinorUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Add for MinorUnits {
    type Output = MinorUnits;
    fn add(self, other: MinorUnits) -> MinorUnits {
        MinorUnits(self.0 + other.0)
    }
}

impl AddAssign for MinorUnits {
    fn add_assign(&mut self, other: MinorUnits) {
        self.0 += other.0;
    }
}

impl Sub for MinorUnits {
    type Output = MinorUnits;
    fn sub(self, other: MinorUnits) -> MinorUnits {
        MinorUnits(self.0 - other.0)
    }
}

impl Neg for MinorUnits {
    type Output = MinorUnits;
    fn neg(self) -> MinorUnits {
        MinorUnits(-self.0)
    }
}

impl Sum for MinorUnits {
    fn sum<I: Iterator<Item = MinorUnits>>(iter: I) -> MinorUnits {
        iter.fold(MinorUnits::ZERO, Add::add)
    }
}

/// An amount in minor units (paise for INR) with its currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: MinorUnits,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: MinorUnits, currency: Currency) -> Self {
        Money { minor, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Money {
            minor: MinorUnits::ZERO,
            currency,
        }
    }

    /// Parses a positive decimal in major units ("199.99", "200", "1e3" is refused) exactly.
    pub fn parse_major(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let text = text.trim();
        let digits = currency.minor_digits();
        if text.starts_with('-') {
            return Err(MoneyError::NotPositive);
        }
        let text = text.strip_prefix('+').unwrap_or(text);
        let (int_part, frac_part) = match text.split_once('.') {
            Some((i, f)) => (i, f),
            None => (text, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int_part.is_empty() && frac_part.is_empty()
            || !all_digits(int_part)
            || !all_digits(frac_part)
            || (text.contains('.') && frac_part.is_empty())
            || (int_part.is_empty() && !text.contains('.'))
        {
            return Err(MoneyError::NotANumber);
        }
        // Trailing zeros beyond the minor digits carry no value ("199.990" is 199.99).
        let frac_trimmed = frac_part.trim_end_matches('0');
        if frac_trimmed.len() > digits as usize {
            return Err(MoneyError::TooPrecise(digits));
        }
        let int_trimmed = int_part.trim_start_matches('0');
        if int_trimmed.len() > 13 {
            return Err(MoneyError::TooLarge);
        }
        let major: i64 = if int_trimmed.is_empty() {
            0
        } else {
            int_trimmed.parse().map_err(|_| MoneyError::NotANumber)?
        };
        if major > AMOUNT_MAJOR_MAX {
            return Err(MoneyError::TooLarge);
        }
        let mut frac: i64 = 0;
        for i in 0..digits as usize {
            let d = frac_trimmed
                .as_bytes()
                .get(i)
                .map(|b| (b - b'0') as i64)
                .unwrap_or(0);
            frac = frac * 10 + d;
        }
        let scale = 10_i64.pow(digits);
        let minor = major
            .checked_mul(scale)
            .and_then(|m| m.checked_add(frac))
            .ok_or(MoneyError::Overflow)?;
        if minor == 0 {
            return Err(MoneyError::NotPositive);
        }
        if minor > AMOUNT_MAJOR_MAX * scale {
            return Err(MoneyError::TooLarge);
        }
        Ok(Money::new(MinorUnits(minor), currency))
    }

    /// Parses the raw JSON text of a number or string holding a major-unit amount
    /// (`199.99` or `"199.99"`). The number is read from its literal text, never through `f64`.
    pub fn parse_major_json(raw: &str, currency: Currency) -> Result<Money, MoneyError> {
        let raw = raw.trim();
        if raw.starts_with('"') {
            let text: String = serde_json::from_str(raw).map_err(|_| MoneyError::NotANumber)?;
            return Money::parse_major(&text, currency);
        }
        if raw.starts_with('-') {
            return Err(MoneyError::NotPositive);
        }
        if !raw.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            return Err(MoneyError::NotANumber);
        }
        Money::parse_major(raw, currency)
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.minor
            .0
            .checked_add(other.minor.0)
            .map(|m| Money::new(MinorUnits(m), self.currency))
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.minor
            .0
            .checked_sub(other.minor.0)
            .map(|m| Money::new(MinorUnits(m), self.currency))
            .ok_or(MoneyError::Overflow)
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        Ok(())
    }

    /// Formats in major units with all minor digits: 19999 paise → "199.99".
    pub fn format_major(self) -> String {
        format_minor(self.minor, self.currency)
    }
}

/// Formats minor units as a major-unit decimal string.
pub fn format_minor(minor: MinorUnits, currency: Currency) -> String {
    let minor = minor.0;
    let digits = currency.minor_digits();
    if digits == 0 {
        return minor.to_string();
    }
    let scale = 10_i64.pow(digits);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale as u64,
        abs % scale as u64,
        width = digits as usize
    )
}

/// `round_half_up(amount × numerator / denominator)` for non-negative amounts, computed in i128
/// so no intermediate overflows.
pub fn mul_div_half_up(amount: MinorUnits, numerator: i64, denominator: i64) -> MinorUnits {
    assert!(
        amount.0 >= 0 && numerator >= 0 && denominator > 0,
        "mul_div_half_up takes non-negative inputs"
    );
    let product = amount.0 as i128 * numerator as i128;
    let denominator = denominator as i128;
    let quotient = (product + denominator / 2) / denominator;
    MinorUnits(i64::try_from(quotient).expect("result fits because numerator <= denominator"))
}

/// Platform fee in basis points (1000 = 10 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeBps(u32);

impl FeeBps {
    pub const MAX: u32 = 10_000;

    pub fn new(bps: u32) -> Result<FeeBps, String> {
        if bps > Self::MAX {
            return Err(format!(
                "platform fee of {bps} basis points is over 10000 (100 %)"
            ));
        }
        Ok(FeeBps(bps))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// The split of an escrowed amount at funding time: fee + earning = amount, always.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeSplit {
    pub platform_fee: MinorUnits,
    pub freelancer_earning: MinorUnits,
}

pub fn fee_split(amount: MinorUnits, fee: FeeBps) -> FeeSplit {
    let platform_fee = mul_div_half_up(amount, fee.get() as i64, 10_000);
    let freelancer_earning = amount - platform_fee;
    debug_assert!(platform_fee.0 >= 0 && freelancer_earning.0 >= 0);
    FeeSplit {
        platform_fee,
        freelancer_earning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inr(text: &str) -> Result<i64, MoneyError> {
        Money::parse_major(text, Currency::Inr).map(|m| m.minor.get())
    }

    fn m(minor: i64) -> MinorUnits {
        MinorUnits::new(minor)
    }

    #[test]
    fn decimal_rupees_parse_to_exact_paise() {
        assert_eq!(inr("199.99"), Ok(19999));
        assert_eq!(inr("200"), Ok(20000));
        assert_eq!(inr("0.01"), Ok(1));
        assert_eq!(inr(".5"), Ok(50));
        assert_eq!(inr("1.10"), Ok(110));
        assert_eq!(inr("199.990"), Ok(19999));
        assert_eq!(inr("1000000000000"), Ok(100_000_000_000_000));
        assert_eq!(inr("0.1"), Ok(10));
    }

    #[test]
    fn bad_amounts_are_refused_with_their_reason() {
        assert_eq!(inr("199.999"), Err(MoneyError::TooPrecise(2)));
        assert_eq!(inr("-5"), Err(MoneyError::NotPositive));
        assert_eq!(inr("0"), Err(MoneyError::NotPositive));
        assert_eq!(inr("0.00"), Err(MoneyError::NotPositive));
        assert_eq!(inr("NaN"), Err(MoneyError::NotANumber));
        assert_eq!(inr("inf"), Err(MoneyError::NotANumber));
        assert_eq!(inr("1e3"), Err(MoneyError::NotANumber));
        assert_eq!(inr(""), Err(MoneyError::NotANumber));
        assert_eq!(inr("."), Err(MoneyError::NotANumber));
        assert_eq!(inr("5."), Err(MoneyError::NotANumber));
        assert_eq!(inr("1,000"), Err(MoneyError::NotANumber));
        assert_eq!(inr("1000000000000.01"), Err(MoneyError::TooLarge));
        assert_eq!(inr("99999999999999999999999"), Err(MoneyError::TooLarge));
    }

    #[test]
    fn json_numbers_are_read_from_their_text() {
        assert_eq!(
            Money::parse_major_json("199.99", Currency::Inr)
                .unwrap()
                .minor,
            m(19999)
        );
        assert_eq!(
            Money::parse_major_json("\"199.99\"", Currency::Inr)
                .unwrap()
                .minor,
            m(19999)
        );
        // A float would round this to 200.0 and accept it; the text says it has too many digits.
        assert_eq!(
            Money::parse_major_json("199.999999999999999999", Currency::Inr),
            Err(MoneyError::TooPrecise(2))
        );
        assert_eq!(
            Money::parse_major_json("true", Currency::Inr),
            Err(MoneyError::NotANumber)
        );
        assert_eq!(
            Money::parse_major_json("null", Currency::Inr),
            Err(MoneyError::NotANumber)
        );
        assert_eq!(
            Money::parse_major_json("-1", Currency::Inr),
            Err(MoneyError::NotPositive)
        );
    }

    #[test]
    fn zero_decimal_currencies_refuse_fractions() {
        assert_eq!(
            Money::parse_major("500", Currency::Jpy).unwrap().minor,
            m(500)
        );
        assert_eq!(
            Money::parse_major("500.5", Currency::Jpy),
            Err(MoneyError::TooPrecise(0))
        );
    }

    #[test]
    fn fee_rounds_half_up() {
        let ten = FeeBps::new(1000).unwrap();
        assert_eq!(
            fee_split(m(5), ten),
            FeeSplit {
                platform_fee: m(1),
                freelancer_earning: m(4)
            }
        ); // 0.5 → 1
        assert_eq!(
            fee_split(m(4), ten),
            FeeSplit {
                platform_fee: m(0),
                freelancer_earning: m(4)
            }
        ); // 0.4 → 0
        assert_eq!(
            fee_split(m(15), ten),
            FeeSplit {
                platform_fee: m(2),
                freelancer_earning: m(13)
            }
        ); // 1.5 → 2
        assert_eq!(
            fee_split(m(19999), ten),
            FeeSplit {
                platform_fee: m(2000),
                freelancer_earning: m(17999)
            }
        );
        assert_eq!(mul_div_half_up(m(i64::MAX), 10_000, 10_000), m(i64::MAX));
    }

    #[test]
    fn fee_over_100_percent_is_refused() {
        assert!(FeeBps::new(10_001).is_err());
        assert!(FeeBps::new(10_000).is_ok());
    }

    #[test]
    fn money_formats_in_major_units() {
        assert_eq!(format_minor(m(19999), Currency::Inr), "199.99");
        assert_eq!(format_minor(m(5), Currency::Inr), "0.05");
        assert_eq!(format_minor(m(-150), Currency::Inr), "-1.50");
        assert_eq!(format_minor(m(7), Currency::Jpy), "7");
    }

    proptest! {
        #[test]
        fn fee_plus_earning_is_always_the_amount(amount in 0i64..=100_000_000_000_000, bps in 0u32..=10_000) {
            let split = fee_split(m(amount), FeeBps::new(bps).unwrap());
            prop_assert_eq!(split.platform_fee + split.freelancer_earning, m(amount));
            prop_assert!(split.platform_fee.get() >= 0 && split.freelancer_earning.get() >= 0);
        }

        #[test]
        fn formatting_then_parsing_is_the_identity(minor in 1i64..=100_000_000_000_000) {
            let text = format_minor(m(minor), Currency::Inr);
            prop_assert_eq!(Money::parse_major(&text, Currency::Inr).unwrap().minor, m(minor));
        }
    }
}
