//! How a run fails, and how the engine itself fails.
//!
//! A [`RunError`] is a failure *of the workflow*: it ends the run (journaled as the
//! run's error JSON `{code, kind, message, step?, status?, span?}`) unless a `try`
//! around it catches it, in which case the handler sees it as the record
//! `{ kind, message, step, status, code }` (SPEC §6.16). An [`Error`] is a failure
//! *of the engine* (the store is unreachable, the run does not exist): the run is
//! left as it is, to be resumed later.
//!
//! Codes the engine adds to the evaluator's `R00xx` and outbound's `R01xx`:
//!
//! | code | meaning | catchable |
//! | --- | --- | --- |
//! | R0201 | IR this build cannot interpret (a step kind it does not know) | no |
//! | R0202 | the run cannot start: its workflow is not in its deployment, or its input does not have the workflow's parameter type | no |
//! | R0203 | a `fail` statement | yes |
//! | R0204 | a journaled value cannot be read back with the type the program expects | no |
//! | R0205 | the vault could not give a secret a step needs (not "missing": that is R0112) | yes |
//! | R0300 | an `await` (of a handle, an event, a webhook) timed out | yes |
//! | R0301 | a child run (`call`) failed; the message quotes the child's error | yes |
//! | R0302 | a child run was cancelled | yes |
//! | R0303 | the run passed its `timeout` setting | no |
//! | R0304 | the operating system gave no randomness for a handle's token | no |
//!
//! Each code has a page for `flowc explain` (`compiler/diagnostics/<CODE>.md`);
//! [`ALL`] lists them, and the test `tests/codes.rs` checks that every code has
//! its page.

use crate::store;
use flowc_compiler::diagnostic::Span;
use flowc_compiler::eval;
use flowc_compiler::value::Value;
use serde_json::{Map, Value as Json, json};

/// `R0201`: not supported yet by the runtime.
pub const UNSUPPORTED: &str = "R0201";
/// `R0202`: the run cannot start.
pub const CANNOT_START: &str = "R0202";
/// `R0203`: `fail`.
pub const FAILED: &str = "R0203";
/// `R0204`: the journal holds a value the program cannot read.
pub const JOURNAL: &str = "R0204";
/// `R0205`: the vault failed.
pub const VAULT: &str = "R0205";
/// `R0300`: an `await` timed out.
pub const AWAIT_TIMEOUT: &str = "R0300";
/// `R0301`: a child run (`call`) failed.
pub const CHILD_FAILED: &str = "R0301";
/// `R0302`: a child run was cancelled.
pub const CHILD_CANCELLED: &str = "R0302";
/// `R0303`: the run passed its `timeout`.
pub const RUN_TIMEOUT: &str = "R0303";
/// `R0304`: no randomness for a handle's token.
pub const RANDOMNESS: &str = "R0304";

/// Every code the engine adds, in order.
pub const ALL: &[&str] = &[
    UNSUPPORTED,
    CANNOT_START,
    FAILED,
    JOURNAL,
    VAULT,
    AWAIT_TIMEOUT,
    CHILD_FAILED,
    CHILD_CANCELLED,
    RUN_TIMEOUT,
    RANDOMNESS,
];

/// A failure of the workflow.
#[derive(Clone, Debug, PartialEq)]
pub struct RunError {
    pub code: String,
    /// `http`, `fail`, `expression`, `unsupported`, `start`, `journal`, `secret`,
    /// `timeout`, `child_failed`, `child_cancelled`, `handle`.
    pub kind: String,
    pub message: String,
    /// The step path, when a step failed.
    pub step: Option<String>,
    /// The HTTP status, when a step failed on one.
    pub status: Option<u16>,
    /// The expression that failed, for run-time errors of expressions.
    pub span: Option<Span>,
    /// False for failures a `try` must not hide.
    pub catchable: bool,
}

impl RunError {
    pub fn new(code: &str, kind: &str, message: impl Into<String>) -> RunError {
        RunError {
            code: code.to_string(),
            kind: kind.to_string(),
            message: message.into(),
            step: None,
            status: None,
            span: None,
            catchable: true,
        }
    }

    /// `R0303`: the run passed its `timeout` setting (not catchable).
    pub fn run_timeout() -> RunError {
        RunError::new(RUN_TIMEOUT, "timeout", "the run exceeded its timeout").uncatchable()
    }

    pub fn uncatchable(mut self) -> RunError {
        self.catchable = false;
        self
    }

    pub fn at_step(mut self, path: &str) -> RunError {
        self.step = Some(path.to_string());
        self
    }

    pub fn unsupported(what: &str) -> RunError {
        RunError::new(
            UNSUPPORTED,
            "unsupported",
            format!("{what} is not supported yet by the runtime"),
        )
        .uncatchable()
    }

    pub fn expression(error: &eval::Error) -> RunError {
        RunError {
            span: Some(error.span),
            ..RunError::new(error.code.as_str(), "expression", error.message.clone())
        }
    }

    /// A failed outbound call of step `path`.
    pub fn http(error: &crate::outbound::Error, path: &str) -> RunError {
        let status = match error {
            crate::outbound::Error::Status { status, .. } => Some(*status),
            _ => None,
        };
        RunError {
            status,
            ..RunError::new(error.code(), "http", error.to_string()).at_step(path)
        }
    }

    /// The JSON journaled as a step's or a run's error.
    pub fn to_json(&self) -> Json {
        let mut map = Map::new();
        map.insert("code".into(), json!(self.code));
        map.insert("kind".into(), json!(self.kind));
        map.insert("message".into(), json!(self.message));
        if let Some(step) = &self.step {
            map.insert("step".into(), json!(step));
        }
        if let Some(status) = self.status {
            map.insert("status".into(), json!(status));
        }
        if let Some(span) = self.span {
            map.insert(
                "span".into(),
                json!({ "start": span.start, "end": span.end }),
            );
        }
        if !self.catchable {
            map.insert("catchable".into(), json!(false));
        }
        Json::Object(map)
    }

    /// Reads back what [`RunError::to_json`] wrote (a journaled step error).
    pub fn from_json(json: &Json) -> RunError {
        let text = |name: &str| json.get(name).and_then(Json::as_str).map(str::to_string);
        RunError {
            code: text("code").unwrap_or_else(|| JOURNAL.to_string()),
            kind: text("kind").unwrap_or_else(|| "journal".to_string()),
            message: text("message").unwrap_or_else(|| json.to_string()),
            step: text("step"),
            status: json
                .get("status")
                .and_then(Json::as_u64)
                .and_then(|status| u16::try_from(status).ok()),
            span: json.get("span").and_then(|span| {
                let at = |name: &str| {
                    span.get(name)
                        .and_then(Json::as_u64)
                        .and_then(|n| u32::try_from(n).ok())
                };
                Some(Span {
                    start: at("start")?,
                    end: at("end")?,
                })
            }),
            catchable: json.get("catchable").and_then(Json::as_bool) != Some(false),
        }
    }

    /// The value a `catch err` binds: `{ kind, message, step, status, code }`.
    pub fn to_value(&self) -> Value {
        Value::record([
            ("code", Value::string(self.code.as_str())),
            ("kind", Value::string(self.kind.as_str())),
            ("message", Value::string(self.message.as_str())),
            (
                "step",
                self.step.as_deref().map_or(Value::Null, Value::string),
            ),
            (
                "status",
                self.status
                    .map_or(Value::Null, |s| Value::Int(i64::from(s))),
            ),
        ])
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(step) = &self.step {
            write!(f, " (step `{step}`)")?;
        }
        Ok(())
    }
}

/// A failure of the engine: the run is left as it was, to be resumed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("no run `{0}`")]
    RunNotFound(String),
    #[error("no deployment `{deployment}` for run `{run}`")]
    DeploymentNotFound { run: String, deployment: String },
    /// A replay's input does not have the workflow's parameter type.
    #[error("the input does not have the type of `{workflow}`'s input: {mismatch}")]
    Input {
        workflow: String,
        mismatch: flowc_compiler::value::Mismatch,
    },
}
