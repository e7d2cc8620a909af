//! End-to-end tests of `flowc runs`: the real `flowc serve` on a free loopback
//! port with a temp database, webhooks fired over TCP, then `flowc runs
//! list|show|retry|replay|cancel` against its admin API — and the ways a call
//! goes wrong: no token, a wrong token, an unknown run, a server that is not
//! there.

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value as Json, json};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::{Done, Recorded, Recorder, Reply, Served};

const PROGRAM: &str = r#"
workflow order(order: { id: string, amount: int }) -> { ok: bool } {
  on webhook POST "/orders"
  step quote = http POST "BASE/quote" { json: { id: order.id } }
  step notify = http POST "BASE/notify" { json: { id: order.id, amount: order.amount } }
  return { ok: quote.status == 200 && notify.status == 200 }
}

workflow flaky(job: { id: string }) -> { done: bool } {
  on webhook POST "/flaky"
  step prepare = http POST "BASE/prepare" { json: { id: job.id } }
  step push = http POST "BASE/push" { json: { id: job.id } }
  return { done: prepare.status == 200 && push.status == 200 }
}

workflow slow(job: { id: string }) {
  on webhook POST "/slow"
  step crawl = http POST "BASE/crawl" { json: { id: job.id } }
  return
}
"#;

/// A server on the program, with its downstream: `/push` refuses its first call
/// and accepts every later one, `/crawl` takes 3 s, the rest answer at once.
fn start(dir: &Path) -> (Served, Recorder) {
    let pushes = AtomicUsize::new(0);
    let downstream = Recorder::start(move |request: &Recorded| match request.path() {
        "/push" if pushes.fetch_add(1, Ordering::SeqCst) == 0 => {
            Reply::json(400, json!({"error": "not yet"}))
        }
        "/crawl" => {
            std::thread::sleep(Duration::from_secs(3));
            Reply::json(200, json!({}))
        }
        _ => Reply::json(200, json!({"fine": true})),
    });
    support::write(dir, "app.flow", &PROGRAM.replace("BASE", downstream.base()));
    (Served::in_dir(dir, &["app.flow"]), downstream)
}

/// Sends a webhook, which must start a run: its id.
fn fire(serve: &Served, path: &str, body: &str) -> String {
    support::run_id(support::post(&serve.addr, path, &[], body))
}

#[test]
fn list_and_show_a_webhook_run_with_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let (serve, downstream) = start(dir.path());
    let id = fire(&serve, "/orders", r#"{"id": "o-1", "amount": 3}"#);
    let detail = serve.wait_for_status(&id, "succeeded");
    assert_eq!(detail["run"]["output"], json!({"ok": true}));
    let sent: Vec<Json> = downstream
        .bodies("/notify")
        .iter()
        .map(|body| serde_json::from_str(body).unwrap())
        .collect();
    assert_eq!(sent, [json!({"id": "o-1", "amount": 3})]);

    // The table, not on a terminal: RFC 3339 start times.
    let done = serve.admin(&["runs", "list"]);
    assert_eq!(done.code, Some(0), "{done}");
    let mut lines = done.stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "WORKFLOW", "STATUS", "TRIGGER", "STARTED", "DURATION"]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&row[..4], [id.as_str(), "order", "succeeded", "webhook"]);
    assert!(row[4].ends_with('Z') && row[4].contains('T'), "{done}");
    assert!(!done.stdout.contains('\u{1b}'), "no colour into a pipe");

    let done = serve.admin(&["runs", "list", "--json"]);
    let json = done.json();
    assert_eq!(json["runs"][0]["id"], id.as_str());
    assert_eq!(json["runs"][0]["workflow"], "order");

    // Filters go to the server.
    let done = serve.admin(&["runs", "list", "--status", "failed"]);
    assert_eq!(done.code, Some(0), "{done}");
    assert_eq!(done.stdout, "", "{done}");
    assert!(done.stderr.contains("no runs"), "{done}");
    let done = serve.admin(&["runs", "list", "--workflow", "order", "--json"]);
    let json = done.json();
    assert_eq!(json["runs"].as_array().unwrap().len(), 1);
    let done = serve.admin(&["runs", "list", "--status", "bogus"]);
    assert_eq!(done.code, Some(2), "{done}");

    // Pages: --limit 1 with a second run leaves a cursor, --all follows it.
    let second = fire(&serve, "/orders", r#"{"id": "o-2", "amount": 4}"#);
    serve.wait_for_status(&second, "succeeded");
    let done = serve.admin(&["runs", "list", "--limit", "1", "--json"]);
    let json = done.json();
    assert_eq!(json["runs"].as_array().unwrap().len(), 1, "{done}");
    assert!(json["next"].is_string(), "{done}");
    let done = serve.admin(&["runs", "list", "--limit", "1", "--all", "--json"]);
    let json = done.json();
    let ids: Vec<&str> = json["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), id.as_str()], "newest first");

    // The human form: the header, then every step with its input and output.
    let done = serve.admin(&["runs", "show", &id]);
    assert_eq!(done.code, Some(0), "{done}");
    let text = &done.stdout;
    assert!(text.contains(&format!("run         {id}")), "{text}");
    assert!(text.contains("workflow    order"), "{text}");
    assert!(text.contains("deployment  version 1 ("), "{text}");
    assert!(text.contains("status      succeeded"), "{text}");
    assert!(text.contains("trigger     webhook"), "{text}");
    assert!(text.contains("took "), "{text}");
    assert!(text.contains("\"amount\": 3"), "the run's input: {text}");
    assert!(text.contains("\"ok\": true"), "the run's output: {text}");
    assert!(text.contains("1. quote  attempt 1  succeeded"), "{text}");
    assert!(text.contains("2. notify  attempt 1  succeeded"), "{text}");
    assert!(
        text.contains("/notify"),
        "the step's input has its URL: {text}"
    );
    assert!(text.contains("\"fine\": true"), "the step's output: {text}");
}

#[test]
fn retry_a_failed_run_and_replay_it() {
    let dir = tempfile::tempdir().unwrap();
    let (serve, downstream) = start(dir.path());
    let id = fire(&serve, "/flaky", r#"{"id": "j-1"}"#);
    let detail = serve.wait_for_status(&id, "failed");
    assert_eq!(detail["run"]["error"]["step"], "push");

    let done = serve.admin(&["runs", "show", &id]);
    assert!(done.stdout.contains("status      failed"), "{done}");
    assert!(done.stdout.contains("error       R01"), "{done}");
    assert!(done.stdout.contains("2. push  attempt 1  failed"), "{done}");

    // Cancelling a finished run is refused.
    let done = serve.admin(&["runs", "cancel", &id]);
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("run_finished"), "{done}");

    let done = serve.admin(&["runs", "retry", &id]);
    assert_eq!(done.code, Some(0), "{done}");
    assert!(
        done.stdout
            .contains(&format!("retrying run {id} from its failed step")),
        "{done}"
    );
    let detail = serve.wait_for_status(&id, "succeeded");
    assert_eq!(detail["run"]["output"], json!({"done": true}));
    assert_eq!(
        downstream.bodies("/prepare").len(),
        1,
        "the step that succeeded is not sent again"
    );
    assert_eq!(downstream.bodies("/push").len(), 2);

    // Retrying a run that has not failed is refused.
    let done = serve.admin(&["runs", "retry", &id]);
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("run_not_failed"), "{done}");

    // A replay is a new run; its input may be edited.
    let done = serve.admin(&["runs", "replay", &id, "--input", r#"{"id": "j-2"}"#]);
    assert_eq!(done.code, Some(0), "{done}");
    let new = done
        .stdout
        .strip_prefix("started run ")
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .to_string();
    assert_ne!(new, id);
    let replayed = serve.wait_for_status(&new, "succeeded");
    assert_eq!(replayed["run"]["input"], json!({"id": "j-2"}));
    assert!(
        downstream
            .bodies("/prepare")
            .contains(&r#"{"id":"j-2"}"#.to_string())
    );

    let done = serve.admin(&["runs", "replay", &id, "--json"]);
    assert_eq!(done.code, Some(0), "{done}");
    let json = done.json();
    let same = json["run_id"].as_str().unwrap();
    let replayed = serve.wait_for_status(same, "succeeded");
    assert_eq!(replayed["run"]["input"], json!({"id": "j-1"}));

    let done = serve.admin(&["runs", "replay", &id, "--input", "{oops"]);
    assert_eq!(done.code, Some(2), "{done}");
    assert!(done.stderr.contains("--input is not valid JSON"), "{done}");
}

#[test]
fn cancel_a_run_under_way() {
    let dir = tempfile::tempdir().unwrap();
    let (serve, downstream) = start(dir.path());
    let id = fire(&serve, "/slow", r#"{"id": "s-1"}"#);
    support::wait_until(
        Duration::from_secs(20),
        || !downstream.bodies("/crawl").is_empty(),
        || "timed out waiting for the slow step to start".into(),
    );
    let done = serve.admin(&["runs", "cancel", &id]);
    assert_eq!(done.code, Some(0), "{done}");
    assert_eq!(done.stdout, format!("cancelled run {id}\n"));
    let detail = serve.wait_for_status(&id, "cancelled");
    assert_eq!(detail["run"]["id"], id.as_str());
}

#[test]
fn tokens_unknown_runs_and_unreachable_servers() {
    let dir = tempfile::tempdir().unwrap();
    let (serve, _downstream) = start(dir.path());
    let url = serve.url();

    // No token anywhere: nothing is asked.
    let done = support::run(dir.path(), &["runs", "list", "--server", &url]);
    assert_eq!(done.code, Some(2), "{done}");
    assert!(
        done.stderr
            .contains("error: no admin token: cannot read flowc.admin-token"),
        "{done}"
    );

    // A wrong token: the server refuses.
    let done = Done::of(
        support::flowc(dir.path(), &["runs", "list", "--server", &url])
            .env("FLOWC_ADMIN_TOKEN", "not-the-token"),
    );
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("HTTP 401"), "{done}");
    assert!(done.stderr.contains("help: the admin token"), "{done}");

    // The right token from the environment, and the server from FLOWC_SERVER.
    let token = std::fs::read_to_string(serve.token_file()).unwrap();
    let done = Done::of(
        support::flowc(dir.path(), &["runs", "list", "--json"])
            .env("FLOWC_ADMIN_TOKEN", token.trim())
            .env("FLOWC_SERVER", &url),
    );
    assert_eq!(done.code, Some(0), "{done}");
    assert!(done.stdout.contains("\"runs\""), "{done}");

    let done = serve.admin(&["runs", "show", "01NOSUCHRUN0000000000000000"]);
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("run_not_found"), "{done}");
    assert_eq!(done.stderr.lines().count(), 1, "one line: {done}");

    let dead = support::dead_address();
    let done = support::run(
        dir.path(),
        &[
            "runs",
            "list",
            "--server",
            &dead,
            "--token-file",
            "data.admin-token",
        ],
    );
    assert_eq!(done.code, Some(2), "{done}");
    assert!(
        done.stderr
            .contains(&format!("error: cannot reach the flowc server at {dead}")),
        "{done}"
    );
    assert_eq!(done.stderr.lines().count(), 1, "one line: {done}");

    let done = support::run(
        dir.path(),
        &[
            "runs",
            "list",
            "--server",
            "ftp://x",
            "--token-file",
            "data.admin-token",
        ],
    );
    assert_eq!(done.code, Some(2), "{done}");
    assert!(done.stderr.contains("invalid server URL"), "{done}");
}
