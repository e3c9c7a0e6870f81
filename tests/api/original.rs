//! The original app's front end, replayed: each call as its UI sends it (the same paths, body
//! field names and types, and the original auth service's token shape `{id, role}`), and
//! assertions on exactly the fields its components read (`../shared/notes/skillora-frontend.md`
//! lists them), over a real socket, with and without a directory of the original's users and
//! jobs (the MongoDB emulator seeded with documents in the original's shapes).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::directory::Original;
use crate::helpers::{Parties, TestApp, error_code};
use crate::support::money::minor;

/// GET as the UI does (bearer token), the JSON answer.
async fn get(app: &TestApp, path: &str, token: Option<&str>) -> Value {
    let r = app.send("GET", path, token, None).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.json().await.unwrap()
}

/// What a component reads of a populated user: strings, so `.toLowerCase()` runs.
fn party(v: &Value) -> (String, String) {
    assert!(v["_id"].is_string(), "{v}");
    let name = v["name"].as_str().unwrap_or_else(|| panic!("name: {v}"));
    let email = v["email"].as_str().unwrap_or_else(|| panic!("email: {v}"));
    (name.to_lowercase(), email.to_string())
}

/// The contract pages' calls, from creating to completing, then the lists; `names`: the
/// client's and freelancer's names and the job's title the directory knows (empty without).
async fn contract_pages(app: &TestApp, p: &mut Parties, names: (&str, &str, &str)) {
    let (client_name, freelancer_name, job_title) = names;
    // JobDetails.tsx: createContract(jobId, clientId, {freelancerId, amount}) → message.
    let r = app
        .send(
            "POST",
            &format!(
                "/api/client/contract/create-contract/{}/{}",
                p.job, p.client
            ),
            Some(&p.client_token),
            Some(json!({"freelancerId": p.freelancer.as_str(), "amount": 1500.5})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert!(v["message"].is_string());
    p.contract = v["data"]["_id"].as_str().unwrap().to_string();
    // isContractCreated(jobId, clientId) → contract.
    let v = get(
        app,
        &format!("/api/client/contract/is-created/{}/{}", p.job, p.client),
        Some(&p.client_token),
    )
    .await;
    assert_eq!(v["contract"]["_id"], p.contract.as_str());
    // ViewContracts.tsx: getClientContracts(clientId) → data[] with jobId{title, rate},
    // freelancerId{name, email, profilePic}.
    let v = get(
        app,
        &format!("/api/client/contract/get-contracts/{}", p.client),
        Some(&p.client_token),
    )
    .await;
    let row = &v["data"][0];
    assert_eq!(row["jobId"]["title"], job_title);
    assert_eq!(
        party(&row["freelancerId"]).0,
        freelancer_name.to_lowercase()
    );
    assert!(row["freelancerId"]["profilePic"].is_string());
    // The freelancer approves: approve-contract/:contractId/:freelancerId → message.
    let r = app
        .send(
            "POST",
            &format!(
                "/api/freelancer/contract/approve-contract/{}/{}",
                p.contract, p.freelancer
            ),
            Some(&p.freelancer_token),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.json::<Value>().await.unwrap()["message"].is_string());
    // ContractDetails.tsx (each role): view-contract/:id → contract.
    for token in [&p.client_token, &p.freelancer_token, &p.admin_token] {
        let v = get(
            app,
            &format!("/api/freelancer/contract/view-contract/{}", p.contract),
            Some(token),
        )
        .await;
        let c = &v["contract"];
        let human = c["contractId"].as_str().unwrap();
        assert!(human.starts_with("CON") && human.len() >= 11, "{human}");
        assert_eq!(c["jobId"]["_id"], p.job.as_str());
        assert_eq!(c["jobId"]["title"], job_title);
        assert!(c["jobId"]["description"].is_string());
        assert_eq!(party(&c["clientId"]).0, client_name.to_lowercase());
        assert_eq!(party(&c["freelancerId"]).0, freelancer_name.to_lowercase());
        assert_eq!(minor(&c["amount"]), 150_050, "rupees: {c}");
        assert_eq!(c["status"], "Pending");
        assert_eq!(c["isApproved"], true);
        assert_eq!(c["escrowPaid"], false);
        assert_eq!(c["releaseFundStatus"], "NotRequested");
        assert_eq!(c["statusHistory"][0]["status"], "Pending");
    }
    // pages/freelancer/Contracts.tsx: get-contracts/:freelancerId → contracts[].
    let v = get(
        app,
        &format!("/api/freelancer/contract/get-contracts/{}", p.freelancer),
        Some(&p.freelancer_token),
    )
    .await;
    assert_eq!(v["contracts"][0]["_id"], p.contract.as_str());
    assert_eq!(
        party(&v["contracts"][0]["clientId"]).0,
        client_name.to_lowercase()
    );
    // The client pays (the sandbox here: Stripe's webhook funds it), the work is done and
    // released.
    let r = app
        .post_webhook(&app.payment_event(
            &format!("evt_{}", p.contract),
            p,
            150_050,
            &format!("pi_{}", p.contract),
        ))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    for s in ["Started", "Ongoing", "Completed"] {
        assert_eq!(app.set_status(p, s).await.status(), StatusCode::OK);
    }
    assert_eq!(app.request_release(p).await.status(), StatusCode::OK);
    assert_eq!(app.release(p).await.status(), StatusCode::OK);
    // The client reviews; ViewFreelancer.tsx and FreelancerProfile.tsx: show-reviews (no
    // token) → data[] with _id, clientId.name, clientId.profilePic, rating, description,
    // createdAt.
    let r = app
        .send(
            "POST",
            &format!("/api/client/review/rate-freelancer/{}", p.client),
            Some(&p.client_token),
            Some(json!({"freelancerId": p.freelancer.as_str(), "contractId": p.contract, "rating": 5, "description": "Great work"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v = get(
        app,
        &format!("/api/client/review/show-reviews/{}", p.freelancer),
        None,
    )
    .await;
    let review = &v["data"][0];
    assert!(review["_id"].is_string());
    assert_eq!(review["clientId"]["_id"], p.client.as_str());
    assert_eq!(review["clientId"]["name"], client_name);
    assert!(review["clientId"]["profilePic"].is_string());
    assert!(
        review["clientId"].get("email").is_none(),
        "a public page: {v}"
    );
    assert_eq!(review["rating"], 5);
    assert_eq!(review["description"], "Great work");
    assert!(review["createdAt"].is_string());
    // components/earnings/ViewEarnings.tsx: earnings/:userId → {success, data: {_id, balance,
    // transactions[{amount, description, type, date, contractId}]}}; then
    // transactions/:walletId with that _id → {success, count, data[... clientName]}; and
    // user-sales-report/:userId → data[{month, totalRevenue, totalTransactions}].
    let v = get(
        app,
        &format!("/api/freelancer/wallet/earnings/{}", p.freelancer),
        Some(&p.freelancer_token),
    )
    .await;
    assert_eq!(v["success"], true);
    assert_eq!(minor(&v["data"]["balance"]), 135_045, "{v}");
    let t = &v["data"]["transactions"][0];
    assert_eq!(minor(&t["amount"]), 135_045);
    assert_eq!(t["description"], "Contract payment");
    assert_eq!(t["type"], "credit");
    assert!(t["date"].is_string());
    assert_eq!(t["contractId"], p.contract.as_str());
    let wallet = v["data"]["_id"].as_str().unwrap().to_string();
    let v = get(
        app,
        &format!("/api/freelancer/wallet/transactions/{wallet}"),
        Some(&p.freelancer_token),
    )
    .await;
    assert_eq!(
        (v["success"].as_bool(), v["count"].as_u64()),
        (Some(true), Some(1))
    );
    assert_eq!(v["data"][0]["clientName"], client_name);
    assert_eq!(minor(&v["data"][0]["amount"]), 135_045);
    let v = get(
        app,
        &format!("/api/freelancer/wallet/user-sales-report/{}", p.freelancer),
        Some(&p.freelancer_token),
    )
    .await;
    let m = &v["data"][0];
    assert!(m["month"].as_str().is_some_and(|s| s.len() == 7), "{v}");
    assert_eq!(minor(&m["totalRevenue"]), 135_045);
    assert_eq!(m["totalTransactions"], 1);
    // ViewFreelancer.tsx: completed-works/:freelancerId (public) → contracts[]: titles and
    // dates, no amounts, no emails.
    let text = app
        .send(
            "GET",
            &format!("/api/freelancer/contract/completed-works/{}", p.freelancer),
            None,
            None,
        )
        .await
        .text()
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["count"], 1);
    assert_eq!(v["contracts"][0]["jobId"]["title"], job_title);
    assert!(v["contracts"][0]["createdAt"].is_string());
    for private in ["amount", "email", "platformFee", "cancelReason"] {
        assert!(
            !text.contains(private),
            "{private} in a public list: {text}"
        );
    }
    // pages/admin/Dashboard.tsx: balance and revenue as rupee numbers; the sales report's
    // rows with createdAt, amount, freelancerEarning, platformFee (toFixed(2) on each).
    let v = get(app, "/api/admin/escrow/total-revenue", Some(&p.admin_token)).await;
    assert!(minor(&v["data"]) >= 15_005, "{v}");
    let v = get(app, "/api/admin/escrow/balance", Some(&p.admin_token)).await;
    assert!(v["data"].is_number(), "{v}");
    let v = get(app, "/api/admin/escrow/sales-report", Some(&p.admin_token)).await;
    let month = &v["data"][0];
    assert!(
        month["createdAt"]
            .as_str()
            .is_some_and(|t| t.ends_with("-01T00:00:00.000Z")),
        "{v}"
    );
    for field in ["amount", "freelancerEarning", "platformFee"] {
        assert!(month[field].is_number(), "{field}: {v}");
    }
    assert!(minor(&month["amount"]) >= 150_050, "{v}");
    // pages/admin/Payments.tsx: transactions (the whole list) → data[] with
    // clientId.name.toLowerCase(), transactionType, amount, platformFee, status, createdAt.
    let v = get(
        app,
        "/api/admin/escrow/transactions?limit=1000",
        Some(&p.admin_token),
    )
    .await;
    let row = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["contractId"]["_id"] == p.contract.as_str())
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(party(&row["clientId"]).0, client_name.to_lowercase());
    assert_eq!(
        party(&row["freelancerId"]).0,
        freelancer_name.to_lowercase()
    );
    assert_eq!(row["transactionType"], "credit");
    assert_eq!(minor(&row["amount"]), 150_050);
    assert_eq!(minor(&row["platformFee"]), 15_005);
    assert_eq!(row["status"], "released");
    assert!(row["createdAt"].is_string());
    assert!(
        row["contractId"]["contractId"]
            .as_str()
            .unwrap()
            .starts_with("CON")
    );
    // pages/admin/Contracts.tsx: all-contracts → data[].
    let v = get(
        app,
        "/api/client/contract/all-contracts",
        Some(&p.admin_token),
    )
    .await;
    assert!(
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["_id"] == p.contract.as_str()),
        "{v}"
    );
}

#[tokio::test]
async fn the_contract_pages_work_without_a_directory() {
    let app = TestApp::spawn().await;
    let mut p = app.parties();
    contract_pages(&app, &mut p, ("", "", "")).await;
    app.stop().await;
}

#[tokio::test]
async fn the_contract_pages_show_the_original_s_users_and_jobs_from_its_directory() {
    let Some(o) = Original::seed().await else {
        return;
    };
    let app = o.app().await;
    let mut p = o.parties(&app, &o.open_job, &o.freelancer);
    contract_pages(
        &app,
        &mut p,
        ("Asha Client", "Ravi Freelancer", "Logo design"),
    )
    .await;
    let v = get(
        &app,
        &format!("/api/freelancer/contract/view-contract/{}", p.contract),
        Some(&p.client_token),
    )
    .await;
    let c = &v["contract"];
    assert_eq!(c["clientId"]["email"], "asha@example.com");
    assert_eq!(c["clientId"]["profilePic"], "https://img.example/asha.png");
    assert_eq!(
        c["freelancerId"]["profilePic"],
        "https://img.example/ravi.png"
    );
    assert_eq!(c["jobId"]["description"], "A logo for a bakery");
    assert_eq!(minor(&c["jobId"]["rate"]), 150_050);
    app.stop().await;
    o.drop().await;
}

#[tokio::test]
async fn a_client_cancels_an_unfunded_contract_and_a_funded_one_goes_through_refund() {
    let app = TestApp::spawn().await;
    let p = app.approved_contract(json!(1000)).await;
    // ContractDetails.tsx: deleteContract(contractId) → message.
    let path = format!("/api/client/contract/cancel-contract/{}", p.contract);
    let r = app.send("DELETE", &path, Some(&p.client_token), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert!(v["message"].is_string());
    let detail = app.contract(&p).await;
    assert_eq!(detail["contract"]["status"], "Canceled");
    assert_eq!(detail["contract"]["canceledBy"], "Client");
    let history = detail["contract"]["statusHistory"].as_array().unwrap();
    assert_eq!(history.last().unwrap()["status"], "Canceled");
    // The job is free again: a new contract can be made for it. A body of `null`, which the
    // document allows for this optional body, is no body.
    let r = app.create_contract(&p, json!(1000)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let again = r.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/client/contract/cancel-contract/{again}");
    let r = app
        .send("DELETE", &path, Some(&p.client_token), Some(Value::Null))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // A funded contract is refunded, not canceled.
    let funded = app.funded_contract().await;
    let r = app
        .send(
            "DELETE",
            &format!("/api/client/contract/cancel-contract/{}", funded.contract),
            Some(&funded.client_token),
            None,
        )
        .await;
    assert_eq!(
        error_code(r).await,
        (StatusCode::CONFLICT, "state.conflict".into())
    );
    assert_eq!(app.contract(&funded).await["escrow"]["status"], "funded");
    app.stop().await;
}

#[tokio::test]
async fn an_admin_frees_a_job_an_unfunded_contract_squats_on() {
    let app = TestApp::spawn().await;
    let squat = app.approved_contract(json!(1000)).await;
    let r = app
        .send(
            "PUT",
            &format!("/api/admin/contract/cancel/{}", squat.contract),
            Some(&squat.admin_token),
            Some(json!({"cancelReason": "job squatted"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let c = app.contract(&squat).await;
    assert_eq!(c["contract"]["status"], "Canceled");
    assert_eq!(c["contract"]["canceledBy"], "Admin");
    assert_eq!(c["contract"]["cancelReason"], "job squatted");
    app.stop().await;
}

/// The original's pages show `contractId`, the human id ("CON…"), and a client may well send
/// it back where a route says `:contractId`: every such route takes it as it takes the 24-hex
/// id, with the same checks on who may act; an unknown number is 404 and a malformed one 400.
#[tokio::test]
async fn the_human_contract_id_names_the_contract_on_every_contract_route() {
    let app = TestApp::spawn().await;
    let p = app.funded_contract().await;
    let view = format!("/api/freelancer/contract/view-contract/{}", p.contract);
    let human = get(&app, &view, Some(&p.client_token)).await["contract"]["contractId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut h = p.clone();
    h.contract = human.clone();
    let v = get(
        &app,
        &format!("/api/freelancer/contract/view-contract/{human}"),
        Some(&p.freelancer_token),
    )
    .await;
    assert_eq!(v["contract"]["_id"], p.contract.as_str());
    assert_eq!(
        app.contract(&h).await["contract"]["id"],
        p.contract.as_str()
    );
    // Someone else's client is refused as with the id, and nothing moves.
    let mut outsider = app.parties();
    outsider.contract = human.clone();
    assert_eq!(
        error_code(app.request_release(&outsider).await).await,
        (StatusCode::FORBIDDEN, "auth.not_party".into())
    );
    for s in ["Started", "Ongoing", "Completed"] {
        assert_eq!(app.set_status(&h, s).await.status(), StatusCode::OK, "{s}");
    }
    assert_eq!(app.request_release(&h).await.status(), StatusCode::OK);
    assert_eq!(app.release(&h).await.status(), StatusCode::OK);
    // Once: the second release by the other name is the state machine's 409.
    assert_eq!(
        error_code(app.release(&p).await).await,
        (StatusCode::CONFLICT, "escrow.wrong_state".into())
    );
    assert_eq!(app.contract(&p).await["escrow"]["status"], "released");
    assert!(app.verify().await.ok());
    for (name, want) in [
        ("CON99999999", (StatusCode::NOT_FOUND, "contract.not_found")),
        ("CON-1", (StatusCode::BAD_REQUEST, "request.invalid_id")),
        ("CONTRACT", (StatusCode::BAD_REQUEST, "request.invalid_id")),
    ] {
        let r = app
            .send(
                "GET",
                &format!("/api/contracts/{name}"),
                Some(&p.admin_token),
                None,
            )
            .await;
        assert_eq!(error_code(r).await, (want.0, want.1.into()), "{name}");
    }
    app.stop().await;
}
