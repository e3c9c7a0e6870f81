//! Regenerates the committed shell completions (`completions/`) and man pages (`man/`) from
//! the clap definitions: `cargo run --example generate-docs [ROOT]` (ROOT defaults to the
//! repository). `tests/generated.rs` fails until this has been run after a CLI change.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    for path in escrow::cli::generate::write_all(&root)? {
        println!("{}", path.display());
    }
    Ok(())
}
