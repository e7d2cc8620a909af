//! End-to-end tests of `flowc serve`: the real binary on a free loopback port
//! with a temp database, a webhook fired over TCP, the run's HTTP step received
//! by a recording server, the run read back from the database after a graceful
//! stop; and a program with errors deploying nothing.

#![allow(clippy::unwrap_used)]
#![allow(
    clippy::disallowed_methods,
    reason = "the polling loops are bounded by a wall-clock deadline; nothing asserts on time"
)]

mod support;

use flowc_runtime::store::Store as _;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{Recorder, Reply, Served};

const PROGRAM: &str = r#"
workflow order(order: { id: string, amount: int }) -> { ok: bool } {
  on webhook POST "/orders" {
    idempotency_key: order.id
  }
  step notify = http POST "BASE/notify" { json: { id: order.id } }
  return { ok: notify.status == 200 }
}
"#;

#[test]
fn serve_deploys_prints_the_webhooks_runs_a_delivery_and_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(|_| Reply::json(200, serde_json::json!({})));
    let bodies = || {
        recorder
            .requests()
            .iter()
            .map(support::Recorded::text)
            .collect::<Vec<_>>()
    };
    support::write(
        dir.path(),
        "app.flow",
        &PROGRAM.replace("BASE", recorder.base()),
    );
    let mut server = Served::start(
        dir.path(),
        &["app.flow", "--db", "data.db", "--addr", "127.0.0.1:0"],
        &[],
    )
    .unwrap_or_else(|output| panic!("exited early: {output}"));
    let addr = server.addr.clone();

    // The webhook URLs follow the `listening on` line.
    support::wait_until(
        Duration::from_secs(20),
        || server.output().contains("/orders"),
        || format!("no webhook URL printed: {}", server.output()),
    );
    let printed = server.output();
    assert!(
        printed.contains("deployed version 1 (hash sha256:"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!(
            "admin token: in {}",
            Path::new("data.admin-token").display()
        )),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("POST   http://{addr}/orders  → order")),
        "{printed}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for file in ["data.admin-token", "data.key"] {
            let mode = std::fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }

    let order = r#"{"id": "o-7", "amount": 3}"#;
    let (status, body) = support::post(&addr, "/orders", &[], order);
    let run = support::run_id((status, body.clone()));
    let (status, again) = support::post(&addr, "/orders", &[], order);
    assert_eq!((status, &again), (202, &body), "the same run again");

    let (status, missing) = support::post(&addr, "/nope", &[], "{}");
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&missing).unwrap()["code"],
        "not_found"
    );
    let (status, _) = support::post(&addr, "/orders", &[], r#"{"id": 7}"#);
    assert_eq!(status, 422);

    support::wait_until(
        Duration::from_secs(20),
        || recorder.count() > 0,
        || "the run's step never arrived".into(),
    );
    assert_eq!(bodies(), [r#"{"id":"o-7"}"#]);

    // Wait for the run to be stored as finished, then stop the server.
    let db = dir.path().join("data.db");
    let finished = wait_for_run(&db, &run);
    assert_eq!(finished, "succeeded");

    let exit = server.stop_with("INT");
    assert!(exit.success(), "{exit:?}");
    let output = server.output();
    assert!(output.contains("stopped"), "{output}");
    assert_eq!(bodies().len(), 1, "one delivery, one effect");
}

/// The run's status once it has ended, read through the store (bounded wait).
fn wait_for_run(db: &Path, run: &str) -> String {
    support::block_on(async {
        let store = flowc_runtime::store::sqlite::Options::new(db)
            .open()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let detail = store.get_run(run).await.unwrap().unwrap();
            if detail.run.status.is_terminal() {
                assert_eq!(detail.run.output, Some(serde_json::json!({ "ok": true })));
                return detail.run.status.as_str().to_string();
            }
            assert!(Instant::now() < deadline, "run {run} did not end");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
}

#[test]
fn a_program_with_errors_deploys_nothing() {
    let dir = tempfile::tempdir().unwrap();
    support::write(
        dir.path(),
        "bad.flow",
        "workflow w(x: { id: string }) {\n  on webhook POST \"/w\"\n  let y: int = \"no\"\n}\n",
    );
    let done = support::run(dir.path(), &["serve", "bad.flow", "--addr", "127.0.0.1:0"]);
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("] Error:"), "{done}");
    assert!(done.stderr.contains("nothing deployed"), "{done}");
    assert!(!dir.path().join("flowc.db").exists());
}
