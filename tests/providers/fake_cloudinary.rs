//! A fake Cloudinary upload API on 127.0.0.1:0: `POST /v1_1/<cloud>/<resource_type>/upload`,
//! multipart. It checks what Cloudinary checks — the cloud name, the API key, a timestamp no
//! more than an hour old, the signature (its own implementation of Cloudinary's rule: every
//! parameter but `file`, `api_key`, `resource_type` and `cloud_name`, empty ones dropped, `&`
//! escaped, sorted, joined with `&`, the secret appended, SHA-1), a file part with a name, and
//! that an image upload is an image and a video upload a video — then answers with Cloudinary's
//! JSON shape (`secure_url`, `resource_type`, `public_id`, `bytes`, …) or its
//! `{"error": {"message"}}` shape. Faults can be queued: 500, or a 400 refusal.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

pub const CLOUD: &str = "escrow-test";
pub const API_KEY: &str = "123456789012345";
pub const API_SECRET: &str = "fake_cloudinary_secret_abc";

#[derive(Debug, Clone)]
pub enum Fault {
    ServerError,
    BadRequest,
}

#[derive(Debug, Clone)]
pub struct Upload {
    pub cloud: String,
    pub resource_type: String,
    pub fields: Vec<(String, String)>,
    pub file_name: Option<String>,
    pub file_content_type: Option<String>,
    pub file: Vec<u8>,
    pub status: u16,
}

impl Upload {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Inner {
    uploads: Vec<Upload>,
    faults: VecDeque<Fault>,
    next: u64,
}

#[derive(Clone)]
pub struct FakeCloudinary {
    inner: Arc<Mutex<Inner>>,
    pub base: String,
}

impl FakeCloudinary {
    pub async fn start() -> FakeCloudinary {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/v1_1/{cloud}/{resource}/upload", post(upload))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeCloudinary {
            inner,
            base: format!("http://{addr}"),
        }
    }

    pub fn fail(&self, faults: impl IntoIterator<Item = Fault>) {
        self.inner.lock().unwrap().faults.extend(faults);
    }

    pub fn uploads(&self) -> Vec<Upload> {
        self.inner.lock().unwrap().uploads.clone()
    }
}

/// Cloudinary's signing rule, written from its documentation (not the crate's code).
pub fn expected_signature(fields: &[(String, String)], secret: &str) -> (String, String) {
    let mut signed: Vec<String> = fields
        .iter()
        .filter(|(k, v)| {
            !v.is_empty()
                && !["file", "api_key", "resource_type", "cloud_name"].contains(&k.as_str())
        })
        .filter(|(k, _)| k != "signature")
        .map(|(k, v)| format!("{k}={v}").replace('&', "%26"))
        .collect();
    signed.sort();
    let to_sign = signed.join("&");
    let mut h = Sha1::new();
    h.update(to_sign.as_bytes());
    h.update(secret.as_bytes());
    (to_sign, hex::encode(h.finalize()))
}

fn cloudinary_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"message": message}}))).into_response()
}

fn looks_like(resource: &str, bytes: &[u8]) -> bool {
    let image = bytes.starts_with(b"\x89PNG")
        || bytes.starts_with(&[0xff, 0xd8, 0xff])
        || bytes.starts_with(b"GIF8");
    let video = bytes.get(4..8) == Some(b"ftyp") || bytes.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]);
    match resource {
        "image" => image,
        "video" => video,
        "raw" | "auto" => true,
        _ => false,
    }
}

async fn upload(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((cloud, resource)): Path<(String, String)>,
    mut multipart: Multipart,
) -> Response {
    let mut rec = Upload {
        cloud: cloud.clone(),
        resource_type: resource.clone(),
        fields: vec![],
        file_name: None,
        file_content_type: None,
        file: vec![],
        status: 0,
    };
    let mut has_file = false;
    while let Ok(Some(field)) = multipart.next_field().await {
        let name = field.name().unwrap_or("").to_string();
        if name == "file" {
            has_file = true;
            rec.file_name = field.file_name().map(str::to_string);
            rec.file_content_type = field.content_type().map(str::to_string);
            rec.file = field.bytes().await.expect("file bytes").to_vec();
        } else {
            let value = field.text().await.expect("text field");
            rec.fields.push((name, value));
        }
    }
    let answer = check_and_answer(&inner, &rec, has_file);
    rec.status = answer.status().as_u16();
    inner.lock().unwrap().uploads.push(rec);
    answer
}

fn check_and_answer(inner: &Arc<Mutex<Inner>>, rec: &Upload, has_file: bool) -> Response {
    let fault = inner.lock().unwrap().faults.pop_front();
    match fault {
        Some(Fault::ServerError) => {
            return cloudinary_error(StatusCode::INTERNAL_SERVER_ERROR, "General Error");
        }
        Some(Fault::BadRequest) => {
            return cloudinary_error(StatusCode::BAD_REQUEST, "Refused by the fake on purpose");
        }
        None => {}
    }
    if rec.cloud != CLOUD {
        return cloudinary_error(
            StatusCode::NOT_FOUND,
            &format!("Invalid cloud_name {}", rec.cloud),
        );
    }
    if !["image", "video", "raw", "auto"].contains(&rec.resource_type.as_str()) {
        return cloudinary_error(StatusCode::NOT_FOUND, "Invalid resource type");
    }
    match rec.field("api_key") {
        None => return cloudinary_error(StatusCode::UNAUTHORIZED, "Must supply api_key"),
        Some(k) if k != API_KEY => {
            return cloudinary_error(StatusCode::UNAUTHORIZED, &format!("Unknown API key {k}"));
        }
        Some(_) => {}
    }
    let Some(ts) = rec.field("timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return cloudinary_error(
            StatusCode::BAD_REQUEST,
            "Missing required parameter - timestamp",
        );
    };
    let now = chrono::Utc::now().timestamp();
    if now - ts > 3600 {
        return cloudinary_error(
            StatusCode::BAD_REQUEST,
            &format!("Stale request - reported time is {ts} which is more than 1 hour ago"),
        );
    }
    let Some(sig) = rec.field("signature") else {
        return cloudinary_error(
            StatusCode::BAD_REQUEST,
            "Missing required parameter - signature",
        );
    };
    let (to_sign, expected) = expected_signature(&rec.fields, API_SECRET);
    if sig != expected {
        return cloudinary_error(
            StatusCode::UNAUTHORIZED,
            &format!("Invalid Signature {sig}. String to sign - '{to_sign}'."),
        );
    }
    if !has_file || rec.file.is_empty() {
        return cloudinary_error(StatusCode::BAD_REQUEST, "Missing required parameter - file");
    }
    if rec.file_name.is_none() {
        return cloudinary_error(StatusCode::BAD_REQUEST, "Missing file name");
    }
    if !looks_like(&rec.resource_type, &rec.file) {
        return cloudinary_error(StatusCode::BAD_REQUEST, "Invalid image file");
    }
    let n = {
        let mut g = inner.lock().unwrap();
        g.next += 1;
        g.next
    };
    let folder = rec.field("folder").unwrap_or("");
    let random = format!("fake{n:06}");
    let public_id = if folder.is_empty() {
        random
    } else {
        format!("{folder}/{random}")
    };
    let format = rec
        .file_name
        .as_deref()
        .and_then(|f| f.rsplit_once('.'))
        .map(|(_, e)| e.to_string())
        .unwrap_or_default();
    let version = 1_764_300_000 + n as i64;
    let path = format!(
        "{CLOUD}/{}/upload/v{version}/{public_id}.{format}",
        rec.resource_type
    );
    let body: Value = json!({
        "asset_id": format!("{:032x}", n),
        "public_id": public_id,
        "version": version,
        "version_id": format!("{:032x}", n + 1),
        "signature": hex::encode(Sha1::digest(public_id.as_bytes())),
        "format": format,
        "resource_type": rec.resource_type,
        "created_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "tags": [],
        "bytes": rec.file.len(),
        "type": "upload",
        "etag": hex::encode(Sha1::digest(&rec.file)),
        "placeholder": false,
        "url": format!("http://res.cloudinary.com/{path}"),
        "secure_url": format!("https://res.cloudinary.com/{path}"),
        "folder": folder,
        "original_filename": rec.file_name.as_deref().unwrap_or("").rsplit_once('.').map(|(s, _)| s).unwrap_or(""),
        "api_key": API_KEY,
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}
