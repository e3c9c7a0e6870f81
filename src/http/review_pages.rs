//! Rendered `show-reviews` pages, kept while the store's reviews generation of their
//! freelancer stays the same: the most read page of the API answers from memory, and a review
//! written by any process sharing the store is seen at once (the generation, one indexed row,
//! moves with it). With a directory the pages also show the reviewers' names, which change
//! outside the store: a page is then kept no longer than the directory keeps a name.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::domain::UserId;
use crate::service::{Error, Result, Service};
use crate::store::Page;
use crate::views::ReviewsPage;

/// Rendered review pages kept at most (then all are dropped; they are rebuilt on demand).
const REVIEW_PAGES_KEPT_MAX: usize = 4096;

#[derive(Default)]
pub struct ReviewPages {
    pages: Mutex<HashMap<(UserId, Page), Kept>>,
}

/// A rendered page: the reviews generation it was rendered at, when, and the JSON.
type Kept = (i64, Instant, Bytes);

/// How long a page showing the directory's names is kept.
const PAGE_WITH_NAMES_FOR: Duration = Duration::from_secs(30);

impl ReviewPages {
    /// The page as JSON, from the kept copy when the freelancer's reviews have not changed.
    pub async fn get(&self, service: &Service, freelancer: &UserId, page: Page) -> Result<Bytes> {
        let Some(generation) = service.reviews_generation(freelancer).await? else {
            return render(service, freelancer, page).await;
        };
        let key = (freelancer.clone(), page.clone());
        let names = service.directory().knows();
        if let Some((kept, at, body)) = self.pages.lock().expect("never poisoned").get(&key)
            && *kept == generation
            && (!names || at.elapsed() < PAGE_WITH_NAMES_FOR)
        {
            return Ok(body.clone());
        }
        // Rendered from a read at or after `generation`: a newer page kept under an older
        // generation is never served (the generation read next time is newer still).
        let body = render(service, freelancer, page).await?;
        let mut pages = self.pages.lock().expect("never poisoned");
        if pages.len() >= REVIEW_PAGES_KEPT_MAX {
            pages.clear();
        }
        pages.insert(key, (generation, Instant::now(), body.clone()));
        Ok(body)
    }
}

async fn render(service: &Service, freelancer: &UserId, page: Page) -> Result<Bytes> {
    let reviews = service.reviews(freelancer, page).await?;
    serde_json::to_vec(&ReviewsPage::from(&reviews))
        .map(Bytes::from)
        .map_err(|e| Error::internal(format!("cannot render JSON: {e}")))
}
