//! Who the users and jobs are: the original app's own records, read, never written. The
//! original populated every contract, escrow and review with its users (`name`, `email`,
//! `profilePic`) and jobs (`title`, `description`, `rate`), and checked at create-contract that
//! the job is Open, is the caller's, and that the freelancer applied to it. This escrow keeps
//! none of that itself: a [`Directory`] answers, or (without one) [`NoDirectory`] says nothing
//! is known, so views show empty strings and create-contract trusts the job id.
//!
//! - [`NoDirectory`]: the default.
//! - [`mongo::MongoDirectory`] (feature `mongodb`): `ESCROW_DIRECTORY_URL=mongodb://…/<db>`, the
//!   original's `users`, `clients`, `freelancers`, `jobs` and `applications` collections, read in
//!   one batch per page, kept a short while.

#[cfg(feature = "mongodb")]
pub mod mongo;

use std::collections::HashMap;

use async_trait::async_trait;

use crate::domain::{JobId, MinorUnits, UserId};

/// What a view shows of a user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserCard {
    pub name: String,
    pub email: String,
    pub profile_pic: String,
    /// The original's `status: "blocked"`: such a user may not act.
    pub blocked: bool,
}

/// What a view shows of a job, and what create-contract checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobCard {
    pub title: String,
    pub description: String,
    /// The job's `rate` in minor units, when the stored number is a whole number of paise.
    pub rate: Option<MinorUnits>,
    /// "Open", "Ongoing", "Closed".
    pub status: String,
    pub client_id: Option<UserId>,
}

#[derive(Debug, thiserror::Error)]
#[error("the directory is unavailable: {0}")]
pub struct DirectoryError(pub String);

/// Read-only access to the users and jobs of the marketplace.
#[async_trait]
pub trait Directory: Send + Sync {
    /// Whether this directory knows anything (`false` for [`NoDirectory`]): the checks of
    /// create-contract and of blocked users apply only when it does.
    fn knows(&self) -> bool;
    /// The cards of those of `ids` it knows.
    async fn users(&self, ids: &[UserId]) -> Result<HashMap<UserId, UserCard>, DirectoryError>;
    /// The cards of those of `ids` it knows.
    async fn jobs(&self, ids: &[JobId]) -> Result<HashMap<JobId, JobCard>, DirectoryError>;
    /// Whether `freelancer` applied to `job`.
    async fn applied(&self, job: &JobId, freelancer: &UserId) -> Result<bool, DirectoryError>;
}

/// No directory: nothing is known about users and jobs.
pub struct NoDirectory;

#[async_trait]
impl Directory for NoDirectory {
    fn knows(&self) -> bool {
        false
    }

    async fn users(&self, _: &[UserId]) -> Result<HashMap<UserId, UserCard>, DirectoryError> {
        Ok(HashMap::new())
    }

    async fn jobs(&self, _: &[JobId]) -> Result<HashMap<JobId, JobCard>, DirectoryError> {
        Ok(HashMap::new())
    }

    async fn applied(&self, _: &JobId, _: &UserId) -> Result<bool, DirectoryError> {
        Ok(true)
    }
}

/// The cards a page of records refers to, fetched in one batch each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cards {
    pub users: HashMap<UserId, UserCard>,
    pub jobs: HashMap<JobId, JobCard>,
}

impl Cards {
    /// The user's card, or an empty one (so `clientId.name.toLowerCase()` still works).
    pub fn user(&self, id: &UserId) -> UserCard {
        self.users.get(id).cloned().unwrap_or_default()
    }

    pub fn job(&self, id: &JobId) -> JobCard {
        self.jobs.get(id).cloned().unwrap_or_default()
    }
}
