//! OpenAPI schemas for the domain's enums, which know nothing of OpenAPI: each is the list of
//! its variants as serde writes them, so the document cannot disagree with the answers.

use std::borrow::Cow;

use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use super::EscrowState;
use crate::domain::media::MediaKind;
use crate::domain::{
    ContractStatus, Currency, EscrowStatus, MilestoneState, Party, PayoutStatus, ReleaseFundStatus,
    TransferKind,
};

/// A string schema whose values are `all`, written as serde writes them.
fn enum_schema<T: Serialize>(all: &[T], description: Option<&str>) -> RefOr<Schema> {
    let values: Vec<String> = all
        .iter()
        .map(|v| match serde_json::to_value(v) {
            Ok(serde_json::Value::String(s)) => s,
            other => unreachable!("an enum serialises as a string, not {other:?}"),
        })
        .collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(description)
        .into()
}

macro_rules! enum_schemas {
    ($($ty:ident => $description:expr;)*) => {
        $(
            impl PartialSchema for $ty {
                fn schema() -> RefOr<Schema> {
                    enum_schema(&$ty::ALL, $description)
                }
            }

            impl ToSchema for $ty {
                fn name() -> Cow<'static, str> {
                    Cow::Borrowed(stringify!($ty))
                }
            }
        )*
    };
}

enum_schemas! {
    ContractStatus => None;
    ReleaseFundStatus => None;
    Party => Some("Who did something to a contract.");
    EscrowStatus => None;
    EscrowState => Some("Where an escrow stands: its status, or `disputed` while an open dispute freezes it.");
    MilestoneState => Some("Where a milestone stands.");
    TransferKind => Some("What a transfer was for.");
    Currency => Some("The deployment's currency (lower-case ISO 4217, as Stripe writes it).");
    MediaKind => None;
    PayoutStatus => None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_lists_the_names_serde_writes() {
        let RefOr::T(Schema::Object(o)) = EscrowStatus::schema() else {
            panic!("an inline object schema");
        };
        let values: Vec<_> = o.enum_values.unwrap().into_iter().collect();
        assert_eq!(
            values,
            [
                "funded",
                "released",
                "refund_pending",
                "refunded",
                "charged_back",
                "refund_failed"
            ]
            .map(serde_json::Value::from)
        );
    }

    #[test]
    fn payout_status_names_are_the_stored_ones() {
        for s in PayoutStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(PayoutStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn transfer_kind_names_are_the_stored_ones() {
        for k in TransferKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }
}
