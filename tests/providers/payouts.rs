//! Money out through the real async-stripe client against the fake Stripe: the connected
//! account, its onboarding link and the payout's transfer as Stripe documents their
//! parameters, each with its idempotency key; a transfer Stripe does not answer is sent again
//! with the same key and made once; one Stripe refuses fails the payout and gives the money
//! back, and a retry sends it under a new key.

use std::time::Duration;

use escrow::domain::PayoutId;
use escrow::service::{Caller, UseCase};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fake_stripe::{FakeStripe, Fault, SECRET_KEY};
use crate::helpers::{Parties, TestApp, error_code};
use crate::support::stripe;

const CONNECT_SECRET: &str = "whsec_connect_test";

async fn stripe_app(fake: &FakeStripe) -> TestApp {
    TestApp::spawn_with(&[
        ("STRIPE_SECRET_KEY", SECRET_KEY),
        ("STRIPE_API_BASE", &fake.base),
        ("STRIPE_TIMEOUT_S", "1"),
        ("STRIPE_CONNECT_WEBHOOK_SECRET", CONNECT_SECRET),
    ])
    .await
}

fn sorted(form: &[(String, String)]) -> Vec<(String, String)> {
    let mut v = form.to_vec();
    v.sort();
    v
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    sorted(
        &v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>(),
    )
}

/// A released escrow (900.00 earned) and the freelancer's connected account, onboarded:
/// Stripe says so with an `account.updated` to the Connect endpoint.
async fn onboarded(app: &TestApp, fake: &FakeStripe, enable_at_stripe: bool) -> (Parties, String) {
    let p = app.requested_contract().await;
    assert_eq!(app.release(&p).await.status(), StatusCode::OK);
    let r = app
        .send(
            "POST",
            "/api/freelancer/payouts/onboarding",
            Some(&p.freelancer_token),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let acct = v["accountId"].as_str().unwrap().to_string();
    if enable_at_stripe {
        fake.enable_account(&acct);
    }
    let body = stripe::account_updated(
        &format!("evt_{acct}"),
        &acct,
        true,
        &[],
        chrono::Utc::now().timestamp(),
    );
    let r = app.post_connect(&body, CONNECT_SECRET).await;
    assert_eq!(r.status(), StatusCode::OK);
    (p, acct)
}

async fn pay_out(app: &TestApp, p: &Parties) -> (StatusCode, Value) {
    let r = app
        .send(
            "POST",
            "/api/freelancer/payouts",
            Some(&p.freelancer_token),
            None,
        )
        .await;
    (r.status(), r.json().await.unwrap())
}

async fn balance(app: &TestApp, p: &Parties) -> Value {
    app.wallet(p, &p.freelancer).await["balance"].clone()
}

#[tokio::test]
async fn onboarding_and_a_payout_send_stripe_exactly_what_its_api_documents() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let (p, acct) = onboarded(&app, &fake, true).await;
    let user = p.freelancer.as_str();

    // One Express account, created with a key made from the user id.
    let accounts = fake.requests_to("/v1/accounts");
    assert_eq!(accounts.len(), 1);
    assert_eq!(
        sorted(&accounts[0].form),
        pairs(&[("type", "express"), ("metadata[userId]", user)])
    );
    assert_eq!(
        accounts[0].idempotency_key.as_deref(),
        Some(format!("account-{user}").as_str())
    );
    assert!(accounts[0].stripe_version.is_some());
    // Onboarding again: the same account, a fresh link.
    let again: Value = app
        .send(
            "POST",
            "/api/freelancer/payouts/onboarding",
            Some(&p.freelancer_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["accountId"], json!(acct));
    assert!(
        again["url"]
            .as_str()
            .unwrap()
            .starts_with("https://connect.stripe.com/setup/e/")
    );
    assert_eq!(fake.requests_to("/v1/accounts").len(), 1);
    let links = fake.requests_to("/v1/account_links");
    assert_eq!(links.len(), 2);
    assert_eq!(
        sorted(&links[1].form),
        pairs(&[
            ("account", &acct),
            ("type", "account_onboarding"),
            (
                "refresh_url",
                "http://front.test/freelancer/payouts?onboarding=refresh"
            ),
            (
                "return_url",
                "http://front.test/freelancer/payouts?onboarding=return"
            ),
        ])
    );

    let (status, payout) = pay_out(&app, &p).await;
    assert_eq!(status, StatusCode::CREATED, "{payout}");
    assert_eq!(payout["status"], json!("paid"), "{payout}");
    let id = payout["id"].as_str().unwrap();
    let transfers = fake.requests_to("/v1/transfers");
    assert_eq!(transfers.len(), 1);
    assert_eq!(
        sorted(&transfers[0].form),
        pairs(&[
            ("amount", "90000"),
            ("currency", "inr"),
            ("destination", &acct),
            ("transfer_group", id),
            ("metadata[payoutId]", id),
            ("metadata[userId]", user),
        ])
    );
    assert_eq!(
        transfers[0].idempotency_key.as_deref(),
        Some(format!("payout-{id}").as_str())
    );
    assert_eq!(payout["transferId"], fake.transfers()[0]["id"]);
    assert_eq!(balance(&app, &p).await, json!(0));
    assert!(app.verify().await.ok());
    app.stop().await;
}

#[tokio::test]
async fn a_transfer_stripe_does_not_answer_is_sent_again_with_its_key_and_made_once() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let (p, _) = onboarded(&app, &fake, true).await;
    fake.fail_transfers([Fault::ServerError, Fault::Hang(Duration::from_secs(3))]);

    // Stripe answers 500: debited, pending, the error kept.
    let (status, payout) = pay_out(&app, &p).await;
    assert_eq!(status, StatusCode::CREATED, "{payout}");
    assert_eq!(payout["status"], json!("pending"), "{payout}");
    assert!(
        payout["lastError"].as_str().unwrap().contains("500"),
        "{payout}"
    );
    assert_eq!(balance(&app, &p).await, json!(0));
    assert!(fake.transfers().is_empty());

    // The maintenance task: Stripe makes the transfer, the answer never arrives in time.
    let service = &app.state.service;
    assert_eq!(service.recover_payouts().await.unwrap(), (0, 1));
    assert_eq!(fake.transfers().len(), 1, "the timed-out call did transfer");
    // Again: the same key, so Stripe replays that transfer instead of making another.
    assert_eq!(service.recover_payouts().await.unwrap(), (1, 0));
    assert_eq!(service.recover_payouts().await.unwrap(), (0, 0));
    let id = payout["id"].as_str().unwrap();
    let v: Value = app
        .send(
            "GET",
            &format!("/api/payouts/{id}"),
            Some(&p.freelancer_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], json!("paid"), "{v}");
    let made = fake.transfers();
    assert_eq!(made.len(), 1, "one transfer: {made:?}");
    assert_eq!(v["transferId"], made[0]["id"]);
    let tries = fake.requests_to("/v1/transfers");
    assert_eq!(
        tries.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![500, 200, 200]
    );
    for t in &tries {
        assert_eq!(
            t.idempotency_key.as_deref(),
            Some(format!("payout-{id}").as_str())
        );
        assert_eq!(sorted(&t.form), sorted(&tries[0].form));
    }
    assert!(app.verify().await.ok());
    app.stop().await;
}

#[tokio::test]
async fn a_transfer_stripe_refuses_gives_the_money_back_and_a_retry_uses_a_new_key() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    // Stripe has not finished the account, though its event said so.
    let (p, acct) = onboarded(&app, &fake, false).await;
    let (status, payout) = pay_out(&app, &p).await;
    assert_eq!(status, StatusCode::CREATED, "{payout}");
    assert_eq!(payout["status"], json!("failed"), "{payout}");
    assert!(
        payout["failure"].as_str().unwrap().contains("capabilities"),
        "{payout}"
    );
    assert_eq!(balance(&app, &p).await, json!(900), "given back");
    assert!(app.verify().await.ok());

    // An operator retries once Stripe takes transfers: debited again, sent under a new key.
    fake.enable_account(&acct);
    let id: PayoutId = payout["id"].as_str().unwrap().parse().unwrap();
    let op = Caller::operator("test:operator");
    let permit = app
        .state
        .service
        .permit(&op, UseCase::OperatePayouts)
        .unwrap();
    let retried = app.state.service.retry_payout(permit, &id).await.unwrap();
    assert_eq!(retried.status, escrow::domain::PayoutStatus::Paid);
    assert_eq!(retried.attempt, 2);
    let keys: Vec<_> = fake
        .requests_to("/v1/transfers")
        .into_iter()
        .map(|r| r.idempotency_key.unwrap())
        .collect();
    assert_eq!(keys, vec![format!("payout-{id}"), format!("payout-{id}-2")]);
    assert_eq!(balance(&app, &p).await, json!(0));
    // Only a failed payout is retried.
    let permit = app
        .state
        .service
        .permit(&op, UseCase::OperatePayouts)
        .unwrap();
    let e = app
        .state
        .service
        .retry_payout(permit, &id)
        .await
        .unwrap_err();
    assert_eq!(e.code.as_str(), "payout.wrong_state");
    let report = app.verify().await;
    assert!(report.ok(), "{:#?}", report.violations);
    let (status, _) = error_code(
        app.send(
            "GET",
            "/api/admin/payouts?status=failed",
            Some(&p.admin_token),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

/// `ESCROW_PAYOUT_MODE=on_release`: a release pays the earning straight to an onboarded
/// account, funded by the escrow's own charge; a freelancer without one keeps it in the wallet.
#[tokio::test]
async fn on_release_the_earning_is_transferred_from_the_escrow_s_charge() {
    let fake = FakeStripe::start().await;
    let app = TestApp::spawn_with(&[
        ("STRIPE_SECRET_KEY", SECRET_KEY),
        ("STRIPE_API_BASE", &fake.base),
        ("STRIPE_TIMEOUT_S", "1"),
        ("STRIPE_CONNECT_WEBHOOK_SECRET", CONNECT_SECRET),
        ("ESCROW_PAYOUT_MODE", "on_release"),
    ])
    .await;
    // The first freelancer onboards before any release (a released escrow is onboarded's
    // setup, so this one does it by hand); the second never does.
    let mut p = app.approved_contract(json!(1000)).await;
    let r = app
        .send(
            "POST",
            "/api/freelancer/payouts/onboarding",
            Some(&p.freelancer_token),
            None,
        )
        .await;
    let acct = r.json::<Value>().await.unwrap()["accountId"]
        .as_str()
        .unwrap()
        .to_string();
    fake.enable_account(&acct);
    let body =
        stripe::account_updated("evt_acct", &acct, true, &[], chrono::Utc::now().timestamp());
    let r = app.post_connect(&body, CONNECT_SECRET).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Paid by a payment intent whose event names its charge.
    let metadata =
        json!({"jobId": p.job.as_str(), "clientId": p.client.as_str(), "contractId": p.contract});
    let paid =
        stripe::payment_intent_succeeded_by_charge("evt_pi", "pi_x", "ch_x", 100_000, metadata);
    assert_eq!(app.post_webhook(&paid).await.status(), StatusCode::OK);
    for s in ["Started", "Ongoing", "Completed"] {
        assert_eq!(app.set_status(&p, s).await.status(), StatusCode::OK);
    }
    assert_eq!(app.request_release(&p).await.status(), StatusCode::OK);
    assert_eq!(app.release(&p).await.status(), StatusCode::OK);
    let transfers = fake.requests_to("/v1/transfers");
    assert_eq!(transfers.len(), 1);
    assert_eq!(transfers[0].get("source_transaction"), Some("ch_x"));
    assert_eq!(transfers[0].get("amount"), Some("90000"));
    assert_eq!(transfers[0].get("destination"), Some(acct.as_str()));
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(0));
    let listed: Value = app
        .send(
            "GET",
            "/api/freelancer/payouts",
            Some(&p.freelancer_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["status"], json!("paid"), "{listed}");
    assert_eq!(listed["data"][0]["contractId"], json!(p.contract));

    // No connected account: the earning stays in the wallet, nothing is sent.
    p = app.requested_contract().await;
    assert_eq!(app.release(&p).await.status(), StatusCode::OK);
    assert_eq!(fake.requests_to("/v1/transfers").len(), 1);
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(900));
    let report = app.verify().await;
    assert!(report.ok(), "{:#?}", report.violations);
    app.stop().await;
}
