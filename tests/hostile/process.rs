//! The real `escrow-server` binary as a child process: a clean environment (nothing from the
//! caller's `ESCROW_*`, `STRIPE_*`, `CLOUDINARY_*`, `JWT_SECRET`, `RUST_LOG` leaks in), its log
//! appended to a file in its directory (an undrained pipe could fill and stall it), its address
//! from the `listening on` line, its pid for `kill -9` and `/proc`, and a restart on the same
//! store. Shared by the hostile-input tests and the crash tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use escrow::auth::{JwtKeys, Principal, Role};
use escrow::domain::UserId;

pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`
    pub addr: String,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    dir: PathBuf,
    env: Vec<(String, String)>,
    /// Kept open: the server writes only its first line here, but a closed pipe must never be
    /// what stops it.
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Starts the server with its working and data directory `dir` and `env` on top of a clean
    /// environment; waits for it to listen.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Server::spawn(dir, env)
    }

    fn spawn(dir: &Path, env: Vec<(String, String)>) -> Server {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .expect("open the server log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_escrow-server"));
        crate::support::env::scrub(&mut cmd);
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .env("ESCROW_LISTEN", "127.0.0.1:0")
            .env("ESCROW_DATA_DIR", dir);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start escrow-server");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let Some(addr) = line.trim().strip_prefix("listening on http://") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "escrow-server did not start: {line:?}\n{}",
                std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
            );
        };
        let addr = addr.to_string();
        Server {
            child,
            base: format!("http://{addr}"),
            addr,
            dir: dir.to_path_buf(),
            env,
            _stdout: stdout,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no chance to flush, finish or clean up.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A new process on the same directory, store and settings (a new port).
    pub fn restart(&mut self) {
        self.kill9();
        *self = Server::spawn(&self.dir.clone(), self.env.clone());
    }

    /// Everything the server has logged so far (every run in this directory).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// A field of `/proc/<pid>/status` in KiB, e.g. `VmHWM` (the peak resident set).
    pub fn proc_status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/<pid>/status"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Mints an HS256 token as the server's own `escrowctl token` would.
pub fn token(secret: &str, role: Role, id: &UserId) -> String {
    let now = chrono::Utc::now().timestamp() as u64;
    JwtKeys::new(secret.as_bytes()).mint(
        &Principal {
            id: id.clone(),
            role,
        },
        now,
        3600,
    )
}

/// A raw HTTP/1.1 exchange on a new connection: writes `request`, reads until the server
/// closes or `limit` passes; returns what was read.
pub fn raw(addr: &str, request: &[u8], limit: Duration) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(limit)).unwrap();
    s.write_all(request).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A checkout.session.completed event for `contract`, shaped as Stripe shapes it.
pub fn payment_event(event_id: &str, contract: &str, amount: i64, payment_intent: &str) -> String {
    crate::support::stripe::checkout_completed(
        event_id,
        &format!("cs_test_{payment_intent}"),
        Some(payment_intent),
        amount,
        serde_json::json!({"contractId": contract}),
    )
}

pub use crate::support::stripe::signature;

/// `escrowctl --json verify` as a process on the same store; returns its exit code and JSON.
pub fn escrowctl_verify(dir: &Path, env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_escrowctl"));
    crate::support::env::scrub(&mut cmd);
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .env("ESCROW_DATA_DIR", dir)
        .args(["--json", "verify"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run escrowctl");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let v = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.code().unwrap_or(-1),
        v,
        format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)),
    )
}

/// Prints a test's line of figures and keeps it in `test-output/guarantees/<name>.txt` (or
/// under `ESCROW_TEST_OUTPUT`), where `scripts/test` collects them for the README.
pub fn figures(name: &str, line: &str) {
    println!("{line}");
    let base = std::env::var("ESCROW_TEST_OUTPUT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-output"));
    let dir = base.join("guarantees");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join(format!("{name}.txt")), format!("{line}\n"));
    }
}
