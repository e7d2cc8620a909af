//! Real parts for the end-to-end tests of the operator commands (`flowc run`,
//! `runs`, `deploy`, `secrets`): the binary in a temp directory, a downstream
//! HTTP server on loopback that records every request and answers by path, plain
//! TCP requests, and `flowc serve` started on a free port with its admin token.

#![allow(dead_code, clippy::unwrap_used)]
#![allow(
    clippy::disallowed_methods,
    reason = "polling loops are bounded by a wall-clock deadline; nothing asserts on time"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `flowc ARGS…` in `dir`, without the environment's keys, token or server.
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
    Done::from(flowc(dir, args).output().unwrap())
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

/// One request the downstream server received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub body: String,
}

/// A downstream API on loopback: `answer(path)` gives the status and JSON body of
/// each answer (it may sleep, to make a step slow); every request is recorded
/// when it arrives.
pub struct Downstream {
    pub base: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Downstream {
    pub fn start(answer: fn(&str) -> (u16, String)) -> Downstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let recorded = Arc::clone(&recorded);
                // A thread per connection, so a slow answer delays no other.
                std::thread::spawn(move || {
                    let (head, body) = read_message(&mut stream);
                    let mut words = head.split_whitespace();
                    let (Some(method), Some(path)) = (words.next(), words.next()) else {
                        return;
                    };
                    let (method, path) = (method.to_string(), path.to_string());
                    recorded.lock().unwrap().push(Recorded {
                        method,
                        path: path.clone(),
                        body,
                    });
                    let (status, answer_body) = answer(&path);
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{answer_body}",
                        answer_body.len()
                    );
                });
            }
        });
        Downstream { base, requests }
    }

    pub fn bodies(&self, path: &str) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|request| request.path == path)
            .map(|request| request.body.clone())
            .collect()
    }
}

/// Reads one HTTP/1.1 message with a `Content-Length` body: (head, body).
pub fn read_message(stream: &mut TcpStream) -> (String, String) {
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

/// Sends one JSON request and returns the status and the body.
pub fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
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

/// `flowc serve` on a free loopback port with `data.db` in `dir`; killed when
/// dropped.
pub struct Serve {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// What it printed up to the webhook URLs.
    pub printed: String,
}

impl Serve {
    /// Starts the server on `files` and waits until it prints where it listens
    /// and, when the program has webhooks, the first of them.
    pub fn start(dir: &Path, files: &[&str]) -> Serve {
        let mut args = vec!["serve"];
        args.extend_from_slice(files);
        args.extend_from_slice(&["--db", "data.db", "--addr", "127.0.0.1:0"]);
        let mut child = flowc(dir, &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut printed = String::new();
        let mut addr = None;
        loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap() == 0 {
                let _ = child.kill();
                panic!("flowc serve exited early: {printed}");
            }
            printed.push_str(&line);
            if let Some(rest) = line.trim().strip_prefix("listening on http://") {
                addr = Some(rest.to_string());
                if files.is_empty() {
                    break;
                }
            } else if addr.is_some() && line.contains(" → ") {
                break;
            }
        }
        // Keep draining standard output so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = stdout.read_to_string(&mut sink);
        });
        Serve {
            child,
            addr: addr.unwrap(),
            printed,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path of the admin token `flowc serve` wrote for `data.db` in `dir`.
pub fn token_file(dir: &Path) -> PathBuf {
    dir.join("data.admin-token")
}

/// Polls `done` until it holds, for at most 20 s.
pub fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A loopback address nothing listens on (a port bound and released).
pub fn dead_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
