//! What kind of place the cursor is at, told from the tokens around it.
//!
//! Completion and signature help are asked while the user types, so the text is
//! usually broken: `payment.` has no field yet, `step x = http ` no method. The
//! parser recovers with `Error` nodes that say little about what was being written,
//! so these queries read the tokens before the cursor instead (the lexer never
//! fails either), and use the tree and the checker's facts only for what the tokens
//! cannot say: which names are in scope and what their types are.

use crate::syntax::ast;
use crate::syntax::lex;
use crate::syntax::token::Token;
use crate::ty::{Ty, TypeTable};
use crate::{Analysis, FileId, Span};

/// The tokens of a file around a cursor.
pub(super) struct Cursor<'a> {
    pub text: &'a str,
    /// The cursor, moved back to a character boundary and clamped to the text.
    pub offset: usize,
    /// The tokens wholly before the name being typed (if any), with their spans.
    pub before: Vec<(Token, Span)>,
    /// The part of a name already typed before the cursor.
    pub prefix: &'a str,
    /// Whether the cursor is inside string text or a comment.
    pub quiet: bool,
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str, offset: u32) -> Cursor<'a> {
        let mut offset = (offset as usize).min(text.len());
        while offset > 0 && !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let lexed = lex(text);
        let count = lexed
            .spans
            .partition_point(|span| (span.start as usize) < offset);
        let mut before: Vec<(Token, Span)> = lexed
            .tokens
            .iter()
            .copied()
            .zip(lexed.spans.iter().copied())
            .take(count)
            .collect();
        let mut prefix = "";
        let mut quiet = false;
        if let Some(&(token, span)) = before.last()
            && span.end as usize >= offset
        {
            if token == Token::Ident || token.is_keyword() {
                prefix = text.get(span.start as usize..offset).unwrap_or("");
                before.pop();
            } else if span.end as usize > offset {
                // Inside a number, a string's text or a multi-character operator.
                quiet = true;
            }
        }
        quiet = quiet || in_string(&before) || in_comment(text, &before, offset);
        Cursor {
            text,
            offset,
            before,
            prefix,
            quiet,
        }
    }

    /// The text of a token.
    pub fn slice(&self, span: Span) -> &'a str {
        self.text.get(span.range()).unwrap_or("")
    }

    /// The token `back` places before the name being typed (0 is the last).
    pub fn back(&self, back: usize) -> Option<Token> {
        let index = self.before.len().checked_sub(back + 1)?;
        self.before.get(index).map(|(token, _)| *token)
    }

    pub fn back_span(&self, back: usize) -> Option<Span> {
        let index = self.before.len().checked_sub(back + 1)?;
        self.before.get(index).map(|(_, span)| *span)
    }

    /// The text of the token `back` places before the name being typed.
    pub fn back_text(&self, back: usize) -> &'a str {
        self.back_span(back).map_or("", |span| self.slice(span))
    }

    /// The tokens before index `end` of `before`, nearest first, each with its
    /// index and its bracket depth relative to `end` (0: the same level). The walk
    /// ends with the innermost bracket left open before `end`, at depth 0.
    pub fn walk_back(&self, end: usize) -> impl Iterator<Item = (usize, Token, usize)> + '_ {
        let mut depth = 0usize;
        let mut done = false;
        (0..end.min(self.before.len()))
            .rev()
            .map_while(move |index| {
                if done {
                    return None;
                }
                let token = self.before[index].0;
                let at = depth;
                match token {
                    Token::RBrace | Token::RParen | Token::RBracket => depth += 1,
                    Token::LBrace | Token::LParen | Token::CallParen | Token::LBracket => {
                        if depth == 0 {
                            done = true;
                        } else {
                            depth -= 1;
                        }
                    }
                    _ => {}
                }
                Some((index, token, at))
            })
    }

    /// Indexes into `before` of the brackets still open at the cursor, outermost
    /// first (`{`, `(`, `[` and `${`).
    pub fn open_brackets(&self) -> Vec<usize> {
        let mut stack = Vec::new();
        for (index, (token, _)) in self.before.iter().enumerate() {
            match token {
                Token::LBrace
                | Token::LParen
                | Token::CallParen
                | Token::LBracket
                | Token::InterpOpen => stack.push(index),
                Token::RBrace | Token::RParen | Token::RBracket | Token::InterpClose => {
                    stack.pop();
                }
                _ => {}
            }
        }
        stack
    }

    /// The keyword of the top-level declaration the cursor is in: the last
    /// declaration keyword outside every bracket.
    pub fn item_keyword(&self) -> Option<Token> {
        let mut depth = 0usize;
        let mut found = None;
        for (token, _) in &self.before {
            match token {
                Token::LBrace | Token::LParen | Token::CallParen | Token::LBracket => {
                    depth += 1;
                }
                Token::RBrace | Token::RParen | Token::RBracket => {
                    depth = depth.saturating_sub(1);
                }
                Token::Workflow
                | Token::Fn
                | Token::Type
                | Token::Event
                | Token::Connection
                | Token::Test
                | Token::Import
                    if depth == 0 =>
                {
                    found = Some(*token);
                }
                _ => {}
            }
        }
        found
    }

    /// Whether a newline separates the name being typed from the token before it.
    pub fn on_new_line(&self) -> bool {
        let from = self.back_span(0).map_or(0, |span| span.end as usize);
        let to = self.offset - self.prefix.len();
        self.text
            .get(from..to)
            .is_some_and(|gap| gap.contains('\n'))
    }
}

/// Whether the innermost open frame at the end of `tokens` is a string.
fn in_string(tokens: &[(Token, Span)]) -> bool {
    let mut frames: Vec<bool> = Vec::new();
    for (token, _) in tokens {
        match token {
            Token::StrStart => frames.push(true),
            Token::InterpOpen => frames.push(false),
            Token::StrEnd | Token::InterpClose => {
                frames.pop();
            }
            _ => {}
        }
    }
    frames.last().copied().unwrap_or(false)
}

/// Whether `offset` is inside a comment: in the stretch between the last token and
/// the cursor, after a `//` on the cursor's line or in an unclosed `/*`.
fn in_comment(text: &str, before: &[(Token, Span)], offset: usize) -> bool {
    let from = before.last().map_or(0, |(_, span)| span.end as usize);
    let from = from.min(offset);
    let Some(gap) = text.get(from..offset) else {
        return false;
    };
    comment_ranges(gap)
        .iter()
        .any(|&(start, end, closed)| start < gap.len() && (end > gap.len() || !closed))
}

/// The comments in a stretch of text between tokens, as byte ranges of it:
/// `(start, end, closed)`, where a line comment is closed by its newline.
pub(super) fn comment_ranges(gap: &str) -> Vec<(usize, usize, bool)> {
    let bytes = gap.as_bytes();
    let mut out = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'/' && bytes.get(index + 1) == Some(&b'/') {
            let end = gap[index..].find('\n').map(|at| index + at);
            out.push((index, end.unwrap_or(bytes.len()), end.is_some()));
            index = end.unwrap_or(bytes.len());
        } else if bytes[index] == b'/' && bytes.get(index + 1) == Some(&b'*') {
            let start = index;
            let mut depth = 1usize;
            index += 2;
            while index < bytes.len() && depth > 0 {
                if bytes[index] == b'/' && bytes.get(index + 1) == Some(&b'*') {
                    depth += 1;
                    index += 2;
                } else if bytes[index] == b'*' && bytes.get(index + 1) == Some(&b'/') {
                    depth -= 1;
                    index += 2;
                } else {
                    index += 1;
                }
            }
            out.push((start, index, depth == 0));
        } else {
            index += 1;
        }
    }
    out
}

/// A name visible at the cursor, with its kind and type.
#[derive(Clone, Debug)]
pub(super) struct Local {
    pub name: String,
    pub kind: &'static str,
    pub ty: Ty,
}

/// The top-level item of `file` whose span holds `offset` (or the last starting
/// before it, when recovery cut the item short).
pub(super) fn item_at(module: &ast::Module, offset: u32) -> Option<&ast::Item> {
    module.items.iter().rfind(|item| item.span.start <= offset)
}

/// The names bound where `offset` is: parameters, earlier steps and lets of the
/// enclosing blocks, loop variables, `catch` errors, `as` bindings of a predicate.
pub(super) fn locals(analysis: &Analysis, file: FileId, offset: u32) -> Vec<Local> {
    let Some(source) = analysis.file(file) else {
        return Vec::new();
    };
    let mut names: Vec<ast::Ident> = Vec::new();
    match item_at(&source.module, offset).map(|item| &item.kind) {
        Some(ast::ItemKind::Workflow(workflow)) => {
            names.extend(workflow.params.iter().map(|param| param.name.clone()));
            visible_in(&workflow.body, offset, &mut names);
        }
        Some(ast::ItemKind::Fn(function)) => {
            names.extend(function.params.iter().map(|param| param.name.clone()));
            expr_bindings(&function.body, offset, &mut names);
        }
        Some(ast::ItemKind::Test(test)) => visible_in(&test.body.stmts, offset, &mut names),
        _ => {}
    }
    let mut out: Vec<Local> = Vec::new();
    for ident in names.into_iter().rev() {
        if ident.name == "_" || out.iter().any(|local| local.name == ident.name) {
            continue;
        }
        // A handle is defined twice at its name (its await's payload, then the
        // handle); the last definition is the binding's own.
        let definition = analysis
            .info
            .definitions
            .iter()
            .rev()
            .find(|definition| definition.file == file && definition.span == ident.span);
        out.push(Local {
            kind: definition.map_or("let", |definition| definition.kind),
            ty: definition.map_or(Ty::Json, |definition| definition.ty.clone()),
            name: ident.name,
        });
    }
    out.reverse();
    out
}

fn visible_in(stmts: &[ast::Stmt], offset: u32, names: &mut Vec<ast::Ident>) {
    for stmt in stmts {
        if stmt.span.end <= offset {
            match &stmt.kind {
                ast::StmtKind::Step { name, .. } | ast::StmtKind::Let { name, .. } => {
                    names.push(name.clone());
                }
                // A single-statement parallel branch binds into the enclosing block.
                ast::StmtKind::Parallel { branches } => {
                    for branch in branches {
                        if let ast::StmtKind::Step { name, .. } | ast::StmtKind::Let { name, .. } =
                            &branch.kind
                        {
                            names.push(name.clone());
                        }
                    }
                }
                _ => {}
            }
            continue;
        }
        if stmt.span.start > offset {
            break;
        }
        inside_stmt(stmt, offset, names);
        break;
    }
}

fn contains(span: Span, offset: u32) -> bool {
    span.start <= offset && offset <= span.end
}

fn inside_stmt(stmt: &ast::Stmt, offset: u32, names: &mut Vec<ast::Ident>) {
    match &stmt.kind {
        ast::StmtKind::If {
            then, otherwise, ..
        } => {
            if contains(then.span, offset) {
                visible_in(&then.stmts, offset, names);
            } else if let Some(otherwise) = otherwise {
                inside_stmt(otherwise, offset, names);
            }
        }
        ast::StmtKind::Block(block) => visible_in(&block.stmts, offset, names),
        ast::StmtKind::Match { arms, .. } => {
            for arm in arms {
                if contains(arm.span, offset) {
                    pattern_bindings(&arm.pattern, names);
                    inside_stmt(&arm.body, offset, names);
                }
            }
        }
        ast::StmtKind::For(each) => for_bindings(each, offset, names),
        ast::StmtKind::Let {
            value: ast::LetValue::For(each, _),
            ..
        } => for_bindings(each, offset, names),
        ast::StmtKind::Parallel { branches } => {
            for branch in branches {
                if contains(branch.span, offset) {
                    inside_stmt(branch, offset, names);
                }
            }
        }
        ast::StmtKind::Try {
            body,
            error,
            handler,
        } => {
            if contains(body.span, offset) {
                visible_in(&body.stmts, offset, names);
            } else if contains(handler.span, offset) {
                names.push(error.clone());
                visible_in(&handler.stmts, offset, names);
            }
        }
        ast::StmtKind::Step { action, .. } => match action {
            ast::StepAction::AwaitEvent {
                binding, filter, ..
            }
            | ast::StepAction::AwaitWebhook {
                binding, filter, ..
            } if filter.span.start <= offset => names.push(binding.clone()),
            _ => {}
        },
        _ => {}
    }
}

fn for_bindings(each: &ast::ForLoop, offset: u32, names: &mut Vec<ast::Ident>) {
    if contains(each.body.span, offset) {
        names.push(each.var.clone());
        visible_in(&each.body.stmts, offset, names);
    }
}

fn pattern_bindings(pattern: &ast::Pattern, names: &mut Vec<ast::Ident>) {
    match &pattern.kind {
        ast::PatternKind::Binding(ident) => names.push(ident.clone()),
        ast::PatternKind::Or(alternatives) => {
            for alternative in alternatives {
                pattern_bindings(alternative, names);
            }
        }
        _ => {}
    }
}

/// Lambda parameters and `match` bindings around `offset` in an expression.
fn expr_bindings(expr: &ast::Expr, offset: u32, names: &mut Vec<ast::Ident>) {
    if !contains(expr.span, offset) {
        return;
    }
    match &expr.kind {
        ast::ExprKind::Lambda { params, body } => {
            names.extend(params.iter().cloned());
            expr_bindings(body, offset, names);
        }
        ast::ExprKind::Match { scrutinee, arms } => {
            expr_bindings(scrutinee, offset, names);
            for (pattern, body) in arms {
                if pattern.span.start <= offset && contains(body.span, offset) {
                    pattern_bindings(pattern, names);
                    expr_bindings(body, offset, names);
                }
            }
        }
        ast::ExprKind::Call { callee, args } => {
            expr_bindings(callee, offset, names);
            for arg in args {
                expr_bindings(&arg.value, offset, names);
            }
        }
        ast::ExprKind::Field { base, .. } => expr_bindings(base, offset, names),
        ast::ExprKind::Index { base, index } => {
            expr_bindings(base, offset, names);
            expr_bindings(index, offset, names);
        }
        ast::ExprKind::Unary { operand, .. } => expr_bindings(operand, offset, names),
        ast::ExprKind::Binary { lhs, rhs, .. } => {
            expr_bindings(lhs, offset, names);
            expr_bindings(rhs, offset, names);
        }
        ast::ExprKind::If {
            cond,
            then,
            otherwise,
        } => {
            expr_bindings(cond, offset, names);
            expr_bindings(then, offset, names);
            expr_bindings(otherwise, offset, names);
        }
        ast::ExprKind::List(items) => {
            for item in items {
                expr_bindings(item, offset, names);
            }
        }
        ast::ExprKind::Record(fields) | ast::ExprKind::Tagged { fields, .. } => {
            for field in fields {
                expr_bindings(&field.value, offset, names);
            }
        }
        ast::ExprKind::Paren(inner) | ast::ExprKind::As { value: inner, .. } => {
            expr_bindings(inner, offset, names);
        }
        ast::ExprKind::Template(parts) => {
            for part in parts {
                if let ast::TemplatePart::Expr(inner) = part {
                    expr_bindings(inner, offset, names);
                }
            }
        }
        _ => {}
    }
}

/// A type with named types replaced by their definitions and `null` dropped from
/// unions, as far as field access sees it; `optional` tells whether `null` was there.
pub(super) fn resolve_for_fields(types: &TypeTable, ty: &Ty) -> Ty {
    let mut ty = ty.clone();
    for _ in 0..16 {
        match ty {
            Ty::Named { ref name } => match types.get(name) {
                Some(definition) => ty = definition.clone(),
                None => return Ty::Error,
            },
            Ty::Union { ref members } => {
                let rest: Vec<Ty> = members
                    .iter()
                    .filter(|member| **member != Ty::Null)
                    .cloned()
                    .collect();
                if rest.len() == members.len() {
                    return ty;
                }
                ty = Ty::union(rest);
            }
            _ => return ty,
        }
    }
    ty
}
