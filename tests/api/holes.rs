//! Every hole of ORIGIN.md §4 that belongs to these routes, closed; each test is named after
//! the hole it closes.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, WEBHOOK_SECRET, error_code};
use crate::support::money::minor;
use escrow::auth::Role;
use escrow::domain::UserId;

// 4.1 — the original could not verify signatures (its body was parsed before the check).
#[tokio::test]
async fn hole_4_1_webhook_signature_is_checked_over_the_raw_body() {
    let app = TestApp::spawn().await;
    let p = app.approved_contract(json!(1000)).await;
    let body = app.payment_event("evt_raw", &p, 100_000, "pi_raw");
    // Same JSON re-serialised with other whitespace: the signature over the raw bytes fails.
    let header = escrow::payment::webhook::sign(
        body.as_bytes(),
        WEBHOOK_SECRET,
        chrono::Utc::now().timestamp(),
    );
    let reformatted =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&body).unwrap()).unwrap();
    let (status, code) = error_code(app.post_webhook_with(&reformatted, Some(&header)).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "webhook.signature_invalid")
    );
    let (status, code) = error_code(app.post_webhook_with(&body, None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "webhook.signature_missing")
    );
    let old = escrow::payment::webhook::sign(
        body.as_bytes(),
        WEBHOOK_SECRET,
        chrono::Utc::now().timestamp() - 301,
    );
    let (status, code) = error_code(app.post_webhook_with(&body, Some(&old)).await).await;
    assert_eq!(
        (status, code.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "webhook.timestamp_out_of_tolerance"
        )
    );
    let wrong = escrow::payment::webhook::sign(
        body.as_bytes(),
        "whsec_other",
        chrono::Utc::now().timestamp(),
    );
    assert_eq!(
        app.post_webhook_with(&body, Some(&wrong)).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.contract(&p).await["contract"]["escrowPaid"],
        false,
        "nothing changed"
    );
    assert_eq!(
        app.post_webhook_with(&body, Some(&header)).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.contract(&p).await["contract"]["escrowPaid"], true);
    app.stop().await;
}

// 4.2 — every retry of the same event added another funded escrow.
#[tokio::test]
async fn hole_4_2_webhook_retries_fund_once() {
    let app = TestApp::spawn().await;
    let p = app.approved_contract(json!(1000)).await;
    let body = app.payment_event("evt_retry", &p, 100_000, "pi_retry");
    for _ in 0..3 {
        assert_eq!(app.post_webhook(&body).await.status(), StatusCode::OK);
    }
    // The same payment reported by another event (payment_intent.succeeded) funds nothing more.
    let pi_event = json!({"id": "evt_pi", "object": "event", "created": 1, "livemode": false, "pending_webhooks": 1, "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_retry", "object": "payment_intent", "amount": 100_000, "amount_received": 100_000, "currency": "inr", "metadata": {"contractId": p.contract}}}});
    assert_eq!(
        app.post_webhook(&pi_event.to_string()).await.status(),
        StatusCode::OK
    );
    let held: Value = app
        .send(
            "GET",
            "/api/admin/escrow/balance",
            Some(&p.admin_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(minor(&held["data"]), 100_000);
    let detail = app.contract(&p).await;
    assert_eq!(
        detail["ledger"].as_array().unwrap().len(),
        2,
        "one funding transfer of two lines"
    );
    assert!(app.verify().await.ok());
    app.stop().await;
}

// 4.2 — the webhook trusted metadata without cross-checking the contract's amount.
#[tokio::test]
async fn hole_4_2_a_payment_of_another_amount_does_not_fund_and_is_listed_as_failed() {
    let app = TestApp::spawn().await;
    let p = app.approved_contract(json!(1000)).await;
    let r = app
        .post_webhook(&app.payment_event("evt_cheap", &p, 100, "pi_cheap"))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "Stripe must stop retrying");
    assert_eq!(r.json::<Value>().await.unwrap()["outcome"], "failed");
    assert_eq!(app.contract(&p).await["contract"]["escrowPaid"], false);
    let failed = app.events(true).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].event_id.as_str(), "evt_cheap");
    app.stop().await;
}

// 4.2 / DESIGN §6 — a second payment for a funded contract is refunded in full, not added.
#[tokio::test]
async fn hole_4_2_a_second_payment_is_refunded_in_full_not_added_to_the_escrow() {
    let app = TestApp::spawn().await;
    let p = app.funded_contract().await;
    let r = app
        .post_webhook(&app.payment_event("evt_second", &p, 100_000, "pi_second"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let detail = app.contract(&p).await;
    assert_eq!(minor(&detail["escrow"]["amount"]), 100_000);
    let extra = &detail["escrow"]["extraPayments"][0];
    assert_eq!(extra["paymentRef"], "pi_second");
    assert!(
        extra["refundId"]
            .as_str()
            .unwrap()
            .starts_with("re_sandbox_")
    );
    let held: Value = app
        .send(
            "GET",
            "/api/admin/escrow/balance",
            Some(&p.admin_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(minor(&held["data"]), 100_000);
    assert!(app.verify().await.ok());
    app.stop().await;
}

// 4.3 — the client chose the price.
#[tokio::test]
async fn hole_4_3_the_client_cannot_choose_the_price() {
    let app = TestApp::spawn().await;
    let p = app.approved_contract(json!(1000)).await;
    for body in [
        json!({"title": "x", "rate": 1}),
        json!({"title": "x", "amount": "999.99"}),
    ] {
        let (status, code) = error_code(app.checkout(&p, body).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::CONFLICT, "amount_mismatch")
        );
    }
    // Without a rate the contract's amount is charged.
    assert_eq!(
        app.checkout(&p, json!({"title": "x"})).await.status(),
        StatusCode::OK
    );
    app.stop().await;
}

// 4.4 — concurrent admin clicks paid out twice.
#[tokio::test]
async fn hole_4_4_two_release_clicks_pay_out_once() {
    let app = TestApp::spawn().await;
    let p = app.requested_contract().await;
    let (a, b) = tokio::join!(app.release(&p), app.release(&p));
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    assert_eq!(
        minor(&app.wallet(&p, &p.freelancer).await["balance"]),
        90_000
    );
    app.stop().await;
}

// 4.5 — wallet credits were read-modify-write and lost under concurrency.
#[tokio::test]
async fn hole_4_5_concurrent_credits_to_one_wallet_are_all_kept() {
    let app = TestApp::spawn().await;
    let first = app.requested_contract().await;
    let mut contracts = vec![first.clone()];
    for _ in 0..5 {
        // Same freelancer, other contracts.
        let mut p = app.parties();
        p.freelancer = first.freelancer.clone();
        p.freelancer_token = first.freelancer_token.clone();
        p.admin_token = first.admin_token.clone();
        let v: Value = app
            .create_contract(&p, json!(1000))
            .await
            .json()
            .await
            .unwrap();
        p.contract = v["data"]["id"].as_str().unwrap().to_string();
        app.approve(&p).await;
        app.post_webhook(&app.payment_event(
            &format!("evt_{}", p.contract),
            &p,
            100_000,
            &format!("pi_{}", p.contract),
        ))
        .await;
        for s in ["Started", "Ongoing", "Completed"] {
            app.set_status(&p, s).await;
        }
        assert_eq!(app.request_release(&p).await.status(), StatusCode::OK);
        contracts.push(p);
    }
    let results = futures_util::future::join_all(contracts.iter().map(|p| app.release(p))).await;
    assert!(results.iter().all(|r| r.status() == StatusCode::OK));
    assert_eq!(
        minor(&app.wallet(&first, &first.freelancer).await["balance"]),
        6 * 90_000
    );
    app.stop().await;
}

// 4.6 — float money produced sub-paise noise (33.300000000000004).
#[tokio::test]
async fn hole_4_6_money_is_exact_integer_minor_units() {
    let app = TestApp::spawn().await;
    let mut p = app.parties();
    let v: Value = app
        .create_contract(&p, json!(333))
        .await
        .json()
        .await
        .unwrap();
    p.contract = v["data"]["id"].as_str().unwrap().to_string();
    app.approve(&p).await;
    app.post_webhook(&app.payment_event("evt_333", &p, 33_300, "pi_333"))
        .await;
    app.set_status(&p, "Started").await;
    app.set_status(&p, "Ongoing").await;
    let text = app.refund(&p, &p.admin_token).await.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let r = &v["data"]["refund"];
    // fee 3330; earning 29970; 40 % kill fee 11988; client 17982 — all integers, summing to 33300.
    assert_eq!(minor(&r["platformFee"]), 3_330);
    assert_eq!(minor(&r["freelancerShare"]), 11_988);
    assert_eq!(minor(&r["clientShare"]), 17_982);
    // On the wire, in rupees, each written exactly from those integers (never through a float).
    for exact in [
        r#""clientShare":179.82"#,
        r#""freelancerShare":119.88"#,
        r#""platformFee":33.3"#,
    ] {
        assert!(text.contains(exact), "{exact} in {text}");
    }
    let (status, _) = error_code(app.create_contract(&app.parties(), json!(33.333)).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

// 4.7 — refund-client compared the path's client id, not the caller: any client could refund.
#[tokio::test]
async fn hole_4_7_another_client_cannot_refund_a_contract() {
    let app = TestApp::spawn().await;
    let p = app.funded_contract().await;
    let intruder = UserId::generate();
    let token = app.token(Role::Client, &intruder);
    // With the victim's id in the path, and with their own.
    for path_client in [p.client.clone(), intruder.clone()] {
        let r = app
            .send(
                "PUT",
                &format!(
                    "/api/admin/escrow/refund-client/{}/{}",
                    p.contract, path_client
                ),
                Some(&token),
                Some(json!({})),
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(app.contract(&p).await["escrow"]["status"], "funded");
    app.stop().await;
}

// 4.7 — rate-freelancer trusted the path's client id and the body's freelancer id.
#[tokio::test]
async fn hole_4_7_reviews_are_only_by_that_client_for_that_freelancer() {
    let app = TestApp::spawn().await;
    let p = app.requested_contract().await;
    let other = UserId::generate();
    let other_token = app.token(Role::Client, &other);
    let body = json!({"freelancerId": p.freelancer.as_str(), "contractId": p.contract, "rating": 1, "description": "bad"});
    let r = app
        .send(
            "POST",
            &format!("/api/client/review/rate-freelancer/{}", p.client),
            Some(&other_token),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .send(
            "POST",
            &format!("/api/client/review/rate-freelancer/{other}"),
            Some(&other_token),
            Some(body),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let wrong_freelancer = json!({"freelancerId": UserId::generate().as_str(), "contractId": p.contract, "rating": 5, "description": "x"});
    let (status, _) = error_code(
        app.send(
            "POST",
            &format!("/api/client/review/rate-freelancer/{}", p.client),
            Some(&p.client_token),
            Some(wrong_freelancer),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let ok = json!({"freelancerId": p.freelancer.as_str(), "contractId": p.contract, "rating": 4, "description": "good"});
    let path = format!("/api/client/review/rate-freelancer/{}", p.client);
    assert_eq!(
        app.send("POST", &path, Some(&p.client_token), Some(ok.clone()))
            .await
            .status(),
        StatusCode::CREATED
    );
    let (status, code) = error_code(
        app.send("POST", &path, Some(&p.client_token), Some(ok))
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "review.exists")
    );
    app.stop().await;
}

// 4.7 — any client could request release of any contract, and flip Approved back to Requested.
#[tokio::test]
async fn hole_4_7_release_requests_are_the_clients_own_and_never_regress() {
    let app = TestApp::spawn().await;
    let p = app.requested_contract().await;
    let mut intruder = p.clone();
    intruder.client_token = app.token(Role::Client, &UserId::generate());
    assert_eq!(
        app.request_release(&intruder).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.request_release(&p).await.status(),
        StatusCode::OK,
        "asking again is a no-op"
    );
    assert_eq!(app.release(&p).await.status(), StatusCode::OK);
    let (status, _) = error_code(app.request_release(&p).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        app.contract(&p).await["contract"]["releaseFundStatus"],
        "Approved"
    );
    app.stop().await;
}

// 4.7 — any freelancer could move any contract; approve took the freelancer from the path.
#[tokio::test]
async fn hole_4_7_only_the_contracts_freelancer_approves_and_moves_it() {
    let app = TestApp::spawn().await;
    let mut p = app.parties();
    let v: Value = app
        .create_contract(&p, json!(10))
        .await
        .json()
        .await
        .unwrap();
    p.contract = v["data"]["id"].as_str().unwrap().to_string();
    let mut other = p.clone();
    other.freelancer_token = app.token(Role::Freelancer, &UserId::generate());
    assert_eq!(app.approve(&other).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.set_status(&other, "Canceled").await.status(),
        StatusCode::FORBIDDEN
    );
    let mut as_client = p.clone();
    as_client.freelancer_token = p.client_token.clone();
    assert_eq!(
        app.approve(&as_client).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.contract(&p).await["contract"]["isApproved"], false);
    app.stop().await;
}

// 4.7 — wallets of any user were readable.
#[tokio::test]
async fn hole_4_7_a_wallet_is_only_its_owners_or_an_admins() {
    let app = TestApp::spawn().await;
    let p = app.parties();
    let r = app
        .send(
            "GET",
            &format!("/api/admin/wallet/{}", p.freelancer),
            Some(&p.client_token),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app.send("GET", "/api/freelancer/wallet", None, None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

// 4.7 — the upload route had no authentication.
#[tokio::test]
async fn hole_4_7_uploads_need_a_signed_in_user() {
    let app = TestApp::spawn().await;
    let form = reqwest::multipart::Form::new().part(
        "media",
        reqwest::multipart::Part::bytes(b"GIF89a\x01\x00\x01\x00".to_vec()).file_name("a.gif"),
    );
    let r = app
        .http
        .post(app.url("/api/media/upload"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

// 4.8 — an admin could release before completion or without a request.
#[tokio::test]
async fn hole_4_8_no_release_before_completion_and_request() {
    let app = TestApp::spawn().await;
    let p = app.funded_contract().await;
    let (status, code) = error_code(app.release(&p).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "escrow.wrong_state")
    );
    let (status, _) = error_code(app.request_release(&p).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "the work is not completed");
    assert_eq!(app.contract(&p).await["escrow"]["status"], "funded");
    app.stop().await;
}

// 4.8 — a freelancer's cancel blocked the client's refund.
#[tokio::test]
async fn hole_4_8_a_freelancer_cancel_does_not_block_the_clients_refund() {
    let app = TestApp::spawn().await;
    let p = app.funded_contract().await;
    app.set_status(&p, "Started").await;
    assert_eq!(
        app.set_status(&p, "Canceled").await.status(),
        StatusCode::OK
    );
    let r = app.refund(&p, &p.client_token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    // The freelancer walked away: no kill fee; the fee is retained, the rest goes back.
    assert_eq!(minor(&v["data"]["refund"]["freelancerShare"]), 0);
    assert_eq!(minor(&v["data"]["refund"]["clientShare"]), 90_000);
    app.stop().await;
}

// 4.8 — the webhook's upsert created contract stubs for unknown contracts.
#[tokio::test]
async fn hole_4_8_a_payment_for_an_unknown_contract_creates_nothing() {
    let app = TestApp::spawn().await;
    let mut p = app.parties();
    p.contract = escrow::domain::ContractId::generate().to_string();
    let r = app
        .post_webhook(&app.payment_event("evt_ghost", &p, 100_000, "pi_ghost"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["outcome"], "failed");
    let r = app
        .send(
            "GET",
            &format!("/api/contracts/{}", p.contract),
            Some(&p.admin_token),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

// 4.8 — a second live contract could exist for one job.
#[tokio::test]
async fn hole_4_8_one_live_contract_per_job() {
    let app = TestApp::spawn().await;
    let p = app.parties();
    assert_eq!(
        app.create_contract(&p, json!(10)).await.status(),
        StatusCode::CREATED
    );
    let (status, code) = error_code(app.create_contract(&p, json!(10)).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "contract.exists_for_job")
    );
    app.stop().await;
}

// 4.9 — validation errors surfaced as 500s.
#[tokio::test]
async fn hole_4_9_bad_input_is_a_4xx_never_a_500() {
    let app = TestApp::spawn().await;
    let p = app.requested_contract().await;
    let path = format!("/api/client/review/rate-freelancer/{}", p.client);
    for rating in [json!(4.5), json!(0), json!(6), json!("5")] {
        let body = json!({"freelancerId": p.freelancer.as_str(), "contractId": p.contract, "rating": rating, "description": "x"});
        let (status, code) = error_code(
            app.send("POST", &path, Some(&p.client_token), Some(body))
                .await,
        )
        .await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation.rating"),
            "rating {rating}"
        );
    }
    let (status, code) = error_code(
        app.send(
            "GET",
            "/api/contracts/not-an-id",
            Some(&p.admin_token),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "request.invalid_id")
    );
    app.stop().await;
}
