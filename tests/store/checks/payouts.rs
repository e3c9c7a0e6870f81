//! Money out: payouts and the wallet debits behind them, connected accounts.

use escrow::domain::payout::AccountState;
use escrow::domain::{
    Account, ConnectedAccount, Currency, MinorUnits, Payout, PayoutId, PayoutStatus, Transfer,
    UserId,
};
use escrow::store::{Debit, Page, PayoutFilter, PayoutStore, Store, StoreError};
use futures_util::future::join_all;
use tokio::sync::Barrier;

use super::{JAN_2026_MS, assert_verified, entries_of, released, verify};

fn payout(user: &UserId, amount: i64, now: i64) -> Payout {
    Payout::requested(
        PayoutId::generate(),
        user.clone(),
        MinorUnits::new(amount),
        Currency::Inr,
        format!("acct_{user}"),
        now,
    )
}

async fn wallet(store: &dyn Store, user: &UserId) -> i64 {
    store
        .account_balance(&Account::Wallet(user.clone()), Currency::Inr)
        .await
        .unwrap()
        .get()
}

async fn debited(store: &dyn Store, p: &Payout, expected: Option<i64>, now: i64) -> Payout {
    match store.debit_payout(p, expected, now).await.unwrap() {
        Debit::Done(p) => *p,
        other => panic!("the wallet held the amount, yet: {other:?}"),
    }
}

/// Saves a payout transition as the service does (compare-and-set on the version it read).
async fn moved(
    store: &dyn Store,
    id: &PayoutId,
    f: impl FnOnce(&mut Payout) -> Vec<Transfer>,
) -> Payout {
    let mut p = store.get_payout(id).await.unwrap().expect("stored payout");
    let expected = p.version;
    let transfers = f(&mut p);
    p.version = expected + 1;
    store
        .save_payout(&p, expected, &entries_of(&transfers))
        .await
        .unwrap();
    assert_eq!(
        store.get_payout(id).await.unwrap().as_ref(),
        Some(&p),
        "round-trips"
    );
    p
}

/// Twenty payouts of a whole balance at once: one is debited, the others are refused, and the
/// wallet never goes below zero. More credit later allows exactly as much more.
pub async fn check_concurrent_payouts_of_a_whole_balance_debit_it_once(store: &dyn Store) {
    const RACERS: usize = 20;
    let now = JAN_2026_MS;
    let user = UserId::generate();
    released(store, &user, 10_000, now).await;
    let balance = wallet(store, &user).await;
    assert_eq!(balance, 9_000);
    let barrier = Barrier::new(RACERS);
    let outcomes = join_all((0..RACERS).map(|_| async {
        let p = payout(&user, balance, now + 1);
        barrier.wait().await;
        store.debit_payout(&p, None, now + 1).await.unwrap()
    }))
    .await;
    let done: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            Debit::Done(p) => Some(p),
            Debit::Insufficient { .. } => None,
        })
        .collect();
    assert_eq!(done.len(), 1, "{outcomes:?}");
    assert_eq!(done[0].status, PayoutStatus::Pending);
    for o in &outcomes {
        if let Debit::Insufficient { available } = o {
            assert!(available.get() < balance, "{o:?}");
        }
    }
    assert_eq!(wallet(store, &user).await, 0);
    let (count, listed) = store
        .list_payouts(
            &PayoutFilter {
                user: Some(user.clone()),
                status: None,
            },
            &Page::new(1, 100),
        )
        .await
        .unwrap();
    assert_eq!(count, Some(1), "refused payouts leave nothing: {listed:?}");
    assert_eq!(
        store
            .account_balance(&done[0].account(), Currency::Inr)
            .await
            .unwrap(),
        MinorUnits::new(balance)
    );
    assert_verified(store).await;

    // A new credit makes exactly that much more available.
    released(store, &user, 1_000, now + 2).await;
    let too_much = payout(&user, 901, now + 3);
    assert!(matches!(
        store.debit_payout(&too_much, None, now + 3).await.unwrap(),
        Debit::Insufficient { available } if available == MinorUnits::new(900)
    ));
    assert_eq!(store.get_payout(&too_much.id).await.unwrap(), None);
    debited(store, &payout(&user, 900, now + 4), None, now + 4).await;
    assert_eq!(wallet(store, &user).await, 0);
    assert_verified(store).await;
}

/// A payout from debit to paid, another refused and given back, retried and paid, then
/// reversed in part: every move balanced, every state listed where it should be.
pub async fn check_a_payout_moves_through_its_states_with_balanced_entries(store: &dyn Store) {
    let now = JAN_2026_MS;
    let user = UserId::generate();
    released(store, &user, 100_000, now).await;
    assert_eq!(wallet(store, &user).await, 90_000);

    let first = debited(store, &payout(&user, 30_000, now + 1), None, now + 1).await;
    assert_eq!(
        store.get_payout(&first.id).await.unwrap().as_ref(),
        Some(&first),
        "the debit returns the payout as stored"
    );
    assert_eq!(
        store.payouts_with_provider_work().await.unwrap(),
        vec![first.id.clone()]
    );
    let first = moved(store, &first.id, |p| p.paid("tr_1", now + 2).unwrap()).await;
    assert!(store.payouts_with_provider_work().await.unwrap().is_empty());
    assert_eq!(wallet(store, &user).await, 60_000);
    assert_eq!(
        store
            .account_balance(&first.account(), Currency::Inr)
            .await
            .unwrap(),
        MinorUnits::ZERO
    );
    // A stale compare-and-set loses and writes nothing.
    let mut stale = first.clone();
    stale.version = first.version;
    assert!(matches!(
        store.save_payout(&stale, first.version - 1, &[]).await,
        Err(StoreError::Conflict)
    ));

    let second = debited(store, &payout(&user, 50_000, now + 3), None, now + 3).await;
    assert_eq!(wallet(store, &user).await, 10_000);
    let second = moved(store, &second.id, |p| {
        p.failed("account closed", now + 4).unwrap()
    })
    .await;
    assert_eq!(second.status, PayoutStatus::Failed);
    assert_eq!(wallet(store, &user).await, 60_000, "given back");
    assert_verified(store).await;

    // The retry debits again under a new attempt.
    let mut retry = second.clone();
    retry.retry("admin:a", now + 5).unwrap();
    let second = debited(store, &retry, Some(second.version), now + 5).await;
    assert_eq!((second.status, second.attempt), (PayoutStatus::Pending, 2));
    assert_eq!(wallet(store, &user).await, 10_000);
    let second = moved(store, &second.id, |p| p.paid("tr_2", now + 6).unwrap()).await;

    // A partial reversal gives back what is new, once.
    let first = moved(store, &first.id, |p| {
        p.reversed_to("tr_1", MinorUnits::new(5_000), now + 7)
            .unwrap()
    })
    .await;
    assert_eq!(first.reversed, MinorUnits::new(5_000));
    assert_eq!(wallet(store, &user).await, 15_000);
    assert_verified(store).await;

    let by_status = |status| {
        let user = user.clone();
        async move {
            store
                .list_payouts(
                    &PayoutFilter {
                        user: Some(user),
                        status: Some(status),
                    },
                    &Page::new(1, 10),
                )
                .await
                .unwrap()
        }
    };
    let (n, paid) = by_status(PayoutStatus::Paid).await;
    assert_eq!(n, Some(2));
    assert_eq!(
        paid.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        vec![second.id.clone(), first.id.clone()],
        "newest first"
    );
    assert_eq!(by_status(PayoutStatus::Failed).await.0, Some(0));
    let (n, none) = store
        .list_payouts(
            &PayoutFilter {
                user: Some(UserId::generate()),
                status: None,
            },
            &Page::new(1, 10),
        )
        .await
        .unwrap();
    assert_eq!((n, none.len()), (Some(0), 0));
    // Keyset pages walk every payout once.
    let mut seen = vec![];
    let mut page = Page::after(None, 1);
    loop {
        let (_, rows) = store
            .list_payouts(&PayoutFilter::default(), &page)
            .await
            .unwrap();
        match page.next(&rows, escrow::store::Cursor::of_payout) {
            Some(next) => page = Page::after(Some(next), 1),
            None => break,
        }
        seen.extend(rows.into_iter().map(|p| p.id));
    }
    assert_eq!(seen, vec![second.id.clone(), first.id.clone()]);
    let mut ids = vec![first.id.clone(), second.id.clone()];
    ids.sort();
    let after: Vec<_> = store
        .payouts_after(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(after, ids, "in id order");
    assert_eq!(
        store.payouts_after(Some(&ids[0]), 10).await.unwrap().len(),
        1
    );
}

/// A failed payout retried after the wallet was spent elsewhere is refused and stays failed;
/// verify still holds.
pub async fn check_a_retry_the_wallet_cannot_cover_is_refused(store: &dyn Store) {
    let now = JAN_2026_MS;
    let user = UserId::generate();
    released(store, &user, 10_000, now).await;
    let p = debited(store, &payout(&user, 9_000, now + 1), None, now + 1).await;
    let p = moved(store, &p.id, |p| p.failed("no", now + 2).unwrap()).await;
    debited(store, &payout(&user, 5_000, now + 3), None, now + 3).await;
    let mut retry = p.clone();
    retry.retry("admin:a", now + 4).unwrap();
    match store
        .debit_payout(&retry, Some(p.version), now + 4)
        .await
        .unwrap()
    {
        Debit::Insufficient { available } => assert_eq!(available, MinorUnits::new(4_000)),
        other => panic!("{other:?}"),
    }
    let after = store.get_payout(&p.id).await.unwrap().unwrap();
    assert_eq!(after.status, PayoutStatus::Failed);
    assert_eq!(wallet(store, &user).await, 4_000);
    assert_verified(store).await;
}

/// One connected account per user, found by user and by the provider's id; an older
/// description never overwrites a newer one.
pub async fn check_connected_accounts_are_one_per_user_and_newer_states_win(store: &dyn Store) {
    let user = UserId::generate();
    assert_eq!(store.connected_account(&user).await.unwrap(), None);
    let a = ConnectedAccount::new(user.clone(), "acct_first".into(), 1);
    assert_eq!(store.insert_connected_account(&a).await.unwrap(), a);
    let b = ConnectedAccount::new(user.clone(), "acct_second".into(), 2);
    assert_eq!(
        store.insert_connected_account(&b).await.unwrap(),
        a,
        "the first account stays the user's"
    );
    assert_eq!(
        store.connected_account_by_id("acct_first").await.unwrap(),
        Some(a.clone())
    );
    let state = |at: i64, enabled: bool| AccountState {
        account_id: "acct_first".into(),
        payouts_enabled: enabled,
        details_submitted: enabled,
        requirements_due: if enabled {
            vec![]
        } else {
            vec!["external_account".into()]
        },
        described_at: at,
    };
    let mut newer = a.clone();
    assert!(newer.describe(&state(20, true), 5));
    assert!(store.describe_connected_account(&newer).await.unwrap());
    let mut older = a.clone();
    assert!(older.describe(&state(10, false), 6));
    assert!(!store.describe_connected_account(&older).await.unwrap());
    let stored = store.connected_account(&user).await.unwrap().unwrap();
    assert_eq!(stored, newer);
    assert!(stored.payouts_enabled);
    let report = verify(store).await;
    assert!(report.ok(), "{:?}", report.violations);
}

pub mod mongo {
    use super::*;
    use crate::mongo_backend::MongoBackend;

    /// A debit cut off after recording its payout, or after reserving its amount, is
    /// finished by the repair step exactly once (and not before its grace period), and a
    /// payout racing it cannot spend the reserved money.
    pub async fn check_an_interrupted_wallet_debit_is_finished_once(b: &MongoBackend) {
        let store = b.store.as_ref();
        let now = JAN_2026_MS;
        let user = UserId::generate();
        released(store, &user, 10_000, now).await;
        // Cut off after step 1: recorded `requested`, nothing reserved.
        let first = payout(&user, 4_000, now);
        b.store.record_payout_then_crash(&first).await.unwrap();
        // Cut off after step 2: its 4 000 is reserved.
        let second = payout(&user, 4_000, now);
        assert!(
            b.store
                .reserve_payout_then_crash(&second, now)
                .await
                .unwrap()
        );
        // Only 5 000 is not reserved (9 000 - 4 000): a racing payout of 6 000 is refused.
        assert!(matches!(
            store
                .debit_payout(&payout(&user, 6_000, now), None, now)
                .await
                .unwrap(),
            Debit::Insufficient { .. }
        ));
        // Only debits last moved before the given time are repaired (the service passes its
        // grace period): these are not yet.
        assert_eq!(store.repair_debits(now, now).await.unwrap(), 0);
        let later = now + 1;
        let repaired = store.repair_debits(later, later).await.unwrap();
        assert_eq!(repaired, 2);
        for p in [&first, &second] {
            let got = store.get_payout(&p.id).await.unwrap().unwrap();
            assert_eq!(got.status, PayoutStatus::Pending, "{}", p.id);
        }
        assert_eq!(wallet(store, &user).await, 1_000);
        // Repairing again (another server) changes nothing.
        assert_eq!(store.repair_debits(later + 1, later + 1).await.unwrap(), 0);
        assert_eq!(wallet(store, &user).await, 1_000);
        let reopened = b.reopen().await;
        assert_eq!(
            reopened.repair_debits(later + 2, later + 2).await.unwrap(),
            0
        );
        // The one left: 1 000, and no more.
        assert!(matches!(
            store.debit_payout(&payout(&user, 1_001, later), None, later).await.unwrap(),
            Debit::Insufficient { available } if available == MinorUnits::new(1_000)
        ));
        debited(store, &payout(&user, 1_000, later), None, later).await;
        assert_eq!(wallet(store, &user).await, 0);
        assert_verified(store).await;
    }
}

/// A wallet with one payout of each end state: paid, pending, failed. Returns the user and
/// the three payouts, in that order.
pub async fn a_ledger_with_payouts(store: &dyn Store) -> (UserId, [Payout; 3]) {
    let now = JAN_2026_MS;
    let user = UserId::generate();
    released(store, &user, 100_000, now).await;
    let paid = debited(store, &payout(&user, 10_000, now + 1), None, now + 1).await;
    let paid = moved(store, &paid.id, |p| p.paid("tr_ok", now + 2).unwrap()).await;
    let pending = debited(store, &payout(&user, 20_000, now + 3), None, now + 3).await;
    let failed = debited(store, &payout(&user, 30_000, now + 4), None, now + 4).await;
    let failed = moved(store, &failed.id, |p| p.failed("no", now + 5).unwrap()).await;
    assert_verified(store).await;
    (user, [paid, pending, failed])
}
