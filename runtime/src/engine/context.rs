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
//!
//! `context.key` reads the workflow's context store, as loaded when the
//! interpretation began and as the run's own `set`s changed it since; other runs
//! may write it meanwhile, so each read is journaled too (`ctx#n`) and a replay
//! reads what the first run read.
//!
//! Concurrent branches (`for` iterations, `parallel` branches) each count their
//! own draws under a *scope* (`items[3].now#1`, `#par12[0].now#1`): the order in
//! which concurrent branches draw is not deterministic, the order within one is.

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
    let last = path.rsplit('.').next().unwrap_or(path);
    last.starts_with("now#") || last.starts_with("uuid#") || last.starts_with("ctx#")
}

#[derive(Default)]
struct State {
    nows: u64,
    uuids: u64,
    reads: u64,
    /// Values produced in this process and not yet journaled.
    pending: Vec<(String, serde_json::Value)>,
}

/// A workflow's context store as this run sees it.
pub type ContextView = Arc<Mutex<std::collections::BTreeMap<String, serde_json::Value>>>;

/// The run's [`Context`]: recorded values from the journal, new ones queued.
pub struct Recorder {
    program: Arc<Program>,
    clock: Arc<dyn Clock>,
    /// What the journal already holds, by path.
    recorded: Arc<HashMap<String, serde_json::Value>>,
    /// What `webhook` reads.
    webhook: Value,
    /// What `context.key` reads when the journal has no value for the read.
    context: ContextView,
    /// Prefixed to the paths of this branch's values.
    scope: String,
    state: Mutex<State>,
}

impl Recorder {
    pub fn new(
        program: Arc<Program>,
        clock: Arc<dyn Clock>,
        recorded: HashMap<String, serde_json::Value>,
        webhook: Value,
        context: ContextView,
    ) -> Recorder {
        Recorder {
            program,
            clock,
            recorded: Arc::new(recorded),
            webhook,
            context,
            scope: String::new(),
            state: Mutex::new(State::default()),
        }
    }

    /// A recorder for a concurrent branch: the same journal and context, its own
    /// counters, its values under `scope`.
    pub fn fork(&self, scope: String) -> Recorder {
        Recorder {
            program: Arc::clone(&self.program),
            clock: Arc::clone(&self.clock),
            recorded: Arc::clone(&self.recorded),
            webhook: self.webhook.clone(),
            context: Arc::clone(&self.context),
            scope,
            state: Mutex::new(State::default()),
        }
    }

    /// The context store this run sees (a `set` writes it).
    pub fn context_view(&self) -> &ContextView {
        &self.context
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
        let path = format!("{}{}", self.scope, now_path(state.nows));
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
        let path = format!("{}{}", self.scope, uuid_path(state.uuids));
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

    fn context(&self, key: &str) -> Value {
        let mut state = self.lock();
        state.reads += 1;
        let path = format!("{}ctx#{}", self.scope, state.reads);
        let json = match self.recorded.get(&path) {
            Some(json) => json.clone(),
            None => {
                let json = self
                    .context
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(key)
                    .cloned()
                    .unwrap_or(serde_json::Value::Null);
                state.pending.push((path, json.clone()));
                json
            }
        };
        Value::from_json(&json)
    }

    fn function(&self, index: u32) -> Option<&Function> {
        self.program.functions.get(usize::try_from(index).ok()?)
    }

    fn types(&self) -> &TypeTable {
        &self.program.types
    }
}
