//! Applying the payment provider's webhook events: verify the signature over the raw body,
//! deduplicate by event id, fund the escrow a payment is for (exactly once, in the same write
//! as the event's record where the store allows), and record what every event came to.

use crate::domain::dispute::ChargebackEvent;
use crate::domain::{
    Contract, ContractId, EventId, FundOutcome, JobId, Outcome, Payment, PaymentRef, PayoutId,
    UserId,
};
use crate::payment::webhook::{
    EventKind, ParsedEvent, PaymentRefs, SignatureError, verify_and_parse,
};
use crate::store::{EventStatus, WebhookEvent};

use super::Service;
use super::error::{Error, ErrorCode, Result};

/// What one delivery came to (the HTTP reply is always 200 once the signature verified and
/// the store answered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: EventId,
    /// `duplicate`, or the event's recorded status.
    pub outcome: DeliveryOutcome,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Handled before: nothing happened again.
    Duplicate,
    Recorded(EventStatus),
}

impl DeliveryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Duplicate => "duplicate",
            DeliveryOutcome::Recorded(s) => s.as_str(),
        }
    }
}

/// Builds the stored record of the event being handled from its final status, error and
/// contract.
type EventRecorder<'a> =
    dyn Fn(EventStatus, Option<String>, Option<&ContractId>) -> WebhookEvent + Sync + 'a;

/// What handling a webhook event came to.
struct Applied {
    status: EventStatus,
    error: Option<String>,
    contract: Option<ContractId>,
    /// The event's final state is already stored (written with the money it moved).
    recorded: bool,
}

impl Applied {
    /// An outcome that moved no money: the event is recorded on its own.
    fn apart(status: EventStatus, error: Option<String>, contract: Option<ContractId>) -> Applied {
        Applied {
            status,
            error,
            contract,
            recorded: false,
        }
    }
}

fn duplicate_note(outcome: FundOutcome) -> Option<String> {
    (outcome == FundOutcome::Duplicate).then(|| "duplicate payment: refunded in full".to_string())
}

impl Service {
    /// Handles one webhook delivery. `Err` only for a bad signature (400) or a store that is
    /// down (503, so the provider retries); everything else is a 200 with its outcome.
    pub async fn handle_webhook(
        &self,
        payload: &[u8],
        signature: Option<&str>,
    ) -> Result<Delivery> {
        self.handle_delivery(payload, signature, &self.settings.webhook_secret)
            .await
    }

    /// Handles one delivery to the Connect endpoint (events about connected accounts, signed
    /// with their own secret), by the same rules as [`Service::handle_webhook`].
    pub async fn handle_connect_webhook(
        &self,
        payload: &[u8],
        signature: Option<&str>,
    ) -> Result<Delivery> {
        self.payouts_configured()?;
        let secret = self
            .settings
            .connect_webhook_secret
            .clone()
            .unwrap_or_default();
        self.handle_delivery(payload, signature, &secret).await
    }

    async fn handle_delivery(
        &self,
        payload: &[u8],
        signature: Option<&str>,
        secret: &str,
    ) -> Result<Delivery> {
        let now = self.clock.now_ms();
        let event = match verify_and_parse(payload, signature, secret, now / 1000) {
            Ok(e) => e,
            Err(e) => {
                self.metrics.webhook("rejected_signature");
                let code = match e {
                    SignatureError::Missing => ErrorCode::WebhookSignatureMissing,
                    SignatureError::Timestamp => ErrorCode::WebhookTimestampOutOfTolerance,
                    SignatureError::Body => ErrorCode::WebhookMalformed,
                    SignatureError::Malformed | SignatureError::Mismatch => {
                        ErrorCode::WebhookSignatureInvalid
                    }
                };
                return Err(Error::new(code, e.to_string()));
            }
        };
        // The event's record with its final status, error and contract: written with the
        // money it moves (one write), or on its own when it moves none.
        let record = |status: EventStatus, error: Option<String>, contract: Option<&ContractId>| {
            WebhookEvent {
                event_id: event.id.clone(),
                event_type: event.event_type.clone(),
                status,
                error,
                contract_id: contract.map(|c| c.to_string()),
                received_at: now,
                updated_at: self.clock.now_ms(),
                deliveries: 1,
            }
        };
        // A redelivery of an event already handled: count it, answer as before.
        if let Some(seen) = self.store.find_event(&event.id).await?
            && seen.status != EventStatus::Received
        {
            self.store
                .record_event(&record(EventStatus::Received, None, None))
                .await?;
            self.metrics.webhook("duplicate");
            self.finish_after_redelivery(&event, &seen).await?;
            return Ok(Delivery {
                event_id: event.id,
                outcome: DeliveryOutcome::Duplicate,
                message: format!("event already {}", seen.status.as_str()),
            });
        }
        let applied = self.apply_event(&event, &record).await?;
        if !applied.recorded {
            self.store
                .settle_event(&record(
                    applied.status,
                    applied.error.clone(),
                    applied.contract.as_ref(),
                ))
                .await?;
        }
        let (status, error) = (applied.status, applied.error);
        self.metrics.webhook(status.as_str());
        if status == EventStatus::Failed {
            tracing::warn!(event_id = %event.id, event_type = %event.event_type, error = ?error, "webhook event can never be applied; recorded as failed");
        }
        Ok(Delivery {
            event_id: event.id,
            outcome: DeliveryOutcome::Recorded(status),
            message: error.unwrap_or_else(|| "ok".into()),
        })
    }

    async fn apply_event(
        &self,
        event: &ParsedEvent,
        record: &EventRecorder<'_>,
    ) -> Result<Applied> {
        match &event.kind {
            EventKind::AccountUpdated(state) => Ok(match self.describe_account(state).await? {
                Some(_) => Applied::apart(EventStatus::Applied, None, None),
                None => Applied::apart(
                    EventStatus::Failed,
                    Some(format!(
                        "connected account {} is not one of this platform's",
                        state.account_id
                    )),
                    None,
                ),
            }),
            EventKind::TransferReversed {
                transfer_id,
                payout_id,
                amount_reversed,
            } => {
                let Some(id) = payout_id.as_deref().and_then(|p| PayoutId::parse(p).ok()) else {
                    return Ok(Applied::apart(
                        EventStatus::Failed,
                        Some(format!(
                            "transfer {transfer_id} names no payout (transfer_group)"
                        )),
                        None,
                    ));
                };
                match self
                    .reverse_payout(&id, transfer_id, *amount_reversed)
                    .await
                {
                    Ok(_) => Ok(Applied::apart(EventStatus::Applied, None, None)),
                    Err(e)
                        if matches!(
                            e.code,
                            ErrorCode::PayoutNotFound | ErrorCode::PayoutWrongState
                        ) =>
                    {
                        Ok(Applied::apart(EventStatus::Failed, Some(e.message), None))
                    }
                    Err(e) => Err(e),
                }
            }
            EventKind::RefundUpdated {
                refund_id,
                payment_intent_id,
                charge_id,
                status,
            } => {
                let named: Vec<&PaymentRef> =
                    payment_intent_id.iter().chain(charge_id.iter()).collect();
                let refund = crate::domain::RefundRef::new(refund_id.as_str());
                let Some(read) = self.contract_paid_by(&named, None).await? else {
                    return Ok(Applied::apart(
                        EventStatus::Ignored,
                        Some(format!(
                            "refund {refund_id} of a payment this escrow does not know"
                        )),
                        None,
                    ));
                };
                let (read, whose) = match refund_of(&read, &refund) {
                    Some(w) => (read, w),
                    None => match self.learn_refund(read, &refund).await? {
                        Ok(found) => found,
                        Err(read) => {
                            return Ok(Applied::apart(
                                EventStatus::Ignored,
                                Some(format!(
                                    "refund {refund_id} is not one of this escrow's refunds"
                                )),
                                Some(read.id),
                            ));
                        }
                    },
                };
                let contract = read.id.clone();
                let (changed, _) = self
                    .transition_recording(
                        &contract,
                        Some(read),
                        |c, now| {
                            let was = refund_state(c, &whose);
                            let transfers = match (&whose, status) {
                                (Whose::Milestone(m), crate::payment::RefundStatus::Succeeded) => {
                                    match c.milestone(*m)?.escrow_status() {
                                        Some(crate::domain::EscrowStatus::RefundPending) => {
                                            c.settle_refund(*m, &refund, "provider", now)?
                                        }
                                        _ => vec![],
                                    }
                                }
                                (
                                    Whose::Milestone(m),
                                    crate::payment::RefundStatus::Failed(why),
                                ) => c.fail_refund(*m, &refund, why, now)?,
                                (Whose::Duplicate(p), crate::payment::RefundStatus::Succeeded) => {
                                    c.settle_duplicate(p, &refund, now)?
                                }
                                (
                                    Whose::Duplicate(p),
                                    crate::payment::RefundStatus::Failed(why),
                                ) => c.fail_duplicate_refund(p, &refund, why, now)?,
                                (_, crate::payment::RefundStatus::Pending) => vec![],
                            };
                            // A failure may move no money (it had not been booked as sent).
                            let outcome = if refund_state(c, &whose) != was || !transfers.is_empty()
                            {
                                Outcome::Changed
                            } else {
                                Outcome::Unchanged
                            };
                            Ok((outcome, transfers, outcome))
                        },
                        |outcome| {
                            (*outcome == Outcome::Changed)
                                .then(|| record(EventStatus::Applied, None, Some(&contract)))
                        },
                    )
                    .await?;
                Ok(Applied {
                    status: EventStatus::Applied,
                    error: None,
                    contract: Some(contract),
                    recorded: changed == Outcome::Changed,
                })
            }
            EventKind::ChargeDispute {
                event: phase,
                dispute,
            } => {
                let named: Vec<&PaymentRef> = dispute
                    .payment_intent_id
                    .iter()
                    .chain(dispute.charge_id.iter())
                    .collect();
                let Some(read) = self.contract_paid_by(&named, None).await? else {
                    return Ok(Applied::apart(
                        EventStatus::Failed,
                        Some(format!(
                            "chargeback {} of a payment this escrow does not know",
                            dispute.id
                        )),
                        None,
                    ));
                };
                let contract = read.id.clone();
                // A loss the wallet may have to make good: its timer first, so a server that
                // dies after booking the loss still recovers it.
                let recovery = match (phase, dispute.status.as_str()) {
                    (ChargebackEvent::Closed, "lost") => {
                        self.schedule_chargeback_recovery(&contract, &dispute.id)
                            .await?
                    }
                    _ => None,
                };
                let (changed, _) = self
                    .transition_recording(
                        &contract,
                        Some(read),
                        |c, now| {
                            let (outcome, transfers, _loss) =
                                c.apply_chargeback(dispute, *phase, now)?;
                            Ok((outcome, transfers, outcome))
                        },
                        |outcome| {
                            (*outcome == Outcome::Changed)
                                .then(|| record(EventStatus::Applied, None, Some(&contract)))
                        },
                    )
                    .await?;
                if changed == Outcome::Changed {
                    tracing::info!(contract = %contract, dispute = %dispute.id, event = %event.event_type, "chargeback event applied");
                }
                if let Some(timer) = recovery {
                    match self.recover_chargeback(&contract, &dispute.id).await {
                        Ok(()) => self.finish_timer(&timer).await,
                        Err(e) => {
                            tracing::warn!(contract = %contract, dispute = %dispute.id, error = %e.chain(), "chargeback recovery failed: its timer will try again");
                        }
                    }
                }
                Ok(Applied {
                    status: EventStatus::Applied,
                    error: None,
                    contract: Some(contract),
                    recorded: changed == Outcome::Changed,
                })
            }
            EventKind::Other => Ok(Applied::apart(
                EventStatus::Ignored,
                Some(format!("unhandled event type {}", event.event_type)),
                None,
            )),
            EventKind::Payment { paid: false, .. } => Ok(Applied::apart(
                EventStatus::Ignored,
                Some("session completed without payment (payment_status is not paid)".into()),
                None,
            )),
            EventKind::Payment { payment, refs, .. } => {
                let read = match self.contract_for_payment(refs).await? {
                    Ok(c) => c,
                    Err(why) => return Ok(Applied::apart(EventStatus::Failed, Some(why), None)),
                };
                let payment = &self.linked(&read, payment).await?;
                let contract = read.id.clone();
                let fee = self.settings.fee;
                let result = self
                    .transition_recording(
                        &contract,
                        Some(read),
                        |c, now| {
                            let (outcome, transfers) = c.fund(payment, fee, &event.id, now)?;
                            let changed = if outcome == FundOutcome::AlreadyApplied {
                                Outcome::Unchanged
                            } else {
                                Outcome::Changed
                            };
                            Ok((outcome, transfers, changed))
                        },
                        |outcome| {
                            Some(record(
                                EventStatus::Applied,
                                duplicate_note(*outcome),
                                Some(&contract),
                            ))
                        },
                    )
                    .await;
                match result {
                    Ok((outcome, _)) => {
                        if outcome == FundOutcome::Duplicate {
                            // Owed back in full; if the provider is down the recovery step
                            // retries.
                            if let Err(e) = self.settle_with_provider(&contract).await {
                                tracing::warn!(contract = %contract, error = %e, "refund of a duplicate payment will be retried");
                            }
                        }
                        Ok(Applied {
                            status: EventStatus::Applied,
                            error: duplicate_note(outcome),
                            contract: Some(contract),
                            // Saved with the money, unless this payment was already applied
                            // (a concurrent or interrupted delivery): then it moved nothing.
                            recorded: outcome != FundOutcome::AlreadyApplied,
                        })
                    }
                    // A payment that can never fund this contract: recorded, never retried.
                    Err(e)
                        if e.code == ErrorCode::AmountMismatch
                            || e.kind() == super::ErrorKind::Validation =>
                    {
                        Ok(Applied::apart(
                            EventStatus::Failed,
                            Some(e.message),
                            Some(contract),
                        ))
                    }
                    Err(e) => Err(e),
                }
            }
            EventKind::ChargeRefunded {
                payment_intent_id,
                charge_id,
                contract_id,
                amount_refunded,
            } => {
                let named: Vec<&PaymentRef> =
                    payment_intent_id.iter().chain(charge_id.iter()).collect();
                match self
                    .contract_paid_by(&named, contract_id.as_deref())
                    .await?
                {
                    None => Ok(Applied::apart(
                        EventStatus::Failed,
                        Some("refund of a payment this escrow does not know".into()),
                        None,
                    )),
                    Some(read) => {
                        // A refund of the escrow's payment it did not make: taken out of the
                        // escrow (or a platform loss), what is left frozen for an admin.
                        let contract = read.id.clone();
                        let (outcome, c) = self
                            .transition_recording(
                                &contract,
                                Some(read),
                                |c, now| {
                                    let (outcome, transfers) =
                                        c.apply_outside_refund(&named, *amount_refunded, now)?;
                                    Ok((outcome, transfers, outcome))
                                },
                                |outcome| {
                                    (*outcome == Outcome::Changed).then(|| {
                                        record(EventStatus::Applied, None, Some(&contract))
                                    })
                                },
                            )
                            .await?;
                        if outcome == Outcome::Changed {
                            tracing::warn!(contract = %contract, event = %event.id, "a refund made outside the escrow was taken out of it; an admin decides the rest");
                            return Ok(Applied {
                                status: EventStatus::Applied,
                                error: None,
                                contract: Some(contract),
                                recorded: true,
                            });
                        }
                        // Judged per payment: a duplicate payment refunded does not make a
                        // refund of the escrow's own payment expected.
                        let known = c.disputes.iter().any(|d| {
                            d.outside_refund
                                .as_ref()
                                .is_some_and(|o| named.contains(&&o.payment_ref))
                        });
                        if known || c.expects_provider_refund(&named) {
                            Ok(Applied::apart(EventStatus::Applied, None, Some(c.id)))
                        } else {
                            Ok(Applied::apart(
                                EventStatus::Failed,
                                Some("refund made outside the escrow (not one it made or owes): check this contract".into()),
                                Some(c.id),
                            ))
                        }
                    }
                }
            }
        }
    }

    /// What an applied event leaves to do after its write, done again on its redelivery: a
    /// lost chargeback's recovery from the wallet. The event is recorded with the loss, so a
    /// server that died between the two answers Stripe's redelivery as a duplicate; the
    /// recovery runs then (it happens once whoever runs it), rather than only when its timer
    /// falls due, by which time the freelancer may have withdrawn the wallet. Failing, the
    /// delivery fails, so Stripe sends it again (the timer still stands).
    async fn finish_after_redelivery(
        &self,
        event: &ParsedEvent,
        seen: &WebhookEvent,
    ) -> Result<()> {
        let EventKind::ChargeDispute {
            event: ChargebackEvent::Closed,
            dispute,
        } = &event.kind
        else {
            return Ok(());
        };
        if dispute.status != "lost" || seen.status != EventStatus::Applied {
            return Ok(());
        }
        let Some(contract) = seen
            .contract_id
            .as_deref()
            .and_then(|c| ContractId::parse(c).ok())
        else {
            return Ok(());
        };
        self.recover_chargeback(&contract, &dispute.id).await
    }

    /// A refund event names a refund this contract does not know, while it still owes a refund
    /// whose provider answer was never recorded (a crash or a timeout after the provider took
    /// it): that may be the one. The provider is asked again under the same keys (it replays
    /// its first answer, which records the refund's id), and the refund looked up again. Not
    /// found: `Err` with the contract as it is now. A provider that cannot be reached fails
    /// the delivery, so Stripe sends it again: left unrecorded, a refund taken as pending would
    /// wait forever for the word this event carries.
    async fn learn_refund(
        &self,
        read: Contract,
        refund: &crate::domain::RefundRef,
    ) -> Result<std::result::Result<(Contract, Whose), Contract>> {
        if !read.has_pending_provider_work() {
            return Ok(Err(read));
        }
        let asked = self.settle_with_provider(&read.id).await;
        let again = self.load(&read.id).await?;
        match (refund_of(&again, refund), asked) {
            (Some(m), _) => Ok(Ok((again, m))),
            (None, Err(e)) => Err(e),
            (None, Ok(())) => Ok(Err(again)),
        }
    }

    /// The contract whose payment one of `named` is, else the one `contract_id` names.
    async fn contract_paid_by(
        &self,
        named: &[&PaymentRef],
        contract_id: Option<&str>,
    ) -> Result<Option<Contract>> {
        for r in named {
            if let Some(c) = self.store.contract_by_payment(r).await? {
                return Ok(Some(c));
            }
        }
        match contract_id.and_then(|c| ContractId::parse(c).ok()) {
            Some(id) => Ok(self.store.get_contract(&id).await?),
            None => Ok(None),
        }
    }

    /// `payment` with the reference it lacks, where the contract already holds a payment and
    /// only the provider can tell whether this is that one: an event may name the checkout
    /// session without its payment intent (older API versions), or the payment intent alone
    /// (`payment_intent.succeeded`), while the contract knows the payment by the other. Taken
    /// for a second payment, the one payment would be refunded in full while the escrow stays
    /// funded. A provider that cannot be reached fails the delivery, so it comes again.
    async fn linked(&self, c: &Contract, payment: &Payment) -> Result<Payment> {
        let mut p = payment.clone();
        if !c.holds_payments() {
            return Ok(p);
        }
        match (&p.checkout_session_id, &p.payment_intent_id) {
            (Some(session), None) => {
                p.payment_intent_id = self.payments.intent_of_session(session).await?;
            }
            (None, Some(intent)) => {
                for session in c.sessions_without_intent() {
                    if self.payments.intent_of_session(&session).await?.as_ref() == Some(intent) {
                        p.checkout_session_id = Some(session);
                        break;
                    }
                }
            }
            _ => {}
        }
        Ok(p)
    }

    /// Finds the contract a payment belongs to: by its contract id, else by job and client
    /// (sessions made by the original app carry only those). The metadata is the provider's
    /// text: a malformed id there is a failed event, not a bad request.
    async fn contract_for_payment(
        &self,
        refs: &PaymentRefs,
    ) -> Result<std::result::Result<Contract, String>> {
        if let Some(id) = refs.contract_id.as_deref() {
            let Ok(id) = ContractId::parse(id) else {
                return Ok(Err(format!(
                    "contract id {id:?} in the metadata is malformed"
                )));
            };
            return Ok(match self.store.get_contract(&id).await? {
                Some(c) => Ok(c),
                None => Err(format!("unknown contract {id}")),
            });
        }
        let (Some(job), Some(client)) = (refs.job_id.as_deref(), refs.client_id.as_deref()) else {
            return Ok(Err(
                "the payment names no contract (metadata contractId or jobId+clientId)".into(),
            ));
        };
        let (Ok(job), Ok(client)) = (JobId::parse(job), UserId::parse(client)) else {
            return Ok(Err("jobId or clientId in the metadata is malformed".into()));
        };
        Ok(match self.store.live_contract_for_job(&job).await? {
            Some(c) if c.client_id == client => Ok(c),
            _ => Err(format!(
                "no live contract for job {job} and client {client}"
            )),
        })
    }
}

/// Whose refund a provider refund id is: a milestone's, or a duplicate payment's.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Whose {
    Milestone(crate::domain::MilestoneId),
    Duplicate(PaymentRef),
}

fn refund_of(c: &Contract, refund: &crate::domain::RefundRef) -> Option<Whose> {
    c.refund_by_provider_id(refund)
        .map(Whose::Milestone)
        .or_else(|| c.duplicate_by_refund_id(refund).map(Whose::Duplicate))
}

/// What a refund event may change of the refund it names, to tell whether it changed.
fn refund_state(c: &Contract, whose: &Whose) -> String {
    match whose {
        Whose::Milestone(m) => {
            format!("{:?}", c.milestone(*m).ok().and_then(|m| m.escrow_status()))
        }
        Whose::Duplicate(p) => format!(
            "{:?}",
            c.extra_payments
                .iter()
                .find(|x| &x.payment_ref == p)
                .map(|x| (&x.provider_refund_id, &x.refund_taken))
        ),
    }
}
