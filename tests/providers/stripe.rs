//! The Stripe provider: the real async-stripe client against the fake Stripe API.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fake_stripe::{FakeStripe, Fault, SECRET_KEY};
use crate::helpers::{TestApp, error_code};
use crate::support::money::minor;

/// Each Stripe call gives up after a second here, so the "hang" fault is a timeout.
async fn stripe_app(fake: &FakeStripe) -> TestApp {
    TestApp::spawn_with(&[
        ("STRIPE_SECRET_KEY", SECRET_KEY),
        ("STRIPE_API_BASE", &fake.base),
        ("STRIPE_TIMEOUT_S", "1"),
    ])
    .await
}

fn sorted(form: &[(String, String)]) -> Vec<(String, String)> {
    let mut v = form.to_vec();
    v.sort();
    v
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = v
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_checkout_sends_stripe_exactly_the_session_the_design_describes() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    assert_eq!(app.state.service.payment_provider_name(), "stripe");
    let p = app.approved_contract(json!("1500.50")).await;

    let r = app
        .checkout(
            &p,
            json!({"title": "Logo design", "rate": "1500.50", "freelancerId": p.freelancer.as_str()}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let session: Value = r.json().await.unwrap();
    let id = session["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("cs_test_"), "{session}");
    assert_eq!(
        session["url"],
        format!("https://checkout.stripe.com/c/pay/{id}")
    );

    let sent = fake.requests_to("/v1/checkout/sessions");
    assert_eq!(sent.len(), 1);
    let got = &sent[0];
    assert_eq!(got.method, "POST");
    let mut form = got.form.clone();
    form.sort();
    let (c, j, cl, f) = (
        p.contract.as_str(),
        p.job.as_str(),
        p.client.as_str(),
        p.freelancer.as_str(),
    );
    assert_eq!(
        form,
        pairs(&[
            ("mode", "payment"),
            ("line_items[0][price_data][currency]", "inr"),
            ("line_items[0][price_data][unit_amount]", "150050"),
            (
                "line_items[0][price_data][product_data][name]",
                "Logo design"
            ),
            ("line_items[0][quantity]", "1"),
            ("metadata[jobId]", j),
            ("metadata[clientId]", cl),
            ("metadata[freelancerId]", f),
            ("metadata[contractId]", c),
            // The milestones the session pays (a contract made without milestones has one).
            ("metadata[milestones]", "1"),
            ("payment_intent_data[metadata][jobId]", j),
            ("payment_intent_data[metadata][clientId]", cl),
            ("payment_intent_data[metadata][freelancerId]", f),
            ("payment_intent_data[metadata][contractId]", c),
            ("payment_intent_data[metadata][milestones]", "1"),
            ("client_reference_id", c),
            (
                "success_url",
                "http://front.test/client/contract/payment-success?session_id={CHECKOUT_SESSION_ID}"
            ),
            (
                "cancel_url",
                "http://front.test/client/jobs/home?cancelled=true"
            ),
        ])
    );
    let key = got.idempotency_key.clone().expect("an idempotency key");
    assert!(
        key.starts_with(&format!("escrow-checkout-{c}-150050-")),
        "{key}"
    );
    assert_eq!(
        got.authorization.as_deref(),
        Some(format!("Bearer {SECRET_KEY}").as_str())
    );
    assert_eq!(got.stripe_version.as_deref(), Some("2026-09-30.endive"));
    assert_eq!(
        got.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );

    // A double click sends the same request with the same key: Stripe replays the session.
    let again: Value = app
        .checkout(&p, json!({"title": "Logo design"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["id"], session["id"]);
    let sent = fake.requests_to("/v1/checkout/sessions");
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].idempotency_key.as_deref(), Some(key.as_str()));
    assert_eq!(sorted(&sent[1].form), sorted(&sent[0].form));
    assert_eq!(fake.sessions_created(), 1);

    // A new title is a new request under a new key (reusing the old key would be refused).
    let renamed = app.checkout(&p, json!({"title": "Logo and favicon"})).await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let sent = fake.requests_to("/v1/checkout/sessions");
    assert_eq!(sent.len(), 3);
    assert_ne!(sent[2].idempotency_key.as_deref(), Some(key.as_str()));
    assert_eq!(fake.sessions_created(), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_stripe_outage_at_checkout_is_503_and_the_retry_gets_the_same_session() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let p = app.approved_contract(json!(1000)).await;
    fake.fail_checkouts([Fault::ServerError, Fault::Hang(Duration::from_secs(3))]);
    let body = json!({"title": "Logo design"});
    assert_eq!(
        error_code(app.checkout(&p, body.clone()).await).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "payment.unavailable".into()
        )
    );
    // Stripe creates the session but the answer comes after the client's 1 s timeout.
    assert_eq!(
        error_code(app.checkout(&p, body.clone()).await).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "payment.unavailable".into()
        )
    );
    assert_eq!(fake.sessions_created(), 1);
    // The payer tries again: same key, so Stripe replays that session instead of a second one.
    let r = app.checkout(&p, body.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let session: Value = r.json().await.unwrap();
    assert_eq!(fake.sessions_created(), 1);
    let sent = fake.requests_to("/v1/checkout/sessions");
    assert_eq!(
        sent.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![500, 200, 200]
    );
    assert!(
        sent.iter()
            .all(|r| r.idempotency_key == sent[0].idempotency_key),
        "one key for every try"
    );
    assert!(session["id"].as_str().unwrap().starts_with("cs_test_"));
    app.stop().await;
}

#[tokio::test]
async fn a_refusal_by_stripe_is_502_payment_rejected() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let p = app.approved_contract(json!(1000)).await;
    fake.fail_checkouts([Fault::BadRequest]);
    assert_eq!(
        error_code(app.checkout(&p, json!({})).await).await,
        (StatusCode::BAD_GATEWAY, "payment.rejected".into())
    );
    app.stop().await;
}

async fn escrow_of(app: &TestApp, p: &crate::helpers::Parties) -> Value {
    app.contract(p).await["escrow"].clone()
}

#[tokio::test]
async fn a_refund_that_fails_then_times_out_ends_refunded_exactly_once_after_recovery() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let p = app.funded_contract().await;
    let pi = format!("pi_{}", p.contract);
    fake.add_payment_intent(&pi, 100_000);
    fake.fail_refunds([Fault::ServerError, Fault::Hang(Duration::from_secs(3))]);

    // Stripe answers 500: the decision stands, the client hears 503, nothing is lost.
    assert_eq!(
        error_code(app.refund(&p, &p.admin_token).await).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "payment.unavailable".into()
        )
    );
    let escrow = escrow_of(&app, &p).await;
    assert_eq!(escrow["status"], "refund_pending");
    assert_eq!(minor(&escrow["refund"]["clientShare"]), 90_000);
    let key = escrow["refund"]["idempotencyKey"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(fake.refunds().is_empty());

    // Recovery: Stripe does the refund but the answer never arrives in time.
    let service = &app.state.service;
    assert_eq!(service.recover_provider_work().await.unwrap(), (0, 1));
    assert_eq!(escrow_of(&app, &p).await["status"], "refund_pending");
    assert_eq!(
        fake.refunds().len(),
        1,
        "the timed-out call did refund at Stripe"
    );

    // Recovery again: the same key, so Stripe replays that refund instead of making another.
    assert_eq!(service.recover_provider_work().await.unwrap(), (1, 0));
    let escrow = escrow_of(&app, &p).await;
    assert_eq!(escrow["status"], "refunded");
    let refunds = fake.refunds();
    assert_eq!(refunds.len(), 1, "refunded exactly once: {refunds:?}");
    assert_eq!(escrow["refund"]["providerRefundId"], refunds[0]["id"]);
    assert_eq!(refunds[0]["amount"], 90_000);

    let tries = fake.requests_to("/v1/refunds");
    assert_eq!(
        tries.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![500, 200, 200]
    );
    for t in &tries {
        assert_eq!(t.idempotency_key.as_deref(), Some(key.as_str()));
        assert_eq!(sorted(&t.form), sorted(&tries[0].form));
    }
    let mut form = tries[0].form.clone();
    form.sort();
    assert_eq!(
        form,
        pairs(&[
            ("amount", "90000"),
            ("metadata[contractId]", &p.contract),
            ("payment_intent", &pi),
        ])
    );

    // Nothing is left to do, and the refund cannot happen again.
    assert_eq!(service.recover_provider_work().await.unwrap(), (0, 0));
    assert_eq!(fake.requests_to("/v1/refunds").len(), 3);
    assert_eq!(
        error_code(app.refund(&p, &p.admin_token).await).await.0,
        StatusCode::CONFLICT
    );
    assert!(app.verify().await.ok());
    app.stop().await;
}

#[tokio::test]
async fn a_second_payment_for_a_funded_contract_is_refunded_in_full_with_its_own_key() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let p = app.funded_contract().await;
    let (pi, pi_dup) = (
        format!("pi_{}", p.contract),
        format!("pi_dup_{}", p.contract),
    );
    fake.add_payment_intent(&pi, 100_000);
    fake.add_payment_intent(&pi_dup, 100_000);

    let event = app.payment_event("evt_dup_1", &p, 100_000, &pi_dup);
    let r = app.post_webhook(&event).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["outcome"], "applied", "{v}");

    let refunds = fake.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0]["payment_intent"], pi_dup.as_str());
    assert_eq!(refunds[0]["amount"], 100_000);
    let escrow = escrow_of(&app, &p).await;
    assert_eq!(escrow["status"], "funded", "the escrow itself is untouched");
    assert_eq!(escrow["extraPayments"][0]["refundId"], refunds[0]["id"]);
    let dup_key = fake.requests_to("/v1/refunds")[0]
        .idempotency_key
        .clone()
        .unwrap();

    // The same event again changes nothing and calls Stripe no more.
    let again: Value = app.post_webhook(&event).await.json().await.unwrap();
    assert_eq!(again["outcome"], "duplicate");
    assert_eq!(fake.requests_to("/v1/refunds").len(), 1);

    // Refunding the escrow itself is another refund, with another key.
    assert_eq!(
        app.refund(&p, &p.admin_token).await.status(),
        StatusCode::OK
    );
    let sent = fake.requests_to("/v1/refunds");
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].get("payment_intent"), Some(pi.as_str()));
    assert_ne!(sent[1].idempotency_key.as_deref(), Some(dup_key.as_str()));
    assert_eq!(escrow_of(&app, &p).await["status"], "refunded");
    assert!(app.verify().await.ok());
    app.stop().await;
}

#[tokio::test]
async fn a_payment_known_only_by_its_session_is_refunded_through_the_session_s_intent() {
    // A payment recorded from an event without a payment intent: the provider looks the
    // intent up on the session before refunding.
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let p = app.approved_contract(json!(1000)).await;
    let r = app.checkout(&p, json!({})).await;
    let session: Value = r.json().await.unwrap();
    let sid = session["id"].as_str().unwrap();
    fake.pay_session(sid, "pi_paid_in_checkout");
    let mut event: Value =
        serde_json::from_str(&app.payment_event("evt_s", &p, 100_000, "x")).unwrap();
    event["data"]["object"]["id"] = json!(sid);
    event["data"]["object"]["payment_intent"] = Value::Null;
    assert_eq!(
        app.post_webhook(&event.to_string()).await.status(),
        StatusCode::OK
    );
    assert_eq!(escrow_of(&app, &p).await["status"], "funded");

    assert_eq!(
        app.refund(&p, &p.admin_token).await.status(),
        StatusCode::OK
    );
    let lookups = fake.requests_to(&format!("/v1/checkout/sessions/{sid}"));
    assert_eq!(lookups.len(), 1);
    assert_eq!(lookups[0].method, "GET");
    let refunds = fake.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0]["payment_intent"], "pi_paid_in_checkout");
    assert_eq!(escrow_of(&app, &p).await["status"], "refunded");
    app.stop().await;
}

#[tokio::test]
async fn an_answer_the_typed_decoder_refuses_is_read_from_stripe_s_replay_not_sent_twice() {
    let fake = FakeStripe::start().await;
    fake.answer_as_another_api_version();
    let app = stripe_app(&fake).await;
    let p = app.approved_contract(json!(1000)).await;
    let r = app.checkout(&p, json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let session: Value = r.json().await.unwrap();
    let id = session["id"].as_str().unwrap();
    assert_eq!(
        session["url"],
        format!("https://checkout.stripe.com/c/pay/{id}")
    );
    let sent = fake.requests_to("/v1/checkout/sessions");
    assert_eq!(sent.len(), 2, "the typed try and its replay");
    assert_eq!(sent[0].idempotency_key, sent[1].idempotency_key);
    assert_eq!(fake.sessions_created(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_payment_known_only_by_its_session_is_recognised_in_its_payment_intent_s_event() {
    // The session's event named no payment intent; the intent's own event comes later. Stripe
    // says which intent the session has: it is the same payment, not a second one to refund.
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let p = app.approved_contract(json!(1000)).await;
    let session: Value = app.checkout(&p, json!({})).await.json().await.unwrap();
    let sid = session["id"].as_str().unwrap();
    fake.pay_session(sid, "pi_paid_in_checkout");
    let by_session = crate::support::stripe::checkout_completed(
        "evt_by_session",
        sid,
        None,
        100_000,
        json!({"contractId": p.contract}),
    );
    let v: Value = app.post_webhook(&by_session).await.json().await.unwrap();
    assert_eq!(v["outcome"], "applied", "{v}");
    let by_intent = crate::support::stripe::payment_intent_succeeded(
        "evt_by_intent",
        "pi_paid_in_checkout",
        100_000,
        json!({"contractId": p.contract}),
    );
    let v: Value = app.post_webhook(&by_intent).await.json().await.unwrap();
    assert_eq!(
        (v["outcome"].as_str(), v["message"].as_str()),
        (Some("applied"), Some("ok")),
        "{v}"
    );
    assert!(
        fake.refunds().is_empty(),
        "nothing refunded: {:?}",
        fake.refunds()
    );
    let escrow = escrow_of(&app, &p).await;
    assert_eq!(escrow["status"], "funded");
    assert_eq!(escrow["paymentIntentId"], "pi_paid_in_checkout");
    assert_eq!(escrow["extraPayments"], json!([]));
    assert!(app.verify().await.ok());
    app.stop().await;
}
