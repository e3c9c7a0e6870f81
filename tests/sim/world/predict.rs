//! What the model says a step must do, before it runs: its answer (or the kind of error), and
//! the state it must leave (in the model the caller passes in).

use super::*;
use crate::fakes::PStatus;
use crate::model::Call;

impl World {
    /// How the provider answers each refund call of contract `id` whose key it already knows
    /// (a refund made and its answer lost): the first answer, replayed. By the key the store
    /// gave the call as the step starts.
    pub(super) fn known_refunds<'a>(
        &'a self,
        id: &ContractId,
    ) -> impl Fn(Call<'_>) -> Option<PStatus> + 'a {
        let id = id.clone();
        move |call| {
            let c = self.last.contracts.iter().find(|c| c.id == id)?;
            let key = match call {
                Call::Part(i, retries) => {
                    let r = c.milestones.get(i)?.escrow.as_ref()?.refund.as_ref()?;
                    // A retry's key is new: nothing is known under it yet.
                    if r.retries != retries {
                        return None;
                    }
                    r.idempotency_key.as_str().to_string()
                }
                Call::Extra(payment, retries) => {
                    let x = c
                        .extra_payments
                        .iter()
                        .find(|x| x.payment_ref.as_str() == payment)?;
                    if x.retries != retries {
                        return None;
                    }
                    x.idempotency_key.as_str().to_string()
                }
            };
            self.provider.first_answer(&key)
        }
    }

    /// A use case that decided refunds then sends every owed one to the provider at once: its
    /// answer is the first failed call's error, or a crash the armed faults cause.
    fn settle_now(&self, s: &mut Slot) -> Expect {
        let (faults, outage) = self.provider.preview(&s.id);
        let settle = s.st.settle(
            &mut VecDeque::from(faults),
            outage,
            &self.known_refunds(&s.id.clone()),
        );
        Expect {
            result: settle.error.map_or(Ok(()), Err),
            crash: settle.crash,
            ..Expect::ok(Change::Yes)
        }
    }

    pub(super) fn predict(&self, op: &Op, next: &mut Model) -> Expect {
        match op {
            Op::Create {
                who, job, amount, ..
            } => {
                if !matches!(who, Who::Client(_)) {
                    return Expect::err(ErrorKind::Forbidden);
                }
                if amount.minor.is_none() {
                    return Expect::err(ErrorKind::Validation);
                }
                if next.live_slot_for_job(*job).is_some() {
                    return Expect::err(ErrorKind::Conflict);
                }
                Expect::ok(Change::Yes)
            }
            Op::Approve { slot, who } => {
                let s = &mut next.slots[*slot];
                if *who != Who::Freelancer(s.freelancer) {
                    return Expect::err(ErrorKind::Forbidden);
                }
                Expect::from_want(s.st.approve())
            }
            Op::Move { slot, who, to } => {
                let now = {
                    use escrow::service::Clock;
                    self.clock.now_ms()
                };
                let window = self.settings.auto_release_after_ms;
                let s = &mut next.slots[*slot];
                if !matches!(who, Who::Freelancer(_)) {
                    return Expect::err(ErrorKind::Forbidden);
                }
                let Some(to) = ContractStatus::parse(to) else {
                    return Expect::err(ErrorKind::Validation);
                };
                if *who != Who::Freelancer(s.freelancer) {
                    return Expect::err(ErrorKind::Forbidden);
                }
                // Completing stores each held, undelivered milestone's auto-release timer
                // first (once), whether the move then succeeds or not.
                if let (ContractStatus::Completed, Some(w)) = (to, window) {
                    for k in 0..s.st.parts.len() {
                        let p = &s.st.parts[k];
                        if p.held() && !p.submitted && s.auto_release[k].is_none() {
                            s.auto_release[k] = Some((now + w, false, 0));
                        }
                    }
                }
                Expect::from_want(s.st.move_to(to))
            }
            Op::Submit { slot, who, part } => {
                let now = {
                    use escrow::service::Clock;
                    self.clock.now_ms()
                };
                let window = self.settings.auto_release_after_ms;
                let s = &mut next.slots[*slot];
                if *who != Who::Freelancer(s.freelancer) {
                    return Expect::err(ErrorKind::Forbidden);
                }
                if *part >= s.st.parts.len() {
                    return Expect::err(ErrorKind::NotFound);
                }
                let p = &s.st.parts[*part];
                if let Some(w) = window
                    && p.held()
                    && !p.submitted
                    && s.auto_release[*part].is_none()
                {
                    s.auto_release[*part] = Some((now + w, false, 0));
                }
                Expect::from_want(s.st.submit(*part))
            }
            Op::RequestPart { slot, who, part } => {
                let s = &mut next.slots[*slot];
                if *who != Who::Client(s.client) {
                    return Expect::err(ErrorKind::Forbidden);
                }
                if *part >= s.st.parts.len() {
                    return Expect::err(ErrorKind::NotFound);
                }
                let enough = self.settings.auto_release_after_ms.is_some()
                    && !self.settings.release_needs_admin;
                if enough && s.st.parts[*part].held() && s.requested_release[*part].is_none() {
                    let now = {
                        use escrow::service::Clock;
                        self.clock.now_ms()
                    };
                    s.requested_release[*part] =
                        Some((now + self.settings.debit_grace_ms, false, 0));
                }
                let asked = s.st.request_part(*part);
                if asked.is_ok() && enough {
                    s.st.release_part(*part, false)
                        .expect("a requested, held milestone releases");
                    if let Some((due, _, _)) = s.requested_release[*part] {
                        s.requested_release[*part] = Some((due, true, 0));
                    }
                    return Expect::ok(Change::Yes);
                }
                Expect::from_want(asked)
            }
            Op::ReleasePart { slot, part, how } => {
                let s = &mut next.slots[*slot];
                let forced = match how {
                    ReleaseHow::Http(Who::Admin(_)) => false,
                    ReleaseHow::Http(_) => return Expect::err(ErrorKind::Forbidden),
                    ReleaseHow::Cli { force } => force.is_some(),
                };
                if *part >= s.st.parts.len() {
                    return Expect::err(ErrorKind::NotFound);
                }
                Expect::from_want(s.st.release_part(*part, forced))
            }
            Op::Tick => {
                let now = {
                    use escrow::service::Clock;
                    self.clock.now_ms()
                };
                // The service runs the runnable timers (due, not done, no dead server's
                // claim still holding them) in the order of (due, id): a recovery takes what
                // the wallet holds when it runs, so a release before it counts.
                #[derive(PartialEq, Eq, PartialOrd, Ord)]
                enum Run {
                    Auto(usize, usize),
                    Requested(usize, usize),
                    Recovery(String),
                }
                let runnable = |t: &Option<(i64, bool, i64)>| matches!(t, Some((due, false, lease)) if *due <= now && *lease <= now);
                let mut due: Vec<(i64, String, Run)> = vec![];
                for (i, s) in next.slots.iter().enumerate() {
                    for k in 0..s.st.parts.len() {
                        let name = escrow::domain::MilestoneRef::new(
                            s.id.clone(),
                            escrow::domain::MilestoneId::new(k + 1).expect("at most 50"),
                        );
                        if runnable(&s.auto_release[k]) {
                            let at = s.auto_release[k].expect("runnable").0;
                            due.push((at, format!("auto_release:{name}"), Run::Auto(i, k)));
                        }
                        if runnable(&s.requested_release[k]) {
                            let at = s.requested_release[k].expect("runnable").0;
                            due.push((
                                at,
                                format!("requested_release:{name}"),
                                Run::Requested(i, k),
                            ));
                        }
                    }
                }
                for (dp, t) in &next.recovery_timers {
                    if runnable(&Some(*t))
                        && let Some(i) = next.slot_of_chargeback(dp)
                    {
                        let id = format!("chargeback_recovery:{}/{dp}", next.slots[i].id);
                        due.push((t.0, id, Run::Recovery(dp.clone())));
                    }
                }
                due.sort();
                let mut change = Change::No;
                for (_, _, run) in due {
                    match run {
                        Run::Auto(i, k) => {
                            let s = &mut next.slots[i];
                            let at = s.auto_release[k].expect("runnable").0;
                            s.auto_release[k] = Some((at, true, 0));
                            let p = &s.st.parts[k];
                            if p.held() && p.submitted && !s.st.is_frozen(k) {
                                s.st.release_part(k, true)
                                    .expect("a held milestone releases");
                                change = Change::Yes;
                            }
                        }
                        Run::Requested(i, k) => {
                            let s = &mut next.slots[i];
                            let at = s.requested_release[k].expect("runnable").0;
                            s.requested_release[k] = Some((at, true, 0));
                            let p = &s.st.parts[k];
                            if p.held() && p.requested && !s.st.is_frozen(k) {
                                s.st.release_part(k, false)
                                    .expect("a requested milestone releases");
                                change = Change::Yes;
                            }
                        }
                        Run::Recovery(dp) => {
                            if next.recover(&dp) == Change::Yes {
                                change = Change::Yes;
                            }
                            if let Some(t) = next.recovery_timers.get_mut(&dp) {
                                *t = (t.0, true, 0);
                            }
                        }
                    }
                }
                Expect::ok(change)
            }
            Op::Checkout {
                slot,
                who,
                rate,
                title,
                freelancer,
            } => {
                let Who::Client(c) = who else {
                    return Expect::err(ErrorKind::Forbidden);
                };
                let job = next.slots[*slot].job;
                let Some(live) = next.live_slot_for_job(job) else {
                    return Expect::err(ErrorKind::NotFound);
                };
                let s = &mut next.slots[live];
                if s.client != *c {
                    return Expect::err(ErrorKind::Forbidden);
                }
                // The body contradicting the contract is a conflict, as a differing amount is.
                if freelancer.is_some_and(|f| f != s.freelancer) {
                    return Expect::err(ErrorKind::Conflict);
                }
                if rate.as_ref().is_some_and(|r| r.minor != Some(s.amount)) {
                    return Expect::err(ErrorKind::Conflict);
                }
                if !s.st.approved || s.st.escrow.is_some() {
                    return Expect::err(ErrorKind::Conflict);
                }
                s.checkout_open = true;
                Expect::ok(if title.is_some() {
                    Change::Yes
                } else {
                    Change::No
                })
            }
            Op::Pay { .. }
            | Op::DashboardRefund { .. }
            | Op::FinishRefund { .. }
            | Op::Chargeback { .. }
            | Op::DecideChargeback { .. }
            | Op::Outage(_)
            | Op::Fault { .. } => Expect::ok(Change::No),
            Op::RetryRefund { slot, .. } => {
                let s = &mut next.slots[*slot];
                if let Err(kind) = s.st.retry_failed() {
                    return Expect::err(kind);
                }
                self.settle_now(s)
            }
            Op::SettleFailedRefund { slot } => {
                Expect::from_want(next.slots[*slot].st.settle_failed())
            }
            Op::Deliver { event } => self.predict_delivery(*event, next),
            Op::Forged { .. } => Expect::err(ErrorKind::BadRequest),
            Op::RequestRelease { slot, who } => {
                let s = &mut next.slots[*slot];
                if !matches!(who, Who::Client(_)) {
                    return Expect::err(ErrorKind::Forbidden);
                }
                if *who != Who::Client(s.client) {
                    return Expect::err(ErrorKind::Forbidden);
                }
                // With auto-release on and no admin required, the request is enough: a timer
                // for each held milestone is stored first (once), then the release follows
                // and finishes them.
                let enough = self.settings.auto_release_after_ms.is_some()
                    && !self.settings.release_needs_admin;
                let now = {
                    use escrow::service::Clock;
                    self.clock.now_ms()
                };
                let held: Vec<usize> = (0..s.st.parts.len())
                    .filter(|k| s.st.parts[*k].held())
                    .collect();
                if enough {
                    for k in &held {
                        if s.requested_release[*k].is_none() {
                            s.requested_release[*k] =
                                Some((now + self.settings.debit_grace_ms, false, 0));
                        }
                    }
                }
                let asked = s.st.request_release();
                if asked.is_ok() && enough {
                    s.st.release(false)
                        .expect("a requested, funded escrow releases");
                    for k in held {
                        if let Some((due, _, _)) = s.requested_release[k] {
                            s.requested_release[k] = Some((due, true, 0));
                        }
                    }
                    return Expect::ok(Change::Yes);
                }
                Expect::from_want(asked)
            }
            Op::Release { slot, how } => {
                let s = &mut next.slots[*slot];
                match how {
                    ReleaseHow::Http(Who::Admin(_)) => Expect::from_want(s.st.release(false)),
                    ReleaseHow::Http(_) => Expect::err(ErrorKind::Forbidden),
                    ReleaseHow::Cli { force: None } => Expect::from_want(s.st.release(false)),
                    ReleaseHow::Cli { force: Some(r) } if r.trim().is_empty() => {
                        Expect::err(ErrorKind::Validation)
                    }
                    ReleaseHow::Cli { force: Some(_) } => Expect::from_want(s.st.release(true)),
                }
            }
            Op::Refund { slot, how, .. } => {
                let client = next.slots[*slot].client;
                let (by, share) = match *how {
                    RefundHow::Http { who, path_client } => match who {
                        Who::Freelancer(_) => return Expect::err(ErrorKind::Forbidden),
                        Who::Client(c) if c != path_client => {
                            return Expect::err(ErrorKind::Forbidden);
                        }
                        _ if path_client != client => return Expect::err(ErrorKind::Forbidden),
                        Who::Client(_) => (Party::Client, None),
                        Who::Admin(_) => (Party::Admin, None),
                    },
                    RefundHow::Cli { share } => (Party::Admin, share),
                };
                let s = &mut next.slots[*slot];
                if let Err(kind) = s.st.decide_refund(by, share) {
                    return Expect::err(kind);
                }
                self.settle_now(s)
            }
            Op::Dispute { slot, who } => {
                let s = &mut next.slots[*slot];
                if *who != Who::Client(s.client) {
                    return Expect::err(ErrorKind::Forbidden);
                }
                Expect::from_want(s.st.open_dispute())
            }
            Op::RespondDispute { slot, who } => {
                let s = &mut next.slots[*slot];
                if *who != Who::Freelancer(s.freelancer) {
                    return Expect::err(ErrorKind::Forbidden);
                }
                Expect::from_want(s.st.respond_to_dispute())
            }
            Op::ResolveDispute {
                slot,
                client,
                freelancer,
                ..
            } => {
                let s = &mut next.slots[*slot];
                if let Err(kind) = s.st.resolve_dispute(*client, *freelancer) {
                    return Expect::err(kind);
                }
                self.settle_now(s)
            }
            Op::Review {
                slot,
                who,
                path_client,
                freelancer,
                rating,
                description,
            } => {
                let Who::Client(c) = who else {
                    return Expect::err(ErrorKind::Forbidden);
                };
                if c != path_client {
                    return Expect::err(ErrorKind::Forbidden);
                }
                if !(1..=5).contains(rating) {
                    return Expect::err(ErrorKind::Validation);
                }
                let s = &mut next.slots[*slot];
                if s.client != *c {
                    return Expect::err(ErrorKind::Forbidden);
                }
                if description.trim().is_empty() || *freelancer != s.freelancer {
                    return Expect::err(ErrorKind::Validation);
                }
                if s.st.status != ContractStatus::Completed || s.st.reviewed {
                    return Expect::err(ErrorKind::Conflict);
                }
                s.st.reviewed = true;
                Expect::ok(Change::Yes)
            }
            Op::Recover => self.predict_recovery(next),
            Op::Onboard { freelancer } => {
                next.onboarded[*freelancer] = true;
                Expect {
                    webhook: Some("applied"),
                    ..Expect::ok(Change::Yes)
                }
            }
            Op::Withdraw {
                freelancer,
                amount,
                fault,
            } => {
                use escrow::domain::PayoutStatus;
                if !next.onboarded[*freelancer] {
                    return Expect::err(ErrorKind::Conflict);
                }
                let balance = next.wallet(*freelancer);
                let asked = amount.unwrap_or(balance);
                let min = self.settings.payout_min.minor.get();
                if asked < min {
                    // Nothing to withdraw is the wallet's state; a too small amount is input.
                    return Expect::err(if amount.is_none() {
                        ErrorKind::Conflict
                    } else {
                        ErrorKind::Validation
                    });
                }
                if asked > balance {
                    return Expect::err(ErrorKind::Conflict);
                }
                let (status, crash) = if self.provider.is_out() {
                    (PayoutStatus::Pending, false)
                } else {
                    match fault {
                        None | Some(Fault::AnswerPending | Fault::AnswerFailed) => {
                            (PayoutStatus::Paid, false)
                        }
                        Some(Fault::Timeout | Fault::LostAnswer | Fault::LostPendingAnswer) => {
                            (PayoutStatus::Pending, false)
                        }
                        Some(Fault::Reject) => (PayoutStatus::Failed, false),
                        Some(Fault::CrashBeforeCall | Fault::CrashAfterCall) => {
                            (PayoutStatus::Pending, true)
                        }
                    }
                };
                next.payouts.push(crate::model::MPayout {
                    id: None,
                    freelancer: *freelancer,
                    amount: asked,
                    status,
                    recovery: None,
                });
                Expect {
                    crash,
                    ..Expect::ok(Change::Yes)
                }
            }
            Op::Restart => {
                // The restart absorbs crashes of its own recovery pass (it starts again).
                let mut e = self.predict_recovery(next);
                e.masked = true;
                e.crash = false;
                e.recovered = None;
                e
            }
            Op::Ghost { malformed, .. } => Expect::err(if *malformed {
                ErrorKind::BadRequest
            } else {
                ErrorKind::NotFound
            }),
        }
    }

    /// One recovery pass: each contract with work settles independently of the others.
    pub(super) fn predict_recovery(&self, next: &mut Model) -> Expect {
        // Pending payouts are sent again (no transfer fault is armed outside a withdrawal).
        let outage = self.provider.is_out();
        let mut payouts_moved = false;
        for p in next
            .payouts
            .iter_mut()
            .filter(|p| p.status == escrow::domain::PayoutStatus::Pending)
        {
            payouts_moved = true;
            // A recovery asks nothing of the provider: paid, outage or not.
            if !outage || p.recovery.is_some() {
                p.status = escrow::domain::PayoutStatus::Paid;
            }
        }
        let (mut done, mut waiting, mut crash) = (0, 0, false);
        for s in next.slots.iter_mut().filter(|s| s.st.has_provider_work()) {
            let (faults, outage) = self.provider.preview(&s.id);
            let settle = s.st.settle(
                &mut VecDeque::from(faults),
                outage,
                &self.known_refunds(&s.id.clone()),
            );
            crash |= settle.crash;
            match settle.error {
                None => done += 1,
                Some(_) => waiting += 1,
            }
        }
        Expect {
            crash,
            // A crash stops the pass at a point that depends on the store's order.
            masked: crash,
            recovered: Some((done, waiting)),
            ..Expect::ok(if done + waiting > 0 || payouts_moved {
                Change::Yes
            } else {
                Change::No
            })
        }
    }

    /// A refund event for a refund the store has not recorded: while the contract still owes
    /// a milestone's refund call, the service asks the provider again (every owed call, as a
    /// recovery pass does) and looks again; found, the event applies; not found, it is
    /// ignored, unless a call failed (the delivery fails and Stripe sends it again).
    fn predict_unknown_refund(
        &self,
        refund_id: &str,
        payment_ref: &str,
        succeeded: bool,
        next: &mut Model,
    ) -> Expect {
        let ignored = Expect {
            webhook: Some("ignored"),
            ..Expect::ok(Change::No)
        };
        let Some(i) = next.slot_of_payment(payment_ref) else {
            return ignored;
        };
        let s = &mut next.slots[i];
        if !s.st.has_provider_work() {
            return ignored;
        }
        // The milestone whose refund it is: the one whose key the provider made it under.
        let key = self
            .provider
            .refunds()
            .into_iter()
            .find(|r| r.id == refund_id)
            .map(|r| r.idempotency_key);
        let stored = self.last.contracts.iter().find(|c| c.id == s.id);
        let part = stored.and_then(|c| {
            c.milestones.iter().position(|m| {
                m.escrow
                    .as_ref()
                    .and_then(|e| e.refund.as_ref())
                    .is_some_and(|r| Some(r.idempotency_key.as_str()) == key.as_deref())
            })
        });
        // Or the duplicate payment whose refund it is (by the model's index).
        let extra = stored
            .and_then(|c| {
                c.extra_payments
                    .iter()
                    .find(|x| Some(x.idempotency_key.as_str()) == key.as_deref())
            })
            .and_then(|x| {
                s.st.extras
                    .iter()
                    .position(|m| m.payment_ref == x.payment_ref.as_str())
            });
        let (faults, outage) = self.provider.preview(&s.id);
        let settle = s.st.settle(
            &mut VecDeque::from(faults),
            outage,
            &self.known_refunds(&s.id.clone()),
        );
        let learned = part
            .filter(|k| s.st.call_answered(*k))
            .map(Ok)
            .or_else(|| extra.filter(|j| !s.st.extras[*j].owes_call()).map(Err));
        let mut expect = match (learned, settle.error) {
            (Some(found), _) => {
                match found {
                    Ok(k) => s.st.refund_updated(k, succeeded),
                    Err(j) => s.st.extra_refund_updated(j, succeeded),
                };
                Expect {
                    webhook: Some("applied"),
                    ..Expect::ok(Change::Yes)
                }
            }
            (None, Some(kind)) => Expect {
                result: Err(kind),
                ..Expect::ok(Change::Yes)
            },
            (None, None) => Expect {
                webhook: Some("ignored"),
                ..Expect::ok(Change::Yes)
            },
        };
        expect.crash = settle.crash;
        expect
    }

    pub(super) fn predict_delivery(&self, event: usize, next: &mut Model) -> Expect {
        let e = &self.stripe.events[event];
        let finished = self
            .last
            .events
            .iter()
            .any(|s| s.event_id.as_str() == e.id && s.status != EventStatus::Received);
        if finished {
            // A lost chargeback's redelivery finishes its recovery from the wallet.
            let applied = self
                .last
                .events
                .iter()
                .any(|s| s.event_id.as_str() == e.id && s.status == EventStatus::Applied);
            let change = match &e.kind {
                EventKind::Chargeback {
                    dispute,
                    phase: crate::stripe::ChargebackPhase::Closed,
                    status: "lost",
                    ..
                } if applied => next.recover(dispute),
                _ => Change::No,
            };
            return Expect {
                webhook: Some("duplicate"),
                ..Expect::ok(change)
            };
        }
        let (outcome, change, settle) = match &e.kind {
            EventKind::Other | EventKind::SessionCompleted { paid: false, .. } => {
                ("ignored", Change::No, None)
            }
            EventKind::SessionCompleted { payment, .. }
            | EventKind::AsyncSucceeded { payment }
            | EventKind::IntentSucceeded { payment } => {
                let p = &self.stripe.payments[*payment];
                let slot = if p.contract_ref.is_empty() {
                    // By job and client: the job's live contract, if it is that client's.
                    let job = next.jobs.iter().position(|j| j.as_str() == p.job);
                    job.and_then(|j| next.live_slot_for_job(j))
                        .filter(|i| self.clients[next.slots[*i].client].as_str() == p.client)
                } else {
                    next.slot_of_contract(&p.contract_ref)
                };
                match slot {
                    None => ("failed", Change::No, None),
                    Some(i) => {
                        let (fee, amount) = (next.fee_bps, next.slots[i].amount);
                        let s = &mut next.slots[i];
                        let names_session = !matches!(e.kind, EventKind::IntentSucceeded { .. });
                        match s
                            .st
                            .fund(&p.payment_intent, p.amount, amount, fee, names_session)
                        {
                            Funding::AlreadyApplied => ("applied", Change::No, None),
                            Funding::Learned => ("applied", Change::Yes, None),
                            Funding::AmountMismatch => ("failed", Change::No, None),
                            Funding::Funded => ("applied", Change::Yes, None),
                            Funding::Duplicate => {
                                let (faults, outage) = self.provider.preview(&s.id);
                                let settle = s.st.settle(
                                    &mut VecDeque::from(faults),
                                    outage,
                                    &self.known_refunds(&s.id.clone()),
                                );
                                ("applied", Change::Yes, Some(settle))
                            }
                        }
                    }
                }
            }
            // The service finds the refund by the provider's id in the contract its payment
            // names; a refund whose answer it never saw is not known (a later recovery pass
            // asks again under the same key and learns how it ended).
            EventKind::RefundUpdated {
                refund_id,
                payment_ref,
                succeeded,
            } => {
                let found = self.last.contracts.iter().find_map(|c| {
                    let slot = next.slot_of_contract(c.id.as_str())?;
                    let k = c.milestones.iter().position(|m| {
                        m.escrow
                            .as_ref()
                            .and_then(|e| e.refund.as_ref())
                            .and_then(|r| r.provider_refund_id.as_ref())
                            .is_some_and(|id| id.as_str() == refund_id)
                    });
                    if let Some(k) = k {
                        return Some((slot, Ok(k)));
                    }
                    // A duplicate payment's: settled, or taken (pending or failed).
                    let x = c.extra_payments.iter().find(|x| {
                        x.provider_refund_id
                            .as_ref()
                            .is_some_and(|id| id.as_str() == refund_id)
                            || x.refund_taken
                                .as_ref()
                                .is_some_and(|t| t.refund_id.as_str() == refund_id)
                    })?;
                    let j = next.slots[slot]
                        .st
                        .extras
                        .iter()
                        .position(|m| m.payment_ref == x.payment_ref.as_str())?;
                    Some((slot, Err(j)))
                });
                match found {
                    Some((i, Ok(k))) => (
                        "applied",
                        next.slots[i].st.refund_updated(k, *succeeded),
                        None,
                    ),
                    Some((i, Err(j))) => (
                        "applied",
                        next.slots[i].st.extra_refund_updated(j, *succeeded),
                        None,
                    ),
                    None => {
                        return self.predict_unknown_refund(
                            refund_id,
                            payment_ref,
                            *succeeded,
                            next,
                        );
                    }
                }
            }
            // A chargeback of a payment the escrow knows; any other fails.
            EventKind::Chargeback {
                dispute,
                payment_ref,
                amount,
                phase,
                status,
            } => match next.slot_of_payment(payment_ref) {
                None => ("failed", Change::No, None),
                Some(i) => {
                    let lost =
                        *phase == crate::stripe::ChargebackPhase::Closed && *status == "lost";
                    // A loss the wallet may make good: its timer is stored first (once).
                    if lost && next.wallet_recovery {
                        let now = {
                            use escrow::service::Clock;
                            self.clock.now_ms()
                        };
                        next.recovery_timers.entry(dispute.clone()).or_insert((
                            now + self.settings.debit_grace_ms,
                            false,
                            0,
                        ));
                    }
                    let mut change = next.slots[i].st.apply_chargeback(
                        dispute,
                        payment_ref,
                        *amount,
                        status,
                        *phase,
                    );
                    if lost && next.wallet_recovery {
                        if next.recover(dispute) == Change::Yes {
                            change = Change::Yes;
                        }
                        if let Some(t) = next.recovery_timers.get_mut(dispute.as_str()) {
                            *t = (t.0, true, 0);
                        }
                    }
                    ("applied", change, None)
                }
            },
            EventKind::ChargeRefunded {
                payment_ref,
                refunded,
            } => match next.slot_of_payment(payment_ref) {
                None => ("failed", Change::No, None),
                // A refund of the escrow's payment it did not make (issue 16, point 4).
                Some(i)
                    if next.slots[i]
                        .st
                        .apply_outside_refund(payment_ref, *refunded)
                        == Some(true) =>
                {
                    ("applied", Change::Yes, None)
                }
                Some(i) => {
                    // Ours: the refund of a duplicate payment, or of the escrow's payment once
                    // a refund was decided. Any other refund was made outside the escrow and is
                    // listed for an admin.
                    let st = &next.slots[i].st;
                    let paid_by: Vec<&crate::model::MEscrow> = st
                        .parts
                        .iter()
                        .filter_map(|p| p.escrow.as_ref())
                        .filter(|e| e.payment_ref == *payment_ref)
                        .collect();
                    let known = st
                        .disputes
                        .iter()
                        .any(|d| d.payment_ref.as_deref() == Some(payment_ref.as_str()));
                    let ours = known
                        || match paid_by.is_empty() {
                            false => paid_by.iter().any(|e| {
                                matches!(
                                    e.status,
                                    EscrowStatus::RefundPending
                                        | EscrowStatus::Refunded
                                        | EscrowStatus::RefundFailed
                                )
                            }),
                            true => st.extras.iter().any(|x| x.payment_ref == *payment_ref),
                        };
                    (if ours { "applied" } else { "failed" }, Change::No, None)
                }
            },
        };
        Expect {
            webhook: Some(outcome),
            crash: settle.is_some_and(|s| s.crash),
            // The event row itself always changes on a first delivery; `change` is about
            // contracts and the ledger.
            ..Expect::ok(change)
        }
    }
}
