//! `escrow-server`: serves the escrow API over HTTP. Thin: configuration, logging, wiring, run.

use std::io::Write;
use std::time::Duration;

use clap::Parser;
use escrow::cli::server_args::ServerArgs;
use escrow::config::{Config, Sources};
use escrow::service::maintenance;

/// mimalloc instead of glibc's malloc: the server allocates many small short-lived buffers per
/// request from two worker threads, and glibc's arena locking and consolidation were a fifth
/// of its CPU time under load (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let metrics_listener = match config.metrics_listen {
        None => None,
        Some(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("escrow-server: cannot listen on ESCROW_METRICS_LISTEN {addr}: {e}");
                std::process::exit(1);
            }
        },
    };
    let state = match escrow::http::state::build(&config, bound).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("escrow-server: {e}");
            std::process::exit(2);
        }
    };
    // One shutdown signal stops every listener.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    // Refunds left pending by a crash or a provider outage are sent again at once, then every
    // MAINTENANCE_INTERVAL_S; the task stops with the server.
    let (stop_maintenance, maintenance_stopped) = tokio::sync::oneshot::channel::<()>();
    let maintenance = tokio::spawn(maintenance::run(
        state.service.clone(),
        Duration::from_secs(maintenance::MAINTENANCE_INTERVAL_S),
        async move {
            let _ = maintenance_stopped.await;
        },
    ));
    tracing::info!(
        listen = %bound,
        store = state.service.store().backend(),
        requests_at_once = state
            .admission
            .as_ref()
            .map_or_else(|| "unlimited".to_string(), |l| l.places().to_string()),
        payments = state.service.payment_provider_name(),
        "escrow-server ready"
    );
    // Printed on stdout so scripts and tests can find the port when ESCROW_LISTEN uses port 0.
    println!("listening on http://{bound}");
    let metrics = metrics_listener.map(|l| {
        let addr = l.local_addr().expect("a bound listener has an address");
        tracing::info!(listen = %addr, "metrics listener ready");
        // The second line; a reader that stopped after the first must not stop the server.
        let _ = writeln!(std::io::stdout(), "metrics on http://{addr}");
        tokio::spawn(escrow::http::serve_metrics(
            l,
            state.clone(),
            stopped(stopping.clone()),
        ))
    });
    if let Err(e) = escrow::http::serve(listener, state, stopped(stopping)).await {
        tracing::error!(error = %e, "server failed");
        std::process::exit(1);
    }
    if let Some(m) = metrics {
        let _ = m.await;
    }
    let _ = stop_maintenance.send(());
    let _ = maintenance.await;
    tracing::info!("stopped");
}
