//! Wallets: a user's internal balance (the sum of its ledger entries) and its entries.

use std::collections::{BTreeMap, HashMap};

use crate::directory::Cards;
use crate::domain::{Account, ContractId, LedgerEntry, MinorUnits, Money, UserId};
use crate::store::{Cursor, Page};

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
    /// Where the next page starts, when there may be one.
    pub next: Option<Cursor>,
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
        let (count, entries) = self.store.entries_for_account(&account, cur, &page).await?;
        Ok(Wallet {
            user: user.clone(),
            balance: Money::new(balance, cur),
            count,
            next: page.next(&entries, Cursor::of_entry),
            entries,
        })
    }
}

/// A page of a wallet with, for each entry's contract, its client and the directory's card of
/// them (the original's earnings page shows the client's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletActivity {
    pub wallet: Wallet,
    pub clients: HashMap<ContractId, UserId>,
    pub cards: Cards,
}

/// One month of a wallet's credits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletMonth {
    /// "YYYY-MM" (UTC).
    pub month: String,
    pub credited: MinorUnits,
    pub count: u64,
}

impl Service {
    /// [`Service::wallet`] with each entry's client.
    pub async fn wallet_activity(&self, permit: Permit<'_>, page: Page) -> Result<WalletActivity> {
        let wallet = self.wallet(permit, page).await?;
        let mut ids: Vec<ContractId> = wallet
            .entries
            .iter()
            .filter_map(|e| e.owner.contract().cloned())
            .collect();
        ids.sort();
        ids.dedup();
        let mut clients = HashMap::new();
        for id in ids {
            if let Some(c) = self.store.get_contract(&id).await? {
                clients.insert(id, c.client_id);
            }
        }
        let mut users: Vec<UserId> = clients.values().cloned().collect();
        users.sort();
        users.dedup();
        let cards = if self.directory.knows() && !users.is_empty() {
            Cards {
                users: self.directory.users(&users).await?,
                jobs: HashMap::new(),
            }
        } else {
            Cards::default()
        };
        Ok(WalletActivity {
            wallet,
            clients,
            cards,
        })
    }

    /// A wallet's credits per month, oldest first (its owner, or an admin).
    pub async fn wallet_months(&self, permit: Permit<'_>) -> Result<Vec<WalletMonth>> {
        let UseCase::ViewWallet { owner: user } = permit.use_case() else {
            panic!("a permit for {:?} used to read a wallet", permit.use_case());
        };
        let account = Account::Wallet(user.clone());
        let mut months: BTreeMap<String, (i64, u64)> = BTreeMap::new();
        let mut page = Page::after(None, Page::LIMIT_MAX);
        loop {
            let (_, entries) = self
                .store
                .entries_for_account(&account, self.settings.currency, &page)
                .await?;
            for e in &entries {
                if e.amount.get() > 0 {
                    let month = chrono::DateTime::from_timestamp_millis(e.at)
                        .map(|t| t.format("%Y-%m").to_string())
                        .unwrap_or_default();
                    let m = months.entry(month).or_default();
                    m.0 += e.amount.get();
                    m.1 += 1;
                }
            }
            match page.next(&entries, Cursor::of_entry) {
                Some(next) => page = Page::after(Some(next), page.limit),
                None => break,
            }
        }
        Ok(months
            .into_iter()
            .map(|(month, (credited, count))| WalletMonth {
                month,
                credited: MinorUnits::new(credited),
                count,
            })
            .collect())
    }
}
