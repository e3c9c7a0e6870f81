//! Reads over the whole ledger (`ledger_entries`): balances, the sales report, wallet pages,
//! and the scans `verify` makes.

use async_trait::async_trait;
use rusqlite::params;

use super::rows::{ENTRY_COLUMNS, account_range, entry_from_row, wallet_of};
use super::{SqliteStore, map_err};
use crate::domain::{Account, Currency, LedgerEntry, MinorUnits, UserId};
use crate::store::{LedgerStore, MonthRow, Page, StoreResult};

#[async_trait]
impl LedgerStore for SqliteStore {
    async fn entries_for_account(
        &self,
        account: &Account,
        page: Page,
    ) -> StoreResult<(u64, Vec<LedgerEntry>)> {
        let account = account.to_string();
        let (count, entries): (i64, Vec<LedgerEntry>) = self
            .with_conn(move |c| {
                let count = c.query_row("SELECT COUNT(*) FROM ledger_entries WHERE account = ?1", [&account], |r| r.get(0)).map_err(map_err)?;
                let mut stmt = c
                    .prepare(&format!("SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE account = ?1 ORDER BY at DESC, id DESC LIMIT ?2 OFFSET ?3"))
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![account, page.limit, page.offset() as i64], entry_from_row)
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                Ok((count, rows))
            })
            .await?;
        Ok((count as u64, entries))
    }

    async fn account_balance(
        &self,
        account: &Account,
        currency: Currency,
    ) -> StoreResult<MinorUnits> {
        let account = account.to_string();
        self.with_conn(move |c| {
            c.query_row(
                "SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE account = ?1 AND currency = ?2",
                params![account, currency.code()],
                |r| r.get(0).map(MinorUnits::new),
            )
            .map_err(map_err)
        })
        .await
    }

    async fn escrow_held(&self, currency: Currency) -> StoreResult<MinorUnits> {
        let (lo, hi) = account_range("escrow");
        self.with_conn(move |c| {
            c.query_row(
                "SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE account >= ?1 AND account < ?2 AND currency = ?3",
                params![lo, hi, currency.code()],
                |r| r.get(0).map(MinorUnits::new),
            )
            .map_err(map_err)
        })
        .await
    }

    async fn sales_by_month(
        &self,
        currency: Currency,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> StoreResult<Vec<MonthRow>> {
        self.with_conn(move |c| {
            let mut stmt = c
                .prepare(
                    "SELECT strftime('%Y-%m', at / 1000, 'unixepoch') AS month,
                        COALESCE(SUM(CASE WHEN account >= 'escrow:' AND account < 'escrow;' THEN -amount ELSE 0 END), 0),
                        COALESCE(SUM(CASE WHEN account = 'platform:fees' THEN amount ELSE 0 END), 0),
                        COALESCE(SUM(CASE WHEN account >= 'wallet:' AND account < 'wallet;' THEN amount ELSE 0 END), 0),
                        COUNT(DISTINCT contract_id)
                     FROM ledger_entries
                     WHERE kind = 'release' AND currency = ?1 AND at >= ?2 AND at < ?3
                     GROUP BY month ORDER BY month",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params![currency.code(), from_ms.unwrap_or(i64::MIN), to_ms.unwrap_or(i64::MAX)], |r| {
                    Ok(MonthRow {
                        month: r.get(0)?,
                        gross: MinorUnits::new(r.get(1)?),
                        platform_fee: MinorUnits::new(r.get(2)?),
                        freelancer_earning: MinorUnits::new(r.get(3)?),
                        count: r.get(4)?,
                    })
                })
                .map_err(map_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(map_err)?;
            Ok(rows)
        })
        .await
    }

    async fn entries_after(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<LedgerEntry>> {
        let after = after.unwrap_or("").to_string();
        let entries: Vec<LedgerEntry> = self
            .with_conn(move |c| {
                let mut stmt = c.prepare(&format!("SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE id > ?1 ORDER BY id LIMIT ?2")).map_err(map_err)?;
                let rows = stmt.query_map(params![after, limit], entry_from_row).map_err(map_err)?.collect::<Result<Vec<_>, _>>().map_err(map_err)?;
                Ok(rows)
            })
            .await?;
        Ok(entries)
    }

    async fn wallet_balances(&self, currency: Currency) -> StoreResult<Vec<(UserId, MinorUnits)>> {
        let (lo, hi) = account_range("wallet");
        let rows: Vec<(String, i64)> = self
            .with_conn(move |c| {
                let mut stmt = c
                    .prepare("SELECT account, SUM(amount) FROM ledger_entries WHERE account >= ?1 AND account < ?2 AND currency = ?3 GROUP BY account ORDER BY account")
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![lo, hi, currency.code()], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                Ok(rows)
            })
            .await?;
        rows.into_iter()
            .map(|(account, balance)| Ok((wallet_of(&account)?, MinorUnits::new(balance))))
            .collect()
    }

    async fn count_entries(&self) -> StoreResult<u64> {
        self.with_conn(|c| {
            c.query_row("SELECT COUNT(*) FROM ledger_entries", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(map_err)
        })
        .await
    }
}
