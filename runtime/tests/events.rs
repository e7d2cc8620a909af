//! Events, `await` endpoints, the context store and run controls through the
//! whole server stack (the shared harness on a manual test clock: time moves only
//! when a test moves it): `POST /api/v1/events/{name}` starting one run per `on
//! event` workflow, a stored event delivered twice starting nothing twice, an
//! `emit` kept once across the run's replay, correlated waits on a shared `await
//! webhook` path and on `await event` each getting only their own message (and
//! none sent before they waited), the context read and patched, a run paused at
//! its next step boundary and resumed, bulk cancel and retry.

#![allow(clippy::unwrap_used)]

mod common;

use common::harness::{Harness as Stack, assert_problem};
use flowc_runtime::clock::TestClock;
use flowc_runtime::store::{DeliveryFilter, Page, Run, RunStatus, Store};
use reqwest::Method;
use serde_json::{Value as Json, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;

const TOKEN: &str = "events-test-token";
const START: i64 = 1_700_000_000_000;

/// The stack on a manual test clock, with an admin token.
struct Harness {
    stack: Stack,
    clock: TestClock,
}

common::harness::deref_to_stack!(Harness);

impl Harness {
    async fn new(program: &str) -> Harness {
        let clock = TestClock::new(START);
        let stack = Stack::builder()
            .clock(Arc::new(clock.clone()))
            .admin_token(Some(TOKEN))
            .program(program)
            .build()
            .await;
        Harness { stack, clock }
    }

    /// `POST /api/v1{path}` with the token.
    async fn post(&self, path: &str, body: Json) -> (u16, Json) {
        self.api(Method::POST, path, Some(body)).await
    }
}

fn all_succeeded(runs: &[Run], count: usize) -> bool {
    runs.len() == count && runs.iter().all(|run| run.status == RunStatus::Succeeded)
}

// ---------------------------------------------------------------- events

const LISTENERS: &str = r#"
event ping = { n: int }

workflow plus_one(p: { n: int }) -> int {
  on event ping
  return p.n + 1
}

workflow times_ten(p: { n: int }) -> int {
  on event ping
  return p.n * 10
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_event_starts_one_run_per_listener_with_the_typed_payload() {
    let h = Harness::new(LISTENERS).await;
    let (status, body) = h.post("/events/ping", json!({ "n": 4 })).await;
    assert_eq!(status, 202, "{body}");
    let event = body["event_id"].as_str().unwrap().to_string();
    for (workflow, output) in [("plus_one", 5), ("times_ten", 40)] {
        let runs = h
            .runs_until(workflow, None, |runs| all_succeeded(runs, 1))
            .await;
        assert_eq!(runs[0].input, json!({ "n": 4 }));
        assert_eq!(runs[0].trigger, "event");
        assert_eq!(runs[0].output, Some(json!(output)));
        assert_eq!(
            runs[0].idempotency_key.as_deref(),
            Some(format!("event:{event}").as_str())
        );
    }

    // Refusals start nothing.
    let (status, body) = h.post("/events/pong", json!({ "n": 1 })).await;
    assert_eq!(status, 404, "{body}");
    assert_problem(&body, "event_not_found");
    let (status, body) = h.post("/events/ping", json!({ "n": "four" })).await;
    assert_eq!(status, 422, "{body}");
    assert_problem(&body, "input_mismatch");
    assert_eq!(body["details"]["path"], "$.n");
    let (status, _, body) = h
        .send(
            h.http
                .post(h.url("/api/v1/events/ping"))
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body("{\"n\": "),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_problem(&body, "malformed_json");
    // Without the token, nothing at all.
    let (status, _, body) = h
        .send(
            h.http
                .post(h.url("/api/v1/events/ping"))
                .json(&json!({ "n": 1 })),
        )
        .await;
    assert_eq!(status, 401, "{body}");
    h.delivered().await;
    assert_eq!(h.run_count().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_event_delivered_again_starts_nothing_twice() {
    let h = Harness::new(LISTENERS).await;
    let event = h
        .store
        .store_event("event:ping", json!({ "n": 1 }))
        .await
        .unwrap();
    // The dispatcher delivers it on its own as well; whichever comes first, each
    // listener has one run of it.
    let dispatcher = h.handle.dispatcher();
    dispatcher.deliver(&event).await.unwrap();
    dispatcher.deliver(&event).await.unwrap();
    assert_eq!(h.run_count().await, 2);
    for workflow in ["plus_one", "times_ten"] {
        h.runs_until(workflow, None, |runs| all_succeeded(runs, 1))
            .await;
    }
    dispatcher.deliver(&event).await.unwrap();
    h.delivered().await;
    assert_eq!(h.run_count().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emit_starts_its_listener_once_even_after_the_run_is_replayed() {
    let h = Harness::new(
        r#"
event ping = { n: int }

workflow listener(p: { n: int }) -> int {
  on event ping
  return p.n
}

workflow source() -> int {
  on manual
  emit ping { n: 7 }
  step nap = wait 1h
  return 1
}
"#,
    )
    .await;
    let source = h.api_start("source", Json::Null).await;
    h.parked_at(&source, "nap").await;
    let runs = h
        .runs_until("listener", None, |runs| all_succeeded(runs, 1))
        .await;
    assert_eq!(runs[0].output, Some(json!(7)));
    // The wake interprets the run again from the top: the emit is in its journal.
    h.clock.advance(Duration::from_secs(3600));
    let detail = h.finished(&source).await;
    assert_eq!(detail.run.status, RunStatus::Succeeded, "{detail:#?}");
    let events = h.store.recent_events("event:ping", 0, 100).await.unwrap();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].source_run.as_deref(), Some(source.as_str()));
    h.delivered().await;
    assert_eq!(h.runs_of("listener", None).await.len(), 1);
}

// ---------------------------------------------------------------- correlated waits

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_awaiting_one_webhook_path_each_get_their_own_request() {
    let h = Harness::new(
        r#"
type Parcel = { order: string, status: string }

workflow follow(input: { order: string }) -> string {
  on manual
  step got = await webhook POST "/carrier" as p: Parcel where p.order == input.order
  return got.status
}
"#,
    )
    .await;
    // Sent before any run waits: acknowledged, and delivered to no one.
    let (status, _, body) = h
        .post_json("/carrier", r#"{"order": "c", "status": "early"}"#)
        .await;
    assert_eq!(status, 202, "{body}");
    assert!(body["event_id"].is_string(), "{body}");
    h.delivered().await;
    h.clock.advance(Duration::from_secs(1));

    let a = h.api_start("follow", json!({ "order": "a" })).await;
    let b = h.api_start("follow", json!({ "order": "b" })).await;
    let c = h.api_start("follow", json!({ "order": "c" })).await;
    for run in [&a, &b, &c] {
        h.parked_at(run, "got").await;
    }
    for body in [
        r#"{"order": "b", "status": "b-shipped"}"#,
        r#"{"order": "nobody", "status": "lost"}"#,
        r#"{"order": "a", "status": "a-shipped"}"#,
    ] {
        let (status, _, answer) = h.post_json("/carrier", body).await;
        assert_eq!(status, 202, "{answer}");
    }
    for (run, output) in [(&a, "a-shipped"), (&b, "b-shipped")] {
        let detail = h.finished(run).await;
        assert_eq!(detail.run.status, RunStatus::Succeeded, "{detail:#?}");
        assert_eq!(detail.run.output, Some(json!(output)));
    }
    h.delivered().await;
    let detail = h.store.get_run(&c).await.unwrap().unwrap();
    assert_eq!(detail.run.status, RunStatus::Waiting, "{detail:#?}");
    let (status, _, _) = h
        .post_json("/carrier", r#"{"order": "c", "status": "late"}"#)
        .await;
    assert_eq!(status, 202);
    let detail = h.finished(&c).await;
    assert_eq!(detail.run.output, Some(json!("late")), "{detail:#?}");

    // The body is checked against the await's type, and must be JSON.
    let (status, _, body) = h.post_json("/carrier", r#"{"order": 5}"#).await;
    assert_eq!(status, 422, "{body}");
    assert_problem(&body, "input_mismatch");
    assert_eq!(body["details"]["path"], "$.order");
    let (status, _, body) = h.send(h.http.post(h.url("/carrier")).body("order=c")).await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(h.run_count().await, 3);
    // Every request is in the delivery history.
    let history = h
        .store
        .list_deliveries(
            DeliveryFilter {
                path: Some("/carrier".into()),
                outcome: None,
            },
            Page::default(),
        )
        .await
        .unwrap()
        .deliveries;
    let statuses: Vec<Option<u16>> = history.iter().map(|delivery| delivery.status).collect();
    assert_eq!(
        statuses,
        [415, 422, 202, 202, 202, 202, 202].map(Some).to_vec(),
        "{history:#?}"
    );
    assert!(history.iter().all(|delivery| delivery.workflow == "follow"));

    // The path is claimed like a trigger's: another deployment cannot take it.
    let source = r#"
workflow other(input: { order: string }) {
  on webhook POST "/carrier"
}
"#;
    let (status, body) = h
        .post(
            "/deployments",
            json!({ "files": [{ "path": "other.flow", "source": source }] }),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_problem(&body, "webhook_conflict");
    assert_eq!(body["details"]["owner"], "follow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_awaiting_one_event_each_get_their_own_payload() {
    let h = Harness::new(
        r#"
event shipped = { order: string, carrier: string }

workflow track(input: { order: string }) -> string {
  on manual
  step s = await event shipped as e where e.order == input.order
  return s.carrier
}
"#,
    )
    .await;
    let (status, body) = h
        .post(
            "/events/shipped",
            json!({ "order": "a", "carrier": "early" }),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    h.delivered().await;
    h.clock.advance(Duration::from_secs(1));
    let a = h.api_start("track", json!({ "order": "a" })).await;
    let b = h.api_start("track", json!({ "order": "b" })).await;
    h.parked_at(&a, "s").await;
    h.parked_at(&b, "s").await;
    for (order, carrier) in [("b", "b-post"), ("a", "a-post")] {
        let (status, body) = h
            .post(
                "/events/shipped",
                json!({ "order": order, "carrier": carrier }),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }
    for (run, carrier) in [(&a, "a-post"), (&b, "b-post")] {
        let detail = h.finished(run).await;
        assert_eq!(detail.run.output, Some(json!(carrier)), "{detail:#?}");
    }
}

// ---------------------------------------------------------------- context

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_context_is_read_patched_and_written_by_runs() {
    let h = Harness::new(
        r#"
workflow counter(input: { n: int }) {
  on manual
  set context.last = input.n
  set context.gone = null
}
"#,
    )
    .await;
    let path = "/workflows/counter/context";
    let (status, body) = h.api(Method::GET, path, None).await;
    assert_eq!((status, body), (200, json!({})));
    let (status, body) = h
        .api(
            Method::PATCH,
            path,
            Some(json!({ "gone": true, "keep": { "x": [1] } })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "gone": true, "keep": { "x": [1] } }));
    let (status, body) = h
        .api(Method::PATCH, path, Some(json!({ "keep": null })))
        .await;
    assert_eq!((status, body), (200, json!({ "gone": true })));
    let (status, body) = h.api(Method::GET, path, None).await;
    assert_eq!((status, body), (200, json!({ "gone": true })));

    // A run's `set` is seen here; its `null` removes the key.
    let run = h.api_start("counter", json!({ "n": 7 })).await;
    let detail = h.finished(&run).await;
    assert_eq!(detail.run.status, RunStatus::Succeeded, "{detail:#?}");
    let (status, body) = h.api(Method::GET, path, None).await;
    assert_eq!((status, body), (200, json!({ "last": 7 })));

    for method in [Method::GET, Method::PATCH] {
        let (status, body) = h
            .api(method, "/workflows/nope/context", Some(json!({ "a": 1 })))
            .await;
        assert_eq!(status, 404, "{body}");
        assert_problem(&body, "workflow_not_found");
    }
    for bad in [json!([1]), json!("text"), Json::Null] {
        let (status, body) = h.api(Method::PATCH, path, Some(bad)).await;
        assert_eq!(status, 400, "{body}");
        assert_problem(&body, "bad_body");
    }
}

// ---------------------------------------------------------------- pause and resume

/// A downstream whose `/one` answers only once the test releases it, and which
/// records the path of every request.
struct Gated {
    addr: SocketAddr,
    /// Signalled when a request to `/one` has arrived.
    entered: Arc<Notify>,
    /// Lets the request to `/one` be answered.
    release: Arc<Notify>,
    paths: Arc<Mutex<Vec<String>>>,
}

impl Gated {
    async fn start() -> Gated {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gated = Gated {
            addr: listener.local_addr().unwrap(),
            entered: Arc::new(Notify::new()),
            release: Arc::new(Notify::new()),
            paths: Arc::default(),
        };
        let (entered, release, paths) = (
            Arc::clone(&gated.entered),
            Arc::clone(&gated.release),
            Arc::clone(&gated.paths),
        );
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (entered, release, paths) = (
                    Arc::clone(&entered),
                    Arc::clone(&release),
                    Arc::clone(&paths),
                );
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let path = text.split(' ').nth(1).unwrap_or("").to_string();
                    paths.lock().unwrap().push(path.clone());
                    if path == "/one" {
                        entered.notify_one();
                        release.notified().await;
                    }
                    let reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                                 Content-Length: 2\r\nConnection: close\r\n\r\n{}";
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        gated
    }

    fn count(&self, path: &str) -> usize {
        self.paths
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_run_stops_at_its_next_step_and_resume_finishes_it() {
    let gated = Gated::start().await;
    let h = Harness::new(&format!(
        r#"
workflow slow() {{
  on manual
  step one = http GET "http://{addr}/one"
  step two = http GET "http://{addr}/two"
}}
"#,
        addr = gated.addr
    ))
    .await;
    let run = h.api_start("slow", Json::Null).await;
    gated.entered.notified().await;
    // `one` is under way: the pause lets it finish and stops before `two`.
    let (status, body) = h.post(&format!("/runs/{run}/pause"), Json::Null).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "run_id": run, "paused": true }));
    gated.release.notify_one();
    let detail = h
        .until(&run, |detail| {
            detail.run.status == RunStatus::Pending
                && detail.steps.iter().any(|step| {
                    step.path == "one" && step.status == flowc_runtime::store::StepStatus::Succeeded
                })
                && !h.engine.is_running(&run)
        })
        .await;
    assert!(detail.run.paused, "{detail:#?}");
    assert_eq!(gated.count("/two"), 0);

    let (status, body) = h.post(&format!("/runs/{run}/resume"), Json::Null).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "run_id": run, "paused": false }));
    let detail = h.finished(&run).await;
    assert_eq!(detail.run.status, RunStatus::Succeeded, "{detail:#?}");
    assert!(!detail.run.paused);
    assert_eq!((gated.count("/one"), gated.count("/two")), (1, 1));

    for action in ["pause", "resume"] {
        let (status, body) = h.post(&format!("/runs/{run}/{action}"), Json::Null).await;
        assert_eq!(status, 409, "{body}");
        assert_problem(&body, "run_finished");
        let (status, body) = h.post(&format!("/runs/nope/{action}"), Json::Null).await;
        assert_eq!(status, 404, "{body}");
        assert_problem(&body, "run_not_found");
    }
}

// ---------------------------------------------------------------- bulk

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_cancel_and_retry_take_every_matching_run() {
    let h = Harness::new(
        r#"
workflow sleeper(input: { n: int }) {
  on manual
  step nap = wait 1h
}

workflow other() {
  on manual
  step nap = wait 1h
}

workflow broken(input: { n: int }) {
  on manual
  fail "broken on purpose"
}
"#,
    )
    .await;
    let mut sleepers = Vec::new();
    for n in 0..3 {
        sleepers.push(h.api_start("sleeper", json!({ "n": n })).await);
    }
    let other = h.api_start("other", Json::Null).await;
    for run in sleepers.iter().chain([&other]) {
        h.parked_at(run, "nap").await;
    }

    let (status, body) = h
        .post("/runs/cancel", json!({ "workflow": "sleeper" }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 3, "{body}");
    let mut cancelled: Vec<String> = body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run.as_str().unwrap().to_string())
        .collect();
    cancelled.sort();
    let mut expected = sleepers.clone();
    expected.sort();
    assert_eq!(cancelled, expected);
    for run in &sleepers {
        let detail = h.store.get_run(run).await.unwrap().unwrap();
        assert_eq!(detail.run.status, RunStatus::Cancelled);
    }
    let detail = h.store.get_run(&other).await.unwrap().unwrap();
    assert_eq!(detail.run.status, RunStatus::Waiting);
    // Nothing left to cancel there; a status that cannot be cancelled is refused.
    let (status, body) = h
        .post(
            "/runs/cancel",
            json!({ "workflow": "sleeper", "status": "waiting" }),
        )
        .await;
    assert_eq!((status, body), (200, json!({ "count": 0, "runs": [] })));
    for bad in [
        json!({ "status": "succeeded" }),
        json!({ "flow": "sleeper" }),
        json!(["sleeper", null]),
    ] {
        let (status, body) = h.post("/runs/cancel", bad).await;
        assert_eq!(status, 400, "{body}");
        assert_problem(&body, "bad_body");
    }
    // An empty body selects every run that has not ended.
    let (status, _, body) = h
        .send(h.http.post(h.url("/api/v1/runs/cancel")).bearer_auth(TOKEN))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "count": 1, "runs": [other] }));

    // Retry: every failed run of the workflow, each from its failed step.
    let broken = [
        h.api_start("broken", json!({ "n": 1 })).await,
        h.api_start("broken", json!({ "n": 2 })).await,
    ];
    for run in &broken {
        let detail = h.finished(run).await;
        assert_eq!(detail.run.status, RunStatus::Failed);
    }
    let (status, body) = h
        .post(
            "/runs/retry",
            json!({ "workflow": "broken", "status": "waiting" }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_problem(&body, "bad_body");
    let (status, body) = h
        .post(
            "/runs/retry",
            json!({ "workflow": "broken", "status": "failed" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 2, "{body}");
    for run in &broken {
        let detail = h
            .until(run, |detail| {
                detail.run.retries == 1 && detail.run.status == RunStatus::Failed
            })
            .await;
        assert_eq!(detail.run.retries, 1);
    }
    let (status, body) = h
        .post("/runs/retry", json!({ "workflow": "sleeper" }))
        .await;
    assert_eq!((status, body), (200, json!({ "count": 0, "runs": [] })));
}
