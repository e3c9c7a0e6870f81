//! Operator routes: health, readiness, metrics, the OpenAPI document.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.send("GET", "/healthz", None, None).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.send("GET", "/readyz", None, None).await.status(),
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_webhooks_and_money_moved() {
    let app = TestApp::spawn().await;
    let p = app.requested_contract().await;
    app.release(&p).await;
    app.post_webhook_with("{}", Some("t=1,v1=00")).await;
    let text = app
        .send("GET", "/metrics", None, None)
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("escrow_http_requests_total{method=\"PUT\",route=\"/api/admin/escrow/release-fund/{contractId}\",status=\"200\"} 1"), "{text}");
    assert!(text.contains("escrow_http_request_duration_seconds_bucket"));
    assert!(
        text.contains("escrow_webhook_events_total{outcome=\"applied\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("escrow_webhook_events_total{outcome=\"rejected_signature\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "escrow_money_moved_minor_units_total{kind=\"funded\",currency=\"inr\"} 100000"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "escrow_money_moved_minor_units_total{kind=\"released\",currency=\"inr\"} 100000"
        ),
        "{text}"
    );
    // Ids never become labels.
    assert!(!text.contains(&p.contract));
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .send("GET", "/openapi.json", None, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/client/contract/create-contract/{jobId}", "post"),
        (
            "/api/freelancer/contract/approve-contract/{contractId}",
            "post",
        ),
        ("/api/freelancer/contract/update-status/{contractId}", "put"),
        ("/api/contracts/{contractId}", "get"),
        ("/api/client/job/payment/{jobId}", "post"),
        ("/webhook", "post"),
        ("/api/client/contract/release-fund/{contractId}", "patch"),
        ("/api/client/release-fund/{contractId}", "patch"),
        ("/api/admin/escrow/release-fund/{contractId}", "put"),
        (
            "/api/admin/escrow/refund-client/{contractId}/{clientId}",
            "put",
        ),
        ("/api/admin/escrow/balance", "get"),
        ("/api/admin/escrow/total-revenue", "get"),
        ("/api/admin/escrow/transactions", "get"),
        ("/api/admin/escrow/sales-report", "get"),
        ("/api/freelancer/wallet", "get"),
        ("/api/admin/wallet/{userId}", "get"),
        ("/api/client/review/rate-freelancer/{clientId}", "post"),
        ("/api/client/review/show-reviews/{freelancerId}", "get"),
        ("/api/media/upload", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from the document"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    app.stop().await;
}

/// `GET show-reviews` of `freelancer` with `query`, as JSON.
async fn show_reviews(app: &TestApp, freelancer: &escrow::domain::UserId, query: &str) -> Value {
    app.send(
        "GET",
        &format!("/api/client/review/show-reviews/{freelancer}?{query}"),
        None,
        None,
    )
    .await
    .json()
    .await
    .unwrap()
}

#[tokio::test]
async fn reviews_are_paged_newest_first_with_the_average_over_all() {
    let app = TestApp::spawn().await;
    let first = app.parties();
    // Reviews need contracts of one freelancer: build them directly.
    let freelancer = first.freelancer.clone();
    let mut made = 0;
    for (i, rating) in [5, 4, 3].into_iter().enumerate() {
        let mut p = app.parties();
        p.freelancer = freelancer.clone();
        p.freelancer_token = first.freelancer_token.clone();
        let v: Value = app
            .create_contract(&p, json!(10))
            .await
            .json()
            .await
            .unwrap();
        p.contract = v["data"]["id"].as_str().unwrap().to_string();
        app.approve(&p).await;
        app.post_webhook(&app.payment_event(&format!("evt_rv{i}"), &p, 1000, &format!("pi_rv{i}")))
            .await;
        for s in ["Started", "Ongoing", "Completed"] {
            app.set_status(&p, s).await;
        }
        let r = app
            .send(
                "POST",
                &format!("/api/client/review/rate-freelancer/{}", p.client),
                Some(&p.client_token),
                Some(json!({"freelancerId": freelancer.as_str(), "contractId": p.contract, "rating": rating, "description": format!("review {i}")})),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        made += 1;
        // Each review shows at once, though the page was just rendered without it.
        let shown: Value = show_reviews(&app, &freelancer, "limit=2").await;
        assert_eq!(shown["count"], made);
        assert_eq!(shown["data"][0]["description"], format!("review {i}"));
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(made, 3);
    let page: Value = show_reviews(&app, &freelancer, "limit=2").await;
    assert_eq!(page["count"], 3);
    assert_eq!(page["averageRating"], 4.0);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["data"][0]["description"], "review 2");
    let second: Value = show_reviews(&app, &freelancer, "limit=2&page=2").await;
    assert_eq!(second["data"][0]["description"], "review 0");
    // The same second page by the first page's cursor, and nothing after it.
    let cursor = page["next"]
        .as_str()
        .expect("a full page has a next cursor");
    let after: Value = show_reviews(&app, &freelancer, &format!("limit=2&after={cursor}")).await;
    assert_eq!(after["data"], second["data"]);
    assert_eq!(after["next"], Value::Null);
    if app.state.service.store().backend() == "sqlite" {
        // A change made by another process on the same file shows at once too (no page is
        // served from a copy older than the store).
        let file = rusqlite::Connection::open(app.dir.path().join("escrow.db")).unwrap();
        let edited = file
            .execute(
                "UPDATE reviews SET description = 'edited elsewhere' WHERE description = 'review 2'",
                [],
            )
            .unwrap();
        assert_eq!(edited, 1);
        let page: Value = show_reviews(&app, &freelancer, "limit=2").await;
        assert_eq!(page["data"][0]["description"], "edited elsewhere");
        assert_eq!(page["count"], 3);
    }
    let (status, _) = crate::helpers::error_code(
        app.send(
            "GET",
            &format!("/api/client/review/show-reviews/{freelancer}?limit=0"),
            None,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

/// Every list follows its `next` cursor (`after`) to the end without a row twice or a row
/// missed, a cursor page carries no `count` and ignores `page`, and text that is not a cursor
/// is refused with `validation.paging`.
#[tokio::test]
async fn lists_follow_their_next_cursor_and_refuse_a_forged_one() {
    let app = TestApp::spawn().await;
    let mut funded = vec![];
    for _ in 0..5 {
        funded.push(app.funded_contract().await.contract);
    }
    let admin = app.parties().admin_token;
    let get = |path: String| {
        let admin = admin.clone();
        let app = &app;
        async move {
            let r = app.send("GET", &path, Some(&admin), None).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            r.json::<Value>().await.unwrap()
        }
    };
    let ids = |v: &Value, list: &str, id: &str| -> Vec<String> {
        v[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| match &row[id] {
                Value::Object(o) => o["_id"].as_str().unwrap().to_string(),
                other => other.as_str().unwrap().to_string(),
            })
            .collect()
    };
    for (path, list, id) in [
        ("/api/admin/escrow/transactions", "data", "contractId"),
        ("/api/client/contract/all-contracts", "data", "_id"),
    ] {
        let whole = get(format!("{path}?limit=1000")).await;
        assert_eq!(whole["count"], 5, "{path}: a numbered page is counted");
        assert_eq!(
            whole["next"],
            Value::Null,
            "{path}: nothing after a short page"
        );
        let want = ids(&whole, list, id);
        assert_eq!(want.len(), 5);
        let mut walked = vec![];
        let mut next = get(format!("{path}?limit=2")).await;
        walked.extend(ids(&next, list, id));
        let mut pages = 1;
        while let Some(cursor) = next["next"].as_str() {
            next = get(format!("{path}?limit=2&after={cursor}")).await;
            assert!(
                next.get("count").is_none(),
                "{path}: a cursor page is not counted: {next}"
            );
            walked.extend(ids(&next, list, id));
            pages += 1;
            assert!(pages < 10, "{path}: the cursor does not move");
        }
        assert_eq!(walked, want, "{path}: the pages add up to the list");
        assert_eq!(pages, 3, "{path}: 2 + 2 + 1");

        let cursor = get(format!("{path}?limit=2")).await["next"]
            .as_str()
            .unwrap()
            .to_string();
        let with_page = get(format!("{path}?limit=2&page=3&after={cursor}")).await;
        let without = get(format!("{path}?limit=2&after={cursor}")).await;
        assert_eq!(
            with_page, without,
            "{path}: `page` beside `after` is ignored"
        );
        for bad in [
            format!("{path}?after=not-a-cursor"),
            format!("{path}?after="),
            format!("{path}?after=12_6"),
        ] {
            let (status, code) =
                crate::helpers::error_code(app.send("GET", &bad, Some(&admin), None).await).await;
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, "validation.paging"),
                "{bad}"
            );
        }
        // A parameter the list does not take is refused, not silently ignored.
        for bad in [format!("{path}?limit=2&sort=asc"), format!("{path}?=null")] {
            let (status, code) =
                crate::helpers::error_code(app.send("GET", &bad, Some(&admin), None).await).await;
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::BAD_REQUEST, "request.bad_query"),
                "{bad}"
            );
        }
    }
    assert!(funded.iter().all(|c| !c.is_empty()));
    app.stop().await;
}
