//! Reviews: a client rates the freelancer of one of its completed contracts, once; anyone
//! reads a freelancer's reviews with their average.

use crate::domain::{ContractId, Rating, Review, UserId};
use crate::store::{Cursor, Page, ReviewPage, StoreError};

use super::Service;
use super::access::{Permit, UseCase, not_party};
use super::error::{Error, ErrorCode, Result};

/// `rate-freelancer`: the client is the one the route names (the permit checked it is the
/// caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview {
    pub contract: ContractId,
    pub freelancer: UserId,
    pub rating: Rating,
    pub description: String,
}

/// A freelancer's reviews: the count and average over all of them, and one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviews {
    pub count: u64,
    /// The mean rating × 100, rounded half up in integer arithmetic; 0 with no reviews.
    pub average_rating_x100: i64,
    pub page: Page,
    pub reviews: Vec<Review>,
    /// Where the next page starts, when there may be one.
    pub next: Option<Cursor>,
    /// The directory's cards of the reviewers.
    pub cards: crate::directory::Cards,
}

impl Reviews {
    fn of(found: ReviewPage, page: Page) -> Reviews {
        let average_rating_x100 = if found.count == 0 {
            0
        } else {
            let count = found.count as i128;
            ((found.rating_sum as i128 * 100 * 2 + count) / (2 * count)) as i64
        };
        Reviews {
            count: found.count,
            average_rating_x100,
            next: page.next(&found.reviews, Cursor::of_review),
            page,
            reviews: found.reviews,
            cards: Default::default(),
        }
    }
}

impl Service {
    pub async fn rate_freelancer(&self, permit: Permit<'_>, new: NewReview) -> Result<Review> {
        let UseCase::RateFreelancer { client } = permit.use_case() else {
            panic!("a permit for {:?} used to rate", permit.use_case());
        };
        let client = client.clone();
        let c = self.load(&new.contract).await?;
        if c.client_id != client {
            return Err(not_party());
        }
        let review = Review::new(
            &c,
            &client,
            &new.freelancer,
            new.rating,
            &new.description,
            self.clock.now_ms(),
        )?;
        match self.store.insert_review(&review).await {
            Ok(()) => Ok(review),
            Err(StoreError::Duplicate(_)) => Err(Error::new(
                ErrorCode::ReviewExists,
                "a review already exists for this contract",
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// A freelancer's reviews, newest first (public).
    pub async fn reviews(&self, freelancer: &UserId, page: Page) -> Result<Reviews> {
        let found = self.store.reviews_for_freelancer(freelancer, &page).await?;
        let mut reviews = Reviews::of(found, page);
        if self.directory.knows() && !reviews.reviews.is_empty() {
            let mut clients: Vec<UserId> = reviews
                .reviews
                .iter()
                .map(|r| r.client_id.clone())
                .collect();
            clients.sort();
            clients.dedup();
            reviews.cards.users = self.directory.users(&clients).await?;
        }
        Ok(reviews)
    }

    /// A number that moves whenever the freelancer's reviews change (see
    /// `ReviewStore::reviews_generation`), for keeping rendered pages; `None` when the store
    /// keeps none.
    pub async fn reviews_generation(&self, freelancer: &UserId) -> Result<Option<i64>> {
        Ok(self.store.reviews_generation(freelancer).await?)
    }

    /// The review of a contract (an operator's read); not found when the contract is not.
    pub async fn review_of_contract(
        &self,
        permit: Permit<'_>,
        id: &ContractId,
    ) -> Result<Option<Review>> {
        permit.expect(UseCase::Operate);
        // The contract must exist: "no review" for a mistyped id would mislead.
        self.load(id).await?;
        Ok(self.store.review_for_contract(id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_is_rounded_half_up_to_two_decimals() {
        let avg = |count, rating_sum| {
            Reviews::of(
                ReviewPage {
                    count,
                    rating_sum,
                    reviews: vec![],
                },
                Page::default(),
            )
            .average_rating_x100
        };
        assert_eq!(avg(0, 0), 0);
        assert_eq!(avg(3, 13), 433); // 4.333…
        assert_eq!(avg(3, 14), 467); // 4.666…
        assert_eq!(avg(8, 36), 450);
    }
}
