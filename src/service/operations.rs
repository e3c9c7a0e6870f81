//! What operators look at: the webhook events received, and the ledger invariants checked over
//! the whole store.

use crate::domain::verify::{ContractFacts, Report, Verifier};
use crate::domain::{ContractId, LedgerEntry, Payout, PayoutId};
use crate::store::{Cursor, Page, StoreResult, WebhookEvent};

use super::Service;
use super::access::{Permit, UseCase};
use super::error::{Error, Result};

/// A page of webhook events, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Events {
    pub events: Vec<WebhookEvent>,
    /// Where the next page starts, when there may be one.
    pub next: Option<Cursor>,
}

/// Page size used when streaming the whole store (verify).
const SCAN_PAGE: u32 = 1_000;

impl Service {
    /// The latest webhook events, newest first (`failed_only`: those that can never apply).
    pub async fn events(
        &self,
        permit: Permit<'_>,
        failed_only: bool,
        page: Page,
    ) -> Result<Events> {
        permit.expect(UseCase::Operate);
        let events = self.store.list_events(failed_only, &page).await?;
        Ok(Events {
            next: page.next(&events, Cursor::of_event),
            events,
        })
    }

    /// How many records [`Service::verify`] reads (ledger entries and contracts), so a
    /// progress display can show a total.
    pub async fn verify_record_count(&self, permit: Permit<'_>) -> Result<u64> {
        permit.expect(UseCase::Operate);
        Ok(self.store.count_entries().await? + self.store.count_contracts().await?)
    }

    /// Checks every ledger invariant over the whole store. `progress` is called with the
    /// number of records read so far.
    pub async fn verify(
        &self,
        permit: Permit<'_>,
        mut progress: impl FnMut(u64),
    ) -> Result<Report> {
        permit.expect(UseCase::Operate);
        let store = &self.store;
        // Entries and contracts are read at once (each scan on its own connection and task),
        // into two verifiers whose contract facts are then joined: reading and decoding, not
        // checking, is most of a whole-store verify.
        let (mut v, mut contracts) = (Verifier::new(), Verifier::new());
        let read = std::cell::Cell::new((0u64, 0u64));
        let progress = std::cell::RefCell::new(&mut progress);
        let (entries_read, contracts_read) = tokio::join!(
            scan(
                |after: Option<String>| {
                    let store = store.clone();
                    async move { store.entries_after(after.as_deref(), SCAN_PAGE).await }
                },
                |e: &LedgerEntry| e.id.clone(),
                |e| v.add_entry(&e),
                |n| {
                    read.set((n, read.get().1));
                    (progress.borrow_mut())(n + read.get().1)
                },
            ),
            scan(
                |after: Option<ContractId>| {
                    let store = store.clone();
                    async move { store.contract_facts_after(after.as_ref(), SCAN_PAGE).await }
                },
                |c: &ContractFacts| c.id.clone(),
                |c| contracts.add_facts(c),
                |n| {
                    read.set((read.get().0, n));
                    (progress.borrow_mut())(read.get().0 + n)
                },
            ),
        );
        entries_read?;
        contracts_read?;
        v.add_contracts_of(contracts);
        scan(
            |after: Option<PayoutId>| {
                let store = store.clone();
                async move { store.payouts_after(after.as_ref(), SCAN_PAGE).await }
            },
            |p: &Payout| p.id.clone(),
            |p| v.add_payout(&p),
            |_| {},
        )
        .await?;
        let cur = self.settings.currency;
        for (user, balance) in store.wallet_balances(cur).await? {
            v.add_wallet_balance(user.as_str(), cur, balance);
        }
        if let Some(kept) = store.kept_balances().await? {
            v.add_kept_balances(kept);
        }
        Ok(v.finish())
    }
}

/// Reads a whole table a page at a time, each page after the last record of the one before
/// (so the cost of a page never grows with how far in it is); `each` sees every record and
/// `progress` how many were read so far. Returns how many there were. The next page is read
/// (on its own task) while `each` goes through this one.
async fn scan<T, K, F>(
    page: impl Fn(Option<K>) -> F,
    key: impl Fn(&T) -> K,
    mut each: impl FnMut(T),
    mut progress: impl FnMut(u64),
) -> Result<u64>
where
    T: Send + 'static,
    F: Future<Output = StoreResult<Vec<T>>> + Send + 'static,
{
    let mut read = 0u64;
    let mut next = tokio::spawn(page(None));
    loop {
        let batch = next
            .await
            .map_err(|e| Error::internal(format!("a verification read failed: {e}")))??;
        let Some(last) = batch.last() else {
            return Ok(read);
        };
        next = tokio::spawn(page(Some(key(last))));
        read += batch.len() as u64;
        batch.into_iter().for_each(&mut each);
        progress(read);
    }
}
