//! The admin API's controls beyond one run's retry, replay and cancel: a
//! workflow's context, pausing and resuming a run, and cancelling or retrying
//! every run a filter selects.
//!
//! - `GET /workflows/{name}/context` answers the context as one JSON object;
//!   `PATCH` takes an object whose keys are set, `null` removing a key, in one
//!   write, and answers the context after it. A workflow no active deployment
//!   defines is 404 `workflow_not_found`, as on the other workflow routes.
//! - `POST /runs/{id}/pause` stops a run at its next step boundary (a step
//!   under way finishes; a parked run stays parked), `POST /runs/{id}/resume`
//!   lets it go on; both 404 `run_not_found`, 409 `run_finished`.
//! - `POST /runs/cancel` and `POST /runs/retry` take `{workflow?, status?}`:
//!   cancel every run that has not ended (of that status, when given), retry
//!   every failed one (`status` can only say `failed`), each exactly as the
//!   single-run routes do; a run that ended or changed meanwhile is skipped.
//!   They answer `{count, runs}` with the ids acted on.

use super::Shared;
use super::admin::{
    Answer, active_for, body_as, body_json, internal, path_param, reply, run_finished,
    workflow_not_found,
};
use super::openapi::ProblemSchema;
use super::problem::Problem;
use crate::engine;
use crate::store::{self, RunStatus};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::ToSchema;

// ---------------------------------------------------------------- context

/// A workflow's context: a JSON value by key. In a `PATCH`, a `null` value
/// removes its key.
#[derive(Deserialize, Serialize, ToSchema)]
pub(super) struct ContextJson(BTreeMap<String, Json>);

#[utoipa::path(
    get,
    path = "/workflows/{name}/context",
    tag = "workflows",
    summary = "Show a workflow's context, the values its runs keep across runs",
    params(("name" = String, Path, description = "the workflow's name")),
    responses(
        (status = 200, description = "every key and its value", body = ContextJson),
        (status = 400, description = "`bad_path`: the name cannot be decoded", body = ProblemSchema),
        (status = 404, description = "`workflow_not_found`: no active deployment defines it", body = ProblemSchema),
    ),
)]
pub(super) async fn get_context(
    State(shared): State<Arc<Shared>>,
    name: Result<Path<String>, PathRejection>,
) -> Answer {
    let name = path_param(name)?;
    active_for(&shared, &name)
        .await?
        .ok_or_else(|| workflow_not_found(&name))?;
    context(&shared, &name).await
}

#[utoipa::path(
    patch,
    path = "/workflows/{name}/context",
    tag = "workflows",
    summary = "Set keys of a workflow's context; `null` removes a key",
    params(("name" = String, Path, description = "the workflow's name")),
    request_body(
        content = ContextJson,
        description = "the keys to set, each to its value; `null` removes the key",
        content_type = "application/json",
    ),
    responses(
        (status = 200, description = "the context after the change", body = ContextJson),
        (status = 400, description = "`malformed_json`, `bad_body` (not an object), `bad_path`", body = ProblemSchema),
        (status = 404, description = "`workflow_not_found`: no active deployment defines it", body = ProblemSchema),
        (status = 413, description = "`payload_too_large`", body = ProblemSchema),
    ),
)]
pub(super) async fn patch_context(
    State(shared): State<Arc<Shared>>,
    name: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let name = path_param(name)?;
    let Some(Json::Object(entries)) = body_json(body, shared.body_limit)? else {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "send a JSON object: each key is set to its value, `null` removes it",
        ));
    };
    active_for(&shared, &name)
        .await?
        .ok_or_else(|| workflow_not_found(&name))?;
    let entries: Vec<(String, Option<Json>)> = entries
        .into_iter()
        .map(|(key, value)| (key, (!value.is_null()).then_some(value)))
        .collect();
    if !entries.is_empty() {
        let keys = entries.len();
        shared
            .store
            .patch_context(&name, entries)
            .await
            .map_err(|error| internal(&error))?;
        tracing::info!(workflow = name.as_str(), keys, "context changed");
    }
    context(&shared, &name).await
}

/// `200` with the workflow's context.
async fn context(shared: &Shared, workflow: &str) -> Answer {
    let context = shared
        .store
        .get_context(workflow)
        .await
        .map_err(|error| internal(&error))?;
    Ok(reply(StatusCode::OK, &ContextJson(context)))
}

// ---------------------------------------------------------------- pause

/// What pausing or resuming answers.
#[derive(Serialize, ToSchema)]
pub(super) struct Paused {
    run_id: String,
    /// Whether the run is paused now.
    paused: bool,
}

#[utoipa::path(
    post,
    path = "/runs/{id}/pause",
    tag = "runs",
    summary = "Pause a run: it starts no new step until resumed",
    params(("id" = String, Path, description = "the run's id")),
    responses(
        (status = 200, description = "paused; a step under way finishes, a parked run stays parked", body = Paused),
        (status = 400, description = "`bad_path`: the id cannot be decoded", body = ProblemSchema),
        (status = 404, description = "`run_not_found`", body = ProblemSchema),
        (status = 409, description = "`run_finished`: the run has already ended", body = ProblemSchema),
    ),
)]
pub(super) async fn pause(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    set_paused(&shared, path_param(id)?, true).await
}

#[utoipa::path(
    post,
    path = "/runs/{id}/resume",
    tag = "runs",
    summary = "Resume a paused run from where it stopped",
    params(("id" = String, Path, description = "the run's id")),
    responses(
        (status = 200, description = "resumed (a run that was not paused is left as it is)", body = Paused),
        (status = 400, description = "`bad_path`: the id cannot be decoded", body = ProblemSchema),
        (status = 404, description = "`run_not_found`", body = ProblemSchema),
        (status = 409, description = "`run_finished`: the run has already ended", body = ProblemSchema),
    ),
)]
pub(super) async fn resume(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    set_paused(&shared, path_param(id)?, false).await
}

/// Pauses (`paused`) or resumes run `id`: `200` [`Paused`], or as
/// [`run_finished`] says.
async fn set_paused(shared: &Shared, id: String, paused: bool) -> Answer {
    let done = if paused {
        shared.engine.pause(&id).await
    } else {
        shared.engine.resume(&id).await
    };
    done.map_err(|error| run_finished(&id, &error))?;
    Ok(reply(StatusCode::OK, &Paused { run_id: id, paused }))
}

// ---------------------------------------------------------------- bulk

/// Which runs a bulk cancel takes: every run that has not ended when empty.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CancelSelection {
    /// Only runs of this workflow.
    workflow: Option<String>,
    /// Only runs in this state.
    status: Option<Unfinished>,
}

/// The state of a run that has not ended.
#[derive(Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum Unfinished {
    Pending,
    Running,
    Waiting,
}

/// Which runs a bulk retry takes: every failed run when empty.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RetrySelection {
    /// Only runs of this workflow.
    workflow: Option<String>,
    /// Only `failed`, the one state a run can be retried from.
    #[allow(dead_code, reason = "read only so that any other state is refused")]
    status: Option<FailedState>,
}

/// The one state a retry selects.
#[derive(Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum FailedState {
    Failed,
}

/// What a bulk action answers.
#[derive(Serialize, ToSchema)]
pub(super) struct Acted {
    /// How many runs were cancelled or retried.
    count: usize,
    /// Their ids, newest first.
    runs: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/runs/cancel",
    tag = "runs",
    summary = "Cancel every run that has not ended, of a workflow and state",
    request_body(
        content = Option<CancelSelection>,
        description = "optional; an empty body selects every run that has not ended",
        content_type = "application/json",
    ),
    responses(
        (status = 200, description = "the runs cancelled", body = Acted),
        (status = 400, description = "`malformed_json`, `bad_body`", body = ProblemSchema),
        (status = 413, description = "`payload_too_large`", body = ProblemSchema),
    ),
)]
pub(super) async fn cancel_runs(
    State(shared): State<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let selection: CancelSelection = selection(body, shared.body_limit)?;
    let statuses = match selection.status {
        Some(Unfinished::Pending) => vec![RunStatus::Pending],
        Some(Unfinished::Running) => vec![RunStatus::Running],
        Some(Unfinished::Waiting) => vec![RunStatus::Waiting],
        None => vec![RunStatus::Pending, RunStatus::Running, RunStatus::Waiting],
    };
    let candidates = select(&shared, selection.workflow, &statuses).await?;
    let runs = each(&shared, candidates, Bulk::Cancel).await?;
    tracing::info!(count = runs.len(), "runs cancelled in bulk");
    Ok(reply(
        StatusCode::OK,
        &Acted {
            count: runs.len(),
            runs,
        },
    ))
}

#[utoipa::path(
    post,
    path = "/runs/retry",
    tag = "runs",
    summary = "Retry every failed run of a workflow from its failed step",
    request_body(
        content = Option<RetrySelection>,
        description = "optional; an empty body selects every failed run",
        content_type = "application/json",
    ),
    responses(
        (status = 200, description = "the runs retried; each is running again", body = Acted),
        (status = 400, description = "`malformed_json`, `bad_body`", body = ProblemSchema),
        (status = 413, description = "`payload_too_large`", body = ProblemSchema),
    ),
)]
pub(super) async fn retry_runs(
    State(shared): State<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    // `status` can only say `failed`, which is what is selected anyway.
    let selection: RetrySelection = selection(body, shared.body_limit)?;
    let candidates = select(&shared, selection.workflow, &[RunStatus::Failed]).await?;
    let runs = each(&shared, candidates, Bulk::Retry).await?;
    tracing::info!(count = runs.len(), "runs retried in bulk");
    Ok(reply(
        StatusCode::OK,
        &Acted {
            count: runs.len(),
            runs,
        },
    ))
}

/// The body of a bulk action; an empty one (or `null`) selects everything.
fn selection<T: Default + serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<T, Problem> {
    match body_json(body, limit)? {
        None | Some(Json::Null) => Ok(T::default()),
        // An object only: serde would read a struct from an array as well.
        Some(json @ Json::Object(_)) => body_as(json),
        Some(_) => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "send an object `{\"workflow\": …, \"status\": …}`, or no body",
        )),
    }
}

/// The ids of the runs of `workflow` (any, when `None`) in one of `statuses`,
/// every page of each, newest first within a status. They are read before
/// anything is done to them, so acting cannot move the paging cursor.
async fn select(
    shared: &Shared,
    workflow: Option<String>,
    statuses: &[RunStatus],
) -> Result<Vec<String>, Problem> {
    store::run_ids(shared.store.as_ref(), workflow.as_deref(), statuses)
        .await
        .map_err(|error| internal(&error))
}

/// What a bulk action does to each run it selects.
#[derive(Clone, Copy)]
enum Bulk {
    /// Cancel it, as `POST /runs/{id}/cancel` does.
    Cancel,
    /// Reopen it and start it again, as `POST /runs/{id}/retry` does.
    Retry,
}

/// Does `action` to each of `runs` in turn: the ids it was done to, without
/// the runs that ended or changed meanwhile ([`skipped`]).
async fn each(shared: &Shared, runs: Vec<String>, action: Bulk) -> Result<Vec<String>, Problem> {
    let mut acted = Vec::new();
    for run in runs {
        let done = match action {
            Bulk::Cancel => shared.engine.cancel(&run).await,
            Bulk::Retry => shared
                .engine
                .reopen(&run)
                .await
                .map(|()| shared.spawn_run(run.clone())),
        };
        match done {
            Ok(()) => acted.push(run),
            Err(error) if skipped(&error) => {}
            Err(error) => return Err(internal(&error)),
        }
    }
    Ok(acted)
}

/// A run that ended (or was removed) between the listing and the action: not
/// an error of the bulk action, just not one of its runs.
fn skipped(error: &engine::Error) -> bool {
    matches!(
        error,
        engine::Error::RunNotFound(_)
            | engine::Error::Store(store::Error::Conflict(_) | store::Error::NotFound { .. })
    )
}
