//! The background task every server runs: refunds owed to the payment provider and payout
//! transfers (left pending by a crash or an outage) are sent again, wallet debits a crash cut
//! off are finished, expired idempotency keys are purged, and spool
//! files that no upload owns any more (a process died mid-upload) are deleted. It runs
//! once at start and then every [`MAINTENANCE_INTERVAL_S`], until its shutdown signal fires
//! (as mini-redis keeps its purge task beside its state). Safe to run on many servers at once:
//! every step is a compare-and-set or an idempotent provider call.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::Service;
use super::error::Result;

/// How often the task runs.
pub const MAINTENANCE_INTERVAL_S: u64 = 30;
/// How often it folds new ledger entries into the balances a store keeps apart from its money
/// writes (MongoDB; see `Store::fold_kept`): a balance read sums what is not folded yet, so
/// this bounds what a read costs.
pub const FOLD_INTERVAL_MS: u64 = 500;
/// How often it finishes wallet debits a crash cut off between their steps (MongoDB), and runs
/// the durable timers that fell due: a debit or a timer waits at most its due time and this.
pub const DEBIT_REPAIR_INTERVAL_MS: u64 = 5_000;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Contracts whose provider work was finished.
    pub settled: usize,
    /// Contracts whose provider work still waits (the provider did not answer).
    pub waiting: usize,
    /// Idempotency keys purged.
    pub purged: u64,
    /// Spool files left by uploads that ended without cleaning up (a process that died).
    pub spool_swept: usize,
    /// Payouts sent (paid or refused for good) by this pass.
    pub payouts_settled: usize,
    /// Payouts whose transfer still waits (the provider did not answer).
    pub payouts_waiting: usize,
}

impl Service {
    /// Finishes every refund owed to the provider. Returns how many contracts were completed
    /// and how many still wait.
    pub async fn recover_provider_work(&self) -> Result<(usize, usize)> {
        let ids = self.store.contracts_with_provider_work().await?;
        let (mut done, mut waiting) = (0, 0);
        for id in ids {
            match self.settle_with_provider(&id).await {
                Ok(()) => done += 1,
                Err(_) => waiting += 1,
            }
        }
        Ok((done, waiting))
    }

    /// Deletes the idempotency keys that have expired (a later request treats them as absent
    /// anyway); returns how many.
    pub async fn purge_idempotency_keys(&self) -> Result<u64> {
        Ok(self.store.idempotency_purge(self.clock.now_ms()).await?)
    }

    /// Folds new ledger entries into the store's kept balances; returns how many.
    pub async fn fold_kept(&self) -> Result<u64> {
        Ok(self.store.fold_kept().await?)
    }

    /// One pass of the maintenance task. A failing step is logged and the next still runs.
    pub async fn maintain(&self) -> Pass {
        let mut pass = Pass::default();
        match self.recover_provider_work().await {
            Ok((settled, waiting)) => (pass.settled, pass.waiting) = (settled, waiting),
            Err(e) => tracing::warn!(error = %e.chain(), "recovery step failed"),
        }
        match self.recover_payouts().await {
            Ok((settled, waiting)) => {
                (pass.payouts_settled, pass.payouts_waiting) = (settled, waiting)
            }
            Err(e) => tracing::warn!(error = %e.chain(), "payout recovery step failed"),
        }
        match self.purge_idempotency_keys().await {
            Ok(n) => pass.purged = n,
            Err(e) => tracing::warn!(error = %e.chain(), "purging expired idempotency keys failed"),
        }
        let spool = &self.settings.spool_dir;
        match crate::media::sweep_spool(spool, self.settings.spool_age_max).await {
            Ok(n) => pass.spool_swept = n,
            Err(e) => {
                tracing::warn!(error = %e, dir = %spool.display(), "sweeping the upload spool failed")
            }
        }
        pass
    }
}

/// Runs [`Service::maintain`] now and every `interval` until `shutdown` resolves; a pass in
/// progress finishes first.
pub async fn run(service: Arc<Service>, interval: Duration, shutdown: impl Future<Output = ()>) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut fold = tokio::time::interval(Duration::from_millis(FOLD_INTERVAL_MS));
    fold.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut repair = tokio::time::interval(Duration::from_millis(DEBIT_REPAIR_INTERVAL_MS));
    repair.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = repair.tick() => {
                if let Err(e) = service.repair_debits().await {
                    tracing::warn!(error = %e.chain(), "finishing interrupted wallet debits failed");
                }
                match service.run_due_timers().await {
                    Ok(n) if n > 0 => tracing::info!(timers = n, "due timers run"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e.chain(), "running due timers failed"),
                }
                continue;
            }
            _ = fold.tick() => {
                match service.fold_kept().await {
                    Ok(n) if n >= 100_000 => tracing::info!(entries = n, "kept balances: folded"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e.chain(), "folding kept balances failed"),
                }
                continue;
            }
            () = &mut shutdown => return,
        }
        let pass = service.maintain().await;
        if pass.settled + pass.waiting > 0 {
            tracing::info!(
                done = pass.settled,
                waiting = pass.waiting,
                "recovery: provider refunds"
            );
        }
        if pass.payouts_settled + pass.payouts_waiting > 0 {
            tracing::info!(
                done = pass.payouts_settled,
                waiting = pass.payouts_waiting,
                "recovery: payout transfers"
            );
        }
        if pass.purged > 0 {
            tracing::info!(purged = pass.purged, "recovery: expired idempotency keys");
        }
        if pass.spool_swept > 0 {
            tracing::info!(
                swept = pass.spool_swept,
                "recovery: stale upload spool files"
            );
        }
    }
}
