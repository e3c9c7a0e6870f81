//! Idempotency records (`IdempotencyStore::idempotency_*`): started once, replayed byte for byte, refused
//! for another request, expired after 24 hours, taken over after a dead holder's lease. Time is
//! injected through `now_ms`.

use escrow::domain::IdempotencyKey;
use escrow::store::idempotency::IDEMPOTENCY_RETENTION_MS;
use escrow::store::{Begin, Claim, Holder, Scope, Store, StoredResponse};
use futures_util::future::join_all;
use tokio::sync::Barrier;

use super::{JAN_2026_MS, RACERS};

const LEASE_MS: i64 = 60_000;
const SCOPE: &str = "user:0123456789abcdef01234567";

fn scope(s: &str) -> Scope {
    Scope::parse(s).expect("a valid scope")
}

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::parse(k).expect("a valid key")
}

/// The record of key `k` in the test scope, as held by `owner`.
fn held(k: &str, owner: &str) -> Holder {
    Holder {
        scope: scope(SCOPE),
        key: key(k),
        owner: owner.into(),
    }
}

fn response(status: u16, body: Vec<u8>) -> StoredResponse {
    StoredResponse {
        status,
        content_type: Some("application/json".into()),
        body,
    }
}

async fn begin(store: &dyn Store, key: &str, fingerprint: &str, owner: &str, now: i64) -> Begin {
    store
        .idempotency_begin(&Claim {
            holder: &held(key, owner),
            fingerprint,
            now_ms: now,
            lease_ms: LEASE_MS,
        })
        .await
        .unwrap()
}

pub async fn check_an_idempotency_key_is_started_once_then_replayed_byte_for_byte(
    store: &dyn Store,
) {
    let t = JAN_2026_MS;
    assert_eq!(begin(store, "k1", "fp-a", "o1", t).await, Begin::Started);
    assert_eq!(
        begin(store, "k1", "fp-a", "o2", t + 1).await,
        Begin::InFlight
    );
    assert_eq!(
        begin(store, "k1", "fp-b", "o2", t + 1).await,
        Begin::Mismatch
    );

    // Every byte value, to show the body is kept as bytes, not as text.
    let kept = response(201, (0..=255u8).chain((0..=255u8).rev()).collect());
    let not_holder = store
        .idempotency_finish(&held("k1", "o2"), &kept, t + 2)
        .await
        .unwrap();
    assert!(!not_holder, "only the lease holder keeps a response");
    assert_eq!(
        begin(store, "k1", "fp-a", "o3", t + 2).await,
        Begin::InFlight
    );
    assert!(
        store
            .idempotency_finish(&held("k1", "o1"), &kept, t + 3)
            .await
            .unwrap()
    );
    assert_eq!(
        begin(store, "k1", "fp-a", "o4", t + 4).await,
        Begin::Replay(kept.clone())
    );
    assert_eq!(
        begin(store, "k1", "fp-b", "o4", t + 4).await,
        Begin::Mismatch
    );

    // A finished record is final: finishing or releasing again changes nothing.
    let other = response(500, b"{}".to_vec());
    assert!(
        !store
            .idempotency_finish(&held("k1", "o1"), &other, t + 5)
            .await
            .unwrap()
    );
    store.idempotency_release(&held("k1", "o1")).await.unwrap();
    assert_eq!(
        begin(store, "k1", "fp-a", "o5", t + 6).await,
        Begin::Replay(kept.clone())
    );

    // Keys are per scope, and a key is exactly its bytes.
    let other_scope = store
        .idempotency_begin(&Claim {
            holder: &Holder {
                scope: scope("user:ffffffffffffffffffffffff"),
                key: key("k1"),
                owner: "o6".into(),
            },
            fingerprint: "fp-a",
            now_ms: t + 7,
            lease_ms: LEASE_MS,
        })
        .await
        .unwrap();
    assert_eq!(other_scope, Begin::Started);
    assert_eq!(
        begin(store, "K1", "fp-a", "o7", t + 7).await,
        Begin::Started
    );

    // No content type, an empty body, and the longest key.
    let long_key = "~".repeat(255);
    assert_eq!(begin(store, &long_key, "fp", "o8", t).await, Begin::Started);
    let bare = StoredResponse {
        status: 204,
        content_type: None,
        body: vec![],
    };
    assert!(
        store
            .idempotency_finish(&held(&long_key, "o8"), &bare, t)
            .await
            .unwrap()
    );
    assert_eq!(
        begin(store, &long_key, "fp", "o9", t + 1).await,
        Begin::Replay(bare)
    );
}

pub async fn check_an_idempotency_record_expires_after_24_hours(store: &dyn Store) {
    let t = JAN_2026_MS;
    let r = IDEMPOTENCY_RETENTION_MS;
    let kept = response(200, br#"{"ok":true}"#.to_vec());
    for (k, at) in [("a", t), ("b", t + 1000)] {
        assert_eq!(begin(store, k, "fp", "o1", at).await, Begin::Started);
        assert!(
            store
                .idempotency_finish(&held(k, "o1"), &kept, at)
                .await
                .unwrap()
        );
    }
    // An in-flight record whose holder never came back expires too.
    assert_eq!(begin(store, "c", "fp", "o1", t).await, Begin::Started);

    // Still kept one millisecond before 24 hours, gone at 24 hours: the key is free again,
    // even for a different request.
    assert_eq!(
        begin(store, "a", "fp", "o2", t + r - 1).await,
        Begin::Replay(kept.clone())
    );
    assert_eq!(
        begin(store, "a", "fp-new", "o2", t + r).await,
        Begin::Started
    );
    assert_eq!(
        begin(store, "a", "fp-new", "o3", t + r + 1).await,
        Begin::InFlight
    );

    // The purge deletes exactly the expired records: "c" now, "b" a second later ("a" was
    // renewed by its new request).
    assert_eq!(store.idempotency_purge(t + r - 1).await.unwrap(), 0);
    assert_eq!(store.idempotency_purge(t + r).await.unwrap(), 1);
    assert_eq!(store.idempotency_purge(t + r).await.unwrap(), 0);
    assert_eq!(
        begin(store, "b", "fp", "o2", t + r).await,
        Begin::Replay(kept.clone())
    );
    assert_eq!(store.idempotency_purge(t + r + 1000).await.unwrap(), 1);
    assert_eq!(
        begin(store, "b", "fp-new", "o2", t + r + 1000).await,
        Begin::Started
    );
    assert_eq!(
        begin(store, "c", "fp-new", "o2", t + r + 1000).await,
        Begin::Started
    );
}

pub async fn check_an_in_flight_idempotency_key_whose_holder_died_is_taken_over_after_its_lease(
    store: &dyn Store,
) {
    let t = JAN_2026_MS;
    assert_eq!(begin(store, "k", "fp", "dead", t).await, Begin::Started);
    assert_eq!(
        begin(store, "k", "fp", "o2", t + LEASE_MS - 1).await,
        Begin::InFlight
    );
    // After the lease the key is still the first request's: another request is refused.
    assert_eq!(
        begin(store, "k", "fp-b", "o2", t + LEASE_MS).await,
        Begin::Mismatch
    );
    assert_eq!(
        begin(store, "k", "fp", "o2", t + LEASE_MS).await,
        Begin::Started
    );
    // The new holder has a fresh lease.
    assert_eq!(
        begin(store, "k", "fp", "o3", t + 2 * LEASE_MS - 1).await,
        Begin::InFlight
    );

    // The old holder, had it been alive after all, can neither keep nor release the key.
    let late = response(200, b"late".to_vec());
    assert!(
        !store
            .idempotency_finish(&held("k", "dead"), &late, t + LEASE_MS + 1)
            .await
            .unwrap()
    );
    store.idempotency_release(&held("k", "dead")).await.unwrap();
    assert_eq!(
        begin(store, "k", "fp", "o3", t + LEASE_MS + 2).await,
        Begin::InFlight
    );

    let kept = response(200, b"kept".to_vec());
    assert!(
        store
            .idempotency_finish(&held("k", "o2"), &kept, t + LEASE_MS + 3)
            .await
            .unwrap()
    );
    assert_eq!(
        begin(store, "k", "fp", "o3", t + 10 * LEASE_MS).await,
        Begin::Replay(kept)
    );
}

pub async fn check_a_released_idempotency_key_executes_afresh(store: &dyn Store) {
    let t = JAN_2026_MS;
    assert_eq!(begin(store, "k", "fp-a", "o1", t).await, Begin::Started);
    // Only the holder releases.
    store.idempotency_release(&held("k", "o2")).await.unwrap();
    assert_eq!(
        begin(store, "k", "fp-a", "o2", t + 1).await,
        Begin::InFlight
    );
    store.idempotency_release(&held("k", "o1")).await.unwrap();
    // Forgotten: even a different request may now use the key.
    assert_eq!(begin(store, "k", "fp-b", "o2", t + 2).await, Begin::Started);
    assert_eq!(
        begin(store, "k", "fp-a", "o3", t + 3).await,
        Begin::Mismatch
    );
}

pub async fn check_concurrent_begins_for_one_idempotency_key_start_it_once(store: &dyn Store) {
    let t = JAN_2026_MS;
    let race = async |key: &str, now: i64| -> Vec<Begin> {
        let barrier = Barrier::new(RACERS);
        join_all((0..RACERS).map(|i| {
            let barrier = &barrier;
            async move {
                barrier.wait().await;
                begin(store, key, "fp", &format!("racer{i}"), now).await
            }
        }))
        .await
    };
    let count =
        |outcomes: &[Begin], wanted: &Begin| outcomes.iter().filter(|b| *b == wanted).count();

    let first = race("fresh", t).await;
    assert_eq!(count(&first, &Begin::Started), 1, "{first:?}");
    assert_eq!(count(&first, &Begin::InFlight), RACERS - 1, "{first:?}");

    // Racing to take over a dead holder's key: again exactly one wins.
    let takeover = race("fresh", t + LEASE_MS).await;
    assert_eq!(count(&takeover, &Begin::Started), 1, "{takeover:?}");
    assert_eq!(
        count(&takeover, &Begin::InFlight),
        RACERS - 1,
        "{takeover:?}"
    );

    // Racing to reuse an expired key: exactly one wins.
    let reuse = race("fresh", t + LEASE_MS + IDEMPOTENCY_RETENTION_MS).await;
    assert_eq!(count(&reuse, &Begin::Started), 1, "{reuse:?}");
    assert_eq!(count(&reuse, &Begin::InFlight), RACERS - 1, "{reuse:?}");
}
