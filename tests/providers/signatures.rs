//! Webhook signatures cross-checked with the official Stripe SDK (npm `stripe`): headers it
//! makes verify here, tampered and stale ones do not, and headers made here verify there.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, WEBHOOK_SECRET, error_code};
use crate::tools;

fn node_header(payload: &str, secret: &str, timestamp: i64) -> String {
    let v = tools::node(
        "stripe-signature.js",
        &json!({"op": "sign", "payload": payload, "secret": secret, "timestamp": timestamp}),
    );
    v["header"].as_str().expect("a header").to_string()
}

#[test]
fn the_official_sdk_and_this_crate_sign_the_same_bytes_the_same_way() {
    if tools::node_packages().is_err() {
        return;
    }
    let payload = r#"{"id":"evt_1","object":"event"}"#;
    for (secret, t) in [
        ("whsec_test_secret", 1_700_000_000),
        ("whsec_abc", 1_764_300_000),
    ] {
        assert_eq!(
            node_header(payload, secret, t),
            escrow::payment::webhook::sign(payload.as_bytes(), secret, t)
        );
    }
    // And the other way: the SDK's own verifier accepts a header made here, now.
    let now = chrono::Utc::now().timestamp();
    let ours = escrow::payment::webhook::sign(payload.as_bytes(), "whsec_abc", now);
    let v = tools::node(
        "stripe-signature.js",
        &json!({"op": "verify", "payload": payload, "header": ours, "secret": "whsec_abc"}),
    );
    assert_eq!(v, json!({"ok": true, "id": "evt_1"}));
    let v = tools::node(
        "stripe-signature.js",
        &json!({"op": "verify", "payload": payload, "header": ours, "secret": "whsec_other"}),
    );
    assert_eq!(v["ok"], false);
}

#[tokio::test]
async fn a_payment_signed_by_the_official_sdk_is_accepted_and_tampered_or_stale_ones_are_not() {
    if tools::node_packages().is_err() {
        return;
    }
    let app = TestApp::spawn().await;
    let p = app.approved_contract(json!(1000)).await;
    let pi = format!("pi_{}", p.contract);
    let body = app.payment_event("evt_node_1", &p, 100_000, &pi);
    let now = chrono::Utc::now().timestamp();

    // Tampered: the header signs the real body, the request carries another amount.
    let header = node_header(&body, WEBHOOK_SECRET, now);
    let tampered = body.replace("\"amount_total\":100000", "\"amount_total\":100");
    assert_ne!(tampered, body);
    assert_eq!(
        error_code(app.post_webhook_with(&tampered, Some(&header)).await).await,
        (StatusCode::BAD_REQUEST, "webhook.signature_invalid".into())
    );
    // Signed with another endpoint's secret.
    let other = node_header(&body, "whsec_someone_else", now);
    assert_eq!(
        error_code(app.post_webhook_with(&body, Some(&other)).await).await,
        (StatusCode::BAD_REQUEST, "webhook.signature_invalid".into())
    );
    // 301 seconds old: outside Stripe's 300 s tolerance.
    let stale = node_header(&body, WEBHOOK_SECRET, now - 301);
    assert_eq!(
        error_code(app.post_webhook_with(&body, Some(&stale)).await).await,
        (
            StatusCode::BAD_REQUEST,
            "webhook.timestamp_out_of_tolerance".into()
        )
    );
    assert_eq!(app.contract(&p).await["contract"]["escrowPaid"], false);

    // Old but inside the tolerance, and the genuine one: accepted and applied once.
    let fresh = node_header(&body, WEBHOOK_SECRET, now - 240);
    let r = app.post_webhook_with(&body, Some(&fresh)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["outcome"], "applied", "{v}");
    let detail = app.contract(&p).await;
    assert_eq!(detail["escrow"]["status"], "funded");
    assert_eq!(detail["escrow"]["paymentIntentId"], pi.as_str());
    app.stop().await;
}
