//! A property-based fuzz of every route, driven by the server's own `/openapi.json`, with
//! schemathesis (PyPI; `scripts/test` installs the pinned version into `./.venv`). Every check
//! it has runs (`tests/hostile/schemathesis/schemathesis.toml`, which also says why two checks
//! do not apply to two routes): no 5xx; every status, content type, header and body as the
//! document says; schema-valid requests accepted and invalid ones refused; authentication
//! enforced. Each route gets a valid token of the role it serves (minted here, passed in the
//! environment the configuration reads).
//!
//! The seed is drawn per run and printed; `ESCROW_FUZZ_SEED=<n>` replays one, and
//! `ESCROW_FUZZ_EXAMPLES` (default 20) sets the examples per operation for a longer run. Under
//! a plain `cargo test` without schemathesis the test prints why it skips; under
//! `scripts/test` (`ESCROW_TEST_REQUIRE_TOOLS=1`) a missing schemathesis fails it.

use std::path::PathBuf;
use std::process::Command;

use escrow::auth::Role;

use crate::world::{User, World};

fn schemathesis() -> Option<PathBuf> {
    let candidates = [
        std::env::var("ESCROW_SCHEMATHESIS").ok().map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/schemathesis")),
    ];
    let found = candidates.into_iter().flatten().find(|p| p.is_file());
    if found.is_none() {
        let why = "schemathesis is missing (scripts/test installs it into ./.venv: pip install schemathesis==4.32.5)";
        if std::env::var("ESCROW_TEST_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
            panic!("ESCROW_TEST_REQUIRE_TOOLS=1 and {why}");
        }
        eprintln!("SKIPPED: {why}");
    }
    found
}

#[test]
fn every_route_answers_as_its_openapi_document_says_under_a_property_based_fuzz() {
    let Some(st) = schemathesis() else {
        return;
    };
    let w = World::start(&[]);
    let seed: u64 = std::env::var("ESCROW_FUZZ_SEED")
        .ok()
        .map(|s| s.trim().parse().expect("ESCROW_FUZZ_SEED is an integer"))
        .unwrap_or_else(|| rand::random::<u32>() as u64);
    let examples = std::env::var("ESCROW_FUZZ_EXAMPLES").unwrap_or_else(|_| "20".into());
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/hostile/schemathesis");
    // Schemathesis and Hypothesis keep caches in their working directory: a temporary one.
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(&st)
        .current_dir(work.path())
        .env("PYTHONPATH", &config)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("ESCROW_FUZZ_ADMIN_TOKEN", &w.admin.token)
        .env("ESCROW_FUZZ_CLIENT_TOKEN", User::new(Role::Client).token)
        .env(
            "ESCROW_FUZZ_FREELANCER_TOKEN",
            User::new(Role::Freelancer).token,
        )
        .args(["--no-color", "--config-file"])
        .arg(config.join("schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/openapi.json", w.server.base))
        .args(["--max-examples", &examples])
        .args(["--seed", &seed.to_string()])
        // One worker: CPython 3.11 has been seen to fail inside schemathesis's coverage phase
        // with several threads (SystemError: AST constructor recursion depth mismatch).
        .args(["--workers", "1", "--request-timeout", "30"])
        .output()
        .expect("run schemathesis");
    let report = String::from_utf8_lossy(&out.stdout);
    let failed = !out.status.success();
    if failed {
        eprintln!(
            "{report}\n{}\nschemathesis FAILED with seed {seed}: replay with ESCROW_FUZZ_SEED={seed} cargo test --test hostile fuzz",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        !failed,
        "schemathesis found failures (seed {seed}); see above"
    );
    let log = w.server.log();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    let cases = report
        .lines()
        .find(|l| l.contains(" generated, "))
        .unwrap_or("")
        .trim()
        .to_string();
    crate::process::figures(
        "fuzz",
        &format!(
            "openapi fuzz (schemathesis, every check, seed {seed}, {examples} examples per operation): {cases}"
        ),
    );
}
