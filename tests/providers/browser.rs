//! The sandbox checkout in a real browser: headless Chromium (Debian's), driven by
//! playwright-core, opens the page a real checkout call returned, presses Pay, and lands on the
//! front end's success page (a tiny local server standing in for the marketplace front end);
//! the escrow is then funded. Screenshots of both pages are saved in the test output directory.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::RawQuery;
use axum::response::Html;
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::support::money::minor;
use crate::tools;

/// The front end: serves the success and cancel pages and records the success page's query.
async fn front_end() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = Router::new()
        .route(
            "/client/contract/payment-success",
            get(move |RawQuery(q): RawQuery| {
                let record = record.clone();
                async move {
                    record.lock().unwrap().push(q.unwrap_or_default());
                    Html(
                        "<!doctype html><html><head><title>Paid</title></head><body>\
                         <h1 id=\"ok\">Payment successful</h1><p>Your escrow is funded.</p>\
                         </body></html>",
                    )
                }
            }),
        )
        .route(
            "/client/jobs/home",
            get(|| async { Html("<h1>Checkout cancelled</h1>") }),
        )
        .route(
            "/freelancer/payouts",
            get(|| async {
                Html(
                    "<!doctype html><html><head><title>Payouts</title></head><body>\
                     <h1 id=\"ok\">Onboarding done</h1></body></html>",
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), seen)
}

// Multi-threaded: the browser step blocks one thread while the server answers on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_on_the_sandbox_page_in_chromium_funds_the_escrow_and_lands_on_the_success_page() {
    if tools::node_packages().is_err() {
        return;
    }
    let Ok(chromium) = tools::chromium() else {
        return;
    };
    let (front, seen) = front_end().await;
    let app = TestApp::spawn_with(&[("CLIENT_URL", &front)]).await;
    let p = app.approved_contract(json!("1500.50")).await;
    let r = app
        .checkout(&p, json!({"title": "Logo design", "rate": "1500.50"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let session: Value = r.json().await.unwrap();
    let (id, url) = (
        session["id"].as_str().unwrap().to_string(),
        session["url"].as_str().unwrap().to_string(),
    );
    assert!(url.starts_with(&app.base), "{url}");

    let out = tools::output_dir("sandbox-browser");
    let success = format!("{front}/client/contract/payment-success");
    let input = json!({"url": url, "successPrefix": success, "outDir": out});
    // The script launches the same binary (it reads CHROMIUM too).
    eprintln!("browser: {}", chromium.display());
    let result = tokio::task::spawn_blocking(move || tools::node("checkout-browser.js", &input))
        .await
        .unwrap();
    eprintln!("screenshots: {}", out.display());

    assert_eq!(result["title"], "Logo design");
    assert_eq!(result["amount"], "1500.50 INR");
    let landed = result["landed"].as_str().unwrap();
    assert_eq!(landed, format!("{success}?session_id={id}"));
    assert!(
        result["successText"]
            .as_str()
            .unwrap()
            .contains("Payment successful"),
        "{result}"
    );
    assert_eq!(*seen.lock().unwrap(), vec![format!("session_id={id}")]);
    for shot in result["screenshots"].as_array().unwrap() {
        let meta = std::fs::metadata(shot.as_str().unwrap()).expect("screenshot saved");
        assert!(meta.len() > 1000, "{shot} is too small to be a picture");
    }

    let detail = app.contract(&p).await;
    assert_eq!(detail["contract"]["escrowPaid"], true);
    assert_eq!(detail["escrow"]["status"], "funded");
    assert_eq!(minor(&detail["escrow"]["amount"]), 150_050);
    assert_eq!(detail["escrow"]["checkoutSessionId"], id.as_str());
    assert!(app.verify().await.ok());
    app.stop().await;
}

/// Money out on the sandbox, clicked through: the onboarding link a real onboarding call
/// returned, its "Complete onboarding" button, the front end's return page; the account then
/// takes payouts and the freelancer withdraws.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completing_sandbox_onboarding_in_chromium_enables_payouts() {
    if tools::node_packages().is_err() {
        return;
    }
    let Ok(chromium) = tools::chromium() else {
        return;
    };
    let (front, _) = front_end().await;
    let app = TestApp::spawn_with(&[("CLIENT_URL", &front)]).await;
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
    let (account, url) = (
        v["accountId"].as_str().unwrap().to_string(),
        v["url"].as_str().unwrap().to_string(),
    );
    let out = tools::output_dir("sandbox-onboarding-browser");
    let back = format!("{front}/freelancer/payouts");
    let input = json!({"url": url, "returnPrefix": back, "outDir": out});
    eprintln!("browser: {}", chromium.display());
    let result = tokio::task::spawn_blocking(move || tools::node("onboarding-browser.js", &input))
        .await
        .unwrap();
    assert_eq!(result["account"], json!(account), "{result}");
    assert_eq!(
        result["landed"],
        json!(format!("{back}?onboarding=return")),
        "{result}"
    );
    assert!(
        result["returnText"]
            .as_str()
            .unwrap()
            .contains("Onboarding done")
    );
    for shot in result["screenshots"].as_array().unwrap() {
        let meta = std::fs::metadata(shot.as_str().unwrap()).expect("screenshot saved");
        assert!(meta.len() > 1000, "{shot} is too small to be a picture");
    }
    let state: Value = app
        .send(
            "GET",
            "/api/freelancer/payouts/account",
            Some(&p.freelancer_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(state["payoutsEnabled"], json!(true), "{state}");
    let r = app
        .send(
            "POST",
            "/api/freelancer/payouts",
            Some(&p.freelancer_token),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], json!("paid"));
    assert!(app.verify().await.ok());
    app.stop().await;
}

/// A page on its own origin (a local port) that the browser test calls the API from.
async fn page_on_own_origin() -> String {
    let app = Router::new().route(
        "/",
        get(|| async { Html("<!doctype html><html><body><h1>front end</h1></body></html>") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_an_allowed_origin_calls_the_api_with_credentials_and_another_is_blocked() {
    if tools::node_packages().is_err() {
        return;
    }
    if tools::chromium().is_err() {
        return;
    }
    let (allowed, other) = (page_on_own_origin().await, page_on_own_origin().await);
    let app = TestApp::spawn_with(&[("ESCROW_CORS_ORIGINS", &allowed)]).await;
    let p = app.parties();
    let input = json!({
        "pages": [{"name": "allowed", "url": format!("{allowed}/")}, {"name": "other", "url": format!("{other}/")}],
        "api": app.base,
        "adminToken": p.admin_token,
        "clientToken": p.client_token,
        "jobId": p.job.as_str(),
        "freelancerId": p.freelancer.as_str(),
    });
    let result = tokio::task::spawn_blocking(move || tools::node("cors-browser.js", &input))
        .await
        .unwrap();
    let ok = &result["allowed"];
    assert_eq!(ok["balance"]["status"], 200, "{result}");
    assert_eq!(ok["created"]["status"], 201, "{result}");
    assert_eq!(ok["created"]["header"], Value::Null, "{result}");
    assert_eq!(ok["replayed"]["status"], 201, "{result}");
    assert_eq!(
        ok["replayed"]["header"], "true",
        "Idempotent-Replayed is readable: {result}"
    );
    // An error answer is readable too, so the page can show it.
    assert_eq!(ok["missing"]["status"], 404, "{result}");
    assert_eq!(ok["missing"]["body"]["code"], "route.not_found", "{result}");
    // The other origin's page gets nothing: the browser refuses every answer.
    for call in ["balance", "created", "replayed", "missing"] {
        let refused = &result["other"][call];
        assert!(
            refused["error"]
                .as_str()
                .is_some_and(|e| e.contains("Failed to fetch")),
            "{call}: {result}"
        );
    }
    // Only the allowed page's contract exists (the other's preflight stopped its POST).
    assert_eq!(
        app.state.service.store().count_contracts().await.unwrap(),
        1
    );
    app.stop().await;
}
