//! `escrowctl payouts list | show | create | retry`.

use comfy_table::Cell;

use super::args::{
    PayoutCreateArgs, PayoutListArgs, PayoutRetryArgs, PayoutShowArgs, PayoutsCommand,
};
use super::confirm::{confirm, operator};
use super::exit::CliError;
use super::output::{Output, money_cell, money_header, money_with_code, short_minute, short_time};
use crate::domain::{Money, Payout, PayoutId, PayoutStatus};
use crate::service::input;
use crate::service::{Service, UseCase};
use crate::store::PayoutFilter;
use crate::views::{PayoutPageView, PayoutView};

pub async fn run(service: &Service, out: &Output, command: PayoutsCommand) -> Result<(), CliError> {
    match command {
        PayoutsCommand::List(a) => list(service, out, a).await,
        PayoutsCommand::Show(a) => show(service, out, a).await,
        PayoutsCommand::Create(a) => create(service, out, a).await,
        PayoutsCommand::Retry(a) => retry(service, out, a).await,
    }
}

async fn list(service: &Service, out: &Output, a: PayoutListArgs) -> Result<(), CliError> {
    let filter = PayoutFilter {
        user: a.user,
        status: a.status.map(PayoutStatus::from),
    };
    let caller = operator(None);
    let permit = service.permit(&caller, UseCase::OperatePayouts)?;
    let page = service.payouts(permit, filter, a.page.page()).await?;
    let page = PayoutPageView::from(&page);
    if out.is_json() {
        return out.json(&page);
    }
    let cur = service.settings().currency;
    let mut t = out.new_table(&[
        "Payout".into(),
        "User".into(),
        "Status".into(),
        money_header("Amount", cur),
        "Transfer".into(),
        "Created".into(),
    ]);
    for p in &page.data {
        t.add_row(vec![
            Cell::new(&p.id),
            Cell::new(&p.user_id),
            Cell::new(p.status.as_str()),
            money_cell(p.amount, p.currency),
            Cell::new(p.transfer_id.clone().unwrap_or_default()),
            Cell::new(short_minute(&p.created_at)),
        ]);
    }
    out.table(&t)?;
    let of = page.count.map(|n| format!(" of {n}")).unwrap_or_default();
    out.line(&format!(
        "{}{of} payouts ({})",
        page.data.len(),
        super::escrow::which_page(&a.page)
    ))?;
    out.next_page(&page.next)
}

async fn load(service: &Service, id: &PayoutId) -> Result<Payout, CliError> {
    let caller = operator(None);
    let permit = service.permit(&caller, UseCase::OperatePayouts)?;
    Ok(service.payout(permit, id).await?)
}

async fn show(service: &Service, out: &Output, a: PayoutShowArgs) -> Result<(), CliError> {
    let p = PayoutView::from(&load(service, &a.payout_id).await?);
    if out.is_json() {
        return out.json(&p);
    }
    show_tables(out, &p)
}

fn show_tables(out: &Output, p: &PayoutView) -> Result<(), CliError> {
    let cur = p.currency;
    out.table(&out.fields(vec![
        ("Payout", p.id.clone()),
        ("User", p.user_id.clone()),
        ("Status", p.status.as_str().to_string()),
        ("Amount", money_with_code(p.amount, cur)),
        ("To", p.destination.clone()),
        ("Transfer", p.transfer_id.clone().unwrap_or_default()),
        ("Attempt", p.attempt.to_string()),
        ("Failure", p.failure.clone().unwrap_or_default()),
        ("Last error", p.last_error.clone().unwrap_or_default()),
        ("Reversed", money_with_code(p.reversed, cur)),
        ("Contract", p.contract_id.clone().unwrap_or_default()),
        ("Created", short_time(&p.created_at)),
    ]))?;
    let mut t = out.new_table(&[
        "At".into(),
        "Action".into(),
        "Actor".into(),
        "Detail".into(),
    ]);
    for h in &p.history {
        t.add_row(vec![
            Cell::new(short_time(&h.at)),
            Cell::new(&h.action),
            Cell::new(&h.actor),
            Cell::new(&h.detail),
        ]);
    }
    out.table(&t)
}

/// A payout for a freelancer, to their connected account (as their own request would).
async fn create(service: &Service, out: &Output, a: PayoutCreateArgs) -> Result<(), CliError> {
    let cur = service.settings().currency;
    let amount: Option<Money> = a
        .amount
        .as_deref()
        .map(|text| Money::parse_major(text, cur).map_err(|e| input::money_error("--amount", e)))
        .transpose()?;
    let caller = operator(a.act.actor.clone());
    let permit = service.permit(&caller, UseCase::Payouts { owner: &a.user })?;
    if !a.act.yes {
        let what = amount.map_or("the whole balance".to_string(), |m| {
            money_with_code(m.minor, cur)
        });
        let plan = out.fields(vec![
            ("Pay out", what),
            ("From the wallet of", a.user.to_string()),
            ("To", "their connected account".to_string()),
        ]);
        confirm("pay out", &plan, "Send this payout?")?;
    }
    let p = PayoutView::from(&service.request_payout(permit, amount).await?);
    if out.is_json() {
        return out.json(&p);
    }
    show_tables(out, &p)
}

async fn retry(service: &Service, out: &Output, a: PayoutRetryArgs) -> Result<(), CliError> {
    let before = load(service, &a.payout_id).await?;
    if !a.act.yes {
        let plan = out.fields(vec![
            ("Retry payout", before.id.to_string()),
            ("Amount", money_with_code(before.amount, before.currency)),
            ("From the wallet of", before.user.to_string()),
            ("To", before.destination.clone()),
            ("Failed with", before.failure.clone().unwrap_or_default()),
            (
                "Attempt",
                format!("{} (new idempotency key)", before.attempt + 1),
            ),
        ]);
        confirm("retry", &plan, "Debit the wallet again and send it?")?;
    }
    let caller = operator(a.act.actor.clone());
    let permit = service.permit(&caller, UseCase::OperatePayouts)?;
    let p = PayoutView::from(&service.retry_payout(permit, &a.payout_id).await?);
    if out.is_json() {
        return out.json(&p);
    }
    show_tables(out, &p)
}
