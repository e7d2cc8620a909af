//! Residual predicates: the part of an `await` predicate that depends on the
//! message, with the run's part computed ahead of time.
//!
//! A run that reaches `await event E as e where e.id == order.id && e.total >
//! limit * 2` parks: its frame is gone by the time a message arrives, and the
//! runtime tests each message outside the run. So when the run starts waiting,
//! [`residual`] evaluates every part of the predicate that does not depend on the
//! message (`order.id`, `limit * 2`) in the run's frame and puts its value in place,
//! as a [`Const`](ExprKind::Const): what is left reads only the message, and is
//! stored with the wait and evaluated per message in a fresh frame.
//!
//! Values are carried as JSON read back with the expression's type, which is exact
//! for every kind but a few: a float that is NaN or infinite (JSON has no such
//! number), a value whose type does not say its kind (an `int` where the type is a
//! union of `int` and `float`, a duration inside a `json`), and a secret, which is
//! never turned into text. Those are rebuilt from expressions instead: `0.0 / 0.0`
//! for NaN, a list or record expression around their elements, a template of
//! `secrets.NAME` parts for a secret (names only: the vault's values are never
//! read). The carried values are exact as data and as CBOR; as JSON text they
//! are exact if the JSON parser reads floats exactly (see the notes of
//! [`residual`]).

use super::{Context, Error, Frame, Limits, Machine, error};
use crate::correlate::{binders, mentions};
use crate::diagnostic::Span;
use crate::ir::{BinaryOp, Expr, ExprKind, Literal, MatchArm, Slot, TemplatePart};
use crate::ty::{Ty, TypeTable};
use crate::value::{SecretPart, Value};
use std::collections::BTreeSet;

/// A copy of the predicate `expr`, whose message is in slot `binding`, in which
/// every largest subexpression that mentions neither the message nor a name bound
/// inside `expr` (a lambda's parameter, a `match` binding) is replaced by its value
/// in `frame`. Evaluated in a fresh frame of the same size holding only the
/// message, with a context that has the program's functions and types, the result
/// gives what `expr` gives in `frame` with that message, for every message: the
/// same value, or the same error at the same span.
///
/// The run's part is computed once, now: `now()`, `uuid()`, `context.*` and
/// `webhook` are read when the run starts waiting, not per message, also inside a
/// lambda that would call them once per element. A part whose evaluation fails is
/// not replaced; its own parts are, so the failure happens per message, where
/// the predicate's order of evaluation and short circuits reach it, as in the
/// original. `limits` bound the whole computation, and running out of steps is an
/// error (the residual would be incomplete); the residual takes fewer steps per
/// message than the original. The only other error is a value of the run that
/// cannot be carried: a secret in a form no template builds, which the checker
/// keeps out of predicates (R0010).
///
/// Floats are carried as JSON numbers. `serde_json` reads numbers in JSON text
/// exactly only with its `float_roundtrip` feature; without it, a float stored as
/// JSON text may read back one unit in the last place off. Stored as CBOR, or kept
/// in memory, the residual is exact.
pub fn residual(
    expr: &Expr,
    binding: Slot,
    frame: &mut Frame,
    ctx: &dyn Context,
    limits: &Limits,
) -> Result<Expr, Error> {
    let mut held = binders(expr);
    held.insert(binding);
    let mut folder = Folder {
        machine: Machine {
            ctx,
            limits,
            steps: 0,
            depth: 0,
        },
        held,
    };
    folder.expr(expr, frame)
}

struct Folder<'c> {
    machine: Machine<'c>,
    /// The message's slot and every slot bound inside the predicate.
    held: BTreeSet<Slot>,
}

impl Folder<'_> {
    fn expr(&mut self, expr: &Expr, frame: &mut Frame) -> Result<Expr, Error> {
        match &expr.kind {
            // The same everywhere: nothing to compute.
            ExprKind::Literal { .. } | ExprKind::Secret { .. } | ExprKind::Const { .. } => {
                return Ok(expr.clone());
            }
            // Evaluated only through the call that holds it.
            ExprKind::Lambda { .. } => return self.children(expr, frame),
            _ => {}
        }
        if mentions(expr, &self.held, &mut Vec::new()) {
            return self.children(expr, frame);
        }
        let failed = match self.machine.expr(expr, frame) {
            Ok(value) => match quote(&value, &expr.ty, expr.span, self.machine.ctx.types()) {
                Some(quoted) => return Ok(quoted),
                None => error::wrong_kind(
                    "a value carried into a waiting predicate",
                    "a value that is not a secret",
                    value.kind(),
                )
                .place(expr.span),
            },
            Err(error) if error.code == error::STEP_LIMIT => return Err(error),
            Err(error) => error,
        };
        match &expr.kind {
            // Nothing smaller to compute: these read the run's frame or context,
            // which the residual does not have.
            ExprKind::Local { .. } | ExprKind::Context { .. } | ExprKind::Webhook => Err(failed),
            _ => self.children(expr, frame),
        }
    }

    /// `expr` with each expression directly inside it made residual.
    fn children(&mut self, expr: &Expr, frame: &mut Frame) -> Result<Expr, Error> {
        let kind = match &expr.kind {
            ExprKind::Literal { .. }
            | ExprKind::Local { .. }
            | ExprKind::Secret { .. }
            | ExprKind::Context { .. }
            | ExprKind::Webhook
            | ExprKind::Const { .. } => expr.kind.clone(),
            ExprKind::Template { parts } => ExprKind::Template {
                parts: parts
                    .iter()
                    .map(|part| match part {
                        TemplatePart::Text { .. } => Ok(part.clone()),
                        TemplatePart::Expr { expr } => Ok(TemplatePart::Expr {
                            expr: self.expr(expr, frame)?,
                        }),
                    })
                    .collect::<Result<_, Error>>()?,
            },
            ExprKind::List { items } => ExprKind::List {
                items: self.all(items, frame)?,
            },
            ExprKind::Record { fields } => ExprKind::Record {
                fields: self.fields(fields, frame)?,
            },
            ExprKind::Tagged { tag, fields } => ExprKind::Tagged {
                tag: tag.clone(),
                fields: self.fields(fields, frame)?,
            },
            ExprKind::Field {
                base,
                name,
                optional,
            } => ExprKind::Field {
                base: Box::new(self.expr(base, frame)?),
                name: name.clone(),
                optional: *optional,
            },
            ExprKind::Index { base, index } => ExprKind::Index {
                base: Box::new(self.expr(base, frame)?),
                index: Box::new(self.expr(index, frame)?),
            },
            ExprKind::Call { callee, args } => ExprKind::Call {
                callee: callee.clone(),
                args: self.all(args, frame)?,
            },
            ExprKind::Lambda { params, body } => ExprKind::Lambda {
                params: params.clone(),
                body: Box::new(self.expr(body, frame)?),
            },
            ExprKind::Unary { op, operand } => ExprKind::Unary {
                op: *op,
                operand: Box::new(self.expr(operand, frame)?),
            },
            ExprKind::Binary { op, lhs, rhs } => ExprKind::Binary {
                op: *op,
                lhs: Box::new(self.expr(lhs, frame)?),
                rhs: Box::new(self.expr(rhs, frame)?),
            },
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => ExprKind::If {
                cond: Box::new(self.expr(cond, frame)?),
                then: Box::new(self.expr(then, frame)?),
                otherwise: Box::new(self.expr(otherwise, frame)?),
            },
            ExprKind::Match { scrutinee, arms } => ExprKind::Match {
                scrutinee: Box::new(self.expr(scrutinee, frame)?),
                arms: arms
                    .iter()
                    .map(|arm| {
                        Ok(MatchArm {
                            pattern: arm.pattern.clone(),
                            body: self.expr(&arm.body, frame)?,
                        })
                    })
                    .collect::<Result<_, Error>>()?,
            },
            ExprKind::As { value, target } => ExprKind::As {
                value: Box::new(self.expr(value, frame)?),
                target: target.clone(),
            },
        };
        Ok(Expr {
            kind,
            ty: expr.ty.clone(),
            span: expr.span,
        })
    }

    fn all(&mut self, items: &[Expr], frame: &mut Frame) -> Result<Vec<Expr>, Error> {
        items.iter().map(|item| self.expr(item, frame)).collect()
    }

    fn fields(
        &mut self,
        fields: &[(String, Expr)],
        frame: &mut Frame,
    ) -> Result<Vec<(String, Expr)>, Error> {
        fields
            .iter()
            .map(|(name, value)| Ok((name.clone(), self.expr(value, frame)?)))
            .collect()
    }
}

/// An expression that evaluates, anywhere, to exactly `value`: a constant of the
/// type `ty` when JSON and `ty` carry it exactly, else one built for the value.
/// `None` only for a secret that a template cannot rebuild.
fn quote(value: &Value, ty: &Ty, span: Span, types: &TypeTable) -> Option<Expr> {
    constant(value, ty, span, types).or_else(|| rebuilt(value, span, types))
}

/// A [`Const`](ExprKind::Const) of type `ty`, if reading its JSON back with `ty`
/// gives `value` itself (not merely an equal value: `1` and `1.0` are equal).
fn constant(value: &Value, ty: &Ty, span: Span, types: &TypeTable) -> Option<Expr> {
    let json = value.to_json();
    let back = Value::from_json_typed(&json, ty, types).ok()?;
    identical(&back, value).then(|| Expr {
        kind: ExprKind::Const { value: json },
        ty: ty.clone(),
        span,
    })
}

/// An expression for a value that its own type does not carry through JSON.
fn rebuilt(value: &Value, span: Span, types: &TypeTable) -> Option<Expr> {
    let expr = |kind: ExprKind, ty: Ty| Expr { kind, ty, span };
    // Durations and times read back exactly from their number of milliseconds.
    let millis = |ms: i64, ty: Ty| {
        expr(
            ExprKind::Const {
                value: serde_json::Value::from(ms),
            },
            ty,
        )
    };
    match value {
        Value::Float(x) if !x.is_finite() => Some(non_finite(*x, span)),
        Value::Duration(ms) => Some(millis(*ms, Ty::Duration)),
        Value::Time(ms) => Some(millis(*ms, Ty::Time)),
        Value::Secret(parts) => secret(parts, span),
        Value::List(items) => constant(value, &Ty::Json, span, types).or_else(|| {
            let items = items
                .iter()
                .map(|item| rebuilt(item, span, types))
                .collect::<Option<Vec<_>>>()?;
            Some(expr(ExprKind::List { items }, Ty::Json))
        }),
        Value::Record(fields) => constant(value, &Ty::Json, span, types).or_else(|| {
            let fields = fields
                .iter()
                .map(|(name, item)| Some((name.to_string(), rebuilt(item, span, types)?)))
                .collect::<Option<Vec<_>>>()?;
            Some(expr(ExprKind::Record { fields }, Ty::Json))
        }),
        _ => constant(value, &Ty::Json, span, types),
    }
}

/// `0.0 / 0.0`, `1.0 / 0.0` or `-1.0 / 0.0`.
fn non_finite(x: f64, span: Span) -> Expr {
    let float = |value: f64| Expr {
        kind: ExprKind::Literal {
            value: Literal::Float { value },
        },
        ty: Ty::Float,
        span,
    };
    let numerator = if x.is_nan() { 0.0 } else { x.signum() };
    Expr {
        kind: ExprKind::Binary {
            op: BinaryOp::Div,
            lhs: Box::new(float(numerator)),
            rhs: Box::new(float(0.0)),
        },
        ty: Ty::Float,
        span,
    }
}

/// A template that evaluates to the secret made of `parts`: its text and the
/// names of its vault entries, as the template that built it had them. A
/// template merges adjacent text, so parts that are not in that form (which no
/// template builds) have none.
fn secret(parts: &[SecretPart], span: Span) -> Option<Expr> {
    let named = parts
        .iter()
        .any(|part| matches!(part, SecretPart::Secret(_)));
    let merged = parts
        .windows(2)
        .any(|pair| matches!(pair, [SecretPart::Text(_), SecretPart::Text(_)]))
        || parts
            .iter()
            .any(|part| matches!(part, SecretPart::Text(text) if text.is_empty()));
    if !named || merged {
        return None;
    }
    let parts = parts
        .iter()
        .map(|part| match part {
            SecretPart::Text(text) => TemplatePart::Text {
                text: text.to_string(),
            },
            SecretPart::Secret(name) => TemplatePart::Expr {
                expr: Expr {
                    kind: ExprKind::Secret {
                        name: name.to_string(),
                    },
                    ty: Ty::Secret,
                    span,
                },
            },
        })
        .collect();
    Some(Expr {
        kind: ExprKind::Template { parts },
        ty: Ty::Secret,
        span,
    })
}

/// The same value, kind for kind: unlike `==`, `1` is not `1.0` and `-0.0` is
/// not `0.0`; a NaN is its own double.
fn identical(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y))
        | (Value::Duration(x), Value::Duration(y))
        | (Value::Time(x), Value::Time(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (Value::String(x), Value::String(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(x, y)| identical(x, y))
        }
        (Value::Record(x), Value::Record(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((kx, x), (ky, y))| kx == ky && identical(x, y))
        }
        (Value::Secret(x), Value::Secret(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Fixed, eval};
    use crate::ir::{Program, StepAction, StmtKind, Workflow};
    use crate::{NoImports, SourceFile, analyze};
    use serde_json::json;
    use std::sync::Arc;

    /// 2024-05-01T12:00:00Z.
    const NOW: i64 = 1_714_564_800_000;

    const PROGRAM: &str = r#"
event m = {
  id: string, n: int, f: float, tags: [string], d: duration, t: time,
  note: string?, items: [{ id: string, q: int }]
}
fn double(x: int) -> int = x * 2
workflow w(order: { id: string, n: int, f: float, ids: [string], d: duration, t: time, opt: string? }) {
  on manual
  let limit = order.f / 0.0
  let k = if order.n > 0 then order.n else order.f
  let meta = { d: order.d, ids: order.ids }
  step got = await event m as e where PREDICATE (timeout: 1h)
  let _ = [got.id, "${limit}", "${k}", meta.ids[0]]
}
"#;

    /// Predicates over the message `e`, the input `order` and the `let`s above:
    /// arithmetic, templates, `??`, lambdas, `if`, `match`, `now()`, functions,
    /// errors behind short circuits, and values JSON does not carry by type.
    const PREDICATES: &[&str] = &[
        "e.id == order.id && e.n > order.n * 2",
        "e.n + order.n > 10 || e.f < order.f / 3.0",
        "\"${e.id}-${order.n}\" == \"${order.id}-${e.n}\"",
        "(e.note ?? order.id) == (order.opt ?? \"none\")",
        "order.ids.any(x => x == e.id)",
        "e.items.any(i => i.id == order.id && i.q > order.n)",
        "e.tags.all(t => order.ids.any(x => x == t))",
        "if order.n > 0 then e.n % order.n == 0 else e.n == 0",
        "match e.id { \"a\" => order.n > 1, other => other == order.id }",
        "match order.id { \"a\" => e.n > 1, other => other == e.id }",
        "e.t > now() - order.d && e.d < order.d",
        "e.n / order.n > 1",
        "e.note == order.opt",
        "order.n * 1000000000000 > e.n",
        "len(e.tags) > len(order.ids) && order.ids[0] == e.id",
        "e.f < limit || e.f > -limit",
        "\"${k}\" == e.id || e.f == k",
        "\"${k}/${e.n}\" == \"3/0\"",
        "meta.d == e.d && meta.ids.any(x => x == e.id)",
        "double(order.n) == e.n",
        "!(e.n == order.n) && e.n + order.n * 2 - 1 >= 0",
        "e.n > order.n && e.n / (order.n - order.n) > 0",
        "e.id in order.ids || order.id in e.tags",
        "e.items.map(i => i.q + order.n).sum() > order.n",
        "e.t > order.t && order.t + 1h > e.t",
    ];

    fn inputs() -> Vec<serde_json::Value> {
        let t = "2024-05-01T12:00:00Z";
        vec![
            json!({"id": "a", "n": 0, "f": 0.0, "ids": [], "d": "0s", "t": t, "opt": null}),
            json!({"id": "b", "n": 3, "f": 2.5, "ids": ["a", "b"], "d": "1h", "t": t, "opt": "b"}),
            json!({"id": "a", "n": i64::MAX, "f": -1.5, "ids": ["x"], "d": "90m", "t": "2024-05-01T11:00:00Z"}),
            json!({"id": "c", "n": -2, "f": 1e300, "ids": ["c", "a", "b"], "d": "-5m", "t": t, "opt": "z"}),
        ]
    }

    fn messages() -> Vec<serde_json::Value> {
        vec![
            json!({"id": "a", "n": 0, "f": 0.5, "tags": [], "d": "1m", "t": "2024-05-01T11:00:00Z", "note": null, "items": []}),
            json!({"id": "b", "n": 6, "f": -3.0, "tags": ["a", "b"], "d": "2h", "t": "2024-05-01T12:30:00Z", "note": "b", "items": [{"id": "b", "q": 5}]}),
            json!({"id": "c", "n": -4, "f": 2.5, "tags": ["x", "c"], "d": "0s", "t": "2024-05-01T12:00:00Z", "items": [{"id": "a", "q": 1}, {"id": "c", "q": 0}]}),
            json!({"id": "zz", "n": i64::MAX, "f": 1e-300, "tags": ["a"], "d": "90m", "t": "2024-05-01T10:00:00Z", "note": "zz", "items": [{"id": "a", "q": -7}]}),
        ]
    }

    fn compile(predicate: &str) -> Program {
        let analysis = analyze(
            vec![SourceFile {
                path: "main.flow".into(),
                text: PROGRAM.replace("PREDICATE", predicate),
            }],
            &NoImports,
        );
        let errors: Vec<String> = analysis
            .diagnostics
            .iter()
            .filter(|entry| entry.diagnostic.is_error())
            .map(|entry| entry.diagnostic.message.clone())
            .collect();
        assert!(errors.is_empty(), "{predicate}: {errors:?}");
        analysis.program
    }

    /// Whether two evaluations agree: identical values, or errors with the same
    /// code, message and span.
    fn agree(a: &Result<Value, Error>, b: &Result<Value, Error>) -> bool {
        match (a, b) {
            (Ok(a), Ok(b)) => identical(a, b),
            (Err(a), Err(b)) => a.code == b.code && a.message == b.message && a.span == b.span,
            _ => false,
        }
    }

    /// The binding and the predicate of the workflow's first step, an `await`.
    fn the_await(workflow: &Workflow) -> (Slot, &Expr) {
        match workflow
            .body
            .iter()
            .map(|stmt| &stmt.kind)
            .find(|kind| matches!(kind, StmtKind::Step { .. }))
        {
            Some(StmtKind::Step {
                action:
                    StepAction::AwaitEvent {
                        binding, filter, ..
                    },
                ..
            }) => (*binding, filter),
            _ => panic!("no await"),
        }
    }

    fn locals(expr: &Expr, out: &mut BTreeSet<Slot>) {
        if let ExprKind::Local { slot } = expr.kind {
            out.insert(slot);
        }
        crate::correlate::for_each_child(expr, &mut |child| locals(child, out));
    }

    #[test]
    fn the_residual_in_a_fresh_frame_agrees_with_the_predicate() {
        let limits = Limits::default();
        let mut compared = 0;
        for predicate in PREDICATES {
            let program = compile(predicate);
            let workflow = &program.workflows[0];
            let ctx = Fixed {
                functions: program.functions.clone(),
                types: program.types.clone(),
                ..Fixed::new(NOW)
            };
            let size = usize::try_from(workflow.frame_size).unwrap_or(0);
            let (binding, filter) = the_await(workflow);
            let mut held = crate::correlate::binders(filter);
            held.insert(binding);
            let message_ty = &program.events[0].ty;
            for input in inputs() {
                let input = Value::from_json_typed(&input, &workflow.params[0].ty, &program.types)
                    .expect("input fits");
                // The run up to the await: its input and its `let`s.
                let mut run = Frame::with_input(size, input);
                for stmt in &workflow.body {
                    if let StmtKind::Let { slot, value } = &stmt.kind {
                        let value = eval(value, &mut run, &ctx, &limits).expect("let");
                        run.set(*slot, value);
                    }
                    if matches!(stmt.kind, StmtKind::Step { .. }) {
                        break;
                    }
                }
                let residual = residual(filter, binding, &mut run.clone(), &ctx, &limits)
                    .unwrap_or_else(|error| panic!("{predicate}: {error}"));
                let mut read = BTreeSet::new();
                locals(&residual, &mut read);
                assert!(
                    read.is_subset(&held),
                    "{predicate}: the residual reads the run's slots {read:?}"
                );
                let mut bytes = Vec::new();
                ciborium::ser::into_writer(&residual, &mut bytes).expect("cbor");
                let stored: Expr = ciborium::de::from_reader(&bytes[..]).expect("cbor back");
                assert_eq!(stored, residual, "{predicate}: CBOR round trip");
                for message in messages() {
                    let message =
                        Value::from_json_typed(&message, message_ty, &program.types).expect("fits");
                    let mut original = run.clone();
                    original.set(binding, message.clone());
                    let expected = eval(filter, &mut original, &ctx, &limits);
                    let mut fresh = Frame::new(size);
                    fresh.set(binding, message.clone());
                    let found = eval(&stored, &mut fresh, &ctx, &limits);
                    assert!(
                        agree(&expected, &found),
                        "{predicate}\nmessage {message}\noriginal {expected:?}\nresidual {found:?}\n{residual:#?}"
                    );
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, PREDICATES.len() * 16);
    }

    #[test]
    fn the_runs_part_is_computed_once() {
        let program = compile("e.n > order.n * 2 + double(order.n) && e.t < now()");
        let workflow = &program.workflows[0];
        let (binding, filter) = the_await(workflow);
        let ctx = Fixed {
            functions: program.functions.clone(),
            ..Fixed::new(NOW)
        };
        let input =
            json!({"id": "a", "n": 5, "f": 0.0, "ids": [], "d": "0s", "t": "2024-05-01T12:00:00Z"});
        let input =
            Value::from_json_typed(&input, &workflow.params[0].ty, &program.types).expect("fits");
        let mut frame = Frame::with_input(usize::try_from(workflow.frame_size).unwrap_or(0), input);
        let residual =
            residual(filter, binding, &mut frame, &ctx, &Limits::default()).expect("residual");
        let ExprKind::Binary { lhs, rhs, .. } = &residual.kind else {
            panic!("{residual:#?}");
        };
        let ExprKind::Binary { rhs: limit, .. } = &lhs.kind else {
            panic!("{lhs:#?}");
        };
        assert_eq!(limit.kind, ExprKind::Const { value: json!(20) });
        assert_eq!(limit.ty, Ty::Int);
        let ExprKind::Binary { rhs: now, .. } = &rhs.kind else {
            panic!("{rhs:#?}");
        };
        assert_eq!(
            now.kind,
            ExprKind::Const {
                value: json!("2024-05-01T12:00:00Z")
            }
        );
        assert_eq!(now.ty, Ty::Time);
    }

    #[test]
    fn running_out_of_steps_is_an_error() {
        let program = compile("e.n > order.ids.map(x => len(x)).sum()");
        let workflow = &program.workflows[0];
        let (binding, filter) = the_await(workflow);
        let ids: Vec<serde_json::Value> = (0..100).map(|i| json!(format!("id{i}"))).collect();
        let input = json!({"id": "a", "n": 5, "f": 0.0, "ids": ids, "d": "0s", "t": "2024-05-01T12:00:00Z"});
        let input =
            Value::from_json_typed(&input, &workflow.params[0].ty, &program.types).expect("fits");
        let mut frame = Frame::with_input(usize::try_from(workflow.frame_size).unwrap_or(0), input);
        let limits = Limits {
            max_steps: 50,
            ..Limits::default()
        };
        let error = residual(filter, binding, &mut frame, &Fixed::new(NOW), &limits)
            .expect_err("out of steps");
        assert_eq!(error.code, error::STEP_LIMIT);
    }

    fn secret(parts: Vec<SecretPart>) -> Value {
        Value::Secret(Arc::new(parts))
    }

    /// Every kind of value, under its own type and under types that do not say
    /// its kind, is carried exactly: evaluated anywhere, the quote gives the value
    /// itself.
    #[test]
    fn every_kind_of_value_is_carried_exactly() {
        let types = TypeTable::new();
        let text = |s: &str| SecretPart::Text(Arc::from(s));
        let named = |s: &str| SecretPart::Secret(Arc::from(s));
        let cases: Vec<(Value, Ty)> = vec![
            (Value::Null, Ty::Null),
            (Value::Bool(true), Ty::Bool),
            (Value::Int(i64::MIN), Ty::Int),
            (Value::Int(1), Ty::Float),
            (Value::Int(2), Ty::union(vec![Ty::Int, Ty::Float])),
            (Value::Float(2.0), Ty::union(vec![Ty::Int, Ty::Float])),
            (Value::Float(0.1 + 0.2), Ty::Float),
            (Value::Float(-0.0), Ty::Float),
            (Value::Float(f64::NAN), Ty::Float),
            (Value::Float(f64::INFINITY), Ty::Float),
            (Value::Float(f64::NEG_INFINITY), Ty::Json),
            (Value::Float(5e-324), Ty::Float),
            (Value::string("a \"quoted\" ✓"), Ty::String),
            (Value::Duration(5_400_000), Ty::Duration),
            (Value::Duration(i64::MIN), Ty::Duration),
            (Value::Duration(1500), Ty::Json),
            (Value::Time(NOW + 250), Ty::Time),
            (Value::Time(i64::MAX), Ty::Time),
            (Value::Time(NOW), Ty::String),
            (
                Value::list(vec![
                    Value::Int(1),
                    Value::Float(1.0),
                    Value::Duration(60_000),
                ]),
                Ty::Json,
            ),
            (
                Value::record([
                    ("$tag", Value::string("bearer")),
                    ("n", Value::Float(f64::NAN)),
                    ("at", Value::Time(NOW)),
                    ("nested", Value::list(vec![Value::Null, Value::Bool(false)])),
                ]),
                Ty::Json,
            ),
            (secret(vec![named("k")]), Ty::Secret),
            (
                secret(vec![text("Bearer "), named("k"), text("!")]),
                Ty::Secret,
            ),
            (
                Value::record([("token", secret(vec![named("a"), named("b")]))]),
                Ty::Json,
            ),
        ];
        let ctx = Fixed::new(NOW);
        for (value, ty) in cases {
            let quoted = quote(&value, &ty, Span::new(0, 1), &types)
                .unwrap_or_else(|| panic!("{value:?} as {ty} has no quote"));
            let found = eval(&quoted, &mut Frame::new(0), &ctx, &Limits::default())
                .unwrap_or_else(|error| panic!("{value:?} as {ty}: {error}"));
            assert!(
                identical(&found, &value),
                "{value:?} as {ty} came back as {found:?}"
            );
            let mut bytes = Vec::new();
            ciborium::ser::into_writer(&quoted, &mut bytes).expect("cbor");
            let stored: Expr = ciborium::de::from_reader(&bytes[..]).expect("cbor back");
            let found = eval(&stored, &mut Frame::new(0), &ctx, &Limits::default())
                .unwrap_or_else(|error| panic!("{value:?} as {ty} after CBOR: {error}"));
            assert!(
                identical(&found, &value),
                "{value:?} as {ty} after CBOR: {found:?}"
            );
        }
    }

    /// A secret is never turned into text: it is rebuilt from its names, and one
    /// that no template builds is refused.
    #[test]
    fn secrets_are_names_never_text() {
        let types = TypeTable::new();
        let value = secret(vec![SecretPart::Secret(Arc::from("token"))]);
        let quoted = quote(&value, &Ty::Secret, Span::new(0, 1), &types).expect("quote");
        let json = serde_json::to_string(&quoted).expect("json");
        assert!(!json.contains("\"const\""), "{json}");
        assert!(json.contains("\"secret\""), "{json}");
        let merged = secret(vec![
            SecretPart::Text(Arc::from("a")),
            SecretPart::Text(Arc::from("b")),
            SecretPart::Secret(Arc::from("token")),
        ]);
        assert_eq!(quote(&merged, &Ty::Secret, Span::new(0, 1), &types), None);
    }
}
