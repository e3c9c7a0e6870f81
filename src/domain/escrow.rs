//! The escrow of a contract and its money transitions. Each transition is a pure function on
//! the [`Contract`] record that returns the ledger [`Transfer`]s it causes; the service saves
//! the record and the transfers together with a compare-and-set on the record's version, so a
//! transition happens exactly once whatever runs at the same time.
//!
//! States: `funded` → `released`, or `funded` → `refund_pending` → `refunded`. Release and
//! refund both leave `funded` and nothing returns to it, so exactly one of them ever happens.

use serde::{Deserialize, Serialize};

use super::contract::{Contract, ContractStatus, Outcome, Party, REASON_CHARS_MAX};
use super::error::{Action, DomainError, Entity};
use super::ids::{EventId, IdempotencyKey, PaymentRef, RefundRef};
use super::ledger::{Account, Transfer, TransferKind};
use super::milestone::MilestoneId;
use super::money::{Currency, FeeBps, MinorUnits, fee_split, mul_div_half_up};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscrowStatus {
    Funded,
    Released,
    /// The refund is decided and booked; the client's share is waiting for the provider.
    RefundPending,
    Refunded,
    /// A lost chargeback took everything it held back to the card holder's bank.
    ChargedBack,
    /// The provider reported the client's share of the refund failed or canceled: the money
    /// is back in `refund:<contract>`, owed to the client until a retry succeeds.
    RefundFailed,
}

impl EscrowStatus {
    pub const ALL: [EscrowStatus; 6] = [
        EscrowStatus::Funded,
        EscrowStatus::Released,
        EscrowStatus::RefundPending,
        EscrowStatus::Refunded,
        EscrowStatus::ChargedBack,
        EscrowStatus::RefundFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EscrowStatus::Funded => "funded",
            EscrowStatus::Released => "released",
            EscrowStatus::RefundPending => "refund_pending",
            EscrowStatus::Refunded => "refunded",
            EscrowStatus::ChargedBack => "charged_back",
            EscrowStatus::RefundFailed => "refund_failed",
        }
    }

    pub fn parse(s: &str) -> Option<EscrowStatus> {
        match s {
            "funded" => Some(EscrowStatus::Funded),
            "released" => Some(EscrowStatus::Released),
            "refund_pending" => Some(EscrowStatus::RefundPending),
            "refunded" => Some(EscrowStatus::Refunded),
            "charged_back" => Some(EscrowStatus::ChargedBack),
            "refund_failed" => Some(EscrowStatus::RefundFailed),
            _ => None,
        }
    }
}

/// A successful payment as reported by the provider's webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub checkout_session_id: Option<PaymentRef>,
    pub payment_intent_id: Option<PaymentRef>,
    /// The charge that took the money, when the event names it (`latest_charge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<PaymentRef>,
    pub amount: MinorUnits,
    pub currency: Currency,
    /// The milestones it pays for, as its checkout session named them (`None`: every
    /// unfunded one; what a session made before milestones pays for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestones: Option<Vec<MilestoneId>>,
}

fn nothing(m: &MinorUnits) -> bool {
    m.is_zero()
}

/// Fills `slot` from `from` when it is empty and `from` is not; whether it did.
fn learn(slot: &mut Option<PaymentRef>, from: &Option<PaymentRef>) -> bool {
    if slot.is_none() && from.is_some() {
        slot.clone_from(from);
        return true;
    }
    false
}

impl Payment {
    /// What identifies the money itself: the payment intent when known, else the session.
    /// A `checkout.session.completed` and a `payment_intent.succeeded` for one payment share it.
    pub fn reference(&self) -> Option<&PaymentRef> {
        self.payment_intent_id
            .as_ref()
            .or(self.checkout_session_id.as_ref())
    }

    /// Whether this payment and one known by the references `known` are the same money: they
    /// share any reference (session, payment intent or charge).
    fn is(&self, known: &[Option<&PaymentRef>]) -> bool {
        [
            self.checkout_session_id.as_ref(),
            self.payment_intent_id.as_ref(),
            self.charge_id.as_ref(),
        ]
        .into_iter()
        .flatten()
        .any(|mine| known.contains(&Some(mine)))
    }

    #[cfg(test)]
    pub fn test(c: &Contract, pi: &str) -> Payment {
        Payment {
            checkout_session_id: Some(PaymentRef::new(format!("cs_{pi}"))),
            payment_intent_id: Some(PaymentRef::new(pi)),
            charge_id: None,
            amount: c.amount,
            currency: c.currency,
            milestones: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub action: String,
    pub actor: String,
    /// Unix milliseconds.
    pub at: i64,
    pub detail: String,
}

/// The refund decision: how the escrowed amount is split, and the provider's side of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundSplit {
    /// Sent back to the client through the payment provider.
    pub client_share: MinorUnits,
    /// Kept by the freelancer as a kill fee, credited to their wallet.
    pub freelancer_share: MinorUnits,
    /// Retained by the platform.
    pub platform_fee: MinorUnits,
    /// Whether an admin set the split (dispute resolution) instead of the status rule.
    pub explicit: bool,
    /// Idempotency key for the provider's refund call: the same on every try.
    pub idempotency_key: IdempotencyKey,
    pub provider_refund_id: Option<RefundRef>,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// What the provider last said of its refund (`pending`, `succeeded`, `failed`,
    /// `canceled`); `None` before it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_status: Option<String>,
    /// How many times a failed refund was sent again (each under a new idempotency key).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub retries: u32,
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Escrow {
    pub status: EscrowStatus,
    pub amount: MinorUnits,
    pub platform_fee: MinorUnits,
    pub freelancer_earning: MinorUnits,
    pub currency: Currency,
    pub checkout_session_id: Option<PaymentRef>,
    pub payment_intent_id: Option<PaymentRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<PaymentRef>,
    /// The payment behind this escrow ([`Payment::reference`]).
    pub payment_ref: PaymentRef,
    pub funding_event_id: EventId,
    /// What lost chargebacks took out of this escrow while it held the money; it holds
    /// `amount - charged_back` until it is settled.
    #[serde(default, skip_serializing_if = "nothing")]
    pub charged_back: MinorUnits,
    /// What refunds made outside the escrow (from the provider's dashboard) took out of it
    /// while it held the money.
    #[serde(default, skip_serializing_if = "nothing")]
    pub refunded_outside: MinorUnits,
    pub refund: Option<RefundSplit>,
    pub history: Vec<HistoryEntry>,
    pub funded_at: i64,
    pub released_at: Option<i64>,
    pub refunded_at: Option<i64>,
}

impl Escrow {
    /// Every reference of this escrow's payment: the one it was funded by, its session, its
    /// payment intent and its charge, those known.
    pub fn refs(&self) -> [Option<&PaymentRef>; 4] {
        [
            Some(&self.payment_ref),
            self.checkout_session_id.as_ref(),
            self.payment_intent_id.as_ref(),
            self.charge_id.as_ref(),
        ]
    }

    /// What it holds while funded: its amount less what lost chargebacks took.
    pub fn held(&self) -> MinorUnits {
        self.amount - self.charged_back - self.refunded_outside
    }

    /// What it holds split as a refund splits it: the amount held, the fee the platform keeps
    /// of it (its fee, or all of it when a chargeback left less), and the earning (the rest).
    pub fn held_split(&self) -> (MinorUnits, MinorUnits, MinorUnits) {
        let held = self.held();
        let fee = self.platform_fee.min(held);
        (held, fee, held - fee)
    }

    /// Whether `r` names this escrow's payment.
    pub fn is_paid_by(&self, r: &PaymentRef) -> bool {
        self.refs().contains(&Some(r))
    }
}

/// A payment that arrived when the contract was already funded (or canceled): it is not added
/// to the escrow but refunded in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtraPayment {
    pub payment_ref: PaymentRef,
    pub payment_intent_id: Option<PaymentRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<PaymentRef>,
    pub amount: MinorUnits,
    pub currency: Currency,
    pub event_id: EventId,
    pub idempotency_key: IdempotencyKey,
    /// The provider's refund of it, once the provider says it succeeded (its money has then
    /// left `refund:<contract>`).
    pub provider_refund_id: Option<RefundRef>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub received_at: i64,
    /// A refund the provider took but has not said succeeded: `pending` (its `refund.updated`
    /// says how it ends; it is not asked again) or `failed` (an operator sends it again or
    /// settles it). The money is still in `refund:<contract>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_taken: Option<RefundTaken>,
    /// How many times an operator sent its refund again after it failed.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub retries: u32,
}

/// A duplicate payment's refund the provider took and has not said succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundTaken {
    pub refund_id: RefundRef,
    /// `pending` or `failed`.
    pub status: String,
}

impl ExtraPayment {
    /// Whether its refund is still to be asked of the provider.
    pub fn refund_owed(&self) -> bool {
        self.provider_refund_id.is_none() && self.refund_taken.is_none()
    }

    /// Whether its refund failed at the provider and waits for an operator.
    pub fn refund_failed(&self) -> bool {
        self.refund_taken
            .as_ref()
            .is_some_and(|t| t.status == "failed")
    }

    /// Every known reference of this payment.
    pub fn refs(&self) -> [Option<&PaymentRef>; 3] {
        [
            Some(&self.payment_ref),
            self.payment_intent_id.as_ref(),
            self.charge_id.as_ref(),
        ]
    }
}

/// What funding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FundOutcome {
    Funded,
    /// This payment is already the escrow's, or already recorded as extra: nothing changes.
    AlreadyApplied,
    /// This payment is already the escrow's (or an extra one), and this event named a
    /// reference of it not known before (its payment intent or its session), now recorded.
    /// No money moves.
    Learned,
    /// A second payment: recorded and owed back in full.
    Duplicate,
}

/// How the freelancer's share of a refund is set: the kill-fee percentage of each earning, or
/// an admin's explicit amount (spread over the milestones in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreelancerShare {
    Percent(i64),
    Explicit(MinorUnits),
}

/// Who acts, for the history: e.g. `admin:<id>`, `client:<id>`, `cli:alice@host`.
pub type Actor<'a> = &'a str;

/// The refund id recorded when a refund sends nothing back through the provider.
pub const NO_PROVIDER_REFUND: &str = "none";

fn clip(s: &str) -> String {
    s.chars().take(REASON_CHARS_MAX).collect()
}

impl Contract {
    /// Adds a history entry to each of the milestones `ids` that has an escrow.
    fn push_history_to(
        &mut self,
        ids: &[MilestoneId],
        action: &str,
        actor: Actor<'_>,
        now: i64,
        detail: &str,
    ) {
        for m in self.milestones.iter_mut().filter(|m| ids.contains(&m.id)) {
            if let Some(e) = m.escrow.as_mut() {
                e.history.push(HistoryEntry {
                    action: action.into(),
                    actor: actor.into(),
                    at: now,
                    detail: detail.to_string(),
                });
            }
        }
    }

    /// Adds a history entry about the contract's payments as a whole: to its first funded
    /// milestone (nowhere before any funding).
    fn push_history(&mut self, action: &str, actor: Actor<'_>, now: i64, detail: String) {
        let first = self
            .milestones
            .iter()
            .find(|m| m.escrow.is_some())
            .map(|m| m.id);
        if let Some(id) = first {
            self.push_history_to(&[id], action, actor, now, &detail);
        }
    }

    fn escrows(&self) -> impl Iterator<Item = &Escrow> {
        self.milestones.iter().filter_map(|m| m.escrow.as_ref())
    }

    /// The checkout sessions of the payments this contract holds whose payment intent it does
    /// not know: an event that names only a payment intent may be one of them (the payment
    /// provider can tell).
    pub fn sessions_without_intent(&self) -> Vec<PaymentRef> {
        let mut escrow: Vec<PaymentRef> = self
            .escrows()
            .filter(|e| e.payment_intent_id.is_none())
            .filter_map(|e| e.checkout_session_id.clone())
            .collect();
        escrow.dedup();
        let extras = self
            .extra_payments
            .iter()
            .filter(|p| p.payment_intent_id.is_none())
            .map(|p| p.payment_ref.clone());
        escrow.into_iter().chain(extras).collect()
    }

    /// Whether the contract holds any payment (its escrow's or an extra one).
    pub fn holds_payments(&self) -> bool {
        self.escrow_paid() || !self.extra_payments.is_empty()
    }

    /// Records the references of `payment` that the known payment it matches lacked; whether
    /// there was one. `None`: no known payment matches. One payment may fund several
    /// milestones: each of them learns.
    fn recognise(&mut self, payment: &Payment) -> Option<bool> {
        let mut matched = false;
        let mut learned = false;
        for e in self.milestones.iter_mut().filter_map(|m| m.escrow.as_mut()) {
            if payment.is(&e.refs()) {
                matched = true;
                let intent = learn(&mut e.payment_intent_id, &payment.payment_intent_id);
                let session = learn(&mut e.checkout_session_id, &payment.checkout_session_id);
                let charge = learn(&mut e.charge_id, &payment.charge_id);
                learned |= intent || session || charge;
            }
        }
        if matched {
            return Some(learned);
        }
        let extra = self
            .extra_payments
            .iter_mut()
            .find(|x| payment.is(&x.refs()))?;
        let intent = learn(&mut extra.payment_intent_id, &payment.payment_intent_id);
        let charge = learn(&mut extra.charge_id, &payment.charge_id);
        Some(intent || charge)
    }

    /// The milestones a payment is for: those it names, else every unfunded one. A name the
    /// contract does not have, or named twice, makes it a payment that does not match.
    fn milestones_paid_by(&self, payment: &Payment) -> Result<Vec<MilestoneId>, DomainError> {
        let Some(ids) = &payment.milestones else {
            return Ok(self
                .milestones
                .iter()
                .filter(|m| m.escrow.is_none())
                .map(|m| m.id)
                .collect());
        };
        let mut seen = Vec::with_capacity(ids.len());
        for id in ids {
            if self.milestone(*id).is_err() || seen.contains(id) {
                return Err(DomainError::AmountMismatch(format!(
                    "the payment is for milestone {id}, which this contract does not have once"
                )));
            }
            seen.push(*id);
        }
        if seen.is_empty() {
            return Err(DomainError::AmountMismatch(
                "the payment names no milestone".into(),
            ));
        }
        Ok(seen)
    }

    /// Applies a successful payment. Idempotent by the payment's references: a payment that
    /// shares any reference (session or payment intent) with one the contract holds is that
    /// payment, and only teaches the contract the reference it lacked. A new payment funds the
    /// milestones it is for ([`Payment::milestones`]; all unfunded ones when it names none),
    /// each once: one for a milestone already funded is owed back in full.
    pub fn fund(
        &mut self,
        payment: &Payment,
        fee: FeeBps,
        event_id: &EventId,
        now: i64,
    ) -> Result<(FundOutcome, Vec<Transfer>), DomainError> {
        let reference = payment
            .reference()
            .ok_or_else(|| {
                DomainError::Validation(
                    "the payment has neither a payment intent nor a session id".into(),
                )
            })?
            .clone();
        match self.recognise(payment) {
            Some(true) => {
                self.push_history(
                    "payment_reference",
                    "stripe",
                    now,
                    format!("payment {reference} is the one already held (event {event_id})"),
                );
                self.updated_at = now;
                return Ok((FundOutcome::Learned, vec![]));
            }
            Some(false) => return Ok((FundOutcome::AlreadyApplied, vec![])),
            None => {}
        }
        let targets = self.milestones_paid_by(payment)?;
        // Nothing left unfunded: a second payment of the whole amount is a duplicate.
        let expected = match targets.is_empty() {
            true => self.amount,
            false => targets
                .iter()
                .map(|id| self.milestone(*id).map(|m| m.amount))
                .sum::<Result<MinorUnits, _>>()?,
        };
        if payment.currency != self.currency || payment.amount != expected {
            let of = match (&payment.milestones, self.milestones.len()) {
                (None, 1) => "the contract's".to_string(),
                _ => format!(
                    "milestone(s) {}'s",
                    targets
                        .iter()
                        .map(MilestoneId::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(DomainError::AmountMismatch(format!(
                "payment of {} {} does not match {of} {expected} {}",
                payment.amount, payment.currency, self.currency
            )));
        }
        let account_in = Account::ExternalStripe;
        let taken = targets.is_empty()
            || targets
                .iter()
                .any(|id| self.milestone(*id).is_ok_and(|m| m.escrow.is_some()));
        if taken || self.status == ContractStatus::Canceled {
            let id = self.next_transfer_id();
            let transfer = Transfer::new(
                id,
                self.id.clone(),
                TransferKind::DuplicatePayment,
                self.currency,
                now,
                vec![
                    (account_in, -payment.amount),
                    (Account::Refund(self.id.clone()), payment.amount),
                ],
            );
            self.extra_payments.push(ExtraPayment {
                payment_ref: reference.clone(),
                payment_intent_id: payment.payment_intent_id.clone(),
                charge_id: payment.charge_id.clone(),
                amount: payment.amount,
                currency: payment.currency,
                event_id: event_id.clone(),
                idempotency_key: IdempotencyKey::derived(format!(
                    "escrow-dup-refund-{}-{reference}",
                    self.id
                )),
                provider_refund_id: None,
                attempts: 0,
                last_error: None,
                received_at: now,
                refund_taken: None,
                retries: 0,
            });
            self.push_history(
                "duplicate_payment",
                "stripe",
                now,
                format!("payment {reference} refunded in full"),
            );
            self.updated_at = now;
            return Ok((FundOutcome::Duplicate, vec![transfer]));
        }
        let mut transfers = Vec::with_capacity(targets.len());
        for id in &targets {
            let amount = self.milestone(*id)?.amount;
            let split = fee_split(amount, fee);
            let tid = self.next_transfer_id();
            transfers.push(Transfer::new(
                tid,
                self.id.clone(),
                TransferKind::Fund,
                self.currency,
                now,
                vec![
                    (account_in.clone(), -amount),
                    (Account::Escrow(self.milestone_ref(*id)), amount),
                ],
            ));
            self.milestone_mut(*id)?.escrow = Some(Escrow {
                status: EscrowStatus::Funded,
                amount,
                platform_fee: split.platform_fee,
                freelancer_earning: split.freelancer_earning,
                currency: payment.currency,
                checkout_session_id: payment.checkout_session_id.clone(),
                payment_intent_id: payment.payment_intent_id.clone(),
                charge_id: payment.charge_id.clone(),
                payment_ref: reference.clone(),
                funding_event_id: event_id.clone(),
                charged_back: MinorUnits::ZERO,
                refunded_outside: MinorUnits::ZERO,
                refund: None,
                history: vec![],
                funded_at: now,
                released_at: None,
                refunded_at: None,
            });
        }
        self.push_history_to(
            &targets,
            "funded",
            "stripe",
            now,
            &format!("payment {reference} via event {event_id}"),
        );
        self.updated_at = now;
        Ok((FundOutcome::Funded, transfers))
    }

    /// Releases the escrow of every held milestone whose release the client asked for (every
    /// held one with `force`, an operator's release without a request, whose reason is
    /// recorded): the earning to the freelancer's wallet, the fee to the platform.
    pub fn release(
        &mut self,
        actor: Actor<'_>,
        force: Option<&str>,
        now: i64,
    ) -> Result<Vec<Transfer>, DomainError> {
        self.require_funded_escrow(Action::Release)?;
        let targets: Vec<MilestoneId> = self
            .milestones
            .iter()
            .filter(|m| m.is_held() && (force.is_some() || m.release_requested_at.is_some()))
            .map(|m| m.id)
            .collect();
        if targets.is_empty() {
            return Err(DomainError::refused(
                Entity::Contract,
                self.release_fund_status.as_str(),
                Action::Release,
                "the client has not requested the release",
            ));
        }
        self.require_not_frozen(&targets)?;
        let mut transfers = Vec::with_capacity(targets.len());
        for id in targets {
            transfers.push(self.release_one(id, actor, force, now)?);
        }
        self.sync_release_fund_status();
        Ok(transfers)
    }

    /// Releases one milestone's escrow: once its release was requested, or with `force`.
    pub fn release_milestone(
        &mut self,
        id: MilestoneId,
        actor: Actor<'_>,
        force: Option<&str>,
        now: i64,
    ) -> Result<Vec<Transfer>, DomainError> {
        self.require_held_milestone(id, Action::Release)?;
        self.require_not_frozen(&[id])?;
        let m = self.milestone(id)?;
        if force.is_none() && m.release_requested_at.is_none() {
            return Err(DomainError::refused(
                Entity::Milestone,
                m.state().as_str(),
                Action::Release,
                format!("the client has not requested milestone {id}'s release"),
            ));
        }
        let transfer = self.release_one(id, actor, force, now)?;
        self.sync_release_fund_status();
        Ok(vec![transfer])
    }

    fn release_one(
        &mut self,
        id: MilestoneId,
        actor: Actor<'_>,
        force: Option<&str>,
        now: i64,
    ) -> Result<Transfer, DomainError> {
        let escrow = self
            .milestone(id)?
            .escrow
            .as_ref()
            .expect("a held milestone has an escrow");
        let (amount, fee, earning) = (
            escrow.amount,
            escrow.platform_fee,
            escrow.freelancer_earning,
        );
        let tid = self.next_transfer_id();
        let transfer = Transfer::new(
            tid,
            self.id.clone(),
            TransferKind::Release,
            self.currency,
            now,
            vec![
                (Account::Escrow(self.milestone_ref(id)), -amount),
                (Account::Wallet(self.freelancer_id.clone()), earning),
                (Account::PlatformFees, fee),
            ],
        );
        let escrow = self
            .milestone_mut(id)?
            .escrow
            .as_mut()
            .expect("checked above");
        escrow.status = EscrowStatus::Released;
        escrow.released_at = Some(now);
        let detail = match force {
            Some(reason) => format!("forced without a request: {}", clip(reason)),
            None => format!("earning {earning} to the freelancer, fee {fee}"),
        };
        self.push_history_to(&[id], "released", actor, now, &detail);
        self.updated_at = now;
        Ok(transfer)
    }

    /// Decides and books a refund of every held milestone (released ones stay released). The
    /// client's share is then owed through the provider (`refund_pending`) until
    /// [`Contract::settle_refund`] records the provider's refund id; a milestone with nothing
    /// to send back settles at once. An explicit freelancer share is split over the held
    /// milestones in order, each up to its earning.
    #[allow(clippy::too_many_arguments)]
    pub fn decide_refund(
        &mut self,
        actor: Actor<'_>,
        by: Party,
        reason: &str,
        description: &str,
        explicit_freelancer_share: Option<MinorUnits>,
        now: i64,
    ) -> Result<Vec<Transfer>, DomainError> {
        self.require_funded_escrow(Action::Refund)?;
        if self.status == ContractStatus::Completed {
            return Err(DomainError::refused(
                Entity::Contract,
                self.status.as_str(),
                Action::Refund,
                "refund not allowed for a completed contract",
            ));
        }
        let targets = self.held_milestones();
        self.require_not_frozen(&targets)?;
        let earnings: MinorUnits = targets
            .iter()
            .filter_map(|id| self.milestone(*id).ok()?.escrow.as_ref())
            .map(|e| e.freelancer_earning)
            .sum();
        if let Some(share) = explicit_freelancer_share
            && !(MinorUnits::ZERO..=earnings).contains(&share)
        {
            return Err(DomainError::Validation(format!(
                "the freelancer's share {share} must be between 0 and the earning {earnings}"
            )));
        }
        // The kill fee follows the status the work had reached; a freelancer who walked away
        // (canceled it themselves) keeps nothing.
        let from = match self.status {
            ContractStatus::Canceled => self.canceled_from.unwrap_or(ContractStatus::Pending),
            s => s,
        };
        let percent = if self.canceled_by == Some(Party::Freelancer) {
            0
        } else {
            from.kill_fee_percent().unwrap_or(0)
        };
        if self.status != ContractStatus::Canceled {
            self.canceled_from = Some(self.status);
            self.canceled_by = Some(by);
            self.status = ContractStatus::Canceled;
            self.status_history.push(super::contract::StatusChange {
                status: ContractStatus::Canceled,
                at: now,
            });
        }
        self.cancel_reason = clip(if reason.trim().is_empty() {
            "Requested by client"
        } else {
            reason
        });
        self.cancel_reason_description = clip(description);
        let share = match explicit_freelancer_share {
            Some(s) => FreelancerShare::Explicit(s),
            None => FreelancerShare::Percent(percent),
        };
        let reason = self.cancel_reason.clone();
        self.book_refunds(&targets, share, actor, &reason, now)
    }

    /// Books the refund of each milestone in `targets` (all held): its amount leaves its
    /// escrow account, the fee to the platform, the freelancer's share to the wallet, the
    /// client's to `refund:<contract>`, owed through the provider (`refund_pending`) until
    /// [`Contract::settle_refund`]; a milestone with nothing to send back settles at once. An
    /// explicit freelancer share is spread over the milestones in order, each up to its
    /// earning.
    pub(crate) fn book_refunds(
        &mut self,
        targets: &[MilestoneId],
        share: FreelancerShare,
        actor: Actor<'_>,
        reason: &str,
        now: i64,
    ) -> Result<Vec<Transfer>, DomainError> {
        let explicit = matches!(share, FreelancerShare::Explicit(_));
        let mut explicit_left = match share {
            FreelancerShare::Explicit(s) => Some(s),
            FreelancerShare::Percent(_) => None,
        };
        let mut transfers = Vec::with_capacity(targets.len());
        let mut nothing_back = Vec::new();
        for id in targets {
            let escrow = self.milestone(*id)?.escrow.as_ref().expect("held");
            let (amount, fee, earning) = escrow.held_split();
            let freelancer_share = match (explicit_left.as_mut(), share) {
                (Some(left), _) => {
                    let share = (*left).min(earning);
                    *left = *left - share;
                    share
                }
                (None, FreelancerShare::Percent(percent)) => mul_div_half_up(earning, percent, 100),
                (None, FreelancerShare::Explicit(_)) => unreachable!("explicit_left is set"),
            };
            let client_share = earning - freelancer_share;
            let tid = self.next_transfer_id();
            transfers.push(Transfer::new(
                tid,
                self.id.clone(),
                TransferKind::Refund,
                self.currency,
                now,
                vec![
                    (Account::Escrow(self.milestone_ref(*id)), -amount),
                    (Account::PlatformFees, fee),
                    (
                        Account::Wallet(self.freelancer_id.clone()),
                        freelancer_share,
                    ),
                    (Account::Refund(self.id.clone()), client_share),
                ],
            ));
            let key = IdempotencyKey::derived(format!("escrow-refund-{}", self.milestone_ref(*id)));
            let escrow = self
                .milestone_mut(*id)?
                .escrow
                .as_mut()
                .expect("checked above");
            escrow.status = EscrowStatus::RefundPending;
            escrow.refund = Some(RefundSplit {
                client_share,
                freelancer_share,
                platform_fee: fee,
                explicit,
                idempotency_key: key,
                provider_refund_id: None,
                attempts: 0,
                last_error: None,
                provider_status: None,
                retries: 0,
            });
            let detail = format!(
                "client {client_share}, freelancer {freelancer_share}, fee {fee}; reason: {reason}"
            );
            self.push_history_to(&[*id], "refund_decided", actor, now, &detail);
            if client_share.is_zero() {
                nothing_back.push(*id);
            }
        }
        // As the original left a refunded contract: its UI hides "Cancel" once the release
        // fund status is Approved (the escrow's money has been decided).
        self.sync_release_fund_status();
        self.updated_at = now;
        for id in nothing_back {
            transfers.extend(self.settle_refund(
                id,
                &RefundRef::new(NO_PROVIDER_REFUND),
                actor,
                now,
            )?);
        }
        Ok(transfers)
    }

    /// The provider sent the client's share of milestone `id`'s refund back: books it and
    /// closes that escrow.
    pub fn settle_refund(
        &mut self,
        id: MilestoneId,
        provider_refund_id: &RefundRef,
        actor: Actor<'_>,
        now: i64,
    ) -> Result<Vec<Transfer>, DomainError> {
        let m = self.milestone(id)?;
        let from = m.escrow_status().map_or("unfunded", EscrowStatus::as_str);
        let escrow = m.escrow.as_ref().ok_or_else(|| {
            DomainError::refused(
                Entity::Escrow,
                from,
                Action::SettleRefund,
                "the escrow is not funded",
            )
        })?;
        if escrow.status == EscrowStatus::Refunded {
            return Ok(vec![]);
        }
        if escrow.status != EscrowStatus::RefundPending {
            return Err(DomainError::refused(
                Entity::Escrow,
                from,
                Action::SettleRefund,
                format!("the escrow is {from}, not refund_pending"),
            ));
        }
        let share = escrow
            .refund
            .as_ref()
            .map_or(MinorUnits::ZERO, |r| r.client_share);
        let tid = self.next_transfer_id();
        let transfer = Transfer::new(
            tid,
            self.id.clone(),
            TransferKind::RefundSettled,
            self.currency,
            now,
            vec![
                (Account::Refund(self.id.clone()), -share),
                (Account::ExternalStripe, share),
            ],
        );
        let escrow = self
            .milestone_mut(id)?
            .escrow
            .as_mut()
            .expect("checked above");
        escrow.status = EscrowStatus::Refunded;
        escrow.refunded_at = Some(now);
        if let Some(r) = escrow.refund.as_mut() {
            r.provider_refund_id = Some(provider_refund_id.clone());
            r.last_error = None;
            if provider_refund_id.as_str() != NO_PROVIDER_REFUND {
                r.provider_status = Some("succeeded".into());
            }
        }
        self.push_history_to(
            &[id],
            "refunded",
            actor,
            now,
            &format!("provider refund {provider_refund_id}"),
        );
        self.sync_release_fund_status();
        self.updated_at = now;
        Ok(vec![transfer])
    }

    /// Notes a failed provider call on milestone `id`'s pending refund (it will be retried
    /// with the same key).
    pub fn note_refund_attempt(&mut self, id: MilestoneId, error: Option<&str>, now: i64) {
        let refund = self
            .milestone_mut(id)
            .ok()
            .and_then(|m| m.escrow.as_mut())
            .and_then(|e| e.refund.as_mut());
        if let Some(r) = refund {
            r.attempts += 1;
            r.last_error = error.map(clip);
            self.updated_at = now;
        }
    }

    /// The milestones whose refund is decided and still has to be asked of the provider (not
    /// those the provider took and reports pending: its `refund.updated` says how they end).
    pub fn refunds_pending(&self) -> Vec<MilestoneId> {
        self.milestones
            .iter()
            .filter(|m| m.escrow_status() == Some(EscrowStatus::RefundPending))
            .filter(|m| {
                m.escrow
                    .as_ref()
                    .and_then(|e| e.refund.as_ref())
                    .is_none_or(|r| r.provider_refund_id.is_none())
            })
            .map(|m| m.id)
            .collect()
    }

    /// The milestone whose refund the provider calls `refund`, if any.
    pub fn refund_by_provider_id(&self, refund: &RefundRef) -> Option<MilestoneId> {
        self.milestones
            .iter()
            .find(|m| {
                m.escrow
                    .as_ref()
                    .and_then(|e| e.refund.as_ref())
                    .is_some_and(|r| r.provider_refund_id.as_ref() == Some(refund))
            })
            .map(|m| m.id)
    }

    /// The provider took milestone `id`'s refund but reports it pending: recorded; how it ends
    /// comes later (`refund.updated`). Already recorded: nothing changes.
    pub fn refund_in_flight(
        &mut self,
        id: MilestoneId,
        provider_refund_id: &RefundRef,
        now: i64,
    ) -> Result<Outcome, DomainError> {
        let Some(e) = self
            .milestone_mut(id)?
            .escrow
            .as_mut()
            .filter(|e| e.status == EscrowStatus::RefundPending)
        else {
            return Ok(Outcome::Unchanged);
        };
        let r = e.refund.as_mut().expect("a pending refund has its split");
        if r.provider_refund_id.as_ref() == Some(provider_refund_id) {
            return Ok(Outcome::Unchanged);
        }
        r.provider_refund_id = Some(provider_refund_id.clone());
        r.provider_status = Some("pending".into());
        r.last_error = None;
        self.push_history_to(
            &[id],
            "refund_in_flight",
            "provider",
            now,
            &format!("provider refund {provider_refund_id} pending"),
        );
        self.updated_at = now;
        Ok(Outcome::Changed)
    }

    /// The provider reports milestone `id`'s refund failed or canceled (`reason`): the client's
    /// share is owed again, in `refund:<contract>` (given back from `external:stripe` when it
    /// had been booked as sent), until a retry succeeds. Recorded already: nothing changes.
    pub fn fail_refund(
        &mut self,
        id: MilestoneId,
        provider_refund_id: &RefundRef,
        reason: &str,
        now: i64,
    ) -> Result<Vec<Transfer>, DomainError> {
        let m = self.milestone(id)?;
        let Some(e) = m.escrow.as_ref() else {
            return Ok(vec![]);
        };
        let Some(r) = e.refund.as_ref() else {
            return Ok(vec![]);
        };
        if r.provider_refund_id.as_ref() != Some(provider_refund_id)
            || !matches!(
                e.status,
                EscrowStatus::RefundPending | EscrowStatus::Refunded
            )
        {
            return Ok(vec![]);
        }
        let mut transfers = vec![];
        if e.status == EscrowStatus::Refunded {
            let share = r.client_share;
            transfers.push(self.refund_came_back(share, now));
        }
        let e = self.milestone_mut(id)?.escrow.as_mut().expect("checked");
        e.status = EscrowStatus::RefundFailed;
        e.refunded_at = None;
        let r = e.refund.as_mut().expect("checked");
        r.provider_status = Some("failed".into());
        r.last_error = Some(clip(reason));
        self.push_history_to(
            &[id],
            "refund_failed",
            "provider",
            now,
            &format!(
                "provider refund {provider_refund_id} failed: {}",
                clip(reason)
            ),
        );
        self.sync_release_fund_status();
        self.updated_at = now;
        Ok(transfers)
    }

    /// A refund booked as sent failed after all: `amount` comes back from `external:stripe`
    /// and is owed to the client again in `refund:<contract>` (transfer `refund_failed`).
    fn refund_came_back(&mut self, amount: MinorUnits, now: i64) -> Transfer {
        let tid = self.next_transfer_id();
        Transfer::new(
            tid,
            self.id.clone(),
            TransferKind::RefundFailed,
            self.currency,
            now,
            vec![
                (Account::ExternalStripe, -amount),
                (Account::Refund(self.id.clone()), amount),
            ],
        )
    }

    /// The milestones, and the duplicate payments, whose refund failed at the provider; none:
    /// refused.
    fn failed_refunds(&self) -> Result<(Vec<MilestoneId>, Vec<PaymentRef>), DomainError> {
        let failed: Vec<MilestoneId> = self
            .milestones
            .iter()
            .filter(|m| m.escrow_status() == Some(EscrowStatus::RefundFailed))
            .map(|m| m.id)
            .collect();
        let duplicates: Vec<PaymentRef> = self
            .extra_payments
            .iter()
            .filter(|p| p.refund_failed())
            .map(|p| p.payment_ref.clone())
            .collect();
        if failed.is_empty() && duplicates.is_empty() {
            return Err(DomainError::refused(
                Entity::Escrow,
                self.escrow_state_name(),
                Action::SettleRefund,
                "no refund of this contract has failed",
            ));
        }
        Ok((failed, duplicates))
    }

    /// An admin settles every failed refund of the contract by other means (a bank transfer,
    /// say), for `reason`: the client's share leaves `refund:<contract>` as if the provider
    /// had sent it, and the escrow is refunded. None failed: refused.
    pub fn settle_failed_refunds(
        &mut self,
        actor: Actor<'_>,
        reason: &str,
        now: i64,
    ) -> Result<Vec<Transfer>, DomainError> {
        let (failed, duplicates) = self.failed_refunds()?;
        let mut transfers = vec![];
        let manual = RefundRef::new(format!("manual:{}", clip(actor)));
        for payment in duplicates {
            let i = self.extra_index(&payment)?;
            self.extra_payments[i].refund_taken = None;
            transfers.extend(self.settle_duplicate(&payment, &manual, now)?);
            self.push_history(
                "duplicate_refund_settled_by_admin",
                actor,
                now,
                format!(
                    "payment {payment} settled outside the provider: {}",
                    clip(reason)
                ),
            );
        }
        for id in failed {
            let e = self.milestone_mut(id)?.escrow.as_mut().expect("failed");
            e.status = EscrowStatus::RefundPending;
            let r = e.refund.as_mut().expect("a failed refund has its split");
            r.provider_refund_id = None;
            transfers.extend(self.settle_refund(id, &manual, actor, now)?);
            self.push_history_to(
                &[id],
                "refund_settled_by_admin",
                actor,
                now,
                &format!("settled outside the provider: {}", clip(reason)),
            );
        }
        Ok(transfers)
    }

    /// An operator sends a failed refund again: pending, under a new idempotency key (the
    /// provider would answer the old one with the failed refund). Every failed milestone and
    /// duplicate payment of the contract; none: refused. The milestones sent again.
    pub fn retry_refunds(
        &mut self,
        actor: Actor<'_>,
        now: i64,
    ) -> Result<Vec<MilestoneId>, DomainError> {
        let (failed, duplicates) = self.failed_refunds()?;
        for payment in duplicates {
            let i = self.extra_index(&payment)?;
            let contract = self.id.clone();
            let p = &mut self.extra_payments[i];
            p.retries += 1;
            p.idempotency_key = IdempotencyKey::derived(format!(
                "escrow-dup-refund-{contract}-{payment}-retry-{}",
                p.retries
            ));
            p.refund_taken = None;
            p.last_error = None;
            let retries = p.retries;
            self.push_history(
                "duplicate_refund_retried",
                actor,
                now,
                format!("payment {payment}, retry {retries}"),
            );
        }
        for id in &failed {
            let name = self.milestone_ref(*id);
            let e = self.milestone_mut(*id)?.escrow.as_mut().expect("failed");
            e.status = EscrowStatus::RefundPending;
            let r = e.refund.as_mut().expect("a failed refund has its split");
            r.retries += 1;
            r.idempotency_key =
                IdempotencyKey::derived(format!("escrow-refund-{name}-retry-{}", r.retries));
            r.provider_refund_id = None;
            r.provider_status = None;
            r.last_error = None;
            let retries = r.retries;
            self.push_history_to(
                &[*id],
                "refund_retried",
                actor,
                now,
                &format!("retry {retries}"),
            );
        }
        self.sync_release_fund_status();
        self.updated_at = now;
        Ok(failed)
    }

    /// The provider refunded a duplicate payment in full.
    pub fn settle_duplicate(
        &mut self,
        payment_ref: &PaymentRef,
        provider_refund_id: &RefundRef,
        now: i64,
    ) -> Result<Vec<Transfer>, DomainError> {
        let index = self
            .extra_payments
            .iter()
            .position(|p| &p.payment_ref == payment_ref)
            .ok_or_else(|| {
                DomainError::refused(
                    Entity::Contract,
                    self.status.as_str(),
                    Action::SettleDuplicate,
                    format!("no duplicate payment {payment_ref}"),
                )
            })?;
        if self.extra_payments[index].provider_refund_id.is_some() {
            return Ok(vec![]);
        }
        let amount = self.extra_payments[index].amount;
        let id = self.next_transfer_id();
        let transfer = Transfer::new(
            id,
            self.id.clone(),
            TransferKind::DuplicatePaymentRefunded,
            self.currency,
            now,
            vec![
                (Account::Refund(self.id.clone()), -amount),
                (Account::ExternalStripe, amount),
            ],
        );
        let extra = &mut self.extra_payments[index];
        extra.provider_refund_id = Some(provider_refund_id.clone());
        extra.refund_taken = None;
        extra.last_error = None;
        self.push_history(
            "duplicate_refunded",
            "stripe",
            now,
            format!("payment {payment_ref}, refund {provider_refund_id}"),
        );
        self.updated_at = now;
        Ok(vec![transfer])
    }

    /// Whether some provider refund is owed and not yet asked (the recovery step's work).
    pub fn has_pending_provider_work(&self) -> bool {
        !self.refunds_pending().is_empty()
            || self.extra_payments.iter().any(ExtraPayment::refund_owed)
    }

    /// Whether a refund failed at the provider and waits for an operator (a milestone's, or a
    /// duplicate payment's).
    pub fn has_failed_refund(&self) -> bool {
        self.milestones
            .iter()
            .any(|m| m.escrow_status() == Some(EscrowStatus::RefundFailed))
            || self.extra_payments.iter().any(ExtraPayment::refund_failed)
    }

    /// What the contract's failed refunds owe the client again: each failed milestone's
    /// client share and each failed duplicate payment.
    pub fn failed_refund_total(&self) -> MinorUnits {
        let milestones: MinorUnits = self
            .milestones
            .iter()
            .filter_map(|m| m.escrow.as_ref())
            .filter(|e| e.status == EscrowStatus::RefundFailed)
            .filter_map(|e| e.refund.as_ref())
            .map(|r| r.client_share)
            .sum();
        let duplicates: MinorUnits = self
            .extra_payments
            .iter()
            .filter(|p| p.refund_failed())
            .map(|p| p.amount)
            .sum();
        milestones + duplicates
    }

    /// The duplicate payment whose refund the provider calls `refund`, if any.
    pub fn duplicate_by_refund_id(&self, refund: &RefundRef) -> Option<PaymentRef> {
        self.extra_payments
            .iter()
            .find(|p| {
                p.provider_refund_id.as_ref() == Some(refund)
                    || p.refund_taken
                        .as_ref()
                        .is_some_and(|t| &t.refund_id == refund)
            })
            .map(|p| p.payment_ref.clone())
    }

    fn extra_index(&self, payment_ref: &PaymentRef) -> Result<usize, DomainError> {
        self.extra_payments
            .iter()
            .position(|p| &p.payment_ref == payment_ref)
            .ok_or_else(|| {
                DomainError::refused(
                    Entity::Contract,
                    self.status.as_str(),
                    Action::SettleDuplicate,
                    format!("no duplicate payment {payment_ref}"),
                )
            })
    }

    /// The provider took duplicate payment `payment_ref`'s refund but reports it pending: its
    /// money stays in `refund:<contract>` until the provider says it succeeded. Recorded
    /// already, or settled: nothing changes.
    pub fn duplicate_refund_in_flight(
        &mut self,
        payment_ref: &PaymentRef,
        refund: &RefundRef,
        now: i64,
    ) -> Result<Outcome, DomainError> {
        let i = self.extra_index(payment_ref)?;
        let p = &mut self.extra_payments[i];
        if !p.refund_owed() {
            return Ok(Outcome::Unchanged);
        }
        p.refund_taken = Some(RefundTaken {
            refund_id: refund.clone(),
            status: "pending".into(),
        });
        p.last_error = None;
        self.push_history(
            "duplicate_refund_in_flight",
            "provider",
            now,
            format!("payment {payment_ref}, refund {refund} pending"),
        );
        self.updated_at = now;
        Ok(Outcome::Changed)
    }

    /// The provider reports duplicate payment `payment_ref`'s refund `refund` failed or
    /// canceled: owed again in `refund:<contract>` (given back from `external:stripe` when it
    /// had been booked as sent) until an operator sends it again or settles it. Another refund,
    /// or recorded already: nothing changes.
    pub fn fail_duplicate_refund(
        &mut self,
        payment_ref: &PaymentRef,
        refund: &RefundRef,
        reason: &str,
        now: i64,
    ) -> Result<Vec<Transfer>, DomainError> {
        let i = self.extra_index(payment_ref)?;
        let p = &self.extra_payments[i];
        let settled = p.provider_refund_id.as_ref() == Some(refund);
        let taken = p
            .refund_taken
            .as_ref()
            .is_some_and(|t| &t.refund_id == refund && t.status == "pending");
        let owed = p.refund_owed();
        if !settled && !taken && !owed {
            return Ok(vec![]);
        }
        let mut transfers = vec![];
        if settled {
            let amount = p.amount;
            transfers.push(self.refund_came_back(amount, now));
        }
        let p = &mut self.extra_payments[i];
        p.provider_refund_id = None;
        p.refund_taken = Some(RefundTaken {
            refund_id: refund.clone(),
            status: "failed".into(),
        });
        p.last_error = Some(clip(reason));
        self.push_history(
            "duplicate_refund_failed",
            "provider",
            now,
            format!(
                "payment {payment_ref}, refund {refund} failed: {}",
                clip(reason)
            ),
        );
        self.updated_at = now;
        Ok(transfers)
    }

    /// Whether a refund the provider reports on the payment named by `refs` (its payment intent
    /// and its charge, those the report names) is one this contract made or owes: a duplicate
    /// payment's, or the escrow payment's once its refund was decided. Any other refund was made
    /// outside the escrow (from the provider's dashboard, say) while the ledger still counts that
    /// money: an admin must look. Naming no payment, any refund this contract made or owes counts.
    pub fn expects_provider_refund(&self, refs: &[&PaymentRef]) -> bool {
        let refunding = |e: &Escrow| {
            matches!(
                e.status,
                EscrowStatus::RefundPending | EscrowStatus::Refunded | EscrowStatus::RefundFailed
            )
        };
        if refs.is_empty() {
            return self.escrows().any(refunding) || !self.extra_payments.is_empty();
        }
        let mut paid_by = self
            .escrows()
            .filter(|e| refs.iter().any(|r| e.is_paid_by(r)))
            .peekable();
        if paid_by.peek().is_some() {
            return paid_by.any(refunding);
        }
        self.extra_payments
            .iter()
            .any(|p| refs.iter().any(|r| p.refs().contains(&Some(r))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ReleaseFundStatus;
    use crate::domain::contract::tests::{contract, funded};
    use crate::domain::ledger::{LedgerEntry, balances};
    use proptest::prelude::*;

    fn entries(ts: &[Transfer]) -> Vec<LedgerEntry> {
        ts.iter().flat_map(|t| t.entries()).collect()
    }

    fn ten() -> FeeBps {
        FeeBps::new(1000).unwrap()
    }

    fn ev(id: &str) -> EventId {
        EventId::new(id)
    }

    fn pr(r: &str) -> PaymentRef {
        PaymentRef::new(r)
    }

    fn re(r: &str) -> RefundRef {
        RefundRef::new(r)
    }

    fn m(minor: i64) -> MinorUnits {
        MinorUnits::new(minor)
    }

    #[test]
    fn funding_splits_fee_and_earning_and_books_the_payment() {
        let mut c = contract();
        let p = Payment::test(&c, "pi_1");
        let (outcome, ts) = c.fund(&p, ten(), &ev("evt_1"), 3).unwrap();
        assert_eq!(outcome, FundOutcome::Funded);
        let e = c.escrow().unwrap();
        assert_eq!(
            (e.amount, e.platform_fee, e.freelancer_earning),
            (m(100_000), m(10_000), m(90_000))
        );
        let b = balances(&entries(&ts));
        assert_eq!(
            b[&(
                Account::Escrow(c.milestone_ref(MilestoneId::FIRST)),
                Currency::Inr
            )],
            100_000
        );
    }

    #[test]
    fn the_same_payment_funds_once() {
        let mut c = funded();
        let before = c.clone();
        let p = Payment::test(&c, "pi_1");
        assert_eq!(
            c.fund(&p, ten(), &ev("evt_2"), 4).unwrap(),
            (FundOutcome::AlreadyApplied, vec![])
        );
        assert_eq!(c, before);
    }

    #[test]
    fn a_second_payment_is_owed_back_in_full() {
        let mut c = funded();
        let p = Payment::test(&c, "pi_2");
        let (outcome, ts) = c.fund(&p, ten(), &ev("evt_2"), 4).unwrap();
        assert_eq!(outcome, FundOutcome::Duplicate);
        assert_eq!(c.escrow().unwrap().amount, m(100_000));
        assert_eq!(ts[0].kind, TransferKind::DuplicatePayment);
        assert!(c.has_pending_provider_work());
        let again = c.fund(&p, ten(), &ev("evt_3"), 5).unwrap();
        assert_eq!(again, (FundOutcome::AlreadyApplied, vec![]));
        let settled = c.settle_duplicate(&pr("pi_2"), &re("re_1"), 6).unwrap();
        assert_eq!(settled.len(), 1);
        assert!(
            c.settle_duplicate(&pr("pi_2"), &re("re_1"), 7)
                .unwrap()
                .is_empty()
        );
        assert!(!c.has_pending_provider_work());
    }

    #[test]
    fn a_payment_named_by_another_of_its_references_is_the_same_payment() {
        // Funded by a session event that did not name its payment intent (older API versions).
        let mut c = contract();
        let mut by_session = Payment::test(&c, "pi_1");
        by_session.payment_intent_id = None;
        let (outcome, _) = c.fund(&by_session, ten(), &ev("evt_1"), 3).unwrap();
        assert_eq!(outcome, FundOutcome::Funded);
        // The same payment's intent event, once the provider linked it to the session.
        let linked = Payment::test(&c, "pi_1");
        let (outcome, ts) = c.fund(&linked, ten(), &ev("evt_2"), 4).unwrap();
        assert_eq!((outcome, ts.len()), (FundOutcome::Learned, 0));
        assert_eq!(c.escrow().unwrap().payment_intent_id, Some(pr("pi_1")));
        assert!(c.extra_payments.is_empty(), "nothing owed back");
        assert!(c.payment_refs().contains(&&pr("pi_1")));
        // An intent-only event for it now matches by the intent it taught.
        let mut by_intent = Payment::test(&c, "pi_1");
        by_intent.checkout_session_id = None;
        assert_eq!(
            c.fund(&by_intent, ten(), &ev("evt_3"), 5).unwrap(),
            (FundOutcome::AlreadyApplied, vec![])
        );
        // Its charge, named by a later event, is learned too, and names the same payment.
        let mut with_charge = by_intent.clone();
        with_charge.charge_id = Some(pr("ch_1"));
        let (outcome, ts) = c.fund(&with_charge, ten(), &ev("evt_4"), 6).unwrap();
        assert_eq!((outcome, ts.len()), (FundOutcome::Learned, 0));
        assert!(c.payment_refs().contains(&&pr("ch_1")));
        assert!(!c.expects_provider_refund(&[&pr("ch_1")]), "not refunding");
        // Funded by the intent first, then the session's event: the session is learned.
        let mut c = contract();
        c.fund(&by_intent, ten(), &ev("evt_1"), 3).unwrap();
        let (outcome, _) = c.fund(&linked, ten(), &ev("evt_2"), 4).unwrap();
        assert_eq!(outcome, FundOutcome::Learned);
        assert_eq!(c.escrow().unwrap().checkout_session_id, Some(pr("cs_pi_1")));
        assert!(c.sessions_without_intent().is_empty());
    }

    #[test]
    fn a_payment_of_another_amount_is_refused() {
        let mut c = contract();
        let mut p = Payment::test(&c, "pi_1");
        p.amount = m(100);
        assert!(matches!(
            c.fund(&p, ten(), &ev("evt_1"), 3),
            Err(DomainError::AmountMismatch(_))
        ));
        assert!(c.escrow().is_none());
    }

    #[test]
    fn release_needs_a_request_unless_forced_and_happens_once() {
        let mut c = funded();
        c.status = ContractStatus::Completed;
        assert!(c.release("admin", None, 5).is_err());
        c.request_release(5).unwrap();
        let ts = c.release("admin", None, 6).unwrap();
        let b = balances(&entries(&ts));
        assert_eq!(
            b[&(Account::Wallet(c.freelancer_id.clone()), Currency::Inr)],
            90_000
        );
        assert_eq!(b[&(Account::PlatformFees, Currency::Inr)], 10_000);
        assert_eq!(c.release_fund_status, ReleaseFundStatus::Approved);
        assert!(c.release("admin", None, 7).is_err());
        assert!(
            c.decide_refund("admin", Party::Admin, "", "", None, 7)
                .is_err()
        );
        let mut forced = funded();
        assert!(
            forced
                .release("cli:root@host", Some("client vanished"), 5)
                .is_ok()
        );
        assert!(
            forced
                .escrow()
                .unwrap()
                .history
                .iter()
                .any(|h| h.detail.contains("client vanished"))
        );
    }

    #[test]
    fn refund_split_follows_the_status_with_the_kill_fee() {
        for (status, freelancer, client) in [
            (ContractStatus::Pending, 0, 90_000),
            (ContractStatus::Started, 13_500, 76_500),
            (ContractStatus::Ongoing, 36_000, 54_000),
        ] {
            let mut c = funded();
            c.status = status;
            let ts = c
                .decide_refund("client", Party::Client, "", "", None, 5)
                .unwrap();
            let r = c.escrow().unwrap().refund.clone().unwrap();
            assert_eq!(
                (r.freelancer_share, r.client_share, r.platform_fee),
                (m(freelancer), m(client), m(10_000))
            );
            assert_eq!(c.status, ContractStatus::Canceled);
            assert_eq!(c.cancel_reason, "Requested by client");
            let b = balances(&entries(&ts));
            assert_eq!(
                b[&(
                    Account::Escrow(c.milestone_ref(MilestoneId::FIRST)),
                    Currency::Inr
                )],
                -100_000
            );
            assert_eq!(
                b.get(&(Account::Refund(c.id.clone()), Currency::Inr))
                    .copied()
                    .unwrap_or(0),
                client as i128
            );
        }
    }

    #[test]
    fn a_completed_contract_cannot_be_refunded() {
        let mut c = funded();
        c.status = ContractStatus::Completed;
        assert!(
            c.decide_refund("admin", Party::Admin, "", "", None, 5)
                .is_err()
        );
    }

    #[test]
    fn a_freelancer_who_canceled_keeps_no_kill_fee_and_the_client_can_still_be_refunded() {
        let mut c = funded();
        c.move_to(ContractStatus::Started, Party::Freelancer, 4)
            .unwrap();
        c.move_to(ContractStatus::Canceled, Party::Freelancer, 5)
            .unwrap();
        c.decide_refund("client", Party::Client, "", "", None, 6)
            .unwrap();
        assert_eq!(c.escrow().unwrap().refund.unwrap().freelancer_share, m(0));
    }

    #[test]
    fn an_explicit_split_is_bounded_by_the_earning() {
        let mut c = funded();
        assert!(matches!(
            c.decide_refund("admin", Party::Admin, "", "", Some(m(90_001)), 5),
            Err(DomainError::Validation(_))
        ));
        assert!(matches!(
            c.decide_refund("admin", Party::Admin, "", "", Some(m(-1)), 5),
            Err(DomainError::Validation(_))
        ));
        let ts = c
            .decide_refund("admin", Party::Admin, "dispute", "", Some(m(90_000)), 5)
            .unwrap();
        // Nothing goes back to the client, so the refund settles at once.
        assert_eq!(ts.len(), 2);
        assert_eq!(c.escrow_status(), Some(EscrowStatus::Refunded));
    }

    #[test]
    fn a_refund_of_the_escrow_payment_is_expected_only_once_its_refund_was_decided() {
        let mut c = funded();
        c.fund(&Payment::test(&c, "pi_2"), ten(), &ev("evt_2"), 4)
            .unwrap();
        // A duplicate payment owed back does not make the escrow payment's refund expected.
        assert!(c.expects_provider_refund(&[&pr("pi_2")]));
        assert!(!c.expects_provider_refund(&[&pr("pi_1")]));
        assert!(!c.expects_provider_refund(&[&pr("pi_unknown")]));
        c.decide_refund("admin", Party::Admin, "", "", None, 5)
            .unwrap();
        assert!(c.expects_provider_refund(&[&pr("pi_1")]));
        let mut released = funded();
        released.status = ContractStatus::Completed;
        released.request_release(4).unwrap();
        released.release("admin", None, 5).unwrap();
        assert!(!released.expects_provider_refund(&[&pr("pi_1")]));
        assert!(!released.expects_provider_refund(&[]));
    }

    #[test]
    fn settling_a_refund_closes_the_refund_account_once() {
        let mut c = contract();
        let (_, mut all) = c
            .fund(&Payment::test(&c, "pi_1"), ten(), &ev("e"), 1)
            .unwrap();
        all.extend(
            c.decide_refund("admin", Party::Admin, "", "", None, 5)
                .unwrap(),
        );
        assert_eq!(c.escrow_status(), Some(EscrowStatus::RefundPending));
        let pending = balances(&entries(&all));
        assert_eq!(
            pending[&(Account::Refund(c.id.clone()), Currency::Inr)],
            90_000
        );
        all.extend(
            c.settle_refund(MilestoneId::FIRST, &re("re_1"), "admin", 6)
                .unwrap(),
        );
        assert!(
            c.settle_refund(MilestoneId::FIRST, &re("re_1"), "admin", 7)
                .unwrap()
                .is_empty()
        );
        assert!(c.release("admin", Some("x"), 8).is_err());
        let b = balances(&entries(&all));
        assert_eq!(
            b.get(&(Account::Refund(c.id.clone()), Currency::Inr))
                .copied()
                .unwrap_or(0),
            0
        );
        assert_eq!(
            b.get(&(
                Account::Escrow(c.milestone_ref(MilestoneId::FIRST)),
                Currency::Inr
            ))
            .copied()
            .unwrap_or(0),
            0
        );
        assert_eq!(b.values().sum::<i128>(), 0);
    }

    proptest! {
        #[test]
        fn every_path_through_the_escrow_balances(amount in 1i64..=100_000_000_000_000, bps in 0u32..=10_000, path in 0u8..4, share_pct in 0i64..=100) {
            let mut c = contract();
            c.amount = m(amount);
            c.milestones[0].amount = m(amount);
            let p = Payment::test(&c, "pi_1");
            let (_, mut ts) = c.fund(&p, FeeBps::new(bps).unwrap(), &ev("evt"), 1).unwrap();
            match path {
                0 => { c.status = ContractStatus::Completed; c.request_release(2).unwrap(); ts.extend(c.release("a", None, 3).unwrap()); }
                1 => { ts.extend(c.decide_refund("a", Party::Admin, "", "", None, 3).unwrap()); ts.extend(c.settle_refund(MilestoneId::FIRST, &re("re"), "a", 4).unwrap()); }
                2 => {
                    let earning = c.escrow().unwrap().freelancer_earning;
                    ts.extend(c.decide_refund("a", Party::Admin, "", "", Some(m(earning.get() * share_pct / 100)), 3).unwrap());
                    ts.extend(c.settle_refund(MilestoneId::FIRST, &re("re"), "a", 4).unwrap());
                }
                _ => { c.status = ContractStatus::Ongoing; ts.extend(c.decide_refund("a", Party::Admin, "", "", None, 3).unwrap()); ts.extend(c.settle_refund(MilestoneId::FIRST, &re("re"), "a", 4).unwrap()); }
            }
            let es = entries(&ts);
            let b = balances(&es);
            prop_assert_eq!(b.values().sum::<i128>(), 0);
            prop_assert_eq!(b.get(&(Account::Escrow(c.milestone_ref(MilestoneId::FIRST)), Currency::Inr)).copied().unwrap_or(0), 0);
            prop_assert_eq!(b.get(&(Account::Refund(c.id.clone()), Currency::Inr)).copied().unwrap_or(0), 0);
            prop_assert_eq!(-b[&(Account::ExternalStripe, Currency::Inr)], b.iter().filter(|((a, _), _)| matches!(a, Account::Wallet(_) | Account::PlatformFees)).map(|(_, v)| *v).sum::<i128>());
            for t in &ts {
                prop_assert_eq!(t.lines.iter().map(|(_, a)| a.get() as i128).sum::<i128>(), 0);
            }
        }
    }
}

#[cfg(test)]
mod milestone_tests {
    use super::*;
    use crate::domain::contract::tests::contract;
    use crate::domain::ledger::{LedgerEntry, balances};
    use crate::domain::milestone::{MilestonePlan, MilestoneRef, MilestoneState};
    use crate::domain::verify::Verifier;
    use crate::domain::{ContractId, JobId, Money, Outcome, ReleaseFundStatus, UserId};
    use proptest::prelude::*;

    fn id(n: usize) -> MilestoneId {
        MilestoneId::new(n).unwrap()
    }

    fn ten() -> FeeBps {
        FeeBps::new(1000).unwrap()
    }

    fn parts(amounts: &[i64]) -> Contract {
        let plans: Vec<MilestonePlan> = amounts
            .iter()
            .map(|a| MilestonePlan {
                title: "part".into(),
                amount: MinorUnits::new(*a),
            })
            .collect();
        let mut c = Contract::with_milestones(
            ContractId::generate(),
            JobId::generate(),
            UserId::generate(),
            UserId::generate(),
            Money::new(MinorUnits::new(amounts.iter().sum()), Currency::Inr),
            None,
            Some(&plans),
            1,
        )
        .unwrap();
        c.approve(1).unwrap();
        c
    }

    fn pay(c: &Contract, pi: &str, ids: Option<&[usize]>, amount: i64) -> Payment {
        let mut p = Payment::test(c, pi);
        p.amount = MinorUnits::new(amount);
        p.milestones = ids.map(|ids| ids.iter().map(|n| id(*n)).collect());
        p
    }

    fn entries(ts: &[Transfer]) -> Vec<LedgerEntry> {
        ts.iter().flat_map(|t| t.entries()).collect()
    }

    #[test]
    fn a_payment_funds_exactly_the_milestones_it_names_once() {
        let mut c = parts(&[1_000, 2_000, 3_000]);
        let ev = EventId::new("evt_1");
        // The amount must be what the named milestones cost.
        assert!(matches!(
            c.fund(&pay(&c, "pi_1", Some(&[1, 2]), 1_000), ten(), &ev, 2),
            Err(DomainError::AmountMismatch(_))
        ));
        assert!(matches!(
            c.fund(&pay(&c, "pi_1", Some(&[4]), 1_000), ten(), &ev, 2),
            Err(DomainError::AmountMismatch(_))
        ));
        assert!(matches!(
            c.fund(&pay(&c, "pi_1", Some(&[1, 1]), 2_000), ten(), &ev, 2),
            Err(DomainError::AmountMismatch(_))
        ));
        let (outcome, ts) = c
            .fund(&pay(&c, "pi_1", Some(&[1, 3]), 4_000), ten(), &ev, 2)
            .unwrap();
        assert_eq!((outcome, ts.len()), (FundOutcome::Funded, 2));
        let states: Vec<_> = c.milestones.iter().map(|m| m.state()).collect();
        assert_eq!(
            states,
            [
                MilestoneState::Funded,
                MilestoneState::Unfunded,
                MilestoneState::Funded
            ]
        );
        let b = balances(&entries(&ts));
        assert_eq!(
            b[&(
                Account::Escrow(MilestoneRef::new(c.id.clone(), id(3))),
                Currency::Inr
            )],
            3_000
        );
        // The same payment again changes nothing; another one for a funded milestone is owed
        // back in full; one naming none pays every unfunded one.
        let same = pay(&c, "pi_1", Some(&[1, 3]), 4_000);
        assert_eq!(
            c.fund(&same, ten(), &EventId::new("evt_2"), 3).unwrap(),
            (FundOutcome::AlreadyApplied, vec![])
        );
        let (outcome, _) = c
            .fund(
                &pay(&c, "pi_2", Some(&[3]), 3_000),
                ten(),
                &EventId::new("evt_3"),
                3,
            )
            .unwrap();
        assert_eq!(outcome, FundOutcome::Duplicate);
        let (outcome, _) = c
            .fund(
                &pay(&c, "pi_3", None, 2_000),
                ten(),
                &EventId::new("evt_4"),
                4,
            )
            .unwrap();
        assert_eq!(outcome, FundOutcome::Funded);
        assert_eq!(c.held_milestones(), [id(1), id(2), id(3)]);
        assert_eq!(c.escrow().unwrap().amount, MinorUnits::new(6_000));
    }

    #[test]
    fn a_milestone_is_released_on_its_own_once_its_release_was_asked() {
        let mut c = parts(&[1_000, 2_000]);
        c.fund(&pay(&c, "pi_1", None, 3_000), ten(), &EventId::new("e"), 2)
            .unwrap();
        c.move_to(ContractStatus::Started, Party::Freelancer, 3)
            .unwrap();
        assert!(
            c.request_milestone_release(id(1), 4).is_err(),
            "not submitted"
        );
        assert_eq!(c.submit_milestone(id(1), 4), Ok(Outcome::Changed));
        assert_eq!(c.submit_milestone(id(1), 5), Ok(Outcome::Unchanged));
        assert!(c.release_milestone(id(1), "admin", None, 5).is_err());
        assert!(c.release("admin", None, 5).is_err(), "nothing requested");
        c.request_milestone_release(id(1), 5).unwrap();
        assert_eq!(c.release_fund_status, ReleaseFundStatus::Requested);
        // The whole-contract release moves only what was asked for.
        let ts = c.release("admin", None, 6).unwrap();
        assert_eq!(ts.len(), 1);
        assert_eq!(
            c.milestone(id(1)).unwrap().state(),
            MilestoneState::Released
        );
        assert_eq!(c.milestone(id(2)).unwrap().state(), MilestoneState::Funded);
        assert_eq!(c.release_fund_status, ReleaseFundStatus::NotRequested);
        assert!(
            c.release_milestone(id(1), "admin", Some("again"), 7)
                .is_err()
        );
        assert!(matches!(
            c.release_milestone(id(9), "admin", None, 7),
            Err(DomainError::MilestoneNotFound(_))
        ));
        // A cancel refunds milestone 2 with the Started kill fee; milestone 1 stays released.
        let ts = c
            .decide_refund("admin", Party::Admin, "", "", None, 8)
            .unwrap();
        assert_eq!(ts.len(), 1);
        let r = c
            .milestone(id(2))
            .unwrap()
            .escrow
            .clone()
            .unwrap()
            .refund
            .unwrap();
        assert_eq!(
            (r.freelancer_share.get(), r.client_share.get()),
            (270, 1_530)
        );
        assert_eq!(
            r.idempotency_key.as_str(),
            format!("escrow-refund-{}:2", c.id)
        );
        assert_eq!(
            c.milestone(id(1)).unwrap().state(),
            MilestoneState::Released
        );
        assert_eq!(c.refunds_pending(), [id(2)]);
        assert_eq!(c.release_fund_status, ReleaseFundStatus::Approved);
    }

    #[test]
    fn an_explicit_share_is_spread_over_the_held_milestones_in_order() {
        let mut c = parts(&[1_000, 2_000]);
        c.fund(&pay(&c, "pi_1", None, 3_000), ten(), &EventId::new("e"), 2)
            .unwrap();
        assert!(
            c.clone()
                .decide_refund(
                    "admin",
                    Party::Admin,
                    "",
                    "",
                    Some(MinorUnits::new(2_701)),
                    3
                )
                .is_err()
        );
        c.decide_refund(
            "admin",
            Party::Admin,
            "",
            "",
            Some(MinorUnits::new(1_000)),
            3,
        )
        .unwrap();
        let share = |n| {
            c.milestone(id(n))
                .unwrap()
                .escrow
                .as_ref()
                .unwrap()
                .refund
                .as_ref()
                .unwrap()
                .freelancer_share
                .get()
        };
        assert_eq!((share(1), share(2)), (900, 100));
    }

    #[test]
    fn a_record_stored_before_milestones_reads_as_one_milestone() {
        let mut c = contract();
        c.fund(&Payment::test(&c, "pi_1"), ten(), &EventId::new("e"), 2)
            .unwrap();
        c.status = ContractStatus::Completed;
        c.status_history
            .push(crate::domain::contract::StatusChange {
                status: ContractStatus::Completed,
                at: 3,
            });
        c.request_release(4).unwrap();
        let mut doc = serde_json::to_value(&c).unwrap();
        // As it was stored: its escrow at the top, no milestones.
        let escrow = doc["milestones"][0]["escrow"].take();
        doc.as_object_mut().unwrap().remove("milestones");
        doc["escrow"] = escrow;
        let old: Contract = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(old.milestones.len(), 1);
        let m = &old.milestones[0];
        assert_eq!(
            (m.id, m.amount, m.state(), m.submitted_at),
            (id(1), c.amount, MilestoneState::ReleaseRequested, Some(3))
        );
        assert_eq!(old.escrow(), c.escrow());
        // Verification reads the same facts from it.
        let facts = crate::domain::verify::ContractFacts::from_json(&doc.to_string()).unwrap();
        assert_eq!(facts, crate::domain::verify::ContractFacts::of(&old));
        // Written again, it is in the new form.
        let again = serde_json::to_value(&old).unwrap();
        assert!(again.get("escrow").is_none() && again["milestones"].is_array());
    }

    #[test]
    fn verify_checks_each_milestone_s_escrow_account() {
        let mut c = parts(&[1_000, 2_000, 3_000]);
        let (_, mut ts) = c
            .fund(
                &pay(&c, "pi_1", Some(&[1, 2]), 3_000),
                ten(),
                &EventId::new("e"),
                2,
            )
            .unwrap();
        ts.extend(c.release_milestone(id(2), "admin", Some("x"), 3).unwrap());
        let check = |c: &Contract, ts: &[Transfer]| {
            let mut v = Verifier::new();
            for e in entries(ts) {
                v.add_entry(&e);
            }
            v.add_contract(c);
            v.finish()
        };
        assert!(check(&c, &ts).ok(), "{:?}", check(&c, &ts).violations);
        // Money booked into unfunded milestone 3's account is found, and named.
        let mut tampered = ts.clone();
        tampered.push(Transfer::new(
            "x:1".into(),
            c.id.clone(),
            TransferKind::Fund,
            Currency::Inr,
            4,
            vec![
                (Account::ExternalStripe, MinorUnits::new(-5)),
                (
                    Account::Escrow(MilestoneRef::new(c.id.clone(), id(3))),
                    MinorUnits::new(5),
                ),
            ],
        ));
        let report = check(&c, &tampered);
        let rules: Vec<_> = report.violations.iter().map(|v| v.rule).collect();
        assert!(rules.contains(&"unfunded_escrow_is_empty"), "{rules:?}");
        assert!(
            rules.contains(&"one_payment_per_funded_escrow"),
            "{rules:?}"
        );
        assert!(
            report.violations.iter().any(|v| v.detail.contains(":3")),
            "{:?}",
            report.violations
        );
    }

    proptest! {
        /// Any milestone contract, any fee, each milestone paid, released or refunded on its
        /// own: every transfer balances, every escrow account ends at what its milestone
        /// holds, and fee plus earning is each milestone's amount.
        #[test]
        fn every_path_through_milestones_balances(
            amounts in proptest::collection::vec(1i64..=10_000_000, 1..6),
            bps in 0u32..=10_000,
            paths in proptest::collection::vec(0u8..4, 6),
        ) {
            let mut c = parts(&amounts);
            let fee = FeeBps::new(bps).unwrap();
            let mut ts = vec![];
            for (i, a) in amounts.iter().enumerate() {
                let n = i + 1;
                if paths[i] == 3 {
                    continue;
                }
                let (_, t) = c.fund(&pay(&c, &format!("pi_{n}"), Some(&[n]), *a), fee, &EventId::new(format!("e{n}")), 2).unwrap();
                ts.extend(t);
                let e = c.milestone(id(n)).unwrap().escrow.clone().unwrap();
                prop_assert_eq!(e.platform_fee + e.freelancer_earning, e.amount);
                if paths[i] == 1 {
                    ts.extend(c.release_milestone(id(n), "a", Some("p"), 3).unwrap());
                }
            }
            if paths.iter().take(amounts.len()).any(|p| *p == 0 || *p == 2) && c.escrow_status() == Some(EscrowStatus::Funded) {
                ts.extend(c.decide_refund("a", Party::Admin, "", "", None, 4).unwrap());
                for m in c.refunds_pending() {
                    ts.extend(c.settle_refund(m, &RefundRef::new("re"), "a", 5).unwrap());
                }
            }
            for t in &ts {
                prop_assert_eq!(t.lines.iter().map(|(_, a)| a.get() as i128).sum::<i128>(), 0);
            }
            let b = balances(&entries(&ts));
            for m in &c.milestones {
                let held = if m.is_held() { m.amount.get() as i128 } else { 0 };
                let account = Account::Escrow(MilestoneRef::new(c.id.clone(), m.id));
                prop_assert_eq!(b.get(&(account, Currency::Inr)).copied().unwrap_or(0), held);
            }
            let mut v = Verifier::new();
            for e in entries(&ts) {
                v.add_entry(&e);
            }
            v.add_contract(&c);
            let report = v.finish();
            prop_assert!(report.ok(), "{:?}", report.violations);
        }
    }
}
