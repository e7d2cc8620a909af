//! The outbound client against a real HTTP server on loopback: retries and their
//! waits, the Idempotency-Key, Retry-After, the circuit breaker, every auth form,
//! OAuth 2 token caching and refresh, response types and size limits, and the
//! egress hook. Waits are asserted as the sleeps the client asked a test clock for,
//! never as wall time.

#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use flowc_compiler::ir;
use flowc_compiler::ty::{FieldTy, Ty, TypeTable};
use flowc_compiler::value::{SecretPart, Value};
use flowc_runtime::clock::{Clock, Millis, TestClock};
use flowc_runtime::outbound::step::{self, ConnectionValues, Origin, Secrets, StepValues};
use flowc_runtime::outbound::{
    Auth, BreakerConfig, BreakerState, Client, Egress, Error, Expected, Grant, KeyPlace, Method,
    OAuth2, Options, Request, Retry, Rng, SecretString,
};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

mod common;

use common::{Recorded, Reply, Server};

// ---------------------------------------------------------------------------
// A test clock that records every sleep asked of it and jumps past it at once.

struct Recording {
    clock: TestClock,
    sleeps: Mutex<Vec<Millis>>,
}

impl Recording {
    fn new() -> Arc<Recording> {
        Arc::new(Recording {
            clock: TestClock::new(1_700_000_000_000),
            sleeps: Mutex::new(Vec::new()),
        })
    }

    fn sleeps(&self) -> Vec<Millis> {
        self.sleeps.lock().unwrap().clone()
    }
}

impl Clock for Recording {
    fn now_ms(&self) -> Millis {
        self.clock.now_ms()
    }

    fn sleep_until(
        &self,
        deadline: Millis,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        let now = self.clock.now_ms();
        self.sleeps.lock().unwrap().push(deadline - now);
        if deadline > now {
            self.clock.set(deadline);
        }
        Box::pin(async {})
    }
}

/// Jitter that always picks half of the cap.
struct Half;
impl Rng for Half {
    fn below(&self, bound: u64) -> u64 {
        bound / 2
    }
}

fn client(clock: &Arc<Recording>) -> Client {
    client_with(clock, Options::default())
}

fn client_with(clock: &Arc<Recording>, options: Options) -> Client {
    let clock: Arc<dyn Clock> = clock.clone();
    Client::builder(clock)
        .options(options)
        .rng(Arc::new(Half))
        .build()
        .unwrap()
}

fn retry(attempts: u32) -> Retry {
    Retry {
        attempts,
        initial: Duration::from_secs(1),
        max: Duration::from_secs(8),
    }
}

// ---------------------------------------------------------------------------
// Retries.

#[tokio::test]
async fn a_5xx_is_retried_with_the_same_idempotency_key_and_jittered_backoff() {
    let server = Server::start(|_, _| Reply::status(500)).await;
    let clock = Recording::new();
    let mut request =
        Request::new(Method::POST, server.url("/score")).idempotency("run-1", "check");
    request.retry = retry(4);
    let error = client(&clock).send(&request).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Status {
                status: 500,
                attempts: 4,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(error.code(), "R0105");
    let keys: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.header("idempotency-key").map(str::to_string))
        .collect();
    assert_eq!(keys, vec![Some("run-1/check".to_string()); 4]);
    // Caps 1s, 2s, 4s; the jitter source picks half of each.
    assert_eq!(clock.sleeps(), [500, 1_000, 2_000]);
}

#[tokio::test]
async fn a_call_that_recovers_reports_its_attempts() {
    let server = Server::start(|_, earlier| {
        if earlier < 2 {
            Reply::status(502)
        } else {
            Reply::json(200, serde_json::json!({"ok": true}))
        }
    })
    .await;
    let clock = Recording::new();
    let mut request = Request::new(Method::GET, server.url("/x"));
    request.retry = retry(5);
    let response = client(&clock).send(&request).await.unwrap();
    assert_eq!((response.status, response.attempts), (200, 3));
    assert_eq!(response.json().unwrap(), serde_json::json!({"ok": true}));
    assert_eq!(server.count("/x"), 3);
}

#[tokio::test]
async fn other_4xx_are_never_retried() {
    for status in [400, 401, 403, 404, 409, 422] {
        let server = Server::start(move |_, _| Reply::status(status)).await;
        let clock = Recording::new();
        let mut request = Request::new(Method::POST, server.url("/x"));
        request.retry = retry(5);
        let error = client(&clock).send(&request).await.unwrap_err();
        assert!(
            matches!(error, Error::Status { attempts: 1, .. }),
            "{status}: {error}"
        );
        assert!(!error.is_retryable());
        assert_eq!(server.count("/x"), 1, "{status}");
        assert!(clock.sleeps().is_empty());
    }
}

#[tokio::test]
async fn an_expected_status_is_a_success_even_if_it_is_an_error_status() {
    let server = Server::start(|_, _| Reply::status(404)).await;
    let clock = Recording::new();
    let mut request = Request::new(Method::GET, server.url("/x"));
    request.expect = vec![200, 404];
    let response = client(&clock).send(&request).await.unwrap();
    assert_eq!(response.status, 404);
}

#[tokio::test]
async fn retry_after_seconds_on_429_and_an_http_date_on_503_are_honoured() {
    let server = Server::start(|_, earlier| match earlier {
        0 => Reply::status(429).header("Retry-After", "7"),
        // 1_700_000_007_000 ms is Tue, 14 Nov 2023 22:13:27 GMT; the clock stands
        // at 1_700_000_007_000 after the first wait, so this asks for 12 s.
        1 => Reply::status(503).header("Retry-After", "Tue, 14 Nov 2023 22:13:39 GMT"),
        _ => Reply::status(200),
    })
    .await;
    let clock = Recording::new();
    let mut request = Request::new(Method::GET, server.url("/x"));
    request.retry = retry(3);
    let response = client(&clock).send(&request).await.unwrap();
    assert_eq!(response.attempts, 3);
    assert_eq!(clock.sleeps(), [7_000, 12_000]);
}

#[tokio::test]
async fn a_retry_after_longer_than_the_client_waits_ends_the_call_with_the_wait() {
    let server = Server::start(|_, _| Reply::status(429).header("Retry-After", "3600")).await;
    let clock = Recording::new();
    let mut request = Request::new(Method::GET, server.url("/x"));
    request.retry = retry(3);
    let error = client(&clock).send(&request).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Status {
                status: 429,
                retry_after_ms: Some(3_600_000),
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(server.count("/x"), 1);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn timeouts_are_retried() {
    let server = Server::start(|_, _| Reply {
        delay: Some(Duration::from_secs(30)),
        ..Reply::status(200)
    })
    .await;
    let clock = Recording::new();
    let mut request = Request::new(Method::GET, server.url("/slow"));
    request.retry = retry(2);
    request.timeout = Some(Duration::from_millis(100));
    let error = client(&clock).send(&request).await.unwrap_err();
    assert!(
        matches!(error, Error::Timeout { attempts: 2, .. }),
        "{error}"
    );
    assert_eq!(error.code(), "R0104");
    assert_eq!(server.count("/slow"), 2);
}

#[tokio::test]
async fn connection_errors_are_retried() {
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let clock = Recording::new();
    let mut request = Request::new(Method::GET, format!("http://127.0.0.1:{port}/"));
    request.retry = retry(3);
    let error = client(&clock).send(&request).await.unwrap_err();
    assert!(
        matches!(error, Error::Connect { attempts: 3, .. }),
        "{error}"
    );
    assert_eq!(error.code(), "R0103");
    assert_eq!(clock.sleeps().len(), 2);
}

// ---------------------------------------------------------------------------
// Circuit breaker.

#[tokio::test]
async fn the_breaker_opens_after_n_failures_fails_fast_and_half_opens_after_reset() {
    let healthy = Arc::new(AtomicBool::new(false));
    let server = {
        let healthy = Arc::clone(&healthy);
        Server::start(move |_, _| {
            Reply::status(if healthy.load(Ordering::SeqCst) {
                200
            } else {
                500
            })
        })
        .await
    };
    let clock = Recording::new();
    let client = client(&clock);
    let mut request = Request::new(Method::GET, server.url("/x"));
    request.connection = Some("fraud".into());
    request.breaker = Some(BreakerConfig {
        failures: 3,
        reset_after: Duration::from_secs(30),
    });
    // Two failures in a retried call, then one more: three consecutive.
    request.retry = retry(2);
    assert!(client.send(&request).await.is_err());
    assert_eq!(
        client.breaker_state("fraud"),
        Some(BreakerState::Closed { failures: 2 })
    );
    request.retry = Retry::NONE;
    assert!(client.send(&request).await.is_err());
    let opened_at = clock.now_ms();
    assert_eq!(
        client.breaker_state("fraud"),
        Some(BreakerState::Open {
            until: opened_at + 30_000
        })
    );
    assert_eq!(server.count("/x"), 3);

    // Open: fail fast, nothing sent.
    let error = client.send(&request).await.unwrap_err();
    assert!(
        matches!(&error, Error::BreakerOpen { connection, retry_in_ms: 30_000 } if connection == "fraud"),
        "{error}"
    );
    assert_eq!(error.code(), "R0106");
    clock.clock.advance(Duration::from_millis(29_999));
    assert!(matches!(
        client.send(&request).await,
        Err(Error::BreakerOpen { retry_in_ms: 1, .. })
    ));
    assert_eq!(server.count("/x"), 3);

    // Half-open: one probe; it fails, so the breaker opens again.
    clock.clock.advance(Duration::from_millis(1));
    assert!(matches!(
        client.send(&request).await,
        Err(Error::Status { status: 500, .. })
    ));
    assert_eq!(server.count("/x"), 4);
    assert_eq!(
        client.breaker_state("fraud"),
        Some(BreakerState::Open {
            until: clock.now_ms() + 30_000
        })
    );
    assert!(matches!(
        client.send(&request).await,
        Err(Error::BreakerOpen { .. })
    ));

    // The next probe succeeds and closes it.
    healthy.store(true, Ordering::SeqCst);
    clock.clock.advance(Duration::from_secs(30));
    assert_eq!(client.send(&request).await.unwrap().status, 200);
    assert_eq!(
        client.breaker_state("fraud"),
        Some(BreakerState::Closed { failures: 0 })
    );
    assert_eq!(client.send(&request).await.unwrap().status, 200);
    assert_eq!(server.count("/x"), 6);
}

#[tokio::test]
async fn a_breaker_opening_during_retries_stops_them() {
    let server = Server::start(|_, _| Reply::status(503)).await;
    let clock = Recording::new();
    let mut request = Request::new(Method::GET, server.url("/x"));
    request.connection = Some("c".into());
    request.breaker = Some(BreakerConfig {
        failures: 2,
        reset_after: Duration::from_secs(60),
    });
    request.retry = retry(5);
    let error = client(&clock).send(&request).await.unwrap_err();
    assert!(matches!(error, Error::BreakerOpen { .. }), "{error}");
    assert_eq!(server.count("/x"), 2);
}

// ---------------------------------------------------------------------------
// Auth.

async fn sent_with(auth: Auth) -> Recorded {
    let server = Server::start(|_, _| Reply::status(200)).await;
    let clock = Recording::new();
    let mut request = Request::new(Method::GET, server.url("/x?a=1"));
    request.auth = auth;
    client(&clock).send(&request).await.unwrap();
    server.requests().remove(0)
}

#[tokio::test]
async fn bearer_basic_and_api_keys_are_sent() {
    let bearer = sent_with(Auth::Bearer {
        token: SecretString::new("tok-123"),
    })
    .await;
    assert_eq!(bearer.header("authorization"), Some("Bearer tok-123"));

    let basic = sent_with(Auth::Basic {
        username: SecretString::new("svc"),
        password: SecretString::new("p@ss:word"),
    })
    .await;
    let expected = base64::engine::general_purpose::STANDARD.encode("svc:p@ss:word");
    assert_eq!(
        basic.header("authorization"),
        Some(format!("Basic {expected}").as_str())
    );

    let header = sent_with(Auth::ApiKey {
        place: KeyPlace::Header("X-Api-Key".into()),
        value: SecretString::new("k-1"),
    })
    .await;
    assert_eq!(header.header("x-api-key"), Some("k-1"));
    assert_eq!(header.target, "/x?a=1");

    let query = sent_with(Auth::ApiKey {
        place: KeyPlace::Query("api_key".into()),
        value: SecretString::new("k 2"),
    })
    .await;
    assert_eq!(query.target, "/x?a=1&api_key=k+2");
    assert_eq!(query.header("authorization"), None);
}

#[tokio::test]
async fn errors_do_not_show_the_query_where_an_api_key_goes() {
    let server = Server::start(|_, _| Reply::status(400)).await;
    let clock = Recording::new();
    let mut request = Request::new(Method::GET, server.url("/x"));
    request.auth = Auth::ApiKey {
        place: KeyPlace::Query("api_key".into()),
        value: SecretString::new("canary-key"),
    };
    let error = client(&clock).send(&request).await.unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("canary-key"), "{shown}");
}

/// A token endpoint at `/token` that issues `t1`, `t2`, … valid for an hour, and
/// an API at `/api` that accepts only the newest token while `revoke` is set,
/// any issued token otherwise.
async fn oauth_server() -> (Server, Arc<AtomicBool>) {
    let revoke = Arc::new(AtomicBool::new(false));
    let issued = Arc::new(AtomicUsize::new(0));
    let server = {
        let revoke = Arc::clone(&revoke);
        Server::start(move |request, _| match request.path() {
            "/token" => {
                let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
                Reply::json(
                    200,
                    serde_json::json!({"access_token": format!("t{n}"), "token_type": "Bearer", "expires_in": 3600}),
                )
            }
            _ => {
                let newest = format!("Bearer t{}", issued.load(Ordering::SeqCst));
                let sent = request.header("authorization").unwrap_or("");
                let ok = if revoke.load(Ordering::SeqCst) {
                    sent == newest
                } else {
                    sent.starts_with("Bearer t")
                };
                if ok {
                    Reply::json(200, serde_json::json!({"sent": sent}))
                } else {
                    Reply::status(401)
                }
            }
        })
        .await
    };
    (server, revoke)
}

fn oauth(server: &Server, grant: Grant) -> Auth {
    Auth::OAuth2(OAuth2 {
        token_url: server.url("/token"),
        client_id: SecretString::new("flowc"),
        client_secret: SecretString::new("s3cret"),
        grant,
        scopes: vec!["transactions:score".into(), "read".into()],
    })
}

#[tokio::test]
async fn an_oauth2_token_is_fetched_once_reused_and_refreshed_on_401_and_expiry() {
    let (server, revoke) = oauth_server().await;
    let clock = Recording::new();
    let client = client(&clock);
    let mut request = Request::new(Method::POST, server.url("/api"));
    request.auth = oauth(&server, Grant::ClientCredentials);
    for _ in 0..3 {
        assert_eq!(client.send(&request).await.unwrap().status, 200);
    }
    assert_eq!(server.count("/token"), 1);
    let token = server.requests().remove(0);
    assert_eq!(token.method, "POST");
    let credentials = base64::engine::general_purpose::STANDARD.encode("flowc:s3cret");
    assert_eq!(
        token.header("authorization"),
        Some(format!("Basic {credentials}").as_str())
    );
    assert_eq!(
        String::from_utf8_lossy(&token.body),
        "grant_type=client_credentials&scope=transactions%3Ascore+read"
    );
    assert!(
        server
            .requests()
            .iter()
            .filter(|r| r.path() == "/api")
            .all(|r| r.header("authorization") == Some("Bearer t1"))
    );

    // The server stops accepting t1: one 401, one new token, the same call again.
    issue_token_behind_the_clients_back(&server).await;
    revoke.store(true, Ordering::SeqCst);
    let response = client.send(&request).await.unwrap();
    assert_eq!(response.json().unwrap()["sent"], "Bearer t3");
    assert_eq!(response.attempts, 1);
    assert_eq!(server.count("/token"), 3);

    // Close to expiry (an hour minus the 30 s skew) a new token is fetched first.
    revoke.store(false, Ordering::SeqCst);
    clock.clock.advance(Duration::from_secs(3600 - 31));
    client.send(&request).await.unwrap();
    assert_eq!(server.count("/token"), 3);
    clock.clock.advance(Duration::from_secs(1));
    let response = client.send(&request).await.unwrap();
    assert_eq!(response.json().unwrap()["sent"], "Bearer t4");
    assert_eq!(server.count("/token"), 4);
}

/// Makes the endpoint issue a token the client does not have, so the client's
/// cached one is no longer the newest.
async fn issue_token_behind_the_clients_back(server: &Server) {
    let response = reqwest::Client::new()
        .post(server.url("/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_401_after_a_fresh_token_is_a_failure_not_a_loop() {
    let server = Server::start(|request, _| match request.path() {
        "/token" => Reply::json(200, serde_json::json!({"access_token": "t"})),
        _ => Reply::status(401),
    })
    .await;
    let clock = Recording::new();
    let mut request = Request::new(Method::GET, server.url("/api"));
    request.auth = oauth(&server, Grant::ClientCredentials);
    request.retry = retry(3);
    let error = client(&clock).send(&request).await.unwrap_err();
    assert!(
        matches!(error, Error::Status { status: 401, .. }),
        "{error}"
    );
    assert_eq!((server.count("/token"), server.count("/api")), (2, 2));
}

#[tokio::test]
async fn the_password_grant_sends_the_user() {
    let (server, _) = oauth_server().await;
    let clock = Recording::new();
    let mut request = Request::new(Method::GET, server.url("/api"));
    request.auth = oauth(
        &server,
        Grant::Password {
            username: SecretString::new("ana"),
            password: SecretString::new("pw&1"),
        },
    );
    assert_eq!(client(&clock).send(&request).await.unwrap().status, 200);
    let token = server.requests().remove(0);
    assert_eq!(
        String::from_utf8_lossy(&token.body),
        "grant_type=password&username=ana&password=pw%261&scope=transactions%3Ascore+read"
    );
}

#[tokio::test]
async fn a_failing_token_endpoint_is_its_own_error() {
    let server = Server::start(|_, _| Reply::status(400)).await;
    let clock = Recording::new();
    let mut request = Request::new(Method::GET, server.url("/api"));
    request.auth = oauth(&server, Grant::ClientCredentials);
    let error = client(&clock).send(&request).await.unwrap_err();
    assert_eq!(error.code(), "R0110");
    assert_eq!(server.count("/api"), 0);
}

// ---------------------------------------------------------------------------
// Responses.

fn score_type() -> Expected {
    let mut types = TypeTable::new();
    types.insert(
        "Score".into(),
        Ty::record(vec![
            FieldTy {
                name: "score".into(),
                ty: Ty::Int,
                optional: false,
            },
            FieldTy {
                name: "reasons".into(),
                ty: Ty::list(Ty::String),
                optional: false,
            },
        ]),
    );
    Expected {
        ty: Ty::named("Score"),
        types: Arc::new(types),
    }
}

#[tokio::test]
async fn the_response_is_converted_to_its_declared_type() {
    let server = Server::start(|_, _| {
        Reply::json(
            200,
            serde_json::json!({"score": 42, "reasons": ["a"], "extra": 1}),
        )
    })
    .await;
    let clock = Recording::new();
    let mut request = Request::new(Method::GET, server.url("/x"));
    request.response_type = Some(score_type());
    let response = client(&clock).send(&request).await.unwrap();
    let value = response.value.unwrap();
    assert_eq!(
        value.field("score").map(Value::to_json),
        Some(serde_json::json!(42))
    );
}

#[tokio::test]
async fn a_response_of_the_wrong_type_names_the_path() {
    let server = Server::start(|_, _| {
        Reply::json(200, serde_json::json!({"score": 42, "reasons": ["a", 7]}))
    })
    .await;
    let clock = Recording::new();
    let mut request = Request::new(Method::GET, server.url("/x"));
    request.response_type = Some(score_type());
    request.retry = retry(3);
    let error = client(&clock).send(&request).await.unwrap_err();
    let Error::ResponseType {
        path,
        expected,
        found,
    } = &error
    else {
        panic!("{error}");
    };
    assert_eq!(
        (path.as_str(), expected.as_str()),
        ("$.reasons[1]", "string")
    );
    assert_eq!(found, "the number `7`");
    assert_eq!(error.code(), "R0109");
    assert_eq!(server.count("/x"), 1, "a type mismatch is not retried");

    let server = Server::start(|_, _| Reply {
        body: b"<html>".to_vec(),
        ..Reply::status(200)
    })
    .await;
    request.url = server.url("/x");
    let error = client(&clock).send(&request).await.unwrap_err();
    assert_eq!(error.code(), "R0108");
}

#[tokio::test]
async fn bodies_over_the_limits_are_refused() {
    let server = Server::start(|_, _| Reply {
        body: vec![b'x'; 2048],
        ..Reply::status(200)
    })
    .await;
    let clock = Recording::new();
    let options = Options {
        max_response_bytes: 1024,
        max_request_bytes: 16,
        ..Options::default()
    };
    let client = client_with(&clock, options);
    let error = client
        .send(&Request::new(Method::GET, server.url("/big")))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::ResponseTooLarge { limit: 1024, .. }),
        "{error}"
    );
    assert_eq!(error.code(), "R0107");

    let mut request = Request::new(Method::POST, server.url("/up"));
    request.body = flowc_runtime::outbound::Body::Bytes {
        content_type: None,
        bytes: vec![0; 17],
    };
    let error = client.send(&request).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::RequestTooLarge {
                size: 17,
                limit: 16
            }
        ),
        "{error}"
    );
    assert_eq!(server.count("/up"), 0);
}

// ---------------------------------------------------------------------------
// The egress hook.

struct NoLoopback;
impl Egress for NoLoopback {
    fn check(&self, _host: &str, ip: IpAddr, _port: Option<u16>) -> Result<(), String> {
        if ip.is_loopback() {
            Err("loopback".into())
        } else {
            Ok(())
        }
    }
}

#[tokio::test]
async fn the_egress_hook_sees_literal_and_resolved_addresses_before_any_connection() {
    let server = Server::start(|_, _| Reply::status(200)).await;
    let clock: Arc<dyn Clock> = Recording::new();
    let client = Client::builder(clock)
        .egress(Arc::new(NoLoopback))
        .build()
        .unwrap();
    let port = server.addr.port();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://localhost:{port}/"),
    ] {
        let error = client
            .send(&Request::new(Method::GET, url.clone()))
            .await
            .unwrap_err();
        assert_eq!(error.code(), "R0111", "{url}: {error}");
    }
    let error = client
        .send(&Request::new(Method::GET, "file:///etc/passwd"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "R0111", "{error}");
    assert_eq!(server.connections.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------------
// From IR.

struct Vault(HashMap<&'static str, &'static str>);
impl Secrets for Vault {
    fn secret(&self, name: &str) -> Option<SecretString> {
        self.0.get(name).map(|value| SecretString::new(*value))
    }
}

fn expr() -> ir::Expr {
    ir::Expr {
        kind: ir::ExprKind::Webhook,
        ty: Ty::Json,
        span: Default::default(),
    }
}

fn secret(name: &str) -> Value {
    Value::Secret(Arc::new(vec![SecretPart::Secret(name.into())]))
}

#[tokio::test]
async fn a_request_from_an_ir_step_and_its_connection() {
    let server = Server::start(|request, _| {
        Reply::json(
            200,
            serde_json::json!({"score": 7, "reasons": [String::from_utf8_lossy(&request.body)]}),
        )
    })
    .await;
    let connection = ir::Connection {
        name: "fraud".into(),
        base_url: expr(),
        auth: Some(expr()),
        headers: vec![("X-Team".into(), expr()), ("X-Env".into(), expr())],
        timeout_ms: Some(10_000),
        retry: Some(ir::RetryPolicy {
            attempts: 5,
            initial_ms: 1_000,
            max_ms: 8_000,
        }),
        circuit_breaker: Some(ir::CircuitBreaker {
            failures: 5,
            reset_after_ms: 30_000,
        }),
        span: Default::default(),
    };
    let connection_values = ConnectionValues {
        base_url: Value::string(server.url("/v1/")),
        auth: Some(Value::record([
            ("$tag", Value::string("bearer")),
            ("token", secret("fraud_token")),
        ])),
        headers: vec![
            ("X-Team".into(), Value::string("payments")),
            ("X-Env".into(), Value::string("prod")),
        ],
    };
    let step = ir::HttpRequest {
        method: "POST".into(),
        connection: Some("fraud".into()),
        url: expr(),
        headers: vec![("x-env".into(), expr())],
        query: vec![("page".into(), expr())],
        body: Some(ir::Body::Json(expr())),
        auth: None,
        timeout_ms: None,
        retry: None,
        expect: Vec::new(),
        response: score_type().ty,
    };
    let values = StepValues {
        url: Value::string("/score"),
        headers: vec![(
            "x-env".into(),
            Value::Secret(Arc::new(vec![
                SecretPart::Text("env-".into()),
                SecretPart::Secret("env".into()),
            ])),
        )],
        query: vec![("page".into(), Value::Int(2))],
        body: Some(Value::record([("id", Value::string("tx-1"))])),
        auth: None,
    };
    let vault = Vault(HashMap::from([("fraud_token", "ft"), ("env", "staging")]));
    let request = step::request(
        &step,
        &values,
        Some((&connection, &connection_values)),
        &score_type().types,
        &vault,
        Origin {
            run_id: "r9",
            step_path: "items[3].check",
        },
    )
    .unwrap();
    assert_eq!(request.retry.attempts, 5);
    assert_eq!(request.timeout, Some(Duration::from_secs(10)));
    assert_eq!(request.connection.as_deref(), Some("fraud"));
    let clock = Recording::new();
    let response = client(&clock).send(&request).await.unwrap();
    let sent = server.requests().remove(0);
    assert_eq!(sent.target, "/v1/score?page=2");
    assert_eq!(sent.header("authorization"), Some("Bearer ft"));
    assert_eq!(sent.header("x-team"), Some("payments"));
    assert_eq!(sent.header("x-env"), Some("env-staging"));
    assert_eq!(sent.header("idempotency-key"), Some("r9/items[3].check"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(String::from_utf8_lossy(&sent.body), r#"{"id":"tx-1"}"#);
    assert!(response.value.is_some());

    // `auth: none` on the step removes the connection's; a missing secret is R0112.
    let mut values = values;
    values.auth = Some(Value::record([("$tag", Value::string("none"))]));
    let request = step::request(
        &step,
        &values,
        Some((&connection, &connection_values)),
        &score_type().types,
        &vault,
        Origin {
            run_id: "r",
            step_path: "s",
        },
    )
    .unwrap();
    assert!(matches!(request.auth, Auth::None));
    let empty = Vault(HashMap::new());
    let error = step::request(
        &step,
        &values,
        Some((&connection, &connection_values)),
        &score_type().types,
        &empty,
        Origin {
            run_id: "r",
            step_path: "s",
        },
    )
    .unwrap_err();
    assert_eq!(error.code(), "R0112");
}
