//! The original app's own database as the directory: `ESCROW_DIRECTORY_URL=mongodb://…/<db>`,
//! read only. Its documents are Mongoose's: `_id`s are ObjectIds (queried with `$in`), users
//! `{name, email, profilePic?, status}`, profile pictures also on `clients`/`freelancers`
//! `{userId, profilePic}`, jobs `{title, description, rate, status, clientId}`, applications
//! `{jobId, freelancerId, isApplied?}`. Every ObjectId filter is an `$in` (the only form the
//! nx-27017 emulator the tests run on matches; it means the same on MongoDB). Each page's ids are fetched in one query per
//! collection; what was read is kept for [`CACHE_FOR`], so a user's blocked status is seen
//! within that long (the original re-read the user on every request).

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use bson::oid::ObjectId;
use bson::{Bson, Document, doc};
use futures_util::TryStreamExt;
use mongodb::{Client, Collection, Database};

use super::{Directory, DirectoryError, JobCard, UserCard};
use crate::domain::{JobId, MinorUnits, UserId};

/// How long a card read from the original's database is kept.
pub const CACHE_FOR: Duration = Duration::from_secs(30);
/// How many cards of each kind are kept at most.
const CACHE_CARDS_MAX: u64 = 50_000;

pub struct MongoDirectory {
    db: Database,
    users: moka::future::Cache<UserId, Option<UserCard>>,
    jobs: moka::future::Cache<JobId, Option<JobCard>>,
}

fn cache<K, V>() -> moka::future::Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    moka::future::Cache::builder()
        .max_capacity(CACHE_CARDS_MAX)
        .time_to_live(CACHE_FOR)
        .build()
}

fn failed(e: mongodb::error::Error) -> DirectoryError {
    DirectoryError(e.to_string())
}

fn oid(hex: &str) -> Option<ObjectId> {
    ObjectId::from_str(hex).ok()
}

fn text(d: &Document, key: &str) -> String {
    match d.get(key) {
        Some(Bson::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// A stored `rate` (a JS number: a double, or an integer) as minor units, when it is a whole
/// number of paise.
fn rate(d: &Document) -> Option<MinorUnits> {
    let text = match d.get("rate")? {
        Bson::Int32(n) => n.to_string(),
        Bson::Int64(n) => n.to_string(),
        // The double's shortest decimal form, which is the number the original's client sent.
        Bson::Double(f) if f.is_finite() => f.to_string(),
        _ => return None,
    };
    crate::domain::Money::parse_major(&text, crate::domain::Currency::Inr)
        .ok()
        .map(|m| m.minor)
}

impl MongoDirectory {
    /// Connects to `url`, whose path names the database (`mongodb://host/skillora`).
    pub async fn connect(url: &str) -> Result<MongoDirectory, DirectoryError> {
        let options = mongodb::options::ClientOptions::parse(url)
            .await
            .map_err(failed)?;
        let name = options.default_database.clone().ok_or_else(|| {
            DirectoryError(
                "ESCROW_DIRECTORY_URL must name the database: mongodb://host/<db>".into(),
            )
        })?;
        let client = Client::with_options(options).map_err(failed)?;
        Ok(MongoDirectory {
            db: client.database(&name),
            users: cache(),
            jobs: cache(),
        })
    }

    fn collection(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }

    async fn find(&self, name: &str, filter: Document) -> Result<Vec<Document>, DirectoryError> {
        self.collection(name)
            .find(filter)
            .await
            .map_err(failed)?
            .try_collect()
            .await
            .map_err(failed)
    }

    /// Reads the users of `ids` from the database (no cache).
    async fn read_users(
        &self,
        ids: &[UserId],
    ) -> Result<HashMap<UserId, UserCard>, DirectoryError> {
        let oids: Vec<ObjectId> = ids.iter().filter_map(|i| oid(i.as_str())).collect();
        if oids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut cards = HashMap::new();
        for d in self.find("users", doc! {"_id": {"$in": &oids}}).await? {
            let Some(id) = d
                .get_object_id("_id")
                .ok()
                .and_then(|o| UserId::parse(&o.to_hex()).ok())
            else {
                continue;
            };
            cards.insert(
                id,
                UserCard {
                    name: text(&d, "name"),
                    email: text(&d, "email"),
                    profile_pic: text(&d, "profilePic"),
                    blocked: text(&d, "status") == "blocked",
                },
            );
        }
        // Profile pictures the user document lacks live on the client or freelancer profile.
        let bare: Vec<ObjectId> = cards
            .iter()
            .filter(|(_, c)| c.profile_pic.is_empty())
            .filter_map(|(id, _)| oid(id.as_str()))
            .collect();
        if !bare.is_empty() {
            for profiles in ["clients", "freelancers"] {
                for d in self.find(profiles, doc! {"userId": {"$in": &bare}}).await? {
                    let pic = text(&d, "profilePic");
                    let user = d
                        .get_object_id("userId")
                        .ok()
                        .and_then(|o| UserId::parse(&o.to_hex()).ok());
                    if let Some(card) = user.and_then(|u| cards.get_mut(&u))
                        && card.profile_pic.is_empty()
                    {
                        card.profile_pic = pic;
                    }
                }
            }
        }
        Ok(cards)
    }

    async fn read_jobs(&self, ids: &[JobId]) -> Result<HashMap<JobId, JobCard>, DirectoryError> {
        let oids: Vec<ObjectId> = ids.iter().filter_map(|i| oid(i.as_str())).collect();
        if oids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut cards = HashMap::new();
        for d in self.find("jobs", doc! {"_id": {"$in": &oids}}).await? {
            let Some(id) = d
                .get_object_id("_id")
                .ok()
                .and_then(|o| JobId::parse(&o.to_hex()).ok())
            else {
                continue;
            };
            let status = text(&d, "status");
            cards.insert(
                id,
                JobCard {
                    title: text(&d, "title"),
                    description: text(&d, "description"),
                    rate: rate(&d),
                    // The original's default.
                    status: if status.is_empty() {
                        "Open".into()
                    } else {
                        status
                    },
                    client_id: d
                        .get_object_id("clientId")
                        .ok()
                        .and_then(|o| UserId::parse(&o.to_hex()).ok()),
                },
            );
        }
        Ok(cards)
    }
}

/// Cached lookups of `ids`: those not in `cache` are read with `read` in one batch, and every
/// id read is cached (an unknown one as `None`).
async fn cached<K, V, F>(
    cache: &moka::future::Cache<K, Option<V>>,
    ids: &[K],
    read: F,
) -> Result<HashMap<K, V>, DirectoryError>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    F: AsyncFnOnce(&[K]) -> Result<HashMap<K, V>, DirectoryError>,
{
    let mut found = HashMap::new();
    let mut missing = Vec::new();
    for id in ids {
        match cache.get(id).await {
            Some(Some(card)) => {
                found.insert(id.clone(), card);
            }
            Some(None) => {}
            None if !missing.contains(id) => missing.push(id.clone()),
            None => {}
        }
    }
    if !missing.is_empty() {
        let read = read(&missing).await?;
        for id in missing {
            let card = read.get(&id).cloned();
            cache.insert(id.clone(), card.clone()).await;
            if let Some(card) = card {
                found.insert(id, card);
            }
        }
    }
    Ok(found)
}

#[async_trait]
impl Directory for MongoDirectory {
    fn knows(&self) -> bool {
        true
    }

    async fn users(&self, ids: &[UserId]) -> Result<HashMap<UserId, UserCard>, DirectoryError> {
        cached(&self.users, ids, async |missing| {
            self.read_users(missing).await
        })
        .await
    }

    async fn jobs(&self, ids: &[JobId]) -> Result<HashMap<JobId, JobCard>, DirectoryError> {
        cached(&self.jobs, ids, async |missing| {
            self.read_jobs(missing).await
        })
        .await
    }

    async fn applied(&self, job: &JobId, freelancer: &UserId) -> Result<bool, DirectoryError> {
        let (Some(job), Some(freelancer)) = (oid(job.as_str()), oid(freelancer.as_str())) else {
            return Ok(false);
        };
        // `isApplied: false` (a withdrawn application) is checked here, not in the query.
        let applications = self
            .find(
                "applications",
                doc! {"jobId": {"$in": [job]}, "freelancerId": {"$in": [freelancer]}},
            )
            .await?;
        Ok(applications
            .iter()
            .any(|a| !matches!(a.get("isApplied"), Some(Bson::Boolean(false)))))
    }
}
