//! Amounts on the wire: a JSON number in major units (rupees), written exactly from the integer
//! minor units (`150050` paise → `1500.5`, `100000` → `1000`, `1` → `0.01`), never through a
//! float. Storage, the ledger and all arithmetic stay in minor units; this is only how a view
//! writes them.

use serde::{Serialize, Serializer};

use crate::domain::{Currency, MinorUnits};

/// An amount of `currency`, written in major units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount {
    minor: MinorUnits,
    currency: Currency,
}

impl Amount {
    pub fn new(minor: MinorUnits, currency: Currency) -> Amount {
        Amount { minor, currency }
    }

    /// The integer minor units (what tables and arithmetic use).
    pub fn minor(&self) -> MinorUnits {
        self.minor
    }

    /// The JSON number text: the major units with only the minor digits that are not zero.
    pub fn text(&self) -> String {
        let full = crate::domain::money::format_minor(self.minor, self.currency);
        if !full.contains('.') {
            return full;
        }
        full.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

impl From<Amount> for MinorUnits {
    fn from(a: Amount) -> MinorUnits {
        a.minor
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The number's own digits, as a JSON number: serde_json writes a RawValue verbatim.
        let raw = serde_json::value::RawValue::from_string(self.text())
            .map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(minor: i64) -> String {
        serde_json::to_string(&Amount::new(MinorUnits::new(minor), Currency::Inr)).unwrap()
    }

    #[test]
    fn amounts_are_written_exactly_in_major_units() {
        for (minor, wire) in [
            (150_050, "1500.5"),
            (100_000, "1000"),
            (1, "0.01"),
            (10, "0.1"),
            (19_999, "199.99"),
            (0, "0"),
            (-12_345, "-123.45"),
            (99_999_999_999_999, "999999999999.99"),
            (i64::MAX, "92233720368547758.07"),
        ] {
            assert_eq!(text(minor), wire, "{minor}");
        }
        #[derive(Serialize)]
        struct Row {
            amount: Amount,
        }
        let row = Row {
            amount: Amount::new(MinorUnits::new(150_050), Currency::Inr),
        };
        assert_eq!(serde_json::to_string(&row).unwrap(), r#"{"amount":1500.5}"#);
    }
}
