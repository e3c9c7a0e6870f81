//! Secrets never leak: a full run of the server process in production mode on the real Stripe
//! and Cloudinary clients (against local fakes), logging everything (`RUST_LOG=trace`, JSON
//! lines), through checkout, webhook, release, refund, a refund the provider fails, uploads,
//! an upload the provider fails, and refused requests; then `escrowctl` on the same store and
//! a server that refuses its configuration. Its log, its stdout, `escrowctl`'s output and every
//! response body are searched for the JWT secret, the webhook secret, the Stripe key, the
//! Cloudinary secret, every bearer token used (and each token's signature alone), and a
//! configuration's `Debug` text for the same secrets.

use std::collections::HashMap;
use std::process::{Command, Stdio};

use escrow::auth::Role;
use serde_json::{Value, json};

use crate::fake_cloudinary::{self, FakeCloudinary};
use crate::fake_stripe::{self, FakeStripe};
use crate::process::{Server, payment_event, signature, token};

const JWT_SECRET: &str = "jwt-SENTINEL-c0ffee-5e55e7-never-printed";
const WEBHOOK_SECRET: &str = "whsec_SENTINEL_d15c0_never_printed";

/// Every request's answer body, kept to be searched.
struct Recorder {
    http: reqwest::Client,
    base: String,
    bodies: Vec<String>,
}

impl Recorder {
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        self.finish(r).await
    }

    async fn finish(&mut self, r: reqwest::RequestBuilder) -> (u16, Value) {
        let r = r.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = format!("{:?}", r.headers());
        let text = r.text().await.unwrap_or_default();
        self.bodies.push(format!("{headers}\n{text}"));
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn webhook(&mut self, body: String, header: String) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/webhook", self.base))
            .header("stripe-signature", header)
            .body(body);
        self.finish(r).await
    }

    async fn upload(&mut self, token: &str, bytes: Vec<u8>) -> (u16, Value) {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name("a.gif")
            .mime_str("image/gif")
            .unwrap();
        let r = self
            .http
            .post(format!("{}/api/media/upload", self.base))
            .bearer_auth(token)
            .multipart(reqwest::multipart::Form::new().part("media", part));
        self.finish(r).await
    }
}

const METRICS_TOKEN: &str = "metrics-bearer-token-5b1f0c9e";

const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_token_appears_in_any_log_or_response_of_a_full_run() {
    let stripe = FakeStripe::start().await;
    let cloudinary = FakeCloudinary::start().await;
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(&str, &str)> = vec![
        ("ESCROW_ENV", "production"),
        ("JWT_SECRET", JWT_SECRET),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("STRIPE_SECRET_KEY", fake_stripe::SECRET_KEY),
        ("STRIPE_API_BASE", &stripe.base),
        ("STRIPE_TIMEOUT_S", "5"),
        ("CLOUDINARY_CLOUD_NAME", fake_cloudinary::CLOUD),
        ("CLOUDINARY_API_KEY", fake_cloudinary::API_KEY),
        ("CLOUDINARY_API_SECRET", fake_cloudinary::API_SECRET),
        ("CLOUDINARY_API_BASE", &cloudinary.base),
        ("RUST_LOG", "trace"),
        ("ESCROW_LOG_FORMAT", "json"),
        ("ESCROW_METRICS_TOKEN", METRICS_TOKEN),
    ];
    let server = Server::start(dir.path(), &env);
    let mut r = Recorder {
        http: reqwest::Client::new(),
        base: server.base.clone(),
        bodies: vec![],
    };
    let (client, freelancer, admin) = (
        escrow::domain::UserId::generate(),
        escrow::domain::UserId::generate(),
        escrow::domain::UserId::generate(),
    );
    let c = token(JWT_SECRET, Role::Client, &client);
    let f = token(JWT_SECRET, Role::Freelancer, &freelancer);
    let a = token(JWT_SECRET, Role::Admin, &admin);
    let expired = {
        let mut v: Value = json!({"id": client.as_str(), "role": "client", "exp": chrono::Utc::now().timestamp() - 10});
        v["exp"] = json!(v["exp"].as_i64().unwrap());
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &v,
            &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
        )
        .unwrap()
    };

    // Three contracts paid through Stripe Checkout and its signed webhook.
    let mut contracts = vec![];
    for i in 0..3 {
        let job = escrow::domain::JobId::generate();
        let (s, v) = r
            .send(
                "POST",
                &format!("/api/client/contract/create-contract/{job}"),
                Some(&c),
                Some(json!({"freelancerId": freelancer.as_str(), "amount": "1000", "title": format!("Job {i}")})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let id = v["data"]["id"].as_str().unwrap().to_string();
        let (s, _) = r
            .send(
                "POST",
                &format!("/api/freelancer/contract/approve-contract/{id}"),
                Some(&f),
                None,
            )
            .await;
        assert_eq!(s, 200);
        let (s, session) = r
            .send(
                "POST",
                &format!("/api/client/job/payment/{job}"),
                Some(&c),
                Some(json!({"title": format!("Job {i}"), "rate": 1000})),
            )
            .await;
        assert_eq!(s, 200, "{session}");
        let pi = format!("pi_secret_test_{i}");
        stripe.pay_session(session["id"].as_str().unwrap(), &pi);
        let event = payment_event(&format!("evt_secret_{i}"), &id, 100_000, &pi);
        let (s, v) = r
            .webhook(event.clone(), signature(&event, WEBHOOK_SECRET))
            .await;
        assert_eq!(s, 200, "{v}");
        // Refused deliveries: a wrong secret, and a stale signature by the right one.
        let (s, _) = r
            .webhook(event.clone(), signature(&event, "whsec_wrong"))
            .await;
        assert_eq!(s, 400);
        let stale = escrow::payment::webhook::sign(
            event.as_bytes(),
            WEBHOOK_SECRET,
            chrono::Utc::now().timestamp() - 3600,
        );
        let (s, _) = r.webhook(event, stale).await;
        assert_eq!(s, 400);
        contracts.push(id);
    }

    // Released; refunded through Stripe; refunded while Stripe fails (503, kept for retry).
    for s in ["Started", "Ongoing", "Completed"] {
        r.send(
            "PUT",
            &format!("/api/freelancer/contract/update-status/{}", contracts[0]),
            Some(&f),
            Some(json!({ "status": s })),
        )
        .await;
    }
    r.send(
        "PATCH",
        &format!("/api/client/contract/release-fund/{}", contracts[0]),
        Some(&c),
        None,
    )
    .await;
    let (s, v) = r
        .send(
            "PUT",
            &format!("/api/admin/escrow/release-fund/{}", contracts[0]),
            Some(&a),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = r
        .send(
            "PUT",
            &format!("/api/admin/escrow/refund-client/{}/{client}", contracts[1]),
            Some(&a),
            Some(json!({"cancelReason": "x"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    stripe.fail_refunds([
        fake_stripe::Fault::ServerError,
        fake_stripe::Fault::BadRequest,
    ]);
    let (s, v) = r
        .send(
            "PUT",
            &format!("/api/admin/escrow/refund-client/{}/{client}", contracts[2]),
            Some(&c),
            None,
        )
        .await;
    assert!(s >= 500, "{s} {v}");

    // Uploads to Cloudinary, one of them refused by it.
    let (s, v) = r.upload(&f, GIF.to_vec()).await;
    assert_eq!(s, 200, "{v}");
    cloudinary.fail([fake_cloudinary::Fault::ServerError]);
    let mut other = GIF.to_vec();
    other.push(0);
    let (s, _) = r.upload(&f, other).await;
    assert!(s >= 500);

    // Refused requests: no token, an expired one, a forged one, the wrong role.
    for (t, path) in [
        (None, "/api/admin/escrow/balance"),
        (Some(expired.as_str()), "/api/freelancer/wallet"),
        (Some("Bearer-ish.not.a.token"), "/api/freelancer/wallet"),
        (Some(c.as_str()), "/api/admin/escrow/balance"),
    ] {
        let (s, _) = r.send("GET", path, t, None).await;
        assert!(s == 401 || s == 403);
    }
    for path in [
        "/api/admin/escrow/transactions".to_string(),
        format!("/api/contracts/{}", contracts[0]),
        format!("/api/admin/wallet/{freelancer}"),
    ] {
        r.send("GET", &path, Some(&a), None).await;
    }
    for path in ["/metrics", "/openapi.json", "/readyz"] {
        r.send("GET", path, None, None).await;
    }
    // Metrics with their token, and with a wrong one.
    for t in [METRICS_TOKEN, "not-the-metrics-token"] {
        let (s, _) = r.send("GET", "/metrics", Some(t), None).await;
        assert_eq!(s == 200, t == METRICS_TOKEN, "{t}");
    }
    let server_log = server.log();
    drop(server);

    // escrowctl on the same store and settings, logging everything.
    let mut ctl_out = String::new();
    for args in [
        vec!["--json", "escrow", "list"],
        vec!["--json", "verify"],
        vec!["--json", "webhooks", "list"],
        vec!["--json", "escrow", "show", contracts[2].as_str()],
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_escrowctl"));
        cmd.current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ESCROW_DATA_DIR", dir.path())
            .stdin(Stdio::null())
            .args(&args);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        ctl_out.push_str(&String::from_utf8_lossy(&out.stdout));
        ctl_out.push_str(&String::from_utf8_lossy(&out.stderr));
    }

    // A server that refuses its configuration says which setting, and no secret.
    let refused = {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_escrow-server"));
        cmd.current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ESCROW_LISTEN", "127.0.0.1:0")
            .env("ESCROW_PLATFORM_FEE_BPS", "not-a-number")
            .stdin(Stdio::null());
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(refused.contains("ESCROW_PLATFORM_FEE_BPS"), "{refused}");

    // The configuration's Debug text, as a log line or a panic would print it.
    let values: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = escrow::config::Config::from_sources(&escrow::config::Sources::from_map(values))
        .expect("the run's configuration");
    let debug = format!("{config:?} {:?}", config.jwt_secret().unwrap());

    let mut secrets: Vec<(&str, String)> = vec![
        ("JWT_SECRET", JWT_SECRET.into()),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
        ("STRIPE_SECRET_KEY", fake_stripe::SECRET_KEY.into()),
        ("CLOUDINARY_API_SECRET", fake_cloudinary::API_SECRET.into()),
        ("ESCROW_METRICS_TOKEN", METRICS_TOKEN.into()),
    ];
    for (who, t) in [
        ("client", &c),
        ("freelancer", &f),
        ("admin", &a),
        ("expired", &expired),
    ] {
        secrets.push((who, t.to_string()));
        secrets.push((who, t.rsplit('.').next().unwrap().to_string()));
    }
    let sources = [
        ("the server's log (RUST_LOG=trace)", server_log.as_str()),
        ("escrowctl's output", ctl_out.as_str()),
        ("a refused start", refused.as_str()),
        ("the configuration's Debug", debug.as_str()),
    ];
    // The error paths ran and were logged, with their causes.
    for logged in [
        "provider refund failed",
        "Cloudinary upload failed",
        "Stripe refund created",
        "request failed",
    ] {
        assert!(
            server_log.contains(logged),
            "no {logged:?} in the log:\n{server_log}"
        );
    }
    let mut searched = 0;
    for (name, secret) in &secrets {
        for (source, text) in sources {
            assert!(
                !text.contains(secret.as_str()),
                "{name} appears in {source}"
            );
            searched += 1;
        }
        for body in &r.bodies {
            assert!(
                !body.contains(secret.as_str()),
                "{name} appears in a response: {body}"
            );
            searched += 1;
        }
    }
    // The fakes did see them: the secrets were really in use.
    assert!(stripe.requests().iter().any(
        |q| q.authorization.as_deref() == Some(&format!("Bearer {}", fake_stripe::SECRET_KEY))
    ));
    assert!(!cloudinary.uploads().is_empty());
    crate::process::figures(
        "secrets",
        &format!(
            "secrets: {} secrets and tokens searched for in {} log lines and {} response bodies ({searched} searches): none found",
            secrets.len(),
            server_log.lines().count() + ctl_out.lines().count(),
            r.bodies.len()
        ),
    );
}
