//! Crash tests: the real `escrow-server` binary, `kill -9`ed at random moments while webhooks,
//! status moves, release requests, releases and refunds are in flight, then restarted on the
//! same store, several times per run. Every request that got no definite answer is sent again,
//! as Stripe redelivers a webhook until it gets a 200 (freshly signed each time) and an admin
//! retries a release or refund until it gets a 2xx or 4xx (every try of one request with the
//! same `Idempotency-Key`). At the end:
//!
//! - every acknowledged write is there: each 200'd funding, status move, release request,
//!   release and refund is visible in the contract, its escrow and the ledger;
//! - a refund Stripe answers `pending` waits for Stripe's `refund.updated` / `refund.failed`
//!   (sent once or twice at once), and one that failed (at once or later) is sent again by
//!   an operator with `escrowctl refunds retry` (the real binary, beside the server being
//!   killed): the client's share leaves through Stripe exactly once, the failed try gave its
//!   money back;
//! - every contract is funded exactly once (one `fund` transfer; a second payment is kept
//!   aside and refunded, never added), released or refunded at most once and never both, and
//!   ends where its script leads (a write retried to a definite answer happened exactly once);
//! - the request that released or refunded is answered 2xx, even when a kill cut off the try
//!   that moved the money and only a retry got an answer (not "already released");
//! - each freelancer then withdraws the whole wallet (a payout, retried with its key like the
//!   rest): what the release or refund gave is paid out or still in the wallet, never both and
//!   never twice; every paid payout has exactly one transfer at Stripe, even when a kill landed
//!   between the wallet debit and the transfer (the maintenance task sends it again with the
//!   same idempotency key, and Stripe replays the first);
//! - `escrowctl --json verify`, the real binary as a process, finds no violation.
//!
//! The server talks to a fake Stripe API in this process (`providers/fake_stripe.rs`): refunds
//! and transfers are made there, where they can be counted.
//!
//! Liveness is checked too: every request must get its definite answer within
//! `DEFINITE_ANSWER_WITHIN`, so the server must answer some of what is in flight in the short
//! life it gets between two kills. A server that set every redelivered request working on a slow
//! store at once answered none of them, life after life (see `escrow::admission`).
//!
//! On SQLite always, and on the MongoDB emulator when `ESCROW_TEST_MONGODB_URI` is set (a fresh
//! database per seed, dropped afterwards). Each run draws its seeds from the clock; a failure
//! prints its seed and keeps the server's log (`ESCROW_CRASH_RUST_LOG` sets its `RUST_LOG`), and
//! `ESCROW_CRASH_SEED=<n>` runs that seed alone (the same contracts, scripts and kill schedule;
//! the operating system's interleaving of the processes is not replayed). `ESCROW_CRASH_SEEDS`
//! sets how many seeds per backend (default 3 on SQLite with 80 contracts each, 2 on MongoDB
//! with 24, as the emulator is one Python process serving a few thousand operations a second:
//! its two seeds took 8 s on an idle 2-core machine, about 20 s with both cores kept busy).

#[allow(dead_code)]
#[path = "providers/fake_stripe.rs"]
mod fake_stripe;
#[allow(dead_code)]
#[path = "hostile/process.rs"]
mod process;
#[path = "support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use escrow::auth::Role;
use escrow::domain::{JobId, UserId};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::support::money::minor;
use process::{Server, escrowctl_verify, payment_event, signature, token};

const JWT_SECRET: &str = "crash-test-jwt-secret-0123456789";
const WEBHOOK_SECRET: &str = "whsec_crash_test_secret";
const CONNECT_SECRET: &str = "whsec_crash_test_connect";
/// A request with no definite answer after this long fails the run (the server is stuck).
const DEFINITE_ANSWER_WITHIN: Duration = Duration::from_secs(90);
/// The server runs this long (uniformly drawn) between two kills.
const UPTIME_MS: std::ops::Range<u64> = 60..450;
/// What the server logs when a retry's first try had already changed the contract.
const RECOGNISED: &str = "a retried request had already changed this contract";
/// The server's route timeout here; keys are leased for a second longer.
const REQUEST_TIMEOUT_S: u64 = 2;
/// And stays down this long before it is restarted.
const DOWNTIME_MS: std::ops::Range<u64> = 0..120;

/// One request of a contract's script.
#[derive(Debug, Clone)]
enum Step {
    /// A `checkout.session.completed` delivery (`event` is the Stripe event id; a second
    /// payment has its own event and payment intent).
    Fund {
        event: String,
        intent: String,
    },
    Status(&'static str),
    RequestRelease {
        short_path: bool,
    },
    Release,
    Refund {
        by_client: bool,
    },
    /// The client disputes the held escrow.
    Dispute,
    /// The freelancer answers the dispute.
    Respond,
    /// An admin resolves it: this much back to the client, this much to the freelancer
    /// (minor units; with the fee they make up the amount).
    Resolve {
        client: i64,
        freelancer: i64,
    },
    /// Stripe reports a chargeback of the payment (`charge.dispute.<kind>`, its `status`).
    Chargeback {
        event: String,
        kind: &'static str,
        status: &'static str,
    },
    /// The bank settles the refund Stripe took as pending: Stripe says so (`refund.updated`,
    /// or `refund.failed`).
    RefundUpdated {
        succeeded: bool,
    },
    /// An operator sends the failed refund again: `escrowctl refunds retry ID --yes`, the
    /// real binary as a process, on the store the server uses.
    RetryRefund,
    /// The freelancer withdraws the whole wallet.
    Payout,
}

impl Step {
    fn name(&self) -> &'static str {
        match self {
            Step::Fund { .. } => "fund",
            Step::Status(_) => "status",
            Step::RequestRelease { .. } => "request_release",
            Step::Release => "release",
            Step::Refund { .. } => "refund",
            Step::Dispute => "dispute",
            Step::Respond => "respond",
            Step::Resolve { .. } => "resolve",
            Step::Chargeback { .. } => "chargeback",
            Step::RefundUpdated { .. } => "refund_updated",
            Step::RetryRefund => "retry_refund",
            Step::Payout => "payout",
        }
    }
}

/// A script: steps in sequence, or branches fired at the same time.
#[derive(Debug, Clone)]
enum Node {
    Step(Step),
    Seq(Vec<Node>),
    Par(Vec<Node>),
}

/// Where a script must leave its escrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Released,
    Refunded,
    /// A release and a refund raced: exactly one of them.
    OneOf,
    /// Disputed, answered, and resolved by an admin's split (refunded, with this client share).
    Resolved {
        client: i64,
    },
    /// A chargeback lost for the whole payment: before release (the escrow charged back), or
    /// after it (released, a platform loss).
    ChargedBack {
        after_release: bool,
    },
    /// Refunded, though Stripe first answered the refund `pending` (and then said how it
    /// ended) or `failed`; a failed one was sent again by an operator.
    RefundOutcome {
        retried: bool,
    },
}

struct Deal {
    client: UserId,
    client_token: String,
    freelancer: UserId,
    freelancer_token: String,
    contract: String,
    amount: i64,
    script: Node,
    end: End,
    /// Distinct payment events in the script (the first to land funds; the rest are refunded).
    payments: usize,
    /// The freelancer's connected account at the fake Stripe.
    account: String,
    /// How Stripe first answers the escrow's refund, where the script makes it answer
    /// otherwise than `succeeded`.
    refund_answer: Option<&'static str>,
}

/// What one step finally got (after its retries).
#[derive(Debug, Clone)]
struct Answer {
    deal: usize,
    step: Step,
    status: u16,
    body: Value,
}

/// The server's current address, changed by the killer at each restart.
struct Live {
    base: RwLock<String>,
    stop: AtomicBool,
    /// Requests sent, counting every resend.
    requests: AtomicU64,
    /// Sent while the server was down: the connection was refused.
    refused: AtomicU64,
    /// Cut off in flight (connection reset, body lost) or answered 5xx/408: they may or may not
    /// have happened, and were sent again.
    unanswered: AtomicU64,
}

struct Backend {
    name: &'static str,
    env: Vec<(String, String)>,
}

#[derive(Default)]
struct Totals {
    seeds: Vec<String>,
    crashes: u64,
    requests: u64,
    refused: u64,
    unanswered: u64,
    acknowledged: u64,
    contracts: u64,
    /// Retries the server recognised as a request that had already changed its contract
    /// before a kill cut it off (its log says so).
    recognised: u64,
    /// Payouts paid, and those of them whose transfer a restart's maintenance task sent (a
    /// kill had cut off the request between the wallet debit and the transfer).
    payouts: u64,
    payouts_resent: u64,
    /// Contracts whose refund Stripe answered pending, and failed (then sent again).
    refunds_pending: u64,
    refunds_failed: u64,
    /// Chargeback losses recovered from a freelancer's wallet (odd seeds).
    recoveries: u64,
}

fn seeds(default: usize) -> Vec<u64> {
    if let Ok(s) = std::env::var("ESCROW_CRASH_SEED") {
        return vec![s.trim().parse().expect("ESCROW_CRASH_SEED is a u64")];
    }
    let n = std::env::var("ESCROW_CRASH_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    let mut rng = StdRng::from_os_rng();
    (0..n).map(|_| rng.random_range(1..1_000_000_000)).collect()
}

fn backends() -> Vec<(Backend, usize)> {
    let mut out = vec![(
        Backend {
            name: "sqlite",
            env: vec![],
        },
        3,
    )];
    match std::env::var("ESCROW_TEST_MONGODB_URI") {
        Ok(uri) if !uri.is_empty() => out.push((
            Backend {
                name: "mongodb",
                env: vec![("ESCROW_DATABASE_URL".into(), uri)],
            },
            2,
        )),
        _ => eprintln!(
            "crash tests: ESCROW_TEST_MONGODB_URI is not set, so only SQLite runs (scripts/test starts the MongoDB emulator)"
        ),
    }
    out
}

/// Prints the seed when the run fails, however it fails, and keeps the run's directory (the
/// server's log of every start is `server.log` there) instead of deleting it. Drops the run's
/// MongoDB database either way (see `drop_database`).
struct SeedGuard<'a> {
    seed: u64,
    backend: &'a str,
    dir: Option<tempfile::TempDir>,
    /// The MongoDB URI and database of the run.
    mongodb: Option<(String, String)>,
}

impl SeedGuard<'_> {
    fn dir(&self) -> &std::path::Path {
        self.dir.as_ref().expect("the run's directory").path()
    }
}

impl Drop for SeedGuard<'_> {
    fn drop(&mut self) {
        if let Some((uri, database)) = self.mongodb.take() {
            drop_database(&uri, &database);
        }
        if std::thread::panicking() {
            let (seed, backend) = (self.seed, self.backend);
            eprintln!(
                "crash test FAILED on {backend} with seed {seed}: replay with ESCROW_CRASH_SEED={seed} cargo test --test crash"
            );
            if let Some(dir) = self.dir.take() {
                let dir = dir.keep();
                let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                eprintln!(
                    "the server's log is kept in {}; its last lines:\n{}",
                    dir.join("server.log").display(),
                    lines[lines.len().saturating_sub(40)..].join("\n")
                );
            }
        }
    }
}

/// Drops a run's database from the MongoDB server. Each of the run's hundreds of server
/// processes opened sessions that its `kill -9` never ended; the emulator keeps every one of
/// them until their database is dropped and scans them all on every command (real MongoDB
/// expires them after 30 minutes and never scans them), so a database left behind slows every
/// later seed and test on the same emulator (measured on an idle machine: 14,000 sessions left
/// behind by earlier seeds made each command take 3.4 ms instead of 0.9 ms).
fn drop_database(uri: &str, database: &str) {
    #[cfg(feature = "mongodb")]
    {
        let dropped = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let client = mongodb::Client::with_uri_str(uri).await?;
                let dropped = client.database(database).drop().await;
                client.shutdown().await;
                dropped
            });
        if let Err(e) = dropped {
            eprintln!("crash tests: could not drop the database {database}: {e}");
        }
    }
    #[cfg(not(feature = "mongodb"))]
    let _ = (uri, database);
}

#[test]
fn kill_9_at_random_moments_loses_no_acknowledged_write_and_moves_no_money_twice() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let mut totals = Totals::default();
    for (backend, default_seeds) in backends() {
        for seed in seeds(default_seeds) {
            let mut guard = SeedGuard {
                seed,
                backend: backend.name,
                dir: Some(tempfile::tempdir().unwrap()),
                mongodb: None,
            };
            let mut env: Vec<(String, String)> = backend.env.clone();
            if backend.name == "mongodb" {
                let database = format!(
                    "escrow_crash_{seed}_{}",
                    escrow::domain::ids::new_object_id_hex()
                );
                let uri = env
                    .iter()
                    .find(|(k, _)| k == "ESCROW_DATABASE_URL")
                    .map(|(_, v)| v.clone())
                    .expect("the MongoDB URI");
                guard.mongodb = Some((uri, database.clone()));
                env.push(("ESCROW_MONGODB_DATABASE".into(), database));
            }
            env.push(("JWT_SECRET".into(), JWT_SECRET.into()));
            env.push(("STRIPE_WEBHOOK_SECRET".into(), WEBHOOK_SECRET.into()));
            // A request killed mid-flight holds its Idempotency-Key until its lease runs out;
            // a short lease (it must outlast the route timeout) keeps the retries quick.
            env.push((
                "ESCROW_REQUEST_TIMEOUT_S".into(),
                REQUEST_TIMEOUT_S.to_string(),
            ));
            env.push((
                "ESCROW_IDEMPOTENCY_LEASE_S".into(),
                (REQUEST_TIMEOUT_S + 1).to_string(),
            ));
            // Every start and every answer is logged, so the log kept from a failed run shows
            // what the server answered and how fast.
            let log = std::env::var("ESCROW_CRASH_RUST_LOG").unwrap_or_else(|_| {
                "warn,escrow_server=info,escrow::http=info,escrow::service::transition=info,escrow::service::payouts=info,escrow::service::maintenance=info".into()
            });
            env.push(("RUST_LOG".into(), log));
            let contracts = if backend.name == "mongodb" { 24 } else { 80 };
            let seed_started = Instant::now();
            runtime.block_on(run_seed(seed, guard.dir(), &env, contracts, &mut totals));
            totals.seeds.push(format!(
                "{}:{seed} in {:.0} s",
                backend.name,
                seed_started.elapsed().as_secs_f64()
            ));
        }
    }
    let line = format!(
        "crash suite: {} seeds ({}), {} crashes injected (kill -9), {} contracts, {} requests ({} cut off in flight or unanswered and sent again, {} refused while the server was down), {} acknowledged writes checked: none lost, no money moved twice, every move answered as done to the request that made it ({} retries recognised as a request whose cut-off try had moved the contract), {} payouts paid with exactly one Stripe transfer each ({} sent again by the maintenance task after a kill or a Stripe timeout between debit and transfer), {} refunds answered pending by Stripe and {} failed there (sent again by escrowctl), each client's share sent once, {} chargeback losses recovered from a wallet exactly once, escrowctl verify clean after every seed ({:.0} s)",
        totals.seeds.len(),
        totals.seeds.join(", "),
        totals.crashes,
        totals.contracts,
        totals.requests,
        totals.unanswered,
        totals.refused,
        totals.acknowledged,
        totals.recognised,
        totals.payouts,
        totals.payouts_resent,
        totals.refunds_pending,
        totals.refunds_failed,
        totals.recoveries,
        started.elapsed().as_secs_f64()
    );
    process::figures("crash", &line);
}

async fn run_seed(
    seed: u64,
    dir: &std::path::Path,
    env: &[(String, String)],
    contracts: usize,
    totals: &mut Totals,
) {
    let stripe = fake_stripe::FakeStripe::start().await;
    let mut env = env.to_vec();
    env.extend([
        (
            "STRIPE_SECRET_KEY".to_string(),
            fake_stripe::SECRET_KEY.to_string(),
        ),
        ("STRIPE_API_BASE".to_string(), stripe.base.clone()),
        ("STRIPE_TIMEOUT_S".to_string(), "2".to_string()),
        (
            "STRIPE_CONNECT_WEBHOOK_SECRET".to_string(),
            CONNECT_SECRET.to_string(),
        ),
        ("ESCROW_PAYOUT_MIN".to_string(), "0.01".to_string()),
    ]);
    // Odd seeds recover a chargeback's platform loss from the freelancer's wallet: inline, by
    // a redelivery of the lost event, or by its timer when a kill cut off the first.
    let wallet_recovery = seed % 2 == 1;
    env.push((
        "ESCROW_CHARGEBACK_RECOVERY".to_string(),
        if wallet_recovery {
            "wallet"
        } else {
            "platform"
        }
        .to_string(),
    ));
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = Server::start(dir, &env_refs);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let admin = token(JWT_SECRET, Role::Admin, &UserId::generate());
    let mut rng = StdRng::seed_from_u64(seed);

    // Contracts created and approved before the crashes start.
    let mut deals = Vec::with_capacity(contracts);
    for i in 0..contracts {
        deals.push(prepare(&http, &server.base, &stripe, i, &mut rng).await);
    }

    let live = Arc::new(Live {
        base: RwLock::new(server.base.clone()),
        stop: AtomicBool::new(false),
        requests: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        unanswered: AtomicU64::new(0),
    });
    let killer = {
        let live = live.clone();
        let kill_seed = rng.random::<u64>();
        KillerThread {
            handle: Some(std::thread::spawn({
                let live = live.clone();
                move || killer(server, live, kill_seed)
            })),
            live,
        }
    };

    // Some transfers hang past the server's Stripe timeout after Stripe made them: the request
    // is cut off (by the timeout or a kill) between the wallet debit and recording the
    // transfer, and the transfer must be sent again with its key and made once.
    stripe.fail_transfers(vec![
        fake_stripe::Fault::Hang(Duration::from_secs(3));
        contracts / 8
    ]);
    let deals = Arc::new(deals);
    let answers = Arc::new(Mutex::new(Vec::<Answer>::new()));
    let admin = Arc::new(admin);
    let cli = Arc::new((dir.to_path_buf(), env.clone()));
    let tasks: Vec<_> = (0..deals.len())
        .map(|i| {
            let (deals, answers, live, http, admin, stripe, cli) = (
                deals.clone(),
                answers.clone(),
                live.clone(),
                http.clone(),
                admin.clone(),
                stripe.clone(),
                cli.clone(),
            );
            tokio::spawn(async move {
                let ctx = Ctx {
                    http,
                    stripe,
                    cli,
                    live,
                    admin,
                    deals,
                    answers,
                };
                let script = ctx.deals[i].script.clone();
                ctx.exec(i, script).await;
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("a script task failed");
    }
    let (mut server, crashes) = killer.stop();
    // One more start: what a kill left pending (a refund, a payout's transfer) is sent by the
    // maintenance pass every start makes, rather than the next periodic one.
    server.restart();
    let base = server.base.clone();

    let answers = answers.lock().unwrap().clone();
    let (acknowledged, recoveries) = check(
        &http,
        &base,
        &admin,
        &deals,
        &answers,
        &server,
        &stripe,
        wallet_recovery,
    )
    .await;

    totals.recognised += server.log().matches(RECOGNISED).count() as u64;
    let (payouts, resent) = payout_counts(&server.log());
    totals.payouts += payouts;
    totals.payouts_resent += resent;
    server.kill9();
    let (code, report, out) = escrowctl_verify(dir, &env_refs);
    assert_eq!(code, 0, "escrowctl --json verify failed:\n{out}");
    assert_eq!(report["ok"], true, "{out}");
    assert_eq!(
        report["counts"]["contracts"].as_u64(),
        Some(deals.len() as u64),
        "{out}"
    );

    totals.crashes += crashes;
    totals.requests += live.requests.load(Ordering::SeqCst);
    totals.refused += live.refused.load(Ordering::SeqCst);
    totals.unanswered += live.unanswered.load(Ordering::SeqCst);
    totals.acknowledged += acknowledged;
    totals.contracts += deals.len() as u64;
    totals.recoveries += recoveries;
    // Refunds Stripe answered `pending`, and those that failed (at once, or later).
    for d in deals.iter() {
        if let End::RefundOutcome { retried } = d.end {
            totals.refunds_pending += u64::from(d.refund_answer == Some("pending"));
            totals.refunds_failed += u64::from(retried);
        }
    }
}

/// The killer thread, stopped however the run ends: when a run fails, the server it holds is
/// killed rather than left running on the store after the test process is gone.
struct KillerThread {
    live: Arc<Live>,
    handle: Option<std::thread::JoinHandle<(Server, u64)>>,
}

impl KillerThread {
    /// Stops the kills; returns the last, running server and the number of kills.
    fn stop(mut self) -> (Server, u64) {
        self.live.stop.store(true, Ordering::SeqCst);
        let handle = self.handle.take().expect("stopped once");
        handle.join().expect("the killer thread")
    }
}

impl Drop for KillerThread {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.live.stop.store(true, Ordering::SeqCst);
            // The server it hands back is dropped here, which kills it.
            let _ = handle.join();
        }
    }
}

/// Kills the server at random moments and restarts it on the same store until told to stop
/// (after at least one kill); hands the last, running server back with the number of kills.
fn killer(mut server: Server, live: Arc<Live>, seed: u64) -> (Server, u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut kills = 0;
    loop {
        let uptime = Duration::from_millis(rng.random_range(UPTIME_MS));
        let until = Instant::now() + uptime;
        while Instant::now() < until {
            if live.stop.load(Ordering::SeqCst) && kills > 0 {
                return (server, kills);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if live.stop.load(Ordering::SeqCst) && kills > 0 {
            return (server, kills);
        }
        server.kill9();
        kills += 1;
        std::thread::sleep(Duration::from_millis(rng.random_range(DOWNTIME_MS)));
        server.restart();
        *live.base.write().unwrap() = server.base.clone();
    }
}

async fn prepare(
    http: &reqwest::Client,
    base: &str,
    stripe: &fake_stripe::FakeStripe,
    i: usize,
    rng: &mut StdRng,
) -> Deal {
    let (client, freelancer, job) = (UserId::generate(), UserId::generate(), JobId::generate());
    let client_token = token(JWT_SECRET, Role::Client, &client);
    let freelancer_token = token(JWT_SECRET, Role::Freelancer, &freelancer);
    let rupees = rng.random_range(100..100_000);
    let created: Value = http
        .post(format!("{base}/api/client/contract/create-contract/{job}"))
        .bearer_auth(&client_token)
        .json(&json!({"freelancerId": freelancer.as_str(), "amount": rupees, "title": format!("crash job {i}")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let contract = created["data"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("create-contract: {created}"))
        .to_string();
    let approved = http
        .post(format!(
            "{base}/api/freelancer/contract/approve-contract/{contract}"
        ))
        .bearer_auth(&freelancer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    // The freelancer onboards for payouts: Stripe makes the account, the freelancer finishes
    // its onboarding, Stripe says so on the Connect endpoint.
    let onboarding: Value = http
        .post(format!("{base}/api/freelancer/payouts/onboarding"))
        .bearer_auth(&freelancer_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let account = onboarding["accountId"]
        .as_str()
        .unwrap_or_else(|| panic!("onboarding: {onboarding}"))
        .to_string();
    stripe.enable_account(&account);
    let updated = crate::support::stripe::account_updated(
        &format!("evt_acct_{i}"),
        &account,
        true,
        &[],
        chrono::Utc::now().timestamp(),
    );
    let r = http
        .post(format!("{base}/webhook/connect"))
        .header("stripe-signature", signature(&updated, CONNECT_SECRET))
        .body(updated)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Stripe took the payments the script will report, so it can refund them.
    for n in 1..=2 {
        stripe.add_payment_intent(&format!("pi_{contract}_{n}"), rupees * 100);
    }

    let fund = |n: usize| {
        Node::Step(Step::Fund {
            event: format!("evt_{contract}_{n}"),
            intent: format!("pi_{contract}_{n}"),
        })
    };
    // Stripe may deliver one event several times at once.
    let deliveries = |n: usize, copies: usize| Node::Par((0..copies).map(|_| fund(n)).collect());
    let status = |s| Node::Step(Step::Status(s));
    let short_path = rng.random_bool(0.5);
    let release_path = |rng: &mut StdRng| {
        Node::Seq(vec![
            status("Completed"),
            Node::Par(vec![
                Node::Step(Step::RequestRelease { short_path }),
                Node::Step(Step::RequestRelease {
                    short_path: !short_path,
                }),
            ]),
            // One admin, or two clicking at once.
            Node::Par(
                (0..rng.random_range(1..=2))
                    .map(|_| Node::Step(Step::Release))
                    .collect(),
            ),
        ])
    };
    let (mut payments, funding) = match rng.random_range(0..4) {
        // A second payment for the same contract, at the same time as the first.
        0 => (2, Node::Par(vec![deliveries(1, 2), deliveries(2, 1)])),
        _ => (1, deliveries(1, rng.random_range(1..=3))),
    };
    let refund = |rng: &mut StdRng| {
        Node::Par(
            (0..rng.random_range(1..=2))
                .map(|_| {
                    Node::Step(Step::Refund {
                        by_client: rng.random_bool(0.5),
                    })
                })
                .collect(),
        )
    };
    let mut refund_answer = None;
    let (script, end) = match rng.random_range(0..6) {
        5 => {
            // Stripe answers the refund `pending` (the bank then settles it, and Stripe says so
            // once or twice at once) or `failed`; a failed refund is sent again by an operator.
            payments = 1;
            let funding = deliveries(1, rng.random_range(1..=3));
            let first = if rng.random_bool(0.5) {
                "pending"
            } else {
                "failed"
            };
            stripe.answer_refunds_of(&format!("pi_{contract}_1"), [first]);
            refund_answer = Some(first);
            let mut steps = vec![funding, status("Started"), refund(rng)];
            let retried = match first {
                "pending" => {
                    let succeeded = rng.random_bool(0.5);
                    steps.push(Node::Par(
                        (0..rng.random_range(1..=2))
                            .map(|_| Node::Step(Step::RefundUpdated { succeeded }))
                            .collect(),
                    ));
                    !succeeded
                }
                _ => true,
            };
            if retried {
                steps.push(Node::Step(Step::RetryRefund));
            }
            (Node::Seq(steps), End::RefundOutcome { retried })
        }
        4 => {
            // The card holder's bank takes the payment back: created, then lost (each event
            // delivered once or twice at once), before or after the release.
            let after_release = rng.random_bool(0.5);
            // One payment, so the chargeback names the payment the escrow holds.
            payments = 1;
            let funding = deliveries(1, rng.random_range(1..=3));
            let mut steps = vec![funding, status("Started"), status("Ongoing")];
            if after_release {
                steps.push(release_path(rng));
            }
            for (n, kind, st) in [(1, "created", "needs_response"), (2, "closed", "lost")] {
                let step = Step::Chargeback {
                    event: format!("evt_{contract}_dp{n}"),
                    kind,
                    status: st,
                };
                steps.push(Node::Par(
                    (0..rng.random_range(1..=2))
                        .map(|_| Node::Step(step.clone()))
                        .collect(),
                ));
            }
            (Node::Seq(steps), End::ChargedBack { after_release })
        }
        3 => {
            // Disputed (by one click or two at once) while the work goes on or once it is
            // completed, answered, and resolved by one admin or two clicking at once.
            let mut steps = vec![funding, status("Started"), status("Ongoing")];
            if rng.random_bool(0.5) {
                steps.push(status("Completed"));
            }
            let earning = rupees * 100 - rupees * 10;
            let freelancer = rng.random_range(0..earning / 100) * 100;
            let client = earning - freelancer;
            steps.push(Node::Par(
                (0..rng.random_range(1..=2))
                    .map(|_| Node::Step(Step::Dispute))
                    .collect(),
            ));
            steps.push(Node::Step(Step::Respond));
            steps.push(Node::Par(
                (0..rng.random_range(1..=2))
                    .map(|_| Node::Step(Step::Resolve { client, freelancer }))
                    .collect(),
            ));
            (Node::Seq(steps), End::Resolved { client })
        }
        0 => (
            Node::Seq(vec![
                funding,
                status("Started"),
                status("Ongoing"),
                release_path(rng),
            ]),
            End::Released,
        ),
        1 => {
            let mut steps = vec![funding];
            for s in ["Started", "Ongoing"]
                .into_iter()
                .take(rng.random_range(0..=2))
            {
                steps.push(status(s));
            }
            steps.push(refund(rng));
            (Node::Seq(steps), End::Refunded)
        }
        _ => (
            Node::Seq(vec![
                funding,
                status("Started"),
                status("Ongoing"),
                // The work is finished and released while the client asks for a refund.
                Node::Par(vec![release_path(rng), refund(rng)]),
            ]),
            End::OneOf,
        ),
    };
    // A late redelivery of the first event, after everything else.
    let script = if rng.random_bool(0.3) {
        Node::Seq(vec![script, fund(1)])
    } else {
        script
    };
    // Then the freelancer withdraws what the wallet holds (clicking once or twice).
    let payouts = Node::Par(
        (0..rng.random_range(1..=2))
            .map(|_| Node::Step(Step::Payout))
            .collect(),
    );
    let script = Node::Seq(vec![script, payouts]);
    Deal {
        client,
        client_token,
        freelancer,
        freelancer_token,
        contract,
        amount: rupees * 100,
        script,
        end,
        payments,
        account,
        refund_answer,
    }
}

struct Ctx {
    http: reqwest::Client,
    stripe: fake_stripe::FakeStripe,
    /// Where the server keeps its store, and its environment: what `escrowctl` needs.
    cli: Arc<(std::path::PathBuf, Vec<(String, String)>)>,
    live: Arc<Live>,
    admin: Arc<String>,
    deals: Arc<Vec<Deal>>,
    answers: Arc<Mutex<Vec<Answer>>>,
}

impl Ctx {
    fn exec(&self, deal: usize, node: Node) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            match node {
                Node::Step(step) => {
                    let (status, body) = self.until_definite(deal, &step).await;
                    self.answers.lock().unwrap().push(Answer {
                        deal,
                        step,
                        status,
                        body,
                    });
                }
                Node::Seq(nodes) => {
                    for n in nodes {
                        self.exec(deal, n).await;
                    }
                }
                Node::Par(nodes) => {
                    futures_util::future::join_all(nodes.into_iter().map(|n| self.exec(deal, n)))
                        .await;
                }
            }
        })
    }

    /// Sends the step until it gets a definite answer: a 200 for a webhook (Stripe retries
    /// anything else), a 2xx or 4xx for the rest. A connection error, a 5xx, a 408 or a busy
    /// 409 is no answer: the request may or may not have happened.
    async fn until_definite(&self, deal: usize, step: &Step) -> (u16, Value) {
        let started = Instant::now();
        let d = &self.deals[deal];
        if matches!(step, Step::RetryRefund) {
            return self.retry_refund(d).await;
        }
        // A retrying client backs off: 10 ms, doubling up to 160 ms.
        let mut backoff = Duration::from_millis(10);
        // And sends every try of one step with the same Idempotency-Key (Stripe's webhooks
        // carry none: their event id is theirs).
        let key = hex::encode(rand::random::<[u8; 12]>());
        loop {
            let base = self.live.base.read().unwrap().clone();
            self.live.requests.fetch_add(1, Ordering::Relaxed);
            let request = match step {
                Step::Fund { event, intent } => {
                    let body = payment_event(event, &d.contract, d.amount, intent);
                    self.webhook(&base, body)
                }
                Step::Status(s) => self
                    .http
                    .put(format!(
                        "{base}/api/freelancer/contract/update-status/{}",
                        d.contract
                    ))
                    .bearer_auth(&d.freelancer_token)
                    .json(&json!({ "status": s })),
                Step::RequestRelease { short_path } => {
                    let path = if *short_path {
                        "/api/client/release-fund/"
                    } else {
                        "/api/client/contract/release-fund/"
                    };
                    self.http
                        .patch(format!("{base}{path}{}", d.contract))
                        .bearer_auth(&d.client_token)
                }
                Step::Release => self
                    .http
                    .put(format!(
                        "{base}/api/admin/escrow/release-fund/{}",
                        d.contract
                    ))
                    .bearer_auth(self.admin.as_str()),
                Step::Refund { by_client } => self
                    .http
                    .put(format!(
                        "{base}/api/admin/escrow/refund-client/{}/{}",
                        d.contract, d.client
                    ))
                    .bearer_auth(if *by_client {
                        &d.client_token
                    } else {
                        self.admin.as_str()
                    })
                    .json(&json!({"cancelReason": "crash test", "cancelReasonDescription": "refund under fire"})),
                Step::Chargeback {
                    event,
                    kind,
                    status,
                } => {
                    let body = crate::support::stripe::charge_dispute(
                        event,
                        kind,
                        &format!("dp_{}", d.contract),
                        &format!("ch_{}", d.contract),
                        Some(&format!("pi_{}_1", d.contract)),
                        d.amount,
                        status,
                    );
                    self.webhook(&base, body)
                }
                Step::Dispute => self
                    .http
                    .post(format!(
                        "{base}/api/client/contract/dispute/{}",
                        d.contract
                    ))
                    .bearer_auth(&d.client_token)
                    .json(&json!({"reason": "crash test", "description": "disputed under fire"})),
                Step::Respond => self
                    .http
                    .post(format!(
                        "{base}/api/freelancer/contract/dispute/{}/respond",
                        d.contract
                    ))
                    .bearer_auth(&d.freelancer_token)
                    .json(&json!({"description": "delivered as agreed"})),
                Step::Resolve { client, freelancer } => self
                    .http
                    .put(format!(
                        "{base}/api/admin/escrow/resolve-dispute/{}",
                        d.contract
                    ))
                    .bearer_auth(self.admin.as_str())
                    .json(&json!({
                        "clientShare": format!("{}.{:02}", client / 100, client % 100),
                        "freelancerShare": format!("{}.{:02}", freelancer / 100, freelancer % 100),
                    })),
                Step::RefundUpdated { succeeded } => {
                    let pi = format!("pi_{}_1", d.contract);
                    let refund = self
                        .stripe
                        .refunds()
                        .into_iter()
                        .rfind(|r| r["payment_intent"] == pi.as_str())
                        .unwrap_or_else(|| panic!("no refund of {pi} at Stripe"));
                    let id = refund["id"].as_str().unwrap().to_string();
                    let status = if *succeeded { "succeeded" } else { "failed" };
                    self.stripe.finish_refund(&id, status);
                    let body = crate::support::stripe::refund_event(
                        &format!("evt_{}_re", d.contract),
                        if *succeeded {
                            "refund.updated"
                        } else {
                            "refund.failed"
                        },
                        &id,
                        &pi,
                        refund["amount"].as_i64().unwrap(),
                        status,
                    );
                    self.webhook(&base, body)
                }
                Step::RetryRefund => unreachable!("run as a process above"),
                Step::Payout => self
                    .http
                    .post(format!("{base}/api/freelancer/payouts"))
                    .bearer_auth(&d.freelancer_token),
            };
            let request = match step {
                Step::Fund { .. } | Step::Chargeback { .. } | Step::RefundUpdated { .. } => request,
                _ => request.header("idempotency-key", &key),
            };
            let sent = request.send().await;
            if let Err(e) = &sent
                && e.is_connect()
            {
                self.live.refused.fetch_add(1, Ordering::Relaxed);
            } else {
                self.live.unanswered.fetch_add(1, Ordering::Relaxed);
            }
            if let Ok(r) = sent {
                let status = r.status().as_u16();
                // A body cut off by the kill is no answer either.
                if let Ok(text) = r.text().await {
                    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let code = body["code"].as_str().unwrap_or("");
                    let definite = match step {
                        Step::Fund { .. }
                        | Step::Chargeback { .. }
                        | Step::RefundUpdated { .. } => {
                            assert!(
                                status == 200 || status >= 500 || status == 408,
                                "a correctly signed webhook was refused with {status}: {text}"
                            );
                            status == 200
                        }
                        _ => {
                            (200..500).contains(&status)
                                && status != 408
                                && status != 429
                                && code != "conflict.busy"
                                // An earlier try, killed, still holds the key: its lease
                                // runs out, then this retry runs.
                                && code != "idempotency.in_flight"
                        }
                    };
                    if definite {
                        self.live.unanswered.fetch_sub(1, Ordering::Relaxed);
                        return (status, body);
                    }
                }
            }
            assert!(
                started.elapsed() < DEFINITE_ANSWER_WITHIN,
                "no definite answer to {step:?} on contract {} within {DEFINITE_ANSWER_WITHIN:?}",
                d.contract
            );
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(160));
        }
    }
}

impl Ctx {
    /// A delivery of `body` to the server's webhook, signed now as Stripe signs.
    fn webhook(&self, base: &str, body: String) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{base}/webhook"))
            .header("content-type", "application/json")
            .header("stripe-signature", signature(&body, WEBHOOK_SECRET))
            .body(body)
    }

    /// `escrowctl --json refunds retry ID --yes` until it succeeds (the process is never
    /// killed, so its answer is definite; a store busy with a restarting server is tried
    /// again).
    async fn retry_refund(&self, d: &Deal) -> (u16, Value) {
        let started = Instant::now();
        loop {
            let (dir, env) = (self.cli.0.clone(), self.cli.1.clone());
            let contract = d.contract.clone();
            let out = tokio::task::spawn_blocking(move || {
                let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_escrowctl"));
                crate::support::env::scrub(&mut cmd);
                cmd.current_dir(&dir)
                    .stdin(std::process::Stdio::null())
                    .env("ESCROW_DATA_DIR", &dir)
                    .args(["--json", "refunds", "retry", &contract, "--yes"]);
                for (k, v) in &env {
                    cmd.env(k, v);
                }
                cmd.output().expect("run escrowctl")
            })
            .await
            .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            if out.status.success() {
                return (200, serde_json::from_str(&stdout).unwrap_or(Value::Null));
            }
            assert!(
                started.elapsed() < DEFINITE_ANSWER_WITHIN,
                "escrowctl refunds retry {} never succeeded: {stdout}\n{}",
                d.contract,
                String::from_utf8_lossy(&out.stderr)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Checks the final state against every answer; returns how many acknowledged writes it
/// checked.
#[allow(clippy::too_many_arguments)]
async fn check(
    http: &reqwest::Client,
    base: &str,
    admin: &str,
    deals: &[Deal],
    answers: &[Answer],
    server: &Server,
    stripe: &fake_stripe::FakeStripe,
    wallet_recovery: bool,
) -> (u64, u64) {
    let mut acknowledged = 0;
    let mut recovered_total = 0;
    let mut by_deal: BTreeMap<usize, Vec<&Answer>> = BTreeMap::new();
    for a in answers {
        by_deal.entry(a.deal).or_default().push(a);
    }
    let get = |url: String| {
        let http = http.clone();
        async move {
            let r = http.get(url).bearer_auth(admin).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    for (i, d) in deals.iter().enumerate() {
        // A refund cut off between its decision and the provider call is finished by the
        // recovery step at the next start; give it a moment.
        let started = Instant::now();
        let detail = loop {
            let v = get(format!("{base}/api/contracts/{}", d.contract)).await;
            let pending_extra = v["escrow"]["extraPayments"]
                .as_array()
                .is_some_and(|x| x.iter().any(|p| p["refundId"].is_null()));
            if (v["escrow"]["status"] != "refund_pending" && !pending_extra)
                || started.elapsed() > Duration::from_secs(20)
            {
                break v;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let what = format!("contract {} ({:?})\n{detail:#}", d.contract, d.end);
        let contract = &detail["contract"];
        let escrow = &detail["escrow"];
        let ledger = detail["ledger"].as_array().cloned().unwrap_or_default();
        let transfers = |kind: &str| {
            ledger
                .iter()
                .filter(|e| e["kind"] == kind)
                .map(|e| e["transferId"].as_str().unwrap_or("").to_string())
                .collect::<BTreeSet<_>>()
                .len()
        };
        let mine: Vec<&Answer> = by_deal.get(&i).cloned().unwrap_or_default();
        let acked = |name: &'static str| {
            mine.iter()
                .filter(move |a| a.step.name() == name && a.status < 300)
        };

        // Funded exactly once, with one of the payments that were acknowledged.
        assert!(escrow.is_object(), "never funded: {what}");
        assert_eq!(
            transfers("fund"),
            1,
            "funded {} times: {what}",
            transfers("fund")
        );
        assert_eq!(minor(&escrow["amount"]), d.amount, "{what}");
        let funding_events: BTreeSet<String> = acked("fund")
            .map(|a| match &a.step {
                Step::Fund { event, .. } => event.clone(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            funding_events.len(),
            d.payments,
            "every payment event is acknowledged in the end: {what}"
        );
        assert!(
            funding_events.contains(escrow["fundingEventId"].as_str().unwrap_or("")),
            "{what}"
        );
        for a in acked("fund") {
            assert_ne!(a.body["outcome"], "failed", "{what}");
        }
        acknowledged += acked("fund").count() as u64;
        // Every other payment is kept aside and refunded in full, once.
        let extra = escrow["extraPayments"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(extra.len(), d.payments - 1, "{what}");
        for p in &extra {
            assert!(
                funding_events.contains(p["eventId"].as_str().unwrap_or("")),
                "{what}"
            );
            assert!(
                p["refundId"].is_string(),
                "a second payment was not refunded: {what}"
            );
        }
        assert_eq!(transfers("duplicate_payment"), d.payments - 1, "{what}");
        assert_eq!(
            transfers("duplicate_payment_refunded"),
            d.payments - 1,
            "{what}"
        );

        // Released or refunded at most once, never both, and as the script leads.
        let (released, refunded) = (transfers("release"), transfers("refund"));
        assert!(released <= 1 && refunded <= 1, "moved twice: {what}");
        let charged_back_held = d.end
            == End::ChargedBack {
                after_release: false,
            };
        assert!(
            released + refunded == usize::from(!charged_back_held),
            "released and refunded, or neither: {what}"
        );
        let status = escrow["status"].as_str().unwrap_or("");
        match d.end {
            End::ChargedBack { after_release } => {
                let cb = &contract["disputes"][0]["chargeback"];
                assert_eq!(
                    contract["disputes"].as_array().map(Vec::len),
                    Some(1),
                    "one chargeback, however often its events came: {what}"
                );
                assert_eq!(cb["closed"], json!(true), "{what}");
                if after_release {
                    assert_eq!(status, "released", "{what}");
                    assert_eq!(transfers("chargeback_loss"), 1, "{what}");
                    assert_eq!(transfers("chargeback"), 0, "{what}");
                    assert_eq!(minor(&cb["platformLoss"]), d.amount, "{what}");
                    // With wallet recovery the release's earning (all the wallet held before
                    // the payouts) is taken back, exactly once, whichever path finished it; a
                    // kill between the loss and the recovery leaves it to the lost event's
                    // redelivery or to its timer (due a debit grace later).
                    let earning = minor(&escrow["freelancerEarning"]);
                    let want = if wallet_recovery { earning } else { 0 };
                    let started = Instant::now();
                    let recovered = loop {
                        let v = get(format!("{base}/api/contracts/{}", d.contract)).await;
                        let got = minor(
                            &v["contract"]["disputes"][0]["chargeback"]["recoveredFromWallet"],
                        );
                        if got == want || started.elapsed() > Duration::from_secs(40) {
                            break got;
                        }
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    };
                    assert_eq!(recovered, want, "recovered from the wallet: {what}");
                } else {
                    assert_eq!(status, "charged_back", "{what}");
                    assert_eq!(transfers("chargeback"), 1, "{what}");
                    assert_eq!(transfers("chargeback_loss"), 0, "{what}");
                    assert_eq!(minor(&cb["takenFromEscrow"]), d.amount, "{what}");
                }
                acknowledged += acked("chargeback").count() as u64;
            }
            End::Released => assert_eq!(status, "released", "{what}"),
            End::Refunded => assert_eq!(status, "refunded", "{what}"),
            End::RefundOutcome { retried } => {
                assert_eq!(status, "refunded", "{what}");
                let refund = &escrow["refund"];
                assert_eq!(refund["retries"], json!(u32::from(retried)), "{what}");
                // At Stripe: the client's share sent once; a failed try gave its money back.
                let pi = format!("pi_{}_1", d.contract);
                let at_stripe: Vec<Value> = stripe
                    .refunds()
                    .into_iter()
                    .filter(|r| r["payment_intent"] == pi.as_str())
                    .collect();
                let sent: Vec<&Value> = at_stripe
                    .iter()
                    .filter(|r| r["status"] != "failed")
                    .collect();
                assert_eq!(sent.len(), 1, "{what}\n{at_stripe:#?}");
                assert_eq!(
                    sent[0]["amount"].as_i64(),
                    Some(minor(&refund["clientShare"])),
                    "{what}"
                );
                assert_eq!(refund["providerRefundId"], sent[0]["id"], "{what}");
                assert_eq!(
                    at_stripe.len(),
                    1 + usize::from(retried),
                    "{what}\n{at_stripe:#?}"
                );
                acknowledged +=
                    (acked("refund_updated").count() + acked("retry_refund").count()) as u64;
            }
            End::OneOf => assert!(status == "released" || status == "refunded", "{what}"),
            End::Resolved { client } => {
                assert_eq!(status, "refunded", "{what}");
                assert_eq!(minor(&escrow["refund"]["clientShare"]), client, "{what}");
                let dispute = &contract["disputes"][0];
                assert_eq!(dispute["status"], "resolved", "{what}");
                assert_eq!(
                    contract["disputes"].as_array().map(Vec::len),
                    Some(1),
                    "one dispute, however many clicks: {what}"
                );
                // Each acknowledged step is there: the dispute, the answer, the resolution.
                assert!(acked("dispute").count() >= 1, "{what}");
                assert_eq!(acked("respond").count(), 1, "{what}");
                assert_eq!(
                    dispute["responses"].as_array().map(Vec::len),
                    Some(1),
                    "an acknowledged answer was lost, or one answer kept twice: {what}"
                );
                assert!(acked("resolve").count() > 0, "{what}");
                acknowledged += (acked("dispute").count()
                    + acked("respond").count()
                    + acked("resolve").count()) as u64;
            }
        }
        assert_eq!(transfers("refund_settled"), refunded, "{what}");
        let release_acks = acked("release").count();
        let refund_acks = acked("refund").count();
        assert!(
            release_acks == 0 || refund_acks == 0,
            "a release and a refund were both acknowledged: {what}"
        );
        // The request that moved the money is answered as having moved it, however many of
        // its tries a kill cut off, the one that moved it included: its retry is recognised
        // (the contract keeps the request's tag in the same write as the move), not refused
        // as "already released".
        match status {
            "released" => assert!(
                release_acks > 0,
                "the release happened but every release request was refused: {what}"
            ),
            "refunded" => assert!(
                refund_acks > 0 || acked("resolve").count() > 0,
                "the refund happened but every refund request was refused: {what}"
            ),
            _ => {}
        }
        if release_acks > 0 {
            assert_eq!(
                status, "released",
                "an acknowledged release was lost: {what}"
            );
        }
        if refund_acks > 0 {
            assert_eq!(
                status, "refunded",
                "an acknowledged refund was lost: {what}"
            );
        }
        acknowledged += (release_acks + refund_acks) as u64;
        if acked("request_release").count() > 0 {
            assert!(
                contract["releaseFundStatus"] == "Requested"
                    || contract["releaseFundStatus"] == "Approved",
                "an acknowledged release request was lost: {what}"
            );
            acknowledged += acked("request_release").count() as u64;
        }
        let history: BTreeSet<&str> = contract["statusHistory"]
            .as_array()
            .map(|h| h.iter().filter_map(|s| s["status"].as_str()).collect())
            .unwrap_or_default();
        for a in acked("status") {
            if let Step::Status(s) = a.step {
                assert!(
                    history.contains(s),
                    "an acknowledged move to {s} was lost: {what}"
                );
                acknowledged += 1;
            }
        }

        // What the one release or refund gave the freelancer is paid out or in the wallet:
        // once the payouts a kill left between the wallet debit and the transfer are sent by
        // the maintenance task (and, on MongoDB, a debit cut off between its steps is finished
        // after its grace period), none is in flight.
        let given = match status {
            "released" => minor(&escrow["freelancerEarning"]),
            "charged_back" => 0,
            _ => minor(&escrow["refund"]["freelancerShare"]),
        };
        let started = Instant::now();
        let payouts = loop {
            let r = http
                .get(format!("{base}/api/freelancer/payouts?limit=1000"))
                .bearer_auth(&d.freelancer_token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            let list = v["data"].as_array().cloned().unwrap_or_default();
            let in_flight = list
                .iter()
                .any(|p| p["status"] == "pending" || p["status"] == "requested");
            if !in_flight {
                break list;
            }
            assert!(
                started.elapsed() < Duration::from_secs(150),
                "payouts still in flight: {what}\n{v:#}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let wallet = get(format!("{base}/api/admin/wallet/{}", d.freelancer)).await;
        let paid: Vec<&Value> = payouts.iter().filter(|p| p["status"] == "paid").collect();
        let paid_sum: i64 = paid.iter().map(|p| minor(&p["amount"])).sum();
        // A chargeback's recovery is in the list too (the money left the wallet), but nothing
        // was sent to Stripe for it.
        let recoveries: Vec<&Value> = paid
            .iter()
            .copied()
            .filter(|p| p["chargeback"].is_string())
            .collect();
        assert!(
            recoveries.len() <= 1,
            "recovered twice: {what}\n{payouts:#?}"
        );
        for r in &recoveries {
            assert_eq!(r["destination"], "platform:chargebacks", "{what}");
        }
        recovered_total += recoveries.len() as u64;
        let paid: Vec<&Value> = paid
            .into_iter()
            .filter(|p| p["chargeback"].is_null())
            .collect();
        assert_eq!(
            minor(&wallet["balance"]) + paid_sum,
            given,
            "paid out and kept add up to what was given: {what}\n{wallet}\n{payouts:#?}"
        );
        let payout_acks = acked("payout").count();
        if payout_acks > 0 && given > 0 {
            assert_eq!(
                minor(&wallet["balance"]),
                0,
                "an acknowledged payout left money behind: {what}\n{payouts:#?}"
            );
        }
        acknowledged += payout_acks as u64;
        // Each paid payout has exactly one transfer at Stripe, of its amount; nothing else was
        // sent to this freelancer's account.
        let transfers: Vec<Value> = stripe
            .transfers()
            .into_iter()
            .filter(|t| t["destination"] == d.account.as_str())
            .collect();
        assert_eq!(
            transfers.len(),
            paid.len(),
            "{what}\n{transfers:#?}\n{payouts:#?}"
        );
        for p in &paid {
            let mine: Vec<&Value> = transfers
                .iter()
                .filter(|t| t["transfer_group"] == p["id"])
                .collect();
            assert_eq!(mine.len(), 1, "{what}\n{transfers:#?}");
            assert_eq!(mine[0]["amount"].as_i64(), Some(minor(&p["amount"])));
            assert_eq!(mine[0]["id"], p["transferId"]);
        }
    }
    assert!(
        !server.log().contains("panicked"),
        "the server panicked:\n{}",
        server.log()
    );
    (acknowledged, recovered_total)
}

/// From the server's log: payouts paid, and those paid by the maintenance task (a request that
/// debited the wallet was cut off before its transfer's answer was recorded).
fn payout_counts(log: &str) -> (u64, u64) {
    // The log's fields are coloured: drop the escape sequences first.
    let mut plain = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    let log = plain.as_str();
    let paid = log.matches("payout paid").count() as u64;
    let resent = log
        .lines()
        .filter(|l| l.contains("recovery: payout transfers"))
        .filter_map(|l| {
            l.split("done=")
                .nth(1)?
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    (paid, resent)
}
