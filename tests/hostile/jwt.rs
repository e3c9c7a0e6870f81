//! JWT attacks, as a table over every route that needs a token: forged, expired, tampered and
//! misdirected tokens are refused with 401, a valid token of the wrong role or of another user
//! with 403, and none of it changes anything. The table is checked against `/openapi.json`, so
//! a new secured route without a row fails this test.

use std::collections::BTreeSet;

use base64::Engine;
use escrow::auth::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::world::{JWT_SECRET, User, World, code};

/// An RSA key made for this test (`openssl genrsa 2048`, DER, base64): the attacker's own key.
const ATTACKER_RSA_DER_B64: &str = concat!(
    "MIIEowIBAAKCAQEAu7RSxW5IbxHCt75tkX2thuZXDC0n4BcM9GCv0zqiJG9d5Ov9TimpnWKW0+CdxSWmFtbKwYms",
    "VvtqoFU0Yzi4WuuJKtQBTAHFYY3r2lgLdDyns1FhgJwrmAN7NuKw39TQpvf6d7GJ7Up80hIZ5ZaCYcYWswLM8QxH",
    "y2IOpkSNDHvwiVrjciXjoouliaX9vVJbDuYN2ifgCMSvwKYje9Ub37/h3sdav8UhT3iVUQMBL/2bO8Ryx64SVMyE",
    "ycG+P4nqxwqzXOQAYtCTWHQ3ceHav40gY2IynIp1xrFQ5XRpqN5+e6hpfLm9EIU1sjRyi/Dyx/v2HGA/jedaH7vn",
    "lzMpHwIDAQABAoIBABuMAUG8R6EVSDBTIB1kBl1v3IKK9fkrKNmMfwFO75DNT0hTYd9gueXBHEWIB19xgQiFCUiR",
    "/dreFu3k00Vkg5nES2MfrfkLoX4Jp/1pQnUSmcH1RYvsX3F1wVVyu2Z+AwkeB4IdahKLBfqGcYqCJixXN+mZlZ4i",
    "oT6161R3ZwPXw42yCX+24wl/gPPTVmwUxF1srVhOpX7IX7eLR0YkZkEOlHxk9jlhcNZnYI6rtmN637TyC83WeJKn",
    "X/caKoxA33ER7zMX7d7G441ou5CWlBU7AydljqLbGK0g2A8aaF1iX6ZP8Y2tnenX0LYVNqqaJLkpbm65w4Rqt1fF",
    "ZvC45kECgYEA/lHD5M5zQZ21war/gzcN//vThMmC4PN2yXWPOK7JvgJhR9+RQ+xIULT85Oasy0JjVIZt4zd+oQXE",
    "B+qPls8z5oRCvxYrjNTO2h9MG1u+2GELwECwY7sI0Kp2Yu4/quypI75nATJtJUX5X9D7bA6ev81mQmN+AC0DdWSD",
    "TOrC6nECgYEAvPHdZA5Qc0UFTyczKw/zUo1ScsmGVtPG/hdETblo8M2/+lLbGLvBG491RohacO6v24A3t/h2ZFfR",
    "bYck6IFwe1iEVygiaeaRLdmYTNAvIO4nS09x7VHIdT9S6AFBN0LsPMAkFEw82MAeo4YJJgI5QCVhYmCQa9LbYexx",
    "OckHdI8CgYBnPfBFeZ4GfCymA3IY5Ye0bJnQpTGReqS1YhkTTLmvfi3ZzKOfLFOrF942WoK5PSkvzibb/9JTMhED",
    "mbBS66jJItYp1qk1Ucrrd5sg3BzcoIDxuhEhW3NXqmvG+6szC0IatZgBP2RZpk93G1KF6mV9vbeOqe8jySJHTNeU",
    "qRUZsQKBgFy038fkLh0g1IYN2dFbNixfIwEnWD7qEk1B5UWtn4vnqDaOyOnN1eZL8WL2LEoVEzxEIRKnWo/Jdvyi",
    "vr1GJYaf2+9XxeroMnuotE2cKEOkFquhA2lKI21D8M3dL76Jm5gDPrCm54QCYAYkEgEQPj73GF1IvBPrlbDqbnPH",
    "61yJAoGBANsmlC3YWYQsrpwM6J0EpU44kKMTfrLztnEtos9N326t7KDmA/OHBlwjVg4aNzFQQKCE1013GiM2EryB",
    "Y0l7aKomwCBYq/VW6d/Tdebj5oWm7f91YmeHbN3STYtMBYmFKut6ByogfGMYJpHiWKLjkUEj2WTxDSklh6aEd+Kp",
    "4Nl7",
);

/// What a route's request carries besides its token.
#[derive(Clone)]
enum Body {
    None,
    Json(Value),
    /// `multipart/form-data` with a one-pixel GIF in the field `media`.
    Upload,
}

#[derive(Clone)]
struct Route {
    method: &'static str,
    /// The path as `/openapi.json` names it.
    template: &'static str,
    path: String,
    body: Body,
    /// A caller the route would serve: forged tokens claim to be this one.
    owner: User,
}

const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

async fn call(w: &World, route: &Route, authorization: Option<&str>) -> (u16, Value) {
    let mut r = w
        .http
        .request(route.method.parse().unwrap(), w.url(&route.path));
    if let Some(a) = authorization {
        r = r.header("authorization", a);
    }
    r = match &route.body {
        Body::None => r,
        Body::Json(v) => r.json(v),
        Body::Upload => r.multipart(
            reqwest::multipart::Form::new().part(
                "media",
                reqwest::multipart::Part::bytes(GIF.to_vec())
                    .file_name("a.gif")
                    .mime_str("image/gif")
                    .unwrap(),
            ),
        ),
    };
    let r = r.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn claims(u: &User) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"id": u.id.as_str(), "role": u.role.as_str(), "exp": now + 600})
}

fn sign(alg: Algorithm, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, key).unwrap()
}

fn hs(alg: Algorithm, claims: &Value, secret: &[u8]) -> String {
    sign(alg, claims, &EncodingKey::from_secret(secret))
}

/// A token assembled by hand: `header.payload.signature`, each as given.
fn assemble(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(signature)
    )
}

type Forgery = (&'static str, Box<dyn Fn(&User) -> Option<String>>);

/// Each way to present a token that must not be accepted, built for the route's owner.
fn forgeries(attacker: &User) -> Vec<Forgery> {
    let rsa = EncodingKey::from_rsa_der(
        &base64::engine::general_purpose::STANDARD
            .decode(ATTACKER_RSA_DER_B64)
            .unwrap(),
    );
    let attacker_token = attacker.token.clone();
    let secret = JWT_SECRET.as_bytes();
    let bearer = |t: String| Some(format!("Bearer {t}"));
    vec![
        ("no Authorization header", Box::new(|_| None)),
        ("an empty bearer", Box::new(|_| Some("Bearer ".into()))),
        (
            "a valid token under the Basic scheme",
            Box::new(move |u| {
                Some(format!(
                    "Basic {}",
                    crate::process::token(JWT_SECRET, u.role, &u.id)
                ))
            }),
        ),
        (
            "alg none",
            Box::new(move |u| {
                bearer(assemble(
                    &json!({"alg": "none", "typ": "JWT"}),
                    &claims(u),
                    b"",
                ))
            }),
        ),
        (
            "alg NONE",
            Box::new(move |u| {
                bearer(assemble(
                    &json!({"alg": "NONE", "typ": "JWT"}),
                    &claims(u),
                    b"",
                ))
            }),
        ),
        (
            "HS512 with the server's own secret",
            Box::new(move |u| bearer(hs(Algorithm::HS512, &claims(u), secret))),
        ),
        (
            "HS384 with the server's own secret",
            Box::new(move |u| bearer(hs(Algorithm::HS384, &claims(u), secret))),
        ),
        (
            "RS256 signed with the attacker's RSA key",
            Box::new(move |u| bearer(sign(Algorithm::RS256, &claims(u), &rsa))),
        ),
        (
            "an RS256 header over an HMAC with the server's secret (algorithm confusion)",
            Box::new(move |u| {
                let t = hs(Algorithm::HS256, &claims(u), secret);
                let (_, rest) = t.split_once('.').unwrap();
                bearer(format!(
                    "{}.{rest}",
                    b64(json!({"alg": "RS256", "typ": "JWT"}).to_string().as_bytes())
                ))
            }),
        ),
        (
            "HS256 with a wrong secret",
            Box::new(move |u| bearer(hs(Algorithm::HS256, &claims(u), b"not-the-secret"))),
        ),
        (
            "HS256 with an empty secret",
            Box::new(move |u| bearer(hs(Algorithm::HS256, &claims(u), b""))),
        ),
        (
            "expired a minute ago",
            Box::new(move |u| {
                let mut c = claims(u);
                c["exp"] = json!(chrono::Utc::now().timestamp() - 60);
                bearer(hs(Algorithm::HS256, &c, secret))
            }),
        ),
        (
            "not valid for another hour (nbf)",
            Box::new(move |u| {
                let mut c = claims(u);
                c["nbf"] = json!(chrono::Utc::now().timestamp() + 3600);
                bearer(hs(Algorithm::HS256, &c, secret))
            }),
        ),
        (
            "an unknown critical header extension (crit)",
            Box::new(move |u| {
                let header = Header {
                    crit: Some(vec!["exp-ext".into()]),
                    ..Header::new(Algorithm::HS256)
                };
                bearer(
                    jsonwebtoken::encode(&header, &claims(u), &EncodingKey::from_secret(secret))
                        .unwrap(),
                )
            }),
        ),
        (
            "no exp claim",
            Box::new(move |u| {
                let mut c = claims(u);
                c.as_object_mut().unwrap().remove("exp");
                bearer(hs(Algorithm::HS256, &c, secret))
            }),
        ),
        (
            "exp as a string",
            Box::new(move |u| {
                let mut c = claims(u);
                c["exp"] = json!("9999999999");
                bearer(hs(Algorithm::HS256, &c, secret))
            }),
        ),
        (
            "the attacker's own valid token with the payload edited to the owner's claims, signature kept",
            Box::new(move |u| {
                let parts: Vec<&str> = attacker_token.split('.').collect();
                bearer(format!(
                    "{}.{}.{}",
                    parts[0],
                    b64(claims(u).to_string().as_bytes()),
                    parts[2]
                ))
            }),
        ),
        (
            "an unknown role",
            Box::new(move |u| {
                let mut c = claims(u);
                c["role"] = json!("superadmin");
                bearer(hs(Algorithm::HS256, &c, secret))
            }),
        ),
        (
            "no id",
            Box::new(move |u| {
                let mut c = claims(u);
                c.as_object_mut().unwrap().remove("id");
                bearer(hs(Algorithm::HS256, &c, secret))
            }),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_tampered_and_misdirected_tokens_are_refused_on_every_route_and_change_nothing()
 {
    let w = World::start(&[]);
    let (a, f) = (User::new(Role::Client), User::new(Role::Freelancer));
    let (b, g) = (User::new(Role::Client), User::new(Role::Freelancer));
    let admin = w.admin.clone();
    let new = w.created(&a, &f).await;
    let approved = w.approved(&a, &f).await;
    let funded = w.funded(&a, &f).await;
    let completed = w.completed(&a, &f).await;
    let requested = w.requested(&a, &f).await;
    let fresh_job = escrow::domain::JobId::generate();

    let route = |method, template, path: String, body: Body, owner: &User| Route {
        method,
        template,
        path,
        body,
        owner: owner.clone(),
    };
    let routes = vec![
        route(
            "POST",
            "/api/client/contract/create-contract/{jobId}",
            format!("/api/client/contract/create-contract/{fresh_job}"),
            Body::Json(json!({"freelancerId": f.id.as_str(), "amount": "10"})),
            &a,
        ),
        route(
            "POST",
            "/api/freelancer/contract/approve-contract/{contractId}",
            format!("/api/freelancer/contract/approve-contract/{}", new.contract),
            Body::None,
            &f,
        ),
        route(
            "PUT",
            "/api/freelancer/contract/update-status/{contractId}",
            format!("/api/freelancer/contract/update-status/{}", funded.contract),
            Body::Json(json!({"status": "Started"})),
            &f,
        ),
        route(
            "GET",
            "/api/contracts/{contractId}",
            format!("/api/contracts/{}", funded.contract),
            Body::None,
            &a,
        ),
        route(
            "POST",
            "/api/client/job/payment/{jobId}",
            format!("/api/client/job/payment/{}", approved.job),
            Body::Json(json!({"title": "Logo"})),
            &a,
        ),
        route(
            "PATCH",
            "/api/client/contract/release-fund/{contractId}",
            format!("/api/client/contract/release-fund/{}", completed.contract),
            Body::None,
            &a,
        ),
        route(
            "PATCH",
            "/api/client/release-fund/{contractId}",
            format!("/api/client/release-fund/{}", completed.contract),
            Body::None,
            &a,
        ),
        route(
            "PUT",
            "/api/admin/escrow/release-fund/{contractId}",
            format!("/api/admin/escrow/release-fund/{}", requested.contract),
            Body::None,
            &admin,
        ),
        route(
            "PUT",
            "/api/freelancer/contract/milestones/{contractId}/{milestoneId}/submit",
            format!(
                "/api/freelancer/contract/milestones/{}/1/submit",
                funded.contract
            ),
            Body::None,
            &f,
        ),
        route(
            "PATCH",
            "/api/client/contract/release-fund/{contractId}/milestones/{milestoneId}",
            format!(
                "/api/client/contract/release-fund/{}/milestones/1",
                completed.contract
            ),
            Body::None,
            &a,
        ),
        route(
            "PUT",
            "/api/client/contract/milestones/{contractId}/{milestoneId}/reject",
            format!(
                "/api/client/contract/milestones/{}/1/reject",
                completed.contract
            ),
            Body::Json(json!({"reason": "forged"})),
            &a,
        ),
        route(
            "POST",
            "/api/client/contract/dispute/{contractId}",
            format!("/api/client/contract/dispute/{}", completed.contract),
            Body::Json(json!({"reason": "forged"})),
            &a,
        ),
        route(
            "POST",
            "/api/freelancer/contract/dispute/{contractId}/respond",
            format!(
                "/api/freelancer/contract/dispute/{}/respond",
                completed.contract
            ),
            Body::Json(json!({"description": "forged"})),
            &f,
        ),
        route(
            "PUT",
            "/api/admin/escrow/resolve-dispute/{contractId}",
            format!("/api/admin/escrow/resolve-dispute/{}", completed.contract),
            Body::Json(json!({"clientShare": 0, "freelancerShare": 0})),
            &admin,
        ),
        route(
            "PUT",
            "/api/admin/escrow/release-fund/{contractId}/milestones/{milestoneId}",
            format!(
                "/api/admin/escrow/release-fund/{}/milestones/1",
                requested.contract
            ),
            Body::None,
            &admin,
        ),
        route(
            "PUT",
            "/api/admin/escrow/refund-client/{contractId}/{clientId}",
            format!(
                "/api/admin/escrow/refund-client/{}/{}",
                funded.contract, a.id
            ),
            Body::Json(json!({"cancelReason": "x"})),
            &admin,
        ),
        route(
            "GET",
            "/api/admin/escrow/balance",
            "/api/admin/escrow/balance".into(),
            Body::None,
            &admin,
        ),
        route(
            "GET",
            "/api/admin/escrow/total-revenue",
            "/api/admin/escrow/total-revenue".into(),
            Body::None,
            &admin,
        ),
        route(
            "GET",
            "/api/admin/escrow/transactions",
            "/api/admin/escrow/transactions".into(),
            Body::None,
            &admin,
        ),
        route(
            "GET",
            "/api/admin/escrow/sales-report",
            "/api/admin/escrow/sales-report".into(),
            Body::None,
            &admin,
        ),
        route(
            "GET",
            "/api/freelancer/wallet",
            "/api/freelancer/wallet".into(),
            Body::None,
            &f,
        ),
        route(
            "GET",
            "/api/admin/wallet/{userId}",
            format!("/api/admin/wallet/{}", f.id),
            Body::None,
            &admin,
        ),
        route(
            "POST",
            "/api/client/review/rate-freelancer/{clientId}",
            format!("/api/client/review/rate-freelancer/{}", a.id),
            Body::Json(
                json!({"freelancerId": f.id.as_str(), "contractId": completed.contract, "rating": 1, "description": "forged"}),
            ),
            &a,
        ),
        route(
            "POST",
            "/api/media/upload",
            "/api/media/upload".into(),
            Body::Upload,
            &a,
        ),
        // The original app's contract routes.
        route(
            "POST",
            "/api/client/contract/create-contract/{jobId}/{clientId}",
            format!("/api/client/contract/create-contract/{fresh_job}/{}", a.id),
            Body::Json(json!({"freelancerId": f.id.as_str(), "amount": "10"})),
            &a,
        ),
        route(
            "POST",
            "/api/freelancer/contract/approve-contract/{contractId}/{freelancerId}",
            format!(
                "/api/freelancer/contract/approve-contract/{}/{}",
                new.contract, f.id
            ),
            Body::None,
            &f,
        ),
        route(
            "GET",
            "/api/freelancer/contract/view-contract/{contractId}",
            format!("/api/freelancer/contract/view-contract/{}", funded.contract),
            Body::None,
            &a,
        ),
        route(
            "GET",
            "/api/client/contract/get-contracts/{clientId}",
            format!("/api/client/contract/get-contracts/{}", a.id),
            Body::None,
            &a,
        ),
        route(
            "GET",
            "/api/freelancer/contract/get-contracts/{freelancerId}",
            format!("/api/freelancer/contract/get-contracts/{}", f.id),
            Body::None,
            &f,
        ),
        route(
            "GET",
            "/api/client/contract/is-created/{jobId}/{clientId}",
            format!("/api/client/contract/is-created/{}/{}", approved.job, a.id),
            Body::None,
            &a,
        ),
        route(
            "GET",
            "/api/client/contract/all-contracts",
            "/api/client/contract/all-contracts".into(),
            Body::None,
            &admin,
        ),
        route(
            "DELETE",
            "/api/client/contract/cancel-contract/{contractId}",
            format!("/api/client/contract/cancel-contract/{}", approved.contract),
            Body::None,
            &a,
        ),
        route(
            "PUT",
            "/api/admin/contract/cancel/{contractId}",
            format!("/api/admin/contract/cancel/{}", approved.contract),
            Body::None,
            &admin,
        ),
        route(
            "GET",
            "/api/freelancer/wallet/earnings/{userId}",
            format!("/api/freelancer/wallet/earnings/{}", f.id),
            Body::None,
            &f,
        ),
        route(
            "GET",
            "/api/freelancer/wallet/transactions/{walletId}",
            format!("/api/freelancer/wallet/transactions/{}", f.id),
            Body::None,
            &f,
        ),
        route(
            "GET",
            "/api/freelancer/wallet/user-sales-report/{userId}",
            format!("/api/freelancer/wallet/user-sales-report/{}", f.id),
            Body::None,
            &f,
        ),
        // Money out.
        route(
            "POST",
            "/api/freelancer/payouts/onboarding",
            "/api/freelancer/payouts/onboarding".into(),
            Body::None,
            &f,
        ),
        route(
            "GET",
            "/api/freelancer/payouts/account",
            "/api/freelancer/payouts/account".into(),
            Body::None,
            &f,
        ),
        route(
            "POST",
            "/api/freelancer/payouts",
            "/api/freelancer/payouts".into(),
            Body::Json(json!({"amount": "100"})),
            &f,
        ),
        route(
            "GET",
            "/api/freelancer/payouts",
            "/api/freelancer/payouts".into(),
            Body::None,
            &f,
        ),
        route(
            "GET",
            "/api/admin/payouts",
            "/api/admin/payouts".into(),
            Body::None,
            &admin,
        ),
        route(
            "GET",
            "/api/payouts/{payoutId}",
            format!("/api/payouts/{}", escrow::domain::PayoutId::generate()),
            Body::None,
            &f,
        ),
    ];

    // The table covers every secured operation of the OpenAPI document, and nothing else.
    let (_, doc) = w.send("GET", "/openapi.json", None, None).await;
    let mut secured = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op
                .get("security")
                .is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty()))
            {
                secured.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let table: BTreeSet<(String, String)> = routes
        .iter()
        .map(|r| (r.method.to_string(), r.template.to_string()))
        .collect();
    assert_eq!(
        table, secured,
        "the attack table and the document's secured routes differ"
    );

    let deals = [&new, &approved, &funded, &completed, &requested];
    let users = [&a, &f, &b, &g];
    let before = w.snapshot(&deals, &users).await;
    let mut attacks = 0u64;

    // 401: every forgery on every route, claiming to be the one caller the route would serve.
    for (name, forge) in forgeries(&b) {
        for r in &routes {
            let header = forge(&r.owner);
            let (status, body) = call(&w, r, header.as_deref()).await;
            attacks += 1;
            assert_eq!(status, 401, "{name} on {} {}: {body}", r.method, r.template);
            assert!(
                code(&body) == "auth.invalid_token" || code(&body) == "auth.missing_token",
                "{name} on {} {}: {body}",
                r.method,
                r.template
            );
        }
    }

    // 403: valid tokens of the wrong role, or of a user whose id is not the one in the path or
    // whose contract it is not.
    let find = |template: &str| {
        routes
            .iter()
            .find(|r| r.template == template)
            .unwrap()
            .clone()
    };
    let with_path = |template: &str, path: String| Route {
        path,
        ..find(template)
    };
    let mut misdirected: Vec<(String, Route, &User)> = vec![];
    for template in [
        "/api/admin/escrow/release-fund/{contractId}",
        "/api/admin/escrow/release-fund/{contractId}/milestones/{milestoneId}",
        "/api/admin/escrow/resolve-dispute/{contractId}",
        "/api/admin/escrow/balance",
        "/api/admin/escrow/total-revenue",
        "/api/admin/escrow/transactions",
        "/api/admin/escrow/sales-report",
        "/api/admin/wallet/{userId}",
        "/api/client/contract/all-contracts",
        "/api/admin/contract/cancel/{contractId}",
        "/api/admin/payouts",
    ] {
        for (who, u) in [
            ("its client", &a),
            ("its freelancer", &f),
            ("another client", &b),
            ("another freelancer", &g),
        ] {
            // The one exception by design: a user may read their own wallet by its id.
            if template == "/api/admin/wallet/{userId}" && u.id == f.id {
                continue;
            }
            misdirected.push((format!("{who} on an admin route"), find(template), u));
        }
    }
    let refund = "/api/admin/escrow/refund-client/{contractId}/{clientId}";
    misdirected.extend([
        (
            "another client refunding with the owner's :clientId".into(),
            find(refund),
            &b,
        ),
        (
            "another client refunding with its own :clientId".into(),
            with_path(
                refund,
                format!(
                    "/api/admin/escrow/refund-client/{}/{}",
                    funded.contract, b.id
                ),
            ),
            &b,
        ),
        (
            "the contract's freelancer refunding".into(),
            find(refund),
            &f,
        ),
        ("another freelancer refunding".into(), find(refund), &g),
    ]);
    let rate = "/api/client/review/rate-freelancer/{clientId}";
    misdirected.extend([
        (
            "another client reviewing under the owner's :clientId".into(),
            find(rate),
            &b,
        ),
        (
            "another client reviewing someone else's contract under its own :clientId".into(),
            with_path(rate, format!("/api/client/review/rate-freelancer/{}", b.id)),
            &b,
        ),
        ("the freelancer reviewing".into(), find(rate), &f),
    ]);
    // A client on a freelancer's money-out routes: the wrong role.
    for template in [
        "/api/freelancer/payouts/onboarding",
        "/api/freelancer/payouts/account",
        "/api/freelancer/payouts",
    ] {
        misdirected.push((format!("a client on {template}"), find(template), &a));
    }
    misdirected.push((
        "another client reading someone's wallet by :userId".into(),
        with_path(
            "/api/admin/wallet/{userId}",
            format!("/api/admin/wallet/{}", a.id),
        ),
        &b,
    ));
    for (who, u) in [("another client", &b), ("another freelancer", &g)] {
        misdirected.push((
            format!("{who} reading the contract"),
            find("/api/contracts/{contractId}"),
            u,
        ));
    }
    for (who, u) in [
        ("the client", &a),
        ("another client", &b),
        ("another freelancer", &g),
    ] {
        misdirected.push((
            format!("{who} approving"),
            find("/api/freelancer/contract/approve-contract/{contractId}"),
            u,
        ));
    }
    for (who, u) in [("the client", &a), ("another freelancer", &g)] {
        misdirected.push((
            format!("{who} moving the status"),
            find("/api/freelancer/contract/update-status/{contractId}"),
            u,
        ));
        misdirected.push((
            format!("{who} submitting a milestone"),
            find("/api/freelancer/contract/milestones/{contractId}/{milestoneId}/submit"),
            u,
        ));
        misdirected.push((
            format!("{who} answering a dispute"),
            find("/api/freelancer/contract/dispute/{contractId}/respond"),
            u,
        ));
    }
    for template in [
        "/api/client/contract/release-fund/{contractId}",
        "/api/client/release-fund/{contractId}",
        "/api/client/contract/release-fund/{contractId}/milestones/{milestoneId}",
        "/api/client/contract/milestones/{contractId}/{milestoneId}/reject",
        "/api/client/contract/dispute/{contractId}",
    ] {
        for (who, u) in [
            ("the freelancer", &f),
            ("another client", &b),
            ("another freelancer", &g),
            ("an admin", &admin),
        ] {
            misdirected.push((
                format!("{who} requesting release or disputing"),
                find(template),
                u,
            ));
        }
    }
    for (who, u) in [("the freelancer", &f), ("another client", &b)] {
        misdirected.push((
            format!("{who} paying the job"),
            find("/api/client/job/payment/{jobId}"),
            u,
        ));
    }
    for (who, u) in [("a freelancer", &f), ("an admin", &admin)] {
        misdirected.push((
            format!("{who} creating a contract"),
            find("/api/client/contract/create-contract/{jobId}"),
            u,
        ));
    }
    // The original's routes that name a user serve that user (or an admin) only.
    for (template, path, intruders) in [
        (
            "/api/client/contract/get-contracts/{clientId}",
            format!("/api/client/contract/get-contracts/{}", a.id),
            vec![("another client", &b), ("a freelancer", &g)],
        ),
        (
            "/api/freelancer/contract/get-contracts/{freelancerId}",
            format!("/api/freelancer/contract/get-contracts/{}", f.id),
            vec![("another freelancer", &g), ("a client", &b)],
        ),
        (
            "/api/client/contract/is-created/{jobId}/{clientId}",
            format!("/api/client/contract/is-created/{}/{}", approved.job, a.id),
            vec![("another client", &b), ("a freelancer", &f)],
        ),
        (
            "/api/client/contract/create-contract/{jobId}/{clientId}",
            format!("/api/client/contract/create-contract/{fresh_job}/{}", a.id),
            vec![("another client under the owner's :clientId", &b)],
        ),
        (
            "/api/freelancer/contract/approve-contract/{contractId}/{freelancerId}",
            format!(
                "/api/freelancer/contract/approve-contract/{}/{}",
                new.contract, f.id
            ),
            vec![
                ("another freelancer under the owner's :freelancerId", &g),
                ("the client", &a),
            ],
        ),
        (
            "/api/freelancer/contract/approve-contract/{contractId}/{freelancerId}",
            format!(
                "/api/freelancer/contract/approve-contract/{}/{}",
                new.contract, g.id
            ),
            vec![("another freelancer under its own :freelancerId", &g)],
        ),
        (
            "/api/freelancer/contract/view-contract/{contractId}",
            format!("/api/freelancer/contract/view-contract/{}", funded.contract),
            vec![("another client", &b), ("another freelancer", &g)],
        ),
        (
            "/api/freelancer/wallet/earnings/{userId}",
            format!("/api/freelancer/wallet/earnings/{}", f.id),
            vec![("another freelancer", &g), ("a client", &a)],
        ),
        (
            "/api/freelancer/wallet/transactions/{walletId}",
            format!("/api/freelancer/wallet/transactions/{}", f.id),
            vec![("another freelancer", &g), ("a client", &b)],
        ),
        (
            "/api/freelancer/wallet/user-sales-report/{userId}",
            format!("/api/freelancer/wallet/user-sales-report/{}", f.id),
            vec![("another freelancer", &g), ("a client", &a)],
        ),
        (
            "/api/client/contract/cancel-contract/{contractId}",
            format!("/api/client/contract/cancel-contract/{}", approved.contract),
            vec![
                ("another client", &b),
                ("its freelancer", &f),
                ("another freelancer", &g),
            ],
        ),
    ] {
        for (who, u) in intruders {
            misdirected.push((
                format!("{who} on {template}"),
                with_path(template, path.clone()),
                u,
            ));
        }
    }
    for (what, r, u) in &misdirected {
        let (status, body) = call(&w, r, Some(&format!("Bearer {}", u.token))).await;
        attacks += 1;
        assert_eq!(status, 403, "{what}: {} {}: {body}", r.method, r.path);
        assert!(code(&body).starts_with("auth."), "{what}: {body}");
    }

    let after = w.snapshot(&deals, &users).await;
    let changed = crate::world::diff(&before, &after);
    assert!(
        changed.is_empty(),
        "an attack changed something:\n{changed}"
    );

    // The same routes do answer their owners: the refusals above were the tokens'. Money
    // out has something to read once the freelancer onboarded (on the sandbox) and withdrew.
    let (_, onboarding) = w
        .send(
            "POST",
            "/api/freelancer/payouts/onboarding",
            Some(&f.token),
            None,
        )
        .await;
    let account = onboarding["accountId"].as_str().expect("an account");
    let (status, _) = w
        .send(
            "POST",
            &format!("/sandbox/onboarding/{account}/complete"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 303, "the sandbox's button redirects back");
    let (status, _) = w
        .send(
            "PUT",
            &format!("/api/admin/escrow/release-fund/{}", requested.contract),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, payout) = w
        .send("POST", "/api/freelancer/payouts", Some(&f.token), None)
        .await;
    assert_eq!(status, 201, "{payout}");
    let mut routes = routes;
    for r in routes
        .iter_mut()
        .filter(|r| r.template == "/api/payouts/{payoutId}")
    {
        r.path = format!("/api/payouts/{}", payout["id"].as_str().unwrap());
    }
    for r in routes.iter().filter(|r| r.method == "GET") {
        let (status, body) = call(&w, r, Some(&format!("Bearer {}", r.owner.token))).await;
        assert_eq!(status, 200, "{} {}: {body}", r.method, r.path);
    }
    crate::process::figures(
        "jwt",
        &format!(
            "jwt attacks: {attacks} forged or misdirected requests over {} secured routes: all 401/403, nothing changed",
            routes.len()
        ),
    );
}
