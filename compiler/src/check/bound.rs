//! The static bound: the worst-case duration of a run along its longest path.
//!
//! An HTTP step costs its per-attempt timeout (the step's, else its connection's,
//! else the runtime default of 30 s) times its attempts, plus the backoffs between
//! them; waits cost their duration; awaits their timeout; `parallel` and branches
//! the longest of their parts; a child workflow its own bound. A `for` over a list
//! whose length is unknown, a `wait until`, or an await without a timeout make the
//! run unbounded, and the bound names what did.

use super::Checker;
use super::diagnostics as diag;
use crate::diagnostic::FileId;
use crate::ir::{self, StepAction, StmtKind as S};
use std::collections::BTreeMap;

/// The default per-attempt timeout of an HTTP request, in milliseconds.
pub const DEFAULT_HTTP_TIMEOUT_MS: i64 = 30_000;

/// A worst-case duration, or what makes a run unbounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bound {
    Millis(i64),
    Unbounded(String),
}

impl Bound {
    fn add(self, other: Bound) -> Bound {
        match (self, other) {
            (Bound::Millis(a), Bound::Millis(b)) => Bound::Millis(a.saturating_add(b)),
            (Bound::Unbounded(why), _) | (_, Bound::Unbounded(why)) => Bound::Unbounded(why),
        }
    }

    fn max(self, other: Bound) -> Bound {
        match (self, other) {
            (Bound::Millis(a), Bound::Millis(b)) => Bound::Millis(a.max(b)),
            (Bound::Unbounded(why), _) | (_, Bound::Unbounded(why)) => Bound::Unbounded(why),
        }
    }

    pub fn millis(&self) -> Option<i64> {
        match self {
            Bound::Millis(ms) => Some(*ms),
            Bound::Unbounded(_) => None,
        }
    }
}

/// `1h 30m`, `45s`, `250ms`: a duration for people.
pub fn format_millis(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut parts = Vec::new();
    let mut rest = ms;
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if rest >= size {
            parts.push(format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    parts.join(" ")
}

struct Walker<'p> {
    connections: &'p BTreeMap<String, ir::Connection>,
    workflows: &'p BTreeMap<&'p str, &'p ir::Workflow>,
    handles: BTreeMap<ir::Slot, Option<i64>>,
    depth: u32,
}

impl Walker<'_> {
    fn block(&mut self, stmts: &[ir::Stmt]) -> Bound {
        let mut total = Bound::Millis(0);
        for stmt in stmts {
            total = total.add(self.stmt(stmt));
            if matches!(stmt.kind, S::Return { .. } | S::Fail { .. }) {
                break;
            }
        }
        total
    }

    fn stmt(&mut self, stmt: &ir::Stmt) -> Bound {
        match &stmt.kind {
            S::Step { name, action, .. } => self.action(name, action),
            S::Callback { slot, timeout, .. } | S::Approval { slot, timeout, .. } => {
                self.handles
                    .insert(*slot, timeout.as_ref().and_then(constant));
                Bound::Millis(0)
            }
            S::Collect { each, .. } | S::For(each) => match self.block(&each.body) {
                Bound::Millis(0) => Bound::Millis(0),
                _ => Bound::Unbounded(format!(
                    "a `for` over `{}`, whose length is known only at run time",
                    each.segment
                )),
            },
            S::If {
                then, otherwise, ..
            } => self.block(then).max(self.block(otherwise)),
            S::Match { arms, .. } => arms.iter().fold(Bound::Millis(0), |bound, arm| {
                bound.max(self.block(&arm.body))
            }),
            S::Parallel { branches } => branches.iter().fold(Bound::Millis(0), |bound, branch| {
                bound.max(self.block(branch))
            }),
            S::Try { body, handler, .. } => self.block(body).add(self.block(handler)),
            _ => Bound::Millis(0),
        }
    }

    fn action(&mut self, name: &str, action: &StepAction) -> Bound {
        match action {
            StepAction::Http(request) => {
                let connection = request
                    .connection
                    .as_ref()
                    .and_then(|name| self.connections.get(name));
                let timeout = request
                    .timeout_ms
                    .or_else(|| connection.and_then(|connection| connection.timeout_ms))
                    .unwrap_or(DEFAULT_HTTP_TIMEOUT_MS);
                let retry = request
                    .retry
                    .or_else(|| connection.and_then(|connection| connection.retry));
                match retry {
                    Some(retry) => Bound::Millis(
                        timeout
                            .saturating_mul(i64::from(retry.attempts))
                            .saturating_add(retry.total_backoff_ms()),
                    ),
                    None => Bound::Millis(timeout),
                }
            }
            StepAction::Call { workflow, .. } => {
                if self.depth > 16 {
                    return Bound::Unbounded(format!("the chain of child workflows at `{name}`"));
                }
                match self.workflows.get(workflow.as_str()) {
                    Some(child) => {
                        self.depth += 1;
                        let handles = std::mem::take(&mut self.handles);
                        let bound = self.block(&child.body);
                        self.handles = handles;
                        self.depth -= 1;
                        bound
                    }
                    None => Bound::Millis(0),
                }
            }
            StepAction::Wait { duration } => match constant(duration) {
                Some(ms) => Bound::Millis(ms),
                None => Bound::Unbounded(format!("the computed wait `{name}`")),
            },
            StepAction::WaitUntil { .. } => Bound::Unbounded(format!("`wait until` at `{name}`")),
            StepAction::Await { handle, .. } => match self.handles.get(handle).copied().flatten() {
                Some(ms) => Bound::Millis(ms),
                None => Bound::Unbounded(format!("the await `{name}`, whose timeout is computed")),
            },
            StepAction::AwaitEvent { timeout, .. } | StepAction::AwaitWebhook { timeout, .. } => {
                match timeout.as_ref().and_then(constant) {
                    Some(ms) => Bound::Millis(ms),
                    None => Bound::Unbounded(format!("the await `{name}` without a timeout")),
                }
            }
        }
    }
}

fn constant(expr: &ir::Expr) -> Option<i64> {
    match &expr.kind {
        ir::ExprKind::Literal {
            value: ir::Literal::Duration { millis },
        } => Some(*millis),
        _ => None,
    }
}

impl Checker<'_> {
    pub(super) fn check_bounds(&mut self, workflows: &mut [(ir::Workflow, FileId)]) {
        // Bounds first, over shared references (a `call` reads its child's body),
        // then written into the workflows.
        let bounds: Vec<Bound> = {
            let by_name: BTreeMap<&str, &ir::Workflow> = workflows
                .iter()
                .map(|(workflow, _)| (workflow.name.as_str(), workflow))
                .collect();
            workflows
                .iter()
                .map(|(workflow, _)| {
                    Walker {
                        connections: &self.connections,
                        workflows: &by_name,
                        handles: BTreeMap::new(),
                        depth: 0,
                    }
                    .block(&workflow.body)
                })
                .collect()
        };
        for ((workflow, file), bound) in workflows.iter_mut().zip(bounds) {
            workflow.bound_ms = bound.millis();
            if let (Some(ms), Some(timeout)) = (bound.millis(), workflow.settings.timeout_ms)
                && ms > timeout
            {
                let setting = self
                    .workflow_decl(*file, &workflow.name)
                    .and_then(|decl| decl.settings.first())
                    .map_or(workflow.span, |settings| settings.span);
                let name_span = self
                    .workflow_decl(*file, &workflow.name)
                    .map_or(workflow.span, |decl| decl.name.span);
                self.diagnostics.push(crate::FileDiagnostic {
                    file: *file,
                    diagnostic: diag::bound_exceeds_timeout(
                        &workflow.name,
                        &format_millis(ms),
                        &format_millis(timeout),
                        name_span,
                        setting,
                    ),
                });
            }
            self.info.bounds.push(super::WorkflowBound {
                workflow: workflow.name.clone(),
                file: *file,
                span: workflow.span,
                bound,
            });
        }
    }
}
