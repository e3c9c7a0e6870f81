//! Reviews: a client rates the freelancer of one of its completed contracts, once.

use serde::{Deserialize, Serialize};

use super::contract::{Contract, ContractStatus};
use super::error::{Action, DomainError, Entity};
use super::ids::{ContractId, ReviewId, UserId};

pub const DESCRIPTION_CHARS_MAX: usize = 5_000;

/// An integer rating from 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating(u8);

impl Rating {
    pub fn parse(value: &serde_json::Value) -> Result<Rating, DomainError> {
        let bad = || DomainError::Validation("rating must be an integer from 1 to 5".into());
        // JSON does not tell 4 from 4.0 (JSON Schema calls both integers); 4.5 is refused.
        let n = value
            .as_u64()
            .or_else(|| {
                value
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && (1.0..=5.0).contains(f))
                    .map(|f| f as u64)
            })
            .ok_or_else(bad)?;
        if !(1..=5).contains(&n) {
            return Err(bad());
        }
        Ok(Rating(n as u8))
    }

    /// A stored rating (1 to 5).
    pub fn from_int(n: i64) -> Result<Rating, DomainError> {
        u8::try_from(n)
            .ok()
            .filter(|n| (1..=5).contains(n))
            .map(Rating)
            .ok_or_else(|| DomainError::Validation(format!("rating {n} is not from 1 to 5")))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    pub id: ReviewId,
    pub contract_id: ContractId,
    pub client_id: UserId,
    pub freelancer_id: UserId,
    pub rating: Rating,
    pub description: String,
    pub created_at: i64,
}

impl Review {
    /// Checks the review against its contract: that client, that freelancer, completed work.
    pub fn new(
        contract: &Contract,
        client_id: &UserId,
        freelancer_id: &UserId,
        rating: Rating,
        description: &str,
        now: i64,
    ) -> Result<Review, DomainError> {
        let description = description.trim();
        if description.is_empty() {
            return Err(DomainError::Validation(
                "description must not be empty".into(),
            ));
        }
        if description.chars().count() > DESCRIPTION_CHARS_MAX {
            return Err(DomainError::Validation(format!(
                "description is longer than {DESCRIPTION_CHARS_MAX} characters"
            )));
        }
        if &contract.freelancer_id != freelancer_id {
            return Err(DomainError::Validation(
                "freelancerId is not the freelancer of this contract".into(),
            ));
        }
        if &contract.client_id != client_id {
            return Err(DomainError::Validation(
                "this contract is not the client's".into(),
            ));
        }
        if contract.status != ContractStatus::Completed {
            return Err(DomainError::refused(
                Entity::Contract,
                contract.status.as_str(),
                Action::Review,
                "cannot review until the contract is completed",
            ));
        }
        Ok(Review {
            id: ReviewId::generate(),
            contract_id: contract.id.clone(),
            client_id: client_id.clone(),
            freelancer_id: freelancer_id.clone(),
            rating,
            description: description.to_string(),
            created_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::contract::tests::funded;

    #[test]
    fn ratings_are_integers_from_one_to_five() {
        for ok in [1, 5] {
            assert!(Rating::parse(&serde_json::json!(ok)).is_ok());
        }
        assert_eq!(Rating::parse(&serde_json::json!(4.0)).unwrap().get(), 4);
        for bad in [
            serde_json::json!(0),
            serde_json::json!(6),
            serde_json::json!(4.5),
            serde_json::json!("5"),
            serde_json::json!(-1),
            serde_json::Value::Null,
        ] {
            assert!(Rating::parse(&bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn a_review_needs_that_client_that_freelancer_and_completed_work() {
        let mut c = funded();
        let five = Rating::parse(&serde_json::json!(5)).unwrap();
        let (client, freelancer) = (c.client_id.clone(), c.freelancer_id.clone());
        assert!(matches!(
            Review::new(&c, &client, &freelancer, five, "great", 1),
            Err(DomainError::InvalidTransition {
                action: Action::Review,
                ..
            })
        ));
        c.status = ContractStatus::Completed;
        assert!(Review::new(&c, &client, &UserId::generate(), five, "great", 1).is_err());
        assert!(Review::new(&c, &UserId::generate(), &freelancer, five, "great", 1).is_err());
        assert!(Review::new(&c, &client, &freelancer, five, "   ", 1).is_err());
        assert!(Review::new(&c, &client, &freelancer, five, "great", 1).is_ok());
    }
}
