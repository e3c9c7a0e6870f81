//! `escrowctl refunds list [--failed] | retry ID`.

use comfy_table::Cell;

use super::args::{RefundsCommand, RefundsListArgs, RefundsRetryArgs, RefundsSettleArgs};
use super::confirm::{confirm, operator};
use super::escrow::{contract_id, which_page};
use super::exit::{CliError, Exit};
use super::output::{Output, money_cell, money_header, money_with_code, short_minute};
use crate::service::{ErrorCode, Service, UseCase};
use crate::views::{EscrowPage, EscrowView};

pub async fn run(service: &Service, out: &Output, command: RefundsCommand) -> Result<(), CliError> {
    match command {
        RefundsCommand::List(a) => list(service, out, a).await,
        RefundsCommand::Retry(a) => retry(service, out, a).await,
        RefundsCommand::Settle(a) => settle(service, out, a).await,
    }
}

async fn list(service: &Service, out: &Output, a: RefundsListArgs) -> Result<(), CliError> {
    let caller = operator(None);
    let permit = service.permit(&caller, UseCase::Reports)?;
    let page = service.refunds(permit, a.failed, a.page.page()).await?;
    let page = EscrowPage::from(&page);
    if out.is_json() {
        return out.json(&page);
    }
    let cur = service.settings().currency;
    let mut t = out.new_table(&[
        "Contract".into(),
        "Status".into(),
        money_header("To client", cur),
        "Provider refund".into(),
        "Last error".into(),
        "Updated".into(),
    ]);
    for e in &page.data {
        let r = e.refund.as_ref();
        t.add_row(vec![
            Cell::new(&e.contract_id),
            Cell::new(e.status.as_str()),
            r.map_or(Cell::new(""), |r| money_cell(r.client_share, e.currency)),
            Cell::new(
                r.and_then(|r| r.provider_refund_id.clone())
                    .unwrap_or_default(),
            ),
            Cell::new(r.and_then(|r| r.last_error.clone()).unwrap_or_default()),
            Cell::new(short_minute(&e.updated_at)),
        ]);
        // A duplicate payment's refund that failed, under its contract.
        for x in e
            .extra_payments
            .iter()
            .filter(|x| a.failed && x.refund_status.as_deref() == Some("failed"))
        {
            t.add_row(vec![
                Cell::new(format!("  duplicate {}", x.payment_ref)),
                Cell::new("refund_failed"),
                money_cell(x.amount.minor(), x.currency),
                Cell::new(x.pending_refund_id.clone().unwrap_or_default()),
                Cell::new(x.last_error.clone().unwrap_or_default()),
                Cell::new(""),
            ]);
        }
    }
    out.table(&t)?;
    let of = page.count.map(|n| format!(" of {n}")).unwrap_or_default();
    out.line(&format!(
        "{}{of} contracts ({}, {} per page)",
        page.data.len(),
        which_page(&a.page),
        page.limit
    ))?;
    out.next_page(&page.next)
}

async fn retry(service: &Service, out: &Output, a: RefundsRetryArgs) -> Result<(), CliError> {
    let id = contract_id(service, &a.contract_id).await?;
    let caller = operator(a.act.actor);
    if !a.act.yes {
        let (e, owed) = refund_of(service, &caller, &id).await?;
        let question = format!(
            "Send {} back to client {} again, under a new idempotency key?",
            money_with_code(owed, e.currency),
            e.client_id
        );
        let last_error = e.refund.as_ref().and_then(|r| r.last_error.clone());
        let table = out.fields(vec![
            ("Contract", e.contract_id.clone()),
            ("Status", e.status.as_str().to_string()),
            ("Last error", last_error.unwrap_or_default()),
        ]);
        confirm("retry", &table, &question)?;
    }
    let permit = service.permit(&caller, UseCase::Refund { client: None })?;
    let c = service.retry_refunds(permit, &id).await?;
    let escrow = EscrowView::of_moved(&c);
    if out.is_json() {
        return out.json(&escrow);
    }
    out.line(&format!(
        "Refund of contract {} sent again as {}: {}",
        escrow.contract_id,
        caller.actor(),
        escrow.status.as_str()
    ))
}

async fn settle(service: &Service, out: &Output, a: RefundsSettleArgs) -> Result<(), CliError> {
    let id = contract_id(service, &a.contract_id).await?;
    let caller = operator(a.act.actor);
    if !a.act.yes {
        let (e, owed) = refund_of(service, &caller, &id).await?;
        let question = format!(
            "Book {} to client {} as paid outside the provider ({})?",
            money_with_code(owed, e.currency),
            e.client_id,
            a.reason
        );
        let table = out.fields(vec![
            ("Contract", e.contract_id.clone()),
            ("Status", e.status.as_str().to_string()),
        ]);
        confirm("settle", &table, &question)?;
    }
    let permit = service.permit(&caller, UseCase::Refund { client: None })?;
    let c = service
        .settle_failed_refunds(permit, &id, &a.reason)
        .await?;
    let escrow = EscrowView::of_moved(&c);
    if out.is_json() {
        return out.json(&escrow);
    }
    out.line(&format!(
        "Failed refund of contract {} settled by {}: {}",
        escrow.contract_id,
        caller.actor(),
        escrow.status.as_str()
    ))
}

/// The contract's escrow as the question before a retry or a settlement shows it, and what
/// its failed refunds owe the client again (milestones' shares and duplicate payments).
async fn refund_of(
    service: &Service,
    caller: &crate::service::Caller,
    id: &crate::domain::ContractId,
) -> Result<(EscrowView, crate::domain::MinorUnits), CliError> {
    let view = service
        .contract(service.permit(caller, UseCase::ViewContract)?, id)
        .await?;
    let owed = view.contract.failed_refund_total();
    let escrow = EscrowView::of(&view.contract).ok_or_else(|| {
        CliError::new(
            Exit::Conflict,
            ErrorCode::EscrowWrongState,
            "the contract has no escrow",
        )
    })?;
    Ok((escrow, owed))
}
