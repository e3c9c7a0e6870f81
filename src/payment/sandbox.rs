//! The sandbox provider: no network. Checkout sessions point at a page the server itself
//! serves; paying there makes the server send itself a `checkout.session.completed` event,
//! signed exactly as Stripe signs, to its own `/webhook`, so the sandbox runs the production
//! code path. Refunds succeed at once with `re_sandbox_…` ids.
//!
//! Money out the same way: a connected account is `acct_sandbox_<user>_<tag>` (keyed like a
//! session id), its onboarding link a page of this server whose "Complete onboarding" button
//! makes the server send itself a signed `account.updated` (payouts enabled) to its own
//! `/webhook/connect`; transfers succeed at once with `tr_sandbox_…` ids.

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    AccountLinkRequest, AccountRequest, CheckoutRequest, CheckoutSession, PaymentError,
    PaymentProvider, RefundRequest, RefundResult, RefundStatus, TransferRequest, TransferResult,
};
use crate::domain::{
    Contract, ContractId, EventId, MilestoneId, MinorUnits, PaymentRef, RefundRef, UserId,
};

pub const SESSION_PREFIX: &str = "cs_sandbox_";
pub const ACCOUNT_PREFIX: &str = "acct_sandbox_";
/// Bytes of a session id's tag (hex-encoded in the id).
const TAG_BYTES: usize = 16;

/// What makes sandbox session ids unguessable: a key derived from the webhook signing secret,
/// which every server of one deployment shares (so any of them can check a session another
/// made, with nothing stored).
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl SessionKey {
    pub fn new(webhook_secret: &str) -> SessionKey {
        let mut mac = Hmac::<Sha256>::new_from_slice(webhook_secret.as_bytes())
            .expect("HMAC takes any key length");
        mac.update(b"escrow sandbox checkout sessions");
        SessionKey(mac.finalize().into_bytes().into())
    }

    fn mac(&self, contract: &str, what: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(format!("{contract}_{what}").as_bytes());
        mac
    }

    /// The session id of a checkout of `amount` for `milestones` of `contract`: the same on
    /// every call (a double click gets the same session), and not one anyone without the key
    /// can make. The milestones ride in the amount's part (`<amount>m<1-2>`).
    pub fn session_id(
        &self,
        contract: &ContractId,
        amount: MinorUnits,
        milestones: &[MilestoneId],
    ) -> String {
        let what = what_part(amount, milestones);
        let tag = self.mac(contract.as_str(), &what).finalize().into_bytes();
        format!(
            "{SESSION_PREFIX}{contract}_{what}_{}",
            hex::encode(&tag[..TAG_BYTES])
        )
    }

    fn account_mac(&self, user: &UserId) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"connected account ");
        mac.update(user.as_str().as_bytes());
        mac
    }

    /// The sandbox connected account of `user`: the same on every call, and not one anyone
    /// without the key can make (its onboarding page enables payouts).
    pub fn account_id(&self, user: &UserId) -> String {
        let tag = self.account_mac(user).finalize().into_bytes();
        format!("{ACCOUNT_PREFIX}{user}_{}", hex::encode(&tag[..TAG_BYTES]))
    }

    /// The user a sandbox account id names, when this deployment made it.
    pub fn check_account(&self, account_id: &str) -> Option<UserId> {
        let (user, tag) = account_id.strip_prefix(ACCOUNT_PREFIX)?.split_once('_')?;
        let user = UserId::parse(user).ok()?;
        let tag = hex::decode(tag).ok().filter(|t| t.len() == TAG_BYTES)?;
        self.account_mac(&user).verify_truncated_left(&tag).ok()?;
        Some(user)
    }

    /// The contract, amount and milestones a session id names, when this deployment made it;
    /// `None` for anything else (checked in constant time). Milestones `None`: a session made
    /// before milestones (it pays every unfunded one).
    pub fn check(&self, session_id: &str) -> Option<SandboxSession> {
        let rest = session_id.strip_prefix(SESSION_PREFIX)?;
        let mut parts = rest.splitn(3, '_');
        let (contract, what, tag) = (parts.next()?, parts.next()?, parts.next()?);
        let contract = ContractId::parse(contract).ok()?;
        let (amount, milestones) = match what.split_once('m') {
            None => (what, None),
            Some((amount, ids)) => {
                let ids: Option<Vec<MilestoneId>> =
                    ids.split('-').map(|n| MilestoneId::parse(n).ok()).collect();
                (amount, Some(ids?))
            }
        };
        let amount = MinorUnits::new(amount.parse().ok()?);
        let tag = hex::decode(tag).ok().filter(|t| t.len() == TAG_BYTES)?;
        self.mac(contract.as_str(), what)
            .verify_truncated_left(&tag)
            .ok()?;
        Some(SandboxSession {
            contract,
            amount,
            milestones,
        })
    }
}

/// What a sandbox session is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSession {
    pub contract: ContractId,
    pub amount: MinorUnits,
    pub milestones: Option<Vec<MilestoneId>>,
}

fn what_part(amount: MinorUnits, milestones: &[MilestoneId]) -> String {
    match milestones {
        [] => amount.to_string(),
        ids => format!(
            "{amount}m{}",
            ids.iter()
                .map(MilestoneId::to_string)
                .collect::<Vec<_>>()
                .join("-")
        ),
    }
}

pub struct SandboxProvider {
    /// Where the server can be reached by the payer's browser, e.g. `http://127.0.0.1:8080`.
    public_url: String,
    key: SessionKey,
}

impl SandboxProvider {
    pub fn new(public_url: impl Into<String>, key: SessionKey) -> SandboxProvider {
        SandboxProvider {
            public_url: public_url.into().trim_end_matches('/').to_string(),
            key,
        }
    }
}

fn short_hash(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..12])
}

#[async_trait]
impl PaymentProvider for SandboxProvider {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentError> {
        let id = self.key.session_id(
            &request.contract_id,
            request.amount.minor,
            &request.milestones,
        );
        let url = format!("{}/sandbox/checkout/{id}", self.public_url);
        Ok(CheckoutSession { id, url })
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, PaymentError> {
        Ok(RefundResult {
            id: RefundRef::new(format!(
                "re_sandbox_{}",
                short_hash(request.idempotency_key.as_str())
            )),
            status: RefundStatus::Succeeded,
        })
    }

    async fn intent_of_session(
        &self,
        session: &PaymentRef,
    ) -> Result<Option<PaymentRef>, PaymentError> {
        Ok(session
            .as_str()
            .starts_with(SESSION_PREFIX)
            .then(|| intent_of(session.as_str())))
    }

    async fn create_connected_account(
        &self,
        request: &AccountRequest,
    ) -> Result<String, PaymentError> {
        Ok(self.key.account_id(&request.user))
    }

    async fn create_account_link(
        &self,
        request: &AccountLinkRequest,
    ) -> Result<String, PaymentError> {
        Ok(format!(
            "{}/sandbox/onboarding/{}",
            self.public_url, request.account_id
        ))
    }

    async fn create_transfer(
        &self,
        request: &TransferRequest,
    ) -> Result<TransferResult, PaymentError> {
        Ok(TransferResult {
            id: format!("tr_sandbox_{}", short_hash(&request.idempotency_key)),
        })
    }
}

/// The `account.updated` event a real Stripe sends to a Connect endpoint when an Express
/// account finishes onboarding: details submitted, payouts enabled, nothing due. Every field
/// async-stripe's typed parser requires is present.
pub fn account_updated_event(
    account_id: &str,
    user: &UserId,
    event_id: &EventId,
    now_s: i64,
) -> String {
    json!({
        "id": event_id.as_str(),
        "object": "event",
        "account": account_id,
        "api_version": "2026-09-30.endive",
        "created": now_s,
        "livemode": false,
        "pending_webhooks": 1,
        "type": "account.updated",
        "data": {
            "object": {
                "id": account_id,
                "object": "account",
                "type": "express",
                "charges_enabled": true,
                "payouts_enabled": true,
                "details_submitted": true,
                "country": "IN",
                "default_currency": "inr",
                "created": now_s,
                "metadata": {"userId": user.as_str()},
                "requirements": {
                    "alternatives": [],
                    "current_deadline": null,
                    "currently_due": [],
                    "disabled_reason": null,
                    "errors": [],
                    "eventually_due": [],
                    "past_due": [],
                    "pending_verification": []
                }
            }
        }
    })
    .to_string()
}

/// The payment intent of a sandbox session: derived from it, as the paid event names it.
pub fn intent_of(session_id: &str) -> PaymentRef {
    PaymentRef::new(format!("pi_sandbox_{}", short_hash(session_id)))
}

/// The `checkout.session.completed` event a real Stripe would send for this contract's
/// session: every field async-stripe's typed parser requires is present.
pub fn completed_event(
    contract: &Contract,
    session: &SandboxSession,
    session_id: &str,
    event_id: &EventId,
    success_url: &str,
    cancel_url: &str,
    now_s: i64,
) -> String {
    let payment_intent = intent_of(session_id);
    let mut metadata = json!({
        "jobId": contract.job_id.as_str(),
        "clientId": contract.client_id.as_str(),
        "freelancerId": contract.freelancer_id.as_str(),
        "contractId": contract.id.as_str(),
    });
    if let Some(ids) = &session.milestones {
        metadata[crate::payment::webhook::MILESTONES_METADATA] = json!(
            ids.iter()
                .map(MilestoneId::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    json!({
        "id": event_id.as_str(),
        "object": "event",
        "created": now_s,
        "livemode": false,
        "pending_webhooks": 1,
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "amount_subtotal": session.amount,
                "amount_total": session.amount,
                "automatic_tax": {"enabled": false, "liability": null, "status": null},
                "cancel_url": cancel_url,
                "client_reference_id": contract.id.as_str(),
                "created": now_s,
                "currency": contract.currency.code(),
                "custom_fields": [],
                "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
                "expires_at": now_s + 86_400,
                "livemode": false,
                "metadata": metadata,
                "mode": "payment",
                "payment_intent": payment_intent.as_str(),
                "payment_method_types": ["card"],
                "payment_status": "paid",
                "shipping_options": [],
                "status": "complete",
                "success_url": success_url,
                "url": null
            }
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::webhook::{paid_payment, sign, verify_and_parse};

    #[test]
    fn the_sandbox_event_passes_the_typed_stripe_parser() {
        let c = crate::domain::contract::tests::contract();
        let key = SessionKey::new("whsec_s");
        let ids = [MilestoneId::FIRST];
        let sid = key.session_id(&c.id, c.amount, &ids);
        let session = key.check(&sid).unwrap();
        assert_eq!(
            session,
            SandboxSession {
                contract: c.id.clone(),
                amount: c.amount,
                milestones: Some(ids.to_vec())
            }
        );
        let body = completed_event(
            &c,
            &session,
            &sid,
            &EventId::new("evt_sandbox_1"),
            "http://x/ok",
            "http://x/no",
            1_800_000_000,
        );
        let header = sign(body.as_bytes(), "whsec_s", 1_800_000_000);
        // The typed parser itself, not the raw fallback, must accept it.
        let typed = stripe_webhook::Webhook::construct_event_with_timestamp(
            &body,
            &header,
            "whsec_s",
            1_800_000_000,
        );
        assert!(typed.is_ok(), "{typed:?}");
        let parsed =
            verify_and_parse(body.as_bytes(), Some(&header), "whsec_s", 1_800_000_000).unwrap();
        let (payment, refs) = paid_payment(parsed);
        assert_eq!(payment.amount, c.amount);
        assert_eq!(payment.milestones, Some(ids.to_vec()));
        assert_eq!(refs.contract_id.as_deref(), Some(c.id.as_str()));
    }

    #[test]
    fn only_the_key_makes_a_session_id() {
        let c = crate::domain::contract::tests::contract();
        let key = SessionKey::new("whsec_s");
        let sid = key.session_id(&c.id, c.amount, &[]);
        assert_eq!(sid, key.session_id(&c.id, c.amount, &[]), "deterministic");
        let two = key.session_id(&c.id, c.amount, &[MilestoneId::new(2).unwrap()]);
        assert_eq!(
            key.check(&two).unwrap().milestones,
            Some(vec![MilestoneId::new(2).unwrap()])
        );
        let other_milestone = two.replacen("m2_", "m3_", 1);
        assert_eq!(key.check(&other_milestone), None);
        let guessed = format!("{SESSION_PREFIX}{}_{}", c.id, c.amount);
        let other_amount = sid.replacen(&format!("_{}_", c.amount), "_1_", 1);
        let mut flipped = sid.clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == '0' { '1' } else { '0' });
        for bad in [
            guessed.as_str(),
            &format!("{guessed}_"),
            &format!("{guessed}_00"),
            other_amount.as_str(),
            flipped.as_str(),
            &sid[..sid.len() - 2],
            &format!("{sid}00"),
            "cs_sandbox_x_1",
        ] {
            assert_eq!(key.check(bad), None, "{bad}");
        }
        assert_eq!(SessionKey::new("whsec_other").check(&sid), None);
    }
}
