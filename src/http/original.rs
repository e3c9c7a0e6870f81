//! The original app's contract routes its front end calls, with the original's response
//! shapes (its users and jobs populated from the directory). Identity comes from the token:
//! the original served most of these without one and leaked names and emails; here a party or
//! an admin reads a contract, and a route that names a user (`:clientId`, `:freelancerId`)
//! serves that user or an admin. `completed-works`, a public profile list, shows titles and
//! dates only and asks for no token.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::bodies::CreateContract;
use super::error::ErrorBody;
use super::extract::{ApiJson, Auth, Idempotent, WholeList};
use super::routes::{ApiResult, ContractMessage, contract_id, msg};
use crate::domain::{JobId, UserId};
use crate::service::contracts::Side;
use crate::service::{UseCase, input};
use crate::views::next;
use crate::views::original::{
    CompletedWorks, ContractData, ContractEnvelope, EarningsView, FreelancerContracts,
    MaybeContract, OriginalContract, PublicWork, WalletMonths, WalletTransactions,
};

fn user_id(text: &str, what: &str) -> ApiResult<UserId> {
    Ok(input::id(text, what)?)
}

#[utoipa::path(post, path = "/api/client/contract/create-contract/{jobId}/{clientId}", tag = "original",
    params(("jobId" = String, Path), ("clientId" = String, Path, description = "must be the caller")), request_body = CreateContract,
    responses((status = 201, body = ContractMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_contract_as(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Idempotent(tag): Idempotent,
    Path((job, client)): Path<(String, String)>,
    ApiJson(body): ApiJson<CreateContract>,
) -> ApiResult<(StatusCode, Json<ContractMessage>)> {
    let client = user_id(&client, "client id")?;
    let permit = s
        .service
        .permit(&caller, UseCase::CreateContract)?
        .naming(&client)?
        .in_request(tag.as_ref());
    let job: JobId = input::id(&job, "job id")?;
    let new = body.parse(job, s.service.settings().currency)?;
    let c = s.service.create_contract(permit, new).await?;
    Ok((
        StatusCode::CREATED,
        msg("Contract created successfully", &c),
    ))
}

#[utoipa::path(post, path = "/api/freelancer/contract/approve-contract/{contractId}/{freelancerId}", tag = "original",
    params(("contractId" = String, Path, description = "the contract id (24 hex) or its human id (CON00000042)"), ("freelancerId" = String, Path, description = "must be the caller")),
    responses((status = 200, body = ContractMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn approve_contract_as(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((id, freelancer)): Path<(String, String)>,
) -> ApiResult<Json<ContractMessage>> {
    let freelancer = user_id(&freelancer, "freelancer id")?;
    let permit = s
        .service
        .permit(&caller, UseCase::ApproveContract)?
        .naming(&freelancer)?;
    let c = s
        .service
        .approve_contract(permit, &contract_id(&s, &id).await?)
        .await?;
    Ok(msg("Contract approved", &c))
}

#[utoipa::path(get, path = "/api/freelancer/contract/view-contract/{contractId}", tag = "original",
    params(("contractId" = String, Path, description = "the contract id (24 hex) or its human id (CON00000042)")),
    responses((status = 200, body = ContractEnvelope), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn view_contract(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ContractEnvelope>> {
    let id = contract_id(&s, &id).await?;
    let permit = s.service.permit(&caller, UseCase::ViewContract)?;
    let (c, cards) = s.service.contract_with_cards(permit, &id).await?;
    Ok(Json(ContractEnvelope {
        contract: OriginalContract::of(&c, &cards),
    }))
}

#[utoipa::path(get, path = "/api/client/contract/get-contracts/{clientId}", tag = "original",
    params(("clientId" = String, Path), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = ContractData), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn client_contracts(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(client): Path<String>,
    WholeList(page): WholeList,
) -> ApiResult<Json<ContractData>> {
    let client = user_id(&client, "client id")?;
    let permit = s
        .service
        .permit(&caller, UseCase::ListContracts { owner: &client })?;
    let list = s
        .service
        .contracts_of(permit, Side::Client, &client, None, page)
        .await?;
    Ok(Json(ContractData {
        count: list.count,
        data: OriginalContract::list(&list.contracts, &list.cards),
        next: next(&list.next),
    }))
}

#[utoipa::path(get, path = "/api/freelancer/contract/get-contracts/{freelancerId}", tag = "original",
    params(("freelancerId" = String, Path), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = FreelancerContracts), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn freelancer_contracts(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(freelancer): Path<String>,
    WholeList(page): WholeList,
) -> ApiResult<Json<FreelancerContracts>> {
    let freelancer = user_id(&freelancer, "freelancer id")?;
    let permit = s
        .service
        .permit(&caller, UseCase::ListContracts { owner: &freelancer })?;
    let list = s
        .service
        .contracts_of(permit, Side::Freelancer, &freelancer, None, page)
        .await?;
    Ok(Json(FreelancerContracts {
        count: list.count,
        contracts: OriginalContract::list(&list.contracts, &list.cards),
        next: next(&list.next),
    }))
}

#[utoipa::path(get, path = "/api/client/contract/is-created/{jobId}/{clientId}", tag = "original",
    params(("jobId" = String, Path), ("clientId" = String, Path)),
    responses((status = 200, body = MaybeContract), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn is_created(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((job, client)): Path<(String, String)>,
) -> ApiResult<Json<MaybeContract>> {
    let job: JobId = input::id(&job, "job id")?;
    let client = user_id(&client, "client id")?;
    let permit = s
        .service
        .permit(&caller, UseCase::ListContracts { owner: &client })?;
    let found = s.service.contract_for_job(permit, &job, &client).await?;
    Ok(Json(MaybeContract {
        contract: found.map(|(c, cards)| OriginalContract::of(&c, &cards)),
    }))
}

#[utoipa::path(get, path = "/api/freelancer/contract/completed-works/{freelancerId}", tag = "original",
    params(("freelancerId" = String, Path), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = CompletedWorks), (status = 400, body = ErrorBody)))]
pub async fn completed_works(
    State(s): State<AppState>,
    Path(freelancer): Path<String>,
    WholeList(page): WholeList,
) -> ApiResult<Json<CompletedWorks>> {
    let freelancer = user_id(&freelancer, "freelancer id")?;
    let list = s.service.completed_works(&freelancer, page).await?;
    Ok(Json(CompletedWorks {
        count: list.count,
        contracts: list
            .contracts
            .iter()
            .map(|c| PublicWork::of(c, &list.cards))
            .collect(),
        next: next(&list.next),
    }))
}

#[utoipa::path(get, path = "/api/client/contract/all-contracts", tag = "original",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = ContractData), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn all_contracts(
    State(s): State<AppState>,
    Auth(caller): Auth,
    WholeList(page): WholeList,
) -> ApiResult<Json<ContractData>> {
    let permit = s.service.permit(&caller, UseCase::Reports)?;
    let list = s.service.all_contracts(permit, page).await?;
    Ok(Json(ContractData {
        count: list.count,
        data: OriginalContract::list(&list.contracts, &list.cards),
        next: next(&list.next),
    }))
}

/// Why a contract is canceled (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelBody {
    #[serde(default)]
    pub cancel_reason: Option<String>,
}

#[utoipa::path(delete, path = "/api/client/contract/cancel-contract/{contractId}", tag = "original",
    params(("contractId" = String, Path, description = "the contract id (24 hex) or its human id (CON00000042)")), request_body(content = Option<CancelBody>, description = "optional"),
    responses((status = 200, body = ContractMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn cancel_contract(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Option<CancelBody>>,
) -> ApiResult<Json<ContractMessage>> {
    let id = contract_id(&s, &id).await?;
    let permit = s.service.permit(&caller, UseCase::CancelContract)?;
    let reason = body.unwrap_or_default().cancel_reason.unwrap_or_default();
    let c = s.service.cancel_contract(permit, &id, &reason).await?;
    Ok(msg("Contract canceled", &c))
}

#[utoipa::path(put, path = "/api/admin/contract/cancel/{contractId}", tag = "contracts",
    params(("contractId" = String, Path, description = "the contract id (24 hex) or its human id (CON00000042)")), request_body(content = Option<CancelBody>, description = "optional"),
    responses((status = 200, body = ContractMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn admin_cancel_contract(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Option<CancelBody>>,
) -> ApiResult<Json<ContractMessage>> {
    let id = contract_id(&s, &id).await?;
    // Admins only here (the route above is the client's too).
    s.service.permit(&caller, UseCase::Reports)?;
    let permit = s.service.permit(&caller, UseCase::CancelContract)?;
    let reason = body.unwrap_or_default().cancel_reason.unwrap_or_default();
    let c = s.service.cancel_contract(permit, &id, &reason).await?;
    Ok(msg("Contract canceled", &c))
}

#[utoipa::path(get, path = "/api/freelancer/wallet/earnings/{userId}", tag = "original",
    params(("userId" = String, Path), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = EarningsView), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn earnings(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(user): Path<String>,
    WholeList(page): WholeList,
) -> ApiResult<Json<EarningsView>> {
    let user = user_id(&user, "user id")?;
    let permit = s
        .service
        .permit(&caller, UseCase::ViewWallet { owner: &user })?;
    let activity = s.service.wallet_activity(permit, page).await?;
    Ok(Json(EarningsView::from(&activity)))
}

#[utoipa::path(get, path = "/api/freelancer/wallet/transactions/{walletId}", tag = "original",
    params(("walletId" = String, Path, description = "the wallet's `_id` from `earnings`: its owner's user id"), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = WalletTransactions), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn wallet_transactions(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(wallet): Path<String>,
    WholeList(page): WholeList,
) -> ApiResult<Json<WalletTransactions>> {
    let user = user_id(&wallet, "wallet id")?;
    let permit = s
        .service
        .permit(&caller, UseCase::ViewWallet { owner: &user })?;
    let activity = s.service.wallet_activity(permit, page).await?;
    Ok(Json(WalletTransactions::from(&activity)))
}

#[utoipa::path(get, path = "/api/freelancer/wallet/user-sales-report/{userId}", tag = "original",
    params(("userId" = String, Path)),
    responses((status = 200, body = WalletMonths), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn wallet_sales_report(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(user): Path<String>,
) -> ApiResult<Json<WalletMonths>> {
    let user = user_id(&user, "user id")?;
    let permit = s
        .service
        .permit(&caller, UseCase::ViewWallet { owner: &user })?;
    let months = s.service.wallet_months(permit).await?;
    Ok(Json(WalletMonths::of(
        &months,
        s.service.settings().currency,
    )))
}
