//! Properties of the front end that must hold for every input, checked on random
//! ones: `lex` and `parse` never panic, every span they report lies inside the
//! input on character boundaries, and the tokens plus the whitespace and comments
//! between them are exactly the input.
//!
//! Four generators, from least to most structured: random bytes, sequences of real
//! token texts, and valid example files with one token deleted, inserted or
//! duplicated. Case counts are modest so the file runs in seconds in a debug
//! build; raise them with `PROPTEST_CASES=10000 cargo test --test proptest`.
//! The fuzz target in `compiler/fuzz/` searches the same space for much longer.

#![allow(clippy::unwrap_used)]

use flowc_compiler::syntax::{self, Lexed, token::KEYWORDS};
use flowc_compiler::{Diagnostic, Span};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// The examples, valid programs to mutate.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "deal_closed",
        include_str!("../../examples/deal_closed.flow"),
    ),
    (
        "github_slack",
        include_str!("../../examples/github_slack.flow"),
    ),
    (
        "hourly_enrich_approve",
        include_str!("../../examples/hourly_enrich_approve.flow"),
    ),
    (
        "order_events",
        include_str!("../../examples/order_events.flow"),
    ),
    (
        "payment_validation",
        include_str!("../../examples/payment_validation.flow"),
    ),
];

/// Token texts other than keywords: punctuation, names, literals, strings with
/// interpolations (closed and not), comments, and line breaks.
const VOCABULARY: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ",",
    ":",
    ".",
    "?.",
    "?",
    "??",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "!",
    "&&",
    "||",
    "|",
    "=>",
    "->",
    "x",
    "order",
    "webhook",
    "schedule",
    "tz",
    "manual",
    "GET",
    "POST",
    "_",
    "len(",
    "f(x)",
    "a.b",
    "xs[0]",
    "0",
    "42",
    "1_000",
    "9223372036854775808",
    "2.5",
    "1e3",
    "1.5e-3",
    "10s",
    "500ms",
    "5m",
    "2h",
    "7d",
    "10y",
    "1.5s",
    "0x1f",
    "\"\"",
    "\"text\"",
    "\"a ${x} b\"",
    "\"${a + \"b\"}\"",
    "\"${\"",
    "\"unterminated",
    "\"${ }\"",
    "\"\\n\\t\\\"\"",
    "\"\\u{1F680}\"",
    "\"\\q\"",
    "\"\\u{110000}\"",
    "\"${x",
    "// comment",
    "/// doc",
    "/* block */",
    "/* open",
    "\n",
    "\n\n",
    "\t",
    "é",
    "🚀",
    "\u{a0}",
    "#",
    "@",
    "`",
    ";",
    "\\",
];

/// 256 cases a property, or `PROPTEST_CASES`.
fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(256);
    Config {
        cases,
        // A failing case is printed, shrunk, with its seed; nothing is written next
        // to this file.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Lexes and parses `source`, checking every span law; panics (failing the case)
/// on the first broken one. Returns nothing: the point is that it returns at all.
fn check_front_end(source: &str) {
    let lexed = syntax::lex(source);
    check_token_spans(source, &lexed);
    check_diagnostics(source, &lexed.diagnostics, "lex");
    let parse = syntax::parse(source);
    check_diagnostics(source, &parse.diagnostics, "parse");
    check_tree_spans(source, &parse.module);
}

fn check_span(source: &str, span: Span, what: &str) {
    assert!(
        span.start <= span.end && span.end as usize <= source.len(),
        "{what} span {span:?} outside the input of {} bytes",
        source.len()
    );
    assert!(
        source.is_char_boundary(span.start as usize) && source.is_char_boundary(span.end as usize),
        "{what} span {span:?} not on character boundaries"
    );
}

fn check_diagnostics(source: &str, diagnostics: &[Diagnostic], stage: &str) {
    for diagnostic in diagnostics {
        check_span(source, diagnostic.span(), stage);
        for label in &diagnostic.labels {
            check_span(source, label.span, stage);
        }
    }
}

/// Token spans are in order and do not overlap, and what lies between them (and
/// before the first and after the last) is whitespace and comments only. Put
/// back together, tokens and trivia are the input.
fn check_token_spans(source: &str, lexed: &Lexed) {
    assert_eq!(lexed.tokens.len(), lexed.spans.len());
    let mut rebuilt = String::with_capacity(source.len());
    let mut end = 0usize;
    for (token, &span) in lexed.tokens.iter().zip(&lexed.spans) {
        check_span(source, span, "token");
        let start = span.start as usize;
        assert!(
            start >= end,
            "{token:?} at {span:?} overlaps the token before, which ends at {end}"
        );
        let gap = &source[end..start];
        assert!(
            only_trivia(gap),
            "{gap:?} between tokens at {end}..{start} is not whitespace or comments"
        );
        rebuilt.push_str(gap);
        rebuilt.push_str(&source[span.range()]);
        end = span.end as usize;
    }
    let tail = &source[end..];
    assert!(
        only_trivia(tail),
        "{tail:?} after the last token is not whitespace or comments"
    );
    rebuilt.push_str(tail);
    assert_eq!(rebuilt, source);
    for (span, _) in &lexed.docs {
        check_span(source, *span, "doc comment");
    }
}

/// Whether `text` is whitespace, `//` comments and (nesting) `/* */` comments; a
/// block comment may run to the end of the input, unterminated.
fn only_trivia(text: &str) -> bool {
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', '\t', '\r', '\n', '\x0c']);
        if rest.is_empty() {
            return true;
        }
        if rest.starts_with("//") {
            match rest.find('\n') {
                Some(newline) => rest = &rest[newline..],
                None => return true,
            }
        } else if rest.starts_with("/*") {
            let bytes = rest.as_bytes();
            let (mut depth, mut i) = (1usize, 2usize);
            while depth > 0 && i < bytes.len() {
                if bytes[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if bytes[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                } else {
                    i += 1;
                }
            }
            if depth > 0 {
                return true;
            }
            rest = &rest[i..];
        } else {
            return false;
        }
    }
}

/// Every node span the tree printer shows (`@start..end`) lies inside the input.
fn check_tree_spans(source: &str, module: &syntax::ast::Module) {
    let printed = syntax::pretty::module(module);
    for (at, _) in printed.match_indices(" @") {
        let rest = &printed[at + 2..];
        let Some((start, rest)) = rest.split_once("..") else {
            continue;
        };
        let end: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let (Ok(start), Ok(end)) = (start.parse::<usize>(), end.parse::<usize>()) else {
            continue;
        };
        assert!(
            start <= end && end <= source.len(),
            "tree span {start}..{end} outside the input of {} bytes",
            source.len()
        );
    }
}

/// Every word of the language and of the vocabulary above.
fn all_token_texts() -> Vec<String> {
    let mut texts: Vec<String> = KEYWORDS.iter().map(|(text, _)| text.to_string()).collect();
    texts.extend(VOCABULARY.iter().map(|text| text.to_string()));
    texts
}

fn token_sequence(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(all_token_texts()), 0..max)
        .prop_map(|words| words.join(" "))
}

/// Source text that looks like code: brackets, quotes, operators, names, digits.
fn code_like() -> impl Strategy<Value = String> {
    "[a-z0-9_ {}()\\[\\]\"$:.,=<>!?|&+*/%\\\\\n-]{0,400}"
}

proptest! {
    #![proptest_config(config())]

    /// (a) Any bytes, decoded lossily, lex and parse without a panic.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_front_end(&String::from_utf8_lossy(&bytes));
    }

    /// (a) The same for text made of the characters code is made of, which gets
    /// much further into the parser than random bytes do.
    #[test]
    fn code_like_text_never_panics(source in code_like()) {
        check_front_end(&source);
    }

    /// (b) Sequences of real token texts, keywords included, joined with spaces.
    #[test]
    fn token_sequences_never_panic(source in token_sequence(200)) {
        check_front_end(&source);
    }

    /// (c) Tokens and the trivia between them are the input, for token soup...
    #[test]
    fn tokens_and_trivia_rebuild_token_soup(source in token_sequence(120)) {
        check_token_spans(&source, &syntax::lex(&source));
    }

    /// (c) ...and for arbitrary text.
    #[test]
    fn tokens_and_trivia_rebuild_any_text(source in any::<String>()) {
        check_token_spans(&source, &syntax::lex(&source));
    }

    /// (d) A valid example with one token deleted, inserted or duplicated.
    #[test]
    fn mutated_examples_never_panic(
        example in 0..EXAMPLES.len(),
        position in any::<prop::sample::Index>(),
        mutation in 0..3u8,
        word in prop::sample::select(all_token_texts()),
    ) {
        let (_, source) = EXAMPLES[example];
        let lexed = syntax::lex(source);
        let span = lexed.spans[position.index(lexed.spans.len())];
        let (start, end) = (span.start as usize, span.end as usize);
        let mutated = match mutation {
            0 => format!("{}{}", &source[..start], &source[end..]),
            1 => format!("{}{} {}", &source[..start], word, &source[start..]),
            _ => format!("{}{}", &source[..end], &source[start..]),
        };
        check_front_end(&mutated);
    }
}

/// The mutation property starts from valid programs; if an example stopped
/// parsing cleanly it would be testing something else.
#[test]
fn examples_parse_cleanly() {
    for (name, source) in EXAMPLES {
        let parse = syntax::parse(source);
        assert!(
            parse.diagnostics.is_empty(),
            "{name}: {:?}",
            parse.diagnostics
        );
        check_front_end(source);
    }
}

/// Deep nesting is bounded before the parser sees it, so none of these may
/// overflow the stack.
#[test]
fn deep_nesting_is_bounded() {
    let depth = 20_000;
    let cases = [
        "(".repeat(depth),
        "[".repeat(depth),
        "{".repeat(depth),
        "\"${".repeat(depth),
        format!("fn f() -> int = {}1", "-".repeat(depth)),
        format!("fn f() -> int = {}x", "!".repeat(depth)),
        format!("fn f() -> int = {}1", "1 + ".repeat(depth)),
        format!("fn f() -> int = {}1", "x => ".repeat(depth)),
        format!("fn f() -> int = {}1", "if a then ".repeat(depth)),
        format!("fn f() -> int = x{}", ".y".repeat(depth)),
        format!("fn f() -> int = x{}", "(1)".repeat(depth)),
        format!("fn f() -> int = 1{}", " ?? 1".repeat(depth)),
        format!("type T = {}int", "[".repeat(depth)),
        format!("type T = int{}", "?".repeat(depth)),
        format!("workflow w() {{ {} }}", "if a { ".repeat(depth)),
        format!("/* {}", "/* ".repeat(depth)),
    ];
    for source in &cases {
        check_front_end(source);
    }
}
