//! The service's one error type. Each error has a kind (mapped to an HTTP status in
//! `http::error` and to an exit code in the CLI, each in one place) and a stable machine `code`
//! that clients switch on.

use crate::domain::DomainError;
use crate::media::MediaError;
use crate::payment::PaymentError;
use crate::store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed request (400).
    BadRequest,
    /// No or bad credentials (401).
    Unauthorized,
    /// Not yours, or not your role (403).
    Forbidden,
    NotFound,
    /// Wrong state or a conflicting concurrent change (409).
    Conflict,
    /// Too large (413).
    TooLarge,
    /// Unsupported media (415).
    Unsupported,
    /// Well-formed but invalid input (422).
    Validation,
    /// The payment provider could not be reached; the work is kept and retried (503).
    PaymentUnavailable,
    /// The payment provider refused (502).
    PaymentFailed,
    /// Media storage failed (502/503).
    MediaUnavailable,
    /// Storage unreachable (503).
    Unavailable,
    /// A bug or an unexpected failure (500): the message is logged, never shown.
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Error {
        Error {
            kind,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(code: &'static str, m: impl Into<String>) -> Error {
        Error::new(ErrorKind::BadRequest, code, m)
    }
    pub fn forbidden(code: &'static str, m: impl Into<String>) -> Error {
        Error::new(ErrorKind::Forbidden, code, m)
    }
    pub fn not_found(code: &'static str, m: impl Into<String>) -> Error {
        Error::new(ErrorKind::NotFound, code, m)
    }
    pub fn conflict(code: &'static str, m: impl Into<String>) -> Error {
        Error::new(ErrorKind::Conflict, code, m)
    }
    pub fn validation(code: &'static str, m: impl Into<String>) -> Error {
        Error::new(ErrorKind::Validation, code, m)
    }
    pub fn internal(m: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, "internal", m)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        match e {
            StoreError::NotFound => Error::not_found("not_found", "not found"),
            StoreError::Duplicate(m) => Error::conflict("conflict.duplicate", m),
            StoreError::Conflict => Error::conflict(
                "conflict.concurrent",
                "the record was changed concurrently; try again",
            ),
            StoreError::Unavailable(m) => {
                Error::new(ErrorKind::Unavailable, "storage.unavailable", m)
            }
            StoreError::Other(m) => Error::internal(m),
        }
    }
}

impl From<DomainError> for Error {
    fn from(e: DomainError) -> Error {
        let message = e.to_string();
        match e {
            DomainError::InvalidTransition { .. } => {
                Error::conflict("contract.invalid_transition", message)
            }
            DomainError::State(_) => Error::conflict("state.conflict", message),
            DomainError::AmountMismatch(_) => Error::conflict("amount_mismatch", message),
            DomainError::Validation(_) => Error::validation("validation.failed", message),
        }
    }
}

impl From<PaymentError> for Error {
    fn from(e: PaymentError) -> Error {
        match e {
            PaymentError::Unavailable(m) => Error::new(
                ErrorKind::PaymentUnavailable,
                "payment.unavailable",
                format!(
                    "the payment provider is unavailable; the request is kept and retried ({m})"
                ),
            ),
            PaymentError::Rejected(m) => Error::new(
                ErrorKind::PaymentFailed,
                "payment.rejected",
                format!("the payment provider refused: {m}"),
            ),
        }
    }
}

impl From<MediaError> for Error {
    fn from(e: MediaError) -> Error {
        let message = e.to_string();
        match e {
            MediaError::TooLarge(_) => Error::new(ErrorKind::TooLarge, "media.too_large", message),
            MediaError::Unsupported => {
                Error::new(ErrorKind::Unsupported, "media.unsupported_type", message)
            }
            MediaError::Empty => Error::validation("media.empty", message),
            MediaError::Interrupted(_) => Error::bad_request("media.interrupted", message),
            MediaError::Unavailable(_) => {
                Error::new(ErrorKind::MediaUnavailable, "media.unavailable", message)
            }
            MediaError::Rejected(_) => {
                Error::new(ErrorKind::MediaUnavailable, "media.rejected", message)
            }
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
