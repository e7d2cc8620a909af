//! The URLs handles give out (SPEC §6.7), and the admin API's view of approvals.
//!
//! A `callback(…)` or `approval(…)` handle is a 128-bit token in a URL under the
//! server's public URL. The token is the credential: these routes take no admin
//! token, and every unknown or malformed token is answered with the very body an
//! unknown webhook path gets (`Problem::not_found`), so tokens cannot be probed
//! and a handle URL cannot be told from a path nothing serves. The two prefixes
//! belong to handles: every request under `/callbacks/` or `/approvals/` comes
//! here before webhook ingress, so a webhook declared under them is never
//! reached.
//!
//! | method and path | answer |
//! | --- | --- |
//! | `POST /callbacks/{token}` | a JSON body of the callback's type → 200 `{run_id}`; 415, 400, 413, 408 as for webhooks; 422 `input_mismatch` (`details.path`; the token stays unused) |
//! | `GET /approvals/{token}` | the review page: HTML, no script, nothing loaded from elsewhere |
//! | `POST /approvals/{token}/approve`, `…/reject` | a form (`by`, `comment`) → an HTML page; JSON `{by?, comment?}` or no body → 200 `{run_id, approved}` |
//!
//! A used, expired or cancelled token is 410 `gone` (an HTML page for a form
//! post and for the review page); another method is 405 with `Allow`, whatever
//! the token. The admin API (behind its token, registered by `admin.rs`) adds
//! `POST /api/v1/runs/{id}/approve` and `/reject`, which decide a run's oldest
//! open approval, and `GET /api/v1/approvals`, the open approvals oldest first.

use super::Shared;
use super::admin::{
    bad_query, body_as, body_json, internal, paged_query, path_param, reply, run_not_found,
};
use super::openapi::ProblemSchema;
use super::problem::Problem;
use crate::clock::Millis;
use crate::engine::{self, ApprovalDecision, HandleError};
use crate::store::{Wait, WaitKind};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// The prefix of callback URLs: `/callbacks/{token}`.
pub const CALLBACKS: &str = "/callbacks/";

/// The prefix of approval URLs: `/approvals/{token}` and its `/approve` and
/// `/reject`.
pub const APPROVALS: &str = "/approvals/";

/// The `Content-Security-Policy` of every HTML page: nothing but its own inline
/// style, and forms posted to this server only.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";

/// Whether `path` belongs to handles rather than to webhook ingress.
pub(super) fn claims(path: &str) -> bool {
    path.starts_with(CALLBACKS) || path.starts_with(APPROVALS)
}

/// Every request whose path [`claims`] accepts.
pub(super) async fn handle(shared: Arc<Shared>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    if let Some(token) = path.strip_prefix(CALLBACKS) {
        if token.contains('/') {
            return Problem::not_found().into_response();
        }
        if method != Method::POST {
            return wrong_method("POST");
        }
        return callback(&shared, token, request)
            .await
            .unwrap_or_else(IntoResponse::into_response);
    }
    let Some(rest) = path.strip_prefix(APPROVALS) else {
        return Problem::not_found().into_response();
    };
    match rest.split_once('/') {
        None if method == Method::GET || method == Method::HEAD => review_page(&shared, rest).await,
        None => wrong_method("GET, HEAD"),
        Some((token, action @ ("approve" | "reject"))) => {
            if method != Method::POST {
                return wrong_method("POST");
            }
            decide(&shared, token, action == "approve", request).await
        }
        Some(_) => Problem::not_found().into_response(),
    }
}

// ---------------------------------------------------------------- callbacks

/// `POST /callbacks/{token}`.
async fn callback(shared: &Shared, token: &str, request: Request) -> Result<Response, Problem> {
    // The token first: a dead one is refused whatever the body.
    shared
        .engine
        .handle_wait(token, WaitKind::Callback)
        .await
        .map_err(|error| handle_problem(&error))?;
    if !super::ingress::is_json(request.headers()) {
        return Err(Problem::not_json());
    }
    let body = match read_body(shared, request).await {
        Ok(body) => body,
        Err(response) => return Ok(response),
    };
    let json: Json =
        serde_json::from_slice(&body).map_err(|error| Problem::malformed_json(&error))?;
    let run = shared
        .engine
        .resolve_callback(token, json)
        .await
        .map_err(|error| handle_problem(&error))?;
    Ok(reply(StatusCode::OK, &json!({ "run_id": run })))
}

/// The answer for a refused delivery or decision: 404 alike for every unknown
/// token, 410 `gone`, 422 `input_mismatch`, 500 when the store failed.
fn handle_problem(error: &HandleError) -> Problem {
    match error {
        HandleError::Unknown => Problem::not_found(),
        HandleError::Gone => Problem::new(
            StatusCode::GONE,
            "gone",
            "this URL was already used, or it has expired",
        ),
        HandleError::Mismatch(mismatch) => Problem::input_mismatch(
            format!("the body does not have the callback's type: {mismatch}"),
            mismatch,
        ),
        HandleError::Engine(error) => internal(error),
    }
}

/// `405 method_not_allowed` with `Allow`, whatever the token: the answer says
/// nothing about it.
fn wrong_method(allow: &str) -> Response {
    let mut problem = Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("this URL accepts {allow}"),
    );
    problem.allow = Some(allow.to_string());
    problem.into_response()
}

/// The body, at most the server's body limit (413; a declared `Content-Length`
/// over it before a byte is read), within the body read timeout (408, and the
/// connection is closed).
async fn read_body(shared: &Shared, request: Request) -> Result<Bytes, Response> {
    let limit = shared.body_limit;
    let request = super::limits::bounded(request, limit).map_err(IntoResponse::into_response)?;
    super::limits::read_bounded(request, limit, shared.body_timeout, || {
        "the body did not arrive in time".into()
    })
    .await
    .map_err(|problem| {
        let late = problem.status == StatusCode::REQUEST_TIMEOUT;
        let mut response = problem.into_response();
        if late {
            // The rest of the body may still come: the connection is not reused.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    })
}

// ---------------------------------------------------------------- approvals

/// `GET /approvals/{token}`: what is to be decided and the form that decides it.
async fn review_page(shared: &Shared, token: &str) -> Response {
    let (wait, run) = match shared.engine.handle_wait(token, WaitKind::Approval).await {
        Ok(found) => found,
        Err(HandleError::Gone) => return gone_page(),
        Err(error) => return handle_problem(&error).into_response(),
    };
    let scrubber = shared.engine.redactor().current();
    let message = message_of(&wait).unwrap_or_else(|| "An approval is requested.".into());
    let input = serde_json::to_string_pretty(&run.input).unwrap_or_default();
    let deadline = wait.deadline.map_or_else(|| "never".to_string(), when);
    let rows = [
        ("Workflow", escape(&run.workflow)),
        ("Run", format!("<code>{}</code>", escape(&run.id))),
        ("Step", format!("<code>{}</code>", escape(&wait.path))),
        ("Requested", escape(&when(wait.created_at))),
        ("Expires", escape(&deadline)),
    ];
    let facts: String = rows
        .iter()
        .map(|(name, value)| format!("<dt>{name}</dt><dd>{value}</dd>\n"))
        .collect();
    // The form posts to `{token}/approve`, relative to this page, so it works
    // under a public URL with a path prefix too.
    let token = escape(token);
    let body = format!(
        "<h1>Approval requested</h1>\n\
         <p class=\"message\">{message}</p>\n\
         <dl>\n{facts}</dl>\n\
         <h2>Run input</h2>\n\
         <pre>{input}</pre>\n\
         <form method=\"post\" action=\"{token}/approve\">\n\
         <label>Your name (optional)<input name=\"by\" maxlength=\"200\" autocomplete=\"name\"></label>\n\
         <label>Comment (optional)<textarea name=\"comment\" rows=\"3\" maxlength=\"4000\"></textarea></label>\n\
         <div class=\"buttons\">\n\
         <button type=\"submit\" class=\"approve\">Approve</button>\n\
         <button type=\"submit\" class=\"reject\" formaction=\"{token}/reject\">Reject</button>\n\
         </div>\n\
         </form>\n",
        message = escape(&scrubber.scrub(&message)),
        input = escape(&scrubber.scrub(&input)),
    );
    page(StatusCode::OK, "Approval requested", &body)
}

/// `2026-11-22 17:20:24 UTC`, for people.
fn when(ms: Millis) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| ms.to_string(),
        |time| time.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// The message the approval was created with.
fn message_of(wait: &Wait) -> Option<String> {
    wait.detail
        .as_ref()?
        .get("message")?
        .as_str()
        .map(str::to_string)
}

/// A person's decision as posted: a form, JSON or nothing.
enum Posted {
    Form(ApprovalDecision),
    Json(ApprovalDecision),
}

/// `POST /approvals/{token}/approve` and `/reject`.
async fn decide(shared: &Shared, token: &str, approved: bool, request: Request) -> Response {
    if let Err(error) = shared.engine.handle_wait(token, WaitKind::Approval).await {
        return match (error, is_form(request.headers())) {
            (HandleError::Gone, true) => gone_page(),
            (error, _) => handle_problem(&error).into_response(),
        };
    }
    let posted = match read_decision(shared, request, approved).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let (decision, form) = match posted {
        Posted::Form(decision) => (decision, true),
        Posted::Json(decision) => (decision, false),
    };
    match shared.engine.decide(token, decision).await {
        Ok(run) if form => {
            let (title, text) = if approved {
                ("Approved", "approved")
            } else {
                ("Rejected", "rejected")
            };
            let body = format!(
                "<h1>{title}</h1>\n<p>Run <code>{}</code> was {text}; it goes on now. \
                 You can close this page.</p>\n",
                escape(&run)
            );
            page(StatusCode::OK, title, &body)
        }
        Ok(run) => reply(
            StatusCode::OK,
            &json!({ "run_id": run, "approved": approved }),
        ),
        Err(HandleError::Gone) if form => gone_page(),
        Err(error) => handle_problem(&error).into_response(),
    }
}

/// The decision in a request's body: `by` and `comment` from a form or a JSON
/// object (both optional, blank ones dropped), or none from an empty body.
async fn read_decision(
    shared: &Shared,
    request: Request,
    approved: bool,
) -> Result<Posted, Response> {
    let form = is_form(request.headers());
    let json = super::ingress::is_json(request.headers());
    let body = read_body(shared, request).await?;
    let mut decision = ApprovalDecision {
        approved,
        by: None,
        comment: None,
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(if form {
            Posted::Form(decision)
        } else {
            Posted::Json(decision)
        });
    }
    if form {
        for (name, value) in form_urlencoded::parse(&body) {
            match name.as_ref() {
                "by" => decision.by = filled(&value),
                "comment" => decision.comment = filled(&value),
                _ => {}
            }
        }
        return Ok(Posted::Form(decision));
    }
    if !json {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send a form (`application/x-www-form-urlencoded`), JSON `{\"by\", \"comment\"}`, \
             or no body",
        )
        .into_response());
    }
    let posted = match body_json(Ok(body), shared.body_limit) {
        Ok(Some(Json::Null) | None) => DecisionBody::default(),
        Ok(Some(json)) => body_as::<DecisionBody>(json).map_err(IntoResponse::into_response)?,
        Err(problem) => return Err(problem.into_response()),
    };
    decision.by = posted.by.as_deref().and_then(filled);
    decision.comment = posted.comment.as_deref().and_then(filled);
    Ok(Posted::Json(decision))
}

/// `text` trimmed, or `None` when nothing is left.
fn filled(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// `application/x-www-form-urlencoded`, in any case, with any parameters.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// `410` as a page, for people.
fn gone_page() -> Response {
    page(
        StatusCode::GONE,
        "No longer open",
        "<h1>No longer open</h1>\n<p>This approval was already decided, or it has expired. \
         Nothing was changed.</p>\n",
    )
}

/// A whole HTML page around `body`, with the headers that keep it from running
/// script, loading anything, being framed, cached or leaking its URL.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let text = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{body}</main>\n\
         </body>\n</html>\n",
        title = escape(title),
    );
    let mut response = (status, text).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2127}\
main{max-width:44rem;margin:2rem auto;padding:1.5rem 2rem;background:#fff;border-radius:8px;\
box-shadow:0 1px 3px rgba(0,0,0,.12)}h1{font-size:1.5rem;margin-top:0}h2{font-size:1.1rem}\
.message{font-size:1.15rem;white-space:pre-wrap}dl{display:grid;grid-template-columns:max-content auto;\
gap:.25rem 1rem}dt{color:#5c6470}dd{margin:0}pre{background:#f0f2f5;padding:.75rem;overflow:auto;\
max-height:24rem}label{display:block;margin:.75rem 0}input,textarea{display:block;width:100%;\
box-sizing:border-box;font:inherit;padding:.4rem}.buttons{display:flex;gap:.75rem}\
button{font:inherit;padding:.5rem 1.5rem;border:0;border-radius:6px;color:#fff;cursor:pointer}\
.approve{background:#1f7a3d}.reject{background:#b3261e}";

/// `text` safe in HTML text and in a double-quoted attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

// ---------------------------------------------------------------- admin API

/// What `POST /runs/{id}/approve` and `/reject` read; an empty body is `{}`.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionBody {
    /// Who decided, as the run's `await` sees it (`decision.by`).
    by: Option<String>,
    /// Why, as the run's `await` sees it (`decision.comment`).
    comment: Option<String>,
}

/// What deciding a run's approval answers.
#[derive(Serialize, ToSchema)]
pub(super) struct Decided {
    run_id: String,
    /// The approval's step path (the handle's name, as `let review = approval(…)`).
    step: String,
    approved: bool,
}

/// An approval waiting for a person.
#[derive(Serialize, ToSchema)]
pub(super) struct ApprovalJson {
    /// The run waiting for it.
    run: String,
    /// Its step path in the run (the handle's name).
    path: String,
    /// The `message:` it was created with.
    message: Option<String>,
    /// Milliseconds since the Unix epoch.
    created_at: i64,
    /// When it expires (its `timeout` from `created_at`), in milliseconds since
    /// the Unix epoch.
    deadline: Option<i64>,
}

/// `GET /approvals`: the open approvals, oldest first.
#[derive(Serialize, ToSchema)]
pub(super) struct Approvals {
    approvals: Vec<ApprovalJson>,
}

/// The page of `GET /approvals`. Read by [`list_approvals`], which refuses
/// anything else; this type describes it for the document.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "the document's view of what `list_approvals` reads"
)]
pub(super) struct ApprovalsQuery {
    /// How many approvals to list (50 by default), oldest first.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

#[utoipa::path(
    post,
    path = "/runs/{id}/approve",
    tag = "approvals",
    summary = "Approve the run's oldest open approval",
    params(("id" = String, Path, description = "the run's id")),
    request_body(content = Option<DecisionBody>, description = "optional: who approved and why"),
    responses(
        (status = 200, description = "approved: the run's `await` gets `{approved: true, by, comment}`", body = Decided),
        (status = 400, description = "`malformed_json`, `bad_body`, `bad_path`", body = ProblemSchema),
        (status = 404, description = "`run_not_found`", body = ProblemSchema),
        (status = 409, description = "`no_open_approval`: the run waits for no approval", body = ProblemSchema),
        (status = 413, description = "`payload_too_large`", body = ProblemSchema),
    ),
)]
pub(super) async fn approve_run(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    decide_run(&shared, id, body, true).await
}

#[utoipa::path(
    post,
    path = "/runs/{id}/reject",
    tag = "approvals",
    summary = "Reject the run's oldest open approval",
    params(("id" = String, Path, description = "the run's id")),
    request_body(content = Option<DecisionBody>, description = "optional: who rejected and why"),
    responses(
        (status = 200, description = "rejected: the run's `await` gets `{approved: false, by, comment}`", body = Decided),
        (status = 400, description = "`malformed_json`, `bad_body`, `bad_path`", body = ProblemSchema),
        (status = 404, description = "`run_not_found`", body = ProblemSchema),
        (status = 409, description = "`no_open_approval`: the run waits for no approval", body = ProblemSchema),
        (status = 413, description = "`payload_too_large`", body = ProblemSchema),
    ),
)]
pub(super) async fn reject_run(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    decide_run(&shared, id, body, false).await
}

async fn decide_run(
    shared: &Shared,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
    approved: bool,
) -> Result<Response, Problem> {
    let id = path_param(id)?;
    let posted = match body_json(body, shared.body_limit)? {
        Some(Json::Null) | None => DecisionBody::default(),
        Some(json) => body_as::<DecisionBody>(json)?,
    };
    let decision = ApprovalDecision {
        approved,
        by: posted.by.as_deref().and_then(filled),
        comment: posted.comment.as_deref().and_then(filled),
    };
    let step = match shared.engine.decide_run(&id, decision).await {
        Ok(step) => step,
        Err(HandleError::Engine(engine::Error::RunNotFound(_))) => return Err(run_not_found(&id)),
        // No open approval, or it was decided or expired a moment ago.
        Err(HandleError::Unknown | HandleError::Gone) => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "no_open_approval",
                format!("run `{id}` is not waiting for an approval"),
            )
            .with_details(json!({ "run_id": id })));
        }
        Err(error) => return Err(handle_problem(&error)),
    };
    Ok(reply(
        StatusCode::OK,
        &Decided {
            run_id: id,
            step,
            approved,
        },
    ))
}

#[utoipa::path(
    get,
    path = "/approvals",
    tag = "approvals",
    summary = "List the approvals waiting for a person, oldest first",
    params(ApprovalsQuery),
    responses(
        (status = 200, description = "the open approvals", body = Approvals, links(
            ("approve" = (operation_id = "approve_run", parameters(("id" = "$response.body#/approvals/0/run")))),
            ("reject" = (operation_id = "reject_run", parameters(("id" = "$response.body#/approvals/0/run")))),
        )),
        (status = 400, description = "`bad_query`: an unknown parameter, one given twice, or a value out of range", body = ProblemSchema),
    ),
)]
pub(super) async fn list_approvals(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    let page = paged_query(query.as_deref(), "limit", |_, _| Ok(false))?;
    if page.after.is_some() {
        return Err(bad_query("unknown parameter `after`; expected limit"));
    }
    let waits = shared
        .store
        .open_waits(WaitKind::Approval, page.limit)
        .await
        .map_err(|error| internal(&error))?;
    let approvals = waits
        .into_iter()
        .map(|wait| ApprovalJson {
            message: message_of(&wait),
            run: wait.run,
            path: wait.path,
            created_at: wait.created_at,
            deadline: wait.deadline,
        })
        .collect();
    Ok(reply(StatusCode::OK, &Approvals { approvals }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_text_and_attributes() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn times_are_shown_to_the_second_in_utc() {
        assert_eq!(when(1_700_000_000_500), "2023-11-14 22:13:20 UTC");
    }

    #[test]
    fn only_the_two_prefixes_are_claimed() {
        assert!(claims("/callbacks/abc"));
        assert!(claims("/approvals/abc/approve"));
        assert!(!claims("/callbacks"));
        assert!(!claims("/approvals"));
        assert!(!claims("/hooks/callbacks/abc"));
    }
}
