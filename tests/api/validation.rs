//! Bad input gets a clear 4xx with a stable code and changes nothing.

use escrow::auth::Role;
use escrow::domain::UserId;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{JWT_SECRET, TestApp, error_code};

#[tokio::test]
async fn malformed_and_wrong_bodies_are_400_and_422() {
    let app = TestApp::spawn().await;
    let p = app.parties();
    let path = format!("/api/client/contract/create-contract/{}", p.job);
    let raw = |body: &'static str| {
        app.http
            .post(app.url(&path))
            .bearer_auth(&p.client_token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(
        error_code(raw("{not json").await.unwrap()).await,
        (StatusCode::BAD_REQUEST, "request.malformed_json".into())
    );
    let unknown = format!(
        "{{\"freelancerId\":\"{}\",\"amount\":5,\"extra\":1}}",
        p.freelancer
    );
    let r = app
        .http
        .post(app.url(&path))
        .bearer_auth(&p.client_token)
        .header("content-type", "application/json")
        .body(unknown)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(r).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.body".into())
    );
    for amount in [
        json!(-5),
        json!(0),
        json!(199.999),
        json!("NaN"),
        json!(1e13),
        json!(null),
        json!("1,000"),
    ] {
        let (status, code) = error_code(app.create_contract(&p, amount.clone()).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation.amount"),
            "amount {amount}"
        );
    }
    let r = app
        .http
        .post(app.url(&path))
        .bearer_auth(&p.client_token)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = format!(
        "{{\"freelancerId\":\"{}\",\"amount\":5,\"title\":\"{}\"}}",
        p.freelancer,
        "x".repeat(100_000)
    );
    let r = app
        .http
        .post(app.url(&path))
        .bearer_auth(&p.client_token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (status, code) = error_code(
        app.send(
            "POST",
            "/api/client/contract/create-contract/xyz",
            Some(&p.client_token),
            Some(json!({"freelancerId": p.freelancer.as_str(), "amount": 5})),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "request.invalid_id")
    );
    let (status, _) = error_code(
        app.create_contract(
            &{
                let mut q = p.clone();
                q.freelancer = q.client.clone();
                q
            },
            json!(5),
        )
        .await,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a client cannot hire themselves"
    );
    // Nothing was created by any of these.
    assert_eq!(
        app.state.service.store().count_contracts().await.unwrap(),
        0
    );
    app.stop().await;
}

#[tokio::test]
async fn tokens_are_checked_for_algorithm_expiry_secret_and_role() {
    let app = TestApp::spawn().await;
    let id = UserId::generate();
    let now = chrono::Utc::now().timestamp() as u64;
    let sign = |claims: serde_json::Value, alg: jsonwebtoken::Algorithm, secret: &[u8]| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(alg),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret),
        )
        .unwrap()
    };
    let good = json!({"id": id.as_str(), "role": "admin", "exp": now + 100});
    let cases = [
        (
            "expired",
            sign(
                json!({"id": id.as_str(), "role": "admin", "exp": now - 10}),
                jsonwebtoken::Algorithm::HS256,
                JWT_SECRET.as_bytes(),
            ),
        ),
        (
            "no exp",
            sign(
                json!({"id": id.as_str(), "role": "admin"}),
                jsonwebtoken::Algorithm::HS256,
                JWT_SECRET.as_bytes(),
            ),
        ),
        (
            "wrong secret",
            sign(good.clone(), jsonwebtoken::Algorithm::HS256, b"other"),
        ),
        (
            "HS512",
            sign(
                good.clone(),
                jsonwebtoken::Algorithm::HS512,
                JWT_SECRET.as_bytes(),
            ),
        ),
        ("garbage", "abc.def.ghi".to_string()),
    ];
    for (name, token) in cases {
        let (status, code) = error_code(
            app.send("GET", "/api/admin/escrow/balance", Some(&token), None)
                .await,
        )
        .await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNAUTHORIZED, "auth.invalid_token"),
            "{name}"
        );
    }
    let (status, code) = error_code(
        app.send("GET", "/api/admin/escrow/balance", None, None)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "auth.missing_token")
    );
    let client = app.token(Role::Client, &id);
    for path in [
        "/api/admin/escrow/balance",
        "/api/admin/escrow/total-revenue",
        "/api/admin/escrow/transactions",
        "/api/admin/escrow/sales-report",
    ] {
        let (status, code) = error_code(app.send("GET", path, Some(&client), None).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::FORBIDDEN, "auth.wrong_role"),
            "{path}"
        );
    }
    let ok = sign(good, jsonwebtoken::Algorithm::HS256, JWT_SECRET.as_bytes());
    assert_eq!(
        app.send("GET", "/api/admin/escrow/balance", Some(&ok), None)
            .await
            .status(),
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_format() {
    let app = TestApp::spawn().await;
    assert_eq!(
        error_code(app.send("GET", "/nope", None, None).await).await,
        (StatusCode::NOT_FOUND, "route.not_found".into())
    );
    assert_eq!(
        error_code(app.send("DELETE", "/webhook", None, None).await).await,
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "route.method_not_allowed".into()
        )
    );
    app.stop().await;
}

#[tokio::test]
async fn illegal_status_moves_are_409_and_change_nothing() {
    let app = TestApp::spawn().await;
    let p = app.approved_contract(json!(10)).await;
    let (status, code) = error_code(app.set_status(&p, "Completed").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "contract.invalid_transition")
    );
    let (status, _) = error_code(app.set_status(&p, "Started").await).await;
    assert_eq!(status, StatusCode::CONFLICT, "not funded yet");
    let (status, code) = error_code(app.set_status(&p, "Cancelled").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.status")
    );
    assert_eq!(app.contract(&p).await["contract"]["status"], "Pending");
    let (status, code) = error_code(app.checkout(&app.parties(), json!({})).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "contract.not_found")
    );
    app.stop().await;
}
