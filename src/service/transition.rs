//! The one way a contract record changes: read it, run a pure domain transition on it, save
//! it with a compare-and-set on the version that was read, and start again from a fresh read
//! when another writer won, so the second of two concurrent actions sees the first's result.

use crate::domain::{Contract, ContractId, Outcome, RequestTag, Transfer, TransferKind};
use crate::store::WebhookEvent;

use super::Service;
use super::error::{Error, ErrorCode, Result};

/// How many times a transition re-reads and retries after losing a compare-and-set.
const CAS_ATTEMPTS_MAX: u32 = 32;

/// What a transition function returns: its output, the transfers it caused, and whether it
/// changed the record.
pub(super) type Step<T> = Result<(T, Vec<Transfer>, Outcome)>;

impl Service {
    /// Runs `f` on the freshest record and saves the result with a compare-and-set, retrying
    /// from a fresh read when another writer won.
    pub(super) async fn transition<T>(
        &self,
        id: &ContractId,
        f: impl FnMut(&mut Contract, i64) -> Step<T>,
    ) -> Result<(T, Contract)> {
        self.transition_recording(id, None, f, |_| None).await
    }

    /// [`Self::transition`] on behalf of the idempotent request `request`, when there is one:
    /// the contract remembers the request in the same save as its change, and a contract the
    /// request already changed is returned as it is. So a retry whose first try changed the
    /// contract (and then lost its stored response to a crash) is answered as that first try
    /// was, not refused as a repeat of itself. Whether the request had already changed it.
    pub(super) async fn transition_for(
        &self,
        request: Option<&RequestTag>,
        id: &ContractId,
        mut f: impl FnMut(&mut Contract, i64) -> Step<()>,
    ) -> Result<(bool, Contract)> {
        let (repeat, c) = self
            .transition(id, |c, now| {
                if let Some(tag) = request
                    && c.changed_by(tag)
                {
                    return Ok((true, vec![], Outcome::Unchanged));
                }
                let ((), transfers, outcome) = f(c, now)?;
                if let Some(tag) = request
                    && outcome == Outcome::Changed
                {
                    c.record_request(tag);
                }
                Ok((false, transfers, outcome))
            })
            .await?;
        if repeat {
            tracing::info!(contract = %c.id, "a retried request had already changed this contract: answered as its first try");
        }
        Ok((repeat, c))
    }

    /// [`Self::transition`] that also records, in the same write, the webhook event
    /// `event(&output)` names (when the transition changes something). `read` is the record
    /// as the caller has just read it, used for the first attempt instead of reading it again
    /// (the compare-and-set catches a change since).
    pub(super) async fn transition_recording<T>(
        &self,
        id: &ContractId,
        mut read: Option<Contract>,
        mut f: impl FnMut(&mut Contract, i64) -> Step<T>,
        event: impl Fn(&T) -> Option<WebhookEvent>,
    ) -> Result<(T, Contract)> {
        for _ in 0..CAS_ATTEMPTS_MAX {
            let mut c = match read.take() {
                Some(c) => c,
                None => self.load(id).await?,
            };
            let expected = c.version;
            let now = self.clock.now_ms();
            let (out, transfers, outcome) = f(&mut c, now)?;
            if outcome == Outcome::Unchanged {
                return Ok((out, c));
            }
            c.version = expected + 1;
            let entries: Vec<_> = transfers.iter().flat_map(Transfer::entries).collect();
            let saved = match event(&out) {
                Some(e) => {
                    self.store
                        .save_contract_with_event(&c, expected, &entries, &e)
                        .await
                }
                None => self.store.save_contract(&c, expected, &entries).await,
            };
            match saved {
                Ok(()) => {
                    for t in &transfers {
                        self.count_money(t);
                    }
                    return Ok((out, c));
                }
                Err(crate::store::StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::new(
            ErrorCode::ConflictBusy,
            "the contract is being changed by others; try again",
        ))
    }

    fn count_money(&self, t: &Transfer) {
        let kind = match t.kind {
            TransferKind::Fund => "funded",
            TransferKind::Release => "released",
            TransferKind::Refund => "refund_decided",
            TransferKind::RefundSettled => "refunded",
            TransferKind::DuplicatePayment => "duplicate_received",
            TransferKind::DuplicatePaymentRefunded => "duplicate_refunded",
            TransferKind::Payout => "payout_debited",
            TransferKind::PayoutSent => "paid_out",
            TransferKind::PayoutFailed => "payout_failed",
            TransferKind::PayoutReversed => "payout_reversed",
            TransferKind::Chargeback => "charged_back",
            TransferKind::ChargebackLoss => "chargeback_loss",
            TransferKind::ChargebackRecovered => "chargeback_recovered",
            TransferKind::OutsideRefund => "refunded_outside",
            TransferKind::OutsideRefundLoss => "outside_refund_loss",
            TransferKind::RefundFailed => "refund_failed",
        };
        let moved: i64 = t
            .lines
            .iter()
            .map(|(_, a)| a.get())
            .filter(|a| *a > 0)
            .sum();
        self.metrics.money(kind, t.currency.code(), moved);
    }
}

/// A step that changed something iff it caused transfers.
pub(super) fn changed_if_any(transfers: Vec<Transfer>) -> Step<()> {
    let outcome = if transfers.is_empty() {
        Outcome::Unchanged
    } else {
        Outcome::Changed
    };
    Ok(((), transfers, outcome))
}
