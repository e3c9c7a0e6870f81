//! `escrow-server`: serves the escrow API over HTTP. Thin: configuration, logging, wiring, run.

use std::time::Duration;

use clap::Parser;
use escrow::cli::server_args::ServerArgs;
use escrow::config::{Config, Sources};

/// mimalloc instead of glibc's malloc: the server allocates many small short-lived buffers per
/// request from two worker threads, and glibc's arena locking and consolidation were a fifth
/// of its CPU time under load (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How often the recovery step retries refunds owed to the payment provider (and purges
/// expired idempotency keys).
const RECOVERY_INTERVAL_S: u64 = 30;

fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

#[tokio::main]
async fn main() {
    let args = ServerArgs::parse();
    let sources = match Sources::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("escrow-server: {e}");
            std::process::exit(2);
        }
    };
    let config = match Config::from_sources(&sources) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("escrow-server: {e}");
            std::process::exit(2);
        }
    };
    init_logging(config.log_json);
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("escrow-server: cannot listen on {}: {e}", config.listen);
            std::process::exit(1);
        }
    };
    let bound = listener
        .local_addr()
        .expect("a bound listener has an address");
    let state = match escrow::app::build_state(&config, bound).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("escrow-server: {e}");
            std::process::exit(2);
        }
    };
    let service = state.service.clone();
    tokio::spawn(async move {
        // The first tick completes at once, so refunds left pending by a crash or a provider
        // outage are sent again at startup, then every RECOVERY_INTERVAL_S.
        let mut tick = tokio::time::interval(Duration::from_secs(RECOVERY_INTERVAL_S));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match service.recover_provider_work().await {
                Ok((0, 0)) => {}
                Ok((done, waiting)) => tracing::info!(done, waiting, "recovery: provider refunds"),
                Err(e) => tracing::warn!(error = %e, "recovery step failed"),
            }
            // Idempotency keys older than 24 h (a later `begin` treats them as absent anyway).
            match service.store().idempotency_purge(service.now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "recovery: expired idempotency keys"),
                Err(e) => tracing::warn!(error = %e, "purging expired idempotency keys failed"),
            }
        }
    });
    tracing::info!(
        listen = %bound,
        store = state.service.store().backend(),
        requests_at_once = state
            .service
            .store()
            .requests_at_once()
            .map_or_else(|| "unlimited".to_string(), |n| n.to_string()),
        payments = state.service.payment_provider_name(),
        "escrow-server ready"
    );
    // Printed on stdout so scripts and tests can find the port when ESCROW_LISTEN uses port 0.
    println!("listening on http://{bound}");
    if let Err(e) = escrow::http::serve(listener, state, shutdown_signal()).await {
        tracing::error!(error = %e, "server failed");
        std::process::exit(1);
    }
    tracing::info!("stopped");
}
