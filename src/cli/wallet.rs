//! `escrowctl wallet show USER_ID`.

use comfy_table::Cell;

use super::args::{WalletCommand, WalletShowArgs};
use super::confirm::operator;
use super::exit::CliError;
use super::output::{Output, money_cell, money_header, money_with_code, short_time, wire_name};
use crate::domain::{PayoutStatus, UserId};
use crate::service::{Service, UseCase};
use crate::store::{Page, PayoutFilter};
use crate::views::{PayoutView, WalletView};

pub async fn run(service: &Service, out: &Output, command: WalletCommand) -> Result<(), CliError> {
    match command {
        WalletCommand::Show(a) => show(service, out, a).await,
    }
}

/// `--json`: the wallet, and the payouts that have left it but are not paid yet.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct WalletShown {
    #[serde(flatten)]
    wallet: WalletView,
    payouts_in_flight: Vec<PayoutView>,
}

/// The user's payouts whose money has left the wallet and not yet the platform (requested or
/// pending), oldest first.
async fn in_flight(service: &Service, user: &UserId) -> Result<Vec<PayoutView>, CliError> {
    let caller = operator(None);
    let mut found = vec![];
    for status in [PayoutStatus::Requested, PayoutStatus::Pending] {
        let mut page = Page::after(None, Page::LIMIT_MAX);
        loop {
            let permit = service.permit(&caller, UseCase::OperatePayouts)?;
            let filter = PayoutFilter {
                user: Some(user.clone()),
                status: Some(status),
            };
            let got = service.payouts(permit, filter, page.clone()).await?;
            found.extend(got.payouts.iter().map(PayoutView::from));
            match got.next {
                Some(next) => page = Page::after(Some(next), Page::LIMIT_MAX),
                None => break,
            }
        }
    }
    found.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
    Ok(found)
}

async fn show(service: &Service, out: &Output, a: WalletShowArgs) -> Result<(), CliError> {
    let caller = operator(None);
    let permit = service.permit(&caller, UseCase::ViewWallet { owner: &a.user_id })?;
    let wallet = service.wallet(permit, a.page.page()).await?;
    let wallet = WalletView::from(&wallet);
    let flying = in_flight(service, &a.user_id).await?;
    if out.is_json() {
        return out.json(&WalletShown {
            wallet,
            payouts_in_flight: flying,
        });
    }
    let cur = wallet.currency;
    let flying_sum: crate::domain::MinorUnits = flying.iter().map(|p| p.amount.minor()).sum();
    out.table(&out.fields(vec![
        ("Wallet", wallet.user_id.clone()),
        ("Balance", money_with_code(wallet.balance, cur)),
        (
            "Payouts in flight",
            format!("{} ({})", flying.len(), money_with_code(flying_sum, cur)),
        ),
        ("Entries", wallet.count.to_string()),
    ]))?;
    if !flying.is_empty() {
        let mut t = out.new_table(&[
            "Payout in flight".into(),
            "Status".into(),
            money_header("Amount", cur),
            "Last error".into(),
            "Since".into(),
        ]);
        for p in &flying {
            t.add_row(vec![
                Cell::new(&p.id),
                Cell::new(p.status.as_str()),
                money_cell(p.amount, p.currency),
                Cell::new(p.last_error.clone().unwrap_or_default()),
                Cell::new(short_time(&p.created_at)),
            ]);
        }
        out.table(&t)?;
    }
    if wallet.entries.is_empty() {
        return Ok(());
    }
    let mut t = out.new_table(&[
        "At".into(),
        "Kind".into(),
        "Contract or payout".into(),
        money_header("Amount", cur),
    ]);
    for e in &wallet.entries {
        t.add_row(vec![
            Cell::new(short_time(&e.at)),
            Cell::new(wire_name(&e.kind)),
            Cell::new(match (&e.contract_id, &e.payout_id) {
                (Some(c), _) => c.clone(),
                (None, Some(p)) => format!("payout {p}"),
                (None, None) => String::new(),
            }),
            money_cell(e.amount, e.currency),
        ]);
    }
    out.table(&t)?;
    out.next_page(&wallet.next)
}
