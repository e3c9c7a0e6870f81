//! Typed configuration: defaults, then an optional TOML file (`--config`, same keys as the
//! environment variables), then the environment. Validated before anything starts; secrets are
//! wrapped so they never print.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::domain::{Currency, FeeBps, MinorUnits, Money};

/// A secret value: `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Development,
    Production,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Mongo(String),
}

/// How long a claim holds a due timer unless `ESCROW_TIMER_LEASE` says otherwise: longer than a
/// timer's work takes (a release and its payout's provider call).
pub const DEFAULT_TIMER_LEASE_MS: i64 = 120_000;

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub data_dir: PathBuf,
    pub database: DatabaseUrl,
    pub mongodb_database: String,
    pub listen: SocketAddr,
    /// The original app's database, read for users and jobs (`ESCROW_DIRECTORY_URL`,
    /// `mongodb://…/<db>`); unset: no directory.
    pub directory_url: Option<String>,
    /// A separate listener for `/metrics` only (`ESCROW_METRICS_LISTEN`); then the public
    /// listener does not serve it.
    pub metrics_listen: Option<SocketAddr>,
    /// The bearer token `/metrics` asks for (`ESCROW_METRICS_TOKEN`), on whichever listener.
    pub metrics_token: Option<Secret>,
    /// Production serves `/metrics` on the public listener without a token only when this is
    /// set (`ESCROW_METRICS_PUBLIC=true`).
    pub metrics_public: bool,
    /// How browsers reach this server (sandbox checkout page, local media URLs).
    pub public_url: Option<String>,
    pub jwt_secret: Option<Secret>,
    /// The original auth service's refresh-token secret (`REFRESH_SECRET`): its `refreshToken`
    /// cookie is then accepted as the credential of a chat upload from an allowed origin.
    pub refresh_secret: Option<Secret>,
    pub stripe_secret_key: Option<Secret>,
    pub stripe_webhook_secret: Option<Secret>,
    /// Verifies `POST /webhook/connect` (`STRIPE_CONNECT_WEBHOOK_SECRET`: Stripe signs a
    /// Connect endpoint's events with its own secret). Production without it has no money
    /// out (its routes answer 503 `payout.unconfigured`).
    pub stripe_connect_webhook_secret: Option<Secret>,
    /// The smallest payout (`ESCROW_PAYOUT_MIN`, in major units, default 100).
    pub payout_min: Money,
    /// Where a release's earning goes (`ESCROW_PAYOUT_MODE`): the wallet (default), or
    /// straight to the freelancer's connected account when it takes payouts (`on_release`).
    pub payout_mode: PayoutMode,
    /// Who bears a chargeback lost after release (`ESCROW_CHARGEBACK_RECOVERY`): the
    /// platform (default), or the freelancer's wallet first (`wallet`).
    pub chargeback_recovery: ChargebackRecovery,
    /// `ESCROW_AUTO_RELEASE_AFTER` (`14d`, `36h`, `90m`, `30s`; unset: off).
    pub auto_release_after_ms: Option<i64>,
    /// `ESCROW_RELEASE_NEEDS_ADMIN` (`true`/`false`, default false).
    pub release_needs_admin: bool,
    /// `ESCROW_TIMER_LEASE` (default `120s`): how long a server's claim holds a due timer.
    pub timer_lease_ms: i64,
    pub stripe_api_base: Option<String>,
    /// Bounds each Stripe API call (`STRIPE_TIMEOUT_S`).
    pub stripe_timeout_s: u64,
    pub client_url: String,
    /// The origins browsers may call the API from (`ESCROW_CORS_ORIGINS`, comma-separated;
    /// default `CLIENT_URL`'s origin).
    pub cors_origins: CorsOrigins,
    pub currency: Currency,
    pub fee: FeeBps,
    pub cloudinary: Option<(String, String, Secret)>,
    pub cloudinary_api_base: Option<String>,
    /// Bounds each whole Cloudinary upload (`CLOUDINARY_TIMEOUT_S`).
    pub cloudinary_timeout_s: u64,
    pub media_dir: PathBuf,
    pub upload_bytes_max: u64,
    /// How many uploads one user may have in flight at once (`ESCROW_UPLOADS_PER_USER_MAX`, 4):
    /// each may spool up to `upload_bytes_max` on disk while it arrives.
    pub uploads_per_user_max: usize,
    pub request_timeout_s: u64,
    /// How long the `Idempotency-Key` of a JSON request stays leased to the request running
    /// it (`ESCROW_IDEMPOTENCY_LEASE_S`; unset: the request timeout + 30 s, at least 60 s).
    /// A retry after a crash waits this long for the key; it must exceed the request timeout,
    /// so a running request is never taken over.
    pub idempotency_lease_s: Option<u64>,
    /// How long a client may take to send a request's headers; also how long an idle
    /// keep-alive connection stays open (`ESCROW_HEADER_READ_TIMEOUT_S`, 30; behind a load
    /// balancer, keep it above the balancer's idle timeout).
    pub header_read_timeout_s: u64,
    /// How long one upload may take in total (`ESCROW_UPLOAD_TIMEOUT_S`, 600).
    pub upload_timeout_s: u64,
    pub log_json: bool,
    /// SQLite: batch concurrent writes into one durable commit (`ESCROW_GROUP_COMMIT`, on).
    pub group_commit: bool,
    /// Benchmarks only: a delay added to every durable SQLite commit
    /// (`ESCROW_BENCH_COMMIT_DELAY_MS`), standing in for a slow disk or a replicated write.
    pub bench_commit_delay_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

pub use crate::service::{ChargebackRecovery, PayoutMode};

/// Where browsers may call the API from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// These origins (`scheme://host[:port]`, lower-case, no path).
    List(Vec<String>),
    /// `*`: any origin (development only; with credentials, the request's own origin is
    /// allowed back).
    Any,
}

impl CorsOrigins {
    fn parse(list: &str) -> Result<CorsOrigins, ConfigError> {
        if list.trim() == "*" {
            return Ok(CorsOrigins::Any);
        }
        let mut origins = vec![];
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let origin = origin_of(item).filter(|o| o == &item.trim_end_matches('/').to_ascii_lowercase()).ok_or_else(|| {
                ConfigError(format!(
                    "ESCROW_CORS_ORIGINS: {item:?} is not an origin (scheme://host[:port], no path)"
                ))
            })?;
            origins.push(origin);
        }
        Ok(CorsOrigins::List(origins))
    }

    /// Whether `origin` (a request's `Origin` header) may call.
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            CorsOrigins::Any => true,
            CorsOrigins::List(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        }
    }
}

/// The origin (`scheme://host[:port]`, lower-case) of an http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?;
    if host.is_empty() || host.contains('@') || host.contains(char::is_whitespace) {
        return None;
    }
    Some(format!("{scheme}://{}", host.to_ascii_lowercase()))
}

/// Where settings come from: the environment over an optional file.
pub struct Sources {
    values: HashMap<String, String>,
}

impl Sources {
    /// Reads the process environment over the optional TOML file.
    pub fn load(file: Option<&Path>) -> Result<Sources, ConfigError> {
        let mut values = HashMap::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
            let table: toml::Table = text
                .parse()
                .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
            for (k, v) in table {
                let v = match v {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    other => {
                        return Err(ConfigError(format!(
                            "{}: {k} must be a string, integer or boolean, not a {}",
                            path.display(),
                            other.type_str()
                        )));
                    }
                };
                values.insert(k.to_ascii_uppercase(), v);
            }
        }
        for (k, v) in std::env::vars() {
            if k.starts_with("ESCROW_")
                || k.starts_with("STRIPE_")
                || k.starts_with("CLOUDINARY_")
                || k == "JWT_SECRET"
                || k == "REFRESH_SECRET"
                || k == "CLIENT_URL"
            {
                values.insert(k, v);
            }
        }
        Ok(Sources { values })
    }

    pub fn from_map(values: HashMap<String, String>) -> Sources {
        Sources { values }
    }

    /// Sets one key over the file and the environment (a command-line flag such as
    /// `escrowctl --database-url`).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(key.to_string(), value.into());
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }
}

fn parse<T: std::str::FromStr>(s: &Sources, key: &str, default: T) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    match s.get(key) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|e| ConfigError(format!("{key}={v:?}: {e}"))),
    }
}

impl Config {
    pub fn from_sources(s: &Sources) -> Result<Config, ConfigError> {
        let mode = match s.get("ESCROW_ENV").unwrap_or("development") {
            "development" => Mode::Development,
            "production" => Mode::Production,
            other => {
                return Err(ConfigError(format!(
                    "ESCROW_ENV must be development or production, not {other:?}"
                )));
            }
        };
        let data_dir = PathBuf::from(s.get("ESCROW_DATA_DIR").unwrap_or("escrow-data"));
        let database = match s.get("ESCROW_DATABASE_URL") {
            None => DatabaseUrl::Sqlite(data_dir.join("escrow.db")),
            Some(url) => parse_database_url(url)?,
        };
        let fee_bps: u32 = parse(s, "ESCROW_PLATFORM_FEE_BPS", 1000)?;
        let fee = FeeBps::new(fee_bps)
            .map_err(|e| ConfigError(format!("ESCROW_PLATFORM_FEE_BPS: {e}")))?;
        let cloudinary = match (s.get("CLOUDINARY_CLOUD_NAME"), s.get("CLOUDINARY_API_KEY"), s.get("CLOUDINARY_API_SECRET")) {
            (Some(n), Some(k), Some(x)) => Some((n.to_string(), k.to_string(), Secret::new(x))),
            (None, None, None) => None,
            _ => return Err(ConfigError("set all three of CLOUDINARY_CLOUD_NAME, CLOUDINARY_API_KEY and CLOUDINARY_API_SECRET, or none".into())),
        };
        let request_timeout_s: u64 = parse(s, "ESCROW_REQUEST_TIMEOUT_S", 30)?;
        let upload_bytes_max: u64 = parse(s, "ESCROW_UPLOAD_BYTES_MAX", 104_857_600)?;
        if upload_bytes_max == 0 {
            return Err(ConfigError(
                "ESCROW_UPLOAD_BYTES_MAX must be greater than 0".into(),
            ));
        }
        let client_url = s
            .get("CLIENT_URL")
            .unwrap_or("http://localhost:5173")
            .trim_end_matches('/')
            .to_string();
        let cors_origins = match s.get("ESCROW_CORS_ORIGINS") {
            Some(list) => CorsOrigins::parse(list)?,
            None => CorsOrigins::List(vec![origin_of(&client_url).ok_or_else(|| {
                ConfigError(format!(
                    "CLIENT_URL {client_url:?} is not an http(s) URL, so it names no origin for CORS; set ESCROW_CORS_ORIGINS"
                ))
            })?]),
        };
        if mode == Mode::Production && cors_origins == CorsOrigins::Any {
            return Err(ConfigError(
                "ESCROW_ENV=production refuses ESCROW_CORS_ORIGINS=*: list the front end's origins"
                    .into(),
            ));
        }
        let currency: Currency = parse(s, "ESCROW_CURRENCY", Currency::Inr)?;
        let payout_min = match s.get("ESCROW_PAYOUT_MIN") {
            None => Money::new(MinorUnits::new(100 * 10i64.pow(currency.minor_digits())), currency),
            Some(text) => Money::parse_major(text, currency)
                .ok()
                .filter(|m| m.minor.get() > 0)
                .ok_or_else(|| {
                    ConfigError(format!(
                        "ESCROW_PAYOUT_MIN must be a positive amount in {currency} like 100 or 99.50, not {text:?}"
                    ))
                })?,
        };
        let payout_mode = match s.get("ESCROW_PAYOUT_MODE").unwrap_or("wallet") {
            "wallet" => PayoutMode::Wallet,
            "on_release" => PayoutMode::OnRelease,
            other => {
                return Err(ConfigError(format!(
                    "ESCROW_PAYOUT_MODE must be wallet or on_release, not {other:?}"
                )));
            }
        };
        let chargeback_recovery = match s.get("ESCROW_CHARGEBACK_RECOVERY").unwrap_or("platform") {
            "platform" => ChargebackRecovery::Platform,
            "wallet" => ChargebackRecovery::Wallet,
            other => {
                return Err(ConfigError(format!(
                    "ESCROW_CHARGEBACK_RECOVERY must be platform or wallet, not {other:?}"
                )));
            }
        };
        let config = Config {
            mode,
            chargeback_recovery,
            stripe_connect_webhook_secret: s
                .get("STRIPE_CONNECT_WEBHOOK_SECRET")
                .filter(|v| !v.is_empty())
                .map(Secret::new),
            payout_min,
            payout_mode,
            auto_release_after_ms: match s.get("ESCROW_AUTO_RELEASE_AFTER") {
                None | Some("") => None,
                Some(text) => Some(parse_duration_ms(text).ok_or_else(|| {
                    ConfigError(format!(
                        "ESCROW_AUTO_RELEASE_AFTER must be a duration such as 14d, 36h, 90m or 30s (at most 365d), not {text:?}"
                    ))
                })?),
            },
            release_needs_admin: switch(s, "ESCROW_RELEASE_NEEDS_ADMIN", false, "true or false")?,
            timer_lease_ms: match s.get("ESCROW_TIMER_LEASE") {
                None | Some("") => DEFAULT_TIMER_LEASE_MS,
                Some(text) => parse_duration_ms(text).filter(|ms| *ms >= 1_000).ok_or_else(|| {
                    ConfigError(format!(
                        "ESCROW_TIMER_LEASE must be a duration of at least 1s such as 120s or 5m, not {text:?}"
                    ))
                })?,
            },
            cors_origins,
            database,
            mongodb_database: s
                .get("ESCROW_MONGODB_DATABASE")
                .unwrap_or("escrow")
                .to_string(),
            listen: parse(s, "ESCROW_LISTEN", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            directory_url: match s.get("ESCROW_DIRECTORY_URL") {
                None | Some("") => None,
                Some(u) if u.starts_with("mongodb://") || u.starts_with("mongodb+srv://") => {
                    Some(u.to_string())
                }
                Some(u) => {
                    return Err(ConfigError(format!(
                        "ESCROW_DIRECTORY_URL must be a mongodb:// URL naming the original app's database, not {:?}",
                        u.split("://").next().unwrap_or("")
                    )));
                }
            },
            metrics_listen: match s.get("ESCROW_METRICS_LISTEN") {
                None | Some("") => None,
                Some(_) => Some(parse(
                    s,
                    "ESCROW_METRICS_LISTEN",
                    SocketAddr::from(([127, 0, 0, 1], 0)),
                )?),
            },
            metrics_token: s
                .get("ESCROW_METRICS_TOKEN")
                .filter(|t| !t.is_empty())
                .map(Secret::new),
            metrics_public: switch(s, "ESCROW_METRICS_PUBLIC", false, "true or false")?,
            public_url: s
                .get("ESCROW_PUBLIC_URL")
                .map(|u| u.trim_end_matches('/').to_string()),
            jwt_secret: s.get("JWT_SECRET").map(Secret::new),
            refresh_secret: s
                .get("REFRESH_SECRET")
                .filter(|v| !v.is_empty())
                .map(Secret::new),
            stripe_secret_key: s.get("STRIPE_SECRET_KEY").map(Secret::new),
            stripe_webhook_secret: s.get("STRIPE_WEBHOOK_SECRET").map(Secret::new),
            stripe_api_base: s.get("STRIPE_API_BASE").map(str::to_string),
            stripe_timeout_s: parse(s, "STRIPE_TIMEOUT_S", 15)?,
            client_url,
            currency,
            fee,
            cloudinary,
            cloudinary_api_base: s.get("CLOUDINARY_API_BASE").map(str::to_string),
            cloudinary_timeout_s: parse(s, "CLOUDINARY_TIMEOUT_S", 300)?,
            media_dir: s
                .get("ESCROW_MEDIA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("media")),
            upload_bytes_max,
            uploads_per_user_max: match parse(s, "ESCROW_UPLOADS_PER_USER_MAX", 4)? {
                0 => {
                    return Err(ConfigError(
                        "ESCROW_UPLOADS_PER_USER_MAX must be greater than 0".into(),
                    ));
                }
                n => n,
            },
            request_timeout_s,
            idempotency_lease_s: match s.get("ESCROW_IDEMPOTENCY_LEASE_S") {
                None => None,
                Some(_) => match parse(s, "ESCROW_IDEMPOTENCY_LEASE_S", 0u64)? {
                    n if n > request_timeout_s && n <= 12 * 3600 => Some(n),
                    n => {
                        return Err(ConfigError(format!(
                            "ESCROW_IDEMPOTENCY_LEASE_S must be longer than ESCROW_REQUEST_TIMEOUT_S ({request_timeout_s} s) and at most 43200 (12 hours), not {n}"
                        )));
                    }
                },
            },
            upload_timeout_s: parse(s, "ESCROW_UPLOAD_TIMEOUT_S", 600)?,
            header_read_timeout_s: match parse(s, "ESCROW_HEADER_READ_TIMEOUT_S", 30)? {
                0 => {
                    return Err(ConfigError(
                        "ESCROW_HEADER_READ_TIMEOUT_S must be greater than 0".into(),
                    ));
                }
                n => n,
            },
            log_json: s.get("ESCROW_LOG_FORMAT") == Some("json"),
            group_commit: switch(s, "ESCROW_GROUP_COMMIT", true, "on or off")?,
            bench_commit_delay_ms: parse(s, "ESCROW_BENCH_COMMIT_DELAY_MS", 0)?,
            data_dir,
        };
        config.check_production()?;
        Ok(config)
    }

    /// Production refuses every development default, naming the missing setting.
    fn check_production(&self) -> Result<(), ConfigError> {
        if self.mode != Mode::Production {
            return Ok(());
        }
        let mut missing = vec![];
        if self.jwt_secret.is_none() {
            missing.push("JWT_SECRET (no generated secret in production)");
        }
        if self.stripe_secret_key.is_none() {
            missing.push("STRIPE_SECRET_KEY (the sandbox provider is refused in production)");
        }
        if self.stripe_webhook_secret.is_none() {
            missing.push("STRIPE_WEBHOOK_SECRET");
        }

        if missing.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(format!(
                "ESCROW_ENV=production needs {}",
                missing.join(", ")
            )))
        }
    }

    /// What only a server needs on top of [`Config::from_sources`]'s checks (escrowctl serves
    /// nothing): in production, `/metrics` (it shows money moved) on the public listener
    /// without a token only when asked for.
    pub fn check_serving(&self) -> Result<(), ConfigError> {
        if self.mode == Mode::Production
            && self.metrics_listen.is_none()
            && self.metrics_token.is_none()
            && !self.metrics_public
        {
            return Err(ConfigError(
                "ESCROW_ENV=production needs ESCROW_METRICS_TOKEN or ESCROW_METRICS_LISTEN (/metrics shows money moved; to serve it on the public listener without a token, set ESCROW_METRICS_PUBLIC=true)".into(),
            ));
        }
        Ok(())
    }

    /// The URL browsers use to reach the server.
    pub fn public_url_for(&self, bound: SocketAddr) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
    }

    /// The JWT secret: configured, or (development only) generated once in the data directory.
    pub fn jwt_secret(&self) -> Result<Secret, ConfigError> {
        match &self.jwt_secret {
            Some(s) => Ok(s.clone()),
            None => dev_secret(self, "jwt-secret", "JWT_SECRET", ""),
        }
    }

    /// The Connect endpoint's signing secret: configured, or (development only) generated
    /// once; `None` in production without it (no money out).
    pub fn connect_webhook_secret(&self) -> Result<Option<Secret>, ConfigError> {
        match (&self.stripe_connect_webhook_secret, self.mode) {
            (Some(s), _) => Ok(Some(s.clone())),
            (None, Mode::Production) => Ok(None),
            (None, Mode::Development) => dev_secret(
                self,
                "connect-webhook-secret",
                "STRIPE_CONNECT_WEBHOOK_SECRET",
                "whsec_",
            )
            .map(Some),
        }
    }

    /// The webhook signing secret: configured, or (development only) generated once.
    pub fn webhook_secret(&self) -> Result<Secret, ConfigError> {
        match &self.stripe_webhook_secret {
            Some(s) => Ok(s.clone()),
            None => dev_secret(self, "webhook-secret", "STRIPE_WEBHOOK_SECRET", "whsec_"),
        }
    }
}

/// A yes-or-no setting: `true`/`on`/`1` or `false`/`off`/`0` (`default` when unset); anything
/// else is refused, naming the variable and `words` (how its documentation spells the two).
fn switch(s: &Sources, name: &str, default: bool, words: &str) -> Result<bool, ConfigError> {
    match s.get(name) {
        None => Ok(default),
        Some("true" | "on" | "1") => Ok(true),
        Some("false" | "off" | "0") => Ok(false),
        Some(other) => Err(ConfigError(format!(
            "{name} must be {words}, not {other:?}"
        ))),
    }
}

/// A duration as `<n><unit>` with the unit `s`, `m`, `h` or `d`, more than 0 and at most a
/// year; in milliseconds.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(split);
    let n: i64 = n.parse().ok()?;
    let scale = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(scale)
        .filter(|ms| *ms > 0 && *ms <= 365 * 86_400_000)
}

/// A duration in milliseconds as the largest whole unit that writes it exactly (`14d`, `90m`).
pub fn format_duration_ms(ms: i64) -> String {
    for (unit, scale) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms % scale == 0 && ms >= scale {
            return format!("{}{unit}", ms / scale);
        }
    }
    format!("{ms}ms")
}

fn parse_database_url(url: &str) -> Result<DatabaseUrl, ConfigError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(ConfigError(
                "ESCROW_DATABASE_URL sqlite:// needs a file path".into(),
            ));
        }
        return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
    }
    if url.starts_with("mongodb://") || url.starts_with("mongodb+srv://") {
        return Ok(DatabaseUrl::Mongo(url.to_string()));
    }
    Err(ConfigError(format!(
        "ESCROW_DATABASE_URL must start with sqlite://, mongodb:// or mongodb+srv://, not {:?}",
        url.split("://").next().unwrap_or("")
    )))
}

/// Reads or creates (mode 0600) a random development secret shared by both binaries.
fn dev_secret(
    config: &Config,
    file: &str,
    variable: &str,
    prefix: &str,
) -> Result<Secret, ConfigError> {
    if config.mode == Mode::Production {
        return Err(ConfigError(format!("{variable} must be set in production")));
    }
    let path = config.data_dir.join(file);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_string();
        if !existing.is_empty() {
            return Ok(Secret::new(existing));
        }
    }
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| ConfigError(format!("cannot create {}: {e}", config.data_dir.display())))?;
    let value = format!("{prefix}{}", hex::encode(rand::random::<[u8; 32]>()));
    write_private(&path, &value)
        .map_err(|e| ConfigError(format!("cannot write {}: {e}", path.display())))?;
    // Another process may have created it first: whatever is on disk now wins.
    let stored = std::fs::read_to_string(&path)
        .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
    tracing::warn!(file = %path.display(), "{variable} is not set: using a generated development secret");
    Ok(Secret::new(stored.trim()))
}

fn write_private(path: &Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut f) => {
            f.write_all(value.as_bytes())?;
            f.sync_all()
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(pairs: &[(&str, &str)]) -> Sources {
        Sources::from_map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn defaults_run_anywhere() {
        let c = Config::from_sources(&sources(&[])).unwrap();
        assert_eq!(
            c.database,
            DatabaseUrl::Sqlite(PathBuf::from("escrow-data/escrow.db"))
        );
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.fee.get(), 1000);
        assert_eq!(c.currency, Currency::Inr);
        assert_eq!(c.upload_bytes_max, 104_857_600);
    }

    #[test]
    fn production_names_every_missing_setting() {
        let e = Config::from_sources(&sources(&[("ESCROW_ENV", "production")]))
            .unwrap_err()
            .0;
        for v in ["JWT_SECRET", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"] {
            assert!(e.contains(v), "{e}");
        }
        let set = [
            ("ESCROW_ENV", "production"),
            ("JWT_SECRET", "j"),
            ("STRIPE_SECRET_KEY", "sk_test_x"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
        ];
        for metrics in [
            ("ESCROW_METRICS_TOKEN", "t"),
            ("ESCROW_METRICS_LISTEN", "127.0.0.1:9100"),
            ("ESCROW_METRICS_PUBLIC", "true"),
        ] {
            let mut all = set.to_vec();
            all.push(metrics);
            let c = Config::from_sources(&sources(&all)).unwrap();
            assert!(c.check_serving().is_ok(), "{metrics:?}");
        }
        // escrowctl needs none of them; a server does.
        let c = Config::from_sources(&sources(&set)).unwrap();
        let e = c.check_serving().unwrap_err().0;
        assert!(e.contains("ESCROW_METRICS_PUBLIC=true"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        assert!(
            Config::from_sources(&sources(&[("ESCROW_PLATFORM_FEE_BPS", "20000")]))
                .unwrap_err()
                .0
                .contains("ESCROW_PLATFORM_FEE_BPS")
        );
        assert!(
            Config::from_sources(&sources(&[("ESCROW_DATABASE_URL", "postgres://x")])).is_err()
        );
        assert!(
            Config::from_sources(&sources(&[("ESCROW_CURRENCY", "xxx")]))
                .unwrap_err()
                .0
                .contains("ESCROW_CURRENCY")
        );
        assert!(Config::from_sources(&sources(&[("CLOUDINARY_CLOUD_NAME", "x")])).is_err());
        for (lease, timeout) in [("30", "30"), ("5", "30"), ("x", "30"), ("50000", "30")] {
            let e = Config::from_sources(&sources(&[
                ("ESCROW_IDEMPOTENCY_LEASE_S", lease),
                ("ESCROW_REQUEST_TIMEOUT_S", timeout),
            ]))
            .unwrap_err();
            assert!(e.0.contains("ESCROW_IDEMPOTENCY_LEASE_S"), "{e}");
        }
        let c = Config::from_sources(&sources(&[
            ("ESCROW_IDEMPOTENCY_LEASE_S", "5"),
            ("ESCROW_REQUEST_TIMEOUT_S", "4"),
        ]))
        .unwrap();
        assert_eq!(c.idempotency_lease_s, Some(5));
        for zero in [
            "ESCROW_UPLOADS_PER_USER_MAX",
            "ESCROW_HEADER_READ_TIMEOUT_S",
        ] {
            let e = Config::from_sources(&sources(&[(zero, "0")])).unwrap_err();
            assert!(e.0.contains(zero), "{e}");
        }
    }

    #[test]
    fn cors_origins_are_origins_and_production_refuses_any() {
        let c = Config::from_sources(&sources(&[("CLIENT_URL", "https://Front.example/app/")]))
            .unwrap();
        assert_eq!(
            c.cors_origins,
            CorsOrigins::List(vec!["https://front.example".into()])
        );
        let c = Config::from_sources(&sources(&[(
            "ESCROW_CORS_ORIGINS",
            "http://a.test, http://localhost:5173",
        )]))
        .unwrap();
        assert!(c.cors_origins.allows("http://localhost:5173"));
        assert!(!c.cors_origins.allows("http://localhost:5174"));
        for bad in ["a.test", "http://a.test/path", "ftp://a.test", "http://"] {
            let e = Config::from_sources(&sources(&[("ESCROW_CORS_ORIGINS", bad)])).unwrap_err();
            assert!(e.0.contains("ESCROW_CORS_ORIGINS"), "{bad}: {e}");
        }
        let any = Config::from_sources(&sources(&[("ESCROW_CORS_ORIGINS", "*")])).unwrap();
        assert_eq!(any.cors_origins, CorsOrigins::Any);
        let e = Config::from_sources(&sources(&[
            ("ESCROW_ENV", "production"),
            ("JWT_SECRET", "j"),
            ("STRIPE_SECRET_KEY", "sk_test_x"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
            ("ESCROW_CORS_ORIGINS", "*"),
        ]))
        .unwrap_err();
        assert!(e.0.contains("ESCROW_CORS_ORIGINS=*"), "{e}");
    }

    #[test]
    fn secrets_never_print() {
        assert_eq!(format!("{:?}", Secret::new("sk_live_123")), "[redacted]");
    }

    #[test]
    fn a_dev_secret_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::from_sources(&sources(&[(
            "ESCROW_DATA_DIR",
            dir.path().to_str().unwrap(),
        )]))
        .unwrap();
        let a = c.jwt_secret().unwrap();
        let b = c.jwt_secret().unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("jwt-secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(c.webhook_secret().unwrap().expose().starts_with("whsec_"));
    }

    #[test]
    fn durations_take_a_unit_and_stay_within_a_year() {
        assert_eq!(parse_duration_ms("14d"), Some(14 * 86_400_000));
        assert_eq!(parse_duration_ms(" 36h "), Some(36 * 3_600_000));
        assert_eq!(parse_duration_ms("90m"), Some(90 * 60_000));
        assert_eq!(parse_duration_ms("1s"), Some(1_000));
        assert_eq!(parse_duration_ms("365d"), Some(365 * 86_400_000));
        for bad in [
            "",
            "0s",
            "14",
            "d",
            "2w",
            "1.5d",
            "-1d",
            "366d",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration_ms(bad), None, "{bad:?}");
        }
        assert_eq!(format_duration_ms(14 * 86_400_000), "14d");
        assert_eq!(format_duration_ms(90 * 60_000), "90m");
        assert_eq!(format_duration_ms(1_500), "1500ms");
        let with = |k: &str, v: &str| {
            Config::from_sources(&Sources::from_map(
                [(k.to_string(), v.to_string())].into_iter().collect(),
            ))
        };
        assert!(with("ESCROW_AUTO_RELEASE_AFTER", "2w").is_err());
        let lease = |v: &str| with("ESCROW_TIMER_LEASE", v).map(|c| c.timer_lease_ms);
        assert_eq!(lease("").unwrap(), DEFAULT_TIMER_LEASE_MS);
        assert_eq!(lease("5m").unwrap(), 300_000);
        let e = lease("500ms").unwrap_err().to_string();
        assert!(e.contains("ESCROW_TIMER_LEASE"), "{e}");
    }
}
