//! The double-entry ledger (DESIGN §4). Every movement of money is a [`Transfer`]: a set of
//! [`LedgerEntry`] lines that sum to zero. Accounts:
//!
//! - `external:stripe` — the outside world; negative by everything paid in and not paid back;
//! - `escrow:<contractId>` — money held for a contract's milestone 1, `escrow:<contractId>:<n>`
//!   for its milestone n;
//! - `wallet:<userId>` — a freelancer's (or client's) internal balance;
//! - `platform:fees` — the platform's revenue;
//! - `platform:chargebacks` — the platform's losses to chargebacks and to refunds made outside
//!   the escrow: negative by what left the platform after the money had left the escrow (less
//!   what was recovered from freelancers' wallets);
//! - `refund:<contractId>` — money decided to go back to the client and not yet confirmed sent
//!   by the payment provider; zero once the provider's refund is recorded;
//! - `payout:<payoutId>` — money taken out of a wallet for a payout and not yet confirmed sent
//!   (or given back); zero once the payout is paid or failed.
//!
//! Every transfer belongs to the record whose transition wrote it ([`Owner`]): a contract or
//! a payout.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ids::{ContractId, PayoutId, UserId};
use super::milestone::MilestoneRef;
use super::money::{Currency, MinorUnits};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    ExternalStripe,
    /// One milestone's escrow: `escrow:<contractId>` for milestone 1 (every contract's only
    /// one before milestones), `escrow:<contractId>:<n>` for the others.
    Escrow(MilestoneRef),
    Wallet(UserId),
    PlatformFees,
    PlatformChargebacks,
    Refund(ContractId),
    Payout(PayoutId),
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::ExternalStripe => f.write_str("external:stripe"),
            Account::Escrow(c) => write!(f, "escrow:{c}"),
            Account::Wallet(u) => write!(f, "wallet:{u}"),
            Account::PlatformFees => f.write_str("platform:fees"),
            Account::PlatformChargebacks => f.write_str("platform:chargebacks"),
            Account::Refund(c) => write!(f, "refund:{c}"),
            Account::Payout(p) => write!(f, "payout:{p}"),
        }
    }
}

impl FromStr for Account {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("unknown account {s:?}");
        match s.split_once(':') {
            Some(("external", "stripe")) => Ok(Account::ExternalStripe),
            Some(("platform", "fees")) => Ok(Account::PlatformFees),
            Some(("platform", "chargebacks")) => Ok(Account::PlatformChargebacks),
            Some(("escrow", id)) => id
                .parse::<MilestoneRef>()
                .map(Account::Escrow)
                .map_err(|_| bad()),
            Some(("refund", id)) => ContractId::parse(id)
                .map(Account::Refund)
                .map_err(|_| bad()),
            Some(("wallet", id)) => UserId::parse(id).map(Account::Wallet).map_err(|_| bad()),
            Some(("payout", id)) => PayoutId::parse(id).map(Account::Payout).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

impl Account {
    /// The kind of account, the part of its name before the colon: `external`, `escrow`,
    /// `wallet`, `platform`, `refund` or `payout`. Stores keep a total per kind (all money held in
    /// escrow is the `escrow` total).
    pub fn kind(&self) -> &'static str {
        match self {
            Account::ExternalStripe => "external",
            Account::Escrow(_) => "escrow",
            Account::Wallet(_) => "wallet",
            Account::PlatformFees | Account::PlatformChargebacks => "platform",
            Account::Refund(_) => "refund",
            Account::Payout(_) => "payout",
        }
    }
}

/// The record a transfer belongs to: the contract or the payout whose transition wrote it.
/// Stored as the contract's id, or `payout:` and the payout's id (the field a store already
/// had for the contract, so older entries read as they are).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    Contract(ContractId),
    Payout(PayoutId),
}

impl Owner {
    /// The contract, when a contract owns it.
    pub fn contract(&self) -> Option<&ContractId> {
        match self {
            Owner::Contract(c) => Some(c),
            Owner::Payout(_) => None,
        }
    }

    /// The payout, when a payout owns it.
    pub fn payout(&self) -> Option<&PayoutId> {
        match self {
            Owner::Payout(p) => Some(p),
            Owner::Contract(_) => None,
        }
    }

    pub fn parse(s: &str) -> Result<Owner, String> {
        match s.strip_prefix("payout:") {
            Some(p) => PayoutId::parse(p).map(Owner::Payout),
            None => ContractId::parse(s).map(Owner::Contract),
        }
        .map_err(|e| e.to_string())
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Contract(c) => write!(f, "{c}"),
            Owner::Payout(p) => write!(f, "payout:{p}"),
        }
    }
}

impl From<ContractId> for Owner {
    fn from(c: ContractId) -> Owner {
        Owner::Contract(c)
    }
}

impl Serialize for Owner {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Owner {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Owner::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The balances a store keeps up to date with every entry it writes (in the same atomic write),
/// so that reading one never sums entries: one per account and currency, and totals per
/// account kind and currency (at least `escrow`: held funds). `verify` checks each against the
/// entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeptBalances {
    /// An account's balance and its number of entries.
    pub accounts: Vec<(Account, Currency, MinorUnits, u64)>,
    pub kinds: Vec<(String, Currency, MinorUnits)>,
    /// The sales report's months, when the store keeps them.
    pub months: Option<Vec<KeptMonth>>,
    /// The kept counts of every contract and of those with an escrow, when the store keeps
    /// them (the `count` of the contract and transaction lists).
    pub lists: Option<KeptLists>,
}

/// How many contracts a store says it holds, and how many of them have an escrow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeptLists {
    pub contracts: u64,
    pub escrows: u64,
}

/// One month (UTC, "YYYY-MM") of releases in one currency, as a store keeps it: the gross
/// taken out of escrow, the platform's fee, the freelancers' earnings, and how many releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptMonth {
    pub currency: Currency,
    pub month: String,
    pub gross: MinorUnits,
    pub platform_fee: MinorUnits,
    pub freelancer_earning: MinorUnits,
    pub releases: i64,
}

impl KeptMonth {
    /// Adds a release entry to its month's `[gross, fee, earning, releases]`: the escrow's
    /// entry is the gross taken out (and one release), the fee's and the wallet's entries the
    /// split. Any other entry adds nothing.
    pub fn add_release(month: &mut [i64; 4], e: &LedgerEntry) {
        if e.kind != TransferKind::Release {
            return;
        }
        match e.account {
            Account::Escrow(_) => {
                month[0] -= e.amount.get();
                month[3] += 1;
            }
            Account::PlatformFees => month[1] += e.amount.get(),
            Account::Wallet(_) => month[2] += e.amount.get(),
            _ => {}
        }
    }

    /// The month an instant (Unix ms) falls in, UTC.
    pub fn month_of(at_ms: i64) -> String {
        Self::bounds_of(at_ms).0
    }

    /// The month an instant (Unix ms) falls in, UTC, with its first instant and the next
    /// month's (Unix ms).
    pub fn bounds_of(at_ms: i64) -> (String, i64, i64) {
        use chrono::{Datelike, NaiveDate};
        let Some(t) = chrono::DateTime::from_timestamp_millis(at_ms / 1000 * 1000) else {
            return (String::new(), at_ms, at_ms);
        };
        let (y, m) = (t.year(), t.month());
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let ms = |y: i32, m: u32| {
            NaiveDate::from_ymd_opt(y, m, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map_or(at_ms, |d| d.and_utc().timestamp_millis())
        };
        (format!("{y:04}-{m:02}"), ms(y, m), ms(ny, nm))
    }
}

impl Serialize for Account {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Account {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What a transfer was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferKind {
    /// A payment arrived into escrow.
    Fund,
    /// Escrow paid out: earning to the freelancer's wallet, fee to the platform.
    Release,
    /// Escrow split on refund: fee to the platform, kill fee to the freelancer, the rest owed to
    /// the client (`refund:<contract>`).
    Refund,
    /// The provider confirmed the client's share was sent back.
    RefundSettled,
    /// A second payment for an already funded contract: owed back in full.
    DuplicatePayment,
    /// The provider confirmed a duplicate payment was refunded.
    DuplicatePaymentRefunded,
    /// A payout took money out of a wallet (`wallet` → `payout`).
    Payout,
    /// The provider took the payout's transfer (`payout` → `external:stripe`).
    PayoutSent,
    /// The provider refused the payout for good: back to the wallet.
    PayoutFailed,
    /// The provider reversed (part of) a paid payout's transfer: back to the wallet.
    PayoutReversed,
    /// A chargeback was lost while the escrow held the money: the disputed amount left the
    /// escrow for the card holder's bank (`escrow` → `external:stripe`).
    Chargeback,
    /// A chargeback was lost after the money had left the escrow: a platform loss
    /// (`platform:chargebacks` → `external:stripe`).
    ChargebackLoss,
    /// Part of a chargeback loss recovered from the freelancer's wallet
    /// (`wallet` → `platform:chargebacks`).
    ChargebackRecovered,
    /// The provider reported a refund it had confirmed as failed after all: the client's share
    /// is owed again (`external:stripe` → `refund:<contract>`).
    RefundFailed,
    /// A refund made outside the escrow (the provider's dashboard) while it held the money:
    /// out of the escrow (`escrow` → `external:stripe`).
    OutsideRefund,
    /// A refund made outside the escrow after the money had left it: a platform loss
    /// (`platform:chargebacks` → `external:stripe`).
    OutsideRefundLoss,
}

impl TransferKind {
    pub const ALL: [TransferKind; 16] = [
        TransferKind::Fund,
        TransferKind::Release,
        TransferKind::Refund,
        TransferKind::RefundSettled,
        TransferKind::DuplicatePayment,
        TransferKind::DuplicatePaymentRefunded,
        TransferKind::Payout,
        TransferKind::PayoutSent,
        TransferKind::PayoutFailed,
        TransferKind::PayoutReversed,
        TransferKind::Chargeback,
        TransferKind::ChargebackLoss,
        TransferKind::ChargebackRecovered,
        TransferKind::OutsideRefund,
        TransferKind::OutsideRefundLoss,
        TransferKind::RefundFailed,
    ];

    /// The stored and serialised name (`fund`, `refund_settled`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::Fund => "fund",
            TransferKind::Release => "release",
            TransferKind::Refund => "refund",
            TransferKind::RefundSettled => "refund_settled",
            TransferKind::DuplicatePayment => "duplicate_payment",
            TransferKind::DuplicatePaymentRefunded => "duplicate_payment_refunded",
            TransferKind::Payout => "payout",
            TransferKind::PayoutSent => "payout_sent",
            TransferKind::PayoutFailed => "payout_failed",
            TransferKind::PayoutReversed => "payout_reversed",
            TransferKind::Chargeback => "chargeback",
            TransferKind::ChargebackLoss => "chargeback_loss",
            TransferKind::ChargebackRecovered => "chargeback_recovered",
            TransferKind::OutsideRefund => "outside_refund",
            TransferKind::OutsideRefundLoss => "outside_refund_loss",
            TransferKind::RefundFailed => "refund_failed",
        }
    }

    pub fn parse(s: &str) -> Option<TransferKind> {
        TransferKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One line of a transfer. `amount` is signed minor units: positive increases the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    /// Deterministic: `<owner>:<transfer seq>:<line>`, so writing an entry twice is a no-op.
    pub id: String,
    pub transfer_id: String,
    /// The record whose transition wrote it (stored under the name it always had).
    #[serde(rename = "contractId")]
    pub owner: Owner,
    pub kind: TransferKind,
    pub account: Account,
    pub amount: MinorUnits,
    pub currency: Currency,
    /// Unix milliseconds.
    pub at: i64,
}

/// A balanced set of entries, built by the escrow transitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: String,
    pub owner: Owner,
    pub kind: TransferKind,
    pub currency: Currency,
    pub at: i64,
    pub lines: Vec<(Account, MinorUnits)>,
}

impl Transfer {
    /// Builds a transfer, dropping zero lines. Panics if the lines do not balance: an unbalanced
    /// transfer is a bug in this crate, never a consequence of input.
    pub fn new(
        id: String,
        owner: impl Into<Owner>,
        kind: TransferKind,
        currency: Currency,
        at: i64,
        lines: Vec<(Account, MinorUnits)>,
    ) -> Transfer {
        let sum: i128 = lines.iter().map(|(_, a)| a.get() as i128).sum();
        assert_eq!(sum, 0, "transfer {id} does not balance: {lines:?}");
        let lines = lines.into_iter().filter(|(_, a)| !a.is_zero()).collect();
        Transfer {
            id,
            owner: owner.into(),
            kind,
            currency,
            at,
            lines,
        }
    }

    pub fn entries(&self) -> Vec<LedgerEntry> {
        self.lines
            .iter()
            .enumerate()
            .map(|(i, (account, amount))| LedgerEntry {
                id: format!("{}:{i}", self.id),
                transfer_id: self.id.clone(),
                owner: self.owner.clone(),
                kind: self.kind,
                account: account.clone(),
                amount: *amount,
                currency: self.currency,
                at: self.at,
            })
            .collect()
    }
}

/// Balances per account, from any set of entries.
pub fn balances<'a>(
    entries: impl IntoIterator<Item = &'a LedgerEntry>,
) -> BTreeMap<(Account, Currency), i128> {
    let mut out = BTreeMap::new();
    for e in entries {
        *out.entry((e.account.clone(), e.currency)).or_insert(0i128) += e.amount.get() as i128;
    }
    out
}

impl PartialOrd for Currency {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Currency {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.code().cmp(other.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::milestone::MilestoneId;

    #[test]
    fn a_month_is_named_and_bounded_in_utc() {
        // 2024-02-29T23:59:59.999Z: a leap February.
        let at = 1_709_251_199_999;
        assert_eq!(
            KeptMonth::bounds_of(at),
            ("2024-02".to_string(), 1_706_745_600_000, 1_709_251_200_000)
        );
        assert_eq!(KeptMonth::month_of(at + 1), "2024-03");
        // December runs into the next year.
        assert_eq!(
            KeptMonth::bounds_of(1_735_689_599_000),
            ("2024-12".to_string(), 1_733_011_200_000, 1_735_689_600_000)
        );
    }

    #[test]
    fn accounts_round_trip_through_their_names() {
        let c = ContractId::generate();
        let u = UserId::generate();
        for a in [
            Account::ExternalStripe,
            Account::PlatformFees,
            Account::Escrow(MilestoneRef::new(c.clone(), MilestoneId::FIRST)),
            Account::Escrow(MilestoneRef::new(c.clone(), MilestoneId::new(7).unwrap())),
            Account::Refund(c),
            Account::Wallet(u),
            Account::Payout(PayoutId::generate()),
        ] {
            assert_eq!(a.to_string().parse::<Account>().unwrap(), a);
        }
        assert!("wallet:nope".parse::<Account>().is_err());
        assert!("bank:x".parse::<Account>().is_err());
    }

    #[test]
    #[should_panic(expected = "does not balance")]
    fn an_unbalanced_transfer_is_a_bug() {
        let c = ContractId::generate();
        Transfer::new(
            "t".into(),
            c.clone(),
            TransferKind::Fund,
            Currency::Inr,
            0,
            vec![(Account::Refund(c), MinorUnits::new(5))],
        );
    }
}
