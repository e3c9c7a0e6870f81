//! Paying for a contract: a checkout session at the payment provider for exactly the
//! contract's amount, and the sandbox's Pay button, which makes the event Stripe would send.

use sha2::Digest;

use crate::domain::{
    Contract, ContractStatus, EventId, IdempotencyKey, JobId, MilestoneId, MinorUnits, Money,
    Outcome, Title, UserId,
};
use crate::payment::sandbox::SandboxSession;
use crate::payment::{CheckoutRequest, CheckoutSession};

use super::Service;
use super::access::{Permit, UseCase, not_party};
use super::error::{Error, ErrorCode, Result};

/// The checkout call (the original's `{title, rate, freelancerId}`): whatever the body says
/// about the price or the freelancer must agree with the job's contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub job: JobId,
    pub title: Option<Title>,
    /// `rate` as sent, when sent.
    pub rate: Option<Money>,
    /// `amount` as sent, when sent (the same as `rate`).
    pub amount: Option<Money>,
    pub freelancer: Option<UserId>,
    /// The milestone to pay for; `None`: every unfunded one, in one session.
    pub milestone: Option<MilestoneId>,
}

/// What the sandbox's Pay button posts to this server's own `/webhook`.
#[derive(Debug, Clone)]
pub struct SandboxPayment {
    pub contract: Contract,
    pub body: String,
    /// `Stripe-Signature`, signed with the webhook secret exactly as Stripe signs.
    pub signature: String,
}

impl Service {
    pub fn success_url(&self) -> String {
        format!(
            "{}/client/contract/payment-success",
            self.settings.client_url.trim_end_matches('/')
        )
    }

    pub fn cancel_url(&self) -> String {
        format!(
            "{}/client/jobs/home?cancelled=true",
            self.settings.client_url.trim_end_matches('/')
        )
    }

    /// Creates the checkout session for the job's contract. The amount is the contract's; a
    /// `rate`/`amount` that differs is refused (the original let the client pick the price).
    pub async fn checkout(&self, permit: Permit<'_>, req: Checkout) -> Result<CheckoutSession> {
        let caller = permit.expect(UseCase::Checkout);
        let contract = self
            .store
            .live_contract_for_job(&req.job)
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::ContractNotFound,
                    format!("job {} has no contract to pay", req.job),
                )
            })?;
        if caller.party_in(&contract).is_none() {
            return Err(not_party());
        }
        // Like a differing amount: the body contradicts the contract (409, not 422).
        if req
            .freelancer
            .as_ref()
            .is_some_and(|f| f != &contract.freelancer_id)
        {
            return Err(Error::new(
                ErrorCode::FreelancerMismatch,
                "freelancerId is not the freelancer of this job's contract",
            ));
        }
        let milestones = unfunded_milestones(&contract, req.milestone)?;
        let pays = Money::new(
            milestones
                .iter()
                .filter_map(|id| contract.milestone(*id).ok())
                .map(|m| m.amount)
                .sum::<MinorUnits>(),
            contract.currency,
        );
        // The price sent is the contract's (the original's front end sends it), or what this
        // session pays.
        for (field, asked) in [("rate", req.rate), ("amount", req.amount)] {
            if let Some(asked) = asked
                && asked != contract.money()
                && asked != pays
            {
                return Err(Error::new(
                    ErrorCode::AmountMismatch,
                    format!(
                        "{field} {} differs from the contract amount {}",
                        asked.format_major(),
                        contract.money().format_major()
                    ),
                ));
            }
        }
        if !contract.is_approved {
            return Err(Error::new(
                ErrorCode::ContractNotApproved,
                "the freelancer has not approved the contract yet",
            ));
        }
        let title = match req.title {
            Some(t) if !t.is_empty() => t,
            _ => contract.title.clone().unwrap_or_else(|| {
                Title::parse(&format!("Job {}", req.job)).expect("a short title")
            }),
        };
        if contract.title.as_ref() != Some(&title) {
            let t = title.clone();
            self.transition(&contract.id, move |c, now| {
                c.title = Some(t.clone());
                c.updated_at = now;
                Ok(((), vec![], Outcome::Changed))
            })
            .await?;
        }
        // Same contract, milestones, amount and title → same key → the same session on a
        // double click; a new title is a new request, which Stripe would refuse under the old
        // key.
        let which = match milestones.as_slice() {
            [only] if contract.milestones.len() == 1 && *only == MilestoneId::FIRST => {
                String::new()
            }
            ids => format!(
                "-m{}",
                ids.iter()
                    .map(MilestoneId::to_string)
                    .collect::<Vec<_>>()
                    .join("-")
            ),
        };
        let idempotency_key = IdempotencyKey::derived(format!(
            "escrow-checkout-{}{which}-{}-{}",
            contract.id,
            pays.minor,
            &hex::encode(sha2::Sha256::digest(title.as_str().as_bytes()))[..16]
        ));
        let request = CheckoutRequest {
            contract_id: contract.id.clone(),
            job_id: contract.job_id.clone(),
            client_id: contract.client_id.clone(),
            freelancer_id: contract.freelancer_id.clone(),
            title: title.as_str().to_string(),
            amount: pays,
            milestones,
            // Stripe fills in the session id, so the front end learns it as from the sandbox.
            success_url: format!("{}?session_id={{CHECKOUT_SESSION_ID}}", self.success_url()),
            cancel_url: self.cancel_url(),
            idempotency_key,
        };
        Ok(self.payments.create_checkout(&request).await?)
    }

    /// The sandbox's Pay button: the signed event the server then posts to itself. Like a
    /// Stripe session, one is paid once, and not once its contract is canceled.
    pub async fn sandbox_payment(&self, session_id: &str) -> Result<SandboxPayment> {
        let (contract, session) = self.sandbox_session(session_id).await?;
        if !sandbox_session_open(&contract, &session) {
            return Err(Error::new(
                ErrorCode::EscrowAlreadyFunded,
                "this contract is already paid",
            ));
        }
        if contract.status == ContractStatus::Canceled || !contract.is_approved {
            return Err(Error::new(
                ErrorCode::ContractInvalidTransition,
                "this contract can no longer be paid",
            ));
        }
        let now_s = self.clock.now_ms() / 1000;
        let event_id = EventId::new(format!(
            "evt_sandbox_{}",
            crate::domain::ids::new_object_id_hex()
        ));
        let body = crate::payment::sandbox::completed_event(
            &contract,
            &session,
            session_id,
            &event_id,
            &self.success_url(),
            &self.cancel_url(),
            now_s,
        );
        let signature =
            crate::payment::webhook::sign(body.as_bytes(), &self.settings.webhook_secret, now_s);
        Ok(SandboxPayment {
            contract,
            body,
            signature,
        })
    }

    /// The contract of a sandbox session, for its checkout page: a session this deployment
    /// made (its id carries a tag only the server can make) for what its milestones cost.
    pub async fn sandbox_session(&self, session_id: &str) -> Result<(Contract, SandboxSession)> {
        if self.payments.name() != "sandbox" {
            return Err(Error::new(
                ErrorCode::SandboxDisabled,
                "the sandbox provider is not in use",
            ));
        }
        let not_found = |why: &str| Error::new(ErrorCode::SandboxSessionNotFound, why.to_string());
        let session = crate::payment::sandbox::SessionKey::new(&self.settings.webhook_secret)
            .check(session_id)
            .ok_or_else(|| not_found("no such sandbox session"))?;
        let c = self.load(&session.contract).await?;
        let costs = match &session.milestones {
            None => c.amount,
            Some(ids) => ids
                .iter()
                .map(|id| c.milestone(*id).map(|m| m.amount))
                .sum::<std::result::Result<MinorUnits, _>>()
                .map_err(|_| not_found("no such sandbox session (no such milestone)"))?,
        };
        if costs != session.amount {
            return Err(not_found("no such sandbox session (the amount changed?)"));
        }
        Ok((c, session))
    }
}

/// Whether a sandbox session can still be paid: none of its milestones is funded (a session
/// made before milestones: the contract is not).
pub fn sandbox_session_open(c: &Contract, session: &SandboxSession) -> bool {
    match &session.milestones {
        None => !c.escrow_paid(),
        Some(ids) => ids
            .iter()
            .all(|id| c.milestone(*id).is_ok_and(|m| m.escrow.is_none())),
    }
}

/// The milestones a checkout pays for: `only`, which must be unfunded, else every unfunded
/// one (at least one).
fn unfunded_milestones(c: &Contract, only: Option<MilestoneId>) -> Result<Vec<MilestoneId>> {
    let paid = || {
        Error::new(
            ErrorCode::EscrowAlreadyFunded,
            match only {
                Some(id) => format!("milestone {id} of this contract is already paid"),
                None => "the escrow of this contract is already paid".to_string(),
            },
        )
    };
    let ids: Vec<MilestoneId> = match only {
        Some(id) => {
            if c.milestone(id)?.escrow.is_some() {
                return Err(paid());
            }
            vec![id]
        }
        None => c
            .milestones
            .iter()
            .filter(|m| m.escrow.is_none())
            .map(|m| m.id)
            .collect(),
    };
    if ids.is_empty() {
        return Err(paid());
    }
    Ok(ids)
}
