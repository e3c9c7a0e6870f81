//! `escrowctl contract cancel`.

use super::args::{CancelArgs, ContractCommand};
use super::confirm::operator;
use super::exit::CliError;
use super::output::Output;
use crate::service::{Service, UseCase};
use crate::views::ContractView;

pub async fn run(
    service: &Service,
    out: &Output,
    command: ContractCommand,
) -> Result<(), CliError> {
    match command {
        ContractCommand::Cancel(a) => cancel(service, out, a).await,
    }
}

async fn cancel(service: &Service, out: &Output, a: CancelArgs) -> Result<(), CliError> {
    let id = super::escrow::contract_id(service, &a.contract_id).await?;
    let caller = operator(a.actor);
    let permit = service.permit(&caller, UseCase::CancelContract)?;
    let c = service.cancel_contract(permit, &id, &a.reason).await?;
    let view = ContractView::from(&c);
    if out.is_json() {
        return out.json(&view);
    }
    out.line(&format!(
        "contract {} canceled ({}); its job {} is free for a new contract",
        view.id, view.cancel_reason, view.job_id
    ))
}
