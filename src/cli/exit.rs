//! Exit codes (DESIGN §9) and the CLI's one error type. [`CliError::from`] for a service error
//! is the only place an [`ErrorKind`] becomes an exit code.

use std::fmt;

use crate::config::ConfigError;
use crate::service::{Error, ErrorCode, ErrorKind};
use crate::startup::StartError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    /// Anything else: storage, a question answered no, violations found.
    Error = 1,
    /// Usage or validation: bad arguments, id, amount or settings; no --yes without a terminal.
    Usage = 2,
    NotFound = 3,
    /// Wrong state or a conflicting concurrent change.
    Conflict = 4,
    /// The payment provider failed or could not be reached.
    Payment = 5,
}

/// Every exit code with its meaning, for the man pages' EXIT STATUS section.
pub const CODES: &[(Exit, &str)] = &[
    (Exit::Ok, "ok"),
    (
        Exit::Error,
        "error: storage, a question answered no, verify found violations",
    ),
    (
        Exit::Usage,
        "usage or validation: bad arguments, id, amount or settings; no --yes without a terminal",
    ),
    (Exit::NotFound, "not found: no such contract"),
    (
        Exit::Conflict,
        "wrong state or conflict: already released or refunded, not requested, a concurrent change",
    ),
    (
        Exit::Payment,
        "payment provider failed: the refund is booked and the server retries it",
    ),
];

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> std::process::ExitCode {
        std::process::ExitCode::from(e as u8)
    }
}

/// An error on its way to one line on stderr and an exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub exit: Exit,
    /// Stable machine code, the service's where there is one (`escrow.wrong_state`).
    pub code: ErrorCode,
    pub message: String,
}

impl CliError {
    pub fn new(exit: Exit, code: ErrorCode, message: impl Into<String>) -> CliError {
        CliError {
            exit,
            code,
            message: message.into(),
        }
    }

    pub fn usage(code: ErrorCode, message: impl Into<String>) -> CliError {
        CliError::new(Exit::Usage, code, message)
    }

    pub fn io(what: &str, e: std::io::Error) -> CliError {
        CliError::new(Exit::Error, ErrorCode::Io, format!("{what}: {e}"))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.message, self.code)
    }
}

impl From<Error> for CliError {
    /// An operator sees the whole cause of a failure (the server would log it); a refusal is
    /// its message.
    fn from(e: Error) -> CliError {
        let exit = match e.kind() {
            ErrorKind::BadRequest | ErrorKind::Validation => Exit::Usage,
            ErrorKind::NotFound => Exit::NotFound,
            ErrorKind::Conflict => Exit::Conflict,
            ErrorKind::PaymentUnavailable | ErrorKind::PaymentFailed => Exit::Payment,
            ErrorKind::Unauthorized
            | ErrorKind::Forbidden
            | ErrorKind::MethodNotAllowed
            | ErrorKind::TooLarge
            | ErrorKind::TooManyRequests
            | ErrorKind::Timeout
            | ErrorKind::Unsupported
            | ErrorKind::MediaUnavailable
            | ErrorKind::MediaRejected
            | ErrorKind::Unavailable
            | ErrorKind::Internal => Exit::Error,
        };
        let message = if exit == Exit::Error {
            e.chain()
        } else {
            e.message.clone()
        };
        CliError::new(exit, e.code, message)
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> CliError {
        CliError::new(Exit::Usage, ErrorCode::ConfigInvalid, e.to_string())
    }
}

impl From<StartError> for CliError {
    fn from(e: StartError) -> CliError {
        match e {
            StartError::Config(e) => e.into(),
            StartError::Unsupported(m) => {
                CliError::new(Exit::Usage, ErrorCode::ConfigUnsupported, m)
            }
            StartError::Store(e) => {
                CliError::new(Exit::Error, ErrorCode::StorageOpen, Error::from(e).chain())
            }
            StartError::Directory(e) => {
                CliError::new(Exit::Error, ErrorCode::DirectoryUnavailable, e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_map_to_the_documented_codes() {
        let exit = |code| CliError::from(Error::new(code, "m")).exit as u8;
        assert_eq!(exit(ErrorCode::ValidationAmount), 2);
        assert_eq!(exit(ErrorCode::RequestInvalidId), 2);
        assert_eq!(exit(ErrorCode::ContractNotFound), 3);
        assert_eq!(exit(ErrorCode::EscrowWrongState), 4);
        assert_eq!(exit(ErrorCode::PaymentUnavailable), 5);
        assert_eq!(exit(ErrorCode::PaymentRejected), 5);
        assert_eq!(exit(ErrorCode::Internal), 1);
    }

    #[test]
    fn every_code_is_documented_once_in_order() {
        let codes: Vec<u8> = CODES.iter().map(|(e, _)| *e as u8).collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 5]);
    }
}
