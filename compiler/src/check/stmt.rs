//! Statements of workflows and tests: scoping of the names they bind, step
//! results, handles, loops, `parallel` branches, and the placement rules
//! (`yield` only in a collecting `for`, `mock`/`assert` only in tests).

use super::builtins::error_expr;
use super::decl::{HTTP_OPTIONS, header_value};
use super::diagnostics as diag;
use super::{BindingKind, Checker};
use crate::diagnostic::Span;
use crate::ir::{self, StmtKind as S};
use crate::resolve::diagnostics as names;
use crate::syntax::ast;
use crate::ty::{FieldTy, Ty};

fn field(name: &str, ty: Ty, optional: bool) -> FieldTy {
    FieldTy {
        name: name.into(),
        ty,
        optional,
    }
}

pub(crate) fn approval_result() -> Ty {
    Ty::record(vec![
        field("approved", Ty::Bool, false),
        field("by", Ty::optional(Ty::String), false),
        field("comment", Ty::optional(Ty::String), false),
    ])
}

fn error_record() -> Ty {
    Ty::record(vec![
        field("code", Ty::String, false),
        field("kind", Ty::String, false),
        field("message", Ty::String, false),
        field("step", Ty::optional(Ty::String), false),
        field("status", Ty::optional(Ty::Int), false),
    ])
}

impl Checker<'_> {
    /// Every step and handle name in a body, with duplicates reported.
    pub(super) fn collect_step_names(
        &mut self,
        stmts: &[ast::Stmt],
        names: &mut std::collections::BTreeMap<String, Span>,
    ) {
        for stmt in stmts {
            self.collect_in_stmt(stmt, names);
        }
    }

    fn collect_in_stmt(
        &mut self,
        stmt: &ast::Stmt,
        seen: &mut std::collections::BTreeMap<String, Span>,
    ) {
        let mut note = |checker: &mut Self, ident: &ast::Ident| {
            if let Some(first) = seen.get(&ident.name) {
                checker.error(names::step_name_reused(&ident.name, ident.span, *first));
            } else {
                seen.insert(ident.name.clone(), ident.span);
            }
        };
        match &stmt.kind {
            ast::StmtKind::Step { name, .. } => note(self, name),
            ast::StmtKind::Let {
                name,
                value: ast::LetValue::Callback { .. } | ast::LetValue::Approval { .. },
                ..
            } => note(self, name),
            ast::StmtKind::Let {
                value: ast::LetValue::For(each, _),
                ..
            } => {
                self.collect_step_names(&each.body.stmts, seen);
            }
            ast::StmtKind::For(each) => self.collect_step_names(&each.body.stmts, seen),
            ast::StmtKind::If {
                then, otherwise, ..
            } => {
                self.collect_step_names(&then.stmts, seen);
                if let Some(otherwise) = otherwise {
                    self.collect_in_stmt(otherwise, seen);
                }
            }
            ast::StmtKind::Block(block) => self.collect_step_names(&block.stmts, seen),
            ast::StmtKind::Match { arms, .. } => {
                for arm in arms {
                    self.collect_in_stmt(&arm.body, seen);
                }
            }
            ast::StmtKind::Parallel { branches } => {
                for branch in branches {
                    self.collect_in_stmt(branch, seen);
                }
            }
            ast::StmtKind::Try { body, handler, .. } => {
                self.collect_step_names(&body.stmts, seen);
                self.collect_step_names(&handler.stmts, seen);
            }
            _ => {}
        }
    }

    /// A block's statements, in the current scope; warns about code after the end.
    pub(super) fn check_block_stmts(&mut self, stmts: &[ast::Stmt]) -> Vec<ir::Stmt> {
        let mut out = Vec::new();
        let mut ended: Option<Span> = None;
        for stmt in stmts {
            if let Some(end) = ended.take() {
                self.error(diag::unreachable_code(stmt.span, end));
            }
            let lowered = self.check_stmt(stmt);
            if ends_run(&stmt.kind) {
                ended = Some(stmt.span);
            }
            out.extend(lowered);
        }
        out
    }

    fn scoped_block(&mut self, block: &ast::Block) -> Vec<ir::Stmt> {
        self.push_scope();
        let out = self.check_block_stmts(&block.stmts);
        self.pop_scope();
        out
    }

    fn scoped_stmt(&mut self, stmt: &ast::Stmt) -> Vec<ir::Stmt> {
        self.push_scope();
        let out = match &stmt.kind {
            ast::StmtKind::Block(block) => self.check_block_stmts(&block.stmts),
            _ => self.check_stmt(stmt),
        };
        self.pop_scope();
        out
    }

    fn next_key(&mut self, kind: &str) -> String {
        match self.wf.as_mut() {
            Some(wf) => {
                wf.counter += 1;
                format!("#{kind}{}", wf.counter)
            }
            None => format!("#{kind}"),
        }
    }

    fn check_stmt(&mut self, stmt: &ast::Stmt) -> Vec<ir::Stmt> {
        let span = stmt.span;
        let kind = match &stmt.kind {
            ast::StmtKind::Step { name, action } => {
                let (action, ty, typed) = self.check_action(action, span);
                // The name becomes visible only after the step, so it is no longer
                // "used before it runs".
                let slot = self.bind(
                    &name.name,
                    name.span,
                    ty.clone(),
                    BindingKind::Step { typed },
                );
                match action {
                    Some(action) => S::Step {
                        name: name.name.clone(),
                        slot,
                        action,
                        ty,
                    },
                    None => return Vec::new(),
                }
            }
            ast::StmtKind::Let { name, ty, value } => {
                return self.check_let(name, ty.as_ref(), value, span);
            }
            ast::StmtKind::Set { target, value } => {
                let key = match &target.kind {
                    ast::ExprKind::Field { name, .. } => ir::Expr {
                        kind: ir::ExprKind::Literal {
                            value: ir::Literal::String {
                                value: name.name.clone(),
                            },
                        },
                        ty: Ty::String,
                        span: name.span,
                    },
                    ast::ExprKind::Index { index, .. } => {
                        self.check(index, &Ty::String, "in a context key")
                    }
                    _ => error_expr(target.span),
                };
                let value = self.check(value, &Ty::Json, "in `context`");
                S::Set {
                    name: self.next_key("set"),
                    key,
                    value,
                }
            }
            ast::StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                let cond = self.check(cond, &Ty::Bool, "in a condition");
                let then = self.scoped_block(then);
                let otherwise = match otherwise {
                    Some(otherwise) => self.scoped_stmt(otherwise),
                    None => Vec::new(),
                };
                S::If {
                    cond,
                    then,
                    otherwise,
                }
            }
            ast::StmtKind::Block(block) => {
                return self.scoped_block(block);
            }
            ast::StmtKind::Match { scrutinee, arms } => {
                let scrutinee = self.infer(scrutinee);
                let patterns: Vec<&ast::Pattern> = arms.iter().map(|arm| &arm.pattern).collect();
                self.check_coverage(&scrutinee.ty, &patterns, span);
                let mut lowered = Vec::new();
                let mut seen_null = false;
                for arm in arms {
                    self.push_scope();
                    let pattern = self.lower_pattern(&arm.pattern, &scrutinee.ty, seen_null);
                    seen_null |= super::expr::pattern_matches_null(&arm.pattern);
                    let body = match &arm.body.kind {
                        ast::StmtKind::Block(block) => self.check_block_stmts(&block.stmts),
                        _ => self.check_stmt(&arm.body),
                    };
                    self.pop_scope();
                    lowered.push(ir::StmtArm { pattern, body });
                }
                S::Match {
                    scrutinee,
                    arms: lowered,
                }
            }
            ast::StmtKind::For(each) => {
                if let Some(wf) = self.wf.as_mut() {
                    wf.plain_loops += 1;
                }
                let each = self.check_for(each);
                if let Some(wf) = self.wf.as_mut() {
                    wf.plain_loops -= 1;
                }
                S::For(each)
            }
            ast::StmtKind::Parallel { branches } => {
                // Names bound by single-statement branches are visible after the
                // `parallel`, not in sibling branches.
                let mut lowered = Vec::new();
                let mut exported = Vec::new();
                for branch in branches {
                    self.push_scope();
                    let body = match &branch.kind {
                        ast::StmtKind::Block(block) => {
                            let body = self.check_block_stmts(&block.stmts);
                            self.pop_scope();
                            body
                        }
                        _ => {
                            let body = self.check_stmt(branch);
                            if let Some(scope) = self.body.scopes.pop() {
                                exported.extend(scope);
                            }
                            body
                        }
                    };
                    lowered.push(body);
                }
                if let Some(scope) = self.body.scopes.last_mut() {
                    scope.extend(exported);
                }
                S::Parallel { branches: lowered }
            }
            ast::StmtKind::Try {
                body,
                error,
                handler,
            } => {
                let body = self.scoped_block(body);
                self.push_scope();
                let error_slot =
                    self.bind(&error.name, error.span, error_record(), BindingKind::Catch);
                let handler = self.check_block_stmts(&handler.stmts);
                self.pop_scope();
                S::Try {
                    body,
                    error_slot,
                    handler,
                }
            }
            ast::StmtKind::Fail(message) => S::Fail {
                message: self.check(message, &Ty::String, "in a `fail` message"),
            },
            ast::StmtKind::Return(value) => {
                let result = self.wf.as_ref().and_then(|wf| wf.result.clone());
                let in_test = self.wf.as_ref().is_some_and(|wf| wf.in_test);
                let value = match (value, result) {
                    (Some(value), Some(result)) => {
                        Some(self.check(value, &result, "in a `return` value"))
                    }
                    (Some(value), None) => {
                        let lowered = self.infer(value);
                        if !in_test {
                            self.error(diag::return_without_result(value.span));
                        }
                        Some(lowered)
                    }
                    (None, Some(result)) => {
                        if !self.assignable(&Ty::Null, &result) {
                            self.error(diag::return_without_value(&result, span));
                        }
                        None
                    }
                    (None, None) => None,
                };
                S::Return { value }
            }
            ast::StmtKind::Emit { event, payload } => {
                let payload = match self.events.get(&event.name).cloned() {
                    Some(ty) => {
                        self.reference(event.span, &event.name);
                        self.check(payload, &ty, "in an `emit` payload")
                    }
                    None => {
                        let suggestion =
                            names::suggest(&event.name, self.events.keys().map(String::as_str));
                        self.error(names::unknown_event(&event.name, event.span, suggestion));
                        self.infer(payload)
                    }
                };
                S::Emit {
                    name: self.next_key("emit"),
                    event: event.name.clone(),
                    payload,
                }
            }
            ast::StmtKind::Yield(value) => {
                let collecting = self
                    .wf
                    .as_ref()
                    .is_some_and(|wf| !wf.yields.is_empty() && wf.plain_loops == 0);
                let wanted = self
                    .wf
                    .as_ref()
                    .filter(|_| collecting)
                    .and_then(|wf| wf.yield_into.last().cloned().flatten());
                let value = match wanted {
                    Some(wanted) => self.check(value, &wanted, "in a `yield`"),
                    None => self.infer(value),
                };
                if self.mentions_secret(&value.ty) {
                    self.error(diag::secret_leak("in a `yield`", value.span));
                }
                if collecting {
                    if let Some(list) = self.wf.as_mut().and_then(|wf| wf.yields.last_mut()) {
                        list.push((value.ty.clone(), value.span));
                    }
                } else {
                    self.error(diag::misplaced_statement(
                        "yield",
                        "inside a `for` bound by `let`",
                        span,
                    ));
                }
                S::Yield { value }
            }
            ast::StmtKind::Mock { request, response } => {
                if !self.wf.as_ref().is_some_and(|wf| wf.in_test) {
                    self.error(diag::misplaced_statement("mock", "in a `test`", span));
                }
                let _ = self.check_http(request);
                let _ = self.infer(response);
                return Vec::new();
            }
            ast::StmtKind::Assert { cond, message } => {
                if !self.wf.as_ref().is_some_and(|wf| wf.in_test) {
                    self.error(diag::misplaced_statement("assert", "in a `test`", span));
                }
                let _ = self.check(cond, &Ty::Bool, "in a condition");
                if let Some(message) = message {
                    let _ = self.check(message, &Ty::String, "in a message");
                }
                return Vec::new();
            }
            ast::StmtKind::Error => return Vec::new(),
        };
        vec![ir::Stmt { kind, span }]
    }

    fn check_let(
        &mut self,
        name: &ast::Ident,
        annotation: Option<&ast::Type>,
        value: &ast::LetValue,
        span: Span,
    ) -> Vec<ir::Stmt> {
        let annotation = annotation.map(|ty| self.lower_type(ty));
        let kind = match value {
            ast::LetValue::Expr(expr) => {
                let value = match &annotation {
                    Some(ty) => self.check(expr, ty, "in a `let`"),
                    None => self.infer(expr),
                };
                // A rejected secret binds the error type: later uses of the name
                // are not the mistake, and are not reported again.
                let ty = if annotation.is_none() && self.mentions_secret(&value.ty) {
                    self.error(diag::secret_leak("in a `let`", value.span));
                    Ty::Error
                } else {
                    annotation.unwrap_or_else(|| value.ty.clone())
                };
                let slot = self.bind(&name.name, name.span, ty, BindingKind::Let);
                S::Let { slot, value }
            }
            ast::LetValue::Callback { args, ty, span: at } => {
                let payload = match ty {
                    Some(written) => {
                        let payload = self.lower_type(written);
                        self.forbid_secret_in(&payload, written.span, "in a callback's payload");
                        payload
                    }
                    None => Ty::Json,
                };
                let timeout = self.handle_args(args, "callback", *at, false).0;
                self.define(name.span, &name.name, "callback payload", &payload);
                let handle = Ty::record(vec![field("url", Ty::String, false)]);
                let slot = self.bind(
                    &name.name,
                    name.span,
                    handle,
                    BindingKind::Handle(ir::HandleKind::Callback),
                );
                if let Some(binding) = self.lookup_mut(&name.name) {
                    binding.used = true;
                }
                S::Callback {
                    name: name.name.clone(),
                    slot,
                    timeout,
                    ty: payload,
                }
            }
            ast::LetValue::Approval { args, span: at } => {
                let (timeout, message) = self.handle_args(args, "approval", *at, true);
                let handle = Ty::record(vec![
                    field("approve_url", Ty::String, false),
                    field("reject_url", Ty::String, false),
                    field("review_url", Ty::String, false),
                ]);
                let slot = self.bind(
                    &name.name,
                    name.span,
                    handle,
                    BindingKind::Handle(ir::HandleKind::Approval),
                );
                if let Some(binding) = self.lookup_mut(&name.name) {
                    binding.used = true;
                }
                S::Approval {
                    name: name.name.clone(),
                    slot,
                    timeout,
                    message,
                }
            }
            ast::LetValue::For(each, at) => {
                // An annotation's element type is pushed into each `yield`.
                let wanted =
                    annotation
                        .as_ref()
                        .and_then(|annotation| match self.resolve(annotation) {
                            Ty::List { element } => Some(*element),
                            Ty::Json => Some(Ty::Json),
                            _ => None,
                        });
                let saved_loops = self.wf.as_mut().map(|wf| {
                    wf.yields.push(Vec::new());
                    wf.yield_into.push(wanted);
                    std::mem::take(&mut wf.plain_loops)
                });
                let lowered = self.check_for(each);
                let yielded = match self.wf.as_mut() {
                    Some(wf) => {
                        wf.plain_loops = saved_loops.unwrap_or(0);
                        wf.yield_into.pop();
                        wf.yields.pop().unwrap_or_default()
                    }
                    None => Vec::new(),
                };
                let element = self.join_all(
                    yielded,
                    "the values yielded by a `for`",
                    "the first `yield`",
                );
                let mut ty = Ty::list(element);
                if let Some(annotation) = annotation {
                    if !self.assignable(&ty, &annotation) {
                        self.error(diag::mismatched_types(&annotation, &ty, *at));
                    }
                    ty = annotation;
                }
                let slot = self.bind(&name.name, name.span, ty, BindingKind::Let);
                S::Collect {
                    slot,
                    each: lowered,
                }
            }
        };
        vec![ir::Stmt { kind, span }]
    }

    /// `timeout:` (required) and, for approvals, `message:`.
    fn handle_args(
        &mut self,
        args: &[ast::Arg],
        what: &str,
        span: Span,
        approval: bool,
    ) -> (Option<ir::Expr>, Option<ir::Expr>) {
        let known: &[&str] = if approval {
            &["timeout", "message"]
        } else {
            &["timeout"]
        };
        let mut timeout = None;
        let mut message = None;
        for arg in args {
            match arg.name.as_ref().map(|name| name.name.as_str()) {
                Some("timeout") => {
                    timeout = Some(self.check(&arg.value, &Ty::Duration, "in a timeout"))
                }
                Some("message") if approval => {
                    message = Some(self.check(&arg.value, &Ty::String, "in an approval message"))
                }
                Some(other) => {
                    let suggestion = names::suggest(other, known.iter().copied());
                    self.error(diag::unknown_option_of(
                        "argument",
                        Some(&format!("`{what}`")),
                        other,
                        arg.span,
                        known,
                        suggestion,
                    ));
                }
                None => self.error(diag::positional_option(
                    &format!("`{what}`"),
                    "arguments",
                    arg.span,
                    known,
                )),
            }
        }
        if timeout.is_none() {
            self.error(diag::await_without_timeout(what, span));
        }
        (timeout, message)
    }

    fn check_for(&mut self, each: &ast::ForLoop) -> ir::ForLoop {
        let iter = self.infer(&each.iter);
        let element = match self.resolve(&iter.ty) {
            Ty::List { element } => *element,
            Ty::Json | Ty::Error => Ty::Json,
            _ => {
                self.error(diag::mismatched_in(
                    "`for` iterates over a list",
                    &Ty::list(Ty::Json),
                    &iter.ty,
                    iter.span,
                ));
                Ty::Error
            }
        };
        let mut concurrency = 1;
        for option in &each.options {
            match option.name.as_ref().map(|name| name.name.as_str()) {
                Some("concurrency") => {
                    if let Some(value) = self.const_at_least(&option.value, "`concurrency`", 1) {
                        concurrency = u32::try_from(value).unwrap_or(u32::MAX);
                    }
                }
                Some(name) => {
                    let suggestion = names::suggest(name, ["concurrency"]);
                    self.error(diag::unknown_option(
                        "`for` option",
                        name,
                        option.span,
                        &["concurrency"],
                        suggestion,
                    ));
                }
                None => self.error(diag::positional_option(
                    "`for`",
                    "options",
                    option.span,
                    &["concurrency"],
                )),
            }
        }
        let segment = match &each.iter.kind {
            ast::ExprKind::Field { name, .. } => name.name.clone(),
            ast::ExprKind::Name(ident) => ident.name.clone(),
            _ => each.var.name.clone(),
        };
        if let Some(wf) = self.wf.as_mut() {
            wf.loops += 1;
        }
        self.push_scope();
        let var_slot = self.bind(&each.var.name, each.var.span, element, BindingKind::Loop);
        let body = self.check_block_stmts(&each.body.stmts);
        self.pop_scope();
        if let Some(wf) = self.wf.as_mut() {
            wf.loops -= 1;
        }
        ir::ForLoop {
            segment,
            var_slot,
            iter,
            concurrency,
            body,
        }
    }

    /// Returns the action, the step's result type, and whether the result was typed
    /// explicitly (`-> T`), which makes an unused result worth a warning.
    fn check_action(
        &mut self,
        action: &ast::StepAction,
        span: Span,
    ) -> (Option<ir::StepAction>, Ty, bool) {
        match action {
            ast::StepAction::Http(call) => {
                let typed = call.response.is_some();
                let (request, ty) = self.check_http(call);
                (Some(ir::StepAction::Http(request)), ty, typed)
            }
            ast::StepAction::Call {
                workflow,
                args,
                span: at,
            } => {
                let Some(signature) = self.workflows.get(&workflow.name).cloned() else {
                    let suggestion =
                        names::suggest(&workflow.name, self.workflows.keys().map(String::as_str));
                    self.error(names::unknown_workflow(
                        &workflow.name,
                        workflow.span,
                        suggestion,
                    ));
                    for arg in args {
                        self.infer(&arg.value);
                    }
                    return (None, Ty::Error, false);
                };
                self.reference(workflow.span, &workflow.name);
                let printed = format!(
                    "workflow {}({})",
                    workflow.name,
                    signature
                        .params
                        .iter()
                        .map(|(n, t)| format!("{n}: {t}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let mut lowered: Vec<Option<ir::Expr>> = vec![None; signature.params.len()];
                let mut next = 0;
                for arg in args {
                    let position = match &arg.name {
                        Some(name) => signature
                            .params
                            .iter()
                            .position(|(param, _)| *param == name.name),
                        None => {
                            next += 1;
                            (next - 1 < signature.params.len()).then_some(next - 1)
                        }
                    };
                    match position {
                        Some(position) if lowered[position].is_none() => {
                            let ty = signature.params[position].1.clone();
                            lowered[position] =
                                Some(self.check(&arg.value, &ty, "in a child workflow's input"));
                        }
                        _ => self.error(diag::wrong_arguments(
                            &format!("`call {}`", workflow.name),
                            "an argument matches no parameter",
                            arg.span,
                            &printed,
                        )),
                    }
                }
                let mut fields = Vec::new();
                let mut missing = false;
                for ((name, _), value) in signature.params.iter().zip(lowered) {
                    match value {
                        Some(value) => fields.push((name.clone(), value)),
                        None => {
                            self.error(diag::wrong_arguments(
                                &format!("`call {}`", workflow.name),
                                &format!("missing the argument `{name}`"),
                                *at,
                                &printed,
                            ));
                            missing = true;
                        }
                    }
                }
                let input = match fields.len() {
                    0 => ir::Expr {
                        kind: ir::ExprKind::Literal {
                            value: ir::Literal::Null,
                        },
                        ty: Ty::Null,
                        span: *at,
                    },
                    1 if !missing => fields.remove(0).1,
                    _ => ir::Expr {
                        ty: Ty::Json,
                        kind: ir::ExprKind::Record { fields },
                        span: *at,
                    },
                };
                (
                    Some(ir::StepAction::Call {
                        workflow: workflow.name.clone(),
                        input,
                    }),
                    signature.result,
                    false,
                )
            }
            ast::StepAction::Wait(duration) => {
                let duration = self.check(duration, &Ty::Duration, "in a wait");
                (Some(ir::StepAction::Wait { duration }), Ty::Null, false)
            }
            ast::StepAction::WaitUntil(time) => {
                let time = self.check(time, &Ty::Time, "in a wait");
                (Some(ir::StepAction::WaitUntil { time }), Ty::Null, false)
            }
            ast::StepAction::Await(handle) => {
                let Some(binding) = self.lookup(&handle.name, handle.span) else {
                    let suggestion = names::suggest(
                        &handle.name,
                        self.visible_names().iter().map(String::as_str),
                    );
                    self.error(names::unknown_name(&handle.name, handle.span, suggestion));
                    return (None, Ty::Error, false);
                };
                let BindingKind::Handle(kind) = binding.kind else {
                    self.error(diag::not_a_handle(&handle.name, &binding.ty, handle.span));
                    return (None, Ty::Error, false);
                };
                let loops = self.wf.as_ref().map_or(0, |wf| wf.loops);
                if let Some(first) = binding.awaited {
                    self.error(names::handle_awaited_twice(
                        &handle.name,
                        handle.span,
                        first,
                    ));
                } else if loops > binding.loops {
                    // A loop would await it once per element.
                    self.error(names::handle_awaited_in_loop(
                        &handle.name,
                        handle.span,
                        binding.span,
                    ));
                } else if let Some(binding) = self.lookup_mut(&handle.name) {
                    binding.awaited = Some(handle.span);
                }
                let ty = match kind {
                    ir::HandleKind::Approval => approval_result(),
                    ir::HandleKind::Callback => self.callback_payload(&handle.name),
                };
                (
                    Some(ir::StepAction::Await {
                        handle: binding.slot,
                        kind,
                    }),
                    ty,
                    false,
                )
            }
            ast::StepAction::AwaitEvent {
                event,
                binding,
                filter,
                options,
            } => {
                let ty = match self.events.get(&event.name).cloned() {
                    Some(ty) => {
                        self.reference(event.span, &event.name);
                        ty
                    }
                    None => {
                        let suggestion =
                            names::suggest(&event.name, self.events.keys().map(String::as_str));
                        self.error(names::unknown_event(&event.name, event.span, suggestion));
                        Ty::Error
                    }
                };
                self.push_scope();
                let slot = self.bind(
                    &binding.name,
                    binding.span,
                    ty.clone(),
                    BindingKind::Pattern,
                );
                let reported = self.diagnostics.len();
                let filter = self.check(filter, &Ty::Bool, "in a condition");
                self.pop_scope();
                let key = self.correlation_key(&filter, slot, &binding.name, reported);
                let options = self.await_options(options, false);
                (
                    Some(ir::StepAction::AwaitEvent {
                        event: event.name.clone(),
                        binding: slot,
                        filter,
                        timeout: options.timeout,
                        key,
                        lookback: options.lookback,
                    }),
                    ty,
                    false,
                )
            }
            ast::StepAction::AwaitWebhook {
                method,
                path,
                binding,
                ty,
                filter,
                options,
            } => {
                let body = match ty {
                    Some(ty) => self.lower_type(ty),
                    None => Ty::Json,
                };
                self.push_scope();
                let slot = self.bind(
                    &binding.name,
                    binding.span,
                    body.clone(),
                    BindingKind::Pattern,
                );
                let reported = self.diagnostics.len();
                let filter = self.check(filter, &Ty::Bool, "in a condition");
                self.pop_scope();
                let key = self.correlation_key(&filter, slot, &binding.name, reported);
                let options = self.await_options(options, true);
                (
                    Some(ir::StepAction::AwaitWebhook {
                        method: method.name.clone(),
                        path: path.value.clone(),
                        binding: slot,
                        body: body.clone(),
                        filter,
                        timeout: options.timeout,
                        verify: options.verify,
                        key,
                        lookback: options.lookback,
                    }),
                    body,
                    false,
                )
            }
            ast::StepAction::Error => {
                let _ = span;
                (None, Ty::Error, false)
            }
        }
    }

    /// The correlation key of an `await` predicate (see [`crate::correlate`]);
    /// without one, W0404, unless checking the predicate reported an error (the
    /// diagnostics from `reported` on).
    fn correlation_key(
        &mut self,
        filter: &ir::Expr,
        slot: ir::Slot,
        name: &str,
        reported: usize,
    ) -> Option<ir::CorrelationKey> {
        let key = crate::correlate::key(filter, slot);
        let broken = self.diagnostics[reported.min(self.diagnostics.len())..]
            .iter()
            .any(|entry| entry.diagnostic.is_error());
        if key.is_none() && !broken {
            self.error(diag::unindexed_wait(name, filter.span));
        }
        key
    }

    fn callback_payload(&self, name: &str) -> Ty {
        // The payload type is kept on the handle's definition in `info`.
        self.info
            .definitions
            .iter()
            .rev()
            .find(|definition| definition.name == name && definition.kind == "callback payload")
            .map(|definition| definition.ty.clone())
            .unwrap_or(Ty::Json)
    }

    fn await_options(&mut self, options: &[ast::Arg], webhook: bool) -> AwaitOptions {
        let known: &[&str] = if webhook {
            &["timeout", "lookback", "verify"]
        } else {
            &["timeout", "lookback"]
        };
        let mut timeout = None;
        let mut verify = None;
        let mut lookback = None;
        for option in options {
            match option.name.as_ref().map(|name| name.name.as_str()) {
                Some("timeout") => {
                    timeout = Some(self.check(&option.value, &Ty::Duration, "in a timeout"))
                }
                Some("lookback") => {
                    lookback = Some(self.check(&option.value, &Ty::Duration, "in a lookback"))
                }
                Some("verify") if webhook => verify = Some(self.verify_form(&option.value)),
                Some(name) => {
                    let suggestion = names::suggest(name, known.iter().copied());
                    self.error(diag::unknown_option(
                        "`await` option",
                        name,
                        option.span,
                        known,
                        suggestion,
                    ));
                }
                None => self.error(diag::positional_option(
                    "`await`",
                    "options",
                    option.span,
                    known,
                )),
            }
        }
        AwaitOptions {
            timeout,
            verify,
            lookback,
        }
    }

    pub(super) fn check_http(&mut self, call: &ast::HttpCall) -> (ir::HttpRequest, Ty) {
        let (connection, url) = match &call.target {
            ast::HttpTarget::Url(url) => (None, self.check(url, &Ty::String, "in a URL")),
            ast::HttpTarget::Connection { connection, path } => {
                if self.decls.connections.contains_key(&connection.name) {
                    self.reference(connection.span, &connection.name);
                } else {
                    let suggestion = names::suggest(
                        &connection.name,
                        self.decls.connections.keys().map(String::as_str),
                    );
                    self.error(names::unknown_connection(
                        &connection.name,
                        connection.span,
                        suggestion,
                    ));
                }
                (
                    Some(connection.name.clone()),
                    self.check(path, &Ty::String, "in a URL"),
                )
            }
        };
        let options = self.fields_by_name(&call.options, "`http` option", &HTTP_OPTIONS);
        let headers = options
            .get("headers")
            .map(|field| self.header_fields(&field.value))
            .unwrap_or_default();
        let query_value = Ty::union(vec![Ty::String, Ty::Int, Ty::Float, Ty::Bool, Ty::Json]);
        let query = match options.get("query").map(|field| &field.value) {
            Some(ast::Expr {
                kind: ast::ExprKind::Record(fields),
                ..
            }) => fields
                .iter()
                .map(|field| {
                    (
                        field.name.name.clone(),
                        self.check(&field.value, &query_value, "in a query"),
                    )
                })
                .collect(),
            Some(other) => {
                let found = self.infer(other);
                self.error(diag::mismatched_in(
                    "a query is written as a record literal",
                    &Ty::map(Ty::String),
                    &found.ty,
                    other.span,
                ));
                Vec::new()
            }
            None => Vec::new(),
        };
        if let (Some(json), Some(body)) = (options.get("json"), options.get("body")) {
            let (first, second) = if json.span.start < body.span.start {
                (json, body)
            } else {
                (body, json)
            };
            self.error(diag::conflicting_options(
                &first.name.name,
                &second.name.name,
                second.name.span,
                first.name.span,
            ));
        }
        let body = if let Some(field) = options.get("json") {
            Some(ir::Body::Json(self.check(
                &field.value,
                &Ty::Json,
                "in a request body",
            )))
        } else {
            options.get("body").map(|field| {
                ir::Body::Text(self.check(&field.value, &Ty::String, "in a request body"))
            })
        };
        let auth = options
            .get("auth")
            .map(|field| self.auth_form(&field.value));
        let timeout_ms = options
            .get("timeout")
            .and_then(|field| self.const_duration(&field.value, "a timeout"));
        let retry = options
            .get("retry")
            .and_then(|field| self.retry_policy(&field.value));
        let expect = match options.get("expect").map(|field| &field.value) {
            Some(ast::Expr {
                kind: ast::ExprKind::List(items),
                ..
            }) => items
                .iter()
                .filter_map(|item| self.const_int(item, "an expected status"))
                .collect(),
            Some(value) => self
                .const_int(value, "an expected status")
                .into_iter()
                .collect(),
            None => Vec::new(),
        };
        let response = match &call.response {
            Some(ty) => self.lower_type(ty),
            None => Ty::Json,
        };
        let _ = header_value;
        let result = Ty::record(vec![
            field("status", Ty::Int, false),
            field("headers", Ty::map(Ty::String), false),
            field("body", response.clone(), false),
        ]);
        (
            ir::HttpRequest {
                method: call.method.name.clone(),
                connection,
                url,
                headers,
                query,
                body,
                auth,
                timeout_ms,
                retry,
                expect,
                response,
            },
            result,
        )
    }
}

fn ends_run(kind: &ast::StmtKind) -> bool {
    matches!(kind, ast::StmtKind::Return(_) | ast::StmtKind::Fail(_))
}

/// The options of a correlated `await`, checked.
struct AwaitOptions {
    timeout: Option<ir::Expr>,
    verify: Option<ir::Expr>,
    lookback: Option<ir::Expr>,
}
