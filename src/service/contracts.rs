//! Contracts: a client creates one for a job, its freelancer accepts it and moves the work
//! along; its parties and admins read it with its escrow and ledger.

use crate::domain::{
    Contract, ContractId, ContractStatus, JobId, LedgerEntry, Money, Party, Title, UserId,
};
use crate::store::StoreError;

use super::Service;
use super::access::{Permit, UseCase, not_party};
use super::error::{Error, ErrorCode, Result};

/// `create-contract`: the client is the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContract {
    pub job: JobId,
    pub freelancer: UserId,
    pub amount: Money,
    pub title: Option<Title>,
}

/// A contract with the ledger entries of its transfers, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractDetail {
    pub contract: Contract,
    pub entries: Vec<LedgerEntry>,
}

impl Service {
    pub async fn create_contract(&self, permit: Permit<'_>, new: NewContract) -> Result<Contract> {
        let caller = permit.expect(UseCase::CreateContract);
        let client = caller
            .user()
            .expect("only clients create contracts")
            .id
            .clone();
        self.check_job_for_contract(&new.job, &client, &new.freelancer)
            .await?;
        let mut c = Contract::new(
            ContractId::generate(),
            new.job.clone(),
            client,
            new.freelancer,
            new.amount,
            new.title,
            self.clock.now_ms(),
        )?;
        if let Some(tag) = permit.request() {
            c.record_request(tag);
        }
        c.number = Some(self.store.next_contract_number().await?);
        match self.store.insert_contract(&c).await {
            Ok(()) => Ok(c),
            Err(StoreError::Duplicate(_)) => {
                // This very request's first try may have made the job's contract (and then
                // lost its stored response to a crash): the retry gets that contract.
                if let Some(tag) = permit.request()
                    && let Some(mine) = self.store.live_contract_for_job(&new.job).await?
                    && mine.changed_by(tag)
                {
                    return Ok(mine);
                }
                Err(Error::new(
                    ErrorCode::ContractExistsForJob,
                    format!("job {} already has a live contract", new.job),
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The original's checks at create-contract, where a directory knows the job: it exists,
    /// is Open, is `client`'s, and `freelancer` applied to it. Without a directory the job id
    /// is trusted (see [`crate::directory`]).
    async fn check_job_for_contract(
        &self,
        job: &JobId,
        client: &UserId,
        freelancer: &UserId,
    ) -> Result<()> {
        if !self.directory.knows() {
            return Ok(());
        }
        let card = self
            .directory
            .jobs(std::slice::from_ref(job))
            .await?
            .remove(job)
            .ok_or_else(|| Error::new(ErrorCode::JobNotFound, format!("job {job} not found")))?;
        if card.client_id.as_ref() != Some(client) {
            return Err(Error::new(ErrorCode::AuthNotOwner, "this job is not yours"));
        }
        if card.status != "Open" {
            return Err(Error::new(
                ErrorCode::JobNotOpen,
                format!("the job is {}, not Open", card.status),
            ));
        }
        if !self.directory.applied(job, freelancer).await? {
            return Err(Error::new(
                ErrorCode::JobNotApplied,
                "the freelancer has not applied to this job",
            ));
        }
        Ok(())
    }

    /// The contract's freelancer accepts it.
    pub async fn approve_contract(&self, permit: Permit<'_>, id: &ContractId) -> Result<Contract> {
        let caller = permit.expect(UseCase::ApproveContract);
        let (_, c) = self
            .transition(id, |c, now| {
                if caller.party_in(c) != Some(Party::Freelancer) {
                    return Err(not_party());
                }
                Ok(((), vec![], c.approve(now)?))
            })
            .await?;
        Ok(c)
    }

    /// The contract's freelancer moves the work along, or cancels it.
    pub async fn update_status(
        &self,
        permit: Permit<'_>,
        id: &ContractId,
        to: ContractStatus,
    ) -> Result<Contract> {
        let caller = permit.expect(UseCase::UpdateStatus);
        let (_, c) = self
            .transition(id, |c, now| {
                if caller.party_in(c) != Some(Party::Freelancer) {
                    return Err(not_party());
                }
                Ok(((), vec![], c.move_to(to, Party::Freelancer, now)?))
            })
            .await?;
        Ok(c)
    }

    /// A contract with its escrow and ledger entries: its parties and admins.
    pub async fn contract(&self, permit: Permit<'_>, id: &ContractId) -> Result<ContractDetail> {
        let caller = permit.expect(UseCase::ViewContract);
        let contract = self.load(id).await?;
        caller.party_in(&contract).ok_or_else(not_party)?;
        let entries = self.store.entries_for_contract(&contract.id).await?;
        Ok(ContractDetail { contract, entries })
    }
}
