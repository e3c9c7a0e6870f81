//! Idempotency records: what the store keeps for an `Idempotency-Key` (Stripe's semantics; the
//! HTTP side is `http::idempotency`).
//!
//! A record is identified by `(scope, key)`: the scope is the caller (one user's keys never meet
//! another's), the key is the client's. It is either **in flight** (a request holding a lease
//! is executing it) or **done** (its final response is kept for replay). Every record carries a
//! fingerprint of the request that created it, so the same key sent with another request is
//! recognised. Both backends decide [`Begin`] atomically: SQLite in one write transaction,
//! MongoDB within one document (insert with `_id` = scope and key; a takeover is a
//! compare-and-set on the lease owner).
//!
//! Time is passed in (`now_ms`), never read here, so expiry and lease takeover are testable
//! with an injected clock.

/// How long a record is kept after it was written: a retry within this window is answered
/// from the record; after it, the key is free again (Stripe keeps keys for 24 hours).
pub const IDEMPOTENCY_RETENTION_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest key accepted, in bytes (visible ASCII only, so bytes are characters).
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 255;
/// Longest scope (the caller's identity), in bytes.
pub const IDEMPOTENCY_SCOPE_BYTES_MAX: usize = 64;
/// Largest response body a record keeps; larger responses are not stored.
pub const IDEMPOTENCY_BODY_BYTES_MAX: usize = 1024 * 1024;

/// A final response, kept to be replayed byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// What [`crate::store::Store::idempotency_begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// The caller now holds the key's lease and must execute the request, then call
    /// `idempotency_finish` (response kept) or `idempotency_release` (nothing kept). Either a
    /// new key, an expired record, or an in-flight record whose lease ran out (its process
    /// died) taken over.
    Started,
    /// The first request with this key and this fingerprint is still executing.
    InFlight,
    /// The first request finished: here is its response.
    Replay(StoredResponse),
    /// The key was first used with a different request.
    Mismatch,
}

/// Whether `key` is a usable idempotency key: 1 to [`IDEMPOTENCY_KEY_BYTES_MAX`] visible ASCII
/// characters (no spaces, no control characters).
pub fn valid_key(key: &str) -> bool {
    (1..=IDEMPOTENCY_KEY_BYTES_MAX).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether `scope` is a usable scope: like a key, at most [`IDEMPOTENCY_SCOPE_BYTES_MAX`].
/// Neither contains a space, so `"<scope> <key>"` names a record unambiguously.
pub fn valid_scope(scope: &str) -> bool {
    (1..=IDEMPOTENCY_SCOPE_BYTES_MAX).contains(&scope.len())
        && scope.bytes().all(|b| b.is_ascii_graphic())
}

/// Checks the arguments every backend's `idempotency_*` method receives (a caller bug, not a
/// client error: the HTTP layer validates keys before it gets here).
pub(crate) fn check_args(scope: &str, key: &str, lease_ms: i64) {
    assert!(valid_scope(scope), "bad idempotency scope {scope:?}");
    assert!(
        valid_key(key),
        "bad idempotency key (validated at the edge)"
    );
    assert!(
        lease_ms > 0 && lease_ms < IDEMPOTENCY_RETENTION_MS,
        "a lease ({lease_ms} ms) must be positive and shorter than the retention"
    );
}

/// The record's name in a single-key store (MongoDB's `_id`).
#[cfg(feature = "mongodb")]
pub(crate) fn record_id(scope: &str, key: &str) -> String {
    format!("{scope} {key}")
}
