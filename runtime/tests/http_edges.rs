//! The webhook endpoint at the edges of HTTP/1.1 (RFC 9110, RFC 9112), written on
//! a raw TCP socket so that nothing between the test and the server tidies the
//! request up: chunked bodies verified over their de-chunked bytes, `Expect:
//! 100-continue` with an oversized `Content-Length`, `Transfer-Encoding` beside
//! `Content-Length`, conflicting `Content-Length`s, content-type parameters and
//! case, a repeated signature header, header names in any case, and a body that
//! stalls half-way (the read timeout).

#![allow(clippy::unwrap_used)]
#![allow(
    clippy::disallowed_methods,
    reason = "runs are polled until they end, bounded by a wall-clock deadline; nothing asserts on time"
)]

mod common;

use common::harness::Harness as Stack;
use flowc_runtime::server::{self, verify::hmac_sha256};
use flowc_runtime::store::{
    DeliveryFilter, DeliveryOutcome, Page, RunFilter, Store, StoredDelivery,
};
use serde_json::{Value as Json, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "edge-secret";

const PROGRAM: &str = r#"
workflow push(delivery: { id: string }) {
  on webhook POST "/hook" {
    verify: github(secrets.hook_secret)
  }
}
"#;

/// The read timeout of these servers: short, so the stalled body is quick.
const BODY_TIMEOUT: Duration = Duration::from_millis(300);

/// The shared stack with `PROGRAM` deployed, its secret stored and a short
/// body read timeout.
struct Harness {
    stack: Stack,
}

common::harness::deref_to_stack!(Harness);

impl Harness {
    async fn new() -> Harness {
        let stack = Stack::builder()
            .secret("hook_secret", SECRET)
            .program(PROGRAM)
            .options(|options| options.body_timeout = BODY_TIMEOUT)
            .build()
            .await;
        Harness { stack }
    }

    /// Writes `request` on a fresh connection and reads until the server closes
    /// it (at most 10 s). `hold` keeps the writing half open, as a client that
    /// has more to send (or waits for its answer, `Connection: close`) would; the
    /// server closes a connection whose client has shut its half.
    async fn exchange(&self, request: &[u8], hold: bool) -> String {
        let mut stream = TcpStream::connect(self.handle.local_addr()).await.unwrap();
        stream.write_all(request).await.unwrap();
        if !hold {
            let _ = stream.shutdown().await;
        }
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer));
        assert!(read.await.is_ok(), "the server never closed the connection");
        String::from_utf8_lossy(&answer).into_owned()
    }

    async fn runs(&self) -> Vec<flowc_runtime::store::Run> {
        self.store
            .list_runs(RunFilter::default(), Page::default())
            .await
            .unwrap()
            .runs
    }

    async fn deliveries(&self) -> Vec<StoredDelivery> {
        let mut all = self
            .store
            .list_deliveries(DeliveryFilter::default(), Page::default())
            .await
            .unwrap()
            .deliveries;
        all.reverse();
        all
    }

    /// Polls the only run until it ends, and returns its input.
    async fn input_of_the_run(&self) -> Json {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let runs = self.runs().await;
            assert_eq!(runs.len(), 1, "{runs:?}");
            if runs[0].status.is_terminal() {
                return runs[0].input.clone();
            }
            assert!(Instant::now() < deadline, "the run did not end");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn signature(body: &[u8]) -> String {
    let mac = hmac_sha256(SECRET.as_bytes(), body);
    let hex: String = mac.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256={hex}")
}

/// The status code of the first response in `answer`.
fn status(answer: &str) -> u16 {
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP/1.1 answer: {answer:?}"))
}

/// The JSON body of the first response in `answer`.
fn body(answer: &str) -> Json {
    let start = answer.find("\r\n\r\n").unwrap() + 4;
    let mut stream = serde_json::Deserializer::from_str(&answer[start..]).into_iter::<Json>();
    stream.next().unwrap().unwrap()
}

#[tokio::test]
async fn a_chunked_body_is_verified_over_its_de_chunked_bytes() {
    let h = Harness::new().await;
    let whole = br#"{"id": "c-1"}"#;
    let (first, second) = whole.split_at(5);
    let mut request = format!(
        "POST /hook HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
         X-Hub-Signature-256: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        signature(whole)
    )
    .into_bytes();
    for chunk in [first, second] {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = h.exchange(&request, true).await;
    assert_eq!(status(&answer), 202, "{answer}");
    assert_eq!(h.input_of_the_run().await, json!({ "id": "c-1" }));
}

#[tokio::test]
async fn expect_100_continue_with_an_oversized_length_is_refused_unread() {
    let h = Harness::new().await;
    let request = format!(
        "POST /hook HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        server::DEFAULT_BODY_LIMIT + 1
    );
    // Nothing of the body is ever sent: the answer must come anyway.
    let answer = h.exchange(request.as_bytes(), true).await;
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert_eq!(status(&answer), 413, "{answer}");
    assert_eq!(body(&answer)["code"], "payload_too_large");
    assert!(h.runs().await.is_empty());
    let recorded = h.deliveries().await;
    assert_eq!(
        (recorded[0].outcome, recorded[0].status),
        (DeliveryOutcome::Rejected, Some(413))
    );
}

#[tokio::test]
async fn transfer_encoding_beside_content_length_never_frames_by_the_length() {
    let h = Harness::new().await;
    // By its length the body is a signed, valid delivery; by its chunks it is
    // empty and what follows is not a request. Framing by the length would start
    // a run.
    let smuggled = br#"{"id": "s-1"}"#;
    let mut request = format!(
        "POST /hook HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
         X-Hub-Signature-256: {}\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        signature(smuggled),
        smuggled.len() + 5,
    )
    .into_bytes();
    request.extend_from_slice(smuggled);
    let answer = h.exchange(&request, false).await;
    assert!(!answer.contains("HTTP/1.1 202"), "{answer}");
    let first = status(&answer);
    assert!(first == 400 || first == 401, "{answer}");
    assert!(h.runs().await.is_empty());
}

#[tokio::test]
async fn conflicting_content_lengths_are_a_bad_request() {
    let h = Harness::new().await;
    let whole = br#"{"id": "l-1"}"#;
    let mut request = format!(
        "POST /hook HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
         X-Hub-Signature-256: {}\r\nContent-Length: {}\r\nContent-Length: {}\r\n\r\n",
        signature(whole),
        whole.len(),
        whole.len() + 1,
    )
    .into_bytes();
    request.extend_from_slice(whole);
    request.extend_from_slice(b" ");
    let answer = h.exchange(&request, false).await;
    assert_eq!(status(&answer), 400, "{answer}");
    assert!(h.runs().await.is_empty());
}

#[tokio::test]
async fn content_type_parameters_and_case_and_header_name_case_are_accepted() {
    let h = Harness::new().await;
    let whole = br#"{"id": "k-1"}"#;
    let mut request = format!(
        "POST /hook HTTP/1.1\r\nhost: t\r\ncontent-TYPE: Application/JSON; charset=utf-8\r\n\
         x-HUB-signature-256: {}\r\nCONTENT-LENGTH: {}\r\nConnection: close\r\n\r\n",
        signature(whole),
        whole.len(),
    )
    .into_bytes();
    request.extend_from_slice(whole);
    let answer = h.exchange(&request, true).await;
    assert_eq!(status(&answer), 202, "{answer}");
    assert_eq!(h.input_of_the_run().await, json!({ "id": "k-1" }));
}

#[tokio::test]
async fn a_repeated_signature_header_is_refused_even_when_one_is_right() {
    let h = Harness::new().await;
    let whole = br#"{"id": "r-1"}"#;
    for (first, second) in [
        (signature(whole), format!("sha256={}", "0".repeat(64))),
        (signature(whole), signature(whole)),
    ] {
        let mut request = format!(
            "POST /hook HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
             X-Hub-Signature-256: {first}\r\nX-Hub-Signature-256: {second}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            whole.len(),
        )
        .into_bytes();
        request.extend_from_slice(whole);
        let answer = h.exchange(&request, true).await;
        assert_eq!(status(&answer), 401, "{answer}");
    }
    assert!(h.runs().await.is_empty());
    for delivery in h.deliveries().await {
        assert_eq!(
            delivery.reason.as_deref(),
            Some("header `X-Hub-Signature-256` appears more than once")
        );
    }
}

#[tokio::test]
async fn a_body_that_stalls_is_refused_after_the_read_timeout() {
    let h = Harness::new().await;
    let whole = br#"{"id": "t-1"}"#;
    let mut request = format!(
        "POST /hook HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
         X-Hub-Signature-256: {}\r\nContent-Length: {}\r\n\r\n",
        signature(whole),
        whole.len(),
    )
    .into_bytes();
    // Half the body, then nothing; the connection stays open.
    request.extend_from_slice(&whole[..6]);
    let answer = h.exchange(&request, true).await;
    assert_eq!(status(&answer), 408, "{answer}");
    assert_eq!(body(&answer)["code"], "body_timeout");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(h.runs().await.is_empty());
    let recorded = h.deliveries().await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        (
            recorded[0].outcome,
            recorded[0].status,
            recorded[0].reason.as_deref()
        ),
        (
            DeliveryOutcome::Rejected,
            Some(408),
            Some("the body did not arrive within 0.3 s")
        )
    );
}
