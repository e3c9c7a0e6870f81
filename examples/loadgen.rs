//! Load generator: starts the real `escrow-server` binary, prepares contracts over HTTP, then
//! drives each scenario with C concurrent connections and prints throughput, latency
//! percentiles (HdrHistogram), ratios to the trivial-route baseline, and the server's peak RSS.
//!
//! ```sh
//! cargo build --release --bin escrow-server --bin escrowctl --example loadgen
//! target/release/examples/loadgen                    # the full table (see BENCHMARKS.md)
//! target/release/examples/loadgen --smoke            # a few requests of each: checks it works
//! ```
//!
//! Scenarios: `baseline` (GET /healthz), `webhooks` (unique signed checkout.session.completed
//! events, each funding a contract), `releases` (admin releases of distinct requested
//! contracts), `reviews` (GET show-reviews of a freelancer with 100 reviews), `mixed` (a fixed
//! offered rate of reads and writes; latency measured from each request's intended start, so a
//! stalled server cannot hide its queue). Write scenarios run with each commit delay and with
//! group commit on and off.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use escrow::auth::{JwtKeys, Principal, Role};
use escrow::domain::{JobId, UserId};
use hdrhistogram::Histogram;
use serde_json::{Value, json};

const JWT_SECRET: &str = "loadgen-jwt-secret";
const WEBHOOK_SECRET: &str = "whsec_loadgen";

#[derive(Parser, Debug, Clone)]
#[command(about = "Drive a real escrow-server and measure it")]
struct Args {
    /// The server binary (a release build for real figures).
    #[arg(long, default_value = "target/release/escrow-server")]
    server_bin: PathBuf,
    /// The CLI binary, timed for `escrowctl` commands (skipped when missing).
    #[arg(long, default_value = "target/release/escrowctl")]
    ctl_bin: PathBuf,
    /// Contracts prepared per write scenario (each is webhooked once and released once).
    #[arg(long, default_value_t = 10_000)]
    n: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Requests per read scenario (baseline, reviews).
    #[arg(long, default_value_t = 50_000)]
    reads: usize,
    /// Offered rate of the mixed scenario, requests per second.
    #[arg(long, default_value_t = 2_000)]
    rate: u64,
    /// Length of the mixed scenario, seconds.
    #[arg(long, default_value_t = 10)]
    mixed_s: u64,
    /// Commit delays (ms) to run the write scenarios with.
    #[arg(long, value_delimiter = ',', default_value = "0,2")]
    delays: Vec<u64>,
    /// Group commit settings to run the write scenarios with.
    #[arg(long, value_delimiter = ',', default_value = "on,off")]
    batching: Vec<String>,
    /// Tiny run that only checks every scenario works (the test suite uses it).
    #[arg(long)]
    smoke: bool,
    /// Profile the server during each measured scenario with `perf record` (DWARF call
    /// graphs), one `<scenario>.perf.data` per scenario in this directory; see BENCHMARKS.md
    /// for turning them into flame graphs.
    #[arg(long)]
    perf_dir: Option<PathBuf>,
    /// Run the server on this store instead of its embedded SQLite (e.g. a `mongodb://` URI;
    /// each server gets a fresh database). The commit-delay and group-commit settings are
    /// SQLite's: with another store the write scenarios run once.
    #[arg(long)]
    database_url: Option<String>,
}

/// Watches the server for the length of one scenario: the CPU time it and this process
/// spend, and, with `--perf-dir`, a `perf record` of the server.
struct Perf {
    perf: Option<Child>,
    pid: u32,
    cpu_at_start: (u64, u64),
}

/// CPU time (user + system, all threads, in clock ticks) of a process, from `/proc`.
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is the first; utime and
    // stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

fn clock_ticks_per_s() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

impl Perf {
    fn start(dir: Option<&PathBuf>, pid: u32, name: &str) -> Perf {
        let perf = dir.map(|dir| {
            std::fs::create_dir_all(dir).unwrap();
            let file: String = name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            let child = Command::new("perf")
                .args(["record", "-F", "499", "--call-graph", "dwarf,32768", "-p"])
                .arg(pid.to_string())
                .arg("-o")
                .arg(dir.join(format!("{file}.perf.data")))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run perf (apt-get install linux-perf): {e}"));
            // Let it attach before the load starts.
            std::thread::sleep(Duration::from_millis(300));
            child
        });
        Perf {
            perf,
            pid,
            cpu_at_start: (cpu_ticks(&pid.to_string()), cpu_ticks("self")),
        }
    }

    /// Ends the watch and notes the CPU time per request in `o`.
    fn finish(self, mut o: Outcome) -> Outcome {
        let tick_us = 1e6 / clock_ticks_per_s();
        let server = cpu_ticks(&self.pid.to_string()).saturating_sub(self.cpu_at_start.0);
        let client = cpu_ticks("self").saturating_sub(self.cpu_at_start.1);
        let n = o.requests.max(1) as f64;
        o.cpu_us = Some((server as f64 * tick_us / n, client as f64 * tick_us / n));
        o
    }
}

impl Drop for Perf {
    fn drop(&mut self) {
        if let Some(mut child) = self.perf.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
    startup: Duration,
}

impl Server {
    fn start(bin: &PathBuf, delay_ms: u64, batching: &str, database_url: Option<&str>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(bin);
        if let Some(url) = database_url {
            command.env("ESCROW_DATABASE_URL", url).env(
                "ESCROW_MONGODB_DATABASE",
                format!("escrow_loadgen_{}", UserId::generate()),
            );
        } else {
            command.env_remove("ESCROW_DATABASE_URL");
        }
        let started = Instant::now();
        let mut child = command
            .current_dir(dir.path())
            .env("ESCROW_LISTEN", "127.0.0.1:0")
            .env("JWT_SECRET", JWT_SECRET)
            .env("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("ESCROW_BENCH_COMMIT_DELAY_MS", delay_ms.to_string())
            .env("ESCROW_GROUP_COMMIT", batching)
            .env("RUST_LOG", "warn")
            .env_remove("STRIPE_SECRET_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e} (build it first: cargo build --release --bin escrow-server)", bin.display()));
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .expect("the server prints its address")
            .to_string();
        // Ready = /readyz answers 200.
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(base.trim_start_matches("http://")) {
                use std::io::{Read, Write};
                let _ = write!(
                    s,
                    "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                );
                let mut out = String::new();
                let _ = s.read_to_string(&mut out);
                if out.starts_with("HTTP/1.1 200") {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Server {
            startup: started.elapsed(),
            child,
            base,
            _dir: dir,
        }
    }

    /// Peak resident set size so far, in MB (Linux `VmHWM`).
    fn peak_rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone)]
struct Ctx {
    http: reqwest::Client,
    base: String,
    admin: String,
}

fn token(role: Role, id: &UserId) -> String {
    JwtKeys::new(JWT_SECRET.as_bytes()).mint(
        &Principal {
            id: id.clone(),
            role,
        },
        chrono::Utc::now().timestamp() as u64,
        24 * 3600,
    )
}

#[derive(Clone)]
struct Contract {
    id: String,
    job: JobId,
    client: UserId,
    client_token: String,
    freelancer: UserId,
    freelancer_token: String,
}

struct Outcome {
    name: String,
    requests: u64,
    errors: u64,
    elapsed: Duration,
    hist: Histogram<u64>,
    /// CPU time per request, in µs, of the server and of this load generator (all their
    /// threads), over the scenario: what a request costs, whatever else runs on the machine.
    cpu_us: Option<(f64, f64)>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `count` requests over `concurrency` connections; `make(i)` sends request i and says
/// whether it succeeded.
async fn drive<F, Fut>(name: &str, count: usize, concurrency: usize, make: F) -> Outcome
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let make = Arc::new(make);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency.min(count.max(1)))
        .map(|_| {
            let (make, next) = (make.clone(), next.clone());
            tokio::spawn(async move {
                let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
                let mut errors = 0u64;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let t = Instant::now();
                    if !make(i).await {
                        errors += 1;
                    }
                    hist.saturating_record(t.elapsed().as_micros() as u64);
                }
                (hist, errors)
            })
        })
        .collect();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let mut errors = 0;
    for t in tasks {
        let (h, e) = t.await.unwrap();
        hist.add(h).unwrap();
        errors += e;
    }
    Outcome {
        name: name.into(),
        requests: count as u64,
        errors,
        elapsed: start.elapsed(),
        hist,
        cpu_us: None,
    }
}

async fn ok(r: Result<reqwest::Response, reqwest::Error>, want: u16) -> bool {
    match r {
        Ok(r) => r.status().as_u16() == want,
        Err(_) => false,
    }
}

/// Creates and approves `n` contracts (all for `freelancer` when given).
async fn prepare_contracts(
    ctx: &Ctx,
    n: usize,
    concurrency: usize,
    freelancer: Option<UserId>,
) -> Vec<Contract> {
    let made: Arc<std::sync::Mutex<Vec<Contract>>> = Arc::default();
    let (c2, m2) = (ctx.clone(), made.clone());
    let prep = drive("prepare", n, concurrency, move |_| {
        let (ctx, made, freelancer) = (c2.clone(), m2.clone(), freelancer.clone());
        async move {
            let (client, freelancer) = (UserId::generate(), freelancer.unwrap_or_else(UserId::generate));
            let mut c = Contract {
                id: String::new(),
                job: JobId::generate(),
                client_token: token(Role::Client, &client),
                freelancer_token: token(Role::Freelancer, &freelancer),
                client,
                freelancer,
            };
            let r = ctx
                .http
                .post(format!("{}/api/client/contract/create-contract/{}", ctx.base, c.job))
                .bearer_auth(&c.client_token)
                .json(&json!({"freelancerId": c.freelancer.as_str(), "amount": "1000.00", "title": "Load test"}))
                .send()
                .await;
            let Ok(r) = r else { return false };
            let Ok(v) = r.json::<Value>().await else { return false };
            let Some(id) = v["data"]["id"].as_str() else { return false };
            c.id = id.to_string();
            let approved = ok(ctx.http.post(format!("{}/api/freelancer/contract/approve-contract/{}", ctx.base, c.id)).bearer_auth(&c.freelancer_token).send().await, 200).await;
            made.lock().unwrap().push(c);
            approved
        }
    })
    .await;
    assert_eq!(prep.errors, 0, "preparing contracts failed");
    made.lock().unwrap().clone()
}

fn payment_event(c: &Contract, i: usize) -> String {
    json!({
        "id": format!("evt_load_{}_{i}", c.id), "object": "event", "created": chrono::Utc::now().timestamp(), "livemode": false,
        "pending_webhooks": 1, "type": "checkout.session.completed",
        "data": {"object": {
            "id": format!("cs_load_{}", c.id), "object": "checkout.session", "amount_total": 100_000, "currency": "inr",
            "automatic_tax": {"enabled": false, "liability": null, "status": null}, "client_reference_id": c.id,
            "created": 1, "custom_fields": [], "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
            "expires_at": 2, "livemode": false, "mode": "payment", "payment_intent": format!("pi_load_{}", c.id),
            "payment_method_types": ["card"], "payment_status": "paid", "shipping_options": [], "status": "complete",
            "metadata": {"jobId": c.job.as_str(), "clientId": c.client.as_str(), "freelancerId": c.freelancer.as_str(), "contractId": c.id}
        }}
    })
    .to_string()
}

async fn post_webhook(ctx: &Ctx, body: String) -> bool {
    let header = escrow::payment::webhook::sign(
        body.as_bytes(),
        WEBHOOK_SECRET,
        chrono::Utc::now().timestamp(),
    );
    ok(
        ctx.http
            .post(format!("{}/webhook", ctx.base))
            .header("stripe-signature", header)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await,
        200,
    )
    .await
}

/// webhooks: each contract funded by one signed event.
async fn webhooks(
    ctx: &Ctx,
    contracts: Arc<Vec<Contract>>,
    concurrency: usize,
    label: &str,
) -> Outcome {
    let ctx2 = ctx.clone();
    drive(label, contracts.len(), concurrency, move |i| {
        let (ctx, c) = (ctx2.clone(), contracts[i].clone());
        async move { post_webhook(&ctx, payment_event(&c, 0)).await }
    })
    .await
}

/// Moves funded contracts to Completed with the release requested (preparation).
async fn make_requested(ctx: &Ctx, contracts: Arc<Vec<Contract>>, concurrency: usize) {
    let ctx2 = ctx.clone();
    let prep = drive("prepare", contracts.len(), concurrency, move |i| {
        let (ctx, c) = (ctx2.clone(), contracts[i].clone());
        async move {
            for s in ["Started", "Ongoing", "Completed"] {
                let r = ctx
                    .http
                    .put(format!(
                        "{}/api/freelancer/contract/update-status/{}",
                        ctx.base, c.id
                    ))
                    .bearer_auth(&c.freelancer_token)
                    .json(&json!({"status": s}))
                    .send()
                    .await;
                if !ok(r, 200).await {
                    return false;
                }
            }
            ok(
                ctx.http
                    .patch(format!(
                        "{}/api/client/contract/release-fund/{}",
                        ctx.base, c.id
                    ))
                    .bearer_auth(&c.client_token)
                    .send()
                    .await,
                200,
            )
            .await
        }
    })
    .await;
    assert_eq!(prep.errors, 0, "preparing requested contracts failed");
}

async fn releases(
    ctx: &Ctx,
    contracts: Arc<Vec<Contract>>,
    concurrency: usize,
    label: &str,
) -> Outcome {
    let ctx2 = ctx.clone();
    drive(label, contracts.len(), concurrency, move |i| {
        let (ctx, c) = (ctx2.clone(), contracts[i].clone());
        async move {
            ok(
                ctx.http
                    .put(format!(
                        "{}/api/admin/escrow/release-fund/{}",
                        ctx.base, c.id
                    ))
                    .bearer_auth(&ctx.admin)
                    .send()
                    .await,
                200,
            )
            .await
        }
    })
    .await
}

async fn get_route(
    ctx: &Ctx,
    path: String,
    count: usize,
    concurrency: usize,
    label: &str,
) -> Outcome {
    let ctx2 = ctx.clone();
    let path = Arc::new(path);
    drive(label, count, concurrency, move |_| {
        let (ctx, path) = (ctx2.clone(), path.clone());
        async move {
            ok(
                ctx.http.get(format!("{}{path}", ctx.base)).send().await,
                200,
            )
            .await
        }
    })
    .await
}

/// A fixed offered rate: request i is due at start + i/rate; latency counts from then.
async fn mixed(
    ctx: &Ctx,
    rate: u64,
    seconds: u64,
    reviewed: &Contract,
    funded: Arc<Vec<Contract>>,
) -> Outcome {
    let total = (rate * seconds) as usize;
    let start = tokio::time::Instant::now();
    let errors = Arc::new(AtomicUsize::new(0));
    let hist = Arc::new(std::sync::Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap(),
    ));
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        let (ctx, hist, errors, funded) =
            (ctx.clone(), hist.clone(), errors.clone(), funded.clone());
        let reviewed_freelancer = reviewed.freelancer.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(due).await;
            let c = &funded[i % funded.len()];
            let good = match i % 10 {
                // 60 % public review reads, 20 % contract reads, 10 % admin balance,
                // 10 % webhook redeliveries (deduplicated writes).
                0..=5 => {
                    ok(
                        ctx.http
                            .get(format!(
                                "{}/api/client/review/show-reviews/{reviewed_freelancer}",
                                ctx.base
                            ))
                            .send()
                            .await,
                        200,
                    )
                    .await
                }
                6 | 7 => {
                    ok(
                        ctx.http
                            .get(format!("{}/api/contracts/{}", ctx.base, c.id))
                            .bearer_auth(&ctx.admin)
                            .send()
                            .await,
                        200,
                    )
                    .await
                }
                8 => {
                    ok(
                        ctx.http
                            .get(format!("{}/api/admin/escrow/balance", ctx.base))
                            .bearer_auth(&ctx.admin)
                            .send()
                            .await,
                        200,
                    )
                    .await
                }
                _ => post_webhook(&ctx, payment_event(c, 0)).await,
            };
            if !good {
                errors.fetch_add(1, Ordering::Relaxed);
            }
            hist.lock()
                .unwrap()
                .saturating_record(due.elapsed().as_micros() as u64);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let hist = hist.lock().unwrap().clone();
    Outcome {
        name: format!("mixed @ {rate}/s"),
        requests: total as u64,
        errors: errors.load(Ordering::Relaxed) as u64,
        elapsed: start.elapsed(),
        hist,
        cpu_us: None,
    }
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn print_header() {
    println!(
        "| scenario | requests | errors | req/s | × baseline | p50 ms | p90 ms | p99 ms | max ms | server CPU µs/req | loadgen CPU µs/req |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
}

fn print_row(o: &Outcome, baseline: f64) {
    println!(
        "| {} | {} | {} | {:.0} | {:.2} | {} | {} | {} | {} | {} | {} |",
        o.name,
        o.requests,
        o.errors,
        o.rate(),
        o.rate() / baseline,
        ms(o.hist.value_at_quantile(0.5)),
        ms(o.hist.value_at_quantile(0.9)),
        ms(o.hist.value_at_quantile(0.99)),
        ms(o.hist.max()),
        o.cpu_us.map_or("".into(), |c| format!("{:.0}", c.0)),
        o.cpu_us.map_or("".into(), |c| format!("{:.0}", c.1)),
    );
}

fn time_ctl(bin: &PathBuf, data_dir: &std::path::Path) -> Option<Duration> {
    if !bin.exists() {
        return None;
    }
    let mut runs = vec![];
    for _ in 0..5 {
        let t = Instant::now();
        let ok = Command::new(bin)
            .current_dir(data_dir)
            .env("JWT_SECRET", JWT_SECRET)
            .env("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .args(["--json", "report", "balance"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return None;
        }
        runs.push(t.elapsed());
    }
    runs.sort();
    Some(runs[runs.len() / 2])
}

#[tokio::main]
async fn main() {
    let mut args = Args::parse();
    args.server_bin = std::fs::canonicalize(&args.server_bin).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (build it first: cargo build --release --bin escrow-server)",
            args.server_bin.display()
        )
    });
    if args.smoke {
        args.n = 20;
        args.reads = 50;
        args.concurrency = 4;
        args.rate = 100;
        args.mixed_s = 1;
    }
    if args.database_url.is_some() {
        args.delays = vec![0];
        args.batching = vec!["on".into()];
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()
        .unwrap();
    let admin = token(Role::Admin, &UserId::generate());
    let mut all_errors = 0;
    println!(
        "escrow loadgen: n={} concurrency={} on {} cores",
        args.n,
        args.concurrency,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );

    // Read scenarios and the baseline, on the default server.
    let server = Server::start(&args.server_bin, 0, "on", args.database_url.as_deref());
    let ctx = Ctx {
        http: http.clone(),
        base: server.base.clone(),
        admin: admin.clone(),
    };
    let reviewed_freelancer = UserId::generate();
    let reviewed = Arc::new(
        prepare_contracts(
            &ctx,
            100,
            args.concurrency,
            Some(reviewed_freelancer.clone()),
        )
        .await,
    );
    webhooks(&ctx, reviewed.clone(), args.concurrency, "prepare").await;
    make_requested(&ctx, reviewed.clone(), args.concurrency).await;
    for c in reviewed.iter() {
        let r = ctx
            .http
            .post(format!("{}/api/client/review/rate-freelancer/{}", ctx.base, c.client))
            .bearer_auth(&c.client_token)
            .json(&json!({"freelancerId": c.freelancer.as_str(), "contractId": c.id, "rating": 5, "description": "Load test review"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
    let pid = server.child.id();
    let perf = Perf::start(args.perf_dir.as_ref(), pid, "baseline");
    let baseline = get_route(
        &ctx,
        "/healthz".into(),
        args.reads,
        args.concurrency,
        "baseline GET /healthz",
    )
    .await;
    let baseline = perf.finish(baseline);
    let perf = Perf::start(args.perf_dir.as_ref(), pid, "reviews");
    let reviews = get_route(
        &ctx,
        format!("/api/client/review/show-reviews/{reviewed_freelancer}"),
        args.reads,
        args.concurrency,
        "reviews GET show-reviews (100 reviews)",
    )
    .await;
    let reviews = perf.finish(reviews);
    let perf = Perf::start(args.perf_dir.as_ref(), pid, "mixed");
    let mixed_out = mixed(
        &ctx,
        args.rate,
        args.mixed_s,
        &reviewed[0],
        reviewed.clone(),
    )
    .await;
    let mixed_out = perf.finish(mixed_out);
    let base_rate = baseline.rate();
    println!(
        "\nserver startup to ready: {:.1} ms",
        server.startup.as_secs_f64() * 1000.0
    );
    print_header();
    for o in [&baseline, &reviews, &mixed_out] {
        print_row(o, base_rate);
        all_errors += o.errors;
    }
    let read_rss = server.peak_rss_mb();
    println!("\npeak RSS (read scenarios): {read_rss:.1} MB");
    let ctl_dir = server._dir.path().to_path_buf();
    if let Some(t) = time_ctl(
        &std::fs::canonicalize(&args.ctl_bin).unwrap_or(args.ctl_bin.clone()),
        &ctl_dir,
    ) {
        println!(
            "escrowctl --json report balance (median of 5): {:.1} ms",
            t.as_secs_f64() * 1000.0
        );
    }
    drop(server);

    // Write scenarios, per commit delay and batching.
    println!();
    print_header();
    for delay in &args.delays {
        for batching in &args.batching {
            let server = Server::start(
                &args.server_bin,
                *delay,
                batching,
                args.database_url.as_deref(),
            );
            let ctx = Ctx {
                http: http.clone(),
                base: server.base.clone(),
                admin: admin.clone(),
            };
            let contracts = Arc::new(prepare_contracts(&ctx, args.n, args.concurrency, None).await);
            let label = match &args.database_url {
                Some(url) => format!("on {}", url.split(['/', '?']).nth(2).unwrap_or(url)),
                None => format!("commit delay {delay} ms, group commit {batching}"),
            };
            let tag = format!("{delay}ms-batching-{batching}");
            let perf = Perf::start(
                args.perf_dir.as_ref(),
                server.child.id(),
                &format!("webhooks-{tag}"),
            );
            let w = webhooks(
                &ctx,
                contracts.clone(),
                args.concurrency,
                &format!("webhooks, {label}"),
            )
            .await;
            let w = perf.finish(w);
            make_requested(&ctx, contracts.clone(), args.concurrency).await;
            let perf = Perf::start(
                args.perf_dir.as_ref(),
                server.child.id(),
                &format!("releases-{tag}"),
            );
            let r = releases(
                &ctx,
                contracts.clone(),
                args.concurrency,
                &format!("releases, {label}"),
            )
            .await;
            let r = perf.finish(r);
            print_row(&w, base_rate);
            print_row(&r, base_rate);
            println!(
                "| (peak RSS {:.1} MB) | | | | | | | | | | |",
                server.peak_rss_mb()
            );
            all_errors += w.errors + r.errors;
        }
    }
    if all_errors > 0 {
        eprintln!("loadgen: {all_errors} requests failed");
        std::process::exit(1);
    }
}
