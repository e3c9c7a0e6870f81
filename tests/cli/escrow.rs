//! `escrow list | show | release | refund`, their confirmation, audit and exit codes.

use escrow::service::escrow::PlanAction;
use serde_json::{Value, json};

use crate::helpers::Fixture;
use crate::support::money::minor;

#[tokio::test]
async fn escrow_list_json_lists_funded_escrows_newest_first_in_exact_rupees() {
    let f = Fixture::new().await;
    let _unpaid = f.approved("300").await;
    let first = f.funded("1000").await;
    let second = f.requested("250.50").await;
    let run = f.ctl(&["--json", "escrow", "list"]).await;
    let r = run.assert_code(0);
    // Rupees, written exactly from the paise: 25050 is 250.5, 10000 is 100.
    for exact in [
        r#""amount": 250.5,"#,
        r#""platformFee": 25.05,"#,
        r#""freelancerEarning": 225.45,"#,
        r#""amount": 1000,"#,
    ] {
        assert!(r.stdout.contains(exact), "{exact} in {}", r.stdout);
    }
    let v = r.json();
    assert_eq!(v["count"], 2, "{v}");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data[0]["contractId"], second.contract.as_str());
    assert_eq!(minor(&data[0]["amount"]), 25_050);
    assert_eq!(data[0]["releaseRequested"], true);
    assert_eq!(data[1]["contractId"], first.contract.as_str());
    assert_eq!(minor(&data[1]["amount"]), 100_000);
    assert_eq!(minor(&data[1]["platformFee"]), 10_000);
    assert_eq!(minor(&data[1]["freelancerEarning"]), 90_000);
    assert_eq!(data[1]["currency"], "inr");
    assert_eq!(data[1]["status"], "funded");
}

#[tokio::test]
async fn escrow_list_filters_by_release_request_and_by_status() {
    let f = Fixture::new().await;
    let funded = f.funded("1000").await;
    let requested = f.requested("2000").await;
    let v = f
        .ctl(&["escrow", "list", "--release-requested", "--json"])
        .await
        .assert_code(0)
        .json();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["contractId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![requested.contract.as_str()]);
    f.ctl(&["escrow", "release", &requested.contract, "--yes"])
        .await
        .assert_code(0);
    let v = f
        .ctl(&["--json", "escrow", "list", "--status", "released"])
        .await
        .json();
    assert_eq!(v["count"], 1);
    assert_eq!(v["data"][0]["contractId"], requested.contract.as_str());
    let v = f
        .ctl(&[
            "--json", "escrow", "list", "--status", "funded", "--limit", "1",
        ])
        .await
        .json();
    assert_eq!(v["data"][0]["contractId"], funded.contract.as_str());
    assert_eq!(v["limit"], 1);
}

/// `--after` follows the `next` cursor --json prints, to the end, without a row twice; the
/// table says how to ask for the next page; a forged cursor, or one with --page, exits 2.
#[tokio::test]
async fn escrow_list_follows_its_next_cursor_with_after() {
    let f = Fixture::new().await;
    for amount in ["1000", "2000", "3000"] {
        f.funded(amount).await;
    }
    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["contractId"].as_str().unwrap().to_string())
            .collect()
    };
    let whole = f
        .ctl(&["--json", "escrow", "list", "--limit", "100"])
        .await
        .assert_code(0)
        .json();
    assert_eq!(whole["count"], 3);
    assert_eq!(whole["next"], Value::Null);
    let first = f
        .ctl(&["--json", "escrow", "list", "--limit", "2"])
        .await
        .assert_code(0)
        .json();
    let cursor = first["next"].as_str().unwrap().to_string();
    let second = f
        .ctl(&[
            "--json", "escrow", "list", "--limit", "2", "--after", &cursor,
        ])
        .await
        .assert_code(0)
        .json();
    assert!(second.get("count").is_none(), "{second}");
    assert_eq!(second["next"], Value::Null);
    let mut walked = ids(&first);
    walked.extend(ids(&second));
    assert_eq!(walked, ids(&whole));

    let table = f.ctl(&["escrow", "list", "--limit", "2"]).await;
    table.assert_code(0);
    assert!(
        table.stdout.contains(&format!("more: --after {cursor}")),
        "{}",
        table.stdout
    );
    for bad in [
        vec!["escrow", "list", "--after", "not-a-cursor"],
        vec!["escrow", "list", "--after", &cursor, "--page", "2"],
        vec!["webhooks", "list", "--after", "%%"],
    ] {
        f.ctl(&bad).await.assert_code(2);
    }
}

#[tokio::test]
async fn escrow_list_table_shows_rupees_with_two_decimals() {
    let f = Fixture::new().await;
    let d = f.requested("1000").await;
    let r = f.ctl(&["escrow", "list"]).await;
    r.assert_code(0);
    assert!(r.stdout.contains(&d.contract), "{}", r.stdout);
    for value in ["1000.00", "100.00", "900.00", "funded", "amounts in INR"] {
        assert!(r.stdout.contains(value), "{value} missing:\n{}", r.stdout);
    }
    assert!(r.stdout.contains("1 of 1 escrows"), "{}", r.stdout);
    assert!(!r.stdout.contains("100000"), "paise leaked into the table");
}

#[tokio::test]
async fn escrow_show_json_is_the_contract_with_escrow_history_and_ledger() {
    let f = Fixture::new().await;
    let d = f.requested("1000").await;
    let v = f
        .ctl(&["--json", "escrow", "show", &d.contract])
        .await
        .assert_code(0)
        .json();
    assert_eq!(v["contract"]["id"], d.contract.as_str());
    assert_eq!(v["contract"]["status"], "Completed");
    assert_eq!(v["contract"]["releaseFundStatus"], "Requested");
    assert_eq!(minor(&v["escrow"]["amount"]), 100_000);
    assert_eq!(v["escrow"]["history"][0]["action"], "funded");
    let ledger = v["ledger"].as_array().unwrap();
    assert_eq!(ledger.len(), 2, "{v}");
    let sum: i64 = ledger.iter().map(|e| minor(&e["amount"])).sum();
    assert_eq!(sum, 0);
    assert!(ledger.iter().any(
        |e| e["account"] == format!("escrow:{}", d.contract) && minor(&e["amount"]) == 100_000
    ));
    // The human id the contract shows names it too.
    let human = v["contract"]["contractId"].as_str().unwrap().to_string();
    assert!(human.starts_with("CON"), "{v}");
    let by_human = f
        .ctl(&["--json", "escrow", "show", &human])
        .await
        .assert_code(0)
        .json();
    assert_eq!(by_human, v);
}

#[tokio::test]
async fn escrow_show_table_shows_who_did_what_and_the_ledger_in_rupees() {
    let f = Fixture::new().await;
    let d = f.requested("1000").await;
    f.ctl(&[
        "escrow",
        "release",
        &d.contract,
        "--yes",
        "--actor",
        "ops:alice",
    ])
    .await
    .assert_code(0);
    let r = f.ctl(&["escrow", "show", &d.contract]).await;
    r.assert_code(0);
    for value in [
        "History",
        "released",
        "ops:alice",
        "Ledger",
        &format!("wallet:{}", d.freelancer),
        "platform:fees",
        "-1000.00",
        "900.00",
        "100.00",
    ] {
        assert!(r.stdout.contains(value), "{value} missing:\n{}", r.stdout);
    }
}

#[tokio::test]
async fn release_with_yes_pays_the_wallet_and_records_the_actor() {
    let f = Fixture::new().await;
    let d = f.requested("1000").await;
    let v = f
        .ctl(&[
            "--json",
            "escrow",
            "release",
            &d.contract,
            "--yes",
            "--actor",
            "ops:alice",
        ])
        .await
        .assert_code(0)
        .json();
    assert_eq!(v["status"], "released");
    assert_eq!(minor(&v["freelancerEarning"]), 90_000);
    let last = v["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "released");
    assert_eq!(last["actor"], "ops:alice");
    assert_eq!(f.wallet_balance(&d.freelancer).await, 90_000);
    assert_eq!(f.escrow_status(&d).await, "released");
}

#[tokio::test]
async fn the_default_actor_is_the_os_user_at_the_host() {
    let f = Fixture::new().await;
    let d = f.requested("1000").await;
    let v = f
        .ctl_env(
            &["--json", "escrow", "release", &d.contract, "--yes"],
            &[("USER", "tester"), ("HOSTNAME", "adminbox")],
        )
        .await
        .assert_code(0)
        .json();
    let last = v["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["actor"], "cli:tester@adminbox");
}

#[tokio::test]
async fn releasing_twice_exits_4_and_pays_once() {
    let f = Fixture::new().await;
    let d = f.requested("1000").await;
    f.ctl(&["escrow", "release", &d.contract, "--yes"])
        .await
        .assert_code(0);
    let r = f.ctl(&["escrow", "release", &d.contract, "--yes"]).await;
    r.assert_code(4);
    let line = r.error_line();
    assert!(line.contains("already released"), "{line}");
    assert!(line.contains("escrow.wrong_state"), "{line}");
    assert!(r.stdout.is_empty());
    assert_eq!(f.wallet_balance(&d.freelancer).await, 90_000);
}

#[tokio::test]
async fn an_unrequested_release_needs_force_with_a_reason_which_is_recorded() {
    let f = Fixture::new().await;
    let d = f.funded("1000").await;
    let r = f.ctl(&["escrow", "release", &d.contract, "--yes"]).await;
    r.assert_code(4);
    assert!(r.error_line().contains("not requested"), "{}", r.stderr);
    // --force without --reason is a usage error from the argument parser.
    f.ctl(&["escrow", "release", &d.contract, "--force", "--yes"])
        .await
        .assert_code(2);
    assert_eq!(f.escrow_status(&d).await, "funded");
    let v = f
        .ctl(&[
            "--json",
            "escrow",
            "release",
            &d.contract,
            "--force",
            "--reason",
            "client gone for 30 days",
            "--yes",
            "--actor",
            "ops:bob",
        ])
        .await
        .assert_code(0)
        .json();
    let last = v["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["actor"], "ops:bob");
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .contains("client gone for 30 days"),
        "{last}"
    );
}

#[tokio::test]
async fn release_without_yes_is_refused_with_exit_2_when_stdin_is_not_a_terminal() {
    let f = Fixture::new().await;
    let d = f.requested("1000").await;
    let before = f.version(&d).await;
    let r = f.ctl(&["escrow", "release", &d.contract]).await;
    r.assert_code(2);
    let line = r.error_line();
    assert!(line.contains("--yes"), "{line}");
    assert!(line.contains("not a terminal"), "{line}");
    assert!(r.stdout.is_empty());
    assert_eq!(f.escrow_status(&d).await, "funded");
    assert_eq!(f.version(&d).await, before, "the record was written");
    assert_eq!(f.wallet_balance(&d.freelancer).await, 0);
}

#[tokio::test]
async fn at_a_terminal_the_plan_is_shown_and_only_yes_moves_money() {
    let f = Fixture::new().await;
    let d = f.requested("1000").await;
    let before = f.version(&d).await;
    let Some(no) = f
        .ctl_at_terminal(
            &["escrow", "release", &d.contract, "--actor", "ops:erin"],
            "n",
        )
        .await
    else {
        eprintln!("skipped: no util-linux `script` to give escrowctl a terminal");
        return;
    };
    // `script` merges the terminal's output into its stdout.
    no.assert_code(1);
    for shown in [
        "Out of escrow",
        "1000.00 INR",
        "900.00 INR",
        &d.freelancer.to_string(),
    ] {
        assert!(
            no.stdout.contains(shown),
            "{shown} not shown:\n{}",
            no.stdout
        );
    }
    assert!(no.stdout.contains("confirmation.declined"), "{}", no.stdout);
    assert_eq!(f.version(&d).await, before);
    assert_eq!(f.wallet_balance(&d.freelancer).await, 0);

    let yes = f
        .ctl_at_terminal(
            &["escrow", "release", &d.contract, "--actor", "ops:erin"],
            "y",
        )
        .await
        .expect("script ran once already");
    yes.assert_code(0);
    assert!(yes.stdout.contains("Released contract"), "{}", yes.stdout);
    assert_eq!(f.wallet_balance(&d.freelancer).await, 90_000);

    // A refund shows its split before the question.
    let r = f.funded("1000").await;
    let no = f
        .ctl_at_terminal(
            &[
                "escrow",
                "refund",
                &r.contract,
                "--reason",
                "dispute",
                "--freelancer-share",
                "100",
            ],
            "n",
        )
        .await
        .expect("script ran already");
    no.assert_code(1);
    for shown in ["Back to client", "800.00 INR", "100.00 INR", "explicit"] {
        assert!(
            no.stdout.contains(shown),
            "{shown} not shown:\n{}",
            no.stdout
        );
    }
    assert_eq!(f.escrow_status(&r).await, "funded");
}

#[tokio::test]
async fn refund_without_yes_is_refused_with_exit_2_when_stdin_is_not_a_terminal() {
    let f = Fixture::new().await;
    let d = f.funded("1000").await;
    let before = f.version(&d).await;
    let r = f
        .ctl(&[
            "--json",
            "escrow",
            "refund",
            &d.contract,
            "--reason",
            "no reply",
        ])
        .await;
    r.assert_code(2);
    let err: Value = serde_json::from_str(r.error_line()).expect("a JSON error line");
    assert_eq!(err["code"], "confirmation.required");
    assert!(r.stdout.is_empty());
    assert_eq!(f.version(&d).await, before);
    assert_eq!(f.escrow_status(&d).await, "funded");
}

#[tokio::test]
async fn refund_with_an_explicit_share_in_rupees_splits_as_asked() {
    let f = Fixture::new().await;
    let d = f.funded("1000").await;
    let v = f
        .ctl(&[
            "--json",
            "escrow",
            "refund",
            &d.contract,
            "--reason",
            "dispute",
            "--description",
            "half delivered",
            "--freelancer-share",
            "450.50",
            "--yes",
            "--actor",
            "ops:carol",
        ])
        .await
        .assert_code(0)
        .json();
    assert_eq!(v["status"], "refunded", "{v}");
    assert_eq!(minor(&v["refund"]["freelancerShare"]), 45_050);
    assert_eq!(minor(&v["refund"]["clientShare"]), 90_000 - 45_050);
    assert_eq!(minor(&v["refund"]["platformFee"]), 10_000);
    assert_eq!(v["refund"]["explicit"], true);
    let decided = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["action"] == "refund_decided")
        .expect("refund in the history")
        .clone();
    assert_eq!(decided["actor"], "ops:carol");
    assert!(decided["detail"].as_str().unwrap().contains("dispute"));
    assert_eq!(f.wallet_balance(&d.freelancer).await, 45_050);
    let c = f.contract(&d).await;
    assert_eq!(c.cancel_reason, "dispute");
    assert_eq!(c.cancel_reason_description, "half delivered");
}

#[tokio::test]
async fn a_zero_share_sends_the_whole_earning_back_to_the_client() {
    let f = Fixture::new().await;
    let d = f.funded("1000").await;
    let r = f
        .ctl(&[
            "escrow",
            "refund",
            &d.contract,
            "--reason",
            "fraud",
            "--freelancer-share",
            "0",
            "--yes",
        ])
        .await;
    r.assert_code(0);
    assert!(r.stdout.contains("900.00 INR"), "{}", r.stdout);
    let c = f.contract(&d).await;
    let split = c.escrow().unwrap().refund.unwrap();
    assert_eq!(
        (split.freelancer_share.get(), split.client_share.get()),
        (0, 90_000)
    );
    assert_eq!(f.wallet_balance(&d.freelancer).await, 0);
}

#[tokio::test]
async fn bad_shares_exit_2_and_move_nothing() {
    let f = Fixture::new().await;
    let d = f.funded("1000").await;
    let before = f.version(&d).await;
    for share in ["-1", "12.345", "abc", "900.01"] {
        let r = f
            .ctl(&[
                "escrow",
                "refund",
                &d.contract,
                "--reason",
                "x",
                "--freelancer-share",
                share,
                "--yes",
            ])
            .await;
        r.assert_code(2);
        r.error_line();
    }
    assert_eq!(f.version(&d).await, before);
}

#[tokio::test]
async fn refunding_a_completed_contract_exits_4() {
    let f = Fixture::new().await;
    let d = f.requested("1000").await;
    let r = f
        .ctl(&["escrow", "refund", &d.contract, "--reason", "late", "--yes"])
        .await;
    r.assert_code(4);
    assert!(r.error_line().contains("completed"), "{}", r.stderr);
    assert_eq!(f.escrow_status(&d).await, "funded");
}

#[tokio::test]
async fn an_unknown_contract_exits_3_and_a_malformed_id_exits_2() {
    let f = Fixture::new().await;
    let unknown = escrow::domain::ContractId::generate().to_string();
    for args in [
        vec!["escrow", "show", unknown.as_str()],
        vec!["escrow", "release", unknown.as_str(), "--yes"],
        vec![
            "escrow",
            "refund",
            unknown.as_str(),
            "--reason",
            "x",
            "--yes",
        ],
        vec!["escrow", "release", unknown.as_str()],
        vec!["reviews", "list", "--contract", unknown.as_str()],
        vec!["escrow", "show", "CON99999999"],
        vec!["escrow", "release", "CON99999999", "--yes"],
    ] {
        let r = f.ctl(&args).await;
        r.assert_code(3);
        assert!(
            r.error_line().contains("not found"),
            "{args:?}: {}",
            r.stderr
        );
    }
    let r = f.ctl(&["escrow", "show", "not-an-id"]).await;
    r.assert_code(2);
    assert!(
        r.error_line().contains("24-character hex id"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn a_refund_the_payment_provider_cannot_take_exits_5_and_stays_owed() {
    let f = Fixture::new().await;
    let d = f.funded("1000").await;
    // A Stripe API base where nothing listens: the provider cannot be reached.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let r = f
        .ctl_env(
            &[
                "escrow",
                "refund",
                &d.contract,
                "--reason",
                "no reply",
                "--yes",
            ],
            &[
                ("STRIPE_SECRET_KEY", "sk_test_cli"),
                ("STRIPE_API_BASE", base.as_str()),
                ("STRIPE_TIMEOUT_S", "5"),
            ],
        )
        .await;
    r.assert_code(5);
    assert!(r.error_line().contains("payment"), "{}", r.stderr);
    // The decision is booked and waits for the provider; the recovery step finishes it.
    assert_eq!(f.escrow_status(&d).await, "refund_pending");
    assert_eq!(
        f.service.recover_provider_work().await.unwrap(),
        (1, 0),
        "the sandbox of the fixture settles what the CLI could not"
    );
    assert_eq!(f.escrow_status(&d).await, "refunded");
}

#[tokio::test]
async fn the_plan_shown_before_a_refund_is_what_the_refund_then_does_and_writes_nothing() {
    let f = Fixture::new().await;
    let d = f.funded("1000").await;
    f.complete(&d).await;
    // Completed: a refund is refused, by the plan exactly as by the refund.
    let e = f.plan_refund(&d).await.unwrap_err();
    assert_eq!(e.code.as_str(), "escrow.wrong_state");

    let d = f.funded("1000").await;
    let before = f.version(&d).await;
    let plan = f.plan_refund(&d).await.unwrap();
    assert_eq!(f.version(&d).await, before, "planning wrote the record");
    // Pending: the freelancer keeps no kill fee; the client gets the whole earning back.
    assert_eq!(
        (
            plan.amount.get(),
            plan.platform_fee.get(),
            plan.freelancer_share.get(),
            plan.client_share.get()
        ),
        (100_000, 10_000, 0, 90_000)
    );
    let done = f.refund(&d).await.unwrap();
    let split = done.escrow().unwrap().refund.unwrap();
    assert_eq!(
        (split.freelancer_share, split.client_share),
        (plan.freelancer_share, plan.client_share)
    );
}

#[tokio::test]
async fn the_plan_shown_before_a_release_checks_as_the_release_does_and_writes_nothing() {
    let f = Fixture::new().await;
    let funded = f.funded("1000").await;
    let e = f.plan_release(&funded, None).await.unwrap_err();
    assert_eq!(e.code.as_str(), "escrow.wrong_state");
    let e = f.plan_release(&funded, Some("  ")).await.unwrap_err();
    assert_eq!(e.code.as_str(), "validation.reason");
    let forced = f.plan_release(&funded, Some("client gone")).await.unwrap();
    assert_eq!(
        (forced.freelancer_share.get(), forced.client_share.get()),
        (90_000, 0)
    );

    let d = f.requested("1000").await;
    let before = f.version(&d).await;
    let plan = f.plan_release(&d, None).await.unwrap();
    assert_eq!(f.version(&d).await, before, "planning wrote the record");
    assert_eq!(plan.action, PlanAction::Release);
    assert_eq!(plan.freelancer_id, d.freelancer);
    assert_eq!(
        (
            plan.amount.get(),
            plan.platform_fee.get(),
            plan.freelancer_share.get()
        ),
        (100_000, 10_000, 90_000)
    );
    assert_eq!(f.wallet_balance(&d.freelancer).await, 0);
}

#[tokio::test]
async fn escrow_release_milestone_releases_that_milestone_alone() {
    let f = Fixture::new().await;
    let d = f.approved_in_parts(&["1000", "500"]).await;
    f.pay(&d).await;
    // Its client has asked for nothing: only a forced release moves it, and only the one named.
    f.ctl(&[
        "escrow",
        "release",
        &d.contract,
        "--milestone",
        "2",
        "--yes",
    ])
    .await
    .assert_code(4);
    let r = f
        .ctl(&[
            "--json",
            "escrow",
            "release",
            &d.contract,
            "--milestone",
            "2",
            "--force",
            "--reason",
            "delivered by mail",
            "--yes",
            "--actor",
            "ops:alice",
        ])
        .await;
    r.assert_code(0);
    let v = f
        .ctl(&["--json", "escrow", "show", &d.contract])
        .await
        .assert_code(0)
        .json();
    let states: Vec<&str> = v["contract"]["milestones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["funded", "released"], "{v}");
    assert_eq!(f.wallet_balance(&d.freelancer).await, 45_000);
    // Released once; a milestone the contract lacks is not found.
    f.ctl(&[
        "escrow",
        "release",
        &d.contract,
        "--milestone",
        "2",
        "--force",
        "--reason",
        "again",
        "--yes",
    ])
    .await
    .assert_code(4);
    f.ctl(&[
        "escrow",
        "release",
        &d.contract,
        "--milestone",
        "9",
        "--force",
        "--reason",
        "x",
        "--yes",
    ])
    .await
    .assert_code(3);
    f.ctl(&[
        "escrow",
        "release",
        &d.contract,
        "--milestone",
        "0",
        "--yes",
    ])
    .await
    .assert_code(2);
    let table = f.ctl(&["escrow", "show", &d.contract]).await;
    table.assert_code(0);
    assert!(
        table.stdout.contains("Milestones") && table.stdout.contains("released"),
        "{}",
        table.stdout
    );
    f.ctl(&["verify"]).await.assert_code(0);
}

#[tokio::test]
async fn escrow_resolve_splits_a_disputed_escrow_once_and_disputes_list_shows_it() {
    let f = Fixture::new().await;
    let d = f.requested("1000").await;
    let resolve = |client: &'static str, freelancer: &'static str| {
        vec![
            "escrow",
            "resolve",
            d.contract.as_str(),
            "--client-share",
            client,
            "--freelancer-share",
            freelancer,
            "--reason",
            "half of it was stock",
            "--yes",
        ]
    };
    // Nothing is disputed yet: nothing to resolve.
    f.ctl(&resolve("300", "600")).await.assert_code(4);
    f.dispute(&d, "stock logo").await;
    let open = f
        .ctl(&["--json", "disputes", "list", "--open"])
        .await
        .assert_code(0)
        .json();
    assert_eq!(open["data"].as_array().unwrap().len(), 1, "{open}");
    assert_eq!(open["data"][0]["contractId"], json!(d.contract));
    assert_eq!(open["data"][0]["status"], json!("disputed"));
    assert_eq!(open["data"][0]["disputes"][0]["status"], json!("open"));
    let table = f.ctl(&["disputes", "list", "--open"]).await;
    table.assert_code(0);
    assert!(
        table.stdout.contains("stock logo") && table.stdout.contains("awaiting"),
        "{}",
        table.stdout
    );
    // Frozen: a release is refused; a split that does not add up, or a negative share, too.
    f.ctl(&["escrow", "release", &d.contract, "--yes"])
        .await
        .assert_code(4);
    let before = f.version(&d).await;
    f.ctl(&resolve("500", "500")).await.assert_code(2);
    f.ctl(&resolve("-1", "901")).await.assert_code(2);
    assert_eq!(
        f.version(&d).await,
        before,
        "a refused split wrote the record"
    );
    // Without --yes and without a terminal, nothing happens.
    let mut asked = resolve("300", "600");
    asked.pop();
    f.ctl(&asked).await.assert_code(2);
    assert_eq!(f.version(&d).await, before);

    let mut args = vec!["--json"];
    args.extend(resolve("300", "600"));
    args.extend(["--actor", "ops:alice"]);
    let v = f.ctl(&args).await.assert_code(0).json();
    assert_eq!(v["status"], json!("refunded"), "{v}");
    assert_eq!(f.wallet_balance(&d.freelancer).await, 60_000);
    let history = v["history"].as_array().unwrap();
    assert!(
        history
            .iter()
            .any(|h| h["action"] == "dispute_resolved" && h["actor"] == "ops:alice"),
        "{v}"
    );
    // Exactly once.
    f.ctl(&resolve("300", "600")).await.assert_code(4);
    assert_eq!(f.wallet_balance(&d.freelancer).await, 60_000);
    let open = f
        .ctl(&["--json", "disputes", "list", "--open"])
        .await
        .assert_code(0)
        .json();
    assert_eq!(open["data"].as_array().unwrap().len(), 0, "{open}");
    let all = f
        .ctl(&["--json", "disputes", "list"])
        .await
        .assert_code(0)
        .json();
    assert_eq!(all["data"][0]["disputes"][0]["status"], json!("resolved"));
    let shown = f.ctl(&["escrow", "show", &d.contract]).await;
    shown.assert_code(0);
    assert!(shown.stdout.contains("Disputes"), "{}", shown.stdout);
    f.ctl(&["verify"]).await.assert_code(0);
}

#[tokio::test]
async fn refunds_retry_sends_a_failed_refund_again_under_a_new_key() {
    let stripe = crate::fake_stripe::FakeStripe::start().await;
    let f = Fixture::with(&[
        ("STRIPE_SECRET_KEY", crate::fake_stripe::SECRET_KEY),
        ("STRIPE_API_BASE", stripe.base.as_str()),
    ])
    .await;
    let d = f.funded("1000").await;
    stripe.add_payment_intent(&format!("pi_{}", d.contract), 100_000);
    stripe.answer_refunds_with(["failed"]);
    f.refund(&d).await.expect("the refund is decided");
    assert_eq!(f.escrow_status(&d).await, "refund_failed");
    let listed = f
        .ctl(&["--json", "refunds", "list", "--failed"])
        .await
        .assert_code(0)
        .json();
    assert_eq!(
        listed["data"][0]["contractId"],
        json!(d.contract),
        "{listed}"
    );
    let table = f.ctl(&["refunds", "list", "--failed"]).await;
    table.assert_code(0);
    assert!(
        table.stdout.contains("expired_or_canceled_card"),
        "{}",
        table.stdout
    );
    // Without a terminal it asks nothing and does nothing.
    f.ctl(&["refunds", "retry", &d.contract])
        .await
        .assert_code(2);
    assert_eq!(f.escrow_status(&d).await, "refund_failed");
    let v = f
        .ctl(&["--json", "refunds", "retry", &d.contract, "--yes"])
        .await
        .assert_code(0)
        .json();
    assert_eq!(v["status"], json!("refunded"), "{v}");
    let keys: Vec<String> = stripe
        .requests_to("/v1/refunds")
        .into_iter()
        .filter_map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1]);
    // Nothing failed is left: a second retry is refused.
    f.ctl(&["refunds", "retry", &d.contract, "--yes"])
        .await
        .assert_code(4);
    f.ctl(&["verify"]).await.assert_code(0);
}

#[tokio::test]
async fn refunds_settle_books_a_failed_refund_paid_by_other_means() {
    let stripe = crate::fake_stripe::FakeStripe::start().await;
    let f = Fixture::with(&[
        ("STRIPE_SECRET_KEY", crate::fake_stripe::SECRET_KEY),
        ("STRIPE_API_BASE", stripe.base.as_str()),
    ])
    .await;
    let d = f.funded("1000").await;
    stripe.add_payment_intent(&format!("pi_{}", d.contract), 100_000);
    stripe.answer_refunds_with(["failed"]);
    f.refund(&d).await.expect("the refund is decided");
    assert_eq!(f.escrow_status(&d).await, "refund_failed");
    let v = f
        .ctl(&[
            "--json",
            "refunds",
            "settle",
            &d.contract,
            "--reason",
            "paid by bank transfer, ref 4711",
            "--yes",
            "--actor",
            "ops:alice",
        ])
        .await
        .assert_code(0)
        .json();
    assert_eq!(v["status"], json!("refunded"), "{v}");
    assert!(
        v["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["action"] == "refund_settled_by_admin" && h["actor"] == "ops:alice"),
        "{v}"
    );
    // Nothing was sent to Stripe for it, and there is nothing left to settle.
    assert_eq!(stripe.requests_to("/v1/refunds").len(), 1);
    f.ctl(&[
        "refunds",
        "settle",
        &d.contract,
        "--reason",
        "again",
        "--yes",
    ])
    .await
    .assert_code(4);
    f.ctl(&["verify"]).await.assert_code(0);
}

/// A contract canceled before it was paid, then paid anyway: the payment is kept aside and
/// refunded in full, and when that refund fails `refunds retry` takes it, though the
/// contract has no escrow (it used to move the money, then die printing an escrow view).
#[tokio::test]
async fn refunds_retry_takes_a_failed_refund_on_a_contract_without_escrow() {
    let stripe = crate::fake_stripe::FakeStripe::start().await;
    let f = Fixture::with(&[
        ("STRIPE_SECRET_KEY", crate::fake_stripe::SECRET_KEY),
        ("STRIPE_API_BASE", stripe.base.as_str()),
    ])
    .await;
    let d = f.approved("1000").await;
    let as_freelancer = crate::helpers::user(escrow::auth::Role::Freelancer, &d.freelancer);
    let permit = f
        .service
        .permit(&as_freelancer, escrow::service::UseCase::UpdateStatus)
        .unwrap();
    f.service
        .update_status(permit, &d.id(), escrow::domain::ContractStatus::Canceled)
        .await
        .unwrap();
    stripe.add_payment_intent(&format!("pi_{}", d.contract), 100_000);
    stripe.answer_refunds_with(["failed"]);
    f.pay(&d).await;
    let c = f.contract(&d).await;
    assert!(c.escrow().is_none());
    assert!(c.extra_payments[0].refund_failed(), "{c:?}");
    let v = f
        .ctl(&["--json", "refunds", "retry", &d.contract, "--yes"])
        .await
        .assert_code(0)
        .json();
    assert_eq!(
        v["extraPayments"][0]["refundStatus"],
        json!("succeeded"),
        "{v}"
    );
    assert!(
        f.contract(&d).await.extra_payments[0]
            .provider_refund_id
            .is_some()
    );
    f.ctl(&["verify"]).await.assert_code(0);
}
