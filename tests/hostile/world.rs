//! A server process with known secrets, the parties of its contracts, helpers that move a
//! contract into each state over HTTP, and a snapshot of everything an attack could change.

use std::path::PathBuf;

use escrow::auth::Role;
use escrow::domain::{JobId, UserId};
use serde_json::{Value, json};

use crate::process::{Server, payment_event, signature, token};

pub const JWT_SECRET: &str = "hostile-jwt-secret-0123456789";
pub const WEBHOOK_SECRET: &str = "whsec_hostile_secret";

/// A user and a valid token of theirs.
#[derive(Clone)]
pub struct User {
    pub id: UserId,
    pub role: Role,
    pub token: String,
}

impl User {
    pub fn new(role: Role) -> User {
        let id = UserId::generate();
        User {
            token: token(JWT_SECRET, role, &id),
            id,
            role,
        }
    }
}

/// One contract of `client` and `freelancer`.
#[derive(Clone)]
pub struct Deal {
    pub job: JobId,
    pub contract: String,
}

pub struct World {
    pub server: Server,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    pub admin: User,
}

impl World {
    /// A server on a fresh SQLite store with the test secrets and `env` on top.
    pub fn start(env: &[(&str, &str)]) -> World {
        World::start_in(tempfile::tempdir().unwrap(), env)
    }

    /// A server whose data directory is `dir` (which a test may have prepared).
    pub fn start_in(dir: tempfile::TempDir, env: &[(&str, &str)]) -> World {
        let mut all = vec![
            ("JWT_SECRET", JWT_SECRET),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("RUST_LOG", "warn"),
        ];
        all.extend_from_slice(env);
        let server = Server::start(dir.path(), &all);
        World {
            server,
            dir,
            // A fresh connection per request: the attacks make the server close connections
            // (413 before the body, timeouts), and reusing one it just closed would fail the
            // request in the client, not in the server under test.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            admin: User::new(Role::Admin),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base)
    }

    pub fn media_dir(&self) -> PathBuf {
        self.dir.path().join("media")
    }

    /// Files in the media directory and in its spool (`.incoming`).
    pub fn media_files(&self) -> (Vec<String>, Vec<String>) {
        let list = |p: PathBuf| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(p)
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            names
        };
        (
            list(self.media_dir()),
            list(self.media_dir().join(".incoming")),
        )
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut r = self.http.request(method.parse().unwrap(), self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        let r = r.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn ok(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> Value {
        let (status, v) = self.send(method, path, Some(token), body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {v}"
        );
        v
    }

    /// A contract created by `client`, not yet approved.
    pub async fn created(&self, client: &User, freelancer: &User) -> Deal {
        let job = JobId::generate();
        let v = self
            .ok(
                "POST",
                &format!("/api/client/contract/create-contract/{job}"),
                &client.token,
                Some(&json!({"freelancerId": freelancer.id.as_str(), "amount": "1000", "title": "Logo"})),
            )
            .await;
        Deal {
            job,
            contract: v["data"]["id"].as_str().unwrap().to_string(),
        }
    }

    pub async fn approved(&self, client: &User, freelancer: &User) -> Deal {
        let d = self.created(client, freelancer).await;
        self.ok(
            "POST",
            &format!("/api/freelancer/contract/approve-contract/{}", d.contract),
            &freelancer.token,
            None,
        )
        .await;
        d
    }

    pub async fn pay(&self, d: &Deal) {
        let body = payment_event(
            &format!("evt_{}", d.contract),
            &d.contract,
            100_000,
            &format!("pi_{}", d.contract),
        );
        let r = self
            .http
            .post(self.url("/webhook"))
            .header("stripe-signature", signature(&body, WEBHOOK_SECRET))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    pub async fn funded(&self, client: &User, freelancer: &User) -> Deal {
        let d = self.approved(client, freelancer).await;
        self.pay(&d).await;
        d
    }

    /// Funded and Completed, release not yet requested.
    pub async fn completed(&self, client: &User, freelancer: &User) -> Deal {
        let d = self.funded(client, freelancer).await;
        for s in ["Started", "Ongoing", "Completed"] {
            self.ok(
                "PUT",
                &format!("/api/freelancer/contract/update-status/{}", d.contract),
                &freelancer.token,
                Some(&json!({ "status": s })),
            )
            .await;
        }
        d
    }

    pub async fn requested(&self, client: &User, freelancer: &User) -> Deal {
        let d = self.completed(client, freelancer).await;
        self.ok(
            "PATCH",
            &format!("/api/client/contract/release-fund/{}", d.contract),
            &client.token,
            None,
        )
        .await;
        d
    }

    /// Everything an attack could have changed, as the admin and the store see it: each
    /// contract with its escrow, history and ledger, each wallet, the reports, the reviews of
    /// each freelancer, the webhook events, and the media files.
    pub async fn snapshot(&self, deals: &[&Deal], users: &[&User]) -> Value {
        let mut out = serde_json::Map::new();
        for d in deals {
            let (s, v) = self
                .send(
                    "GET",
                    &format!("/api/contracts/{}", d.contract),
                    Some(&self.admin.token),
                    None,
                )
                .await;
            assert_eq!(s, 200, "{v}");
            out.insert(format!("contract {}", d.contract), v);
        }
        for u in users {
            let (_, v) = self
                .send(
                    "GET",
                    &format!("/api/admin/wallet/{}", u.id),
                    Some(&self.admin.token),
                    None,
                )
                .await;
            out.insert(format!("wallet {}", u.id), v);
            let (_, v) = self
                .send(
                    "GET",
                    &format!("/api/client/review/show-reviews/{}", u.id),
                    None,
                    None,
                )
                .await;
            out.insert(format!("reviews {}", u.id), v);
        }
        for r in [
            "balance",
            "total-revenue",
            "transactions?limit=100",
            "sales-report",
        ] {
            let (_, v) = self
                .send(
                    "GET",
                    &format!("/api/admin/escrow/{r}"),
                    Some(&self.admin.token),
                    None,
                )
                .await;
            out.insert(r.into(), v);
        }
        out.insert("webhook events".into(), self.events());
        let (media, spool) = self.media_files();
        out.insert("media".into(), json!(media));
        out.insert("spool".into(), json!(spool));
        Value::Object(out)
    }

    /// `escrowctl --json webhooks list` on the server's store.
    pub fn events(&self) -> Value {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_escrowctl"))
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ESCROW_DATA_DIR", self.dir.path())
            .env("JWT_SECRET", JWT_SECRET)
            .env("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .args(["--json", "webhooks", "list", "--limit", "1000"])
            .output()
            .expect("run escrowctl");
        assert!(
            out.status.success(),
            "escrowctl webhooks list: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("escrowctl prints JSON")
    }
}

/// The `{error: {code}}` of a reply.
pub fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("<no code>")
}

/// The JSON paths where two snapshots differ, with both values (empty when equal).
pub fn diff(before: &Value, after: &Value) -> String {
    fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    walk(
                        &format!("{path}/{k}"),
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                        out,
                    );
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    walk(&format!("{path}/{i}"), p, q, out);
                }
            }
            _ if a != b => out.push(format!("{path}: {a} -> {b}")),
            _ => {}
        }
    }
    let mut out = vec![];
    walk("", before, after, &mut out);
    out.join("\n")
}
