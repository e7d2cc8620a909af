//! Code actions: "did you mean" fixes, missing `match` arms, a timeout for an `await`.
//!
//! Fixes of diagnostics come from the diagnostics themselves where the checker
//! could say what to write (`Diagnostic::suggestions`); the missing arms of a
//! `match` are computed here from the scrutinee's type, because where they go and
//! how they are indented is a question about the text. A timeout is offered for
//! every wait under the cursor that has none, with or without a diagnostic.

use super::{ActionKind, CodeAction, Edit};
use crate::check::diagnostics::{AWAIT_WITHOUT_TIMEOUT, NON_EXHAUSTIVE_MATCH};
use crate::syntax::ast;
use crate::ty::{LitTy, Ty};
use crate::{Analysis, FileId, Span};

/// The fixes and edits offered for `range`: those of the diagnostics it touches,
/// and a timeout for a wait under it.
pub fn code_actions(analysis: &Analysis, file: FileId, range: Span) -> Vec<CodeAction> {
    let Some(source) = analysis.file(file) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for diagnostic in analysis.diagnostics_of(file) {
        if !overlaps(diagnostic.span(), range) {
            continue;
        }
        let single = diagnostic.suggestions.len() == 1;
        for suggestion in &diagnostic.suggestions {
            out.push(CodeAction {
                title: suggestion.message.clone(),
                kind: ActionKind::QuickFix,
                fixes: Some(diagnostic.code),
                edits: vec![Edit {
                    file,
                    span: suggestion.span,
                    text: suggestion.replacement.clone(),
                }],
                preferred: single,
            });
        }
        if diagnostic.code == NON_EXHAUSTIVE_MATCH
            && let Some(action) = missing_arms(analysis, file, diagnostic.span())
        {
            out.push(action);
        }
    }
    let mut stmts = Vec::new();
    for item in &source.module.items {
        match &item.kind {
            ast::ItemKind::Workflow(workflow) => collect(&workflow.body, &mut stmts),
            ast::ItemKind::Test(test) => collect(&test.body.stmts, &mut stmts),
            _ => {}
        }
    }
    for stmt in stmts {
        if overlaps(stmt.span, range)
            && let Some(mut action) = add_timeout(&source.text, file, stmt)
        {
            // A handle without a timeout is an error the action fixes.
            let fixes = analysis.diagnostics_of(file).any(|diagnostic| {
                diagnostic.code == AWAIT_WITHOUT_TIMEOUT && overlaps(diagnostic.span(), stmt.span)
            });
            if fixes {
                action.fixes = Some(AWAIT_WITHOUT_TIMEOUT);
                action.preferred = true;
            }
            out.push(action);
        }
    }
    out
}

/// Whether two spans share a position (an empty range touching a span counts).
fn overlaps(span: Span, range: Span) -> bool {
    span.start <= range.end && range.start <= span.end
}

/// Every statement of a body, nested ones included, outer ones first.
fn collect<'a>(stmts: &'a [ast::Stmt], out: &mut Vec<&'a ast::Stmt>) {
    for stmt in stmts {
        out.push(stmt);
        match &stmt.kind {
            ast::StmtKind::If {
                then, otherwise, ..
            } => {
                collect(&then.stmts, out);
                if let Some(otherwise) = otherwise {
                    collect(std::slice::from_ref(otherwise.as_ref()), out);
                }
            }
            ast::StmtKind::Block(block) => collect(&block.stmts, out),
            ast::StmtKind::Match { arms, .. } => {
                for arm in arms {
                    collect(std::slice::from_ref(arm.body.as_ref()), out);
                }
            }
            ast::StmtKind::For(each) => collect(&each.body.stmts, out),
            ast::StmtKind::Let {
                value: ast::LetValue::For(each, _),
                ..
            } => collect(&each.body.stmts, out),
            ast::StmtKind::Parallel { branches } => collect(branches, out),
            ast::StmtKind::Try { body, handler, .. } => {
                collect(&body.stmts, out);
                collect(&handler.stmts, out);
            }
            _ => {}
        }
    }
}

/// The timeout an added `(timeout: …)` starts with, for the user to adjust.
const TIMEOUT: &str = "1h";

fn has_timeout(args: &[ast::Arg]) -> bool {
    args.iter()
        .any(|arg| arg.name.as_ref().is_some_and(|name| name.name == "timeout"))
}

/// Adds `timeout` to an `await event`/`await webhook` step, or to the
/// `callback(…)`/`approval(…)` of a `let`, when it has none.
fn add_timeout(text: &str, file: FileId, stmt: &ast::Stmt) -> Option<CodeAction> {
    let (span, insert, title) = match &stmt.kind {
        ast::StmtKind::Step {
            action:
                ast::StepAction::AwaitEvent {
                    filter, options, ..
                }
                | ast::StepAction::AwaitWebhook {
                    filter, options, ..
                },
            ..
        } => {
            if has_timeout(options) {
                return None;
            }
            let edit = match options.first() {
                Some(first) => (
                    Span::at(first.span.start as usize),
                    format!("timeout: {TIMEOUT}, "),
                ),
                None if !matches!(filter.kind, ast::ExprKind::Error) => (
                    Span::at(filter.span.end as usize),
                    format!(" (timeout: {TIMEOUT})"),
                ),
                None => return None,
            };
            (edit.0, edit.1, "add a timeout to this `await`")
        }
        ast::StmtKind::Let {
            value:
                ast::LetValue::Callback { args, span, .. } | ast::LetValue::Approval { args, span },
            ..
        } => {
            if has_timeout(args) {
                return None;
            }
            let open = text.get(span.range())?.find('(')?;
            let at = span.start as usize + open + 1;
            let insert = if args.is_empty() {
                format!("timeout: {TIMEOUT}")
            } else {
                format!("timeout: {TIMEOUT}, ")
            };
            (Span::at(at), insert, "add a timeout to this handle")
        }
        _ => return None,
    };
    Some(CodeAction {
        title: title.to_string(),
        kind: ActionKind::QuickFix,
        fixes: None,
        edits: vec![Edit {
            file,
            span,
            text: insert,
        }],
        preferred: false,
    })
}

/// A `match` of a file: its scrutinee, its arms' patterns and bodies' spans, and
/// whether it is a statement.
struct MatchAt<'a> {
    span: Span,
    scrutinee: &'a ast::Expr,
    patterns: Vec<&'a ast::Pattern>,
    bodies: Vec<Span>,
    statement: bool,
}

/// Adds an arm for each value of the scrutinee's type that no arm covers, before
/// the closing brace, indented like the other arms.
fn missing_arms(analysis: &Analysis, file: FileId, span: Span) -> Option<CodeAction> {
    let source = analysis.file(file)?;
    let text = source.text.as_str();
    let found = find_match(&source.module, span)?;
    let scrutinee_ty = analysis
        .info
        .types
        .iter()
        .find(|typed| typed.file == file && typed.span == found.scrutinee.span)
        .map(|typed| typed.ty.clone())?;
    let (values, nullable) = finite_values(&analysis.program.types, &scrutinee_ty);
    let mut covered: Vec<LitTy> = Vec::new();
    let mut covered_null = false;
    let mut catch_all = false;
    for pattern in &found.patterns {
        covers(pattern, &mut covered, &mut covered_null, &mut catch_all);
    }
    if catch_all {
        return None;
    }
    let mut missing: Vec<String> = values
        .iter()
        .filter(|value| !covered.contains(value))
        .map(literal)
        .collect();
    if nullable && !covered_null {
        missing.push("null".to_string());
    }
    if values.is_empty() && !nullable {
        missing.push("_".to_string());
    }
    if missing.is_empty() {
        return None;
    }
    let body = if found.statement {
        "fail \"not handled yet\"".to_string()
    } else {
        // An expression needs a value of the match's type: the first arm's body is
        // one, and the user edits it from there.
        let first = found.bodies.first()?;
        text.get(first.range())?.to_string()
    };
    let close = found.span.end.checked_sub(1)? as usize;
    if text.get(close..close + 1) != Some("}") {
        return None;
    }
    let line_start = text[..close].rfind('\n').map_or(0, |at| at + 1);
    let match_line = text[..found.span.start as usize]
        .rfind('\n')
        .map_or(0, |at| at + 1);
    let indent = match found.patterns.first() {
        Some(pattern) => indentation(text, pattern.span.start as usize),
        None => format!("{}  ", indentation(text, match_line)),
    };
    let closing_alone = text[line_start..close].trim().is_empty() && line_start > match_line;
    let mut insert = String::new();
    if !closing_alone {
        insert.push('\n');
    }
    for value in &missing {
        insert.push_str(&format!("{indent}{value} => {body},\n"));
    }
    let at = if closing_alone { line_start } else { close };
    if !closing_alone {
        insert.push_str(&indentation(text, match_line));
    }
    let mut edits = Vec::new();
    // An arm after the last one could read as its continuation (`return` takes the
    // next arm's pattern as its value): a comma ends the last arm first.
    if let Some(last) = found.bodies.last()
        && !text
            .get(last.end as usize..)
            .is_some_and(|rest| rest.trim_start().starts_with(','))
    {
        edits.push(Edit {
            file,
            span: Span::at(last.end as usize),
            text: ",".to_string(),
        });
    }
    edits.push(Edit {
        file,
        span: Span::at(at),
        text: insert,
    });
    Some(CodeAction {
        title: if missing.len() == 1 {
            "add the missing `match` arm".to_string()
        } else {
            format!("add the {} missing `match` arms", missing.len())
        },
        kind: ActionKind::QuickFix,
        fixes: Some(NON_EXHAUSTIVE_MATCH),
        edits,
        preferred: true,
    })
}

/// The whitespace at the start of the line holding `offset`.
fn indentation(text: &str, offset: usize) -> String {
    let start = text
        .get(..offset)
        .and_then(|head| head.rfind('\n'))
        .map_or(0, |at| at + 1);
    text.get(start..)
        .unwrap_or("")
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

fn covers(pattern: &ast::Pattern, covered: &mut Vec<LitTy>, null: &mut bool, all: &mut bool) {
    match &pattern.kind {
        ast::PatternKind::Wildcard | ast::PatternKind::Binding(_) => *all = true,
        ast::PatternKind::Literal(literal) => match literal {
            ast::Literal::Null => *null = true,
            ast::Literal::Bool(value) => covered.push(LitTy::Bool(*value)),
            ast::Literal::Int(value) => covered.push(LitTy::Int(*value)),
            ast::Literal::String(value) => covered.push(LitTy::String(value.clone())),
            _ => {}
        },
        ast::PatternKind::Or(alternatives) => {
            for alternative in alternatives {
                covers(alternative, covered, null, all);
            }
        }
        ast::PatternKind::Error => {}
    }
}

/// The literal values of a finite type, and whether it admits `null`. An infinite
/// type has no values listed.
pub(super) fn finite_values(types: &crate::ty::TypeTable, ty: &Ty) -> (Vec<LitTy>, bool) {
    let mut values = Vec::new();
    let mut nullable = false;
    let mut pending = vec![ty.clone()];
    let mut steps = 0;
    while let Some(ty) = pending.pop() {
        steps += 1;
        if steps > 256 {
            break;
        }
        match ty {
            Ty::Named { name } => match types.get(&name) {
                Some(definition) => pending.push(definition.clone()),
                None => return (Vec::new(), false),
            },
            Ty::Union { members } => pending.extend(members),
            Ty::Null => nullable = true,
            Ty::Lit { value } => values.push(value),
            Ty::Bool => {
                values.push(LitTy::Bool(true));
                values.push(LitTy::Bool(false));
            }
            _ => return (Vec::new(), nullable),
        }
    }
    values.sort();
    values.dedup();
    (values, nullable)
}

/// A literal as Flow source.
pub(super) fn literal(value: &LitTy) -> String {
    match value {
        LitTy::Bool(value) => value.to_string(),
        LitTy::Int(value) => value.to_string(),
        LitTy::String(value) => {
            let mut out = String::from("\"");
            for c in value.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '$' => out.push_str("\\$"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\0' => out.push_str("\\0"),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
    }
}

/// The `match` statement or expression whose span is `span`.
fn find_match(module: &ast::Module, span: Span) -> Option<MatchAt<'_>> {
    let mut found = None;
    for item in &module.items {
        if !(item.span.start <= span.start && span.end <= item.span.end) {
            continue;
        }
        match &item.kind {
            ast::ItemKind::Workflow(workflow) => {
                for stmt in &workflow.body {
                    match_in_stmt(stmt, span, &mut found);
                }
            }
            ast::ItemKind::Test(test) => {
                for stmt in &test.body.stmts {
                    match_in_stmt(stmt, span, &mut found);
                }
            }
            ast::ItemKind::Fn(function) => match_in_expr(&function.body, span, &mut found),
            _ => {}
        }
    }
    found
}

fn match_in_stmt<'a>(stmt: &'a ast::Stmt, span: Span, found: &mut Option<MatchAt<'a>>) {
    if found.is_some() || !(stmt.span.start <= span.start && span.end <= stmt.span.end) {
        return;
    }
    match &stmt.kind {
        ast::StmtKind::Match { scrutinee, arms } => {
            if stmt.span == span {
                *found = Some(MatchAt {
                    span,
                    scrutinee,
                    patterns: arms.iter().map(|arm| &arm.pattern).collect(),
                    bodies: arms.iter().map(|arm| arm.body.span).collect(),
                    statement: true,
                });
                return;
            }
            match_in_expr(scrutinee, span, found);
            for arm in arms {
                match_in_stmt(&arm.body, span, found);
            }
        }
        ast::StmtKind::If {
            cond,
            then,
            otherwise,
        } => {
            match_in_expr(cond, span, found);
            for inner in &then.stmts {
                match_in_stmt(inner, span, found);
            }
            if let Some(otherwise) = otherwise {
                match_in_stmt(otherwise, span, found);
            }
        }
        ast::StmtKind::Block(block) => {
            for inner in &block.stmts {
                match_in_stmt(inner, span, found);
            }
        }
        ast::StmtKind::For(each) => {
            for inner in &each.body.stmts {
                match_in_stmt(inner, span, found);
            }
        }
        ast::StmtKind::Parallel { branches } => {
            for inner in branches {
                match_in_stmt(inner, span, found);
            }
        }
        ast::StmtKind::Try { body, handler, .. } => {
            for inner in body.stmts.iter().chain(&handler.stmts) {
                match_in_stmt(inner, span, found);
            }
        }
        ast::StmtKind::Let { value, .. } => match value {
            ast::LetValue::Expr(expr) => match_in_expr(expr, span, found),
            ast::LetValue::For(each, _) => {
                for inner in &each.body.stmts {
                    match_in_stmt(inner, span, found);
                }
            }
            _ => {}
        },
        ast::StmtKind::Return(Some(expr))
        | ast::StmtKind::Fail(expr)
        | ast::StmtKind::Yield(expr)
        | ast::StmtKind::Emit { payload: expr, .. } => match_in_expr(expr, span, found),
        _ => {}
    }
}

fn match_in_expr<'a>(expr: &'a ast::Expr, span: Span, found: &mut Option<MatchAt<'a>>) {
    if found.is_some() || !(expr.span.start <= span.start && span.end <= expr.span.end) {
        return;
    }
    match &expr.kind {
        ast::ExprKind::Match { scrutinee, arms } => {
            if expr.span == span {
                *found = Some(MatchAt {
                    span,
                    scrutinee,
                    patterns: arms.iter().map(|(pattern, _)| pattern).collect(),
                    bodies: arms.iter().map(|(_, body)| body.span).collect(),
                    statement: false,
                });
                return;
            }
            match_in_expr(scrutinee, span, found);
            for (_, body) in arms {
                match_in_expr(body, span, found);
            }
        }
        ast::ExprKind::If {
            cond,
            then,
            otherwise,
        } => {
            for inner in [cond, then, otherwise] {
                match_in_expr(inner, span, found);
            }
        }
        ast::ExprKind::Binary { lhs, rhs, .. } => {
            match_in_expr(lhs, span, found);
            match_in_expr(rhs, span, found);
        }
        ast::ExprKind::Unary { operand, .. } => match_in_expr(operand, span, found),
        ast::ExprKind::Paren(inner) | ast::ExprKind::As { value: inner, .. } => {
            match_in_expr(inner, span, found);
        }
        ast::ExprKind::Call { callee, args } => {
            match_in_expr(callee, span, found);
            for arg in args {
                match_in_expr(&arg.value, span, found);
            }
        }
        ast::ExprKind::Lambda { body, .. } => match_in_expr(body, span, found),
        ast::ExprKind::List(items) => {
            for item in items {
                match_in_expr(item, span, found);
            }
        }
        ast::ExprKind::Record(fields) | ast::ExprKind::Tagged { fields, .. } => {
            for field in fields {
                match_in_expr(&field.value, span, found);
            }
        }
        ast::ExprKind::Field { base, .. } => match_in_expr(base, span, found),
        ast::ExprKind::Index { base, index } => {
            match_in_expr(base, span, found);
            match_in_expr(index, span, found);
        }
        _ => {}
    }
}
