//! The command line of `escrow-server`. It lives in the library, not in the binary, so the man
//! page generator (`cli::generate`) can reach it.

use std::path::PathBuf;

use clap::{CommandFactory, Parser};

/// Escrow and payments backend for freelance marketplaces: the HTTP server.
///
/// Runs on embedded defaults with no setup (SQLite in ./escrow-data, the sandbox payment
/// provider, local media). Every setting is an environment variable (see the README), or a key
/// of the TOML file given with --config.
#[derive(Parser, Debug)]
#[command(name = "escrow-server", version)]
pub struct ServerArgs {
    /// A TOML file with settings (same keys as the environment variables; the environment wins).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The server's clap definition, for generators.
pub fn command() -> clap::Command {
    ServerArgs::command()
}
