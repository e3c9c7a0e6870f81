//! Reads over the whole ledger: the `ledger_entries` projection, aggregated. Every read first
//! finishes any projection a crash interrupted ([`MongoStore::repair_projection`]).

use async_trait::async_trait;
use bson::{Document, doc};
use mongodb::Collection;

use super::docs::{EntryDoc, KeyedTotal, MonthGroup};
use super::{MongoStore, collect, map_err};
use crate::domain::{Account, Currency, KeptBalances, LedgerEntry, MinorUnits, UserId};
use crate::store::{LedgerStore, MonthRow, Page, StoreError, StoreResult};

impl MongoStore {
    /// Reads of `ledger_entries` go through here: first finish any interrupted projection.
    pub(super) async fn projected(&self) -> StoreResult<&Collection<EntryDoc>> {
        self.repair_projection().await?;
        Ok(&self.entries)
    }

    /// Released escrows per month of release within `[from_ms, to_ms)`, summed from the
    /// entries (what the kept months do not cover: the cut first and last month of a range).
    /// Call it after [`MongoStore::kept_months`], which repairs the projection.
    async fn months_from_entries(
        &self,
        currency: Currency,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> StoreResult<Vec<MonthRow>> {
        let mut filter = doc! {"kind": "release", "currency": currency.code()};
        let mut at = Document::new();
        if let Some(from) = from_ms {
            at.insert("$gte", from);
        }
        if let Some(to) = to_ms {
            at.insert("$lt", to);
        }
        if !at.is_empty() {
            filter.insert("at", at);
        }
        let when = |t: &str| doc! {"$cond": [{"$eq": ["$accountType", t]}, "$amount", 0_i64]};
        let pipeline = [
            doc! {"$match": filter},
            doc! {"$group": {
                "_id": "$month",
                "escrow": {"$sum": when("escrow")},
                "fee": {"$sum": when("platform")},
                "earning": {"$sum": when("wallet")},
                // A release has exactly one escrow line: counting them counts the contracts.
                "count": {"$sum": {"$cond": [{"$eq": ["$accountType", "escrow"]}, 1_i64, 0_i64]}},
            }},
            doc! {"$sort": {"_id": 1}},
        ];
        // Only after `kept_months`, which finished any interrupted projection already.
        let cursor = self
            .entries
            .aggregate(pipeline)
            .with_type::<MonthGroup>()
            .await
            .map_err(map_err)?;
        Ok(collect(cursor)
            .await?
            .into_iter()
            .map(|g| MonthRow {
                month: g.month,
                gross: MinorUnits::new(-g.escrow),
                platform_fee: MinorUnits::new(g.fee),
                freelancer_earning: MinorUnits::new(g.earning),
                count: g.count,
            })
            .collect())
    }
}

#[async_trait]
impl LedgerStore for MongoStore {
    async fn entries_for_account(
        &self,
        account: &Account,
        currency: Currency,
        page: &Page,
    ) -> StoreResult<(u64, Vec<LedgerEntry>)> {
        let filter = doc! {"account": account.to_string(), "currency": currency.code()};
        let entries = self.projected().await?;
        let count = entries
            .count_documents(filter.clone())
            .await
            .map_err(map_err)?;
        let cursor = entries
            .find(super::keyset_filter(filter, "at", page))
            .sort(doc! {"at": -1, "_id": -1})
            .skip(page.offset())
            .limit(page.limit.into())
            .await
            .map_err(map_err)?;
        Ok((
            count,
            collect(cursor).await?.into_iter().map(Into::into).collect(),
        ))
    }

    async fn account_balance(
        &self,
        account: &Account,
        currency: Currency,
    ) -> StoreResult<MinorUnits> {
        self.account_kept(account, currency).await
    }

    async fn escrow_held(&self, currency: Currency) -> StoreResult<MinorUnits> {
        self.kind_kept("escrow", currency).await
    }

    async fn sales_by_month(
        &self,
        currency: Currency,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> StoreResult<Vec<MonthRow>> {
        // The whole months of the range from the kept months, the cut first and last month
        // (a range of days) from their own entries, as SQLite does.
        let (from, to) = (from_ms.unwrap_or(i64::MIN), to_ms.unwrap_or(i64::MAX));
        let full: Vec<_> = self
            .kept_months(currency)
            .await?
            .into_iter()
            .filter(|m| m.starts_at >= from && m.ends_at <= to && m.totals != [0; 4])
            .collect();
        let (first, last) = match (full.first(), full.last()) {
            (Some(f), Some(l)) => (f.starts_at, l.ends_at),
            _ => (to, to),
        };
        let mut rows = if from < first {
            self.months_from_entries(currency, from_ms, Some(first))
                .await?
        } else {
            vec![]
        };
        rows.extend(full.into_iter().map(|m| MonthRow {
            month: m.month,
            gross: MinorUnits::new(m.totals[0]),
            platform_fee: MinorUnits::new(m.totals[1]),
            freelancer_earning: MinorUnits::new(m.totals[2]),
            count: m.totals[3],
        }));
        if last < to {
            rows.extend(
                self.months_from_entries(currency, Some(last), to_ms)
                    .await?,
            );
        }
        Ok(rows)
    }

    async fn entries_after(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<LedgerEntry>> {
        let filter = match after {
            Some(a) => doc! {"_id": {"$gt": a}},
            None => doc! {},
        };
        let cursor = self
            .projected()
            .await?
            .find(filter)
            .sort(doc! {"_id": 1})
            .limit(limit.into())
            .await
            .map_err(map_err)?;
        Ok(collect(cursor).await?.into_iter().map(Into::into).collect())
    }

    async fn wallet_balances(&self, currency: Currency) -> StoreResult<Vec<(UserId, MinorUnits)>> {
        let pipeline = [
            doc! {"$match": {"accountType": "wallet", "currency": currency.code()}},
            doc! {"$group": {"_id": "$account", "total": {"$sum": "$amount"}}},
            doc! {"$sort": {"_id": 1}},
        ];
        let cursor = self
            .projected()
            .await?
            .aggregate(pipeline)
            .with_type::<KeyedTotal>()
            .await
            .map_err(map_err)?;
        collect(cursor)
            .await?
            .into_iter()
            .map(|g| match g.key.parse::<Account>() {
                Ok(Account::Wallet(u)) => Ok((u, MinorUnits::new(g.total))),
                _ => Err(StoreError::other(format!(
                    "corrupt wallet account: {:?}",
                    g.key
                ))),
            })
            .collect()
    }

    async fn kept_balances(&self) -> StoreResult<Option<KeptBalances>> {
        Ok(Some(self.all_kept().await?))
    }

    async fn count_entries(&self) -> StoreResult<u64> {
        self.projected()
            .await?
            .count_documents(doc! {})
            .await
            .map_err(map_err)
    }
}
