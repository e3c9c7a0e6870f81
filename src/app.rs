//! Wiring: from a [`Config`] to a store, providers, the service and the HTTP state. Shared by
//! both binaries and the tests, so all three run the same assembly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::JwtKeys;
use crate::config::{Config, ConfigError, DatabaseUrl};
use crate::http::AppState;
use crate::media::MediaStore;
use crate::media::local::LocalMediaStore;
use crate::metrics::Metrics;
use crate::payment::PaymentProvider;
use crate::payment::sandbox::SandboxProvider;
use crate::service::{Service, Settings, SystemClock};
use crate::store::Store;
use crate::store::sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("storage: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Unsupported(String),
}

pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    match &config.database {
        DatabaseUrl::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path)?)),
        DatabaseUrl::Mongo(_) => Err(StartError::Unsupported(
            "ESCROW_DATABASE_URL is a MongoDB URL, but this build has no MongoDB backend yet; use sqlite://PATH".into(),
        )),
    }
}

/// Builds the service. `public_url` is where browsers reach the server (sandbox page, media).
pub async fn build_service(
    config: &Config,
    public_url: &str,
) -> Result<(Arc<Service>, JwtKeys), StartError> {
    let store = open_store(config).await?;
    let payments: Arc<dyn PaymentProvider> = match &config.stripe_secret_key {
        None => Arc::new(SandboxProvider::new(public_url)),
        Some(_) => {
            return Err(StartError::Unsupported(
                "STRIPE_SECRET_KEY is set, but this build has no Stripe provider yet; unset it to use the sandbox".into(),
            ));
        }
    };
    let media: Arc<dyn MediaStore> = match &config.cloudinary {
        None => Arc::new(LocalMediaStore::new(&config.media_dir, public_url)),
        Some(_) => {
            return Err(StartError::Unsupported(
                "CLOUDINARY_* are set, but this build has no Cloudinary store yet; unset them"
                    .into(),
            ));
        }
    };
    let settings = Settings {
        currency: config.currency,
        fee: config.fee,
        client_url: config.client_url.clone(),
        webhook_secret: config.webhook_secret()?.expose().to_string(),
        spool_dir: config.media_dir.join(".incoming"),
        upload_bytes_max: config.upload_bytes_max,
    };
    let jwt = JwtKeys::new(config.jwt_secret()?.expose().as_bytes());
    let service = Service::new(
        store,
        payments,
        media,
        settings,
        Arc::new(SystemClock),
        Arc::new(Metrics::new()),
    );
    Ok((Arc::new(service), jwt))
}

/// The HTTP state for a server bound at `bound`.
pub async fn build_state(config: &Config, bound: SocketAddr) -> Result<AppState, StartError> {
    let public_url = config.public_url_for(bound);
    let (service, jwt) = build_service(config, &public_url).await?;
    let self_host = if bound.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], bound.port()))
    } else {
        bound
    };
    Ok(AppState {
        service,
        jwt,
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
    })
}
