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
/// receiver of a method call) or a source expression.
pub(super) enum Arg<'e> {
    Checked(ir::Expr),
    Source(&'e ast::Expr),
}

impl Checker<'_> {
    pub(super) fn call_builtin(
        &mut self,
        builtin: &'static stdlib::Builtin,
        args: Vec<Arg<'_>>,
        span: Span,
    ) -> ir::Expr {
        // Lower every argument that is not a lambda first: their types pick the
        // overload and bind the variables lambdas need.
        let mut lowered: Vec<Option<ir::Expr>> = Vec::with_capacity(args.len());
        let mut sources: Vec<Option<&ast::Expr>> = Vec::with_capacity(args.len());
        for arg in &args {
            match arg {
                Arg::Checked(expr) => {
                    lowered.push(Some(expr.clone()));
                    sources.push(None);
                }
                Arg::Source(expr) if is_lambda(expr) => {
                    lowered.push(None);
                    sources.push(Some(expr));
                }
                Arg::Source(expr) => {
                    lowered.push(Some(self.infer(expr)));
                    sources.push(None);
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
        let count = args.len();
        let chosen = builtin.overloads.iter().find_map(|signature| {
            if !signature.arity().contains(&count) {
                return None;
            }
            let mut bindings: BTreeMap<&'static str, Ty> = BTreeMap::new();
            for (param, arg) in signature.params.iter().zip(&lowered) {
                if let Some(arg) = arg
                    && !self.unify(&param.ty, &arg.ty, &mut bindings)
                {
                    return None;
                }
            }
            Some((signature, bindings))
        });
        let Some((signature, mut bindings)) = chosen else {
            let found: Vec<String> = lowered
                .iter()
                .map(|arg| match arg {
                    Some(arg) => arg.ty.to_string(),
                    None => "lambda".to_string(),
                })
                .collect();
            let signatures: Vec<String> = builtin
                .overloads
                .iter()
                .map(|signature| format!("{}{signature}", builtin.name))
                .collect();
            let message = match builtin.overloads.iter().any(|s| s.arity().contains(&count)) {
                true => format!("no signature takes ({})", found.join(", ")),
                false => format!("{count} argument(s) given"),
            };
            self.error(diag::wrong_arguments(
                &format!("`{}`", builtin.name),
                &message,
                span,
                &signatures.join("` or `"),
            ));
            return error_expr(span);
        };
        // Lambdas, with parameter types from the bindings so far.
        let mut final_args = Vec::with_capacity(count);
        for ((param, arg), source) in signature.params.iter().zip(lowered).zip(sources) {
            match (arg, source) {
                (Some(arg), _) => final_args.push(arg),
                (None, Some(source)) => {
                    let lambda = self.check_lambda(source, &param.ty, &mut bindings);
                    final_args.push(lambda);
                }
                (None, None) => {}
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
