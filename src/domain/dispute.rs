//! Disputes: what freezes an escrow until it is settled. A client disputes a contract whose
//! money is held and not yet released; the freelancer answers; an admin resolves it with an
//! explicit split (the client's share refunded through the provider, the freelancer's to the
//! wallet, the fee retained), exactly once. While a dispute is open, the milestones it names
//! cannot move (no release, no auto-release, no request, no refund) except by its resolution.

use serde::{Deserialize, Serialize};

use super::contract::{Contract, ContractStatus, Outcome, Party, REASON_CHARS_MAX, StatusChange};
use super::error::{Action, DomainError, Entity};
use super::escrow::{Actor, FreelancerShare, HistoryEntry};
use super::ledger::Transfer;
use super::milestone::{Milestone, MilestoneId, MilestoneState};
use super::money::MinorUnits;

/// Who opened a dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeKind {
    /// The contract's client disagrees with the work.
    Client,
}

impl DisputeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DisputeKind::Client => "client",
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
}

impl DisputeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DisputeStatus::Open => "open",
            DisputeStatus::Resolved => "resolved",
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
}

impl Dispute {
    pub fn is_open(&self) -> bool {
        self.status == DisputeStatus::Open
    }
}

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

    /// An admin resolves the open client dispute: of the disputed milestones' escrowed
    /// amount, `client_share` goes back to the client through the provider, `freelancer_share`
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
        let Some(index) = self
            .disputes
            .iter()
            .position(|d| d.is_open() && d.kind == DisputeKind::Client)
        else {
            return Err(DomainError::refused(
                Entity::Escrow,
                self.escrow_state_name(),
                Action::ResolveDispute,
                "the contract has no open dispute to resolve",
            ));
        };
        let targets: Vec<MilestoneId> = self.disputes[index]
            .milestones
            .iter()
            .copied()
            .filter(|id| self.milestone(*id).is_ok_and(|m| m.is_held()))
            .collect();
        let (mut amount, mut fee, mut earnings) =
            (MinorUnits::ZERO, MinorUnits::ZERO, MinorUnits::ZERO);
        for id in &targets {
            let e = self.milestone(*id)?.escrow.as_ref().expect("held");
            amount += e.amount;
            fee += e.platform_fee;
            earnings += e.freelancer_earning;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::contract::tests::funded;
    use crate::domain::escrow::EscrowStatus;
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
}
