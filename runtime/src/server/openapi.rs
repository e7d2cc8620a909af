//! The admin API's contract: the OpenAPI 3.1 document served at
//! `GET /api/v1/openapi.json`.
//!
//! The document is generated from the code that serves the API, so it cannot
//! drift from it: each handler in `admin.rs` carries a `#[utoipa::path]`
//! attribute (method, path, parameters, request body, every status it answers
//! with its schema), the bodies it sends and reads are Rust types deriving
//! `ToSchema`, and the router registers handlers through `utoipa_axum::routes!`,
//! which takes the path from the attribute. A handler cannot be routed without a
//! path attribute, and the route and its entry come from the same string. This
//! module adds what is common to every operation ([`finish`]): the `/api/v1`
//! prefix, the bearer security scheme, and the `401` and `500` answers that the
//! token check and the store can give anywhere.
//!
//! The document itself is served **without** the token. It is not secret: it
//! describes this flowc version's API, the same for every installation, and holds
//! nothing of a deployment (no workflow, run or secret). Serving it openly lets
//! tools (Schemathesis, client generators, API explorers) discover the API and its
//! security scheme before they are handed a token, the way most APIs publish
//! their description. Every other route under `/api/v1` still checks the token
//! before routing.

use axum::Extension;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Components, HttpMethod, OpenApi, RefOr};

/// The name of the bearer scheme in `components.securitySchemes`.
pub const SECURITY_SCHEME: &str = "bearer";

/// The operations anyone may call: the document itself.
const PUBLIC_OPERATIONS: [&str; 1] = ["openapi"];

/// The body of every error answer (`Problem::body`): described here for the
/// document; the tests validate real error answers against it.
#[derive(Serialize, ToSchema)]
#[schema(as = Problem)]
#[allow(dead_code, reason = "a description of `Problem::body`, never built")]
pub(super) struct ProblemSchema {
    /// A stable snake_case word to branch on, such as `run_not_found`.
    #[schema(pattern = "^[a-z][a-z0-9_]*$")]
    code: String,
    /// For people; never a secret.
    message: String,
    /// More about the error (an object, empty when there is nothing to add).
    #[schema(value_type = Object)]
    details: serde_json::Value,
}

/// What the document starts from: the error schema (referenced by the answers
/// [`finish`] adds) and the tags that group the operations.
#[derive(utoipa::OpenApi)]
#[openapi(
    components(schemas(ProblemSchema)),
    tags(
        (name = "deployments", description = "Programs: deploy from source or IR, activate, deactivate"),
        (name = "workflows", description = "The workflows of active deployments, and starting runs"),
        (name = "runs", description = "Runs: list, show with steps, retry, replay, cancel, pause, resume"),
        (name = "events", description = "Events emitted from outside a run"),
        (name = "approvals", description = "Approvals waiting for a person: list, approve, reject"),
        (name = "meta", description = "This document"),
    ),
)]
struct Base;

/// The document's starting point.
pub(super) fn base() -> OpenApi {
    <Base as utoipa::OpenApi>::openapi()
}

/// The document as served, shared by the route.
#[derive(Clone)]
pub(super) struct Document(pub(super) Arc<str>);

/// This OpenAPI document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "meta",
    summary = "This OpenAPI 3.1 document (no token needed)",
    responses(
        (status = 200, description = "the document", content_type = "application/json", body = Object),
    ),
)]
pub(super) async fn openapi(Extension(document): Extension<Document>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document.0.to_string(),
    )
        .into_response()
}

/// Completes the document the router collected: paths under `prefix`, the
/// title, the bearer scheme required everywhere but on the public operations,
/// and the `401` and `500` answers of every protected operation.
pub(super) fn finish(mut document: OpenApi, prefix: &str) -> OpenApi {
    document.info.title = "flowc admin API".into();
    document.info.description = Some(
        "Deployments, workflows and runs of a `flowc serve`. Every operation but this \
         document needs `Authorization: Bearer <admin token>`; errors are \
         `{code, message, details}`."
            .into(),
    );
    document.info.version = env!("CARGO_PKG_VERSION").into();
    let paths = std::mem::take(&mut document.paths.paths);
    for (path, mut item) in paths {
        for method in [
            HttpMethod::Get,
            HttpMethod::Post,
            HttpMethod::Put,
            HttpMethod::Delete,
            HttpMethod::Patch,
        ] {
            let operation = match method {
                HttpMethod::Get => item.get.as_mut(),
                HttpMethod::Post => item.post.as_mut(),
                HttpMethod::Put => item.put.as_mut(),
                HttpMethod::Delete => item.delete.as_mut(),
                _ => item.patch.as_mut(),
            };
            let Some(operation) = operation else {
                continue;
            };
            let public = operation
                .operation_id
                .as_deref()
                .is_some_and(|id| PUBLIC_OPERATIONS.contains(&id));
            if public {
                // An empty list overrides the document-wide requirement.
                operation.security = Some(Vec::new());
                continue;
            }
            let responses = &mut operation.responses.responses;
            responses
                .entry("401".into())
                .or_insert_with(|| RefOr::T(unauthorized()));
            responses
                .entry("500".into())
                .or_insert_with(|| RefOr::T(problem("the store failed; it is safe to retry")));
        }
        document.paths.paths.insert(format!("{prefix}{path}"), item);
    }
    let components = document.components.get_or_insert_with(Components::new);
    let mut bearer = Http::new(HttpAuthScheme::Bearer);
    bearer.description =
        Some("The admin token: `FLOWC_ADMIN_TOKEN`, or the file `flowc serve` prints".into());
    components
        .security_schemes
        .insert(SECURITY_SCHEME.into(), SecurityScheme::Http(bearer).into());
    document.security = Some(vec![SecurityRequirement::new(
        SECURITY_SCHEME,
        Vec::<String>::new(),
    )]);
    document
}

/// A response with the [`ProblemSchema`] body.
fn problem(description: &str) -> utoipa::openapi::Response {
    utoipa::openapi::ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

fn unauthorized() -> utoipa::openapi::Response {
    let mut response = problem(
        "`unauthorized`: no `Authorization: Bearer`, a wrong token, or a server without one",
    );
    response.headers.insert(
        "WWW-Authenticate".into(),
        utoipa::openapi::HeaderBuilder::new()
            .schema(Some(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .build(),
            ))
            .description(Some("`Bearer`"))
            .build()
            .into(),
    );
    response
}
