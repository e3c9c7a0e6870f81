//! The one place where service errors become HTTP responses:
//! `{ "error": "<human message>", "code": "<stable code>" }` with the status of the error's kind
//! (`error` is a string, as the original app sent it: its clients show it as is). Answers that
//! did not come from here (a route timeout's empty 408) are given that shape by [`normalize`].
//! A 5xx body says nothing internal; its cause chain is logged once, here. The response also
//! carries the [`ErrorCode`] as an extension, so middleware (idempotency) can tell one error
//! from another without reading the body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::service::{Error, ErrorCode, ErrorKind};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
    /// Stable machine code, e.g. `escrow.wrong_state`.
    pub code: String,
}

pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        ApiError(e)
    }
}

pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Unsupported => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::Validation => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Timeout => StatusCode::REQUEST_TIMEOUT,
        ErrorKind::PaymentUnavailable | ErrorKind::Unavailable | ErrorKind::MediaUnavailable => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        ErrorKind::PaymentFailed | ErrorKind::MediaRejected => StatusCode::BAD_GATEWAY,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = status_of(e.kind());
        let message = if status.is_server_error() {
            tracing::error!(code = e.code.as_str(), cause = %e.chain(), "request failed");
            match e.kind() {
                ErrorKind::PaymentUnavailable => {
                    "the payment provider is unavailable; the request is kept and will be retried"
                        .to_string()
                }
                ErrorKind::PaymentFailed => "the payment provider refused the request".to_string(),
                ErrorKind::MediaUnavailable | ErrorKind::MediaRejected => {
                    "media storage is unavailable; try again later".to_string()
                }
                ErrorKind::Unavailable => "storage is unavailable; try again later".to_string(),
                _ => "internal error".to_string(),
            }
        } else {
            e.message
        };
        let mut response = (
            status,
            axum::Json(ErrorBody {
                error: message,
                code: e.code.as_str().to_string(),
            }),
        )
            .into_response();
        response.extensions_mut().insert(e.code);
        response
    }
}

pub fn error(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError(Error::new(code, message))
}

/// Gives an error answer that did not come from [`ApiError`] (no [`ErrorCode`] in its
/// extensions, no body type: a route timeout's empty 408, say) the API's error shape, so every
/// error a client sees can be shown and told apart. Pages (the sandbox's HTML) keep theirs.
pub async fn normalize(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<ErrorCode>().is_some()
        || response
            .headers()
            .contains_key(axum::http::header::CONTENT_TYPE)
    {
        return response;
    }
    let (code, message) = match status {
        StatusCode::REQUEST_TIMEOUT => (
            ErrorCode::RequestTimeout,
            "the request took too long and was cut off; nothing it had not finished was kept",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::RequestTooLarge, "the body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            ErrorCode::RequestUnsupportedMediaType,
            "unsupported content type",
        ),
        StatusCode::NOT_FOUND => (ErrorCode::RouteNotFound, "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::RouteMethodNotAllowed,
            "method not allowed on this route",
        ),
        s if s.is_server_error() => (ErrorCode::Internal, "internal error"),
        _ => (
            ErrorCode::RequestUnreadable,
            "the request could not be read",
        ),
    };
    let mut out = error(code, message).into_response();
    *out.status_mut() = status;
    // Keep what the layers before set (CORS, `Connection: close`, ...).
    for (name, value) in response.headers() {
        out.headers_mut().insert(name.clone(), value.clone());
    }
    out
}
