//! Webhook deduplication and crash repair.

use escrow::domain::EventId;
use escrow::store::{EventRecord, EventStatus, WebhookEvent};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

#[tokio::test]
async fn an_event_stored_but_not_applied_is_applied_on_redelivery() {
    let app = TestApp::spawn().await;
    let p = app.approved_contract(json!(1000)).await;
    // The process died after recording the event and before applying it.
    let now = chrono::Utc::now().timestamp_millis();
    let stored = WebhookEvent {
        event_id: EventId::new("evt_crashed"),
        event_type: "checkout.session.completed".into(),
        status: EventStatus::Received,
        error: None,
        contract_id: None,
        received_at: now,
        updated_at: now,
        deliveries: 1,
    };
    assert_eq!(
        app.state
            .service
            .store()
            .record_event(&stored)
            .await
            .unwrap(),
        EventRecord::New
    );
    assert_eq!(app.contract(&p).await["contract"]["escrowPaid"], false);
    let r = app
        .post_webhook(&app.payment_event("evt_crashed", &p, 100_000, "pi_crashed"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["outcome"], "applied");
    assert_eq!(app.contract(&p).await["escrow"]["status"], "funded");
    let events = app.events(false).await;
    assert_eq!(events[0].status, EventStatus::Applied);
    assert_eq!(events[0].deliveries, 2);
    app.stop().await;
}

#[tokio::test]
async fn an_event_already_processed_returns_200_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let p = app.funded_contract().await;
    let before = app.contract(&p).await;
    let r = app
        .post_webhook(&app.payment_event(
            &format!("evt_{}", p.contract),
            &p,
            100_000,
            &format!("pi_{}", p.contract),
        ))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["outcome"], "duplicate");
    assert_eq!(app.contract(&p).await["ledger"], before["ledger"]);
    app.stop().await;
}

#[tokio::test]
async fn unknown_and_unpaid_events_are_recorded_and_acknowledged() {
    let app = TestApp::spawn().await;
    let p = app.approved_contract(json!(1000)).await;
    let other = json!({"id": "evt_other", "object": "event", "created": 1, "livemode": false, "pending_webhooks": 1, "type": "customer.created", "data": {"object": {"id": "cus_1", "object": "customer"}}});
    let r = app.post_webhook(&other.to_string()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["outcome"], "ignored");
    let mut unpaid: Value =
        serde_json::from_str(&app.payment_event("evt_unpaid", &p, 100_000, "pi_unpaid")).unwrap();
    unpaid["data"]["object"]["payment_status"] = json!("unpaid");
    let r = app.post_webhook(&unpaid.to_string()).await;
    assert_eq!(r.json::<Value>().await.unwrap()["outcome"], "ignored");
    assert_eq!(app.contract(&p).await["contract"]["escrowPaid"], false);
    // An async payment that succeeds later funds the escrow.
    let mut later: Value = unpaid.clone();
    later["id"] = json!("evt_async");
    later["type"] = json!("checkout.session.async_payment_succeeded");
    let r = app.post_webhook(&later.to_string()).await;
    assert_eq!(r.json::<Value>().await.unwrap()["outcome"], "applied");
    assert_eq!(app.contract(&p).await["escrow"]["status"], "funded");
    app.stop().await;
}

#[tokio::test]
async fn a_session_from_the_original_app_is_matched_by_job_and_client() {
    let app = TestApp::spawn().await;
    let p = app.approved_contract(json!(1000)).await;
    let mut event: Value =
        serde_json::from_str(&app.payment_event("evt_legacy", &p, 100_000, "pi_legacy")).unwrap();
    let object = &mut event["data"]["object"];
    object["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("contractId");
    object["client_reference_id"] = Value::Null;
    let r = app.post_webhook(&event.to_string()).await;
    assert_eq!(r.json::<Value>().await.unwrap()["outcome"], "applied");
    assert_eq!(app.contract(&p).await["escrow"]["status"], "funded");
    app.stop().await;
}

/// A contract paid through the sandbox session the server made for it: the session and its
/// payment intent, as the provider links them.
fn sandbox_payment(p: &crate::helpers::Parties, amount: i64) -> (String, String) {
    let session = escrow::payment::sandbox::SessionKey::new(crate::helpers::WEBHOOK_SECRET)
        .session_id(
            &escrow::domain::ContractId::parse(&p.contract).unwrap(),
            escrow::domain::MinorUnits::new(amount),
            &[escrow::domain::MilestoneId::FIRST],
        );
    let intent = escrow::payment::sandbox::intent_of(&session).to_string();
    (session, intent)
}

#[tokio::test]
async fn a_payment_named_once_by_its_session_and_once_by_its_intent_funds_once_and_refunds_nothing()
{
    let app = TestApp::spawn().await;
    for session_first in [true, false] {
        let p = app.approved_contract(json!(1000)).await;
        let (session, intent) = sandbox_payment(&p, 100_000);
        let metadata = json!({"contractId": p.contract, "jobId": p.job.as_str(), "clientId": p.client.as_str()});
        // The session's event without its payment intent (older API versions send it so), and
        // the payment intent's own event: one payment, named two ways.
        let by_session = crate::support::stripe::checkout_completed(
            &format!("evt_s_{}", p.contract),
            &session,
            None,
            100_000,
            metadata.clone(),
        );
        let by_intent = crate::support::stripe::payment_intent_succeeded(
            &format!("evt_i_{}", p.contract),
            &intent,
            100_000,
            metadata,
        );
        let (first, second) = if session_first {
            (by_session, by_intent)
        } else {
            (by_intent, by_session)
        };
        for (body, note) in [(first, "ok"), (second, "ok")] {
            let r = app.post_webhook(&body).await;
            assert_eq!(r.status(), StatusCode::OK);
            let v: Value = r.json().await.unwrap();
            assert_eq!(
                (v["outcome"].as_str(), v["message"].as_str()),
                (Some("applied"), Some(note)),
                "{v}"
            );
        }
        let c = app.contract(&p).await;
        assert_eq!(c["escrow"]["status"], "funded");
        assert_eq!(
            c["escrow"]["extraPayments"],
            json!([]),
            "nothing taken for a second payment"
        );
        assert_eq!(c["escrow"]["paymentIntentId"], json!(intent));
        assert_eq!(c["escrow"]["checkoutSessionId"], json!(session));
        let funds = c["ledger"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "fund")
            .count();
        assert_eq!(funds, 2, "one funding transfer (two lines)");
    }
    assert!(app.verify().await.ok());
    app.stop().await;
}

#[tokio::test]
async fn a_refund_named_only_by_its_charge_is_judged_against_the_payment_that_charge_took() {
    let app = TestApp::spawn().await;
    let p = app.approved_contract(json!(1000)).await;
    let (session, intent) = sandbox_payment(&p, 100_000);
    let metadata =
        json!({"contractId": p.contract, "jobId": p.job.as_str(), "clientId": p.client.as_str()});
    let charge = format!("ch_{}", p.contract);
    let funded = crate::support::stripe::checkout_completed(
        "evt_ch_fund",
        &session,
        Some(&intent),
        100_000,
        metadata.clone(),
    );
    // The payment intent's own event names the charge that took the money: it is learned.
    let by_intent = crate::support::stripe::payment_intent_succeeded_by_charge(
        "evt_ch_intent",
        &intent,
        &charge,
        100_000,
        metadata.clone(),
    );
    // A second payment: owed back in full, so the contract expects a refund of *that* one.
    let second = crate::support::stripe::checkout_completed(
        "evt_ch_second",
        &format!("cs_second_{}", p.contract),
        Some(&format!("pi_second_{}", p.contract)),
        100_000,
        metadata,
    );
    for body in [funded, by_intent, second] {
        let v: Value = app.post_webhook(&body).await.json().await.unwrap();
        assert_eq!(v["outcome"], "applied", "{v}");
    }
    let c = app.contract(&p).await;
    assert_eq!(c["escrow"]["extraPayments"].as_array().unwrap().len(), 1);

    // The escrow's own payment refunded from the provider's dashboard, the event naming only
    // the charge (no payment intent, no metadata): not the refund the contract owes (that one
    // is the second payment's), so a refund made outside the escrow: all of it, so the escrow
    // closes as refunded by `stripe:outside` and the refund is listed for an admin (issue 16,
    // point 4; before it, the event was only recorded as failed and the escrow stayed
    // releasable).
    let outside = crate::support::stripe::charge_refunded(
        "evt_ch_outside",
        &charge,
        None,
        100_000,
        json!({}),
    );
    let v: Value = app.post_webhook(&outside).await.json().await.unwrap();
    assert_eq!(v["outcome"], "applied", "{v}");
    let c = app.contract(&p).await;
    assert_eq!(c["escrow"]["status"], "refunded", "{c}");
    let d = &c["contract"]["disputes"][0];
    assert_eq!(
        (&d["kind"], &d["status"]),
        (&json!("outside_refund"), &json!("closed")),
        "{d}"
    );
    assert!(
        c["escrow"]["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["action"] == "refunded_outside" && h["actor"] == "stripe:outside"),
        "{c}"
    );
    // The duplicate payment is still owed back, and is not touched by it.
    assert_eq!(c["escrow"]["extraPayments"].as_array().unwrap().len(), 1);
    assert!(app.verify().await.ok());
    app.stop().await;
}
