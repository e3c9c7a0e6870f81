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
use escrow::service::{
    CheckoutBody, CreateContract, ErrorKind, Operator, RefundBody, ReviewBody, Service, Settings,
};
use escrow::store::sqlite::SqliteStore;
use escrow::store::{EventStatus, Page, Store, WebhookEvent};
use futures_util::FutureExt;
use serde_json::value::RawValue;

use crate::crash_store::{CrashStore, CrashSwitch, Trap, Written};
use crate::fakes::{FakeClock, FakeProvider, Fault, SimCrash};
use crate::model::{Change, Funding, MState, Model, Slot};
use crate::rng::Rng;
use crate::stripe::{self, Delivery, EventKind, Stripe, StripePayment};

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
    /// Someone refunds the escrow's payment from the Stripe dashboard, outside the escrow:
    /// only Stripe's `charge.refunded` event reaches the service.
    DashboardRefund {
        slot: usize,
    },
    Outage(bool),
    Recover,
    Restart,
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
}

type Got = Result<Result<Reply, escrow::service::Error>, String>;

/// Everything read back from the store after a step.
#[derive(Debug, Clone, Default, PartialEq)]
struct Snapshot {
    // Shared, so that a part no write touched is carried to the next step without a copy.
    contracts: Arc<Vec<Contract>>,
    entries: Arc<Vec<LedgerEntry>>,
    events: Arc<Vec<WebhookEvent>>,
    reviewed: Arc<Vec<ContractId>>,
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

fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_string()).expect("valid JSON")
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
        let settings = Settings {
            currency,
            fee: FeeBps::new(fee_bps).expect("valid fee"),
            client_url: "http://front.sim".into(),
            webhook_secret: format!("whsec_sim_{seed:x}"),
            spool_dir: dir.path().join("spool"),
            upload_bytes_max: 1 << 20,
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
            },
            stripe: Stripe::default(),
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
            store.clone(),
            self.provider.clone(),
            media,
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

    fn principal(&self, who: Who) -> Principal {
        match who {
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
        }
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
        } = &op
        {
            self.provider.arm(&self.model.slots[*slot].id, *f);
        }
        // Money moves are where a crash matters most: trap them more often.
        let trap_percent = match op {
            Op::Refund { .. } | Op::Release { .. } | Op::Recover | Op::Deliver { .. } => 14,
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
        self.switch.disarm();
        let sprang = self.switch.take_sprang();
        let crashed = got.is_err();
        let summary = match &got {
            Ok(Ok(r)) => format!("ok {r:?}"),
            Ok(Err(e)) => format!("err {:?} {}", e.kind, e.code),
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
            && e.kind == ErrorKind::Internal
        {
            return Err(self.fail(&label, format!("internal error: {}", e.message)));
        }
        let exact = !crashed && !failed_write && !expect.masked;
        if exact {
            self.check_reply(&op, &expect, &got)
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

    // ---- choosing the next step ------------------------------------------------------------

    fn own_or_other_client(&mut self, own: usize) -> Who {
        if self.rng.percent(85) {
            Who::Client(own)
        } else if self.rng.percent(70) {
            Who::Client(self.rng.index(CLIENTS))
        } else {
            self.anyone()
        }
    }

    fn own_or_other_freelancer(&mut self, own: usize) -> Who {
        if self.rng.percent(85) {
            Who::Freelancer(own)
        } else if self.rng.percent(70) {
            Who::Freelancer(self.rng.index(FREELANCERS))
        } else {
            self.anyone()
        }
    }

    fn anyone(&mut self) -> Who {
        match self.rng.below(3) {
            0 => Who::Client(self.rng.index(CLIENTS)),
            1 => Who::Freelancer(self.rng.index(FREELANCERS)),
            _ => Who::Admin(self.rng.index(ADMINS)),
        }
    }

    fn amount_text(&mut self, minor: i64) -> AmountText {
        let text = format_minor(minor, self.model.currency);
        let json = if self.rng.percent(50) {
            text
        } else {
            format!("\"{text}\"")
        };
        AmountText {
            json,
            minor: Some(minor),
        }
    }

    fn new_amount(&mut self) -> AmountText {
        if self.rng.percent(8) {
            let bad = match self.model.currency.minor_digits() {
                0 => *self.rng.pick(&["0", "-5", "12.5", "\"abc\"", "\"\""]),
                _ => *self.rng.pick(&["0", "-5", "12.345", "\"abc\"", "0.00"]),
            };
            return AmountText {
                json: bad.to_string(),
                minor: None,
            };
        }
        let minor = match self.rng.below(4) {
            0 => self.rng.range(1, 99),
            1 => self.rng.range(100, 10_000),
            _ => self.rng.range(10_000, 5_000_000),
        };
        self.amount_text(minor)
    }

    /// A slot, preferring ones where something can still happen.
    fn some_slot(&mut self) -> usize {
        let open: Vec<usize> = (0..self.model.slots.len())
            .filter(|i| {
                let s = &self.model.slots[*i].st;
                !matches!(
                    s.escrow.as_ref().map(|e| e.status),
                    Some(EscrowStatus::Released | EscrowStatus::Refunded)
                )
            })
            .collect();
        if !open.is_empty() && self.rng.percent(80) {
            *self.rng.pick(&open)
        } else {
            self.rng.index(self.model.slots.len())
        }
    }

    fn next_op(&mut self) -> Op {
        if self.model.slots.is_empty() || (self.model.slots.len() < 4 && self.rng.percent(15)) {
            return self.gen_create();
        }
        // Half the steps move some contract along its happy path, so that sequences reach
        // release and refund often; the other half are anything at all.
        if self.rng.percent(55)
            && let Some(op) = self.progress_op()
        {
            return op;
        }
        let pending = self.stripe.pending();
        let acked = self.stripe.acked();
        let funded: Vec<usize> = (0..self.model.slots.len())
            .filter(|i| self.model.slots[*i].st.escrow.is_some())
            .collect();
        let weights = [
            5,                                                 // create
            7,                                                 // approve
            8,                                                 // checkout
            8,                                                 // pay
            if pending.is_empty() { 0 } else { 20 },           // deliver a pending event
            if acked.is_empty() { 0 } else { 3 },              // redeliver an acknowledged one
            if self.stripe.events.is_empty() { 0 } else { 2 }, // forged delivery
            14,                                                // move
            6,                                                 // request release
            6,                                                 // release
            7,                                                 // refund
            3,                                                 // review
            4,                                                 // arm a provider fault
            1,                                                 // outage on/off
            2,                                                 // recovery pass
            2,                                                 // crash between steps
            1,                                                 // unknown or malformed ids
            if funded.is_empty() { 0 } else { 1 },             // a refund from the Stripe dashboard
        ];
        match self.rng.weighted(&weights) {
            0 => self.gen_create(),
            1 => {
                let slot = self.some_slot();
                let who = self.own_or_other_freelancer(self.model.slots[slot].freelancer);
                Op::Approve { slot, who }
            }
            2 => self.gen_checkout(),
            3 => self.gen_pay(),
            4 => Op::Deliver {
                event: *self.rng.pick(&pending),
            },
            5 => Op::Deliver {
                event: *self.rng.pick(&acked),
            },
            6 => Op::Forged {
                event: self.rng.index(self.stripe.events.len()),
                how: *self.rng.pick(&[
                    Forgery::NoHeader,
                    Forgery::WrongSecret,
                    Forgery::Stale,
                    Forgery::Future,
                    Forgery::TamperedBody,
                ]),
            },
            7 => self.gen_move(),
            8 => {
                let slot = self.some_slot();
                let who = self.own_or_other_client(self.model.slots[slot].client);
                Op::RequestRelease { slot, who }
            }
            9 => self.gen_release(),
            10 => self.gen_refund(),
            11 => self.gen_review(),
            12 => {
                let slot = self.some_slot();
                Op::Fault {
                    slot,
                    fault: *self.rng.pick(&Fault::ALL),
                }
            }
            13 => Op::Outage(self.rng.percent(50)),
            14 => Op::Recover,
            15 => Op::Restart,
            17 => Op::DashboardRefund {
                slot: *self.rng.pick(&funded),
            },
            _ => Op::Ghost {
                kind: *self.rng.pick(&[
                    GhostKind::Approve,
                    GhostKind::RequestRelease,
                    GhostKind::Release,
                    GhostKind::Refund,
                ]),
                malformed: self.rng.percent(50),
            },
        }
    }

    /// The step a well-behaved actor would take next for some open contract.
    fn progress_op(&mut self) -> Option<Op> {
        let pending = self.stripe.pending();
        if !pending.is_empty() && self.rng.percent(40) {
            return Some(Op::Deliver {
                event: *self.rng.pick(&pending),
            });
        }
        let unreviewed: Vec<usize> = (0..self.model.slots.len())
            .filter(|i| {
                let st = &self.model.slots[*i].st;
                st.status == ContractStatus::Completed && !st.reviewed
            })
            .collect();
        if !unreviewed.is_empty() && self.rng.percent(15) {
            let slot = *self.rng.pick(&unreviewed);
            let s = &self.model.slots[slot];
            return Some(Op::Review {
                slot,
                who: Who::Client(s.client),
                path_client: s.client,
                freelancer: s.freelancer,
                rating: self.rng.range(1, 5),
                description: "Delivered what was agreed",
            });
        }
        let open: Vec<usize> = (0..self.model.slots.len())
            .filter(|i| {
                let st = &self.model.slots[*i].st;
                match st.escrow.as_ref().map(|e| e.status) {
                    None => st.status != ContractStatus::Canceled,
                    Some(EscrowStatus::Funded | EscrowStatus::RefundPending) => true,
                    Some(EscrowStatus::Released | EscrowStatus::Refunded) => false,
                }
            })
            .collect();
        if open.is_empty() {
            return None;
        }
        let slot = *self.rng.pick(&open);
        let s = self.model.slots[slot].clone();
        let paying = self.stripe.events.iter().any(|e| {
            matches!(e.delivery, Delivery::Pending { .. })
                && match e.kind {
                    EventKind::SessionCompleted { payment, .. }
                    | EventKind::AsyncSucceeded { payment }
                    | EventKind::IntentSucceeded { payment } => {
                        self.stripe.payments[payment].contract_ref == s.id.as_str()
                    }
                    _ => false,
                }
        });
        let escrow = s.st.escrow.as_ref().map(|e| e.status);
        let op = match (escrow, s.st.status) {
            (None, _) if !s.st.approved => Op::Approve {
                slot,
                who: Who::Freelancer(s.freelancer),
            },
            (None, _) if !s.checkout_open => Op::Checkout {
                slot,
                who: Who::Client(s.client),
                rate: None,
                title: None,
                freelancer: None,
            },
            (None, _) if paying => return None,
            (None, _) => Op::Pay {
                slot,
                how: PayHow::Card {
                    intent_event_too: self.rng.percent(20),
                },
            },
            (Some(EscrowStatus::RefundPending), _) => Op::Recover,
            (Some(_), ContractStatus::Canceled) => self.gen_refund_of(slot),
            (Some(_), ContractStatus::Completed) => match s.st.release {
                ReleaseFundStatus::NotRequested => Op::RequestRelease {
                    slot,
                    who: Who::Client(s.client),
                },
                _ => Op::Release {
                    slot,
                    how: if self.rng.percent(70) {
                        ReleaseHow::Http(Who::Admin(self.rng.index(ADMINS)))
                    } else {
                        ReleaseHow::Cli { force: None }
                    },
                },
            },
            (Some(_), status) => {
                if self.rng.percent(8) {
                    self.gen_refund_of(slot)
                } else {
                    let to = match status {
                        ContractStatus::Pending => "Started",
                        ContractStatus::Started => "Ongoing",
                        _ => "Completed",
                    };
                    Op::Move {
                        slot,
                        who: Who::Freelancer(s.freelancer),
                        to,
                    }
                }
            }
        };
        Some(op)
    }

    fn gen_create(&mut self) -> Op {
        let reuse: Vec<usize> = (0..self.model.jobs.len()).collect();
        let job = if !reuse.is_empty() && self.rng.percent(15) {
            *self.rng.pick(&reuse)
        } else {
            let id = JobId::parse(&self.rng.object_id()).expect("valid job id");
            self.model.jobs.push(id);
            self.model.jobs.len() - 1
        };
        let client = self.rng.index(CLIENTS);
        let who = if self.rng.percent(95) {
            Who::Client(client)
        } else {
            self.anyone()
        };
        Op::Create {
            who,
            freelancer: self.rng.index(FREELANCERS),
            job,
            amount: self.new_amount(),
        }
    }

    fn gen_checkout(&mut self) -> Op {
        let slot = self.some_slot();
        let s = self.model.slots[slot].clone();
        let who = self.own_or_other_client(s.client);
        let rate = match self.rng.below(10) {
            0..=3 => None,
            4..=7 => Some(self.amount_text(s.amount)),
            _ => {
                let delta = self.rng.range(1, 500);
                Some(self.amount_text(s.amount + delta))
            }
        };
        let freelancer = match self.rng.below(10) {
            0..=5 => None,
            6..=8 => Some(s.freelancer),
            _ => Some(self.rng.index(FREELANCERS)),
        };
        let title = if self.rng.percent(20) {
            Some(
                *self
                    .rng
                    .pick(&["Logo design", "Landing page", "A new title"]),
            )
        } else {
            None
        };
        Op::Checkout {
            slot,
            who,
            rate,
            title,
            freelancer,
        }
    }

    fn gen_pay(&mut self) -> Op {
        let open: Vec<usize> = (0..self.model.slots.len())
            .filter(|i| self.model.slots[*i].checkout_open)
            .collect();
        let slot = if !open.is_empty() && self.rng.percent(90) {
            *self.rng.pick(&open)
        } else {
            self.some_slot()
        };
        let how = match self.rng.below(20) {
            0..=11 => PayHow::Card {
                intent_event_too: self.rng.percent(30),
            },
            12..=14 => PayHow::Async {
                succeeds: self.rng.percent(70),
            },
            15 => PayHow::WrongAmount,
            16..=17 => PayHow::UnknownContract,
            18 => PayHow::MalformedContract,
            _ => PayHow::Legacy,
        };
        Op::Pay { slot, how }
    }

    fn gen_move(&mut self) -> Op {
        let slot = self.some_slot();
        let s = self.model.slots[slot].clone();
        let who = self.own_or_other_freelancer(s.freelancer);
        let next = match s.st.status {
            ContractStatus::Pending => "Started",
            ContractStatus::Started => "Ongoing",
            ContractStatus::Ongoing => "Completed",
            ContractStatus::Completed | ContractStatus::Canceled => "Canceled",
        };
        let to = match self.rng.below(20) {
            0..=13 => next,
            14..=15 => "Canceled",
            16..=18 => *self
                .rng
                .pick(&["Pending", "Started", "Ongoing", "Completed", "Canceled"]),
            _ => *self.rng.pick(&["Done", "started", ""]),
        };
        Op::Move { slot, who, to }
    }

    fn gen_release(&mut self) -> Op {
        let slot = self.some_slot();
        let how = match self.rng.below(10) {
            0..=4 => ReleaseHow::Http(Who::Admin(self.rng.index(ADMINS))),
            5 => ReleaseHow::Http(self.anyone()),
            6..=7 => ReleaseHow::Cli { force: None },
            8 => ReleaseHow::Cli {
                force: Some("client unreachable for 30 days"),
            },
            _ => ReleaseHow::Cli { force: Some("  ") },
        };
        Op::Release { slot, how }
    }

    fn gen_refund(&mut self) -> Op {
        let slot = self.some_slot();
        self.gen_refund_of(slot)
    }

    fn gen_refund_of(&mut self, slot: usize) -> Op {
        let s = self.model.slots[slot].clone();
        let earning = s.st.escrow.as_ref().map(|e| e.earning).unwrap_or(1_000);
        let how = match self.rng.below(12) {
            0..=3 => {
                let who = self.own_or_other_client(s.client);
                let path_client = if self.rng.percent(85) {
                    match who {
                        Who::Client(c) => c,
                        _ => s.client,
                    }
                } else {
                    self.rng.index(CLIENTS)
                };
                RefundHow::Http { who, path_client }
            }
            4..=6 => RefundHow::Http {
                who: Who::Admin(self.rng.index(ADMINS)),
                path_client: if self.rng.percent(90) {
                    s.client
                } else {
                    self.rng.index(CLIENTS)
                },
            },
            7..=8 => RefundHow::Cli { share: None },
            _ => RefundHow::Cli {
                share: Some(match self.rng.below(6) {
                    0 => 0,
                    1 => earning,
                    2 => earning + 1,
                    3 => -1,
                    _ => self.rng.range(0, earning.max(0)),
                }),
            },
        };
        let fault = if self.rng.percent(25) {
            Some(*self.rng.pick(&Fault::ALL))
        } else {
            None
        };
        Op::Refund { slot, how, fault }
    }

    fn gen_review(&mut self) -> Op {
        let slot = self.some_slot();
        let s = self.model.slots[slot].clone();
        let who = self.own_or_other_client(s.client);
        let path_client = match (who, self.rng.percent(90)) {
            (Who::Client(c), true) => c,
            _ => self.rng.index(CLIENTS),
        };
        let freelancer = if self.rng.percent(90) {
            s.freelancer
        } else {
            self.rng.index(FREELANCERS)
        };
        let rating = if self.rng.percent(85) {
            self.rng.range(1, 5)
        } else {
            *self.rng.pick(&[0, 6, -1])
        };
        let description = *self.rng.pick(&["Great work", "On time, clean code", "  "]);
        Op::Review {
            slot,
            who,
            path_client,
            freelancer,
            rating,
            description,
        }
    }

    // ---- what the model expects ------------------------------------------------------------

    fn predict(&self, op: &Op, next: &mut Model) -> Expect {
        match op {
            Op::Create {
                who, job, amount, ..
            } => {
                if !matches!(who, Who::Client(_)) {
                    return Expect::err(ErrorKind::Forbidden);
                }
                if amount.minor.is_none() {
                    return Expect::err(ErrorKind::Validation);
                }
                if next.live_slot_for_job(*job).is_some() {
                    return Expect::err(ErrorKind::Conflict);
                }
                Expect::ok(Change::Yes)
            }
            Op::Approve { slot, who } => {
                let s = &mut next.slots[*slot];
                if *who != Who::Freelancer(s.freelancer) {
                    return Expect::err(ErrorKind::Forbidden);
                }
                Expect::from_want(s.st.approve())
            }
            Op::Move { slot, who, to } => {
                let s = &mut next.slots[*slot];
                if !matches!(who, Who::Freelancer(_)) {
                    return Expect::err(ErrorKind::Forbidden);
                }
                let Some(to) = ContractStatus::parse(to) else {
                    return Expect::err(ErrorKind::Validation);
                };
                if *who != Who::Freelancer(s.freelancer) {
                    return Expect::err(ErrorKind::Forbidden);
                }
                Expect::from_want(s.st.move_to(to))
            }
            Op::Checkout {
                slot,
                who,
                rate,
                title,
                freelancer,
            } => {
                let Who::Client(c) = who else {
                    return Expect::err(ErrorKind::Forbidden);
                };
                let job = next.slots[*slot].job;
                let Some(live) = next.live_slot_for_job(job) else {
                    return Expect::err(ErrorKind::NotFound);
                };
                let s = &mut next.slots[live];
                if s.client != *c {
                    return Expect::err(ErrorKind::Forbidden);
                }
                // The body contradicting the contract is a conflict, as a differing amount is.
                if freelancer.is_some_and(|f| f != s.freelancer) {
                    return Expect::err(ErrorKind::Conflict);
                }
                if rate.as_ref().is_some_and(|r| r.minor != Some(s.amount)) {
                    return Expect::err(ErrorKind::Conflict);
                }
                if !s.st.approved || s.st.escrow.is_some() {
                    return Expect::err(ErrorKind::Conflict);
                }
                s.checkout_open = true;
                Expect::ok(if title.is_some() {
                    Change::Yes
                } else {
                    Change::No
                })
            }
            Op::Pay { .. } | Op::DashboardRefund { .. } | Op::Outage(_) | Op::Fault { .. } => {
                Expect::ok(Change::No)
            }
            Op::Deliver { event } => self.predict_delivery(*event, next),
            Op::Forged { .. } => Expect::err(ErrorKind::BadRequest),
            Op::RequestRelease { slot, who } => {
                let s = &mut next.slots[*slot];
                if !matches!(who, Who::Client(_)) {
                    return Expect::err(ErrorKind::Forbidden);
                }
                if *who != Who::Client(s.client) {
                    return Expect::err(ErrorKind::Forbidden);
                }
                Expect::from_want(s.st.request_release())
            }
            Op::Release { slot, how } => {
                let s = &mut next.slots[*slot];
                match how {
                    ReleaseHow::Http(Who::Admin(_)) => Expect::from_want(s.st.release(false)),
                    ReleaseHow::Http(_) => Expect::err(ErrorKind::Forbidden),
                    ReleaseHow::Cli { force: None } => Expect::from_want(s.st.release(false)),
                    ReleaseHow::Cli { force: Some(r) } if r.trim().is_empty() => {
                        Expect::err(ErrorKind::Validation)
                    }
                    ReleaseHow::Cli { force: Some(_) } => Expect::from_want(s.st.release(true)),
                }
            }
            Op::Refund { slot, how, .. } => {
                let client = next.slots[*slot].client;
                let (by, share) = match *how {
                    RefundHow::Http { who, path_client } => match who {
                        Who::Freelancer(_) => return Expect::err(ErrorKind::Forbidden),
                        Who::Client(c) if c != path_client => {
                            return Expect::err(ErrorKind::Forbidden);
                        }
                        _ if path_client != client => return Expect::err(ErrorKind::Forbidden),
                        Who::Client(_) => (Party::Client, None),
                        Who::Admin(_) => (Party::Admin, None),
                    },
                    RefundHow::Cli { share } => (Party::Admin, share),
                };
                let s = &mut next.slots[*slot];
                if let Err(kind) = s.st.decide_refund(by, share) {
                    return Expect::err(kind);
                }
                let (faults, outage) = self.provider.preview(&s.id);
                let settle = s.st.settle(&mut VecDeque::from(faults), outage);
                Expect {
                    result: settle.error.map_or(Ok(()), Err),
                    crash: settle.crash,
                    ..Expect::ok(Change::Yes)
                }
            }
            Op::Review {
                slot,
                who,
                path_client,
                freelancer,
                rating,
                description,
            } => {
                let Who::Client(c) = who else {
                    return Expect::err(ErrorKind::Forbidden);
                };
                if c != path_client {
                    return Expect::err(ErrorKind::Forbidden);
                }
                if !(1..=5).contains(rating) {
                    return Expect::err(ErrorKind::Validation);
                }
                let s = &mut next.slots[*slot];
                if s.client != *c {
                    return Expect::err(ErrorKind::Forbidden);
                }
                if description.trim().is_empty() || *freelancer != s.freelancer {
                    return Expect::err(ErrorKind::Validation);
                }
                if s.st.status != ContractStatus::Completed || s.st.reviewed {
                    return Expect::err(ErrorKind::Conflict);
                }
                s.st.reviewed = true;
                Expect::ok(Change::Yes)
            }
            Op::Recover => self.predict_recovery(next),
            Op::Restart => {
                // The restart absorbs crashes of its own recovery pass (it starts again).
                let mut e = self.predict_recovery(next);
                e.masked = true;
                e.crash = false;
                e.recovered = None;
                e
            }
            Op::Ghost { malformed, .. } => Expect::err(if *malformed {
                ErrorKind::BadRequest
            } else {
                ErrorKind::NotFound
            }),
        }
    }

    /// One recovery pass: each contract with work settles independently of the others.
    fn predict_recovery(&self, next: &mut Model) -> Expect {
        let (mut done, mut waiting, mut crash) = (0, 0, false);
        for s in next.slots.iter_mut().filter(|s| s.st.has_provider_work()) {
            let (faults, outage) = self.provider.preview(&s.id);
            let settle = s.st.settle(&mut VecDeque::from(faults), outage);
            crash |= settle.crash;
            match settle.error {
                None => done += 1,
                Some(_) => waiting += 1,
            }
        }
        Expect {
            crash,
            // A crash stops the pass at a point that depends on the store's order.
            masked: crash,
            recovered: Some((done, waiting)),
            ..Expect::ok(if done + waiting > 0 {
                Change::Yes
            } else {
                Change::No
            })
        }
    }

    fn predict_delivery(&self, event: usize, next: &mut Model) -> Expect {
        let e = &self.stripe.events[event];
        let finished = self
            .last
            .events
            .iter()
            .any(|s| s.event_id == e.id && s.status != EventStatus::Received);
        if finished {
            return Expect {
                webhook: Some("duplicate"),
                ..Expect::ok(Change::No)
            };
        }
        let (outcome, change, settle) = match &e.kind {
            EventKind::Other | EventKind::SessionCompleted { paid: false, .. } => {
                ("ignored", Change::No, None)
            }
            EventKind::SessionCompleted { payment, .. }
            | EventKind::AsyncSucceeded { payment }
            | EventKind::IntentSucceeded { payment } => {
                let p = &self.stripe.payments[*payment];
                let slot = if p.contract_ref.is_empty() {
                    // By job and client: the job's live contract, if it is that client's.
                    let job = next.jobs.iter().position(|j| j.as_str() == p.job);
                    job.and_then(|j| next.live_slot_for_job(j))
                        .filter(|i| self.clients[next.slots[*i].client].as_str() == p.client)
                } else {
                    next.slot_of_contract(&p.contract_ref)
                };
                match slot {
                    None => ("failed", Change::No, None),
                    Some(i) => {
                        let (fee, amount) = (next.fee_bps, next.slots[i].amount);
                        let s = &mut next.slots[i];
                        match s.st.fund(&p.payment_intent, p.amount, amount, fee) {
                            Funding::AlreadyApplied => ("applied", Change::No, None),
                            Funding::AmountMismatch => ("failed", Change::No, None),
                            Funding::Funded => ("applied", Change::Yes, None),
                            Funding::Duplicate => {
                                let (faults, outage) = self.provider.preview(&s.id);
                                let settle = s.st.settle(&mut VecDeque::from(faults), outage);
                                ("applied", Change::Yes, Some(settle))
                            }
                        }
                    }
                }
            }
            EventKind::ChargeRefunded { payment_ref } => match next.slot_of_payment(payment_ref) {
                None => ("failed", Change::No, None),
                Some(i) => {
                    // Ours: the refund of a duplicate payment, or of the escrow's payment once
                    // a refund was decided. Any other refund was made outside the escrow and is
                    // listed for an admin.
                    let st = &next.slots[i].st;
                    let ours = match st.escrow.as_ref() {
                        Some(e) if e.payment_ref == *payment_ref => matches!(
                            e.status,
                            EscrowStatus::RefundPending | EscrowStatus::Refunded
                        ),
                        _ => st.extras.iter().any(|x| x.payment_ref == *payment_ref),
                    };
                    (if ours { "applied" } else { "failed" }, Change::No, None)
                }
            },
        };
        Expect {
            webhook: Some(outcome),
            crash: settle.is_some_and(|s| s.crash),
            // The event row itself always changes on a first delivery; `change` is about
            // contracts and the ledger.
            ..Expect::ok(change)
        }
    }

    // ---- running a step --------------------------------------------------------------------

    async fn execute(&mut self, op: &Op) -> Got {
        let fut = std::panic::AssertUnwindSafe(self.call(op)).catch_unwind();
        match fut.await {
            Ok(r) => Ok(r),
            Err(payload) => match payload.downcast::<SimCrash>() {
                Ok(c) => Err(c.0),
                Err(other) => std::panic::resume_unwind(other),
            },
        }
    }

    fn slot_id(&self, slot: usize) -> String {
        self.model.slots[slot].id.to_string()
    }

    fn sign_now(&mut self, body: &str) -> String {
        let t = self.clock_s() - self.rng.range(0, SIGN_LAG_S_MAX);
        sign(body.as_bytes(), &self.settings.webhook_secret, t)
    }

    fn clock_s(&self) -> i64 {
        use escrow::service::Clock;
        self.clock.now_ms() / 1000
    }

    async fn call(&mut self, op: &Op) -> Result<Reply, escrow::service::Error> {
        match op {
            Op::Create {
                who,
                freelancer,
                job,
                amount,
            } => {
                let body = CreateContract {
                    freelancer_id: self.freelancers[*freelancer].to_string(),
                    amount: raw(&amount.json),
                    title: Some(format!("Sim job {job}")),
                };
                let p = self.principal(*who);
                let job = self.model.jobs[*job].to_string();
                let v = self.service().create_contract(&p, &job, body).await?;
                Ok(Reply::Created(ContractId::parse(&v.id).expect("an id")))
            }
            Op::Approve { slot, who } => {
                let p = self.principal(*who);
                self.service()
                    .approve_contract(&p, &self.slot_id(*slot))
                    .await?;
                Ok(Reply::Nothing)
            }
            Op::Move { slot, who, to } => {
                let p = self.principal(*who);
                self.service()
                    .update_status(&p, &self.slot_id(*slot), to)
                    .await?;
                Ok(Reply::Nothing)
            }
            Op::Checkout {
                slot,
                who,
                rate,
                title,
                freelancer,
            } => {
                let body = CheckoutBody {
                    title: title.map(str::to_string),
                    rate: rate.as_ref().map(|r| raw(&r.json)),
                    amount: None,
                    freelancer_id: freelancer.map(|f| self.freelancers[f].to_string()),
                };
                let p = self.principal(*who);
                let job = self.model.jobs[self.model.slots[*slot].job].to_string();
                self.service().checkout(&p, &job, body).await?;
                Ok(Reply::Nothing)
            }
            Op::Pay { slot, how } => {
                self.pay(*slot, *how);
                Ok(Reply::Nothing)
            }
            Op::Deliver { event } => {
                let body = self.stripe.events[*event].body.clone();
                let header = self.sign_now(&body);
                let r = self
                    .service()
                    .handle_webhook(body.as_bytes(), Some(&header))
                    .await?;
                Ok(Reply::Webhook(r.outcome))
            }
            Op::Forged { event, how } => {
                let mut body = self.stripe.events[*event].body.clone();
                let secret = self.settings.webhook_secret.clone();
                let now = self.clock_s();
                let header = match how {
                    Forgery::NoHeader => None,
                    Forgery::WrongSecret => Some(sign(body.as_bytes(), "whsec_attacker", now)),
                    Forgery::Stale => Some(sign(
                        body.as_bytes(),
                        &secret,
                        now - self.rng.range(301, 86_400),
                    )),
                    Forgery::Future => Some(sign(
                        body.as_bytes(),
                        &secret,
                        now + self.rng.range(301, 86_400),
                    )),
                    Forgery::TamperedBody => {
                        let h = sign(body.as_bytes(), &secret, now);
                        body = body.replacen("\"amount", "\"amount_x", 1);
                        body.push(' ');
                        Some(h)
                    }
                };
                let r = self
                    .service()
                    .handle_webhook(body.as_bytes(), header.as_deref())
                    .await?;
                Ok(Reply::Webhook(r.outcome))
            }
            Op::RequestRelease { slot, who } => {
                let p = self.principal(*who);
                self.service()
                    .request_release(&p, &self.slot_id(*slot))
                    .await?;
                Ok(Reply::Nothing)
            }
            Op::Release { slot, how } => {
                let id = self.slot_id(*slot);
                let v = match how {
                    ReleaseHow::Http(who) => {
                        let p = self.principal(*who);
                        self.service().release(&p, &id).await?
                    }
                    ReleaseHow::Cli { force } => {
                        let op = Operator {
                            actor: CLI_ACTOR.into(),
                        };
                        self.service().release_as(&op, &id, *force).await?
                    }
                };
                Ok(Reply::Escrow(v.status))
            }
            Op::Refund { slot, how, .. } => {
                let id = self.slot_id(*slot);
                let v = match how {
                    RefundHow::Http { who, path_client } => {
                        let p = self.principal(*who);
                        let body = RefundBody {
                            cancel_reason: Some("Freelancer not responding".into()),
                            cancel_reason_description: Some("no reply for a week".into()),
                        };
                        let client = self.clients[*path_client].to_string();
                        self.service().refund(&p, &id, &client, body).await?
                    }
                    RefundHow::Cli { share } => {
                        let op = Operator {
                            actor: CLI_ACTOR.into(),
                        };
                        self.service()
                            .refund_as(&op, Party::Admin, &id, "dispute", "split", *share)
                            .await?
                    }
                };
                Ok(Reply::Escrow(v.status))
            }
            Op::Review {
                slot,
                who,
                path_client,
                freelancer,
                rating,
                description,
            } => {
                let p = self.principal(*who);
                let body = ReviewBody {
                    freelancer_id: self.freelancers[*freelancer].to_string(),
                    contract_id: self.slot_id(*slot),
                    rating: serde_json::json!(rating),
                    description: description.to_string(),
                };
                let client = self.clients[*path_client].to_string();
                self.service().rate_freelancer(&p, &client, body).await?;
                Ok(Reply::Nothing)
            }
            Op::Fault { slot, fault } => {
                self.provider.arm(&self.model.slots[*slot].id, *fault);
                Ok(Reply::Nothing)
            }
            Op::DashboardRefund { slot } => {
                if let Some(e) = &self.model.slots[*slot].st.escrow {
                    let (pi, amount) = (e.payment_ref.clone(), e.amount);
                    let id = format!(
                        "evt_sim_{:x}_dashboard_{}",
                        self.seed,
                        self.stripe.events.len()
                    );
                    let body = stripe::charge_refunded_event(
                        &id,
                        &pi,
                        amount,
                        self.model.currency.code(),
                        self.clock_s(),
                    );
                    self.stripe
                        .push(EventKind::ChargeRefunded { payment_ref: pi }, body, id);
                }
                Ok(Reply::Nothing)
            }
            Op::Outage(on) => {
                self.provider.set_outage(*on);
                Ok(Reply::Nothing)
            }
            Op::Recover => {
                let (done, waiting) = self.service().recover_provider_work().await?;
                Ok(Reply::Recovered(done, waiting))
            }
            Op::Restart => {
                // A crash between two steps; the restart below runs the startup recovery.
                self.stats.crashes_idle += 1;
                *self
                    .stats
                    .crash_sites
                    .entry("between steps".into())
                    .or_insert(0) += 1;
                self.restart()
                    .await
                    .map_err(escrow::service::Error::internal)?;
                Ok(Reply::Nothing)
            }
            Op::Ghost { kind, malformed } => {
                let id = if *malformed {
                    "not-a-contract".to_string()
                } else {
                    self.rng.object_id()
                };
                let op = Operator {
                    actor: CLI_ACTOR.into(),
                };
                match kind {
                    GhostKind::Approve => {
                        let p = self.principal(Who::Freelancer(0));
                        self.service().approve_contract(&p, &id).await?;
                    }
                    GhostKind::RequestRelease => {
                        let p = self.principal(Who::Client(0));
                        self.service().request_release(&p, &id).await?;
                    }
                    GhostKind::Release => {
                        self.service().release_as(&op, &id, None).await?;
                    }
                    GhostKind::Refund => {
                        self.service()
                            .refund_as(&op, Party::Admin, &id, "", "", None)
                            .await?;
                    }
                }
                Ok(Reply::Nothing)
            }
        }
    }

    /// A payer pays at Stripe: the payment is registered with the provider (so refunds can be
    /// bounded by it) and Stripe's events about it join the delivery queue.
    fn pay(&mut self, slot: usize, how: PayHow) {
        let s = self.model.slots[slot].clone();
        let n = self.stripe.payments.len() + 1;
        let contract_ref = match how {
            PayHow::UnknownContract => self.rng.object_id(),
            PayHow::MalformedContract => "contract-42".to_string(),
            PayHow::Legacy => String::new(),
            _ => s.id.to_string(),
        };
        let amount = match how {
            PayHow::WrongAmount => s.amount + self.rng.range(1, 1_000),
            _ => s.amount,
        };
        let p = StripePayment {
            payment_intent: format!("pi_sim_{:x}_{n}", self.seed),
            session: format!("cs_sim_pay_{:x}_{n}", self.seed),
            contract_ref,
            job: self.model.jobs[s.job].to_string(),
            client: self.clients[s.client].to_string(),
            freelancer: self.freelancers[s.freelancer].to_string(),
            amount,
        };
        let money_moves = !matches!(how, PayHow::Async { succeeds: false });
        if money_moves {
            self.provider.register_payment(&p.payment_intent, p.amount);
        }
        let cur = self.model.currency.code();
        let now = self.clock_s();
        self.stripe.payments.push(p.clone());
        let payment = self.stripe.payments.len() - 1;
        let event = |stripe: &mut Stripe, kind: EventKind, body: String, id: String| {
            stripe.push(kind, body, id);
        };
        let id = |k: &str| format!("evt_sim_{:x}_{n}_{k}", self.seed);
        match how {
            PayHow::Async { succeeds } => {
                event(
                    &mut self.stripe,
                    EventKind::SessionCompleted {
                        payment,
                        paid: false,
                    },
                    stripe::session_event(
                        &id("completed"),
                        "checkout.session.completed",
                        &p,
                        cur,
                        false,
                        now,
                    ),
                    id("completed"),
                );
                if succeeds {
                    event(
                        &mut self.stripe,
                        EventKind::AsyncSucceeded { payment },
                        stripe::session_event(
                            &id("async"),
                            "checkout.session.async_payment_succeeded",
                            &p,
                            cur,
                            true,
                            now,
                        ),
                        id("async"),
                    );
                } else {
                    event(
                        &mut self.stripe,
                        EventKind::Other,
                        stripe::async_failed_event(&id("async"), &p, cur, now),
                        id("async"),
                    );
                }
            }
            PayHow::Card { intent_event_too } => {
                event(
                    &mut self.stripe,
                    EventKind::SessionCompleted {
                        payment,
                        paid: true,
                    },
                    stripe::session_event(
                        &id("completed"),
                        "checkout.session.completed",
                        &p,
                        cur,
                        true,
                        now,
                    ),
                    id("completed"),
                );
                if intent_event_too {
                    event(
                        &mut self.stripe,
                        EventKind::IntentSucceeded { payment },
                        stripe::intent_event(&id("intent"), &p, cur, now),
                        id("intent"),
                    );
                }
            }
            PayHow::WrongAmount
            | PayHow::UnknownContract
            | PayHow::MalformedContract
            | PayHow::Legacy => {
                event(
                    &mut self.stripe,
                    EventKind::SessionCompleted {
                        payment,
                        paid: true,
                    },
                    stripe::session_event(
                        &id("completed"),
                        "checkout.session.completed",
                        &p,
                        cur,
                        true,
                        now,
                    ),
                    id("completed"),
                );
            }
        }
    }

    /// Stripe's view of a delivery: a 200 acknowledges the event, anything else (an error, a
    /// crash) leaves it to be delivered again.
    fn record_delivery(&mut self, op: &Op, got: &Got) {
        let Op::Deliver { event } = op else {
            return;
        };
        self.stats.deliveries += 1;
        let e = &mut self.stripe.events[*event];
        e.delivery = match (got, &e.delivery) {
            (Ok(Ok(Reply::Webhook(outcome))), before) => match outcome.as_str() {
                "applied" => Delivery::Acked(EventStatus::Applied),
                "ignored" => Delivery::Acked(EventStatus::Ignored),
                "failed" => Delivery::Acked(EventStatus::Failed),
                // Already final in the store: keep what was acknowledged, or learn it below.
                _ => match before {
                    Delivery::Acked(s) => Delivery::Acked(*s),
                    Delivery::Pending { .. } => Delivery::Acked(EventStatus::Received),
                },
            },
            _ => Delivery::Pending { tried: true },
        };
    }

    /// After a crash the caller got no answer: Stripe will deliver the event again. (A contract
    /// created by a dying call is found by its job in `check`, as its client would find it.)
    fn after_crash(&mut self, op: &Op) {
        if let Op::Deliver { event } = op {
            self.stripe.events[*event].delivery = Delivery::Pending { tried: true };
        }
    }

    /// A process start: drops the service and its store (whatever was in flight is lost),
    /// opens them again on the same file, and runs the startup recovery. A provider crash
    /// during that recovery is another crash, and another start.
    async fn restart(&mut self) -> Result<(), String> {
        for _ in 0..16 {
            self.service = None;
            self.store = None;
            self.open()?;
            let pass = std::panic::AssertUnwindSafe(self.service().recover_provider_work())
                .catch_unwind()
                .await;
            match pass {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => return Err(format!("startup recovery failed: {e}")),
                Err(payload) => match payload.downcast::<SimCrash>() {
                    Ok(c) => {
                        self.stats.crashes_provider += 1;
                        *self
                            .stats
                            .crash_sites
                            .entry(format!("startup recovery: {}", c.0))
                            .or_insert(0) += 1;
                    }
                    Err(other) => std::panic::resume_unwind(other),
                },
            }
        }
        Err("the service crashed on every one of 16 restarts".into())
    }

    // ---- checks ----------------------------------------------------------------------------

    fn check_reply(&self, op: &Op, expect: &Expect, got: &Got) -> Result<(), String> {
        let got = match got {
            Ok(r) => r,
            Err(site) => return Err(format!("crashed at {site}")),
        };
        match (&expect.result, got) {
            (Ok(()), Err(e)) => {
                return Err(format!(
                    "expected success, got {:?} {}: {}",
                    e.kind, e.code, e.message
                ));
            }
            (Err(kind), Ok(r)) => return Err(format!("expected {kind:?}, got Ok {r:?}")),
            (Err(kind), Err(e)) if e.kind != *kind => {
                return Err(format!(
                    "expected {kind:?}, got {:?} {}: {}",
                    e.kind, e.code, e.message
                ));
            }
            _ => {}
        }
        if let (Some(want), Ok(Reply::Webhook(outcome))) = (expect.webhook, got)
            && want != outcome
        {
            return Err(format!("webhook outcome {outcome:?}, expected {want:?}"));
        }
        if let (Some(want), Ok(Reply::Recovered(d, w))) = (expect.recovered, got)
            && want != (*d, *w)
        {
            return Err(format!(
                "recovery answered (done, waiting) = ({d}, {w}), expected {want:?}"
            ));
        }
        if let Ok(Reply::Escrow(status)) = got {
            let want = match op {
                Op::Release { .. } => EscrowStatus::Released,
                _ => EscrowStatus::Refunded,
            };
            if *status != want {
                return Err(format!("answered escrow {status:?}, expected {want:?}"));
            }
        }
        if let Err(e) = got
            && e.kind == ErrorKind::Internal
        {
            return Err(format!("internal error: {}", e.message));
        }
        Ok(())
    }

    /// Reads back what the checks compare: the parts of the store a write may have touched
    /// (see [`Written`]); the rest is carried over from the last read.
    async fn observe(&self, read: Written) -> Result<Snapshot, String> {
        const PAGE: u32 = 1_000;
        let store = self.store();
        let (contracts, entries) = if read.contracts {
            let (mut contracts, mut entries) = (vec![], vec![]);
            loop {
                let batch: Vec<Contract> = store
                    .contracts_after(contracts.last().map(|c: &Contract| &c.id), PAGE)
                    .await
                    .map_err(|e| format!("read contracts: {e}"))?;
                let full = batch.len() == PAGE as usize;
                contracts.extend(batch);
                if !full {
                    break;
                }
            }
            loop {
                let batch: Vec<LedgerEntry> = store
                    .entries_after(entries.last().map(|e: &LedgerEntry| e.id.as_str()), PAGE)
                    .await
                    .map_err(|e| format!("read entries: {e}"))?;
                let full = batch.len() == PAGE as usize;
                entries.extend(batch);
                if !full {
                    break;
                }
            }
            (Arc::new(contracts), Arc::new(entries))
        } else {
            (self.last.contracts.clone(), self.last.entries.clone())
        };
        let events = if read.events {
            let mut events = store
                .list_events(false, 100_000)
                .await
                .map_err(|e| format!("read events: {e}"))?;
            events.sort_by(|a, b| a.event_id.cmp(&b.event_id));
            Arc::new(events)
        } else {
            self.last.events.clone()
        };
        let reviewed = if read.reviews {
            let mut reviewed = vec![];
            for f in &self.freelancers {
                let (_, _, reviews) = store
                    .reviews_for_freelancer(f, Page::new(1, Page::LIMIT_MAX))
                    .await
                    .map_err(|e| format!("read reviews: {e}"))?;
                reviewed.extend(reviews.into_iter().map(|r| r.contract_id));
            }
            reviewed.sort();
            Arc::new(reviewed)
        } else {
            self.last.reviewed.clone()
        };
        Ok(Snapshot {
            contracts,
            entries,
            events,
            reviewed,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn check(
        &mut self,
        op: &Op,
        expect: &Expect,
        exact: bool,
        pre: &Model,
        mut next: Model,
        snap: &Snapshot,
        got: &Got,
    ) -> Result<(), String> {
        // 1. Every invariant of DESIGN §4, as `escrowctl verify` checks them.
        let report = self
            .service()
            .verify(|_| {})
            .await
            .map_err(|e| format!("verify failed to run: {e}"))?;
        self.stats.verifies += 1;
        if !report.ok() {
            return Err(format!("verify: {:?}", report.violations));
        }
        // 2. A created contract gets its id; one created by a call that died is found by its job.
        if let Op::Create { job, .. } = op {
            let job_id = &self.model.jobs[*job];
            let found = snap
                .contracts
                .iter()
                .find(|c| &c.job_id == job_id && c.status != ContractStatus::Canceled)
                .filter(|c| !pre.slots.iter().any(|s| s.id == c.id));
            let created = match got {
                Ok(Ok(Reply::Created(id))) => Some(id.clone()),
                Ok(_) => None,
                Err(_) => found.map(|c| c.id.clone()),
            };
            let could = matches!(expect.result, Ok(()));
            match (created, could) {
                (Some(id), true) => {
                    let Op::Create {
                        who: Who::Client(client),
                        freelancer,
                        amount,
                        ..
                    } = op
                    else {
                        unreachable!("only a client can create")
                    };
                    let slot = Slot {
                        id: id.clone(),
                        job: *job,
                        client: *client,
                        freelancer: *freelancer,
                        amount: amount.minor.expect("valid amount"),
                        st: MState::new(),
                        checkout_open: false,
                    };
                    next.slots.push(slot);
                }
                (Some(id), false) => {
                    return Err(format!("contract {id} created against the rules"));
                }
                (None, _) => {}
            }
        }
        // 3. The store holds exactly the model's contracts, each with its fixed facts.
        if snap.contracts.len() != next.slots.len() {
            return Err(format!(
                "the store has {} contracts, the model {}",
                snap.contracts.len(),
                next.slots.len()
            ));
        }
        let by_id: HashMap<&ContractId, &Contract> =
            snap.contracts.iter().map(|c| (&c.id, c)).collect();
        for (i, s) in next.slots.iter_mut().enumerate() {
            let Some(c) = by_id.get(&s.id) else {
                return Err(format!("slot {i}: contract missing from the store"));
            };
            if c.client_id != self.clients[s.client]
                || c.freelancer_id != self.freelancers[s.freelancer]
                || c.job_id != self.model.jobs[s.job]
                || c.amount != s.amount
                || c.currency != self.model.currency
            {
                return Err(format!("slot {i}: fixed facts changed: {c:?}"));
            }
            let actual = MState::project(c, snap.reviewed.contains(&c.id));
            let before = pre.slots.get(i).map(|p| &p.st);
            if exact {
                if actual != s.st {
                    return Err(format!(
                        "slot {i}: the store has\n  {actual:?}\nthe model expects\n  {:?}",
                        s.st
                    ));
                }
            } else {
                // After a crash or a failed write: one of the states the step may durably have
                // reached, with nothing the provider confirmed undone.
                let m = actual.masked();
                let answered_ok = matches!(got, Ok(Ok(_)));
                let allowed = m == s.st.masked()
                    || (!answered_ok && before.is_some_and(|b| m == b.masked()))
                    || (before.is_none() && m == MState::new().masked());
                if !allowed {
                    return Err(format!(
                        "slot {i}: after a crash or fault the store has\n  {actual:?}\nallowed: before\n  {before:?}\nor after\n  {:?}",
                        s.st
                    ));
                }
                if let Some(b) = before
                    && !b.settlement_kept_in(&actual)
                {
                    return Err(format!(
                        "slot {i}: a settled refund was undone: before {b:?}, now {actual:?}"
                    ));
                }
                s.st = actual;
            }
        }
        // No escrow is funded twice, and release and refund exclude each other for good.
        for (i, s) in next.slots.iter().enumerate() {
            let Some(before) = pre.slots.get(i).and_then(|p| p.st.escrow.as_ref()) else {
                continue;
            };
            let Some(now) = s.st.escrow.as_ref() else {
                return Err(format!("slot {i}: the escrow disappeared"));
            };
            use EscrowStatus::*;
            let forward = match before.status {
                Funded => true,
                RefundPending => matches!(now.status, RefundPending | Refunded),
                Released | Refunded => now.status == before.status,
            };
            if now.payment_ref != before.payment_ref || !forward {
                return Err(format!(
                    "slot {i}: escrow went from {:?} ({}) to {:?} ({})",
                    before.status, before.payment_ref, now.status, now.payment_ref
                ));
            }
        }
        self.stats.model_checks += 1;
        // 4. A refused call, and a call that changes nothing, leave the store as it was.
        if exact && expect.change == Change::No {
            if snap.contracts != self.last.contracts {
                return Err("a refused or no-op call changed a contract record".into());
            }
            if snap.entries != self.last.entries {
                return Err("a refused or no-op call wrote ledger entries".into());
            }
            if snap.reviewed != self.last.reviewed {
                return Err("a refused or no-op call changed the reviews".into());
            }
            let webhook = matches!(op, Op::Deliver { .. });
            if !webhook && snap.events != self.last.events {
                return Err("a call that is not a webhook delivery changed webhook events".into());
            }
        }
        if exact && expect.result.is_err() {
            self.stats.refused += 1;
        }
        // 5. Every ledger account holds what the model derives from the contracts.
        let mut actual: BTreeMap<Account, i128> = BTreeMap::new();
        for e in snap.entries.iter() {
            if e.currency != self.model.currency {
                return Err(format!("entry in a foreign currency: {e:?}"));
            }
            *actual.entry(e.account.clone()).or_insert(0) += e.amount as i128;
        }
        actual.retain(|_, v| *v != 0);
        let expected = next.expected_balances(&self.freelancers);
        if actual != expected {
            return Err(format!(
                "ledger balances differ from the model:\n  store {actual:?}\n  model {expected:?}"
            ));
        }
        // 6. The provider and the store agree on every refund.
        self.check_provider(snap)?;
        // 7. Webhook events: acknowledged ones keep their status; undelivered ones are unknown.
        self.check_events(snap)?;
        self.count_money(pre, &next);
        self.model = next;
        Ok(())
    }

    fn count_money(&mut self, pre: &Model, next: &Model) {
        for (i, s) in next.slots.iter().enumerate() {
            let before = pre.slots.get(i).map(|p| p.st.clone());
            let was = before
                .as_ref()
                .and_then(|b| b.escrow.as_ref().map(|e| e.status));
            let now = s.st.escrow.as_ref().map(|e| e.status);
            if was != now {
                match now {
                    Some(EscrowStatus::Released) => self.stats.released += 1,
                    Some(EscrowStatus::Refunded) => self.stats.refunded += 1,
                    _ => {}
                }
            }
            let refunded_before = before
                .map(|b| b.extras.iter().filter(|x| x.refunded).count())
                .unwrap_or(0);
            let refunded_now = s.st.extras.iter().filter(|x| x.refunded).count();
            self.stats.duplicates_refunded +=
                (refunded_now - refunded_before.min(refunded_now)) as u64;
        }
    }

    fn check_provider(&self, snap: &Snapshot) -> Result<(), String> {
        let misuse = self.provider.misuse();
        if !misuse.is_empty() {
            return Err(format!("the service misused the provider: {misuse:?}"));
        }
        let refunds = self.provider.refunds();
        let by_id: HashMap<&str, &crate::fakes::ProviderRefund> =
            refunds.iter().map(|r| (r.id.as_str(), r)).collect();
        let mut recorded: HashMap<String, u32> = HashMap::new();
        for c in snap.contracts.iter() {
            if let Some(e) = &c.escrow
                && let Some(r) = &e.refund
            {
                let pi = e.payment_intent_id.clone().unwrap_or(e.payment_ref.clone());
                match (e.status, &r.provider_refund_id) {
                    (EscrowStatus::Refunded, Some(id)) if r.client_share > 0 => {
                        let Some(p) = by_id.get(id.as_str()) else {
                            return Err(format!(
                                "contract {}: refund {id} recorded but the provider never made it",
                                c.id
                            ));
                        };
                        if p.payment_ref != pi
                            || p.amount != r.client_share
                            || p.contract_id != c.id
                        {
                            return Err(format!(
                                "contract {}: recorded refund {id} does not match the provider's {p:?}",
                                c.id
                            ));
                        }
                        *recorded.entry(id.clone()).or_insert(0) += 1;
                    }
                    (EscrowStatus::Refunded, Some(_)) => {}
                    (EscrowStatus::Refunded, None) => {
                        return Err(format!("contract {}: refunded without a refund id", c.id));
                    }
                    (EscrowStatus::RefundPending, Some(id)) => {
                        return Err(format!(
                            "contract {}: pending refund already carries id {id}",
                            c.id
                        ));
                    }
                    _ => {}
                }
            }
            for x in &c.extra_payments {
                if let Some(id) = &x.provider_refund_id {
                    let pi = x.payment_intent_id.clone().unwrap_or(x.payment_ref.clone());
                    let Some(p) = by_id.get(id.as_str()) else {
                        return Err(format!(
                            "contract {}: duplicate refund {id} recorded but never made",
                            c.id
                        ));
                    };
                    if p.payment_ref != pi || p.amount != x.amount {
                        return Err(format!(
                            "contract {}: duplicate refund {id} does not match the provider's {p:?}",
                            c.id
                        ));
                    }
                    *recorded.entry(id.clone()).or_insert(0) += 1;
                }
            }
        }
        for p in &refunds {
            match recorded.get(&p.id).copied().unwrap_or(0) {
                1 => {}
                0 => {
                    // Made, answer lost: the store must still owe exactly this refund.
                    let owed = snap.contracts.iter().any(|c| {
                        c.id == p.contract_id
                            && (c.escrow.as_ref().is_some_and(|e| {
                                e.status == EscrowStatus::RefundPending
                                    && e.payment_intent_id.as_deref().unwrap_or(&e.payment_ref)
                                        == p.payment_ref
                                    && e.refund
                                        .as_ref()
                                        .is_some_and(|r| r.client_share == p.amount)
                            }) || c.extra_payments.iter().any(|x| {
                                x.provider_refund_id.is_none()
                                    && x.payment_intent_id.as_deref().unwrap_or(&x.payment_ref)
                                        == p.payment_ref
                                    && x.amount == p.amount
                            }))
                    });
                    if !owed {
                        return Err(format!(
                            "the provider made refund {p:?} and the store neither recorded nor owes it"
                        ));
                    }
                }
                n => return Err(format!("provider refund {} recorded {n} times", p.id)),
            }
        }
        Ok(())
    }

    fn check_events(&mut self, snap: &Snapshot) -> Result<(), String> {
        let stored: HashMap<&str, &WebhookEvent> = snap
            .events
            .iter()
            .map(|e| (e.event_id.as_str(), e))
            .collect();
        for e in &mut self.stripe.events {
            let s = stored.get(e.id.as_str());
            match (&e.delivery, s) {
                (Delivery::Pending { tried: false }, Some(s)) => {
                    return Err(format!("event {} stored but never delivered: {s:?}", e.id));
                }
                (Delivery::Acked(want), Some(s)) => {
                    if *want == EventStatus::Received {
                        // A duplicate answer to an event whose first delivery died: learn
                        // the final status the store kept.
                        if s.status == EventStatus::Received {
                            return Err(format!("event {} acknowledged but not final", e.id));
                        }
                        e.delivery = Delivery::Acked(s.status);
                    } else if s.status != *want {
                        return Err(format!(
                            "event {}: acknowledged as {want:?}, stored as {:?}",
                            e.id, s.status
                        ));
                    }
                }
                (Delivery::Acked(_), None) => {
                    return Err(format!("acknowledged event {} is not stored", e.id));
                }
                _ => {}
            }
        }
        let known: Vec<&str> = self.stripe.events.iter().map(|e| e.id.as_str()).collect();
        for s in snap.events.iter() {
            if !known.contains(&s.event_id.as_str()) {
                return Err(format!("an event nobody sent is stored: {s:?}"));
            }
        }
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
        let owed: Vec<usize> = (0..self.model.slots.len())
            .filter(|i| self.model.slots[*i].st.has_provider_work())
            .collect();
        if !owed.is_empty() {
            return Err(self.fail(
                "drain",
                format!("refunds still owed after recovery: slots {owed:?}"),
            ));
        }
        let refunds = self.provider.refunds();
        let recorded: usize = self
            .last
            .contracts
            .iter()
            .map(|c| {
                c.escrow
                    .as_ref()
                    .and_then(|e| e.refund.as_ref())
                    .filter(|r| r.client_share > 0 && r.provider_refund_id.is_some())
                    .map_or(0, |_| 1)
                    + c.extra_payments
                        .iter()
                        .filter(|x| x.provider_refund_id.is_some())
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
            let body = stripe::charge_refunded_event(&id, &r.payment_ref, r.amount, cur, now);
            self.stripe.push(
                EventKind::ChargeRefunded {
                    payment_ref: r.payment_ref,
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
