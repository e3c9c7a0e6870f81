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
//! - `kept_balances`: every account's balance and entry count, each account kind's total and
//!   each month of the sales report, folded from `ledger_entries` once per entry in numbered
//!   batches, plus the fold's checkpoint (`_id: "fold"`); see `kept`.
//! - `webhook_events`: `_id` = the provider's event id, so the `_id` unique index deduplicates
//!   deliveries; a duplicate insert is recognised by error code 11000, never by its text.
//! - `reviews`: `_id` = the review id, with a unique index on `contractId` (one per contract).
//! - `idempotency_keys`: one document per `Idempotency-Key` and caller, `_id` = scope and key
//!   (see `idempotency` below).
//! - `job_claims`: one document per job that ever had a contract, `_id` = the job id, pointing
//!   at the contract that holds the job (see "One live contract per job" below).
//! - `payouts`, `wallet_debits`, `connected_accounts`: money out (see `payouts`: a payout
//!   document is a contract document's twin, and a wallet debit is guarded by one document per
//!   wallet).
//! - `timers`: durable timers, claimed with a lease by compare-and-set (see `timers`).
//!
//! # Where things live
//!
//! This file: connecting, the deployment, indexes, error mapping. `docs`: the documents and
//! their conversions. One file per entity store: `contracts` (the compare-and-set and the
//! ledger projection), `ledger`, `events`, `reviews`, `idempotency`; `claims` keeps one live
//! contract per job; `kept` folds the entries into kept balances.
//!
//! # Money transitions: one document, one compare-and-set
//!
//! [`ContractStore::save_contract`](crate::store::ContractStore::save_contract) reads the stored document, checks its `version`, appends the new
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
//! whole claim. Claims are never deleted. [`ContractStore::insert_contract`](crate::store::ContractStore::insert_contract) is three writes, each on
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
//! job's claim does not point at. [`ContractStore::live_contract_for_job`](crate::store::ContractStore::live_contract_for_job) follows the claim, so it
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
use bson::{Document, doc};
use futures_util::TryStreamExt;
use mongodb::error::{Error as MongoError, ErrorKind, WriteFailure};
use mongodb::options::{
    Acknowledgment, ClientOptions, CollectionOptions, IndexOptions, WriteConcern,
};
use mongodb::{Client, Collection, Database, IndexModel};
use serde::de::DeserializeOwned;

use crate::store::{Store, StoreError, StoreResult};
use docs::{ContractDoc, EntryDoc, EventDoc, ReviewDoc};

mod claims;
mod contracts;
mod docs;
mod events;
mod idempotency;
mod kept;
pub use kept::FoldStage;
mod ledger;
mod payouts;
mod reviews;
mod timers;

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
const KEPT_BALANCES: &str = "kept_balances";

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

pub(super) fn map_err(e: MongoError) -> StoreError {
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
            StoreError::unavailable_from("mongodb", e)
        }
        _ => StoreError::other_from("mongodb", e),
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
        return Err(StoreError::other(format!(
            "ESCROW_MONGODB_DATABASE {name:?} is not a valid MongoDB database name (1 to {DATABASE_NAME_BYTES_MAX} bytes, none of /\\. \"$*<>:|?)"
        )));
    }
    Ok(())
}

pub(super) async fn collect<T: DeserializeOwned + Send + Sync>(
    cursor: mongodb::Cursor<T>,
) -> StoreResult<Vec<T>> {
    cursor.try_collect().await.map_err(map_err)
}

#[derive(Clone)]
pub struct MongoStore {
    db: Database,
    contracts: Collection<ContractDoc>,
    entries: Collection<EntryDoc>,
    kept: Collection<kept::KeptDoc>,
    events: Collection<EventDoc>,
    reviews: Collection<ReviewDoc>,
    payouts: Collection<payouts::PayoutDoc>,
    wallet_debits: Collection<payouts::WalletDebits>,
    connected_accounts: Collection<payouts::AccountDoc>,
    timers: Collection<timers::TimerDoc>,
    deployment: Deployment,
    /// See `claims::CLAIM_GRACE_MS`.
    claim_grace_ms: i64,
    /// Most entries in one fold batch (see `kept`).
    fold_batch: i64,
    /// The driver's connection pool size (`maxPoolSize`, which the driver never lets be 0).
    pool_size: u32,
}

/// A collection whose writes are acknowledged only once a majority has journaled them (every
/// collection of this store: each holds money, or what decides whether money moves).
pub(super) fn durable_collection<T: Send + Sync>(db: &Database, name: &str) -> Collection<T> {
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
            .map_err(|e| StoreError::other_from("ESCROW_DATABASE_URL", e))?;
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
            kept: durable_collection(&db, KEPT_BALANCES),
            events: durable_collection(&db, WEBHOOK_EVENTS),
            reviews: durable_collection(&db, REVIEWS),
            payouts: durable_collection(&db, payouts::PAYOUTS),
            wallet_debits: durable_collection(&db, payouts::WALLET_DEBITS),
            connected_accounts: durable_collection(&db, payouts::CONNECTED_ACCOUNTS),
            timers: durable_collection(&db, timers::TIMERS),
            db,
            deployment,
            claim_grace_ms: claims::CLAIM_GRACE_MS,
            fold_batch: kept::FOLD_BATCH,
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
        // Entries of a database from before kept balances: mark them for the fold (which
        // then builds their balances in the maintenance task, progress in the log).
        let unmarked = store
            .entries
            .update_many(
                doc! {"folded": {"$exists": false}},
                doc! {"$set": {"folded": 0_i64}},
            )
            .await
            .map_err(map_err)?
            .modified_count;
        if unmarked > 0 {
            tracing::info!(
                entries = unmarked,
                "kept balances: entries of an older database will be folded in"
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
                index(doc! {"number": 1}),
                index(doc! {"clientId": 1}),
                index(doc! {"freelancerId": 1}),
                index(doc! {"escrowStatus": 1, "releaseFundStatus": 1, "createdAt": -1}),
                index(doc! {"createdAt": -1}),
                index(doc! {"providerWork": 1}),
                index(doc! {"disputes": 1, "createdAt": -1}),
                index(doc! {"refundFailed": 1, "createdAt": -1}),
                index(doc! {"paymentRefs": 1}),
                index(doc! {"ledgerUnprojected": 1}),
            ])
            .await
            .map_err(map_err)?;
        // Documents stored before `refundFailed` was kept: marked from their milestones' escrow
        // states (no duplicate payment's refund failed before it), the rest `false`. A derived
        // field, not the record: no compare-and-set needed. Once every document has it, a
        // start finds none missing it through the `refundFailed` index and scans nothing.
        for failed in [true, false] {
            let mut filter = doc! {"refundFailed": {"$exists": false}};
            if failed {
                filter.insert("record.milestones.escrow.status", "refund_failed");
            }
            self.contracts
                .update_many(filter, doc! {"$set": {"refundFailed": failed}})
                .await
                .map_err(map_err)?;
        }
        self.entries
            .create_indexes([
                index(doc! {"account": 1, "currency": 1, "at": -1}),
                index(doc! {"accountType": 1, "currency": 1}),
                index(doc! {"kind": 1, "currency": 1, "at": 1}),
                index(doc! {"contractId": 1}),
                index(doc! {"folded": 1, "account": 1, "currency": 1}),
                index(doc! {"folded": 1, "accountType": 1, "currency": 1}),
            ])
            .await
            .map_err(map_err)?;
        self.kept
            .create_indexes([index(doc! {"scope": 1})])
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
        self.create_payout_indexes().await?;
        self.create_timer_indexes().await?;
        Ok(())
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
    /// each of their operations, all advancing a step at a time (see `http::admission`).
    fn requests_at_once(&self) -> Option<usize> {
        Some(self.pool_size.max(1) as usize)
    }

    /// Folds every projected entry not yet in the kept balances (see `kept`).
    async fn fold_kept(&self) -> StoreResult<u64> {
        self.fold_all().await
    }
}

/// `filter` narrowed to a keyset page's rows: those strictly after the page's cursor in the
/// newest-first order of `(at_field, _id)`. Unchanged for a numbered page.
/// The ids of a record collection's documents the provider still has work for
/// (`providerWork`: a refund owed, a payout's transfer), oldest change first.
pub(super) async fn ids_with_provider_work<T, I>(records: &Collection<T>) -> StoreResult<Vec<I>>
where
    T: Send + Sync,
    I: serde::de::DeserializeOwned + Send + Sync,
{
    #[derive(serde::Deserialize)]
    struct IdOnly<I> {
        #[serde(rename = "_id")]
        id: I,
    }
    let cursor = records
        .clone_with_type::<IdOnly<I>>()
        .find(doc! {"providerWork": true})
        .projection(doc! {"_id": 1})
        .sort(doc! {"updatedAt": 1, "_id": 1})
        .await
        .map_err(map_err)?;
    Ok(collect(cursor).await?.into_iter().map(|d| d.id).collect())
}

pub(super) fn keyset_filter(
    filter: Document,
    at_field: &str,
    page: &crate::store::Page,
) -> Document {
    let Some(c) = &page.after else {
        return filter;
    };
    let after = doc! {"$or": [
        {at_field: {"$lt": c.at}},
        {at_field: c.at, "_id": {"$lt": c.id.as_str()}},
    ]};
    if filter.is_empty() {
        after
    } else {
        doc! {"$and": [filter, after]}
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
    fn bad_database_names_are_refused() {
        for bad in ["", "a.b", "a/b", "a b", "$x", &"x".repeat(64)] {
            assert!(check_database_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_database_name("escrow_test_0f").is_ok());
    }
}
