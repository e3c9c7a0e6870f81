//! The domain's one error type: what a transition refuses and why.

use super::contract::ContractStatus;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("invalid status transition from {} to {}", from.as_str(), to.as_str())]
    InvalidTransition {
        from: ContractStatus,
        to: ContractStatus,
    },
    /// The record is not in a state that allows the action (stable code: a 409).
    #[error("{0}")]
    State(String),
    /// The payment does not match the contract (amount or currency).
    #[error("{0}")]
    AmountMismatch(String),
    /// The input itself is wrong (a 422).
    #[error("{0}")]
    Validation(String),
}
