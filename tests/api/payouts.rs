//! Money out over HTTP: onboarding on the sandbox (its page, its button, the signed
//! `account.updated` the server sends itself), payouts and their refusals, the Connect
//! endpoint, reversals, and twenty payouts of one balance at once.

use escrow::auth::Role;
use escrow::domain::UserId;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Parties, TestApp, error_code};
use crate::support::stripe;

/// The generated development secret of the Connect endpoint (no variable set).
fn connect_secret(app: &TestApp) -> String {
    std::fs::read_to_string(app.dir.path().join("connect-webhook-secret"))
        .expect("the development Connect secret")
        .trim()
        .to_string()
}

/// A freelancer with a released escrow (900.00 in the wallet).
async fn earned(app: &TestApp) -> Parties {
    let p = app.requested_contract().await;
    assert_eq!(app.release(&p).await.status(), StatusCode::OK);
    p
}

/// Onboarding on the sandbox, done as a browser would: the page, then its button.
async fn onboarded(app: &TestApp, p: &Parties) -> String {
    let r = app
        .send(
            "POST",
            "/api/freelancer/payouts/onboarding",
            Some(&p.freelancer_token),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let account = v["accountId"].as_str().unwrap().to_string();
    let url = v["url"].as_str().unwrap().to_string();
    assert!(account.starts_with("acct_sandbox_"), "{v}");
    assert_eq!(url, app.url(&format!("/sandbox/onboarding/{account}")));
    let page = app.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Complete onboarding"));
    let done = app
        .http
        .post(format!("{url}/complete"))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "redirected back");
    assert_eq!(
        done.headers()["location"],
        "http://front.test/freelancer/payouts?onboarding=return"
    );
    account
}

async fn account(app: &TestApp, token: &str) -> reqwest::Response {
    app.send("GET", "/api/freelancer/payouts/account", Some(token), None)
        .await
}

async fn pay_out(app: &TestApp, token: &str, body: Option<Value>) -> reqwest::Response {
    app.send("POST", "/api/freelancer/payouts", Some(token), body)
        .await
}

fn balance(wallet: &Value) -> Value {
    wallet["balance"].clone()
}

#[tokio::test]
async fn a_freelancer_onboards_and_withdraws_on_the_sandbox() {
    let app = TestApp::spawn().await;
    let p = earned(&app).await;
    assert_eq!(balance(&app.wallet(&p, &p.freelancer).await), json!(900));

    // No account yet.
    let (status, code) = error_code(account(&app, &p.freelancer_token).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "payout.no_account")
    );
    let (status, code) = error_code(pay_out(&app, &p.freelancer_token, None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "payout.no_account")
    );

    // Started, not finished: no payouts yet.
    let r = app
        .send(
            "POST",
            "/api/freelancer/payouts/onboarding",
            Some(&p.freelancer_token),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = account(&app, &p.freelancer_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["payoutsEnabled"], json!(false), "{v}");
    let (status, code) = error_code(pay_out(&app, &p.freelancer_token, None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "payout.not_enabled")
    );

    // Onboarding again gives the same account, with a fresh link; the button enables it.
    let acct = onboarded(&app, &p).await;
    let v: Value = account(&app, &p.freelancer_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["accountId"], json!(acct));
    assert_eq!(v["payoutsEnabled"], json!(true), "{v}");
    assert_eq!(v["detailsSubmitted"], json!(true));
    assert_eq!(v["requirementsDue"], json!([]));

    // Refusals change nothing.
    for (body, status, code) in [
        (
            json!({"amount": 900.01}),
            StatusCode::CONFLICT,
            "payout.insufficient_balance",
        ),
        (
            json!({"amount": 99.99}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "payout.below_minimum",
        ),
        (
            json!({"amount": -5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation.amount",
        ),
        (
            json!({"amount": 1.001}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation.amount",
        ),
        (
            json!({"amount": 100, "to": "me"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation.body",
        ),
    ] {
        let got = error_code(pay_out(&app, &p.freelancer_token, Some(body.clone())).await).await;
        assert_eq!((got.0, got.1.as_str()), (status, code), "{body}");
    }
    assert_eq!(balance(&app.wallet(&p, &p.freelancer).await), json!(900));
    // Only a freelancer withdraws, only their own.
    let (status, code) = error_code(pay_out(&app, &p.client_token, None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "auth.wrong_role")
    );

    // 250.50 out, then the rest (no amount: the whole balance).
    let r = pay_out(&app, &p.freelancer_token, Some(json!({"amount": "250.50"}))).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["status"], json!("paid"), "{first}");
    assert_eq!(first["amount"], json!(250.5));
    assert_eq!(first["destination"], json!(acct));
    assert!(
        first["transferId"]
            .as_str()
            .unwrap()
            .starts_with("tr_sandbox_")
    );
    let r = pay_out(&app, &p.freelancer_token, None).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let second: Value = r.json().await.unwrap();
    assert_eq!(
        (second["status"].clone(), second["amount"].clone()),
        (json!("paid"), json!(649.5))
    );
    let wallet = app.wallet(&p, &p.freelancer).await;
    assert_eq!(balance(&wallet), json!(0), "{wallet}");
    // Nothing left to withdraw.
    let (status, code) = error_code(pay_out(&app, &p.freelancer_token, None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "payout.insufficient_balance")
    );

    // The freelancer's list, one payout, and the admins' list by status.
    let mine: Value = app
        .send(
            "GET",
            "/api/freelancer/payouts?limit=1",
            Some(&p.freelancer_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["count"], json!(2));
    assert_eq!(mine["data"][0]["id"], second["id"], "newest first");
    let next = mine["next"].as_str().unwrap();
    let rest: Value = app
        .send(
            "GET",
            &format!("/api/freelancer/payouts?after={next}"),
            Some(&p.freelancer_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["data"][0]["id"], first["id"]);
    let one = app
        .send(
            "GET",
            &format!("/api/payouts/{}", first["id"].as_str().unwrap()),
            Some(&p.freelancer_token),
            None,
        )
        .await;
    assert_eq!(one.status(), StatusCode::OK);
    let stranger = app.token(Role::Freelancer, &UserId::generate());
    let (status, code) = error_code(
        app.send(
            "GET",
            &format!("/api/payouts/{}", first["id"].as_str().unwrap()),
            Some(&stranger),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "payout.not_found")
    );
    let paid: Value = app
        .send(
            "GET",
            "/api/admin/payouts?status=paid",
            Some(&p.admin_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(paid["count"], json!(2), "{paid}");
    let (status, code) = error_code(
        app.send(
            "GET",
            "/api/admin/payouts?status=lost",
            Some(&p.admin_token),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.status")
    );
    for (path, token) in [
        ("/api/admin/payouts?user=x", &p.admin_token),
        ("/api/freelancer/payouts?status=paid", &p.freelancer_token),
        ("/api/freelancer/payouts?=null", &p.freelancer_token),
    ] {
        let (status, code) = error_code(app.send("GET", path, Some(token), None).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "request.bad_query"),
            "{path}"
        );
    }
    let (status, _) = error_code(
        app.send("GET", "/api/admin/payouts", Some(&p.freelancer_token), None)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let report = app.verify().await;
    assert!(report.ok(), "{:#?}", report.violations);
    assert_eq!(report.counts.payouts, 2);
    app.stop().await;
}

#[tokio::test]
async fn twenty_payouts_of_one_balance_at_once_pay_it_once() {
    let app = TestApp::spawn().await;
    let p = earned(&app).await;
    onboarded(&app, &p).await;
    let answers = futures_util::future::join_all((0..20).map(|i| {
        let body = (i % 2 == 0).then(|| json!({"amount": 900}));
        let (app, token) = (&app, p.freelancer_token.clone());
        async move { error_code(pay_out(app, &token, body).await).await }
    }))
    .await;
    let created = answers
        .iter()
        .filter(|a| a.0 == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{answers:?}");
    for a in &answers {
        assert!(
            a.0 == StatusCode::CREATED
                || (a.0 == StatusCode::CONFLICT && a.1 == "payout.insufficient_balance"),
            "{answers:?}"
        );
    }
    assert_eq!(balance(&app.wallet(&p, &p.freelancer).await), json!(0));
    let report = app.verify().await;
    assert!(report.ok(), "{:#?}", report.violations);
    app.stop().await;
}

#[tokio::test]
async fn the_connect_endpoint_checks_its_own_signature_and_keeps_the_newest_state() {
    let app = TestApp::spawn().await;
    let p = earned(&app).await;
    let acct = onboarded(&app, &p).await;
    let secret = connect_secret(&app);
    let now = chrono::Utc::now().timestamp();
    // Signed with the platform's secret, or not at all: refused, nothing changes.
    let body = stripe::account_updated("evt_c1", &acct, false, &["external_account"], now + 5);
    let r = app
        .post_connect(&body, crate::helpers::WEBHOOK_SECRET)
        .await;
    assert_eq!(
        error_code(r).await,
        (StatusCode::BAD_REQUEST, "webhook.signature_invalid".into())
    );
    // Signed right: the account needs something again, and payouts stop.
    let r = app.post_connect(&body, &secret).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = account(&app, &p.freelancer_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["payoutsEnabled"], json!(false), "{v}");
    assert_eq!(v["requirementsDue"], json!(["external_account"]));
    let (status, code) = error_code(pay_out(&app, &p.freelancer_token, None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "payout.not_enabled")
    );
    // A redelivery is a duplicate; an older event does not undo a newer one.
    let again: Value = app.post_connect(&body, &secret).await.json().await.unwrap();
    assert_eq!(again["outcome"], json!("duplicate"), "{again}");
    let older = stripe::account_updated("evt_c0", &acct, true, &[], now - 60);
    assert_eq!(
        app.post_connect(&older, &secret).await.status(),
        StatusCode::OK
    );
    let v: Value = account(&app, &p.freelancer_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["payoutsEnabled"], json!(false), "{v}");
    // An account of another platform is recorded as failed.
    let foreign = stripe::account_updated("evt_c2", "acct_other", true, &[], now);
    let v: Value = app
        .post_connect(&foreign, &secret)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["outcome"], json!("failed"), "{v}");
    app.stop().await;
}

#[tokio::test]
async fn a_reversed_transfer_gives_the_money_back_to_the_wallet_once() {
    let app = TestApp::spawn().await;
    let p = earned(&app).await;
    onboarded(&app, &p).await;
    let paid: Value = pay_out(&app, &p.freelancer_token, None)
        .await
        .json()
        .await
        .unwrap();
    let (id, tr) = (
        paid["id"].as_str().unwrap(),
        paid["transferId"].as_str().unwrap(),
    );
    assert_eq!(balance(&app.wallet(&p, &p.freelancer).await), json!(0));
    // 300.00 of 900.00 reversed, delivered twice under two event ids: given back once.
    for event in ["evt_r1", "evt_r2"] {
        let body = stripe::transfer_reversed(event, tr, 90_000, 30_000, id);
        assert_eq!(app.post_webhook(&body).await.status(), StatusCode::OK);
    }
    assert_eq!(balance(&app.wallet(&p, &p.freelancer).await), json!(300));
    // Then all of it.
    let body = stripe::transfer_reversed("evt_r3", tr, 90_000, 90_000, id);
    assert_eq!(app.post_webhook(&body).await.status(), StatusCode::OK);
    assert_eq!(balance(&app.wallet(&p, &p.freelancer).await), json!(900));
    let v: Value = app
        .send(
            "GET",
            &format!("/api/payouts/{id}"),
            Some(&p.admin_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], json!("reversed"), "{v}");
    // A reversal naming another transfer of the payout is recorded as failed.
    let body = stripe::transfer_reversed("evt_r4", "tr_other", 90_000, 90_000, id);
    let v: Value = app.post_webhook(&body).await.json().await.unwrap();
    assert_eq!(v["outcome"], json!("failed"), "{v}");
    let report = app.verify().await;
    assert!(report.ok(), "{:#?}", report.violations);
    app.stop().await;
}

#[tokio::test]
async fn production_without_a_connect_secret_has_no_money_out() {
    let app = TestApp::spawn_with(&[
        ("ESCROW_ENV", "production"),
        ("STRIPE_SECRET_KEY", "sk_test_x"),
        ("STRIPE_API_BASE", "http://127.0.0.1:9/"),
        ("ESCROW_METRICS_PUBLIC", "true"),
    ])
    .await;
    let p = app.parties();
    let (status, code) = error_code(
        app.send(
            "POST",
            "/api/freelancer/payouts/onboarding",
            Some(&p.freelancer_token),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "payout.unconfigured")
    );
    let body =
        stripe::account_updated("evt_p", "acct_1", true, &[], chrono::Utc::now().timestamp());
    let r = app.post_connect(&body, "whsec_any").await;
    assert_eq!(
        error_code(r).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "payout.unconfigured".into()
        )
    );
    app.stop().await;
}

/// A request retried with its Idempotency-Key after its first try debited the wallet and lost
/// its stored answer (a crash): the retry finds the payout the first try made and answers it,
/// rather than paying out a second time.
#[tokio::test]
async fn a_retried_payout_request_whose_answer_was_lost_pays_out_once() {
    use escrow::auth::Principal;
    use escrow::domain::{Currency, MinorUnits, Money, RequestTag};
    use escrow::service::{Caller, UseCase};
    let app = TestApp::spawn().await;
    let p = earned(&app).await;
    onboarded(&app, &p).await;
    let me = Caller::User(Principal {
        id: p.freelancer.clone(),
        role: Role::Freelancer,
    });
    let tag = RequestTag::new("the digest of one request");
    let service = &app.state.service;
    let mut ids = vec![];
    for _ in 0..2 {
        let permit = service
            .permit(
                &me,
                UseCase::Payouts {
                    owner: &p.freelancer,
                },
            )
            .unwrap()
            .in_request(Some(&tag));
        let amount = Money::new(MinorUnits::new(10_000), Currency::Inr);
        let paid = service.request_payout(permit, Some(amount)).await.unwrap();
        assert_eq!(paid.status, escrow::domain::PayoutStatus::Paid);
        ids.push(paid.id);
    }
    assert_eq!(ids[0], ids[1], "one payout");
    assert_eq!(balance(&app.wallet(&p, &p.freelancer).await), json!(800));
    // Another request (another tag) is another payout.
    let other = RequestTag::new("another request");
    let permit = service
        .permit(
            &me,
            UseCase::Payouts {
                owner: &p.freelancer,
            },
        )
        .unwrap()
        .in_request(Some(&other));
    let amount = Money::new(MinorUnits::new(10_000), Currency::Inr);
    let again = service.request_payout(permit, Some(amount)).await.unwrap();
    assert_ne!(again.id, ids[0]);
    assert_eq!(balance(&app.wallet(&p, &p.freelancer).await), json!(700));
    let report = app.verify().await;
    assert!(report.ok(), "{:#?}", report.violations);
    app.stop().await;
}

/// `ESCROW_PAYOUT_MODE=on_release` stores a durable timer before each release, so a release
/// whose payout was cut off (the server died between the two) is still paid out, once, when
/// the timer falls due; a timer for a release that never happened does nothing.
#[tokio::test]
async fn a_release_whose_payout_was_cut_off_is_paid_out_by_its_timer() {
    use escrow::domain::{ContractId, Timer, TimerKind};
    use escrow::service::UseCase;
    let app = TestApp::spawn_with(&[("ESCROW_PAYOUT_MODE", "on_release")]).await;
    let service = &app.state.service;
    let op = crate::helpers::operator();
    let timers = || async {
        let permit = service.permit(&op, UseCase::Operate).unwrap();
        service.timers(permit, false, 100).await.unwrap()
    };
    // Onboarded before the release: paid out at once, the timer done.
    let p = app.requested_contract().await;
    onboarded(&app, &p).await;
    assert_eq!(app.release(&p).await.status(), StatusCode::OK);
    assert_eq!(balance(&app.wallet(&p, &p.freelancer).await), json!(0));
    assert!(timers().await.is_empty(), "{:?}", timers().await);

    // The cut-off case, as a server that died between the release and its payout leaves it:
    // the timer stored, then the release saved (the same compare-and-set the release route
    // makes), then nothing.
    let q = app.requested_contract().await;
    onboarded(&app, &q).await;
    let now = service.now_ms();
    let store = service.store();
    store
        .schedule_timer(&Timer::new(TimerKind::ReleasePayout, &q.contract, now, now))
        .await
        .unwrap();
    let qid: ContractId = q.contract.parse().unwrap();
    let mut c = store.get_contract(&qid).await.unwrap().unwrap();
    let expected = c.version;
    let transfers = c.release("admin:crashed", None, now).unwrap();
    c.version = expected + 1;
    let entries: Vec<_> = transfers.iter().flat_map(|t| t.entries()).collect();
    store.save_contract(&c, expected, &entries).await.unwrap();
    assert_eq!(balance(&app.wallet(&q, &q.freelancer).await), json!(900));
    // And a timer whose release never happened (refused after its timer was stored).
    let r = app.funded_contract().await;
    store
        .schedule_timer(&Timer::new(TimerKind::ReleasePayout, &r.contract, now, now))
        .await
        .unwrap();
    assert_eq!(timers().await.len(), 2);
    assert_eq!(service.run_due_timers().await.unwrap(), 2);
    assert!(timers().await.is_empty());
    assert_eq!(balance(&app.wallet(&q, &q.freelancer).await), json!(0));
    let listed: Value = app
        .send(
            "GET",
            "/api/freelancer/payouts",
            Some(&q.freelancer_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["count"], json!(1), "{listed}");
    assert_eq!(listed["data"][0]["status"], json!("paid"));
    assert_eq!(listed["data"][0]["contractId"], json!(q.contract));
    // Nothing is due any more, and running again pays nothing twice.
    assert_eq!(service.run_due_timers().await.unwrap(), 0);
    let id: ContractId = r.contract.parse().unwrap();
    assert!(
        store
            .get_contract(&id)
            .await
            .unwrap()
            .unwrap()
            .escrow_paid()
    );
    let report = app.verify().await;
    assert!(report.ok(), "{:#?}", report.violations);
    app.stop().await;
}
