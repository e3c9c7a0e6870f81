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

/// The body of an error answer: `error` a string a person can read (the original's clients
/// show it as is), `code` the stable machine code; nothing else.
fn error_shape(status: u16, body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("{status}: not JSON: {:?}", String::from_utf8_lossy(body)));
    let o = v.as_object().unwrap_or_else(|| panic!("{status}: {v}"));
    assert!(
        o["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{status}: {v}"
    );
    assert_eq!(o.len(), 2, "{status}: {v}");
    o["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{status}: {v}"))
        .to_string()
}

#[tokio::test]
async fn every_error_answer_is_a_message_and_a_code() {
    use std::io::{Read, Write};
    let app = TestApp::spawn_with(&[("ESCROW_REQUEST_TIMEOUT_S", "1")]).await;
    let p = app.funded_contract().await;
    let raw = |status: StatusCode, r: reqwest::Response| async move {
        assert_eq!(r.status(), status);
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("application/json"), "{ct}");
        error_shape(status.as_u16(), &r.bytes().await.unwrap())
    };
    let big = vec![b' '; 70 * 1024];
    let cases = vec![
        (
            StatusCode::NOT_FOUND,
            app.http.get(app.url("/nope")),
            "route.not_found",
        ),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            app.http.delete(app.url("/webhook")),
            "route.method_not_allowed",
        ),
        (
            StatusCode::UNAUTHORIZED,
            app.http.get(app.url("/api/admin/escrow/balance")),
            "auth.missing_token",
        ),
        (
            StatusCode::FORBIDDEN,
            app.http
                .get(app.url("/api/admin/escrow/balance"))
                .bearer_auth(&p.client_token),
            "auth.wrong_role",
        ),
        (
            StatusCode::BAD_REQUEST,
            app.http
                .put(app.url(&format!(
                    "/api/freelancer/contract/update-status/{}",
                    p.contract
                )))
                .bearer_auth(&p.freelancer_token)
                .header("content-type", "application/json")
                .body("{"),
            "request.malformed_json",
        ),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            app.http
                .put(app.url(&format!(
                    "/api/freelancer/contract/update-status/{}",
                    p.contract
                )))
                .bearer_auth(&p.freelancer_token)
                .json(&json!({"status": "Flying"})),
            "validation.status",
        ),
        (
            StatusCode::CONFLICT,
            app.http
                .put(app.url(&format!("/api/admin/escrow/release-fund/{}", p.contract)))
                .bearer_auth(&p.admin_token),
            "escrow.wrong_state",
        ),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            app.http
                .put(app.url(&format!(
                    "/api/freelancer/contract/update-status/{}",
                    p.contract
                )))
                .bearer_auth(&p.freelancer_token)
                .header("content-type", "application/json")
                .body(big),
            "request.too_large",
        ),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            app.http
                .post(app.url("/api/media/upload"))
                .bearer_auth(&p.client_token)
                .header("content-type", "text/plain")
                .body("hello"),
            "request.unsupported_media_type",
        ),
    ];
    for (status, request, code) in cases {
        let r = request.send().await.unwrap();
        assert_eq!(raw(status, r).await, code, "{status}");
    }

    // A body that stops arriving is cut off by the route's timeout: 408, in the same shape.
    let addr = app.base.trim_start_matches("http://").to_string();
    let token = p.freelancer_token.clone();
    let path = format!("/api/freelancer/contract/update-status/{}", p.contract);
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{{\"sta"
        )
        .unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    assert_eq!(
        error_shape(408, body.as_bytes()),
        "request.timeout",
        "{answer}"
    );

    // The document says so.
    let doc: serde_json::Value = app
        .send("GET", "/openapi.json", None, None)
        .await
        .json()
        .await
        .unwrap();
    let schema = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(schema["properties"]["error"]["type"], "string", "{schema}");
    assert_eq!(schema["properties"]["code"]["type"], "string", "{schema}");
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

/// serde reads a struct from an array of its fields, so `[]` once passed for an empty optional
/// body (the fuzz found it on the admin's cancel): a body that is not an object is 422 and
/// changes nothing.
#[tokio::test]
async fn a_body_that_is_an_array_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let p = app.approved_contract(json!(100)).await;
    for (method, path, token) in [
        (
            "PUT",
            format!("/api/admin/contract/cancel/{}", p.contract),
            &p.admin_token,
        ),
        (
            "DELETE",
            format!("/api/client/contract/cancel-contract/{}", p.contract),
            &p.client_token,
        ),
    ] {
        for body in ["[]", " [\"why\"]"] {
            let r = app
                .http
                .request(method.parse().unwrap(), app.url(&path))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(
                error_code(r).await,
                (StatusCode::UNPROCESSABLE_ENTITY, "validation.body".into()),
                "{method} {path} {body}"
            );
        }
    }
    assert_eq!(app.contract(&p).await["contract"]["status"], "Pending");
    app.stop().await;
}
