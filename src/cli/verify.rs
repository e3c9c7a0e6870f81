//! `escrowctl verify`: every ledger invariant of DESIGN §4 over the whole store. Prints what
//! it checked and every violation with the ids involved; exit 1 on any violation.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::confirm::operator;
use super::exit::{CliError, Exit};
use super::output::Output;
use crate::domain::verify::Report;
use crate::service::ErrorCode;
use crate::service::{Service, UseCase};

/// A run shorter than this shows no progress bar at all.
const PROGRESS_DELAY: Duration = Duration::from_millis(300);

/// The `--json` document.
#[derive(Serialize)]
struct VerifyDocument<'a> {
    ok: bool,
    #[serde(flatten)]
    report: &'a Report,
}

/// A progress bar on stderr that appears only on a terminal and only once the run has taken
/// longer than a moment, so quick runs and pipes stay clean.
struct Progress {
    bar: ProgressBar,
    started: Instant,
    terminal: bool,
    shown: bool,
}

impl Progress {
    fn new(total: u64) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        if let Ok(style) =
            ProgressStyle::with_template("verifying {bar:40} {pos}/{len} records ({eta} left)")
        {
            bar.set_style(style);
        }
        Progress {
            bar,
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    fn update(&mut self, seen: u64) {
        if self.terminal && !self.shown && self.started.elapsed() >= PROGRESS_DELAY {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown = true;
        }
        self.bar.set_position(seen);
    }

    fn finish(self) {
        self.bar.finish_and_clear();
    }
}

pub async fn run(service: &Service, out: &Output) -> Result<(), CliError> {
    let caller = operator(None);
    let total = service
        .verify_record_count(service.permit(&caller, UseCase::Operate)?)
        .await?;
    let mut progress = Progress::new(total);
    let report = service
        .verify(service.permit(&caller, UseCase::Operate)?, |seen| {
            progress.update(seen)
        })
        .await;
    progress.finish();
    let report = report?;
    if out.is_json() {
        out.json(&VerifyDocument {
            ok: report.ok(),
            report: &report,
        })?;
    } else {
        print_tables(out, &report)?;
    }
    if report.ok() {
        Ok(())
    } else {
        Err(CliError::new(
            Exit::Error,
            ErrorCode::VerifyViolations,
            format!(
                "{} violation(s) of the ledger invariants",
                report.violations.len()
            ),
        ))
    }
}

fn print_tables(out: &Output, report: &Report) -> Result<(), CliError> {
    let c = &report.counts;
    out.line("Checked")?;
    out.table(&out.fields(vec![
        ("Contracts", c.contracts.to_string()),
        ("Escrows", c.escrows.to_string()),
        ("Ledger entries", c.entries.to_string()),
        ("Transfers", c.transfers.to_string()),
        ("Accounts", c.accounts.to_string()),
        ("Wallets", c.wallets.to_string()),
        ("Payouts", c.payouts.to_string()),
        ("Kept balances", c.kept_balances.to_string()),
    ]))?;
    if report.ok() {
        let kept = if c.kept_balances > 0 {
            ", kept balances equal their entries"
        } else {
            ""
        };
        return out.line(&format!(
            "OK: accounts sum to zero, every transfer balances, no escrow is negative, closed \
             escrows are empty, wallets equal their entries, every funded escrow has one \
             payment, no wallet is negative, every payout's account matches its state and every \
             paid payout has one transfer{kept}"
        ));
    }
    let mut t = out.new_table(&["Rule".into(), "Ids".into(), "Detail".into()]);
    for v in &report.violations {
        t.add_row(vec![v.rule.to_string(), v.ids.join(" "), v.detail.clone()]);
    }
    out.line("Violations")?;
    out.table(&t)
}
