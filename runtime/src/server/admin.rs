//! The admin API under `/api/v1`: deployments, workflows and runs, for `flowc
//! deploy`, `flowc runs` and scripts.
//!
//! Every route, known or not, first checks `Authorization: Bearer <token>` against
//! the admin token (both hashed with SHA-256, then compared in constant time, so
//! neither the bytes nor the length of the token leak through timing); a server
//! without a token answers 401 to everything here, so the API is never open by
//! default. `/api/v1` and everything under it belongs to this API: a webhook
//! declared under that prefix is shadowed (the rest of `/api/` stays free for
//! webhooks). Answers are JSON; errors are `{code, message, details}`
//! ([`Problem`]), unknown routes under the prefix 404 and wrong methods 405, both
//! in that shape. Bodies are limited like webhook bodies.
//!
//! | method and path | answer |
//! | --- | --- |
//! | `POST /deployments` | `{"files": [{path, source}]}` or `{"ir": …}`, `activate` (default true) → 201 (200 when the hash exists) `{id, version, hash, created, active, workflows, webhooks}`; 422 `compile_errors` (details: the `flowc check --format json` object), 422 `missing_secrets`, 409 `webhook_conflict` |
//! | `GET /deployments` | `{deployments: [summary]}` |
//! | `GET /deployments/{id}` | summary + `webhooks` |
//! | `POST /deployments/{id}/activate`, `/deactivate` | the summary; 409 `webhook_conflict` |
//! | `GET /workflows` | `{workflows: [{name, deployment, version, triggers, input_type}]}` of active deployments |
//! | `GET /workflows/{name}` | the same for one, plus `versions` |
//! | `POST /workflows/{name}/runs` | the input as the body, `Idempotency-Key` → 201 `{run_id, created}` (200 when the key is known); 422 `input_mismatch`; 409 `not_manual` without `on manual` |
//! | `GET /runs?workflow=&status=&deployment=&limit=&after=` | `{runs, next}`, newest first; 400 `bad_query` |
//! | `GET /runs/{id}` | `{run, steps}`, each step marked `recorded` when it is a journaled `now()`/`uuid()` |
//! | `POST /runs/{id}/retry` | 202 `{run_id}`; 409 `run_not_failed` |
//! | `POST /runs/{id}/replay` | optional `{"input": …}` → 201 `{run_id}` (a new run) |
//! | `POST /runs/{id}/cancel` | `{run_id, status: "cancelled"}`; 409 `run_finished` |

use super::Shared;
use super::problem::Problem;
use super::routes::{self, DeployError};
use crate::engine::{self, MissingSecret, check_input, input_type, is_recorded_path};
use crate::store::{self, Deployment, DeploymentSummary, NewRun, Page, RunFilter, RunStatus};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use flowc_compiler::ir::{Program, Trigger, Workflow};
use flowc_compiler::{Loader, SourceFile, report};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Where the admin API is mounted.
pub const PREFIX: &str = "/api/v1";

/// The most runs one page lists.
pub const MAX_PAGE: u32 = 500;

/// The admin routes, to be nested under [`PREFIX`].
pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/deployments", post(deploy).get(list_deployments))
        .route("/deployments/{id}", get(get_deployment))
        .route("/deployments/{id}/activate", post(activate))
        .route("/deployments/{id}/deactivate", post(deactivate))
        .route("/workflows", get(list_workflows))
        .route("/workflows/{name}", get(get_workflow))
        .route("/workflows/{name}/runs", post(start_run))
        .route("/runs", get(list_runs))
        .route("/runs/{id}", get(get_run))
        .route("/runs/{id}/retry", post(retry))
        .route("/runs/{id}/replay", post(replay))
        .route("/runs/{id}/cancel", post(cancel))
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            authenticate,
        ))
        .with_state(shared)
}

type Answer = Result<Response, Problem>;

// ---------------------------------------------------------------- plumbing

/// Refuses every request without the right bearer token, before routing.
async fn authenticate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
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
fn reply(status: StatusCode, body: &impl Serialize) -> Response {
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

/// The request body as JSON; `None` when it is empty.
fn body_json(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Option<Json>, Problem> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is larger than {limit} bytes"),
            )
            .with_details(json!({ "limit": limit }))
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
    serde_json::from_slice(&bytes).map(Some).map_err(|error| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {error}"),
        )
        .with_details(json!({ "line": error.line(), "column": error.column() }))
    })
}

/// A body of a known shape.
fn body_as<T: serde::de::DeserializeOwned>(json: Json) -> Result<T, Problem> {
    serde_json::from_value(json).map_err(|error| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            format!("the body does not have the expected shape: {error}"),
        )
    })
}

/// A failure of the store, logged here and answered 500 without its details.
fn internal(error: &impl std::fmt::Display) -> Problem {
    tracing::error!(%error, "admin API request failed");
    Problem::internal()
}

fn input_mismatch(workflow: &str, mismatch: &flowc_compiler::value::Mismatch) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "input_mismatch",
        format!("the input does not have the type of `{workflow}`'s input: {mismatch}"),
    )
    .with_details(json!({
        "path": format!("${}", mismatch.path),
        "expected": mismatch.expected,
        "found": mismatch.found,
    }))
}

fn run_not_found(id: &str) -> Problem {
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

fn workflow_not_found(name: &str) -> Problem {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployBody {
    files: Option<Vec<PostedFile>>,
    ir: Option<Json>,
    activate: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostedFile {
    path: String,
    source: String,
}

/// A webhook a deployment claims.
#[derive(Serialize)]
struct Webhook {
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
        (None, Some(ir)) => Program::from_json(&ir.to_string())
            .map_err(|error| Problem::new(StatusCode::BAD_REQUEST, "bad_ir", error.to_string()))?,
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
        &json!({
            "id": stored.id,
            "version": stored.version,
            "hash": stored.hash,
            "created": deployed.created,
            "active": stored.active,
            "workflows": stored.workflows,
            "webhooks": webhooks(&stored.program),
        }),
    ))
}

async fn reload(shared: &Arc<Shared>) -> Result<(), Problem> {
    let active = shared
        .store
        .active_deployments()
        .await
        .map_err(|error| internal(&error))?;
    shared.set_routes(&active);
    Ok(())
}

fn summary(deployment: &Deployment) -> DeploymentSummary {
    DeploymentSummary {
        id: deployment.id.clone(),
        hash: deployment.hash.clone(),
        version: deployment.version,
        workflows: deployment.workflows.clone(),
        active: deployment.active,
        created_at: deployment.created_at,
    }
}

/// A deployment's summary with its webhooks.
fn described(deployment: &Deployment) -> Json {
    let mut json = serde_json::to_value(summary(deployment)).unwrap_or_else(|_| json!({}));
    json["webhooks"] = serde_json::to_value(webhooks(&deployment.program)).unwrap_or_default();
    json
}

async fn load_deployment(shared: &Shared, id: &str) -> Result<Deployment, Problem> {
    shared
        .store
        .get_deployment(id)
        .await
        .map_err(|error| internal(&error))?
        .ok_or_else(|| deployment_not_found(id))
}

async fn list_deployments(State(shared): State<Arc<Shared>>) -> Answer {
    let deployments = shared
        .store
        .list_deployments()
        .await
        .map_err(|error| internal(&error))?;
    Ok(reply(
        StatusCode::OK,
        &json!({ "deployments": deployments }),
    ))
}

async fn get_deployment(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    let deployment = load_deployment(&shared, &id).await?;
    Ok(reply(StatusCode::OK, &described(&deployment)))
}

async fn activate(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    routes::activate(shared.store.as_ref(), &id)
        .await
        .map_err(|error| deploy_problem(error, &id))?;
    reload(&shared).await?;
    let deployment = load_deployment(&shared, &id).await?;
    tracing::info!(deployment = id.as_str(), "deployment activated");
    Ok(reply(StatusCode::OK, &described(&deployment)))
}

async fn deactivate(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
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

fn triggers(workflow: &Workflow) -> Vec<Json> {
    workflow
        .triggers
        .iter()
        .map(|trigger| match trigger {
            Trigger::Webhook { method, path, .. } => json!({
                "kind": "webhook",
                "method": method.to_ascii_uppercase(),
                "path": path,
            }),
            Trigger::Schedule { cron, tz } => json!({ "kind": "schedule", "cron": cron, "tz": tz }),
            Trigger::Event { event } => json!({ "kind": "event", "event": event }),
            Trigger::Manual => json!({ "kind": "manual" }),
        })
        .collect()
}

fn workflow_json(deployment: &Deployment, workflow: &Workflow) -> Json {
    json!({
        "name": workflow.name,
        "deployment": deployment.id,
        "version": deployment.version,
        "triggers": triggers(workflow),
        "input_type": input_type(workflow),
    })
}

/// The active deployment that defines `name`, if any.
async fn active_for(shared: &Shared, name: &str) -> Result<Option<Deployment>, Problem> {
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

async fn list_workflows(State(shared): State<Arc<Shared>>) -> Answer {
    let active = shared
        .store
        .active_deployments()
        .await
        .map_err(|error| internal(&error))?;
    let mut workflows: Vec<Json> = active
        .iter()
        .flat_map(|deployment| {
            deployment
                .program
                .workflows
                .iter()
                .map(move |workflow| workflow_json(deployment, workflow))
        })
        .collect();
    workflows.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(reply(StatusCode::OK, &json!({ "workflows": workflows })))
}

async fn get_workflow(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Answer {
    let deployment = active_for(&shared, &name)
        .await?
        .ok_or_else(|| workflow_not_found(&name))?;
    let Some(workflow) = deployment.program.workflow(&name) else {
        return Err(workflow_not_found(&name));
    };
    let versions: Vec<Json> = shared
        .store
        .list_deployments()
        .await
        .map_err(|error| internal(&error))?
        .into_iter()
        .filter(|summary| summary.workflows.contains(&name))
        .map(|summary| {
            json!({
                "deployment": summary.id,
                "version": summary.version,
                "active": summary.active,
                "created_at": summary.created_at,
            })
        })
        .collect();
    let mut json = workflow_json(&deployment, workflow);
    json["versions"] = Json::Array(versions);
    Ok(reply(StatusCode::OK, &json))
}

async fn start_run(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
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
        &json!({ "run_id": started.run, "created": started.created }),
    ))
}

// ---------------------------------------------------------------- runs

fn bad_query(message: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "bad_query", message)
}

/// `workflow`, `status`, `deployment`, `limit` (1 to [`MAX_PAGE`]) and `after`;
/// anything else, or a value given twice, is refused.
fn run_query(query: Option<&str>) -> Result<(RunFilter, Page), Problem> {
    let mut filter = RunFilter::default();
    let mut page = Page::default();
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if seen.iter().any(|known| *known == name) {
            return Err(bad_query(format!("`{name}` is given twice")));
        }
        seen.push(name.to_string());
        let value = value.into_owned();
        match name.as_ref() {
            "workflow" => filter.workflow = Some(value),
            "deployment" => filter.deployment = Some(value),
            "after" => page.after = Some(value),
            "status" => {
                filter.status = Some(RunStatus::parse(&value).ok_or_else(|| {
                    let known: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
                    bad_query(format!(
                        "`status` is `{value}`; expected one of {}",
                        known.join(", ")
                    ))
                })?);
            }
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
                return Err(bad_query(format!(
                    "unknown parameter `{other}`; expected workflow, status, deployment, \
                     limit or after"
                )));
            }
        }
    }
    Ok((filter, page))
}

async fn list_runs(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Answer {
    let (filter, page) = run_query(query.as_deref())?;
    let runs = shared
        .store
        .list_runs(filter, page)
        .await
        .map_err(|error| internal(&error))?;
    Ok(reply(StatusCode::OK, &runs))
}

async fn get_run(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    let detail = shared
        .store
        .get_run(&id)
        .await
        .map_err(|error| internal(&error))?
        .ok_or_else(|| run_not_found(&id))?;
    let steps: Vec<Json> = detail
        .steps
        .iter()
        .map(|step| {
            let mut json = serde_json::to_value(step).unwrap_or_else(|_| json!({}));
            json["recorded"] = Json::Bool(is_recorded_path(&step.path));
            json
        })
        .collect();
    Ok(reply(
        StatusCode::OK,
        &json!({ "run": detail.run, "steps": steps }),
    ))
}

async fn retry(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    match shared.engine.reopen(&id).await {
        Ok(()) => {}
        Err(engine::Error::RunNotFound(_)) => return Err(run_not_found(&id)),
        Err(engine::Error::Store(store::Error::Conflict(message))) => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "run_not_failed",
                format!("only a failed run can be retried: {message}"),
            ));
        }
        Err(error) => return Err(internal(&error)),
    }
    shared.spawn_run(id.clone());
    Ok(reply(StatusCode::ACCEPTED, &json!({ "run_id": id })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    input: Option<Json>,
}

async fn replay(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let input = match body_json(body, shared.body_limit)? {
        Some(json) => body_as::<ReplayBody>(json)?.input,
        None => None,
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
        &json!({ "run_id": started.run, "replay_of": id }),
    ))
}

async fn cancel(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    match shared.engine.cancel(&id).await {
        Ok(()) => Ok(reply(
            StatusCode::OK,
            &json!({ "run_id": id, "status": "cancelled" }),
        )),
        Err(engine::Error::RunNotFound(_)) => Err(run_not_found(&id)),
        Err(engine::Error::Store(store::Error::Conflict(message))) => Err(Problem::new(
            StatusCode::CONFLICT,
            "run_finished",
            format!("the run has already ended: {message}"),
        )),
        Err(error) => Err(internal(&error)),
    }
}
