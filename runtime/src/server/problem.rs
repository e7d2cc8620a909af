//! The one shape of every error the server answers: `{code, message, details}`.
//!
//! Codes are stable snake_case words a client can branch on; the message is for
//! people and never holds a secret or a stored value beyond what the caller sent;
//! `details` is an object (empty when there is nothing to add), for example the
//! path of a type mismatch.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flowc_compiler::value::Mismatch;
use serde_json::{Value as Json, json};

/// An error response.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Json,
    /// The methods a path accepts, for `405` (sent as `Allow`).
    pub allow: Option<String>,
    /// Seconds to wait before retrying, for `429` (sent as `Retry-After`).
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            status,
            code,
            message: message.into(),
            details: json!({}),
            allow: None,
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: Json) -> Problem {
        self.details = details;
        self
    }

    /// The body every unknown path gets, whatever the path and method, so that
    /// paths cannot be probed.
    pub fn not_found() -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", "no webhook here")
    }

    /// `405` with the methods the path accepts.
    pub fn method_not_allowed(allow: String) -> Problem {
        let mut problem = Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("this webhook accepts {allow}"),
        );
        problem.allow = Some(allow);
        problem
    }

    /// `500` for a failure of the server itself; the message is logged by the
    /// caller, not sent.
    pub fn internal() -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not handle the request; it is safe to retry",
        )
    }

    /// `422 input_mismatch`: `message` (which names what did not fit), with
    /// where, and what was expected and found, in `details`.
    pub fn input_mismatch(message: impl Into<String>, mismatch: &Mismatch) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "input_mismatch", message).with_details(
            json!({
                "path": format!("${}", mismatch.path),
                "expected": mismatch.expected,
                "found": mismatch.found,
            }),
        )
    }

    /// `415 unsupported_media_type` for a body that is not declared JSON.
    pub fn not_json() -> Problem {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON (`Content-Type: application/json`)",
        )
    }

    /// `400 malformed_json`, with where the text stops being JSON (`line`,
    /// `column`) in `details`.
    pub fn malformed_json(error: &serde_json::Error) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {error}"),
        )
        .with_details(json!({ "line": error.line(), "column": error.column() }))
    }

    /// The JSON body.
    pub fn body(&self) -> Json {
        json!({ "code": self.code, "message": self.message, "details": self.details })
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = self.body().to_string();
        let mut response = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        if let Some(allow) = self
            .allow
            .and_then(|allow| HeaderValue::from_str(&allow).ok())
        {
            response.headers_mut().insert(header::ALLOW, allow);
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
