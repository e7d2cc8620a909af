//! `settings { on_success, on_failure }`: after a run's end is committed, a hook
//! workflow gets the run's summary as its input (once per ended run), or a URL
//! gets it as a JSON POST.
#![allow(clippy::unwrap_used)]

mod common;

use common::harness::{Harness, eventually};
use common::{Reply, Server};
use flowc_runtime::store::RunStatus;
use serde_json::json;

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

    let failed = h.start_run("risky", json!(-3)).await;
    let hooked = h
        .runs_until("page_oncall", None, |runs| {
            runs.iter().any(|run| run.status == RunStatus::Succeeded)
        })
        .await;
    assert_eq!(hooked.len(), 1, "one hook run per failed run: {hooked:?}");
    assert_eq!(hooked[0].trigger, "on_failure");
    let summary = &hooked[0].input;
    assert_eq!(summary["run_id"], json!(failed));
    assert_eq!(summary["workflow"], "risky");
    assert_eq!(summary["status"], "failed");
    assert_eq!(summary["error"]["code"], "R0203");

    let succeeded = h.start_run("risky", json!(4)).await;
    eventually("the success hook posts", || async {
        downstream.count("/done") > 0
    })
    .await;
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
    assert_eq!(h.runs_of("page_oncall", None).await.len(), 1);
}
