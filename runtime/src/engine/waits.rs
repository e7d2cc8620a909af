//! The statements that park a run: `wait`, handles and their `await`, correlated
//! `await event`/`await webhook`, `call`; and the two that write outside the
//! run, `emit` and `set context`.
//!
//! Each follows one pattern. The step's journal entry is looked at first (a
//! finished step replays its result). Otherwise its wait row is: a resolved wait
//! gives the step its result, journaled now; a timed-out one fails the step with
//! `R0300` (catchable); an open one parks the run again. Without a wait row, the
//! step opens one — queued with the step's start, so both commit with the park —
//! and parks ([`Stop::Park`]). The wait's row, not the run, is what a timer, a
//! delivery or a child's end resolves; a run that is not parked when that happens
//! finds the result when it reaches the step.
//!
//! Handles (`callback(…)`, `approval(…)`) open their wait when they are created,
//! not when awaited, so a delivery before the `await` is kept. Their token is 128
//! random bits, given out in the handle's URLs and stored only as its SHA-256:
//! [`Engine::resolve_callback`] and [`Engine::decide`] look the wait up by that
//! hash, and every unknown or malformed token gets the same answer.

use super::{Engine, Error, Interp, RunError, Stop};
use crate::store::{
    self as stores, NewRun, NewWait, Resolution, StepOutcome, StepStatus, Wait, WaitKind,
    WaitStatus, Write,
};
use flowc_compiler::eval;
use flowc_compiler::ir::{self, Expr, HandleKind, Slot, StepAction};
use flowc_compiler::ty::Ty;
use flowc_compiler::value::{Mismatch, Value};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

/// The most messages a lookback window is searched through.
const LOOKBACK_LIMIT: u32 = 1000;

/// The SHA-256 (hex) of a handle token: what the store keeps and looks up.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A fresh handle token: 128 random bits, as 32 hex digits.
fn new_token() -> Result<String, Stop> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| {
        Stop::Fault(
            RunError::new(
                super::RANDOMNESS,
                "handle",
                format!("no randomness for a handle token: {error}"),
            )
            .uncatchable(),
        )
    })?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Where a waiting step without a result stands in the journal.
#[derive(Clone, Copy, Debug)]
struct Next {
    /// The attempt to journal its result under.
    attempt: i64,
    /// Whether that attempt's start is journaled already.
    started: bool,
}

/// Why a callback delivery or an approval decision was refused.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// No handle has this token (or the run has no open approval): one answer
    /// for every such token.
    #[error("no such callback or approval")]
    Unknown,
    /// The token was used, or its wait timed out or was cancelled.
    #[error("this callback or approval was already used or has expired")]
    Gone,
    /// The body is not of the callback's type.
    #[error("the body does not have the callback's type: {0}")]
    Mismatch(Mismatch),
    /// The engine failed (the store).
    #[error(transparent)]
    Engine(#[from] Error),
}

impl From<stores::Error> for HandleError {
    fn from(error: stores::Error) -> HandleError {
        HandleError::Engine(error.into())
    }
}

/// What a person decided about an approval.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApprovalDecision {
    pub approved: bool,
    pub by: Option<String>,
    pub comment: Option<String>,
}

impl Engine {
    /// The open handle wait of `token`, with its run, if the token is live.
    pub async fn handle_wait(
        &self,
        token: &str,
        kind: WaitKind,
    ) -> Result<(Wait, stores::Run), HandleError> {
        // A token is 32 hex digits; anything else is unknown without a lookup.
        if token.len() != 32 || !token.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(HandleError::Unknown);
        }
        let wait = self
            .store()
            .wait_by_token(&hash_token(&token.to_ascii_lowercase()))
            .await?
            .filter(|wait| wait.kind == kind)
            .ok_or(HandleError::Unknown)?;
        let expired = wait
            .deadline
            .is_some_and(|deadline| self.clock().now_ms() >= deadline);
        if wait.status != WaitStatus::Open || expired {
            return Err(HandleError::Gone);
        }
        let run = self
            .store()
            .get_run(&wait.run)
            .await?
            .ok_or(HandleError::Unknown)?
            .run;
        Ok((wait, run))
    }

    /// Delivers a callback: `body` must have the callback's declared type. The
    /// run resumes (or finds the result at its `await`).
    pub async fn resolve_callback(&self, token: &str, body: Json) -> Result<String, HandleError> {
        let (wait, run) = self.handle_wait(token, WaitKind::Callback).await?;
        let declared = wait
            .detail
            .as_ref()
            .and_then(|detail| detail.get("type"))
            .and_then(|ty| serde_json::from_value::<Ty>(ty.clone()).ok());
        if let Some(ty) = declared {
            let loaded = self.program(&run.id, &run.deployment).await?;
            Value::from_json_typed(&body, &ty, &loaded.program.types)
                .map_err(HandleError::Mismatch)?;
        }
        self.settle(&wait, json!({ "ok": body })).await?;
        tracing::info!(
            run_id = wait.run.as_str(),
            step = wait.path.as_str(),
            "callback delivered"
        );
        Ok(wait.run)
    }

    /// Decides an approval by its token.
    pub async fn decide(
        &self,
        token: &str,
        decision: ApprovalDecision,
    ) -> Result<String, HandleError> {
        let (wait, _) = self.handle_wait(token, WaitKind::Approval).await?;
        self.settle(&wait, approval_result(&decision)).await?;
        tracing::info!(
            run_id = wait.run.as_str(),
            step = wait.path.as_str(),
            approved = decision.approved,
            "approval decided"
        );
        Ok(wait.run)
    }

    /// Decides the oldest open approval of run `run_id` (the admin API, `flowc
    /// approve`). [`HandleError::Unknown`] when the run has none.
    pub async fn decide_run(
        &self,
        run_id: &str,
        decision: ApprovalDecision,
    ) -> Result<String, HandleError> {
        let detail = self
            .store()
            .get_run(run_id)
            .await?
            .ok_or_else(|| HandleError::Engine(Error::RunNotFound(run_id.to_string())))?;
        let now = self.clock().now_ms();
        let wait = detail
            .waits
            .iter()
            .filter(|wait| wait.kind == WaitKind::Approval && wait.status == WaitStatus::Open)
            .filter(|wait| wait.deadline.is_none_or(|deadline| now < deadline))
            .min_by_key(|wait| wait.created_at)
            .ok_or(HandleError::Unknown)?;
        self.settle(wait, approval_result(&decision)).await?;
        tracing::info!(
            run_id,
            step = wait.path.as_str(),
            approved = decision.approved,
            "approval decided"
        );
        Ok(wait.path.clone())
    }

    /// Whether `payload` satisfies the residual predicate of correlated wait
    /// `wait` (evaluated with its deployment's functions and types). A predicate
    /// that fails to evaluate does not hold.
    pub async fn wait_matches(&self, wait: &Wait, payload: &Json) -> bool {
        let Some((predicate, binding, frame)) = stored_predicate(wait) else {
            return false;
        };
        let Some(deployment) = wait
            .detail
            .as_ref()
            .and_then(|detail| detail.get("deployment"))
            .and_then(Json::as_str)
        else {
            return false;
        };
        let Ok(loaded) = self.program(&wait.run, deployment).await else {
            return false;
        };
        let ctx = Matching {
            program: &loaded.program,
            now: self.clock().now_ms(),
        };
        // Bound with the message's declared type (a `time` field is a time), as
        // the run would see it; a message not of that type matches nothing.
        let declared = wait
            .detail
            .as_ref()
            .and_then(|detail| detail.get("type"))
            .and_then(|ty| serde_json::from_value::<Ty>(ty.clone()).ok());
        let message = match declared {
            Some(ty) => match Value::from_json_typed(payload, &ty, &loaded.program.types) {
                Ok(value) => value,
                Err(_) => return false,
            },
            None => Value::from_json(payload),
        };
        predicate_holds(&predicate, binding, frame, message, &ctx, &self.limits)
    }

    async fn settle(&self, wait: &Wait, result: Json) -> Result<(), HandleError> {
        match self
            .store()
            .resolve_wait(&wait.run, &wait.path, result)
            .await?
        {
            Resolution::Woke | Resolution::Resolved => Ok(()),
            Resolution::Gone => Err(HandleError::Gone),
            Resolution::NotFound => Err(HandleError::Unknown),
        }
    }
}

/// What a residual predicate sees: its deployment's functions and types. Its
/// `now()` and `uuid()` calls were folded when the run parked, unless they sit
/// inside a lambda over the message; there they read the matching time.
struct Matching<'p> {
    program: &'p flowc_compiler::ir::Program,
    now: i64,
}

impl eval::Context for Matching<'_> {
    fn now(&self) -> i64 {
        self.now
    }

    fn uuid(&self) -> String {
        eval::uuid_v4(self.now.cast_unsigned(), 0)
    }

    fn function(&self, index: u32) -> Option<&flowc_compiler::ir::Function> {
        self.program.functions.get(usize::try_from(index).ok()?)
    }

    fn types(&self) -> &flowc_compiler::ty::TypeTable {
        &self.program.types
    }
}

fn approval_result(decision: &ApprovalDecision) -> Json {
    json!({ "ok": {
        "approved": decision.approved,
        "by": decision.by,
        "comment": decision.comment,
    }})
}

/// A duration or time operand, in milliseconds.
fn millis(value: &Value) -> Option<i64> {
    match value {
        Value::Duration(ms) | Value::Time(ms) | Value::Int(ms) => Some(*ms),
        _ => None,
    }
}

impl<'e> Interp<'e> {
    /// The journaled result of a step that finished, if it did; otherwise the
    /// attempt to finish it with: the one its start was journaled as, 1, or,
    /// after a retry, the one after a failure of an older generation (waited
    /// for again on its reopened wait).
    fn finished(&self, path: &str, ty: &Ty) -> Result<Result<Value, Next>, Stop> {
        match self.journal.get(path) {
            Some(step) => match step.status {
                StepStatus::Succeeded => {
                    let output = step.output.clone().unwrap_or_default();
                    self.read_back(path, &output, ty).map(Ok)
                }
                StepStatus::Failed if step.generation < self.generation => Ok(Err(Next {
                    attempt: step.attempt + 1,
                    started: false,
                })),
                StepStatus::Failed => {
                    let mut error = RunError::from_json(&step.error.clone().unwrap_or_default());
                    if error.step.is_none() {
                        error.step = Some(path.to_string());
                    }
                    Err(Stop::Fault(error))
                }
                StepStatus::Started => Ok(Err(Next {
                    attempt: step.attempt,
                    started: true,
                })),
            },
            None => Ok(Err(Next {
                attempt: 1,
                started: false,
            })),
        }
    }

    /// Journals the start of `next` unless it is journaled; its attempt.
    fn start(&mut self, path: &str, next: Next, input: Json) -> i64 {
        if !next.started {
            self.queued.push(Write::StepStarted {
                path: path.to_string(),
                attempt: next.attempt,
                input: Some(input),
            });
        }
        next.attempt
    }

    /// Gives a waiting step its result from the wait at `wait_path`, or parks.
    fn consume(
        &mut self,
        path: &str,
        next: Next,
        wait_path: &str,
        input: Json,
        ty: &Ty,
    ) -> Result<Value, Stop> {
        let wait = self.waits.get(wait_path).cloned();
        let Some(wait) = wait else {
            return Err(Stop::Fault(
                RunError::new(
                    super::JOURNAL,
                    "journal",
                    format!("step `{path}` waits for `{wait_path}`, which was never opened"),
                )
                .uncatchable(),
            ));
        };
        let attempt = self.start(path, next, input);
        match wait.status {
            WaitStatus::Open => Err(Stop::Park(vec![wait_path.to_string()])),
            WaitStatus::Cancelled => Err(Stop::Cancelled),
            WaitStatus::Resolved | WaitStatus::TimedOut => {
                let result = wait.result.unwrap_or_default();
                if let Some(error) = result.get("error") {
                    let mut error = RunError::from_json(error);
                    error.step = Some(path.to_string());
                    self.queued.push(Write::StepFinished {
                        path: path.to_string(),
                        attempt,
                        outcome: StepOutcome::Failed(error.to_json()),
                    });
                    return Err(Stop::Fault(error));
                }
                let output = result.get("ok").cloned().unwrap_or(Json::Null);
                let value = self.read_back(path, &output, ty);
                self.queued.push(Write::StepFinished {
                    path: path.to_string(),
                    attempt,
                    outcome: StepOutcome::Succeeded(output),
                });
                value
            }
        }
    }

    /// `wait d` (`until` false) or `wait until t`.
    pub(super) async fn wait(
        &mut self,
        path: &str,
        operand: &Expr,
        until: bool,
    ) -> Result<Value, Stop> {
        let operand = self.eval(operand).await?;
        let next = match self.finished(path, &Ty::Null)? {
            Ok(value) => return Ok(value),
            Err(next) => next,
        };
        if self.waits.contains_key(path) {
            return self.consume(path, next, path, Json::Null, &Ty::Null);
        }
        let Some(ms) = millis(&operand) else {
            return Err(Stop::Fault(RunError::new(
                "R0010",
                "expression",
                "`wait` needs a duration, `wait until` a time",
            )));
        };
        let now = self.engine.clock.now_ms();
        let due = if until {
            ms
        } else {
            now.saturating_add(ms.max(0))
        };
        let input = json!({ "until": crate::clock::format_ms(due) });
        if due <= now {
            // Nothing to wait for: journaled as a step that took no time.
            let attempt = self.start(path, next, input);
            self.queued.push(Write::StepFinished {
                path: path.to_string(),
                attempt,
                outcome: StepOutcome::Succeeded(Json::Null),
            });
            return Ok(Value::Null);
        }
        self.start(path, next, input);
        let mut wait = NewWait::new(path, WaitKind::Timer);
        wait.deadline = Some(due);
        self.queued.push(Write::OpenWait(wait));
        Err(Stop::Park(vec![path.to_string()]))
    }

    /// Evaluates a `timeout:` into a deadline from now.
    async fn deadline_of(&mut self, timeout: Option<&Expr>) -> Result<Option<i64>, Stop> {
        let Some(timeout) = timeout else {
            return Ok(None);
        };
        let value = self.eval(timeout).await?;
        let ms = millis(&value).unwrap_or(0).max(0);
        Ok(Some(self.engine.clock.now_ms().saturating_add(ms)))
    }

    /// `callback(…)` (with its type) or `approval(…)` (with its message): the
    /// handle, recorded at its path with its wait.
    pub(super) async fn handle(
        &mut self,
        name: &str,
        slot: Slot,
        timeout: Option<&Expr>,
        message: Option<Option<&Expr>>,
        ty: Option<&Ty>,
    ) -> Result<Value, Stop> {
        let path = self.path(name);
        self.handles.insert(slot, path.clone());
        let message = match message {
            Some(Some(expr)) => Some(match self.eval(expr).await? {
                Value::String(text) => text.to_string(),
                other => other.to_json().to_string(),
            }),
            _ => None,
        };
        let deadline = self.deadline_of(timeout).await?;
        if let Some(step) = self.journal.get(&path)
            && step.status == StepStatus::Succeeded
        {
            return Ok(Value::from_json(&step.output.clone().unwrap_or_default()));
        }
        let token = new_token()?;
        let base = self.engine.public_url();
        let (kind, handle, detail) = match ty {
            Some(ty) => (
                WaitKind::Callback,
                json!({ "url": format!("{base}/callbacks/{token}") }),
                json!({ "type": ty }),
            ),
            None => (
                WaitKind::Approval,
                json!({
                    "approve_url": format!("{base}/approvals/{token}/approve"),
                    "reject_url": format!("{base}/approvals/{token}/reject"),
                    "review_url": format!("{base}/approvals/{token}"),
                }),
                json!({ "message": message }),
            ),
        };
        // Open from now on for this interpretation too: an `await` of it parks.
        std::sync::Arc::make_mut(&mut self.waits).insert(
            path.clone(),
            Wait {
                run: self.run_id.to_string(),
                path: path.clone(),
                kind,
                status: WaitStatus::Open,
                deadline,
                topic: None,
                key_value: None,
                predicate: None,
                detail: None,
                result: None,
                created_at: self.engine.clock.now_ms(),
                resolved_at: None,
            },
        );
        let mut wait = NewWait::new(path.clone(), kind);
        wait.deadline = deadline;
        wait.token = Some(hash_token(&token));
        wait.detail = Some(detail);
        self.queued.push(Write::Record {
            path,
            output: handle.clone(),
        });
        self.queued.push(Write::OpenWait(wait));
        Ok(Value::from_json(&handle))
    }

    /// `await h` for a callback or approval handle.
    pub(super) async fn await_handle(
        &mut self,
        path: &str,
        handle: Slot,
        kind: HandleKind,
        ty: &Ty,
    ) -> Result<Value, Stop> {
        let next = match self.finished(path, ty)? {
            Ok(value) => return Ok(value),
            Err(next) => next,
        };
        let Some(handle_path) = self.handles.get(&handle).cloned() else {
            return Err(Stop::Fault(
                RunError::new(
                    super::JOURNAL,
                    "journal",
                    format!("`{path}` awaits a handle that was not created on this path"),
                )
                .uncatchable(),
            ));
        };
        let what = match kind {
            HandleKind::Callback => "callback",
            HandleKind::Approval => "approval",
        };
        self.consume(path, next, &handle_path, json!({ what: handle_path }), ty)
    }

    /// `await event …` or `await webhook …`: a correlated wait.
    pub(super) async fn await_message(
        &mut self,
        path: &str,
        action: &'e StepAction,
        ty: &Ty,
    ) -> Result<Value, Stop> {
        let (topic, binding, filter, timeout, key, lookback, message_type) = match action {
            StepAction::AwaitEvent {
                event,
                binding,
                filter,
                timeout,
                key,
                lookback,
            } => {
                let declared = self
                    .program
                    .events
                    .iter()
                    .find(|declared| declared.name == *event)
                    .map(|declared| declared.ty.clone());
                let topic = format!("event:{event}");
                (topic, *binding, filter, timeout, key, lookback, declared)
            }
            StepAction::AwaitWebhook {
                method,
                path: hook,
                binding,
                body,
                filter,
                timeout,
                key,
                lookback,
                ..
            } => {
                let topic = format!("webhook:{method} {hook}");
                let body = Some(body.clone());
                (topic, *binding, filter, timeout, key, lookback, body)
            }
            _ => return Err(Stop::Fault(RunError::unsupported("this await"))),
        };
        // Everything this step evaluates is evaluated on every interpretation,
        // replays included, so `now()` and `uuid()` draws stay in step (see the
        // module docs of `engine`). What the predicate needs of this run is fixed
        // here: the key's value and the residual predicate, which sees only the
        // message. A key value with no text (NaN) can equal nothing: the wait is
        // then tested against every message of its topic instead.
        let key_value = match key {
            Some(key) => {
                let value = self.eval(&key.value).await?;
                flowc_compiler::correlate::key_text(&value)
                    .map(|text| stores::key_value(&key.path, &text))
            }
            None => None,
        };
        let residual = eval::residual(
            filter,
            binding,
            &mut self.frame,
            &self.recorder,
            &self.engine.limits,
        );
        self.flush();
        let residual = residual.map_err(|error| Stop::Fault(RunError::expression(&error)))?;
        let deadline = self.deadline_of(timeout.as_ref()).await?;
        let lookback = match lookback {
            Some(lookback) => millis(&self.eval(lookback).await?).unwrap_or(0).max(0),
            None => 0,
        };
        let next = match self.finished(path, ty)? {
            Ok(value) => return Ok(value),
            Err(next) => next,
        };
        let input = json!({ "topic": topic });
        if self.waits.contains_key(path) {
            return self.consume(path, next, path, input, ty);
        }
        if lookback > 0
            && let Some(payload) = self
                .recent_match(
                    &topic,
                    lookback,
                    key_value.as_deref(),
                    key,
                    &residual,
                    binding,
                    message_type.as_ref(),
                )
                .await?
        {
            // A message from the lookback window: the step ends at once.
            let attempt = self.start(path, next, input);
            let value = self.read_back(path, &payload, ty);
            self.queued.push(Write::StepFinished {
                path: path.to_string(),
                attempt,
                outcome: StepOutcome::Succeeded(payload),
            });
            return value;
        }
        let kind = match action {
            StepAction::AwaitEvent { .. } => WaitKind::Event,
            _ => WaitKind::Webhook,
        };
        let mut wait = NewWait::new(path, kind);
        wait.deadline = deadline;
        wait.topic = Some(topic.clone());
        wait.key_value = key_value;
        wait.predicate = serde_json::to_value(&residual).ok();
        wait.detail = Some(json!({
            "binding": binding,
            "frame": self.frame.len(),
            "deployment": self.deployment,
            "type": message_type,
        }));
        self.start(path, next, input);
        self.queued.push(Write::OpenWait(wait));
        Err(Stop::Park(vec![path.to_string()]))
    }

    /// The oldest message on `topic` within the last `lookback` ms that has the
    /// key and satisfies the residual predicate.
    #[allow(clippy::too_many_arguments)]
    async fn recent_match(
        &self,
        topic: &str,
        lookback: i64,
        key_value: Option<&str>,
        key: &Option<ir::CorrelationKey>,
        residual: &Expr,
        binding: Slot,
        message_type: Option<&Ty>,
    ) -> Result<Option<Json>, Stop> {
        let since = self.engine.clock.now_ms().saturating_sub(lookback);
        let recent = self
            .engine
            .store
            .recent_events(topic, since, LOOKBACK_LIMIT)
            .await?;
        let ctx = Matching {
            program: self.program,
            now: self.engine.clock.now_ms(),
        };
        for event in recent {
            if let (Some(expected), Some(key)) = (key_value, key) {
                let found = stores::key_at(&event.payload, &key.path)
                    .and_then(|json| flowc_compiler::correlate::key_text(&Value::from_json(json)))
                    .map(|text| stores::key_value(&key.path, &text));
                if found.as_deref() != Some(expected) {
                    continue;
                }
            }
            let message = match message_type {
                Some(ty) => match Value::from_json_typed(&event.payload, ty, &self.program.types) {
                    Ok(value) => value,
                    Err(_) => continue,
                },
                None => Value::from_json(&event.payload),
            };
            if predicate_holds(
                residual,
                binding,
                self.frame.len(),
                message,
                &ctx,
                &self.engine.limits,
            ) {
                return Ok(Some(event.payload));
            }
        }
        Ok(None)
    }

    /// `call wf(input)`: a child run on this run's deployment, started once
    /// (its idempotency key is this step's path), awaited like any wait.
    pub(super) async fn call(
        &mut self,
        path: &str,
        workflow: &str,
        input: &Expr,
        ty: &Ty,
    ) -> Result<Value, Stop> {
        let input = self.eval(input).await?.to_json();
        let next = match self.finished(path, ty)? {
            Ok(value) => return Ok(value),
            Err(next) => next,
        };
        if self.waits.contains_key(path) {
            return self.consume(path, next, path, json!({ "workflow": workflow }), ty);
        }
        // The child's start is its own commit: the journal's writes before it
        // (this run's queue) go with the park, which links the child.
        let started = self
            .engine
            .store
            .start_run(NewRun {
                deployment: self.deployment.to_string(),
                workflow: workflow.to_string(),
                input,
                idempotency_key: Some(format!("{}/{path}", self.run_id)),
                trigger: "call".into(),
                delivery: None,
                webhook: None,
                replay_of: None,
            })
            .await?;
        self.start(
            path,
            next,
            json!({ "workflow": workflow, "run": started.run }),
        );
        let mut wait = NewWait::new(path, WaitKind::Child);
        wait.detail = Some(json!({ "run": started.run, "workflow": workflow }));
        self.queued.push(Write::OpenWait(wait));
        Err(Stop::Park(vec![path.to_string()]))
    }

    /// `emit name payload`: stored with this run's next commit, once.
    pub(super) async fn emit(
        &mut self,
        name: &str,
        event: &str,
        payload: &Expr,
    ) -> Result<(), Stop> {
        let payload = self.eval(payload).await?.to_json();
        let path = self.path(name);
        if self.journal.contains_key(&path) {
            return Ok(());
        }
        self.queued.push(Write::Record {
            path: path.clone(),
            output: json!({ "event": event, "payload": payload }),
        });
        self.queued.push(Write::Emit {
            path,
            topic: format!("event:{event}"),
            payload,
        });
        Ok(())
    }

    /// `set context[key] = value`: written with this run's next commit, once;
    /// `null` removes the key.
    pub(super) async fn set_context(
        &mut self,
        name: &str,
        key: &Expr,
        value: &Expr,
    ) -> Result<(), Stop> {
        let key = match self.eval(key).await? {
            Value::String(key) => key.to_string(),
            other => other.to_json().to_string(),
        };
        let value = self.eval(value).await?.to_json();
        let path = self.path(name);
        let stored = if value.is_null() {
            None
        } else {
            Some(value.clone())
        };
        {
            let mut view = self
                .recorder
                .context_view()
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match &stored {
                Some(value) => view.insert(key.clone(), value.clone()),
                None => view.remove(&key),
            };
        }
        if self.journal.contains_key(&path) {
            return Ok(());
        }
        self.queued.push(Write::Record {
            path,
            output: json!({ "key": key, "value": value }),
        });
        self.queued.push(Write::SetContext {
            workflow: self.workflow.to_string(),
            key,
            value: stored,
        });
        Ok(())
    }
}

/// Whether a message satisfies a stored residual predicate, evaluated with the
/// message bound to its slot in a fresh frame of the run's frame size.
pub fn predicate_holds(
    predicate: &Expr,
    binding: Slot,
    frame_size: usize,
    message: Value,
    ctx: &dyn eval::Context,
    limits: &eval::Limits,
) -> bool {
    let size = frame_size.max(usize::try_from(binding).unwrap_or(0).saturating_add(1));
    let mut frame = eval::Frame::new(size);
    frame.set(binding, message);
    eval::eval_bool(predicate, &mut frame, ctx, limits).unwrap_or(false)
}

/// The residual predicate, binding slot and frame size stored with a
/// correlated wait.
pub fn stored_predicate(wait: &Wait) -> Option<(Expr, Slot, usize)> {
    let predicate = serde_json::from_value::<Expr>(wait.predicate.clone()?).ok()?;
    let detail = wait.detail.as_ref()?;
    let binding = detail
        .get("binding")?
        .as_u64()
        .and_then(|slot| Slot::try_from(slot).ok())?;
    let frame = detail
        .get("frame")
        .and_then(Json::as_u64)
        .and_then(|size| usize::try_from(size).ok())
        .unwrap_or(0);
    Some((predicate, binding, frame))
}
