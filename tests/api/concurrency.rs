//! Races: a money transition happens exactly once whatever runs at the same time.

use escrow::domain::ContractId;
use escrow::service::escrow::{Refund, Release};
use escrow::service::input::Reason;
use escrow::service::{Caller, UseCase};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::support::money::minor;

#[tokio::test]
async fn twenty_concurrent_deliveries_of_one_webhook_fund_once() {
    let app = TestApp::spawn().await;
    for round in 0..3 {
        let p = app.approved_contract(json!(1000)).await;
        let body = app.payment_event(
            &format!("evt_race_{round}"),
            &p,
            100_000,
            &format!("pi_race_{round}"),
        );
        let replies =
            futures_util::future::join_all((0..20).map(|_| app.post_webhook(&body))).await;
        assert!(replies.iter().all(|r| r.status() == StatusCode::OK));
        let detail = app.contract(&p).await;
        assert_eq!(detail["escrow"]["status"], "funded");
        assert_eq!(
            detail["ledger"].as_array().unwrap().len(),
            2,
            "exactly one funding transfer"
        );
        assert!(
            detail["escrow"]["extraPayments"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
    let report = app.verify().await;
    assert!(report.ok(), "{:?}", report.violations);
    let held: Value = app
        .send(
            "GET",
            "/api/admin/escrow/balance",
            Some(&app.parties().admin_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(minor(&held["data"]), 300_000);
    app.stop().await;
}

#[tokio::test]
async fn ten_concurrent_admin_releases_give_one_200_and_nine_409() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        let p = app.requested_contract().await;
        let replies = futures_util::future::join_all((0..10).map(|_| app.release(&p))).await;
        let ok = replies
            .iter()
            .filter(|r| r.status() == StatusCode::OK)
            .count();
        let conflict = replies
            .iter()
            .filter(|r| r.status() == StatusCode::CONFLICT)
            .count();
        assert_eq!((ok, conflict), (1, 9));
        assert_eq!(
            minor(&app.wallet(&p, &p.freelancer).await["balance"]),
            90_000
        );
    }
    assert!(app.verify().await.ok());
    app.stop().await;
}

#[tokio::test]
async fn a_concurrent_release_and_refund_of_one_escrow_have_exactly_one_winner() {
    let app = TestApp::spawn().await;
    let service = app.state.service.clone();
    let mut release_wins = 0;
    for _ in 0..10 {
        let p = app.funded_contract().await;
        let op = Caller::operator("test:race");
        let id: ContractId = p.contract.parse().unwrap();
        let release = Release {
            contract: id.clone(),
            milestone: None,
            force: Some(Reason::parse("race test").unwrap()),
        };
        let refund = Refund {
            contract: id,
            reason: "race".into(),
            description: String::new(),
            freelancer_share: None,
        };
        let (released, refunded) = tokio::join!(
            service.release(service.permit(&op, UseCase::Release).unwrap(), &release),
            service.refund(
                service
                    .permit(&op, UseCase::Refund { client: None })
                    .unwrap(),
                &refund
            ),
        );
        assert!(
            released.is_ok() != refunded.is_ok(),
            "exactly one wins: {released:?} / {refunded:?}"
        );
        let loser = released.as_ref().err().or(refunded.as_ref().err()).unwrap();
        assert_eq!(loser.code.as_str(), "escrow.wrong_state");
        if released.is_ok() {
            release_wins += 1;
            assert_eq!(
                minor(&app.wallet(&p, &p.freelancer).await["balance"]),
                90_000
            );
        } else {
            assert_eq!(minor(&app.wallet(&p, &p.freelancer).await["balance"]), 0);
        }
    }
    let report = app.verify().await;
    assert!(report.ok(), "{:?}", report.violations);
    eprintln!("release won {release_wins} of 10 races");
    app.stop().await;
}
