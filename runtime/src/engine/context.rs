//! The evaluator's [`Context`] for a run: `now()` and `uuid()` through the journal.
//!
//! Interpretation is deterministic, so the n-th `now()` of a run is the same call
//! on every replay. Its value is journaled under the path `now#n` (`uuid#n` for
//! `uuid()`; `#` cannot occur in a step name, so these never collide with steps):
//! a replay finds the recorded value and returns it; a first run reads the clock
//! (or the system's randomness) and queues the value. The evaluator is synchronous
//! and the store is not, so the engine takes the queue ([`Recorder::take_pending`])
//! after every evaluation and journals it with its next commit, before anything
//! that could depend on the value leaves the process (an HTTP step, the run's
//! end). A crash before that loses only values nothing outside has seen.
//!
//! `webhook` is the record the delivery that started the run stored with it (`null`
//! for other runs); it is part of the run, so it reads the same on every replay.
//! `context.*` reads `null` for now: the cross-run context store is still to come.

use crate::clock::Clock;
use flowc_compiler::eval::{self, Context};
use flowc_compiler::ir::{Function, Program};
use flowc_compiler::ty::TypeTable;
use flowc_compiler::value::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Journal path of the `n`-th `now()` of a run (from 1).
pub fn now_path(n: u64) -> String {
    format!("now#{n}")
}

/// Journal path of the `n`-th `uuid()` of a run (from 1).
pub fn uuid_path(n: u64) -> String {
    format!("uuid#{n}")
}

/// Whether a journal path is a recorded value rather than a step.
pub fn is_recorded_path(path: &str) -> bool {
    path.starts_with("now#") || path.starts_with("uuid#")
}

#[derive(Default)]
struct State {
    nows: u64,
    uuids: u64,
    /// Values produced in this process and not yet journaled.
    pending: Vec<(String, serde_json::Value)>,
}

/// The run's [`Context`]: recorded values from the journal, new ones queued.
pub struct Recorder {
    program: Arc<Program>,
    clock: Arc<dyn Clock>,
    /// What the journal already holds, by path.
    recorded: HashMap<String, serde_json::Value>,
    /// What `webhook` reads.
    webhook: Value,
    state: Mutex<State>,
}

impl Recorder {
    pub fn new(
        program: Arc<Program>,
        clock: Arc<dyn Clock>,
        recorded: HashMap<String, serde_json::Value>,
        webhook: Value,
    ) -> Recorder {
        Recorder {
            program,
            clock,
            recorded,
            webhook,
            state: Mutex::new(State::default()),
        }
    }

    /// The values produced since the last call, to be journaled.
    pub fn take_pending(&self) -> Vec<(String, serde_json::Value)> {
        std::mem::take(&mut self.lock().pending)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Context for Recorder {
    fn now(&self) -> i64 {
        let mut state = self.lock();
        state.nows += 1;
        let path = now_path(state.nows);
        if let Some(millis) = self.recorded.get(&path).and_then(serde_json::Value::as_i64) {
            return millis;
        }
        let millis = self.clock.now_ms();
        state.pending.push((path, serde_json::Value::from(millis)));
        millis
    }

    fn uuid(&self) -> String {
        let mut state = self.lock();
        state.uuids += 1;
        let path = uuid_path(state.uuids);
        if let Some(uuid) = self.recorded.get(&path).and_then(serde_json::Value::as_str) {
            return uuid.to_string();
        }
        // The system's generator; should it fail, the clock and the counter still
        // give a value unique within the run (and it is journaled like any other).
        let high = getrandom::u64().unwrap_or_else(|_| self.clock.now_ms().cast_unsigned());
        let low = getrandom::u64().unwrap_or(state.uuids);
        let uuid = eval::uuid_v4(high, low);
        state
            .pending
            .push((path, serde_json::Value::from(uuid.as_str())));
        uuid
    }

    fn webhook(&self) -> Value {
        self.webhook.clone()
    }

    fn function(&self, index: u32) -> Option<&Function> {
        self.program.functions.get(usize::try_from(index).ok()?)
    }

    fn types(&self) -> &TypeTable {
        &self.program.types
    }
}
