//! `lookback:` on correlated waits: a message that arrived shortly before the run
//! started waiting still counts; one older than the window does not.
#![allow(clippy::unwrap_used)]

mod common;

use common::harness::Harness;
use flowc_runtime::clock::TestClock;
use flowc_runtime::store::{RunDetail, RunStatus, Store};
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

/// Parked or ended: where a run stops moving on its own.
fn settled(detail: &RunDetail) -> bool {
    matches!(
        detail.run.status,
        RunStatus::Waiting | RunStatus::Succeeded | RunStatus::Failed
    )
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

    let early = h.start_run("checkout", json!("early")).await;
    let old = h.start_run("checkout", json!("old")).await;
    let early = h.until(&early, settled).await.run;
    assert_eq!(early.status, RunStatus::Succeeded, "{early:?}");
    assert_eq!(early.output, Some(json!(2)));
    let old_run = h.until(&old, settled).await.run;
    assert_eq!(old_run.status, RunStatus::Waiting, "{old_run:?}");

    // A new event for the waiting run wakes it.
    h.store
        .store_event("event:paid", json!({ "id": "old", "amount": 4 }))
        .await
        .unwrap();
    let woken = h.until_status(&old, RunStatus::Succeeded).await;
    assert_eq!(woken.run.output, Some(json!(4)));
}
