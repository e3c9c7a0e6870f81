//! Idempotency records in SQLite (semantics in `store::idempotency`): one row per
//! `(scope, key)`. Each operation is one write of the writer's transaction, so reading the row
//! and acting on [`decide`]'s verdict is atomic: of concurrent `begin`s for one key exactly one
//! sees no live row and starts.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, map_err};
use crate::store::idempotency::{
    Begin, Claim, Decision, Holder, IDEMPOTENCY_RETENTION_MS, Seen, StoredResponse, check_lease,
    decide, stored_response,
};
use crate::store::{IdempotencyStore, StoreResult};

/// Schema migration 2. `state` is `in_flight` (leased to `owner` until `lease_until`) or `done`
/// (`status`, `content_type`, `body` kept for replay). A row is dead once `expires_at` has
/// passed; the lease is always shorter than the retention, so a dead row's lease is over too.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    owner TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
    lease_until INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    status INTEGER,
    content_type TEXT,
    body BLOB,
    PRIMARY KEY (scope, idem_key)
) STRICT, WITHOUT ROWID;
CREATE INDEX idempotency_keys_expires ON idempotency_keys(expires_at);
"#;

struct Row {
    fingerprint: String,
    owner: String,
    done: bool,
    lease_until: i64,
    expires_at: i64,
    status: Option<i64>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
}

impl Row {
    fn seen(&self) -> Seen<'_> {
        Seen {
            fingerprint: &self.fingerprint,
            done: self.done,
            lease_until: self.lease_until,
            expires_at: self.expires_at,
        }
    }
}

fn read(tx: &Connection, scope: &str, key: &str) -> StoreResult<Option<Row>> {
    tx.query_row(
        "SELECT fingerprint, owner, state, lease_until, expires_at, status, content_type, body
         FROM idempotency_keys WHERE scope = ?1 AND idem_key = ?2",
        params![scope, key],
        |r| {
            Ok(Row {
                fingerprint: r.get(0)?,
                owner: r.get(1)?,
                done: r.get::<_, String>(2)? == "done",
                lease_until: r.get(3)?,
                expires_at: r.get(4)?,
                status: r.get(5)?,
                content_type: r.get(6)?,
                body: r.get(7)?,
            })
        },
    )
    .optional()
    .map_err(map_err)
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn idempotency_begin(&self, claim: &Claim<'_>) -> StoreResult<Begin> {
        check_lease(claim.lease_ms);
        let (now_ms, lease_ms) = (claim.now_ms, claim.lease_ms);
        let (scope, key, fingerprint, owner) = (
            claim.holder.scope.to_string(),
            claim.holder.key.to_string(),
            claim.fingerprint.to_string(),
            claim.holder.owner.clone(),
        );
        self.write(move |tx| {
            let lease_until = now_ms + lease_ms;
            let expires_at = now_ms + IDEMPOTENCY_RETENTION_MS;
            let row = read(tx, &scope, &key)?;
            match decide(row.as_ref().map(Row::seen), &fingerprint, now_ms) {
                Decision::Mismatch => Ok(Begin::Mismatch),
                Decision::InFlight => Ok(Begin::InFlight),
                Decision::Replay => {
                    let r = row.expect("a replay has a row");
                    stored_response(r.status, r.content_type, r.body).map(Begin::Replay)
                }
                Decision::TakeOver => {
                    let r = row.expect("a takeover has a row");
                    let n = tx
                        .execute(
                            "UPDATE idempotency_keys SET owner = ?3, lease_until = ?4, expires_at = ?5
                             WHERE scope = ?1 AND idem_key = ?2 AND owner = ?6 AND state = 'in_flight'",
                            params![scope, key, owner, lease_until, expires_at, r.owner],
                        )
                        .map_err(map_err)?;
                    assert_eq!(n, 1, "the row read in this transaction is still there");
                    Ok(Begin::Started)
                }
                Decision::Free => {
                    tx.execute(
                        "INSERT OR REPLACE INTO idempotency_keys
                            (scope, idem_key, fingerprint, owner, state, lease_until, expires_at, created_at, status, content_type, body)
                         VALUES (?1, ?2, ?3, ?4, 'in_flight', ?5, ?6, ?7, NULL, NULL, NULL)",
                        params![scope, key, fingerprint, owner, lease_until, expires_at, now_ms],
                    )
                    .map_err(map_err)?;
                    Ok(Begin::Started)
                }
            }
        })
        .await
    }

    async fn idempotency_finish(
        &self,
        holder: &Holder,
        response: &StoredResponse,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let (h, response) = (holder.clone(), response.clone());
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE idempotency_keys
                     SET state = 'done', status = ?4, content_type = ?5, body = ?6, expires_at = ?7
                     WHERE scope = ?1 AND idem_key = ?2 AND owner = ?3 AND state = 'in_flight'",
                    params![
                        h.scope.as_str(),
                        h.key.as_str(),
                        h.owner,
                        response.status,
                        response.content_type,
                        response.body,
                        now_ms + IDEMPOTENCY_RETENTION_MS
                    ],
                )
                .map_err(map_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn idempotency_release(&self, holder: &Holder) -> StoreResult<()> {
        let h = holder.clone();
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM idempotency_keys
                 WHERE scope = ?1 AND idem_key = ?2 AND owner = ?3 AND state = 'in_flight'",
                params![h.scope.as_str(), h.key.as_str(), h.owner],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn idempotency_purge(&self, now_ms: i64) -> StoreResult<u64> {
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM idempotency_keys WHERE expires_at <= ?1",
                [now_ms],
            )
            .map(|n| n as u64)
            .map_err(map_err)
        })
        .await
    }
}
