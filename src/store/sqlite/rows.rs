//! Rows to domain records and back. A contract is stored as its JSON document (the truth) plus
//! the columns queries filter on; ledger entries, events and reviews as plain columns.

use rusqlite::Row;

use crate::domain::verify::ContractFacts;
use crate::domain::{
    Account, Contract, ContractId, Currency, EventId, LedgerEntry, MinorUnits, Owner, Rating,
    Review, ReviewId, TransferKind, UserId,
};
use crate::store::{EventStatus, StoreError, StoreResult, WebhookEvent};

pub(super) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::other(format!("corrupt {what}: {e}"))
}

pub(super) fn contract_from_doc(doc: &str) -> StoreResult<Contract> {
    serde_json::from_str(doc).map_err(|e| corrupt("contract document", e))
}

/// What verification reads of a contract, from its document.
pub(super) fn facts_from_doc(doc: &str) -> StoreResult<ContractFacts> {
    ContractFacts::from_json(doc).map_err(|e| corrupt("contract document", e))
}

pub(super) fn contract_doc(c: &Contract) -> StoreResult<String> {
    serde_json::to_string(c).map_err(|e| StoreError::other_from("cannot encode a contract", e))
}

/// Column `i` as a type parsed from its text; a value that does not parse is a conversion
/// failure (so a corrupt row is an error, never a wrong record).
pub(super) fn parsed<T, E>(
    r: &Row<'_>,
    i: usize,
    parse: impl FnOnce(String) -> Result<T, E>,
) -> rusqlite::Result<T>
where
    E: std::fmt::Display,
{
    let text: String = r.get(i)?;
    parse(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            e.to_string().into(),
        )
    })
}

pub(super) const ENTRY_COLUMNS: &str =
    "id, transfer_id, contract_id, kind, account, amount, currency, at";

pub(super) fn entry_from_row(r: &Row<'_>) -> rusqlite::Result<LedgerEntry> {
    Ok(LedgerEntry {
        id: r.get(0)?,
        transfer_id: r.get(1)?,
        owner: parsed(r, 2, |o| Owner::parse(&o))?,
        kind: parsed(r, 3, |k| {
            TransferKind::parse(&k).ok_or(format!("transfer kind {k:?}"))
        })?,
        account: parsed(r, 4, |a| a.parse::<Account>())?,
        amount: MinorUnits::new(r.get(5)?),
        currency: parsed(r, 6, |c| c.parse::<Currency>())?,
        at: r.get(7)?,
    })
}

pub(super) const EVENT_COLUMNS: &str =
    "event_id, event_type, status, error, contract_id, received_at, updated_at, deliveries";

pub(super) fn event_from_row(r: &Row<'_>) -> rusqlite::Result<WebhookEvent> {
    let status: String = r.get(2)?;
    Ok(WebhookEvent {
        event_id: EventId::new(r.get::<_, String>(0)?),
        event_type: r.get(1)?,
        status: EventStatus::parse(&status).unwrap_or(EventStatus::Received),
        error: r.get(3)?,
        contract_id: r.get(4)?,
        received_at: r.get(5)?,
        updated_at: r.get(6)?,
        deliveries: r.get(7)?,
    })
}

pub(super) const REVIEW_COLUMNS: &str =
    "id, contract_id, client_id, freelancer_id, rating, description, created_at";

pub(super) fn review_from_row(r: &Row<'_>) -> rusqlite::Result<Review> {
    Ok(Review {
        id: parsed(r, 0, ReviewId::try_from)?,
        contract_id: parsed(r, 1, ContractId::try_from)?,
        client_id: parsed(r, 2, UserId::try_from)?,
        freelancer_id: parsed(r, 3, UserId::try_from)?,
        rating: Rating::from_int(r.get(4)?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                4,
                rusqlite::types::Type::Integer,
                e.to_string().into(),
            )
        })?,
        description: r.get(5)?,
        created_at: r.get(6)?,
    })
}

/// The wallet account a `wallet:*` account name is; an error for anything else.
pub(super) fn wallet_of(account: &str) -> StoreResult<UserId> {
    match account.parse::<Account>() {
        Ok(Account::Wallet(u)) => Ok(u),
        _ => Err(corrupt("wallet account", format!("{account:?}"))),
    }
}

/// Half-open range over account names with a prefix: `[prefix:, prefix;)` uses the index.
pub(super) fn account_range(prefix: &str) -> (String, String) {
    (format!("{prefix}:"), format!("{prefix};"))
}

/// A keyset page's condition on a newest-first list sorted by `(at, id)`, for a `WHERE`: the
/// index seeks to `at <= cursor` and the rest is a filter on the few rows that share its time.
/// Its two parameters are [`keyset`]'s.
pub(super) fn keyset_sql(at: &str, id: &str, at_param: usize, id_param: usize) -> String {
    format!("{at} <= ?{at_param} AND ({at} < ?{at_param} OR {id} < ?{id_param})")
}

/// What [`keyset_sql`] binds: the page's cursor, or bounds every row is before (no cursor).
pub(super) fn keyset(page: &crate::store::Page) -> (i64, String) {
    match &page.after {
        Some(c) => (c.at, c.id.clone()),
        None => (i64::MAX, String::new()),
    }
}

/// How many rows of `table` match `where_sql` (its `?n` bound to `args` in order).
pub(super) fn count_where(
    c: &rusqlite::Connection,
    table: &str,
    where_sql: &str,
    args: &[String],
) -> StoreResult<u64> {
    c.prepare_cached(&format!("SELECT COUNT(*) FROM {table} WHERE {where_sql}"))
        .and_then(|mut s| {
            s.query_row(rusqlite::params_from_iter(args.iter()), |r| {
                r.get::<_, i64>(0)
            })
        })
        .map(|n| n as u64)
        .map_err(super::map_err)
}

/// One page of `table`'s documents matching `where_sql` (its `?n` bound to `args` in
/// order), newest first by `created_at` then `id`: from the page's cursor, or its offset.
pub(super) fn doc_page(
    c: &rusqlite::Connection,
    table: &str,
    where_sql: &str,
    args: &[String],
    page: &crate::store::Page,
) -> StoreResult<Vec<String>> {
    let (limit, offset) = (page.limit, page.offset() as i64);
    let (after_at, after_id) = keyset(page);
    let n = args.len();
    let keyset = keyset_sql("created_at", "id", n + 1, n + 2);
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT doc FROM {table} WHERE {where_sql} AND {keyset}
             ORDER BY created_at DESC, id DESC LIMIT ?{} OFFSET ?{}",
            n + 3,
            n + 4
        ))
        .map_err(super::map_err)?;
    let mut params: Vec<&dyn rusqlite::ToSql> =
        args.iter().map(|a| a as &dyn rusqlite::ToSql).collect();
    params.extend([
        &after_at as &dyn rusqlite::ToSql,
        &after_id,
        &limit,
        &offset,
    ]);
    stmt.query_map(params.as_slice(), |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(super::map_err)
}
