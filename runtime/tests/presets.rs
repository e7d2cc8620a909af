//! The provider presets of `verify:` end to end: a real server on a free loopback
//! port, a temp-file store, the vault, and the runtime's clock under the test's
//! hand (a `TestClock`), so timestamp windows are tested to the second.
//!
//! For each preset: the provider's published example where one exists (GitHub's,
//! Slack's and the Standard Webhooks specification's; Stripe and Shopify publish
//! none this test can quote, so theirs are requests built here with the scheme),
//! a self-made valid request, every single-byte change of the body, the
//! signature, the timestamp and a signed id (each 401, no run, a `rejected`
//! delivery with its reason), timestamps 299 s and 301 s either side of the
//! clock, Slack's URL verification, and redeliveries mapped to the first run by
//! the provider's delivery id.

#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine as _;
use common::JumpingClock;
use common::harness::Harness as Stack;
use flowc_runtime::clock::Millis;
use flowc_runtime::server::verify::{Check, Key, hmac_sha256};
use flowc_runtime::store::sqlite::Durability;
use flowc_runtime::store::{DeliveryFilter, DeliveryOutcome, Page, Store, StoredDelivery};
use flowc_runtime::vault::SecretString;
use serde_json::{Value as Json, json};
use std::sync::Arc;

/// The runtime's clock at the start of every test, in seconds.
const NOW: i64 = 1_700_000_000;

const GITHUB_SECRET: &str = "gh-secret-for-tests";
const STRIPE_SECRET: &str = "whsec_stripe-secret-for-tests";
const SLACK_SECRET: &str = "slack-signing-secret";
/// `whsec_` + base64 of 24 bytes.
const STANDARD_SECRET: &str = "whsec_c2VjcmV0LWtleS1mb3Itc3RhbmRhcmQtaG9va3M=";
const SHOPIFY_SECRET: &str = "shopify-secret-for-tests";
const ADMIN_TOKEN: &str = "admin-token-for-preset-tests";

const PROGRAM: &str = r#"
workflow github_push(delivery: { id: string }) {
  on webhook POST "/github" {
    verify: github(secrets.github_secret)
  }
}

workflow github_waited(delivery: { id: string }) -> { id: string } {
  on webhook POST "/github/wait" {
    verify: github(secrets.github_secret)
    respond: wait
  }
  return { id: delivery.id }
}

workflow stripe_event(delivery: { id: string, type: string }) {
  on webhook POST "/stripe" {
    verify: stripe(secrets.stripe_secret)
  }
}

workflow slack_event(delivery: { type: string, event_id: string }) {
  on webhook POST "/slack" {
    verify: slack(secrets.slack_secret)
  }
}

workflow standard_event(delivery: { test: int }) {
  on webhook POST "/standard" {
    verify: standard_webhooks(secrets.standard_secret)
  }
}

workflow shopify_order(delivery: { id: string }) {
  on webhook POST "/shopify" {
    verify: shopify(secrets.shopify_secret)
  }
}
"#;

/// The shared stack with `PROGRAM` deployed, every provider's secret and an admin
/// token, on a clock the test sets.
struct Harness {
    stack: Stack,
    clock: JumpingClock,
}

common::harness::deref_to_stack!(Harness);

/// One request: headers and raw body bytes.
#[derive(Clone, Debug)]
struct Signed {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Signed {
    fn new(body: &[u8]) -> Signed {
        Signed {
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_vec(),
        }
    }

    fn header(mut self, name: &str, value: &str) -> Signed {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn value(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .unwrap()
    }

    /// The same request with header `name` set to `value`.
    fn with(&self, name: &str, value: &str) -> Signed {
        let mut changed = self.clone();
        for (known, old) in &mut changed.headers {
            if known.eq_ignore_ascii_case(name) {
                *old = value.into();
            }
        }
        changed
    }
}

impl Harness {
    async fn new() -> Harness {
        Harness::with_secret("", "").await
    }

    /// A harness whose vault holds `value` as `name` instead of the test's own
    /// secret (for the providers' published examples).
    async fn with_secret(name: &str, value: &str) -> Harness {
        let clock = JumpingClock::new(NOW * 1000);
        let mut builder = Stack::builder()
            .clock(Arc::new(clock.clone()))
            // Hundreds of refusals are recorded; fsyncing each would only slow the test.
            .durability(Durability::Normal)
            .program(PROGRAM)
            .admin_token(Some(ADMIN_TOKEN));
        let (name, replaced) = (name, value);
        for (secret, value) in [
            ("github_secret", GITHUB_SECRET),
            ("stripe_secret", STRIPE_SECRET),
            ("slack_secret", SLACK_SECRET),
            ("standard_secret", STANDARD_SECRET),
            ("shopify_secret", SHOPIFY_SECRET),
        ] {
            let value = if secret == name { replaced } else { value };
            builder = builder.secret(secret, value);
        }
        Harness {
            stack: builder.build().await,
            clock,
        }
    }

    /// Sets the runtime's clock, in seconds.
    fn at(&self, seconds: i64) {
        self.clock.clock.set(seconds * 1000);
    }

    async fn post(&self, path: &str, request: &Signed) -> (u16, Json) {
        let mut builder = self.http.post(self.url(path)).body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let (status, _, json) = self.send(builder).await;
        (status, json)
    }

    async fn runs(&self) -> usize {
        self.run_count().await
    }

    /// Every delivery to `path`, oldest first.
    async fn deliveries(&self, path: &str) -> Vec<StoredDelivery> {
        let mut page = self
            .store
            .list_deliveries(
                DeliveryFilter {
                    path: Some(path.into()),
                    outcome: None,
                },
                Page {
                    limit: 1000,
                    after: None,
                },
            )
            .await
            .unwrap()
            .deliveries;
        page.reverse();
        page
    }

    /// Sends `request` as is (202), then every single-byte change of its body and
    /// of the headers named: each is 401 with no run and a `rejected` delivery
    /// whose reason is among `reasons`.
    async fn mutations(&self, path: &str, request: &Signed, headers: &[&str], reasons: &[&str]) {
        let mut variants: Vec<(String, Signed)> = Vec::new();
        for index in 0..request.body.len() {
            let mut changed = request.clone();
            changed.body[index] = other(changed.body[index]);
            variants.push((format!("body byte {index}"), changed));
        }
        for name in headers {
            let value = request.value(name).as_bytes().to_vec();
            for index in 0..value.len() {
                let mut bytes = value.clone();
                bytes[index] = other(bytes[index]);
                let changed = request.with(name, &String::from_utf8(bytes).unwrap());
                variants.push((format!("{name} byte {index}"), changed));
            }
        }
        let runs = self.runs().await;
        let before = self.deliveries(path).await.len();
        for (what, variant) in &variants {
            let (status, body) = self.post(path, variant).await;
            assert_eq!(status, 401, "{what}: {body}");
            assert_eq!(body["code"], "unauthorized", "{what}");
        }
        assert_eq!(self.runs().await, runs, "no mutation started a run");
        let deliveries = self.deliveries(path).await;
        assert_eq!(deliveries.len(), before + variants.len());
        for delivery in &deliveries[before..] {
            assert_eq!(delivery.outcome, DeliveryOutcome::Rejected);
            assert_eq!(delivery.status, Some(401));
            assert_eq!(delivery.run, None);
            let reason = delivery.reason.as_deref().unwrap();
            assert!(
                reasons.iter().any(|known| reason.starts_with(known)),
                "unexpected reason {reason:?}"
            );
        }
        let (status, body) = self.post(path, request).await;
        assert_eq!(status, 202, "the original still verifies: {body}");
    }
}

/// A different byte that is still a visible ASCII character, so a mutated
/// header stays a valid header value.
fn other(byte: u8) -> u8 {
    if byte == b'a' { b'b' } else { b'a' }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn github(body: &[u8], delivery: &str) -> Signed {
    let signature = format!(
        "sha256={}",
        hex(&hmac_sha256(GITHUB_SECRET.as_bytes(), body))
    );
    Signed::new(body)
        .header("X-Hub-Signature-256", &signature)
        .header("X-GitHub-Delivery", delivery)
}

fn stripe(body: &[u8], timestamp: i64) -> Signed {
    let payload = [timestamp.to_string().as_bytes(), b".", body].concat();
    let signature = hex(&hmac_sha256(STRIPE_SECRET.as_bytes(), &payload));
    Signed::new(body).header("Stripe-Signature", &format!("t={timestamp},v1={signature}"))
}

fn slack(body: &[u8], timestamp: i64) -> Signed {
    let base = [b"v0:", timestamp.to_string().as_bytes(), b":", body].concat();
    let signature = format!("v0={}", hex(&hmac_sha256(SLACK_SECRET.as_bytes(), &base)));
    Signed::new(body)
        .header("X-Slack-Request-Timestamp", &timestamp.to_string())
        .header("X-Slack-Signature", &signature)
}

fn standard_key() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(STANDARD_SECRET.trim_start_matches("whsec_"))
        .unwrap()
}

fn standard(body: &[u8], id: &str, timestamp: i64) -> Signed {
    let content = [
        id.as_bytes(),
        b".",
        timestamp.to_string().as_bytes(),
        b".",
        body,
    ]
    .concat();
    let signature = format!("v1,{}", base64(&hmac_sha256(&standard_key(), &content)));
    Signed::new(body)
        .header("webhook-id", id)
        .header("webhook-timestamp", &timestamp.to_string())
        .header("webhook-signature", &signature)
}

fn shopify(body: &[u8], id: &str) -> Signed {
    let signature = base64(&hmac_sha256(SHOPIFY_SECRET.as_bytes(), body));
    Signed::new(body)
        .header("X-Shopify-Hmac-Sha256", &signature)
        .header("X-Shopify-Webhook-Id", id)
}

fn headers(pairs: &[(&str, &str)]) -> axum::http::HeaderMap {
    let mut map = axum::http::HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            axum::http::HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn millis(seconds: i64) -> Millis {
    seconds * 1000
}

// ---------------------------------------------------------------- published examples

#[test]
fn githubs_published_example_verifies() {
    // docs.github.com, "Validating webhook deliveries".
    let check = Check::Github {
        secret: SecretString::new("It's a Secret to Everybody"),
    };
    let signed = headers(&[(
        "X-Hub-Signature-256",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    )]);
    assert_eq!(check.verify(&signed, b"Hello, World!", 0), Ok(()));
    let refusal = check.verify(&signed, b"Hello, World?", 0).unwrap_err();
    assert_eq!(refusal.reason, "signature mismatch");
}

/// Slack's worked example ("Verifying requests from Slack"): a slash command's
/// form-encoded body.
const SLACK_EXAMPLE_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SLACK_EXAMPLE_SIGNATURE: &str =
    "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

#[test]
fn slacks_published_example_verifies_within_its_window() {
    let check = Check::Slack {
        secret: SecretString::new("8f742231b10e8888abcd99yyyzzz85a5"),
    };
    let signed = headers(&[
        ("X-Slack-Request-Timestamp", "1531420618"),
        ("X-Slack-Signature", SLACK_EXAMPLE_SIGNATURE),
    ]);
    let body = SLACK_EXAMPLE_BODY.as_bytes();
    assert_eq!(check.verify(&signed, body, millis(1_531_420_618)), Ok(()));
    assert_eq!(
        check
            .verify(&signed, body, millis(1_531_420_618 + 301))
            .unwrap_err()
            .reason,
        "timestamp outside the 300 s window"
    );
}

/// The Standard Webhooks specification's example.
const STANDARD_EXAMPLE_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const STANDARD_EXAMPLE_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const STANDARD_EXAMPLE_TIMESTAMP: i64 = 1_614_265_330;
const STANDARD_EXAMPLE_BODY: &str = r#"{"test": 2432232314}"#;
const STANDARD_EXAMPLE_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

#[test]
fn the_standard_webhooks_example_verifies_among_other_signatures() {
    let key = Key::standard_webhooks(&SecretString::new(STANDARD_EXAMPLE_SECRET)).unwrap();
    let check = Check::StandardWebhooks { key };
    let timestamp = STANDARD_EXAMPLE_TIMESTAMP.to_string();
    // Senders rotating keys send several signatures, and other versions.
    let signature = format!(
        "v1a,c2lnbmF0dXJl v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= {STANDARD_EXAMPLE_SIGNATURE}"
    );
    let signed = headers(&[
        ("webhook-id", STANDARD_EXAMPLE_ID),
        ("webhook-timestamp", &timestamp),
        ("webhook-signature", &signature),
    ]);
    let now = millis(STANDARD_EXAMPLE_TIMESTAMP);
    assert_eq!(
        check.verify(&signed, STANDARD_EXAMPLE_BODY.as_bytes(), now),
        Ok(())
    );
    assert_eq!(
        check.header_delivery_id(&signed).as_deref(),
        Some(STANDARD_EXAMPLE_ID)
    );
}

#[tokio::test]
async fn published_examples_pass_verification_at_the_webhook() {
    // The Standard Webhooks example is JSON of `standard_event`'s input type: a run.
    // The server's vault holds the test's own secret, so the example is sent to a
    // second server whose vault holds the specification's.
    let example = Harness::with_secret("standard_secret", STANDARD_EXAMPLE_SECRET).await;
    example.at(STANDARD_EXAMPLE_TIMESTAMP);
    let request = Signed::new(STANDARD_EXAMPLE_BODY.as_bytes())
        .header("webhook-id", STANDARD_EXAMPLE_ID)
        .header("webhook-timestamp", &STANDARD_EXAMPLE_TIMESTAMP.to_string())
        .header("webhook-signature", STANDARD_EXAMPLE_SIGNATURE);
    let (status, body) = example.post("/standard", &request).await;
    assert_eq!(status, 202, "{body}");
    let run = body["run_id"].as_str().unwrap().to_string();
    assert_eq!(
        example.finished(&run).await.run.input,
        json!({ "test": 2_432_232_314_i64 })
    );
    let delivery = &example.deliveries("/standard").await[0];
    assert_eq!(delivery.delivery_id.as_deref(), Some(STANDARD_EXAMPLE_ID));
    assert_eq!(delivery.run.as_deref(), Some(run.as_str()));

    // GitHub's and Slack's examples are not JSON: they pass verification and are
    // refused after it, by the JSON check (400) and the content type (415).
    let example = Harness::with_secret("github_secret", "It's a Secret to Everybody").await;
    let request = Signed::new(b"Hello, World!").header(
        "X-Hub-Signature-256",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    );
    let (status, body) = example.post("/github", &request).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("malformed_json"))
    );

    let example = Harness::with_secret("slack_secret", "8f742231b10e8888abcd99yyyzzz85a5").await;
    example.at(1_531_420_618);
    let mut request = Signed::new(SLACK_EXAMPLE_BODY.as_bytes())
        .header("X-Slack-Request-Timestamp", "1531420618")
        .header("X-Slack-Signature", SLACK_EXAMPLE_SIGNATURE);
    request.headers[0].1 = "application/x-www-form-urlencoded".into();
    let (status, body) = example.post("/slack", &request).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
}

// ---------------------------------------------------------------- github

#[tokio::test]
async fn github_verifies_the_body_and_maps_a_redelivery_to_its_run() {
    let h = Harness::new().await;
    let body = br#"{"id": "push-1"}"#;
    let (status, first) = h.post("/github", &github(body, "d-1")).await;
    assert_eq!(status, 202, "{first}");
    let run = first["run_id"].as_str().unwrap().to_string();

    h.mutations(
        "/github",
        &github(body, "d-1"),
        &["X-Hub-Signature-256"],
        &[
            "signature mismatch",
            "malformed header `X-Hub-Signature-256`",
        ],
    )
    .await;
    // GitHub signs no timestamp: its redelivery is the same request, recognised
    // by `X-GitHub-Delivery` (which GitHub does not sign either).
    let (status, again) = h.post("/github", &github(body, "d-1")).await;
    assert_eq!((status, &again["run_id"]), (202, &first["run_id"]));
    let (status, other) = h.post("/github", &github(body, "d-2")).await;
    assert_eq!(status, 202);
    assert_ne!(other["run_id"], first["run_id"], "another delivery id");
    assert_eq!(h.runs().await, 2);

    let deliveries = h.deliveries("/github").await;
    let accepted: Vec<_> = deliveries
        .iter()
        .filter(|d| d.outcome != DeliveryOutcome::Rejected)
        .map(|d| (d.outcome, d.delivery_id.as_deref(), d.created_run, d.status))
        .collect();
    assert_eq!(
        accepted,
        [
            (DeliveryOutcome::Accepted, Some("d-1"), true, Some(202)),
            (DeliveryOutcome::Duplicate, Some("d-1"), false, Some(202)),
            (DeliveryOutcome::Duplicate, Some("d-1"), false, Some(202)),
            (DeliveryOutcome::Accepted, Some("d-2"), true, Some(202)),
        ]
    );
    assert!(
        deliveries
            .iter()
            .filter(|d| d.run.is_some())
            .take(3)
            .all(|d| d.run.as_deref() == Some(run.as_str()))
    );
    // A refusal keeps the id the request claimed, so the provider's id finds it.
    let refused = deliveries
        .iter()
        .find(|d| d.outcome == DeliveryOutcome::Rejected)
        .unwrap();
    assert_eq!(refused.delivery_id.as_deref(), Some("d-1"));
    assert_eq!(refused.reason.as_deref(), Some("signature mismatch"));
}

#[tokio::test]
async fn a_respond_wait_delivery_records_the_answer_it_got() {
    let h = Harness::new().await;
    let (status, body) = h
        .post("/github/wait", &github(br#"{"id": "w-1"}"#, "w-1"))
        .await;
    assert_eq!((status, body), (200, json!({ "id": "w-1" })));
    let (status, _) = h
        .post("/github/wait", &github(br#"{"id": "w-1"}"#, "w-1"))
        .await;
    assert_eq!(status, 200, "the redelivery gets the run's answer again");
    let statuses: Vec<_> = h
        .deliveries("/github/wait")
        .await
        .iter()
        .map(|d| (d.outcome, d.status))
        .collect();
    assert_eq!(
        statuses,
        [
            (DeliveryOutcome::Accepted, Some(200)),
            (DeliveryOutcome::Duplicate, Some(200))
        ]
    );
    assert_eq!(h.runs().await, 1);
}

// ---------------------------------------------------------------- stripe

#[tokio::test]
async fn stripe_verifies_timestamp_and_body_and_accepts_any_v1() {
    let h = Harness::new().await;
    let event = |id: &str| format!(r#"{{"id": "{id}", "type": "charge.succeeded"}}"#);
    let (status, first) = h
        .post("/stripe", &stripe(event("evt_1").as_bytes(), NOW))
        .await;
    assert_eq!(status, 202, "{first}");

    h.mutations(
        "/stripe",
        &stripe(event("evt_1").as_bytes(), NOW),
        &["Stripe-Signature"],
        &[
            "signature mismatch",
            "malformed header `Stripe-Signature`",
            "malformed timestamp",
        ],
    )
    .await;

    // During a secret rotation Stripe sends several `v1`: one matching is enough;
    // `v0` is never checked.
    let signed = stripe(event("evt_2").as_bytes(), NOW);
    let header = signed.value("Stripe-Signature").to_string();
    let good = header.split(",v1=").nth(1).unwrap().to_string();
    let rotated = signed.with(
        "Stripe-Signature",
        &format!("t={NOW},v1={},v1={good},v0={good}", "0".repeat(64)),
    );
    let (status, _) = h.post("/stripe", &rotated).await;
    assert_eq!(status, 202);
    let only_v0 = signed.with("Stripe-Signature", &format!("t={NOW},v0={good}"));
    let (status, _) = h.post("/stripe", &only_v0).await;
    assert_eq!(status, 401, "v0 alone is not checked");

    // Stripe re-signs a retried event with a new timestamp: the event id maps it.
    h.at(NOW + 60);
    let (status, retried) = h
        .post("/stripe", &stripe(event("evt_1").as_bytes(), NOW + 60))
        .await;
    assert_eq!((status, &retried["run_id"]), (202, &first["run_id"]));
    assert_eq!(h.runs().await, 2);
}

#[tokio::test]
async fn stripe_slack_and_standard_webhooks_refuse_timestamps_outside_300_s() {
    let h = Harness::new().await;
    let mut serial = 0;
    for (offset, expected) in [(-301, 401), (-299, 202), (299, 202), (301, 401)] {
        let timestamp = NOW + offset;
        serial += 1;
        let stripe_event = format!(r#"{{"id": "evt_{serial}", "type": "t"}}"#);
        let slack_event = format!(r#"{{"type": "event_callback", "event_id": "Ev{serial}"}}"#);
        let requests = [
            ("/stripe", stripe(stripe_event.as_bytes(), timestamp)),
            ("/slack", slack(slack_event.as_bytes(), timestamp)),
            (
                "/standard",
                standard(br#"{"test": 1}"#, &format!("msg_{serial}"), timestamp),
            ),
        ];
        for (path, request) in requests {
            let (status, body) = h.post(path, &request).await;
            assert_eq!(status, expected, "{path} at {offset:+} s: {body}");
            if expected == 401 {
                let last = h.deliveries(path).await.pop().unwrap();
                assert_eq!(
                    last.reason.as_deref(),
                    Some("timestamp outside the 300 s window"),
                    "{path} at {offset:+} s"
                );
                assert_eq!(last.run, None);
            }
        }
    }
    assert_eq!(
        h.runs().await,
        6,
        "two in the window for each of three presets"
    );
}

// ---------------------------------------------------------------- slack

#[tokio::test]
async fn slack_verifies_and_a_retry_of_a_seen_event_starts_no_second_run() {
    let h = Harness::new().await;
    let event = br#"{"type": "event_callback", "event_id": "Ev01"}"#;
    let (status, first) = h.post("/slack", &slack(event, NOW)).await;
    assert_eq!(status, 202, "{first}");

    h.mutations(
        "/slack",
        &slack(event, NOW),
        &["X-Slack-Signature", "X-Slack-Request-Timestamp"],
        &[
            "signature mismatch",
            "malformed header `X-Slack-Signature`",
            "malformed timestamp",
        ],
    )
    .await;

    // Slack retries a delivery it got no quick answer for, re-signed, with
    // `X-Slack-Retry-Num`.
    h.at(NOW + 30);
    let retry = slack(event, NOW + 30)
        .header("X-Slack-Retry-Num", "1")
        .header("X-Slack-Retry-Reason", "http_timeout");
    let (status, again) = h.post("/slack", &retry).await;
    assert_eq!((status, &again["run_id"]), (202, &first["run_id"]));
    assert_eq!(h.runs().await, 1);
    let last = h.deliveries("/slack").await.pop().unwrap();
    assert_eq!(
        (last.outcome, last.delivery_id.as_deref()),
        (DeliveryOutcome::Duplicate, Some("Ev01"))
    );
}

#[tokio::test]
async fn slacks_url_verification_is_answered_after_verification_without_a_run() {
    let h = Harness::new().await;
    let challenge = br#"{"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}"#;
    let (status, body) = h.post("/slack", &slack(challenge, NOW)).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({ "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" })
        )
    );
    // Unsigned, or signed with another secret, it is refused like anything else.
    let forged = slack(challenge, NOW).with("X-Slack-Signature", &format!("v0={}", "0".repeat(64)));
    let (status, _) = h.post("/slack", &forged).await;
    assert_eq!(status, 401);
    assert_eq!(h.runs().await, 0);
    let deliveries = h.deliveries("/slack").await;
    assert_eq!(deliveries.len(), 2);
    assert_eq!(
        (
            deliveries[0].outcome,
            deliveries[0].status,
            deliveries[0].run.as_deref()
        ),
        (DeliveryOutcome::Accepted, Some(200), None)
    );
    assert_eq!(deliveries[1].outcome, DeliveryOutcome::Rejected);
}

// ---------------------------------------------------------------- standard webhooks

#[tokio::test]
async fn standard_webhooks_sign_the_id_and_timestamp_and_dedupe_by_the_id() {
    let h = Harness::new().await;
    let body = br#"{"test": 7}"#;
    let (status, first) = h.post("/standard", &standard(body, "msg_1", NOW)).await;
    assert_eq!(status, 202, "{first}");

    h.mutations(
        "/standard",
        &standard(body, "msg_1", NOW),
        &["webhook-signature", "webhook-timestamp", "webhook-id"],
        &[
            "signature mismatch",
            "malformed header `webhook-signature`",
            "malformed timestamp",
        ],
    )
    .await;

    h.at(NOW + 100);
    let (status, again) = h
        .post("/standard", &standard(body, "msg_1", NOW + 100))
        .await;
    assert_eq!((status, &again["run_id"]), (202, &first["run_id"]));
    let (status, other) = h
        .post("/standard", &standard(body, "msg_2", NOW + 100))
        .await;
    assert_eq!(status, 202);
    assert_ne!(other["run_id"], first["run_id"]);
    assert_eq!(h.runs().await, 2);
}

#[tokio::test]
async fn a_standard_webhooks_secret_that_is_not_base64_is_the_servers_fault() {
    let h = Harness::with_secret("standard_secret", "whsec_not base64!").await;
    let (status, body) = h
        .post("/standard", &standard(br#"{"test": 1}"#, "msg_1", NOW))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (500, Some("verification_unavailable"))
    );
    let delivery = h.deliveries("/standard").await.pop().unwrap();
    assert_eq!(
        (delivery.outcome, delivery.status),
        (DeliveryOutcome::Rejected, Some(500))
    );
    let reason = delivery.reason.unwrap();
    assert!(reason.starts_with("verification unavailable"), "{reason}");
    assert!(
        !reason.contains("not base64!"),
        "the secret is not in the reason"
    );
}

// ---------------------------------------------------------------- shopify

#[tokio::test]
async fn shopify_verifies_the_body_and_dedupes_by_webhook_id() {
    let h = Harness::new().await;
    let body = br#"{"id": "order-1"}"#;
    let (status, first) = h.post("/shopify", &shopify(body, "wh-1")).await;
    assert_eq!(status, 202, "{first}");
    h.mutations(
        "/shopify",
        &shopify(body, "wh-1"),
        &["X-Shopify-Hmac-Sha256"],
        &[
            "signature mismatch",
            "malformed header `X-Shopify-Hmac-Sha256`",
        ],
    )
    .await;
    let (status, again) = h.post("/shopify", &shopify(body, "wh-1")).await;
    assert_eq!((status, &again["run_id"]), (202, &first["run_id"]));
    assert_eq!(h.runs().await, 1);
}

// ---------------------------------------------------------------- the history

#[tokio::test]
async fn the_history_is_served_by_the_admin_api_and_unknown_paths_are_not_in_it() {
    let h = Harness::new().await;
    let body = br#"{"id": "push-1"}"#;
    let (status, _) = h.post("/github", &github(body, "d-1")).await;
    assert_eq!(status, 202);
    let forged = github(body, "d-2").with("X-Hub-Signature-256", "sha256=zz");
    let (status, _) = h.post("/github", &forged).await;
    assert_eq!(status, 401);
    let (status, _) = h.post("/nowhere", &github(body, "d-3")).await;
    assert_eq!(status, 404);

    let url = |query: &str| {
        format!(
            "http://{}/api/v1/webhooks/deliveries{query}",
            h.handle.local_addr()
        )
    };
    let response = h.http.get(url("")).send().await.unwrap();
    assert_eq!(response.status(), 401, "behind the admin token");
    let all: Json = h
        .http
        .get(url(""))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let deliveries = all["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2, "the 404 is not recorded: {all:#}");
    assert!(all.to_string().find("nowhere").is_none());
    let rejected: Json = h
        .http
        .get(url("?path=%2Fgithub&outcome=rejected"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let only = &rejected["deliveries"][0];
    assert_eq!(rejected["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(only["outcome"], "rejected");
    assert_eq!(only["status"], 401);
    assert_eq!(only["reason"], "malformed header `X-Hub-Signature-256`");
    assert_eq!(only["delivery_id"], "d-2");
    assert_eq!(only["run"], Json::Null);
    // Neither the secret nor the signature is anywhere in the history.
    let text = all.to_string();
    assert!(!text.contains(GITHUB_SECRET));
    assert!(!text.contains(&github(body, "d-1").value("X-Hub-Signature-256")[7..]));
    // Paging.
    let first: Json = h
        .http
        .get(url("?limit=1"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let next = first["next"].as_str().unwrap();
    let second: Json = h
        .http
        .get(url(&format!("?limit=1&after={next}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["deliveries"][0]["outcome"], "accepted");
    assert_eq!(second["next"], Json::Null);
    let response = h
        .http
        .get(url("?outcome=lost"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}
