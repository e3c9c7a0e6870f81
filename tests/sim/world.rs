//! One simulated world: a real [`Service`] over a real SQLite file in a temp directory, a fake
//! clock, a fake payment provider, a simulated Stripe account, and the model. [`World::run`]
//! plays one seeded sequence of steps and checks everything after each one.
//!
//! **Determinism.** Steps run one at a time on a current-thread runtime and each is awaited to
//! the end before the next is drawn, so nothing interleaves by chance: the only inputs are the
//! seed, the fake clock and the fakes' answers. The library draws contract ids from its own
//! random source, so the simulator never lets an id's value steer it: contracts are named by
//! their slot (creation order), provider faults are armed per contract, and the one place the
//! library walks contracts in store order (`recover_provider_work`) is order-independent by
//! construction. The trace of a seed is therefore the same on every run.
//!
//! **Crashes.** A crash unwinds out of the service mid-operation (see [`crate::fakes`]); the
//! world then drops the service and its store, opens new ones on the same file, and runs the
//! startup recovery (`recover_provider_work`), as `escrow-server` does. Stripe redelivers every
//! event that did not get a 200; an admin or client whose call died may call again later.
//!
//! **Checks after every step.** `Service::verify` (every DESIGN §4 invariant); each contract
//! against the model (exactly, or — after a crash or an injected fault — as one of the states
//! the operation may durably have reached); every ledger account against the balance the model
//! derives; the provider's refunds against the store's (each recorded exactly once, or still
//! owed); every webhook event's stored status; and for a refused or no-op call, that the store
//! did not change at all.
//!
//! Where things live: this file holds the world, its types and the sequence (`run`, `play`,
//! `drain`); [`generate`] chooses each step, [`predict`] says what it must do, [`execute`] runs
//! it through the library, and [`check`] compares what happened with the prediction.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use escrow::auth::{Principal, Role};
use escrow::domain::{
    Account, Contract, ContractId, ContractStatus, Currency, EscrowStatus, FeeBps, JobId,
    LedgerEntry, Party, ReleaseFundStatus, UserId,
};
use escrow::media::local::LocalMediaStore;
use escrow::metrics::Metrics;
use escrow::payment::webhook::sign;
use escrow::service::{Caller, ErrorKind, Parts, Service, Settings};
use escrow::store::sqlite::SqliteStore;
use escrow::store::{EventStatus, WebhookEvent};
use futures_util::FutureExt;

use crate::crash_store::{CrashStore, CrashSwitch, Trap, Written};
use crate::fakes::{FakeClock, FakeProvider, Fault, SimCrash};
use crate::model::{Change, Funding, MState, Model, Slot};
use crate::rng::Rng;
use crate::stripe::{self, Delivery, EventKind, Stripe, StripePayment};

mod check;
mod execute;
mod generate;
mod predict;

/// Steps per sequence: short, so thousands of sequences fit the test command.
pub const STEPS_MIN: i64 = 20;
pub const STEPS_MAX: i64 = 40;
/// Signature timestamps lag the clock by up to this much (inside the 300 s tolerance).
const SIGN_LAG_S_MAX: i64 = 200;
/// A fixed start (2026-01-01T00:00:00Z) so that a seed replays the same timestamps.
const EPOCH_MS: i64 = 1_767_225_600_000;
const CLIENTS: usize = 3;
const FREELANCERS: usize = 3;
const ADMINS: usize = 2;
const CLI_ACTOR: &str = "cli:sim@host";

/// Figures summed over sequences for the summary line.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub sequences: u64,
    pub steps: u64,
    pub crashes_store: u64,
    pub crashes_provider: u64,
    pub crashes_idle: u64,
    pub store_failures: u64,
    pub provider_faults: u64,
    pub provider_calls: u64,
    pub store_calls: u64,
    pub deliveries: u64,
    pub refused: u64,
    pub verifies: u64,
    pub model_checks: u64,
    pub released: u64,
    pub refunded: u64,
    pub duplicates_refunded: u64,
    pub payouts_paid: u64,
    pub payouts_failed: u64,
    /// Escrows released by a timer pass (auto-release, or a request's fallback).
    pub auto_released: u64,
    /// Milestones of contracts in several parts, released one by one.
    pub milestones_released: u64,
    /// Client disputes opened, and resolved by an operator's split.
    pub disputes_opened: u64,
    pub disputes_resolved: u64,
    /// Payments refunded outside the escrow (the dashboard) that the service took out of it.
    pub outside_refunds: u64,
    /// Refunds the provider answered `pending`, that failed there, that an operator sent
    /// again, and that an operator settled by other means.
    pub refunds_answered_pending: u64,
    pub refunds_failed: u64,
    pub refunds_retried: u64,
    pub failed_refunds_settled: u64,
    /// Refund events that named a refund whose answer was lost, learned by asking again.
    pub refunds_learned: u64,
    /// Chargebacks heard of, and decided by the bank.
    pub chargebacks: u64,
    pub chargebacks_won: u64,
    pub chargebacks_lost: u64,
    /// Chargeback losses recovered from a freelancer's wallet (worlds with wallet recovery).
    pub recoveries: u64,
    pub crash_sites: BTreeMap<String, u64>,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.sequences += o.sequences;
        self.steps += o.steps;
        self.crashes_store += o.crashes_store;
        self.crashes_provider += o.crashes_provider;
        self.crashes_idle += o.crashes_idle;
        self.store_failures += o.store_failures;
        self.provider_faults += o.provider_faults;
        self.provider_calls += o.provider_calls;
        self.store_calls += o.store_calls;
        self.deliveries += o.deliveries;
        self.refused += o.refused;
        self.verifies += o.verifies;
        self.model_checks += o.model_checks;
        self.released += o.released;
        self.refunded += o.refunded;
        self.duplicates_refunded += o.duplicates_refunded;
        self.payouts_paid += o.payouts_paid;
        self.payouts_failed += o.payouts_failed;
        self.auto_released += o.auto_released;
        self.milestones_released += o.milestones_released;
        self.disputes_opened += o.disputes_opened;
        self.disputes_resolved += o.disputes_resolved;
        self.outside_refunds += o.outside_refunds;
        self.refunds_answered_pending += o.refunds_answered_pending;
        self.refunds_failed += o.refunds_failed;
        self.refunds_retried += o.refunds_retried;
        self.failed_refunds_settled += o.failed_refunds_settled;
        self.refunds_learned += o.refunds_learned;
        self.chargebacks += o.chargebacks;
        self.chargebacks_won += o.chargebacks_won;
        self.chargebacks_lost += o.chargebacks_lost;
        self.recoveries += o.recoveries;
        for (k, v) in &o.crash_sites {
            *self.crash_sites.entry(k.clone()).or_insert(0) += v;
        }
    }

    pub fn crashes(&self) -> u64 {
        self.crashes_store + self.crashes_provider + self.crashes_idle
    }
}

/// A failed sequence: enough to replay it.
#[derive(Debug)]
pub struct Failure {
    pub seed: u64,
    pub step: usize,
    pub op: String,
    pub message: String,
    pub trace: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Client(usize),
    Freelancer(usize),
    Admin(usize),
}

/// An amount as the client types it, and what it should parse to.
#[derive(Debug, Clone)]
pub struct AmountText {
    pub json: String,
    /// `None`: the text must be refused (422).
    pub minor: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayHow {
    /// `checkout.session.completed` (paid), sometimes also `payment_intent.succeeded`.
    Card {
        intent_event_too: bool,
    },
    /// Completed unpaid, then `async_payment_succeeded` or `async_payment_failed`.
    Async {
        succeeds: bool,
    },
    WrongAmount,
    UnknownContract,
    MalformedContract,
    /// A session made by the original app: metadata with the job and client, no contract id.
    Legacy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgery {
    NoHeader,
    WrongSecret,
    Stale,
    Future,
    TamperedBody,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseHow {
    /// `PUT /api/admin/escrow/release-fund` with this caller's token.
    Http(Who),
    /// `escrowctl escrow release [--force --reason R]`.
    Cli { force: Option<&'static str> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundHow {
    /// `PUT /api/admin/escrow/refund-client/:contract/:client` with this caller's token.
    Http { who: Who, path_client: usize },
    /// `escrowctl escrow refund [--freelancer-share N]`.
    Cli { share: Option<i64> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GhostKind {
    Approve,
    RequestRelease,
    Release,
    Refund,
}

#[derive(Debug, Clone)]
pub enum Op {
    Create {
        who: Who,
        freelancer: usize,
        job: usize,
        amount: AmountText,
        /// Milestones to split the amount into (1: made the original way).
        parts: usize,
    },
    /// The freelancer delivers a milestone (`part`: its index; one past the last is unknown).
    Submit {
        slot: usize,
        who: Who,
        part: usize,
    },
    /// The client asks for one milestone's release.
    RequestPart {
        slot: usize,
        who: Who,
        part: usize,
    },
    /// One milestone's release, by an admin's route or the CLI.
    ReleasePart {
        slot: usize,
        part: usize,
        how: ReleaseHow,
    },
    Approve {
        slot: usize,
        who: Who,
    },
    Move {
        slot: usize,
        who: Who,
        to: &'static str,
    },
    Checkout {
        slot: usize,
        who: Who,
        rate: Option<AmountText>,
        title: Option<&'static str>,
        freelancer: Option<usize>,
    },
    Pay {
        slot: usize,
        how: PayHow,
    },
    Deliver {
        event: usize,
    },
    Forged {
        event: usize,
        how: Forgery,
    },
    RequestRelease {
        slot: usize,
        who: Who,
    },
    Release {
        slot: usize,
        how: ReleaseHow,
    },
    Refund {
        slot: usize,
        how: RefundHow,
        /// Armed for this contract just before the call (a provider that fails this refund).
        fault: Option<Fault>,
    },
    Review {
        slot: usize,
        who: Who,
        path_client: usize,
        freelancer: usize,
        rating: i64,
        description: &'static str,
    },
    Fault {
        slot: usize,
        fault: Fault,
    },
    /// A client disputes the contract's held escrow (its own, or another's).
    Dispute {
        slot: usize,
        who: Who,
    },
    /// A freelancer answers the contract's open dispute.
    RespondDispute {
        slot: usize,
        who: Who,
    },
    /// An operator resolves the open dispute with this split (minor units), through the CLI's
    /// use case; `fault` is armed for the client share's refund.
    ResolveDispute {
        slot: usize,
        client: i64,
        freelancer: i64,
        fault: Option<Fault>,
    },
    /// Someone refunds the escrow's payment from the Stripe dashboard, outside the escrow:
    /// only Stripe's `charge.refunded` event reaches the service.
    DashboardRefund {
        slot: usize,
    },
    /// The bank settles the `pick`-th refund the provider holds as pending: it succeeds or
    /// fails, and Stripe sends the refund object as `event_type` says.
    FinishRefund {
        pick: usize,
        succeeds: bool,
        event_type: &'static str,
    },
    /// The card holder disputes the payment behind the slot's escrow at their bank (all of
    /// it, or `part_of` hundredths): Stripe sends `charge.dispute.created`, and now and then
    /// `charge.dispute.funds_withdrawn` too.
    Chargeback {
        slot: usize,
        part_of: i64,
        withdrawn: bool,
    },
    /// The bank decides the `pick`-th open chargeback: Stripe sends `charge.dispute.closed`
    /// (`won` comes with `charge.dispute.funds_reinstated` when the funds had been withdrawn).
    DecideChargeback {
        pick: usize,
        won: bool,
    },
    /// An operator sends a contract's failed refunds again (`escrowctl refunds retry`);
    /// `fault` is armed for the call.
    RetryRefund {
        slot: usize,
        fault: Option<Fault>,
    },
    /// An operator settles a contract's failed refunds by other means (`escrowctl refunds
    /// settle`).
    SettleFailedRefund {
        slot: usize,
    },
    Outage(bool),
    Recover,
    Restart,
    /// A server's timer pass: every due timer runs (auto-releases).
    Tick,
    /// A freelancer onboards for payouts: the connected account is made and the provider says
    /// it takes payouts (a signed `account.updated` to the Connect endpoint).
    Onboard {
        freelancer: usize,
    },
    /// A freelancer withdraws (`None`: the whole wallet); `fault` is armed for its transfer.
    Withdraw {
        freelancer: usize,
        amount: Option<i64>,
        fault: Option<Fault>,
    },
    Ghost {
        kind: GhostKind,
        malformed: bool,
    },
}

impl Op {
    /// Whether the operation writes through the store (and so may be crashed mid-way).
    fn writes(&self) -> bool {
        !matches!(
            self,
            Op::Pay { .. }
                | Op::DashboardRefund { .. }
                | Op::FinishRefund { .. }
                | Op::Chargeback { .. }
                | Op::DecideChargeback { .. }
                | Op::Fault { .. }
                | Op::Outage(_)
                | Op::Restart
                | Op::Forged { .. }
                | Op::Ghost { .. }
        )
    }
}

/// What the model says a step should do.
#[derive(Debug, Clone)]
struct Expect {
    result: Result<(), ErrorKind>,
    change: Change,
    /// A webhook delivery's outcome (`applied`, `ignored`, `failed`, `duplicate`).
    webhook: Option<&'static str>,
    /// A provider fault armed for this step's calls crashes the service.
    crash: bool,
    recovered: Option<(usize, usize)>,
    /// The step's end state cannot be told exactly (a provider crash somewhere in a recovery
    /// pass whose order is the store's).
    masked: bool,
}

impl Expect {
    fn ok(change: Change) -> Expect {
        Expect {
            result: Ok(()),
            change,
            webhook: None,
            crash: false,
            recovered: None,
            masked: false,
        }
    }

    fn from_want(want: crate::model::Want) -> Expect {
        match want {
            Ok(change) => Expect::ok(change),
            Err(kind) => Expect::err(kind),
        }
    }

    fn err(kind: ErrorKind) -> Expect {
        Expect {
            result: Err(kind),
            ..Expect::ok(Change::No)
        }
    }
}

/// What a step actually returned.
#[derive(Debug)]
enum Reply {
    Nothing,
    Created(ContractId),
    Webhook(String),
    Escrow(EscrowStatus),
    Recovered(usize, usize),
    Payout(escrow::domain::PayoutStatus),
}

type Got = Result<Result<Reply, escrow::service::Error>, String>;

/// Each contract's release timers as stored, by kind and contract: due when, done, and until
/// when a claim holds it.
/// Stored release timers by kind, contract and milestone index: due when, done, leased until.
type StoredTimers = HashMap<(&'static str, ContractId, usize), (i64, bool, i64)>;

/// Everything read back from the store after a step.
#[derive(Debug, Clone, Default, PartialEq)]
struct Snapshot {
    // Shared, so that a part no write touched is carried to the next step without a copy.
    contracts: Arc<Vec<Contract>>,
    entries: Arc<Vec<LedgerEntry>>,
    events: Arc<Vec<WebhookEvent>>,
    reviewed: Arc<Vec<ContractId>>,
    /// Every payout, oldest first.
    payouts: Arc<Vec<escrow::domain::Payout>>,
    /// Whether each freelancer's connected account takes payouts.
    onboarded: Arc<Vec<bool>>,
    /// Each contract's release timers as stored (by kind): due when, and done.
    auto_release: Arc<StoredTimers>,
    /// Each chargeback's recovery timer as stored, by its provider dispute id.
    recovery_timers: Arc<BTreeMap<String, (i64, bool, i64)>>,
}

pub struct World {
    seed: u64,
    rng: Rng,
    _dir: tempfile::TempDir,
    db: PathBuf,
    clock: Arc<FakeClock>,
    provider: Arc<FakeProvider>,
    switch: Arc<CrashSwitch>,
    settings: Settings,
    store: Option<Arc<CrashStore>>,
    service: Option<Service>,
    clients: Vec<UserId>,
    freelancers: Vec<UserId>,
    admins: Vec<UserId>,
    model: Model,
    stripe: Stripe,
    /// The Connect endpoint's events sent (onboarding): known to the store's event list.
    connect_events: Vec<String>,
    last: Snapshot,
    step: usize,
    /// The end of the sequence: no more traps, so everything owed can be settled.
    draining: bool,
    trace: Vec<String>,
    pub stats: Stats,
}

/// Where the per-sequence SQLite files go: `ESCROW_SIM_DIR`, else `/dev/shm` when it exists
/// (the same SQLite, WAL and `synchronous=FULL`; a crash here is the process dying, which
/// memory-backed files survive exactly as disk files do), else the system temp directory.
fn sim_dir() -> PathBuf {
    if let Ok(d) = std::env::var("ESCROW_SIM_DIR") {
        return PathBuf::from(d);
    }
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() && tempfile::tempdir_in(&shm).is_ok() {
        return shm;
    }
    std::env::temp_dir()
}

/// An empty store file with the schema applied, made once per process: each sequence starts
/// from a copy instead of running the migrations again.
fn template() -> Result<&'static std::path::Path, String> {
    static TEMPLATE: std::sync::OnceLock<Result<(tempfile::TempDir, PathBuf), String>> =
        std::sync::OnceLock::new();
    let made = TEMPLATE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("escrow-sim-template-")
            .tempdir_in(sim_dir())
            .map_err(|e| format!("temp dir: {e}"))?;
        let path = dir.path().join("template.db");
        let store = SqliteStore::open(&path).map_err(|e| format!("template store: {e}"))?;
        drop(store);
        // Fold the WAL into the main file so that a plain copy of it is complete.
        // The store's writer thread closes its connection on its own time: retry while busy.
        let conn = rusqlite::Connection::open(&path).map_err(|e| e.to_string())?;
        for _ in 0..200 {
            let busy: i64 = conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .map_err(|e| e.to_string())?;
            if busy == 0 {
                return Ok((dir, path));
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Err("could not checkpoint the template store".into())
    });
    match made {
        Ok((_, path)) => Ok(path.as_path()),
        Err(e) => Err(e.clone()),
    }
}

fn user(rng: &mut Rng) -> UserId {
    UserId::parse(&rng.object_id()).expect("object ids are valid user ids")
}

fn format_minor(minor: i64, currency: Currency) -> String {
    match currency.minor_digits() {
        0 => minor.to_string(),
        d => {
            let unit = 10i64.pow(d);
            format!(
                "{}.{:0width$}",
                minor / unit,
                minor % unit,
                width = d as usize
            )
        }
    }
}

impl World {
    pub fn new(seed: u64) -> Result<World, String> {
        let mut rng = Rng::new(seed);
        let dir = tempfile::Builder::new()
            .prefix("escrow-sim-")
            .tempdir_in(sim_dir())
            .map_err(|e| format!("temp dir: {e}"))?;
        let db = dir.path().join("escrow.db");
        std::fs::copy(template()?, &db).map_err(|e| format!("copy the template store: {e}"))?;
        let currency = *rng.pick(&[Currency::Inr, Currency::Inr, Currency::Usd, Currency::Jpy]);
        let fee_bps = *rng.pick(&[1_000u32, 1_000, 0, 1, 250, 333, 999, 5_000, 10_000]);
        // Auto-release in some worlds, with a window the clock's jumps cross.
        let auto_release_after_ms = rng
            .percent(40)
            .then(|| *rng.pick(&[30_000_i64, 90_000, 3_600_000]));
        let release_needs_admin = rng.percent(30);
        let settings = Settings {
            currency,
            fee: FeeBps::new(fee_bps).expect("valid fee"),
            client_url: "http://front.sim".into(),
            webhook_secret: format!("whsec_sim_{seed:x}"),
            connect_webhook_secret: Some(format!("whsec_sim_connect_{seed:x}")),
            payout_min: escrow::domain::Money::new(escrow::domain::MinorUnits::new(1), currency),
            payout_mode: escrow::service::PayoutMode::Wallet,
            // Two worlds in three recover a chargeback's platform loss from the wallet.
            chargeback_recovery: if !seed.is_multiple_of(3) {
                escrow::service::ChargebackRecovery::Wallet
            } else {
                escrow::service::ChargebackRecovery::Platform
            },
            debit_grace_ms: 35_000,
            auto_release_after_ms,
            release_needs_admin,
            timer_lease_ms: escrow::config::DEFAULT_TIMER_LEASE_MS,
            spool_dir: dir.path().join("spool"),
            upload_bytes_max: 1 << 20,
            uploads_per_user_max: 4,
            spool_age_max: std::time::Duration::from_secs(600),
        };
        let clients = (0..CLIENTS).map(|_| user(&mut rng)).collect();
        let freelancers = (0..FREELANCERS).map(|_| user(&mut rng)).collect();
        let admins = (0..ADMINS).map(|_| user(&mut rng)).collect();
        let start = EPOCH_MS + rng.range(0, 86_400_000);
        let mut w = World {
            seed,
            rng,
            _dir: dir,
            db,
            clock: Arc::new(FakeClock::new(start)),
            provider: Arc::new(FakeProvider::new()),
            switch: Arc::new(CrashSwitch::default()),
            settings,
            store: None,
            service: None,
            clients,
            freelancers,
            admins,
            model: Model {
                fee_bps: fee_bps as i64,
                currency,
                jobs: vec![],
                slots: vec![],
                onboarded: vec![false; FREELANCERS],
                payouts: vec![],
                wallet_recovery: !seed.is_multiple_of(3),
                recovery_timers: BTreeMap::new(),
            },
            stripe: Stripe::default(),
            connect_events: vec![],
            last: Snapshot::default(),
            step: 0,
            draining: false,
            trace: vec![],
            stats: Stats::default(),
        };
        w.open()?;
        Ok(w)
    }

    /// Opens the store file and builds a service on it: a process starting.
    fn open(&mut self) -> Result<(), String> {
        let sqlite = SqliteStore::open(&self.db).map_err(|e| format!("open store: {e}"))?;
        // Odd seeds write a webhook's money and its event apart, as the MongoDB store does.
        let split_events = self.seed % 2 == 1;
        let store = Arc::new(CrashStore::new(sqlite, self.switch.clone(), split_events));
        let media = Arc::new(LocalMediaStore::new(
            self._dir.path().join("media"),
            "http://sim.local",
        ));
        self.service = Some(Service::new(
            Parts {
                store: store.clone(),
                payments: self.provider.clone(),
                media,
                directory: Arc::new(escrow::directory::NoDirectory),
            },
            self.settings.clone(),
            self.clock.clone(),
            Arc::new(Metrics::new()),
        ));
        self.store = Some(store);
        Ok(())
    }

    fn service(&self) -> &Service {
        self.service.as_ref().expect("the service is open")
    }

    fn store(&self) -> &CrashStore {
        self.store.as_ref().expect("the store is open")
    }

    /// The signed-in user `who` is.
    fn caller(&self, who: Who) -> Caller {
        Caller::User(match who {
            Who::Client(i) => Principal {
                id: self.clients[i].clone(),
                role: Role::Client,
            },
            Who::Freelancer(i) => Principal {
                id: self.freelancers[i].clone(),
                role: Role::Freelancer,
            },
            Who::Admin(i) => Principal {
                id: self.admins[i].clone(),
                role: Role::Admin,
            },
        })
    }

    fn fail(&self, op: &str, message: impl Into<String>) -> Failure {
        Failure {
            seed: self.seed,
            step: self.step,
            op: op.to_string(),
            message: message.into(),
            trace: self.trace.clone(),
        }
    }

    // ---- the sequence ------------------------------------------------------------------------

    /// Plays the whole sequence, then drains it (provider healed, one more crash, every event
    /// delivered, recovery run) and checks that nothing is left owed.
    pub async fn run(mut self) -> Result<(Stats, u64, Vec<String>), Failure> {
        let steps = self.rng.range(STEPS_MIN, STEPS_MAX) as usize;
        self.last = self
            .observe(Written {
                contracts: true,
                events: true,
                reviews: true,
            })
            .await
            .map_err(|m| self.fail("start", m))?;
        for _ in 0..steps {
            self.turn_refunds_into_events();
            self.step += 1;
            let op = self.next_op();
            self.play(op).await?;
        }
        self.drain().await?;
        self.stats.sequences = 1;
        let (calls, faults) = self.provider.counters();
        self.stats.provider_calls = calls;
        self.stats.provider_faults = faults;
        self.stats.store_calls = self.switch.calls();
        Ok((
            self.stats.clone(),
            trace_hash(&self.trace),
            self.trace.clone(),
        ))
    }

    /// Test hook for the simulator's own tests: plays `steps` steps, changes the store file
    /// behind the service's back with `sql`, and plays on; the checks must catch it.
    pub async fn run_tampered(mut self, steps: usize, sql: &str) -> Result<(), Failure> {
        self.last = self
            .observe(Written {
                contracts: true,
                events: true,
                reviews: true,
            })
            .await
            .map_err(|m| self.fail("start", m))?;
        for _ in 0..steps {
            self.turn_refunds_into_events();
            self.step += 1;
            let op = self.next_op();
            self.play(op).await?;
        }
        let changed = self
            .store()
            .sqlite()
            .execute_raw(sql.to_string())
            .await
            .map_err(|e| self.fail("tamper", e.to_string()))?;
        if changed == 0 {
            return Err(self.fail("tamper", "the tampering SQL changed no row"));
        }
        self.trace.push(format!("tampered: {sql}"));
        for _ in 0..5 {
            self.step += 1;
            let op = self.next_op();
            self.play(op).await?;
        }
        Ok(())
    }

    /// Runs one step and every check after it.
    async fn play(&mut self, op: Op) -> Result<(), Failure> {
        self.stats.steps += 1;
        let advance = if self.rng.percent(3) {
            self.rng.range(3_600_000, 3 * 86_400_000)
        } else {
            self.rng.range(0, 90_000)
        };
        self.clock.advance(advance);
        if let Op::Refund {
            slot,
            fault: Some(f),
            ..
        }
        | Op::ResolveDispute {
            slot,
            fault: Some(f),
            ..
        }
        | Op::RetryRefund {
            slot,
            fault: Some(f),
        } = &op
        {
            self.provider.arm(&self.model.slots[*slot].id, *f);
        }
        if let Op::Withdraw { fault: Some(f), .. } = &op {
            self.provider.arm_transfer(*f);
        }
        // Money moves are where a crash matters most: trap them more often.
        let trap_percent = match op {
            Op::Refund { .. }
            | Op::ResolveDispute { .. }
            | Op::RetryRefund { .. }
            | Op::SettleFailedRefund { .. }
            | Op::Release { .. }
            | Op::Recover
            | Op::Deliver { .. }
            | Op::Withdraw { .. } => 14,
            _ => 6,
        };
        let trap = if op.writes() && !self.draining && self.rng.percent(trap_percent) {
            let trap = *self
                .rng
                .pick(&[Trap::CrashBefore, Trap::CrashAfter, Trap::Fail]);
            let skip = self.rng.range(0, 2) as u32;
            self.switch.arm(skip, trap);
            Some((skip, trap))
        } else {
            None
        };
        let label = match trap {
            Some((skip, t)) => format!("{op:?} [trap {t:?} at write {}]", skip + 1),
            None => format!("{op:?}"),
        };
        let pre = self.model.clone();
        let mut next = self.model.clone();
        let expect = self.predict(&op, &mut next);
        let got = self.execute(&op).await;
        // A transfer fault is for the withdrawal it was armed for: one that never reached the
        // provider (refused first) must not fire on a later call.
        self.provider.clear_transfer_faults();
        self.switch.disarm();
        let sprang = self.switch.take_sprang();
        let crashed = got.is_err();
        let summary = match &got {
            Ok(Ok(r)) => format!("ok {r:?}"),
            Ok(Err(e)) => format!("err {:?} {}", e.kind(), e.code),
            Err(site) => format!("crash at {site}"),
        };
        let mut summary = match &summary {
            s if s.contains("Created(") => "ok Created".to_string(),
            s => s.clone(),
        };
        if let Some(site) = sprang.as_deref().filter(|s| s.ends_with("/failed")) {
            summary.push_str(&format!(" (write {site})"));
        }
        self.trace
            .push(format!("{:>3} {label} -> {summary}", self.step));
        if let Err(site) = &got {
            if sprang.is_none() && !expect.crash {
                return Err(self.fail(&label, format!("unexpected crash at {site}")));
            }
            if site.starts_with("provider") {
                self.stats.crashes_provider += 1;
            } else {
                self.stats.crashes_store += 1;
            }
            let kind = label.split([' ', '(']).next().unwrap_or("?");
            *self
                .stats
                .crash_sites
                .entry(format!("{kind}: {site}"))
                .or_insert(0) += 1;
            self.after_crash(&op);
            self.restart().await.map_err(|m| self.fail(&label, m))?;
        } else if expect.crash && sprang.is_none() {
            return Err(self.fail(
                &label,
                format!("a provider crash was due but the call returned: {summary}"),
            ));
        }
        let failed_write = sprang.as_deref().is_some_and(|s| s.ends_with("/failed"));
        if failed_write {
            self.stats.store_failures += 1;
        }
        if let Ok(Err(e)) = &got
            && e.kind() == ErrorKind::Internal
        {
            return Err(self.fail(&label, format!("internal error: {}", e.message)));
        }
        let exact = !crashed && !failed_write && !expect.masked;
        if exact {
            self.check_reply(&op, &expect, &got, &next)
                .map_err(|m| self.fail(&label, m))?;
        }
        self.record_delivery(&op, &got);
        let written = self.switch.take_written();
        let fresh = crashed || matches!(op, Op::Restart);
        let read = Written {
            contracts: fresh || written.contracts,
            events: fresh || written.events,
            reviews: fresh || written.reviews,
        };
        let snap = self.observe(read).await.map_err(|m| self.fail(&label, m))?;
        self.check(&op, &expect, exact, &pre, next, &snap, &got)
            .await
            .map_err(|m| self.fail(&label, m))?;
        self.last = snap;
        Ok(())
    }

    // ---- the end of a sequence -------------------------------------------------------------

    /// Heals the provider, crashes once more, delivers everything Stripe still owes, runs a
    /// recovery pass, and checks that nothing is left owed and every refund is recorded once.
    async fn drain(&mut self) -> Result<(), Failure> {
        self.provider.heal();
        self.draining = true;
        self.step += 1;
        self.play(Op::Restart).await?;
        // The bank settles every refund the provider still holds as pending, and decides
        // every open chargeback.
        while !self.provider.pending_refunds().is_empty() {
            self.step += 1;
            let op = self.gen_finish_refund(1);
            self.play(op).await?;
        }
        while self.stripe.chargebacks.iter().any(|c| !c.closed) {
            self.step += 1;
            let won = self.rng.percent(45);
            self.play(Op::DecideChargeback { pick: 0, won }).await?;
        }
        for _ in 0..1_000 {
            self.turn_refunds_into_events();
            let pending = self.stripe.pending();
            let Some(event) = pending.first().copied() else {
                break;
            };
            self.step += 1;
            self.play(Op::Deliver { event }).await?;
        }
        self.step += 1;
        self.play(Op::Recover).await?;
        self.turn_refunds_into_events();
        for event in self.stripe.pending() {
            self.step += 1;
            self.play(Op::Deliver { event }).await?;
        }
        let undelivered = self.stripe.pending();
        if !undelivered.is_empty() {
            return Err(self.fail(
                "drain",
                format!("events never acknowledged: {undelivered:?}"),
            ));
        }
        let in_flight: Vec<_> = self
            .model
            .payouts
            .iter()
            .filter(|p| p.status == escrow::domain::PayoutStatus::Pending)
            .collect();
        if !in_flight.is_empty() {
            return Err(self.fail(
                "drain",
                format!("payouts still pending after recovery: {in_flight:?}"),
            ));
        }
        let owed: Vec<usize> = (0..self.model.slots.len())
            .filter(|i| self.model.slots[*i].st.has_provider_work())
            .collect();
        if !owed.is_empty() {
            return Err(self.fail(
                "drain",
                format!("refunds still owed after recovery: slots {owed:?}"),
            ));
        }
        let in_flight: Vec<usize> = (0..self.model.slots.len())
            .filter(|i| self.model.slots[*i].st.refund_in_flight())
            .collect();
        if !in_flight.is_empty() {
            return Err(self.fail(
                "drain",
                format!("refunds still waiting for the provider's word: slots {in_flight:?}"),
            ));
        }
        // Every refund the provider made (not one that failed) is recorded once.
        let refunds: Vec<_> = self
            .provider
            .refunds()
            .into_iter()
            .filter(|r| r.status != crate::fakes::PStatus::Failed)
            .collect();
        let recorded: usize = self
            .last
            .contracts
            .iter()
            .map(|c| {
                c.milestones
                    .iter()
                    .filter_map(|m| m.escrow.as_ref())
                    .filter(|e| e.status == EscrowStatus::Refunded)
                    .filter_map(|e| e.refund.as_ref())
                    .filter(|r| {
                        r.client_share.get() > 0
                            && r.provider_refund_id
                                .as_ref()
                                .is_some_and(|id| !id.as_str().starts_with("manual:"))
                    })
                    .count()
                    + c.extra_payments
                        .iter()
                        .filter(|x| {
                            x.provider_refund_id
                                .as_ref()
                                .is_some_and(|id| !id.as_str().starts_with("manual:"))
                        })
                        .count()
            })
            .sum();
        if recorded != refunds.len() {
            return Err(self.fail(
                "drain",
                format!(
                    "the provider made {} refunds, the store records {recorded}",
                    refunds.len()
                ),
            ));
        }
        Ok(())
    }

    /// Stripe tells the platform about each refund the provider made (`charge.refunded`).
    fn turn_refunds_into_events(&mut self) {
        let cur = self.model.currency.code();
        let now = self.clock_s();
        for r in self.provider.take_notices() {
            let id = format!("evt_sim_{:x}_refund_{}", self.seed, r.id);
            let refunded = self
                .stripe
                .refunded
                .entry(r.payment_ref.clone())
                .or_insert(0);
            *refunded += r.amount;
            let refunded = *refunded;
            let body = stripe::charge_refunded_event(&id, &r.payment_ref, refunded, cur, now);
            self.stripe.push(
                EventKind::ChargeRefunded {
                    payment_ref: r.payment_ref,
                    refunded,
                },
                body,
                id,
            );
        }
    }
}

/// FNV-1a over the trace: two runs of a seed must produce the same value.
pub fn trace_hash(trace: &[String]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for line in trace {
        for b in line.bytes().chain(std::iter::once(b'\n')) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}
