//! The JSON shapes the product answers with, shared by the HTTP API and `escrowctl --json`, and
//! built from what the use cases return. Money is a JSON number in major units (rupees),
//! written exactly from the integer minor units ([`Amount`]), beside its `currency`; times are
//! RFC 3339 UTC strings. The `ToSchema` derives are the source of `/openapi.json`
//! ([`schema`] gives the domain's enums theirs), so the document and the answers cannot drift.

pub mod amount;
pub mod original;
pub mod schema;

pub use amount::Amount;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::escrow::ExtraPayment;
use crate::domain::media::MediaKind;
use crate::domain::{
    ConnectedAccount, Contract, ContractStatus, Currency, EscrowStatus, HistoryEntry, LedgerEntry,
    Milestone, MilestoneId, MilestoneState, Money, Party, Payout, PayoutStatus, ReleaseFundStatus,
    Review, TransferKind,
};
use crate::payment::CheckoutSession as Session;
use crate::service::contracts::ContractDetail as Detail;
use crate::service::media::StoredMedia;
use crate::service::payouts::{Onboarding, PayoutPage};
use crate::service::reports::{EscrowPage as Escrows, SalesReport as Sales};
use crate::service::reviews::Reviews;
use crate::service::wallets::Wallet;
use crate::service::webhooks::Delivery;
use crate::store::WebhookEvent;

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
    /// The original's human id, "CON" and at least 8 digits (`null` on contracts older than
    /// contract numbers).
    pub contract_id: Option<String>,
    pub job_id: String,
    pub client_id: String,
    pub freelancer_id: String,
    pub title: Option<String>,
    /// Rupees (major units), exact.
    #[schema(value_type = f64)]
    pub amount: Amount,
    pub currency: Currency,
    pub status: ContractStatus,
    pub is_approved: bool,
    pub escrow_paid: bool,
    pub release_fund_status: ReleaseFundStatus,
    pub cancel_reason: String,
    pub cancel_reason_description: String,
    pub canceled_by: Option<Party>,
    pub status_history: Vec<StatusChangeView>,
    /// Its milestones, in order (one of the whole amount unless it was made with several).
    pub milestones: Vec<MilestoneView>,
    /// Its disputes, oldest first (an open one freezes the escrow of the milestones it names).
    pub disputes: Vec<DisputeView>,
    pub created_at: String,
    pub updated_at: String,
}

/// One milestone: its part of the amount and where its own escrow stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MilestoneView {
    /// Its number within the contract (the `milestoneId` of its routes).
    #[schema(value_type = i64)]
    pub id: MilestoneId,
    pub title: String,
    #[schema(value_type = f64)]
    pub amount: Amount,
    pub state: MilestoneState,
    /// Set once funded (the fee rule applied to this milestone's amount).
    #[schema(value_type = Option<f64>)]
    pub platform_fee: Option<Amount>,
    #[schema(value_type = Option<f64>)]
    pub freelancer_earning: Option<Amount>,
    pub payment_intent_id: Option<String>,
    pub funded_at: Option<String>,
    pub submitted_at: Option<String>,
    pub release_requested_at: Option<String>,
    pub released_at: Option<String>,
    pub refunded_at: Option<String>,
    /// What lost chargebacks took out of its escrow (absent when nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub charged_back: Option<Amount>,
    /// What refunds made outside the escrow took out of it (absent when nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub refunded_outside: Option<Amount>,
    /// When the system releases it unless the client asks first (only where a contract is
    /// read with its timers: `GET /api/contracts/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_release_at: Option<String>,
}

impl MilestoneView {
    pub fn of(c: &Contract, m: &Milestone) -> MilestoneView {
        let currency = c.currency;
        let e = m.escrow.as_ref();
        MilestoneView {
            id: m.id,
            title: m.title.clone(),
            amount: Amount::new(m.amount, currency),
            state: c.milestone_state(m),
            platform_fee: e.map(|e| Amount::new(e.platform_fee, currency)),
            freelancer_earning: e.map(|e| Amount::new(e.freelancer_earning, currency)),
            payment_intent_id: e
                .and_then(|e| e.payment_intent_id.as_ref())
                .map(|r| r.to_string()),
            funded_at: e.map(|e| time(e.funded_at)),
            submitted_at: m.submitted_at.map(time),
            release_requested_at: m.release_requested_at.map(time),
            released_at: e.and_then(|e| e.released_at).map(time),
            refunded_at: e.and_then(|e| e.refunded_at).map(time),
            charged_back: e
                .filter(|e| !e.charged_back.is_zero())
                .map(|e| Amount::new(e.charged_back, currency)),
            refunded_outside: e
                .filter(|e| !e.refunded_outside.is_zero())
                .map(|e| Amount::new(e.refunded_outside, currency)),
            auto_release_at: None,
        }
    }

    fn all(c: &Contract) -> Vec<MilestoneView> {
        c.milestones
            .iter()
            .map(|m| MilestoneView::of(c, m))
            .collect()
    }
}

impl From<&Contract> for ContractView {
    fn from(c: &Contract) -> ContractView {
        ContractView {
            underscore_id: c.id.to_string(),
            id: c.id.to_string(),
            contract_id: c.human_id(),
            job_id: c.job_id.to_string(),
            client_id: c.client_id.to_string(),
            freelancer_id: c.freelancer_id.to_string(),
            title: c.title.as_ref().map(|t| t.as_str().to_string()),
            amount: Amount::new(c.amount, c.currency),
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
            milestones: MilestoneView::all(c),
            disputes: DisputeView::all(c),
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
    #[schema(value_type = f64)]
    pub amount: Amount,
    pub currency: Currency,
    pub event_id: String,
    /// The provider's refund of it, once the provider says it succeeded (`manual:…` when an
    /// admin settled it by other means).
    pub refund_id: Option<String>,
    /// Where its refund stands at the provider: `pending` (taken, not yet succeeded),
    /// `failed` (owed again: `escrowctl refunds retry` or `settle`), `succeeded`; `null` while
    /// it is still to be asked.
    pub refund_status: Option<String>,
    /// The refund the provider took and has not said succeeded (pending or failed).
    pub pending_refund_id: Option<String>,
    /// Why the last call or the provider's refund failed.
    pub last_error: Option<String>,
    pub retries: u32,
    pub received_at: String,
}

impl From<&ExtraPayment> for ExtraPaymentView {
    fn from(p: &ExtraPayment) -> ExtraPaymentView {
        ExtraPaymentView {
            payment_ref: p.payment_ref.to_string(),
            amount: Amount::new(p.amount, p.currency),
            currency: p.currency,
            event_id: p.event_id.to_string(),
            refund_id: p.provider_refund_id.as_ref().map(|r| r.to_string()),
            refund_status: match (&p.provider_refund_id, &p.refund_taken) {
                (Some(_), _) => Some("succeeded".into()),
                (None, Some(t)) => Some(t.status.clone()),
                (None, None) => None,
            },
            pending_refund_id: p.refund_taken.as_ref().map(|t| t.refund_id.to_string()),
            last_error: p.last_error.clone(),
            retries: p.retries,
            received_at: time(p.received_at),
        }
    }
}

/// Where a contract's escrow stands, as its views show it: the escrow's status, or `disputed`
/// while an open dispute freezes money it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EscrowState {
    Funded,
    Disputed,
    Released,
    RefundPending,
    Refunded,
    ChargedBack,
    RefundFailed,
}

impl EscrowState {
    pub const ALL: [EscrowState; 7] = [
        EscrowState::Funded,
        EscrowState::Disputed,
        EscrowState::Released,
        EscrowState::RefundPending,
        EscrowState::Refunded,
        EscrowState::ChargedBack,
        EscrowState::RefundFailed,
    ];

    fn of(c: &Contract, status: EscrowStatus) -> EscrowState {
        match status {
            EscrowStatus::Funded if c.is_frozen() => EscrowState::Disputed,
            EscrowStatus::Funded => EscrowState::Funded,
            EscrowStatus::Released => EscrowState::Released,
            EscrowStatus::RefundPending => EscrowState::RefundPending,
            EscrowStatus::Refunded => EscrowState::Refunded,
            EscrowStatus::ChargedBack => EscrowState::ChargedBack,
            EscrowStatus::RefundFailed => EscrowState::RefundFailed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EscrowState::Funded => "funded",
            EscrowState::Disputed => "disputed",
            EscrowState::Released => "released",
            EscrowState::RefundPending => "refund_pending",
            EscrowState::Refunded => "refunded",
            EscrowState::ChargedBack => "charged_back",
            EscrowState::RefundFailed => "refund_failed",
        }
    }
}

/// Something a party said in a dispute.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisputeNoteView {
    pub actor: String,
    pub at: String,
    pub description: String,
}

/// How an admin settled a dispute.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisputeResolutionView {
    #[schema(value_type = f64)]
    pub client_share: Amount,
    #[schema(value_type = f64)]
    pub freelancer_share: Amount,
    #[schema(value_type = f64)]
    pub platform_fee: Amount,
    pub reason: String,
    pub actor: String,
    pub at: String,
}

/// A dispute of a contract: who opened it and why, the answers, how it was settled.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisputeView {
    /// Its number within the contract.
    pub id: u32,
    /// `client` (the contract's client disputes the work), `chargeback` (the card holder
    /// disputed the payment at their bank) or `outside_refund` (the payment was refunded outside
    /// the escrow, from the provider's dashboard).
    pub kind: &'static str,
    /// `open` (it freezes its milestones), `resolved` (an admin split the money), `won` or
    /// `lost` (a chargeback the bank decided), `closed` (an outside refund that left nothing
    /// to decide).
    pub status: &'static str,
    /// The milestones whose escrow it freezes while open.
    #[schema(value_type = Vec<i64>)]
    pub milestones: Vec<MilestoneId>,
    pub reason: String,
    pub description: String,
    pub opened_by: String,
    pub opened_at: String,
    pub responses: Vec<DisputeNoteView>,
    pub resolution: Option<DisputeResolutionView>,
    /// What the provider says of a chargeback, and what it took (chargebacks only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chargeback: Option<ChargebackView>,
    /// What refunds made outside the escrow took (outside refunds only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outside_refund: Option<OutsideRefundView>,
}

/// Refunds of one payment made outside the escrow (the provider's dashboard), and what they
/// took.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutsideRefundView {
    pub payment_ref: String,
    /// What the provider reported refunded outside the escrow.
    #[schema(value_type = f64)]
    pub refunded: Amount,
    #[schema(value_type = f64)]
    pub taken_from_escrow: Amount,
    #[schema(value_type = f64)]
    pub platform_loss: Amount,
}

/// A chargeback as the provider reports it, and what it did to the money.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChargebackView {
    /// The provider's dispute (`dp_…`).
    pub provider_dispute_id: String,
    pub charge_id: Option<String>,
    pub payment_intent_id: Option<String>,
    #[schema(value_type = f64)]
    pub amount: Amount,
    /// The provider's status (`needs_response`, `under_review`, `won`, `lost`, …).
    pub provider_status: String,
    pub evidence_due_by: Option<String>,
    pub funds_withdrawn: bool,
    pub funds_reinstated: bool,
    /// The bank decided.
    pub closed: bool,
    /// What a loss took out of the escrow.
    #[schema(value_type = f64)]
    pub taken_from_escrow: Amount,
    /// What a loss took that the escrow no longer held (money already released).
    #[schema(value_type = f64)]
    pub platform_loss: Amount,
    /// What of that loss was recovered from the freelancer's wallet
    /// (`ESCROW_CHARGEBACK_RECOVERY=wallet`).
    #[schema(value_type = f64)]
    pub recovered_from_wallet: Amount,
}

impl DisputeView {
    pub fn of(d: &crate::domain::Dispute, currency: Currency) -> DisputeView {
        DisputeView {
            id: d.id,
            kind: d.kind.as_str(),
            status: d.status.as_str(),
            milestones: d.milestones.clone(),
            reason: d.reason.clone(),
            description: d.description.clone(),
            opened_by: d.opened_by.clone(),
            opened_at: time(d.opened_at),
            responses: d
                .responses
                .iter()
                .map(|n| DisputeNoteView {
                    actor: n.actor.clone(),
                    at: time(n.at),
                    description: n.description.clone(),
                })
                .collect(),
            outside_refund: d.outside_refund.as_ref().map(|o| OutsideRefundView {
                payment_ref: o.payment_ref.to_string(),
                refunded: Amount::new(o.refunded, currency),
                taken_from_escrow: Amount::new(o.taken_from_escrow, currency),
                platform_loss: Amount::new(o.platform_loss, currency),
            }),
            chargeback: d.chargeback.as_ref().map(|cb| ChargebackView {
                provider_dispute_id: cb.provider_dispute_id.clone(),
                charge_id: cb.charge_id.as_ref().map(|r| r.to_string()),
                payment_intent_id: cb.payment_intent_id.as_ref().map(|r| r.to_string()),
                amount: Amount::new(cb.amount, currency),
                provider_status: cb.provider_status.clone(),
                evidence_due_by: cb.evidence_due_by.map(time),
                funds_withdrawn: cb.funds_withdrawn,
                funds_reinstated: cb.funds_reinstated,
                closed: cb.closed,
                taken_from_escrow: Amount::new(cb.taken_from_escrow, currency),
                platform_loss: Amount::new(cb.platform_loss, currency),
                recovered_from_wallet: Amount::new(cb.recovered_from_wallet, currency),
            }),
            resolution: d.resolution.as_ref().map(|r| DisputeResolutionView {
                client_share: Amount::new(r.client_share, currency),
                freelancer_share: Amount::new(r.freelancer_share, currency),
                platform_fee: Amount::new(r.platform_fee, currency),
                reason: r.reason.clone(),
                actor: r.actor.clone(),
                at: time(r.at),
            }),
        }
    }

    fn all(c: &Contract) -> Vec<DisputeView> {
        c.disputes
            .iter()
            .map(|d| DisputeView::of(d, c.currency))
            .collect()
    }
}

/// The refund decision: how the escrowed amount is split, and the provider's side of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundSplit {
    /// Sent back to the client through the payment provider.
    #[schema(value_type = f64)]
    pub client_share: Amount,
    /// Kept by the freelancer as a kill fee, credited to their wallet.
    #[schema(value_type = f64)]
    pub freelancer_share: Amount,
    /// Retained by the platform.
    #[schema(value_type = f64)]
    pub platform_fee: Amount,
    /// Whether an admin set the split (dispute resolution) instead of the status rule.
    pub explicit: bool,
    /// Idempotency key for the provider's refund call: the same on every try.
    pub idempotency_key: String,
    pub provider_refund_id: Option<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// What the provider last said of its refund (`pending`, `succeeded`, `failed`); `null`
    /// before it answered.
    pub provider_status: Option<String>,
    /// How many times a failed refund was sent again.
    pub retries: u32,
}

impl RefundSplit {
    fn of(r: &crate::domain::RefundSplit, currency: Currency) -> RefundSplit {
        RefundSplit {
            client_share: Amount::new(r.client_share, currency),
            freelancer_share: Amount::new(r.freelancer_share, currency),
            platform_fee: Amount::new(r.platform_fee, currency),
            explicit: r.explicit,
            idempotency_key: r.idempotency_key.to_string(),
            provider_refund_id: r.provider_refund_id.as_ref().map(|r| r.to_string()),
            attempts: r.attempts,
            last_error: r.last_error.clone(),
            provider_status: r.provider_status.clone(),
            retries: r.retries,
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
    pub status: EscrowState,
    /// Gross amount paid in (kept after release so reports stay whole).
    #[schema(value_type = f64)]
    pub amount: Amount,
    #[schema(value_type = f64)]
    pub platform_fee: Amount,
    #[schema(value_type = f64)]
    pub freelancer_earning: Amount,
    pub currency: Currency,
    pub transaction_type: &'static str,
    pub checkout_session_id: Option<String>,
    pub payment_intent_id: Option<String>,
    pub funding_event_id: String,
    pub refund: Option<RefundSplit>,
    pub release_requested: bool,
    pub history: Vec<HistoryView>,
    pub extra_payments: Vec<ExtraPaymentView>,
    /// The contract's milestones, each with its own escrow state; the amounts above are the
    /// funded ones' added up.
    pub milestones: Vec<MilestoneView>,
    pub disputes: Vec<DisputeView>,
    pub funded_at: String,
    pub released_at: Option<String>,
    pub refunded_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl EscrowView {
    /// The escrow of a contract, if it has one.
    pub fn of(c: &Contract) -> Option<EscrowView> {
        let e = c.escrow()?;
        Some(EscrowView {
            underscore_id: c.id.to_string(),
            contract_id: c.id.to_string(),
            job_id: c.job_id.to_string(),
            client_id: c.client_id.to_string(),
            freelancer_id: c.freelancer_id.to_string(),
            status: EscrowState::of(c, e.status),
            amount: Amount::new(e.amount, e.currency),
            platform_fee: Amount::new(e.platform_fee, e.currency),
            freelancer_earning: Amount::new(e.freelancer_earning, e.currency),
            currency: e.currency,
            transaction_type: "credit",
            checkout_session_id: e.checkout_session_id.as_ref().map(|r| r.to_string()),
            payment_intent_id: e.payment_intent_id.as_ref().map(|r| r.to_string()),
            funding_event_id: e.funding_event_id.to_string(),
            refund: e.refund.as_ref().map(|r| RefundSplit::of(r, e.currency)),
            release_requested: c.release_fund_status == ReleaseFundStatus::Requested,
            history: e.history.iter().map(HistoryView::from).collect(),
            extra_payments: c
                .extra_payments
                .iter()
                .map(ExtraPaymentView::from)
                .collect(),
            milestones: MilestoneView::all(c),
            disputes: DisputeView::all(c),
            funded_at: time(e.funded_at),
            released_at: e.released_at.map(time),
            refunded_at: e.refunded_at.map(time),
            created_at: time(e.funded_at),
            updated_at: time(c.updated_at),
        })
    }

    /// The escrow of a contract that a release or refund has just moved (so it has one).
    pub fn of_moved(c: &Contract) -> EscrowView {
        EscrowView::of(c).expect("a released or refunded contract has an escrow")
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntryView {
    pub id: String,
    pub transfer_id: String,
    /// The contract whose transition wrote it (absent for a payout's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_id: Option<String>,
    /// The payout whose transition wrote it (absent for a contract's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payout_id: Option<String>,
    pub kind: TransferKind,
    pub account: String,
    /// Signed: positive increases the account.
    #[schema(value_type = f64)]
    pub amount: Amount,
    pub currency: Currency,
    pub at: String,
}

impl From<&LedgerEntry> for EntryView {
    fn from(e: &LedgerEntry) -> EntryView {
        EntryView {
            id: e.id.clone(),
            transfer_id: e.transfer_id.clone(),
            contract_id: e.owner.contract().map(|c| c.to_string()),
            payout_id: e.owner.payout().map(|p| p.to_string()),
            kind: e.kind,
            account: e.account.to_string(),
            amount: Amount::new(e.amount, e.currency),
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
    /// When the system releases the escrow unless the client asks first
    /// (`ESCROW_AUTO_RELEASE_AFTER`); absent when nothing is scheduled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_release_at: Option<String>,
}

impl From<&Detail> for ContractDetail {
    fn from(d: &Detail) -> ContractDetail {
        let mut contract = ContractView::from(&d.contract);
        for m in &mut contract.milestones {
            m.auto_release_at = d
                .auto_releases
                .iter()
                .find(|(id, _)| *id == m.id)
                .map(|(_, at)| time(*at));
        }
        ContractDetail {
            contract,
            escrow: EscrowView::of(&d.contract),
            ledger: d.entries.iter().map(EntryView::from).collect(),
            auto_release_at: d.auto_release_at.map(time),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WalletView {
    pub user_id: String,
    /// The sum of the wallet's ledger entries.
    #[schema(value_type = f64)]
    pub balance: Amount,
    pub currency: Currency,
    pub count: u64,
    pub entries: Vec<EntryView>,
    /// Send as `after` for the page that follows; null when there is none.
    pub next: Option<String>,
}

impl From<&Wallet> for WalletView {
    fn from(w: &Wallet) -> WalletView {
        WalletView {
            user_id: w.user.to_string(),
            balance: Amount::new(w.balance.minor, w.balance.currency),
            currency: w.balance.currency,
            count: w.count,
            entries: w.entries.iter().map(EntryView::from).collect(),
            next: next(&w.next),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewView {
    #[serde(rename = "_id")]
    pub underscore_id: String,
    pub contract_id: String,
    /// The reviewer, as the original populated it (name and picture from the directory;
    /// empty strings without one).
    pub client_id: original::PublicPartyRef,
    pub freelancer_id: String,
    pub rating: u8,
    pub description: String,
    pub created_at: String,
}

impl From<&Review> for ReviewView {
    fn from(r: &Review) -> ReviewView {
        ReviewView::of(r, &crate::directory::Cards::default())
    }
}

impl ReviewView {
    pub fn of(r: &Review, cards: &crate::directory::Cards) -> ReviewView {
        ReviewView {
            underscore_id: r.id.to_string(),
            contract_id: r.contract_id.to_string(),
            client_id: original::PartyRef::public(&r.client_id, cards),
            freelancer_id: r.freelancer_id.to_string(),
            rating: r.rating.get(),
            description: r.description.clone(),
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
    /// Send as `after` for the page that follows; null when there is none.
    pub next: Option<String>,
}

impl From<&Reviews> for ReviewsPage {
    fn from(r: &Reviews) -> ReviewsPage {
        ReviewsPage {
            count: r.count,
            // Rounded in integer arithmetic by the service; the float is only the wire format.
            average_rating: r.average_rating_x100 as f64 / 100.0,
            page: r.page.page,
            limit: r.page.limit,
            data: r
                .reviews
                .iter()
                .map(|v| ReviewView::of(v, &r.cards))
                .collect(),
            next: next(&r.next),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AmountView {
    #[schema(value_type = f64)]
    pub data: Amount,
    pub currency: Currency,
}

impl From<Money> for AmountView {
    fn from(m: Money) -> AmountView {
        AmountView {
            data: Amount::new(m.minor, m.currency),
            currency: m.currency,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EscrowPage {
    /// How many match in all; only on a numbered page (a page asked `after` a cursor is not
    /// counted: the count is what would make every page cost the whole list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    pub page: u32,
    pub limit: u32,
    pub data: Vec<EscrowView>,
    /// Send as `after` for the page that follows; null when there is none.
    pub next: Option<String>,
}

impl From<&Escrows> for EscrowPage {
    fn from(p: &Escrows) -> EscrowPage {
        EscrowPage {
            count: p.count,
            page: p.page.page,
            limit: p.page.limit,
            data: p.contracts.iter().filter_map(EscrowView::of).collect(),
            next: next(&p.next),
        }
    }
}

/// A list's `next` on the wire: the cursor a client sends back as `after`.
pub fn next(cursor: &Option<crate::store::Cursor>) -> Option<String> {
    cursor.as_ref().map(crate::store::Cursor::encode)
}

/// One month of released escrows.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonthRow {
    /// "YYYY-MM" (UTC).
    pub month: String,
    /// The month's first instant (RFC 3339, UTC): the original's dashboard shows rows by it.
    pub created_at: String,
    /// The gross amount again, under the name the original's dashboard reads.
    #[schema(value_type = f64)]
    pub amount: Amount,
    #[schema(value_type = f64)]
    pub gross: Amount,
    #[schema(value_type = f64)]
    pub platform_fee: Amount,
    #[schema(value_type = f64)]
    pub freelancer_earning: Amount,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SalesReport {
    pub currency: Currency,
    pub data: Vec<MonthRow>,
}

impl From<&Sales> for SalesReport {
    fn from(s: &Sales) -> SalesReport {
        SalesReport {
            currency: s.currency,
            data: s
                .months
                .iter()
                .map(|m| MonthRow {
                    month: m.month.clone(),
                    created_at: format!("{}-01T00:00:00.000Z", m.month),
                    amount: Amount::new(m.gross, s.currency),
                    gross: Amount::new(m.gross, s.currency),
                    platform_fee: Amount::new(m.platform_fee, s.currency),
                    freelancer_earning: Amount::new(m.freelancer_earning, s.currency),
                    count: m.count,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaView {
    pub url: String,
    #[serde(rename = "type")]
    pub kind: MediaKind,
    pub media_url: String,
    pub media_type: MediaKind,
    pub bytes: u64,
    pub sha256: String,
}

impl From<StoredMedia> for MediaView {
    fn from(m: StoredMedia) -> MediaView {
        MediaView {
            url: m.url.clone(),
            kind: m.kind,
            media_url: m.url,
            media_type: m.kind,
            bytes: m.bytes,
            sha256: m.sha256,
        }
    }
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
            event_id: e.event_id.to_string(),
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

impl From<Delivery> for WebhookReply {
    fn from(d: Delivery) -> WebhookReply {
        WebhookReply {
            received: true,
            event_id: d.event_id.to_string(),
            outcome: d.outcome.as_str().into(),
            message: d.message,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CheckoutSession {
    pub id: String,
    pub url: String,
}

impl From<Session> for CheckoutSession {
    fn from(s: Session) -> CheckoutSession {
        CheckoutSession {
            id: s.id,
            url: s.url,
        }
    }
}

/// A freelancer's connected account at the payment provider.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayoutAccountView {
    pub account_id: String,
    pub payouts_enabled: bool,
    pub details_submitted: bool,
    /// What the provider still needs before payouts (its `currently_due`).
    pub requirements_due: Vec<String>,
    pub updated_at: String,
}

impl From<&ConnectedAccount> for PayoutAccountView {
    fn from(a: &ConnectedAccount) -> PayoutAccountView {
        PayoutAccountView {
            account_id: a.account_id.clone(),
            payouts_enabled: a.payouts_enabled,
            details_submitted: a.details_submitted,
            requirements_due: a.requirements_due.clone(),
            updated_at: time(a.updated_at),
        }
    }
}

/// Where onboarding goes on: the account and a fresh link to the provider's hosted page.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OnboardingView {
    pub account_id: String,
    pub url: String,
}

impl From<Onboarding> for OnboardingView {
    fn from(o: Onboarding) -> OnboardingView {
        OnboardingView {
            account_id: o.account_id,
            url: o.url,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayoutView {
    pub id: String,
    pub user_id: String,
    #[schema(value_type = f64)]
    pub amount: Amount,
    pub currency: Currency,
    /// `requested` (being debited), `pending` (debited, transfer not confirmed), `paid`,
    /// `failed` (money back in the wallet), `reversed`.
    pub status: PayoutStatus,
    /// The connected account it goes to.
    pub destination: String,
    /// The provider's transfer, once made.
    pub transfer_id: Option<String>,
    /// Why the provider refused it (failed).
    pub failure: Option<String>,
    /// The last unanswered call to the provider (pending: it is retried).
    pub last_error: Option<String>,
    pub attempt: u32,
    /// How much of it the provider reversed back to the wallet.
    #[schema(value_type = f64)]
    pub reversed: Amount,
    /// The contract whose release made it (payouts at release), or whose lost chargeback it
    /// recovers.
    pub contract_id: Option<String>,
    /// A recovery, not a payout: the provider dispute of the chargeback whose loss it took
    /// from the wallet to `platform:chargebacks` (its `destination`); nothing was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chargeback: Option<String>,
    pub history: Vec<HistoryView>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Payout> for PayoutView {
    fn from(p: &Payout) -> PayoutView {
        PayoutView {
            id: p.id.to_string(),
            user_id: p.user.to_string(),
            amount: Amount::new(p.amount, p.currency),
            currency: p.currency,
            status: p.status,
            destination: p.destination.clone(),
            transfer_id: p.transfer_id.clone(),
            failure: p.failure.clone(),
            last_error: p.last_error.clone(),
            attempt: p.attempt,
            reversed: Amount::new(p.reversed, p.currency),
            contract_id: p.contract_id.as_ref().map(|c| c.to_string()),
            chargeback: p.chargeback.clone(),
            history: p.history.iter().map(HistoryView::from).collect(),
            created_at: time(p.created_at),
            updated_at: time(p.updated_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayoutPageView {
    /// How many match in all (numbered pages only).
    pub count: Option<u64>,
    pub data: Vec<PayoutView>,
    /// Send as `after` for the page that follows; null when there is none.
    pub next: Option<String>,
}

impl From<&PayoutPage> for PayoutPageView {
    fn from(p: &PayoutPage) -> PayoutPageView {
        PayoutPageView {
            count: p.count,
            data: p.payouts.iter().map(PayoutView::from).collect(),
            next: next(&p.next),
        }
    }
}
