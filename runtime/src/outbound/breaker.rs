//! The per-connection circuit breaker.
//!
//! Closed: calls go through, consecutive failures are counted, and the `failures`th
//! opens the breaker. Open: calls fail at once with `R0106` without touching the
//! network, until `reset_after` has passed on the runtime's clock. Then exactly one
//! call goes through as a probe (half-open): its success closes the breaker, its
//! failure opens it for another `reset_after`; other calls keep failing fast while
//! the probe is in flight. A failure is a connection error, a timeout or a 5xx;
//! any other answer shows the service is up and counts as a success.

use crate::clock::Millis;
use flowc_compiler::ir;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker (at least 1).
    pub failures: u32,
    pub reset_after: Duration,
}

impl From<ir::CircuitBreaker> for BreakerConfig {
    fn from(breaker: ir::CircuitBreaker) -> BreakerConfig {
        BreakerConfig {
            failures: breaker.failures.max(1),
            reset_after: Duration::from_millis(u64::try_from(breaker.reset_after_ms).unwrap_or(0)),
        }
    }
}

/// What the breaker is doing, for tests, metrics and `runs show`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Calls go through; `failures` consecutive ones have failed so far.
    Closed { failures: u32 },
    /// Calls fail fast until `until` (ms since the epoch); the first call after it
    /// is the probe.
    Open { until: Millis },
    /// One probe is in flight.
    HalfOpen,
}

#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

/// Leave to call: returned by [`Breaker::admit`]; report the outcome with
/// [`Permit::success`] or [`Permit::failure`]. A probe dropped without an outcome
/// (a cancelled call) lets the next caller probe.
#[derive(Debug)]
pub struct Permit {
    breaker: Arc<Breaker>,
    probe: bool,
    settled: bool,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Arc<Breaker> {
        Arc::new(Breaker {
            config,
            state: Mutex::new(State::Closed { failures: 0 }),
        })
    }

    pub fn config(&self) -> BreakerConfig {
        self.config
    }

    pub fn state(&self) -> State {
        self.state
            .lock()
            .map_or(State::Closed { failures: 0 }, |state| *state)
    }

    /// Lets a call through, or says how long until a probe may go (`Err(ms)`, 0
    /// while a probe is in flight).
    pub fn admit(self: &Arc<Breaker>, now: Millis) -> Result<Permit, u64> {
        let Ok(mut state) = self.state.lock() else {
            return Ok(self.permit(false));
        };
        match *state {
            State::Closed { .. } => Ok(self.permit(false)),
            State::Open { until } if now >= until => {
                *state = State::HalfOpen;
                Ok(self.permit(true))
            }
            State::Open { until } => Err(u64::try_from(until - now).unwrap_or(0)),
            State::HalfOpen => Err(0),
        }
    }

    fn permit(self: &Arc<Breaker>, probe: bool) -> Permit {
        Permit {
            breaker: Arc::clone(self),
            probe,
            settled: false,
        }
    }

    fn settle(&self, failed: bool, probe: bool, now: Millis) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let reset = Millis::try_from(self.config.reset_after.as_millis()).unwrap_or(Millis::MAX);
        let open = State::Open {
            until: now.saturating_add(reset),
        };
        let before = *state;
        *state = match (*state, failed) {
            (_, false) => State::Closed { failures: 0 },
            (State::Closed { failures }, true) => {
                let failures = failures.saturating_add(1);
                if failures >= self.config.failures {
                    open
                } else {
                    State::Closed { failures }
                }
            }
            (State::HalfOpen, true) if probe => open,
            // A call admitted before the breaker opened, failing late: the breaker
            // is already open or probing; leave it be.
            (other, true) => other,
        };
        crate::metrics::global().breaker_moved(self, before, *state);
    }
}

impl Permit {
    pub fn success(mut self, now: Millis) {
        self.settled = true;
        self.breaker.settle(false, self.probe, now);
    }

    pub fn failure(mut self, now: Millis) {
        self.settled = true;
        self.breaker.settle(true, self.probe, now);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.probe
            && !self.settled
            && let Ok(mut state) = self.breaker.state.lock()
            && *state == State::HalfOpen
        {
            *state = State::Open { until: Millis::MIN };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_n_consecutive_failures_and_probes_once_after_reset() {
        let breaker = Breaker::new(BreakerConfig {
            failures: 3,
            reset_after: Duration::from_secs(30),
        });
        for now in 0..2 {
            breaker.admit(now).map(|permit| permit.failure(now)).ok();
        }
        // A success in between resets the count.
        breaker.admit(2).map(|permit| permit.success(2)).ok();
        for now in 3..6 {
            breaker.admit(now).map(|permit| permit.failure(now)).ok();
        }
        assert_eq!(breaker.state(), State::Open { until: 30_005 });
        assert_eq!(breaker.admit(10_005).err(), Some(20_000));
        let probe = breaker.admit(30_005);
        assert!(probe.is_ok());
        assert_eq!(breaker.admit(30_006).err(), Some(0), "one probe at a time");
        drop(probe);
        let probe = breaker.admit(30_007);
        assert!(probe.is_ok(), "a dropped probe lets the next caller probe");
        if let Ok(probe) = probe {
            probe.failure(30_007);
        }
        assert_eq!(breaker.state(), State::Open { until: 60_007 });
        if let Ok(probe) = breaker.admit(60_007) {
            probe.success(60_007);
        }
        assert_eq!(breaker.state(), State::Closed { failures: 0 });
    }
}
