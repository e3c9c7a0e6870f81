//! Webhook deliveries (`webhook_events`), deduplicated by the event id primary key.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{EVENT_COLUMNS, event_from_row};
use super::{SqliteStore, map_err};
use crate::domain::EventId;
use crate::store::{EventRecord, EventStore, Page, StoreResult, WebhookEvent};

/// The upsert of [`EventStore::settle_event`], inside a write (also the event half of a
/// webhook's one transaction).
pub(super) fn upsert_event(tx: &Connection, e: &WebhookEvent) -> StoreResult<()> {
    tx.prepare_cached(&format!(
        "INSERT INTO webhook_events ({EVENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(event_id) DO UPDATE SET status = excluded.status, error = excluded.error,
            contract_id = COALESCE(excluded.contract_id, contract_id),
            updated_at = excluded.updated_at, deliveries = deliveries + 1"
    ))
    .and_then(|mut s| {
        s.execute(params![
            e.event_id.as_str(),
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

#[async_trait]
impl EventStore for SqliteStore {
    async fn find_event(&self, event_id: &EventId) -> StoreResult<Option<WebhookEvent>> {
        self.read_now(|c| {
            c.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM webhook_events WHERE event_id = ?1"
            ))
            .and_then(|mut s| s.query_row([event_id.as_str()], event_from_row).optional())
            .map_err(map_err)
        })
    }

    async fn record_event(&self, event: &WebhookEvent) -> StoreResult<EventRecord> {
        let e = event.clone();
        self.write(move |tx| {
            let id = e.event_id.as_str();
            let inserted = tx
                .execute(
                    &format!("INSERT OR IGNORE INTO webhook_events ({EVENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                    params![id, e.event_type, e.status.as_str(), e.error, e.contract_id, e.received_at, e.updated_at, e.deliveries],
                )
                .map_err(map_err)?;
            if inserted == 1 {
                return Ok(EventRecord::New);
            }
            tx.execute("UPDATE webhook_events SET deliveries = deliveries + 1 WHERE event_id = ?1", [id]).map_err(map_err)?;
            let seen = tx
                .query_row(&format!("SELECT {EVENT_COLUMNS} FROM webhook_events WHERE event_id = ?1"), [id], event_from_row)
                .map_err(map_err)?;
            Ok(EventRecord::Seen(seen))
        })
        .await
    }

    async fn settle_event(&self, event: &WebhookEvent) -> StoreResult<()> {
        let e = event.clone();
        self.write(move |tx| upsert_event(tx, &e)).await
    }

    async fn list_events(&self, failed_only: bool, page: &Page) -> StoreResult<Vec<WebhookEvent>> {
        let (limit, offset) = (page.limit, page.offset() as i64);
        let (after_at, after_id) = super::rows::keyset(page);
        self.with_conn(move |c| {
            let failed = if failed_only { "status = 'failed' AND " } else { "" };
            let keyset = super::rows::keyset_sql("received_at", "event_id", 3, 4);
            let mut stmt = c
                .prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM webhook_events WHERE {failed}{keyset} ORDER BY received_at DESC, event_id DESC LIMIT ?1 OFFSET ?2"))
                .map_err(map_err)?;
            let rows = stmt.query_map(params![limit, offset, after_at, after_id], event_from_row).map_err(map_err)?.collect::<Result<Vec<_>, _>>().map_err(map_err)?;
            Ok(rows)
        })
        .await
    }
}
