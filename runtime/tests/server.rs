//! Webhook ingress end to end: a real server on a free loopback port, a temp-file
//! SQLite store, the engine, and a recording HTTP server for the workflow's steps.
//! Every refusal is checked for its status, its JSON body and for leaving no run
//! (and no delivery row) behind.

#![allow(clippy::unwrap_used)]

mod common;

use common::harness::{Harness as Stack, assert_problem};
use common::{Reply, Server as Recorder, compile};
use flowc_runtime::server::{self, DeployError, verify::hmac_sha256};
use flowc_runtime::store::{RunStatus, Store};
use serde_json::{Value as Json, json};

const PROGRAM: &str = r#"
type Order = { id: string, amount: int, lines: [{ sku: string, qty: int }] }

workflow order(order: Order) -> { ok: bool, status: int } {
  on webhook POST "/orders" {
    idempotency_key: order.id
  }
  step notify = http POST "BASE/notify" { json: { id: order.id, amount: order.amount } }
  return { ok: true, status: notify.status }
}

workflow priced(order: Order) -> { id: string, total: int, notified: int } {
  on webhook POST "/priced" {
    respond: wait
    idempotency_key: order.id
  }
  step notify = http POST "BASE/notify" { json: { id: order.id } }
  return { id: order.id, total: order.lines.map(l => l.qty).sum() * order.amount, notified: notify.status }
}

workflow refused(order: Order) -> { id: string } {
  on webhook POST "/refused" {
    respond: wait
  }
  if order.amount > 10 {
    fail "order ${order.id} is too large"
  }
  return { id: order.id }
}

workflow signed(delivery: { id: string }) {
  on webhook POST "/signed" {
    verify: hmac_sha256(header: "X-Signature", secret: secrets.hook_key, encoding: "hex")
  }
}

workflow tokened(delivery: { id: string }) {
  on webhook PUT "/token" {
    verify: header_token("X-Token", secrets.hook_token)
  }
}
"#;

const HMAC_KEY: &str = "hmac-key-for-tests";
const TOKEN: &str = "the-right-token";

/// The shared stack with `PROGRAM` deployed and both secrets stored, and the
/// recording server its steps call.
struct Harness {
    stack: Stack,
    recorder: Recorder,
}

common::harness::deref_to_stack!(Harness);

impl Harness {
    async fn new() -> Harness {
        let recorder = Recorder::start(|_, _| Reply::json(200, json!({ "received": true }))).await;
        let stack = Stack::builder()
            .secret("hook_key", HMAC_KEY)
            .secret("hook_token", TOKEN)
            .program(&PROGRAM.replace("BASE", &recorder.base()))
            .build()
            .await;
        Harness { stack, recorder }
    }

    fn delivery_count(&self) -> i64 {
        let db = rusqlite::Connection::open(self.dir.path().join("flowc.db")).unwrap();
        // Refusals are in the history too (outcome `rejected`), without a run.
        db.query_row(
            "SELECT count(*) FROM webhook_deliveries WHERE run IS NOT NULL",
            [],
            |row| row.get(0),
        )
        .unwrap()
    }
}

const ORDER: &str = r#"{"id": "o-1", "amount": 12, "lines": [{"sku": "a", "qty": 1}]}"#;

#[tokio::test]
async fn a_webhook_answers_202_after_the_run_is_stored_and_the_run_completes() {
    let h = Harness::new().await;
    let (status, _, body) = h.post_json("/orders", ORDER).await;
    assert_eq!(status, 202, "{body}");
    let run = body["run_id"].as_str().unwrap().to_string();
    assert_eq!(body, json!({ "run_id": run }));

    let detail = h.finished(&run).await;
    assert_eq!(detail.run.status, RunStatus::Succeeded, "{detail:?}");
    assert_eq!(
        detail.run.output,
        Some(json!({ "ok": true, "status": 200 }))
    );
    assert_eq!(detail.run.trigger, "webhook");
    assert_eq!(detail.run.idempotency_key.as_deref(), Some("o-1"));
    let sent = h.recorder.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].json(), json!({ "id": "o-1", "amount": 12 }));
    assert_eq!(h.delivery_count(), 1);
}

#[tokio::test]
async fn a_repeated_delivery_returns_the_run_it_already_started() {
    let h = Harness::new().await;
    let (first_status, _, first) = h.post_json("/orders", ORDER).await;
    let (second_status, _, second) = h.post_json("/orders", ORDER).await;
    assert_eq!((first_status, second_status), (202, 202));
    assert_eq!(first["run_id"], second["run_id"]);
    assert_eq!(h.run_count().await, 1);
    h.finished(first["run_id"].as_str().unwrap()).await;
    assert_eq!(h.recorder.requests().len(), 1);

    let other = ORDER.replace("o-1", "o-2");
    let (_, _, third) = h.post_json("/orders", &other).await;
    assert_ne!(third["run_id"], first["run_id"]);
    assert_eq!(h.run_count().await, 2);
}

#[tokio::test]
async fn unknown_paths_answer_404_with_one_identical_body() {
    let h = Harness::new().await;
    let (a_status, a_headers, a) = h.post_json("/nothing", ORDER).await;
    let (b_status, b_headers, b) = h.send(h.http.get(h.url("/orders/../admin?x=1"))).await;
    let (c_status, _, c) = h.post_json("/orders/", ORDER).await;
    assert_eq!((a_status, b_status, c_status), (404, 404, 404));
    assert_problem(&a, "not_found");
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(
        a_headers.get("content-length"),
        b_headers.get("content-length")
    );
    assert_eq!(h.run_count().await, 0);
}

#[tokio::test]
async fn a_known_path_with_another_method_answers_405_with_allow() {
    let h = Harness::new().await;
    let (status, headers, body) = h.send(h.http.get(h.url("/orders"))).await;
    assert_eq!(status, 405);
    assert_problem(&body, "method_not_allowed");
    assert_eq!(headers.get("allow").unwrap(), "POST");
    let (status, headers, _) = h.send(h.http.post(h.url("/token"))).await;
    assert_eq!(status, 405);
    assert_eq!(headers.get("allow").unwrap(), "PUT");
}

#[tokio::test]
async fn an_oversized_body_answers_413_and_starts_nothing() {
    let h = Harness::new().await;
    let big = format!(r#"{{"id": "{}"}}"#, "x".repeat(server::DEFAULT_BODY_LIMIT));
    let (status, _, body) = h.post_json("/orders", &big).await;
    assert_eq!(status, 413);
    assert_problem(&body, "payload_too_large");
    assert_eq!(body["details"]["limit"], server::DEFAULT_BODY_LIMIT);
    assert_eq!(h.run_count().await, 0);
}

#[tokio::test]
async fn bodies_that_are_not_json_of_the_input_type_are_refused_without_a_run() {
    let h = Harness::new().await;

    let (status, _, body) = h
        .send(
            h.http
                .post(h.url("/orders"))
                .header("content-type", "text/plain")
                .body(ORDER),
        )
        .await;
    assert_eq!(status, 415);
    assert_problem(&body, "unsupported_media_type");
    let (status, _, _) = h.send(h.http.post(h.url("/orders")).body(ORDER)).await;
    assert_eq!(status, 415, "no Content-Type at all");

    let (status, _, body) = h.post_json("/orders", r#"{"id": "o-1", "#).await;
    assert_eq!(status, 400);
    assert_problem(&body, "malformed_json");

    let wrong = r#"{"id": "o-1", "amount": 12, "lines": [{"sku": "a", "qty": "one"}]}"#;
    let (status, _, body) = h.post_json("/orders", wrong).await;
    assert_eq!(status, 422, "{body}");
    assert_problem(&body, "input_mismatch");
    assert_eq!(body["details"]["path"], "$.lines[0].qty", "{body}");
    assert_eq!(body["details"]["expected"], "int", "{body}");

    let (status, _, body) = h.post_json("/orders", r#"{"id": "o-1"}"#).await;
    assert_eq!(status, 422, "{body}");

    // A charset parameter is fine.
    let (status, _, _) = h
        .send(
            h.http
                .post(h.url("/orders"))
                .header("content-type", "application/json; charset=utf-8")
                .body(ORDER),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(h.run_count().await, 1, "only the valid delivery made a run");
    assert_eq!(h.delivery_count(), 1);
}

#[tokio::test]
async fn header_token_verification_refuses_a_wrong_or_missing_token() {
    let h = Harness::new().await;
    let put = |token: Option<&str>| {
        let mut request = h
            .http
            .put(h.url("/token"))
            .header("content-type", "application/json")
            .body(r#"{"id": "e-1"}"#);
        if let Some(token) = token {
            request = request.header("x-token", token);
        }
        request
    };
    for wrong in [
        Some("the-right-tokeN"),
        Some("the-right-token-"),
        Some("the-right-toke"),
        Some(""),
        None,
    ] {
        let (status, _, body) = h.send(put(wrong)).await;
        assert_eq!(status, 401, "{wrong:?}");
        assert_problem(&body, "unauthorized");
    }
    assert_eq!(h.run_count().await, 0);
    assert_eq!(h.delivery_count(), 0);

    let (status, _, body) = h.send(put(Some(TOKEN))).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(h.run_count().await, 1);
}

#[tokio::test]
async fn hmac_verification_accepts_the_right_signature_and_refuses_one_changed_byte() {
    let h = Harness::new().await;
    let body = br#"{"id": "e-1"}"#.to_vec();
    let signature: String = hmac_sha256(HMAC_KEY.as_bytes(), &body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let post = |body: Vec<u8>, signature: String| {
        h.http
            .post(h.url("/signed"))
            .header("content-type", "application/json")
            .header("x-signature", signature)
            .body(body)
    };

    // One byte of the body changed (still valid JSON of the right type).
    let mut mutated = body.clone();
    mutated[9] = b'2';
    let (status, _, problem) = h.send(post(mutated, signature.clone())).await;
    assert_eq!(status, 401);
    assert_problem(&problem, "unauthorized");
    // One digit of the signature changed.
    let mut bad = signature.clone().into_bytes();
    bad[0] = if bad[0] == b'0' { b'1' } else { b'0' };
    let (status, _, _) = h
        .send(post(body.clone(), String::from_utf8(bad).unwrap()))
        .await;
    assert_eq!(status, 401);
    assert_eq!(h.run_count().await, 0);
    assert_eq!(h.delivery_count(), 0);

    let (status, _, accepted) = h.send(post(body.clone(), signature.to_uppercase())).await;
    assert_eq!(status, 202, "{accepted}");
    let run = accepted["run_id"].as_str().unwrap();
    let detail = h.finished(run).await;
    assert_eq!(detail.run.status, RunStatus::Succeeded);
    assert_eq!(detail.run.input, json!({ "id": "e-1" }));
}

#[tokio::test]
async fn a_second_active_claim_of_a_method_and_path_is_refused_at_deploy() {
    let h = Harness::new().await;
    let store: &dyn Store = h.store.as_ref();
    let other = compile(
        r#"
workflow intruder(x: { id: string }) {
  on webhook POST "/orders"
}
"#,
    );
    match server::deploy(store, &other).await {
        Err(DeployError::Conflict {
            method,
            path,
            owner,
            ..
        }) => assert_eq!(
            (method.as_str(), path.as_str(), owner.as_str()),
            ("POST", "/orders", "order")
        ),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.active_deployments().await.unwrap().len(), 1);
    assert_eq!(
        store.list_deployments().await.unwrap().len(),
        1,
        "nothing stored"
    );

    // A new version of the same workflow takes the path over.
    let next = compile(
        r#"
workflow order(x: { id: string }) {
  on webhook POST "/orders"
}
"#,
    );
    server::deploy(store, &next).await.unwrap();
    let active = store.active_deployments().await.unwrap();
    assert_eq!(active.len(), 1);
    h.handle.reload().await.unwrap();
    let served: Vec<_> = h
        .handle
        .webhooks()
        .iter()
        .map(|route| format!("{} {} {}", route.method, route.path, route.workflow))
        .collect();
    assert_eq!(served, ["POST /orders order"]);
    let (status, _, _) = h.post_json("/orders", r#"{"id": "new"}"#).await;
    assert_eq!(status, 202);
    let (status, _, _) = h.post_json("/signed", r#"{"id": "new"}"#).await;
    assert_eq!(status, 404, "the old deployment is no longer active");
}

#[tokio::test]
async fn respond_wait_answers_with_the_runs_output_and_a_repeat_gets_it_again() {
    let h = Harness::new().await;
    let order =
        r#"{"id": "w-1", "amount": 5, "lines": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}]}"#;
    let (status, headers, body) = h.post_json("/priced", order).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "id": "w-1", "total": 15, "notified": 200 }));
    let run = headers
        .get("flowc-run-id")
        .and_then(|value| value.to_str().ok())
        .unwrap()
        .to_string();
    let detail = h.store.get_run(&run).await.unwrap().unwrap();
    assert_eq!(detail.run.status, RunStatus::Succeeded);
    assert_eq!(detail.run.output, Some(body.clone()));

    // The same delivery again: the same run's answer, and no second effect.
    let (again_status, again_headers, again) = h.post_json("/priced", order).await;
    assert_eq!(again_status, 200, "{again}");
    assert_eq!(again, body);
    assert_eq!(
        again_headers.get("flowc-run-id").unwrap().to_str().unwrap(),
        run
    );
    assert_eq!(h.recorder.requests().len(), 1);
    assert_eq!(h.run_count().await, 1);
}

#[tokio::test]
async fn respond_wait_answers_500_run_failed_with_the_runs_error() {
    let h = Harness::new().await;
    let (status, headers, body) = h.post_json("/refused", ORDER).await;
    assert_eq!(status, 500, "{body}");
    assert_problem(&body, "run_failed");
    let run = headers.get("flowc-run-id").unwrap().to_str().unwrap();
    assert_eq!(body["details"]["run_id"], run);
    assert_eq!(
        body["details"]["error"]["message"],
        "order o-1 is too large"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("order o-1 is too large"),
        "{body}"
    );
    let detail = h.store.get_run(run).await.unwrap().unwrap();
    assert_eq!(detail.run.status, RunStatus::Failed);

    let small = ORDER.replace("\"amount\": 12", "\"amount\": 3");
    let (status, _, body) = h.post_json("/refused", &small).await;
    assert_eq!((status, body), (200, json!({ "id": "o-1" })));
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_answers_413_and_starts_nothing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = Harness::new().await;
    let mut stream = tokio::net::TcpStream::connect(h.handle.local_addr())
        .await
        .unwrap();
    let head = "POST /orders HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    // No Content-Length: the limit can only be found while reading. 64 KiB chunks,
    // 2 MiB in all; the server may answer and close before it has read them all.
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..32 {
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(&chunk);
        framed.extend_from_slice(b"\r\n");
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    let body: Json = serde_json::from_str(body).unwrap();
    assert_problem(&body, "payload_too_large");
    assert_eq!(h.run_count().await, 0);
    assert_eq!(h.delivery_count(), 0);
}
