//! The contract: who, how much, and where the work stands. A contract carries its escrow
//! (see [`super::escrow`]) so that every money transition changes exactly one record, saved
//! with a compare-and-set on its `version`.

use serde::{Deserialize, Serialize};

use super::dispute::Dispute;
use super::error::{Action, DomainError, Entity};
use super::escrow::{Escrow, EscrowStatus, ExtraPayment};
use super::ids::{ContractId, JobId, PaymentRef, RequestTag, UserId};
use super::milestone::{Milestone, MilestoneId, MilestonePlan, MilestoneRef, plan_milestones};
use super::money::{Currency, MinorUnits, Money};

/// Longest title kept (the product name shown on the checkout page).
pub const TITLE_CHARS_MAX: usize = 200;
/// Longest cancel reason and description.
pub const REASON_CHARS_MAX: usize = 2_000;

/// A contract's title, the product name shown on the checkout page: trimmed, at most
/// [`TITLE_CHARS_MAX`] characters (it may be empty: the checkout then names the job).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Title(String);

impl Title {
    pub fn parse(text: &str) -> Result<Title, DomainError> {
        let text = text.trim();
        if text.chars().count() > TITLE_CHARS_MAX {
            return Err(DomainError::Validation(format!(
                "title is longer than {TITLE_CHARS_MAX} characters"
            )));
        }
        Ok(Title(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContractStatus {
    Pending,
    Started,
    Ongoing,
    Completed,
    Canceled,
}

impl ContractStatus {
    pub const ALL: [ContractStatus; 5] = [
        ContractStatus::Pending,
        ContractStatus::Started,
        ContractStatus::Ongoing,
        ContractStatus::Completed,
        ContractStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ContractStatus::Pending => "Pending",
            ContractStatus::Started => "Started",
            ContractStatus::Ongoing => "Ongoing",
            ContractStatus::Completed => "Completed",
            ContractStatus::Canceled => "Canceled",
        }
    }

    pub fn parse(s: &str) -> Option<ContractStatus> {
        match s {
            "Pending" => Some(ContractStatus::Pending),
            "Started" => Some(ContractStatus::Started),
            "Ongoing" => Some(ContractStatus::Ongoing),
            "Completed" => Some(ContractStatus::Completed),
            "Canceled" => Some(ContractStatus::Canceled),
            _ => None,
        }
    }

    /// Percentage of the freelancer's earning kept as a kill fee when the contract is refunded
    /// from this status (the original's 0 / 15 / 40 %). `None` where no refund is allowed.
    pub fn kill_fee_percent(self) -> Option<i64> {
        match self {
            ContractStatus::Pending => Some(0),
            ContractStatus::Started => Some(15),
            ContractStatus::Ongoing => Some(40),
            ContractStatus::Completed | ContractStatus::Canceled => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReleaseFundStatus {
    NotRequested,
    Requested,
    Approved,
}

impl ReleaseFundStatus {
    pub const ALL: [ReleaseFundStatus; 3] = [
        ReleaseFundStatus::NotRequested,
        ReleaseFundStatus::Requested,
        ReleaseFundStatus::Approved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseFundStatus::NotRequested => "NotRequested",
            ReleaseFundStatus::Requested => "Requested",
            ReleaseFundStatus::Approved => "Approved",
        }
    }
}

/// Who did something to a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Party {
    Client,
    Freelancer,
    Admin,
}

impl Party {
    pub const ALL: [Party; 3] = [Party::Client, Party::Freelancer, Party::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Party::Client => "Client",
            Party::Freelancer => "Freelancer",
            Party::Admin => "Admin",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    pub status: ContractStatus,
    /// Unix milliseconds.
    pub at: i64,
}

// `remote = "Self"`: the derived (de)serializers become inherent functions, wrapped by the
// trait impls below so that a record stored before milestones reads as a one-milestone one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", remote = "Self")]
pub struct Contract {
    pub id: ContractId,
    /// The contract's number, from the store's counter: its human id is "CON" and this, at
    /// least 8 digits ([`Contract::human_id`]). Unique by construction; `None` on contracts
    /// made before numbers existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    pub job_id: JobId,
    pub client_id: UserId,
    pub freelancer_id: UserId,
    pub title: Option<Title>,
    pub amount: MinorUnits,
    pub currency: Currency,
    pub status: ContractStatus,
    pub is_approved: bool,
    pub release_fund_status: ReleaseFundStatus,
    pub cancel_reason: String,
    pub cancel_reason_description: String,
    pub canceled_by: Option<Party>,
    /// The status the contract was in when it was canceled: decides the kill fee of a refund.
    pub canceled_from: Option<ContractStatus>,
    pub status_history: Vec<StatusChange>,
    /// Its milestones, at least one, in order (see [`super::milestone`]); each holds its own
    /// escrow.
    #[serde(default)]
    pub milestones: Vec<Milestone>,
    /// The one escrow of a record stored before milestones: read into its one milestone.
    #[serde(default, rename = "escrow", skip_serializing)]
    legacy_escrow: Option<Escrow>,
    /// Its disputes, oldest first (see [`super::dispute`]): an open one freezes the escrow of
    /// the milestones it names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disputes: Vec<Dispute>,
    /// Payments that arrived for this contract after it was already funded (or canceled).
    pub extra_payments: Vec<ExtraPayment>,
    /// Number of ledger transfers written for this contract: the next transfer's sequence.
    pub transfer_seq: u32,
    pub created_at: i64,
    pub updated_at: i64,
    /// Bumped by every save; a save names the version it read (compare-and-set).
    pub version: i64,
    /// The idempotent requests that changed this contract, the latest
    /// [`REQUESTS_KEPT`] (oldest first): written in the same save as their change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RequestTag>,
}

/// How many of the requests that changed a contract it remembers ([`Contract::requests`]).
pub const REQUESTS_KEPT: usize = 16;

impl Serialize for Contract {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Contract::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for Contract {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Contract, D::Error> {
        let mut c = Contract::deserialize(d)?;
        c.upgrade();
        Ok(c)
    }
}

impl Contract {
    /// A record stored before milestones has none: it gets its one milestone of the whole
    /// amount, holding its escrow, submitted if the work was completed, its release requested
    /// if the client had asked.
    fn upgrade(&mut self) {
        if !self.milestones.is_empty() {
            return;
        }
        let title = self.title.as_ref().map_or("", Title::as_str).to_string();
        let mut m = Milestone::new(MilestoneId::FIRST, title, self.amount);
        m.escrow = self.legacy_escrow.take();
        if m.escrow.is_some() {
            let completed = self
                .status_history
                .iter()
                .rev()
                .find(|h| h.status == ContractStatus::Completed)
                .map(|h| h.at);
            m.submitted_at = completed;
            m.submissions = u32::from(completed.is_some());
            if self.release_fund_status == ReleaseFundStatus::Requested {
                m.release_requested_at = Some(self.updated_at);
            }
        }
        self.milestones.push(m);
    }

    pub fn new(
        id: ContractId,
        job_id: JobId,
        client_id: UserId,
        freelancer_id: UserId,
        amount: Money,
        title: Option<Title>,
        now: i64,
    ) -> Result<Contract, DomainError> {
        Contract::with_milestones(
            id,
            job_id,
            client_id,
            freelancer_id,
            amount,
            title,
            None,
            now,
        )
    }

    /// A contract paid by milestones (`None`: one milestone of the whole amount).
    #[allow(clippy::too_many_arguments)]
    pub fn with_milestones(
        id: ContractId,
        job_id: JobId,
        client_id: UserId,
        freelancer_id: UserId,
        amount: Money,
        title: Option<Title>,
        milestones: Option<&[MilestonePlan]>,
        now: i64,
    ) -> Result<Contract, DomainError> {
        if client_id == freelancer_id {
            return Err(DomainError::Validation(
                "a client cannot hire themselves".into(),
            ));
        }
        if amount.minor <= MinorUnits::ZERO {
            return Err(DomainError::Validation(
                "amount must be greater than zero".into(),
            ));
        }
        let milestones = plan_milestones(
            milestones,
            amount.minor,
            title.as_ref().map_or("", Title::as_str),
        )?;
        Ok(Contract {
            id,
            number: None,
            job_id,
            client_id,
            freelancer_id,
            title,
            amount: amount.minor,
            currency: amount.currency,
            status: ContractStatus::Pending,
            is_approved: false,
            release_fund_status: ReleaseFundStatus::NotRequested,
            cancel_reason: String::new(),
            cancel_reason_description: String::new(),
            canceled_by: None,
            canceled_from: None,
            status_history: vec![StatusChange {
                status: ContractStatus::Pending,
                at: now,
            }],
            milestones,
            legacy_escrow: None,
            disputes: Vec::new(),
            extra_payments: Vec::new(),
            transfer_seq: 0,
            created_at: now,
            updated_at: now,
            version: 0,
            requests: Vec::new(),
        })
    }

    /// The original app's human contract id: "CON" and the number, at least 8 digits.
    pub fn human_id(&self) -> Option<String> {
        self.number.map(|n| format!("CON{n:08}"))
    }

    /// Whether the request `tag` already changed this contract.
    pub fn changed_by(&self, tag: &RequestTag) -> bool {
        self.requests.contains(tag)
    }

    /// Remembers that the request `tag` changed this contract (the change saved with it).
    pub fn record_request(&mut self, tag: &RequestTag) {
        if self.changed_by(tag) {
            return;
        }
        self.requests.push(tag.clone());
        let over = self.requests.len().saturating_sub(REQUESTS_KEPT);
        self.requests.drain(..over);
    }

    /// The contract's amount with its currency.
    pub fn money(&self) -> Money {
        Money::new(self.amount, self.currency)
    }

    /// Whether any milestone was ever funded.
    pub fn escrow_paid(&self) -> bool {
        self.milestones.iter().any(|m| m.escrow.is_some())
    }

    /// The escrow's status, for a contract as a whole: `funded` while any milestone's money
    /// is held, else `refund_pending` while a refund is owed, else `released` if any was
    /// released, else `refunded`; `None` before any funding. A one-milestone contract's is its
    /// milestone's.
    pub fn escrow_status(&self) -> Option<EscrowStatus> {
        let statuses: Vec<EscrowStatus> = self
            .milestones
            .iter()
            .filter_map(Milestone::escrow_status)
            .collect();
        [
            EscrowStatus::Funded,
            EscrowStatus::RefundFailed,
            EscrowStatus::RefundPending,
            EscrowStatus::Released,
            EscrowStatus::Refunded,
            EscrowStatus::ChargedBack,
        ]
        .into_iter()
        .find(|s| statuses.contains(s))
    }

    /// The escrow's state name for an error: its status, or `unfunded`.
    pub(crate) fn escrow_state_name(&self) -> &'static str {
        self.escrow_status()
            .map_or("unfunded", EscrowStatus::as_str)
    }

    /// The whole contract's escrow as one (what the original's views show): a one-milestone
    /// contract's own; for several, the funded milestones' amounts, fees, earnings and refund
    /// shares added up, their histories merged, the first one's payment. `None` before any
    /// funding.
    pub fn escrow(&self) -> Option<Escrow> {
        let mut funded = self.milestones.iter().filter_map(|m| m.escrow.as_ref());
        let mut sum = funded.next()?.clone();
        sum.status = self.escrow_status().expect("one is funded");
        for e in funded {
            sum.amount += e.amount;
            sum.platform_fee += e.platform_fee;
            sum.freelancer_earning += e.freelancer_earning;
            sum.charged_back += e.charged_back;
            sum.refunded_outside += e.refunded_outside;
            sum.history.extend(e.history.iter().cloned());
            sum.funded_at = sum.funded_at.min(e.funded_at);
            sum.released_at = sum.released_at.max(e.released_at);
            sum.refunded_at = sum.refunded_at.max(e.refunded_at);
            match (&mut sum.refund, &e.refund) {
                (Some(a), Some(b)) => {
                    a.client_share += b.client_share;
                    a.freelancer_share += b.freelancer_share;
                    a.platform_fee += b.platform_fee;
                    a.attempts += b.attempts;
                    if a.provider_refund_id.is_some() || b.provider_refund_id.is_none() {
                        a.provider_refund_id.clone_from(&b.provider_refund_id);
                    }
                    if b.last_error.is_some() {
                        a.last_error.clone_from(&b.last_error);
                    }
                }
                (a @ None, Some(b)) => *a = Some(b.clone()),
                _ => {}
            }
        }
        sum.history.sort_by_key(|h| h.at);
        Some(sum)
    }

    /// The milestone `id`.
    pub fn milestone(&self, id: MilestoneId) -> Result<&Milestone, DomainError> {
        self.milestones
            .iter()
            .find(|m| m.id == id)
            .ok_or(DomainError::MilestoneNotFound(id))
    }

    pub(crate) fn milestone_mut(&mut self, id: MilestoneId) -> Result<&mut Milestone, DomainError> {
        self.milestones
            .iter_mut()
            .find(|m| m.id == id)
            .ok_or(DomainError::MilestoneNotFound(id))
    }

    /// The stored name of one of its milestones.
    pub fn milestone_ref(&self, id: MilestoneId) -> MilestoneRef {
        MilestoneRef::new(self.id.clone(), id)
    }

    /// The ids of the milestones whose escrow holds money.
    pub fn held_milestones(&self) -> Vec<MilestoneId> {
        self.milestones
            .iter()
            .filter(|m| m.is_held())
            .map(|m| m.id)
            .collect()
    }

    /// Keeps the contract's release fund status (what the original's views and lists read)
    /// in step with its milestones: `Requested` while a held milestone's release is asked
    /// for; `Approved` once nothing is held and every milestone is settled (released or
    /// refunded) or the contract is canceled; else `NotRequested`.
    pub(crate) fn sync_release_fund_status(&mut self) {
        let requested = self
            .milestones
            .iter()
            .any(|m| m.is_held() && m.release_requested_at.is_some());
        let settled = self.milestones.iter().all(|m| {
            matches!(
                m.escrow_status(),
                Some(
                    EscrowStatus::Released
                        | EscrowStatus::RefundPending
                        | EscrowStatus::Refunded
                        | EscrowStatus::ChargedBack
                        | EscrowStatus::RefundFailed
                )
            ) || (self.status == ContractStatus::Canceled && m.escrow.is_none())
        });
        let any_decided = self
            .milestones
            .iter()
            .any(|m| m.escrow.is_some() && !m.is_held());
        self.release_fund_status = if requested {
            ReleaseFundStatus::Requested
        } else if settled && any_decided {
            ReleaseFundStatus::Approved
        } else {
            ReleaseFundStatus::NotRequested
        };
    }

    /// Every payment reference that belongs to this contract (the escrow's payment and
    /// session, and every extra payment), each once: what a store indexes to find the
    /// contract a provider event names.
    pub fn payment_refs(&self) -> Vec<&PaymentRef> {
        let mut refs: Vec<&PaymentRef> = self
            .milestones
            .iter()
            .filter_map(|m| m.escrow.as_ref())
            .flat_map(|e| e.refs().into_iter().flatten())
            .chain(
                self.extra_payments
                    .iter()
                    .flat_map(|p| p.refs().into_iter().flatten()),
            )
            .collect();
        refs.sort();
        refs.dedup();
        refs
    }

    fn refused(&self, action: Action, reason: &str) -> DomainError {
        DomainError::refused(Entity::Contract, self.status.as_str(), action, reason)
    }

    /// The freelancer accepts the contract. Accepting twice changes nothing.
    pub fn approve(&mut self, now: i64) -> Result<Outcome, DomainError> {
        if self.status == ContractStatus::Canceled {
            return Err(self.refused(Action::Approve, "the contract is canceled"));
        }
        if self.is_approved {
            return Ok(Outcome::Unchanged);
        }
        self.is_approved = true;
        self.updated_at = now;
        Ok(Outcome::Changed)
    }

    /// The freelancer moves the work along, or cancels (DESIGN §7).
    pub fn move_to(
        &mut self,
        to: ContractStatus,
        by: Party,
        now: i64,
    ) -> Result<Outcome, DomainError> {
        use ContractStatus::*;
        let from = self.status;
        let legal = matches!(
            (from, to),
            (Pending, Started) | (Started, Ongoing) | (Ongoing, Completed)
        ) || (to == Canceled && matches!(from, Pending | Started | Ongoing));
        if !legal {
            return Err(DomainError::InvalidTransition {
                entity: Entity::Contract,
                from: from.as_str(),
                action: Action::MoveTo(to),
                reason: None,
            });
        }
        if to == Started {
            if !self.is_approved {
                return Err(self.refused(
                    Action::MoveTo(to),
                    "the contract must be approved before it starts",
                ));
            }
            if self.escrow_status() != Some(EscrowStatus::Funded) {
                return Err(self.refused(
                    Action::MoveTo(to),
                    "the escrow must be funded before the contract starts",
                ));
            }
        }
        if to == Completed {
            // Completing the work delivers every funded milestone not yet submitted.
            for m in self
                .milestones
                .iter_mut()
                .filter(|m| m.is_held() && m.submitted_at.is_none())
            {
                m.deliver(now);
            }
        }
        if to == Canceled {
            self.canceled_by = Some(by);
            self.canceled_from = Some(from);
        }
        self.status = to;
        self.status_history.push(StatusChange {
            status: to,
            at: now,
        });
        self.updated_at = now;
        Ok(Outcome::Changed)
    }

    /// Cancels a contract no money is held for (its client, or an admin freeing a job a
    /// contract squats on): a real cancellation with its history entry. A funded contract is
    /// refunded instead, which also cancels it. Canceling again changes nothing.
    pub fn cancel_unfunded(
        &mut self,
        by: Party,
        reason: &str,
        now: i64,
    ) -> Result<Outcome, DomainError> {
        if self.status == ContractStatus::Canceled {
            return Ok(Outcome::Unchanged);
        }
        if self.escrow_status() == Some(EscrowStatus::Funded) {
            return Err(self.refused(
                Action::MoveTo(ContractStatus::Canceled),
                "a funded contract is refunded, not canceled",
            ));
        }
        self.move_to(ContractStatus::Canceled, by, now)?;
        self.sync_release_fund_status();
        let reason = reason.trim();
        self.cancel_reason = if reason.is_empty() {
            format!("Canceled by {}", by.as_str())
        } else {
            reason.chars().take(REASON_CHARS_MAX).collect()
        };
        Ok(Outcome::Changed)
    }

    /// The client asks for the escrow to be released: every held milestone's. Asking again
    /// changes nothing; a released escrow never goes back to requested.
    pub fn request_release(&mut self, now: i64) -> Result<Outcome, DomainError> {
        let action = Action::RequestRelease;
        if self.status != ContractStatus::Completed {
            return Err(self.refused(
                action,
                "release can be requested only after the work is completed",
            ));
        }
        if self.escrow_status() == Some(EscrowStatus::Released) {
            return Err(self.refused(action, "the funds were already released"));
        }
        self.require_funded_escrow(action)?;
        self.require_not_frozen(&self.held_milestones())?;
        let mut outcome = Outcome::Unchanged;
        for m in self.milestones.iter_mut().filter(|m| m.is_held()) {
            if m.release_requested_at.is_none() {
                m.release_requested_at = Some(now);
                outcome = Outcome::Changed;
            }
        }
        if outcome == Outcome::Changed {
            self.sync_release_fund_status();
            self.updated_at = now;
        }
        Ok(outcome)
    }

    /// The freelancer delivers a funded milestone: its inspection window starts. Submitting
    /// again changes nothing.
    pub fn submit_milestone(&mut self, id: MilestoneId, now: i64) -> Result<Outcome, DomainError> {
        let action = Action::Submit;
        if !matches!(
            self.status,
            ContractStatus::Started | ContractStatus::Ongoing | ContractStatus::Completed
        ) {
            return Err(self.refused(action, "milestones are submitted once the work has started"));
        }
        self.require_held_milestone(id, action)?;
        let m = self.milestone_mut(id)?;
        if m.submitted_at.is_some() {
            return Ok(Outcome::Unchanged);
        }
        m.deliver(now);
        self.updated_at = now;
        Ok(Outcome::Changed)
    }

    /// The client rejects a delivered milestone whose release they have not asked for: it is
    /// funded and undelivered again, and its auto-release clock stops (the freelancer's next
    /// delivery starts a new one).
    pub fn reject_milestone(
        &mut self,
        id: MilestoneId,
        actor: &str,
        reason: &str,
        now: i64,
    ) -> Result<Outcome, DomainError> {
        let action = Action::Reject;
        self.require_held_milestone(id, action)?;
        let m = self.milestone(id)?;
        let refuse = |why: String| {
            Err(DomainError::refused(
                Entity::Milestone,
                m.state().as_str(),
                action,
                why,
            ))
        };
        if m.release_requested_at.is_some() {
            return refuse(format!("milestone {id}'s release was already requested"));
        }
        if m.submitted_at.is_none() {
            return refuse(format!("milestone {id} has not been submitted"));
        }
        let reason: String = reason.trim().chars().take(REASON_CHARS_MAX).collect();
        let m = self.milestone_mut(id)?;
        m.submitted_at = None;
        if let Some(e) = m.escrow.as_mut() {
            e.history.push(super::escrow::HistoryEntry {
                action: "rejected".into(),
                actor: actor.into(),
                at: now,
                detail: if reason.is_empty() {
                    "the client rejected the delivery".into()
                } else {
                    format!("the client rejected the delivery: {reason}")
                },
            });
        }
        self.updated_at = now;
        Ok(Outcome::Changed)
    }

    /// The client asks for one milestone's release: once it was submitted (or the work
    /// completed). Asking again changes nothing.
    pub fn request_milestone_release(
        &mut self,
        id: MilestoneId,
        now: i64,
    ) -> Result<Outcome, DomainError> {
        let action = Action::RequestRelease;
        self.require_held_milestone(id, action)?;
        self.require_not_frozen(&[id])?;
        let m = self.milestone(id)?;
        if m.submitted_at.is_none() {
            return Err(DomainError::refused(
                Entity::Milestone,
                m.state().as_str(),
                action,
                format!("milestone {id} has not been submitted"),
            ));
        }
        if m.release_requested_at.is_some() {
            return Ok(Outcome::Unchanged);
        }
        self.milestone_mut(id)?.release_requested_at = Some(now);
        self.sync_release_fund_status();
        self.updated_at = now;
        Ok(Outcome::Changed)
    }

    /// Refuses `action` unless milestone `id`'s escrow holds its money.
    pub(crate) fn require_held_milestone(
        &self,
        id: MilestoneId,
        action: Action,
    ) -> Result<(), DomainError> {
        let m = self.milestone(id)?;
        match m.escrow_status() {
            Some(EscrowStatus::Funded) => Ok(()),
            None => Err(DomainError::refused(
                Entity::Escrow,
                "unfunded",
                action,
                format!("milestone {id} is not funded"),
            )),
            Some(s) => Err(DomainError::refused(
                Entity::Escrow,
                s.as_str(),
                action,
                format!("milestone {id} is already {}", s.as_str()),
            )),
        }
    }

    /// Refuses `action` unless the escrow is funded (neither missing nor closed).
    pub(crate) fn require_funded_escrow(&self, action: Action) -> Result<(), DomainError> {
        let from = self.escrow_state_name();
        match self.escrow_status() {
            Some(EscrowStatus::Funded) => Ok(()),
            None => Err(DomainError::refused(
                Entity::Escrow,
                from,
                action,
                "the escrow is not funded",
            )),
            Some(s) => Err(DomainError::refused(
                Entity::Escrow,
                from,
                action,
                format!("the escrow is already {}", s.as_str()),
            )),
        }
    }

    /// The id of the next ledger transfer of this contract; deterministic, so a retried save
    /// of the same transition writes the same ids.
    pub(crate) fn next_transfer_id(&mut self) -> String {
        self.transfer_seq += 1;
        format!("{}:{}", self.id, self.transfer_seq)
    }
}

/// Whether a transition changed the record (and must be saved) or was already in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Changed,
    Unchanged,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::escrow::Payment;
    use crate::domain::money::FeeBps;

    pub fn contract() -> Contract {
        Contract::new(
            ContractId::generate(),
            JobId::generate(),
            UserId::generate(),
            UserId::generate(),
            Money::new(MinorUnits::new(100_000), Currency::Inr),
            Some(Title::parse("Logo").unwrap()),
            1,
        )
        .unwrap()
    }

    pub fn funded() -> Contract {
        let mut c = contract();
        c.approve(2).unwrap();
        let p = Payment::test(&c, "pi_1");
        c.fund(
            &p,
            FeeBps::new(1000).unwrap(),
            &crate::domain::EventId::new("evt_1"),
            3,
        )
        .unwrap();
        c
    }

    #[test]
    fn every_legal_move_is_accepted() {
        let mut c = funded();
        for to in [
            ContractStatus::Started,
            ContractStatus::Ongoing,
            ContractStatus::Completed,
        ] {
            assert_eq!(c.move_to(to, Party::Freelancer, 5), Ok(Outcome::Changed));
        }
        assert_eq!(c.status_history.len(), 4);
        for from in [
            ContractStatus::Pending,
            ContractStatus::Started,
            ContractStatus::Ongoing,
        ] {
            let mut c = funded();
            for step in [ContractStatus::Started, ContractStatus::Ongoing] {
                if c.status == from {
                    break;
                }
                c.move_to(step, Party::Freelancer, 5).unwrap();
            }
            assert_eq!(c.status, from);
            assert_eq!(
                c.move_to(ContractStatus::Canceled, Party::Freelancer, 6),
                Ok(Outcome::Changed)
            );
            assert_eq!(c.canceled_from, Some(from));
        }
    }

    #[test]
    fn every_illegal_move_is_refused_and_changes_nothing() {
        use ContractStatus::*;
        let all = [Pending, Started, Ongoing, Completed, Canceled];
        let legal = [
            (Pending, Started),
            (Started, Ongoing),
            (Ongoing, Completed),
            (Pending, Canceled),
            (Started, Canceled),
            (Ongoing, Canceled),
        ];
        for from in all {
            for to in all {
                if legal.contains(&(from, to)) {
                    continue;
                }
                let mut c = funded();
                c.status = from;
                let before = c.clone();
                assert_eq!(
                    c.move_to(to, Party::Freelancer, 9),
                    Err(DomainError::InvalidTransition {
                        entity: Entity::Contract,
                        from: from.as_str(),
                        action: Action::MoveTo(to),
                        reason: None
                    })
                );
                assert_eq!(c, before);
            }
        }
    }

    #[test]
    fn starting_needs_approval_and_a_funded_escrow() {
        let mut c = contract();
        assert!(matches!(
            c.move_to(ContractStatus::Started, Party::Freelancer, 2),
            Err(DomainError::InvalidTransition { .. })
        ));
        c.approve(2).unwrap();
        assert!(matches!(
            c.move_to(ContractStatus::Started, Party::Freelancer, 2),
            Err(DomainError::InvalidTransition { .. })
        ));
        let mut c = funded();
        c.is_approved = false;
        assert!(matches!(
            c.move_to(ContractStatus::Started, Party::Freelancer, 2),
            Err(DomainError::InvalidTransition { .. })
        ));
    }

    #[test]
    fn release_request_needs_completion_and_funding_and_never_regresses() {
        let mut c = funded();
        assert!(c.request_release(4).is_err());
        c.status = ContractStatus::Completed;
        assert_eq!(c.request_release(4), Ok(Outcome::Changed));
        assert_eq!(c.request_release(5), Ok(Outcome::Unchanged));
        c.release("admin", None, 6).unwrap();
        assert_eq!(c.release_fund_status, ReleaseFundStatus::Approved);
        assert!(c.request_release(6).is_err());
        assert_eq!(c.release_fund_status, ReleaseFundStatus::Approved);
        let mut unfunded = contract();
        unfunded.status = ContractStatus::Completed;
        assert!(unfunded.request_release(4).is_err());
    }

    #[test]
    fn approving_twice_is_a_no_op() {
        let mut c = contract();
        assert_eq!(c.approve(2), Ok(Outcome::Changed));
        assert_eq!(c.approve(3), Ok(Outcome::Unchanged));
    }

    #[test]
    fn a_client_cannot_hire_themselves() {
        let u = UserId::generate();
        assert!(
            Contract::new(
                ContractId::generate(),
                JobId::generate(),
                u.clone(),
                u,
                Money::new(MinorUnits::new(1), Currency::Inr),
                None,
                0
            )
            .is_err()
        );
    }
}
