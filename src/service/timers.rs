//! Durable timers: due work stored with its due time (see [`crate::domain::timer`]), claimed
//! with a lease by whichever server's maintenance task gets there first, done once, put off
//! with a growing delay when it fails. Time is the service clock, so tests and the simulation
//! drive timers with a fake one.

use crate::domain::milestone::{auto_release_subject, parse_timer_subject};
use crate::domain::{MilestoneRef, Timer, TimerKind};

use super::Service;
use super::access::{Permit, UseCase};
use super::error::Result;

/// How many timers one pass claims at most.
const CLAIM_BATCH: u32 = 100;
/// The delay before a failed timer runs again, doubled per failure up to [`RETRY_MAX_MS`].
const RETRY_FIRST_MS: i64 = 30_000;
const RETRY_MAX_MS: i64 = 3_600_000;

impl Service {
    /// Stores the timer that pays a release out (on_release mode only), due once a request
    /// could no longer be doing it itself; `None` when releases do not pay out.
    pub(super) async fn schedule_release_payout(
        &self,
        milestone: &MilestoneRef,
    ) -> Result<Option<Timer>> {
        if !self.pays_out_on_release() {
            return Ok(None);
        }
        let now = self.clock.now_ms();
        let t = Timer::new(
            TimerKind::ReleasePayout,
            &milestone.to_string(),
            now + self.settings.debit_grace_ms,
            now,
        );
        self.store.schedule_timer(&t).await?;
        Ok(Some(t))
    }

    /// Whether a client's release request is enough to release (auto-release on, and no
    /// admin required).
    pub(super) fn request_releases(&self) -> bool {
        self.settings.auto_release_after_ms.is_some() && !self.settings.release_needs_admin
    }

    /// Stores a release timer about `subject` (a milestone's name, see
    /// [`crate::domain::milestone::auto_release_subject`]), due in `delay_ms`.
    pub(super) async fn schedule_release(
        &self,
        kind: TimerKind,
        subject: &str,
        delay_ms: i64,
    ) -> Result<Timer> {
        let now = self.clock.now_ms();
        let t = Timer::new(kind, subject, now + delay_ms, now);
        self.store.schedule_timer(&t).await?;
        Ok(t)
    }

    /// The auto-release timer of a milestone about to be submitted (or whose work is about
    /// to be completed): stored before the move, due when the window ends (the release finds
    /// nothing to do if the move never happened). `None` without auto-release.
    pub(super) async fn schedule_auto_release(
        &self,
        milestone: &MilestoneRef,
        submission: u32,
    ) -> Result<Option<Timer>> {
        let subject = auto_release_subject(milestone, submission);
        match self.settings.auto_release_after_ms {
            Some(window) => Ok(Some(
                self.schedule_release(TimerKind::AutoRelease, &subject, window)
                    .await?,
            )),
            None => Ok(None),
        }
    }

    /// When the auto-release of a milestone's `submission`th delivery is due, if its timer is
    /// not done.
    pub async fn auto_release_due(
        &self,
        milestone: &MilestoneRef,
        submission: u32,
    ) -> Result<Option<i64>> {
        let id = format!(
            "{}:{}",
            TimerKind::AutoRelease.as_str(),
            auto_release_subject(milestone, submission)
        );
        Ok(self
            .store
            .get_timer(&id)
            .await?
            .filter(|t| t.done_at.is_none())
            .map(|t| t.due_at))
    }

    /// Marks a timer done after its work was done inline; a failure only leaves it to run
    /// (and find nothing to do) later.
    pub(super) async fn finish_timer(&self, t: &Timer) {
        if let Err(e) = self.store.finish_timer(&t.id, self.clock.now_ms()).await {
            tracing::warn!(timer = %t.id, error = %e, "could not mark a timer done; it will run again and find nothing to do");
        }
    }

    /// Runs every timer due now that no other server holds; how many ran to the end.
    pub async fn run_due_timers(&self) -> Result<usize> {
        let now = self.clock.now_ms();
        let claimed = self
            .store
            .claim_timers(now, &self.holder, self.settings.timer_lease_ms, CLAIM_BATCH)
            .await?;
        let mut done = 0;
        for t in claimed {
            // A subject that names no milestone (none is written so) has nothing to do.
            let outcome = match (t.kind, parse_timer_subject(&t.subject)) {
                (TimerKind::ChargebackRecovery, _) => match t.subject.split_once('/') {
                    Some((contract, dispute)) => match crate::domain::ContractId::parse(contract) {
                        Ok(c) => self.recover_chargeback(&c, dispute).await,
                        Err(_) => Ok(()),
                    },
                    None => Ok(()),
                },
                (_, None) => Ok(()),
                (TimerKind::ReleasePayout, Some((m, _))) => self.pay_out_release(&m).await,
                (TimerKind::AutoRelease | TimerKind::RequestedRelease, Some((m, k))) => {
                    self.release_by_system(t.kind, &m, k).await.map(|_| ())
                }
            };
            match outcome {
                Ok(()) => {
                    self.store.finish_timer(&t.id, self.clock.now_ms()).await?;
                    done += 1;
                }
                Err(e) => {
                    let delay = (RETRY_FIRST_MS << t.attempts.min(16)).min(RETRY_MAX_MS);
                    tracing::warn!(timer = %t.id, attempts = t.attempts + 1, error = %e.chain(), "a timer failed; it runs again later");
                    self.store
                        .defer_timer(&t.id, &self.holder, self.clock.now_ms() + delay, &e.chain())
                        .await?;
                }
            }
        }
        Ok(done)
    }

    /// Timers not done yet, soonest first (`due_only`: those due now).
    pub async fn timers(
        &self,
        permit: Permit<'_>,
        due_only: bool,
        limit: u32,
    ) -> Result<Vec<Timer>> {
        permit.expect(UseCase::Operate);
        let due_by = due_only.then(|| self.clock.now_ms());
        Ok(self.store.list_timers(due_by, limit).await?)
    }
}
