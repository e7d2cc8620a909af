//! The admin API under `/api/v1`: deployments, workflows and runs, for `flowc
//! deploy`, `flowc runs` and scripts.
//!
//! Every route, known or not, first checks `Authorization: Bearer <token>` against
//! the admin token (both hashed with SHA-256, then compared in constant time, so
//! neither the bytes nor the length of the token leak through timing); a server
//! without a token answers 401 to everything here, so the API is never open by
//! default: only `flowc serve --no-admin-token` opens it, and only on a loopback
//! address (`Options::admin_open`). `/api/v1` and everything under it belongs to
//! this API: a webhook declared under that prefix is shadowed (the rest of `/api/` stays free for
//! webhooks). Answers are JSON; errors are `{code, message, details}`
//! ([`Problem`]), unknown routes under the prefix 404 and wrong methods 405, both
//! in that shape. Bodies are limited like webhook bodies.
//!
//! The one exception to the token is `GET /openapi.json`, this API's OpenAPI 3.1
//! document, generated from the attributes on the handlers below and the types
//! they answer with (`openapi.rs` says how, and why it is public). A route is
//! registered only through `routes!`, which takes its path from the handler's
//! `#[utoipa::path]`, so every route is in the document.
//!
//! | method and path | answer |
//! | --- | --- |
//! | `POST /deployments` | `{"files": [{path, source}]}` or `{"ir": …}`, `activate` (default true) → 201 (200 when the hash exists) `{id, version, hash, created, active, workflows, webhooks}`; 422 `compile_errors` (details: the `flowc check --format json` object), 422 `bad_ir`, 422 `missing_secrets`, 409 `webhook_conflict` |
//! | `GET /deployments` | `{deployments: [summary]}` |
//! | `GET /deployments/{id}` | summary + `webhooks` |
//! | `POST /deployments/{id}/activate` | the summary with webhooks; 409 `webhook_conflict` |
//! | `POST /deployments/{id}/deactivate` | the summary with webhooks |
//! | `GET /workflows` | `{workflows: [{name, deployment, version, triggers, input_type}]}` of active deployments |
//! | `GET /workflows/{name}` | the same for one, plus `versions` |
//! | `POST /workflows/{name}/runs` | the input as the body, `Idempotency-Key` → 201 `{run_id, created}` (200 when the key is known); 422 `input_mismatch`; 409 `not_manual` without `on manual` |
//! | `GET /runs` `?workflow=&status=&deployment=&limit=&after=` | `{runs, next}`, newest first; 400 `bad_query` |
//! | `GET /runs/{id}` | `{run, steps}`, each step marked `recorded` when it is a journaled `now()`/`uuid()` |
//! | `POST /runs/{id}/retry` | 202 `{run_id}`; 409 `run_not_failed` |
//! | `POST /runs/{id}/replay` | optional `{"input": …}` → 201 `{run_id}` (a new run) |
//! | `POST /runs/{id}/cancel` | `{run_id, status: "cancelled"}`; 409 `run_finished` |
//! | `GET /webhooks/deliveries` `?path=&outcome=&limit=&after=` | `{deliveries, next}`, every delivery to a webhook newest first, accepted, duplicate or rejected with its status and reason (`deliveries.rs`); 400 `bad_query` |
//! | `POST /runs/{id}/approve` | optional `{by, comment}` → `{run_id, step, approved: true}`: the run's oldest open approval is approved (`handles.rs`); 409 `no_open_approval` |
//! | `POST /runs/{id}/reject` | the same, `approved: false` |
//! | `GET /approvals` `?limit=` | `{approvals: [{run, path, message, created_at, deadline}]}`, the open approvals oldest first |
//! | `POST /events/{name}` | the payload as the body → 202 `{event_id}`, delivered by the dispatcher (`events.rs`); 404 `event_not_found`; 422 `input_mismatch` |
//! | `GET /workflows/{name}/context` | the workflow's context, one JSON object (`control.rs`) |
//! | `PATCH /workflows/{name}/context` | a JSON object: each key set, `null` removes it → the context after; 400 `bad_body` when not an object |
//! | `POST /runs/{id}/pause` | `{run_id, paused: true}`: no new step starts; 409 `run_finished` |
//! | `POST /runs/{id}/resume` | `{run_id, paused: false}`; 409 `run_finished` |
//! | `POST /runs/cancel` | optional `{workflow, status}` → `{count, runs}`: every run that has not ended, cancelled |
//! | `POST /runs/retry` | optional `{workflow, status: "failed"}` → `{count, runs}`: every failed run, retried |
//! | `GET /openapi.json` | this API's OpenAPI 3.1 document (no token) |
//!
//! Outside the prefix, `GET /metrics` (Prometheus text, `crate::metrics`) is
//! behind the same token check ([`authenticate`]); it is not in the document.

use super::Shared;
use super::openapi::{self, Document, ProblemSchema};
use super::problem::Problem;
use super::routes::{self, DeployError};
use crate::engine::{self, MissingSecret, check_input, input_type, is_recorded_path};
use crate::store::{self, Deployment, DeploymentSummary, NewRun, Page, RunFilter, RunStatus};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use flowc_compiler::ir::{Program, Trigger, Workflow};
use flowc_compiler::{Loader, SourceFile, report};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where the admin API is mounted.
pub const PREFIX: &str = "/api/v1";

/// The most runs one page lists.
pub const MAX_PAGE: u32 = 500;

/// The admin routes, to be nested under [`PREFIX`].
pub(super) fn router(shared: Arc<Shared>) -> Router {
    // Every route registered here is behind the token, and so are the unknown
    // routes and wrong methods: the fallbacks are set before the layer wraps them.
    let (protected, protected_document) = OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(deploy, list_deployments))
        .routes(routes!(get_deployment))
        .routes(routes!(activate))
        .routes(routes!(deactivate))
        .routes(routes!(list_workflows))
        .routes(routes!(get_workflow))
        .routes(routes!(start_run))
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
        .routes(routes!(retry))
        .routes(routes!(replay))
        .routes(routes!(cancel))
        .routes(routes!(super::deliveries::list_deliveries))
        .routes(routes!(super::events::emit))
        .routes(routes!(
            super::control::get_context,
            super::control::patch_context
        ))
        .routes(routes!(super::control::pause))
        .routes(routes!(super::control::resume))
        .routes(routes!(super::control::cancel_runs))
        .routes(routes!(super::control::retry_runs))
        .routes(routes!(super::handles::approve_run))
        .routes(routes!(super::handles::reject_run))
        .routes(routes!(super::handles::list_approvals))
        .split_for_parts();
    let protected = protected
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            authenticate,
        ));
    let (public, public_document) = OpenApiRouter::new()
        .routes(routes!(openapi::openapi))
        .split_for_parts();
    let mut document = protected_document;
    document.merge(public_document);
    let document = openapi::finish(document, PREFIX);
    let text = document.to_json().unwrap_or_else(|error| {
        tracing::error!(%error, "the OpenAPI document could not be serialised");
        "{}".into()
    });
    let public = public
        .method_not_allowed_fallback(wrong_method)
        .layer(Extension(Document(Arc::from(text))));
    protected.merge(public).with_state(shared)
}

pub(super) type Answer = Result<Response, Problem>;

// ---------------------------------------------------------------- plumbing

/// Refuses every request without the right bearer token, before routing (also
/// in front of `GET /metrics`, outside the prefix).
pub(super) async fn authenticate(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    if shared.admin_open {
        return next.run(request).await;
    }
    let Some(expected) = &shared.admin_token else {
        return unauthorized("the admin API is disabled: the server has no admin token");
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let Some(given) = given else {
        return unauthorized("send the admin token as `Authorization: Bearer <token>`");
    };
    let (given, expected) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(expected.expose().as_bytes()),
    );
    if bool::from(given.as_slice().ct_eq(expected.as_slice())) {
        next.run(request).await
    } else {
        unauthorized("the admin token is wrong")
    }
}

fn unauthorized(message: &str) -> Response {
    let mut response =
        Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

async fn unknown_route() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no admin API route here (see the routes under {PREFIX})"),
    )
}

async fn wrong_method() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this admin API route does not accept this method",
    )
}

/// A JSON answer.
pub(super) fn reply(status: StatusCode, body: &impl Serialize) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response()
}

/// A path parameter; one axum cannot decode (percent-encoded bytes that are not
/// UTF-8) is a 400 in the API's error shape rather than axum's plain text.
pub(super) fn path_param(path: Result<Path<String>, PathRejection>) -> Result<String, Problem> {
    match path {
        Ok(Path(value)) => Ok(value),
        Err(rejection) => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "bad_path",
            format!("the path cannot be read: {}", rejection.body_text()),
        )),
    }
}

/// The request body as JSON; `None` when it is empty.
pub(super) fn body_json(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Option<Json>, Problem> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            super::limits::payload_too_large(limit)
        } else {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "bad_body",
                "the body could not be read",
            )
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|error| Problem::malformed_json(&error))
}

/// A body of a known shape.
pub(super) fn body_as<T: serde::de::DeserializeOwned>(json: Json) -> Result<T, Problem> {
    serde_json::from_value(json).map_err(|error| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            format!("the body does not have the expected shape: {error}"),
        )
    })
}

/// A failure of the store, logged here and answered 500 without its details.
pub(super) fn internal(error: &impl std::fmt::Display) -> Problem {
    tracing::error!(%error, "admin API request failed");
    Problem::internal()
}

fn input_mismatch(workflow: &str, mismatch: &flowc_compiler::value::Mismatch) -> Problem {
    Problem::input_mismatch(
        format!("the input does not have the type of `{workflow}`'s input: {mismatch}"),
        mismatch,
    )
}

pub(super) fn run_not_found(id: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "run_not_found",
        format!("no run `{id}`"),
    )
}

fn deployment_not_found(id: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "deployment_not_found",
        format!("no deployment `{id}`"),
    )
}

pub(super) fn workflow_not_found(name: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "workflow_not_found",
        format!("no active deployment defines workflow `{name}`"),
    )
}

fn deploy_problem(error: DeployError, id: &str) -> Problem {
    match error {
        DeployError::Conflict {
            method,
            path,
            workflow,
            owner,
            deployment,
        } => {
            let message = format!(
                "{method} {path} is already claimed by workflow `{owner}` of active \
                 deployment `{deployment}`; deactivate it or move one of the webhooks"
            );
            Problem::new(StatusCode::CONFLICT, "webhook_conflict", message).with_details(json!({
                "method": method,
                "path": path,
                "workflow": workflow,
                "owner": owner,
                "deployment": deployment,
            }))
        }
        DeployError::Store(store::Error::NotFound { .. }) => deployment_not_found(id),
        DeployError::Store(error) => internal(&error),
    }
}

// ---------------------------------------------------------------- deployments

/// What `POST /deployments` reads; checked into a [`DeployRequest`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployBody {
    files: Option<Vec<PostedFile>>,
    ir: Option<Json>,
    activate: Option<bool>,
}

/// A program to deploy: its source files, or its IR (what `flowc build` writes).
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(
    dead_code,
    reason = "the document's view of `DeployBody`; see `DeployRequest::read`"
)]
enum DeployRequest {
    Source(SourceRequest),
    Ir(IrRequest),
}

/// Source files; imports between them resolve among the posted paths.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "described for the document, read through `DeployBody`"
)]
struct SourceRequest {
    /// The roots and every file they import.
    #[schema(min_items = 1)]
    files: Vec<PostedFile>,
    /// Whether the deployment becomes active (default true).
    activate: Option<bool>,
}

/// The IR of a program, as `flowc build` writes it.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "described for the document, read through `DeployBody`"
)]
struct IrRequest {
    #[schema(value_type = Object)]
    ir: Json,
    /// Whether the deployment becomes active (default true).
    activate: Option<bool>,
}

/// One posted `.flow` file.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PostedFile {
    /// The path imports name it by (`lib/util.flow`).
    path: String,
    source: String,
}

/// A webhook a deployment claims.
#[derive(Serialize, ToSchema)]
struct Webhook {
    /// Upper case: `POST`.
    method: String,
    path: String,
    workflow: String,
}

fn webhooks(program: &Program) -> Vec<Webhook> {
    routes::claims(program)
        .into_iter()
        .map(|claim| Webhook {
            method: claim.method,
            path: claim.path,
            workflow: claim.workflow,
        })
        .collect()
}

/// What `POST /deployments` answers.
#[derive(Serialize, ToSchema)]
struct Deployed {
    id: String,
    /// 1, 2, 3, … in the order deployments were first stored.
    version: i64,
    /// The program's content hash (SHA-256 of its IR without spans).
    hash: String,
    /// False when a deployment with the same hash existed and is answered instead.
    created: bool,
    active: bool,
    workflows: Vec<String>,
    webhooks: Vec<Webhook>,
}

/// A deployment without its program.
#[derive(Serialize, ToSchema)]
struct Summary {
    id: String,
    hash: String,
    version: i64,
    workflows: Vec<String>,
    active: bool,
    /// Milliseconds since the Unix epoch.
    created_at: i64,
}

impl From<DeploymentSummary> for Summary {
    fn from(summary: DeploymentSummary) -> Summary {
        Summary {
            id: summary.id,
            hash: summary.hash,
            version: summary.version,
            workflows: summary.workflows,
            active: summary.active,
            created_at: summary.created_at,
        }
    }
}

/// `GET /deployments`.
#[derive(Serialize, ToSchema)]
struct Deployments {
    deployments: Vec<Summary>,
}

/// A deployment's summary with the webhooks it claims.
#[derive(Serialize, ToSchema)]
struct Described {
    id: String,
    hash: String,
    version: i64,
    workflows: Vec<String>,
    active: bool,
    /// Milliseconds since the Unix epoch.
    created_at: i64,
    webhooks: Vec<Webhook>,
}

/// The posted files, for imports between them: `./` and `a/../` are
/// normalised the way the compiler joins import paths.
struct Posted(HashMap<String, String>);

impl Loader for Posted {
    fn load(&self, path: &str) -> Result<String, String> {
        self.0
            .get(&normalise(path))
            .cloned()
            .ok_or_else(|| format!("`{path}` is not one of the posted files"))
    }
}

fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// The 422 `compile_errors` answer: its `details` is the check report, serialised
/// in the report's own field order.
fn compile_errors(report: &report::Report<'_>) -> Response {
    #[derive(Serialize)]
    struct Body<'a> {
        code: &'static str,
        message: String,
        details: report::Json<'a>,
    }
    let message = match report.error_count {
        1 => "the program has 1 error".to_string(),
        n => format!("the program has {n} errors"),
    };
    reply(
        StatusCode::UNPROCESSABLE_ENTITY,
        &Body {
            code: "compile_errors",
            message,
            details: report.json(),
        },
    )
}

fn missing_secrets_problem(missing: &[MissingSecret]) -> Problem {
    let names: Vec<String> = missing
        .iter()
        .map(|secret| format!("`{}`", secret.name))
        .collect();
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "missing_secrets",
        format!(
            "the vault has no {}; set them with `flowc secrets set NAME` and deploy again",
            names.join(", ")
        ),
    )
    .with_details(json!({ "secrets": missing }))
}

/// Deploys a program, from source or IR.
#[utoipa::path(
    post,
    path = "/deployments",
    tag = "deployments",
    summary = "Deploy a program from source files or IR",
    request_body(content = DeployRequest, description = "`files` or `ir`, exactly one"),
    responses(
        (status = 201, description = "stored as a new deployment", body = Deployed, links(
            ("show" = (operation_id = "get_deployment", parameters(("id" = "$response.body#/id")))),
            ("activate" = (operation_id = "activate", parameters(("id" = "$response.body#/id")))),
            ("deactivate" = (operation_id = "deactivate", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 200, description = "a deployment with the same hash exists and is answered", body = Deployed),
        (status = 400, description = "`malformed_json`, `bad_body`: the body is not JSON or not of this shape", body = ProblemSchema),
        (status = 409, description = "`webhook_conflict`: a webhook is claimed by another active deployment", body = ProblemSchema),
        (status = 413, description = "`payload_too_large`", body = ProblemSchema),
        (status = 422, description = "`compile_errors` (details: the `flowc check --format json` report), `bad_ir` (the IR cannot be read), `missing_secrets` (details.secrets)", body = ProblemSchema),
    ),
)]
async fn deploy(State(shared): State<Arc<Shared>>, body: Result<Bytes, BytesRejection>) -> Answer {
    let Some(json) = body_json(body, shared.body_limit)? else {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "send `{\"files\": [{\"path\", \"source\"}]}` or `{\"ir\": …}`",
        ));
    };
    let body: DeployBody = body_as(json)?;
    let program = match (body.files, body.ir) {
        (Some(files), None) => {
            if files.is_empty() {
                return Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    "`files` is empty",
                ));
            }
            let loader = Posted(
                files
                    .iter()
                    .map(|file| (normalise(&file.path), file.source.clone()))
                    .collect(),
            );
            let roots = files
                .into_iter()
                .map(|file| SourceFile {
                    path: file.path,
                    text: file.source,
                })
                .collect();
            let analysis = flowc_compiler::analyze(roots, &loader);
            if analysis.has_errors() {
                let files = report::files(&analysis);
                let workflows = report::workflows(&analysis, shared.clock.now_ms());
                return Ok(compile_errors(&report::Report::of(&files, &workflows)));
            }
            analysis.program
        }
        (None, Some(ir)) => {
            if !ir.is_object() {
                return Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    "`ir` must be an object (what `flowc build` writes)",
                ));
            }
            Program::from_json(&ir.to_string()).map_err(|error| {
                Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "bad_ir",
                    error.to_string(),
                )
            })?
        }
        _ => {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "bad_body",
                "send exactly one of `files` and `ir`",
            ));
        }
    };
    let missing = engine::missing_secrets(&program, shared.secrets.as_ref())
        .await
        .map_err(|error| internal(&error))?;
    if !missing.is_empty() {
        return Err(missing_secrets_problem(&missing));
    }
    let deployed = if body.activate.unwrap_or(true) {
        routes::deploy(shared.store.as_ref(), &program)
            .await
            .map_err(|error| deploy_problem(error, ""))?
    } else {
        shared
            .store
            .deploy(&program)
            .await
            .map_err(|error| internal(&error))?
    };
    reload(&shared).await?;
    let stored = shared
        .store
        .get_deployment(&deployed.id)
        .await
        .map_err(|error| internal(&error))?
        .ok_or_else(Problem::internal)?;
    tracing::info!(
        deployment = stored.id.as_str(),
        version = stored.version,
        created = deployed.created,
        active = stored.active,
        "deployed"
    );
    let status = if deployed.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(reply(
        status,
        &Deployed {
            webhooks: webhooks(&stored.program),
            id: stored.id,
            version: stored.version,
            hash: stored.hash,
            created: deployed.created,
            active: stored.active,
            workflows: stored.workflows,
        },
    ))
}

async fn reload(shared: &Arc<Shared>) -> Result<(), Problem> {
    let active = shared
        .store
        .active_deployments()
        .await
        .map_err(|error| internal(&error))?;
    shared.set_routes(&active);
    // Event listeners and schedules follow the active deployments too.
    shared
        .dispatcher
        .reload()
        .await
        .map_err(|error| internal(&error))
}

/// A deployment's summary with its webhooks.
fn described(deployment: &Deployment) -> Described {
    Described {
        id: deployment.id.clone(),
        hash: deployment.hash.clone(),
        version: deployment.version,
        workflows: deployment.workflows.clone(),
        active: deployment.active,
        created_at: deployment.created_at,
        webhooks: webhooks(&deployment.program),
    }
}

async fn load_deployment(shared: &Shared, id: &str) -> Result<Deployment, Problem> {
    shared
        .store
        .get_deployment(id)
        .await
        .map_err(|error| internal(&error))?
        .ok_or_else(|| deployment_not_found(id))
}

/// Every deployment, oldest first.
#[utoipa::path(
    get,
    path = "/deployments",
    tag = "deployments",
    summary = "List the deployments",
    responses((status = 200, description = "every deployment", body = Deployments)),
)]
async fn list_deployments(State(shared): State<Arc<Shared>>) -> Answer {
    let deployments = shared
        .store
        .list_deployments()
        .await
        .map_err(|error| internal(&error))?;
    Ok(reply(
        StatusCode::OK,
        &Deployments {
            deployments: deployments.into_iter().map(Summary::from).collect(),
        },
    ))
}

#[utoipa::path(
    get,
    path = "/deployments/{id}",
    tag = "deployments",
    summary = "Show a deployment and its webhooks",
    params(("id" = String, Path, description = "the deployment's id")),
    responses(
        (status = 200, description = "the deployment", body = Described),
        (status = 400, description = "`bad_path`: the id cannot be decoded", body = ProblemSchema),
        (status = 404, description = "`deployment_not_found`", body = ProblemSchema),
    ),
)]
async fn get_deployment(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path_param(id)?;
    let deployment = load_deployment(&shared, &id).await?;
    Ok(reply(StatusCode::OK, &described(&deployment)))
}

#[utoipa::path(
    post,
    path = "/deployments/{id}/activate",
    tag = "deployments",
    summary = "Activate a deployment: its webhooks answer and its workflows start",
    params(("id" = String, Path, description = "the deployment's id")),
    responses(
        (status = 200, description = "the deployment, now active", body = Described),
        (status = 400, description = "`bad_path`: the id cannot be decoded", body = ProblemSchema),
        (status = 404, description = "`deployment_not_found`", body = ProblemSchema),
        (status = 409, description = "`webhook_conflict`: another active deployment claims one of its webhooks", body = ProblemSchema),
    ),
)]
async fn activate(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path_param(id)?;
    routes::activate(shared.store.as_ref(), &id)
        .await
        .map_err(|error| deploy_problem(error, &id))?;
    reload(&shared).await?;
    let deployment = load_deployment(&shared, &id).await?;
    tracing::info!(deployment = id.as_str(), "deployment activated");
    Ok(reply(StatusCode::OK, &described(&deployment)))
}

#[utoipa::path(
    post,
    path = "/deployments/{id}/deactivate",
    tag = "deployments",
    summary = "Deactivate a deployment: its webhooks stop answering; its runs go on",
    params(("id" = String, Path, description = "the deployment's id")),
    responses(
        (status = 200, description = "the deployment, now inactive", body = Described),
        (status = 400, description = "`bad_path`: the id cannot be decoded", body = ProblemSchema),
        (status = 404, description = "`deployment_not_found`", body = ProblemSchema),
    ),
)]
async fn deactivate(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path_param(id)?;
    match shared.store.deactivate(&id).await {
        Ok(()) => {}
        Err(store::Error::NotFound { .. }) => return Err(deployment_not_found(&id)),
        Err(error) => return Err(internal(&error)),
    }
    reload(&shared).await?;
    let deployment = load_deployment(&shared, &id).await?;
    tracing::info!(deployment = id.as_str(), "deployment deactivated");
    Ok(reply(StatusCode::OK, &described(&deployment)))
}

// ---------------------------------------------------------------- workflows

/// What starts a workflow's runs.
#[derive(Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum TriggerJson {
    Webhook {
        /// Upper case: `POST`.
        method: String,
        path: String,
    },
    Schedule {
        cron: String,
        /// The IANA time zone (`UTC` when the source names none).
        tz: String,
    },
    Event {
        event: String,
    },
    Manual,
}

fn triggers(workflow: &Workflow) -> Vec<TriggerJson> {
    workflow
        .triggers
        .iter()
        .map(|trigger| match trigger {
            Trigger::Webhook { method, path, .. } => TriggerJson::Webhook {
                method: method.to_ascii_uppercase(),
                path: path.clone(),
            },
            Trigger::Schedule { cron, tz } => TriggerJson::Schedule {
                cron: cron.clone(),
                tz: tz.clone(),
            },
            Trigger::Event { event } => TriggerJson::Event {
                event: event.clone(),
            },
            Trigger::Manual => TriggerJson::Manual,
        })
        .collect()
}

/// A workflow of an active deployment.
#[derive(Serialize, ToSchema)]
struct WorkflowJson {
    name: String,
    /// The active deployment that defines it.
    deployment: String,
    version: i64,
    triggers: Vec<TriggerJson>,
    /// The input's type in flowc syntax: `{ name: string }`.
    input_type: String,
}

/// `GET /workflows`.
#[derive(Serialize, ToSchema)]
struct Workflows {
    workflows: Vec<WorkflowJson>,
}

/// A deployment that defines the workflow.
#[derive(Serialize, ToSchema)]
struct Version {
    deployment: String,
    version: i64,
    active: bool,
    /// Milliseconds since the Unix epoch.
    created_at: i64,
}

/// `GET /workflows/{name}`: the workflow and every deployment that defines it.
#[derive(Serialize, ToSchema)]
struct WorkflowDetail {
    name: String,
    deployment: String,
    version: i64,
    triggers: Vec<TriggerJson>,
    input_type: String,
    versions: Vec<Version>,
}

fn workflow_json(deployment: &Deployment, workflow: &Workflow) -> WorkflowJson {
    WorkflowJson {
        name: workflow.name.clone(),
        deployment: deployment.id.clone(),
        version: deployment.version,
        triggers: triggers(workflow),
        input_type: input_type(workflow),
    }
}

/// The active deployment that defines `name`, if any.
pub(super) async fn active_for(shared: &Shared, name: &str) -> Result<Option<Deployment>, Problem> {
    let active = shared
        .store
        .active_deployments()
        .await
        .map_err(|error| internal(&error))?;
    // Activation leaves at most one active deployment per workflow; should the
    // database hold two, the newest wins.
    Ok(active
        .into_iter()
        .rev()
        .find(|deployment| deployment.program.workflow(name).is_some()))
}

#[utoipa::path(
    get,
    path = "/workflows",
    tag = "workflows",
    summary = "List the workflows of the active deployments",
    responses((status = 200, description = "sorted by name", body = Workflows, links(
        ("show" = (operation_id = "get_workflow", parameters(("name" = "$response.body#/workflows/0/name")))),
        ("start" = (operation_id = "start_run", parameters(("name" = "$response.body#/workflows/0/name")))),
    ))),
)]
async fn list_workflows(State(shared): State<Arc<Shared>>) -> Answer {
    let active = shared
        .store
        .active_deployments()
        .await
        .map_err(|error| internal(&error))?;
    let mut workflows: Vec<WorkflowJson> = active
        .iter()
        .flat_map(|deployment| {
            deployment
                .program
                .workflows
                .iter()
                .map(move |workflow| workflow_json(deployment, workflow))
        })
        .collect();
    workflows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(reply(StatusCode::OK, &Workflows { workflows }))
}

#[utoipa::path(
    get,
    path = "/workflows/{name}",
    tag = "workflows",
    summary = "Show a workflow and the deployments that define it",
    params(("name" = String, Path, description = "the workflow's name")),
    responses(
        (status = 200, description = "the workflow", body = WorkflowDetail),
        (status = 400, description = "`bad_path`: the name cannot be decoded", body = ProblemSchema),
        (status = 404, description = "`workflow_not_found`: no active deployment defines it", body = ProblemSchema),
    ),
)]
async fn get_workflow(
    State(shared): State<Arc<Shared>>,
    name: Result<Path<String>, PathRejection>,
) -> Answer {
    let name = path_param(name)?;
    let deployment = active_for(&shared, &name)
        .await?
        .ok_or_else(|| workflow_not_found(&name))?;
    let Some(workflow) = deployment.program.workflow(&name) else {
        return Err(workflow_not_found(&name));
    };
    let versions: Vec<Version> = shared
        .store
        .list_deployments()
        .await
        .map_err(|error| internal(&error))?
        .into_iter()
        .filter(|summary| summary.workflows.contains(&name))
        .map(|summary| Version {
            deployment: summary.id,
            version: summary.version,
            active: summary.active,
            created_at: summary.created_at,
        })
        .collect();
    let json = workflow_json(&deployment, workflow);
    Ok(reply(
        StatusCode::OK,
        &WorkflowDetail {
            name: json.name,
            deployment: json.deployment,
            version: json.version,
            triggers: json.triggers,
            input_type: json.input_type,
            versions,
        },
    ))
}

/// A workflow's input: any JSON its input type accepts.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "the document's view of the body `start_run` reads"
)]
struct Input(Json);

/// Any JSON value, `null` included (`{}`), for an optional field that may hold
/// anything: `Option<Json>` would describe `null` twice.
fn any_json() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
        .build()
}

/// What starting a run answers.
#[derive(Serialize, ToSchema)]
struct RunStarted {
    run_id: String,
    /// False when the `Idempotency-Key` named a run already started.
    created: bool,
}

#[utoipa::path(
    post,
    path = "/workflows/{name}/runs",
    tag = "workflows",
    summary = "Start a run of a workflow that has `on manual`",
    params(
        ("name" = String, Path, description = "the workflow's name"),
        ("Idempotency-Key" = Option<String>, Header, description = "a repeated key answers the run it started (200) instead of starting another"),
    ),
    request_body(
        content = Input,
        description = "the workflow's input (an empty body is `null`)",
        content_type = "application/json",
    ),
    responses(
        (status = 201, description = "the run was started", body = RunStarted, links(
            ("show" = (operation_id = "get_run", parameters(("id" = "$response.body#/run_id")))),
            ("cancel" = (operation_id = "cancel", parameters(("id" = "$response.body#/run_id")))),
            ("retry" = (operation_id = "retry", parameters(("id" = "$response.body#/run_id")))),
            ("replay" = (operation_id = "replay", parameters(("id" = "$response.body#/run_id")))),
        )),
        (status = 200, description = "the `Idempotency-Key` named a run already started", body = RunStarted),
        (status = 400, description = "`malformed_json`, `bad_body`, `bad_idempotency_key`, `bad_path`", body = ProblemSchema),
        (status = 404, description = "`workflow_not_found`: no active deployment defines it", body = ProblemSchema),
        (status = 409, description = "`not_manual`: the workflow has no `on manual` trigger", body = ProblemSchema),
        (status = 413, description = "`payload_too_large`", body = ProblemSchema),
        (status = 422, description = "`input_mismatch`: the body is not of the workflow's input type (details.path)", body = ProblemSchema),
    ),
)]
async fn start_run(
    State(shared): State<Arc<Shared>>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let name = path_param(name)?;
    let input = body_json(body, shared.body_limit)?.unwrap_or(Json::Null);
    let deployment = active_for(&shared, &name)
        .await?
        .ok_or_else(|| workflow_not_found(&name))?;
    let Some(workflow) = deployment.program.workflow(&name) else {
        return Err(workflow_not_found(&name));
    };
    // What may start a workflow is written in its source (SPEC §5.4): a workflow
    // without `on manual` is started by its triggers only.
    if !workflow
        .triggers
        .iter()
        .any(|trigger| matches!(trigger, Trigger::Manual))
    {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "not_manual",
            format!(
                "workflow `{name}` has no `on manual` trigger, so it cannot be started by \
                 hand; add `on manual` to its triggers to allow it"
            ),
        )
        .with_details(json!({ "workflow": name })));
    }
    check_input(&deployment.program, workflow, &input)
        .map_err(|mismatch| input_mismatch(&name, &mismatch))?;
    let idempotency_key = match headers.get("idempotency-key") {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| {
                    Problem::new(
                        StatusCode::BAD_REQUEST,
                        "bad_idempotency_key",
                        "`Idempotency-Key` must be visible ASCII",
                    )
                })?
                .to_string(),
        ),
        None => None,
    };
    let started = shared
        .store
        .start_run(NewRun {
            deployment: deployment.id.clone(),
            workflow: name.clone(),
            input,
            idempotency_key,
            trigger: "api".into(),
            delivery: None,
            webhook: None,
            replay_of: None,
        })
        .await
        .map_err(|error| internal(&error))?;
    if started.created {
        shared.spawn_run(started.run.clone());
    }
    let status = if started.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(reply(
        status,
        &RunStarted {
            run_id: started.run,
            created: started.created,
        },
    ))
}

// ---------------------------------------------------------------- runs

/// Where a run is in its life.
#[derive(Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum Status {
    /// Stored, not yet picked up.
    Pending,
    Running,
    /// Parked on a timer, callback, approval or event.
    Waiting,
    Succeeded,
    Failed,
    Cancelled,
}

impl From<RunStatus> for Status {
    fn from(status: RunStatus) -> Status {
        match status {
            RunStatus::Pending => Status::Pending,
            RunStatus::Running => Status::Running,
            RunStatus::Waiting => Status::Waiting,
            RunStatus::Succeeded => Status::Succeeded,
            RunStatus::Failed => Status::Failed,
            RunStatus::Cancelled => Status::Cancelled,
        }
    }
}

/// A run as stored.
#[derive(Serialize, ToSchema)]
struct RunJson {
    id: String,
    deployment: String,
    workflow: String,
    status: Status,
    /// What started it: `webhook`, `api`, `replay`, …
    trigger: String,
    input: Json,
    /// The workflow's result, once it succeeded (`null` before).
    output: Json,
    /// The error it failed with (`null` unless it failed).
    error: Json,
    idempotency_key: Option<String>,
    /// Milliseconds since the Unix epoch.
    created_at: i64,
    /// Milliseconds since the Unix epoch.
    updated_at: i64,
    /// The `webhook` record the run reads, when a webhook started it.
    #[schema(value_type = Option<Object>)]
    webhook: Option<Json>,
    /// The run this one replays.
    replay_of: Option<String>,
    /// How many times the run was retried after failing.
    retries: i64,
}

impl From<store::Run> for RunJson {
    fn from(run: store::Run) -> RunJson {
        RunJson {
            id: run.id,
            deployment: run.deployment,
            workflow: run.workflow,
            status: run.status.into(),
            trigger: run.trigger,
            input: run.input,
            output: run.output.unwrap_or(Json::Null),
            error: run.error.unwrap_or(Json::Null),
            idempotency_key: run.idempotency_key,
            created_at: run.created_at,
            updated_at: run.updated_at,
            webhook: run.webhook,
            replay_of: run.replay_of,
            retries: run.retries,
        }
    }
}

/// One page of runs, newest first.
#[derive(Serialize, ToSchema)]
struct Runs {
    runs: Vec<RunJson>,
    /// The `after` of the next page, when there may be one.
    next: Option<String>,
}

/// Where a step attempt is.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum StepState {
    /// Journaled before its effect.
    Started,
    Succeeded,
    Failed,
}

/// One attempt of one step, as journaled.
#[derive(Serialize, ToSchema)]
struct StepJson {
    /// The step path: `check`, `items[3].price`.
    path: String,
    /// 1 for the first attempt.
    attempt: i64,
    status: StepState,
    /// What the step sent, when it sends anything (`null` otherwise).
    input: Json,
    /// Its result, once it succeeded (`null` before).
    output: Json,
    /// The error it failed with (`null` unless it failed).
    error: Json,
    /// Milliseconds since the Unix epoch.
    started_at: i64,
    finished_at: Option<i64>,
    /// The run's `retries` when this attempt was journaled.
    generation: i64,
    /// A journaled `now()` or `uuid()` rather than a step of the source.
    recorded: bool,
}

impl From<store::Step> for StepJson {
    fn from(step: store::Step) -> StepJson {
        StepJson {
            recorded: is_recorded_path(&step.path),
            status: match step.status {
                store::StepStatus::Started => StepState::Started,
                store::StepStatus::Succeeded => StepState::Succeeded,
                store::StepStatus::Failed => StepState::Failed,
            },
            path: step.path,
            attempt: step.attempt,
            input: step.input.unwrap_or(Json::Null),
            output: step.output.unwrap_or(Json::Null),
            error: step.error.unwrap_or(Json::Null),
            started_at: step.started_at,
            finished_at: step.finished_at,
            generation: step.generation,
        }
    }
}

/// `GET /runs/{id}`: the run and its journal, steps in the order they started,
/// and what it waits or waited for.
#[derive(Serialize, ToSchema)]
struct RunDetail {
    run: RunJson,
    steps: Vec<StepJson>,
    waits: Vec<WaitJson>,
}

/// One thing a run waits or waited for (never a handle's token).
#[derive(Serialize, ToSchema)]
struct WaitJson {
    /// The step or handle path it belongs to (`#deadline` for the run's own
    /// `timeout`).
    path: String,
    /// `timer`, `callback`, `approval`, `event`, `webhook`, `child` or `deadline`.
    kind: String,
    /// `open`, `resolved`, `timed_out` or `cancelled`.
    status: String,
    /// When a timer is due or the wait times out (ms since the Unix epoch).
    deadline: Option<i64>,
    /// What a correlated wait listens to: `event:NAME` or `webhook:METHOD /path`.
    topic: Option<String>,
    /// An approval's message, a child's run id, a callback's type.
    detail: Json,
    /// `{"ok": value}` or `{"error": {...}}` once resolved or timed out.
    result: Json,
    created_at: i64,
    resolved_at: Option<i64>,
}

impl From<store::Wait> for WaitJson {
    fn from(wait: store::Wait) -> WaitJson {
        // The stored predicate and binding are the engine's, not the reader's.
        let detail = match wait.detail {
            Some(Json::Object(mut map)) => {
                for internal in ["binding", "frame", "deployment"] {
                    map.remove(internal);
                }
                Json::Object(map)
            }
            other => other.unwrap_or(Json::Null),
        };
        WaitJson {
            path: wait.path,
            kind: wait.kind.as_str().to_owned(),
            status: wait.status.as_str().to_owned(),
            deadline: wait.deadline,
            topic: wait.topic,
            detail,
            result: wait.result.unwrap_or(Json::Null),
            created_at: wait.created_at,
            resolved_at: wait.resolved_at,
        }
    }
}

/// The filters and page of `GET /runs`. Read by [`run_query`], which refuses
/// anything else; this type describes them for the document.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "the document's view of what `run_query` reads")]
struct RunsQuery {
    /// Only runs of this workflow.
    workflow: Option<String>,
    /// Only runs in this state.
    status: Option<Status>,
    /// Only runs of this deployment.
    deployment: Option<String>,
    /// How many runs a page holds (50 by default).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The `next` of the previous page.
    after: Option<String>,
}

pub(super) fn bad_query(message: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "bad_query", message)
}

/// The query of a paged listing: `limit` (1 to [`MAX_PAGE`]) and `after`, and the
/// listing's own filters, which `filter` takes (`Ok(false)` for a name it does
/// not know). A name given twice, or unknown, is refused; `expected` lists the
/// names for that message.
pub(super) fn paged_query(
    query: Option<&str>,
    expected: &str,
    mut filter: impl FnMut(&str, String) -> Result<bool, Problem>,
) -> Result<Page, Problem> {
    let mut page = Page::default();
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if seen.iter().any(|known| *known == name) {
            return Err(bad_query(format!("`{name}` is given twice")));
        }
        seen.push(name.to_string());
        let value = value.into_owned();
        match name.as_ref() {
            "after" => page.after = Some(value),
            "limit" => {
                page.limit = value
                    .parse::<u32>()
                    .ok()
                    .filter(|limit| (1..=MAX_PAGE).contains(limit))
                    .ok_or_else(|| {
                        bad_query(format!(
                            "`limit` is `{value}`; expected a number from 1 to {MAX_PAGE}"
                        ))
                    })?;
            }
            other => {
                if !filter(other, value)? {
                    return Err(bad_query(format!(
                        "unknown parameter `{other}`; expected {expected}"
                    )));
                }
            }
        }
    }
    Ok(page)
}

/// `workflow`, `status`, `deployment`, `limit` and `after`.
fn run_query(query: Option<&str>) -> Result<(RunFilter, Page), Problem> {
    let mut filter = RunFilter::default();
    let page = paged_query(
        query,
        "workflow, status, deployment, limit or after",
        |name, value| {
            match name {
                "workflow" => filter.workflow = Some(value),
                "deployment" => filter.deployment = Some(value),
                "status" => {
                    filter.status = Some(RunStatus::parse(&value).ok_or_else(|| {
                        let known: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
                        bad_query(format!(
                            "`status` is `{value}`; expected one of {}",
                            known.join(", ")
                        ))
                    })?);
                }
                _ => return Ok(false),
            }
            Ok(true)
        },
    )?;
    Ok((filter, page))
}

#[utoipa::path(
    get,
    path = "/runs",
    tag = "runs",
    summary = "List runs, newest first, a page at a time",
    params(RunsQuery),
    responses(
        (status = 200, description = "one page", body = Runs, links(
            ("show" = (operation_id = "get_run", parameters(("id" = "$response.body#/runs/0/id")))),
            ("cancel" = (operation_id = "cancel", parameters(("id" = "$response.body#/runs/0/id")))),
            ("retry" = (operation_id = "retry", parameters(("id" = "$response.body#/runs/0/id")))),
            ("pause" = (operation_id = "pause", parameters(("id" = "$response.body#/runs/0/id")))),
            ("resume" = (operation_id = "resume", parameters(("id" = "$response.body#/runs/0/id")))),
        )),
        (status = 400, description = "`bad_query`: an unknown parameter, one given twice, or a value out of range", body = ProblemSchema),
    ),
)]
async fn list_runs(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Answer {
    let (filter, page) = run_query(query.as_deref())?;
    let runs = shared
        .store
        .list_runs(filter, page)
        .await
        .map_err(|error| internal(&error))?;
    Ok(reply(
        StatusCode::OK,
        &Runs {
            runs: runs.runs.into_iter().map(RunJson::from).collect(),
            next: runs.next,
        },
    ))
}

#[utoipa::path(
    get,
    path = "/runs/{id}",
    tag = "runs",
    summary = "Show a run with every step attempt",
    params(("id" = String, Path, description = "the run's id")),
    responses(
        (status = 200, description = "the run and its steps", body = RunDetail),
        (status = 400, description = "`bad_path`: the id cannot be decoded", body = ProblemSchema),
        (status = 404, description = "`run_not_found`", body = ProblemSchema),
    ),
)]
async fn get_run(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path_param(id)?;
    let detail = shared
        .store
        .get_run(&id)
        .await
        .map_err(|error| internal(&error))?
        .ok_or_else(|| run_not_found(&id))?;
    Ok(reply(
        StatusCode::OK,
        &RunDetail {
            run: detail.run.into(),
            steps: detail.steps.into_iter().map(StepJson::from).collect(),
            waits: detail.waits.into_iter().map(WaitJson::from).collect(),
        },
    ))
}

/// What retrying answers.
#[derive(Serialize, ToSchema)]
struct Retried {
    run_id: String,
}

#[utoipa::path(
    post,
    path = "/runs/{id}/retry",
    tag = "runs",
    summary = "Retry a failed run from its failed step",
    params(("id" = String, Path, description = "the run's id")),
    responses(
        (status = 202, description = "the run is running again", body = Retried),
        (status = 400, description = "`bad_path`: the id cannot be decoded", body = ProblemSchema),
        (status = 404, description = "`run_not_found`", body = ProblemSchema),
        (status = 409, description = "`run_not_failed`: only a failed run can be retried", body = ProblemSchema),
    ),
)]
async fn retry(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path_param(id)?;
    shared.engine.reopen(&id).await.map_err(|error| {
        run_control_error(
            &id,
            &error,
            "run_not_failed",
            "only a failed run can be retried",
        )
    })?;
    shared.spawn_run(id.clone());
    Ok(reply(StatusCode::ACCEPTED, &Retried { run_id: id }))
}

/// What `POST /runs/{id}/replay` reads: an input to use instead of the run's.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    /// The new run's input; the replayed run's when absent.
    #[schema(schema_with = any_json)]
    input: Option<Json>,
}

/// What replaying answers.
#[derive(Serialize, ToSchema)]
struct Replayed {
    /// The new run.
    run_id: String,
    replay_of: String,
}

#[utoipa::path(
    post,
    path = "/runs/{id}/replay",
    tag = "runs",
    summary = "Start a new run of the same workflow with the same or an edited input",
    params(("id" = String, Path, description = "the run's id")),
    request_body(content = Option<ReplayBody>, description = "optional; an empty body replays the input as it was"),
    responses(
        (status = 201, description = "the new run", body = Replayed, links(
            ("show" = (operation_id = "get_run", parameters(("id" = "$response.body#/run_id")))),
            ("cancel" = (operation_id = "cancel", parameters(("id" = "$response.body#/run_id")))),
            ("retry" = (operation_id = "retry", parameters(("id" = "$response.body#/run_id")))),
            ("replay" = (operation_id = "replay", parameters(("id" = "$response.body#/run_id")))),
        )),
        (status = 400, description = "`malformed_json`, `bad_body`, `bad_path`", body = ProblemSchema),
        (status = 404, description = "`run_not_found`", body = ProblemSchema),
        (status = 413, description = "`payload_too_large`", body = ProblemSchema),
        (status = 422, description = "`input_mismatch`: the input is not of the workflow's input type", body = ProblemSchema),
    ),
)]
async fn replay(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let id = path_param(id)?;
    // No body, or `null`, replays the input as it was.
    let input = match body_json(body, shared.body_limit)? {
        Some(Json::Null) | None => None,
        Some(json) => body_as::<ReplayBody>(json)?.input,
    };
    let started = match shared.engine.replay(&id, input).await {
        Ok(started) => started,
        Err(engine::Error::RunNotFound(_)) => return Err(run_not_found(&id)),
        Err(engine::Error::Input { workflow, mismatch }) => {
            return Err(input_mismatch(&workflow, &mismatch));
        }
        Err(error) => return Err(internal(&error)),
    };
    shared.spawn_run(started.run.clone());
    Ok(reply(
        StatusCode::CREATED,
        &Replayed {
            run_id: started.run,
            replay_of: id,
        },
    ))
}

/// The one state a cancel answers.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum CancelledState {
    Cancelled,
}

/// What cancelling answers.
#[derive(Serialize, ToSchema)]
struct Cancelled {
    run_id: String,
    status: CancelledState,
}

#[utoipa::path(
    post,
    path = "/runs/{id}/cancel",
    tag = "runs",
    summary = "Cancel a run that has not ended; a step under way is aborted",
    params(("id" = String, Path, description = "the run's id")),
    responses(
        (status = 200, description = "the run is cancelled", body = Cancelled),
        (status = 400, description = "`bad_path`: the id cannot be decoded", body = ProblemSchema),
        (status = 404, description = "`run_not_found`", body = ProblemSchema),
        (status = 409, description = "`run_finished`: the run has already ended", body = ProblemSchema),
    ),
)]
async fn cancel(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = path_param(id)?;
    shared
        .engine
        .cancel(&id)
        .await
        .map_err(|error| run_finished(&id, &error))?;
    Ok(reply(
        StatusCode::OK,
        &Cancelled {
            run_id: id,
            status: CancelledState::Cancelled,
        },
    ))
}

/// The answer when cancelling, pausing or resuming run `id` fails: 404 for an
/// unknown run, 409 `run_finished` when it has already ended, 500 otherwise.
pub(super) fn run_finished(id: &str, error: &engine::Error) -> Problem {
    run_control_error(id, error, "run_finished", "the run has already ended")
}

/// The answer when retrying or cancelling run `id` fails: 404 for an unknown
/// run, 409 `conflict` ("`what`: the store's reason") when the run's state does
/// not allow it, 500 otherwise.
fn run_control_error(
    id: &str,
    error: &engine::Error,
    conflict: &'static str,
    what: &str,
) -> Problem {
    match error {
        engine::Error::RunNotFound(_) => run_not_found(id),
        engine::Error::Store(store::Error::Conflict(message)) => {
            Problem::new(StatusCode::CONFLICT, conflict, format!("{what}: {message}"))
        }
        error => internal(error),
    }
}
