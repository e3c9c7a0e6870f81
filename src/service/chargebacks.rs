//! Recovering a chargeback the platform lost after the money left the escrow from the
//! freelancer's wallet (`ESCROW_CHARGEBACK_RECOVERY=wallet`): at most what the wallet holds,
//! never below zero, by the same guarded debit as a payout (a recovery is a payout whose money
//! goes to `platform:chargebacks` instead of the provider), once per chargeback. The rest stays
//! the platform's loss.

use crate::domain::{Account, ContractId, MinorUnits, Payout, PayoutStatus, Timer, TimerKind};
use crate::store::{Debit, StoreError};

use super::error::{Error, ErrorCode, Result};
use super::{ChargebackRecovery, Service};

/// How many times a recovery re-reads the wallet after a concurrent debit left it with less.
const RECOVERY_ATTEMPTS_MAX: u32 = 8;

impl Service {
    /// The timer that recovers chargeback `dispute`'s loss on `contract` from the wallet,
    /// stored before the loss is booked (it finds nothing to do if none was); `None` when the
    /// platform bears chargebacks.
    pub(super) async fn schedule_chargeback_recovery(
        &self,
        contract: &ContractId,
        dispute: &str,
    ) -> Result<Option<Timer>> {
        if self.settings.chargeback_recovery != ChargebackRecovery::Wallet {
            return Ok(None);
        }
        let now = self.clock.now_ms();
        let t = Timer::new(
            TimerKind::ChargebackRecovery,
            &format!("{contract}/{dispute}"),
            now + self.settings.debit_grace_ms,
            now,
        );
        self.store.schedule_timer(&t).await?;
        Ok(Some(t))
    }

    /// Recovers what chargeback `dispute` cost the platform on `contract` from the
    /// freelancer's wallet, as much as it holds; safe to run again and at once (the recovery's
    /// id comes from the chargeback, so there is at most one).
    pub async fn recover_chargeback(&self, contract: &ContractId, dispute: &str) -> Result<()> {
        if self.settings.chargeback_recovery != ChargebackRecovery::Wallet {
            return Ok(());
        }
        let Some(c) = self.store.get_contract(contract).await? else {
            return Ok(());
        };
        let Some(loss) = c.unrecovered_chargeback_loss(dispute) else {
            return Ok(());
        };
        let id =
            super::payouts::derived_payout_id(&format!("chargeback-recovery:{contract}:{dispute}"));
        let recovered = match self.store.get_payout(&id).await? {
            Some(p) => Some(p),
            None if loss > MinorUnits::ZERO => self.debit_recovery(&c, dispute, &id, loss).await?,
            None => None,
        };
        let Some(p) = recovered else {
            return Ok(());
        };
        let p = self.send_payout(&p.id).await?;
        // Another run's debit not finished yet (MongoDB debits in steps): not done, so the
        // timer (or Stripe's redelivery) comes back and notes the recovery on the chargeback.
        if p.status != PayoutStatus::Paid {
            return Err(Error::new(
                ErrorCode::StorageUnavailable,
                format!(
                    "chargeback {dispute}'s recovery {} is {}: its wallet debit is still being finished",
                    p.id,
                    p.status.as_str()
                ),
            ));
        }
        tracing::info!(contract = %contract, dispute = %dispute, amount = p.amount.get(), "chargeback loss recovered from the freelancer's wallet");
        self.transition(contract, |c, now| {
            Ok((
                (),
                vec![],
                c.note_chargeback_recovery(dispute, p.amount, p.id.as_str(), now),
            ))
        })
        .await?;
        Ok(())
    }

    /// Debits the wallet for the recovery of up to `loss`: what it holds, re-read when a
    /// concurrent debit took some first; `None` when it holds nothing.
    async fn debit_recovery(
        &self,
        c: &crate::domain::Contract,
        dispute: &str,
        id: &crate::domain::PayoutId,
        loss: MinorUnits,
    ) -> Result<Option<Payout>> {
        let wallet = Account::Wallet(c.freelancer_id.clone());
        let mut available = self.store.account_balance(&wallet, c.currency).await?;
        for _ in 0..RECOVERY_ATTEMPTS_MAX {
            let amount = loss.min(available);
            if amount <= MinorUnits::ZERO {
                return Ok(None);
            }
            let p = Payout::recovery(
                id.clone(),
                c.freelancer_id.clone(),
                amount,
                c.currency,
                c.id.clone(),
                dispute,
                self.clock.now_ms(),
            );
            match self.store.debit_payout(&p, None, self.clock.now_ms()).await {
                Ok(Debit::Done(p)) => return Ok(Some(*p)),
                Ok(Debit::Insufficient { available: left }) => available = left,
                // Another server made it first.
                Err(StoreError::Duplicate(_)) => return Ok(self.store.get_payout(id).await?),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }
}
