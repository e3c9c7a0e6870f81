//! Request bodies as the original app's clients send them, documented for `/openapi.json`, and
//! parsed into the typed commands the use cases take. Amounts are read from their JSON text,
//! never through a float.

use serde::Deserialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, OneOf, OneOfBuilder, Schema, Type};

use crate::domain::{ContractId, ContractStatus, Currency, JobId, MilestonePlan, Money};
use crate::service::Result;
use crate::service::checkout::Checkout;
use crate::service::contracts::NewContract;
use crate::service::escrow::Refund;
use crate::service::input;
use crate::service::reviews::NewReview;

/// The body of `create-contract`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateContract {
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub freelancer_id: String,
    /// Rupees, as a JSON number or string ("199.99"), parsed exactly.
    #[schema(schema_with = amount_schema)]
    pub amount: Box<RawValue>,
    #[schema(max_length = 200)]
    pub title: Option<String>,
    /// The contract in parts, each with its own escrow: 1 to 50, each over 0, adding up to
    /// `amount`. Absent: one milestone of the whole amount.
    #[schema(min_items = 1, max_items = 50)]
    pub milestones: Option<Vec<MilestoneBody>>,
}

/// One milestone of `create-contract`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MilestoneBody {
    #[schema(max_length = 200)]
    pub title: String,
    /// Rupees, as a JSON number or string, parsed exactly.
    #[schema(schema_with = amount_schema)]
    pub amount: Box<RawValue>,
}

impl CreateContract {
    pub fn parse(self, job: JobId, currency: Currency) -> Result<NewContract> {
        let milestones = match self.milestones {
            None => None,
            Some(list) => Some(
                list.into_iter()
                    .enumerate()
                    .map(|(i, m)| {
                        let field = format!("milestones[{i}].amount");
                        Ok(MilestonePlan {
                            title: input::title(&m.title)?.as_str().to_string(),
                            amount: input::amount(&field, m.amount.get(), currency)?.minor,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        Ok(NewContract {
            job,
            freelancer: input::id(&self.freelancer_id, "freelancerId")?,
            amount: input::amount("amount", self.amount.get(), currency)?,
            title: self.title.as_deref().map(input::title).transpose()?,
            milestones,
        })
    }
}

/// How the API documents an amount in rupees: a number or a decimal string, more than 0 and at
/// most 10^12, with at most two decimals (the default currency's minor digits); anything else
/// is a 422.
pub fn amount_schema() -> Schema {
    Schema::OneOf(amount_one_of(OneOfBuilder::new()))
}

fn amount_one_of(builder: OneOfBuilder) -> OneOf {
    builder
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .exclusive_minimum(Some(0))
                .maximum(Some(crate::domain::money::AMOUNT_MAJOR_MAX))
                .multiple_of(Some(0.01)),
        )
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(
            r"^0*([1-9][0-9]{0,11}(\.[0-9]{1,2})?|1000000000000(\.0{1,2})?|\.(0[1-9]|[1-9][0-9]?)|0\.(0[1-9]|[1-9][0-9]?))$",
        )))
        .description(Some("rupees: a number or a decimal string, over 0, at most 10^12, two decimals at most"))
        .build()
}

/// How the API documents a share of an escrow in rupees: like an amount, but zero is allowed.
pub fn share_schema() -> Schema {
    Schema::OneOf(
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .minimum(Some(0))
                    .maximum(Some(crate::domain::money::AMOUNT_MAJOR_MAX))
                    .multiple_of(Some(0.01)),
            )
            .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(
                r"^0*([0-9]{1,12}(\.[0-9]{1,2})?|1000000000000(\.0{1,2})?|\.[0-9]{1,2})$",
            )))
            .description(Some(
                "rupees: a number or a decimal string, 0 or more, at most 10^12, two decimals at most",
            ))
            .build(),
    )
}

/// A milestone's number in a body: an integer from 1 to 50, or a string of one, or null.
fn milestone_id_schema() -> Schema {
    Schema::OneOf(
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(crate::domain::milestone::MILESTONES_MAX as i64)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(super::openapi::MILESTONE_PATTERN)),
            )
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .build(),
    )
}

fn optional_amount_schema() -> Schema {
    Schema::OneOf(amount_one_of(
        OneOfBuilder::new().item(ObjectBuilder::new().schema_type(Type::Null)),
    ))
}

/// The body of the checkout call (the original's `{title, rate, freelancerId}`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutBody {
    #[schema(max_length = 200)]
    pub title: Option<String>,
    /// Rupees; when present it must equal the contract's amount.
    #[schema(schema_with = optional_amount_schema)]
    pub rate: Option<Box<RawValue>>,
    /// Same as `rate`.
    #[schema(schema_with = optional_amount_schema)]
    pub amount: Option<Box<RawValue>>,
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub freelancer_id: Option<String>,
    /// The milestone to pay for (its number, 1 to 50, or a string of it). Absent or null:
    /// every unfunded milestone in one session.
    #[schema(schema_with = milestone_id_schema)]
    pub milestone_id: Option<serde_json::Value>,
}

impl CheckoutBody {
    pub fn parse(self, job: JobId, currency: Currency) -> Result<Checkout> {
        let amount = |field: &str, raw: Option<Box<RawValue>>| -> Result<Option<Money>> {
            raw.map(|r| input::amount(field, r.get(), currency))
                .transpose()
        };
        Ok(Checkout {
            job,
            freelancer: self
                .freelancer_id
                .as_deref()
                .map(|f| input::id(f, "freelancerId"))
                .transpose()?,
            rate: amount("rate", self.rate)?,
            amount: amount("amount", self.amount)?,
            title: self.title.as_deref().map(input::title).transpose()?,
            milestone: match &self.milestone_id {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(s)) => Some(input::milestone(s)?),
                // 25.0 is the integer 25 to JSON Schema.
                Some(serde_json::Value::Number(n)) => {
                    let whole = n.as_u64().or_else(|| {
                        n.as_f64()
                            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                            .map(|f| f as u64)
                    });
                    Some(input::milestone(
                        &whole.map_or_else(|| n.to_string(), |w| w.to_string()),
                    )?)
                }
                Some(_) => Some(input::milestone("")?),
            },
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReviewBody {
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub freelancer_id: String,
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub contract_id: String,
    #[schema(value_type = i64, minimum = 1, maximum = 5)]
    pub rating: serde_json::Value,
    /// Not blank; at most 5 000 characters.
    #[schema(max_length = 5000, pattern = "[^\\s]")]
    pub description: String,
}

impl ReviewBody {
    pub fn parse(self) -> Result<NewReview> {
        Ok(NewReview {
            contract: input::id::<ContractId>(&self.contract_id, "contractId")?,
            freelancer: input::id(&self.freelancer_id, "freelancerId")?,
            rating: input::rating(&self.rating)?,
            description: self.description,
        })
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundBody {
    #[serde(default)]
    pub cancel_reason: Option<String>,
    #[serde(default)]
    pub cancel_reason_description: Option<String>,
}

impl RefundBody {
    pub fn into_refund(self, contract: ContractId) -> Refund {
        Refund {
            contract,
            reason: self.cancel_reason.unwrap_or_default(),
            description: self.cancel_reason_description.unwrap_or_default(),
            freelancer_share: None,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    #[schema(value_type = ContractStatus)]
    pub status: String,
}

impl StatusBody {
    pub fn parse(&self) -> Result<ContractStatus> {
        input::status(&self.status)
    }
}
