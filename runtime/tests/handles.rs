//! Callbacks and approvals over HTTP (SPEC §6.7): the whole server stack on a
//! test clock, runs started through the admin API, handle URLs read from the
//! journal and used as a caller would. Single use (410), expiry (410, and the
//! run's `await` fails with a timeout its `try` catches), a body of the wrong
//! type (422, token unused), one identical 404 for every unknown token, a
//! delivery before the `await`, the review page and its form, JSON decisions,
//! and the admin API's approve, reject and listing.

#![allow(clippy::unwrap_used)]

mod common;

use common::harness::{Harness, assert_problem};
use flowc_runtime::clock::TestClock;
use flowc_runtime::store::{RunStatus, Store, WaitKind, WaitStatus};
use reqwest::header::HeaderMap;
use serde_json::{Value as Json, json};
use std::sync::Arc;
use std::time::Duration;

const TOKEN: &str = "admin-token-for-handles";

const PROGRAM: &str = r#"
workflow job() -> { n: int } {
  on manual
  let done = callback(timeout: 1h) -> { n: int }
  step got = await done
  return got
}

workflow expiring() -> string {
  on manual
  let done = callback(timeout: 1h) -> { n: int }
  try {
    step got = await done
    return "got ${got.n}"
  } catch err {
    return "${err.kind}: ${err.message}"
  }
}

workflow early() -> { n: int } {
  on manual
  let done = callback(timeout: 2h) -> { n: int }
  step nap = wait 1h
  step got = await done
  return got
}

workflow refund(r: { id: string, amount: int }) -> { approved: bool, by: string?, comment: string? } {
  on manual
  let review = approval(timeout: 24h, message: "Refund <b>${r.id}</b> & 'more'")
  step decision = await review
  return decision
}

workflow plain() -> int {
  on manual
  return 1
}

workflow shadowed(body: { n: int }) {
  on webhook POST "/callbacks/hook"
}
"#;

struct Handles {
    stack: Harness,
    clock: TestClock,
}

common::harness::deref_to_stack!(Handles);

impl Handles {
    async fn new() -> Handles {
        let clock = TestClock::new(1_700_000_000_000);
        let stack = Harness::builder()
            .clock(Arc::new(clock.clone()))
            .program(PROGRAM)
            .admin_token(Some(TOKEN))
            .build()
            .await;
        Handles { stack, clock }
    }

    /// Starts a run of `workflow` and waits until it parks at `wait`: the run
    /// and the path of its callback `done`.
    async fn parked_callback(&self, workflow: &str, wait: &str) -> (String, String) {
        let run = self.api_start(workflow, Json::Null).await;
        self.parked_at(&run, wait).await;
        let path = self.handle_path(&run, "done", "url").await;
        (run, path)
    }

    /// The path (no scheme or host) of the handle URL `field` recorded at the
    /// handle's step `handle`.
    async fn handle_path(&self, run: &str, handle: &str, field: &str) -> String {
        let detail = self.store.get_run(run).await.unwrap().unwrap();
        let step = detail
            .steps
            .iter()
            .find(|step| step.path == handle)
            .unwrap_or_else(|| panic!("no step `{handle}`: {detail:#?}"));
        let url = step.output.as_ref().unwrap()[field].as_str().unwrap();
        let at = url
            .find("/callbacks/")
            .or_else(|| url.find("/approvals/"))
            .unwrap();
        url[at..].to_string()
    }

    /// Posts `body` as JSON to a handle URL (no admin token).
    async fn post(&self, path: &str, body: &str) -> (u16, Json) {
        let (status, _, json) = self.post_json(path, body).await;
        (status, json)
    }

    /// A request answered with text (HTML): its status, headers and body.
    async fn text(&self, request: reqwest::RequestBuilder) -> (u16, HeaderMap, String) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap())
    }

    /// The output of a run that must succeed.
    async fn output(&self, run: &str) -> Json {
        let detail = self.finished(run).await;
        assert_eq!(detail.run.status, RunStatus::Succeeded, "{detail:#?}");
        detail.run.output.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_resumes_its_run_once_then_answers_410() {
    let h = Handles::new().await;
    let (run, path) = h.parked_callback("job", "done").await;

    let (status, body) = h.post(&path, r#"{"n": 1}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "run_id": run }));
    assert_eq!(h.output(&run).await, json!({ "n": 1 }));

    let (status, body) = h.post(&path, r#"{"n": 2}"#).await;
    assert_eq!(status, 410, "{body}");
    assert_problem(&body, "gone");
    assert_eq!(h.output(&run).await, json!({ "n": 1 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_of_the_wrong_type_is_refused_and_leaves_the_token_unused() {
    let h = Handles::new().await;
    let (run, path) = h.parked_callback("job", "done").await;

    let (status, body) = h.post(&path, r#"{"n": "one"}"#).await;
    assert_eq!(status, 422, "{body}");
    assert_problem(&body, "input_mismatch");
    assert_eq!(body["details"]["path"], "$.n");
    let (status, body) = h.post(&path, r#"{"n": "#).await;
    assert_eq!(status, 400, "{body}");
    assert_problem(&body, "malformed_json");
    let (status, _, body) = h.send(h.http.post(h.url(&path)).body(r#"{"n": 3}"#)).await;
    assert_eq!(status, 415, "{body}");
    assert_problem(&body, "unsupported_media_type");
    let (status, headers, body) = h.send(h.http.get(h.url(&path))).await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(headers["allow"], "POST");
    // None of these used the token.
    let detail = h.store.get_run(&run).await.unwrap().unwrap();
    assert_eq!(detail.run.status, RunStatus::Waiting);

    let (status, body) = h.post(&path, r#"{"n": 3}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(h.output(&run).await, json!({ "n": 3 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_callback_answers_410_and_its_await_fails_with_a_catchable_timeout() {
    let h = Handles::new().await;
    let (run, path) = h.parked_callback("expiring", "done").await;

    h.clock.advance(Duration::from_secs(3600));
    let (status, body) = h.post(&path, r#"{"n": 1}"#).await;
    assert_eq!(status, 410, "{body}");
    assert_problem(&body, "gone");

    let output = h.output(&run).await;
    assert_eq!(output, json!("timeout: the callback `done` timed out"));
    let detail = h.store.get_run(&run).await.unwrap().unwrap();
    let wait = detail
        .waits
        .iter()
        .find(|wait| wait.path == "done")
        .unwrap();
    assert_eq!(wait.kind, WaitKind::Callback);
    assert_eq!(wait.status, WaitStatus::TimedOut);
    assert_eq!(wait.result.as_ref().unwrap()["error"]["code"], "R0300");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_before_the_await_is_kept_until_the_run_reaches_it() {
    let h = Handles::new().await;
    let (run, path) = h.parked_callback("early", "nap").await;

    let (status, body) = h.post(&path, r#"{"n": 5}"#).await;
    assert_eq!(status, 200, "{body}");
    // Still napping: the result waits at the callback's wait.
    let detail = h.parked_at(&run, "nap").await;
    assert!(
        detail.steps.iter().all(|step| step.path != "got"),
        "{detail:#?}"
    );
    let wait = detail
        .waits
        .iter()
        .find(|wait| wait.path == "done")
        .unwrap();
    assert_eq!(wait.status, WaitStatus::Resolved);

    h.clock.advance(Duration::from_secs(3600));
    assert_eq!(h.output(&run).await, json!({ "n": 5 }));
    let (status, body) = h.post(&path, r#"{"n": 6}"#).await;
    assert_eq!(status, 410, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_malformed_tokens_get_the_body_of_an_unknown_path() {
    let h = Handles::new().await;
    let (run, callback) = h.parked_callback("job", "done").await;
    let token = callback.rsplit('/').next().unwrap().to_string();

    let raw = |method: reqwest::Method, path: String| {
        let request = h
            .http
            .request(method, h.url(&path))
            .header("content-type", "application/json")
            .body(r#"{"n": 1}"#);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let content_type = response.headers()["content-type"].clone();
            (status, content_type, response.bytes().await.unwrap())
        }
    };
    let (status, content_type, expected) = raw(reqwest::Method::POST, "/no/such/path".into()).await;
    assert_eq!(status, 404);
    let unknown = "0123456789abcdef0123456789abcdef";
    let paths = [
        format!("/callbacks/{unknown}"),
        "/callbacks/not-a-token".into(),
        format!("/callbacks/{}", &token[..31]),
        format!("/callbacks/{token}0"),
        format!("/callbacks/{token}/more"),
        "/callbacks/".into(),
        // A callback's token is no approval's.
        format!("/approvals/{token}/approve"),
        format!("/approvals/{unknown}/reject"),
        format!("/approvals/{token}/frobnicate"),
        "/approvals/%00/approve".into(),
        // A webhook declared under a reserved prefix is never reached.
        "/callbacks/hook".into(),
    ];
    for path in paths {
        let (status, got_type, body) = raw(reqwest::Method::POST, path.clone()).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(got_type, content_type, "{path}");
        assert_eq!(body, expected, "{path}");
    }
    let (status, _, body) = raw(reqwest::Method::GET, format!("/approvals/{token}")).await;
    assert_eq!((status, body), (404, expected.clone()));
    let (status, _, body) = raw(reqwest::Method::GET, format!("/approvals/{unknown}")).await;
    assert_eq!((status, body), (404, expected));
    // Nothing was started or used.
    assert_eq!(h.run_count().await, 1);
    assert_eq!(
        h.store.get_run(&run).await.unwrap().unwrap().run.status,
        RunStatus::Waiting
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_page_shows_the_request_and_its_form_approves() {
    let h = Handles::new().await;
    let run = h
        .api_start("refund", json!({ "id": "r-<1>", "amount": 40 }))
        .await;
    h.parked_at(&run, "review").await;
    let review = h.handle_path(&run, "review", "review_url").await;
    let approve = h.handle_path(&run, "review", "approve_url").await;
    let token = review.rsplit('/').next().unwrap().to_string();
    assert_eq!(approve, format!("/approvals/{token}/approve"));

    let (status, headers, page) = h.text(h.http.get(h.url(&review))).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-frame-options"], "DENY");
    // The message, escaped: the page runs nothing a run's data puts in it.
    assert!(
        page.contains("Refund &lt;b&gt;r-&lt;1&gt;&lt;/b&gt; &amp; &#39;more&#39;"),
        "{page}"
    );
    assert!(!page.contains("<b>"), "{page}");
    assert!(!page.contains("<script"), "{page}");
    assert!(page.contains(&run), "{page}");
    assert!(page.contains("refund"), "{page}");
    // The run's input, as indented JSON.
    assert!(page.contains("&quot;amount&quot;: 40"), "{page}");
    assert!(
        page.contains(&format!(
            "<form method=\"post\" action=\"{token}/approve\">"
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!("formaction=\"{token}/reject\"")),
        "{page}"
    );
    assert_eq!(page.matches("<button type=\"submit\"").count(), 2, "{page}");
    assert!(page.contains("name=\"by\"") && page.contains("name=\"comment\""));

    let form = h
        .http
        .post(h.url(&approve))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("by=Alice+%3Cadmin%3E&comment=looks+fine");
    let (status, headers, page) = h.text(form).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(page.contains("<h1>Approved</h1>"), "{page}");
    assert_eq!(
        h.output(&run).await,
        json!({ "approved": true, "by": "Alice <admin>", "comment": "looks fine" })
    );

    // Used: the page and another post answer 410, as pages.
    let (status, headers, page) = h.text(h.http.get(h.url(&review))).await;
    assert_eq!(status, 410, "{page}");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let form = h
        .http
        .post(h.url(&format!("/approvals/{token}/reject")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("by=mallory");
    let (status, _, page) = h.text(form).await;
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("No longer open"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_and_empty_posts_decide_approvals() {
    let h = Handles::new().await;
    let rejected = h
        .api_start("refund", json!({ "id": "r-1", "amount": 1 }))
        .await;
    let approved = h
        .api_start("refund", json!({ "id": "r-2", "amount": 2 }))
        .await;
    h.parked_at(&rejected, "review").await;
    h.parked_at(&approved, "review").await;
    let reject = h.handle_path(&rejected, "review", "reject_url").await;
    let approve = h.handle_path(&approved, "review", "approve_url").await;

    let (status, body) = h.post(&reject, r#"{"by": "bob", "who": 1}"#).await;
    assert_eq!(status, 400, "{body}");
    assert_problem(&body, "bad_body");
    let (status, body) = h.post(&reject, r#"{"by": "bob"}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "run_id": rejected, "approved": false }));
    assert_eq!(
        h.output(&rejected).await,
        json!({ "approved": false, "by": "bob", "comment": null })
    );

    let (status, _, body) = h.send(h.http.post(h.url(&approve))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "run_id": approved, "approved": true }));
    assert_eq!(
        h.output(&approved).await,
        json!({ "approved": true, "by": null, "comment": null })
    );
    let (status, body) = h.post(&approve, "{}").await;
    assert_eq!(status, 410, "{body}");
    assert_problem(&body, "gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_lists_approves_and_rejects() {
    use reqwest::Method;
    let h = Handles::new().await;
    let first = h
        .api_start("refund", json!({ "id": "r-1", "amount": 1 }))
        .await;
    h.parked_at(&first, "review").await;
    h.clock.advance(Duration::from_secs(1));
    let second = h
        .api_start("refund", json!({ "id": "r-2", "amount": 2 }))
        .await;
    h.parked_at(&second, "review").await;

    let (status, body) = h.api(Method::GET, "/approvals", None).await;
    assert_eq!(status, 200, "{body}");
    let approvals = body["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 2, "{body}");
    assert_eq!(approvals[0]["run"], first.as_str());
    assert_eq!(approvals[0]["path"], "review");
    assert_eq!(approvals[0]["message"], "Refund <b>r-1</b> & 'more'");
    assert_eq!(approvals[0]["created_at"], 1_700_000_000_000_i64);
    assert_eq!(
        approvals[0]["deadline"],
        1_700_000_000_000_i64 + 24 * 3_600_000
    );
    assert_eq!(approvals[1]["run"], second.as_str());
    let (status, body) = h.api(Method::GET, "/approvals?limit=1", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["approvals"].as_array().unwrap().len(), 1);
    let (status, body) = h.api(Method::GET, "/approvals?after=x", None).await;
    assert_eq!(status, 400, "{body}");
    assert_problem(&body, "bad_query");

    let (status, body) = h
        .api(
            Method::POST,
            &format!("/runs/{first}/approve"),
            Some(json!({ "by": "carol", "comment": "fine" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "run_id": first, "step": "review", "approved": true })
    );
    assert_eq!(
        h.output(&first).await,
        json!({ "approved": true, "by": "carol", "comment": "fine" })
    );
    let (status, body) = h
        .api(Method::POST, &format!("/runs/{second}/reject"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "run_id": second, "step": "review", "approved": false })
    );
    assert_eq!(
        h.output(&second).await,
        json!({ "approved": false, "by": null, "comment": null })
    );
    let (status, body) = h.api(Method::GET, "/approvals", None).await;
    assert_eq!((status, body), (200, json!({ "approvals": [] })));

    // A run that waits for no approval (any more, or ever), and no run at all.
    let (status, body) = h
        .api(Method::POST, &format!("/runs/{first}/reject"), None)
        .await;
    assert_eq!(status, 409, "{body}");
    assert_problem(&body, "no_open_approval");
    let plain = h.api_start("plain", Json::Null).await;
    h.finished(&plain).await;
    let (status, body) = h
        .api(Method::POST, &format!("/runs/{plain}/approve"), None)
        .await;
    assert_eq!(status, 409, "{body}");
    assert_problem(&body, "no_open_approval");
    let (status, body) = h.api(Method::POST, "/runs/no-such-run/approve", None).await;
    assert_eq!(status, 404, "{body}");
    assert_problem(&body, "run_not_found");
    let (status, body) = h
        .api(
            Method::POST,
            &format!("/runs/{first}/approve"),
            Some(json!({ "by": 1 })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_problem(&body, "bad_body");
    // Behind the token.
    let response = h
        .http
        .post(h.url(&format!("/api/v1/runs/{first}/approve")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}
