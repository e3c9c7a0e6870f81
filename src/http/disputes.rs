//! The dispute routes: the contract's client disputes its held escrow, the freelancer answers,
//! an admin resolves it with an explicit split.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::AppState;
use super::bodies::share_schema;
use super::error::ErrorBody;
use super::extract::{ApiJson, Auth, Idempotent};
use super::routes::{ApiResult, ContractMessage, EscrowMessage, contract_id, escrow_msg, msg};
use crate::service::disputes::Resolution;
use crate::service::{UseCase, input};

/// The body of a client's dispute.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisputeBody {
    /// Why (not blank; at most 2 000 characters are kept).
    #[schema(max_length = 2000, pattern = "[^\\s]")]
    pub reason: String,
    #[schema(max_length = 2000)]
    #[serde(default)]
    pub description: Option<String>,
}

/// The body of a freelancer's answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisputeResponseBody {
    /// The answer (not blank; at most 2 000 characters are kept).
    #[schema(max_length = 2000, pattern = "[^\\s]")]
    pub description: String,
}

/// The body of an admin's resolution: the shares in rupees (0 allowed); with the retained fee
/// they must add up to the disputed escrow's amount (else 422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResolveBody {
    /// Back to the client through the payment provider.
    #[schema(schema_with = share_schema)]
    pub client_share: Box<RawValue>,
    /// To the freelancer's wallet.
    #[schema(schema_with = share_schema)]
    pub freelancer_share: Box<RawValue>,
    #[schema(max_length = 2000)]
    #[serde(default)]
    pub reason: Option<String>,
}

const CONTRACT_PARAM: &str = "the contract id (24 hex) or its human id (CON00000042)";

#[utoipa::path(post, path = "/api/client/contract/dispute/{contractId}", tag = "disputes",
    params(("contractId" = String, Path, description = CONTRACT_PARAM)),
    request_body = DisputeBody,
    responses((status = 200, body = ContractMessage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn open(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Idempotent(tag): Idempotent,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DisputeBody>,
) -> ApiResult<Json<ContractMessage>> {
    let permit = s
        .service
        .permit(&caller, UseCase::Dispute)?
        .in_request(tag.as_ref());
    let reason = input::required_text("reason", &body.reason)?;
    let description = body.description.unwrap_or_default();
    let c = s
        .service
        .open_dispute(permit, &contract_id(&s, &id).await?, &reason, &description)
        .await?;
    Ok(msg(
        "Dispute opened: the escrow is frozen until an admin resolves it",
        &c,
    ))
}

#[utoipa::path(post, path = "/api/freelancer/contract/dispute/{contractId}/respond", tag = "disputes",
    params(("contractId" = String, Path, description = CONTRACT_PARAM)),
    request_body = DisputeResponseBody,
    responses((status = 200, body = ContractMessage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn respond(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Idempotent(tag): Idempotent,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DisputeResponseBody>,
) -> ApiResult<Json<ContractMessage>> {
    let permit = s
        .service
        .permit(&caller, UseCase::RespondDispute)?
        .in_request(tag.as_ref());
    let description = input::required_text("description", &body.description)?;
    let c = s
        .service
        .respond_to_dispute(permit, &contract_id(&s, &id).await?, &description)
        .await?;
    Ok(msg("Response recorded", &c))
}

#[utoipa::path(put, path = "/api/admin/escrow/resolve-dispute/{contractId}", tag = "disputes",
    params(("contractId" = String, Path, description = CONTRACT_PARAM)),
    request_body = ResolveBody,
    responses((status = 200, body = EscrowMessage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn resolve(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Idempotent(tag): Idempotent,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ResolveBody>,
) -> ApiResult<Json<EscrowMessage>> {
    let permit = s
        .service
        .permit(&caller, UseCase::ResolveDispute)?
        .in_request(tag.as_ref());
    let currency = s.service.settings().currency;
    let resolution = Resolution {
        contract: contract_id(&s, &id).await?,
        client_share: input::share("clientShare", body.client_share.get(), currency)?,
        freelancer_share: input::share("freelancerShare", body.freelancer_share.get(), currency)?,
        reason: body.reason.unwrap_or_default(),
    };
    let c = s.service.resolve_dispute(permit, &resolution).await?;
    Ok(escrow_msg("Dispute resolved", &c))
}
