//! End-to-end tests of `flowc approve` and `flowc reject`: the real `flowc serve`
//! on a free loopback port, a run started by a webhook that parks on an
//! approval, then decided through the admin API by the commands; and the handle
//! URLs `--public-url` (or the address listened on) gives out.

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value as Json, json};
use std::path::Path;
use std::time::Duration;
use support::Served;

const PROGRAM: &str = r#"
workflow refund(r: { id: string }) -> { approved: bool, by: string?, comment: string? } {
  on webhook POST "/refunds"
  let review = approval(timeout: 24h, message: "Refund ${r.id} needs a look")
  step decision = await review
  return decision
}
"#;

fn start(dir: &Path, extra: &[&str]) -> Served {
    support::write(dir, "app.flow", PROGRAM);
    let args = [
        &["app.flow", "--db", "data.db", "--addr", "127.0.0.1:0"],
        extra,
    ]
    .concat();
    Served::start(dir, &args, &[]).unwrap_or_else(|output| panic!("did not start:\n{output}"))
}

/// A refund run parked on its approval: its id and the handle's URLs.
fn parked(serve: &Served, id: &str) -> (String, Json) {
    let run = support::run_id(support::post(
        &serve.addr,
        "/refunds",
        &[],
        &json!({ "id": id }).to_string(),
    ));
    let detail = serve.wait_for_status(&run, "waiting");
    let handle = detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["path"] == "review")
        .unwrap_or_else(|| panic!("no handle step: {detail}"))["output"]
        .clone();
    (run, handle)
}

#[test]
fn approve_resumes_a_waiting_run_which_then_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let serve = start(dir.path(), &[]);
    let (run, handle) = parked(&serve, "r-1");
    // Without --public-url, handle URLs start with the address listened on.
    let review = handle["review_url"].as_str().unwrap();
    let base = serve.url();
    assert!(
        review.starts_with(&format!("{base}/approvals/")),
        "{handle}"
    );
    let (status, page) = support::send(&serve.addr, "GET", &review[base.len()..], &[], "").unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Refund r-1 needs a look"), "{page}");

    let done = serve.admin(&["approve", &run, "--comment", "ok"]);
    assert_eq!(done.code, Some(0), "{done}");
    assert_eq!(done.stdout, format!("approved run {run} (step review)\n"));
    let detail = serve.wait_for_status(&run, "succeeded");
    assert_eq!(
        detail["run"]["output"],
        json!({ "approved": true, "by": null, "comment": "ok" })
    );

    // Decided: nothing is left to approve, and the review page is gone.
    let done = serve.admin(&["approve", &run]);
    assert_eq!(done.code, Some(1), "{done}");
    assert_eq!(done.stdout, "");
    assert!(
        done.stderr.contains(&format!(
            "error: run `{run}` is not waiting for an approval"
        )),
        "{done}"
    );
    assert!(done.stderr.contains("no_open_approval"), "{done}");
    let (status, _) = support::send(&serve.addr, "GET", &review[base.len()..], &[], "").unwrap();
    assert_eq!(status, 410);
    let done = serve.admin(&["reject", "no-such-run"]);
    assert_eq!(done.code, Some(1), "{done}");
    assert!(done.stderr.contains("run_not_found"), "{done}");
}

#[test]
fn reject_makes_the_decision_false() {
    let dir = tempfile::tempdir().unwrap();
    let serve = start(dir.path(), &[]);
    let (run, _) = parked(&serve, "r-2");
    let done = serve.admin(&["reject", &run, "--by", "bob", "--comment", "too much"]);
    assert_eq!(done.code, Some(0), "{done}");
    assert_eq!(done.stdout, format!("rejected run {run} (step review)\n"));
    let detail = serve.wait_for_status(&run, "succeeded");
    assert_eq!(
        detail["run"]["output"],
        json!({ "approved": false, "by": "bob", "comment": "too much" })
    );
}

#[test]
fn public_url_is_where_handle_urls_point() {
    let dir = tempfile::tempdir().unwrap();
    let serve = start(
        dir.path(),
        &["--public-url", "https://flows.example.com/base/"],
    );
    support::wait_until(
        Duration::from_secs(20),
        || {
            serve
                .output()
                .contains("callback and approval URLs start with https://flows.example.com/base\n")
        },
        || {
            format!(
                "the base of handle URLs is not printed:\n{}",
                serve.output()
            )
        },
    );
    let (_, handle) = parked(&serve, "r-3");
    for (field, suffix) in [
        ("review_url", ""),
        ("approve_url", "/approve"),
        ("reject_url", "/reject"),
    ] {
        let url = handle[field].as_str().unwrap();
        let token = url
            .strip_prefix("https://flows.example.com/base/approvals/")
            .and_then(|rest| rest.strip_suffix(suffix))
            .unwrap_or_else(|| panic!("{field}: {url}"));
        assert_eq!(token.len(), 32, "{url}");
    }

    let done = support::run(
        dir.path(),
        &[
            "serve",
            "app.flow",
            "--db",
            "other.db",
            "--public-url",
            "flows.example.com",
        ],
    );
    assert_eq!(done.code, Some(2), "{done}");
    assert!(
        done.stderr
            .contains("error: invalid --public-url `flows.example.com`"),
        "{done}"
    );
}
