//! Durable timers (`timers`): `_id` is the timer's id, the record in `record`, `dueAt`,
//! `leaseUntil` and `done` (0/1, a number as the emulator keeps booleans) beside it for the
//! claimable index. A claim is a compare-and-set of each candidate on the `leaseUntil` it was
//! read with: of two servers reading one candidate, one replaces it and the other misses.

use async_trait::async_trait;
use bson::{Document, doc};
use serde::{Deserialize, Serialize};

use super::{MongoStore, collect, is_duplicate_key, map_err};
use crate::domain::Timer;
use crate::store::{StoreError, StoreResult, TimerStore};

pub(super) const TIMERS: &str = "timers";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TimerDoc {
    #[serde(rename = "_id")]
    id: String,
    due_at: i64,
    lease_until: i64,
    done: i64,
    record: Timer,
}

impl TimerDoc {
    fn new(t: &Timer) -> TimerDoc {
        TimerDoc {
            id: t.id.clone(),
            due_at: t.due_at,
            lease_until: t.lease_until,
            done: t.done_at.is_some() as i64,
            record: t.clone(),
        }
    }
}

impl MongoStore {
    pub(super) async fn create_timer_indexes(&self) -> StoreResult<()> {
        self.timers
            .create_indexes([mongodb::IndexModel::builder()
                .keys(doc! {"done": 1, "dueAt": 1})
                .build()])
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Replaces the timer's document if its `leaseUntil` is still `lease_until`; whether it was.
    async fn cas_timer(&self, t: &Timer, lease_until: i64) -> StoreResult<bool> {
        let next = bson::to_document(&TimerDoc::new(t))
            .map_err(|e| StoreError::other_from("cannot encode a timer", e))?;
        Ok(self
            .timers
            .clone_with_type::<Document>()
            .find_one_and_replace(doc! {"_id": &t.id, "leaseUntil": lease_until}, next)
            .projection(doc! {"_id": 1})
            .await
            .map_err(map_err)?
            .is_some())
    }

    async fn timer(&self, id: &str) -> StoreResult<Option<Timer>> {
        Ok(self
            .timers
            .find_one(doc! {"_id": id})
            .await
            .map_err(map_err)?
            .map(|d| d.record))
    }
}

/// How many times an update re-reads after losing a compare-and-set.
const CAS_TRIES: usize = 32;

#[async_trait]
impl TimerStore for MongoStore {
    async fn schedule_timer(&self, timer: &Timer) -> StoreResult<bool> {
        match self.timers.insert_one(TimerDoc::new(timer)).await {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(map_err(e)),
        }
    }

    async fn claim_timers(
        &self,
        now: i64,
        holder: &str,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Timer>> {
        let candidates = collect(
            self.timers
                .find(doc! {"done": 0_i64, "dueAt": {"$lte": now}, "leaseUntil": {"$lte": now}})
                .sort(doc! {"dueAt": 1, "_id": 1})
                .limit(limit.into())
                .await
                .map_err(map_err)?,
        )
        .await?;
        let mut claimed = vec![];
        for d in candidates {
            let mut t = d.record;
            t.holder = Some(holder.to_string());
            t.lease_until = now + lease_ms;
            if self.cas_timer(&t, d.lease_until).await? {
                claimed.push(t);
            }
        }
        Ok(claimed)
    }

    async fn finish_timer(&self, id: &str, now: i64) -> StoreResult<()> {
        for _ in 0..CAS_TRIES {
            let Some(mut t) = self.timer(id).await? else {
                return Ok(());
            };
            if t.done_at.is_some() {
                return Ok(());
            }
            let read = t.lease_until;
            t.done_at = Some(now);
            t.holder = None;
            t.lease_until = 0;
            if self.cas_timer(&t, read).await? {
                return Ok(());
            }
        }
        Err(StoreError::Conflict)
    }

    async fn defer_timer(
        &self,
        id: &str,
        holder: &str,
        due_at: i64,
        error: &str,
    ) -> StoreResult<()> {
        let Some(mut t) = self.timer(id).await? else {
            return Ok(());
        };
        if t.done_at.is_some() || t.holder.as_deref() != Some(holder) {
            return Ok(());
        }
        let read = t.lease_until;
        t.holder = None;
        t.lease_until = 0;
        t.due_at = due_at;
        t.attempts += 1;
        t.last_error = Some(error.chars().take(500).collect());
        // Lost: someone else claimed it after this holder's lease ran out; theirs now.
        self.cas_timer(&t, read).await.map(|_| ())
    }

    async fn get_timer(&self, id: &str) -> StoreResult<Option<Timer>> {
        self.timer(id).await
    }

    async fn list_timers(&self, due_by: Option<i64>, limit: u32) -> StoreResult<Vec<Timer>> {
        let mut filter = doc! {"done": 0_i64};
        if let Some(by) = due_by {
            filter.insert("dueAt", doc! {"$lte": by});
        }
        Ok(collect(
            self.timers
                .find(filter)
                .sort(doc! {"dueAt": 1, "_id": 1})
                .limit(limit.into())
                .await
                .map_err(map_err)?,
        )
        .await?
        .into_iter()
        .map(|d| d.record)
        .collect())
    }
}
