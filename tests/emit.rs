//! End-to-end tests of `flowc emit`, `flowc context` and the bulk and pause
//! forms of `flowc runs`: the real `flowc serve` on a free loopback port with a
//! temp database, the operator commands against its admin API, and the ways they
//! go wrong (an undeclared event, a payload that is not JSON or not of the
//! event's type, a run that has ended).

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value as Json, json};
use std::time::Duration;
use support::Served;

const PROGRAM: &str = r#"
event ping = { n: int }

workflow listener(p: { n: int }) -> int {
  on event ping
  set context.last = p.n
  return p.n * 2
}

workflow sleeper(input: { n: int }) {
  on manual
  step nap = wait 1h
}
"#;

fn serve(dir: &std::path::Path) -> Served {
    support::write(dir, "app.flow", PROGRAM);
    Served::in_dir(dir, &["app.flow"])
}

/// `runs list --json` for one workflow: its runs, newest first.
fn runs_of(serve: &Served, workflow: &str) -> Vec<Json> {
    let done = serve.admin(&["runs", "list", "--workflow", workflow, "--all", "--json"]);
    assert_eq!(done.code, Some(0), "{done}");
    done.json()["runs"].as_array().unwrap().clone()
}

/// Waits until `workflow` has runs for which `done` holds.
fn runs_until(serve: &Served, workflow: &str, done: impl Fn(&[Json]) -> bool) -> Vec<Json> {
    let mut last = Vec::new();
    support::wait_until(
        Duration::from_secs(20),
        || {
            last = runs_of(serve, workflow);
            done(&last)
        },
        || format!("the runs of {workflow} never got there"),
    );
    last
}

#[test]
fn emit_starts_a_listener_run_visible_in_runs_list() {
    let dir = tempfile::tempdir().unwrap();
    let serve = serve(dir.path());

    let done = serve.admin(&["emit", "ping", r#"{"n": 21}"#]);
    assert_eq!(done.code, Some(0), "{done}");
    let event = done.stdout.trim().to_string();
    assert!(!event.is_empty() && !event.contains(' '), "{done}");
    let runs = runs_until(&serve, "listener", |runs| {
        runs.len() == 1 && runs[0]["status"] == "succeeded"
    });
    assert_eq!(runs[0]["trigger"], "event");
    assert_eq!(runs[0]["input"], json!({ "n": 21 }));
    assert_eq!(runs[0]["output"], json!(42));
    assert_eq!(runs[0]["idempotency_key"], format!("event:{event}"));

    // The payload from standard input, and the API's answer as JSON.
    let url = serve.url();
    let done = support::run_with_stdin(
        dir.path(),
        &[
            "emit",
            "ping",
            "-",
            "--json",
            "--server",
            &url,
            "--token-file",
            "data.admin-token",
        ],
        r#"{"n": 1}"#,
    );
    assert_eq!(done.code, Some(0), "{done}");
    assert!(done.json()["event_id"].is_string(), "{done}");
    runs_until(&serve, "listener", |runs| runs.len() == 2);

    // The server's refusals exit 1 with one line; a payload that is not JSON
    // never leaves (exit 2).
    let done = serve.admin(&["emit", "pong", "{}"]);
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("event_not_found"), "{done}");
    let done = serve.admin(&["emit", "ping", r#"{"n": "one"}"#]);
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("input_mismatch"), "{done}");
    let done = serve.admin(&["emit", "ping", "{n: 1}"]);
    assert_eq!(done.code, Some(2), "{done}");
    assert_eq!(done.stderr.lines().count(), 1, "{done}");
    assert!(done.stderr.contains("not valid JSON"), "{done}");
    assert_eq!(runs_of(&serve, "listener").len(), 2);
}

#[test]
fn context_and_run_controls_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let serve = serve(dir.path());

    let done = serve.admin(&["context", "set", "listener", "cursor", r#""c-1""#]);
    assert_eq!(done.code, Some(0), "{done}");
    assert_eq!(done.stdout.trim(), "set context.cursor of listener");
    let done = serve.admin(&["context", "get", "listener"]);
    assert_eq!(done.code, Some(0), "{done}");
    assert_eq!(done.json(), json!({ "cursor": "c-1" }));
    let done = serve.admin(&["context", "set", "listener", "cursor", "null"]);
    assert_eq!(done.code, Some(0), "{done}");
    assert_eq!(done.stdout.trim(), "removed context.cursor of listener");
    let done = serve.admin(&["context", "get", "listener"]);
    assert_eq!(done.json(), json!({}));
    let done = serve.admin(&["context", "get", "nope"]);
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("workflow_not_found"), "{done}");

    // Two parked runs: one paused and resumed, then both cancelled at once.
    let mut sleepers = Vec::new();
    let bearer = format!("Bearer {}", token(&serve));
    for n in 0..2 {
        let (status, answer) = support::post(
            &serve.addr,
            "/api/v1/workflows/sleeper/runs",
            &[("Authorization", &bearer)],
            &json!({ "n": n }).to_string(),
        );
        assert_eq!(status, 201, "{answer}");
        let answer: Json = serde_json::from_str(&answer).unwrap();
        sleepers.push(answer["run_id"].as_str().unwrap().to_string());
    }
    runs_until(&serve, "sleeper", |runs| {
        runs.len() == 2 && runs.iter().all(|run| run["status"] == "waiting")
    });
    let done = serve.admin(&["runs", "pause", &sleepers[0]]);
    assert_eq!(done.code, Some(0), "{done}");
    assert!(
        done.stdout
            .starts_with(&format!("paused run {}", sleepers[0])),
        "{done}"
    );
    let done = serve.admin(&["runs", "resume", &sleepers[0]]);
    assert_eq!(done.code, Some(0), "{done}");
    assert_eq!(done.stdout.trim(), format!("resumed run {}", sleepers[0]));

    let done = serve.admin(&[
        "runs",
        "cancel",
        "--workflow",
        "sleeper",
        "--status",
        "waiting",
    ]);
    assert_eq!(done.code, Some(0), "{done}");
    assert!(
        done.stdout.starts_with("cancelled 2 runs of sleeper"),
        "{done}"
    );
    for run in &sleepers {
        assert!(done.stdout.contains(run.as_str()), "{done}");
    }
    runs_until(&serve, "sleeper", |runs| {
        runs.iter().all(|run| run["status"] == "cancelled")
    });
    let done = serve.admin(&["runs", "cancel", "--workflow", "sleeper"]);
    assert_eq!(done.code, Some(0), "{done}");
    assert!(
        done.stderr.contains("no run to cancel of sleeper"),
        "{done}"
    );
    let done = serve.admin(&["runs", "retry", "--workflow", "sleeper", "--json"]);
    assert_eq!(done.code, Some(0), "{done}");
    assert_eq!(done.json(), json!({ "count": 0, "runs": [] }));

    // A run that has ended cannot be paused; an id and --workflow together, or
    // neither, are bad arguments.
    let done = serve.admin(&["runs", "pause", &sleepers[1]]);
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("run_finished"), "{done}");
    let done = serve.admin(&["runs", "cancel", &sleepers[1], "--workflow", "sleeper"]);
    assert_eq!(done.code, Some(2), "{done}");
    let done = serve.admin(&["runs", "retry"]);
    assert_eq!(done.code, Some(2), "{done}");
}

/// The admin token `flowc serve` wrote next to its database.
fn token(serve: &Served) -> String {
    std::fs::read_to_string(serve.token_file())
        .unwrap()
        .trim()
        .to_string()
}
