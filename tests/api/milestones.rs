//! Milestones over HTTP (issue 17): a contract in parts, each funded, submitted, requested and
//! released on its own, by every path (an admin, a client's request with auto-release on, the
//! timer), and a cancel that refunds what is held and leaves what was released. Runs on both
//! stores (`ESCROW_TEST_API_BACKEND`).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Parties, TestApp, error_code};

async fn create_with(
    app: &TestApp,
    p: &Parties,
    amount: Value,
    milestones: Value,
) -> reqwest::Response {
    app.send(
        "POST",
        &format!("/api/client/contract/create-contract/{}", p.job),
        Some(&p.client_token),
        Some(json!({"freelancerId": p.freelancer.as_str(), "amount": amount, "title": "Shop", "milestones": milestones})),
    )
    .await
}

/// An approved contract of 3000 rupees in three milestones: 1000, 1500, 500.
async fn three_milestones(app: &TestApp) -> Parties {
    let mut p = app.parties();
    let r = create_with(
        app,
        &p,
        json!(3000),
        json!([
            {"title": "Design", "amount": 1000},
            {"title": "Build", "amount": "1500.00"},
            {"title": "Launch", "amount": 500}
        ]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    let ms = v["data"]["milestones"].as_array().unwrap().clone();
    assert_eq!(ms.len(), 3, "{v}");
    assert_eq!(
        ms.iter()
            .map(|m| (m["id"].clone(), m["amount"].clone(), m["state"].clone()))
            .collect::<Vec<_>>(),
        vec![
            (json!(1), json!(1000), json!("unfunded")),
            (json!(2), json!(1500), json!("unfunded")),
            (json!(3), json!(500), json!("unfunded")),
        ]
    );
    p.contract = v["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(app.approve(&p).await.status(), StatusCode::OK);
    p
}

/// Pays a checkout for `body` through the sandbox's Pay button (the signed event it posts).
async fn pay(app: &TestApp, p: &Parties, body: Value) -> String {
    let r = app.checkout(p, body).await;
    assert_eq!(r.status(), StatusCode::OK);
    let session: Value = r.json().await.unwrap();
    let id = session["id"].as_str().unwrap().to_string();
    let paid = app
        .http
        .post(app.url(&format!("/sandbox/checkout/{id}/pay")))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    id
}

fn states(v: &Value) -> Vec<String> {
    v["contract"]["milestones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap().to_string())
        .collect()
}

async fn milestone_call(
    app: &TestApp,
    method: &str,
    path: String,
    token: &str,
) -> reqwest::Response {
    app.send(method, &path, Some(token), None).await
}

fn submit_path(p: &Parties, m: &str) -> String {
    format!(
        "/api/freelancer/contract/milestones/{}/{m}/submit",
        p.contract
    )
}

fn request_path(p: &Parties, m: &str) -> String {
    format!(
        "/api/client/contract/release-fund/{}/milestones/{m}",
        p.contract
    )
}

fn release_path(p: &Parties, m: &str) -> String {
    format!(
        "/api/admin/escrow/release-fund/{}/milestones/{m}",
        p.contract
    )
}

#[tokio::test]
async fn milestones_that_do_not_add_up_are_refused_and_make_nothing() {
    let app = TestApp::spawn().await;
    let p = app.parties();
    for (amount, milestones, want) in [
        // The body contradicts itself, as a differing `rate` contradicts a contract.
        (
            json!(3000),
            json!([{"title": "a", "amount": 1000}, {"title": "b", "amount": 1000}]),
            (StatusCode::CONFLICT, "amount_mismatch"),
        ),
        (
            json!(3000),
            json!([{"title": "a", "amount": 3000}, {"title": "b", "amount": 0}]),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation.amount"),
        ),
        (
            json!(3000),
            json!([]),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation.failed"),
        ),
        (
            json!(51),
            json!(vec![json!({"title": "x", "amount": 1}); 51]),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation.failed"),
        ),
    ] {
        let r = create_with(&app, &p, amount, milestones.clone()).await;
        let (status, code) = error_code(r).await;
        assert_eq!((status, code.as_str()), want, "{milestones}");
    }
    // An unknown field in a milestone is refused like one in the body.
    let r = create_with(
        &app,
        &p,
        json!(3000),
        json!([{"title": "a", "amount": 3000, "extra": 1}]),
    )
    .await;
    assert!(r.status().is_client_error(), "{}", r.status());
    // Nothing was made: the job still takes its contract.
    let ok = create_with(
        &app,
        &p,
        json!(3000),
        json!([{"title": "all", "amount": 3000}]),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    app.stop().await;
}

#[tokio::test]
async fn a_three_milestone_contract_is_funded_in_two_sessions_and_released_by_three_paths() {
    // Two servers on one store: one where a release needs an admin, one where a client's
    // request is enough; both with a one-second auto-release window.
    let admin_app = TestApp::spawn_with(&[
        ("ESCROW_AUTO_RELEASE_AFTER", "1s"),
        ("ESCROW_RELEASE_NEEDS_ADMIN", "true"),
    ])
    .await;
    let request_app =
        TestApp::spawn_beside(&admin_app, &[("ESCROW_AUTO_RELEASE_AFTER", "1s")]).await;
    let app = &admin_app;
    let p = three_milestones(app).await;

    // Session one pays milestone 1 alone; session two every unfunded one (2 and 3).
    let first = pay(app, &p, json!({"milestoneId": 1})).await;
    let v = app.contract(&p).await;
    assert_eq!(states(&v), ["funded", "unfunded", "unfunded"], "{v}");
    assert_eq!(v["escrow"]["amount"], json!(1000));
    let second = pay(app, &p, json!({"title": "Shop", "rate": 3000})).await;
    assert_ne!(first, second);
    let v = app.contract(&p).await;
    assert_eq!(states(&v), ["funded", "funded", "funded"], "{v}");
    assert_eq!(v["escrow"]["amount"], json!(3000));
    assert_eq!(v["escrow"]["platformFee"], json!(300));
    // Paying a session again funds nothing twice; nothing is left to check out.
    let again = app
        .http
        .post(app.url(&format!("/sandbox/checkout/{first}/pay")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let (status, code) = error_code(app.checkout(&p, json!({})).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "escrow.already_funded")
    );

    assert_eq!(app.set_status(&p, "Started").await.status(), StatusCode::OK);
    // Bad milestone names: 400 for a non-number, 404 for one the contract lacks.
    let (status, code) =
        error_code(milestone_call(app, "PUT", submit_path(&p, "x"), &p.freelancer_token).await)
            .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "request.invalid_id")
    );
    let (status, code) =
        error_code(milestone_call(app, "PUT", submit_path(&p, "9"), &p.freelancer_token).await)
            .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "milestone.not_found")
    );
    // Only the contract's freelancer submits; a release is asked for once submitted.
    let (status, _) =
        error_code(milestone_call(app, "PUT", submit_path(&p, "1"), &p.client_token).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) =
        error_code(milestone_call(app, "PATCH", request_path(&p, "1"), &p.client_token).await)
            .await;
    assert_eq!(status, StatusCode::CONFLICT, "not submitted yet");

    // Milestone 1, the admin's path: submitted, requested (not enough here), released.
    let r = milestone_call(app, "PUT", submit_path(&p, "1"), &p.freelancer_token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = milestone_call(app, "PATCH", request_path(&p, "1"), &p.client_token).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(states(&app.contract(&p).await)[0], "release_requested");
    let (status, _) =
        error_code(milestone_call(app, "PUT", release_path(&p, "2"), &p.admin_token).await).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "milestone 2's release was not requested"
    );
    let r = milestone_call(app, "PUT", release_path(&p, "1"), &p.admin_token).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(900));
    let (status, _) =
        error_code(milestone_call(app, "PUT", release_path(&p, "1"), &p.admin_token).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "released once");

    // Milestone 2, the timer's path: submitted, the client stays silent for the window.
    let r = milestone_call(app, "PUT", submit_path(&p, "2"), &p.freelancer_token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = app.contract(&p).await;
    assert!(
        v["contract"]["milestones"][1]["autoReleaseAt"].is_string(),
        "{v}"
    );
    assert!(
        v["contract"]["milestones"][2]
            .get("autoReleaseAt")
            .is_none(),
        "{v}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    // Both servers run their timers: the release happens once.
    let ran = admin_app.state.service.run_due_timers().await.unwrap()
        + request_app.state.service.run_due_timers().await.unwrap();
    // Milestone 1's own timer (from its submission) finds it released and does nothing.
    assert_eq!(ran, 2);
    let v = app.contract(&p).await;
    assert_eq!(states(&v), ["released", "released", "funded"], "{v}");
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(2250));

    // Milestone 3, the client's request with auto-release on (the other server): enough.
    let r = milestone_call(
        &request_app,
        "PUT",
        submit_path(&p, "3"),
        &p.freelancer_token,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = milestone_call(
        &request_app,
        "PATCH",
        request_path(&p, "3"),
        &p.client_token,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = app.contract(&p).await;
    assert_eq!(states(&v), ["released", "released", "released"], "{v}");
    assert_eq!(v["escrow"]["status"], json!("released"));
    assert_eq!(v["contract"]["releaseFundStatus"], json!("Approved"));
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(2700));
    let history = v["escrow"]["history"].as_array().unwrap();
    let releases: Vec<&str> = history
        .iter()
        .filter(|h| h["action"] == json!("released"))
        .map(|h| h["actor"].as_str().unwrap())
        .collect();
    assert_eq!(releases.len(), 3, "{history:?}");
    assert!(releases[0].starts_with("admin:"), "{releases:?}");
    assert_eq!(
        &releases[1..],
        ["system:auto-release", "system:auto-release"]
    );
    // Every milestone's own escrow account, funded once and emptied once.
    let accounts: Vec<String> = v["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == json!("fund"))
        .map(|e| e["account"].as_str().unwrap().to_string())
        .filter(|a| a.starts_with("escrow:"))
        .collect();
    assert_eq!(
        accounts,
        [
            format!("escrow:{}", p.contract),
            format!("escrow:{}:2", p.contract),
            format!("escrow:{}:3", p.contract)
        ]
    );
    // Every timer left (milestone 3's own window) finds nothing to do.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    admin_app.state.service.run_due_timers().await.unwrap();
    request_app.state.service.run_due_timers().await.unwrap();
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(2700));
    let report = app.verify().await;
    assert!(report.ok(), "{:#?}", report.violations);
    request_app.stop().await;
    admin_app.stop().await;
}

#[tokio::test]
async fn a_cancel_refunds_the_held_milestones_and_leaves_the_released_one() {
    let app = TestApp::spawn().await;
    let p = three_milestones(&app).await;
    pay(&app, &p, json!({"milestoneId": "1"})).await;
    pay(&app, &p, json!({"milestoneId": 2})).await;
    assert_eq!(app.set_status(&p, "Started").await.status(), StatusCode::OK);
    for (method, path, token) in [
        ("PUT", submit_path(&p, "1"), &p.freelancer_token),
        ("PATCH", request_path(&p, "1"), &p.client_token),
        ("PUT", release_path(&p, "1"), &p.admin_token),
    ] {
        let r = milestone_call(&app, method, path.clone(), token).await;
        assert_eq!(r.status(), StatusCode::OK, "{method} {path}");
    }
    // The original's whole-contract refund: milestone 2 (held) goes back with the Started
    // kill fee (15 % of its earning to the freelancer); milestone 1 stays released; milestone
    // 3 was never paid.
    let r = app.refund(&p, &p.admin_token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = app.contract(&p).await;
    assert_eq!(states(&v), ["released", "refunded", "unfunded"], "{v}");
    assert_eq!(v["contract"]["status"], json!("Canceled"));
    assert_eq!(v["contract"]["releaseFundStatus"], json!("Approved"));
    // 900 released + 15 % of 1350.
    assert_eq!(
        app.wallet(&p, &p.freelancer).await["balance"],
        json!(1102.5)
    );
    let refund = &v["escrow"]["refund"];
    assert_eq!(refund["clientShare"], json!(1147.5), "{v}");
    // Nothing more moves: no second refund, no release.
    assert_eq!(
        app.refund(&p, &p.admin_token).await.status(),
        StatusCode::CONFLICT
    );
    let (status, _) =
        error_code(milestone_call(&app, "PUT", release_path(&p, "2"), &p.admin_token).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let report = app.verify().await;
    assert!(report.ok(), "{:#?}", report.violations);
    app.stop().await;
}

fn reject_path(p: &Parties, m: &str) -> String {
    format!("/api/client/contract/milestones/{}/{m}/reject", p.contract)
}

/// A client's reject stops a delivered milestone's clock: its timer finds it rejected and
/// releases nothing; the freelancer's next delivery starts a window of its own, and that one
/// releases it.
#[tokio::test]
async fn a_rejected_delivery_stops_the_clock_and_a_new_delivery_starts_another() {
    let app = TestApp::spawn_with(&[("ESCROW_AUTO_RELEASE_AFTER", "1s")]).await;
    let service = &app.state.service;
    let p = three_milestones(&app).await;
    pay(&app, &p, json!({})).await;
    assert_eq!(app.set_status(&p, "Started").await.status(), StatusCode::OK);
    let submit = || milestone_call(&app, "PUT", submit_path(&p, "2"), &p.freelancer_token);
    assert_eq!(submit().await.status(), StatusCode::OK);
    // Only its client rejects, only a delivered milestone whose release was not asked for.
    let (status, _) = error_code(
        app.send(
            "PUT",
            &reject_path(&p, "2"),
            Some(&p.freelancer_token),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, code) = error_code(
        app.send("PUT", &reject_path(&p, "1"), Some(&p.client_token), None)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "escrow.wrong_state")
    );
    let r = app
        .send(
            "PUT",
            &reject_path(&p, "2"),
            Some(&p.client_token),
            Some(json!({"reason": "the checkout page is broken"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = app.contract(&p).await;
    assert_eq!(states(&v), ["funded", "funded", "funded"], "{v}");
    assert!(
        v["contract"]["milestones"][1]
            .get("autoReleaseAt")
            .is_none(),
        "{v}"
    );
    // The first delivery's window passes: nothing is released.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    service.run_due_timers().await.unwrap();
    assert_eq!(states(&app.contract(&p).await)[1], "funded");
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(0));
    // Delivered again: a new window, and its end releases the milestone.
    assert_eq!(submit().await.status(), StatusCode::OK);
    let v = app.contract(&p).await;
    assert!(
        v["contract"]["milestones"][1]["autoReleaseAt"].is_string(),
        "{v}"
    );
    assert_eq!(service.run_due_timers().await.unwrap(), 0, "not due yet");
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(service.run_due_timers().await.unwrap(), 1);
    let v = app.contract(&p).await;
    assert_eq!(states(&v), ["funded", "released", "funded"], "{v}");
    let history: Vec<&str> = v["escrow"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert!(history.contains(&"rejected"), "{history:?}");
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(1350));
    // Rejected and delivered again before the first window ends: the first delivery's timer
    // falls due first and releases nothing; the second delivery's own window releases it.
    let m3 = || milestone_call(&app, "PUT", submit_path(&p, "3"), &p.freelancer_token);
    assert_eq!(m3().await.status(), StatusCode::OK);
    let r = app
        .send("PUT", &reject_path(&p, "3"), Some(&p.client_token), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(m3().await.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(550)).await;
    assert_eq!(
        service.run_due_timers().await.unwrap(),
        1,
        "the first delivery's timer"
    );
    assert_eq!(states(&app.contract(&p).await)[2], "submitted");
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(
        service.run_due_timers().await.unwrap(),
        1,
        "the second delivery's timer"
    );
    assert_eq!(states(&app.contract(&p).await)[2], "released");
    let report = app.verify().await;
    assert!(report.ok(), "{:#?}", report.violations);
    app.stop().await;
}

#[tokio::test]
async fn the_whole_contract_routes_act_on_every_held_milestone() {
    let app = TestApp::spawn().await;
    let p = three_milestones(&app).await;
    pay(&app, &p, json!({})).await;
    for s in ["Started", "Ongoing", "Completed"] {
        assert_eq!(
            app.set_status(&p, s).await.status(),
            StatusCode::OK,
            "to {s}"
        );
    }
    let v = app.contract(&p).await;
    assert_eq!(
        states(&v),
        ["submitted", "submitted", "submitted"],
        "completing submits"
    );
    assert_eq!(app.request_release(&p).await.status(), StatusCode::OK);
    assert_eq!(states(&app.contract(&p).await), ["release_requested"; 3]);
    assert_eq!(app.release(&p).await.status(), StatusCode::OK);
    let v = app.contract(&p).await;
    assert_eq!(states(&v), ["released"; 3], "{v}");
    assert_eq!(app.wallet(&p, &p.freelancer).await["balance"], json!(2700));
    assert_eq!(app.release(&p).await.status(), StatusCode::CONFLICT);
    let report = app.verify().await;
    assert!(report.ok(), "{:#?}", report.violations);
    app.stop().await;
}
