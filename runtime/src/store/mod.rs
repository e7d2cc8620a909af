//! The store: everything the runtime must not forget, behind one trait.
//!
//! A run is durable because its journal is: deployments (the IR a run executes),
//! runs (input, status, output), the step journal (each attempt's start and result),
//! webhook deliveries and secret blobs all live here, and the engine reads them back
//! after a crash to resume every run that had not finished. [`Store`] is the
//! interface the engine, the server and the CLI program against; [`sqlite`] is the
//! embedded implementation (one writer thread with group commit, read-only readers),
//! and PostgreSQL is meant to be a second implementation of the same trait.
//!
//! Methods return boxed futures rather than using `async fn` so that the trait stays
//! object-safe (`Arc<dyn Store>`), as [`Clock`](crate::clock::Clock) does. Every
//! timestamp comes from the store's [`Clock`](crate::clock::Clock) and every id from
//! its [`IdGen`], so tests are deterministic.

pub mod sqlite;

mod ids;
mod migrate;
mod waits;
mod writer;

pub use ids::{IdGen, RandomIds, SequentialIds};
pub use waits::{
    NewWait, Resolution, StoredEvent, Wait, WaitKind, WaitStatus, Wake, Wakes, key_at, key_value,
};

use crate::clock::Millis;
use flowc_compiler::ir::Program;
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A future returned by a [`Store`] method.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The result of a store operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database itself failed (IO, corruption, a constraint we did not expect).
    #[error("database error: {0}")]
    Database(String),
    /// The thing an operation names does not exist.
    #[error("no {kind} `{id}`")]
    NotFound { kind: &'static str, id: String },
    /// The operation contradicts what is stored: a step attempt journaled twice, a
    /// finished run finished again.
    #[error("{0}")]
    Conflict(String),
    /// A stored value cannot be read back (IR of another version, broken JSON).
    #[error("stored {what} cannot be read: {message}")]
    Corrupt { what: &'static str, message: String },
    /// The database was written by a newer flowc.
    #[error(
        "the database schema is version {found}, newer than this build's {latest}; upgrade flowc"
    )]
    SchemaTooNew { found: i64, latest: i64 },
    /// A PRAGMA did not take the value the store needs (for example, WAL is not
    /// available on this file system).
    #[error("PRAGMA {pragma} is `{found}`, expected `{expected}`")]
    Pragma {
        pragma: &'static str,
        found: String,
        expected: String,
    },
    /// The store was closed, or its writer stopped.
    #[error("the store is closed")]
    Closed,
}

/// A deployment's id.
pub type DeploymentId = String;
/// A run's id.
pub type RunId = String;

/// A stored program: the IR, its content hash and whether new runs use it.
#[derive(Clone, Debug, PartialEq)]
pub struct Deployment {
    pub id: DeploymentId,
    /// `ir::Program::hash()`: deploying the same program twice finds this one.
    pub hash: String,
    /// 1, 2, 3, … in the order deployments were first stored.
    pub version: i64,
    /// The names of the workflows the program defines.
    pub workflows: Vec<String>,
    pub active: bool,
    pub created_at: Millis,
    /// The program itself, read back from its CBOR form.
    pub program: Arc<Program>,
}

/// A deployment without its program, for listings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeploymentSummary {
    pub id: DeploymentId,
    pub hash: String,
    pub version: i64,
    pub workflows: Vec<String>,
    pub active: bool,
    pub created_at: Millis,
}

/// What `deploy` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployed {
    pub id: DeploymentId,
    pub version: i64,
    /// False when a deployment with the same hash already existed; it is returned
    /// unchanged (and its `active` flag is untouched).
    pub created: bool,
}

/// Where a run is in its life. The first three are "non-terminal": a restart
/// resumes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Stored, not yet picked up by the engine.
    Pending,
    /// Being interpreted.
    Running,
    /// Parked on a timer, callback, approval or event.
    Waiting,
    Succeeded,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Waiting,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    /// The name stored in the database and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Waiting => "waiting",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<RunStatus> {
        RunStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
    }

    /// Succeeded, failed or cancelled: nothing more will happen to the run.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

/// A request to start a run.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRun {
    pub deployment: DeploymentId,
    pub workflow: String,
    /// The workflow's input, already validated against its parameter type.
    pub input: serde_json::Value,
    /// Maps a repeated delivery to the run it already started: unique per workflow.
    pub idempotency_key: Option<String>,
    /// What started the run: `webhook`, `schedule`, `event`, `manual`, `api`,
    /// `replay`, … (free text, shown in listings).
    pub trigger: String,
    /// The webhook delivery that asked for the run, recorded in the same
    /// transaction whether or not a new run is created.
    pub delivery: Option<Delivery>,
    /// The `webhook` record the workflow reads (headers without authentication,
    /// query, method, path, remote address); `None` when no webhook started it.
    pub webhook: Option<serde_json::Value>,
    /// The run this one replays, for `trigger: "replay"`.
    pub replay_of: Option<RunId>,
}

/// One webhook request that was accepted (verified and valid), recorded in the
/// delivery history by `start_run` as `accepted` when it created its run and
/// `duplicate` when its provider delivery id or idempotency key found one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub method: String,
    pub path: String,
    /// The provider's id of the delivery (`X-GitHub-Delivery`, `webhook-id`, …):
    /// a delivery whose id an earlier one of the same workflow had, within the
    /// retention, maps to that delivery's run. Checked before the idempotency key.
    pub delivery_id: Option<String>,
    /// The HTTP status the request is answered with (202; a `respond: wait`
    /// answer is set later with [`Store::set_delivery_status`]).
    pub status: u16,
}

/// What `start_run` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    pub run: RunId,
    /// False when the provider delivery id or the idempotency key already named a
    /// run of this workflow: `run` is that run, and nothing new was stored except
    /// the delivery.
    pub created: bool,
    /// The delivery's row in the history, when the run came from a webhook.
    pub delivery: Option<String>,
}

/// What became of a webhook delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// Verified and valid: it started a run (or, for Slack's URL verification,
    /// was answered without one).
    Accepted,
    /// Verified and valid, and mapped to the run an earlier delivery with the
    /// same provider id or idempotency key started.
    Duplicate,
    /// Refused: no run.
    Rejected,
}

impl DeliveryOutcome {
    pub const ALL: [DeliveryOutcome; 3] = [
        DeliveryOutcome::Accepted,
        DeliveryOutcome::Duplicate,
        DeliveryOutcome::Rejected,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Accepted => "accepted",
            DeliveryOutcome::Duplicate => "duplicate",
            DeliveryOutcome::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryOutcome> {
        DeliveryOutcome::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == text)
    }
}

/// A delivery recorded on its own, without starting a run: a refusal, or an
/// answer that needs no run (Slack's URL verification).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    pub method: String,
    pub path: String,
    pub workflow: String,
    pub outcome: DeliveryOutcome,
    pub status: u16,
    /// Why (`signature mismatch`); never a secret, a signature or the body.
    pub reason: Option<String>,
    pub delivery_id: Option<String>,
}

/// One delivery of the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredDelivery {
    pub id: String,
    pub received_at: Millis,
    pub method: String,
    pub path: String,
    pub workflow: String,
    pub outcome: DeliveryOutcome,
    /// `None` for deliveries recorded before the history kept statuses.
    pub status: Option<u16>,
    pub reason: Option<String>,
    pub delivery_id: Option<String>,
    pub idempotency_key: Option<String>,
    /// The run it started or was mapped to; `None` when refused.
    pub run: Option<RunId>,
    /// Whether this delivery created `run`.
    pub created_run: bool,
}

/// Which deliveries `list_deliveries` returns; `None` matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub path: Option<String>,
    pub outcome: Option<DeliveryOutcome>,
}

/// One page of the delivery history, newest first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeliveryPage {
    pub deliveries: Vec<StoredDelivery>,
    /// The cursor (a delivery id) for the next page, when there may be one.
    pub next: Option<String>,
}

/// A run as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Run {
    pub id: RunId,
    pub deployment: DeploymentId,
    pub workflow: String,
    pub status: RunStatus,
    pub trigger: String,
    pub input: serde_json::Value,
    pub output: Option<serde_json::Value>,
    pub error: Option<serde_json::Value>,
    pub idempotency_key: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// The `webhook` record the run reads, when a webhook started it.
    pub webhook: Option<serde_json::Value>,
    /// The run this one replays.
    pub replay_of: Option<RunId>,
    /// How many times the run was retried after failing (0 for most runs).
    pub retries: i64,
    /// The run whose `call` started this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<RunId>,
    /// A paused run starts no new step until resumed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
}

/// A run with its journal, steps in the order they started.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunDetail {
    pub run: Run,
    pub steps: Vec<Step>,
    /// What the run waits or waited for (timers, handles, awaits, children).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waits: Vec<Wait>,
}

/// How a finished run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum RunOutcome {
    Succeeded(serde_json::Value),
    Failed(serde_json::Value),
    Cancelled,
    /// Not an end: the interpretation stopped because the run parked (a wait),
    /// was paused or queued for a slot; something will wake it. Never stored.
    Waiting,
}

/// Where a step attempt is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Journaled before its effect; a restart that finds a step here knows the
    /// effect may or may not have happened.
    Started,
    Succeeded,
    Failed,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Started => "started",
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<StepStatus> {
        [
            StepStatus::Started,
            StepStatus::Succeeded,
            StepStatus::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// One attempt of one step, as journaled.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    /// The step path: `check`, `items[3].price`.
    pub path: String,
    /// 1 for the first attempt.
    pub attempt: i64,
    pub status: StepStatus,
    pub input: Option<serde_json::Value>,
    pub output: Option<serde_json::Value>,
    pub error: Option<serde_json::Value>,
    pub started_at: Millis,
    pub finished_at: Option<Millis>,
    /// The run's `retries` when this attempt was journaled: a failure from an
    /// older generation than the run's is not replayed after a retry.
    pub generation: i64,
}

/// How a step attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub enum StepOutcome {
    Succeeded(serde_json::Value),
    Failed(serde_json::Value),
}

/// One write of a run's journal, for [`Store::journal`]: each variant is the write
/// of the method it names.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// [`Store::set_run_status`].
    Status(RunStatus),
    /// [`Store::step_started`].
    StepStarted {
        path: String,
        attempt: i64,
        input: Option<serde_json::Value>,
    },
    /// [`Store::step_finished`].
    StepFinished {
        path: String,
        attempt: i64,
        outcome: StepOutcome,
    },
    /// [`Store::record_step`].
    Record {
        path: String,
        output: serde_json::Value,
    },
    /// [`Store::finish_run`].
    Finish(RunOutcome),
    /// Opens a wait (a timer, a handle, an await, a child); a child wait links
    /// the child run (`detail.run`) to this run, and is resolved at once when the
    /// child has already ended.
    OpenWait(NewWait),
    /// Stores an event for delivery (`topic` is `event:NAME`), once per
    /// (run, path).
    Emit {
        path: String,
        topic: String,
        payload: serde_json::Value,
    },
    /// Sets (`Some`) or removes (`None`) a key of a workflow's context.
    SetContext {
        workflow: String,
        key: String,
        value: Option<serde_json::Value>,
    },
}

/// Which runs `list_runs` returns; `None` matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunFilter {
    pub workflow: Option<String>,
    pub status: Option<RunStatus>,
    pub deployment: Option<DeploymentId>,
}

/// A page request: newest first, at most `limit` runs, after the run `after`
/// (the `next` of the previous page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub after: Option<RunId>,
}

impl Default for Page {
    fn default() -> Page {
        Page {
            limit: 50,
            after: None,
        }
    }
}

/// One page of runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunPage {
    pub runs: Vec<Run>,
    /// The cursor for the next page, when there may be one.
    pub next: Option<RunId>,
}

/// The ids of the runs of `workflow` (of any, when `None`) in each of
/// `statuses`: every page of [`Store::list_runs`], newest first within a status.
pub async fn run_ids(
    store: &dyn Store,
    workflow: Option<&str>,
    statuses: &[RunStatus],
) -> Result<Vec<RunId>> {
    let mut ids = Vec::new();
    for status in statuses {
        let mut after = None;
        loop {
            let filter = RunFilter {
                workflow: workflow.map(str::to_owned),
                status: Some(*status),
                deployment: None,
            };
            let page = store.list_runs(filter, Page { limit: 1000, after }).await?;
            ids.extend(page.runs.into_iter().map(|run| run.id));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    Ok(ids)
}

/// A secret as stored: ciphertext and nonce only. Encryption is the vault's job;
/// the store never sees a plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBlob {
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
}

impl std::fmt::Debug for SecretBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBlob")
            .field(
                "ciphertext",
                &format_args!("{} bytes", self.ciphertext.len()),
            )
            .field("nonce", &format_args!("{} bytes", self.nonce.len()))
            .finish()
    }
}

/// A stored secret's blob and when it was last set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSecret {
    pub name: String,
    pub blob: SecretBlob,
    pub updated_at: Millis,
}

/// A secret's name and when it was last set (never its value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecretName {
    pub name: String,
    pub updated_at: Millis,
}

/// What the runtime stores. Writes are durable when their future resolves: a
/// caller may acknowledge a webhook or perform an effect only after that.
pub trait Store: Send + Sync + 'static {
    // ------------------------------------------------------------ deployments

    /// Stores a program, or finds the deployment with the same hash. A new
    /// deployment starts inactive.
    fn deploy(&self, program: &Program) -> BoxFuture<'_, Result<Deployed>>;

    /// Makes a deployment the one new runs of its workflows use, and deactivates
    /// every other active deployment that defines one of those workflows. Returns
    /// the ids of the deployments it deactivated.
    fn activate(&self, deployment: &str) -> BoxFuture<'_, Result<Vec<DeploymentId>>>;

    /// Stops new runs from using a deployment (running ones keep it).
    fn deactivate(&self, deployment: &str) -> BoxFuture<'_, Result<()>>;

    fn get_deployment(&self, deployment: &str) -> BoxFuture<'_, Result<Option<Deployment>>>;

    /// Every deployment, newest first, without programs.
    fn list_deployments(&self) -> BoxFuture<'_, Result<Vec<DeploymentSummary>>>;

    /// Every active deployment with its program, oldest first: what the server
    /// routes webhooks to.
    fn active_deployments(&self) -> BoxFuture<'_, Result<Vec<Deployment>>>;

    // ------------------------------------------------------------ runs

    /// Stores a pending run, or finds the run the idempotency key already started.
    fn start_run(&self, run: NewRun) -> BoxFuture<'_, Result<Started>>;

    /// Moves a non-terminal run to another non-terminal status (pending, running,
    /// waiting).
    fn set_run_status(&self, run: &str, status: RunStatus) -> BoxFuture<'_, Result<()>>;

    /// Ends a run. A run that already ended is a [`Error::Conflict`].
    fn finish_run(&self, run: &str, outcome: RunOutcome) -> BoxFuture<'_, Result<()>>;

    /// Cancels a run that has not ended (pending, running or waiting); a run that
    /// already ended is a [`Error::Conflict`], a missing one [`Error::NotFound`].
    /// The engine's later journal writes for the run then fail with a conflict,
    /// which is how an engine that missed the signal still stops.
    fn cancel_run(&self, run: &str) -> BoxFuture<'_, Result<()>> {
        self.finish_run(run, RunOutcome::Cancelled)
    }

    /// Reopens a failed run for a retry: back to pending, its error cleared, its
    /// `retries` counted up, its journal kept (steps that succeeded keep their
    /// results; failed ones run again). A run that is not failed is a
    /// [`Error::Conflict`].
    fn retry_run(&self, run: &str) -> BoxFuture<'_, Result<()>>;

    fn get_run(&self, run: &str) -> BoxFuture<'_, Result<Option<RunDetail>>>;

    fn list_runs(&self, filter: RunFilter, page: Page) -> BoxFuture<'_, Result<RunPage>>;

    /// Every non-terminal run, oldest first.
    fn runs_to_resume(&self) -> BoxFuture<'_, Result<Vec<Run>>>;

    /// The pending and running runs that are not paused, oldest first: what a
    /// restart starts again. Parked runs are left to what wakes them, so a
    /// restart with 100,000 parked runs does not read them all.
    fn runs_to_restart(&self) -> BoxFuture<'_, Result<Vec<Run>>> {
        Box::pin(async {
            let mut runs = self.runs_to_resume().await?;
            runs.retain(|run| run.status != RunStatus::Waiting && !run.paused);
            Ok(runs)
        })
    }

    // ------------------------------------------------------------ journal

    /// Journals the start of a step attempt, before its effect, and touches the
    /// run's `updated_at` in the same transaction. An attempt journaled twice is a
    /// [`Error::Conflict`]: after a crash the engine starts the next attempt.
    fn step_started(
        &self,
        run: &str,
        path: &str,
        attempt: i64,
        input: Option<serde_json::Value>,
    ) -> BoxFuture<'_, Result<()>>;

    /// Journals a step attempt's result and touches the run's `updated_at`, in one
    /// transaction. The attempt must have been started and not finished.
    fn step_finished(
        &self,
        run: &str,
        path: &str,
        attempt: i64,
        outcome: StepOutcome,
    ) -> BoxFuture<'_, Result<()>>;

    /// Journals a value with no effect behind it (a `now()` or `uuid()` result) as
    /// a finished first attempt, in one write.
    fn record_step(
        &self,
        run: &str,
        path: &str,
        output: serde_json::Value,
    ) -> BoxFuture<'_, Result<()>>;

    /// Several writes of one run's journal, in order, as one write. The engine
    /// sends what a step's effect must wait for (the previous step's result, the
    /// values `now()` and `uuid()` drew, the run's `running` status) together with
    /// the step's start, and the last step's result with the run's end, so a step
    /// costs one commit round trip instead of two or three.
    ///
    /// The first write that fails stops the rest and its error is returned. The
    /// default runs the writes one after the other, each its own commit; a store
    /// that can should commit them together, all or none (SQLite does).
    fn journal(&self, run: &str, writes: Vec<Write>) -> BoxFuture<'_, Result<()>> {
        let run = run.to_owned();
        Box::pin(async move {
            for write in writes {
                match write {
                    Write::Status(status) => self.set_run_status(&run, status).await?,
                    Write::StepStarted {
                        path,
                        attempt,
                        input,
                    } => self.step_started(&run, &path, attempt, input).await?,
                    Write::StepFinished {
                        path,
                        attempt,
                        outcome,
                    } => self.step_finished(&run, &path, attempt, outcome).await?,
                    Write::Record { path, output } => self.record_step(&run, &path, output).await?,
                    Write::Finish(outcome) => self.finish_run(&run, outcome).await?,
                    Write::OpenWait(_) | Write::Emit { .. } | Write::SetContext { .. } => {
                        return Err(Error::Database(
                            "this store cannot journal waits, events or context".into(),
                        ));
                    }
                }
            }
            Ok(())
        })
    }

    // ------------------------------------------------------------ deliveries

    /// Records a delivery that starts no run (a refusal, Slack's URL
    /// verification); returns its id. Accepted deliveries are recorded by
    /// [`Store::start_run`], in the run's transaction. The default keeps nothing
    /// and says so.
    fn record_delivery(&self, delivery: NewDelivery) -> BoxFuture<'_, Result<String>> {
        drop(delivery);
        Box::pin(async {
            Err(Error::Database(
                "this store keeps no delivery history".into(),
            ))
        })
    }

    /// Sets the status a delivery was answered with, once it is known (a
    /// `respond: wait` webhook answers when its run ends).
    fn set_delivery_status(&self, delivery: &str, status: u16) -> BoxFuture<'_, Result<()>> {
        let _ = (delivery, status);
        Box::pin(async { Ok(()) })
    }

    /// The delivery history, newest first, a page at a time (`page.after` is a
    /// delivery id).
    fn list_deliveries(
        &self,
        filter: DeliveryFilter,
        page: Page,
    ) -> BoxFuture<'_, Result<DeliveryPage>> {
        let _ = (filter, page);
        Box::pin(async {
            Ok(DeliveryPage {
                deliveries: Vec::new(),
                next: None,
            })
        })
    }

    /// Deletes the deliveries received before `before` (the history and the
    /// provider ids a redelivery is matched against); returns how many.
    fn prune_deliveries(&self, before: Millis) -> BoxFuture<'_, Result<u64>> {
        let _ = before;
        Box::pin(async { Ok(0) })
    }

    // ------------------------------------------------------------ orchestration

    /// Where the store announces runs to interpret or stop, and stored events,
    /// once the transaction that caused them has committed.
    fn wakes(&self) -> &Wakes;

    /// Journals `writes`, then parks the run (status `waiting`) unless one of the
    /// waits at `awaiting` is no longer open: a resolution that raced the park.
    /// True when parked; false when the run must go on (it stays `running`).
    fn park(
        &self,
        run: &str,
        writes: Vec<Write>,
        awaiting: Vec<String>,
    ) -> BoxFuture<'_, Result<bool>>;

    /// Resolves the open wait at (`run`, `path`) with `result` (`{"ok": v}` or
    /// `{"error": e}`) and wakes its run if it was parked, in one transaction.
    fn resolve_wait(
        &self,
        run: &str,
        path: &str,
        result: serde_json::Value,
    ) -> BoxFuture<'_, Result<Resolution>>;

    /// The wait of a handle, by the SHA-256 (hex) of its token.
    fn wait_by_token(&self, token: &str) -> BoxFuture<'_, Result<Option<Wait>>>;

    /// Open waits of `kind`, oldest first, at most `limit` (the approvals a
    /// person has to look at).
    fn open_waits(&self, kind: WaitKind, limit: u32) -> BoxFuture<'_, Result<Vec<Wait>>>;

    /// The earliest deadline of an open wait.
    fn next_deadline(&self) -> BoxFuture<'_, Result<Option<Millis>>>;

    /// Resolves (timers) or times out (everything else) up to `limit` open waits
    /// whose deadline is at or before `now`, waking their runs; a run's own
    /// `deadline` fails the run. Returns how many waits it handled.
    fn fire_due(&self, now: Millis, limit: u32) -> BoxFuture<'_, Result<usize>>;

    /// Stores an event from outside a run (`topic` is `event:NAME` or
    /// `webhook:METHOD /path`), to be delivered.
    fn store_event(
        &self,
        topic: &str,
        payload: serde_json::Value,
    ) -> BoxFuture<'_, Result<StoredEvent>>;

    /// Events not yet delivered, oldest first, at most `limit`.
    fn undelivered_events(&self, limit: u32) -> BoxFuture<'_, Result<Vec<StoredEvent>>>;

    /// Events not yet delivered whose `seq` is above `after`, oldest first, at
    /// most `limit`: what a deliverer that has already queued the earlier ones
    /// reads next.
    fn undelivered_events_after(
        &self,
        after: i64,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<StoredEvent>>> {
        Box::pin(async move {
            let mut events = self.undelivered_events(u32::MAX).await?;
            events.retain(|event| event.seq > after);
            events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            Ok(events)
        })
    }

    /// Marks events delivered, in one write.
    fn mark_delivered(&self, seqs: Vec<i64>) -> BoxFuture<'_, Result<()>>;

    /// The key paths (JSON arrays of field names) that waits on `topic` use.
    fn key_paths(&self, topic: &str) -> BoxFuture<'_, Result<Vec<String>>>;

    /// The open waits on `topic` created at or before `at` whose key value is one
    /// of `keys`, or that have no key.
    fn matching_waits(
        &self,
        topic: &str,
        keys: Vec<String>,
        at: Millis,
    ) -> BoxFuture<'_, Result<Vec<Wait>>>;

    /// [`Store::matching_waits`] for several messages at once, answers in
    /// order: `(topic, keys, at)` each.
    fn matching_waits_many(
        &self,
        lookups: Vec<(String, Vec<String>, Millis)>,
    ) -> BoxFuture<'_, Result<Vec<Vec<Wait>>>> {
        Box::pin(async move {
            let mut all = Vec::with_capacity(lookups.len());
            for (topic, keys, at) in lookups {
                all.push(self.matching_waits(&topic, keys, at).await?);
            }
            Ok(all)
        })
    }

    /// The events on `topic` stored at or after `since`, oldest first (the
    /// lookback window of a correlated wait).
    fn recent_events(
        &self,
        topic: &str,
        since: Millis,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<StoredEvent>>>;

    /// A workflow's context, by key.
    fn get_context(
        &self,
        workflow: &str,
    ) -> BoxFuture<'_, Result<std::collections::BTreeMap<String, serde_json::Value>>>;

    /// Sets or (with `None`) removes keys of a workflow's context, in one write.
    fn patch_context(
        &self,
        workflow: &str,
        entries: Vec<(String, Option<serde_json::Value>)>,
    ) -> BoxFuture<'_, Result<()>>;

    /// Pauses or resumes a run that has not ended.
    fn set_paused(&self, run: &str, paused: bool) -> BoxFuture<'_, Result<()>>;

    // ------------------------------------------------------------ secrets

    /// Stores or replaces a secret's encrypted blob.
    fn put_secret(&self, name: &str, blob: SecretBlob) -> BoxFuture<'_, Result<()>>;

    fn get_secret(&self, name: &str) -> BoxFuture<'_, Result<Option<StoredSecret>>>;

    /// Every secret's name, sorted; never a value.
    fn list_secrets(&self) -> BoxFuture<'_, Result<Vec<SecretName>>>;

    /// Removes a secret; false when there was none.
    fn delete_secret(&self, name: &str) -> BoxFuture<'_, Result<bool>>;

    // ------------------------------------------------------------ schedules

    /// Starts the run of one fire of an `on schedule` trigger: in one transaction,
    /// records that `new.workflow` fired at `fire_at` (the instant its cron
    /// expression matched) and starts `new` as [`Store::start_run`] would. Returns
    /// `None`, storing nothing, when that workflow's fire at `fire_at` was already
    /// recorded: a scheduler that restarts never starts a fire twice. The default
    /// keeps no fires and says so.
    fn fire_schedule(
        &self,
        new: NewRun,
        fire_at: Millis,
    ) -> BoxFuture<'_, Result<Option<Started>>> {
        let _ = (new, fire_at);
        Box::pin(async { Err(Error::Database("this store keeps no schedule fires".into())) })
    }

    /// The latest fire time recorded for `workflow` by [`Store::fire_schedule`],
    /// whichever deployment fired it.
    fn last_fire(&self, workflow: &str) -> BoxFuture<'_, Result<Option<Millis>>> {
        let _ = workflow;
        Box::pin(async { Ok(None) })
    }
}
