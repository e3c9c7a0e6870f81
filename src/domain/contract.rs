//! The contract: who, how much, and where the work stands. A contract carries its escrow
//! (see [`super::escrow`]) so that every money transition changes exactly one record, saved
//! with a compare-and-set on its `version`.

use serde::{Deserialize, Serialize};

use super::error::DomainError;
use super::escrow::{Escrow, EscrowStatus, ExtraPayment};
use super::ids::{ContractId, JobId, UserId};
use super::money::Currency;

/// Longest title kept (the product name shown on the checkout page).
pub const TITLE_CHARS_MAX: usize = 200;
/// Longest cancel reason and description.
pub const REASON_CHARS_MAX: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum ContractStatus {
    Pending,
    Started,
    Ongoing,
    Completed,
    Canceled,
}

impl ContractStatus {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum ReleaseFundStatus {
    NotRequested,
    Requested,
    Approved,
}

impl ReleaseFundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseFundStatus::NotRequested => "NotRequested",
            ReleaseFundStatus::Requested => "Requested",
            ReleaseFundStatus::Approved => "Approved",
        }
    }
}

/// Who did something to a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Party {
    Client,
    Freelancer,
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    pub status: ContractStatus,
    /// Unix milliseconds.
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contract {
    pub id: ContractId,
    pub job_id: JobId,
    pub client_id: UserId,
    pub freelancer_id: UserId,
    pub title: Option<String>,
    /// Minor units.
    pub amount: i64,
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
    pub escrow: Option<Escrow>,
    /// Payments that arrived for this contract after it was already funded (or canceled).
    pub extra_payments: Vec<ExtraPayment>,
    /// Number of ledger transfers written for this contract: the next transfer's sequence.
    pub transfer_seq: u32,
    pub created_at: i64,
    pub updated_at: i64,
    /// Bumped by every save; a save names the version it read (compare-and-set).
    pub version: i64,
}

impl Contract {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: ContractId,
        job_id: JobId,
        client_id: UserId,
        freelancer_id: UserId,
        amount: i64,
        currency: Currency,
        title: Option<String>,
        now: i64,
    ) -> Result<Contract, DomainError> {
        if client_id == freelancer_id {
            return Err(DomainError::Validation(
                "a client cannot hire themselves".into(),
            ));
        }
        if amount <= 0 {
            return Err(DomainError::Validation(
                "amount must be greater than zero".into(),
            ));
        }
        Ok(Contract {
            id,
            job_id,
            client_id,
            freelancer_id,
            title,
            amount,
            currency,
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
            escrow: None,
            extra_payments: Vec::new(),
            transfer_seq: 0,
            created_at: now,
            updated_at: now,
            version: 0,
        })
    }

    pub fn escrow_paid(&self) -> bool {
        self.escrow.is_some()
    }

    pub fn escrow_status(&self) -> Option<EscrowStatus> {
        self.escrow.as_ref().map(|e| e.status)
    }

    /// The freelancer accepts the contract. Accepting twice changes nothing.
    pub fn approve(&mut self, now: i64) -> Result<Outcome, DomainError> {
        if self.status == ContractStatus::Canceled {
            return Err(DomainError::State("the contract is canceled".into()));
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
            return Err(DomainError::InvalidTransition { from, to });
        }
        if to == Started {
            if !self.is_approved {
                return Err(DomainError::State(
                    "the contract must be approved before it starts".into(),
                ));
            }
            if self.escrow_status() != Some(EscrowStatus::Funded) {
                return Err(DomainError::State(
                    "the escrow must be funded before the contract starts".into(),
                ));
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

    /// The client asks for the escrow to be released. Asking again changes nothing; a
    /// released escrow never goes back to requested.
    pub fn request_release(&mut self, now: i64) -> Result<Outcome, DomainError> {
        if self.status != ContractStatus::Completed {
            return Err(DomainError::State(
                "release can be requested only after the work is completed".into(),
            ));
        }
        match self.escrow_status() {
            Some(EscrowStatus::Funded) => {}
            None => return Err(DomainError::State("the escrow is not funded".into())),
            Some(s) => {
                return Err(DomainError::State(format!(
                    "the escrow is already {}",
                    s.as_str()
                )));
            }
        }
        match self.release_fund_status {
            ReleaseFundStatus::Requested => Ok(Outcome::Unchanged),
            ReleaseFundStatus::Approved => {
                Err(DomainError::State("the funds were already released".into()))
            }
            ReleaseFundStatus::NotRequested => {
                self.release_fund_status = ReleaseFundStatus::Requested;
                self.updated_at = now;
                Ok(Outcome::Changed)
            }
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
            100_000,
            Currency::Inr,
            Some("Logo".into()),
            1,
        )
        .unwrap()
    }

    pub fn funded() -> Contract {
        let mut c = contract();
        c.approve(2).unwrap();
        let p = Payment::test(&c, "pi_1");
        c.fund(&p, FeeBps::new(1000).unwrap(), "evt_1", 3).unwrap();
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
                    Err(DomainError::InvalidTransition { from, to })
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
            Err(DomainError::State(_))
        ));
        c.approve(2).unwrap();
        assert!(matches!(
            c.move_to(ContractStatus::Started, Party::Freelancer, 2),
            Err(DomainError::State(_))
        ));
        let mut c = funded();
        c.is_approved = false;
        assert!(matches!(
            c.move_to(ContractStatus::Started, Party::Freelancer, 2),
            Err(DomainError::State(_))
        ));
    }

    #[test]
    fn release_request_needs_completion_and_funding_and_never_regresses() {
        let mut c = funded();
        assert!(c.request_release(4).is_err());
        c.status = ContractStatus::Completed;
        assert_eq!(c.request_release(4), Ok(Outcome::Changed));
        assert_eq!(c.request_release(5), Ok(Outcome::Unchanged));
        c.release_fund_status = ReleaseFundStatus::Approved;
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
                1,
                Currency::Inr,
                None,
                0
            )
            .is_err()
        );
    }
}
