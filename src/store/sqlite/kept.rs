//! Kept balances (migration 6) and sales months (migration 7), moved by the entries of each
//! save in the transaction that inserts them.
//!
//! An entity's account (an escrow, a refund, a wallet) is moved at once, by the write itself.
//! The rows every write moves (the platform's and the provider's accounts, the held total, the
//! month's releases) are summed over the writer's batch and written once, just before the
//! batch commits: the writer runs each write in a savepoint, and a page that one write of the
//! batch changed is copied to the statement journal before the next changes it again, so
//! moving those few rows once per write made every write pay for the others'. A write that
//! fails drops its share with its savepoint; a batch that fails to commit writes nothing. No
//! write reads the kept rows (reads use their own connections and see only commits).

use std::cell::RefCell;
use std::collections::BTreeMap;

use rusqlite::{Connection, params};

use super::map_err;
use crate::domain::ledger::KeptMonth;
use crate::domain::{Account, LedgerEntry, TransferKind};
use crate::store::StoreResult;

/// Moves of kept rows, summed: per account and currency (balance, entries), the escrow total
/// per currency, per currency and month (gross, fee, earning, releases; its bounds).
#[derive(Default)]
struct Moves {
    accounts: BTreeMap<(String, &'static str), (i64, i64)>,
    held: BTreeMap<&'static str, i64>,
    months: BTreeMap<(&'static str, String), ([i64; 4], i64, i64)>,
}

impl Moves {
    fn add(&mut self, other: Moves) {
        for (k, (b, n)) in other.accounts {
            let a = self.accounts.entry(k).or_default();
            a.0 += b;
            a.1 += n;
        }
        for (k, b) in other.held {
            *self.held.entry(k).or_default() += b;
        }
        for (k, (m, starts, ends)) in other.months {
            let have = &mut self.months.entry(k).or_insert(([0; 4], starts, ends)).0;
            for (h, x) in have.iter_mut().zip(m) {
                *h += x;
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.held.is_empty() && self.months.is_empty()
    }

    fn write(&self, tx: &Connection) -> StoreResult<()> {
        let mut account = tx
            .prepare_cached(
                "INSERT INTO account_balances (account, currency, balance, entries) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account, currency) DO UPDATE SET
                     balance = balance + excluded.balance, entries = entries + excluded.entries",
            )
            .map_err(map_err)?;
        for ((name, cur), (delta, count)) in &self.accounts {
            account
                .execute(params![name, cur, delta, count])
                .map_err(map_err)?;
        }
        for (cur, delta) in &self.held {
            tx.prepare_cached(
                "INSERT INTO kind_balances (kind, currency, balance) VALUES ('escrow', ?1, ?2)
                 ON CONFLICT (kind, currency) DO UPDATE SET balance = balance + excluded.balance",
            )
            .and_then(|mut s| s.execute(params![cur, delta]))
            .map_err(map_err)?;
        }
        for ((cur, month), (m, starts, ends)) in &self.months {
            tx.prepare_cached(
                "INSERT INTO sales_months VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (currency, month) DO UPDATE SET
                     gross = gross + excluded.gross,
                     platform_fee = platform_fee + excluded.platform_fee,
                     freelancer_earning = freelancer_earning + excluded.freelancer_earning,
                     releases = releases + excluded.releases",
            )
            .and_then(|mut s| s.execute(params![cur, month, starts, ends, m[0], m[1], m[2], m[3]]))
            .map_err(map_err)?;
        }
        Ok(())
    }
}

/// The shared moves of the write running now and of the batch's writes that succeeded; only
/// the writer thread runs writes.
#[derive(Default)]
struct Shared {
    write: Moves,
    batch: Moves,
}

thread_local! {
    static SHARED: RefCell<Shared> = RefCell::new(Shared::default());
}

/// Moves the kept rows by `entries`: an entity's accounts now, the shared rows with the batch.
pub(super) fn keep_balances(tx: &Connection, entries: &[LedgerEntry]) -> StoreResult<()> {
    let mut own = Moves::default();
    let mut shared = Moves::default();
    for e in entries {
        let cur = e.currency.code();
        let to = match e.account {
            Account::Escrow(_) | Account::Refund(_) | Account::Wallet(_) | Account::Payout(_) => {
                &mut own
            }
            Account::ExternalStripe | Account::PlatformFees | Account::PlatformChargebacks => {
                &mut shared
            }
        };
        let a = to.accounts.entry((e.account.to_string(), cur)).or_default();
        a.0 += e.amount.get();
        a.1 += 1;
        if matches!(e.account, Account::Escrow(_)) {
            *shared.held.entry(cur).or_default() += e.amount.get();
        }
        if e.kind == TransferKind::Release {
            let (month, starts, ends) = KeptMonth::bounds_of(e.at);
            let m = &mut shared
                .months
                .entry((cur, month))
                .or_insert(([0; 4], starts, ends))
                .0;
            KeptMonth::add_release(m, e);
        }
    }
    own.write(tx)?;
    SHARED.with(|s| s.borrow_mut().write.add(shared));
    Ok(())
}

/// The writer starts a batch: nothing is pending.
pub(super) fn batch_started() {
    SHARED.with(|s| *s.borrow_mut() = Shared::default());
}

/// The writer's write ended: its shared moves join the batch's if it succeeded (its savepoint
/// was released), or are dropped with its rollback.
pub(super) fn write_ended(succeeded: bool) {
    SHARED.with(|s| {
        let mut s = s.borrow_mut();
        let write = std::mem::take(&mut s.write);
        if succeeded {
            s.batch.add(write);
        }
    });
}

/// Writes the batch's shared moves, in its transaction, before it commits.
pub(super) fn batch_committing(tx: &Connection) -> StoreResult<()> {
    let batch = SHARED.with(|s| std::mem::take(&mut s.borrow_mut().batch));
    if batch.is_empty() {
        return Ok(());
    }
    batch.write(tx)
}
