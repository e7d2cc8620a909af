//! `settings { on_success, on_failure }`: after a run's end is committed, a hook
//! workflow gets the run's summary as its input (once per ended run), or a URL
//! gets it as a JSON POST.
#![allow(clippy::unwrap_used)]

mod common;

use common::harness::Harness;
use common::{Reply, Server};
use flowc_runtime::store::{NewRun, Page, RunFilter, RunStatus, Store};
use serde_json::json;
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

async fn runs_of(h: &Harness, workflow: &str) -> Vec<flowc_runtime::store::Run> {
    h.store
        .list_runs(
            RunFilter {
                workflow: Some(workflow.into()),
                ..RunFilter::default()
            },
            Page::default(),
        )
        .await
        .unwrap()
        .runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_starts_the_hook_workflow_with_the_summary_and_a_success_posts_it() {
    let downstream = Server::start(|_, _| Reply::status(204)).await;
    let hook_url = downstream.url("/done");
    let source = format!(
        r#"
workflow page_oncall(summary: json) {{
  on manual
  set context.last = summary
}}

workflow risky(n: int) -> int {{
  on manual
  settings {{ on_failure: page_oncall  on_success: "{hook_url}" }}
  if n < 0 {{
    fail "negative: ${{n}}"
  }}
  return n * 2
}}
"#
    );
    let h = Harness::builder().program(&source).build().await;

    let failed = start(&h, "risky", json!(-3)).await;
    let mut hooked = Vec::new();
    for _ in 0..500 {
        hooked = runs_of(&h, "page_oncall").await;
        if hooked.iter().any(|run| run.status == RunStatus::Succeeded) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(hooked.len(), 1, "one hook run per failed run: {hooked:?}");
    assert_eq!(hooked[0].trigger, "on_failure");
    let summary = &hooked[0].input;
    assert_eq!(summary["run_id"], json!(failed));
    assert_eq!(summary["workflow"], "risky");
    assert_eq!(summary["status"], "failed");
    assert_eq!(summary["error"]["code"], "R0203");

    let succeeded = start(&h, "risky", json!(4)).await;
    for _ in 0..500 {
        if downstream.count("/done") > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let posts = downstream.requests();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(
        posts[0].json(),
        json!({ "run_id": succeeded, "workflow": "risky", "status": "succeeded", "output": 8 })
    );
    assert_eq!(
        posts[0].header("idempotency-key"),
        Some(format!("{succeeded}/succeeded").as_str())
    );
    // The success started no hook run.
    assert_eq!(runs_of(&h, "page_oncall").await.len(), 1);
}
