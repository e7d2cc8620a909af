//! End-to-end tests of `flowc serve`: the real binary on a free loopback port
//! with a temp database, a webhook fired over TCP, the run's HTTP step received
//! by a recording server, the run read back from the database after a graceful
//! stop; and a program with errors deploying nothing.

#![allow(clippy::unwrap_used)]
// The polling loops below are bounded by a wall-clock deadline; nothing asserts
// on time.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn flowc(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowc"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("FLOWC_MASTER_KEY")
        .env_remove("FLOWC_ADMIN_TOKEN")
        .stdin(Stdio::null());
    command
}

/// A downstream API on loopback that answers 200 `{}` and records each body.
fn recorder() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let bodies: Arc<Mutex<Vec<String>>> = Arc::default();
    let recorded = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (head, body) = read_message(&mut stream);
            if head.is_empty() {
                continue;
            }
            recorded.lock().unwrap().push(body);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            );
        }
    });
    (base, bodies)
}

/// Reads one HTTP/1.1 message with a `Content-Length` body: (head, body).
fn read_message(stream: &mut TcpStream) -> (String, String) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..at]).into_owned();
            let length: usize = head
                .lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, value)| value.trim().parse().ok())
                .unwrap_or(0);
            let mut body = buffer[at + 4..].to_vec();
            while body.len() < length {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => body.extend_from_slice(&chunk[..n]),
                }
            }
            return (head, String::from_utf8_lossy(&body).into_owned());
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return (String::new(), String::new()),
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Sends one request and returns the status and the body.
fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let (head, body) = read_message(&mut stream);
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body)
}

/// Kills the server if a test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const PROGRAM: &str = r#"
workflow order(order: { id: string, amount: int }) -> { ok: bool } {
  on webhook POST "/orders" {
    idempotency_key: order.id
  }
  step notify = http POST "BASE/notify" { json: { id: order.id } }
  return { ok: notify.status == 200 }
}
"#;

#[test]
fn serve_deploys_prints_the_webhooks_runs_a_delivery_and_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let (base, bodies) = recorder();
    std::fs::write(dir.path().join("app.flow"), PROGRAM.replace("BASE", &base)).unwrap();
    let child = flowc(
        dir.path(),
        &[
            "serve",
            "app.flow",
            "--db",
            "data.db",
            "--addr",
            "127.0.0.1:0",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut server = Running(child);
    let mut stdout = BufReader::new(server.0.stdout.take().unwrap());

    // Read the start-up lines up to the first webhook URL.
    let mut printed = String::new();
    let mut addr = None;
    let mut webhook_line = None;
    while webhook_line.is_none() {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "exited early: {printed}"
        );
        if let Some(rest) = line.trim().strip_prefix("listening on http://") {
            addr = Some(rest.to_string());
        } else if line.contains("/orders") {
            webhook_line = Some(line.clone());
        }
        printed.push_str(&line);
    }
    let addr = addr.unwrap();
    assert!(
        printed.contains("deployed version 1 (hash sha256:"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!(
            "admin token: in {}",
            Path::new("data.admin-token").display()
        )),
        "{printed}"
    );
    assert!(
        webhook_line
            .unwrap()
            .contains(&format!("POST   http://{addr}/orders  → order")),
        "{printed}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for file in ["data.admin-token", "data.key"] {
            let mode = std::fs::metadata(dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }

    let (status, body) = request(&addr, "POST", "/orders", r#"{"id": "o-7", "amount": 3}"#);
    assert_eq!(status, 202, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let run = json["run_id"].as_str().unwrap().to_string();
    let (status, again) = request(&addr, "POST", "/orders", r#"{"id": "o-7", "amount": 3}"#);
    assert_eq!((status, &again), (202, &body), "the same run again");

    let (status, missing) = request(&addr, "POST", "/nope", "{}");
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&missing).unwrap()["code"],
        "not_found"
    );
    let (status, _) = request(&addr, "POST", "/orders", r#"{"id": 7}"#);
    assert_eq!(status, 422);

    let deadline = Instant::now() + Duration::from_secs(20);
    while bodies.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the run's step never arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(*bodies.lock().unwrap(), [r#"{"id":"o-7"}"#]);

    // Wait for the run to be stored as finished, then stop the server.
    let db = dir.path().join("data.db");
    let finished = wait_for_run(&db, &run);
    assert_eq!(finished, "succeeded");

    let status = Command::new("kill")
        .args(["-INT", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.0.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("stopped"), "{rest}");
    assert_eq!(bodies.lock().unwrap().len(), 1, "one delivery, one effect");
}

/// The run's status once it has ended, read through the store (bounded wait).
fn wait_for_run(db: &Path, run: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = flowc_runtime::store::sqlite::Options::new(db)
            .open()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            use flowc_runtime::store::Store as _;
            let detail = store.get_run(run).await.unwrap().unwrap();
            if detail.run.status.is_terminal() {
                assert_eq!(detail.run.output, Some(serde_json::json!({ "ok": true })));
                return detail.run.status.as_str().to_string();
            }
            assert!(Instant::now() < deadline, "run {run} did not end");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
}

#[test]
fn a_program_with_errors_deploys_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.flow"),
        "workflow w(x: { id: string }) {\n  on webhook POST \"/w\"\n  let y: int = \"no\"\n}\n",
    )
    .unwrap();
    let output = flowc(dir.path(), &["serve", "bad.flow", "--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("] Error:"), "{stderr}");
    assert!(stderr.contains("nothing deployed"), "{stderr}");
    assert!(!dir.path().join("flowc.db").exists());
}
