//! The real SQLite store behind a switch that can stop the process at a chosen write.
//!
//! The simulator arms the switch before an operation: "at the n-th write from now, crash just
//! before it", "… crash just after it committed", or "… fail it as a full disk would". Every
//! write the service makes (`insert_contract`, `save_contract`, `save_contract_with_event`,
//! `record_event`, `settle_event`, `insert_review`) counts, so a crash can land between any two
//! durable steps of any use case: after a refund decision is saved and before the provider is
//! called, after a payment is booked and before a duplicate payment is refunded. Reads go
//! straight through.
//!
//! A webhook's money and its event record are one SQLite write; MongoDB writes them as two
//! documents (the contract first). With `split_events` the store does the same as MongoDB, so a
//! crash can also land between the two.

use std::sync::Mutex;

use async_trait::async_trait;
use escrow::domain::{
    Account, ConnectedAccount, Contract, ContractId, Currency, EventId, JobId, KeptBalances,
    LedgerEntry, MinorUnits, PaymentRef, Payout, PayoutId, Review, UserId,
};
use escrow::store::sqlite::SqliteStore;
use escrow::store::{
    Begin, Claim, ContractFilter, ContractStore, EventRecord, EventStore, Holder, IdempotencyStore,
    LedgerStore, MonthRow, Page, PayoutFilter, PayoutStore, ReviewPage, ReviewStore, Store,
    StoreError, StoreResult, StoredResponse, TimerStore, WebhookEvent,
};

use crate::fakes::crash;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trap {
    CrashBefore,
    CrashAfter,
    /// The write fails (as on a full disk) and nothing is written; the process lives on.
    Fail,
}

#[derive(Default)]
struct Armed {
    /// Writes to let through before the trap springs.
    skip: u32,
    trap: Option<Trap>,
    /// Where the last trap sprang, e.g. `record_event/after`.
    sprang: Option<String>,
}

/// Shared by the world (which arms it) and every store it opens (which consult it).
#[derive(Default)]
pub struct CrashSwitch {
    armed: Mutex<Armed>,
    /// Store calls made through every store opened with this switch (for the summary).
    calls: std::sync::atomic::AtomicU64,
    /// The kinds of write attempted since [`CrashSwitch::take_written`] last asked.
    written: Mutex<Written>,
}

/// Which parts of the store a step may have changed: the checks read back only those (a part
/// no write touched cannot have changed, since every write goes through this store).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub contracts: bool,
    pub events: bool,
    pub reviews: bool,
}

impl CrashSwitch {
    fn lock(&self) -> std::sync::MutexGuard<'_, Armed> {
        self.armed.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn arm(&self, skip: u32, trap: Trap) {
        let mut a = self.lock();
        a.skip = skip;
        a.trap = Some(trap);
        a.sprang = None;
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count(&self) {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn disarm(&self) {
        self.lock().trap = None;
    }

    /// Where the trap sprang since it was armed, if it did (and forgets it).
    pub fn take_sprang(&self) -> Option<String> {
        self.lock().sprang.take()
    }

    pub fn take_written(&self) -> Written {
        std::mem::take(&mut *self.written.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn on_write(&self, write: &str) -> Option<Trap> {
        {
            let mut w = self.written.lock().unwrap_or_else(|p| p.into_inner());
            match write {
                "insert_contract" | "save_contract" => w.contracts = true,
                "record_event" | "settle_event" => w.events = true,
                "save_contract_with_event" => {
                    w.contracts = true;
                    w.events = true;
                }
                "insert_review" => w.reviews = true,
                "debit_payout" | "save_payout" => w.contracts = true,
                _ => {}
            }
        }
        let mut a = self.lock();
        let trap = a.trap?;
        if a.skip > 0 {
            a.skip -= 1;
            return None;
        }
        a.trap = None;
        let when = match trap {
            Trap::CrashBefore => "before",
            Trap::CrashAfter => "after",
            Trap::Fail => "failed",
        };
        a.sprang = Some(format!("{write}/{when}"));
        Some(trap)
    }
}

pub struct CrashStore {
    inner: SqliteStore,
    switch: std::sync::Arc<CrashSwitch>,
    /// Write a webhook's contract and its event record as two writes (as MongoDB does).
    split_events: bool,
}

impl CrashStore {
    pub fn new(
        inner: SqliteStore,
        switch: std::sync::Arc<CrashSwitch>,
        split_events: bool,
    ) -> CrashStore {
        CrashStore {
            inner,
            switch,
            split_events,
        }
    }

    pub fn sqlite(&self) -> &SqliteStore {
        &self.inner
    }

    /// Runs one write under the switch.
    async fn write<T>(
        &self,
        name: &'static str,
        op: impl std::future::Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let trap = self.switch.on_write(name);
        match trap {
            Some(Trap::CrashBefore) => crash(format!("store: before {name}")),
            Some(Trap::Fail) => {
                return Err(StoreError::unavailable(format!(
                    "simulated disk failure on {name}"
                )));
            }
            Some(Trap::CrashAfter) | None => {}
        }
        let result = op.await;
        if trap == Some(Trap::CrashAfter) {
            crash(format!("store: after {name}"));
        }
        result
    }
}

// Every read goes straight through (counted); every write goes through the switch.

#[async_trait]
impl Store for CrashStore {
    async fn ping(&self) -> StoreResult<()> {
        self.switch.count();
        self.inner.ping().await
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn save_contract_with_event(
        &self,
        contract: &Contract,
        expected_version: i64,
        entries: &[LedgerEntry],
        event: &WebhookEvent,
    ) -> StoreResult<()> {
        if self.split_events {
            self.save_contract(contract, expected_version, entries)
                .await?;
            return self.settle_event(event).await;
        }
        self.switch.count();
        self.write(
            "save_contract_with_event",
            self.inner
                .save_contract_with_event(contract, expected_version, entries, event),
        )
        .await
    }
}

#[async_trait]
impl ContractStore for CrashStore {
    async fn insert_contract(&self, contract: &Contract) -> StoreResult<()> {
        self.switch.count();
        self.write("insert_contract", self.inner.insert_contract(contract))
            .await
    }

    async fn get_contract(&self, id: &ContractId) -> StoreResult<Option<Contract>> {
        self.switch.count();
        self.inner.get_contract(id).await
    }

    async fn live_contract_for_job(&self, job: &JobId) -> StoreResult<Option<Contract>> {
        self.switch.count();
        self.inner.live_contract_for_job(job).await
    }

    async fn contract_by_payment(&self, payment_ref: &PaymentRef) -> StoreResult<Option<Contract>> {
        self.switch.count();
        self.inner.contract_by_payment(payment_ref).await
    }

    async fn save_contract(
        &self,
        contract: &Contract,
        expected_version: i64,
        entries: &[LedgerEntry],
    ) -> StoreResult<()> {
        self.switch.count();
        self.write(
            "save_contract",
            self.inner
                .save_contract(contract, expected_version, entries),
        )
        .await
    }

    async fn list_contracts(
        &self,
        filter: &ContractFilter,
        page: &Page,
    ) -> StoreResult<(Option<u64>, Vec<Contract>)> {
        self.switch.count();
        self.inner.list_contracts(filter, page).await
    }

    async fn contracts_with_provider_work(&self) -> StoreResult<Vec<ContractId>> {
        self.switch.count();
        self.inner.contracts_with_provider_work().await
    }

    async fn contracts_after(
        &self,
        after: Option<&ContractId>,
        limit: u32,
    ) -> StoreResult<Vec<Contract>> {
        self.switch.count();
        self.inner.contracts_after(after, limit).await
    }

    async fn count_contracts(&self) -> StoreResult<u64> {
        self.switch.count();
        self.inner.count_contracts().await
    }

    async fn contract_by_number(&self, number: u64) -> StoreResult<Option<ContractId>> {
        self.switch.count();
        self.inner.contract_by_number(number).await
    }

    async fn next_contract_number(&self) -> StoreResult<u64> {
        self.switch.count();
        self.write("next_contract_number", self.inner.next_contract_number())
            .await
    }

    async fn entries_for_contract(&self, id: &ContractId) -> StoreResult<Vec<LedgerEntry>> {
        self.switch.count();
        self.inner.entries_for_contract(id).await
    }
}

#[async_trait]
impl LedgerStore for CrashStore {
    async fn entries_for_account(
        &self,
        account: &Account,
        currency: Currency,
        page: &Page,
    ) -> StoreResult<(u64, Vec<LedgerEntry>)> {
        self.switch.count();
        self.inner
            .entries_for_account(account, currency, page)
            .await
    }

    async fn account_balance(
        &self,
        account: &Account,
        currency: Currency,
    ) -> StoreResult<MinorUnits> {
        self.switch.count();
        self.inner.account_balance(account, currency).await
    }

    async fn escrow_held(&self, currency: Currency) -> StoreResult<MinorUnits> {
        self.switch.count();
        self.inner.escrow_held(currency).await
    }

    async fn sales_by_month(
        &self,
        currency: Currency,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> StoreResult<Vec<MonthRow>> {
        self.switch.count();
        self.inner.sales_by_month(currency, from_ms, to_ms).await
    }

    async fn entries_after(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<LedgerEntry>> {
        self.switch.count();
        self.inner.entries_after(after, limit).await
    }

    async fn wallet_balances(&self, currency: Currency) -> StoreResult<Vec<(UserId, MinorUnits)>> {
        self.switch.count();
        self.inner.wallet_balances(currency).await
    }

    async fn kept_balances(&self) -> StoreResult<Option<KeptBalances>> {
        self.switch.count();
        self.inner.kept_balances().await
    }

    async fn count_entries(&self) -> StoreResult<u64> {
        self.switch.count();
        self.inner.count_entries().await
    }
}

#[async_trait]
impl EventStore for CrashStore {
    async fn find_event(&self, event_id: &EventId) -> StoreResult<Option<WebhookEvent>> {
        self.switch.count();
        self.inner.find_event(event_id).await
    }

    async fn record_event(&self, event: &WebhookEvent) -> StoreResult<EventRecord> {
        self.switch.count();
        self.write("record_event", self.inner.record_event(event))
            .await
    }

    async fn settle_event(&self, event: &WebhookEvent) -> StoreResult<()> {
        self.switch.count();
        self.write("settle_event", self.inner.settle_event(event))
            .await
    }

    async fn list_events(&self, failed_only: bool, page: &Page) -> StoreResult<Vec<WebhookEvent>> {
        self.switch.count();
        self.inner.list_events(failed_only, page).await
    }
}

#[async_trait]
impl ReviewStore for CrashStore {
    async fn insert_review(&self, review: &Review) -> StoreResult<()> {
        self.switch.count();
        self.write("insert_review", self.inner.insert_review(review))
            .await
    }

    async fn reviews_for_freelancer(
        &self,
        freelancer: &UserId,
        page: &Page,
    ) -> StoreResult<ReviewPage> {
        self.switch.count();
        self.inner.reviews_for_freelancer(freelancer, page).await
    }

    async fn review_for_contract(&self, contract: &ContractId) -> StoreResult<Option<Review>> {
        self.switch.count();
        self.inner.review_for_contract(contract).await
    }
}

// Idempotency records belong to the HTTP layer, which the simulation does not drive; the
// maintenance pass purges them, through here.

#[async_trait]
impl IdempotencyStore for CrashStore {
    async fn idempotency_begin(&self, claim: &Claim<'_>) -> StoreResult<Begin> {
        self.switch.count();
        self.inner.idempotency_begin(claim).await
    }

    async fn idempotency_finish(
        &self,
        holder: &Holder,
        response: &StoredResponse,
        now_ms: i64,
    ) -> StoreResult<bool> {
        self.switch.count();
        self.inner
            .idempotency_finish(holder, response, now_ms)
            .await
    }

    async fn idempotency_release(&self, holder: &Holder) -> StoreResult<()> {
        self.switch.count();
        self.inner.idempotency_release(holder).await
    }

    async fn idempotency_purge(&self, now_ms: i64) -> StoreResult<u64> {
        self.switch.count();
        self.inner.idempotency_purge(now_ms).await
    }
}

#[async_trait]
impl PayoutStore for CrashStore {
    async fn debit_payout(
        &self,
        payout: &Payout,
        expected_version: Option<i64>,
        now: i64,
    ) -> StoreResult<escrow::store::Debit> {
        self.switch.count();
        self.write(
            "debit_payout",
            self.inner.debit_payout(payout, expected_version, now),
        )
        .await
    }

    async fn save_payout(
        &self,
        payout: &Payout,
        expected_version: i64,
        entries: &[LedgerEntry],
    ) -> StoreResult<()> {
        self.switch.count();
        self.write(
            "save_payout",
            self.inner.save_payout(payout, expected_version, entries),
        )
        .await
    }

    async fn get_payout(&self, id: &PayoutId) -> StoreResult<Option<Payout>> {
        self.switch.count();
        self.inner.get_payout(id).await
    }

    async fn list_payouts(
        &self,
        filter: &PayoutFilter,
        page: &Page,
    ) -> StoreResult<(Option<u64>, Vec<Payout>)> {
        self.switch.count();
        self.inner.list_payouts(filter, page).await
    }

    async fn payouts_with_provider_work(&self) -> StoreResult<Vec<PayoutId>> {
        self.switch.count();
        self.inner.payouts_with_provider_work().await
    }

    async fn payouts_after(
        &self,
        after: Option<&PayoutId>,
        limit: u32,
    ) -> StoreResult<Vec<Payout>> {
        self.switch.count();
        self.inner.payouts_after(after, limit).await
    }

    async fn connected_account(&self, user: &UserId) -> StoreResult<Option<ConnectedAccount>> {
        self.switch.count();
        self.inner.connected_account(user).await
    }

    async fn connected_account_by_id(
        &self,
        account_id: &str,
    ) -> StoreResult<Option<ConnectedAccount>> {
        self.switch.count();
        self.inner.connected_account_by_id(account_id).await
    }

    async fn insert_connected_account(
        &self,
        account: &ConnectedAccount,
    ) -> StoreResult<ConnectedAccount> {
        self.switch.count();
        self.write(
            "insert_connected_account",
            self.inner.insert_connected_account(account),
        )
        .await
    }

    async fn describe_connected_account(&self, account: &ConnectedAccount) -> StoreResult<bool> {
        self.switch.count();
        self.write(
            "describe_connected_account",
            self.inner.describe_connected_account(account),
        )
        .await
    }
}

#[async_trait]
impl TimerStore for CrashStore {
    async fn schedule_timer(&self, timer: &escrow::domain::Timer) -> StoreResult<bool> {
        self.switch.count();
        self.write("schedule_timer", self.inner.schedule_timer(timer))
            .await
    }

    async fn claim_timers(
        &self,
        now: i64,
        holder: &str,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<escrow::domain::Timer>> {
        self.switch.count();
        self.write(
            "claim_timers",
            self.inner.claim_timers(now, holder, lease_ms, limit),
        )
        .await
    }

    async fn finish_timer(&self, id: &str, now: i64) -> StoreResult<()> {
        self.switch.count();
        self.write("finish_timer", self.inner.finish_timer(id, now))
            .await
    }

    async fn defer_timer(
        &self,
        id: &str,
        holder: &str,
        due_at: i64,
        error: &str,
    ) -> StoreResult<()> {
        self.switch.count();
        self.write(
            "defer_timer",
            self.inner.defer_timer(id, holder, due_at, error),
        )
        .await
    }

    async fn get_timer(&self, id: &str) -> StoreResult<Option<escrow::domain::Timer>> {
        self.switch.count();
        self.inner.get_timer(id).await
    }

    async fn list_timers(
        &self,
        due_by: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<escrow::domain::Timer>> {
        self.switch.count();
        self.inner.list_timers(due_by, limit).await
    }
}
