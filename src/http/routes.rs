//! Route handlers: each asks the service for a permit, parses the request into a typed
//! command, calls one use case, and shapes the reply. The `#[utoipa::path]` on each is the
//! source of `/openapi.json`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::bodies::{CheckoutBody, CreateContract, RefundBody, ReviewBody, StatusBody};
use super::error::{ApiError, ErrorBody, error};
use super::extract::{ApiJson, Auth, Idempotent, MediaAuth, Paging};
use crate::domain::{ContractId, JobId, UserId};
use crate::service::escrow::Release;
use crate::service::reports::SalesRange;
use crate::service::{ErrorCode, UseCase, input};
use crate::store::ContractFilter;
use crate::views::original::{TransactionPage, TransactionRow};
use crate::views::*;

pub(super) type ApiResult<T> = Result<T, ApiError>;

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

pub(super) fn msg(message: &str, c: &crate::domain::Contract) -> Json<ContractMessage> {
    Json(ContractMessage {
        message: message.into(),
        data: ContractView::from(c),
    })
}

pub(super) fn escrow_msg(message: &str, c: &crate::domain::Contract) -> Json<EscrowMessage> {
    Json(EscrowMessage {
        message: message.into(),
        data: EscrowView::of_moved(c),
    })
}

/// A contract path parameter: its id or its human id ("CON…", which the original's
/// `contractId` response field carries).
pub(super) async fn contract_id(s: &AppState, text: &str) -> Result<ContractId, ApiError> {
    Ok(s.service.contract_id(input::contract(text)?).await?)
}

#[utoipa::path(post, path = "/api/client/contract/create-contract/{jobId}", tag = "contracts",
    params(("jobId" = String, Path, description = "24-hex job id")), request_body = CreateContract,
    responses((status = 201, body = ContractMessage), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_contract(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Idempotent(tag): Idempotent,
    Path(job): Path<String>,
    ApiJson(body): ApiJson<CreateContract>,
) -> ApiResult<(StatusCode, Json<ContractMessage>)> {
    let permit = s
        .service
        .permit(&caller, UseCase::CreateContract)?
        .in_request(tag.as_ref());
    let job: JobId = input::id(&job, "job id")?;
    let new = body.parse(job, s.service.settings().currency)?;
    let c = s.service.create_contract(permit, new).await?;
    Ok((
        StatusCode::CREATED,
        msg("Contract created successfully", &c),
    ))
}

#[utoipa::path(post, path = "/api/freelancer/contract/approve-contract/{contractId}", tag = "contracts",
    params(("contractId" = String, Path, description = "the contract id (24 hex) or its human id (CON00000042)")), responses((status = 200, body = ContractMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn approve_contract(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ContractMessage>> {
    let permit = s.service.permit(&caller, UseCase::ApproveContract)?;
    let c = s
        .service
        .approve_contract(permit, &contract_id(&s, &id).await?)
        .await?;
    Ok(msg("Contract approved", &c))
}

#[utoipa::path(put, path = "/api/freelancer/contract/update-status/{contractId}", tag = "contracts",
    params(("contractId" = String, Path, description = "the contract id (24 hex) or its human id (CON00000042)")), request_body = StatusBody,
    responses((status = 200, body = ContractMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_status(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StatusBody>,
) -> ApiResult<Json<ContractMessage>> {
    let permit = s.service.permit(&caller, UseCase::UpdateStatus)?;
    let id = contract_id(&s, &id).await?;
    let c = s.service.update_status(permit, &id, body.parse()?).await?;
    Ok(msg("Contract status updated", &c))
}

#[utoipa::path(get, path = "/api/contracts/{contractId}", tag = "contracts",
    params(("contractId" = String, Path, description = "the contract id (24 hex) or its human id (CON00000042)")), responses((status = 200, body = ContractDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_contract(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ContractDetail>> {
    let id = contract_id(&s, &id).await?;
    let permit = s.service.permit(&caller, UseCase::ViewContract)?;
    let detail = s.service.contract(permit, &id).await?;
    Ok(Json(ContractDetail::from(&detail)))
}

#[utoipa::path(post, path = "/api/client/job/payment/{jobId}", tag = "payments",
    params(("jobId" = String, Path)), request_body = CheckoutBody,
    responses((status = 200, body = CheckoutSession), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn checkout(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(job): Path<String>,
    ApiJson(body): ApiJson<CheckoutBody>,
) -> ApiResult<Json<CheckoutSession>> {
    let permit = s.service.permit(&caller, UseCase::Checkout)?;
    let job: JobId = input::id(&job, "job id")?;
    let req = body.parse(job, s.service.settings().currency)?;
    Ok(Json(s.service.checkout(permit, req).await?.into()))
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
    Ok(Json(
        s.service
            .handle_webhook(&body, stripe_signature(&headers))
            .await?
            .into(),
    ))
}

/// The `Stripe-Signature` header of a webhook delivery, when it is there and readable.
pub(super) fn stripe_signature(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
}

#[utoipa::path(patch, path = "/api/client/contract/release-fund/{contractId}", tag = "escrow",
    params(("contractId" = String, Path, description = "the contract id (24 hex) or its human id (CON00000042)")), responses((status = 200, body = ContractMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn request_release(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ContractMessage>> {
    let permit = s.service.permit(&caller, UseCase::RequestRelease)?;
    let c = s
        .service
        .request_release(permit, &contract_id(&s, &id).await?, None)
        .await?;
    Ok(msg("Fund release requested successfully.", &c))
}

#[utoipa::path(patch, path = "/api/client/release-fund/{contractId}", tag = "escrow",
    params(("contractId" = String, Path, description = "the contract id (24 hex) or its human id (CON00000042)")), responses((status = 200, body = ContractMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn request_release_short(
    state: State<AppState>,
    auth: Auth,
    path: Path<String>,
) -> ApiResult<Json<ContractMessage>> {
    request_release(state, auth, path).await
}

#[utoipa::path(put, path = "/api/admin/escrow/release-fund/{contractId}", tag = "escrow",
    params(("contractId" = String, Path, description = "the contract id (24 hex) or its human id (CON00000042)")), responses((status = 200, body = EscrowMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn release(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Idempotent(tag): Idempotent,
    Path(id): Path<String>,
) -> ApiResult<Json<EscrowMessage>> {
    let permit = s
        .service
        .permit(&caller, UseCase::Release)?
        .in_request(tag.as_ref());
    let release = Release {
        contract: contract_id(&s, &id).await?,
        milestone: None,
        force: None,
    };
    let c = s.service.release(permit, &release).await?;
    Ok(escrow_msg("Fund has been released", &c))
}

#[utoipa::path(put, path = "/api/admin/escrow/refund-client/{contractId}/{clientId}", tag = "escrow",
    params(("contractId" = String, Path, description = "the contract id (24 hex) or its human id (CON00000042)"), ("clientId" = String, Path)), request_body(content = Option<RefundBody>, description = "optional"),
    responses((status = 200, body = EscrowMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn refund(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Idempotent(tag): Idempotent,
    Path((id, client)): Path<(String, String)>,
    ApiJson(body): ApiJson<Option<RefundBody>>,
) -> ApiResult<Json<EscrowMessage>> {
    let refund = body
        .unwrap_or_default()
        .into_refund(contract_id(&s, &id).await?);
    let client: UserId = input::id(&client, "client id")?;
    let permit = s
        .service
        .permit(
            &caller,
            UseCase::Refund {
                client: Some(&client),
            },
        )?
        .in_request(tag.as_ref());
    let c = s.service.refund(permit, &refund).await?;
    Ok(escrow_msg("Refund has been processed", &c))
}

#[utoipa::path(get, path = "/api/admin/escrow/balance", tag = "reports", responses((status = 200, body = AmountView), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn balance(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<AmountView>> {
    let permit = s.service.permit(&caller, UseCase::Reports)?;
    Ok(Json(s.service.balance(permit).await?.into()))
}

#[utoipa::path(get, path = "/api/admin/escrow/total-revenue", tag = "reports", responses((status = 200, body = AmountView), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn total_revenue(
    State(s): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<Json<AmountView>> {
    let permit = s.service.permit(&caller, UseCase::Reports)?;
    Ok(Json(s.service.revenue(permit).await?.into()))
}

#[utoipa::path(get, path = "/api/admin/escrow/transactions", tag = "reports",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = TransactionPage), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn transactions(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Paging(page): Paging,
) -> ApiResult<Json<TransactionPage>> {
    let permit = s.service.permit(&caller, UseCase::Reports)?;
    let escrows = s
        .service
        .escrows(permit, &ContractFilter::default(), page)
        .await?;
    let cards = s.service.cards(&escrows.contracts).await?;
    Ok(Json(TransactionPage {
        count: escrows.count,
        page: escrows.page.page,
        limit: escrows.page.limit,
        data: escrows
            .contracts
            .iter()
            .filter_map(|c| TransactionRow::of(c, &cards))
            .collect(),
        next: crate::views::next(&escrows.next),
    }))
}

#[derive(Deserialize)]
pub struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

#[utoipa::path(get, path = "/api/admin/escrow/sales-report", tag = "reports",
    params(("from" = Option<String>, Query, description = "YYYY-MM-DD, inclusive"), ("to" = Option<String>, Query, description = "YYYY-MM-DD, exclusive")),
    responses((status = 200, body = SalesReport), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn sales_report(
    State(s): State<AppState>,
    Auth(caller): Auth,
    q: Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<SalesReport>> {
    let permit = s.service.permit(&caller, UseCase::Reports)?;
    let range = match q {
        Ok(Query(q)) => SalesRange {
            from_ms: q.from.map(|f| input::date_ms("from", &f)).transpose()?,
            to_ms: q.to.map(|t| input::date_ms("to", &t)).transpose()?,
        },
        Err(_) => {
            return Err(error(
                ErrorCode::ValidationDate,
                "from and to must be dates YYYY-MM-DD",
            ));
        }
    };
    let report = s.service.sales(permit, range).await?;
    Ok(Json(SalesReport::from(&report)))
}

#[utoipa::path(get, path = "/api/freelancer/wallet", tag = "wallets",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = WalletView), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn my_wallet(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Paging(page): Paging,
) -> ApiResult<Json<WalletView>> {
    let me = caller.user().expect("a bearer token is a user").id.clone();
    let permit = s
        .service
        .permit(&caller, UseCase::ViewWallet { owner: &me })?;
    Ok(Json(WalletView::from(
        &s.service.wallet(permit, page).await?,
    )))
}

#[utoipa::path(get, path = "/api/admin/wallet/{userId}", tag = "wallets",
    params(("userId" = String, Path), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = WalletView), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn user_wallet(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(user): Path<String>,
    Paging(page): Paging,
) -> ApiResult<Json<WalletView>> {
    let user: UserId = input::id(&user, "user id")?;
    let permit = s
        .service
        .permit(&caller, UseCase::ViewWallet { owner: &user })?;
    Ok(Json(WalletView::from(
        &s.service.wallet(permit, page).await?,
    )))
}

#[utoipa::path(post, path = "/api/client/review/rate-freelancer/{clientId}", tag = "reviews",
    params(("clientId" = String, Path)), request_body = ReviewBody,
    responses((status = 201, body = ReviewMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rate_freelancer(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(client): Path<String>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> ApiResult<(StatusCode, Json<ReviewMessage>)> {
    let client: UserId = input::id(&client, "client id")?;
    let permit = s
        .service
        .permit(&caller, UseCase::RateFreelancer { client: &client })?;
    let review = s.service.rate_freelancer(permit, body.parse()?).await?;
    Ok((
        StatusCode::CREATED,
        Json(ReviewMessage {
            message: "Review created successfully".into(),
            data: ReviewView::from(&review),
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
    let freelancer: UserId = input::id(&f, "freelancer id")?;
    let body = s.review_pages.get(&s.service, &freelancer, page).await?;
    Ok(([(CONTENT_TYPE, "application/json")], body))
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// An image or video file (jpeg, png, gif, webp, avif, heic, bmp, tiff; mp4, m4v, webm,
    /// quicktime, matroska, avi, mpeg), recognised from its bytes.
    #[schema(value_type = String, format = Binary)]
    media: Vec<u8>,
}

#[utoipa::path(post, path = "/api/media/upload", tag = "media",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 200, body = MediaView), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn upload(
    State(s): State<AppState>,
    MediaAuth(caller): MediaAuth,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Json<MediaView>> {
    let permit = s.service.permit(&caller, UseCase::Upload)?;
    // axum's own rejection is plain text; a body that is not multipart at all is a 415.
    let mut form = form.map_err(|_| {
        error(
            ErrorCode::RequestUnsupportedMediaType,
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
                ErrorCode::MediaMissing,
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
        let stored = s.service.upload(permit, Box::pin(stream)).await?;
        return Ok(Json(stored.into()));
    }
}

fn multipart_error(text: &str, status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        error(ErrorCode::MediaTooLarge, "the upload is too large")
    } else {
        error(ErrorCode::RequestBadMultipart, text.to_string())
    }
}

/// Serves a locally stored media file.
pub async fn media_file(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    let not_found = || error(ErrorCode::MediaNotFound, "no such file").into_response();
    let Some(dir) = s.media_dir.as_ref() else {
        return not_found();
    };
    if !crate::media::local::LocalMediaStore::is_stored_name(&name) {
        return not_found();
    }
    let Some(mime) = name
        .rsplit('.')
        .next()
        .and_then(crate::domain::media::by_extension)
        .map(|t| t.mime)
    else {
        return not_found();
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
        Err(_) => not_found(),
    }
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "the process is alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "storage reachable"), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(s): State<AppState>) -> ApiResult<&'static str> {
    s.service.ping().await?;
    Ok("ready")
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    description = "On its own listener when `ESCROW_METRICS_LISTEN` is set (then not here); asks for `Authorization: Bearer <ESCROW_METRICS_TOKEN>` when that is set.",
    responses((status = 200, description = "Prometheus metrics, OpenMetrics text format", content_type = "application/openmetrics-text"), (status = 401, body = ErrorBody)))]
pub async fn metrics(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !s.metrics.allows(authorization) {
        return error(
            ErrorCode::AuthInvalidToken,
            "/metrics needs Authorization: Bearer <ESCROW_METRICS_TOKEN>",
        )
        .into_response();
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.service.metrics().render(),
    )
        .into_response()
}

#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "this document")))]
pub async fn openapi() -> impl IntoResponse {
    Json(super::openapi::document())
}
