//! The documents of each collection and their conversions to domain records. Every read goes
//! through one of these typed structs (small i64 values may come back as Int32; serde reads
//! them into i64 fields all the same).

use serde::{Deserialize, Serialize};

use crate::domain::{
    Account, Contract, ContractId, Currency, EventId, LedgerEntry, MinorUnits, Owner, Rating,
    Review, ReviewId, TransferKind, UserId,
};
use crate::store::{EventStatus, StoreError, StoreResult, WebhookEvent};

/// The contract document. `record` is the truth; the flat fields are copies for queries and
/// indexes, rewritten from `record` by every save.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ContractDoc {
    #[serde(rename = "_id")]
    pub(super) id: String,
    /// The compare-and-set token (same as `record.version`).
    pub(super) version: i64,
    /// `record.number`: a human id ("CON…") finds its contract by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    number: Option<i64>,
    job_id: String,
    client_id: String,
    freelancer_id: String,
    status: String,
    escrow_status: Option<String>,
    has_escrow: bool,
    release_fund_status: String,
    provider_work: bool,
    /// `record.dispute_mark()`: 0 none, 1 settled ones only, 2 an open one (absent on
    /// documents stored before disputes: none).
    #[serde(default)]
    disputes: i64,
    /// `record.has_failed_refund()` (absent on documents stored before: see the README).
    #[serde(default)]
    refund_failed: bool,
    created_at: i64,
    updated_at: i64,
    /// Every payment reference that belongs to this contract (`Contract::payment_refs`).
    payment_refs: Vec<String>,
    pub(super) record: Contract,
    /// The contract's ledger entries in the order they were written (append-only).
    pub(super) ledger: Vec<LedgerEntry>,
    /// How many of `ledger` (a prefix) are known to be in `ledger_entries`.
    pub(super) ledger_projected: i64,
    /// `ledger.len() - ledger_projected`: above zero, the repair step's work list.
    pub(super) ledger_unprojected: i64,
}

impl ContractDoc {
    pub(super) fn new(
        c: &Contract,
        ledger: Vec<LedgerEntry>,
        ledger_projected: i64,
    ) -> ContractDoc {
        let ledger_projected = ledger_projected.clamp(0, ledger.len() as i64);
        ContractDoc {
            id: c.id.to_string(),
            version: c.version,
            number: c.number.and_then(|n| i64::try_from(n).ok()),
            job_id: c.job_id.to_string(),
            client_id: c.client_id.to_string(),
            freelancer_id: c.freelancer_id.to_string(),
            status: c.status.as_str().into(),
            escrow_status: c.escrow_status().map(|s| s.as_str().to_string()),
            has_escrow: c.escrow_paid(),
            release_fund_status: c.release_fund_status.as_str().into(),
            provider_work: c.has_pending_provider_work(),
            disputes: c.dispute_mark() as i64,
            refund_failed: c.has_failed_refund(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            payment_refs: c
                .payment_refs()
                .into_iter()
                .map(|r| r.to_string())
                .collect(),
            record: c.clone(),
            ledger_unprojected: ledger.len() as i64 - ledger_projected,
            ledger,
            ledger_projected,
        }
    }
}

/// The record alone, for reads that do not need the embedded ledger.
#[derive(Debug, Deserialize)]
pub(super) struct RecordOnly {
    pub(super) record: Contract,
}

/// One projected ledger entry. `accountType` is the account's prefix (`escrow`, `wallet`, …)
/// and `month` its UTC "YYYY-MM", both precomputed so aggregations group on plain fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EntryDoc {
    #[serde(rename = "_id")]
    pub(super) id: String,
    transfer_id: String,
    /// The owner ([`Owner`]): a contract's id, or `payout:` and a payout's.
    contract_id: Owner,
    pub(super) kind: TransferKind,
    pub(super) account: Account,
    account_type: String,
    pub(super) amount: MinorUnits,
    pub(super) currency: Currency,
    pub(super) at: i64,
    month: String,
    /// 1 once the kept balances took this entry (`kept`); a number, as the emulator stores
    /// a boolean. Entries of an older database have none until the store opens.
    #[serde(default)]
    folded: i64,
}

pub(super) fn month_of(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .map(|t| t.format("%Y-%m").to_string())
        .unwrap_or_else(|| "0000-00".into())
}

fn account_type(a: &Account) -> &'static str {
    match a {
        Account::ExternalStripe => "external",
        Account::Escrow(_) => "escrow",
        Account::Wallet(_) => "wallet",
        Account::PlatformFees | Account::PlatformChargebacks => "platform",
        Account::Refund(_) => "refund",
        Account::Payout(_) => "payout",
    }
}

impl From<&LedgerEntry> for EntryDoc {
    fn from(e: &LedgerEntry) -> EntryDoc {
        EntryDoc {
            id: e.id.clone(),
            transfer_id: e.transfer_id.clone(),
            contract_id: e.owner.clone(),
            kind: e.kind,
            account_type: account_type(&e.account).into(),
            account: e.account.clone(),
            amount: e.amount,
            currency: e.currency,
            at: e.at,
            month: month_of(e.at),
            folded: 0,
        }
    }
}

impl From<EntryDoc> for LedgerEntry {
    fn from(d: EntryDoc) -> LedgerEntry {
        LedgerEntry {
            id: d.id,
            transfer_id: d.transfer_id,
            owner: d.contract_id,
            kind: d.kind,
            account: d.account,
            amount: d.amount,
            currency: d.currency,
            at: d.at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EventDoc {
    #[serde(rename = "_id")]
    event_id: EventId,
    event_type: String,
    status: EventStatus,
    error: Option<String>,
    contract_id: Option<String>,
    received_at: i64,
    updated_at: i64,
    deliveries: u32,
}

impl From<&WebhookEvent> for EventDoc {
    fn from(e: &WebhookEvent) -> EventDoc {
        EventDoc {
            event_id: e.event_id.clone(),
            event_type: e.event_type.clone(),
            status: e.status,
            error: e.error.clone(),
            contract_id: e.contract_id.clone(),
            received_at: e.received_at,
            updated_at: e.updated_at,
            deliveries: e.deliveries,
        }
    }
}

impl From<EventDoc> for WebhookEvent {
    fn from(d: EventDoc) -> WebhookEvent {
        WebhookEvent {
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status,
            error: d.error,
            contract_id: d.contract_id,
            received_at: d.received_at,
            updated_at: d.updated_at,
            deliveries: d.deliveries,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReviewDoc {
    #[serde(rename = "_id")]
    id: ReviewId,
    contract_id: ContractId,
    client_id: UserId,
    freelancer_id: UserId,
    rating: i32,
    description: String,
    created_at: i64,
}

impl From<&Review> for ReviewDoc {
    fn from(r: &Review) -> ReviewDoc {
        ReviewDoc {
            id: r.id.clone(),
            contract_id: r.contract_id.clone(),
            client_id: r.client_id.clone(),
            freelancer_id: r.freelancer_id.clone(),
            rating: r.rating.get().into(),
            description: r.description.clone(),
            created_at: r.created_at,
        }
    }
}

impl TryFrom<ReviewDoc> for Review {
    type Error = StoreError;
    fn try_from(d: ReviewDoc) -> StoreResult<Review> {
        Ok(Review {
            id: d.id,
            contract_id: d.contract_id,
            client_id: d.client_id,
            freelancer_id: d.freelancer_id,
            rating: Rating::from_int(d.rating.into())
                .map_err(|e| StoreError::other(format!("corrupt review: {e}")))?,
            description: d.description,
            created_at: d.created_at,
        })
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct KeyedTotal {
    #[serde(rename = "_id")]
    pub(super) key: String,
    pub(super) total: i64,
}

#[derive(Debug, Deserialize)]
pub(super) struct MonthGroup {
    #[serde(rename = "_id")]
    pub(super) month: String,
    pub(super) escrow: i64,
    pub(super) fee: i64,
    pub(super) earning: i64,
    pub(super) count: i64,
}

#[derive(Debug, Deserialize)]
pub(super) struct RatingSums {
    pub(super) count: i64,
    pub(super) total: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_utc_year_and_month() {
        assert_eq!(month_of(0), "1970-01");
        // 2026-02-28T23:59:59.999Z and one millisecond later.
        assert_eq!(month_of(1_772_323_199_999), "2026-02");
        assert_eq!(month_of(1_772_323_200_000), "2026-03");
    }
}
