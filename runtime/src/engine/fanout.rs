//! `for` (plain and collecting) and `parallel`: branches of one run, run
//! concurrently on the run's task.
//!
//! Each branch is a fork of the interpreter ([`Interp::fork`]): a copy of the
//! frame, the same journal and waits, its own queue of journal writes, and its
//! own paths — an iteration's steps under `items[3].`, a `parallel` branch's
//! recorded `now()`/`uuid()` values under `#par<span>[i].` (its steps keep their
//! names: SPEC §10.2). At most `concurrency` iterations run at once; a
//! `parallel` runs all its branches. When a branch fails, the others stop at
//! their next step boundary ([`Stop::Aborted`]) and the statement fails with the
//! first error. A branch that parks does not hold its slot: the others go on,
//! and when every branch has ended or parked the statement parks on all their
//! waits. On the next interpretation, finished iterations replay from the
//! journal without effects, so a restart mid-loop repeats nothing.
//!
//! What each branch queued is appended to the run's queue in branch order when
//! the statement ends (or parks), so it commits with the run's next write.

use super::{Flow, Interp, RunError, Stop};
use flowc_compiler::ir::{ForLoop, Stmt, StmtKind};
use flowc_compiler::value::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

type Branch<'a, T> = Pin<Box<dyn Future<Output = (usize, T)> + Send + 'a>>;

/// How a `parallel` branch ended, with the interpreter it ran in.
type Ended<'e> = (Result<Flow, Stop>, Interp<'e>);

/// Polls `branches` with at most `limit` in flight, in order of start; stops
/// starting new ones once `stop` is set. Results come back with their index.
async fn bounded<'a, T>(
    mut branches: impl Iterator<Item = Branch<'a, T>> + Send,
    limit: usize,
    stop: &AtomicBool,
) -> Vec<(usize, T)> {
    let mut running: Vec<Branch<'a, T>> = Vec::new();
    let mut done = Vec::new();
    let mut exhausted = false;
    std::future::poll_fn(|cx| {
        loop {
            while !exhausted && running.len() < limit.max(1) && !stop.load(Ordering::SeqCst) {
                match branches.next() {
                    Some(branch) => running.push(branch),
                    None => exhausted = true,
                }
            }
            let before = done.len();
            let mut index = 0;
            while index < running.len() {
                match running[index].as_mut().poll(cx) {
                    Poll::Ready(result) => {
                        done.push(result);
                        drop(running.swap_remove(index));
                    }
                    Poll::Pending => index += 1,
                }
            }
            if running.is_empty() && (exhausted || stop.load(Ordering::SeqCst)) {
                return Poll::Ready(());
            }
            // Something finished: a slot is free for the next branch.
            if done.len() == before {
                return Poll::Pending;
            }
        }
    })
    .await;
    done
}

/// What the branches of one statement came to.
struct Joined {
    /// The first failure, by branch order.
    fault: Option<Stop>,
    /// The waits of the branches that parked.
    parked: Vec<String>,
}

impl Joined {
    fn new() -> Joined {
        Joined {
            fault: None,
            parked: Vec::new(),
        }
    }

    /// Takes in one branch's stop; true when it ended the branch normally.
    fn take(&mut self, stop: Stop) {
        match stop {
            Stop::Park(paths) => self.parked.extend(paths),
            Stop::Aborted => {}
            other => {
                if self.fault.is_none() {
                    self.fault = Some(other);
                }
            }
        }
    }

    /// The statement's own stop, if any branch stopped it.
    fn stop(self) -> Result<(), Stop> {
        if let Some(fault) = self.fault {
            return Err(fault);
        }
        if !self.parked.is_empty() {
            return Err(Stop::Park(self.parked));
        }
        Ok(())
    }
}

impl<'e> Interp<'e> {
    /// A `for` loop; with `collect`, the yielded values in input order.
    /// `Err(v)` when an iteration returned `v` from the workflow.
    pub(super) async fn for_loop(
        &mut self,
        each: &'e ForLoop,
        collect: bool,
    ) -> Result<Result<Vec<Value>, Value>, Stop> {
        let items = match self.eval(&each.iter).await? {
            Value::List(items) => items,
            Value::Null => Arc::new(Vec::new()),
            _ => {
                return Err(Stop::Fault(RunError::new(
                    "R0010",
                    "expression",
                    "`for` needs a list",
                )));
            }
        };
        let abort = Arc::new(AtomicBool::new(false));
        let body = &each.body;
        // Each iteration's interpreter (a copy of the frame) is made when the
        // iteration starts, not all up front: a loop over a long list holds at
        // most `concurrency` copies.
        let this = &*self;
        let branches = items.iter().enumerate().map(|(index, item)| {
            let segment = format!("{}[{index}].", each.segment);
            let mut fork = this.fork(
                format!("{}{segment}", this.prefix),
                format!("{}{segment}", this.scope),
                &abort,
            );
            fork.frame.set(each.var_slot, item.clone());
            let abort = Arc::clone(&abort);
            Box::pin(async move {
                let result = fork.block(body).await;
                if matches!(&result, Err(stop) if !matches!(stop, Stop::Park(_) | Stop::Aborted)) {
                    abort.store(true, Ordering::SeqCst);
                }
                (index, (result, fork.queued))
            }) as Branch<'_, _>
        });
        let concurrency = usize::try_from(each.concurrency).unwrap_or(1);
        let mut results = bounded(branches, concurrency, &abort).await;
        results.sort_by_key(|(index, _)| *index);
        let mut joined = Joined::new();
        let mut values = Vec::new();
        let mut returned = None;
        for (_, (result, queued)) in results {
            self.queued.extend(queued);
            match result {
                Ok(Flow::Yield(value)) if collect => values.push(value),
                Ok(Flow::Return(value)) => {
                    if returned.is_none() {
                        returned = Some(value);
                    }
                }
                Ok(_) => {}
                Err(stop) => joined.take(stop),
            }
        }
        joined.stop()?;
        Ok(match returned {
            Some(value) => Err(value),
            None => Ok(values),
        })
    }

    /// `parallel { … }`: every branch at once; the names a single-statement
    /// branch binds are visible after it.
    pub(super) async fn parallel(
        &mut self,
        stmt: &'e Stmt,
        branches: &'e [Vec<Stmt>],
    ) -> Result<Flow, Stop> {
        let abort = Arc::new(AtomicBool::new(false));
        let marker = format!("#par{}", stmt.span.start);
        let forks: Vec<Interp<'e>> = (0..branches.len())
            .map(|index| {
                let scope = format!("{}{marker}[{index}].", self.scope);
                self.fork(self.prefix.clone(), scope, &abort)
            })
            .collect();
        let futures = forks
            .into_iter()
            .zip(branches)
            .enumerate()
            .map(|(index, (mut fork, body))| {
                let abort = Arc::clone(&abort);
                Box::pin(async move {
                    let result = fork.block(body).await;
                    if matches!(&result, Err(stop) if !matches!(stop, Stop::Park(_) | Stop::Aborted)) {
                        abort.store(true, Ordering::SeqCst);
                    }
                    (index, (result, fork))
                }) as Branch<'_, _>
            });
        let mut results: Vec<(usize, Ended<'e>)> = bounded(futures, branches.len(), &abort).await;
        results.sort_by_key(|(index, _)| *index);
        let mut joined = Joined::new();
        let mut returned = None;
        for (index, (result, mut fork)) in results {
            self.queued.append(&mut fork.queued);
            if let [only] = branches[index].as_slice()
                && let Some(slot) = bound_slot(only)
                && let Some(value) = fork.frame.get(slot)
            {
                self.frame.set(slot, value.clone());
                if let Some(path) = fork.handles.get(&slot) {
                    self.handles.insert(slot, path.clone());
                }
            }
            match result {
                Ok(Flow::Return(value)) if returned.is_none() => returned = Some(value),
                Ok(_) => {}
                Err(stop) => joined.take(stop),
            }
        }
        joined.stop()?;
        Ok(match returned {
            Some(value) => Flow::Return(value),
            None => Flow::Next,
        })
    }
}

/// The slot a statement binds a name to, if it binds one.
fn bound_slot(stmt: &Stmt) -> Option<flowc_compiler::ir::Slot> {
    match &stmt.kind {
        StmtKind::Step { slot, .. }
        | StmtKind::Let { slot, .. }
        | StmtKind::Callback { slot, .. }
        | StmtKind::Approval { slot, .. }
        | StmtKind::Collect { slot, .. } => Some(*slot),
        _ => None,
    }
}
