//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL` (a commit is on
//! disk before it is acknowledged), safe for several processes at once (the server and
//! `escrowctl`): every write is an `IMMEDIATE` transaction, so writers queue on SQLite's own
//! file lock, and readers never wait for them.
//!
//! Where things live:
//! - [`schema`] — migrations and how a connection is opened;
//! - [`writer`] — the writer thread and group commit: concurrent writes share one durable
//!   commit, and each is acknowledged only once its batch is on disk;
//! - `rows` — rows to domain records and back;
//! - one file per entity store: `contracts` (the compare-and-set and its ledger entries),
//!   `ledger`, `events`, `reviews`, `idempotency`, `payouts` (money out, and the wallet
//!   debit checked in the same write).
//!
//! Reads never go through the writer: they use pooled WAL readers and never wait for it.

mod contracts;
mod events;
mod idempotency;
mod kept;
mod ledger;
mod payouts;
mod reviews;
mod rows;
mod schema;
mod timers;
mod writer;

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode};

pub use writer::SqliteOptions;

use crate::domain::{Contract, LedgerEntry};
use crate::store::{Store, StoreError, StoreResult, WebhookEvent};
use writer::WriteJob;

/// Idle connections kept open.
const POOL_IDLE_MAX: usize = 16;

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
    commits: Arc<AtomicU64>,
}

pub(super) fn map_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => StoreError::Duplicate(e.to_string()),
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::ReadOnly
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure,
        ) => StoreError::unavailable_from("sqlite", e),
        _ => StoreError::other_from("sqlite", e),
    }
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
            None => schema::open_connection(&self.path)?,
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
                StoreError::unavailable_from(format!("cannot create {}", dir.display()), e)
            })?;
        }
        let mut conn = schema::open_connection(&path)?;
        schema::migrate(&mut conn)?;
        let commits = Arc::new(AtomicU64::new(0));
        let writer = writer::start(schema::open_writer(&path)?, options, commits.clone())?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                idle: Mutex::new(vec![conn]),
                writer: Mutex::new(writer),
                commits,
            }),
        })
    }

    /// Durable commits made so far by this store's writer.
    pub fn commits(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
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
            .map_err(|e| StoreError::other_from("storage task failed", e))?
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
        let stopped = || StoreError::unavailable("the storage writer has stopped");
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
            .map_err(|_| stopped())?;
        let value = answer.await.map_err(|_| stopped())??;
        Ok(*value
            .downcast::<T>()
            .expect("a write returns what it was asked for"))
    }

    /// Test and operator hook: runs raw SQL on the file (used by tests that corrupt a ledger
    /// on purpose to prove `verify` notices).
    pub async fn execute_raw(&self, sql: String) -> StoreResult<usize> {
        self.with_conn(move |c| c.execute(&sql, []).map_err(map_err))
            .await
    }
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

    /// One transaction: a webhook is one durable write.
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
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::schema::MIGRATIONS;
    use super::*;
    use crate::domain::{ContractId, Rating, Review, ReviewId, UserId};
    use crate::store::{Page, ReviewStore};

    fn review(contract: &ContractId) -> Review {
        Review {
            id: ReviewId::generate(),
            contract_id: contract.clone(),
            client_id: UserId::generate(),
            freelancer_id: UserId::generate(),
            rating: Rating::from_int(4).unwrap(),
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
        let mut conn = schema::open_connection(&path).unwrap();
        schema::migrate(&mut conn).unwrap();
        for (freelancer, page, after) in [("a", 0, i64::MAX), ("b", 20, i64::MAX), ("a", 0, 7)] {
            let mut stmt = conn.prepare_cached(reviews::REVIEWS_PAGE_SQL).unwrap();
            let rows = stmt
                .query_map(rusqlite::params![freelancer, 20, page, after, "r"], |_| {
                    Ok(())
                })
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

    /// What each migration after the first two added, undone.
    const UNDO: &[(i64, &str)] = &[
        (
            3,
            "DROP TRIGGER review_stats_insert; DROP TRIGGER review_stats_delete;
             DROP TRIGGER review_stats_update; DROP TABLE review_stats;",
        ),
        (4, "DROP TABLE counters;"),
        (
            5,
            "DROP INDEX contracts_number; ALTER TABLE contracts DROP COLUMN number;",
        ),
        (6, "DROP TABLE account_balances; DROP TABLE kind_balances;"),
        (7, "DROP TABLE sales_months;"),
        (
            8,
            "DROP TRIGGER list_counts_insert; DROP TRIGGER list_counts_escrow;
             DROP TRIGGER list_counts_completed; DROP TABLE list_counts;",
        ),
        (9, "DROP TABLE payouts; DROP TABLE connected_accounts;"),
        (10, "DROP TABLE timers;"),
        (
            11,
            "DROP INDEX contracts_disputes; ALTER TABLE contracts DROP COLUMN disputes;",
        ),
        (
            12,
            "DROP INDEX contracts_refund_failed; ALTER TABLE contracts DROP COLUMN refund_failed;",
        ),
    ];

    /// The kept rows every write moves are written once per batch: a write that fails after
    /// moving them drops its share with its savepoint, whatever else its batch carries.
    #[tokio::test]
    async fn a_failed_write_moves_no_kept_balance() {
        use crate::domain::{Account, Currency, LedgerEntry, MinorUnits, TransferKind};
        use crate::store::LedgerStore;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("t.db")).unwrap();
        let contract = ContractId::generate();
        let entry = |i: u32, account: Account, amount: i64| LedgerEntry {
            id: format!("{contract}:1:{i}"),
            transfer_id: format!("{contract}:1"),
            owner: contract.clone().into(),
            kind: TransferKind::Fund,
            account,
            amount: MinorUnits::new(amount),
            currency: Currency::Inr,
            at: 1,
        };
        let entries = vec![
            entry(0, Account::ExternalStripe, -500),
            entry(
                1,
                Account::Escrow(crate::domain::MilestoneRef::new(
                    contract.clone(),
                    crate::domain::MilestoneId::FIRST,
                )),
                500,
            ),
        ];
        let writes: Vec<_> = (0..8)
            .map(|i| {
                let (store, entries) = (store.clone(), entries.clone());
                tokio::spawn(async move {
                    store
                        .write(move |tx| {
                            kept::keep_balances(tx, &entries)?;
                            if i % 2 == 0 {
                                Err(StoreError::other("this write fails"))
                            } else {
                                Ok(())
                            }
                        })
                        .await
                })
            })
            .collect();
        let mut failed = 0;
        for w in writes {
            failed += w.await.unwrap().is_err() as i32;
        }
        assert_eq!(failed, 4);
        assert_eq!(
            store.escrow_held(Currency::Inr).await.unwrap(),
            MinorUnits::new(4 * 500),
            "four writes succeeded"
        );
        let kept = store.kept_balances().await.unwrap().unwrap();
        let stripe = kept
            .accounts
            .iter()
            .find(|a| a.0 == Account::ExternalStripe)
            .unwrap();
        assert_eq!((stripe.2, stripe.3), (MinorUnits::new(-4 * 500), 4));
    }

    /// Turns the file at `path` back into schema `version`, as an older binary left it.
    fn turn_back_to(path: &Path, version: i64) {
        assert_eq!(
            UNDO.last().map(|u| u.0),
            MIGRATIONS.last().map(|m| m.0),
            "a new migration needs its undo here"
        );
        let conn = Connection::open(path).unwrap();
        for (_, sql) in UNDO.iter().rev().filter(|u| u.0 > version) {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute(
            "DELETE FROM schema_migrations WHERE version > ?1",
            [version],
        )
        .unwrap();
    }

    /// Migration 5 gives the contracts a version-4 file already holds their number column, so
    /// their human ids find them (the file is turned back into version 4: migrations 5 to 7
    /// undone).
    #[tokio::test]
    async fn contract_numbers_are_backfilled_from_the_documents() {
        use crate::domain::{Contract, Currency, JobId, Money};
        use crate::store::ContractStore;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path).unwrap();
        let mut c = Contract::new(
            ContractId::generate(),
            JobId::generate(),
            UserId::generate(),
            UserId::generate(),
            Money::new(crate::domain::MinorUnits::new(100), Currency::Inr),
            None,
            1,
        )
        .unwrap();
        c.number = Some(store.next_contract_number().await.unwrap());
        store.insert_contract(&c).await.unwrap();
        drop(store);
        turn_back_to(&path, 4);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.contract_by_number(1).await.unwrap(), Some(c.id));
        assert_eq!(store.contract_by_number(2).await.unwrap(), None);
    }

    /// Migration 12 marks the contracts of a version-11 file whose refund failed at the
    /// provider, so `escrowctl refunds list --failed` finds them; the others are not marked.
    #[tokio::test]
    async fn failed_refunds_are_marked_from_the_documents() {
        use crate::domain::{MilestoneId, Party, RefundRef};
        use crate::store::{ContractFilter, ContractStore};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path).unwrap();
        let mut failed = crate::domain::contract::tests::funded();
        failed
            .decide_refund("admin", Party::Admin, "r", "", None, 11)
            .unwrap();
        let re = RefundRef::new("re_1");
        failed
            .refund_in_flight(MilestoneId::FIRST, &re, 12)
            .unwrap();
        failed
            .fail_refund(MilestoneId::FIRST, &re, "expired_or_canceled_card", 13)
            .unwrap();
        store.insert_contract(&failed).await.unwrap();
        store
            .insert_contract(&crate::domain::contract::tests::funded())
            .await
            .unwrap();
        drop(store);
        turn_back_to(&path, 11);
        let store = SqliteStore::open(&path).unwrap();
        let filter = ContractFilter {
            refund_failed: true,
            ..ContractFilter::default()
        };
        let (_, found) = store
            .list_contracts(&filter, &Page::new(1, 10))
            .await
            .unwrap();
        let ids: Vec<&ContractId> = found.iter().map(|c| &c.id).collect();
        assert_eq!(ids, vec![&failed.id]);
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
            r.rating = Rating::from_int(rating).unwrap();
            store.insert_review(&r).await.unwrap();
        }
        drop(store);
        // Turn the file back into version 2: no aggregate table, no triggers.
        turn_back_to(&path, 2);
        let store = SqliteStore::open(&path).unwrap();
        let page = store
            .reviews_for_freelancer(&freelancer, &Page::new(1, 2))
            .await
            .unwrap();
        assert_eq!(
            (page.count, page.rating_sum, page.reviews.len()),
            (3, 12, 2)
        );
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
        let page = store
            .reviews_for_freelancer(&freelancer, &Page::default())
            .await
            .unwrap();
        assert_eq!((page.count, page.rating_sum), (3, 3 + 4 + 1));
        let none = store
            .reviews_for_freelancer(&UserId::generate(), &Page::default())
            .await
            .unwrap();
        assert_eq!((none.count, none.rating_sum, none.reviews.len()), (0, 0, 0));
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
