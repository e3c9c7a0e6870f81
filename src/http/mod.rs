//! The HTTP adapter: routes, extractors, error mapping (in `error`, the only place), metrics
//! and tracing middleware, limits, graceful shutdown. Handlers parse the request into the
//! service's typed commands, call one use case, and render its result as a view.
//!
//! Where things live:
//! - [`state`] — the state every handler shares, built from the service;
//! - [`routes`] — the handlers (their annotations are `/openapi.json`, see [`openapi`]);
//! - [`bodies`] — request bodies and how they become commands;
//! - [`extract`] — the caller from the bearer token, JSON bodies, paging;
//! - [`error`] — service errors as responses; [`idempotency`] — `Idempotency-Key`;
//! - [`admission`] — the line of requests working on the store at once;
//! - [`review_pages`] — rendered review pages kept until the reviews change;
//! - [`sandbox`] — the sandbox provider's checkout page.

pub mod admission;
pub mod bodies;
pub mod disputes;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod milestones;
pub mod openapi;
pub mod original;
pub mod payouts;
pub mod review_pages;
pub mod routes;
pub mod sandbox;
pub mod state;

use std::future::Future;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;

use crate::metrics::{RequestLabels, RouteLabels};
use crate::payment::webhook::WEBHOOK_BODY_BYTES_MAX;
use crate::service::ErrorCode;
pub use state::{AppConfig, AppState};

/// Largest JSON body of an API request.
pub const JSON_BODY_BYTES_MAX: usize = 64 * 1024;
/// Multipart framing allowed on top of the largest upload.
const MULTIPART_OVERHEAD_BYTES: u64 = 64 * 1024;

pub fn router(state: AppState) -> Router {
    let upload_limit =
        (state.service.settings().upload_bytes_max + MULTIPART_OVERHEAD_BYTES) as usize;
    let admission = |body_bytes_max: usize| Admission {
        line: state.admission.clone(),
        body_bytes_max,
    };
    let store_bound = Router::new()
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
        .route(
            "/api/client/contract/create-contract/{jobId}/{clientId}",
            post(original::create_contract_as),
        )
        .route(
            "/api/freelancer/contract/approve-contract/{contractId}/{freelancerId}",
            post(original::approve_contract_as),
        )
        .route(
            "/api/freelancer/contract/view-contract/{contractId}",
            get(original::view_contract),
        )
        .route(
            "/api/client/contract/get-contracts/{clientId}",
            get(original::client_contracts),
        )
        .route(
            "/api/freelancer/contract/get-contracts/{freelancerId}",
            get(original::freelancer_contracts),
        )
        .route(
            "/api/client/contract/is-created/{jobId}/{clientId}",
            get(original::is_created),
        )
        .route(
            "/api/freelancer/contract/completed-works/{freelancerId}",
            get(original::completed_works),
        )
        .route(
            "/api/client/contract/all-contracts",
            get(original::all_contracts),
        )
        .route(
            "/api/client/contract/cancel-contract/{contractId}",
            delete(original::cancel_contract),
        )
        .route(
            "/api/admin/contract/cancel/{contractId}",
            put(original::admin_cancel_contract),
        )
        .route(
            "/api/freelancer/wallet/earnings/{userId}",
            get(original::earnings),
        )
        .route(
            "/api/freelancer/wallet/transactions/{walletId}",
            get(original::wallet_transactions),
        )
        .route(
            "/api/freelancer/wallet/user-sales-report/{userId}",
            get(original::wallet_sales_report),
        )
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
        .route(
            "/api/freelancer/contract/milestones/{contractId}/{milestoneId}/submit",
            put(milestones::submit),
        )
        .route(
            "/api/client/contract/release-fund/{contractId}/milestones/{milestoneId}",
            patch(milestones::request_release),
        )
        .route(
            "/api/client/contract/milestones/{contractId}/{milestoneId}/reject",
            put(milestones::reject),
        )
        .route(
            "/api/admin/escrow/release-fund/{contractId}/milestones/{milestoneId}",
            put(milestones::release),
        )
        .route(
            "/api/client/contract/dispute/{contractId}",
            post(disputes::open),
        )
        .route(
            "/api/freelancer/contract/dispute/{contractId}/respond",
            post(disputes::respond),
        )
        .route(
            "/api/admin/escrow/resolve-dispute/{contractId}",
            put(disputes::resolve),
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
            "/api/freelancer/payouts/onboarding",
            post(payouts::onboarding),
        )
        .route("/api/freelancer/payouts/account", get(payouts::account))
        .route(
            "/api/freelancer/payouts",
            post(payouts::request).get(payouts::mine),
        )
        .route("/api/admin/payouts", get(payouts::all))
        .route("/api/payouts/{payoutId}", get(payouts::one))
        .route(
            "/api/client/review/rate-freelancer/{clientId}",
            post(routes::rate_freelancer),
        )
        .route(
            "/api/client/review/show-reviews/{freelancerId}",
            get(routes::show_reviews),
        )
        .route_layer(middleware::from_fn_with_state(
            idempotency::Idempotency::buffered(
                state.clone(),
                state.idempotency_lease,
                JSON_BODY_BYTES_MAX,
            ),
            idempotency::layer,
        ))
        .route_layer(middleware::from_fn_with_state(
            admission(JSON_BODY_BYTES_MAX),
            admit,
        ));
    // Not queued: operators must see the server as it is, and the sandbox's Pay button posts
    // to this server's own `/webhook` while it waits for the answer.
    let unqueued = Router::new()
        .route("/sandbox/checkout/{sessionId}", get(sandbox::page))
        .route("/sandbox/checkout/{sessionId}/pay", post(sandbox::pay))
        .route(
            "/sandbox/onboarding/{accountId}",
            get(sandbox::onboarding_page),
        )
        .route(
            "/sandbox/onboarding/{accountId}/complete",
            post(sandbox::complete_onboarding),
        )
        .route("/media/{name}", get(routes::media_file))
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/openapi.json", get(routes::openapi));
    // On its own listener when one is configured (see `metrics_router`).
    let unqueued = if state.metrics.on_public_listener {
        unqueued.route("/metrics", get(routes::metrics))
    } else {
        unqueued
    };
    let api = store_bound
        .merge(unqueued)
        .layer(DefaultBodyLimit::max(JSON_BODY_BYTES_MAX))
        .layer(middleware::from_fn_with_state(
            DeclaredLimit {
                bytes_max: JSON_BODY_BYTES_MAX as u64,
                code: ErrorCode::RequestTooLarge,
            },
            refuse_declared_oversize,
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.request_timeout,
        ));
    let webhook = Router::new()
        .route("/webhook", post(routes::webhook))
        .route("/webhook/connect", post(payouts::connect_webhook))
        .route_layer(middleware::from_fn_with_state(
            admission(WEBHOOK_BODY_BYTES_MAX),
            admit,
        ))
        .layer(DefaultBodyLimit::max(WEBHOOK_BODY_BYTES_MAX))
        .layer(middleware::from_fn_with_state(
            DeclaredLimit {
                bytes_max: WEBHOOK_BODY_BYTES_MAX as u64,
                code: ErrorCode::RequestTooLarge,
            },
            refuse_declared_oversize,
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.request_timeout,
        ));
    let upload = Router::new()
        .route("/api/media/upload", post(routes::upload))
        .route_layer(middleware::from_fn_with_state(
            idempotency::Idempotency::streamed(state.clone(), state.upload_timeout),
            idempotency::layer,
        ))
        .layer(DefaultBodyLimit::max(upload_limit))
        .layer(middleware::from_fn_with_state(
            DeclaredLimit {
                bytes_max: upload_limit as u64,
                code: ErrorCode::MediaTooLarge,
            },
            refuse_declared_oversize,
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.upload_timeout,
        ));
    let cors = cors(&state.cors_origins);
    Router::new()
        .merge(api)
        .merge(webhook)
        .merge(upload)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(middleware::map_response(error::normalize))
        // Outermost: a preflight is answered before anything else (no token needed), and every
        // answer, errors too, carries the headers a browser needs to read it.
        .layer(cors)
        .with_state(state)
}

/// CORS for the front end's origins: credentials allowed (its axios sends
/// `withCredentials: true`), the methods and headers the API takes, `Idempotent-Replayed`
/// readable. An origin not on the list gets no `Access-Control-Allow-Origin`, so the browser
/// keeps the answer from the page.
fn cors(origins: &crate::config::CorsOrigins) -> tower_http::cors::CorsLayer {
    use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
    use axum::http::{HeaderValue, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allow = match origins {
        crate::config::CorsOrigins::Any => AllowOrigin::mirror_request(),
        crate::config::CorsOrigins::List(list) => AllowOrigin::list(
            list.iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        ),
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([CONTENT_TYPE, AUTHORIZATION, idempotency::IDEMPOTENCY_KEY])
        .expose_headers([idempotency::IDEMPOTENT_REPLAYED])
        .max_age(Duration::from_secs(600))
}

/// The router of the separate metrics listener (`ESCROW_METRICS_LISTEN`): `/metrics` alone.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(routes::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.request_timeout,
        ))
        .with_state(state)
}

async fn not_found() -> Response {
    error::error(ErrorCode::RouteNotFound, "no such route").into_response()
}

async fn method_not_allowed() -> Response {
    error::error(
        ErrorCode::RouteMethodNotAllowed,
        "method not allowed on this route",
    )
    .into_response()
}

/// A route group's body limit, checked against the declared `Content-Length`.
#[derive(Clone, Copy)]
struct DeclaredLimit {
    bytes_max: u64,
    code: ErrorCode,
}

/// Refuses a request whose declared `Content-Length` is over its route's limit with 413 before
/// a byte of the body is read. `DefaultBodyLimit` alone stops only once the limit has been
/// read, so a client declaring 10 MB would be read up to the limit, or held until the
/// timeout if it sends nothing. Bodies without a length (chunked) are still counted by
/// `DefaultBodyLimit` as they arrive.
async fn refuse_declared_oversize(
    State(limit): State<DeclaredLimit>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit.bytes_max) {
        return error::error(
            limit.code,
            format!("the body is larger than {} bytes", limit.bytes_max),
        )
        .into_response();
    }
    next.run(request).await
}

/// Where a store-bound route group queues its requests.
#[derive(Clone)]
struct Admission {
    line: Option<admission::Line>,
    /// The group's body limit (the body is read before the request queues).
    body_bytes_max: usize,
}

/// Runs a store-bound request in `AppState::admission`'s line (see [`admission`]):
/// it waits for a place within its route's timeout (408 when that runs out; a client that
/// goes away leaves the line). Without a line, it goes straight through.
///
/// The body is read first, so a client that sends it slowly holds its own connection, never
/// a place (a body over the group's limit gets 413 `request.too_large`, as from the
/// handlers' extractors).
async fn admit(State(admission): State<Admission>, request: Request, next: Next) -> Response {
    let Some(line) = admission.line else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, admission.body_bytes_max).await {
        Ok(b) => b,
        Err(e) => return idempotency::body_error(e).into_response(),
    };
    line.run(next.run(Request::from_parts(parts, axum::body::Body::from(body))))
        .await
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
///
/// hyper is driven directly rather than through `axum::serve`, which sets no timer and so has
/// no header-read timeout: a client that trickles its headers (slowloris) or opens a
/// connection and sends nothing would hold it for ever. Here every connection is HTTP/1.1
/// with `header_read_timeout` (which also closes idle keep-alive connections); a slow body is
/// cut off by the routes' `TimeoutLayer`. On shutdown the listener closes, every connection is
/// told to finish its request in flight and close, and this returns when all have.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_read_timeout = state.header_read_timeout;
    serve_router(listener, router(state), header_read_timeout, shutdown).await
}

/// [`serve`] for the separate metrics listener.
pub async fn serve_metrics(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_read_timeout = state.header_read_timeout;
    serve_router(
        listener,
        metrics_router(state),
        header_read_timeout,
        shutdown,
    )
    .await
}

async fn serve_router(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(target: "escrow::http", error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A failed `accept`: a connection reset before it was accepted is nothing; anything else
/// (such as running out of file descriptors) is logged and retried after a pause, as hyper's
/// own server did, instead of spinning.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(target: "escrow::http", error = %e, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
