//! Generated documentation, from the clap definitions only: shell completions (clap_complete)
//! under `completions/` and man pages (clap_mangen) under `man/`, one page per command and
//! subcommand plus `escrow-server.1`. The files are committed; `tests/generated.rs`
//! regenerates them and fails when the committed ones are stale. Regenerate with
//! [`REGENERATE`].

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Command;
use clap_complete::{Generator, Shell};
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};

use super::exit::CODES;

pub const COMPLETIONS_DIR: &str = "completions";
pub const MAN_DIR: &str = "man";
/// The command that rewrites every generated file from the repository root.
pub const REGENERATE: &str = "cargo run --example generate-docs";

const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::PowerShell,
    Shell::Elvish,
];

/// The environment `escrowctl` reads (its pages' ENVIRONMENT section).
const CTL_ENVIRONMENT: &[(&str, &str)] = &[
    (
        "ESCROW_DATABASE_URL",
        "The store: sqlite://PATH or mongodb://… (--database-url overrides it). Default: sqlite://$ESCROW_DATA_DIR/escrow.db.",
    ),
    (
        "ESCROW_DATA_DIR",
        "Data directory of the embedded defaults (default ./escrow-data).",
    ),
    (
        "ESCROW_MONGODB_DATABASE",
        "Database name for MongoDB (default escrow).",
    ),
    (
        "ESCROW_ENV",
        "development (default) or production; production refuses every development default and the token command.",
    ),
    (
        "JWT_SECRET",
        "HS256 secret for token; in development a generated secret in the data directory is shared with the server.",
    ),
    (
        "STRIPE_SECRET_KEY, STRIPE_API_BASE",
        "The payment provider refunds go through (unset: the sandbox).",
    ),
    (
        "ESCROW_CURRENCY, ESCROW_PLATFORM_FEE_BPS",
        "The deployment's currency and platform fee, as the server uses them.",
    ),
    (
        "NO_COLOR",
        "When set and not empty, tables are never coloured.",
    ),
    (
        "CLICOLOR_FORCE",
        "When set (and NO_COLOR is not), tables are coloured even when stdout is not a terminal.",
    ),
    (
        "COLUMNS",
        "Table width; by default the terminal's width, unlimited when stdout is not a terminal.",
    ),
    (
        "RUST_LOG",
        "Diagnostic logging on stderr (default off), e.g. RUST_LOG=info.",
    ),
];

/// The environment `escrow-server` reads (DESIGN §3).
const SERVER_ENVIRONMENT: &[(&str, &str)] = &[
    (
        "ESCROW_DATABASE_URL",
        "sqlite://PATH or mongodb://… / mongodb+srv://… (default sqlite://escrow-data/escrow.db).",
    ),
    (
        "ESCROW_DATA_DIR",
        "Data directory of the embedded defaults (default ./escrow-data).",
    ),
    (
        "ESCROW_MONGODB_DATABASE",
        "Database name for MongoDB (default escrow).",
    ),
    ("ESCROW_LISTEN", "Listen address (default 127.0.0.1:8080)."),
    (
        "ESCROW_PUBLIC_URL",
        "How browsers reach the server (sandbox checkout page, local media); default http://LISTEN.",
    ),
    (
        "ESCROW_ENV",
        "development (default) or production; production refuses every development default, naming the missing setting.",
    ),
    (
        "JWT_SECRET",
        "HS256 secret for access tokens (development: generated once in the data directory).",
    ),
    (
        "STRIPE_SECRET_KEY",
        "Stripe API key; unset: the sandbox payment provider.",
    ),
    (
        "STRIPE_WEBHOOK_SECRET",
        "whsec_… secret that verifies POST /webhook (development: generated).",
    ),
    (
        "STRIPE_CONNECT_WEBHOOK_SECRET",
        "whsec_… secret that verifies POST /webhook/connect, Stripe's Connect endpoint (development: generated; production without it: no money out).",
    ),
    (
        "ESCROW_PAYOUT_MIN",
        "The smallest payout, in major units (default 100).",
    ),
    (
        "ESCROW_PAYOUT_MODE",
        "wallet (default: releases credit the wallet) or on_release (a release pays the earning straight to an onboarded connected account).",
    ),
    (
        "ESCROW_CHARGEBACK_RECOVERY",
        "Who bears a chargeback lost after the money left the escrow: platform (default: the loss stays on platform:chargebacks) or wallet (recovered from the freelancer's wallet first, never below zero).",
    ),
    (
        "ESCROW_AUTO_RELEASE_AFTER",
        "Release a submitted milestone this long after its submission unless its client asks first (completing the work submits every funded one; 14d, 36h, 90m, 30s; unset: off); with it on, a client's release request is enough.",
    ),
    (
        "ESCROW_TIMER_LEASE",
        "How long a server's claim holds a due timer (default 120s): a server that dies holding one leaves it to the others this long after its claim.",
    ),
    (
        "ESCROW_RELEASE_NEEDS_ADMIN",
        "true: with auto-release on, a client's release request still waits for an admin (default false).",
    ),
    (
        "STRIPE_API_BASE",
        "Stripe base URL override (tests point it at a local fake).",
    ),
    (
        "STRIPE_TIMEOUT_S",
        "Bound on each Stripe API call in seconds (default 30).",
    ),
    (
        "CLIENT_URL",
        "The front end; checkout success and cancel URLs are built from it (default http://localhost:5173).",
    ),
    (
        "ESCROW_CURRENCY",
        "The deployment's currency, ISO 4217 lower case (default inr).",
    ),
    (
        "ESCROW_PLATFORM_FEE_BPS",
        "Platform fee in basis points (default 1000 = 10 %).",
    ),
    (
        "CLOUDINARY_CLOUD_NAME, CLOUDINARY_API_KEY, CLOUDINARY_API_SECRET",
        "Cloudinary upload; unset: local media.",
    ),
    (
        "CLOUDINARY_API_BASE",
        "Cloudinary base URL override for tests.",
    ),
    (
        "CLOUDINARY_TIMEOUT_S",
        "Bound on each whole Cloudinary upload in seconds (default 300).",
    ),
    (
        "ESCROW_MEDIA_DIR",
        "Local media directory (default escrow-data/media).",
    ),
    (
        "ESCROW_UPLOAD_BYTES_MAX",
        "Largest upload in bytes (default 104857600).",
    ),
    (
        "ESCROW_REQUEST_TIMEOUT_S",
        "Bound on each HTTP request in seconds (default 30).",
    ),
    (
        "ESCROW_UPLOAD_TIMEOUT_S",
        "Bound on each whole upload in seconds (default 600).",
    ),
    (
        "ESCROW_HEADER_READ_TIMEOUT_S",
        "Bound on reading a request's headers, and on an idle keep-alive connection, in seconds (default 30).",
    ),
    (
        "ESCROW_LOG_FORMAT",
        "json for JSON log lines on stderr; RUST_LOG filters them (default info).",
    ),
];

const SERVER_EXIT: &[(u8, &str)] = &[
    (0, "stopped cleanly after SIGINT or SIGTERM"),
    (1, "could not listen, or the server failed"),
    (2, "invalid configuration"),
];

/// The completion script for one shell.
pub fn completion(shell: Shell) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut super::command(), "escrowctl", &mut buf);
    buf
}

/// Every generated file: its path relative to the repository root and its content.
pub fn files() -> io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = Vec::new();
    for shell in SHELLS {
        files.push((
            Path::new(COMPLETIONS_DIR).join(shell.file_name("escrowctl")),
            completion(shell),
        ));
    }
    let mut ctl = super::command().disable_help_subcommand(true);
    ctl.build();
    man_tree(&ctl, &mut files)?;
    let mut server = super::server_args::command();
    server.build();
    files.push((
        Path::new(MAN_DIR).join("escrow-server.1"),
        man_page(&server, &Extras::server())?,
    ));
    Ok(files)
}

/// Writes every generated file under `root`, creating the directories, and removes escrowctl
/// pages of commands that no longer exist; returns the paths written.
pub fn write_all(root: &Path) -> io::Result<Vec<PathBuf>> {
    let files = files()?;
    if let Ok(dir) = std::fs::read_dir(root.join(MAN_DIR)) {
        for entry in dir {
            let relative = Path::new(MAN_DIR).join(entry?.file_name());
            let name = relative.to_string_lossy();
            if name.contains("escrowctl") && !files.iter().any(|(p, _)| *p == relative) {
                std::fs::remove_file(root.join(&relative))?;
            }
        }
    }
    let mut written = Vec::new();
    for (relative, content) in files {
        let path = root.join(&relative);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, content)?;
        written.push(relative);
    }
    Ok(written)
}

fn man_tree(cmd: &Command, files: &mut Vec<(PathBuf, Vec<u8>)>) -> io::Result<()> {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_string();
    let extras = if cmd.get_name() == "escrowctl" {
        Extras::ctl_top()
    } else {
        Extras::ctl_sub()
    };
    files.push((
        Path::new(MAN_DIR).join(format!("{name}.1")),
        man_page(cmd, &extras)?,
    ));
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        man_tree(sub, files)?;
    }
    Ok(())
}

/// The sections a page adds after clap_mangen's own.
struct Extras {
    exit: Vec<(u8, &'static str)>,
    environment: &'static [(&'static str, &'static str)],
    see_also: &'static [&'static str],
}

impl Extras {
    fn ctl_top() -> Extras {
        Extras {
            exit: CODES.iter().map(|(e, m)| (*e as u8, *m)).collect(),
            environment: CTL_ENVIRONMENT,
            see_also: &["escrow-server"],
        }
    }
    fn ctl_sub() -> Extras {
        Extras {
            environment: &[],
            see_also: &["escrowctl"],
            ..Extras::ctl_top()
        }
    }
    fn server() -> Extras {
        Extras {
            exit: SERVER_EXIT.to_vec(),
            environment: SERVER_ENVIRONMENT,
            see_also: &["escrowctl"],
        }
    }
}

/// One page: clap_mangen's sections (title, name, synopsis, description, options,
/// subcommands), then examples, exit status, environment, see also, version.
fn man_page(cmd: &Command, extras: &Extras) -> io::Result<Vec<u8>> {
    // Every page's footer names the program and its version, not the subcommand.
    let program = cmd
        .get_bin_name()
        .unwrap_or(cmd.get_name())
        .split(' ')
        .next()
        .unwrap_or_default();
    let man = Man::new(cmd.clone()).source(format!("{program} {}", env!("CARGO_PKG_VERSION")));
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut part = |render: &dyn Fn(&mut dyn Write) -> io::Result<()>| -> io::Result<()> {
        let mut buf = Vec::new();
        render(&mut buf)?;
        parts.push(buf);
        Ok(())
    };
    part(&|w| man.render_title(w))?;
    part(&|w| man.render_name_section(w))?;
    part(&|w| man.render_synopsis_section(w))?;
    part(&|w| man.render_description_section(w))?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        part(&|w| man.render_options_section(w))?;
    }
    if cmd
        .get_subcommands()
        .any(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        part(&|w| man.render_subcommands_section(w))?;
    }
    part(&|w| extra_sections(cmd, extras).to_writer(w))?;
    part(&|w| man.render_version_section(w))?;
    // Every part starts with roff's apostrophe preamble; the page needs it once.
    let preamble = Roff::new().render().into_bytes();
    let mut page = Vec::new();
    for (i, p) in parts.into_iter().enumerate() {
        match p.strip_prefix(preamble.as_slice()) {
            Some(rest) if i > 0 => page.extend_from_slice(rest),
            _ => page.extend_from_slice(&p),
        }
    }
    Ok(page)
}

fn extra_sections(cmd: &Command, extras: &Extras) -> Roff {
    let mut roff = Roff::new();
    // `after_long_help` holds "Heading:" blocks of indented lines; "Exit status" is rendered
    // from the codes table below instead.
    if let Some(text) = cmd.get_after_long_help() {
        let text = text.to_string();
        for block in text.split("\n\n") {
            let mut lines = block.lines();
            let Some(heading) = lines.next().and_then(|h| h.strip_suffix(':')) else {
                continue;
            };
            if heading.eq_ignore_ascii_case("exit status") {
                continue;
            }
            roff.control("SH", [heading.to_uppercase().as_str()]);
            roff.control("RS", ["4"]).control("nf", []);
            for line in lines {
                roff.text([roman(line.trim())]);
            }
            roff.control("fi", []).control("RE", []);
        }
    }
    if !extras.exit.is_empty() {
        roff.control("SH", ["EXIT STATUS"]);
        for (code, meaning) in &extras.exit {
            roff.control("TP", []);
            roff.text([bold(code.to_string())]);
            roff.text([roman(*meaning)]);
        }
    }
    if !extras.environment.is_empty() {
        roff.control("SH", ["ENVIRONMENT"]);
        for (name, meaning) in extras.environment {
            roff.control("TP", []);
            roff.text([bold(*name)]);
            roff.text([roman(*meaning)]);
        }
    }
    if !extras.see_also.is_empty() {
        roff.control("SH", ["SEE ALSO"]);
        let mut inlines = Vec::new();
        for (i, page) in extras.see_also.iter().enumerate() {
            if i > 0 {
                inlines.push(roman(", "));
            }
            inlines.push(bold(*page));
            inlines.push(roman("(1)"));
        }
        roff.text(inlines);
    }
    roff
}
