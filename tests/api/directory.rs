//! The original app's own database as the directory (`ESCROW_DIRECTORY_URL`), on the MongoDB
//! emulator (nx-27017; `scripts/test` starts it and sets `ESCROW_TEST_MONGODB_URI`), seeded with
//! documents in the original's shapes (Mongoose: ObjectId `_id`s and references). Without the
//! emulator these tests say they were skipped.

use bson::oid::ObjectId;
use bson::{Document, doc};
use escrow::auth::Role;
use escrow::domain::{JobId, UserId};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Parties, TestApp, error_code};

/// The original's database, seeded: a client with two jobs (one Open, one Closed), a
/// freelancer who applied to the open one, another who did not, a blocked user and an admin.
pub struct Original {
    pub url: String,
    db: mongodb::Database,
    pub client: UserId,
    pub freelancer: UserId,
    pub other_freelancer: UserId,
    pub blocked: UserId,
    pub admin: UserId,
    pub open_job: JobId,
    pub closed_job: JobId,
}

fn id(o: ObjectId) -> String {
    o.to_hex()
}

impl Original {
    /// `None` (after saying so) when no emulator is configured.
    pub async fn seed() -> Option<Original> {
        let Ok(uri) = std::env::var("ESCROW_TEST_MONGODB_URI") else {
            eprintln!(
                "directory tests SKIPPED: ESCROW_TEST_MONGODB_URI is not set (scripts/test starts the nx-27017 emulator and sets it)"
            );
            return None;
        };
        let name = format!("skillora_{}", escrow::domain::ids::new_object_id_hex());
        let (base, query) = uri
            .split_once("/?")
            .unwrap_or((uri.trim_end_matches('/'), ""));
        let url = format!("{}/{name}?{query}", base.trim_end_matches('/'));
        let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
        let db = client.database(&name);
        let [c, f, g, b, a, open, closed] = [(); 7].map(|_| ObjectId::new());
        let users: Vec<Document> = vec![
            doc! {"_id": c, "name": "Asha Client", "email": "asha@example.com", "role": "client", "status": "active"},
            doc! {"_id": f, "name": "Ravi Freelancer", "email": "ravi@example.com", "role": "freelancer", "status": "active", "profilePic": "https://img.example/ravi.png"},
            doc! {"_id": g, "name": "Gita Freelancer", "email": "gita@example.com", "role": "freelancer", "status": "active"},
            doc! {"_id": b, "name": "Blocked Client", "email": "blocked@example.com", "role": "client", "status": "blocked"},
            doc! {"_id": a, "name": "Admin", "email": "admin@example.com", "role": "admin", "status": "active"},
        ];
        db.collection::<Document>("users")
            .insert_many(users)
            .await
            .unwrap();
        db.collection::<Document>("clients")
            .insert_one(doc! {"userId": c, "firstName": "Asha", "profilePic": "https://img.example/asha.png"})
            .await
            .unwrap();
        db.collection::<Document>("jobs")
            .insert_many(vec![
                doc! {"_id": open, "title": "Logo design", "description": "A logo for a bakery", "rate": 1500.5, "experienceLevel": "Beginner", "location": "Remote", "clientId": c, "status": "Open", "applicants": 1},
                doc! {"_id": closed, "title": "Old job", "description": "Done", "rate": 100, "experienceLevel": "Expert", "location": "Remote", "clientId": c, "status": "Closed"},
            ])
            .await
            .unwrap();
        db.collection::<Document>("applications")
            .insert_one(
                doc! {"jobId": open, "freelancerId": f, "status": "Pending", "isApplied": true},
            )
            .await
            .unwrap();
        Some(Original {
            url,
            db,
            client: UserId::parse(&id(c)).unwrap(),
            freelancer: UserId::parse(&id(f)).unwrap(),
            other_freelancer: UserId::parse(&id(g)).unwrap(),
            blocked: UserId::parse(&id(b)).unwrap(),
            admin: UserId::parse(&id(a)).unwrap(),
            open_job: JobId::parse(&id(open)).unwrap(),
            closed_job: JobId::parse(&id(closed)).unwrap(),
        })
    }

    /// An app reading this directory.
    pub async fn app(&self) -> TestApp {
        TestApp::spawn_with(&[("ESCROW_DIRECTORY_URL", &self.url)]).await
    }

    /// The parties of a contract on `job` between the seeded client and `freelancer`.
    pub fn parties(&self, app: &TestApp, job: &JobId, freelancer: &UserId) -> Parties {
        Parties {
            client: self.client.clone(),
            freelancer: freelancer.clone(),
            client_token: app.token(Role::Client, &self.client),
            freelancer_token: app.token(Role::Freelancer, freelancer),
            admin_token: app.token(Role::Admin, &self.admin),
            job: job.clone(),
            contract: String::new(),
        }
    }

    pub async fn drop(self) {
        let _ = self.db.drop().await;
    }
}

#[tokio::test]
async fn create_contract_checks_the_job_and_the_application_as_the_original_did() {
    let Some(o) = Original::seed().await else {
        return;
    };
    let app = o.app().await;
    // The freelancer who did not apply; a job that is Closed; a job nobody posted; a job of
    // another client.
    let not_applied = o.parties(&app, &o.open_job, &o.other_freelancer);
    assert_eq!(
        error_code(app.create_contract(&not_applied, json!(1500.5)).await).await,
        (StatusCode::CONFLICT, "job.not_applied".into())
    );
    let closed = o.parties(&app, &o.closed_job, &o.freelancer);
    assert_eq!(
        error_code(app.create_contract(&closed, json!(100)).await).await,
        (StatusCode::CONFLICT, "job.not_open".into())
    );
    let unknown = o.parties(&app, &JobId::generate(), &o.freelancer);
    assert_eq!(
        error_code(app.create_contract(&unknown, json!(100)).await).await,
        (StatusCode::NOT_FOUND, "job.not_found".into())
    );
    let mut squatter = o.parties(&app, &o.open_job, &o.freelancer);
    squatter.client = o.blocked.clone();
    let intruder = UserId::generate();
    squatter.client_token = app.token(Role::Client, &intruder);
    assert_eq!(
        error_code(app.create_contract(&squatter, json!(1500.5)).await).await,
        (StatusCode::UNAUTHORIZED, "auth.unknown_user".into()),
        "a user the original does not know"
    );
    assert_eq!(
        app.state.service.store().count_contracts().await.unwrap(),
        0
    );
    // The job's own client, for the freelancer who applied.
    let ok = o.parties(&app, &o.open_job, &o.freelancer);
    let r = app.create_contract(&ok, json!(1500.5)).await;
    let status = r.status();
    assert_eq!(status, StatusCode::CREATED, "{}", r.text().await.unwrap());
    app.stop().await;
    o.drop().await;
}

#[tokio::test]
async fn a_blocked_user_is_refused_everywhere() {
    let Some(o) = Original::seed().await else {
        return;
    };
    let app = o.app().await;
    let token = app.token(Role::Client, &o.blocked);
    for (method, path) in [
        ("GET", "/api/freelancer/wallet".to_string()),
        (
            "POST",
            format!("/api/client/contract/create-contract/{}", o.open_job),
        ),
    ] {
        let r = app
            .send(
                method,
                &path,
                Some(&token),
                Some(json!({"freelancerId": o.freelancer.as_str(), "amount": 1})),
            )
            .await;
        assert_eq!(
            error_code(r).await,
            (StatusCode::FORBIDDEN, "auth.blocked".into()),
            "{path}"
        );
    }
    app.stop().await;
    o.drop().await;
}
