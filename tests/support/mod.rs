//! Real parts for the end-to-end tests of the built binary: `flowc` run in a temp
//! directory with its output captured, `flowc serve` started on a loopback port
//! (killed, stopped or asked things through its admin API), a downstream HTTP
//! server that records every request and answers what a test's handler says,
//! requests sent over plain TCP, and the store read back through `flowc_runtime`.
//!
//! The downstream server is deliberately a different thing from the server under
//! test (threads in the test process), so killing `flowc serve` never loses what
//! it recorded. Each recorded request carries the recorder's *epoch* at the moment
//! its connection was accepted: the crash test moves the epoch on after every
//! kill, which tells a request sent again after a restart from one sent twice by
//! the same process.

#![allow(dead_code, clippy::unwrap_used)]
#![allow(
    clippy::disallowed_methods,
    reason = "polling loops are bounded by a wall-clock deadline; nothing asserts on time"
)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, mpsc};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- commands

/// `flowc ARGS…` in `dir`, without the environment's key, admin token or server,
/// and without colour.
pub fn flowc(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowc"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("FLOWC_MASTER_KEY")
        .env_remove("FLOWC_ADMIN_TOKEN")
        .env_remove("FLOWC_SERVER")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

/// Runs `flowc ARGS…` in `dir` to the end.
pub fn run(dir: &Path, args: &[&str]) -> Done {
    Done::of(&mut flowc(dir, args))
}

/// Runs `flowc ARGS…` in `dir` with `stdin` as standard input.
pub fn run_with_stdin(dir: &Path, args: &[&str], stdin: &str) -> Done {
    let mut child = flowc(dir, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that refuses its arguments exits without reading its input: the
    // write then fails with a broken pipe, which is not the test's business.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    Done::from(child.wait_with_output().unwrap())
}

/// Writes `text` to `dir/file`.
pub fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
}

/// How a command ended.
#[derive(Debug)]
pub struct Done {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Done {
    /// Runs a prepared command (one with extra environment, say) to the end.
    pub fn of(command: &mut Command) -> Done {
        Done::from(command.output().unwrap())
    }

    /// Standard output as JSON; fails showing the whole outcome when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{self}"))
    }
}

impl From<Output> for Done {
    fn from(output: Output) -> Done {
        Done {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl std::fmt::Display for Done {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

// ---------------------------------------------------------------- time and ports

/// Polls `done` until it holds; past the deadline, fails saying what was missing
/// (the message is computed then, so it can describe the state at that moment).
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool, missing: impl Fn() -> String) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "{}", missing());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A loopback port that was free a moment ago, for a server that must come back
/// on the same address after a restart.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `http://127.0.0.1:PORT` where nothing listens (a port bound and released).
pub fn dead_address() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

// ---------------------------------------------------------------- downstream

/// One request the recorder received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The recorder's epoch when the connection was accepted.
    pub epoch: u64,
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

    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, query)| query)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

/// What the recorder answers.
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            body: body.to_string(),
        }
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

/// A downstream API on loopback: one thread per connection (so a handler that
/// sleeps, to make a step slow, delays no other), `Connection: close`, every
/// request recorded when it arrives, before the handler answers it.
pub struct Recorder {
    base: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    epoch: Arc<AtomicU64>,
    in_flight: Arc<AtomicUsize>,
}

impl Recorder {
    pub fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let epoch = Arc::new(AtomicU64::new(0));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let requests = Arc::clone(&requests);
            let epoch = Arc::clone(&epoch);
            let in_flight = Arc::clone(&in_flight);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let accepted_in = epoch.load(Ordering::SeqCst);
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    let requests = Arc::clone(&requests);
                    let handler = Arc::clone(&handler);
                    let in_flight = Arc::clone(&in_flight);
                    std::thread::spawn(move || {
                        answer(stream, accepted_in, &requests, handler.as_ref());
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                    });
                }
            });
        }
        Recorder {
            base,
            requests,
            epoch,
            in_flight,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// The bodies of the requests to `path` (the query aside), in arrival order.
    pub fn bodies(&self, path: &str) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|request| request.path() == path)
            .map(Recorded::text)
            .collect()
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Waits until no accepted connection is still being read or answered (the
    /// sender died or finished), then starts the next epoch. Idle is checked twice,
    /// 20 ms apart, so a connection the dead sender opened but the accept thread
    /// had not yet taken is still counted in the old epoch.
    pub fn next_epoch(&self) {
        let idle = || self.in_flight.load(Ordering::SeqCst) == 0;
        wait_until(
            Duration::from_secs(10),
            || {
                idle() && {
                    std::thread::sleep(Duration::from_millis(20));
                    idle()
                }
            },
            || "the recorder still has connections open 10 s after the sender died".into(),
        );
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

fn answer(mut stream: TcpStream, epoch: u64, requests: &Mutex<Vec<Recorded>>, handler: &Handler) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Some((head, body)) = read_message(&mut stream) else {
        return;
    };
    let mut lines = head.lines();
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("").to_string();
    let target = request_line.next().unwrap_or("").to_string();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect();
    let recorded = Recorded {
        method,
        target,
        headers,
        body,
        epoch,
    };
    requests.lock().unwrap().push(recorded.clone());
    let reply = handler(&recorded);
    let _ = write!(
        stream,
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{}",
        reply.status,
        reply.body.len(),
        reply.body
    );
}

/// Reads one HTTP/1.1 message with a `Content-Length` body (or none): (head,
/// body), or `None` when the peer went away before a whole message arrived.
pub fn read_message(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..at]).into_owned();
            let length: usize = head
                .lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, value)| value.trim().parse().ok())
                .unwrap_or(0);
            let mut body = buffer[at + 4..].to_vec();
            while body.len() < length {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => body.extend_from_slice(&chunk[..n]),
                }
            }
            body.truncate(length);
            return Some((head, body));
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

// ---------------------------------------------------------------- requests

/// Sends one request with `Content-Type: application/json` and the given extra
/// headers: the status and the body, or the IO error (a refused connection, a
/// server killed before it answered).
pub fn send(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> io::Result<(u16, String)> {
    send_typed(addr, method, path, "application/json", headers, body)
}

/// `send` with a body of another `content_type` (a form, say).
pub fn send_typed(
    addr: &str,
    method: &str,
    path: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let (head, body) = read_message(&mut stream)
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no complete response"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, head.clone()))?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// `send` a `POST` for a test that expects an answer.
pub fn post(addr: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    send(addr, "POST", path, headers, body)
        .unwrap_or_else(|error| panic!("POST {path} to {addr} got no answer: {error}"))
}

/// The `run_id` of an answer, which must be a `202`.
pub fn run_id((status, body): (u16, String)) -> String {
    assert_eq!(
        status, 202,
        "expected 202 with a run id, got {status}: {body}"
    );
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    json["run_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no run_id in {body}"))
        .to_string()
}

// ---------------------------------------------------------------- the server

/// A running `flowc serve`, killed when dropped.
pub struct Served {
    child: Child,
    /// Where it runs: the directory its relative paths are in.
    dir: PathBuf,
    /// `127.0.0.1:PORT`, from its `listening on` line.
    pub addr: String,
    output: Arc<Mutex<String>>,
    /// The threads copying stdout and stderr into `output`.
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Served {
    /// Starts `flowc serve ARGS…` in `dir` and waits for its `listening on` line;
    /// the error is what it printed when it exited (or hung) before that. Unless
    /// ARGS set the egress guard, `--allow-egress 127.0.0.1/32` opens the
    /// loopback downstreams tests record with.
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Served, String> {
        let guard_set = args
            .iter()
            .any(|arg| matches!(*arg, "--allow-egress" | "--allow-private-network"));
        let loopback: &[&str] = if guard_set {
            &[]
        } else {
            &["--allow-egress", "127.0.0.1/32"]
        };
        let mut command = flowc(dir, &[&["serve"], loopback, args].concat());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output: Arc<Mutex<String>> = Arc::default();
        let (listening, heard) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let readers = vec![
            drain(stdout, Arc::clone(&output), Some(listening)),
            drain(stderr, Arc::clone(&output), None),
        ];
        let mut served = Served {
            child,
            dir: dir.to_path_buf(),
            addr: String::new(),
            output,
            readers,
        };
        match heard.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => {
                served.addr = addr;
                Ok(served)
            }
            Err(_) => {
                served.kill();
                Err(served.output())
            }
        }
    }

    /// `flowc serve FILES… --db data.db --addr 127.0.0.1:0` in `dir`, which must
    /// come up: the server the operator commands talk to through [`admin`](Self::admin).
    /// It has deployed the files (if any) and bound its port before it prints
    /// where it listens, so it accepts webhooks from then on.
    pub fn in_dir(dir: &Path, files: &[&str]) -> Served {
        let args = [files, &["--db", "data.db", "--addr", "127.0.0.1:0"]].concat();
        Served::start(dir, &args, &[])
            .unwrap_or_else(|output| panic!("flowc serve did not start:\n{output}"))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The admin token it wrote, for a server from [`in_dir`](Self::in_dir).
    pub fn token_file(&self) -> PathBuf {
        self.dir.join("data.admin-token")
    }

    /// `flowc ARGS… --server URL --token-file data.admin-token` in its directory:
    /// an operator command against a server from [`in_dir`](Self::in_dir).
    pub fn admin(&self, args: &[&str]) -> Done {
        let url = self.url();
        let server = ["--server", &url, "--token-file", "data.admin-token"];
        run(&self.dir, &[args, &server].concat())
    }

    /// `METHOD /api/v1{path}` with `body` (JSON, none when `null`) and the admin
    /// token of a server from [`in_dir`](Self::in_dir): the status and the
    /// answer as JSON (`null` when it is not JSON).
    pub fn api(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let token = std::fs::read_to_string(self.token_file()).unwrap();
        let authorization = format!("Bearer {}", token.trim());
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let (status, answer) = send(
            &self.addr,
            method,
            &format!("/api/v1{path}"),
            &[("Authorization", &authorization)],
            &body,
        )
        .unwrap_or_else(|error| panic!("{method} /api/v1{path} got no answer: {error}"));
        (status, serde_json::from_str(&answer).unwrap_or_default())
    }

    /// `flowc runs show ID --json` against it (a server from
    /// [`in_dir`](Self::in_dir)), which must succeed: the run's detail.
    pub fn run_detail(&self, id: &str) -> serde_json::Value {
        let done = self.admin(&["runs", "show", id, "--json"]);
        assert_eq!(done.code, Some(0), "{done}");
        done.json()
    }

    /// Polls [`run_detail`](Self::run_detail) until the run has status
    /// `status` (at most 20 s): its detail.
    pub fn wait_for_status(&self, id: &str, status: &str) -> serde_json::Value {
        let mut last = serde_json::Value::Null;
        wait_until(
            Duration::from_secs(20),
            || {
                last = self.run_detail(id);
                last["run"]["status"] == status
            },
            || format!("run {id} never became {status}"),
        );
        last
    }

    /// What it printed so far, stdout and stderr interleaved by line.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// SIGKILL, and reaped: when this returns the process and its sockets are gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and its exit status once it has stopped gracefully (with all it
    /// printed in [`output`](Self::output)).
    pub fn stop(&mut self) -> ExitStatus {
        self.stop_with("TERM")
    }

    /// The signal `SIG{name}`, and the exit status once the process has ended.
    pub fn stop_with(&mut self, name: &str) -> ExitStatus {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{name} failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Its pipes are closed: let the readers take the last lines in.
                for reader in self.readers.drain(..) {
                    let _ = reader.join();
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "flowc serve did not stop within 30 s of SIG{name}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Copies a child's output into `output` line by line, reporting the address of
/// the first `listening on http://…` line.
fn drain(
    from: impl Read + Send + 'static,
    output: Arc<Mutex<String>>,
    listening: Option<mpsc::Sender<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(from);
        let mut line = String::new();
        while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
            if let (Some(sender), Some(addr)) =
                (&listening, line.trim().strip_prefix("listening on http://"))
            {
                let _ = sender.send(addr.to_string());
            }
            output.lock().unwrap().push_str(&line);
            line.clear();
        }
    })
}

// ---------------------------------------------------------------- the store

/// Runs a future to completion on a fresh single-threaded runtime.
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Waits until no run in the database at `db` is under way; past `timeout`,
/// fails naming the unfinished runs and showing what `server` printed.
pub fn wait_for_runs_to_end(db: &Path, timeout: Duration, server: &Served) {
    use flowc_runtime::store::Store as _;
    block_on(async {
        let store = flowc_runtime::store::sqlite::Options::new(db)
            .open()
            .unwrap();
        let deadline = Instant::now() + timeout;
        loop {
            let unfinished = store.runs_to_resume().await.unwrap();
            if unfinished.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} runs still unfinished after {timeout:?}, e.g. {:?}; server output:\n{}",
                unfinished.len(),
                unfinished
                    .iter()
                    .take(5)
                    .map(|run| (&run.id, &run.workflow, run.status))
                    .collect::<Vec<_>>(),
                server.output()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        store.close().await;
    });
}

/// Every run in the store, with its journal, oldest first.
pub async fn all_runs(
    store: &dyn flowc_runtime::store::Store,
) -> Vec<flowc_runtime::store::RunDetail> {
    use flowc_runtime::store::{Page, RunFilter};
    let mut runs = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_runs(RunFilter::default(), Page { limit: 100, after })
            .await
            .unwrap();
        if page.runs.is_empty() {
            break;
        }
        for run in page.runs {
            runs.push(store.get_run(&run.id).await.unwrap().unwrap());
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    runs.reverse();
    runs
}

// ---------------------------------------------------------------- crash tests

/// SplitMix64: what a seeded kill schedule needs, and nothing more.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    /// The items of `items` in a seeded order.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = usize::try_from(self.next() % (i as u64 + 1)).unwrap();
            items.swap(i, j);
        }
    }
}

/// The seed of a crash test: `FLOWC_CRASH_SEED` when set (to replay a schedule),
/// else the time.
pub fn crash_seed() -> u64 {
    match std::env::var("FLOWC_CRASH_SEED") {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("FLOWC_CRASH_SEED={text} is not a number")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

/// `flowc serve FILE --db data.db` in `dir` on `127.0.0.1:PORT`, or (if that port
/// cannot be had back after a kill) on a new one: the server and its port.
pub fn serve_on(dir: &Path, file: &str, port: u16) -> (Served, u16) {
    let addr = format!("127.0.0.1:{port}");
    let mut last = String::new();
    for _ in 0..20 {
        match Served::start(dir, &[file, "--db", "data.db", "--addr", &addr], &[]) {
            Ok(served) => return (served, port),
            Err(output) => last = output,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("port {port} could not be had back ({last}); moving to a new port");
    let served = Served::start(
        dir,
        &[file, "--db", "data.db", "--addr", "127.0.0.1:0"],
        &[],
    )
    .unwrap_or_else(|output| panic!("flowc serve does not start again:\n{output}"));
    let port = served.addr.rsplit(':').next().unwrap().parse().unwrap();
    (served, port)
}

/// Webhook deliveries sent by several threads to a server that is killed and
/// restarted under them: each is sent, once released, until a `202` names its
/// run or its deadline passes.
pub struct Deliveries {
    /// The webhook path every delivery is posted to.
    path: &'static str,
    /// Each delivery's id (for messages) and JSON body.
    bodies: Vec<(String, String)>,
    /// How long a released delivery may go unacknowledged.
    deadline: Duration,
    /// The next delivery a sender takes.
    next: AtomicUsize,
    /// Deliveries below this index may be sent: a test releases them in
    /// batches, so every interval between two kills has new work in flight.
    pub released: AtomicUsize,
    /// Where the server listens now.
    pub addr: Arc<RwLock<String>>,
    /// The run id each delivery was acknowledged with.
    acknowledged: Mutex<Vec<Option<String>>>,
    /// Sends that got no `202` (refused, cut off by a kill, or another status).
    unacknowledged: AtomicUsize,
    /// Answers other than a `202` with a run id, as `{id}: {status} {body}`.
    other_answers: Mutex<Vec<String>>,
}

impl Deliveries {
    /// `bodies` (each delivery's id and body) to be posted to `path` on the
    /// server at `addr`, the first `released` of them at once.
    pub fn new(
        path: &'static str,
        bodies: Vec<(String, String)>,
        deadline: Duration,
        released: usize,
        addr: Arc<RwLock<String>>,
    ) -> Arc<Deliveries> {
        let count = bodies.len();
        Arc::new(Deliveries {
            path,
            bodies,
            deadline,
            next: AtomicUsize::new(0),
            released: AtomicUsize::new(released),
            addr,
            acknowledged: Mutex::new(vec![None; count]),
            unacknowledged: AtomicUsize::new(0),
            other_answers: Mutex::default(),
        })
    }

    /// `senders` threads taking deliveries until none are left.
    pub fn spawn(self: &Arc<Self>, senders: usize) -> Vec<std::thread::JoinHandle<()>> {
        (0..senders)
            .map(|_| {
                let deliveries = Arc::clone(self);
                std::thread::spawn(move || deliveries.work())
            })
            .collect()
    }

    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::SeqCst);
            let Some((id, body)) = self.bodies.get(i) else {
                return;
            };
            while i >= self.released.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(2));
            }
            // A delivery still unacknowledged at the deadline is reported by
            // `acknowledged`.
            let deadline = Instant::now() + self.deadline;
            while Instant::now() < deadline {
                let addr = self.addr.read().unwrap().clone();
                match send(&addr, "POST", self.path, &[], body) {
                    Ok((202, answer)) => {
                        let json: serde_json::Value =
                            serde_json::from_str(&answer).unwrap_or_default();
                        if let Some(run) = json["run_id"].as_str() {
                            self.acknowledged.lock().unwrap()[i] = Some(run.to_string());
                            break;
                        }
                        self.other_answers
                            .lock()
                            .unwrap()
                            .push(format!("{id}: 202 without a run id: {answer}"));
                    }
                    Ok((status, answer)) => self
                        .other_answers
                        .lock()
                        .unwrap()
                        .push(format!("{id}: {status} {answer}")),
                    Err(_) => {}
                }
                self.unacknowledged.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// How many deliveries have been acknowledged so far.
    pub fn count_acknowledged(&self) -> usize {
        self.acknowledged
            .lock()
            .unwrap()
            .iter()
            .filter(|run| run.is_some())
            .count()
    }

    /// The run id each delivery was acknowledged with, once the senders are
    /// done; fails naming a delivery that never was, with what `server` printed.
    pub fn acknowledged(&self, server: &Served) -> Vec<String> {
        self.acknowledged
            .lock()
            .unwrap()
            .iter()
            .zip(&self.bodies)
            .map(|(run, (id, _))| {
                run.clone().unwrap_or_else(|| {
                    panic!(
                        "delivery {id} was never acknowledged within {:?}; server output:\n{}",
                        self.deadline,
                        server.output()
                    )
                })
            })
            .collect()
    }

    /// How many sends got no `202`.
    pub fn unacknowledged(&self) -> usize {
        self.unacknowledged.load(Ordering::SeqCst)
    }

    /// The answers other than a `202` with a run id, as `{id}: {status} {body}`.
    pub fn other_answers(&self) -> Vec<String> {
        self.other_answers.lock().unwrap().clone()
    }
}

/// Stops `server` gracefully (it must exit cleanly), checks its database at
/// `db` passes `PRAGMA integrity_check`, and reads every run from it, oldest
/// first.
pub fn stop_and_read_runs(server: &mut Served, db: &Path) -> Vec<flowc_runtime::store::RunDetail> {
    let status = server.stop();
    assert!(
        status.success(),
        "flowc serve did not stop cleanly on SIGTERM ({status:?}):\n{}",
        server.output()
    );
    block_on(async {
        let store = flowc_runtime::store::sqlite::Options::new(db)
            .open()
            .unwrap();
        assert_eq!(
            store.integrity_check().await.unwrap(),
            ["ok"],
            "PRAGMA integrity_check"
        );
        let runs = all_runs(&store).await;
        store.close().await;
        runs
    })
}

/// Fails unless `run` (delivery `id`'s) succeeded, saying how it ended.
pub fn assert_succeeded(run: &flowc_runtime::store::Run, id: &str) {
    assert_eq!(
        run.status,
        flowc_runtime::store::RunStatus::Succeeded,
        "run {} ({id}) ended {} with {:?}",
        run.id,
        run.status.as_str(),
        run.error
    );
}

/// Fails if any of `requests` came without an `Idempotency-Key`.
pub fn assert_all_keyed(requests: &[Recorded]) {
    let unkeyed: Vec<String> = requests
        .iter()
        .filter(|request| request.header("idempotency-key").is_none())
        .map(|request| format!("{} {} {}", request.method, request.target, request.text()))
        .collect();
    assert!(
        unkeyed.is_empty(),
        "calls without an Idempotency-Key: {unkeyed:#?}"
    );
}

/// Checks that the calls of each effect (named by its description) were all
/// made under one `Idempotency-Key`, and that a repeated one came each time
/// from a later server generation (a process started after a kill); the
/// repeats, as `{key} ×{count} (server generations […])`.
pub fn repeats<'a>(effects: impl IntoIterator<Item = (String, &'a [&'a Recorded])>) -> Vec<String> {
    let mut repeats = Vec::new();
    for (effect, calls) in effects {
        let keys: Vec<&str> = calls
            .iter()
            .map(|call| call.header("idempotency-key").unwrap_or_default())
            .collect();
        assert!(
            keys.iter().all(|key| *key == keys[0]),
            "{effect} was made under several keys: {keys:?}"
        );
        if calls.len() > 1 {
            let epochs: Vec<u64> = calls.iter().map(|call| call.epoch).collect();
            assert!(
                epochs.windows(2).all(|pair| pair[0] < pair[1]),
                "{effect} (key {}) was repeated without a kill in between: server \
                 generations {epochs:?}",
                keys[0]
            );
            repeats.push(format!(
                "{} ×{} (server generations {epochs:?})",
                keys[0],
                calls.len()
            ));
        }
    }
    repeats
}
