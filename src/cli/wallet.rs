//! `escrowctl wallet show USER_ID`.

use comfy_table::Cell;

use super::args::{WalletCommand, WalletShowArgs};
use super::confirm::operator;
use super::exit::CliError;
use super::output::{Output, money_cell, money_header, money_with_code, short_time, wire_name};
use crate::service::{Service, UseCase};
use crate::views::WalletView;

pub async fn run(service: &Service, out: &Output, command: WalletCommand) -> Result<(), CliError> {
    match command {
        WalletCommand::Show(a) => show(service, out, a).await,
    }
}

async fn show(service: &Service, out: &Output, a: WalletShowArgs) -> Result<(), CliError> {
    let caller = operator(None);
    let permit = service.permit(&caller, UseCase::ViewWallet { owner: &a.user_id })?;
    let wallet = service.wallet(permit, a.page.page()).await?;
    let wallet = WalletView::from(&wallet);
    if out.is_json() {
        return out.json(&wallet);
    }
    let cur = wallet.currency;
    out.table(&out.fields(vec![
        ("Wallet", wallet.user_id.clone()),
        ("Balance", money_with_code(wallet.balance, cur)),
        ("Entries", wallet.count.to_string()),
    ]))?;
    if wallet.entries.is_empty() {
        return Ok(());
    }
    let mut t = out.new_table(&[
        "At".into(),
        "Kind".into(),
        "Contract".into(),
        money_header("Amount", cur),
    ]);
    for e in &wallet.entries {
        t.add_row(vec![
            Cell::new(short_time(&e.at)),
            Cell::new(wire_name(&e.kind)),
            Cell::new(&e.contract_id),
            money_cell(e.amount, e.currency),
        ]);
    }
    out.table(&t)?;
    out.next_page(&wallet.next)
}
