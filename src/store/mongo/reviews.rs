//! Reviews (`reviews`): `_id` is the review id, a unique index on `contractId` keeps one per
//! contract.

use async_trait::async_trait;
use bson::{Bson, doc};

use super::docs::{RatingSums, ReviewDoc};
use super::{MongoStore, collect, is_duplicate_key, map_err};
use crate::domain::{ContractId, Review, UserId};
use crate::store::{Page, ReviewPage, ReviewStore, StoreError, StoreResult};

#[async_trait]
impl ReviewStore for MongoStore {
    async fn insert_review(&self, review: &Review) -> StoreResult<()> {
        match self.reviews.insert_one(ReviewDoc::from(review)).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Err(StoreError::Duplicate(format!(
                "contract {} already has a review",
                review.contract_id
            ))),
            Err(e) => Err(map_err(e)),
        }
    }

    async fn reviews_for_freelancer(
        &self,
        freelancer: &UserId,
        page: &Page,
    ) -> StoreResult<ReviewPage> {
        let filter = doc! {"freelancerId": freelancer.as_str()};
        let pipeline = [
            doc! {"$match": filter.clone()},
            doc! {"$group": {"_id": Bson::Null, "count": {"$sum": 1_i64}, "total": {"$sum": "$rating"}}},
        ];
        let sums = collect(
            self.reviews
                .aggregate(pipeline)
                .with_type::<RatingSums>()
                .await
                .map_err(map_err)?,
        )
        .await?;
        let (count, total) = sums.first().map_or((0, 0), |s| (s.count, s.total));
        let cursor = self
            .reviews
            .find(super::keyset_filter(filter, "createdAt", page))
            .sort(doc! {"createdAt": -1, "_id": -1})
            .skip(page.offset())
            .limit(page.limit.into())
            .await
            .map_err(map_err)?;
        let reviews = collect(cursor)
            .await?
            .into_iter()
            .map(Review::try_from)
            .collect::<StoreResult<_>>()?;
        Ok(ReviewPage {
            count: count.max(0) as u64,
            rating_sum: total,
            reviews,
        })
    }

    async fn review_for_contract(&self, contract: &ContractId) -> StoreResult<Option<Review>> {
        self.reviews
            .find_one(doc! {"contractId": contract.as_str()})
            .await
            .map_err(map_err)?
            .map(Review::try_from)
            .transpose()
    }
}
