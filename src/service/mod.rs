//! The use cases. HTTP handlers and CLI commands call only these, with typed inputs they have
//! already parsed (ids, amounts, titles, ratings: see [`input`] for the parsing they share)
//! and a [`Permit`] for the caller. Each use case exists once, whoever calls it.
//!
//! Where things live:
//! - [`access`] — the [`Caller`] and the [`Permit`] every use case a person starts needs;
//! - [`error`] — the one [`Error`] type and every stable [`ErrorCode`];
//! - [`input`] — parsing helpers for the adapters (the use cases never parse);
//! - `transition` — the compare-and-set loop every change of a contract goes through;
//! - one module per group of use cases: [`contracts`], [`checkout`] (and the sandbox's Pay
//!   button), [`webhooks`] (applying provider events), [`escrow`] (release, refund, provider
//!   settlement), [`payouts`] (money out), [`reports`], [`wallets`], [`reviews`], [`media`],
//!   [`timers`] (durable timers), [`operations`] (webhook
//!   events, verification), [`maintenance`] (the background task).

pub mod access;
pub mod chargebacks;
pub mod checkout;
pub mod contracts;
pub mod disputes;
pub mod error;
pub mod escrow;
pub mod input;
pub mod maintenance;
pub mod media;
pub mod operations;
pub mod payouts;
pub mod reports;
pub mod reviews;
pub mod timers;
mod transition;
pub mod wallets;
pub mod webhooks;

use std::path::PathBuf;
use std::sync::Arc;

pub use access::{Caller, Operator, Permit, UseCase};
pub use error::{Error, ErrorCode, ErrorKind, Result};

use crate::directory::Directory;
use crate::domain::{Contract, ContractId, ContractRef, Currency, FeeBps};
use crate::media::MediaStore;
use crate::metrics::Metrics;
use crate::payment::PaymentProvider;
use crate::store::Store;

/// The clock, injectable so simulations can run on a fake one.
pub trait Clock: Send + Sync + 'static {
    /// Unix milliseconds.
    fn now_ms(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// Where a release's earning goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayoutMode {
    /// To the freelancer's wallet, to be withdrawn by a payout.
    #[default]
    Wallet,
    /// Straight to the freelancer's connected account when it takes payouts (a payout made
    /// at release, funded by the escrow's charge); to the wallet otherwise.
    OnRelease,
}

/// Who bears a chargeback the platform loses after the money left the escrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChargebackRecovery {
    /// The platform: the loss stays on `platform:chargebacks`.
    #[default]
    Platform,
    /// The freelancer's wallet first (never below zero); the rest stays the platform's.
    Wallet,
}

/// Settings the use cases need (see `config` for where they come from).
#[derive(Clone)]
pub struct Settings {
    pub currency: Currency,
    pub fee: FeeBps,
    /// The front end: checkout success/cancel URLs are built from it.
    pub client_url: String,
    pub webhook_secret: String,
    /// Verifies the Connect endpoint's events; `None`: no money out (production without
    /// `STRIPE_CONNECT_WEBHOOK_SECRET`).
    pub connect_webhook_secret: Option<String>,
    pub payout_min: crate::domain::Money,
    pub payout_mode: PayoutMode,
    /// `ESCROW_CHARGEBACK_RECOVERY`: who bears a chargeback lost after release.
    pub chargeback_recovery: ChargebackRecovery,
    /// How long a wallet debit cut off between its steps (MongoDB) is left to the request that
    /// started it before the repair step finishes it: longer than any request runs.
    pub debit_grace_ms: i64,
    /// `ESCROW_AUTO_RELEASE_AFTER`: a completed contract's escrow is released by the system
    /// this long after completion unless its client asked for the release first (then at
    /// once, see `release_needs_admin`); `None`: off.
    pub auto_release_after_ms: Option<i64>,
    /// `ESCROW_RELEASE_NEEDS_ADMIN`: with auto-release on, a client's request still waits for
    /// an admin's release.
    pub release_needs_admin: bool,
    /// `ESCROW_TIMER_LEASE`: how long a claim holds a due timer (a server that dies holding
    /// one leaves it to the others this long after its claim).
    pub timer_lease_ms: i64,
    /// Where uploads are spooled while they are checked.
    pub spool_dir: PathBuf,
    pub upload_bytes_max: u64,
    /// Uploads one user may have in flight at once.
    pub uploads_per_user_max: usize,
    /// A spool file older than this belongs to no upload any more (one takes at most its
    /// timeout): the maintenance task deletes it.
    pub spool_age_max: std::time::Duration,
}

/// What the service works with: the store, the two providers and the directory.
pub struct Parts {
    pub store: Arc<dyn Store>,
    pub payments: Arc<dyn PaymentProvider>,
    pub media: Arc<dyn MediaStore>,
    pub directory: Arc<dyn Directory>,
}

pub struct Service {
    store: Arc<dyn Store>,
    payments: Arc<dyn PaymentProvider>,
    media: Arc<dyn MediaStore>,
    directory: Arc<dyn Directory>,
    settings: Settings,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    /// Uploads in flight per user (see [`media`]).
    uploads: media::UploadSlots,
    /// Who this process is when it claims a timer (see [`timers`]).
    holder: String,
}

impl Service {
    pub fn new(
        parts: Parts,
        settings: Settings,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Service {
        Service {
            store: parts.store,
            payments: parts.payments,
            media: parts.media,
            directory: parts.directory,
            settings,
            clock,
            metrics,
            uploads: Default::default(),
            holder: format!(
                "{}:{}",
                std::process::id(),
                hex::encode(rand::random::<[u8; 6]>())
            ),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn directory(&self) -> &Arc<dyn Directory> {
        &self.directory
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn payment_provider_name(&self) -> &'static str {
        self.payments.name()
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Checks that `caller` may run `use_case` (see [`access`]); every use case a person
    /// starts takes the permit this returns.
    pub fn permit<'a>(&self, caller: &'a Caller, use_case: UseCase<'a>) -> Result<Permit<'a>> {
        Permit::check(caller, use_case)
    }

    /// Storage reachable (`/readyz`).
    pub async fn ping(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }

    /// The contract a request names, by id or by human id: 404 `contract.not_found` when no
    /// contract has that number. An id is taken as it is (the use case finds out whether it
    /// exists); nothing here says who may see the contract.
    pub async fn contract_id(&self, named: ContractRef) -> Result<ContractId> {
        match named {
            ContractRef::Id(id) => Ok(id),
            ContractRef::Number(n) => self.store.contract_by_number(n).await?.ok_or_else(|| {
                Error::new(
                    ErrorCode::ContractNotFound,
                    format!("contract CON{n:08} not found"),
                )
            }),
        }
    }

    async fn load(&self, id: &ContractId) -> Result<Contract> {
        self.store.get_contract(id).await?.ok_or_else(|| {
            Error::new(
                ErrorCode::ContractNotFound,
                format!("contract {id} not found"),
            )
        })
    }
}
