//! The formatter: one canonical layout for every construct of Flow, so that diffs
//! show changes of meaning and nobody argues about spaces.
//!
//! [`format`] parses the file, turns the syntax tree into a [`doc::Doc`] (text,
//! places where a line may break, groups) and prints that in [`WIDTH`] columns. The
//! tree has no comments, so they are woven back in by position: the lexer records
//! every comment's span, and a cursor over them hands each comment to the first
//! node printed after it (a comment on its own line stays on its own line above
//! that node) or to the node it follows on the same line (a trailing comment). Every
//! comment is printed exactly once and in source order, whatever the tree around it
//! looks like. Blank lines between declarations, statements and fields are kept,
//! runs of them collapse to one. Numbers, durations and string text are printed as
//! the source spells them, so `1.5e3` and `"\u{e9}"` survive.
//!
//! Newlines carry no meaning in Flow, so moving tokens between lines cannot
//! change the tree, with three things to respect. The call paren is
//! whitespace-sensitive (`f(x)` against `for x in xs (concurrency: 5)`), so the
//! printer glues or spaces each `(` as the tree has it. Optional commas are not in
//! the tree; the printer writes one wherever leaving it out would join two
//! elements (a bare `return` before the next `match` arm, a field named `in`).
//! And `syntax::balance` pairs a `}` that starts a line by indentation, so every
//! such `}` stands at the indentation of its `{` line (which is why a broken `if`
//! head puts its `{` on a line of its own). Layout rules are listed in
//! `grammar/SPEC.md`, "Canonical layout".

mod doc;

use crate::Diagnostic;
use crate::diagnostic::Span;
use crate::syntax::ast::*;
use crate::syntax::{self, Lexed, Token};
use doc::{Doc, concat, group, group_broken, indent, text};

/// The column lines should end by. A line can be longer when nothing in it may
/// break: a long string, a long name.
pub const WIDTH: usize = 100;

/// Formats one file. Refuses (with the syntax diagnostics) a file that does not
/// parse, since moving text around a broken tree could lose some of it.
pub fn format(source: &str) -> Result<String, Vec<Diagnostic>> {
    let out = layout(source)?;
    // A safety net for a layout the parser would read differently (brackets are
    // paired by indentation where they look unbalanced, see `syntax::balance`):
    // a file is never rewritten into one that does not parse. The tests check
    // that [`layout`] never needs it for the fixtures, the examples and
    // generated programs.
    let reparsed = syntax::parse(&out);
    if reparsed.diagnostics.iter().any(Diagnostic::is_error) {
        return Ok(source.to_string());
    }
    Ok(out)
}

/// [`format`] without its safety net: the layout as printed, even should it not
/// parse. For tests, which must see such a failure rather than the unchanged
/// source `format` falls back to.
pub fn layout(source: &str) -> Result<String, Vec<Diagnostic>> {
    let parsed = syntax::parse(source);
    let errors: Vec<Diagnostic> = parsed
        .diagnostics
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let lexed = syntax::lex(source);
    let mut printer = Printer {
        source,
        lexed: &lexed,
        next_comment: 0,
    };
    let document = printer.module(&parsed.module);
    let mut out = doc::print(&document, WIDTH);
    let kept = out.trim_end().len();
    out.truncate(kept);
    if !out.is_empty() {
        out.push('\n');
    }
    Ok(out)
}

/// Walks the tree in source order, building the document and handing out comments.
struct Printer<'src> {
    source: &'src str,
    lexed: &'src Lexed,
    /// The first comment not printed yet.
    next_comment: usize,
}

/// The brackets of a list, how its elements are separated, and whether a flat
/// one has spaces inside its brackets (`{ a: 1 }`).
#[derive(Clone, Copy)]
struct Shape {
    open: &'static str,
    close: &'static str,
    separator: Separator,
    padded: bool,
}

/// Parameters and arguments: `(a, b)`.
const PARENS: Shape = Shape {
    open: "(",
    close: ")",
    separator: Separator::Comma,
    padded: false,
};

/// `[a, b]`.
const LIST: Shape = Shape {
    open: "[",
    close: "]",
    separator: Separator::Comma,
    padded: false,
};

/// `{ a: int, b: string }`.
const RECORD_TYPE: Shape = Shape {
    open: "{",
    close: "}",
    separator: Separator::Comma,
    padded: true,
};

/// Records, tagged records and options: `{ a: 1, b: 2 }`, broken one field a line.
const FIELD_BLOCK: Shape = Shape {
    open: "{",
    close: "}",
    separator: Separator::Newline,
    padded: true,
};

/// How the elements of a bracketed list are separated when it is broken.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Separator {
    /// `,` after every element, the last one too (arguments, lists, type fields).
    Comma,
    /// One field a line and no comma (field blocks: records, options, connections).
    Newline,
}

impl<'src> Printer<'src> {
    // ------------------------------------------------------------ comments

    fn comment(&self, index: usize) -> Span {
        self.lexed.comments[index]
    }

    fn slice(&self, span: Span) -> &'src str {
        self.source
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }

    /// A comment as written, without the spaces a line comment may end with.
    fn comment_text(&self, span: Span) -> Doc {
        Doc::Verbatim(self.slice(span).trim_end().to_string())
    }

    fn is_line_comment(&self, span: Span) -> bool {
        self.slice(span).starts_with("//")
    }

    /// Whether the source between two offsets holds an empty line: two newlines
    /// with nothing but spaces between them.
    fn blank_between(&self, from: u32, to: u32) -> bool {
        let gap = self.source.get(from as usize..to as usize).unwrap_or("");
        let lines: Vec<&str> = gap.split('\n').collect();
        // The first and last pieces are the ends of the lines `from` and `to` are on.
        lines.len() > 2
            && lines[1..lines.len() - 1]
                .iter()
                .any(|line| line.trim().is_empty())
    }

    /// Whether the source between two offsets holds a newline.
    fn newline_between(&self, from: u32, to: u32) -> bool {
        let gap = self.source.get(from as usize..to as usize).unwrap_or("");
        gap.contains('\n')
    }

    /// Where the next comment starts, if it starts before `before`.
    fn pending_comment_before(&self, before: u32) -> Option<Span> {
        let span = *self.lexed.comments.get(self.next_comment)?;
        (span.start < before).then_some(span)
    }

    /// The comments before `pos` that are not printed yet, each on its own line
    /// (a block comment followed by code on its line stays in front of that code),
    /// with the blank lines between them kept when `blanks` is set.
    fn leading(&mut self, pos: u32, blanks: bool) -> Doc {
        let mut parts = Vec::new();
        while let Some(span) = self.pending_comment_before(pos) {
            self.next_comment += 1;
            let next = self
                .pending_comment_before(pos)
                .map_or(pos, |next| next.start);
            parts.push(self.comment_text(span));
            // A block comment of several lines also gets a line of its own: code
            // after it would stand on a line indented by the comment's last line,
            // and `syntax::balance` reads a bracket's indentation.
            let own_line = self.is_line_comment(span)
                || self.slice(span).contains('\n')
                || self.newline_between(span.end, next.max(span.end));
            if own_line {
                parts.push(Doc::HardLine);
                if blanks && self.blank_between(span.end, next) {
                    parts.push(Doc::HardLine);
                }
            } else {
                parts.push(text(" "));
            }
        }
        concat(parts)
    }

    /// Comments that were inside a node but had no node after them to go to, and
    /// comments after `end` on the same line: printed after the node. A line
    /// comment among them breaks the groups around it.
    fn trailing(&mut self, end: u32) -> Doc {
        let mut parts = Vec::new();
        let mut last_line_comment = false;
        let mut reach = end;
        while let Some(span) = self.lexed.comments.get(self.next_comment).copied() {
            let inside = span.start < end;
            let gap = self
                .source
                .get(reach as usize..span.start as usize)
                .unwrap_or("\n");
            let same_line =
                span.start >= reach && gap.chars().all(|c| matches!(c, ' ' | '\t' | ','));
            // After a line comment, only comments from inside the node follow: the
            // rest start a line of their own, and belong to what comes next.
            if !inside && (!same_line || last_line_comment) {
                break;
            }
            self.next_comment += 1;
            if last_line_comment {
                parts.push(Doc::HardLine);
            } else {
                parts.push(text(" "));
            }
            parts.push(self.comment_text(span));
            last_line_comment = self.is_line_comment(span);
            reach = reach.max(span.end);
        }
        if last_line_comment {
            parts.push(Doc::BreakParent);
        }
        concat(parts)
    }

    /// The comments before the keyword `token` that introduces the node starting
    /// at `node` (`where`, `then`, `else`): printed above the keyword, each on its
    /// own line, rather than between the keyword and the node.
    fn before_keyword(&mut self, node: u32, token: Token) -> Doc {
        match self.token_before(node, token) {
            Some(keyword) => self.leading(keyword.start, false),
            None => Doc::Nil,
        }
    }

    /// Where the element list of a node closes: the start of the last token that
    /// ends by `end` (the node's closing bracket).
    fn closing(&self, end: u32) -> u32 {
        let spans = &self.lexed.spans;
        let index = spans.partition_point(|span| span.end <= end);
        index
            .checked_sub(1)
            .and_then(|index| spans.get(index))
            .map_or(end, |span| span.start)
    }

    /// The first token of kind `token` starting at or after `from`.
    fn token_after(&self, from: u32, token: Token) -> Option<Span> {
        let spans = &self.lexed.spans;
        let first = spans.partition_point(|span| span.start < from);
        (first..spans.len())
            .find(|&index| self.lexed.tokens[index] == token)
            .map(|index| spans[index])
    }

    /// The last token of kind `token` ending at or before `to`.
    fn token_before(&self, to: u32, token: Token) -> Option<Span> {
        let spans = &self.lexed.spans;
        let end = spans.partition_point(|span| span.end <= to);
        (0..end)
            .rev()
            .find(|&index| self.lexed.tokens[index] == token)
            .map(|index| spans[index])
    }

    // ------------------------------------------------------------ lists

    /// Elements one a line between `open` and `close` (a block, a broken field
    /// block), with their comments and the blank lines between them. `close` is
    /// the offset of the closing bracket; the comments before it that no element
    /// took print above it.
    fn vertical<T>(
        &mut self,
        elements: &[T],
        span_of: impl Fn(&T) -> Span,
        mut print: impl FnMut(&mut Self, &T) -> Doc,
        close: u32,
    ) -> Doc {
        let mut parts = Vec::new();
        let mut previous_end: Option<u32> = None;
        for element in elements {
            let span = span_of(element);
            if let Some(previous) = previous_end {
                parts.push(Doc::HardLine);
                let next = self
                    .pending_comment_before(span.start)
                    .map_or(span.start, |comment| comment.start);
                if self.blank_between(previous, next) {
                    parts.push(Doc::HardLine);
                }
            }
            parts.push(self.leading(span.start, true));
            parts.push(print(self, element));
            parts.push(self.trailing(span.end));
            previous_end = Some(self.printed_end(span.end));
        }
        parts.push(self.dangling(previous_end, close));
        concat(parts)
    }

    /// The end of what was printed for a node ending at `end`: past its trailing
    /// comments.
    fn printed_end(&self, end: u32) -> u32 {
        self.next_comment
            .checked_sub(1)
            .map(|index| self.comment(index).end)
            .filter(|&comment_end| comment_end > end)
            .unwrap_or(end)
    }

    /// The comments left before a closing bracket at `close`, each on its own line.
    fn dangling(&mut self, previous_end: Option<u32>, close: u32) -> Doc {
        let mut parts = Vec::new();
        let mut previous_end = previous_end;
        while let Some(span) = self.pending_comment_before(close) {
            self.next_comment += 1;
            if let Some(previous) = previous_end {
                parts.push(Doc::HardLine);
                if self.blank_between(previous, span.start) {
                    parts.push(Doc::HardLine);
                }
            }
            parts.push(self.comment_text(span));
            previous_end = Some(span.end);
        }
        concat(parts)
    }

    /// A bracketed block of elements one a line: `{`, the elements indented, `}`;
    /// `{}` when it holds nothing.
    fn block_of<T>(
        &mut self,
        elements: &[T],
        span_of: impl Fn(&T) -> Span,
        print: impl FnMut(&mut Self, &T) -> Doc,
        close: u32,
    ) -> Doc {
        if elements.is_empty() && self.pending_comment_before(close).is_none() {
            return text("{}");
        }
        let body = self.vertical(elements, span_of, print, close);
        concat([
            text("{"),
            indent(concat([Doc::HardLine, body])),
            Doc::HardLine,
            text("}"),
        ])
    }

    /// A bracketed list that stays on one line when it fits and breaks one element
    /// a line otherwise, or when `broken`.
    fn bracketed<T>(
        &mut self,
        shape: Shape,
        elements: &[T],
        span_of: impl Fn(&T) -> Span,
        mut print: impl FnMut(&mut Self, &T) -> Doc,
        close: u32,
        broken: bool,
    ) -> Doc {
        let Shape {
            open,
            close: close_text,
            separator,
            padded,
        } = shape;
        if elements.is_empty() && self.pending_comment_before(close).is_none() {
            return text(format!("{open}{close_text}"));
        }
        let line = if padded { Doc::Line } else { Doc::SoftLine };
        let mut inner = vec![line.clone()];
        let mut previous_end: Option<u32> = None;
        let count = elements.len();
        for (index, element) in elements.iter().enumerate() {
            let span = span_of(element);
            if let Some(previous) = previous_end {
                inner.push(Doc::Line);
                let next = self
                    .pending_comment_before(span.start)
                    .map_or(span.start, |comment| comment.start);
                if separator == Separator::Newline && self.blank_between(previous, next) {
                    inner.push(Doc::SoftLine);
                }
            }
            inner.push(self.leading(span.start, separator == Separator::Newline));
            inner.push(print(self, element));
            let last = index + 1 == count;
            inner.push(match (separator, last) {
                (Separator::Comma, false) => text(","),
                (Separator::Comma, true) => Doc::IfBreak(","),
                // A field named `in` or `as` would read as an operator on the
                // value before it: the comma stays.
                (Separator::Newline, false)
                    if elements.get(index + 1).is_some_and(|next| {
                        starts_with_operator_word(self.source, span_of(next).start)
                    }) =>
                {
                    text(",")
                }
                (Separator::Newline, false) => Doc::IfFlat(","),
                (Separator::Newline, true) => Doc::Nil,
            });
            inner.push(self.trailing(span.end));
            previous_end = Some(self.printed_end(span.end));
        }
        let dangling = self.dangling(previous_end, close);
        let has_dangling = !matches!(&dangling, Doc::Concat(parts) if parts.is_empty());
        if has_dangling {
            inner.push(dangling);
            inner.push(Doc::BreakParent);
        }
        group_broken(
            concat([text(open), indent(concat(inner)), line, text(close_text)]),
            broken || has_dangling,
        )
    }

    /// Whether the author broke the line right after an opening bracket at `open`
    /// (before the first element, or the close when there is none): such a record,
    /// field block or list stays broken.
    fn written_broken(&self, open: u32, first: u32) -> bool {
        self.newline_between(open, first)
    }

    // ------------------------------------------------------------ declarations

    fn module(&mut self, module: &Module) -> Doc {
        let end = self.source.len() as u32;
        // Comments after the last item print as dangling ones, before the end.
        self.vertical(&module.items, |item| item.span, Self::item, end)
    }

    fn item(&mut self, item: &Item) -> Doc {
        match &item.kind {
            ItemKind::Import(import) => concat([text("import "), self.str_lit(&import.path)]),
            ItemKind::Type(decl) => concat([
                text("type "),
                self.ident(&decl.name),
                text(" = "),
                self.ty(&decl.ty),
            ]),
            ItemKind::Event(decl) => concat([
                text("event "),
                self.ident(&decl.name),
                text(" = "),
                self.ty(&decl.ty),
            ]),
            ItemKind::Connection(connection) => {
                let name = self.ident(&connection.name);
                let close = self.closing(item.span.end);
                let fields = self.block_of(&connection.fields, |f| f.span, Self::field, close);
                concat([text("connection "), name, text(" "), fields])
            }
            ItemKind::Fn(decl) => {
                let name = self.ident(&decl.name);
                let params = self.params(&decl.params, decl.name.span.end);
                let ret = self.ty(&decl.ret);
                let leading = self.leading(decl.body.span.start, false);
                // A record or list body opens on the line of the `=`; anything
                // else moves to the next line when it does not fit.
                let hugs = matches!(
                    decl.body.kind,
                    ExprKind::Record(_) | ExprKind::List(_) | ExprKind::Tagged { .. }
                );
                let body = self.expr(&decl.body);
                let body = if hugs {
                    concat([text(" "), leading, body])
                } else {
                    group(indent(concat([Doc::Line, leading, body])))
                };
                concat([
                    text("fn "),
                    name,
                    params,
                    text(" -> "),
                    ret,
                    text(" ="),
                    body,
                ])
            }
            ItemKind::Workflow(workflow) => self.workflow(workflow, item.span),
            ItemKind::Test(test) => {
                let name = self.str_lit(&test.name);
                let body = self.block(&test.body);
                concat([text("test "), name, text(" "), body])
            }
            ItemKind::Error => text(self.slice(item.span)),
        }
    }

    fn workflow(&mut self, workflow: &Workflow, span: Span) -> Doc {
        let name = self.ident(&workflow.name);
        let params = self.params(&workflow.params, workflow.name.span.end);
        let ret = match &workflow.ret {
            Some(ty) => concat([text(" -> "), self.ty(ty)]),
            None => Doc::Nil,
        };
        // Triggers, settings and statements print in the order they were written.
        enum Member<'a> {
            Trigger(&'a Trigger),
            Settings(&'a Settings),
            Stmt(&'a Stmt),
        }
        let mut members: Vec<(Span, Member<'_>)> = Vec::new();
        members.extend(
            workflow
                .triggers
                .iter()
                .map(|t| (t.span, Member::Trigger(t))),
        );
        members.extend(
            workflow
                .settings
                .iter()
                .map(|s| (s.span, Member::Settings(s))),
        );
        members.extend(workflow.body.iter().map(|s| (s.span, Member::Stmt(s))));
        members.sort_by_key(|(span, _)| span.start);
        let close = self.closing(span.end);
        let body = self.block_of(
            &members,
            |(span, _)| *span,
            |printer, (_, member)| match member {
                Member::Trigger(trigger) => printer.trigger(trigger),
                Member::Settings(settings) => {
                    let close = printer.closing(settings.span.end);
                    let fields = printer.block_of(&settings.fields, |f| f.span, Self::field, close);
                    concat([text("settings "), fields])
                }
                Member::Stmt(stmt) => printer.stmt(stmt),
            },
            close,
        );
        concat([text("workflow "), name, params, ret, text(" "), body])
    }

    /// `(a: T, b: U)` after a declaration's name, which ends at `after`.
    fn params(&mut self, params: &[Param], after: u32) -> Doc {
        let from = params.last().map_or(after, |last| last.span.end);
        let close = self
            .token_after(from, Token::RParen)
            .map_or(from, |span| span.start);
        self.bracketed(
            PARENS,
            params,
            |param| param.span,
            |printer, param| {
                concat([
                    printer.ident(&param.name),
                    text(": "),
                    printer.ty(&param.ty),
                ])
            },
            close,
            false,
        )
    }

    fn trigger(&mut self, trigger: &Trigger) -> Doc {
        match &trigger.kind {
            TriggerKind::Webhook {
                method,
                path,
                options,
            } => {
                let method = self.ident(method);
                let path_doc = self.str_lit(path);
                let options = if options.is_empty() {
                    Doc::Nil
                } else {
                    concat([
                        text(" "),
                        self.field_block(path.span.end, options, trigger.span.end),
                    ])
                };
                concat([text("on webhook "), method, text(" "), path_doc, options])
            }
            TriggerKind::Schedule { cron, tz } => {
                let cron = self.str_lit(cron);
                let tz = match tz {
                    Some(tz) => concat([text(" tz "), self.str_lit(tz)]),
                    None => Doc::Nil,
                };
                concat([text("on schedule "), cron, tz])
            }
            TriggerKind::Event { name } => concat([text("on event "), self.ident(name)]),
            TriggerKind::Manual => text("on manual"),
        }
    }

    /// `{ name: value, … }` where the `{` is the first one after `after` and the
    /// block ends by `end`: flat when it fits and was written flat, else one field
    /// a line.
    fn field_block(&mut self, after: u32, fields: &[Field], end: u32) -> Doc {
        let open = self
            .token_after(after, Token::LBrace)
            .map_or(after, |span| span.start);
        let close = match fields.last() {
            Some(last) => self
                .token_after(last.span.end, Token::RBrace)
                .map_or(end, |span| span.start),
            None => self
                .token_after(open + 1, Token::RBrace)
                .map_or(end, |span| span.start),
        };
        let first = fields.first().map_or(close, |field| field.span.start);
        let first = self
            .pending_comment_before(first)
            .map_or(first, |comment| comment.start);
        let broken = self.written_broken(open, first);
        self.bracketed(
            FIELD_BLOCK,
            fields,
            |field| field.span,
            Self::field,
            close,
            broken,
        )
    }

    fn field(&mut self, field: &Field) -> Doc {
        let name = self.field_name(&field.name);
        let value = self.expr(&field.value);
        concat([name, text(": "), value])
    }

    fn field_name(&mut self, name: &Ident) -> Doc {
        let leading = self.leading(name.span.start, false);
        concat([leading, text(self.slice(name.span))])
    }

    fn ident(&mut self, ident: &Ident) -> Doc {
        let leading = self.leading(ident.span.start, false);
        concat([leading, text(self.slice(ident.span))])
    }

    fn str_lit(&mut self, lit: &StrLit) -> Doc {
        let leading = self.leading(lit.span.start, false);
        concat([leading, text(self.slice(lit.span))])
    }

    // ------------------------------------------------------------ types

    fn ty(&mut self, ty: &Type) -> Doc {
        let leading = self.leading(ty.span.start, false);
        let body = match &ty.kind {
            TypeKind::Name(name) => self.ident(name),
            TypeKind::Literal(_) => text(squeeze(self.slice(ty.span))),
            TypeKind::List(element) => concat([text("["), self.ty(element), text("]")]),
            TypeKind::Record(fields) => {
                let close = self.closing(ty.span.end);
                let first = fields.first().map_or(close, |field| field.span.start);
                let first = self
                    .pending_comment_before(first)
                    .map_or(first, |comment| comment.start);
                let broken = self.written_broken(ty.span.start, first);
                self.bracketed(
                    RECORD_TYPE,
                    fields,
                    |field| field.span,
                    |printer, field| {
                        let name = printer.field_name(&field.name);
                        let optional = if field.optional { "?: " } else { ": " };
                        concat([name, text(optional), printer.ty(&field.ty)])
                    },
                    close,
                    broken,
                )
            }
            TypeKind::Optional(inner) => {
                // `(A | B)?` and `(T?)?` keep their parentheses: without them the
                // `?` would bind to the last member, or read as `??`.
                let needs_parens = matches!(inner.kind, TypeKind::Union(_) | TypeKind::Optional(_));
                let inner = self.ty(inner);
                if needs_parens {
                    concat([text("("), inner, text(")?")])
                } else {
                    concat([inner, text("?")])
                }
            }
            TypeKind::Union(members) => {
                let mut parts = Vec::new();
                for (index, member) in members.iter().enumerate() {
                    if index > 0 {
                        parts.push(text(" | "));
                    }
                    let nested = matches!(member.kind, TypeKind::Union(_));
                    let member = self.ty(member);
                    if nested {
                        parts.extend([text("("), member, text(")")]);
                    } else {
                        parts.push(member);
                    }
                }
                concat(parts)
            }
            TypeKind::Error => text(self.slice(ty.span)),
        };
        concat([leading, body])
    }

    // ------------------------------------------------------------ statements

    fn block(&mut self, block: &Block) -> Doc {
        let close = self.closing(block.span.end);
        self.block_of(&block.stmts, |stmt| stmt.span, Self::stmt, close)
    }

    fn stmt(&mut self, stmt: &Stmt) -> Doc {
        match &stmt.kind {
            StmtKind::Step { name, action } => {
                let name = self.ident(name);
                let action = self.step_action(action, stmt.span);
                concat([text("step "), name, text(" = "), action])
            }
            StmtKind::Let { name, ty, value } => {
                let name = self.ident(name);
                let ty = match ty {
                    Some(ty) => concat([text(": "), self.ty(ty)]),
                    None => Doc::Nil,
                };
                let value = self.let_value(value);
                concat([text("let "), name, ty, text(" = "), value])
            }
            StmtKind::Set { target, value } => concat([
                text("set "),
                self.expr(target),
                text(" = "),
                self.expr(value),
            ]),
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                let cond = self.head_expr(cond);
                let then = self.block(then);
                let otherwise = match otherwise {
                    Some(otherwise) => concat([text(" else "), self.stmt(otherwise)]),
                    None => Doc::Nil,
                };
                concat([text("if "), cond, then, otherwise])
            }
            StmtKind::Block(block) => self.block(block),
            StmtKind::Match { scrutinee, arms } => {
                let scrutinee = self.head_expr(scrutinee);
                let close = self.closing(stmt.span.end);
                // Commas between arms are optional, and dropped, except where the
                // next arm would read as more of this one: after a bare `return`
                // (`return` then `x => …` is `return x`), and before a negative
                // number (`fail m` then `-1 => …` is `fail m - 1`).
                let needs_comma: Vec<bool> = arms
                    .iter()
                    .enumerate()
                    .map(|(index, arm)| {
                        let next_negative = arms
                            .get(index + 1)
                            .is_some_and(|next| self.slice(next.pattern.span).starts_with('-'));
                        match &arm.body.kind {
                            StmtKind::Block(_) => false,
                            StmtKind::Return(None) => index + 1 < arms.len(),
                            _ => next_negative,
                        }
                    })
                    .collect();
                let arms_with_commas: Vec<(&MatchArm, bool)> =
                    arms.iter().zip(needs_comma).collect();
                let arms = self.block_of(
                    &arms_with_commas,
                    |(arm, _)| arm.span,
                    |printer, (arm, comma)| {
                        let pattern = printer.pattern(&arm.pattern);
                        let body = printer.stmt(&arm.body);
                        let comma = if *comma { text(",") } else { Doc::Nil };
                        concat([pattern, text(" => "), body, comma])
                    },
                    close,
                );
                concat([text("match "), scrutinee, arms])
            }
            StmtKind::For(for_loop) => self.for_loop(for_loop, stmt.span),
            StmtKind::Parallel { branches } => {
                let close = self.closing(stmt.span.end);
                let branches = self.block_of(branches, |branch| branch.span, Self::stmt, close);
                concat([text("parallel "), branches])
            }
            StmtKind::Try {
                body,
                error,
                handler,
            } => {
                let body = self.block(body);
                let error = self.ident(error);
                let handler = self.block(handler);
                concat([
                    text("try "),
                    body,
                    text(" catch "),
                    error,
                    text(" "),
                    handler,
                ])
            }
            StmtKind::Fail(message) => concat([text("fail "), self.expr(message)]),
            StmtKind::Return(value) => match value {
                Some(value) => concat([text("return "), self.expr(value)]),
                None => text("return"),
            },
            StmtKind::Emit { event, payload } => concat([
                text("emit "),
                self.ident(event),
                text(" "),
                self.expr(payload),
            ]),
            StmtKind::Yield(value) => concat([text("yield "), self.expr(value)]),
            StmtKind::Mock { request, response } => concat([
                text("mock "),
                self.http(request),
                text(" => "),
                self.expr(response),
            ]),
            StmtKind::Assert { cond, message } => {
                let cond = self.expr(cond);
                let message = match message {
                    Some(message) => concat([text(", "), self.expr(message)]),
                    None => Doc::Nil,
                };
                concat([text("assert "), cond, message])
            }
            StmtKind::Error => text(self.slice(stmt.span)),
        }
    }

    fn for_loop(&mut self, for_loop: &ForLoop, span: Span) -> Doc {
        let var = self.ident(&for_loop.var);
        let iter = self.head_expr(&for_loop.iter);
        let options = self.options(&for_loop.options, span.end);
        let body = self.block(&for_loop.body);
        concat([text("for "), var, text(" in "), iter, options, body])
    }

    /// `(name: value, …) ` after the head of a `for` (a group paren, spaced from
    /// the head), or nothing.
    fn options(&mut self, args: &[Arg], end: u32) -> Doc {
        if args.is_empty() {
            return Doc::Nil;
        }
        let close = args
            .last()
            .and_then(|last| self.token_after(last.span.end, Token::RParen))
            .map_or(end, |span| span.start);
        concat([self.args(args, close), text(" ")])
    }

    /// `(a, name: b)`. A lone record, list or lambda argument hugs the parentheses
    /// (`f({` … `})`) instead of breaking them.
    fn args(&mut self, args: &[Arg], close: u32) -> Doc {
        if let [arg] = args
            && arg.name.is_none()
            && matches!(
                arg.value.kind,
                ExprKind::Record(_) | ExprKind::List(_) | ExprKind::Lambda { .. }
            )
            && self.pending_comment_before(close).is_none()
        {
            // No comment stands before the `)`, so nothing can come between the
            // value and the parentheses.
            return concat([text("("), self.expr(&arg.value), text(")")]);
        }
        self.bracketed(PARENS, args, |arg| arg.span, Self::arg, close, false)
    }

    fn arg(&mut self, arg: &Arg) -> Doc {
        let name = match &arg.name {
            Some(name) => concat([self.ident(name), text(": ")]),
            None => Doc::Nil,
        };
        concat([name, self.expr(&arg.value)])
    }

    fn let_value(&mut self, value: &LetValue) -> Doc {
        match value {
            LetValue::Expr(expr) => self.expr(expr),
            LetValue::Callback { args, ty, span } => {
                let args_end = ty.as_ref().map_or(span.end, |ty| ty.span.start);
                let close = self
                    .token_before(args_end, Token::RParen)
                    .map_or(args_end, |span| span.start);
                let args = self.args(args, close);
                let ty = match ty {
                    Some(ty) => concat([text(" -> "), self.ty(ty)]),
                    None => Doc::Nil,
                };
                concat([text("callback"), args, ty])
            }
            LetValue::Approval { args, span } => {
                let close = self.closing(span.end);
                concat([text("approval"), self.args(args, close)])
            }
            LetValue::For(for_loop, span) => self.for_loop(for_loop, *span),
        }
    }

    fn step_action(&mut self, action: &StepAction, stmt_span: Span) -> Doc {
        match action {
            StepAction::Http(call) => self.http(call),
            StepAction::Call {
                workflow,
                args,
                span,
            } => {
                let workflow = self.ident(workflow);
                let close = self.closing(span.end);
                concat([text("call "), workflow, self.args(args, close)])
            }
            StepAction::Wait(duration) => concat([text("wait "), self.expr(duration)]),
            StepAction::WaitUntil(time) => concat([text("wait until "), self.expr(time)]),
            StepAction::Await(handle) => concat([text("await "), self.ident(handle)]),
            StepAction::AwaitEvent {
                event,
                binding,
                filter,
                options,
            } => {
                let event = self.ident(event);
                let binding = self.ident(binding);
                let head = concat([text("await event "), event, text(" as "), binding]);
                self.await_filter(head, filter, options, stmt_span)
            }
            StepAction::AwaitWebhook {
                method,
                path,
                binding,
                ty,
                filter,
                options,
            } => {
                let method = self.ident(method);
                let path = self.str_lit(path);
                let binding = self.ident(binding);
                let ty = match ty {
                    Some(ty) => concat([text(": "), self.ty(ty)]),
                    None => Doc::Nil,
                };
                let head = concat([
                    text("await webhook "),
                    method,
                    text(" "),
                    path,
                    text(" as "),
                    binding,
                    ty,
                ]);
                self.await_filter(head, filter, options, stmt_span)
            }
            StepAction::Error => text(self.slice(stmt_span)),
        }
    }

    /// `head where filter (options)`: on one line when it fits, else `where …` on
    /// the next line, and the options on a line of their own when that does not
    /// fit either.
    fn await_filter(&mut self, head: Doc, filter: &Expr, options: &[Arg], stmt: Span) -> Doc {
        let before_where = self.before_keyword(filter.span.start, Token::Where);
        let filter_doc = self.expr(filter);
        let options = if options.is_empty() {
            Doc::Nil
        } else {
            let close = options
                .last()
                .and_then(|last| self.token_after(last.span.end, Token::RParen))
                .map_or(stmt.end, |span| span.start);
            // The `(` must not touch the filter, or it would read as a call.
            concat([Doc::Line, self.args(options, close)])
        };
        group(concat([
            head,
            indent(concat([
                Doc::Line,
                before_where,
                group(concat([text("where "), filter_doc, options])),
            ])),
        ]))
    }

    fn http(&mut self, call: &HttpCall) -> Doc {
        let method = self.ident(&call.method);
        let has_options = !call.options.is_empty();
        // With options, the target is the head of a `{` (a computed URL can hold a
        // chain that breaks); `head_then` ends it with the space before the `{`.
        let (target, target_end) = match &call.target {
            HttpTarget::Url(url) if has_options => (self.head_expr(url), url.span.end),
            HttpTarget::Url(url) => (self.expr(url), url.span.end),
            HttpTarget::Connection { connection, path } => {
                let connection = self.ident(connection);
                let path_doc = self.expr(path);
                let space = if has_options { text(" ") } else { Doc::Nil };
                (
                    concat([connection, text(" "), path_doc, space]),
                    path.span.end,
                )
            }
        };
        let options_end = call
            .response
            .as_ref()
            .map_or(call.span.end, |ty| ty.span.start);
        let options = if has_options {
            self.field_block(target_end, &call.options, options_end)
        } else {
            Doc::Nil
        };
        let response = match &call.response {
            Some(ty) => concat([text(" -> "), self.ty(ty)]),
            None => Doc::Nil,
        };
        concat([text("http "), method, text(" "), target, options, response])
    }

    // ------------------------------------------------------------ patterns

    fn pattern(&mut self, pattern: &Pattern) -> Doc {
        let leading = self.leading(pattern.span.start, false);
        let body = match &pattern.kind {
            PatternKind::Or(alternatives) => {
                let mut parts = Vec::new();
                for (index, alternative) in alternatives.iter().enumerate() {
                    if index > 0 {
                        parts.push(text(" | "));
                    }
                    parts.push(self.pattern(alternative));
                }
                concat(parts)
            }
            PatternKind::Wildcard
            | PatternKind::Binding(_)
            | PatternKind::Literal(_)
            | PatternKind::Error => text(squeeze(self.slice(pattern.span))),
        };
        concat([leading, body])
    }

    // ------------------------------------------------------------ expressions

    fn expr(&mut self, expr: &Expr) -> Doc {
        let leading = self.leading(expr.span.start, false);
        let body = self.expr_body(expr);
        concat([leading, body])
    }

    fn expr_body(&mut self, expr: &Expr) -> Doc {
        match &expr.kind {
            ExprKind::Literal(_) | ExprKind::Error => text(self.slice(expr.span)),
            ExprKind::Template(parts) => self.template(expr.span, parts),
            ExprKind::Name(name) => self.ident(name),
            ExprKind::List(elements) => {
                let close = self.closing(expr.span.end);
                let first = elements.first().map_or(close, |element| element.span.start);
                let first = self
                    .pending_comment_before(first)
                    .map_or(first, |comment| comment.start);
                let broken = self.written_broken(expr.span.start, first);
                self.bracketed(
                    LIST,
                    elements,
                    |element| element.span,
                    Self::expr,
                    close,
                    broken,
                )
            }
            ExprKind::Record(fields) => self.field_block(expr.span.start, fields, expr.span.end),
            ExprKind::Tagged { tag, fields } => {
                let tag_doc = self.ident(tag);
                let block = self.field_block(tag.span.end, fields, expr.span.end);
                concat([tag_doc, text(" "), block])
            }
            ExprKind::Field {
                base,
                name,
                optional,
            } => {
                let base = self.expr(base);
                let dot = if *optional { "?." } else { "." };
                concat([base, text(dot), self.field_name(name)])
            }
            ExprKind::Index { base, index } => {
                let base = self.expr(base);
                let index = self.expr(index);
                concat([base, text("["), index, text("]")])
            }
            ExprKind::Call { callee, args } => {
                let callee = self.expr(callee);
                let close = self.closing(expr.span.end);
                concat([callee, self.args(args, close)])
            }
            ExprKind::Unary { op, operand } => concat([text(op.symbol()), self.expr(operand)]),
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs),
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                let cond = self.expr(cond);
                let before_then = self.before_keyword(then.span.start, Token::Then);
                let then = self.expr(then);
                let before_else = self.before_keyword(otherwise.span.start, Token::Else);
                let otherwise = self.expr(otherwise);
                group(concat([
                    text("if "),
                    cond,
                    indent(concat([
                        Doc::Line,
                        before_then,
                        text("then "),
                        then,
                        Doc::Line,
                        before_else,
                        text("else "),
                        otherwise,
                    ])),
                ]))
            }
            ExprKind::Match { scrutinee, arms } => {
                let scrutinee = self.head_expr(scrutinee);
                let close = self.closing(expr.span.end);
                let arms = self.block_of(
                    arms,
                    |(pattern, body)| pattern.span.to(body.span),
                    |printer, (pattern, body)| {
                        let pattern = printer.pattern(pattern);
                        let body = printer.expr(body);
                        concat([pattern, text(" => "), body, text(",")])
                    },
                    close,
                );
                concat([text("match "), scrutinee, arms])
            }
            ExprKind::Lambda { params, body } => {
                let params = match params.as_slice() {
                    [param] => self.ident(param),
                    _ => {
                        let mut parts = vec![text("(")];
                        for (index, param) in params.iter().enumerate() {
                            if index > 0 {
                                parts.push(text(", "));
                            }
                            parts.push(self.ident(param));
                        }
                        parts.push(text(")"));
                        concat(parts)
                    }
                };
                concat([params, text(" => "), self.expr(body)])
            }
            ExprKind::As { value, ty } => concat([self.expr(value), text(" as "), self.ty(ty)]),
            ExprKind::Paren(inner) => {
                let inner = self.expr(inner);
                let close = self.closing(expr.span.end);
                let comments = if self.pending_comment_before(close).is_some() {
                    concat([text(" "), self.leading(close, false)])
                } else {
                    Doc::Nil
                };
                concat([text("("), inner, comments, text(")")])
            }
        }
    }

    /// A binary operation. A chain of `&&`, `||` or `??` breaks before its
    /// operators when it does not fit; other operators never break.
    fn binary(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr) -> Doc {
        self.binary_then(op, lhs, rhs, Doc::Nil)
    }

    /// The expression in the head of an `if`, `match` or `for`, and the space
    /// before the `{` that follows it. When the head ends in a chain that breaks,
    /// the `{` goes on a line of its own at the head's indentation (`if a` /
    /// `    && b` / `{`): each `}` must stand at the indentation of its `{` line,
    /// which `syntax::balance` relies on to pair brackets.
    fn head_expr(&mut self, expr: &Expr) -> Doc {
        self.head_then(expr, String::new())
    }

    /// The head expression, then `closers` (the `)` of parentheses it is in) and
    /// the space before `{`. Follows the right edge of the expression down to a
    /// chain, which alone breaks onto indented lines.
    fn head_then(&mut self, expr: &Expr, closers: String) -> Doc {
        let leading = self.leading(expr.span.start, false);
        let body = match &expr.kind {
            ExprKind::Binary { op, lhs, rhs } if is_chain(*op) => {
                self.binary_then(*op, lhs, rhs, concat([text(closers), Doc::Line]))
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let lhs = self.expr(lhs);
                let rhs = self.head_then(rhs, closers);
                concat([lhs, text(format!(" {} ", op.symbol())), rhs])
            }
            ExprKind::Unary { op, operand } => {
                concat([text(op.symbol()), self.head_then(operand, closers)])
            }
            ExprKind::Paren(inner) if !self.comment_between(inner.span.end, expr.span.end) => {
                concat([text("("), self.head_then(inner, format!("){closers}"))])
            }
            _ => concat([self.expr_body(expr), text(closers), text(" ")]),
        };
        concat([leading, body])
    }

    /// Whether a comment starts between two offsets.
    fn comment_between(&self, from: u32, to: u32) -> bool {
        let comments = &self.lexed.comments;
        let first = comments.partition_point(|span| span.start < from);
        comments.get(first).is_some_and(|span| span.start < to)
    }

    /// A binary operation, then `end` (for a chain in a head, what comes before
    /// the block's `{`), inside the chain's group so that a broken chain breaks
    /// before `{` too. Only chains are given an `end`.
    fn binary_then(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr, end: Doc) -> Doc {
        if !is_chain(op) {
            let lhs = self.expr(lhs);
            let rhs = self.expr(rhs);
            return concat([lhs, text(format!(" {} ", op.symbol())), rhs, end]);
        }
        // Flatten the left-leaning (or, for `??`, right-leaning) chain of one
        // operator into its operands, in source order.
        let mut operands = Vec::new();
        collect_chain(op, lhs, &mut operands);
        collect_chain(op, rhs, &mut operands);
        let mut first = Doc::Nil;
        let mut rest = Vec::new();
        for (index, operand) in operands.into_iter().enumerate() {
            let operand = self.expr(operand);
            if index == 0 {
                first = operand;
            } else {
                rest.push(Doc::Line);
                rest.push(text(format!("{} ", op.symbol())));
                rest.push(operand);
            }
        }
        group(concat([first, indent(concat(rest)), end]))
    }

    /// A string with `${…}` parts: its text as written, its expressions formatted
    /// on one line. A template holding a comment is printed as written.
    fn template(&mut self, span: Span, parts: &[TemplatePart]) -> Doc {
        if self.pending_comment_before(span.end).is_some() {
            self.skip_comments_before(span.end);
            return text(self.slice(span));
        }
        let mut docs = Vec::new();
        let mut pos = span.start;
        for part in parts {
            let TemplatePart::Expr(expr) = part else {
                continue;
            };
            let open = self
                .token_before(expr.span.start, Token::InterpOpen)
                .filter(|open| open.start >= pos);
            let close = self
                .token_after(expr.span.end, Token::InterpClose)
                .filter(|close| close.end <= span.end);
            let (Some(open), Some(close)) = (open, close) else {
                // Spans not as expected: keep the whole string as written.
                return text(self.slice(span));
            };
            docs.push(text(
                self.slice(Span::new(pos as usize, open.start as usize)),
            ));
            docs.push(text("${"));
            docs.push(Doc::Flat(Box::new(self.expr(expr))));
            docs.push(text("}"));
            pos = close.end;
        }
        docs.push(text(self.slice(Span::new(pos as usize, span.end as usize))));
        concat(docs)
    }

    fn skip_comments_before(&mut self, end: u32) {
        while self.pending_comment_before(end).is_some() {
            self.next_comment += 1;
        }
    }
}

/// The operators whose chains break one operand a line.
fn is_chain(op: BinaryOp) -> bool {
    matches!(op, BinaryOp::And | BinaryOp::Or | BinaryOp::Coalesce)
}

fn collect_chain<'a>(op: BinaryOp, expr: &'a Expr, out: &mut Vec<&'a Expr>) {
    match &expr.kind {
        ExprKind::Binary {
            op: inner,
            lhs,
            rhs,
        } if *inner == op => {
            collect_chain(op, lhs, out);
            collect_chain(op, rhs, out);
        }
        _ => out.push(expr),
    }
}

/// Whether the text at `start` is the word `in` or `as`.
fn starts_with_operator_word(source: &str, start: u32) -> bool {
    let rest = source.get(start as usize..).unwrap_or("");
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    word == "in" || word == "as"
}

/// A literal as written, without the whitespace a `-` may have before its number.
fn squeeze(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}
