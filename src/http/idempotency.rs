//! `Idempotency-Key` on every POST, PUT and PATCH under `/api/`, with Stripe's semantics, as
//! one middleware: handlers never see it.
//!
//! - A key is 1 to 255 visible ASCII characters (else 400 `idempotency.invalid_key`). It is
//!   scoped to the caller: the user id of a valid bearer token, or one fixed scope for calls
//!   without an `Authorization` header. A request whose token is invalid passes through
//!   without idempotency (the handler answers 401, which is never stored).
//! - The first request with a key is recorded in flight with a fingerprint of the request
//!   (SHA-256 of the method, the path with its query and the raw body), executed, and its final
//!   response (status, body, content type) kept for 24 hours. A retry with the same key and
//!   fingerprint gets that response byte for byte, with `Idempotent-Replayed: true`; with
//!   another fingerprint 422 `idempotency.mismatch`; while the first is still executing 409
//!   `idempotency.in_flight`. Neither of those two answers is stored.
//! - Uploads (`multipart/form-data`, up to 100 MB) are streamed to media storage, never
//!   buffered, so their fingerprint is the method, the path, the media type without its
//!   `boundary` parameter (clients pick a new random boundary on every try) and the
//!   `Content-Length`: a different file of exactly the same length under the same key is
//!   replayed rather than refused. Hashing the body as it streams would only be known after the
//!   upload had been executed, too late to refuse it.
//!
//! # What is stored
//!
//! Stripe saves a result once the endpoint started executing, and saves nothing when the
//! request failed validation or conflicted with a concurrent one. Here, likewise:
//! - **stored**: 2xx, and 403, 404, 409: decisions taken against the current state, which a
//!   retry must get again rather than have re-decided (a retried refund must not be answered
//!   "already refunded" when it was this very request that refunded);
//! - **not stored** (the record is deleted, so a retry with the same key executes afresh):
//!   400, 401, 405, 408, 413, 415, 422, 429 (rejected before anything executed: the client
//!   may correct the request and retry with the same key); the transient 409s
//!   `conflict.concurrent` and `conflict.busy` (lost races, "try again"); and every **5xx**.
//!   A 503 `payment.unavailable` says "kept and retried": the refund is recorded and the
//!   provider call will be retried, and a client that retries must learn the outcome rather
//!   than see the outage replayed for 24 hours. Re-executing is safe because every operation
//!   is itself idempotent: money moves only by compare-and-set transitions of the contract's
//!   state, and provider calls carry their own idempotency keys;
//! - a response whose body is larger than 1 MiB (none of the API's are) is not stored.
//!
//! # Crashes and cancellation
//!
//! The in-flight record is leased for longer than the route's own timeout (the request is cut
//! off before its lease can run out). When the process dies mid-request, the lease runs out
//! and the next retry takes the key over and executes. Its handler gets the request's
//! [`RequestTag`] (the same for every try): a contract the first try changed keeps that tag
//! in the same atomic write as the change, so the retry is recognised and answered as the
//! first try would have been, although the response the first try would have kept was lost. When the request is cancelled instead
//! (the client went away, the route timed out), the lease is released at once, even when the
//! cancellation came while the record was still being written (the lease exists before the
//! write starts, and a cancelled request's release is repeated a moment later in case a write
//! already on its way to a remote store lands after the first).
//!
//! # Not covered
//!
//! `/webhook` is Stripe's: events are authenticated by their signature, not by a caller, and
//! already deduplicated by event id, with a stored but unapplied event applied again on
//! redelivery; a stored response would replace that repair with a replay. The `/sandbox`
//! pages are posted by a browser form, which sends no headers of its own. GET requests are
//! idempotent by nature.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::{ApiError, error};
use crate::auth::bearer;
use crate::domain::{IdempotencyKey, RequestTag, UserId};
use crate::service::ErrorCode;
use crate::store::idempotency::{IDEMPOTENCY_BODY_BYTES_MAX, IDEMPOTENCY_RETENTION_MS};
use crate::store::{Begin, Claim, Holder, IdempotencyStore, Scope, StoredResponse};

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set to `true` on a replayed response.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The scope of calls without an `Authorization` header.
pub const ANONYMOUS_SCOPE: &str = "anonymous";
/// A lease lasts this much longer than the route's timeout.
const LEASE_MARGIN_S: u64 = 30;
/// The shortest lease.
const LEASE_MIN_S: u64 = 60;

/// How a route group's requests are fingerprinted.
#[derive(Debug, Clone, Copy)]
enum Fingerprint {
    /// The whole raw body (JSON routes), read up to this many bytes.
    Body { bytes_max: usize },
    /// Headers only (streamed uploads).
    Headers,
}

/// The middleware's state for one group of routes.
#[derive(Clone)]
pub struct Idempotency {
    state: AppState,
    lease_ms: i64,
    fingerprint: Fingerprint,
}

impl Idempotency {
    /// For routes with JSON bodies of at most `body_bytes_max`, a key leased for `lease` (longer
    /// than the routes' timeout).
    pub fn buffered(state: AppState, lease: Duration, body_bytes_max: usize) -> Idempotency {
        Idempotency {
            state,
            lease_ms: millis(lease),
            fingerprint: Fingerprint::Body {
                bytes_max: body_bytes_max,
            },
        }
    }

    /// For streamed upload routes, cut off after `timeout`.
    pub fn streamed(state: AppState, timeout: Duration) -> Idempotency {
        Idempotency {
            state,
            lease_ms: millis(lease_for(timeout)),
            fingerprint: Fingerprint::Headers,
        }
    }
}

/// The default lease of an in-flight record on a route cut off after `timeout`: longer than
/// the timeout, so a running request is never taken over (a request timeout of more than 12
/// hours is not honoured here: a lease must stay shorter than the 24-hour retention).
pub fn lease_for(timeout: Duration) -> Duration {
    let s = (timeout.as_secs().saturating_add(LEASE_MARGIN_S)).max(LEASE_MIN_S);
    Duration::from_secs(s).min(Duration::from_millis(IDEMPOTENCY_RETENTION_MS as u64 / 2))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The scope of a user's keys.
pub fn user_scope(user: &UserId) -> Scope {
    Scope::parse(&format!("user:{user}")).expect("a user id makes a valid scope")
}

/// The fingerprint of a request with a fully read body.
pub fn body_fingerprint(method: &Method, path_and_query: &str, body: &[u8]) -> String {
    digest(&[
        b"body",
        method.as_str().as_bytes(),
        path_and_query.as_bytes(),
        body,
    ])
}

/// The fingerprint of a streamed upload: its method, path, media type without parameters (the
/// multipart boundary changes on every try) and `Content-Length`.
pub fn upload_fingerprint(method: &Method, path_and_query: &str, headers: &HeaderMap) -> String {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let media_type = text(CONTENT_TYPE)
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    digest(&[
        b"headers",
        method.as_str().as_bytes(),
        path_and_query.as_bytes(),
        media_type.as_bytes(),
        text(CONTENT_LENGTH).trim().as_bytes(),
    ])
}

/// The tag of the request `holder` runs: the same for every try of one request (its scope,
/// key and fingerprint), different for any other.
fn request_tag(holder: &Holder, fingerprint: &str) -> RequestTag {
    let d = digest(&[
        b"request",
        holder.scope.as_str().as_bytes(),
        holder.key.as_str().as_bytes(),
        fingerprint.as_bytes(),
    ]);
    RequestTag::new(&d[..32])
}

/// SHA-256 over length-prefixed parts, so no two different lists of parts hash alike.
fn digest(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

/// Whether a final response is kept for replay (see the module docs). `code` is the error
/// code the response carries (`http::error` puts it in the response's extensions).
fn storable(status: StatusCode, code: Option<ErrorCode>) -> bool {
    if status.is_server_error() {
        return false;
    }
    match status.as_u16() {
        400 | 401 | 405 | 408 | 413 | 415 | 422 | 429 => false,
        409 => !matches!(
            code,
            Some(ErrorCode::ConflictConcurrent | ErrorCode::ConflictBusy)
        ),
        _ => true,
    }
}

/// The middleware. Applied with `route_layer` so it runs only for matched routes.
pub async fn layer(State(cfg): State<Idempotency>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    if !matches!(method, Method::POST | Method::PUT | Method::PATCH)
        || !request.uri().path().starts_with("/api/")
    {
        return next.run(request).await;
    }
    let key = match key_of(request.headers()) {
        Ok(None) => return next.run(request).await,
        Ok(Some(k)) => k,
        Err(e) => return e.into_response(),
    };
    let Some(scope) = scope_of(&cfg.state, request.headers()) else {
        // A bad token: the handler refuses it (401), and nothing is recorded.
        return next.run(request).await;
    };
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path().to_string(), |p| p.to_string());
    let (request, fingerprint) = match cfg.fingerprint {
        Fingerprint::Headers => {
            let f = upload_fingerprint(&method, &path, request.headers());
            (request, f)
        }
        Fingerprint::Body { bytes_max } => {
            let (parts, body) = request.into_parts();
            let bytes = match axum::body::to_bytes(body, bytes_max).await {
                Ok(b) => b,
                Err(e) => return body_error(e).into_response(),
            };
            let f = body_fingerprint(&method, &path, &bytes);
            (Request::from_parts(parts, Body::from(bytes)), f)
        }
    };
    // The lease exists before the record does: a request cancelled while its in-flight record
    // is being written (the write may land after the future is dropped) still releases it.
    let mut lease = Lease {
        store: cfg.state.idempotency.clone(),
        holder: Holder {
            scope,
            key,
            owner: hex::encode(rand::random::<[u8; 16]>()),
        },
        held: true,
    };
    let begun = lease
        .store
        .idempotency_begin(&Claim {
            holder: &lease.holder,
            fingerprint: &fingerprint,
            now_ms: cfg.state.service.now_ms(),
            lease_ms: cfg.lease_ms,
        })
        .await;
    if !matches!(begun, Ok(Begin::Started) | Err(_)) {
        // Someone else's record answered: this request wrote none.
        lease.held = false;
    }
    match begun {
        // Whether the record was written is unknown: the lease, dropped, releases it if it was.
        Err(e) => ApiError(e.into()).into_response(),
        Ok(Begin::InFlight) => error(
            ErrorCode::IdempotencyInFlight,
            "a request with this Idempotency-Key is still being processed; retry later",
        )
        .into_response(),
        Ok(Begin::Mismatch) => error(
            ErrorCode::IdempotencyMismatch,
            "this Idempotency-Key was used with a different request (method, path or body); use a new key for a new request",
        )
        .into_response(),
        Ok(Begin::Replay(stored)) => replay(stored),
        Ok(Begin::Started) => {
            let mut request = request;
            request
                .extensions_mut()
                .insert(request_tag(&lease.holder, &fingerprint));
            execute(&cfg, lease, request, next).await
        }
    }
}

/// Runs the request holding the lease, then keeps its response or releases the key.
async fn execute(cfg: &Idempotency, mut lease: Lease, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let small = body
        .size_hint()
        .exact()
        .is_some_and(|n| n <= IDEMPOTENCY_BODY_BYTES_MAX as u64);
    if !small {
        lease.release().await;
        return Response::from_parts(parts, body);
    }
    let bytes = match axum::body::to_bytes(body, IDEMPOTENCY_BODY_BYTES_MAX).await {
        Ok(b) => b,
        Err(e) => {
            // The handler's body failed while being read: nothing to keep or to send.
            lease.release().await;
            tracing::error!(error = %e, "response body failed");
            return ApiError(crate::service::Error::internal(e.to_string())).into_response();
        }
    };
    if storable(parts.status, parts.extensions.get::<ErrorCode>().copied()) {
        let stored = StoredResponse {
            status: parts.status.as_u16(),
            content_type: parts
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body: bytes.to_vec(),
        };
        let now = cfg.state.service.now_ms();
        match lease
            .store
            .idempotency_finish(&lease.holder, &stored, now)
            .await
        {
            Ok(true) => lease.held = false,
            Ok(false) => {
                // Taken over after the lease ran out (cannot happen while the route timeout
                // is shorter than the lease): the taker's response is the one kept.
                lease.held = false;
                tracing::warn!("an idempotency lease was taken over before its request finished");
            }
            // The lease is released when dropped, so a retry executes again.
            Err(e) => {
                tracing::warn!(error = %e, "could not keep a response for its idempotency key")
            }
        }
    } else {
        lease.release().await;
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(stored: StoredResponse) -> Response {
    let mut r = Response::new(Body::from(stored.body));
    *r.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    if let Some(ct) = stored
        .content_type
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        r.headers_mut().insert(CONTENT_TYPE, ct);
    }
    r.headers_mut()
        .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    r
}

/// The request's key: none, one valid one, or a 400.
fn key_of(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = || {
        error(
            ErrorCode::IdempotencyInvalidKey,
            "Idempotency-Key must be one header of 1 to 255 visible ASCII characters",
        )
    };
    if values.next().is_some() {
        return Err(invalid());
    }
    value
        .to_str()
        .ok()
        .and_then(IdempotencyKey::parse)
        .map(Some)
        .ok_or_else(invalid)
}

/// The caller's scope; `None` when the request carries a token that does not verify.
fn scope_of(state: &AppState, headers: &HeaderMap) -> Option<Scope> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        // The original's session cookie, where it counts (chat uploads), is its user's.
        return match super::extract::session(state, headers) {
            None => Scope::parse(ANONYMOUS_SCOPE),
            Some(Ok(principal)) => Some(user_scope(&principal.id)),
            Some(Err(_)) => None,
        };
    };
    let token = bearer(value.to_str().ok()).ok()?;
    let principal = state.jwt.verify(token).ok()?;
    Some(user_scope(&principal.id))
}

pub(super) fn body_error(e: axum::Error) -> ApiError {
    let too_large =
        std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
    if too_large {
        error(ErrorCode::RequestTooLarge, "the body is too large")
    } else {
        error(ErrorCode::RequestUnreadable, "the body could not be read")
    }
}

/// The in-flight record this request holds. Released when dropped while still held, which
/// is what happens when the request is cancelled (the client went away, the route timed out):
/// the next retry then executes at once instead of waiting for the lease to run out.
struct Lease {
    store: Arc<dyn IdempotencyStore>,
    holder: Holder,
    held: bool,
}

/// How long after a cancelled request's release its record is released once more: a write
/// to a remote store that was already on the wire when the request was cancelled can land
/// after the first release.
const LATE_RELEASE_AFTER: Duration = Duration::from_secs(2);

impl Lease {
    async fn release(&mut self) {
        match self.store.idempotency_release(&self.holder).await {
            Ok(()) => self.held = false,
            // Still held: the lease, dropped, tries once more in the background; failing
            // that, the record stays in flight until its lease runs out and a retry takes
            // it over.
            Err(e) => tracing::warn!(error = %e, "could not release an idempotency key"),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (store, holder) = (self.store.clone(), self.holder.clone());
        runtime.spawn(async move {
            // A release only deletes this request's own in-flight record (its owner is
            // random), so releasing twice is harmless.
            for wait in [Duration::ZERO, LATE_RELEASE_AFTER] {
                tokio::time::sleep(wait).await;
                if let Err(e) = store.idempotency_release(&holder).await {
                    tracing::warn!(error = %e, "could not release an idempotency key");
                }
            }
        });
    }
}

/// Documents the header on every POST, PUT and PATCH under `/api/` of the OpenAPI document:
/// the request header, the `Idempotent-Replayed` response header, and the 400, 409 and 422
/// answers it can cause (added where the route does not list them already).
pub struct OpenApiDoc;

impl utoipa::Modify for OpenApiDoc {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{HeaderBuilder, ObjectBuilder, RefOr, Required, Type};
        let key = ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Makes a retry safe (Stripe's semantics): the first response to a key is kept for 24 hours and replayed to a retry with the same key, method, path and body. Scoped to the caller.",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(crate::domain::ids::IDEMPOTENCY_KEY_BYTES_MAX))
                    .pattern(Some("^[!-~]+$")),
            ))
            .build();
        let replayed = HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["true"])))
            .description(Some("`true` when this is the kept response of an earlier request with the same Idempotency-Key"))
            .build();
        for (path, item) in api.paths.paths.iter_mut() {
            if !path.starts_with("/api/") {
                continue;
            }
            for op in [&mut item.post, &mut item.put, &mut item.patch]
                .into_iter()
                .flatten()
            {
                op.parameters.get_or_insert_with(Vec::new).push(key.clone());
                for (status, description) in [
                    (
                        "400",
                        "malformed request, or an invalid Idempotency-Key (`idempotency.invalid_key`)",
                    ),
                    (
                        "409",
                        "wrong state, or the first request with this Idempotency-Key is still running (`idempotency.in_flight`)",
                    ),
                    (
                        "422",
                        "invalid input, or this Idempotency-Key was used with a different request (`idempotency.mismatch`)",
                    ),
                ] {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| super::openapi::error_response(description));
                }
                for response in op.responses.responses.values_mut() {
                    if let RefOr::T(r) = response {
                        r.headers
                            .insert("Idempotent-Replayed".into(), replayed.clone());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_decisions_are_stored() {
        assert!(storable(StatusCode::OK, None));
        assert!(storable(StatusCode::CREATED, None));
        assert!(storable(
            StatusCode::NOT_FOUND,
            Some(ErrorCode::ContractNotFound)
        ));
        assert!(storable(
            StatusCode::FORBIDDEN,
            Some(ErrorCode::AuthNotParty)
        ));
        assert!(storable(
            StatusCode::CONFLICT,
            Some(ErrorCode::StateConflict)
        ));
        assert!(!storable(
            StatusCode::CONFLICT,
            Some(ErrorCode::ConflictBusy)
        ));
        assert!(!storable(
            StatusCode::CONFLICT,
            Some(ErrorCode::ConflictConcurrent)
        ));
        for s in [400, 401, 405, 408, 413, 415, 422, 429, 500, 502, 503] {
            assert!(!storable(StatusCode::from_u16(s).unwrap(), None), "{s}");
        }
    }

    #[test]
    fn fingerprints_separate_method_path_and_body() {
        let f = |m: &Method, p: &str, b: &[u8]| body_fingerprint(m, p, b);
        let base = f(&Method::POST, "/api/x", b"{}");
        assert_eq!(base, f(&Method::POST, "/api/x", b"{}"));
        assert_ne!(base, f(&Method::PUT, "/api/x", b"{}"));
        assert_ne!(base, f(&Method::POST, "/api/y", b"{}"));
        assert_ne!(base, f(&Method::POST, "/api/x", b"{ }"));
        // Length prefixes: moving bytes between parts changes the hash.
        assert_ne!(
            f(&Method::POST, "/api/x", b"a"),
            f(&Method::POST, "/api/xa", b"")
        );
    }

    #[test]
    fn an_upload_fingerprint_ignores_the_multipart_boundary() {
        let h = |ct: &str, len: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            h.insert(CONTENT_LENGTH, HeaderValue::from_str(len).unwrap());
            h
        };
        let f = |h: &HeaderMap| upload_fingerprint(&Method::POST, "/api/media/upload", h);
        assert_eq!(
            f(&h("multipart/form-data; boundary=aaaa", "100")),
            f(&h("multipart/form-data; boundary=bbbb", "100"))
        );
        assert_ne!(
            f(&h("multipart/form-data; boundary=aaaa", "100")),
            f(&h("multipart/form-data; boundary=aaaa", "101"))
        );
    }

    #[test]
    fn leases_outlast_the_route_timeout() {
        let s = Duration::from_secs;
        assert_eq!(lease_for(s(1)), s(60));
        assert_eq!(lease_for(s(30)), s(60));
        assert_eq!(lease_for(s(600)), s(630));
        assert_eq!(
            millis(lease_for(Duration::MAX)),
            IDEMPOTENCY_RETENTION_MS / 2
        );
    }
}
