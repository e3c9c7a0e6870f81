//! The outside tools some tests need (Node with the committed `tests/js` packages, Debian's
//! Chromium) and where tests put their output. `scripts/test` installs the tools and sets
//! `ESCROW_TEST_REQUIRE_TOOLS=1`: then a missing tool fails the test loudly. Under a plain
//! `cargo test` such a test prints why it skips and passes.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

pub fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

fn required() -> bool {
    std::env::var("ESCROW_TEST_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// `Ok(())` when the tool is there; otherwise panics under `scripts/test`, or returns the
/// reason to skip.
pub fn need(what: &str, present: bool, hint: &str) -> Result<(), String> {
    if present {
        return Ok(());
    }
    let why = format!("{what} is missing ({hint})");
    if required() {
        panic!("ESCROW_TEST_REQUIRE_TOOLS=1 and {why}");
    }
    eprintln!("SKIPPED: {why}; run scripts/test to install it");
    Err(why)
}

pub fn node_packages() -> Result<(), String> {
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    need("node", node, "Debian/NodeSource node on PATH")?;
    let installed = js_dir().join("node_modules/stripe/package.json").exists()
        && js_dir()
            .join("node_modules/playwright-core/package.json")
            .exists();
    need(
        "tests/js/node_modules",
        installed,
        "`npm ci --prefix tests/js` installs stripe and playwright-core",
    )
}

pub fn chromium() -> Result<PathBuf, String> {
    let path =
        PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    need(
        "Chromium",
        path.exists(),
        "`apt-get install chromium chromium-driver`",
    )?;
    Ok(path)
}

/// Runs `tests/js/<script>` with `input` as JSON on stdin; returns its JSON answer.
pub fn node(script: &str, input: &Value) -> Value {
    let mut child = Command::new("node")
        .arg(js_dir().join(script))
        .current_dir(js_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("node output");
    assert!(
        out.status.success(),
        "node {script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "node {script} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Where a test leaves files worth looking at (screenshots): `ESCROW_TEST_OUTPUT`, or
/// `test-output/` at the top of the repository (git-ignored).
pub fn output_dir(test: &str) -> PathBuf {
    let base = std::env::var("ESCROW_TEST_OUTPUT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-output"));
    let dir = base.join(test);
    std::fs::create_dir_all(&dir).expect("create the test output directory");
    dir
}
