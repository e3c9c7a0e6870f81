//! `escrowctl report balance | revenue | sales`.

use chrono::NaiveDate;
use comfy_table::Cell;

use super::args::{ReportCommand, SalesArgs};
use super::confirm::operator;
use super::exit::CliError;
use super::output::{Output, money_cell, money_header, money_with_code};
use crate::service::input::day_start_ms as start_of;
use crate::service::reports::SalesRange;
use crate::service::{ErrorCode, Service, UseCase};
use crate::views::{AmountView, SalesReport};

pub async fn run(service: &Service, out: &Output, command: ReportCommand) -> Result<(), CliError> {
    let caller = operator(None);
    let permit = service.permit(&caller, UseCase::Reports)?;
    let (label, amount) = match command {
        ReportCommand::Balance => ("Held in escrow", service.balance(permit).await?),
        ReportCommand::Revenue => ("Platform fee revenue", service.revenue(permit).await?),
        ReportCommand::Sales(a) => return sales(service, out, a).await,
    };
    if out.is_json() {
        return out.json(&AmountView::from(amount));
    }
    out.table(&out.fields(vec![(
        label,
        money_with_code(amount.minor, amount.currency),
    )]))
}

/// `[from, to]` as inclusive days → the store's `[from_ms, to_ms)`.
pub fn range_ms(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<(Option<i64>, Option<i64>), CliError> {
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(CliError::usage(
            ErrorCode::ValidationDateRange,
            format!("--from {f} is after --to {t}"),
        ));
    }
    let to_ms = match to {
        None => None,
        Some(t) => Some(start_of(t.succ_opt().ok_or_else(|| {
            CliError::usage(
                ErrorCode::ValidationDateRange,
                format!("--to {t} is out of range"),
            )
        })?)),
    };
    Ok((from.map(start_of), to_ms))
}

async fn sales(service: &Service, out: &Output, a: SalesArgs) -> Result<(), CliError> {
    let (from_ms, to_ms) = range_ms(a.from, a.to)?;
    let caller = operator(None);
    let permit = service.permit(&caller, UseCase::Reports)?;
    let report = service.sales(permit, SalesRange { from_ms, to_ms }).await?;
    let report = SalesReport::from(&report);
    if out.is_json() {
        return out.json(&report);
    }
    let cur = report.currency;
    let mut t = out.new_table(&[
        "Month".into(),
        "Released".into(),
        money_header("Gross", cur),
        money_header("Platform fee", cur),
        money_header("Freelancer earning", cur),
    ]);
    for m in &report.data {
        t.add_row(vec![
            Cell::new(&m.month),
            Cell::new(m.count),
            money_cell(m.gross, cur),
            money_cell(m.platform_fee, cur),
            money_cell(m.freelancer_earning, cur),
        ]);
    }
    out.table(&t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_last_day_is_included() {
        let (from, to) = range_ms(Some(day("2025-03-01")), Some(day("2025-03-31"))).unwrap();
        assert_eq!(from, Some(1_740_787_200_000));
        assert_eq!(to, Some(1_743_465_600_000)); // 2025-04-01T00:00:00Z
        assert_eq!(range_ms(None, None).unwrap(), (None, None));
    }

    #[test]
    fn a_range_that_ends_before_it_starts_is_refused() {
        let e = range_ms(Some(day("2025-03-02")), Some(day("2025-03-01"))).unwrap_err();
        assert_eq!(e.exit, super::super::exit::Exit::Usage);
    }
}
