//! End-to-end tests of `flowc runs`: the real `flowc serve` on a free loopback
//! port with a temp database, webhooks fired over TCP, then `flowc runs
//! list|show|retry|replay|cancel` against its admin API — and the ways a call
//! goes wrong: no token, a wrong token, an unknown run, a server that is not
//! there.

#![allow(clippy::unwrap_used)]

mod operator;

use operator::{Downstream, Serve, dead_address, request, wait_until};
use serde_json::Value as Json;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// `/push` refuses its first call and accepts every later one.
static PUSHES: AtomicUsize = AtomicUsize::new(0);

fn answer(path: &str) -> (u16, String) {
    match path {
        "/push" if PUSHES.fetch_add(1, Ordering::SeqCst) == 0 => {
            (400, r#"{"error": "not yet"}"#.into())
        }
        "/crawl" => {
            std::thread::sleep(std::time::Duration::from_secs(3));
            (200, "{}".into())
        }
        _ => (200, r#"{"fine": true}"#.into()),
    }
}

/// A server on the program, with its downstream.
fn start(dir: &Path) -> (Serve, Downstream) {
    let downstream = Downstream::start(answer);
    std::fs::write(
        dir.join("app.flow"),
        PROGRAM.replace("BASE", &downstream.base),
    )
    .unwrap();
    (Serve::start(dir, &["app.flow"]), downstream)
}

/// `flowc runs ARGS… --server URL --token-file data.admin-token`.
fn runs(dir: &Path, serve: &Serve, args: &[&str]) -> operator::Done {
    let url = serve.url();
    let mut all = vec!["runs"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--server", &url, "--token-file", "data.admin-token"]);
    operator::run(dir, &all)
}

fn fire(serve: &Serve, path: &str, body: &str) -> String {
    let (status, answer) = request(&serve.addr, "POST", path, body);
    assert_eq!(status, 202, "{answer}");
    let json: Json = serde_json::from_str(&answer).unwrap();
    json["run_id"].as_str().unwrap().to_string()
}

/// `runs show ID --json`, parsed.
fn detail(dir: &Path, serve: &Serve, id: &str) -> Json {
    let done = runs(dir, serve, &["show", id, "--json"]);
    assert_eq!(done.code, Some(0), "{done}");
    serde_json::from_str(&done.stdout).unwrap()
}

/// Waits until the run has status `status`, and returns its detail.
fn wait_for(dir: &Path, serve: &Serve, id: &str, status: &str) -> Json {
    let mut last = Json::Null;
    wait_until(
        || {
            last = detail(dir, serve, id);
            last["run"]["status"] == status
        },
        &format!("run {id} to be {status}"),
    );
    last
}

#[test]
fn list_and_show_a_webhook_run_with_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let (serve, downstream) = start(dir.path());
    let id = fire(&serve, "/orders", r#"{"id": "o-1", "amount": 3}"#);
    let detail = wait_for(dir.path(), &serve, &id, "succeeded");
    assert_eq!(detail["run"]["output"], serde_json::json!({"ok": true}));
    let sent: Vec<Json> = downstream
        .bodies("/notify")
        .iter()
        .map(|body| serde_json::from_str(body).unwrap())
        .collect();
    assert_eq!(sent, [serde_json::json!({"id": "o-1", "amount": 3})]);

    // The table, not on a terminal: RFC 3339 start times.
    let done = runs(dir.path(), &serve, &["list"]);
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

    let done = runs(dir.path(), &serve, &["list", "--json"]);
    let json: Json = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(json["runs"][0]["id"], id.as_str());
    assert_eq!(json["runs"][0]["workflow"], "order");

    // Filters go to the server.
    let done = runs(dir.path(), &serve, &["list", "--status", "failed"]);
    assert_eq!(done.code, Some(0), "{done}");
    assert_eq!(done.stdout, "", "{done}");
    assert!(done.stderr.contains("no runs"), "{done}");
    let done = runs(
        dir.path(),
        &serve,
        &["list", "--workflow", "order", "--json"],
    );
    let json: Json = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 1);
    let done = runs(dir.path(), &serve, &["list", "--status", "bogus"]);
    assert_eq!(done.code, Some(2), "{done}");

    // Pages: --limit 1 with a second run leaves a cursor, --all follows it.
    let second = fire(&serve, "/orders", r#"{"id": "o-2", "amount": 4}"#);
    wait_for(dir.path(), &serve, &second, "succeeded");
    let done = runs(dir.path(), &serve, &["list", "--limit", "1", "--json"]);
    let json: Json = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 1, "{done}");
    assert!(json["next"].is_string(), "{done}");
    let done = runs(
        dir.path(),
        &serve,
        &["list", "--limit", "1", "--all", "--json"],
    );
    let json: Json = serde_json::from_str(&done.stdout).unwrap();
    let ids: Vec<&str> = json["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), id.as_str()], "newest first");

    // The human form: the header, then every step with its input and output.
    let done = runs(dir.path(), &serve, &["show", &id]);
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
    let detail = wait_for(dir.path(), &serve, &id, "failed");
    assert_eq!(detail["run"]["error"]["step"], "push");

    let done = runs(dir.path(), &serve, &["show", &id]);
    assert!(done.stdout.contains("status      failed"), "{done}");
    assert!(done.stdout.contains("error       R01"), "{done}");
    assert!(done.stdout.contains("2. push  attempt 1  failed"), "{done}");

    // Cancelling a finished run is refused.
    let done = runs(dir.path(), &serve, &["cancel", &id]);
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("run_finished"), "{done}");

    let done = runs(dir.path(), &serve, &["retry", &id]);
    assert_eq!(done.code, Some(0), "{done}");
    assert!(
        done.stdout
            .contains(&format!("retrying run {id} from its failed step")),
        "{done}"
    );
    let detail = wait_for(dir.path(), &serve, &id, "succeeded");
    assert_eq!(detail["run"]["output"], serde_json::json!({"done": true}));
    assert_eq!(
        downstream.bodies("/prepare").len(),
        1,
        "the step that succeeded is not sent again"
    );
    assert_eq!(downstream.bodies("/push").len(), 2);

    // Retrying a run that has not failed is refused.
    let done = runs(dir.path(), &serve, &["retry", &id]);
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("run_not_failed"), "{done}");

    // A replay is a new run; its input may be edited.
    let done = runs(
        dir.path(),
        &serve,
        &["replay", &id, "--input", r#"{"id": "j-2"}"#],
    );
    assert_eq!(done.code, Some(0), "{done}");
    let new = done
        .stdout
        .strip_prefix("started run ")
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .to_string();
    assert_ne!(new, id);
    let replayed = wait_for(dir.path(), &serve, &new, "succeeded");
    assert_eq!(replayed["run"]["input"], serde_json::json!({"id": "j-2"}));
    assert!(
        downstream
            .bodies("/prepare")
            .contains(&r#"{"id":"j-2"}"#.to_string())
    );

    let done = runs(dir.path(), &serve, &["replay", &id, "--json"]);
    assert_eq!(done.code, Some(0), "{done}");
    let json: Json = serde_json::from_str(&done.stdout).unwrap();
    let same = json["run_id"].as_str().unwrap();
    let replayed = wait_for(dir.path(), &serve, same, "succeeded");
    assert_eq!(replayed["run"]["input"], serde_json::json!({"id": "j-1"}));

    let done = runs(dir.path(), &serve, &["replay", &id, "--input", "{oops"]);
    assert_eq!(done.code, Some(2), "{done}");
    assert!(done.stderr.contains("--input is not valid JSON"), "{done}");
}

#[test]
fn cancel_a_run_under_way() {
    let dir = tempfile::tempdir().unwrap();
    let (serve, downstream) = start(dir.path());
    let id = fire(&serve, "/slow", r#"{"id": "s-1"}"#);
    wait_until(
        || !downstream.bodies("/crawl").is_empty(),
        "the slow step to start",
    );
    let done = runs(dir.path(), &serve, &["cancel", &id]);
    assert_eq!(done.code, Some(0), "{done}");
    assert_eq!(done.stdout, format!("cancelled run {id}\n"));
    let detail = wait_for(dir.path(), &serve, &id, "cancelled");
    assert_eq!(detail["run"]["id"], id.as_str());
}

#[test]
fn tokens_unknown_runs_and_unreachable_servers() {
    let dir = tempfile::tempdir().unwrap();
    let (serve, _downstream) = start(dir.path());
    let url = serve.url();

    // No token anywhere: nothing is asked.
    let done = operator::run(dir.path(), &["runs", "list", "--server", &url]);
    assert_eq!(done.code, Some(2), "{done}");
    assert!(
        done.stderr
            .contains("error: no admin token: cannot read flowc.admin-token"),
        "{done}"
    );

    // A wrong token: the server refuses.
    let done = operator::Done::of(
        operator::flowc(dir.path(), &["runs", "list", "--server", &url])
            .env("FLOWC_ADMIN_TOKEN", "not-the-token"),
    );
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("HTTP 401"), "{done}");
    assert!(done.stderr.contains("help: the admin token"), "{done}");

    // The right token from the environment, and the server from FLOWC_SERVER.
    let token = std::fs::read_to_string(operator::token_file(dir.path())).unwrap();
    let done = operator::Done::of(
        operator::flowc(dir.path(), &["runs", "list", "--json"])
            .env("FLOWC_ADMIN_TOKEN", token.trim())
            .env("FLOWC_SERVER", &url),
    );
    assert_eq!(done.code, Some(0), "{done}");
    assert!(done.stdout.contains("\"runs\""), "{done}");

    let done = runs(dir.path(), &serve, &["show", "01NOSUCHRUN0000000000000000"]);
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("run_not_found"), "{done}");
    assert_eq!(done.stderr.lines().count(), 1, "one line: {done}");

    let dead = dead_address();
    let done = operator::run(
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

    let done = operator::run(
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
