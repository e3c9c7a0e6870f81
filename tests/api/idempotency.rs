//! `Idempotency-Key` (Stripe's semantics): a retry gets the first response replayed and moves
//! no money twice; the same key with another request is refused (422); a duplicate while the
//! first is running is refused (409); keys are per caller, at most 255 characters, and a
//! crashed request's key is taken over after its lease.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::Method;
use escrow::auth::Role;
use escrow::domain::{IdempotencyKey, UserId};
use escrow::http::idempotency::{body_fingerprint, user_scope};
use escrow::store::{Begin, Claim, Holder};
use reqwest::multipart::{Form, Part};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};

use crate::helpers::{TestApp, error_code};
use crate::support::money::minor;

const REPLAYED: &str = "idempotent-replayed";

/// Sends a request with an `Idempotency-Key`; the body is sent exactly as `serde_json` writes
/// it (the same bytes on every try).
async fn keyed(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    key: &str,
) -> Response {
    let mut r = app
        .http
        .request(method.parse().unwrap(), app.url(path))
        .header("idempotency-key", key);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r
            .header("content-type", "application/json")
            .body(serde_json::to_vec(b).unwrap());
    }
    r.send().await.expect("request")
}

/// Sends `send()` again while it is answered 409 (the key still held), for up to 10 s; the
/// first other answer.
async fn while_in_flight<F, Fut>(send: F) -> (StatusCode, bool, Vec<u8>)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = parts(send().await).await;
        if got.0 != StatusCode::CONFLICT || tokio::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Status, whether it was a replay, and the body's bytes.
async fn parts(r: Response) -> (StatusCode, bool, Vec<u8>) {
    let replayed = match r.headers().get(REPLAYED) {
        None => false,
        Some(v) => {
            assert_eq!(v, "true");
            true
        }
    };
    (r.status(), replayed, r.bytes().await.unwrap().to_vec())
}

fn create_path(app_job: &impl std::fmt::Display) -> String {
    format!("/api/client/contract/create-contract/{app_job}")
}

fn create_body(freelancer: &UserId, amount: Value) -> Value {
    json!({"freelancerId": freelancer.as_str(), "amount": amount, "title": "Logo design"})
}

#[tokio::test]
async fn a_retried_contract_creation_replays_the_first_response_and_creates_one_contract() {
    let app = TestApp::spawn().await;
    let p = app.parties();
    let (path, body) = (create_path(&p.job), create_body(&p.freelancer, json!(1000)));
    let send = || {
        keyed(
            &app,
            "POST",
            &path,
            Some(&p.client_token),
            Some(&body),
            "create-1",
        )
    };

    let (status, replayed, first) = parts(send().await).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(!replayed, "the first response is not a replay");
    for _ in 0..3 {
        let (status, replayed, again) = parts(send().await).await;
        assert_eq!(status, StatusCode::CREATED);
        assert!(replayed);
        assert_eq!(again, first, "replayed byte for byte");
    }
    assert_eq!(
        app.state.service.store().count_contracts().await.unwrap(),
        1
    );
    // Executing it again (no key) is refused: the replays above were not executions.
    let r = app
        .send("POST", &path, Some(&p.client_token), Some(body.clone()))
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    app.stop().await;
}

#[tokio::test]
async fn a_retried_release_replays_and_pays_the_freelancer_once() {
    let app = TestApp::spawn().await;
    let p = app.requested_contract().await;
    let path = format!("/api/admin/escrow/release-fund/{}", p.contract);
    let send = || keyed(&app, "PUT", &path, Some(&p.admin_token), None, "release-1");

    let (status, replayed, first) = parts(send().await).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&first)
    );
    assert!(!replayed);
    let wallet = app.wallet(&p, &p.freelancer).await;
    assert_eq!(minor(&wallet["balance"]), 90_000, "the earning, once");
    let entries = app.contract(&p).await["ledger"].as_array().unwrap().len();

    let (status, replayed, again) = parts(send().await).await;
    assert_eq!((status, replayed), (StatusCode::OK, true));
    assert_eq!(again, first);
    assert_eq!(app.wallet(&p, &p.freelancer).await, wallet);
    assert_eq!(
        app.contract(&p).await["ledger"].as_array().unwrap().len(),
        entries
    );
    assert_eq!(
        error_code(app.release(&p).await).await.0,
        StatusCode::CONFLICT,
        "releasing again is refused: the replay did not execute"
    );
    let report = app.verify().await;
    assert!(report.ok(), "{:?}", report.violations);
    app.stop().await;
}

#[tokio::test]
async fn a_retried_refund_replays_and_refunds_once() {
    let app = TestApp::spawn().await;
    let p = app.funded_contract().await;
    let path = format!(
        "/api/admin/escrow/refund-client/{}/{}",
        p.contract, p.client
    );
    let body =
        json!({"cancelReason": "Freelancer not responding", "cancelReasonDescription": "no reply"});
    let send = || {
        keyed(
            &app,
            "PUT",
            &path,
            Some(&p.client_token),
            Some(&body),
            "refund-1",
        )
    };

    let (status, replayed, first) = parts(send().await).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&first)
    );
    assert!(!replayed);
    let after_first = app.contract(&p).await;
    let entries = app.state.service.store().count_entries().await.unwrap();

    for _ in 0..2 {
        let (status, replayed, again) = parts(send().await).await;
        assert_eq!((status, replayed), (StatusCode::OK, true));
        assert_eq!(again, first);
    }
    let after = app.contract(&p).await;
    assert_eq!(
        after["ledger"], after_first["ledger"],
        "no second refund entry"
    );
    assert_eq!(after["escrow"]["history"], after_first["escrow"]["history"]);
    assert_eq!(
        app.state.service.store().count_entries().await.unwrap(),
        entries
    );
    assert_eq!(
        app.refund(&p, &p.client_token).await.status(),
        StatusCode::CONFLICT,
        "refunding again is refused: the replays did not execute"
    );
    let report = app.verify().await;
    assert!(report.ok(), "{:?}", report.violations);
    app.stop().await;
}

#[tokio::test]
async fn the_same_key_with_a_different_request_is_refused_with_422_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let p = app.parties();
    let path = create_path(&p.job);
    let first = keyed(
        &app,
        "POST",
        &path,
        Some(&p.client_token),
        Some(&create_body(&p.freelancer, json!(1000))),
        "k",
    )
    .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let created: Value = first.json().await.unwrap();

    // Another body, another path, another method: each is a different request.
    let other_body = keyed(
        &app,
        "POST",
        &path,
        Some(&p.client_token),
        Some(&create_body(&p.freelancer, json!(2000))),
        "k",
    )
    .await;
    assert_eq!(
        error_code(other_body).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency.mismatch".into()
        )
    );
    let other_job = escrow::domain::JobId::generate();
    let other_path = keyed(
        &app,
        "POST",
        &create_path(&other_job),
        Some(&p.client_token),
        Some(&create_body(&p.freelancer, json!(1000))),
        "k",
    )
    .await;
    assert_eq!(
        error_code(other_path).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency.mismatch".into()
        )
    );
    let other_method = keyed(
        &app,
        "PATCH",
        &format!(
            "/api/client/contract/release-fund/{}",
            created["data"]["id"].as_str().unwrap()
        ),
        Some(&p.client_token),
        None,
        "k",
    )
    .await;
    assert_eq!(
        error_code(other_method).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency.mismatch".into()
        )
    );

    assert_eq!(
        app.state.service.store().count_contracts().await.unwrap(),
        1
    );
    let r = app
        .send(
            "GET",
            &format!("/api/contracts/{}", created["data"]["id"].as_str().unwrap()),
            Some(&p.client_token),
            None,
        )
        .await;
    let detail: Value = r.json().await.unwrap();
    assert_eq!(
        detail["contract"], created["data"],
        "the contract is as created"
    );
    app.stop().await;
}

#[tokio::test]
async fn keys_of_255_visible_characters_are_accepted_and_others_refused_with_400() {
    let app = TestApp::spawn().await;
    let p = app.parties();
    let (path, body) = (create_path(&p.job), create_body(&p.freelancer, json!(1000)));
    for bad in [
        "a".repeat(256),
        "has space".into(),
        "tab\tinside".into(),
        "é".into(),
    ] {
        let r = app
            .http
            .post(app.url(&path))
            .bearer_auth(&p.client_token)
            .header(
                "idempotency-key",
                reqwest::header::HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(r).await,
            (StatusCode::BAD_REQUEST, "idempotency.invalid_key".into()),
            "{bad:?}"
        );
    }
    // An empty value, and two values.
    let empty = app
        .http
        .post(app.url(&path))
        .bearer_auth(&p.client_token)
        .header("idempotency-key", "")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(empty).await.1, "idempotency.invalid_key");
    let two = app
        .http
        .post(app.url(&path))
        .bearer_auth(&p.client_token)
        .header("idempotency-key", "one")
        .header("idempotency-key", "two")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(two).await.1, "idempotency.invalid_key");
    assert_eq!(
        app.state.service.store().count_contracts().await.unwrap(),
        0,
        "a refused key executes nothing"
    );

    let longest: String = (0..255).map(|i| (b'!' + (i % 94) as u8) as char).collect();
    let send = || {
        keyed(
            &app,
            "POST",
            &path,
            Some(&p.client_token),
            Some(&body),
            &longest,
        )
    };
    let (status, replayed, first) = parts(send().await).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, false));
    assert_eq!(
        parts(send().await).await,
        (StatusCode::CREATED, true, first)
    );
    app.stop().await;
}

#[tokio::test]
async fn keys_belong_to_their_caller() {
    let app = TestApp::spawn().await;
    let a = app.parties();
    let (path, body) = (create_path(&a.job), create_body(&a.freelancer, json!(1000)));
    let first = keyed(
        &app,
        "POST",
        &path,
        Some(&a.client_token),
        Some(&body),
        "shared",
    )
    .await;
    assert_eq!(first.status(), StatusCode::CREATED);

    // Another client sends the very same request with the very same key: it is executed as
    // theirs (and refused: the job has a contract), never answered with the first client's.
    let b = app.token(Role::Client, &UserId::generate());
    let (status, replayed, _) =
        parts(keyed(&app, "POST", &path, Some(&b), Some(&body), "shared").await).await;
    assert_eq!((status, replayed), (StatusCode::CONFLICT, false));

    // And with their own request under the same key: executed, their own contract.
    let c = app.parties();
    let r = keyed(
        &app,
        "POST",
        &create_path(&c.job),
        Some(&c.client_token),
        Some(&create_body(&c.freelancer, json!(1000))),
        "shared",
    )
    .await;
    assert!(r.headers().get(REPLAYED).is_none());
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"]["clientId"], c.client.as_str());
    assert_eq!(
        app.state.service.store().count_contracts().await.unwrap(),
        2
    );
    app.stop().await;
}

#[tokio::test]
async fn a_request_refused_before_it_ran_is_not_kept_so_the_corrected_retry_runs() {
    let app = TestApp::spawn().await;
    let p = app.parties();
    let path = create_path(&p.job);
    let bad = keyed(
        &app,
        "POST",
        &path,
        Some(&p.client_token),
        Some(&create_body(&p.freelancer, json!("12.345"))),
        "fix-me",
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad_token = keyed(
        &app,
        "POST",
        &path,
        Some("not-a-token"),
        Some(&create_body(&p.freelancer, json!(1000))),
        "fix-me",
    )
    .await;
    assert_eq!(bad_token.status(), StatusCode::UNAUTHORIZED);
    let no_token = keyed(
        &app,
        "POST",
        &path,
        None,
        Some(&create_body(&p.freelancer, json!(1000))),
        "fix-me",
    )
    .await;
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);

    let (status, replayed, _) = parts(
        keyed(
            &app,
            "POST",
            &path,
            Some(&p.client_token),
            Some(&create_body(&p.freelancer, json!(1000))),
            "fix-me",
        )
        .await,
    )
    .await;
    assert_eq!((status, replayed), (StatusCode::CREATED, false));
    app.stop().await;
}

#[tokio::test]
async fn a_key_held_by_a_running_request_gets_409_and_a_crashed_one_is_taken_over_after_its_lease()
{
    let app = TestApp::spawn().await;
    let store = app.state.service.store().clone();
    let p = app.parties();
    let (path, body) = (create_path(&p.job), create_body(&p.freelancer, json!(1000)));
    let fingerprint = body_fingerprint(&Method::POST, &path, &serde_json::to_vec(&body).unwrap());
    let scope = user_scope(&p.client);
    let lease = app.state.idempotency_lease.as_millis() as i64;
    let now = app.state.service.now_ms();

    // A request on another server holds "running" right now; one that died left "crashed"
    // behind with its lease just run out.
    for (key, at) in [("running", now), ("crashed", now - lease - 1)] {
        let begun = store
            .idempotency_begin(&Claim {
                holder: &Holder {
                    scope: scope.clone(),
                    key: IdempotencyKey::parse(key).unwrap(),
                    owner: "elsewhere".into(),
                },
                fingerprint: &fingerprint,
                now_ms: at,
                lease_ms: lease,
            })
            .await
            .unwrap();
        assert_eq!(begun, Begin::Started);
    }
    let r = keyed(
        &app,
        "POST",
        &path,
        Some(&p.client_token),
        Some(&body),
        "running",
    )
    .await;
    assert_eq!(
        error_code(r).await,
        (StatusCode::CONFLICT, "idempotency.in_flight".into())
    );
    assert_eq!(store.count_contracts().await.unwrap(), 0);

    let (status, replayed, first) = parts(
        keyed(
            &app,
            "POST",
            &path,
            Some(&p.client_token),
            Some(&body),
            "crashed",
        )
        .await,
    )
    .await;
    assert_eq!((status, replayed), (StatusCode::CREATED, false));
    let again = keyed(
        &app,
        "POST",
        &path,
        Some(&p.client_token),
        Some(&body),
        "crashed",
    )
    .await;
    assert_eq!(parts(again).await, (StatusCode::CREATED, true, first));
    assert_eq!(store.count_contracts().await.unwrap(), 1);
    app.stop().await;
}

#[tokio::test]
async fn get_requests_and_the_stripe_webhook_ignore_the_key() {
    let app = TestApp::spawn().await;
    let p = app.approved_contract(json!(1000)).await;
    let long = "k".repeat(300);
    let r = app
        .http
        .get(app.url(&format!("/api/contracts/{}", p.contract)))
        .bearer_auth(&p.admin_token)
        .header("idempotency-key", &long)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let event = app.payment_event("evt_keyed", &p, 100_000, "pi_keyed");
    let signature = escrow::payment::webhook::sign(
        event.as_bytes(),
        crate::helpers::WEBHOOK_SECRET,
        chrono::Utc::now().timestamp(),
    );
    let r = app
        .http
        .post(app.url("/webhook"))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .header("idempotency-key", &long)
        .body(event)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get(REPLAYED).is_none());
    assert_eq!(app.contract(&p).await["escrow"]["status"], "funded");
    app.stop().await;
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0aIDATx\x9cc\x00\x01\x00\x00\x05\x00\x01\x0d\x0a\x2d\xb4\x00\x00\x00\x00IEND\xaeB`\x82";
const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

#[tokio::test]
async fn a_retried_upload_is_replayed_although_the_client_picked_a_new_boundary() {
    let app = TestApp::spawn().await;
    let token = app.token(Role::Freelancer, &UserId::generate());
    let upload = |bytes: &'static [u8]| {
        // A new form each time: reqwest draws a new random boundary.
        let form = Form::new().part(
            "media",
            Part::bytes(bytes)
                .file_name("x.bin")
                .mime_str("application/octet-stream")
                .unwrap(),
        );
        app.http
            .post(app.url("/api/media/upload"))
            .bearer_auth(&token)
            .header("idempotency-key", "upload-1")
            .multipart(form)
            .send()
    };
    let (status, replayed, first) = parts(upload(PNG).await.unwrap()).await;
    assert_eq!(
        (status, replayed),
        (StatusCode::OK, false),
        "{}",
        String::from_utf8_lossy(&first)
    );
    assert_eq!(
        parts(upload(PNG).await.unwrap()).await,
        (StatusCode::OK, true, first)
    );
    // A file of another length under the same key is another request.
    assert_eq!(
        error_code(upload(GIF).await.unwrap()).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency.mismatch".into()
        )
    );
    app.stop().await;
}

/// A fake Stripe whose checkout endpoint tells the test when a request arrived and answers
/// only when the test opens its gate, so "the first request is still running" is a fact the
/// test waits for, not a timing guess.
#[derive(Clone)]
struct GatedStripe {
    base: String,
    arrived: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<()>>>,
    gate: Arc<Semaphore>,
    fail_next: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct GateState {
    arrived: mpsc::UnboundedSender<()>,
    gate: Arc<Semaphore>,
    fail_next: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
}

const STRIPE_KEY: &str = "sk_test_gated_0123456789";

async fn gated_session(
    axum::extract::State(s): axum::extract::State<GateState>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    s.calls.fetch_add(1, Ordering::SeqCst);
    if s.fail_next.swap(false, Ordering::SeqCst) {
        let body = json!({"error": {"type": "api_error", "message": "An unknown error occurred"}});
        return (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(body),
        )
            .into_response();
    }
    let _ = s.arrived.send(());
    s.gate.acquire().await.expect("gate open").forget();
    let id = format!("cs_test_gated{}", s.calls.load(Ordering::SeqCst));
    let now = chrono::Utc::now().timestamp();
    let session = json!({
        "id": id, "object": "checkout.session", "amount_subtotal": 100_000, "amount_total": 100_000,
        "automatic_tax": {"enabled": false, "liability": null, "status": null},
        "cancel_url": "http://front.test/cancel", "client_reference_id": null, "created": now,
        "currency": "inr", "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "expires_at": now + 86_400, "livemode": false, "metadata": {}, "mode": "payment",
        "payment_intent": null, "payment_method_types": ["card"], "payment_status": "unpaid",
        "shipping_options": [], "status": "open", "success_url": "http://front.test/success",
        "url": format!("https://checkout.stripe.com/c/pay/{id}"),
    });
    (axum::http::StatusCode::OK, axum::Json(session)).into_response()
}

impl GatedStripe {
    async fn start() -> GatedStripe {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = GateState {
            arrived: tx,
            gate: Arc::new(Semaphore::new(0)),
            fail_next: Arc::new(AtomicBool::new(false)),
            calls: Arc::new(AtomicUsize::new(0)),
        };
        let app = axum::Router::new()
            .route("/v1/checkout/sessions", axum::routing::post(gated_session))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        GatedStripe {
            base: format!("http://{addr}/"),
            arrived: Arc::new(tokio::sync::Mutex::new(rx)),
            gate: state.gate,
            fail_next: state.fail_next,
            calls: state.calls,
        }
    }

    async fn app(&self) -> TestApp {
        TestApp::spawn_with(&[
            ("STRIPE_SECRET_KEY", STRIPE_KEY),
            ("STRIPE_API_BASE", &self.base),
            ("STRIPE_TIMEOUT_S", "20"),
        ])
        .await
    }

    /// Waits until a checkout request is being held at the gate.
    async fn held(&self) {
        tokio::time::timeout(Duration::from_secs(20), self.arrived.lock().await.recv())
            .await
            .expect("the checkout reached Stripe")
            .expect("the fake is running");
    }
}

#[tokio::test]
async fn a_duplicate_sent_while_the_first_is_running_is_refused_with_409() {
    let stripe = GatedStripe::start().await;
    let app = stripe.app().await;
    let p = app.approved_contract(json!(1000)).await;
    let path = format!("/api/client/job/payment/{}", p.job);
    let body = json!({"title": "Logo design", "rate": 1000, "freelancerId": p.freelancer.as_str()});

    let first = {
        let (http, url, token, body) = (
            app.http.clone(),
            app.url(&path),
            p.client_token.clone(),
            serde_json::to_vec(&body).unwrap(),
        );
        tokio::spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .header("idempotency-key", "pay-1")
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            parts(r).await
        })
    };
    stripe.held().await;

    let duplicate = keyed(
        &app,
        "POST",
        &path,
        Some(&p.client_token),
        Some(&body),
        "pay-1",
    )
    .await;
    assert_eq!(
        error_code(duplicate).await,
        (StatusCode::CONFLICT, "idempotency.in_flight".into())
    );
    let other = json!({"title": "Logo design", "rate": 999, "freelancerId": p.freelancer.as_str()});
    let mismatch = keyed(
        &app,
        "POST",
        &path,
        Some(&p.client_token),
        Some(&other),
        "pay-1",
    )
    .await;
    assert_eq!(
        error_code(mismatch).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency.mismatch".into()
        )
    );

    stripe.gate.add_permits(1);
    let (status, replayed, session) = first.await.unwrap();
    assert_eq!(
        (status, replayed),
        (StatusCode::OK, false),
        "{}",
        String::from_utf8_lossy(&session)
    );
    let again = keyed(
        &app,
        "POST",
        &path,
        Some(&p.client_token),
        Some(&body),
        "pay-1",
    )
    .await;
    assert_eq!(parts(again).await, (StatusCode::OK, true, session));
    assert_eq!(
        stripe.calls.load(Ordering::SeqCst),
        1,
        "Stripe was asked once"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_5xx_is_not_kept_so_the_retry_executes_again() {
    let stripe = GatedStripe::start().await;
    stripe.gate.add_permits(100);
    let app = stripe.app().await;
    let p = app.approved_contract(json!(1000)).await;
    let path = format!("/api/client/job/payment/{}", p.job);
    let body = json!({"title": "Logo design", "rate": 1000, "freelancerId": p.freelancer.as_str()});

    stripe.fail_next.store(true, Ordering::SeqCst);
    let r = keyed(
        &app,
        "POST",
        &path,
        Some(&p.client_token),
        Some(&body),
        "pay-2",
    )
    .await;
    assert_eq!(
        error_code(r).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "payment.unavailable".into()
        )
    );
    let (status, replayed, session) = parts(
        keyed(
            &app,
            "POST",
            &path,
            Some(&p.client_token),
            Some(&body),
            "pay-2",
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, replayed),
        (StatusCode::OK, false),
        "{}",
        String::from_utf8_lossy(&session)
    );
    assert_eq!(
        stripe.calls.load(Ordering::SeqCst),
        2,
        "the retry reached Stripe"
    );
    let again = keyed(
        &app,
        "POST",
        &path,
        Some(&p.client_token),
        Some(&body),
        "pay-2",
    )
    .await;
    assert_eq!(parts(again).await, (StatusCode::OK, true, session));
    assert_eq!(stripe.calls.load(Ordering::SeqCst), 2);
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_key_on_every_write_route() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .send("GET", "/openapi.json", None, None)
        .await
        .json()
        .await
        .unwrap();
    let mut described = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["post", "put", "patch"] {
            let Some(op) = item.get(method) else { continue };
            let has_key = op["parameters"].as_array().is_some_and(|ps| {
                ps.iter()
                    .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header")
            });
            assert_eq!(has_key, path.starts_with("/api/"), "{method} {path}");
            if has_key {
                described += 1;
                for status in ["400", "409", "422"] {
                    assert!(
                        op["responses"].get(status).is_some(),
                        "{method} {path} {status}"
                    );
                }
                assert!(
                    op["responses"]["409"]["headers"]
                        .get("Idempotent-Replayed")
                        .is_some()
                );
            }
        }
    }
    assert_eq!(described, 22, "every POST, PUT and PATCH under /api/");
    app.stop().await;
}

#[tokio::test]
async fn a_request_abandoned_by_its_client_frees_its_key_at_once() {
    let stripe = GatedStripe::start().await;
    let app = stripe.app().await;
    let p = app.approved_contract(json!(1000)).await;
    let path = format!("/api/client/job/payment/{}", p.job);
    let body = json!({"title": "Logo design", "rate": 1000, "freelancerId": p.freelancer.as_str()});

    let abandoned = {
        let (http, url, token, body) = (
            app.http.clone(),
            app.url(&path),
            p.client_token.clone(),
            serde_json::to_vec(&body).unwrap(),
        );
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .header("idempotency-key", "pay-3")
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
        })
    };
    stripe.held().await;
    abandoned.abort();
    // One permit for the abandoned call still waiting inside the fake, one for the retry.
    stripe.gate.add_permits(2);

    // The server notices the closed connection and releases the key (in the background): the
    // retry runs well before the 60 s lease would have run out.
    let (status, replayed, session) = while_in_flight(|| {
        keyed(
            &app,
            "POST",
            &path,
            Some(&p.client_token),
            Some(&body),
            "pay-3",
        )
    })
    .await;
    assert_eq!(
        (status, replayed),
        (StatusCode::OK, false),
        "{}",
        String::from_utf8_lossy(&session)
    );
    assert_eq!(stripe.calls.load(Ordering::SeqCst), 2);
    let again = keyed(
        &app,
        "POST",
        &path,
        Some(&p.client_token),
        Some(&body),
        "pay-3",
    )
    .await;
    assert_eq!(parts(again).await, (StatusCode::OK, true, session));
    app.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413_before_anything_is_recorded() {
    let app = TestApp::spawn().await;
    let p = app.parties();
    let path = create_path(&p.job);
    let mut body = create_body(&p.freelancer, json!(1000));
    body["title"] = json!("x".repeat(escrow::http::JSON_BODY_BYTES_MAX));
    let r = keyed(
        &app,
        "POST",
        &path,
        Some(&p.client_token),
        Some(&body),
        "big",
    )
    .await;
    assert_eq!(
        error_code(r).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "request.too_large".into())
    );
    // The key was never taken: a proper request under it runs.
    let ok = create_body(&p.freelancer, json!(1000));
    let r = keyed(&app, "POST", &path, Some(&p.client_token), Some(&ok), "big").await;
    assert_eq!(parts(r).await.0, StatusCode::CREATED);
    app.stop().await;
}

/// The idempotency store with faults a test arms:
/// - `late_first_answer`: the next `begin` answers this long after its record was written (a
///   request cut off by its timeout in that window is cancelled with its record in flight, as
///   when a write lands after its caller gave up on it);
/// - `lose_next_finish`: the next response to keep is lost (the record stays in flight, as a
///   server that dies right after the request changed its contract leaves it);
/// - `later_ms`: every claim and finish is made that much later (a lease has run out).
#[derive(Default)]
struct FaultyKeys {
    inner: Option<Arc<dyn escrow::store::IdempotencyStore>>,
    late_first_answer: std::sync::Mutex<Option<Duration>>,
    lose_next_finish: AtomicBool,
    later_ms: std::sync::atomic::AtomicI64,
}

impl FaultyKeys {
    /// An app whose idempotency store is wrapped in a `FaultyKeys`, and the wrapper.
    async fn app(overrides: &[(&str, &str)]) -> (TestApp, Arc<FaultyKeys>) {
        let slot: Arc<std::sync::Mutex<Option<Arc<FaultyKeys>>>> = Default::default();
        let app = {
            let slot = slot.clone();
            TestApp::spawn_mapped(overrides, move |mut c| {
                let keys = Arc::new(FaultyKeys {
                    inner: Some(c.idempotency.clone()),
                    ..FaultyKeys::default()
                });
                *slot.lock().unwrap() = Some(keys.clone());
                c.idempotency = keys;
                c
            })
            .await
        };
        let keys = slot.lock().unwrap().clone().unwrap();
        (app, keys)
    }

    fn inner(&self) -> &dyn escrow::store::IdempotencyStore {
        self.inner.as_deref().expect("wraps a store")
    }
}

#[async_trait::async_trait]
impl escrow::store::IdempotencyStore for FaultyKeys {
    async fn idempotency_begin(&self, claim: &Claim<'_>) -> escrow::store::StoreResult<Begin> {
        let later = Claim {
            holder: claim.holder,
            fingerprint: claim.fingerprint,
            now_ms: claim.now_ms + self.later_ms.load(Ordering::SeqCst),
            lease_ms: claim.lease_ms,
        };
        let begun = self.inner().idempotency_begin(&later).await;
        let late = self.late_first_answer.lock().unwrap().take();
        if let Some(delay) = late {
            tokio::time::sleep(delay).await;
        }
        begun
    }

    async fn idempotency_finish(
        &self,
        holder: &Holder,
        response: &escrow::store::StoredResponse,
        now_ms: i64,
    ) -> escrow::store::StoreResult<bool> {
        if self.lose_next_finish.swap(false, Ordering::SeqCst) {
            return Ok(true);
        }
        let now_ms = now_ms + self.later_ms.load(Ordering::SeqCst);
        self.inner()
            .idempotency_finish(holder, response, now_ms)
            .await
    }

    async fn idempotency_release(&self, holder: &Holder) -> escrow::store::StoreResult<()> {
        self.inner().idempotency_release(holder).await
    }

    async fn idempotency_purge(&self, now_ms: i64) -> escrow::store::StoreResult<u64> {
        self.inner().idempotency_purge(now_ms).await
    }
}

#[tokio::test]
async fn a_request_cut_off_while_its_key_was_being_recorded_frees_the_key() {
    let (app, keys) = FaultyKeys::app(&[("ESCROW_REQUEST_TIMEOUT_S", "1")]).await;
    *keys.late_first_answer.lock().unwrap() = Some(Duration::from_secs(3));
    let p = app.parties();
    let (path, body) = (create_path(&p.job), create_body(&p.freelancer, json!(1000)));
    let send = || {
        keyed(
            &app,
            "POST",
            &path,
            Some(&p.client_token),
            Some(&body),
            "create-cut",
        )
    };
    let (status, _, _) = parts(send().await).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    // The key is free again well before its 60 s lease would run out (its release runs in the
    // background, so allow it a moment).
    let (status, replayed, created) = while_in_flight(send).await;
    assert_eq!(
        (status, replayed),
        (StatusCode::CREATED, false),
        "{}",
        String::from_utf8_lossy(&created)
    );
    assert_eq!(
        app.state.service.store().count_contracts().await.unwrap(),
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn a_retry_after_a_crash_lost_the_stored_response_is_answered_as_the_first_try() {
    let (app, dies) = FaultyKeys::app(&[]).await;
    let lease = app.state.idempotency_lease.as_millis() as i64;
    let released = app.requested_contract().await;
    let refunded = app.funded_contract().await;
    let created = app.parties();
    let refund_body =
        json!({"cancelReason": "Freelancer not responding", "cancelReasonDescription": "no reply"});
    let create_body = create_body(&created.freelancer, json!(1000));
    let release_path = format!("/api/admin/escrow/release-fund/{}", released.contract);
    let refund_path = format!(
        "/api/admin/escrow/refund-client/{}/{}",
        refunded.contract, refunded.client
    );
    let create_path = create_path(&created.job);
    let cases: [(&str, &str, &str, Option<&Value>, StatusCode); 3] = [
        (
            "PUT",
            &release_path,
            &released.admin_token,
            None,
            StatusCode::OK,
        ),
        (
            "PUT",
            &refund_path,
            &refunded.client_token,
            Some(&refund_body),
            StatusCode::OK,
        ),
        (
            "POST",
            &create_path,
            &created.client_token,
            Some(&create_body),
            StatusCode::CREATED,
        ),
    ];
    let mut retried = 0;
    for (n, (method, path, token, body, ok)) in cases.into_iter().enumerate() {
        let key = format!("crash-{n}");
        dies.later_ms.store(0, Ordering::SeqCst);
        dies.lose_next_finish.store(true, Ordering::SeqCst);
        // The first try changes the contract; its response is never kept ("the crash").
        let (status, _, first) =
            parts(keyed(&app, method, path, Some(token), body, &key).await).await;
        assert_eq!(status, ok, "{path}: {}", String::from_utf8_lossy(&first));
        let entries = app.state.service.store().count_entries().await.unwrap();
        // Before the lease runs out the key is still held by the dead request.
        let r = keyed(&app, method, path, Some(token), body, &key).await;
        assert_eq!(
            error_code(r).await,
            (StatusCode::CONFLICT, "idempotency.in_flight".into())
        );
        // After it, the retry executes again: it gets what the first try got, not "already
        // done", and moves nothing.
        dies.later_ms.store(lease + 1, Ordering::SeqCst);
        let (status, replayed, again) =
            parts(keyed(&app, method, path, Some(token), body, &key).await).await;
        assert_eq!(
            (status, replayed),
            (ok, false),
            "{path}: {}",
            String::from_utf8_lossy(&again)
        );
        assert_eq!(
            String::from_utf8_lossy(&again),
            String::from_utf8_lossy(&first),
            "{path}"
        );
        retried += 1;
        assert_eq!(
            app.state.service.store().count_entries().await.unwrap(),
            entries,
            "{path}: the retry moved money"
        );
        // That answer is kept now.
        let (status, replayed, kept) =
            parts(keyed(&app, method, path, Some(token), body, &key).await).await;
        assert_eq!((status, replayed, kept), (ok, true, first), "{path}");
        // Another request (another key) doing the same again is still refused.
        let r = keyed(&app, method, path, Some(token), body, &format!("other-{n}")).await;
        assert_eq!(r.status(), StatusCode::CONFLICT, "{path}");
    }
    assert_eq!(retried, 3);
    assert_eq!(
        minor(&app.wallet(&released, &released.freelancer).await["balance"]),
        90_000
    );
    assert_eq!(
        app.state.service.store().count_contracts().await.unwrap(),
        3
    );
    let report = app.verify().await;
    assert!(report.ok(), "{:?}", report.violations);
    app.stop().await;
}
