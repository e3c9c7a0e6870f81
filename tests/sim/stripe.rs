//! The simulated Stripe account: payments made by payers, and the events Stripe sends about
//! them, shaped as Stripe shapes them and signed as Stripe signs them. Events wait in a queue
//! that the simulator delivers in any order (Stripe promises none), and every event that did
//! not get a 200 is delivered again, as Stripe retries.

use escrow::store::EventStatus;
use serde_json::{Value, json};

/// One payment a payer made (or tried to make) at Stripe.
#[derive(Debug, Clone)]
pub struct StripePayment {
    pub payment_intent: String,
    pub session: String,
    /// What the payment's metadata names as its contract (maybe no contract at all).
    pub contract_ref: String,
    pub job: String,
    pub client: String,
    pub freelancer: String,
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// `checkout.session.completed`; `paid` is its `payment_status`.
    SessionCompleted { payment: usize, paid: bool },
    /// `checkout.session.async_payment_succeeded`.
    AsyncSucceeded { payment: usize },
    /// `payment_intent.succeeded` with the contract in its metadata.
    IntentSucceeded { payment: usize },
    /// `charge.refunded`: the provider refunded this payment (through the API, or from the
    /// Stripe dashboard, outside the escrow).
    /// `refunded` is the charge's `amount_refunded`: all of it refunded so far.
    ChargeRefunded { payment_ref: String, refunded: i64 },
    /// `refund.updated` (or `charge.refund.updated`, `refund.failed`): a refund the provider
    /// had taken as pending succeeded or failed.
    RefundUpdated {
        refund_id: String,
        payment_ref: String,
        succeeded: bool,
    },
    /// `charge.dispute.*`: the card holder disputed payment `payment_ref` at their bank
    /// (chargeback `dispute`, of `amount`), in the dispute's `status` as the event carries it.
    Chargeback {
        dispute: String,
        payment_ref: String,
        amount: i64,
        phase: ChargebackPhase,
        status: &'static str,
    },
    /// Anything this product does not act on (`checkout.session.async_payment_failed`, …).
    Other,
}

/// Which `charge.dispute.*` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargebackPhase {
    Created,
    FundsWithdrawn,
    FundsReinstated,
    Closed,
}

impl ChargebackPhase {
    pub fn event_type(self) -> &'static str {
        match self {
            ChargebackPhase::Created => "charge.dispute.created",
            ChargebackPhase::FundsWithdrawn => "charge.dispute.funds_withdrawn",
            ChargebackPhase::FundsReinstated => "charge.dispute.funds_reinstated",
            ChargebackPhase::Closed => "charge.dispute.closed",
        }
    }
}

/// A chargeback the card holder's bank opened: open until the bank decides.
#[derive(Debug, Clone)]
pub struct SimChargeback {
    pub id: String,
    pub payment_ref: String,
    pub amount: i64,
    /// When the evidence is due (Unix seconds): the same in every event of it.
    pub due_by: i64,
    pub closed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Not yet answered with a 200. `tried`: an earlier delivery got no answer (the service
    /// crashed or failed), so the store may already hold the event, in any state.
    Pending { tried: bool },
    /// Answered with a 200; the status the store must keep for it.
    Acked(EventStatus),
}

#[derive(Debug, Clone)]
pub struct SimEvent {
    pub id: String,
    pub body: String,
    pub kind: EventKind,
    pub delivery: Delivery,
}

#[derive(Default)]
pub struct Stripe {
    pub payments: Vec<StripePayment>,
    pub events: Vec<SimEvent>,
    /// What each payment (by its reference) has had refunded so far, as its charge reports it.
    pub refunded: std::collections::HashMap<String, i64>,
    pub chargebacks: Vec<SimChargeback>,
}

impl Stripe {
    pub fn pending(&self) -> Vec<usize> {
        (0..self.events.len())
            .filter(|i| matches!(self.events[*i].delivery, Delivery::Pending { .. }))
            .collect()
    }

    pub fn acked(&self) -> Vec<usize> {
        (0..self.events.len())
            .filter(|i| matches!(self.events[*i].delivery, Delivery::Acked(_)))
            .collect()
    }

    pub fn push(&mut self, kind: EventKind, body: String, id: String) {
        self.events.push(SimEvent {
            id,
            body,
            kind,
            delivery: Delivery::Pending { tried: false },
        });
    }
}

fn envelope(event_id: &str, event_type: &str, created_s: i64, object: Value) -> String {
    json!({
        "id": event_id,
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created_s,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": event_type,
        "data": {"object": object}
    })
    .to_string()
}

/// The metadata the checkout put on the payment. Sessions made by the original app carry no
/// contract id (an empty `contract_ref`), only the job and the client.
fn metadata(p: &StripePayment) -> Value {
    let mut m = json!({
        "jobId": p.job,
        "clientId": p.client,
        "freelancerId": p.freelancer,
    });
    if !p.contract_ref.is_empty() {
        m["contractId"] = json!(p.contract_ref);
    }
    m
}

fn client_reference_id(p: &StripePayment) -> Value {
    if p.contract_ref.is_empty() {
        Value::Null
    } else {
        json!(p.contract_ref)
    }
}

/// A Checkout Session event (`completed` or `async_payment_*`) with every field the typed
/// parser requires.
pub fn session_event(
    event_id: &str,
    event_type: &str,
    p: &StripePayment,
    currency: &str,
    paid: bool,
    created_s: i64,
) -> String {
    let object = json!({
        "id": p.session,
        "object": "checkout.session",
        "amount_subtotal": p.amount,
        "amount_total": p.amount,
        "automatic_tax": {"enabled": false, "liability": null, "status": null},
        "cancel_url": "http://front.sim/client/jobs/home?cancelled=true",
        "client_reference_id": client_reference_id(p),
        "created": created_s,
        "currency": currency,
        "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "expires_at": created_s + 86_400,
        "livemode": false,
        "metadata": metadata(p),
        "mode": "payment",
        "payment_intent": p.payment_intent,
        "payment_method_types": ["card"],
        "payment_status": if paid { "paid" } else { "unpaid" },
        "shipping_options": [],
        "status": "complete",
        "success_url": "http://front.sim/client/contract/payment-success",
        "url": null
    });
    envelope(event_id, event_type, created_s, object)
}

/// `payment_intent.succeeded` for the same money as the session (same payment intent).
pub fn intent_event(event_id: &str, p: &StripePayment, currency: &str, created_s: i64) -> String {
    let object = json!({
        "id": p.payment_intent,
        "object": "payment_intent",
        "amount": p.amount,
        "amount_received": p.amount,
        "amount_capturable": 0,
        "capture_method": "automatic_async",
        "confirmation_method": "automatic",
        "payment_method_types": ["card"],
        "currency": currency,
        "created": created_s,
        "livemode": false,
        "metadata": metadata(p),
        "status": "succeeded"
    });
    envelope(event_id, "payment_intent.succeeded", created_s, object)
}

/// `charge.refunded` for a refund the provider made on a payment intent.
pub fn charge_refunded_event(
    event_id: &str,
    payment_ref: &str,
    amount_refunded: i64,
    currency: &str,
    created_s: i64,
) -> String {
    let object = json!({
        "id": format!("ch_{}", payment_ref.trim_start_matches("pi_")),
        "object": "charge",
        "amount_refunded": amount_refunded,
        "currency": currency,
        "created": created_s,
        "livemode": false,
        "metadata": {},
        "payment_intent": payment_ref,
        "refunded": true
    });
    envelope(event_id, "charge.refunded", created_s, object)
}

/// A refund's state change, as `refund.updated`, `charge.refund.updated` or (a failure)
/// `refund.failed` carry it: the refund object.
pub fn refund_updated_event(
    event_id: &str,
    event_type: &str,
    refund: &crate::fakes::ProviderRefund,
    currency: &str,
    created_s: i64,
) -> String {
    let failed = refund.status == crate::fakes::PStatus::Failed;
    let object = json!({
        "id": refund.id,
        "object": "refund",
        "amount": refund.amount,
        "balance_transaction": null,
        "charge": format!("ch_{}", refund.payment_ref.trim_start_matches("pi_")),
        "created": created_s,
        "currency": currency,
        "destination_details": {"type": "card", "card": {"reference_status": "pending", "reference_type": "acquirer_reference_number", "type": "refund"}},
        "failure_reason": if failed { json!(crate::fakes::FAILURE_REASON) } else { Value::Null },
        "metadata": {},
        "payment_intent": refund.payment_ref,
        "reason": "requested_by_customer",
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": if failed { "failed" } else { "succeeded" },
        "transfer_reversal": null
    });
    envelope(event_id, event_type, created_s, object)
}

/// A `charge.dispute.*` event: the dispute object as Stripe shapes it.
pub fn chargeback_event(
    event_id: &str,
    cb: &SimChargeback,
    phase: ChargebackPhase,
    status: &str,
    currency: &str,
    created_s: i64,
) -> String {
    let object = json!({
        "id": cb.id,
        "object": "dispute",
        "amount": cb.amount,
        "balance_transactions": [],
        "charge": format!("ch_{}", cb.payment_ref.trim_start_matches("pi_")),
        "created": created_s,
        "currency": currency,
        "enhanced_eligibility_types": [],
        "evidence": {"enhanced_evidence": {}, "product_description": null, "receipt": null},
        "evidence_details": {
            "due_by": cb.due_by, "enhanced_eligibility": {}, "has_evidence": false,
            "past_due": false, "submission_count": 0
        },
        "is_charge_refundable": false,
        "livemode": false,
        "metadata": {},
        "payment_intent": cb.payment_ref,
        "payment_method_details": {"type": "card"},
        "reason": "fraudulent",
        "status": status
    });
    envelope(event_id, phase.event_type(), created_s, object)
}

/// `checkout.session.async_payment_failed`: recorded, never acted on.
pub fn async_failed_event(
    event_id: &str,
    p: &StripePayment,
    currency: &str,
    created_s: i64,
) -> String {
    session_event(
        event_id,
        "checkout.session.async_payment_failed",
        p,
        currency,
        false,
        created_s,
    )
}
