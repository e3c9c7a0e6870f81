//! `escrowctl reviews list --freelancer ID | --contract ID`.

use comfy_table::Cell;

use super::args::{ReviewsCommand, ReviewsListArgs};
use super::confirm::operator;
use super::escrow::which_page;
use super::exit::CliError;
use super::output::{Output, short_time};
use crate::domain::{ContractId, UserId};
use crate::service::{Service, UseCase, input};
use crate::views::{ReviewView, ReviewsPage};

pub async fn run(service: &Service, out: &Output, command: ReviewsCommand) -> Result<(), CliError> {
    match command {
        ReviewsCommand::List(a) => list(service, out, a).await,
    }
}

async fn list(service: &Service, out: &Output, a: ReviewsListArgs) -> Result<(), CliError> {
    if let Some(freelancer) = &a.freelancer {
        let freelancer: UserId = input::id(freelancer, "freelancer id")?;
        let reviews = service.reviews(&freelancer, a.page.page()).await?;
        let page = ReviewsPage::from(&reviews);
        if out.is_json() {
            return out.json(&page);
        }
        out.table(&table(out, &page.data))?;
        out.line(&format!(
            "{} reviews, average rating {:.2} ({}, {} per page)",
            page.count,
            page.average_rating,
            which_page(&a.page),
            page.limit
        ))?;
        return out.next_page(&page.next);
    }
    let contract: ContractId =
        super::escrow::contract_id(service, a.contract.as_deref().unwrap_or_default()).await?;
    let caller = operator(None);
    let permit = service.permit(&caller, UseCase::Operate)?;
    let review = service
        .review_of_contract(permit, &contract)
        .await?
        .map(|r| ReviewView::from(&r));
    if out.is_json() {
        return out.json(&review);
    }
    match review {
        Some(r) => out.table(&table(out, std::slice::from_ref(&r))),
        None => out.line(&format!("contract {contract} has no review")),
    }
}

fn table(out: &Output, reviews: &[ReviewView]) -> comfy_table::Table {
    let mut t = out.new_table(&[
        "Created".into(),
        "Rating".into(),
        "Contract".into(),
        "Client".into(),
        "Freelancer".into(),
        "Description".into(),
    ]);
    for r in reviews {
        t.add_row(vec![
            Cell::new(short_time(&r.created_at)),
            Cell::new(format!("{}/5", r.rating)),
            Cell::new(&r.contract_id),
            Cell::new(&r.client_id.id),
            Cell::new(&r.freelancer_id),
            Cell::new(&r.description),
        ]);
    }
    t
}
