//! End-to-end tests of the egress flags: `flowc serve` refuses a step's call to
//! loopback or cloud metadata (the run fails with R0111, the loopback server never
//! sees a request) while a workflow calling the server's own address works, as the
//! quickstart does; `--allow-private-network` says loudly that the guard is off;
//! `flowc run` opens loopback but not the rest; a bad `--allow-egress` is refused.

#![allow(clippy::unwrap_used)]
#![allow(
    clippy::disallowed_methods,
    reason = "the polling loops are bounded by a wall-clock deadline; nothing asserts on time"
)]

mod support;

use flowc_runtime::store::Store as _;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{Recorder, Reply, Served};

const PROGRAM: &str = r#"
workflow echo(body: { n: int }) -> { n: int } {
  on webhook POST "/echo" {
    respond: wait
  }
  return { n: body.n }
}

workflow own(body: { n: int }) -> { n: int } {
  on webhook POST "/own"
  step answer = http POST "http://127.0.0.1:PORT/echo" { json: { n: body.n } } -> { n: int }
  return { n: answer.body.n }
}

workflow loopback(body: { n: int }) -> { n: int } {
  on webhook POST "/loopback"
  step steal = http GET "RECORDER/secret"
  return { n: body.n }
}

workflow metadata(body: { n: int }) -> { n: int } {
  on webhook POST "/metadata"
  step steal = http GET "http://169.254.169.254/latest/meta-data/iam/"
  return { n: body.n }
}
"#;

/// The run once it has ended, read through the store (bounded wait).
fn ended(db: &Path, run: &str) -> flowc_runtime::store::Run {
    support::block_on(async {
        let store = flowc_runtime::store::sqlite::Options::new(db)
            .open()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let detail = store.get_run(run).await.unwrap().unwrap();
            if detail.run.status.is_terminal() {
                return detail.run;
            }
            assert!(Instant::now() < deadline, "run {run} did not end");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
}

#[test]
fn serve_refuses_private_addresses_and_keeps_its_own_address_open() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(|_| Reply::json(200, serde_json::json!({})));
    let port = support::free_port();
    support::write(
        dir.path(),
        "app.flow",
        &PROGRAM
            .replace("PORT", &port.to_string())
            .replace("RECORDER", recorder.base()),
    );
    let addr = format!("127.0.0.1:{port}");
    let server = Served::start(
        dir.path(),
        &[
            "app.flow",
            "--db",
            "data.db",
            "--addr",
            &addr,
            "--allow-egress",
            "10.99.0.0/16",
        ],
        &[],
    )
    .unwrap_or_else(|output| panic!("exited early: {output}"));
    support::wait_until(
        Duration::from_secs(20),
        || server.output().contains("outbound calls may reach"),
        || format!("no egress line: {}", server.output()),
    );
    let printed = server.output();
    assert!(
        printed.contains(&format!(
            "outbound calls may reach: public addresses, 10.99.0.0/16, this server ({addr})"
        )),
        "{printed}"
    );

    let db = dir.path().join("data.db");
    let run = support::run_id(support::post(&addr, "/own", &[], r#"{"n": 7}"#));
    let own = ended(&db, &run);
    assert_eq!(own.status.as_str(), "succeeded", "{:?}", own.error);
    assert_eq!(own.output, Some(serde_json::json!({ "n": 7 })));

    for path in ["/loopback", "/metadata"] {
        let run = support::run_id(support::post(&addr, path, &[], r#"{"n": 1}"#));
        let failed = ended(&db, &run);
        assert_eq!(failed.status.as_str(), "failed", "{path}");
        let error = failed.error.unwrap_or(Value::Null);
        let text = error.to_string();
        assert!(text.contains("R0111"), "{path}: {text}");
        assert!(text.contains("refused to connect"), "{path}: {text}");
    }
    assert_eq!(recorder.count(), 0, "the loopback server was called");
}

#[test]
fn allow_private_network_warns_that_the_guard_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(|_| Reply::json(200, serde_json::json!({})));
    let port = support::free_port();
    support::write(
        dir.path(),
        "app.flow",
        &PROGRAM
            .replace("PORT", &port.to_string())
            .replace("RECORDER", recorder.base()),
    );
    let addr = format!("127.0.0.1:{port}");
    let server = Served::start(
        dir.path(),
        &[
            "app.flow",
            "--db",
            "data.db",
            "--addr",
            &addr,
            "--allow-private-network",
        ],
        &[],
    )
    .unwrap_or_else(|output| panic!("exited early: {output}"));
    support::wait_until(
        Duration::from_secs(20),
        || server.output().contains("egress guard is off"),
        || format!("no warning: {}", server.output()),
    );
    assert!(
        server.output().contains(
            "warning: the egress guard is off (--allow-private-network): steps may call \
             loopback, private networks and cloud metadata (169.254.169.254)"
        ),
        "{}",
        server.output()
    );
    let db = dir.path().join("data.db");
    let run = support::run_id(support::post(&addr, "/loopback", &[], r#"{"n": 1}"#));
    assert_eq!(ended(&db, &run).status.as_str(), "succeeded");
    assert_eq!(recorder.count(), 1);
}

#[test]
fn flowc_run_opens_loopback_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(|_| Reply::json(200, serde_json::json!({})));
    support::write(
        dir.path(),
        "app.flow",
        &PROGRAM
            .replace("PORT", "9")
            .replace("RECORDER", recorder.base()),
    );
    let input = ["--input", r#"{"n": 3}"#];
    let done = support::run(
        dir.path(),
        &[&["run", "app.flow", "--workflow", "loopback"], &input[..]].concat(),
    );
    assert_eq!(done.code, Some(0), "{done}");
    assert_eq!(recorder.count(), 1);

    let done = support::run(
        dir.path(),
        &[&["run", "app.flow", "--workflow", "metadata"], &input[..]].concat(),
    );
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("R0111"), "{done}");
    assert!(done.stderr.contains("169.254.169.254"), "{done}");
    assert!(done.stdout.is_empty(), "{done}");
}

#[test]
fn a_bad_allow_egress_entry_is_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for (entry, says) in [
        ("10.0.0.1/8", "host bits set"),
        ("127.1", "short form"),
        ("not a host", "not a CIDR"),
    ] {
        let done = support::run(
            dir.path(),
            &["serve", "--db", "data.db", "--allow-egress", entry],
        );
        assert_eq!(done.code, Some(2), "{entry}: {done}");
        assert!(done.stderr.contains(says), "{entry}: {done}");
        assert!(!dir.path().join("data.db").exists(), "{entry}");
    }
}
