//! The dispatcher: what turns the store's announcements into work.
//!
//! The engine interprets one run until it ends or parks; something must start
//! runs, wake parked ones and deliver events. That is this module, one per
//! process that serves runs (`flowc serve`, `flowc run`):
//!
//! - **Runs.** [`Dispatcher::start`] interprets a run on a task of its own
//!   (unless this process already is). Every [`Wake::Run`] the store announces —
//!   a resolved wait, a child started by `call`, a run freed from a
//!   `max_concurrency` queue, a resumed run — goes there; [`Wake::Stop`] (a run
//!   the store ended: its `timeout`, a cancelled parent) stops the task
//!   interpreting it.
//! - **Timers.** One loop sleeps (on the runtime's [`Clock`]) until the earliest
//!   deadline of an open wait, then has the store resolve or time out every due
//!   wait in batches ([`Store::fire_due`]), which wakes their runs. A new
//!   deadline ([`Wake::Timer`]) makes it look again. Overdue timers after a
//!   restart fire at once, once: resolving a wait is a compare-and-set.
//! - **Events.** Every stored event (an `emit`, `POST /api/v1/events/{name}`, a
//!   request to an `await webhook` path) is delivered once, in order: a run of
//!   every active workflow with `on event NAME` (idempotency key `event:{id}`, so
//!   a delivery repeated after a crash starts nothing twice), and the waiting
//!   runs whose predicate holds. Candidate waits are found by the key the
//!   checker extracted ([`Store::matching_waits`]), never by a scan of every
//!   waiting run; the residual predicate is tested on each candidate.
//! - **Schedules** are [`crate::schedule::Scheduler`]'s, started here too.
//!
//! A parked run holds no task and no memory here: only the store knows it.

use crate::clock::Clock;
use crate::engine::Engine;
use crate::schedule::Scheduler;
use crate::store::{self, NewRun, StoredEvent, Store, Wake, key_at, key_value};
use flowc_compiler::correlate;
use flowc_compiler::ir::Trigger;
use flowc_compiler::value::Value;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::Notify;

/// How many due waits one store transaction handles.
const FIRE_BATCH: u32 = 1000;
/// How many events one delivery round reads.
const EVENT_BATCH: u32 = 256;

/// Starts, wakes and stops runs for one process.
pub struct Dispatcher {
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// The timer loop looks again.
    timers: Notify,
    /// The event loop looks again.
    events: Notify,
    /// Which workflows (deployment, name) listen to each event, from the
    /// active deployments; rebuilt by [`Dispatcher::reload`].
    listeners: Mutex<HashMap<String, Vec<(String, String)>>>,
    scheduler: Arc<Scheduler>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").finish_non_exhaustive()
    }
}

impl Dispatcher {
    pub fn new(engine: Arc<Engine>) -> Arc<Dispatcher> {
        let store = Arc::clone(engine.store());
        let clock = Arc::clone(engine.clock());
        Arc::new_cyclic(|this: &std::sync::Weak<Dispatcher>| {
            let this = this.clone();
            let spawn: crate::schedule::Spawn = Arc::new(move |run: String| {
                if let Some(dispatcher) = this.upgrade() {
                    dispatcher.start(run);
                }
            });
            Dispatcher {
                scheduler: Arc::new(Scheduler::new(
                    Arc::clone(&store),
                    Arc::clone(&clock),
                    spawn,
                )),
                engine,
                store,
                clock,
                timers: Notify::new(),
                events: Notify::new(),
                listeners: Mutex::new(HashMap::new()),
            }
        })
    }

    /// The engine runs are interpreted by.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Interprets a stored run on a task of its own, unless this process is
    /// already interpreting it (that task finds any newly resolved wait itself).
    /// A failure of the engine leaves the run to the next start.
    pub fn start(&self, run: String) {
        if self.engine.is_running(&run) {
            return;
        }
        let engine = Arc::clone(&self.engine);
        tokio::spawn(async move {
            if let Err(error) = engine.run(&run).await {
                tracing::warn!(
                    run_id = run.as_str(),
                    %error,
                    "run stopped and will resume at the next start"
                );
            }
        });
    }

    /// Interprets a run `start_run` has just created from `new`, without
    /// reading it back ([`Engine::run_new`]).
    pub fn start_new(&self, run: String, new: NewRun) {
        let engine = Arc::clone(&self.engine);
        tokio::spawn(async move {
            if let Err(error) = engine.run_new(&run, new).await {
                tracing::warn!(
                    run_id = run.as_str(),
                    %error,
                    "run stopped and will resume at the next start"
                );
            }
        });
    }

    /// Re-reads the active deployments: event listeners and schedules (after a
    /// deploy, an activation or a deactivation).
    pub async fn reload(&self) -> Result<(), store::Error> {
        let active = self.store.active_deployments().await?;
        let mut listeners: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for deployment in &active {
            for workflow in &deployment.program.workflows {
                for trigger in &workflow.triggers {
                    if let Trigger::Event { event } = trigger {
                        listeners
                            .entry(event.clone())
                            .or_default()
                            .push((deployment.id.clone(), workflow.name.clone()));
                    }
                }
            }
        }
        *self
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = listeners;
        self.scheduler.reload();
        self.events.notify_one();
        Ok(())
    }

    /// Resumes the runs a previous process left unfinished (not the parked
    /// ones: the timer loop and deliveries wake those), then serves the store's
    /// announcements, timers, events and schedules until `shutdown` resolves.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()> + Send + 'static) {
        if let Err(error) = self.reload().await {
            tracing::warn!(%error, "could not read the active deployments");
        }
        self.resume().await;
        self.serve(shutdown).await;
    }

    /// Starts every run a previous process left pending or running (parked and
    /// paused runs stay as they are).
    pub async fn resume(&self) {
        match self.store.runs_to_resume().await {
            Ok(runs) => {
                for run in runs {
                    if run.status != store::RunStatus::Waiting && !run.paused {
                        self.start(run.id);
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "could not list the runs to resume"),
        }
    }

    /// Serves the store's announcements, timers, events and schedules until
    /// `shutdown` resolves, without resuming anything first.
    pub async fn serve(self: Arc<Self>, shutdown: impl Future<Output = ()> + Send + 'static) {
        let wakes = tokio::spawn(Arc::clone(&self).wakes());
        let timers = tokio::spawn(Arc::clone(&self).timers());
        let events = tokio::spawn(Arc::clone(&self).deliveries());
        let schedules = tokio::spawn({
            let scheduler = Arc::clone(&self.scheduler);
            async move { scheduler.run(std::future::pending::<()>()).await }
        });
        shutdown.await;
        for task in [wakes, timers, events, schedules] {
            task.abort();
        }
    }

    /// Acts on the store's announcements, in order.
    async fn wakes(self: Arc<Self>) {
        loop {
            for wake in self.store.wakes().next().await {
                match wake {
                    Wake::Run(run) => self.start(run),
                    Wake::Stop(run) => self.engine.stop(&run),
                    Wake::Events => self.events.notify_one(),
                    Wake::Timer => self.timers.notify_one(),
                }
            }
        }
    }

    /// Fires due waits, then sleeps until the next deadline or a new one.
    async fn timers(self: Arc<Self>) {
        loop {
            let notified = self.timers.notified();
            match self.store.fire_due(self.clock.now_ms(), FIRE_BATCH).await {
                // A full batch: there may be more due at once.
                Ok(fired) if fired >= FIRE_BATCH as usize => continue,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "could not fire due waits; trying again in 1s");
                    self.clock.sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            }
            match self.store.next_deadline().await {
                Ok(Some(deadline)) => {
                    tokio::select! {
                        () = self.clock.sleep_until(deadline) => {}
                        () = notified => {}
                    }
                }
                Ok(None) => notified.await,
                Err(error) => {
                    tracing::warn!(%error, "could not read the next deadline; trying again in 1s");
                    self.clock.sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Delivers stored events, oldest first.
    async fn deliveries(self: Arc<Self>) {
        loop {
            let notified = self.events.notified();
            let batch = match self.store.undelivered_events(EVENT_BATCH).await {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::warn!(%error, "could not read events; trying again in 1s");
                    self.clock.sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            if batch.is_empty() {
                notified.await;
                continue;
            }
            for event in batch {
                if let Err(error) = self.deliver(&event).await {
                    tracing::warn!(event = event.id.as_str(), %error, "event delivery failed; trying again in 1s");
                    self.clock.sleep(std::time::Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }

    /// Delivers one event: runs of its listeners, then its waiting runs.
    pub async fn deliver(&self, event: &StoredEvent) -> Result<(), store::Error> {
        if let Some(name) = event.topic.strip_prefix("event:") {
            let listeners = self
                .listeners
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(name)
                .cloned()
                .unwrap_or_default();
            for (deployment, workflow) in listeners {
                let new = NewRun {
                    deployment,
                    workflow,
                    input: event.payload.clone(),
                    idempotency_key: Some(format!("event:{}", event.id)),
                    trigger: "event".into(),
                    delivery: None,
                    webhook: None,
                    replay_of: None,
                };
                let started = self.store.start_run(new.clone()).await?;
                if started.created {
                    self.start_new(started.run, new);
                }
            }
        }
        let mut keys = Vec::new();
        for path in self.store.key_paths(&event.topic).await? {
            let Ok(path) = serde_json::from_str::<Vec<String>>(&path) else {
                continue;
            };
            if let Some(text) = key_at(&event.payload, &path)
                .and_then(|json| correlate::key_text(&Value::from_json(json)))
            {
                keys.push(key_value(&path, &text));
            }
        }
        let candidates = self
            .store
            .matching_waits(&event.topic, keys, event.emitted_at)
            .await?;
        for wait in candidates {
            if self.engine.wait_matches(&wait, &event.payload).await {
                let result = serde_json::json!({ "ok": event.payload });
                self.store.resolve_wait(&wait.run, &wait.path, result).await?;
            }
        }
        self.store.mark_delivered(event.seq).await
    }
}
