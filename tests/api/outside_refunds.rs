//! Refunds made outside the escrow (issue 16, point 4): Stripe's `charge.refunded` for an
//! escrow's payment that the escrow did not make (someone refunded it from the dashboard).
//! All of it closes the escrow as refunded (actor `stripe:outside`); part of it reduces what
//! the escrow holds and freezes the rest for an admin's split; after release, it is a platform
//! loss. `amount_refunded` is cumulative, as Stripe reports it. Runs on both stores.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Parties, TestApp, error_code};
use crate::support::stripe::charge_refunded;

/// Stripe reports the contract's payment refunded by `refunded` in all.
async fn refunded(app: &TestApp, p: &Parties, event: &str, refunded: i64) -> Value {
    let body = charge_refunded(
        event,
        &format!("ch_{}", p.contract),
        Some(&format!("pi_{}", p.contract)),
        refunded,
        json!({}),
    );
    let r = app.post_webhook(&body).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_full_refund_made_outside_closes_the_escrow_and_a_release_is_refused() {
    let app = TestApp::spawn().await;
    let p = app.requested_contract().await;
    let v = refunded(&app, &p, "evt_out_1", 100_000).await;
    assert_eq!(v["outcome"], json!("applied"), "{v}");
    let c = app.contract(&p).await;
    assert_eq!(c["escrow"]["status"], json!("refunded"), "{c}");
    let last = c["escrow"]["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (&last["action"], &last["actor"]),
        (&json!("refunded_outside"), &json!("stripe:outside"))
    );
    let d = &c["contract"]["disputes"][0];
    assert_eq!(
        (&d["kind"], &d["status"]),
        (&json!("outside_refund"), &json!("closed"))
    );
    assert_eq!(d["outsideRefund"]["takenFromEscrow"], json!(1000));
    // The release the client asked for can no longer happen: the money is gone.
    assert_eq!(
        error_code(app.release(&p).await).await,
        (StatusCode::CONFLICT, "escrow.wrong_state".into())
    );
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(0));
    // Stripe says it again: nothing more is taken.
    let again = refunded(&app, &p, "evt_out_2", 100_000).await;
    assert_eq!(again["outcome"], json!("applied"), "{again}");
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[tokio::test]
async fn a_partial_refund_made_outside_reduces_the_escrow_and_freezes_the_rest_for_an_admin() {
    let app = TestApp::spawn().await;
    let p = app.requested_contract().await;
    refunded(&app, &p, "evt_part_1", 30_000).await;
    let c = app.contract(&p).await;
    assert_eq!(c["escrow"]["status"], json!("disputed"), "{c}");
    assert_eq!(
        c["contract"]["milestones"][0]["refundedOutside"],
        json!(300)
    );
    assert_eq!(
        error_code(app.release(&p).await).await,
        (StatusCode::CONFLICT, "escrow.frozen".into())
    );
    // A second outside refund (cumulative 500 in all) takes 200 more.
    refunded(&app, &p, "evt_part_2", 50_000).await;
    let c = app.contract(&p).await;
    assert_eq!(
        c["contract"]["milestones"][0]["refundedOutside"],
        json!(500)
    );
    let listed: Value = {
        let op = crate::helpers::operator();
        let service = &app.state.service;
        let permit = service
            .permit(&op, escrow::service::UseCase::ResolveDispute)
            .unwrap();
        let page = service
            .disputes(permit, true, escrow::store::Page::new(1, 20))
            .await
            .unwrap();
        serde_json::to_value(escrow::views::EscrowPage::from(&page)).unwrap()
    };
    assert_eq!(
        listed["data"][0]["contractId"],
        json!(p.contract),
        "{listed}"
    );
    // The admin releases what is left to the freelancer (the fee kept): 500 held, 100 fee.
    let r = app
        .send(
            "PUT",
            &format!("/api/admin/escrow/resolve-dispute/{}", p.contract),
            Some(&p.admin_token),
            Some(json!({"clientShare": 0, "freelancerShare": 400})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(400));
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[tokio::test]
async fn a_refund_made_outside_after_release_is_a_platform_loss_and_ours_is_not_taken_twice() {
    let app = TestApp::spawn().await;
    let p = app.requested_contract().await;
    assert_eq!(app.release(&p).await.status(), StatusCode::OK);
    refunded(&app, &p, "evt_after_1", 100_000).await;
    let c = app.contract(&p).await;
    assert_eq!(c["escrow"]["status"], json!("released"));
    assert_eq!(
        c["contract"]["disputes"][0]["outsideRefund"]["platformLoss"],
        json!(1000),
        "{c}"
    );
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(900));

    // The escrow's own refund, reported by Stripe: expected, nothing is taken.
    let q = app.funded_contract().await;
    assert_eq!(
        app.refund(&q, &q.client_token).await.status(),
        StatusCode::OK
    );
    let v = refunded(&app, &q, "evt_ours_1", 90_000).await;
    assert_eq!(v["outcome"], json!("applied"), "{v}");
    let c = app.contract(&q).await;
    assert_eq!(c["contract"]["disputes"], json!([]), "{c}");
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}
