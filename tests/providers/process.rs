//! The `escrow-server` binary as a process: production mode refuses development defaults and
//! names what is missing; a refund left pending while Stripe was unreachable is completed by
//! the recovery step when the server starts.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::fake_stripe::{FakeStripe, SECRET_KEY};
use crate::helpers::{JWT_SECRET, TestApp, WEBHOOK_SECRET, error_code};

fn server(dir: &std::path::Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_escrow-server"));
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    crate::support::env::scrub(&mut cmd);
    cmd.env("ESCROW_LISTEN", "127.0.0.1:0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs a server that must refuse to start; returns its exit code and stderr.
fn refused(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = server(dir.path(), env)
        .spawn()
        .expect("start escrow-server");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return (
                status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("escrow-server kept running although it should have refused to start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts a server that must come up; returns it and its address.
/// Its log goes to `server.log` in `dir` (an undrained pipe could fill and stall it).
fn started(dir: &std::path::Path, env: &[(&str, &str)]) -> (Child, String) {
    let log = dir.join("server.log");
    let mut child = server(dir, env)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start escrow-server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    match line.trim().strip_prefix("listening on http://") {
        Some(addr) => (child, addr.to_string()),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "escrow-server did not start: {line:?} {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        }
    }
}

#[test]
fn production_mode_without_settings_exits_non_zero_naming_every_missing_variable() {
    let (code, stderr) = refused(&[("ESCROW_ENV", "production")]);
    assert_eq!(code, Some(2), "{stderr}");
    for v in ["JWT_SECRET", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"] {
        assert!(stderr.contains(v), "{v} not named in {stderr:?}");
    }
    assert!(stderr.contains("ESCROW_ENV=production"), "{stderr}");
}

#[test]
fn production_mode_names_only_what_is_missing() {
    let (code, stderr) = refused(&[
        ("ESCROW_ENV", "production"),
        ("JWT_SECRET", "a-real-secret-0123456789"),
        ("STRIPE_SECRET_KEY", "sk_live_x"),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("STRIPE_WEBHOOK_SECRET"), "{stderr}");
    assert!(!stderr.contains("JWT_SECRET"), "{stderr}");
    assert!(!stderr.contains("STRIPE_SECRET_KEY"), "{stderr}");

    let (code, stderr) = refused(&[
        ("ESCROW_ENV", "production"),
        ("JWT_SECRET", "a-real-secret-0123456789"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("STRIPE_SECRET_KEY (the sandbox provider is refused in production)"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_mode_with_every_setting_starts_on_stripe() {
    let fake = FakeStripe::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = started(
        dir.path(),
        &[
            ("ESCROW_ENV", "production"),
            ("JWT_SECRET", JWT_SECRET),
            ("STRIPE_SECRET_KEY", SECRET_KEY),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("STRIPE_API_BASE", &fake.base),
            ("ESCROW_METRICS_TOKEN", "production-metrics-token"),
        ],
    );
    let health = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // The sandbox page does not exist in production: the provider is Stripe.
    let page = reqwest::get(format!("http://{addr}/sandbox/checkout/cs_sandbox_x_1"))
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_left_pending_while_stripe_was_unreachable_is_completed_when_the_server_starts() {
    // Stripe unreachable: a port nothing listens on.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let app = TestApp::spawn_with(&[
        ("STRIPE_SECRET_KEY", SECRET_KEY),
        ("STRIPE_API_BASE", &format!("http://{dead}/")),
        ("STRIPE_TIMEOUT_S", "2"),
    ])
    .await;
    let p = app.funded_contract().await;
    assert_eq!(
        error_code(app.refund(&p, &p.admin_token).await).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "payment.unavailable".into()
        )
    );
    assert_eq!(app.contract(&p).await["escrow"]["status"], "refund_pending");

    // Stripe is back; a server process starts on the same database and finishes the refund
    // at once, without waiting for its 30 s timer.
    let fake = FakeStripe::start().await;
    let pi = format!("pi_{}", p.contract);
    fake.add_payment_intent(&pi, 100_000);
    let (mut child, addr) = started(
        app.dir.path(),
        &[
            ("ESCROW_DATA_DIR", app.dir.path().to_str().unwrap()),
            ("JWT_SECRET", JWT_SECRET),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("STRIPE_SECRET_KEY", SECRET_KEY),
            ("STRIPE_API_BASE", &fake.base),
        ],
    );
    let http = reqwest::Client::new();
    let start = Instant::now();
    let escrow = loop {
        let v: Value = http
            .get(format!("http://{addr}/api/contracts/{}", p.contract))
            .bearer_auth(&p.admin_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["escrow"]["status"] == "refunded" {
            break v["escrow"].clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "not refunded after startup: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let refunds = fake.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(escrow["refund"]["providerRefundId"], refunds[0]["id"]);
    assert_eq!(
        fake.requests_to("/v1/refunds")[0]
            .idempotency_key
            .as_deref(),
        escrow["refund"]["idempotencyKey"].as_str()
    );
    assert!(app.verify().await.ok());
    app.stop().await;
}
