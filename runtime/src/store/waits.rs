//! What parked runs wait for, the events that wake them, and the context store:
//! the types the [`Store`](super::Store) methods for orchestration take and give.
//!
//! A run that reaches `wait`, `await` or `call` journals an open [`Wait`] and
//! parks (status `waiting`, no task, no memory). Whatever resolves the wait — the
//! timer loop, a callback, an approval, an event, a child's end — does it in one
//! store transaction that also moves the run from `waiting` back to `pending`, and
//! the store then announces the run on its [`Wakes`], which the dispatcher turns
//! into a task. Because parking is a compare-and-set that refuses when a wait the
//! run is about to park on has already been resolved, a resolution that races the
//! park is never lost.

use crate::clock::Millis;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::Notify;

/// What a wait waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitKind {
    /// `wait d`, `wait until t`: resolved with `null` when due.
    Timer,
    /// A `callback(…)` handle: resolved by a POST to its URL.
    Callback,
    /// An `approval(…)` handle: resolved by an approval or a rejection.
    Approval,
    /// `await event`: resolved by an emit whose predicate holds.
    Event,
    /// `await webhook`: resolved by a request to the path whose predicate holds.
    Webhook,
    /// `call wf(…)`: resolved when the child run ends.
    Child,
    /// The run's own `timeout`: when due, the run fails.
    Deadline,
}

impl WaitKind {
    pub const ALL: [WaitKind; 7] = [
        WaitKind::Timer,
        WaitKind::Callback,
        WaitKind::Approval,
        WaitKind::Event,
        WaitKind::Webhook,
        WaitKind::Child,
        WaitKind::Deadline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WaitKind::Timer => "timer",
            WaitKind::Callback => "callback",
            WaitKind::Approval => "approval",
            WaitKind::Event => "event",
            WaitKind::Webhook => "webhook",
            WaitKind::Child => "child",
            WaitKind::Deadline => "deadline",
        }
    }

    pub fn parse(text: &str) -> Option<WaitKind> {
        WaitKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Where a wait is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitStatus {
    Open,
    Resolved,
    TimedOut,
    /// Its run ended (cancelled, failed, timed out) while it was open.
    Cancelled,
}

impl WaitStatus {
    pub const ALL: [WaitStatus; 4] = [
        WaitStatus::Open,
        WaitStatus::Resolved,
        WaitStatus::TimedOut,
        WaitStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WaitStatus::Open => "open",
            WaitStatus::Resolved => "resolved",
            WaitStatus::TimedOut => "timed_out",
            WaitStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<WaitStatus> {
        WaitStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// A wait to open, journaled with the step (or handle) it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct NewWait {
    pub path: String,
    pub kind: WaitKind,
    pub deadline: Option<Millis>,
    /// The SHA-256 (hex) of a handle's token.
    pub token: Option<String>,
    /// `event:NAME` or `webhook:METHOD /path`, for correlated waits.
    pub topic: Option<String>,
    /// The key value, as canonical JSON, when the predicate has one.
    pub key_value: Option<String>,
    /// The residual predicate, as IR JSON.
    pub predicate: Option<serde_json::Value>,
    pub detail: Option<serde_json::Value>,
}

impl NewWait {
    /// A wait of `kind` at `path` with nothing else set.
    pub fn new(path: impl Into<String>, kind: WaitKind) -> NewWait {
        NewWait {
            path: path.into(),
            kind,
            deadline: None,
            token: None,
            topic: None,
            key_value: None,
            predicate: None,
            detail: None,
        }
    }
}

/// A wait as stored (never its token).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Wait {
    pub run: String,
    pub path: String,
    pub kind: WaitKind,
    pub status: WaitStatus,
    pub deadline: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip)]
    pub key_value: Option<String>,
    #[serde(skip)]
    pub predicate: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
    /// `{"ok": value}` or `{"error": {...}}` once resolved or timed out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    pub created_at: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<Millis>,
}

/// What resolving a wait did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Resolved, and its run (which was parked) is pending again.
    Woke,
    /// Resolved; the run was not parked (it is still running and will find the
    /// result when it reaches its `await`).
    Resolved,
    /// The wait was no longer open: already used, timed out or cancelled.
    Gone,
    /// No such wait.
    NotFound,
}

/// An event (or an `await webhook` request) as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredEvent {
    pub seq: i64,
    pub id: String,
    pub topic: String,
    pub payload: serde_json::Value,
    pub source_run: Option<String>,
    pub emitted_at: Millis,
}

/// Something the dispatcher must act on, announced by the store after the
/// transaction that caused it committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The run is pending again (or new, like a child run): interpret it.
    Run(String),
    /// The run ended from outside its interpreter (its `timeout`, a parent's
    /// cancellation): stop the task interpreting it, if any.
    Stop(String),
    /// Events were stored: deliver them.
    Events,
    /// A wait with a deadline was opened: the timer loop looks again.
    Timer,
}

/// The store's announcements, in order. One consumer (the dispatcher) takes them.
#[derive(Debug, Default)]
pub struct Wakes {
    queue: Mutex<VecDeque<Wake>>,
    notify: Notify,
}

impl Wakes {
    /// Announces `wakes` (after their transaction committed).
    pub fn push(&self, wakes: impl IntoIterator<Item = Wake>) {
        let mut any = false;
        if let Ok(mut queue) = self.queue.lock() {
            for wake in wakes {
                queue.push_back(wake);
                any = true;
            }
        }
        if any {
            self.notify.notify_one();
        }
    }

    /// Everything announced so far, waiting for the next announcement when there
    /// is none.
    pub async fn next(&self) -> Vec<Wake> {
        loop {
            let notified = self.notify.notified();
            let taken: Vec<Wake> = match self.queue.lock() {
                Ok(mut queue) => queue.drain(..).collect(),
                Err(_) => Vec::new(),
            };
            if !taken.is_empty() {
                return taken;
            }
            notified.await;
        }
    }
}

/// The key value of a correlated wait, as stored and looked up: the JSON of
/// `[path, text]`, where `text` is `compiler::correlate::key_text` of the value
/// (the same text for values that are `==`), so the waiting run and the
/// incoming message compute the same string.
pub fn key_value(path: &[String], text: &str) -> String {
    serde_json::json!([path, text]).to_string()
}

/// The value at `path` in a message, when there is one.
pub fn key_at<'v>(
    payload: &'v serde_json::Value,
    path: &[String],
) -> Option<&'v serde_json::Value> {
    path.iter()
        .try_fold(payload, |value, field| value.as_object()?.get(field))
}
