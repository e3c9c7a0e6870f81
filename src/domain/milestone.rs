//! Milestones: a contract's amount in parts, each with its own escrow (funded, submitted,
//! release requested, released or refunded on its own), as freelance marketplaces pay. A
//! contract made without milestones has one, of its whole amount, and behaves exactly as a
//! contract did before milestones existed.
//!
//! Milestone 1 is named by its contract alone wherever a name is stored (its escrow account
//! `escrow:<contractId>`, its timers, its refund key, its release's payout), so records written
//! before milestones name their milestone without a migration; milestone `n > 1` is
//! `<contractId>:<n>`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::contract::TITLE_CHARS_MAX;
use super::error::DomainError;
use super::escrow::{Escrow, EscrowStatus};
use super::ids::ContractId;
use super::money::MinorUnits;

/// Most milestones a contract may have.
pub const MILESTONES_MAX: usize = 50;

/// A milestone's number within its contract: 1, 2, … in the order they were given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MilestoneId(u8);

impl MilestoneId {
    pub const FIRST: MilestoneId = MilestoneId(1);

    /// The `n`th milestone (1-based), if a contract may have it.
    pub fn new(n: usize) -> Option<MilestoneId> {
        (1..=MILESTONES_MAX)
            .contains(&n)
            .then_some(MilestoneId(n as u8))
    }

    pub fn get(self) -> usize {
        self.0 as usize
    }

    /// A milestone id as a path or flag gives it: its number, in decimal digits only.
    pub fn parse(s: &str) -> Result<MilestoneId, DomainError> {
        Some(s)
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<usize>().ok())
            .and_then(MilestoneId::new)
            .ok_or_else(|| {
                DomainError::Validation(format!(
                    "milestone id {s:?} is not a number from 1 to {MILESTONES_MAX}"
                ))
            })
    }
}

impl fmt::Display for MilestoneId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One milestone of one contract, as stored names name it: `<contractId>` for milestone 1,
/// `<contractId>:<n>` for the others.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MilestoneRef {
    pub contract: ContractId,
    pub milestone: MilestoneId,
}

impl MilestoneRef {
    pub fn new(contract: ContractId, milestone: MilestoneId) -> MilestoneRef {
        MilestoneRef {
            contract,
            milestone,
        }
    }
}

impl fmt::Display for MilestoneRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.milestone {
            MilestoneId::FIRST => write!(f, "{}", self.contract),
            m => write!(f, "{}:{m}", self.contract),
        }
    }
}

impl FromStr for MilestoneRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("not a milestone name: {s:?}");
        let (contract, milestone) = match s.split_once(':') {
            None => (s, MilestoneId::FIRST),
            Some((c, m)) => {
                let m = m.parse::<usize>().ok().and_then(MilestoneId::new);
                match m {
                    // Milestone 1 has one name only.
                    Some(m) if m != MilestoneId::FIRST => (c, m),
                    _ => return Err(bad()),
                }
            }
        };
        let contract = ContractId::parse(contract).map_err(|_| bad())?;
        Ok(MilestoneRef::new(contract, milestone))
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The subject of a milestone's auto-release timer for its `submission`th delivery: the
/// milestone's name for the first (as every timer was named before rejects existed),
/// `<name>#<k>` for a later one.
pub fn auto_release_subject(milestone: &MilestoneRef, submission: u32) -> String {
    match submission {
        0 | 1 => milestone.to_string(),
        k => format!("{milestone}#{k}"),
    }
}

/// The milestone and delivery an auto-release timer's subject names (see
/// [`auto_release_subject`]); a subject without `#` is the first delivery.
pub fn parse_timer_subject(subject: &str) -> Option<(MilestoneRef, u32)> {
    let (name, k) = match subject.split_once('#') {
        None => (subject, 1),
        Some((name, k)) => (name, k.parse().ok().filter(|k| *k > 1)?),
    };
    Some((name.parse().ok()?, k))
}

/// A milestone as a contract's creator gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MilestonePlan {
    pub title: String,
    pub amount: MinorUnits,
}

/// Where a milestone stands, read off its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MilestoneState {
    Unfunded,
    Funded,
    Submitted,
    ReleaseRequested,
    Released,
    RefundPending,
    Refunded,
    /// Held, and frozen by an open dispute ([`super::Contract::milestone_state`]).
    Disputed,
    /// A lost chargeback took all it held.
    ChargedBack,
    /// Its refund failed at the provider: owed to the client until a retry succeeds.
    RefundFailed,
}

impl MilestoneState {
    pub const ALL: [MilestoneState; 10] = [
        MilestoneState::Unfunded,
        MilestoneState::Funded,
        MilestoneState::Submitted,
        MilestoneState::ReleaseRequested,
        MilestoneState::Released,
        MilestoneState::RefundPending,
        MilestoneState::Refunded,
        MilestoneState::Disputed,
        MilestoneState::ChargedBack,
        MilestoneState::RefundFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MilestoneState::Unfunded => "unfunded",
            MilestoneState::Funded => "funded",
            MilestoneState::Submitted => "submitted",
            MilestoneState::ReleaseRequested => "release_requested",
            MilestoneState::Released => "released",
            MilestoneState::RefundPending => "refund_pending",
            MilestoneState::Refunded => "refunded",
            MilestoneState::Disputed => "disputed",
            MilestoneState::ChargedBack => "charged_back",
            MilestoneState::RefundFailed => "refund_failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Milestone {
    pub id: MilestoneId,
    pub title: String,
    pub amount: MinorUnits,
    /// When the freelancer delivered it (Unix ms): the start of its inspection window. Cleared
    /// when the client rejects the delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<i64>,
    /// How many times it was delivered: each delivery has its own auto-release timer
    /// ([`Milestone::auto_release_subject`]), so a rejected one's timer never releases the
    /// next delivery early.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub submissions: u32,
    /// When the client asked for its release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_requested_at: Option<i64>,
    /// Its escrow, once a payment funded it.
    pub escrow: Option<Escrow>,
}

impl Milestone {
    pub fn new(id: MilestoneId, title: String, amount: MinorUnits) -> Milestone {
        Milestone {
            id,
            title,
            amount,
            submitted_at: None,
            submissions: 0,
            release_requested_at: None,
            escrow: None,
        }
    }

    /// Records a delivery now.
    pub(crate) fn deliver(&mut self, now: i64) {
        self.submitted_at = Some(now);
        self.submissions += 1;
    }

    pub fn escrow_status(&self) -> Option<EscrowStatus> {
        self.escrow.as_ref().map(|e| e.status)
    }

    /// Whether its escrow holds its money (funded, neither released nor refunded).
    pub fn is_held(&self) -> bool {
        self.escrow_status() == Some(EscrowStatus::Funded)
    }

    pub fn state(&self) -> MilestoneState {
        match self.escrow_status() {
            None => MilestoneState::Unfunded,
            Some(EscrowStatus::Released) => MilestoneState::Released,
            Some(EscrowStatus::RefundPending) => MilestoneState::RefundPending,
            Some(EscrowStatus::Refunded) => MilestoneState::Refunded,
            Some(EscrowStatus::ChargedBack) => MilestoneState::ChargedBack,
            Some(EscrowStatus::RefundFailed) => MilestoneState::RefundFailed,
            Some(EscrowStatus::Funded) => match (self.release_requested_at, self.submitted_at) {
                (Some(_), _) => MilestoneState::ReleaseRequested,
                (None, Some(_)) => MilestoneState::Submitted,
                (None, None) => MilestoneState::Funded,
            },
        }
    }
}

/// Checks the milestones a contract is created with: at most [`MILESTONES_MAX`], each above
/// zero, adding up to `amount`. `None`: one milestone of the whole amount, titled `title`.
pub fn plan_milestones(
    plans: Option<&[MilestonePlan]>,
    amount: MinorUnits,
    title: &str,
) -> Result<Vec<Milestone>, DomainError> {
    let Some(plans) = plans else {
        return Ok(vec![Milestone::new(
            MilestoneId::FIRST,
            title.to_string(),
            amount,
        )]);
    };
    if plans.is_empty() || plans.len() > MILESTONES_MAX {
        return Err(DomainError::Validation(format!(
            "milestones must list 1 to {MILESTONES_MAX} milestones, not {}",
            plans.len()
        )));
    }
    let mut total = MinorUnits::ZERO;
    let mut out = Vec::with_capacity(plans.len());
    for (i, p) in plans.iter().enumerate() {
        let n = i + 1;
        if p.amount <= MinorUnits::ZERO {
            return Err(DomainError::Validation(format!(
                "milestone {n}'s amount must be greater than zero"
            )));
        }
        let title = p.title.trim();
        if title.chars().count() > TITLE_CHARS_MAX {
            return Err(DomainError::Validation(format!(
                "milestone {n}'s title is longer than {TITLE_CHARS_MAX} characters"
            )));
        }
        // Each amount is bounded where it is parsed, so fifty of them cannot overflow.
        total += p.amount;
        let id = MilestoneId::new(n).expect("checked the count");
        out.push(Milestone::new(id, title.to_string(), p.amount));
    }
    if total != amount {
        // The body contradicts itself, as a `rate` that differs from the contract's amount
        // contradicts the contract: `amount_mismatch`.
        return Err(DomainError::AmountMismatch(format!(
            "the milestones add up to {total}, not the contract's amount {amount}"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(amounts: &[i64]) -> Vec<MilestonePlan> {
        amounts
            .iter()
            .enumerate()
            .map(|(i, a)| MilestonePlan {
                title: format!("part {i}"),
                amount: MinorUnits::new(*a),
            })
            .collect()
    }

    #[test]
    fn milestones_must_add_up_and_each_be_above_zero() {
        let total = MinorUnits::new(300);
        assert_eq!(
            plan_milestones(Some(&plan(&[100, 200])), total, "")
                .unwrap()
                .len(),
            2
        );
        assert!(plan_milestones(Some(&plan(&[100, 100])), total, "").is_err());
        assert!(plan_milestones(Some(&plan(&[300, 0])), total, "").is_err());
        assert!(plan_milestones(Some(&plan(&[400, -100])), total, "").is_err());
        assert!(plan_milestones(Some(&[]), total, "").is_err());
        let many = vec![1; MILESTONES_MAX + 1];
        assert!(plan_milestones(Some(&plan(&many)), MinorUnits::new(51), "").is_err());
        let one = plan_milestones(None, total, "Logo").unwrap();
        assert_eq!(
            (one[0].id, one[0].amount, one[0].title.as_str()),
            (MilestoneId::FIRST, total, "Logo")
        );
    }

    #[test]
    fn milestone_one_is_named_by_its_contract_alone() {
        let c = ContractId::generate();
        let first = MilestoneRef::new(c.clone(), MilestoneId::FIRST);
        let third = MilestoneRef::new(c.clone(), MilestoneId::new(3).unwrap());
        assert_eq!(first.to_string(), c.to_string());
        assert_eq!(third.to_string(), format!("{c}:3"));
        for r in [first, third] {
            assert_eq!(r.to_string().parse::<MilestoneRef>(), Ok(r));
        }
        assert!(format!("{c}:1").parse::<MilestoneRef>().is_err());
        assert!(format!("{c}:51").parse::<MilestoneRef>().is_err());
        for bad in ["0", "51", "", " 2", "+2", "-1", "2.0", "x"] {
            assert!(MilestoneId::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(MilestoneId::parse("007").unwrap().get(), 7);
        assert_eq!(MilestoneId::parse("2").unwrap().get(), 2);
    }
}
