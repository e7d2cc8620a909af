//! The lexer: source text → tokens with byte spans, plus doc comments and
//! lexical diagnostics. It never stops at bad input: an unexpected character
//! becomes an `Error` token (reported once, here) and lexing goes on.
//!
//! Why it is modal: a string is not one token, because `"total ${sum(xs) + 1} EUR"`
//! holds a whole expression, which may itself hold strings and braces. So the lexer
//! keeps a stack of frames. In code mode, logos produces tokens; on `"` a string
//! frame is pushed and string text is scanned by hand up to the closing quote or the
//! next `${`, which pushes an interpolation frame and returns to code mode; the `}`
//! that balances that `${` pops back into the string. Strings and interpolations end
//! on their line: a newline inside one closes it with a diagnostic, so one missing
//! quote cannot swallow the rest of the file.

use super::diagnostics as diag;
use super::token::Token;
use crate::diagnostic::{Diagnostic, Span};
use logos::Logos;

/// The tokens of one file, in two parallel vectors.
#[derive(Clone, Debug, Default)]
pub struct Lexed {
    pub tokens: Vec<Token>,
    pub spans: Vec<Span>,
    /// `///` comments: their span and text without the slashes (and one leading space).
    pub docs: Vec<(Span, String)>,
    /// Every comment, in source order: `//` and `///` lines (without their newline)
    /// and `/* … */` blocks. The parser never sees them; the formatter and editor
    /// features (folding, semantic tokens) do.
    pub comments: Vec<Span>,
    pub diagnostics: Vec<Diagnostic>,
    /// Regions whose mistakes the lexer has reported (an unterminated string and
    /// the rest of its line): the parser stays quiet about them.
    pub quiet: Vec<Span>,
}

impl Lexed {
    fn push(&mut self, token: Token, span: Span) {
        self.tokens.push(token);
        self.spans.push(span);
    }
}

enum Frame {
    /// Inside a string whose opening quote is at this offset.
    String(usize),
    /// Inside `${…}`: where the `${` is, and how many `{` are open within it.
    Interp { open: Span, depth: u32 },
}

/// Lexes a whole file. Never panics.
pub fn lex(source: &str) -> Lexed {
    let mut lexer = Lexer {
        source,
        out: Lexed::default(),
        frames: Vec::new(),
        // A UTF-8 byte-order mark some editors write is not part of the program.
        pos: if source.starts_with('\u{feff}') { 3 } else { 0 },
    };
    lexer.run();
    lexer.out
}

struct Lexer<'src> {
    source: &'src str,
    out: Lexed,
    frames: Vec<Frame>,
    pos: usize,
}

impl Lexer<'_> {
    fn run(&mut self) {
        while self.pos < self.source.len() {
            match self.frames.last() {
                Some(Frame::String(_)) => self.string_mode(),
                _ => self.code_mode(),
            }
        }
        // End of input inside strings or interpolations closes them all.
        self.close_line_frames(self.source.len());
    }

    /// Lexes code with logos until a string or block comment starts, an
    /// interpolation closes, or the input ends.
    fn code_mode(&mut self) {
        let base = self.pos;
        let mut lex = Token::lexer(&self.source[base..]);
        let mut last_end = base;
        while let Some(result) = lex.next() {
            let range = lex.span();
            let (start, end) = (base + range.start, base + range.end);
            let span = Span::new(start, end);
            self.line_comments(last_end, start);
            // A newline inside an interpolation ends it (and the string around it).
            if self.in_interpolation() && self.source[last_end..start].contains('\n') {
                self.close_line_frames(last_end);
                self.pos = start;
                return;
            }
            last_end = end;
            match result {
                Ok(Token::StrStart) => {
                    self.out.push(Token::StrStart, span);
                    self.frames.push(Frame::String(start));
                    self.pos = end;
                    return;
                }
                Ok(Token::BlockCommentStart) => {
                    self.pos = self.block_comment(start);
                    return;
                }
                Ok(Token::DocComment) => {
                    self.out.comments.push(span);
                    let text = &self.source[start..end];
                    if !text.starts_with("////") {
                        let text = text[3..].strip_prefix(' ').unwrap_or(&text[3..]);
                        self.out.docs.push((span, text.trim_end().to_string()));
                    }
                }
                Ok(Token::LBrace) => {
                    if let Some(Frame::Interp { depth, .. }) = self.frames.last_mut() {
                        *depth += 1;
                    }
                    self.out.push(Token::LBrace, span);
                }
                Ok(Token::RBrace) => {
                    if let Some(Frame::Interp { depth, .. }) = self.frames.last_mut() {
                        if *depth == 0 {
                            self.frames.pop();
                            self.out.push(Token::InterpClose, span);
                            self.pos = end;
                            return;
                        }
                        *depth -= 1;
                    }
                    self.out.push(Token::RBrace, span);
                }
                Ok(Token::LParen) => {
                    let call = start > 0
                        && matches!(self.source.as_bytes()[start - 1],
                            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b')' | b']');
                    let token = if call {
                        Token::CallParen
                    } else {
                        Token::LParen
                    };
                    self.out.push(token, span);
                }
                Ok(Token::Int) => {
                    if parse_int(&self.source[start..end]).is_none() {
                        self.out.diagnostics.push(diag::integer_too_large(span));
                    }
                    self.out.push(Token::Int, span);
                }
                Ok(Token::Duration) => {
                    if parse_duration(&self.source[start..end]).is_none() {
                        self.out.diagnostics.push(diag::duration_too_large(span));
                    }
                    self.out.push(Token::Duration, span);
                }
                Ok(Token::BadNumber) => {
                    let token = self.bad_number(span);
                    self.out.push(token, span);
                }
                Ok(token) => self.out.push(token, span),
                Err(()) => self.unexpected(span),
            }
        }
        self.line_comments(last_end, self.source.len());
        self.pos = self.source.len();
    }

    /// Records the `//` comments in a stretch logos skipped between two tokens. Such
    /// a stretch holds only whitespace and line comments (the two skip patterns of
    /// `Token`), so a comment starts at every `//` found outside another comment.
    fn line_comments(&mut self, from: usize, to: usize) {
        let Some(gap) = self.source.get(from..to) else {
            return;
        };
        // Most gaps are a space or a line break, for which building a substring
        // searcher costs more than comparing the few byte pairs there are.
        let bytes = gap.as_bytes();
        let mut offset = 0;
        while let Some(found) = bytes[offset..].windows(2).position(|pair| pair == b"//") {
            let start = offset + found;
            let end = gap[start..].find('\n').map_or(gap.len(), |len| start + len);
            let end = if gap[..end].ends_with('\r') {
                end - 1
            } else {
                end
            };
            self.out
                .comments
                .push(Span::new(from + start, from + end.max(start + 2)));
            offset = end.max(start + 2);
        }
    }

    fn in_interpolation(&self) -> bool {
        matches!(self.frames.last(), Some(Frame::Interp { .. }))
    }

    /// Scans string text up to the closing quote, a `${`, or the end of the line.
    fn string_mode(&mut self) {
        let bytes = self.source.as_bytes();
        let text_start = self.pos;
        let mut i = self.pos;
        loop {
            match bytes.get(i) {
                None | Some(b'\n') => {
                    self.push_text(text_start, i);
                    self.close_line_frames(i);
                    self.pos = i;
                    return;
                }
                Some(b'\r') if bytes.get(i + 1) == Some(&b'\n') => {
                    self.push_text(text_start, i);
                    self.close_line_frames(i);
                    self.pos = i;
                    return;
                }
                Some(b'"') => {
                    self.push_text(text_start, i);
                    self.out.push(Token::StrEnd, Span::new(i, i + 1));
                    self.frames.pop();
                    self.pos = i + 1;
                    return;
                }
                Some(b'\\') => i = self.escape(i),
                Some(b'$') if bytes.get(i + 1) == Some(&b'{') => {
                    self.push_text(text_start, i);
                    let open = Span::new(i, i + 2);
                    self.out.push(Token::InterpOpen, open);
                    let rest = &self.source[i + 2..];
                    let inner = rest.trim_start_matches([' ', '\t']);
                    if inner.starts_with('}') {
                        let close = i + 2 + (rest.len() - inner.len()) + 1;
                        self.out
                            .diagnostics
                            .push(diag::empty_interpolation(Span::new(i, close)));
                    }
                    self.frames.push(Frame::Interp { open, depth: 0 });
                    self.pos = i + 2;
                    return;
                }
                Some(_) => i += 1,
            }
        }
    }

    fn push_text(&mut self, start: usize, end: usize) {
        if end > start {
            self.out.push(Token::StrText, Span::new(start, end));
        }
    }

    /// Checks the escape at `i` (a backslash) and returns the offset after it.
    fn escape(&mut self, i: usize) -> usize {
        let rest = &self.source[i + 1..];
        let Some(next) = rest.chars().next() else {
            return i + 1;
        };
        match next {
            'n' | 'r' | 't' | '0' | '\\' | '"' | '$' => i + 2,
            // A backslash at the end of the line: the string is unterminated, which
            // the caller reports when it reaches the newline.
            '\n' => i + 1,
            'u' => {
                let after_u = &rest[1..];
                let Some(body) = after_u.strip_prefix('{') else {
                    let span = Span::new(i, i + 2);
                    self.out
                        .diagnostics
                        .push(diag::invalid_unicode_escape("\\u", span));
                    return i + 2;
                };
                let close = body.find(['}', '"', '\n']);
                match close {
                    Some(len) if body.as_bytes()[len] == b'}' => {
                        let digits = &body[..len];
                        let end = i + 3 + len + 1;
                        let valid = (1..=6).contains(&digits.len())
                            && u32::from_str_radix(digits, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .is_some();
                        if !valid {
                            let span = Span::new(i, end);
                            self.out
                                .diagnostics
                                .push(diag::invalid_unicode_escape(&self.source[i..end], span));
                        }
                        end
                    }
                    _ => {
                        let span = Span::new(i, i + 3);
                        self.out
                            .diagnostics
                            .push(diag::invalid_unicode_escape("\\u{", span));
                        i + 3
                    }
                }
            }
            other => {
                let end = i + 1 + other.len_utf8();
                let span = Span::new(i, end);
                self.out
                    .diagnostics
                    .push(diag::unknown_escape(&self.source[i..end], span));
                end
            }
        }
    }

    /// Closes every string and interpolation left open at the end of a line (or of
    /// the input), innermost first, each with its diagnostic and a zero-width
    /// closing token so the parser sees balanced strings.
    ///
    /// One diagnostic says it: when an interpolation is open, the outermost one is
    /// what lacks its `}` (a quote inside it only looks like a string start);
    /// otherwise it is the string. The rest of the line is marked quiet, so the
    /// parser does not report the same mistake again.
    fn close_line_frames(&mut self, at: usize) {
        let interpolation = self.frames.iter().find_map(|frame| match frame {
            Frame::Interp { open, .. } => Some(*open),
            Frame::String(_) => None,
        });
        let reported = match (interpolation, self.frames.first()) {
            (Some(open), _) => Some(diag::unterminated_interpolation(open)),
            (None, Some(Frame::String(open))) => {
                Some(diag::unterminated_string(Span::new(*open, at)))
            }
            _ => None,
        };
        if let Some(diagnostic) = reported {
            let start = diagnostic.span().start as usize;
            self.out.quiet.push(Span::new(start, at));
            self.out.diagnostics.push(diagnostic);
        }
        while let Some(frame) = self.frames.pop() {
            let token = match frame {
                Frame::String(_) => Token::StrEnd,
                Frame::Interp { .. } => Token::InterpClose,
            };
            self.out.push(token, Span::at(at));
        }
    }

    /// Skips a (nesting) block comment that starts at `start`; returns its end.
    fn block_comment(&mut self, start: usize) -> usize {
        let end = self.block_comment_end(start);
        self.out.comments.push(Span::new(start, end));
        end
    }

    fn block_comment_end(&mut self, start: usize) -> usize {
        let bytes = self.source.as_bytes();
        let mut depth = 1usize;
        let mut i = start + 2;
        while i < bytes.len() {
            if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                depth += 1;
                i += 2;
            } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            } else {
                i += 1;
            }
        }
        self.out
            .diagnostics
            .push(diag::unterminated_comment(Span::new(start, start + 2)));
        bytes.len()
    }

    /// Reports a number run into letters and says which token stands in for it.
    fn bad_number(&mut self, span: Span) -> Token {
        let text = &self.source[span.range()];
        let digits_end = text
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(text.len());
        let (number, suffix) = text.split_at(digits_end);
        let radix_prefix = number == "0" && suffix.starts_with(['x', 'o', 'b']);
        let exponent_like = suffix.starts_with(['e', 'E']) && !is_duration_unit(suffix);
        let letters_only = suffix.bytes().all(|b| b.is_ascii_alphabetic());
        if exponent_like || radix_prefix || !letters_only {
            self.out.diagnostics.push(diag::invalid_number(text, span));
            return if number.contains('.') {
                Token::Float
            } else {
                Token::Int
            };
        }
        self.out
            .diagnostics
            .push(diag::invalid_duration(text, span));
        Token::Duration
    }

    /// Reports an unexpected character, merging a run of them into one token.
    fn unexpected(&mut self, span: Span) {
        let contiguous = self.out.tokens.last() == Some(&Token::Error)
            && self
                .out
                .spans
                .last()
                .is_some_and(|last| last.end == span.start);
        if contiguous {
            if let Some(last) = self.out.spans.last_mut() {
                last.end = span.end;
            }
            if let Some(last) = self.out.diagnostics.last_mut()
                && last.code == diag::UNEXPECTED_CHARACTER
                && let Some(label) = last.labels.first_mut()
            {
                label.span.end = span.end;
                if !last.message.ends_with("characters") {
                    last.message = "unexpected characters".to_string();
                    last.help = None;
                }
            }
            return;
        }
        let ch = self.source[span.range()]
            .chars()
            .next()
            .unwrap_or('\u{fffd}');
        self.out
            .diagnostics
            .push(diag::unexpected_character(ch, span));
        self.out.push(Token::Error, span);
    }
}

fn is_duration_unit(suffix: &str) -> bool {
    matches!(suffix, "ms" | "s" | "m" | "h" | "d")
}

/// The value of an integer literal (`1_000`), or `None` past `i64::MAX`.
pub fn parse_int(text: &str) -> Option<i64> {
    let mut value: i64 = 0;
    for byte in text.bytes() {
        if byte == b'_' {
            continue;
        }
        value = value
            .checked_mul(10)?
            .checked_add(i64::from(byte.wrapping_sub(b'0')))?;
    }
    Some(value)
}

/// The value of a float literal (`2.5e-3`, `1_000.5`).
pub fn parse_float(text: &str) -> f64 {
    let cleaned: String = text.chars().filter(|&c| c != '_').collect();
    cleaned.parse().unwrap_or(f64::NAN)
}

/// The value of a duration literal in milliseconds, or `None` when it overflows.
pub fn parse_duration(text: &str) -> Option<i64> {
    let digits_end = text.find(|c: char| c.is_ascii_alphabetic())?;
    let value = parse_int(&text[..digits_end])?;
    let unit: i64 = match &text[digits_end..] {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    value.checked_mul(unit)
}

/// Decodes the escapes in string text. Invalid escapes were reported by the lexer;
/// here they decode leniently (the escaped character itself) so the tree is whole.
pub fn unescape(raw: &str) -> String {
    if !raw.contains('\\') {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('0') => out.push('\0'),
            Some('u') => {
                let rest = chars.as_str();
                let decoded = rest.strip_prefix('{').and_then(|body| {
                    let len = body.find('}')?;
                    let ch = u32::from_str_radix(&body[..len], 16)
                        .ok()
                        .and_then(char::from_u32)?;
                    Some((ch, len + 2))
                });
                match decoded {
                    Some((ch, consumed)) => {
                        out.push(ch);
                        for _ in 0..consumed {
                            chars.next();
                        }
                    }
                    None => out.push('u'),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}
