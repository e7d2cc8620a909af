//! Completion: keywords by context, fields after `.`, names in scope, step names,
//! stdlib functions, declarations and secret names.
//!
//! The cursor's context comes from the tokens before it (see `context.rs`), since
//! the text being typed rarely parses; what fits there comes from the trees of every
//! file (declarations), the checker's definitions (the types of names in scope) and
//! the standard library's table.

use super::context::{Cursor, Local, item_at, locals, resolve_for_fields};
use super::{CompletionItem, CompletionKind};
use crate::syntax::ast;
use crate::syntax::token::{HTTP_METHODS, Token};
use crate::ty::Ty;
use crate::{Analysis, FileId, stdlib};
use std::collections::BTreeSet;

/// What may be written at `offset`: every item that fits the cursor's context, for
/// the editor to filter by what is typed; nothing inside strings and comments.
pub fn completion(analysis: &Analysis, file: FileId, offset: u32) -> Vec<CompletionItem> {
    let Some(source) = analysis.file(file) else {
        return Vec::new();
    };
    let cursor = Cursor::new(&source.text, offset);
    if cursor.quiet {
        return Vec::new();
    }
    let mut out = Completions::default();
    let at = u32::try_from(cursor.offset).unwrap_or(u32::MAX);
    match context(&cursor) {
        Context::Nothing => {}
        Context::Field { base } => fields(analysis, file, at, &cursor, base, &mut out),
        Context::Keywords(words) => out.keywords(words),
        Context::HttpMethods => {
            for method in HTTP_METHODS {
                out.push(method, CompletionKind::Keyword, None, None);
            }
        }
        Context::Connections => declarations(analysis, Declared::Connection, &mut out),
        Context::Events => declarations(analysis, Declared::Event, &mut out),
        Context::Workflows => declarations(analysis, Declared::Workflow, &mut out),
        Context::StepAction => {
            out.keywords(&["http", "call", "wait", "await"]);
            for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                out.snippet(
                    &format!("http {method}"),
                    &format!("http {method} ${{1:connection}} \"${{2:/path}}\""),
                    "an HTTP request to a connection",
                );
            }
        }
        Context::Await => {
            out.keywords(&["event", "webhook"]);
            for local in locals(analysis, file, at) {
                if local.kind == "handle" {
                    out.local(&local);
                }
            }
        }
        Context::Type => {
            for name in BUILTIN_TYPES {
                out.push(name, CompletionKind::Type, None, None);
            }
            declarations(analysis, Declared::Type, &mut out);
        }
        Context::Item => out.keywords(ITEM_KEYWORDS),
        Context::Statement {
            header,
            in_test,
            collecting,
        } => {
            if collecting {
                out.keywords(&["yield"]);
            }
            out.keywords(STATEMENT_KEYWORDS);
            if header {
                out.keywords(&["on", "settings"]);
            }
            if in_test {
                out.keywords(&["mock", "assert"]);
            }
        }
        Context::Expression => expression(analysis, file, at, &cursor, &mut out),
        Context::Pattern { scrutinee } => {
            let typed = analysis
                .info
                .types
                .iter()
                .find(|typed| typed.file == file && typed.span == scrutinee);
            if let Some(typed) = typed {
                let (values, nullable) =
                    super::actions::finite_values(&analysis.program.types, &typed.ty);
                for value in &values {
                    let label = super::actions::literal(value);
                    out.push(
                        &label,
                        CompletionKind::Keyword,
                        Some(typed.ty.to_string()),
                        None,
                    );
                }
                if nullable {
                    out.push("null", CompletionKind::Keyword, None, None);
                }
            }
            out.push(
                "_",
                CompletionKind::Keyword,
                Some("any other value".to_string()),
                None,
            );
        }
        Context::Forms(names) => {
            for name in names {
                out.push(name, CompletionKind::Function, None, None);
            }
        }
        Context::Options(names) => {
            for name in names {
                out.push(name, CompletionKind::Field, None, None);
            }
        }
        Context::LetValue => {
            expression(analysis, file, at, &cursor, &mut out);
            out.keywords(&["callback", "approval", "for"]);
        }
    }
    out.items
}

/// Built-in type names, offered in type positions.
const BUILTIN_TYPES: &[&str] = &[
    "bool", "int", "float", "string", "duration", "time", "json", "secret",
];

const ITEM_KEYWORDS: &[&str] = &[
    "type",
    "event",
    "connection",
    "fn",
    "workflow",
    "import",
    "test",
];

const STATEMENT_KEYWORDS: &[&str] = &[
    "step", "let", "set", "if", "match", "for", "parallel", "try", "fail", "return", "emit",
];

const EXPRESSION_KEYWORDS: &[&str] = &["if", "match", "true", "false", "null"];

/// The fields of `webhook` (SPEC §9.6).
const WEBHOOK_FIELDS: &[(&str, &str)] = &[
    ("headers", "{ [string]: string }"),
    ("method", "string"),
    ("path", "string"),
    ("query", "{ [string]: string }"),
    ("remote_ip", "string"),
];

#[derive(Debug)]
enum Context {
    Nothing,
    /// After `.` or `?.`: the index into `before` of the token before the dot.
    Field {
        base: usize,
    },
    Keywords(&'static [&'static str]),
    HttpMethods,
    Connections,
    Events,
    Workflows,
    /// After `step name =`.
    StepAction,
    /// After `step name = await`.
    Await,
    Type,
    Item,
    Statement {
        header: bool,
        in_test: bool,
        /// Inside the body of a `let … = for`, where `yield` goes.
        collecting: bool,
    },
    Expression,
    /// After `let name =`: an expression, a handle or a collecting `for`.
    LetValue,
    /// The name of a field in a block of options.
    Options(&'static [&'static str]),
    /// The value of an option that takes one of a few built-in forms.
    Forms(&'static [&'static str]),
    /// A `match` arm's pattern; the span of the scrutinee.
    Pattern {
        scrutinee: crate::Span,
    },
}

/// The span of the scrutinee when the `{` at `brace` opens the arms of a `match`.
fn match_scrutinee(cursor: &Cursor, brace: usize) -> Option<crate::Span> {
    for (index, token, depth) in cursor.walk_back(brace) {
        match token {
            Token::LBrace | Token::LParen | Token::CallParen | Token::LBracket if depth == 0 => {
                return None;
            }
            Token::Match if depth == 0 => {
                let first = cursor.before.get(index + 1)?.1;
                let last = cursor.before.get(brace.checked_sub(1)?)?.1;
                return (index + 1 < brace).then(|| first.to(last));
            }
            // Tokens that cannot be in a scrutinee end the search.
            Token::Step
            | Token::Let
            | Token::If
            | Token::For
            | Token::Workflow
            | Token::FatArrow
            | Token::Eq
            | Token::Comma => return None,
            _ => {}
        }
    }
    None
}

/// Whether a pattern may start here: after the `{` of the arms, a `,`, or on a
/// new line after something that ends an arm.
fn pattern_position(cursor: &Cursor, last: Option<Token>) -> bool {
    match last {
        Some(Token::LBrace | Token::Comma) => true,
        Some(
            Token::Ident
            | Token::Int
            | Token::Float
            | Token::Duration
            | Token::StrEnd
            | Token::RParen
            | Token::RBracket
            | Token::RBrace
            | Token::True
            | Token::False
            | Token::Null
            | Token::Return,
        ) => cursor.on_new_line(),
        _ => false,
    }
}

// The option names the checker accepts in each block, and the built-in forms an
// option's value takes, are the checker's own lists (`check/decl.rs`).
use crate::check::decl::{
    AUTH_FORMS, CONNECTION_FIELDS, HTTP_OPTIONS, SETTINGS, VERIFY_FORMS, WEBHOOK_OPTIONS,
};
const RESPOND_FORMS: &[&str] = &["accepted", "wait"];
const RETRY_FORMS: &[&str] = &["exponential"];

/// What goes after `name:` in a block of options, when the option takes a
/// built-in form or a workflow's name.
fn option_value(cursor: &Cursor) -> Option<Context> {
    if cursor.back(0) != Some(Token::Colon) || cursor.back(1) != Some(Token::Ident) {
        return None;
    }
    let open = cursor.open_brackets();
    let innermost = *open.last()?;
    if cursor.before[innermost].0 != Token::LBrace {
        return None;
    }
    let options = option_block(cursor, innermost)?;
    let name = cursor.back_text(1);
    if !options.contains(&name) {
        return None;
    }
    Some(match name {
        "auth" => Context::Forms(&AUTH_FORMS),
        "verify" => Context::Forms(&VERIFY_FORMS),
        "respond" => Context::Forms(RESPOND_FORMS),
        "retry" => Context::Forms(RETRY_FORMS),
        "on_success" | "on_failure" => Context::Workflows,
        _ => return None,
    })
}

/// The options a `{` at `brace` takes, when it opens a block of options: a
/// connection's fields, `settings`, a webhook trigger's or an HTTP step's options.
fn option_block(cursor: &Cursor, brace: usize) -> Option<&'static [&'static str]> {
    let previous = cursor.before.get(brace.checked_sub(1)?)?.0;
    if previous == Token::Settings {
        return Some(&SETTINGS);
    }
    if previous == Token::Ident && brace >= 2 && cursor.before[brace - 2].0 == Token::Connection {
        return Some(&CONNECTION_FIELDS);
    }
    if !matches!(previous, Token::StrEnd | Token::RParen | Token::Ident) {
        return None;
    }
    // The statement or trigger the block belongs to, at the same depth.
    let mut saw_http = false;
    for (index, token, depth) in cursor.walk_back(brace) {
        match token {
            Token::LBrace | Token::LParen | Token::CallParen | Token::LBracket if depth == 0 => {
                return None;
            }
            Token::Http if depth == 0 => saw_http = true,
            Token::Step | Token::Mock if depth == 0 => {
                return saw_http.then_some(&HTTP_OPTIONS);
            }
            Token::On if depth == 0 => {
                let webhook = cursor
                    .before
                    .get(index + 1)
                    .is_some_and(|(_, span)| cursor.slice(*span) == "webhook");
                return webhook.then_some(&WEBHOOK_OPTIONS);
            }
            Token::Let | Token::If | Token::For | Token::Match | Token::Workflow => return None,
            _ => {}
        }
    }
    None
}

fn context(cursor: &Cursor) -> Context {
    use Token as T;
    let last = cursor.back(0);
    let second = cursor.back(1);
    let third = cursor.back(2);
    if let Some(context) = option_value(cursor) {
        return context;
    }
    match (third, second, last) {
        (_, _, Some(T::Dot | T::QuestionDot)) => {
            return match cursor.before.len().checked_sub(2) {
                Some(base) => Context::Field { base },
                None => Context::Nothing,
            };
        }
        (_, _, Some(T::Http)) => return Context::HttpMethods,
        (_, Some(T::Http), Some(T::Ident)) => return Context::Connections,
        (_, _, Some(T::Call)) => return Context::Workflows,
        (_, _, Some(T::Emit)) => return Context::Events,
        (_, Some(T::On | T::Await), Some(T::Event)) => return Context::Events,
        (_, _, Some(T::On)) => {
            return Context::Keywords(&["webhook", "schedule", "event", "manual"]);
        }
        (_, Some(T::On | T::Await), Some(T::Ident)) if cursor.back_text(0) == "webhook" => {
            return Context::HttpMethods;
        }
        (_, _, Some(T::Await)) => return Context::Await,
        (Some(T::Step), Some(T::Ident), Some(T::Eq)) => return Context::StepAction,
        (Some(T::Let), Some(T::Ident), Some(T::Eq)) => return Context::LetValue,
        (_, _, Some(T::FatArrow)) if statement_arm(cursor) => {
            return Context::Statement {
                header: false,
                in_test: cursor.item_keyword() == Some(T::Test),
                collecting: false,
            };
        }
        (_, _, Some(T::Wait)) => return Context::Keywords(&["until"]),
        (Some(T::Let), Some(T::Ident), Some(T::Colon))
        | (_, _, Some(T::Arrow))
        | (Some(T::Type | T::Event), Some(T::Ident), Some(T::Eq)) => return Context::Type,
        (_, Some(T::Ident), Some(T::Colon)) if colon_in_type(cursor, cursor.before.len() - 1) => {
            return Context::Type;
        }
        (_, _, Some(T::As)) if !binding_as(cursor) => return Context::Type,
        (_, Some(T::Ident), Some(T::Ident))
            if matches!(
                cursor.back(2),
                Some(T::Workflow | T::Fn | T::Type | T::Event | T::Connection)
            ) =>
        {
            return Context::Nothing;
        }
        (
            _,
            _,
            Some(T::Workflow | T::Fn | T::Type | T::Event | T::Connection | T::Step | T::Let),
        ) => {
            // A new name is being written.
            return Context::Nothing;
        }
        _ => {}
    }
    let item = cursor.item_keyword();
    if matches!(item, Some(T::Type | T::Event)) && cursor.open_brackets().is_empty() {
        return match last {
            Some(T::Pipe) => Context::Type,
            _ => Context::Item,
        };
    }
    let open = cursor.open_brackets();
    let Some(&innermost) = open.last() else {
        return match last {
            None | Some(T::RBrace | T::RParen | T::StrEnd) => Context::Item,
            _ if cursor.on_new_line() => Context::Item,
            _ => Context::Expression,
        };
    };
    let (open_token, _) = cursor.before[innermost];
    if open_token == T::LBrace && statement_block(cursor, innermost) {
        let starts = match last {
            Some(T::LBrace | T::RBrace) => true,
            Some(token) if ends_value(token) || token == T::Return => cursor.on_new_line(),
            _ => false,
        };
        if starts {
            let top = open.len() == 1 && item == Some(T::Workflow);
            let header = top
                && !cursor.before[innermost..].iter().any(|(token, _)| {
                    matches!(
                        token,
                        T::Step
                            | T::Let
                            | T::Set
                            | T::If
                            | T::Match
                            | T::For
                            | T::Parallel
                            | T::Try
                            | T::Emit
                    )
                });
            return Context::Statement {
                header,
                in_test: item == Some(T::Test),
                collecting: open.iter().any(|&brace| collecting_for(cursor, brace)),
            };
        }
    }
    if open_token == T::LBrace
        && let Some(scrutinee) = match_scrutinee(cursor, innermost)
        && pattern_position(cursor, last)
    {
        return Context::Pattern { scrutinee };
    }
    if open_token == T::LBrace
        && let Some(names) = option_block(cursor, innermost)
    {
        let name_position = match last {
            Some(T::LBrace | T::Comma) => true,
            Some(token) if ends_value(token) || token == T::RBrace => cursor.on_new_line(),
            _ => false,
        };
        if name_position {
            return Context::Options(names);
        }
    }
    if open_token == T::LBrace
        && type_brace(cursor, innermost, 0)
        && matches!(last, Some(T::LBrace | T::Comma))
    {
        // A field name of a record type is being written.
        return Context::Nothing;
    }
    if open_token == T::LBrace && type_brace(cursor, innermost, 0) {
        return Context::Type;
    }
    Context::Expression
}

/// Whether the `{` at `brace` opens the body of a collecting `let x = for …`.
fn collecting_for(cursor: &Cursor, brace: usize) -> bool {
    if statement_keyword_before(cursor, brace) != Some(Token::For) {
        return false;
    }
    let Some(for_index) = (0..brace)
        .rev()
        .find(|&index| cursor.before[index].0 == Token::For)
    else {
        return false;
    };
    for_index >= 3
        && cursor.before[for_index - 1].0 == Token::Eq
        && cursor.before[for_index - 3].0 == Token::Let
}

/// Whether `as` at the end introduces an `await` binding (`as e`) rather than a
/// conversion's type.
fn binding_as(cursor: &Cursor) -> bool {
    // `await event name as` or `await webhook METHOD "path" as`.
    let n = cursor.before.len();
    let window = &cursor.before[n.saturating_sub(8)..n];
    window.iter().any(|(token, _)| *token == Token::Await)
}

fn is_opener(token: Token) -> bool {
    matches!(
        token,
        Token::LBrace | Token::LParen | Token::CallParen | Token::LBracket
    )
}

/// Whether a value can end with `token`, so that a new line after it starts the
/// next statement or field.
fn ends_value(token: Token) -> bool {
    matches!(
        token,
        Token::Ident
            | Token::Int
            | Token::Float
            | Token::Duration
            | Token::StrEnd
            | Token::RParen
            | Token::RBracket
            | Token::True
            | Token::False
            | Token::Null
    )
}

/// Whether the `:` at `colon` (an index into `before`) is followed by a type: a
/// parameter's, a record type's field, or an `await webhook … as d:`.
fn colon_in_type(cursor: &Cursor, colon: usize) -> bool {
    (colon >= 2 && cursor.before[colon - 2].0 == Token::As) || colon_in_type_at(cursor, colon, 0)
}

/// Whether the `{` at `brace` opens a record type.
fn type_brace(cursor: &Cursor, brace: usize, level: u32) -> bool {
    if level > 8 || brace == 0 {
        return false;
    }
    match cursor.before[brace - 1].0 {
        Token::Arrow | Token::Pipe | Token::LBracket => true,
        Token::Eq => brace >= 3 && matches!(cursor.before[brace - 3].0, Token::Type | Token::Event),
        Token::Colon => brace >= 2 && colon_in_type_at(cursor, brace - 1, level + 1),
        _ => false,
    }
}

fn colon_in_type_at(cursor: &Cursor, colon: usize, level: u32) -> bool {
    if level > 8 {
        return false;
    }
    match cursor.walk_back(colon).last() {
        // `fn name(` or `workflow name(`.
        Some((index, Token::CallParen | Token::LParen, 0)) => {
            index >= 2 && matches!(cursor.before[index - 2].0, Token::Fn | Token::Workflow)
        }
        Some((index, Token::LBrace, 0)) => type_brace(cursor, index, level + 1),
        _ => false,
    }
}

/// Whether the `{` at `brace` opens a block of statements: a workflow's or test's
/// body, or the block of `if`, `else`, `for`, `parallel`, `try`, `catch` or a
/// statement `match` arm.
fn statement_block(cursor: &Cursor, brace: usize) -> bool {
    let Some(previous) = brace.checked_sub(1).map(|index| cursor.before[index].0) else {
        return false;
    };
    match previous {
        Token::Else | Token::Parallel | Token::Try | Token::LBrace => true,
        // `catch err {`.
        Token::Ident if brace >= 2 && cursor.before[brace - 2].0 == Token::Catch => true,
        // The block of a match arm.
        Token::FatArrow => statement_arm_at(cursor, brace),
        Token::StrEnd if brace >= 2 => {
            // `test "name" {`, or `if x == "a" {`; not `http POST c "/p" {`.
            let statement = statement_keyword_before(cursor, brace);
            matches!(
                statement,
                Some(Token::Test | Token::If | Token::For | Token::Match)
            )
        }
        Token::Eq | Token::Colon | Token::Comma | Token::CallParen | Token::LParen => false,
        Token::Ident => {
            // `workflow w(…) -> T {`, `if cond {`, `for x in xs {`; not `bearer {` nor
            // `settings {`.
            let statement = statement_keyword_before(cursor, brace);
            let tag = brace >= 2
                && matches!(
                    cursor.before[brace - 2].0,
                    Token::Colon | Token::Comma | Token::Eq | Token::LParen | Token::CallParen
                );
            !tag && matches!(statement, Some(Token::Workflow | Token::If | Token::For))
        }
        _ => matches!(
            statement_keyword_before(cursor, brace),
            Some(Token::Workflow | Token::If | Token::For | Token::Test)
        ),
    }
}

/// Whether the `=>` that ends `before` is an arm of a statement `match`.
fn statement_arm(cursor: &Cursor) -> bool {
    statement_arm_at(cursor, cursor.before.len())
}

/// Whether the `=>` just before index `end` belongs to a statement `match`: the
/// innermost `{` around it follows `match …`, and that `match` starts a statement
/// (it does not follow `=`, `(`, `,`, `:`, `return` or another `=>`).
fn statement_arm_at(cursor: &Cursor, end: usize) -> bool {
    let Some((brace, _, 0)) = cursor
        .walk_back(end.saturating_sub(1))
        .last()
        .filter(|(_, token, _)| is_opener(*token))
    else {
        return false;
    };
    let Some(keyword) = (0..brace)
        .rev()
        .take(64)
        .find(|&index| cursor.before[index].0 == Token::Match)
    else {
        return false;
    };
    !matches!(
        keyword.checked_sub(1).map(|index| cursor.before[index].0),
        Some(
            Token::Eq
                | Token::LParen
                | Token::CallParen
                | Token::Comma
                | Token::Colon
                | Token::Return
                | Token::FatArrow
                | Token::Then
                | Token::Else
                | Token::LBracket
        )
    )
}

/// The last statement or declaration keyword before index `before`, at the same
/// bracket depth.
fn statement_keyword_before(cursor: &Cursor, before: usize) -> Option<Token> {
    for (_, token, depth) in cursor.walk_back(before) {
        match token {
            Token::LBrace | Token::LParen | Token::CallParen | Token::LBracket if depth == 0 => {
                return None;
            }
            Token::Workflow
            | Token::Test
            | Token::If
            | Token::For
            | Token::Match
            | Token::Step
            | Token::Let
            | Token::Settings
            | Token::On
                if depth == 0 =>
            {
                return Some(token);
            }
            _ => {}
        }
    }
    None
}

#[derive(Default)]
struct Completions {
    items: Vec<CompletionItem>,
    seen: BTreeSet<String>,
}

impl Completions {
    fn push(
        &mut self,
        label: &str,
        kind: CompletionKind,
        detail: Option<String>,
        documentation: Option<String>,
    ) {
        if !self.seen.insert(label.to_string()) {
            return;
        }
        self.items.push(CompletionItem {
            label: label.to_string(),
            kind,
            detail,
            documentation,
            insert_text: None,
            snippet: false,
        });
    }

    /// An item whose insert text has `${1:…}` placeholders.
    fn snippet(&mut self, label: &str, insert: &str, detail: &str) {
        if !self.seen.insert(label.to_string()) {
            return;
        }
        self.items.push(CompletionItem {
            label: label.to_string(),
            kind: CompletionKind::Snippet,
            detail: Some(detail.to_string()),
            documentation: None,
            insert_text: Some(insert.to_string()),
            snippet: true,
        });
    }

    fn keywords(&mut self, words: &[&str]) {
        for word in words {
            self.push(word, CompletionKind::Keyword, None, None);
        }
    }

    fn local(&mut self, local: &Local) {
        let kind = match local.kind {
            "step" | "handle" => CompletionKind::Step,
            _ => CompletionKind::Variable,
        };
        let detail = (local.ty != Ty::Error).then(|| local.ty.to_string());
        self.push(&local.name, kind, detail, None);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Declared {
    Type,
    Event,
    Connection,
    Fn,
    Workflow,
}

/// The declarations of one kind in every file, with their first line as detail and
/// their doc comment as documentation.
fn declarations(analysis: &Analysis, want: Declared, out: &mut Completions) {
    for file in &analysis.files {
        for item in &file.module.items {
            let (kind, name, completion) = match &item.kind {
                ast::ItemKind::Type(decl) => (Declared::Type, &decl.name, CompletionKind::Type),
                ast::ItemKind::Event(decl) => (Declared::Event, &decl.name, CompletionKind::Event),
                ast::ItemKind::Connection(decl) => {
                    (Declared::Connection, &decl.name, CompletionKind::Connection)
                }
                ast::ItemKind::Fn(decl) => (Declared::Fn, &decl.name, CompletionKind::Function),
                ast::ItemKind::Workflow(decl) => {
                    (Declared::Workflow, &decl.name, CompletionKind::Workflow)
                }
                _ => continue,
            };
            if kind != want || name.name.is_empty() {
                continue;
            }
            let header = file
                .text
                .get(item.span.range())
                .and_then(|text| text.lines().next())
                .map(|line| line.trim_end_matches(['{', ' ', '=']).trim().to_string());
            let docs = (!item.docs.0.is_empty()).then(|| item.docs.0.join("\n"));
            out.push(&name.name, completion, header, docs);
        }
    }
}

fn expression(analysis: &Analysis, file: FileId, at: u32, cursor: &Cursor, out: &mut Completions) {
    for local in locals(analysis, file, at) {
        out.local(&local);
    }
    // When the declaration around the cursor did not parse, its parameters are
    // still in its tokens.
    for local in written_params(analysis, cursor) {
        out.local(&local);
    }
    if cursor.item_keyword() == Some(Token::Workflow)
        && let Some(source) = analysis.file(file)
        && let Some(ast::ItemKind::Workflow(workflow)) =
            item_at(&source.module, at).map(|item| &item.kind)
    {
        if workflow
            .triggers
            .iter()
            .any(|trigger| matches!(trigger.kind, ast::TriggerKind::Webhook { .. }))
        {
            out.push(
                "webhook",
                CompletionKind::Variable,
                Some("the request that started the run".to_string()),
                None,
            );
        }
        out.push("secrets", CompletionKind::Variable, None, None);
        out.push("context", CompletionKind::Variable, None, None);
    }
    declarations(analysis, Declared::Fn, out);
    for builtin in stdlib::all() {
        out.push(
            builtin.name,
            CompletionKind::Function,
            builtin
                .overloads
                .first()
                .map(|signature| format!("{}{signature}", builtin.name)),
            Some(builtin.doc.to_string()),
        );
    }
    out.keywords(EXPRESSION_KEYWORDS);
}

/// The parameters of the `fn` or workflow the cursor is in, read from its tokens:
/// each `name: T` inside its parentheses, typed when `T` is one name.
fn written_params(analysis: &Analysis, cursor: &Cursor) -> Vec<Local> {
    let Some(keyword) = cursor.before.iter().rposition(|(token, _)| {
        matches!(
            token,
            Token::Fn
                | Token::Workflow
                | Token::Type
                | Token::Event
                | Token::Connection
                | Token::Test
        )
    }) else {
        return Vec::new();
    };
    if !matches!(cursor.before[keyword].0, Token::Fn | Token::Workflow) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut depth = 0usize;
    let tokens = &cursor.before[keyword..];
    for (index, (token, span)) in tokens.iter().enumerate() {
        match token {
            Token::LParen | Token::CallParen | Token::LBrace | Token::LBracket => depth += 1,
            Token::RParen | Token::RBrace | Token::RBracket => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            Token::Ident
                if depth == 1
                    && matches!(tokens.get(index + 1), Some((Token::Colon, _)))
                    && matches!(
                        index.checked_sub(1).and_then(|back| tokens.get(back)),
                        Some((Token::CallParen | Token::LParen | Token::Comma, _))
                    ) =>
            {
                let ty = match (tokens.get(index + 2), tokens.get(index + 3)) {
                    (Some((Token::Ident, ty)), Some((Token::Comma | Token::RParen, _))) => {
                        simple_type(analysis, cursor.slice(*ty))
                    }
                    _ => Ty::Error,
                };
                out.push(Local {
                    name: cursor.slice(*span).to_string(),
                    kind: "param",
                    ty,
                });
            }
            _ => {}
        }
    }
    out
}

/// The type a single name means in a type position.
fn simple_type(analysis: &Analysis, name: &str) -> Ty {
    match Ty::builtin(name) {
        Some(ty) => ty,
        None if analysis.program.types.contains_key(name) => Ty::named(name),
        None => Ty::Error,
    }
}

/// Fields after `base.`: of a record type, of `webhook`, the secret names after
/// `secrets.`, and the methods of the standard library.
fn fields(
    analysis: &Analysis,
    file: FileId,
    at: u32,
    cursor: &Cursor,
    base: usize,
    out: &mut Completions,
) {
    let Some(&(token, span)) = cursor.before.get(base) else {
        return;
    };
    let chained = base >= 1 && matches!(cursor.before[base - 1].0, Token::Dot | Token::QuestionDot);
    if token == Token::Ident && !chained {
        match cursor.slice(span) {
            "secrets" => return secret_names(analysis, out),
            "context" => return context_keys(analysis, out),
            _ => {}
        }
    }
    let start = chain_start(cursor, base);
    let ty = typed_before(analysis, file, start, span.end)
        .or_else(|| chain_type(analysis, file, at, cursor, base))
        .or_else(|| typed_when_completed(analysis, file, cursor, start, span.end));
    let Some(ty) = ty else {
        return;
    };
    let ty = resolve_for_fields(&analysis.program.types, &ty);
    if ty == Ty::Error {
        return;
    }
    if let Ty::Record { fields } = &ty {
        for field in fields {
            let detail = if field.optional {
                format!("{}?", field.ty)
            } else {
                field.ty.to_string()
            };
            out.push(&field.name, CompletionKind::Field, Some(detail), None);
        }
    }
    for builtin in stdlib::all().iter().filter(|builtin| builtin.method) {
        let fits = builtin.overloads.iter().any(|signature| {
            signature
                .params
                .first()
                .is_some_and(|param| receiver_fits(&param.ty, &ty))
        });
        if fits {
            out.push(
                builtin.name,
                CompletionKind::Function,
                builtin
                    .overloads
                    .first()
                    .map(|signature| format!("{}{signature}", builtin.name)),
                Some(builtin.doc.to_string()),
            );
        }
    }
}

/// Whether a value of type `ty` may be the receiver of a method whose first
/// parameter is `param`.
fn receiver_fits(param: &stdlib::SigTy, ty: &Ty) -> bool {
    use stdlib::SigTy;
    match (param, ty) {
        (SigTy::Var(_), _) | (_, Ty::Json) => true,
        (
            SigTy::String,
            Ty::String
            | Ty::Lit {
                value: crate::ty::LitTy::String(_),
            },
        ) => true,
        (SigTy::Int, Ty::Int) | (SigTy::Float, Ty::Float | Ty::Int) => true,
        (SigTy::Duration, Ty::Duration) | (SigTy::Time, Ty::Time) => true,
        (SigTy::Bool, Ty::Bool) => true,
        (SigTy::List(_), Ty::List { .. }) | (SigTy::Map(_), Ty::Map { .. } | Ty::Record { .. }) => {
            true
        }
        (SigTy::Optional(inner), _) => receiver_fits(inner, ty),
        _ => false,
    }
}

/// The type the checker gave the widest expression from `start` to `end`: the
/// base of a `.` (an expression around it, such as `a == b` in `a == b.`, ends
/// there too but starts earlier).
fn typed_before(analysis: &Analysis, file: FileId, start: u32, end: u32) -> Option<Ty> {
    analysis
        .info
        .types
        .iter()
        .filter(|typed| {
            typed.file == file
                && typed.span.end == end
                && typed.span.start >= start
                && typed.ty != Ty::Error
        })
        .min_by_key(|typed| typed.span.start)
        .map(|typed| typed.ty.clone())
}

/// Where the postfix chain ending at `before[base]` starts: back over names,
/// dots, calls, indexes, groups and string literals.
fn chain_start(cursor: &Cursor, base: usize) -> u32 {
    let mut index = base;
    let mut start = cursor.before.get(base).map_or(0, |(_, span)| span.start);
    for _ in 0..256 {
        let Some(&(token, span)) = cursor.before.get(index) else {
            break;
        };
        start = span.start;
        // Jump back over a bracketed group or a string to its opening token.
        let open = match token {
            Token::RParen | Token::RBracket | Token::StrEnd => {
                let mut depth = 0usize;
                let mut found = None;
                for back in (0..=index).rev() {
                    match cursor.before[back].0 {
                        Token::RParen | Token::RBracket | Token::StrEnd => depth += 1,
                        Token::LParen | Token::CallParen | Token::LBracket | Token::StrStart => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                found = Some(back);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                match found {
                    Some(open) => open,
                    None => break,
                }
            }
            _ => index,
        };
        start = cursor.before[open].1.start;
        let (open_token, _) = cursor.before[open];
        let previous = open.checked_sub(1).map(|back| cursor.before[back].0);
        index = match (open_token, previous) {
            // A call or an index continues the chain to its left.
            (Token::CallParen | Token::LBracket, Some(_)) if open != index => open - 1,
            // A name, literal or group after a dot continues it too.
            (_, Some(Token::Dot | Token::QuestionDot)) if open >= 2 => open - 2,
            _ => break,
        };
    }
    start
}

/// The type of a chain `name.field.field` ending at `before[base]`, from the
/// type of the name in scope, when the checker has none for it (the text around
/// it does not parse).
fn chain_type(
    analysis: &Analysis,
    file: FileId,
    at: u32,
    cursor: &Cursor,
    base: usize,
) -> Option<Ty> {
    let mut names = Vec::new();
    let mut index = base;
    loop {
        let (token, span) = *cursor.before.get(index)?;
        if token != Token::Ident {
            return None;
        }
        names.push(cursor.slice(span));
        if index >= 2 && matches!(cursor.before[index - 1].0, Token::Dot | Token::QuestionDot) {
            index -= 2;
        } else {
            break;
        }
    }
    names.reverse();
    let (first, rest) = names.split_first()?;
    let mut ty = if *first == "webhook" {
        Ty::record(
            WEBHOOK_FIELDS
                .iter()
                .map(|(name, _)| crate::ty::FieldTy {
                    name: (*name).to_string(),
                    ty: if *name == "headers" || *name == "query" {
                        Ty::map(Ty::String)
                    } else {
                        Ty::String
                    },
                    optional: false,
                })
                .collect(),
        )
    } else if let Some(local) = locals(analysis, file, at)
        .into_iter()
        .rev()
        .find(|local| local.name == *first)
    {
        local.ty
    } else {
        await_binding(analysis, cursor, base, first)?
    };
    for name in rest {
        let Ty::Record { fields } = resolve_for_fields(&analysis.program.types, &ty) else {
            return None;
        };
        ty = fields.into_iter().find(|field| field.name == *name)?.ty;
    }
    Some(ty)
}

/// Every `secrets.NAME` written anywhere in the project.
fn secret_names(analysis: &Analysis, out: &mut Completions) {
    for name in names_after(analysis, "secrets") {
        out.push(
            &name,
            CompletionKind::Secret,
            Some("secret".to_string()),
            None,
        );
    }
}

/// Every `context.KEY` written anywhere in the project.
fn context_keys(analysis: &Analysis, out: &mut Completions) {
    for name in names_after(analysis, "context") {
        out.push(&name, CompletionKind::Field, Some("json".to_string()), None);
    }
}

fn names_after(analysis: &Analysis, base: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for file in &analysis.files {
        let lexed = crate::syntax::lex(&file.text);
        let tokens: Vec<(Token, crate::Span)> = lexed
            .tokens
            .iter()
            .copied()
            .zip(lexed.spans.iter().copied())
            .collect();
        for window in tokens.windows(3) {
            if let [(Token::Ident, first), (Token::Dot, _), (Token::Ident, name)] = window
                && file.text.get(first.range()) == Some(base)
                && let Some(name) = file.text.get(name.range())
            {
                names.insert(name.to_string());
            }
        }
    }
    names
}

/// The type of `name` when the statement being written binds it with
/// `await event E as name` (the event's type) or `await webhook … as name: T`.
fn await_binding(analysis: &Analysis, cursor: &Cursor, before: usize, name: &str) -> Option<Ty> {
    let tokens = &cursor.before[..before.min(cursor.before.len())];
    let as_index = tokens
        .iter()
        .enumerate()
        .rev()
        .take(256)
        .find_map(|(index, (token, _))| {
            let bound = tokens.get(index + 1)?;
            (*token == Token::As && bound.0 == Token::Ident && cursor.slice(bound.1) == name)
                .then_some(index)
        })?;
    // `await event NAME as x`.
    if as_index >= 3
        && tokens[as_index - 3].0 == Token::Await
        && tokens[as_index - 2].0 == Token::Event
    {
        let event = cursor.slice(tokens[as_index - 1].1);
        return analysis
            .program
            .events
            .iter()
            .find(|each| each.name == event)
            .map(|each| each.ty.clone());
    }
    // `await webhook METHOD "path" as d: T`: the type's name, when it is one.
    match (tokens.get(as_index + 2), tokens.get(as_index + 3)) {
        (Some((Token::Colon, _)), Some((Token::Ident, ty))) => {
            let ty = cursor.slice(*ty);
            analysis
                .program
                .types
                .contains_key(ty)
                .then(|| Ty::named(ty))
        }
        _ => Some(Ty::Json),
    }
}

/// A name written where the user's next one would go, so that the text parses.
const PLACEHOLDER: &str = "__completion__";

/// The type of the expression ending at `end` in the project re-analysed with a
/// placeholder field name at the cursor: `x.trim().` or `p => p.` only parse (and
/// their bases only get a type) once something follows the dot. This costs an
/// analysis, so it is the last resort, after the checker's types and the names in
/// scope.
fn typed_when_completed(
    analysis: &Analysis,
    file: FileId,
    cursor: &Cursor,
    start: u32,
    end: u32,
) -> Option<Ty> {
    let source = analysis.file(file)?;
    // Other workflows' and tests' bodies cannot change the type of anything here,
    // and checking them is most of the cost: they are blanked first, then the
    // placeholder goes in.
    let blanked = blank_bodies(&source.text, &source.module, Some(cursor.offset));
    let mut patched = String::with_capacity(blanked.len() + PLACEHOLDER.len());
    patched.push_str(blanked.get(..cursor.offset)?);
    if cursor.prefix.is_empty() {
        patched.push_str(PLACEHOLDER);
    }
    patched.push_str(blanked.get(cursor.offset..)?);
    let texts: std::collections::BTreeMap<String, String> = analysis
        .files
        .iter()
        .map(|each| {
            let text = if each.path == source.path {
                patched.clone()
            } else {
                blank_bodies(&each.text, &each.module, None)
            };
            (each.path.clone(), text)
        })
        .collect();
    let roots = analysis
        .files
        .iter()
        .filter(|each| each.root)
        .filter_map(|each| {
            Some(crate::SourceFile {
                path: each.path.clone(),
                text: texts.get(&each.path)?.clone(),
            })
        })
        .collect();
    let again = crate::analyze(roots, &Texts(texts));
    let file = super::file_id(&again, &source.path)?;
    typed_before(&again, file, start, end)
}

/// The files of an analysis, as a loader for re-analysing it.
struct Texts(std::collections::BTreeMap<String, String>);

impl crate::Loader for Texts {
    fn load(&self, path: &str) -> Result<String, String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| format!("no file {path}"))
    }
}

/// `text` with the insides of the bodies of its workflows and tests replaced by
/// spaces (line breaks kept, so every offset stays where it was), except the one
/// holding `keep`.
fn blank_bodies(text: &str, module: &ast::Module, keep: Option<usize>) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for item in &module.items {
        let (start, end) = (item.span.start as usize, item.span.end as usize);
        if !matches!(
            item.kind,
            ast::ItemKind::Workflow(_) | ast::ItemKind::Test(_)
        ) || keep.is_some_and(|keep| start <= keep && keep <= end)
        {
            continue;
        }
        let Some(header) = text.get(start..end) else {
            continue;
        };
        let name_end = match &item.kind {
            // A result type may be a record type, with braces of its own.
            ast::ItemKind::Workflow(workflow) => workflow
                .ret
                .as_ref()
                .map_or(workflow.name.span.end, |ret| ret.span.end)
                as usize,
            ast::ItemKind::Test(test) => test.name.span.end as usize,
            _ => continue,
        };
        // The body's `{` is the first one at depth 0 after the header.
        let mut depth = 0i32;
        let mut open = None;
        for (at, byte) in header
            .bytes()
            .enumerate()
            .skip(name_end.saturating_sub(start))
        {
            match byte {
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth -= 1,
                b'{' if depth == 0 => {
                    open = Some(start + at);
                    break;
                }
                _ => {}
            }
        }
        let Some(open) = open else {
            continue;
        };
        if !header.ends_with('}') {
            continue;
        }
        for byte in bytes.iter_mut().take(end - 1).skip(open + 1) {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
    }
    // Only ASCII bytes were written, over whole characters of the bodies.
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}
