//! Smoke tests of parking and waking through the whole server stack.
#![allow(clippy::unwrap_used)]

mod common;

use common::harness::Harness;
use flowc_runtime::clock::TestClock;
use flowc_runtime::store::{NewRun, RunStatus, Store};
use std::sync::Arc;
use std::time::Duration;

async fn start(h: &Harness, workflow: &str, input: serde_json::Value) -> String {
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

async fn status_soon(h: &Harness, run: &str, want: RunStatus) {
    for _ in 0..400 {
        let detail = h.store.get_run(run).await.unwrap().unwrap();
        if detail.run.status == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let detail = h.store.get_run(run).await.unwrap().unwrap();
    panic!("run {run} is {:?}, not {want:?}: {detail:#?}", detail.run.status);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_parks_until_the_clock_passes_it() {
    let clock = TestClock::new(1_700_000_000_000);
    let h = Harness::builder()
        .clock(Arc::new(clock.clone()))
        .program(
            r#"
workflow sleepy() -> int {
  on manual
  step nap = wait 1h
  let handle = callback(timeout: 2h) -> { n: int }
  step got = await handle
  return got.n
}
"#,
        )
        .build()
        .await;
    let run = start(&h, "sleepy", serde_json::json!(null)).await;
    status_soon(&h, &run, RunStatus::Waiting).await;
    clock.advance(Duration::from_secs(3599));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        h.store.get_run(&run).await.unwrap().unwrap().run.status,
        RunStatus::Waiting
    );
    clock.advance(Duration::from_secs(1));
    // Now it waits for the callback.
    for _ in 0..400 {
        let detail = h.store.get_run(&run).await.unwrap().unwrap();
        if detail.waits.len() == 2 && detail.run.status == RunStatus::Waiting {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let detail = h.store.get_run(&run).await.unwrap().unwrap();
    let handle = detail.steps.iter().find(|s| s.path == "handle").unwrap();
    let url = handle.output.as_ref().unwrap()["url"].as_str().unwrap().to_string();
    let token = url.rsplit('/').next().unwrap();
    h.engine
        .resolve_callback(token, serde_json::json!({ "n": 7 }))
        .await
        .unwrap();
    status_soon(&h, &run, RunStatus::Succeeded).await;
    let detail = h.store.get_run(&run).await.unwrap().unwrap();
    assert_eq!(detail.run.output, Some(serde_json::json!(7)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loops_parallel_calls_emits_and_context_run() {
    let h = Harness::builder()
        .program(
            r#"
event ping = { n: int }

workflow child(n: int) -> int {
  return n * 10
}

workflow listener(p: { n: int }) {
  on event ping
  set context.last = p.n
}

workflow fan(xs: [int]) -> int {
  on manual
  let doubled = for x in xs (concurrency: 2) {
    step c = call child(x)
    yield c
  }
  parallel {
    step one = call child(1)
    step two = call child(2)
  }
  emit ping { n: 5 }
  set context.seen = doubled.sum()
  return doubled.sum() + one + two
}
"#,
        )
        .build()
        .await;
    let run = start(&h, "fan", serde_json::json!([1, 2, 3])).await;
    status_soon(&h, &run, RunStatus::Succeeded).await;
    let detail = h.store.get_run(&run).await.unwrap().unwrap();
    assert_eq!(detail.run.output, Some(serde_json::json!(90)));
    let context = h.store.get_context("fan").await.unwrap();
    assert_eq!(context.get("seen"), Some(&serde_json::json!(60)));
    for _ in 0..400 {
        if h.store.get_context("listener").await.unwrap().get("last") == Some(&serde_json::json!(5)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the listener never ran");
}
