//! Payment providers. [`PaymentProvider`] creates checkout sessions and refunds, and for money
//! out connected accounts, their onboarding links and transfers; webhook events
//! come back through [`webhook::verify_and_parse`], the same code for every provider (the
//! sandbox signs its events exactly as Stripe does).

pub mod sandbox;
pub mod stripe;
pub mod webhook;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::{
    ContractId, IdempotencyKey, JobId, Money, PaymentRef, PayoutId, RefundRef, UserId,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub contract_id: ContractId,
    pub job_id: JobId,
    pub client_id: UserId,
    pub freelancer_id: UserId,
    /// Product name shown to the payer.
    pub title: String,
    pub amount: Money,
    /// The milestones it pays for (sent as the `milestones` metadata).
    pub milestones: Vec<crate::domain::MilestoneId>,
    pub success_url: String,
    pub cancel_url: String,
    /// Same contract and amount → same key → the provider returns the same session.
    pub idempotency_key: IdempotencyKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub contract_id: ContractId,
    /// The payment intent (or, without one, the checkout session) the money came from.
    pub payment_ref: PaymentRef,
    pub amount: Money,
    /// Derived from the contract and the action: the same on every retry.
    pub idempotency_key: IdempotencyKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundResult {
    pub id: RefundRef,
    /// Where the provider says the refund is.
    pub status: RefundStatus,
}

/// Where a provider refund stands (Stripe's refund `status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundStatus {
    /// The money went back.
    Succeeded,
    /// On its way (`pending`, `requires_action`): the provider says how it ends later
    /// (`refund.updated`).
    Pending,
    /// It did not happen (`failed`, `canceled`), for this reason.
    Failed(String),
}

impl RefundStatus {
    /// A provider's status text and failure reason, as Stripe writes them; an unknown or
    /// missing status is taken as pending (the provider has not said it succeeded).
    pub fn of(status: Option<&str>, failure_reason: Option<&str>) -> RefundStatus {
        match status {
            Some("succeeded") => RefundStatus::Succeeded,
            Some(s @ ("failed" | "canceled")) => {
                RefundStatus::Failed(failure_reason.unwrap_or(s).to_string())
            }
            _ => RefundStatus::Pending,
        }
    }
}

/// A freelancer's connected account to create (a Stripe Express account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRequest {
    pub user: UserId,
    /// Made from the user id: a second call for one user returns the same account.
    pub idempotency_key: IdempotencyKey,
}

/// A hosted onboarding link for a connected account (`account_onboarding`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLinkRequest {
    pub account_id: String,
    /// Where the provider sends the freelancer when the link expired or was used.
    pub refresh_url: String,
    /// Where the provider sends the freelancer when onboarding is left or done.
    pub return_url: String,
}

/// A transfer of a payout to a connected account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRequest {
    pub payout_id: PayoutId,
    pub user: UserId,
    /// The connected account (`acct_…`).
    pub destination: String,
    pub amount: Money,
    /// The charge that funds it (a payout at release), so it never waits on the platform's
    /// available balance.
    pub source_transaction: Option<String>,
    /// The same on every call of one attempt of the payout.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferResult {
    /// The provider's transfer (`tr_…`).
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The provider could not be reached or answered 5xx/timeout: try again later.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request (4xx): retrying the same request will not help.
    #[error("payment provider refused the request: {0}")]
    Rejected(String),
}

#[async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentError>;
    async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, PaymentError>;
    /// The payment intent behind a checkout session, if it has one: what tells whether an
    /// event that names only one of them is about a payment already held.
    async fn intent_of_session(
        &self,
        session: &PaymentRef,
    ) -> Result<Option<PaymentRef>, PaymentError>;
    /// Creates the user's connected account (once: the idempotency key); its id (`acct_…`).
    async fn create_connected_account(
        &self,
        request: &AccountRequest,
    ) -> Result<String, PaymentError>;
    /// A fresh onboarding link for a connected account; its URL.
    async fn create_account_link(
        &self,
        request: &AccountLinkRequest,
    ) -> Result<String, PaymentError>;
    /// Sends a payout's money to its connected account. `Rejected` is a definitive refusal
    /// (the payout fails and its money goes back to the wallet); `Unavailable` is asked again
    /// later with the same key.
    async fn create_transfer(
        &self,
        request: &TransferRequest,
    ) -> Result<TransferResult, PaymentError>;
}
