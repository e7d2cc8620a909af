//! Retrying a run that failed on a wait: the waits its end closed are reopened,
//! each with as long as it had, and the run waits again.
#![allow(clippy::unwrap_used)]

mod common;

use common::harness::Harness;
use flowc_runtime::clock::TestClock;
use flowc_runtime::engine::ApprovalDecision;
use flowc_runtime::store::{RunStatus, WaitStatus};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_run_waits_again_on_its_timed_out_approval_with_the_same_token() {
    let clock = TestClock::new(1_700_000_000_000);
    let h = Harness::builder()
        .clock(Arc::new(clock.clone()))
        .program(
            r#"
workflow refund(amount: int) -> bool {
  on manual
  let review = approval(timeout: 1h, message: "Refund ${amount}")
  step decision = await review
  return decision.approved
}
"#,
        )
        .build()
        .await;
    let run = h.start_run("refund", json!(40)).await;
    let parked = h.parked_at(&run, "review").await;
    let handle = parked
        .steps
        .iter()
        .find(|step| step.path == "review")
        .unwrap();
    let url = handle.output.as_ref().unwrap()["approve_url"]
        .as_str()
        .unwrap()
        .to_string();
    let token = url.rsplit('/').nth(1).unwrap().to_string();

    // Nobody decides within the hour: the await fails the run with R0300.
    clock.advance(Duration::from_secs(3601));
    let failed = h.until_status(&run, RunStatus::Failed).await;
    assert_eq!(failed.run.error.as_ref().unwrap()["code"], "R0300");
    assert!(
        h.engine
            .decide(&token, ApprovalDecision::default())
            .await
            .is_err()
    );

    // A retry reopens the approval for another hour; the same URL works again.
    h.engine.reopen(&run).await.unwrap();
    h.handle.dispatcher().start(run.clone());
    let waiting = h.parked_at(&run, "review").await;
    let wait = waiting
        .waits
        .iter()
        .find(|wait| wait.path == "review")
        .unwrap();
    assert_eq!(wait.status, WaitStatus::Open);
    assert_eq!(
        wait.deadline,
        Some(1_700_000_000_000 + 3_601_000 + 3_600_000),
        "as long as it had, from the retry"
    );
    h.engine
        .decide(
            &token,
            ApprovalDecision {
                approved: true,
                by: Some("ana".into()),
                comment: None,
            },
        )
        .await
        .unwrap();
    let done = h.until_status(&run, RunStatus::Succeeded).await;
    assert_eq!(done.run.output, Some(json!(true)));
    // The failed attempt is kept; the decision is a second attempt of the step.
    let attempts: Vec<_> = done
        .steps
        .iter()
        .filter(|step| step.path == "decision")
        .map(|step| (step.attempt, step.status))
        .collect();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
}
