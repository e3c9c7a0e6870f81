//! How escrowctl talks: colour and width of tables, the error line, configuration, `token`,
//! `completions`, `--help`.

use escrow::auth::{JwtKeys, Role};
use escrow::domain::UserId;

use crate::helpers::{Fixture, JWT_SECRET};

const ESC: char = '\u{1b}';

#[tokio::test]
async fn tables_are_coloured_only_when_asked_and_never_with_no_color() {
    let f = Fixture::new().await;
    f.requested("1000").await;
    // Not a terminal: plain.
    let plain = f.ctl(&["escrow", "list"]).await;
    assert!(!plain.stdout.contains(ESC), "{}", plain.stdout);
    // CLICOLOR_FORCE colours a pipe...
    let forced = f
        .ctl_env(&["escrow", "list"], &[("CLICOLOR_FORCE", "1")])
        .await;
    assert!(forced.stdout.contains(ESC), "{}", forced.stdout);
    // ...but NO_COLOR wins.
    let no_color = f
        .ctl_env(
            &["escrow", "list"],
            &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
        )
        .await;
    no_color.assert_code(0);
    assert!(!no_color.stdout.contains(ESC), "{}", no_color.stdout);
}

#[tokio::test]
async fn tables_fit_the_width_given_by_columns() {
    let f = Fixture::new().await;
    let d = f.requested("1000").await;
    let widest = |text: &str| text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    let wide = f.ctl(&["escrow", "list"]).await;
    assert!(widest(&wide.stdout) > 80, "{}", wide.stdout);
    let narrow = f.ctl_env(&["escrow", "list"], &[("COLUMNS", "80")]).await;
    narrow.assert_code(0);
    assert!(widest(&narrow.stdout) <= 80, "{}", narrow.stdout);
    // The cells wrap, their values stay.
    assert!(narrow.stdout.contains("1000.00"), "{}", narrow.stdout);
    let show = f
        .ctl_env(&["escrow", "show", &d.contract], &[("COLUMNS", "60")])
        .await;
    assert!(widest(&show.stdout) <= 60, "{}", show.stdout);
}

#[tokio::test]
async fn an_error_is_one_line_of_text_or_of_json_and_nothing_on_stdout() {
    let f = Fixture::new().await;
    let unknown = escrow::domain::ContractId::generate().to_string();
    let r = f.ctl(&["escrow", "show", &unknown]).await;
    r.assert_code(3);
    assert_eq!(
        r.error_line(),
        format!("escrowctl: contract {unknown} not found [contract.not_found]")
    );
    assert!(r.stdout.is_empty());
    let r = f.ctl(&["--json", "escrow", "show", &unknown]).await;
    r.assert_code(3);
    let v: serde_json::Value = serde_json::from_str(r.error_line()).unwrap();
    assert_eq!(v["code"], "contract.not_found");
    assert!(r.stdout.is_empty());
}

#[tokio::test]
async fn a_missing_store_is_refused_not_created() {
    let f = Fixture::new().await;
    let missing = f.dir.path().join("elsewhere").join("escrow.db");
    let url = format!("sqlite://{}", missing.display());
    let r = f.ctl(&["--database-url", &url, "escrow", "list"]).await;
    r.assert_code(1);
    assert!(r.error_line().contains("no store at"), "{}", r.stderr);
    assert!(!missing.exists());
    assert!(!missing.parent().unwrap().exists());
}

#[tokio::test]
async fn database_url_overrides_the_environment() {
    let f = Fixture::new().await;
    f.funded("1000").await;
    let url = format!("sqlite://{}", f.db_path().display());
    let elsewhere = format!("sqlite://{}", f.dir.path().join("nothing.db").display());
    // The environment points nowhere; the flag at the fixture's store.
    let r = f
        .ctl_env(
            &["--json", "escrow", "list", "--database-url", &url],
            &[("ESCROW_DATABASE_URL", elsewhere.as_str())],
        )
        .await;
    assert_eq!(r.assert_code(0).json()["count"], 1);
    let r = f
        .ctl_env(
            &["escrow", "list"],
            &[("ESCROW_DATABASE_URL", elsewhere.as_str())],
        )
        .await;
    r.assert_code(1);
    let bad = f
        .ctl(&["escrow", "list", "--database-url", "postgres://x"])
        .await;
    bad.assert_code(2);
    assert!(
        bad.error_line().contains("ESCROW_DATABASE_URL"),
        "{}",
        bad.stderr
    );
}

#[tokio::test]
async fn a_config_file_is_read_like_the_servers() {
    let f = Fixture::new().await;
    f.funded("1000").await;
    let file = f.dir.path().join("escrow.toml");
    std::fs::write(
        &file,
        format!(
            "escrow_database_url = \"sqlite://{}\"\n",
            f.db_path().display()
        ),
    )
    .unwrap();
    let r = f
        .ctl_env(
            &[
                "--json",
                "--config",
                file.to_str().unwrap(),
                "escrow",
                "list",
            ],
            &[("ESCROW_DATA_DIR", "/nonexistent-escrow-dir")],
        )
        .await;
    assert_eq!(r.assert_code(0).json()["count"], 1);
}

#[tokio::test]
async fn token_mints_what_the_server_accepts_for_the_asked_lifetime() {
    let f = Fixture::new().await;
    let id = UserId::generate();
    let r = f
        .ctl(&[
            "token",
            "--role",
            "admin",
            "--id",
            id.as_str(),
            "--ttl",
            "2h",
        ])
        .await;
    r.assert_code(0);
    let token = r.stdout.trim();
    let p = JwtKeys::new(JWT_SECRET.as_bytes())
        .verify(token)
        .expect("valid");
    assert_eq!((p.id, p.role), (id.clone(), Role::Admin));
    let v = f
        .ctl(&[
            "--json",
            "token",
            "--role",
            "client",
            "--id",
            id.as_str(),
            "--ttl",
            "10m",
        ])
        .await
        .assert_code(0)
        .json();
    assert_eq!(v["role"], "client");
    let expires = chrono::DateTime::parse_from_rfc3339(v["expiresAt"].as_str().unwrap()).unwrap();
    let left = expires.timestamp() - chrono::Utc::now().timestamp();
    assert!((590..=600).contains(&left), "{left}");
    f.ctl(&["token", "--role", "root", "--id", id.as_str()])
        .await
        .assert_code(2);
    f.ctl(&[
        "token",
        "--role",
        "admin",
        "--id",
        id.as_str(),
        "--ttl",
        "90d",
    ])
    .await
    .assert_code(2);
}

#[tokio::test]
async fn token_is_refused_in_production() {
    let f = Fixture::new().await;
    let r = f
        .ctl_env(
            &[
                "token",
                "--role",
                "admin",
                "--id",
                UserId::generate().as_str(),
            ],
            &[
                ("ESCROW_ENV", "production"),
                ("STRIPE_SECRET_KEY", "sk_live_x"),
            ],
        )
        .await;
    r.assert_code(2);
    assert!(r.stdout.is_empty());
    assert!(
        r.error_line().contains("[token.production]"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn completions_are_printed_for_every_shell() {
    let f = Fixture::new().await;
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef escrowctl"),
        ("fish", "complete -c escrowctl"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer"),
    ] {
        let r = f.ctl(&["completions", shell]).await;
        r.assert_code(0);
        assert!(r.stdout.contains(marker), "{shell}: no {marker}");
        assert!(r.stdout.contains("release"), "{shell}: no release");
        let committed = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("completions")
                .join(escrow_file(shell)),
        )
        .unwrap();
        assert_eq!(r.stdout, committed, "{shell}: differs from completions/");
    }
    f.ctl(&["completions", "tcsh"]).await.assert_code(2);
}

fn escrow_file(shell: &str) -> &'static str {
    match shell {
        "bash" => "escrowctl.bash",
        "zsh" => "_escrowctl",
        "fish" => "escrowctl.fish",
        "powershell" => "_escrowctl.ps1",
        _ => "escrowctl.elv",
    }
}

#[tokio::test]
async fn help_documents_every_exit_code() {
    let f = Fixture::new().await;
    let r = f.ctl(&["--help"]).await;
    r.assert_code(0);
    for line in [
        "0  ok",
        "1  error",
        "2  usage or validation",
        "3  not found",
        "4  wrong state or conflict",
        "5  payment provider failed",
    ] {
        assert!(r.stdout.contains(line), "{line} missing:\n{}", r.stdout);
    }
    // A usage error is clap's, with code 2.
    f.ctl(&["escrow", "frobnicate"]).await.assert_code(2);
}
