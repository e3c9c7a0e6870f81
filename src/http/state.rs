//! What every handler shares, built from the service the startup module assembles: the
//! service itself, and what only HTTP needs (token keys, the idempotency records, the line of
//! requests, kept review pages, timeouts).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::admission::{Line, OutsideLine};
use super::review_pages::ReviewPages;
use crate::auth::JwtKeys;
use crate::config::Config;
use crate::service::Service;
use crate::startup::{self, StartError};
use crate::store::IdempotencyStore;

/// What every handler shares; cheap to clone (axum clones it for each request).
#[derive(Clone)]
pub struct AppState(Arc<AppConfig>);

impl AppState {
    pub fn new(config: AppConfig) -> AppState {
        AppState(Arc::new(config))
    }

    /// This state with `f` applied to its parts (to wrap a store with instrumentation, say).
    ///
    /// # Panics
    /// When the state is already shared (cloned or serving): map it before serving.
    pub fn map(self, f: impl FnOnce(AppConfig) -> AppConfig) -> AppState {
        let config = Arc::try_unwrap(self.0)
            .unwrap_or_else(|_| panic!("AppState::map on a state already shared"));
        AppState::new(f(config))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppConfig;

    fn deref(&self) -> &AppConfig {
        &self.0
    }
}

pub struct AppConfig {
    pub service: Arc<Service>,
    pub jwt: JwtKeys,
    /// The original auth service's refresh-token keys (`REFRESH_SECRET`), when set: its
    /// `refreshToken` cookie is a chat upload's credential (see `extract::MediaAuth`).
    pub refresh_keys: Option<JwtKeys>,
    /// Where `Idempotency-Key` records are kept (the service's store).
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Rendered review pages (see [`ReviewPages`]).
    pub review_pages: ReviewPages,
    /// Local media directory served at `/media/…`, when media is stored locally.
    pub media_dir: Option<PathBuf>,
    /// How this server reaches itself (the sandbox posts its events here).
    pub self_url: String,
    pub http_client: reqwest::Client,
    pub request_timeout: Duration,
    /// How long a JSON request's `Idempotency-Key` is leased to the request running it.
    pub idempotency_lease: Duration,
    /// How long a client may take to send a request's headers, and how long an idle
    /// keep-alive connection is kept (hyper runs one timer for both).
    pub header_read_timeout: Duration,
    /// How long an upload may take in total (a slow body is cut off with 408 then).
    pub upload_timeout: Duration,
    /// Who may read `/metrics`, and where.
    pub metrics: MetricsAccess,
    /// The origins browsers may call from (CORS; also what makes a cookie credential safe).
    pub cors_origins: crate::config::CorsOrigins,
    /// The line of requests working on the store (`Store::requests_at_once` places); `None`
    /// lets them all in at once. See [`super::admission`].
    pub admission: Option<Line>,
}

/// Who may read `/metrics` (it shows money moved by kind), and where.
#[derive(Debug, Clone)]
pub struct MetricsAccess {
    /// Whether the public listener serves it (not when it has its own listener).
    pub on_public_listener: bool,
    /// The bearer token it asks for, if any.
    pub token: Option<crate::config::Secret>,
}

impl MetricsAccess {
    /// Whether a request with this `Authorization` header value may read the metrics. The
    /// tokens' digests are compared, so the time taken tells nothing about the token.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        use sha2::{Digest, Sha256};
        let Some(token) = &self.token else {
            return true;
        };
        let given = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or("");
        Sha256::digest(given.as_bytes()) == Sha256::digest(token.expose().as_bytes())
    }
}

/// The HTTP state for a server bound at `bound`: the service on the configured store and
/// providers (the payment provider's calls made outside the line), and the rest.
pub async fn build(config: &Config, bound: SocketAddr) -> Result<AppState, StartError> {
    config.check_serving().map_err(StartError::Config)?;
    let public_url = config.public_url_for(bound);
    let mut parts = startup::parts(config, &public_url).await?;
    parts.payments = Arc::new(OutsideLine(parts.payments));
    let store = parts.store.clone();
    let service = Arc::new(startup::service(config, parts)?);
    let self_host = if bound.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], bound.port()))
    } else {
        bound
    };
    Ok(AppState::new(AppConfig {
        jwt: startup::jwt_keys(config)?,
        refresh_keys: config
            .refresh_secret
            .as_ref()
            .map(|s| JwtKeys::new(s.expose().as_bytes())),
        admission: store.requests_at_once().map(Line::new),
        cors_origins: config.cors_origins.clone(),
        metrics: MetricsAccess {
            on_public_listener: config.metrics_listen.is_none(),
            token: config.metrics_token.clone(),
        },
        idempotency: store,
        review_pages: ReviewPages::default(),
        media_dir: if config.cloudinary.is_none() {
            Some(config.media_dir.clone())
        } else {
            None
        },
        self_url: format!("http://{self_host}"),
        http_client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a plain HTTP client builds"),
        request_timeout: Duration::from_secs(config.request_timeout_s),
        idempotency_lease: match config.idempotency_lease_s {
            Some(s) => Duration::from_secs(s),
            None => super::idempotency::lease_for(Duration::from_secs(config.request_timeout_s)),
        },
        header_read_timeout: Duration::from_secs(config.header_read_timeout_s),
        upload_timeout: Duration::from_secs(config.upload_timeout_s),
        service,
    }))
}
