//! The one place the runtime reads time.
//!
//! Timers, retry backoff, circuit breakers, cron, timeouts, token expiry and webhook
//! timestamp windows all ask a [`Clock`], never the system directly (clippy's
//! `disallowed-methods` enforces that outside this file). Production uses
//! [`SystemClock`]; tests use [`TestClock`], which stands still until the test
//! advances it, so a test of a one-hour wait takes no time and cannot flake.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Wall-clock time in milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// `ms` as an RFC 3339 UTC time (`2026-11-22T17:00:00Z`), or the number when
/// it is out of range.
pub fn format_ms(ms: Millis) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |time| time.to_string())
}

/// A source of time. Cheap to clone behind an `Arc`.
pub trait Clock: Send + Sync + 'static {
    /// Now, in milliseconds since the Unix epoch (UTC).
    fn now_ms(&self) -> Millis;

    /// Waits until `now_ms() >= deadline`. Returns at once when the deadline has
    /// passed.
    fn sleep_until(
        &self,
        deadline: Millis,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>;

    /// Waits for `duration` of this clock's time.
    fn sleep(
        &self,
        duration: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        let millis = Millis::try_from(duration.as_millis()).unwrap_or(Millis::MAX);
        self.sleep_until(self.now_ms().saturating_add(millis))
    }
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // The one sanctioned read of the system time.
    fn now_ms(&self) -> Millis {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Millis::try_from(since_epoch.as_millis()).unwrap_or(Millis::MAX)
    }

    fn sleep_until(
        &self,
        deadline: Millis,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        let wait = deadline.saturating_sub(self.now_ms()).max(0);
        Box::pin(tokio::time::sleep(Duration::from_millis(
            u64::try_from(wait).unwrap_or(0),
        )))
    }
}

/// A clock that moves only when told: `advance` wakes every sleeper whose
/// deadline has come.
#[derive(Clone, Debug)]
pub struct TestClock {
    inner: Arc<TestClockInner>,
}

#[derive(Debug)]
struct TestClockInner {
    now: Mutex<Millis>,
    moved: Notify,
}

impl TestClock {
    /// A clock standing at `start` (ms since the epoch).
    pub fn new(start: Millis) -> TestClock {
        TestClock {
            inner: Arc::new(TestClockInner {
                now: Mutex::new(start),
                moved: Notify::new(),
            }),
        }
    }

    /// Moves time forward and wakes the sleepers that are due.
    pub fn advance(&self, by: Duration) {
        let millis = Millis::try_from(by.as_millis()).unwrap_or(Millis::MAX);
        if let Ok(mut now) = self.inner.now.lock() {
            *now = now.saturating_add(millis);
        }
        self.inner.moved.notify_waiters();
    }

    /// Sets the time (forward or back) and wakes the sleepers that are due.
    pub fn set(&self, to: Millis) {
        if let Ok(mut now) = self.inner.now.lock() {
            *now = to;
        }
        self.inner.moved.notify_waiters();
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> Millis {
        self.inner.now.lock().map_or(0, |now| *now)
    }

    fn sleep_until(
        &self,
        deadline: Millis,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            loop {
                // Register before checking, so an `advance` in between is not lost.
                let moved = self.inner.moved.notified();
                if self.now_ms() >= deadline {
                    return;
                }
                moved.await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn test_clock_wakes_sleepers_only_when_advanced_past_their_deadline() {
        let clock = TestClock::new(1_000);
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move {
                clock.sleep(Duration::from_secs(60)).await;
                clock.now_ms()
            })
        };
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(59));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "woke a second early");
        clock.advance(Duration::from_secs(1));
        let woke_at = sleeper.await.unwrap_or_default();
        assert_eq!(woke_at, 61_000);
    }

    #[test]
    fn system_clock_reads_a_plausible_time() {
        // 2020-01-01 in ms: any real clock is past it.
        assert!(SystemClock.now_ms() > 1_577_836_800_000);
    }
}
