//! The HTTP adapter: routes, extractors, error mapping (in `error`, the only place), metrics
//! and tracing middleware, limits, graceful shutdown. Handlers call the service and nothing
//! else.

pub mod error;
pub mod extract;
pub mod openapi;
pub mod routes;
pub mod sandbox;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;

use crate::auth::JwtKeys;
use crate::metrics::{RequestLabels, RouteLabels};
use crate::payment::webhook::WEBHOOK_BODY_BYTES_MAX;
use crate::service::{Error, Service};

/// Largest JSON body of an API request.
pub const JSON_BODY_BYTES_MAX: usize = 64 * 1024;
/// Multipart framing allowed on top of the largest upload.
const MULTIPART_OVERHEAD_BYTES: u64 = 64 * 1024;
/// How long an upload may take in total.
const UPLOAD_TIMEOUT_S: u64 = 600;

#[derive(Clone)]
pub struct AppState {
    pub service: Arc<Service>,
    pub jwt: JwtKeys,
    /// Local media directory served at `/media/…`, when media is stored locally.
    pub media_dir: Option<PathBuf>,
    /// How this server reaches itself (the sandbox posts its events here).
    pub self_url: String,
    pub http_client: reqwest::Client,
    pub request_timeout: Duration,
}

pub fn router(state: AppState) -> Router {
    let upload_limit =
        (state.service.settings().upload_bytes_max + MULTIPART_OVERHEAD_BYTES) as usize;
    let api = Router::new()
        .route(
            "/api/client/contract/create-contract/{jobId}",
            post(routes::create_contract),
        )
        .route(
            "/api/freelancer/contract/approve-contract/{contractId}",
            post(routes::approve_contract),
        )
        .route(
            "/api/freelancer/contract/update-status/{contractId}",
            put(routes::update_status),
        )
        .route("/api/contracts/{contractId}", get(routes::get_contract))
        .route("/api/client/job/payment/{jobId}", post(routes::checkout))
        .route(
            "/api/client/contract/release-fund/{contractId}",
            patch(routes::request_release),
        )
        .route(
            "/api/client/release-fund/{contractId}",
            patch(routes::request_release_short),
        )
        .route(
            "/api/admin/escrow/release-fund/{contractId}",
            put(routes::release),
        )
        .route(
            "/api/admin/escrow/refund-client/{contractId}/{clientId}",
            put(routes::refund),
        )
        .route("/api/admin/escrow/balance", get(routes::balance))
        .route(
            "/api/admin/escrow/total-revenue",
            get(routes::total_revenue),
        )
        .route("/api/admin/escrow/transactions", get(routes::transactions))
        .route("/api/admin/escrow/sales-report", get(routes::sales_report))
        .route("/api/freelancer/wallet", get(routes::my_wallet))
        .route("/api/admin/wallet/{userId}", get(routes::user_wallet))
        .route(
            "/api/client/review/rate-freelancer/{clientId}",
            post(routes::rate_freelancer),
        )
        .route(
            "/api/client/review/show-reviews/{freelancerId}",
            get(routes::show_reviews),
        )
        .route("/sandbox/checkout/{sessionId}", get(sandbox::page))
        .route("/sandbox/checkout/{sessionId}/pay", post(sandbox::pay))
        .route("/media/{name}", get(routes::media_file))
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/metrics", get(routes::metrics))
        .route("/openapi.json", get(routes::openapi))
        .layer(DefaultBodyLimit::max(JSON_BODY_BYTES_MAX))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.request_timeout,
        ));
    let webhook = Router::new()
        .route("/webhook", post(routes::webhook))
        .layer(DefaultBodyLimit::max(WEBHOOK_BODY_BYTES_MAX))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.request_timeout,
        ));
    let upload = Router::new()
        .route("/api/media/upload", post(routes::upload))
        .layer(DefaultBodyLimit::max(upload_limit))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(UPLOAD_TIMEOUT_S),
        ));
    Router::new()
        .merge(api)
        .merge(webhook)
        .merge(upload)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn not_found() -> Response {
    error::ApiError(Error::not_found("route.not_found", "no such route")).into_response()
}

async fn method_not_allowed() -> Response {
    let e = Error::new(
        crate::service::ErrorKind::BadRequest,
        "route.method_not_allowed",
        "method not allowed on this route",
    );
    let mut r = error::ApiError(e).into_response();
    *r.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    r
}

/// Counts, times and logs every request by its route template (never its ids or headers).
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    let metrics = state.service.metrics();
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method: method.clone(),
            route: route.clone(),
            status,
        })
        .inc();
    metrics
        .latency
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(elapsed.as_secs_f64());
    tracing::info!(target: "escrow::http", %method, %route, status, latency_ms = elapsed.as_secs_f64() * 1000.0, "request");
    response
}

/// Serves on an already-bound listener until `shutdown` resolves; in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
