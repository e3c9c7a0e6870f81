//! `payouts list | show | create | retry` and the payouts in flight of `wallet show`, the real
//! binary against a store where a freelancer earned and onboarded on the sandbox.

use escrow::auth::{Principal, Role};
use escrow::domain::{Currency, MinorUnits, Payout, PayoutId, UserId};
use escrow::service::{Caller, UseCase};
use escrow::store::Debit;
use serde_json::{Value, json};

use crate::helpers::Fixture;

/// A freelancer with 900.00 released to the wallet and a connected account that takes
/// payouts (onboarded as the sandbox's button does: the signed `account.updated` the server
/// would send itself).
async fn onboarded(f: &Fixture) -> UserId {
    let freelancer = UserId::generate();
    let d = f.requested_for(&freelancer, "1000").await;
    f.ctl(&["escrow", "release", &d.contract, "--yes"])
        .await
        .assert_code(0);
    let me = Caller::User(Principal {
        id: freelancer.clone(),
        role: Role::Freelancer,
    });
    let permit = f
        .service
        .permit(&me, UseCase::Payouts { owner: &freelancer })
        .unwrap();
    let started = f.service.onboard(permit).await.expect("onboarding");
    let done = f
        .service
        .sandbox_onboarding(&started.account_id)
        .await
        .expect("the sandbox's button");
    f.service
        .handle_connect_webhook(done.body.as_bytes(), Some(&done.signature))
        .await
        .expect("account.updated applied");
    freelancer
}

/// A payout debited and left pending (its transfer not sent), as a crash or an outage leaves it.
async fn pending(f: &Fixture, user: &UserId, minor: i64) -> Payout {
    let p = Payout::requested(
        PayoutId::generate(),
        user.clone(),
        MinorUnits::new(minor),
        Currency::Inr,
        "acct_sandbox_x".into(),
        f.service.now_ms(),
    );
    match f
        .service
        .store()
        .debit_payout(&p, None, f.service.now_ms())
        .await
        .unwrap()
    {
        Debit::Done(p) => *p,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_admin_pays_out_a_wallet_and_lists_shows_and_retries_payouts() {
    let f = Fixture::new().await;
    let user = onboarded(&f).await;
    let u = user.to_string();

    // Without --yes and without a terminal, nothing moves.
    let r = f.ctl(&["--json", "payouts", "create", "--user", &u]).await;
    r.assert_code(2);
    let err: Value = serde_json::from_str(r.error_line()).unwrap();
    assert_eq!(err["code"], "confirmation.required");
    assert_eq!(f.wallet_balance(&user).await, 90_000);

    // Over the balance: refused with its code, nothing moves.
    let r = f
        .ctl(&[
            "--json", "payouts", "create", "--user", &u, "--amount", "900.01", "--yes",
        ])
        .await;
    assert_ne!(r.code, 0);
    let err: Value = serde_json::from_str(r.error_line()).unwrap();
    assert_eq!(err["code"], "payout.insufficient_balance");

    let r = f
        .ctl(&[
            "--json", "payouts", "create", "--user", &u, "--amount", "250.50", "--yes",
        ])
        .await;
    r.assert_code(0);
    let paid = r.json();
    assert_eq!(paid["status"], json!("paid"), "{paid}");
    assert!(
        paid["history"][0]["actor"]
            .as_str()
            .unwrap()
            .starts_with("cli:")
    );
    assert_eq!(f.wallet_balance(&user).await, 64_950);
    let id = paid["id"].as_str().unwrap().to_string();

    // A payout in flight shows in the wallet.
    let flying = pending(&f, &user, 10_000).await;
    let r = f.ctl(&["--json", "wallet", "show", &u]).await;
    r.assert_code(0);
    let w = r.json();
    assert_eq!(w["balance"], json!(549.5), "{w}");
    assert_eq!(w["payoutsInFlight"].as_array().unwrap().len(), 1, "{w}");
    assert_eq!(w["payoutsInFlight"][0]["id"], json!(flying.id.to_string()));
    let table = f.ctl(&["wallet", "show", &u]).await;
    table.assert_code(0);
    assert!(
        table.stdout.contains("Payouts in flight"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains(flying.id.as_str()),
        "{}",
        table.stdout
    );

    // Lists by user and status; show.
    let all = f.ctl(&["--json", "payouts", "list", "--user", &u]).await;
    all.assert_code(0);
    assert_eq!(all.json()["count"], json!(2));
    let only_paid = f
        .ctl(&["--json", "payouts", "list", "--status", "paid"])
        .await;
    assert_eq!(only_paid.json()["data"][0]["id"], json!(id));
    let shown = f.ctl(&["payouts", "show", &id]).await;
    shown.assert_code(0);
    assert!(
        shown.stdout.contains("paid") && shown.stdout.contains("250.50"),
        "{}",
        shown.stdout
    );
    f.ctl(&["payouts", "show", "nope"]).await.assert_code(2);

    // Retry: only a failed payout; a failed one is debited again and sent.
    let r = f.ctl(&["--json", "payouts", "retry", &id, "--yes"]).await;
    assert_ne!(r.code, 0);
    let err: Value = serde_json::from_str(r.error_line()).unwrap();
    assert_eq!(err["code"], "payout.wrong_state");
    let store = f.service.store();
    let mut failed = store.get_payout(&flying.id).await.unwrap().unwrap();
    let expected = failed.version;
    let back = failed.failed("account closed", f.service.now_ms()).unwrap();
    failed.version = expected + 1;
    let entries: Vec<_> = back.iter().flat_map(|t| t.entries()).collect();
    store
        .save_payout(&failed, expected, &entries)
        .await
        .unwrap();
    assert_eq!(f.wallet_balance(&user).await, 64_950);
    let r = f
        .ctl(&["--json", "payouts", "retry", flying.id.as_str()])
        .await;
    r.assert_code(2);
    let r = f
        .ctl(&["--json", "payouts", "retry", flying.id.as_str(), "--yes"])
        .await;
    r.assert_code(0);
    let retried = r.json();
    assert_eq!(
        (retried["status"].clone(), retried["attempt"].clone()),
        (json!("paid"), json!(2))
    );
    assert_eq!(f.wallet_balance(&user).await, 54_950);
    f.ctl(&["verify"]).await.assert_code(0);
}

/// The same withdrawal against the fake Stripe: the binary, as an admin, sends the wallet of a
/// freelancer who onboarded at Stripe; one transfer is made, under the payout's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_pays_out_a_wallet_through_stripe() {
    let stripe = crate::fake_stripe::FakeStripe::start().await;
    let f = Fixture::with(&[
        ("STRIPE_SECRET_KEY", crate::fake_stripe::SECRET_KEY),
        ("STRIPE_API_BASE", &stripe.base),
        ("STRIPE_TIMEOUT_S", "2"),
        ("STRIPE_CONNECT_WEBHOOK_SECRET", "whsec_cli_connect"),
    ])
    .await;
    let freelancer = UserId::generate();
    let d = f.requested_for(&freelancer, "1000").await;
    f.ctl(&["escrow", "release", &d.contract, "--yes"])
        .await
        .assert_code(0);
    let me = Caller::User(Principal {
        id: freelancer.clone(),
        role: Role::Freelancer,
    });
    let permit = f
        .service
        .permit(&me, UseCase::Payouts { owner: &freelancer })
        .unwrap();
    let started = f
        .service
        .onboard(permit)
        .await
        .expect("onboarding at Stripe");
    assert!(
        started.url.starts_with("https://connect.stripe.com/"),
        "{started:?}"
    );
    stripe.enable_account(&started.account_id);
    let body = crate::support::stripe::account_updated(
        "evt_cli_acct",
        &started.account_id,
        true,
        &[],
        chrono::Utc::now().timestamp(),
    );
    f.service
        .handle_connect_webhook(
            body.as_bytes(),
            Some(&crate::support::stripe::signature(
                &body,
                "whsec_cli_connect",
            )),
        )
        .await
        .expect("account.updated applied");

    let r = f
        .ctl(&[
            "--json",
            "payouts",
            "create",
            "--user",
            freelancer.as_str(),
            "--yes",
        ])
        .await;
    r.assert_code(0);
    let paid = r.json();
    assert_eq!(paid["status"], json!("paid"), "{paid}");
    let transfers = stripe.requests_to("/v1/transfers");
    assert_eq!(transfers.len(), 1);
    let id = paid["id"].as_str().unwrap();
    assert_eq!(
        transfers[0].idempotency_key.as_deref(),
        Some(format!("payout-{id}").as_str())
    );
    assert_eq!(transfers[0].get("amount"), Some("90000"));
    assert_eq!(paid["transferId"], stripe.transfers()[0]["id"]);
    assert_eq!(f.wallet_balance(&freelancer).await, 0);
    f.ctl(&["verify"]).await.assert_code(0);
}

#[tokio::test]
async fn timers_list_shows_what_is_scheduled_and_what_is_due() {
    use escrow::domain::{Timer, TimerKind};
    let f = Fixture::new().await;
    let now = f.service.now_ms();
    let store = f.service.store();
    store
        .schedule_timer(&Timer::new(
            TimerKind::ReleasePayout,
            "aaaaaaaaaaaaaaaaaaaaaaaa",
            now - 1_000,
            now,
        ))
        .await
        .unwrap();
    store
        .schedule_timer(&Timer::new(
            TimerKind::ReleasePayout,
            "bbbbbbbbbbbbbbbbbbbbbbbb",
            now + 3_600_000,
            now,
        ))
        .await
        .unwrap();
    let all = f.ctl(&["--json", "timers", "list"]).await;
    all.assert_code(0);
    let v = all.json();
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{v}");
    assert_eq!(
        data[0]["id"],
        json!("release_payout:aaaaaaaaaaaaaaaaaaaaaaaa")
    );
    assert_eq!(
        (data[0]["due"].clone(), data[1]["due"].clone()),
        (json!(true), json!(false))
    );
    let due = f.ctl(&["--json", "timers", "list", "--due"]).await;
    assert_eq!(due.json()["data"].as_array().unwrap().len(), 1);
    let table = f.ctl(&["timers", "list"]).await;
    table.assert_code(0);
    assert!(
        table
            .stdout
            .contains("release_payout:aaaaaaaaaaaaaaaaaaaaaaaa")
            && table.stdout.contains("(due)"),
        "{}",
        table.stdout
    );
    f.ctl(&["timers", "list", "--limit", "0"])
        .await
        .assert_code(2);
}
