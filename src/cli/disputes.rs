//! `escrowctl disputes list [--open]`.

use comfy_table::Cell;

use super::args::{DisputesCommand, DisputesListArgs};
use super::confirm::operator;
use super::escrow::which_page;
use super::exit::CliError;
use super::output::{Output, money_with_code, short_minute};
use crate::service::{Service, UseCase};
use crate::views::EscrowPage;

pub async fn run(
    service: &Service,
    out: &Output,
    command: DisputesCommand,
) -> Result<(), CliError> {
    match command {
        DisputesCommand::List(a) => list(service, out, a).await,
    }
}

async fn list(service: &Service, out: &Output, a: DisputesListArgs) -> Result<(), CliError> {
    let caller = operator(None);
    let permit = service.permit(&caller, UseCase::ResolveDispute)?;
    let page = service.disputes(permit, a.open, a.page.page()).await?;
    let page = EscrowPage::from(&page);
    if out.is_json() {
        return out.json(&page);
    }
    let mut t = out.new_table(&[
        "Contract".into(),
        "Dispute".into(),
        "Kind".into(),
        "Status".into(),
        "Milestones".into(),
        "Opened".into(),
        "Reason".into(),
        "Outcome".into(),
    ]);
    let mut rows = 0;
    for e in &page.data {
        for d in e.disputes.iter().filter(|d| !a.open || d.status == "open") {
            rows += 1;
            let outcome = match (&d.resolution, &d.chargeback) {
                (None, None) if d.outside_refund.is_some() => {
                    let o = d.outside_refund.as_ref().expect("checked");
                    format!(
                        "{} refunded outside: {} from the escrow, {} a platform loss",
                        money_with_code(o.refunded, e.currency),
                        money_with_code(o.taken_from_escrow, e.currency),
                        money_with_code(o.platform_loss, e.currency)
                    )
                }
                (None, Some(cb)) if cb.closed => format!(
                    "{}: {} from the escrow, {} a platform loss",
                    cb.provider_status,
                    money_with_code(cb.taken_from_escrow, e.currency),
                    money_with_code(cb.platform_loss, e.currency)
                ),
                (None, Some(cb)) => format!(
                    "{} {} at the bank ({}), evidence due {}",
                    money_with_code(cb.amount, e.currency),
                    cb.provider_status,
                    cb.provider_dispute_id,
                    cb.evidence_due_by
                        .as_deref()
                        .map(short_minute)
                        .unwrap_or_default()
                ),
                (Some(r), _) => format!(
                    "client {}, freelancer {}, fee {}",
                    money_with_code(r.client_share, e.currency),
                    money_with_code(r.freelancer_share, e.currency),
                    money_with_code(r.platform_fee, e.currency)
                ),
                (None, None) if d.responses.is_empty() => "awaiting the freelancer".into(),
                (None, None) => format!("{} answer(s); awaiting an admin", d.responses.len()),
            };
            t.add_row(vec![
                Cell::new(&e.contract_id),
                Cell::new(d.id),
                Cell::new(d.kind),
                Cell::new(d.status),
                Cell::new(
                    d.milestones
                        .iter()
                        .map(|m| m.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                Cell::new(format!("{} by {}", short_minute(&d.opened_at), d.opened_by)),
                Cell::new(&d.reason),
                Cell::new(outcome),
            ]);
        }
    }
    out.table(&t)?;
    let of = page.count.map(|n| format!(" of {n}")).unwrap_or_default();
    out.line(&format!(
        "{rows} disputes on {}{of} contracts ({}, {} per page)",
        page.data.len(),
        which_page(&a.page),
        page.limit,
    ))?;
    out.next_page(&page.next)
}
