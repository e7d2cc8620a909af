//! The runtime's side of the JIT: one tiered evaluator per deployment, and the
//! counts `GET /metrics` reports for all of them.
//!
//! The compiler's [`Tiered`] evaluator interprets each expression of a program
//! until it is hot, then runs it as native code (`flowc_compiler::jit`). The
//! runtime keeps exactly one per deployment, an [`Evaluator`], next to the
//! deployment's program in the engine's cache (`engine::Engine::evaluator`); the
//! engine's runs and the webhook ingress of that deployment evaluate through it,
//! so an expression gets hot from all of its uses together. Retiring the
//! deployment (`Engine::retire`, which the server calls when a deployment stops
//! being active) drops the cache's reference; once the last run holding it ends,
//! the evaluator drops and its compiled code is freed.
//!
//! Counts outlive the evaluators: a [`Registry`] (one per metrics registry)
//! knows the live evaluators by weak reference and adds an evaluator's final
//! counts to its retired totals when it drops, so the counters `GET /metrics`
//! writes never go down when a deployment is retired.

use crate::metrics::Metrics;
use flowc_compiler::eval::{Context, Error, Frame, Limits};
use flowc_compiler::ir::{Expr, Program};
use flowc_compiler::jit::Tiered;
use flowc_compiler::value::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

pub use flowc_compiler::jit::{Metrics as Counts, Mode, Options};

/// A deployment's tiered evaluator, counted by a [`Registry`] while it lives and
/// after. Dropping it frees the deployment's compiled code.
pub struct Evaluator {
    tiered: Tiered,
    /// Its key in the registry.
    id: u64,
    registry: Arc<Registry>,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("tiered", &self.tiered)
            .finish_non_exhaustive()
    }
}

impl Evaluator {
    /// The evaluator of `program`, counted by the process-wide metrics.
    pub fn new(program: Arc<Program>, options: Options) -> Arc<Evaluator> {
        Evaluator::counted_by(crate::metrics::global(), program, options)
    }

    /// The evaluator of `program`, counted by `metrics`.
    pub fn counted_by(
        metrics: &Metrics,
        program: Arc<Program>,
        options: Options,
    ) -> Arc<Evaluator> {
        let registry = Arc::clone(metrics.jit());
        let id = registry.next_id();
        let evaluator = Arc::new(Evaluator {
            tiered: Tiered::new(program, options),
            id,
            registry: Arc::clone(&registry),
        });
        registry.register(id, &evaluator);
        evaluator
    }

    /// Evaluates `expr`, an expression of this evaluator's program (any other
    /// is interpreted): the same answer as `eval::eval`.
    pub fn eval(
        &self,
        expr: &Expr,
        frame: &mut Frame,
        ctx: &dyn Context,
        limits: &Limits,
    ) -> Result<Value, Error> {
        self.tiered.eval(expr, frame, ctx, limits)
    }

    /// Evaluates a condition: the same answer as `eval::eval_bool`.
    pub fn eval_bool(
        &self,
        expr: &Expr,
        frame: &mut Frame,
        ctx: &dyn Context,
        limits: &Limits,
    ) -> Result<bool, Error> {
        self.tiered.eval_bool(expr, frame, ctx, limits)
    }

    pub fn options(&self) -> Options {
        self.tiered.options()
    }

    /// What this evaluator has done so far.
    pub fn counts(&self) -> Counts {
        self.tiered.metrics()
    }

    /// Waits until every expression queued for compilation so far is compiled
    /// (or declined): for tests, which then read [`Evaluator::counts`].
    pub fn wait_idle(&self) {
        self.tiered.wait_idle();
    }
}

impl Drop for Evaluator {
    fn drop(&mut self) {
        self.registry.retire(self.id, self.tiered.metrics());
    }
}

/// The evaluators a metrics registry reports: the live ones and the summed
/// counts of those that are gone.
#[derive(Default)]
pub struct Registry {
    state: Mutex<State>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    next: u64,
    /// The counts of dropped evaluators, summed.
    retired: Counts,
    live: HashMap<u64, Live>,
}

struct Live {
    evaluator: Weak<Evaluator>,
    /// Its counts at the last reading: what is reported should it be dropping
    /// right now (no longer reachable, its final counts not yet retired).
    last: Counts,
}

impl Registry {
    fn next_id(&self) -> u64 {
        let mut state = self.lock();
        state.next += 1;
        state.next
    }

    fn register(&self, id: u64, evaluator: &Arc<Evaluator>) {
        self.lock().live.insert(
            id,
            Live {
                evaluator: Arc::downgrade(evaluator),
                last: Counts::default(),
            },
        );
    }

    fn retire(&self, id: u64, last: Counts) {
        let mut state = self.lock();
        state.live.remove(&id);
        state.retired = add(state.retired, last);
    }

    /// The counts of every evaluator this registry has known, live or not. They
    /// never decrease from one call to the next.
    pub fn totals(&self) -> Counts {
        // Evaluators reached here are released after the lock: releasing the
        // last reference drops one, and its drop takes the lock to retire.
        let mut reached = Vec::new();
        let totals = {
            let mut state = self.lock();
            let mut totals = state.retired;
            for live in state.live.values_mut() {
                if let Some(evaluator) = live.evaluator.upgrade() {
                    live.last = evaluator.tiered.metrics();
                    reached.push(evaluator);
                }
                totals = add(totals, live.last);
            }
            totals
        };
        drop(reached);
        totals
    }

    /// How many evaluators are alive (tests).
    pub fn live(&self) -> usize {
        self.lock().live.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn add(a: Counts, b: Counts) -> Counts {
    Counts {
        compiled: a.compiled.saturating_add(b.compiled),
        unsupported: a.unsupported.saturating_add(b.unsupported),
        compile_micros: a.compile_micros.saturating_add(b.compile_micros),
        interpreted: a.interpreted.saturating_add(b.interpreted),
        native: a.native.saturating_add(b.native),
        bailed: a.bailed.saturating_add(b.bailed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowc_compiler::eval::{Fixed, eval};

    fn program(source: &str) -> Arc<Program> {
        let analysis = flowc_compiler::analyze(
            vec![flowc_compiler::SourceFile {
                path: "main.flow".into(),
                text: source.into(),
            }],
            &flowc_compiler::NoImports,
        );
        assert!(
            !analysis.diagnostics.iter().any(|d| d.diagnostic.is_error()),
            "{:#?}",
            analysis.diagnostics
        );
        Arc::new(analysis.program)
    }

    const SOURCE: &str =
        "workflow w(n: int) -> int {\n  on manual\n  let m = n * 2\n  return m + 1\n}\n";

    /// The first `let`'s value in workflow `w`: an expression of the program.
    fn first_let(program: &Program) -> &Expr {
        let workflow = program.workflow("w").expect("the workflow is declared");
        workflow
            .body
            .iter()
            .find_map(|stmt| match &stmt.kind {
                flowc_compiler::ir::StmtKind::Let { value, .. } => Some(value),
                _ => None,
            })
            .expect("the workflow has a let")
    }

    #[test]
    fn counts_survive_the_evaluator_and_never_go_down() {
        let metrics = Metrics::new();
        let program = program(SOURCE);
        let evaluator =
            Evaluator::counted_by(&metrics, Arc::clone(&program), Options::new(Mode::Off));
        let expr = first_let(&program);
        let mut frame = Frame::new(4);
        frame.set(0, Value::Int(20));
        for _ in 0..3 {
            let value = evaluator
                .eval(expr, &mut frame, &Fixed::default(), &Limits::default())
                .expect("n * 2 evaluates");
            let expected = eval(expr, &mut frame, &Fixed::default(), &Limits::default())
                .expect("the interpreter agrees");
            assert_eq!(value, expected);
        }
        let registry = metrics.jit();
        assert_eq!(registry.live(), 1);
        let before = registry.totals();
        assert_eq!(before.interpreted, 3);
        assert_eq!(
            before.compiled + before.unsupported,
            0,
            "off never compiles"
        );
        let weak = Arc::downgrade(&evaluator);
        drop(evaluator);
        assert!(weak.upgrade().is_none(), "nothing else holds the evaluator");
        assert_eq!(registry.live(), 0);
        assert_eq!(registry.totals(), before, "the retired counts are kept");
    }

    #[test]
    fn always_tries_the_expression_once_and_answers_as_the_interpreter() {
        let metrics = Metrics::new();
        let program = program(SOURCE);
        let evaluator =
            Evaluator::counted_by(&metrics, Arc::clone(&program), Options::new(Mode::Always));
        let expr = first_let(&program);
        let mut frame = Frame::new(4);
        for n in [0, 7, i64::MAX] {
            frame.set(0, Value::Int(n));
            let tiered = evaluator.eval(expr, &mut frame, &Fixed::default(), &Limits::default());
            let interpreted = eval(expr, &mut frame, &Fixed::default(), &Limits::default());
            match (tiered, interpreted) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(a), Err(b)) => assert_eq!(a, b),
                (a, b) => panic!("the tiers disagree on {n}: {a:?} against {b:?}"),
            }
        }
        let counts = metrics.jit().totals();
        assert_eq!(counts.compiled + counts.unsupported, 1, "{counts:?}");
        // A bailed evaluation is answered by the interpreter, and counted there.
        assert_eq!(counts.native + counts.interpreted, 3, "{counts:?}");
        let types = flowc_compiler::ty::TypeTable::new();
        if flowc_compiler::jit::compile(expr, &types).is_ok() {
            // `i64::MAX * 2` overflows: native code hands it to the interpreter.
            assert_eq!((counts.compiled, counts.native, counts.bailed), (1, 2, 1));
        } else {
            assert_eq!((counts.unsupported, counts.interpreted), (1, 3));
        }
    }
}
