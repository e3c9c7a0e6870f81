//! `escrowctl`: the admin CLI. Thin: parse the command line, run it, exit with its code. The
//! commands live in the library (`escrow::cli`), where the tests and the doc generator reach
//! them.

use clap::Parser;

fn main() -> std::process::ExitCode {
    escrow::cli::run(escrow::cli::Cli::parse())
}
