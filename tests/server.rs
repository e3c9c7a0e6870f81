//! The `escrow-server` binary as a process: starts on its embedded defaults, and on SIGTERM
//! finishes the requests in flight before it exits.

#[path = "support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "providers/fake_stripe.rs"]
mod fake_stripe;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts the server in `dir` with only `env` set; returns it and its address.
fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_escrow-server"));
    cmd.current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .env("ESCROW_LISTEN", "127.0.0.1:0");
    support::env::scrub(&mut cmd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start escrow-server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, addr)
}

fn get(addr: &str, path: &str) -> String {
    get_with(addr, path, "")
}

/// A GET with extra header lines (each ending in `\r\n`).
fn get_with(addr: &str, path: &str, headers: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn wait(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn the_server_starts_on_its_embedded_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = start(dir.path(), &[]);
    let health = get(&addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(get(&addr, "/readyz").starts_with("HTTP/1.1 200"));
    // The embedded defaults: the SQLite file and a generated secret (mode 0600) in ./escrow-data.
    assert!(dir.path().join("escrow-data/escrow.db").is_file());
    let secret = dir.path().join("escrow-data/jwt-secret");
    assert!(secret.is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_bad_setting_stops_the_server_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_escrow-server"))
        .current_dir(dir.path())
        .env("ESCROW_PLATFORM_FEE_BPS", "abc")
        .env("ESCROW_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ESCROW_PLATFORM_FEE_BPS"));
}

#[cfg(unix)]
#[test]
fn sigterm_lets_the_request_in_flight_finish_before_exiting() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "process-test-secret";
    let (mut child, addr) = start(dir.path(), &[("JWT_SECRET", secret)]);
    let keys = escrow::auth::JwtKeys::new(secret.as_bytes());
    let who = escrow::auth::Principal {
        id: escrow::domain::UserId::generate(),
        role: escrow::auth::Role::Client,
    };
    let token = keys.mint(&who, chrono::Utc::now().timestamp() as u64, 600);

    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    let mut body = Vec::new();
    body.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a.gif\"\r\nContent-Type: image/gif\r\n\r\n");
    body.extend_from_slice(gif);
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "POST /api/media/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    let half = body.len() / 2;
    s.write_all(&body[..half]).unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the server must wait for the request in flight"
    );

    s.write_all(&body[half..]).unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"type\":\"image\""), "{response}");

    let status =
        wait(&mut child, Duration::from_secs(10)).expect("the server exits after the last request");
    assert!(status.success(), "{status:?}");
}

/// Group commit acknowledges a write only after its batch is durable: a `kill -9` right after
/// many concurrent acknowledgements loses none of them.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_webhook_survives_kill_9_right_after_it() {
    use escrow::store::{ContractStore, LedgerStore};
    let dir = tempfile::tempdir().unwrap();
    let (jwt, whsec) = ("crash-test-secret", "whsec_crash");
    let (mut child, addr) = start(
        dir.path(),
        &[
            ("JWT_SECRET", jwt),
            ("STRIPE_WEBHOOK_SECRET", whsec),
            ("RUST_LOG", "warn"),
        ],
    );
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let keys = escrow::auth::JwtKeys::new(jwt.as_bytes());
    let now = chrono::Utc::now().timestamp() as u64;
    let mut contracts = vec![];
    for _ in 0..60 {
        let (client, freelancer) = (
            escrow::domain::UserId::generate(),
            escrow::domain::UserId::generate(),
        );
        let ct = keys.mint(
            &escrow::auth::Principal {
                id: client.clone(),
                role: escrow::auth::Role::Client,
            },
            now,
            600,
        );
        let ft = keys.mint(
            &escrow::auth::Principal {
                id: freelancer.clone(),
                role: escrow::auth::Role::Freelancer,
            },
            now,
            600,
        );
        let job = escrow::domain::JobId::generate();
        let v: serde_json::Value = http
            .post(format!("{base}/api/client/contract/create-contract/{job}"))
            .bearer_auth(&ct)
            .json(&serde_json::json!({"freelancerId": freelancer.as_str(), "amount": 10}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = v["data"]["id"].as_str().unwrap().to_string();
        http.post(format!(
            "{base}/api/freelancer/contract/approve-contract/{id}"
        ))
        .bearer_auth(&ft)
        .send()
        .await
        .unwrap();
        contracts.push(id);
    }
    let sends = contracts.iter().map(|id| {
        let body = serde_json::json!({"id": format!("evt_{id}"), "object": "event", "created": 1, "livemode": false, "pending_webhooks": 1,
            "type": "checkout.session.completed", "data": {"object": {"id": format!("cs_{id}"), "amount_total": 1000, "currency": "inr",
            "payment_status": "paid", "payment_intent": format!("pi_{id}"), "metadata": {"contractId": id}}}})
        .to_string();
        let header = support::stripe::signature(&body, whsec);
        let req = http.post(format!("{base}/webhook")).header("stripe-signature", header).body(body);
        async move { req.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    });
    let statuses = futures_util::future::join_all(sends).await;
    // Acknowledged, every one: now the process dies without any chance to flush.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let store =
        escrow::store::sqlite::SqliteStore::open(dir.path().join("escrow-data/escrow.db")).unwrap();
    for id in &contracts {
        let c = store
            .get_contract(&id.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(c.escrow_paid(), "acknowledged funding of {id} was lost");
    }
    assert_eq!(
        store.count_entries().await.unwrap(),
        2 * contracts.len() as u64
    );
}

#[test]
fn metrics_are_served_only_where_and_to_whom_they_are_meant() {
    let dir = tempfile::tempdir().unwrap();
    let status = |r: &str| r.lines().next().unwrap_or("").to_string();

    // A token: without it, or with another, 401; with it, the metrics.
    let (mut child, addr) = start(dir.path(), &[("ESCROW_METRICS_TOKEN", "metrics-token-1")]);
    assert_eq!(status(&get(&addr, "/metrics")), "HTTP/1.1 401 Unauthorized");
    for wrong in [
        "Bearer metrics-token-2",
        "Bearer ",
        "metrics-token-1",
        "Basic bWV0cmljcw==",
    ] {
        let r = get_with(&addr, "/metrics", &format!("Authorization: {wrong}\r\n"));
        assert_eq!(status(&r), "HTTP/1.1 401 Unauthorized", "{wrong}");
        assert!(!r.contains("escrow_money"), "{r}");
    }
    let r = get_with(
        &addr,
        "/metrics",
        "Authorization: Bearer metrics-token-1\r\n",
    );
    assert_eq!(status(&r), "HTTP/1.1 200 OK", "{r}");
    assert!(r.contains("escrow_http_requests"), "{r}");
    child.kill().unwrap();
    child.wait().unwrap();

    // Its own listener: there, and only there.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_escrow-server"));
    cmd.current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .env("ESCROW_LISTEN", "127.0.0.1:0")
        .env("ESCROW_METRICS_LISTEN", "127.0.0.1:0");
    support::env::scrub(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = [String::new(), String::new()];
    for l in &mut lines {
        out.read_line(l).unwrap();
    }
    let public = lines[0]
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .to_string();
    let private = lines[1]
        .trim()
        .strip_prefix("metrics on http://")
        .unwrap_or_else(|| panic!("{lines:?}"))
        .to_string();
    assert_eq!(status(&get(&public, "/metrics")), "HTTP/1.1 404 Not Found");
    assert_eq!(status(&get(&public, "/healthz")), "HTTP/1.1 200 OK");
    let r = get(&private, "/metrics");
    assert_eq!(status(&r), "HTTP/1.1 200 OK", "{r}");
    assert_eq!(status(&get(&private, "/healthz")), "HTTP/1.1 404 Not Found");
    assert_eq!(
        status(&get(&private, "/api/admin/escrow/balance")),
        "HTTP/1.1 404 Not Found"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    // Production: metrics on the public listener without a token only when asked for.
    let production = [
        ("ESCROW_ENV", "production"),
        ("JWT_SECRET", "metrics-test-jwt-secret"),
        ("STRIPE_SECRET_KEY", "sk_test_metrics"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_metrics"),
        ("STRIPE_API_BASE", "http://127.0.0.1:9"),
    ];
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_escrow-server"));
    cmd.current_dir(dir.path())
        .env("ESCROW_LISTEN", "127.0.0.1:0");
    support::env::scrub(&mut cmd);
    let out = cmd.envs(production).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("ESCROW_METRICS_PUBLIC=true"), "{said}");
    let mut env = production.to_vec();
    env.push(("ESCROW_METRICS_PUBLIC", "true"));
    let (mut child, addr) = start(dir.path(), &env);
    assert_eq!(status(&get(&addr, "/metrics")), "HTTP/1.1 200 OK");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Two servers on one store, auto-release on with a short window: every completed contract
/// is released once, by whichever server's timer pass claims it (the other finds it claimed or
/// done), and nothing is released twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_store_auto_release_each_completed_contract_once() {
    use escrow::auth::{JwtKeys, Principal, Role};
    use escrow::domain::{JobId, UserId};
    let dir = tempfile::tempdir().unwrap();
    let (jwt, whsec) = ("two-servers-secret", "whsec_two_servers");
    let env = [
        ("JWT_SECRET", jwt),
        ("STRIPE_WEBHOOK_SECRET", whsec),
        ("ESCROW_AUTO_RELEASE_AFTER", "1s"),
        ("RUST_LOG", "warn"),
    ];
    let (mut first, a) = start(dir.path(), &env);
    let (mut second, b) = start(dir.path(), &env);
    let http = reqwest::Client::new();
    let keys = JwtKeys::new(jwt.as_bytes());
    let now = chrono::Utc::now().timestamp() as u64;
    let token = |id: &UserId, role| {
        keys.mint(
            &Principal {
                id: id.clone(),
                role,
            },
            now,
            600,
        )
    };
    let admin = token(&UserId::generate(), Role::Admin);
    let mut contracts = vec![];
    for i in 0..6 {
        // Half the contracts go through one server, half through the other.
        let base = format!("http://{}", if i % 2 == 0 { &a } else { &b });
        let (client, freelancer) = (UserId::generate(), UserId::generate());
        let (ct, ft) = (
            token(&client, Role::Client),
            token(&freelancer, Role::Freelancer),
        );
        let job = JobId::generate();
        let v: serde_json::Value = http
            .post(format!("{base}/api/client/contract/create-contract/{job}"))
            .bearer_auth(&ct)
            .json(&serde_json::json!({"freelancerId": freelancer.as_str(), "amount": 10}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = v["data"]["id"].as_str().unwrap().to_string();
        let ok = |r: reqwest::Response| assert!(r.status().is_success(), "{}", r.status());
        ok(http
            .post(format!(
                "{base}/api/freelancer/contract/approve-contract/{id}"
            ))
            .bearer_auth(&ft)
            .send()
            .await
            .unwrap());
        let body = support::stripe::checkout_completed(
            &format!("evt_{id}"),
            &format!("cs_{id}"),
            Some(&format!("pi_{id}")),
            1000,
            serde_json::json!({"contractId": id}),
        );
        ok(http
            .post(format!("{base}/webhook"))
            .header("stripe-signature", support::stripe::signature(&body, whsec))
            .body(body)
            .send()
            .await
            .unwrap());
        for s in ["Started", "Ongoing", "Completed"] {
            ok(http
                .put(format!("{base}/api/freelancer/contract/update-status/{id}"))
                .bearer_auth(&ft)
                .json(&serde_json::json!({"status": s}))
                .send()
                .await
                .unwrap());
        }
        contracts.push(id);
    }
    // Each server runs its due timers every few seconds: wait for every release.
    let started = Instant::now();
    let details = loop {
        let mut details = vec![];
        for id in &contracts {
            let v: serde_json::Value = http
                .get(format!("http://{a}/api/contracts/{id}"))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            details.push(v);
        }
        if details.iter().all(|d| d["escrow"]["status"] == "released") {
            break details;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not every contract was auto-released: {details:#?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for d in &details {
        let releases: Vec<_> = d["ledger"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "release")
            .map(|e| e["transferId"].as_str().unwrap().to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(releases.len(), 1, "released once: {d:#}");
        let by_system = d["escrow"]["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["actor"] == "system:auto-release")
            .count();
        assert_eq!(by_system, 1, "{d:#}");
    }
    for child in [&mut first, &mut second] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

/// A server killed while it holds a timer's lease: the other server on the store leaves the
/// timer alone while the lease lasts, then takes it over and finishes it; the money moved once.
/// The first server dies inside the timer's work: the auto-release released the escrow and its
/// payout's transfer hangs at Stripe when the server is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_holding_a_timer_lease_leaves_it_to_another_after_the_lease() {
    use escrow::auth::{JwtKeys, Principal, Role};
    use escrow::domain::{JobId, UserId};
    use escrow::store::{ContractStore, PayoutStore, TimerStore};
    let stripe = fake_stripe::FakeStripe::start().await;
    stripe.fail_transfers([fake_stripe::Fault::Hang(Duration::from_secs(60))]);
    let dir = tempfile::tempdir().unwrap();
    let (jwt, whsec, connect) = ("lease-secret", "whsec_lease", "whsec_lease_connect");
    let env = [
        ("JWT_SECRET", jwt),
        ("STRIPE_WEBHOOK_SECRET", whsec),
        ("STRIPE_SECRET_KEY", fake_stripe::SECRET_KEY),
        ("STRIPE_API_BASE", stripe.base.as_str()),
        ("STRIPE_TIMEOUT_S", "60"),
        ("STRIPE_CONNECT_WEBHOOK_SECRET", connect),
        ("ESCROW_PAYOUT_MODE", "on_release"),
        ("ESCROW_AUTO_RELEASE_AFTER", "1s"),
        ("ESCROW_TIMER_LEASE", "6s"),
        ("RUST_LOG", "warn"),
    ];
    let (mut first, a) = start(dir.path(), &env);
    let http = reqwest::Client::new();
    let keys = JwtKeys::new(jwt.as_bytes());
    let now = chrono::Utc::now().timestamp() as u64;
    let token = |id: &UserId, role| {
        keys.mint(
            &Principal {
                id: id.clone(),
                role,
            },
            now,
            600,
        )
    };
    let (client, freelancer) = (UserId::generate(), UserId::generate());
    let (ct, ft) = (
        token(&client, Role::Client),
        token(&freelancer, Role::Freelancer),
    );
    let base = format!("http://{a}");
    let ok = |r: reqwest::Response| assert!(r.status().is_success(), "{}", r.status());
    // The freelancer onboards: Stripe makes the account and says it takes payouts.
    let onboarding: serde_json::Value = http
        .post(format!("{base}/api/freelancer/payouts/onboarding"))
        .bearer_auth(&ft)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let account = onboarding["accountId"].as_str().unwrap().to_string();
    stripe.enable_account(&account);
    let updated = support::stripe::account_updated(
        "evt_acct_lease",
        &account,
        true,
        &[],
        chrono::Utc::now().timestamp(),
    );
    ok(http
        .post(format!("{base}/webhook/connect"))
        .header(
            "stripe-signature",
            support::stripe::signature(&updated, connect),
        )
        .body(updated)
        .send()
        .await
        .unwrap());
    // A contract funded and completed: its auto-release falls due a second later.
    let job = JobId::generate();
    let v: serde_json::Value = http
        .post(format!("{base}/api/client/contract/create-contract/{job}"))
        .bearer_auth(&ct)
        .json(&serde_json::json!({"freelancerId": freelancer.as_str(), "amount": 10}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = v["data"]["id"].as_str().unwrap().to_string();
    ok(http
        .post(format!(
            "{base}/api/freelancer/contract/approve-contract/{id}"
        ))
        .bearer_auth(&ft)
        .send()
        .await
        .unwrap());
    let body = support::stripe::checkout_completed(
        &format!("evt_{id}"),
        &format!("cs_{id}"),
        Some(&format!("pi_{id}")),
        1000,
        serde_json::json!({"contractId": id}),
    );
    ok(http
        .post(format!("{base}/webhook"))
        .header("stripe-signature", support::stripe::signature(&body, whsec))
        .body(body)
        .send()
        .await
        .unwrap());
    for s in ["Started", "Ongoing", "Completed"] {
        ok(http
            .put(format!("{base}/api/freelancer/contract/update-status/{id}"))
            .bearer_auth(&ft)
            .json(&serde_json::json!({"status": s}))
            .send()
            .await
            .unwrap());
    }
    // The first server's timer pass claims the auto-release, releases, and hangs on the
    // payout's transfer: it is killed there, holding the lease.
    let started = Instant::now();
    while stripe.requests_to("/v1/transfers").is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no transfer was tried"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let killed_at = Instant::now();
    let timer_id = format!("auto_release:{id}");
    let store =
        escrow::store::sqlite::SqliteStore::open(dir.path().join("escrow-data/escrow.db")).unwrap();
    let held = store.get_timer(&timer_id).await.unwrap().expect("stored");
    assert!(held.holder.is_some() && held.done_at.is_none(), "{held:?}");
    // The second server starts on the same store: while the dead server's lease lasts, the
    // timer is left alone; after it, the second server finishes it.
    let (mut second, _) = start(dir.path(), &env);
    let done = loop {
        let t = store.get_timer(&timer_id).await.unwrap().unwrap();
        if t.done_at.is_some() {
            break t;
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(60),
            "never taken over: {t:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let taken_after = killed_at.elapsed();
    assert!(
        taken_after >= Duration::from_secs(3),
        "taken over {taken_after:?} after the kill, inside the dead server's 6 s lease"
    );
    assert_ne!(done.holder, held.holder, "another server finished it");
    // The payout's own timer pays it out once: one transfer, however often it was sent.
    let started = Instant::now();
    let c = loop {
        let c = store
            .get_contract(&id.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        let paid = store
            .payouts_after(None, 10)
            .await
            .unwrap()
            .iter()
            .any(|p| p.status == escrow::domain::PayoutStatus::Paid);
        if paid {
            break c;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the payout was never paid"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        c.escrow_status(),
        Some(escrow::domain::EscrowStatus::Released)
    );
    let keys: std::collections::BTreeSet<_> = stripe
        .requests_to("/v1/transfers")
        .into_iter()
        .filter_map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 1, "one payout, one idempotency key: {keys:?}");
    assert_eq!(stripe.transfers().len(), 1, "one transfer made");
    let releases = store
        .entries_for_contract(&c.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == escrow::domain::TransferKind::Release)
        .map(|e| e.transfer_id)
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(releases.len(), 1, "released once");
    second.kill().unwrap();
    second.wait().unwrap();
}
