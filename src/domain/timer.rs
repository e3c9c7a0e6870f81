//! Durable timers: work that falls due at a time, stored so that it survives restarts and runs
//! once with many servers on one store. A timer is claimed with a lease (its holder and until
//! when); whoever holds an unexpired lease is the only one working on it, and a holder that dies
//! loses it when the lease runs out. What a timer does must itself be idempotent (a money move
//! is a compare-and-set): a lease that ran out while its work was in fact done only makes the
//! next holder find it done.

use serde::{Deserialize, Serialize};

/// What a timer does when it falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// Pay a released contract's earning out to the freelancer's connected account
    /// (`ESCROW_PAYOUT_MODE=on_release`), in case the server died between the release and the
    /// payout. The subject is the contract id.
    ReleasePayout,
    /// Release a completed contract's escrow whose client neither asked for the release nor
    /// disputed within `ESCROW_AUTO_RELEASE_AFTER`. Stored when the work is completed; the
    /// subject is the contract id.
    AutoRelease,
    /// Release an escrow whose client asked for it, when that is enough (auto-release on, no
    /// admin required): stored before the request, in case the server dies between the
    /// request and the release. The subject is the contract id.
    RequestedRelease,
    /// Recover a chargeback lost after release from the freelancer's wallet
    /// (`ESCROW_CHARGEBACK_RECOVERY=wallet`): stored before the loss is booked, in case the
    /// server dies between the two. The subject is `<contractId>/<provider dispute id>`.
    ChargebackRecovery,
}

impl TimerKind {
    pub const ALL: [TimerKind; 4] = [
        TimerKind::ReleasePayout,
        TimerKind::AutoRelease,
        TimerKind::RequestedRelease,
        TimerKind::ChargebackRecovery,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::ReleasePayout => "release_payout",
            TimerKind::AutoRelease => "auto_release",
            TimerKind::RequestedRelease => "requested_release",
            TimerKind::ChargebackRecovery => "chargeback_recovery",
        }
    }

    pub fn parse(s: &str) -> Option<TimerKind> {
        TimerKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timer {
    /// `<kind>:<subject>`: one timer per kind and subject.
    pub id: String,
    pub kind: TimerKind,
    /// What it is about (a contract id, …).
    pub subject: String,
    /// Unix milliseconds.
    pub due_at: i64,
    /// Who holds it and until when (Unix ms), while someone works on it.
    pub holder: Option<String>,
    pub lease_until: i64,
    /// Runs that ended without finishing it.
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: i64,
    /// When it was done; a done timer never runs again.
    pub done_at: Option<i64>,
}

impl Timer {
    pub fn new(kind: TimerKind, subject: &str, due_at: i64, now: i64) -> Timer {
        Timer {
            id: format!("{}:{subject}", kind.as_str()),
            kind,
            subject: subject.to_string(),
            due_at,
            holder: None,
            lease_until: 0,
            attempts: 0,
            last_error: None,
            created_at: now,
            done_at: None,
        }
    }

    /// Whether it may be claimed at `now`: due, not done, and nobody's lease running.
    pub fn claimable(&self, now: i64) -> bool {
        self.done_at.is_none() && self.due_at <= now && self.lease_until <= now
    }
}
