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

use crate::fakes::{Fault, PStatus};

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
    /// The provider took it and said `pending` (its `refund.updated` says how it ends).
    pub in_flight: bool,
    /// How many times an operator sent it again after it failed.
    pub retries: u32,
}

/// One refund call the service makes: a milestone's or a duplicate payment's (by its
/// payment), with its retry count (which names its idempotency key).
#[derive(Debug, Clone, Copy)]
pub enum Call<'a> {
    Part(usize, u32),
    Extra(&'a str, u32),
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
    /// What refunds made outside the escrow took out of it.
    pub outside: i64,
    /// What lost chargebacks took out of it.
    pub charged_back: i64,
    pub refund: Option<MRefund>,
}

impl MEscrow {
    /// What it still holds of its amount.
    pub fn held(&self) -> i64 {
        self.amount - self.outside - self.charged_back
    }

    /// What it holds split as a refund splits it: held, the fee kept of it, the earning.
    pub fn held_split(&self) -> (i64, i64, i64) {
        let held = self.held();
        let fee = self.fee.min(held);
        (held, fee, held - fee)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MExtra {
    pub payment_ref: String,
    pub amount: i64,
    /// The provider's refund is recorded as succeeded (its money left).
    pub refunded: bool,
    /// A refund the provider took and has not said succeeded: pending, or failed.
    pub taken: Option<PStatus>,
    pub retries: u32,
}

impl MExtra {
    /// Whether its refund is still to be asked of the provider.
    pub fn owes_call(&self) -> bool {
        !self.refunded && self.taken.is_none()
    }
}

/// One milestone: its amount, whether it was delivered and its release asked for, its escrow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MPart {
    pub amount: i64,
    pub submitted: bool,
    pub requested: bool,
    pub escrow: Option<MEscrow>,
}

impl MPart {
    pub fn held(&self) -> bool {
        self.escrow.as_ref().map(|e| e.status) == Some(EscrowStatus::Funded)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MState {
    pub status: ContractStatus,
    pub approved: bool,
    pub release: ReleaseFundStatus,
    pub canceled_by: Option<Party>,
    pub canceled_from: Option<ContractStatus>,
    /// The contract's milestones (one of the whole amount unless made with several).
    pub parts: Vec<MPart>,
    /// The whole contract's escrow as one, derived from `parts` ([`MState::sync`]) as the
    /// record's views add its milestones up.
    pub escrow: Option<MEscrow>,
    pub extras: Vec<MExtra>,
    pub reviewed: bool,
    /// Its disputes, oldest first: a client's, or the refunds of a payment made outside the
    /// escrow.
    pub disputes: Vec<MDispute>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DKind {
    Client,
    Outside,
    Chargeback,
}

/// A dispute: open (freezing `parts`) or not; an outside refund's payment and what it
/// reported refunded; a chargeback's provider id, status and funds, and whether the bank
/// decided it; the platform's loss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MDispute {
    pub kind: DKind,
    pub open: bool,
    pub parts: Vec<usize>,
    pub payment_ref: Option<String>,
    pub refunded: i64,
    pub loss: i64,
    pub chargeback: Option<MChargeback>,
}

impl MDispute {
    pub fn awaits_admin(&self) -> bool {
        self.open && self.chargeback.as_ref().is_none_or(|c| c.closed)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MChargeback {
    pub id: String,
    pub status: String,
    pub withdrawn: bool,
    pub reinstated: bool,
    pub closed: bool,
    /// What of the platform's loss the freelancer's wallet made good.
    pub recovered: i64,
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
    /// Each milestone's auto-release timer: when it is due, whether it ran, and until when a
    /// claim holds it (a server that died holding it; 0 otherwise).
    pub auto_release: Vec<Option<(i64, bool, i64)>>,
    /// Each milestone's timer that a client's release request stores first (when the request
    /// is enough).
    pub requested_release: Vec<Option<(i64, bool, i64)>>,
}

/// A payout the simulation asked for (money out of a freelancer's wallet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MPayout {
    /// Learned from the store after the call that made it.
    pub id: Option<PayoutId>,
    pub freelancer: usize,
    pub amount: i64,
    pub status: PayoutStatus,
    /// A chargeback's recovery from the wallet (its provider dispute id), not a withdrawal.
    pub recovery: Option<String>,
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
    /// `ESCROW_CHARGEBACK_RECOVERY=wallet`: a lost chargeback's platform loss is recovered
    /// from the freelancer's wallet first.
    pub wallet_recovery: bool,
    /// Each chargeback's recovery timer by its provider dispute id: due when, done, and
    /// until when a claim holds it.
    pub recovery_timers: BTreeMap<String, (i64, bool, i64)>,
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

/// The stored escrow seen through the model's eyes; `whole`: the contract's milestones added
/// up, where the provider's side of one refund means nothing.
fn m_escrow(e: &escrow::domain::Escrow, whole: bool) -> MEscrow {
    MEscrow {
        status: e.status,
        payment_ref: e.payment_ref.to_string(),
        session_known: e.checkout_session_id.is_some(),
        amount: e.amount.get(),
        fee: e.platform_fee.get(),
        earning: e.freelancer_earning.get(),
        outside: e.refunded_outside.get(),
        charged_back: e.charged_back.get(),
        refund: e.refund.as_ref().map(|r| MRefund {
            client_share: r.client_share.get(),
            freelancer_share: r.freelancer_share.get(),
            platform_fee: r.platform_fee.get(),
            explicit: r.explicit,
            in_flight: !whole
                && e.status == EscrowStatus::RefundPending
                && r.provider_refund_id.is_some(),
            retries: if whole { 0 } else { r.retries },
        }),
    }
}

/// Whether `actual` is, milestone by milestone, one of `options` (provider side erased): what
/// a step that moves each milestone in its own write may leave when it is cut off.
pub fn parts_mixed(actual: &MState, options: &[&MState]) -> bool {
    let m = actual.masked();
    let opts: Vec<MState> = options.iter().map(|o| o.masked()).collect();
    let each = (0..m.parts.len()).all(|k| opts.iter().any(|o| o.parts.get(k) == Some(&m.parts[k])));
    each && opts.iter().any(|o| {
        let mut c = o.clone();
        c.parts = m.parts.clone();
        c.sync();
        c == m
    })
}

/// A contract's amount in `parts` milestones as the simulator's client splits it: equal
/// shares, the rest on the last; one milestone when the amount is too small to split.
pub fn split_amount(amount: i64, parts: usize) -> Vec<i64> {
    let n = parts.max(1) as i64;
    if amount < n || n == 1 {
        return vec![amount];
    }
    let share = amount / n;
    let mut out = vec![share; parts - 1];
    out.push(amount - share * (n - 1));
    out
}

/// `round_half_up(amount × numerator / denominator)` for non-negative inputs.
pub fn half_up(amount: i64, numerator: i64, denominator: i64) -> i64 {
    ((amount as i128 * numerator as i128 + denominator as i128 / 2) / denominator as i128) as i64
}

fn conflict<T>() -> Result<T, ErrorKind> {
    Err(ErrorKind::Conflict)
}

impl MState {
    /// A new contract of milestones of these amounts.
    pub fn new(parts: &[i64]) -> MState {
        MState {
            status: ContractStatus::Pending,
            approved: false,
            release: ReleaseFundStatus::NotRequested,
            canceled_by: None,
            canceled_from: None,
            parts: parts
                .iter()
                .map(|a| MPart {
                    amount: *a,
                    submitted: false,
                    requested: false,
                    escrow: None,
                })
                .collect(),
            escrow: None,
            extras: vec![],
            reviewed: false,
            disputes: vec![],
        }
    }

    /// Derives the whole escrow and the release fund status from the milestones (DESIGN and
    /// issue 17: `funded` while any holds money, then `refund_pending`, `released`,
    /// `refunded`; amounts added up; `Requested` while a held one's release is asked for,
    /// `Approved` once none is held and each is settled or the contract canceled).
    pub fn sync(&mut self) {
        let funded: Vec<&MEscrow> = self
            .parts
            .iter()
            .filter_map(|p| p.escrow.as_ref())
            .collect();
        self.escrow = funded.first().map(|first| {
            let status = [
                EscrowStatus::Funded,
                EscrowStatus::RefundFailed,
                EscrowStatus::RefundPending,
                EscrowStatus::Released,
                EscrowStatus::Refunded,
                EscrowStatus::ChargedBack,
            ]
            .into_iter()
            .find(|s| funded.iter().any(|e| e.status == *s))
            .expect("one is funded");
            let refunds: Vec<&MRefund> = funded.iter().filter_map(|e| e.refund.as_ref()).collect();
            MEscrow {
                status,
                payment_ref: first.payment_ref.clone(),
                session_known: first.session_known,
                amount: funded.iter().map(|e| e.amount).sum(),
                fee: funded.iter().map(|e| e.fee).sum(),
                earning: funded.iter().map(|e| e.earning).sum(),
                outside: funded.iter().map(|e| e.outside).sum(),
                charged_back: funded.iter().map(|e| e.charged_back).sum(),
                refund: refunds.first().map(|r| MRefund {
                    client_share: refunds.iter().map(|r| r.client_share).sum(),
                    freelancer_share: refunds.iter().map(|r| r.freelancer_share).sum(),
                    platform_fee: refunds.iter().map(|r| r.platform_fee).sum(),
                    explicit: r.explicit,
                    in_flight: false,
                    retries: 0,
                }),
            }
        });
        let requested = self.parts.iter().any(|p| p.held() && p.requested);
        let canceled = self.status == ContractStatus::Canceled;
        let settled = self.parts.iter().all(|p| match &p.escrow {
            Some(e) => e.status != EscrowStatus::Funded,
            None => canceled,
        });
        let decided = self.parts.iter().any(|p| p.escrow.is_some() && !p.held());
        self.release = if requested {
            ReleaseFundStatus::Requested
        } else if settled && decided {
            ReleaseFundStatus::Approved
        } else {
            ReleaseFundStatus::NotRequested
        };
    }

    fn any_held(&self) -> bool {
        self.parts.iter().any(MPart::held)
    }

    /// The milestones payment `payment_ref` funded.
    fn paid_by(&self, payment_ref: &str) -> Vec<usize> {
        (0..self.parts.len())
            .filter(|i| {
                self.parts[*i]
                    .escrow
                    .as_ref()
                    .is_some_and(|e| e.payment_ref == payment_ref)
            })
            .collect()
    }

    /// Whether an open dispute freezes milestone `i`.
    pub fn is_frozen(&self, i: usize) -> bool {
        self.disputes.iter().any(|d| d.open && d.parts.contains(&i))
    }

    /// Whether an open dispute freezes any milestone that holds money.
    fn any_held_frozen(&self) -> bool {
        (0..self.parts.len()).any(|i| self.parts[i].held() && self.is_frozen(i))
    }

    /// Whether a client's dispute is open.
    pub fn client_dispute_open(&self) -> bool {
        self.disputes
            .iter()
            .any(|d| d.open && d.kind == DKind::Client)
    }

    /// The dispute an admin's split settles now: the oldest open one that does not wait for
    /// the bank (a chargeback it has not decided).
    pub fn awaiting_admin(&self) -> Option<&MDispute> {
        self.disputes.iter().find(|d| d.awaits_admin())
    }

    /// How many client disputes were opened.
    pub fn client_disputes(&self) -> usize {
        self.disputes
            .iter()
            .filter(|d| d.kind == DKind::Client)
            .count()
    }

    /// The contract's client disputes it: every held milestone is frozen; one client dispute
    /// open at a time.
    pub fn open_dispute(&mut self) -> Want {
        if self.client_dispute_open() {
            return conflict();
        }
        let held: Vec<usize> = (0..self.parts.len())
            .filter(|i| self.parts[*i].held())
            .collect();
        if held.is_empty() {
            return conflict();
        }
        self.disputes.push(MDispute {
            kind: DKind::Client,
            open: true,
            parts: held,
            payment_ref: None,
            refunded: 0,
            loss: 0,
            chargeback: None,
        });
        Ok(Change::Yes)
    }

    /// The freelancer answers the open dispute.
    pub fn respond_to_dispute(&self) -> Want {
        if !self.client_dispute_open() {
            return conflict();
        }
        Ok(Change::Yes)
    }

    /// An admin's split of the oldest open dispute's milestones (a client's, or what a refund
    /// made outside left): the shares and the fee kept out of what they hold must add up to
    /// it; the freelancer's share is spread over them in order, each up to its earning; work
    /// not completed is canceled by it. Refused while another open dispute freezes them.
    pub fn resolve_dispute(&mut self, client: i64, freelancer: i64) -> Want {
        let Some(index) = self.disputes.iter().position(MDispute::awaits_admin) else {
            return conflict();
        };
        let targets: Vec<usize> = self.disputes[index]
            .parts
            .iter()
            .copied()
            .filter(|i| self.parts[*i].held())
            .collect();
        let others = self
            .disputes
            .iter()
            .enumerate()
            .any(|(j, d)| j != index && d.open && d.parts.iter().any(|p| targets.contains(p)));
        if others {
            return conflict();
        }
        let (amount, fee): (i64, i64) = targets.iter().fold((0, 0), |(a, f), i| {
            let (held, kept, _) = self.parts[*i].escrow.as_ref().expect("held").held_split();
            (a + held, f + kept)
        });
        if client < 0 || freelancer < 0 || client + freelancer + fee != amount {
            return Err(ErrorKind::Validation);
        }
        if !matches!(
            self.status,
            ContractStatus::Completed | ContractStatus::Canceled
        ) {
            self.canceled_from = Some(self.status);
            self.canceled_by = Some(Party::Admin);
            self.status = ContractStatus::Canceled;
        }
        let mut left = freelancer;
        for i in targets {
            let e = self.parts[i].escrow.as_mut().expect("held");
            let (_, kept, earning) = e.held_split();
            let freelancer_share = left.min(earning);
            left -= freelancer_share;
            let client_share = earning - freelancer_share;
            e.status = if client_share == 0 {
                EscrowStatus::Refunded
            } else {
                EscrowStatus::RefundPending
            };
            e.refund = Some(MRefund {
                client_share,
                freelancer_share,
                platform_fee: kept,
                explicit: true,
                in_flight: false,
                retries: 0,
            });
        }
        self.disputes[index].open = false;
        self.sync();
        Ok(Change::Yes)
    }

    /// Stripe reports payment `payment_ref` refunded by `refunded` in all (issue 16, point 4):
    /// what the escrow did not refund itself and no earlier report took is taken out of the
    /// held milestones it paid (emptied ones close as refunded), the rest is a platform loss,
    /// and what they still hold is frozen for an admin. `None`: not an escrow's payment;
    /// `Some(false)`: nothing new.
    pub fn apply_outside_refund(&mut self, payment_ref: &str, refunded: i64) -> Option<bool> {
        let paid = self.paid_by(payment_ref);
        if paid.is_empty() {
            return None;
        }
        let own: i64 = paid
            .iter()
            .filter_map(|i| self.parts[*i].escrow.as_ref())
            // A failed refund is counted too: a report made before it failed still holds it.
            .filter(|e| {
                matches!(
                    e.status,
                    EscrowStatus::RefundPending
                        | EscrowStatus::Refunded
                        | EscrowStatus::RefundFailed
                )
            })
            .filter_map(|e| e.refund.as_ref())
            .map(|r| r.client_share)
            .sum();
        let index = self
            .disputes
            .iter()
            .position(|d| d.payment_ref.as_deref() == Some(payment_ref));
        let recorded = index.map_or(0, |i| self.disputes[i].refunded);
        let new = refunded - own - recorded;
        if new <= 0 {
            return Some(false);
        }
        let mut left = new;
        for i in &paid {
            let e = self.parts[*i].escrow.as_mut().expect("paid");
            if e.status != EscrowStatus::Funded {
                continue;
            }
            let x = left.min(e.held());
            if x == 0 {
                continue;
            }
            e.outside += x;
            if e.held() == 0 {
                e.status = EscrowStatus::Refunded;
            }
            left -= x;
        }
        let still: Vec<usize> = paid
            .iter()
            .copied()
            .filter(|i| self.parts[*i].held())
            .collect();
        let i = match index {
            Some(i) => i,
            None => {
                self.disputes.push(MDispute {
                    kind: DKind::Outside,
                    open: true,
                    parts: vec![],
                    payment_ref: Some(payment_ref.to_string()),
                    refunded: 0,
                    loss: 0,
                    chargeback: None,
                });
                self.disputes.len() - 1
            }
        };
        let d = &mut self.disputes[i];
        d.refunded += new;
        d.loss += left;
        for p in &still {
            if !d.parts.contains(p) {
                d.parts.push(*p);
            }
        }
        d.open = !still.is_empty();
        self.sync();
        Some(true)
    }

    /// One `charge.dispute.*` event for payment `payment_ref` (issue 16, point 2): the first
    /// event of a chargeback records it and freezes the milestones that payment paid and that
    /// still hold money; funds withdrawn or reinstated are noted once; closed `won` unfreezes,
    /// `lost` takes the amount out of the frozen milestones that still hold it (emptied ones
    /// are charged back), the rest a platform loss, and leaves what they still hold frozen for
    /// an admin. A decided chargeback changes no more.
    pub fn apply_chargeback(
        &mut self,
        dispute: &str,
        payment_ref: &str,
        amount: i64,
        status: &str,
        phase: crate::stripe::ChargebackPhase,
    ) -> Change {
        use crate::stripe::ChargebackPhase as P;
        let index = self
            .disputes
            .iter()
            .position(|d| d.chargeback.as_ref().is_some_and(|c| c.id == dispute));
        let (i, mut change) = match index {
            Some(i) => (i, Change::No),
            None => {
                let held: Vec<usize> = self
                    .paid_by(payment_ref)
                    .into_iter()
                    .filter(|k| self.parts[*k].held())
                    .collect();
                self.disputes.push(MDispute {
                    kind: DKind::Chargeback,
                    open: true,
                    parts: held,
                    payment_ref: None,
                    refunded: 0,
                    loss: 0,
                    chargeback: Some(MChargeback {
                        id: dispute.to_string(),
                        status: status.to_string(),
                        withdrawn: false,
                        reinstated: false,
                        closed: false,
                        recovered: 0,
                    }),
                });
                (self.disputes.len() - 1, Change::Yes)
            }
        };
        let d = &mut self.disputes[i];
        let cb = d.chargeback.as_mut().expect("a chargeback");
        if cb.closed {
            return change;
        }
        if cb.status != status {
            cb.status = status.to_string();
            change = Change::Yes;
        }
        match phase {
            P::FundsWithdrawn if !cb.withdrawn => {
                cb.withdrawn = true;
                return Change::Yes;
            }
            P::FundsReinstated if !cb.reinstated => {
                cb.reinstated = true;
                return Change::Yes;
            }
            P::Created | P::FundsWithdrawn | P::FundsReinstated => return change,
            P::Closed => {}
        }
        match status {
            "won" => {
                cb.closed = true;
                d.open = false;
            }
            "lost" => {
                cb.closed = true;
                let frozen = d.parts.clone();
                let mut left = amount;
                for k in &frozen {
                    let Some(e) = self.parts[*k]
                        .escrow
                        .as_mut()
                        .filter(|e| e.status == EscrowStatus::Funded)
                    else {
                        continue;
                    };
                    let x = left.min(e.held());
                    e.charged_back += x;
                    if e.held() == 0 {
                        e.status = EscrowStatus::ChargedBack;
                    }
                    left -= x;
                }
                let rest_held = frozen.iter().any(|k| self.parts[*k].held());
                let d = &mut self.disputes[i];
                d.loss = left;
                d.open = rest_held;
            }
            _ => return change,
        }
        self.sync();
        Change::Yes
    }

    /// The stored record, seen through the model's eyes.
    pub fn project(c: &Contract, reviewed: bool) -> MState {
        MState {
            status: c.status,
            approved: c.is_approved,
            release: c.release_fund_status,
            canceled_by: c.canceled_by,
            canceled_from: c.canceled_from,
            parts: c
                .milestones
                .iter()
                .map(|m| MPart {
                    amount: m.amount.get(),
                    submitted: m.submitted_at.is_some(),
                    requested: m.release_requested_at.is_some(),
                    escrow: m.escrow.as_ref().map(|e| m_escrow(e, false)),
                })
                .collect(),
            escrow: c.escrow().as_ref().map(|e| m_escrow(e, true)),
            extras: c
                .extra_payments
                .iter()
                .map(|x| MExtra {
                    payment_ref: x.payment_ref.to_string(),
                    amount: x.amount.get(),
                    refunded: x.provider_refund_id.is_some(),
                    taken: x.refund_taken.as_ref().map(|t| match t.status.as_str() {
                        "pending" => PStatus::Pending,
                        _ => PStatus::Failed,
                    }),
                    retries: x.retries,
                })
                .collect(),
            reviewed,
            disputes: c
                .disputes
                .iter()
                .map(|d| MDispute {
                    kind: match d.kind {
                        escrow::domain::DisputeKind::Client => DKind::Client,
                        escrow::domain::DisputeKind::OutsideRefund => DKind::Outside,
                        escrow::domain::DisputeKind::Chargeback => DKind::Chargeback,
                    },
                    open: d.is_open(),
                    parts: d.milestones.iter().map(|m| m.get() - 1).collect(),
                    payment_ref: d.outside_refund.as_ref().map(|o| o.payment_ref.to_string()),
                    refunded: d.outside_refund.as_ref().map_or(0, |o| o.refunded.get()),
                    loss: d
                        .outside_refund
                        .as_ref()
                        .map(|o| o.platform_loss.get())
                        .or(d.chargeback.as_ref().map(|c| c.platform_loss.get()))
                        .unwrap_or(0),
                    chargeback: d.chargeback.as_ref().map(|c| MChargeback {
                        id: c.provider_dispute_id.clone(),
                        status: c.provider_status.clone(),
                        withdrawn: c.funds_withdrawn,
                        reinstated: c.funds_reinstated,
                        closed: c.closed,
                        recovered: c.recovered_from_wallet.get(),
                    }),
                })
                .collect(),
        }
    }

    /// The same state with the provider's side erased: a refund decided is a refund, whether
    /// or not the provider's answer is recorded yet. Used where a crash or a fault makes the
    /// moment of settlement unknowable; settlement is then checked against the provider.
    pub fn masked(&self) -> MState {
        let mut m = self.clone();
        for e in m.parts.iter_mut().filter_map(|p| p.escrow.as_mut()) {
            if matches!(
                e.status,
                EscrowStatus::RefundPending | EscrowStatus::RefundFailed
            ) {
                e.status = EscrowStatus::Refunded;
            }
            if let Some(r) = e.refund.as_mut() {
                r.in_flight = false;
            }
        }
        for x in &mut m.extras {
            x.refunded = true;
            x.taken = None;
        }
        m.sync();
        m
    }

    /// Whether `later` undid nothing the provider had confirmed in `self`.
    pub fn settlement_kept_in(&self, later: &MState) -> bool {
        let escrow_kept = self.parts.len() == later.parts.len()
            && self
                .parts
                .iter()
                .zip(&later.parts)
                .all(|(a, b)| match (&a.escrow, &b.escrow) {
                    (Some(a), Some(b)) => {
                        a.status != EscrowStatus::Refunded || b.status == a.status
                    }
                    (Some(_), None) => false,
                    (None, _) => true,
                });
        escrow_kept
            && self.extras.len() <= later.extras.len()
            && self
                .extras
                .iter()
                .zip(&later.extras)
                .all(|(a, b)| a.payment_ref == b.payment_ref && (!a.refunded || b.refunded))
    }

    /// Whether a refund is owed and not yet taken by the provider (one it took as pending is
    /// left to its `refund.updated`).
    pub fn has_provider_work(&self) -> bool {
        (0..self.parts.len()).any(|i| self.owes_call(i))
            || self.extras.iter().any(MExtra::owes_call)
    }

    /// Whether milestone `i`'s refund call has the provider's answer recorded (taken as
    /// pending, or settled either way).
    pub fn call_answered(&self, i: usize) -> bool {
        self.parts[i]
            .escrow
            .as_ref()
            .is_some_and(|e| match e.status {
                EscrowStatus::RefundPending => e.refund.as_ref().is_some_and(|r| r.in_flight),
                EscrowStatus::Refunded | EscrowStatus::RefundFailed => true,
                _ => false,
            })
    }

    /// Whether milestone `i`'s refund is decided and still to be asked of the provider.
    fn owes_call(&self, i: usize) -> bool {
        self.parts[i].escrow.as_ref().is_some_and(|e| {
            e.status == EscrowStatus::RefundPending
                && e.refund.as_ref().is_some_and(|r| !r.in_flight)
        })
    }

    /// Whether a refund waits for the provider's word on it (taken as pending).
    pub fn refund_in_flight(&self) -> bool {
        self.parts.iter().any(|p| {
            p.escrow.as_ref().is_some_and(|e| {
                e.status == EscrowStatus::RefundPending
                    && e.refund.as_ref().is_some_and(|r| r.in_flight)
            })
        })
    }

    /// Whether a refund failed at the provider and waits for an operator (a milestone's or a
    /// duplicate payment's).
    pub fn refund_failed(&self) -> bool {
        self.parts.iter().any(|p| {
            p.escrow
                .as_ref()
                .is_some_and(|e| e.status == EscrowStatus::RefundFailed)
        }) || self.extras.iter().any(|x| x.taken == Some(PStatus::Failed))
    }

    /// An operator sends every failed refund again, each under a new key (`escrowctl refunds
    /// retry`); none failed: refused.
    pub fn retry_failed(&mut self) -> Want {
        if !self.refund_failed() {
            return conflict();
        }
        for e in self.parts.iter_mut().filter_map(|p| p.escrow.as_mut()) {
            if e.status == EscrowStatus::RefundFailed {
                e.status = EscrowStatus::RefundPending;
                let r = e.refund.as_mut().expect("a failed refund has its split");
                r.retries += 1;
                r.in_flight = false;
            }
        }
        for x in self
            .extras
            .iter_mut()
            .filter(|x| x.taken == Some(PStatus::Failed))
        {
            x.retries += 1;
            x.taken = None;
        }
        self.sync();
        Ok(Change::Yes)
    }

    /// An operator settles every failed refund by other means (`escrowctl refunds settle`);
    /// none failed: refused.
    pub fn settle_failed(&mut self) -> Want {
        if !self.refund_failed() {
            return conflict();
        }
        for e in self.parts.iter_mut().filter_map(|p| p.escrow.as_mut()) {
            if e.status == EscrowStatus::RefundFailed {
                e.status = EscrowStatus::Refunded;
            }
        }
        for x in self
            .extras
            .iter_mut()
            .filter(|x| x.taken == Some(PStatus::Failed))
        {
            x.refunded = true;
            x.taken = None;
        }
        self.sync();
        Ok(Change::Yes)
    }

    /// The provider says how duplicate payment `j`'s refund, which it had taken, ended.
    pub fn extra_refund_updated(&mut self, j: usize, succeeded: bool) -> Change {
        let x = &mut self.extras[j];
        match (succeeded, x.refunded, x.taken) {
            (true, false, _) => {
                x.refunded = true;
                x.taken = None;
            }
            (false, true, _) | (false, false, Some(PStatus::Pending)) => {
                x.refunded = false;
                x.taken = Some(PStatus::Failed);
            }
            _ => return Change::No,
        }
        Change::Yes
    }

    /// The provider says how milestone `i`'s refund, which it had taken, ended.
    pub fn refund_updated(&mut self, i: usize, succeeded: bool) -> Change {
        let Some(e) = self.parts[i].escrow.as_mut() else {
            return Change::No;
        };
        let r = e
            .refund
            .as_mut()
            .expect("a refund the provider took has its split");
        match (succeeded, e.status) {
            (true, EscrowStatus::RefundPending) => e.status = EscrowStatus::Refunded,
            (false, EscrowStatus::RefundPending | EscrowStatus::Refunded) => {
                e.status = EscrowStatus::RefundFailed
            }
            _ => return Change::No,
        }
        r.in_flight = false;
        self.sync();
        Change::Yes
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
        if to == Completed {
            for p in self.parts.iter_mut().filter(|p| p.held()) {
                p.submitted = true;
            }
        }
        self.status = to;
        self.sync();
        Ok(Change::Yes)
    }

    /// The freelancer delivers milestone `i`: once the work started and while it is held.
    pub fn submit(&mut self, i: usize) -> Want {
        use ContractStatus::*;
        if !matches!(self.status, Started | Ongoing | Completed) || !self.parts[i].held() {
            return conflict();
        }
        if self.parts[i].submitted {
            return Ok(Change::No);
        }
        self.parts[i].submitted = true;
        Ok(Change::Yes)
    }

    /// The client asks for milestone `i`'s release: held and submitted.
    pub fn request_part(&mut self, i: usize) -> Want {
        let frozen = self.is_frozen(i);
        let p = &mut self.parts[i];
        if !p.held() || !p.submitted || frozen {
            return conflict();
        }
        if p.requested {
            return Ok(Change::No);
        }
        p.requested = true;
        self.sync();
        Ok(Change::Yes)
    }

    /// Releases milestone `i`: held, and asked for unless forced.
    pub fn release_part(&mut self, i: usize, forced: bool) -> Want {
        let frozen = self.is_frozen(i);
        let p = &mut self.parts[i];
        if !p.held() || frozen || (!forced && !p.requested) {
            return conflict();
        }
        p.escrow.as_mut().expect("held").status = EscrowStatus::Released;
        self.sync();
        Ok(Change::Yes)
    }

    /// The client asks for the whole escrow's release: every held milestone's.
    pub fn request_release(&mut self) -> Want {
        if self.status != ContractStatus::Completed || !self.any_held() || self.any_held_frozen() {
            return conflict();
        }
        let mut change = Change::No;
        for p in self.parts.iter_mut().filter(|p| p.held() && !p.requested) {
            p.requested = true;
            change = Change::Yes;
        }
        self.sync();
        Ok(change)
    }

    /// The whole-contract release: every held milestone whose release was asked for (every
    /// held one when forced).
    pub fn release(&mut self, forced: bool) -> Want {
        if !self.any_held() {
            return conflict();
        }
        let targets: Vec<usize> = (0..self.parts.len())
            .filter(|i| self.parts[*i].held() && (forced || self.parts[*i].requested))
            .collect();
        if targets.is_empty() || targets.iter().any(|i| self.is_frozen(*i)) {
            return conflict();
        }
        for i in targets {
            self.parts[i].escrow.as_mut().expect("held").status = EscrowStatus::Released;
        }
        self.sync();
        Ok(Change::Yes)
    }

    /// The refund decision (DESIGN §7): fee retained; kill fee 0 / 15 / 40 % of the earning by
    /// the status the work reached (none for a freelancer who walked away); or an admin's
    /// explicit freelancer share within `0..=earning`.
    pub fn decide_refund(&mut self, by: Party, share: Option<i64>) -> Want {
        if !self.any_held() {
            return conflict();
        }
        if self.status == ContractStatus::Completed || self.any_held_frozen() {
            return conflict();
        }
        let held: Vec<usize> = (0..self.parts.len())
            .filter(|i| self.parts[*i].held())
            .collect();
        let earnings: i64 = held
            .iter()
            .map(|i| self.parts[*i].escrow.as_ref().expect("held").earning)
            .sum();
        if share.is_some_and(|s| !(0..=earnings).contains(&s)) {
            return Err(ErrorKind::Validation);
        }
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
        if self.status != ContractStatus::Canceled {
            self.canceled_from = Some(self.status);
            self.canceled_by = Some(by);
            self.status = ContractStatus::Canceled;
        }
        // An explicit share is spread over the held milestones in order, each up to its
        // earning.
        let mut left = share;
        for i in held {
            let e = self.parts[i].escrow.as_mut().expect("held");
            let (fee, earning) = (e.fee, e.earning);
            let freelancer_share = match left.as_mut() {
                Some(l) => {
                    let s = (*l).min(earning);
                    *l -= s;
                    s
                }
                None => half_up(earning, percent, 100),
            };
            let client_share = earning - freelancer_share;
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
                in_flight: false,
                retries: 0,
            });
        }
        // As the original left a refunded contract (its UI hides "Cancel" then).
        self.sync();
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
        let mine = self.paid_by(payment_ref);
        if !mine.is_empty() {
            let mut learned = false;
            for i in mine {
                let e = self.parts[i].escrow.as_mut().expect("funded");
                if names_session && !e.session_known {
                    e.session_known = true;
                    learned = true;
                }
            }
            self.sync();
            return match learned {
                true => Funding::Learned,
                false => Funding::AlreadyApplied,
            };
        }
        if self.extras.iter().any(|x| x.payment_ref == payment_ref) {
            return Funding::AlreadyApplied;
        }
        // A payment that names no milestone pays every unfunded one (the simulated Stripe
        // names none); with none left, it is a second payment of the whole amount.
        let unfunded: Vec<usize> = (0..self.parts.len())
            .filter(|i| self.parts[*i].escrow.is_none())
            .collect();
        let expected = match unfunded.is_empty() {
            true => contract_amount,
            false => unfunded.iter().map(|i| self.parts[*i].amount).sum(),
        };
        if amount != expected {
            return Funding::AmountMismatch;
        }
        if unfunded.is_empty() || self.status == ContractStatus::Canceled {
            self.extras.push(MExtra {
                payment_ref: payment_ref.to_string(),
                amount,
                refunded: false,
                taken: None,
                retries: 0,
            });
            return Funding::Duplicate;
        }
        for i in unfunded {
            let part = self.parts[i].amount;
            let fee = half_up(part, fee_bps, 10_000);
            self.parts[i].escrow = Some(MEscrow {
                status: EscrowStatus::Funded,
                payment_ref: payment_ref.to_string(),
                session_known: names_session,
                amount: part,
                fee,
                earning: part - fee,
                outside: 0,
                charged_back: 0,
                refund: None,
            });
        }
        self.sync();
        Funding::Funded
    }

    /// Sends what is owed to the provider in the service's order (the escrow's refund, then
    /// each duplicate payment), each call taking the contract's next armed fault.
    /// `known` says how the provider already holds a call's refund (made under its key before,
    /// its answer lost): the provider answers with that refund as it stands.
    pub fn settle(
        &mut self,
        faults: &mut VecDeque<Fault>,
        outage: bool,
        known: &dyn Fn(Call<'_>) -> Option<PStatus>,
    ) -> Settle {
        let mut out = Settle {
            error: None,
            crash: false,
        };
        // A milestone's refund (`Ok`), then each duplicate payment's (`Err`).
        let mut calls: Vec<Result<usize, usize>> = (0..self.parts.len())
            .filter(|i| self.owes_call(*i))
            .map(Ok)
            .collect();
        calls.extend(
            (0..self.extras.len())
                .filter(|i| self.extras[*i].owes_call())
                .map(Err),
        );
        for call in calls {
            let mut fresh = PStatus::Succeeded;
            let failed = if outage {
                Some(ErrorKind::PaymentUnavailable)
            } else {
                match faults.pop_front() {
                    None => None,
                    Some(Fault::AnswerPending) => {
                        fresh = PStatus::Pending;
                        None
                    }
                    Some(Fault::AnswerFailed) => {
                        fresh = PStatus::Failed;
                        None
                    }
                    Some(Fault::Timeout | Fault::LostAnswer | Fault::LostPendingAnswer) => {
                        Some(ErrorKind::PaymentUnavailable)
                    }
                    Some(Fault::Reject) => Some(ErrorKind::PaymentFailed),
                    Some(Fault::CrashBeforeCall | Fault::CrashAfterCall) => {
                        out.crash = true;
                        self.sync();
                        return out;
                    }
                }
            };
            match failed {
                Some(kind) => {
                    out.error.get_or_insert(kind);
                }
                None => match call {
                    Ok(i) => {
                        let e = self.parts[i].escrow.as_mut().expect("pending");
                        let r = e.refund.as_mut().expect("a pending refund has its split");
                        // A key the provider already knows replays its first answer.
                        match known(Call::Part(i, r.retries)).unwrap_or(fresh) {
                            PStatus::Succeeded => e.status = EscrowStatus::Refunded,
                            PStatus::Pending => r.in_flight = true,
                            PStatus::Failed => e.status = EscrowStatus::RefundFailed,
                        }
                    }
                    Err(i) => {
                        let x = &mut self.extras[i];
                        match known(Call::Extra(&x.payment_ref, x.retries)).unwrap_or(fresh) {
                            PStatus::Succeeded => x.refunded = true,
                            status => x.taken = Some(status),
                        }
                    }
                },
            }
        }
        self.sync();
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

    /// The slot whose chargeback `dispute` is.
    pub fn slot_of_chargeback(&self, dispute: &str) -> Option<usize> {
        self.slots.iter().position(|s| {
            s.st.disputes
                .iter()
                .any(|d| d.chargeback.as_ref().is_some_and(|c| c.id == dispute))
        })
    }

    /// One run of chargeback `dispute`'s recovery (DESIGN: `ESCROW_CHARGEBACK_RECOVERY=
    /// wallet`): its recovery made before is finished (paid, noted on the chargeback);
    /// otherwise what the loss still lacks is taken from the wallet, as much as it holds, once.
    pub fn recover(&mut self, dispute: &str) -> Change {
        if !self.wallet_recovery {
            return Change::No;
        }
        let Some(slot) = self.slot_of_chargeback(dispute) else {
            return Change::No;
        };
        let freelancer = self.slots[slot].freelancer;
        let mut change = Change::No;
        let made = self
            .payouts
            .iter_mut()
            .find(|p| p.recovery.as_deref() == Some(dispute));
        let amount = match made {
            Some(p) => {
                if p.status == PayoutStatus::Pending {
                    p.status = PayoutStatus::Paid;
                    change = Change::Yes;
                }
                Some(p.amount)
            }
            None => None,
        };
        let (loss, recovered) = {
            let d = self.slots[slot]
                .st
                .disputes
                .iter()
                .find(|d| d.chargeback.as_ref().is_some_and(|c| c.id == dispute))
                .expect("found above");
            (
                d.loss,
                d.chargeback.as_ref().expect("a chargeback").recovered,
            )
        };
        let amount = match amount {
            Some(a) => a,
            None => {
                let take = (loss - recovered).min(self.wallet(freelancer));
                if take <= 0 {
                    return change;
                }
                self.payouts.push(MPayout {
                    id: None,
                    freelancer,
                    amount: take,
                    status: PayoutStatus::Paid,
                    recovery: Some(dispute.to_string()),
                });
                change = Change::Yes;
                take
            }
        };
        let cb = self.slots[slot]
            .st
            .disputes
            .iter_mut()
            .find_map(|d| d.chargeback.as_mut().filter(|c| c.id == dispute))
            .expect("found above");
        if cb.recovered != amount {
            cb.recovered = amount;
            change = Change::Yes;
        }
        change
    }

    /// What a freelancer's wallet holds: what releases and refunds gave it, less every payout
    /// that took money out of it (debited and not given back).
    pub fn wallet(&self, freelancer: usize) -> i64 {
        let mut held = 0;
        for s in self.slots.iter().filter(|s| s.freelancer == freelancer) {
            for e in s.st.parts.iter().filter_map(|p| p.escrow.as_ref()) {
                match (e.status, &e.refund) {
                    (EscrowStatus::Released, _) => held += e.earning,
                    (
                        EscrowStatus::RefundPending
                        | EscrowStatus::Refunded
                        | EscrowStatus::RefundFailed,
                        Some(r),
                    ) => held += r.freelancer_share,
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
            let refund = Account::Refund(s.id.clone());
            let wallet = Account::Wallet(freelancers[s.freelancer].clone());
            for (i, e) in
                s.st.parts
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| Some((i, p.escrow.as_ref()?)))
            {
                let escrow = Account::Escrow(escrow::domain::MilestoneRef::new(
                    s.id.clone(),
                    escrow::domain::MilestoneId::new(i + 1).expect("at most 50"),
                ));
                let wallet = wallet.clone();
                add(Account::ExternalStripe, -e.amount);
                // What refunds made outside the escrow, and lost chargebacks, took left
                // through the provider.
                add(Account::ExternalStripe, e.outside + e.charged_back);
                match (e.status, &e.refund) {
                    (EscrowStatus::Funded, _) => add(escrow, e.held()),
                    (EscrowStatus::Refunded | EscrowStatus::ChargedBack, None) if e.held() == 0 => {
                    }
                    (EscrowStatus::Released, _) => {
                        add(wallet, e.earning);
                        add(Account::PlatformFees, e.fee);
                    }
                    (
                        EscrowStatus::RefundPending
                        | EscrowStatus::Refunded
                        | EscrowStatus::RefundFailed,
                        Some(r),
                    ) => {
                        add(Account::PlatformFees, r.platform_fee);
                        add(wallet, r.freelancer_share);
                        // Owed to the client until the provider sent it (a failed one is owed
                        // again).
                        if e.status != EscrowStatus::Refunded {
                            add(refund.clone(), r.client_share);
                        } else {
                            add(Account::ExternalStripe, r.client_share);
                        }
                    }
                    (
                        EscrowStatus::RefundPending
                        | EscrowStatus::Refunded
                        | EscrowStatus::RefundFailed
                        | EscrowStatus::ChargedBack,
                        None,
                    )
                    | (EscrowStatus::ChargedBack, Some(_)) => {
                        // Impossible by the model's own transitions; make it visible.
                        add(escrow, i64::MIN / 4);
                    }
                }
            }
            // What refunds made outside, and lost chargebacks, took after the money had left
            // the escrow (the platform's loss).
            for d in &s.st.disputes {
                add(Account::PlatformChargebacks, -d.loss);
                add(Account::ExternalStripe, d.loss);
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
                // A recovery's money goes to the platform's chargebacks account.
                PayoutStatus::Paid if p.recovery.is_some() => {
                    add(wallet, -p.amount);
                    add(Account::PlatformChargebacks, p.amount);
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
        let mut s = MState::new(&[amount]);
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
            taken: None,
            retries: 0,
        });
        s.sync();
        let mut faults = VecDeque::from([Fault::Timeout]);
        let out = s.settle(&mut faults, false, &|_| None);
        assert_eq!(out.error, Some(ErrorKind::PaymentUnavailable));
        assert_eq!(
            s.escrow.as_ref().unwrap().status,
            EscrowStatus::RefundPending
        );
        assert!(s.extras[0].refunded);
    }
}
