//! The HTTP server (axum): webhook ingress for every active deployment, and the
//! admin API.
//!
//! [`Options`] → [`Options::bind`] → [`Server::run`]`(shutdown)`, with a cheap
//! [`Handle`] for the rest of the process (the address, the routes, reloading them
//! after a deploy). At start, `run` starts the server's [`Dispatcher`], which
//! resumes every run a previous process left pending or running, wakes parked
//! runs, delivers events and fires schedules, then serves until `shutdown`
//! resolves and the requests in flight are answered. Runs still executing then
//! are left as they are in the store and resumed by the next start.
//!
//! Requests under `/api/v1` go to the admin API (`admin.rs`: deployments,
//! workflows, runs and their control, behind the bearer token of
//! [`Options::admin_token`]); that prefix belongs to the API, so a webhook
//! declared under it is never reached. Every other request goes to one fallback
//! handler ([`ingress`]), which looks the method and path up in the [`Routes`]
//! built from the store's active deployments ([`routes`]; [`deploy`] and
//! [`routes::activate`] refuse a second active claim of a method and path). A
//! webhook's `webhook` record (headers without authentication, query, method,
//! path, remote address) is stored with its run, for the engine to bind. Every
//! error answer is JSON `{code, message, details}` ([`Problem`]). Webhooks:
//!
//! | status | code | when |
//! | --- | --- | --- |
//! | 404 | `not_found` | no webhook has this path (one identical body for every such path) |
//! | 405 | `method_not_allowed` | the path exists with other methods (`Allow` lists them) |
//! | 429 | `rate_limited` | the webhook's `rate_limit:` is spent (`Retry-After`; no run, no row) |
//! | 413 | `payload_too_large` | the body is over the webhook's `body_limit:` (the server's, 1 MiB, by default) |
//! | 408 | `body_timeout` | the body did not arrive within the read timeout (10 s by default; the connection is closed) |
//! | 401 | `unauthorized` | `verify:` failed (no run; a `rejected` delivery with the reason) |
//! | 415 | `unsupported_media_type` | the body is not declared JSON |
//! | 400 | `malformed_json`, `bad_body` | the body is not JSON, or could not be read |
//! | 422 | `input_mismatch` | the body is not of the workflow's input type, or of the `await webhook`'s type (`details.path`) |
//! | 422 | `idempotency_key` | the key expression failed on this input |
//! | 500 | `verification_unavailable`, `internal` | a secret is missing from the vault (or a Standard Webhooks secret is not `whsec_` + base64), the store failed |
//!
//! A verified `slack` webhook answers Slack's URL verification itself (200, no
//! run). Every request that finds a webhook, except those the rate limit refuses,
//! is kept in the delivery history (`ingress.rs`; `GET /api/v1/webhooks/deliveries`,
//! `deliveries.rs`), pruned after [`Options::delivery_retention`].
//!
//! A path claimed only by `await webhook` steps (a [`routes::RouteKind::Await`]
//! route) is refused the same way, then answers `202 {"event_id"}`: the body is
//! stored as an event for the waiting runs (`events.rs`) and starts no run.
//!
//! Requests under `/callbacks/` and `/approvals/` never reach ingress: those
//! prefixes belong to the URLs of `callback(…)` and `approval(…)` handles
//! (`handles.rs`), whose token is the credential (no admin token). Handles:
//!
//! | status | code | when |
//! | --- | --- | --- |
//! | 200 | | `POST /callbacks/{token}`: `{run_id}`; an approval decided: `{run_id, approved}` (JSON or no body) or an HTML page (a form); `GET /approvals/{token}`: the review page (HTML) |
//! | 404 | `not_found` | the token is unknown or malformed, or the path has another shape: the body every unknown path gets |
//! | 405 | `method_not_allowed` | another method (`Allow`), whatever the token |
//! | 410 | `gone` | the token was used, or its handle expired or was cancelled (an HTML page for the review page and form posts) |
//! | 415 | `unsupported_media_type` | a callback body not declared JSON; an approval body neither a form, JSON nor empty |
//! | 400 | `malformed_json`, `bad_body` | the body is not JSON (or not `{by?, comment?}`), or could not be read |
//! | 413, 408 | `payload_too_large`, `body_timeout` | over the server's body limit, or too slow |
//! | 422 | `input_mismatch` | a callback body not of the callback's type (`details.path`); the token stays unused |
//!
//! Before any of this, hyper refuses a request whose head has too many header
//! fields or too many bytes (431), and closes a connection whose request head does
//! not arrive in time ([`HttpLimits`], `limits.rs`); connections are served by
//! `connections.rs`.
//!
//! The admin API (every route, known or not, checks the token first, except
//! `GET /api/v1/openapi.json`, its OpenAPI 3.1 document: `openapi.rs`):
//!
//! | status | code | when |
//! | --- | --- | --- |
//! | 401 | `unauthorized` | no `Authorization: Bearer`, a wrong token, or a server without one (`WWW-Authenticate: Bearer`) |
//! | 404 | `not_found` | no admin route has this path |
//! | 404 | `deployment_not_found`, `workflow_not_found`, `run_not_found`, `event_not_found` | the id or name is unknown (a workflow or an event: to active deployments) |
//! | 405 | `method_not_allowed` | the route exists with other methods |
//! | 400 | `malformed_json`, `bad_body`, `bad_query`, `bad_idempotency_key`, `bad_path` | the body is not JSON or not of the route's shape, a `/runs` query parameter is unknown or out of range, a path parameter does not decode |
//! | 413 | `payload_too_large` | the body is over the limit |
//! | 409 | `webhook_conflict` | deploying or activating would give a method and path a second active owner |
//! | 409 | `run_not_failed`, `run_finished` | retrying a run that did not fail, cancelling, pausing or resuming one that ended |
//! | 409 | `not_manual` | starting a workflow that has no `on manual` trigger |
//! | 409 | `no_open_approval` | approving or rejecting a run that waits for no approval |
//! | 422 | `compile_errors` | the posted source has errors (`details` is the `flowc check --format json` object) |
//! | 422 | `bad_ir` | the posted IR cannot be read (another IR version, not a program) |
//! | 422 | `missing_secrets` | the vault lacks secrets the program mentions (`details.secrets`, each with its workflows) |
//! | 422 | `input_mismatch` | a run's (or a replay's) input is not of the workflow's input type, or an event's payload of its type (`details.path`) |
//! | 500 | `internal` | the store failed |
//!
//! Events, the context and the bulk run controls are in `events.rs` and
//! `control.rs`: `POST /events/{name}` (202 `{event_id}`),
//! `GET`/`PATCH /workflows/{name}/context`, `POST /runs/{id}/pause` and
//! `/resume`, `POST /runs/cancel` and `/runs/retry` (`{count, runs}`).
//!
//! `GET /metrics` answers the runtime's metrics in the Prometheus text format
//! ([`crate::metrics`], where the table of metric names is), behind the admin
//! token like the admin API (`401` without it; open when the admin API is).
//! Other methods on `/metrics` go to ingress like any path, so only a `GET`
//! webhook declared at `/metrics` is shadowed. [`Options::metrics_addr`] serves
//! them on a second address as well, without a token (a scraper on the same
//! host or network needs no secret): [`Options::bind`] refuses an address that
//! is not loopback there unless [`Options::metrics_public`] says the operator
//! means it, since the names of workflows, paths and connections are then
//! readable by whoever reaches it.

mod admin;
mod connections;
mod control;
mod deliveries;
mod events;
mod handles;
mod ingress;
pub mod limits;
mod openapi;
mod problem;
pub mod routes;
pub mod token;
pub mod verify;

pub use admin::{MAX_PAGE, PREFIX as ADMIN_PREFIX};
pub use limits::HttpLimits;
pub use problem::Problem;
pub use routes::{DeployError, Route, Routes, deploy};

use crate::clock::Clock;
use crate::dispatch::Dispatcher;
use crate::engine::{Engine, SecretSource};
use crate::store::{self, Deployment, Store};
use crate::vault::SecretString;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::handler::Handler as _;
use axum::http::header;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flowc_compiler::eval::Limits;
use std::future::{Future, IntoFuture as _};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use tokio::net::TcpListener;

/// The default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// How long a webhook's body may take to arrive, by default.
pub const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long the delivery history (and the provider delivery ids a redelivery is
/// matched against) is kept, by default: 7 days.
pub const DEFAULT_DELIVERY_RETENTION: std::time::Duration =
    std::time::Duration::from_secs(7 * 24 * 3600);

/// What a server needs.
pub struct Options {
    /// Where to listen; port 0 picks a free one (see [`Handle::local_addr`]).
    pub addr: SocketAddr,
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
    /// How long a webhook's body may take to arrive before 408.
    pub body_timeout: std::time::Duration,
    /// How long deliveries stay in the history; older ones are pruned hourly.
    pub delivery_retention: std::time::Duration,
    pub store: Arc<dyn Store>,
    pub engine: Arc<Engine>,
    /// Where verification secrets come from (the vault).
    pub secrets: Arc<dyn SecretSource>,
    pub clock: Arc<dyn Clock>,
    /// The admin API's bearer token; without one every `/api/v1` route answers
    /// 401.
    pub admin_token: Option<SecretString>,
    /// Serve the admin API without checking any token (`flowc serve
    /// --no-admin-token`, for local tools). [`Options::bind`] refuses it on an
    /// address that is not loopback: an open admin API deploys and runs code.
    pub admin_open: bool,
    /// Limits on every request's head, applied by hyper ([`HttpLimits`]).
    pub http: HttpLimits,
    /// A second address serving only `GET /metrics`, without a token (`flowc
    /// serve --metrics-addr`).
    pub metrics_addr: Option<SocketAddr>,
    /// Lets [`Options::metrics_addr`] be an address that is not loopback.
    pub metrics_public: bool,
    /// A listener already bound to [`Options::addr`], served instead of binding
    /// it again (`flowc serve` binds first to know the address handle URLs use).
    pub listener: Option<std::net::TcpListener>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("addr", &self.addr)
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("the admin API without a token may only listen on a loopback address, not {addr}")]
    OpenAdmin { addr: SocketAddr },
    #[error(
        "the metrics address {addr} is not loopback: anyone reaching it reads the metrics \
         without a token (allow it with --metrics-public)"
    )]
    PublicMetrics { addr: SocketAddr },
}

/// `127.0.0.0/8`, `::1`, or `::ffff:127.x.y.z`: the addresses only this machine
/// reaches, the only ones an admin API without a token may listen on.
pub fn is_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(ip) => ip.is_loopback(),
        std::net::IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|ip| ip.is_loopback())
        }
    }
}

impl Options {
    /// Listening on `127.0.0.1:8080` with the default body limit.
    pub fn new(
        store: Arc<dyn Store>,
        engine: Arc<Engine>,
        secrets: Arc<dyn SecretSource>,
        clock: Arc<dyn Clock>,
    ) -> Options {
        Options {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            delivery_retention: DEFAULT_DELIVERY_RETENTION,
            store,
            engine,
            secrets,
            clock,
            admin_token: None,
            admin_open: false,
            http: HttpLimits::default(),
            metrics_addr: None,
            metrics_public: false,
            listener: None,
        }
    }

    /// Binds the address and loads the routes of the active deployments.
    pub async fn bind(self) -> Result<Server, Error> {
        if self.admin_open && !is_loopback(self.addr.ip()) {
            return Err(Error::OpenAdmin { addr: self.addr });
        }
        if let Some(addr) = self.metrics_addr
            && !self.metrics_public
            && !is_loopback(addr.ip())
        {
            return Err(Error::PublicMetrics { addr });
        }
        let listener = match self.listener {
            Some(listener) => {
                listener.set_nonblocking(true)?;
                TcpListener::from_std(listener)?
            }
            None => listen(self.addr).await?,
        };
        let addr = listener.local_addr()?;
        let metrics = match self.metrics_addr {
            Some(addr) => Some(listen(addr).await?),
            None => None,
        };
        let metrics_addr = match &metrics {
            Some(listener) => Some(listener.local_addr()?),
            None => None,
        };
        let shared = Arc::new(Shared {
            routes: RwLock::new(Arc::new(Routes::default())),
            store: self.store,
            dispatcher: Dispatcher::new(Arc::clone(&self.engine)),
            engine: self.engine,
            secrets: self.secrets,
            clock: self.clock,
            limits: Limits::default(),
            body_limit: self.body_limit,
            body_timeout: self.body_timeout,
            delivery_retention: self.delivery_retention,
            admin_token: self.admin_token,
            admin_open: self.admin_open,
            http: self.http,
            buckets: limits::Buckets::default(),
        });
        let handle = Handle {
            addr,
            metrics_addr,
            shared,
        };
        handle.reload().await?;
        Ok(Server {
            listener,
            metrics,
            handle,
        })
    }
}

async fn listen(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}

/// A bound server, not yet serving.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    /// The listener of [`Options::metrics_addr`].
    metrics: Option<TcpListener>,
    handle: Handle,
}

impl Server {
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Resumes the runs left unfinished, then serves until `shutdown` resolves and
    /// the requests in flight have been answered.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let shared = Arc::clone(&self.handle.shared);
        // Resumes what a previous process left unfinished, then wakes parked
        // runs, delivers events and fires schedules until the server stops.
        let (stop_dispatching, stopped) = tokio::sync::oneshot::channel::<()>();
        let dispatching = tokio::spawn(Arc::clone(&shared.dispatcher).run(async move {
            let _ = stopped.await;
        }));
        let body_limit = shared.body_limit;
        // Scrapes are answered until the main server has stopped; one in flight
        // then is simply dropped.
        let metrics = self.metrics.map(|listener| {
            let router = Router::new().route(crate::metrics::PATH, get(metrics_text));
            tokio::spawn(axum::serve(listener, router).into_future())
        });
        // Callback and approval URLs come before webhooks: their prefixes are
        // reserved (`handles.rs`).
        let webhooks = {
            let shared = Arc::clone(&shared);
            move |request: Request| {
                let shared = Arc::clone(&shared);
                async move {
                    if handles::claims(request.uri().path()) {
                        handles::handle(shared, request).await
                    } else {
                        ingress::handle(shared, request).await
                    }
                }
            }
        };
        let metrics_route = get(metrics_text.layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            admin::authenticate,
        )))
        .fallback(webhooks.clone());
        // The server's body limit is the admin API's; each webhook has its own,
        // which ingress applies (`limits::admit`), so axum's is off for it.
        let admin = admin::router(Arc::clone(&shared)).layer(DefaultBodyLimit::max(body_limit));
        let router = Router::new()
            .nest(admin::PREFIX, admin)
            .route(crate::metrics::PATH, metrics_route)
            .fallback(webhooks)
            .layer(DefaultBodyLimit::disable());
        let pruning = tokio::spawn(ingress::prune_deliveries(Arc::clone(&shared)));
        connections::serve(self.listener, router, shared.http, shutdown).await;
        let _ = stop_dispatching.send(());
        let _ = dispatching.await;
        pruning.abort();
        if let Some(task) = metrics {
            task.abort();
        }
        Ok(())
    }
}

/// `GET /metrics`: every metric of the process, as Prometheus text.
async fn metrics_text() -> Response {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        crate::metrics::global().render(),
    )
        .into_response()
}

/// A cheap, cloneable view of a server.
#[derive(Clone)]
pub struct Handle {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Handle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address serving only the metrics, when [`Options::metrics_addr`] was
    /// given.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Rebuilds the routes from the store's active deployments (after a deploy,
    /// an activation or a deactivation).
    pub async fn reload(&self) -> Result<(), store::Error> {
        let active = self.shared.store.active_deployments().await?;
        self.shared.set_routes(&active);
        self.shared.dispatcher.reload().await
    }

    /// What starts, wakes and stops this server's runs.
    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.shared.dispatcher
    }

    /// Every webhook served, sorted by path and method.
    pub fn webhooks(&self) -> Vec<Arc<Route>> {
        self.shared.routes().all()
    }
}

/// What the request handler shares.
struct Shared {
    routes: RwLock<Arc<Routes>>,
    store: Arc<dyn Store>,
    engine: Arc<Engine>,
    dispatcher: Arc<Dispatcher>,
    secrets: Arc<dyn SecretSource>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    body_limit: usize,
    body_timeout: std::time::Duration,
    delivery_retention: std::time::Duration,
    admin_token: Option<SecretString>,
    admin_open: bool,
    http: HttpLimits,
    /// The webhooks' rate limits ([`limits::admit`]).
    buckets: limits::Buckets,
}

impl Shared {
    /// Replaces the routes with those of `active`, each with the engine's
    /// evaluator of its deployment; the engine retires every other deployment
    /// (its runs still going keep theirs until they end).
    fn set_routes(&self, active: &[Deployment]) {
        let keep: std::collections::HashSet<&str> = active
            .iter()
            .map(|deployment| deployment.id.as_str())
            .collect();
        self.engine.retire_all_but(&keep);
        let mut evaluators = std::collections::HashMap::new();
        let adopted: Vec<Deployment> = active
            .iter()
            .map(|deployment| {
                let (program, evaluator) = self.engine.adopt(&deployment.id, &deployment.program);
                evaluators.insert(deployment.id.clone(), evaluator);
                Deployment {
                    program,
                    ..deployment.clone()
                }
            })
            .collect();
        let routes = Arc::new(Routes::new(&adopted, |deployment| {
            Arc::clone(&evaluators[&deployment.id])
        }));
        match self.routes.write() {
            Ok(mut current) => *current = routes,
            Err(poisoned) => *poisoned.into_inner() = routes,
        }
    }

    fn routes(&self) -> Arc<Routes> {
        match self.routes.read() {
            Ok(routes) => Arc::clone(&routes),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Interprets a run `start_run` has just created from `new`, on a task of its
    /// own, without reading it back ([`Engine::run_new`]).
    fn spawn_new(&self, run: String, new: store::NewRun) {
        self.dispatcher.start_new(run, new);
    }

    /// Interprets a stored run on a task of its own.
    fn spawn_run(&self, run: String) {
        self.dispatcher.start(run);
    }
}
