//! Wiring: from a [`Config`] to a store, the providers and the service. Shared by both
//! binaries and the tests, so all of them run the same assembly; it knows nothing of HTTP
//! (the server builds its HTTP state from what this returns: `http::state`).

use std::sync::Arc;
use std::time::Duration;

use crate::auth::JwtKeys;
use crate::config::{Config, ConfigError, DatabaseUrl};
use crate::media::MediaStore;
use crate::media::cloudinary::CloudinaryStore;
use crate::media::local::LocalMediaStore;
use crate::metrics::Metrics;
use crate::payment::PaymentProvider;
use crate::payment::sandbox::SandboxProvider;
use crate::payment::stripe::StripeProvider;
use crate::service::{Parts, Service, Settings, SystemClock};
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
    #[error(transparent)]
    Directory(#[from] crate::directory::DirectoryError),
}

/// The directory the configuration names (`ESCROW_DIRECTORY_URL`), or none.
pub async fn open_directory(
    config: &Config,
) -> Result<Arc<dyn crate::directory::Directory>, StartError> {
    match &config.directory_url {
        None => {
            if config.mode == crate::config::Mode::Production {
                tracing::warn!(
                    "no ESCROW_DIRECTORY_URL: create-contract does not check that the job is open, is the caller's and that the freelancer applied; users and jobs show empty"
                );
            }
            Ok(Arc::new(crate::directory::NoDirectory))
        }
        #[cfg(feature = "mongodb")]
        Some(url) => Ok(Arc::new(
            crate::directory::mongo::MongoDirectory::connect(url).await?,
        )),
        #[cfg(not(feature = "mongodb"))]
        Some(_) => Err(StartError::Unsupported(
            "ESCROW_DIRECTORY_URL is a MongoDB URL, but this build was made without the `mongodb` feature".into(),
        )),
    }
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

/// The store and the providers the configuration names. `public_url` is where browsers reach
/// the server (the sandbox page, local media).
pub async fn parts(config: &Config, public_url: &str) -> Result<Parts, StartError> {
    let store = open_store(config).await?;
    let payments: Arc<dyn PaymentProvider> = match &config.stripe_secret_key {
        None => Arc::new(SandboxProvider::new(
            public_url,
            crate::payment::sandbox::SessionKey::new(config.webhook_secret()?.expose()),
        )),
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
    Ok(Parts {
        store,
        payments,
        media,
        directory: open_directory(config).await?,
    })
}

/// The service on `parts`, with the configuration's settings and the system clock.
pub fn service(config: &Config, parts: Parts) -> Result<Service, StartError> {
    Ok(Service::new(
        parts,
        settings(config)?,
        Arc::new(SystemClock),
        Arc::new(Metrics::new()),
    ))
}

/// The service's settings from the configuration.
pub fn settings(config: &Config) -> Result<Settings, StartError> {
    Ok(Settings {
        currency: config.currency,
        fee: config.fee,
        client_url: config.client_url.clone(),
        webhook_secret: config.webhook_secret()?.expose().to_string(),
        connect_webhook_secret: config
            .connect_webhook_secret()?
            .map(|s| s.expose().to_string()),
        payout_min: config.payout_min,
        payout_mode: config.payout_mode,
        chargeback_recovery: config.chargeback_recovery,
        debit_grace_ms: (config.request_timeout_s.saturating_add(5) as i64).saturating_mul(1000),
        auto_release_after_ms: config.auto_release_after_ms,
        release_needs_admin: config.release_needs_admin,
        timer_lease_ms: config.timer_lease_ms,
        spool_dir: config.media_dir.join(".incoming"),
        upload_bytes_max: config.upload_bytes_max,
        uploads_per_user_max: config.uploads_per_user_max,
        spool_age_max: Duration::from_secs(config.upload_timeout_s.saturating_add(60)),
    })
}

/// The access-token keys of the configuration.
pub fn jwt_keys(config: &Config) -> Result<JwtKeys, StartError> {
    Ok(JwtKeys::new(config.jwt_secret()?.expose().as_bytes()))
}

/// The service as `escrowctl` and the tests that drive the library use it: the configured
/// store and providers, nothing of HTTP.
pub async fn build_service(config: &Config, public_url: &str) -> Result<Arc<Service>, StartError> {
    let parts = parts(config, public_url).await?;
    Ok(Arc::new(service(config, parts)?))
}
