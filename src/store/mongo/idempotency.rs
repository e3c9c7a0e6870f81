//! Idempotency records in MongoDB (semantics in `store::idempotency`), collection
//! `idempotency_keys`: one document per `(scope, key)` with `_id` = `"<scope> <key>"`, so the
//! `_id` index makes the first `begin` for a key the only one whose insert succeeds (a
//! duplicate is code 11000). Every later decision is made on that one document: a takeover of
//! an expired lease or of a dead record is a compare-and-set whose filter names the `owner`
//! and `leaseUntil` (or `expiresAt`) that were read, so of two racers at most one wins and the
//! loser reads again. No transaction, only `insertOne`, `findOne`, `findOneAndReplace`,
//! `findOneAndUpdate`/`updateOne` with `$set` of strings, numbers and binary, and deletes:
//! what the emulator and every MongoDB deployment agree on. Times are i64 milliseconds.
//!
//! Sharding: the collection can be sharded on `_id` (every operation filters on it).

use async_trait::async_trait;
use bson::doc;
use bson::spec::BinarySubtype;
use mongodb::Collection;
use mongodb::IndexModel;
use serde::{Deserialize, Serialize};

use super::{MongoStore, is_duplicate_key, map_err};
use crate::store::idempotency::{
    Begin, Claim, Decision, Holder, IDEMPOTENCY_RETENTION_MS, Seen, StoredResponse, check_lease,
    decide, record_id, stored_response,
};
use crate::store::{IdempotencyStore, StoreError, StoreResult};

const IDEMPOTENCY_KEYS: &str = "idempotency_keys";
/// Reads and compare-and-sets one `begin` may need when other requests keep changing the
/// record between them (each lost race means another request made progress).
const BEGIN_ATTEMPTS_MAX: usize = 16;

const IN_FLIGHT: &str = "in_flight";
const DONE: &str = "done";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdempotencyDoc {
    #[serde(rename = "_id")]
    id: String,
    scope: String,
    key: String,
    fingerprint: String,
    /// Who holds the lease (a random token per request); changes at every takeover.
    owner: String,
    /// `in_flight` or `done`.
    state: String,
    lease_until: i64,
    /// After this the record is dead: the key is free again (and the purge deletes it).
    expires_at: i64,
    created_at: i64,
    #[serde(default)]
    status: Option<i32>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    body: Option<bson::Binary>,
}

impl IdempotencyDoc {
    fn seen(&self) -> Seen<'_> {
        Seen {
            fingerprint: &self.fingerprint,
            done: self.state == DONE,
            lease_until: self.lease_until,
            expires_at: self.expires_at,
        }
    }
}

impl MongoStore {
    fn idempotency_keys(&self) -> Collection<IdempotencyDoc> {
        super::durable_collection(&self.db, IDEMPOTENCY_KEYS)
    }

    pub(super) async fn create_idempotency_indexes(&self) -> StoreResult<()> {
        self.idempotency_keys()
            .create_index(IndexModel::builder().keys(doc! {"expiresAt": 1}).build())
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait]
impl IdempotencyStore for MongoStore {
    async fn idempotency_begin(&self, claim: &Claim<'_>) -> StoreResult<Begin> {
        let Claim {
            holder,
            fingerprint,
            now_ms,
            lease_ms,
        } = *claim;
        let (scope, key, owner) = (&holder.scope, &holder.key, holder.owner.as_str());
        check_lease(lease_ms);
        let keys = self.idempotency_keys();
        let id = record_id(holder);
        let fresh = IdempotencyDoc {
            id: id.clone(),
            scope: scope.to_string(),
            key: key.to_string(),
            fingerprint: fingerprint.into(),
            owner: owner.into(),
            state: IN_FLIGHT.into(),
            lease_until: now_ms + lease_ms,
            expires_at: now_ms + IDEMPOTENCY_RETENTION_MS,
            created_at: now_ms,
            status: None,
            content_type: None,
            body: None,
        };
        for _ in 0..BEGIN_ATTEMPTS_MAX {
            match keys.insert_one(&fresh).await {
                Ok(_) => return Ok(Begin::Started),
                Err(e) if is_duplicate_key(&e) => {}
                Err(e) => return Err(map_err(e)),
            }
            let Some(current) = keys.find_one(doc! {"_id": &id}).await.map_err(map_err)? else {
                // Released or purged since the insert failed: try the insert again.
                continue;
            };
            // Each compare-and-set below names what was read, so of two racers at most one
            // wins; the loser reads again.
            let won = match decide(Some(current.seen()), fingerprint, now_ms) {
                Decision::Mismatch => return Ok(Begin::Mismatch),
                Decision::InFlight => return Ok(Begin::InFlight),
                Decision::Replay => {
                    return stored_response(
                        current.status.map(i64::from),
                        current.content_type,
                        current.body.map(|b| b.bytes),
                    )
                    .map(Begin::Replay);
                }
                // Dead: replace it, if nobody else did first.
                Decision::Free => keys
                    .find_one_and_replace(
                        doc! {"_id": &id, "owner": &current.owner, "expiresAt": current.expires_at},
                        &fresh,
                    )
                    .await
                    .map_err(map_err)?
                    .is_some(),
                // The holder's lease ran out (its process died): take the key over.
                Decision::TakeOver => keys
                    .find_one_and_update(
                        doc! {"_id": &id, "owner": &current.owner, "state": IN_FLIGHT, "leaseUntil": current.lease_until},
                        doc! {"$set": {"owner": owner, "leaseUntil": fresh.lease_until, "expiresAt": fresh.expires_at}},
                    )
                    .await
                    .map_err(map_err)?
                    .is_some(),
            };
            if won {
                return Ok(Begin::Started);
            }
        }
        Err(StoreError::Conflict)
    }

    async fn idempotency_finish(
        &self,
        holder: &Holder,
        response: &StoredResponse,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let body = bson::Binary {
            subtype: BinarySubtype::Generic,
            bytes: response.body.clone(),
        };
        let content_type = match &response.content_type {
            Some(c) => bson::Bson::String(c.clone()),
            None => bson::Bson::Null,
        };
        let updated = self
            .idempotency_keys()
            .update_one(
                doc! {"_id": record_id(holder), "owner": &holder.owner, "state": IN_FLIGHT},
                doc! {"$set": {
                    "state": DONE,
                    "status": i32::from(response.status),
                    "contentType": content_type,
                    "body": body,
                    "expiresAt": now_ms + IDEMPOTENCY_RETENTION_MS,
                }},
            )
            .await
            .map_err(map_err)?;
        Ok(updated.matched_count == 1)
    }

    async fn idempotency_release(&self, holder: &Holder) -> StoreResult<()> {
        self.idempotency_keys()
            .delete_one(doc! {"_id": record_id(holder), "owner": &holder.owner, "state": IN_FLIGHT})
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn idempotency_purge(&self, now_ms: i64) -> StoreResult<u64> {
        self.idempotency_keys()
            .delete_many(doc! {"expiresAt": {"$lte": now_ms}})
            .await
            .map(|r| r.deleted_count)
            .map_err(map_err)
    }
}
