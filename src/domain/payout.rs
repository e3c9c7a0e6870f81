//! Money out: a freelancer's connected account at the provider, and payouts from a wallet to
//! it. Like the escrow, each payout transition is a pure function on the [`Payout`] record
//! that returns the ledger [`Transfer`]s it causes; the store saves them with a
//! compare-and-set on the record's version.
//!
//! States: `pending` (the wallet is debited into `payout:<id>`; the provider's transfer is
//! not confirmed yet) → `paid` (sent: `payout:<id>` → `external:stripe`) or `failed` (refused
//! for good: back to the wallet). A paid payout whose transfer the provider reverses gives
//! the reversed amount back to the wallet (`reversed` once all of it is). A failed payout can
//! be retried: it debits the wallet again, under a new attempt (a new idempotency key at the
//! provider, which would otherwise replay its refusal).
//!
//! The wallet debit is the one move that must be guarded against other writes (no wallet may
//! go below zero whatever runs at once): the stores do it, see `store::PayoutStore`.

use serde::{Deserialize, Serialize};

use super::error::{Action, DomainError, Entity};
use super::escrow::HistoryEntry;
use super::ids::{ContractId, PayoutId, UserId};
use super::ledger::{Account, Owner, Transfer, TransferKind};
use super::money::{Currency, MinorUnits};

/// The longest reason or error text kept from the provider.
const PROVIDER_TEXT_CHARS_MAX: usize = 500;

fn clip(s: &str) -> String {
    s.chars().take(PROVIDER_TEXT_CHARS_MAX).collect()
}

/// A freelancer's account at the payment provider (a Stripe Express account), as its last
/// `account.updated` event described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectedAccount {
    pub user: UserId,
    /// The provider's id (`acct_…`).
    pub account_id: String,
    pub payouts_enabled: bool,
    pub details_submitted: bool,
    /// What the provider still needs (`currently_due`).
    pub requirements_due: Vec<String>,
    /// When the state was last described (the event's `created`, Unix seconds): an older
    /// event never overwrites a newer one.
    pub described_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What an `account.updated` event says of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountState {
    pub account_id: String,
    pub payouts_enabled: bool,
    pub details_submitted: bool,
    pub requirements_due: Vec<String>,
    /// The event's `created` (Unix seconds).
    pub described_at: i64,
}

impl ConnectedAccount {
    pub fn new(user: UserId, account_id: String, now: i64) -> ConnectedAccount {
        ConnectedAccount {
            user,
            account_id,
            payouts_enabled: false,
            details_submitted: false,
            requirements_due: vec![],
            described_at: 0,
            created_at: now,
            updated_at: now,
        }
    }

    /// Takes the state an event describes, unless an event at least as new was taken already;
    /// whether it changed anything.
    pub fn describe(&mut self, s: &AccountState, now: i64) -> bool {
        if s.described_at < self.described_at {
            return false;
        }
        let before = (
            self.payouts_enabled,
            self.details_submitted,
            self.requirements_due.clone(),
            self.described_at,
        );
        self.payouts_enabled = s.payouts_enabled;
        self.details_submitted = s.details_submitted;
        self.requirements_due = s.requirements_due.clone();
        self.described_at = s.described_at;
        let changed = before
            != (
                self.payouts_enabled,
                self.details_submitted,
                self.requirements_due.clone(),
                self.described_at,
            );
        if changed {
            self.updated_at = now;
        }
        changed
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutStatus {
    /// Asked for; the wallet is not debited yet. Only a store that cannot debit in the same
    /// write as it records the payout (MongoDB) ever holds a payout in this state, briefly
    /// (or until its repair step finishes what a crash cut off).
    Requested,
    /// The wallet is debited; the provider's transfer is not confirmed yet.
    Pending,
    Paid,
    Failed,
    /// Paid, then reversed in full by the provider.
    Reversed,
}

impl PayoutStatus {
    pub const ALL: [PayoutStatus; 5] = [
        PayoutStatus::Requested,
        PayoutStatus::Pending,
        PayoutStatus::Paid,
        PayoutStatus::Failed,
        PayoutStatus::Reversed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PayoutStatus::Requested => "requested",
            PayoutStatus::Pending => "pending",
            PayoutStatus::Paid => "paid",
            PayoutStatus::Failed => "failed",
            PayoutStatus::Reversed => "reversed",
        }
    }

    pub fn parse(s: &str) -> Option<PayoutStatus> {
        PayoutStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payout {
    pub id: PayoutId,
    pub user: UserId,
    pub amount: MinorUnits,
    pub currency: Currency,
    pub status: PayoutStatus,
    /// The connected account it goes to (`acct_…`).
    pub destination: String,
    /// The charge that funds it, for a payout made at release (`ESCROW_PAYOUT_MODE=on_release`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_transaction: Option<String>,
    /// The contract whose release made it, for a payout made at release (or whose lost
    /// chargeback it recovers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_id: Option<ContractId>,
    /// For a recovery, not a payout: the provider dispute (`dp_…`) of a chargeback lost after
    /// release, whose loss this takes from the wallet to `platform:chargebacks`
    /// (`ESCROW_CHARGEBACK_RECOVERY=wallet`). Nothing is sent to the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chargeback: Option<String>,
    /// Which debit of the wallet this is: 1, then one more for each retry of a failed payout.
    /// The provider's idempotency key is made from the id and the attempt.
    pub attempt: u32,
    /// Calls made to the provider for this attempt that did not get an answer.
    pub tries: u32,
    pub last_error: Option<String>,
    /// Why the provider refused it, for a failed payout.
    pub failure: Option<String>,
    /// The provider's transfer (`tr_…`), once made.
    pub transfer_id: Option<String>,
    /// How much of the transfer the provider reversed.
    pub reversed: MinorUnits,
    /// The store's token of the wallet debit behind the current attempt (MongoDB's debit
    /// protocol; empty elsewhere).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub debit_token: String,
    /// Transfers written so far (each transfer's id is `payout:<id>:<n>`).
    pub transfer_seq: u32,
    pub history: Vec<HistoryEntry>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The compare-and-set token: bumped by every save.
    pub version: i64,
}

/// What a transition returns: the transfers it caused (none: it was already in effect).
pub type Moved = Result<Vec<Transfer>, DomainError>;

impl Payout {
    /// A new payout of `amount` from `user`'s wallet to `destination`, not yet debited.
    pub fn requested(
        id: PayoutId,
        user: UserId,
        amount: MinorUnits,
        currency: Currency,
        destination: String,
        now: i64,
    ) -> Payout {
        Payout {
            id,
            user,
            amount,
            currency,
            status: PayoutStatus::Requested,
            destination,
            source_transaction: None,
            contract_id: None,
            chargeback: None,
            attempt: 1,
            tries: 0,
            last_error: None,
            failure: None,
            transfer_id: None,
            reversed: MinorUnits::ZERO,
            debit_token: String::new(),
            transfer_seq: 0,
            history: vec![HistoryEntry {
                action: "requested".into(),
                actor: String::new(),
                at: now,
                detail: String::new(),
            }],
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }

    /// Where a chargeback recovery's money goes (its `destination`).
    pub const RECOVERY_DESTINATION: &'static str = "platform:chargebacks";

    /// A recovery of `amount` of chargeback `dispute`'s loss on `contract` from `user`'s
    /// wallet, not yet debited.
    pub fn recovery(
        id: PayoutId,
        user: UserId,
        amount: MinorUnits,
        currency: Currency,
        contract: ContractId,
        dispute: &str,
        now: i64,
    ) -> Payout {
        let mut p = Payout::requested(
            id,
            user,
            amount,
            currency,
            Payout::RECOVERY_DESTINATION.into(),
            now,
        );
        p.contract_id = Some(contract);
        p.chargeback = Some(dispute.to_string());
        p
    }

    /// Whether it recovers a chargeback loss instead of paying out.
    pub fn is_recovery(&self) -> bool {
        self.chargeback.is_some()
    }

    /// A debited recovery is done: the money moves on to `platform:chargebacks`, nothing is
    /// sent to the provider. Already done: nothing to do.
    pub fn recovered(&mut self, now: i64) -> Moved {
        if self.status == PayoutStatus::Paid {
            return Ok(vec![]);
        }
        self.require(PayoutStatus::Pending, Action::SettlePayout)?;
        if !self.is_recovery() {
            return Err(self.refused(
                Action::SettlePayout,
                format!("payout {} is not a chargeback recovery", self.id),
            ));
        }
        self.status = PayoutStatus::Paid;
        self.last_error = None;
        let detail = format!(
            "chargeback {} recovered",
            self.chargeback.as_deref().unwrap_or("")
        );
        self.note("recovered", "system", detail, now);
        let (account, amount) = (self.account(), self.amount);
        Ok(vec![self.transfer(
            TransferKind::ChargebackRecovered,
            now,
            vec![(account, -amount), (Account::PlatformChargebacks, amount)],
        )])
    }

    pub fn owner(&self) -> Owner {
        Owner::Payout(self.id.clone())
    }

    pub fn wallet(&self) -> Account {
        Account::Wallet(self.user.clone())
    }

    pub fn account(&self) -> Account {
        Account::Payout(self.id.clone())
    }

    /// The provider's idempotency key for this attempt's transfer: the same on every call of
    /// one attempt, another for a retry of a failed payout.
    pub fn transfer_key(&self) -> String {
        match self.attempt {
            0 | 1 => format!("payout-{}", self.id),
            n => format!("payout-{}-{n}", self.id),
        }
    }

    /// Whether the provider still has to be asked (a pending payout).
    pub fn has_provider_work(&self) -> bool {
        self.status == PayoutStatus::Pending
    }

    fn refused(&self, action: Action, reason: String) -> DomainError {
        DomainError::refused(Entity::Payout, self.status.as_str(), action, reason)
    }

    /// `action` needs the payout in `status`: refused otherwise.
    fn require(&self, status: PayoutStatus, action: Action) -> Result<(), DomainError> {
        if self.status == status {
            return Ok(());
        }
        Err(self.refused(
            action,
            format!(
                "payout {} is {}, not {}",
                self.id,
                self.status.as_str(),
                status.as_str()
            ),
        ))
    }

    fn transfer(
        &mut self,
        kind: TransferKind,
        now: i64,
        lines: Vec<(Account, MinorUnits)>,
    ) -> Transfer {
        self.transfer_seq += 1;
        Transfer::new(
            format!("payout:{}:{}", self.id, self.transfer_seq),
            self.owner(),
            kind,
            self.currency,
            now,
            lines,
        )
    }

    fn note(&mut self, action: &str, actor: &str, detail: String, now: i64) {
        self.history.push(HistoryEntry {
            action: action.into(),
            actor: actor.into(),
            at: now,
            detail,
        });
        self.updated_at = now;
    }

    /// The wallet is debited (`requested` → `pending`): the amount moves from the wallet to
    /// the payout's account. The caller (a store) has checked the wallet holds it.
    pub fn debit(&mut self, token: &str, now: i64) -> Moved {
        self.require(PayoutStatus::Requested, Action::DebitWallet)?;
        self.status = PayoutStatus::Pending;
        self.debit_token = token.to_string();
        self.tries = 0;
        self.last_error = None;
        let detail = format!("attempt {}", self.attempt);
        self.note("debited", "system", detail, now);
        let (wallet, account, amount) = (self.wallet(), self.account(), self.amount);
        Ok(vec![self.transfer(
            TransferKind::Payout,
            now,
            vec![(wallet, -amount), (account, amount)],
        )])
    }

    /// The provider took the transfer: the money leaves the platform. Already paid by this
    /// transfer: nothing to do.
    pub fn paid(&mut self, transfer_id: &str, now: i64) -> Moved {
        if matches!(self.status, PayoutStatus::Paid | PayoutStatus::Reversed)
            && self.transfer_id.as_deref() == Some(transfer_id)
        {
            return Ok(vec![]);
        }
        self.require(PayoutStatus::Pending, Action::SettlePayout)?;
        self.status = PayoutStatus::Paid;
        self.transfer_id = Some(transfer_id.to_string());
        self.last_error = None;
        self.note("paid", "provider", transfer_id.to_string(), now);
        let (account, amount) = (self.account(), self.amount);
        Ok(vec![self.transfer(
            TransferKind::PayoutSent,
            now,
            vec![(account, -amount), (Account::ExternalStripe, amount)],
        )])
    }

    /// The provider refused the transfer for good: the money goes back to the wallet.
    pub fn failed(&mut self, reason: &str, now: i64) -> Moved {
        self.require(PayoutStatus::Pending, Action::SettlePayout)?;
        self.status = PayoutStatus::Failed;
        self.failure = Some(clip(reason));
        self.note("failed", "provider", clip(reason), now);
        let (wallet, account, amount) = (self.wallet(), self.account(), self.amount);
        Ok(vec![self.transfer(
            TransferKind::PayoutFailed,
            now,
            vec![(account, -amount), (wallet, amount)],
        )])
    }

    /// A call to the provider got no answer: kept pending, to be asked again with the same key.
    pub fn unanswered(&mut self, error: &str, now: i64) {
        self.tries += 1;
        self.last_error = Some(clip(error));
        self.updated_at = now;
    }

    /// A failed payout is tried again: a new attempt, to be debited again. `actor` is who
    /// asked.
    pub fn retry(&mut self, actor: &str, now: i64) -> Result<(), DomainError> {
        if self.status != PayoutStatus::Failed {
            return Err(self.refused(
                Action::RetryPayout,
                format!(
                    "payout {} is {}: only a failed payout can be retried",
                    self.id,
                    self.status.as_str()
                ),
            ));
        }
        self.status = PayoutStatus::Requested;
        self.attempt += 1;
        self.failure = None;
        self.transfer_id = None;
        self.debit_token.clear();
        let detail = format!("attempt {}", self.attempt);
        self.note("retry", actor, detail, now);
        Ok(())
    }

    /// The provider reports `total` of the transfer reversed so far: what was not yet given
    /// back goes back to the wallet. A report of no more than is known changes nothing.
    pub fn reversed_to(&mut self, transfer_id: &str, total: MinorUnits, now: i64) -> Moved {
        if !matches!(self.status, PayoutStatus::Paid | PayoutStatus::Reversed)
            || self.transfer_id.as_deref() != Some(transfer_id)
        {
            return Err(self.refused(
                Action::ReversePayout,
                format!(
                    "payout {} is {} and not paid by transfer {transfer_id}",
                    self.id,
                    self.status.as_str()
                ),
            ));
        }
        let total = total.min(self.amount);
        if total <= self.reversed {
            return Ok(vec![]);
        }
        let back = total - self.reversed;
        self.reversed = total;
        if total == self.amount {
            self.status = PayoutStatus::Reversed;
        }
        self.note(
            "reversed",
            "provider",
            format!("{back} back to the wallet"),
            now,
        );
        let wallet = self.wallet();
        Ok(vec![self.transfer(
            TransferKind::PayoutReversed,
            now,
            vec![(Account::ExternalStripe, -back), (wallet, back)],
        )])
    }

    /// What the payout's account must hold: the amount while pending, nothing otherwise.
    pub fn holds(&self) -> MinorUnits {
        match self.status {
            PayoutStatus::Pending => self.amount,
            _ => MinorUnits::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ledger::balances;

    fn payout() -> Payout {
        Payout::requested(
            PayoutId::generate(),
            UserId::generate(),
            MinorUnits::new(50_000),
            Currency::Inr,
            "acct_1".into(),
            1,
        )
    }

    #[test]
    fn a_payout_debits_then_pays_and_its_account_ends_at_zero() {
        let mut p = payout();
        let mut entries = vec![];
        for t in p.debit("t1", 2).unwrap() {
            entries.extend(t.entries());
        }
        assert_eq!(p.holds(), p.amount);
        for t in p.paid("tr_1", 3).unwrap() {
            entries.extend(t.entries());
        }
        assert!(p.paid("tr_1", 4).unwrap().is_empty(), "a repeat is a no-op");
        assert!(p.paid("tr_2", 4).is_err());
        let b = balances(&entries);
        assert_eq!(b[&(p.account(), Currency::Inr)], 0);
        assert_eq!(b[&(p.wallet(), Currency::Inr)], -50_000);
        assert_eq!(b[&(Account::ExternalStripe, Currency::Inr)], 50_000);
        // Reversals give back only what is new.
        let back: Vec<_> = p
            .reversed_to("tr_1", MinorUnits::new(20_000), 5)
            .unwrap()
            .iter()
            .flat_map(Transfer::entries)
            .collect();
        assert_eq!(back.len(), 2);
        assert!(
            p.reversed_to("tr_1", MinorUnits::new(20_000), 6)
                .unwrap()
                .is_empty()
        );
        p.reversed_to("tr_1", MinorUnits::new(50_000), 7).unwrap();
        assert_eq!(p.status, PayoutStatus::Reversed);
        assert_eq!(p.reversed, p.amount);
    }

    #[test]
    fn a_failed_payout_gives_back_and_a_retry_is_a_new_attempt() {
        let mut p = payout();
        p.debit("t1", 2).unwrap();
        let first_key = p.transfer_key();
        let back = p.failed("account closed", 3).unwrap();
        let b = balances(&back.iter().flat_map(Transfer::entries).collect::<Vec<_>>());
        assert_eq!(b[&(p.wallet(), Currency::Inr)], 50_000);
        assert!(p.failed("again", 4).is_err());
        p.retry("admin", 5).unwrap();
        assert_eq!(p.status, PayoutStatus::Requested);
        assert_ne!(p.transfer_key(), first_key);
        assert!(p.retry("admin", 6).is_err(), "only a failed one");
        p.debit("t2", 7).unwrap();
        assert_eq!(p.transfer_seq, 3);
    }

    #[test]
    fn a_recovery_moves_the_wallet_to_the_platform_once_and_is_never_sent() {
        let mut p = Payout::recovery(
            PayoutId::generate(),
            UserId::generate(),
            MinorUnits::new(30_000),
            Currency::Inr,
            ContractId::generate(),
            "dp_1",
            1,
        );
        assert!(p.is_recovery());
        assert!(p.recovered(2).is_err(), "not debited yet");
        let mut entries: Vec<_> = p
            .debit("t1", 2)
            .unwrap()
            .iter()
            .flat_map(Transfer::entries)
            .collect();
        entries.extend(p.recovered(3).unwrap().iter().flat_map(Transfer::entries));
        assert!(p.recovered(4).unwrap().is_empty(), "a repeat is a no-op");
        assert_eq!(p.status, PayoutStatus::Paid);
        let b = balances(&entries);
        assert_eq!(b[&(p.account(), Currency::Inr)], 0);
        assert_eq!(b[&(p.wallet(), Currency::Inr)], -30_000);
        assert_eq!(b[&(Account::PlatformChargebacks, Currency::Inr)], 30_000);
        // A payout is not a recovery.
        let mut q = payout();
        q.debit("t1", 2).unwrap();
        assert!(q.recovered(3).is_err());
    }
}
