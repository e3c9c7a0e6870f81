//! The ledger invariants of DESIGN §4, checked over a whole store by `escrowctl verify` and by
//! the tests. Fed incrementally (entries and contracts in any order), so a caller can stream a
//! large store and show progress.

use std::collections::BTreeMap;

// Verify hashes every entry's account and transfer: FxHash, not SipHash (no untrusted keys
// here, and SipHash was a tenth of a whole-store check).
use rustc_hash::FxHashMap as HashMap;

use serde::Serialize;

use super::contract::Contract;
use super::escrow::EscrowStatus;
use super::ids::{ContractId, PayoutId};
use super::ledger::{Account, KeptBalances, KeptMonth, LedgerEntry, Owner, TransferKind};
use super::milestone::{MilestoneId, MilestoneRef};
use super::money::{Currency, MinorUnits};
use super::payout::{Payout, PayoutStatus};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub rule: &'static str,
    /// The ids involved: contract, account, transfer or user.
    pub ids: Vec<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub contracts: u64,
    pub escrows: u64,
    pub entries: u64,
    pub transfers: u64,
    pub accounts: u64,
    pub wallets: u64,
    /// Balances the store keeps (per account and per kind), each checked against the entries.
    pub kept_balances: u64,
    pub payouts: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub counts: Counts,
    pub violations: Vec<Violation>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

#[derive(Default)]
pub struct Verifier {
    /// Each account's sum of entries and how many entries it has (checked against a store's
    /// kept balance and count).
    balances: HashMap<(Account, Currency), (i128, u64)>,
    /// The transfer whose entries are being read: its id, sum and contract. Entries come in id
    /// order and an entry's id is `<transfer id>:<n>`, so a transfer's entries come together
    /// and only this one is held; see [`Verifier::add_entry`].
    transfer: Option<(String, i128, Owner)>,
    /// Transfers whose entries did not come together and did not sum to zero (yet).
    split_transfers: HashMap<String, (i128, Owner)>,
    /// Funding transfers into each milestone's escrow account.
    funds_per_milestone: HashMap<MilestoneRef, u32>,
    /// How many `payout_sent` (or, for a recovery, `chargeback_recovered`) transfers each
    /// payout has.
    sends_per_payout: HashMap<PayoutId, u32>,
    contracts: Vec<ContractFacts>,
    payouts: Vec<PayoutFacts>,
    wallets: Vec<(String, Currency, MinorUnits)>,
    kept: Option<KeptBalances>,
    /// Per currency and month: gross, fee, earning and releases, from the release entries.
    months: BTreeMap<(Currency, String), [i64; 4]>,
    /// The month of the last release entry seen, with its bounds (Unix ms): entries come by
    /// contract, so the next one is most likely in it.
    last_month: Option<(i64, i64, String)>,
    counts: Counts,
}

/// What verification needs of a contract: its id and currency, its escrow's status and amount,
/// and what its refund account must hold (owed and not yet confirmed by the provider).
/// What verification needs of a payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutFacts {
    pub id: PayoutId,
    pub status: PayoutStatus,
    pub currency: Currency,
    /// What its account must hold ([`Payout::holds`]).
    pub holds: MinorUnits,
    pub transfer_id: Option<String>,
    /// A chargeback recovery: done by its `chargeback_recovered` transfer, no provider's.
    pub recovery: bool,
}

impl PayoutFacts {
    pub fn of(p: &Payout) -> PayoutFacts {
        PayoutFacts {
            id: p.id.clone(),
            status: p.status,
            currency: p.currency,
            holds: p.holds(),
            transfer_id: p.transfer_id.clone(),
            recovery: p.is_recovery(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractFacts {
    pub id: ContractId,
    /// How many milestones it has.
    pub milestones: usize,
    /// Each funded milestone's escrow: the milestone, its status and what it holds while funded
    /// (its amount less what lost chargebacks took).
    pub escrows: Vec<(MilestoneId, EscrowStatus, MinorUnits)>,
    pub refund_owed: MinorUnits,
    pub currency: Currency,
}

/// A funded milestone's escrow as verification reads it: the milestone, its status, amount,
/// and the client's share of its refund decision, if any.
type EscrowFacts = (MilestoneId, EscrowStatus, MinorUnits, Option<MinorUnits>);

impl ContractFacts {
    pub fn of(c: &Contract) -> ContractFacts {
        ContractFacts::new(
            c.id.clone(),
            c.currency,
            c.milestones.len(),
            c.milestones
                .iter()
                .filter_map(|m| {
                    let e = m.escrow.as_ref()?;
                    Some((
                        m.id,
                        e.status,
                        e.held(),
                        e.refund.as_ref().map(|r| r.client_share),
                    ))
                })
                .collect(),
            c.extra_payments
                .iter()
                .filter(|p| p.provider_refund_id.is_none())
                .map(|p| p.amount),
        )
    }

    /// The facts straight from a contract's serialized form (its serde JSON: a store's
    /// document), reading only the fields they come from: a whole-store verify reads a
    /// million of them, and decoding each whole contract was most of its cost.
    pub fn from_json(doc: &str) -> serde_json::Result<ContractFacts> {
        let d: FactsDoc = serde_json::from_str(doc)?;
        let of = |id: MilestoneId, e: FactsEscrow| {
            (
                id,
                e.status,
                e.amount - e.charged_back - e.refunded_outside,
                e.refund.map(|r| r.client_share),
            )
        };
        // A record stored before milestones: its escrow is milestone 1's.
        let (count, escrows) = match d.milestones.is_empty() {
            true => (
                1,
                d.escrow
                    .map(|e| of(MilestoneId::FIRST, e))
                    .into_iter()
                    .collect(),
            ),
            false => (
                d.milestones.len(),
                d.milestones
                    .into_iter()
                    .filter_map(|m| Some(of(m.id, m.escrow?)))
                    .collect(),
            ),
        };
        Ok(ContractFacts::new(
            d.id,
            d.currency,
            count,
            escrows,
            d.extra_payments
                .iter()
                .filter(|p| p.provider_refund_id.is_none())
                .map(|p| p.amount),
        ))
    }

    /// What the refund account must hold: the extra payments not yet refunded, plus the
    /// client's share of each refund the provider has not confirmed (an escrow
    /// `refund_pending`).
    fn new(
        id: ContractId,
        currency: Currency,
        milestones: usize,
        escrows: Vec<EscrowFacts>,
        unrefunded_extra: impl Iterator<Item = MinorUnits>,
    ) -> ContractFacts {
        let pending: MinorUnits = escrows
            .iter()
            .filter(|e| {
                matches!(
                    e.1,
                    EscrowStatus::RefundPending | EscrowStatus::RefundFailed
                )
            })
            .map(|e| e.3.unwrap_or(MinorUnits::ZERO))
            .sum();
        ContractFacts {
            id,
            milestones,
            escrows: escrows
                .into_iter()
                .map(|(m, status, amount, _)| (m, status, amount))
                .collect(),
            refund_owed: unrefunded_extra.sum::<MinorUnits>() + pending,
            currency,
        }
    }
}

/// The fields of [`Contract`]'s serialized form that [`ContractFacts`] come from (same names:
/// `from_json` and `of` agree, a test checks it on contracts of every kind).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct FactsDoc {
    id: ContractId,
    currency: Currency,
    /// Only in records stored before milestones.
    #[serde(default)]
    escrow: Option<FactsEscrow>,
    #[serde(default)]
    milestones: Vec<FactsMilestone>,
    extra_payments: Vec<FactsExtraPayment>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct FactsMilestone {
    id: MilestoneId,
    escrow: Option<FactsEscrow>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct FactsEscrow {
    status: EscrowStatus,
    amount: MinorUnits,
    #[serde(default)]
    charged_back: MinorUnits,
    #[serde(default)]
    refunded_outside: MinorUnits,
    refund: Option<FactsRefund>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct FactsRefund {
    client_share: MinorUnits,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct FactsExtraPayment {
    amount: MinorUnits,
    provider_refund_id: Option<serde::de::IgnoredAny>,
}

impl Verifier {
    pub fn new() -> Verifier {
        Verifier::default()
    }

    /// Entries may come in any order; in id order (as the stores scan them) a transfer's
    /// entries come together, so a transfer is checked as soon as the next one starts and no
    /// table of every transfer is built. Out of order, a transfer that does not sum to zero
    /// when the next one starts waits in a table for the rest of its entries; the sums are the
    /// same either way, only `counts.transfers` then counts each run of a transfer's entries.
    pub fn add_entry(&mut self, e: &LedgerEntry) {
        self.counts.entries += 1;
        let amount = e.amount.get() as i128;
        // Keys are cloned only the first time they are seen: a million contracts bring
        // millions of entries, and most of them hit a key already there.
        let key = (e.account.clone(), e.currency);
        match self.balances.get_mut(&key) {
            Some(b) => {
                b.0 += amount;
                b.1 += 1;
            }
            None => {
                self.balances.insert(key, (amount, 1));
            }
        }
        match &mut self.transfer {
            Some((id, sum, _)) if *id == e.transfer_id => *sum += amount,
            current => {
                let done = current.replace((e.transfer_id.clone(), amount, e.owner.clone()));
                self.counts.transfers += 1;
                if let Some(done) = done {
                    self.close_transfer(done);
                }
            }
        }
        if e.kind == TransferKind::Release {
            let month = match &self.last_month {
                Some((start, end, month)) if (*start..*end).contains(&e.at) => month.clone(),
                _ => {
                    let (month, start, end) = KeptMonth::bounds_of(e.at);
                    self.last_month = Some((start, end, month.clone()));
                    month
                }
            };
            let m = self.months.entry((e.currency, month)).or_default();
            KeptMonth::add_release(m, e);
        }
        if e.kind == TransferKind::Fund
            && let Account::Escrow(m) = &e.account
        {
            *self.funds_per_milestone.entry(m.clone()).or_insert(0) += 1;
        }
        if matches!(
            e.kind,
            TransferKind::PayoutSent | TransferKind::ChargebackRecovered
        ) && matches!(e.account, Account::Payout(_))
            && let Some(p) = e.owner.payout()
        {
            *self.sends_per_payout.entry(p.clone()).or_insert(0) += 1;
        }
    }

    /// A run of one transfer's entries has ended: it must sum to zero, with the rest of its
    /// entries if some come later.
    fn close_transfer(&mut self, (id, sum, contract): (String, i128, Owner)) {
        match self.split_transfers.get_mut(&id) {
            Some(t) => t.0 += sum,
            None if sum != 0 => {
                self.split_transfers.insert(id, (sum, contract));
            }
            None => {}
        }
    }

    pub fn add_payout(&mut self, p: &Payout) {
        self.counts.payouts += 1;
        self.payouts.push(PayoutFacts::of(p));
    }

    pub fn add_contract(&mut self, c: &Contract) {
        self.add_facts(ContractFacts::of(c));
    }

    pub fn add_facts(&mut self, facts: ContractFacts) {
        self.counts.contracts += 1;
        if !facts.escrows.is_empty() {
            self.counts.escrows += 1;
        }
        self.contracts.push(facts);
    }

    /// The contracts another verifier took (one that read the contracts while this one read
    /// the entries).
    pub fn add_contracts_of(&mut self, other: Verifier) {
        self.counts.contracts += other.counts.contracts;
        self.counts.escrows += other.counts.escrows;
        self.contracts.extend(other.contracts);
    }

    /// A wallet balance as the store reports it (for the "balance = sum of entries" rule).
    pub fn add_wallet_balance(&mut self, user_id: &str, currency: Currency, balance: MinorUnits) {
        self.wallets.push((user_id.to_string(), currency, balance));
    }

    /// The balances the store keeps (for the "kept balance = sum of entries" rules).
    pub fn add_kept_balances(&mut self, kept: KeptBalances) {
        self.counts.kept_balances = (kept.accounts.len() + kept.kinds.len()) as u64;
        self.kept = Some(kept);
    }

    pub fn finish(mut self) -> Report {
        if let Some(last) = self.transfer.take() {
            self.close_transfer(last);
        }
        let mut v = Vec::new();
        let mut counts = std::mem::take(&mut self.counts);
        counts.accounts = self.balances.len() as u64;
        counts.wallets = self.wallets.len() as u64;

        let mut per_currency: BTreeMap<Currency, i128> = BTreeMap::new();
        for ((_, cur), (b, _)) in &self.balances {
            *per_currency.entry(*cur).or_insert(0) += b;
        }
        for (cur, sum) in per_currency {
            if sum != 0 {
                v.push(Violation {
                    rule: "accounts_sum_to_zero",
                    ids: vec![cur.to_string()],
                    detail: format!("all {cur} accounts sum to {sum}, not 0"),
                });
            }
        }
        let mut unbalanced: Vec<_> = self
            .split_transfers
            .iter()
            .filter(|(_, (sum, _))| *sum != 0)
            .collect();
        unbalanced.sort();
        for (id, (sum, contract)) in unbalanced {
            v.push(Violation {
                rule: "transfer_balances",
                ids: vec![id.clone(), contract.to_string()],
                detail: format!("transfer sums to {sum}"),
            });
        }
        let mut negative: Vec<_> = self
            .balances
            .iter()
            .filter(|((account, _), (b, _))| matches!(account, Account::Escrow(_)) && *b < 0)
            .collect();
        negative.sort();
        for ((account, cur), b) in negative {
            v.push(Violation {
                rule: "escrow_not_negative",
                ids: vec![account.to_string()],
                detail: format!("balance {} {cur}", b.0),
            });
        }
        for c in std::mem::take(&mut self.contracts) {
            let sum_of = |key: &(Account, Currency)| self.balances.get(key).map_or(0, |b| b.0);
            // Every milestone's escrow account holds what its escrow says, and was funded
            // once if it was funded at all.
            // The contract's id moves into each key and back out: no id is copied.
            let mut id = c.id;
            for n in 1..=c.milestones {
                let Some(milestone) = MilestoneId::new(n) else {
                    break;
                };
                let key = (
                    Account::Escrow(MilestoneRef::new(id, milestone)),
                    c.currency,
                );
                let escrow_balance = sum_of(&key);
                let funds = match &key.0 {
                    Account::Escrow(name) => self.funds_per_milestone.get(name).copied(),
                    _ => unreachable!(),
                }
                .unwrap_or(0);
                let shown = || key.0.to_string();
                let owner = || match &key.0 {
                    Account::Escrow(name) => vec![name.contract.to_string()],
                    _ => unreachable!(),
                };
                match c.escrows.iter().find(|e| e.0 == milestone) {
                    None => {
                        if escrow_balance != 0 {
                            v.push(Violation {
                                rule: "unfunded_escrow_is_empty",
                                ids: owner(),
                                detail: format!(
                                    "{} holds {escrow_balance} with no escrow",
                                    shown()
                                ),
                            });
                        }
                        if funds != 0 {
                            v.push(Violation {
                                rule: "one_payment_per_funded_escrow",
                                ids: owner(),
                                detail: format!(
                                    "{funds} funding transfers into {}, which is unfunded",
                                    shown()
                                ),
                            });
                        }
                    }
                    Some(&(_, status, amount)) => {
                        if funds != 1 {
                            v.push(Violation {
                                rule: "one_payment_per_funded_escrow",
                                ids: owner(),
                                detail: format!(
                                    "{funds} funding transfers into {}, expected exactly 1",
                                    shown()
                                ),
                            });
                        }
                        let expected = if status == EscrowStatus::Funded {
                            amount.get() as i128
                        } else {
                            0
                        };
                        if escrow_balance != expected {
                            let rule = if status == EscrowStatus::Funded {
                                "funded_escrow_holds_its_amount"
                            } else {
                                "closed_escrow_is_zero"
                            };
                            v.push(Violation {
                                rule,
                                ids: owner(),
                                detail: format!(
                                    "{} ({}) holds {escrow_balance}, expected {expected}",
                                    shown(),
                                    status.as_str()
                                ),
                            });
                        }
                    }
                }
                let Account::Escrow(name) = key.0 else {
                    unreachable!()
                };
                id = name.contract;
            }
            let key = (Account::Refund(id), c.currency);
            let refund_balance = sum_of(&key);
            let Account::Refund(id) = key.0 else {
                unreachable!()
            };
            if refund_balance != c.refund_owed.get() as i128 {
                v.push(Violation {
                    rule: "refund_account_matches_owed",
                    ids: vec![id.to_string()],
                    detail: format!(
                        "refund account holds {refund_balance}, owed {}",
                        c.refund_owed
                    ),
                });
            }
        }
        self.check_payouts(&mut v);
        for (user, cur, reported) in &self.wallets {
            let account = Account::Wallet(user.parse().expect("wallet ids are valid"));
            let sum = self.balances.get(&(account, *cur)).map_or(0, |b| b.0);
            if sum != reported.get() as i128 {
                v.push(Violation {
                    rule: "wallet_balance_is_sum_of_entries",
                    ids: vec![user.clone()],
                    detail: format!("reported {reported}, entries sum to {sum}"),
                });
            }
        }
        if let Some(mut kept) = self.kept {
            let accounts = std::mem::take(&mut kept.accounts);
            kept_balances_match(accounts, &kept.kinds, self.balances, &mut v);
            if let Some(months) = &kept.months {
                kept_months_match(months, &self.months, &mut v);
            }
            if let Some(lists) = kept.lists {
                let read = (counts.contracts, counts.escrows);
                if (lists.contracts, lists.escrows) != read {
                    v.push(Violation {
                        rule: "kept_count_is_count_of_contracts",
                        ids: vec![],
                        detail: format!(
                            "kept {} contracts, {} with an escrow; read {} and {}",
                            lists.contracts, lists.escrows, read.0, read.1
                        ),
                    });
                }
            }
        }
        Report {
            counts,
            violations: v,
        }
    }
}

impl Verifier {
    /// No wallet below zero; every payout's account holds what its status says (its amount
    /// while pending, nothing otherwise), every payout account belongs to a payout, and every
    /// paid payout has exactly one transfer behind it (one `payout_sent`, and a provider
    /// transfer no other payout names).
    fn check_payouts(&mut self, v: &mut Vec<Violation>) {
        let mut negative: Vec<_> = self
            .balances
            .iter()
            .filter(|((account, _), (b, _))| matches!(account, Account::Wallet(_)) && *b < 0)
            .map(|((account, cur), (b, _))| (account.to_string(), *cur, *b))
            .collect();
        negative.sort();
        for (account, cur, b) in negative {
            v.push(Violation {
                rule: "wallet_not_negative",
                ids: vec![account],
                detail: format!("balance {b} {cur}"),
            });
        }
        let mut known = std::collections::HashSet::new();
        let mut transfers: HashMap<&str, &PayoutId> = HashMap::default();
        for p in &self.payouts {
            known.insert(p.id.clone());
            let key = (Account::Payout(p.id.clone()), p.currency);
            let held = self.balances.get(&key).map_or(0, |b| b.0);
            if held != p.holds.get() as i128 {
                v.push(Violation {
                    rule: "payout_account_matches_status",
                    ids: vec![p.id.to_string()],
                    detail: format!(
                        "payout {} holds {held}, expected {}",
                        p.status.as_str(),
                        p.holds
                    ),
                });
            }
            let sends = self.sends_per_payout.get(&p.id).copied().unwrap_or(0);
            let paid = matches!(p.status, PayoutStatus::Paid | PayoutStatus::Reversed);
            if sends != u32::from(paid) || (paid && p.transfer_id.is_none() && !p.recovery) {
                v.push(Violation {
                    rule: "paid_payout_has_one_transfer",
                    ids: vec![p.id.to_string()],
                    detail: format!(
                        "payout {} has {sends} sent transfers and provider transfer {:?}",
                        p.status.as_str(),
                        p.transfer_id
                    ),
                });
            }
            if let Some(t) = p.transfer_id.as_deref()
                && let Some(other) = transfers.insert(t, &p.id)
            {
                v.push(Violation {
                    rule: "paid_payout_has_one_transfer",
                    ids: vec![p.id.to_string(), other.to_string()],
                    detail: format!("two payouts name provider transfer {t}"),
                });
            }
        }
        let mut orphans: Vec<_> = self
            .balances
            .iter()
            .filter_map(|((account, cur), (b, _))| match account {
                Account::Payout(id) if !known.contains(id) && *b != 0 => {
                    Some((id.to_string(), *cur, *b))
                }
                _ => None,
            })
            .collect();
        orphans.sort();
        for (id, cur, b) in orphans {
            v.push(Violation {
                rule: "payout_account_matches_status",
                ids: vec![id],
                detail: format!("holds {b} {cur} and no payout has it"),
            });
        }
    }
}

/// Every kept balance equals the sum of its account's entries, every account whose entries do
/// not sum to zero has one, and so for the totals per kind. Takes both lists: each kept
/// account's name moves into the key that finds (and removes) its sum, so none is copied,
/// and what is left are the accounts without a kept balance.
fn kept_balances_match(
    accounts: Vec<(Account, Currency, MinorUnits, u64)>,
    kinds: &[(String, Currency, MinorUnits)],
    mut sums: HashMap<(Account, Currency), (i128, u64)>,
    v: &mut Vec<Violation>,
) {
    let mut kind_sums: BTreeMap<(&str, Currency), i128> = BTreeMap::new();
    for (account, cur, balance, entries) in accounts {
        let key = (account, cur);
        let (sum, count) = sums.remove(&key).unwrap_or((0, 0));
        let account = key.0;
        *kind_sums.entry((account.kind(), cur)).or_insert(0) += sum;
        if sum != balance.get() as i128 || count != entries {
            v.push(Violation {
                rule: "kept_balance_is_sum_of_entries",
                ids: vec![account.to_string()],
                detail: format!(
                    "kept {balance} {cur} over {entries} entries, the entries are {count} summing to {sum}"
                ),
            });
        }
    }
    let mut unkept = vec![];
    for ((account, cur), (sum, _)) in sums {
        *kind_sums.entry((account.kind(), cur)).or_insert(0) += sum;
        if sum != 0 {
            unkept.push((account, cur, sum));
        }
    }
    unkept.sort();
    for (account, cur, sum) in unkept {
        v.push(Violation {
            rule: "kept_balance_is_sum_of_entries",
            ids: vec![account.to_string()],
            detail: format!("no kept balance, entries sum to {sum} {cur}"),
        });
    }
    let mut kinds_seen = std::collections::HashSet::new();
    for (kind, cur, balance) in kinds {
        let sum = kind_sums.get(&(kind.as_str(), *cur)).copied().unwrap_or(0);
        kinds_seen.insert((kind.as_str(), *cur));
        if sum != balance.get() as i128 {
            v.push(Violation {
                rule: "kept_total_is_sum_of_entries",
                ids: vec![kind.clone()],
                detail: format!(
                    "kept {balance} {cur} over every {kind} account, entries sum to {sum}"
                ),
            });
        }
    }
    // Only the escrow total is read (held funds), so only it must be kept.
    for ((kind, cur), sum) in kind_sums {
        if kind == "escrow" && sum != 0 && !kinds_seen.contains(&(kind, cur)) {
            v.push(Violation {
                rule: "kept_total_is_sum_of_entries",
                ids: vec![kind.to_string()],
                detail: format!("no kept total, {kind} entries sum to {sum} {cur}"),
            });
        }
    }
}

/// Every kept month of the sales report equals what its release entries sum to, and every month
/// with releases is kept.
fn kept_months_match(
    kept: &[KeptMonth],
    sums: &BTreeMap<(Currency, String), [i64; 4]>,
    v: &mut Vec<Violation>,
) {
    let mut seen = std::collections::HashSet::new();
    for k in kept {
        let key = (k.currency, k.month.clone());
        let sum = sums.get(&key).copied().unwrap_or_default();
        let have = [
            k.gross.get(),
            k.platform_fee.get(),
            k.freelancer_earning.get(),
            k.releases,
        ];
        if have != sum {
            v.push(Violation {
                rule: "kept_month_is_sum_of_releases",
                ids: vec![format!("{} {}", k.month, k.currency)],
                detail: format!(
                    "kept gross, fee, earning, releases {have:?}, the release entries give {sum:?}"
                ),
            });
        }
        seen.insert(key);
    }
    for (key, sum) in sums {
        if !seen.contains(key) {
            v.push(Violation {
                rule: "kept_month_is_sum_of_releases",
                ids: vec![format!("{} {}", key.1, key.0)],
                detail: format!("no kept month, the release entries give {sum:?}"),
            });
        }
    }
}
