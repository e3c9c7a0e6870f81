//! Webhook deliveries (`webhook_events`): `_id` is the provider's event id, so the `_id`
//! index deduplicates them (a second insert is error 11000).

use async_trait::async_trait;
use bson::{Bson, doc};
use mongodb::options::ReturnDocument;

use super::docs::EventDoc;
use super::{MongoStore, collect, is_duplicate_key, map_err};
use crate::domain::EventId;
use crate::store::{
    EventRecord, EventStatus, EventStore, Page, StoreError, StoreResult, WebhookEvent,
};

#[async_trait]
impl EventStore for MongoStore {
    async fn record_event(&self, event: &WebhookEvent) -> StoreResult<EventRecord> {
        match self.events.insert_one(EventDoc::from(event)).await {
            Ok(_) => return Ok(EventRecord::New),
            Err(e) if is_duplicate_key(&e) => {}
            Err(e) => return Err(map_err(e)),
        }
        let seen = self
            .events
            .find_one_and_update(
                doc! {"_id": event.event_id.as_str()},
                doc! {"$inc": {"deliveries": 1_i64}},
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(map_err)?
            .ok_or_else(|| {
                StoreError::other(format!("event {} vanished while recorded", event.event_id))
            })?;
        Ok(EventRecord::Seen(seen.into()))
    }

    async fn find_event(&self, event_id: &EventId) -> StoreResult<Option<WebhookEvent>> {
        Ok(self
            .events
            .find_one(doc! {"_id": event_id.as_str()})
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
                doc! {"_id": event.event_id.as_str()},
                doc! {"$set": set, "$inc": {"deliveries": 1_i64}},
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn list_events(&self, failed_only: bool, page: &Page) -> StoreResult<Vec<WebhookEvent>> {
        let filter = if failed_only {
            doc! {"status": EventStatus::Failed.as_str()}
        } else {
            doc! {}
        };
        let cursor = self
            .events
            .find(super::keyset_filter(filter, "receivedAt", page))
            .sort(doc! {"receivedAt": -1, "_id": -1})
            .skip(page.offset())
            .limit(page.limit.into())
            .await
            .map_err(map_err)?;
        Ok(collect(cursor).await?.into_iter().map(Into::into).collect())
    }
}
