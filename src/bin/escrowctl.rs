//! `escrowctl`: the admin CLI. Thin: parse the command line, run it, exit with its code. The
//! commands live in the library (`escrow::cli`), where the tests and the doc generator reach
//! them.

use clap::Parser;

// As the server: `verify` reads every record of the store, allocating as it goes, and the
// system allocator spent a fifth of a whole-store check consolidating and freeing.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    escrow::cli::run(escrow::cli::Cli::parse())
}
