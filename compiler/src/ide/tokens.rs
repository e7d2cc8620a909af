//! Semantic tokens: what each name is, beyond what a grammar can tell.
//!
//! Every token of the lexer is classified: keywords, literals and operators by
//! their kind, names by what the checker says they refer to (a declaration or a
//! binding, whose kind gives the token's), and what it cannot say by position (a
//! name before a call's `(` is a function, after `.` a field, before `:` in a
//! record a field). Comments are not tokens, so they are found in the stretches
//! between tokens. The result is sorted, never overlaps and never spans lines.

use super::context::comment_ranges;
use super::{SemanticToken, TokenKind};
use crate::syntax::lex;
use crate::syntax::token::{CONTEXTUAL_KEYWORDS, HTTP_METHODS, Token};
use crate::{Analysis, FileId, Span};
use std::collections::HashMap;

/// Every token of `file`, classified, sorted, one line each.
pub fn semantic_tokens(analysis: &Analysis, file: FileId) -> Vec<SemanticToken> {
    let Some(source) = analysis.file(file) else {
        return Vec::new();
    };
    let text = source.text.as_str();
    let lexed = lex(text);
    let mut definitions: HashMap<(u32, u32), &'static str> = HashMap::new();
    let mut all_definitions: HashMap<(FileId, u32, u32), &'static str> = HashMap::new();
    // Fields of declared record types are declarations too, and their uses
    // reference them.
    for definition in analysis
        .info
        .definitions
        .iter()
        .chain(&analysis.info.fields)
    {
        all_definitions.insert(
            (definition.file, definition.span.start, definition.span.end),
            definition.kind,
        );
        if definition.file == file {
            definitions.insert(
                (definition.span.start, definition.span.end),
                definition.kind,
            );
        }
    }
    let mut references: HashMap<(u32, u32), (FileId, Span)> = HashMap::new();
    for reference in &analysis.info.references {
        if reference.file == file {
            references.insert(
                (reference.span.start, reference.span.end),
                (reference.target_file, reference.target),
            );
        }
    }
    let mut out = Vec::new();
    let mut previous_end = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let count = lexed.tokens.len();
    for index in 0..count {
        let token = lexed.tokens[index];
        let span = lexed.spans[index];
        comments(text, previous_end, span.start as usize, &mut out);
        previous_end = previous_end.max(span.end as usize);
        let before = index.checked_sub(1).map(|at| lexed.tokens[at]);
        let after = lexed.tokens.get(index + 1).copied();
        let kind = match token {
            _ if token.is_keyword() => Some(TokenKind::Keyword),
            Token::Int | Token::Float | Token::Duration | Token::BadNumber => {
                Some(TokenKind::Number)
            }
            Token::StrStart | Token::StrText | Token::StrEnd => Some(TokenKind::String),
            Token::DocComment => Some(TokenKind::Comment),
            Token::Ident => {
                let key = (span.start, span.end);
                let name = text.get(span.range()).unwrap_or("");
                if let Some(kind) = definitions.get(&key) {
                    out.push(SemanticToken {
                        span,
                        kind: kind_of(kind),
                        declaration: true,
                    });
                    continue;
                }
                let target = references
                    .get(&key)
                    .and_then(|(target_file, target)| {
                        all_definitions.get(&(*target_file, target.start, target.end))
                    })
                    .map(|kind| kind_of(kind));
                Some(target.unwrap_or_else(|| by_position(name, before, after)))
            }
            Token::EqEq
            | Token::NotEq
            | Token::Lt
            | Token::LtEq
            | Token::Gt
            | Token::GtEq
            | Token::Plus
            | Token::Minus
            | Token::Star
            | Token::Slash
            | Token::Percent
            | Token::Bang
            | Token::AndAnd
            | Token::OrOr
            | Token::Pipe
            | Token::FatArrow
            | Token::Arrow
            | Token::Eq
            | Token::QuestionQuestion
            | Token::Question
            | Token::QuestionDot => Some(TokenKind::Operator),
            _ => None,
        };
        if let Some(kind) = kind
            && !span.is_empty()
        {
            split_lines(text, span, kind, &mut out);
        }
    }
    comments(text, previous_end, text.len(), &mut out);
    out.sort_by_key(|token| (token.span.start, token.span.end));
    // Tokens never overlap: a later one starting inside an earlier one is dropped.
    let mut end = 0;
    out.retain(|token| {
        if token.span.start < end {
            return false;
        }
        end = token.span.end;
        true
    });
    out
}

/// The token kind of a definition kind of the checker.
fn kind_of(kind: &str) -> TokenKind {
    match kind {
        "type" => TokenKind::Type,
        "event" => TokenKind::Event,
        "connection" => TokenKind::Namespace,
        "fn" | "workflow" => TokenKind::Function,
        "param" | "lambda parameter" => TokenKind::Parameter,
        "field" => TokenKind::Property,
        _ => TokenKind::Variable,
    }
}

/// Built-in type names.
const BUILTIN_TYPES: &[&str] = &[
    "bool", "int", "float", "string", "duration", "time", "json", "secret",
];

/// The kind of a name the checker said nothing about, by where it stands.
fn by_position(name: &str, before: Option<Token>, after: Option<Token>) -> TokenKind {
    match (before, after) {
        (Some(Token::Dot | Token::QuestionDot), _) => TokenKind::Property,
        (_, Some(Token::CallParen)) => TokenKind::Function,
        (_, Some(Token::Colon | Token::Question)) => TokenKind::Property,
        (Some(Token::On), _) if CONTEXTUAL_KEYWORDS.contains(&name) => TokenKind::Keyword,
        (Some(Token::Await), _) if name == "webhook" => TokenKind::Keyword,
        (Some(Token::StrEnd), _) if name == "tz" => TokenKind::Keyword,
        (Some(Token::Http | Token::Ident), _) if HTTP_METHODS.contains(&name) => TokenKind::Keyword,
        _ if BUILTIN_TYPES.contains(&name) => TokenKind::Type,
        _ => TokenKind::Variable,
    }
}

/// Pushes the comments found between two tokens.
fn comments(text: &str, from: usize, to: usize, out: &mut Vec<SemanticToken>) {
    if from >= to {
        return;
    }
    let Some(gap) = text.get(from..to) else {
        return;
    };
    for (start, end, _) in comment_ranges(gap) {
        split_lines(
            text,
            Span::new(from + start, from + end),
            TokenKind::Comment,
            out,
        );
    }
}

/// Pushes `span` as one token per line it covers, without the line breaks.
fn split_lines(text: &str, span: Span, kind: TokenKind, out: &mut Vec<SemanticToken>) {
    let Some(slice) = text.get(span.range()) else {
        return;
    };
    let mut start = span.start as usize;
    for line in slice.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        if !content.is_empty() {
            out.push(SemanticToken {
                span: Span::new(start, start + content.len()),
                kind,
                declaration: false,
            });
        }
        start += line.len();
    }
}
