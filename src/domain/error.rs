//! The domain's one error type: what a transition refuses and why.

use std::fmt;

use super::contract::ContractStatus;

/// The record a transition was asked of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Contract,
    Escrow,
    Milestone,
    Payout,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Contract => "contract",
            Entity::Escrow => "escrow",
            Entity::Milestone => "milestone",
            Entity::Payout => "payout",
        }
    }
}

/// What a transition was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Approve,
    MoveTo(ContractStatus),
    RequestRelease,
    Submit,
    Reject,
    Dispute,
    RespondDispute,
    ResolveDispute,
    Release,
    Refund,
    SettleRefund,
    SettleDuplicate,
    Review,
    DebitWallet,
    SettlePayout,
    RetryPayout,
    ReversePayout,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The record is not in a state that allows the action (a 409). `reason` says why in
    /// words; `None` when the move itself is not an edge of the state machine.
    #[error("{}", invalid_transition_text(from, *action, reason.as_deref()))]
    InvalidTransition {
        entity: Entity,
        /// The state the record was in (`Pending`, `funded`, `unfunded`, …).
        from: &'static str,
        action: Action,
        reason: Option<String>,
    },
    /// The payment does not match the contract (amount or currency).
    #[error("{0}")]
    AmountMismatch(String),
    /// The input itself is wrong (a 422).
    #[error("{0}")]
    Validation(String),
    /// An open dispute freezes the escrow (a 409 of its own: wait for its resolution).
    #[error("{0}")]
    Frozen(String),
    #[error("the contract has no milestone {0}")]
    MilestoneNotFound(super::milestone::MilestoneId),
}

fn invalid_transition_text(from: &str, action: Action, reason: Option<&str>) -> String {
    match (reason, action) {
        (Some(r), _) => r.to_string(),
        (None, Action::MoveTo(to)) => {
            format!("invalid status transition from {from} to {}", to.as_str())
        }
        (None, a) => format!("cannot {a} from {from}"),
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Approve => f.write_str("approve"),
            Action::MoveTo(s) => write!(f, "move to {}", s.as_str()),
            Action::RequestRelease => f.write_str("request release"),
            Action::Submit => f.write_str("submit"),
            Action::Reject => f.write_str("reject"),
            Action::Dispute => f.write_str("dispute"),
            Action::RespondDispute => f.write_str("answer the dispute"),
            Action::ResolveDispute => f.write_str("resolve the dispute"),
            Action::Release => f.write_str("release"),
            Action::Refund => f.write_str("refund"),
            Action::SettleRefund => f.write_str("settle the refund"),
            Action::SettleDuplicate => f.write_str("settle a duplicate payment"),
            Action::Review => f.write_str("review"),
            Action::DebitWallet => f.write_str("debit the wallet"),
            Action::SettlePayout => f.write_str("settle the payout"),
            Action::RetryPayout => f.write_str("retry the payout"),
            Action::ReversePayout => f.write_str("reverse the payout"),
        }
    }
}

impl DomainError {
    /// A refusal of `action` on `entity` in state `from`, for `reason`.
    pub fn refused(
        entity: Entity,
        from: &'static str,
        action: Action,
        reason: impl Into<String>,
    ) -> DomainError {
        DomainError::InvalidTransition {
            entity,
            from,
            action,
            reason: Some(reason.into()),
        }
    }
}
