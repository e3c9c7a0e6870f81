//! Use cases only an operator needs (the admin CLI): what a release or refund would move,
//! shown before anyone is asked to confirm it, and the size of a verification run.

use super::views::MovePlan;
use super::{Error, Result, Service, parse_id};
use crate::domain::{ContractId, DomainError, Party};

/// The actor written into the throwaway copy a plan works on; never saved.
const PLAN_ACTOR: &str = "plan";

/// The same translation `release_as`/`refund_as` make: a wrong state is a conflict.
fn wrong_state(e: DomainError) -> Error {
    match e {
        DomainError::State(m) => Error::conflict("escrow.wrong_state", m),
        e => e.into(),
    }
}

impl Service {
    /// What [`Service::release_as`] would move now, checked exactly as it checks. Nothing is
    /// saved: the transition runs on a copy of the record.
    pub async fn plan_release(&self, contract_id: &str, force: Option<&str>) -> Result<MovePlan> {
        let id: ContractId = parse_id(contract_id, "contract id")?;
        if let Some(reason) = force
            && reason.trim().is_empty()
        {
            return Err(Error::validation(
                "validation.reason",
                "a forced release needs a reason",
            ));
        }
        let mut c = self.load(&id).await?;
        c.release(PLAN_ACTOR, force, self.clock.now_ms())
            .map_err(wrong_state)?;
        Ok(MovePlan::of("release", &c))
    }

    /// What [`Service::refund_as`] would move now (the default split by the contract's status,
    /// or the explicit freelancer share), checked exactly as it checks. Nothing is saved.
    pub async fn plan_refund(
        &self,
        contract_id: &str,
        freelancer_share: Option<i64>,
    ) -> Result<MovePlan> {
        let id: ContractId = parse_id(contract_id, "contract id")?;
        let mut c = self.load(&id).await?;
        c.decide_refund(
            PLAN_ACTOR,
            Party::Admin,
            "",
            "",
            freelancer_share,
            self.clock.now_ms(),
        )
        .map_err(wrong_state)?;
        Ok(MovePlan::of("refund", &c))
    }

    /// How many records [`Service::verify`] reads (ledger entries and contracts), so a
    /// progress display can show a total.
    pub async fn verify_record_count(&self) -> Result<u64> {
        Ok(self.store.count_entries().await? + self.store.count_contracts().await?)
    }
}
