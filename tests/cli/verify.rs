//! `verify` over a whole store: passes on a good one, fails with the ids on a corrupted one.

use escrow::store::sqlite::SqliteStore;

use crate::helpers::Fixture;

#[tokio::test]
async fn verify_passes_on_a_good_store_and_says_what_it_checked() {
    let f = Fixture::new().await;
    let released = f.requested("1000").await;
    let refunded = f.funded("500").await;
    let _held = f.funded("250").await;
    f.ctl(&["escrow", "release", &released.contract, "--yes"])
        .await
        .assert_code(0);
    f.ctl(&[
        "escrow",
        "refund",
        &refunded.contract,
        "--reason",
        "x",
        "--yes",
    ])
    .await
    .assert_code(0);
    let v = f.ctl(&["--json", "verify"]).await.assert_code(0).json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["counts"]["contracts"], 3);
    assert_eq!(v["counts"]["escrows"], 3);
    assert_eq!(v["counts"]["wallets"], 1);
    assert!(v["counts"]["entries"].as_u64().unwrap() >= 9, "{v}");
    // SQLite keeps every account's balance and a total per kind: all checked.
    assert!(v["counts"]["kept_balances"].as_u64().unwrap() >= 8, "{v}");
    assert_eq!(v["violations"].as_array().unwrap().len(), 0);
    let r = f.ctl(&["verify"]).await;
    r.assert_code(0);
    assert!(
        r.stdout.contains("OK: accounts sum to zero"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("kept balances equal their entries"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Contracts"), "{}", r.stdout);
    // No terminal: no progress bar.
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}

#[tokio::test]
async fn verify_exits_1_and_names_the_ids_when_a_ledger_entry_was_tampered_with() {
    let f = Fixture::new().await;
    let d = f.requested("1000").await;
    let _fine = f.funded("250").await;
    f.ctl(&["escrow", "release", &d.contract, "--yes"])
        .await
        .assert_code(0);
    let store = SqliteStore::open(f.db_path()).unwrap();
    let changed = store
        .execute_raw(format!(
            "UPDATE ledger_entries SET amount = amount + 1 WHERE account = 'wallet:{}'",
            d.freelancer
        ))
        .await
        .unwrap();
    assert_eq!(changed, 1);

    let r = f.ctl(&["verify"]).await;
    r.assert_code(1);
    assert!(r.stdout.contains("Violations"), "{}", r.stdout);
    assert!(r.stdout.contains("transfer_balances"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&d.contract),
        "the contract id is not named:\n{}",
        r.stdout
    );
    assert!(r.error_line().contains("violation"), "{}", r.stderr);

    let r = f.ctl(&["--json", "verify"]).await;
    r.assert_code(1);
    let v = r.json();
    assert_eq!(v["ok"], false);
    let rules: Vec<&str> = v["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"accounts_sum_to_zero"), "{rules:?}");
    assert!(rules.contains(&"transfer_balances"), "{rules:?}");
    let transfer = v["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["rule"] == "transfer_balances")
        .unwrap();
    assert!(
        transfer["ids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|id| id == d.contract.as_str()),
        "{transfer}"
    );
}

#[tokio::test]
async fn verify_names_a_kept_balance_that_no_longer_equals_its_entries() {
    let f = Fixture::new().await;
    let d = f.requested("1000").await;
    f.ctl(&["escrow", "release", &d.contract, "--yes"])
        .await
        .assert_code(0);
    let store = SqliteStore::open(f.db_path()).unwrap();
    let account = format!("wallet:{}", d.freelancer);
    let changed = store
        .execute_raw(format!(
            "UPDATE account_balances SET balance = balance + 1 WHERE account = '{account}'"
        ))
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let r = f.ctl(&["--json", "verify"]).await;
    r.assert_code(1);
    let v = r.json();
    let kept: Vec<&serde_json::Value> = v["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["rule"] == "kept_balance_is_sum_of_entries")
        .collect();
    assert_eq!(kept.len(), 1, "{v}");
    assert_eq!(kept[0]["ids"][0], account.as_str());
}
