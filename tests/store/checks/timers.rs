//! Durable timers: scheduled once, claimed by one caller at a time under a lease, taken over
//! when the lease runs out, finished once, put off by their holder only.

use escrow::domain::{Timer, TimerKind};
use escrow::store::Store;
use futures_util::future::join_all;
use tokio::sync::Barrier;

use super::JAN_2026_MS;

fn timer(subject: &str, due_at: i64) -> Timer {
    Timer::new(TimerKind::ReleasePayout, subject, due_at, JAN_2026_MS)
}

fn ids(ts: &[Timer]) -> Vec<String> {
    let mut v: Vec<String> = ts.iter().map(|t| t.id.clone()).collect();
    v.sort();
    v
}

pub async fn check_a_timer_is_claimed_by_one_caller_at_a_time(store: &dyn Store) {
    const CLAIMERS: usize = 5;
    let t0 = JAN_2026_MS;
    for i in 0..30 {
        assert!(
            store
                .schedule_timer(&timer(&format!("s{i:02}"), t0 - i))
                .await
                .unwrap()
        );
    }
    let later = timer("later", t0 + 10_000);
    assert!(store.schedule_timer(&later).await.unwrap());
    // Scheduling again changes nothing: the first due time stands.
    assert!(
        !store
            .schedule_timer(&timer("s00", t0 + 99_000))
            .await
            .unwrap()
    );

    let barrier = Barrier::new(CLAIMERS);
    let claims = join_all((0..CLAIMERS).map(|i| {
        let barrier = &barrier;
        async move {
            barrier.wait().await;
            store
                .claim_timers(t0, &format!("server-{i}"), 1_000, 100)
                .await
                .unwrap()
        }
    }))
    .await;
    let all: Vec<Timer> = claims.into_iter().flatten().collect();
    let mut claimed = ids(&all);
    let total = claimed.len();
    claimed.dedup();
    assert_eq!(
        claimed.len(),
        total,
        "a timer was claimed twice: {claimed:?}"
    );
    assert_eq!(total, 30, "every due timer claimed once, the later one not");
    assert!(
        all.iter()
            .all(|t| t.lease_until == t0 + 1_000 && t.holder.is_some())
    );

    // Within the lease nobody else gets them; once it ran out, the next caller does.
    assert!(
        store
            .claim_timers(t0 + 999, "other", 1_000, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let s05 = all.iter().find(|t| t.subject == "s05").unwrap();
    let holder = s05.holder.clone().unwrap();
    for t in all.iter().filter(|t| t.subject.as_str() < "s10") {
        // (every claimed subject is `sNN`)
        store.finish_timer(&t.id, t0 + 500).await.unwrap();
    }
    // Put off by its holder only; finished ones never come back.
    let s15 = all.iter().find(|t| t.subject == "s15").unwrap();
    store
        .defer_timer(&s15.id, "not-the-holder", t0 + 1, "nope")
        .await
        .unwrap();
    store
        .defer_timer(
            &s15.id,
            s15.holder.as_deref().unwrap(),
            t0 + 50_000,
            "provider down",
        )
        .await
        .unwrap();
    store
        .defer_timer(&s05.id, &holder, t0, "too late")
        .await
        .unwrap();
    let retaken = store
        .claim_timers(t0 + 10_001, "next", 1_000, 100)
        .await
        .unwrap();
    assert_eq!(retaken.len(), 20, "{:?}", ids(&retaken));
    assert!(retaken.iter().any(|t| t.id == later.id));
    let finished = |t: &Timer| t.subject.starts_with('s') && t.subject.as_str() < "s10";
    assert!(!retaken.iter().any(|t| t.subject == "s15" || finished(t)));

    // Listing: what is not done, soonest first; `due_by` only what is due then.
    let listed = store.list_timers(None, 1_000).await.unwrap();
    assert_eq!(listed.len(), 21);
    assert!(
        listed
            .windows(2)
            .all(|w| (w[0].due_at, &w[0].id) <= (w[1].due_at, &w[1].id))
    );
    let deferred = listed.iter().find(|t| t.subject == "s15").unwrap();
    assert_eq!((deferred.attempts, deferred.due_at), (1, t0 + 50_000));
    assert_eq!(deferred.last_error.as_deref(), Some("provider down"));
    assert_eq!(
        store.list_timers(Some(t0), 1_000).await.unwrap().len(),
        19,
        "s10 to s29 but the deferred s15"
    );
    assert_eq!(store.list_timers(None, 3).await.unwrap().len(), 3);
    store
        .finish_timer("release_payout:absent", t0)
        .await
        .unwrap();
}
