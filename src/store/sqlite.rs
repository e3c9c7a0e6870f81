//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL` (a commit is on
//! disk before it is acknowledged), safe for several processes at once (the server and
//! `escrowctl`): every write is an `IMMEDIATE` transaction, so writers queue on SQLite's own
//! file lock, and readers never wait for them.
//!
//! A contract record is stored as its JSON document plus the columns that queries filter on;
//! the document is the truth, the columns are kept in step by [`SqliteStore::save_contract`].
//!
//! **Group commit.** Writes do not each pay for their own fsync: they go to one writer thread
//! that drains its queue into a batch, runs each write inside its own SAVEPOINT of one IMMEDIATE
//! transaction, and commits the batch with a single durable commit. A write is acknowledged only
//! after its batch's commit returned, so nothing acknowledged can be lost; a write that fails
//! rolls back to its savepoint and fails alone; a failed commit fails exactly that batch's
//! writes. Reads never go through the writer: they use pooled WAL readers and never wait for it.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::{
    ContractFilter, EventRecord, EventStatus, MonthRow, Page, Store, StoreError, StoreResult,
    WebhookEvent,
};
use crate::domain::{
    Account, Contract, ContractId, Currency, JobId, LedgerEntry, Review, ReviewId, TransferKind,
    UserId,
};

mod idempotency;

/// How long a writer waits for another process's write lock before giving up.
const BUSY_TIMEOUT_MS: u64 = 10_000;
/// Idle connections kept open.
const POOL_IDLE_MAX: usize = 16;
/// Most writes one durable commit carries.
const BATCH_WRITES_MAX: usize = 512;

/// How the store commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Batch concurrent writes into one durable commit (on by default; off only to measure).
    pub group_commit: bool,
    /// Benchmarks only: a fixed delay added to every durable commit, standing in for a slow
    /// disk or a replicated write.
    pub commit_delay: Duration,
}

impl Default for SqliteOptions {
    fn default() -> SqliteOptions {
        SqliteOptions {
            group_commit: true,
            commit_delay: Duration::ZERO,
        }
    }
}

/// Schema migrations, applied in order once each, embedded in the binary.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE contracts (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    freelancer_id TEXT NOT NULL,
    status TEXT NOT NULL,
    escrow_status TEXT,
    release_fund_status TEXT NOT NULL,
    provider_work INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX contracts_live_job ON contracts(job_id) WHERE status != 'Canceled';
CREATE INDEX contracts_client ON contracts(client_id);
CREATE INDEX contracts_freelancer ON contracts(freelancer_id);
CREATE INDEX contracts_escrow ON contracts(escrow_status, release_fund_status, created_at);
CREATE INDEX contracts_created ON contracts(created_at);
CREATE INDEX contracts_provider_work ON contracts(provider_work) WHERE provider_work = 1;

CREATE TABLE payment_refs (
    payment_ref TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL
) STRICT;

CREATE TABLE ledger_entries (
    id TEXT PRIMARY KEY,
    transfer_id TEXT NOT NULL,
    contract_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    at INTEGER NOT NULL
) STRICT;
CREATE INDEX ledger_account ON ledger_entries(account, currency, at);
CREATE INDEX ledger_contract ON ledger_entries(contract_id);
CREATE INDEX ledger_kind ON ledger_entries(kind, at);

CREATE TABLE webhook_events (
    event_id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    contract_id TEXT,
    received_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deliveries INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_events_received ON webhook_events(received_at);

CREATE TABLE reviews (
    id TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    freelancer_id TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    description TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX reviews_freelancer ON reviews(freelancer_id, created_at DESC, id DESC);
"#,
    ),
    (2, idempotency::MIGRATION),
    (
        3,
        // Each freelancer's review count and rating sum, kept by triggers in the same
        // transaction as the review itself, so `show-reviews` reads one row instead of
        // aggregating every review on every call; `generation` counts every change (never
        // reused), so a rendered page can be kept until it moves.
        r#"
CREATE TABLE review_stats (
    freelancer_id TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    rating_sum INTEGER NOT NULL,
    generation INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO review_stats (freelancer_id, count, rating_sum, generation)
    SELECT freelancer_id, COUNT(*), SUM(rating), 1 FROM reviews GROUP BY freelancer_id;
CREATE TRIGGER review_stats_insert AFTER INSERT ON reviews BEGIN
    INSERT INTO review_stats (freelancer_id, count, rating_sum, generation) VALUES (NEW.freelancer_id, 1, NEW.rating, 1)
        ON CONFLICT(freelancer_id) DO UPDATE SET count = count + 1, rating_sum = rating_sum + NEW.rating,
            generation = generation + 1;
END;
CREATE TRIGGER review_stats_delete AFTER DELETE ON reviews BEGIN
    UPDATE review_stats SET count = count - 1, rating_sum = rating_sum - OLD.rating,
        generation = generation + 1
        WHERE freelancer_id = OLD.freelancer_id;
END;
CREATE TRIGGER review_stats_update AFTER UPDATE ON reviews BEGIN
    UPDATE review_stats SET count = count - 1, rating_sum = rating_sum - OLD.rating,
        generation = generation + 1
        WHERE freelancer_id = OLD.freelancer_id;
    INSERT INTO review_stats (freelancer_id, count, rating_sum, generation) VALUES (NEW.freelancer_id, 1, NEW.rating, 1)
        ON CONFLICT(freelancer_id) DO UPDATE SET count = count + 1, rating_sum = rating_sum + NEW.rating,
            generation = generation + 1;
END;
"#,
    ),
];

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// The writer thread's queue.
    writer: Mutex<mpsc::Sender<WriteJob>>,
    /// Durable commits made by the writer (a batch is one): shows group commit at work.
    commits: Arc<std::sync::atomic::AtomicU64>,
}

type WriteResult = StoreResult<Box<dyn Any + Send>>;

/// One write: runs inside its own savepoint of the writer's transaction.
struct WriteJob {
    run: Box<dyn FnOnce(&Connection) -> WriteResult + Send>,
    reply: tokio::sync::oneshot::Sender<WriteResult>,
}

/// The writer thread: drains the queue into batches and commits each batch once.
fn writer_loop(
    mut conn: Connection,
    jobs: mpsc::Receiver<WriteJob>,
    options: SqliteOptions,
    commits: Arc<std::sync::atomic::AtomicU64>,
) {
    let batch_max = if options.group_commit {
        BATCH_WRITES_MAX
    } else {
        1
    };
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < batch_max {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut results: Vec<WriteResult> = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        let committed = (|| -> StoreResult<()> {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            // Savepoint statements prepared once (rusqlite's `Savepoint` parses them anew for
            // every write).
            let run = |sql: &str| {
                tx.prepare_cached(sql)
                    .and_then(|mut s| s.execute([]))
                    .map_err(map_err)
            };
            for job in batch {
                replies.push(job.reply);
                run("SAVEPOINT write")?;
                // A write that fails (or panics) rolls back to its savepoint and fails alone.
                let outcome =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (job.run)(&tx)))
                        .unwrap_or_else(|_| {
                            Err(StoreError::Other("a storage write panicked".into()))
                        });
                if outcome.is_err() {
                    run("ROLLBACK TO write")?;
                }
                run("RELEASE write")?;
                results.push(outcome);
            }
            if !options.commit_delay.is_zero() {
                std::thread::sleep(options.commit_delay);
            }
            tx.commit().map_err(map_err)
        })();
        match committed {
            Ok(()) => {
                commits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                // Nothing of this batch is durable: every write in it fails.
                let text = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(match &e {
                        StoreError::Unavailable(_) => StoreError::Unavailable(text.clone()),
                        _ => StoreError::Other(format!("commit failed: {text}")),
                    }));
                }
            }
        }
    }
}

fn other(e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(e.to_string())
}

fn map_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(e.to_string())
        }
        Some(ErrorCode::ConstraintViolation) => StoreError::Duplicate(e.to_string()),
        Some(
            ErrorCode::CannotOpen
            | ErrorCode::ReadOnly
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure,
        ) => StoreError::Unavailable(e.to_string()),
        _ => other(e),
    }
}

fn open_connection(path: &Path) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(map_err)?;
    conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))
        .map_err(map_err)?;
    // WAL: readers never block writers; FULL: a commit is durable before it returns.
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(map_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Other(format!(
            "could not switch {} to WAL (got {mode})",
            path.display()
        )));
    }
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
        .map_err(map_err)?;
    // Query plans that do not depend on bound values: otherwise SQLite re-prepares a cached
    // statement on every call where an `= ?` constraint meets an ORDER BY (the show-reviews
    // page, for one), and every plan here is an index lookup whatever the value.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(map_err)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
        .map_err(map_err)?;
    let current: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    for (version, sql) in MIGRATIONS {
        if *version > current {
            tx.execute_batch(sql).map_err(map_err)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, chrono::Utc::now().timestamp_millis()],
            )
            .map_err(map_err)?;
        }
    }
    let newest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if current > newest {
        return Err(StoreError::Other(format!(
            "the database schema is version {current}, newer than this binary's {newest}: upgrade escrow"
        )));
    }
    tx.commit().map_err(map_err)
}

fn contract_from_doc(doc: String) -> StoreResult<Contract> {
    serde_json::from_str(&doc)
        .map_err(|e| StoreError::Other(format!("corrupt contract document: {e}")))
}

fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EntryRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

type EntryRow = (String, String, String, String, String, i64, String, i64);

fn entry_from_parts(p: EntryRow) -> StoreResult<LedgerEntry> {
    let (id, transfer_id, contract_id, kind, account, amount, currency, at) = p;
    Ok(LedgerEntry {
        id,
        transfer_id,
        contract_id: ContractId::parse(&contract_id).map_err(other)?,
        kind: serde_json::from_value(serde_json::Value::String(kind)).map_err(other)?,
        account: account.parse().map_err(StoreError::Other)?,
        amount,
        currency: currency.parse().map_err(other)?,
        at,
    })
}

const ENTRY_COLUMNS: &str = "id, transfer_id, contract_id, kind, account, amount, currency, at";

fn kind_name(kind: TransferKind) -> String {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(s)) => s,
        _ => unreachable!("transfer kinds serialise as strings"),
    }
}

fn event_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WebhookEvent> {
    let status: String = r.get(2)?;
    Ok(WebhookEvent {
        event_id: r.get(0)?,
        event_type: r.get(1)?,
        status: EventStatus::parse(&status).unwrap_or(EventStatus::Received),
        error: r.get(3)?,
        contract_id: r.get(4)?,
        received_at: r.get(5)?,
        updated_at: r.get(6)?,
        deliveries: r.get(7)?,
    })
}

/// A freelancer's reviews, newest first: `?1` freelancer, `?2` limit, `?3` offset.
const REVIEWS_PAGE_SQL: &str = "SELECT id, contract_id, client_id, freelancer_id, rating, description, created_at FROM reviews WHERE freelancer_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3";

const EVENT_COLUMNS: &str =
    "event_id, event_type, status, error, contract_id, received_at, updated_at, deliveries";

fn review_from_row(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(String, String, String, String, i64, String, i64)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn review_from_parts(p: (String, String, String, String, i64, String, i64)) -> StoreResult<Review> {
    let (id, contract_id, client_id, freelancer_id, rating, description, created_at) = p;
    Ok(Review {
        id: ReviewId::try_from(id).map_err(other)?,
        contract_id: ContractId::try_from(contract_id).map_err(other)?,
        client_id: UserId::try_from(client_id).map_err(other)?,
        freelancer_id: UserId::try_from(freelancer_id).map_err(other)?,
        rating: crate::domain::review::Rating::from_int(rating).map_err(other)?,
        description,
        created_at,
    })
}

const REVIEW_COLUMNS: &str =
    "id, contract_id, client_id, freelancer_id, rating, description, created_at";

/// Half-open range over account names with a prefix: `[prefix:, prefix;)` uses the index.
fn account_range(prefix: &str) -> (String, String) {
    (format!("{prefix}:"), format!("{prefix};"))
}

impl Inner {
    /// Runs `f` on an idle connection (or a new one), then keeps it for the next reader.
    fn on_pooled_connection<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let pooled = self.idle.lock().expect("pool lock").pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => open_connection(&self.path)?,
        };
        let result = f(&mut conn);
        let mut idle = self.idle.lock().expect("pool lock");
        if idle.len() < POOL_IDLE_MAX {
            idle.push(conn);
        }
        result
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies the migrations.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<SqliteStore> {
        SqliteStore::open_with(path, SqliteOptions::default())
    }

    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> StoreResult<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let mut conn = open_connection(&path)?;
        migrate(&mut conn)?;
        let writer_conn = open_connection(&path)?;
        let (tx, rx) = mpsc::channel();
        let commits = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = commits.clone();
        std::thread::Builder::new()
            .name("escrow-sqlite-writer".into())
            .spawn(move || writer_loop(writer_conn, rx, options, counter))
            .map_err(|e| StoreError::Other(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                idle: Mutex::new(vec![conn]),
                writer: Mutex::new(tx),
                commits,
            }),
        })
    }

    /// Durable commits made so far by this store's writer.
    pub fn commits(&self) -> u64 {
        self.inner
            .commits
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on a pooled connection on the blocking thread pool.
    async fn with_conn<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.on_pooled_connection(f))
            .await
            .map_err(|e| StoreError::Other(format!("storage task failed: {e}")))?
    }

    /// Runs a short, index-bounded read on the calling thread, on a pooled connection. A WAL
    /// reader never waits for the writer, and such a read takes microseconds, less than the
    /// two thread switches of [`Self::with_conn`] would cost; reads whose cost grows with the
    /// whole store (counts, scans, aggregates) go through `with_conn` instead.
    fn read_now<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.inner.on_pooled_connection(f)
    }

    /// Runs `f` as one write of the writer's next batch; returns once that batch is durable.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = WriteJob {
            run: Box::new(move |c| f(c).map(|v| Box::new(v) as Box<dyn Any + Send>)),
            reply,
        };
        self.inner
            .writer
            .lock()
            .expect("writer lock")
            .send(job)
            .map_err(|_| StoreError::Unavailable("the storage writer has stopped".into()))?;
        let value = answer
            .await
            .map_err(|_| StoreError::Unavailable("the storage writer has stopped".into()))??;
        Ok(*value
            .downcast::<T>()
            .expect("a write returns what it was asked for"))
    }

    /// The compare-and-set write, with the webhook event that caused it when there is one.
    async fn save(
        &self,
        contract: &Contract,
        expected_version: i64,
        entries: &[LedgerEntry],
        event: Option<WebhookEvent>,
    ) -> StoreResult<()> {
        assert_eq!(
            contract.version,
            expected_version + 1,
            "a save must bump the version by one"
        );
        let c = contract.clone();
        let entries = entries.to_vec();
        self.write(move |tx| {
            compare_and_set(tx, &c, expected_version, &entries)?;
            match &event {
                Some(e) => upsert_event(tx, e),
                None => Ok(()),
            }
        })
        .await
    }

    /// Test and operator hook: runs raw SQL on the file (used by tests that corrupt a ledger
    /// on purpose to prove `verify` notices).
    pub async fn execute_raw(&self, sql: String) -> StoreResult<usize> {
        self.with_conn(move |c| c.execute(&sql, []).map_err(map_err))
            .await
    }
}

/// Inserts a new contract's row (and its payment references).
fn insert_row(tx: &Connection, c: &Contract) -> StoreResult<()> {
    let doc = serde_json::to_string(c).map_err(other)?;
    tx.prepare_cached(
        "INSERT INTO contracts (id, job_id, client_id, freelancer_id, status, escrow_status, release_fund_status, provider_work, created_at, updated_at, version, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )
    .and_then(|mut s| {
        s.execute(params![
            c.id.as_str(),
            c.job_id.as_str(),
            c.client_id.as_str(),
            c.freelancer_id.as_str(),
            c.status.as_str(),
            c.escrow_status().map(|s| s.as_str()),
            c.release_fund_status.as_str(),
            c.has_pending_provider_work() as i64,
            c.created_at,
            c.updated_at,
            c.version,
            doc
        ])
    })
    .map_err(map_err)?;
    insert_payment_refs(tx, c)
}

/// Records every payment reference of the contract (those already there are kept).
fn insert_payment_refs(tx: &Connection, c: &Contract) -> StoreResult<()> {
    let refs = c
        .escrow
        .iter()
        .map(|e| e.payment_ref.as_str())
        .chain(
            c.escrow
                .iter()
                .filter_map(|e| e.checkout_session_id.as_deref()),
        )
        .chain(c.extra_payments.iter().map(|p| p.payment_ref.as_str()));
    let mut insert = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO payment_refs (payment_ref, contract_id) VALUES (?1, ?2)",
        )
        .map_err(map_err)?;
    for r in refs {
        insert.execute(params![r, c.id.as_str()]).map_err(map_err)?;
    }
    Ok(())
}

/// The compare-and-set of [`Store::save_contract`], inside a write.
fn compare_and_set(
    tx: &Connection,
    c: &Contract,
    expected_version: i64,
    entries: &[LedgerEntry],
) -> StoreResult<()> {
    let doc = serde_json::to_string(c).map_err(other)?;
    let updated = tx
        .prepare_cached(
            "UPDATE contracts SET status = ?2, escrow_status = ?3, release_fund_status = ?4,
                provider_work = ?5, updated_at = ?6, version = ?7, doc = ?8
             WHERE id = ?1 AND version = ?9",
        )
        .and_then(|mut s| {
            s.execute(params![
                c.id.as_str(),
                c.status.as_str(),
                c.escrow_status().map(|s| s.as_str()),
                c.release_fund_status.as_str(),
                c.has_pending_provider_work() as i64,
                c.updated_at,
                c.version,
                doc,
                expected_version
            ])
        })
        .map_err(map_err)?;
    if updated == 0 {
        let exists: bool = tx
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM contracts WHERE id = ?1)")
            .and_then(|mut s| s.query_row([c.id.as_str()], |r| r.get(0)))
            .map_err(map_err)?;
        return Err(if exists {
            StoreError::Conflict
        } else {
            StoreError::NotFound
        });
    }
    insert_payment_refs(tx, c)?;
    let mut insert = tx
        .prepare_cached(&format!(
            "INSERT INTO ledger_entries ({ENTRY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ))
        .map_err(map_err)?;
    for e in entries {
        insert
            .execute(params![
                e.id,
                e.transfer_id,
                e.contract_id.as_str(),
                kind_name(e.kind),
                e.account.to_string(),
                e.amount,
                e.currency.code(),
                e.at
            ])
            .map_err(map_err)?;
    }
    Ok(())
}

/// The upsert of [`Store::settle_event`], inside a write.
fn upsert_event(tx: &Connection, e: &WebhookEvent) -> StoreResult<()> {
    tx.prepare_cached(&format!(
        "INSERT INTO webhook_events ({EVENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(event_id) DO UPDATE SET status = excluded.status, error = excluded.error,
            contract_id = COALESCE(excluded.contract_id, contract_id),
            updated_at = excluded.updated_at, deliveries = deliveries + 1"
    ))
    .and_then(|mut s| {
        s.execute(params![
            e.event_id,
            e.event_type,
            e.status.as_str(),
            e.error,
            e.contract_id,
            e.received_at,
            e.updated_at,
            e.deliveries
        ])
    })
    .map_err(map_err)?;
    Ok(())
}

fn filter_sql(f: &ContractFilter) -> (String, Vec<String>) {
    let mut clauses = vec!["1 = 1".to_string()];
    let mut args = vec![];
    if let Some(s) = f.escrow_status {
        clauses.push(format!("escrow_status = ?{}", args.len() + 1));
        args.push(s.as_str().to_string());
    }
    if let Some(s) = f.contract_status {
        clauses.push(format!("status = ?{}", args.len() + 1));
        args.push(s.as_str().to_string());
    }
    if f.release_requested {
        clauses.push("release_fund_status = 'Requested' AND escrow_status = 'funded'".into());
    }
    if f.funded_only {
        clauses.push("escrow_status IS NOT NULL".into());
    }
    (clauses.join(" AND "), args)
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.with_conn(|c| {
            c.query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|_| ())
            .map_err(map_err)
        })
        .await
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn insert_contract(&self, contract: &Contract) -> StoreResult<()> {
        let c = contract.clone();
        self.write(move |tx| {
            let exists: bool = tx
                .query_row(
                    "SELECT EXISTS(SELECT 1 FROM contracts WHERE id = ?1)",
                    [c.id.as_str()],
                    |r| r.get(0),
                )
                .map_err(map_err)?;
            if exists {
                return Err(StoreError::Duplicate(format!("contract {} exists", c.id)));
            }
            insert_row(tx, &c).map_err(|e| match e {
                StoreError::Duplicate(_) => {
                    StoreError::Duplicate(format!("job {} already has a live contract", c.job_id))
                }
                e => e,
            })
        })
        .await
    }

    async fn get_contract(&self, id: &ContractId) -> StoreResult<Option<Contract>> {
        let doc: Option<String> = self.read_now(|c| {
            c.prepare_cached("SELECT doc FROM contracts WHERE id = ?1")
                .and_then(|mut s| s.query_row([id.as_str()], |r| r.get(0)).optional())
                .map_err(map_err)
        })?;
        doc.map(contract_from_doc).transpose()
    }

    async fn live_contract_for_job(&self, job: &JobId) -> StoreResult<Option<Contract>> {
        let doc: Option<String> = self.read_now(|c| {
            c.prepare_cached("SELECT doc FROM contracts WHERE job_id = ?1 AND status != 'Canceled'")
                .and_then(|mut s| s.query_row([job.as_str()], |r| r.get(0)).optional())
                .map_err(map_err)
        })?;
        doc.map(contract_from_doc).transpose()
    }

    async fn contract_by_payment(&self, payment_ref: &str) -> StoreResult<Option<Contract>> {
        let doc: Option<String> = self.read_now(|c| {
            c.prepare_cached("SELECT c.doc FROM payment_refs p JOIN contracts c ON c.id = p.contract_id WHERE p.payment_ref = ?1")
                .and_then(|mut s| s.query_row([payment_ref], |r| r.get(0)).optional())
                .map_err(map_err)
        })?;
        doc.map(contract_from_doc).transpose()
    }

    async fn save_contract(
        &self,
        contract: &Contract,
        expected_version: i64,
        entries: &[LedgerEntry],
    ) -> StoreResult<()> {
        self.save(contract, expected_version, entries, None).await
    }

    async fn save_contract_with_event(
        &self,
        contract: &Contract,
        expected_version: i64,
        entries: &[LedgerEntry],
        event: &WebhookEvent,
    ) -> StoreResult<()> {
        self.save(contract, expected_version, entries, Some(event.clone()))
            .await
    }

    async fn list_contracts(
        &self,
        filter: &ContractFilter,
        page: Page,
    ) -> StoreResult<(u64, Vec<Contract>)> {
        let (where_sql, args) = filter_sql(filter);
        let (count, docs) = self
            .with_conn(move |c| {
                let count: i64 = c
                    .query_row(&format!("SELECT COUNT(*) FROM contracts WHERE {where_sql}"), rusqlite::params_from_iter(args.iter()), |r| r.get(0))
                    .map_err(map_err)?;
                let mut stmt = c
                    .prepare(&format!(
                        "SELECT doc FROM contracts WHERE {where_sql} ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}",
                        page.limit,
                        page.offset()
                    ))
                    .map_err(map_err)?;
                let docs = stmt
                    .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get::<_, String>(0))
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                Ok((count as u64, docs))
            })
            .await?;
        Ok((
            count,
            docs.into_iter()
                .map(contract_from_doc)
                .collect::<StoreResult<_>>()?,
        ))
    }

    async fn contracts_with_provider_work(&self) -> StoreResult<Vec<ContractId>> {
        let ids: Vec<String> = self
            .with_conn(|c| {
                let mut stmt = c
                    .prepare("SELECT id FROM contracts WHERE provider_work = 1 ORDER BY updated_at")
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([], |r| r.get(0))
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                Ok(rows)
            })
            .await?;
        ids.iter()
            .map(|i| ContractId::parse(i).map_err(other))
            .collect()
    }

    async fn contracts_after(
        &self,
        after: Option<&ContractId>,
        limit: u32,
    ) -> StoreResult<Vec<Contract>> {
        let after = after.map(|a| a.to_string()).unwrap_or_default();
        let docs: Vec<String> = self
            .with_conn(move |c| {
                let mut stmt = c
                    .prepare("SELECT doc FROM contracts WHERE id > ?1 ORDER BY id LIMIT ?2")
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![after, limit], |r| r.get(0))
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                Ok(rows)
            })
            .await?;
        docs.into_iter().map(contract_from_doc).collect()
    }

    async fn entries_for_contract(&self, id: &ContractId) -> StoreResult<Vec<LedgerEntry>> {
        let rows: Vec<EntryRow> = self.read_now(|c| {
            let mut stmt = c.prepare_cached(&format!("SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE contract_id = ?1 ORDER BY at, id")).map_err(map_err)?;
            let rows = stmt.query_map([id.as_str()], entry_from_row).map_err(map_err)?.collect::<Result<Vec<_>, _>>().map_err(map_err)?;
            Ok(rows)
        })?;
        rows.into_iter().map(entry_from_parts).collect()
    }

    async fn entries_for_account(
        &self,
        account: &Account,
        page: Page,
    ) -> StoreResult<(u64, Vec<LedgerEntry>)> {
        let account = account.to_string();
        let (count, rows): (i64, Vec<EntryRow>) = self
            .with_conn(move |c| {
                let count = c.query_row("SELECT COUNT(*) FROM ledger_entries WHERE account = ?1", [&account], |r| r.get(0)).map_err(map_err)?;
                let mut stmt = c
                    .prepare(&format!("SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE account = ?1 ORDER BY at DESC, id DESC LIMIT ?2 OFFSET ?3"))
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![account, page.limit, page.offset() as i64], entry_from_row)
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                Ok((count, rows))
            })
            .await?;
        Ok((
            count as u64,
            rows.into_iter()
                .map(entry_from_parts)
                .collect::<StoreResult<_>>()?,
        ))
    }

    async fn account_balance(&self, account: &Account, currency: Currency) -> StoreResult<i64> {
        let account = account.to_string();
        self.with_conn(move |c| {
            c.query_row(
                "SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE account = ?1 AND currency = ?2",
                params![account, currency.code()],
                |r| r.get(0),
            )
            .map_err(map_err)
        })
        .await
    }

    async fn escrow_held(&self, currency: Currency) -> StoreResult<i64> {
        let (lo, hi) = account_range("escrow");
        self.with_conn(move |c| {
            c.query_row(
                "SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE account >= ?1 AND account < ?2 AND currency = ?3",
                params![lo, hi, currency.code()],
                |r| r.get(0),
            )
            .map_err(map_err)
        })
        .await
    }

    async fn sales_by_month(
        &self,
        currency: Currency,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> StoreResult<Vec<MonthRow>> {
        self.with_conn(move |c| {
            let mut stmt = c
                .prepare(
                    "SELECT strftime('%Y-%m', at / 1000, 'unixepoch') AS month,
                        COALESCE(SUM(CASE WHEN account >= 'escrow:' AND account < 'escrow;' THEN -amount ELSE 0 END), 0),
                        COALESCE(SUM(CASE WHEN account = 'platform:fees' THEN amount ELSE 0 END), 0),
                        COALESCE(SUM(CASE WHEN account >= 'wallet:' AND account < 'wallet;' THEN amount ELSE 0 END), 0),
                        COUNT(DISTINCT contract_id)
                     FROM ledger_entries
                     WHERE kind = 'release' AND currency = ?1 AND at >= ?2 AND at < ?3
                     GROUP BY month ORDER BY month",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params![currency.code(), from_ms.unwrap_or(i64::MIN), to_ms.unwrap_or(i64::MAX)], |r| {
                    Ok(MonthRow { month: r.get(0)?, gross: r.get(1)?, platform_fee: r.get(2)?, freelancer_earning: r.get(3)?, count: r.get(4)? })
                })
                .map_err(map_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(map_err)?;
            Ok(rows)
        })
        .await
    }

    async fn entries_after(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<LedgerEntry>> {
        let after = after.unwrap_or("").to_string();
        let rows: Vec<EntryRow> = self
            .with_conn(move |c| {
                let mut stmt = c.prepare(&format!("SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE id > ?1 ORDER BY id LIMIT ?2")).map_err(map_err)?;
                let rows = stmt.query_map(params![after, limit], entry_from_row).map_err(map_err)?.collect::<Result<Vec<_>, _>>().map_err(map_err)?;
                Ok(rows)
            })
            .await?;
        rows.into_iter().map(entry_from_parts).collect()
    }

    async fn wallet_balances(&self, currency: Currency) -> StoreResult<Vec<(UserId, i64)>> {
        let (lo, hi) = account_range("wallet");
        let rows: Vec<(String, i64)> = self
            .with_conn(move |c| {
                let mut stmt = c
                    .prepare("SELECT account, SUM(amount) FROM ledger_entries WHERE account >= ?1 AND account < ?2 AND currency = ?3 GROUP BY account ORDER BY account")
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![lo, hi, currency.code()], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                Ok(rows)
            })
            .await?;
        rows.into_iter()
            .map(|(account, balance)| match account.parse::<Account>() {
                Ok(Account::Wallet(u)) => Ok((u, balance)),
                _ => Err(StoreError::Other(format!("bad wallet account {account:?}"))),
            })
            .collect()
    }

    async fn count_entries(&self) -> StoreResult<u64> {
        self.with_conn(|c| {
            c.query_row("SELECT COUNT(*) FROM ledger_entries", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(map_err)
        })
        .await
    }

    async fn count_contracts(&self) -> StoreResult<u64> {
        self.with_conn(|c| {
            c.query_row("SELECT COUNT(*) FROM contracts", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(map_err)
        })
        .await
    }

    async fn record_event(&self, event: &WebhookEvent) -> StoreResult<EventRecord> {
        let e = event.clone();
        self.write(move |tx| {
            let inserted = tx
                .execute(
                    &format!("INSERT OR IGNORE INTO webhook_events ({EVENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                    params![e.event_id, e.event_type, e.status.as_str(), e.error, e.contract_id, e.received_at, e.updated_at, e.deliveries],
                )
                .map_err(map_err)?;
            if inserted == 1 {
                return Ok(EventRecord::New);
            }
            tx.execute("UPDATE webhook_events SET deliveries = deliveries + 1 WHERE event_id = ?1", [&e.event_id]).map_err(map_err)?;
            let seen = tx
                .query_row(&format!("SELECT {EVENT_COLUMNS} FROM webhook_events WHERE event_id = ?1"), [&e.event_id], event_from_row)
                .map_err(map_err)?;
            Ok(EventRecord::Seen(seen))
        })
        .await
    }

    async fn settle_event(&self, event: &WebhookEvent) -> StoreResult<()> {
        let e = event.clone();
        self.write(move |tx| upsert_event(tx, &e)).await
    }

    async fn find_event(&self, event_id: &str) -> StoreResult<Option<WebhookEvent>> {
        self.read_now(|c| {
            c.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM webhook_events WHERE event_id = ?1"
            ))
            .and_then(|mut s| s.query_row([event_id], event_from_row).optional())
            .map_err(map_err)
        })
    }

    async fn list_events(&self, failed_only: bool, limit: u32) -> StoreResult<Vec<WebhookEvent>> {
        self.with_conn(move |c| {
            let filter = if failed_only { "WHERE status = 'failed'" } else { "" };
            let mut stmt = c
                .prepare(&format!("SELECT {EVENT_COLUMNS} FROM webhook_events {filter} ORDER BY received_at DESC, event_id DESC LIMIT ?1"))
                .map_err(map_err)?;
            let rows = stmt.query_map([limit], event_from_row).map_err(map_err)?.collect::<Result<Vec<_>, _>>().map_err(map_err)?;
            Ok(rows)
        })
        .await
    }

    async fn insert_review(&self, review: &Review) -> StoreResult<()> {
        let r = review.clone();
        self.write(move |tx| {
            tx.execute(
                &format!(
                    "INSERT INTO reviews ({REVIEW_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ),
                params![
                    r.id.as_str(),
                    r.contract_id.as_str(),
                    r.client_id.as_str(),
                    r.freelancer_id.as_str(),
                    r.rating.get(),
                    r.description,
                    r.created_at
                ],
            )
            .map_err(|e| match map_err(e) {
                StoreError::Duplicate(_) => StoreError::Duplicate(format!(
                    "contract {} already has a review",
                    r.contract_id
                )),
                e => e,
            })?;
            Ok(())
        })
        .await
    }

    async fn reviews_for_freelancer(
        &self,
        freelancer: &UserId,
        page: Page,
    ) -> StoreResult<(u64, i64, Vec<Review>)> {
        let f = freelancer.as_str();
        let (count, sum, rows) = self.read_now(|c| {
            // One snapshot for the aggregate and the page.
            let tx = c.transaction().map_err(map_err)?;
            let (count, sum): (i64, i64) = tx
                .prepare_cached(
                    "SELECT count, rating_sum FROM review_stats WHERE freelancer_id = ?1",
                )
                .and_then(|mut s| s.query_row([f], |r| Ok((r.get(0)?, r.get(1)?))).optional())
                .map_err(map_err)?
                .unwrap_or((0, 0));
            let mut stmt = tx.prepare_cached(REVIEWS_PAGE_SQL).map_err(map_err)?;
            let rows = stmt
                .query_map(
                    params![f, page.limit, page.offset() as i64],
                    review_from_row,
                )
                .map_err(map_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(map_err)?;
            Ok((count, sum, rows))
        })?;
        Ok((
            count as u64,
            sum,
            rows.into_iter()
                .map(review_from_parts)
                .collect::<StoreResult<_>>()?,
        ))
    }

    async fn reviews_generation(&self, freelancer: &UserId) -> StoreResult<Option<i64>> {
        let generation: Option<i64> = self.read_now(|c| {
            c.prepare_cached("SELECT generation FROM review_stats WHERE freelancer_id = ?1")
                .and_then(|mut s| s.query_row([freelancer.as_str()], |r| r.get(0)).optional())
                .map_err(map_err)
        })?;
        Ok(Some(generation.unwrap_or(0)))
    }

    async fn review_for_contract(&self, contract: &ContractId) -> StoreResult<Option<Review>> {
        let row = self.read_now(|c| {
            c.prepare_cached(&format!(
                "SELECT {REVIEW_COLUMNS} FROM reviews WHERE contract_id = ?1"
            ))
            .and_then(|mut s| s.query_row([contract.as_str()], review_from_row).optional())
            .map_err(map_err)
        })?;
        row.map(review_from_parts).transpose()
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
    use crate::domain::review::Rating;

    fn review(contract: &ContractId) -> Review {
        Review {
            id: ReviewId::generate(),
            contract_id: contract.clone(),
            client_id: UserId::generate(),
            freelancer_id: UserId::generate(),
            rating: Rating::parse(&serde_json::json!(4)).unwrap(),
            description: "ok".into(),
            created_at: 1,
        }
    }

    async fn concurrent_writes_where_duplicates_fail_alone(options: SqliteOptions) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_with(dir.path().join("t.db"), options).unwrap();
        let contracts: Vec<ContractId> = (0..20).map(|_| ContractId::generate()).collect();
        // Each contract reviewed three times at once: exactly one insert per contract wins.
        let mut tasks = vec![];
        for c in &contracts {
            for _ in 0..3 {
                let (store, r) = (store.clone(), review(c));
                tasks.push(tokio::spawn(async move { store.insert_review(&r).await }));
            }
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => ok += 1,
                Err(StoreError::Duplicate(_)) => {}
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!(ok, 20);
        drop(store);
        // Everything acknowledged is in the file, as a fresh open sees it.
        let reopened = SqliteStore::open(dir.path().join("t.db")).unwrap();
        for c in &contracts {
            assert!(reopened.review_for_contract(c).await.unwrap().is_some());
        }
    }

    /// A cached statement runs as prepared: SQLite would otherwise re-prepare the show-reviews
    /// page on every call (an `= ?` constraint with an ORDER BY), a parse and plan per request.
    #[test]
    fn cached_statements_are_not_prepared_again_for_each_call() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = open_connection(&path).unwrap();
        migrate(&mut conn).unwrap();
        for (freelancer, page) in [("a", 0), ("b", 20), ("a", 0)] {
            let mut stmt = conn.prepare_cached(REVIEWS_PAGE_SQL).unwrap();
            let rows = stmt
                .query_map(params![freelancer, 20, page], |_| Ok(()))
                .unwrap()
                .count();
            assert_eq!(rows, 0);
            assert_eq!(
                stmt.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "re-prepared"
            );
        }
    }

    /// Migration 3 fills `review_stats` from the reviews a version-2 file already holds, and
    /// its triggers keep it equal to the reviews through inserts, updates and deletes.
    #[tokio::test]
    async fn review_aggregates_are_backfilled_and_kept_by_the_triggers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let freelancer = UserId::generate();
        let store = SqliteStore::open(&path).unwrap();
        for rating in [5, 3, 4] {
            let mut r = review(&ContractId::generate());
            r.freelancer_id = freelancer.clone();
            r.rating = Rating::parse(&serde_json::json!(rating)).unwrap();
            store.insert_review(&r).await.unwrap();
        }
        drop(store);
        // Turn the file back into version 2: no aggregate table, no triggers.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TRIGGER review_stats_insert; DROP TRIGGER review_stats_delete;
             DROP TRIGGER review_stats_update; DROP TABLE review_stats;
             DELETE FROM schema_migrations WHERE version = 3;",
        )
        .unwrap();
        drop(conn);
        let store = SqliteStore::open(&path).unwrap();
        let (count, sum, page) = store
            .reviews_for_freelancer(&freelancer, Page::new(1, 2))
            .await
            .unwrap();
        assert_eq!((count, sum, page.len()), (3, 12, 2));
        let mut r = review(&ContractId::generate());
        r.freelancer_id = freelancer.clone();
        store.insert_review(&r).await.unwrap();
        store
            .execute_raw(format!(
                "UPDATE reviews SET rating = 1 WHERE id = '{}'",
                r.id.as_str()
            ))
            .await
            .unwrap();
        store
            .execute_raw(format!(
                "DELETE FROM reviews WHERE freelancer_id = '{freelancer}' AND rating = 5"
            ))
            .await
            .unwrap();
        let (count, sum, _) = store
            .reviews_for_freelancer(&freelancer, Page::default())
            .await
            .unwrap();
        assert_eq!((count, sum), (3, 3 + 4 + 1));
        let (none, zero, empty) = store
            .reviews_for_freelancer(&UserId::generate(), Page::default())
            .await
            .unwrap();
        assert_eq!((none, zero, empty.len()), (0, 0, 0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_failed_write_in_a_batch_fails_alone_with_group_commit() {
        concurrent_writes_where_duplicates_fail_alone(SqliteOptions::default()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn writes_are_the_same_without_group_commit() {
        concurrent_writes_where_duplicates_fail_alone(SqliteOptions {
            group_commit: false,
            commit_delay: Duration::ZERO,
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writes_share_durable_commits() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_with(
            dir.path().join("t.db"),
            SqliteOptions {
                group_commit: true,
                commit_delay: Duration::from_millis(50),
            },
        )
        .unwrap();
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let (store, r) = (store.clone(), review(&ContractId::generate()));
                tokio::spawn(async move { store.insert_review(&r).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        // Proof by counting, not timing: all 40 are there, and while the first commit waited the
        // others queued up and shared the next ones.
        let n: i64 = store
            .with_conn(|c| {
                c.query_row("SELECT COUNT(*) FROM reviews", [], |r| r.get(0))
                    .map_err(map_err)
            })
            .await
            .unwrap();
        assert_eq!(n, 40);
        assert!(
            store.commits() <= 5,
            "40 concurrent writes took {} commits",
            store.commits()
        );
        let unbatched = SqliteStore::open_with(
            dir.path().join("u.db"),
            SqliteOptions {
                group_commit: false,
                commit_delay: Duration::from_millis(1),
            },
        )
        .unwrap();
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (store, r) = (unbatched.clone(), review(&ContractId::generate()));
                tokio::spawn(async move { store.insert_review(&r).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(
            unbatched.commits(),
            10,
            "without group commit every write is its own commit"
        );
    }
}
