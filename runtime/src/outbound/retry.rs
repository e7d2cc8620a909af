//! When to try again and how long to wait: [`Retry`], full jitter through an
//! injectable [`Rng`], and `Retry-After` parsing.
//!
//! The wait before attempt `n + 1` is drawn uniformly from
//! `[0, min(max, initial × 2^(n-1))]` ("full jitter", which spreads a crowd of
//! failing clients out better than a fixed backoff plus a little noise). A
//! `Retry-After` from the server replaces the drawn wait. Randomness is a trait so
//! tests can pin it; waiting itself goes through the runtime's `Clock`.

use crate::clock::Millis;
use flowc_compiler::ir;
use std::time::Duration;

/// At most `attempts` tries in all, the first included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    pub attempts: u32,
    pub initial: Duration,
    pub max: Duration,
}

impl Retry {
    /// One attempt, no retry.
    pub const NONE: Retry = Retry {
        attempts: 1,
        initial: Duration::ZERO,
        max: Duration::ZERO,
    };

    /// The upper bound of the wait after `failures` failed attempts (1 after the
    /// first): `initial × 2^(failures-1)`, capped at `max`.
    pub fn cap(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(62);
        let factor = 1u64 << doublings;
        let initial = u64::try_from(self.initial.as_millis()).unwrap_or(u64::MAX);
        let max = u64::try_from(self.max.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(initial.saturating_mul(factor).min(max))
    }

    /// The wait after `failures` failed attempts, drawn with full jitter.
    pub fn backoff(&self, failures: u32, rng: &dyn Rng) -> Duration {
        let cap = u64::try_from(self.cap(failures).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rng.below(cap).min(cap))
    }
}

impl Default for Retry {
    fn default() -> Retry {
        Retry::NONE
    }
}

impl From<ir::RetryPolicy> for Retry {
    fn from(policy: ir::RetryPolicy) -> Retry {
        let millis = |ms: i64| Duration::from_millis(u64::try_from(ms).unwrap_or(0));
        Retry {
            attempts: policy.attempts.max(1),
            initial: millis(policy.initial_ms),
            max: millis(policy.max_ms),
        }
    }
}

/// A source of uniform random numbers for jitter.
pub trait Rng: Send + Sync + 'static {
    /// A number in `0..=bound`, uniformly.
    fn below(&self, bound: u64) -> u64;
}

/// The operating system's randomness. If it fails, the full wait is used.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemRng;

impl Rng for SystemRng {
    fn below(&self, bound: u64) -> u64 {
        match (getrandom::u64(), bound.checked_add(1)) {
            (Ok(random), Some(span)) => random % span,
            (Ok(random), None) => random,
            (Err(_), _) => bound,
        }
    }
}

/// Reads a `Retry-After` value, delay-seconds or an HTTP-date, as a wait from
/// `now`. A date in the past is a wait of zero; anything unreadable is `None`.
pub fn parse_retry_after(value: &str, now: Millis) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        let seconds: u64 = value.parse().ok()?;
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?
        .as_millisecond();
    let wait = at.saturating_sub(now).max(0);
    Some(Duration::from_millis(u64::try_from(wait).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Top;
    impl Rng for Top {
        fn below(&self, bound: u64) -> u64 {
            bound
        }
    }

    #[test]
    fn the_cap_doubles_up_to_max() {
        let retry = Retry {
            attempts: 6,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(8),
        };
        let caps: Vec<u64> = (1..=5).map(|n| retry.cap(n).as_secs()).collect();
        assert_eq!(caps, [1, 2, 4, 8, 8]);
        assert_eq!(retry.backoff(3, &Top), Duration::from_secs(4));
        assert!(retry.backoff(3, &SystemRng) <= Duration::from_secs(4));
        assert_eq!(retry.cap(500), Duration::from_secs(8));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        // 1994-11-06T08:49:37Z
        let date = 784_111_777_000;
        assert_eq!(parse_retry_after("120", 0), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", date - 5_000),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", date + 5_000),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("-3", 0), None);
    }
}
