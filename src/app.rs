//! Application state and the one URL table of the service.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{ErrorHandlers, Logger};
use actix_web::{web, App, HttpRequest, HttpResponse, ResponseError};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::{scope, AppExt};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::error::{problem_for_bare_errors, ApiError, Problem};

/// What every handler can reach. Cloned cheaply per worker; holds no request state.
pub struct AppState {
    /// Database pool.
    pub db: Db,
    /// Source of "now".
    pub clock: Arc<dyn Clock>,
    /// Settings loaded at start-up.
    pub settings: Arc<Settings>,
}

/// The URL table under `/api/v1`: every API route is registered here and nowhere else, and
/// each registration also feeds the OpenAPI document.
pub fn api_v1(cfg: &mut ServiceConfig) {
    cfg.service(crate::auth::routes::create_token)
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
        .service(crate::notifications::routes::list_outbox);
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
    api
}

fn routes<T>(app: App<T>) -> utoipa_actix_web::UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    app.into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(crate::health::health)
        .service(crate::health::ready)
        .service(
            scope::scope("/api/v1")
                .wrap(actix_web::middleware::from_fn(
                    crate::idempotency::middleware,
                ))
                .configure(api_v1),
        )
}

/// Builds the application: routes, limits, problem+json for every error, Swagger UI.
pub fn build(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let limit = state.settings.server.body_limit_bytes;
    let app = App::new()
        .app_data(state)
        .app_data(web::PayloadConfig::new(limit))
        .app_data(
            web::PathConfig::default().error_handler(|_, _| ApiError::not_found("resource").into()),
        )
        .app_data(web::QueryConfig::default().error_handler(|err, _| {
            ApiError::invalid_field("/query", format!("invalid query string: {err}")).into()
        }));
    let (app, api) = routes(app).split_for_parts();
    let known = KnownRoutes::from_openapi(&api);
    app.service(
        SwaggerUi::new("/docs/{_:.*}")
            .url("/openapi.json", api)
            .config(
                Config::default()
                    .validator_url("none")
                    .try_it_out_enabled(true),
            ),
    )
    .route(
        "/docs",
        web::get().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header(("Location", "/docs/"))
                .finish()
        }),
    )
    .default_service(web::to(move |req: HttpRequest| {
        let known = known.clone();
        async move { known.fallback(req.path()) }
    }))
    .wrap(ErrorHandlers::new().default_handler(problem_for_bare_errors))
    .wrap(Logger::new("%r %s %Dms"))
}

/// Path templates of the service with their methods, read from the OpenAPI document, so a
/// request to a known path with another method gets 405 (with `Allow`) rather than 404.
#[derive(Clone)]
struct KnownRoutes(Arc<Vec<(Vec<String>, Vec<String>)>>);

impl KnownRoutes {
    fn from_openapi(api: &utoipa::openapi::OpenApi) -> Self {
        const METHODS: [&str; 8] = [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ];
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = serde_json::to_value(item)
                    .ok()
                    .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()))
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|m| METHODS.contains(&m.as_str()))
                    .map(|m| m.to_uppercase())
                    .collect();
                (path.split('/').map(str::to_owned).collect(), methods)
            })
            .collect();
        Self(Arc::new(routes))
    }

    fn fallback(&self, path: &str) -> HttpResponse {
        let segments: Vec<&str> = path.split('/').collect();
        let allowed: Vec<&str> = self
            .0
            .iter()
            .filter(|(template, _)| {
                template.len() == segments.len()
                    && template
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
            })
            .flat_map(|(_, methods)| methods.iter().map(String::as_str))
            .collect();
        if allowed.is_empty() {
            return ApiError::not_found("route").error_response();
        }
        let allow = allowed.join(", ");
        let mut res = ApiError::new(
            actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("this route accepts {allow}"),
        )
        .error_response();
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
            res.headers_mut()
                .insert(actix_web::http::header::ALLOW, value);
        }
        res
    }
}

/// Runs the HTTP server until SIGINT/SIGTERM.
pub async fn serve(state: AppState, bind: &str) -> std::io::Result<()> {
    let workers = match state.settings.server.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let state = web::Data::new(state);
    tracing::info!(%bind, workers, backend = ?state.db.backend(), "serving");
    actix_web::HttpServer::new(move || build(state.clone()))
        .workers(workers)
        .bind(bind)?
        .run()
        .await
}
