//! The refund lifecycle (issue 16, point 3) with the real Stripe client against a fake Stripe
//! API: a refund Stripe answers `pending` stays `refund_pending` (its money in
//! `refund:<contract>`) until Stripe's `refund.updated` says `succeeded`; one it answers (or
//! later reports) `failed` is `refund_failed`, listed, and sent again under a new idempotency
//! key. Runs on both stores.

use reqwest::StatusCode;
use serde_json::{Value, json};

use escrow::domain::{ContractId, EscrowStatus};
use escrow::service::UseCase;

use crate::fake_stripe::{FakeStripe, SECRET_KEY};
use crate::helpers::{Parties, TestApp, operator};
use crate::support::stripe::refund_event;

async fn with_stripe() -> (TestApp, FakeStripe) {
    let stripe = FakeStripe::start().await;
    let app = TestApp::spawn_with(&[
        ("STRIPE_SECRET_KEY", SECRET_KEY),
        ("STRIPE_API_BASE", stripe.base.as_str()),
    ])
    .await;
    (app, stripe)
}

/// A funded contract of 1000 whose payment Stripe knows; its client refunds it (900 back).
async fn refunded_by_client(app: &TestApp, stripe: &FakeStripe) -> (Parties, Value) {
    let p = app.funded_contract().await;
    stripe.add_payment_intent(&format!("pi_{}", p.contract), 100_000);
    let r = app.refund(&p, &p.client_token).await;
    assert_eq!(r.status(), StatusCode::OK);
    (p.clone(), app.contract(&p).await)
}

/// Delivers the refund event Stripe sends (`kind`, refund `refund` of payment intent `pi` in
/// `status`); its reply.
async fn stripe_says(
    app: &TestApp,
    event: &str,
    kind: &str,
    refund: &str,
    pi: &str,
    amount: i64,
    status: &str,
) -> Value {
    let body = refund_event(event, kind, refund, pi, amount, status);
    app.post_webhook(&body).await.json().await.unwrap()
}

/// The contracts an operator's `refunds list --failed` shows (its first page).
async fn failed_listed(service: &escrow::service::Service) -> escrow::service::reports::EscrowPage {
    service
        .refunds(
            service.permit(&operator(), UseCase::Reports).unwrap(),
            true,
            escrow::store::Page::new(1, 20),
        )
        .await
        .unwrap()
}

/// An operator's `refunds retry ID`.
async fn retry(
    service: &escrow::service::Service,
    id: &ContractId,
) -> Result<escrow::domain::Contract, escrow::service::Error> {
    service
        .retry_refunds(
            service
                .permit(&operator(), UseCase::Refund { client: None })
                .unwrap(),
            id,
        )
        .await
}

fn balance_of(v: &Value, account: &str) -> i64 {
    v["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["account"] == account)
        .map(|e| crate::support::money::minor(&e["amount"]))
        .sum()
}

#[tokio::test]
async fn a_refund_stripe_answers_pending_waits_for_its_refund_updated() {
    let (app, stripe) = with_stripe().await;
    stripe.answer_refunds_with(["pending"]);
    let (p, v) = refunded_by_client(&app, &stripe).await;
    assert_eq!(v["escrow"]["status"], json!("refund_pending"), "{v}");
    let refund = v["escrow"]["refund"].clone();
    assert_eq!(refund["providerStatus"], json!("pending"), "{refund}");
    let id = refund["providerRefundId"].as_str().unwrap().to_string();
    // The money is on its way: still in the refund account.
    assert_eq!(balance_of(&v, &format!("refund:{}", p.contract)), 90_000);
    // A recovery pass does not ask Stripe again for a refund it has taken.
    app.state.service.recover_provider_work().await.unwrap();
    assert_eq!(stripe.refunds().len(), 1);
    // Stripe says how it ended.
    assert_eq!(
        stripe_says(
            &app,
            "evt_re_ok",
            "refund.updated",
            &id,
            &format!("pi_{}", p.contract),
            90_000,
            "succeeded"
        )
        .await["outcome"],
        json!("applied")
    );
    let v = app.contract(&p).await;
    assert_eq!(v["escrow"]["status"], json!("refunded"), "{v}");
    assert_eq!(balance_of(&v, &format!("refund:{}", p.contract)), 0);
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[tokio::test]
async fn a_failed_refund_is_listed_and_sent_again_under_a_new_key() {
    let (app, stripe) = with_stripe().await;
    stripe.answer_refunds_with(["failed"]);
    let (p, v) = refunded_by_client(&app, &stripe).await;
    assert_eq!(v["escrow"]["status"], json!("refund_failed"), "{v}");
    assert_eq!(
        v["escrow"]["refund"]["lastError"],
        json!("expired_or_canceled_card")
    );
    assert_eq!(balance_of(&v, &format!("refund:{}", p.contract)), 90_000);
    let service = &app.state.service;
    let listed = failed_listed(service).await;
    let id: ContractId = p.contract.parse().unwrap();
    assert!(listed.contracts.iter().any(|c| c.id == id));
    let again = retry(service, &id).await.unwrap();
    assert_eq!(again.escrow_status(), Some(EscrowStatus::Refunded));
    let keys: Vec<String> = stripe
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/refunds")
        .filter_map(|r| r.idempotency_key.clone())
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_ne!(keys[0], keys[1], "a retry is a new idempotency key");
    // Nothing failed is left to retry.
    assert!(retry(service, &id).await.is_err());
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[tokio::test]
async fn a_refund_that_fails_after_it_succeeded_is_owed_again() {
    let (app, stripe) = with_stripe().await;
    let (p, v) = refunded_by_client(&app, &stripe).await;
    assert_eq!(v["escrow"]["status"], json!("refunded"), "{v}");
    let id = v["escrow"]["refund"]["providerRefundId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        stripe_says(
            &app,
            "evt_re_failed",
            "charge.refund.updated",
            &id,
            &format!("pi_{}", p.contract),
            90_000,
            "failed"
        )
        .await["outcome"],
        json!("applied")
    );
    let v = app.contract(&p).await;
    assert_eq!(v["escrow"]["status"], json!("refund_failed"), "{v}");
    // The money came back from Stripe: owed to the client again.
    assert_eq!(balance_of(&v, &format!("refund:{}", p.contract)), 90_000);
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

/// Stripe counts a pending refund in the charge's `amount_refunded` and takes it out again when
/// the refund fails; its `charge.refunded` may arrive after `refund.failed`. That report is the
/// escrow's own refund, not one made outside it: nothing is taken, no platform loss is booked
/// (found by the seeded simulation).
#[tokio::test]
async fn a_charge_refunded_reported_before_the_refund_failed_is_the_escrows_own() {
    let (app, stripe) = with_stripe().await;
    stripe.answer_refunds_with(["pending"]);
    let (p, v) = refunded_by_client(&app, &stripe).await;
    let id = v["escrow"]["refund"]["providerRefundId"]
        .as_str()
        .unwrap()
        .to_string();
    let pi = format!("pi_{}", p.contract);
    assert_eq!(
        stripe_says(
            &app,
            "evt_re_failed_first",
            "refund.failed",
            &id,
            &pi,
            90_000,
            "failed"
        )
        .await["outcome"],
        json!("applied")
    );
    let stale = crate::support::stripe::charge_refunded(
        "evt_charge_refunded_late",
        &format!("ch_{}", p.contract),
        Some(&pi),
        90_000,
        json!({}),
    );
    let r: Value = app.post_webhook(&stale).await.json().await.unwrap();
    assert_eq!(r["outcome"], json!("applied"), "{r}");
    let v = app.contract(&p).await;
    assert_eq!(v["escrow"]["status"], json!("refund_failed"), "{v}");
    assert_eq!(v["contract"]["disputes"], json!([]), "{v}");
    assert_eq!(balance_of(&v, "platform:chargebacks"), 0, "{v}");
    assert_eq!(balance_of(&v, &format!("refund:{}", p.contract)), 90_000);
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

/// Stripe took the refund as pending but its answer never arrived (the call timed out), then
/// the bank failed it and Stripe says so. The event names a refund the escrow has not
/// recorded: the service asks Stripe again under the refund's key (Stripe replays its first
/// answer, which names the refund), then applies the event. Ignored, the refund would be
/// recorded as pending by the next recovery pass and wait forever for this word.
#[tokio::test]
async fn a_refund_event_for_a_refund_whose_answer_was_lost_is_learned_and_applied() {
    let stripe = FakeStripe::start().await;
    let app = TestApp::spawn_with(&[
        ("STRIPE_SECRET_KEY", SECRET_KEY),
        ("STRIPE_API_BASE", stripe.base.as_str()),
        ("STRIPE_TIMEOUT_S", "1"),
    ])
    .await;
    stripe.answer_refunds_with(["pending"]);
    stripe.fail_refunds([crate::fake_stripe::Fault::Hang(
        std::time::Duration::from_secs(2),
    )]);
    let p = app.funded_contract().await;
    let pi = format!("pi_{}", p.contract);
    stripe.add_payment_intent(&pi, 100_000);
    let r = app.refund(&p, &p.client_token).await;
    assert_eq!(
        r.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "the answer was lost"
    );
    let v = app.contract(&p).await;
    assert_eq!(v["escrow"]["status"], json!("refund_pending"), "{v}");
    assert!(v["escrow"]["refund"]["providerRefundId"].is_null(), "{v}");
    let made = stripe.refunds();
    assert_eq!(made.len(), 1);
    let id = made[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        stripe_says(
            &app,
            "evt_re_lost_failed",
            "refund.failed",
            &id,
            &pi,
            90_000,
            "failed"
        )
        .await["outcome"],
        json!("applied")
    );
    let v = app.contract(&p).await;
    assert_eq!(v["escrow"]["status"], json!("refund_failed"), "{v}");
    assert_eq!(v["escrow"]["refund"]["providerRefundId"], json!(id), "{v}");
    // Asked again under the same key: one refund at Stripe.
    assert_eq!(stripe.refunds().len(), 1);
    let keys: Vec<Option<String>> = stripe
        .requests_to("/v1/refunds")
        .into_iter()
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys[0], keys[1]);
    assert_eq!(balance_of(&v, &format!("refund:{}", p.contract)), 90_000);
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

/// A second payment, owed back in full, whose refund Stripe answers with `answer`.
async fn duplicate_refunded(
    app: &TestApp,
    stripe: &FakeStripe,
    answer: &'static str,
) -> (Parties, Value) {
    let p = app.funded_contract().await;
    let pi = format!("pi_dup_{}", p.contract);
    stripe.add_payment_intent(&pi, 100_000);
    stripe.answer_refunds_with([answer]);
    let r = app
        .post_webhook(&app.payment_event(&format!("evt_dup_{}", p.contract), &p, 100_000, &pi))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = app.contract(&p).await;
    (p, v)
}

/// A duplicate payment's refund Stripe answers `pending` is not booked as sent: its money
/// stays in `refund:<contract>`, it is not asked again, and Stripe's `refund.updated` settles it.
#[tokio::test]
async fn a_duplicate_payments_refund_answered_pending_waits_for_stripe() {
    let (app, stripe) = with_stripe().await;
    let (p, v) = duplicate_refunded(&app, &stripe, "pending").await;
    let x = &v["escrow"]["extraPayments"][0];
    assert_eq!(x["refundStatus"], json!("pending"), "{v}");
    assert!(x["refundId"].is_null(), "{v}");
    let id = x["pendingRefundId"].as_str().unwrap().to_string();
    assert_eq!(balance_of(&v, &format!("refund:{}", p.contract)), 100_000);
    app.state.service.recover_provider_work().await.unwrap();
    assert_eq!(stripe.refunds().len(), 1, "not asked again");
    assert_eq!(
        stripe_says(
            &app,
            "evt_dup_ok",
            "refund.updated",
            &id,
            &format!("pi_dup_{}", p.contract),
            100_000,
            "succeeded"
        )
        .await["outcome"],
        json!("applied")
    );
    let v = app.contract(&p).await;
    let x = &v["escrow"]["extraPayments"][0];
    assert_eq!(x["refundStatus"], json!("succeeded"), "{v}");
    assert_eq!(x["refundId"], json!(id), "{v}");
    assert_eq!(balance_of(&v, &format!("refund:{}", p.contract)), 0);
    assert_eq!(
        v["escrow"]["status"],
        json!("funded"),
        "the escrow is not touched"
    );
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

/// A duplicate payment's refund that fails (answered so, or later) is owed again, listed with
/// the failed refunds, and sent again under a new key by `refunds retry`.
#[tokio::test]
async fn a_duplicate_payments_failed_refund_is_listed_and_sent_again() {
    let (app, stripe) = with_stripe().await;
    let (p, v) = duplicate_refunded(&app, &stripe, "failed").await;
    let x = &v["escrow"]["extraPayments"][0];
    assert_eq!(x["refundStatus"], json!("failed"), "{v}");
    assert_eq!(x["lastError"], json!("expired_or_canceled_card"), "{v}");
    assert_eq!(balance_of(&v, &format!("refund:{}", p.contract)), 100_000);
    let service = &app.state.service;
    let id: ContractId = p.contract.parse().unwrap();
    let listed = failed_listed(service).await;
    assert!(
        listed.contracts.iter().any(|c| c.id == id),
        "listed as failed"
    );
    // Not asked again by the recovery step: it waits for an operator.
    service.recover_provider_work().await.unwrap();
    assert_eq!(stripe.refunds().len(), 1);
    let again = retry(service, &id).await.unwrap();
    assert!(again.extra_payments[0].provider_refund_id.is_some());
    assert_eq!(again.extra_payments[0].retries, 1);
    let keys: Vec<Option<String>> = stripe
        .requests_to("/v1/refunds")
        .into_iter()
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_ne!(keys[0], keys[1], "a retry is a new idempotency key");
    let listed = failed_listed(service).await;
    assert!(
        !listed.contracts.iter().any(|c| c.id == id),
        "no longer listed"
    );
    let v = app.contract(&p).await;
    assert_eq!(balance_of(&v, &format!("refund:{}", p.contract)), 0);
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}
