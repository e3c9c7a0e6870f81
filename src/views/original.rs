//! The original app's own response shapes, for the routes its front end calls: contracts with
//! their users and jobs populated from the directory (`jobId: {_id, title, description, rate}`,
//! `clientId: {_id, name, email, profilePic}`), where unknown parts are empty strings so its
//! components (`clientId.name.toLowerCase()`) still run.

use serde::Serialize;
use utoipa::ToSchema;

use super::{Amount, EscrowView, RefundSplit, StatusChangeView, time};
use crate::directory::Cards;
use crate::domain::{
    Contract, ContractStatus, Currency, JobId, MinorUnits, Party, ReleaseFundStatus, TransferKind,
    UserId,
};
use crate::service::wallets::{WalletActivity, WalletMonth};

/// A user as the original populated one.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartyRef {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub email: String,
    pub profile_pic: String,
}

impl PartyRef {
    pub fn of(id: &UserId, cards: &Cards) -> PartyRef {
        let card = cards.user(id);
        PartyRef {
            id: id.to_string(),
            name: card.name,
            email: card.email,
            profile_pic: card.profile_pic,
        }
    }

    /// The same without the email: what a public page shows.
    pub fn public(id: &UserId, cards: &Cards) -> PublicPartyRef {
        let card = cards.user(id);
        PublicPartyRef {
            id: id.to_string(),
            name: card.name,
            profile_pic: card.profile_pic,
        }
    }
}

/// A user on a public page: no email.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicPartyRef {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub profile_pic: String,
}

/// A job as the original populated one.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRef {
    #[serde(rename = "_id")]
    pub id: String,
    pub title: String,
    pub description: String,
    /// Rupees; `null` when the directory does not know the job.
    #[schema(value_type = Option<f64>)]
    pub rate: Option<Amount>,
}

impl JobRef {
    pub fn of(id: &JobId, cards: &Cards, currency: Currency) -> JobRef {
        let card = cards.job(id);
        JobRef {
            id: id.to_string(),
            title: card.title,
            description: card.description,
            rate: card.rate.map(|r| Amount::new(r, currency)),
        }
    }
}

/// A contract in the original's shape, its references populated.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OriginalContract {
    #[serde(rename = "_id")]
    pub id: String,
    /// "CON" and at least 8 digits.
    pub contract_id: Option<String>,
    pub job_id: JobRef,
    pub client_id: PartyRef,
    pub freelancer_id: PartyRef,
    pub title: Option<String>,
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
    pub created_at: String,
    pub updated_at: String,
}

impl OriginalContract {
    pub fn of(c: &Contract, cards: &Cards) -> OriginalContract {
        OriginalContract {
            id: c.id.to_string(),
            contract_id: c.human_id(),
            job_id: JobRef::of(&c.job_id, cards, c.currency),
            client_id: PartyRef::of(&c.client_id, cards),
            freelancer_id: PartyRef::of(&c.freelancer_id, cards),
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
            created_at: time(c.created_at),
            updated_at: time(c.updated_at),
        }
    }

    pub fn list(contracts: &[Contract], cards: &Cards) -> Vec<OriginalContract> {
        contracts
            .iter()
            .map(|c| OriginalContract::of(c, cards))
            .collect()
    }
}

/// A finished contract on a freelancer's public profile: what it was and when, no amounts and
/// no emails.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicWork {
    #[serde(rename = "_id")]
    pub id: String,
    pub contract_id: Option<String>,
    pub title: Option<String>,
    pub job_id: PublicJobRef,
    pub client_id: PublicPartyRef,
    pub status: ContractStatus,
    pub created_at: String,
    pub updated_at: String,
}

/// A job on a public page.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicJobRef {
    #[serde(rename = "_id")]
    pub id: String,
    pub title: String,
}

impl PublicWork {
    pub fn of(c: &Contract, cards: &Cards) -> PublicWork {
        PublicWork {
            id: c.id.to_string(),
            contract_id: c.human_id(),
            title: c.title.as_ref().map(|t| t.as_str().to_string()),
            job_id: PublicJobRef {
                id: c.job_id.to_string(),
                title: cards.job(&c.job_id).title,
            },
            client_id: PartyRef::public(&c.client_id, cards),
            status: c.status,
            created_at: time(c.created_at),
            updated_at: time(c.updated_at),
        }
    }
}

/// `view-contract/:id`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContractEnvelope {
    pub contract: OriginalContract,
}

/// `is-created/:jobId/:clientId`: the job's contract of that client, or `null`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MaybeContract {
    pub contract: Option<OriginalContract>,
}

/// The client's list (`get-contracts/:clientId`) and the admin's (`all-contracts`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContractData {
    /// How many match in all; only on a numbered page (a page asked `after` a cursor is not
    /// counted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    pub data: Vec<OriginalContract>,
    /// Send as `after` for the page that follows; null when there is none.
    pub next: Option<String>,
}

/// The freelancer's list (`get-contracts/:freelancerId`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FreelancerContracts {
    /// How many match in all; only on a numbered page (a page asked `after` a cursor is not
    /// counted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    pub contracts: Vec<OriginalContract>,
    /// Send as `after` for the page that follows; null when there is none.
    pub next: Option<String>,
}

/// `completed-works/:freelancerId`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompletedWorks {
    /// How many match in all; only on a numbered page (a page asked `after` a cursor is not
    /// counted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    pub contracts: Vec<PublicWork>,
    /// Send as `after` for the page that follows; null when there is none.
    pub next: Option<String>,
}

/// A contract as an escrow row names it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContractRef {
    #[serde(rename = "_id")]
    pub id: String,
    /// "CON" and at least 8 digits.
    pub contract_id: Option<String>,
    pub title: Option<String>,
    pub status: ContractStatus,
}

/// A row of the admin's payments table (`/api/admin/escrow/transactions`): the escrow with its
/// contract, job and users populated, as the original's dashboard renders it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionRow {
    #[serde(rename = "_id")]
    pub id: String,
    pub contract_id: ContractRef,
    pub job_id: JobRef,
    pub client_id: PartyRef,
    pub freelancer_id: PartyRef,
    pub transaction_type: &'static str,
    pub status: super::EscrowState,
    /// Gross amount paid in, rupees.
    #[schema(value_type = f64)]
    pub amount: Amount,
    #[schema(value_type = f64)]
    pub platform_fee: Amount,
    #[schema(value_type = f64)]
    pub freelancer_earning: Amount,
    pub currency: Currency,
    pub refund: Option<RefundSplit>,
    pub release_requested: bool,
    pub checkout_session_id: Option<String>,
    pub payment_intent_id: Option<String>,
    pub funded_at: String,
    pub released_at: Option<String>,
    pub refunded_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl TransactionRow {
    /// The row of a contract's escrow, if it has one.
    pub fn of(c: &Contract, cards: &Cards) -> Option<TransactionRow> {
        let e = EscrowView::of(c)?;
        Some(TransactionRow {
            id: e.underscore_id,
            contract_id: ContractRef {
                id: c.id.to_string(),
                contract_id: c.human_id(),
                title: c.title.as_ref().map(|t| t.as_str().to_string()),
                status: c.status,
            },
            job_id: JobRef::of(&c.job_id, cards, c.currency),
            client_id: PartyRef::of(&c.client_id, cards),
            freelancer_id: PartyRef::of(&c.freelancer_id, cards),
            transaction_type: e.transaction_type,
            status: e.status,
            amount: e.amount,
            platform_fee: e.platform_fee,
            freelancer_earning: e.freelancer_earning,
            currency: e.currency,
            refund: e.refund,
            release_requested: e.release_requested,
            checkout_session_id: e.checkout_session_id,
            payment_intent_id: e.payment_intent_id,
            funded_at: e.funded_at,
            released_at: e.released_at,
            refunded_at: e.refunded_at,
            created_at: e.created_at,
            updated_at: e.updated_at,
        })
    }
}

/// `/api/admin/escrow/transactions`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransactionPage {
    /// How many match in all; only on a numbered page (a page asked `after` a cursor is not
    /// counted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    pub page: u32,
    pub limit: u32,
    pub data: Vec<TransactionRow>,
    /// Send as `after` for the page that follows; null when there is none.
    pub next: Option<String>,
}

/// The description the original wrote on a wallet transaction of this kind.
fn wallet_description(kind: TransferKind) -> &'static str {
    match kind {
        TransferKind::Release => "Contract payment",
        TransferKind::Refund => "Partial payment for canceled contract",
        TransferKind::Payout => "Withdrawal",
        TransferKind::PayoutFailed => "Withdrawal failed: returned",
        TransferKind::PayoutReversed => "Withdrawal reversed: returned",
        _ => "Contract transaction",
    }
}

/// A wallet transaction as the original's earnings page reads it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WalletTransaction {
    #[schema(value_type = f64)]
    pub amount: Amount,
    pub description: &'static str,
    /// "credit" or "debit".
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub date: String,
    pub contract_id: String,
    /// The contract's client's name (empty without a directory).
    pub client_name: String,
}

impl WalletTransaction {
    fn list(a: &WalletActivity) -> Vec<WalletTransaction> {
        a.wallet
            .entries
            .iter()
            .map(|e| WalletTransaction {
                amount: Amount::new(MinorUnits::new(e.amount.get().abs()), e.currency),
                description: wallet_description(e.kind),
                kind: if e.amount.get() >= 0 {
                    "credit"
                } else {
                    "debit"
                },
                date: time(e.at),
                contract_id: e
                    .owner
                    .contract()
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                client_name: e
                    .owner
                    .contract()
                    .and_then(|id| a.clients.get(id))
                    .map(|c| a.cards.user(c).name)
                    .unwrap_or_default(),
            })
            .collect()
    }
}

/// `earnings/:userId`: `{success, data: {_id, balance, transactions}}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EarningsView {
    pub success: bool,
    pub data: EarningsData,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EarningsData {
    /// The wallet's id: its owner's user id (pass it to `transactions/:walletId`).
    #[serde(rename = "_id")]
    pub id: String,
    #[schema(value_type = f64)]
    pub balance: Amount,
    pub currency: Currency,
    pub transactions: Vec<WalletTransaction>,
    /// Send as `after` for the page that follows; null when there is none.
    pub next: Option<String>,
}

impl From<&WalletActivity> for EarningsView {
    fn from(a: &WalletActivity) -> EarningsView {
        EarningsView {
            success: true,
            data: EarningsData {
                id: a.wallet.user.to_string(),
                balance: Amount::new(a.wallet.balance.minor, a.wallet.balance.currency),
                currency: a.wallet.balance.currency,
                transactions: WalletTransaction::list(a),
                next: super::next(&a.wallet.next),
            },
        }
    }
}

/// `transactions/:walletId`: `{success, count, data}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WalletTransactions {
    pub success: bool,
    pub count: u64,
    pub data: Vec<WalletTransaction>,
    /// Send as `after` for the page that follows; null when there is none.
    pub next: Option<String>,
}

impl From<&WalletActivity> for WalletTransactions {
    fn from(a: &WalletActivity) -> WalletTransactions {
        WalletTransactions {
            success: true,
            count: a.wallet.count,
            data: WalletTransaction::list(a),
            next: super::next(&a.wallet.next),
        }
    }
}

/// One month of `user-sales-report/:userId`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WalletMonthRow {
    /// "YYYY-MM" (UTC).
    pub month: String,
    /// Rupees credited that month.
    #[schema(value_type = f64)]
    pub total_revenue: Amount,
    pub total_transactions: u64,
}

/// `user-sales-report/:userId`: `{data}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WalletMonths {
    pub data: Vec<WalletMonthRow>,
}

impl WalletMonths {
    pub fn of(months: &[WalletMonth], currency: Currency) -> WalletMonths {
        WalletMonths {
            data: months
                .iter()
                .map(|m| WalletMonthRow {
                    month: m.month.clone(),
                    total_revenue: Amount::new(m.credited, currency),
                    total_transactions: m.count,
                })
                .collect(),
        }
    }
}
