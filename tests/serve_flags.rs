//! `flowc serve --no-admin-token`: the admin API open for local tools on a
//! loopback address, and refused (exit 2, one line, nothing created) on any
//! other address.

#![allow(clippy::unwrap_used)]

mod support;

use support::Served;

const PROGRAM: &str = r#"
workflow greet(person: { name: string }) -> { greeting: string } {
  on manual
  return { greeting: "hi ${person.name}" }
}
"#;

#[test]
fn no_admin_token_is_refused_on_an_address_that_is_not_loopback() {
    let dir = tempfile::tempdir().unwrap();
    support::write(dir.path(), "app.flow", PROGRAM);
    for addr in [
        "0.0.0.0:0",
        "[::]:0",
        "192.0.2.1:8080",
        "[::ffff:10.0.0.1]:0",
    ] {
        let done = support::run(
            dir.path(),
            &[
                "serve",
                "app.flow",
                "--db",
                "data.db",
                "--addr",
                addr,
                "--no-admin-token",
            ],
        );
        assert_eq!(done.code, Some(2), "{addr}: {done}");
        let lines: Vec<&str> = done.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{addr}: {done}");
        assert!(
            lines[0].starts_with("error: --no-admin-token opens the admin API"),
            "{addr}: {done}"
        );
        assert!(lines[0].contains("loopback"), "{addr}: {done}");
        assert!(done.stdout.is_empty(), "{addr}: {done}");
        // Refused before anything was opened or written.
        assert!(!dir.path().join("data.db").exists(), "{addr}");
        assert!(!dir.path().join("data.admin-token").exists(), "{addr}");
    }
}

#[test]
fn no_admin_token_on_loopback_serves_the_admin_api_without_a_token() {
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
            "--no-admin-token",
        ],
        &[],
    )
    .unwrap_or_else(|output| panic!("flowc serve did not start:\n{output}"));
    assert!(
        server.output().contains("admin token: none"),
        "{}",
        server.output()
    );
    assert!(!dir.path().join("data.admin-token").exists());
    let (status, body) = support::send(&server.addr, "GET", "/api/v1/workflows", &[], "").unwrap();
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["workflows"][0]["name"], "greet");
    // A token, right or not, changes nothing when none is configured.
    let (status, _) = support::send(
        &server.addr,
        "GET",
        "/api/v1/runs",
        &[("Authorization", "Bearer anything")],
        "",
    )
    .unwrap();
    assert_eq!(status, 200);
    assert!(server.stop().success(), "{}", server.output());
}

#[test]
fn without_the_flag_the_admin_api_still_needs_the_token() {
    let dir = tempfile::tempdir().unwrap();
    support::write(dir.path(), "app.flow", PROGRAM);
    let mut server = Served::in_dir(dir.path(), &["app.flow"]);
    let (status, _) = support::send(&server.addr, "GET", "/api/v1/workflows", &[], "").unwrap();
    assert_eq!(status, 401);
    // The document is public either way.
    let (status, body) =
        support::send(&server.addr, "GET", "/api/v1/openapi.json", &[], "").unwrap();
    assert_eq!(status, 200);
    let document: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert!(server.stop().success(), "{}", server.output());
}
