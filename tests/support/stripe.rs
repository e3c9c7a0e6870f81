//! Stripe's events as Stripe shapes them: every field async-stripe's typed parser requires, so
//! the server reads them the way it reads real ones (not through its raw-JSON fallback).

use serde_json::{Value, json};

/// An event of `kind` around `object`, created now.
fn event(event_id: &str, kind: &str, object: Value) -> String {
    json!({
        "id": event_id, "object": "event", "created": chrono::Utc::now().timestamp(),
        "livemode": false, "pending_webhooks": 1, "type": kind, "data": {"object": object}
    })
    .to_string()
}

/// A paid `checkout.session.completed` event for session `session` and its payment intent
/// (`None`: the event does not name it, as older API versions send it), of `amount` minor
/// units of INR, with `metadata` (its `contractId`, when there is one, is also the session's
/// `client_reference_id`, as this product's sessions have it).
pub fn checkout_completed(
    event_id: &str,
    session: &str,
    payment_intent: Option<&str>,
    amount: i64,
    metadata: Value,
) -> String {
    let contract = metadata.get("contractId").cloned().unwrap_or(Value::Null);
    event(
        event_id,
        "checkout.session.completed",
        json!({
            "id": session, "object": "checkout.session", "amount_total": amount, "currency": "inr",
            "automatic_tax": {"enabled": false, "liability": null, "status": null}, "client_reference_id": contract,
            "created": 1, "custom_fields": [], "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
            "expires_at": 2, "livemode": false, "mode": "payment", "payment_intent": payment_intent,
            "payment_method_types": ["card"], "payment_status": "paid", "shipping_options": [], "status": "complete",
            "metadata": metadata
        }),
    )
}

/// `payment_intent.succeeded` for `intent`, of `amount` minor units of INR, with `metadata`
/// (this product's checkout puts the contract's ids on the payment intent too).
pub fn payment_intent_succeeded(
    event_id: &str,
    intent: &str,
    amount: i64,
    metadata: Value,
) -> String {
    payment_intent(event_id, intent, None, amount, metadata)
}

fn payment_intent(
    event_id: &str,
    intent: &str,
    charge: Option<&str>,
    amount: i64,
    metadata: Value,
) -> String {
    event(
        event_id,
        "payment_intent.succeeded",
        json!({
            "id": intent, "object": "payment_intent", "amount": amount, "amount_received": amount,
            "amount_capturable": 0, "capture_method": "automatic_async",
            "confirmation_method": "automatic", "payment_method_types": ["card"],
            "currency": "inr", "created": chrono::Utc::now().timestamp(), "livemode": false,
            "metadata": metadata, "status": "succeeded", "latest_charge": charge
        }),
    )
}

/// `payment_intent.succeeded` that also names the charge that took the money
/// (`latest_charge`), as current API versions send it.
pub fn payment_intent_succeeded_by_charge(
    event_id: &str,
    intent: &str,
    charge: &str,
    amount: i64,
    metadata: Value,
) -> String {
    payment_intent(event_id, intent, Some(charge), amount, metadata)
}

/// `charge.refunded` for charge `charge` (of payment intent `payment_intent`, `None`: the
/// event does not name one), `refunded` of `amount` minor units of INR refunded.
pub fn charge_refunded(
    event_id: &str,
    charge: &str,
    payment_intent: Option<&str>,
    amount: i64,
    metadata: Value,
) -> String {
    event(
        event_id,
        "charge.refunded",
        json!({
            "id": charge, "object": "charge", "amount": amount, "amount_captured": amount,
            "amount_refunded": amount, "billing_details": {}, "captured": true,
            "created": chrono::Utc::now().timestamp(), "currency": "inr", "disputed": false,
            "livemode": false, "metadata": metadata, "paid": true,
            "payment_intent": payment_intent, "refunded": true, "status": "succeeded"
        }),
    )
}

/// The `Stripe-Signature` header for `body`, signed now with `secret`.
pub fn signature(body: &str, secret: &str) -> String {
    escrow::payment::webhook::sign(body.as_bytes(), secret, chrono::Utc::now().timestamp())
}

/// `account.updated` for connected account `account` (a Connect endpoint's event: it names
/// the account), created at `created` (Unix seconds), as an Express account reports itself.
pub fn account_updated(
    event_id: &str,
    account: &str,
    payouts_enabled: bool,
    currently_due: &[&str],
    created: i64,
) -> String {
    json!({
        "id": event_id, "object": "event", "account": account, "created": created,
        "livemode": false, "pending_webhooks": 1, "type": "account.updated",
        "data": {"object": {
            "id": account, "object": "account", "type": "express", "charges_enabled": payouts_enabled,
            "payouts_enabled": payouts_enabled, "details_submitted": payouts_enabled, "country": "IN",
            "default_currency": "inr", "created": 1, "metadata": {},
            "requirements": {"alternatives": [], "current_deadline": null, "currently_due": currently_due,
                "disabled_reason": null, "errors": [], "eventually_due": currently_due, "past_due": [],
                "pending_verification": []}
        }}
    })
    .to_string()
}

/// A Transfer object as Stripe writes it (`transfer.created`, `transfer.reversed`, and the
/// answer to `POST /v1/transfers`).
pub fn transfer_object(
    id: &str,
    amount: i64,
    amount_reversed: i64,
    destination: &str,
    transfer_group: &str,
    metadata: Value,
) -> Value {
    json!({
        "id": id, "object": "transfer", "amount": amount, "amount_reversed": amount_reversed,
        "balance_transaction": "txn_1", "created": 1, "currency": "inr", "description": null,
        "destination": destination, "destination_payment": "py_1", "livemode": false,
        "metadata": metadata,
        "reversals": {"object": "list", "data": [], "has_more": false, "url": format!("/v1/transfers/{id}/reversals")},
        "reversed": amount_reversed == amount, "source_transaction": null, "source_type": "card",
        "transfer_group": transfer_group
    })
}

/// `transfer.reversed` for a transfer of a payout (its `transfer_group`).
pub fn transfer_reversed(
    event_id: &str,
    transfer: &str,
    amount: i64,
    amount_reversed: i64,
    payout: &str,
) -> String {
    event(
        event_id,
        "transfer.reversed",
        transfer_object(
            transfer,
            amount,
            amount_reversed,
            "acct_1",
            payout,
            json!({"payoutId": payout}),
        ),
    )
}

/// A `charge.dispute.*` event (`kind`: `created`, `updated`, `closed`, `funds_withdrawn`,
/// `funds_reinstated`) for dispute `dispute` of `charge` (its payment intent), shaped as
/// Stripe's dispute object (`status`: `needs_response`, `under_review`, `won`, `lost`, …).
pub fn charge_dispute(
    event_id: &str,
    kind: &str,
    dispute: &str,
    charge: &str,
    payment_intent: Option<&str>,
    amount: i64,
    status: &str,
) -> String {
    let now = chrono::Utc::now().timestamp();
    event(
        event_id,
        &format!("charge.dispute.{kind}"),
        json!({
            "id": dispute, "object": "dispute", "amount": amount, "balance_transactions": [],
            "charge": charge, "created": now, "currency": "inr",
            "enhanced_eligibility_types": [],
            "evidence": {"enhanced_evidence": {}, "product_description": null, "receipt": null},
            "evidence_details": {
                "due_by": now + 7 * 86_400, "enhanced_eligibility": {}, "has_evidence": false,
                "past_due": false, "submission_count": 0
            },
            "is_charge_refundable": status != "lost", "livemode": false, "metadata": {},
            "payment_intent": payment_intent, "payment_method_details": {"type": "card"},
            "reason": "fraudulent", "status": status
        }),
    )
}

/// A refund event (`kind`: `refund.updated`, `charge.refund.updated`, `refund.failed`) for
/// refund `refund` of `payment_intent`, shaped as Stripe's refund object (`status`:
/// `pending`, `succeeded`, `failed`, `canceled`).
pub fn refund_event(
    event_id: &str,
    kind: &str,
    refund: &str,
    payment_intent: &str,
    amount: i64,
    status: &str,
) -> String {
    event(
        event_id,
        kind,
        json!({
            "id": refund, "object": "refund", "amount": amount, "balance_transaction": null,
            "charge": format!("ch_for_{payment_intent}"), "created": chrono::Utc::now().timestamp(),
            "currency": "inr", "metadata": {}, "payment_intent": payment_intent, "reason": null,
            "receipt_number": null, "source_transfer_reversal": null, "status": status,
            "failure_reason": if status == "failed" { json!("expired_or_canceled_card") } else { Value::Null },
            "transfer_reversal": null
        }),
    )
}
