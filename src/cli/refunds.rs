//! `escrowctl refunds list [--failed] | retry ID`.

use comfy_table::Cell;

use super::args::{RefundsCommand, RefundsListArgs, RefundsRetryArgs, RefundsSettleArgs};
use super::confirm::{confirm, operator};
use super::escrow::{contract_id, which_page};
use super::exit::CliError;
use super::output::{Output, money_cell, money_header, money_with_code, short_minute};
use crate::service::{Service, UseCase};
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
        let c = failed_of(service, &caller, &id).await?;
        let question = format!(
            "Send {} back to client {} again, under a new idempotency key?",
            money_with_code(c.failed_refund_total(), c.currency),
            c.client_id
        );
        let table = out.fields(vec![
            ("Contract", c.id.to_string()),
            ("Status", escrow_state(&c).to_string()),
            ("Last error", last_error(&c).unwrap_or_default()),
        ]);
        confirm("retry", &table, &question)?;
    }
    let permit = service.permit(&caller, UseCase::Refund { client: None })?;
    let c = service.retry_refunds(permit, &id).await?;
    moved(
        out,
        &c,
        &format!(
            "Refund of contract {} sent again as {}",
            c.id,
            caller.actor()
        ),
    )
}

async fn settle(service: &Service, out: &Output, a: RefundsSettleArgs) -> Result<(), CliError> {
    let id = contract_id(service, &a.contract_id).await?;
    let caller = operator(a.act.actor);
    if !a.act.yes {
        let c = failed_of(service, &caller, &id).await?;
        let question = format!(
            "Book {} to client {} as paid outside the provider ({})?",
            money_with_code(c.failed_refund_total(), c.currency),
            c.client_id,
            a.reason
        );
        let table = out.fields(vec![
            ("Contract", c.id.to_string()),
            ("Status", escrow_state(&c).to_string()),
        ]);
        confirm("settle", &table, &question)?;
    }
    let permit = service.permit(&caller, UseCase::Refund { client: None })?;
    let c = service
        .settle_failed_refunds(permit, &id, &a.reason)
        .await?;
    moved(
        out,
        &c,
        &format!(
            "Failed refund of contract {} settled by {}",
            c.id,
            caller.actor()
        ),
    )
}

/// The contract whose failed refunds the question before a retry or a settlement shows.
async fn failed_of(
    service: &Service,
    caller: &crate::service::Caller,
    id: &crate::domain::ContractId,
) -> Result<crate::domain::Contract, CliError> {
    let view = service
        .contract(service.permit(caller, UseCase::ViewContract)?, id)
        .await?;
    Ok(view.contract)
}

/// Its escrow's status, or `unfunded`: a payment to a contract canceled before it was paid is
/// kept aside and refunded, with no escrow.
fn escrow_state(c: &crate::domain::Contract) -> &'static str {
    c.escrow_status()
        .map_or("unfunded", crate::domain::EscrowStatus::as_str)
}

/// The provider's reason for the contract's failed refund (a milestone's, else a duplicate
/// payment's).
fn last_error(c: &crate::domain::Contract) -> Option<String> {
    c.escrow()
        .and_then(|e| e.refund)
        .and_then(|r| r.last_error)
        .or_else(|| {
            c.extra_payments
                .iter()
                .find(|p| p.refund_failed())
                .and_then(|p| p.last_error.clone())
        })
}

/// What a retry or a settlement leaves: the escrow, or (with none) the payments kept aside.
fn moved(out: &Output, c: &crate::domain::Contract, done: &str) -> Result<(), CliError> {
    match EscrowView::of(c) {
        Some(escrow) if out.is_json() => out.json(&escrow),
        Some(escrow) => out.line(&format!("{done}: {}", escrow.status.as_str())),
        None if out.is_json() => out.json(&serde_json::json!({
            "contractId": c.id.to_string(),
            "status": escrow_state(c),
            "extraPayments": c
                .extra_payments
                .iter()
                .map(crate::views::ExtraPaymentView::from)
                .collect::<Vec<_>>(),
        })),
        None => out.line(&format!("{done}: {}", escrow_state(c))),
    }
}
