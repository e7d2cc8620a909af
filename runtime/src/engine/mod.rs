//! The engine: interprets one run of an [`ir::Workflow`], durably, against the
//! journal.
//!
//! [`Engine::run`] loads a run and the deployment it is pinned to, binds the input
//! to the workflow's parameter slots and interprets the body **from the top**
//! (DESIGN.md, "durable by journal"). Every step consults the journal first, by its
//! step path: a step with a finished attempt returns the recorded result (or
//! raises the recorded error) without running again; otherwise the engine
//! journals `step_started` (attempt n + 1 after a crash left attempt n started),
//! performs the effect through [`outbound`](crate::outbound::Client) with
//! `Idempotency-Key: {run_id}/{step_path}`, and journals `step_finished` with the
//! result or the error. A step's expressions are evaluated even when its result is
//! replayed, so `now()` and `uuid()` calls are met in the same order on every
//! replay; their values are journaled too (see `context.rs`), so a replay sees the
//! same values. A step's result is always the journaled JSON read back with the
//! step's type, on the first run as on a replay, so both see the same value.
//!
//! Commits. Only a step's start must be committed before its effect; the run's
//! `running` status, the `now()`/`uuid()` values and the previous step's result
//! only need to be committed before the *next* effect or the run's end. So they
//! are queued and sent with the next step's start, or with the run's end, as one
//! [`Store::journal`] write: one commit round trip per step instead of two, and
//! one writer job where there were three. A crash loses only queued writes that
//! nothing outside the process has depended on; a step whose result was lost is
//! found `started` and sent again under the same `Idempotency-Key`, exactly as
//! after a crash between the effect and its journal entry.
//!
//! Run control. [`Engine::cancel`] ends a run as cancelled in the store, then
//! signals the task interpreting it (a registry of running runs, each with a
//! `watch` channel): the interpreter checks the signal before every step and
//! abandons an HTTP call in flight, and a run found cancelled is never finished
//! again, whatever the interpreter was doing (a journal write that fails because
//! the run ended is how a run cancelled by another process stops).
//! [`Engine::retry`] reopens a failed run (`retry_run` counts the run's `retries`
//! up) and interprets it again: succeeded steps replay their results, while a step
//! whose latest attempt failed in an older *generation* than the run's is sent
//! again as attempt n + 1. Failures journaled in the current generation are
//! replayed as before, so resuming a run after a crash never repeats a failed
//! step. [`Engine::replay`] starts a new run of the same deployment and workflow
//! with the same or another input (`trigger: "replay"`, `replay_of`).
//!
//! The `webhook` record a delivery stored with its run is what `webhook` reads
//! (`null` for runs that no webhook started). Events go to `tracing` with the
//! fields `run_id`, `step`, `attempt`, `status` and `duration_ms`; no secret or
//! header value is ever a field.
//!
//! `return v` ends the run as succeeded with `v` (the end of the body with `null`);
//! an error no `try` catches ends it as failed with `{code, kind, message, step?,
//! status?, span?}` ([`RunError`]). Failures of the engine itself (the store) leave
//! the run as it is, to be resumed by interpreting it again.
//!
//! Secrets: `secrets.NAME` stays a name through evaluation; the vault is asked
//! only when a request is built (`secrets.rs`), and journaled step inputs show
//! [`REDACTED`] for header values that hold one. The checker already keeps secrets
//! out of URLs, bodies, outputs and errors. What a downstream echoes back is the
//! second net's: every journal write is scrubbed with the runtime's
//! [`Redactor`] (taught each value before the request that sends it), and a step's
//! result and error are scrubbed before the run reads them, so the first run sees
//! what a replay will (a number that held a secret becomes the string `***`).
//!
//! Waiting (`waits.rs`). `wait`, `await` (of a handle, an event, a webhook) and
//! `call` **park** the run: the step's start and its wait are journaled, the run
//! is `waiting`, and its task ends ([`RunOutcome::Waiting`]). What resolves the
//! wait (the dispatcher's timer loop, a callback, an approval, an event, the
//! child's end) wakes the run through the store, and it is interpreted from the
//! top again, every finished step replaying. Parking is a compare-and-set in the
//! store that refuses when a wait it would park on was resolved meanwhile, so a
//! delivery racing the park is never lost; the interpretation simply goes on.
//! `emit` and `set context` are journaled with the run's next commit, once.
//!
//! Fan-out (`fanout.rs`): `for` iterations and `parallel` branches are forks of
//! the interpreter run concurrently on the run's task, each with its own step
//! paths (`items[3].price`) and recorded values; see there.
//!
//! Settings: `max_concurrency` queues extra runs (first come, first served; a
//! parked run keeps its slot), `timeout` opens a `#deadline` wait when the run
//! first starts (the store fails the run when it is due, and every step checks it
//! too), `on_success`/`on_failure` start a workflow or POST the run's result
//! after its end is committed. [`Engine::pause`] stops a run at its next step
//! boundary until [`Engine::resume`].
//!
//! Every statement of SPEC.md runs; `R0201` remains for IR this build cannot
//! interpret. Still to come: leases against two engines running one run at once.
//! Expressions are evaluated on the calling task; a worst case is bounded by
//! [`Limits`].
//!
//! Expressions of a deployment's program are evaluated by the deployment's
//! tiered evaluator ([`crate::jit::Evaluator`], `--jit`), kept with the program
//! in the engine's cache: interpreted until hot, then native code with the
//! interpreter's meaning. [`Engine::retire`] drops a deployment from the cache,
//! and with the last run using it its compiled code. Expressions the engine
//! builds as it goes (a `match` statement's chooser, residual predicates) are
//! interpreted.

mod context;
mod error;
mod fanout;
mod secrets;
mod waits;

pub use context::{is_recorded_path, now_path, uuid_path};
pub use error::{
    ALL, AWAIT_TIMEOUT, CANNOT_START, CHILD_CANCELLED, CHILD_FAILED, Error, FAILED, JOURNAL,
    RANDOMNESS, RUN_TIMEOUT, RunError, UNSUPPORTED, VAULT,
};
pub use secrets::{
    MissingSecret, NoSecrets, REDACTED, Resolved, SecretSource, missing_secrets,
    referenced_secrets, scrub_outcome, scrub_writes,
};
pub use waits::{ApprovalDecision, HandleError, hash_token};

use crate::clock::Clock;
use crate::jit::{self, Evaluator};
use crate::outbound::step::{self, ConnectionValues, Origin, StepValues};
use crate::outbound::{self, Auth, Client, HeaderValue, Request, Response};
use crate::store::{
    self as stores, NewRun, RunOutcome, RunStatus, Started, Step, StepOutcome, StepStatus, Store,
    Wait, Write,
};
use crate::vault::Redactor;
use context::Recorder;
use flowc_compiler::eval::{Frame, Limits};
use flowc_compiler::ir::{
    self, Expr, ExprKind, HttpRequest, MatchArm, Program, StepAction, Stmt, StmtArm, StmtKind,
    Workflow,
};
use flowc_compiler::ty::{Ty, TypeTable};
use flowc_compiler::value::Value;
use serde_json::{Value as Json, json};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::watch;

/// Runs workflows: one per runtime, shared by every run.
pub struct Engine {
    store: Arc<dyn Store>,
    client: Arc<Client>,
    secrets: Arc<dyn SecretSource>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    /// The runtime-wide second net, shared with the client (which teaches it the
    /// OAuth 2 tokens it is issued): every journal write is scrubbed with it.
    redactor: Redactor,
    /// The runs this engine is interpreting, each with the senders of its
    /// cancellation signals (one per task interpreting it).
    running: Mutex<HashMap<String, Vec<watch::Sender<bool>>>>,
    /// Programs already read from the store, by deployment id, each with its
    /// tiered evaluator. A deployment's program never changes once stored, and
    /// decoding its CBOR (and copying its type table for the outbound client) on
    /// every run was the largest cost of a short run; deployments are few, and
    /// one leaves the cache only when retired ([`Engine::retire`]).
    programs: Mutex<HashMap<String, Loaded>>,
    /// How the deployments' evaluators compile (`--jit`, `--jit-threshold`).
    jit: jit::Options,
    /// Where handle URLs point: `{public_url}/callbacks/{token}`.
    public_url: String,
    /// Runs paused by [`Engine::pause`]: they stop at their next step boundary.
    paused: Mutex<HashSet<String>>,
    /// The runs holding a slot of a workflow with `max_concurrency`, and those
    /// queued for one, by workflow.
    slots: Mutex<HashMap<String, Slots>>,
    /// Runs woken while a task was interpreting them ([`Engine::wake_running`]):
    /// that task interprets them once more if it stops short of an end. Locked
    /// only while `running` is.
    again: Mutex<HashSet<String>>,
}

/// The slots of one workflow with `max_concurrency`.
#[derive(Debug, Default)]
struct Slots {
    /// Whether the holders were read from the store since this process started.
    loaded: bool,
    holders: HashSet<String>,
    /// Queued runs by creation (`created_at`, id), oldest first.
    queue: VecDeque<(crate::clock::Millis, String)>,
}

/// A deployment's program, decoded once, its evaluator, and its type table
/// shared with the outbound client.
#[derive(Clone)]
struct Loaded {
    program: Arc<Program>,
    /// Evaluates the expressions of `program` (and of no other program).
    evaluator: Arc<Evaluator>,
    types: Arc<TypeTable>,
    /// The workflows that read or write `context`: only their runs load it.
    uses_context: Arc<HashSet<String>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        client: Arc<Client>,
        secrets: Arc<dyn SecretSource>,
        clock: Arc<dyn Clock>,
    ) -> Engine {
        Engine {
            redactor: client.redactor().clone(),
            store,
            client,
            secrets,
            clock,
            limits: Limits::default(),
            running: Mutex::new(HashMap::new()),
            programs: Mutex::new(HashMap::new()),
            jit: jit::Options::default(),
            public_url: "http://127.0.0.1:8080".into(),
            paused: Mutex::new(HashSet::new()),
            slots: Mutex::new(HashMap::new()),
            again: Mutex::new(HashSet::new()),
        }
    }

    /// The base of the URLs handles give out (`flowc serve --public-url`).
    pub fn with_public_url(mut self, url: impl Into<String>) -> Engine {
        self.public_url = url.into().trim_end_matches('/').to_string();
        self
    }

    /// The base of the URLs handles give out.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The clock the engine reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The store the engine journals to.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The redactor that scrubs what the engine journals: the client's.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Cancels a run that has not ended: the store first (so the cancellation
    /// survives a crash), then the task interpreting it, if this engine has one,
    /// which stops before its next step or abandons the HTTP call it is waiting
    /// on. A run that already ended is a store conflict; a missing one is
    /// [`Error::RunNotFound`].
    pub async fn cancel(&self, run_id: &str) -> Result<(), Error> {
        match self.store.cancel_run(run_id).await {
            Ok(()) => {}
            Err(stores::Error::NotFound { .. }) => {
                return Err(Error::RunNotFound(run_id.to_string()));
            }
            Err(error) => return Err(error.into()),
        }
        tracing::info!(run_id, status = "cancelled", "run cancelled");
        self.release_slot(run_id);
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        for signal in running.get(run_id).into_iter().flatten() {
            signal.send_replace(true);
        }
        Ok(())
    }

    /// Reopens a failed run for [`Engine::retry`] without interpreting it: what a
    /// server calls before handing the run to a task of its own. A run that is
    /// not failed is a store conflict.
    pub async fn reopen(&self, run_id: &str) -> Result<(), Error> {
        match self.store.retry_run(run_id).await {
            Ok(()) => {
                tracing::info!(run_id, status = "pending", "run reopened for a retry");
                Ok(())
            }
            Err(stores::Error::NotFound { .. }) => Err(Error::RunNotFound(run_id.to_string())),
            Err(error) => Err(error.into()),
        }
    }

    /// Retries a failed run from its failed step: earlier results are kept, the
    /// step that failed is sent again as its next attempt.
    pub async fn retry(&self, run_id: &str) -> Result<RunOutcome, Error> {
        self.reopen(run_id).await?;
        self.run(run_id).await
    }

    /// Stores a new run of the workflow and deployment of run `run_id`, with
    /// `input` (checked against the workflow's parameter type) or the original's
    /// input, `trigger: "replay"` and `replay_of` naming the original. The caller
    /// hands the new run to [`Engine::run`].
    pub async fn replay(&self, run_id: &str, input: Option<Json>) -> Result<Started, Error> {
        let original = self
            .store
            .get_run(run_id)
            .await?
            .ok_or_else(|| Error::RunNotFound(run_id.to_string()))?
            .run;
        let input = match input {
            Some(input) => {
                let loaded = self.program(run_id, &original.deployment).await?;
                let program = &loaded.program;
                if let Some(workflow) = program.workflow(&original.workflow) {
                    check_input(program, workflow, &input).map_err(|mismatch| Error::Input {
                        workflow: original.workflow.clone(),
                        mismatch,
                    })?;
                }
                input
            }
            None => original.input.clone(),
        };
        let started = self
            .store
            .start_run(NewRun {
                deployment: original.deployment.clone(),
                workflow: original.workflow.clone(),
                input,
                idempotency_key: None,
                trigger: "replay".into(),
                delivery: None,
                webhook: original.webhook.clone(),
                replay_of: Some(original.id.clone()),
            })
            .await?;
        tracing::info!(
            run_id = started.run.as_str(),
            replay_of = run_id,
            status = "pending",
            "run replayed"
        );
        Ok(started)
    }

    /// Whether this engine is interpreting `run_id` right now.
    pub fn is_running(&self, run_id: &str) -> bool {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(run_id)
            .is_some_and(|signals| !signals.is_empty())
    }

    /// Hands a wake of `run_id` (a resolved wait, a resume, a free slot) to the
    /// task interpreting it, if this engine has one: when that task stops short
    /// of an end (parked, paused, queued) it reads the run again and goes on,
    /// so a wake that came after it read the run is not lost. False when no
    /// task is interpreting the run: the caller starts one.
    pub fn wake_running(&self, run_id: &str) -> bool {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.get(run_id).is_none_or(Vec::is_empty) {
            return false;
        }
        self.again
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(run_id.to_string());
        true
    }

    /// Whether the task of `registration` must interpret its run again (a wake
    /// came in meanwhile); otherwise its registration ends here, in the same
    /// critical section as [`Engine::wake_running`]'s check, so no wake falls
    /// between the two.
    fn again(&self, registration: &Registration<'_>) -> bool {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let run_id = registration.run_id;
        if self
            .again
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(run_id)
        {
            return true;
        }
        if let Some(signals) = running.get_mut(run_id) {
            signals.retain(|signal| !signal.same_channel(&registration.sender));
            if signals.is_empty() {
                running.remove(run_id);
            }
        }
        false
    }

    /// Registers a task interpreting `run_id`; the registration ends when the
    /// returned guard is dropped.
    fn register<'e>(&'e self, run_id: &'e str) -> (Registration<'e>, watch::Receiver<bool>) {
        let (sender, receiver) = watch::channel(false);
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(run_id.to_string())
            .or_default()
            .push(sender.clone());
        (
            Registration {
                engine: self,
                run_id,
                sender,
            },
            receiver,
        )
    }

    /// How expressions are compiled (`--jit`): from the next deployment this
    /// engine loads on. Set it before the engine runs anything.
    pub fn with_jit(mut self, options: jit::Options) -> Engine {
        self.jit = options;
        self
    }

    /// How expressions are compiled.
    pub fn jit(&self) -> jit::Options {
        self.jit
    }

    /// The evaluator of `deployment`, when the engine has its program loaded.
    pub fn evaluator(&self, deployment: &str) -> Option<Arc<Evaluator>> {
        self.programs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(deployment)
            .map(|loaded| Arc::clone(&loaded.evaluator))
    }

    /// The program and evaluator of `deployment`, loaded from `program` (a copy
    /// the caller has read from the store) unless the engine has them already:
    /// what the server's routes evaluate with, so a webhook's expressions and
    /// its runs' share one evaluator. The program returned is the one the
    /// evaluator knows; expressions must be taken from it.
    pub fn adopt(
        &self,
        deployment: &str,
        program: &Arc<Program>,
    ) -> (Arc<Program>, Arc<Evaluator>) {
        let loaded = self.cache(deployment, Arc::clone(program));
        (loaded.program, loaded.evaluator)
    }

    /// Drops `deployment`'s program and evaluator from the cache: once the runs
    /// using them end, the evaluator's compiled code is freed. A later run of
    /// the deployment loads it again (interpreting from cold).
    pub fn retire(&self, deployment: &str) {
        let retired = self
            .programs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(deployment);
        if retired.is_some() {
            tracing::debug!(deployment, "deployment retired from the engine");
        }
    }

    /// Retires every loaded deployment but those `keep` names (the server's
    /// active deployments, after a change of them).
    pub fn retire_all_but(&self, keep: &HashSet<&str>) {
        let retired: Vec<Loaded> = {
            let mut programs = self.programs.lock().unwrap_or_else(PoisonError::into_inner);
            let gone: Vec<String> = programs
                .keys()
                .filter(|id| !keep.contains(id.as_str()))
                .cloned()
                .collect();
            gone.iter().filter_map(|id| programs.remove(id)).collect()
        };
        // Dropped outside the lock: an evaluator's drop frees its code and
        // reports its final counts to the metrics.
        drop(retired);
    }

    /// Bounds on every expression evaluated by a run.
    pub fn with_limits(mut self, limits: Limits) -> Engine {
        self.limits = limits;
        self
    }

    /// Interprets run `run_id` from the top until it ends, and journals how it
    /// ended. A run that has already ended is left alone and its stored outcome
    /// returned; a run cancelled while it was interpreted ends as
    /// [`RunOutcome::Cancelled`] without another write.
    pub async fn run(&self, run_id: &str) -> Result<RunOutcome, Error> {
        self.supervise(run_id, None).await
    }

    /// Interprets a run that `start_run` has just stored from `new` (and created:
    /// nothing journaled yet), like [`Engine::run`] but without reading the run
    /// back: what a server that has just accepted a webhook already knows is
    /// exactly what the store holds. Should the run have changed meanwhile (a
    /// cancellation), the first journal write fails and the run ends as the store
    /// says.
    pub async fn run_new(&self, run_id: &str, new: NewRun) -> Result<RunOutcome, Error> {
        let run = stores::Run {
            id: run_id.to_string(),
            deployment: new.deployment,
            workflow: new.workflow,
            status: RunStatus::Pending,
            trigger: new.trigger,
            input: new.input,
            output: None,
            error: None,
            idempotency_key: new.idempotency_key,
            // Not read by the engine; the store keeps the real times.
            created_at: 0,
            updated_at: 0,
            webhook: new.webhook,
            replay_of: new.replay_of,
            retries: 0,
            parent: None,
            paused: false,
        };
        let detail = stores::RunDetail {
            run,
            steps: Vec::new(),
            waits: Vec::new(),
        };
        self.supervise(run_id, Some(detail)).await
    }

    /// Registers the run for cancellation, interprets it (read from the store
    /// unless `known`) and logs how it ended.
    async fn supervise(
        &self,
        run_id: &str,
        known: Option<stores::RunDetail>,
    ) -> Result<RunOutcome, Error> {
        let (registration, cancel) = self.register(run_id);
        let began = self.clock.now_ms();
        let detail = match known {
            Some(detail) => Ok(detail),
            None => match self.store.get_run(run_id).await {
                Ok(Some(detail)) => Ok(detail),
                Ok(None) => Err(Error::RunNotFound(run_id.to_string())),
                Err(error) => Err(error.into()),
            },
        };
        let live = crate::metrics::global().run_started(detail.as_ref().ok().map(|d| &d.run));
        let (workflow, mut result) = match detail {
            Ok(detail) => (
                detail.run.workflow.clone(),
                self.interpret(detail, cancel.clone()).await,
            ),
            Err(error) => (String::new(), Err(error)),
        };
        // Stopped short of an end: a wake that came meanwhile was handed to this
        // task, which goes on from the run as the store has it now.
        while matches!(result, Ok(RunOutcome::Waiting)) && self.again(&registration) {
            result = match self.reread(run_id).await {
                Ok(detail) => self.interpret(detail, cancel.clone()).await,
                Err(error) => Err(error),
            };
        }
        drop(registration);
        live.finished(&result);
        let duration_ms = self.clock.now_ms().saturating_sub(began);
        // A failure of the engine is the caller's to report (the server logs it).
        if let Ok(outcome) = &result {
            let status = match outcome {
                RunOutcome::Succeeded(_) => "succeeded",
                RunOutcome::Failed(_) => "failed",
                RunOutcome::Cancelled => "cancelled",
                // Parked, paused or queued: not an end.
                RunOutcome::Waiting => return result,
            };
            tracing::info!(
                run_id,
                workflow = workflow.as_str(),
                status,
                duration_ms,
                "run ended"
            );
        }
        result
    }

    async fn interpret(
        &self,
        mut detail: stores::RunDetail,
        cancel: watch::Receiver<bool>,
    ) -> Result<RunOutcome, Error> {
        // Interpreted again from the top when a park finds a wait already
        // resolved (a delivery raced it): at most once per wait it was about to
        // park on, since a resolved wait is never parked on again.
        loop {
            let run = &detail.run;
            let run_id = run.id.as_str();
            if run.status.is_terminal() {
                // Ended from outside (cancelled, timed out): its slot is free.
                self.release_slot(run_id);
                return Ok(stored_outcome(run));
            }
            // Not added to `paused`, which is for the pauses of this process: a
            // resume may have removed the run from it since the read.
            if run.paused {
                return Ok(RunOutcome::Waiting);
            }
            let loaded = self.program(run_id, &run.deployment).await?;
            let program = &loaded.program;
            let Some(workflow) = program.workflow(&run.workflow) else {
                return self
                    .end(
                        run,
                        Vec::new(),
                        RunOutcome::Failed(
                            RunError::new(
                                CANNOT_START,
                                "start",
                                format!(
                                    "workflow `{}` is not in deployment `{}`",
                                    run.workflow, run.deployment
                                ),
                            )
                            .uncatchable()
                            .to_json(),
                        ),
                        None,
                    )
                    .await;
            };
            if let Some(max) = workflow.settings.max_concurrency
                && !self.take_slot(run, max).await?
            {
                tracing::debug!(run_id, status = "pending", "run queued: max_concurrency");
                return Ok(RunOutcome::Waiting);
            }
            // Not a commit of its own: the status goes with the first step's start
            // (or the run's end), which is the first thing anyone outside could
            // notice.
            let mut queued = Vec::new();
            if run.status != RunStatus::Running {
                queued.push(Write::Status(RunStatus::Running));
            }
            // `run ended` says the rest at `info`; one line per run is enough there.
            tracing::debug!(
                run_id,
                workflow = run.workflow.as_str(),
                trigger = run.trigger.as_str(),
                retries = run.retries,
                status = "running",
                "run started"
            );
            let context = if loaded.uses_context.contains(&run.workflow) {
                self.store.get_context(&run.workflow).await?
            } else {
                BTreeMap::new()
            };
            let mut interp = Interp::new(
                self,
                &detail,
                &loaded,
                workflow,
                Arc::new(Mutex::new(context)),
                cancel.clone(),
            );
            interp.deadline = self.deadline(&detail, workflow, &mut queued);
            interp.queued = queued;
            let result = interp.execute(workflow, &run.input).await;
            let queued = std::mem::take(&mut interp.queued);
            drop(interp);
            let outcome = match result {
                Ok(output) => RunOutcome::Succeeded(output.to_json()),
                Err(Stop::Fault(error)) => RunOutcome::Failed(error.to_json()),
                Err(Stop::Cancelled) => return Ok(RunOutcome::Cancelled),
                Err(Stop::Engine(error)) => return self.unless_ended(run_id, error).await,
                Err(Stop::Park(awaiting)) => {
                    let mut writes = queued;
                    scrub_writes(&self.redactor.current(), &mut writes);
                    match self.store.park(run_id, writes, awaiting).await {
                        Ok(true) => {
                            tracing::debug!(run_id, status = "waiting", "run parked");
                            return Ok(RunOutcome::Waiting);
                        }
                        Ok(false) => {
                            detail = self.reread(run_id).await?;
                            continue;
                        }
                        Err(error) => return self.unless_ended(run_id, error.into()).await,
                    }
                }
                Err(Stop::Paused) => {
                    let mut writes = queued;
                    writes.push(Write::Status(RunStatus::Pending));
                    scrub_writes(&self.redactor.current(), &mut writes);
                    return match self.store.journal(run_id, writes).await {
                        Ok(()) => {
                            tracing::info!(run_id, status = "paused", "run paused");
                            Ok(RunOutcome::Waiting)
                        }
                        Err(error) => self.unless_ended(run_id, error.into()).await,
                    };
                }
                Err(Stop::Aborted) => {
                    return Err(Error::Store(stores::Error::Conflict(
                        "a branch stopped outside a `for` or `parallel`".into(),
                    )));
                }
            };
            return self.end(run, queued, outcome, Some(workflow)).await;
        }
    }

    /// Journals a run's end with what is still queued, then frees its slot and
    /// starts its `on_success`/`on_failure` hook.
    async fn end(
        &self,
        run: &stores::Run,
        mut queued: Vec<Write>,
        mut outcome: RunOutcome,
        workflow: Option<&Workflow>,
    ) -> Result<RunOutcome, Error> {
        // What the caller gets is what the journal holds: scrubbed.
        let scrubber = self.redactor.current();
        scrub_outcome(&scrubber, &mut outcome);
        scrub_writes(&scrubber, &mut queued);
        // The last step's result (and anything else queued) commits with the end.
        queued.push(Write::Finish(outcome.clone()));
        match self.store.journal(&run.id, queued).await {
            Ok(()) => {
                if let Some(workflow) = workflow {
                    self.release_slot(&run.id);
                    self.hooks(run, workflow, &outcome).await;
                }
                Ok(outcome)
            }
            Err(error) => self.unless_ended(&run.id, error.into()).await,
        }
    }

    /// The run as the store has it now.
    async fn reread(&self, run_id: &str) -> Result<stores::RunDetail, Error> {
        self.store
            .get_run(run_id)
            .await?
            .ok_or_else(|| Error::RunNotFound(run_id.to_string()))
    }

    /// When the run's `timeout` passes: read from its `#deadline` wait, or set now
    /// (from the first interpretation) and queued as that wait.
    fn deadline(
        &self,
        detail: &stores::RunDetail,
        workflow: &Workflow,
        queued: &mut Vec<Write>,
    ) -> Option<crate::clock::Millis> {
        let timeout = workflow.settings.timeout_ms?;
        if let Some(wait) = detail.waits.iter().find(|wait| wait.path == DEADLINE_PATH) {
            return wait.deadline;
        }
        let began = if detail.run.created_at > 0 {
            detail.run.created_at
        } else {
            self.clock.now_ms()
        };
        let deadline = began.saturating_add(timeout);
        let mut wait = stores::NewWait::new(DEADLINE_PATH, stores::WaitKind::Deadline);
        wait.deadline = Some(deadline);
        queued.push(Write::OpenWait(wait));
        Some(deadline)
    }

    /// The program of `deployment` (which run `run_id` is pinned to), from the
    /// cache or else the store.
    async fn program(&self, run_id: &str, deployment: &str) -> Result<Loaded, Error> {
        if let Some(loaded) = self
            .programs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(deployment)
        {
            return Ok(loaded.clone());
        }
        let stored = self
            .store
            .get_deployment(deployment)
            .await?
            .ok_or_else(|| Error::DeploymentNotFound {
                run: run_id.to_string(),
                deployment: deployment.to_string(),
            })?;
        Ok(self.cache(deployment, stored.program))
    }

    /// The cache's entry for `deployment`, made from `program` if there is none
    /// (the first of two concurrent loads wins; the other's copy is dropped).
    fn cache(&self, deployment: &str, program: Arc<Program>) -> Loaded {
        if let Some(loaded) = self
            .programs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(deployment)
        {
            return loaded.clone();
        }
        // Built outside the lock: it walks the whole program.
        let loaded = Loaded {
            types: Arc::new(program.types.clone()),
            uses_context: Arc::new(context_users(&program)),
            evaluator: Evaluator::new(Arc::clone(&program), self.jit),
            program,
        };
        self.programs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(deployment.to_string())
            .or_insert(loaded)
            .clone()
    }

    /// A failed write for a run that was cancelled meanwhile is the cancellation,
    /// not a failure of the engine.
    async fn unless_ended(&self, run_id: &str, error: Error) -> Result<RunOutcome, Error> {
        match self.store.get_run(run_id).await {
            Ok(Some(detail)) if detail.run.status.is_terminal() => Ok(stored_outcome(&detail.run)),
            _ => Err(error),
        }
    }

    fn paused_runs(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.paused.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `run_id` was paused in this process.
    pub fn is_paused(&self, run_id: &str) -> bool {
        self.paused_runs().contains(run_id)
    }

    /// Pauses a run that has not ended: no new step starts until it is resumed
    /// (a step in flight finishes; a parked run stays parked).
    pub async fn pause(&self, run_id: &str) -> Result<(), Error> {
        self.store
            .set_paused(run_id, true)
            .await
            .map_err(|error| not_found_as_run(run_id, error))?;
        self.paused_runs().insert(run_id.to_string());
        tracing::info!(run_id, "run paused");
        Ok(())
    }

    /// Resumes a paused run; the store announces it to the dispatcher.
    pub async fn resume(&self, run_id: &str) -> Result<(), Error> {
        self.paused_runs().remove(run_id);
        self.store
            .set_paused(run_id, false)
            .await
            .map_err(|error| not_found_as_run(run_id, error))?;
        tracing::info!(run_id, "run resumed");
        Ok(())
    }

    /// Stops the tasks interpreting `run_id` (which the store ended: its timeout,
    /// a parent's cancellation) at their next step boundary or HTTP call.
    pub fn stop(&self, run_id: &str) {
        self.release_slot(run_id);
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        for signal in running.get(run_id).into_iter().flatten() {
            signal.send_replace(true);
        }
    }

    /// Takes a slot of the run's workflow (`max_concurrency`), or queues the run
    /// and says no. Slots go in creation order: a run takes one only when one
    /// is free and no older run of the workflow wants one, whether queued here
    /// or still on its way (pending in the store, not paused, its task not yet
    /// arrived: tasks are spawned at once and arrive in any order).
    async fn take_slot(&self, run: &stores::Run, max: u32) -> Result<bool, Error> {
        let loaded = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&run.workflow)
            .is_some_and(|slots| slots.loaded);
        let found = if loaded {
            Vec::new()
        } else {
            // Runs that began before this process started hold their slots.
            let holding = [RunStatus::Running, RunStatus::Waiting];
            stores::run_ids(self.store.as_ref(), Some(&run.workflow), &holding).await?
        };
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        // A run handed over by `run_new` does not know its creation time.
        let created_at = if run.created_at > 0 {
            run.created_at
        } else {
            self.reread(&run.id).await?.run.created_at
        };
        let key = (created_at, run.id.clone());
        let holders = {
            let mut all = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            let slots = all.entry(run.workflow.clone()).or_default();
            if !slots.loaded {
                slots.loaded = true;
                slots.holders.extend(found);
            }
            if slots.holders.contains(&run.id)
                || matches!(run.status, RunStatus::Running | RunStatus::Waiting)
            {
                slots.holders.insert(run.id.clone());
                return Ok(true);
            }
            if !slots.queue.contains(&key) {
                let at = slots.queue.partition_point(|queued| *queued < key);
                slots.queue.insert(at, key.clone());
            }
            if slots.holders.len() >= max || slots.queue.front() != Some(&key) {
                return Ok(false);
            }
            slots.holders.clone()
        };
        if self.older_unadmitted(run, &holders).await? {
            return Ok(false);
        }
        let next = {
            let mut all = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            let slots = all.entry(run.workflow.clone()).or_default();
            if slots.holders.len() >= max || slots.queue.front() != Some(&key) {
                return Ok(false);
            }
            slots.queue.pop_front();
            slots.holders.insert(run.id.clone());
            // Another slot is free: the next queued run may take it.
            if slots.holders.len() < max {
                slots.queue.front().map(|(_, next)| next.clone())
            } else {
                None
            }
        };
        if let Some(next) = next {
            self.store.wakes().push([stores::Wake::Run(next)]);
        }
        Ok(true)
    }

    /// Whether a pending, unpaused run of `run`'s workflow older than `run`,
    /// holding no slot, exists: its task is on its way and goes first.
    async fn older_unadmitted(
        &self,
        run: &stores::Run,
        holders: &HashSet<String>,
    ) -> Result<bool, Error> {
        let mut after = Some(run.id.clone());
        loop {
            let page = self
                .store
                .list_runs(
                    stores::RunFilter {
                        workflow: Some(run.workflow.clone()),
                        status: Some(RunStatus::Pending),
                        deployment: None,
                    },
                    stores::Page { limit: 100, after },
                )
                .await?;
            if page
                .runs
                .iter()
                .any(|older| !older.paused && !holders.contains(&older.id))
            {
                return Ok(true);
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(false),
            }
        }
    }

    /// Frees the slot a run that ended held, or its place in a queue, and wakes
    /// the first queued run of that workflow.
    fn release_slot(&self, run_id: &str) {
        let mut next = Vec::new();
        {
            let mut all = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            for slots in all.values_mut() {
                let held = slots.holders.remove(run_id);
                let queued = slots.queue.len();
                slots.queue.retain(|(_, queued)| queued != run_id);
                if held || slots.queue.len() != queued {
                    next.extend(slots.queue.front().map(|(_, first)| first.clone()));
                }
            }
        }
        if !next.is_empty() {
            self.store
                .wakes()
                .push(next.into_iter().map(stores::Wake::Run));
        }
    }

    /// Starts the `on_success` or `on_failure` hook of an ended run: a run of
    /// the named workflow (input `{run_id, workflow, status, output?, error?}`),
    /// or a POST of that record to the URL. Best effort after the end is
    /// committed: a failure is logged, never the run's.
    async fn hooks(&self, run: &stores::Run, workflow: &Workflow, outcome: &RunOutcome) {
        let (hook, status, result) = match outcome {
            RunOutcome::Succeeded(output) => (
                &workflow.settings.on_success,
                "succeeded",
                ("output", output.clone()),
            ),
            RunOutcome::Failed(error) => (
                &workflow.settings.on_failure,
                "failed",
                ("error", error.clone()),
            ),
            RunOutcome::Cancelled | RunOutcome::Waiting => return,
        };
        let Some(hook) = hook else { return };
        let mut record = serde_json::Map::new();
        record.insert("run_id".into(), json!(run.id));
        record.insert("workflow".into(), json!(run.workflow));
        record.insert("status".into(), json!(status));
        record.insert(result.0.into(), result.1);
        let record = Json::Object(record);
        match hook {
            ir::Hook::Workflow { name } => {
                let started = self
                    .store
                    .start_run(NewRun {
                        deployment: run.deployment.clone(),
                        workflow: name.clone(),
                        input: record,
                        idempotency_key: Some(format!("{}/{status}", run.id)),
                        trigger: format!(
                            "on_{}",
                            if status == "failed" {
                                "failure"
                            } else {
                                "success"
                            }
                        ),
                        delivery: None,
                        webhook: None,
                        replay_of: None,
                    })
                    .await;
                match started {
                    Ok(started) if started.created => {
                        self.store.wakes().push([stores::Wake::Run(started.run)]);
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(
                        run_id = run.id.as_str(),
                        hook = name.as_str(),
                        %error,
                        "the run's hook workflow could not start"
                    ),
                }
            }
            ir::Hook::Url { url } => {
                let mut request = Request::new(outbound::Method::POST, url.clone());
                request.body = outbound::Body::Json(record);
                request.idempotency_key = Some(format!("{}/{status}", run.id));
                request.retry = outbound::Retry {
                    attempts: 3,
                    initial: std::time::Duration::from_secs(1),
                    max: std::time::Duration::from_secs(4),
                };
                if let Err(error) = self.client.send(&request).await {
                    tracing::warn!(
                        run_id = run.id.as_str(),
                        %error,
                        "the run's hook URL could not be called"
                    );
                }
            }
        }
    }
}

/// The path of a run's own `timeout` wait.
const DEADLINE_PATH: &str = "#deadline";

/// How a run that has ended ended, as the store has it.
fn stored_outcome(run: &stores::Run) -> RunOutcome {
    match run.status {
        RunStatus::Succeeded => RunOutcome::Succeeded(run.output.clone().unwrap_or_default()),
        RunStatus::Failed => RunOutcome::Failed(run.error.clone().unwrap_or_default()),
        RunStatus::Cancelled => RunOutcome::Cancelled,
        _ => RunOutcome::Waiting,
    }
}

/// A store's "no such run" as the engine's.
fn not_found_as_run(run_id: &str, error: stores::Error) -> Error {
    match error {
        stores::Error::NotFound { .. } => Error::RunNotFound(run_id.to_string()),
        error => error.into(),
    }
}

/// Whether `input` is what a run of `workflow` takes: the one parameter's type
/// for the whole input, or each parameter's type for the field of its name.
pub fn check_input(
    program: &Program,
    workflow: &Workflow,
    input: &Json,
) -> Result<(), flowc_compiler::value::Mismatch> {
    if let [param] = workflow.params.as_slice() {
        return Value::from_json_typed(input, &param.ty, &program.types).map(drop);
    }
    for param in &workflow.params {
        let field = input.get(&param.name).unwrap_or(&Json::Null);
        Value::from_json_typed(field, &param.ty, &program.types).map_err(|mut mismatch| {
            mismatch.path = format!(".{}{}", param.name, mismatch.path);
            mismatch
        })?;
    }
    Ok(())
}

/// The type a workflow's input has, as Flow writes it: the one parameter's type,
/// or a record of the parameters.
pub fn input_type(workflow: &Workflow) -> String {
    if let [param] = workflow.params.as_slice() {
        return param.ty.to_string();
    }
    let fields: Vec<String> = workflow
        .params
        .iter()
        .map(|param| format!("{}: {}", param.name, param.ty))
        .collect();
    if fields.is_empty() {
        "{}".to_string()
    } else {
        format!("{{ {} }}", fields.join(", "))
    }
}

/// A task's registration in the engine's running runs, removed on drop.
struct Registration<'e> {
    engine: &'e Engine,
    run_id: &'e str,
    sender: watch::Sender<bool>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut running = self
            .engine
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(signals) = running.get_mut(self.run_id) {
            signals.retain(|signal| !signal.same_channel(&self.sender));
            if signals.is_empty() {
                running.remove(self.run_id);
                // A wake handed to the last task of a run that then ended (or
                // failed) is moot: the next wake starts a task of its own.
                self.engine
                    .again
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(self.run_id);
            }
        }
    }
}

/// Resolves once the signal says "cancelled"; never when the signal is gone.
async fn cancelled(mut signal: watch::Receiver<bool>) {
    if signal.wait_for(|cancelled| *cancelled).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Why interpretation stopped early.
enum Stop {
    /// The workflow failed (catchable or not).
    Fault(RunError),
    /// The engine failed: the run is left to be resumed.
    Engine(Error),
    /// The run was cancelled: nothing more is written for it.
    Cancelled,
    /// The run waits for the waits at these paths: it parks.
    Park(Vec<String>),
    /// The run was paused: it stops at this step boundary.
    Paused,
    /// A sibling branch failed: this one stops at its step boundary, and the
    /// sibling's error is what the `for` or `parallel` fails with.
    Aborted,
}

impl From<RunError> for Stop {
    fn from(error: RunError) -> Stop {
        Stop::Fault(error)
    }
}

impl From<crate::store::Error> for Stop {
    fn from(error: crate::store::Error) -> Stop {
        Stop::Engine(Error::Store(error))
    }
}

/// What a statement did to the flow of control.
enum Flow {
    Next,
    Return(Value),
    /// `yield v`: ends the iteration of a collecting `for` with `v`.
    Yield(Value),
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One run being interpreted.
struct Interp<'e> {
    engine: &'e Engine,
    run_id: &'e str,
    /// The run's workflow, for metrics.
    workflow: &'e str,
    /// The run's `retries`: failures journaled in an older generation run again.
    generation: i64,
    cancel: watch::Receiver<bool>,
    program: &'e Program,
    /// The deployment's evaluator: every expression of `program` goes through it.
    evaluator: &'e Evaluator,
    types: Arc<TypeTable>,
    frame: Frame,
    recorder: Recorder,
    /// The latest attempt of every step, by path.
    journal: Arc<HashMap<String, Step>>,
    /// Journal writes made but not yet sent: they commit together with the next
    /// write the engine waits for (a step's start, the run's end), which is before
    /// anything that depends on them leaves the process. A crash loses only what
    /// nobody outside has seen; the journal then says what to redo.
    queued: Vec<Write>,
    /// The run's waits, by path.
    waits: Arc<HashMap<String, Wait>>,
    /// The run's deployment (a `call` starts its child on it).
    deployment: &'e str,
    /// Prefixed to step paths: `""`, or `items[3].` inside a loop.
    prefix: String,
    /// Prefixed to recorded values' paths: the prefix, plus one segment per
    /// enclosing `parallel` branch.
    scope: String,
    /// The path of the handle in each handle slot.
    handles: HashMap<ir::Slot, String>,
    /// Set when a sibling branch failed (one per enclosing `for`/`parallel`).
    aborts: Vec<Arc<AtomicBool>>,
    /// When the run's `timeout` passes, if it has one.
    deadline: Option<crate::clock::Millis>,
}

impl<'e> Interp<'e> {
    fn new(
        engine: &'e Engine,
        detail: &'e stores::RunDetail,
        loaded: &'e Loaded,
        workflow: &Workflow,
        context: context::ContextView,
        cancel: watch::Receiver<bool>,
    ) -> Interp<'e> {
        let run = &detail.run;
        let steps = &detail.steps;
        let mut journal: HashMap<String, Step> = HashMap::new();
        let mut recorded = HashMap::new();
        for step in steps {
            if is_recorded_path(&step.path) {
                if let (StepStatus::Succeeded, Some(output)) = (step.status, &step.output) {
                    recorded.insert(step.path.clone(), output.clone());
                }
                continue;
            }
            match journal.get(&step.path) {
                Some(latest) if latest.attempt >= step.attempt => {}
                _ => {
                    journal.insert(step.path.clone(), step.clone());
                }
            }
        }
        let webhook = run.webhook.as_ref().map_or(Value::Null, Value::from_json);
        let waits = detail
            .waits
            .iter()
            .map(|wait| (wait.path.clone(), wait.clone()))
            .collect();
        Interp {
            engine,
            run_id: &run.id,
            workflow: &run.workflow,
            generation: run.retries,
            cancel,
            program: &loaded.program,
            evaluator: &loaded.evaluator,
            types: Arc::clone(&loaded.types),
            frame: Frame::new(usize::try_from(workflow.frame_size).unwrap_or(0)),
            recorder: Recorder::new(
                Arc::clone(&loaded.program),
                Arc::clone(&engine.clock),
                recorded,
                webhook,
                context,
            ),
            journal: Arc::new(journal),
            queued: Vec::new(),
            waits: Arc::new(waits),
            deployment: &run.deployment,
            prefix: String::new(),
            scope: String::new(),
            handles: HashMap::new(),
            aborts: Vec::new(),
            deadline: None,
        }
    }

    /// The path of the step, handle, `emit` or `set` named `name` here.
    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A copy of this interpreter for a concurrent branch: the same frame,
    /// journal and waits, its own queue, its step paths under `prefix` and its
    /// recorded values under `scope`.
    fn fork(&self, prefix: String, scope: String, abort: &Arc<AtomicBool>) -> Interp<'e> {
        let mut aborts = self.aborts.clone();
        aborts.push(Arc::clone(abort));
        Interp {
            engine: self.engine,
            run_id: self.run_id,
            workflow: self.workflow,
            generation: self.generation,
            cancel: self.cancel.clone(),
            program: self.program,
            evaluator: self.evaluator,
            types: Arc::clone(&self.types),
            frame: self.frame.clone(),
            recorder: self.recorder.fork(scope.clone()),
            journal: Arc::clone(&self.journal),
            queued: Vec::new(),
            waits: Arc::clone(&self.waits),
            deployment: self.deployment,
            prefix,
            scope,
            handles: self.handles.clone(),
            aborts,
            deadline: self.deadline,
        }
    }

    /// What every step checks before it starts: the run was cancelled, paused
    /// or is past its timeout, or a sibling branch failed.
    fn boundary(&self) -> Result<(), Stop> {
        if *self.cancel.borrow() {
            return Err(Stop::Cancelled);
        }
        if self.aborts.iter().any(|abort| abort.load(Ordering::SeqCst)) {
            return Err(Stop::Aborted);
        }
        if self.engine.is_paused(self.run_id) {
            return Err(Stop::Paused);
        }
        if let Some(deadline) = self.deadline
            && self.engine.clock.now_ms() >= deadline
        {
            return Err(Stop::Fault(RunError::run_timeout()));
        }
        Ok(())
    }

    /// Binds the input and runs the body; the run's output.
    async fn execute(&mut self, workflow: &'e Workflow, input: &Json) -> Result<Value, Stop> {
        self.bind_input(workflow, input)?;
        match self.block(&workflow.body).await? {
            Flow::Return(value) => Ok(value),
            Flow::Next | Flow::Yield(_) => Ok(Value::Null),
        }
    }

    fn bind_input(&mut self, workflow: &Workflow, input: &Json) -> Result<(), RunError> {
        let whole = workflow.params.len() == 1;
        for param in &workflow.params {
            let json = if whole {
                input
            } else {
                input.get(&param.name).unwrap_or(&Json::Null)
            };
            let value = Value::from_json_typed(json, &param.ty, &self.program.types).map_err(
                |mismatch| {
                    RunError::new(
                        CANNOT_START,
                        "start",
                        format!(
                            "the input does not have the type of parameter `{}`: {mismatch}",
                            param.name
                        ),
                    )
                    .uncatchable()
                },
            )?;
            self.frame.set(param.slot, value);
        }
        Ok(())
    }

    fn block<'a>(&'a mut self, stmts: &'e [Stmt]) -> BoxFuture<'a, Result<Flow, Stop>> {
        Box::pin(async move {
            for stmt in stmts {
                match self.stmt(stmt).await? {
                    Flow::Next => {}
                    ended => return Ok(ended),
                }
            }
            Ok(Flow::Next)
        })
    }

    async fn stmt(&mut self, stmt: &'e Stmt) -> Result<Flow, Stop> {
        match &stmt.kind {
            StmtKind::Let { slot, value } => {
                let value = self.eval(value).await?;
                self.frame.set(*slot, value);
            }
            StmtKind::Step {
                name,
                slot,
                action,
                ty,
            } => {
                self.boundary()?;
                let path = self.path(name);
                let value = match action {
                    StepAction::Http(request) => self.http(&path, request, ty).await?,
                    StepAction::Call { workflow, input } => {
                        self.call(&path, workflow, input, ty).await?
                    }
                    StepAction::Wait { duration } => self.wait(&path, duration, false).await?,
                    StepAction::WaitUntil { time } => self.wait(&path, time, true).await?,
                    StepAction::Await { handle, kind } => {
                        self.await_handle(&path, *handle, *kind, ty).await?
                    }
                    StepAction::AwaitEvent { .. } | StepAction::AwaitWebhook { .. } => {
                        self.await_message(&path, action, ty).await?
                    }
                };
                self.frame.set(*slot, value);
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                let taken = self.condition(cond).await?;
                return self.block(if taken { then } else { otherwise }).await;
            }
            StmtKind::Match { scrutinee, arms } => {
                let arm = self.arm(scrutinee, arms).await?;
                return self.block(&arm.body).await;
            }
            StmtKind::Try {
                body,
                error_slot,
                handler,
            } => {
                return match self.block(body).await {
                    Err(Stop::Fault(error)) if error.catchable => {
                        self.frame.set(*error_slot, error.to_value());
                        self.block(handler).await
                    }
                    other => other,
                };
            }
            StmtKind::Fail { message } => {
                let message = match self.eval(message).await? {
                    Value::String(text) => text.to_string(),
                    other => other.to_json().to_string(),
                };
                return Err(Stop::Fault(RunError::new(FAILED, "fail", message)));
            }
            StmtKind::Return { value } => {
                let value = match value {
                    Some(value) => self.eval(value).await?,
                    None => Value::Null,
                };
                return Ok(Flow::Return(value));
            }
            StmtKind::Callback {
                name,
                slot,
                timeout,
                ty,
            } => {
                let value = self
                    .handle(name, *slot, timeout.as_ref(), None, Some(ty))
                    .await?;
                self.frame.set(*slot, value);
            }
            StmtKind::Approval {
                name,
                slot,
                timeout,
                message,
            } => {
                let value = self
                    .handle(name, *slot, timeout.as_ref(), Some(message.as_ref()), None)
                    .await?;
                self.frame.set(*slot, value);
            }
            StmtKind::Collect { slot, each } => match self.for_loop(each, true).await? {
                Ok(values) => self.frame.set(*slot, Value::List(Arc::new(values))),
                Err(returned) => return Ok(Flow::Return(returned)),
            },
            StmtKind::For(each) => {
                if let Err(returned) = self.for_loop(each, false).await? {
                    return Ok(Flow::Return(returned));
                }
            }
            StmtKind::Set { name, key, value } => self.set_context(name, key, value).await?,
            StmtKind::Parallel { branches } => return self.parallel(stmt, branches).await,
            StmtKind::Emit {
                name,
                event,
                payload,
            } => self.emit(name, event, payload).await?,
            StmtKind::Yield { value } => {
                let value = self.eval(value).await?;
                return Ok(Flow::Yield(value));
            }
        }
        Ok(Flow::Next)
    }

    // ------------------------------------------------------------ expressions

    /// Evaluates in the run's frame, then journals any `now()`/`uuid()` it drew.
    async fn eval(&mut self, expr: &Expr) -> Result<Value, Stop> {
        let result =
            self.evaluator
                .eval(expr, &mut self.frame, &self.recorder, &self.engine.limits);
        self.flush();
        result.map_err(|error| Stop::Fault(RunError::expression(&error)))
    }

    /// Evaluates an expression that sees no locals (a connection's options).
    async fn eval_detached(&mut self, expr: &Expr) -> Result<Value, Stop> {
        let mut frame = Frame::new(0);
        let result = self
            .evaluator
            .eval(expr, &mut frame, &self.recorder, &self.engine.limits);
        self.flush();
        result.map_err(|error| Stop::Fault(RunError::expression(&error)))
    }

    async fn condition(&mut self, expr: &Expr) -> Result<bool, Stop> {
        let result =
            self.evaluator
                .eval_bool(expr, &mut self.frame, &self.recorder, &self.engine.limits);
        self.flush();
        result.map_err(|error| Stop::Fault(RunError::expression(&error)))
    }

    /// The arm of a `match` statement whose pattern fits, with its bindings set.
    /// The patterns are matched by the evaluator itself (an expression `match`
    /// whose arms give their index), so statements and expressions agree.
    async fn arm(&mut self, scrutinee: &Expr, arms: &'e [StmtArm]) -> Result<&'e StmtArm, Stop> {
        let index = |i: usize| Expr {
            kind: ExprKind::Literal {
                value: ir::Literal::Int {
                    value: i64::try_from(i).unwrap_or(i64::MAX),
                },
            },
            ty: Ty::Int,
            span: scrutinee.span,
        };
        let chooser = Expr {
            kind: ExprKind::Match {
                scrutinee: Box::new(scrutinee.clone()),
                arms: arms
                    .iter()
                    .enumerate()
                    .map(|(i, arm)| MatchArm {
                        pattern: arm.pattern.clone(),
                        body: index(i),
                    })
                    .collect(),
            },
            ty: Ty::Int,
            span: scrutinee.span,
        };
        let chosen = match self.eval(&chooser).await? {
            Value::Int(i) => usize::try_from(i).ok().and_then(|i| arms.get(i)),
            _ => None,
        };
        chosen.ok_or_else(|| {
            Stop::Fault(RunError::new(
                "R0010",
                "expression",
                "no arm of the match fits the value",
            ))
        })
    }

    async fn pairs(&mut self, pairs: &[(String, Expr)]) -> Result<Vec<(String, Value)>, Stop> {
        let mut values = Vec::with_capacity(pairs.len());
        for (name, expr) in pairs {
            values.push((name.clone(), self.eval(expr).await?));
        }
        Ok(values)
    }

    /// Queues the values `now()`/`uuid()` produced since the last flush, to be
    /// journaled before the next effect.
    fn flush(&mut self) {
        for (path, output) in self.recorder.take_pending() {
            self.queued.push(Write::Record { path, output });
        }
    }

    /// Journals `write` and everything queued before it, and waits for the commit.
    async fn commit(&mut self, write: Write) -> Result<(), Stop> {
        let mut writes = std::mem::take(&mut self.queued);
        writes.push(write);
        scrub_writes(&self.engine.redactor.current(), &mut writes);
        self.engine.store.journal(self.run_id, writes).await?;
        Ok(())
    }

    // ------------------------------------------------------------ steps

    /// An `http` step: replayed from the journal, or sent and journaled.
    async fn http(&mut self, path: &str, request: &'e HttpRequest, ty: &Ty) -> Result<Value, Stop> {
        let path = path.to_string();
        // Evaluated even when the result is replayed: see the module docs.
        let values = StepValues {
            url: self.eval(&request.url).await?,
            headers: self.pairs(&request.headers).await?,
            query: self.pairs(&request.query).await?,
            body: match &request.body {
                Some(ir::Body::Json(expr) | ir::Body::Text(expr)) => Some(self.eval(expr).await?),
                None => None,
            },
            auth: match &request.auth {
                Some(expr) => Some(self.eval(expr).await?),
                None => None,
            },
        };
        let connection = match &request.connection {
            Some(name) => {
                let program = self.program;
                let Some(connection) = program.connections.iter().find(|c| &c.name == name) else {
                    let error = outbound::Error::Invalid {
                        reason: format!("connection `{name}` is not in the program"),
                    };
                    return Err(Stop::Fault(RunError::http(&error, &path)));
                };
                let values = ConnectionValues {
                    base_url: self.eval_detached(&connection.base_url).await?,
                    auth: match &connection.auth {
                        Some(expr) => Some(self.eval_detached(expr).await?),
                        None => None,
                    },
                    headers: {
                        let mut headers = Vec::with_capacity(connection.headers.len());
                        for (name, expr) in &connection.headers {
                            headers.push((name.clone(), self.eval_detached(expr).await?));
                        }
                        headers
                    },
                };
                Some((connection, values))
            }
            None => None,
        };

        let attempt = match self.journal.get(&path) {
            Some(step) => match step.status {
                StepStatus::Succeeded => {
                    let output = step.output.clone().unwrap_or_default();
                    return self.read_back(&path, &output, ty);
                }
                StepStatus::Failed if step.generation < self.generation => step.attempt + 1,
                StepStatus::Failed => {
                    let mut error = RunError::from_json(&step.error.clone().unwrap_or_default());
                    if error.step.is_none() {
                        error.step = Some(path.clone());
                    }
                    return Err(Stop::Fault(error));
                }
                StepStatus::Started => step.attempt + 1,
            },
            None => 1,
        };

        let built = self
            .build(&path, request, &values, connection.as_ref())
            .await;
        let input = match &built {
            Ok(request) => describe(request),
            Err(_) => json!({ "method": request.method, "url": values.url.to_json() }),
        };
        // The previous step's result commits here too, before this step's effect.
        self.commit(Write::StepStarted {
            path: path.clone(),
            attempt,
            input: Some(input),
        })
        .await?;
        let began = self.engine.clock.now_ms();
        let result = match built {
            Ok(request) => {
                let send = self.engine.client.send(&request);
                tokio::select! {
                    sent = send => match sent {
                        Ok(response) => Ok(response_value(&response).to_json()),
                        Err(error) => Err(RunError::http(&error, &path)),
                    },
                    () = cancelled(self.cancel.clone()) => {
                        tracing::info!(
                            run_id = self.run_id,
                            step = path.as_str(),
                            attempt,
                            status = "cancelled",
                            "step abandoned: the run was cancelled"
                        );
                        return Err(Stop::Cancelled);
                    }
                }
            }
            Err(error) => Err(error),
        };
        let duration_ms = self.engine.clock.now_ms().saturating_sub(began);
        crate::metrics::global().step_finished(self.workflow, duration_ms, result.is_ok());
        match &result {
            // A step that worked is a detail (its result is in the journal); one
            // that failed is news. At `info`, a busy server would log a line per
            // step, synchronously, on the tasks that run the steps.
            Ok(_) => tracing::debug!(
                run_id = self.run_id,
                step = path.as_str(),
                attempt,
                status = "succeeded",
                duration_ms,
                "step finished"
            ),
            Err(error) => tracing::info!(
                run_id = self.run_id,
                step = path.as_str(),
                attempt,
                status = "failed",
                duration_ms,
                code = error.code.as_str(),
                "step finished"
            ),
        }
        // Scrubbed before this run reads it, so that it reads what a replay will
        // read from the journal.
        let scrubber = self.engine.redactor.current();
        let result = result.map_err(|mut error| {
            if let Cow::Owned(message) = scrubber.scrub(&error.message) {
                error.message = message;
            }
            error
        });
        match result {
            Ok(mut output) => {
                scrubber.scrub_json(&mut output);
                let value = self.read_back(&path, &output, ty);
                self.queued.push(Write::StepFinished {
                    path,
                    attempt,
                    outcome: StepOutcome::Succeeded(output),
                });
                value
            }
            Err(error) => {
                self.queued.push(Write::StepFinished {
                    path,
                    attempt,
                    outcome: StepOutcome::Failed(error.to_json()),
                });
                Err(Stop::Fault(error))
            }
        }
    }

    /// The request of an `http` step, with its secrets filled from the vault.
    async fn build(
        &self,
        path: &str,
        request: &HttpRequest,
        values: &StepValues,
        connection: Option<&(&ir::Connection, ConnectionValues)>,
    ) -> Result<Request, RunError> {
        let mentioned = values
            .headers
            .iter()
            .chain(connection.iter().flat_map(|(_, c)| c.headers.iter()))
            .map(|(_, value)| value)
            .chain(values.auth.iter())
            .chain(connection.iter().filter_map(|(_, c)| c.auth.as_ref()));
        let secrets = Resolved::load(self.engine.secrets.as_ref(), mentioned)
            .await
            .map_err(|message| RunError::new(VAULT, "secret", message).at_step(path))?;
        // Before the request leaves: whatever echoes a value back is scrubbed.
        secrets.teach(&self.engine.redactor);
        step::request(
            request,
            values,
            connection.map(|(ir, values)| (*ir, values)),
            &self.types,
            &secrets,
            Origin {
                run_id: self.run_id,
                step_path: path,
            },
        )
        .map_err(|error| RunError::http(&error, path))
    }

    /// A journaled result as the step's type.
    fn read_back(&self, path: &str, output: &Json, ty: &Ty) -> Result<Value, Stop> {
        Value::from_json_typed(output, ty, &self.program.types).map_err(|mismatch| {
            Stop::Fault(
                RunError::new(
                    JOURNAL,
                    "journal",
                    format!(
                        "the journaled result of step `{path}` does not fit its type {mismatch}"
                    ),
                )
                .at_step(path)
                .uncatchable(),
            )
        })
    }
}

/// What a step's journaled input shows of its request: no secret values.
fn describe(request: &Request) -> Json {
    let headers: serde_json::Map<String, Json> = request
        .headers
        .iter()
        .map(|(name, value)| {
            let shown = match value {
                HeaderValue::Text(text) => text.as_str(),
                HeaderValue::Secret(_) => REDACTED,
            };
            (name.clone(), json!(shown))
        })
        .collect();
    let query: serde_json::Map<String, Json> = request
        .query
        .iter()
        .map(|(name, value)| (name.clone(), json!(value)))
        .collect();
    let body = match &request.body {
        outbound::Body::Empty => Json::Null,
        outbound::Body::Json(json) => json.clone(),
        outbound::Body::Bytes { bytes, .. } => json!(String::from_utf8_lossy(bytes)),
    };
    let auth = match &request.auth {
        Auth::None => "none",
        Auth::ApiKey { .. } => "api_key",
        Auth::Bearer { .. } => "bearer",
        Auth::Basic { .. } => "basic",
        Auth::OAuth2(_) => "oauth2",
    };
    json!({
        "method": request.method.as_str(),
        "url": request.url,
        "query": query,
        "headers": headers,
        "body": body,
        "auth": auth,
    })
}

/// An `http` step's result: `{ status, headers, body }`, repeated headers joined
/// with `, `.
fn response_value(response: &Response) -> Value {
    let mut headers: BTreeMap<&str, String> = BTreeMap::new();
    for (name, value) in &response.headers {
        headers
            .entry(name.as_str())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(value);
            })
            .or_insert_with(|| value.clone());
    }
    let body = match &response.value {
        Some(value) => value.clone(),
        None => response
            .json()
            .map(|json| Value::from_json(&json))
            .unwrap_or(Value::Null),
    };
    Value::record([
        ("status", Value::Int(i64::from(response.status))),
        (
            "headers",
            Value::record(
                headers
                    .into_iter()
                    .map(|(name, value)| (name, Value::string(value))),
            ),
        ),
        ("body", body),
    ])
}

/// The workflows of `program` that read or write `context` (their runs load the
/// context store when they start; others never read it).
fn context_users(program: &Program) -> HashSet<String> {
    fn mentions(json: &Json) -> bool {
        match json {
            Json::Object(map) => {
                matches!(map.get("expr"), Some(Json::String(kind)) if kind == "context")
                    || matches!(map.get("stmt"), Some(Json::String(kind)) if kind == "set")
                    || map.values().any(mentions)
            }
            Json::Array(items) => items.iter().any(mentions),
            _ => false,
        }
    }
    program
        .workflows
        .iter()
        .filter(|workflow| serde_json::to_value(workflow).is_ok_and(|json| mentions(&json)))
        .map(|workflow| workflow.name.clone())
        .collect()
}
