//! `escrowctl webhooks list [--failed]`.

use comfy_table::Cell;
use serde::Serialize;

use super::args::{WebhooksCommand, WebhooksListArgs};
use super::confirm::operator;
use super::exit::CliError;
use super::output::{Output, short_time};
use crate::service::{Service, UseCase};
use crate::store::Page;
use crate::views::EventView;

/// The `--json` document: the events with their count, like the other lists, and the cursor
/// of the events that follow (`--after`).
#[derive(Serialize)]
struct EventList {
    count: usize,
    data: Vec<EventView>,
    next: Option<String>,
}

pub async fn run(
    service: &Service,
    out: &Output,
    command: WebhooksCommand,
) -> Result<(), CliError> {
    match command {
        WebhooksCommand::List(a) => list(service, out, a).await,
    }
}

async fn list(service: &Service, out: &Output, a: WebhooksListArgs) -> Result<(), CliError> {
    let caller = operator(None);
    let permit = service.permit(&caller, UseCase::Operate)?;
    let found = service
        .events(permit, a.failed, Page::after(a.after, a.limit))
        .await?;
    let next = crate::views::next(&found.next);
    let events: Vec<EventView> = found.events.iter().map(EventView::from).collect();
    if out.is_json() {
        return out.json(&EventList {
            count: events.len(),
            data: events,
            next,
        });
    }
    let mut t = out.new_table(&[
        "Received".into(),
        "Event".into(),
        "Type".into(),
        "Outcome".into(),
        "Deliveries".into(),
        "Contract".into(),
        "Error".into(),
    ]);
    for e in &events {
        t.add_row(vec![
            Cell::new(short_time(&e.received_at)),
            Cell::new(&e.event_id),
            Cell::new(&e.event_type),
            Cell::new(&e.status),
            Cell::new(e.deliveries),
            Cell::new(e.contract_id.clone().unwrap_or_default()),
            Cell::new(e.error.clone().unwrap_or_default()),
        ]);
    }
    out.table(&t)?;
    out.line(&format!("{} events", events.len()))?;
    out.next_page(&next)
}
