//! Moving the money held in escrow: the client asks for release, an admin releases the
//! earning to the freelancer's wallet, or an admin (or the contract's own client) refunds; and
//! settling what is owed back through the payment provider. What a release or refund would
//! move can be worked out first, on a copy, for an operator to confirm.

use crate::domain::{
    Account, Contract, ContractId, Currency, MilestoneId, MilestoneRef, MinorUnits, Party,
    PaymentRef, TimerKind, Transfer, TransferKind, UserId,
};
use crate::payment::{RefundRequest, RefundStatus};

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
    /// One milestone; `None`: every held milestone whose release was requested.
    pub milestone: Option<MilestoneId>,
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
    /// Reads the plan off the transfers the transition just wrote (on a copy): what leaves
    /// the escrow accounts and where it goes, over every milestone it moved.
    pub(super) fn of(
        action: PlanAction,
        c: &Contract,
        transfers: &[Transfer],
        explicit_split: bool,
    ) -> MovePlan {
        let kind = match action {
            PlanAction::Release => TransferKind::Release,
            PlanAction::Refund => TransferKind::Refund,
        };
        let sum = |pick: &dyn Fn(&Account) -> bool| -> MinorUnits {
            transfers
                .iter()
                .filter(|t| t.kind == kind)
                .flat_map(|t| t.lines.iter())
                .filter(|(a, _)| pick(a))
                .map(|(_, m)| *m)
                .sum()
        };
        MovePlan {
            action,
            contract_id: c.id.clone(),
            client_id: c.client_id.clone(),
            freelancer_id: c.freelancer_id.clone(),
            amount: -sum(&|a| matches!(a, Account::Escrow(_))),
            platform_fee: sum(&|a| matches!(a, Account::PlatformFees)),
            freelancer_share: sum(&|a| matches!(a, Account::Wallet(_))),
            client_share: sum(&|a| matches!(a, Account::Refund(_))),
            explicit_split,
            currency: c.currency,
        }
    }
}

/// The actor written into the throwaway copy a plan works on; never saved.
pub(super) const PLAN_ACTOR: &str = "plan";
/// Who releases when a timer does (auto-release, or a client's request being enough).
pub const AUTO_RELEASE_ACTOR: &str = "system:auto-release";

impl Service {
    /// The contract's client asks for the escrow to be released: every held milestone's, or
    /// `milestone`'s alone (once submitted). With auto-release on (`ESCROW_AUTO_RELEASE_AFTER`)
    /// and no admin required (`ESCROW_RELEASE_NEEDS_ADMIN`), the request is enough: the
    /// escrow is released at once, by the system. A timer stored before the request makes the
    /// release happen even if the server dies in between.
    pub async fn request_release(
        &self,
        permit: Permit<'_>,
        id: &ContractId,
        milestone: Option<MilestoneId>,
    ) -> Result<Contract> {
        let caller = permit.expect(UseCase::RequestRelease);
        let timers = match self.request_releases() {
            true => {
                // Only the contract's client stores the timers.
                let c = self.load(id).await?;
                if caller.party_in(&c) != Some(Party::Client) {
                    return Err(not_party());
                }
                // The milestones whose money is held: only those can be released.
                let held = c.held_milestones();
                let targets: Vec<MilestoneId> = match milestone {
                    Some(m) => {
                        c.milestone(m)?;
                        held.into_iter().filter(|h| *h == m).collect()
                    }
                    None => held,
                };
                // Due once the request could no longer be releasing it itself.
                let grace = self.settings.debit_grace_ms;
                let mut timers = Vec::with_capacity(targets.len());
                for m in targets {
                    let subject = c.milestone_ref(m);
                    timers.push((
                        subject.clone(),
                        self.schedule_release(
                            TimerKind::RequestedRelease,
                            &subject.to_string(),
                            grace,
                        )
                        .await?,
                    ));
                }
                timers
            }
            false => vec![],
        };
        let (_, mut c) = self
            .transition(id, |c, now| {
                if caller.party_in(c) != Some(Party::Client) {
                    return Err(not_party());
                }
                let outcome = match milestone {
                    Some(m) => c.request_milestone_release(m, now)?,
                    None => c.request_release(now)?,
                };
                Ok(((), vec![], outcome))
            })
            .await?;
        for (subject, timer) in timers {
            match self
                .release_by_system(TimerKind::RequestedRelease, &subject, 1)
                .await
            {
                Ok(released) => {
                    self.finish_timer(&timer).await;
                    if let Some(released) = released {
                        c = released;
                    }
                }
                Err(e) => {
                    tracing::warn!(milestone = %subject, error = %e.chain(), "release on request failed: its timer will try again");
                }
            }
        }
        Ok(c)
    }

    /// The contract's freelancer delivers a funded milestone; with auto-release on, its
    /// window starts (the timer is stored first, as at completion).
    pub async fn submit_milestone(
        &self,
        permit: Permit<'_>,
        id: &ContractId,
        milestone: MilestoneId,
    ) -> Result<Contract> {
        let caller = permit.expect(UseCase::UpdateStatus);
        let c = self.load(id).await?;
        if caller.party_in(&c) != Some(Party::Freelancer) {
            return Err(not_party());
        }
        let m = c.milestone(milestone)?;
        if m.is_held() && m.submitted_at.is_none() {
            self.schedule_auto_release(&c.milestone_ref(milestone), m.submissions + 1)
                .await?;
        }
        let (_, c) = self
            .transition(id, |c, now| {
                if caller.party_in(c) != Some(Party::Freelancer) {
                    return Err(not_party());
                }
                Ok(((), vec![], c.submit_milestone(milestone, now)?))
            })
            .await?;
        Ok(c)
    }

    /// The contract's client rejects a delivered milestone (not yet asked to be released): it
    /// goes back to funded and undelivered, and its auto-release clock stops; the freelancer's
    /// next delivery starts a new window (a timer of its own).
    pub async fn reject_milestone(
        &self,
        permit: Permit<'_>,
        id: &ContractId,
        milestone: MilestoneId,
        reason: &str,
    ) -> Result<Contract> {
        let caller = permit.expect(UseCase::RequestRelease);
        let actor = caller.actor();
        let (_, c) = self
            .transition_for(permit.request(), id, |c, now| {
                if caller.party_in(c) != Some(Party::Client) {
                    return Err(not_party());
                }
                Ok((
                    (),
                    vec![],
                    c.reject_milestone(milestone, &actor, reason, now)?,
                ))
            })
            .await?;
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
        self.release_as(
            permit.request(),
            &release.contract,
            release.milestone,
            &actor,
            force,
        )
        .await
    }

    /// The release itself, by whoever `actor` is (an admin, an operator, the system).
    async fn release_as(
        &self,
        request: Option<&crate::domain::RequestTag>,
        id: &ContractId,
        milestone: Option<MilestoneId>,
        actor: &str,
        force: Option<&str>,
    ) -> Result<Contract> {
        // Paying out at release: the timers are stored before the release, so a server that
        // dies between the two still pays out (a timer finds nothing to do if its milestone
        // was not released).
        let mut timers = vec![];
        if self.pays_out_on_release() {
            let c = self.load(id).await?;
            let candidates = match milestone {
                Some(m) => vec![c.milestone(m)?.id],
                None => c.held_milestones(),
            };
            for m in candidates {
                let subject = c.milestone_ref(m);
                if let Some(t) = self.schedule_release_payout(&subject).await? {
                    timers.push((subject, t));
                }
            }
        }
        let (repeat, c) = self
            .transition_for(request, id, |c, now| {
                let transfers = match milestone {
                    Some(m) => c.release_milestone(m, actor, force, now)?,
                    None => c.release(actor, force, now)?,
                };
                Ok(((), transfers, Outcome::Changed))
            })
            .await?;
        if !repeat {
            tracing::info!(contract = %c.id, milestone = ?milestone, actor = %actor, "escrow released");
        }
        for (subject, timer) in timers {
            match self.pay_out_release(&subject).await {
                Ok(()) => self.finish_timer(&timer).await,
                Err(e) => {
                    tracing::warn!(milestone = %subject, error = %e.chain(), "payout at release failed: its timer will try again");
                }
            }
        }
        Ok(c)
    }

    /// The system releases a milestone when its timer says so: `AutoRelease` once its
    /// `submission`th delivery stood for the window without the client asking for the release
    /// or rejecting it, `RequestedRelease` once the client asked (no admin needed). Nothing to
    /// do (rejected, delivered again since, refunded, canceled, already released, never
    /// funded): `None`.
    pub(super) async fn release_by_system(
        &self,
        kind: TimerKind,
        subject: &MilestoneRef,
        submission: u32,
    ) -> Result<Option<Contract>> {
        let Some(c) = self.store.get_contract(&subject.contract).await? else {
            return Ok(None);
        };
        let Ok(m) = c.milestone(subject.milestone) else {
            return Ok(None);
        };
        let requested = m.release_requested_at.is_some();
        let due = match kind {
            TimerKind::AutoRelease => m.submitted_at.is_some() && m.submissions == submission,
            TimerKind::RequestedRelease => requested,
            TimerKind::ReleasePayout | TimerKind::ChargebackRecovery => false,
        };
        // Frozen by a dispute: its resolution decides this money, never a timer.
        if !m.is_held() || !due || c.frozen_by(subject.milestone).is_some() {
            return Ok(None);
        }
        let window = self.settings.auto_release_after_ms.unwrap_or(0);
        let reason = format!(
            "the client neither requested the release nor rejected the delivery within {} of it",
            crate::config::format_duration_ms(window)
        );
        let force = (!requested).then_some(reason.as_str());
        match self
            .release_as(
                None,
                &subject.contract,
                Some(subject.milestone),
                AUTO_RELEASE_ACTOR,
                force,
            )
            .await
        {
            Ok(c) => Ok(Some(c)),
            // Released or refunded meanwhile by someone else: nothing left to do.
            Err(e)
                if matches!(
                    e.code,
                    ErrorCode::EscrowWrongState | ErrorCode::EscrowFrozen
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// What [`Service::release`] would move now, checked exactly as it checks. Nothing is
    /// saved: the transition runs on a copy of the record.
    pub async fn plan_release(&self, permit: Permit<'_>, release: &Release) -> Result<MovePlan> {
        permit.expect(UseCase::Release);
        let mut c = self.load(&release.contract).await?;
        let force = release.force.as_ref().map(Reason::as_str);
        let now = self.clock.now_ms();
        let transfers = match release.milestone {
            Some(m) => c.release_milestone(m, PLAN_ACTOR, force, now)?,
            None => c.release(PLAN_ACTOR, force, now)?,
        };
        Ok(MovePlan::of(PlanAction::Release, &c, &transfers, false))
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
        let transfers = c.decide_refund(
            PLAN_ACTOR,
            by,
            "",
            "",
            refund.freelancer_share,
            self.clock.now_ms(),
        )?;
        Ok(MovePlan::of(
            PlanAction::Refund,
            &c,
            &transfers,
            refund.freelancer_share.is_some(),
        ))
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
        // A milestone's refund (`Ok`) or an extra payment's (`Err`).
        let mut calls: Vec<(std::result::Result<MilestoneId, PaymentRef>, RefundRequest)> = vec![];
        for m in c.refunds_pending() {
            let Some(e) = c.milestone(m)?.escrow.as_ref() else {
                continue;
            };
            let Some(r) = &e.refund else {
                continue;
            };
            calls.push((
                Ok(m),
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
        for p in c.extra_payments.iter().filter(|p| p.refund_owed()) {
            calls.push((
                Err(p.payment_ref.clone()),
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
                    self.transition(id, |c, now| match (&extra, &done.status) {
                        (Ok(m), RefundStatus::Succeeded) => {
                            changed_if_any(c.settle_refund(*m, &done.id, "provider", now)?)
                        }
                        // Taken, not done: Stripe's `refund.updated` says how it ends.
                        (Ok(m), RefundStatus::Pending) => {
                            Ok(((), vec![], c.refund_in_flight(*m, &done.id, now)?))
                        }
                        (Ok(m), RefundStatus::Failed(why)) => {
                            c.refund_in_flight(*m, &done.id, now)?;
                            Ok(((), c.fail_refund(*m, &done.id, why, now)?, Outcome::Changed))
                        }
                        (Err(r), RefundStatus::Succeeded) => {
                            changed_if_any(c.settle_duplicate(r, &done.id, now)?)
                        }
                        (Err(r), RefundStatus::Pending) => {
                            Ok(((), vec![], c.duplicate_refund_in_flight(r, &done.id, now)?))
                        }
                        (Err(r), RefundStatus::Failed(why)) => Ok((
                            (),
                            c.fail_duplicate_refund(r, &done.id, why, now)?,
                            Outcome::Changed,
                        )),
                    })
                    .await?;
                    if let RefundStatus::Failed(why) = &done.status {
                        tracing::warn!(contract = %id, refund = %done.id, reason = %why, "the provider failed the refund: listed by escrowctl refunds list --failed");
                    }
                }
                Err(e) => {
                    let text = e.to_string();
                    if let Ok(m) = extra {
                        self.transition(id, |c, now| {
                            c.note_refund_attempt(m, Some(&text), now);
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

impl Service {
    /// An operator sends every failed refund of a contract again, each under a new
    /// idempotency key, then asks the provider (a provider still down: 503, the recovery
    /// step finishes it).
    pub async fn retry_refunds(&self, permit: Permit<'_>, id: &ContractId) -> Result<Contract> {
        let caller = permit.expect(UseCase::Refund { client: None });
        if !caller.is_admin() {
            return Err(Error::new(
                ErrorCode::AuthWrongRole,
                "only an admin retries a failed refund",
            ));
        }
        let actor = caller.actor();
        self.transition_for(permit.request(), id, |c, now| {
            c.retry_refunds(&actor, now)?;
            Ok(((), vec![], Outcome::Changed))
        })
        .await?;
        tracing::info!(contract = %id, actor = %actor, "failed refund sent again");
        self.settle_with_provider(id).await?;
        self.load(id).await
    }

    /// Contracts whose refund waits for the provider, or (`failed_only`) failed there,
    /// newest first.
    pub async fn refunds(
        &self,
        permit: Permit<'_>,
        failed_only: bool,
        page: crate::store::Page,
    ) -> Result<super::reports::EscrowPage> {
        permit.expect(UseCase::Reports);
        // Failed: a milestone's refund or a duplicate payment's.
        let filter = match failed_only {
            true => crate::store::ContractFilter {
                refund_failed: true,
                ..crate::store::ContractFilter::default()
            },
            false => crate::store::ContractFilter {
                escrow_status: Some(crate::domain::EscrowStatus::RefundPending),
                ..crate::store::ContractFilter::default()
            },
        };
        self.contract_page(&filter, page).await
    }
}

impl Service {
    /// An admin settles a contract's failed refunds by other means (`reason` is kept): the
    /// client's share is booked as gone, the escrow refunded. Nothing is sent to the provider.
    pub async fn settle_failed_refunds(
        &self,
        permit: Permit<'_>,
        id: &ContractId,
        reason: &str,
    ) -> Result<Contract> {
        let caller = permit.expect(UseCase::Refund { client: None });
        if !caller.is_admin() {
            return Err(Error::new(
                ErrorCode::AuthWrongRole,
                "only an admin settles a failed refund",
            ));
        }
        let actor = caller.actor();
        let (_, c) = self
            .transition_for(permit.request(), id, |c, now| {
                let transfers = c.settle_failed_refunds(&actor, reason, now)?;
                Ok(((), transfers, Outcome::Changed))
            })
            .await?;
        tracing::info!(contract = %id, actor = %actor, "failed refund settled by an admin");
        Ok(c)
    }
}
