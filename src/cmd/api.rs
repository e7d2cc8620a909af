//! A small client of a running server's admin API (`/api/v1`), for the commands
//! that talk to a server (`flowc deploy`, `runs`, `approve`, `emit`, `context`,
//! `webhooks`).
//!
//! The server is named by `--server URL`, else `FLOWC_SERVER`, else
//! `http://127.0.0.1:8080`, where `flowc serve` listens by default. The bearer
//! token comes from `--token-file FILE`, else `FLOWC_ADMIN_TOKEN`, else the file
//! `flowc.admin-token` in the current directory (which is where `flowc serve`
//! writes it for the default database). A token is never taken from the command
//! line: arguments are visible to every user of the machine and land in shell
//! histories.
//!
//! Every answer is JSON; an error answer is `{code, message, details}`. The client
//! sorts failures into the three kinds the commands report differently: the
//! client could not even ask (no token, a bad URL: exit 2), the server could not
//! be reached (exit 2, naming the URL), and the server said no (exit 1, its
//! message on one line).

use super::{Exit, error, help, io_message};
use anyhow::Context as _;
use flowc_runtime::server::token;
use flowc_runtime::vault::SecretString;
use serde_json::Value as Json;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Where `flowc serve` listens unless told otherwise.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";
/// The variable that names the server when `--server` is absent.
pub const SERVER_ENV: &str = "FLOWC_SERVER";
/// The token file read when neither `--token-file` nor `FLOWC_ADMIN_TOKEN` is given:
/// what `flowc serve` writes next to the default database `flowc.db`.
pub const DEFAULT_TOKEN_FILE: &str = "flowc.admin-token";

/// How long to wait for a connection, and for a whole answer. A deploy compiles
/// on the server, so the second is generous.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The options every command that talks to a server takes.
#[derive(clap::Args, Clone, Debug)]
pub struct Target {
    /// The server's base URL [default: $FLOWC_SERVER, else http://127.0.0.1:8080].
    #[arg(long, value_name = "URL")]
    server: Option<String>,

    /// A file holding the admin token [default: $FLOWC_ADMIN_TOKEN, else
    /// ./flowc.admin-token]. Tokens are never accepted as arguments.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
}

/// Why a request got no answer the command can use.
#[derive(Debug)]
pub enum Error {
    /// The request could not be made: no token, a malformed URL.
    Setup {
        message: String,
        help: Option<String>,
    },
    /// Nothing answered at the URL (refused, timed out, not HTTP).
    Unreachable { url: String, reason: String },
    /// The server answered with an error status.
    Api {
        status: u16,
        code: String,
        message: String,
        details: Json,
    },
    /// The server answered something that is not the admin API's JSON.
    Response { url: String, reason: String },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Setup { message, .. } => f.write_str(message),
            Error::Unreachable { url, reason } => {
                write!(f, "cannot reach the flowc server at {url}: {reason}")
            }
            Error::Api {
                status,
                code,
                message,
                ..
            } => write!(f, "{message} (HTTP {status}, {code})"),
            Error::Response { url, reason } => {
                write!(f, "unexpected answer from {url}: {reason}")
            }
        }
    }
}

impl Error {
    /// The exit status for this failure: the server's refusal is 1, anything that
    /// kept the question from being asked or answered is 2.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Api { .. } => Exit::Diagnostics,
            Error::Setup { .. } | Error::Unreachable { .. } | Error::Response { .. } => {
                Exit::Failure
            }
        }
    }

    /// Prints the failure as one `error:` line (and a `help:` line where there is
    /// something to do about it), and returns the exit status.
    pub fn report(&self) -> Exit {
        error(self);
        match self {
            Error::Setup {
                help: Some(text), ..
            } => help(text),
            Error::Api { status: 401, .. } => help(
                "the admin token does not match the server's: check FLOWC_ADMIN_TOKEN or \
                 --token-file (flowc serve keeps it next to its database: --db app.db → \
                 app.admin-token)",
            ),
            _ => {}
        }
        self.exit()
    }
}

/// A connection to one server's admin API.
pub struct Client {
    base: String,
    token: SecretString,
    http: reqwest::Client,
}

impl Client {
    /// The client `target` names; fails without asking anything when the URL is
    /// malformed or there is no token.
    pub fn new(target: &Target) -> Result<Client, Error> {
        let base = match &target.server {
            Some(url) => url.clone(),
            None => std::env::var(SERVER_ENV)
                .ok()
                .filter(|url| !url.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_SERVER.to_owned()),
        };
        let base = base.trim().trim_end_matches('/').to_owned();
        match reqwest::Url::parse(&base) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
            _ => {
                return Err(Error::Setup {
                    message: format!("invalid server URL `{base}`"),
                    help: Some(format!("write it as `{DEFAULT_SERVER}`")),
                });
            }
        }
        let token = admin_token(target)?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|err| Error::Setup {
                message: format!("cannot set up an HTTP client: {err}"),
                help: None,
            })?;
        Ok(Client { base, token, http })
    }

    /// The server's base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET /api/v1{path}`: the answer's JSON.
    pub async fn get(&self, path: &str) -> Result<Json, Error> {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// The items of a paged listing (`{KEY: [...], next}`): the first page, or
    /// every page when `all`, following `next` with `after=`. The filters go in the
    /// query as given. Returns the items and the last `next` (more to fetch when
    /// present).
    pub async fn pages(
        &self,
        path: &str,
        key: &str,
        filters: &[(&str, Option<String>)],
        all: bool,
    ) -> Result<(Vec<Json>, Option<String>), Error> {
        let mut items: Vec<Json> = Vec::new();
        let mut after: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        loop {
            let mut pairs = filters.to_vec();
            pairs.push(("after", after.clone()));
            let page = self.get(&format!("{path}{}", query(&pairs))).await?;
            if let Some(found) = page.get(key).and_then(Json::as_array) {
                items.extend(found.iter().cloned());
            }
            let next = page.get("next").and_then(Json::as_str).map(str::to_owned);
            match next {
                // A cursor seen before would loop forever: stop there.
                Some(cursor) if all && seen.insert(cursor.clone()) => after = Some(cursor),
                next => return Ok((items, next)),
            }
        }
    }

    /// `POST /api/v1{path}` with a JSON body (or none): the answer's JSON.
    pub async fn post(&self, path: &str, body: Option<&Json>) -> Result<Json, Error> {
        self.send(reqwest::Method::POST, path, body).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Json>,
    ) -> Result<Json, Error> {
        let url = format!("{}/api/v1{path}", self.base);
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(self.token.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|err| Error::Unreachable {
            url: self.base.clone(),
            reason: reason(&err),
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|err| Error::Unreachable {
            url: self.base.clone(),
            reason: reason(&err),
        })?;
        let json: Option<Json> = serde_json::from_str(&text).ok();
        if status.is_success() {
            return json.ok_or_else(|| Error::Response {
                url: url.clone(),
                reason: format!("HTTP {} with a body that is not JSON", status.as_u16()),
            });
        }
        let field = |name: &str| {
            json.as_ref()
                .and_then(|json| json.get(name))
                .and_then(Json::as_str)
                .map(str::to_owned)
        };
        match (field("code"), field("message")) {
            (Some(code), Some(message)) => Err(Error::Api {
                status: status.as_u16(),
                code,
                message,
                details: json
                    .as_ref()
                    .and_then(|json| json.get("details"))
                    .cloned()
                    .unwrap_or(Json::Null),
            }),
            _ => Err(Error::Response {
                url,
                reason: format!(
                    "HTTP {} without the admin API's error body; is this a flowc server?",
                    status.as_u16()
                ),
            }),
        }
    }
}

/// The admin token `target` points at. A token file must not be readable by the
/// group or others, as `flowc serve` keeps it; surrounding whitespace is ignored.
fn admin_token(target: &Target) -> Result<SecretString, Error> {
    let path = match &target.token_file {
        Some(path) => path.clone(),
        None => match std::env::var_os(token::ENV_VAR) {
            Some(value) => {
                let value = value.into_string().unwrap_or_default();
                let value = value.trim();
                if value.is_empty() {
                    return Err(Error::Setup {
                        message: format!("{} is set but empty or not UTF-8", token::ENV_VAR),
                        help: None,
                    });
                }
                return Ok(SecretString::new(value));
            }
            None => PathBuf::from(DEFAULT_TOKEN_FILE),
        },
    };
    let missing = |reason: String| Error::Setup {
        message: format!("no admin token: cannot read {}: {reason}", path.display()),
        help: Some(format!(
            "flowc serve writes the token next to its database, with the database's \
             extension replaced (--db app.db → app.admin-token); name it with \
             --token-file FILE or set {}",
            token::ENV_VAR
        )),
    };
    let text = std::fs::read_to_string(&path).map_err(|err| missing(io_message(&err)))?;
    let text = zeroize::Zeroizing::new(text);
    let value = text.trim();
    if value.is_empty() {
        return Err(missing("the file is empty".to_owned()));
    }
    Ok(SecretString::new(value))
}

/// The innermost cause of a transport error, which is the one that says what
/// happened (`Connection refused`), without the OS error number.
fn reason(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".to_owned();
    }
    let mut cause: &dyn std::error::Error = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    if let Some(io) = cause.downcast_ref::<std::io::Error>() {
        return io_message(io);
    }
    cause.to_string()
}

/// One request to the server `target` names (`GET`, `POST` or `PATCH
/// /api/v1{path}`), waited for: the answer's JSON, or the exit status once the
/// failure is reported ([`Error::report`]).
pub fn call(
    target: &Target,
    method: reqwest::Method,
    path: &str,
    body: Option<&Json>,
) -> anyhow::Result<Result<Json, Exit>> {
    let client = match Client::new(target) {
        Ok(client) => client,
        Err(err) => return Ok(Err(err.report())),
    };
    Ok(block_on(client.send(method, path, body))?.map_err(|err| err.report()))
}

/// Prints an answer as indented JSON, for `--json`.
pub fn print(answer: &Json) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(answer).context("cannot write JSON")?
    );
    Ok(())
}

/// Runs `future` on a small runtime of its own: the commands that use the client
/// are otherwise synchronous.
pub fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| anyhow::anyhow!("cannot start the async runtime: {err}"))?;
    Ok(runtime.block_on(future))
}

/// A path segment with the characters that would change the URL's meaning
/// escaped (run ids are ULIDs, but an id typed by hand may hold anything).
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `?name=value&…` from the pairs whose value is present, escaped.
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if let Some(value) = value {
            out.push(if out.is_empty() { '?' } else { '&' });
            out.push_str(name);
            out.push('=');
            out.push_str(&segment(value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_queries_escape_what_would_change_the_url() {
        assert_eq!(segment("01HX-a_b"), "01HX-a_b");
        assert_eq!(segment("a/b?c"), "a%2Fb%3Fc");
        assert_eq!(
            query(&[
                ("workflow", Some("order".into())),
                ("status", None),
                ("limit", Some("5".into()))
            ]),
            "?workflow=order&limit=5"
        );
        assert_eq!(query(&[("after", None)]), "");
    }
}
