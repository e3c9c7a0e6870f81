//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::idempotency::OpenApiDoc as IdempotencyKey;
use super::{disputes, milestones, original, payouts, routes};

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "refreshToken",
                "the original app's session (signed with REFRESH_SECRET); counts only for a \
                 chat upload whose Origin is on ESCROW_CORS_ORIGINS",
            ))),
        );
    }
}

/// The rules every route shares, stated once rather than on each handler so that no route can
/// forget one (schemathesis checks the document against real answers; see tests/hostile/fuzz.rs):
///
/// - every path parameter of `/api/…` is a 24-hex id, `contractId` also the human id
///   (`CON00000042`); anything else is a 400 `request.invalid_id`;
/// - every operation that takes a bearer token (or, for an upload, the original's session
///   cookie) answers 401 without a valid one;
/// - `page` (1–1 000 000) and `limit` (1–1 000) are bounded integers, `from` and `to` are dates
///   (`YYYY-MM-DD`); anything else is a 422;
/// - a JSON or multipart body can be malformed (400), too large (413), of another media type
///   (415) or invalid (422).
///
/// A response an annotation already documents is left as it is.
struct SharedRules;

const ID_PATTERN: &str = "^[0-9a-fA-F]{24}$";
/// [`crate::domain::MilestoneId::parse`]: 1 to 50 in decimal digits (leading zeros allowed).
pub(super) const MILESTONE_PATTERN: &str = "^0*([1-9]|[1-4][0-9]|50)$";
/// [`crate::domain::ContractRef::parse`]: the id, or "CON" (any case) and 1 to 19 digits.
const CONTRACT_PATTERN: &str = "^([0-9a-fA-F]{24}|[Cc][Oo][Nn][0-9]{1,19})$";

/// A documented error answer: the `ErrorBody` schema with `description`.
pub(super) fn error_response(
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

impl Modify for SharedRules {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};

        for (path, item) in api.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for op in operations.into_iter().flatten() {
                let mut add = vec![];
                for p in op.parameters.iter_mut().flatten() {
                    match (&p.parameter_in, p.name.as_str()) {
                        (ParameterIn::Path, "milestoneId") => {
                            p.schema = Some(RefOr::T(
                                ObjectBuilder::new()
                                    .schema_type(Type::String)
                                    .pattern(Some(MILESTONE_PATTERN))
                                    .into(),
                            ));
                            add.push((
                                "400",
                                "malformed request or milestone (`request.invalid_id`)",
                            ));
                        }
                        (ParameterIn::Path, name)
                            if path.starts_with("/api/") && name.ends_with("Id") =>
                        {
                            p.schema = Some(RefOr::T(
                                ObjectBuilder::new()
                                    .schema_type(Type::String)
                                    .pattern(Some(if name == "contractId" {
                                        CONTRACT_PATTERN
                                    } else {
                                        ID_PATTERN
                                    }))
                                    .into(),
                            ));
                            p.description.get_or_insert_with(|| "24-hex id".into());
                            add.push(("400", "malformed request or id (`request.invalid_id`)"));
                        }
                        (ParameterIn::Query, "page" | "limit") => {
                            let max = if p.name == "page" {
                                1_000_000
                            } else {
                                crate::store::Page::LIMIT_MAX
                            };
                            p.schema = Some(RefOr::T(
                                ObjectBuilder::new()
                                    .schema_type(Type::Integer)
                                    .minimum(Some(1))
                                    .maximum(Some(max))
                                    .into(),
                            ));
                            add.push(("422", "invalid input (`validation.*`)"));
                        }
                        (ParameterIn::Query, "from" | "to") => {
                            p.schema = Some(RefOr::T(
                                ObjectBuilder::new()
                                    .schema_type(Type::String)
                                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
                                    .into(),
                            ));
                            add.push(("422", "invalid input (`validation.*`)"));
                        }
                        _ => {}
                    }
                }
                // Every paged list also takes a keyset cursor (`extract::Paging`).
                let params = op.parameters.get_or_insert_with(Vec::new);
                let paged = params
                    .iter()
                    .any(|p| p.parameter_in == ParameterIn::Query && p.name == "limit");
                if paged {
                    add.push((
                        "400",
                        "an unknown or unreadable query parameter (`request.bad_query`)",
                    ));
                }
                if paged && !params.iter().any(|p| p.name == "after") {
                    params.push(
                        utoipa::openapi::path::ParameterBuilder::new()
                            .name("after")
                            .parameter_in(ParameterIn::Query)
                            .required(utoipa::openapi::Required::False)
                            .description(Some(
                                "the `next` cursor of the page before: the page after it \
                                 (keyset paging; `page` is then ignored, and the page carries \
                                 no `count`)",
                            ))
                            .schema(Some(RefOr::T(
                                ObjectBuilder::new()
                                    .schema_type(Type::String)
                                    .pattern(Some(crate::store::Cursor::PATTERN))
                                    .into(),
                            )))
                            .build(),
                    );
                }
                if op.parameters.as_ref().is_some_and(|p| p.is_empty()) {
                    op.parameters = None;
                }
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    add.push(("401", "no token, or an invalid or expired one (`auth.*`)"));
                }
                if op.request_body.is_some() {
                    add.push(("400", "malformed request"));
                    add.push((
                        "413",
                        "the body is too large (`request.too_large`, `media.too_large`)",
                    ));
                    add.push(("415", "the body is of an unsupported media type"));
                    add.push(("422", "invalid input (`validation.*`)"));
                }
                for (status, description) in add {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error_response(description));
                }
            }
        }
    }
}

/// The file types an upload accepts, as the multipart `encoding` of its `media` field (the
/// server decides the type from the file's own bytes; anything else is a 415).
struct UploadTypes;

impl Modify for UploadTypes {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::encoding::EncodingBuilder;
        let Some(body) = api
            .paths
            .paths
            .get_mut("/api/media/upload")
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.request_body.as_mut())
        else {
            return;
        };
        if let Some(content) = body.content.get_mut("multipart/form-data") {
            content.encoding.insert(
                "media".into(),
                EncodingBuilder::new()
                    .content_type(Some(crate::domain::media::accepted()))
                    .build(),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "escrow", description = "Escrow and payments backend for freelance marketplaces. Money is in rupees (major units), written exactly from the integer minor units the ledger keeps, beside its currency."),
    modifiers(&Bearer, &IdempotencyKey, &SharedRules, &UploadTypes),
    paths(
        routes::create_contract, routes::approve_contract, routes::update_status, routes::get_contract,
        routes::checkout, routes::webhook, routes::request_release, routes::request_release_short,
        routes::release, routes::refund, routes::balance, routes::total_revenue, routes::transactions,
        routes::sales_report, routes::my_wallet, routes::user_wallet, routes::rate_freelancer,
        routes::show_reviews, routes::upload, routes::healthz, routes::readyz, routes::metrics, routes::openapi,
        original::create_contract_as, original::approve_contract_as, original::view_contract,
        original::client_contracts, original::freelancer_contracts, original::is_created,
        original::completed_works, original::all_contracts, original::cancel_contract,
        original::admin_cancel_contract, original::earnings, original::wallet_transactions,
        original::wallet_sales_report,
        payouts::onboarding, payouts::account, payouts::request, payouts::mine, payouts::all,
        payouts::one, payouts::connect_webhook,
        milestones::submit, milestones::request_release, milestones::release, milestones::reject,
        disputes::open, disputes::respond, disputes::resolve,
    ),
)]
pub struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
