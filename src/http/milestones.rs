//! The milestone routes: the freelancer submits a milestone, the client asks for its release,
//! an admin releases it. The original's whole-contract routes act on every held milestone.

use axum::Json;
use axum::extract::{Path, State};

use super::AppState;
use super::error::ErrorBody;
use super::extract::{ApiJson, Auth, Idempotent};
use super::routes::{ApiResult, ContractMessage, EscrowMessage, contract_id, escrow_msg, msg};
use crate::service::escrow::Release;
use crate::service::{UseCase, input};

#[utoipa::path(put, path = "/api/freelancer/contract/milestones/{contractId}/{milestoneId}/submit", tag = "milestones",
    params(("contractId" = String, Path, description = "the contract id (24 hex) or its human id (CON00000042)"), ("milestoneId" = i64, Path, minimum = 1, maximum = 50, description = "the milestone's number")),
    responses((status = 200, body = ContractMessage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn submit(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((id, milestone)): Path<(String, String)>,
) -> ApiResult<Json<ContractMessage>> {
    let permit = s.service.permit(&caller, UseCase::UpdateStatus)?;
    let milestone = input::milestone(&milestone)?;
    let c = s
        .service
        .submit_milestone(permit, &contract_id(&s, &id).await?, milestone)
        .await?;
    Ok(msg("Milestone submitted", &c))
}

#[utoipa::path(patch, path = "/api/client/contract/release-fund/{contractId}/milestones/{milestoneId}", tag = "milestones",
    params(("contractId" = String, Path, description = "the contract id (24 hex) or its human id (CON00000042)"), ("milestoneId" = i64, Path, minimum = 1, maximum = 50, description = "the milestone's number")),
    responses((status = 200, body = ContractMessage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn request_release(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((id, milestone)): Path<(String, String)>,
) -> ApiResult<Json<ContractMessage>> {
    let permit = s.service.permit(&caller, UseCase::RequestRelease)?;
    let milestone = input::milestone(&milestone)?;
    let c = s
        .service
        .request_release(permit, &contract_id(&s, &id).await?, Some(milestone))
        .await?;
    Ok(msg("Milestone release requested successfully.", &c))
}

#[utoipa::path(put, path = "/api/admin/escrow/release-fund/{contractId}/milestones/{milestoneId}", tag = "milestones",
    params(("contractId" = String, Path, description = "the contract id (24 hex) or its human id (CON00000042)"), ("milestoneId" = i64, Path, minimum = 1, maximum = 50, description = "the milestone's number")),
    responses((status = 200, body = EscrowMessage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn release(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Idempotent(tag): Idempotent,
    Path((id, milestone)): Path<(String, String)>,
) -> ApiResult<Json<EscrowMessage>> {
    let permit = s
        .service
        .permit(&caller, UseCase::Release)?
        .in_request(tag.as_ref());
    let release = Release {
        contract: contract_id(&s, &id).await?,
        milestone: Some(input::milestone(&milestone)?),
        force: None,
    };
    let c = s.service.release(permit, &release).await?;
    Ok(escrow_msg("Milestone fund has been released", &c))
}

/// The body of a milestone's reject: why (optional, kept in its history).
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RejectBody {
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
}

#[utoipa::path(put, path = "/api/client/contract/milestones/{contractId}/{milestoneId}/reject", tag = "milestones",
    params(("contractId" = String, Path, description = "the contract id (24 hex) or its human id (CON00000042)"), ("milestoneId" = i64, Path, minimum = 1, maximum = 50, description = "the milestone's number")),
    request_body(content = Option<RejectBody>, description = "optional"),
    responses((status = 200, body = ContractMessage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn reject(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Idempotent(tag): Idempotent,
    Path((id, milestone)): Path<(String, String)>,
    ApiJson(body): ApiJson<Option<RejectBody>>,
) -> ApiResult<Json<ContractMessage>> {
    let permit = s
        .service
        .permit(&caller, UseCase::RequestRelease)?
        .in_request(tag.as_ref());
    let milestone = input::milestone(&milestone)?;
    let reason = body.unwrap_or_default().reason.unwrap_or_default();
    let c = s
        .service
        .reject_milestone(permit, &contract_id(&s, &id).await?, milestone, &reason)
        .await?;
    Ok(msg("Milestone delivery rejected", &c))
}
