//! The tiered evaluator: interpret an expression until it is hot, then run it
//! as native code.
//!
//! A [`Tiered`] belongs to one program (one deployment) and knows every
//! expression in it by address; the program is held for as long as the
//! evaluator lives, so the addresses stay valid and unique. Each expression counts
//! its evaluations; the one that reaches [`Options::threshold`] queues it for the
//! compiler thread, and the interpreter goes on answering until the code is
//! ready. The compiled code is published with one atomic store, so an evaluation
//! sees either no code or finished code. An expression the JIT does not support
//! is marked as such and interpreted for good. Dropping the evaluator (retiring
//! its deployment) stops its compiler thread and frees all its code.

use super::{Compiled, Mode, compile};
use crate::eval::{self, Context, Error, Frame, Limits};
use crate::ir::{Body, Expr, ForLoop, Program, StepAction, Stmt, StmtKind, Trigger};
use crate::ty::TypeTable;
use crate::value::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};

/// How a [`Tiered`] evaluator compiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    /// Evaluations of an expression before it is compiled, in [`Mode::Auto`].
    pub threshold: u64,
}

impl Options {
    pub const DEFAULT_THRESHOLD: u64 = 1_000;

    pub fn new(mode: Mode) -> Options {
        Options {
            mode,
            threshold: Options::DEFAULT_THRESHOLD,
        }
    }
}

impl Default for Options {
    fn default() -> Options {
        Options::new(Mode::Auto)
    }
}

/// Counts of what a [`Tiered`] evaluator has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Expressions compiled to native code.
    pub compiled: u64,
    /// Expressions the JIT declined (interpreted for good).
    pub unsupported: u64,
    /// Total time spent compiling, in microseconds.
    pub compile_micros: u64,
    /// Evaluations answered by the interpreter.
    pub interpreted: u64,
    /// Evaluations answered by native code.
    pub native: u64,
    /// Evaluations native code handed back to the interpreter (errors, values
    /// of another kind than the checker's).
    pub bailed: u64,
}

#[derive(Default)]
struct Counters {
    compiled: AtomicU64,
    unsupported: AtomicU64,
    compile_micros: AtomicU64,
    interpreted: AtomicU64,
    native: AtomicU64,
    bailed: AtomicU64,
}

#[derive(Default)]
struct Entry {
    count: AtomicU64,
    queued: AtomicBool,
    /// `Some(None)`: the JIT declined the expression.
    code: OnceLock<Option<Compiled>>,
}

struct Job {
    entry: Arc<Entry>,
    expr: Expr,
}

/// The evaluator a deployment's runs use.
pub struct Tiered {
    options: Options,
    /// Keeps the expressions, and so the addresses `entries` is keyed by, alive.
    _program: Arc<Program>,
    types: Arc<TypeTable>,
    entries: HashMap<usize, Arc<Entry>>,
    counters: Arc<Counters>,
    queue: Mutex<Option<mpsc::Sender<Job>>>,
}

impl std::fmt::Debug for Tiered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tiered")
            .field("options", &self.options)
            .field("expressions", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl Tiered {
    pub fn new(program: Arc<Program>, options: Options) -> Tiered {
        let mut entries = HashMap::new();
        if options.mode != Mode::Off {
            each_expr(&program, &mut |expr| {
                entries.insert(address(expr), Arc::new(Entry::default()));
            });
        }
        Tiered {
            options,
            types: Arc::new(program.types.clone()),
            _program: program,
            entries,
            counters: Arc::new(Counters::default()),
            queue: Mutex::new(None),
        }
    }

    pub fn options(&self) -> Options {
        self.options
    }

    /// Evaluates `expr`, which should be an expression of this evaluator's
    /// program (any other is simply interpreted). Same answer as [`eval::eval`].
    pub fn eval(
        &self,
        expr: &Expr,
        frame: &mut Frame,
        ctx: &dyn Context,
        limits: &Limits,
    ) -> Result<Value, Error> {
        if let Some(entry) = self.entries.get(&address(expr))
            && let Some(value) = self.native(entry, expr, frame, limits)
        {
            return Ok(value);
        }
        self.counters.interpreted.fetch_add(1, Ordering::Relaxed);
        eval::eval(expr, frame, ctx, limits)
    }

    /// Evaluates a condition, as [`eval::eval_bool`].
    pub fn eval_bool(
        &self,
        expr: &Expr,
        frame: &mut Frame,
        ctx: &dyn Context,
        limits: &Limits,
    ) -> Result<bool, Error> {
        if let Some(entry) = self.entries.get(&address(expr))
            && let Some(Value::Bool(b)) = self.native(entry, expr, frame, limits)
        {
            return Ok(b);
        }
        self.counters.interpreted.fetch_add(1, Ordering::Relaxed);
        eval::eval_bool(expr, frame, ctx, limits)
    }

    /// The native answer, when there is code for `expr` and it does not bail.
    fn native(
        &self,
        entry: &Arc<Entry>,
        expr: &Expr,
        frame: &Frame,
        limits: &Limits,
    ) -> Option<Value> {
        let code = match entry.code.get() {
            Some(code) => code.as_ref()?,
            None => {
                let count = entry.count.fetch_add(1, Ordering::Relaxed) + 1;
                match self.options.mode {
                    Mode::Off => return None,
                    Mode::Always => entry
                        .code
                        .get_or_init(|| build(expr, &self.types, &self.counters))
                        .as_ref()?,
                    Mode::Auto => {
                        if count >= self.options.threshold
                            && !entry.queued.swap(true, Ordering::AcqRel)
                        {
                            self.enqueue(Job {
                                entry: entry.clone(),
                                expr: expr.clone(),
                            });
                        }
                        return None;
                    }
                }
            }
        };
        match code.eval(frame, limits) {
            Some(value) => {
                self.counters.native.fetch_add(1, Ordering::Relaxed);
                Some(value)
            }
            None => {
                self.counters.bailed.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Hands `job` to the compiler thread, starting it on first use. Should the
    /// thread not start (or the lock be poisoned), the job is compiled here: the
    /// expression must not stay queued for good.
    fn enqueue(&self, job: Job) {
        let Ok(mut queue) = self.queue.lock() else {
            self.compile_now(&job);
            return;
        };
        if queue.is_none() {
            let (sender, receiver) = mpsc::channel::<Job>();
            let types = self.types.clone();
            let counters = self.counters.clone();
            let spawned = std::thread::Builder::new()
                .name("flowc-jit".into())
                .spawn(move || {
                    for job in receiver {
                        job.entry
                            .code
                            .get_or_init(|| build(&job.expr, &types, &counters));
                    }
                });
            if spawned.is_err() {
                drop(queue);
                self.compile_now(&job);
                return;
            }
            *queue = Some(sender);
        }
        if let Some(sender) = queue.as_ref()
            && let Err(mpsc::SendError(job)) = sender.send(job)
        {
            self.compile_now(&job);
        }
    }

    fn compile_now(&self, job: &Job) {
        job.entry
            .code
            .get_or_init(|| build(&job.expr, &self.types, &self.counters));
    }

    /// Waits until every expression queued so far has been compiled (tests).
    pub fn wait_idle(&self) {
        let pending: Vec<&Arc<Entry>> = self
            .entries
            .values()
            .filter(|entry| entry.queued.load(Ordering::Acquire))
            .collect();
        for entry in pending {
            while entry.code.get().is_none() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }

    pub fn metrics(&self) -> Metrics {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Metrics {
            compiled: read(&self.counters.compiled),
            unsupported: read(&self.counters.unsupported),
            compile_micros: read(&self.counters.compile_micros),
            interpreted: read(&self.counters.interpreted),
            native: read(&self.counters.native),
            bailed: read(&self.counters.bailed),
        }
    }
}

fn build(expr: &Expr, types: &TypeTable, counters: &Counters) -> Option<Compiled> {
    match compile(expr, types) {
        Ok(code) => {
            counters.compiled.fetch_add(1, Ordering::Relaxed);
            let micros = u64::try_from(code.compile_time().as_micros()).unwrap_or(u64::MAX);
            counters.compile_micros.fetch_add(micros, Ordering::Relaxed);
            Some(code)
        }
        Err(_) => {
            counters.unsupported.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

fn address(expr: &Expr) -> usize {
    std::ptr::from_ref(expr).addr()
}

/// Calls `f` on every expression of `program` that the runtime evaluates on its
/// own (the roots; their sub-expressions are evaluated as part of them).
fn each_expr(program: &Program, f: &mut impl FnMut(&Expr)) {
    for connection in &program.connections {
        f(&connection.base_url);
        connection.auth.iter().for_each(&mut *f);
        connection.headers.iter().for_each(|(_, expr)| f(expr));
    }
    for workflow in &program.workflows {
        for trigger in &workflow.triggers {
            if let Trigger::Webhook {
                verify,
                idempotency_key,
                ..
            } = trigger
            {
                verify.iter().chain(idempotency_key).for_each(&mut *f);
            }
        }
        stmts(&workflow.body, f);
    }
}

fn stmts(body: &[Stmt], f: &mut impl FnMut(&Expr)) {
    for stmt in body {
        match &stmt.kind {
            StmtKind::Step { action, .. } => step(action, f),
            StmtKind::Let { value, .. } => f(value),
            StmtKind::Callback { timeout, .. } => timeout.iter().for_each(&mut *f),
            StmtKind::Approval {
                timeout, message, ..
            } => timeout.iter().chain(message).for_each(&mut *f),
            StmtKind::Collect { each, .. } | StmtKind::For(each) => for_loop(each, f),
            StmtKind::Set { key, value, .. } => {
                f(key);
                f(value);
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                f(cond);
                stmts(then, f);
                stmts(otherwise, f);
            }
            StmtKind::Match { scrutinee, arms } => {
                f(scrutinee);
                arms.iter().for_each(|arm| stmts(&arm.body, f));
            }
            StmtKind::Parallel { branches } => branches.iter().for_each(|b| stmts(b, f)),
            StmtKind::Try { body, handler, .. } => {
                stmts(body, f);
                stmts(handler, f);
            }
            StmtKind::Fail { message } => f(message),
            StmtKind::Return { value } => value.iter().for_each(&mut *f),
            StmtKind::Emit { payload, .. } => f(payload),
            StmtKind::Yield { value } => f(value),
        }
    }
}

fn for_loop(each: &ForLoop, f: &mut impl FnMut(&Expr)) {
    f(&each.iter);
    stmts(&each.body, f);
}

fn step(action: &StepAction, f: &mut impl FnMut(&Expr)) {
    match action {
        StepAction::Http(request) => {
            f(&request.url);
            request.headers.iter().for_each(|(_, expr)| f(expr));
            request.query.iter().for_each(|(_, expr)| f(expr));
            if let Some(Body::Json(expr) | Body::Text(expr)) = &request.body {
                f(expr);
            }
            request.auth.iter().for_each(&mut *f);
        }
        StepAction::Call { input, .. } => f(input),
        StepAction::Wait { duration } => f(duration),
        StepAction::WaitUntil { time } => f(time),
        StepAction::Await { .. } => {}
        StepAction::AwaitEvent {
            filter,
            timeout,
            key,
            lookback,
            ..
        }
        | StepAction::AwaitWebhook {
            filter,
            timeout,
            key,
            lookback,
            ..
        } => {
            f(filter);
            timeout.iter().chain(lookback).for_each(&mut *f);
            if let Some(key) = key {
                f(&key.value);
            }
        }
    }
}
