//! End-to-end tests of `flowc deploy`: the real `flowc serve` on a free loopback
//! port with an empty temp database, programs deployed to it through the admin
//! API and their webhooks answering; sources with errors never sent; the
//! server's refusals (missing secrets, a claimed webhook, a wrong token) one
//! readable line each with exit 1; no token or no server, exit 2.

#![allow(clippy::unwrap_used)]

mod support;

use support::{Done, Served, run_with_stdin};

const ORDERS: &str = r#"
workflow order(order: { id: string }) -> { id: string } {
  on webhook POST "/orders"
  return { id: order.id }
}
"#;

/// Another workflow claiming the same webhook.
const RIVAL: &str = r#"
workflow rival(order: { id: string }) {
  on webhook POST "/orders"
  return
}
"#;

const WITH_SECRETS: &str = r#"
workflow notify(note: { id: string }) {
  on webhook POST "/notify"
  step send = http POST "http://127.0.0.1:9/hook" {
    headers: { "X-Api-Key": secrets.HOOK_KEY, "X-Other": secrets.OTHER_KEY }
    json: { id: note.id }
  }
  return
}

workflow ping(note: { id: string }) {
  on webhook POST "/ping"
  step send = http POST "http://127.0.0.1:9/ping" {
    headers: { "X-Api-Key": secrets.HOOK_KEY }
    json: { id: note.id }
  }
  return
}
"#;

#[test]
fn a_deployed_program_serves_its_webhooks() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Served::in_dir(dir.path(), &[]);
    support::write(dir.path(), "orders.flow", ORDERS);

    let (status, _) = support::post(&serve.addr, "/orders", &[], r#"{"id": "a"}"#);
    assert_eq!(status, 404, "nothing deployed yet");

    let done = serve.admin(&["deploy", "orders.flow"]);
    assert_eq!(done.code, Some(0), "{done}");
    assert!(
        done.stdout.starts_with("deployed version 1 (hash sha256:"),
        "{done}"
    );
    assert!(done.stdout.contains("), active\n"), "{done}");
    assert!(
        done.stdout
            .contains(&format!("  POST   {}/orders  → order", serve.url())),
        "{done}"
    );
    let (status, body) = support::post(&serve.addr, "/orders", &[], r#"{"id": "a"}"#);
    assert_eq!(status, 202, "{body}");

    // The same program again is the same deployment.
    let done = serve.admin(&["deploy", "orders.flow"]);
    assert_eq!(done.code, Some(0), "{done}");
    assert!(done.stdout.contains("version 1 "), "{done}");
}

#[test]
fn imports_travel_with_the_program_and_no_activate_keeps_it_inactive() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Served::in_dir(dir.path(), &[]);
    let app = dir.path().join("app");
    std::fs::create_dir_all(app.join("lib")).unwrap();
    support::write(
        &app,
        "lib/types.flow",
        "type Order = { id: string, total: int }\n",
    );
    support::write(
        &app,
        "main.flow",
        "import \"lib/types.flow\"\n\nworkflow take(order: Order) -> int {\n  on webhook POST \"/take\"\n  return order.total\n}\n",
    );

    let done = serve.admin(&["deploy", "app/main.flow", "--no-activate"]);
    assert_eq!(done.code, Some(0), "{done}");
    assert!(done.stdout.contains("), not active\n"), "{done}");
    let (status, _) = support::post(&serve.addr, "/take", &[], r#"{"id": "a", "total": 1}"#);
    assert_eq!(status, 404, "an inactive deployment serves nothing");

    let done = serve.admin(&["deploy", "app/"]);
    assert_eq!(done.code, Some(0), "{done}");
    assert!(done.stdout.contains("), active\n"), "{done}");
    let (status, body) = support::post(&serve.addr, "/take", &[], r#"{"id": "a", "total": 1}"#);
    assert_eq!(status, 202, "{body}");
}

#[test]
fn sources_with_errors_are_never_sent() {
    let dir = tempfile::tempdir().unwrap();
    support::write(
        dir.path(),
        "bad.flow",
        "workflow w(x: { id: string }) {\n  let y: int = \"no\"\n}\n",
    );
    // Nothing listens at this address: sending anything would exit 2.
    let dead = support::dead_address();
    let done = support::run(dir.path(), &["deploy", "bad.flow", "--server", &dead]);
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("] Error:"), "{done}");
    assert!(done.stderr.contains("1 error; nothing sent"), "{done}");
}

#[test]
fn missing_secrets_are_listed_with_their_workflows_until_they_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Served::in_dir(dir.path(), &[]);
    support::write(dir.path(), "hooks.flow", WITH_SECRETS);

    let done = serve.admin(&["deploy", "hooks.flow"]);
    assert_eq!(done.code, Some(1), "{done}");
    assert_eq!(done.stdout, "", "{done}");
    let errors: Vec<&str> = done
        .stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect();
    assert_eq!(
        errors,
        [
            "error: secret `HOOK_KEY` is not in the server's vault, used by `notify`, `ping`; \
             set it with `flowc secrets set HOOK_KEY`",
            "error: secret `OTHER_KEY` is not in the server's vault, used by `notify`; \
             set it with `flowc secrets set OTHER_KEY`",
        ],
        "{done}"
    );

    for name in ["HOOK_KEY", "OTHER_KEY"] {
        let done = run_with_stdin(
            dir.path(),
            &["secrets", "set", name, "--db", "data.db"],
            "value-of-the-key",
        );
        assert_eq!(done.code, Some(0), "{done}");
    }
    let done = serve.admin(&["deploy", "hooks.flow"]);
    assert_eq!(done.code, Some(0), "{done}");
    assert!(!done.stdout.contains("value-of-the-key"));
}

#[test]
fn a_webhook_claimed_by_another_active_deployment_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Served::in_dir(dir.path(), &[]);
    support::write(dir.path(), "orders.flow", ORDERS);
    support::write(dir.path(), "rival.flow", RIVAL);
    assert_eq!(serve.admin(&["deploy", "orders.flow"]).code, Some(0));

    let done = serve.admin(&["deploy", "rival.flow"]);
    assert_eq!(done.code, Some(1), "{done}");
    assert!(
        done.stderr.contains("(HTTP 409, webhook_conflict)"),
        "{done}"
    );
    assert!(done.stderr.contains("/orders"), "{done}");
    assert_eq!(done.stderr.lines().count(), 1, "one line: {done}");
}

#[test]
fn no_token_a_wrong_token_and_no_server() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Served::in_dir(dir.path(), &[]);
    support::write(dir.path(), "orders.flow", ORDERS);
    let url = serve.url();

    let done = support::run(dir.path(), &["deploy", "orders.flow", "--server", &url]);
    assert_eq!(done.code, Some(2), "{done}");
    assert!(done.stderr.contains("error: no admin token"), "{done}");

    let done = Done::of(
        support::flowc(dir.path(), &["deploy", "orders.flow", "--server", &url])
            .env("FLOWC_ADMIN_TOKEN", "wrong"),
    );
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("HTTP 401"), "{done}");
    let (status, _) = support::post(&serve.addr, "/orders", &[], r#"{"id": "a"}"#);
    assert_eq!(status, 404, "nothing was deployed");

    let dead = support::dead_address();
    let done = Done::of(
        support::flowc(dir.path(), &["deploy", "orders.flow"])
            .env("FLOWC_ADMIN_TOKEN", "any")
            .env("FLOWC_SERVER", &dead),
    );
    assert_eq!(done.code, Some(2), "{done}");
    assert_eq!(
        done.stderr.lines().collect::<Vec<_>>(),
        [format!(
            "error: cannot reach the flowc server at {dead}: Connection refused"
        )],
        "{done}"
    );
}
