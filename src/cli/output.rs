//! Where output goes and how it looks: comfy-table tables for people, exactly one JSON document
//! for scripts (`--json`), errors as one line on stderr.
//!
//! Tables follow the terminal: colour (a bold header) only on a terminal and never with
//! `NO_COLOR` set (`CLICOLOR_FORCE` forces it when not on a terminal); the width of the
//! terminal, or `COLUMNS` when set, wraps wide cells. Money is shown in major units with all
//! minor digits ("1000.00"), the currency in the column header; JSON keeps integer minor units.

use std::io::{IsTerminal, Write};

use comfy_table::{
    Attribute, Cell, CellAlignment, ColumnConstraint, ContentArrangement, Table, Width, presets,
};
use serde::Serialize;

use super::exit::{CliError, Exit};
use crate::domain::money::format_minor;
use crate::domain::{Currency, MinorUnits};
use crate::service::ErrorCode;

/// Narrowest table width taken from `COLUMNS`; anything smaller is ignored as a mistake.
const COLUMNS_MIN: u16 = 20;

#[derive(Debug, Clone)]
pub struct Output {
    json: bool,
    color: bool,
    width: Option<u16>,
}

/// A variable that is set and not empty (the NO_COLOR convention).
fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}

impl Output {
    /// Reads the terminal and the environment once.
    pub fn new(json: bool) -> Output {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let color =
            !no_color && (env_set("CLICOLOR_FORCE") || (std::io::stdout().is_terminal() && !dumb));
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<u16>().ok())
            .filter(|w| *w >= COLUMNS_MIN);
        Output { json, color, width }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints `value` as the one JSON document of this run.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), CliError> {
        let mut text = serde_json::to_string_pretty(value)
            .map_err(|e| CliError::new(Exit::Error, ErrorCode::Internal, format!("JSON: {e}")))?;
        text.push('\n');
        self.write(&text)
    }

    /// Prints a line of text.
    pub fn line(&self, text: &str) -> Result<(), CliError> {
        self.write(&format!("{text}\n"))
    }

    /// For a person: how to ask for the page after this one, when there may be one.
    pub fn next_page(&self, next: &Option<String>) -> Result<(), CliError> {
        match next {
            Some(cursor) => self.line(&format!("more: --after {cursor}")),
            None => Ok(()),
        }
    }

    pub fn table(&self, table: &Table) -> Result<(), CliError> {
        let mut table = table.clone();
        keep_short_values_whole(&mut table);
        self.write(&format!("{table}\n"))
    }

    /// A table with a header row, ready for rows.
    pub fn new_table(&self, header: &[String]) -> Table {
        let mut t = self.base_table();
        t.set_header(header.iter().map(|h| {
            let cell = Cell::new(h);
            if self.color {
                cell.add_attribute(Attribute::Bold)
            } else {
                cell
            }
        }));
        t
    }

    /// A two-column table of names and values, for one record. Empty values are left out.
    pub fn fields(&self, rows: Vec<(&str, String)>) -> Table {
        let mut t = self.base_table();
        for (name, value) in rows.into_iter().filter(|(_, v)| !v.is_empty()) {
            let name = Cell::new(name);
            let name = if self.color {
                name.add_attribute(Attribute::Bold)
            } else {
                name
            };
            t.add_row(vec![name, Cell::new(value)]);
        }
        t
    }

    fn base_table(&self) -> Table {
        let mut t = Table::new();
        t.load_style(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
        match (self.width, t.width()) {
            (Some(w), _) => {
                t.set_width(w);
            }
            // A terminal that reports no size (a pty made by `script`, a serial console): no
            // width at all beats squeezing every cell into one character.
            (None, Some(w)) if w < COLUMNS_MIN => {
                t.force_no_tty();
            }
            (None, _) => {}
        }
        if self.color {
            t.enforce_styling();
        }
        t
    }

    /// Writes to stdout. A closed pipe (`escrowctl … | head`) ends the output quietly.
    pub fn write(&self, text: &str) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) => Err(CliError::io("stdout", e)),
        }
    }

    /// The error as one line on stderr: text for people, a JSON object with `--json`.
    pub fn error(&self, e: &CliError) {
        let line = if self.json {
            serde_json::json!({"error": e.message, "code": e.code.as_str()}).to_string()
        } else {
            format!("escrowctl: {e}")
        };
        // One line, whatever the message holds.
        let line = line.replace(['\n', '\r'], " ");
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

/// Values up to this many characters (money, statuses, times) are never wrapped; ids (24)
/// and free text wrap when the table must shrink.
const WHOLE_CHARS_MAX: usize = 20;

/// When the table must shrink to the width, long values (ids, free text) wrap and short ones
/// stay whole: "1000.00" split over two lines would be misread. Headers may still wrap.
fn keep_short_values_whole(t: &mut Table) {
    let columns = t.column_count();
    for i in 0..columns {
        let widest = t
            .column_cells_iter(i)
            .flatten()
            .flat_map(|cell| {
                cell.content()
                    .lines()
                    .map(|l| l.chars().count())
                    .collect::<Vec<_>>()
            })
            .max()
            .unwrap_or(0);
        if widest > 0
            && widest <= WHOLE_CHARS_MAX
            && let Some(column) = t.column_mut(i)
        {
            // The boundary counts the cell padding (one space each side).
            column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(
                widest as u16 + 2,
            )));
        }
    }
}

/// Minor units as major units with every minor digit: 100000 paise → "1000.00".
pub fn money(minor: MinorUnits, currency: Currency) -> String {
    format_minor(minor, currency)
}

/// A money cell, right-aligned so the decimal points line up.
pub fn money_cell(minor: impl Into<MinorUnits>, currency: Currency) -> Cell {
    Cell::new(money(minor.into(), currency)).set_alignment(CellAlignment::Right)
}

/// "Amount (INR)": the currency once, in the header.
pub fn money_header(name: &str, currency: Currency) -> String {
    format!("{name} ({})", currency.code().to_ascii_uppercase())
}

/// Money with its currency, for a field value: "1000.00 INR".
pub fn money_with_code(minor: impl Into<MinorUnits>, currency: Currency) -> String {
    format!(
        "{} {}",
        money(minor.into(), currency),
        currency.code().to_ascii_uppercase()
    )
}

/// RFC 3339 times from the views, shortened for a table: "2025-03-01 12:30:05".
pub fn short_time(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

/// The name a value has on the wire (`refund_settled`), so tables and JSON agree.
pub fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// To the minute, for lists: "2025-03-01 12:30".
pub fn short_minute(rfc3339: &str) -> String {
    let mut t = short_time(rfc3339);
    if t.len() == "2025-03-01 12:30:05".len() {
        t.truncate("2025-03-01 12:30".len());
    }
    t
}

pub fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_keeps_every_minor_digit() {
        let m = MinorUnits::new;
        assert_eq!(money(m(100_000), Currency::Inr), "1000.00");
        assert_eq!(money(m(5), Currency::Inr), "0.05");
        assert_eq!(money(m(-1_999), Currency::Inr), "-19.99");
        assert_eq!(money(m(500), Currency::Jpy), "500");
        assert_eq!(money_with_code(m(90_000), Currency::Inr), "900.00 INR");
    }

    #[test]
    fn table_times_are_utc_seconds() {
        assert_eq!(
            short_time("2025-03-01T12:30:05.123Z"),
            "2025-03-01 12:30:05"
        );
        assert_eq!(short_time("not a time"), "not a time");
        assert_eq!(short_minute("2025-03-01T12:30:05.123Z"), "2025-03-01 12:30");
    }
}
