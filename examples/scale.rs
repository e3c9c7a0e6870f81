//! How the reads grow with the store: fills a store through the library's own use cases (the
//! server's write path: create, approve, a signed payment webhook, the work statuses, request
//! and release) to each size in turn, then times every read an admin dashboard polls and
//! `verify`. A fake clock moves 30 s per contract, so a large store spans many months.
//!
//! ```sh
//! cargo run --release --example scale -- --sizes 10000,100000
//! cargo run --release --example scale -- --sizes 10000 --database-url mongodb://127.0.0.1:27017/?directConnection=true
//! ```
//!
//! Prints a Markdown table (median and p90 of `--repeat` runs, milliseconds) for BENCHMARKS.md.
//! Every third contract stays funded (held), the others are released; one freelancer in ten
//! contracts is the busiest, whose wallet page is timed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Instant;

use clap::Parser;
use escrow::auth::{Principal, Role};
use escrow::config::{Config, Sources};
use escrow::domain::{ContractStatus, Currency, JobId, Money, UserId};
use escrow::service::contracts::NewContract;
use escrow::service::escrow::Release;
use escrow::service::reports::SalesRange;
use escrow::service::{Caller, Clock, ErrorCode, Service, UseCase};
use escrow::store::{ContractFilter, Cursor, Page};

const WEBHOOK_SECRET: &str = "whsec_scale";
/// 2024-01-01T00:00:00Z.
const START_MS: i64 = 1_704_067_200_000;
const STEP_MS: i64 = 30_000;

#[derive(Parser, Debug)]
#[command(about = "Fill a store to growing sizes and time the reads")]
struct Args {
    /// Sizes (contracts) to measure at, growing; the store is filled up to each in turn.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    sizes: Vec<usize>,
    /// The store (default: a fresh embedded SQLite file in a temporary directory).
    #[arg(long)]
    database_url: Option<String>,
    /// Contracts filled at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Runs of each read (median and p90 reported).
    #[arg(long, default_value_t = 15)]
    repeat: usize,
}

/// 30 s per contract started: every use case of one contract happens at about its time.
struct SteppedClock(AtomicI64);

impl Clock for SteppedClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

fn user(role: Role, id: &UserId) -> Caller {
    Caller::User(Principal {
        id: id.clone(),
        role,
    })
}

struct Fill {
    service: Arc<Service>,
    clock: Arc<SteppedClock>,
    admin: Caller,
    busiest: UserId,
    next: AtomicUsize,
}

impl Fill {
    /// One contract through its life; `i` decides whether it is released.
    async fn contract(&self, i: usize) {
        self.clock.0.fetch_add(STEP_MS, Ordering::Relaxed);
        let s = &self.service;
        let client = UserId::generate();
        let freelancer = if i.is_multiple_of(10) {
            self.busiest.clone()
        } else {
            UserId::generate()
        };
        let amount = 10_000 + (i as i64 % 97) * 100;
        let as_client = user(Role::Client, &client);
        let as_freelancer = user(Role::Freelancer, &freelancer);
        let new = NewContract {
            milestones: None,
            job: JobId::generate(),
            freelancer: freelancer.clone(),
            amount: Money::new(escrow::domain::MinorUnits::new(amount), Currency::Inr),
            title: None,
        };
        let permit = s.permit(&as_client, UseCase::CreateContract).unwrap();
        let c = s.create_contract(permit, new).await.expect("create");
        let permit = s.permit(&as_freelancer, UseCase::ApproveContract).unwrap();
        s.approve_contract(permit, &c.id).await.expect("approve");
        let body = payment_event(&c.id.to_string(), &client, &freelancer, amount);
        // Signed at the clock's time; other contracts may move the clock past the signature's
        // 300 s tolerance before it is checked: then it is signed again, as Stripe retries.
        for attempt in 0.. {
            let header = escrow::payment::webhook::sign(
                body.as_bytes(),
                WEBHOOK_SECRET,
                self.clock.now_ms() / 1000,
            );
            match s.handle_webhook(body.as_bytes(), Some(&header)).await {
                Ok(_) => break,
                Err(e) if e.code == ErrorCode::WebhookTimestampOutOfTolerance && attempt < 100 => {}
                Err(e) => panic!("webhook: {e:?}"),
            }
        }
        if i.is_multiple_of(3) {
            return;
        }
        for to in [
            ContractStatus::Started,
            ContractStatus::Ongoing,
            ContractStatus::Completed,
        ] {
            let permit = s.permit(&as_freelancer, UseCase::UpdateStatus).unwrap();
            s.update_status(permit, &c.id, to).await.expect("status");
        }
        let permit = s.permit(&as_client, UseCase::RequestRelease).unwrap();
        s.request_release(permit, &c.id, None)
            .await
            .expect("request");
        let permit = s.permit(&self.admin, UseCase::Release).unwrap();
        let release = Release {
            milestone: None,
            contract: c.id.clone(),
            force: None,
        };
        s.release(permit, &release).await.expect("release");
    }
}

fn payment_event(contract: &str, client: &UserId, freelancer: &UserId, amount: i64) -> String {
    serde_json::json!({
        "id": format!("evt_scale_{contract}"), "object": "event", "created": 1, "livemode": false,
        "pending_webhooks": 1, "type": "payment_intent.succeeded",
        "data": {"object": {
            "id": format!("pi_scale_{contract}"), "object": "payment_intent", "amount": amount,
            "amount_received": amount, "currency": "inr", "status": "succeeded", "livemode": false,
            "created": 1, "capture_method": "automatic", "confirmation_method": "automatic",
            "payment_method_types": ["card"],
            "metadata": {"contractId": contract, "clientId": client.as_str(), "freelancerId": freelancer.as_str()}
        }}
    })
    .to_string()
}

/// Median and p90 of `runs` timings of `f`, in milliseconds.
async fn time<F: AsyncFnMut()>(runs: usize, mut f: F) -> (f64, f64) {
    let mut ms = Vec::with_capacity(runs);
    f().await; // warm the cache
    for _ in 0..runs {
        let t = Instant::now();
        f().await;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    (ms[ms.len() / 2], ms[(ms.len() * 9 / 10).min(ms.len() - 1)])
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut values: HashMap<String, String> = [
        ("ESCROW_DATA_DIR", dir.path().to_string_lossy().to_string()),
        ("JWT_SECRET", "scale-jwt-secret".to_string()),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(url) = &args.database_url {
        values.insert("ESCROW_DATABASE_URL".into(), url.clone());
    }
    let config = Config::from_sources(&Sources::from_map(values)).expect("config");
    let parts = escrow::startup::parts(&config, "http://127.0.0.1:9")
        .await
        .expect("store");
    let clock = Arc::new(SteppedClock(AtomicI64::new(START_MS)));
    let service = Arc::new(Service::new(
        parts,
        escrow::startup::settings(&config).expect("settings"),
        clock.clone(),
        Arc::new(escrow::metrics::Metrics::new()),
    ));
    // The server's maintenance task runs beside the fill, as in the server (on MongoDB it
    // folds new entries into the kept balances; on SQLite they are kept as written).
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let maintenance = tokio::spawn(escrow::service::maintenance::run(
        service.clone(),
        std::time::Duration::from_secs(escrow::service::maintenance::MAINTENANCE_INTERVAL_S),
        async move {
            let _ = stopped.await;
        },
    ));
    let fill = Arc::new(Fill {
        service: service.clone(),
        clock,
        admin: user(Role::Admin, &UserId::generate()),
        busiest: UserId::generate(),
        next: AtomicUsize::new(0),
    });
    let store = match &args.database_url {
        Some(url) if url.starts_with("mongodb") => format!(
            "{} (the nx-27017 emulator when run here)",
            url.split('?').next().unwrap_or(url)
        ),
        Some(url) => url.clone(),
        None => "embedded SQLite".into(),
    };
    println!(
        "Store: {store}; {} runs per read, median / p90 ms.\n",
        args.repeat
    );
    println!(
        "| contracts | fill s | balance | revenue | sales report | transactions, first page | transactions, last page | transactions, last page by cursor | wallet (busiest) | verify |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let operator = Caller::operator("scale");
    let mut filled = 0usize;
    for &size in &args.sizes {
        let t = Instant::now();
        let tasks: Vec<_> = (0..args.concurrency)
            .map(|_| {
                let fill = fill.clone();
                tokio::spawn(async move {
                    loop {
                        let i = fill.next.fetch_add(1, Ordering::Relaxed);
                        if i >= size {
                            fill.next.fetch_sub(1, Ordering::Relaxed);
                            return;
                        }
                        fill.contract(i).await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("fill task");
        }
        // Whatever the maintenance task has not folded yet, so the store is at rest.
        while service.fold_kept().await.expect("fold") > 0 {}
        let fill_s = t.elapsed().as_secs_f64();
        filled = filled.max(size);
        let s = &service;
        let reports = || s.permit(&operator, UseCase::Reports).unwrap();
        let balance = time(args.repeat, async || {
            s.balance(reports()).await.unwrap();
        })
        .await;
        let revenue = time(args.repeat, async || {
            s.revenue(reports()).await.unwrap();
        })
        .await;
        let sales = time(args.repeat, async || {
            s.sales(reports(), SalesRange::default()).await.unwrap();
        })
        .await;
        // The first numbered page, with its count: what the original's clients ask.
        let first = time(args.repeat, async || {
            let p = s
                .escrows(reports(), &ContractFilter::default(), Page::new(1, 20))
                .await
                .unwrap();
            assert!(p.count.is_some());
        })
        .await;
        let last = (filled as u64).div_ceil(20).max(1) as u32;
        let transactions = time(args.repeat, async || {
            s.escrows(reports(), &ContractFilter::default(), Page::new(last, 20))
                .await
                .unwrap();
        })
        .await;
        // The same last page by keyset: the cursor of the row just before it, found once by
        // walking the list (not timed).
        let mut page = Page::after(None, Page::LIMIT_MAX);
        let mut cursors = vec![];
        loop {
            let p = s
                .escrows(reports(), &ContractFilter::default(), page.clone())
                .await
                .unwrap();
            cursors.extend(p.contracts.iter().map(Cursor::of_contract));
            match p.next {
                Some(next) => page = Page::after(Some(next), page.limit),
                None => break,
            }
        }
        let before_last = cursors.len().checked_sub(21).map(|i| cursors[i].clone());
        let by_cursor = time(args.repeat, async || {
            let p = s
                .escrows(
                    reports(),
                    &ContractFilter::default(),
                    Page::after(before_last.clone(), 20),
                )
                .await
                .unwrap();
            assert!(p.contracts.len() <= 20);
        })
        .await;
        let busiest = user(Role::Freelancer, &fill.busiest);
        let wallet = time(args.repeat, async || {
            let permit = s
                .permit(
                    &busiest,
                    UseCase::ViewWallet {
                        owner: &fill.busiest,
                    },
                )
                .unwrap();
            s.wallet(permit, Page::new(1, 20)).await.unwrap();
        })
        .await;
        let t = Instant::now();
        let permit = s.permit(&operator, UseCase::Operate).unwrap();
        let report = s.verify(permit, |_| {}).await.unwrap();
        assert!(report.ok(), "{:?}", report.violations);
        let verify = t.elapsed().as_secs_f64() * 1000.0;
        let f = |(m, p): (f64, f64)| format!("{m:.2} / {p:.2}");
        println!(
            "| {filled} | {fill_s:.0} | {} | {} | {} | {} | {} | {} | {} | {verify:.0} |",
            f(balance),
            f(revenue),
            f(sales),
            f(first),
            f(transactions),
            f(by_cursor),
            f(wallet),
        );
    }
    let _ = stop.send(());
    maintenance.await.expect("maintenance task");
}
