//! `escrowctl escrow list | show | release | refund`.

use comfy_table::Cell;

use super::args::{
    EscrowCommand, ListArgs, RefundArgs, ReleaseArgs, ResolveArgs, ShowArgs, StatusArg,
};
use super::confirm::{confirm, operator};
use super::exit::{CliError, Exit};
use super::output::{
    Output, money_cell, money_header, money_with_code, short_minute, short_time, wire_name, yes_no,
};
use crate::domain::{ContractId, Currency, EscrowStatus, MilestoneId, MinorUnits};
use crate::service::disputes::Resolution;
use crate::service::escrow::{MovePlan, PlanAction, Refund, Release};
use crate::service::input::{self, Reason};
use crate::service::{ErrorCode, Service, UseCase};
use crate::store::ContractFilter;
use crate::views::{ContractDetail, ContractView, EscrowPage, EscrowView};

pub async fn run(service: &Service, out: &Output, command: EscrowCommand) -> Result<(), CliError> {
    match command {
        EscrowCommand::List(a) => list(service, out, a).await,
        EscrowCommand::Show(a) => show(service, out, a).await,
        EscrowCommand::Release(a) => release(service, out, a).await,
        EscrowCommand::Refund(a) => refund(service, out, a).await,
        EscrowCommand::Resolve(a) => resolve(service, out, a).await,
    }
}

fn status(s: StatusArg) -> EscrowStatus {
    match s {
        StatusArg::Funded => EscrowStatus::Funded,
        StatusArg::Released => EscrowStatus::Released,
        StatusArg::RefundPending => EscrowStatus::RefundPending,
        StatusArg::Refunded => EscrowStatus::Refunded,
        StatusArg::ChargedBack => EscrowStatus::ChargedBack,
        StatusArg::RefundFailed => EscrowStatus::RefundFailed,
    }
}

async fn list(service: &Service, out: &Output, a: ListArgs) -> Result<(), CliError> {
    let filter = ContractFilter {
        escrow_status: a.status.map(status),
        release_requested: a.release_requested,
        ..ContractFilter::default()
    };
    let caller = operator(None);
    let permit = service.permit(&caller, UseCase::Reports)?;
    let page = service.escrows(permit, &filter, a.page.page()).await?;
    let page = EscrowPage::from(&page);
    if out.is_json() {
        return out.json(&page);
    }
    // Parties are left to `show` and to --json: with them the table no longer fits a terminal.
    let cur = service.settings().currency;
    let mut t = out.new_table(&[
        "Contract".into(),
        "Status".into(),
        "Amount".into(),
        "Fee".into(),
        "Earning".into(),
        "Requested".into(),
        "Funded".into(),
    ]);
    for e in &page.data {
        t.add_row(vec![
            Cell::new(&e.contract_id),
            Cell::new(e.status.as_str()),
            money_cell(e.amount, e.currency),
            money_cell(e.platform_fee, e.currency),
            money_cell(e.freelancer_earning, e.currency),
            Cell::new(yes_no(e.release_requested)),
            Cell::new(short_minute(&e.funded_at)),
        ]);
    }
    out.table(&t)?;
    let of = page.count.map(|n| format!(" of {n}")).unwrap_or_default();
    out.line(&format!(
        "{}{of} escrows ({}, {} per page); amounts in {}",
        page.data.len(),
        which_page(&a.page),
        page.limit,
        cur.code().to_ascii_uppercase()
    ))?;
    out.next_page(&page.next)
}

/// "page 3", or "after a cursor" for a keyset page.
pub(super) fn which_page(p: &super::args::PageArgs) -> String {
    match p.after {
        Some(_) => "after the cursor".into(),
        None => format!("page {}", p.page),
    }
}

/// A contract argument: its id or its human id ("CON00000042").
pub(super) async fn contract_id(service: &Service, text: &str) -> Result<ContractId, CliError> {
    Ok(service.contract_id(input::contract(text)?).await?)
}

async fn show(service: &Service, out: &Output, a: ShowArgs) -> Result<(), CliError> {
    let id = contract_id(service, &a.contract_id).await?;
    let caller = operator(None);
    let permit = service.permit(&caller, UseCase::ViewContract)?;
    let detail = ContractDetail::from(&service.contract(permit, &id).await?);
    if out.is_json() {
        return out.json(&detail);
    }
    show_tables(out, &detail)
}

fn show_tables(out: &Output, d: &ContractDetail) -> Result<(), CliError> {
    let c = &d.contract;
    let cur = c.currency;
    out.line("Contract")?;
    out.table(&out.fields(vec![
        ("Id", c.id.clone()),
        ("Job", c.job_id.clone()),
        ("Title", c.title.clone().unwrap_or_default()),
        ("Client", c.client_id.clone()),
        ("Freelancer", c.freelancer_id.clone()),
        ("Amount", money_with_code(c.amount, cur)),
        ("Status", c.status.as_str().to_string()),
        ("Approved", yes_no(c.is_approved)),
        ("Release", c.release_fund_status.as_str().to_string()),
        ("Cancel reason", cancel_reason(c)),
        ("Created", short_time(&c.created_at)),
        ("Updated", short_time(&c.updated_at)),
    ]))?;
    let Some(e) = &d.escrow else {
        return out.line("Escrow: not funded");
    };
    out.line("Escrow")?;
    let mut fields = escrow_fields(e);
    if let Some(at) = &d.auto_release_at {
        fields.push((
            "Auto-release",
            format!("{} (unless the client asks first)", short_time(at)),
        ));
    }
    out.table(&out.fields(fields))?;
    out.line("Milestones")?;
    let mut ms = out.new_table(&[
        "#".into(),
        "Title".into(),
        money_header("Amount", cur),
        "State".into(),
        "Auto-release".into(),
    ]);
    for m in &c.milestones {
        ms.add_row(vec![
            Cell::new(m.id),
            Cell::new(&m.title),
            money_cell(m.amount, cur),
            Cell::new(m.state.as_str()),
            Cell::new(
                m.auto_release_at
                    .as_deref()
                    .map(short_minute)
                    .unwrap_or_default(),
            ),
        ]);
    }
    out.table(&ms)?;
    if !e.disputes.is_empty() {
        out.line("Disputes")?;
        let mut ds = out.new_table(&[
            "#".into(),
            "Kind".into(),
            "Status".into(),
            "Milestones".into(),
            "Opened".into(),
            "Reason".into(),
            "Answers".into(),
        ]);
        for dispute in &e.disputes {
            ds.add_row(vec![
                Cell::new(dispute.id),
                Cell::new(dispute.kind),
                Cell::new(dispute.status),
                Cell::new(
                    dispute
                        .milestones
                        .iter()
                        .map(|m| m.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                Cell::new(format!(
                    "{} by {}",
                    short_minute(&dispute.opened_at),
                    dispute.opened_by
                )),
                Cell::new(&dispute.reason),
                Cell::new(
                    dispute
                        .responses
                        .iter()
                        .map(|r| r.description.as_str())
                        .collect::<Vec<_>>()
                        .join(" / "),
                ),
            ]);
        }
        out.table(&ds)?;
    }
    out.line("History")?;
    let mut h = out.new_table(&[
        "At".into(),
        "Action".into(),
        "Actor".into(),
        "Detail".into(),
    ]);
    for entry in &e.history {
        h.add_row(vec![
            short_time(&entry.at),
            entry.action.clone(),
            entry.actor.clone(),
            entry.detail.clone(),
        ]);
    }
    out.table(&h)?;
    out.line("Ledger")?;
    let mut l = out.new_table(&[
        "At".into(),
        "Kind".into(),
        "Account".into(),
        money_header("Amount", cur),
    ]);
    for entry in &d.ledger {
        l.add_row(vec![
            Cell::new(short_time(&entry.at)),
            Cell::new(wire_name(&entry.kind)),
            Cell::new(&entry.account),
            money_cell(entry.amount, entry.currency),
        ]);
    }
    out.table(&l)
}

fn cancel_reason(c: &ContractView) -> String {
    match (
        c.cancel_reason.is_empty(),
        c.cancel_reason_description.is_empty(),
    ) {
        (true, _) => String::new(),
        (false, true) => c.cancel_reason.clone(),
        (false, false) => format!("{}: {}", c.cancel_reason, c.cancel_reason_description),
    }
}

fn escrow_fields(e: &EscrowView) -> Vec<(&'static str, String)> {
    let cur = e.currency;
    let mut rows = vec![
        ("Status", e.status.as_str().to_string()),
        ("Amount", money_with_code(e.amount, cur)),
        ("Platform fee", money_with_code(e.platform_fee, cur)),
        (
            "Freelancer earning",
            money_with_code(e.freelancer_earning, cur),
        ),
        ("Release requested", yes_no(e.release_requested)),
        (
            "Payment",
            e.payment_intent_id
                .clone()
                .or_else(|| e.checkout_session_id.clone())
                .unwrap_or_default(),
        ),
        ("Funded", short_time(&e.funded_at)),
    ];
    if let Some(at) = &e.released_at {
        rows.push(("Released", short_time(at)));
    }
    if let Some(r) = &e.refund {
        rows.push(("Refund to client", money_with_code(r.client_share, cur)));
        rows.push((
            "Refund to freelancer",
            money_with_code(r.freelancer_share, cur),
        ));
        rows.push((
            "Refund at provider",
            r.provider_refund_id
                .clone()
                .unwrap_or_else(|| format!("pending ({} attempts)", r.attempts)),
        ));
        if let Some(err) = &r.last_error {
            rows.push(("Last provider error", err.clone()));
        }
    }
    if let Some(at) = &e.refunded_at {
        rows.push(("Refunded", short_time(at)));
    }
    if !e.extra_payments.is_empty() {
        // Each one owed back in full: where its refund stands at the provider.
        let mut by_status: std::collections::BTreeMap<&str, usize> = Default::default();
        for x in &e.extra_payments {
            *by_status
                .entry(x.refund_status.as_deref().unwrap_or("to send"))
                .or_insert(0) += 1;
        }
        let detail: Vec<String> = by_status
            .iter()
            .map(|(status, n)| format!("{n} {status}"))
            .collect();
        rows.push((
            "Extra payments",
            format!(
                "{} (refunded in full; refunds: {})",
                e.extra_payments.len(),
                detail.join(", ")
            ),
        ));
    }
    rows
}

/// The plan as a table for the question.
fn plan_table(out: &Output, p: &MovePlan) -> comfy_table::Table {
    let cur = p.currency;
    let mut rows = vec![
        ("Contract", p.contract_id.to_string()),
        ("Out of escrow", money_with_code(p.amount, cur)),
        (
            "To freelancer",
            format!(
                "{} (wallet of {})",
                money_with_code(p.freelancer_share, cur),
                p.freelancer_id
            ),
        ),
        ("Platform fee", money_with_code(p.platform_fee, cur)),
    ];
    if p.action == PlanAction::Refund {
        rows.push((
            "Back to client",
            format!(
                "{} (client {}, through the payment provider)",
                money_with_code(p.client_share, cur),
                p.client_id
            ),
        ));
        rows.push((
            "Split",
            if p.explicit_split {
                "explicit (--freelancer-share)".into()
            } else {
                "by the contract's status (kill fee)".into()
            },
        ));
    }
    out.fields(rows)
}

async fn release(service: &Service, out: &Output, a: ReleaseArgs) -> Result<(), CliError> {
    let release = Release {
        contract: contract_id(service, &a.contract_id).await?,
        milestone: a
            .milestone
            .map(|m| MilestoneId::new(m as usize).expect("clap checked the range")),
        force: a
            .reason
            .as_deref()
            .filter(|_| a.force)
            .map(Reason::parse)
            .transpose()?,
    };
    let caller = operator(a.act.actor);
    if !a.act.yes {
        let plan = service
            .plan_release(service.permit(&caller, UseCase::Release)?, &release)
            .await?;
        let question = format!(
            "Release {} to freelancer {}?",
            money_with_code(plan.freelancer_share, plan.currency),
            plan.freelancer_id
        );
        confirm("release", &plan_table(out, &plan), &question)?;
    }
    let released = service
        .release(service.permit(&caller, UseCase::Release)?, &release)
        .await?;
    let escrow = EscrowView::of_moved(&released);
    if out.is_json() {
        return out.json(&escrow);
    }
    out.line(&format!(
        "Released contract {} as {}",
        escrow.contract_id,
        caller.actor()
    ))?;
    out.table(&out.fields(escrow_fields(&escrow)))
}

/// Rupees as typed by an admin ("450", "199.99"), or zero: a share may be nothing even though
/// amounts elsewhere must be positive.
pub fn parse_share(flag: &str, text: &str, currency: Currency) -> Result<MinorUnits, CliError> {
    input::share_text(&format!("{flag} {text:?}"), text, currency)
        .map_err(|e| CliError::usage(e.code, e.message))
}

async fn refund(service: &Service, out: &Output, a: RefundArgs) -> Result<(), CliError> {
    let refund = Refund {
        contract: contract_id(service, &a.contract_id).await?,
        reason: a.reason.clone(),
        description: a.description.clone().unwrap_or_default(),
        freelancer_share: a
            .freelancer_share
            .as_deref()
            .map(|s| parse_share("--freelancer-share", s, service.settings().currency))
            .transpose()?,
    };
    let caller = operator(a.act.actor);
    let permit = || service.permit(&caller, UseCase::Refund { client: None });
    if !a.act.yes {
        let plan = service.plan_refund(permit()?, &refund).await?;
        let question = format!(
            "Refund {} to client {} and {} to freelancer {}?",
            money_with_code(plan.client_share, plan.currency),
            plan.client_id,
            money_with_code(plan.freelancer_share, plan.currency),
            plan.freelancer_id
        );
        confirm("refund", &plan_table(out, &plan), &question)?;
        // The default split follows the contract's status, which its parties may change while
        // the admin reads the question: act only on the split that was confirmed.
        if service.plan_refund(permit()?, &refund).await? != plan {
            return Err(CliError::new(
                Exit::Conflict,
                ErrorCode::ConflictPlanChanged,
                "the contract changed while the question was open; nothing was moved, run the command again",
            ));
        }
    }
    let refunded = service.refund(permit()?, &refund).await?;
    let escrow = EscrowView::of_moved(&refunded);
    if out.is_json() {
        return out.json(&escrow);
    }
    out.line(&format!(
        "Refunded contract {} as {}",
        escrow.contract_id,
        caller.actor()
    ))?;
    out.table(&out.fields(escrow_fields(&escrow)))
}

async fn resolve(service: &Service, out: &Output, a: ResolveArgs) -> Result<(), CliError> {
    let currency = service.settings().currency;
    let resolution = Resolution {
        contract: contract_id(service, &a.contract_id).await?,
        client_share: parse_share("--client-share", &a.client_share, currency)?,
        freelancer_share: parse_share("--freelancer-share", &a.freelancer_share, currency)?,
        reason: a.reason.clone(),
    };
    let caller = operator(a.act.actor);
    let permit = || service.permit(&caller, UseCase::ResolveDispute);
    if !a.act.yes {
        let plan = service.plan_resolve_dispute(permit()?, &resolution).await?;
        let question = format!(
            "Resolve the dispute: {} to client {} and {} to freelancer {}?",
            money_with_code(plan.client_share, plan.currency),
            plan.client_id,
            money_with_code(plan.freelancer_share, plan.currency),
            plan.freelancer_id
        );
        confirm("resolve", &plan_table(out, &plan), &question)?;
    }
    let resolved = service.resolve_dispute(permit()?, &resolution).await?;
    let escrow = EscrowView::of_moved(&resolved);
    if out.is_json() {
        return out.json(&escrow);
    }
    out.line(&format!(
        "Resolved the dispute of contract {} as {}",
        escrow.contract_id,
        caller.actor()
    ))?;
    out.table(&out.fields(escrow_fields(&escrow)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_is_rupees_or_zero_never_negative() {
        let m = MinorUnits::new;
        let share = |t| parse_share("--freelancer-share", t, Currency::Inr);
        assert_eq!(share("450"), Ok(m(45_000)));
        assert_eq!(share("199.99"), Ok(m(19_999)));
        assert_eq!(share("0"), Ok(m(0)));
        assert_eq!(share("0.00"), Ok(m(0)));
        for bad in ["-1", "-0", "1.234", "abc", "", "1e3"] {
            let e = share(bad).unwrap_err();
            assert_eq!(e.exit, Exit::Usage, "{bad}");
        }
    }
}
