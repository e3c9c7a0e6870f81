//! Parsing at the edge: what the adapters (HTTP, the CLI, the tests that drive the library)
//! turn a request's text into before they call a use case, with the stable error each kind of
//! bad input gets. The use cases themselves never parse.

use std::str::FromStr;

use super::error::{Error, ErrorCode, Result};
use crate::domain::money::MoneyError;
use crate::domain::{ContractRef, ContractStatus, Currency, MinorUnits, Money, Rating, Title};

/// An id of the kind `what` ("contract id", "freelancerId"): 400 `request.invalid_id`.
pub fn id<T: FromStr>(text: &str, what: &str) -> Result<T> {
    text.parse().map_err(|_| {
        Error::new(
            ErrorCode::RequestInvalidId,
            format!(
                "{what} {:?} is not a 24-character hex id",
                text.chars().take(64).collect::<String>()
            ),
        )
    })
}

/// A contract as a request names it: its 24-hex id or its human id ("CON00000042"), 400
/// `request.invalid_id` otherwise. [`crate::service::Service::contract_id`] resolves it.
pub fn contract(text: &str) -> Result<ContractRef> {
    ContractRef::parse(text).map_err(|_| {
        Error::new(
            ErrorCode::RequestInvalidId,
            format!(
                "contract id {:?} is neither a 24-character hex id nor a human id like CON00000042",
                text.chars().take(64).collect::<String>()
            ),
        )
    })
}

/// An amount in major units as JSON text (`199.99` or `"199.99"`), read exactly, in
/// `currency`: 422 `validation.amount`.
pub fn amount(field: &str, json: &str, currency: Currency) -> Result<Money> {
    Money::parse_major_json(json, currency).map_err(|e| money_error(field, e))
}

/// A share of an escrow in major units as typed ("450", "199.99") or nothing ("0"): unlike an
/// amount it may be zero, never negative (422 `validation.amount`).
pub fn share_text(field: &str, text: &str, currency: Currency) -> Result<MinorUnits> {
    match Money::parse_major(text, currency) {
        Ok(m) => Ok(m.minor),
        // `parse_major` says NotPositive for a negative number and for zero; only zero is a
        // share.
        Err(MoneyError::NotPositive) if !text.trim().starts_with('-') => Ok(MinorUnits::ZERO),
        Err(e) => Err(money_error(field, e)),
    }
}

/// A share as JSON text: a number or a decimal string, read exactly ([`share_text`]).
pub fn share(field: &str, json: &str, currency: Currency) -> Result<MinorUnits> {
    let raw = json.trim();
    if raw.starts_with('"') {
        let text: String =
            serde_json::from_str(raw).map_err(|_| money_error(field, MoneyError::NotANumber))?;
        return share_text(field, &text, currency);
    }
    if !raw
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'-')
    {
        return Err(money_error(field, MoneyError::NotANumber));
    }
    share_text(field, raw, currency)
}

/// Text a request must not leave blank (a dispute's reason, an answer): 422
/// `validation.reason`.
pub fn required_text(field: &str, text: &str) -> Result<String> {
    if text.trim().is_empty() {
        return Err(Error::new(
            ErrorCode::ValidationReason,
            format!("{field} must not be blank"),
        ));
    }
    Ok(text.to_string())
}

pub fn money_error(field: &str, e: MoneyError) -> Error {
    Error::new(ErrorCode::ValidationAmount, format!("{field}: {e}"))
}

/// A contract title: 422 `validation.title` when too long.
/// A milestone as a request names it: its number, 1 to 50 (400 `request.invalid_id`).
pub fn milestone(text: &str) -> Result<crate::domain::MilestoneId> {
    crate::domain::MilestoneId::parse(text)
        .map_err(|e| Error::new(ErrorCode::RequestInvalidId, e.to_string()))
}

pub fn title(text: &str) -> Result<Title> {
    Title::parse(text).map_err(|e| Error::new(ErrorCode::ValidationTitle, e.to_string()))
}

/// A contract status by its name: 422 `validation.status`.
pub fn status(text: &str) -> Result<ContractStatus> {
    ContractStatus::parse(text).ok_or_else(|| {
        Error::new(
            ErrorCode::ValidationStatus,
            format!(
                "status must be one of Pending, Started, Ongoing, Completed, Canceled; got {text:?}"
            ),
        )
    })
}

/// A rating as sent in JSON: 422 `validation.rating`.
pub fn rating(value: &serde_json::Value) -> Result<Rating> {
    Rating::parse(value).map_err(|e| Error::new(ErrorCode::ValidationRating, e.to_string()))
}

/// Why an operator forces a release: not blank (422 `validation.reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    pub fn parse(text: &str) -> Result<Reason> {
        if text.trim().is_empty() {
            return Err(Error::new(
                ErrorCode::ValidationReason,
                "a forced release needs a reason",
            ));
        }
        Ok(Reason(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A day `YYYY-MM-DD` as the Unix milliseconds of its UTC midnight: 422 `validation.date`.
pub fn date_ms(field: &str, text: &str) -> Result<i64> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(day_start_ms)
        .map_err(|_| {
            Error::new(
                ErrorCode::ValidationDate,
                format!("{field} must be a date YYYY-MM-DD"),
            )
        })
}

/// Midnight UTC at the start of `day`, in Unix milliseconds.
pub fn day_start_ms(day: chrono::NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp_millis()
}
