//! Wallets: a user's internal balance (the sum of its ledger entries) and its entries.

use crate::domain::{Account, LedgerEntry, Money, UserId};
use crate::store::Page;

use super::Service;
use super::access::{Permit, UseCase};
use super::error::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wallet {
    pub user: UserId,
    pub balance: Money,
    /// How many entries the wallet has in all.
    pub count: u64,
    /// One page of them, newest first.
    pub entries: Vec<LedgerEntry>,
}

impl Service {
    /// A wallet: its owner's, or any for an admin (the permit names whose).
    pub async fn wallet(&self, permit: Permit<'_>, page: Page) -> Result<Wallet> {
        let UseCase::ViewWallet { owner: user } = permit.use_case() else {
            panic!("a permit for {:?} used to read a wallet", permit.use_case());
        };
        let account = Account::Wallet(user.clone());
        let cur = self.settings.currency;
        let balance = self.store.account_balance(&account, cur).await?;
        let (count, entries) = self.store.entries_for_account(&account, page).await?;
        Ok(Wallet {
            user: user.clone(),
            balance: Money::new(balance, cur),
            count,
            entries,
        })
    }
}
