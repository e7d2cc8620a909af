//! Events from outside a run: `POST /api/v1/events/{name}` and the requests to
//! the paths of `await webhook` steps.
//!
//! Both only store the message (`Store::store_event`, topic `event:NAME` or
//! `webhook:METHOD /path`) and answer `202 {"event_id"}` once it is committed;
//! the dispatcher delivers it from the store, in order, once: a run of every
//! active workflow with `on event NAME`, and every waiting run whose `await`
//! predicate holds. So an acknowledged message survives a crash, and a message
//! that no run waits for is still acknowledged (the dispatcher finds no wait).
//!
//! A posted event must be declared by an active deployment (404
//! `event_not_found`) and its payload of the declared type in every active
//! deployment that declares it (422 `input_mismatch`, `details.path`). A request
//! to an `await webhook` path goes through ingress like a trigger's (route, body
//! limit, `verify`, 415, 400, Slack's URL verification, `ingress.rs`); here its
//! body is checked against the awaits' body type (422) and stored, and the
//! delivery history records it as `accepted` with the event's id.

use super::Shared;
use super::admin::{Answer, body_json, internal, path_param, reply};
use super::ingress::Refused;
use super::openapi::ProblemSchema;
use super::problem::Problem;
use super::routes::{Awaited, Route};
use crate::store::{DeliveryOutcome, NewDelivery};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use flowc_compiler::ir::Program;
use flowc_compiler::value::{Mismatch, Value};
use serde::Serialize;
use serde_json::{Value as Json, json};
use std::sync::Arc;
use utoipa::ToSchema;

/// What storing an event answers.
#[derive(Serialize, ToSchema)]
pub(super) struct EventStored {
    /// The stored event; the dispatcher delivers it once.
    event_id: String,
}

/// An event's payload: any JSON its declared type accepts.
#[derive(ToSchema)]
#[allow(dead_code, reason = "the document's view of the body `emit` reads")]
pub(super) struct Payload(Json);

/// Stores an event for delivery, as an `emit` in a run would.
#[utoipa::path(
    post,
    path = "/events/{name}",
    tag = "events",
    summary = "Emit a declared event: it starts its `on event` workflows and wakes the runs awaiting it",
    params(("name" = String, Path, description = "the event's name, as declared")),
    request_body(
        content = Payload,
        description = "the payload, of the event's declared type (an empty body is `null`)",
        content_type = "application/json",
    ),
    responses(
        (status = 202, description = "stored; it is delivered once, in order", body = EventStored),
        (status = 400, description = "`malformed_json`, `bad_body`, `bad_path`", body = ProblemSchema),
        (status = 404, description = "`event_not_found`: no active deployment declares it", body = ProblemSchema),
        (status = 413, description = "`payload_too_large`", body = ProblemSchema),
        (status = 422, description = "`input_mismatch`: the payload is not of the event's type (details.path)", body = ProblemSchema),
    ),
)]
pub(super) async fn emit(
    State(shared): State<Arc<Shared>>,
    name: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let name = path_param(name)?;
    let payload = body_json(body, shared.body_limit)?.unwrap_or(Json::Null);
    // The active programs as of the last reload: no store read per event.
    let routes = shared.routes();
    let mut declared = false;
    for program in routes.programs() {
        let Some(event) = program.events.iter().find(|event| event.name == name) else {
            continue;
        };
        declared = true;
        Value::from_json_typed(&payload, &event.ty, &program.types).map_err(|mismatch| {
            Problem::input_mismatch(
                format!(
                    "the payload does not have the type of event `{name}` ({}): {mismatch}",
                    event.ty
                ),
                &mismatch,
            )
        })?;
    }
    if !declared {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "event_not_found",
            format!("no active deployment declares event `{name}`"),
        ));
    }
    let stored = shared
        .store
        .store_event(&format!("event:{name}"), payload)
        .await
        .map_err(|error| internal(&error))?;
    // One line per event at `debug`: a busy emitter would otherwise log, and
    // scrub, a line per request on the request path.
    tracing::debug!(
        event = name.as_str(),
        event_id = stored.id.as_str(),
        "event stored"
    );
    Ok(reply(
        StatusCode::ACCEPTED,
        &EventStored {
            event_id: stored.id,
        },
    ))
}

/// A request to a path only `await webhook` steps claim, verified and read as
/// JSON by ingress: checked against the awaits' body type (422), stored for
/// delivery, recorded as an `accepted` delivery, answered `202 {"event_id"}`.
pub(super) async fn accept_awaited(
    shared: &Shared,
    route: &Route,
    awaited: &Awaited,
    body: Json,
    delivery_id: Option<String>,
) -> Result<Response, Refused> {
    accepts(&route.program, awaited, &body).map_err(|mismatch| {
        Refused::input_mismatch(
            format!(
                "the body does not have the type `await webhook {} {}` declares: {mismatch}",
                route.method, route.path
            ),
            &mismatch,
        )
    })?;
    let stored = shared
        .store
        .store_event(&awaited.topic, body)
        .await
        .map_err(|error| {
            tracing::error!(path = route.path.as_str(), %error, "an awaited webhook request was not stored");
            Refused::new(Problem::internal(), "the request could not be stored")
        })?;
    let record = NewDelivery {
        method: route.method.clone(),
        path: route.path.clone(),
        workflow: route.workflow.clone(),
        outcome: DeliveryOutcome::Accepted,
        status: StatusCode::ACCEPTED.as_u16(),
        reason: Some(format!(
            "stored as event {} for the runs awaiting it; no run started",
            stored.id
        )),
        delivery_id,
    };
    if let Err(error) = shared.store.record_delivery(record).await {
        tracing::warn!(path = route.path.as_str(), %error, "a delivery was not recorded");
    }
    Ok((
        StatusCode::ACCEPTED,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "event_id": stored.id }).to_string(),
    )
        .into_response())
}

/// Stores the body of a request that started a run of a workflow that also
/// awaits its path, for that workflow's waiting runs, when the awaits' type
/// accepts it. The request is answered by its run whatever becomes of this.
pub(super) async fn offer(shared: &Shared, program: &Program, awaited: &Awaited, body: Json) {
    if accepts(program, awaited, &body).is_err() {
        return;
    }
    if let Err(error) = shared.store.store_event(&awaited.topic, body).await {
        tracing::warn!(topic = awaited.topic.as_str(), %error, "a request was not offered to the runs awaiting it");
    }
}

/// Whether one of the awaits' body types accepts `body`; the first one's
/// mismatch when none does.
fn accepts(program: &Program, awaited: &Awaited, body: &Json) -> Result<(), Mismatch> {
    let mut first = None;
    for ty in &awaited.bodies {
        match Value::from_json_typed(body, ty, &program.types) {
            Ok(_) => return Ok(()),
            Err(mismatch) => {
                first.get_or_insert(mismatch);
            }
        }
    }
    match first {
        Some(mismatch) => Err(mismatch),
        None => Ok(()),
    }
}
