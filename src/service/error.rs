//! The service's one error type, and every stable error code the product answers with.
//!
//! An [`Error`] is an [`ErrorCode`] (the machine code clients switch on, which decides the
//! error's [`ErrorKind`]), a message for people, and the cause it came from (kept as its
//! `source`, so the cause chain is logged once, where the error is answered). The kind becomes
//! an HTTP status in `http::error` and an exit code in the CLI, each in one place.

use std::fmt;
use std::sync::Arc;

use crate::domain::{Action, DomainError};
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
    /// The route exists, not with this method (405).
    MethodNotAllowed,
    /// Wrong state or a conflicting concurrent change (409).
    Conflict,
    /// Too large (413).
    TooLarge,
    /// Unsupported media (415).
    Unsupported,
    /// Well-formed but invalid input (422).
    Validation,
    /// Too many at once: try again when one of them is done (429).
    TooManyRequests,
    /// Cut off after its time ran out (408).
    Timeout,
    /// The payment provider could not be reached; the work is kept and retried (503).
    PaymentUnavailable,
    /// The payment provider refused (502).
    PaymentFailed,
    /// Media storage could not be reached (503).
    MediaUnavailable,
    /// Media storage refused the file (502).
    MediaRejected,
    /// Storage unreachable (503).
    Unavailable,
    /// A bug or an unexpected failure (500): the message is logged, never shown.
    Internal,
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident = $text:literal, $kind:ident;)*) => {
        /// Every stable error code. `as_str` is what clients see; nothing branches on that
        /// text, only on the variant.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $name,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => $text,)*
                }
            }

            /// What kind of failure the code is.
            pub fn kind(self) -> ErrorKind {
                match self {
                    $(ErrorCode::$name => ErrorKind::$kind,)*
                }
            }
        }
    };
}

error_codes! {
    // ---- the request itself ----
    RequestMalformedJson = "request.malformed_json", BadRequest;
    RequestInvalidId = "request.invalid_id", BadRequest;
    RequestUnreadable = "request.unreadable", BadRequest;
    RequestBadQuery = "request.bad_query", BadRequest;
    RequestBadMultipart = "request.bad_multipart", BadRequest;
    RequestTooLarge = "request.too_large", TooLarge;
    RequestTimeout = "request.timeout", Timeout;
    RequestUnsupportedMediaType = "request.unsupported_media_type", Unsupported;
    RouteNotFound = "route.not_found", NotFound;
    RouteMethodNotAllowed = "route.method_not_allowed", MethodNotAllowed;
    IdempotencyInvalidKey = "idempotency.invalid_key", BadRequest;
    IdempotencyMismatch = "idempotency.mismatch", Validation;
    IdempotencyInFlight = "idempotency.in_flight", Conflict;
    // ---- webhooks ----
    WebhookSignatureMissing = "webhook.signature_missing", BadRequest;
    WebhookSignatureInvalid = "webhook.signature_invalid", BadRequest;
    WebhookTimestampOutOfTolerance = "webhook.timestamp_out_of_tolerance", BadRequest;
    WebhookMalformed = "webhook.malformed", BadRequest;
    // ---- who calls ----
    AuthMissingToken = "auth.missing_token", Unauthorized;
    AuthInvalidToken = "auth.invalid_token", Unauthorized;
    AuthWrongRole = "auth.wrong_role", Forbidden;
    AuthNotParty = "auth.not_party", Forbidden;
    AuthNotOwner = "auth.not_owner", Forbidden;
    AuthBlocked = "auth.blocked", Forbidden;
    AuthUnknownUser = "auth.unknown_user", Unauthorized;
    // ---- what is not there ----
    NotFound = "not_found", NotFound;
    ContractNotFound = "contract.not_found", NotFound;
    MilestoneNotFound = "milestone.not_found", NotFound;
    MediaNotFound = "media.not_found", NotFound;
    SandboxDisabled = "sandbox.disabled", NotFound;
    SandboxSessionNotFound = "sandbox.session_not_found", NotFound;
    // ---- wrong state, conflicts ----
    ContractExistsForJob = "contract.exists_for_job", Conflict;
    JobNotFound = "job.not_found", NotFound;
    JobNotOpen = "job.not_open", Conflict;
    JobNotApplied = "job.not_applied", Conflict;
    ContractInvalidTransition = "contract.invalid_transition", Conflict;
    ContractNotApproved = "contract.not_approved", Conflict;
    EscrowAlreadyFunded = "escrow.already_funded", Conflict;
    EscrowWrongState = "escrow.wrong_state", Conflict;
    /// An open dispute freezes the escrow: it moves only when the dispute is resolved.
    EscrowFrozen = "escrow.frozen", Conflict;
    StateConflict = "state.conflict", Conflict;
    AmountMismatch = "amount_mismatch", Conflict;
    FreelancerMismatch = "freelancer_mismatch", Conflict;
    ReviewExists = "review.exists", Conflict;
    ReviewContractNotCompleted = "review.contract_not_completed", Conflict;
    ConflictDuplicate = "conflict.duplicate", Conflict;
    /// A lost race: try again (never kept for an idempotency key).
    ConflictConcurrent = "conflict.concurrent", Conflict;
    /// Lost too many races in a row: try again (never kept for an idempotency key).
    ConflictBusy = "conflict.busy", Conflict;
    // ---- money out ----
    /// Production without `STRIPE_CONNECT_WEBHOOK_SECRET`: no money out.
    PayoutUnconfigured = "payout.unconfigured", Unavailable;
    PayoutNotFound = "payout.not_found", NotFound;
    PayoutNoAccount = "payout.no_account", Conflict;
    PayoutNotEnabled = "payout.not_enabled", Conflict;
    PayoutInsufficientBalance = "payout.insufficient_balance", Conflict;
    PayoutWrongState = "payout.wrong_state", Conflict;
    PayoutBelowMinimum = "payout.below_minimum", Validation;
    // ---- invalid input ----
    ValidationAmount = "validation.amount", Validation;
    ValidationTitle = "validation.title", Validation;
    ValidationStatus = "validation.status", Validation;
    ValidationRating = "validation.rating", Validation;
    ValidationReason = "validation.reason", Validation;
    ValidationDate = "validation.date", Validation;
    ValidationDateRange = "validation.date_range", Validation;
    ValidationPaging = "validation.paging", Validation;
    ValidationBody = "validation.body", Validation;
    ValidationFailed = "validation.failed", Validation;
    // ---- media ----
    MediaMissing = "media.missing", BadRequest;
    MediaInterrupted = "media.interrupted", BadRequest;
    MediaEmpty = "media.empty", Validation;
    MediaTooLarge = "media.too_large", TooLarge;
    MediaTooManyUploads = "media.too_many_uploads", TooManyRequests;
    MediaUnsupportedType = "media.unsupported_type", Unsupported;
    MediaUnavailable = "media.unavailable", MediaUnavailable;
    MediaRejected = "media.rejected", MediaRejected;
    // ---- providers and storage ----
    PaymentUnavailable = "payment.unavailable", PaymentUnavailable;
    PaymentRejected = "payment.rejected", PaymentFailed;
    StorageUnavailable = "storage.unavailable", Unavailable;
    DirectoryUnavailable = "directory.unavailable", Unavailable;
    Internal = "internal", Internal;
    // ---- escrowctl's own ----
    ConfirmationRequired = "confirmation.required", Validation;
    ConfirmationFailed = "confirmation.failed", Internal;
    ConfirmationDeclined = "confirmation.declined", Conflict;
    ConflictPlanChanged = "conflict.plan_changed", Conflict;
    ConfigInvalid = "config.invalid", Validation;
    ConfigUnsupported = "config.unsupported", Validation;
    StorageOpen = "storage.open", Unavailable;
    StorageMissing = "storage.missing", NotFound;
    TokenProduction = "token.production", Validation;
    VerifyViolations = "verify.violations", Internal;
    Io = "io", Internal;
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cause kept behind an error (shared, so the error stays cheap to clone).
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone)]
pub struct Error {
    pub code: ErrorCode,
    /// For people: what went wrong and, for a 4xx, what to do about it.
    pub message: String,
    source: Option<Cause>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        self.code == other.code && self.message == other.message
    }
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
            source: None,
        }
    }

    /// The same error, caused by `source`.
    pub fn caused_by(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.source = Some(Arc::new(source));
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.code.kind()
    }

    pub fn internal(m: impl Into<String>) -> Error {
        Error::new(ErrorCode::Internal, m)
    }

    /// The message followed by every cause behind it, for a log line or an operator's
    /// terminal: `storage unavailable: sqlite: database is locked`.
    pub fn chain(&self) -> String {
        let mut text = self.message.clone();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            let shown = c.to_string();
            // A store error's own text is the message already; show each new part once.
            if !text.ends_with(&shown) {
                text.push_str(": ");
                text.push_str(&shown);
            }
            cause = c.source();
        }
        text
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        let (code, message) = match &e {
            StoreError::NotFound => (ErrorCode::NotFound, "not found".to_string()),
            StoreError::Duplicate(m) => (ErrorCode::ConflictDuplicate, m.clone()),
            StoreError::Conflict => (
                ErrorCode::ConflictConcurrent,
                "the record was changed concurrently; try again".to_string(),
            ),
            StoreError::Unavailable { .. } => (ErrorCode::StorageUnavailable, e.to_string()),
            StoreError::Other { .. } => (ErrorCode::Internal, e.to_string()),
        };
        Error::new(code, message).caused_by(e)
    }
}

impl From<crate::directory::DirectoryError> for Error {
    fn from(e: crate::directory::DirectoryError) -> Error {
        Error::new(ErrorCode::DirectoryUnavailable, e.to_string()).caused_by(e)
    }
}

impl From<DomainError> for Error {
    /// The code follows what was refused: a release or refund of an escrow that cannot be
    /// (`escrow.wrong_state`), a move that is not an edge of the contract's state machine
    /// (`contract.invalid_transition`), a review of unfinished work, and any other refused
    /// transition (`state.conflict`).
    fn from(e: DomainError) -> Error {
        let message = e.to_string();
        let code = match &e {
            DomainError::InvalidTransition { action, reason, .. } => match (action, reason) {
                (
                    Action::Release
                    | Action::Refund
                    | Action::Submit
                    | Action::Reject
                    | Action::Dispute
                    | Action::RespondDispute
                    | Action::ResolveDispute,
                    _,
                ) => ErrorCode::EscrowWrongState,
                (Action::MoveTo(_), None) => ErrorCode::ContractInvalidTransition,
                (Action::Review, _) => ErrorCode::ReviewContractNotCompleted,
                (
                    Action::DebitWallet
                    | Action::SettlePayout
                    | Action::RetryPayout
                    | Action::ReversePayout,
                    _,
                ) => ErrorCode::PayoutWrongState,
                _ => ErrorCode::StateConflict,
            },
            DomainError::AmountMismatch(_) => ErrorCode::AmountMismatch,
            DomainError::Validation(_) => ErrorCode::ValidationFailed,
            DomainError::MilestoneNotFound(_) => ErrorCode::MilestoneNotFound,
            DomainError::Frozen(_) => ErrorCode::EscrowFrozen,
        };
        Error::new(code, message)
    }
}

impl From<PaymentError> for Error {
    fn from(e: PaymentError) -> Error {
        match &e {
            PaymentError::Unavailable(m) => Error::new(
                ErrorCode::PaymentUnavailable,
                format!(
                    "the payment provider is unavailable; the request is kept and retried ({m})"
                ),
            ),
            PaymentError::Rejected(m) => Error::new(
                ErrorCode::PaymentRejected,
                format!("the payment provider refused: {m}"),
            ),
        }
    }
}

impl From<MediaError> for Error {
    fn from(e: MediaError) -> Error {
        let message = e.to_string();
        let code = match e {
            MediaError::TooLarge(_) => ErrorCode::MediaTooLarge,
            MediaError::Unsupported => ErrorCode::MediaUnsupportedType,
            MediaError::Empty => ErrorCode::MediaEmpty,
            MediaError::Interrupted(_) => ErrorCode::MediaInterrupted,
            MediaError::Unavailable(_) => ErrorCode::MediaUnavailable,
            MediaError::Rejected(_) => ErrorCode::MediaRejected,
        };
        Error::new(code, message)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ContractStatus, Entity};

    #[test]
    fn every_code_is_distinct() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
        }
    }

    #[test]
    fn a_refused_transition_gets_the_code_of_what_was_refused() {
        let refused = |action, reason: Option<&str>| {
            Error::from(DomainError::InvalidTransition {
                entity: Entity::Contract,
                from: "Pending",
                action,
                reason: reason.map(str::to_string),
            })
            .code
        };
        assert_eq!(
            refused(Action::Release, Some("x")),
            ErrorCode::EscrowWrongState
        );
        assert_eq!(
            refused(Action::MoveTo(ContractStatus::Completed), None),
            ErrorCode::ContractInvalidTransition
        );
        assert_eq!(
            refused(Action::MoveTo(ContractStatus::Started), Some("x")),
            ErrorCode::StateConflict
        );
        assert_eq!(
            refused(Action::Review, Some("x")),
            ErrorCode::ReviewContractNotCompleted
        );
        assert_eq!(
            refused(Action::RequestRelease, Some("x")),
            ErrorCode::StateConflict
        );
    }

    #[test]
    fn the_chain_names_every_cause_once() {
        let e = Error::from(StoreError::unavailable_from(
            "sqlite",
            std::io::Error::other("database is locked"),
        ));
        assert_eq!(e.code, ErrorCode::StorageUnavailable);
        assert_eq!(e.chain(), "storage unavailable: sqlite: database is locked");
    }
}
