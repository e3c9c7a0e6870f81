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
use super::ledger::{Account, KeptBalances, KeptMonth, LedgerEntry, TransferKind};
use super::money::{Currency, MinorUnits};

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
    balances: HashMap<(Account, Currency), i128>,
    /// How many entries each account has (checked against a store's kept count).
    entry_counts: HashMap<(Account, Currency), u64>,
    transfers: HashMap<String, (i128, String)>,
    funds_per_contract: HashMap<String, u32>,
    contracts: Vec<ContractFacts>,
    wallets: Vec<(String, Currency, MinorUnits)>,
    kept: Option<KeptBalances>,
    /// Per currency and month: gross, fee, earning and releases, from the release entries.
    months: BTreeMap<(Currency, String), [i64; 4]>,
    /// The month of the last release entry seen, with its bounds (Unix ms): entries come by
    /// contract, so the next one is most likely in it.
    last_month: Option<(i64, i64, String)>,
    counts: Counts,
}

struct ContractFacts {
    id: String,
    escrow: Option<(EscrowStatus, MinorUnits)>,
    /// What the refund account must hold: owed and not yet confirmed by the provider.
    refund_owed: MinorUnits,
    currency: Currency,
}

impl Verifier {
    pub fn new() -> Verifier {
        Verifier::default()
    }

    pub fn add_entry(&mut self, e: &LedgerEntry) {
        self.counts.entries += 1;
        // Keys are cloned only the first time they are seen: a million contracts bring
        // millions of entries, and most of them hit a key already there.
        let key = (e.account.clone(), e.currency);
        match self.balances.get_mut(&key) {
            Some(b) => *b += e.amount.get() as i128,
            None => {
                self.balances.insert(key.clone(), e.amount.get() as i128);
            }
        }
        *self.entry_counts.entry(key).or_insert(0) += 1;
        match self.transfers.get_mut(&e.transfer_id) {
            Some(t) => t.0 += e.amount.get() as i128,
            None => {
                self.transfers.insert(
                    e.transfer_id.clone(),
                    (e.amount.get() as i128, e.contract_id.to_string()),
                );
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
        if e.kind == TransferKind::Fund && matches!(e.account, Account::Escrow(_)) {
            *self
                .funds_per_contract
                .entry(e.contract_id.to_string())
                .or_insert(0) += 1;
        }
    }

    pub fn add_contract(&mut self, c: &Contract) {
        self.counts.contracts += 1;
        let escrow = c.escrow.as_ref().map(|e| (e.status, e.amount));
        if escrow.is_some() {
            self.counts.escrows += 1;
        }
        let mut refund_owed: MinorUnits = c
            .extra_payments
            .iter()
            .filter(|p| p.provider_refund_id.is_none())
            .map(|p| p.amount)
            .sum();
        if let Some(e) = &c.escrow
            && e.status == EscrowStatus::RefundPending
        {
            refund_owed += e
                .refund
                .as_ref()
                .map_or(MinorUnits::ZERO, |r| r.client_share);
        }
        self.contracts.push(ContractFacts {
            id: c.id.to_string(),
            escrow,
            refund_owed,
            currency: c.currency,
        });
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

    pub fn finish(self) -> Report {
        let mut v = Vec::new();
        let mut counts = self.counts;
        counts.transfers = self.transfers.len() as u64;
        counts.accounts = self.balances.len() as u64;
        counts.wallets = self.wallets.len() as u64;

        let mut per_currency: BTreeMap<Currency, i128> = BTreeMap::new();
        for ((_, cur), b) in &self.balances {
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
            .transfers
            .iter()
            .filter(|(_, (sum, _))| *sum != 0)
            .collect();
        unbalanced.sort();
        for (id, (sum, contract)) in unbalanced {
            v.push(Violation {
                rule: "transfer_balances",
                ids: vec![id.clone(), contract.clone()],
                detail: format!("transfer sums to {sum}"),
            });
        }
        let mut negative: Vec<_> = self
            .balances
            .iter()
            .filter(|((account, _), b)| matches!(account, Account::Escrow(_)) && **b < 0)
            .collect();
        negative.sort();
        for ((account, cur), b) in negative {
            v.push(Violation {
                rule: "escrow_not_negative",
                ids: vec![account.to_string()],
                detail: format!("balance {b} {cur}"),
            });
        }
        for c in &self.contracts {
            let escrow_balance = self
                .balances
                .get(&(
                    Account::Escrow(c.id.parse().expect("contract ids are valid")),
                    c.currency,
                ))
                .copied()
                .unwrap_or(0);
            let refund_balance = self
                .balances
                .get(&(
                    Account::Refund(c.id.parse().expect("contract ids are valid")),
                    c.currency,
                ))
                .copied()
                .unwrap_or(0);
            let funds = self.funds_per_contract.get(&c.id).copied().unwrap_or(0);
            match c.escrow {
                None => {
                    if escrow_balance != 0 {
                        v.push(Violation {
                            rule: "unfunded_escrow_is_empty",
                            ids: vec![c.id.clone()],
                            detail: format!("escrow account holds {escrow_balance} with no escrow"),
                        });
                    }
                    if funds != 0 {
                        v.push(Violation {
                            rule: "one_payment_per_funded_escrow",
                            ids: vec![c.id.clone()],
                            detail: format!("{funds} funding transfers for an unfunded contract"),
                        });
                    }
                }
                Some((status, amount)) => {
                    if funds != 1 {
                        v.push(Violation {
                            rule: "one_payment_per_funded_escrow",
                            ids: vec![c.id.clone()],
                            detail: format!("{funds} funding transfers, expected exactly 1"),
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
                            ids: vec![c.id.clone()],
                            detail: format!(
                                "escrow {} holds {escrow_balance}, expected {expected}",
                                status.as_str()
                            ),
                        });
                    }
                }
            }
            if refund_balance != c.refund_owed.get() as i128 {
                v.push(Violation {
                    rule: "refund_account_matches_owed",
                    ids: vec![c.id.clone()],
                    detail: format!(
                        "refund account holds {refund_balance}, owed {}",
                        c.refund_owed
                    ),
                });
            }
        }
        for (user, cur, reported) in &self.wallets {
            let account = Account::Wallet(user.parse().expect("wallet ids are valid"));
            let sum = self.balances.get(&(account, *cur)).copied().unwrap_or(0);
            if sum != reported.get() as i128 {
                v.push(Violation {
                    rule: "wallet_balance_is_sum_of_entries",
                    ids: vec![user.clone()],
                    detail: format!("reported {reported}, entries sum to {sum}"),
                });
            }
        }
        if let Some(kept) = &self.kept {
            kept_balances_match(kept, &self.balances, &self.entry_counts, &mut v);
            if let Some(months) = &kept.months {
                kept_months_match(months, &self.months, &mut v);
            }
        }
        Report {
            counts,
            violations: v,
        }
    }
}

/// Every kept balance equals the sum of its account's entries, every account whose entries do
/// not sum to zero has one, and so for the totals per kind.
fn kept_balances_match(
    kept: &KeptBalances,
    sums: &HashMap<(Account, Currency), i128>,
    counts: &HashMap<(Account, Currency), u64>,
    v: &mut Vec<Violation>,
) {
    let mut seen = std::collections::HashSet::new();
    for (account, cur, balance, entries) in &kept.accounts {
        let key = (account.clone(), *cur);
        let sum = sums.get(&key).copied().unwrap_or(0);
        let count = counts.get(&key).copied().unwrap_or(0);
        seen.insert((account, *cur));
        if sum != balance.get() as i128 || count != *entries {
            v.push(Violation {
                rule: "kept_balance_is_sum_of_entries",
                ids: vec![account.to_string()],
                detail: format!(
                    "kept {balance} {cur} over {entries} entries, the entries are {count} summing to {sum}"
                ),
            });
        }
    }
    let mut kind_sums: BTreeMap<(&str, Currency), i128> = BTreeMap::new();
    let mut unkept = vec![];
    for ((account, cur), sum) in sums {
        *kind_sums.entry((account.kind(), *cur)).or_insert(0) += sum;
        if *sum != 0 && !seen.contains(&(account, *cur)) {
            unkept.push((account, *cur, *sum));
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
    for (kind, cur, balance) in &kept.kinds {
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
