//! Uploads: type from the file's own bytes, streamed to disk, content-addressed, served back.

use escrow::auth::Role;
use escrow::domain::UserId;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::helpers::{TestApp, error_code};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0aIDATx\x9cc\x00\x01\x00\x00\x05\x00\x01\x0d\x0a\x2d\xb4\x00\x00\x00\x00IEND\xaeB`\x82";
const MP4: &[u8] = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free";

async fn upload(app: &TestApp, bytes: Vec<u8>, name: &str, mime: &str) -> reqwest::Response {
    let token = app.token(Role::Client, &UserId::generate());
    let form = Form::new().part(
        "media",
        Part::bytes(bytes)
            .file_name(name.to_string())
            .mime_str(mime)
            .unwrap(),
    );
    app.http
        .post(app.url("/api/media/upload"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_image_is_stored_by_its_hash_and_served_back() {
    let app = TestApp::spawn().await;
    let r = upload(&app, PNG.to_vec(), "x.bin", "application/octet-stream").await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "image");
    assert_eq!(v["mediaType"], "image");
    assert_eq!(v["bytes"], PNG.len());
    let url = v["url"].as_str().unwrap();
    assert_eq!(v["mediaUrl"], url);
    assert!(url.ends_with(&format!("{}.png", v["sha256"].as_str().unwrap())));
    let got = app.http.get(url).send().await.unwrap();
    assert_eq!(got.headers()["content-type"], "image/png");
    assert_eq!(got.bytes().await.unwrap().as_ref(), PNG);
    app.stop().await;
}

#[tokio::test]
async fn a_video_is_recognised_from_its_bytes_whatever_its_declared_type() {
    let app = TestApp::spawn().await;
    let r = upload(&app, MP4.to_vec(), "clip.png", "image/png").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["type"], "video");
    app.stop().await;
}

#[tokio::test]
async fn an_executable_named_png_is_refused_with_415() {
    let app = TestApp::spawn().await;
    let mut elf = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
    elf.extend(vec![0u8; 20_000]);
    let (status, code) = error_code(upload(&app, elf, "cat.png", "image/png").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "media.unsupported_type")
    );
    // Nothing is kept: the media directory holds no file.
    let kept = std::fs::read_dir(app.dir.path().join("media"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .count()
        })
        .unwrap_or(0);
    assert_eq!(kept, 0);
    let spool = std::fs::read_dir(app.dir.path().join("media/.incoming"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(spool, 0, "the spool file is removed");
    app.stop().await;
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_with_413() {
    let app = TestApp::spawn_with(&[("ESCROW_UPLOAD_BYTES_MAX", "1000")]).await;
    let mut big = PNG.to_vec();
    big.extend(vec![0u8; 5_000]);
    let (status, _) = error_code(upload(&app, big, "big.png", "image/png").await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // A body far over the limit is refused from its Content-Length before it is read.
    let mut huge = PNG.to_vec();
    huge.extend(vec![0u8; 200_000]);
    let (status, _) = error_code(upload(&app, huge, "huge.png", "image/png").await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    app.stop().await;
}

#[tokio::test]
async fn an_upload_without_the_media_field_is_a_400() {
    let app = TestApp::spawn().await;
    let token = app.token(Role::Client, &UserId::generate());
    let form = Form::new().part("file", Part::bytes(PNG.to_vec()).file_name("a.png"));
    let r = app
        .http
        .post(app.url("/api/media/upload"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, code) = error_code(r).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "media.missing")
    );
    app.stop().await;
}

#[tokio::test]
async fn the_media_route_serves_only_stored_names() {
    let app = TestApp::spawn().await;
    for path in [
        "/media/..%2Fescrow.db",
        "/media/jwt-secret",
        "/media/escrow.db",
    ] {
        assert_eq!(
            app.http.get(app.url(path)).send().await.unwrap().status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    app.stop().await;
}

/// A 1×1 lossless WebP.
const WEBP: &[u8] = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00";

#[tokio::test]
async fn a_webp_from_the_chat_is_stored_and_served_as_webp() {
    let app = TestApp::spawn().await;
    let r = upload(&app, WEBP.to_vec(), "photo.webp", "image/webp").await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["mediaType"], "image");
    let url = v["mediaUrl"].as_str().unwrap();
    assert!(url.ends_with(".webp"), "{url}");
    let got = app.http.get(url).send().await.unwrap();
    assert_eq!(got.headers()["content-type"], "image/webp");
    assert_eq!(got.bytes().await.unwrap().as_ref(), WEBP);
    app.stop().await;
}

const REFRESH_SECRET: &str = "original-refresh-secret-0123";

/// The chat's upload as the original UI sends it: no token, its session cookie, its origin.
async fn chat_upload(
    app: &TestApp,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> reqwest::Response {
    let form = Form::new().part(
        "media",
        Part::bytes(PNG.to_vec())
            .file_name("shot.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let mut r = app.http.post(app.url("/api/media/upload")).multipart(form);
    if let Some(c) = cookie {
        r = r.header("cookie", format!("theme=dark; refreshToken={c}"));
    }
    if let Some(o) = origin {
        r = r.header("origin", o);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn the_original_s_session_cookie_counts_for_a_chat_upload_only_from_its_own_origin() {
    let app = TestApp::spawn_with(&[("REFRESH_SECRET", REFRESH_SECRET)]).await;
    let now = chrono::Utc::now().timestamp() as u64;
    let user = escrow::auth::Principal {
        id: UserId::generate(),
        role: Role::Freelancer,
    };
    // The original auth service's refresh token: {id, role}, HS256 with REFRESH_SECRET, 7 days.
    let session =
        escrow::auth::JwtKeys::new(REFRESH_SECRET.as_bytes()).mint(&user, now, 7 * 86_400);
    let front = "http://front.test";
    let r = chat_upload(&app, Some(&session), Some(front)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["mediaType"], "image");

    // Not from the front end's origin (another site making the browser send the cookie), no
    // origin at all, a cookie signed with another secret, or nothing: 401.
    let forged = escrow::auth::JwtKeys::new(b"not-the-refresh-secret").mint(&user, now, 600);
    for (cookie, origin) in [
        (Some(session.as_str()), Some("http://evil.test")),
        (Some(session.as_str()), None),
        (Some(forged.as_str()), Some(front)),
        (None, Some(front)),
    ] {
        let (status, _) = error_code(chat_upload(&app, cookie, origin).await).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{cookie:?} from {origin:?}"
        );
    }
    app.stop().await;

    // Without REFRESH_SECRET no cookie counts.
    let app = TestApp::spawn().await;
    let (status, _) = error_code(chat_upload(&app, Some(&session), Some(front)).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}
