//! Idempotency records: what the store keeps for an `Idempotency-Key` (Stripe's semantics; the
//! HTTP side is `http::idempotency`).
//!
//! A record is identified by `(scope, key)`: the scope is the caller (one user's keys never meet
//! another's), the key is the client's. It is either **in flight** (a request holding a lease
//! is executing it) or **done** (its final response is kept for replay). Every record carries a
//! fingerprint of the request that created it, so the same key sent with another request is
//! recognised. What a record found by `begin` means is decided once, by [`decide`], for both
//! backends; each applies the decision atomically: SQLite in one write transaction, MongoDB
//! within one document (insert with `_id` = scope and key; a takeover is a compare-and-set on
//! the lease owner).
//!
//! Time is passed in (`now_ms`), never read here, so expiry and lease takeover are testable
//! with an injected clock.

use std::fmt;

use super::{StoreError, StoreResult};
use crate::domain::IdempotencyKey;

/// How long a record is kept after it was written: a retry within this window is answered
/// from the record; after it, the key is free again (Stripe keeps keys for 24 hours).
pub const IDEMPOTENCY_RETENTION_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest scope (the caller's identity), in bytes.
pub const IDEMPOTENCY_SCOPE_BYTES_MAX: usize = 64;
/// Largest response body a record keeps; larger responses are not stored.
pub const IDEMPOTENCY_BODY_BYTES_MAX: usize = 1024 * 1024;

/// Whose keys a record belongs to: 1 to [`IDEMPOTENCY_SCOPE_BYTES_MAX`] visible ASCII
/// characters. Neither a scope nor a key contains a space, so `"<scope> <key>"` names a record
/// unambiguously.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope(String);

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        ((1..=IDEMPOTENCY_SCOPE_BYTES_MAX).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| Scope(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A record, as the request that holds (or asks for) it names it: the caller's scope, the key,
/// and `owner`, a random token per request that tells its lease from any other's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub scope: Scope,
    pub key: IdempotencyKey,
    pub owner: String,
}

/// A request asking for a key: record it as in flight with `fingerprint`, leased to the
/// holder until `now_ms + lease_ms`, unless a live record decides otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub holder: &'a Holder,
    /// What identifies the request (its method, path and body).
    pub fingerprint: &'a str,
    pub now_ms: i64,
    pub lease_ms: i64,
}

/// A final response, kept to be replayed byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// What [`crate::store::IdempotencyStore::idempotency_begin`] found.
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

/// A stored record, as far as [`decide`] needs to see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen<'a> {
    pub fingerprint: &'a str,
    pub done: bool,
    pub lease_until: i64,
    pub expires_at: i64,
}

/// What `begin` does about the record it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// No record, or a dead one (expired): write a fresh in-flight record.
    Free,
    /// The key belongs to another request.
    Mismatch,
    /// Done: replay its response.
    Replay,
    /// Its holder is still running it.
    InFlight,
    /// Its holder's lease ran out (the process died): take the lease over.
    TakeOver,
}

/// The one rule both backends apply to the record a `begin` found at `now_ms`.
pub fn decide(seen: Option<Seen<'_>>, fingerprint: &str, now_ms: i64) -> Decision {
    match seen {
        None => Decision::Free,
        Some(s) if s.expires_at <= now_ms => Decision::Free,
        Some(s) if s.fingerprint != fingerprint => Decision::Mismatch,
        Some(s) if s.done => Decision::Replay,
        Some(s) if s.lease_until > now_ms => Decision::InFlight,
        Some(_) => Decision::TakeOver,
    }
}

/// The response of a done record, from its stored columns.
pub(crate) fn stored_response(
    status: Option<i64>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
) -> StoreResult<StoredResponse> {
    let status = status
        .and_then(|s| u16::try_from(s).ok())
        .ok_or_else(|| StoreError::other("an idempotency record is done without a status"))?;
    Ok(StoredResponse {
        status,
        content_type,
        body: body.unwrap_or_default(),
    })
}

/// Checks the lease every backend's `idempotency_begin` receives (a caller bug, not a client
/// error).
pub(crate) fn check_lease(lease_ms: i64) {
    assert!(
        lease_ms > 0 && lease_ms < IDEMPOTENCY_RETENTION_MS,
        "a lease ({lease_ms} ms) must be positive and shorter than the retention"
    );
}

/// The record's name in a single-key store (MongoDB's `_id`).
#[cfg(feature = "mongodb")]
pub(crate) fn record_id(holder: &Holder) -> String {
    format!("{} {}", holder.scope, holder.key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_found_record_decides_by_expiry_fingerprint_state_and_lease() {
        let seen = |done, lease_until, expires_at| Seen {
            fingerprint: "f",
            done,
            lease_until,
            expires_at,
        };
        assert_eq!(decide(None, "f", 10), Decision::Free);
        assert_eq!(decide(Some(seen(true, 5, 10)), "g", 10), Decision::Free);
        assert_eq!(decide(Some(seen(true, 5, 11)), "g", 10), Decision::Mismatch);
        assert_eq!(decide(Some(seen(true, 5, 11)), "f", 10), Decision::Replay);
        assert_eq!(
            decide(Some(seen(false, 11, 20)), "f", 10),
            Decision::InFlight
        );
        assert_eq!(
            decide(Some(seen(false, 10, 20)), "f", 10),
            Decision::TakeOver
        );
    }

    #[test]
    fn scopes_are_short_visible_ascii() {
        assert!(Scope::parse("user:64b000000000000000000001").is_some());
        assert!(Scope::parse("").is_none());
        assert!(Scope::parse("a b").is_none());
        assert!(Scope::parse(&"s".repeat(IDEMPOTENCY_SCOPE_BYTES_MAX + 1)).is_none());
    }
}
