//! One webhook request, from its method and path to `202 {run_id}`.
//!
//! The order is SPEC §5.1's, and every refusal happens before a run is stored:
//! route (404 alike for every unknown path, 405 with `Allow`) → the webhook's
//! rate limit (429) → body, at most the webhook's limit (413; a declared
//! `Content-Length` over it is refused before a byte is read, so an `Expect:
//! 100-continue` client is never told to send it), within the read timeout (408) → verification over the raw bytes (401) →
//! `Content-Type` (415) → JSON (400) → Slack's URL verification, answered here →
//! the workflow's parameter type (422 with the mismatch's path) → the
//! idempotency key → `start_run`, whose future resolves after the commit → 202.
//! Only then is the run handed to the engine, on a task of its own; a crash
//! before it finishes leaves a non-terminal run that the next start resumes.
//! A path only `await webhook` steps claim takes the same steps up to JSON, then
//! `events.rs` checks the body against the awaits' type and stores it for the
//! waiting runs (`202 {event_id}`, no run); a trigger's path that its workflow
//! also awaits offers the body to those runs once the run is stored.
//!
//! Every request that found a webhook is recorded in the delivery history: an
//! accepted one by `start_run` in the run's transaction (where its provider
//! delivery id or idempotency key may map it to an earlier run: a `duplicate`),
//! a refused one on its own with its status and reason, and no run. Requests to
//! unknown paths (404) or with a method the path does not take (405) are not
//! recorded: they name no webhook, and recording them would let anyone grow the
//! table; nor are those the webhook's rate limit refuses (429), for the same
//! reason.

use super::Shared;
use super::problem::Problem;
use super::routes::{Lookup, Route, RouteKind};
use super::verify::{Check, Encoding, Key};
use crate::metrics::Webhook;
use crate::store::{Delivery, DeliveryOutcome, NewDelivery, NewRun, RunOutcome, RunStatus};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flowc_compiler::eval::{self, Context, Frame};
use flowc_compiler::ir::{Expr, ExprKind, Function, Program, Respond};
use flowc_compiler::ty::TypeTable;
use flowc_compiler::value::{Mismatch, SecretPart, Value};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Headers never shown to a workflow as `webhook.headers`.
const AUTH_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// The fallback handler: every request comes here.
pub async fn handle(shared: Arc<Shared>, request: Request) -> Response {
    let seen = Webhook::seen(&shared.routes(), &request);
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let route = match shared.routes().lookup(&method, &path) {
        Lookup::Found(route) => route,
        Lookup::WrongMethod(allow) => return seen.refused(Problem::method_not_allowed(allow)),
        Lookup::NotFound => return seen.refused(Problem::not_found()),
    };
    let mut delivery_id = None;
    match accept(&shared, &route, request, &mut delivery_id).await {
        Ok(response) => seen.answered(response),
        Err(refused) if !refused.recorded => seen.refused(refused.problem),
        Err(refused) => {
            let status = refused.problem.status;
            let record = NewDelivery {
                method: route.method.clone(),
                path: route.path.clone(),
                workflow: route.workflow.clone(),
                outcome: DeliveryOutcome::Rejected,
                status: status.as_u16(),
                reason: Some(refused.reason),
                delivery_id,
            };
            if let Err(error) = shared.store.record_delivery(record).await {
                tracing::warn!(path = route.path.as_str(), %error, "a refused delivery was not recorded");
            }
            let mut response = seen.refused(refused.problem);
            if status == StatusCode::REQUEST_TIMEOUT {
                // The rest of the body may still come: the connection is not reused.
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
    }
}

/// A refusal: the answer, and why, for the delivery history.
pub(super) struct Refused {
    pub(super) problem: Problem,
    pub(super) reason: String,
    /// False for a request refused by the webhook's rate limit: a flood must not
    /// grow the history.
    pub(super) recorded: bool,
}

impl From<Problem> for Refused {
    fn from(problem: Problem) -> Refused {
        Refused {
            reason: problem.message.clone(),
            problem,
            recorded: true,
        }
    }
}

impl Refused {
    pub(super) fn new(problem: Problem, reason: impl Into<String>) -> Refused {
        Refused {
            problem,
            reason: reason.into(),
            recorded: true,
        }
    }

    /// `422 input_mismatch` ([`Problem::input_mismatch`]); the history's reason
    /// names where and what was expected, not what was found: that may quote
    /// the body.
    pub(super) fn input_mismatch(message: String, mismatch: &Mismatch) -> Refused {
        Refused::new(
            Problem::input_mismatch(message, mismatch),
            format!(
                "input mismatch at ${}: expected {}",
                mismatch.path, mismatch.expected
            ),
        )
    }
}

/// Everything after the route is found. `delivery_id` is filled in as soon as
/// the provider's id of the delivery is known, for the history of a refusal.
async fn accept(
    shared: &Shared,
    route: &Route,
    request: Request,
    delivery_id: &mut Option<String>,
) -> Result<Response, Refused> {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let headers = request.headers().clone();
    let query = request.uri().query().unwrap_or("").to_string();
    let remote_ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_default();
    let body = read_body(shared, route, request).await?;

    let webhook = metadata(&method, &path, &headers, &query, &remote_ip, route);
    let ctx = Ctx {
        program: &route.program,
        now: shared.clock.now_ms(),
        webhook,
    };
    let check = match &route.verify {
        Some(verify) => {
            let check = prepare(shared, route, &ctx, verify).await?;
            *delivery_id = check.header_delivery_id(&headers);
            if let Err(refusal) = check.verify(&headers, &body, ctx.now) {
                return Err(Refused::new(
                    Problem::new(
                        StatusCode::UNAUTHORIZED,
                        "unauthorized",
                        "the request's signature or token does not verify",
                    ),
                    refusal.reason,
                ));
            }
            Some(check)
        }
        None => None,
    };
    if !is_json(&headers) {
        return Err(Problem::not_json().into());
    }
    let json: serde_json::Value =
        serde_json::from_slice(&body).map_err(|error| Problem::malformed_json(&error))?;
    if let Some(check) = &check {
        if delivery_id.is_none() {
            *delivery_id = check.body_delivery_id(&json);
        }
        if let Some(challenge) = check.slack_challenge(&json) {
            return Ok(answer_challenge(shared, route, challenge, delivery_id.take()).await);
        }
    }
    // A path only `await webhook` steps claim starts no run (`events.rs`).
    if let RouteKind::Await(awaited) = &route.kind {
        return super::events::accept_awaited(shared, route, awaited, json, delivery_id.take())
            .await;
    }

    let Some(workflow) = route.program.workflow(&route.workflow) else {
        return Err(Problem::internal().into());
    };
    let Some(param) = workflow.params.first() else {
        return Err(Problem::internal().into());
    };
    let input =
        Value::from_json_typed(&json, &param.ty, &route.program.types).map_err(|mismatch| {
            Refused::input_mismatch(
                format!(
                    "the body does not have the type of `{}`'s input: {mismatch}",
                    route.workflow
                ),
                &mismatch,
            )
        })?;

    let idempotency_key = match route.idempotency_key() {
        Some(expr) => {
            let mut frame = Frame::new(usize::try_from(workflow.frame_size).unwrap_or(0).max(1));
            frame.set(param.slot, input);
            let key = route
                .evaluator
                .eval(expr, &mut frame, &ctx, &shared.limits)
                .map_err(|error| {
                    Problem::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "idempotency_key",
                        format!("the idempotency key cannot be computed: {error}"),
                    )
                })?;
            match key {
                Value::Null => None,
                Value::String(text) => Some(text.to_string()),
                other => Some(other.to_json().to_string()),
            }
        }
        None => None,
    };

    // The workflow's own `await webhook` steps on this path get the body too.
    let offered = route.awaited().map(|awaited| (awaited, json.clone()));
    let new = NewRun {
        deployment: route.deployment.clone(),
        workflow: route.workflow.clone(),
        input: json,
        idempotency_key,
        trigger: "webhook".into(),
        delivery: Some(Delivery {
            method: route.method.clone(),
            path: route.path.clone(),
            delivery_id: delivery_id.clone(),
            status: StatusCode::ACCEPTED.as_u16(),
        }),
        webhook: Some(ctx.webhook.to_json()),
        replay_of: None,
    };
    // The engine gets the run as stored here, rather than reading it back.
    let started = shared.store.start_run(new.clone()).await.map_err(|error| {
        eprintln!("flowc: cannot store a run of `{}`: {error}", route.workflow);
        Refused::new(Problem::internal(), "the run could not be stored")
    })?;
    if let Some((awaited, body)) = offered
        && started.created
    {
        super::events::offer(shared, &route.program, awaited, body).await;
    }
    if route.respond == Respond::Wait {
        let response = answer_when_done(shared, started.run, started.created, new).await;
        if let Some(delivery) = &started.delivery
            && response.status() != StatusCode::ACCEPTED
            && let Err(error) = shared
                .store
                .set_delivery_status(delivery, response.status().as_u16())
                .await
        {
            tracing::warn!(%error, "a delivery's answer was not recorded");
        }
        return Ok(response);
    }
    if started.created {
        shared.spawn_new(started.run.clone(), new);
    }
    Ok(accepted(&started.run))
}

/// The body, whole. The webhook's rate limit (429, not recorded) and body limit
/// (413; a declared `Content-Length` over it is refused before a byte is read,
/// so hyper never sends `100 Continue` to a client that waits for it) come first
/// ([`super::limits::admit`]); then the body must arrive within the read timeout
/// (408), and a connection that breaks is 400.
async fn read_body(shared: &Shared, route: &Route, request: Request) -> Result<Bytes, Refused> {
    let (request, body_limit) =
        super::limits::admit(shared, route, request).map_err(|problem| {
            let recorded = problem.status != StatusCode::TOO_MANY_REQUESTS;
            Refused {
                reason: problem.message.clone(),
                problem,
                recorded,
            }
        })?;
    super::limits::read_bounded(request, body_limit, shared.body_timeout, || {
        format!(
            "the body did not arrive within {}",
            seconds(shared.body_timeout)
        )
    })
    .await
    .map_err(Refused::from)
}

/// `10 s`, `0.2 s`.
fn seconds(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1000) {
        format!("{} s", millis / 1000)
    } else {
        format!("{} s", duration.as_secs_f64())
    }
}

/// Slack's URL verification, once the request has verified: 200 with the
/// challenge, no run, an `accepted` delivery in the history.
async fn answer_challenge(
    shared: &Shared,
    route: &Route,
    challenge: &str,
    delivery_id: Option<String>,
) -> Response {
    let record = NewDelivery {
        method: route.method.clone(),
        path: route.path.clone(),
        workflow: route.workflow.clone(),
        outcome: DeliveryOutcome::Accepted,
        status: StatusCode::OK.as_u16(),
        reason: Some("Slack URL verification answered; no run".into()),
        delivery_id,
    };
    if let Err(error) = shared.store.record_delivery(record).await {
        tracing::warn!(path = route.path.as_str(), %error, "a delivery was not recorded");
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "challenge": challenge }).to_string(),
    )
        .into_response()
}

/// How often the delivery history is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes the deliveries older than the retention, at start and then every
/// [`PRUNE_EVERY`], until the server stops (the task is aborted). The cut-off
/// is read from the runtime's clock; the period is wall time.
pub(super) async fn prune_deliveries(shared: Arc<Shared>) {
    let retention = i64::try_from(shared.delivery_retention.as_millis()).unwrap_or(i64::MAX);
    let mut every = tokio::time::interval(PRUNE_EVERY);
    loop {
        every.tick().await;
        let before = shared.clock.now_ms().saturating_sub(retention);
        match shared.store.prune_deliveries(before).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "pruned the delivery history"),
            Err(error) => tracing::warn!(%error, "the delivery history could not be pruned"),
        }
    }
}

/// How long a `respond: wait` request is held before it falls back to 202.
pub const RESPONSE_LIMIT: Duration = Duration::from_secs(30);

/// `202 {run_id}`: the run is stored and will be (or is being) interpreted.
fn accepted(run: &str) -> Response {
    (
        StatusCode::ACCEPTED,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "run_id": run }).to_string(),
    )
        .into_response()
}

/// `respond: wait`: the run's output (200) or error, when it ends within
/// [`RESPONSE_LIMIT`]; 202 with the run id otherwise (the run goes on).
///
/// The run is interpreted on a task of its own, as for `accepted`, so a caller
/// hanging up does not stop it; this request only listens for the outcome. A
/// repeated delivery of a run that has already ended gets that run's outcome; of a
/// run still going, 202.
async fn answer_when_done(shared: &Shared, run: String, created: bool, new: NewRun) -> Response {
    if !created {
        return match shared.store.get_run(&run).await {
            Ok(Some(detail)) => match outcome_of(&detail.run) {
                Some(outcome) => finished(&run, &outcome),
                None => accepted(&run),
            },
            _ => accepted(&run),
        };
    }
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let engine = Arc::clone(&shared.engine);
    let id = run.clone();
    tokio::spawn(async move {
        let result = engine.run_new(&id, new).await;
        if let Err(error) = &result {
            eprintln!("flowc: run {id} stopped and will resume at the next start: {error}");
        }
        let _ = sender.send(result);
    });
    // A transport limit in wall time, like a socket timeout, not workflow time:
    // it is not read through the runtime's `Clock`.
    match tokio::time::timeout(RESPONSE_LIMIT, receiver).await {
        // A run that parked (a wait, an approval) goes on later: 202.
        Ok(Ok(Ok(RunOutcome::Waiting))) => accepted(&run),
        Ok(Ok(Ok(outcome))) => finished(&run, &outcome),
        _ => accepted(&run),
    }
}

/// The outcome of a run that has ended, from its stored form.
fn outcome_of(run: &crate::store::Run) -> Option<RunOutcome> {
    match run.status {
        RunStatus::Succeeded => Some(RunOutcome::Succeeded(
            run.output.clone().unwrap_or_default(),
        )),
        RunStatus::Failed => Some(RunOutcome::Failed(run.error.clone().unwrap_or_default())),
        RunStatus::Cancelled => Some(RunOutcome::Cancelled),
        _ => None,
    }
}

/// The answer for a run that ended: 200 with its output; 500 `run_failed` with
/// the run's error in `details.error`; 409 `run_cancelled`. The run id is in the
/// `Flowc-Run-Id` header either way.
fn finished(run: &str, outcome: &RunOutcome) -> Response {
    let mut response = match outcome {
        RunOutcome::Succeeded(output) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            output.to_string(),
        )
            .into_response(),
        RunOutcome::Failed(error) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "run_failed",
            format!(
                "the run failed: {}",
                error
                    .get("message")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("no message")
            ),
        )
        .with_details(json!({ "run_id": run, "error": error }))
        .into_response(),
        RunOutcome::Cancelled => Problem::new(
            StatusCode::CONFLICT,
            "run_cancelled",
            "the run was cancelled before it finished",
        )
        .with_details(json!({ "run_id": run }))
        .into_response(),
        RunOutcome::Waiting => accepted(run),
    };
    if let Ok(value) = axum::http::HeaderValue::from_str(run) {
        response.headers_mut().insert(RUN_ID_HEADER, value);
    }
    response
}

/// The header naming the run on a `respond: wait` answer.
pub const RUN_ID_HEADER: &str = "flowc-run-id";

/// `application/json`, `application/*+json`, with any parameters.
pub(super) fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// `webhook`: the request as the workflow sees it, without authentication
/// headers (nor the header a `verify:` form or preset reads its signature or
/// token from).
fn metadata(
    method: &str,
    path: &str,
    headers: &HeaderMap,
    query: &str,
    remote_ip: &str,
    route: &Route,
) -> Value {
    let hidden = route.verify.as_ref().and_then(|verify| match &verify.kind {
        ExprKind::Tagged { tag, .. } if Check::signature_header(tag).is_some() => {
            Check::signature_header(tag).map(str::to_ascii_lowercase)
        }
        ExprKind::Tagged { fields, .. } => {
            fields
                .iter()
                .find_map(|(name, expr)| match (name.as_str(), &expr.kind) {
                    (
                        "header",
                        ExprKind::Literal {
                            value: flowc_compiler::ir::Literal::String { value },
                        },
                    ) => Some(value.to_ascii_lowercase()),
                    _ => None,
                })
        }
        _ => None,
    });
    let mut shown: Vec<(String, Value)> = Vec::new();
    for (name, value) in headers {
        let name = name.as_str();
        if AUTH_HEADERS.contains(&name) || hidden.as_deref() == Some(name) {
            continue;
        }
        let Ok(value) = value.to_str() else { continue };
        match shown.iter_mut().find(|(known, _)| known == name) {
            Some((_, Value::String(joined))) => {
                *joined = format!("{joined}, {value}").into();
            }
            _ => shown.push((name.to_string(), Value::string(value))),
        }
    }
    let query = form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (name.into_owned(), Value::string(value.into_owned())));
    Value::record([
        ("headers", Value::record(shown)),
        ("query", Value::record(query)),
        ("method", Value::string(method)),
        ("path", Value::string(path)),
        ("remote_ip", Value::string(remote_ip)),
    ])
}

/// The verification form, evaluated, with its secret from the vault. A form
/// that cannot be prepared (a secret missing from the vault, a Standard Webhooks
/// secret that is not `whsec_` + base64) answers 500 `verification_unavailable`:
/// the server's configuration is at fault, not the request.
async fn prepare(
    shared: &Shared,
    route: &Route,
    ctx: &Ctx<'_>,
    verify: &Expr,
) -> Result<Check, Refused> {
    let unavailable = |message: String| {
        eprintln!("flowc: webhook verification unavailable: {message}");
        Refused::new(
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "verification_unavailable",
                "the webhook's verification is not available on this server",
            ),
            format!("verification unavailable: {message}"),
        )
    };
    let ExprKind::Tagged { tag, fields } = &verify.kind else {
        return Err(unavailable("not a verification form".into()));
    };
    let mut values = Vec::with_capacity(fields.len());
    for (name, expr) in fields {
        let value = route
            .evaluator
            .eval(expr, &mut Frame::new(0), ctx, &shared.limits)
            .map_err(|error| unavailable(format!("`{name}`: {error}")))?;
        values.push((name.as_str(), value));
    }
    let field = |wanted: &str| {
        values
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, value)| value)
    };
    let text = |wanted: &str| match field(wanted) {
        Some(Value::String(text)) => Some(text.to_string()),
        _ => None,
    };
    let no_header = || unavailable(format!("`{tag}` has no header"));
    let secret = match field("secret") {
        Some(value) => resolve(shared, value).await.map_err(unavailable)?,
        None => return Err(unavailable(format!("`{tag}` has no secret"))),
    };
    match tag.as_str() {
        "header_token" => Ok(Check::HeaderToken {
            header: text("header").ok_or_else(no_header)?,
            token: secret,
        }),
        "hmac_sha256" => {
            let encoding = match text("encoding") {
                Some(name) => Encoding::parse(&name)
                    .ok_or_else(|| unavailable(format!("unknown encoding `{name}`")))?,
                None => Encoding::Hex,
            };
            Ok(Check::HmacSha256 {
                header: text("header").ok_or_else(no_header)?,
                key: secret,
                encoding,
            })
        }
        "github" => Ok(Check::Github { secret }),
        "stripe" => Ok(Check::Stripe { secret }),
        "slack" => Ok(Check::Slack { secret }),
        "shopify" => Ok(Check::Shopify { secret }),
        "standard_webhooks" => match Key::standard_webhooks(&secret) {
            Some(key) => Ok(Check::StandardWebhooks { key }),
            None => Err(unavailable(
                "the `standard_webhooks` secret is not `whsec_` followed by base64".into(),
            )),
        },
        other => Err(unavailable(format!(
            "`{other}` is not a verification form this runtime knows"
        ))),
    }
}

/// A secret-valued field as text, its vault entries filled in.
async fn resolve(shared: &Shared, value: &Value) -> Result<crate::vault::SecretString, String> {
    match value {
        Value::String(text) => Ok(crate::vault::SecretString::new(text.to_string())),
        Value::Secret(parts) => {
            let mut joined = zeroize::Zeroizing::new(String::new());
            for part in parts.iter() {
                match part {
                    SecretPart::Text(text) => joined.push_str(text),
                    SecretPart::Secret(name) => match shared.secrets.get(name).await? {
                        Some(secret) => joined.push_str(secret.expose()),
                        None => return Err(format!("secret `{name}` is not in the vault")),
                    },
                }
            }
            Ok(crate::vault::SecretString::new(joined.as_str()))
        }
        _ => Err("the secret is neither text nor a secret".into()),
    }
}

/// What expressions evaluated at ingress (the idempotency key, the verification
/// form) see: the program's functions and types, the clock, `webhook`.
struct Ctx<'a> {
    program: &'a Program,
    now: i64,
    webhook: Value,
}

impl Context for Ctx<'_> {
    fn now(&self) -> i64 {
        self.now
    }

    fn uuid(&self) -> String {
        let high = getrandom::u64().unwrap_or_default();
        let low = getrandom::u64().unwrap_or_default();
        eval::uuid_v4(high, low)
    }

    fn webhook(&self) -> Value {
        self.webhook.clone()
    }

    fn function(&self, index: u32) -> Option<&Function> {
        self.program.functions.get(usize::try_from(index).ok()?)
    }

    fn types(&self) -> &TypeTable {
        &self.program.types
    }
}
