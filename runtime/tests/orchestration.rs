//! The orchestration core end to end (issue 6): timers, loops and `parallel`,
//! child runs, `max_concurrency`, the run's `timeout`, handles that time out,
//! events (listeners and correlated waits), the context store, pause and resume.
//!
//! Every test runs the whole server stack (`common::harness`) on a [`TestClock`]
//! that moves only when the test advances it, against a recording HTTP server on
//! loopback. Nothing asserts on wall time: the tests poll the store for the
//! dispatcher's progress, each poll bounded by [`POLL`].
//!
//! The checker types a `catch` binding as `{ kind, message, step?, status? }`
//! (SPEC §6.16) while the runtime's error value also carries its `code`; the
//! workflows here read the code through `json` (`let raw: json = e`).

#![allow(clippy::unwrap_used)]

mod common;

use common::harness::{Harness, eventually};
use common::{Recorded, Reply, Server};
use flowc_runtime::clock::{Millis, TestClock};
use flowc_runtime::store::{RunDetail, RunOutcome, RunStatus, Store, WaitKind, WaitStatus};
use serde_json::{Value as Json, json};
use std::sync::Arc;
use std::time::Duration;

const START: Millis = 1_700_000_000_000;
const MINUTE: Millis = 60_000;
const HOUR: Millis = 60 * MINUTE;

/// The stack on a new clock at [`START`] with `source` deployed, every `BASE`
/// in it replaced by the base URL of a recording server that answers with
/// `reply`: the clock, the server and the stack.
async fn stack(
    reply: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    source: &str,
) -> (TestClock, Server, Harness) {
    let clock = TestClock::new(START);
    let server = Server::start(reply).await;
    let h = Harness::builder()
        .clock(Arc::new(clock.clone()))
        .program(&source.replace("BASE", &server.base()))
        .build()
        .await;
    (clock, server, h)
}

/// Stops the stack and starts another on its database (and on `clock`): the
/// server, dispatcher and engine go, the database stays.
async fn restart(h: Harness, clock: &TestClock) -> Harness {
    let dir = h.shut_down().await;
    Harness::builder()
        .clock(Arc::new(clock.clone()))
        .random_ids()
        .reuse(dir)
        .build()
        .await
}

/// [`stack`] with a downstream that answers 200 `{}` to everything.
async fn ok_stack(source: &str) -> (TestClock, Server, Harness) {
    stack(|_, _| Reply::json(200, json!({})), source).await
}

/// Moves `clock` on by `by` milliseconds.
fn advance(clock: &TestClock, by: Millis) {
    clock.advance(Duration::from_millis(u64::try_from(by).unwrap()));
}

/// Moves `clock` on to 1 ms before `by` has passed and checks the run still
/// waits there (a wrongly early timeout is given 50 ms of wall time to fire),
/// then on by that last millisecond.
async fn advance_past(h: &Harness, clock: &TestClock, run: &str, by: Millis) {
    advance(clock, by - 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(h.detail(run).await.run.status, RunStatus::Waiting);
    advance(clock, 1);
}

/// Polls until `count` runs of `workflow` have `status`.
async fn until_count(h: &Harness, workflow: &str, status: RunStatus, count: usize) {
    h.runs_until(workflow, Some(status), |runs| runs.len() == count)
        .await;
}

/// The run's error code, when it failed.
fn error_code(detail: &RunDetail) -> Option<&str> {
    detail.run.error.as_ref()?.get("code")?.as_str()
}

/// How many journal entries the run has at `path` (one per attempt).
fn entries(detail: &RunDetail, path: &str) -> usize {
    detail.steps.iter().filter(|step| step.path == path).count()
}

// ------------------------------------------------------------------ timers

const SLEEPER: &str = r#"
workflow sleeper(d: duration, n: int) -> int {
  on manual
  step nap = wait d
  step woke = http POST "BASE/woke" { json: { n: n } }
  return n
}
"#;

/// Run `i`'s wait: 86.4 s × (i + 1), so the 1,000 of them spread over 24 hours
/// and some end exactly on an hour.
fn nap_of(i: usize) -> Millis {
    86_400 * (i64::try_from(i).unwrap() + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_timers_over_a_day_each_wake_once_across_a_restart() {
    const RUNS: usize = 1000;
    let (clock, server, mut h) = ok_stack(SLEEPER).await;
    let mut runs = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        runs.push(
            h.start_run("sleeper", json!({ "d": nap_of(i), "n": i }))
                .await,
        );
    }
    until_count(&h, "sleeper", RunStatus::Waiting, RUNS).await;
    assert_eq!(server.count("/woke"), 0);

    for hour in 1..=24 {
        if hour == 13 {
            // A restart: the server, dispatcher and engine go; the database stays.
            h = restart(h, &clock).await;
        }
        advance(&clock, HOUR);
        let due = (0..RUNS).filter(|i| nap_of(*i) <= hour * HOUR).count();
        until_count(&h, "sleeper", RunStatus::Succeeded, due).await;
        assert_eq!(
            h.runs_of("sleeper", Some(RunStatus::Waiting)).await.len(),
            RUNS - due,
            "hour {hour}: the runs not yet due still wait"
        );
        assert_eq!(server.count("/woke"), due, "hour {hour}");
    }

    for (i, run) in runs.iter().enumerate() {
        let detail = h.detail(run).await;
        assert_eq!(detail.run.status, RunStatus::Succeeded, "{detail:?}");
        assert_eq!(detail.run.output, Some(json!(i)));
        assert_eq!(entries(&detail, "nap"), 1, "{detail:?}");
        assert_eq!(entries(&detail, "woke"), 1, "{detail:?}");
        assert!(
            detail.steps.iter().all(|step| step.attempt == 1),
            "{detail:?}"
        );
        // Woken by the first hour at or after its deadline, not before.
        let [nap] = detail.waits.as_slice() else {
            panic!("one wait: {detail:?}");
        };
        assert_eq!(nap.kind, WaitKind::Timer);
        assert_eq!(nap.status, WaitStatus::Resolved);
        assert_eq!(nap.deadline, Some(START + nap_of(i)));
        let woke_at = START + (nap_of(i) + HOUR - 1) / HOUR * HOUR;
        assert_eq!(nap.resolved_at, Some(woke_at), "run {i}");
        assert_eq!(server.count_key(&format!("{run}/woke")), 1, "run {i}");
    }
    let mut seen: Vec<i64> = server
        .requests()
        .iter()
        .map(|request| request.json()["n"].as_i64().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..1000).collect::<Vec<i64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_until_a_past_time_does_not_park() {
    let (_clock, server, h) = ok_stack(
        r#"
workflow late(t: time) -> int {
  on manual
  step until_then = wait until t
  step after = http POST "BASE/after"
  return 1
}
"#,
    )
    .await;
    let run = h
        .start_run("late", json!(flowc_runtime::clock::format_ms(START - HOUR)))
        .await;
    let detail = h.until_status(&run, RunStatus::Succeeded).await;
    assert!(detail.waits.is_empty(), "{detail:?}");
    assert_eq!(entries(&detail, "until_then"), 1);
    assert_eq!(server.count("/after"), 1);
}

// ------------------------------------------------------------------ fan-out

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_for_loop_runs_at_most_its_concurrency_and_collects_in_input_order() {
    // Later items are answered sooner, so completion order is not input order.
    let (_clock, server, h) = stack(
        |request: &Recorded, _| {
            let x = request.json()["x"].as_i64().unwrap();
            let mut reply = Reply::json(200, json!({ "x": x * 10 }));
            reply.delay = Some(Duration::from_millis(u64::try_from(200 - x * 15).unwrap()));
            reply
        },
        r#"
workflow fan(xs: [int]) -> [int] {
  on manual
  let results = for x in xs (concurrency: 3) {
    step c = http POST "BASE/slow" { json: { x: x } } -> { x: int }
    yield c.body.x
  }
  return results
}
"#,
    )
    .await;
    let run = h
        .start_run("fan", json!([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))
        .await;
    let detail = h.until_status(&run, RunStatus::Succeeded).await;
    assert_eq!(
        detail.run.output,
        Some(json!([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]))
    );
    assert_eq!(
        server.in_flight.most(),
        3,
        "never more than 3, and 3 at once"
    );
    assert_eq!(server.count("/slow"), 10);
    for index in 0..10 {
        let path = format!("xs[{index}].c");
        assert_eq!(entries(&detail, &path), 1, "{path}: {detail:?}");
        assert_eq!(server.count_key(&format!("{run}/{path}")), 1, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_runs_every_branch_and_a_failing_branch_is_catchable() {
    let (_clock, server, h) = stack(
        |request: &Recorded, _| {
            let mut reply = match request.path() {
                "/bad" => Reply::json(400, json!({ "error": "no" })),
                _ => Reply::json(200, json!({ "path": request.path() })),
            };
            reply.delay = Some(Duration::from_millis(100));
            reply
        },
        r#"
workflow both() -> string {
  on manual
  parallel {
    step a = http POST "BASE/a"
    step b = http POST "BASE/b"
  }
  return "${a.status} ${b.status}"
}

workflow one_fails() -> string {
  on manual
  try {
    parallel {
      step fine = http POST "BASE/fine"
      step bad = http POST "BASE/bad"
    }
    return "no error"
  } catch e {
    let raw: json = e
    return "${raw.code as string} ${e.step ?? "-"} ${e.status ?? 0}"
  }
}

workflow uncaught() -> string {
  on manual
  parallel {
    step fine2 = http POST "BASE/fine2"
    step bad2 = http POST "BASE/bad"
  }
  return "no error"
}
"#,
    )
    .await;
    let run = h.start_run("both", json!(null)).await;
    let detail = h.until_status(&run, RunStatus::Succeeded).await;
    assert_eq!(detail.run.output, Some(json!("200 200")));
    assert_eq!((server.count("/a"), server.count("/b")), (1, 1));
    assert_eq!(server.in_flight.most(), 2, "the branches ran at once");

    let run = h.start_run("one_fails", json!(null)).await;
    let detail = h.until_status(&run, RunStatus::Succeeded).await;
    assert_eq!(detail.run.output, Some(json!("R0105 bad 400")));
    assert_eq!(server.count("/fine"), 1);

    let run = h.start_run("uncaught", json!(null)).await;
    let detail = h.until_status(&run, RunStatus::Failed).await;
    assert_eq!(error_code(&detail), Some("R0105"), "{detail:?}");
    assert_eq!(detail.run.error.as_ref().unwrap()["step"], "bad2");
}

// ------------------------------------------------------------------ call

const FAMILY: &str = r#"
workflow child(n: int) -> int {
  return n * 10
}

workflow bad_child(n: int) -> int {
  fail "child ${n} says no"
}

workflow slow_child(n: int) -> int {
  step nap = wait 1h
  return n
}

workflow parent(n: int) -> int {
  on manual
  step c = call child(n)
  return c + 1
}

workflow catcher(n: int) -> string {
  on manual
  try {
    step c = call bad_child(n)
    return "no error"
  } catch e {
    let raw: json = e
    return "${raw.code as string}: ${e.message}"
  }
}

workflow waiting_parent(n: int) -> int {
  on manual
  step c = call slow_child(n)
  return c
}

workflow fan(xs: [int]) -> int {
  on manual
  let tens = for x in xs (concurrency: 2) {
    step each = call child(x)
    yield each
  }
  parallel {
    step one = call child(1)
    step two = call child(2)
  }
  return tens.sum() + one + two
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_returns_the_childs_result() {
    let (_clock, _server, h) = ok_stack(FAMILY).await;
    let run = h.start_run("parent", json!(4)).await;
    let detail = h.until_status(&run, RunStatus::Succeeded).await;
    assert_eq!(detail.run.output, Some(json!(41)));
    let children = h.runs_of("child", None).await;
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].parent.as_deref(), Some(run.as_str()));
    assert_eq!(children[0].output, Some(json!(40)));

    // Calls in loop iterations and parallel branches: one child each.
    let run = h.start_run("fan", json!([1, 2, 3])).await;
    let detail = h.until_status(&run, RunStatus::Succeeded).await;
    assert_eq!(detail.run.output, Some(json!(90)));
    assert_eq!(h.runs_of("child", None).await.len(), 1 + 3 + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_child_is_a_catchable_error_in_the_parent() {
    let (_clock, _server, h) = ok_stack(FAMILY).await;
    let run = h.start_run("catcher", json!(7)).await;
    let detail = h.until_status(&run, RunStatus::Succeeded).await;
    let output = detail.run.output.unwrap();
    let output = output.as_str().unwrap();
    assert!(output.starts_with("R0301: "), "{output}");
    assert!(output.contains("child 7 says no"), "{output}");
    let children = h.runs_of("bad_child", None).await;
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].status, RunStatus::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_parent_cancels_the_child_it_waits_for() {
    let (clock, _server, h) = ok_stack(FAMILY).await;
    let run = h.start_run("waiting_parent", json!(3)).await;
    h.parked_at(&run, "c").await;
    until_count(&h, "slow_child", RunStatus::Waiting, 1).await;
    let child = h.runs_of("slow_child", None).await.remove(0).id;
    h.parked_at(&child, "nap").await;

    h.engine.cancel(&run).await.unwrap();
    let parent = h.detail(&run).await;
    assert_eq!(parent.run.status, RunStatus::Cancelled);
    let child_detail = h.until_status(&child, RunStatus::Cancelled).await;
    assert!(
        child_detail
            .waits
            .iter()
            .all(|wait| wait.status == WaitStatus::Cancelled),
        "{child_detail:?}"
    );

    // The child's timer passing changes nothing.
    advance(&clock, 2 * HOUR);
    assert_eq!(h.engine.run(&child).await.unwrap(), RunOutcome::Cancelled);
    assert_eq!(h.detail(&child).await.run.status, RunStatus::Cancelled);
    assert_eq!(h.detail(&run).await.run.status, RunStatus::Cancelled);
}

// ------------------------------------------------------------------ settings

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrency_one_runs_twenty_runs_one_at_a_time_in_creation_order() {
    const RUNS: usize = 20;
    let (clock, server, h) = ok_stack(
        r#"
workflow serial(n: int) -> int {
  on manual
  settings { max_concurrency: 1 }
  step nap = wait 1m
  step hit = http POST "BASE/serial" { json: { n: n } }
  return n
}
"#,
    )
    .await;
    let mut runs = Vec::new();
    for n in 0..RUNS {
        runs.push(h.start_run("serial", json!(n)).await);
    }
    for (n, run) in runs.iter().enumerate() {
        // The next in creation order holds the one slot, and no other run has
        // begun.
        h.parked_at(run, "nap").await;
        for status in [RunStatus::Running, RunStatus::Waiting] {
            let busy: Vec<String> = h
                .runs_of("serial", Some(status))
                .await
                .into_iter()
                .map(|run| run.id)
                .collect();
            let expected: Vec<String> = match status {
                RunStatus::Waiting => vec![run.clone()],
                _ => Vec::new(),
            };
            assert_eq!(busy, expected, "while run {n} holds the slot");
        }
        assert_eq!(server.count("/serial"), n);
        advance(&clock, MINUTE);
        h.until_status(run, RunStatus::Succeeded).await;
    }
    let order: Vec<i64> = server
        .requests()
        .iter()
        .map(|request| request.json()["n"].as_i64().unwrap())
        .collect();
    assert_eq!(order, (0..20).collect::<Vec<i64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_is_freed_by_a_cancelled_or_timed_out_run_and_a_cancelled_run_leaves_the_queue() {
    let (clock, server, h) = ok_stack(
        r#"
workflow limited(d: duration, n: int) -> int {
  on manual
  settings { max_concurrency: 1  timeout: 1h }
  step nap = wait d
  step hit = http POST "BASE/hit" { json: { n: n } }
  return n
}
"#,
    )
    .await;
    let two_hours = json!(2 * HOUR);
    let a = h
        .start_run("limited", json!({ "d": two_hours, "n": 0 }))
        .await;
    h.parked_at(&a, "nap").await;
    let b = h
        .start_run("limited", json!({ "d": two_hours, "n": 1 }))
        .await;
    let c = h
        .start_run("limited", json!({ "d": two_hours, "n": 2 }))
        .await;
    // Queued: still pending, nothing journaled.
    eventually("b and c are queued", || async {
        h.engine.run(&b).await.unwrap() == RunOutcome::Waiting
            && h.engine.run(&c).await.unwrap() == RunOutcome::Waiting
    })
    .await;
    assert!(h.detail(&b).await.steps.is_empty());
    assert!(h.detail(&c).await.steps.is_empty());

    // The queued b leaves the queue; the holder a frees the slot for c.
    h.engine.cancel(&b).await.unwrap();
    h.engine.cancel(&a).await.unwrap();
    h.parked_at(&c, "nap").await;
    assert_eq!(h.detail(&b).await.run.status, RunStatus::Cancelled);
    assert!(h.detail(&b).await.steps.is_empty());

    // d, created half an hour later, gets the slot when c's timeout passes.
    advance(&clock, 30 * MINUTE);
    let d = h.start_run("limited", json!({ "d": MINUTE, "n": 3 })).await;
    eventually("d is queued", || async {
        h.engine.run(&d).await.unwrap() == RunOutcome::Waiting
    })
    .await;
    assert!(h.detail(&d).await.steps.is_empty());
    advance(&clock, 30 * MINUTE);
    let timed_out = h.until_status(&c, RunStatus::Failed).await;
    assert_eq!(error_code(&timed_out), Some("R0303"));
    h.parked_at(&d, "nap").await;
    advance(&clock, MINUTE);
    let done = h.until_status(&d, RunStatus::Succeeded).await;
    assert_eq!(done.run.output, Some(json!(3)));
    let hits: Vec<Json> = server.requests().iter().map(Recorded::json).collect();
    assert_eq!(hits, vec![json!({ "n": 3 })]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_timeout_fails_the_run_and_no_try_catches_it() {
    // The wait's duration is computed, so the static bound does not refuse it.
    let (clock, server, h) = ok_stack(
        r#"
workflow bounded(d: duration) -> string {
  on manual
  settings { timeout: 10m }
  try {
    step nap = wait d
  } catch e {
    step caught = http POST "BASE/caught"
    let raw: json = e
    return "caught ${raw.code as string}"
  }
  return "woke"
}
"#,
    )
    .await;
    let run = h.start_run("bounded", json!(HOUR)).await;
    h.parked_at(&run, "nap").await;
    advance_past(&h, &clock, &run, 10 * MINUTE).await;
    let detail = h.until_status(&run, RunStatus::Failed).await;
    assert_eq!(error_code(&detail), Some("R0303"), "{detail:?}");
    assert_eq!(detail.run.output, None);
    let nap = detail.waits.iter().find(|wait| wait.path == "nap").unwrap();
    assert_eq!(nap.status, WaitStatus::Cancelled);
    // Nothing runs on once the hour passes.
    advance(&clock, HOUR);
    assert!(matches!(
        h.engine.run(&run).await.unwrap(),
        RunOutcome::Failed(_)
    ));
    assert_eq!(server.count("/caught"), 0);
    assert_eq!(error_code(&h.detail(&run).await), Some("R0303"));
}

// ------------------------------------------------------------------ handles

const HANDLES: &str = r#"
workflow cb() -> string {
  on manual
  let handle = callback(timeout: 30m) -> { n: int }
  try {
    step x = await handle
    return "got ${x.n}"
  } catch e {
    let raw: json = e
    return raw.code as string
  }
}
"#;

/// The token in the URL of the callback handle journaled at `path`.
fn token_at(detail: &RunDetail, path: &str) -> String {
    let step = detail.steps.iter().find(|s| s.path == path).unwrap();
    let url = step.output.as_ref().unwrap()["url"].as_str().unwrap();
    url.rsplit('/').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_await_whose_callback_times_out_is_a_catchable_r0300() {
    let (clock, _server, h) = ok_stack(HANDLES).await;
    let run = h.start_run("cb", json!(null)).await;
    h.parked_at(&run, "handle").await;
    advance_past(&h, &clock, &run, 30 * MINUTE).await;
    let detail = h.until_status(&run, RunStatus::Succeeded).await;
    assert_eq!(detail.run.output, Some(json!("R0300")));
    // The token is gone with its wait.
    let token = token_at(&detail, "handle");
    assert!(matches!(
        h.engine.resolve_callback(&token, json!({ "n": 1 })).await,
        Err(flowc_runtime::engine::HandleError::Gone)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_delivered_in_time_resumes_the_run_with_its_body() {
    let (clock, _server, h) = ok_stack(HANDLES).await;
    let run = h.start_run("cb", json!(null)).await;
    let parked = h.parked_at(&run, "handle").await;
    let token = token_at(&parked, "handle");
    // A body of the wrong type leaves the token unused.
    assert!(matches!(
        h.engine
            .resolve_callback(&token, json!({ "n": "seven" }))
            .await,
        Err(flowc_runtime::engine::HandleError::Mismatch(_))
    ));
    advance(&clock, 29 * MINUTE);
    assert_eq!(
        h.engine
            .resolve_callback(&token, json!({ "n": 7 }))
            .await
            .unwrap(),
        run
    );
    let detail = h.until_status(&run, RunStatus::Succeeded).await;
    assert_eq!(detail.run.output, Some(json!("got 7")));
    assert!(matches!(
        h.engine.resolve_callback(&token, json!({ "n": 8 })).await,
        Err(flowc_runtime::engine::HandleError::Gone)
    ));
}

// ------------------------------------------------------------------ events

const EMITTER: &str = r#"
event ping = { n: int }

workflow listener(p: { n: int }) {
  on event ping
  step heard = http POST "BASE/heard" { json: { n: p.n } }
}

workflow emitter(n: int) -> int {
  on manual
  emit ping { n: n }
  emit ping { n: n + 1 }
  let go = callback(timeout: 1h) -> { ok: bool }
  step went = await go
  step after = http POST "BASE/after"
  return n
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_emit_starts_its_listener_once_through_replays_restarts_and_redeliveries() {
    let (clock, server, h) = ok_stack(EMITTER).await;
    let run = h.start_run("emitter", json!(1)).await;
    h.parked_at(&run, "go").await;
    until_count(&h, "listener", RunStatus::Succeeded, 2).await;

    // The emitting run interpreted again from the top (what a crash leads to).
    assert_eq!(h.engine.run(&run).await.unwrap(), RunOutcome::Waiting);
    // Each stored event delivered a second time.
    let events = h.store.recent_events("event:ping", 0, 10).await.unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    for event in &events {
        h.handle.dispatcher().deliver(event).await.unwrap();
    }
    assert_eq!(h.runs_of("listener", None).await.len(), 2);

    // A restart, then the run goes on and ends.
    let h = restart(h, &clock).await;
    let token = token_at(&h.detail(&run).await, "go");
    h.engine
        .resolve_callback(&token, json!({ "ok": true }))
        .await
        .unwrap();
    h.until_status(&run, RunStatus::Succeeded).await;
    assert_eq!(
        h.store
            .recent_events("event:ping", 0, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    let listeners = h.runs_of("listener", None).await;
    assert_eq!(listeners.len(), 2);
    let mut heard: Vec<i64> = server
        .requests()
        .iter()
        .filter(|request| request.path() == "/heard")
        .map(|request| request.json()["n"].as_i64().unwrap())
        .collect();
    heard.sort_unstable();
    assert_eq!(heard, vec![1, 2]);
    assert_eq!(server.count("/after"), 1);
}

const PAYER: &str = r#"
event order_paid = { id: string, amount: int }

workflow payer(id: string) -> int {
  on manual
  step paid = await event order_paid as x where x.id == id (timeout: 1h)
  return paid.amount
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correlated_event_wakes_only_its_run_and_never_an_earlier_event() {
    let (clock, _server, h) = ok_stack(PAYER).await;
    // Before anyone waits.
    let early = h
        .store
        .store_event("event:order_paid", json!({ "id": "a", "amount": 1 }))
        .await
        .unwrap();
    h.delivered().await;
    advance(&clock, 1000);

    let a = h.start_run("payer", json!("a")).await;
    let b = h.start_run("payer", json!("b")).await;
    h.parked_at(&a, "paid").await;
    h.parked_at(&b, "paid").await;
    // Delivered again, the early event still finds no one.
    h.handle.dispatcher().deliver(&early).await.unwrap();
    assert_eq!(h.detail(&a).await.run.status, RunStatus::Waiting);

    h.store
        .store_event("event:order_paid", json!({ "id": "a", "amount": 2 }))
        .await
        .unwrap();
    let done = h.until_status(&a, RunStatus::Succeeded).await;
    assert_eq!(done.run.output, Some(json!(2)));
    h.delivered().await;
    let other = h.detail(&b).await;
    assert_eq!(other.run.status, RunStatus::Waiting);
    assert_eq!(other.waits[0].status, WaitStatus::Open);

    // b's own event wakes it; then its timeout can no longer fire.
    h.store
        .store_event("event:order_paid", json!({ "id": "b", "amount": 3 }))
        .await
        .unwrap();
    let done = h.until_status(&b, RunStatus::Succeeded).await;
    assert_eq!(done.run.output, Some(json!(3)));

    // A third run's wait times out after its hour.
    let c = h.start_run("payer", json!("c")).await;
    h.parked_at(&c, "paid").await;
    advance(&clock, HOUR);
    let failed = h.until_status(&c, RunStatus::Failed).await;
    assert_eq!(error_code(&failed), Some("R0300"));
}

// ------------------------------------------------------------------ context

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_set_by_one_run_is_read_by_the_next_and_null_removes_it() {
    let (_clock, _server, h) = ok_stack(
        r#"
workflow ctx(v: json) -> json {
  on manual
  let before = context.k
  set context.k = v
  return before
}
"#,
    )
    .await;
    // Each run's input, what it read before setting it, and what it leaves.
    for (input, before, left) in [
        (json!(5), Json::Null, Some(json!(5))),
        (Json::Null, json!(5), None),
        (
            json!({ "deep": [1] }),
            Json::Null,
            Some(json!({ "deep": [1] })),
        ),
    ] {
        let run = h.start_run("ctx", input).await;
        let detail = h.until_status(&run, RunStatus::Succeeded).await;
        assert_eq!(detail.run.output, Some(before));
        let context = h.store.get_context("ctx").await.unwrap();
        assert_eq!(context.get("k"), left.as_ref(), "{context:?}");
    }
}

// ------------------------------------------------------------------ pause

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_run_starts_no_step_until_resumed() {
    let (clock, server, h) = stack(
        |request: &Recorded, _| {
            let mut reply = Reply::json(200, json!({}));
            if request.path() == "/one" {
                // Long enough for the test to pause the run while the step is in
                // flight.
                reply.delay = Some(Duration::from_secs(1));
            }
            reply
        },
        r#"
workflow steps() -> int {
  on manual
  step one = http POST "BASE/one"
  step nap = wait 1m
  step two = http POST "BASE/two"
  return 2
}
"#,
    )
    .await;
    let run = h.start_run("steps", json!(null)).await;
    eventually("step one is in flight", || async {
        server.count("/one") == 1
    })
    .await;
    h.engine.pause(&run).await.unwrap();
    // The step in flight finishes; the next one does not start.
    eventually("step one finished", || async {
        let detail = h.detail(&run).await;
        detail.run.status == RunStatus::Pending
            && detail.steps.iter().any(|step| {
                step.path == "one" && step.status == flowc_runtime::store::StepStatus::Succeeded
            })
    })
    .await;
    let paused = h.detail(&run).await;
    assert!(paused.run.paused);
    assert_eq!(entries(&paused, "nap"), 0, "{paused:?}");
    assert!(paused.waits.is_empty());
    // Interpreting it changes nothing while it is paused.
    assert_eq!(h.engine.run(&run).await.unwrap(), RunOutcome::Waiting);
    assert_eq!(entries(&h.detail(&run).await, "nap"), 0);

    h.engine.resume(&run).await.unwrap();
    h.parked_at(&run, "nap").await;
    // Paused while parked: the timer fires, but the run starts nothing.
    h.engine.pause(&run).await.unwrap();
    advance(&clock, MINUTE);
    eventually("the timer fired", || async {
        h.detail(&run).await.waits[0].status == WaitStatus::Resolved
    })
    .await;
    assert_eq!(h.engine.run(&run).await.unwrap(), RunOutcome::Waiting);
    let still = h.detail(&run).await;
    assert_eq!(entries(&still, "two"), 0, "{still:?}");
    assert_ne!(still.run.status, RunStatus::Succeeded);
    assert_eq!(server.count("/two"), 0);

    h.engine.resume(&run).await.unwrap();
    let done = h.until_status(&run, RunStatus::Succeeded).await;
    assert_eq!(done.run.output, Some(json!(2)));
    assert!(!done.run.paused);
    assert_eq!((server.count("/one"), server.count("/two")), (1, 1));
    assert_eq!(entries(&done, "one"), 1);
}
