//! Every example in `examples/` runs end to end against the real `flowc serve`,
//! as far as the features it uses exist.
//!
//! Each test copies one example into a temp dir with every outside URL pointed at
//! a recording server on loopback (`https://api.example.com/v1` becomes
//! `http://127.0.0.1:PORT/api.example.com/v1`, so the recorded path still names
//! the host), stores every secret the file names in the vault of a fresh database,
//! serves it, fires its webhooks with valid bodies and signatures, and then reads
//! the runs back after a graceful stop. A run succeeds, with the downstream having
//! seen the requests the workflow implies; or, where the workflow reaches a
//! construct the runtime does not run yet (waits, awaits, callbacks, approvals,
//! `for`, `parallel`, `call`, `emit`), it fails with R0201 after the steps before
//! that construct ran. When such a feature arrives, the test that pins its R0201
//! fails and is extended to the run's real end.
//!
//! `every_example_has_a_test` keeps the list below complete.

#![allow(clippy::unwrap_used)]
#![allow(
    clippy::disallowed_methods,
    reason = "waits are bounded by wall-clock deadlines, and Slack and Standard Webhooks \
              requests are signed at the server's wall-clock time; nothing asserts on time"
)]

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flowc_runtime::server::verify::hmac_sha256;
use flowc_runtime::store::{RunDetail, RunStatus, StepStatus, Store, sqlite};
use flowc_runtime::vault::{MasterKey, SecretString, Vault};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use support::{Recorded, Recorder, Reply, Served};

/// The examples and the test that runs each.
const COVERED: [&str; 6] = [
    "deal_closed.flow",           // deal_closed_*
    "github_slack.flow",          // github_slack_*
    "hourly_enrich_approve.flow", // hourly_enrich_approve_*
    "order_events.flow",          // order_events_*
    "payment_validation.flow",    // payment_validation_*
    "quickstart.flow",            // quickstart_*
];

/// The vault key the tests seal with and the server reads (`FLOWC_MASTER_KEY`).
const MASTER_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

#[test]
fn every_example_has_a_test() {
    let mut found: Vec<String> = std::fs::read_dir(examples())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".flow"))
        .collect();
    found.sort();
    assert_eq!(found, COVERED, "add a test here for each new example");
}

#[test]
fn urls_point_at_the_recorder_by_host_and_the_own_address_at_the_server() {
    let source = "base_url: \"https://api.example.com/v1\" // see https://slack.com/api\n\
                  step q = http POST \"http://127.0.0.1:8080/quote\" { json: { http: 1 } }";
    assert_eq!(
        point_at_loopback(source, "http://127.0.0.1:7", 9),
        "base_url: \"http://127.0.0.1:7/api.example.com/v1\" // see http://127.0.0.1:7/slack.com/api\n\
         step q = http POST \"http://127.0.0.1:9/quote\" { json: { http: 1 } }"
    );
}

/// One example served against a recorder, with its secrets in the vault.
struct Example {
    dir: tempfile::TempDir,
    recorder: Recorder,
    server: Served,
    secrets: BTreeMap<String, String>,
}

/// Copies `examples/FILE` with its URLs rewritten, fills the vault, and serves it.
fn serve(file: &str, respond: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Example {
    let source = std::fs::read_to_string(examples().join(file)).unwrap();
    let recorder = Recorder::start(respond);
    let port = support::free_port();
    let source = point_at_loopback(&source, recorder.base(), port);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(file), &source).unwrap();
    let secrets: BTreeMap<String, String> = secret_names(&source)
        .into_iter()
        .map(|name| {
            let mut value = format!("value-of-{name}");
            // A Standard Webhooks secret is `whsec_` and the base64 of the key.
            if source.contains(&format!("standard_webhooks(secrets.{name})")) {
                value = format!("whsec_{}", STANDARD.encode(value));
            }
            (name, value)
        })
        .collect();
    let db = dir.path().join("data.db");
    support::block_on(async {
        let store = Arc::new(sqlite::Options::new(&db).open().unwrap());
        let storage: Arc<dyn Store> = store.clone();
        let vault = Vault::new(&MasterKey::parse(MASTER_KEY).unwrap(), storage);
        for (name, value) in &secrets {
            vault
                .set(name, &SecretString::new(value.clone()))
                .await
                .unwrap();
        }
        store.close().await;
    });

    let addr = format!("127.0.0.1:{port}");
    let server = Served::start(
        dir.path(),
        &[file, "--db", "data.db", "--addr", &addr],
        &[("FLOWC_MASTER_KEY", MASTER_KEY)],
    )
    .unwrap_or_else(|output| panic!("flowc serve {file} did not start:\n{output}"));
    Example {
        dir,
        recorder,
        server,
        secrets,
    }
}

/// `https://host/…` and `http://host/…` → `{recorder}/host/…`; the runtime's own
/// default address (`http://127.0.0.1:8080`, the quickstart's) → the served port.
/// Fails if any URL still points elsewhere.
fn point_at_loopback(source: &str, recorder: &str, port: u16) -> String {
    let own = format!("http://127.0.0.1:{port}");
    let source = source.replace("http://127.0.0.1:8080", &own);
    let mut out = String::with_capacity(source.len());
    let mut rest = source.as_str();
    while let Some(at) = rest.find("http") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let scheme = ["https://", "http://"]
            .into_iter()
            .find(|scheme| tail.starts_with(scheme));
        match scheme {
            Some(_) if tail.starts_with(&own) => {
                out.push_str(&own);
                rest = &tail[own.len()..];
            }
            Some(scheme) => {
                let host_len = tail[scheme.len()..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                    .unwrap_or(tail.len() - scheme.len());
                let host = &tail[scheme.len()..scheme.len() + host_len];
                out.push_str(&format!("{recorder}/{host}"));
                rest = &tail[scheme.len() + host_len..];
            }
            None => {
                out.push_str("http");
                rest = &tail[4..];
            }
        }
    }
    out.push_str(rest);

    for line in out.lines() {
        for (at, _) in line.match_indices("://") {
            let (scheme, address) = line.split_at(at);
            assert!(
                scheme.ends_with("http")
                    && (address.starts_with(&recorder[4..]) || address.starts_with(&own[4..])),
                "a URL still points outside loopback: {line}"
            );
        }
    }
    out
}

/// Every `secrets.NAME` the source mentions.
fn secret_names(source: &str) -> Vec<String> {
    let mut names: Vec<String> = source
        .match_indices("secrets.")
        .map(|(at, prefix)| {
            source[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

impl Example {
    fn secret(&self, name: &str) -> &str {
        self.secrets
            .get(name)
            .unwrap_or_else(|| panic!("the example does not use secrets.{name}"))
    }

    /// POSTs a webhook: (status, body).
    fn post(&self, path: &str, headers: &[(&str, &str)], body: &Value) -> (u16, String) {
        support::post(&self.server.addr, path, headers, &body.to_string())
    }

    /// Waits for every run to end, stops the server gracefully, and reads every
    /// run back with its journal, by id.
    fn finish(mut self) -> (BTreeMap<String, RunDetail>, Vec<Recorded>) {
        let db = self.dir.path().join("data.db");
        support::wait_for_runs_to_end(&db, Duration::from_secs(30), &self.server);
        let status = self.server.stop();
        assert!(
            status.success(),
            "flowc serve did not stop cleanly ({status:?}):\n{}",
            self.server.output()
        );
        let runs = support::block_on(async {
            let store = sqlite::Options::new(&db).open().unwrap();
            let runs = support::all_runs(&store).await;
            store.close().await;
            runs
        });
        let runs = runs
            .into_iter()
            .map(|detail| (detail.run.id.clone(), detail))
            .collect();
        (runs, self.recorder.requests())
    }
}

/// A run that succeeded with `output`.
fn assert_succeeded(runs: &BTreeMap<String, RunDetail>, run: &str, output: &Value) {
    let detail = &runs[run];
    assert_eq!(
        detail.run.status,
        RunStatus::Succeeded,
        "run {run} of {} ended {} with {:?}",
        detail.run.workflow,
        detail.run.status.as_str(),
        detail.run.error
    );
    assert_eq!(
        detail.run.output.as_ref(),
        Some(output),
        "output of run {run}"
    );
}

/// A run that failed with R0201 on `construct` after exactly `steps` had
/// succeeded, in that order.
fn assert_unsupported(
    runs: &BTreeMap<String, RunDetail>,
    run: &str,
    construct: &str,
    steps: &[&str],
) {
    let detail = &runs[run];
    let error = detail.run.error.clone().unwrap_or_default();
    assert_eq!(
        (detail.run.status, error["code"].as_str()),
        (RunStatus::Failed, Some("R0201")),
        "run {run} of {} should fail on the unsupported {construct}: {error}",
        detail.run.workflow
    );
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(construct),
        "{message} (expected {construct})"
    );
    let ran: Vec<(&str, StepStatus)> = detail
        .steps
        .iter()
        .map(|step| (step.path.as_str(), step.status))
        .collect();
    let expected: Vec<(&str, StepStatus)> = steps
        .iter()
        .map(|step| (*step, StepStatus::Succeeded))
        .collect();
    assert_eq!(ran, expected, "the journal of run {run}");
}

/// The request under one step's idempotency key.
fn call<'a>(requests: &'a [Recorded], run: &str, step: &str) -> &'a Recorded {
    let key = format!("{run}/{step}");
    let found: Vec<&Recorded> = requests
        .iter()
        .filter(|request| request.header("idempotency-key") == Some(key.as_str()))
        .collect();
    match found.as_slice() {
        [one] => one,
        _ => panic!(
            "expected one call keyed {key}, found {}; every call: {:#?}",
            found.len(),
            requests
                .iter()
                .map(|r| format!(
                    "{} {} {:?}",
                    r.method,
                    r.target,
                    r.header("idempotency-key")
                ))
                .collect::<Vec<_>>()
        ),
    }
}

/// A call that went to `method path` with `Authorization: Bearer {token}`.
fn assert_sent_with_bearer(call: &Recorded, method: &str, path: &str, token: &str) {
    assert_eq!((call.method.as_str(), call.path()), (method, path));
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {token}").as_str()),
        "the token of {method} {path}"
    );
}

/// The server's wall-clock time in Unix seconds, which signed timestamps must be
/// within 300 s of.
fn unix_now() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(since.as_secs()).unwrap()
}

fn not_found(request: &Recorded) -> Reply {
    Reply::json(
        404,
        json!({ "error": format!("no route for {} {}", request.method, request.target) }),
    )
}

// ---------------------------------------------------------------- deal_closed

#[test]
fn deal_closed_announces_a_won_deal_and_fails_when_slack_refuses() {
    let served = serve("deal_closed.flow", |request| {
        match (request.method.as_str(), request.path()) {
            ("GET", path) if path.starts_with("/api.example.com/v1/deals/") => {
                let id = &path["/api.example.com/v1/deals/".len()..];
                Reply::json(
                    200,
                    json!({
                        "id": id,
                        "name": format!("Deal {id}"),
                        "company": { "name": "ACME" },
                        "owner": { "name": "Ann", "slack_id": "U123" },
                        "products": [
                            { "name": "seats", "quantity": 2, "unit_price_cents": 5000 },
                            { "name": "setup", "quantity": 1, "unit_price_cents": 2550 },
                        ],
                    }),
                )
            }
            ("POST", "/slack.com/api/chat.postMessage") => {
                let text = request.json()["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if text.contains("Deal D-43") {
                    Reply::json(200, json!({ "ok": false, "error": "channel_not_found" }))
                } else {
                    Reply::json(200, json!({ "ok": true, "ts": "1700000000.000100" }))
                }
            }
            _ => not_found(request),
        }
    });
    let token = served.secret("crm_webhook_token").to_string();
    let hook = |id: &str| json!({ "deal_id": format!(" {id} "), "amount": 125.5, "currency": "eur", "owner_email": " Ann@Example.COM " });

    // A wrong token is refused before anything is stored.
    let (status, body) = served.post(
        "/crm/deal-closed",
        &[("X-CRM-Token", "nope")],
        &hook("D-42"),
    );
    assert_eq!(status, 401, "{body}");
    let won = support::run_id(served.post(
        "/crm/deal-closed",
        &[("X-CRM-Token", &token)],
        &hook("D-42"),
    ));
    let refused = support::run_id(served.post(
        "/crm/deal-closed",
        &[("X-CRM-Token", &token)],
        &hook("D-43"),
    ));
    let crm_token = served.secret("crm_token").to_string();
    let slack_token = served.secret("slack_bot_token").to_string();

    let (runs, requests) = served.finish();
    assert_eq!(runs.len(), 2, "the 401 created no run");
    assert_succeeded(
        &runs,
        &won,
        &json!({ "deal": "D-42", "slack_ts": "1700000000.000100" }),
    );

    let crm = call(&requests, &won, "crm_deal");
    assert_sent_with_bearer(crm, "GET", "/api.example.com/v1/deals/D-42", &crm_token);
    let post = call(&requests, &won, "post");
    assert_sent_with_bearer(
        post,
        "POST",
        "/slack.com/api/chat.postMessage",
        &slack_token,
    );
    assert_eq!(
        post.json(),
        json!({
            "channel": "#deals",
            "text": ":tada: Deal D-42 (ACME) closed for EUR 125.50. Owner: <@U123>",
            "unfurl_links": false,
        })
    );

    // Slack answers 200 with `ok: false`: the workflow's own `fail`.
    let detail = &runs[&refused];
    let error = detail.run.error.clone().unwrap_or_default();
    assert_eq!(detail.run.status, RunStatus::Failed);
    assert_eq!(error["code"], "R0203", "{error}");
    assert_eq!(
        error["message"],
        "Slack refused the message for deal D-43: channel_not_found"
    );
    call(&requests, &refused, "post");
    assert_eq!(requests.len(), 4, "two calls per run");
}

// ---------------------------------------------------------------- github_slack

#[test]
fn github_slack_deploys_a_push_answers_a_mention_and_stops_at_await_and_emit() {
    let served = serve("github_slack.flow", |request| {
        match (request.method.as_str(), request.path()) {
            ("POST", "/api.stripe.com/v1/payment_intents") => {
                Reply::json(200, json!({ "id": "pi_1", "status": "processing" }))
            }
            ("POST", "/ci.example.com/api/v2/deployments") => Reply::json(
                201,
                json!({ "id": "dep-1", "url": "https://ci.example.com/d/1" }),
            ),
            ("GET", "/ci.example.com/api/v2/deployments/latest") => Reply::json(
                200,
                json!({ "id": "dep-0", "sha": "abc123", "status": "success" }),
            ),
            ("POST", "/slack.com/api/chat.postMessage") => {
                Reply::json(200, json!({ "ok": true, "ts": "1.2" }))
            }
            _ => not_found(request),
        }
    });

    // `github(…)`: a push to main, signed as GitHub signs (X-Hub-Signature-256).
    let push = json!({
        "ref": "refs/heads/main",
        "after": "abc123",
        "deleted": false,
        "repository": { "full_name": "acme/app", "html_url": "https://github.com/acme/app" },
        "pusher": { "name": "ann" },
        "head_commit": { "id": "abc123", "message": "Fix the thing\n\nDetails", "url": "https://github.com/acme/app/commit/abc123" },
        "commits": [{ "id": "abc123", "message": "Fix the thing" }],
    })
    .to_string();
    let github_key = served.secret("github_webhook_secret").as_bytes().to_vec();
    let github_signature = format!("sha256={}", hex(&hmac_sha256(&github_key, push.as_bytes())));
    let (status, body) = support::post(
        &served.server.addr,
        "/github/push",
        &[
            ("X-Hub-Signature-256", &format!("sha256={}", "0".repeat(64))),
            ("X-GitHub-Delivery", "d-1"),
        ],
        &push,
    );
    assert_eq!(status, 401, "a wrong signature: {body}");
    let signed_push = [
        ("X-Hub-Signature-256", github_signature.as_str()),
        ("X-GitHub-Delivery", "d-1"),
    ];
    let pushed = support::run_id(support::post(
        &served.server.addr,
        "/github/push",
        &signed_push,
        &push,
    ));
    let redelivered = support::run_id(support::post(
        &served.server.addr,
        "/github/push",
        &signed_push,
        &push,
    ));
    assert_eq!(
        redelivered, pushed,
        "GitHub's redelivery maps to the first run"
    );

    // `slack(…)`: the URL verification is answered by the preset, a mention starts
    // a run, and Slack's retry of the same event starts none.
    let slack_key = served.secret("slack_signing_secret").as_bytes().to_vec();
    let slack_post = |body: &str, extra: &[(&str, &str)]| {
        let timestamp = unix_now().to_string();
        let base = format!("v0:{timestamp}:{body}");
        let signature = format!("v0={}", hex(&hmac_sha256(&slack_key, base.as_bytes())));
        let mut headers = vec![
            ("X-Slack-Request-Timestamp", timestamp.as_str()),
            ("X-Slack-Signature", signature.as_str()),
        ];
        headers.extend_from_slice(extra);
        support::post(&served.server.addr, "/slack/events", &headers, body)
    };
    let (status, body) = slack_post(
        r#"{"token": "t", "challenge": "ch-123", "type": "url_verification"}"#,
        &[],
    );
    assert_eq!((status, body.as_str()), (200, r#"{"challenge":"ch-123"}"#));
    let mention = json!({
        "type": "event_callback",
        "event_id": "Ev01",
        "team_id": "T1",
        "event": { "type": "app_mention", "user": "U1", "channel": "C1", "ts": "1700000000.000100" },
    })
    .to_string();
    let mentioned = support::run_id(slack_post(&mention, &[]));
    let retried = support::run_id(slack_post(&mention, &[("X-Slack-Retry-Num", "1")]));
    assert_eq!(retried, mentioned, "Slack's retry maps to the first run");

    // `charge_saved_card`: header token, one Stripe call, then `await webhook`.
    let charge = json!({
        "order_id": "o-1",
        "amount_cents": 1999,
        "currency": "eur",
        "stripe_customer": "cus_1",
        "payment_method": "pm_1",
    });
    let shop = served.secret("shop_token").to_string();
    let charged =
        support::run_id(served.post("/shop/charges", &[("X-Shop-Token", &shop)], &charge));

    // `ci_status`: an HMAC-SHA256 (hex) of the raw body, then `emit`.
    let report =
        json!({ "deployment_id": "dep-9", "status": "success", "log_url": "https://ci/log/9" })
            .to_string();
    let key = served.secret("ci_webhook_secret").as_bytes().to_vec();
    let signature = hex(&flowc_runtime::server::verify::hmac_sha256(
        &key,
        report.as_bytes(),
    ));
    let mut forged = signature.clone().into_bytes();
    forged[0] = if forged[0] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).unwrap();
    let (status, body) = support::post(
        &served.server.addr,
        "/ci/status",
        &[("X-Signature", &forged)],
        &report,
    );
    assert_eq!(status, 401, "one changed hex digit: {body}");
    let reported = support::run_id(support::post(
        &served.server.addr,
        "/ci/status",
        &[("X-Signature", &signature)],
        &report,
    ));
    let stripe_key = served.secret("stripe_secret_key").to_string();

    let (runs, requests) = served.finish();
    assert_eq!(
        runs.len(),
        4,
        "the forged signatures, the redelivery, the retry and the challenge created no run"
    );
    // The push deployed, then reached the `await event` for CI's report.
    assert_unsupported(&runs, &pushed, "`await event`", &["deploy"]);
    let deploy = call(&requests, &pushed, "deploy");
    assert_eq!(
        deploy.json(),
        json!({ "repository": "acme/app", "sha": "abc123", "environment": "production", "requested_by": "ann" })
    );
    // The mention was answered in its thread.
    let detail = &runs[&mentioned];
    assert_eq!(
        detail.run.status,
        RunStatus::Succeeded,
        "{:?}",
        detail.run.error
    );
    let reply = call(&requests, &mentioned, "reply");
    assert_eq!(
        reply.json(),
        json!({ "channel": "C1", "thread_ts": "1700000000.000100", "text": "<@U1> production is at abc123: success" })
    );
    assert_unsupported(&runs, &charged, "`await webhook`", &["intent"]);
    let intent = call(&requests, &charged, "intent");
    assert_sent_with_bearer(
        intent,
        "POST",
        "/api.stripe.com/v1/payment_intents",
        &stripe_key,
    );
    assert_eq!(
        intent.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        intent.text(),
        "amount=1999&currency=eur&customer=cus_1&payment_method=pm_1&off_session=true\
         &confirm=true&metadata[order_id]=o-1"
    );

    assert_unsupported(&runs, &reported, "`emit`", &[]);
    assert_eq!(
        requests.len(),
        4,
        "the Stripe call, the deploy, and the mention's two calls"
    );
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

// ---------------------------------------------------------------- hourly_enrich_approve

#[test]
fn hourly_enrich_approve_accepts_an_enrich_request_then_stops_at_the_callback() {
    let served = serve("hourly_enrich_approve.flow", not_found);
    // `hourly_enrich` starts only on its schedule or by hand (`on manual`): neither
    // the scheduler nor the admin API's start exists yet, so only the webhook-started
    // `enrich_on_request` runs here.
    let secret = served.secret("trigger_secret").to_string();
    let request = json!({ "request_id": "r-1", "customer_id": "c-1", "email": " Bo@Example.com ", "priority": "high" });
    let (status, body) = served.post("/trigger/enrich", &[("X-Shared-Secret", "wrong")], &request);
    assert_eq!(status, 401, "{body}");
    let run =
        support::run_id(served.post("/trigger/enrich", &[("X-Shared-Secret", &secret)], &request));

    let (runs, requests) = served.finish();
    assert_eq!(runs.len(), 1);
    // `let cb = callback(…)` comes before the first step.
    assert_unsupported(&runs, &run, "`callback(…)`", &[]);
    assert!(requests.is_empty(), "nothing went out: {requests:#?}");
}

// ---------------------------------------------------------------- order_events

#[test]
fn order_events_verifies_a_standard_webhook_then_invoices_and_stops_at_for() {
    let served = serve("order_events.flow", |request| {
        match (request.method.as_str(), request.path()) {
            ("POST", "/billing.example.com/v1/invoices") => Reply::json(
                200,
                json!({ "invoice_id": "in_1", "number": "INV-1", "total_cents": 2500, "pdf_url": "https://billing/in_1.pdf" }),
            ),
            _ => not_found(request),
        }
    });
    // `process_order` verifies with `standard_webhooks(…)`: `webhook-id`,
    // `webhook-timestamp` and `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`
    // under the key after `whsec_`.
    let order = json!({
        "order_id": "o-1",
        "customer": { "id": "c-1", "email": " Ann@Example.com " },
        "lines": [{ "sku": "MUG-01", "quantity": 2, "unit_price_cents": 1250 }],
        "currency": "EUR",
    })
    .to_string();
    let secret = served.secret("storefront_webhook_secret").to_string();
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let timestamp = unix_now().to_string();
    let content = format!("msg_1.{timestamp}.{order}");
    let signature = format!(
        "v1,{}",
        STANDARD.encode(hmac_sha256(&key, content.as_bytes()))
    );
    let post = |signature: &str| {
        support::post(
            &served.server.addr,
            "/orders",
            &[
                ("webhook-id", "msg_1"),
                ("webhook-timestamp", &timestamp),
                ("webhook-signature", signature),
            ],
            &order,
        )
    };
    let (status, body) = post(&format!("v1,{}", STANDARD.encode([0_u8; 32])));
    assert_eq!(status, 401, "a wrong signature: {body}");
    let run = support::run_id(post(&signature));
    assert_eq!(
        support::run_id(post(&signature)),
        run,
        "a retry with the same webhook-id"
    );

    let (runs, requests) = served.finish();
    assert_eq!(runs.len(), 1);
    // The invoice step ran; `let levels = for …` comes next.
    assert_unsupported(&runs, &run, "`for`", &["invoice"]);
    let invoice = call(&requests, &run, "invoice");
    assert_eq!(invoice.json()["total_cents"], 2500);
    assert_eq!(invoice.json()["email"], "ann@example.com");
    assert_eq!(requests.len(), 1);
}

// ---------------------------------------------------------------- payment_validation

#[test]
fn payment_validation_accepts_payments_and_batches_then_stops_at_parallel_and_for() {
    let served = serve("payment_validation.flow", not_found);
    let token = served.secret("payments_hook").to_string();
    let payment = json!({ "transactionId": "txn-1", "amount": 10.5, "currency": "BRL", "customerId": "cust-1" });
    let single = support::run_id(served.post(
        "/payments/received",
        &[("X-Webhook-Token", &token)],
        &payment,
    ));
    let again = served.post(
        "/payments/received",
        &[("X-Webhook-Token", &token)],
        &payment,
    );
    assert_eq!(
        support::run_id(again),
        single,
        "the same transaction, the same run"
    );
    let mut euros = payment.clone();
    euros["currency"] = json!("EUR");
    let (status, body) = served.post("/payments/received", &[("X-Webhook-Token", &token)], &euros);
    assert_eq!(status, 422, "a currency outside the union: {body}");
    let batch = json!({ "batchId": "b-1", "payments": [payment] });
    let batched =
        support::run_id(served.post("/payments/batch", &[("X-Webhook-Token", &token)], &batch));

    let (runs, requests) = served.finish();
    assert_eq!(runs.len(), 2);
    // `parallel { … }` holds the first two steps.
    assert_unsupported(&runs, &single, "`parallel`", &[]);
    assert_unsupported(&runs, &batched, "`for`", &[]);
    assert!(requests.is_empty(), "nothing went out: {requests:#?}");
}

// ---------------------------------------------------------------- quickstart

#[test]
fn quickstart_prices_and_routes_an_order() {
    // The quickstart's HTTP step calls the `quote` workflow on the same server
    // (`respond: wait`), so the recorder must see nothing.
    let served = serve("quickstart.flow", not_found);
    let order = |id: &str, price: f64| {
        json!({
            "id": id,
            "customer": "cus-1",
            "items": [{ "sku": "mug", "qty": 2, "price": price }, { "sku": "tee", "qty": 1, "price": 100.0 }],
        })
    };
    let express = support::run_id(served.post("/quickstart/orders", &[], &order("q-1", 60.0)));
    let standard = support::run_id(served.post("/quickstart/orders", &[], &order("q-2", 5.0)));

    let (runs, requests) = served.finish();
    assert!(requests.is_empty(), "nothing went outside: {requests:#?}");
    assert_succeeded(
        &runs,
        &express,
        &json!({ "order": "q-1", "total": 220.0, "route": "express" }),
    );
    assert_succeeded(
        &runs,
        &standard,
        &json!({ "order": "q-2", "total": 119.5, "route": "standard" }),
    );
    // Each order's step started one `quote` run, with the mapped (upper-cased) lines.
    let quotes: Vec<&RunDetail> = runs
        .values()
        .filter(|detail| detail.run.workflow == "quote")
        .collect();
    assert_eq!(quotes.len(), 2, "one quote per order");
    let quote_of = |id: &str| {
        *quotes
            .iter()
            .find(|detail| detail.run.input["id"] == id)
            .unwrap_or_else(|| panic!("no quote run for {id}"))
    };
    let q1 = quote_of("q-1");
    assert_eq!(q1.run.input["items"][0]["sku"], "MUG");
    assert_succeeded(
        &runs,
        &q1.run.id,
        &json!({ "subtotal": 220.0, "shipping": 0.0, "total": 220.0, "express": true }),
    );
    assert_succeeded(
        &runs,
        &quote_of("q-2").run.id,
        &json!({ "subtotal": 110.0, "shipping": 9.5, "total": 119.5, "express": false }),
    );
}
