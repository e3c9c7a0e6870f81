//! Contracts: a client creates one for a job, its freelancer accepts it and moves the work
//! along; its parties and admins read it with its escrow and ledger.

use crate::directory::Cards;
use crate::domain::{
    Contract, ContractId, ContractStatus, JobId, LedgerEntry, MilestoneId, MilestonePlan, Money,
    Party, Title, UserId,
};
use crate::store::{ContractFilter, Cursor, Page, StoreError};

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
    /// Its milestones (they add up to `amount`); `None`: one of the whole amount.
    pub milestones: Option<Vec<MilestonePlan>>,
}

/// A page of contracts with the directory's cards of their users and jobs.
#[derive(Debug, Clone)]
pub struct ContractList {
    /// How many match in all: counted for a numbered page only (`None` for a keyset page).
    pub count: Option<u64>,
    pub page: Page,
    pub contracts: Vec<Contract>,
    /// Where the next page starts, when there may be one.
    pub next: Option<Cursor>,
    pub cards: Cards,
}

/// Whose contracts a list is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Freelancer,
}

/// A contract with the ledger entries of its transfers, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractDetail {
    pub contract: Contract,
    pub entries: Vec<LedgerEntry>,
    /// When the system next releases a milestone unless the client asks first (auto-release
    /// on, milestone submitted, its escrow still held): Unix ms.
    pub auto_release_at: Option<i64>,
    /// Each such milestone's auto-release time.
    pub auto_releases: Vec<(MilestoneId, i64)>,
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
        let mut c = Contract::with_milestones(
            ContractId::generate(),
            new.job.clone(),
            client,
            new.freelancer,
            new.amount,
            new.title,
            new.milestones.as_deref(),
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
        // Completing the work starts the auto-release window (when it is on): the timer is
        // stored before the move, so it exists whatever happens after (it finds nothing to do
        // if the move never happened). Only the contract's freelancer stores one.
        if to == ContractStatus::Completed && self.settings.auto_release_after_ms.is_some() {
            let c = self.load(id).await?;
            if caller.party_in(&c) != Some(Party::Freelancer) {
                return Err(not_party());
            }
            // Completing delivers every held milestone not yet submitted.
            for m in c
                .milestones
                .iter()
                .filter(|m| m.is_held() && m.submitted_at.is_none())
            {
                self.schedule_auto_release(&c.milestone_ref(m.id), m.submissions + 1)
                    .await?;
            }
        }
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

    /// The directory's cards of the users and jobs `contracts` name, in one batch each.
    pub async fn cards(&self, contracts: &[Contract]) -> Result<Cards> {
        if !self.directory.knows() || contracts.is_empty() {
            return Ok(Cards::default());
        }
        let mut users: Vec<UserId> = contracts
            .iter()
            .flat_map(|c| [c.client_id.clone(), c.freelancer_id.clone()])
            .collect();
        users.sort();
        users.dedup();
        let mut jobs: Vec<JobId> = contracts.iter().map(|c| c.job_id.clone()).collect();
        jobs.sort();
        jobs.dedup();
        Ok(Cards {
            users: self.directory.users(&users).await?,
            jobs: self.directory.jobs(&jobs).await?,
        })
    }

    /// One user's contracts as client or as freelancer (the user, or an admin), newest first,
    /// with their cards; `status` narrows them.
    pub async fn contracts_of(
        &self,
        permit: Permit<'_>,
        side: Side,
        user: &UserId,
        status: Option<ContractStatus>,
        page: Page,
    ) -> Result<ContractList> {
        permit.expect(UseCase::ListContracts { owner: user });
        let filter = ContractFilter {
            contract_status: status,
            client: (side == Side::Client).then(|| user.clone()),
            freelancer: (side == Side::Freelancer).then(|| user.clone()),
            ..ContractFilter::default()
        };
        self.list(&filter, page).await
    }

    /// Every contract, newest first (admins).
    pub async fn all_contracts(&self, permit: Permit<'_>, page: Page) -> Result<ContractList> {
        permit.expect(UseCase::Reports);
        self.list(&ContractFilter::default(), page).await
    }

    /// A freelancer's finished work, for their public profile: anyone may read it (the views
    /// show titles and dates, no amounts and no emails).
    pub async fn completed_works(&self, freelancer: &UserId, page: Page) -> Result<ContractList> {
        let filter = ContractFilter {
            contract_status: Some(ContractStatus::Completed),
            freelancer: Some(freelancer.clone()),
            ..ContractFilter::default()
        };
        self.list(&filter, page).await
    }

    async fn list(&self, filter: &ContractFilter, page: Page) -> Result<ContractList> {
        let (count, contracts) = self.store.list_contracts(filter, &page).await?;
        let cards = self.cards(&contracts).await?;
        Ok(ContractList {
            count,
            next: page.next(&contracts, Cursor::of_contract),
            page,
            contracts,
            cards,
        })
    }

    /// The job's live contract, if `client` (the user, or an admin asking for them) has one
    /// on it: the original's `is-created/:jobId/:clientId`.
    pub async fn contract_for_job(
        &self,
        permit: Permit<'_>,
        job: &JobId,
        client: &UserId,
    ) -> Result<Option<(Contract, Cards)>> {
        permit.expect(UseCase::ListContracts { owner: client });
        match self.store.live_contract_for_job(job).await? {
            Some(c) if &c.client_id == client => {
                let cards = self.cards(std::slice::from_ref(&c)).await?;
                Ok(Some((c, cards)))
            }
            _ => Ok(None),
        }
    }

    /// Cancels a contract no money is held for: its client, or an admin (who frees a job a
    /// contract squats on). A funded contract is refunded instead (409).
    pub async fn cancel_contract(
        &self,
        permit: Permit<'_>,
        id: &ContractId,
        reason: &str,
    ) -> Result<Contract> {
        let caller = permit.expect(UseCase::CancelContract);
        let (_, c) = self
            .transition(id, |c, now| {
                let by = match caller.party_in(c) {
                    Some(p @ (Party::Client | Party::Admin)) => p,
                    _ => return Err(not_party()),
                };
                Ok(((), vec![], c.cancel_unfunded(by, reason, now)?))
            })
            .await?;
        tracing::info!(contract = %c.id, actor = %caller.actor(), "contract canceled");
        Ok(c)
    }

    /// A contract with the directory's cards of its users and job: its parties and admins.
    pub async fn contract_with_cards(
        &self,
        permit: Permit<'_>,
        id: &ContractId,
    ) -> Result<(Contract, Cards)> {
        let caller = permit.expect(UseCase::ViewContract);
        let contract = self.load(id).await?;
        caller.party_in(&contract).ok_or_else(not_party)?;
        let cards = self.cards(std::slice::from_ref(&contract)).await?;
        Ok((contract, cards))
    }

    /// A contract with its escrow and ledger entries: its parties and admins.
    pub async fn contract(&self, permit: Permit<'_>, id: &ContractId) -> Result<ContractDetail> {
        let caller = permit.expect(UseCase::ViewContract);
        let contract = self.load(id).await?;
        caller.party_in(&contract).ok_or_else(not_party)?;
        let entries = self.store.entries_for_contract(&contract.id).await?;
        let mut auto_releases = vec![];
        for m in contract
            .milestones
            .iter()
            .filter(|m| m.is_held() && m.submitted_at.is_some())
        {
            if let Some(at) = self
                .auto_release_due(&contract.milestone_ref(m.id), m.submissions)
                .await?
            {
                auto_releases.push((m.id, at));
            }
        }
        Ok(ContractDetail {
            contract,
            entries,
            auto_release_at: auto_releases.iter().map(|(_, at)| *at).min(),
            auto_releases,
        })
    }
}
