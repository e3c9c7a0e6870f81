//! Payouts and connected accounts. A wallet debit is one write of the writer: it reads the
//! wallet's kept balance in the write's own transaction (the writer's connection sees every
//! earlier write of its batch, and other processes wait on the file's write lock), refuses
//! when it is short, and otherwise saves the payout with its debit's entries. So two debits of
//! one wallet are never both allowed by the same balance.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::contracts::insert_entries;
use super::rows::corrupt;
use super::{SqliteStore, map_err};
use crate::domain::{
    Account, ConnectedAccount, LedgerEntry, MinorUnits, Payout, PayoutId, Transfer, UserId,
};
use crate::store::{Debit, Page, PayoutFilter, PayoutStore, StoreError, StoreResult};

fn payout_doc(p: &Payout) -> StoreResult<String> {
    serde_json::to_string(p).map_err(|e| StoreError::other_from("cannot encode a payout", e))
}

fn payout_from_doc(doc: &str) -> StoreResult<Payout> {
    serde_json::from_str(doc).map_err(|e| corrupt("payout document", e))
}

fn account_from_doc(doc: &str) -> StoreResult<ConnectedAccount> {
    serde_json::from_str(doc).map_err(|e| corrupt("connected account document", e))
}

fn account_doc(a: &ConnectedAccount) -> StoreResult<String> {
    serde_json::to_string(a)
        .map_err(|e| StoreError::other_from("cannot encode a connected account", e))
}

/// Inserts the payout's row, or moves it from `expected` with a compare-and-set.
fn write_payout(tx: &Connection, p: &Payout, expected: Option<i64>) -> StoreResult<()> {
    let doc = payout_doc(p)?;
    let args = params![
        p.id.as_str(),
        p.user.as_str(),
        p.status.as_str(),
        p.has_provider_work() as i64,
        p.created_at,
        p.updated_at,
        p.version,
        doc,
        expected.unwrap_or(-1),
    ];
    let written = match expected {
        None => tx
            .prepare_cached(
                "INSERT INTO payouts (id, user_id, status, provider_work, created_at, updated_at, version, doc)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE ?9 = -1",
            )
            .and_then(|mut s| s.execute(args))
            .map_err(|e| match map_err(e) {
                StoreError::Duplicate(_) => StoreError::Duplicate(format!("payout {} exists", p.id)),
                e => e,
            })?,
        Some(_) => tx
            .prepare_cached(
                "UPDATE payouts SET user_id = ?2, status = ?3, provider_work = ?4, created_at = ?5,
                    updated_at = ?6, version = ?7, doc = ?8
                 WHERE id = ?1 AND version = ?9",
            )
            .and_then(|mut s| s.execute(args))
            .map_err(map_err)?,
    };
    if written == 0 {
        let exists: bool = tx
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM payouts WHERE id = ?1)")
            .and_then(|mut s| s.query_row([p.id.as_str()], |r| r.get(0)))
            .map_err(map_err)?;
        return Err(if exists {
            StoreError::Conflict
        } else {
            StoreError::NotFound
        });
    }
    Ok(())
}

/// The wallet's balance as this write sees it.
fn wallet_balance(tx: &Connection, p: &Payout) -> StoreResult<MinorUnits> {
    let balance: Option<i64> = tx
        .prepare_cached("SELECT balance FROM account_balances WHERE account = ?1 AND currency = ?2")
        .and_then(|mut s| {
            s.query_row(
                params![
                    Account::Wallet(p.user.clone()).to_string(),
                    p.currency.code()
                ],
                |r| r.get(0),
            )
            .optional()
        })
        .map_err(map_err)?;
    Ok(MinorUnits::new(balance.unwrap_or(0)))
}

#[async_trait]
impl PayoutStore for SqliteStore {
    async fn debit_payout(
        &self,
        payout: &Payout,
        expected_version: Option<i64>,
        now: i64,
    ) -> StoreResult<Debit> {
        let mut p = payout.clone();
        self.write(move |tx| {
            let available = wallet_balance(tx, &p)?;
            if available < p.amount {
                return Ok(Debit::Insufficient { available });
            }
            let transfers = p
                .debit("", now)
                .map_err(|e| StoreError::other(format!("cannot debit: {e}")))?;
            p.version = expected_version.map_or(1, |v| v + 1);
            write_payout(tx, &p, expected_version)?;
            let entries: Vec<_> = transfers.iter().flat_map(Transfer::entries).collect();
            insert_entries(tx, &entries)?;
            Ok(Debit::Done(Box::new(p)))
        })
        .await
    }

    async fn save_payout(
        &self,
        payout: &Payout,
        expected_version: i64,
        entries: &[LedgerEntry],
    ) -> StoreResult<()> {
        assert_eq!(
            payout.version,
            expected_version + 1,
            "a save must bump the version by one"
        );
        let p = payout.clone();
        let entries = entries.to_vec();
        self.write(move |tx| {
            write_payout(tx, &p, Some(expected_version))?;
            insert_entries(tx, &entries)
        })
        .await
    }

    async fn get_payout(&self, id: &PayoutId) -> StoreResult<Option<Payout>> {
        let id = id.to_string();
        let doc: Option<String> = self.read_now(|c| {
            c.prepare_cached("SELECT doc FROM payouts WHERE id = ?1")
                .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
                .map_err(map_err)
        })?;
        doc.as_deref().map(payout_from_doc).transpose()
    }

    async fn list_payouts(
        &self,
        filter: &PayoutFilter,
        page: &Page,
    ) -> StoreResult<(Option<u64>, Vec<Payout>)> {
        let mut clauses = vec!["1 = 1".to_string()];
        let mut args: Vec<String> = vec![];
        if let Some(u) = &filter.user {
            args.push(u.to_string());
            clauses.push(format!("user_id = ?{}", args.len()));
        }
        if let Some(s) = filter.status {
            args.push(s.as_str().to_string());
            clauses.push(format!("status = ?{}", args.len()));
        }
        let where_sql = clauses.join(" AND ");
        let page = page.clone();
        let (count, docs) = self
            .with_conn(move |c| {
                let count = match page.count {
                    false => None,
                    true => Some(super::rows::count_where(c, "payouts", &where_sql, &args)?),
                };
                let docs = super::rows::doc_page(c, "payouts", &where_sql, &args, &page)?;
                Ok((count, docs))
            })
            .await?;
        Ok((
            count,
            docs.iter()
                .map(|d| payout_from_doc(d))
                .collect::<StoreResult<_>>()?,
        ))
    }

    async fn payouts_with_provider_work(&self) -> StoreResult<Vec<PayoutId>> {
        let ids: Vec<String> = self
            .with_conn(|c| {
                c.prepare_cached(
                    "SELECT id FROM payouts WHERE provider_work = 1 ORDER BY updated_at",
                )
                .and_then(|mut s| {
                    s.query_map([], |r| r.get(0))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(map_err)
            })
            .await?;
        ids.iter()
            .map(|i| PayoutId::parse(i).map_err(|e| corrupt("payout id", e)))
            .collect()
    }

    async fn payouts_after(
        &self,
        after: Option<&PayoutId>,
        limit: u32,
    ) -> StoreResult<Vec<Payout>> {
        let after = after.map(|a| a.to_string()).unwrap_or_default();
        let docs: Vec<String> = self
            .with_conn(move |c| {
                c.prepare_cached("SELECT doc FROM payouts WHERE id > ?1 ORDER BY id LIMIT ?2")
                    .and_then(|mut s| {
                        s.query_map(params![after, limit], |r| r.get(0))?
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .map_err(map_err)
            })
            .await?;
        docs.iter().map(|d| payout_from_doc(d)).collect()
    }

    async fn connected_account(&self, user: &UserId) -> StoreResult<Option<ConnectedAccount>> {
        let user = user.to_string();
        let doc: Option<String> = self.read_now(|c| {
            c.prepare_cached("SELECT doc FROM connected_accounts WHERE user_id = ?1")
                .and_then(|mut s| s.query_row([user], |r| r.get(0)).optional())
                .map_err(map_err)
        })?;
        doc.as_deref().map(account_from_doc).transpose()
    }

    async fn connected_account_by_id(
        &self,
        account_id: &str,
    ) -> StoreResult<Option<ConnectedAccount>> {
        let id = account_id.to_string();
        let doc: Option<String> = self.read_now(|c| {
            c.prepare_cached("SELECT doc FROM connected_accounts WHERE account_id = ?1")
                .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
                .map_err(map_err)
        })?;
        doc.as_deref().map(account_from_doc).transpose()
    }

    async fn insert_connected_account(
        &self,
        account: &ConnectedAccount,
    ) -> StoreResult<ConnectedAccount> {
        let a = account.clone();
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO connected_accounts (user_id, account_id, described_at, doc)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_id) DO NOTHING",
            )
            .and_then(|mut s| {
                s.execute(params![
                    a.user.as_str(),
                    a.account_id,
                    a.described_at,
                    account_doc(&a)
                        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?
                ])
            })
            .map_err(map_err)?;
            let doc: String = tx
                .prepare_cached("SELECT doc FROM connected_accounts WHERE user_id = ?1")
                .and_then(|mut s| s.query_row([a.user.as_str()], |r| r.get(0)))
                .map_err(map_err)?;
            account_from_doc(&doc)
        })
        .await
    }

    async fn describe_connected_account(&self, account: &ConnectedAccount) -> StoreResult<bool> {
        let a = account.clone();
        let doc = account_doc(&a)?;
        self.write(move |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE connected_accounts SET described_at = ?2, doc = ?3
                     WHERE user_id = ?1 AND account_id = ?4 AND described_at <= ?2",
                )
                .and_then(|mut s| {
                    s.execute(params![a.user.as_str(), a.described_at, doc, a.account_id])
                })
                .map_err(map_err)?;
            Ok(n == 1)
        })
        .await
    }
}
