//! Assembles the application (routes from [`crate::router`], limits, problem+json for every
//! error, Swagger UI, 404/405 fallback) and serves it.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::ErrorHandlers;
use actix_web::{web, App, HttpRequest, HttpResponse, ResponseError};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::error::{problem_for_bare_errors, ApiError};
use crate::router::routes;
use crate::state::AppState;

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
    let api = crate::openapi::complete(api);
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
    .wrap(actix_web::middleware::from_fn(refuse_encoded_bodies))
    .wrap(actix_web::middleware::from_fn(
        crate::request_id::middleware,
    ))
}

/// Request bodies are plain JSON: a `Content-Encoding` other than `identity` is answered 415
/// before anything of the body is read (no decompression, so no decompression bomb).
async fn refuse_encoded_bodies(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let encoded = req
        .headers()
        .get_all(actix_web::http::header::CONTENT_ENCODING)
        .any(|v| {
            v.to_str().map_or(true, |v| {
                v.split(',')
                    .any(|e| !e.trim().eq_ignore_ascii_case("identity"))
            })
        });
    if encoded {
        let err = ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_encoding",
            "request bodies must not be compressed: send them without Content-Encoding (or identity)",
        );
        return Ok(req.into_response(err.error_response()));
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
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
