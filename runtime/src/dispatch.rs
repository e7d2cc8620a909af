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
use crate::store::{self, NewRun, Store, StoredEvent, Wake, key_at, key_value};
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
/// How many woken runs are interpreted at once; the rest wait their turn as ids
/// in a queue, so waking 100,000 parked runs at once costs a queue of ids, not
/// 100,000 tasks.
const WOKEN_AT_ONCE: usize = 256;

/// A write queued by [`Dispatcher::queue_all`]: a run it created is to be
/// started once the write has committed.
type Queued<'a> = store::BoxFuture<'a, Result<Option<(String, NewRun)>, store::Error>>;

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
    /// Runs the store woke, waiting for one of [`WOKEN_AT_ONCE`] places.
    woken: tokio::sync::mpsc::UnboundedSender<String>,
    woken_queue: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<String>>>,
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
        let (woken, woken_queue) = tokio::sync::mpsc::unbounded_channel();
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
                woken,
                woken_queue: Mutex::new(Some(woken_queue)),
            }
        })
    }

    /// The engine runs are interpreted by.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Interprets a stored run on a task of its own, unless this process is
    /// already interpreting it (that task is told to read the run again if it
    /// stops short of an end, [`Engine::wake_running`]). A failure of the engine
    /// leaves the run to the next start.
    pub fn start(&self, run: String) {
        self.start_holding(run, ());
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
        match self.store.runs_to_restart().await {
            Ok(runs) => {
                for run in runs {
                    self.start(run.id);
                }
            }
            Err(error) => tracing::warn!(%error, "could not list the runs to resume"),
        }
    }

    /// Serves the store's announcements, timers, events and schedules until
    /// `shutdown` resolves, without resuming anything first.
    pub async fn serve(self: Arc<Self>, shutdown: impl Future<Output = ()> + Send + 'static) {
        let wakes = tokio::spawn(Arc::clone(&self).wakes());
        let woken = tokio::spawn(Arc::clone(&self).start_woken());
        let timers = tokio::spawn(Arc::clone(&self).timers());
        let events = tokio::spawn(Arc::clone(&self).deliveries());
        let schedules = tokio::spawn({
            let scheduler = Arc::clone(&self.scheduler);
            async move { scheduler.run(std::future::pending::<()>()).await }
        });
        shutdown.await;
        for task in [wakes, woken, timers, events, schedules] {
            task.abort();
        }
    }

    /// Acts on the store's announcements, in order.
    async fn wakes(self: Arc<Self>) {
        loop {
            for wake in self.store.wakes().next().await {
                match wake {
                    Wake::Run(run) => {
                        if !self.engine.wake_running(&run) {
                            let _ = self.woken.send(run);
                        }
                    }
                    Wake::Stop(run) => self.engine.stop(&run),
                    Wake::Events => self.events.notify_one(),
                    Wake::Timer => self.timers.notify_one(),
                }
            }
        }
    }

    /// Starts woken runs, at most [`WOKEN_AT_ONCE`] at a time.
    async fn start_woken(self: Arc<Self>) {
        let Some(mut queue) = self
            .woken_queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        let places = Arc::new(tokio::sync::Semaphore::new(WOKEN_AT_ONCE));
        while let Some(run) = queue.recv().await {
            let Ok(place) = Arc::clone(&places).acquire_owned().await else {
                return;
            };
            // Woken again while it waited for a place: the task started for
            // the first wake reads the run again itself, and the place is free.
            self.start_holding(run, place);
        }
    }

    /// [`Dispatcher::start`], keeping `held` (a place among the woken runs)
    /// until the run's task ends, or dropping it at once when no task starts.
    fn start_holding<T: Send + 'static>(&self, run: String, held: T) {
        if self.engine.wake_running(&run) {
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
            drop(held);
        });
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

    /// Delivers stored events, oldest first, a batch at a time.
    ///
    /// One batch is in flight while the next is read and queued: the writer
    /// commits a batch's writes while its successor's candidates are read, so
    /// delivery does not stop for every commit. The events already queued are
    /// passed by `seq`; after a failure everything undelivered is read again
    /// (delivering twice is harmless: runs start by idempotency key, waits
    /// resolve by compare-and-set).
    async fn deliveries(self: Arc<Self>) {
        let this = &*self;
        let mut after = 0;
        let mut in_flight: Vec<Queued<'_>> = Vec::new();
        loop {
            let notified = this.events.notified();
            let batch = this
                .store
                .undelivered_events_after(after, EVENT_BATCH)
                .await;
            let step = match batch {
                Ok(batch) if batch.is_empty() && in_flight.is_empty() => {
                    notified.await;
                    continue;
                }
                Ok(batch) if batch.is_empty() => this.settle(std::mem::take(&mut in_flight)).await,
                Ok(batch) => {
                    after = batch.last().map_or(after, |event| event.seq);
                    match this.queue_all(&batch).await {
                        Ok(queued) => this.settle(std::mem::replace(&mut in_flight, queued)).await,
                        Err(error) => Err(error),
                    }
                }
                Err(error) => Err(error),
            };
            if let Err(error) = step {
                tracing::warn!(%error, "event delivery failed; trying again in 1s");
                in_flight.clear();
                after = 0;
                this.clock.sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }

    /// Delivers one event: runs of its listeners, then its waiting runs.
    pub async fn deliver(&self, event: &StoredEvent) -> Result<(), store::Error> {
        let queued = self.queue_all(std::slice::from_ref(event)).await?;
        self.settle(queued).await
    }

    /// Waits for queued writes to commit and starts the runs they created.
    async fn settle(&self, writes: Vec<Queued<'_>>) -> Result<(), store::Error> {
        for write in writes {
            if let Some((run, new)) = write.await? {
                self.start_new(run, new);
            }
        }
        Ok(())
    }

    /// Queues the delivery of events, in order: for each, a run of every
    /// listener and the waiting runs whose predicate holds; then one write
    /// marking them delivered. The writes are queued in event order without
    /// waiting for each commit (the store's writer commits them together), so
    /// when two events match one wait the earlier one resolves it; reads of
    /// candidates are one read for the batch. [`Dispatcher::settle`] waits for them.
    async fn queue_all(&self, events: &[StoredEvent]) -> Result<Vec<Queued<'_>>, store::Error> {
        let mut writes: Vec<Queued<'_>> = Vec::new();
        for event in events {
            let Some(name) = event.topic.strip_prefix("event:") else {
                continue;
            };
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
                let started = self.store.start_run(new.clone());
                writes.push(Box::pin(async move {
                    let started = started.await?;
                    Ok(started.created.then_some((started.run, new)))
                }));
            }
        }
        // The candidates of every event, read at once.
        let mut key_paths: HashMap<&str, Vec<Vec<String>>> = HashMap::new();
        for event in events {
            if !key_paths.contains_key(event.topic.as_str()) {
                let paths = self
                    .store
                    .key_paths(&event.topic)
                    .await?
                    .iter()
                    .filter_map(|path| serde_json::from_str::<Vec<String>>(path).ok())
                    .collect();
                key_paths.insert(&event.topic, paths);
            }
        }
        let mut lookups = Vec::with_capacity(events.len());
        for event in events {
            let keys: Vec<String> = key_paths
                .get(event.topic.as_str())
                .into_iter()
                .flatten()
                .filter_map(|path| {
                    let text = key_at(&event.payload, path)
                        .and_then(|json| correlate::key_text(&Value::from_json(json)))?;
                    Some(key_value(path, &text))
                })
                .collect();
            lookups.push((event.topic.clone(), keys, event.emitted_at));
        }
        let candidates = self.store.matching_waits_many(lookups).await?;
        for (event, candidates) in events.iter().zip(candidates) {
            for wait in candidates {
                if self.engine.wait_matches(&wait, &event.payload).await {
                    let result = serde_json::json!({ "ok": event.payload });
                    let resolved = self.store.resolve_wait(&wait.run, &wait.path, result);
                    writes.push(Box::pin(async move {
                        resolved.await?;
                        Ok(None)
                    }));
                }
            }
        }
        let delivered = self
            .store
            .mark_delivered(events.iter().map(|event| event.seq).collect());
        writes.push(Box::pin(async move {
            delivered.await?;
            Ok(None)
        }));
        Ok(writes)
    }
}
