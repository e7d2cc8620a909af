//! The secret-canary test: secrets never leak, end to end.
//!
//! Random canary values are put in the vault of a real `flowc serve` (bearer token,
//! basic user and password, an API key sent in a header and one sent in the query,
//! an OAuth 2 client secret) and one more is issued by a local OAuth 2 token
//! endpoint as the access token. Two hundred webhook deliveries start runs of five
//! workflows, one per auth form, against a downstream that echoes every request
//! header and the query string back, in the body and in response headers, with
//! 200, 400, 500 and 410: successes, `fail`s that quote the echo, and plain status
//! failures. Logs are on at `trace`, as JSON. Then the SQLite file with its `-wal`
//! and `-shm` files (raw bytes, while the server runs and after it stopped), the
//! logs and every admin API answer (runs listed and shown, deployments, workflows,
//! deliveries) are searched for every canary in every form it could travel in:
//! raw, JSON-escaped, base64 (standard and URL-safe, padded or not, and the runs
//! of base64 characters that carry the value inside a longer encoded text, such
//! as `Authorization: Basic` of `user:password`), URL-encoded (both hex cases,
//! form encoding) and hex (both cases). Zero hits, and the scrubbed echoes are in
//! the journal (`***` where the secrets were), which proves the echo happened and
//! the second net caught it.

#![allow(clippy::unwrap_used)]
#![allow(
    clippy::disallowed_methods,
    reason = "polling loops are bounded by a wall-clock deadline; nothing asserts on time"
)]

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Value as Json, json};
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::Served;

const RUNS: usize = 200;

/// The canaries, each in the vault under `name` except the issued access token.
struct Canaries {
    bearer: String,
    user: String,
    password: String,
    header_key: String,
    query_key: String,
    client_secret: String,
    access_token: String,
}

impl Canaries {
    /// Fresh random values with characters that encode differently in every
    /// form (`/`, `+`, `=`, `~`, `*`, `.`), so each form is a distinct text.
    fn random() -> Canaries {
        Canaries {
            bearer: format!("cb-{}/+=.x", random_hex()),
            user: format!("cu-{}~*", random_hex()),
            password: format!("cp-{}+/~", random_hex()),
            header_key: format!("ch-{}=.", random_hex()),
            query_key: format!("cq-{}/+~*=", random_hex()),
            client_secret: format!("cs-{}*+", random_hex()),
            access_token: format!("ca-{}/=", random_hex()),
        }
    }

    fn all(&self) -> [(&'static str, &str); 7] {
        [
            ("bearer token", &self.bearer),
            ("basic user", &self.user),
            ("basic password", &self.password),
            ("API key in a header", &self.header_key),
            ("API key in the query", &self.query_key),
            ("OAuth 2 client secret", &self.client_secret),
            ("OAuth 2 access token", &self.access_token),
        ]
    }

    /// Every text to search for, with what it is.
    fn needles(&self) -> Vec<(String, Vec<u8>)> {
        let mut needles = Vec::new();
        for (what, value) in self.all() {
            for (form, text) in forms(value.as_bytes()) {
                needles.push((format!("{what} ({form})"), text));
            }
        }
        let pair = format!("{}:{}", self.user, self.password);
        for (form, text) in forms(pair.as_bytes()) {
            needles.push((format!("basic user:password ({form})"), text));
        }
        needles.sort();
        needles.dedup_by(|a, b| a.1 == b.1);
        needles
    }
}

fn random_hex() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The forms a value travels in, each with a name.
fn forms(value: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut forms = vec![
        ("raw", value.to_vec()),
        ("base64", STANDARD.encode(value).into_bytes()),
        (
            "base64, no padding",
            STANDARD_NO_PAD.encode(value).into_bytes(),
        ),
        ("URL-safe base64", URL_SAFE.encode(value).into_bytes()),
        (
            "URL-safe base64, no padding",
            URL_SAFE_NO_PAD.encode(value).into_bytes(),
        ),
        ("URL-encoded", percent(value, false).into_bytes()),
        ("URL-encoded, lower case", percent(value, true).into_bytes()),
        (
            "form-encoded",
            form_urlencoded::byte_serialize(value)
                .collect::<String>()
                .into_bytes(),
        ),
        ("hex", hex(value, false).into_bytes()),
        ("HEX", hex(value, true).into_bytes()),
    ];
    // Inside a longer base64 text the value starts at one of three alignments;
    // the characters that carry only its bits are the same whatever surrounds it.
    for shift in 0..3usize {
        let mut shifted = vec![0u8; shift];
        shifted.extend_from_slice(value);
        let first = (8 * shift).div_ceil(6);
        let end = 8 * shifted.len() / 6;
        for (name, engine) in [
            ("base64 inside a longer text", STANDARD_NO_PAD),
            ("URL-safe base64 inside a longer text", URL_SAFE_NO_PAD),
        ] {
            let encoded = engine.encode(&shifted);
            forms.push((name, encoded.as_bytes()[first..end].to_vec()));
        }
    }
    forms
}

fn percent(value: &[u8], lower: bool) -> String {
    value
        .iter()
        .map(|&byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            _ if lower => format!("%{byte:02x}"),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn hex(value: &[u8], upper: bool) -> String {
    value
        .iter()
        .map(|byte| {
            if upper {
                format!("{byte:02X}")
            } else {
                format!("{byte:02x}")
            }
        })
        .collect()
}

/// The needles found in `haystack`, by name.
fn hits(needles: &[(String, Vec<u8>)], haystack: &[u8]) -> Vec<String> {
    needles
        .iter()
        .filter(|(_, needle)| {
            haystack
                .windows(needle.len())
                .any(|window| window == needle)
        })
        .map(|(name, _)| name.clone())
        .collect()
}

// ---------------------------------------------------------------- the downstream

/// One request the echo server received.
#[derive(Clone, Debug)]
struct Seen {
    target: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// The downstream: `POST /oauth/token` issues the access-token canary; any other
/// request is echoed (method, path and query, every header) in the body and in
/// `X-Echo-*` response headers, with the status its path names
/// (`/echo/ok` 200, `/echo/bad` 400, `/echo/boom` 500, `/echo/gone` 410).
struct Echo {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Echo {
    fn start(access_token: String) -> Echo {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let record = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let record = Arc::clone(&record);
                let token = access_token.clone();
                std::thread::spawn(move || answer(stream, &token, &record));
            }
        });
        Echo { base, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn answer(mut stream: TcpStream, access_token: &str, seen: &Mutex<Vec<Seen>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Some((head, _body)) = support::read_message(&mut stream) else {
        return;
    };
    let mut lines = head.lines();
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("").to_string();
    let target = request_line.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect();
    seen.lock().unwrap().push(Seen {
        target: target.clone(),
        headers: headers.clone(),
    });
    let path = target.split('?').next().unwrap_or("");
    let query = target.split_once('?').map_or("", |(_, query)| query);
    let (status, body) = if path == "/oauth/token" {
        let body =
            json!({ "access_token": access_token, "token_type": "bearer", "expires_in": 3600 });
        (200, body)
    } else {
        let status = match path {
            "/echo/bad" => 400,
            "/echo/boom" => 500,
            "/echo/gone" => 410,
            _ => 200,
        };
        let echoed: serde_json::Map<String, Json> = headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), json!(value)))
            .collect();
        let body = json!({
            "echo": { "method": method, "target": target, "query": query, "headers": echoed },
            "error": format!("refused request with headers {headers:?} and query {query}"),
        });
        (status, body)
    };
    let body = body.to_string();
    let mut extra = String::new();
    for (name, value) in &headers {
        if name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("x-api-key") {
            extra.push_str(&format!("X-Echo-{name}: {value}\r\n"));
        }
    }
    if !query.is_empty() {
        extra.push_str(&format!("X-Echo-Query: {query}\r\n"));
    }
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         {extra}Connection: close\r\n\r\n{body}",
        body.len()
    );
}

// ---------------------------------------------------------------- the program

const PROGRAM: &str = r#"
type Input = { n: int, mode: string }

connection bearer_api {
  base_url: "BASE"
  auth: bearer { token: secrets.canary_bearer }
}

connection basic_api {
  base_url: "BASE"
  auth: basic { username: secrets.canary_user, password: secrets.canary_password }
}

connection header_key_api {
  base_url: "BASE"
  auth: api_key { header: "X-Api-Key", value: secrets.canary_header_key }
}

connection query_key_api {
  base_url: "BASE"
  auth: api_key { query: "api_key", value: secrets.canary_query_key }
}

connection oauth_api {
  base_url: "BASE"
  auth: oauth2_client_credentials {
    token_url: "BASE/oauth/token", client_id: "canary-client", client_secret: secrets.canary_client_secret
  }
}

workflow bearer(input: Input) -> json {
  on webhook POST "/canary/bearer"
  step reply = http POST bearer_api "/echo/${input.mode}" {
    query: { n: input.n }
    json: { n: input.n }
    headers: { "X-Second-Copy": secrets.canary_bearer }
    expect: [200, 400, 500]
  }
  if reply.status >= 400 {
    fail "downstream answered ${reply.status}: ${to_json(reply.body)} ${to_json(reply.headers)}"
  }
  return reply
}

workflow basic(input: Input) -> json {
  on webhook POST "/canary/basic"
  step reply = http POST basic_api "/echo/${input.mode}" {
    query: { n: input.n }
    expect: [200, 400, 500]
  }
  if reply.status >= 400 {
    fail "downstream answered ${reply.status}: ${to_json(reply.body)} ${to_json(reply.headers)}"
  }
  return reply
}

workflow header_key(input: Input) -> json {
  on webhook POST "/canary/header_key"
  step reply = http GET header_key_api "/echo/${input.mode}" {
    query: { n: input.n }
    expect: [200, 400, 500]
  }
  if reply.status >= 400 {
    fail "downstream answered ${reply.status}: ${to_json(reply.body)} ${to_json(reply.headers)}"
  }
  return reply
}

workflow query_key(input: Input) -> json {
  on webhook POST "/canary/query_key"
  step reply = http GET query_key_api "/echo/${input.mode}" {
    query: { n: input.n }
    expect: [200, 400, 500]
  }
  if reply.status >= 400 {
    fail "downstream answered ${reply.status}: ${to_json(reply.body)} ${to_json(reply.headers)}"
  }
  return reply
}

workflow oauth(input: Input) -> json {
  on webhook POST "/canary/oauth"
  step reply = http POST oauth_api "/echo/${input.mode}" {
    query: { n: input.n }
    expect: [200, 400, 500]
  }
  if reply.status >= 400 {
    fail "downstream answered ${reply.status}: ${to_json(reply.body)} ${to_json(reply.headers)}"
  }
  return reply
}
"#;

const WORKFLOWS: [&str; 5] = ["bearer", "basic", "header_key", "query_key", "oauth"];
const MODES: [&str; 4] = ["ok", "bad", "boom", "gone"];

/// The database's files as they are on disk right now, raw.
fn database_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    ["data.db", "data.db-wal", "data.db-shm"]
        .iter()
        .filter_map(|name| {
            std::fs::read(dir.join(name))
                .ok()
                .map(|bytes| (name.to_string(), bytes))
        })
        .collect()
}

/// Every page of a listing (`{…, next}`) on the admin API: path and body each.
fn pages(server: &Served, token: &str, path: &str) -> Vec<(String, String)> {
    let mut answers = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page_path = match &next {
            Some(after) => format!("{path}?limit=50&after={after}"),
            None => format!("{path}?limit=50"),
        };
        let (status, body) = admin_get(server, token, &page_path);
        assert_eq!(status, 200, "{page_path}: {body}");
        let page: Json = serde_json::from_str(&body).unwrap();
        answers.push((page_path, body));
        match page["next"].as_str() {
            Some(after) => next = Some(after.to_string()),
            None => return answers,
        }
    }
}

/// `GET path` on the admin API with the server's token: the status and body.
fn admin_get(server: &Served, token: &str, path: &str) -> (u16, String) {
    support::send(
        &server.addr,
        "GET",
        path,
        &[("Authorization", &format!("Bearer {token}"))],
        "",
    )
    .unwrap_or_else(|error| panic!("GET {path}: {error}"))
}

#[test]
fn no_canary_reaches_the_database_the_logs_or_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let canaries = Canaries::random();
    let echo = Echo::start(canaries.access_token.clone());
    for (name, value) in [
        ("canary_bearer", &canaries.bearer),
        ("canary_user", &canaries.user),
        ("canary_password", &canaries.password),
        ("canary_header_key", &canaries.header_key),
        ("canary_query_key", &canaries.query_key),
        ("canary_client_secret", &canaries.client_secret),
    ] {
        let done = support::run_with_stdin(
            dir.path(),
            &["secrets", "set", name, "--db", "data.db"],
            value,
        );
        assert_eq!(done.code, Some(0), "{done}");
        assert!(!done.stdout.contains(value.as_str()), "{done}");
    }
    support::write(
        dir.path(),
        "canary.flow",
        &PROGRAM.replace("BASE", &echo.base),
    );
    let mut server = Served::start(
        dir.path(),
        &[
            "canary.flow",
            "--db",
            "data.db",
            "--addr",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ],
        &[("FLOWC_LOG", "trace")],
    )
    .unwrap_or_else(|output| panic!("flowc serve did not start:\n{output}"));

    let mut run_ids = Vec::new();
    for n in 0..RUNS {
        let workflow = WORKFLOWS[n % WORKFLOWS.len()];
        let mode = MODES[(n / WORKFLOWS.len()) % MODES.len()];
        let body = json!({ "n": n, "mode": mode }).to_string();
        let answer = support::post(&server.addr, &format!("/canary/{workflow}"), &[], &body);
        run_ids.push((support::run_id(answer), workflow, mode));
    }
    support::wait_for_runs_to_end(
        &dir.path().join("data.db"),
        Duration::from_secs(120),
        &server,
    );

    // The secrets really went out: the downstream saw every canary.
    let seen = echo.seen();
    let sent = |check: &dyn Fn(&Seen) -> bool| seen.iter().any(check);
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", canaries.user, canaries.password))
    );
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("api_key", &canaries.query_key)
        .finish();
    assert!(sent(
        &|s| s.header("authorization") == Some(&format!("Bearer {}", canaries.bearer))
    ));
    assert!(sent(&|s| s.header("authorization") == Some(basic.as_str())));
    assert!(sent(
        &|s| s.header("x-api-key") == Some(canaries.header_key.as_str())
    ));
    assert!(sent(&|s| s.target.contains(&query)), "{query}");
    assert!(sent(
        &|s| s.target == "/oauth/token" && s.header("authorization").is_some()
    ));
    assert!(sent(
        &|s| s.header("authorization") == Some(&format!("Bearer {}", canaries.access_token))
    ));

    let needles = canaries.needles();
    let token = std::fs::read_to_string(dir.path().join("data.admin-token")).unwrap();
    let token = token.trim();

    // Every admin API answer: runs and deliveries listed (every page), runs
    // shown, deployments, workflows.
    let mut answers = pages(&server, token, "/api/v1/runs");
    answers.extend(pages(&server, token, "/api/v1/webhooks/deliveries"));
    let mut shown = Vec::new();
    for (run_id, workflow, mode) in &run_ids {
        let path = format!("/api/v1/runs/{run_id}");
        let (status, body) = admin_get(&server, token, &path);
        assert_eq!(status, 200, "{path}: {body}");
        shown.push((
            *workflow,
            *mode,
            serde_json::from_str::<Json>(&body).unwrap(),
        ));
        answers.push((path, body));
    }
    for path in ["/api/v1/deployments", "/api/v1/workflows"] {
        let (status, body) = admin_get(&server, token, path);
        assert_eq!(status, 200, "{path}: {body}");
        answers.push((path.to_string(), body));
    }
    for (path, body) in &answers {
        let found = hits(&needles, body.as_bytes());
        assert!(found.is_empty(), "GET {path} shows {found:?}:\n{body}");
    }

    // The echoes were journaled, scrubbed: every run that succeeded or failed
    // quoting the downstream shows `***` where its secret was.
    let mut scrubbed = 0;
    for (workflow, mode, run) in &shown {
        // The echo is an object in an output and quoted JSON in a `fail` message.
        let text = run.to_string().replace("\\\"", "\"");
        if *mode == "gone" {
            assert_eq!(run["run"]["error"]["code"], "R0105", "{text}");
            continue;
        }
        let expected = match *workflow {
            "bearer" | "oauth" => "\"authorization\":\"Bearer ***\"",
            "header_key" => "\"x-api-key\":\"***\"",
            "query_key" => "api_key=***",
            // The characters that carry `user:` stay, and up to two at the end,
            // which also carry the neighbouring bytes (see `vault::Scrubber`).
            "basic" => {
                let prefix = "\"authorization\":\"Basic ";
                let at = text.find(prefix).unwrap_or_else(|| {
                    panic!("{workflow}/{mode}: no basic authorization echoed in {text}")
                });
                let rest = &text[at + prefix.len()..];
                let value = &rest[..rest.find('"').unwrap_or(rest.len())];
                assert!(value.contains("***"), "{workflow}/{mode}: Basic {value}");
                "***"
            }
            _ => unreachable!(),
        };
        assert!(
            text.contains(expected),
            "{workflow}/{mode}: no {expected:?} in {text}"
        );
        scrubbed += 1;
    }
    assert_eq!(scrubbed, RUNS * 3 / 4);

    // The database, raw, while the server runs (WAL and shared memory included).
    for (file, bytes) in database_bytes(dir.path()) {
        let found = hits(&needles, &bytes);
        assert!(found.is_empty(), "{file} holds {found:?}");
    }

    let status = server.stop();
    assert!(status.success(), "{}", server.output());
    for (file, bytes) in database_bytes(dir.path()) {
        let found = hits(&needles, &bytes);
        assert!(found.is_empty(), "{file} holds {found:?} after the stop");
    }

    // The logs, at trace level, JSON: they are there, and clean.
    let output = server.output();
    assert!(
        output
            .lines()
            .filter(|line| line.contains("\"run_id\""))
            .count()
            >= RUNS,
        "too few log lines with run ids:\n{output}"
    );
    assert!(
        output.contains("\"level\":\"TRACE\""),
        "no trace-level line in the logs"
    );
    let found = hits(&needles, output.as_bytes());
    assert!(found.is_empty(), "the logs show {found:?}:\n{output}");
}
