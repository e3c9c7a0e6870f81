//! Black-box helpers: a real server on a real socket (port 0) with a fresh SQLite file in a
//! temp directory (or a fresh MongoDB database, see [`mongodb_backend`]), and one helper per
//! endpoint.

use std::collections::HashMap;

use escrow::auth::{JwtKeys, Principal, Role};
use escrow::config::{Config, Sources};
use escrow::domain::{JobId, UserId};
use escrow::http::AppState;
use escrow::service::{Caller, UseCase};
use escrow::store::WebhookEvent;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const JWT_SECRET: &str = "test-jwt-secret-0123456789";
pub const WEBHOOK_SECRET: &str = "whsec_test_secret";

/// With `ESCROW_TEST_API_BACKEND=mongodb` (the second run in `scripts/test`) every app runs on
/// MongoDB: the server at `ESCROW_TEST_MONGODB_URI`, a fresh database per app (the emulator
/// keeps them in memory and forgets them when it stops). Asking for MongoDB without a server
/// fails rather than silently testing SQLite again.
fn mongodb_backend() -> Option<(String, String)> {
    match std::env::var("ESCROW_TEST_API_BACKEND").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => None,
        Ok("mongodb") => {
            let uri = std::env::var("ESCROW_TEST_MONGODB_URI")
                .expect("ESCROW_TEST_API_BACKEND=mongodb needs ESCROW_TEST_MONGODB_URI");
            let database = format!("escrow_api_{}", escrow::domain::ids::new_object_id_hex());
            Some((uri, database))
        }
        Ok(other) => panic!("ESCROW_TEST_API_BACKEND is sqlite or mongodb, not {other:?}"),
    }
}

pub struct TestApp {
    /// The settings that name this app's store: another app spawned with them shares it.
    pub store_settings: Vec<(String, String)>,
    pub base: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub jwt: JwtKeys,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// The three parties of one contract, with their tokens.
#[derive(Clone)]
pub struct Parties {
    pub client: UserId,
    pub freelancer: UserId,
    pub client_token: String,
    pub freelancer_token: String,
    pub admin_token: String,
    pub job: JobId,
    pub contract: String,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(&[]).await
    }

    pub async fn spawn_with(overrides: &[(&str, &str)]) -> TestApp {
        TestApp::spawn_mapped(overrides, |c| c).await
    }

    /// A second server on `other`'s store, with `overrides` of its own settings (two
    /// deployments of one store, configured differently).
    pub async fn spawn_beside(other: &TestApp, overrides: &[(&str, &str)]) -> TestApp {
        let mut all: Vec<(&str, &str)> = other
            .store_settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        all.extend_from_slice(overrides);
        TestApp::spawn_with(&all).await
    }

    /// An app whose HTTP state's parts `f` changes before it serves (to wrap a store).
    pub async fn spawn_mapped(
        overrides: &[(&str, &str)],
        f: impl FnOnce(escrow::http::state::AppConfig) -> escrow::http::state::AppConfig,
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut values: HashMap<String, String> = HashMap::new();
        values.insert(
            "ESCROW_DATA_DIR".into(),
            dir.path().to_string_lossy().into(),
        );
        values.insert("JWT_SECRET".into(), JWT_SECRET.into());
        values.insert("STRIPE_WEBHOOK_SECRET".into(), WEBHOOK_SECRET.into());
        values.insert("CLIENT_URL".into(), "http://front.test".into());
        if let Some((uri, database)) = mongodb_backend() {
            values.insert("ESCROW_DATABASE_URL".into(), uri);
            values.insert("ESCROW_MONGODB_DATABASE".into(), database);
        }
        for (k, v) in overrides {
            values.insert(k.to_string(), v.to_string());
        }
        let store_settings = [
            "ESCROW_DATA_DIR",
            "ESCROW_DATABASE_URL",
            "ESCROW_MONGODB_DATABASE",
        ]
        .into_iter()
        .filter_map(|k| values.get(k).map(|v| (k.to_string(), v.clone())))
        .collect();
        let config = Config::from_sources(&Sources::from_map(values)).expect("test config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        let state = escrow::http::state::build(&config, addr)
            .await
            .expect("state")
            .map(f);
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(escrow::http::serve(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        TestApp {
            store_settings,
            base: format!("http://{addr}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            dir,
            jwt: JwtKeys::new(JWT_SECRET.as_bytes()),
            state,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
    }

    pub fn token(&self, role: Role, id: &UserId) -> String {
        let now = chrono::Utc::now().timestamp() as u64;
        self.jwt.mint(
            &Principal {
                id: id.clone(),
                role,
            },
            now,
            3600,
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut r = self.http.request(method.parse().unwrap(), self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.expect("request")
    }

    pub fn parties(&self) -> Parties {
        let (client, freelancer, admin) =
            (UserId::generate(), UserId::generate(), UserId::generate());
        Parties {
            client_token: self.token(Role::Client, &client),
            freelancer_token: self.token(Role::Freelancer, &freelancer),
            admin_token: self.token(Role::Admin, &admin),
            client,
            freelancer,
            job: JobId::generate(),
            contract: String::new(),
        }
    }

    pub async fn create_contract(&self, p: &Parties, amount: Value) -> Response {
        self.send(
            "POST",
            &format!("/api/client/contract/create-contract/{}", p.job),
            Some(&p.client_token),
            Some(json!({"freelancerId": p.freelancer.as_str(), "amount": amount, "title": "Logo design"})),
        )
        .await
    }

    pub async fn approve(&self, p: &Parties) -> Response {
        self.send(
            "POST",
            &format!("/api/freelancer/contract/approve-contract/{}", p.contract),
            Some(&p.freelancer_token),
            None,
        )
        .await
    }

    pub async fn set_status(&self, p: &Parties, status: &str) -> Response {
        self.send(
            "PUT",
            &format!("/api/freelancer/contract/update-status/{}", p.contract),
            Some(&p.freelancer_token),
            Some(json!({"status": status})),
        )
        .await
    }

    pub async fn checkout(&self, p: &Parties, body: Value) -> Response {
        self.send(
            "POST",
            &format!("/api/client/job/payment/{}", p.job),
            Some(&p.client_token),
            Some(body),
        )
        .await
    }

    pub async fn contract(&self, p: &Parties) -> Value {
        let r = self
            .send(
                "GET",
                &format!("/api/contracts/{}", p.contract),
                Some(&p.admin_token),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    pub async fn request_release(&self, p: &Parties) -> Response {
        self.send(
            "PATCH",
            &format!("/api/client/contract/release-fund/{}", p.contract),
            Some(&p.client_token),
            None,
        )
        .await
    }

    pub async fn release(&self, p: &Parties) -> Response {
        self.send(
            "PUT",
            &format!("/api/admin/escrow/release-fund/{}", p.contract),
            Some(&p.admin_token),
            None,
        )
        .await
    }

    pub async fn refund(&self, p: &Parties, token: &str) -> Response {
        self.send(
            "PUT",
            &format!("/api/admin/escrow/refund-client/{}/{}", p.contract, p.client),
            Some(token),
            Some(json!({"cancelReason": "Freelancer not responding", "cancelReasonDescription": "no reply for a week"})),
        )
        .await
    }

    pub async fn wallet(&self, p: &Parties, user: &UserId) -> Value {
        let r = self
            .send(
                "GET",
                &format!("/api/admin/wallet/{user}"),
                Some(&p.admin_token),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    /// A checkout.session.completed event for the contract, as Stripe shapes it.
    pub fn payment_event(
        &self,
        event_id: &str,
        p: &Parties,
        amount: i64,
        payment_intent: &str,
    ) -> String {
        crate::support::stripe::checkout_completed(
            event_id,
            &format!("cs_test_{payment_intent}"),
            Some(payment_intent),
            amount,
            json!({"jobId": p.job.as_str(), "clientId": p.client.as_str(), "freelancerId": p.freelancer.as_str(), "contractId": p.contract}),
        )
    }

    pub async fn post_webhook(&self, body: &str) -> Response {
        let header = crate::support::stripe::signature(body, WEBHOOK_SECRET);
        self.post_webhook_with(body, Some(&header)).await
    }

    /// An event delivered to the Connect endpoint, signed now with `secret`.
    pub async fn post_connect(&self, body: &str, secret: &str) -> Response {
        self.http
            .post(self.url("/webhook/connect"))
            .header("content-type", "application/json")
            .header(
                "stripe-signature",
                crate::support::stripe::signature(body, secret),
            )
            .body(body.to_string())
            .send()
            .await
            .expect("connect webhook")
    }

    pub async fn post_webhook_with(&self, body: &str, header: Option<&str>) -> Response {
        let mut r = self
            .http
            .post(self.url("/webhook"))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(h) = header {
            r = r.header("stripe-signature", h);
        }
        r.send().await.expect("webhook")
    }

    /// A contract created and approved, not yet paid.
    pub async fn approved_contract(&self, amount: Value) -> Parties {
        let mut p = self.parties();
        let r = self.create_contract(&p, amount).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let v: Value = r.json().await.unwrap();
        p.contract = v["data"]["id"].as_str().unwrap().to_string();
        assert_eq!(self.approve(&p).await.status(), StatusCode::OK);
        p
    }

    /// A contract paid through a signed webhook: escrow funded.
    pub async fn funded_contract(&self) -> Parties {
        let p = self.approved_contract(json!(1000)).await;
        let r = self
            .post_webhook(&self.payment_event(
                &format!("evt_{}", p.contract),
                &p,
                100_000,
                &format!("pi_{}", p.contract),
            ))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        p
    }

    /// A funded contract moved to Completed with the release requested.
    pub async fn requested_contract(&self) -> Parties {
        let p = self.funded_contract().await;
        for s in ["Started", "Ongoing", "Completed"] {
            assert_eq!(
                self.set_status(&p, s).await.status(),
                StatusCode::OK,
                "to {s}"
            );
        }
        assert_eq!(self.request_release(&p).await.status(), StatusCode::OK);
        p
    }

    pub async fn verify(&self) -> escrow::domain::verify::Report {
        let op = operator();
        let permit = self.state.service.permit(&op, UseCase::Operate).unwrap();
        self.state
            .service
            .verify(permit, |_| {})
            .await
            .expect("verify")
    }

    /// The latest webhook events, as `escrowctl webhooks list` reads them.
    pub async fn events(&self, failed_only: bool) -> Vec<WebhookEvent> {
        let op = operator();
        let permit = self.state.service.permit(&op, UseCase::Operate).unwrap();
        self.state
            .service
            .events(permit, failed_only, escrow::store::Page::after(None, 10))
            .await
            .expect("events")
            .events
    }
}

/// An operator, as `escrowctl` acts.
pub fn operator() -> Caller {
    Caller::operator("test:operator")
}

pub async fn error_code(r: Response) -> (StatusCode, String) {
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (
        status,
        v["code"].as_str().unwrap_or("<no code>").to_string(),
    )
}
