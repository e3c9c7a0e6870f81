//! `escrowctl`, the admin CLI, as a library module: the binary (`src/bin/escrowctl.rs`) only
//! parses the command line and calls [`run`]; the doc generator and the tests reach the clap
//! definition through [`command`]. Commands call the service use cases and nothing below them.
//!
//! Where things live:
//! - [`args`] — the clap definition: commands, options, help texts.
//! - [`exit`] — exit codes (DESIGN §9) and the one mapping from service errors to them.
//! - [`output`] — comfy-table tables for people, one JSON document for scripts, error lines.
//! - [`confirm`] — the audit actor and the question asked before money moves.
//! - One module per command group: [`escrow`], [`reviews`], [`wallet`], [`report`], [`payouts`], [`timers`],
//!   [`verify`], [`webhooks`], [`token`].
//! - [`generate`] — completions and man pages (`completions/`, `man/`).
//! - [`server_args`] — the command line of `escrow-server`, here so [`generate`] reaches it.

pub mod args;
pub mod confirm;
pub mod contract;
pub mod disputes;
pub mod escrow;
pub mod exit;
pub mod generate;
pub mod output;
pub mod payouts;
pub mod refunds;
pub mod report;
pub mod reviews;
pub mod server_args;
pub mod timers;
pub mod token;
pub mod verify;
pub mod wallet;
pub mod webhooks;

use std::process::ExitCode;
use std::sync::Arc;

use clap::CommandFactory;

pub use args::Cli;
use args::{Command, GlobalArgs};
use exit::{CliError, Exit};
use output::Output;

use crate::config::{Config, DatabaseUrl, Sources};
use crate::service::{ErrorCode, Service};

/// The clap definition of `escrowctl`, for generators (completions, man pages).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Runs one parsed command line to its exit code. Output and the error line are written here.
pub fn run(cli: Cli) -> ExitCode {
    init_logging();
    let out = Output::new(cli.global.json);
    let result = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(dispatch(cli, &out)),
        Err(e) => Err(CliError::io("cannot start the runtime", e)),
    };
    match result {
        Ok(()) => Exit::Ok.into(),
        Err(e) => {
            out.error(&e);
            e.exit.into()
        }
    }
}

/// Diagnostics only when asked for (`RUST_LOG`): the error line is the CLI's report.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

async fn dispatch(cli: Cli, out: &Output) -> Result<(), CliError> {
    let global = &cli.global;
    match cli.command {
        Command::Completions(a) => {
            let script = generate::completion(a.shell);
            out.write(&String::from_utf8_lossy(&script))
        }
        Command::Token(a) => token::run(&load_config(global)?, out, a),
        Command::Escrow(c) => escrow::run(service_for(global).await?.as_ref(), out, c).await,
        Command::Contract(c) => contract::run(service_for(global).await?.as_ref(), out, c).await,
        Command::Disputes(c) => disputes::run(service_for(global).await?.as_ref(), out, c).await,
        Command::Refunds(c) => refunds::run(service_for(global).await?.as_ref(), out, c).await,
        Command::Reviews(c) => reviews::run(service_for(global).await?.as_ref(), out, c).await,
        Command::Wallet(c) => wallet::run(service_for(global).await?.as_ref(), out, c).await,
        Command::Report(c) => report::run(service_for(global).await?.as_ref(), out, c).await,
        Command::Payouts(c) => payouts::run(service_for(global).await?.as_ref(), out, c).await,
        Command::Timers(c) => timers::run(service_for(global).await?.as_ref(), out, c).await,
        Command::Verify(_) => verify::run(service_for(global).await?.as_ref(), out).await,
        Command::Webhooks(c) => webhooks::run(service_for(global).await?.as_ref(), out, c).await,
    }
}

async fn service_for(global: &GlobalArgs) -> Result<Arc<Service>, CliError> {
    open_service(&load_config(global)?).await
}

/// The server's configuration (environment over the `--config` file), with `--database-url`
/// over both.
pub fn load_config(global: &GlobalArgs) -> Result<Config, CliError> {
    let mut sources = Sources::load(global.config.as_deref())?;
    if let Some(url) = &global.database_url {
        sources.set("ESCROW_DATABASE_URL", url.as_str());
    }
    Ok(Config::from_sources(&sources)?)
}

/// The service on the configured store, wired exactly as the server wires it (without HTTP). A SQLite file
/// that does not exist is refused rather than created: an admin pointing at the wrong place
/// must not get an empty store that reports nothing wrong.
pub async fn open_service(config: &Config) -> Result<Arc<Service>, CliError> {
    if let DatabaseUrl::Sqlite(path) = &config.database
        && !path.exists()
    {
        return Err(CliError::new(
            Exit::Error,
            ErrorCode::StorageMissing,
            format!(
                "no store at {}: start escrow-server once to create it, or point --database-url (ESCROW_DATABASE_URL) at the server's file",
                path.display()
            ),
        ));
    }
    let public_url = config.public_url_for(config.listen);
    Ok(crate::startup::build_service(config, &public_url).await?)
}
