//! Every way an outbound call fails, each with a stable code (`R01xx`).
//!
//! | code | kind | retried |
//! | --- | --- | --- |
//! | R0101 | [`Error::Invalid`]: the request cannot be built (URL, scheme, header, method) | no |
//! | R0102 | [`Error::RequestTooLarge`]: the body is over the client's request limit | no |
//! | R0103 | [`Error::Connect`]: no connection, or it broke before a full response | yes |
//! | R0104 | [`Error::Timeout`]: no full response within the timeout | yes |
//! | R0105 | [`Error::Status`]: a status the step does not expect (5xx and 429 are retried, other 4xx never) | 5xx, 429 |
//! | R0106 | [`Error::BreakerOpen`]: the connection's circuit breaker is open; nothing was sent | no |
//! | R0107 | [`Error::ResponseTooLarge`]: the response body is over the client's limit | no |
//! | R0108 | [`Error::ResponseNotJson`]: a typed response whose body is not JSON | no |
//! | R0109 | [`Error::ResponseType`]: the body does not match the declared type | no |
//! | R0110 | [`Error::Token`]: the OAuth 2 token endpoint did not give a token | when transient |
//! | R0111 | [`Error::Egress`]: the egress guard refused the destination address, or the URL's scheme is not http or https; nothing was sent | no |
//! | R0112 | [`Error::MissingSecret`]: a secret the request needs is not in the vault | no |
//!
//! URLs in messages are shown without their query and user info
//! ([`redact_url`]), because an API key may sit in the query. Each code has a page
//! for `flowc explain` (`compiler/diagnostics/R01xx.md`); [`ALL`] lists them, and
//! the test `tests/codes.rs` checks that every code has its page.

use std::net::IpAddr;

/// Every code of this module, the codes [`Error::code`] gives.
pub const ALL: &[&str] = &[
    "R0101", "R0102", "R0103", "R0104", "R0105", "R0106", "R0107", "R0108", "R0109", "R0110",
    "R0111", "R0112",
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request: {reason}")]
    Invalid { reason: String },
    #[error("request body of {size} bytes is over the limit of {limit} bytes")]
    RequestTooLarge { size: usize, limit: usize },
    #[error("could not connect to {url} ({attempts} attempt(s)): {reason}")]
    Connect {
        url: String,
        reason: String,
        attempts: u32,
    },
    #[error("no response from {url} within {timeout_ms} ms ({attempts} attempt(s))")]
    Timeout {
        url: String,
        timeout_ms: u64,
        attempts: u32,
    },
    #[error("{url} answered {status} ({attempts} attempt(s))")]
    Status {
        url: String,
        status: u16,
        attempts: u32,
        /// The server's `Retry-After`, when it asked for a wait longer than the
        /// client waits in memory (`Options::max_retry_after`): the call ends
        /// there and the step fails; the run is not parked.
        retry_after_ms: Option<u64>,
    },
    #[error("the circuit breaker of connection `{connection}` is open; nothing was sent")]
    BreakerOpen {
        connection: String,
        /// Until the breaker lets a probe through; 0 while a probe is in flight.
        retry_in_ms: u64,
    },
    #[error("the response body from {url} is over the limit of {limit} bytes")]
    ResponseTooLarge { url: String, limit: usize },
    #[error("the response body from {url} is not JSON: {reason}")]
    ResponseNotJson { url: String, reason: String },
    #[error(
        "the response body does not match the declared type at `{path}`: expected `{expected}`, found {found}"
    )]
    ResponseType {
        path: String,
        expected: String,
        found: String,
    },
    #[error("no OAuth 2 token from {token_url}: {reason}")]
    Token {
        token_url: String,
        reason: String,
        retryable: bool,
    },
    #[error("refused to connect to `{target}`: {reason}")]
    Egress {
        /// The host (with the port when the URL's literal names it), or the URL
        /// for a refused scheme.
        target: String,
        /// The address refused; `None` for a refused scheme.
        ip: Option<IpAddr>,
        reason: String,
    },
    #[error("secret `{name}` is not in the vault")]
    MissingSecret { name: String },
}

impl Error {
    /// The stable code of this kind of failure.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "R0101",
            Error::RequestTooLarge { .. } => "R0102",
            Error::Connect { .. } => "R0103",
            Error::Timeout { .. } => "R0104",
            Error::Status { .. } => "R0105",
            Error::BreakerOpen { .. } => "R0106",
            Error::ResponseTooLarge { .. } => "R0107",
            Error::ResponseNotJson { .. } => "R0108",
            Error::ResponseType { .. } => "R0109",
            Error::Token { .. } => "R0110",
            Error::Egress { .. } => "R0111",
            Error::MissingSecret { .. } => "R0112",
        }
    }

    /// Whether another attempt could succeed: connection errors, timeouts, 5xx and
    /// 429, and transient token-endpoint failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect { .. } | Error::Timeout { .. } => true,
            Error::Status { status, .. } => is_retryable_status(*status),
            Error::Token { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// How many attempts were made, for the kinds the retry loop produces.
    pub fn attempts(&self) -> Option<u32> {
        match self {
            Error::Connect { attempts, .. }
            | Error::Timeout { attempts, .. }
            | Error::Status { attempts, .. } => Some(*attempts),
            _ => None,
        }
    }

    pub(crate) fn set_attempts(&mut self, count: u32) {
        if let Error::Connect { attempts, .. }
        | Error::Timeout { attempts, .. }
        | Error::Status { attempts, .. } = self
        {
            *attempts = count;
        }
    }
}

/// 5xx and 429 are worth another attempt; no other status is.
pub fn is_retryable_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

/// A URL for messages: scheme, host, port and path, without user info or query
/// (where API keys and tokens may sit).
pub fn redact_url(url: &reqwest::Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    shown
}
