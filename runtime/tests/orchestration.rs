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

use common::harness::Harness;
use common::{Recorded, Reply, Server};
use flowc_runtime::clock::{Millis, TestClock};
use flowc_runtime::store::{
    NewRun, Page, RunDetail, RunFilter, RunOutcome, RunStatus, Store, WaitKind, WaitStatus,
};
use serde_json::{Value as Json, json};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

const START: Millis = 1_700_000_000_000;
const MINUTE: Millis = 60_000;
const HOUR: Millis = 60 * MINUTE;

/// The longest any poll waits for the dispatcher (wall time; only a bound).
const POLL: Duration = Duration::from_secs(60);

/// The stack with `source` deployed (every `BASE` replaced by `server`'s base
/// URL), on `clock`.
async fn stack(clock: &TestClock, server: &Server, source: &str) -> Harness {
    Harness::builder()
        .clock(Arc::new(clock.clone()))
        .program(&source.replace("BASE", &server.base()))
        .build()
        .await
}

/// A downstream that answers 200 `{}` to everything.
async fn ok_server() -> Server {
    Server::start(|_, _| Reply::json(200, json!({}))).await
}

/// Stores a run of `workflow` and hands it to the dispatcher.
async fn start(h: &Harness, workflow: &str, input: Json) -> String {
    let deployment = h.store.active_deployments().await.unwrap()[0].id.clone();
    let started = h
        .store
        .start_run(NewRun {
            deployment,
            workflow: workflow.into(),
            input,
            idempotency_key: None,
            trigger: "api".into(),
            delivery: None,
            webhook: None,
            replay_of: None,
        })
        .await
        .unwrap();
    h.handle.dispatcher().start(started.run.clone());
    started.run
}

/// Polls until `check` holds; fails with `what` when it never does.
#[allow(
    clippy::disallowed_methods,
    reason = "the wall-clock deadline only bounds the polling loop"
)]
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + POLL;
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn detail(h: &Harness, run: &str) -> RunDetail {
    h.store.get_run(run).await.unwrap().unwrap()
}

/// Polls until the run has status `want`.
async fn status_soon(h: &Harness, run: &str, want: RunStatus) -> RunDetail {
    eventually(&format!("run {run} is {want:?}"), || async {
        detail(h, run).await.run.status == want
    })
    .await;
    detail(h, run).await
}

/// Polls until the run is parked on an open wait at `path`.
async fn parked_at(h: &Harness, run: &str, path: &str) -> RunDetail {
    eventually(&format!("run {run} waits at `{path}`"), || async {
        let detail = detail(h, run).await;
        detail.run.status == RunStatus::Waiting
            && detail
                .waits
                .iter()
                .any(|wait| wait.path == path && wait.status == WaitStatus::Open)
    })
    .await;
    detail(h, run).await
}

/// Every run of `workflow` (with `status`, if given), oldest first.
async fn runs_of(
    h: &Harness,
    workflow: &str,
    status: Option<RunStatus>,
) -> Vec<flowc_runtime::store::Run> {
    let mut runs = Vec::new();
    let mut after = None;
    loop {
        let page = h
            .store
            .list_runs(
                RunFilter {
                    workflow: Some(workflow.into()),
                    status,
                    deployment: None,
                },
                Page { limit: 100, after },
            )
            .await
            .unwrap();
        runs.extend(page.runs);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    runs.reverse();
    runs
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
    let clock = TestClock::new(START);
    let server = ok_server().await;
    let mut h = stack(&clock, &server, SLEEPER).await;
    let mut runs = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        runs.push(start(&h, "sleeper", json!({ "d": nap_of(i), "n": i })).await);
    }
    eventually("every run parks", || async {
        runs_of(&h, "sleeper", Some(RunStatus::Waiting)).await.len() == RUNS
    })
    .await;
    assert_eq!(server.count("/woke"), 0);

    for hour in 1..=24 {
        if hour == 13 {
            // A restart: the server, dispatcher and engine go; the database stays.
            let dir = h.shut_down().await;
            h = Harness::builder()
                .clock(Arc::new(clock.clone()))
                .random_ids()
                .reuse(dir)
                .build()
                .await;
        }
        clock.advance(Duration::from_millis(u64::try_from(HOUR).unwrap()));
        let due = (0..RUNS).filter(|i| nap_of(*i) <= hour * HOUR).count();
        eventually(
            &format!("{due} runs succeeded after hour {hour}"),
            || async {
                runs_of(&h, "sleeper", Some(RunStatus::Succeeded))
                    .await
                    .len()
                    == due
            },
        )
        .await;
        assert_eq!(
            runs_of(&h, "sleeper", Some(RunStatus::Waiting)).await.len(),
            RUNS - due,
            "hour {hour}: the runs not yet due still wait"
        );
        assert_eq!(server.count("/woke"), due, "hour {hour}");
    }

    for (i, run) in runs.iter().enumerate() {
        let detail = detail(&h, run).await;
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
    let clock = TestClock::new(START);
    let server = ok_server().await;
    let h = stack(
        &clock,
        &server,
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
    let run = start(
        &h,
        "late",
        json!(flowc_runtime::clock::format_ms(START - HOUR)),
    )
    .await;
    let detail = status_soon(&h, &run, RunStatus::Succeeded).await;
    assert!(detail.waits.is_empty(), "{detail:?}");
    assert_eq!(entries(&detail, "until_then"), 1);
    assert_eq!(server.count("/after"), 1);
}

// ------------------------------------------------------------------ fan-out

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_for_loop_runs_at_most_its_concurrency_and_collects_in_input_order() {
    let clock = TestClock::new(START);
    // Later items are answered sooner, so completion order is not input order.
    let server = Server::start(|request: &Recorded, _| {
        let x = request.json()["x"].as_i64().unwrap();
        let mut reply = Reply::json(200, json!({ "x": x * 10 }));
        reply.delay = Some(Duration::from_millis(u64::try_from(200 - x * 15).unwrap()));
        reply
    })
    .await;
    let h = stack(
        &clock,
        &server,
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
    let run = start(&h, "fan", json!([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])).await;
    let detail = status_soon(&h, &run, RunStatus::Succeeded).await;
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
    let clock = TestClock::new(START);
    let server = Server::start(|request: &Recorded, _| {
        let mut reply = match request.path() {
            "/bad" => Reply::json(400, json!({ "error": "no" })),
            _ => Reply::json(200, json!({ "path": request.path() })),
        };
        reply.delay = Some(Duration::from_millis(100));
        reply
    })
    .await;
    let h = stack(
        &clock,
        &server,
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
    let run = start(&h, "both", json!(null)).await;
    let detail = status_soon(&h, &run, RunStatus::Succeeded).await;
    assert_eq!(detail.run.output, Some(json!("200 200")));
    assert_eq!((server.count("/a"), server.count("/b")), (1, 1));
    assert_eq!(server.in_flight.most(), 2, "the branches ran at once");

    let run = start(&h, "one_fails", json!(null)).await;
    let detail = status_soon(&h, &run, RunStatus::Succeeded).await;
    assert_eq!(detail.run.output, Some(json!("R0105 bad 400")));
    assert_eq!(server.count("/fine"), 1);

    let run = start(&h, "uncaught", json!(null)).await;
    let detail = status_soon(&h, &run, RunStatus::Failed).await;
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
    let clock = TestClock::new(START);
    let server = ok_server().await;
    let h = stack(&clock, &server, FAMILY).await;
    let run = start(&h, "parent", json!(4)).await;
    let detail = status_soon(&h, &run, RunStatus::Succeeded).await;
    assert_eq!(detail.run.output, Some(json!(41)));
    let children = runs_of(&h, "child", None).await;
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].parent.as_deref(), Some(run.as_str()));
    assert_eq!(children[0].output, Some(json!(40)));

    // Calls in loop iterations and parallel branches: one child each.
    let run = start(&h, "fan", json!([1, 2, 3])).await;
    let detail = status_soon(&h, &run, RunStatus::Succeeded).await;
    assert_eq!(detail.run.output, Some(json!(90)));
    assert_eq!(runs_of(&h, "child", None).await.len(), 1 + 3 + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_child_is_a_catchable_error_in_the_parent() {
    let clock = TestClock::new(START);
    let server = ok_server().await;
    let h = stack(&clock, &server, FAMILY).await;
    let run = start(&h, "catcher", json!(7)).await;
    let detail = status_soon(&h, &run, RunStatus::Succeeded).await;
    let output = detail.run.output.unwrap();
    let output = output.as_str().unwrap();
    assert!(output.starts_with("R0301: "), "{output}");
    assert!(output.contains("child 7 says no"), "{output}");
    let children = runs_of(&h, "bad_child", None).await;
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].status, RunStatus::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_parent_cancels_the_child_it_waits_for() {
    let clock = TestClock::new(START);
    let server = ok_server().await;
    let h = stack(&clock, &server, FAMILY).await;
    let run = start(&h, "waiting_parent", json!(3)).await;
    parked_at(&h, &run, "c").await;
    eventually("the child parks", || async {
        runs_of(&h, "slow_child", Some(RunStatus::Waiting))
            .await
            .len()
            == 1
    })
    .await;
    let child = runs_of(&h, "slow_child", None).await.remove(0).id;
    parked_at(&h, &child, "nap").await;

    h.engine.cancel(&run).await.unwrap();
    let parent = detail(&h, &run).await;
    assert_eq!(parent.run.status, RunStatus::Cancelled);
    let child_detail = status_soon(&h, &child, RunStatus::Cancelled).await;
    assert!(
        child_detail
            .waits
            .iter()
            .all(|wait| wait.status == WaitStatus::Cancelled),
        "{child_detail:?}"
    );

    // The child's timer passing changes nothing.
    clock.advance(Duration::from_millis(u64::try_from(2 * HOUR).unwrap()));
    assert_eq!(h.engine.run(&child).await.unwrap(), RunOutcome::Cancelled);
    assert_eq!(detail(&h, &child).await.run.status, RunStatus::Cancelled);
    assert_eq!(detail(&h, &run).await.run.status, RunStatus::Cancelled);
}

// ------------------------------------------------------------------ settings

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrency_one_runs_twenty_runs_one_at_a_time_in_creation_order() {
    const RUNS: usize = 20;
    let clock = TestClock::new(START);
    let server = ok_server().await;
    let h = stack(
        &clock,
        &server,
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
        runs.push(start(&h, "serial", json!(n)).await);
    }
    for (n, run) in runs.iter().enumerate() {
        // The next in creation order holds the one slot, and no other run has
        // begun.
        parked_at(&h, run, "nap").await;
        for status in [RunStatus::Running, RunStatus::Waiting] {
            let busy: Vec<String> = runs_of(&h, "serial", Some(status))
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
        clock.advance(Duration::from_millis(u64::try_from(MINUTE).unwrap()));
        status_soon(&h, run, RunStatus::Succeeded).await;
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
    let clock = TestClock::new(START);
    let server = ok_server().await;
    let h = stack(
        &clock,
        &server,
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
    let a = start(&h, "limited", json!({ "d": two_hours, "n": 0 })).await;
    parked_at(&h, &a, "nap").await;
    let b = start(&h, "limited", json!({ "d": two_hours, "n": 1 })).await;
    let c = start(&h, "limited", json!({ "d": two_hours, "n": 2 })).await;
    // Queued: still pending, nothing journaled.
    eventually("b and c are queued", || async {
        h.engine.run(&b).await.unwrap() == RunOutcome::Waiting
            && h.engine.run(&c).await.unwrap() == RunOutcome::Waiting
    })
    .await;
    assert!(detail(&h, &b).await.steps.is_empty());
    assert!(detail(&h, &c).await.steps.is_empty());

    // The queued b leaves the queue; the holder a frees the slot for c.
    h.engine.cancel(&b).await.unwrap();
    h.engine.cancel(&a).await.unwrap();
    parked_at(&h, &c, "nap").await;
    assert_eq!(detail(&h, &b).await.run.status, RunStatus::Cancelled);
    assert!(detail(&h, &b).await.steps.is_empty());

    // d, created half an hour later, gets the slot when c's timeout passes.
    clock.advance(Duration::from_millis(u64::try_from(30 * MINUTE).unwrap()));
    let d = start(&h, "limited", json!({ "d": MINUTE, "n": 3 })).await;
    eventually("d is queued", || async {
        h.engine.run(&d).await.unwrap() == RunOutcome::Waiting
    })
    .await;
    assert!(detail(&h, &d).await.steps.is_empty());
    clock.advance(Duration::from_millis(u64::try_from(30 * MINUTE).unwrap()));
    let timed_out = status_soon(&h, &c, RunStatus::Failed).await;
    assert_eq!(error_code(&timed_out), Some("R0303"));
    parked_at(&h, &d, "nap").await;
    clock.advance(Duration::from_millis(u64::try_from(MINUTE).unwrap()));
    let done = status_soon(&h, &d, RunStatus::Succeeded).await;
    assert_eq!(done.run.output, Some(json!(3)));
    let hits: Vec<Json> = server.requests().iter().map(Recorded::json).collect();
    assert_eq!(hits, vec![json!({ "n": 3 })]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_timeout_fails_the_run_and_no_try_catches_it() {
    let clock = TestClock::new(START);
    let server = ok_server().await;
    // The wait's duration is computed, so the static bound does not refuse it.
    let h = stack(
        &clock,
        &server,
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
    let run = start(&h, "bounded", json!(HOUR)).await;
    parked_at(&h, &run, "nap").await;
    clock.advance(Duration::from_millis(
        u64::try_from(10 * MINUTE - 1).unwrap(),
    ));
    // Give a wrongly early timeout every chance to fire.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(detail(&h, &run).await.run.status, RunStatus::Waiting);
    clock.advance(Duration::from_millis(1));
    let detail = status_soon(&h, &run, RunStatus::Failed).await;
    assert_eq!(error_code(&detail), Some("R0303"), "{detail:?}");
    assert_eq!(detail.run.output, None);
    let nap = detail.waits.iter().find(|wait| wait.path == "nap").unwrap();
    assert_eq!(nap.status, WaitStatus::Cancelled);
    // Nothing runs on once the hour passes.
    clock.advance(Duration::from_millis(u64::try_from(HOUR).unwrap()));
    assert!(matches!(
        h.engine.run(&run).await.unwrap(),
        RunOutcome::Failed(_)
    ));
    assert_eq!(server.count("/caught"), 0);
    assert_eq!(error_code(&self::detail(&h, &run).await), Some("R0303"));
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
    let clock = TestClock::new(START);
    let server = ok_server().await;
    let h = stack(&clock, &server, HANDLES).await;
    let run = start(&h, "cb", json!(null)).await;
    parked_at(&h, &run, "handle").await;
    clock.advance(Duration::from_millis(
        u64::try_from(30 * MINUTE - 1).unwrap(),
    ));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(detail(&h, &run).await.run.status, RunStatus::Waiting);
    clock.advance(Duration::from_millis(1));
    let detail = status_soon(&h, &run, RunStatus::Succeeded).await;
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
    let clock = TestClock::new(START);
    let server = ok_server().await;
    let h = stack(&clock, &server, HANDLES).await;
    let run = start(&h, "cb", json!(null)).await;
    let parked = parked_at(&h, &run, "handle").await;
    let token = token_at(&parked, "handle");
    // A body of the wrong type leaves the token unused.
    assert!(matches!(
        h.engine
            .resolve_callback(&token, json!({ "n": "seven" }))
            .await,
        Err(flowc_runtime::engine::HandleError::Mismatch(_))
    ));
    clock.advance(Duration::from_millis(u64::try_from(29 * MINUTE).unwrap()));
    assert_eq!(
        h.engine
            .resolve_callback(&token, json!({ "n": 7 }))
            .await
            .unwrap(),
        run
    );
    let detail = status_soon(&h, &run, RunStatus::Succeeded).await;
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
    let clock = TestClock::new(START);
    let server = ok_server().await;
    let h = stack(&clock, &server, EMITTER).await;
    let run = start(&h, "emitter", json!(1)).await;
    parked_at(&h, &run, "go").await;
    eventually("both listeners ran", || async {
        runs_of(&h, "listener", Some(RunStatus::Succeeded))
            .await
            .len()
            == 2
    })
    .await;

    // The emitting run interpreted again from the top (what a crash leads to).
    assert_eq!(h.engine.run(&run).await.unwrap(), RunOutcome::Waiting);
    // Each stored event delivered a second time.
    let events = h.store.recent_events("event:ping", 0, 10).await.unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    for event in &events {
        h.handle.dispatcher().deliver(event).await.unwrap();
    }
    assert_eq!(runs_of(&h, "listener", None).await.len(), 2);

    // A restart, then the run goes on and ends.
    let dir = h.shut_down().await;
    let h = Harness::builder()
        .clock(Arc::new(clock.clone()))
        .random_ids()
        .reuse(dir)
        .build()
        .await;
    let token = token_at(&detail(&h, &run).await, "go");
    h.engine
        .resolve_callback(&token, json!({ "ok": true }))
        .await
        .unwrap();
    status_soon(&h, &run, RunStatus::Succeeded).await;
    assert_eq!(
        h.store
            .recent_events("event:ping", 0, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    let listeners = runs_of(&h, "listener", None).await;
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
    let clock = TestClock::new(START);
    let server = ok_server().await;
    let h = stack(&clock, &server, PAYER).await;
    // Before anyone waits.
    let early = h
        .store
        .store_event("event:order_paid", json!({ "id": "a", "amount": 1 }))
        .await
        .unwrap();
    eventually("the early event is delivered", || async {
        h.store.undelivered_events(10).await.unwrap().is_empty()
    })
    .await;
    clock.advance(Duration::from_millis(1000));

    let a = start(&h, "payer", json!("a")).await;
    let b = start(&h, "payer", json!("b")).await;
    parked_at(&h, &a, "paid").await;
    parked_at(&h, &b, "paid").await;
    // Delivered again, the early event still finds no one.
    h.handle.dispatcher().deliver(&early).await.unwrap();
    assert_eq!(detail(&h, &a).await.run.status, RunStatus::Waiting);

    h.store
        .store_event("event:order_paid", json!({ "id": "a", "amount": 2 }))
        .await
        .unwrap();
    let done = status_soon(&h, &a, RunStatus::Succeeded).await;
    assert_eq!(done.run.output, Some(json!(2)));
    eventually("every event is delivered", || async {
        h.store.undelivered_events(10).await.unwrap().is_empty()
    })
    .await;
    let other = detail(&h, &b).await;
    assert_eq!(other.run.status, RunStatus::Waiting);
    assert_eq!(other.waits[0].status, WaitStatus::Open);

    // b's own event wakes it; then its timeout can no longer fire.
    h.store
        .store_event("event:order_paid", json!({ "id": "b", "amount": 3 }))
        .await
        .unwrap();
    let done = status_soon(&h, &b, RunStatus::Succeeded).await;
    assert_eq!(done.run.output, Some(json!(3)));

    // A third run's wait times out after its hour.
    let c = start(&h, "payer", json!("c")).await;
    parked_at(&h, &c, "paid").await;
    clock.advance(Duration::from_millis(u64::try_from(HOUR).unwrap()));
    let failed = status_soon(&h, &c, RunStatus::Failed).await;
    assert_eq!(error_code(&failed), Some("R0300"));
}

// ------------------------------------------------------------------ context

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_set_by_one_run_is_read_by_the_next_and_null_removes_it() {
    let clock = TestClock::new(START);
    let server = ok_server().await;
    let h = stack(
        &clock,
        &server,
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
    let first = start(&h, "ctx", json!(5)).await;
    assert_eq!(
        status_soon(&h, &first, RunStatus::Succeeded)
            .await
            .run
            .output,
        Some(Json::Null)
    );
    assert_eq!(
        h.store.get_context("ctx").await.unwrap().get("k"),
        Some(&json!(5))
    );

    let second = start(&h, "ctx", Json::Null).await;
    assert_eq!(
        status_soon(&h, &second, RunStatus::Succeeded)
            .await
            .run
            .output,
        Some(json!(5))
    );
    assert!(!h.store.get_context("ctx").await.unwrap().contains_key("k"));

    let third = start(&h, "ctx", json!({ "deep": [1] })).await;
    assert_eq!(
        status_soon(&h, &third, RunStatus::Succeeded)
            .await
            .run
            .output,
        Some(Json::Null)
    );
    assert_eq!(
        h.store.get_context("ctx").await.unwrap().get("k"),
        Some(&json!({ "deep": [1] }))
    );
}

// ------------------------------------------------------------------ pause

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_run_starts_no_step_until_resumed() {
    let clock = TestClock::new(START);
    let server = Server::start(|request: &Recorded, _| {
        let mut reply = Reply::json(200, json!({}));
        if request.path() == "/one" {
            // Long enough for the test to pause the run while the step is in
            // flight.
            reply.delay = Some(Duration::from_secs(1));
        }
        reply
    })
    .await;
    let h = stack(
        &clock,
        &server,
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
    let run = start(&h, "steps", json!(null)).await;
    eventually("step one is in flight", || async {
        server.count("/one") == 1
    })
    .await;
    h.engine.pause(&run).await.unwrap();
    // The step in flight finishes; the next one does not start.
    eventually("step one finished", || async {
        let detail = detail(&h, &run).await;
        detail.run.status == RunStatus::Pending
            && detail.steps.iter().any(|step| {
                step.path == "one" && step.status == flowc_runtime::store::StepStatus::Succeeded
            })
    })
    .await;
    let paused = detail(&h, &run).await;
    assert!(paused.run.paused);
    assert_eq!(entries(&paused, "nap"), 0, "{paused:?}");
    assert!(paused.waits.is_empty());
    // Interpreting it changes nothing while it is paused.
    assert_eq!(h.engine.run(&run).await.unwrap(), RunOutcome::Waiting);
    assert_eq!(entries(&detail(&h, &run).await, "nap"), 0);

    h.engine.resume(&run).await.unwrap();
    parked_at(&h, &run, "nap").await;
    // Paused while parked: the timer fires, but the run starts nothing.
    h.engine.pause(&run).await.unwrap();
    clock.advance(Duration::from_millis(u64::try_from(MINUTE).unwrap()));
    eventually("the timer fired", || async {
        detail(&h, &run).await.waits[0].status == WaitStatus::Resolved
    })
    .await;
    assert_eq!(h.engine.run(&run).await.unwrap(), RunOutcome::Waiting);
    let still = detail(&h, &run).await;
    assert_eq!(entries(&still, "two"), 0, "{still:?}");
    assert_ne!(still.run.status, RunStatus::Succeeded);
    assert_eq!(server.count("/two"), 0);

    h.engine.resume(&run).await.unwrap();
    let done = status_soon(&h, &run, RunStatus::Succeeded).await;
    assert_eq!(done.run.output, Some(json!(2)));
    assert!(!done.run.paused);
    assert_eq!((server.count("/one"), server.count("/two")), (1, 1));
    assert_eq!(entries(&done, "one"), 1);
}
