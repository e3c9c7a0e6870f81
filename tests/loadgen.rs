//! The load generator works (a smoke run of every scenario; never a timing: figures come from
//! BENCHMARKS.md's command, not from tests).

/// An example's binary, built beside the server's by `cargo test`.
fn example(name: &str) -> std::path::PathBuf {
    let server = std::path::Path::new(env!("CARGO_BIN_EXE_escrow-server"));
    let path = server
        .parent()
        .unwrap()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is not built (cargo test builds examples)",
        path.display()
    );
    path
}

#[test]
fn the_load_generator_runs_every_scenario() {
    let server = std::path::Path::new(env!("CARGO_BIN_EXE_escrow-server"));
    let loadgen = example("loadgen");
    let out = std::process::Command::new(&loadgen)
        .args(["--smoke", "--server-bin"])
        .arg(server)
        .arg("--ctl-bin")
        .arg(env!("CARGO_BIN_EXE_escrowctl"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for scenario in [
        "baseline",
        "reviews",
        "mixed",
        "webhooks, commit delay 0 ms, group commit on",
        "releases, commit delay 2 ms, group commit off",
    ] {
        assert!(stdout.contains(scenario), "missing {scenario}:\n{stdout}");
    }
    assert!(stdout.contains("peak RSS"));
}

/// The scale benchmark works: it fills a store through the library to two sizes and prints a
/// row for each (it asserts `verify` is clean after each fill; the timings are not checked).
#[test]
fn the_scale_benchmark_fills_a_store_and_times_every_read() {
    let out = std::process::Command::new(example("scale"))
        .args(["--sizes", "40,90", "--repeat", "2", "--concurrency", "8"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("| 40 |") || l.starts_with("| 90 |"))
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(
        rows.iter().all(|r| r.matches('|').count() == 11),
        "{stdout}"
    );
}
