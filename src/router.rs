//! The one URL table of the service and its OpenAPI document.
//!
//! Every API route is registered in [`api_v1`] and nowhere else; each registration also feeds
//! the OpenAPI document (utoipa-actix-web), so an undocumented route cannot exist. Only
//! [`crate::server`] imports this module.

use actix_web::dev::{ServiceFactory, ServiceRequest};
use actix_web::App;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::{scope, AppExt};

use crate::error::Problem;

/// The URL table under `/api/v1`: every API route is registered here and nowhere else, and
/// each registration also feeds the OpenAPI document.
pub fn api_v1(cfg: &mut ServiceConfig) {
    cfg.service(crate::auth::routes::create_token)
        .service(crate::auth::routes::list_tokens)
        .service(crate::auth::routes::revoke_token)
        .service(crate::members::routes::create_member)
        .service(crate::members::routes::list_members)
        .service(crate::suppliers::routes::create_supplier)
        .service(crate::suppliers::routes::list_suppliers)
        .service(crate::groups::routes::create_group)
        .service(crate::groups::routes::list_groups)
        .service(crate::groups::routes::get_group)
        .service(crate::groups::routes::sign_convention)
        .service(crate::campaigns::routes::open_campaign)
        .service(crate::campaigns::routes::list_campaigns)
        .service(crate::campaigns::routes::get_campaign)
        .service(crate::campaigns::routes::close_campaign)
        .service(crate::campaigns::routes::aggregation)
        .service(crate::needs::routes::create_need)
        .service(crate::needs::routes::list_needs)
        .service(crate::needs::routes::get_need)
        .service(crate::needs::routes::patch_need)
        .service(crate::needs::routes::delete_need)
        .service(crate::needs::routes::submit_need)
        .service(crate::needs::routes::withdraw_need)
        .service(crate::needs::routes::reject_need)
        .service(crate::tenders::routes::create_tender)
        .service(crate::tenders::routes::list_tenders)
        .service(crate::tenders::routes::get_tender)
        .service(crate::tenders::routes::publish_tender)
        .service(crate::tenders::routes::cancel_tender)
        .service(crate::bids::routes::put_bid)
        .service(crate::bids::routes::get_bid)
        .service(crate::bids::routes::withdraw_bid)
        .service(crate::bids::routes::lot_bids)
        .service(crate::evaluation::routes::evaluate_bid)
        .service(crate::evaluation::routes::abnormally_low)
        .service(crate::evaluation::routes::lot_ranking)
        .service(crate::awards::routes::award_lot)
        .service(crate::awards::routes::withdraw_award)
        .service(crate::awards::routes::get_award)
        .service(crate::contracts::routes::create_contract)
        .service(crate::contracts::routes::get_contract)
        .service(crate::contracts::routes::contract_allocation)
        .service(crate::contracts::routes::create_shared_cost)
        .service(crate::contracts::routes::list_shared_costs)
        .service(crate::contracts::routes::savings)
        .service(crate::exports::routes::tender_ocds)
        .service(crate::exports::routes::contract_decp)
        .service(crate::exports::routes::lot_comparison)
        .service(crate::notifications::routes::list_outbox)
        .service(crate::audit::routes::list_audit)
        .service(crate::audit::routes::audit_head);
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tenderpool",
        description = "Group purchasing for public bodies: pooled needs, sealed bids, lots, exact cost sharing. \
                       Decimals are JSON strings; errors are RFC 9457 problem+json.",
    ),
    components(schemas(Problem)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document of the service, generated from the registered handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = routes(App::new()).split_for_parts();
    crate::openapi::complete(api)
}

/// Registers every route of the service on `app` (health, then `/api/v1` with its
/// idempotency middleware), collecting the OpenAPI document.
pub fn routes<T>(app: App<T>) -> utoipa_actix_web::UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    app.into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(crate::health::health)
        .service(crate::health::ready)
        .service(crate::metrics::metrics)
        .service(
            scope::scope("/api/v1")
                // The last `wrap` runs first: authentication, then the idempotency key.
                .wrap(actix_web::middleware::from_fn(
                    crate::idempotency::middleware,
                ))
                .wrap(actix_web::middleware::from_fn(crate::auth::middleware))
                .configure(api_v1),
        )
}
