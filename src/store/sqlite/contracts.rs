//! Contracts: the JSON document plus the columns queries filter on, kept in step by every
//! write; the compare-and-set writes the record, its payment references and its ledger
//! entries in one transaction.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{ENTRY_COLUMNS, contract_doc, contract_from_doc, entry_from_row, facts_from_doc};
use super::{SqliteStore, events, map_err};
use crate::domain::verify::ContractFacts;
use crate::domain::{Contract, ContractId, ContractStatus, JobId, LedgerEntry, PaymentRef};
use crate::store::{
    ContractFilter, ContractQuery, ContractStore, Page, StoreError, StoreResult, WebhookEvent,
};

impl SqliteStore {
    /// The compare-and-set write, with the webhook event that caused it when there is one.
    pub(super) async fn save(
        &self,
        contract: &Contract,
        expected_version: i64,
        entries: &[LedgerEntry],
        event: Option<WebhookEvent>,
    ) -> StoreResult<()> {
        assert_eq!(
            contract.version,
            expected_version + 1,
            "a save must bump the version by one"
        );
        let c = contract.clone();
        let entries = entries.to_vec();
        self.write(move |tx| {
            compare_and_set(tx, &c, expected_version, &entries)?;
            match &event {
                Some(e) => events::upsert_event(tx, e),
                None => Ok(()),
            }
        })
        .await
    }
}

/// Inserts a new contract's row (and its payment references).
fn insert_row(tx: &Connection, c: &Contract) -> StoreResult<()> {
    let doc = contract_doc(c)?;
    tx.prepare_cached(
        "INSERT INTO contracts (id, job_id, client_id, freelancer_id, status, escrow_status, release_fund_status, provider_work, created_at, updated_at, version, doc, number, disputes, refund_failed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )
    .and_then(|mut s| {
        s.execute(params![
            c.id.as_str(),
            c.job_id.as_str(),
            c.client_id.as_str(),
            c.freelancer_id.as_str(),
            c.status.as_str(),
            c.escrow_status().map(|s| s.as_str()),
            c.release_fund_status.as_str(),
            c.has_pending_provider_work() as i64,
            c.created_at,
            c.updated_at,
            c.version,
            doc,
            c.number.map(|n| n as i64),
            c.dispute_mark() as i64,
            c.has_failed_refund() as i64
        ])
    })
    .map_err(map_err)?;
    insert_payment_refs(tx, c)
}

/// Records every payment reference of the contract (those already there are kept).
fn insert_payment_refs(tx: &Connection, c: &Contract) -> StoreResult<()> {
    let mut insert = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO payment_refs (payment_ref, contract_id) VALUES (?1, ?2)",
        )
        .map_err(map_err)?;
    for r in c.payment_refs() {
        insert
            .execute(params![r.as_str(), c.id.as_str()])
            .map_err(map_err)?;
    }
    Ok(())
}

/// The compare-and-set of [`ContractStore::save_contract`], inside a write.
fn compare_and_set(
    tx: &Connection,
    c: &Contract,
    expected_version: i64,
    entries: &[LedgerEntry],
) -> StoreResult<()> {
    let doc = contract_doc(c)?;
    let updated = tx
        .prepare_cached(
            "UPDATE contracts SET status = ?2, escrow_status = ?3, release_fund_status = ?4,
                provider_work = ?5, updated_at = ?6, version = ?7, doc = ?8, disputes = ?10,
                refund_failed = ?11
             WHERE id = ?1 AND version = ?9",
        )
        .and_then(|mut s| {
            s.execute(params![
                c.id.as_str(),
                c.status.as_str(),
                c.escrow_status().map(|s| s.as_str()),
                c.release_fund_status.as_str(),
                c.has_pending_provider_work() as i64,
                c.updated_at,
                c.version,
                doc,
                expected_version,
                c.dispute_mark() as i64,
                c.has_failed_refund() as i64
            ])
        })
        .map_err(map_err)?;
    if updated == 0 {
        let exists: bool = tx
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM contracts WHERE id = ?1)")
            .and_then(|mut s| s.query_row([c.id.as_str()], |r| r.get(0)))
            .map_err(map_err)?;
        return Err(if exists {
            StoreError::Conflict
        } else {
            StoreError::NotFound
        });
    }
    insert_payment_refs(tx, c)?;
    insert_entries(tx, entries)
}

/// Inserts ledger entries and moves the kept balances by them.
pub(super) fn insert_entries(tx: &Connection, entries: &[LedgerEntry]) -> StoreResult<()> {
    let mut insert = tx
        .prepare_cached(&format!(
            "INSERT INTO ledger_entries ({ENTRY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ))
        .map_err(map_err)?;
    for e in entries {
        insert
            .execute(params![
                e.id,
                e.transfer_id,
                e.owner.to_string(),
                e.kind.as_str(),
                e.account.to_string(),
                e.amount.get(),
                e.currency.code(),
                e.at
            ])
            .map_err(map_err)?;
    }
    super::kept::keep_balances(tx, entries)
}

/// The row of `list_counts` (migration 8, whose triggers name the rows the same way) that
/// counts exactly the contracts `q` matches, when one is kept: every contract, those with an
/// escrow (the transactions list), one client's, one freelancer's, one freelancer's completed
/// work. Other queries (an operator's status filters) are counted when a numbered page asks.
fn kept_count(q: &ContractQuery) -> Option<String> {
    let ContractQuery {
        escrow_status: None,
        release_requested: false,
        disputes: None,
        ..
    } = q
    else {
        return None;
    };
    match (q.has_escrow, q.contract_status, &q.client, &q.freelancer) {
        (false, None, None, None) => Some("contracts".into()),
        (true, None, None, None) => Some("escrows".into()),
        (false, None, Some(c), None) => Some(format!("client:{c}")),
        (false, None, None, Some(f)) => Some(format!("freelancer:{f}")),
        (false, Some(ContractStatus::Completed), None, Some(f)) => Some(format!("completed:{f}")),
        _ => None,
    }
}

/// Every contract after `after` in id order (at most `limit`), each decoded from its document
/// by `decode` on the connection's thread: a whole-store scan (verify) then decodes one page
/// while the caller checks the one before.
async fn docs_after<T: Send + 'static>(
    store: &SqliteStore,
    after: Option<&ContractId>,
    limit: u32,
    decode: fn(&str) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let after = after.map(|a| a.to_string()).unwrap_or_default();
    store
        .with_conn(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT doc FROM contracts WHERE id > ?1 ORDER BY id LIMIT ?2")
                .map_err(map_err)?;
            let mut rows = stmt.query(params![after, limit]).map_err(map_err)?;
            let mut found = Vec::with_capacity(limit as usize);
            while let Some(row) = rows.next().map_err(map_err)? {
                let doc = row
                    .get_ref(0)
                    .and_then(|v| v.as_str().map_err(Into::into))
                    .map_err(map_err)?;
                found.push(decode(doc)?);
            }
            Ok(found)
        })
        .await
}

/// The `WHERE` clause of a filter (see [`ContractFilter::query`]) and its arguments.
fn filter_sql(f: &ContractFilter) -> (String, Vec<String>) {
    let Some(q) = f.query() else {
        return ("0 = 1".into(), vec![]);
    };
    let mut clauses = vec!["1 = 1".to_string()];
    let mut args = vec![];
    if let Some(s) = q.escrow_status {
        clauses.push(format!("escrow_status = ?{}", args.len() + 1));
        args.push(s.as_str().to_string());
    }
    if let Some(s) = q.contract_status {
        clauses.push(format!("status = ?{}", args.len() + 1));
        args.push(s.as_str().to_string());
    }
    if q.release_requested {
        clauses.push("release_fund_status = 'Requested'".into());
    }
    if q.has_escrow {
        clauses.push("escrow_status IS NOT NULL".into());
    }
    if let Some(c) = q.client {
        clauses.push(format!("client_id = ?{}", args.len() + 1));
        args.push(c.to_string());
    }
    if let Some(f) = q.freelancer {
        clauses.push(format!("freelancer_id = ?{}", args.len() + 1));
        args.push(f.to_string());
    }
    if let Some(d) = q.disputes {
        // A literal (0–2), so the partial index `contracts_disputes` applies.
        clauses.push(format!("disputes >= {} AND disputes > 0", d as i64));
    }
    if q.refund_failed {
        clauses.push("refund_failed = 1".into());
    }
    (clauses.join(" AND "), args)
}

impl SqliteStore {
    /// The contract whose document a one-row query finds, read on the calling thread.
    fn contract_where(&self, sql: &'static str, arg: &str) -> StoreResult<Option<Contract>> {
        let doc: Option<String> = self.read_now(|c| {
            c.prepare_cached(sql)
                .and_then(|mut s| s.query_row([arg], |r| r.get(0)).optional())
                .map_err(map_err)
        })?;
        doc.as_deref().map(contract_from_doc).transpose()
    }
}

#[async_trait]
impl ContractStore for SqliteStore {
    async fn insert_contract(&self, contract: &Contract) -> StoreResult<()> {
        let c = contract.clone();
        self.write(move |tx| {
            let exists: bool = tx
                .query_row(
                    "SELECT EXISTS(SELECT 1 FROM contracts WHERE id = ?1)",
                    [c.id.as_str()],
                    |r| r.get(0),
                )
                .map_err(map_err)?;
            if exists {
                return Err(StoreError::Duplicate(format!("contract {} exists", c.id)));
            }
            insert_row(tx, &c).map_err(|e| match e {
                StoreError::Duplicate(_) => {
                    StoreError::Duplicate(format!("job {} already has a live contract", c.job_id))
                }
                e => e,
            })
        })
        .await
    }

    async fn get_contract(&self, id: &ContractId) -> StoreResult<Option<Contract>> {
        self.contract_where("SELECT doc FROM contracts WHERE id = ?1", id.as_str())
    }

    async fn live_contract_for_job(&self, job: &JobId) -> StoreResult<Option<Contract>> {
        self.contract_where(
            "SELECT doc FROM contracts WHERE job_id = ?1 AND status != 'Canceled'",
            job.as_str(),
        )
    }

    async fn contract_by_payment(&self, payment_ref: &PaymentRef) -> StoreResult<Option<Contract>> {
        self.contract_where(
            "SELECT c.doc FROM payment_refs p JOIN contracts c ON c.id = p.contract_id WHERE p.payment_ref = ?1",
            payment_ref.as_str(),
        )
    }

    async fn save_contract(
        &self,
        contract: &Contract,
        expected_version: i64,
        entries: &[LedgerEntry],
    ) -> StoreResult<()> {
        self.save(contract, expected_version, entries, None).await
    }

    async fn list_contracts(
        &self,
        filter: &ContractFilter,
        page: &Page,
    ) -> StoreResult<(Option<u64>, Vec<Contract>)> {
        let (where_sql, args) = filter_sql(filter);
        let kept = filter.query().and_then(|q| kept_count(&q));
        let page = page.clone();
        let (count, docs) = self
            .with_conn(move |c| {
                let count = match (page.count, &kept) {
                    (false, _) => None,
                    (true, Some(list)) => Some(
                        c.prepare_cached("SELECT n FROM list_counts WHERE list = ?1")
                            .and_then(|mut s| {
                                s.query_row([list], |r| r.get::<_, i64>(0)).optional()
                            })
                            .map_err(map_err)?
                            .unwrap_or(0) as u64,
                    ),
                    (true, None) => {
                        Some(super::rows::count_where(c, "contracts", &where_sql, &args)?)
                    }
                };
                let docs = super::rows::doc_page(c, "contracts", &where_sql, &args, &page)?;
                Ok((count, docs))
            })
            .await?;
        Ok((
            count,
            docs.into_iter()
                .map(|d| contract_from_doc(&d))
                .collect::<StoreResult<_>>()?,
        ))
    }

    async fn contracts_with_provider_work(&self) -> StoreResult<Vec<ContractId>> {
        let ids: Vec<String> = self
            .with_conn(|c| {
                let mut stmt = c
                    .prepare("SELECT id FROM contracts WHERE provider_work = 1 ORDER BY updated_at")
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([], |r| r.get(0))
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                Ok(rows)
            })
            .await?;
        ids.into_iter()
            .map(|i| ContractId::try_from(i).map_err(|e| super::rows::corrupt("contract id", e)))
            .collect()
    }

    async fn contracts_after(
        &self,
        after: Option<&ContractId>,
        limit: u32,
    ) -> StoreResult<Vec<Contract>> {
        docs_after(self, after, limit, contract_from_doc).await
    }

    async fn contract_facts_after(
        &self,
        after: Option<&ContractId>,
        limit: u32,
    ) -> StoreResult<Vec<ContractFacts>> {
        docs_after(self, after, limit, facts_from_doc).await
    }

    async fn contract_by_number(&self, number: u64) -> StoreResult<Option<ContractId>> {
        let Ok(number) = i64::try_from(number) else {
            return Ok(None);
        };
        let id: Option<String> = self.read_now(|c| {
            c.prepare_cached("SELECT id FROM contracts WHERE number = ?1")
                .and_then(|mut s| s.query_row([number], |r| r.get(0)).optional())
                .map_err(map_err)
        })?;
        id.map(|id| {
            ContractId::try_from(id).map_err(|e| StoreError::other_from("a stored contract id", e))
        })
        .transpose()
    }

    async fn next_contract_number(&self) -> StoreResult<u64> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO counters (name, value) VALUES ('contract', 1)
                 ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
            )
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(map_err)
        })
        .await
    }

    async fn count_contracts(&self) -> StoreResult<u64> {
        self.with_conn(|c| {
            c.query_row("SELECT COUNT(*) FROM contracts", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(map_err)
        })
        .await
    }

    async fn entries_for_contract(&self, id: &ContractId) -> StoreResult<Vec<LedgerEntry>> {
        let entries: Vec<LedgerEntry> = self.read_now(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE contract_id = ?1 ORDER BY at, id"
                ))
                .map_err(map_err)?;
            let rows = stmt
                .query_map([id.as_str()], entry_from_row)
                .map_err(map_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(map_err)?;
            Ok(rows)
        })?;
        Ok(entries)
    }
}
