//! Client disputes over HTTP (issue 16, point 1): the contract's client disputes the held
//! escrow, which freezes it (no release, no auto-release, no release request, no refund); the
//! freelancer answers; an admin resolves it with an explicit split, exactly once. Runs on both
//! stores (`ESCROW_TEST_API_BACKEND`).

use reqwest::StatusCode;
use serde_json::{Value, json};

use escrow::domain::ContractId;
use escrow::service::UseCase;
use escrow::service::escrow::Release;
use escrow::service::input::Reason;

use crate::helpers::{Parties, TestApp, error_code, operator};

async fn dispute(app: &TestApp, p: &Parties, token: &str, body: Value) -> reqwest::Response {
    app.send(
        "POST",
        &format!("/api/client/contract/dispute/{}", p.contract),
        Some(token),
        Some(body),
    )
    .await
}

async fn respond(app: &TestApp, p: &Parties, token: &str, text: &str) -> reqwest::Response {
    app.send(
        "POST",
        &format!("/api/freelancer/contract/dispute/{}/respond", p.contract),
        Some(token),
        Some(json!({ "description": text })),
    )
    .await
}

async fn resolve(app: &TestApp, p: &Parties, body: Value) -> reqwest::Response {
    app.send(
        "PUT",
        &format!("/api/admin/escrow/resolve-dispute/{}", p.contract),
        Some(&p.admin_token),
        Some(body),
    )
    .await
}

async fn to(app: &TestApp, p: &Parties, statuses: &[&str]) {
    for s in statuses {
        assert_eq!(
            app.set_status(p, s).await.status(),
            StatusCode::OK,
            "to {s}"
        );
    }
}

#[tokio::test]
async fn a_client_dispute_freezes_the_escrow_until_an_admin_splits_it_exactly_once() {
    let app = TestApp::spawn().await;
    // 1000 rupees funded, the work completed and its release requested.
    let p = app.requested_contract().await;
    let r = dispute(
        &app,
        &p,
        &p.client_token,
        json!({"reason": "Not what was agreed", "description": "the logo is a stock image"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = app.contract(&p).await;
    assert_eq!(v["escrow"]["status"], json!("disputed"), "{v}");
    assert_eq!(v["contract"]["milestones"][0]["state"], json!("disputed"));
    let d = &v["contract"]["disputes"][0];
    assert_eq!(
        (&d["id"], &d["kind"], &d["status"], &d["reason"]),
        (
            &json!(1),
            &json!("client"),
            &json!("open"),
            &json!("Not what was agreed")
        ),
        "{d}"
    );
    assert_eq!(d["openedBy"], json!(format!("client:{}", p.client)));

    // Frozen: nothing moves it but the resolution, and a second dispute is refused.
    assert_eq!(
        error_code(app.release(&p).await).await,
        (StatusCode::CONFLICT, "escrow.frozen".into())
    );
    assert_eq!(
        error_code(app.request_release(&p).await).await,
        (StatusCode::CONFLICT, "escrow.frozen".into())
    );
    let again = dispute(&app, &p, &p.client_token, json!({"reason": "again"})).await;
    assert_eq!(
        error_code(again).await,
        (StatusCode::CONFLICT, "escrow.wrong_state".into())
    );
    // Only its client disputes, and only its freelancer answers.
    let other = app.parties();
    assert_eq!(
        dispute(&app, &p, &other.client_token, json!({"reason": "x"}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        respond(&app, &p, &other.freelancer_token, "not mine")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // A blank reason is refused before anything happens.
    let blank = dispute(&app, &p, &p.client_token, json!({"reason": "  "})).await;
    assert_eq!(
        error_code(blank).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.reason".into())
    );
    let r = respond(&app, &p, &p.freelancer_token, "It is an original drawing").await;
    assert_eq!(r.status(), StatusCode::OK);

    // A split that does not add up (with the retained fee of 100) changes nothing.
    let before = app.contract(&p).await;
    for bad in [
        json!({"clientShare": 500, "freelancerShare": 500}),
        json!({"clientShare": 0, "freelancerShare": 0}),
        json!({"clientShare": -1, "freelancerShare": 901}),
        json!({"clientShare": "300.001", "freelancerShare": 600}),
    ] {
        let (status, _) = error_code(resolve(&app, &p, bad.clone()).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(app.contract(&p).await, before);

    // The split: 300 back to the client, 600 to the freelancer, the fee of 100 kept.
    let r = app
        .http
        .put(app.url(&format!(
            "/api/admin/escrow/resolve-dispute/{}",
            p.contract
        )))
        .bearer_auth(&p.admin_token)
        .header("Idempotency-Key", "resolve-once")
        .json(&json!({"clientShare": 300, "freelancerShare": "600.00", "reason": "half of it was stock"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["data"]["status"], json!("refunded"), "{first}");
    assert_eq!(first["data"]["refund"]["clientShare"], json!(300));
    assert_eq!(first["data"]["refund"]["freelancerShare"], json!(600));
    assert_eq!(first["data"]["refund"]["platformFee"], json!(100));
    // The same request again answers as the first did; a new one finds nothing open.
    let replay = app
        .http
        .put(app.url(&format!(
            "/api/admin/escrow/resolve-dispute/{}",
            p.contract
        )))
        .bearer_auth(&p.admin_token)
        .header("Idempotency-Key", "resolve-once")
        .json(&json!({"clientShare": 300, "freelancerShare": "600.00", "reason": "half of it was stock"}))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    assert_eq!(
        error_code(
            resolve(
                &app,
                &p,
                json!({"clientShare": 300, "freelancerShare": 600})
            )
            .await
        )
        .await,
        (StatusCode::CONFLICT, "escrow.wrong_state".into())
    );
    let v = app.contract(&p).await;
    let d = &v["contract"]["disputes"][0];
    assert_eq!(d["status"], json!("resolved"));
    assert_eq!(
        d["responses"][0]["description"],
        json!("It is an original drawing")
    );
    assert_eq!(d["resolution"]["clientShare"], json!(300));
    assert!(
        d["resolution"]["actor"]
            .as_str()
            .unwrap()
            .starts_with("admin:"),
        "{d}"
    );
    let actions: Vec<&str> = v["escrow"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "funded",
            "disputed",
            "dispute_response",
            "dispute_resolved",
            "refund_decided",
            "refunded"
        ]
    );
    // The completed work stays completed; the money went where the split said, once.
    assert_eq!(v["contract"]["status"], json!("Completed"));
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(600));
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[tokio::test]
async fn a_dispute_stops_the_auto_release_clock() {
    let app = TestApp::spawn_with(&[("ESCROW_AUTO_RELEASE_AFTER", "1s")]).await;
    let p = app.funded_contract().await;
    to(&app, &p, &["Started", "Ongoing", "Completed"]).await;
    assert!(app.contract(&p).await["autoReleaseAt"].is_string());
    let r = dispute(
        &app,
        &p,
        &p.client_token,
        json!({"reason": "late and broken"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    app.state.service.run_due_timers().await.unwrap();
    let v = app.contract(&p).await;
    assert_eq!(v["escrow"]["status"], json!("disputed"), "{v}");
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(0));
    // All of it to the freelancer is a split too: nothing goes back to the client.
    let r = resolve(&app, &p, json!({"clientShare": 0, "freelancerShare": 900})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(900));
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[tokio::test]
async fn a_dispute_on_work_in_progress_cancels_the_contract_when_resolved() {
    let app = TestApp::spawn().await;
    let p = app.funded_contract().await;
    to(&app, &p, &["Started"]).await;
    assert_eq!(
        dispute(&app, &p, &p.client_token, json!({"reason": "no contact"}))
            .await
            .status(),
        StatusCode::OK
    );
    // The client's own refund (the original's cancel) waits for the resolution too.
    assert_eq!(
        error_code(app.refund(&p, &p.client_token).await).await,
        (StatusCode::CONFLICT, "escrow.frozen".into())
    );
    let r = resolve(&app, &p, json!({"clientShare": 900, "freelancerShare": 0})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = app.contract(&p).await;
    assert_eq!(v["contract"]["status"], json!("Canceled"), "{v}");
    assert_eq!(v["contract"]["cancelReason"], json!("Dispute 1 resolved"));
    assert_eq!(v["escrow"]["status"], json!("refunded"));
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[tokio::test]
async fn dispute_release_and_refund_racing_on_one_escrow_have_exactly_one_winner() {
    let app = TestApp::spawn().await;
    let service = &app.state.service;
    let op = operator();
    let mut winners = std::collections::BTreeMap::new();
    for round in 0..9 {
        let p = app.funded_contract().await;
        to(&app, &p, &["Started", "Ongoing"]).await;
        let id: ContractId = p.contract.parse().unwrap();
        let release = Release {
            contract: id,
            milestone: None,
            force: Some(Reason::parse("race").unwrap()),
        };
        // The first six rounds give each one in turn a head start of a few milliseconds (the
        // library's release needs no HTTP round trip and would otherwise always be first); the
        // last three start all three at once.
        let spread = if round < 6 { 4 } else { 0 };
        let delay = |k: u64| {
            tokio::time::sleep(std::time::Duration::from_millis(((round + k) % 3) * spread))
        };
        let (disputed, refunded, released) = tokio::join!(
            async {
                delay(0).await;
                dispute(&app, &p, &p.client_token, json!({"reason": "race"})).await
            },
            async {
                delay(1).await;
                app.refund(&p, &p.client_token).await
            },
            async {
                delay(2).await;
                service
                    .release(service.permit(&op, UseCase::Release).unwrap(), &release)
                    .await
            },
        );
        let mut won = vec![];
        let mut losers = vec![];
        for (name, r) in [("dispute", disputed), ("refund", refunded)] {
            if r.status() == StatusCode::OK {
                won.push(name);
            } else {
                losers.push(error_code(r).await);
            }
        }
        match released {
            Ok(_) => won.push("release"),
            Err(e) => losers.push((StatusCode::CONFLICT, e.code.as_str().to_string())),
        }
        assert_eq!(won.len(), 1, "round {round}: {won:?} {losers:?}");
        for (status, code) in &losers {
            assert_eq!(*status, StatusCode::CONFLICT, "round {round}: {code}");
            assert!(
                ["escrow.frozen", "escrow.wrong_state", "conflict.busy"].contains(&code.as_str()),
                "round {round}: {code}"
            );
        }
        let v = app.contract(&p).await;
        let expected = match won[0] {
            "dispute" => "disputed",
            "refund" => "refunded",
            _ => "released",
        };
        assert_eq!(v["escrow"]["status"], json!(expected), "round {round}: {v}");
        *winners.entry(won[0]).or_insert(0) += 1;
    }
    let report = app.verify().await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    eprintln!("race winners: {winners:?}");
}
