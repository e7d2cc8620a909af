//! `flowc serve --metrics-addr`: the metrics on a second address without a
//! token when it is loopback, refused (exit 2, one line, nothing created) on any
//! other address unless `--metrics-public`; and `GET /metrics` on the main
//! address behind the admin token either way.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;
use support::Served;

const PROGRAM: &str = r#"
workflow greet(person: { name: string }) -> { greeting: string } {
  on manual
  return { greeting: "hi ${person.name}" }
}
"#;

#[test]
fn a_metrics_address_off_loopback_is_refused_without_metrics_public() {
    let dir = tempfile::tempdir().unwrap();
    support::write(dir.path(), "app.flow", PROGRAM);
    for addr in ["0.0.0.0:0", "[::]:0", "192.0.2.1:9464"] {
        let done = support::run(
            dir.path(),
            &[
                "serve",
                "app.flow",
                "--db",
                "data.db",
                "--addr",
                "127.0.0.1:0",
                "--metrics-addr",
                addr,
            ],
        );
        assert_eq!(done.code, Some(2), "{addr}: {done}");
        let lines: Vec<&str> = done.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{addr}: {done}");
        assert!(
            lines[0].starts_with("error: the metrics address ")
                && lines[0].contains("is not loopback")
                && lines[0].contains("--metrics-public"),
            "{addr}: {done}"
        );
        assert!(done.stdout.is_empty(), "{addr}: {done}");
        assert!(!dir.path().join("data.db").exists(), "{addr}");
        assert!(!dir.path().join("data.admin-token").exists(), "{addr}");
    }
    // `--metrics-public` means nothing without an address.
    let done = support::run(dir.path(), &["serve", "--metrics-public"]);
    assert_eq!(done.code, Some(2), "{done}");
    assert!(done.stderr.contains("--metrics-addr"), "{done}");
}

#[test]
fn a_loopback_metrics_address_serves_the_scrape_without_the_token() {
    let dir = tempfile::tempdir().unwrap();
    support::write(dir.path(), "app.flow", PROGRAM);
    let mut server = Served::start(
        dir.path(),
        &[
            "app.flow",
            "--db",
            "data.db",
            "--addr",
            "127.0.0.1:0",
            "--metrics-addr",
            "127.0.0.1:0",
        ],
        &[],
    )
    .unwrap_or_else(|output| panic!("flowc serve did not start:\n{output}"));
    support::wait_until(
        Duration::from_secs(10),
        || server.output().contains("metrics on http://"),
        || format!("no `metrics on` line:\n{}", server.output()),
    );
    let output = server.output();
    let metrics = output
        .lines()
        .find_map(|line| line.strip_prefix("metrics on http://"))
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_string();
    assert_ne!(metrics, server.addr);

    let (status, body) = support::send(&metrics, "GET", "/metrics", &[], "").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("# TYPE flowc_runs_started_total counter\n"),
        "{body}"
    );

    // The main address wants the admin token for the same text.
    let (status, body) = support::send(&server.addr, "GET", "/metrics", &[], "").unwrap();
    assert_eq!(status, 401, "{body}");
    let token = std::fs::read_to_string(server.token_file()).unwrap();
    let bearer = format!("Bearer {}", token.trim());
    let (status, body) = support::send(
        &server.addr,
        "GET",
        "/metrics",
        &[("Authorization", &bearer)],
        "",
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("# TYPE flowc_webhook_requests_total counter\n"),
        "{body}"
    );
    assert!(server.stop().success(), "{}", server.output());
}
