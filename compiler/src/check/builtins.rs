//! The standard library as the checker sees it: calls of built-in functions are
//! matched against the signatures of `stdlib`'s table, whose type variables are
//! bound by unification with the arguments' types; lambdas get their parameter
//! types from the bindings made so far and bind the result variable.

use super::Checker;
use super::diagnostics as diag;
use crate::diagnostic::Span;
use crate::ir;
use crate::stdlib::{self, Bound, SigTy, Signature};
use crate::syntax::ast;
use crate::ty::Ty;
use std::collections::BTreeMap;

/// An argument of a call, before checking: an expression already lowered (the
/// receiver of a method call) or a source argument, maybe named.
pub(super) enum Arg<'e> {
    Checked(ir::Expr),
    Source(&'e ast::Arg),
}

impl Arg<'_> {
    fn name(&self) -> Option<&ast::Ident> {
        match self {
            Arg::Checked(_) => None,
            Arg::Source(arg) => arg.name.as_ref(),
        }
    }
}

impl Checker<'_> {
    pub(super) fn call_builtin(
        &mut self,
        builtin: &'static stdlib::Builtin,
        args: Vec<Arg<'_>>,
        span: Span,
    ) -> ir::Expr {
        // A name given twice is reported, and its second argument dropped (after
        // checking its value on its own).
        let mut args = args;
        let mut seen: Vec<(String, Span)> = Vec::new();
        let mut index = 0;
        while index < args.len() {
            let Some(name) = args[index].name().cloned() else {
                index += 1;
                continue;
            };
            match seen.iter().find(|(known, _)| *known == name.name) {
                Some((_, first)) => {
                    self.error(diag::duplicate_option(&name.name, name.span, *first));
                    if let Arg::Source(arg) = args.remove(index)
                        && !is_lambda(&arg.value)
                    {
                        self.infer(&arg.value);
                    }
                }
                None => {
                    seen.push((name.name.clone(), name.span));
                    index += 1;
                }
            }
        }
        // Lower every argument that is not a lambda first: their types pick the
        // overload and bind the variables lambdas need.
        let mut lowered: Vec<Option<ir::Expr>> = Vec::with_capacity(args.len());
        let mut sources: Vec<Option<&ast::Expr>> = Vec::with_capacity(args.len());
        let mut names: Vec<Option<&ast::Ident>> = Vec::with_capacity(args.len());
        let mut spans: Vec<Span> = Vec::with_capacity(args.len());
        for arg in &args {
            match arg {
                Arg::Checked(expr) => {
                    lowered.push(Some(expr.clone()));
                    sources.push(None);
                    names.push(None);
                    spans.push(expr.span);
                }
                Arg::Source(arg) => {
                    if is_lambda(&arg.value) {
                        lowered.push(None);
                        sources.push(Some(&arg.value));
                    } else {
                        lowered.push(Some(self.infer(&arg.value)));
                        sources.push(None);
                    }
                    names.push(arg.name.as_ref());
                    spans.push(arg.span);
                }
            }
        }
        for expr in lowered.iter().flatten() {
            if self.mentions_secret(&expr.ty) {
                self.error(diag::secret_leak(
                    &format!("as an argument of `{}`", builtin.name),
                    expr.span,
                ));
                return error_expr(span);
            }
        }
        let chosen = builtin.overloads.iter().find_map(|signature| {
            let slots = assign(signature, &names)?;
            let mut bindings: BTreeMap<&'static str, Ty> = BTreeMap::new();
            for (position, (param, slot)) in signature.params.iter().zip(&slots).enumerate() {
                let Some(arg) = slot.and_then(|slot| lowered[slot].as_ref()) else {
                    continue;
                };
                // The `json` overloads (`len`, `keys`, `values`, `get`) take a
                // JSON value or record, not any value that converts to `json`.
                let fits = if position == 0 && param.ty == SigTy::Json {
                    self.json_like(&arg.ty)
                } else {
                    self.unify(&param.ty, &arg.ty, &mut bindings)
                };
                if !fits {
                    return None;
                }
            }
            Some((signature, bindings, slots))
        });
        let Some((signature, mut bindings, slots)) = chosen else {
            self.no_overload(builtin, &lowered, &names, &spans, span);
            return error_expr(span);
        };
        // Arguments in parameter order; lambdas get their parameter types from the
        // bindings so far. A parameter left out before one given takes its default.
        let given = slots
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |last| last + 1);
        let mut final_args = Vec::with_capacity(given);
        for (param, slot) in signature.params.iter().zip(&slots).take(given) {
            match slot {
                Some(slot) => match (lowered[*slot].take(), sources[*slot]) {
                    (Some(arg), _) => final_args.push(arg),
                    (None, Some(source)) => {
                        let lambda = self.check_lambda(source, &param.ty, &mut bindings);
                        final_args.push(lambda);
                    }
                    (None, None) => {}
                },
                None => match param.default.and_then(|text| default_literal(text, span)) {
                    Some(default) => final_args.push(default),
                    None => {
                        self.error(diag::wrong_arguments(
                            &format!("`{}`", builtin.name),
                            &format!("missing the argument `{}`", param.name),
                            span,
                            &format!("{}{signature}", builtin.name),
                        ));
                        return error_expr(span);
                    }
                },
            }
        }
        if !self.bounds_hold(signature, &bindings) {
            let found: Vec<String> = final_args.iter().map(|arg| arg.ty.to_string()).collect();
            self.error(diag::wrong_arguments(
                &format!("`{}`", builtin.name),
                &format!("no signature takes ({})", found.join(", ")),
                span,
                &format!("{}{signature}", builtin.name),
            ));
            return error_expr(span);
        }
        let ty = signature.ret.instantiate(&bindings).unwrap_or(Ty::Error);
        ir::Expr {
            kind: ir::ExprKind::Call {
                callee: ir::Callee::Builtin {
                    name: builtin.name.to_string(),
                },
                args: final_args,
            },
            ty,
            span,
        }
    }

    /// Reports why no signature of `builtin` takes these arguments: a name no
    /// parameter has, a `json` value where a converted one is wanted, the number of
    /// arguments, or their types.
    fn no_overload(
        &mut self,
        builtin: &stdlib::Builtin,
        lowered: &[Option<ir::Expr>],
        names: &[Option<&ast::Ident>],
        spans: &[Span],
        span: Span,
    ) {
        let what = format!("`{}`", builtin.name);
        let signatures: Vec<String> = builtin
            .overloads
            .iter()
            .map(|signature| format!("{}{signature}", builtin.name))
            .collect();
        let signatures = signatures.join("` or `");
        for (name, at) in names.iter().zip(spans) {
            if let Some(name) = name
                && !builtin
                    .overloads
                    .iter()
                    .any(|signature| signature.params.iter().any(|p| p.name == name.name))
            {
                self.error(diag::wrong_arguments(
                    &what,
                    &format!("no parameter is named `{}`", name.name),
                    *at,
                    &signatures,
                ));
                return;
            }
        }
        let fitting: Vec<(&Signature, Vec<Option<usize>>)> = builtin
            .overloads
            .iter()
            .filter_map(|signature| assign(signature, names).map(|slots| (signature, slots)))
            .collect();
        // A `json` value given for a parameter of a plain type needs `as`.
        for (signature, slots) in &fitting {
            for (param, slot) in signature.params.iter().zip(slots) {
                let Some(arg) = slot.and_then(|slot| lowered[slot].as_ref()) else {
                    continue;
                };
                if matches!(self.resolve_ref(&arg.ty), Ty::Json)
                    && let Some(expected) = param.ty.instantiate(&BTreeMap::new())
                    && !matches!(expected, Ty::Json)
                {
                    self.error(diag::json_needs_conversion(&expected, arg.span));
                    return;
                }
            }
        }
        let message = if fitting.is_empty() {
            format!("{} argument(s) given", names.len())
        } else {
            let found: Vec<String> = lowered
                .iter()
                .map(|arg| match arg {
                    Some(arg) => arg.ty.to_string(),
                    None => "lambda".to_string(),
                })
                .collect();
            format!("no signature takes ({})", found.join(", "))
        };
        self.error(diag::wrong_arguments(&what, &message, span, &signatures));
    }

    /// Whether a value may be the subject of a `json` overload: a `json` value or a
    /// record (a JSON object).
    fn json_like(&self, ty: &Ty) -> bool {
        match self.resolve(ty) {
            Ty::Json | Ty::Record { .. } | Ty::Error | Ty::Never => true,
            Ty::Union { members } => members.iter().all(|member| self.json_like(member)),
            _ => false,
        }
    }

    fn check_lambda(
        &mut self,
        source: &ast::Expr,
        expected: &SigTy,
        bindings: &mut BTreeMap<&'static str, Ty>,
    ) -> ir::Expr {
        let ast::ExprKind::Lambda { params, body } = &source.kind else {
            return self.infer(source);
        };
        let SigTy::Fn(param_tys, ret) = expected else {
            self.error(diag::misplaced_lambda(source.span));
            return error_expr(source.span);
        };
        if params.len() != param_tys.len() {
            self.error(diag::lambda_arity(
                param_tys.len(),
                params.len(),
                source.span,
            ));
            return error_expr(source.span);
        }
        self.push_scope();
        let mut slots = Vec::new();
        for (param, ty) in params.iter().zip(param_tys.iter()) {
            let ty = ty.instantiate(bindings).unwrap_or(Ty::Error);
            slots.push(self.bind(&param.name, param.span, ty, super::BindingKind::Lambda));
        }
        let body = self.infer(body);
        self.pop_scope();
        if !self.unify(ret, &body.ty, bindings) {
            let expected = ret.instantiate(bindings).unwrap_or(Ty::Error);
            self.error(diag::mismatched_in(
                "the lambda's result",
                &expected,
                &body.ty,
                body.span,
            ));
        }
        let ty = Ty::Fn {
            params: param_tys
                .iter()
                .map(|ty| ty.instantiate(bindings).unwrap_or(Ty::Error))
                .collect(),
            ret: Box::new(body.ty.clone()),
        };
        ir::Expr {
            kind: ir::ExprKind::Lambda {
                params: slots,
                body: Box::new(body),
            },
            ty,
            span: source.span,
        }
    }

    /// Binds the variables of `sig` so that `ty` fits it; false when it cannot.
    fn unify(&self, sig: &SigTy, ty: &Ty, bindings: &mut BTreeMap<&'static str, Ty>) -> bool {
        let resolved = self.resolve(ty);
        if matches!(resolved, Ty::Error | Ty::Never) {
            if let SigTy::Var(name) = sig {
                bindings.entry(name).or_insert(Ty::Error);
            }
            return true;
        }
        match sig {
            SigTy::Var(name) => match bindings.get(name).cloned() {
                Some(bound) => {
                    if self.assignable(ty, &bound) {
                        true
                    } else if self.assignable(&bound, ty) {
                        bindings.insert(name, ty.clone());
                        true
                    } else if self.is_number(&bound) && self.is_number(ty) {
                        bindings.insert(name, Ty::Float);
                        true
                    } else {
                        false
                    }
                }
                None => {
                    bindings.insert(name, widen(ty));
                    true
                }
            },
            SigTy::List(element) => match resolved {
                Ty::List { element: found } => self.unify(element, &found, bindings),
                Ty::Json => self.unify(element, &Ty::Json, bindings),
                _ => false,
            },
            SigTy::Map(value) => match resolved {
                Ty::Map { value: found } => self.unify(value, &found, bindings),
                Ty::Json => self.unify(value, &Ty::Json, bindings),
                Ty::Record { fields } => fields
                    .iter()
                    .all(|field| self.unify(value, &field.ty, bindings)),
                _ => false,
            },
            SigTy::Optional(inner) => {
                let inner_ty = if self.nullable(ty) {
                    self.non_null(ty)
                } else {
                    ty.clone()
                };
                if matches!(inner_ty, Ty::Never) {
                    return true;
                }
                self.unify(inner, &inner_ty, bindings)
            }
            SigTy::Fn(..) => false,
            concrete => match concrete.instantiate(bindings) {
                Some(expected) => self.assignable(ty, &expected),
                None => false,
            },
        }
    }

    fn bounds_hold(&self, signature: &Signature, bindings: &BTreeMap<&'static str, Ty>) -> bool {
        signature.generics.iter().all(|(name, bound)| {
            let Some(ty) = bindings.get(name) else {
                return true;
            };
            let ty = self.resolve(ty);
            match bound {
                Bound::Any => true,
                Bound::Number => self.is_number(&ty) || matches!(ty, Ty::Error | Ty::Json),
                Bound::Summable => {
                    self.is_number(&ty) || matches!(ty, Ty::Duration | Ty::Error | Ty::Json)
                }
                Bound::Ordered => {
                    self.is_number(&ty)
                        || self.assignable(&ty, &Ty::String)
                        || self.assignable(&ty, &Ty::Bool)
                        || matches!(ty, Ty::Duration | Ty::Time | Ty::Error | Ty::Json)
                }
            }
        })
    }
}

/// Literal types widen to their base type when they bind a variable, so that
/// `["a", "b"].map(s => s)` is `[string]`-like rather than a list of one literal.
fn widen(ty: &Ty) -> Ty {
    match ty {
        Ty::Lit { value } => match value {
            crate::ty::LitTy::Bool(_) => Ty::Bool,
            crate::ty::LitTy::Int(_) => Ty::Int,
            crate::ty::LitTy::String(_) => Ty::String,
        },
        other => other.clone(),
    }
}

/// Which argument each parameter of `signature` gets: positional arguments in
/// order, named ones by name. `None` when an argument fits no parameter, two fit the
/// same one, or a parameter without a default is left out.
fn assign(signature: &Signature, names: &[Option<&ast::Ident>]) -> Option<Vec<Option<usize>>> {
    let mut slots: Vec<Option<usize>> = vec![None; signature.params.len()];
    let mut next = 0;
    for (index, name) in names.iter().enumerate() {
        let position = match name {
            Some(name) => signature
                .params
                .iter()
                .position(|param| param.name == name.name)?,
            None => {
                next += 1;
                next - 1
            }
        };
        let slot = slots.get_mut(position)?;
        if slot.is_some() {
            return None;
        }
        *slot = Some(index);
    }
    let complete = signature
        .params
        .iter()
        .zip(&slots)
        .all(|(param, slot)| slot.is_some() || param.default.is_some());
    complete.then_some(slots)
}

/// A parameter's default as an expression, when it is a literal (`"UTC"`, `0`).
fn default_literal(text: &str, span: Span) -> Option<ir::Expr> {
    let (value, ty) = if let Ok(value) = serde_json::from_str::<String>(text) {
        (ir::Literal::String { value }, Ty::String)
    } else {
        let value = text.parse::<i64>().ok()?;
        (ir::Literal::Int { value }, Ty::Int)
    };
    Some(ir::Expr {
        kind: ir::ExprKind::Literal { value },
        ty,
        span,
    })
}

fn is_lambda(expr: &ast::Expr) -> bool {
    matches!(expr.kind, ast::ExprKind::Lambda { .. })
}

pub(super) fn error_expr(span: Span) -> ir::Expr {
    ir::Expr {
        kind: ir::ExprKind::Literal {
            value: ir::Literal::Null,
        },
        ty: Ty::Error,
        span,
    }
}

#[cfg(test)]
mod tests {
    use crate::ir::{Callee, ExprKind, Literal, StmtKind};
    use crate::{NoImports, SourceFile, analyze};

    /// The arguments of the builtin call returned by the only workflow.
    fn returned_call(source: &str) -> Vec<ExprKind> {
        let root = SourceFile {
            path: "main.flow".into(),
            text: source.into(),
        };
        let analysis = analyze(vec![root], &NoImports);
        assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
        let body = &analysis.program.workflows[0].body;
        let Some(StmtKind::Return { value: Some(value) }) = body.last().map(|stmt| &stmt.kind)
        else {
            panic!("no return: {body:?}");
        };
        let ExprKind::Call {
            callee: Callee::Builtin { .. },
            args,
        } = &value.kind
        else {
            panic!("not a builtin call: {value:?}");
        };
        args.iter().map(|arg| arg.kind.clone()).collect()
    }

    fn string(kind: &ExprKind) -> Option<&str> {
        match kind {
            ExprKind::Literal {
                value: Literal::String { value },
            } => Some(value),
            _ => None,
        }
    }

    #[test]
    fn a_named_argument_fills_its_parameter_and_skipped_ones_take_their_default() {
        let args = returned_call(
            "workflow w(t: time) -> string {\n  on manual\n  \
             return format_time(t, tz: \"Europe/Lisbon\")\n}\n",
        );
        assert_eq!(args.len(), 3);
        assert_eq!(string(&args[1]), Some("%Y-%m-%dT%H:%M:%S%:z"));
        assert_eq!(string(&args[2]), Some("Europe/Lisbon"));
    }

    #[test]
    fn named_arguments_are_put_in_parameter_order() {
        let args = returned_call(
            "workflow w(s: string) -> string {\n  on manual\n  \
             return replace(s, to: \"b\", from: \"a\")\n}\n",
        );
        assert_eq!(string(&args[1]), Some("a"));
        assert_eq!(string(&args[2]), Some("b"));
    }
}
