//! The sandbox provider: no network. Checkout sessions point at a page the server itself
//! serves; paying there makes the server send itself a `checkout.session.completed` event,
//! signed exactly as Stripe signs, to its own `/webhook`, so the sandbox runs the production
//! code path. Refunds succeed at once with `re_sandbox_…` ids.

use async_trait::async_trait;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    CheckoutRequest, CheckoutSession, PaymentError, PaymentProvider, RefundRequest, RefundResult,
};
use crate::domain::{Contract, EventId, PaymentRef, RefundRef};

pub const SESSION_PREFIX: &str = "cs_sandbox_";

pub struct SandboxProvider {
    /// Where the server can be reached by the payer's browser, e.g. `http://127.0.0.1:8080`.
    public_url: String,
}

impl SandboxProvider {
    pub fn new(public_url: impl Into<String>) -> SandboxProvider {
        SandboxProvider {
            public_url: public_url.into().trim_end_matches('/').to_string(),
        }
    }
}

/// The session id of a contract's checkout: one per contract and amount, so a double click
/// gets the same session.
pub fn session_id(contract: &Contract) -> String {
    format!("{SESSION_PREFIX}{}_{}", contract.id, contract.amount)
}

/// The contract id inside a sandbox session id.
pub fn contract_of_session(session_id: &str) -> Option<&str> {
    let rest = session_id.strip_prefix(SESSION_PREFIX)?;
    rest.split_once('_').map(|(c, _)| c)
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
        let id = format!(
            "{SESSION_PREFIX}{}_{}",
            request.contract_id, request.amount.minor
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
}

/// The payment intent of a sandbox session: derived from it, as the paid event names it.
pub fn intent_of(session_id: &str) -> PaymentRef {
    PaymentRef::new(format!("pi_sandbox_{}", short_hash(session_id)))
}

/// The `checkout.session.completed` event a real Stripe would send for this contract's
/// session: every field async-stripe's typed parser requires is present.
pub fn completed_event(
    contract: &Contract,
    session_id: &str,
    event_id: &EventId,
    success_url: &str,
    cancel_url: &str,
    now_s: i64,
) -> String {
    let payment_intent = intent_of(session_id);
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
                "amount_subtotal": contract.amount,
                "amount_total": contract.amount,
                "automatic_tax": {"enabled": false, "liability": null, "status": null},
                "cancel_url": cancel_url,
                "client_reference_id": contract.id.as_str(),
                "created": now_s,
                "currency": contract.currency.code(),
                "custom_fields": [],
                "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
                "expires_at": now_s + 86_400,
                "livemode": false,
                "metadata": {
                    "jobId": contract.job_id.as_str(),
                    "clientId": contract.client_id.as_str(),
                    "freelancerId": contract.freelancer_id.as_str(),
                    "contractId": contract.id.as_str(),
                },
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
        let sid = session_id(&c);
        assert_eq!(contract_of_session(&sid), Some(c.id.as_str()));
        let body = completed_event(
            &c,
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
        assert_eq!(refs.contract_id.as_deref(), Some(c.id.as_str()));
    }
}
