//! Reviews (`reviews`, one per contract by a unique column) and each freelancer's count,
//! rating sum and change counter (`review_stats`, kept by triggers in the review's own
//! transaction: see migration 3).

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::rows::{REVIEW_COLUMNS, review_from_row};
use super::{SqliteStore, map_err};
use crate::domain::{ContractId, Review, UserId};
use crate::store::{Page, ReviewPage, ReviewStore, StoreError, StoreResult};

/// A freelancer's reviews, newest first: `?1` freelancer, `?2` limit, `?3` offset.
/// One page of a freelancer's reviews: `?1` the freelancer, `?2`/`?3` limit and offset, `?4`/`?5`
/// the keyset bounds ([`super::rows::keyset`]). The `(freelancer_id, created_at DESC, id DESC)`
/// index serves the order and the cursor alike.
pub(super) const REVIEWS_PAGE_SQL: &str = "SELECT id, contract_id, client_id, freelancer_id, rating, description, created_at FROM reviews WHERE freelancer_id = ?1 AND created_at <= ?4 AND (created_at < ?4 OR id < ?5) ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3";

#[async_trait]
impl ReviewStore for SqliteStore {
    async fn insert_review(&self, review: &Review) -> StoreResult<()> {
        let r = review.clone();
        self.write(move |tx| {
            tx.execute(
                &format!(
                    "INSERT INTO reviews ({REVIEW_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ),
                params![
                    r.id.as_str(),
                    r.contract_id.as_str(),
                    r.client_id.as_str(),
                    r.freelancer_id.as_str(),
                    r.rating.get(),
                    r.description,
                    r.created_at
                ],
            )
            .map_err(|e| match map_err(e) {
                StoreError::Duplicate(_) => StoreError::Duplicate(format!(
                    "contract {} already has a review",
                    r.contract_id
                )),
                e => e,
            })?;
            Ok(())
        })
        .await
    }

    async fn reviews_for_freelancer(
        &self,
        freelancer: &UserId,
        page: &Page,
    ) -> StoreResult<ReviewPage> {
        let f = freelancer.as_str();
        let (after_at, after_id) = super::rows::keyset(page);
        let (count, rating_sum, rows) = self.read_now(|c| {
            // One snapshot for the aggregate and the page.
            let tx = c.transaction().map_err(map_err)?;
            let (count, sum): (i64, i64) = tx
                .prepare_cached(
                    "SELECT count, rating_sum FROM review_stats WHERE freelancer_id = ?1",
                )
                .and_then(|mut s| s.query_row([f], |r| Ok((r.get(0)?, r.get(1)?))).optional())
                .map_err(map_err)?
                .unwrap_or((0, 0));
            let mut stmt = tx.prepare_cached(REVIEWS_PAGE_SQL).map_err(map_err)?;
            let rows = stmt
                .query_map(
                    params![f, page.limit, page.offset() as i64, after_at, after_id],
                    review_from_row,
                )
                .map_err(map_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(map_err)?;
            Ok((count, sum, rows))
        })?;
        Ok(ReviewPage {
            count: count as u64,
            rating_sum,
            reviews: rows,
        })
    }

    async fn review_for_contract(&self, contract: &ContractId) -> StoreResult<Option<Review>> {
        self.read_now(|c| {
            c.prepare_cached(&format!(
                "SELECT {REVIEW_COLUMNS} FROM reviews WHERE contract_id = ?1"
            ))
            .and_then(|mut s| s.query_row([contract.as_str()], review_from_row).optional())
            .map_err(map_err)
        })
    }

    async fn reviews_generation(&self, freelancer: &UserId) -> StoreResult<Option<i64>> {
        let generation: Option<i64> = self.read_now(|c| {
            c.prepare_cached("SELECT generation FROM review_stats WHERE freelancer_id = ?1")
                .and_then(|mut s| s.query_row([freelancer.as_str()], |r| r.get(0)).optional())
                .map_err(map_err)
        })?;
        Ok(Some(generation.unwrap_or(0)))
    }
}
