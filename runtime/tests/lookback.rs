//! `lookback:` on correlated waits: a message that arrived shortly before the run
//! started waiting still counts; one older than the window does not.
#![allow(clippy::unwrap_used)]

mod common;

use common::harness::Harness;
use flowc_runtime::clock::TestClock;
use flowc_runtime::store::{NewRun, RunStatus, Store};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const PROGRAM: &str = r#"
event paid = { id: string, amount: int }

workflow checkout(id: string) -> int {
  on manual
  step got = await event paid as e where e.id == id (timeout: 1h, lookback: 10m)
  return got.amount
}
"#;

async fn start(h: &Harness, id: &str) -> String {
    let deployment = h.store.active_deployments().await.unwrap()[0].id.clone();
    let started = h
        .store
        .start_run(NewRun {
            deployment,
            workflow: "checkout".into(),
            input: json!(id),
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

async fn settled(h: &Harness, run: &str) -> flowc_runtime::store::Run {
    for _ in 0..500 {
        let run = h.store.get_run(run).await.unwrap().unwrap().run;
        if matches!(
            run.status,
            RunStatus::Waiting | RunStatus::Succeeded | RunStatus::Failed
        ) {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("run {run} never parked or ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_inside_the_lookback_window_is_delivered_and_one_outside_it_is_not() {
    let clock = TestClock::new(1_700_000_000_000);
    let h = Harness::builder()
        .clock(Arc::new(clock.clone()))
        .program(PROGRAM)
        .build()
        .await;
    // Emitted 15 minutes before its run waits: outside the 10-minute window.
    h.store
        .store_event("event:paid", json!({ "id": "old", "amount": 1 }))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(5 * 60));
    // Emitted 10 minutes before its run waits: inside the window (its edge).
    h.store
        .store_event("event:paid", json!({ "id": "early", "amount": 2 }))
        .await
        .unwrap();
    // Another object's event inside the window must not be taken.
    h.store
        .store_event("event:paid", json!({ "id": "other", "amount": 3 }))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(10 * 60));

    let early = start(&h, "early").await;
    let old = start(&h, "old").await;
    let early = settled(&h, &early).await;
    assert_eq!(early.status, RunStatus::Succeeded, "{early:?}");
    assert_eq!(early.output, Some(json!(2)));
    let old_run = settled(&h, &old).await;
    assert_eq!(old_run.status, RunStatus::Waiting, "{old_run:?}");

    // A new event for the waiting run wakes it.
    h.store
        .store_event("event:paid", json!({ "id": "old", "amount": 4 }))
        .await
        .unwrap();
    for _ in 0..500 {
        let run = h.store.get_run(&old).await.unwrap().unwrap().run;
        if run.status == RunStatus::Succeeded {
            assert_eq!(run.output, Some(json!(4)));
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the waiting run was not woken by its event");
}
