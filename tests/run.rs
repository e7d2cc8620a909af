//! End-to-end tests of `flowc run`: the real binary runs a workflow whose HTTP
//! step calls a recording loopback server, prints its output, and exits 0 when
//! the run succeeded and 1 when it failed; bad input and an ambiguous workflow
//! are refused (exit 2) before anything is sent.

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::json;
use support::{Recorded, Recorder, Reply, run, run_with_stdin};

const PROGRAM: &str = r#"
workflow order(order: { id: string, amount: int }) -> { id: string, seen: string } {
  step notify = http POST "BASE/notify" { json: { id: order.id, twice: order.amount * 2 } } -> { seen: string }
  return { id: order.id, seen: notify.body.seen }
}
"#;

const FAILING: &str = r#"
workflow refund(refund: { id: string }) -> { ok: bool } {
  step charge = http POST "BASE/refuse" { json: { id: refund.id } }
  return { ok: true }
}
"#;

fn answer(request: &Recorded) -> Reply {
    match request.path() {
        "/notify" => Reply::json(200, json!({"seen": "yes"})),
        _ => Reply::json(400, json!({"error": "refused"})),
    }
}

/// A temp dir holding `file`: `source` with its `BASE` pointed at a new
/// downstream that answers `/notify` and refuses the rest.
fn program(file: &str, source: &str) -> (tempfile::TempDir, Recorder) {
    let dir = tempfile::tempdir().unwrap();
    let downstream = Recorder::start(answer);
    support::write(dir.path(), file, &source.replace("BASE", downstream.base()));
    (dir, downstream)
}

#[test]
fn a_run_calls_the_downstream_and_prints_its_output() {
    let (dir, downstream) = program("order.flow", PROGRAM);
    let done = run(
        dir.path(),
        &[
            "run",
            "order.flow",
            "--input",
            r#"{"id": "o-1", "amount": 21}"#,
        ],
    );
    assert_eq!(done.code, Some(0), "{done}");
    assert_eq!(done.json(), json!({"id": "o-1", "seen": "yes"}));
    assert_eq!(
        downstream.bodies("/notify"),
        [r#"{"id":"o-1","twice":42}"#],
        "one call with the mapped body"
    );
    // Not a terminal: one plain line per event, on standard error.
    assert!(done.stderr.contains("step notify started"), "{done}");
    assert!(done.stderr.contains("step notify succeeded in "), "{done}");
    // A temporary database leaves nothing behind.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(left, ["order.flow"]);
}

#[test]
fn the_input_can_come_from_a_file_or_standard_input_and_the_run_stays_in_db() {
    let (dir, downstream) = program("order.flow", PROGRAM);
    support::write(dir.path(), "in.json", r#"{"id": "o-2", "amount": 1}"#);
    let done = run(
        dir.path(),
        &[
            "run",
            "order.flow",
            "--input",
            "@in.json",
            "--db",
            "keep.db",
        ],
    );
    assert_eq!(done.code, Some(0), "{done}");
    assert!(done.stdout.contains(r#""id": "o-2""#), "{done}");
    assert!(done.stderr.contains("in keep.db"), "{done}");
    assert!(dir.path().join("keep.db").exists());

    let done = run_with_stdin(
        dir.path(),
        &["run", "order.flow", "--input", "-"],
        r#"{"id": "o-3", "amount": 2}"#,
    );
    assert_eq!(done.code, Some(0), "{done}");
    assert!(done.stdout.contains(r#""id": "o-3""#), "{done}");
    assert_eq!(downstream.bodies("/notify").len(), 2);
}

#[test]
fn a_failed_run_exits_1_with_its_error() {
    let (dir, downstream) = program("refund.flow", FAILING);
    let done = run(
        dir.path(),
        &["run", "refund.flow", "--input", r#"{"id": "r-1"}"#],
    );
    assert_eq!(done.code, Some(1), "{done}");
    assert_eq!(done.stdout, "", "no output for a failed run");
    assert!(done.stderr.contains("error: the run failed: R01"), "{done}");
    assert!(done.stderr.contains("step `charge`"), "{done}");
    assert!(done.stderr.contains("step charge failed in "), "{done}");
    assert_eq!(
        downstream.bodies("/refuse").len(),
        1,
        "a 400 is not retried"
    );
}

#[test]
fn an_input_of_the_wrong_type_is_refused_before_anything_runs() {
    let (dir, downstream) = program("order.flow", PROGRAM);
    let done = run(
        dir.path(),
        &["run", "order.flow", "--input", r#"{"id": 7, "amount": 1}"#],
    );
    assert_eq!(done.code, Some(2), "{done}");
    assert!(
        done.stderr
            .contains("error: the input does not have the type of `order`'s input: at `$.id`: expected `string`"),
        "{done}"
    );

    let done = run(dir.path(), &["run", "order.flow", "--input", "{not json"]);
    assert_eq!(done.code, Some(2), "{done}");
    assert!(done.stderr.contains("--input is not valid JSON"), "{done}");

    let done = run(dir.path(), &["run", "order.flow"]);
    assert_eq!(done.code, Some(2), "{done}");
    assert!(
        done.stderr
            .contains("workflow `order` takes an input of type"),
        "{done}"
    );
    assert!(downstream.requests().is_empty());
}

#[test]
fn several_workflows_need_a_name_and_the_error_lists_them() {
    let (dir, downstream) = program("both.flow", &format!("{PROGRAM}\n{FAILING}"));
    let done = run(
        dir.path(),
        &["run", "both.flow", "--input", r#"{"id": "x"}"#],
    );
    assert_eq!(done.code, Some(2), "{done}");
    assert!(
        done.stderr
            .contains("several workflows: `order`, `refund`; choose one with --workflow NAME"),
        "{done}"
    );

    let done = run(
        dir.path(),
        &["run", "both.flow", "--workflow", "nope", "--input", "{}"],
    );
    assert_eq!(done.code, Some(2), "{done}");
    assert!(
        done.stderr
            .contains("no workflow `nope`; the program has `order`, `refund`"),
        "{done}"
    );

    let done = run(
        dir.path(),
        &[
            "run",
            "both.flow",
            "--workflow",
            "order",
            "--input",
            r#"{"id": "o-9", "amount": 0}"#,
        ],
    );
    assert_eq!(done.code, Some(0), "{done}");
    assert!(downstream.bodies("/refuse").is_empty());
}

#[test]
fn a_program_with_errors_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    support::write(
        dir.path(),
        "bad.flow",
        "workflow w(x: { id: string }) {\n  let y: int = \"no\"\n}\n",
    );
    let done = run(
        dir.path(),
        &["run", "bad.flow", "--input", r#"{"id": "a"}"#],
    );
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("] Error:"), "{done}");
    assert!(done.stderr.contains("nothing run"), "{done}");
}

#[test]
fn secrets_come_from_the_vault_of_the_database() {
    let source = r#"
workflow order(order: { id: string, amount: int }) -> { seen: string } {
  step notify = http POST "BASE/notify" {
    headers: { "X-Api-Key": secrets.NOTIFY_KEY }
    json: { id: order.id }
  } -> { seen: string }
  return { seen: notify.body.seen }
}
"#;
    let (dir, downstream) = program("order.flow", source);
    let input = r#"{"id": "o-1", "amount": 1}"#;
    let done = run(dir.path(), &["run", "order.flow", "--input", input]);
    assert_eq!(done.code, Some(2), "{done}");
    assert!(
        done.stderr.contains(
            "workflow `order` uses secret `NOTIFY_KEY`, and a temporary database has none"
        ),
        "{done}"
    );

    let done = run(
        dir.path(),
        &["run", "order.flow", "--input", input, "--db", "dev.db"],
    );
    assert_eq!(done.code, Some(2), "{done}");
    assert!(
        done.stderr.contains(
            "secret `NOTIFY_KEY` is not in the vault of dev.db; set it with \
             `flowc secrets set NOTIFY_KEY --db dev.db`"
        ),
        "{done}"
    );
    assert!(downstream.requests().is_empty());

    let done = run_with_stdin(
        dir.path(),
        &["secrets", "set", "NOTIFY_KEY", "--db", "dev.db"],
        "k-123",
    );
    assert_eq!(done.code, Some(0), "{done}");
    let done = run(
        dir.path(),
        &["run", "order.flow", "--input", input, "--db", "dev.db"],
    );
    assert_eq!(done.code, Some(0), "{done}");
    assert!(!done.stderr.contains("k-123"), "{done}");
    assert_eq!(downstream.bodies("/notify").len(), 1);
}
