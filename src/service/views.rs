//! The JSON shapes the service returns, shared by the HTTP API and `escrowctl --json`. Money is
//! integer minor units beside its `currency`; times are RFC 3339 UTC strings.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::escrow::ExtraPayment;
use crate::domain::{
    Contract, ContractStatus, Currency, EscrowStatus, HistoryEntry, LedgerEntry, Party,
    RefundSplit, ReleaseFundStatus, Review, TransferKind,
};
use crate::store::{MonthRow, WebhookEvent};

pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusChangeView {
    pub status: ContractStatus,
    pub timestamp: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContractView {
    #[serde(rename = "_id")]
    pub underscore_id: String,
    pub id: String,
    pub job_id: String,
    pub client_id: String,
    pub freelancer_id: String,
    pub title: Option<String>,
    /// Minor units.
    pub amount: i64,
    pub currency: Currency,
    pub status: ContractStatus,
    pub is_approved: bool,
    pub escrow_paid: bool,
    pub release_fund_status: ReleaseFundStatus,
    pub cancel_reason: String,
    pub cancel_reason_description: String,
    pub canceled_by: Option<Party>,
    pub status_history: Vec<StatusChangeView>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Contract> for ContractView {
    fn from(c: &Contract) -> ContractView {
        ContractView {
            underscore_id: c.id.to_string(),
            id: c.id.to_string(),
            job_id: c.job_id.to_string(),
            client_id: c.client_id.to_string(),
            freelancer_id: c.freelancer_id.to_string(),
            title: c.title.clone(),
            amount: c.amount,
            currency: c.currency,
            status: c.status,
            is_approved: c.is_approved,
            escrow_paid: c.escrow_paid(),
            release_fund_status: c.release_fund_status,
            cancel_reason: c.cancel_reason.clone(),
            cancel_reason_description: c.cancel_reason_description.clone(),
            canceled_by: c.canceled_by,
            status_history: c
                .status_history
                .iter()
                .map(|s| StatusChangeView {
                    status: s.status,
                    timestamp: time(s.at),
                })
                .collect(),
            created_at: time(c.created_at),
            updated_at: time(c.updated_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    pub action: String,
    pub actor: String,
    pub at: String,
    pub detail: String,
}

impl From<&HistoryEntry> for HistoryView {
    fn from(h: &HistoryEntry) -> HistoryView {
        HistoryView {
            action: h.action.clone(),
            actor: h.actor.clone(),
            at: time(h.at),
            detail: h.detail.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExtraPaymentView {
    pub payment_ref: String,
    pub amount: i64,
    pub currency: Currency,
    pub event_id: String,
    pub refund_id: Option<String>,
    pub received_at: String,
}

impl From<&ExtraPayment> for ExtraPaymentView {
    fn from(p: &ExtraPayment) -> ExtraPaymentView {
        ExtraPaymentView {
            payment_ref: p.payment_ref.clone(),
            amount: p.amount,
            currency: p.currency,
            event_id: p.event_id.clone(),
            refund_id: p.provider_refund_id.clone(),
            received_at: time(p.received_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EscrowView {
    #[serde(rename = "_id")]
    pub underscore_id: String,
    pub contract_id: String,
    pub job_id: String,
    pub client_id: String,
    pub freelancer_id: String,
    pub status: EscrowStatus,
    /// Gross amount paid in, minor units (kept after release so reports stay whole).
    pub amount: i64,
    pub platform_fee: i64,
    pub freelancer_earning: i64,
    pub currency: Currency,
    pub transaction_type: &'static str,
    pub checkout_session_id: Option<String>,
    pub payment_intent_id: Option<String>,
    pub funding_event_id: String,
    pub refund: Option<RefundSplit>,
    pub release_requested: bool,
    pub history: Vec<HistoryView>,
    pub extra_payments: Vec<ExtraPaymentView>,
    pub funded_at: String,
    pub released_at: Option<String>,
    pub refunded_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl EscrowView {
    pub fn of(c: &Contract) -> Option<EscrowView> {
        let e = c.escrow.as_ref()?;
        Some(EscrowView {
            underscore_id: c.id.to_string(),
            contract_id: c.id.to_string(),
            job_id: c.job_id.to_string(),
            client_id: c.client_id.to_string(),
            freelancer_id: c.freelancer_id.to_string(),
            status: e.status,
            amount: e.amount,
            platform_fee: e.platform_fee,
            freelancer_earning: e.freelancer_earning,
            currency: e.currency,
            transaction_type: "credit",
            checkout_session_id: e.checkout_session_id.clone(),
            payment_intent_id: e.payment_intent_id.clone(),
            funding_event_id: e.funding_event_id.clone(),
            refund: e.refund.clone(),
            release_requested: c.release_fund_status == ReleaseFundStatus::Requested,
            history: e.history.iter().map(HistoryView::from).collect(),
            extra_payments: c
                .extra_payments
                .iter()
                .map(ExtraPaymentView::from)
                .collect(),
            funded_at: time(e.funded_at),
            released_at: e.released_at.map(time),
            refunded_at: e.refunded_at.map(time),
            created_at: time(e.funded_at),
            updated_at: time(c.updated_at),
        })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntryView {
    pub id: String,
    pub transfer_id: String,
    pub contract_id: String,
    pub kind: TransferKind,
    pub account: String,
    /// Signed minor units: positive increases the account.
    pub amount: i64,
    pub currency: Currency,
    pub at: String,
}

impl From<&LedgerEntry> for EntryView {
    fn from(e: &LedgerEntry) -> EntryView {
        EntryView {
            id: e.id.clone(),
            transfer_id: e.transfer_id.clone(),
            contract_id: e.contract_id.to_string(),
            kind: e.kind,
            account: e.account.to_string(),
            amount: e.amount,
            currency: e.currency,
            at: time(e.at),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContractDetail {
    pub contract: ContractView,
    pub escrow: Option<EscrowView>,
    pub ledger: Vec<EntryView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WalletView {
    pub user_id: String,
    /// Minor units: the sum of the wallet's ledger entries.
    pub balance: i64,
    pub currency: Currency,
    pub count: u64,
    pub entries: Vec<EntryView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewView {
    #[serde(rename = "_id")]
    pub underscore_id: String,
    pub contract_id: String,
    pub client_id: String,
    pub freelancer_id: String,
    pub rating: u8,
    pub description: String,
    pub created_at: String,
}

impl From<Review> for ReviewView {
    fn from(r: Review) -> ReviewView {
        ReviewView {
            underscore_id: r.id.into(),
            contract_id: r.contract_id.into(),
            client_id: r.client_id.into(),
            freelancer_id: r.freelancer_id.into(),
            rating: r.rating.get(),
            description: r.description,
            created_at: time(r.created_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewsPage {
    pub count: u64,
    /// Mean rating over all the freelancer's reviews, rounded to two decimals; 0 with none.
    pub average_rating: f64,
    pub page: u32,
    pub limit: u32,
    pub data: Vec<ReviewView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AmountView {
    /// Minor units.
    pub data: i64,
    pub currency: Currency,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EscrowPage {
    pub count: u64,
    pub page: u32,
    pub limit: u32,
    pub data: Vec<EscrowView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SalesReport {
    pub currency: Currency,
    pub data: Vec<MonthRow>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaView {
    pub url: String,
    #[serde(rename = "type")]
    pub kind: crate::domain::media::MediaKind,
    pub media_url: String,
    pub media_type: crate::domain::media::MediaKind,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub event_id: String,
    pub event_type: String,
    pub status: String,
    pub error: Option<String>,
    pub contract_id: Option<String>,
    pub deliveries: u32,
    pub received_at: String,
    pub updated_at: String,
}

impl From<&WebhookEvent> for EventView {
    fn from(e: &WebhookEvent) -> EventView {
        EventView {
            event_id: e.event_id.clone(),
            event_type: e.event_type.clone(),
            status: e.status.as_str().into(),
            error: e.error.clone(),
            contract_id: e.contract_id.clone(),
            deliveries: e.deliveries,
            received_at: time(e.received_at),
            updated_at: time(e.updated_at),
        }
    }
}

/// What a webhook delivery did (the HTTP reply is always 200 once the signature verified and
/// the store answered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookReply {
    pub received: bool,
    pub event_id: String,
    pub outcome: String,
    pub message: String,
}

/// What a release or refund would move, worked out on a copy before anything is saved
/// (`escrowctl` shows it and asks before it acts). Minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MovePlan {
    /// "release" or "refund".
    pub action: &'static str,
    pub contract_id: String,
    pub client_id: String,
    pub freelancer_id: String,
    /// The escrowed amount that leaves the escrow account.
    pub amount: i64,
    pub platform_fee: i64,
    /// To the freelancer's wallet: the earning on release, the kill fee or explicit share on
    /// refund.
    pub freelancer_share: i64,
    /// Back to the client through the payment provider (0 on release).
    pub client_share: i64,
    /// Whether an admin set the split instead of the status rule.
    pub explicit_split: bool,
    pub currency: Currency,
}

impl MovePlan {
    /// Reads the plan off a contract the transition has just been applied to.
    pub fn of(action: &'static str, c: &Contract) -> MovePlan {
        let e = c
            .escrow
            .as_ref()
            .expect("a release or refund needs an escrow");
        let (freelancer_share, client_share, explicit_split) = match &e.refund {
            Some(r) => (r.freelancer_share, r.client_share, r.explicit),
            None => (e.freelancer_earning, 0, false),
        };
        MovePlan {
            action,
            contract_id: c.id.to_string(),
            client_id: c.client_id.to_string(),
            freelancer_id: c.freelancer_id.to_string(),
            amount: e.amount,
            platform_fee: e.platform_fee,
            freelancer_share,
            client_share,
            explicit_split,
            currency: e.currency,
        }
    }
}
