//! Limits at the webhook endpoint, through a real server on a loopback port: the
//! request head limits hyper applies (431, the header read timeout), a webhook's
//! own `body_limit:` (413 on one route while another takes the same body) and its
//! `rate_limit:` (429 with `Retry-After`, read on the runtime's test clock). Every
//! refusal is checked for leaving no run behind.
//!
//! Requests are written by hand on a TCP stream where the test needs a malformed,
//! oversized or stalled head, which an HTTP client would not send.

#![allow(clippy::unwrap_used)]

mod common;

use common::harness::{Harness as Stack, assert_problem};
use flowc_runtime::clock::TestClock;
use flowc_runtime::server;
use serde_json::{Value as Json, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PROGRAM: &str = r#"
workflow small(body: json) {
  on webhook POST "/small" { body_limit: 100 }
}

workflow large(body: json) {
  on webhook POST "/large" { body_limit: 5_000 }
}

workflow plain(body: json) {
  on webhook POST "/plain"
}

workflow limited(body: json) {
  on webhook POST "/limited" { rate_limit: { requests: 2, per: 10s } }
}

workflow guarded(body: json) {
  on webhook POST "/guarded" {
    verify: header_token("X-Token", secrets.token)
    rate_limit: { requests: 1, per: 1m }
  }
}
"#;

/// The server's own body limit in these tests: between `/small`'s and `/large`'s.
const SERVER_BODY_LIMIT: usize = 1_000;
const ADMIN_TOKEN: &str = "admin-token-for-limits";

/// The shared stack on a plain test clock (the rate limits read it), with
/// `PROGRAM` deployed, an admin token and the server's own body limit.
struct Harness {
    stack: Stack,
    clock: TestClock,
}

common::harness::deref_to_stack!(Harness);

impl Harness {
    async fn new(http: server::HttpLimits) -> Harness {
        let clock = TestClock::new(1_700_000_000_000);
        let stack = Stack::builder()
            .clock(Arc::new(clock.clone()))
            .secret("token", "the-token")
            .program(PROGRAM)
            .admin_token(Some(ADMIN_TOKEN))
            .options(move |options| {
                options.body_limit = SERVER_BODY_LIMIT;
                options.http = http;
            })
            .build()
            .await;
        Harness { stack, clock }
    }

    fn addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    async fn post(&self, path: &str, body: &str) -> (u16, reqwest::header::HeaderMap, Json) {
        self.post_with(path, body, &[]).await
    }

    async fn post_with(
        &self,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Json) {
        let mut request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    async fn runs(&self) -> usize {
        self.run_count().await
    }
}

/// Writes `request` on a new connection and reads until the server closes it:
/// the status (0 when it closed without answering) and the whole answer.
async fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before an oversized request is written.
    let _ = stream.write_all(request).await;
    read_to_close(&mut stream).await
}

/// Reads until the server closes the connection (a reset counts as closed). A
/// bound of 20 s keeps a broken server from hanging the test; no assertion is
/// about time.
async fn read_to_close(stream: &mut TcpStream) -> (u16, String) {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buffer = [0_u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server did not close the connection");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// A JSON body of exactly `size` bytes: `{"pad":"xxx…"}`.
fn body_of(size: usize) -> String {
    let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(size - 10));
    assert_eq!(body.len(), size);
    body
}

#[tokio::test]
async fn too_many_header_fields_are_refused_with_431() {
    let limits = server::HttpLimits {
        max_headers: 20,
        ..server::HttpLimits::default()
    };
    let harness = Harness::new(limits).await;
    let head = |fields: usize| {
        let mut request = String::from(
            "POST /plain HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\nConnection: close\r\n",
        );
        for index in 0..fields {
            request.push_str(&format!("X-Extra-{index}: {index}\r\n"));
        }
        request.push_str("\r\n{}");
        request
    };
    // Four fields of the request itself, and sixteen more: exactly the limit.
    let (status, answer) = raw(harness.addr(), head(16).as_bytes()).await;
    assert_eq!(status, 202, "{answer}");
    let (status, answer) = raw(harness.addr(), head(17).as_bytes()).await;
    assert_eq!(status, 431, "{answer}");
    assert_eq!(harness.runs().await, 1);
}

#[tokio::test]
async fn a_head_over_the_byte_limit_is_refused_with_431() {
    let limits = server::HttpLimits {
        max_header_bytes: 16 * 1024,
        ..server::HttpLimits::default()
    };
    let harness = Harness::new(limits).await;
    let request = |value: usize| {
        format!(
            "POST /plain HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\nConnection: close\r\nX-Big: {}\r\n\r\n{{}}",
            "v".repeat(value)
        )
    };
    let (status, answer) = raw(harness.addr(), request(8 * 1024).as_bytes()).await;
    assert_eq!(status, 202, "{answer}");
    let (status, answer) = raw(harness.addr(), request(17 * 1024).as_bytes()).await;
    assert_eq!(status, 431, "{answer}");
    // A head that never ends is refused at the limit too, not buffered further.
    let endless = format!(
        "POST /plain HTTP/1.1\r\nHost: x\r\nX-Big: {}",
        "v".repeat(64 * 1024)
    );
    let (status, answer) = raw(harness.addr(), endless.as_bytes()).await;
    assert_eq!(status, 431, "{answer}");
    assert_eq!(harness.runs().await, 1);
}

#[tokio::test]
async fn a_stalled_request_head_is_closed_after_the_header_read_timeout() {
    let limits = server::HttpLimits {
        header_read_timeout: Duration::from_millis(200),
        ..server::HttpLimits::default()
    };
    let harness = Harness::new(limits).await;
    let mut stream = TcpStream::connect(harness.addr()).await.unwrap();
    stream.write_all(b"POST /plain HT").await.unwrap();
    // The server closes the connection without answering (`read_to_close` fails
    // the test if it is still open 20 s later).
    let (status, answer) = read_to_close(&mut stream).await;
    assert_eq!((status, answer.as_str()), (0, ""));
    // The server goes on serving others.
    let (status, _, body) = harness.post("/plain", "{}").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(harness.runs().await, 1);
}

#[tokio::test]
async fn each_webhook_has_its_own_body_limit() {
    let harness = Harness::new(server::HttpLimits::default()).await;
    // 200 bytes: over `/small`'s 100, under the server's 1000.
    let (status, _, body) = harness.post("/small", &body_of(200)).await;
    assert_eq!(status, 413, "{body}");
    assert_problem(&body, "payload_too_large");
    assert_eq!(body["details"]["limit"], 100);
    let (status, _, body) = harness.post("/plain", &body_of(200)).await;
    assert_eq!(status, 202, "{body}");
    // 3000 bytes: over the server's 1000, under `/large`'s 5000.
    let (status, _, body) = harness.post("/plain", &body_of(3_000)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["details"]["limit"], SERVER_BODY_LIMIT);
    let (status, _, body) = harness.post("/large", &body_of(3_000)).await;
    assert_eq!(status, 202, "{body}");
    let (status, _, body) = harness.post("/large", &body_of(6_000)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["details"]["limit"], 5_000);
    assert_eq!(harness.runs().await, 2);
}

#[tokio::test]
async fn a_chunked_body_over_the_webhooks_limit_is_refused() {
    let harness = Harness::new(server::HttpLimits::default()).await;
    let chunked = |path: &str, body: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        )
    };
    let (status, answer) = raw(harness.addr(), chunked("/small", &body_of(200)).as_bytes()).await;
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains(r#""limit":100"#), "{answer}");
    let (status, answer) = raw(
        harness.addr(),
        chunked("/large", &body_of(3_000)).as_bytes(),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(harness.runs().await, 1);
}

#[tokio::test]
async fn the_admin_api_keeps_the_servers_body_limit() {
    let harness = Harness::new(server::HttpLimits::default()).await;
    let response = harness
        .http
        .post(format!("http://{}/api/v1/deployments", harness.addr()))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(json!({ "source": "x".repeat(2 * SERVER_BODY_LIMIT) }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let body: Json = response.json().await.unwrap();
    assert_problem(&body, "payload_too_large");
}

#[tokio::test]
async fn a_spent_rate_limit_answers_429_until_the_clock_refills_it() {
    let harness = Harness::new(server::HttpLimits::default()).await;
    for _ in 0..2 {
        let (status, _, body) = harness.post("/limited", "{}").await;
        assert_eq!(status, 202, "{body}");
    }
    let (status, headers, body) = harness.post("/limited", "{}").await;
    assert_eq!(status, 429, "{body}");
    assert_problem(&body, "rate_limited");
    // Two requests per 10 s: a token every 5 s.
    assert_eq!(headers["retry-after"], "5");
    assert_eq!(body["details"]["retry_after"], 5);
    assert_eq!(harness.runs().await, 2);
    // Other webhooks are not limited by this one.
    let (status, _, body) = harness.post("/plain", "{}").await;
    assert_eq!(status, 202, "{body}");

    // 4.5 s later the wait is rounded up to a whole second.
    harness.clock.advance(Duration::from_millis(4_500));
    let (status, headers, body) = harness.post("/limited", "{}").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(headers["retry-after"], "1");
    harness.clock.advance(Duration::from_millis(500));
    let (status, _, body) = harness.post("/limited", "{}").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(harness.runs().await, 4);
}

#[tokio::test]
async fn the_rate_limit_applies_before_verification() {
    let harness = Harness::new(server::HttpLimits::default()).await;
    // A request without the token spends the one token of the minute, and is
    // refused by verification.
    let (status, _, body) = harness.post("/guarded", "{}").await;
    assert_eq!(status, 401, "{body}");
    // The next one, even with the right token, is refused before it is verified.
    let token = [("x-token", "the-token")];
    let (status, headers, body) = harness.post_with("/guarded", "{}", &token).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(headers["retry-after"], "60");
    assert_eq!(harness.runs().await, 0);
    harness.clock.advance(Duration::from_secs(60));
    let (status, _, body) = harness.post_with("/guarded", "{}", &token).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(harness.runs().await, 1);
}
