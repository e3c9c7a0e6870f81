//! Chargebacks over HTTP (issue 16, point 2): Stripe's `charge.dispute.*` events, built from
//! its dispute objects and signed as Stripe signs, through the real server. A chargeback
//! freezes what its charge paid for; `won` unfreezes it; `lost` takes the disputed amount out
//! of the escrow, or, once the money has left it, books a platform loss. Runs on both stores.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Parties, TestApp, error_code};
use crate::support::stripe::charge_dispute;

/// Delivers a `charge.dispute.<kind>` event for the contract's payment; its reply.
async fn dispute_event(
    app: &TestApp,
    p: &Parties,
    event: &str,
    kind: &str,
    amount: i64,
    status: &str,
) -> Value {
    let body = charge_dispute(
        event,
        kind,
        &format!("dp_{}", p.contract),
        &format!("ch_{}", p.contract),
        Some(&format!("pi_{}", p.contract)),
        amount,
        status,
    );
    let r = app.post_webhook(&body).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

fn ledger_kinds(v: &Value) -> Vec<(String, String, i64)> {
    v["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["account"].as_str().unwrap().to_string(),
                crate::support::money::minor(&e["amount"]),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_chargeback_freezes_the_escrow_until_the_bank_decides_and_won_unfreezes_it() {
    let app = TestApp::spawn().await;
    let p = app.requested_contract().await;
    let reply = dispute_event(
        &app,
        &p,
        "evt_dp_created",
        "created",
        100_000,
        "needs_response",
    )
    .await;
    assert_eq!(reply["outcome"], json!("applied"), "{reply}");
    let v = app.contract(&p).await;
    assert_eq!(v["escrow"]["status"], json!("disputed"), "{v}");
    let d = &v["contract"]["disputes"][0];
    assert_eq!(
        (&d["kind"], &d["status"]),
        (&json!("chargeback"), &json!("open"))
    );
    let cb = &d["chargeback"];
    assert_eq!(cb["providerDisputeId"], json!(format!("dp_{}", p.contract)));
    assert_eq!(cb["amount"], json!(1000));
    assert_eq!(cb["providerStatus"], json!("needs_response"));
    assert!(cb["evidenceDueBy"].is_string(), "{cb}");
    // Frozen: the release the client asked for waits for the bank; so does an admin's split.
    assert_eq!(
        error_code(app.release(&p).await).await,
        (StatusCode::CONFLICT, "escrow.frozen".into())
    );
    let split = app
        .send(
            "PUT",
            &format!("/api/admin/escrow/resolve-dispute/{}", p.contract),
            Some(&p.admin_token),
            Some(json!({"clientShare": 0, "freelancerShare": 900})),
        )
        .await;
    assert_eq!(
        error_code(split).await,
        (StatusCode::CONFLICT, "escrow.wrong_state".into())
    );
    // Stripe withdraws the money, then the platform wins and gets it back; each is recorded
    // once, however often it is delivered.
    dispute_event(
        &app,
        &p,
        "evt_dp_withdrawn",
        "funds_withdrawn",
        100_000,
        "needs_response",
    )
    .await;
    let again = dispute_event(
        &app,
        &p,
        "evt_dp_withdrawn",
        "funds_withdrawn",
        100_000,
        "needs_response",
    )
    .await;
    assert_eq!(again["outcome"], json!("duplicate"), "{again}");
    dispute_event(
        &app,
        &p,
        "evt_dp_reinstated",
        "funds_reinstated",
        100_000,
        "won",
    )
    .await;
    dispute_event(&app, &p, "evt_dp_closed", "closed", 100_000, "won").await;
    let v = app.contract(&p).await;
    assert_eq!(v["escrow"]["status"], json!("funded"), "{v}");
    let cb = &v["contract"]["disputes"][0]["chargeback"];
    assert_eq!(
        (&cb["fundsWithdrawn"], &cb["fundsReinstated"], &cb["closed"]),
        (&json!(true), &json!(true), &json!(true)),
        "{cb}"
    );
    assert_eq!(v["contract"]["disputes"][0]["status"], json!("won"));
    let actions: Vec<&str> = v["escrow"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["actor"] == "stripe")
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "funded",
            "chargeback_opened",
            "chargeback_funds_withdrawn",
            "chargeback_funds_reinstated",
            "chargeback_won"
        ]
    );
    // A later event of the closed chargeback changes nothing; the release goes through.
    dispute_event(&app, &p, "evt_dp_late", "closed", 100_000, "lost").await;
    assert_eq!(app.release(&p).await.status(), StatusCode::OK);
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(900));
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[tokio::test]
async fn a_chargeback_lost_before_release_takes_the_disputed_amount_out_of_the_escrow() {
    let app = TestApp::spawn().await;
    // All of it.
    let p = app.funded_contract().await;
    dispute_event(&app, &p, "evt_a1", "created", 100_000, "needs_response").await;
    dispute_event(&app, &p, "evt_a2", "closed", 100_000, "lost").await;
    let v = app.contract(&p).await;
    assert_eq!(v["escrow"]["status"], json!("charged_back"), "{v}");
    assert_eq!(v["contract"]["disputes"][0]["status"], json!("lost"));
    assert!(
        ledger_kinds(&v).contains(&(
            "chargeback".into(),
            format!("escrow:{}", p.contract),
            -100_000
        )),
        "{v}"
    );
    assert_eq!(
        error_code(app.refund(&p, &p.client_token).await).await,
        (StatusCode::CONFLICT, "escrow.wrong_state".into())
    );

    // Part of it: the rest stays frozen until an admin splits it (the fee, 100, is kept;
    // the shares make up the other 500 of the 600 left).
    let q = app.funded_contract().await;
    dispute_event(&app, &q, "evt_b1", "created", 40_000, "needs_response").await;
    dispute_event(&app, &q, "evt_b2", "closed", 40_000, "lost").await;
    let v = app.contract(&q).await;
    assert_eq!(v["escrow"]["status"], json!("disputed"), "{v}");
    assert_eq!(v["contract"]["milestones"][0]["chargedBack"], json!(400));
    let cb = &v["contract"]["disputes"][0]["chargeback"];
    assert_eq!(
        (&cb["takenFromEscrow"], &cb["platformLoss"]),
        (&json!(400), &json!(0))
    );
    let path = format!("/api/admin/escrow/resolve-dispute/{}", q.contract);
    let resolve = |body: Value| app.send("PUT", &path, Some(&q.admin_token), Some(body));
    let (status, _) =
        error_code(resolve(json!({"clientShare": 300, "freelancerShare": 600})).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = resolve(json!({"clientShare": 200, "freelancerShare": 300})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = app.contract(&q).await;
    assert_eq!(v["escrow"]["status"], json!("refunded"), "{v}");
    assert_eq!(app.wallet(&q, &q.freelancer).await["balance"], json!(300));
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[tokio::test]
async fn a_chargeback_lost_after_release_is_a_platform_loss() {
    let app = TestApp::spawn().await;
    let p = app.requested_contract().await;
    assert_eq!(app.release(&p).await.status(), StatusCode::OK);
    dispute_event(&app, &p, "evt_c1", "created", 100_000, "needs_response").await;
    let v = app.contract(&p).await;
    // Nothing left to freeze: the dispute is listed, the escrow stays released.
    assert_eq!(v["escrow"]["status"], json!("released"), "{v}");
    assert_eq!(v["contract"]["disputes"][0]["milestones"], json!([]));
    dispute_event(&app, &p, "evt_c2", "closed", 100_000, "lost").await;
    let v = app.contract(&p).await;
    let cb = &v["contract"]["disputes"][0]["chargeback"];
    assert_eq!(
        (&cb["takenFromEscrow"], &cb["platformLoss"]),
        (&json!(0), &json!(1000))
    );
    assert!(
        ledger_kinds(&v).contains(&(
            "chargeback_loss".into(),
            "platform:chargebacks".into(),
            -100_000
        )),
        "{v}"
    );
    // The freelancer keeps the earning: the platform bears it (ESCROW_CHARGEBACK_RECOVERY is
    // `platform` by default).
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(900));
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[tokio::test]
async fn a_chargeback_of_an_unknown_payment_is_recorded_as_failed() {
    let app = TestApp::spawn().await;
    let body = charge_dispute(
        "evt_unknown_dp",
        "created",
        "dp_nobody",
        "ch_nobody",
        Some("pi_nobody"),
        5_000,
        "needs_response",
    );
    let r = app.post_webhook(&body).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["outcome"], json!("failed"), "{v}");
}

#[tokio::test]
async fn with_wallet_recovery_a_loss_after_release_comes_out_of_the_wallet_never_below_zero() {
    let app = TestApp::spawn_with(&[("ESCROW_CHARGEBACK_RECOVERY", "wallet")]).await;
    // Part of the earning: the wallet makes all of it good.
    let p = app.requested_contract().await;
    assert_eq!(app.release(&p).await.status(), StatusCode::OK);
    dispute_event(&app, &p, "evt_w1", "created", 50_000, "needs_response").await;
    dispute_event(&app, &p, "evt_w2", "closed", 50_000, "lost").await;
    // Stripe sends it again: recovered once.
    let again = dispute_event(&app, &p, "evt_w2", "closed", 50_000, "lost").await;
    assert_eq!(again["outcome"], json!("duplicate"));
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(400));
    let v = app.contract(&p).await;
    let cb = &v["contract"]["disputes"][0]["chargeback"];
    assert_eq!(
        (&cb["platformLoss"], &cb["recoveredFromWallet"]),
        (&json!(500), &json!(500)),
        "{cb}"
    );
    let payouts: Value = app
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
    let recovery = &payouts["data"][0];
    assert_eq!(
        (
            &recovery["status"],
            &recovery["amount"],
            &recovery["destination"]
        ),
        (&json!("paid"), &json!(500), &json!("platform:chargebacks")),
        "{payouts}"
    );
    assert_eq!(recovery["chargeback"], json!(format!("dp_{}", p.contract)));

    // More than the wallet holds: what it holds, and the rest stays the platform's.
    let q = app.requested_contract().await;
    assert_eq!(app.release(&q).await.status(), StatusCode::OK);
    dispute_event(&app, &q, "evt_w3", "closed", 100_000, "lost").await;
    assert_eq!(app.wallet(&q, &q.freelancer).await["balance"], json!(0));
    let v = app.contract(&q).await;
    let cb = &v["contract"]["disputes"][0]["chargeback"];
    assert_eq!(
        (&cb["platformLoss"], &cb["recoveredFromWallet"]),
        (&json!(1000), &json!(900)),
        "{cb}"
    );
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

/// A server that died after booking a lost chargeback's loss and before recovering it from
/// the wallet answers nothing; Stripe sends the event again and finds it recorded. That
/// redelivery finishes the recovery, before the freelancer can withdraw the wallet (the
/// recovery's timer is only due a debit grace later). Here the first server is one that
/// leaves the loss to the platform and the second, on the same store, one that recovers it:
/// the first delivery booked the loss and recovered nothing, as a server cut off there would.
#[tokio::test]
async fn the_redelivery_of_a_lost_chargeback_finishes_a_recovery_cut_off_by_a_crash() {
    let first = TestApp::spawn().await;
    let p = first.requested_contract().await;
    assert_eq!(first.release(&p).await.status(), StatusCode::OK);
    dispute_event(&first, &p, "evt_r1", "closed", 50_000, "lost").await;
    assert_eq!(first.wallet(&p, &p.freelancer).await["balance"], json!(900));
    let second = TestApp::spawn_beside(&first, &[("ESCROW_CHARGEBACK_RECOVERY", "wallet")]).await;
    let again = dispute_event(&second, &p, "evt_r1", "closed", 50_000, "lost").await;
    assert_eq!(again["outcome"], json!("duplicate"), "{again}");
    assert_eq!(
        second.wallet(&p, &p.freelancer).await["balance"],
        json!(400)
    );
    // And once: a third delivery takes nothing more.
    dispute_event(&second, &p, "evt_r1", "closed", 50_000, "lost").await;
    assert_eq!(
        second.wallet(&p, &p.freelancer).await["balance"],
        json!(400)
    );
    let v = second.contract(&p).await;
    let cb = &v["contract"]["disputes"][0]["chargeback"];
    assert_eq!(cb["recoveredFromWallet"], json!(500), "{cb}");
    let report = second.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

/// A chargeback of a second payment, which the escrow kept aside and refunded in full: the
/// escrow it did not fund is neither frozen nor touched, and a lost chargeback on it is the
/// platform's loss (the client got that money back twice: once by the refund, once by the
/// bank).
#[tokio::test]
async fn a_chargeback_of_a_refunded_second_payment_leaves_the_escrow_alone() {
    let app = TestApp::spawn().await;
    let p = app.funded_contract().await;
    let r = app
        .post_webhook(&app.payment_event("evt_second_pay", &p, 100_000, "pi_second_pay"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = app.contract(&p).await;
    assert!(
        v["escrow"]["extraPayments"][0]["refundId"].is_string(),
        "{v}"
    );
    let dp = |event: &str, kind: &str, status: &str| {
        charge_dispute(
            event,
            kind,
            "dp_second_pay",
            "ch_second_pay",
            Some("pi_second_pay"),
            100_000,
            status,
        )
    };
    let r: Value = app
        .post_webhook(&dp("evt_sp1", "created", "needs_response"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["outcome"], json!("applied"), "{r}");
    let v = app.contract(&p).await;
    // Recorded, nothing frozen: the escrow's own payment is not disputed.
    assert_eq!(v["escrow"]["status"], json!("funded"), "{v}");
    assert_eq!(v["contract"]["disputes"][0]["milestones"], json!([]), "{v}");
    for s in ["Started", "Ongoing", "Completed"] {
        assert_eq!(app.set_status(&p, s).await.status(), StatusCode::OK);
    }
    app.post_webhook(&dp("evt_sp2", "closed", "lost")).await;
    let v = app.contract(&p).await;
    let cb = &v["contract"]["disputes"][0]["chargeback"];
    assert_eq!(
        (&cb["takenFromEscrow"], &cb["platformLoss"]),
        (&json!(0), &json!(1000)),
        "{cb}"
    );
    assert_eq!(v["escrow"]["status"], json!("funded"), "{v}");
    // The escrow still releases as usual.
    let r = app
        .send(
            "PATCH",
            &format!("/api/client/release-fund/{}", p.contract),
            Some(&p.client_token),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.release(&p).await.status(), StatusCode::OK);
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(900));
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}
