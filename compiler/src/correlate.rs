//! Correlation keys: the equality that lets the runtime find the runs waiting for
//! a message without testing every one.
//!
//! `await event E as e where e.order_id == order.id && e.amount > 10` parks a run
//! until a message of `E` satisfies the predicate. Many runs may wait on one topic,
//! and testing each against each message is quadratic. But a conjunct of the form
//! `e.order_id == v`, where `v` does not depend on the message, means that only
//! runs whose `v` equals the message's `order_id` can match: the runtime computes
//! `v` once, when the run starts waiting, stores it next to the wait, and looks
//! waits up by the message's field. [`key`] finds that conjunct when the predicate
//! has one (the checker warns with W0404 when it has none); [`key_text`] gives the
//! text the runtime indexes a key value by.
//!
//! The key only narrows the candidates: the runtime still tests the whole
//! predicate on each of them (see [`eval::residual`](crate::eval::residual)), so
//! a key is sound as long as every message that satisfies the predicate has the
//! key value at the path.

use crate::ir::{BinaryOp, CorrelationKey, Expr, ExprKind, Pattern, Slot, TemplatePart};
use crate::value::Value;
use std::collections::BTreeSet;

/// The correlation key of an `await` predicate whose message is in slot
/// `binding`: among the top-level `&&` conjuncts of `filter`, the first equality
/// `binding.f1.f2… == v` or `v == binding.f1.f2…` in which the path is a chain of
/// plain field reads (not `?.`, not `[…]`) starting at the message, and `v`
/// mentions neither the message nor a name bound inside the predicate (a lambda's
/// parameter, a `match` binding). `None` when there is no such conjunct, for
/// example when the predicate is a `||` or compares with `!=`.
pub fn key(filter: &Expr, binding: Slot) -> Option<CorrelationKey> {
    let mut held = binders(filter);
    held.insert(binding);
    let mut conjuncts = Vec::new();
    conjuncts_of(filter, &mut conjuncts);
    conjuncts.into_iter().find_map(|conjunct| {
        let ExprKind::Binary {
            op: BinaryOp::Eq,
            lhs,
            rhs,
        } = &conjunct.kind
        else {
            return None;
        };
        [(lhs, rhs), (rhs, lhs)]
            .into_iter()
            .find_map(|(side, other)| {
                let path = path_from(side, binding)?;
                (!mentions(other, &held, &mut Vec::new())).then(|| CorrelationKey {
                    path,
                    value: (**other).clone(),
                })
            })
    })
}

/// The text a key value is indexed by: two values that are equal under `==` have
/// the same text, so a message's field and a run's key value meet in an index
/// whenever the predicate's equality could hold. (Different values may share a
/// text, a duration and the string that spells it for instance; the predicate,
/// tested afterwards, tells them apart.) Numbers are written by value, `1` and
/// `1.0` alike, and `-0.0` as `0`; records with their keys in code-point order.
/// `None` for a value that is equal to nothing (one that holds a NaN) and for a
/// secret, which is never a key.
pub fn key_text(value: &Value) -> Option<String> {
    let mut text = String::new();
    write_key(value, &mut text)?;
    Some(text)
}

fn write_key(value: &Value, out: &mut String) -> Option<()> {
    use std::fmt::Write as _;
    match value {
        Value::Float(x) if x.is_nan() => return None,
        // An integral float in the range of `int` equals that `int`.
        Value::Float(x)
            if x.fract() == 0.0
                && *x >= -crate::value::TWO_POW_63
                && *x < crate::value::TWO_POW_63 =>
        {
            #[allow(clippy::cast_possible_truncation)]
            let whole = *x as i64;
            let _ = write!(out, "{whole}");
        }
        Value::Secret(_) => return None,
        Value::List(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_key(item, out)?;
            }
            out.push(']');
        }
        Value::Record(fields) => {
            out.push('{');
            for (index, (name, item)) in fields.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::from(&**name).to_string());
                out.push(':');
                write_key(item, out)?;
            }
            out.push('}');
        }
        other => out.push_str(&other.to_json().to_string()),
    }
    Some(())
}

/// The `&&` operands of `expr`, flattened, left to right.
fn conjuncts_of<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
    match &expr.kind {
        ExprKind::Binary {
            op: BinaryOp::And,
            lhs,
            rhs,
        } => {
            conjuncts_of(lhs, out);
            conjuncts_of(rhs, out);
        }
        _ => out.push(expr),
    }
}

/// The field names of `binding.f1.f2…`, or `None` for any other shape.
fn path_from(expr: &Expr, binding: Slot) -> Option<Vec<String>> {
    match &expr.kind {
        ExprKind::Local { slot } if *slot == binding => Some(Vec::new()),
        ExprKind::Field {
            base,
            name,
            optional: false,
        } => {
            let mut path = path_from(base, binding)?;
            path.push(name.clone());
            Some(path)
        }
        _ => None,
    }
}

/// The slots bound inside `expr`: lambda parameters and `match` bindings.
pub(crate) fn binders(expr: &Expr) -> BTreeSet<Slot> {
    let mut found = BTreeSet::new();
    each_binder(expr, &mut found);
    found
}

fn each_binder(expr: &Expr, found: &mut BTreeSet<Slot>) {
    match &expr.kind {
        ExprKind::Lambda { params, body } => {
            found.extend(params.iter().copied());
            each_binder(body, found);
        }
        ExprKind::Match { scrutinee, arms } => {
            each_binder(scrutinee, found);
            for arm in arms {
                pattern_slots(&arm.pattern, &mut |slot| {
                    found.insert(slot);
                });
                each_binder(&arm.body, found);
            }
        }
        _ => for_each_child(expr, &mut |child| each_binder(child, found)),
    }
}

/// Whether `expr` reads a slot of `held` that is not bound inside it; `bound`
/// holds the slots bound by the binders around the current node (empty at the
/// start).
pub(crate) fn mentions(expr: &Expr, held: &BTreeSet<Slot>, bound: &mut Vec<Slot>) -> bool {
    match &expr.kind {
        ExprKind::Local { slot } => held.contains(slot) && !bound.contains(slot),
        ExprKind::Lambda { params, body } => {
            let depth = bound.len();
            bound.extend(params.iter().copied());
            let found = mentions(body, held, bound);
            bound.truncate(depth);
            found
        }
        ExprKind::Match { scrutinee, arms } => {
            mentions(scrutinee, held, bound)
                || arms.iter().any(|arm| {
                    let depth = bound.len();
                    pattern_slots(&arm.pattern, &mut |slot| bound.push(slot));
                    let found = mentions(&arm.body, held, bound);
                    bound.truncate(depth);
                    found
                })
        }
        _ => {
            let mut found = false;
            for_each_child(expr, &mut |child| {
                found = found || mentions(child, held, bound);
            });
            found
        }
    }
}

fn pattern_slots(pattern: &Pattern, f: &mut impl FnMut(Slot)) {
    match pattern {
        Pattern::Binding { slot } => f(*slot),
        Pattern::Or { alternatives } => {
            for alternative in alternatives {
                pattern_slots(alternative, f);
            }
        }
        Pattern::Wildcard | Pattern::Literal { .. } => {}
    }
}

/// Calls `f` on each expression directly inside `expr` (a lambda's body and a
/// match's scrutinee and arm bodies included).
pub(crate) fn for_each_child<'e>(expr: &'e Expr, f: &mut impl FnMut(&'e Expr)) {
    match &expr.kind {
        ExprKind::Literal { .. }
        | ExprKind::Local { .. }
        | ExprKind::Secret { .. }
        | ExprKind::Context { .. }
        | ExprKind::Webhook
        | ExprKind::Const { .. } => {}
        ExprKind::Template { parts } => {
            for part in parts {
                if let TemplatePart::Expr { expr } = part {
                    f(expr);
                }
            }
        }
        ExprKind::List { items } => items.iter().for_each(f),
        ExprKind::Record { fields } | ExprKind::Tagged { fields, .. } => {
            fields.iter().for_each(|(_, value)| f(value));
        }
        ExprKind::Field { base, .. } => f(base),
        ExprKind::Index { base, index } => {
            f(base);
            f(index);
        }
        ExprKind::Call { args, .. } => args.iter().for_each(f),
        ExprKind::Lambda { body, .. } => f(body),
        ExprKind::Unary { operand, .. } => f(operand),
        ExprKind::Binary { lhs, rhs, .. } => {
            f(lhs);
            f(rhs);
        }
        ExprKind::If {
            cond,
            then,
            otherwise,
        } => {
            f(cond);
            f(then);
            f(otherwise);
        }
        ExprKind::Match { scrutinee, arms } => {
            f(scrutinee);
            arms.iter().for_each(|arm| f(&arm.body));
        }
        ExprKind::As { value, .. } => f(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{StepAction, StmtKind};
    use crate::{Analysis, NoImports, SourceFile, analyze};

    const DECLARATIONS: &str = r#"
event paid = { id: string, order: { id: string, n: int }, meta: { id: string }?, tags: [string], n: int }
event ping = string
"#;

    fn analysis(source: &str) -> Analysis {
        analyze(
            vec![SourceFile {
                path: "main.flow".into(),
                text: format!("{DECLARATIONS}{source}"),
            }],
            &NoImports,
        )
    }

    /// The predicate's key in `await event paid as e where PREDICATE` (or
    /// `await event ping as s` when `ping` is set), as its path and the source
    /// text of its value; and the codes of the diagnostics.
    fn keyed(predicate: &str) -> (Option<(Vec<String>, String)>, Vec<String>) {
        let event = if predicate.starts_with("s ") {
            "ping as s"
        } else {
            "paid as e"
        };
        let source = format!(
            "workflow w(order: {{ id: string, ids: [string], n: int }}) {{\n  on manual\n  \
             step got = await event {event} where {predicate} (timeout: 1h)\n  let _ = got\n}}\n"
        );
        let analysis = analysis(&source);
        let codes = analysis
            .diagnostics
            .iter()
            .map(|entry| entry.diagnostic.code.as_str().to_string())
            .collect();
        let text = format!("{DECLARATIONS}{source}");
        let key = awaits(&analysis).into_iter().next().flatten().map(|key| {
            let span = key.value.span;
            let value = text[span.start as usize..span.end as usize].to_string();
            (key.path, value)
        });
        (key, codes)
    }

    fn awaits(analysis: &Analysis) -> Vec<Option<CorrelationKey>> {
        let mut keys = Vec::new();
        for stmt in analysis.program.workflows.iter().flat_map(|w| &w.body) {
            if let StmtKind::Step {
                action: StepAction::AwaitEvent { key, .. } | StepAction::AwaitWebhook { key, .. },
                ..
            } = &stmt.kind
            {
                keys.push(key.clone());
            }
        }
        keys
    }

    fn path(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_string()).collect()
    }

    #[test]
    fn the_message_field_may_be_on_either_side() {
        assert_eq!(
            keyed("e.id == order.id"),
            (Some((path(&["id"]), "order.id".into())), vec![])
        );
        assert_eq!(
            keyed("order.id == e.id"),
            (Some((path(&["id"]), "order.id".into())), vec![])
        );
        assert_eq!(
            keyed("e.id == \"x\""),
            (Some((path(&["id"]), "\"x\"".into())), vec![])
        );
    }

    #[test]
    fn nested_fields_and_the_whole_message_are_paths() {
        assert_eq!(
            keyed("e.order.id == order.id").0,
            Some((path(&["order", "id"]), "order.id".into()))
        );
        assert_eq!(
            keyed("s == order.id").0,
            Some((Vec::new(), "order.id".into()))
        );
    }

    #[test]
    fn the_first_equality_among_the_conjuncts_wins() {
        assert_eq!(
            keyed("e.n > 3 && (e.order.n == order.n + 1 && e.id == order.id)").0,
            Some((path(&["order", "n"]), "order.n + 1".into()))
        );
        assert_eq!(
            keyed("e.id == e.order.id && e.n == order.n").0,
            Some((path(&["n"]), "order.n".into()))
        );
    }

    #[test]
    fn no_key_without_a_plain_equality_at_the_top() {
        for predicate in [
            "e.id == order.id || e.id == \"x\"",
            "e.id != order.id",
            "!(e.id != order.id)",
            "e.id == e.order.id",
            "e.meta?.id == order.id",
            "e.tags[0] == order.id",
            "e.id.lower() == order.id",
            "order.ids.any(x => x == e.id)",
            "if e.n > 1 then e.id == order.id else false",
            "e.n > 0",
        ] {
            let (key, codes) = keyed(predicate);
            assert_eq!(key, None, "{predicate}");
            assert_eq!(codes, vec!["W0404".to_string()], "{predicate}");
        }
    }

    #[test]
    fn the_warning_waits_for_a_predicate_that_checks() {
        let (key, codes) = keyed("e.nope > 1");
        assert_eq!(key, None);
        assert_eq!(codes, vec!["E0402".to_string()]);
    }

    #[test]
    fn await_webhook_has_a_key_too() {
        let analysis = analysis(
            r#"
workflow w(order: { id: string }) {
  on manual
  step got = await webhook POST "/hooks/x" as d where d.data.object.id == order.id (timeout: 1h)
  step loose = await webhook POST "/hooks/y" as d2 where d2.kind in ["a", "b"] (timeout: 1h)
  let _ = [got, loose]
}
"#,
        );
        let keys = awaits(&analysis);
        assert_eq!(keys.len(), 2);
        assert_eq!(
            keys[0].as_ref().map(|key| key.path.clone()),
            Some(path(&["data", "object", "id"]))
        );
        assert_eq!(keys[1], None);
        let codes: Vec<&str> = analysis
            .diagnostics
            .iter()
            .map(|entry| entry.diagnostic.code.as_str())
            .collect();
        assert_eq!(codes, ["W0404"]);
    }

    #[test]
    fn key_text_agrees_with_equality() {
        let equal_pairs = [
            (Value::Int(1), Value::Float(1.0)),
            (Value::Float(-0.0), Value::Int(0)),
            (
                Value::Int(i64::MIN),
                Value::Float(-crate::value::TWO_POW_63),
            ),
            (
                Value::list(vec![Value::Int(2), Value::string("a")]),
                Value::list(vec![Value::Float(2.0), Value::string("a")]),
            ),
            (
                Value::record([("b", Value::Int(1)), ("a", Value::Null)]),
                Value::record([("a", Value::Null), ("b", Value::Float(1.0))]),
            ),
            (Value::Duration(5_400_000), Value::Duration(5_400_000)),
        ];
        for (a, b) in equal_pairs {
            assert_eq!(a, b);
            assert_eq!(key_text(&a), key_text(&b), "{a} and {b}");
            assert!(key_text(&a).is_some());
        }
        let different = [
            (Value::Int(1), Value::Float(1.5)),
            (Value::Int(1), Value::string("1")),
            (Value::Int(i64::MAX), Value::Float(crate::value::TWO_POW_63)),
            (Value::string("a\"b"), Value::string("a\\\"b")),
        ];
        for (a, b) in different {
            assert_ne!(a, b);
            assert_ne!(key_text(&a), key_text(&b), "{a} and {b}");
        }
        assert_eq!(key_text(&Value::Float(f64::NAN)), None);
        assert_eq!(key_text(&Value::list(vec![Value::Float(f64::NAN)])), None);
        let secret = Value::Secret(std::sync::Arc::new(vec![crate::value::SecretPart::Secret(
            "k".into(),
        )]));
        assert_eq!(key_text(&secret), None);
        assert_eq!(key_text(&Value::string("x")).as_deref(), Some("\"x\""));
    }
}
