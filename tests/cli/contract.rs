//! `escrowctl contract cancel`: frees a job an unfunded contract holds; a funded one is
//! refunded instead.

use crate::helpers::Fixture;

#[tokio::test]
async fn contract_cancel_frees_an_unfunded_contract_s_job_and_refuses_a_funded_one() {
    let f = Fixture::new().await;
    let squat = f.approved("300").await;
    let v = f
        .ctl(&[
            "--json",
            "contract",
            "cancel",
            &squat.contract,
            "--reason",
            "job squatted",
        ])
        .await
        .assert_code(0)
        .json();
    assert_eq!(v["status"], "Canceled");
    assert_eq!(v["canceledBy"], "Admin");
    assert_eq!(v["cancelReason"], "job squatted");
    // Canceling again changes nothing and says so the same way.
    let r = f
        .ctl(&["contract", "cancel", &squat.contract, "--reason", "again"])
        .await;
    r.assert_code(0);
    assert!(r.stdout.contains("canceled"), "{}", r.stdout);

    let funded = f.funded("1000").await;
    let before = f.version(&funded).await;
    let r = f
        .ctl(&["contract", "cancel", &funded.contract, "--reason", "x"])
        .await;
    r.assert_code(4);
    assert!(r.error_line().contains("[state.conflict]"), "{}", r.stderr);
    assert_eq!(f.version(&funded).await, before);
    assert_eq!(f.escrow_status(&funded).await, "funded");

    let r = f
        .ctl(&["contract", "cancel", "nope", "--reason", "x"])
        .await;
    r.assert_code(2);
    let r = f.ctl(&["contract", "cancel", &funded.contract]).await;
    r.assert_code(2);
}
