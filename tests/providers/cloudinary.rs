//! The Cloudinary media store against the fake Cloudinary: signed, streamed uploads into the
//! original's folders, and its failures as 503/502 with the spool left empty.

use escrow::auth::Role;
use escrow::domain::UserId;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::fake_cloudinary::{API_KEY, API_SECRET, CLOUD, FakeCloudinary, Fault};
use crate::helpers::{TestApp, error_code};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0aIDATx\x9cc\x00\x01\x00\x00\x05\x00\x01\x0d\x0a\x2d\xb4\x00\x00\x00\x00IEND\xaeB`\x82";
const MP4: &[u8] = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free";

async fn cloudinary_app(base: &str, secret: &str) -> TestApp {
    TestApp::spawn_with(&[
        ("CLOUDINARY_CLOUD_NAME", CLOUD),
        ("CLOUDINARY_API_KEY", API_KEY),
        ("CLOUDINARY_API_SECRET", secret),
        ("CLOUDINARY_API_BASE", base),
        ("CLOUDINARY_TIMEOUT_S", "5"),
    ])
    .await
}

async fn upload(app: &TestApp, bytes: &[u8], name: &str) -> reqwest::Response {
    let token = app.token(Role::Client, &UserId::generate());
    let form = Form::new().part(
        "media",
        Part::bytes(bytes.to_vec())
            .file_name(name.to_string())
            .mime_str("application/octet-stream")
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

/// Files left in the upload spool (`<media dir>/.incoming`).
fn spooled(app: &TestApp) -> Vec<String> {
    match std::fs::read_dir(&app.state.service.settings().spool_dir) {
        Ok(d) => d
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => vec![],
    }
}

#[tokio::test]
async fn an_image_and_a_video_are_uploaded_signed_into_the_original_folders() {
    let fake = FakeCloudinary::start().await;
    let app = cloudinary_app(&fake.base, API_SECRET).await;
    let before = chrono::Utc::now().timestamp();

    let r = upload(&app, PNG, "photo.bin").await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let sha = hex::encode(Sha256::digest(PNG));
    assert_eq!(v["type"], "image");
    assert_eq!(v["sha256"], sha.as_str());
    assert_eq!(v["bytes"], PNG.len());
    let url = v["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "https://res.cloudinary.com/{CLOUD}/image/upload/v"
        )) && url.contains("/uploads/images/")
            && url.ends_with(".png"),
        "{url}"
    );
    assert_eq!(v["mediaUrl"], url);

    let sent = fake.uploads();
    assert_eq!(sent.len(), 1);
    let u = &sent[0];
    assert_eq!(u.status, 200, "the fake accepted the signature");
    assert_eq!(u.resource_type, "image");
    assert_eq!(u.field("folder"), Some("uploads/images"));
    assert_eq!(u.field("api_key"), Some(API_KEY));
    let ts: i64 = u.field("timestamp").unwrap().parse().unwrap();
    assert!(ts >= before && ts <= chrono::Utc::now().timestamp());
    let mut names: Vec<_> = u.fields.iter().map(|(k, _)| k.as_str()).collect();
    names.sort();
    assert_eq!(names, ["api_key", "folder", "signature", "timestamp"]);
    assert_eq!(u.file, PNG);
    assert_eq!(u.file_name.as_deref(), Some(format!("{sha}.png").as_str()));
    assert_eq!(u.file_content_type.as_deref(), Some("image/png"));

    let r = upload(&app, MP4, "clip.png").await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "video");
    assert!(v["url"].as_str().unwrap().contains("/video/upload/"));
    let u = &fake.uploads()[1];
    assert_eq!(u.resource_type, "video");
    assert_eq!(u.field("folder"), Some("uploads/videos"));
    assert_eq!(u.file, MP4);

    assert!(spooled(&app).is_empty(), "{:?}", spooled(&app));
    // Nothing is kept or served locally.
    let name = format!("{sha}.png");
    assert_eq!(
        app.http
            .get(app.url(&format!("/media/{name}")))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

#[tokio::test]
async fn cloudinary_failures_are_503_when_worth_retrying_and_502_when_refused() {
    let fake = FakeCloudinary::start().await;
    let app = cloudinary_app(&fake.base, API_SECRET).await;
    fake.fail([Fault::ServerError, Fault::BadRequest]);
    assert_eq!(
        error_code(upload(&app, PNG, "a.png").await).await,
        (StatusCode::SERVICE_UNAVAILABLE, "media.unavailable".into())
    );
    assert_eq!(
        error_code(upload(&app, PNG, "a.png").await).await,
        (StatusCode::BAD_GATEWAY, "media.rejected".into())
    );
    assert!(spooled(&app).is_empty());
    assert_eq!(upload(&app, PNG, "a.png").await.status(), StatusCode::OK);
    app.stop().await;

    // A wrong secret: Cloudinary refuses the signature.
    let wrong = cloudinary_app(&fake.base, "not-the-secret").await;
    assert_eq!(
        error_code(upload(&wrong, PNG, "a.png").await).await,
        (StatusCode::BAD_GATEWAY, "media.rejected".into())
    );
    assert_eq!(fake.uploads().last().unwrap().status, 401);
    assert!(spooled(&wrong).is_empty());
    wrong.stop().await;

    // Cloudinary unreachable.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let down = cloudinary_app(&format!("http://{dead}"), API_SECRET).await;
    assert_eq!(
        error_code(upload(&down, PNG, "a.png").await).await,
        (StatusCode::SERVICE_UNAVAILABLE, "media.unavailable".into())
    );
    assert!(spooled(&down).is_empty());
    down.stop().await;
}

#[tokio::test]
async fn content_that_is_not_an_image_or_video_never_reaches_cloudinary() {
    let fake = FakeCloudinary::start().await;
    let app = cloudinary_app(&fake.base, API_SECRET).await;
    let exe =
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00this program cannot be run";
    assert_eq!(
        error_code(upload(&app, exe, "cat.png").await).await,
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "media.unsupported_type".into()
        )
    );
    assert!(fake.uploads().is_empty());
    assert!(spooled(&app).is_empty());
    app.stop().await;
}

#[test]
fn the_crate_signs_as_the_fake_cloudinary_checks() {
    use escrow::media::cloudinary::{SignatureAlgorithm, api_sign_request};
    let params = [
        ("folder", "uploads/images"),
        ("timestamp", "1764300000"),
        ("public_id", "a&b"),
        ("context", ""),
        ("api_key", API_KEY),
    ];
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (to_sign, expected) = crate::fake_cloudinary::expected_signature(&owned, API_SECRET);
    assert_eq!(
        to_sign,
        "folder=uploads/images&public_id=a%26b&timestamp=1764300000"
    );
    assert_eq!(
        api_sign_request(&params, API_SECRET, SignatureAlgorithm::Sha1),
        expected
    );
}
