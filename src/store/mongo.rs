//! The production store on MongoDB, through the official driver (feature `mongodb`).
//!
//! # Collections
//!
//! - `contracts`: one document per contract, `_id` = the contract id (a string: no ObjectId
//!   ever appears in a filter). The domain record lives whole in `record`; the fields that
//!   queries filter on (`jobId`, `clientId`, `status`, `escrowStatus`, …) are copied beside it
//!   by `ContractDoc::new` on every save, like the SQLite store's columns. The contract's
//!   ledger entries are embedded in `ledger`: this document is the one atomic unit.
//! - `ledger_entries`: a projection of every contract's `ledger`, one document per entry with
//!   its deterministic id (`<contractId>:<seq>:<line>`) as `_id`, for the reports and wallet
//!   balances (aggregations over all contracts). Rebuildable from `contracts` at any time.
//! - `webhook_events`: `_id` = the provider's event id, so the `_id` unique index deduplicates
//!   deliveries; a duplicate insert is recognised by error code 11000, never by its text.
//! - `reviews`: `_id` = the review id, with a unique index on `contractId` (one per contract).
//! - `idempotency_keys`: one document per `Idempotency-Key` and caller, `_id` = scope and key
//!   (see `idempotency` below).
//! - `job_claims`: one document per job that ever had a contract, `_id` = the job id, pointing
//!   at the contract that holds the job (see "One live contract per job" below).
//!
//! # Money transitions: one document, one compare-and-set
//!
//! [`Store::save_contract`] reads the stored document, checks its `version`, appends the new
//! entries to the embedded ledger and writes the whole document back with
//! `findOneAndReplace({_id, version: expected})`. Nothing else is needed for atomicity, so
//! there is no multi-document transaction: it works the same on a standalone server, a replica
//! set and a sharded cluster. Whoever loses the race gets no match and
//! [`StoreError::Conflict`]. Money writes use write concern `majority` with journaling (and a
//! time limit), so an acknowledged transition survives a failover.
//!
//! # Sharding
//!
//! MongoDB enforces a unique index on a sharded collection only when the shard key prefixes
//! it (`_id` is always unique per shard, and globally when it is the shard key). Every
//! collection keeps every unique rule in an index that starts with its shard key:
//!
//! | collection | shard key | unique indexes | holds because |
//! |---|---|---|---|
//! | `contracts` | `{_id: "hashed"}` (contract id) | `_id` only | one live contract per job lives in `job_claims` |
//! | `job_claims` | `{_id: "hashed"}` (job id) | `_id` only | the claim *is* the uniqueness rule |
//! | `ledger_entries` | `{contractId: "hashed"}` | `_id` only | `_id` embeds the contract id, so a duplicate entry lands on the same shard and its insert is refused there |
//! | `webhook_events` | `{_id: "hashed"}` (event id) | `_id` only | dedup is the `_id` |
//! | `reviews` | `{contractId: 1}` | `{contractId: 1}` | the unique index starts with the shard key (a hashed key cannot back a unique index) |
//! | `idempotency_keys` | `{_id: "hashed"}` | `_id` only | every operation filters on `_id` |
//!
//! Every write of a money transition, a claim or a key names its shard key in its filter, so it
//! is routed to one shard and stays a single-document compare-and-set.
//!
//! # One live contract per job
//!
//! The rule used to be a partial unique index on a `liveJobId` field of `contracts`. That field
//! is no longer written; an old database keeps its index (indexes are never dropped by name,
//! see the emulator notes), which is harmless: a partial unique index over a field that no new
//! document has only ever holds the old live contracts, one per job, and a save rewrites the
//! whole document without the field. At every open, each old document still carrying
//! `liveJobId` gets its claim (insert-if-absent), so old live contracts keep their jobs.
//!
//! Now `job_claims` holds `{_id: jobId, contractId, state: pending|confirmed, claimedAt, seq}`;
//! `seq` goes up at every write of the claim, so a filter on it is a compare-and-set on the
//! whole claim. Claims are never deleted. [`Store::insert_contract`] is three writes, each on
//! one document:
//!
//! 1. **Claim.** `insertOne({_id: jobId, contractId: mine, state: pending})`. On 11000 read the
//!    claim, then the status of its contract (read *after* the claim). The contract is live →
//!    `Duplicate`. It is canceled, or it does not exist (a create died between claiming and
//!    inserting, or its insert was lost) → take the claim over with
//!    `findOneAndUpdate({_id: jobId, seq: <read>}, {$set: {contractId: mine, state: pending},
//!    $inc: {seq: 1}})`; a lost compare-and-set reads again. A claim already pointing at `mine`
//!    is a retry of this create and goes on to step 2. One exception, for liveness only: a
//!    *pending* claim younger than `CLAIM_GRACE_MS` (10 s) whose contract is not there yet
//!    belongs to a create that is most likely between its steps 1 and 2, so it is answered
//!    `Duplicate` rather than taken over (no churn among concurrent creates); after that the
//!    next create for the job repairs it by the takeover.
//! 2. **Insert** the contract document (11000 on its `_id` → `Duplicate`).
//! 3. **Confirm.** `findOneAndUpdate({_id: jobId, contractId: mine}, {$set: {state: confirmed},
//!    $inc: {seq: 1}})`. No match means the claim was taken over while this create was between
//!    steps 1 and 2 (stalled or resumed after a crash): it deletes the contract it just
//!    inserted (`{_id, version}`; nobody was ever told its id) and answers `Duplicate`.
//!
//! Why two creates can never both succeed: a create succeeds only if its confirm matched, i.e.
//! the claim pointed at its contract *after* that contract was inserted, and the confirm bumped
//! `seq`. A takeover happens only after reading the claim at some `seq` and then seeing its
//! contract missing or canceled, and only if `seq` is unchanged at the compare-and-set. So a
//! takeover of contract C either read C's claim before C's confirm (then its compare-and-set
//! fails on the bumped `seq`, it reads again and finds C live) or read it after C's confirm
//! (then C exists and only its cancellation frees the job). A takeover that wins while C is
//! inserted but not yet confirmed makes C's confirm fail, and C is withdrawn. The grace
//! period plays no part in this argument: clocks may be skewed or stalls longer than it, and
//! it only decides how soon a dead claim is taken over.
//!
//! Crashes: between 1 and 2 → a pending claim to a missing contract, taken over by the next
//! create after the grace period (`MongoStore::claim_job_then_crash` in the tests). Between 2
//! and 3 → a pending claim to an existing live contract, which is exactly as good as a
//! confirmed one (nobody takes over a claim whose contract exists and is live); the creator got
//! an error, the contract is there, as with any write whose reply was lost. The one residue:
//! a create that stalls longer than the grace period between 1 and 2, is taken over, inserts
//! anyway and then dies before its confirm and withdrawal leaves a contract document that the
//! job's claim does not point at. [`Store::live_contract_for_job`] follows the claim, so it
//! never answers that contract, and no second create can be confirmed for it; it would show in
//! the client's list as a second contract for the job until an admin cancels it.
//!
//! Cancellation: `save_contract` leaves the claim alone (no second document is written in a
//! money transition); a claim to a canceled contract is free, as above.
//!
//! # The ledger projection and its crash repair
//!
//! After a successful compare-and-set the new entries are inserted into `ledger_entries`
//! (unordered; a duplicate `_id`, code 11000, means "already there" and is ignored), and the
//! contract document is marked projected. Two fields keep the bookkeeping, both in the contract
//! document so they change atomically with the ledger they describe:
//!
//! - `ledgerProjected`: how many of the embedded entries (a prefix: the ledger only grows) are
//!   known to be in `ledger_entries`. The compare-and-set copies the stored value unchanged;
//!   only the mark raises it, and only with the filter `{_id, version}` of the very document
//!   whose entries it projected. So the value never claims an entry that was not projected: at
//!   worst a concurrent replace sets it back lower, which costs a redundant, idempotent insert.
//! - `ledgerUnprojected`: `ledger.length - ledgerProjected`, indexed so the unfinished ones are
//!   cheap to find (a number, not a boolean: the emulator stores a `$set` boolean as 0/1).
//!
//! A crash (or a lost connection) between the compare-and-set and the projection leaves the
//! document with `ledgerUnprojected > 0`. [`MongoStore::repair_projection`] finds every such
//! document and runs the same idempotent projection again. It runs when the store opens and
//! before every read of `ledger_entries` (balances, reports, wallet pages, verification), so
//! no reader ever sees a contract whose entries are missing from the projection, on this
//! server or any other — the repair is a retry, never luck. A projection failure right after
//! a successful compare-and-set is logged and the save still succeeds: the transition is
//! durable in the contract document, which is the source of truth.
//!
//! # The subset of MongoDB used
//!
//! The suite runs against the `nx-27017` wire-protocol emulator (see the emulator notes), so
//! this backend keeps to what behaves the same there and on real MongoDB: string ids only; no
//! `$push`/`$addToSet`, no `$set` of a DateTime (times are i64 Unix milliseconds, as in the
//! domain); whole-document replaces for transitions and only `$set`/`$inc` of numbers and
//! strings elsewhere (the emulator stores a `$set` boolean as 0/1); no transactions; duplicates
//! by code 11000; `$match` + `$group` on a single field (a compound `_id` is not evaluated)
//! with `$sum`/`$cond`; array membership queried with `$in` (the emulator answers a plain
//! equality on an indexed array field wrongly); every read through a typed struct (small i64
//! values may come back as Int32).

use std::time::Duration;

use async_trait::async_trait;
use bson::{Bson, Document, doc};
use futures_util::TryStreamExt;
use mongodb::error::{Error as MongoError, ErrorKind, WriteFailure};
use mongodb::options::{
    Acknowledgment, ClientOptions, CollectionOptions, IndexOptions, ReturnDocument, WriteConcern,
};
use mongodb::{Client, Collection, Database, IndexModel};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{
    ContractFilter, EventRecord, EventStatus, MonthRow, Page, Store, StoreError, StoreResult,
    WebhookEvent,
};
use crate::domain::review::Rating;
use crate::domain::{
    Account, Contract, ContractId, Currency, EscrowStatus, JobId, LedgerEntry, Review, ReviewId,
    TransferKind, UserId,
};

mod claims;
mod idempotency;

/// MongoDB's duplicate key error code.
const DUPLICATE_KEY: i32 = 11000;
/// How long to look for a usable server before an operation fails (`/readyz` goes red).
const SERVER_SELECTION_TIMEOUT_S: u64 = 10;
const CONNECT_TIMEOUT_S: u64 = 10;
/// How long a money write waits for a majority of the replica set to acknowledge it.
const WRITE_CONCERN_TIMEOUT_S: u64 = 10;
/// Longest database name MongoDB accepts.
const DATABASE_NAME_BYTES_MAX: usize = 63;
/// Connections to the server, unless the URL sets `maxPoolSize` (the driver's own default).
/// Also how many HTTP requests work on the store at once: see [`Store::requests_at_once`].
const POOL_SIZE_DEFAULT: u32 = 10;

const CONTRACTS: &str = "contracts";
const LEDGER_ENTRIES: &str = "ledger_entries";
const WEBHOOK_EVENTS: &str = "webhook_events";
const REVIEWS: &str = "reviews";

/// What kind of deployment the store is connected to, from the server's `hello` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deployment {
    /// One server: no failover, and `majority` is just that server.
    Standalone,
    /// A replica set, with its name.
    ReplicaSet(String),
    /// A `mongos` in front of a sharded cluster.
    Sharded,
}

impl Deployment {
    fn from_hello(hello: &Document) -> Deployment {
        if hello.get_str("msg") == Ok("isdbgrid") {
            Deployment::Sharded
        } else if let Ok(name) = hello.get_str("setName") {
            Deployment::ReplicaSet(name.to_string())
        } else {
            Deployment::Standalone
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Deployment::Standalone => "standalone".into(),
            Deployment::ReplicaSet(name) => format!("replica set {name}"),
            Deployment::Sharded => "sharded cluster".into(),
        }
    }
}

/// The contract document. `record` is the truth; the flat fields are copies for queries and
/// indexes, rewritten from `record` by every save.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContractDoc {
    #[serde(rename = "_id")]
    id: String,
    /// The compare-and-set token (same as `record.version`).
    version: i64,
    job_id: String,
    client_id: String,
    freelancer_id: String,
    status: String,
    escrow_status: Option<String>,
    has_escrow: bool,
    release_fund_status: String,
    provider_work: bool,
    created_at: i64,
    updated_at: i64,
    /// Every payment reference that belongs to this contract (escrow and extra payments).
    payment_refs: Vec<String>,
    record: Contract,
    /// The contract's ledger entries in the order they were written (append-only).
    ledger: Vec<LedgerEntry>,
    /// How many of `ledger` (a prefix) are known to be in `ledger_entries`.
    ledger_projected: i64,
    /// `ledger.len() - ledger_projected`: above zero, the repair step's work list.
    ledger_unprojected: i64,
}

impl ContractDoc {
    fn new(c: &Contract, ledger: Vec<LedgerEntry>, ledger_projected: i64) -> ContractDoc {
        let mut payment_refs: Vec<String> = c
            .escrow
            .iter()
            .flat_map(|e| {
                std::iter::once(e.payment_ref.clone()).chain(e.checkout_session_id.clone())
            })
            .chain(c.extra_payments.iter().map(|p| p.payment_ref.clone()))
            .collect();
        payment_refs.sort();
        payment_refs.dedup();
        let ledger_projected = ledger_projected.clamp(0, ledger.len() as i64);
        ContractDoc {
            id: c.id.to_string(),
            version: c.version,
            job_id: c.job_id.to_string(),
            client_id: c.client_id.to_string(),
            freelancer_id: c.freelancer_id.to_string(),
            status: c.status.as_str().into(),
            escrow_status: c.escrow_status().map(|s| s.as_str().to_string()),
            has_escrow: c.escrow.is_some(),
            release_fund_status: c.release_fund_status.as_str().into(),
            provider_work: c.has_pending_provider_work(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            payment_refs,
            record: c.clone(),
            ledger_unprojected: ledger.len() as i64 - ledger_projected,
            ledger,
            ledger_projected,
        }
    }
}

/// The record alone, for reads that do not need the embedded ledger.
#[derive(Debug, Deserialize)]
struct RecordOnly {
    record: Contract,
}

/// One projected ledger entry. `accountType` is the account's prefix (`escrow`, `wallet`, …)
/// and `month` its UTC "YYYY-MM", both precomputed so aggregations group on plain fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryDoc {
    #[serde(rename = "_id")]
    id: String,
    transfer_id: String,
    contract_id: ContractId,
    kind: TransferKind,
    account: Account,
    account_type: String,
    amount: i64,
    currency: Currency,
    at: i64,
    month: String,
}

fn month_of(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .map(|t| t.format("%Y-%m").to_string())
        .unwrap_or_else(|| "0000-00".into())
}

fn account_type(a: &Account) -> &'static str {
    match a {
        Account::ExternalStripe => "external",
        Account::Escrow(_) => "escrow",
        Account::Wallet(_) => "wallet",
        Account::PlatformFees => "platform",
        Account::Refund(_) => "refund",
    }
}

impl From<&LedgerEntry> for EntryDoc {
    fn from(e: &LedgerEntry) -> EntryDoc {
        EntryDoc {
            id: e.id.clone(),
            transfer_id: e.transfer_id.clone(),
            contract_id: e.contract_id.clone(),
            kind: e.kind,
            account_type: account_type(&e.account).into(),
            account: e.account.clone(),
            amount: e.amount,
            currency: e.currency,
            at: e.at,
            month: month_of(e.at),
        }
    }
}

impl From<EntryDoc> for LedgerEntry {
    fn from(d: EntryDoc) -> LedgerEntry {
        LedgerEntry {
            id: d.id,
            transfer_id: d.transfer_id,
            contract_id: d.contract_id,
            kind: d.kind,
            account: d.account,
            amount: d.amount,
            currency: d.currency,
            at: d.at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventDoc {
    #[serde(rename = "_id")]
    event_id: String,
    event_type: String,
    status: EventStatus,
    error: Option<String>,
    contract_id: Option<String>,
    received_at: i64,
    updated_at: i64,
    deliveries: u32,
}

impl From<&WebhookEvent> for EventDoc {
    fn from(e: &WebhookEvent) -> EventDoc {
        EventDoc {
            event_id: e.event_id.clone(),
            event_type: e.event_type.clone(),
            status: e.status,
            error: e.error.clone(),
            contract_id: e.contract_id.clone(),
            received_at: e.received_at,
            updated_at: e.updated_at,
            deliveries: e.deliveries,
        }
    }
}

impl From<EventDoc> for WebhookEvent {
    fn from(d: EventDoc) -> WebhookEvent {
        WebhookEvent {
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status,
            error: d.error,
            contract_id: d.contract_id,
            received_at: d.received_at,
            updated_at: d.updated_at,
            deliveries: d.deliveries,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewDoc {
    #[serde(rename = "_id")]
    id: ReviewId,
    contract_id: ContractId,
    client_id: UserId,
    freelancer_id: UserId,
    rating: i32,
    description: String,
    created_at: i64,
}

impl From<&Review> for ReviewDoc {
    fn from(r: &Review) -> ReviewDoc {
        ReviewDoc {
            id: r.id.clone(),
            contract_id: r.contract_id.clone(),
            client_id: r.client_id.clone(),
            freelancer_id: r.freelancer_id.clone(),
            rating: r.rating.get().into(),
            description: r.description.clone(),
            created_at: r.created_at,
        }
    }
}

impl TryFrom<ReviewDoc> for Review {
    type Error = StoreError;
    fn try_from(d: ReviewDoc) -> StoreResult<Review> {
        Ok(Review {
            id: d.id,
            contract_id: d.contract_id,
            client_id: d.client_id,
            freelancer_id: d.freelancer_id,
            rating: Rating::parse(&serde_json::json!(d.rating)).map_err(other)?,
            description: d.description,
            created_at: d.created_at,
        })
    }
}

/// `{ _id: null, total: <sum> }` from a `$group`.
#[derive(Debug, Deserialize)]
struct Total {
    total: i64,
}

#[derive(Debug, Deserialize)]
struct KeyedTotal {
    #[serde(rename = "_id")]
    key: String,
    total: i64,
}

#[derive(Debug, Deserialize)]
struct MonthGroup {
    #[serde(rename = "_id")]
    month: String,
    escrow: i64,
    fee: i64,
    earning: i64,
    count: i64,
}

#[derive(Debug, Deserialize)]
struct RatingSums {
    count: i64,
    total: i64,
}

fn other(e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(e.to_string())
}

/// Whether the error is a duplicate key (code 11000) and nothing else. For `insert_many`, every
/// write error must be a duplicate and no write concern error may have happened. Matched on
/// the error kinds because `Error::code()` is not public in driver 3.x; never on the message.
pub fn is_duplicate_key(e: &MongoError) -> bool {
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(m) => {
            m.write_concern_error.is_none()
                && m.write_errors
                    .as_ref()
                    .is_some_and(|ws| !ws.is_empty() && ws.iter().all(|w| w.code == DUPLICATE_KEY))
        }
        ErrorKind::Command(c) => c.code == DUPLICATE_KEY,
        _ => false,
    }
}

fn map_err(e: MongoError) -> StoreError {
    if is_duplicate_key(&e) {
        return StoreError::Duplicate(e.to_string());
    }
    match e.kind.as_ref() {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::DnsResolve { .. }
        | ErrorKind::Authentication { .. }
        | ErrorKind::Shutdown
        | ErrorKind::Write(WriteFailure::WriteConcernError(_)) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => other(e),
    }
}

fn check_database_name(name: &str) -> StoreResult<()> {
    let bad = name.is_empty()
        || name.len() > DATABASE_NAME_BYTES_MAX
        || name.chars().any(|c| {
            matches!(
                c,
                '/' | '\\' | '.' | ' ' | '"' | '$' | '*' | '<' | '>' | ':' | '|' | '?' | '\0'
            )
        });
    if bad {
        return Err(StoreError::Other(format!(
            "ESCROW_MONGODB_DATABASE {name:?} is not a valid MongoDB database name (1 to {DATABASE_NAME_BYTES_MAX} bytes, none of /\\. \"$*<>:|?)"
        )));
    }
    Ok(())
}

fn contract_filter(f: &ContractFilter) -> Document {
    // A release request counts only on a funded escrow (as in the SQLite store).
    let escrow_status = match (f.escrow_status, f.release_requested) {
        (Some(s), true) if s != EscrowStatus::Funded => {
            // Asked for a release request on an escrow that is not funded: nothing matches.
            return doc! {"_id": {"$exists": false}};
        }
        (Some(s), _) => Some(s),
        (None, true) => Some(EscrowStatus::Funded),
        (None, false) => None,
    };
    let mut filter = Document::new();
    if let Some(s) = escrow_status {
        filter.insert("escrowStatus", s.as_str());
    }
    if let Some(s) = f.contract_status {
        filter.insert("status", s.as_str());
    }
    if f.release_requested {
        filter.insert("releaseFundStatus", "Requested");
    }
    if f.funded_only {
        filter.insert("hasEscrow", true);
    }
    filter
}

async fn collect<T: DeserializeOwned + Send + Sync>(
    cursor: mongodb::Cursor<T>,
) -> StoreResult<Vec<T>> {
    cursor.try_collect().await.map_err(map_err)
}

#[derive(Clone)]
pub struct MongoStore {
    db: Database,
    contracts: Collection<ContractDoc>,
    entries: Collection<EntryDoc>,
    events: Collection<EventDoc>,
    reviews: Collection<ReviewDoc>,
    deployment: Deployment,
    /// See `claims::CLAIM_GRACE_MS`.
    claim_grace_ms: i64,
    /// The driver's connection pool size (`maxPoolSize`, which the driver never lets be 0).
    pool_size: u32,
}

/// A collection whose writes are acknowledged only once a majority has journaled them (every
/// collection of this store: each holds money, or what decides whether money moves).
fn durable_collection<T: Send + Sync>(db: &Database, name: &str) -> Collection<T> {
    let durable = CollectionOptions::builder()
        .write_concern(
            WriteConcern::builder()
                .w(Acknowledgment::Majority)
                .journal(true)
                .w_timeout(Duration::from_secs(WRITE_CONCERN_TIMEOUT_S))
                .build(),
        )
        .build();
    db.collection_with_options(name, durable)
}

impl MongoStore {
    /// Connects, checks the deployment, creates the indexes and repairs any unfinished ledger
    /// projection. `production` turns the standalone-server notice into a warning.
    pub async fn open(uri: &str, database: &str, production: bool) -> StoreResult<MongoStore> {
        check_database_name(database)?;
        let mut options = ClientOptions::parse(uri)
            .await
            .map_err(|e| StoreError::Other(format!("ESCROW_DATABASE_URL: {e}")))?;
        options.app_name.get_or_insert_with(|| "escrow".into());
        options
            .server_selection_timeout
            .get_or_insert(Duration::from_secs(SERVER_SELECTION_TIMEOUT_S));
        options
            .connect_timeout
            .get_or_insert(Duration::from_secs(CONNECT_TIMEOUT_S));
        let pool_size = *options.max_pool_size.get_or_insert(POOL_SIZE_DEFAULT);
        let client = Client::with_options(options).map_err(map_err)?;
        let db = client.database(database);
        let hello = db.run_command(doc! {"hello": 1}).await.map_err(map_err)?;
        let deployment = Deployment::from_hello(&hello);
        let store = MongoStore {
            contracts: durable_collection(&db, CONTRACTS),
            entries: durable_collection(&db, LEDGER_ENTRIES),
            events: durable_collection(&db, WEBHOOK_EVENTS),
            reviews: durable_collection(&db, REVIEWS),
            db,
            deployment,
            claim_grace_ms: claims::CLAIM_GRACE_MS,
            pool_size,
        };
        if store.deployment == Deployment::Standalone && production {
            tracing::warn!(
                database,
                "MongoDB is a standalone server: no failover and no redundancy for money; run a replica set in production"
            );
        } else {
            tracing::info!(database, deployment = %store.deployment.describe(), "connected to MongoDB");
        }
        store.create_indexes().await?;
        let backfilled = store.backfill_job_claims().await?;
        if backfilled > 0 {
            tracing::info!(
                contracts = backfilled,
                "gave live contracts of an older database their job claims"
            );
        }
        let repaired = store.repair_projection().await?;
        if repaired > 0 {
            tracing::warn!(
                contracts = repaired,
                "finished ledger projections interrupted by a crash"
            );
        }
        Ok(store)
    }

    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    pub fn database_name(&self) -> &str {
        self.db.name()
    }

    /// Drops the whole database (tests: each uses its own database).
    pub async fn drop_database(&self) -> StoreResult<()> {
        self.db.drop().await.map_err(map_err)
    }

    /// Creates every index; creating an existing index again is a no-op, so this runs at
    /// every start. Indexes are never looked up or dropped by name.
    async fn create_indexes(&self) -> StoreResult<()> {
        fn index(keys: Document) -> IndexModel {
            IndexModel::builder().keys(keys).build()
        }
        fn unique(keys: Document, partial: Option<Document>) -> IndexModel {
            IndexModel::builder()
                .keys(keys)
                .options(
                    IndexOptions::builder()
                        .unique(true)
                        .partial_filter_expression(partial)
                        .build(),
                )
                .build()
        }
        // No unique index here but `_id`: one live contract per job is `job_claims`' `_id`.
        self.contracts
            .create_indexes([
                index(doc! {"jobId": 1}),
                index(doc! {"clientId": 1}),
                index(doc! {"freelancerId": 1}),
                index(doc! {"escrowStatus": 1, "releaseFundStatus": 1, "createdAt": -1}),
                index(doc! {"createdAt": -1}),
                index(doc! {"providerWork": 1}),
                index(doc! {"paymentRefs": 1}),
                index(doc! {"ledgerUnprojected": 1}),
            ])
            .await
            .map_err(map_err)?;
        self.entries
            .create_indexes([
                index(doc! {"account": 1, "currency": 1, "at": -1}),
                index(doc! {"accountType": 1, "currency": 1}),
                index(doc! {"kind": 1, "currency": 1, "at": 1}),
                index(doc! {"contractId": 1}),
            ])
            .await
            .map_err(map_err)?;
        self.events
            .create_indexes([
                index(doc! {"receivedAt": -1}),
                index(doc! {"status": 1, "receivedAt": -1}),
            ])
            .await
            .map_err(map_err)?;
        self.reviews
            .create_indexes([
                unique(doc! {"contractId": 1}, None),
                index(doc! {"freelancerId": 1, "createdAt": -1}),
            ])
            .await
            .map_err(map_err)?;
        self.create_idempotency_indexes().await?;
        Ok(())
    }

    /// Inserts `ledger[ledger_projected..]` into `ledger_entries` (duplicates ignored) and marks
    /// the document projected, if it is still that version.
    async fn project(&self, d: &ContractDoc) -> StoreResult<()> {
        let from = d.ledger_projected.clamp(0, d.ledger.len() as i64) as usize;
        let docs: Vec<EntryDoc> = d.ledger[from..].iter().map(EntryDoc::from).collect();
        if !docs.is_empty() {
            match self.entries.insert_many(docs).ordered(false).await {
                Ok(_) => {}
                Err(e) if is_duplicate_key(&e) => {}
                Err(e) => return Err(map_err(e)),
            }
        }
        self.contracts
            .update_one(
                doc! {"_id": &d.id, "version": d.version},
                doc! {"$set": {"ledgerProjected": d.ledger.len() as i64, "ledgerUnprojected": 0_i64}},
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Finishes every ledger projection that a crash or a lost connection interrupted; returns
    /// how many contracts it projected. Idempotent, safe to run concurrently with writers.
    pub async fn repair_projection(&self) -> StoreResult<u64> {
        let pending = collect(
            self.contracts
                .find(doc! {"ledgerUnprojected": {"$gt": 0_i64}})
                .await
                .map_err(map_err)?,
        )
        .await?;
        for d in &pending {
            self.project(d).await?;
        }
        Ok(pending.len() as u64)
    }

    /// The compare-and-set half of [`Store::save_contract`] without the projection: what a
    /// process that died right after it would have left. For the crash-repair tests only.
    #[doc(hidden)]
    pub async fn save_contract_then_crash(
        &self,
        contract: &Contract,
        expected_version: i64,
        entries: &[LedgerEntry],
    ) -> StoreResult<()> {
        self.compare_and_set(contract, expected_version, entries)
            .await
            .map(|_| ())
    }

    async fn compare_and_set(
        &self,
        contract: &Contract,
        expected_version: i64,
        entries: &[LedgerEntry],
    ) -> StoreResult<ContractDoc> {
        assert_eq!(
            contract.version,
            expected_version + 1,
            "a save must bump the version by one"
        );
        let id = contract.id.as_str();
        let current = self
            .contracts
            .find_one(doc! {"_id": id})
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        if current.version != expected_version {
            return Err(StoreError::Conflict);
        }
        let mut ledger = current.ledger;
        for e in entries {
            if ledger.iter().any(|x| x.id == e.id) {
                return Err(StoreError::Duplicate(format!(
                    "ledger entry {} already exists",
                    e.id
                )));
            }
            ledger.push(e.clone());
        }
        let next = ContractDoc::new(contract, ledger, current.ledger_projected);
        let replacement = bson::to_document(&next).map_err(other)?;
        let replaced = self
            .contracts
            .clone_with_type::<Document>()
            .find_one_and_replace(doc! {"_id": id, "version": expected_version}, replacement)
            .projection(doc! {"_id": 1})
            .await
            .map_err(map_err)?;
        match replaced {
            Some(_) => Ok(next),
            None => Err(StoreError::Conflict),
        }
    }

    /// Reads of `ledger_entries` go through here: first finish any interrupted projection.
    async fn projected(&self) -> StoreResult<&Collection<EntryDoc>> {
        self.repair_projection().await?;
        Ok(&self.entries)
    }

    async fn sum(&self, filter: Document) -> StoreResult<i64> {
        let pipeline = [
            doc! {"$match": filter},
            doc! {"$group": {"_id": Bson::Null, "total": {"$sum": "$amount"}}},
        ];
        let cursor = self
            .projected()
            .await?
            .aggregate(pipeline)
            .with_type::<Total>()
            .await
            .map_err(map_err)?;
        Ok(collect(cursor).await?.first().map_or(0, |t| t.total))
    }

    async fn records(
        &self,
        filter: Document,
        sort: Document,
        skip: u64,
        limit: i64,
    ) -> StoreResult<Vec<Contract>> {
        let cursor = self
            .contracts
            .clone_with_type::<RecordOnly>()
            .find(filter)
            .projection(doc! {"record": 1})
            .sort(sort)
            .skip(skip)
            .limit(limit)
            .await
            .map_err(map_err)?;
        Ok(collect(cursor)
            .await?
            .into_iter()
            .map(|r| r.record)
            .collect())
    }
}

#[async_trait]
impl Store for MongoStore {
    async fn ping(&self) -> StoreResult<()> {
        self.db
            .run_command(doc! {"ping": 1})
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    fn backend(&self) -> &'static str {
        "mongodb"
    }

    /// As many as the pool has connections: more could only wait for a connection between
    /// each of their operations, all advancing a step at a time (see [`crate::admission`]).
    fn requests_at_once(&self) -> Option<usize> {
        Some(self.pool_size.max(1) as usize)
    }

    async fn insert_contract(&self, contract: &Contract) -> StoreResult<()> {
        self.claim_and_insert(contract).await
    }

    async fn get_contract(&self, id: &ContractId) -> StoreResult<Option<Contract>> {
        Ok(self
            .records(doc! {"_id": id.as_str()}, doc! {}, 0, 1)
            .await?
            .pop())
    }

    async fn live_contract_for_job(&self, job: &JobId) -> StoreResult<Option<Contract>> {
        self.claimed_live_contract(job).await
    }

    async fn contract_by_payment(&self, payment_ref: &str) -> StoreResult<Option<Contract>> {
        Ok(self
            .records(doc! {"paymentRefs": {"$in": [payment_ref]}}, doc! {}, 0, 1)
            .await?
            .pop())
    }

    async fn save_contract(
        &self,
        contract: &Contract,
        expected_version: i64,
        entries: &[LedgerEntry],
    ) -> StoreResult<()> {
        let saved = self
            .compare_and_set(contract, expected_version, entries)
            .await?;
        if saved.ledger_unprojected > 0
            && let Err(e) = self.project(&saved).await
        {
            // The transition is durable in the contract document; the repair step that runs
            // before every ledger read finishes the projection.
            tracing::warn!(contract = %contract.id, error = %e, "ledger projection deferred to the repair step");
        }
        Ok(())
    }

    async fn list_contracts(
        &self,
        filter: &ContractFilter,
        page: Page,
    ) -> StoreResult<(u64, Vec<Contract>)> {
        let filter = contract_filter(filter);
        let count = self
            .contracts
            .count_documents(filter.clone())
            .await
            .map_err(map_err)?;
        let records = self
            .records(
                filter,
                doc! {"createdAt": -1, "_id": -1},
                page.offset(),
                page.limit.into(),
            )
            .await?;
        Ok((count, records))
    }

    async fn contracts_with_provider_work(&self) -> StoreResult<Vec<ContractId>> {
        #[derive(Deserialize)]
        struct IdOnly {
            #[serde(rename = "_id")]
            id: ContractId,
        }
        let cursor = self
            .contracts
            .clone_with_type::<IdOnly>()
            .find(doc! {"providerWork": true})
            .projection(doc! {"_id": 1})
            .sort(doc! {"updatedAt": 1, "_id": 1})
            .await
            .map_err(map_err)?;
        Ok(collect(cursor).await?.into_iter().map(|d| d.id).collect())
    }

    async fn contracts_after(
        &self,
        after: Option<&ContractId>,
        limit: u32,
    ) -> StoreResult<Vec<Contract>> {
        let filter = match after {
            Some(a) => doc! {"_id": {"$gt": a.as_str()}},
            None => doc! {},
        };
        self.records(filter, doc! {"_id": 1}, 0, limit.into()).await
    }

    async fn entries_for_contract(&self, id: &ContractId) -> StoreResult<Vec<LedgerEntry>> {
        #[derive(Deserialize)]
        struct LedgerOnly {
            ledger: Vec<LedgerEntry>,
        }
        let found = self
            .contracts
            .clone_with_type::<LedgerOnly>()
            .find_one(doc! {"_id": id.as_str()})
            .projection(doc! {"ledger": 1})
            .await
            .map_err(map_err)?;
        let mut entries = found.map(|d| d.ledger).unwrap_or_default();
        entries.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        Ok(entries)
    }

    async fn entries_for_account(
        &self,
        account: &Account,
        page: Page,
    ) -> StoreResult<(u64, Vec<LedgerEntry>)> {
        let filter = doc! {"account": account.to_string()};
        let entries = self.projected().await?;
        let count = entries
            .count_documents(filter.clone())
            .await
            .map_err(map_err)?;
        let cursor = entries
            .find(filter)
            .sort(doc! {"at": -1, "_id": -1})
            .skip(page.offset())
            .limit(page.limit.into())
            .await
            .map_err(map_err)?;
        Ok((
            count,
            collect(cursor).await?.into_iter().map(Into::into).collect(),
        ))
    }

    async fn account_balance(&self, account: &Account, currency: Currency) -> StoreResult<i64> {
        self.sum(doc! {"account": account.to_string(), "currency": currency.code()})
            .await
    }

    async fn escrow_held(&self, currency: Currency) -> StoreResult<i64> {
        self.sum(doc! {"accountType": "escrow", "currency": currency.code()})
            .await
    }

    async fn sales_by_month(
        &self,
        currency: Currency,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> StoreResult<Vec<MonthRow>> {
        let mut filter = doc! {"kind": "release", "currency": currency.code()};
        let mut at = Document::new();
        if let Some(from) = from_ms {
            at.insert("$gte", from);
        }
        if let Some(to) = to_ms {
            at.insert("$lt", to);
        }
        if !at.is_empty() {
            filter.insert("at", at);
        }
        let when = |t: &str| doc! {"$cond": [{"$eq": ["$accountType", t]}, "$amount", 0_i64]};
        let pipeline = [
            doc! {"$match": filter},
            doc! {"$group": {
                "_id": "$month",
                "escrow": {"$sum": when("escrow")},
                "fee": {"$sum": when("platform")},
                "earning": {"$sum": when("wallet")},
                // A release has exactly one escrow line: counting them counts the contracts.
                "count": {"$sum": {"$cond": [{"$eq": ["$accountType", "escrow"]}, 1_i64, 0_i64]}},
            }},
            doc! {"$sort": {"_id": 1}},
        ];
        let cursor = self
            .projected()
            .await?
            .aggregate(pipeline)
            .with_type::<MonthGroup>()
            .await
            .map_err(map_err)?;
        Ok(collect(cursor)
            .await?
            .into_iter()
            .map(|g| MonthRow {
                month: g.month,
                gross: -g.escrow,
                platform_fee: g.fee,
                freelancer_earning: g.earning,
                count: g.count,
            })
            .collect())
    }

    async fn entries_after(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<LedgerEntry>> {
        let filter = match after {
            Some(a) => doc! {"_id": {"$gt": a}},
            None => doc! {},
        };
        let cursor = self
            .projected()
            .await?
            .find(filter)
            .sort(doc! {"_id": 1})
            .limit(limit.into())
            .await
            .map_err(map_err)?;
        Ok(collect(cursor).await?.into_iter().map(Into::into).collect())
    }

    async fn wallet_balances(&self, currency: Currency) -> StoreResult<Vec<(UserId, i64)>> {
        let pipeline = [
            doc! {"$match": {"accountType": "wallet", "currency": currency.code()}},
            doc! {"$group": {"_id": "$account", "total": {"$sum": "$amount"}}},
            doc! {"$sort": {"_id": 1}},
        ];
        let cursor = self
            .projected()
            .await?
            .aggregate(pipeline)
            .with_type::<KeyedTotal>()
            .await
            .map_err(map_err)?;
        collect(cursor)
            .await?
            .into_iter()
            .map(|g| match g.key.parse::<Account>() {
                Ok(Account::Wallet(u)) => Ok((u, g.total)),
                _ => Err(StoreError::Other(format!("bad wallet account {:?}", g.key))),
            })
            .collect()
    }

    async fn count_entries(&self) -> StoreResult<u64> {
        self.projected()
            .await?
            .count_documents(doc! {})
            .await
            .map_err(map_err)
    }

    async fn count_contracts(&self) -> StoreResult<u64> {
        self.contracts
            .count_documents(doc! {})
            .await
            .map_err(map_err)
    }

    async fn record_event(&self, event: &WebhookEvent) -> StoreResult<EventRecord> {
        match self.events.insert_one(EventDoc::from(event)).await {
            Ok(_) => return Ok(EventRecord::New),
            Err(e) if is_duplicate_key(&e) => {}
            Err(e) => return Err(map_err(e)),
        }
        let seen = self
            .events
            .find_one_and_update(
                doc! {"_id": &event.event_id},
                doc! {"$inc": {"deliveries": 1_i64}},
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_err)?
            .ok_or_else(|| {
                StoreError::Other(format!("event {} vanished while recorded", event.event_id))
            })?;
        Ok(EventRecord::Seen(seen.into()))
    }

    async fn find_event(&self, event_id: &str) -> StoreResult<Option<WebhookEvent>> {
        Ok(self
            .events
            .find_one(doc! {"_id": event_id})
            .await
            .map_err(map_err)?
            .map(Into::into))
    }

    async fn settle_event(&self, event: &WebhookEvent) -> StoreResult<()> {
        match self.events.insert_one(EventDoc::from(event)).await {
            Ok(_) => return Ok(()),
            Err(e) if is_duplicate_key(&e) => {}
            Err(e) => return Err(map_err(e)),
        }
        let mut set = doc! {
            "status": event.status.as_str(),
            "error": event.error.as_deref().map_or(Bson::Null, |e| Bson::String(e.into())),
            "updatedAt": event.updated_at,
        };
        if let Some(c) = &event.contract_id {
            set.insert("contractId", c.as_str());
        }
        self.events
            .update_one(
                doc! {"_id": &event.event_id},
                doc! {"$set": set, "$inc": {"deliveries": 1_i64}},
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn list_events(&self, failed_only: bool, limit: u32) -> StoreResult<Vec<WebhookEvent>> {
        let filter = if failed_only {
            doc! {"status": EventStatus::Failed.as_str()}
        } else {
            doc! {}
        };
        let cursor = self
            .events
            .find(filter)
            .sort(doc! {"receivedAt": -1, "_id": -1})
            .limit(limit.into())
            .await
            .map_err(map_err)?;
        Ok(collect(cursor).await?.into_iter().map(Into::into).collect())
    }

    async fn insert_review(&self, review: &Review) -> StoreResult<()> {
        match self.reviews.insert_one(ReviewDoc::from(review)).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Err(StoreError::Duplicate(format!(
                "contract {} already has a review",
                review.contract_id
            ))),
            Err(e) => Err(map_err(e)),
        }
    }

    async fn reviews_for_freelancer(
        &self,
        freelancer: &UserId,
        page: Page,
    ) -> StoreResult<(u64, i64, Vec<Review>)> {
        let filter = doc! {"freelancerId": freelancer.as_str()};
        let pipeline = [
            doc! {"$match": filter.clone()},
            doc! {"$group": {"_id": Bson::Null, "count": {"$sum": 1_i64}, "total": {"$sum": "$rating"}}},
        ];
        let sums = collect(
            self.reviews
                .aggregate(pipeline)
                .with_type::<RatingSums>()
                .await
                .map_err(map_err)?,
        )
        .await?;
        let (count, total) = sums.first().map_or((0, 0), |s| (s.count, s.total));
        let cursor = self
            .reviews
            .find(filter)
            .sort(doc! {"createdAt": -1, "_id": -1})
            .skip(page.offset())
            .limit(page.limit.into())
            .await
            .map_err(map_err)?;
        let reviews = collect(cursor)
            .await?
            .into_iter()
            .map(Review::try_from)
            .collect::<StoreResult<_>>()?;
        Ok((count.max(0) as u64, total, reviews))
    }

    async fn review_for_contract(&self, contract: &ContractId) -> StoreResult<Option<Review>> {
        self.reviews
            .find_one(doc! {"contractId": contract.as_str()})
            .await
            .map_err(map_err)?
            .map(Review::try_from)
            .transpose()
    }

    async fn idempotency_begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> StoreResult<super::Begin> {
        self.idem_begin(scope, key, fingerprint, owner, now_ms, lease_ms)
            .await
    }

    async fn idempotency_finish(
        &self,
        scope: &str,
        key: &str,
        owner: &str,
        response: &super::StoredResponse,
        now_ms: i64,
    ) -> StoreResult<bool> {
        self.idem_finish(scope, key, owner, response, now_ms).await
    }

    async fn idempotency_release(&self, scope: &str, key: &str, owner: &str) -> StoreResult<()> {
        self.idem_release(scope, key, owner).await
    }

    async fn idempotency_purge(&self, now_ms: i64) -> StoreResult<u64> {
        self.idem_purge(now_ms).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployment_is_read_from_hello() {
        assert_eq!(
            Deployment::from_hello(&doc! {"isWritablePrimary": true}),
            Deployment::Standalone
        );
        assert_eq!(
            Deployment::from_hello(&doc! {"setName": "rs0"}),
            Deployment::ReplicaSet("rs0".into())
        );
        assert_eq!(
            Deployment::from_hello(&doc! {"msg": "isdbgrid"}),
            Deployment::Sharded
        );
    }

    #[test]
    fn months_are_utc_year_and_month() {
        assert_eq!(month_of(0), "1970-01");
        // 2026-02-28T23:59:59.999Z and one millisecond later.
        assert_eq!(month_of(1_772_323_199_999), "2026-02");
        assert_eq!(month_of(1_772_323_200_000), "2026-03");
    }

    #[test]
    fn bad_database_names_are_refused() {
        for bad in ["", "a.b", "a/b", "a b", "$x", &"x".repeat(64)] {
            assert!(check_database_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_database_name("escrow_test_0f").is_ok());
    }

    #[test]
    fn a_release_request_filter_means_a_funded_escrow() {
        let f = contract_filter(&ContractFilter {
            release_requested: true,
            ..Default::default()
        });
        assert_eq!(
            f,
            doc! {"escrowStatus": "funded", "releaseFundStatus": "Requested"}
        );
    }
}
