//! Limits at the webhook endpoint: how large a request's head may be and how long
//! it may take to arrive, and, per webhook, how large its body may be and how often
//! it may come.
//!
//! Two levels, because they are enforced in two places. [`HttpLimits`] hold for
//! every connection and are hyper's: it applies them while it parses a request's
//! head, before any handler runs (`connections.rs` hands them to hyper). More than
//! `max_headers` headers, or a head of more than `max_header_bytes`, is answered 431
//! and the connection closed; a head not complete `header_read_timeout` after the
//! connection opened or the previous response went out closes the connection
//! without an answer (a slowloris client holds nothing for long). A body that
//! stalls is ingress's read timeout, not this one.
//!
//! Per webhook, the trigger's `rate_limit:` and `body_limit:` (SPEC §5.1) are
//! applied by [`admit`], which ingress calls as soon as the route is found: before
//! the body is read, verified or parsed, and before anything is stored. A refused
//! request costs no read of its body, no secret from the vault and no row. The
//! body limit replaces the server's default ([`Options::body_limit`]) for that
//! webhook only; axum's global `DefaultBodyLimit` is therefore not applied to
//! ingress (`mod.rs` disables it there and keeps it for the admin API), and the
//! body reaches ingress wrapped in a limit of the webhook's own size.
//!
//! | status | code | when |
//! | --- | --- | --- |
//! | 431 | (hyper's, no body) | too many headers, or a head too large |
//! | 429 | `rate_limited` | the webhook's `rate_limit:` is spent (`Retry-After`, in whole seconds, rounded up) |
//! | 413 | `payload_too_large` | a declared `Content-Length` over the webhook's limit, before a byte of the body is read |
//!
//! [`Options::body_limit`]: super::Options::body_limit

use super::Shared;
use super::problem::Problem;
use super::routes::Route;
use crate::clock::Millis;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use flowc_compiler::ir::{RateLimit, Trigger};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The limits hyper applies to every request's head, on every connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// The most header fields one request may have (431 above).
    pub max_headers: usize,
    /// The most bytes of a request's head, request line and header fields (431
    /// above). It also bounds hyper's read buffer, so a head that never ends is
    /// refused at this size rather than buffered further.
    pub max_header_bytes: usize,
    /// How long a client may take to send a request's head, counted from the
    /// connection's start or the previous response; then the connection is
    /// closed. Zero closes every connection at once.
    pub header_read_timeout: Duration,
}

/// The default [`HttpLimits::max_headers`]: hyper's own default, generous for
/// webhook senders, which send fewer than 30.
pub const DEFAULT_MAX_HEADERS: usize = 100;

/// The default [`HttpLimits::max_header_bytes`]: 32 KiB, what common proxies
/// accept (nginx: four 8 KiB buffers).
pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 * 1024;

/// The default [`HttpLimits::header_read_timeout`]: 10 s, the same as the body
/// read timeout.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits {
            max_headers: DEFAULT_MAX_HEADERS,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        }
    }
}

/// Applies `route`'s rate limit and body limit to a request whose body has not
/// been read: returns the request with its body bounded by the webhook's limit,
/// and that limit (for the 413 ingress answers when the body turns out larger
/// than it said).
pub(super) fn admit(
    shared: &Shared,
    route: &Route,
    request: Request,
) -> Result<(Request, usize), Problem> {
    let trigger = trigger_of(route);
    if let Some(limit) = trigger.and_then(|trigger| trigger.1) {
        shared
            .buckets
            .take(&route.method, &route.path, limit, shared.clock.now_ms())
            .map_err(|wait_ms| rate_limited(limit, wait_ms))?;
    }
    let body_limit = trigger
        .and_then(|trigger| trigger.0)
        .map_or(shared.body_limit, |bytes| {
            usize::try_from(bytes).unwrap_or(usize::MAX)
        });
    Ok((bounded(request, body_limit)?, body_limit))
}

/// `request` with its body bounded by `limit` bytes: a declared
/// `Content-Length` over it is `413` before a byte is read, so hyper never
/// sends `100 Continue` to a client that waits for it.
pub(super) fn bounded(request: Request, limit: usize) -> Result<Request, Problem> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(payload_too_large(limit));
    }
    Ok(request.map(|body| Body::new(http_body_util::Limited::new(body, limit))))
}

/// The whole body of a request [`bounded`] by `limit`, within `timeout`: `413`
/// once it outgrows the limit, `400 bad_body` when the connection breaks, `408
/// body_timeout` (the message `late` gives) when it does not arrive in time.
pub(super) async fn read_bounded(
    request: Request,
    limit: usize,
    timeout: Duration,
    late: impl FnOnce() -> String,
) -> Result<Bytes, Problem> {
    // A transport limit in wall time, like a socket timeout: not workflow time,
    // so not read through the runtime's `Clock`.
    match tokio::time::timeout(timeout, Bytes::from_request(request, &())).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(payload_too_large(limit))
        }
        Ok(Err(_)) => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "the body could not be read",
        )),
        Err(_) => Err(Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            late(),
        )),
    }
}

/// `413 payload_too_large`, naming the limit.
pub fn payload_too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the body is larger than {limit} bytes"),
    )
    .with_details(json!({ "limit": limit }))
}

/// `429 rate_limited`, with the wait in whole seconds, rounded up (at least 1).
fn rate_limited(limit: RateLimit, wait_ms: i64) -> Problem {
    let seconds = u64::try_from(wait_ms.max(1)).unwrap_or(1).div_ceil(1000);
    let mut problem = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!(
            "this webhook takes at most {} requests per {}; retry in {seconds} s",
            limit.requests,
            flowc_compiler::value::format_duration(limit.per_ms)
        ),
    )
    .with_details(json!({
        "requests": limit.requests,
        "per_ms": limit.per_ms,
        "retry_after": seconds,
    }));
    problem.retry_after = Some(seconds);
    problem
}

/// The body limit and rate limit of `route`'s trigger. The route keeps its
/// workflow and claim rather than the trigger, so the trigger is found again by
/// method and path: a scan of one workflow's few triggers.
fn trigger_of(route: &Route) -> Option<(Option<u64>, Option<RateLimit>)> {
    let workflow = route.program.workflow(&route.workflow)?;
    workflow.triggers.iter().find_map(|trigger| match trigger {
        Trigger::Webhook {
            method,
            path,
            body_limit,
            rate_limit,
            ..
        } if method.eq_ignore_ascii_case(&route.method) && *path == route.path => {
            Some((*body_limit, *rate_limit))
        }
        _ => None,
    })
}

/// The token buckets of the rate-limited webhooks, one per method and path,
/// shared by every caller of that webhook (providers send from many addresses).
///
/// A bucket of `requests` tokens refilled at `requests` per `per` is kept as one
/// number, the time at which it will be full again (the generic cell rate
/// algorithm's "theoretical arrival time"): taking a token moves that time
/// `per / requests` later, and a request is refused when that would put it more
/// than `per` ahead of now. Times are in `1 / requests` ms, so every step is an
/// exact integer. The clock is the runtime's, so tests advance it instead of
/// waiting.
#[derive(Debug, Default)]
pub struct Buckets {
    full_at: Mutex<HashMap<(String, String), (RateLimit, i128)>>,
}

impl Buckets {
    /// Takes a token of the bucket of `method` and `path`, or says how many
    /// milliseconds until one is there. A bucket whose limit changed (after a
    /// deploy) starts full again.
    pub fn take(&self, method: &str, path: &str, limit: RateLimit, now: Millis) -> Result<(), i64> {
        let requests = i128::from(limit.requests.max(1));
        let per = i128::from(limit.per_ms.max(1));
        let now = i128::from(now) * requests;
        let mut buckets = match self.full_at.lock() {
            Ok(buckets) => buckets,
            Err(poisoned) => poisoned.into_inner(),
        };
        let entry = buckets
            .entry((method.to_string(), path.to_string()))
            .or_insert((limit, now));
        if entry.0 != limit {
            *entry = (limit, now);
        }
        let next = entry.1.max(now) + per;
        let ahead = next - now - requests * per;
        if ahead > 0 {
            // In ms, rounded up.
            let wait = (ahead + requests - 1) / requests;
            return Err(i64::try_from(wait).unwrap_or(i64::MAX));
        }
        entry.1 = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(requests: u32, per_ms: i64) -> RateLimit {
        RateLimit { requests, per_ms }
    }

    #[test]
    fn a_full_bucket_takes_a_burst_then_refills_one_token_at_a_time() {
        let buckets = Buckets::default();
        let three_per_second = limit(3, 1000);
        for _ in 0..3 {
            assert_eq!(buckets.take("POST", "/a", three_per_second, 0), Ok(()));
        }
        // The next token comes 1000 / 3 ms after the first was taken.
        assert_eq!(buckets.take("POST", "/a", three_per_second, 0), Err(334));
        assert_eq!(buckets.take("POST", "/a", three_per_second, 333), Err(1));
        assert_eq!(buckets.take("POST", "/a", three_per_second, 334), Ok(()));
        assert_eq!(buckets.take("POST", "/a", three_per_second, 334), Err(333));
        // Idle for longer than `per`: full again, and no more than full.
        for _ in 0..3 {
            assert_eq!(buckets.take("POST", "/a", three_per_second, 10_000), Ok(()));
        }
        assert!(
            buckets
                .take("POST", "/a", three_per_second, 10_000)
                .is_err()
        );
    }

    #[test]
    fn buckets_are_per_method_and_path_and_restart_when_the_limit_changes() {
        let buckets = Buckets::default();
        let one_per_minute = limit(1, 60_000);
        assert_eq!(buckets.take("POST", "/a", one_per_minute, 0), Ok(()));
        assert_eq!(buckets.take("POST", "/a", one_per_minute, 0), Err(60_000));
        assert_eq!(buckets.take("PUT", "/a", one_per_minute, 0), Ok(()));
        assert_eq!(buckets.take("POST", "/b", one_per_minute, 0), Ok(()));
        assert_eq!(buckets.take("POST", "/a", limit(2, 60_000), 0), Ok(()));
    }

    #[test]
    fn large_limits_and_times_do_not_overflow() {
        let buckets = Buckets::default();
        let huge = limit(u32::MAX, i64::MAX);
        assert_eq!(buckets.take("POST", "/a", huge, i64::MAX), Ok(()));
        assert_eq!(buckets.take("POST", "/a", limit(1, i64::MAX), 0), Ok(()));
        assert!(buckets.take("POST", "/a", limit(1, i64::MAX), 0).is_err());
    }
}
