//! Route handlers: each reads the request, calls one service use case, and shapes the reply.
//! The `#[utoipa::path]` on each is the source of `/openapi.json`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody, error};
use super::extract::{ApiJson, Auth, Paging};
use crate::payment::CheckoutSession;
use crate::service::views::*;
use crate::service::{CheckoutBody, CreateContract, ErrorKind, RefundBody, ReviewBody};

type ApiResult<T> = Result<T, ApiError>;

#[derive(Serialize, ToSchema)]
pub struct ContractMessage {
    pub message: String,
    pub data: ContractView,
}

#[derive(Serialize, ToSchema)]
pub struct EscrowMessage {
    pub message: String,
    pub data: EscrowView,
}

#[derive(Serialize, ToSchema)]
pub struct ReviewMessage {
    pub message: String,
    pub data: ReviewView,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    #[schema(value_type = crate::domain::ContractStatus)]
    pub status: String,
}

fn msg(message: &str, data: ContractView) -> Json<ContractMessage> {
    Json(ContractMessage {
        message: message.into(),
        data,
    })
}

#[utoipa::path(post, path = "/api/client/contract/create-contract/{jobId}", tag = "contracts",
    params(("jobId" = String, Path, description = "24-hex job id")), request_body = CreateContract,
    responses((status = 201, body = ContractMessage), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_contract(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(job_id): Path<String>,
    ApiJson(body): ApiJson<CreateContract>,
) -> ApiResult<(StatusCode, Json<ContractMessage>)> {
    let c = s.service.create_contract(&p, &job_id, body).await?;
    Ok((StatusCode::CREATED, msg("Contract created successfully", c)))
}

#[utoipa::path(post, path = "/api/freelancer/contract/approve-contract/{contractId}", tag = "contracts",
    params(("contractId" = String, Path)), responses((status = 200, body = ContractMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn approve_contract(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ContractMessage>> {
    Ok(msg(
        "Contract approved",
        s.service.approve_contract(&p, &id).await?,
    ))
}

#[utoipa::path(put, path = "/api/freelancer/contract/update-status/{contractId}", tag = "contracts",
    params(("contractId" = String, Path)), request_body = StatusBody,
    responses((status = 200, body = ContractMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_status(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StatusBody>,
) -> ApiResult<Json<ContractMessage>> {
    Ok(msg(
        "Contract status updated",
        s.service.update_status(&p, &id, &body.status).await?,
    ))
}

#[utoipa::path(get, path = "/api/contracts/{contractId}", tag = "contracts",
    params(("contractId" = String, Path)), responses((status = 200, body = ContractDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_contract(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ContractDetail>> {
    Ok(Json(s.service.get_contract(&p, &id).await?))
}

#[utoipa::path(post, path = "/api/client/job/payment/{jobId}", tag = "payments",
    params(("jobId" = String, Path)), request_body = CheckoutBody,
    responses((status = 200, body = CheckoutSession), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn checkout(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(job_id): Path<String>,
    ApiJson(body): ApiJson<CheckoutBody>,
) -> ApiResult<Json<CheckoutSession>> {
    Ok(Json(s.service.checkout(&p, &job_id, body).await?))
}

#[utoipa::path(post, path = "/webhook", tag = "payments",
    params(("Stripe-Signature" = String, Header, description = "t=<unix>,v1=<hex>")),
    request_body(content = String, content_type = "application/json", description = "the raw signed Stripe event"),
    responses((status = 200, body = WebhookReply), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn webhook(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<WebhookReply>> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    Ok(Json(s.service.handle_webhook(&body, signature).await?))
}

#[utoipa::path(patch, path = "/api/client/contract/release-fund/{contractId}", tag = "escrow",
    params(("contractId" = String, Path)), responses((status = 200, body = ContractMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn request_release(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ContractMessage>> {
    Ok(msg(
        "Fund release requested successfully.",
        s.service.request_release(&p, &id).await?,
    ))
}

#[utoipa::path(patch, path = "/api/client/release-fund/{contractId}", tag = "escrow",
    params(("contractId" = String, Path)), responses((status = 200, body = ContractMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn request_release_short(
    state: State<AppState>,
    auth: Auth,
    path: Path<String>,
) -> ApiResult<Json<ContractMessage>> {
    request_release(state, auth, path).await
}

#[utoipa::path(put, path = "/api/admin/escrow/release-fund/{contractId}", tag = "escrow",
    params(("contractId" = String, Path)), responses((status = 200, body = EscrowMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn release(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<EscrowMessage>> {
    let data = s.service.release(&p, &id).await?;
    Ok(Json(EscrowMessage {
        message: "Fund has been released".into(),
        data,
    }))
}

#[utoipa::path(put, path = "/api/admin/escrow/refund-client/{contractId}/{clientId}", tag = "escrow",
    params(("contractId" = String, Path), ("clientId" = String, Path)), request_body(content = RefundBody, description = "optional"),
    responses((status = 200, body = EscrowMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn refund(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((id, client)): Path<(String, String)>,
    ApiJson(body): ApiJson<RefundBody>,
) -> ApiResult<Json<EscrowMessage>> {
    let data = s.service.refund(&p, &id, &client, body).await?;
    Ok(Json(EscrowMessage {
        message: "Refund has been processed".into(),
        data,
    }))
}

#[utoipa::path(get, path = "/api/admin/escrow/balance", tag = "reports", responses((status = 200, body = AmountView), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn balance(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<AmountView>> {
    Ok(Json(s.service.balance(&p).await?))
}

#[utoipa::path(get, path = "/api/admin/escrow/total-revenue", tag = "reports", responses((status = 200, body = AmountView), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn total_revenue(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<AmountView>> {
    Ok(Json(s.service.total_revenue(&p).await?))
}

#[utoipa::path(get, path = "/api/admin/escrow/transactions", tag = "reports",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = EscrowPage), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn transactions(
    State(s): State<AppState>,
    Auth(p): Auth,
    Paging(page): Paging,
) -> ApiResult<Json<EscrowPage>> {
    Ok(Json(s.service.transactions(&p, page).await?))
}

#[derive(Deserialize)]
pub struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

/// Parses `YYYY-MM-DD` (UTC midnight) into Unix milliseconds.
pub fn parse_date(field: &str, s: &str) -> Result<i64, crate::service::Error> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| {
            d.and_hms_opt(0, 0, 0)
                .expect("midnight exists")
                .and_utc()
                .timestamp_millis()
        })
        .map_err(|_| {
            crate::service::Error::validation(
                "validation.date",
                format!("{field} must be a date YYYY-MM-DD"),
            )
        })
}

#[utoipa::path(get, path = "/api/admin/escrow/sales-report", tag = "reports",
    params(("from" = Option<String>, Query, description = "YYYY-MM-DD, inclusive"), ("to" = Option<String>, Query, description = "YYYY-MM-DD, exclusive")),
    responses((status = 200, body = SalesReport), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn sales_report(
    State(s): State<AppState>,
    Auth(p): Auth,
    q: Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<SalesReport>> {
    let (from, to) = match q {
        Ok(Query(q)) => (
            q.from.map(|f| parse_date("from", &f)).transpose()?,
            q.to.map(|t| parse_date("to", &t)).transpose()?,
        ),
        Err(_) => {
            return Err(error(
                ErrorKind::Validation,
                "validation.date",
                "from and to must be dates YYYY-MM-DD",
            ));
        }
    };
    Ok(Json(s.service.sales_report(&p, from, to).await?))
}

#[utoipa::path(get, path = "/api/freelancer/wallet", tag = "wallets",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = WalletView), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn my_wallet(
    State(s): State<AppState>,
    Auth(p): Auth,
    Paging(page): Paging,
) -> ApiResult<Json<WalletView>> {
    let id = p.id.to_string();
    Ok(Json(s.service.wallet(&p, &id, page).await?))
}

#[utoipa::path(get, path = "/api/admin/wallet/{userId}", tag = "wallets",
    params(("userId" = String, Path), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = WalletView), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn user_wallet(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(user): Path<String>,
    Paging(page): Paging,
) -> ApiResult<Json<WalletView>> {
    Ok(Json(s.service.wallet(&p, &user, page).await?))
}

#[utoipa::path(post, path = "/api/client/review/rate-freelancer/{clientId}", tag = "reviews",
    params(("clientId" = String, Path)), request_body = ReviewBody,
    responses((status = 201, body = ReviewMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rate_freelancer(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(client): Path<String>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> ApiResult<(StatusCode, Json<ReviewMessage>)> {
    let data = s.service.rate_freelancer(&p, &client, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(ReviewMessage {
            message: "Review created successfully".into(),
            data,
        }),
    ))
}

#[utoipa::path(get, path = "/api/client/review/show-reviews/{freelancerId}", tag = "reviews",
    params(("freelancerId" = String, Path), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = ReviewsPage), (status = 400, body = ErrorBody)))]
pub async fn show_reviews(
    State(s): State<AppState>,
    Path(f): Path<String>,
    Paging(page): Paging,
) -> ApiResult<impl IntoResponse> {
    let body = s.service.show_reviews_json(&f, page).await?;
    Ok(([(CONTENT_TYPE, "application/json")], body))
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// An image (jpeg, png, gif) or video (mp4, webm, quicktime) file.
    #[schema(value_type = String, format = Binary)]
    media: Vec<u8>,
}

#[utoipa::path(post, path = "/api/media/upload", tag = "media",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 200, body = MediaView), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload(
    State(s): State<AppState>,
    Auth(p): Auth,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Json<MediaView>> {
    // axum's own rejection is plain text; a body that is not multipart at all is a 415.
    let mut form = form.map_err(|_| {
        error(
            ErrorKind::Unsupported,
            "request.unsupported_media_type",
            "the body must be multipart/form-data with a boundary, the file in the field \"media\"",
        )
    })?;
    loop {
        let field = form
            .next_field()
            .await
            .map_err(|e| multipart_error(&e.body_text(), e.status()))?;
        let Some(field) = field else {
            return Err(error(
                ErrorKind::BadRequest,
                "media.missing",
                "No file uploaded: send the file in the multipart field \"media\"",
            ));
        };
        if field.name() != Some("media") {
            continue;
        }
        let stream = futures_util::stream::unfold(field, |mut f| async move {
            match f.chunk().await {
                Ok(Some(c)) => Some((Ok(c), f)),
                Ok(None) => None,
                Err(e) => Some((Err(e.body_text()), f)),
            }
        });
        return Ok(Json(s.service.upload(&p, Box::pin(stream)).await?));
    }
}

fn multipart_error(text: &str, status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        error(
            ErrorKind::TooLarge,
            "media.too_large",
            "the upload is too large",
        )
    } else {
        error(
            ErrorKind::BadRequest,
            "request.bad_multipart",
            text.to_string(),
        )
    }
}

/// Serves a locally stored media file.
pub async fn media_file(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(dir) = s.media_dir.as_ref() else {
        return ApiError(crate::service::Error::not_found(
            "media.not_found",
            "no such file",
        ))
        .into_response();
    };
    if !crate::media::local::LocalMediaStore::is_stored_name(&name) {
        return ApiError(crate::service::Error::not_found(
            "media.not_found",
            "no such file",
        ))
        .into_response();
    }
    let mime = match name.rsplit('.').next() {
        Some("jpg") => "image/jpeg",
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("mp4") => "video/mp4",
        Some("webm") => "video/webm",
        _ => "video/quicktime",
    };
    match tokio::fs::File::open(dir.join(&name)).await {
        Ok(f) => (
            [
                (axum::http::header::CONTENT_TYPE, mime),
                (
                    axum::http::header::CACHE_CONTROL,
                    "public, max-age=31536000, immutable",
                ),
                // The type comes from the file's magic bytes; a polyglot (a GIF that is also
                // HTML) must not be re-sniffed by a browser into a page, nor run as one.
                (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (axum::http::header::CONTENT_SECURITY_POLICY, "sandbox"),
            ],
            Body::from_stream(tokio_util::io::ReaderStream::new(f)),
        )
            .into_response(),
        Err(_) => ApiError(crate::service::Error::not_found(
            "media.not_found",
            "no such file",
        ))
        .into_response(),
    }
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "the process is alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "storage reachable"), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(s): State<AppState>) -> ApiResult<&'static str> {
    s.service
        .store()
        .ping()
        .await
        .map_err(|e| ApiError(e.into()))?;
    Ok("ready")
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus metrics, OpenMetrics text format", content_type = "application/openmetrics-text")))]
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.service.metrics().render(),
    )
}

#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "this document")))]
pub async fn openapi() -> impl IntoResponse {
    Json(super::openapi::document())
}
