//! Project rules that look at more than one expression: cron strings and time
//! zones (through `cron`), `match` exhaustiveness and unreachable arms, recursion
//! among functions, and webhook paths claimed by two workflows.

use super::Checker;
use super::diagnostics as diag;
use crate::cron;
use crate::diagnostic::{FileId, Span};
use crate::ir;
use crate::resolve::diagnostics as names;
use crate::syntax::ast;
use crate::ty::{LitTy, Ty};
use std::collections::BTreeMap;

impl Checker<'_> {
    pub(super) fn check_cron(&mut self, expr: &ast::StrLit) {
        if let Err(error) = cron::parse(&expr.value) {
            // The string's contents start one byte after its opening quote.
            let start = expr.span.start as usize + 1 + error.offset;
            let span = if error.offset + error.len <= expr.value.len()
                && expr.value.len() + 2 == expr.span.len()
            {
                Span::new(start, start + error.len.max(1))
            } else {
                expr.span
            };
            let mut diagnostic = diag::invalid_cron(&error.message, span);
            if let Some(help) = error.help {
                diagnostic = diagnostic.with_help(help);
            }
            self.error(diagnostic);
        }
    }

    pub(super) fn check_time_zone(&mut self, tz: &ast::StrLit) {
        if !cron::is_valid_time_zone(&tz.value) {
            let mut diagnostic = diag::unknown_time_zone(&tz.value, tz.span);
            if let Some(suggestion) = cron::suggest_time_zone(&tz.value) {
                diagnostic = diagnostic.with_help(format!("did you mean `{suggestion}`?"));
            }
            self.error(diagnostic);
        }
    }

    /// Exhaustiveness of a `match` and unreachable arms. Literal unions, `bool` and
    /// literal types are finite: every value needs an arm. Other types need `_` or a
    /// binding.
    pub(super) fn check_coverage(
        &mut self,
        scrutinee: &Ty,
        patterns: &[&ast::Pattern],
        span: Span,
    ) {
        let values = self.finite_values(scrutinee);
        let mut covered: Vec<LitTy> = Vec::new();
        let mut covered_null = false;
        let mut all = false;
        for pattern in patterns {
            if all {
                self.error(diag::unreachable_arm(pattern.span));
                continue;
            }
            let mut atoms: Vec<&ast::Pattern> = Vec::new();
            flatten(pattern, &mut atoms);
            let mut new = false;
            for atom in atoms {
                match &atom.kind {
                    ast::PatternKind::Wildcard
                    | ast::PatternKind::Binding(_)
                    | ast::PatternKind::Error => {
                        all = true;
                        new = true;
                    }
                    ast::PatternKind::Literal(literal) => {
                        let value = match literal {
                            ast::Literal::String(value) => Some(LitTy::String(value.clone())),
                            ast::Literal::Int(value) => Some(LitTy::Int(*value)),
                            ast::Literal::Bool(value) => Some(LitTy::Bool(*value)),
                            _ => None,
                        };
                        match value {
                            Some(value) if !covered.contains(&value) => {
                                covered.push(value);
                                new = true;
                            }
                            Some(_) => {}
                            None if matches!(literal, ast::Literal::Null) && !covered_null => {
                                covered_null = true;
                                new = true;
                            }
                            None => new = !matches!(literal, ast::Literal::Null),
                        }
                    }
                    ast::PatternKind::Or(_) => new = true,
                }
            }
            if !new {
                self.error(diag::unreachable_arm(pattern.span));
            }
        }
        if all {
            return;
        }
        match values {
            Some((values, nullable)) => {
                let mut missing: Vec<String> = values
                    .iter()
                    .filter(|value| !covered.contains(value))
                    .map(|value| {
                        Ty::Lit {
                            value: value.clone(),
                        }
                        .to_string()
                    })
                    .collect();
                if nullable && !covered_null {
                    missing.push("null".to_string());
                }
                if !missing.is_empty() {
                    self.error(diag::non_exhaustive_match(&missing.join(", "), span));
                }
            }
            None => {
                if !matches!(self.resolve_ref(scrutinee), Ty::Error) {
                    self.error(diag::non_exhaustive_match(
                        &format!("every value of `{scrutinee}`"),
                        span,
                    ));
                }
            }
        }
    }

    /// The values of a finite type, and whether `null` is one of them.
    fn finite_values(&self, ty: &Ty) -> Option<(Vec<LitTy>, bool)> {
        let mut values = Vec::new();
        let mut nullable = false;
        let members = match self.resolve(ty) {
            Ty::Union { members } => members,
            other => vec![other],
        };
        for member in members {
            match self.resolve(&member) {
                Ty::Lit { value } => values.push(value),
                Ty::Bool => values.extend([LitTy::Bool(true), LitTy::Bool(false)]),
                Ty::Null => nullable = true,
                Ty::Union { .. } => {
                    let (inner, inner_null) = self.finite_values(&member)?;
                    values.extend(inner);
                    nullable |= inner_null;
                }
                _ => return None,
            }
        }
        Some((values, nullable))
    }

    /// Functions may not call themselves, directly or through others.
    pub(super) fn check_recursion(&mut self) {
        let names: BTreeMap<u32, String> = self
            .functions
            .iter()
            .map(|(name, signature)| (signature.index, name.clone()))
            .collect();
        let calls = self.fn_calls.clone();
        let mut reported = std::collections::BTreeSet::new();
        for (caller, callee, file, span) in &calls {
            // Is `caller` reachable from `callee`?
            let mut stack = vec![(*callee, vec![*caller, *callee])];
            let mut seen = std::collections::BTreeSet::new();
            while let Some((node, path)) = stack.pop() {
                if node == *caller {
                    if reported.insert(*caller) {
                        let chain: Vec<String> = path
                            .iter()
                            .filter_map(|index| names.get(index).cloned())
                            .collect();
                        let name = names.get(caller).cloned().unwrap_or_default();
                        self.diagnostics.push(crate::FileDiagnostic {
                            file: *file,
                            diagnostic: names::recursive_function(&name, *span, &chain),
                        });
                    }
                    break;
                }
                if !seen.insert(node) {
                    continue;
                }
                for (from, to, _, _) in calls.iter().filter(|call| call.0 == node) {
                    let _ = from;
                    let mut next = path.clone();
                    next.push(*to);
                    stack.push((*to, next));
                }
            }
        }
    }

    /// One method and path, one workflow: triggers and `await webhook` claims.
    pub(super) fn check_webhook_claims(&mut self, workflows: &[(ir::Workflow, FileId)]) {
        let mut claims: BTreeMap<(String, String), (FileId, Span, String)> = BTreeMap::new();
        for (workflow, file) in workflows {
            let Some(decl) = self.workflow_decl(*file, &workflow.name) else {
                continue;
            };
            let mut found: Vec<(String, String, Span)> = Vec::new();
            for trigger in &decl.triggers {
                if let ast::TriggerKind::Webhook { method, path, .. } = &trigger.kind {
                    found.push((method.name.clone(), path.value.clone(), path.span));
                }
            }
            collect_await_webhooks(&decl.body, &mut found);
            for (method, path, span) in found {
                let key = (method.clone(), path.clone());
                match claims.get(&key) {
                    Some((first_file, first_span, owner))
                        if *owner != workflow.name || *first_span != span =>
                    {
                        if *owner == workflow.name {
                            continue;
                        }
                        let other = (*first_file != *file).then_some(*first_file);
                        self.diagnostics.push(crate::FileDiagnostic {
                            file: *file,
                            diagnostic: diag::webhook_claimed_twice(
                                &method,
                                &path,
                                span,
                                (other, *first_span),
                            ),
                        });
                    }
                    Some(_) => {}
                    None => {
                        claims.insert(key, (*file, span, workflow.name.clone()));
                    }
                }
            }
        }
    }

    pub(super) fn workflow_decl(&self, file: FileId, name: &str) -> Option<&ast::Workflow> {
        let files = self.files;
        files
            .get(file.0 as usize)?
            .module
            .items
            .iter()
            .find_map(|item| match &item.kind {
                ast::ItemKind::Workflow(decl) if decl.name.name == name => Some(decl),
                _ => None,
            })
    }
}

fn flatten<'p>(pattern: &'p ast::Pattern, out: &mut Vec<&'p ast::Pattern>) {
    match &pattern.kind {
        ast::PatternKind::Or(alternatives) => {
            for alternative in alternatives {
                flatten(alternative, out);
            }
        }
        _ => out.push(pattern),
    }
}

fn collect_await_webhooks(stmts: &[ast::Stmt], out: &mut Vec<(String, String, Span)>) {
    for stmt in stmts {
        collect_in(stmt, out);
    }
}

fn collect_in(stmt: &ast::Stmt, out: &mut Vec<(String, String, Span)>) {
    match &stmt.kind {
        ast::StmtKind::Step {
            action: ast::StepAction::AwaitWebhook { method, path, .. },
            ..
        } => {
            out.push((method.name.clone(), path.value.clone(), path.span));
        }
        ast::StmtKind::If {
            then, otherwise, ..
        } => {
            collect_await_webhooks(&then.stmts, out);
            if let Some(otherwise) = otherwise {
                collect_in(otherwise, out);
            }
        }
        ast::StmtKind::Block(block) => collect_await_webhooks(&block.stmts, out),
        ast::StmtKind::Match { arms, .. } => arms.iter().for_each(|arm| collect_in(&arm.body, out)),
        ast::StmtKind::For(each) => collect_await_webhooks(&each.body.stmts, out),
        ast::StmtKind::Let {
            value: ast::LetValue::For(each, _),
            ..
        } => collect_await_webhooks(&each.body.stmts, out),
        ast::StmtKind::Parallel { branches } => {
            branches.iter().for_each(|branch| collect_in(branch, out))
        }
        ast::StmtKind::Try { body, handler, .. } => {
            collect_await_webhooks(&body.stmts, out);
            collect_await_webhooks(&handler.stmts, out);
        }
        _ => {}
    }
}
