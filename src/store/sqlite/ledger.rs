//! Reads over the whole ledger (`ledger_entries`): balances, the sales report, wallet pages,
//! and the scans `verify` makes.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::rows::{ENTRY_COLUMNS, account_range, entry_from_row, parsed, wallet_of};
use super::{SqliteStore, map_err};
use crate::domain::ledger::KeptMonth;
use crate::domain::{Account, Currency, KeptBalances, KeptLists, LedgerEntry, MinorUnits, UserId};
use crate::store::{LedgerStore, MonthRow, Page, StoreResult};

#[async_trait]
impl LedgerStore for SqliteStore {
    async fn entries_for_account(
        &self,
        account: &Account,
        currency: Currency,
        page: &Page,
    ) -> StoreResult<(u64, Vec<LedgerEntry>)> {
        let account = account.to_string();
        let (limit, offset) = (page.limit, page.offset() as i64);
        let (after_at, after_id) = super::rows::keyset(page);
        let (count, entries): (i64, Vec<LedgerEntry>) = self
            .with_conn(move |c| {
                // The count is kept with the balance (migration 6).
                let count = c
                    .prepare_cached("SELECT entries FROM account_balances WHERE account = ?1 AND currency = ?2")
                    .and_then(|mut s| s.query_row(params![account, currency.code()], |r| r.get(0)).optional())
                    .map_err(map_err)?
                    .unwrap_or(0);
                let rows = c
                    .prepare_cached(&format!("SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE account = ?1 AND currency = ?2 AND {} ORDER BY at DESC, id DESC LIMIT ?3 OFFSET ?4", super::rows::keyset_sql("at", "id", 5, 6)))
                    .and_then(|mut s| {
                        s.query_map(params![account, currency.code(), limit, offset, after_at, after_id], entry_from_row)?
                            .collect::<Result<Vec<_>, _>>()
                    })
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
        self.read_now(|c| {
            kept(
                c,
                "SELECT balance FROM account_balances WHERE account = ?1 AND currency = ?2",
                &account,
                currency,
            )
        })
    }

    async fn escrow_held(&self, currency: Currency) -> StoreResult<MinorUnits> {
        self.read_now(|c| {
            kept(
                c,
                "SELECT balance FROM kind_balances WHERE kind = ?1 AND currency = ?2",
                "escrow",
                currency,
            )
        })
    }

    async fn sales_by_month(
        &self,
        currency: Currency,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> StoreResult<Vec<MonthRow>> {
        let (from, to) = (from_ms.unwrap_or(i64::MIN), to_ms.unwrap_or(i64::MAX));
        self.with_conn(move |c| {
            // The whole months of the range from the kept rollups, the partial first and last
            // month (a range of days) from their own entries.
            let full = c
                .prepare_cached(
                    "SELECT month, gross, platform_fee, freelancer_earning, releases, starts_at, ends_at
                     FROM sales_months
                     WHERE currency = ?1 AND starts_at >= ?2 AND ends_at <= ?3 ORDER BY month",
                )
                .and_then(|mut s| {
                    s.query_map(params![currency.code(), from, to], |r| {
                        Ok((month_row(r)?, r.get::<_, i64>(5)?, r.get::<_, i64>(6)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()
                })
                .map_err(map_err)?;
            let (first, last) = match (full.first(), full.last()) {
                (Some(f), Some(l)) => (f.1, l.2),
                _ => (to, to),
            };
            let mut rows = if from < first {
                months_from_entries(c, currency, from, first)?
            } else {
                vec![]
            };
            rows.extend(full.into_iter().map(|(row, _, _)| row));
            if last < to {
                rows.extend(months_from_entries(c, currency, last, to)?);
            }
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
                    .prepare("SELECT account, balance FROM account_balances WHERE account >= ?1 AND account < ?2 AND currency = ?3 ORDER BY account")
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

    async fn kept_balances(&self) -> StoreResult<Option<KeptBalances>> {
        self.with_conn(|c| {
            let accounts = c
                .prepare("SELECT account, currency, balance, entries FROM account_balances ORDER BY account, currency")
                .and_then(|mut s| {
                    s.query_map([], |r| {
                        Ok((
                            parsed(r, 0, |a| a.parse::<Account>())?,
                            parsed(r, 1, |c| c.parse::<Currency>())?,
                            MinorUnits::new(r.get(2)?),
                            r.get::<_, i64>(3)? as u64,
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()
                })
                .map_err(map_err)?;
            let kinds = c
                .prepare("SELECT kind, currency, balance FROM kind_balances ORDER BY kind, currency")
                .and_then(|mut s| {
                    s.query_map([], |r| {
                        Ok((
                            r.get(0)?,
                            parsed(r, 1, |c| c.parse::<Currency>())?,
                            MinorUnits::new(r.get(2)?),
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()
                })
                .map_err(map_err)?;
            let months = c
                .prepare(
                    "SELECT currency, month, gross, platform_fee, freelancer_earning, releases
                     FROM sales_months ORDER BY currency, month",
                )
                .and_then(|mut s| {
                    s.query_map([], |r| {
                        Ok(KeptMonth {
                            currency: parsed(r, 0, |c| c.parse::<Currency>())?,
                            month: r.get(1)?,
                            gross: MinorUnits::new(r.get(2)?),
                            platform_fee: MinorUnits::new(r.get(3)?),
                            freelancer_earning: MinorUnits::new(r.get(4)?),
                            releases: r.get(5)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()
                })
                .map_err(map_err)?;
            let lists = c
                .query_row(
                    "SELECT COALESCE(SUM(n) FILTER (WHERE list = 'contracts'), 0),
                        COALESCE(SUM(n) FILTER (WHERE list = 'escrows'), 0)
                     FROM list_counts WHERE list IN ('contracts', 'escrows')",
                    [],
                    |r| {
                        Ok(KeptLists {
                            contracts: r.get::<_, i64>(0)? as u64,
                            escrows: r.get::<_, i64>(1)? as u64,
                        })
                    },
                )
                .map_err(map_err)?;
            Ok(Some(KeptBalances {
                accounts,
                kinds,
                months: Some(months),
                lists: Some(lists),
            }))
        })
        .await
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

/// One kept balance (`sql` selects `balance` by a name and a currency); none kept is zero.
fn kept(
    c: &rusqlite::Connection,
    sql: &'static str,
    name: &str,
    currency: Currency,
) -> StoreResult<MinorUnits> {
    c.prepare_cached(sql)
        .and_then(|mut s| {
            s.query_row(params![name, currency.code()], |r| r.get(0))
                .optional()
        })
        .map(|b| MinorUnits::new(b.unwrap_or(0)))
        .map_err(map_err)
}

/// `month, gross, platform_fee, freelancer_earning, count` as a report row.
fn month_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MonthRow> {
    Ok(MonthRow {
        month: r.get(0)?,
        gross: MinorUnits::new(r.get(1)?),
        platform_fee: MinorUnits::new(r.get(2)?),
        freelancer_earning: MinorUnits::new(r.get(3)?),
        count: r.get(4)?,
    })
}

/// The report's rows for `[from, to)` summed from the release entries themselves (for the part
/// of a month a range cuts), by the rule the kept months follow ([`KeptMonth::add_release`]).
fn months_from_entries(
    c: &rusqlite::Connection,
    currency: Currency,
    from: i64,
    to: i64,
) -> StoreResult<Vec<MonthRow>> {
    let entries = c
        .prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM ledger_entries
             WHERE kind = 'release' AND currency = ?1 AND at >= ?2 AND at < ?3"
        ))
        .and_then(|mut s| {
            s.query_map(params![currency.code(), from, to], entry_from_row)?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(map_err)?;
    let mut months: std::collections::BTreeMap<String, [i64; 4]> = Default::default();
    for e in &entries {
        KeptMonth::add_release(months.entry(KeptMonth::month_of(e.at)).or_default(), e);
    }
    Ok(months
        .into_iter()
        .map(|(month, [gross, fee, earning, releases])| MonthRow {
            month,
            gross: MinorUnits::new(gross),
            platform_fee: MinorUnits::new(fee),
            freelancer_earning: MinorUnits::new(earning),
            count: releases,
        })
        .collect())
}
