//! What an admin dashboard shows: the funds held in escrow, the fee revenue, the list of
//! escrows, and the monthly sales report.

use crate::domain::{Account, Contract, Currency, Money};
use crate::store::{ContractFilter, Cursor, MonthRow, Page};

use super::Service;
use super::access::{Permit, UseCase};
use super::error::Result;

/// One page of contracts that have an escrow, newest first, with how many match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscrowPage {
    /// How many match in all: counted for a numbered page only (`None` for a keyset page).
    pub count: Option<u64>,
    pub page: Page,
    pub contracts: Vec<Contract>,
    /// Where the next page starts, when there may be one.
    pub next: Option<Cursor>,
}

/// Released escrows per month of release, within `[from_ms, to_ms)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SalesRange {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesReport {
    pub currency: Currency,
    pub months: Vec<MonthRow>,
}

impl Service {
    /// The funds held in escrow now.
    pub async fn balance(&self, permit: Permit<'_>) -> Result<Money> {
        permit.expect(UseCase::Reports);
        let cur = self.settings.currency;
        Ok(Money::new(self.store.escrow_held(cur).await?, cur))
    }

    /// Every platform fee taken (on release and, retained, on refund).
    pub async fn revenue(&self, permit: Permit<'_>) -> Result<Money> {
        permit.expect(UseCase::Reports);
        let cur = self.settings.currency;
        Ok(Money::new(
            self.store
                .account_balance(&Account::PlatformFees, cur)
                .await?,
            cur,
        ))
    }

    /// Contracts with an escrow that match `filter` (the admin's transaction list is all of
    /// them), newest first.
    pub async fn escrows(
        &self,
        permit: Permit<'_>,
        filter: &ContractFilter,
        page: Page,
    ) -> Result<EscrowPage> {
        permit.expect(UseCase::Reports);
        let filter = ContractFilter {
            funded_only: true,
            ..filter.clone()
        };
        self.contract_page(&filter, page).await
    }

    /// One page of the contracts `filter` finds, with the cursor of the next.
    pub(super) async fn contract_page(
        &self,
        filter: &ContractFilter,
        page: Page,
    ) -> Result<EscrowPage> {
        let (count, contracts) = self.store.list_contracts(filter, &page).await?;
        Ok(EscrowPage {
            count,
            next: page.next(&contracts, Cursor::of_contract),
            page,
            contracts,
        })
    }

    pub async fn sales(&self, permit: Permit<'_>, range: SalesRange) -> Result<SalesReport> {
        permit.expect(UseCase::Reports);
        let cur = self.settings.currency;
        Ok(SalesReport {
            currency: cur,
            months: self
                .store
                .sales_by_month(cur, range.from_ms, range.to_ms)
                .await?,
        })
    }
}
