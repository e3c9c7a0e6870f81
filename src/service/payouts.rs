//! Money out: a freelancer's connected account (created once, onboarded through the provider's
//! hosted page, its state kept from `account.updated` events) and payouts from the wallet to
//! it. A payout is debited from the wallet first, in one guarded write that refuses an
//! overdraft whatever runs at the same time (`store::PayoutStore::debit_payout`), then sent:
//! a transfer made → `paid`; refused for good → `failed`, the money back in the wallet; no
//! answer → still `pending`, sent again by the maintenance task with the same idempotency
//! key, so the provider makes one transfer however many times it is asked.

use sha2::{Digest, Sha256};

use crate::domain::payout::AccountState;
use crate::domain::{
    ConnectedAccount, IdempotencyKey, MilestoneRef, Money, Outcome, Payout, PayoutId, PayoutStatus,
    Transfer, UserId,
};
use crate::payment::{AccountLinkRequest, AccountRequest, PaymentError, TransferRequest};
use crate::store::{Cursor, Debit, Page, PayoutFilter, StoreError};

use super::Service;
use super::access::{Permit, UseCase};
use super::error::{Error, ErrorCode, Result};

/// How many times a payout transition re-reads after losing a compare-and-set.
const CAS_ATTEMPTS_MAX: u32 = 32;

/// Where onboarding starts: the account and a fresh link to the provider's hosted page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onboarding {
    pub account_id: String,
    pub url: String,
}

/// A page of payouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutPage {
    pub count: Option<u64>,
    pub payouts: Vec<Payout>,
    pub next: Option<Cursor>,
}

/// A payout's id made from what caused it, for a payout that must be made once per cause (a
/// release's, an idempotent request's): the same cause always names the same payout.
pub(super) fn derived_payout_id(cause: &str) -> PayoutId {
    let digest = Sha256::digest(cause.as_bytes());
    PayoutId::parse(&hex::encode(&digest[..12])).expect("24 hex characters")
}

impl Service {
    pub(super) fn payouts_configured(&self) -> Result<()> {
        match self.settings.connect_webhook_secret {
            Some(_) => Ok(()),
            None => Err(Error::new(
                ErrorCode::PayoutUnconfigured,
                "money out is not configured on this server (STRIPE_CONNECT_WEBHOOK_SECRET)",
            )),
        }
    }

    fn payouts_owner<'a>(permit: &Permit<'a>) -> &'a UserId {
        match permit.use_case() {
            UseCase::Payouts { owner } => owner,
            other => panic!("a permit for {other:?} used for payouts"),
        }
    }

    /// Creates the owner's connected account once (the provider's idempotency key is made
    /// from the user id, so two concurrent calls get one account) and a fresh onboarding link.
    pub async fn onboard(&self, permit: Permit<'_>) -> Result<Onboarding> {
        self.payouts_configured()?;
        let user = Self::payouts_owner(&permit);
        let account = match self.store.connected_account(user).await? {
            Some(a) => a,
            None => {
                let id = self
                    .payments
                    .create_connected_account(&AccountRequest {
                        user: user.clone(),
                        idempotency_key: IdempotencyKey::derived(format!("account-{user}")),
                    })
                    .await?;
                let fresh = ConnectedAccount::new(user.clone(), id, self.clock.now_ms());
                self.store.insert_connected_account(&fresh).await?
            }
        };
        let base = &self.settings.client_url;
        let url = self
            .payments
            .create_account_link(&AccountLinkRequest {
                account_id: account.account_id.clone(),
                refresh_url: format!("{base}/freelancer/payouts?onboarding=refresh"),
                return_url: self.onboarding_return_url(),
            })
            .await?;
        Ok(Onboarding {
            account_id: account.account_id,
            url,
        })
    }

    /// The owner's connected account: 404 `payout.no_account` before onboarding started.
    pub async fn payout_account(&self, permit: Permit<'_>) -> Result<ConnectedAccount> {
        let user = Self::payouts_owner(&permit);
        self.store.connected_account(user).await?.ok_or_else(|| {
            Error::new(
                ErrorCode::PayoutNoAccount,
                "no connected account yet: start onboarding first",
            )
        })
    }

    /// A payout of `amount` (default: the whole balance) from the owner's wallet to their
    /// connected account. Refused (nothing written) without an account that takes payouts,
    /// under the minimum, or over the balance.
    pub async fn request_payout(
        &self,
        permit: Permit<'_>,
        amount: Option<Money>,
    ) -> Result<Payout> {
        self.payouts_configured()?;
        let user = Self::payouts_owner(&permit);
        let actor = permit.caller().actor();
        let account = self.store.connected_account(user).await?.ok_or_else(|| {
            Error::new(
                ErrorCode::PayoutNoAccount,
                "no connected account: complete payout onboarding first",
            )
        })?;
        if !account.payouts_enabled {
            return Err(Error::new(
                ErrorCode::PayoutNotEnabled,
                format!(
                    "the connected account {} does not take payouts yet (onboarding not complete)",
                    account.account_id
                ),
            ));
        }
        let cur = self.settings.currency;
        let min = self.settings.payout_min;
        let whole_balance = amount.is_none();
        let amount = match amount {
            Some(m) => {
                if m.currency != cur {
                    return Err(Error::new(
                        ErrorCode::ValidationAmount,
                        format!("amount must be in {cur}"),
                    ));
                }
                m.minor
            }
            None => {
                self.store
                    .account_balance(&crate::domain::Account::Wallet(user.clone()), cur)
                    .await?
            }
        };
        if whole_balance && amount < min.minor {
            // Nothing (or too little) to withdraw: the wallet's state is the conflict.
            return Err(Error::new(
                ErrorCode::PayoutInsufficientBalance,
                format!(
                    "the wallet holds {} {}, less than the smallest payout ({})",
                    crate::domain::money::format_minor(amount, cur),
                    cur.code().to_uppercase(),
                    crate::domain::money::format_minor(min.minor, cur),
                ),
            ));
        }
        if amount < min.minor {
            return Err(Error::new(
                ErrorCode::PayoutBelowMinimum,
                format!(
                    "a payout is at least {} {}; asked for {}",
                    crate::domain::money::format_minor(min.minor, cur),
                    cur.code().to_uppercase(),
                    crate::domain::money::format_minor(amount, cur),
                ),
            ));
        }
        let now = self.clock.now_ms();
        // An idempotent request names its payout: a retry whose first try debited the wallet
        // (and then lost its stored response to a crash) finds that payout instead of making
        // a second one.
        let id = match permit.request() {
            Some(tag) => derived_payout_id(&format!("request:{tag}")),
            None => PayoutId::generate(),
        };
        let mut p = Payout::requested(
            id.clone(),
            user.clone(),
            amount,
            cur,
            account.account_id,
            now,
        );
        p.history[0].actor = actor;
        match self.debit(&p, None).await {
            Ok(_) => {}
            Err(e) if e.code == ErrorCode::ConflictDuplicate => {
                let first = self.load_payout(&id).await?;
                if &first.user != user {
                    return Err(e);
                }
                tracing::info!(payout = %id, "a retried request had already made this payout: answered as its first try");
            }
            Err(e) => return Err(e),
        }
        self.send_payout(&id).await
    }

    /// Debits the wallet for `p`: 409 `payout.insufficient_balance` when it holds less.
    async fn debit(&self, p: &Payout, expected: Option<i64>) -> Result<Payout> {
        match self
            .store
            .debit_payout(p, expected, self.clock.now_ms())
            .await?
        {
            Debit::Done(p) => {
                self.metrics
                    .money("payout_debited", p.currency.code(), p.amount.get());
                tracing::info!(payout = %p.id, user = %p.user, amount = p.amount.get(), "wallet debited for a payout");
                Ok(*p)
            }
            Debit::Insufficient { available } => Err(Error::new(
                ErrorCode::PayoutInsufficientBalance,
                format!(
                    "the wallet holds {} {}, less than the {} asked for",
                    crate::domain::money::format_minor(available, p.currency),
                    p.currency.code().to_uppercase(),
                    crate::domain::money::format_minor(p.amount, p.currency),
                ),
            )),
        }
    }

    /// Runs `f` on the freshest payout and saves it with a compare-and-set, retrying from a
    /// fresh read when another writer won.
    async fn payout_transition(
        &self,
        id: &PayoutId,
        mut f: impl FnMut(&mut Payout, i64) -> Result<(Vec<Transfer>, Outcome)>,
    ) -> Result<Payout> {
        for _ in 0..CAS_ATTEMPTS_MAX {
            let mut p = self.load_payout(id).await?;
            let expected = p.version;
            let (transfers, outcome) = f(&mut p, self.clock.now_ms())?;
            if outcome == Outcome::Unchanged {
                return Ok(p);
            }
            p.version = expected + 1;
            let entries: Vec<_> = transfers.iter().flat_map(Transfer::entries).collect();
            match self.store.save_payout(&p, expected, &entries).await {
                Ok(()) => return Ok(p),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::new(
            ErrorCode::ConflictBusy,
            "the payout is being changed by others; try again",
        ))
    }

    async fn load_payout(&self, id: &PayoutId) -> Result<Payout> {
        self.store
            .get_payout(id)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::PayoutNotFound, format!("payout {id} not found")))
    }

    /// Asks the provider for a pending payout's transfer (again: the same key makes it one
    /// transfer) and records the answer. The payout as it is afterwards; a payout that is not
    /// pending is returned as it is.
    pub async fn send_payout(&self, id: &PayoutId) -> Result<Payout> {
        let p = self.load_payout(id).await?;
        if p.status != PayoutStatus::Pending {
            return Ok(p);
        }
        // A chargeback recovery goes to the platform: nothing to ask the provider.
        if p.is_recovery() {
            return self
                .payout_transition(id, |p, now| {
                    if p.status != PayoutStatus::Pending {
                        return Ok((vec![], Outcome::Unchanged));
                    }
                    Ok((p.recovered(now)?, Outcome::Changed))
                })
                .await;
        }
        let request = TransferRequest {
            payout_id: p.id.clone(),
            user: p.user.clone(),
            destination: p.destination.clone(),
            amount: Money::new(p.amount, p.currency),
            source_transaction: p.source_transaction.clone(),
            idempotency_key: p.transfer_key(),
        };
        let attempt = p.attempt;
        let answer = self.payments.create_transfer(&request).await;
        let done = self
            .payout_transition(id, |p, now| {
                // Another sender (a server's maintenance task) got there first, or the
                // payout moved on to another attempt: nothing to record.
                if p.status != PayoutStatus::Pending || p.attempt != attempt {
                    return Ok((vec![], Outcome::Unchanged));
                }
                match &answer {
                    Ok(t) => Ok((p.paid(&t.id, now)?, Outcome::Changed)),
                    Err(PaymentError::Rejected(why)) => Ok((p.failed(why, now)?, Outcome::Changed)),
                    Err(PaymentError::Unavailable(why)) => {
                        p.unanswered(why, now);
                        Ok((vec![], Outcome::Changed))
                    }
                }
            })
            .await?;
        match (&answer, done.status) {
            (Ok(t), PayoutStatus::Paid) => {
                self.metrics
                    .money("paid_out", done.currency.code(), done.amount.get());
                tracing::info!(payout = %done.id, transfer = %t.id, "payout paid");
            }
            (Err(PaymentError::Rejected(why)), PayoutStatus::Failed) => {
                tracing::warn!(payout = %done.id, reason = %why, "payout refused by the provider: back to the wallet");
            }
            (Err(PaymentError::Unavailable(why)), PayoutStatus::Pending) => {
                tracing::warn!(payout = %done.id, error = %why, "payout transfer will be retried");
            }
            _ => {}
        }
        Ok(done)
    }

    /// Sends every pending payout again (the maintenance task); how many ended paid or
    /// failed, and how many still wait.
    pub async fn recover_payouts(&self) -> Result<(usize, usize)> {
        self.finish_cut_off_debits().await?;
        let (mut done, mut waiting) = (0, 0);
        for id in self.store.payouts_with_provider_work().await? {
            match self.send_payout(&id).await {
                Ok(p) if p.status == PayoutStatus::Pending => waiting += 1,
                Ok(_) => done += 1,
                Err(e) => {
                    tracing::warn!(payout = %id, error = %e.chain(), "payout recovery failed");
                    waiting += 1
                }
            }
        }
        Ok((done, waiting))
    }

    /// Finishes the wallet debits a crash or a request's timeout cut off between their steps
    /// (MongoDB), once they are older than any request can run ([`Settings::debit_grace_ms`]);
    /// then their payouts are sent like any pending one. How many.
    ///
    /// [`Settings::debit_grace_ms`]: super::Settings::debit_grace_ms
    pub async fn repair_debits(&self) -> Result<u64> {
        let repaired = self.finish_cut_off_debits().await?;
        if repaired > 0 {
            for id in self.store.payouts_with_provider_work().await? {
                if let Err(e) = self.send_payout(&id).await {
                    tracing::warn!(payout = %id, error = %e.chain(), "payout recovery failed");
                }
            }
        }
        Ok(repaired)
    }

    async fn finish_cut_off_debits(&self) -> Result<u64> {
        let now = self.clock.now_ms();
        Ok(self
            .store
            .repair_debits(now - self.settings.debit_grace_ms, now)
            .await?)
    }

    /// Retries a failed payout (an operator): debits the wallet again and sends it under a new
    /// attempt.
    pub async fn retry_payout(&self, permit: Permit<'_>, id: &PayoutId) -> Result<Payout> {
        let caller = permit.expect(UseCase::OperatePayouts);
        let mut p = self.load_payout(id).await?;
        let expected = p.version;
        p.retry(&caller.actor(), self.clock.now_ms())?;
        match self.debit(&p, Some(expected)).await {
            Err(e) if e.code == ErrorCode::ConflictConcurrent => {
                return Err(Error::new(
                    ErrorCode::ConflictConcurrent,
                    "the payout changed while it was being retried; look at it again",
                ));
            }
            r => r?,
        };
        self.send_payout(id).await
    }

    /// One payout: its owner's, or any for an admin.
    pub async fn payout(&self, permit: Permit<'_>, id: &PayoutId) -> Result<Payout> {
        let p = self.load_payout(id).await?;
        match permit.use_case() {
            UseCase::OperatePayouts => Ok(p),
            UseCase::Payouts { owner } if *owner == p.user || permit.caller().is_admin() => Ok(p),
            // Not yours: the same answer as none, so ids cannot be probed.
            _ => Err(Error::new(
                ErrorCode::PayoutNotFound,
                format!("payout {id} not found"),
            )),
        }
    }

    /// A page of payouts: the owner's (`Payouts`), or anyone's matching `filter`
    /// (`OperatePayouts`).
    pub async fn payouts(
        &self,
        permit: Permit<'_>,
        mut filter: PayoutFilter,
        page: Page,
    ) -> Result<PayoutPage> {
        match permit.use_case() {
            UseCase::Payouts { owner } => filter.user = Some(owner.clone()),
            UseCase::OperatePayouts => {}
            other => panic!("a permit for {other:?} used to list payouts"),
        }
        let (count, payouts) = self.store.list_payouts(&filter, &page).await?;
        Ok(PayoutPage {
            count,
            next: page.next(&payouts, Cursor::of_payout),
            payouts,
        })
    }

    /// A connected account's new state, from an `account.updated` event: whether it was an
    /// account of this platform.
    pub(super) async fn describe_account(&self, state: &AccountState) -> Result<Option<UserId>> {
        let Some(mut account) = self
            .store
            .connected_account_by_id(&state.account_id)
            .await?
        else {
            return Ok(None);
        };
        if account.describe(state, self.clock.now_ms()) {
            self.store.describe_connected_account(&account).await?;
            tracing::info!(user = %account.user, account = %account.account_id, payouts_enabled = account.payouts_enabled, "connected account updated");
        }
        Ok(Some(account.user))
    }

    /// A transfer's reversal, from a `transfer.reversed` event: what was not yet given back
    /// goes back to the wallet.
    pub(super) async fn reverse_payout(
        &self,
        id: &PayoutId,
        transfer_id: &str,
        total: crate::domain::MinorUnits,
    ) -> Result<Payout> {
        self.payout_transition(id, |p, now| {
            let transfers = p.reversed_to(transfer_id, total, now)?;
            let outcome = if transfers.is_empty() {
                Outcome::Unchanged
            } else {
                Outcome::Changed
            };
            Ok((transfers, outcome))
        })
        .await
    }

    /// Whether releases pay out at once (`ESCROW_PAYOUT_MODE=on_release`, with money out
    /// configured).
    pub(super) fn pays_out_on_release(&self) -> bool {
        self.settings.payout_mode == super::PayoutMode::OnRelease
            && self.settings.connect_webhook_secret.is_some()
    }

    /// `ESCROW_PAYOUT_MODE=on_release`: a released contract's earning goes straight to the
    /// freelancer's connected account when it takes payouts, as a payout made once per
    /// release (its id comes from the contract's) and funded by the escrow's charge. Without
    /// such an account it stays in the wallet. Idempotent; a contract not (or not yet)
    /// released, or whose freelancer already withdrew the earning, needs nothing. The release
    /// schedules a durable timer first (`TimerKind::ReleasePayout`), so a server that dies
    /// between the release and this still pays out (see `timers`).
    pub(super) async fn pay_out_release(&self, milestone: &MilestoneRef) -> Result<()> {
        if !self.pays_out_on_release() {
            return Ok(());
        }
        let contract = &milestone.contract;
        let c = self.load(contract).await?;
        let Some(e) = c
            .milestone(milestone.milestone)
            .ok()
            .and_then(|m| m.escrow.as_ref())
            .filter(|e| e.released_at.is_some())
        else {
            return Ok(());
        };
        let Some(account) = self.store.connected_account(&c.freelancer_id).await? else {
            return Ok(());
        };
        if !account.payouts_enabled || e.freelancer_earning.get() <= 0 {
            return Ok(());
        }
        let id = derived_payout_id(&format!("release:{milestone}"));
        if self.store.get_payout(&id).await?.is_some() {
            return Ok(());
        }
        let mut p = Payout::requested(
            id.clone(),
            c.freelancer_id.clone(),
            e.freelancer_earning,
            e.currency,
            account.account_id,
            self.clock.now_ms(),
        );
        p.history[0].actor = "system:on-release".into();
        p.contract_id = Some(contract.clone());
        p.source_transaction = e.charge_id.as_ref().map(|c| c.to_string());
        match self.debit(&p, None).await {
            Ok(_) => {}
            // Made by a concurrent call for the same release.
            Err(e) if e.code == ErrorCode::ConflictDuplicate => return Ok(()),
            // The freelancer withdrew it first: nothing left to pay out.
            Err(e) if e.code == ErrorCode::PayoutInsufficientBalance => return Ok(()),
            Err(e) => return Err(e),
        }
        self.send_payout(&id).await?;
        Ok(())
    }
}

/// What the sandbox onboarding page's button posts to this server's own `/webhook/connect`.
#[derive(Debug, Clone)]
pub struct SandboxOnboarding {
    pub account: ConnectedAccount,
    pub body: String,
    pub signature: String,
}

impl Service {
    /// The connected account of a sandbox onboarding page: one this deployment made (its id
    /// carries a tag only the server can make) and recorded.
    pub async fn sandbox_account(&self, account_id: &str) -> Result<ConnectedAccount> {
        if self.payments.name() != "sandbox" {
            return Err(Error::new(
                ErrorCode::SandboxDisabled,
                "the sandbox provider is not in use",
            ));
        }
        let not_found = || {
            Error::new(
                ErrorCode::NotFound,
                format!("no sandbox connected account {account_id:?}"),
            )
        };
        crate::payment::sandbox::SessionKey::new(&self.settings.webhook_secret)
            .check_account(account_id)
            .ok_or_else(not_found)?;
        self.store
            .connected_account_by_id(account_id)
            .await?
            .ok_or_else(not_found)
    }

    /// The sandbox's "Complete onboarding" button: the signed `account.updated` (payouts
    /// enabled) the server then posts to itself, as Stripe would.
    pub async fn sandbox_onboarding(&self, account_id: &str) -> Result<SandboxOnboarding> {
        self.payouts_configured()?;
        let account = self.sandbox_account(account_id).await?;
        let now_s = self.clock.now_ms() / 1000;
        let event_id = crate::domain::EventId::new(format!(
            "evt_sandbox_{}",
            crate::domain::ids::new_object_id_hex()
        ));
        let body = crate::payment::sandbox::account_updated_event(
            &account.account_id,
            &account.user,
            &event_id,
            now_s,
        );
        let secret = self
            .settings
            .connect_webhook_secret
            .as_deref()
            .unwrap_or_default();
        let signature = crate::payment::webhook::sign(body.as_bytes(), secret, now_s);
        Ok(SandboxOnboarding {
            account,
            body,
            signature,
        })
    }

    /// Where the provider's onboarding returns the freelancer to.
    pub fn onboarding_return_url(&self) -> String {
        format!(
            "{}/freelancer/payouts?onboarding=return",
            self.settings.client_url
        )
    }
}
