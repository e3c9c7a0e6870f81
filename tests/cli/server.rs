//! escrowctl and escrow-server on the same SQLite file at the same time.

use std::collections::HashMap;

use escrow::auth::{JwtKeys, Principal, Role};
use escrow::config::{Config, Sources};
use escrow::domain::UserId;
use tokio::sync::oneshot;

use crate::helpers::{Fixture, JWT_SECRET, WEBHOOK_SECRET};
use crate::support::money::minor;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_through_the_cli_is_seen_by_the_running_server_at_once() {
    let f = Fixture::new().await;
    let d = f.requested("1000").await;

    // The server, in-process on port 0, on the fixture's data directory.
    let values: HashMap<String, String> = [
        (
            "ESCROW_DATA_DIR",
            f.dir.path().to_string_lossy().to_string(),
        ),
        ("JWT_SECRET", JWT_SECRET.to_string()),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let config = Config::from_sources(&Sources::from_map(values)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = escrow::http::state::build(&config, addr).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(escrow::http::serve(listener, state, async move {
        let _ = stopped.await;
    }));

    let admin = Principal {
        id: UserId::generate(),
        role: Role::Admin,
    };
    let token = JwtKeys::new(JWT_SECRET.as_bytes()).mint(
        &admin,
        chrono::Utc::now().timestamp() as u64,
        600,
    );
    let http = reqwest::Client::new();
    let get = |path: String| {
        let (http, token) = (http.clone(), token.clone());
        async move {
            let r = http
                .get(format!("http://{addr}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let before = get(format!("/api/contracts/{}", d.contract)).await;
    assert_eq!(before["escrow"]["status"], "funded", "{before}");

    f.ctl(&[
        "escrow",
        "release",
        &d.contract,
        "--yes",
        "--actor",
        "ops:dana",
    ])
    .await
    .assert_code(0);

    let after = get(format!("/api/contracts/{}", d.contract)).await;
    assert_eq!(after["escrow"]["status"], "released", "{after}");
    let last = after["escrow"]["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["actor"], "ops:dana");
    let wallet = get(format!("/api/admin/wallet/{}", d.freelancer)).await;
    assert_eq!(minor(&wallet["balance"]), 90_000, "{wallet}");
    // And the server's own release now finds it released: exactly once.
    let r = http
        .put(format!(
            "http://{addr}/api/admin/escrow/release-fund/{}",
            d.contract
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CONFLICT);

    let _ = stop.send(());
    let _ = server.await;
}
