//! The conformance checks. Each builds its records with the domain's own transitions and saves
//! them the way the service does (`save_contract` with the version it read), so a backend is
//! held to exactly what the service relies on.

use std::collections::BTreeSet;

use escrow::domain::review::Rating;
use escrow::domain::verify::{ContractFacts, Report, Verifier};
use escrow::domain::{
    Account, Action, Contract, ContractId, ContractStatus, Currency, DomainError, Entity,
    EscrowStatus, EventId, FeeBps, FundOutcome, JobId, LedgerEntry, MilestoneId, MilestonePlan,
    MilestoneRef, MinorUnits, Money, Party, Payment, PaymentRef, RefundRef, Review, Title,
    Transfer, TransferKind, UserId,
};
use escrow::store::{
    ContractFilter, ContractStore, Cursor, EventRecord, EventStatus, Page, ReviewPage, Store,
    StoreError, WebhookEvent,
};
use futures_util::future::join_all;
use tokio::sync::Barrier;

mod idempotency;
pub mod payouts;
mod timers;
pub use idempotency::*;
pub use payouts::*;
pub use timers::*;

/// 2026-01-01T00:00:00Z.
const JAN_2026_MS: i64 = 1_767_225_600_000;
const DAY_MS: i64 = 86_400_000;
/// How many writers race for one record, and how many times.
const RACERS: usize = 50;
const RACE_ROUNDS: usize = 20;

fn fee() -> FeeBps {
    FeeBps::new(1000).unwrap()
}

fn m(minor: i64) -> MinorUnits {
    MinorUnits::new(minor)
}

fn ev(id: &str) -> EventId {
    EventId::new(id)
}

fn pr(r: &str) -> PaymentRef {
    PaymentRef::new(r)
}

fn re(r: &str) -> RefundRef {
    RefundRef::new(r)
}

fn new_contract(freelancer: &UserId, amount: i64, now: i64) -> Contract {
    Contract::new(
        ContractId::generate(),
        JobId::generate(),
        UserId::generate(),
        freelancer.clone(),
        Money::new(m(amount), Currency::Inr),
        Some(Title::parse("Logo design").unwrap()),
        now,
    )
    .unwrap()
}

fn milestone_contract(freelancer: &UserId, amounts: &[i64], now: i64) -> Contract {
    let plans: Vec<MilestonePlan> = amounts
        .iter()
        .enumerate()
        .map(|(i, a)| MilestonePlan {
            title: format!("Part {}", i + 1),
            amount: m(*a),
        })
        .collect();
    Contract::with_milestones(
        ContractId::generate(),
        JobId::generate(),
        UserId::generate(),
        freelancer.clone(),
        Money::new(m(amounts.iter().sum()), Currency::Inr),
        Some(Title::parse("Shop").unwrap()),
        Some(&plans),
        now,
    )
    .unwrap()
}

fn payment(c: &Contract, pi: &str) -> Payment {
    Payment {
        checkout_session_id: Some(pr(&format!("cs_{pi}"))),
        payment_intent_id: Some(pr(pi)),
        charge_id: None,
        amount: c.amount,
        currency: c.currency,
        milestones: None,
    }
}

fn entries_of(transfers: &[Transfer]) -> Vec<LedgerEntry> {
    transfers.iter().flat_map(Transfer::entries).collect()
}

fn sorted(mut entries: Vec<LedgerEntry>) -> Vec<LedgerEntry> {
    entries.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    entries
}

async fn load(store: &dyn Store, id: &ContractId) -> Contract {
    store
        .get_contract(id)
        .await
        .unwrap()
        .expect("stored contract")
}

/// Runs a legal transition on the stored record, saves it with a compare-and-set, and checks
/// the store gives back exactly what was saved. Returns the entries written.
async fn step(
    store: &dyn Store,
    id: &ContractId,
    f: impl FnOnce(&mut Contract) -> Result<Vec<Transfer>, DomainError>,
) -> Vec<LedgerEntry> {
    let mut c = load(store, id).await;
    let expected = c.version;
    let transfers = f(&mut c).expect("a legal transition");
    c.version = expected + 1;
    let entries = entries_of(&transfers);
    store.save_contract(&c, expected, &entries).await.unwrap();
    assert_eq!(load(store, id).await, c, "the record round-trips");
    entries
}

async fn inserted(store: &dyn Store, c: &Contract) -> ContractId {
    store.insert_contract(c).await.unwrap();
    c.id.clone()
}

/// A contract created, approved and paid (escrow funded) at `now`.
async fn funded(store: &dyn Store, freelancer: &UserId, amount: i64, now: i64) -> ContractId {
    let id = inserted(store, &new_contract(freelancer, amount, now)).await;
    step(store, &id, |c| c.approve(now).map(|_| vec![])).await;
    let pi = format!("pi_{id}");
    step(store, &id, |c| {
        let p = payment(c, &pi);
        c.fund(&p, fee(), &ev(&format!("evt_{id}")), now)
            .map(|(_, t)| t)
    })
    .await;
    id
}

/// Funded, worked through to Completed, release requested.
async fn requested(store: &dyn Store, freelancer: &UserId, amount: i64, now: i64) -> ContractId {
    let id = funded(store, freelancer, amount, now).await;
    for to in [
        ContractStatus::Started,
        ContractStatus::Ongoing,
        ContractStatus::Completed,
    ] {
        step(store, &id, |c| {
            c.move_to(to, Party::Freelancer, now).map(|_| vec![])
        })
        .await;
    }
    step(store, &id, |c| c.request_release(now).map(|_| vec![])).await;
    id
}

async fn released(store: &dyn Store, freelancer: &UserId, amount: i64, now: i64) -> ContractId {
    let id = requested(store, freelancer, amount, now).await;
    step(store, &id, |c| c.release("admin:test", None, now)).await;
    id
}

/// Funded at `at`, Started, then canceled by an admin with the kill fee of a started contract
/// (the client's share owed back through the provider).
async fn killed(store: &dyn Store, freelancer: &UserId, amount: i64, at: i64) -> ContractId {
    let id = funded(store, freelancer, amount, at).await;
    step(store, &id, |c| {
        c.move_to(ContractStatus::Started, Party::Freelancer, at + 1)
            .map(|_| vec![])
    })
    .await;
    step(store, &id, |c| {
        c.decide_refund("admin:a", Party::Admin, "", "", None, at + 2)
    })
    .await;
    id
}

/// Every ledger invariant over the whole store, read the way `escrowctl verify` reads it.
async fn verify(store: &dyn Store) -> Report {
    let mut v = Verifier::new();
    let mut after: Option<String> = None;
    loop {
        let batch = store.entries_after(after.as_deref(), 7).await.unwrap();
        let Some(last) = batch.last() else { break };
        after = Some(last.id.clone());
        batch.iter().for_each(|e| v.add_entry(e));
    }
    let mut after: Option<ContractId> = None;
    loop {
        let batch = store.contracts_after(after.as_ref(), 7).await.unwrap();
        let Some(last) = batch.last() else { break };
        after = Some(last.id.clone());
        batch.iter().for_each(|c| v.add_contract(c));
    }
    let mut after: Option<escrow::domain::PayoutId> = None;
    loop {
        let batch = store.payouts_after(after.as_ref(), 7).await.unwrap();
        let Some(last) = batch.last() else { break };
        after = Some(last.id.clone());
        batch.iter().for_each(|p| v.add_payout(p));
    }
    for (user, balance) in store.wallet_balances(Currency::Inr).await.unwrap() {
        v.add_wallet_balance(user.as_str(), Currency::Inr, balance);
    }
    if let Some(kept) = store.kept_balances().await.unwrap() {
        v.add_kept_balances(kept);
    }
    v.finish()
}

/// Verification over the whole store, for the backend-specific tests of `main.rs`.
pub async fn verified(store: &dyn Store) -> Report {
    verify(store).await
}

/// A ledger with every kind of transfer in it: contracts funded, released, refunded with a
/// kill fee (owed to the client, then settled), and a duplicate payment owed back.
pub async fn a_ledger_of_every_kind(store: &dyn Store) {
    let now = JAN_2026_MS;
    let freelancer = UserId::generate();
    released(store, &freelancer, 10_001, now).await;
    funded(store, &freelancer, 25_000, now + 1).await;
    killed(store, &freelancer, 40_000, now + 2).await;
    assert_verified(store).await;
}

/// What the stores answer for held funds, revenue and wallets equals what the entries sum to,
/// after every kind of transfer (a store that keeps balances reads them, the others sum).
pub async fn check_balances_read_are_the_sums_of_the_entries(store: &dyn Store) {
    a_ledger_of_every_kind(store).await;
    let mut sums: std::collections::BTreeMap<Account, i64> = Default::default();
    let mut after: Option<String> = None;
    loop {
        let batch = store.entries_after(after.as_deref(), 5).await.unwrap();
        let Some(last) = batch.last() else { break };
        after = Some(last.id.clone());
        for e in &batch {
            *sums.entry(e.account.clone()).or_default() += e.amount.get();
        }
    }
    let held: i64 = sums
        .iter()
        .filter(|(a, _)| matches!(a, Account::Escrow(_)))
        .map(|(_, b)| b)
        .sum();
    assert_eq!(held, 25_000, "one escrow is still funded");
    assert_eq!(store.escrow_held(Currency::Inr).await.unwrap(), m(held));
    for (account, sum) in &sums {
        assert_eq!(
            store.account_balance(account, Currency::Inr).await.unwrap(),
            m(*sum),
            "{account}"
        );
    }
    assert_eq!(
        store
            .account_balance(&Account::Wallet(UserId::generate()), Currency::Inr)
            .await
            .unwrap(),
        m(0),
        "an account with no entries holds nothing"
    );
    assert_eq!(
        store
            .account_balance(&Account::PlatformFees, Currency::Usd)
            .await
            .unwrap(),
        m(0),
        "nor does another currency"
    );
}

async fn assert_verified(store: &dyn Store) {
    let report = verify(store).await;
    assert!(report.ok(), "{:#?}", report.violations);
}

async fn all_entries_of_account(store: &dyn Store, account: &Account) -> Vec<LedgerEntry> {
    let mut out = vec![];
    for page in 1.. {
        let (count, batch) = store
            .entries_for_account(account, Currency::Inr, &Page::new(page, 3))
            .await
            .unwrap();
        assert!(out.len() as u64 <= count);
        if batch.is_empty() {
            assert_eq!(out.len() as u64, count, "pages add up to the count");
            break;
        }
        out.extend(batch);
    }
    out
}

/// `(amount, platform fee, freelancer earning)` of a stored escrow.
async fn split_of(store: &dyn Store, id: &ContractId) -> (i64, i64, i64) {
    let e = load(store, id).await.escrow().expect("funded");
    (
        e.amount.get(),
        e.platform_fee.get(),
        e.freelancer_earning.get(),
    )
}

fn event(id: &str, at: i64) -> WebhookEvent {
    WebhookEvent {
        event_id: ev(id),
        event_type: "checkout.session.completed".into(),
        status: EventStatus::Received,
        error: None,
        contract_id: None,
        received_at: at,
        updated_at: at,
        deliveries: 1,
    }
}

fn rating(n: u8) -> Rating {
    Rating::parse(&serde_json::json!(n)).unwrap()
}

// ---- the checks ----------------------------------------------------------------------------

pub async fn check_every_transition_is_saved_with_its_entries(store: &dyn Store) {
    let now = JAN_2026_MS;
    let freelancer = UserId::generate();

    // Release path, step by step, with the ledger read back after each money step.
    let c = new_contract(&freelancer, 100_000, now);
    let id = inserted(store, &c).await;
    assert_eq!(load(store, &id).await, c);
    assert!(store.entries_for_contract(&id).await.unwrap().is_empty());
    let mut written = step(store, &id, |c| c.approve(now + 1).map(|_| vec![])).await;
    assert!(written.is_empty());
    let pi = format!("pi_{id}");
    written.extend(
        step(store, &id, |c| {
            let p = payment(c, &pi);
            let (outcome, t) = c.fund(&p, fee(), &ev("evt_1"), now + 2)?;
            assert_eq!(outcome, FundOutcome::Funded);
            Ok(t)
        })
        .await,
    );
    assert_eq!(written.len(), 2);
    assert_eq!(
        store.entries_for_contract(&id).await.unwrap(),
        sorted(written.clone())
    );
    for (i, to) in [
        ContractStatus::Started,
        ContractStatus::Ongoing,
        ContractStatus::Completed,
    ]
    .into_iter()
    .enumerate()
    {
        step(store, &id, |c| {
            c.move_to(to, Party::Freelancer, now + 3 + i as i64)
                .map(|_| vec![])
        })
        .await;
    }
    step(store, &id, |c| c.request_release(now + 7).map(|_| vec![])).await;
    written.extend(step(store, &id, |c| c.release("admin:a", None, now + 8)).await);
    assert_eq!(written.len(), 5);
    assert_eq!(
        store.entries_for_contract(&id).await.unwrap(),
        sorted(written)
    );
    let done = load(store, &id).await;
    assert_eq!(done.escrow_status(), Some(EscrowStatus::Released));
    assert_eq!(done.version, 7, "every save bumped the version once");
    assert_eq!(
        store
            .account_balance(
                &Account::Escrow(MilestoneRef::new(id.clone(), MilestoneId::FIRST)),
                Currency::Inr
            )
            .await
            .unwrap(),
        m(0)
    );
    assert_eq!(
        store
            .account_balance(&Account::Wallet(freelancer.clone()), Currency::Inr)
            .await
            .unwrap(),
        m(90_000)
    );
    assert_eq!(
        store
            .account_balance(&Account::PlatformFees, Currency::Inr)
            .await
            .unwrap(),
        m(10_000)
    );

    // Refund path: decided (provider work owed), then settled by the provider.
    let refunded = funded(store, &freelancer, 50_000, now).await;
    step(store, &refunded, |c| {
        c.move_to(ContractStatus::Started, Party::Freelancer, now)
            .map(|_| vec![])
    })
    .await;
    step(store, &refunded, |c| {
        c.decide_refund("admin:a", Party::Admin, "gone", "no reply", None, now + 1)
    })
    .await;
    let c = load(store, &refunded).await;
    assert_eq!(c.escrow_status(), Some(EscrowStatus::RefundPending));
    assert_eq!(c.status, ContractStatus::Canceled);
    step(store, &refunded, |c| {
        c.settle_refund(MilestoneId::FIRST, &re("re_1"), "provider", now + 2)
    })
    .await;
    assert_eq!(
        load(store, &refunded).await.escrow_status(),
        Some(EscrowStatus::Refunded)
    );
    assert_eq!(
        store.entries_for_contract(&refunded).await.unwrap().len(),
        2 + 4 + 2
    );

    // A second payment: recorded as extra, owed back, then refunded by the provider.
    let doubled = funded(store, &freelancer, 30_000, now).await;
    step(store, &doubled, |c| {
        let p = payment(c, "pi_second");
        let (outcome, t) = c.fund(&p, fee(), &ev("evt_second"), now + 1)?;
        assert_eq!(outcome, FundOutcome::Duplicate);
        Ok(t)
    })
    .await;
    assert_eq!(load(store, &doubled).await.extra_payments.len(), 1);
    step(store, &doubled, |c| {
        c.settle_duplicate(&pr("pi_second"), &re("re_2"), now + 2)
    })
    .await;

    // A forced release without a request, and a refund that sends nothing back (settles at once).
    let forced = funded(store, &freelancer, 20_000, now).await;
    step(store, &forced, |c| {
        c.release("cli:root@host", Some("client vanished"), now + 1)
    })
    .await;
    let all_to_freelancer = funded(store, &freelancer, 10_000, now).await;
    step(store, &all_to_freelancer, |c| {
        c.decide_refund(
            "admin:a",
            Party::Admin,
            "dispute",
            "",
            Some(m(9_000)),
            now + 1,
        )
    })
    .await;
    assert_eq!(
        load(store, &all_to_freelancer).await.escrow_status(),
        Some(EscrowStatus::Refunded)
    );

    assert_eq!(store.count_contracts().await.unwrap(), 5);
    assert_verified(store).await;
}

pub async fn check_illegal_transitions_are_refused_and_change_nothing(store: &dyn Store) {
    use ContractStatus::*;
    let now = JAN_2026_MS;
    let freelancer = UserId::generate();
    let legal = [
        (Pending, Started),
        (Started, Ongoing),
        (Ongoing, Completed),
        (Pending, Canceled),
        (Started, Canceled),
        (Ongoing, Canceled),
    ];
    // One stored contract in each status, reached through legal saves.
    for from in [Pending, Started, Ongoing, Completed, Canceled] {
        let id = funded(store, &freelancer, 10_000, now).await;
        let path: &[ContractStatus] = match from {
            Pending => &[],
            Started => &[Started],
            Ongoing => &[Started, Ongoing],
            Completed => &[Started, Ongoing, Completed],
            Canceled => &[Canceled],
        };
        for &to in path {
            step(store, &id, |c| {
                c.move_to(to, Party::Freelancer, now).map(|_| vec![])
            })
            .await;
        }
        let stored = load(store, &id).await;
        assert_eq!(stored.status, from);
        for to in [Pending, Started, Ongoing, Completed, Canceled] {
            if legal.contains(&(from, to)) {
                continue;
            }
            let mut c = stored.clone();
            assert_eq!(
                c.move_to(to, Party::Freelancer, now),
                Err(DomainError::InvalidTransition {
                    entity: Entity::Contract,
                    from: from.as_str(),
                    action: Action::MoveTo(to),
                    reason: None
                })
            );
            assert_eq!(c, stored, "a refused move changes nothing");
        }
        assert_eq!(load(store, &id).await, stored);
    }

    // Money transitions out of order are refused by the record the store gave back.
    let id = funded(store, &freelancer, 10_000, now).await;
    let c = load(store, &id).await;
    assert!(
        c.clone().release("admin:a", None, now).is_err(),
        "release without a request"
    );
    assert!(
        c.clone().request_release(now).is_err(),
        "release request before completion"
    );
    assert!(
        c.clone()
            .settle_refund(MilestoneId::FIRST, &re("re"), "p", now)
            .is_err(),
        "settle without a refund"
    );
    let id = released(store, &freelancer, 10_000, now).await;
    let c = load(store, &id).await;
    assert!(
        c.clone().release("admin:a", None, now).is_err(),
        "release twice"
    );
    assert!(
        c.clone()
            .decide_refund("admin:a", Party::Admin, "", "", None, now)
            .is_err(),
        "refund after release"
    );
    assert!(
        c.clone().request_release(now).is_err(),
        "approved never goes back to requested"
    );

    // The store refuses stale and future versions and unknown records, and writes nothing.
    let id = requested(store, &freelancer, 10_000, now).await;
    let before = load(store, &id).await;
    let entries_before = store.entries_for_contract(&id).await.unwrap();
    let count_before = store.count_entries().await.unwrap();
    for expected in [before.version - 1, before.version + 1] {
        let mut c = before.clone();
        let transfers = c.release("admin:a", None, now).unwrap();
        c.version = expected + 1;
        let r = store
            .save_contract(&c, expected, &entries_of(&transfers))
            .await;
        assert!(matches!(r, Err(StoreError::Conflict)), "{r:?}");
    }
    assert_eq!(load(store, &id).await, before);
    assert_eq!(
        store.entries_for_contract(&id).await.unwrap(),
        entries_before
    );
    assert_eq!(store.count_entries().await.unwrap(), count_before);
    let mut ghost = new_contract(&freelancer, 1_000, now);
    ghost.version = 1;
    assert!(matches!(
        store.save_contract(&ghost, 0, &[]).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.get_contract(&ghost.id).await.unwrap().is_none());

    // A refund of a completed contract is refused, and after a refund no release can happen.
    let mut c = load(store, &id).await;
    assert!(
        c.decide_refund("admin:a", Party::Admin, "", "", None, now)
            .is_err()
    );
    let id = funded(store, &freelancer, 10_000, now).await;
    step(store, &id, |c| {
        c.decide_refund("admin:a", Party::Admin, "", "", None, now)
    })
    .await;
    let mut c = load(store, &id).await;
    assert!(c.release("admin:a", Some("force"), now).is_err());
    assert_verified(store).await;
}

pub async fn check_a_compare_and_set_race_has_exactly_one_winner(store: &dyn Store) {
    let now = JAN_2026_MS;
    let freelancer = UserId::generate();
    let mut released_total = 0i64;
    for round in 0..RACE_ROUNDS {
        let releasing = round % 2 == 0;
        let id = if releasing {
            requested(store, &freelancer, 100_000, now).await
        } else {
            funded(store, &freelancer, 100_000, now).await
        };
        let barrier = Barrier::new(RACERS);
        let results = join_all((0..RACERS).map(|i| {
            let (id, barrier) = (&id, &barrier);
            async move {
                let mut c = load(store, id).await;
                // Everyone holds the same version before anyone writes.
                barrier.wait().await;
                let expected = c.version;
                let transfers = if releasing {
                    c.release(&format!("admin:{i}"), None, now + 1).unwrap()
                } else {
                    // Each racer proposes another split: only one may ever be booked.
                    c.decide_refund(
                        "admin:x",
                        Party::Admin,
                        "",
                        "",
                        Some(m(i as i64 * 100)),
                        now + 1,
                    )
                    .unwrap()
                };
                c.version = expected + 1;
                store
                    .save_contract(&c, expected, &entries_of(&transfers))
                    .await
            }
        }))
        .await;
        let wins = results.iter().filter(|r| r.is_ok()).count();
        let conflicts = results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Conflict)))
            .count();
        assert_eq!(
            (wins, conflicts),
            (1, RACERS - 1),
            "round {round}: {results:?}"
        );
        let entries = store.entries_for_contract(&id).await.unwrap();
        let kind = if releasing {
            TransferKind::Release
        } else {
            TransferKind::Refund
        };
        let transfers: BTreeSet<_> = entries
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.transfer_id.clone())
            .collect();
        assert_eq!(
            transfers.len(),
            1,
            "round {round}: exactly one transfer booked"
        );
        let c = load(store, &id).await;
        assert_eq!(c.version, if releasing { 7 } else { 3 });
        if releasing {
            released_total += 90_000;
        } else {
            let split = c.escrow().unwrap().refund.unwrap();
            released_total += split.freelancer_share.get();
        }
    }
    assert_eq!(
        store
            .account_balance(&Account::Wallet(freelancer), Currency::Inr)
            .await
            .unwrap(),
        m(released_total)
    );
    assert_verified(store).await;
}

pub async fn check_webhook_events_are_deduplicated_under_concurrency(store: &dyn Store) {
    let now = JAN_2026_MS;
    let e = event("evt_race", now);
    let records = join_all((0..RACERS).map(|_| store.record_event(&e))).await;
    let new = records
        .iter()
        .filter(|r| matches!(r, Ok(EventRecord::New)))
        .count();
    let seen = records
        .iter()
        .filter(|r| matches!(r, Ok(EventRecord::Seen(s)) if s.status == EventStatus::Received))
        .count();
    assert_eq!((new, seen), (1, RACERS - 1), "{records:?}");
    let listed = store
        .list_events(false, &Page::after(None, 10))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].deliveries as usize, RACERS);

    let contract = ContractId::generate().to_string();
    let settled = |contract: Option<&str>, at: i64| WebhookEvent {
        status: EventStatus::Applied,
        contract_id: contract.map(str::to_string),
        updated_at: at,
        ..event("evt_race", at)
    };
    store
        .settle_event(&settled(Some(&contract), now + 5))
        .await
        .unwrap();
    // Settling again without a contract keeps the one recorded; each settle is a delivery.
    store.settle_event(&settled(None, now + 6)).await.unwrap();
    let found = store.find_event(&ev("evt_race")).await.unwrap().unwrap();
    assert_eq!(found.status, EventStatus::Applied);
    assert_eq!(found.deliveries as usize, RACERS + 2);
    assert_eq!(store.find_event(&ev("evt_unknown")).await.unwrap(), None);
    match store
        .record_event(&event("evt_race", now + 7))
        .await
        .unwrap()
    {
        EventRecord::Seen(s) => {
            assert_eq!(s.status, EventStatus::Applied);
            assert_eq!(s.contract_id.as_deref(), Some(contract.as_str()));
            assert_eq!(s.deliveries as usize, RACERS + 3);
            assert_eq!((s.received_at, s.updated_at), (now, now + 6));
        }
        EventRecord::New => panic!("a processed event was recorded as new"),
    }

    // Listing: newest first, and the failed ones alone.
    for (i, status) in [
        EventStatus::Failed,
        EventStatus::Ignored,
        EventStatus::Failed,
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("evt_{i}");
        let at = now + 100 + i as i64;
        // A first delivery settled straight away (nothing recorded before) is stored as given.
        store
            .settle_event(&WebhookEvent {
                status,
                error: Some("why".into()),
                ..event(&id, at)
            })
            .await
            .unwrap();
        let stored = store.find_event(&ev(&id)).await.unwrap().unwrap();
        assert_eq!((stored.status, stored.deliveries), (status, 1));
    }
    let all: Vec<_> = store
        .list_events(false, &Page::after(None, 10))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id.to_string())
        .collect();
    assert_eq!(all, ["evt_2", "evt_1", "evt_0", "evt_race"]);
    let failed = store
        .list_events(true, &Page::after(None, 10))
        .await
        .unwrap();
    assert_eq!(
        failed
            .iter()
            .map(|e| e.event_id.as_str())
            .collect::<Vec<_>>(),
        ["evt_2", "evt_0"]
    );
    assert_eq!(failed[0].error.as_deref(), Some("why"));
    assert_eq!(
        store
            .list_events(false, &Page::after(None, 2))
            .await
            .unwrap()
            .len(),
        2
    );
}

/// A webhook's money and its event record are one write: the winner of a race stores both;
/// a loser (compare-and-set lost) stores neither.
pub async fn check_a_contract_and_its_event_are_saved_together(store: &dyn Store) {
    let now = JAN_2026_MS;
    let freelancer = UserId::generate();
    let id = inserted(store, &new_contract(&freelancer, 100_000, now)).await;
    step(store, &id, |c| c.approve(now).map(|_| vec![])).await;
    let before = load(store, &id).await.version;
    let barrier = Barrier::new(RACERS);
    let results = join_all((0..RACERS).map(|i| {
        let (id, barrier) = (&id, &barrier);
        async move {
            let mut c = load(store, id).await;
            barrier.wait().await;
            let expected = c.version;
            let pi = format!("pi_{id}_{i}");
            let evt = format!("evt_{id}_{i}");
            let p = payment(&c, &pi);
            let (_, transfers) = c.fund(&p, fee(), &ev(&evt), now + 1).unwrap();
            c.version = expected + 1;
            let record = WebhookEvent {
                status: EventStatus::Applied,
                contract_id: Some(id.to_string()),
                ..event(&evt, now + 1)
            };
            store
                .save_contract_with_event(&c, expected, &entries_of(&transfers), &record)
                .await
                .map(|()| evt)
        }
    }))
    .await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(StoreError::Conflict))),
        "{results:?}"
    );
    for i in 0..RACERS {
        let evt = format!("evt_{id}_{i}");
        let found = store.find_event(&ev(&evt)).await.unwrap();
        if &&evt == winners.first().unwrap() {
            let found = found.expect("the winner's event is stored with its money");
            assert_eq!(found.status, EventStatus::Applied);
            assert_eq!(found.contract_id.as_deref(), Some(id.as_str()));
        } else {
            assert_eq!(found, None, "a lost compare-and-set stores no event");
        }
    }
    assert_eq!(load(store, &id).await.version, before + 1);
    // One funding booked, whoever won.
    let entries = store.entries_for_contract(&id).await.unwrap();
    let transfers: BTreeSet<_> = entries.iter().map(|e| e.transfer_id.clone()).collect();
    assert_eq!(transfers.len(), 1, "{entries:?}");
    assert!(entries.iter().all(|e| e.kind == TransferKind::Fund));
    assert_verified(store).await;
}

pub async fn check_a_contract_has_at_most_one_review(store: &dyn Store) {
    let now = JAN_2026_MS;
    let freelancer = UserId::generate();
    let a = load(store, &released(store, &freelancer, 10_000, now).await).await;
    let first = Review::new(&a, &a.client_id, &freelancer, rating(5), "great", now).unwrap();
    store.insert_review(&first).await.unwrap();
    let second = Review::new(
        &a,
        &a.client_id,
        &freelancer,
        rating(1),
        "changed my mind",
        now + 1,
    )
    .unwrap();
    assert!(matches!(
        store.insert_review(&second).await,
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(
        store.review_for_contract(&a.id).await.unwrap(),
        Some(first.clone())
    );

    // Many at once for another contract: exactly one lands.
    let b = load(store, &released(store, &freelancer, 10_000, now).await).await;
    let reviews: Vec<_> = (0..20)
        .map(|i| {
            Review::new(
                &b,
                &b.client_id,
                &freelancer,
                rating(1 + i % 5),
                "ok",
                now + 10,
            )
            .unwrap()
        })
        .collect();
    let results = join_all(reviews.iter().map(|r| store.insert_review(r))).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(StoreError::Duplicate(_))))
    );
    let landed = store.review_for_contract(&b.id).await.unwrap().unwrap();
    assert!(reviews.contains(&landed));

    // Counted and summed over all, newest first, paged.
    let c = load(store, &released(store, &freelancer, 10_000, now).await).await;
    let third = Review::new(&c, &c.client_id, &freelancer, rating(3), "fine", now + 20).unwrap();
    store.insert_review(&third).await.unwrap();
    let page = store
        .reviews_for_freelancer(&freelancer, &Page::new(1, 2))
        .await
        .unwrap();
    assert_eq!(page.count, 3);
    assert_eq!(page.rating_sum, 5 + landed.rating.get() as i64 + 3);
    assert_eq!(page.reviews, vec![third, landed]);
    let rest = store
        .reviews_for_freelancer(&freelancer, &Page::new(2, 2))
        .await
        .unwrap();
    assert_eq!(rest.reviews, vec![first]);
    let nobody = store
        .reviews_for_freelancer(&UserId::generate(), &Page::default())
        .await
        .unwrap();
    assert_eq!(
        nobody,
        ReviewPage {
            count: 0,
            rating_sum: 0,
            reviews: vec![]
        }
    );
    assert!(
        store
            .review_for_contract(&ContractId::generate())
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn check_a_job_has_at_most_one_live_contract(store: &dyn Store) {
    let now = JAN_2026_MS;
    let freelancer = UserId::generate();
    let a = new_contract(&freelancer, 10_000, now);
    store.insert_contract(&a).await.unwrap();
    assert!(matches!(
        store.insert_contract(&a).await,
        Err(StoreError::Duplicate(_))
    ));
    let mut b = new_contract(&freelancer, 20_000, now);
    b.job_id = a.job_id.clone();
    assert!(matches!(
        store.insert_contract(&b).await,
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(
        store.live_contract_for_job(&a.job_id).await.unwrap(),
        Some(a.clone())
    );

    // Canceling frees the job for a new contract; the canceled one stays stored.
    step(store, &a.id, |c| {
        c.move_to(ContractStatus::Canceled, Party::Client, now + 1)
            .map(|_| vec![])
    })
    .await;
    assert_eq!(store.live_contract_for_job(&a.job_id).await.unwrap(), None);
    store.insert_contract(&b).await.unwrap();
    assert_eq!(
        store.live_contract_for_job(&a.job_id).await.unwrap(),
        Some(b.clone())
    );
    let mut c = new_contract(&freelancer, 30_000, now);
    c.job_id = a.job_id.clone();
    assert!(matches!(
        store.insert_contract(&c).await,
        Err(StoreError::Duplicate(_))
    ));
    assert!(store.get_contract(&a.id).await.unwrap().is_some());

    // Many at once for one job: exactly one lands.
    let job = JobId::generate();
    let racers: Vec<Contract> = (0..20)
        .map(|_| {
            let mut c = new_contract(&freelancer, 10_000, now);
            c.job_id = job.clone();
            c
        })
        .collect();
    let results = join_all(racers.iter().map(|c| store.insert_contract(c))).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let live = store.live_contract_for_job(&job).await.unwrap().unwrap();
    assert!(racers.contains(&live));
    assert_eq!(store.count_contracts().await.unwrap(), 3);
}

pub async fn check_pages_are_newest_first_without_gaps(store: &dyn Store) {
    let now = JAN_2026_MS;
    let freelancer = UserId::generate();
    let mut expected = vec![];
    for i in 0..12 {
        // Pairs share a creation time: the id breaks the tie.
        let c = new_contract(&freelancer, 1_000, now + (i / 2) * 1_000);
        store.insert_contract(&c).await.unwrap();
        expected.push(c);
    }
    let funded_ids = [
        funded(store, &freelancer, 1_000, now + 100_000).await,
        funded(store, &freelancer, 1_000, now + 100_001).await,
    ];
    let requested_id = requested(store, &freelancer, 1_000, now + 100_002).await;
    for id in funded_ids.iter().chain([&requested_id]) {
        expected.push(load(store, id).await);
    }
    expected.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));

    let mut got = vec![];
    for page in 1..=4 {
        let (count, batch) = store
            .list_contracts(&ContractFilter::default(), &Page::new(page, 4))
            .await
            .unwrap();
        assert_eq!(count, Some(15));
        got.extend(batch);
    }
    assert_eq!(got, expected);
    let (count, past_the_end) = store
        .list_contracts(&ContractFilter::default(), &Page::new(9, 4))
        .await
        .unwrap();
    assert_eq!((count, past_the_end.len()), (Some(15), 0));

    let ids = |v: Vec<Contract>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let (count, funded_page) = store
        .list_contracts(
            &ContractFilter {
                funded_only: true,
                ..Default::default()
            },
            &Page::new(1, 10),
        )
        .await
        .unwrap();
    assert_eq!(count, Some(3));
    assert_eq!(
        ids(funded_page),
        [
            requested_id.clone(),
            funded_ids[1].clone(),
            funded_ids[0].clone()
        ]
    );
    let (count, only_requested) = store
        .list_contracts(
            &ContractFilter {
                release_requested: true,
                ..Default::default()
            },
            &Page::new(1, 10),
        )
        .await
        .unwrap();
    assert_eq!(
        (count, ids(only_requested)),
        (Some(1), vec![requested_id.clone()])
    );
    let (count, by_status) = store
        .list_contracts(
            &ContractFilter {
                escrow_status: Some(EscrowStatus::Funded),
                contract_status: Some(ContractStatus::Pending),
                ..Default::default()
            },
            &Page::new(1, 10),
        )
        .await
        .unwrap();
    assert_eq!(count, Some(2));
    assert_eq!(
        ids(by_status),
        [funded_ids[1].clone(), funded_ids[0].clone()]
    );
    let (count, none) = store
        .list_contracts(
            &ContractFilter {
                escrow_status: Some(EscrowStatus::Released),
                ..Default::default()
            },
            &Page::new(1, 10),
        )
        .await
        .unwrap();
    assert_eq!((count, none.len()), (Some(0), 0));

    let (count, none) = store
        .list_contracts(
            &ContractFilter {
                escrow_status: Some(EscrowStatus::Released),
                release_requested: true,
                funded_only: true,
                ..Default::default()
            },
            &Page::new(1, 10),
        )
        .await
        .unwrap();
    assert_eq!(
        (count, none.len()),
        (Some(0), 0),
        "a release request needs a funded escrow"
    );

    // A wallet's entries: newest first, paged without gaps.
    let earner = UserId::generate();
    for day in 0..5 {
        released(store, &earner, 1_000 + day, now + day * DAY_MS).await;
    }
    let entries = all_entries_of_account(store, &Account::Wallet(earner)).await;
    assert_eq!(entries.len(), 5);
    assert!(
        entries
            .windows(2)
            .all(|w| (w[0].at, &w[0].id) > (w[1].at, &w[1].id))
    );
}

/// Walks a list a keyset page of `limit` rows at a time, from the first page to the one that
/// comes back short, and checks that no page is longer than asked.
async fn walk<T>(
    limit: u32,
    key: fn(&T) -> Cursor,
    mut fetch: impl AsyncFnMut(&Page) -> Vec<T>,
) -> Vec<T> {
    let mut page = Page::after(None, limit);
    let mut all = vec![];
    for _ in 0..1_000 {
        let rows = fetch(&page).await;
        assert!(rows.len() <= limit as usize, "a page longer than its limit");
        let next = page.next(&rows, key);
        all.extend(rows);
        match next {
            Some(cursor) => page = Page::after(Some(cursor), limit),
            None => return all,
        }
    }
    panic!("a walk that never ends: a cursor does not move past its row");
}

/// What `verify` reads of each contract (a store may read only those fields of its document)
/// is what the whole contract says, for contracts of every kind: unfunded, funded, released,
/// refunded, a refund owed to the client, a duplicate payment owed back.
pub async fn check_contract_facts_are_those_of_the_contracts(store: &dyn Store) {
    let now = JAN_2026_MS;
    a_ledger_of_every_kind(store).await;
    let owed = funded(store, &UserId::generate(), 7_000, now).await;
    step(store, &owed, |c| {
        c.decide_refund("admin:a", Party::Admin, "", "", None, now + 1)
    })
    .await;
    assert_eq!(
        load(store, &owed).await.escrow_status(),
        Some(EscrowStatus::RefundPending)
    );
    // A contract in three milestones: two paid by one payment, one of them released, the
    // third unpaid; its facts name each milestone's escrow.
    let parts = milestone_contract(&UserId::generate(), &[1_000, 2_000, 3_000], now);
    let parts = inserted(store, &parts).await;
    step(store, &parts, |c| c.approve(now).map(|_| vec![])).await;
    step(store, &parts, |c| {
        let mut p = payment(c, &format!("pi_{}", c.id));
        p.amount = m(3_000);
        p.milestones = Some(vec![MilestoneId::FIRST, MilestoneId::new(2).unwrap()]);
        c.fund(&p, fee(), &ev("evt_parts"), now + 1).map(|(_, t)| t)
    })
    .await;
    step(store, &parts, |c| {
        c.release_milestone(
            MilestoneId::new(2).unwrap(),
            "admin:a",
            Some("test"),
            now + 2,
        )
    })
    .await;
    let facts_of_parts = ContractFacts::of(&load(store, &parts).await);
    assert_eq!(
        (facts_of_parts.milestones, facts_of_parts.escrows.len()),
        (3, 2)
    );
    let (mut facts, mut contracts) = (vec![], vec![]);
    let mut after: Option<ContractId> = None;
    loop {
        let batch = store.contract_facts_after(after.as_ref(), 2).await.unwrap();
        assert!(batch.len() <= 2);
        let Some(last) = batch.last() else { break };
        after = Some(last.id.clone());
        facts.extend(batch);
    }
    let mut after: Option<ContractId> = None;
    loop {
        let batch = store.contracts_after(after.as_ref(), 3).await.unwrap();
        let Some(last) = batch.last() else { break };
        after = Some(last.id.clone());
        contracts.extend(batch);
    }
    let want: Vec<_> = contracts.iter().map(ContractFacts::of).collect();
    assert_eq!(facts, want);
    assert!(
        want.iter().any(|f| !f.refund_owed.is_zero()),
        "some refund is owed: {want:#?}"
    );
}

/// The `count` of a numbered page is how many rows its list has, for every list a route counts
/// (the store may keep these counts) and for an operator's filter (counted when asked), as
/// contracts are created, funded, worked through to Completed, released and canceled.
pub async fn check_every_list_count_is_the_number_of_its_rows(store: &dyn Store) {
    let now = JAN_2026_MS;
    let (a, b) = (UserId::generate(), UserId::generate());
    let plain = new_contract(&a, 1_000, now);
    let client = plain.client_id.clone();
    inserted(store, &plain).await;
    inserted(store, &new_contract(&b, 1_000, now + 1)).await;
    funded(store, &a, 1_000, now + 2).await;
    requested(store, &a, 1_000, now + 3).await;
    let completed = released(store, &b, 1_000, now + 4).await;
    let canceled = killed(store, &a, 1_000, now + 5).await;
    assert_eq!(
        load(store, &canceled).await.status,
        ContractStatus::Canceled
    );
    let filters = [
        ("every contract", ContractFilter::default(), 6),
        (
            "the transactions (with an escrow)",
            ContractFilter {
                funded_only: true,
                ..Default::default()
            },
            4,
        ),
        (
            "one client's",
            ContractFilter {
                client: Some(client),
                ..Default::default()
            },
            1,
        ),
        (
            "freelancer a's",
            ContractFilter {
                freelancer: Some(a.clone()),
                ..Default::default()
            },
            4,
        ),
        (
            "freelancer a's completed work",
            ContractFilter {
                freelancer: Some(a.clone()),
                contract_status: Some(ContractStatus::Completed),
                ..Default::default()
            },
            1,
        ),
        (
            "freelancer b's completed work",
            ContractFilter {
                freelancer: Some(b.clone()),
                contract_status: Some(ContractStatus::Completed),
                ..Default::default()
            },
            1,
        ),
        (
            "released escrows (an operator's filter)",
            ContractFilter {
                escrow_status: Some(EscrowStatus::Released),
                ..Default::default()
            },
            1,
        ),
    ];
    for (what, filter, rows) in filters {
        let (_, all) = store
            .list_contracts(&filter, &Page::new(1, Page::LIMIT_MAX))
            .await
            .unwrap();
        assert_eq!(all.len(), rows, "{what}");
        for page in [Page::new(1, 1), Page::new(3, 1)] {
            let (count, _) = store.list_contracts(&filter, &page).await.unwrap();
            assert_eq!(count, Some(rows as u64), "{what}, page {}", page.page);
        }
    }
    assert!(
        load(store, &completed).await.status == ContractStatus::Completed,
        "a release keeps the contract Completed"
    );
    assert_verified(store).await;
}

pub async fn check_keyset_pages_walk_every_list_exactly_once(store: &dyn Store) {
    let now = JAN_2026_MS;
    let freelancer = UserId::generate();
    // Contracts: triples share a creation time, so the id must break ties across pages.
    for i in 0..10 {
        store
            .insert_contract(&new_contract(&freelancer, 1_000, now + (i / 3) * 1_000))
            .await
            .unwrap();
    }
    let funded_ids = [
        funded(store, &freelancer, 1_000, now + 5_000).await,
        funded(store, &freelancer, 1_000, now + 5_000).await,
    ];
    let everything = Page::new(1, Page::LIMIT_MAX);
    let (count, numbered) = store
        .list_contracts(&ContractFilter::default(), &everything)
        .await
        .unwrap();
    assert_eq!((count, numbered.len()), (Some(12), 12));
    for limit in [1, 2, 3, 5, 12, 13] {
        let walked = walk(limit, Cursor::of_contract, async |page| {
            let (count, rows) = store
                .list_contracts(&ContractFilter::default(), page)
                .await
                .unwrap();
            assert_eq!(count, None, "a keyset page is not counted");
            rows
        })
        .await;
        assert_eq!(walked, numbered, "limit {limit}");
    }
    let funded_only = ContractFilter {
        funded_only: true,
        ..Default::default()
    };
    let walked = walk(1, Cursor::of_contract, async |page| {
        store.list_contracts(&funded_only, page).await.unwrap().1
    })
    .await;
    let mut want = funded_ids.to_vec();
    want.sort();
    want.reverse();
    assert_eq!(
        walked.into_iter().map(|c| c.id).collect::<Vec<_>>(),
        want,
        "same creation time: the greater id first"
    );

    // A contract created while a client walks the list does not shift its pages: it sorts
    // before the cursor, so nothing is seen twice or skipped.
    let first = Page::after(None, 4);
    let (_, page1) = store
        .list_contracts(&ContractFilter::default(), &first)
        .await
        .unwrap();
    store
        .insert_contract(&new_contract(&freelancer, 1_000, now + 9_000))
        .await
        .unwrap();
    let mut rest = walk(4, Cursor::of_contract, {
        let mut cursor = first.next(&page1, Cursor::of_contract);
        async move |page: &Page| {
            let page = Page::after(cursor.take().or(page.after.clone()), page.limit);
            store
                .list_contracts(&ContractFilter::default(), &page)
                .await
                .unwrap()
                .1
        }
    })
    .await;
    let mut seen = page1;
    seen.append(&mut rest);
    assert_eq!(seen, numbered);

    // A wallet's entries: releases at one instant tie on `at`.
    let earner = UserId::generate();
    for _ in 0..3 {
        released(store, &earner, 1_000, now).await;
    }
    released(store, &earner, 1_000, now + DAY_MS).await;
    let wallet = Account::Wallet(earner);
    let entries = all_entries_of_account(store, &wallet).await;
    assert_eq!(entries.len(), 4);
    for limit in [1, 2, 3, 4] {
        let walked = walk(limit, Cursor::of_entry, async |page| {
            let (count, rows) = store
                .entries_for_account(&wallet, Currency::Inr, page)
                .await
                .unwrap();
            assert_eq!(count, 4, "a wallet's count is kept");
            rows
        })
        .await;
        assert_eq!(walked, entries, "limit {limit}");
    }

    // Reviews, two of them at one instant.
    let reviewed = UserId::generate();
    let mut reviews = vec![];
    for at in [now, now, now + 1, now + 2, now + 2] {
        let c = load(store, &released(store, &reviewed, 1_000, at).await).await;
        let r = Review::new(&c, &c.client_id, &reviewed, rating(4), "ok", at).unwrap();
        store.insert_review(&r).await.unwrap();
        reviews.push(r);
    }
    reviews.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    for limit in [1, 2, 4] {
        let walked = walk(limit, Cursor::of_review, async |page| {
            let found = store.reviews_for_freelancer(&reviewed, page).await.unwrap();
            assert_eq!(found.count, 5, "the review count is over all of them");
            found.reviews
        })
        .await;
        assert_eq!(walked, reviews, "limit {limit}");
    }

    // Webhook events, three received at one instant; failed ones alone too.
    let mut events = vec![];
    for (i, at) in [now, now, now, now + 1].into_iter().enumerate() {
        let mut e = event(&format!("evt_page_{i}"), at);
        if i % 2 == 0 {
            e.status = EventStatus::Failed;
        }
        store.record_event(&e).await.unwrap();
        events.push(e);
    }
    events.sort_by(|a, b| (b.received_at, &b.event_id).cmp(&(a.received_at, &a.event_id)));
    for limit in [1, 3] {
        let walked = walk(limit, Cursor::of_event, async |page| {
            store.list_events(false, page).await.unwrap()
        })
        .await;
        let ids = |v: &[WebhookEvent]| v.iter().map(|e| e.event_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&walked), ids(&events), "limit {limit}");
        let failed = walk(limit, Cursor::of_event, async |page| {
            store.list_events(true, page).await.unwrap()
        })
        .await;
        let want: Vec<_> = events
            .iter()
            .filter(|e| e.status == EventStatus::Failed)
            .cloned()
            .collect();
        assert_eq!(ids(&failed), ids(&want), "failed only, limit {limit}");
    }
}

pub async fn check_report_sums_are_exact_beyond_2_pow_53(store: &dyn Store) {
    const TWO_53: i64 = 1 << 53;
    let jan = JAN_2026_MS;
    let feb = JAN_2026_MS + 31 * DAY_MS;
    let freelancer = UserId::generate();
    let amounts = [TWO_53 - 1, TWO_53 + 1, 3];
    let a = released(store, &freelancer, amounts[0], jan).await;
    let b = released(store, &freelancer, amounts[1], jan + DAY_MS).await;
    let held = funded(store, &freelancer, amounts[2], feb).await;
    let c = released(store, &freelancer, TWO_53 + 7, feb).await;

    assert_eq!(store.escrow_held(Currency::Inr).await.unwrap(), m(3));
    assert_eq!(store.escrow_held(Currency::Usd).await.unwrap(), m(0));
    let (fa, fb, fc) = (
        split_of(store, &a).await,
        split_of(store, &b).await,
        split_of(store, &c).await,
    );
    let fees = fa.1 + fb.1 + fc.1;
    assert_eq!(
        store
            .account_balance(&Account::PlatformFees, Currency::Inr)
            .await
            .unwrap(),
        m(fees)
    );
    assert_eq!(
        store
            .account_balance(&Account::Wallet(freelancer.clone()), Currency::Inr)
            .await
            .unwrap(),
        m(fa.2 + fb.2 + fc.2)
    );
    assert!(fa.2 + fb.2 + fc.2 > 2 * TWO_53, "the sums are beyond 2^53");

    let rows = store
        .sales_by_month(Currency::Inr, None, None)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].month, "2026-01");
    assert_eq!(rows[0].gross, m(amounts[0] + amounts[1]));
    assert_eq!(rows[0].platform_fee, m(fa.1 + fb.1));
    assert_eq!(rows[0].freelancer_earning, m(fa.2 + fb.2));
    assert_eq!(rows[0].count, 2);
    assert_eq!(rows[1].month, "2026-02");
    assert_eq!(
        (
            rows[1].gross,
            rows[1].platform_fee,
            rows[1].freelancer_earning,
            rows[1].count
        ),
        (m(TWO_53 + 7), m(fc.1), m(fc.2), 1)
    );
    for r in &rows {
        assert_eq!(r.gross, r.platform_fee + r.freelancer_earning);
    }
    // The range is half-open: [from, to).
    let feb_only = store
        .sales_by_month(Currency::Inr, Some(feb), Some(feb + DAY_MS))
        .await
        .unwrap();
    assert_eq!(feb_only, rows[1..].to_vec());
    let jan_only = store
        .sales_by_month(Currency::Inr, None, Some(feb))
        .await
        .unwrap();
    assert_eq!(jan_only, rows[..1].to_vec());
    assert!(
        store
            .sales_by_month(Currency::Inr, Some(feb + DAY_MS), None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .sales_by_month(Currency::Usd, None, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        load(store, &held).await.escrow_status(),
        Some(EscrowStatus::Funded)
    );
    assert_verified(store).await;
}

pub async fn check_a_wallet_balance_is_the_sum_of_its_entries(store: &dyn Store) {
    let now = JAN_2026_MS;
    let freelancer = UserId::generate();
    let other = UserId::generate();
    for i in 0..4 {
        released(store, &freelancer, 10_000 + i, now + i).await;
    }
    // Refunds with a kill fee credit the wallet too (Started: 15 % of the earning).
    let killed = funded(store, &freelancer, 40_000, now).await;
    step(store, &killed, |c| {
        c.move_to(ContractStatus::Started, Party::Freelancer, now)
            .map(|_| vec![])
    })
    .await;
    step(store, &killed, |c| {
        c.decide_refund("admin:a", Party::Admin, "", "", None, now + 9)
    })
    .await;
    released(store, &other, 7_777, now).await;

    let account = Account::Wallet(freelancer.clone());
    let entries = all_entries_of_account(store, &account).await;
    assert_eq!(entries.len(), 5);
    let sum: i64 = entries.iter().map(|e| e.amount.get()).sum();
    assert_eq!(
        store
            .account_balance(&account, Currency::Inr)
            .await
            .unwrap(),
        m(sum)
    );
    assert_eq!(
        sum,
        9_000 + 9_001 + 9_002 + 9_003 + 5_400,
        "earnings (fee rounded half up) plus the kill fee"
    );
    let mut expected = vec![(freelancer.clone(), m(sum)), (other.clone(), m(6_999))];
    expected.sort();
    assert_eq!(
        store.wallet_balances(Currency::Inr).await.unwrap(),
        expected
    );
    assert!(
        store
            .wallet_balances(Currency::Eur)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .account_balance(&Account::Wallet(UserId::generate()), Currency::Inr)
            .await
            .unwrap(),
        m(0)
    );
    assert_verified(store).await;
}

pub async fn check_a_contract_is_found_by_every_payment_reference(store: &dyn Store) {
    let now = JAN_2026_MS;
    let freelancer = UserId::generate();
    let a = funded(store, &freelancer, 10_000, now).await;
    let b = funded(store, &freelancer, 10_000, now).await;
    step(store, &a, |c| {
        let p = payment(c, "pi_extra");
        c.fund(&p, fee(), &ev("evt_extra"), now).map(|(_, t)| t)
    })
    .await;
    for (reference, owner) in [
        (format!("pi_{a}"), &a),
        (format!("cs_pi_{a}"), &a),
        ("pi_extra".to_string(), &a),
        (format!("pi_{b}"), &b),
        (format!("cs_pi_{b}"), &b),
    ] {
        let found = store.contract_by_payment(&pr(&reference)).await.unwrap();
        assert_eq!(found.map(|c| c.id), Some(owner.clone()), "{reference}");
    }
    assert!(
        store
            .contract_by_payment(&pr("pi_unknown"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.contract_by_payment(&pr("")).await.unwrap().is_none());
}

pub async fn check_provider_work_is_listed_until_settled(store: &dyn Store) {
    let now = JAN_2026_MS;
    let freelancer = UserId::generate();
    assert!(
        store
            .contracts_with_provider_work()
            .await
            .unwrap()
            .is_empty()
    );
    let refund = funded(store, &freelancer, 10_000, now).await;
    let duplicate = funded(store, &freelancer, 10_000, now).await;
    funded(store, &freelancer, 10_000, now).await;
    step(store, &refund, |c| {
        c.decide_refund("admin:a", Party::Admin, "", "", None, now + 5)
    })
    .await;
    step(store, &duplicate, |c| {
        let p = payment(c, "pi_twice");
        c.fund(&p, fee(), &ev("evt_twice"), now + 6).map(|(_, t)| t)
    })
    .await;
    let listed = store.contracts_with_provider_work().await.unwrap();
    assert_eq!(
        listed,
        [refund.clone(), duplicate.clone()],
        "oldest work first"
    );
    // A failed provider call keeps it listed.
    step(store, &refund, |c| {
        c.note_refund_attempt(MilestoneId::FIRST, Some("provider down"), now + 7);
        Ok(vec![])
    })
    .await;
    assert_eq!(store.contracts_with_provider_work().await.unwrap().len(), 2);
    step(store, &refund, |c| {
        c.settle_refund(MilestoneId::FIRST, &re("re_1"), "provider", now + 8)
    })
    .await;
    assert_eq!(
        store.contracts_with_provider_work().await.unwrap(),
        std::slice::from_ref(&duplicate)
    );
    step(store, &duplicate, |c| {
        c.settle_duplicate(&pr("pi_twice"), &re("re_2"), now + 9)
    })
    .await;
    assert!(
        store
            .contracts_with_provider_work()
            .await
            .unwrap()
            .is_empty()
    );
    assert_verified(store).await;
}

pub async fn check_entries_after_and_contracts_after_page_through_everything(store: &dyn Store) {
    let now = JAN_2026_MS;
    let freelancer = UserId::generate();
    let mut contracts = BTreeSet::new();
    let mut entries = BTreeSet::new();
    for i in 0..4 {
        let id = released(store, &freelancer, 1_000 + i, now).await;
        entries.extend(
            store
                .entries_for_contract(&id)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.id),
        );
        contracts.insert(id);
    }
    for _ in 0..3 {
        let c = new_contract(&freelancer, 500, now);
        contracts.insert(inserted(store, &c).await);
    }
    assert_eq!(entries.len(), 4 * 5);

    for limit in [1, 3, 100] {
        let mut seen = vec![];
        let mut after: Option<String> = None;
        loop {
            let batch = store.entries_after(after.as_deref(), limit).await.unwrap();
            assert!(batch.len() <= limit as usize);
            let Some(last) = batch.last() else { break };
            after = Some(last.id.clone());
            seen.extend(batch.into_iter().map(|e| e.id));
        }
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "ascending id order");
        assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), entries);

        let mut seen = vec![];
        let mut after: Option<ContractId> = None;
        loop {
            let batch = store.contracts_after(after.as_ref(), limit).await.unwrap();
            assert!(batch.len() <= limit as usize);
            let Some(last) = batch.last() else { break };
            after = Some(last.id.clone());
            seen.extend(batch.into_iter().map(|c| c.id));
        }
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "ascending id order");
        assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), contracts);
    }
    assert_eq!(store.count_entries().await.unwrap(), 20);
    assert_eq!(store.count_contracts().await.unwrap(), 7);
    let last = contracts.iter().next_back().unwrap();
    assert!(
        store
            .contracts_after(Some(last), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let last = entries.iter().next_back().unwrap();
    assert!(
        store
            .entries_after(Some(last), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Checks of what only the MongoDB backend has: the ledger projection and its repair.
#[cfg(feature = "mongodb")]
pub mod mongo {
    use super::*;
    use crate::mongo_backend::MongoBackend;

    /// Saves a transition the way a process that died right after the compare-and-set would.
    async fn crashed_step(
        b: &MongoBackend,
        id: &ContractId,
        f: impl FnOnce(&mut Contract) -> Result<Vec<Transfer>, DomainError>,
    ) -> Vec<LedgerEntry> {
        let mut c = load(b.store.as_ref(), id).await;
        let expected = c.version;
        let transfers = f(&mut c).unwrap();
        c.version = expected + 1;
        let entries = entries_of(&transfers);
        b.store
            .save_contract_then_crash(&c, expected, &entries)
            .await
            .unwrap();
        entries
    }

    /// What every balance read must give: the sums of the entries.
    async fn reads_match_entries(store: &dyn Store, wallet: &Account) {
        let (mut entries, mut after) = (vec![], None::<String>);
        loop {
            let page = store.entries_after(after.as_deref(), 1_000).await.unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            entries.extend(page);
        }
        let sum = |f: &dyn Fn(&Account) -> bool| -> MinorUnits {
            m(entries
                .iter()
                .filter(|e| f(&e.account))
                .map(|e| e.amount.get())
                .sum())
        };
        assert_eq!(
            store.account_balance(wallet, Currency::Inr).await.unwrap(),
            sum(&|a| a == wallet),
            "the wallet"
        );
        assert_eq!(
            store
                .account_balance(&Account::PlatformFees, Currency::Inr)
                .await
                .unwrap(),
            sum(&|a| *a == Account::PlatformFees),
            "the fees"
        );
        assert_eq!(
            store.escrow_held(Currency::Inr).await.unwrap(),
            sum(&|a| matches!(a, Account::Escrow(_))),
            "the funds held"
        );
        let mut months: std::collections::BTreeMap<String, [i64; 4]> = Default::default();
        for e in &entries {
            if e.kind == TransferKind::Release {
                let m = months
                    .entry(escrow::domain::ledger::KeptMonth::month_of(e.at))
                    .or_default();
                escrow::domain::ledger::KeptMonth::add_release(m, e);
            }
        }
        let report: Vec<(String, [i64; 4])> = store
            .sales_by_month(Currency::Inr, None, None)
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                let totals = [
                    r.gross.get(),
                    r.platform_fee.get(),
                    r.freelancer_earning.get(),
                    r.count,
                ];
                (r.month, totals)
            })
            .collect();
        assert_eq!(
            report,
            months.into_iter().collect::<Vec<_>>(),
            "the sales report"
        );
    }

    /// Kept balances are folded from the entries exactly once per entry: through folds that
    /// died after starting their batch or after applying it (and their retries), and many
    /// servers folding at once while money moves; a read at every stage gives the sum of the
    /// entries, and `verify` finds every kept balance equal to them.
    pub async fn check_kept_balances_fold_each_entry_once(b: &MongoBackend) {
        use escrow::store::mongo::FoldStage;
        let store: &dyn Store = b.store.as_ref();
        let now = JAN_2026_MS;
        let freelancer = UserId::generate();
        let wallet = Account::Wallet(freelancer.clone());
        for i in 0..3 {
            released(store, &freelancer, 10_000 + i, now + i).await;
        }
        // A release in another month, so the report has two.
        released(store, &freelancer, 7_000, now + 40 * DAY_MS).await;
        funded(store, &freelancer, 5_000, now).await;
        reads_match_entries(store, &wallet).await;

        let small = b.reopen().await.with_fold_batch(4);
        assert_eq!(small.fold_then_crash(FoldStage::Started).await.unwrap(), 4);
        reads_match_entries(store, &wallet).await;
        // Finishes the started batch, then dies with the next applied but not marked.
        assert_eq!(small.fold_then_crash(FoldStage::Applied).await.unwrap(), 4);
        reads_match_entries(store, &wallet).await;
        // Its retry (any server) must not apply that batch again.
        assert_eq!(small.fold_then_crash(FoldStage::Applied).await.unwrap(), 4);
        reads_match_entries(store, &wallet).await;
        assert!(b.store.fold_kept().await.unwrap() > 0);
        assert_eq!(
            b.store.fold_kept().await.unwrap(),
            0,
            "nothing left to fold"
        );
        reads_match_entries(store, &wallet).await;
        assert_verified(store).await;

        // Money moves while four servers fold in small batches.
        let servers = [
            b.reopen().await.with_fold_batch(3),
            b.reopen().await.with_fold_batch(5),
            b.reopen().await.with_fold_batch(7),
            small,
        ];
        let writes = async {
            for i in 0..10 {
                released(store, &freelancer, 1_000 + i, now + 100 + i).await;
            }
        };
        let fold_a_while = || {
            join_all(servers.iter().map(|s| async move {
                for _ in 0..15 {
                    s.fold_kept().await.unwrap();
                    tokio::task::yield_now().await;
                }
            }))
        };
        tokio::join!(writes, fold_a_while());
        // Reads while the folds go on (no money moving now, so the sums hold still).
        let reads = async {
            for _ in 0..5 {
                reads_match_entries(store, &wallet).await;
            }
        };
        tokio::join!(reads, fold_a_while());
        reads_match_entries(store, &wallet).await;
        assert_verified(store).await;
    }

    /// `verify` folds everything before it checks, while servers fold beside it: when its
    /// fold loses the race to start a batch, it must finish that batch (not stop, leaving it
    /// in flight), so its check never sees a batch half folded. Run in rounds, as it is a race.
    pub async fn check_verify_folds_everything_while_servers_fold(b: &MongoBackend) {
        use escrow::store::mongo::FoldStage;
        let store: &dyn Store = b.store.as_ref();
        let now = JAN_2026_MS;
        let freelancer = UserId::generate();
        let verifier = b.reopen().await.with_fold_batch(2);
        let servers = [
            b.reopen().await.with_fold_batch(2),
            b.reopen().await.with_fold_batch(3),
        ];
        for round in 0..6 {
            for i in 0..4 {
                released(store, &freelancer, 1_000 + i, now + round * 10 + i).await;
            }
            // The servers start batches and die before finishing them, over and over: each
            // start can beat the verifier's, and leaves a batch in flight.
            let fold = join_all(servers.iter().map(|s| async move {
                for _ in 0..40 {
                    s.fold_then_crash(FoldStage::Started).await.unwrap();
                    tokio::task::yield_now().await;
                }
            }));
            let check = async {
                let report = verify(&verifier).await;
                assert!(report.ok(), "round {round}: {report:#?}");
            };
            tokio::join!(fold, check);
        }
    }

    pub async fn check_crash_repair(b: &MongoBackend) {
        let store: &dyn Store = b.store.as_ref();
        let now = JAN_2026_MS;
        let freelancer = UserId::generate();

        // Died after the release's compare-and-set: the entries wait in the contract document
        // until a repair projects them.
        let id = requested(store, &freelancer, 100_000, now).await;
        assert_eq!(
            b.store.repair_projection().await.unwrap(),
            0,
            "a save that did not crash projected its own entries"
        );
        crashed_step(b, &id, |c| c.release("admin:a", None, now + 1)).await;
        assert_eq!(
            b.store.repair_projection().await.unwrap(),
            1,
            "the crashed save left its entries unprojected"
        );
        assert_eq!(store.count_entries().await.unwrap(), 5);

        // The same, then readers: every reader repairs first, and however many repair at once,
        // each entry is counted once.
        let id = requested(store, &freelancer, 100_000, now).await;
        crashed_step(b, &id, |c| c.release("admin:a", None, now + 1)).await;
        assert_eq!(store.entries_for_contract(&id).await.unwrap().len(), 5);
        let wallet = Account::Wallet(freelancer.clone());
        let balances =
            join_all((0..10).map(|_| store.account_balance(&wallet, Currency::Inr))).await;
        assert!(
            balances
                .iter()
                .all(|b| *b.as_ref().unwrap() == m(2 * 90_000)),
            "{balances:?}"
        );
        assert_eq!(store.count_entries().await.unwrap(), 10);
        assert_eq!(
            b.store.repair_projection().await.unwrap(),
            0,
            "nothing left to repair"
        );

        // Died after a refund's compare-and-set: the next save (the provider's settlement)
        // projects what the crashed one left as well as its own entries.
        let id = funded(store, &freelancer, 50_000, now).await;
        crashed_step(b, &id, |c| {
            c.decide_refund("admin:a", Party::Admin, "", "", None, now + 2)
        })
        .await;
        step(store, &id, |c| {
            c.settle_refund(MilestoneId::FIRST, &re("re_1"), "provider", now + 3)
        })
        .await;
        assert_eq!(b.store.repair_projection().await.unwrap(), 0);
        // Fund 2 lines; a refund with no kill fee 3 (the zero wallet line is dropped); settle 2.
        assert_eq!(store.count_entries().await.unwrap(), 10 + 2 + 3 + 2);

        // Died, then the whole server restarted: opening the store repairs before serving.
        let id = requested(store, &freelancer, 10_000, now).await;
        crashed_step(b, &id, |c| c.release("admin:a", None, now + 4)).await;
        let restarted = b.reopen().await;
        assert_eq!(restarted.repair_projection().await.unwrap(), 0);
        let report = verify(&restarted).await;
        assert!(report.ok(), "{:#?}", report.violations);
        assert_eq!(report.counts.entries, 17 + 5);
    }

    fn for_job(freelancer: &UserId, job: &JobId) -> Contract {
        let mut c = new_contract(freelancer, 10_000, JAN_2026_MS);
        c.job_id = job.clone();
        c
    }

    /// `job_claims`: a claim left by a create that died between claiming the job and inserting
    /// its contract is taken over by the next create once its grace period is over; the dead
    /// create, if it resumes after all, withdraws its contract and gets `Duplicate`.
    pub async fn check_stale_claims_are_taken_over(b: &MongoBackend) {
        let store: &dyn Store = b.store.as_ref();
        let freelancer = UserId::generate();

        // Claimed long ago, contract never inserted: the next create takes the job.
        let job = JobId::generate();
        let dead = for_job(&freelancer, &job);
        b.store.claim_job_then_crash(&dead, 0).await.unwrap();
        assert_eq!(store.live_contract_for_job(&job).await.unwrap(), None);
        let next = for_job(&freelancer, &job);
        store.insert_contract(&next).await.unwrap();
        assert_eq!(
            store.live_contract_for_job(&job).await.unwrap(),
            Some(next.clone())
        );
        // The dead create resumes: the job is no longer its own.
        assert!(matches!(
            b.store.resume_insert_after_claim(&dead).await,
            Err(StoreError::Duplicate(_))
        ));
        assert_eq!(store.get_contract(&dead.id).await.unwrap(), None);
        assert_eq!(
            store.live_contract_for_job(&job).await.unwrap(),
            Some(next.clone())
        );
        assert_eq!(store.count_contracts().await.unwrap(), 1);

        // Claimed just now: probably still running, so a second create is a duplicate, until
        // the grace period is over (here: a store without one).
        let job = JobId::generate();
        let slow = for_job(&freelancer, &job);
        let now = chrono::Utc::now().timestamp_millis();
        b.store.claim_job_then_crash(&slow, now).await.unwrap();
        let eager = for_job(&freelancer, &job);
        assert!(matches!(
            store.insert_contract(&eager).await,
            Err(StoreError::Duplicate(_))
        ));
        let impatient = b.reopen().await.with_claim_grace_ms(0);
        impatient.insert_contract(&eager).await.unwrap();
        assert!(matches!(
            b.store.resume_insert_after_claim(&slow).await,
            Err(StoreError::Duplicate(_))
        ));
        assert_eq!(
            store.live_contract_for_job(&job).await.unwrap(),
            Some(eager.clone())
        );
        assert_eq!(store.count_contracts().await.unwrap(), 2);

        // A create that resumes before anybody took its claim over still gets its job.
        let job = JobId::generate();
        let paused = for_job(&freelancer, &job);
        b.store.claim_job_then_crash(&paused, 0).await.unwrap();
        b.store.resume_insert_after_claim(&paused).await.unwrap();
        let late = for_job(&freelancer, &job);
        assert!(matches!(
            impatient.insert_contract(&late).await,
            Err(StoreError::Duplicate(_))
        ));
        assert_eq!(
            store.live_contract_for_job(&job).await.unwrap(),
            Some(paused.clone())
        );
        // Retrying the very same create is a duplicate too, and changes nothing.
        assert!(matches!(
            store.insert_contract(&paused).await,
            Err(StoreError::Duplicate(_))
        ));
        assert_eq!(store.count_contracts().await.unwrap(), 3);
        assert_verified(store).await;
    }

    /// A claim pointing at a canceled contract is free: taken over by one create, even when
    /// many try at once.
    pub async fn check_a_claim_to_a_canceled_contract_is_taken_over(b: &MongoBackend) {
        let store: &dyn Store = b.store.as_ref();
        let freelancer = UserId::generate();
        let job = JobId::generate();
        let first = for_job(&freelancer, &job);
        store.insert_contract(&first).await.unwrap();
        step(store, &first.id, |c| {
            c.move_to(ContractStatus::Canceled, Party::Client, JAN_2026_MS + 1)
                .map(|_| vec![])
        })
        .await;
        assert_eq!(store.live_contract_for_job(&job).await.unwrap(), None);
        let other = b.reopen().await.with_claim_grace_ms(0);
        let other = &other;
        let racers: Vec<Contract> = (0..RACERS).map(|_| for_job(&freelancer, &job)).collect();
        let results = join_all(racers.iter().enumerate().map(|(i, c)| async move {
            if i % 2 == 0 {
                b.store.insert_contract(c).await
            } else {
                other.insert_contract(c).await
            }
        }))
        .await;
        let won: Vec<&Contract> = racers
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .map(|(c, _)| c)
            .collect();
        assert_eq!(won.len(), 1, "{results:?}");
        assert_eq!(
            store.live_contract_for_job(&job).await.unwrap().as_ref(),
            Some(won[0])
        );
        assert_eq!(store.count_contracts().await.unwrap(), 2);
    }

    /// 50 creates for one job at once, from two servers, 20 rounds: exactly one succeeds and
    /// exactly one contract is stored, with the normal grace period and with none (then every
    /// create may take over every claim whose contract is not inserted yet, and the losers of
    /// a takeover must withdraw the contract they inserted).
    pub async fn check_concurrent_creates_give_one_live_contract(b: &MongoBackend) {
        let store: &dyn Store = b.store.as_ref();
        let freelancer = UserId::generate();
        let eager_a = b.reopen().await.with_claim_grace_ms(0);
        let eager_b = b.reopen().await.with_claim_grace_ms(0);
        let patient = b.reopen().await;
        for round in 0..RACE_ROUNDS {
            let eager = round % 2 == 1;
            let job = JobId::generate();
            let before = store.count_contracts().await.unwrap();
            let racers: Vec<Contract> = (0..RACERS).map(|_| for_job(&freelancer, &job)).collect();
            let barrier = Barrier::new(RACERS);
            let results = join_all(racers.iter().enumerate().map(|(i, c)| {
                let s: &dyn Store = match (eager, i % 2) {
                    (true, 0) => &eager_a,
                    (true, _) => &eager_b,
                    (false, 0) => &patient,
                    (false, _) => b.store.as_ref(),
                };
                let barrier = &barrier;
                async move {
                    barrier.wait().await;
                    s.insert_contract(c).await
                }
            }))
            .await;
            let won: Vec<&Contract> = racers
                .iter()
                .zip(&results)
                .filter(|(_, r)| r.is_ok())
                .map(|(c, _)| c)
                .collect();
            assert_eq!(won.len(), 1, "round {round} (eager {eager}): {results:?}");
            assert!(
                results.iter().all(|r| matches!(
                    r,
                    Ok(()) | Err(StoreError::Duplicate(_)) | Err(StoreError::Conflict)
                )),
                "{results:?}"
            );
            assert_eq!(
                store.live_contract_for_job(&job).await.unwrap().as_ref(),
                Some(won[0])
            );
            assert_eq!(
                store.count_contracts().await.unwrap(),
                before + 1,
                "round {round} (eager {eager}): the losers left no contract behind"
            );
        }
    }

    pub async fn check_reopen(b: &MongoBackend) {
        let store: &dyn Store = b.store.as_ref();
        store.ping().await.unwrap();
        assert_eq!(store.backend(), "mongodb");
        // The deployment kind is only logged (nx-27017 answers `hello` as a standalone server;
        // parsing `hello` is unit-tested in the backend).
        assert!(!b.store.deployment().describe().is_empty());
        let freelancer = UserId::generate();
        let id = released(store, &freelancer, 10_000, JAN_2026_MS).await;
        // Creating the indexes again at a second start is a no-op, and they still hold.
        let again = b.reopen().await;
        let c = load(&again, &id).await;
        let mut twin = new_contract(&freelancer, 10_000, JAN_2026_MS);
        twin.job_id = c.job_id.clone();
        assert!(matches!(
            again.insert_contract(&twin).await,
            Err(StoreError::Duplicate(_))
        ));
        assert!(matches!(
            escrow::store::mongo::MongoStore::open(&b.uri, "bad.name", false).await,
            Err(StoreError::Other { .. })
        ));
    }
}

/// The numbers behind the "CON…" contract ids: 40 taken at once are 40 different numbers, and
/// the counter goes on from there.
pub async fn check_contract_numbers_are_never_given_twice(store: &dyn Store) {
    let taken = futures_util::future::join_all((0..40).map(|_| store.next_contract_number())).await;
    let mut numbers: Vec<u64> = taken.into_iter().map(|n| n.unwrap()).collect();
    numbers.sort_unstable();
    let distinct: std::collections::BTreeSet<u64> = numbers.iter().copied().collect();
    assert_eq!(distinct.len(), 40, "{numbers:?}");
    assert!(numbers[0] >= 1);
    let next = store.next_contract_number().await.unwrap();
    assert!(next > *numbers.last().unwrap(), "{next} after {numbers:?}");
}

/// A contract is found by its number (the human id "CON…" carries it), after saves too; a
/// number no contract has, and a contract made before numbers, find nothing.
pub async fn check_a_contract_is_found_by_its_number(store: &dyn Store) {
    let freelancer = UserId::generate();
    let mut numbered = new_contract(&freelancer, 1_000, 1);
    numbered.number = Some(store.next_contract_number().await.unwrap());
    let unnumbered = new_contract(&freelancer, 1_000, 2);
    store.insert_contract(&numbered).await.unwrap();
    store.insert_contract(&unnumbered).await.unwrap();
    let n = numbered.number.unwrap();
    assert_eq!(
        store.contract_by_number(n).await.unwrap(),
        Some(numbered.id.clone())
    );
    step(store, &numbered.id, |c| c.approve(3).map(|_| vec![])).await;
    assert_eq!(
        store.contract_by_number(n).await.unwrap(),
        Some(numbered.id.clone())
    );
    assert_eq!(store.contract_by_number(n + 1).await.unwrap(), None);
    assert_eq!(store.contract_by_number(u64::MAX).await.unwrap(), None);
}

/// The sales report over any range (whole months, days cutting a month, an empty one, open
/// ends) is what its release entries sum to: a store that keeps monthly rollups reads whole
/// months from them and the cut ones from the entries, and the two must never differ.
pub async fn check_the_sales_report_over_any_range_sums_its_releases(store: &dyn Store) {
    const DAY: i64 = 86_400_000;
    let jan = JAN_2026_MS;
    let feb = jan + 31 * DAY;
    let mar = feb + 28 * DAY;
    let apr = mar + 31 * DAY;
    let freelancer = UserId::generate();
    let times = [
        jan + 2 * DAY,
        jan + 19 * DAY,
        feb,
        feb + 13 * DAY,
        apr - 1,
        apr + DAY,
    ];
    for (i, at) in times.iter().enumerate() {
        released(store, &freelancer, 10_000 + 1_111 * i as i64, *at).await;
    }
    // A refund in the middle is not a sale.
    let refunded = funded(store, &freelancer, 5_000, feb + 2 * DAY).await;
    step(store, &refunded, |c| {
        c.decide_refund("admin:a", Party::Admin, "", "", None, feb + 3 * DAY)
    })
    .await;
    let mut entries = vec![];
    let mut after: Option<String> = None;
    loop {
        let batch = store.entries_after(after.as_deref(), 50).await.unwrap();
        let Some(last) = batch.last() else { break };
        after = Some(last.id.clone());
        entries.extend(batch);
    }
    let expected = |from: Option<i64>, to: Option<i64>| {
        let mut months: std::collections::BTreeMap<String, (i64, i64, i64, BTreeSet<ContractId>)> =
            Default::default();
        for e in entries.iter().filter(|e| {
            e.kind == TransferKind::Release
                && from.is_none_or(|f| e.at >= f)
                && to.is_none_or(|t| e.at < t)
        }) {
            let m = months
                .entry(escrow::domain::ledger::KeptMonth::month_of(e.at))
                .or_default();
            match e.account {
                Account::Escrow(_) => {
                    m.0 -= e.amount.get();
                    m.3.insert(
                        e.owner
                            .contract()
                            .expect("a release belongs to a contract")
                            .clone(),
                    );
                }
                Account::PlatformFees => m.1 += e.amount.get(),
                Account::Wallet(_) => m.2 += e.amount.get(),
                _ => {}
            }
        }
        months
            .into_iter()
            .map(|(month, (g, f, w, c))| (month, g, f, w, c.len() as i64))
            .collect::<Vec<_>>()
    };
    let ranges = [
        (None, None),
        (Some(jan + 9 * DAY), Some(feb + 14 * DAY)),
        (Some(feb), Some(mar)),
        (Some(jan + 20 * DAY), Some(jan + 25 * DAY)),
        (Some(feb), Some(apr)),
        (Some(apr - 1), Some(apr + 2 * DAY)),
        (Some(feb + 1), None),
        (None, Some(feb)),
        (Some(jan), Some(apr + 10 * DAY)),
    ];
    for (from, to) in ranges {
        let got: Vec<_> = store
            .sales_by_month(Currency::Inr, from, to)
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    r.month,
                    r.gross.get(),
                    r.platform_fee.get(),
                    r.freelancer_earning.get(),
                    r.count,
                )
            })
            .collect();
        assert_eq!(got, expected(from, to), "range {from:?}..{to:?}");
    }
    assert_eq!(expected(None, None).len(), 4, "January to April");
    assert_verified(store).await;
}
