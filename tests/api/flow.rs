//! The whole money flow, end to end, as the README walks it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::support::money::minor;

#[tokio::test]
async fn a_contract_goes_from_creation_to_release_and_review() {
    let app = TestApp::spawn().await;
    let mut p = app.parties();
    let r = app.create_contract(&p, json!("1500.50")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(minor(&v["data"]["amount"]), 150_050);
    assert_eq!(v["data"]["currency"], "inr");
    assert_eq!(v["data"]["status"], "Pending");
    // The original's human id: "CON" and 8 digits, from the store's counter.
    let human = v["data"]["contractId"].as_str().unwrap();
    assert!(
        human.len() == 11
            && human.starts_with("CON")
            && human[3..].bytes().all(|b| b.is_ascii_digit()),
        "{human}"
    );
    p.contract = v["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(app.approve(&p).await.status(), StatusCode::OK);

    // Checkout through the sandbox: the session points at the server's own page.
    let r = app
        .checkout(
            &p,
            json!({"title": "Logo design", "rate": 1500.5, "freelancerId": p.freelancer.as_str()}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let session: Value = r.json().await.unwrap();
    let url = session["url"].as_str().unwrap().to_string();
    assert!(session["id"].as_str().unwrap().starts_with("cs_sandbox_"));
    assert!(url.starts_with(&app.base), "{url}");
    // A double click gets the same session.
    let again: Value = app
        .checkout(&p, json!({"title": "Logo design"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["id"], session["id"]);

    let page = app.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Logo design") && html.contains("1500.50 INR"),
        "{html}"
    );

    // Pressing Pay posts a Stripe-signed event to the server's own /webhook.
    let pay = app.http.post(format!("{url}/pay")).send().await.unwrap();
    assert_eq!(pay.status(), StatusCode::SEE_OTHER);
    let location = pay.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://front.test/client/contract/payment-success"),
        "{location}"
    );

    let detail = app.contract(&p).await;
    assert_eq!(detail["contract"]["escrowPaid"], true);
    assert_eq!(detail["escrow"]["status"], "funded");
    assert_eq!(minor(&detail["escrow"]["amount"]), 150_050);
    assert_eq!(minor(&detail["escrow"]["platformFee"]), 15_005);
    assert_eq!(minor(&detail["escrow"]["freelancerEarning"]), 135_045);

    for s in ["Started", "Ongoing", "Completed"] {
        assert_eq!(app.set_status(&p, s).await.status(), StatusCode::OK);
    }
    let r = app.request_release(&p).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["data"]["releaseFundStatus"],
        "Requested"
    );

    let r = app.release(&p).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["message"], "Fund has been released");
    assert_eq!(v["data"]["status"], "released");
    assert_eq!(
        minor(&v["data"]["amount"]),
        150_050,
        "the gross amount is kept after release"
    );

    let wallet = app.wallet(&p, &p.freelancer).await;
    assert_eq!(minor(&wallet["balance"]), 135_045);
    // The freelancer sees the same wallet through their own route.
    let own: Value = app
        .send(
            "GET",
            "/api/freelancer/wallet",
            Some(&p.freelancer_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(minor(&own["balance"]), 135_045);

    let revenue: Value = app
        .send(
            "GET",
            "/api/admin/escrow/total-revenue",
            Some(&p.admin_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(minor(&revenue["data"]), 15_005);
    let held: Value = app
        .send(
            "GET",
            "/api/admin/escrow/balance",
            Some(&p.admin_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(minor(&held["data"]), 0);

    let r = app
        .send(
            "POST",
            &format!("/api/client/review/rate-freelancer/{}", p.client),
            Some(&p.client_token),
            Some(json!({"freelancerId": p.freelancer.as_str(), "contractId": p.contract, "rating": 5, "description": "Great work"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let reviews: Value = app
        .send(
            "GET",
            &format!("/api/client/review/show-reviews/{}", p.freelancer),
            None,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reviews["count"], 1);
    assert_eq!(reviews["averageRating"], 5.0);
    assert_eq!(reviews["data"][0]["description"], "Great work");

    let report = app.verify().await;
    assert!(report.ok(), "{:?}", report.violations);
    assert_eq!(report.counts.escrows, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_refund_splits_by_status_and_books_every_cent() {
    let app = TestApp::spawn().await;
    let p = app.funded_contract().await;
    assert_eq!(app.set_status(&p, "Started").await.status(), StatusCode::OK);
    let r = app.refund(&p, &p.client_token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["message"], "Refund has been processed");
    assert_eq!(v["data"]["status"], "refunded");
    // 1000 rupees, 10 % fee = 100; earning 900; 15 % kill fee = 135; client 765.
    assert_eq!(minor(&v["data"]["refund"]["clientShare"]), 76_500);
    assert_eq!(minor(&v["data"]["refund"]["freelancerShare"]), 13_500);
    assert_eq!(minor(&v["data"]["refund"]["platformFee"]), 10_000);
    assert!(
        v["data"]["refund"]["providerRefundId"]
            .as_str()
            .unwrap()
            .starts_with("re_sandbox_")
    );
    let detail = app.contract(&p).await;
    assert_eq!(detail["contract"]["status"], "Canceled");
    assert_eq!(detail["contract"]["canceledBy"], "Client");
    // As the original left it: its UI hides "Cancel" once this is Approved.
    assert_eq!(detail["contract"]["releaseFundStatus"], "Approved");
    assert_eq!(
        detail["contract"]["cancelReason"],
        "Freelancer not responding"
    );
    assert_eq!(
        minor(&app.wallet(&p, &p.freelancer).await["balance"]),
        13_500
    );
    // Fund, refund decision, refund settled: every transfer balances.
    let ledger = detail["ledger"].as_array().unwrap();
    assert_eq!(ledger.iter().map(|e| minor(&e["amount"])).sum::<i64>(), 0);
    // Release after refund is refused: exactly one of them ever happens.
    let (status, code) = crate::helpers::error_code(app.release(&p).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "escrow.wrong_state")
    );
    assert!(app.verify().await.ok());
    app.stop().await;
}

#[tokio::test]
async fn the_sales_report_groups_released_escrows_by_month_with_gross_amounts() {
    let app = TestApp::spawn().await;
    let p = app.requested_contract().await;
    assert_eq!(app.release(&p).await.status(), StatusCode::OK);
    let q = app.requested_contract().await;
    assert_eq!(app.release(&q).await.status(), StatusCode::OK);
    let r: Value = app
        .send(
            "GET",
            "/api/admin/escrow/sales-report",
            Some(&p.admin_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let month = &r["data"][0];
    assert_eq!(
        month["month"],
        chrono::Utc::now().format("%Y-%m").to_string()
    );
    assert_eq!(minor(&month["gross"]), 200_000);
    assert_eq!(minor(&month["platformFee"]), 20_000);
    assert_eq!(minor(&month["freelancerEarning"]), 180_000);
    assert_eq!(month["count"], 2);
    let empty: Value = app
        .send(
            "GET",
            "/api/admin/escrow/sales-report?from=2001-01-01&to=2001-02-01",
            Some(&p.admin_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(empty["data"].as_array().unwrap().len(), 0);
    let tx: Value = app
        .send(
            "GET",
            "/api/admin/escrow/transactions?limit=1",
            Some(&p.admin_token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tx["count"], 2);
    assert_eq!(tx["data"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn the_sandbox_pays_only_a_session_the_server_made_and_only_once() {
    let app = TestApp::spawn().await;
    let p = app.approved_contract(json!(1000)).await;
    let status_of = |r: reqwest::Response| async move {
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        (status, v["code"].as_str().unwrap_or("").to_string())
    };
    let page = |session: String| {
        app.http
            .get(app.url(&format!("/sandbox/checkout/{session}")))
    };
    let pay = |session: String| {
        app.http
            .post(app.url(&format!("/sandbox/checkout/{session}/pay")))
    };

    // What the session id used to be (`cs_sandbox_<contract>_<amount>`), and ids made with
    // another key or tampered with: no page, and paying funds nothing.
    let guessed = format!("cs_sandbox_{}_100000", p.contract);
    let other_key = escrow::payment::sandbox::SessionKey::new("whsec_someone_else").session_id(
        &escrow::domain::ContractId::parse(&p.contract).unwrap(),
        escrow::domain::MinorUnits::new(100_000),
        &[escrow::domain::MilestoneId::FIRST],
    );
    for forged in [guessed.clone(), format!("{guessed}_00"), other_key] {
        let expected = (
            StatusCode::NOT_FOUND,
            "sandbox.session_not_found".to_string(),
        );
        assert_eq!(
            status_of(page(forged.clone()).send().await.unwrap()).await,
            expected
        );
        assert_eq!(
            status_of(pay(forged.clone()).send().await.unwrap()).await,
            expected
        );
    }
    assert_eq!(app.contract(&p).await["contract"]["escrowPaid"], false);

    // The session the server made at checkout pays, once.
    let session: Value = app
        .checkout(&p, json!({"title": "Logo design"}))
        .await
        .json()
        .await
        .unwrap();
    let id = session["id"].as_str().unwrap().to_string();
    assert!(id.len() > guessed.len() + 30, "{id}");
    let mut tampered = id.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'a' { 'b' } else { 'a' });
    assert_eq!(
        status_of(pay(tampered).send().await.unwrap()).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        page(id.clone()).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        pay(id.clone()).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        status_of(pay(id.clone()).send().await.unwrap()).await,
        (StatusCode::CONFLICT, "escrow.already_funded".to_string())
    );
    let detail = app.contract(&p).await;
    assert_eq!(detail["escrow"]["status"], "funded");
    assert_eq!(detail["escrow"]["extraPayments"], json!([]), "paid once");

    // A session of a contract canceled since does not pay.
    let q = app.approved_contract(json!(500)).await;
    let session: Value = app.checkout(&q, json!({})).await.json().await.unwrap();
    let id = session["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.set_status(&q, "Canceled").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        status_of(pay(id).send().await.unwrap()).await,
        (
            StatusCode::CONFLICT,
            "contract.invalid_transition".to_string()
        )
    );
    assert_eq!(app.contract(&q).await["contract"]["escrowPaid"], false);
    assert!(app.verify().await.ok());
    app.stop().await;
}

/// GETs `path` as `token`; the body's text (to check digits exactly) and its JSON.
async fn text_and_json(app: &TestApp, path: &str, token: &str) -> (String, Value) {
    let r = app.send("GET", path, Some(token), None).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    let text = r.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap();
    (text, v)
}

#[tokio::test]
async fn awkward_amounts_are_written_exactly_in_rupees_by_every_view() {
    let app = TestApp::spawn().await;
    // As sent (JSON numbers, digits as the UI typed them), in paise, and as written back.
    for (sent, paise, written) in [
        ("0.01", 1_i64, "0.01"),
        ("0.10", 10, "0.1"),
        ("199.99", 19_999, "199.99"),
        ("999999999999.99", 99_999_999_999_999, "999999999999.99"),
    ] {
        let mut p = app.parties();
        let body = format!(
            r#"{{"freelancerId": "{}", "amount": {sent}, "title": "awkward"}}"#,
            p.freelancer
        );
        let r = app
            .http
            .post(app.url(&format!("/api/client/contract/create-contract/{}", p.job)))
            .bearer_auth(&p.client_token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{sent}");
        let text = r.text().await.unwrap();
        assert!(
            text.contains(&format!(r#""amount":{written},"#)),
            "{sent}: {text}"
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        p.contract = v["data"]["id"].as_str().unwrap().to_string();
        assert_eq!(app.approve(&p).await.status(), StatusCode::OK);
        let r = app
            .post_webhook(&app.payment_event(
                &format!("evt_{}", p.contract),
                &p,
                paise,
                &format!("pi_{}", p.contract),
            ))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        // The split, as the ledger keeps it in paise (the fee is 10 %, rounded half up).
        let fee = (paise + 5) / 10;
        let earning = paise - fee;
        let rupees = |minor: i64| {
            let s = format!("{}.{:02}", minor / 100, minor % 100);
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        };

        let (text, detail) = text_and_json(
            &app,
            &format!("/api/contracts/{}", p.contract),
            &p.admin_token,
        )
        .await;
        for (field, minor_units) in [
            ("amount", paise),
            ("platformFee", fee),
            ("freelancerEarning", earning),
        ] {
            assert!(
                text.contains(&format!(r#""{field}":{}"#, rupees(minor_units))),
                "{sent} {field}: {text}"
            );
            assert_eq!(
                minor(&detail["escrow"][field]),
                minor_units,
                "{sent} {field}"
            );
        }
        let ledger: Vec<i64> = detail["ledger"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| minor(&e["amount"]))
            .collect();
        assert_eq!(ledger, vec![-paise, paise], "{sent}");

        for s in ["Started", "Ongoing", "Completed"] {
            assert_eq!(app.set_status(&p, s).await.status(), StatusCode::OK);
        }
        assert_eq!(app.request_release(&p).await.status(), StatusCode::OK);
        let r = app.release(&p).await;
        assert_eq!(r.status(), StatusCode::OK);
        let text = r.text().await.unwrap();
        assert!(
            text.contains(&format!(r#""freelancerEarning":{}"#, rupees(earning))),
            "{sent}: {text}"
        );
        let (text, wallet) = text_and_json(
            &app,
            &format!("/api/admin/wallet/{}", p.freelancer),
            &p.admin_token,
        )
        .await;
        assert!(
            text.contains(&format!(r#""balance":{}"#, rupees(earning))),
            "{text}"
        );
        assert_eq!(minor(&wallet["balance"]), earning);
        let (text, tx) = text_and_json(
            &app,
            "/api/admin/escrow/transactions?limit=1000",
            &p.admin_token,
        )
        .await;
        let row = tx["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["contractId"]["_id"] == p.contract.as_str())
            .unwrap();
        assert_eq!(minor(&row["amount"]), paise, "{text}");
    }
    // The totals of every view agree with the sums of those integers.
    let admin = app.parties().admin_token;
    let total: i64 = [1_i64, 10, 19_999, 99_999_999_999_999].iter().sum();
    let fees: i64 = [1_i64, 10, 19_999, 99_999_999_999_999]
        .iter()
        .map(|a| (a + 5) / 10)
        .sum();
    let (text, revenue) = text_and_json(&app, "/api/admin/escrow/total-revenue", &admin).await;
    assert_eq!(minor(&revenue["data"]), fees, "{text}");
    let (_, held) = text_and_json(&app, "/api/admin/escrow/balance", &admin).await;
    assert_eq!(minor(&held["data"]), 0);
    let (text, sales) = text_and_json(&app, "/api/admin/escrow/sales-report", &admin).await;
    let gross: i64 = sales["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| minor(&m["gross"]))
        .sum();
    assert_eq!(gross, total, "{text}");
    assert!(app.verify().await.ok());
    app.stop().await;
}
