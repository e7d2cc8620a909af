//! Expressions: inference, checking against an expected type, and lowering to
//! [`ir::Expr`] in one walk.
//!
//! `infer` computes a type bottom-up; `check` pushes an expected type down into
//! record and list literals, `if`/`match` branches and literals, and falls back to
//! `infer` plus an assignability test (`coerce`), which is where mismatches,
//! implicit uses of `json` and leaked secrets are reported.

use super::builtins::{Arg, error_expr};
use super::diagnostics as diag;
use super::{BindingKind, Checker};
use crate::diagnostic::Span;
use crate::ir::{self, ExprKind as Ir};
use crate::resolve::diagnostics as names;
use crate::stdlib;
use crate::syntax::ast;
use crate::ty::{FieldTy, LitTy, Ty};

impl Checker<'_> {
    /// The fields of a record literal in order, each name once: a repeated name
    /// is reported (E0424) and its later occurrences dropped.
    fn distinct_fields<'f>(&mut self, fields: &'f [ast::Field]) -> Vec<&'f ast::Field> {
        let mut distinct: Vec<&ast::Field> = Vec::with_capacity(fields.len());
        for field in fields {
            match distinct
                .iter()
                .find(|seen| seen.name.name == field.name.name)
            {
                Some(first) => self.error(diag::duplicate_option(
                    &field.name.name,
                    field.name.span,
                    first.name.span,
                )),
                None => distinct.push(field),
            }
        }
        distinct
    }

    /// Checks `expr` against `expected`; `place` names where the value goes, for
    /// the secret diagnostic ("in a request body").
    pub(crate) fn check(&mut self, expr: &ast::Expr, expected: &Ty, place: &str) -> ir::Expr {
        // Only these forms are checked against the expected type's shape; every
        // other one is inferred and then coerced, without copying the resolved type.
        let shaped = matches!(
            expr.kind,
            ast::ExprKind::Paren(_)
                | ast::ExprKind::Record(_)
                | ast::ExprKind::List(_)
                | ast::ExprKind::Match { .. }
                | ast::ExprKind::If { .. }
                | ast::ExprKind::Literal(ast::Literal::Int(_) | ast::Literal::Bool(_))
                | ast::ExprKind::Lambda { .. }
        );
        if !shaped {
            let inferred = self.infer(expr);
            return self.coerce(inferred, expected, place);
        }
        let resolved = self.resolve(expected);
        let lowered = match (&expr.kind, &resolved) {
            (ast::ExprKind::Paren(inner), _) => {
                let mut inner = self.check(inner, expected, place);
                inner.span = expr.span;
                return inner;
            }
            (
                ast::ExprKind::Record(fields),
                Ty::Record {
                    fields: expected_fields,
                },
            ) => {
                for field in fields {
                    self.field_reference(expected, &field.name);
                }
                self.check_record(fields, expected_fields, expected, expr.span, place)
            }
            (ast::ExprKind::Record(fields), Ty::Map { value }) => {
                let mut lowered = Vec::new();
                for field in fields {
                    lowered.push((
                        field.name.name.clone(),
                        self.check(&field.value, value, place),
                    ));
                }
                ir::Expr {
                    kind: Ir::Record { fields: lowered },
                    ty: expected.clone(),
                    span: expr.span,
                }
            }
            (ast::ExprKind::List(items), Ty::List { element }) => {
                let items = items
                    .iter()
                    .map(|item| self.check(item, element, place))
                    .collect();
                ir::Expr {
                    kind: Ir::List { items },
                    ty: expected.clone(),
                    span: expr.span,
                }
            }
            // A `json` value may hold anything: its elements and fields need not
            // agree, but each must be a `json` value.
            (ast::ExprKind::Record(fields), Ty::Json) => {
                self.record_literal(fields, expr.span, Some((expected, place)))
            }
            (ast::ExprKind::List(items), Ty::Json) => {
                let items: Vec<ir::Expr> = items
                    .iter()
                    .map(|item| self.check(item, expected, place))
                    .collect();
                let element = self.join_quiet(items.iter().map(|item| &item.ty), expected);
                ir::Expr {
                    kind: Ir::List { items },
                    ty: Ty::list(element),
                    span: expr.span,
                }
            }
            (ast::ExprKind::Match { scrutinee, arms }, _) if !matches!(resolved, Ty::Error) => {
                self.match_expr(scrutinee, arms, expr.span, Some((expected, place)))
            }
            (ast::ExprKind::Record(_) | ast::ExprKind::List(_), Ty::Union { members }) => {
                return self.check_against_members(expr, expected, members, place);
            }
            (
                ast::ExprKind::If {
                    cond,
                    then,
                    otherwise,
                },
                _,
            ) if !matches!(resolved, Ty::Error) => {
                let cond = self.check(cond, &Ty::Bool, "in a condition");
                let then = self.check(then, expected, place);
                let otherwise = self.check(otherwise, expected, place);
                let ty = match resolved {
                    Ty::Json => self.join_quiet([&then.ty, &otherwise.ty], expected),
                    _ => expected.clone(),
                };
                ir::Expr {
                    kind: Ir::If {
                        cond: Box::new(cond),
                        then: Box::new(then),
                        otherwise: Box::new(otherwise),
                    },
                    ty,
                    span: expr.span,
                }
            }
            (ast::ExprKind::Literal(ast::Literal::Int(value)), _)
                if self.has_literal(&resolved, &LitTy::Int(*value)) =>
            {
                literal(
                    ir::Literal::Int { value: *value },
                    Ty::Lit {
                        value: LitTy::Int(*value),
                    },
                    expr.span,
                )
            }
            (ast::ExprKind::Literal(ast::Literal::Bool(value)), _)
                if self.has_literal(&resolved, &LitTy::Bool(*value)) =>
            {
                literal(
                    ir::Literal::Bool { value: *value },
                    Ty::Lit {
                        value: LitTy::Bool(*value),
                    },
                    expr.span,
                )
            }
            (ast::ExprKind::Lambda { .. }, _) => {
                self.error(diag::misplaced_lambda(expr.span));
                error_expr(expr.span)
            }
            _ => {
                let inferred = self.infer(expr);
                return self.coerce(inferred, expected, place);
            }
        };
        self.note_type(&lowered);
        lowered
    }

    /// The join of the types of values that must agree (list elements, branches,
    /// arms); the first value that does not is reported, and the result is then
    /// the error type.
    pub(crate) fn join_all(
        &mut self,
        values: impl IntoIterator<Item = (Ty, Span)>,
        what: &str,
        first_label: &str,
    ) -> Ty {
        let mut joined = Ty::Never;
        let mut first: Option<(Ty, Span)> = None;
        for (ty, span) in values {
            match self.join(&joined, &ty) {
                Some(next) => joined = next,
                None => {
                    let (first_ty, first_span) = first.unwrap_or((joined.clone(), span));
                    self.error(diag::mismatched_values(
                        what,
                        &joined,
                        &ty,
                        span,
                        (first_label, &first_ty, first_span),
                    ));
                    return Ty::Error;
                }
            }
            if first.is_none() {
                first = Some((ty, span));
            }
        }
        joined
    }

    /// The join of values each checked against `expected`, or `expected` when they
    /// do not agree with each other (which a declared type such as `json` allows).
    fn join_quiet<'t>(&self, tys: impl IntoIterator<Item = &'t Ty>, expected: &Ty) -> Ty {
        let mut joined = Ty::Never;
        for ty in tys {
            match self.join(&joined, ty) {
                Some(next) => joined = next,
                None => return expected.clone(),
            }
        }
        joined
    }

    /// A `match` expression: its arms join into one type, or each is checked
    /// against `expected` (with the place its value goes).
    fn match_expr(
        &mut self,
        scrutinee: &ast::Expr,
        arms: &[(ast::Pattern, ast::Expr)],
        span: Span,
        expected: Option<(&Ty, &str)>,
    ) -> ir::Expr {
        let scrutinee = self.infer(scrutinee);
        let patterns: Vec<&ast::Pattern> = arms.iter().map(|(pattern, _)| pattern).collect();
        self.check_coverage(&scrutinee.ty, &patterns, span);
        let mut lowered = Vec::new();
        let mut seen_null = false;
        for (pattern, body) in arms {
            self.push_scope();
            let lowered_pattern = self.lower_pattern(pattern, &scrutinee.ty, seen_null);
            seen_null |= pattern_matches_null(pattern);
            let body = match expected {
                Some((expected, place)) => self.check(body, expected, place),
                None => self.infer(body),
            };
            self.pop_scope();
            lowered.push(ir::MatchArm {
                pattern: lowered_pattern,
                body,
            });
        }
        let ty = match expected {
            Some((expected, _)) => {
                self.join_quiet(lowered.iter().map(|arm| &arm.body.ty), expected)
            }
            None => self.join_all(
                lowered
                    .iter()
                    .map(|arm| (arm.body.ty.clone(), arm.body.span)),
                "the arms of a `match`",
                "the first arm",
            ),
        };
        ir::Expr {
            kind: Ir::Match {
                scrutinee: Box::new(scrutinee),
                arms: lowered,
            },
            ty,
            span,
        }
    }

    /// A record literal whose fields are inferred, or each checked against one
    /// type (`json`, with the place the value goes).
    fn record_literal(
        &mut self,
        fields: &[ast::Field],
        span: Span,
        each: Option<(&Ty, &str)>,
    ) -> ir::Expr {
        let mut lowered = Vec::new();
        let mut tys: Vec<FieldTy> = Vec::new();
        for field in self.distinct_fields(fields) {
            let value = match each {
                Some((ty, place)) => self.check(&field.value, ty, place),
                None => self.infer(&field.value),
            };
            tys.push(FieldTy {
                name: field.name.name.clone(),
                ty: value.ty.clone(),
                optional: false,
            });
            lowered.push((field.name.name.clone(), value));
        }
        ir::Expr {
            kind: Ir::Record { fields: lowered },
            ty: Ty::record(tys),
            span,
        }
    }

    fn has_literal(&self, ty: &Ty, literal: &LitTy) -> bool {
        match ty {
            Ty::Lit { value } => value == literal,
            Ty::Union { members } => members
                .iter()
                .any(|member| self.has_literal(self.resolve_ref(member), literal)),
            _ => false,
        }
    }

    /// A record or list literal against a union: the one member of the right shape,
    /// or the first member it checks against without errors.
    fn check_against_members(
        &mut self,
        expr: &ast::Expr,
        expected: &Ty,
        members: &[Ty],
        place: &str,
    ) -> ir::Expr {
        let want_record = matches!(expr.kind, ast::ExprKind::Record(_));
        let candidates: Vec<Ty> = members
            .iter()
            .filter(|member| match self.resolve_ref(member) {
                Ty::Record { .. } | Ty::Map { .. } => want_record,
                Ty::List { .. } => !want_record,
                Ty::Json => true,
                _ => false,
            })
            .cloned()
            .collect();
        if candidates.len() > 1 {
            for candidate in &candidates {
                let errors = self.diagnostics.len();
                let record = self.record;
                self.record = false;
                let attempt = self.check(expr, candidate, place);
                self.record = record;
                if self.diagnostics[errors..]
                    .iter()
                    .all(|d| !d.diagnostic.is_error())
                {
                    self.diagnostics.truncate(errors);
                    return ir::Expr {
                        ty: expected.clone(),
                        ..attempt
                    };
                }
                self.diagnostics.truncate(errors);
            }
        }
        match candidates.first() {
            Some(candidate) => {
                let checked = self.check(expr, candidate, place);
                ir::Expr {
                    ty: expected.clone(),
                    ..checked
                }
            }
            None => {
                let inferred = self.infer(expr);
                self.coerce(inferred, expected, place)
            }
        }
    }

    fn check_record(
        &mut self,
        fields: &[ast::Field],
        expected_fields: &[FieldTy],
        expected: &Ty,
        span: Span,
        place: &str,
    ) -> ir::Expr {
        let mut lowered = Vec::new();
        let distinct = self.distinct_fields(fields);
        for &field in &distinct {
            match expected_fields
                .iter()
                .find(|known| known.name == field.name.name)
            {
                Some(known) => {
                    let ty = if known.optional {
                        Ty::optional(known.ty.clone())
                    } else {
                        known.ty.clone()
                    };
                    lowered.push((
                        field.name.name.clone(),
                        self.check(&field.value, &ty, place),
                    ));
                }
                None => {
                    let suggestion = names::suggest(
                        &field.name.name,
                        expected_fields.iter().map(|known| known.name.as_str()),
                    );
                    self.error(diag::extra_field(
                        &field.name.name,
                        expected,
                        field.name.span,
                        suggestion,
                    ));
                    let value = self.infer(&field.value);
                    lowered.push((field.name.name.clone(), value));
                }
            }
        }
        for known in expected_fields {
            if !known.optional && !distinct.iter().any(|field| field.name.name == known.name) {
                let optional = self.non_null(&known.ty);
                self.error(diag::missing_field(&known.name, &known.ty, &optional, span));
            }
        }
        ir::Expr {
            kind: Ir::Record { fields: lowered },
            ty: expected.clone(),
            span,
        }
    }

    /// Accepts `expr` where `expected` is wanted, or reports why not.
    pub(crate) fn coerce(&mut self, expr: ir::Expr, expected: &Ty, place: &str) -> ir::Expr {
        if self.assignable(&expr.ty, expected) {
            return expr;
        }
        if self.mentions_secret(&expr.ty) && !self.mentions_secret(expected) {
            self.error(diag::secret_leak(place, expr.span));
        } else if matches!(self.resolve_ref(&expr.ty), Ty::Json) {
            self.error(diag::json_needs_conversion(expected, expr.span));
        } else {
            self.error(diag::mismatched_types(expected, &expr.ty, expr.span));
        }
        ir::Expr {
            ty: Ty::Error,
            ..expr
        }
    }

    fn note_type(&mut self, expr: &ir::Expr) {
        if self.record {
            self.info.types.push(super::TypedSpan {
                file: self.file,
                span: expr.span,
                ty: expr.ty.clone(),
            });
        }
    }

    /// The type of `expr`, bottom-up, and its IR.
    pub(crate) fn infer(&mut self, expr: &ast::Expr) -> ir::Expr {
        let lowered = self.infer_inner(expr);
        self.note_type(&lowered);
        lowered
    }

    fn infer_inner(&mut self, expr: &ast::Expr) -> ir::Expr {
        let span = expr.span;
        match &expr.kind {
            ast::ExprKind::Literal(value) => {
                let (value, ty) = match value {
                    ast::Literal::Int(value) => (ir::Literal::Int { value: *value }, Ty::Int),
                    ast::Literal::Float(value) => (ir::Literal::Float { value: *value }, Ty::Float),
                    ast::Literal::Duration(millis) => {
                        (ir::Literal::Duration { millis: *millis }, Ty::Duration)
                    }
                    ast::Literal::String(value) => (
                        ir::Literal::String {
                            value: value.clone(),
                        },
                        Ty::string_lit(value.clone()),
                    ),
                    ast::Literal::Bool(value) => (ir::Literal::Bool { value: *value }, Ty::Bool),
                    ast::Literal::Null => (ir::Literal::Null, Ty::Null),
                };
                literal(value, ty, span)
            }
            ast::ExprKind::Template(parts) => {
                let mut lowered = Vec::new();
                let mut secret = false;
                for part in parts {
                    match part {
                        ast::TemplatePart::Text(text, _) => {
                            lowered.push(ir::TemplatePart::Text { text: text.clone() })
                        }
                        ast::TemplatePart::Expr(inner) => {
                            let inner = self.infer(inner);
                            if self.mentions_secret(&inner.ty) {
                                secret = true;
                            }
                            if matches!(inner.ty, Ty::Fn { .. }) {
                                self.error(diag::misplaced_lambda(inner.span));
                            }
                            lowered.push(ir::TemplatePart::Expr { expr: inner });
                        }
                    }
                }
                ir::Expr {
                    kind: Ir::Template { parts: lowered },
                    ty: if secret { Ty::Secret } else { Ty::String },
                    span,
                }
            }
            ast::ExprKind::Name(ident) => self.infer_name(ident),
            ast::ExprKind::List(items) => {
                let items: Vec<ir::Expr> = items.iter().map(|item| self.infer(item)).collect();
                let element = self.join_all(
                    items.iter().map(|item| (item.ty.clone(), item.span)),
                    "list elements",
                    "the first element",
                );
                ir::Expr {
                    kind: Ir::List { items },
                    ty: Ty::list(element),
                    span,
                }
            }
            ast::ExprKind::Record(fields) => self.record_literal(fields, span, None),
            ast::ExprKind::Tagged { tag, .. } => {
                self.error(diag::unknown_form(
                    "a value (forms such as `bearer { … }` go in `auth:`)",
                    Some(&tag.name),
                    tag.span,
                    &super::decl::AUTH_FORMS,
                    None,
                ));
                error_expr(span)
            }
            ast::ExprKind::Field {
                base,
                name,
                optional,
            } => self.infer_field(base, name, *optional, span),
            ast::ExprKind::Index { base, index } => self.infer_index(base, index, span),
            ast::ExprKind::Call { callee, args } => self.infer_call(callee, args, span),
            ast::ExprKind::Unary { op, operand } => {
                let operand = self.infer(operand);
                let ty = self.resolve(&operand.ty);
                let result = match op {
                    ast::UnaryOp::Not if self.assignable(&ty, &Ty::Bool) => Some(Ty::Bool),
                    ast::UnaryOp::Neg if self.assignable(&ty, &Ty::Int) => Some(Ty::Int),
                    ast::UnaryOp::Neg if self.assignable(&ty, &Ty::Float) => Some(Ty::Float),
                    ast::UnaryOp::Neg if matches!(ty, Ty::Duration) => Some(Ty::Duration),
                    _ => None,
                };
                let result = match result {
                    Some(result) => result,
                    None => {
                        if matches!(ty, Ty::Secret) {
                            self.error(diag::secret_leak("with an operator", operand.span));
                        } else {
                            self.error(diag::invalid_operand(op.symbol(), &operand.ty, span));
                        }
                        Ty::Error
                    }
                };
                ir::Expr {
                    kind: Ir::Unary {
                        op: match op {
                            ast::UnaryOp::Not => ir::UnaryOp::Not,
                            ast::UnaryOp::Neg => ir::UnaryOp::Neg,
                        },
                        operand: Box::new(operand),
                    },
                    ty: result,
                    span,
                }
            }
            ast::ExprKind::Binary { op, lhs, rhs } => self.infer_binary(*op, lhs, rhs, span),
            ast::ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                let cond = self.check(cond, &Ty::Bool, "in a condition");
                let then = self.infer(then);
                let otherwise = self.infer(otherwise);
                let ty = self.join_all(
                    [
                        (then.ty.clone(), then.span),
                        (otherwise.ty.clone(), otherwise.span),
                    ],
                    "the branches of an `if`",
                    "the `then` branch",
                );
                ir::Expr {
                    kind: Ir::If {
                        cond: Box::new(cond),
                        then: Box::new(then),
                        otherwise: Box::new(otherwise),
                    },
                    ty,
                    span,
                }
            }
            ast::ExprKind::Match { scrutinee, arms } => {
                self.match_expr(scrutinee, arms, span, None)
            }
            ast::ExprKind::Lambda { .. } => {
                self.error(diag::misplaced_lambda(span));
                error_expr(span)
            }
            ast::ExprKind::Paren(inner) => {
                let inner = self.infer(inner);
                ir::Expr { span, ..inner }
            }
            ast::ExprKind::As { value, ty } => {
                let target = self.lower_type(ty);
                let value = self.infer(value);
                let from = self.resolve(&value.ty);
                if self.mentions_secret(&value.ty) {
                    self.error(diag::secret_leak("in a conversion", value.span));
                } else if !matches!(from, Ty::Json | Ty::Error)
                    && !self.assignable(&value.ty, &target)
                {
                    self.error(diag::mismatched_in(
                        "only `json` values convert with `as`",
                        &target,
                        &value.ty,
                        value.span,
                    ));
                }
                ir::Expr {
                    kind: Ir::As {
                        value: Box::new(value),
                        target: target.clone(),
                    },
                    ty: target,
                    span,
                }
            }
            ast::ExprKind::Error => error_expr(span),
        }
    }

    fn infer_name(&mut self, ident: &ast::Ident) -> ir::Expr {
        let span = ident.span;
        if let Some(binding) = self.lookup(&ident.name, span) {
            return ir::Expr {
                kind: Ir::Local { slot: binding.slot },
                ty: binding.ty,
                span,
            };
        }
        match ident.name.as_str() {
            "webhook" => {
                let ty = self.wf.as_ref().and_then(|wf| wf.webhook.clone());
                return match ty {
                    Some(ty) => ir::Expr {
                        kind: Ir::Webhook,
                        ty,
                        span,
                    },
                    None => {
                        self.error(match self.wf {
                            Some(_) => names::webhook_not_available(span),
                            None => names::webhook_outside_workflow(span),
                        });
                        error_expr(span)
                    }
                };
            }
            "secrets" => {
                self.error(diag::secret_leak(
                    "as a whole: read one with `secrets.NAME`",
                    span,
                ));
                return error_expr(span);
            }
            "context" => {
                self.error(diag::context_as_value(span));
                return error_expr(span);
            }
            _ => {}
        }
        if let Some(first) = self
            .wf
            .as_ref()
            .and_then(|wf| wf.steps.get(&ident.name))
            .copied()
        {
            self.error(names::step_used_before_it_runs(&ident.name, span, first));
            return error_expr(span);
        }
        let mut candidates = self.visible_names();
        candidates.extend(["secrets", "context"].map(String::from));
        if self.wf.as_ref().is_some_and(|wf| wf.webhook.is_some()) {
            candidates.push("webhook".to_string());
        }
        let suggestion = names::suggest(&ident.name, candidates.iter().map(String::as_str));
        self.error(names::unknown_name(&ident.name, span, suggestion));
        error_expr(span)
    }

    /// Whether a postfix chain has a `?.` somewhere below this point, so a null
    /// short-circuits the rest of it.
    fn in_optional_chain(expr: &ast::Expr) -> bool {
        match &expr.kind {
            ast::ExprKind::Field { base, optional, .. } => {
                *optional || Self::in_optional_chain(base)
            }
            ast::ExprKind::Index { base, .. } => Self::in_optional_chain(base),
            ast::ExprKind::Call { callee, .. } => Self::in_optional_chain(callee),
            _ => false,
        }
    }

    fn infer_field(
        &mut self,
        base: &ast::Expr,
        name: &ast::Ident,
        optional: bool,
        span: Span,
    ) -> ir::Expr {
        if let ast::ExprKind::Name(ident) = &base.kind
            && self.lookup_quiet_public(&ident.name).is_none()
        {
            match ident.name.as_str() {
                "secrets" => {
                    return ir::Expr {
                        kind: Ir::Secret {
                            name: name.name.clone(),
                        },
                        ty: Ty::Secret,
                        span,
                    };
                }
                "context" => {
                    return ir::Expr {
                        kind: Ir::Context {
                            key: name.name.clone(),
                        },
                        ty: Ty::Json,
                        span,
                    };
                }
                _ => {}
            }
        }
        let base_expr = self.infer(base);
        let short_circuit = optional || Self::in_optional_chain(base);
        let (ty, nullable) = self.field_type(&base_expr.ty, name, short_circuit, base_expr.span);
        let ty = if nullable { Ty::optional(ty) } else { ty };
        ir::Expr {
            kind: Ir::Field {
                base: Box::new(base_expr),
                name: name.name.clone(),
                optional: short_circuit,
            },
            ty,
            span,
        }
    }

    pub(crate) fn lookup_quiet_public(&self, name: &str) -> Option<&super::Binding> {
        self.body
            .scopes
            .iter()
            .rev()
            .flat_map(|scope| scope.iter().rev())
            .find(|binding| binding.name == name)
    }

    /// The type of field `name` of a value of type `ty`, and whether the result
    /// may be null because the base may be.
    fn field_type(
        &mut self,
        ty: &Ty,
        name: &ast::Ident,
        short_circuit: bool,
        base_span: Span,
    ) -> (Ty, bool) {
        // The common case, a field of a record, without copying the record's type.
        if let Ty::Record { fields } = self.resolve_ref(ty)
            && let Some(field) = fields.iter().find(|field| field.name == name.name)
        {
            let found = if field.optional {
                Ty::optional(field.ty.clone())
            } else {
                field.ty.clone()
            };
            self.field_reference(ty, name);
            return (found, false);
        }
        let mut resolved = self.resolve(ty);
        let mut nullable = false;
        if self.nullable(&resolved) && !matches!(resolved, Ty::Json) {
            // Once reported, the access is typed as if the value were not null, so
            // the one mistake is not reported again where the result is used.
            if !short_circuit {
                self.error(diag::nullable_access(ty, base_span));
            }
            resolved = self.resolve(&self.non_null(&resolved));
            nullable = short_circuit;
        }
        match &resolved {
            Ty::Error | Ty::Never => (Ty::Error, false),
            Ty::Json => (Ty::Json, false),
            Ty::Map { value } => (Ty::optional((**value).clone()), nullable),
            Ty::Record { fields } => match fields.iter().find(|field| field.name == name.name) {
                Some(field) => {
                    self.field_reference(ty, name);
                    let ty = if field.optional {
                        Ty::optional(field.ty.clone())
                    } else {
                        field.ty.clone()
                    };
                    (ty, nullable)
                }
                None => {
                    let suggestion =
                        names::suggest(&name.name, fields.iter().map(|f| f.name.as_str()));
                    self.error(diag::unknown_field(&name.name, ty, name.span, suggestion));
                    (Ty::Error, false)
                }
            },
            Ty::Secret => {
                self.error(diag::secret_leak(
                    "with a field access: secrets are opaque",
                    base_span,
                ));
                (Ty::Error, false)
            }
            _ => {
                self.error(diag::unknown_field(&name.name, ty, name.span, None));
                (Ty::Error, false)
            }
        }
    }

    fn infer_index(&mut self, base: &ast::Expr, index: &ast::Expr, span: Span) -> ir::Expr {
        let base = self.infer(base);
        let index = self.infer(index);
        let resolved = self.resolve(&base.ty);
        // Once reported, the index is typed as if the base were not null.
        let container = if self.nullable(&resolved) && !matches!(resolved, Ty::Json) {
            self.error(diag::nullable_access(&base.ty, base.span));
            self.resolve(&self.non_null(&resolved))
        } else {
            resolved
        };
        let ty = match &container {
            Ty::Error | Ty::Never => Ty::Error,
            Ty::List { element } => {
                self.coerce_quiet(&index, &Ty::Int);
                (**element).clone()
            }
            Ty::Map { value } => {
                self.coerce_quiet(&index, &Ty::String);
                Ty::optional((**value).clone())
            }
            Ty::Json => Ty::Json,
            _ => {
                self.error(diag::cannot_index(&base.ty, base.span));
                Ty::Error
            }
        };
        ir::Expr {
            kind: Ir::Index {
                base: Box::new(base),
                index: Box::new(index),
            },
            ty,
            span,
        }
    }

    fn coerce_quiet(&mut self, expr: &ir::Expr, expected: &Ty) {
        if !self.assignable(&expr.ty, expected) {
            self.error(diag::mismatched_in(
                "as an index",
                expected,
                &expr.ty,
                expr.span,
            ));
        }
    }

    fn infer_call(&mut self, callee: &ast::Expr, args: &[ast::Arg], span: Span) -> ir::Expr {
        match &callee.kind {
            ast::ExprKind::Name(ident) => {
                let sources: Vec<&ast::Arg> = args.iter().collect();
                self.call_named(ident, None, &sources, span)
            }
            ast::ExprKind::Field {
                base,
                name,
                optional,
            } => {
                let receiver = self.infer(base);
                let short_circuit = *optional || Self::in_optional_chain(base);
                let receiver_nullable = self.nullable(&receiver.ty)
                    && !matches!(self.resolve_ref(&receiver.ty), Ty::Json);
                let sources: Vec<&ast::Arg> = args.iter().collect();
                if receiver_nullable && !short_circuit {
                    // Reported once; the call is then typed as if the receiver
                    // were not null.
                    self.error(diag::nullable_access(&receiver.ty, receiver.span));
                    let narrowed = ir::Expr {
                        ty: self.non_null(&receiver.ty),
                        ..receiver
                    };
                    return self.call_named(name, Some(narrowed), &sources, span);
                }
                if receiver_nullable {
                    let narrowed = ir::Expr {
                        ty: self.non_null(&receiver.ty),
                        ..receiver.clone()
                    };
                    let call = self.call_named(name, Some(narrowed), &sources, span);
                    let ty = Ty::optional(call.ty.clone());
                    // `x?.f()`: null when `x` is null, else the call.
                    let null = literal(ir::Literal::Null, Ty::Null, span);
                    let cond = ir::Expr {
                        kind: Ir::Binary {
                            op: ir::BinaryOp::Eq,
                            lhs: Box::new(receiver),
                            rhs: Box::new(null.clone()),
                        },
                        ty: Ty::Bool,
                        span,
                    };
                    return ir::Expr {
                        kind: Ir::If {
                            cond: Box::new(cond),
                            then: Box::new(null),
                            otherwise: Box::new(call),
                        },
                        ty,
                        span,
                    };
                }
                self.call_named(name, Some(receiver), &sources, span)
            }
            _ => {
                let callee = self.infer(callee);
                self.error(diag::wrong_arguments(
                    "this value",
                    &format!("a `{}` cannot be called", callee.ty),
                    span,
                    "name(args)",
                ));
                error_expr(span)
            }
        }
    }

    /// A call of a `fn` or a built-in by name, with an optional method receiver.
    fn call_named(
        &mut self,
        name: &ast::Ident,
        receiver: Option<ir::Expr>,
        args: &[&ast::Arg],
        span: Span,
    ) -> ir::Expr {
        if let Some(signature) = self.functions.get(&name.name).cloned() {
            self.reference(name.span, &name.name);
            if let Some(caller) = self.current_fn {
                self.fn_calls
                    .push((caller, signature.index, self.file, name.span));
            }
            return self.call_function(&name.name, &signature, receiver, args, span);
        }
        if let Some(builtin) = stdlib::lookup(&name.name)
            && (receiver.is_none() || builtin.method)
        {
            let mut all: Vec<Arg<'_>> = Vec::new();
            if let Some(receiver) = receiver {
                all.push(Arg::Checked(receiver));
            }
            for arg in args {
                all.push(Arg::Source(arg));
            }
            return self.call_builtin(builtin, all, span);
        }
        let candidates: Vec<&str> = self
            .functions
            .keys()
            .map(String::as_str)
            .chain(stdlib::all().iter().map(|builtin| builtin.name))
            .collect();
        let suggestion = names::suggest(&name.name, candidates);
        self.error(names::unknown_function(&name.name, name.span, suggestion));
        for arg in args {
            if !matches!(arg.value.kind, ast::ExprKind::Lambda { .. }) {
                self.infer(&arg.value);
            }
        }
        error_expr(span)
    }

    fn call_function(
        &mut self,
        name: &str,
        signature: &super::FnSig,
        receiver: Option<ir::Expr>,
        args: &[&ast::Arg],
        span: Span,
    ) -> ir::Expr {
        let printed = format!(
            "fn {name}({}) -> {}",
            signature
                .params
                .iter()
                .map(|(name, ty)| format!("{name}: {ty}"))
                .collect::<Vec<_>>()
                .join(", "),
            signature.ret
        );
        let mut slots: Vec<Option<ir::Expr>> = vec![None; signature.params.len()];
        let mut next = 0;
        if let Some(receiver) = receiver {
            match signature.params.first() {
                Some((_, ty)) => {
                    slots[0] = Some(self.coerce(receiver, ty, "as an argument"));
                    next = 1;
                }
                None => {
                    self.error(diag::wrong_arguments(
                        &format!("`{name}`"),
                        "takes no receiver",
                        span,
                        &printed,
                    ));
                    return error_expr(span);
                }
            }
        }
        for arg in args {
            let position = match &arg.name {
                Some(arg_name) => signature
                    .params
                    .iter()
                    .position(|(param, _)| *param == arg_name.name),
                None => {
                    let position = next;
                    next += 1;
                    (position < signature.params.len()).then_some(position)
                }
            };
            match position {
                Some(position) if slots[position].is_none() => {
                    let ty = signature.params[position].1.clone();
                    slots[position] = Some(self.check(&arg.value, &ty, "as an argument"));
                }
                _ => {
                    self.error(diag::wrong_arguments(
                        &format!("`{name}`"),
                        "an argument matches no parameter",
                        arg.span,
                        &printed,
                    ));
                }
            }
        }
        let mut lowered = Vec::new();
        for ((param, _), slot) in signature.params.iter().zip(slots) {
            match slot {
                Some(expr) => lowered.push(expr),
                None => {
                    self.error(diag::wrong_arguments(
                        &format!("`{name}`"),
                        &format!("missing the argument `{param}`"),
                        span,
                        &printed,
                    ));
                    return error_expr(span);
                }
            }
        }
        ir::Expr {
            kind: Ir::Call {
                callee: ir::Callee::Function {
                    index: signature.index,
                },
                args: lowered,
            },
            ty: signature.ret.clone(),
            span,
        }
    }

    fn infer_binary(
        &mut self,
        op: ast::BinaryOp,
        lhs: &ast::Expr,
        rhs: &ast::Expr,
        span: Span,
    ) -> ir::Expr {
        use ast::BinaryOp as B;
        let lhs = self.infer(lhs);
        let rhs = match op {
            // The right side of `??` is checked against the left's type, so a
            // literal default fits a literal union.
            B::Coalesce => {
                let wanted = self.non_null(&lhs.ty);
                if matches!(self.resolve_ref(&wanted), Ty::Union { .. }) {
                    let errors = self.diagnostics.len();
                    let record = self.record;
                    self.record = false;
                    let attempt = self.check(rhs, &Ty::optional(wanted), "in a default");
                    self.record = record;
                    if self.diagnostics[errors..]
                        .iter()
                        .any(|d| d.diagnostic.is_error())
                    {
                        self.diagnostics.truncate(errors);
                        self.infer(rhs)
                    } else {
                        attempt
                    }
                } else {
                    self.infer(rhs)
                }
            }
            _ => self.infer(rhs),
        };
        let ir_op = lower_op(op);
        if (self.mentions_secret(&lhs.ty) || self.mentions_secret(&rhs.ty))
            && !matches!(op, B::Coalesce)
        {
            let at = if self.mentions_secret(&lhs.ty) {
                lhs.span
            } else {
                rhs.span
            };
            self.error(diag::secret_leak("with an operator", at));
            return binary(ir_op, lhs, rhs, Ty::Error, span);
        }
        let a = self.resolve(&lhs.ty);
        let b = self.resolve(&rhs.ty);
        if matches!(a, Ty::Error) || matches!(b, Ty::Error) {
            return binary(ir_op, lhs, rhs, Ty::Error, span);
        }
        let int =
            |checker: &Self, ty: &Ty| checker.assignable(ty, &Ty::Int) && !matches!(ty, Ty::Never);
        let num = |checker: &Self, ty: &Ty| checker.is_number(ty);
        let result = match op {
            B::Coalesce => {
                if matches!(a, Ty::Json) {
                    Some(Ty::Json)
                } else {
                    let left = self.non_null(&lhs.ty);
                    let joined = self.join(&left, &rhs.ty);
                    if joined.is_none() {
                        self.error(diag::mismatched_values(
                            "a value and its default",
                            &left,
                            &rhs.ty,
                            rhs.span,
                            ("the value", &lhs.ty, lhs.span),
                        ));
                        return binary(ir_op, lhs, rhs, Ty::Error, span);
                    }
                    joined
                }
            }
            B::Or | B::And => (self.assignable(&a, &Ty::Bool) && self.assignable(&b, &Ty::Bool))
                .then_some(Ty::Bool),
            B::Eq | B::NotEq => self.comparable(&a, &b).then_some(Ty::Bool),
            B::Lt | B::LtEq | B::Gt | B::GtEq => {
                let ordered = (num(self, &a) && num(self, &b))
                    || (self.assignable(&a, &Ty::String) && self.assignable(&b, &Ty::String))
                    || (matches!(a, Ty::Duration) && matches!(b, Ty::Duration))
                    || (matches!(a, Ty::Time) && matches!(b, Ty::Time));
                ordered.then_some(Ty::Bool)
            }
            B::In => {
                let fits = match &b {
                    Ty::List { element } => self.comparable(&a, element),
                    Ty::Map { .. } => self.assignable(&a, &Ty::String),
                    Ty::Json => true,
                    _ if self.assignable(&b, &Ty::String) => self.assignable(&a, &Ty::String),
                    _ => false,
                };
                fits.then_some(Ty::Bool)
            }
            B::Add => {
                if int(self, &a) && int(self, &b) {
                    Some(Ty::Int)
                } else if num(self, &a) && num(self, &b) {
                    Some(Ty::Float)
                } else if self.assignable(&a, &Ty::String) && self.assignable(&b, &Ty::String) {
                    Some(Ty::String)
                } else if let (Ty::List { element: x }, Ty::List { element: y }) = (&a, &b) {
                    self.join(x, y).map(Ty::list)
                } else {
                    match (&a, &b) {
                        (Ty::Duration, Ty::Duration) => Some(Ty::Duration),
                        (Ty::Time, Ty::Duration) | (Ty::Duration, Ty::Time) => Some(Ty::Time),
                        _ => None,
                    }
                }
            }
            B::Sub => {
                if int(self, &a) && int(self, &b) {
                    Some(Ty::Int)
                } else if num(self, &a) && num(self, &b) {
                    Some(Ty::Float)
                } else {
                    match (&a, &b) {
                        (Ty::Duration, Ty::Duration) => Some(Ty::Duration),
                        (Ty::Time, Ty::Duration) => Some(Ty::Time),
                        (Ty::Time, Ty::Time) => Some(Ty::Duration),
                        _ => None,
                    }
                }
            }
            B::Mul => {
                if int(self, &a) && int(self, &b) {
                    Some(Ty::Int)
                } else if num(self, &a) && num(self, &b) {
                    Some(Ty::Float)
                } else if (matches!(a, Ty::Duration) && int(self, &b))
                    || (int(self, &a) && matches!(b, Ty::Duration))
                {
                    Some(Ty::Duration)
                } else {
                    None
                }
            }
            B::Div => {
                if int(self, &a) && int(self, &b) {
                    Some(Ty::Int)
                } else if num(self, &a) && num(self, &b) {
                    Some(Ty::Float)
                } else if matches!(a, Ty::Duration) && int(self, &b) {
                    Some(Ty::Duration)
                } else {
                    None
                }
            }
            B::Rem => (int(self, &a) && int(self, &b)).then_some(Ty::Int),
        };
        match result {
            Some(ty) => binary(ir_op, lhs, rhs, ty, span),
            None => {
                if matches!(a, Ty::Json) || matches!(b, Ty::Json) {
                    let at = if matches!(a, Ty::Json) {
                        lhs.span
                    } else {
                        rhs.span
                    };
                    let wanted = if matches!(a, Ty::Json) {
                        rhs.ty.clone()
                    } else {
                        lhs.ty.clone()
                    };
                    self.error(diag::json_needs_conversion(&wanted, at));
                } else if (self.nullable(&a) || self.nullable(&b))
                    && !matches!(op, B::Eq | B::NotEq)
                {
                    let at = if self.nullable(&a) {
                        lhs.span
                    } else {
                        rhs.span
                    };
                    let ty = if self.nullable(&a) {
                        lhs.ty.clone()
                    } else {
                        rhs.ty.clone()
                    };
                    self.error(diag::nullable_access(&ty, at));
                } else {
                    self.error(diag::invalid_operands(op.symbol(), &lhs.ty, &rhs.ty, span));
                }
                binary(ir_op, lhs, rhs, Ty::Error, span)
            }
        }
    }

    /// Lowers a pattern, binding its names in the current scope. `narrow` drops
    /// `null` from a binding's type when an earlier arm matched `null`.
    pub(crate) fn lower_pattern(
        &mut self,
        pattern: &ast::Pattern,
        scrutinee: &Ty,
        narrow: bool,
    ) -> ir::Pattern {
        self.lower_pattern_in(pattern, scrutinee, narrow, &mut Vec::new())
    }

    /// `bound` holds the names the pattern has bound so far: the alternatives of an
    /// or-pattern bind the same names, to the same slots.
    fn lower_pattern_in(
        &mut self,
        pattern: &ast::Pattern,
        scrutinee: &Ty,
        narrow: bool,
        bound: &mut Vec<(String, ir::Slot)>,
    ) -> ir::Pattern {
        match &pattern.kind {
            ast::PatternKind::Wildcard | ast::PatternKind::Error => ir::Pattern::Wildcard,
            ast::PatternKind::Binding(ident) => {
                if let Some((_, slot)) = bound.iter().find(|(name, _)| *name == ident.name) {
                    return ir::Pattern::Binding { slot: *slot };
                }
                let ty = if narrow {
                    self.non_null(scrutinee)
                } else {
                    scrutinee.clone()
                };
                let slot = self.bind(&ident.name, ident.span, ty, BindingKind::Pattern);
                bound.push((ident.name.clone(), slot));
                ir::Pattern::Binding { slot }
            }
            ast::PatternKind::Literal(value) => {
                let (lowered, ty) = match value {
                    ast::Literal::Int(value) => (
                        ir::Literal::Int { value: *value },
                        Ty::Lit {
                            value: LitTy::Int(*value),
                        },
                    ),
                    ast::Literal::Float(value) => (ir::Literal::Float { value: *value }, Ty::Float),
                    ast::Literal::Duration(millis) => {
                        (ir::Literal::Duration { millis: *millis }, Ty::Duration)
                    }
                    ast::Literal::String(value) => (
                        ir::Literal::String {
                            value: value.clone(),
                        },
                        Ty::string_lit(value.clone()),
                    ),
                    ast::Literal::Bool(value) => (
                        ir::Literal::Bool { value: *value },
                        Ty::Lit {
                            value: LitTy::Bool(*value),
                        },
                    ),
                    ast::Literal::Null => (ir::Literal::Null, Ty::Null),
                };
                if !self.comparable(&ty, scrutinee) && !self.assignable(&ty, scrutinee) {
                    self.error(diag::mismatched_in(
                        "this pattern never matches",
                        scrutinee,
                        &ty,
                        pattern.span,
                    ));
                }
                ir::Pattern::Literal { value: lowered }
            }
            ast::PatternKind::Or(alternatives) => {
                // A name bound by one alternative must be bound by all (SPEC §7).
                let names: Vec<Vec<&ast::Ident>> = alternatives.iter().map(bindings_of).collect();
                let mut reported: Vec<&str> = Vec::new();
                for ident in names.iter().flatten() {
                    if reported.contains(&ident.name.as_str()) {
                        continue;
                    }
                    let missing = alternatives
                        .iter()
                        .zip(&names)
                        .find(|(_, bound)| !bound.iter().any(|other| other.name == ident.name));
                    if let Some((alternative, _)) = missing {
                        reported.push(&ident.name);
                        self.error(names::binding_not_in_every_alternative(
                            &ident.name,
                            ident.span,
                            alternative.span,
                        ));
                    }
                }
                ir::Pattern::Or {
                    alternatives: alternatives
                        .iter()
                        .map(|alternative| {
                            self.lower_pattern_in(alternative, scrutinee, narrow, bound)
                        })
                        .collect(),
                }
            }
        }
    }
}

/// The names a pattern binds.
fn bindings_of(pattern: &ast::Pattern) -> Vec<&ast::Ident> {
    match &pattern.kind {
        ast::PatternKind::Binding(ident) => vec![ident],
        ast::PatternKind::Or(alternatives) => alternatives.iter().flat_map(bindings_of).collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn pattern_matches_null(pattern: &ast::Pattern) -> bool {
    match &pattern.kind {
        ast::PatternKind::Literal(ast::Literal::Null) => true,
        ast::PatternKind::Or(alternatives) => alternatives.iter().any(pattern_matches_null),
        _ => false,
    }
}

fn literal(value: ir::Literal, ty: Ty, span: Span) -> ir::Expr {
    ir::Expr {
        kind: Ir::Literal { value },
        ty,
        span,
    }
}

fn binary(op: ir::BinaryOp, lhs: ir::Expr, rhs: ir::Expr, ty: Ty, span: Span) -> ir::Expr {
    ir::Expr {
        kind: Ir::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
        ty,
        span,
    }
}

fn lower_op(op: ast::BinaryOp) -> ir::BinaryOp {
    use ast::BinaryOp as B;
    match op {
        B::Coalesce => ir::BinaryOp::Coalesce,
        B::Or => ir::BinaryOp::Or,
        B::And => ir::BinaryOp::And,
        B::Eq => ir::BinaryOp::Eq,
        B::NotEq => ir::BinaryOp::NotEq,
        B::Lt => ir::BinaryOp::Lt,
        B::LtEq => ir::BinaryOp::LtEq,
        B::Gt => ir::BinaryOp::Gt,
        B::GtEq => ir::BinaryOp::GtEq,
        B::In => ir::BinaryOp::In,
        B::Add => ir::BinaryOp::Add,
        B::Sub => ir::BinaryOp::Sub,
        B::Mul => ir::BinaryOp::Mul,
        B::Div => ir::BinaryOp::Div,
        B::Rem => ir::BinaryOp::Rem,
    }
}
