//! End-to-end tests of `flowc webhooks deliveries`: the real `flowc serve` on a
//! free loopback port, webhooks fired over TCP (accepted, repeated, refused, and
//! to a path no webhook has), then the history through the admin API as a table
//! and as JSON.

#![allow(clippy::unwrap_used)]

mod support;

use support::Served;

const PROGRAM: &str = r#"
workflow order(order: { id: string }) {
  on webhook POST "/orders" {
    idempotency_key: order.id
  }
}

workflow other(x: { id: string }) {
  on webhook POST "/other"
}
"#;

fn served(dir: &std::path::Path) -> Served {
    support::write(dir, "app.flow", PROGRAM);
    let served = Served::in_dir(dir, &["app.flow"]);
    let json = [("Content-Type", "application/json")];
    support::run_id(support::post(
        &served.addr,
        "/orders",
        &json,
        r#"{"id": "o-1"}"#,
    ));
    support::run_id(support::post(
        &served.addr,
        "/orders",
        &json,
        r#"{"id": "o-1"}"#,
    ));
    let (status, _) = support::post(&served.addr, "/orders", &json, r#"{"id": 7}"#);
    assert_eq!(status, 422);
    let (status, _) = support::post(&served.addr, "/nowhere", &json, r#"{"id": "x"}"#);
    assert_eq!(status, 404);
    support::run_id(support::post(
        &served.addr,
        "/other",
        &json,
        r#"{"id": "x"}"#,
    ));
    served
}

#[test]
fn deliveries_are_listed_newest_first_with_outcome_status_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let served = served(dir.path());
    let done = served.admin(&["webhooks", "deliveries", "--color", "never"]);
    assert_eq!(done.code, Some(0), "{done}");
    let lines: Vec<&str> = done.stdout.lines().collect();
    assert!(lines[0].starts_with("RECEIVED"), "{done}");
    assert_eq!(
        lines.len(),
        5,
        "a header and four deliveries, no 404: {done}"
    );
    let columns = |line: &str| -> Vec<String> {
        line.split_whitespace()
            .skip(1)
            .take(4)
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(columns(lines[1]), ["accepted", "202", "POST", "/other"]);
    assert_eq!(columns(lines[2]), ["rejected", "422", "POST", "/orders"]);
    assert!(
        lines[2].ends_with("input mismatch at $.id: expected string"),
        "{done}"
    );
    assert_eq!(columns(lines[3]), ["duplicate", "202", "POST", "/orders"]);
    assert_eq!(columns(lines[4]), ["accepted", "202", "POST", "/orders"]);
    assert!(!done.stdout.contains("/nowhere"));
}

#[test]
fn deliveries_filter_by_path_and_outcome_and_print_json() {
    let dir = tempfile::tempdir().unwrap();
    let served = served(dir.path());
    let done = served.admin(&[
        "webhooks",
        "deliveries",
        "/orders",
        "--outcome",
        "rejected",
        "--json",
    ]);
    assert_eq!(done.code, Some(0), "{done}");
    let json = done.json();
    let deliveries = json["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{json:#}");
    assert_eq!(deliveries[0]["status"], 422);
    assert_eq!(deliveries[0]["run"], serde_json::Value::Null);
    assert_eq!(json["next"], serde_json::Value::Null);

    // Pages of one, followed to the end.
    let done = served.admin(&[
        "webhooks",
        "deliveries",
        "/orders",
        "--limit",
        "1",
        "--all",
        "--json",
    ]);
    assert_eq!(done.code, Some(0), "{done}");
    assert_eq!(done.json()["deliveries"].as_array().unwrap().len(), 3);

    let done = served.admin(&["webhooks", "deliveries", "/nowhere"]);
    assert_eq!(done.code, Some(0), "{done}");
    assert!(done.stderr.contains("no deliveries to /nowhere"), "{done}");
}

#[test]
fn deliveries_refuse_bad_arguments_and_a_missing_token() {
    let dir = tempfile::tempdir().unwrap();
    let served = served(dir.path());
    let done = served.admin(&["webhooks", "deliveries", "--outcome", "lost"]);
    assert_eq!(done.code, Some(2), "{done}");
    let url = served.url();
    let done = support::run(
        dir.path(),
        &[
            "webhooks",
            "deliveries",
            "--server",
            &url,
            "--token-file",
            "missing",
        ],
    );
    assert_eq!(done.code, Some(2), "{done}");
    assert!(done.stderr.contains("no admin token"), "{done}");
}
