//! Extractors whose rejections use the API's error format: the caller's identity from the
//! bearer token, the request's idempotency tag, and JSON bodies (400 when malformed, 422 when well-formed but wrong).

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, ORIGIN};
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::{ApiError, error};
use crate::auth::{AuthError, bearer};
use crate::domain::{RequestTag, UserId};
use crate::service::{Caller, ErrorCode};
use crate::store::{Cursor, Page};

/// The request's tag when it carries an `Idempotency-Key` (the idempotency middleware puts
/// it in the request's extensions): handlers that change a contract pass it to the service
/// with [`crate::service::Permit::in_request`].
pub struct Idempotent(pub Option<RequestTag>);

impl<S: Send + Sync> FromRequestParts<S> for Idempotent {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Idempotent(parts.extensions.get::<RequestTag>().cloned()))
    }
}

/// The verified caller.
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or(""));
        let token = bearer(header).map_err(auth_error)?;
        let principal = state.jwt.verify(token).map_err(auth_error)?;
        check_user(state, &principal.id).await?;
        Ok(Auth(Caller::User(principal)))
    }
}

/// The caller of a chat upload: a bearer token, as everywhere; or else the original app's
/// session, its `refreshToken` cookie (HS256 with `REFRESH_SECRET`, claims `{id, role}`),
/// which its chat sends instead of a token. The cookie counts only when the request comes from
/// an allowed origin (`Origin` on the CORS list), so another site cannot upload in a user's
/// name by making their browser send it (CSRF).
pub struct MediaAuth(pub Caller);

impl FromRequestParts<AppState> for MediaAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(AUTHORIZATION) {
            return Auth::from_request_parts(parts, state)
                .await
                .map(|Auth(c)| MediaAuth(c));
        }
        match session(state, &parts.headers) {
            None => Err(auth_error(AuthError::Missing)),
            Some(Err(e)) => Err(e),
            Some(Ok(principal)) => {
                check_user(state, &principal.id).await?;
                Ok(MediaAuth(Caller::User(principal)))
            }
        }
    }
}

/// The `refreshToken` cookie of a request, if it carries one.
fn refresh_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "refreshToken")
        .map(|(_, value)| value.trim_matches('"'))
}

/// The original's session as a credential: `None` without a `refreshToken` cookie; a 401
/// when the cookie is there but may not count (no `REFRESH_SECRET`, an origin not on the
/// list, a token that does not verify).
pub(super) fn session(
    state: &AppState,
    headers: &HeaderMap,
) -> Option<Result<crate::auth::Principal, ApiError>> {
    let token = refresh_cookie(headers)?;
    let refused = |why: &str| Some(Err(error(ErrorCode::AuthInvalidToken, why.to_string())));
    let Some(keys) = &state.refresh_keys else {
        return refused(
            "a session cookie is not accepted here (no REFRESH_SECRET); send a bearer token",
        );
    };
    let origin = headers.get(ORIGIN).and_then(|o| o.to_str().ok());
    if !origin.is_some_and(|o| state.cors_origins.allows(o)) {
        return refused("a session cookie counts only from the front end's own origin");
    }
    Some(keys.verify(token).map_err(auth_error))
}

/// Where a directory knows the users, as the original did on every request: a user it does
/// not know is refused (401), a blocked one too (403).
pub(super) async fn check_user(state: &AppState, user: &UserId) -> Result<(), ApiError> {
    let directory = state.service.directory();
    if !directory.knows() {
        return Ok(());
    }
    let cards = directory
        .users(std::slice::from_ref(user))
        .await
        .map_err(|e| ApiError(e.into()))?;
    match cards.get(user) {
        None => Err(error(
            ErrorCode::AuthUnknownUser,
            "User not found, try to signup",
        )),
        Some(card) if card.blocked => Err(error(
            ErrorCode::AuthBlocked,
            "You are blocked from Skillora",
        )),
        Some(_) => Ok(()),
    }
}

fn auth_error(e: AuthError) -> ApiError {
    match e {
        AuthError::Missing => error(
            ErrorCode::AuthMissingToken,
            "Access denied. No token provided.",
        ),
        AuthError::Invalid => error(ErrorCode::AuthInvalidToken, "Invalid authentication token."),
    }
}

/// A JSON body. An empty body reads as `{}` where `T` allows it (routes whose body is optional;
/// those take `Option<T>`, so that `null`, which their document allows, reads as no body too).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ct) = req.headers().get(CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
            if !ct.starts_with("application/json") && !ct.contains("+json") {
                return Err(error(
                    ErrorCode::RequestUnsupportedMediaType,
                    "the body must be application/json",
                ));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                error(ErrorCode::RequestTooLarge, "the body is too large")
            } else {
                error(ErrorCode::RequestUnreadable, e.body_text())
            }
        })?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        // Every body of this API is an object (or null where it is optional); serde would
        // also read a struct from an array of its fields in order, so `[]` would pass as an
        // empty body.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return Err(error(
                ErrorCode::ValidationBody,
                "the body must be a JSON object",
            ));
        }
        serde_json::from_slice(bytes)
            .map(ApiJson)
            .map_err(|e| match e.classify() {
                serde_json::error::Category::Data => {
                    error(ErrorCode::ValidationBody, e.to_string())
                }
                _ => error(
                    ErrorCode::RequestMalformedJson,
                    format!("malformed JSON: {e}"),
                ),
            })
    }
}

/// `?page=&limit=` or `?after=&limit=` with clear errors (20 a page unless asked). `after` is
/// the `next` cursor of the page before (keyset paging: a deep page costs what the first
/// does); `page` numbers pages as the original's clients do, and is ignored beside `after`
/// (a query string cannot say "one or the other" in the API's schema, so both is no error).
pub struct Paging(pub Page);

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        paging(parts, state, 20).await.map(Paging)
    }
}

/// [`Paging`] for the original app's list routes, whose front end asks for no page and
/// assumes it got everything: [`Page::LIMIT_MAX`] a page unless asked.
pub struct WholeList(pub Page);

impl<S: Send + Sync> FromRequestParts<S> for WholeList {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        paging(parts, state, Page::LIMIT_MAX).await.map(WholeList)
    }
}

/// The query parameters a list takes; any other is a 400 `request.bad_query` (a name sent by
/// mistake is not silently ignored; the original's front end sends none).
pub const PAGING_PARAMS: [&str; 3] = ["page", "limit", "after"];

async fn paging<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    default_limit: u32,
) -> Result<Page, ApiError> {
    let Query(q) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map_err(|e| error(ErrorCode::RequestBadQuery, e.body_text()))?;
    if let Some(unknown) = q.keys().find(|k| !PAGING_PARAMS.contains(&k.as_str())) {
        return Err(error(
            ErrorCode::RequestBadQuery,
            format!(
                "unknown query parameter {:?}: this list takes {}",
                unknown.chars().take(64).collect::<String>(),
                PAGING_PARAMS.join(", ")
            ),
        ));
    }
    page_from(&q, default_limit)
}

/// The page `q` asks for (`page`, `limit`, `after`), `default_limit` rows unless asked.
pub fn page_from(q: &HashMap<String, String>, default_limit: u32) -> Result<Page, ApiError> {
    {
        let num = |key: &str, default: u32, max: u32| -> Result<u32, ApiError> {
            match q.get(key) {
                None => Ok(default),
                Some(v) => match v.parse::<u32>() {
                    Ok(n) if (1..=max).contains(&n) => Ok(n),
                    _ => Err(error(
                        ErrorCode::ValidationPaging,
                        format!("{key} must be an integer from 1 to {max}"),
                    )),
                },
            }
        };
        let limit = num("limit", default_limit, Page::LIMIT_MAX)?;
        let page = num("page", 1, 1_000_000)?;
        match q.get("after") {
            None => Ok(Page::new(page, limit)),
            Some(after) => match Cursor::decode(after) {
                Some(cursor) => Ok(Page::after(Some(cursor), limit)),
                None => Err(error(
                    ErrorCode::ValidationPaging,
                    "after must be the `next` cursor of an earlier page",
                )),
            },
        }
    }
}
