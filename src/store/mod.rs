//! Storage behind one object-safe trait. Backends translate their driver errors into
//! [`StoreError`] inside themselves; no rusqlite or mongodb type crosses this boundary.
//!
//! The unit of atomicity is one contract record (contract + escrow + history): every money
//! transition is [`Store::save_contract`], a compare-and-set on the record's `version` that
//! writes the record and its ledger entries together. Ledger entry ids are deterministic, so
//! writing the same entries twice is a no-op.

pub mod idempotency;
#[cfg(feature = "mongodb")]
pub mod mongo;
pub mod sqlite;

pub use idempotency::{Begin, StoredResponse};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::{
    Account, Contract, ContractId, ContractStatus, Currency, EscrowStatus, JobId, LedgerEntry,
    Review, UserId,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique key already exists (a second live contract for a job, a second review).
    #[error("duplicate: {0}")]
    Duplicate(String),
    /// The record changed since it was read (compare-and-set lost).
    #[error("the record was changed concurrently")]
    Conflict,
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Pagination: `page` from 1, `limit` at most [`Page::LIMIT_MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Page {
    pub page: u32,
    pub limit: u32,
}

impl Page {
    pub const LIMIT_MAX: u32 = 100;

    pub fn new(page: u32, limit: u32) -> Page {
        Page {
            page: page.max(1),
            limit: limit.clamp(1, Self::LIMIT_MAX),
        }
    }

    pub fn offset(self) -> u64 {
        (self.page as u64 - 1) * self.limit as u64
    }
}

impl Default for Page {
    fn default() -> Page {
        Page::new(1, 20)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContractFilter {
    pub escrow_status: Option<EscrowStatus>,
    pub contract_status: Option<ContractStatus>,
    pub release_requested: bool,
    /// Only contracts that have an escrow.
    pub funded_only: bool,
}

/// A received webhook event, as recorded for deduplication and audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    pub event_id: String,
    pub event_type: String,
    pub status: EventStatus,
    pub error: Option<String>,
    pub contract_id: Option<String>,
    pub received_at: i64,
    pub updated_at: i64,
    pub deliveries: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Stored, not yet applied (or the process died while applying it).
    Received,
    Applied,
    /// Not an event this product acts on; recorded only.
    Ignored,
    /// Can never be applied (unknown contract, amount differs); listed for an admin.
    Failed,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Received => "received",
            EventStatus::Applied => "applied",
            EventStatus::Ignored => "ignored",
            EventStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<EventStatus> {
        match s {
            "received" => Some(EventStatus::Received),
            "applied" => Some(EventStatus::Applied),
            "ignored" => Some(EventStatus::Ignored),
            "failed" => Some(EventStatus::Failed),
            _ => None,
        }
    }
}

/// What recording an event found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventRecord {
    /// First delivery: stored as `received`.
    New,
    /// Seen before; its stored state (with `deliveries` counted up).
    Seen(WebhookEvent),
}

/// One month of released escrows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonthRow {
    /// "YYYY-MM" (UTC).
    pub month: String,
    pub gross: i64,
    pub platform_fee: i64,
    pub freelancer_earning: i64,
    pub count: i64,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Storage reachable and writable enough to serve (`/readyz`).
    async fn ping(&self) -> StoreResult<()>;
    /// Which backend this is ("sqlite", "mongodb").
    fn backend(&self) -> &'static str;
    /// How many HTTP requests should work on this store at once; the server lines the others
    /// up (see [`crate::admission`]). `None`: no limit.
    fn requests_at_once(&self) -> Option<usize> {
        None
    }

    /// Inserts a new contract. `Duplicate` when the job already has a live (not canceled)
    /// contract.
    async fn insert_contract(&self, contract: &Contract) -> StoreResult<()>;
    async fn get_contract(&self, id: &ContractId) -> StoreResult<Option<Contract>>;
    /// The job's contract that is not canceled, if any.
    async fn live_contract_for_job(&self, job: &JobId) -> StoreResult<Option<Contract>>;
    /// The contract whose escrow (or extra payment) came from this payment reference.
    async fn contract_by_payment(&self, payment_ref: &str) -> StoreResult<Option<Contract>>;
    /// Compare-and-set: stores `contract` (its `version` must be `expected_version + 1`) only if
    /// the stored version is still `expected_version`, together with `entries`, atomically.
    /// `Conflict` when another writer got there first; nothing is written then.
    async fn save_contract(
        &self,
        contract: &Contract,
        expected_version: i64,
        entries: &[LedgerEntry],
    ) -> StoreResult<()>;
    /// Newest first.
    async fn list_contracts(
        &self,
        filter: &ContractFilter,
        page: Page,
    ) -> StoreResult<(u64, Vec<Contract>)>;
    /// Contracts with a refund owed to the provider and not yet confirmed (recovery).
    async fn contracts_with_provider_work(&self) -> StoreResult<Vec<ContractId>>;
    /// Every contract, in id order, after `after` (for verification); at most `limit`.
    async fn contracts_after(
        &self,
        after: Option<&ContractId>,
        limit: u32,
    ) -> StoreResult<Vec<Contract>>;

    async fn entries_for_contract(&self, id: &ContractId) -> StoreResult<Vec<LedgerEntry>>;
    /// Newest first.
    async fn entries_for_account(
        &self,
        account: &Account,
        page: Page,
    ) -> StoreResult<(u64, Vec<LedgerEntry>)>;
    async fn account_balance(&self, account: &Account, currency: Currency) -> StoreResult<i64>;
    /// Sum of all `escrow:*` accounts: the funds held.
    async fn escrow_held(&self, currency: Currency) -> StoreResult<i64>;
    /// Released escrows per month of release, ascending, within `[from_ms, to_ms)`.
    async fn sales_by_month(
        &self,
        currency: Currency,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> StoreResult<Vec<MonthRow>>;
    /// Every entry in id order after `after`, at most `limit` (for verification).
    async fn entries_after(&self, after: Option<&str>, limit: u32)
    -> StoreResult<Vec<LedgerEntry>>;
    /// Every user that has a wallet account, with its balance as the store computes it.
    async fn wallet_balances(&self, currency: Currency) -> StoreResult<Vec<(UserId, i64)>>;
    async fn count_entries(&self) -> StoreResult<u64>;
    async fn count_contracts(&self) -> StoreResult<u64>;

    /// [`Store::save_contract`] together with the final state of the webhook event that
    /// caused it ([`Store::settle_event`]). SQLite writes both in one transaction, so a webhook
    /// is one durable write. The default (MongoDB, where they are two documents) saves the
    /// contract first: a crash before the event is recorded leaves the event unacknowledged,
    /// and its redelivery finds the contract already holding it (the contract's own event-id
    /// guard) and only records the event.
    async fn save_contract_with_event(
        &self,
        contract: &Contract,
        expected_version: i64,
        entries: &[LedgerEntry],
        event: &WebhookEvent,
    ) -> StoreResult<()> {
        self.save_contract(contract, expected_version, entries)
            .await?;
        self.settle_event(event).await
    }

    /// The stored record of a webhook event, if any.
    async fn find_event(&self, event_id: &str) -> StoreResult<Option<WebhookEvent>>;
    /// Records a delivery of a webhook event (deduplicated by event id): `New` stores it as
    /// given; `Seen` counts the delivery and returns the stored record.
    async fn record_event(&self, event: &WebhookEvent) -> StoreResult<EventRecord>;
    /// Stores the final state of an event's delivery (status, error, contract, `updated_at`):
    /// inserts it with `deliveries` as given, or, when the event is already stored, updates
    /// those fields and counts the delivery.
    async fn settle_event(&self, event: &WebhookEvent) -> StoreResult<()>;
    /// Newest first.
    async fn list_events(&self, failed_only: bool, limit: u32) -> StoreResult<Vec<WebhookEvent>>;

    /// `Duplicate` when the contract already has a review.
    async fn insert_review(&self, review: &Review) -> StoreResult<()>;
    /// Newest first, with the total count and the sum of ratings over all of them.
    async fn reviews_for_freelancer(
        &self,
        freelancer: &UserId,
        page: Page,
    ) -> StoreResult<(u64, i64, Vec<Review>)>;
    async fn review_for_contract(&self, contract: &ContractId) -> StoreResult<Option<Review>>;
    /// A number that changes whenever the freelancer's reviews change and never comes back,
    /// read cheaply: what a rendered page of them can be kept by. `None` when the store keeps
    /// no such number (then pages are not kept).
    async fn reviews_generation(&self, _freelancer: &UserId) -> StoreResult<Option<i64>> {
        Ok(None)
    }

    /// Idempotency keys (see [`idempotency`]). Records the key `(scope, key)` as in flight with
    /// `fingerprint`, leased to `owner` until `now_ms + lease_ms`, unless a live record decides
    /// otherwise; atomic, so of any number of concurrent calls at most one is `Started`.
    async fn idempotency_begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> StoreResult<Begin>;
    /// Keeps `response` for replay (retention from `now_ms`) if `owner` still holds the
    /// in-flight record; `false` (nothing written) when its lease was taken over meanwhile.
    async fn idempotency_finish(
        &self,
        scope: &str,
        key: &str,
        owner: &str,
        response: &StoredResponse,
        now_ms: i64,
    ) -> StoreResult<bool>;
    /// Forgets the in-flight record held by `owner` (its response is not kept: the next
    /// request with the key executes afresh). A no-op when `owner` no longer holds it.
    async fn idempotency_release(&self, scope: &str, key: &str, owner: &str) -> StoreResult<()>;
    /// Deletes every record expired at `now_ms`; returns how many.
    async fn idempotency_purge(&self, now_ms: i64) -> StoreResult<u64>;
}
