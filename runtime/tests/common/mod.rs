//! Helpers shared by runtime tests: a tiny HTTP/1.1 server on loopback that records
//! every request (the pattern of `outbound.rs`), and a clock that jumps past every
//! sleep at once so retries take no wall time; `harness` builds the whole server
//! stack the end-to-end tests run against.

#![allow(dead_code, clippy::unwrap_used)]

pub mod harness;

use flowc_runtime::clock::{Clock, Millis, TestClock};
use flowc_runtime::store::NewRun;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wall time to wait before answering (for timeout tests).
    pub delay: Option<Duration>,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: None,
        }
    }

    pub fn json(status: u16, json: serde_json::Value) -> Reply {
        Reply {
            body: json.to_string().into_bytes(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            ..Reply::status(status)
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// The handler sees the request and how many earlier requests had the same path.
type Handler = Arc<dyn Fn(&Recorded, usize) -> Reply + Send + Sync>;

pub struct Server {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    /// Connections accepted, to prove a refused request never connected.
    pub connections: Arc<AtomicUsize>,
    /// Requests read and not yet answered, and the most there ever were.
    pub in_flight: Arc<InFlight>,
}

/// How many requests a [`Server`] holds at once (read, not yet answered).
#[derive(Debug, Default)]
pub struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl InFlight {
    /// The most requests held at once so far.
    pub fn most(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }

    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Server {
    pub async fn start(
        handler: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let connections = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(InFlight::default());
        let handler: Handler = Arc::new(handler);
        {
            let requests = Arc::clone(&requests);
            let connections = Arc::clone(&connections);
            let in_flight = Arc::clone(&in_flight);
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    connections.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(serve_one(
                        stream,
                        Arc::clone(&requests),
                        Arc::clone(&handler),
                        Arc::clone(&in_flight),
                    ));
                }
            });
        }
        Server {
            addr,
            requests,
            connections,
            in_flight,
        }
    }

    /// `http://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How many requests went to this path.
    pub fn count(&self, path: &str) -> usize {
        self.requests().iter().filter(|r| r.path() == path).count()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// How many requests carried this `Idempotency-Key`.
    pub fn count_key(&self, key: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.header("idempotency-key") == Some(key))
            .count()
    }
}

async fn serve_one(
    mut stream: tokio::net::TcpStream,
    requests: Arc<Mutex<Vec<Recorded>>>,
    handler: Handler,
    in_flight: Arc<InFlight>,
) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > 64 * 1024 {
            return;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let target = first.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let recorded = Recorded {
        method,
        target,
        headers,
        body,
    };
    in_flight.enter();
    let reply = {
        let mut all = requests.lock().unwrap();
        let earlier = all.iter().filter(|r| r.path() == recorded.path()).count();
        all.push(recorded.clone());
        handler(&recorded, earlier)
    };
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    let mut out = format!(
        "HTTP/1.1 {} Test\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&reply.body);
    in_flight.leave();
    let _ = stream.write_all(&bytes).await;
    let _ = stream.shutdown().await;
}

/// A test clock whose sleeps return at once, moving the time to their deadline.
#[derive(Clone, Debug)]
pub struct JumpingClock {
    pub clock: TestClock,
}

impl JumpingClock {
    pub fn new(start: Millis) -> JumpingClock {
        JumpingClock {
            clock: TestClock::new(start),
        }
    }
}

impl Clock for JumpingClock {
    fn now_ms(&self) -> Millis {
        self.clock.now_ms()
    }

    fn sleep_until(
        &self,
        deadline: Millis,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        if deadline > self.clock.now_ms() {
            self.clock.set(deadline);
        }
        Box::pin(async {})
    }
}

/// A run of `workflow` in `deployment` started by hand (trigger `manual`), with
/// no idempotency key, delivery or webhook.
pub fn new_run(deployment: &str, workflow: &str, input: serde_json::Value) -> NewRun {
    NewRun {
        deployment: deployment.into(),
        workflow: workflow.into(),
        input,
        idempotency_key: None,
        trigger: "manual".into(),
        delivery: None,
        webhook: None,
        replay_of: None,
    }
}

/// Compiles one source file, asserting it has no errors.
pub fn compile(source: &str) -> flowc_compiler::ir::Program {
    let analysis = flowc_compiler::analyze(
        vec![flowc_compiler::SourceFile {
            path: "main.flow".into(),
            text: source.into(),
        }],
        &flowc_compiler::NoImports,
    );
    let errors: Vec<_> = analysis
        .diagnostics
        .iter()
        .filter(|d| d.diagnostic.is_error())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    analysis.program
}
