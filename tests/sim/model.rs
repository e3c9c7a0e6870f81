//! The simulator's own expectation of the world, written from DESIGN §6–§7 independently of
//! the library: what each contract and escrow should look like, what each use case should
//! answer, and what every ledger account should hold. After every step the store is read back
//! and compared with it.
//!
//! The state of a contract is kept as an [`MState`], a projection of the stored record onto
//! what the rules decide (status, approval, release request, escrow, split, duplicate
//! payments, review) — not timestamps, titles or history.

use std::collections::{BTreeMap, VecDeque};

use escrow::domain::{
    Account, Contract, ContractId, ContractStatus, Currency, EscrowStatus, JobId, Party, PayoutId,
    PayoutStatus, ReleaseFundStatus, UserId,
};
use escrow::service::ErrorKind;

use crate::fakes::Fault;

/// What a use case should answer: `Ok` with whether it changed the record, or the error kind.
pub type Want = Result<Change, ErrorKind>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Yes,
    No,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MRefund {
    pub client_share: i64,
    pub freelancer_share: i64,
    pub platform_fee: i64,
    pub explicit: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MEscrow {
    pub status: EscrowStatus,
    pub payment_ref: String,
    /// Whether the escrow knows its payment's checkout session (a `payment_intent.succeeded`
    /// that funds names none; the session's own event teaches it later).
    pub session_known: bool,
    pub amount: i64,
    pub fee: i64,
    pub earning: i64,
    pub refund: Option<MRefund>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MExtra {
    pub payment_ref: String,
    pub amount: i64,
    /// The provider's refund is recorded.
    pub refunded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MState {
    pub status: ContractStatus,
    pub approved: bool,
    pub release: ReleaseFundStatus,
    pub canceled_by: Option<Party>,
    pub canceled_from: Option<ContractStatus>,
    pub escrow: Option<MEscrow>,
    pub extras: Vec<MExtra>,
    pub reviewed: bool,
}

/// One contract the simulation created.
#[derive(Debug, Clone)]
pub struct Slot {
    pub id: ContractId,
    pub job: usize,
    pub client: usize,
    pub freelancer: usize,
    pub amount: i64,
    pub st: MState,
    /// A checkout session was handed to the client, so a payer may pay.
    pub checkout_open: bool,
    /// The contract's auto-release timer: when it is due, whether it ran, and until when a
    /// claim holds it (a server that died holding it; 0 otherwise).
    pub auto_release: Option<(i64, bool, i64)>,
    /// The timer a client's release request stores first (when the request is enough).
    pub requested_release: Option<(i64, bool, i64)>,
}

/// A payout the simulation asked for (money out of a freelancer's wallet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MPayout {
    /// Learned from the store after the call that made it.
    pub id: Option<PayoutId>,
    pub freelancer: usize,
    pub amount: i64,
    pub status: PayoutStatus,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub fee_bps: i64,
    pub currency: Currency,
    pub jobs: Vec<JobId>,
    pub slots: Vec<Slot>,
    /// Whether each freelancer's connected account takes payouts.
    pub onboarded: Vec<bool>,
    pub payouts: Vec<MPayout>,
}

/// What sending the owed refunds to the provider should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settle {
    /// The kind of the first failed call.
    pub error: Option<ErrorKind>,
    pub crash: bool,
}

/// What a payment event should do to its contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Funding {
    AlreadyApplied,
    /// Already the escrow's payment, and this event named its session, not known before: the
    /// record learns it; no money moves.
    Learned,
    AmountMismatch,
    Funded,
    /// A second payment (or one for a canceled contract): owed back in full.
    Duplicate,
}

/// `round_half_up(amount × numerator / denominator)` for non-negative inputs.
pub fn half_up(amount: i64, numerator: i64, denominator: i64) -> i64 {
    ((amount as i128 * numerator as i128 + denominator as i128 / 2) / denominator as i128) as i64
}

fn conflict<T>() -> Result<T, ErrorKind> {
    Err(ErrorKind::Conflict)
}

impl MState {
    pub fn new() -> MState {
        MState {
            status: ContractStatus::Pending,
            approved: false,
            release: ReleaseFundStatus::NotRequested,
            canceled_by: None,
            canceled_from: None,
            escrow: None,
            extras: vec![],
            reviewed: false,
        }
    }

    /// The stored record, seen through the model's eyes.
    pub fn project(c: &Contract, reviewed: bool) -> MState {
        MState {
            status: c.status,
            approved: c.is_approved,
            release: c.release_fund_status,
            canceled_by: c.canceled_by,
            canceled_from: c.canceled_from,
            escrow: c.escrow.as_ref().map(|e| MEscrow {
                status: e.status,
                payment_ref: e.payment_ref.to_string(),
                session_known: e.checkout_session_id.is_some(),
                amount: e.amount.get(),
                fee: e.platform_fee.get(),
                earning: e.freelancer_earning.get(),
                refund: e.refund.as_ref().map(|r| MRefund {
                    client_share: r.client_share.get(),
                    freelancer_share: r.freelancer_share.get(),
                    platform_fee: r.platform_fee.get(),
                    explicit: r.explicit,
                }),
            }),
            extras: c
                .extra_payments
                .iter()
                .map(|x| MExtra {
                    payment_ref: x.payment_ref.to_string(),
                    amount: x.amount.get(),
                    refunded: x.provider_refund_id.is_some(),
                })
                .collect(),
            reviewed,
        }
    }

    /// The same state with the provider's side erased: a refund decided is a refund, whether
    /// or not the provider's answer is recorded yet. Used where a crash or a fault makes the
    /// moment of settlement unknowable; settlement is then checked against the provider.
    pub fn masked(&self) -> MState {
        let mut m = self.clone();
        if let Some(e) = m.escrow.as_mut()
            && e.status == EscrowStatus::RefundPending
        {
            e.status = EscrowStatus::Refunded;
        }
        for x in &mut m.extras {
            x.refunded = true;
        }
        m
    }

    /// Whether `later` undid nothing the provider had confirmed in `self`.
    pub fn settlement_kept_in(&self, later: &MState) -> bool {
        let escrow_kept = match (&self.escrow, &later.escrow) {
            (Some(a), Some(b)) => a.status != EscrowStatus::Refunded || b.status == a.status,
            (Some(_), None) => false,
            (None, _) => true,
        };
        escrow_kept
            && self.extras.len() <= later.extras.len()
            && self
                .extras
                .iter()
                .zip(&later.extras)
                .all(|(a, b)| a.payment_ref == b.payment_ref && (!a.refunded || b.refunded))
    }

    pub fn has_provider_work(&self) -> bool {
        self.escrow
            .as_ref()
            .is_some_and(|e| e.status == EscrowStatus::RefundPending)
            || self.extras.iter().any(|x| !x.refunded)
    }

    fn escrow_status(&self) -> Option<EscrowStatus> {
        self.escrow.as_ref().map(|e| e.status)
    }

    pub fn approve(&mut self) -> Want {
        if self.status == ContractStatus::Canceled {
            return conflict();
        }
        if self.approved {
            return Ok(Change::No);
        }
        self.approved = true;
        Ok(Change::Yes)
    }

    pub fn move_to(&mut self, to: ContractStatus) -> Want {
        use ContractStatus::*;
        let from = self.status;
        let forward = matches!(
            (from, to),
            (Pending, Started) | (Started, Ongoing) | (Ongoing, Completed)
        );
        let cancel = to == Canceled && matches!(from, Pending | Started | Ongoing);
        if !forward && !cancel {
            return conflict();
        }
        if to == Started && (!self.approved || self.escrow_status() != Some(EscrowStatus::Funded)) {
            return conflict();
        }
        if cancel {
            self.canceled_by = Some(Party::Freelancer);
            self.canceled_from = Some(from);
        }
        self.status = to;
        Ok(Change::Yes)
    }

    pub fn request_release(&mut self) -> Want {
        if self.status != ContractStatus::Completed
            || self.escrow_status() != Some(EscrowStatus::Funded)
        {
            return conflict();
        }
        match self.release {
            ReleaseFundStatus::Requested => Ok(Change::No),
            ReleaseFundStatus::Approved => conflict(),
            ReleaseFundStatus::NotRequested => {
                self.release = ReleaseFundStatus::Requested;
                Ok(Change::Yes)
            }
        }
    }

    pub fn release(&mut self, forced: bool) -> Want {
        if self.escrow_status() != Some(EscrowStatus::Funded) {
            return conflict();
        }
        if !forced && self.release != ReleaseFundStatus::Requested {
            return conflict();
        }
        self.escrow.as_mut().expect("funded").status = EscrowStatus::Released;
        self.release = ReleaseFundStatus::Approved;
        Ok(Change::Yes)
    }

    /// The refund decision (DESIGN §7): fee retained; kill fee 0 / 15 / 40 % of the earning by
    /// the status the work reached (none for a freelancer who walked away); or an admin's
    /// explicit freelancer share within `0..=earning`.
    pub fn decide_refund(&mut self, by: Party, share: Option<i64>) -> Want {
        if self.escrow_status() != Some(EscrowStatus::Funded) {
            return conflict();
        }
        if self.status == ContractStatus::Completed {
            return conflict();
        }
        let e = self.escrow.as_ref().expect("funded");
        let (fee, earning) = (e.fee, e.earning);
        let freelancer_share = match share {
            Some(s) if (0..=earning).contains(&s) => s,
            Some(_) => return Err(ErrorKind::Validation),
            None => {
                let reached = if self.status == ContractStatus::Canceled {
                    self.canceled_from.unwrap_or(ContractStatus::Pending)
                } else {
                    self.status
                };
                let percent = match (self.canceled_by, reached) {
                    (Some(Party::Freelancer), _) => 0,
                    (_, ContractStatus::Started) => 15,
                    (_, ContractStatus::Ongoing) => 40,
                    (_, _) => 0,
                };
                half_up(earning, percent, 100)
            }
        };
        if self.status != ContractStatus::Canceled {
            self.canceled_from = Some(self.status);
            self.canceled_by = Some(by);
            self.status = ContractStatus::Canceled;
        }
        // As the original left a refunded contract (its UI hides "Cancel" then).
        self.release = ReleaseFundStatus::Approved;
        let client_share = earning - freelancer_share;
        let e = self.escrow.as_mut().expect("funded");
        e.status = if client_share == 0 {
            EscrowStatus::Refunded
        } else {
            EscrowStatus::RefundPending
        };
        e.refund = Some(MRefund {
            client_share,
            freelancer_share,
            platform_fee: fee,
            explicit: share.is_some(),
        });
        Ok(Change::Yes)
    }

    /// A payment for this contract arrives (DESIGN §6): known payment → nothing; wrong amount →
    /// refused; already funded or canceled → kept aside and owed back; else the escrow is
    /// funded with the fee split.
    pub fn fund(
        &mut self,
        payment_ref: &str,
        amount: i64,
        contract_amount: i64,
        fee_bps: i64,
        names_session: bool,
    ) -> Funding {
        if let Some(e) = self.escrow.as_mut()
            && e.payment_ref == payment_ref
        {
            if names_session && !e.session_known {
                e.session_known = true;
                return Funding::Learned;
            }
            return Funding::AlreadyApplied;
        }
        if self.extras.iter().any(|x| x.payment_ref == payment_ref) {
            return Funding::AlreadyApplied;
        }
        if amount != contract_amount {
            return Funding::AmountMismatch;
        }
        if self.escrow.is_some() || self.status == ContractStatus::Canceled {
            self.extras.push(MExtra {
                payment_ref: payment_ref.to_string(),
                amount,
                refunded: false,
            });
            return Funding::Duplicate;
        }
        let fee = half_up(amount, fee_bps, 10_000);
        self.escrow = Some(MEscrow {
            status: EscrowStatus::Funded,
            payment_ref: payment_ref.to_string(),
            session_known: names_session,
            amount,
            fee,
            earning: amount - fee,
            refund: None,
        });
        Funding::Funded
    }

    /// Sends what is owed to the provider in the service's order (the escrow's refund, then
    /// each duplicate payment), each call taking the contract's next armed fault.
    pub fn settle(&mut self, faults: &mut VecDeque<Fault>, outage: bool) -> Settle {
        let mut out = Settle {
            error: None,
            crash: false,
        };
        let mut calls: Vec<Option<usize>> = vec![];
        if self.escrow_status() == Some(EscrowStatus::RefundPending) {
            calls.push(None);
        }
        calls.extend(
            (0..self.extras.len())
                .filter(|i| !self.extras[*i].refunded)
                .map(Some),
        );
        for call in calls {
            let failed = if outage {
                Some(ErrorKind::PaymentUnavailable)
            } else {
                match faults.pop_front() {
                    None => None,
                    Some(Fault::Timeout | Fault::LostAnswer) => Some(ErrorKind::PaymentUnavailable),
                    Some(Fault::Reject) => Some(ErrorKind::PaymentFailed),
                    Some(Fault::CrashBeforeCall | Fault::CrashAfterCall) => {
                        out.crash = true;
                        return out;
                    }
                }
            };
            match failed {
                Some(kind) => {
                    out.error.get_or_insert(kind);
                }
                None => match call {
                    None => self.escrow.as_mut().expect("pending").status = EscrowStatus::Refunded,
                    Some(i) => self.extras[i].refunded = true,
                },
            }
        }
        out
    }
}

impl Model {
    pub fn slot_of_contract(&self, contract_ref: &str) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.id.as_str() == contract_ref)
    }

    /// The job's contract that is not canceled.
    pub fn live_slot_for_job(&self, job: usize) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.job == job && s.st.status != ContractStatus::Canceled)
    }

    /// The slot whose escrow or duplicate payments came from this payment.
    pub fn slot_of_payment(&self, payment_ref: &str) -> Option<usize> {
        self.slots.iter().position(|s| {
            s.st.escrow
                .as_ref()
                .is_some_and(|e| e.payment_ref == payment_ref)
                || s.st.extras.iter().any(|x| x.payment_ref == payment_ref)
        })
    }

    /// What a freelancer's wallet holds: what releases and refunds gave it, less every payout
    /// that took money out of it (debited and not given back).
    pub fn wallet(&self, freelancer: usize) -> i64 {
        let mut held = 0;
        for s in self.slots.iter().filter(|s| s.freelancer == freelancer) {
            if let Some(e) = &s.st.escrow {
                match (e.status, &e.refund) {
                    (EscrowStatus::Released, _) => held += e.earning,
                    (EscrowStatus::RefundPending | EscrowStatus::Refunded, Some(r)) => {
                        held += r.freelancer_share
                    }
                    _ => {}
                }
            }
        }
        held - self
            .payouts
            .iter()
            .filter(|p| p.freelancer == freelancer && p.status != PayoutStatus::Failed)
            .map(|p| p.amount)
            .sum::<i64>()
    }

    /// What every ledger account should hold, from the contracts' and payouts' states alone
    /// (zero balances left out).
    pub fn expected_balances(&self, freelancers: &[UserId]) -> BTreeMap<Account, i128> {
        let mut b: BTreeMap<Account, i128> = BTreeMap::new();
        let mut add = |a: Account, v: i64| *b.entry(a).or_insert(0) += v as i128;
        for s in &self.slots {
            let escrow = Account::Escrow(s.id.clone());
            let refund = Account::Refund(s.id.clone());
            let wallet = Account::Wallet(freelancers[s.freelancer].clone());
            if let Some(e) = &s.st.escrow {
                add(Account::ExternalStripe, -e.amount);
                match (e.status, &e.refund) {
                    (EscrowStatus::Funded, _) => add(escrow, e.amount),
                    (EscrowStatus::Released, _) => {
                        add(wallet, e.earning);
                        add(Account::PlatformFees, e.fee);
                    }
                    (EscrowStatus::RefundPending | EscrowStatus::Refunded, Some(r)) => {
                        add(Account::PlatformFees, r.platform_fee);
                        add(wallet, r.freelancer_share);
                        if e.status == EscrowStatus::RefundPending {
                            add(refund.clone(), r.client_share);
                        } else {
                            add(Account::ExternalStripe, r.client_share);
                        }
                    }
                    (EscrowStatus::RefundPending | EscrowStatus::Refunded, None) => {
                        // Impossible by the model's own transitions; make it visible.
                        add(escrow, i64::MIN / 4);
                    }
                }
            }
            for x in &s.st.extras {
                add(Account::ExternalStripe, -x.amount);
                if x.refunded {
                    add(Account::ExternalStripe, x.amount);
                } else {
                    add(refund.clone(), x.amount);
                }
            }
        }
        for p in &self.payouts {
            let wallet = Account::Wallet(freelancers[p.freelancer].clone());
            let Some(id) = &p.id else {
                // A payout whose id the check has not learned yet: make it visible.
                add(wallet, i64::MIN / 4);
                continue;
            };
            match p.status {
                PayoutStatus::Pending => {
                    add(wallet, -p.amount);
                    add(Account::Payout(id.clone()), p.amount);
                }
                PayoutStatus::Paid => {
                    add(wallet, -p.amount);
                    add(Account::ExternalStripe, p.amount);
                }
                PayoutStatus::Failed => {}
                PayoutStatus::Requested | PayoutStatus::Reversed => {
                    // Never reached in the simulation (SQLite debits in one write; no reversals).
                    add(wallet, i64::MIN / 4);
                }
            }
        }
        b.retain(|_, v| *v != 0);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn funded(amount: i64, fee_bps: i64) -> MState {
        let mut s = MState::new();
        s.approve().unwrap();
        assert_eq!(
            s.fund("pi_1", amount, amount, fee_bps, true),
            Funding::Funded
        );
        s
    }

    #[test]
    fn the_model_splits_a_refund_as_design_section_7_says() {
        for (steps, freelancer) in [(0, 0), (1, 13_500), (2, 36_000)] {
            let mut s = funded(100_000, 1_000);
            for to in [ContractStatus::Started, ContractStatus::Ongoing]
                .iter()
                .take(steps)
            {
                s.move_to(*to).unwrap();
            }
            s.decide_refund(Party::Client, None).unwrap();
            let r = s.escrow.unwrap().refund.unwrap();
            assert_eq!(
                (r.freelancer_share, r.client_share, r.platform_fee),
                (freelancer, 90_000 - freelancer, 10_000)
            );
        }
    }

    #[test]
    fn the_model_refunds_a_walked_away_freelancer_nothing() {
        let mut s = funded(100_000, 1_000);
        s.move_to(ContractStatus::Started).unwrap();
        s.move_to(ContractStatus::Canceled).unwrap();
        s.decide_refund(Party::Admin, None).unwrap();
        assert_eq!(s.escrow.unwrap().refund.unwrap().freelancer_share, 0);
    }

    #[test]
    fn a_fault_queue_is_consumed_in_the_services_call_order() {
        let mut s = funded(1_000, 0);
        s.decide_refund(Party::Admin, None).unwrap();
        s.extras.push(MExtra {
            payment_ref: "pi_2".into(),
            amount: 1_000,
            refunded: false,
        });
        let mut faults = VecDeque::from([Fault::Timeout]);
        let out = s.settle(&mut faults, false);
        assert_eq!(out.error, Some(ErrorKind::PaymentUnavailable));
        assert_eq!(
            s.escrow.as_ref().unwrap().status,
            EscrowStatus::RefundPending
        );
        assert!(s.extras[0].refunded);
    }
}
