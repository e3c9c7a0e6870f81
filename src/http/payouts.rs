//! Money out: a freelancer's connected account and payouts, and the admins' view of every
//! payout. Handlers as in `routes`: a permit, a parsed command, one use case.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ErrorBody, error};
use super::extract::{ApiJson, Auth, Idempotent, Paging};
use super::routes::ApiResult;
use crate::domain::{PayoutId, PayoutStatus, UserId};
use crate::service::{Caller, ErrorCode, UseCase, input};
use crate::store::PayoutFilter;
use crate::views::{OnboardingView, PayoutAccountView, PayoutPageView, PayoutView, WebhookReply};

/// The body of a payout request.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PayoutBody {
    /// Rupees, as a JSON number or string, parsed exactly; absent: the whole balance.
    #[schema(schema_with = super::bodies::amount_schema)]
    pub amount: Option<Box<RawValue>>,
}

fn me(caller: &Caller) -> UserId {
    caller.user().expect("a bearer token is a user").id.clone()
}

#[utoipa::path(post, path = "/api/freelancer/payouts/onboarding", tag = "payouts",
    responses((status = 200, body = OnboardingView), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn onboarding(
    State(s): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<Json<OnboardingView>> {
    let me = me(&caller);
    let permit = s.service.permit(&caller, UseCase::Payouts { owner: &me })?;
    Ok(Json(s.service.onboard(permit).await?.into()))
}

#[utoipa::path(get, path = "/api/freelancer/payouts/account", tag = "payouts",
    responses((status = 200, body = PayoutAccountView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn account(
    State(s): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<Json<PayoutAccountView>> {
    let me = me(&caller);
    let permit = s.service.permit(&caller, UseCase::Payouts { owner: &me })?;
    Ok(Json(PayoutAccountView::from(
        &s.service.payout_account(permit).await?,
    )))
}

#[utoipa::path(post, path = "/api/freelancer/payouts", tag = "payouts",
    request_body(content = Option<PayoutBody>, description = "optional: without an amount, the whole balance"),
    responses((status = 201, body = PayoutView, description = "debited; `status` says whether the transfer is made (`paid`), waits (`pending`: retried) or was refused (`failed`: the money is back in the wallet)"),
        (status = 409, body = ErrorBody, description = "payout.no_account, payout.not_enabled, payout.insufficient_balance"),
        (status = 422, body = ErrorBody, description = "payout.below_minimum, validation.amount"), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn request(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Idempotent(tag): Idempotent,
    ApiJson(body): ApiJson<Option<PayoutBody>>,
) -> ApiResult<(StatusCode, Json<PayoutView>)> {
    let me = me(&caller);
    let permit = s
        .service
        .permit(&caller, UseCase::Payouts { owner: &me })?
        .in_request(tag.as_ref());
    let currency = s.service.settings().currency;
    let amount = body
        .unwrap_or_default()
        .amount
        .map(|a| input::amount("amount", a.get(), currency))
        .transpose()?;
    let p = s.service.request_payout(permit, amount).await?;
    Ok((StatusCode::CREATED, Json(PayoutView::from(&p))))
}

/// The money-out lists take only the parameters they document (they have no older clients
/// whose extra parameters must be ignored): anything else is a 400 `request.bad_query`.
fn only_params(
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
    known: &[&str],
) -> Result<HashMap<String, String>, super::error::ApiError> {
    let Query(q) = query.map_err(|e| error(ErrorCode::RequestBadQuery, e.body_text()))?;
    if let Some(unknown) = q.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(error(
            ErrorCode::RequestBadQuery,
            format!(
                "unknown query parameter {:?}: this route takes {}",
                unknown.chars().take(64).collect::<String>(),
                known.join(", ")
            ),
        ));
    }
    Ok(q)
}

#[utoipa::path(get, path = "/api/freelancer/payouts", tag = "payouts",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = PayoutPageView), (status = 400, body = ErrorBody, description = "an unknown or unreadable query parameter (`request.bad_query`)"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn mine(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Paging(page): Paging,
) -> ApiResult<Json<PayoutPageView>> {
    let me = me(&caller);
    let permit = s.service.permit(&caller, UseCase::Payouts { owner: &me })?;
    let found = s
        .service
        .payouts(permit, PayoutFilter::default(), page)
        .await?;
    Ok(Json(PayoutPageView::from(&found)))
}

#[utoipa::path(get, path = "/api/admin/payouts", tag = "payouts",
    params(("status" = Option<PayoutStatus>, Query), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = PayoutPageView), (status = 400, body = ErrorBody, description = "an unknown or unreadable query parameter (`request.bad_query`)"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn all(
    State(s): State<AppState>,
    Auth(caller): Auth,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<PayoutPageView>> {
    let permit = s.service.permit(&caller, UseCase::OperatePayouts)?;
    let q = only_params(query, &["status", "page", "limit", "after"])?;
    let page = super::extract::page_from(&q, 20)?;
    let filter = PayoutFilter {
        user: None,
        status: q.get("status").map(|s| parse_status(s)).transpose()?,
    };
    let found = s.service.payouts(permit, filter, page).await?;
    Ok(Json(PayoutPageView::from(&found)))
}

/// A payout status by its name: 422 `validation.status`.
pub fn parse_status(text: &str) -> Result<PayoutStatus, super::error::ApiError> {
    PayoutStatus::parse(text).ok_or_else(|| {
        error(
            ErrorCode::ValidationStatus,
            format!(
                "status must be one of {}; got {text:?}",
                PayoutStatus::ALL.map(PayoutStatus::as_str).join(", ")
            ),
        )
    })
}

#[utoipa::path(get, path = "/api/payouts/{payoutId}", tag = "payouts",
    params(("payoutId" = String, Path)),
    responses((status = 200, body = PayoutView), (status = 404, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn one(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<PayoutView>> {
    let id: PayoutId = input::id(&id, "payout id")?;
    let me = me(&caller);
    let permit = s.service.permit(&caller, UseCase::Payouts { owner: &me })?;
    Ok(Json(PayoutView::from(
        &s.service.payout(permit, &id).await?,
    )))
}

#[utoipa::path(post, path = "/webhook/connect", tag = "payouts",
    params(("Stripe-Signature" = String, Header, description = "t=<unix>,v1=<hex>, signed with STRIPE_CONNECT_WEBHOOK_SECRET")),
    request_body(content = String, content_type = "application/json", description = "the raw signed Stripe event (a Connect endpoint's: account.updated, transfer.reversed)"),
    responses((status = 200, body = WebhookReply), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn connect_webhook(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<WebhookReply>> {
    Ok(Json(
        s.service
            .handle_connect_webhook(&body, super::routes::stripe_signature(&headers))
            .await?
            .into(),
    ))
}
