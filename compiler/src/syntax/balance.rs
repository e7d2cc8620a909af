//! Delimiter balancing and nesting bounds, between the lexer and the parser.
//!
//! Two jobs that are easier on the flat token list than inside the parser:
//!
//! 1. **Balance.** Every `(`, `[`, `{` and `${` gets its closer. An unclosed opener
//!    is reported once (E0202) and a zero-width closer is inserted where it was due;
//!    a closer that matches nothing is reported (E0203) and dropped. A declaration
//!    keyword at the start of a line also closes whatever is still open, so one
//!    missing `}` cannot swallow the next workflow. The parser then always sees a
//!    balanced stream and can recover by skipping whole bracket groups.
//! 2. **Bound.** Bracket depth plus operator chains is what makes trees deep. A
//!    stream deeper than [`MAX_NESTING`] is reported (E0204) and the over-deep part
//!    replaced by one `Error` token, so every later stage can recurse on the tree
//!    without risking the stack, whatever the input.

use super::diagnostics as diag;
use super::lexer::Lexed;
use super::token::Token;
use crate::diagnostic::{Diagnostic, Span};

/// The deepest a tree may grow: open brackets plus operators in open expressions.
pub const MAX_NESTING: usize = 256;

/// Returns the balanced, bounded token stream.
pub fn balance(
    source: &str,
    lexed: &Lexed,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<(Token, Span)> {
    let mut balancer = Balancer {
        source,
        out: Vec::with_capacity(lexed.tokens.len() + 8),
        frames: Vec::new(),
        ops: 0,
        diagnostics,
    };
    let tokens = &lexed.tokens;
    let spans = &lexed.spans;
    let mut i = 0;
    while i < tokens.len() {
        i = balancer.token(tokens, spans, i);
    }
    let end = Span::at(source.len());
    balancer.close_all(end);
    balancer.out
}

struct Frame {
    open: Token,
    span: Span,
    /// Operators counted in this frame's current expression.
    ops: usize,
}

struct Balancer<'a> {
    source: &'a str,
    out: Vec<(Token, Span)>,
    frames: Vec<Frame>,
    /// The sum of `ops` over all frames, plus the operators at the top level.
    ops: usize,
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl Balancer<'_> {
    /// Handles the token at `i`; returns the index of the next one to look at.
    fn token(&mut self, tokens: &[Token], spans: &[Span], i: usize) -> usize {
        let (token, span) = (tokens[i], spans[i]);
        // `type: "x"` at the start of a line is a field named `type`, not a declaration.
        let is_field_name = tokens.get(i + 1) == Some(&Token::Colon);
        if starts_declaration(token)
            && !is_field_name
            && self.at_line_start(span)
            && !self.frames.is_empty()
        {
            self.close_all(Span::at(span.start as usize));
        }
        // A statement keyword cannot stand inside `(…)` or `[…]`: those were left
        // open on an earlier line.
        if starts_statement_only(token) {
            while let Some(frame) = self.frames.last()
                && matches!(
                    frame.open,
                    Token::LParen | Token::CallParen | Token::LBracket
                )
            {
                self.close_innermost(Span::at(span.start as usize));
            }
        }
        if resets_expression(token) {
            self.reset_ops();
        }
        match token {
            Token::LBrace
            | Token::LBracket
            | Token::LParen
            | Token::CallParen
            | Token::InterpOpen => {
                if self.depth() + 1 > MAX_NESTING {
                    return self.skip_too_deep(tokens, spans, i);
                }
                // A group inside an expression nests that expression one level.
                self.count_op();
                self.out.push((token, span));
                self.frames.push(Frame {
                    open: token,
                    span,
                    ops: 0,
                });
            }
            Token::RBrace | Token::RBracket | Token::RParen | Token::InterpClose => {
                self.close(token, span);
            }
            _ if is_operator(token) => {
                if self.depth() + 1 > MAX_NESTING {
                    return self.skip_too_deep(tokens, spans, i);
                }
                self.count_op();
                self.out.push((token, span));
            }
            _ => self.out.push((token, span)),
        }
        i + 1
    }

    fn depth(&self) -> usize {
        self.frames.len() + self.ops
    }

    fn count_op(&mut self) {
        self.ops += 1;
        if let Some(frame) = self.frames.last_mut() {
            frame.ops += 1;
        }
    }

    fn reset_ops(&mut self) {
        let frame_ops = self
            .frames
            .last_mut()
            .map_or(0, |frame| std::mem::take(&mut frame.ops));
        if self.frames.is_empty() {
            self.ops = 0;
        } else {
            self.ops -= frame_ops;
        }
    }

    fn at_line_start(&self, span: Span) -> bool {
        let start = span.start as usize;
        start == 0 || self.source.as_bytes().get(start - 1) == Some(&b'\n')
    }

    fn close(&mut self, token: Token, span: Span) {
        let Some(position) = self
            .frames
            .iter()
            .rposition(|frame| closer_of(frame.open) == token)
        else {
            // Nothing open matches. Inside `(…]` or `[…)` it is a typo for the right
            // closer, which takes its place; anywhere else it is a stray.
            let top = self.frames.last().map(|frame| frame.open);
            match top {
                Some(Token::LParen | Token::CallParen | Token::LBracket)
                    if token != Token::RBrace =>
                {
                    self.close_mismatched(token, span, span);
                }
                _ => self
                    .diagnostics
                    .push(diag::unmatched_delimiter(char_of(token), span)),
            }
            return;
        };
        let position = self.by_indentation(token, span).unwrap_or(position);
        // Everything opened after the matching frame was never closed. When the
        // innermost of those opened on this very line, `sum([1, 2)` is better told
        // as a wrong closer than as a missing one.
        if self.frames.len() > position + 1
            && let Some(top) = self.frames.last()
            && top.open != Token::InterpOpen
            && !self.source[top.span.end as usize..span.start as usize].contains('\n')
        {
            self.close_mismatched(token, span, Span::at(span.start as usize));
        }
        while self.frames.len() > position + 1 {
            self.close_innermost(Span::at(span.start as usize));
        }
        if let Some(frame) = self.frames.pop() {
            self.ops -= frame.ops;
        }
        self.out.push((token, span));
    }

    /// Reports `found` as the wrong closer for the innermost frame and closes that
    /// frame with the right closer at `at`.
    fn close_mismatched(&mut self, found: Token, span: Span, at: Span) {
        let Some(frame) = self.frames.pop() else {
            return;
        };
        self.ops -= frame.ops;
        self.diagnostics.push(diag::mismatched_delimiter(
            char_of(frame.open),
            frame.span,
            char_of(found),
            span,
        ));
        self.out.push((closer_of(frame.open), at));
    }

    /// A closer that starts its line belongs, most likely, to the opener whose line
    /// is indented like it: in
    ///
    /// ```text
    /// workflow a() {
    ///   if x {
    ///     step s = wait 1s
    /// }
    /// ```
    ///
    /// the `}` closes the workflow, and it is the `if` that was left open. Returns
    /// the frame to match when the indentation points at one deeper down the stack.
    fn by_indentation(&self, token: Token, span: Span) -> Option<usize> {
        let indent = self.line_indent(span.start as usize)?;
        let top = self.frames.len().checked_sub(1)?;
        if self.frames[top].open == Token::InterpOpen || self.opener_indent(top) <= indent {
            return None;
        }
        (0..top).rev().find(|&position| {
            let frame = &self.frames[position];
            closer_of(frame.open) == token && self.opener_indent(position) == indent
        })
    }

    /// The indentation of the line an opener stands on.
    fn opener_indent(&self, position: usize) -> usize {
        let start = self.frames[position].span.start as usize;
        let line_start = self.source[..start].rfind('\n').map_or(0, |i| i + 1);
        self.source[line_start..]
            .bytes()
            .take_while(|b| *b == b' ' || *b == b'\t')
            .count()
    }

    /// The indentation of the line at `offset` when `offset` is its first token.
    fn line_indent(&self, offset: usize) -> Option<usize> {
        let line_start = self.source[..offset].rfind('\n').map_or(0, |i| i + 1);
        let before = &self.source[line_start..offset];
        before
            .bytes()
            .all(|b| b == b' ' || b == b'\t')
            .then_some(before.len())
    }

    fn close_all(&mut self, at: Span) {
        while !self.frames.is_empty() {
            self.close_innermost(at);
        }
        self.ops = 0;
    }

    /// Reports the innermost frame as unclosed and closes it where it was due.
    fn close_innermost(&mut self, at: Span) {
        let Some(frame) = self.frames.pop() else {
            return;
        };
        self.ops -= frame.ops;
        // The lexer reports its own unterminated interpolations.
        if frame.open != Token::InterpOpen {
            self.diagnostics.push(diag::unclosed_delimiter(
                char_of(frame.open),
                frame.span,
                at,
            ));
        }
        self.out.push((closer_of(frame.open), at));
    }

    /// Replaces the over-deep part, from token `i` to the end of the innermost
    /// open expression, with one `Error` token; returns where to go on.
    fn skip_too_deep(&mut self, tokens: &[Token], spans: &[Span], i: usize) -> usize {
        let mut depth = 0usize;
        let mut j = i;
        while j < tokens.len() {
            let token = tokens[j];
            match token {
                Token::LBrace
                | Token::LBracket
                | Token::LParen
                | Token::CallParen
                | Token::InterpOpen => depth += 1,
                Token::RBrace | Token::RBracket | Token::RParen | Token::InterpClose => {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                }
                _ if depth == 0 && (resets_expression(token) || starts_declaration(token)) => break,
                _ => {}
            }
            j += 1;
        }
        let end = if j > i {
            spans[j - 1].end
        } else {
            spans[i].end
        };
        let span = Span {
            start: spans[i].start,
            end,
        };
        // Point at where the limit was crossed, not at everything skipped.
        self.diagnostics
            .push(diag::nesting_too_deep(MAX_NESTING, spans[i]));
        self.out.push((Token::Error, span));
        j.max(i + 1)
    }
}

fn closer_of(open: Token) -> Token {
    match open {
        Token::LBrace => Token::RBrace,
        Token::LBracket => Token::RBracket,
        Token::InterpOpen => Token::InterpClose,
        _ => Token::RParen,
    }
}

fn char_of(token: Token) -> char {
    match token {
        Token::LBrace => '{',
        Token::RBrace | Token::InterpClose => '}',
        Token::LBracket => '[',
        Token::RBracket => ']',
        Token::RParen => ')',
        _ => '(',
    }
}

/// Tokens that make the expression around them one level deeper.
fn is_operator(token: Token) -> bool {
    matches!(
        token,
        Token::Plus
            | Token::Minus
            | Token::Star
            | Token::Slash
            | Token::Percent
            | Token::EqEq
            | Token::NotEq
            | Token::Lt
            | Token::LtEq
            | Token::Gt
            | Token::GtEq
            | Token::AndAnd
            | Token::OrOr
            | Token::QuestionQuestion
            | Token::In
            | Token::Bang
            | Token::Dot
            | Token::QuestionDot
            | Token::FatArrow
            | Token::If
            | Token::Pipe
            | Token::Question
            | Token::Arrow
    )
}

/// Tokens after which a new expression starts at the same level.
fn resets_expression(token: Token) -> bool {
    matches!(
        token,
        Token::Comma
            | Token::Step
            | Token::Let
            | Token::Set
            | Token::Return
            | Token::Fail
            | Token::Emit
            | Token::Yield
            | Token::For
            | Token::Parallel
            | Token::Try
            | Token::On
            | Token::Settings
            | Token::Mock
            | Token::Assert
    ) || starts_declaration(token)
}

/// Keywords that begin a statement and cannot appear inside an expression.
fn starts_statement_only(token: Token) -> bool {
    matches!(
        token,
        Token::Step
            | Token::Let
            | Token::Set
            | Token::Return
            | Token::Fail
            | Token::Emit
            | Token::Yield
            | Token::Parallel
            | Token::Try
            | Token::On
            | Token::Settings
            | Token::Mock
            | Token::Assert
    )
}

fn starts_declaration(token: Token) -> bool {
    matches!(
        token,
        Token::Workflow
            | Token::Type
            | Token::Connection
            | Token::Event
            | Token::Fn
            | Token::Import
            | Token::Test
    )
}
