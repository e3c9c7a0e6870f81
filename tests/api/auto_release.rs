//! Auto-release (`ESCROW_AUTO_RELEASE_AFTER`): a completed contract whose client stays silent
//! is released by the system when the window ends, through a durable timer; with it on, a
//! client's release request is enough unless `ESCROW_RELEASE_NEEDS_ADMIN=true`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Parties, TestApp};

async fn complete(app: &TestApp, p: &Parties) {
    for s in ["Started", "Ongoing", "Completed"] {
        assert_eq!(
            app.set_status(p, s).await.status(),
            StatusCode::OK,
            "to {s}"
        );
    }
}

#[tokio::test]
async fn a_completed_contract_whose_client_stays_silent_is_released_when_its_window_ends() {
    let app = TestApp::spawn_with(&[("ESCROW_AUTO_RELEASE_AFTER", "1s")]).await;
    let service = &app.state.service;
    let p = app.funded_contract().await;
    complete(&app, &p).await;
    let detail = app.contract(&p).await;
    assert!(detail["autoReleaseAt"].is_string(), "{detail}");
    // Not yet: the window runs.
    assert_eq!(service.run_due_timers().await.unwrap(), 0);
    assert_eq!(app.contract(&p).await["escrow"]["status"], json!("funded"));
    // Completed work can no longer be refunded (409): its timer releases it too.
    let q = app.funded_contract().await;
    for s in ["Started", "Ongoing", "Completed"] {
        app.set_status(&q, s).await;
    }
    let refunded = app.refund(&q, &q.admin_token).await;
    assert_eq!(
        refunded.status(),
        StatusCode::CONFLICT,
        "a completed contract is not refunded"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(service.run_due_timers().await.unwrap(), 2);
    for d in [&p, &q] {
        let v = app.contract(d).await;
        assert_eq!(v["escrow"]["status"], json!("released"), "{v}");
        assert!(v.get("autoReleaseAt").is_none(), "{v}");
        let last = v["escrow"]["history"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(last["actor"], json!("system:auto-release"), "{v}");
        assert!(
            last["detail"].as_str().unwrap().contains("within 1s"),
            "{last}"
        );
    }
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(900));
    // Done once: nothing is due any more, and an admin's late click is a 409.
    assert_eq!(service.run_due_timers().await.unwrap(), 0);
    assert_eq!(app.release(&p).await.status(), StatusCode::CONFLICT);
    let report = app.verify().await;
    assert!(report.ok(), "{:#?}", report.violations);
    app.stop().await;
}

#[tokio::test]
async fn with_auto_release_on_a_client_request_is_enough_unless_an_admin_is_required() {
    let app = TestApp::spawn_with(&[("ESCROW_AUTO_RELEASE_AFTER", "14d")]).await;
    let p = app.funded_contract().await;
    complete(&app, &p).await;
    let r = app.request_release(&p).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"]["releaseFundStatus"], json!("Approved"), "{v}");
    let detail = app.contract(&p).await;
    assert_eq!(detail["escrow"]["status"], json!("released"));
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(900));
    // The request's fallback timer is done; the auto-release one finds nothing to do.
    let op = crate::helpers::operator();
    let permit = app
        .state
        .service
        .permit(&op, escrow::service::UseCase::Operate)
        .unwrap();
    let pending = app.state.service.timers(permit, false, 10).await.unwrap();
    assert_eq!(
        pending.len(),
        1,
        "only the 14-day auto-release: {pending:?}"
    );
    app.stop().await;

    let app = TestApp::spawn_with(&[
        ("ESCROW_AUTO_RELEASE_AFTER", "14d"),
        ("ESCROW_RELEASE_NEEDS_ADMIN", "true"),
    ])
    .await;
    let p = app.funded_contract().await;
    complete(&app, &p).await;
    assert_eq!(app.request_release(&p).await.status(), StatusCode::OK);
    assert_eq!(app.contract(&p).await["escrow"]["status"], json!("funded"));
    assert_eq!(app.release(&p).await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn without_auto_release_nothing_is_scheduled() {
    let app = TestApp::spawn().await;
    let p = app.requested_contract().await;
    assert_eq!(app.contract(&p).await["escrow"]["status"], json!("funded"));
    assert!(app.contract(&p).await.get("autoReleaseAt").is_none());
    let op = crate::helpers::operator();
    let permit = app
        .state
        .service
        .permit(&op, escrow::service::UseCase::Operate)
        .unwrap();
    assert!(
        app.state
            .service
            .timers(permit, false, 10)
            .await
            .unwrap()
            .is_empty()
    );
    app.stop().await;
}
