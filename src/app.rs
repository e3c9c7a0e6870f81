//! Wiring: from a [`Config`] to a store, providers, the service and the HTTP state. Shared by
//! both binaries and the tests, so all three run the same assembly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::JwtKeys;
use crate::config::{Config, ConfigError, DatabaseUrl};
use crate::http::{AppConfig, AppState};
use crate::media::MediaStore;
use crate::media::cloudinary::CloudinaryStore;
use crate::media::local::LocalMediaStore;
use crate::metrics::Metrics;
use crate::payment::PaymentProvider;
use crate::payment::sandbox::SandboxProvider;
use crate::payment::stripe::StripeProvider;
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
        DatabaseUrl::Sqlite(path) => {
            let options = crate::store::sqlite::SqliteOptions {
                group_commit: config.group_commit,
                commit_delay: Duration::from_millis(config.bench_commit_delay_ms),
            };
            Ok(Arc::new(SqliteStore::open_with(path, options)?))
        }
        #[cfg(feature = "mongodb")]
        DatabaseUrl::Mongo(uri) => Ok(Arc::new(
            crate::store::mongo::MongoStore::open(
                uri,
                &config.mongodb_database,
                config.mode == crate::config::Mode::Production,
            )
            .await?,
        )),
        #[cfg(not(feature = "mongodb"))]
        DatabaseUrl::Mongo(_) => Err(StartError::Unsupported(
            "ESCROW_DATABASE_URL is a MongoDB URL, but this build was made without the `mongodb` feature; use sqlite://PATH or rebuild with default features".into(),
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
        Some(key) => Arc::new(
            StripeProvider::new(
                key.expose(),
                config.stripe_api_base.as_deref(),
                Duration::from_secs(config.stripe_timeout_s.max(1)),
            )
            .map_err(|e| StartError::Config(ConfigError(e)))?,
        ),
    };
    let media: Arc<dyn MediaStore> = match &config.cloudinary {
        None => Arc::new(LocalMediaStore::new(&config.media_dir, public_url)),
        Some((cloud_name, api_key, api_secret)) => Arc::new(
            CloudinaryStore::new(
                cloud_name,
                api_key,
                api_secret.expose(),
                config.cloudinary_api_base.as_deref(),
                Duration::from_secs(config.cloudinary_timeout_s.max(1)),
            )
            .map_err(|e| StartError::Config(ConfigError(e)))?,
        ),
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
    Ok(AppState::new(AppConfig {
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
        header_read_timeout: Duration::from_secs(config.header_read_timeout_s),
        upload_timeout: Duration::from_secs(config.upload_timeout_s),
        admission: service
            .store()
            .requests_at_once()
            .map(crate::admission::Line::new),
        service,
    }))
}
