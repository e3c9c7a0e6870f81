//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::routes;

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
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "escrow", description = "Escrow and payments backend for freelance marketplaces. Money is integer minor units beside its currency."),
    modifiers(&Bearer),
    paths(
        routes::create_contract, routes::approve_contract, routes::update_status, routes::get_contract,
        routes::checkout, routes::webhook, routes::request_release, routes::request_release_short,
        routes::release, routes::refund, routes::balance, routes::total_revenue, routes::transactions,
        routes::sales_report, routes::my_wallet, routes::user_wallet, routes::rate_freelancer,
        routes::show_reviews, routes::upload, routes::healthz, routes::readyz, routes::metrics, routes::openapi,
    ),
)]
pub struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
