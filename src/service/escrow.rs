//! Moving the money held in escrow: the client asks for release, an admin releases the
//! earning to the freelancer's wallet, or an admin (or the contract's own client) refunds; and
//! settling what is owed back through the payment provider. What a release or refund would
//! move can be worked out first, on a copy, for an operator to confirm.

use crate::domain::{
    Contract, ContractId, ContractStatus, Currency, EscrowStatus, MinorUnits, Party, PaymentRef,
    ReleaseFundStatus, TimerKind, UserId,
};
use crate::payment::RefundRequest;

use super::Service;
use super::access::{Permit, UseCase, not_party};
use super::error::{Error, ErrorCode, Result};
use super::input::Reason;
use super::transition::changed_if_any;
use crate::domain::Outcome;

/// An admin's release. `force` releases without a client request (operators only; the
/// reason is kept in the history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub contract: ContractId,
    pub force: Option<Reason>,
}

/// A refund. The route names the contract's client (`client`); the CLI does not. An operator
/// may set the freelancer's share (dispute resolution) instead of the status rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub contract: ContractId,
    pub reason: String,
    pub description: String,
    pub freelancer_share: Option<MinorUnits>,
}

/// What a release or refund would move, worked out on a copy before anything is saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovePlan {
    pub action: PlanAction,
    pub contract_id: ContractId,
    pub client_id: UserId,
    pub freelancer_id: UserId,
    /// The escrowed amount that leaves the escrow account.
    pub amount: MinorUnits,
    pub platform_fee: MinorUnits,
    /// To the freelancer's wallet: the earning on release, the kill fee or explicit share on
    /// refund.
    pub freelancer_share: MinorUnits,
    /// Back to the client through the payment provider (0 on release).
    pub client_share: MinorUnits,
    /// Whether an admin set the split instead of the status rule.
    pub explicit_split: bool,
    pub currency: Currency,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanAction {
    Release,
    Refund,
}

impl MovePlan {
    /// Reads the plan off a contract the transition has just been applied to.
    fn of(action: PlanAction, c: &Contract) -> MovePlan {
        let e = c
            .escrow
            .as_ref()
            .expect("a release or refund needs an escrow");
        let (freelancer_share, client_share, explicit_split) = match &e.refund {
            Some(r) => (r.freelancer_share, r.client_share, r.explicit),
            None => (e.freelancer_earning, MinorUnits::ZERO, false),
        };
        MovePlan {
            action,
            contract_id: c.id.clone(),
            client_id: c.client_id.clone(),
            freelancer_id: c.freelancer_id.clone(),
            amount: e.amount,
            platform_fee: e.platform_fee,
            freelancer_share,
            client_share,
            explicit_split,
            currency: e.currency,
        }
    }
}

/// The actor written into the throwaway copy a plan works on; never saved.
const PLAN_ACTOR: &str = "plan";
/// Who releases when a timer does (auto-release, or a client's request being enough).
pub const AUTO_RELEASE_ACTOR: &str = "system:auto-release";

impl Service {
    /// The contract's client asks for the escrow to be released. With auto-release on
    /// (`ESCROW_AUTO_RELEASE_AFTER`) and no admin required (`ESCROW_RELEASE_NEEDS_ADMIN`), the
    /// request is enough: the escrow is released at once, by the system. A timer stored before
    /// the request makes the release happen even if the server dies in between.
    pub async fn request_release(&self, permit: Permit<'_>, id: &ContractId) -> Result<Contract> {
        let caller = permit.expect(UseCase::RequestRelease);
        let timer = match self.request_releases() {
            true => {
                // Only the contract's client stores the timer.
                let c = self.load(id).await?;
                if caller.party_in(&c) != Some(Party::Client) {
                    return Err(not_party());
                }
                // Due once the request could no longer be releasing it itself.
                let grace = self.settings.debit_grace_ms;
                Some(
                    self.schedule_release(TimerKind::RequestedRelease, id, grace)
                        .await?,
                )
            }
            false => None,
        };
        let (_, c) = self
            .transition(id, |c, now| {
                if caller.party_in(c) != Some(Party::Client) {
                    return Err(not_party());
                }
                Ok(((), vec![], c.request_release(now)?))
            })
            .await?;
        if let Some(timer) = timer {
            match self
                .release_by_system(TimerKind::RequestedRelease, id)
                .await
            {
                Ok(released) => {
                    self.finish_timer(&timer).await;
                    if let Some(released) = released {
                        return Ok(released);
                    }
                }
                Err(e) => {
                    tracing::warn!(contract = %id, error = %e.chain(), "release on request failed: its timer will try again");
                }
            }
        }
        Ok(c)
    }

    /// Releases the escrow: the earning to the freelancer's wallet, the fee to the platform.
    pub async fn release(&self, permit: Permit<'_>, release: &Release) -> Result<Contract> {
        let caller = permit.expect(UseCase::Release);
        if release.force.is_some() && caller.user().is_some() {
            return Err(Error::new(
                ErrorCode::AuthWrongRole,
                "only an operator may release without the client's request",
            ));
        }
        let actor = caller.actor();
        let force = release.force.as_ref().map(Reason::as_str);
        self.release_as(permit.request(), &release.contract, &actor, force)
            .await
    }

    /// The release itself, by whoever `actor` is (an admin, an operator, the system).
    async fn release_as(
        &self,
        request: Option<&crate::domain::RequestTag>,
        id: &ContractId,
        actor: &str,
        force: Option<&str>,
    ) -> Result<Contract> {
        // Paying out at release: the timer is stored before the release, so a server that
        // dies between the two still pays out (the timer finds nothing to do if the release
        // never happened).
        let timer = self.schedule_release_payout(id).await?;
        let (repeat, c) = self
            .transition_for(request, id, |c, now| {
                let transfers = c.release(actor, force, now)?;
                Ok(((), transfers, Outcome::Changed))
            })
            .await?;
        if !repeat {
            tracing::info!(contract = %c.id, actor = %actor, "escrow released");
        }
        if let Some(timer) = timer {
            match self.pay_out_release(&c.id).await {
                Ok(()) => self.finish_timer(&timer).await,
                Err(e) => {
                    tracing::warn!(contract = %c.id, error = %e.chain(), "payout at release failed: its timer will try again");
                }
            }
        }
        Ok(c)
    }

    /// The system releases a contract when its timer says so: `AutoRelease` once the work
    /// was completed and the client neither asked for the release nor disputed within the
    /// window, `RequestedRelease` once the client asked (no admin needed). Nothing to do (a
    /// contract refunded, canceled, moved back, already released, never funded): `None`.
    pub(super) async fn release_by_system(
        &self,
        kind: TimerKind,
        id: &ContractId,
    ) -> Result<Option<Contract>> {
        let Some(c) = self.store.get_contract(id).await? else {
            return Ok(None);
        };
        let funded = c
            .escrow
            .as_ref()
            .is_some_and(|e| e.status == EscrowStatus::Funded);
        let requested = c.release_fund_status == ReleaseFundStatus::Requested;
        let due = match kind {
            TimerKind::AutoRelease => c.status == ContractStatus::Completed,
            TimerKind::RequestedRelease => requested,
            TimerKind::ReleasePayout => false,
        };
        if !funded || !due {
            return Ok(None);
        }
        let window = self.settings.auto_release_after_ms.unwrap_or(0);
        let reason = format!(
            "the client neither requested the release nor disputed within {} of completion",
            crate::config::format_duration_ms(window)
        );
        let force = (!requested).then_some(reason.as_str());
        match self.release_as(None, id, AUTO_RELEASE_ACTOR, force).await {
            Ok(c) => Ok(Some(c)),
            // Released or refunded meanwhile by someone else: nothing left to do.
            Err(e) if e.code == ErrorCode::EscrowWrongState => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What [`Service::release`] would move now, checked exactly as it checks. Nothing is
    /// saved: the transition runs on a copy of the record.
    pub async fn plan_release(&self, permit: Permit<'_>, release: &Release) -> Result<MovePlan> {
        permit.expect(UseCase::Release);
        let mut c = self.load(&release.contract).await?;
        let force = release.force.as_ref().map(Reason::as_str);
        c.release(PLAN_ACTOR, force, self.clock.now_ms())?;
        Ok(MovePlan::of(PlanAction::Release, &c))
    }

    /// Decides and books the refund, then sends the client's share back through the provider.
    /// If the provider is down the decision stands and the recovery step finishes it (503).
    pub async fn refund(&self, permit: Permit<'_>, refund: &Refund) -> Result<Contract> {
        let (caller, by) = self.refunder(&permit, refund).await?;
        let actor = caller.actor();
        let (repeat, _) = self
            .transition_for(permit.request(), &refund.contract, |c, now| {
                let transfers = c.decide_refund(
                    &actor,
                    by,
                    &refund.reason,
                    &refund.description,
                    refund.freelancer_share,
                    now,
                )?;
                Ok(((), transfers, Outcome::Changed))
            })
            .await?;
        if !repeat {
            tracing::info!(contract = %refund.contract, actor = %actor, "refund decided");
        }
        // Also on a repeat: the first try may have died before the provider call.
        self.settle_with_provider(&refund.contract).await?;
        self.load(&refund.contract).await
    }

    /// What [`Service::refund`] would move now (the default split by the contract's status,
    /// or the explicit freelancer share), checked exactly as it checks. Nothing is saved.
    pub async fn plan_refund(&self, permit: Permit<'_>, refund: &Refund) -> Result<MovePlan> {
        let (_, by) = self.refunder(&permit, refund).await?;
        let mut c = self.load(&refund.contract).await?;
        c.decide_refund(
            PLAN_ACTOR,
            by,
            "",
            "",
            refund.freelancer_share,
            self.clock.now_ms(),
        )?;
        Ok(MovePlan::of(PlanAction::Refund, &c))
    }

    /// Who refunds, and as which party: an admin or operator, or the contract's own client
    /// (the one the route names). Only an admin may set the split.
    async fn refunder<'a>(
        &self,
        permit: &Permit<'a>,
        refund: &Refund,
    ) -> Result<(&'a super::Caller, Party)> {
        let caller = permit.expect(UseCase::Refund { client: None });
        if let Some(client) = permit.route_client() {
            let c = self.load(&refund.contract).await?;
            if &c.client_id != client {
                return Err(Error::new(
                    ErrorCode::AuthNotParty,
                    "this contract is not that client's",
                ));
            }
        }
        if caller.is_admin() {
            return Ok((caller, Party::Admin));
        }
        if refund.freelancer_share.is_some() {
            return Err(Error::new(
                ErrorCode::AuthWrongRole,
                "only an admin may set the refund's split",
            ));
        }
        Ok((caller, Party::Client))
    }

    /// Sends every refund owed on this contract to the provider (same idempotency key on every
    /// try) and books the provider's answer. Safe to run concurrently and repeatedly.
    pub(super) async fn settle_with_provider(&self, id: &ContractId) -> Result<()> {
        let c = self.load(id).await?;
        let mut calls: Vec<(Option<PaymentRef>, RefundRequest)> = vec![];
        if let Some(e) = &c.escrow
            && e.status == crate::domain::EscrowStatus::RefundPending
            && let Some(r) = &e.refund
        {
            calls.push((
                None,
                RefundRequest {
                    contract_id: c.id.clone(),
                    payment_ref: e
                        .payment_intent_id
                        .clone()
                        .unwrap_or_else(|| e.payment_ref.clone()),
                    amount: crate::domain::Money::new(r.client_share, c.currency),
                    idempotency_key: r.idempotency_key.clone(),
                },
            ));
        }
        for p in c
            .extra_payments
            .iter()
            .filter(|p| p.provider_refund_id.is_none())
        {
            calls.push((
                Some(p.payment_ref.clone()),
                RefundRequest {
                    contract_id: c.id.clone(),
                    payment_ref: p
                        .payment_intent_id
                        .clone()
                        .unwrap_or_else(|| p.payment_ref.clone()),
                    amount: crate::domain::Money::new(p.amount, p.currency),
                    idempotency_key: p.idempotency_key.clone(),
                },
            ));
        }
        let mut first_error = None;
        for (extra, request) in calls {
            match self.payments.refund(&request).await {
                Ok(done) => {
                    self.transition(id, |c, now| {
                        changed_if_any(match &extra {
                            None => c.settle_refund(&done.id, "provider", now)?,
                            Some(r) => c.settle_duplicate(r, &done.id, now)?,
                        })
                    })
                    .await?;
                }
                Err(e) => {
                    let text = e.to_string();
                    if extra.is_none() {
                        self.transition(id, |c, now| {
                            c.note_refund_attempt(Some(&text), now);
                            Ok(((), vec![], Outcome::Changed))
                        })
                        .await?;
                    }
                    tracing::warn!(contract = %id, error = %text, "provider refund failed; will retry");
                    first_error.get_or_insert(Error::from(e));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
