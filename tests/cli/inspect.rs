//! `wallet show`, `reviews list`, `report`, `webhooks list`: JSON checked field by field,
//! tables checked for the key values.

use escrow::domain::UserId;

use crate::helpers::{Fixture, payment_event};
use crate::support::money::minor;

#[tokio::test]
async fn wallet_show_gives_the_balance_and_entries_of_released_earnings() {
    let f = Fixture::new().await;
    let d = f.requested("1000").await;
    f.ctl(&["escrow", "release", &d.contract, "--yes"])
        .await
        .assert_code(0);
    let user = d.freelancer.to_string();
    let v = f
        .ctl(&["--json", "wallet", "show", &user])
        .await
        .assert_code(0)
        .json();
    assert_eq!(v["userId"], user.as_str());
    assert_eq!(minor(&v["balance"]), 90_000);
    assert_eq!(v["currency"], "inr");
    assert_eq!(v["count"], 1);
    assert_eq!(v["entries"][0]["kind"], "release");
    assert_eq!(v["entries"][0]["contractId"], d.contract.as_str());
    let r = f.ctl(&["wallet", "show", &user]).await;
    r.assert_code(0);
    for value in ["900.00 INR", "release", d.contract.as_str()] {
        assert!(r.stdout.contains(value), "{value} missing:\n{}", r.stdout);
    }
}

#[tokio::test]
async fn an_empty_wallet_is_zero_and_a_malformed_user_id_exits_2() {
    let f = Fixture::new().await;
    let v = f
        .ctl(&["--json", "wallet", "show", UserId::generate().as_str()])
        .await
        .assert_code(0)
        .json();
    assert_eq!(minor(&v["balance"]), 0);
    assert_eq!(v["entries"].as_array().unwrap().len(), 0);
    let r = f.ctl(&["wallet", "show", "nobody"]).await;
    r.assert_code(2);
    assert!(r.stderr.contains("24-character hex id"), "{}", r.stderr);
}

#[tokio::test]
async fn reviews_of_a_freelancer_come_with_their_average() {
    let f = Fixture::new().await;
    let a = f.requested("1000").await;
    let freelancer = a.freelancer.clone();
    let b = f.requested_for(&freelancer, "500").await;
    let _other = f.requested("700").await;
    f.review(&a, 4, "good work").await;
    // Reviews are ordered by time: keep the two apart.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    f.review(&b, 5, "excellent").await;
    let v = f
        .ctl(&[
            "--json",
            "reviews",
            "list",
            "--freelancer",
            freelancer.as_str(),
        ])
        .await
        .assert_code(0)
        .json();
    assert_eq!(v["count"], 2, "{v}");
    assert_eq!(v["averageRating"], 4.5);
    assert_eq!(v["data"][0]["rating"], 5, "newest first");
    assert_eq!(v["data"][1]["description"], "good work");
    let r = f
        .ctl(&["reviews", "list", "--freelancer", freelancer.as_str()])
        .await;
    r.assert_code(0);
    for value in ["2 reviews, average rating 4.50", "5/5", "4/5", "excellent"] {
        assert!(r.stdout.contains(value), "{value} missing:\n{}", r.stdout);
    }
}

#[tokio::test]
async fn the_review_of_a_contract_is_shown_or_null() {
    let f = Fixture::new().await;
    let reviewed = f.requested("1000").await;
    f.review(&reviewed, 3, "fine").await;
    let v = f
        .ctl(&[
            "--json",
            "reviews",
            "list",
            "--contract",
            &reviewed.contract,
        ])
        .await
        .assert_code(0)
        .json();
    assert_eq!(v["rating"], 3);
    assert_eq!(v["contractId"], reviewed.contract.as_str());
    let quiet = f.funded("200").await;
    let r = f
        .ctl(&["--json", "reviews", "list", "--contract", &quiet.contract])
        .await;
    r.assert_code(0);
    assert_eq!(r.json(), serde_json::Value::Null);
    let r = f
        .ctl(&["reviews", "list", "--contract", &quiet.contract])
        .await;
    assert!(r.stdout.contains("has no review"), "{}", r.stdout);
    // Exactly one of --freelancer and --contract.
    f.ctl(&["reviews", "list"]).await.assert_code(2);
}

#[tokio::test]
async fn reports_give_funds_held_revenue_and_monthly_sales() {
    let f = Fixture::new().await;
    let released = f.requested("1000").await;
    let _held = f.funded("250").await;
    f.ctl(&["escrow", "release", &released.contract, "--yes"])
        .await
        .assert_code(0);

    let v = f
        .ctl(&["--json", "report", "balance"])
        .await
        .assert_code(0)
        .json();
    assert_eq!(
        (minor(&v["data"]), v["currency"].as_str()),
        (25_000, Some("inr"))
    );
    let r = f.ctl(&["report", "balance"]).await;
    assert!(r.stdout.contains("250.00 INR"), "{}", r.stdout);

    let v = f
        .ctl(&["--json", "report", "revenue"])
        .await
        .assert_code(0)
        .json();
    assert_eq!(minor(&v["data"]), 10_000);
    let r = f.ctl(&["report", "revenue"]).await;
    assert!(r.stdout.contains("100.00 INR"), "{}", r.stdout);

    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let v = f
        .ctl(&[
            "--json", "report", "sales", "--from", &today, "--to", &today,
        ])
        .await
        .assert_code(0)
        .json();
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    let row = &v["data"][0];
    assert_eq!(row["month"], month.as_str());
    assert_eq!(
        (
            minor(&row["gross"]),
            minor(&row["platformFee"]),
            minor(&row["freelancerEarning"]),
            row["count"].as_i64()
        ),
        (100_000, 10_000, 90_000, Some(1))
    );
    let r = f.ctl(&["report", "sales"]).await;
    r.assert_code(0);
    for value in [month.as_str(), "1000.00", "100.00", "900.00"] {
        assert!(r.stdout.contains(value), "{value} missing:\n{}", r.stdout);
    }
    // A range that ends before today leaves today's release out.
    let v = f
        .ctl(&[
            "--json",
            "report",
            "sales",
            "--from",
            "2000-01-01",
            "--to",
            "2000-12-31",
        ])
        .await
        .json();
    assert_eq!(v["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn bad_report_dates_exit_2() {
    let f = Fixture::new().await;
    f.ctl(&["report", "sales", "--from", "2025-02-30"])
        .await
        .assert_code(2);
    let r = f
        .ctl(&[
            "report",
            "sales",
            "--from",
            "2025-03-02",
            "--to",
            "2025-03-01",
        ])
        .await;
    r.assert_code(2);
    assert!(r.error_line().contains("after"), "{}", r.stderr);
}

#[tokio::test]
async fn webhooks_list_shows_events_and_failed_only_the_failed_with_their_error() {
    let f = Fixture::new().await;
    let paid = f.funded("1000").await;
    let ghost = crate::helpers::Deal {
        contract: escrow::domain::ContractId::generate().to_string(),
        ..paid.clone()
    };
    let reply = f
        .webhook(&payment_event("evt_ghost", &ghost, 100_000))
        .await;
    assert_eq!(reply["outcome"], "failed");

    let v = f
        .ctl(&["--json", "webhooks", "list"])
        .await
        .assert_code(0)
        .json();
    assert_eq!(v["count"], 2, "{v}");
    let v = f
        .ctl(&["--json", "webhooks", "list", "--failed"])
        .await
        .assert_code(0)
        .json();
    assert_eq!(v["count"], 1, "{v}");
    assert_eq!(v["data"][0]["eventId"], "evt_ghost");
    assert_eq!(v["data"][0]["status"], "failed");
    assert!(
        v["data"][0]["error"]
            .as_str()
            .unwrap()
            .contains("unknown contract"),
        "{v}"
    );
    let r = f.ctl(&["webhooks", "list", "--failed"]).await;
    r.assert_code(0);
    for value in [
        "evt_ghost",
        "failed",
        "checkout.session.completed",
        "1 events",
    ] {
        assert!(r.stdout.contains(value), "{value} missing:\n{}", r.stdout);
    }
    assert!(!r.stdout.contains(&format!("evt_{}", paid.contract)));
}
