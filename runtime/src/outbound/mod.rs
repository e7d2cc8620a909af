//! Outbound HTTP: what an `http` step does on the wire.
//!
//! The engine resolves a step's options from the IR into a [`Request`] (see
//! [`step::request`] for that conversion from evaluated values) and hands it to a
//! [`Client`], which owns everything that outlives one call: the reqwest
//! connection pool (rustls, no proxy, no redirects), the per-connection circuit
//! [`breaker`]s, the OAuth 2 token cache, and the [`egress`] guard every address
//! passes before a connection opens (only `http` and `https` URLs are sent; the
//! OAuth 2 token endpoints go through the same client and the same guard).
//! [`Client::send`] runs the attempts:
//!
//! - each attempt carries `Idempotency-Key: {run_id}/{step_path}`, the same on
//!   every attempt, so the downstream can deduplicate retries and the one repeat a
//!   crash can cause (DESIGN.md, "effects are at-least-once, made effectively-once");
//! - connection errors, timeouts, 5xx and 429 are retried up to the [`Retry`]
//!   policy's attempts, with full-jitter exponential backoff or the server's
//!   `Retry-After` (429 and 503); other 4xx never are;
//! - the breaker of the request's connection is asked before every attempt and told
//!   the outcome; while open, the call fails fast with `R0106`;
//! - an OAuth 2 request that answers 401 gets a fresh token and is sent once more;
//! - the response body is read up to [`Options::max_response_bytes`] and, when the
//!   step declares a type, converted to a [`Value`] of that type or rejected with
//!   the path of the first mismatch.
//!
//! All waiting goes through the runtime's [`Clock`], so tests advance a
//! `TestClock` instead of sleeping; jitter comes from an injectable [`Rng`].
//! Failures are one [`Error`] enum with stable `R01xx` codes (table in [`error`]).

pub mod auth;
pub mod breaker;
pub mod egress;
pub mod error;
pub mod retry;
pub mod step;

pub use crate::vault::SecretString;
pub use auth::{Auth, Grant, KeyPlace, OAuth2};
pub use breaker::{Breaker, BreakerConfig, State as BreakerState};
pub use egress::{Allow, AllowAll, Egress, Net, PrivateNetworkGuard};
pub use error::Error;
pub use reqwest::Method;
pub use retry::{Retry, Rng, SystemRng};

use crate::clock::{Clock, Millis};
use crate::vault::Redactor;
use auth::{TokenResponse, Tokens};
use base64::Engine as _;
use error::{is_retryable_status, redact_url};
use flowc_compiler::ty::{Ty, TypeTable};
use flowc_compiler::value::Value;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One HTTP step's call, with everything resolved: no expressions, no secret names.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    /// The full URL (a connection's base URL already joined with the step's path).
    pub url: String,
    pub headers: Vec<(String, HeaderValue)>,
    /// Appended to the URL's own query.
    pub query: Vec<(String, String)>,
    pub body: Body,
    /// The whole call, connect to last body byte, per attempt; `None` takes
    /// [`Options::default_timeout`].
    pub timeout: Option<Duration>,
    pub auth: Auth,
    pub retry: Retry,
    /// The connection the call belongs to: its breaker is shared by every step
    /// that uses it.
    pub connection: Option<String>,
    pub breaker: Option<BreakerConfig>,
    /// Sent as `Idempotency-Key` on every attempt.
    pub idempotency_key: Option<String>,
    /// Statuses that count as success; empty means any 2xx.
    pub expect: Vec<u16>,
    /// The type the response body must have.
    pub response_type: Option<Expected>,
}

impl Request {
    /// A request with no headers, body, auth, retry or breaker.
    pub fn new(method: Method, url: impl Into<String>) -> Request {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            query: Vec::new(),
            body: Body::Empty,
            timeout: None,
            auth: Auth::None,
            retry: Retry::NONE,
            connection: None,
            breaker: None,
            idempotency_key: None,
            expect: Vec::new(),
            response_type: None,
        }
    }

    /// Sets `Idempotency-Key` to `{run_id}/{step_path}`.
    pub fn idempotency(mut self, run_id: &str, step_path: &str) -> Request {
        self.idempotency_key = Some(format!("{run_id}/{step_path}"));
        self
    }
}

#[derive(Clone, Debug)]
pub enum HeaderValue {
    Text(String),
    Secret(SecretString),
}

#[derive(Clone, Debug, Default)]
pub enum Body {
    #[default]
    Empty,
    /// Sent as `application/json`.
    Json(serde_json::Value),
    Bytes {
        content_type: Option<String>,
        bytes: Vec<u8>,
    },
}

/// The declared response type and the program's named types it may refer to.
#[derive(Clone, Debug)]
pub struct Expected {
    pub ty: Ty,
    pub types: Arc<TypeTable>,
}

#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// Names lower case, in the order received; values not valid UTF-8 are
    /// converted lossily.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body converted to the expected type, when the request named one.
    pub value: Option<Value>,
    /// Attempts made, the successful one included.
    pub attempts: u32,
}

impl Response {
    /// The body as untyped JSON (`null` when empty).
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&self.body)
    }
}

/// Limits and defaults that hold for every call.
#[derive(Clone, Debug)]
pub struct Options {
    pub max_request_bytes: usize,
    pub max_response_bytes: usize,
    pub default_timeout: Duration,
    pub connect_timeout: Duration,
    /// Timeout of a call to an OAuth 2 token endpoint.
    pub token_timeout: Duration,
    /// A token is refreshed this long before it expires.
    pub token_skew: Duration,
    /// The longest `Retry-After` (of a 429 or 503 answer) the client sleeps for
    /// before its next attempt. A longer one is not waited for: the call ends at
    /// once with `R0105`, whatever attempts remain, the wait kept in the error's
    /// `retry_after_ms`, and the step fails. No run is parked for it.
    pub max_retry_after: Duration,
    pub user_agent: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_request_bytes: 10 << 20,
            max_response_bytes: 10 << 20,
            default_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            token_timeout: Duration::from_secs(30),
            token_skew: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
            user_agent: concat!("flowc/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// Builds a [`Client`]: the clock is required; randomness and the egress guard
/// default to the system's and to [`AllowAll`]. The default guard is the
/// embedder's choice, not a policy: `flowc serve` and `flowc run` always set one
/// ([`PrivateNetworkGuard`] unless told otherwise), and tests against loopback
/// servers rely on the default.
pub struct Builder {
    options: Options,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Rng>,
    egress: Arc<dyn Egress>,
    redactor: Redactor,
}

impl Builder {
    pub fn options(mut self, options: Options) -> Builder {
        self.options = options;
        self
    }

    pub fn rng(mut self, rng: Arc<dyn Rng>) -> Builder {
        self.rng = rng;
        self
    }

    pub fn egress(mut self, egress: Arc<dyn Egress>) -> Builder {
        self.egress = egress;
        self
    }

    /// The runtime-wide redactor, taught every OAuth 2 access token as it is
    /// issued; by default one of the client's own.
    pub fn redactor(mut self, redactor: Redactor) -> Builder {
        self.redactor = redactor;
        self
    }

    pub fn build(self) -> Result<Client, Error> {
        let resolver = Arc::new(egress::GuardedResolver {
            egress: Arc::clone(&self.egress),
        });
        let http = reqwest::Client::builder()
            .dns_resolver(resolver)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.options.connect_timeout)
            .user_agent(self.options.user_agent.clone())
            .build()
            .map_err(|error| Error::Invalid {
                reason: format!("cannot build the HTTP client: {error}"),
            })?;
        Ok(Client {
            http,
            clock: self.clock,
            rng: self.rng,
            egress: self.egress,
            options: self.options,
            breakers: Mutex::new(HashMap::new()),
            tokens: Tokens::default(),
            redactor: self.redactor,
        })
    }
}

/// The outbound client: one per runtime, shared by every run.
pub struct Client {
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Rng>,
    egress: Arc<dyn Egress>,
    options: Options,
    breakers: Mutex<HashMap<String, Arc<Breaker>>>,
    tokens: Tokens,
    redactor: Redactor,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// What one attempt gave, before the retry loop judges it.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    /// Read only for statuses that count as success.
    body: Option<Vec<u8>>,
}

/// A request turned into what every attempt sends.
struct Prepared {
    url: reqwest::Url,
    body: Option<(Option<String>, Vec<u8>)>,
    timeout: Duration,
}

impl Client {
    pub fn builder(clock: Arc<dyn Clock>) -> Builder {
        Builder {
            options: Options::default(),
            clock,
            rng: Arc::new(SystemRng),
            egress: Arc::new(AllowAll),
            redactor: Redactor::default(),
        }
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The redactor that learns the access tokens this client is issued.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The state of a connection's breaker, if a call has created it.
    pub fn breaker_state(&self, connection: &str) -> Option<BreakerState> {
        let breakers = self.breakers.lock().ok()?;
        breakers.get(connection).map(|breaker| breaker.state())
    }

    /// Sends `request` with its retry policy, breaker and auth; see the module
    /// documentation for the rules.
    pub async fn send(&self, request: &Request) -> Result<Response, Error> {
        let result = self.send_attempts(request).await;
        crate::metrics::global().outbound_call(request.connection.as_deref(), result)
    }

    async fn send_attempts(&self, request: &Request) -> Result<Response, Error> {
        let prepared = self.prepare(request)?;
        let breaker = match (&request.connection, request.breaker) {
            (Some(connection), Some(config)) => {
                Some((connection, self.breaker(connection, config)))
            }
            _ => None,
        };
        let attempts = request.retry.attempts.max(1);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let permit = match &breaker {
                Some((connection, breaker)) => match breaker.admit(self.clock.now_ms()) {
                    Ok(permit) => Some(permit),
                    Err(retry_in_ms) => {
                        return Err(Error::BreakerOpen {
                            connection: (*connection).clone(),
                            retry_in_ms,
                        });
                    }
                },
                None => None,
            };
            let outcome = self.attempt(request, &prepared).await;
            // For the breaker, an answer other than a 5xx shows the service is up;
            // a connection error or a timeout counts against it; anything else
            // (a refusal by the egress guard, a token endpoint failing) says
            // nothing about it, and the permit is dropped unsettled.
            let failed = match &outcome {
                Ok(answer) => Some((500..=599).contains(&answer.status)),
                Err(Error::Connect { .. } | Error::Timeout { .. }) => Some(true),
                Err(Error::ResponseTooLarge { .. }) => Some(false),
                Err(_) => None,
            };
            if let (Some(permit), Some(failed)) = (permit, failed) {
                let now = self.clock.now_ms();
                if failed {
                    permit.failure(now);
                } else {
                    permit.success(now);
                }
            }
            let (mut error, retry_after) = match outcome {
                Ok(answer) if expected_status(&request.expect, answer.status) => {
                    return self.finish(request, &prepared, answer, attempt);
                }
                Ok(answer) => {
                    let retry_after = if answer.status == 429 || answer.status == 503 {
                        header(&answer.headers, "retry-after")
                            .and_then(|value| retry::parse_retry_after(value, self.clock.now_ms()))
                    } else {
                        None
                    };
                    let error = Error::Status {
                        url: redact_url(&prepared.url),
                        status: answer.status,
                        attempts: attempt,
                        retry_after_ms: None,
                    };
                    (error, retry_after)
                }
                Err(error) => (error, None),
            };
            error.set_attempts(attempt);
            if !error.is_retryable() || attempt >= attempts {
                return Err(error);
            }
            let wait = match retry_after {
                Some(wait) if wait > self.options.max_retry_after => {
                    if let Error::Status { retry_after_ms, .. } = &mut error {
                        *retry_after_ms = u64::try_from(wait.as_millis()).ok();
                    }
                    return Err(error);
                }
                Some(wait) => wait,
                None => request.retry.backoff(attempt, self.rng.as_ref()),
            };
            self.clock.sleep(wait).await;
        }
    }

    fn breaker(&self, connection: &str, config: BreakerConfig) -> Arc<Breaker> {
        match self.breakers.lock() {
            Ok(mut breakers) => {
                let breaker = breakers
                    .entry(connection.to_string())
                    .or_insert_with(|| Breaker::new(config));
                if breaker.config() != config {
                    // A new deployment changed the connection's breaker settings.
                    *breaker = Breaker::new(config);
                }
                crate::metrics::global().watch_breaker(connection, breaker);
                Arc::clone(breaker)
            }
            Err(_) => Breaker::new(config),
        }
    }

    fn prepare(&self, request: &Request) -> Result<Prepared, Error> {
        let mut url = reqwest::Url::parse(&request.url).map_err(|error| Error::Invalid {
            reason: format!("`{}` is not a URL: {error}", shorten(&request.url)),
        })?;
        check_scheme(&url)?;
        if !request.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in &request.query {
                pairs.append_pair(name, value);
            }
        }
        let body = match &request.body {
            Body::Empty => None,
            Body::Json(json) => Some((
                Some("application/json".to_string()),
                serde_json::to_vec(json).map_err(|error| Error::Invalid {
                    reason: format!("cannot write the JSON body: {error}"),
                })?,
            )),
            Body::Bytes {
                content_type,
                bytes,
            } => Some((content_type.clone(), bytes.clone())),
        };
        if let Some((_, bytes)) = &body
            && bytes.len() > self.options.max_request_bytes
        {
            return Err(Error::RequestTooLarge {
                size: bytes.len(),
                limit: self.options.max_request_bytes,
            });
        }
        Ok(Prepared {
            url,
            body,
            timeout: request.timeout.unwrap_or(self.options.default_timeout),
        })
    }

    /// One attempt: with OAuth 2, a token first, and on a 401 one more send with a
    /// fresh token.
    async fn attempt(&self, request: &Request, prepared: &Prepared) -> Result<Answer, Error> {
        let Auth::OAuth2(oauth) = &request.auth else {
            return self.send_once(request, prepared, None).await;
        };
        let token = self.token(oauth, None).await?;
        let answer = self.send_once(request, prepared, Some(&token)).await?;
        if answer.status != 401 {
            return Ok(answer);
        }
        let fresh = self.token(oauth, Some(&token)).await?;
        self.send_once(request, prepared, Some(&fresh)).await
    }

    async fn send_once(
        &self,
        request: &Request,
        prepared: &Prepared,
        token: Option<&SecretString>,
    ) -> Result<Answer, Error> {
        let mut url = prepared.url.clone();
        if let Auth::ApiKey {
            place: KeyPlace::Query(name),
            value,
        } = &request.auth
        {
            url.query_pairs_mut().append_pair(name, value.expose());
        }
        self.check_literal(&url)?;
        let mut builder = self
            .http
            .request(request.method.clone(), url.clone())
            .timeout(prepared.timeout);
        for (name, value) in &request.headers {
            let text = match value {
                HeaderValue::Text(text) => text.as_str(),
                HeaderValue::Secret(secret) => secret.expose(),
            };
            builder = builder.header(
                header_name(name)?,
                header_value(name, text, matches!(value, HeaderValue::Secret(_)))?,
            );
        }
        if let Some(key) = &request.idempotency_key {
            builder = builder.header(
                "idempotency-key",
                header_value("Idempotency-Key", key, false)?,
            );
        }
        match &request.auth {
            Auth::None | Auth::OAuth2(_) => {}
            Auth::ApiKey {
                place: KeyPlace::Header(name),
                value,
            } => {
                builder = builder.header(
                    header_name(name)?,
                    header_value(name, value.expose(), true)?,
                )
            }
            Auth::ApiKey { .. } => {}
            Auth::Bearer { token } => builder = builder.header("authorization", bearer(token)?),
            Auth::Basic { username, password } => {
                builder = builder.header(
                    "authorization",
                    basic(username.expose(), password.expose())?,
                );
            }
        }
        if let Some(token) = token {
            builder = builder.header("authorization", bearer(token)?);
        }
        if let Some((content_type, bytes)) = &prepared.body {
            if let Some(content_type) = content_type {
                builder = builder.header(
                    "content-type",
                    header_value("Content-Type", content_type, false)?,
                );
            }
            builder = builder.body(bytes.clone());
        }
        let response = builder
            .send()
            .await
            .map_err(|error| self.transport_error(&url, prepared.timeout, &error))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = if expected_status(&request.expect, status) {
            Some(self.read_body(&url, prepared.timeout, response).await?)
        } else {
            None
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Shows an IP-literal host to the egress guard with the URL's port (names
    /// go through the resolver). The `url` crate has normalised the literal, so
    /// `127.1` and `2130706433` arrive here as `127.0.0.1`.
    fn check_literal(&self, url: &reqwest::Url) -> Result<(), Error> {
        let Some(host) = url.host_str() else {
            return Err(Error::Invalid {
                reason: "the URL has no host".into(),
            });
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            let port = url.port_or_known_default();
            self.egress
                .check(host, ip, port)
                .map_err(|reason| Error::Egress {
                    target: match port {
                        Some(port) => format!("{host}:{port}"),
                        None => host.to_string(),
                    },
                    ip: Some(ip),
                    reason,
                })?;
        }
        Ok(())
    }

    async fn read_body(
        &self,
        url: &reqwest::Url,
        timeout: Duration,
        mut response: reqwest::Response,
    ) -> Result<Vec<u8>, Error> {
        let limit = self.options.max_response_bytes;
        let too_large = || Error::ResponseTooLarge {
            url: redact_url(url),
            limit,
        };
        if response
            .content_length()
            .is_some_and(|length| length > u64::try_from(limit).unwrap_or(u64::MAX))
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.transport_error(url, timeout, &error))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn transport_error(
        &self,
        url: &reqwest::Url,
        timeout: Duration,
        error: &reqwest::Error,
    ) -> Error {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(current) = source {
            if let Some(refused) = current.downcast_ref::<egress::Refused>() {
                return Error::Egress {
                    target: refused.host.clone(),
                    ip: Some(refused.ip),
                    reason: refused.reason.clone(),
                };
            }
            source = current.source();
        }
        if error.is_timeout() {
            return Error::Timeout {
                url: redact_url(url),
                timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                attempts: 1,
            };
        }
        if error.is_builder() {
            return Error::Invalid {
                reason: describe(error),
            };
        }
        Error::Connect {
            url: redact_url(url),
            reason: describe(error),
            attempts: 1,
        }
    }

    fn finish(
        &self,
        request: &Request,
        prepared: &Prepared,
        answer: Answer,
        attempts: u32,
    ) -> Result<Response, Error> {
        let body = answer.body.unwrap_or_default();
        let mut response = Response {
            status: answer.status,
            headers: answer.headers,
            body,
            value: None,
            attempts,
        };
        if let Some(expected) = &request.response_type {
            let json = response.json().map_err(|error| Error::ResponseNotJson {
                url: redact_url(&prepared.url),
                reason: error.to_string(),
            })?;
            let value = Value::from_json_typed(&json, &expected.ty, &expected.types).map_err(
                |mismatch| Error::ResponseType {
                    path: format!("${}", mismatch.path),
                    expected: mismatch.expected,
                    found: mismatch.found,
                },
            )?;
            response.value = Some(value);
        }
        Ok(response)
    }

    /// A token for `oauth`: the cached one while fresh, else a new one. `stale` is
    /// a token the server just refused: it is not handed out again.
    async fn token(
        &self,
        oauth: &OAuth2,
        stale: Option<&SecretString>,
    ) -> Result<SecretString, Error> {
        let slot = self.tokens.slot(oauth.cache_key());
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref() {
            let refused = stale.is_some_and(|stale| stale.expose() == token.access.expose());
            if !refused && token.fresh(self.clock.now_ms()) {
                return Ok(token.access.clone());
            }
        }
        *cached = None;
        let token = self.fetch_token(oauth).await?;
        let access = token.access.clone();
        *cached = Some(token);
        Ok(access)
    }

    async fn fetch_token(&self, oauth: &OAuth2) -> Result<auth::Token, Error> {
        let token_error = |reason: String, retryable: bool| Error::Token {
            token_url: reqwest::Url::parse(&oauth.token_url)
                .map(|url| redact_url(&url))
                .unwrap_or_else(|_| shorten(&oauth.token_url)),
            reason,
            retryable,
        };
        let url = reqwest::Url::parse(&oauth.token_url)
            .map_err(|error| token_error(format!("not a URL: {error}"), false))?;
        check_scheme(&url)?;
        self.check_literal(&url)?;
        let credentials = basic(
            &auth::form_encode(oauth.client_id.expose()),
            &auth::form_encode(oauth.client_secret.expose()),
        )?;
        let response = self
            .http
            .post(url.clone())
            .timeout(self.options.token_timeout)
            .header("authorization", credentials)
            .header("accept", "application/json")
            .form(&oauth.form())
            .send()
            .await
            .map_err(|error| {
                match self.transport_error(&url, self.options.token_timeout, &error) {
                    refused @ Error::Egress { .. } => refused,
                    other => token_error(other.to_string(), true),
                }
            })?;
        let status = response.status().as_u16();
        if !(200..=299).contains(&status) {
            return Err(token_error(
                format!("the token endpoint answered {status}"),
                is_retryable_status(status),
            ));
        }
        let body = self
            .read_body(&url, self.options.token_timeout, response)
            .await
            .map_err(|error| token_error(error.to_string(), error.is_retryable()))?;
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|error| token_error(format!("not a token response: {error}"), false))?;
        let now = self.clock.now_ms();
        let skew = Millis::try_from(self.options.token_skew.as_millis()).unwrap_or(0);
        let refresh_at = parsed.expires_in.map(|seconds| {
            // `as` saturates for floats out of range, which is what is wanted here.
            let lifetime = (seconds.max(0.0) * 1000.0) as Millis;
            now.saturating_add(lifetime).saturating_sub(skew)
        });
        let access = SecretString::new(parsed.access_token);
        // A secret from now on: learned before any request carries it.
        self.redactor.learn(&access);
        Ok(auth::Token { access, refresh_at })
    }
}

/// Only `http` and `https` are sent: a `file:`, `ftp:` or `gopher:` URL is an
/// egress refusal (`R0111`) before anything else happens, whatever the guard.
fn check_scheme(url: &reqwest::Url) -> Result<(), Error> {
    if matches!(url.scheme(), "http" | "https") {
        return Ok(());
    }
    Err(Error::Egress {
        target: redact_url(url),
        ip: None,
        reason: format!(
            "the scheme `{}` is not allowed: outbound calls use http and https only",
            url.scheme()
        ),
    })
}

fn expected_status(expect: &[u16], status: u16) -> bool {
    if expect.is_empty() {
        (200..=299).contains(&status)
    } else {
        expect.contains(&status)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

fn header_name(name: &str) -> Result<reqwest::header::HeaderName, Error> {
    reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| Error::Invalid {
        reason: format!("`{}` is not a valid header name", shorten(name)),
    })
}

/// A header value; a secret one is marked sensitive (HTTP/2 never indexes it) and
/// never quoted in an error.
fn header_value(
    name: &str,
    value: &str,
    secret: bool,
) -> Result<reqwest::header::HeaderValue, Error> {
    let mut value = reqwest::header::HeaderValue::from_str(value).map_err(|_| Error::Invalid {
        reason: format!(
            "the value of header `{}` has characters a header cannot hold",
            shorten(name)
        ),
    })?;
    value.set_sensitive(secret);
    Ok(value)
}

fn bearer(token: &SecretString) -> Result<reqwest::header::HeaderValue, Error> {
    header_value("Authorization", &format!("Bearer {}", token.expose()), true)
}

fn basic(username: &str, password: &str) -> Result<reqwest::header::HeaderValue, Error> {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    header_value("Authorization", &format!("Basic {encoded}"), true)
}

/// The error's sources in one line, as reqwest nests the useful part. reqwest's
/// own message is left out: it quotes the URL with its query, where an API key
/// may be.
fn describe(error: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(current) = source {
        if parts.len() >= 8 {
            break;
        }
        parts.push(current.to_string());
        source = current.source();
    }
    if parts.is_empty() {
        let kind = if error.is_connect() {
            "connection failed"
        } else if error.is_body() || error.is_decode() {
            "the body could not be read"
        } else {
            "the request failed"
        };
        return kind.to_string();
    }
    parts.join(": ")
}

fn shorten(text: &str) -> String {
    let short: String = text.chars().take(80).collect();
    if short.len() < text.len() {
        format!("{short}…")
    } else {
        short
    }
}
