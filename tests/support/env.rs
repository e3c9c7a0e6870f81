//! A child process (the server, `escrowctl`) must not inherit what would change what it does:
//! the tester's own `ESCROW_*`, `STRIPE_*` or `CLOUDINARY_*` settings, secrets, a log filter, or
//! the terminal settings `escrowctl` reads.

use std::process::Command;

/// Whether a variable of the test's environment is kept from child processes.
pub fn scrubbed(name: &str) -> bool {
    name.starts_with("ESCROW_")
        || name.starts_with("STRIPE_")
        || name.starts_with("CLOUDINARY_")
        || [
            "JWT_SECRET",
            "REFRESH_SECRET",
            "CLIENT_URL",
            "RUST_LOG",
            "NO_COLOR",
            "CLICOLOR_FORCE",
            "COLUMNS",
        ]
        .contains(&name)
}

/// `cmd` with every scrubbed variable of this process's environment removed; what the test
/// then sets on it is all the child sees of those.
pub fn scrub(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(scrubbed) {
            cmd.env_remove(k);
        }
    }
    cmd
}
