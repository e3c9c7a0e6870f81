//! A store prepared through the library (the same service the server runs, on a fresh SQLite
//! file in a temp directory), and the real `escrowctl` binary run against it as a process with
//! stdin closed (not a terminal).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use escrow::auth::{Principal, Role};
use escrow::config::{Config, Sources};
use escrow::domain::{Contract, ContractId, ContractStatus, JobId, Money, Rating, UserId};
use escrow::service::contracts::NewContract;
use escrow::service::escrow::{MovePlan, Refund, Release};
use escrow::service::input::Reason;
use escrow::service::reviews::NewReview;
use escrow::service::{Caller, Error, Service, UseCase, input};
use serde_json::{Value, json};

pub const JWT_SECRET: &str = "cli-test-jwt-secret-0123456789";
pub const WEBHOOK_SECRET: &str = "whsec_cli_test_secret";

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub service: Arc<Service>,
    /// Settings on top of the defaults, for the library and the binary alike.
    env: Vec<(String, String)>,
}

/// One contract and its parties.
#[derive(Debug, Clone)]
pub struct Deal {
    pub client: UserId,
    pub freelancer: UserId,
    pub job: JobId,
    pub contract: String,
}

impl Deal {
    pub fn id(&self) -> ContractId {
        self.contract.parse().expect("a contract id")
    }
}

/// What a run of the binary left behind.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Stdout as exactly one JSON document (trailing text makes this fail).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The error line: exactly one line on stderr.
    #[track_caller]
    pub fn error_line(&self) -> &str {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "stderr is not one line: {:?}", self.stderr);
        lines[0]
    }
}

pub fn user(role: Role, id: &UserId) -> Caller {
    Caller::User(Principal {
        id: id.clone(),
        role,
    })
}

/// An operator, as the binary acts.
fn operator() -> Caller {
    Caller::operator("test:fixture")
}

impl Fixture {
    pub async fn new() -> Fixture {
        Fixture::with(&[]).await
    }

    /// A fixture whose library and binary both run with `env` on top of the defaults (a
    /// payment provider, say).
    pub async fn with(env: &[(&str, &str)]) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let values: HashMap<String, String> = [
            ("ESCROW_DATA_DIR", dir.path().to_string_lossy().to_string()),
            ("JWT_SECRET", JWT_SECRET.to_string()),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(env.iter().cloned())
        .collect();
        let config = Config::from_sources(&Sources::from_map(values)).expect("test config");
        let service = escrow::startup::build_service(&config, "http://127.0.0.1:9")
            .await
            .expect("service");
        Fixture { dir, service, env }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("escrow.db")
    }

    /// The binary with the fixture's settings and nothing from the caller's environment that
    /// could change its behaviour.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_escrowctl"));
        crate::support::env::scrub(&mut cmd);
        cmd.env("ESCROW_DATA_DIR", self.dir.path())
            .env("JWT_SECRET", JWT_SECRET)
            .env("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .args(args)
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `escrowctl ARGS` to completion (off the async threads).
    pub async fn ctl(&self, args: &[&str]) -> Run {
        self.run(self.command(args)).await
    }

    pub async fn ctl_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        self.run(cmd).await
    }

    /// Runs `escrowctl ARGS` on a pseudo-terminal (util-linux `script`), typing `keys`. `None`
    /// when this machine has no such `script`; the caller skips and says why.
    pub async fn ctl_at_terminal(&self, args: &[&str], keys: &str) -> Option<Run> {
        let version = Command::new("script").arg("--version").output().ok()?;
        if !String::from_utf8_lossy(&version.stdout).contains("util-linux") {
            return None;
        }
        let base = self.command(args);
        let line = std::iter::once(base.get_program())
            .chain(base.get_args())
            .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', "")))
            .collect::<Vec<_>>()
            .join(" ");
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"]);
        for (k, v) in base.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let keys = keys.to_string();
        let out = tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut child = cmd.spawn()?;
            child
                .stdin
                .take()
                .expect("piped")
                .write_all(keys.as_bytes())?;
            child.wait_with_output()
        })
        .await
        .expect("join")
        .expect("script runs");
        Some(Run {
            code: out.status.code().expect("exited, not killed"),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    async fn run(&self, mut cmd: Command) -> Run {
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("join")
            .expect("escrowctl runs");
        Run {
            code: out.status.code().expect("exited, not killed"),
            stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
            stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
        }
    }

    /// A contract created and approved, not paid.
    pub async fn approved(&self, rupees: &str) -> Deal {
        self.approved_for(&UserId::generate(), rupees).await
    }

    pub async fn approved_for(&self, freelancer: &UserId, rupees: &str) -> Deal {
        self.approved_with(freelancer, rupees, None).await
    }

    /// A contract in milestones of these amounts (rupees), created and approved, not paid.
    pub async fn approved_in_parts(&self, parts: &[&str]) -> Deal {
        let currency = self.service.settings().currency;
        let plans: Vec<escrow::domain::MilestonePlan> = parts
            .iter()
            .enumerate()
            .map(|(i, r)| escrow::domain::MilestonePlan {
                title: format!("Part {}", i + 1),
                amount: Money::parse_major(r, currency).unwrap().minor,
            })
            .collect();
        let total: i64 = plans.iter().map(|p| p.amount.get()).sum();
        let total =
            escrow::domain::money::format_minor(escrow::domain::MinorUnits::new(total), currency);
        self.approved_with(&UserId::generate(), &total, Some(plans))
            .await
    }

    async fn approved_with(
        &self,
        freelancer: &UserId,
        rupees: &str,
        milestones: Option<Vec<escrow::domain::MilestonePlan>>,
    ) -> Deal {
        let (client, job) = (UserId::generate(), JobId::generate());
        let new = NewContract {
            job: job.clone(),
            freelancer: freelancer.clone(),
            amount: Money::parse_major(rupees, self.service.settings().currency).unwrap(),
            title: Some(input::title("Logo design").unwrap()),
            milestones,
        };
        let as_client = user(Role::Client, &client);
        let permit = self
            .service
            .permit(&as_client, UseCase::CreateContract)
            .unwrap();
        let c = self
            .service
            .create_contract(permit, new)
            .await
            .expect("create contract");
        let as_freelancer = user(Role::Freelancer, freelancer);
        let permit = self
            .service
            .permit(&as_freelancer, UseCase::ApproveContract)
            .unwrap();
        self.service
            .approve_contract(permit, &c.id)
            .await
            .expect("approve");
        Deal {
            client,
            freelancer: freelancer.clone(),
            job,
            contract: c.id.to_string(),
        }
    }

    /// The stored contract, as an operator reads it.
    pub async fn contract(&self, d: &Deal) -> Contract {
        let op = operator();
        let permit = self.service.permit(&op, UseCase::ViewContract).unwrap();
        self.service
            .contract(permit, &d.id())
            .await
            .unwrap()
            .contract
    }

    /// Pays through a signed webhook, as Stripe would: the escrow is funded.
    pub async fn pay(&self, d: &Deal) {
        let amount = self.contract(d).await.amount.get();
        let reply = self
            .webhook(&payment_event(&format!("evt_{}", d.contract), d, amount))
            .await;
        assert_eq!(reply["outcome"], "applied", "{reply}");
    }

    pub async fn funded(&self, rupees: &str) -> Deal {
        let d = self.approved(rupees).await;
        self.pay(&d).await;
        d
    }

    /// Funded, worked to Completed, release requested by the client.
    pub async fn requested(&self, rupees: &str) -> Deal {
        self.requested_for(&UserId::generate(), rupees).await
    }

    pub async fn requested_for(&self, freelancer: &UserId, rupees: &str) -> Deal {
        let d = self.approved_for(freelancer, rupees).await;
        self.pay(&d).await;
        self.complete(&d).await;
        let as_client = user(Role::Client, &d.client);
        let permit = self
            .service
            .permit(&as_client, UseCase::RequestRelease)
            .unwrap();
        self.service
            .request_release(permit, &d.id(), None)
            .await
            .expect("request release");
        d
    }

    pub async fn complete(&self, d: &Deal) {
        let as_freelancer = user(Role::Freelancer, &d.freelancer);
        for s in [
            ContractStatus::Started,
            ContractStatus::Ongoing,
            ContractStatus::Completed,
        ] {
            let permit = self
                .service
                .permit(&as_freelancer, UseCase::UpdateStatus)
                .unwrap();
            self.service
                .update_status(permit, &d.id(), s)
                .await
                .unwrap_or_else(|e| panic!("to {s:?}: {e}"));
        }
    }

    pub async fn review(&self, d: &Deal, rating: u8, text: &str) {
        let new = NewReview {
            contract: d.id(),
            freelancer: d.freelancer.clone(),
            rating: Rating::from_int(rating.into()).unwrap(),
            description: text.to_string(),
        };
        let as_client = user(Role::Client, &d.client);
        let permit = self
            .service
            .permit(&as_client, UseCase::RateFreelancer { client: &d.client })
            .unwrap();
        self.service
            .rate_freelancer(permit, new)
            .await
            .expect("review");
    }

    /// Delivers a signed event to the service; the reply as the API writes it.
    pub async fn webhook(&self, body: &str) -> Value {
        let header = crate::support::stripe::signature(body, WEBHOOK_SECRET);
        let delivery = self
            .service
            .handle_webhook(body.as_bytes(), Some(&header))
            .await
            .expect("webhook");
        serde_json::to_value(escrow::views::WebhookReply::from(delivery)).unwrap()
    }

    pub async fn escrow_status(&self, d: &Deal) -> String {
        self.contract(d)
            .await
            .escrow()
            .map(|e| e.status.as_str().to_string())
            .unwrap_or_else(|| "none".into())
    }

    pub async fn wallet_balance(&self, user: &UserId) -> i64 {
        let op = operator();
        let permit = self
            .service
            .permit(&op, UseCase::ViewWallet { owner: user })
            .unwrap();
        self.service
            .wallet(permit, Default::default())
            .await
            .unwrap()
            .balance
            .minor
            .get()
    }

    /// What `escrowctl escrow refund` would move now (the status rule's split).
    pub async fn plan_refund(&self, d: &Deal) -> Result<MovePlan, Error> {
        let op = operator();
        let permit = self.service.permit(&op, UseCase::Refund { client: None })?;
        self.service.plan_refund(permit, &refund_of(d)).await
    }

    /// What `escrowctl escrow release [--force --reason R]` would move now.
    pub async fn plan_release(&self, d: &Deal, force: Option<&str>) -> Result<MovePlan, Error> {
        let release = Release {
            contract: d.id(),
            milestone: None,
            force: force.map(Reason::parse).transpose()?,
        };
        let op = operator();
        let permit = self.service.permit(&op, UseCase::Release)?;
        self.service.plan_release(permit, &release).await
    }

    /// `escrowctl escrow refund --yes` through the library: the status rule's split.
    pub async fn refund(&self, d: &Deal) -> Result<Contract, Error> {
        let op = operator();
        let permit = self.service.permit(&op, UseCase::Refund { client: None })?;
        self.service.refund(permit, &refund_of(d)).await
    }

    /// The deal's client disputes it (through the library, as the HTTP route does).
    pub async fn dispute(&self, d: &Deal, reason: &str) {
        let as_client = user(Role::Client, &d.client);
        let permit = self.service.permit(&as_client, UseCase::Dispute).unwrap();
        self.service
            .open_dispute(permit, &d.id(), reason, "")
            .await
            .expect("dispute");
    }

    /// The record's version: unchanged means nothing was written.
    pub async fn version(&self, d: &Deal) -> i64 {
        self.contract(d).await.version
    }
}

fn refund_of(d: &Deal) -> Refund {
    Refund {
        contract: d.id(),
        reason: "r".into(),
        description: String::new(),
        freelancer_share: None,
    }
}

/// A `checkout.session.completed` event for the deal, shaped as Stripe sends it.
pub fn payment_event(event_id: &str, d: &Deal, amount: i64) -> String {
    crate::support::stripe::checkout_completed(
        event_id,
        &format!("cs_test_{}", d.contract),
        Some(&format!("pi_{}", d.contract)),
        amount,
        json!({"jobId": d.job.as_str(), "clientId": d.client.as_str(), "freelancerId": d.freelancer.as_str(), "contractId": d.contract}),
    )
}
