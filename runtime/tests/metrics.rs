//! `GET /metrics` end to end: a real server on a free loopback port, a temp-file
//! SQLite store, the engine with an egress guard, and a recording HTTP server for
//! the steps. After webhooks that are accepted, refused (401, 404, 422), a run
//! whose step fails against a connection with a breaker and a run whose step the
//! guard refuses, the scrape is parsed by a small reader of the text format 0.0.4
//! and every series the traffic touched is checked for its exact value.
//!
//! The registry is the process's (`metrics::global`), so this file runs one
//! scenario that makes traffic; the other tests only bind and scrape.

#![allow(clippy::unwrap_used)]
// Runs are polled until they end, with a wall-clock deadline that only bounds the
// loop (no assertion is about time): `Instant::now` is the simplest such bound.
#![allow(clippy::disallowed_methods)]

mod common;

use common::harness::Harness as Stack;
use common::{JumpingClock, Reply, Server as Recorder};
use flowc_runtime::clock::Clock;
use flowc_runtime::engine::{Engine, SecretSource};
use flowc_runtime::outbound::{Allow, Client, PrivateNetworkGuard};
use flowc_runtime::server;
use flowc_runtime::store::Store;
use flowc_runtime::store::sqlite::Options as StoreOptions;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PROGRAM: &str = r#"
connection flaky {
  base_url: "BASE"
  circuit_breaker: { failures: 1, reset_after: 60s }
}

workflow hooked(delivery: { id: string }) {
  on webhook POST "/hooks/in" {
    verify: header_token("X-Token", secrets.hook_token)
  }
  step tell = http POST "BASE/ok" { json: { id: delivery.id } }
}

workflow failing(order: { id: string }) {
  on webhook POST "/fail" {
    respond: wait
  }
  step charge = http POST flaky "/down" { json: { id: order.id } }
}

workflow leaking(order: { id: string }) {
  on webhook POST "/egress" {
    respond: wait
  }
  step metadata = http GET "http://169.254.169.254/latest/meta-data"
}
"#;

const HOOK_TOKEN: &str = "hook-token-canary-5f1e";
const ADMIN_TOKEN: &str = "admin-token-canary-9c2d";
const UNKNOWN_PATH: &str = "/probe-canary-7a3b";

/// The shared stack (with the store's own ids) and the recording server its steps
/// call.
struct Harness {
    stack: Stack,
    recorder: Recorder,
}

common::harness::deref_to_stack!(Harness);

impl Harness {
    /// A server with the program deployed; `metrics` adds the second address.
    async fn new(metrics: Option<SocketAddr>) -> Harness {
        let recorder = Recorder::start(|request, _| match request.path() {
            "/down" => Reply::json(500, json!({ "error": "down" })),
            _ => Reply::json(200, json!({ "ok": true })),
        })
        .await;
        // The guard opens exactly the recorder: 169.254.169.254 stays refused.
        let guard = PrivateNetworkGuard::new([Allow::Socket(recorder.addr)]);
        let stack = Stack::builder()
            .random_ids()
            .secret("hook_token", HOOK_TOKEN)
            .program(&PROGRAM.replace("BASE", &recorder.base()))
            .client(move |client| client.egress(Arc::new(guard)))
            .admin_token(Some(ADMIN_TOKEN))
            .options(move |options| options.metrics_addr = metrics)
            .build()
            .await;
        Harness { stack, recorder }
    }

    async fn post(&self, path: &str, token: Option<&str>, body: &str) -> u16 {
        let mut request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.header("x-token", token);
        }
        request.send().await.unwrap().status().as_u16()
    }

    /// `GET /metrics` with the admin token: the status, content type and text.
    async fn scrape(&self, token: Option<&str>) -> (u16, String, String) {
        let mut request = self.http.get(self.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_string();
        (status, content_type, response.text().await.unwrap())
    }

    /// Scrapes until `name{labels}` reaches `value` (at most 20 s, then fails).
    async fn until(&self, name: &str, labels: &[(&str, &str)], value: f64) -> Scrape {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, _, text) = self.scrape(Some(ADMIN_TOKEN)).await;
            let scrape = Scrape::parse(&text);
            if scrape.value(name, labels) == Some(value) {
                return scrape;
            }
            assert!(
                Instant::now() < deadline,
                "{name}{labels:?} never reached {value}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

// ---------------------------------------------------------------- the reader

/// One sample line.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape, read strictly: every line is `# HELP`, `# TYPE` or a sample; every
/// sample belongs to a family whose `# TYPE` came before it; no family is
/// declared twice; names and label names are valid; values are numbers.
#[derive(Debug)]
struct Scrape {
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

fn is_name(text: &str, colon: bool) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        assert!(text.ends_with('\n'), "the last line must end: {text:?}");
        let mut helps = BTreeSet::new();
        let mut types = BTreeMap::new();
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap();
                assert!(is_name(name, true), "{line}");
                assert!(!help.is_empty(), "{line}");
                assert!(helps.insert(name.to_string()), "HELP twice: {line}");
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(is_name(name, true), "{line}");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "{line}"
                );
                assert!(
                    types.insert(name.to_string(), kind.to_string()).is_none(),
                    "TYPE twice: {line}"
                );
            } else {
                assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
                let sample = Scrape::sample(line);
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| {
                        let base = sample.name.strip_suffix(suffix)?;
                        (types.get(base).map(String::as_str) == Some("histogram")).then_some(base)
                    })
                    .unwrap_or(&sample.name);
                assert!(types.contains_key(family), "no TYPE before: {line}");
                samples.push(sample);
            }
        }
        Scrape { types, samples }
    }

    /// `name{a="x",b="y"} value`, with `\\`, `\"` and `\n` escapes in values.
    fn sample(line: &str) -> Sample {
        // A value is one token (no timestamps here), and label values may hold
        // spaces: split at the last one.
        let (head, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match head.split_once('{') {
            Some((name, rest)) => (name, Scrape::labels(rest.strip_suffix('}').unwrap(), line)),
            None => (head, BTreeMap::new()),
        };
        assert!(is_name(name, true), "{line}");
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            number => number
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        Sample {
            name: name.to_string(),
            labels,
            value,
        }
    }

    /// `a="x",b="y"`.
    fn labels(mut text: &str, line: &str) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::new();
        while !text.is_empty() {
            let (key, rest) = text.split_once("=\"").unwrap();
            assert!(is_name(key, false), "label name {key:?} in {line}");
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next().map(|(_, c)| c) {
                        Some('n') => value.push('\n'),
                        Some(c @ ('\\' | '"')) => value.push(c),
                        other => panic!("bad escape {other:?} in {line}"),
                    },
                    Some((at, '"')) => break at,
                    Some((_, c)) => value.push(c),
                    None => panic!("unterminated label value in {line}"),
                }
            };
            assert!(
                labels.insert(key.to_string(), value).is_none(),
                "label twice: {line}"
            );
            text = &rest[end + 1..];
            if let Some(next) = text.strip_prefix(',') {
                text = next;
            } else {
                assert!(text.is_empty(), "expected `,` or the end in {line}");
            }
        }
        labels
    }

    /// The value of the sample with exactly these labels.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|sample| sample.name == name && sample.labels == wanted)
            .map(|sample| sample.value)
    }

    /// Every sample of `name`, as label set → value.
    fn series(&self, name: &str) -> BTreeMap<Vec<(String, String)>, f64> {
        self.samples
            .iter()
            .filter(|sample| sample.name == name)
            .map(|sample| {
                let labels = sample
                    .labels
                    .iter()
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect();
                (labels, sample.value)
            })
            .collect()
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    labels.sort();
    labels
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn the_scrape_counts_webhooks_runs_steps_outbound_calls_and_breakers_exactly() {
    let h = Harness::new(None).await;

    // The endpoint is behind the admin token.
    let (status, _, body) = h.scrape(None).await;
    assert_eq!(status, 401, "{body}");
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["code"], "unauthorized");
    assert_eq!(h.scrape(Some("not-the-token")).await.0, 401);

    // Webhooks: accepted, wrong token, wrong input, unknown path (twice: a POST
    // to /metrics is ingress's like any other path).
    assert_eq!(
        h.post("/hooks/in", Some(HOOK_TOKEN), r#"{"id": "a"}"#)
            .await,
        202
    );
    assert_eq!(
        h.post("/hooks/in", Some("wrong"), r#"{"id": "b"}"#).await,
        401
    );
    assert_eq!(
        h.post("/hooks/in", Some(HOOK_TOKEN), r#"{"id": 5}"#).await,
        422
    );
    assert_eq!(h.post(UNKNOWN_PATH, None, "{}").await, 404);
    assert_eq!(h.post("/metrics", None, "{}").await, 404);
    // `respond: wait`: answered once the run has ended (failed: 500).
    assert_eq!(h.post("/fail", None, r#"{"id": "c"}"#).await, 500);
    assert_eq!(h.post("/egress", None, r#"{"id": "d"}"#).await, 500);
    assert_eq!(h.recorder.count("/down"), 1);

    let scrape = h
        .until(
            "flowc_runs_finished_total",
            &[("workflow", "hooked"), ("status", "succeeded")],
            1.0,
        )
        .await;
    let (status, content_type, text) = h.scrape(Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    // The scrape after the run ended says the same as the one that saw it end.
    let scrape = {
        let again = Scrape::parse(&text);
        assert_eq!(again.types, scrape.types);
        again
    };

    assert_eq!(
        scrape.series("flowc_webhook_requests_total"),
        BTreeMap::from([
            (
                labels(&[
                    ("path", "/hooks/in"),
                    ("status", "202"),
                    ("verification", "passed")
                ]),
                1.0
            ),
            (
                labels(&[
                    ("path", "/hooks/in"),
                    ("status", "401"),
                    ("verification", "failed")
                ]),
                1.0
            ),
            (
                labels(&[
                    ("path", "/hooks/in"),
                    ("status", "422"),
                    ("verification", "passed")
                ]),
                1.0
            ),
            (
                labels(&[
                    ("path", "unknown"),
                    ("status", "404"),
                    ("verification", "not_reached")
                ]),
                2.0
            ),
            (
                labels(&[
                    ("path", "/fail"),
                    ("status", "500"),
                    ("verification", "none")
                ]),
                1.0
            ),
            (
                labels(&[
                    ("path", "/egress"),
                    ("status", "500"),
                    ("verification", "none")
                ]),
                1.0
            ),
        ])
    );
    assert_eq!(
        scrape.series("flowc_runs_started_total"),
        BTreeMap::from([
            (labels(&[("workflow", "failing")]), 1.0),
            (labels(&[("workflow", "hooked")]), 1.0),
            (labels(&[("workflow", "leaking")]), 1.0),
        ])
    );
    assert_eq!(
        scrape.series("flowc_runs_finished_total"),
        BTreeMap::from([
            (
                labels(&[("workflow", "failing"), ("status", "failed")]),
                1.0
            ),
            (
                labels(&[("workflow", "hooked"), ("status", "succeeded")]),
                1.0
            ),
            (
                labels(&[("workflow", "leaking"), ("status", "failed")]),
                1.0
            ),
        ])
    );
    assert_eq!(
        scrape.series("flowc_runs_in_progress"),
        BTreeMap::from([
            (labels(&[("workflow", "failing")]), 0.0),
            (labels(&[("workflow", "hooked")]), 0.0),
            (labels(&[("workflow", "leaking")]), 0.0),
        ])
    );
    assert_eq!(
        scrape.series("flowc_step_duration_seconds_count"),
        BTreeMap::from([
            (
                labels(&[("workflow", "failing"), ("outcome", "failed")]),
                1.0
            ),
            (
                labels(&[("workflow", "hooked"), ("outcome", "succeeded")]),
                1.0
            ),
            (
                labels(&[("workflow", "leaking"), ("outcome", "failed")]),
                1.0
            ),
        ])
    );
    // The test clock stands still during a step: every step is in the first bucket.
    assert_eq!(
        scrape.value(
            "flowc_step_duration_seconds_bucket",
            &[
                ("workflow", "hooked"),
                ("outcome", "succeeded"),
                ("le", "0.005")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        scrape.value(
            "flowc_step_duration_seconds_bucket",
            &[
                ("workflow", "hooked"),
                ("outcome", "succeeded"),
                ("le", "+Inf")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        scrape.series("flowc_outbound_calls_total"),
        BTreeMap::from([
            (
                labels(&[("connection", "flaky"), ("outcome", "http_error")]),
                1.0
            ),
            (labels(&[("connection", "none"), ("outcome", "ok")]), 1.0),
            (
                labels(&[("connection", "none"), ("outcome", "refused_by_egress")]),
                1.0
            ),
        ])
    );
    assert_eq!(
        scrape.series("flowc_egress_refusals_total"),
        BTreeMap::from([(labels(&[("connection", "none")]), 1.0)])
    );
    assert_eq!(
        scrape.series("flowc_breaker_state"),
        BTreeMap::from([(labels(&[("connection", "flaky")]), 2.0)])
    );
    assert_eq!(
        scrape.series("flowc_breaker_opened_total"),
        BTreeMap::from([(labels(&[("connection", "flaky")]), 1.0)])
    );
    let commits = scrape.value("flowc_store_commits_total", &[]).unwrap();
    let writes = scrape.value("flowc_store_writes_total", &[]).unwrap();
    assert!(commits >= 1.0 && writes >= commits, "{commits} {writes}");
    assert_eq!(
        scrape.value("flowc_store_writes_per_commit_count", &[]),
        Some(commits)
    );
    #[cfg(target_os = "linux")]
    assert!(scrape.value("process_resident_memory_bytes", &[]).unwrap() > 0.0);
    for (name, kind) in [
        ("flowc_runs_started_total", "counter"),
        ("flowc_runs_in_progress", "gauge"),
        ("flowc_step_duration_seconds", "histogram"),
        ("flowc_breaker_state", "gauge"),
        ("flowc_store_writes_per_commit", "histogram"),
    ] {
        assert_eq!(
            scrape.types.get(name).map(String::as_str),
            Some(kind),
            "{name}"
        );
    }

    // Nothing a caller sent or a secret shows: not the unknown path, the tokens,
    // nor a host a step called.
    for canary in [
        UNKNOWN_PATH,
        "probe-canary",
        HOOK_TOKEN,
        ADMIN_TOKEN,
        "wrong",
        "169.254",
        &h.recorder.addr.to_string(),
    ] {
        assert!(!text.contains(canary), "{canary} in:\n{text}");
    }
}

#[tokio::test]
async fn a_metrics_address_serves_the_scrape_without_a_token_and_nothing_else() {
    let h = Harness::new(Some("127.0.0.1:0".parse().unwrap())).await;
    let addr = h.handle.metrics_addr().unwrap();
    assert_ne!(addr, h.handle.local_addr());
    let response = h
        .http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let scrape = Scrape::parse(&response.text().await.unwrap());
    assert!(scrape.types.contains_key("flowc_webhook_requests_total"));
    // Only the metrics: no admin API, no webhooks.
    for path in ["/api/v1/runs", "/hooks/in"] {
        let response = h
            .http
            .post(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 404, "{path}");
    }
    // The main address still wants the token.
    assert_eq!(h.scrape(None).await.0, 401);
}

#[tokio::test]
async fn a_metrics_address_off_loopback_needs_metrics_public() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        StoreOptions::new(dir.path().join("flowc.db"))
            .open()
            .unwrap(),
    );
    let clock: Arc<dyn Clock> = Arc::new(JumpingClock::new(0));
    let client = Client::builder(Arc::clone(&clock)).build().unwrap();
    let secrets: Arc<dyn SecretSource> = Arc::new(flowc_runtime::engine::NoSecrets);
    let engine = Arc::new(Engine::new(
        Arc::clone(&store),
        Arc::new(client),
        Arc::clone(&secrets),
        Arc::clone(&clock),
    ));
    let options = || {
        let mut options = server::Options::new(
            Arc::clone(&store),
            Arc::clone(&engine),
            Arc::clone(&secrets),
            Arc::clone(&clock),
        );
        options.addr = "127.0.0.1:0".parse().unwrap();
        options.metrics_addr = Some("0.0.0.0:0".parse().unwrap());
        options
    };
    let refused = options().bind().await.unwrap_err();
    assert!(
        matches!(refused, server::Error::PublicMetrics { .. }),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("--metrics-public"),
        "{refused}"
    );
    let mut public = options();
    public.metrics_public = true;
    let server = public.bind().await.unwrap();
    assert!(server.handle().metrics_addr().is_some());
}
