//! Durable timers. A claim is one write of the writer (an `IMMEDIATE` transaction, so other
//! processes on the file wait for it too): the claimable rows are read and leased in the same
//! transaction, so no two callers claim one timer.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::corrupt;
use super::{SqliteStore, map_err};
use crate::domain::Timer;
use crate::store::{StoreError, StoreResult, TimerStore};

fn timer_doc(t: &Timer) -> StoreResult<String> {
    serde_json::to_string(t).map_err(|e| StoreError::other_from("cannot encode a timer", e))
}

fn timer_from_doc(doc: &str) -> StoreResult<Timer> {
    serde_json::from_str(doc).map_err(|e| corrupt("timer document", e))
}

fn read(tx: &Connection, id: &str) -> StoreResult<Option<Timer>> {
    let doc: Option<String> = tx
        .prepare_cached("SELECT doc FROM timers WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .map_err(map_err)?;
    doc.as_deref().map(timer_from_doc).transpose()
}

fn write(tx: &Connection, t: &Timer) -> StoreResult<()> {
    tx.prepare_cached(
        "UPDATE timers SET due_at = ?2, lease_until = ?3, done = ?4, doc = ?5 WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            t.id,
            t.due_at,
            t.lease_until,
            t.done_at.is_some() as i64,
            timer_doc(t).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?
        ])
    })
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl TimerStore for SqliteStore {
    async fn schedule_timer(&self, timer: &Timer) -> StoreResult<bool> {
        let t = timer.clone();
        let doc = timer_doc(&t)?;
        self.write(move |tx| {
            let n = tx
                .prepare_cached(
                    "INSERT INTO timers (id, due_at, lease_until, done, doc) VALUES (?1, ?2, ?3, 0, ?4)
                     ON CONFLICT (id) DO NOTHING",
                )
                .and_then(|mut s| s.execute(params![t.id, t.due_at, t.lease_until, doc]))
                .map_err(map_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn claim_timers(
        &self,
        now: i64,
        holder: &str,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Timer>> {
        let holder = holder.to_string();
        self.write(move |tx| {
            let docs: Vec<String> = tx
                .prepare_cached(
                    "SELECT doc FROM timers WHERE done = 0 AND due_at <= ?1 AND lease_until <= ?1
                     ORDER BY due_at, id LIMIT ?2",
                )
                .and_then(|mut s| {
                    s.query_map(params![now, limit], |r| r.get(0))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(map_err)?;
            let mut claimed = Vec::with_capacity(docs.len());
            for doc in docs {
                let mut t = timer_from_doc(&doc)?;
                t.holder = Some(holder.clone());
                t.lease_until = now + lease_ms;
                write(tx, &t)?;
                claimed.push(t);
            }
            Ok(claimed)
        })
        .await
    }

    async fn finish_timer(&self, id: &str, now: i64) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |tx| {
            let Some(mut t) = read(tx, &id)? else {
                return Ok(());
            };
            if t.done_at.is_some() {
                return Ok(());
            }
            t.done_at = Some(now);
            t.holder = None;
            t.lease_until = 0;
            write(tx, &t)
        })
        .await
    }

    async fn defer_timer(
        &self,
        id: &str,
        holder: &str,
        due_at: i64,
        error: &str,
    ) -> StoreResult<()> {
        let (id, holder, error) = (id.to_string(), holder.to_string(), error.to_string());
        self.write(move |tx| {
            let Some(mut t) = read(tx, &id)? else {
                return Ok(());
            };
            if t.done_at.is_some() || t.holder.as_deref() != Some(holder.as_str()) {
                return Ok(());
            }
            t.holder = None;
            t.lease_until = 0;
            t.due_at = due_at;
            t.attempts += 1;
            t.last_error = Some(error.chars().take(500).collect());
            write(tx, &t)
        })
        .await
    }

    async fn get_timer(&self, id: &str) -> StoreResult<Option<Timer>> {
        let id = id.to_string();
        let doc: Option<String> = self.read_now(|c| {
            c.prepare_cached("SELECT doc FROM timers WHERE id = ?1")
                .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
                .map_err(map_err)
        })?;
        doc.as_deref().map(timer_from_doc).transpose()
    }

    async fn list_timers(&self, due_by: Option<i64>, limit: u32) -> StoreResult<Vec<Timer>> {
        let due_by = due_by.unwrap_or(i64::MAX);
        let docs: Vec<String> = self
            .with_conn(move |c| {
                c.prepare_cached(
                    "SELECT doc FROM timers WHERE done = 0 AND due_at <= ?1 ORDER BY due_at, id LIMIT ?2",
                )
                .and_then(|mut s| {
                    s.query_map(params![due_by, limit], |r| r.get(0))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(map_err)
            })
            .await?;
        docs.iter().map(|d| timer_from_doc(d)).collect()
    }
}
