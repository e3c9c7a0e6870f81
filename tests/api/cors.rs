//! CORS for the original front end's origin (`ESCROW_CORS_ORIGINS`, default `CLIENT_URL`):
//! preflights answered without a token, credentials allowed, `Idempotent-Replayed` exposed, and
//! nothing for an origin not on the list. (The real browser test is in `tests/providers`.)

use reqwest::{Method, StatusCode};

use crate::helpers::TestApp;

const FRONT: &str = "http://front.test";

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn preflight(app: &TestApp, origin: &str, path: &str, method: &str) -> reqwest::Response {
    app.http
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "content-type,authorization,idempotency-key",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_front_end_s_origin_may_call_with_credentials_and_no_other_may() {
    // The test app's CLIENT_URL is http://front.test: its origin is the default list.
    let app = TestApp::spawn().await;
    let p = app.funded_contract().await;
    for (path, method) in [
        (
            format!("/api/admin/escrow/release-fund/{}", p.contract),
            "PUT",
        ),
        (
            format!("/api/client/contract/release-fund/{}", p.contract),
            "PATCH",
        ),
        (
            "/api/client/contract/cancel-contract/x".to_string(),
            "DELETE",
        ),
        ("/api/media/upload".to_string(), "POST"),
    ] {
        let r = preflight(&app, FRONT, &path, method).await;
        assert!(r.status().is_success(), "{path}: {}", r.status());
        assert_eq!(header(&r, "access-control-allow-origin"), Some(FRONT));
        assert_eq!(header(&r, "access-control-allow-credentials"), Some("true"));
        let methods = header(&r, "access-control-allow-methods").unwrap_or("");
        assert!(methods.contains(method), "{methods}");
        let headers = header(&r, "access-control-allow-headers")
            .unwrap_or("")
            .to_ascii_lowercase();
        for h in ["content-type", "authorization", "idempotency-key"] {
            assert!(headers.contains(h), "{headers}");
        }
        // Not on the list: no Access-Control-Allow-Origin, so the browser stops there.
        let r = preflight(&app, "http://evil.test", &path, method).await;
        assert_eq!(header(&r, "access-control-allow-origin"), None, "{path}");
    }

    // The calls themselves carry the headers, error answers included.
    let r = app
        .http
        .get(app.url(&format!("/api/contracts/{}", p.contract)))
        .header("origin", FRONT)
        .bearer_auth(&p.client_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "access-control-allow-origin"), Some(FRONT));
    assert_eq!(header(&r, "access-control-allow-credentials"), Some("true"));
    let exposed = header(&r, "access-control-expose-headers")
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(exposed.contains("idempotent-replayed"), "{exposed}");
    for (path, token) in [
        (format!("/api/contracts/{}", p.contract), None),
        (
            "/api/no/such/route".to_string(),
            Some(p.client_token.as_str()),
        ),
    ] {
        let mut req = app.http.get(app.url(&path)).header("origin", FRONT);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        assert!(r.status().is_client_error(), "{path}");
        assert_eq!(
            header(&r, "access-control-allow-origin"),
            Some(FRONT),
            "{path}"
        );
    }
    let r = app
        .http
        .get(app.url("/healthz"))
        .header("origin", "http://evil.test")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "access-control-allow-origin"), None);
    assert_eq!(
        app.send("GET", "/healthz", None, None).await.status(),
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn escrow_cors_origins_lists_the_origins() {
    let app =
        TestApp::spawn_with(&[("ESCROW_CORS_ORIGINS", "http://a.test, https://b.test:8443")]).await;
    for (origin, allowed) in [
        ("http://a.test", true),
        ("https://b.test:8443", true),
        ("https://b.test", false),
        (FRONT, false),
    ] {
        let r = preflight(&app, origin, "/api/admin/escrow/balance", "GET").await;
        assert_eq!(
            header(&r, "access-control-allow-origin"),
            allowed.then_some(origin),
            "{origin}"
        );
    }
    app.stop().await;
}
