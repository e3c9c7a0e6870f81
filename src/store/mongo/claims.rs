//! One live contract per job, kept in the `job_claims` collection instead of a unique index on
//! `contracts` (which would have to start with the shard key to be enforced on a sharded
//! collection). The full argument is in the parent module's doc, "One live contract per job".
//!
//! A claim is `{_id: <job id>, contractId, state: "pending" | "confirmed", claimedAt, seq}`.
//! `seq` goes up by one at every change of the document, so a compare-and-set on it is a
//! compare-and-set on the whole claim (no ABA). Claims are never deleted.

use bson::doc;
use mongodb::Collection;
use mongodb::options::ReturnDocument;
use serde::{Deserialize, Serialize};

use super::docs::ContractDoc;
use super::{MongoStore, collect, is_duplicate_key, map_err};
use crate::domain::{Contract, ContractStatus, JobId};
use crate::store::{StoreError, StoreResult};

pub(super) const JOB_CLAIMS: &str = "job_claims";
/// A pending claim younger than this whose contract is not there yet belongs to a create that
/// is probably still running: a second create answers `Duplicate` instead of taking it over.
/// Only liveness depends on it (how soon a crashed create's claim is freed); safety does not.
pub(super) const CLAIM_GRACE_MS: i64 = 10_000;
/// Reads and compare-and-sets one claim may need while other creates keep changing it.
const CLAIM_ATTEMPTS_MAX: usize = 16;

const PENDING: &str = "pending";
const CONFIRMED: &str = "confirmed";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ClaimDoc {
    /// The job id.
    #[serde(rename = "_id")]
    job_id: String,
    /// The contract that holds (or is about to hold) the job.
    contract_id: String,
    /// `pending` from the claim until its creator saw the contract stored and the claim still
    /// its own; then `confirmed`.
    state: String,
    /// Wall-clock milliseconds of the claimer (only for the grace period).
    claimed_at: i64,
    /// Bumped by every write: the compare-and-set token.
    seq: i64,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn duplicate(c: &Contract) -> StoreError {
    StoreError::Duplicate(format!(
        "contract {} exists, or job {} already has a live contract",
        c.id, c.job_id
    ))
}

impl MongoStore {
    pub(super) fn job_claims(&self) -> Collection<ClaimDoc> {
        super::durable_collection(&self.db, JOB_CLAIMS)
    }

    /// [`ContractStore::insert_contract`](crate::store::ContractStore::insert_contract): claim, insert,
    /// confirm.
    pub(super) async fn claim_and_insert(&self, c: &Contract) -> StoreResult<()> {
        self.claim_job(c, now_ms()).await?;
        self.insert_claimed(c).await
    }

    /// Step 1: makes the job's claim point at `c` (pending), or `Duplicate`.
    async fn claim_job(&self, c: &Contract, claimed_at: i64) -> StoreResult<()> {
        let job = c.job_id.as_str();
        let mine = c.id.as_str();
        let claims = self.job_claims();
        for _ in 0..CLAIM_ATTEMPTS_MAX {
            let fresh = ClaimDoc {
                job_id: job.into(),
                contract_id: mine.into(),
                state: PENDING.into(),
                claimed_at,
                seq: 1,
            };
            match claims.insert_one(&fresh).await {
                Ok(_) => return Ok(()),
                Err(e) if is_duplicate_key(&e) => {}
                Err(e) => return Err(map_err(e)),
            }
            let Some(claim) = claims.find_one(doc! {"_id": job}).await.map_err(map_err)? else {
                continue; // never deleted, but be total: insert again
            };
            if claim.contract_id == mine {
                // A retry of this very create: the contract insert decides.
                return Ok(());
            }
            // Read after the claim: what we see of its contract is at least as new as `seq`.
            match self.contract_status(&claim.contract_id).await? {
                Some(s) if s != ContractStatus::Canceled.as_str() => return Err(duplicate(c)),
                Some(_) => {} // canceled: the job is free
                None if claim.state == PENDING
                    && now_ms().saturating_sub(claim.claimed_at) < self.claim_grace_ms =>
                {
                    // Its creator is (probably) between its claim and its insert.
                    return Err(duplicate(c));
                }
                None => {} // a crash or a lost insert left the claim behind
            }
            let taken = claims
                .find_one_and_update(
                    doc! {"_id": job, "seq": claim.seq},
                    doc! {
                        "$set": {"contractId": mine, "state": PENDING, "claimedAt": claimed_at},
                        "$inc": {"seq": 1_i64},
                    },
                )
                .return_document(ReturnDocument::After)
                .await
                .map_err(map_err)?;
            if taken.is_some() {
                tracing::info!(job, stale = %claim.contract_id, contract = mine, "took over a job claim");
                return Ok(());
            }
            // Lost the compare-and-set: somebody changed the claim; read it again.
        }
        Err(StoreError::Conflict)
    }

    /// Steps 2 and 3: inserts the contract, then confirms that the claim is still its own.
    /// If it was taken over meanwhile, deletes the contract just inserted and says `Duplicate`.
    pub(super) async fn insert_claimed(&self, c: &Contract) -> StoreResult<()> {
        let d = ContractDoc::new(c, Vec::new(), 0);
        match self.contracts.insert_one(&d).await {
            Ok(_) => {}
            Err(e) if is_duplicate_key(&e) => return Err(duplicate(c)),
            Err(e) => return Err(map_err(e)),
        }
        let confirmed = self
            .job_claims()
            .find_one_and_update(
                doc! {"_id": c.job_id.as_str(), "contractId": c.id.as_str()},
                doc! {"$set": {"state": CONFIRMED}, "$inc": {"seq": 1_i64}},
            )
            .await
            .map_err(map_err)?;
        if confirmed.is_some() {
            return Ok(());
        }
        // Another create saw no contract behind our claim and took it over before our insert
        // landed; the job is theirs. Nobody else knows this contract id: undo our insert.
        self.contracts
            .delete_one(doc! {"_id": c.id.as_str(), "version": c.version})
            .await
            .map_err(map_err)?;
        tracing::warn!(job = %c.job_id, contract = %c.id, "job claim taken over during the insert; contract withdrawn");
        Err(duplicate(c))
    }

    /// The stored contract's status (the flat `status` copy), if the contract exists.
    async fn contract_status(&self, id: &str) -> StoreResult<Option<String>> {
        #[derive(Deserialize)]
        struct StatusOnly {
            status: String,
        }
        Ok(self
            .contracts
            .clone_with_type::<StatusOnly>()
            .find_one(doc! {"_id": id})
            .projection(doc! {"status": 1})
            .await
            .map_err(map_err)?
            .map(|d| d.status))
    }

    /// The contract the job's claim points at, if it exists and is not canceled.
    pub(super) async fn claimed_live_contract(&self, job: &JobId) -> StoreResult<Option<Contract>> {
        let Some(claim) = self
            .job_claims()
            .find_one(doc! {"_id": job.as_str()})
            .await
            .map_err(map_err)?
        else {
            return Ok(None);
        };
        Ok(self
            .records(doc! {"_id": &claim.contract_id}, doc! {}, 0, 1)
            .await?
            .pop()
            .filter(|c| c.status != ContractStatus::Canceled))
    }

    /// Databases written before `job_claims` existed kept the rule in a `liveJobId` field: give
    /// each such live contract its (confirmed) claim. Idempotent (an existing claim is left
    /// alone), cheap (only documents still carrying the field, which no save writes any more).
    pub(super) async fn backfill_job_claims(&self) -> StoreResult<u64> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Legacy {
            #[serde(rename = "_id")]
            id: String,
            live_job_id: String,
        }
        let legacy = collect(
            self.contracts
                .clone_with_type::<Legacy>()
                .find(doc! {"liveJobId": {"$exists": true}})
                .projection(doc! {"_id": 1, "liveJobId": 1})
                .await
                .map_err(map_err)?,
        )
        .await?;
        let mut added = 0;
        for l in legacy {
            let claim = ClaimDoc {
                job_id: l.live_job_id,
                contract_id: l.id,
                state: CONFIRMED.into(),
                claimed_at: 0,
                seq: 1,
            };
            match self.job_claims().insert_one(&claim).await {
                Ok(_) => added += 1,
                Err(e) if is_duplicate_key(&e) => {}
                Err(e) => return Err(map_err(e)),
            }
        }
        Ok(added)
    }

    /// What a create that died right after claiming the job (before inserting its contract)
    /// leaves behind, claimed at `claimed_at_ms`. For the crash tests only.
    #[doc(hidden)]
    pub async fn claim_job_then_crash(&self, c: &Contract, claimed_at_ms: i64) -> StoreResult<()> {
        self.claim_job(c, claimed_at_ms).await
    }

    /// The rest of a create whose claim was made by [`MongoStore::claim_job_then_crash`]: a
    /// process that resumes after a stall. For the crash tests only.
    #[doc(hidden)]
    pub async fn resume_insert_after_claim(&self, c: &Contract) -> StoreResult<()> {
        self.insert_claimed(c).await
    }

    /// The same store with another grace period for pending claims (tests: `0` makes every
    /// concurrent create race for every claim whose contract is not there yet).
    #[doc(hidden)]
    pub fn with_claim_grace_ms(mut self, ms: i64) -> MongoStore {
        self.claim_grace_ms = ms;
        self
    }
}
