//! Disputes: what freezes an escrow until it is settled. A client disputes a contract whose
//! money is held and not yet released; the freelancer answers; an admin resolves it with an
//! explicit split (the client's share refunded through the provider, the freelancer's to the
//! wallet, the fee retained), exactly once. While a dispute is open, the milestones it names
//! cannot move (no release, no auto-release, no request, no refund) except by its resolution.
//!
//! A chargeback is a dispute the card holder opens at their bank: the provider reports it
//! (`charge.dispute.created`), which freezes the milestones the charge paid for while they
//! hold money; `won` unfreezes them; `lost` takes the disputed amount out of those escrows
//! (to `external:stripe`), and what they no longer held (money already released) is a platform
//! loss (`platform:chargebacks`). What a lost chargeback leaves in an escrow waits for an
//! admin's split, as a client's dispute does.

use serde::{Deserialize, Serialize};

use super::contract::{Contract, ContractStatus, Outcome, Party, REASON_CHARS_MAX, StatusChange};
use super::error::{Action, DomainError, Entity};
use super::escrow::{Actor, FreelancerShare, HistoryEntry};
use super::ids::PaymentRef;
use super::ledger::Transfer;
use super::ledger::{Account, TransferKind};
use super::milestone::{Milestone, MilestoneId, MilestoneState};
use super::money::MinorUnits;

/// Who opened a dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeKind {
    /// The contract's client disagrees with the work.
    Client,
    /// The card holder disputed the payment at their bank.
    Chargeback,
    /// The payment was refunded outside the escrow (from the provider's dashboard).
    OutsideRefund,
}

impl DisputeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DisputeKind::Client => "client",
            DisputeKind::Chargeback => "chargeback",
            DisputeKind::OutsideRefund => "outside_refund",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    /// Freezes its milestones.
    Open,
    /// An admin split the money.
    Resolved,
    /// A chargeback the platform won: nothing moved.
    Won,
    /// A chargeback the platform lost, its money taken (and nothing left to decide).
    Lost,
    /// A refund made outside the escrow that left nothing to decide (it took all the escrow
    /// held, or the money had left it).
    Closed,
}

impl DisputeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DisputeStatus::Open => "open",
            DisputeStatus::Resolved => "resolved",
            DisputeStatus::Won => "won",
            DisputeStatus::Lost => "lost",
            DisputeStatus::Closed => "closed",
        }
    }
}

/// Something a party said in a dispute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DisputeNote {
    pub actor: String,
    pub at: i64,
    pub description: String,
}

/// How an admin settled a dispute: the escrowed amount of its milestones split three ways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DisputeResolution {
    /// Back to the client through the payment provider.
    pub client_share: MinorUnits,
    /// To the freelancer's wallet.
    pub freelancer_share: MinorUnits,
    /// Retained by the platform (the fee of the disputed milestones).
    pub platform_fee: MinorUnits,
    pub reason: String,
    pub actor: String,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dispute {
    /// Its number within the contract (1, 2, …).
    pub id: u32,
    pub kind: DisputeKind,
    pub status: DisputeStatus,
    /// The milestones it freezes: those whose money was held when it opened.
    pub milestones: Vec<MilestoneId>,
    pub reason: String,
    pub description: String,
    pub opened_by: String,
    pub opened_at: i64,
    /// The freelancer's answers, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responses: Vec<DisputeNote>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<DisputeResolution>,
    /// What the provider says of a chargeback, and what it took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chargeback: Option<Chargeback>,
    /// What refunds made outside the escrow took (outside refunds only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside_refund: Option<OutsideRefund>,
}

/// Refunds of one payment made outside the escrow, and what they took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutsideRefund {
    /// The payment (as the escrow knows it).
    pub payment_ref: PaymentRef,
    /// What the provider reported refunded outside the escrow so far.
    pub refunded: MinorUnits,
    /// What that took out of the escrows that still held the money.
    pub taken_from_escrow: MinorUnits,
    /// What it took that the escrows no longer held: the platform's.
    pub platform_loss: MinorUnits,
}

/// The actor of a refund made outside the escrow.
pub const OUTSIDE_ACTOR: &str = "stripe:outside";

impl Dispute {
    pub fn is_open(&self) -> bool {
        self.status == DisputeStatus::Open
    }

    /// Whether an admin's split settles it now: a client's dispute, or a lost chargeback that
    /// left money in the escrow. A chargeback the bank has not decided waits for the bank.
    pub fn awaits_admin(&self) -> bool {
        self.is_open()
            && match &self.chargeback {
                None => true,
                Some(cb) => cb.closed,
            }
    }
}

/// A chargeback as the provider reports it (`dp_…`), and what it did here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chargeback {
    pub provider_dispute_id: String,
    pub charge_id: Option<PaymentRef>,
    pub payment_intent_id: Option<PaymentRef>,
    /// What the bank disputes.
    pub amount: MinorUnits,
    /// The provider's status (`needs_response`, `under_review`, `won`, `lost`, …).
    pub provider_status: String,
    /// When the provider needs the evidence by (Unix ms).
    pub evidence_due_by: Option<i64>,
    pub funds_withdrawn: bool,
    pub funds_reinstated: bool,
    /// The bank decided (won or lost).
    pub closed: bool,
    /// What a loss took out of the escrows that still held the money.
    pub taken_from_escrow: MinorUnits,
    /// What a loss took that the escrows no longer held: the platform's.
    pub platform_loss: MinorUnits,
    /// What of the platform's loss was recovered from the freelancer's wallet
    /// (`ESCROW_CHARGEBACK_RECOVERY=wallet`).
    #[serde(default)]
    pub recovered_from_wallet: MinorUnits,
}

/// A dispute of a card payment as the provider's event describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderDispute {
    pub id: String,
    pub charge_id: Option<PaymentRef>,
    pub payment_intent_id: Option<PaymentRef>,
    pub amount: MinorUnits,
    pub reason: String,
    pub status: String,
    /// Unix ms.
    pub evidence_due_by: Option<i64>,
}

/// Which event of a chargeback's life arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargebackEvent {
    /// `charge.dispute.created` or `charge.dispute.updated`.
    Described,
    FundsWithdrawn,
    FundsReinstated,
    /// `charge.dispute.closed`: its status says won or lost.
    Closed,
}

/// The actor of what the provider reports.
pub const PROVIDER_ACTOR: &str = "stripe";

fn clip(s: &str) -> String {
    s.trim().chars().take(REASON_CHARS_MAX).collect()
}

/// How many disputes a contract has, as the stores index it: none, only settled ones, or an
/// open one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DisputeMark {
    None = 0,
    Settled = 1,
    Open = 2,
}

impl Contract {
    /// The open dispute that freezes milestone `id`, if any.
    pub fn frozen_by(&self, id: MilestoneId) -> Option<&Dispute> {
        self.disputes
            .iter()
            .find(|d| d.is_open() && d.milestones.contains(&id))
    }

    /// Where milestone `m` stands, `disputed` while an open dispute freezes it.
    pub fn milestone_state(&self, m: &Milestone) -> MilestoneState {
        match self.frozen_by(m.id) {
            Some(_) if m.is_held() => MilestoneState::Disputed,
            _ => m.state(),
        }
    }

    /// Whether an open dispute freezes any milestone whose money is held.
    pub fn is_frozen(&self) -> bool {
        self.milestones
            .iter()
            .any(|m| m.is_held() && self.frozen_by(m.id).is_some())
    }

    /// The contract's open dispute of `kind`, if any.
    pub fn open_dispute_of(&self, kind: DisputeKind) -> Option<&Dispute> {
        self.disputes.iter().find(|d| d.is_open() && d.kind == kind)
    }

    /// What the stores index of the contract's disputes.
    pub fn dispute_mark(&self) -> DisputeMark {
        if self.disputes.iter().any(Dispute::is_open) {
            DisputeMark::Open
        } else if self.disputes.is_empty() {
            DisputeMark::None
        } else {
            DisputeMark::Settled
        }
    }

    /// Refuses a move of the milestones `ids` while a dispute freezes any of them.
    pub(crate) fn require_not_frozen(&self, ids: &[MilestoneId]) -> Result<(), DomainError> {
        match ids.iter().find_map(|id| Some((id, self.frozen_by(*id)?))) {
            None => Ok(()),
            Some((id, d)) => Err(DomainError::Frozen(format!(
                "milestone {id}'s escrow is frozen by an open {} dispute (dispute {}): it moves only when the dispute is resolved",
                d.kind.as_str(),
                d.id
            ))),
        }
    }

    fn dispute_history(
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

    /// The contract's client disputes it: every milestone whose money is held (funded, not
    /// released, no refund decided) is frozen until an admin resolves the dispute. One
    /// client dispute at a time.
    pub fn open_dispute(
        &mut self,
        actor: Actor<'_>,
        reason: &str,
        description: &str,
        now: i64,
    ) -> Result<Outcome, DomainError> {
        let action = Action::Dispute;
        if let Some(d) = self.open_dispute_of(DisputeKind::Client) {
            return Err(DomainError::refused(
                Entity::Escrow,
                "disputed",
                action,
                format!("dispute {} is already open on this contract", d.id),
            ));
        }
        let held = self.held_milestones();
        if held.is_empty() {
            return Err(DomainError::refused(
                Entity::Escrow,
                self.escrow_state_name(),
                action,
                "only an escrow that is funded and not yet released or refunded can be disputed",
            ));
        }
        let id = self.disputes.len() as u32 + 1;
        let reason = clip(reason);
        self.disputes.push(Dispute {
            id,
            kind: DisputeKind::Client,
            status: DisputeStatus::Open,
            milestones: held.clone(),
            reason: reason.clone(),
            description: clip(description),
            opened_by: actor.into(),
            opened_at: now,
            responses: vec![],
            resolution: None,
            chargeback: None,
            outside_refund: None,
        });
        self.dispute_history(
            &held,
            "disputed",
            actor,
            now,
            &format!("dispute {id}: {reason}"),
        );
        self.updated_at = now;
        Ok(Outcome::Changed)
    }

    /// The contract's freelancer answers its open client dispute (again: another answer).
    pub fn respond_to_dispute(
        &mut self,
        actor: Actor<'_>,
        description: &str,
        now: i64,
    ) -> Result<Outcome, DomainError> {
        let Some(index) = self
            .disputes
            .iter()
            .position(|d| d.is_open() && d.kind == DisputeKind::Client)
        else {
            return Err(DomainError::refused(
                Entity::Escrow,
                self.escrow_state_name(),
                Action::RespondDispute,
                "the contract has no open dispute to answer",
            ));
        };
        let text = clip(description);
        let d = &mut self.disputes[index];
        d.responses.push(DisputeNote {
            actor: actor.into(),
            at: now,
            description: text.clone(),
        });
        let (id, ids) = (d.id, d.milestones.clone());
        self.dispute_history(
            &ids,
            "dispute_response",
            actor,
            now,
            &format!("dispute {id}: {text}"),
        );
        self.updated_at = now;
        Ok(Outcome::Changed)
    }

    /// An admin resolves the dispute that awaits one (a client's, or what a lost chargeback
    /// left): of the disputed milestones' escrowed amount, `client_share` goes back to the client through the provider, `freelancer_share`
    /// to the freelancer's wallet, and their fee is retained; the three must add up to the
    /// amount. The freelancer's share is spread over the milestones in order, each up to its
    /// earning. Each milestone then waits for the provider as a refund does (or settles at once
    /// when nothing goes back). A contract not yet completed is canceled by it.
    pub fn resolve_dispute(
        &mut self,
        actor: Actor<'_>,
        client_share: MinorUnits,
        freelancer_share: MinorUnits,
        reason: &str,
        now: i64,
    ) -> Result<Vec<Transfer>, DomainError> {
        let Some(index) = self.disputes.iter().position(Dispute::awaits_admin) else {
            let why = match self.disputes.iter().any(Dispute::is_open) {
                true => "the open dispute is a chargeback the bank has not decided: wait for it",
                false => "the contract has no open dispute to resolve",
            };
            return Err(DomainError::refused(
                Entity::Escrow,
                self.escrow_state_name(),
                Action::ResolveDispute,
                why,
            ));
        };
        let targets: Vec<MilestoneId> = self.disputes[index]
            .milestones
            .iter()
            .copied()
            .filter(|id| self.milestone(*id).is_ok_and(|m| m.is_held()))
            .collect();
        if let Some(other) = self.disputes.iter().enumerate().find(|(j, d)| {
            *j != index && d.is_open() && d.milestones.iter().any(|m| targets.contains(m))
        }) {
            return Err(DomainError::Frozen(format!(
                "the escrow is also frozen by an open {} dispute (dispute {}): it is resolved after that one",
                other.1.kind.as_str(),
                other.1.id
            )));
        }
        let (mut amount, mut fee, mut earnings) =
            (MinorUnits::ZERO, MinorUnits::ZERO, MinorUnits::ZERO);
        for id in &targets {
            let (held, kept, earning) = self
                .milestone(*id)?
                .escrow
                .as_ref()
                .expect("held")
                .held_split();
            amount += held;
            fee += kept;
            earnings += earning;
        }
        if client_share < MinorUnits::ZERO || freelancer_share < MinorUnits::ZERO {
            return Err(DomainError::Validation("a share cannot be negative".into()));
        }
        if client_share + freelancer_share + fee != amount {
            return Err(DomainError::Validation(format!(
                "the client's share {client_share} and the freelancer's share {freelancer_share} with the retained fee {fee} must add up to the disputed escrow's amount {amount} (the shares to {earnings})"
            )));
        }
        let reason = clip(reason);
        let d = &mut self.disputes[index];
        d.status = DisputeStatus::Resolved;
        d.resolution = Some(DisputeResolution {
            client_share,
            freelancer_share,
            platform_fee: fee,
            reason: reason.clone(),
            actor: actor.into(),
            at: now,
        });
        let id = d.id;
        let detail = format!(
            "dispute {id}: client {client_share}, freelancer {freelancer_share}, fee {fee}; reason: {reason}"
        );
        self.dispute_history(&targets, "dispute_resolved", actor, now, &detail);
        if !matches!(
            self.status,
            ContractStatus::Completed | ContractStatus::Canceled
        ) {
            self.canceled_from = Some(self.status);
            self.canceled_by = Some(Party::Admin);
            self.status = ContractStatus::Canceled;
            self.status_history.push(StatusChange {
                status: ContractStatus::Canceled,
                at: now,
            });
            self.cancel_reason = format!("Dispute {id} resolved");
            self.cancel_reason_description = reason.clone();
        }
        let transfers = self.book_refunds(
            &targets,
            FreelancerShare::Explicit(freelancer_share),
            actor,
            &format!("dispute {id} resolved: {reason}"),
            now,
        )?;
        self.updated_at = now;
        Ok(transfers)
    }
}

impl Contract {
    /// The milestones whose escrow the payment `d` names paid for (by its payment intent or
    /// its charge).
    fn paid_by_dispute(&self, d: &ProviderDispute) -> Vec<MilestoneId> {
        self.paid_by(&[d.payment_intent_id.as_ref(), d.charge_id.as_ref()])
    }

    /// The milestones whose escrow the payment named by any of `refs` funded.
    fn paid_by<R: std::borrow::Borrow<PaymentRef>>(&self, refs: &[Option<R>]) -> Vec<MilestoneId> {
        self.milestones
            .iter()
            .filter(|m| {
                m.escrow
                    .as_ref()
                    .is_some_and(|e| refs.iter().flatten().any(|r| e.is_paid_by(r.borrow())))
            })
            .map(|m| m.id)
            .collect()
    }

    /// The chargeback the provider calls `id`, recorded (and frozen what its charge paid for
    /// and still holds) the first time any of its events arrives.
    fn chargeback_index(&mut self, d: &ProviderDispute, now: i64) -> (usize, bool) {
        if let Some(i) = self.disputes.iter().position(|x| {
            x.chargeback
                .as_ref()
                .is_some_and(|cb| cb.provider_dispute_id == d.id)
        }) {
            return (i, false);
        }
        let paid = self.paid_by_dispute(d);
        let held: Vec<MilestoneId> = paid
            .iter()
            .copied()
            .filter(|id| self.milestone(*id).is_ok_and(|m| m.is_held()))
            .collect();
        let id = self.disputes.len() as u32 + 1;
        self.disputes.push(Dispute {
            id,
            kind: DisputeKind::Chargeback,
            status: DisputeStatus::Open,
            milestones: held,
            reason: clip(&d.reason),
            description: String::new(),
            opened_by: PROVIDER_ACTOR.into(),
            opened_at: now,
            responses: vec![],
            resolution: None,
            chargeback: Some(Chargeback {
                provider_dispute_id: d.id.clone(),
                charge_id: d.charge_id.clone(),
                payment_intent_id: d.payment_intent_id.clone(),
                amount: d.amount,
                provider_status: d.status.clone(),
                evidence_due_by: d.evidence_due_by,
                funds_withdrawn: false,
                funds_reinstated: false,
                closed: false,
                taken_from_escrow: MinorUnits::ZERO,
                platform_loss: MinorUnits::ZERO,
                recovered_from_wallet: MinorUnits::ZERO,
            }),
            outside_refund: None,
        });
        let detail = format!(
            "chargeback {id} ({}): {} disputed, reason {}",
            d.id, d.amount, d.reason
        );
        self.dispute_history(&paid, "chargeback_opened", PROVIDER_ACTOR, now, &detail);
        self.updated_at = now;
        (self.disputes.len() - 1, true)
    }

    /// Applies one event of a chargeback's life: recorded (the first event of it freezes what
    /// its charge paid for and still holds); funds withdrawn or reinstated noted; closed as
    /// `won` (unfrozen) or `lost` (the disputed amount taken out of the escrows that still
    /// hold it, the rest a platform loss). Each event is applied once: a closed chargeback
    /// changes no more. The transfers a loss caused, and the platform's part of it.
    pub fn apply_chargeback(
        &mut self,
        d: &ProviderDispute,
        event: ChargebackEvent,
        now: i64,
    ) -> Result<(Outcome, Vec<Transfer>, MinorUnits), DomainError> {
        let (i, new) = self.chargeback_index(d, now);
        let mut outcome = if new {
            Outcome::Changed
        } else {
            Outcome::Unchanged
        };
        let cb = self.disputes[i].chargeback.as_mut().expect("a chargeback");
        if cb.closed {
            return Ok((outcome, vec![], MinorUnits::ZERO));
        }
        let id = self.disputes[i].id;
        let paid = self.paid_by_dispute(d);
        let cb = self.disputes[i].chargeback.as_mut().expect("a chargeback");
        let described = (cb.provider_status.clone(), cb.evidence_due_by, cb.amount);
        cb.provider_status = d.status.clone();
        cb.evidence_due_by = d.evidence_due_by.or(cb.evidence_due_by);
        cb.amount = d.amount;
        if described != (cb.provider_status.clone(), cb.evidence_due_by, cb.amount) {
            outcome = Outcome::Changed;
        }
        let note = match event {
            ChargebackEvent::Described => None,
            ChargebackEvent::FundsWithdrawn if !cb.funds_withdrawn => {
                cb.funds_withdrawn = true;
                Some((
                    "chargeback_funds_withdrawn",
                    format!("{} withdrawn by the bank", d.amount),
                ))
            }
            ChargebackEvent::FundsReinstated if !cb.funds_reinstated => {
                cb.funds_reinstated = true;
                Some((
                    "chargeback_funds_reinstated",
                    format!("{} reinstated", d.amount),
                ))
            }
            ChargebackEvent::FundsWithdrawn | ChargebackEvent::FundsReinstated => None,
            ChargebackEvent::Closed => None,
        };
        if let Some((action, detail)) = note {
            self.dispute_history(
                &paid,
                action,
                PROVIDER_ACTOR,
                now,
                &format!("chargeback {id}: {detail}"),
            );
            self.updated_at = now;
            return Ok((Outcome::Changed, vec![], MinorUnits::ZERO));
        }
        if event != ChargebackEvent::Closed {
            if outcome == Outcome::Changed {
                self.updated_at = now;
            }
            return Ok((outcome, vec![], MinorUnits::ZERO));
        }
        match d.status.as_str() {
            "won" | "warning_closed" => {
                let dispute = &mut self.disputes[i];
                dispute.status = DisputeStatus::Won;
                dispute.chargeback.as_mut().expect("a chargeback").closed = true;
                self.dispute_history(
                    &paid,
                    "chargeback_won",
                    PROVIDER_ACTOR,
                    now,
                    &format!("chargeback {id}: the platform won; nothing moved"),
                );
                self.updated_at = now;
                Ok((Outcome::Changed, vec![], MinorUnits::ZERO))
            }
            "lost" => {
                let frozen = self.disputes[i].milestones.clone();
                let (transfers, taken, left) =
                    self.take_out(&frozen, d.amount, TakenBy::Chargeback, now)?;
                let rest_held = self.disputes[i]
                    .milestones
                    .iter()
                    .any(|m| self.milestone(*m).is_ok_and(|m| m.is_held()));
                let dispute = &mut self.disputes[i];
                let cb = dispute.chargeback.as_mut().expect("a chargeback");
                cb.closed = true;
                cb.taken_from_escrow = taken;
                cb.platform_loss = left;
                // What the escrows still hold waits for an admin's split.
                if !rest_held {
                    dispute.status = DisputeStatus::Lost;
                }
                let detail = format!(
                    "chargeback {id}: lost; {taken} taken from the escrow, {left} a platform loss{}",
                    if rest_held {
                        "; the rest awaits an admin's decision"
                    } else {
                        ""
                    }
                );
                self.dispute_history(&paid, "chargeback_lost", PROVIDER_ACTOR, now, &detail);
                self.sync_release_fund_status();
                self.updated_at = now;
                Ok((Outcome::Changed, transfers, left))
            }
            // Closed with another status: noted; the bank has not decided yet as far as the
            // escrow is concerned.
            _ => {
                if outcome == Outcome::Changed {
                    self.updated_at = now;
                }
                Ok((outcome, vec![], MinorUnits::ZERO))
            }
        }
    }
}

impl Contract {
    /// The platform's loss to chargeback `dispute` not yet recovered from the wallet, if it
    /// is one of this contract's.
    pub fn unrecovered_chargeback_loss(&self, dispute: &str) -> Option<MinorUnits> {
        self.disputes
            .iter()
            .filter_map(|d| d.chargeback.as_ref())
            .find(|cb| cb.provider_dispute_id == dispute)
            .map(|cb| cb.platform_loss - cb.recovered_from_wallet)
    }

    /// Records that `amount` of chargeback `dispute`'s loss was recovered from the wallet
    /// (the recovery's own record moved the money); recording it again changes nothing.
    pub fn note_chargeback_recovery(
        &mut self,
        dispute: &str,
        amount: MinorUnits,
        payout: &str,
        now: i64,
    ) -> Outcome {
        let Some(i) = self.disputes.iter().position(|d| {
            d.chargeback
                .as_ref()
                .is_some_and(|cb| cb.provider_dispute_id == dispute)
        }) else {
            return Outcome::Unchanged;
        };
        let cb = self.disputes[i].chargeback.as_mut().expect("a chargeback");
        if cb.recovered_from_wallet == amount {
            return Outcome::Unchanged;
        }
        cb.recovered_from_wallet = amount;
        let refs = [cb.payment_intent_id.clone(), cb.charge_id.clone()];
        let id = self.disputes[i].id;
        let detail = format!(
            "chargeback {id}: {amount} of the loss recovered from the freelancer's wallet (payout {payout})"
        );
        // On the milestones its charge paid, as the rest of its history.
        let mine = self.paid_by(&refs);
        self.dispute_history(&mine, "chargeback_recovered", "system", now, &detail);
        self.updated_at = now;
        Outcome::Changed
    }
}

impl Contract {
    /// The provider reports the payment named by `refs` refunded by `refunded` in all (its
    /// charge's `amount_refunded`, which only grows). What the escrow refunded itself (the
    /// client's shares of the refunds it decided) and what earlier reports already took are not
    /// taken again; the rest was refunded outside the escrow. It is taken out of the milestones
    /// that payment funded while they hold money (a milestone left empty closes as refunded,
    /// actor `stripe:outside`), what they no longer held is a platform loss, and what they still
    /// hold is frozen for an admin's split. `Unchanged` when nothing is new, or the payment is
    /// not one of the escrow's (a duplicate payment's refund: see
    /// [`Contract::expects_provider_refund`]).
    pub fn apply_outside_refund(
        &mut self,
        refs: &[&PaymentRef],
        refunded: MinorUnits,
        now: i64,
    ) -> Result<(Outcome, Vec<Transfer>), DomainError> {
        let named: Vec<Option<&PaymentRef>> = refs.iter().map(|r| Some(*r)).collect();
        let paid = self.paid_by(&named);
        let Some(first) = paid.first() else {
            return Ok((Outcome::Unchanged, vec![]));
        };
        let payment = self
            .milestone(*first)?
            .escrow
            .as_ref()
            .expect("paid")
            .payment_ref
            .clone();
        // A refund that failed at the provider counts as the escrow's own: a report made
        // while it was still pending holds it (Stripe takes it out of `amount_refunded` once it
        // fails), and events come in any order. Money refunded from the dashboard in its
        // place is what `escrowctl refunds settle` records.
        let own: MinorUnits = paid
            .iter()
            .filter_map(|id| self.milestone(*id).ok()?.escrow.as_ref())
            .filter(|e| {
                matches!(
                    e.status,
                    super::escrow::EscrowStatus::RefundPending
                        | super::escrow::EscrowStatus::Refunded
                        | super::escrow::EscrowStatus::RefundFailed
                )
            })
            .filter_map(|e| e.refund.as_ref())
            .map(|r| r.client_share)
            .sum();
        let index = self.disputes.iter().position(|d| {
            d.outside_refund
                .as_ref()
                .is_some_and(|o| o.payment_ref == payment)
        });
        let recorded = index
            .and_then(|i| self.disputes[i].outside_refund.as_ref())
            .map_or(MinorUnits::ZERO, |o| o.refunded);
        let new = refunded - own - recorded;
        if new <= MinorUnits::ZERO {
            return Ok((Outcome::Unchanged, vec![]));
        }
        let (transfers, taken, left) = self.take_out(&paid, new, TakenBy::OutsideRefund, now)?;
        let still_held: Vec<MilestoneId> = paid
            .iter()
            .copied()
            .filter(|m| self.milestone(*m).is_ok_and(|m| m.is_held()))
            .collect();
        let i = match index {
            Some(i) => i,
            None => {
                let id = self.disputes.len() as u32 + 1;
                self.disputes.push(Dispute {
                    id,
                    kind: DisputeKind::OutsideRefund,
                    status: DisputeStatus::Open,
                    milestones: vec![],
                    reason: "refunded outside the escrow".into(),
                    description: String::new(),
                    opened_by: OUTSIDE_ACTOR.into(),
                    opened_at: now,
                    responses: vec![],
                    resolution: None,
                    chargeback: None,
                    outside_refund: Some(OutsideRefund {
                        payment_ref: payment.clone(),
                        refunded: MinorUnits::ZERO,
                        taken_from_escrow: MinorUnits::ZERO,
                        platform_loss: MinorUnits::ZERO,
                    }),
                });
                self.disputes.len() - 1
            }
        };
        let d = &mut self.disputes[i];
        let o = d.outside_refund.as_mut().expect("an outside refund");
        o.refunded += new;
        o.taken_from_escrow += taken;
        o.platform_loss += left;
        for m in &still_held {
            if !d.milestones.contains(m) {
                d.milestones.push(*m);
            }
        }
        d.status = if still_held.is_empty() {
            DisputeStatus::Closed
        } else {
            DisputeStatus::Open
        };
        let id = d.id;
        let detail = format!(
            "dispute {id}: payment {payment} refunded outside the escrow by {new}; {taken} taken from the escrow, {left} a platform loss{}",
            if still_held.is_empty() {
                ""
            } else {
                "; the rest awaits an admin's decision"
            }
        );
        self.dispute_history(&paid, "refunded_outside", OUTSIDE_ACTOR, now, &detail);
        self.sync_release_fund_status();
        self.updated_at = now;
        Ok((Outcome::Changed, transfers))
    }
}

/// What took money out of an escrow at the provider, outside its own moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TakenBy {
    /// A lost chargeback: the escrow it empties is `charged_back`.
    Chargeback,
    /// A refund made outside the escrow: the escrow it empties is `refunded`.
    OutsideRefund,
}

impl Contract {
    /// Takes up to `amount` out of the escrows of `milestones` that still hold money, in order,
    /// to `external:stripe` (what `by` took: an escrow left empty is closed); what they no
    /// longer held is the platform's loss (`platform:chargebacks` → `external:stripe`). The
    /// transfers, what was taken from the escrows, and the loss.
    fn take_out(
        &mut self,
        milestones: &[MilestoneId],
        amount: MinorUnits,
        by: TakenBy,
        now: i64,
    ) -> Result<(Vec<Transfer>, MinorUnits, MinorUnits), DomainError> {
        use super::escrow::EscrowStatus;
        let (kind, loss_kind) = match by {
            TakenBy::Chargeback => (TransferKind::Chargeback, TransferKind::ChargebackLoss),
            TakenBy::OutsideRefund => {
                (TransferKind::OutsideRefund, TransferKind::OutsideRefundLoss)
            }
        };
        let mut left = amount;
        let mut taken = MinorUnits::ZERO;
        let mut transfers = vec![];
        for m in milestones {
            let Some(e) = self
                .milestone(*m)?
                .escrow
                .as_ref()
                .filter(|e| e.status == EscrowStatus::Funded)
            else {
                continue;
            };
            let x = left.min(e.held());
            if x.is_zero() {
                continue;
            }
            let tid = self.next_transfer_id();
            transfers.push(Transfer::new(
                tid,
                self.id.clone(),
                kind,
                self.currency,
                now,
                vec![
                    (Account::Escrow(self.milestone_ref(*m)), -x),
                    (Account::ExternalStripe, x),
                ],
            ));
            let e = self.milestone_mut(*m)?.escrow.as_mut().expect("funded");
            match by {
                TakenBy::Chargeback => e.charged_back += x,
                TakenBy::OutsideRefund => e.refunded_outside += x,
            }
            if e.held().is_zero() {
                match by {
                    TakenBy::Chargeback => e.status = EscrowStatus::ChargedBack,
                    TakenBy::OutsideRefund => {
                        e.status = EscrowStatus::Refunded;
                        e.refunded_at = Some(now);
                    }
                }
            }
            left = left - x;
            taken += x;
        }
        if !left.is_zero() {
            let tid = self.next_transfer_id();
            transfers.push(Transfer::new(
                tid,
                self.id.clone(),
                loss_kind,
                self.currency,
                now,
                vec![
                    (Account::PlatformChargebacks, -left),
                    (Account::ExternalStripe, left),
                ],
            ));
        }
        Ok((transfers, taken, left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::contract::tests::funded;
    use crate::domain::escrow::EscrowStatus;
    use crate::domain::ids::PaymentRef;
    use crate::domain::ledger::{Account, balances};
    use crate::domain::{ContractStatus, LedgerEntry};

    fn m(n: i64) -> MinorUnits {
        MinorUnits::new(n)
    }

    fn entries(ts: &[Transfer]) -> Vec<LedgerEntry> {
        ts.iter().flat_map(|t| t.entries()).collect()
    }

    #[test]
    fn a_dispute_freezes_every_move_but_its_resolution() {
        let mut c = funded();
        c.open_dispute("client:x", "late", "", 10).unwrap();
        assert!(c.is_frozen());
        let frozen = |e: DomainError| matches!(e, DomainError::Frozen(_));
        assert!(frozen(
            c.clone().release("admin", Some("forced"), 11).unwrap_err()
        ));
        assert!(frozen(
            c.clone()
                .decide_refund("admin", Party::Admin, "r", "", None, 11)
                .unwrap_err()
        ));
        assert!(frozen(
            c.clone()
                .release_milestone(MilestoneId::FIRST, "admin", Some("f"), 11)
                .unwrap_err()
        ));
        // One client dispute at a time; an answer is recorded.
        assert!(c.clone().open_dispute("client:x", "again", "", 11).is_err());
        c.respond_to_dispute("freelancer:y", "on time", 12).unwrap();
        assert_eq!(c.disputes[0].responses.len(), 1);
        assert_eq!(c.dispute_mark(), DisputeMark::Open);
    }

    #[test]
    fn a_resolution_splits_the_amount_once_and_balances() {
        let mut c = funded();
        c.move_to(ContractStatus::Started, Party::Freelancer, 4)
            .unwrap();
        c.open_dispute("client:x", "late", "", 10).unwrap();
        // 1000 rupees, fee 100: the shares must make up the other 900.
        for (client, freelancer) in [(500, 500), (0, 0), (900, 1), (-1, 901)] {
            let mut copy = c.clone();
            let e = copy
                .resolve_dispute("admin", m(client * 100), m(freelancer * 100), "r", 11)
                .unwrap_err();
            assert!(matches!(e, DomainError::Validation(_)), "{e}");
            assert_eq!(copy, c, "a refused split changed the record");
        }
        let ts = c
            .resolve_dispute("admin", m(30_000), m(60_000), "half", 11)
            .unwrap();
        let b = balances(&entries(&ts));
        let of = |a: Account| b.get(&(a, c.currency)).copied().unwrap_or(0);
        assert_eq!(
            of(Account::Escrow(c.milestone_ref(MilestoneId::FIRST))),
            -100_000
        );
        assert_eq!(of(Account::Wallet(c.freelancer_id.clone())), 60_000);
        assert_eq!(of(Account::PlatformFees), 10_000);
        assert_eq!(of(Account::Refund(c.id.clone())), 30_000);
        assert_eq!(b.values().sum::<i128>(), 0);
        assert_eq!(c.escrow_status(), Some(EscrowStatus::RefundPending));
        assert_eq!(c.status, ContractStatus::Canceled);
        assert_eq!(c.dispute_mark(), DisputeMark::Settled);
        assert!(!c.is_frozen());
        // Exactly once.
        assert!(
            c.resolve_dispute("admin", m(30_000), m(60_000), "again", 12)
                .is_err()
        );
    }

    #[test]
    fn only_held_money_can_be_disputed() {
        let mut c = crate::domain::contract::tests::contract();
        assert!(c.open_dispute("client:x", "r", "", 1).is_err());
        let mut c2 = funded();
        c2.move_to(ContractStatus::Started, Party::Freelancer, 4)
            .unwrap();
        c2.move_to(ContractStatus::Ongoing, Party::Freelancer, 5)
            .unwrap();
        c2.move_to(ContractStatus::Completed, Party::Freelancer, 6)
            .unwrap();
        c2.release("admin", Some("done"), 7).unwrap();
        assert!(c2.open_dispute("client:x", "r", "", 8).is_err());
        c = c2;
        assert_eq!(c.dispute_mark(), DisputeMark::None);
    }

    fn pd(amount: i64, status: &str) -> ProviderDispute {
        ProviderDispute {
            id: "dp_1".into(),
            charge_id: Some(PaymentRef::new("ch_1")),
            payment_intent_id: Some(PaymentRef::new("pi_1")),
            amount: m(amount),
            reason: "fraudulent".into(),
            status: status.into(),
            evidence_due_by: Some(99),
        }
    }

    #[test]
    fn a_chargeback_freezes_what_its_charge_paid_for_and_each_event_applies_once() {
        let mut c = funded();
        let (o, ts, _) = c
            .apply_chargeback(
                &pd(100_000, "needs_response"),
                ChargebackEvent::Described,
                10,
            )
            .unwrap();
        assert_eq!((o, ts.len()), (Outcome::Changed, 0));
        assert!(c.is_frozen());
        // The same description again changes nothing; an update of its status does.
        let (o, _, _) = c
            .apply_chargeback(
                &pd(100_000, "needs_response"),
                ChargebackEvent::Described,
                11,
            )
            .unwrap();
        assert_eq!(o, Outcome::Unchanged);
        let (o, _, _) = c
            .apply_chargeback(&pd(100_000, "under_review"), ChargebackEvent::Described, 12)
            .unwrap();
        assert_eq!(o, Outcome::Changed);
        let (o, _, _) = c
            .apply_chargeback(
                &pd(100_000, "under_review"),
                ChargebackEvent::FundsWithdrawn,
                13,
            )
            .unwrap();
        assert_eq!(o, Outcome::Changed);
        let (o, _, _) = c
            .apply_chargeback(
                &pd(100_000, "under_review"),
                ChargebackEvent::FundsWithdrawn,
                14,
            )
            .unwrap();
        assert_eq!(o, Outcome::Unchanged);
        // Won: unfrozen, nothing moved; nothing after it changes anything.
        let (o, ts, loss) = c
            .apply_chargeback(&pd(100_000, "won"), ChargebackEvent::Closed, 15)
            .unwrap();
        assert_eq!((o, ts.len(), loss), (Outcome::Changed, 0, m(0)));
        assert!(!c.is_frozen());
        let before = c.clone();
        let (o, ts, _) = c
            .apply_chargeback(&pd(100_000, "lost"), ChargebackEvent::Closed, 16)
            .unwrap();
        assert_eq!((o, ts.len()), (Outcome::Unchanged, 0));
        assert_eq!(c, before);
    }

    #[test]
    fn a_lost_chargeback_takes_from_the_escrow_what_it_holds_and_the_rest_is_a_platform_loss() {
        // Before release: part of it; the rest waits for an admin and balances after the split.
        let mut c = funded();
        c.apply_chargeback(
            &pd(40_000, "needs_response"),
            ChargebackEvent::Described,
            10,
        )
        .unwrap();
        let (_, mut ts, loss) = c
            .apply_chargeback(&pd(40_000, "lost"), ChargebackEvent::Closed, 11)
            .unwrap();
        assert_eq!(loss, m(0));
        assert!(c.is_frozen(), "the rest awaits an admin");
        assert_eq!(c.milestones[0].escrow.as_ref().unwrap().held(), m(60_000));
        ts.extend(
            c.resolve_dispute("admin", m(20_000), m(30_000), "rest", 12)
                .unwrap(),
        );
        let mut all = vec![];
        // Funding, as the contract was funded.
        all.push(Transfer::new(
            "f".into(),
            c.id.clone(),
            TransferKind::Fund,
            c.currency,
            3,
            vec![
                (Account::ExternalStripe, m(-100_000)),
                (
                    Account::Escrow(c.milestone_ref(MilestoneId::FIRST)),
                    m(100_000),
                ),
            ],
        ));
        all.extend(ts);
        let b = balances(&entries(&all));
        let of = |a: Account| b.get(&(a, c.currency)).copied().unwrap_or(0);
        assert_eq!(of(Account::Escrow(c.milestone_ref(MilestoneId::FIRST))), 0);
        assert_eq!(of(Account::PlatformFees), 10_000);
        assert_eq!(of(Account::Wallet(c.freelancer_id.clone())), 30_000);
        assert_eq!(of(Account::Refund(c.id.clone())), 20_000);
        assert_eq!(of(Account::ExternalStripe), -60_000);
        // After release: all of it is the platform's.
        let mut r = funded();
        r.move_to(ContractStatus::Started, Party::Freelancer, 4)
            .unwrap();
        r.move_to(ContractStatus::Ongoing, Party::Freelancer, 5)
            .unwrap();
        r.move_to(ContractStatus::Completed, Party::Freelancer, 6)
            .unwrap();
        r.release("admin", Some("done"), 7).unwrap();
        r.apply_chargeback(
            &pd(100_000, "needs_response"),
            ChargebackEvent::Described,
            8,
        )
        .unwrap();
        assert!(!r.is_frozen());
        let (_, ts, loss) = r
            .apply_chargeback(&pd(100_000, "lost"), ChargebackEvent::Closed, 9)
            .unwrap();
        assert_eq!(loss, m(100_000));
        assert_eq!(ts.len(), 1);
        assert_eq!(ts[0].kind, TransferKind::ChargebackLoss);
        assert_eq!(r.disputes[0].status, DisputeStatus::Lost);
        // All of a held escrow: charged back, closed.
        let mut h = funded();
        h.apply_chargeback(&pd(100_000, "lost"), ChargebackEvent::Closed, 8)
            .unwrap();
        assert_eq!(h.escrow_status(), Some(EscrowStatus::ChargedBack));
        assert!(!h.is_frozen());
    }

    #[test]
    fn a_refund_made_outside_takes_only_what_is_new_and_freezes_the_rest() {
        let mut c = funded();
        let pi = PaymentRef::new("pi_1");
        // 300 refunded outside: taken, the rest (700) frozen for an admin.
        let (o, ts) = c.apply_outside_refund(&[&pi], m(30_000), 10).unwrap();
        assert_eq!((o, ts.len()), (Outcome::Changed, 1));
        assert_eq!(ts[0].kind, TransferKind::OutsideRefund);
        assert!(c.is_frozen());
        assert_eq!(c.milestones[0].escrow.as_ref().unwrap().held(), m(70_000));
        // Reported again (cumulative, no more): nothing new.
        let (o, _) = c.apply_outside_refund(&[&pi], m(30_000), 11).unwrap();
        assert_eq!(o, Outcome::Unchanged);
        // The rest refunded outside too: the escrow closes as refunded.
        let (o, ts) = c.apply_outside_refund(&[&pi], m(100_000), 12).unwrap();
        assert_eq!((o, ts.len()), (Outcome::Changed, 1));
        assert_eq!(c.escrow_status(), Some(EscrowStatus::Refunded));
        assert!(!c.is_frozen());
        assert_eq!(c.disputes[0].status, DisputeStatus::Closed);
        // Another payment's refund is not the escrow's.
        let other = PaymentRef::new("pi_other");
        assert_eq!(
            c.apply_outside_refund(&[&other], m(5), 13).unwrap().0,
            Outcome::Unchanged
        );
    }

    #[test]
    fn the_escrows_own_refund_reported_by_the_provider_takes_nothing() {
        let mut c = funded();
        c.decide_refund("client:x", Party::Client, "r", "", None, 5)
            .unwrap();
        let share = c.milestones[0]
            .escrow
            .as_ref()
            .unwrap()
            .refund
            .as_ref()
            .unwrap()
            .client_share;
        let pi = PaymentRef::new("pi_1");
        let (o, ts) = c.apply_outside_refund(&[&pi], share, 6).unwrap();
        assert_eq!((o, ts.len()), (Outcome::Unchanged, 0));
        assert!(c.disputes.is_empty());
    }
}
