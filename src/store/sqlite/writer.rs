//! Group commit. Writes do not each pay for their own fsync: they go to one writer thread that
//! drains its queue into a batch, runs each write inside its own SAVEPOINT of one IMMEDIATE
//! transaction, and commits the batch with a single durable commit. A write is acknowledged
//! only after its batch's commit returned, so nothing acknowledged can be lost; a write that
//! fails rolls back to its savepoint and fails alone; a failed commit fails exactly that
//! batch's writes.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::map_err;
use crate::store::{StoreError, StoreResult};

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

pub(super) type WriteResult = StoreResult<Box<dyn Any + Send>>;

/// One write: runs inside its own savepoint of the writer's transaction.
pub(super) struct WriteJob {
    pub(super) run: Box<dyn FnOnce(&Connection) -> WriteResult + Send>,
    pub(super) reply: tokio::sync::oneshot::Sender<WriteResult>,
}

/// Starts the writer thread on `conn`; returns its queue.
pub(super) fn start(
    conn: Connection,
    options: SqliteOptions,
    commits: Arc<AtomicU64>,
) -> StoreResult<mpsc::Sender<WriteJob>> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("escrow-sqlite-writer".into())
        .spawn(move || writer_loop(conn, rx, options, commits))
        .map_err(|e| StoreError::other_from("cannot start the writer thread", e))?;
    Ok(tx)
}

/// The writer thread: drains the queue into batches and commits each batch once.
fn writer_loop(
    mut conn: Connection,
    jobs: mpsc::Receiver<WriteJob>,
    options: SqliteOptions,
    commits: Arc<AtomicU64>,
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
        super::kept::batch_started();
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
                        .unwrap_or_else(|_| Err(StoreError::other("a storage write panicked")));
                if outcome.is_err() {
                    run("ROLLBACK TO write")?;
                }
                run("RELEASE write")?;
                super::kept::write_ended(outcome.is_ok());
                results.push(outcome);
            }
            super::kept::batch_committing(&tx)?;
            if !options.commit_delay.is_zero() {
                std::thread::sleep(options.commit_delay);
            }
            tx.commit().map_err(map_err)
        })();
        match committed {
            Ok(()) => {
                commits.fetch_add(1, Ordering::Relaxed);
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                // Nothing of this batch is durable: every write in it fails.
                let text = e.to_string();
                let unavailable = matches!(e, StoreError::Unavailable { .. });
                for reply in replies {
                    let _ = reply.send(Err(if unavailable {
                        StoreError::unavailable(format!("commit failed: {text}"))
                    } else {
                        StoreError::other(format!("commit failed: {text}"))
                    }));
                }
            }
        }
    }
}
