//! Storage behind object-safe traits, one per entity, that every backend implements:
//! [`ContractStore`] (contracts and the ledger entries their transitions write),
//! [`LedgerStore`] (reads over the whole ledger), [`EventStore`] (webhook deliveries),
//! [`ReviewStore`], [`IdempotencyStore`], [`PayoutStore`] (money out) and [`TimerStore`]
//! (durable timers). [`Store`] is all of them plus what concerns the
//! backend as a whole; the service holds one `Arc<dyn Store>`. Backends translate their driver
//! errors into [`StoreError`] inside themselves (keeping the driver's error as the source); no
//! rusqlite or mongodb type crosses this boundary.
//!
//! The unit of atomicity is one contract record (contract + escrow + history): every money
//! transition is [`ContractStore::save_contract`], a compare-and-set on the record's `version`
//! that writes the record and its ledger entries together. Ledger entry ids are deterministic,
//! so writing the same entries twice is a no-op.
//!
//! Rules both backends need (which contracts a filter means, which references name a
//! contract, what an idempotency record decides) are pure functions here and in the domain,
//! written once: [`ContractFilter::query`], `Contract::payment_refs`, [`idempotency::decide`].
//!
//! Backends: [`sqlite`] (embedded, the default) and `mongo` (feature `mongodb`).

pub mod idempotency;
#[cfg(feature = "mongodb")]
pub mod mongo;
pub mod sqlite;

pub use idempotency::{Begin, Claim, Holder, Scope, StoredResponse};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::verify::ContractFacts;
use crate::domain::{
    Account, ConnectedAccount, Contract, ContractId, ContractStatus, Currency, DisputeMark,
    EscrowStatus, EventId, JobId, KeptBalances, LedgerEntry, MinorUnits, PaymentRef, Payout,
    PayoutId, PayoutStatus, Review, Timer, UserId,
};

/// A driver's error, kept as the source of a [`StoreError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

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
    /// The storage cannot be reached or cannot write now; trying again later may work.
    #[error("storage unavailable: {context}")]
    Unavailable {
        context: String,
        #[source]
        source: Option<BoxError>,
    },
    /// Anything else: a bug, corrupt data, a driver failure.
    #[error("storage error: {context}")]
    Other {
        context: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl StoreError {
    pub fn unavailable(context: impl Into<String>) -> StoreError {
        StoreError::Unavailable {
            context: context.into(),
            source: None,
        }
    }

    pub fn other(context: impl Into<String>) -> StoreError {
        StoreError::Other {
            context: context.into(),
            source: None,
        }
    }

    /// `Unavailable` caused by `source`.
    pub fn unavailable_from(context: impl Into<String>, source: impl Into<BoxError>) -> StoreError {
        StoreError::Unavailable {
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// `Other` caused by `source`.
    pub fn other_from(context: impl Into<String>, source: impl Into<BoxError>) -> StoreError {
        StoreError::Other {
            context: context.into(),
            source: Some(source.into()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Where a keyset page starts: strictly after the row with this sort time and id, in a list's
/// newest-first order (`at` descending, then `id` descending). A deep page then costs what the
/// first one does: the store seeks to the cursor in its index instead of counting past rows.
/// On the wire it is a string ([`Cursor::encode`]) that clients echo back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub at: i64,
    pub id: String,
}

impl Cursor {
    /// Ids are at most this long (in bytes); a longer one cannot come from a row.
    const ID_MAX: usize = 200;
    /// What [`Cursor::encode`] writes and [`Cursor::decode`] takes, for the API's schema.
    pub const PATTERN: &'static str = "^[0-9]{1,18}_([0-9a-f][0-9a-f]){1,200}$";

    pub fn new(at: i64, id: impl Into<String>) -> Cursor {
        Cursor { at, id: id.into() }
    }

    /// The form clients echo back: the time in decimal, `_`, the id's bytes in hex (ids may
    /// hold any visible character; hex keeps the cursor plain in a URL).
    pub fn encode(&self) -> String {
        format!("{}_{}", self.at, hex::encode(self.id.as_bytes()))
    }

    /// The cursor [`Cursor::encode`] wrote, or `None` for text of another form. Any text of
    /// the form ([`Cursor::PATTERN`]) is a position in a list, whoever made it: a cursor only
    /// says where to start, never what the caller may see.
    pub fn decode(s: &str) -> Option<Cursor> {
        let (at, id) = s.split_once('_')?;
        let valid_at = (1..=18).contains(&at.len()) && at.bytes().all(|b| b.is_ascii_digit());
        let valid_id = (2..=2 * Self::ID_MAX).contains(&id.len())
            && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !valid_at || !valid_id {
            return None;
        }
        let id = hex::decode(id).ok()?;
        Some(Cursor::new(
            at.parse().ok()?,
            String::from_utf8_lossy(&id).into_owned(),
        ))
    }

    /// Where a list of contracts continues after `c` (they are sorted by creation).
    pub fn of_contract(c: &Contract) -> Cursor {
        Cursor::new(c.created_at, c.id.as_str())
    }

    /// Where a list of ledger entries continues after `e`.
    pub fn of_entry(e: &LedgerEntry) -> Cursor {
        Cursor::new(e.at, e.id.as_str())
    }

    /// Where a list of reviews continues after `r`.
    pub fn of_review(r: &Review) -> Cursor {
        Cursor::new(r.created_at, r.id.as_str())
    }

    /// Where a list of payouts continues after `p` (they are sorted by creation).
    pub fn of_payout(p: &Payout) -> Cursor {
        Cursor::new(p.created_at, p.id.as_str())
    }

    /// Where a list of webhook events continues after `e` (they are sorted by receipt).
    pub fn of_event(e: &WebhookEvent) -> Cursor {
        Cursor::new(e.received_at, e.event_id.as_str())
    }
}

/// Pagination: by page number (`page` from 1, what the original's clients send) or, when
/// `after` is set, by keyset from a [`Cursor`]; `limit` at most [`Page::LIMIT_MAX`] either way.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Page {
    pub page: u32,
    pub limit: u32,
    pub after: Option<Cursor>,
    /// Whether a list without a kept count counts its rows: a numbered page does (its
    /// clients show "page 3 of 9"); a keyset page does not, since counting is what would make
    /// every page cost the whole list.
    pub count: bool,
}

impl Page {
    /// The original front end lists whole collections on one page (its admin payments table
    /// assumes it has them all), so a page may be this long.
    pub const LIMIT_MAX: u32 = 1_000;
    /// What a list gives unless asked.
    pub const LIMIT_DEFAULT: u32 = 20;

    pub fn new(page: u32, limit: u32) -> Page {
        Page {
            page: page.max(1),
            limit: limit.clamp(1, Self::LIMIT_MAX),
            after: None,
            count: true,
        }
    }

    /// The `limit` rows after `cursor` (the first rows when `None`), not counted.
    pub fn after(cursor: Option<Cursor>, limit: u32) -> Page {
        Page {
            after: cursor,
            count: false,
            ..Page::new(1, limit)
        }
    }

    /// Rows to skip: none for a keyset page.
    pub fn offset(&self) -> u64 {
        match self.after {
            Some(_) => 0,
            None => (self.page as u64 - 1) * self.limit as u64,
        }
    }

    /// The cursor that continues after `rows` (this page's rows, newest first), or `None` when
    /// the page came back short: there is nothing after it. A full last page still gets a
    /// cursor, whose page is then empty.
    pub fn next<T>(&self, rows: &[T], key: impl Fn(&T) -> Cursor) -> Option<Cursor> {
        match rows.last() {
            Some(last) if rows.len() >= self.limit as usize => Some(key(last)),
            _ => None,
        }
    }
}

impl Default for Page {
    fn default() -> Page {
        Page::new(1, Page::LIMIT_DEFAULT)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContractFilter {
    pub escrow_status: Option<EscrowStatus>,
    pub contract_status: Option<ContractStatus>,
    pub release_requested: bool,
    /// Only contracts that have an escrow.
    pub funded_only: bool,
    /// Only this client's contracts.
    pub client: Option<UserId>,
    /// Only this freelancer's contracts.
    pub freelancer: Option<UserId>,
    /// Only contracts with disputes: any (`Settled`), or an open one (`Open`).
    pub disputes: Option<DisputeMark>,
    /// Only contracts where a refund failed at the provider and waits for an operator.
    pub refund_failed: bool,
}

/// What a [`ContractFilter`] asks of a contract's indexed fields, each condition once: what a
/// backend turns into its query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContractQuery {
    pub escrow_status: Option<EscrowStatus>,
    pub contract_status: Option<ContractStatus>,
    /// `releaseFundStatus = Requested`.
    pub release_requested: bool,
    /// The contract has an escrow.
    pub has_escrow: bool,
    pub client: Option<UserId>,
    pub freelancer: Option<UserId>,
    /// The contract's [`DisputeMark`] is at least this.
    pub disputes: Option<DisputeMark>,
    /// `Contract::has_failed_refund`.
    pub refund_failed: bool,
}

impl ContractFilter {
    /// The filter as conditions on indexed fields; `None` when no contract can match. A
    /// release request counts only on a funded escrow: asking for one on an escrow of another
    /// status matches nothing.
    pub fn query(&self) -> Option<ContractQuery> {
        let escrow_status = match (self.escrow_status, self.release_requested) {
            (Some(s), true) if s != EscrowStatus::Funded => return None,
            (Some(s), _) => Some(s),
            (None, true) => Some(EscrowStatus::Funded),
            (None, false) => None,
        };
        Some(ContractQuery {
            escrow_status,
            contract_status: self.contract_status,
            release_requested: self.release_requested,
            has_escrow: self.funded_only,
            client: self.client.clone(),
            freelancer: self.freelancer.clone(),
            disputes: self.disputes.filter(|d| *d != DisputeMark::None),
            refund_failed: self.refund_failed,
        })
    }
}

/// A received webhook event, as recorded for deduplication and audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    pub event_id: EventId,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonthRow {
    /// "YYYY-MM" (UTC).
    pub month: String,
    pub gross: MinorUnits,
    pub platform_fee: MinorUnits,
    pub freelancer_earning: MinorUnits,
    pub count: i64,
}

/// A freelancer's reviews: the total count and rating sum over all of them, and one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewPage {
    pub count: u64,
    pub rating_sum: i64,
    pub reviews: Vec<Review>,
}

/// Contracts, and the ledger entries their transitions write.
#[async_trait]
pub trait ContractStore: Send + Sync {
    /// Inserts a new contract. `Duplicate` when the job already has a live (not canceled)
    /// contract.
    async fn insert_contract(&self, contract: &Contract) -> StoreResult<()>;
    async fn get_contract(&self, id: &ContractId) -> StoreResult<Option<Contract>>;
    /// The job's contract that is not canceled, if any.
    async fn live_contract_for_job(&self, job: &JobId) -> StoreResult<Option<Contract>>;
    /// The contract whose escrow (or extra payment) came from this payment reference
    /// (any of `Contract::payment_refs`).
    async fn contract_by_payment(&self, payment_ref: &PaymentRef) -> StoreResult<Option<Contract>>;
    /// Compare-and-set: stores `contract` (its `version` must be `expected_version + 1`) only if
    /// the stored version is still `expected_version`, together with `entries`, atomically.
    /// `Conflict` when another writer got there first; nothing is written then.
    async fn save_contract(
        &self,
        contract: &Contract,
        expected_version: i64,
        entries: &[LedgerEntry],
    ) -> StoreResult<()>;
    /// Newest first (`createdAt`, then id, descending), with how many match in all when the
    /// page asks for it ([`Page::count`]; `None` otherwise).
    async fn list_contracts(
        &self,
        filter: &ContractFilter,
        page: &Page,
    ) -> StoreResult<(Option<u64>, Vec<Contract>)>;
    /// Contracts with a refund owed to the provider and not yet confirmed (recovery).
    async fn contracts_with_provider_work(&self) -> StoreResult<Vec<ContractId>>;
    /// Every contract, in id order, after `after` (for verification); at most `limit`.
    async fn contracts_after(
        &self,
        after: Option<&ContractId>,
        limit: u32,
    ) -> StoreResult<Vec<Contract>>;
    /// What verification needs of every contract after `after`, in id order; at most
    /// `limit`. A store may read only those fields instead of whole contracts.
    async fn contract_facts_after(
        &self,
        after: Option<&ContractId>,
        limit: u32,
    ) -> StoreResult<Vec<ContractFacts>> {
        Ok(self
            .contracts_after(after, limit)
            .await?
            .iter()
            .map(ContractFacts::of)
            .collect())
    }
    async fn count_contracts(&self) -> StoreResult<u64>;
    /// The contract with this number ([`Contract::number`]), if any.
    async fn contract_by_number(&self, number: u64) -> StoreResult<Option<ContractId>>;
    /// The next contract number (1, 2, …): never the same twice, whatever runs at once (gaps
    /// are possible: a number taken by a create that then failed is not reused).
    async fn next_contract_number(&self) -> StoreResult<u64>;
    /// The entries of one contract, oldest first.
    async fn entries_for_contract(&self, id: &ContractId) -> StoreResult<Vec<LedgerEntry>>;
}

/// Reads over the whole ledger: balances, reports, wallet pages, verification.
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// One account's entries in one currency, newest first (`at`, then id, descending), and
    /// how many there are.
    async fn entries_for_account(
        &self,
        account: &Account,
        currency: Currency,
        page: &Page,
    ) -> StoreResult<(u64, Vec<LedgerEntry>)>;
    async fn account_balance(
        &self,
        account: &Account,
        currency: Currency,
    ) -> StoreResult<MinorUnits>;
    /// Sum of all `escrow:*` accounts: the funds held.
    async fn escrow_held(&self, currency: Currency) -> StoreResult<MinorUnits>;
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
    async fn wallet_balances(&self, currency: Currency) -> StoreResult<Vec<(UserId, MinorUnits)>>;
    /// The balances this store keeps with its entries, for `verify` to check against them;
    /// `None` for a store that sums the entries on every read instead.
    async fn kept_balances(&self) -> StoreResult<Option<KeptBalances>> {
        Ok(None)
    }
    async fn count_entries(&self) -> StoreResult<u64>;
}

/// Which payouts a list means.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayoutFilter {
    pub user: Option<UserId>,
    pub status: Option<PayoutStatus>,
}

/// What a wallet debit found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Debit {
    /// The wallet held the amount: the payout is saved `pending`, with its debit's entries.
    Done(Box<Payout>),
    /// The wallet holds less than the amount (`available`, as the debit saw it): nothing is
    /// written, and the payout is as it was before the debit.
    Insufficient { available: MinorUnits },
}

/// Payouts, the wallet debits behind them, and freelancers' connected accounts.
///
/// A wallet debit is the one money move guarded by what *other* records wrote (the credits of
/// every contract released to the wallet): [`PayoutStore::debit_payout`] refuses it unless the
/// wallet holds the amount, atomically with respect to every other debit of the same wallet,
/// so no wallet ever goes below zero. Every other payout move is a compare-and-set on the
/// payout's own record, as a contract's are.
#[async_trait]
pub trait PayoutStore: Send + Sync {
    /// Debits the wallet for `payout` (status `requested`; [`Payout::debit`]) unless it holds
    /// less than the amount. `expected_version`: `None` records a new payout (`Duplicate`
    /// when its id exists), `Some(v)` moves a stored one (a retry) with a compare-and-set from
    /// version `v` (`Conflict` when it lost).
    async fn debit_payout(
        &self,
        payout: &Payout,
        expected_version: Option<i64>,
        now: i64,
    ) -> StoreResult<Debit>;
    /// Compare-and-set: stores `payout` (its `version` must be `expected_version + 1`) with its
    /// entries, only if the stored version is still `expected_version`.
    async fn save_payout(
        &self,
        payout: &Payout,
        expected_version: i64,
        entries: &[LedgerEntry],
    ) -> StoreResult<()>;
    async fn get_payout(&self, id: &PayoutId) -> StoreResult<Option<Payout>>;
    /// Newest first (`createdAt`, then id, descending), with the count when the page asks.
    async fn list_payouts(
        &self,
        filter: &PayoutFilter,
        page: &Page,
    ) -> StoreResult<(Option<u64>, Vec<Payout>)>;
    /// Pending payouts (the provider still has to be asked), oldest change first.
    async fn payouts_with_provider_work(&self) -> StoreResult<Vec<PayoutId>>;
    /// Every payout in id order after `after`, at most `limit` (for verification).
    async fn payouts_after(&self, after: Option<&PayoutId>, limit: u32)
    -> StoreResult<Vec<Payout>>;
    /// Finishes wallet debits a crash (or a request's timeout) cut off, those last moved
    /// before `before_ms` (what it writes is stamped `now_ms`); how many. A no-op for a store
    /// whose debit is one write (SQLite).
    async fn repair_debits(&self, _before_ms: i64, _now_ms: i64) -> StoreResult<u64> {
        Ok(0)
    }

    async fn connected_account(&self, user: &UserId) -> StoreResult<Option<ConnectedAccount>>;
    async fn connected_account_by_id(
        &self,
        account_id: &str,
    ) -> StoreResult<Option<ConnectedAccount>>;
    /// Records a user's connected account; the one already recorded when the user has one
    /// (whoever created it first wins; the provider's idempotency key made it the same).
    async fn insert_connected_account(
        &self,
        account: &ConnectedAccount,
    ) -> StoreResult<ConnectedAccount>;
    /// Stores the account's described state unless a newer description is stored already
    /// (`described_at`); whether it was stored.
    async fn describe_connected_account(&self, account: &ConnectedAccount) -> StoreResult<bool>;
}

/// Durable timers (see [`crate::domain::timer`]): stored, claimed with a lease so that with many
/// servers on one store each runs once at a time, finished or put off by their holder.
#[async_trait]
pub trait TimerStore: Send + Sync {
    /// Stores `timer` unless a timer with its id exists (then nothing changes); whether it was
    /// stored.
    async fn schedule_timer(&self, timer: &Timer) -> StoreResult<bool>;
    /// Claims up to `limit` of the timers claimable at `now` ([`Timer::claimable`]), soonest
    /// due first, for `holder` until `now + lease_ms`: of any number of callers at once, one
    /// claims each timer.
    async fn claim_timers(
        &self,
        now: i64,
        holder: &str,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Timer>>;
    /// Marks the timer done (whoever did its work: the work is idempotent); a no-op when it is
    /// done already or absent.
    async fn finish_timer(&self, id: &str, now: i64) -> StoreResult<()>;
    /// `holder` gives its claim back: due again at `due_at`, its error kept. A no-op when
    /// `holder` no longer holds it.
    async fn defer_timer(
        &self,
        id: &str,
        holder: &str,
        due_at: i64,
        error: &str,
    ) -> StoreResult<()>;
    async fn get_timer(&self, id: &str) -> StoreResult<Option<Timer>>;
    /// Timers not done, soonest due first (only those due by `due_by`, when given); at most
    /// `limit`.
    async fn list_timers(&self, due_by: Option<i64>, limit: u32) -> StoreResult<Vec<Timer>>;
}

/// Webhook deliveries, deduplicated by the provider's event id.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// The stored record of a webhook event, if any.
    async fn find_event(&self, event_id: &EventId) -> StoreResult<Option<WebhookEvent>>;
    /// Records a delivery of a webhook event (deduplicated by event id): `New` stores it as
    /// given; `Seen` counts the delivery and returns the stored record.
    async fn record_event(&self, event: &WebhookEvent) -> StoreResult<EventRecord>;
    /// Stores the final state of an event's delivery (status, error, contract, `updated_at`):
    /// inserts it with `deliveries` as given, or, when the event is already stored, updates
    /// those fields and counts the delivery.
    async fn settle_event(&self, event: &WebhookEvent) -> StoreResult<()>;
    /// Newest first (`receivedAt`, then event id, descending).
    async fn list_events(&self, failed_only: bool, page: &Page) -> StoreResult<Vec<WebhookEvent>>;
}

/// Reviews: one per contract.
#[async_trait]
pub trait ReviewStore: Send + Sync {
    /// `Duplicate` when the contract already has a review.
    async fn insert_review(&self, review: &Review) -> StoreResult<()>;
    /// Newest first (`createdAt`, then id, descending), with the total count and the sum of
    /// ratings over all of them.
    async fn reviews_for_freelancer(
        &self,
        freelancer: &UserId,
        page: &Page,
    ) -> StoreResult<ReviewPage>;
    async fn review_for_contract(&self, contract: &ContractId) -> StoreResult<Option<Review>>;
    /// A number that changes whenever the freelancer's reviews change and never comes back,
    /// read cheaply: what a rendered page of them can be kept by. `None` when the store keeps
    /// no such number (then pages are not kept).
    async fn reviews_generation(&self, _freelancer: &UserId) -> StoreResult<Option<i64>> {
        Ok(None)
    }
}

/// Idempotency keys (see [`idempotency`]).
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Records the claimed key as in flight, unless a live record decides otherwise
    /// ([`idempotency::decide`]); atomic, so of any number of concurrent calls at most one is
    /// `Started`.
    async fn idempotency_begin(&self, claim: &Claim<'_>) -> StoreResult<Begin>;
    /// Keeps `response` for replay (retention from `now_ms`) if `holder` still holds the
    /// in-flight record; `false` (nothing written) when its lease was taken over meanwhile.
    async fn idempotency_finish(
        &self,
        holder: &Holder,
        response: &StoredResponse,
        now_ms: i64,
    ) -> StoreResult<bool>;
    /// Forgets the in-flight record `holder` holds (its response is not kept: the next
    /// request with the key executes afresh). A no-op when it no longer holds it.
    async fn idempotency_release(&self, holder: &Holder) -> StoreResult<()>;
    /// Deletes every record expired at `now_ms`; returns how many.
    async fn idempotency_purge(&self, now_ms: i64) -> StoreResult<u64>;
}

/// A whole backend: every entity store, and what concerns the backend as a whole.
#[async_trait]
pub trait Store:
    ContractStore
    + LedgerStore
    + EventStore
    + ReviewStore
    + IdempotencyStore
    + PayoutStore
    + TimerStore
    + 'static
{
    /// Storage reachable and writable enough to serve (`/readyz`).
    async fn ping(&self) -> StoreResult<()>;
    /// Which backend this is ("sqlite", "mongodb").
    fn backend(&self) -> &'static str;
    /// How many HTTP requests should work on this store at once; the server lines the others
    /// up (see `http::admission`). `None`: no limit.
    fn requests_at_once(&self) -> Option<usize> {
        None
    }

    /// Brings the balances this store keeps apart from its money writes up to date; returns
    /// how many entries it took in. A no-op (0) for a store that keeps them in the same write
    /// as the entries (SQLite). The maintenance task calls it often.
    async fn fold_kept(&self) -> StoreResult<u64> {
        Ok(0)
    }

    /// [`ContractStore::save_contract`] together with the final state of the webhook event
    /// that caused it ([`EventStore::settle_event`]). SQLite writes both in one transaction, so
    /// a webhook is one durable write. The default (MongoDB, where they are two documents)
    /// saves the contract first: a crash before the event is recorded leaves the event
    /// unacknowledged, and its redelivery finds the contract already holding it (the
    /// contract's own event-id guard) and only records the event.
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_only_its_own_form_decodes() {
        for (at, id) in [
            (0, "a"),
            (1_767_225_600_000, "6b0a5453a5d89cc3dd000002"),
            (42, "evt_1:2 &#%/?"),
            (999_999_999_999_999_999, "ü"),
        ] {
            let c = Cursor::new(at, id);
            let text = c.encode();
            assert_eq!(Cursor::decode(&text), Some(c), "{text}");
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_digit() || b == b'_' || matches!(b, b'a'..=b'f')),
                "{text}"
            );
        }
        // Any text of the documented form is a position, even bytes that are not UTF-8.
        assert_eq!(Cursor::decode("7_ff"), Some(Cursor::new(7, "\u{fffd}")));
        for bad in [
            "",
            "_",
            "1_",
            "_61",
            "1_6",
            "1_6G",
            "1_6A",
            "-1_61",
            "x_61",
            "1.5_61",
            "1234567890123456789_61",
            "not-a-cursor",
            "MTox",
        ] {
            assert_eq!(Cursor::decode(bad), None, "{bad:?}");
        }
        assert_eq!(Cursor::decode(&format!("1_{}", "61".repeat(201))), None);
    }

    #[test]
    fn a_release_request_filter_means_a_funded_escrow() {
        let requested = ContractFilter {
            release_requested: true,
            ..Default::default()
        };
        assert_eq!(
            requested.query(),
            Some(ContractQuery {
                escrow_status: Some(EscrowStatus::Funded),
                release_requested: true,
                ..Default::default()
            })
        );
        let contradictory = ContractFilter {
            escrow_status: Some(EscrowStatus::Released),
            release_requested: true,
            ..Default::default()
        };
        assert_eq!(contradictory.query(), None);
    }
}
