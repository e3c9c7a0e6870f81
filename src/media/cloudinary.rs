//! Media kept on Cloudinary: a signed upload (`POST {base}/v1_1/<cloud>/<image|video>/upload`,
//! multipart) of the already validated spool file, streamed from disk, into the original app's
//! folders (`uploads/images`, `uploads/videos`). The media URL is Cloudinary's `secure_url`.
//!
//! Failures: no answer, a timeout or a 5xx is [`MediaError::Unavailable`] (503, try again); any
//! other refusal is [`MediaError::Rejected`] (502). The spool file is deleted either way.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{MediaError, MediaStore, Spooled};
use crate::domain::media::MediaKind;

/// Cloudinary's API host; `CLOUDINARY_API_BASE` overrides it (tests point it at a local fake).
pub const CLOUDINARY_API_BASE_DEFAULT: &str = "https://api.cloudinary.com";
/// Largest error body read from Cloudinary (only its message is kept).
const ERROR_BODY_BYTES_MAX: usize = 16 * 1024;

/// Parameters that are sent but never signed (Cloudinary's rule).
const UNSIGNED_PARAMS: [&str; 4] = ["file", "api_key", "resource_type", "cloud_name"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// Cloudinary's default.
    Sha1,
    Sha256,
}

/// The string Cloudinary signs (signature version 2): every parameter but the unsigned ones,
/// empty values dropped, `&` inside a `key=value` escaped as `%26`, sorted, joined with `&`.
/// Lists must already be joined with `,` and booleans written as `true`.
pub fn string_to_sign(params: &[(&str, &str)]) -> String {
    let mut parts: Vec<String> = params
        .iter()
        .filter(|(k, v)| !v.is_empty() && !UNSIGNED_PARAMS.contains(k))
        .map(|(k, v)| format!("{k}={v}").replace('&', "%26"))
        .collect();
    parts.sort();
    parts.join("&")
}

/// `hex(hash(string_to_sign + api_secret))`, lower case, as `cloudinary.utils.api_sign_request`.
pub fn api_sign_request(
    params: &[(&str, &str)],
    api_secret: &str,
    algorithm: SignatureAlgorithm,
) -> String {
    let mut text = string_to_sign(params);
    text.push_str(api_secret);
    match algorithm {
        SignatureAlgorithm::Sha1 => hex::encode(Sha1::digest(text.as_bytes())),
        SignatureAlgorithm::Sha256 => hex::encode(Sha256::digest(text.as_bytes())),
    }
}

pub struct CloudinaryStore {
    http: reqwest::Client,
    base: String,
    cloud_name: String,
    api_key: String,
    api_secret: String,
}

/// The fields of Cloudinary's upload answer this store reads.
#[derive(Debug, Deserialize)]
struct Uploaded {
    secure_url: String,
    #[serde(default)]
    public_id: String,
    #[serde(default)]
    bytes: u64,
}

#[derive(Debug, Deserialize)]
struct ErrorAnswer {
    error: ErrorMessage,
}

#[derive(Debug, Deserialize)]
struct ErrorMessage {
    message: String,
}

impl CloudinaryStore {
    /// `timeout` bounds a whole upload (a 100 MB video on a slow link takes minutes).
    pub fn new(
        cloud_name: &str,
        api_key: &str,
        api_secret: &str,
        api_base: Option<&str>,
        timeout: Duration,
    ) -> Result<CloudinaryStore, String> {
        let base = api_base
            .unwrap_or(CLOUDINARY_API_BASE_DEFAULT)
            .trim_end_matches('/')
            .to_string();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(format!(
                "CLOUDINARY_API_BASE must be an http:// or https:// URL, not {base:?}"
            ));
        }
        let valid_name = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !valid_name(cloud_name) {
            return Err(format!(
                "CLOUDINARY_CLOUD_NAME {cloud_name:?} is not a Cloudinary cloud name"
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("HTTP client for Cloudinary: {e}"))?;
        Ok(CloudinaryStore {
            http,
            base,
            cloud_name: cloud_name.to_string(),
            api_key: api_key.to_string(),
            api_secret: api_secret.to_string(),
        })
    }

    async fn upload(&self, file: &Spooled) -> Result<Uploaded, MediaError> {
        let (resource_type, folder) = match file.media.kind {
            MediaKind::Image => ("image", "uploads/images"),
            MediaKind::Video => ("video", "uploads/videos"),
        };
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature = api_sign_request(
            &[("folder", folder), ("timestamp", &timestamp)],
            &self.api_secret,
            SignatureAlgorithm::Sha1,
        );
        // Streamed from the spool file: a 100 MB video never sits in memory.
        let body = tokio::fs::File::open(file.file.path())
            .await
            .map_err(|e| MediaError::Unavailable(format!("spool file: {e}")))?;
        let stream = tokio_util::io::ReaderStream::new(body);
        let part = reqwest::multipart::Part::stream_with_length(
            reqwest::Body::wrap_stream(stream),
            file.bytes,
        )
        .file_name(file.file_name())
        .mime_str(file.media.mime)
        .map_err(|e| MediaError::Unavailable(e.to_string()))?;
        let form = reqwest::multipart::Form::new()
            .text("folder", folder)
            .text("timestamp", timestamp)
            .text("api_key", self.api_key.clone())
            .text("signature", signature)
            .part("file", part);
        let url = format!(
            "{}/v1_1/{}/{resource_type}/upload",
            self.base, self.cloud_name
        );
        let answer = self
            .http
            .post(&url)
            .multipart(form)
            .send()
            .await
            .map_err(|e| MediaError::Unavailable(format!("cannot reach Cloudinary: {e}")))?;
        let status = answer.status();
        let body = answer
            .bytes()
            .await
            .map_err(|e| MediaError::Unavailable(format!("Cloudinary's answer broke off: {e}")))?;
        if status.is_success() {
            let uploaded: Uploaded = serde_json::from_slice(&body).map_err(|e| {
                MediaError::Rejected(format!("Cloudinary's answer has no secure_url: {e}"))
            })?;
            if uploaded.secure_url.is_empty() {
                return Err(MediaError::Rejected(
                    "Cloudinary answered with an empty secure_url".into(),
                ));
            }
            return Ok(uploaded);
        }
        let message = serde_json::from_slice::<ErrorAnswer>(&body)
            .map(|a| a.error.message)
            .unwrap_or_else(|_| {
                String::from_utf8_lossy(&body[..body.len().min(ERROR_BODY_BYTES_MAX)])
                    .chars()
                    .take(200)
                    .collect()
            });
        let what = format!("Cloudinary answered {status}: {message}");
        // 420 is Cloudinary's "rate limited"; 408/429 are the usual "later".
        if status.is_server_error() || matches!(status.as_u16(), 408 | 420 | 429) {
            Err(MediaError::Unavailable(what))
        } else {
            Err(MediaError::Rejected(what))
        }
    }
}

#[async_trait]
impl MediaStore for CloudinaryStore {
    fn name(&self) -> &'static str {
        "cloudinary"
    }

    async fn put(&self, file: Spooled) -> Result<String, MediaError> {
        let result = self.upload(&file).await;
        // Cloudinary has it now, or the caller got an error and may upload again: the spool
        // file goes either way (when `file` is dropped).
        match result {
            Ok(u) => {
                tracing::info!(public_id = %u.public_id, bytes = u.bytes, sha256 = %file.sha256, "uploaded to Cloudinary");
                Ok(u.secure_url)
            }
            Err(e) => {
                tracing::warn!(error = %e, "Cloudinary upload failed");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The vectors of notes/stripe-and-cloudinary.md §4, computed with the PyPI `cloudinary`
    // SDK's `api_sign_request` (the first is Cloudinary's documented example).
    #[test]
    fn signatures_match_the_cloudinary_sdk_vectors() {
        let eager = "w_400,h_300,c_pad|w_260,h_200,c_crop";
        let p = [
            ("timestamp", "1315060510"),
            ("public_id", "sample_image"),
            ("eager", eager),
        ];
        assert_eq!(
            string_to_sign(&p),
            format!("eager={eager}&public_id=sample_image&timestamp=1315060510")
        );
        assert_eq!(
            api_sign_request(&p, "abcd", SignatureAlgorithm::Sha1),
            "bfd09f95f331f558cbd1320e67aa8d488770583e"
        );

        let p = [("timestamp", "1764300000"), ("folder", "escrow/job_1")];
        assert_eq!(
            string_to_sign(&p),
            "folder=escrow/job_1&timestamp=1764300000"
        );
        assert_eq!(
            api_sign_request(&p, "test_secret_123", SignatureAlgorithm::Sha1),
            "affde0707bc74785c120a7c14e06ee61ad7e5219"
        );
        assert_eq!(
            api_sign_request(&p, "test_secret_123", SignatureAlgorithm::Sha256),
            "6996374df0119f4efc6909696e2c50fdee2258b411545290137c1df21c296e65"
        );

        let p = [
            ("timestamp", "1764300000"),
            ("folder", "escrow"),
            ("public_id", "a&b"),
            ("tags", "x,y"),
            ("context", ""),
            ("overwrite", "true"),
        ];
        assert_eq!(
            string_to_sign(&p),
            "folder=escrow&overwrite=true&public_id=a%26b&tags=x,y&timestamp=1764300000"
        );
        assert_eq!(
            api_sign_request(&p, "test_secret_123", SignatureAlgorithm::Sha1),
            "99c4ca0550bcda7f517a783a57bab56b3c3f2810"
        );
    }

    #[test]
    fn the_key_file_and_resource_type_are_never_signed() {
        let p = [
            ("timestamp", "1"),
            ("api_key", "k"),
            ("file", "f"),
            ("resource_type", "image"),
            ("cloud_name", "c"),
        ];
        assert_eq!(string_to_sign(&p), "timestamp=1");
    }

    #[test]
    fn a_bad_base_or_cloud_name_is_refused() {
        let t = Duration::from_secs(1);
        assert!(CloudinaryStore::new("demo", "k", "s", Some("http://127.0.0.1:9/"), t).is_ok());
        assert!(CloudinaryStore::new("demo", "k", "s", Some("file:///x"), t).is_err());
        assert!(CloudinaryStore::new("de/mo", "k", "s", None, t).is_err());
    }
}
