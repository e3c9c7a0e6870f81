//! Disputes: the contract's client disputes the held escrow, its freelancer answers, an admin
//! resolves it with an explicit split (the client's share refunded through the provider, the
//! freelancer's to the wallet, the fee retained), exactly once.

use crate::domain::{ContractId, DisputeMark, MinorUnits, Outcome, Party};
use crate::store::{ContractFilter, Page};

use super::Service;
use super::access::{Permit, UseCase, not_party};
use super::error::Result;
use super::escrow::{MovePlan, PLAN_ACTOR, PlanAction};
use super::reports::EscrowPage;

/// An admin's resolution of a contract's open client dispute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub contract: ContractId,
    /// Back to the client through the payment provider.
    pub client_share: MinorUnits,
    /// To the freelancer's wallet.
    pub freelancer_share: MinorUnits,
    pub reason: String,
}

impl Service {
    /// The contract's client disputes it: every milestone whose money is held is frozen (no
    /// release, auto-release, release request or refund) until an admin resolves it.
    pub async fn open_dispute(
        &self,
        permit: Permit<'_>,
        id: &ContractId,
        reason: &str,
        description: &str,
    ) -> Result<crate::domain::Contract> {
        let caller = permit.expect(UseCase::Dispute);
        let actor = caller.actor();
        let (repeat, c) = self
            .transition_for(permit.request(), id, |c, now| {
                if caller.party_in(c) != Some(Party::Client) {
                    return Err(not_party());
                }
                Ok((
                    (),
                    vec![],
                    c.open_dispute(&actor, reason, description, now)?,
                ))
            })
            .await?;
        if !repeat {
            tracing::info!(contract = %id, actor = %actor, "dispute opened");
        }
        Ok(c)
    }

    /// The contract's freelancer answers its open dispute.
    pub async fn respond_to_dispute(
        &self,
        permit: Permit<'_>,
        id: &ContractId,
        description: &str,
    ) -> Result<crate::domain::Contract> {
        let caller = permit.expect(UseCase::RespondDispute);
        let actor = caller.actor();
        let (_, c) = self
            .transition_for(permit.request(), id, |c, now| {
                if caller.party_in(c) != Some(Party::Freelancer) {
                    return Err(not_party());
                }
                let outcome: Outcome = c.respond_to_dispute(&actor, description, now)?;
                Ok(((), vec![], outcome))
            })
            .await?;
        Ok(c)
    }

    /// Resolves the contract's open client dispute with the admin's split, then sends the
    /// client's share back through the provider (if the provider is down, the decision stands
    /// and the recovery step finishes it: 503).
    pub async fn resolve_dispute(
        &self,
        permit: Permit<'_>,
        resolution: &Resolution,
    ) -> Result<crate::domain::Contract> {
        let caller = permit.expect(UseCase::ResolveDispute);
        let actor = caller.actor();
        let (repeat, _) = self
            .transition_for(permit.request(), &resolution.contract, |c, now| {
                let transfers = c.resolve_dispute(
                    &actor,
                    resolution.client_share,
                    resolution.freelancer_share,
                    &resolution.reason,
                    now,
                )?;
                Ok(((), transfers, Outcome::Changed))
            })
            .await?;
        if !repeat {
            tracing::info!(contract = %resolution.contract, actor = %actor, "dispute resolved");
        }
        // Also on a repeat: the first try may have died before the provider call.
        self.settle_with_provider(&resolution.contract).await?;
        self.load(&resolution.contract).await
    }

    /// What [`Service::resolve_dispute`] would move now, checked exactly as it checks.
    /// Nothing is saved: the resolution runs on a copy of the record.
    pub async fn plan_resolve_dispute(
        &self,
        permit: Permit<'_>,
        resolution: &Resolution,
    ) -> Result<MovePlan> {
        permit.expect(UseCase::ResolveDispute);
        let mut c = self.load(&resolution.contract).await?;
        let transfers = c.resolve_dispute(
            PLAN_ACTOR,
            resolution.client_share,
            resolution.freelancer_share,
            "",
            self.clock.now_ms(),
        )?;
        Ok(MovePlan::of(PlanAction::Refund, &c, &transfers, true))
    }

    /// Contracts with disputes (with an open one, if `open_only`), newest first.
    pub async fn disputes(
        &self,
        permit: Permit<'_>,
        open_only: bool,
        page: Page,
    ) -> Result<EscrowPage> {
        permit.expect(UseCase::ResolveDispute);
        let filter = ContractFilter {
            disputes: Some(match open_only {
                true => DisputeMark::Open,
                false => DisputeMark::Settled,
            }),
            ..ContractFilter::default()
        };
        self.contract_page(&filter, page).await
    }
}
