//! Idempotency records in SQLite (semantics in `store::idempotency`): one row per
//! `(scope, key)`. Each operation is one write of the writer's transaction, so reading the row
//! and deciding what to do with it is atomic: of concurrent `begin`s for one key exactly one
//! sees no live row and starts.

use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, map_err};
use crate::store::StoreResult;
use crate::store::idempotency::{Begin, IDEMPOTENCY_RETENTION_MS, StoredResponse, check_args};

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

impl SqliteStore {
    pub(super) async fn idem_begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> StoreResult<Begin> {
        check_args(scope, key, lease_ms);
        let (scope, key, fingerprint, owner) = (
            scope.to_string(),
            key.to_string(),
            fingerprint.to_string(),
            owner.to_string(),
        );
        self.write(move |tx| {
            let lease_until = now_ms + lease_ms;
            let expires_at = now_ms + IDEMPOTENCY_RETENTION_MS;
            let row = read(tx, &scope, &key)?;
            match row {
                Some(r) if r.expires_at > now_ms => {
                    if r.fingerprint != fingerprint {
                        return Ok(Begin::Mismatch);
                    }
                    if r.done {
                        let status = r.status.and_then(|s| u16::try_from(s).ok());
                        let Some(status) = status else {
                            return Err(crate::store::StoreError::Other(
                                "an idempotency record is done without a status".into(),
                            ));
                        };
                        return Ok(Begin::Replay(StoredResponse {
                            status,
                            content_type: r.content_type,
                            body: r.body.unwrap_or_default(),
                        }));
                    }
                    if r.lease_until > now_ms {
                        return Ok(Begin::InFlight);
                    }
                    // The holder's lease ran out (its process died): take the key over.
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
                // No row, or a dead one: the key is free.
                _ => {
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

    pub(super) async fn idem_finish(
        &self,
        scope: &str,
        key: &str,
        owner: &str,
        response: &StoredResponse,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let (scope, key, owner, response) = (
            scope.to_string(),
            key.to_string(),
            owner.to_string(),
            response.clone(),
        );
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE idempotency_keys
                     SET state = 'done', status = ?4, content_type = ?5, body = ?6, expires_at = ?7
                     WHERE scope = ?1 AND idem_key = ?2 AND owner = ?3 AND state = 'in_flight'",
                    params![
                        scope,
                        key,
                        owner,
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

    pub(super) async fn idem_release(
        &self,
        scope: &str,
        key: &str,
        owner: &str,
    ) -> StoreResult<()> {
        let (scope, key, owner) = (scope.to_string(), key.to_string(), owner.to_string());
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM idempotency_keys
                 WHERE scope = ?1 AND idem_key = ?2 AND owner = ?3 AND state = 'in_flight'",
                params![scope, key, owner],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    pub(super) async fn idem_purge(&self, now_ms: i64) -> StoreResult<u64> {
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
