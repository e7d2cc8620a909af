//! Every example in `examples/` runs end to end against the real `flowc serve`,
//! waits included.
//!
//! Each test copies one example into a temp dir with every outside URL pointed at
//! a recording server on loopback (`https://api.example.com/v1` becomes
//! `http://127.0.0.1:PORT/api.example.com/v1`, so the recorded path still names
//! the host), stores every secret the file names in the vault of a fresh database,
//! serves it, and plays every party the workflows talk to: it fires their
//! webhooks with valid bodies and signatures, answers their HTTP calls, posts to
//! the callback URLs they hand out, decides their approvals (the review page's
//! form and `flowc approve`/`reject`), emits their events (`flowc emit` and
//! through `emit` in another workflow), posts to their `await webhook` paths, and
//! starts their `on manual` workflows through the admin API. Then it reads the
//! runs back after a graceful stop: each run ended as the scenario says, with its
//! output, and the downstream saw each effect once, under one `Idempotency-Key`.
//!
//! Long timers are not shortened. A wait that is resolved by a message (a
//! callback, an approval, an event, a webhook) is resolved well before its
//! timeout, so the timeouts themselves are not exercised here; the one plain
//! `wait 10m` (`order_events.flow`) is passed by stopping the server, firing the
//! timers due at that deadline in its store (what the timer loop does when the
//! clock gets there) and starting the server again on the same database.
//!
//! `every_example_has_a_test` keeps the list below complete.

#![allow(clippy::unwrap_used)]
#![allow(
    clippy::disallowed_methods,
    reason = "waits are bounded by wall-clock deadlines, and Slack, Stripe and Standard \
              Webhooks requests are signed at the server's wall-clock time; nothing asserts \
              on time"
)]

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flowc_runtime::server::verify::hmac_sha256;
use flowc_runtime::store::{
    RunDetail, RunStatus, StepStatus, Store, Wait, WaitKind, WaitStatus, sqlite,
};
use flowc_runtime::vault::{MasterKey, SecretString, Vault};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
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

/// How long a test waits for the server to get somewhere.
const PATIENCE: Duration = Duration::from_secs(30);

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
    /// What `flowc serve` was started with, to start it again.
    args: Vec<String>,
    secrets: BTreeMap<String, String>,
}

/// The value the vault holds for `secrets.NAME` of `source`.
fn secret_value(source: &str, name: &str) -> String {
    let value = format!("value-of-{name}");
    // A Standard Webhooks secret is `whsec_` and the base64 of the key.
    if source.contains(&format!("standard_webhooks(secrets.{name})")) {
        return format!("whsec_{}", STANDARD.encode(value));
    }
    value
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
            let value = secret_value(&source, &name);
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

    let args: Vec<String> = [
        file,
        "--db",
        "data.db",
        "--addr",
        &format!("127.0.0.1:{port}"),
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    let server = start_server(dir.path(), &args);
    Example {
        dir,
        recorder,
        server,
        args,
        secrets,
    }
}

fn start_server(dir: &Path, args: &[String]) -> Served {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Served::start(dir, &args, &[("FLOWC_MASTER_KEY", MASTER_KEY)])
        .unwrap_or_else(|output| panic!("flowc serve {args:?} did not start:\n{output}"))
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

    fn addr(&self) -> &str {
        &self.server.addr
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("data.db")
    }

    /// POSTs a webhook: (status, body).
    fn post(&self, path: &str, headers: &[(&str, &str)], body: &Value) -> (u16, String) {
        support::post(self.addr(), path, headers, &body.to_string())
    }

    /// Starts a run of an `on manual` workflow through the admin API.
    fn start(&self, workflow: &str, input: &Value) -> String {
        let (status, answer) =
            self.server
                .api("POST", &format!("/workflows/{workflow}/runs"), input);
        assert_eq!(status, 201, "starting {workflow}: {answer}");
        answer["run_id"].as_str().unwrap().to_string()
    }

    /// `flowc ARGS…` against the server, which must succeed: its standard output.
    fn flowc(&self, args: &[&str]) -> String {
        let done = self.server.admin(args);
        assert_eq!(done.code, Some(0), "flowc {args:?}:\n{done}");
        done.stdout
    }

    /// Waits until the downstream has received a request `found` accepts, and
    /// returns the first such.
    fn sent(&self, what: &str, found: impl Fn(&Recorded) -> bool) -> Recorded {
        support::wait_until(
            PATIENCE,
            || self.recorder.requests().iter().any(&found),
            || {
                format!(
                    "the downstream never received {what}; it received {:#?}\nserver output:\n{}",
                    summary(&self.recorder.requests()),
                    self.server.output()
                )
            },
        );
        self.recorder
            .requests()
            .into_iter()
            .find(|request| found(request))
            .unwrap()
    }

    /// Waits until the runs the store holds, taken together, pass `done`, and
    /// returns them.
    fn runs_until(&self, what: &str, done: impl Fn(&[RunDetail]) -> bool) -> Vec<RunDetail> {
        let deadline = std::time::Instant::now() + PATIENCE;
        support::block_on(async {
            let store = sqlite::Options::new(self.db()).open().unwrap();
            loop {
                let runs = support::all_runs(&store).await;
                if done(&runs) {
                    store.close().await;
                    return runs;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "never {what}; the runs: {:#?}\nserver output:\n{}",
                    runs.iter()
                        .map(|detail| (&detail.run.id, &detail.run.workflow, detail.run.status))
                        .collect::<Vec<_>>(),
                    self.server.output()
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    }

    /// Waits until `run` is parked on an open wait at `path`, and returns it.
    fn parked(&self, run: &str, path: &str) -> Wait {
        let runs = self.runs_until(&format!("parked {run} at `{path}`"), |runs| {
            runs.iter()
                .any(|detail| detail.run.id == run && open_wait(detail, path).is_some())
        });
        let detail = runs.iter().find(|detail| detail.run.id == run).unwrap();
        open_wait(detail, path).unwrap().clone()
    }

    /// Stops the server gracefully, fires every timer due at `at` in its store
    /// (what its timer loop does once the clock gets there), and starts it
    /// again on the same database and address: how many waits were fired.
    fn restart_at(&mut self, at: i64) -> usize {
        let status = self.server.stop();
        assert!(status.success(), "{}", self.server.output());
        let fired = support::block_on(async {
            let store = sqlite::Options::new(self.db()).open().unwrap();
            let fired = store.fire_due(at, 100).await.unwrap();
            store.close().await;
            fired
        });
        self.server = start_server(self.dir.path(), &self.args);
        fired
    }

    /// Waits for every run to end, stops the server gracefully, and reads every
    /// run back with its journal, by id; every request the downstream received
    /// under an `Idempotency-Key` is the only one under it.
    fn finish(mut self) -> (BTreeMap<String, RunDetail>, Vec<Recorded>) {
        let db = self.db();
        support::wait_for_runs_to_end(&db, PATIENCE, &self.server);
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
        let requests = self.recorder.requests();
        let mut keys: BTreeMap<&str, usize> = BTreeMap::new();
        for key in requests.iter().filter_map(|r| r.header("idempotency-key")) {
            *keys.entry(key).or_default() += 1;
        }
        keys.retain(|_, count| *count > 1);
        assert!(
            keys.is_empty(),
            "effects repeated under one key: {keys:?}; every call: {:#?}",
            summary(&requests)
        );
        (runs, requests)
    }
}

/// A run's open wait at `path`.
fn open_wait<'a>(detail: &'a RunDetail, path: &str) -> Option<&'a Wait> {
    detail
        .waits
        .iter()
        .find(|wait| wait.path == path && wait.status == WaitStatus::Open)
}

/// `METHOD target key` of each request, for failure messages.
fn summary(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            format!(
                "{} {} {:?}",
                r.method,
                r.target,
                r.header("idempotency-key")
            )
        })
        .collect()
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

/// A run that failed with `code` and `message`.
fn assert_failed(runs: &BTreeMap<String, RunDetail>, run: &str, code: &str, message: &str) {
    let detail = &runs[run];
    let error = detail.run.error.clone().unwrap_or_default();
    assert_eq!(
        (
            detail.run.status,
            error["code"].as_str(),
            error["message"].as_str()
        ),
        (RunStatus::Failed, Some(code), Some(message)),
        "run {run} of {}: {error}",
        detail.run.workflow
    );
}

/// The paths of a run's steps that succeeded, in journal order; every step
/// attempt it journaled succeeded, except those in `failed`.
fn journal<'a>(runs: &'a BTreeMap<String, RunDetail>, run: &str, failed: &[&str]) -> Vec<&'a str> {
    let detail = &runs[run];
    for step in &detail.steps {
        let expected = if failed.contains(&step.path.as_str()) {
            StepStatus::Failed
        } else {
            StepStatus::Succeeded
        };
        assert_eq!(
            step.status, expected,
            "step {} of run {run}: {:?}",
            step.path, step.error
        );
    }
    let mut paths: Vec<&str> = detail.steps.iter().map(|step| step.path.as_str()).collect();
    paths.sort_unstable();
    paths
}

/// `max_concurrency: 1`: each of `order` journaled its first step after the one
/// before it had journaled its last.
fn assert_one_at_a_time(runs: &BTreeMap<String, RunDetail>, order: &[String]) {
    for pair in order.windows(2) {
        let ended = runs[&pair[0]]
            .steps
            .iter()
            .filter_map(|step| step.finished_at)
            .max();
        let began = runs[&pair[1]]
            .steps
            .iter()
            .map(|step| step.started_at)
            .min();
        assert!(
            ended.is_some() && began.is_some() && ended <= began,
            "run {} overlapped run {}",
            pair[1],
            pair[0]
        );
    }
}

/// The runs of `workflow`, oldest first.
fn runs_of<'a>(runs: &'a BTreeMap<String, RunDetail>, workflow: &str) -> Vec<&'a RunDetail> {
    let mut found: Vec<&RunDetail> = runs
        .values()
        .filter(|detail| detail.run.workflow == workflow)
        .collect();
    found.sort_by(|a, b| (a.run.created_at, &a.run.id).cmp(&(b.run.created_at, &b.run.id)));
    found
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
            summary(requests)
        ),
    }
}

/// The requests to `method path` (the query aside).
fn calls_to<'a>(requests: &'a [Recorded], method: &str, path: &str) -> Vec<&'a Recorded> {
    requests
        .iter()
        .filter(|request| request.method == method && request.path() == path)
        .collect()
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

/// The value of `name` in a request's query.
fn query_param(request: &Recorded, name: &str) -> Option<String> {
    form_urlencoded::parse(request.query().as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The path and query of an absolute URL the server handed out.
fn path_of(url: &str) -> &str {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not an http URL: {url}"));
    &rest[rest.find('/').unwrap_or(rest.len())..]
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
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

/// `Stripe-Signature` for `body` at `timestamp`: `t=…,v1=` + hex HMAC-SHA256 of
/// `{t}.{body}` under the endpoint secret.
fn stripe_signature(secret: &str, timestamp: i64, body: &str) -> String {
    let signed = format!("{timestamp}.{body}");
    format!(
        "t={timestamp},v1={}",
        hex(&hmac_sha256(secret.as_bytes(), signed.as_bytes()))
    )
}

/// A Stripe event about a payment intent, signed now: (body, signature).
fn stripe_event(secret: &str, id: &str, kind: &str, intent: &str) -> (String, String) {
    let mut object = json!({ "id": intent, "object": "payment_intent" });
    if kind == "payment_intent.payment_failed" {
        object["last_payment_error"] = json!({ "message": "Your card was declined." });
    }
    let body = json!({ "id": id, "type": kind, "data": { "object": object } }).to_string();
    let signature = stripe_signature(secret, unix_now(), &body);
    (body, signature)
}

#[test]
fn github_slack_deploys_and_waits_for_ci_answers_slack_and_waits_for_stripe() {
    // Stripe's outcome can arrive before the run starts waiting for it: the
    // first charge's `payment_intent.succeeded` is posted to `/stripe/events`
    // while Stripe still answers the request that creates the intent, which is
    // what `lookback:` on the `await webhook` is for.
    let server: Arc<OnceLock<String>> = Arc::default();
    let stripe_secret = "value-of-stripe_webhook_secret";
    let early = Arc::clone(&server);
    let served = serve("github_slack.flow", move |request| {
        match (request.method.as_str(), request.path()) {
            ("POST", "/api.stripe.com/v1/payment_intents") => {
                let order = form_urlencoded::parse(&request.body)
                    .find(|(key, _)| key == "metadata[order_id]")
                    .map(|(_, value)| value.into_owned())
                    .unwrap_or_default();
                let intent = format!("pi_{order}");
                if order == "o-1" {
                    let (body, signature) = stripe_event(
                        stripe_secret,
                        "evt_early",
                        "payment_intent.succeeded",
                        &intent,
                    );
                    let (status, answer) = support::post(
                        early.get().unwrap(),
                        "/stripe/events",
                        &[("Stripe-Signature", &signature)],
                        &body,
                    );
                    assert_eq!(status, 202, "{answer}");
                }
                Reply::json(200, json!({ "id": intent, "status": "processing" }))
            }
            ("POST", "/ci.example.com/api/v2/deployments") => {
                let id = match request.json()["environment"].as_str() {
                    Some("production") => "dep-1",
                    _ => "dep-2",
                };
                Reply::json(
                    201,
                    json!({ "id": id, "url": format!("https://ci.example.com/d/{id}") }),
                )
            }
            ("GET", "/ci.example.com/api/v2/deployments/latest") => Reply::json(
                200,
                json!({ "id": "dep-0", "sha": "abc123", "status": "success" }),
            ),
            ("POST", "/slack.com/api/chat.postMessage") => {
                Reply::json(200, json!({ "ok": true, "ts": "1.2" }))
            }
            ("POST", "/api.github.com/repos/acme/app/statuses/abc123") => {
                Reply::json(201, json!({ "state": "success" }))
            }
            ("POST", "/api.github.com/repos/acme/app/statuses/def456") => {
                Reply::json(422, json!({ "message": "No commit found for SHA: def456" }))
            }
            ("POST", "/shop.example.com/api/orders/o-1/paid") => Reply::json(200, json!({})),
            ("POST", "/oncall.example.com/api/incidents") => {
                Reply::json(201, json!({ "id": "inc-1" }))
            }
            _ => not_found(request),
        }
    });
    server.set(served.addr().to_string()).unwrap();
    assert_eq!(served.secret("stripe_webhook_secret"), stripe_secret);

    // `github(…)`: pushes signed as GitHub signs (X-Hub-Signature-256).
    let github_key = served.secret("github_webhook_secret").as_bytes().to_vec();
    let push_to = |delivery: &str, branch: &str, sha: &str, pusher: &str| {
        let push = json!({
            "ref": format!("refs/heads/{branch}"),
            "after": sha,
            "deleted": false,
            "repository": { "full_name": "acme/app", "html_url": "https://github.com/acme/app" },
            "pusher": { "name": pusher },
            "head_commit": { "id": sha, "message": "Fix the thing\n\nDetails", "url": "https://github.com/acme/app/commit/abc123" },
            "commits": [{ "id": sha, "message": "Fix the thing" }, { "id": "0ff1ce", "message": "Tidy" }],
        })
        .to_string();
        let signature = format!("sha256={}", hex(&hmac_sha256(&github_key, push.as_bytes())));
        support::post(
            served.addr(),
            "/github/push",
            &[
                ("X-Hub-Signature-256", &signature),
                ("X-GitHub-Delivery", delivery),
            ],
            &push,
        )
    };
    let (status, body) = support::post(
        served.addr(),
        "/github/push",
        &[
            ("X-Hub-Signature-256", &format!("sha256={}", "0".repeat(64))),
            ("X-GitHub-Delivery", "d-1"),
        ],
        "{}",
    );
    assert_eq!(status, 401, "a wrong signature: {body}");
    let production = support::run_id(push_to("d-1", "main", "abc123", "ann"));
    assert_eq!(
        support::run_id(push_to("d-1", "main", "abc123", "ann")),
        production,
        "GitHub's redelivery maps to the first run"
    );
    let staging = support::run_id(push_to("d-2", "staging", "def456", "bo"));
    let feature = support::run_id(push_to("d-3", "feature/x", "fea7", "ann"));
    let bot = support::run_id(push_to("d-4", "main", "b07", "dependabot[bot]"));

    // `slack(…)`: the URL verification is answered by the preset, events start
    // runs, and Slack's retry of the same event starts none.
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
        support::post(served.addr(), "/slack/events", &headers, body)
    };
    let (status, body) = slack_post(
        r#"{"token": "t", "challenge": "ch-123", "type": "url_verification"}"#,
        &[],
    );
    assert_eq!((status, body.as_str()), (200, r#"{"challenge":"ch-123"}"#));
    let slack_event = |id: &str, event: Value| {
        json!({ "type": "event_callback", "event_id": id, "team_id": "T1", "event": event })
            .to_string()
    };
    let mention = slack_event(
        "Ev01",
        json!({ "type": "app_mention", "user": "U1", "channel": "C1", "ts": "1700000000.000100" }),
    );
    let mentioned = support::run_id(slack_post(&mention, &[]));
    let retried = support::run_id(slack_post(&mention, &[("X-Slack-Retry-Num", "1")]));
    assert_eq!(retried, mentioned, "Slack's retry maps to the first run");
    let joined = support::run_id(slack_post(
        &slack_event(
            "Ev02",
            json!({ "type": "member_joined_channel", "user": "U2", "channel": "C1" }),
        ),
        &[],
    ));
    let siren = support::run_id(slack_post(
        &slack_event(
            "Ev03",
            json!({ "type": "reaction_added", "user": "U3", "reaction": "rotating_light" }),
        ),
        &[],
    ));

    // `charge_saved_card`: header token, the Stripe call, then `await webhook`.
    let shop = served.secret("shop_token").to_string();
    let charge = |order: &str| {
        let charge = json!({
            "order_id": order,
            "amount_cents": 1999,
            "currency": "eur",
            "stripe_customer": "cus_1",
            "payment_method": "pm_1",
        });
        support::run_id(served.post("/shop/charges", &[("X-Shop-Token", &shop)], &charge))
    };
    let paid = charge("o-1");
    let declined = charge("o-2");
    let stripe_post = |body: &str, signature: &str| {
        support::post(
            served.addr(),
            "/stripe/events",
            &[("Stripe-Signature", signature)],
            body,
        )
    };
    let waiting = served.parked(&declined, "outcome");
    assert_eq!(waiting.kind, WaitKind::Webhook);
    let (body, signature) = stripe_event(
        stripe_secret,
        "evt_1",
        "payment_intent.payment_failed",
        "pi_o-2",
    );
    let (status, answer) = stripe_post(&body, &signature.replace("v1=", "v1=0"));
    assert_eq!(status, 401, "a forged Stripe signature: {answer}");
    // About the run's intent, but not an outcome: the residual predicate
    // (`d.type in […]`) leaves the run waiting.
    let (created, created_signature) =
        stripe_event(stripe_secret, "evt_0", "payment_intent.created", "pi_o-2");
    assert_eq!(stripe_post(&created, &created_signature).0, 202);
    // An outcome about another intent: the key (`d.data.object.id`) differs.
    let (other, other_signature) =
        stripe_event(stripe_secret, "evt_9", "payment_intent.succeeded", "pi_o-9");
    assert_eq!(stripe_post(&other, &other_signature).0, 202);
    assert_eq!(stripe_post(&body, &signature).0, 202);

    // `github_push` waits for `deploy_finished` about its own deployment.
    // Production's comes through `ci_status` (an HMAC-SHA256 in hex of the raw
    // body, then `emit`); staging's is emitted from outside with `flowc emit`.
    served.parked(&production, "finished");
    let report =
        json!({ "deployment_id": "dep-1", "status": "success", "log_url": "https://ci.example.com/log/1" })
            .to_string();
    let key = served.secret("ci_webhook_secret").as_bytes().to_vec();
    let ci_signature = hex(&hmac_sha256(&key, report.as_bytes()));
    let mut forged = ci_signature.clone().into_bytes();
    forged[0] = if forged[0] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).unwrap();
    let (status, body) = support::post(
        served.addr(),
        "/ci/status",
        &[("X-Signature", &forged)],
        &report,
    );
    assert_eq!(status, 401, "one changed hex digit: {body}");
    let reported = support::run_id(support::post(
        served.addr(),
        "/ci/status",
        &[("X-Signature", &ci_signature)],
        &report,
    ));
    served.parked(&staging, "finished");
    let emitted = served.flowc(&[
        "emit",
        "deploy_finished",
        r#"{"deployment_id": "dep-2", "status": "failure", "log_url": "https://ci.example.com/log/2"}"#,
    ]);
    assert!(!emitted.trim().is_empty(), "the event's id: {emitted}");

    let stripe_key = served.secret("stripe_secret_key").to_string();
    let github_token = served.secret("github_token").to_string();
    let oncall_key = served.secret("oncall_api_key").to_string();
    let (runs, requests) = served.finish();
    assert_eq!(
        runs.len(),
        10,
        "four pushes, three Slack events, two charges, one CI report: the forged \
         signatures, the redelivery, the retry and the challenge started none"
    );

    // Production: deployed, CI reported success, announced, commit status set.
    assert_succeeded(
        &runs,
        &production,
        &json!({ "deployed": true, "status": "success" }),
    );
    assert_eq!(
        journal(&runs, &production, &[]),
        ["commit_status", "deploy", "finished", "live"]
    );
    assert_eq!(
        call(&requests, &production, "deploy").json(),
        json!({ "repository": "acme/app", "sha": "abc123", "environment": "production", "requested_by": "ann" })
    );
    assert_eq!(
        call(&requests, &production, "live").json(),
        json!({ "channel": "#deploys", "text": ":rocket: acme/app is live on production (2 commits): Fix the thing" })
    );
    let status_call = call(&requests, &production, "commit_status");
    assert_sent_with_bearer(
        status_call,
        "POST",
        "/api.github.com/repos/acme/app/statuses/abc123",
        &github_token,
    );
    assert_eq!(
        status_call.json(),
        json!({ "state": "success", "target_url": "https://ci.example.com/log/1", "context": "flowc/deploy", "description": "production: success" })
    );
    assert_succeeded(&runs, &reported, &Value::Null);

    // Staging: CI reported failure; GitHub refused the status (422, never
    // retried), which the `catch` reports instead of failing the run.
    assert_succeeded(
        &runs,
        &staging,
        &json!({ "deployed": false, "status": "failure" }),
    );
    assert_eq!(
        journal(&runs, &staging, &["commit_status"]),
        [
            "broken",
            "commit_status",
            "deploy",
            "finished",
            "status_failed"
        ]
    );
    assert_eq!(
        call(&requests, &staging, "broken").json()["text"],
        ":x: staging deploy of acme/app ended in failure: https://ci.example.com/log/2"
    );
    call(&requests, &staging, "commit_status");
    let alert = call(&requests, &staging, "status_failed").json();
    assert_eq!(alert["channel"], "#deploys-alerts");
    let text = alert["text"].as_str().unwrap();
    assert!(
        text.starts_with("Could not set the GitHub status on def456: ") && text.contains("422"),
        "{text}"
    );

    assert_succeeded(
        &runs,
        &feature,
        &json!({ "deployed": false, "status": "not a deploy branch" }),
    );
    assert_succeeded(
        &runs,
        &bot,
        &json!({ "deployed": false, "status": "skipped" }),
    );
    assert_eq!(journal(&runs, &feature, &[]), Vec::<&str>::new());
    assert_eq!(journal(&runs, &bot, &[]), Vec::<&str>::new());

    // Slack: the mention answered in its thread, the newcomer greeted, and an
    // incident opened with the on-call API key.
    assert_succeeded(&runs, &mentioned, &Value::Null);
    assert_eq!(
        call(&requests, &mentioned, "reply").json(),
        json!({ "channel": "C1", "thread_ts": "1700000000.000100", "text": "<@U1> production is at abc123: success" })
    );
    assert_succeeded(&runs, &joined, &Value::Null);
    assert_eq!(
        call(&requests, &joined, "welcome").json()["text"],
        "Welcome, <@U2>! Deploys are announced here."
    );
    assert_succeeded(&runs, &siren, &Value::Null);
    let incident = call(&requests, &siren, "incident");
    assert_eq!(incident.header("x-api-key"), Some(oncall_key.as_str()));
    assert_eq!(
        incident.json(),
        json!({ "title": "Raised from Slack by U3", "severity": "high", "source": "slack" })
    );

    // Stripe: the first charge's outcome had arrived before its run waited.
    assert_succeeded(&runs, &paid, &json!({ "order_id": "o-1", "paid": true }));
    assert_eq!(
        journal(&runs, &paid, &[]),
        ["intent", "mark_paid", "outcome"]
    );
    let intent = call(&requests, &paid, "intent");
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
    let marked = call(&requests, &paid, "mark_paid");
    assert_eq!(marked.path(), "/shop.example.com/api/orders/o-1/paid");
    assert_eq!(marked.header("x-shop-token"), Some(shop.as_str()));
    assert_eq!(marked.json(), json!({ "payment_intent": "pi_o-1" }));

    // The second one's was posted while it waited, after two that were not it.
    assert_succeeded(
        &runs,
        &declined,
        &json!({ "order_id": "o-2", "paid": false }),
    );
    assert_eq!(
        journal(&runs, &declined, &[]),
        ["intent", "notify", "outcome"]
    );
    assert_eq!(
        call(&requests, &declined, "notify").json(),
        json!({ "channel": "#payments", "text": "Charge for order o-2 failed: Your card was declined." })
    );
    assert_eq!(
        requests.len(),
        15,
        "deploys 3 + 4, Slack 2 + 1 + 1, charges 2 + 2; every call: {:#?}",
        summary(&requests)
    );
}

// ---------------------------------------------------------------- hourly_enrich_approve

/// The records API, the enrichment provider, the chat hook and the run hooks of
/// `hourly_enrich_approve.flow`: customers c-1, c-2 and c-3 changed an hour
/// apart, the provider knows ACME, Globex and Initech.
fn records_and_enrichment(request: &Recorded) -> Reply {
    const CHANGED: [(&str, &str, &str); 3] = [
        ("c-1", "ann@acme.example", "2024-05-01T10:00:00Z"),
        ("c-2", "bo@globex.example", "2024-05-01T11:00:00Z"),
        ("c-3", "cy@initech.example", "2024-05-01T12:00:00Z"),
    ];
    match (request.method.as_str(), request.path()) {
        ("GET", "/records.example.com/api/v1/customers") => {
            let since = query_param(request, "updated_after").unwrap_or_default();
            let next: Vec<Value> = CHANGED
                .iter()
                .filter(|(_, _, updated)| *updated > since.as_str())
                .take(1)
                .map(|(id, email, updated)| {
                    json!({ "id": id, "email": email.to_uppercase(), "updated_at": updated })
                })
                .collect();
            Reply::json(200, json!(next))
        }
        ("GET", "/enrich.example.com/v2/companies") => {
            let email = query_param(request, "email").unwrap_or_default();
            let (company, employees) = match email.split('@').nth(1) {
                Some("acme.example") => ("ACME", 120),
                Some("globex.example") => ("Globex", 4000),
                _ => ("Initech", 35),
            };
            Reply::json(
                200,
                json!({
                    "company": company,
                    "domain": email.split('@').nth(1),
                    "employees": employees,
                    "industry": "software",
                    "confidence": 0.87,
                }),
            )
        }
        ("POST", "/chat.example.com/hooks/data-stewards")
        | ("PATCH", _)
        | ("POST", "/hooks.example.com/flowc/hourly-enrich/succeeded")
        | ("POST", "/hooks.example.com/flowc/enrich/succeeded")
        | ("POST", "/hooks.example.com/flowc/enrich/failed") => Reply::json(200, json!({})),
        ("POST", "/enrich.example.com/v2/jobs") => {
            let reference = request.json()["reference"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            Reply::json(202, json!({ "job_id": format!("job-{reference}") }))
        }
        _ => not_found(request),
    }
}

#[test]
fn hourly_enrich_approve_asks_a_person_each_hour_and_enriches_on_request_through_a_callback() {
    let served = serve("hourly_enrich_approve.flow", records_and_enrichment);

    // `hourly_enrich` fires at the top of every hour; `on manual` lets an
    // operator run it now, which is how it is started here. Four runs at once:
    // `max_concurrency: 1` runs them one after another, in order, so each
    // takes the next changed customer from the cursor its predecessor left in
    // the workflow's context, and the fourth finds nothing left.
    let hourly: Vec<String> = (0..4)
        .map(|_| served.start("hourly_enrich", &Value::Null))
        .collect();
    let notified = |customer: &str| {
        let needle = format!("Customer {customer} ");
        served
            .sent(&format!("the approval request for {customer}"), |request| {
                request.path() == "/chat.example.com/hooks/data-stewards"
                    && request.json()["text"]
                        .as_str()
                        .is_some_and(|text| text.starts_with(&needle))
            })
            .json()
    };

    // c-1: decided on the review page the notification links to.
    let first = notified("c-1");
    assert_eq!(
        first["text"],
        "Customer c-1 (ANN@ACME.EXAMPLE) looks like ACME. Approve within 24h."
    );
    let review = first["review_url"].as_str().unwrap();
    let approve = first["approve_url"].as_str().unwrap();
    assert_eq!(approve, format!("{review}/approve"));
    assert_eq!(first["reject_url"], format!("{review}/reject"));
    let (status, page) = support::send(served.addr(), "GET", path_of(review), &[], "").unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Set customer c-1 to ACME (120 employees, 87% confidence)?"),
        "the review page shows the approval's message: {page}"
    );
    // `flowc approve` refuses a run that waits for no approval (the fourth is
    // queued behind the first).
    let refused = served.server.admin(&["approve", &hourly[3]]);
    assert_eq!(refused.code, Some(1), "{refused}");
    let form = |url: &str| {
        support::send_typed(
            served.addr(),
            "POST",
            path_of(url),
            "application/x-www-form-urlencoded",
            &[],
            "by=ann%40example.com&comment=looks+right",
        )
        .unwrap()
    };
    let (status, page) = form(approve);
    assert_eq!(status, 200, "{page}");
    let (status, page) = form(approve);
    assert_eq!(status, 410, "a used approval URL: {page}");

    // c-2 and c-3: decided by an operator with `flowc reject` and `flowc approve`.
    notified("c-2");
    served.flowc(&[
        "reject",
        &hourly[1],
        "--by",
        "bo",
        "--comment",
        "not that Globex",
    ]);
    notified("c-3");
    served.flowc(&["approve", &hourly[2], "--by", "cy"]);

    // `enrich_on_request`: a shared secret header, then the provider's answer
    // through the callback URL the run handed it. Two requests at once; the
    // second waits for the first (`max_concurrency: 1`).
    let secret = served.secret("trigger_secret").to_string();
    let request = |id: &str, customer: &str| json!({ "request_id": id, "customer_id": customer, "email": " Bo@Example.com ", "priority": "high" });
    let (status, body) = served.post(
        "/trigger/enrich",
        &[("X-Shared-Secret", "wrong")],
        &request("r-1", "c-7"),
    );
    assert_eq!(status, 401, "{body}");
    let completed = support::run_id(served.post(
        "/trigger/enrich",
        &[("X-Shared-Secret", &secret)],
        &request("r-1", "c-7"),
    ));
    let failed = support::run_id(served.post(
        "/trigger/enrich",
        &[("X-Shared-Secret", &secret)],
        &request("r-2", "c-8"),
    ));
    let submitted = |reference: &str| {
        served
            .sent(&format!("the job for {reference}"), |request| {
                request.path() == "/enrich.example.com/v2/jobs"
                    && request.json()["reference"] == reference
            })
            .json()
    };
    let job = submitted("r-1");
    let notify_url = job["notify_url"].as_str().unwrap();
    assert!(
        notify_url.starts_with(&format!("http://{}/callbacks/", served.addr())),
        "{notify_url}"
    );
    let callback =
        |body: &Value| support::post(served.addr(), path_of(notify_url), &[], &body.to_string());
    let (status, answer) = callback(&json!({ "job_id": "job-r-1", "status": "done" }));
    assert_eq!(
        status, 422,
        "a body that is not an `EnrichmentJob`: {answer}"
    );
    let done = json!({
        "job_id": "job-r-1",
        "status": "completed",
        "result": { "company": "Example Ltd", "domain": "example.com", "employees": 12, "industry": "retail", "confidence": 0.9 },
    });
    let (status, answer) = callback(&done);
    assert_eq!(
        (status, serde_json::from_str::<Value>(&answer).unwrap()),
        (200, json!({ "run_id": completed }))
    );
    assert_eq!(callback(&done).0, 410, "a callback URL is single-use");

    // The second run's URL, read from its journal (the handle's record).
    let job = submitted("r-2");
    let shown: Value =
        serde_json::from_str(&served.flowc(&["runs", "show", &failed, "--json"])).unwrap();
    let handle = shown["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["path"] == "cb")
        .unwrap_or_else(|| panic!("no `cb` in the journal: {shown:#}"));
    assert_eq!(handle["output"]["url"], job["notify_url"]);
    let (status, answer) = support::post(
        served.addr(),
        path_of(handle["output"]["url"].as_str().unwrap()),
        &[],
        &json!({ "job_id": "job-r-2", "status": "failed", "error": "quota exceeded" }).to_string(),
    );
    assert_eq!(status, 200, "{answer}");

    // Each run's `on_success`/`on_failure` URL hears of its end.
    for run in &hourly {
        served.sent(&format!("the success hook of {run}"), |request| {
            request.path() == "/hooks.example.com/flowc/hourly-enrich/succeeded"
                && request.json()["run_id"] == *run.as_str()
        });
    }
    let succeeded = served
        .sent("the success hook of r-1", |request| {
            request.path() == "/hooks.example.com/flowc/enrich/succeeded"
        })
        .json();
    let failure = served
        .sent("the failure hook of r-2", |request| {
            request.path() == "/hooks.example.com/flowc/enrich/failed"
        })
        .json();
    let context: Value =
        serde_json::from_str(&served.flowc(&["context", "get", "hourly_enrich"])).unwrap();
    assert_eq!(context, json!({ "last_seen": "2024-05-01T12:00:00Z" }));
    let context: Value =
        serde_json::from_str(&served.flowc(&["context", "get", "enrich_on_request"])).unwrap();
    assert_eq!(
        context,
        json!({ "last_request": "r-1" }),
        "the failed run set nothing"
    );

    let records_token = served.secret("records_token").to_string();
    let enrichment_key = served.secret("enrichment_api_key").to_string();
    let hook_token = served.secret("chat_hook_token").to_string();
    let (runs, requests) = served.finish();
    assert_eq!(runs.len(), 6, "four hourly runs and two requests");

    // The hourly runs: approved on the page, rejected, approved, idle.
    let customer_query = |run: &str| call(&requests, run, "changed").query().to_string();
    assert_succeeded(
        &runs,
        &hourly[0],
        &json!({ "customer": "c-1", "outcome": "written" }),
    );
    let changed = call(&requests, &hourly[0], "changed");
    assert_sent_with_bearer(
        changed,
        "GET",
        "/records.example.com/api/v1/customers",
        &records_token,
    );
    assert_eq!(
        customer_query(&hourly[0]),
        "updated_after=1970-01-01T00%3A00%3A00Z&order=updated_at&limit=1"
    );
    let enriched = call(&requests, &hourly[0], "enriched");
    assert_eq!(enriched.header("x-api-key"), Some(enrichment_key.as_str()));
    assert_eq!(query_param(enriched, "email").unwrap(), "ann@acme.example");
    let notify = call(&requests, &hourly[0], "notify");
    assert_eq!(notify.header("x-hook-token"), Some(hook_token.as_str()));
    let write = call(&requests, &hourly[0], "write");
    assert_sent_with_bearer(
        write,
        "PATCH",
        "/records.example.com/api/v1/customers/c-1",
        &records_token,
    );
    assert_eq!(
        write.json(),
        json!({ "company": "ACME", "employees": 120, "industry": "software", "approved_by": "ann@example.com" })
    );
    assert_eq!(
        journal(&runs, &hourly[0], &[]),
        [
            "#set1", "changed", "ctx#1", "decision", "enriched", "notify", "review", "write"
        ]
    );

    assert_succeeded(
        &runs,
        &hourly[1],
        &json!({ "customer": "c-2", "outcome": "rejected" }),
    );
    assert_eq!(
        query_param(call(&requests, &hourly[1], "changed"), "updated_after").unwrap(),
        "2024-05-01T10:00:00Z",
        "the cursor the first run left"
    );
    assert_eq!(
        journal(&runs, &hourly[1], &[]),
        [
            "#set1", "changed", "ctx#1", "decision", "enriched", "notify", "review"
        ]
    );
    let decision = runs[&hourly[1]]
        .steps
        .iter()
        .find(|step| step.path == "decision")
        .unwrap();
    assert_eq!(
        decision.output,
        Some(json!({ "approved": false, "by": "bo", "comment": "not that Globex" }))
    );

    assert_succeeded(
        &runs,
        &hourly[2],
        &json!({ "customer": "c-3", "outcome": "written" }),
    );
    assert_eq!(
        call(&requests, &hourly[2], "write").json()["approved_by"],
        "cy"
    );

    assert_succeeded(
        &runs,
        &hourly[3],
        &json!({ "customer": null, "outcome": "idle" }),
    );
    assert_eq!(
        query_param(call(&requests, &hourly[3], "changed"), "updated_after").unwrap(),
        "2024-05-01T12:00:00Z"
    );
    assert_eq!(journal(&runs, &hourly[3], &[]), ["changed", "ctx#1"]);
    assert_one_at_a_time(&runs, &hourly);

    // The requests: one completed, its record saved; one failed by the provider.
    assert_succeeded(
        &runs,
        &completed,
        &json!({ "customer": "c-7", "company": "Example Ltd" }),
    );
    let submit = call(&requests, &completed, "submit");
    assert_eq!(submit.header("x-api-key"), Some(enrichment_key.as_str()));
    assert_eq!(submit.json()["email"], "bo@example.com");
    assert_eq!(submit.json()["priority"], "high");
    assert_eq!(
        call(&requests, &completed, "save").json(),
        json!({ "company": "Example Ltd", "employees": 12, "industry": "retail", "source": "on-request" })
    );
    assert_eq!(
        journal(&runs, &completed, &[]),
        ["#set1", "cb", "job", "save", "submit"]
    );
    assert_failed(
        &runs,
        &failed,
        "R0203",
        "enrichment job job-r-2 for c-8 failed: quota exceeded",
    );
    assert_one_at_a_time(&runs, &[completed.clone(), failed.clone()]);
    assert!(
        calls_to(
            &requests,
            "PATCH",
            "/records.example.com/api/v1/customers/c-8"
        )
        .is_empty()
    );
    assert_eq!(
        (
            succeeded["run_id"].as_str(),
            &succeeded["status"],
            &succeeded["output"]
        ),
        (
            Some(completed.as_str()),
            &json!("succeeded"),
            &json!({ "customer": "c-7", "company": "Example Ltd" })
        )
    );
    assert_eq!(
        (
            failure["run_id"].as_str(),
            &failure["status"],
            &failure["error"]["code"]
        ),
        (Some(failed.as_str()), &json!("failed"), &json!("R0203"))
    );
}

// ---------------------------------------------------------------- order_events

/// Billing, the warehouse, the supplier and Slack of `order_events.flow`.
/// Stock after an order: MUG-01 plenty, TEE-02 and CAP-03 low; CAP-03 already
/// has a purchase order open. The supplier confirms PO-9 (TEE-02), rejects
/// PO-10 (BAG-04) and has not decided on PO-11 (HAT-05).
fn shop_backends(request: &Recorded) -> Reply {
    const SUPPLIER: &str = "/supplier.example.com/api/purchase-orders";
    let path = request.path();
    let sku = path.rsplit('/').next().unwrap_or_default();
    match request.method.as_str() {
        "POST" if path == "/billing.example.com/v1/invoices" => Reply::json(
            200,
            json!({ "invoice_id": "in_1", "number": "INV-1", "total_cents": 6400, "pdf_url": "https://billing/in_1.pdf" }),
        ),
        "POST" if path.starts_with("/warehouse.example.com/api/stock/") => {
            let sku = path.split('/').nth(4).unwrap_or_default();
            let remaining = match sku {
                "TEE-02" => 12,
                "CAP-03" => 30,
                _ => 120,
            };
            Reply::json(200, json!({ "sku": sku, "remaining": remaining }))
        }
        "GET" if path.starts_with("/warehouse.example.com/api/skus/") => Reply::json(
            200,
            json!({
                "sku": sku,
                "supplier_sku": format!("SUP-{sku}"),
                "min_order": 100,
                "open_purchase_order": if sku == "CAP-03" { json!("PO-7") } else { Value::Null },
            }),
        ),
        "PATCH" if path.starts_with("/warehouse.example.com/api/skus/") => {
            Reply::json(200, json!({}))
        }
        "POST" if path == SUPPLIER => {
            let id = match request.json()["sku"].as_str() {
                Some("SUP-TEE-02") => "PO-9",
                Some("SUP-BAG-04") => "PO-10",
                _ => "PO-11",
            };
            // The supplier's own link to the order, which the run follows.
            let host = request.header("host").unwrap_or_default();
            Reply::json(
                201,
                json!({
                    "id": id,
                    "status": "pending",
                    "links": { "self": format!("http://{host}{SUPPLIER}/{id}") },
                }),
            )
        }
        "GET" if path.starts_with(SUPPLIER) => {
            let id = sku;
            let (status, eta) = match id {
                "PO-9" => ("confirmed", json!("2024-06-03")),
                "PO-10" => ("rejected", Value::Null),
                _ => ("pending", Value::Null),
            };
            let mut order = json!({ "id": id, "status": status, "links": { "self": path } });
            if !eta.is_null() {
                order["eta"] = eta;
            }
            Reply::json(200, order)
        }
        "POST" if path == "/slack.com/api/chat.postMessage" => {
            Reply::json(200, json!({ "ok": true, "ts": "1.2" }))
        }
        _ => not_found(request),
    }
}

#[test]
fn order_events_invoices_an_order_and_reorders_its_low_skus_through_an_event() {
    let mut served = serve("order_events.flow", shop_backends);
    // `process_order` verifies with `standard_webhooks(…)`: `webhook-id`,
    // `webhook-timestamp` and `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`
    // under the key after `whsec_`.
    let order = json!({
        "order_id": "o-1",
        "customer": { "id": "c-1", "email": " Ann@Example.com " },
        "lines": [
            { "sku": "MUG-01", "quantity": 2, "unit_price_cents": 1250 },
            { "sku": "TEE-02", "quantity": 1, "unit_price_cents": 1500 },
            { "sku": "CAP-03", "quantity": 3, "unit_price_cents": 800 },
        ],
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
            served.addr(),
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
    let processed = support::run_id(post(&signature));
    assert_eq!(
        support::run_id(post(&signature)),
        processed,
        "a retry with the same webhook-id"
    );

    // The seed's debugging: the event emitted from outside with `flowc emit`
    // (both listeners start), and the listener started by hand with edited
    // input (`on manual`).
    served.flowc(&["emit", "sku_reorder", r#"{"sku": "BAG-04", "stock": 3}"#]);
    let by_hand = served.start(
        "reorder_from_supplier",
        &json!({ "sku": "HAT-05", "stock": 40 }),
    );

    // Three reorders placed a purchase order and wait 10 minutes before checking
    // on it; the fourth (CAP-03) found one open and ended. Parked on disk, they
    // survive a restart; once the clock passes their deadline they go on.
    // Every other run has ended by then, so the restart interrupts no call.
    let ended = |detail: &RunDetail| {
        matches!(
            detail.run.status,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    };
    let runs = served.runs_until("three reorders waiting on their timers", |runs| {
        let waiting = runs
            .iter()
            .filter(|detail| open_wait(detail, "grace").is_some())
            .count();
        runs.len() == 8 && waiting == 3 && runs.iter().filter(|d| ended(d)).count() == 5
    });
    let timers: Vec<&Wait> = runs
        .iter()
        .filter_map(|detail| open_wait(detail, "grace"))
        .collect();
    for timer in &timers {
        assert_eq!(timer.kind, WaitKind::Timer);
        let deadline = timer.deadline.unwrap();
        assert!(
            (deadline - timer.created_at - 600_000).abs() < 1_000,
            "`wait 10m` is due 10 minutes after it began: {timer:?}"
        );
    }
    let due = timers
        .iter()
        .filter_map(|timer| timer.deadline)
        .max()
        .unwrap();
    assert_eq!(
        served.restart_at(due),
        3,
        "the three timers, and nothing else"
    );

    let billing_token = served.secret("billing_token").to_string();
    let password = served.secret("warehouse_password").to_string();
    let supplier_key = served.secret("supplier_api_key").to_string();
    let (runs, requests) = served.finish();
    assert_eq!(
        runs.len(),
        8,
        "the order, four reorders (two emitted by the order, one from outside, one by \
         hand) and three announcements"
    );

    // The order: invoiced, one stock update per line, two SKUs flagged.
    assert_succeeded(
        &runs,
        &processed,
        &json!({ "invoice": "INV-1", "low_skus": 2 }),
    );
    let invoice = call(&requests, &processed, "invoice");
    assert_sent_with_bearer(
        invoice,
        "POST",
        "/billing.example.com/v1/invoices",
        &billing_token,
    );
    assert_eq!(invoice.json()["total_cents"], 6400);
    assert_eq!(invoice.json()["email"], "ann@example.com");
    assert_eq!(
        journal(&runs, &processed, &[]),
        [
            "invoice",
            "lines[0].stock",
            "lines[1].#emit1",
            "lines[1].stock",
            "lines[2].#emit1",
            "lines[2].stock"
        ]
    );
    let basic = format!("Basic {}", STANDARD.encode(format!("flowc:{password}")));
    for (index, (sku, quantity)) in [("MUG-01", 2), ("TEE-02", 1), ("CAP-03", 3)]
        .into_iter()
        .enumerate()
    {
        let stock = call(&requests, &processed, &format!("lines[{index}].stock"));
        assert_eq!(
            stock.path(),
            format!("/warehouse.example.com/api/stock/{sku}/decrement")
        );
        assert_eq!(stock.header("authorization"), Some(basic.as_str()));
        assert_eq!(
            stock.json(),
            json!({ "quantity": quantity, "reference": "o-1" })
        );
    }

    // Every `sku_reorder` (two from the order, one from outside) started both
    // listeners; the run by hand started only the one it names.
    let reorders = runs_of(&runs, "reorder_from_supplier");
    let reorder = |sku: &str| {
        reorders
            .iter()
            .find(|detail| detail.run.input["sku"] == sku)
            .unwrap_or_else(|| panic!("no reorder of {sku}"))
            .run
            .id
            .as_str()
    };
    let mut announced: Vec<(&str, &str)> = runs_of(&runs, "announce_low_stock")
        .iter()
        .map(|detail| {
            assert_succeeded(&runs, &detail.run.id, &Value::Null);
            let text = call(&requests, &detail.run.id, "post").json()["text"].clone();
            let sku = detail.run.input["sku"].as_str().unwrap();
            assert_eq!(
                text,
                format!(
                    ":package: {sku} is down to {} units; a purchase order is being placed.",
                    detail.run.input["stock"]
                )
            );
            (sku, detail.run.trigger.as_str())
        })
        .collect();
    announced.sort_unstable();
    assert_eq!(
        announced,
        [
            ("BAG-04", "event"),
            ("CAP-03", "event"),
            ("TEE-02", "event")
        ]
    );
    let mut reordered: Vec<(&str, &str)> = reorders
        .iter()
        .map(|detail| {
            let sku = detail.run.input["sku"].as_str().unwrap();
            (sku, detail.run.trigger.as_str())
        })
        .collect();
    reordered.sort_unstable();
    assert_eq!(
        reordered,
        [
            ("BAG-04", "event"),
            ("CAP-03", "event"),
            ("HAT-05", "api"),
            ("TEE-02", "event")
        ]
    );
    assert_eq!(reorder("HAT-05"), by_hand);

    // CAP-03: a purchase order is already open, so nothing is ordered.
    assert_succeeded(
        &runs,
        reorder("CAP-03"),
        &json!({ "purchase_order": "PO-7", "status": "already open" }),
    );
    assert_eq!(journal(&runs, reorder("CAP-03"), &[]), ["info"]);

    // TEE-02: ordered, marked open, confirmed after the wait, its ETA recorded.
    let tee = reorder("TEE-02");
    assert_succeeded(
        &runs,
        tee,
        &json!({ "purchase_order": "PO-9", "status": "confirmed" }),
    );
    assert_eq!(
        journal(&runs, tee, &[]),
        ["confirmation", "eta", "grace", "info", "mark_open", "po"]
    );
    let po = call(&requests, tee, "po");
    assert_eq!(po.header("x-api-key"), Some(supplier_key.as_str()));
    assert_eq!(
        po.json(),
        json!({ "sku": "SUP-TEE-02", "quantity": 188, "deliver_to": "warehouse-lisbon-1" })
    );
    assert_eq!(
        call(&requests, tee, "mark_open").json(),
        json!({ "open_purchase_order": "PO-9" })
    );
    let confirmation = call(&requests, tee, "confirmation");
    assert_eq!(
        (confirmation.method.as_str(), confirmation.path()),
        ("GET", "/supplier.example.com/api/purchase-orders/PO-9")
    );
    assert_eq!(
        confirmation.header("x-api-key"),
        Some(supplier_key.as_str())
    );
    assert_eq!(
        call(&requests, tee, "eta").json(),
        json!({ "eta": "2024-06-03" })
    );

    // BAG-04: the supplier rejected it; the open order is cleared and the run fails.
    let bag = reorder("BAG-04");
    assert_failed(
        &runs,
        bag,
        "R0203",
        "supplier rejected purchase order PO-10 for BAG-04",
    );
    assert_eq!(call(&requests, bag, "po").json()["quantity"], 197);
    assert_eq!(
        call(&requests, bag, "clear").json(),
        json!({ "open_purchase_order": null })
    );

    // HAT-05: still pending after 10 minutes; purchasing is told.
    let hat = reorder("HAT-05");
    assert_succeeded(
        &runs,
        hat,
        &json!({ "purchase_order": "PO-11", "status": "pending" }),
    );
    assert_eq!(call(&requests, hat, "po").json()["quantity"], 160);
    assert_eq!(
        call(&requests, hat, "chase").json(),
        json!({ "channel": "#purchasing", "text": "PO PO-11 for HAT-05 is still unconfirmed after 10 minutes." })
    );
    assert_eq!(requests.len(), 23, "every call: {:#?}", summary(&requests));
}

// ---------------------------------------------------------------- payment_validation

/// The fraud engine (behind OAuth 2 client credentials), the Midaz ledger and
/// the payments API of `payment_validation.flow`. `txn-risky` scores 93;
/// `cust-poor` has 5.00 on its account, `cust-blocked` a blocked one.
fn payment_backends(request: &Recorded) -> Reply {
    let path = request.path();
    match (request.method.as_str(), path) {
        ("POST", "/auth.example.com/oauth/token") => Reply::json(
            200,
            json!({ "access_token": "fraud-access-1", "token_type": "Bearer", "expires_in": 3600 }),
        ),
        ("POST", "/fraud.example.com/v1/score") => {
            if request.json()["id"] == "txn-risky" {
                Reply::json(
                    200,
                    json!({ "score": 93, "reasons": ["velocity", "new device"] }),
                )
            } else {
                Reply::json(200, json!({ "score": 12, "reasons": [] }))
            }
        }
        ("GET", _) if path.starts_with("/midaz.example.com/api/v1/accounts/") => {
            let account = path.split('/').nth(5).unwrap_or_default();
            let (balance, status) = match account {
                "cust-poor" => (5.0, "active"),
                "cust-blocked" => (90_000.0, "blocked"),
                _ => (5_000.0, "active"),
            };
            Reply::json(
                200,
                json!({ "accountId": account, "currentBalance": balance, "accountStatus": status }),
            )
        }
        ("POST", _) if path.starts_with("/payments.example.com/") => Reply::json(200, json!({})),
        _ => not_found(request),
    }
}

#[test]
fn payment_validation_scores_and_checks_in_parallel_and_settles_batches_through_child_runs() {
    let served = serve("payment_validation.flow", payment_backends);
    let token = served.secret("payments_hook").to_string();
    let payment = |id: &str, amount: f64, customer: &str| json!({ "transactionId": id, "amount": amount, "currency": "BRL", "customerId": customer });
    let single = support::run_id(served.post(
        "/payments/received",
        &[("X-Webhook-Token", &token)],
        &payment("txn-1", 10.5, "cust-1"),
    ));
    assert_eq!(
        support::run_id(served.post(
            "/payments/received",
            &[("X-Webhook-Token", &token)],
            &payment("txn-1", 10.5, "cust-1"),
        )),
        single,
        "the same transaction, the same run"
    );
    let mut euros = payment("txn-1", 10.5, "cust-1");
    euros["currency"] = json!("EUR");
    let (status, body) = served.post("/payments/received", &[("X-Webhook-Token", &token)], &euros);
    assert_eq!(status, 422, "a currency outside the union: {body}");
    let (status, body) = served.post(
        "/payments/received",
        &[("X-Webhook-Token", "nope")],
        &payment("txn-0", 1.0, "cust-1"),
    );
    assert_eq!(status, 401, "{body}");
    let blocked = support::run_id(served.post(
        "/payments/received",
        &[("X-Webhook-Token", &token)],
        &payment("txn-5", 10.0, "cust-blocked"),
    ));

    // A batch: approved, too risky, not funded; each payment a child run.
    let batch = json!({
        "batchId": "b-1",
        "payments": [
            payment("txn-2", 100.5, "cust-1"),
            payment("txn-risky", 200.25, "cust-1"),
            payment("txn-4", 20.0, "cust-poor"),
        ],
    });
    let batched =
        support::run_id(served.post("/payments/batch", &[("X-Webhook-Token", &token)], &batch));

    let midaz = served.secret("midaz_key").to_string();
    let password = served.secret("payments_password").to_string();
    let (runs, requests) = served.finish();
    assert_eq!(
        runs.len(),
        6,
        "two payments, one batch and its three children"
    );

    // One payment: both calls of the `parallel` made, then approved.
    assert_succeeded(&runs, &single, &json!({ "approved": true, "score": 12 }));
    assert_eq!(
        journal(&runs, &single, &[]),
        ["approve", "balance", "check"]
    );
    let check = call(&requests, &single, "check");
    assert_sent_with_bearer(
        check,
        "POST",
        "/fraud.example.com/v1/score",
        "fraud-access-1",
    );
    assert_eq!(
        check.json(),
        json!({ "id": "txn-1", "amount": 10.5, "currency": "BRL" })
    );
    let balance = call(&requests, &single, "balance");
    assert_eq!(
        balance.path(),
        "/midaz.example.com/api/v1/accounts/cust-1/balance"
    );
    assert_eq!(balance.header("x-api-key"), Some(midaz.as_str()));
    let approve = call(&requests, &single, "approve");
    assert_eq!(approve.path(), "/payments.example.com/approve/txn-1");
    let basic = format!("Basic {}", STANDARD.encode(format!("flowc:{password}")));
    assert_eq!(approve.header("authorization"), Some(basic.as_str()));
    // A blocked account is rejected whatever the score.
    assert_succeeded(&runs, &blocked, &json!({ "approved": false, "score": 12 }));
    assert_eq!(
        call(&requests, &blocked, "reject").json(),
        json!({ "reasons": ["insufficient funds"] })
    );

    // The batch: `for … (concurrency: 5)` over `call`, one child run each.
    assert_succeeded(
        &runs,
        &batched,
        &json!({ "batchId": "b-1", "approved": 1, "rejected": 2, "total": 320.75 }),
    );
    let children = runs_of(&runs, "payment_validation")
        .into_iter()
        .filter(|detail| detail.run.parent.as_deref() == Some(batched.as_str()))
        .collect::<Vec<_>>();
    assert_eq!(children.len(), 3);
    let child = |id: &str| {
        children
            .iter()
            .find(|detail| detail.run.input["transactionId"] == id)
            .unwrap_or_else(|| panic!("no child run for {id}"))
            .run
            .id
            .as_str()
    };
    assert_succeeded(
        &runs,
        child("txn-2"),
        &json!({ "approved": true, "score": 12 }),
    );
    call(&requests, child("txn-2"), "approve");
    assert_succeeded(
        &runs,
        child("txn-risky"),
        &json!({ "approved": false, "score": 93 }),
    );
    assert_eq!(
        call(&requests, child("txn-risky"), "reject").json(),
        json!({ "reasons": ["velocity", "new device"] })
    );
    assert_succeeded(
        &runs,
        child("txn-4"),
        &json!({ "approved": false, "score": 12 }),
    );
    assert_eq!(
        call(&requests, child("txn-4"), "reject").json(),
        json!({ "reasons": ["insufficient funds"] })
    );
    // The batch's own journal holds the three calls, each answered by its child.
    let batch_steps = &runs[&batched].steps;
    assert_eq!(batch_steps.len(), 3, "{batch_steps:#?}");
    for step in batch_steps {
        assert_eq!(step.status, StepStatus::Succeeded, "{step:?}");
    }

    // One token for the fraud engine, fetched once and reused; three calls per payment.
    assert_eq!(
        calls_to(&requests, "POST", "/auth.example.com/oauth/token").len(),
        1
    );
    assert_eq!(
        requests.len(),
        1 + 5 * 3,
        "every call: {:#?}",
        summary(&requests)
    );
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
