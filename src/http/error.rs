//! The one place where service errors become HTTP responses:
//! `{ "error": { "code": "…", "message": "…" } }` with the status of the error's kind.
//! A 5xx body says nothing internal; its cause chain is logged once, here. The response also
//! carries the [`ErrorCode`] as an extension, so middleware (idempotency) can tell one error
//! from another without reading the body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::service::{Error, ErrorCode, ErrorKind};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine code, e.g. `escrow.wrong_state`.
    pub code: String,
    pub message: String,
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
                error: ErrorDetail {
                    code: e.code.as_str().to_string(),
                    message,
                },
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
