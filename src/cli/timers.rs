//! `escrowctl timers list [--due]`.

use comfy_table::Cell;
use serde::Serialize;

use super::args::{TimersCommand, TimersListArgs};
use super::confirm::operator;
use super::exit::CliError;
use super::output::{Output, short_time};
use crate::domain::Timer;
use crate::service::{Service, UseCase};
use crate::views::time;

pub async fn run(service: &Service, out: &Output, command: TimersCommand) -> Result<(), CliError> {
    match command {
        TimersCommand::List(a) => list(service, out, a).await,
    }
}

/// A timer as `--json` prints it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TimerView {
    id: String,
    kind: &'static str,
    subject: String,
    due_at: String,
    due: bool,
    holder: Option<String>,
    lease_until: Option<String>,
    attempts: u32,
    last_error: Option<String>,
    created_at: String,
}

impl TimerView {
    fn of(t: &Timer, now: i64) -> TimerView {
        TimerView {
            id: t.id.clone(),
            kind: t.kind.as_str(),
            subject: t.subject.clone(),
            due_at: time(t.due_at),
            due: t.due_at <= now,
            holder: t.holder.clone().filter(|_| t.lease_until > now),
            lease_until: (t.lease_until > now).then(|| time(t.lease_until)),
            attempts: t.attempts,
            last_error: t.last_error.clone(),
            created_at: time(t.created_at),
        }
    }
}

async fn list(service: &Service, out: &Output, a: TimersListArgs) -> Result<(), CliError> {
    let caller = operator(None);
    let permit = service.permit(&caller, UseCase::Operate)?;
    let now = service.now_ms();
    let timers: Vec<TimerView> = service
        .timers(permit, a.due, a.limit)
        .await?
        .iter()
        .map(|t| TimerView::of(t, now))
        .collect();
    if out.is_json() {
        return out.json(&serde_json::json!({ "data": timers }));
    }
    let mut t = out.new_table(&[
        "Timer".into(),
        "Due".into(),
        "Held by".into(),
        "Attempts".into(),
        "Last error".into(),
    ]);
    for v in &timers {
        t.add_row(vec![
            Cell::new(&v.id),
            Cell::new(format!(
                "{}{}",
                short_time(&v.due_at),
                if v.due { " (due)" } else { "" }
            )),
            Cell::new(v.holder.clone().unwrap_or_default()),
            Cell::new(v.attempts),
            Cell::new(v.last_error.clone().unwrap_or_default()),
        ]);
    }
    out.table(&t)?;
    out.line(&format!("{} timers not done", timers.len()))
}
