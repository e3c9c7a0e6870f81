//! Contracts: one document each, its ledger embedded. A money transition is one
//! compare-and-set on that document (`findOneAndReplace` on `{_id, version}`); the entries are
//! then projected into `ledger_entries`, idempotently, and a crash in between is repaired
//! before any ledger read (see the module docs of `store::mongo`).

use async_trait::async_trait;
use bson::{Document, doc};
use serde::Deserialize;

use super::docs::{ContractDoc, EntryDoc, RecordOnly};
use super::{MongoStore, collect, is_duplicate_key, map_err};
use crate::domain::{Contract, ContractId, JobId, LedgerEntry, PaymentRef};
use crate::store::{ContractFilter, ContractStore, Page, StoreError, StoreResult};

/// Named counters (`contract`: the numbers behind "CON…" contract ids).
const COUNTERS: &str = "counters";

/// The query document of a filter (see [`ContractFilter::query`]).
fn contract_filter(f: &ContractFilter) -> Document {
    let Some(q) = f.query() else {
        return doc! {"_id": {"$exists": false}};
    };
    let mut filter = Document::new();
    if let Some(s) = q.escrow_status {
        filter.insert("escrowStatus", s.as_str());
    }
    if let Some(s) = q.contract_status {
        filter.insert("status", s.as_str());
    }
    if q.release_requested {
        filter.insert("releaseFundStatus", "Requested");
    }
    if q.has_escrow {
        filter.insert("hasEscrow", true);
    }
    if let Some(c) = q.client {
        filter.insert("clientId", c.as_str());
    }
    if let Some(f) = q.freelancer {
        filter.insert("freelancerId", f.as_str());
    }
    if let Some(d) = q.disputes {
        filter.insert("disputes", doc! {"$gte": d as i64});
    }
    if q.refund_failed {
        filter.insert("refundFailed", true);
    }
    filter
}

impl MongoStore {
    /// Inserts `ledger[ledger_projected..]` into `ledger_entries` (duplicates ignored) and marks
    /// the document projected, if it is still that version.
    pub(super) async fn project(&self, d: &ContractDoc) -> StoreResult<()> {
        self.project_ledger(
            &self.contracts,
            &d.id,
            d.version,
            &d.ledger,
            d.ledger_projected,
        )
        .await
    }

    /// Inserts the entries of a record's embedded `ledger` past its first `projected` into
    /// `ledger_entries` (an entry already there is skipped: its `_id` is deterministic), then
    /// marks them projected on the record's document, only if it is still at `version` (the
    /// document whose entries these are). Contracts and payouts alike.
    pub(super) async fn project_ledger<T: Send + Sync>(
        &self,
        records: &mongodb::Collection<T>,
        id: &str,
        version: i64,
        ledger: &[LedgerEntry],
        projected: i64,
    ) -> StoreResult<()> {
        let from = projected.clamp(0, ledger.len() as i64) as usize;
        let docs: Vec<EntryDoc> = ledger[from..].iter().map(EntryDoc::from).collect();
        if !docs.is_empty() {
            match self.entries.insert_many(docs).ordered(false).await {
                Ok(_) => {}
                Err(e) if is_duplicate_key(&e) => {}
                Err(e) => return Err(map_err(e)),
            }
        }
        records
            .update_one(
                doc! {"_id": id, "version": version},
                doc! {"$set": {"ledgerProjected": ledger.len() as i64, "ledgerUnprojected": 0_i64}},
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Finishes every ledger projection that a crash or a lost connection interrupted; returns
    /// how many contracts it projected. Idempotent, safe to run concurrently with writers.
    pub async fn repair_projection(&self) -> StoreResult<u64> {
        let pending = collect(
            self.contracts
                .find(doc! {"ledgerUnprojected": {"$gt": 0_i64}})
                .await
                .map_err(map_err)?,
        )
        .await?;
        for d in &pending {
            self.project(d).await?;
        }
        Ok(pending.len() as u64 + self.repair_payout_projection().await?)
    }

    /// The compare-and-set half of [`ContractStore::save_contract`] without the projection: what a
    /// process that died right after it would have left. For the crash-repair tests only.
    #[doc(hidden)]
    pub async fn save_contract_then_crash(
        &self,
        contract: &Contract,
        expected_version: i64,
        entries: &[LedgerEntry],
    ) -> StoreResult<()> {
        self.compare_and_set(contract, expected_version, entries)
            .await
            .map(|_| ())
    }

    pub(super) async fn compare_and_set(
        &self,
        contract: &Contract,
        expected_version: i64,
        entries: &[LedgerEntry],
    ) -> StoreResult<ContractDoc> {
        assert_eq!(
            contract.version,
            expected_version + 1,
            "a save must bump the version by one"
        );
        let id = contract.id.as_str();
        let current = self
            .contracts
            .find_one(doc! {"_id": id})
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        if current.version != expected_version {
            return Err(StoreError::Conflict);
        }
        let mut ledger = current.ledger;
        for e in entries {
            if ledger.iter().any(|x| x.id == e.id) {
                return Err(StoreError::Duplicate(format!(
                    "ledger entry {} already exists",
                    e.id
                )));
            }
            ledger.push(e.clone());
        }
        let next = ContractDoc::new(contract, ledger, current.ledger_projected);
        let replacement = bson::to_document(&next)
            .map_err(|e| StoreError::other_from("cannot encode a contract", e))?;
        let replaced = self
            .contracts
            .clone_with_type::<Document>()
            .find_one_and_replace(doc! {"_id": id, "version": expected_version}, replacement)
            .projection(doc! {"_id": 1})
            .await
            .map_err(map_err)?;
        match replaced {
            Some(_) => Ok(next),
            None => Err(StoreError::Conflict),
        }
    }

    pub(super) async fn records(
        &self,
        filter: Document,
        sort: Document,
        skip: u64,
        limit: i64,
    ) -> StoreResult<Vec<Contract>> {
        let cursor = self
            .contracts
            .clone_with_type::<RecordOnly>()
            .find(filter)
            .projection(doc! {"record": 1})
            .sort(sort)
            .skip(skip)
            .limit(limit)
            .await
            .map_err(map_err)?;
        Ok(collect(cursor)
            .await?
            .into_iter()
            .map(|r| r.record)
            .collect())
    }
}

#[async_trait]
impl ContractStore for MongoStore {
    async fn insert_contract(&self, contract: &Contract) -> StoreResult<()> {
        self.claim_and_insert(contract).await
    }

    async fn get_contract(&self, id: &ContractId) -> StoreResult<Option<Contract>> {
        Ok(self
            .records(doc! {"_id": id.as_str()}, doc! {}, 0, 1)
            .await?
            .pop())
    }

    async fn live_contract_for_job(&self, job: &JobId) -> StoreResult<Option<Contract>> {
        self.claimed_live_contract(job).await
    }

    async fn contract_by_payment(&self, payment_ref: &PaymentRef) -> StoreResult<Option<Contract>> {
        Ok(self
            .records(
                doc! {"paymentRefs": {"$in": [payment_ref.as_str()]}},
                doc! {},
                0,
                1,
            )
            .await?
            .pop())
    }

    async fn save_contract(
        &self,
        contract: &Contract,
        expected_version: i64,
        entries: &[LedgerEntry],
    ) -> StoreResult<()> {
        let saved = self
            .compare_and_set(contract, expected_version, entries)
            .await?;
        if saved.ledger_unprojected > 0
            && let Err(e) = self.project(&saved).await
        {
            // The transition is durable in the contract document; the repair step that runs
            // before every ledger read finishes the projection.
            tracing::warn!(contract = %contract.id, error = %e, "ledger projection deferred to the repair step");
        }
        Ok(())
    }

    async fn list_contracts(
        &self,
        filter: &ContractFilter,
        page: &Page,
    ) -> StoreResult<(Option<u64>, Vec<Contract>)> {
        let filter = contract_filter(filter);
        let count = match page.count {
            false => None,
            true => Some(
                self.contracts
                    .count_documents(filter.clone())
                    .await
                    .map_err(map_err)?,
            ),
        };
        let records = self
            .records(
                super::keyset_filter(filter, "createdAt", page),
                doc! {"createdAt": -1, "_id": -1},
                page.offset(),
                page.limit.into(),
            )
            .await?;
        Ok((count, records))
    }

    async fn contracts_with_provider_work(&self) -> StoreResult<Vec<ContractId>> {
        super::ids_with_provider_work(&self.contracts).await
    }

    async fn contracts_after(
        &self,
        after: Option<&ContractId>,
        limit: u32,
    ) -> StoreResult<Vec<Contract>> {
        let filter = match after {
            Some(a) => doc! {"_id": {"$gt": a.as_str()}},
            None => doc! {},
        };
        self.records(filter, doc! {"_id": 1}, 0, limit.into()).await
    }

    async fn entries_for_contract(&self, id: &ContractId) -> StoreResult<Vec<LedgerEntry>> {
        #[derive(Deserialize)]
        struct LedgerOnly {
            ledger: Vec<LedgerEntry>,
        }
        let found = self
            .contracts
            .clone_with_type::<LedgerOnly>()
            .find_one(doc! {"_id": id.as_str()})
            .projection(doc! {"ledger": 1})
            .await
            .map_err(map_err)?;
        let mut entries = found.map(|d| d.ledger).unwrap_or_default();
        entries.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        Ok(entries)
    }

    async fn contract_by_number(&self, number: u64) -> StoreResult<Option<ContractId>> {
        let Ok(number) = i64::try_from(number) else {
            return Ok(None);
        };
        Ok(self
            .records(doc! {"number": number}, doc! {}, 0, 1)
            .await?
            .pop()
            .map(|c| c.id))
    }

    async fn next_contract_number(&self) -> StoreResult<u64> {
        // One document's atomic increment: safe on a replica set and a sharded cluster alike.
        let counters: mongodb::Collection<Document> = super::durable_collection(&self.db, COUNTERS);
        let counter = counters
            .find_one_and_update(doc! {"_id": "contract"}, doc! {"$inc": {"value": 1_i64}})
            .upsert(true)
            .return_document(mongodb::options::ReturnDocument::After)
            .await
            .map_err(map_err)?;
        counter
            .as_ref()
            .and_then(|d| match d.get("value") {
                Some(bson::Bson::Int64(n)) => Some(*n),
                Some(bson::Bson::Int32(n)) => Some(i64::from(*n)),
                _ => None,
            })
            .filter(|n| *n > 0)
            .map(|n| n as u64)
            .ok_or_else(|| StoreError::other(format!("the contract counter reads {counter:?}")))
    }

    async fn count_contracts(&self) -> StoreResult<u64> {
        self.contracts
            .count_documents(doc! {})
            .await
            .map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_request_filter_means_a_funded_escrow() {
        let f = contract_filter(&ContractFilter {
            release_requested: true,
            ..Default::default()
        });
        assert_eq!(
            f,
            doc! {"escrowStatus": "funded", "releaseFundStatus": "Requested"}
        );
    }
}
