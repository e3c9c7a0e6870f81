//! The checks after every step: the answer against the prediction, every ledger invariant,
//! every contract and account against the model, the provider's refunds and the webhook
//! events against the store.

use super::*;
use crate::fakes::PStatus;
use escrow::service::UseCase;
use escrow::store::{
    ContractStore, Cursor, EventStore, LedgerStore, Page, PayoutFilter, PayoutStore, ReviewStore,
    TimerStore,
};

impl World {
    pub(super) fn check_reply(
        &self,
        op: &Op,
        expect: &Expect,
        got: &Got,
        next: &Model,
    ) -> Result<(), String> {
        let got = match got {
            Ok(r) => r,
            Err(site) => return Err(format!("crashed at {site}")),
        };
        match (&expect.result, got) {
            (Ok(()), Err(e)) => {
                return Err(format!(
                    "expected success, got {:?} {}: {}",
                    e.kind(),
                    e.code,
                    e.message
                ));
            }
            (Err(kind), Ok(r)) => return Err(format!("expected {kind:?}, got Ok {r:?}")),
            (Err(kind), Err(e)) if e.kind() != *kind => {
                return Err(format!(
                    "expected {kind:?}, got {:?} {}: {}",
                    e.kind(),
                    e.code,
                    e.message
                ));
            }
            _ => {}
        }
        if let (Some(want), Ok(Reply::Webhook(outcome))) = (expect.webhook, got)
            && want != outcome
        {
            return Err(format!("webhook outcome {outcome:?}, expected {want:?}"));
        }
        if let (Some(want), Ok(Reply::Recovered(d, w))) = (expect.recovered, got)
            && want != (*d, *w)
        {
            return Err(format!(
                "recovery answered (done, waiting) = ({d}, {w}), expected {want:?}"
            ));
        }
        if let (Op::Withdraw { .. }, Ok(Reply::Payout(status))) = (op, got) {
            let want = next.payouts.last().map(|p| p.status);
            if want != Some(*status) {
                return Err(format!("answered payout {status:?}, expected {want:?}"));
            }
        }
        if let Ok(Reply::Escrow(status)) = got {
            // The whole escrow's status as the model has it after the step (a release of one
            // milestone, or of those requested, may leave others held).
            let slot = match op {
                Op::Release { slot, .. }
                | Op::ReleasePart { slot, .. }
                | Op::Refund { slot, .. }
                | Op::ResolveDispute { slot, .. } => Some(*slot),
                _ => None,
            };
            let modelled = slot
                .and_then(|i| next.slots.get(i))
                .and_then(|s| s.st.escrow.as_ref())
                .map(|e| e.status);
            let want = match op {
                Op::Release { .. } | Op::ReleasePart { .. } => {
                    modelled.unwrap_or(EscrowStatus::Released)
                }
                // A refund answers once the provider answered (or the crash check takes
                // over): refunded, taken as pending, failed, or released where a milestone
                // was released before.
                _ => modelled.unwrap_or(EscrowStatus::Refunded),
            };
            if *status != want {
                return Err(format!("answered escrow {status:?}, expected {want:?}"));
            }
        }
        if let Err(e) = got
            && e.kind() == ErrorKind::Internal
        {
            return Err(format!("internal error: {}", e.message));
        }
        Ok(())
    }

    /// Reads back what the checks compare: the parts of the store a write may have touched
    /// (see [`Written`]); the rest is carried over from the last read.
    pub(super) async fn observe(&self, read: Written) -> Result<Snapshot, String> {
        const PAGE: u32 = 1_000;
        let store = self.store();
        let (contracts, entries) = if read.contracts {
            let (mut contracts, mut entries) = (vec![], vec![]);
            loop {
                let batch: Vec<Contract> = store
                    .contracts_after(contracts.last().map(|c: &Contract| &c.id), PAGE)
                    .await
                    .map_err(|e| format!("read contracts: {e}"))?;
                let full = batch.len() == PAGE as usize;
                contracts.extend(batch);
                if !full {
                    break;
                }
            }
            loop {
                let batch: Vec<LedgerEntry> = store
                    .entries_after(entries.last().map(|e: &LedgerEntry| e.id.as_str()), PAGE)
                    .await
                    .map_err(|e| format!("read entries: {e}"))?;
                let full = batch.len() == PAGE as usize;
                entries.extend(batch);
                if !full {
                    break;
                }
            }
            (Arc::new(contracts), Arc::new(entries))
        } else {
            (self.last.contracts.clone(), self.last.entries.clone())
        };
        let events = if read.events {
            // Every event, a keyset page at a time: the pages must add up to the whole list.
            let mut events = walk(97, Cursor::of_event, async |page| {
                store
                    .list_events(false, page)
                    .await
                    .map_err(|e| format!("read events: {e}"))
            })
            .await?;
            events.sort_by(|a, b| a.event_id.cmp(&b.event_id));
            Arc::new(events)
        } else {
            self.last.events.clone()
        };
        let reviewed = if read.reviews {
            let mut reviewed = vec![];
            for f in &self.freelancers {
                let reviews = walk(7, Cursor::of_review, async |page| {
                    store
                        .reviews_for_freelancer(f, page)
                        .await
                        .map(|found| found.reviews)
                        .map_err(|e| format!("read reviews: {e}"))
                })
                .await?;
                reviewed.extend(reviews.into_iter().map(|r| r.contract_id));
            }
            reviewed.sort();
            Arc::new(reviewed)
        } else {
            self.last.reviewed.clone()
        };
        let payouts = if read.contracts {
            let mut payouts = walk(50, Cursor::of_payout, async |page| {
                store
                    .list_payouts(&PayoutFilter::default(), page)
                    .await
                    .map(|(_, rows)| rows)
                    .map_err(|e| format!("read payouts: {e}"))
            })
            .await?;
            payouts.reverse();
            Arc::new(payouts)
        } else {
            self.last.payouts.clone()
        };
        let mut onboarded = vec![];
        for f in &self.freelancers {
            let account = store
                .connected_account(f)
                .await
                .map_err(|e| format!("read connected accounts: {e}"))?;
            onboarded.push(account.is_some_and(|a| a.payouts_enabled));
        }
        let mut auto_release = HashMap::new();
        if self.settings.auto_release_after_ms.is_some() {
            for c in contracts.iter() {
                for m in &c.milestones {
                    for kind in ["auto_release", "requested_release"] {
                        let id = format!("{kind}:{}", c.milestone_ref(m.id));
                        if let Some(t) = store
                            .get_timer(&id)
                            .await
                            .map_err(|e| format!("read timers: {e}"))?
                        {
                            auto_release.insert(
                                (kind, c.id.clone(), m.id.get() - 1),
                                (t.due_at, t.done_at.is_some(), t.lease_until),
                            );
                        }
                    }
                }
            }
        }
        let mut recovery_timers = BTreeMap::new();
        for c in contracts.iter() {
            for cb in c.disputes.iter().filter_map(|d| d.chargeback.as_ref()) {
                let id = format!("chargeback_recovery:{}/{}", c.id, cb.provider_dispute_id);
                if let Some(t) = store
                    .get_timer(&id)
                    .await
                    .map_err(|e| format!("read timers: {e}"))?
                {
                    recovery_timers.insert(
                        cb.provider_dispute_id.clone(),
                        (t.due_at, t.done_at.is_some(), t.lease_until),
                    );
                }
            }
        }
        Ok(Snapshot {
            contracts,
            entries,
            events,
            reviewed,
            payouts,
            onboarded: Arc::new(onboarded),
            auto_release: Arc::new(auto_release),
            recovery_timers: Arc::new(recovery_timers),
        })
    }

    /// The store's payouts and connected accounts against the model's: exactly after a step
    /// that ran to its answer; after a crash or a failed write, each payout as before or as
    /// predicted (a payout the step was making may be missing or still pending). The model
    /// learns a new payout's id here.
    fn check_payouts(
        &self,
        exact: bool,
        pre: &Model,
        next: &mut Model,
        snap: &Snapshot,
    ) -> Result<(), String> {
        use escrow::domain::PayoutStatus;
        if exact && *snap.onboarded != next.onboarded {
            return Err(format!(
                "connected accounts taking payouts: store {:?}, model {:?}",
                snap.onboarded, next.onboarded
            ));
        }
        next.onboarded = snap.onboarded.to_vec();
        let mut unmatched: Vec<&escrow::domain::Payout> = snap.payouts.iter().collect();
        let mut kept = vec![];
        for (i, m) in next.payouts.iter().enumerate() {
            let found = match &m.id {
                Some(id) => unmatched.iter().position(|p| &p.id == id),
                // A payout this step made: one the model does not know yet, of its freelancer,
                // amount and kind (a withdrawal, or a chargeback's recovery).
                None => unmatched.iter().position(|p| {
                    !next.payouts.iter().any(|k| k.id.as_ref() == Some(&p.id))
                        && p.user == self.freelancers[m.freelancer]
                        && p.amount.get() == m.amount
                        && p.chargeback.is_some() == m.recovery.is_some()
                }),
            };
            let Some(at) = found else {
                if m.id.is_none() && !exact {
                    // Cut off before its debit was written: never made.
                    continue;
                }
                return Err(format!("payout {i} ({m:?}) is not in the store"));
            };
            let p = unmatched.remove(at);
            if p.user != self.freelancers[m.freelancer] || p.amount.get() != m.amount {
                return Err(format!("payout {i}: the store has {p:?}, the model {m:?}"));
            }
            let before = pre
                .payouts
                .get(i)
                .filter(|b| b.id.is_some())
                .map(|b| b.status);
            // After a crash the restart's recovery pass sends what is pending: a payout the step
            // left pending (or was making) may be paid by then.
            let could_be_pending = m.status == PayoutStatus::Pending
                || before == Some(PayoutStatus::Pending)
                || before.is_none();
            let allowed = if exact {
                p.status == m.status
            } else {
                p.status == m.status
                    || Some(p.status) == before
                    || (before.is_none() && p.status == PayoutStatus::Pending)
                    || (could_be_pending && p.status == PayoutStatus::Paid)
            };
            if !allowed {
                return Err(format!(
                    "payout {i}: the store has it {:?}, the model {:?} (before {before:?})",
                    p.status, m.status
                ));
            }
            kept.push(crate::model::MPayout {
                id: Some(p.id.clone()),
                status: p.status,
                ..m.clone()
            });
        }
        // A step cut off may have made a chargeback's recovery the model did not see through.
        if !exact {
            for p in unmatched.iter().filter(|p| p.chargeback.is_some()) {
                let Some(freelancer) = self.freelancers.iter().position(|f| *f == p.user) else {
                    continue;
                };
                kept.push(crate::model::MPayout {
                    id: Some(p.id.clone()),
                    freelancer,
                    amount: p.amount.get(),
                    status: p.status,
                    recovery: p.chargeback.clone(),
                });
            }
            unmatched.retain(|p| p.chargeback.is_none());
        }
        if let Some(p) = unmatched.first() {
            return Err(format!("a payout nobody asked for is stored: {p:?}"));
        }
        next.payouts = kept;
        // The provider's transfers: one per paid payout, of its amount, under its key; at most
        // one for a pending payout (sent, its answer lost); none for a failed one.
        let transfers = self.provider.transfers();
        for t in &transfers {
            if !snap.payouts.iter().any(|p| p.id.as_str() == t.payout_id) {
                return Err(format!("a transfer for no stored payout: {t:?}"));
            }
        }
        for p in snap.payouts.iter() {
            let mine: Vec<_> = transfers
                .iter()
                .filter(|t| t.payout_id == p.id.as_str())
                .collect();
            let ok = match p.status {
                // A recovery's money goes to the platform: nothing is sent.
                _ if p.chargeback.is_some() => mine.is_empty(),
                PayoutStatus::Paid => {
                    mine.len() == 1
                        && mine[0].amount == p.amount.get()
                        && mine[0].idempotency_key == p.transfer_key()
                        && p.transfer_id.as_deref() == Some(mine[0].id.as_str())
                }
                PayoutStatus::Pending => mine.len() <= 1,
                _ => mine.is_empty(),
            };
            if !ok {
                return Err(format!(
                    "payout {} ({:?}) has transfers {mine:?}",
                    p.id, p.status
                ));
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn check(
        &mut self,
        op: &Op,
        expect: &Expect,
        exact: bool,
        pre: &Model,
        mut next: Model,
        snap: &Snapshot,
        got: &Got,
    ) -> Result<(), String> {
        // 1. Every invariant of DESIGN §4, as `escrowctl verify` checks them.
        let operator = Caller::operator(CLI_ACTOR);
        let permit = self
            .service()
            .permit(&operator, UseCase::Operate)
            .map_err(|e| e.to_string())?;
        let report = self
            .service()
            .verify(permit, |_| {})
            .await
            .map_err(|e| format!("verify failed to run: {e}"))?;
        self.stats.verifies += 1;
        if !report.ok() {
            return Err(format!("verify: {:?}", report.violations));
        }
        // 2. A created contract gets its id; one created by a call that died is found by its job.
        if let Op::Create { job, .. } = op {
            let job_id = &self.model.jobs[*job];
            let found = snap
                .contracts
                .iter()
                .find(|c| &c.job_id == job_id && c.status != ContractStatus::Canceled)
                .filter(|c| !pre.slots.iter().any(|s| s.id == c.id));
            let created = match got {
                Ok(Ok(Reply::Created(id))) => Some(id.clone()),
                Ok(_) => None,
                Err(_) => found.map(|c| c.id.clone()),
            };
            let could = matches!(expect.result, Ok(()));
            match (created, could) {
                (Some(id), true) => {
                    let Op::Create {
                        who: Who::Client(client),
                        freelancer,
                        amount,
                        parts,
                        ..
                    } = op
                    else {
                        unreachable!("only a client can create")
                    };
                    let amount = amount.minor.expect("valid amount");
                    let parts = crate::model::split_amount(amount, *parts);
                    let slot = Slot {
                        id: id.clone(),
                        job: *job,
                        client: *client,
                        freelancer: *freelancer,
                        amount,
                        st: MState::new(&parts),
                        checkout_open: false,
                        auto_release: vec![None; parts.len()],
                        requested_release: vec![None; parts.len()],
                    };
                    next.slots.push(slot);
                }
                (Some(id), false) => {
                    return Err(format!("contract {id} created against the rules"));
                }
                (None, _) => {}
            }
        }
        // 3. The store holds exactly the model's contracts, each with its fixed facts.
        if snap.contracts.len() != next.slots.len() {
            return Err(format!(
                "the store has {} contracts, the model {}",
                snap.contracts.len(),
                next.slots.len()
            ));
        }
        let by_id: HashMap<&ContractId, &Contract> =
            snap.contracts.iter().map(|c| (&c.id, c)).collect();
        for (i, s) in next.slots.iter_mut().enumerate() {
            let Some(c) = by_id.get(&s.id) else {
                return Err(format!("slot {i}: contract missing from the store"));
            };
            if c.client_id != self.clients[s.client]
                || c.freelancer_id != self.freelancers[s.freelancer]
                || c.job_id != self.model.jobs[s.job]
                || c.amount.get() != s.amount
                || c.currency != self.model.currency
            {
                return Err(format!("slot {i}: fixed facts changed: {c:?}"));
            }
            let actual = MState::project(c, snap.reviewed.contains(&c.id));
            let before = pre.slots.get(i).map(|p| &p.st);
            if exact {
                if actual != s.st {
                    return Err(format!(
                        "slot {i}: the store has\n  {actual:?}\nthe model expects\n  {:?}",
                        s.st
                    ));
                }
            } else {
                // After a crash or a failed write: one of the states the step may durably have
                // reached, with nothing the provider confirmed undone.
                let m = actual.masked();
                let answered_ok = matches!(got, Ok(Ok(_)));
                // A request that is enough to release is two writes: cut off between them, it
                // leaves the release requested (its timer finishes the release later).
                let requested_only =
                    matches!(op, Op::RequestRelease { .. } | Op::RequestPart { .. })
                        && before.is_some_and(|b| {
                            let mut mid = b.clone();
                            for (i, p) in mid.parts.iter_mut().enumerate() {
                                let named = match op {
                                    Op::RequestPart { part, .. } => *part == i,
                                    _ => true,
                                };
                                if named && p.held() {
                                    p.requested = true;
                                }
                            }
                            mid.sync();
                            m == mid.masked()
                        });
                // A timer pass answers Ok even when a timer's work failed (it is put off), so
                // its contracts may be as they were.
                let may_be_before = !answered_ok || matches!(op, Op::Tick);
                // A timer pass, and a request that is enough to release, release each milestone
                // in its own write: cut off, some milestones may be released and some not.
                let mixed = matches!(
                    op,
                    Op::Tick | Op::RequestRelease { .. } | Op::RequestPart { .. }
                ) && before.is_some_and(|b| {
                    let mut mid = b.clone();
                    for p in mid.parts.iter_mut().filter(|p| p.held()) {
                        p.requested = true;
                    }
                    mid.sync();
                    crate::model::parts_mixed(&actual, &[b, &mid, &s.st])
                });
                let allowed = mixed
                    || m == s.st.masked()
                    || (may_be_before && before.is_some_and(|b| m == b.masked()))
                    || (before.is_none()
                        && m == MState::new(
                            &s.st.parts.iter().map(|p| p.amount).collect::<Vec<_>>(),
                        )
                        .masked())
                    || requested_only;
                if !allowed {
                    return Err(format!(
                        "slot {i}: after a crash or fault the store has\n  {actual:?}\nallowed: before\n  {before:?}\nor after\n  {:?}",
                        s.st
                    ));
                }
                if let Some(b) = before
                    && !b.settlement_kept_in(&actual)
                {
                    return Err(format!(
                        "slot {i}: a settled refund was undone: before {b:?}, now {actual:?}"
                    ));
                }
                s.st = actual;
            }
        }
        // No escrow is funded twice, and release and refund exclude each other for good.
        for (i, s) in next.slots.iter().enumerate() {
            let Some(pre_parts) = pre.slots.get(i).map(|p| &p.st.parts) else {
                continue;
            };
            for (k, (b, n)) in pre_parts.iter().zip(&s.st.parts).enumerate() {
                let Some(before) = b.escrow.as_ref() else {
                    continue;
                };
                let Some(now) = n.escrow.as_ref() else {
                    return Err(format!("slot {i}: milestone {k}'s escrow disappeared"));
                };
                use EscrowStatus::*;
                let forward = match before.status {
                    Funded => true,
                    RefundPending => matches!(now.status, RefundPending | Refunded | RefundFailed),
                    // Sent again, or settled by an operator.
                    RefundFailed => matches!(now.status, RefundFailed | RefundPending | Refunded),
                    Released | Refunded | ChargedBack => now.status == before.status,
                };
                if now.payment_ref != before.payment_ref || !forward {
                    return Err(format!(
                        "slot {i}: milestone {k}'s escrow went from {:?} ({}) to {:?} ({})",
                        before.status, before.payment_ref, now.status, now.payment_ref
                    ));
                }
            }
        }
        self.check_payouts(exact, pre, &mut next, snap)?;
        // Chargeback recovery timers: as predicted, or (after a crash or a failed write) as
        // stored.
        if exact && *snap.recovery_timers != next.recovery_timers {
            return Err(format!(
                "chargeback recovery timers stored {:?}, the model {:?}",
                snap.recovery_timers, next.recovery_timers
            ));
        }
        next.recovery_timers = (*snap.recovery_timers).clone();
        // Auto-release timers: as predicted, or (after a crash or a failed write) as stored.
        for (i, s) in next.slots.iter_mut().enumerate() {
            for kind in ["auto_release", "requested_release"] {
                for k in 0..s.st.parts.len() {
                    let stored = snap.auto_release.get(&(kind, s.id.clone(), k)).copied();
                    let model = match kind {
                        "auto_release" => &mut s.auto_release[k],
                        _ => &mut s.requested_release[k],
                    };
                    if exact && stored != *model {
                        return Err(format!(
                            "slot {i}: milestone {k}'s {kind} timer stored {stored:?}, the model {model:?}"
                        ));
                    }
                    *model = stored;
                }
            }
        }
        self.stats.model_checks += 1;
        // 4. A refused call, and a call that changes nothing, leave the store as it was.
        if exact && expect.change == Change::No {
            if snap.contracts != self.last.contracts {
                return Err("a refused or no-op call changed a contract record".into());
            }
            if snap.entries != self.last.entries {
                return Err("a refused or no-op call wrote ledger entries".into());
            }
            if snap.reviewed != self.last.reviewed {
                return Err("a refused or no-op call changed the reviews".into());
            }
            if snap.payouts != self.last.payouts {
                return Err("a refused or no-op call changed a payout".into());
            }
            let webhook = matches!(op, Op::Deliver { .. });
            if !webhook && snap.events != self.last.events {
                return Err("a call that is not a webhook delivery changed webhook events".into());
            }
        }
        if exact && expect.result.is_err() {
            self.stats.refused += 1;
        }
        // 5. Every ledger account holds what the model derives from the contracts.
        let mut actual: BTreeMap<Account, i128> = BTreeMap::new();
        for e in snap.entries.iter() {
            if e.currency != self.model.currency {
                return Err(format!("entry in a foreign currency: {e:?}"));
            }
            *actual.entry(e.account.clone()).or_insert(0) += e.amount.get() as i128;
        }
        actual.retain(|_, v| *v != 0);
        let expected = next.expected_balances(&self.freelancers);
        if actual != expected {
            return Err(format!(
                "ledger balances differ from the model:\n  store {actual:?}\n  model {expected:?}"
            ));
        }
        // 6. The provider and the store agree on every refund.
        self.check_provider(snap)?;
        // 7. Webhook events: acknowledged ones keep their status; undelivered ones are unknown.
        self.check_events(snap)?;
        self.count_money(pre, &next);
        if matches!(op, Op::Tick) {
            let released = |m: &Model, i: usize| {
                m.slots
                    .get(i)
                    .and_then(|s| s.st.escrow.as_ref())
                    .map(|e| e.status)
                    == Some(EscrowStatus::Released)
            };
            self.stats.auto_released += (0..next.slots.len())
                .filter(|i| released(&next, *i) && !released(pre, *i))
                .count() as u64;
        }
        // Disputes opened and resolved by this step.
        for (i, s) in next.slots.iter().enumerate() {
            let Some(was) = pre.slots.get(i).map(|p| &p.st.disputes) else {
                self.stats.disputes_opened += s.st.client_disputes() as u64;
                continue;
            };
            let kept = was.len().min(s.st.disputes.len());
            for d in &s.st.disputes[kept..] {
                match d.kind {
                    crate::model::DKind::Client => self.stats.disputes_opened += 1,
                    crate::model::DKind::Outside => self.stats.outside_refunds += 1,
                    crate::model::DKind::Chargeback => self.stats.chargebacks += 1,
                }
            }
            // Chargebacks the bank decided in this step (one first heard of as decided too).
            for (k, d) in s.st.disputes.iter().enumerate() {
                let Some(cb) = d.chargeback.as_ref().filter(|c| c.closed) else {
                    continue;
                };
                let before = was.get(k).and_then(|w| w.chargeback.as_ref());
                if before.is_some_and(|b| b.closed) {
                    continue;
                }
                match cb.status.as_str() {
                    "won" => self.stats.chargebacks_won += 1,
                    _ => self.stats.chargebacks_lost += 1,
                }
            }
            self.stats.disputes_resolved += (0..kept)
                .filter(|k| {
                    was[*k].open
                        && !s.st.disputes[*k].open
                        && was[*k].kind == crate::model::DKind::Client
                })
                .count() as u64;
        }
        // A refund event that named a refund whose answer was lost: learned by asking again.
        if let Op::Deliver { event } = op
            && let EventKind::RefundUpdated { refund_id, .. } = &self.stripe.events[*event].kind
        {
            let names = |contracts: &[Contract]| {
                contracts.iter().any(|c| {
                    c.milestones.iter().any(|m| {
                        m.escrow
                            .as_ref()
                            .and_then(|e| e.refund.as_ref())
                            .and_then(|r| r.provider_refund_id.as_ref())
                            .is_some_and(|id| id.as_str() == refund_id)
                    })
                })
            };
            if !names(&self.last.contracts) && names(&snap.contracts) {
                self.stats.refunds_learned += 1;
            }
        }
        // Milestones of contracts in several parts released by this step.
        for (i, s) in next
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.st.parts.len() > 1)
        {
            let was = |k: usize| {
                pre.slots
                    .get(i)
                    .and_then(|p| p.st.parts.get(k))
                    .and_then(|p| p.escrow.as_ref())
                    .is_some_and(|e| e.status == EscrowStatus::Released)
            };
            self.stats.milestones_released += (0..s.st.parts.len())
                .filter(|k| {
                    !was(*k)
                        && s.st.parts[*k]
                            .escrow
                            .as_ref()
                            .is_some_and(|e| e.status == EscrowStatus::Released)
                })
                .count() as u64;
        }
        self.model = next;
        Ok(())
    }

    pub(super) fn count_money(&mut self, pre: &Model, next: &Model) {
        use escrow::domain::PayoutStatus;
        for (i, p) in next.payouts.iter().enumerate() {
            let was = pre
                .payouts
                .get(i)
                .filter(|b| b.id == p.id)
                .map(|b| b.status);
            if was != Some(p.status) {
                match p.status {
                    PayoutStatus::Paid if p.recovery.is_some() => self.stats.recoveries += 1,
                    PayoutStatus::Paid => self.stats.payouts_paid += 1,
                    PayoutStatus::Failed => self.stats.payouts_failed += 1,
                    _ => {}
                }
            }
        }
        for (i, s) in next.slots.iter().enumerate() {
            let before = pre.slots.get(i).map(|p| p.st.clone());
            let was = before
                .as_ref()
                .and_then(|b| b.escrow.as_ref().map(|e| e.status));
            let now = s.st.escrow.as_ref().map(|e| e.status);
            if was != now {
                match now {
                    Some(EscrowStatus::Released) => self.stats.released += 1,
                    Some(EscrowStatus::Refunded) => self.stats.refunded += 1,
                    _ => {}
                }
            }
            // The provider's other answers: a refund taken as pending, one that failed, one
            // sent again, one an operator settled by hand.
            let parts_before = before.as_ref().map(|b| b.parts.clone()).unwrap_or_default();
            for (k, p) in s.st.parts.iter().enumerate() {
                let (Some(e), Some(r)) =
                    (&p.escrow, p.escrow.as_ref().and_then(|e| e.refund.as_ref()))
                else {
                    continue;
                };
                let was = parts_before.get(k).and_then(|b| b.escrow.as_ref());
                let was_refund = was.and_then(|w| w.refund.as_ref());
                if r.in_flight && !was_refund.is_some_and(|w| w.in_flight) {
                    self.stats.refunds_answered_pending += 1;
                }
                let was_status = was.map(|w| w.status);
                if e.status == EscrowStatus::RefundFailed
                    && was_status != Some(EscrowStatus::RefundFailed)
                {
                    self.stats.refunds_failed += 1;
                }
                if r.retries > was_refund.map_or(0, |w| w.retries) {
                    self.stats.refunds_retried += 1;
                }
                if e.status == EscrowStatus::Refunded
                    && was_status == Some(EscrowStatus::RefundFailed)
                    && r.retries == was_refund.map_or(0, |w| w.retries)
                {
                    self.stats.failed_refunds_settled += 1;
                }
            }
            // The same of duplicate payments' refunds.
            let extras_before = before
                .as_ref()
                .map(|b| b.extras.clone())
                .unwrap_or_default();
            for (j, x) in s.st.extras.iter().enumerate() {
                let was = extras_before.get(j);
                let was_taken = was.and_then(|w| w.taken);
                let was_retries = was.map_or(0, |w| w.retries);
                if x.taken == Some(PStatus::Pending) && was_taken != Some(PStatus::Pending) {
                    self.stats.refunds_answered_pending += 1;
                }
                if x.taken == Some(PStatus::Failed) && was_taken != Some(PStatus::Failed) {
                    self.stats.refunds_failed += 1;
                }
                if x.retries > was_retries {
                    self.stats.refunds_retried += 1;
                }
                if x.refunded && was_taken == Some(PStatus::Failed) && x.retries == was_retries {
                    self.stats.failed_refunds_settled += 1;
                }
            }
            let refunded_before = before
                .map(|b| b.extras.iter().filter(|x| x.refunded).count())
                .unwrap_or(0);
            let refunded_now = s.st.extras.iter().filter(|x| x.refunded).count();
            self.stats.duplicates_refunded +=
                (refunded_now - refunded_before.min(refunded_now)) as u64;
        }
    }

    pub(super) fn check_provider(&self, snap: &Snapshot) -> Result<(), String> {
        let misuse = self.provider.misuse();
        if !misuse.is_empty() {
            return Err(format!("the service misused the provider: {misuse:?}"));
        }
        let refunds = self.provider.refunds();
        let by_id: HashMap<&str, &crate::fakes::ProviderRefund> =
            refunds.iter().map(|r| (r.id.as_str(), r)).collect();
        let mut recorded: HashMap<String, u32> = HashMap::new();
        for c in snap.contracts.iter() {
            for (e, r) in c
                .milestones
                .iter()
                .filter_map(|m| m.escrow.as_ref())
                .filter_map(|e| Some((e, e.refund.as_ref()?)))
            {
                let pi = e
                    .payment_intent_id
                    .as_ref()
                    .unwrap_or(&e.payment_ref)
                    .to_string();
                // An operator's settlement by other means names no provider refund.
                let manual = r
                    .provider_refund_id
                    .as_ref()
                    .is_some_and(|id| id.as_str().starts_with("manual:"));
                // The provider's refund a status needs: a refunded escrow's succeeded, a
                // failed one's failed; one taken as pending may have ended at the provider
                // before Stripe's word on it arrived.
                let wanted = match (e.status, &r.provider_refund_id) {
                    (EscrowStatus::Refunded, Some(_)) if manual || r.client_share.get() == 0 => {
                        None
                    }
                    (EscrowStatus::Refunded, Some(id)) => Some((id, Some(PStatus::Succeeded))),
                    (EscrowStatus::RefundPending, Some(id)) => Some((id, None)),
                    (EscrowStatus::RefundFailed, Some(id)) => Some((id, Some(PStatus::Failed))),
                    (EscrowStatus::Refunded | EscrowStatus::RefundFailed, None) => {
                        return Err(format!(
                            "contract {}: {:?} without a provider refund id",
                            c.id, e.status
                        ));
                    }
                    _ => None,
                };
                if let Some((id, status)) = wanted {
                    let Some(p) = by_id.get(id.as_str()) else {
                        return Err(format!(
                            "contract {}: refund {id} recorded but the provider never made it",
                            c.id
                        ));
                    };
                    if p.payment_ref != pi
                        || p.amount != r.client_share.get()
                        || p.contract_id != c.id
                        || status.is_some_and(|s| s != p.status)
                    {
                        return Err(format!(
                            "contract {}: recorded refund {id} ({:?}) does not match the provider's {p:?}",
                            c.id, e.status
                        ));
                    }
                    *recorded.entry(id.to_string()).or_insert(0) += 1;
                }
            }
            for x in &c.extra_payments {
                // Settled: the provider's refund succeeded (or an operator settled it by other
                // means); taken: pending at the provider, or failed there.
                let wanted = match (&x.provider_refund_id, &x.refund_taken) {
                    (Some(id), _) if id.as_str().starts_with("manual:") => None,
                    (Some(id), _) => Some((id, Some(PStatus::Succeeded))),
                    (None, Some(t)) if t.status == "failed" => {
                        Some((&t.refund_id, Some(PStatus::Failed)))
                    }
                    (None, Some(t)) => Some((&t.refund_id, None)),
                    (None, None) => None,
                };
                if let Some((id, status)) = wanted {
                    let pi = x
                        .payment_intent_id
                        .as_ref()
                        .unwrap_or(&x.payment_ref)
                        .to_string();
                    let Some(p) = by_id.get(id.as_str()) else {
                        return Err(format!(
                            "contract {}: duplicate refund {id} recorded but never made",
                            c.id
                        ));
                    };
                    if p.payment_ref != pi
                        || p.amount != x.amount.get()
                        || status.is_some_and(|s| s != p.status)
                    {
                        return Err(format!(
                            "contract {}: duplicate refund {id} does not match the provider's {p:?}",
                            c.id
                        ));
                    }
                    *recorded.entry(id.to_string()).or_insert(0) += 1;
                }
            }
        }
        for p in &refunds {
            match recorded.get(&p.id).copied().unwrap_or(0) {
                1 => {}
                // A failed refund moved no money: once sent again, nothing names it.
                0 if p.status == PStatus::Failed => {}
                0 => {
                    // Made, answer lost: the store must still owe exactly this refund.
                    let owed =
                        snap.contracts.iter().any(|c| {
                            c.id == p.contract_id
                                && (c.milestones.iter().filter_map(|m| m.escrow.as_ref()).any(
                                    |e| {
                                        e.status == EscrowStatus::RefundPending
                                            && e.payment_intent_id
                                                .as_ref()
                                                .unwrap_or(&e.payment_ref)
                                                .as_str()
                                                == p.payment_ref
                                            && e.refund
                                                .as_ref()
                                                .is_some_and(|r| r.client_share.get() == p.amount)
                                    },
                                ) || c.extra_payments.iter().any(|x| {
                                    x.provider_refund_id.is_none()
                                        && x.refund_taken.is_none()
                                        && x.payment_intent_id
                                            .as_ref()
                                            .unwrap_or(&x.payment_ref)
                                            .as_str()
                                            == p.payment_ref
                                        && x.amount.get() == p.amount
                                }))
                        });
                    if !owed {
                        return Err(format!(
                            "the provider made refund {p:?} and the store neither recorded nor owes it"
                        ));
                    }
                }
                n => return Err(format!("provider refund {} recorded {n} times", p.id)),
            }
        }
        Ok(())
    }

    pub(super) fn check_events(&mut self, snap: &Snapshot) -> Result<(), String> {
        let stored: HashMap<&str, &WebhookEvent> = snap
            .events
            .iter()
            .map(|e| (e.event_id.as_str(), e))
            .collect();
        for e in &mut self.stripe.events {
            let s = stored.get(e.id.as_str());
            match (&e.delivery, s) {
                (Delivery::Pending { tried: false }, Some(s)) => {
                    return Err(format!("event {} stored but never delivered: {s:?}", e.id));
                }
                (Delivery::Acked(want), Some(s)) => {
                    if *want == EventStatus::Received {
                        // A duplicate answer to an event whose first delivery died: learn
                        // the final status the store kept.
                        if s.status == EventStatus::Received {
                            return Err(format!("event {} acknowledged but not final", e.id));
                        }
                        e.delivery = Delivery::Acked(s.status);
                    } else if s.status != *want {
                        return Err(format!(
                            "event {}: acknowledged as {want:?}, stored as {:?}",
                            e.id, s.status
                        ));
                    }
                }
                (Delivery::Acked(_), None) => {
                    return Err(format!("acknowledged event {} is not stored", e.id));
                }
                _ => {}
            }
        }
        let known: Vec<&str> = self
            .stripe
            .events
            .iter()
            .map(|e| e.id.as_str())
            .chain(self.connect_events.iter().map(String::as_str))
            .collect();
        for s in snap.events.iter() {
            if !known.contains(&s.event_id.as_str()) {
                return Err(format!("an event nobody sent is stored: {s:?}"));
            }
        }
        Ok(())
    }
}

/// A whole list, read a keyset page of `limit` rows at a time by following each page's cursor.
async fn walk<T>(
    limit: u32,
    key: fn(&T) -> Cursor,
    mut fetch: impl AsyncFnMut(&Page) -> Result<Vec<T>, String>,
) -> Result<Vec<T>, String> {
    let (mut page, mut all) = (Page::after(None, limit), vec![]);
    loop {
        let rows = fetch(&page).await?;
        let next = page.next(&rows, key);
        all.extend(rows);
        match next {
            Some(cursor) => page = Page::after(Some(cursor), limit),
            None => return Ok(all),
        }
    }
}
