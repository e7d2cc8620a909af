//! Both editor grammars highlight every keyword of the lexer's one keyword table.
//!
//! `KEYWORDS` and `CONTEXTUAL_KEYWORDS` in `syntax/token.rs` are the single source of
//! truth; the TextMate grammar (`grammar/vscode/`) and the tree-sitter grammar
//! (`grammar/tree-sitter-flow/`) each repeat the list in their own format. This test
//! reads the table and checks, for each grammar, that its highlighting rules name
//! every keyword and that its highlight test file asserts a keyword scope on every
//! keyword. It does not run the grammars: `vscode-tmgrammar-test` and
//! `tree-sitter test` prove that those assertions hold, so a keyword added to the
//! lexer and forgotten in a grammar fails here, and a wrong rule fails there.

use flowc_compiler::syntax::token::{CONTEXTUAL_KEYWORDS, KEYWORDS};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn grammar_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../grammar")
        .join(relative)
}

fn read(relative: &str) -> String {
    let path = grammar_file(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// Every reserved and contextual keyword.
fn all_keywords() -> Vec<&'static str> {
    KEYWORDS
        .iter()
        .map(|(text, _)| *text)
        .chain(CONTEXTUAL_KEYWORDS.iter().copied())
        .collect()
}

/// The keywords of `wanted` that are not in `found`.
fn missing<'a>(wanted: &[&'a str], found: &BTreeSet<String>) -> Vec<&'a str> {
    wanted
        .iter()
        .copied()
        .filter(|keyword| !found.contains(*keyword))
        .collect()
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// The identifier of `line` that spans exactly `from..to`, if one does.
fn word_exactly_at(line: &str, from: usize, to: usize) -> Option<&str> {
    let bytes = line.as_bytes();
    let word = line.get(from..to)?;
    let whole = !word.is_empty()
        && word.bytes().all(is_word_byte)
        && (from == 0 || !is_word_byte(bytes[from - 1]))
        && bytes.get(to).is_none_or(|byte| !is_word_byte(*byte));
    whole.then_some(word)
}

/// The identifier of `line` that covers byte `column`, if one does.
fn word_around(line: &str, column: usize) -> Option<&str> {
    let bytes = line.as_bytes();
    if !bytes.get(column).copied().is_some_and(is_word_byte) {
        return None;
    }
    let start = (0..column)
        .rev()
        .take_while(|&index| is_word_byte(bytes[index]))
        .last()
        .unwrap_or(column);
    let end = (column..bytes.len())
        .find(|&index| !is_word_byte(bytes[index]))
        .unwrap_or(bytes.len());
    line.get(start..end)
}

// ------------------------------------------------------------------ TextMate

/// Whether a TextMate scope marks a keyword (`true`, `false` and `null` are
/// `constant.language`, as in most TextMate grammars).
fn is_textmate_keyword_scope(scope: &str) -> bool {
    scope.starts_with("keyword.") || scope.starts_with("constant.language.")
}

/// The words that a `vscode-tmgrammar-test` file asserts a keyword scope on.
///
/// The format: a header line, then source lines, each followed by any number of
/// assertion lines. `//   ^^^^ scope another.scope - excluded.scope` asserts the
/// columns of the carets; `// <---- scope` asserts columns from 0, one per `-`,
/// after skipping one column per `~`. Scopes after a lone `-` are exclusions.
fn textmate_asserted_keywords(test_file: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut source_line: Option<&str> = None;
    for line in test_file.lines().skip(1) {
        let Some(assertion) = line.strip_prefix("//") else {
            source_line = Some(line);
            continue;
        };
        let trimmed = assertion.trim_start();
        let ranges: Vec<(usize, usize)>;
        let scopes: &str;
        if trimmed.starts_with('^') {
            let carets_end = assertion.rfind('^').expect("a caret assertion has a caret") + 1;
            ranges = caret_runs(&assertion[..carets_end])
                .into_iter()
                .map(|(from, to)| (from + 2, to + 2))
                .collect();
            scopes = &assertion[carets_end..];
        } else if let Some(arrow) = trimmed.strip_prefix('<') {
            let tildes = arrow.bytes().take_while(|byte| *byte == b'~').count();
            let dashes = arrow[tildes..]
                .bytes()
                .take_while(|byte| *byte == b'-')
                .count();
            if dashes == 0 {
                source_line = Some(line);
                continue;
            }
            ranges = vec![(tildes, tildes + dashes)];
            scopes = &arrow[tildes + dashes..];
        } else {
            // An ordinary comment line is source like any other.
            source_line = Some(line);
            continue;
        }
        let required = scopes.split(" - ").next().unwrap_or("");
        if !required.split_whitespace().any(is_textmate_keyword_scope) {
            continue;
        }
        let Some(source) = source_line else { continue };
        for (from, to) in ranges {
            if let Some(word) = word_exactly_at(source, from, to) {
                found.insert(word.to_string());
            }
        }
    }
    found
}

/// The `from..to` column ranges of the runs of `^` in `text`.
fn caret_runs(text: &str) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (index, byte) in text.bytes().chain(std::iter::once(b' ')).enumerate() {
        match (byte == b'^', start) {
            (true, None) => start = Some(index),
            (false, Some(from)) => {
                runs.push((from, index));
                start = None;
            }
            _ => {}
        }
    }
    runs
}

/// The words named as alternatives in a regex: escapes such as `\b` and `\s` are
/// dropped first, so `\b(?:let|set)\b` names `let` and `set`.
fn regex_words(regex: &str) -> BTreeSet<String> {
    let mut cleaned = String::with_capacity(regex.len());
    let mut chars = regex.chars();
    while let Some(char) = chars.next() {
        if char == '\\' {
            chars.next();
            cleaned.push(' ');
        } else {
            cleaned.push(char);
        }
    }
    cleaned
        .split(|char: char| !(char.is_ascii_alphanumeric() || char == '_'))
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect()
}

/// The scope names a TextMate rule gives: its `name` and those of its captures.
fn rule_scopes(rule: &serde_json::Map<String, Value>) -> Vec<&str> {
    let mut scopes: Vec<&str> = rule
        .get("name")
        .and_then(Value::as_str)
        .into_iter()
        .collect();
    for key in ["captures", "beginCaptures", "endCaptures"] {
        if let Some(Value::Object(captures)) = rule.get(key) {
            scopes.extend(
                captures
                    .values()
                    .filter_map(|capture| capture.get("name").and_then(Value::as_str)),
            );
        }
    }
    scopes
}

/// The words that rules giving a keyword scope match, anywhere under `value`.
fn textmate_rule_keywords(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(rule) => {
            let keyword_rule = rule_scopes(rule).into_iter().any(is_textmate_keyword_scope);
            if keyword_rule {
                for key in ["match", "begin"] {
                    if let Some(regex) = rule.get(key).and_then(Value::as_str) {
                        found.extend(regex_words(regex));
                    }
                }
            }
            for child in rule.values() {
                textmate_rule_keywords(child, found);
            }
        }
        Value::Array(items) => {
            for item in items {
                textmate_rule_keywords(item, found);
            }
        }
        _ => {}
    }
}

#[test]
fn the_textmate_grammar_has_a_keyword_rule_for_every_keyword() {
    let grammar: Value = serde_json::from_str(&read("vscode/syntaxes/flow.tmLanguage.json"))
        .expect("flow.tmLanguage.json is JSON");

    // Reserved words are keywords everywhere, so the `keywords` rule names them all.
    let mut reserved = BTreeSet::new();
    let keywords_rule = grammar
        .pointer("/repository/keywords")
        .expect("the grammar has a `keywords` rule");
    textmate_rule_keywords(keywords_rule, &mut reserved);
    let reserved_words: Vec<&str> = KEYWORDS.iter().map(|(text, _)| *text).collect();
    assert_eq!(
        missing(&reserved_words, &reserved),
        Vec::<&str>::new(),
        "keywords the TextMate `keywords` rule does not match"
    );

    // Contextual keywords are keywords in one position, each matched by its own rule.
    let mut anywhere = BTreeSet::new();
    textmate_rule_keywords(&grammar, &mut anywhere);
    assert_eq!(
        missing(&all_keywords(), &anywhere),
        Vec::<&str>::new(),
        "keywords no keyword-scoped TextMate rule matches"
    );
}

#[test]
fn the_textmate_highlight_test_asserts_a_keyword_scope_on_every_keyword() {
    let asserted = textmate_asserted_keywords(&read("vscode/test/keywords.flow"));
    assert_eq!(
        missing(&all_keywords(), &asserted),
        Vec::<&str>::new(),
        "keywords grammar/vscode/test/keywords.flow does not assert a keyword scope on"
    );
}

// ------------------------------------------------------------------ tree-sitter

/// Whether a tree-sitter capture marks a keyword: `@keyword` and its refinements,
/// and the constants `true`, `false` and `null` are captured as.
fn is_tree_sitter_keyword_capture(capture: &str) -> bool {
    ["keyword", "boolean", "constant.builtin"]
        .iter()
        .any(|prefix| capture == *prefix || capture.starts_with(&format!("{prefix}.")))
}

/// The words that a `tree-sitter test` highlight file asserts a keyword capture on.
///
/// The format: a comment line `//   ^ capture` asserts the column of its caret in
/// the nearest line above that is not an assertion; `// <- capture` asserts the
/// column where its `//` starts. A capture written `!capture` is a negation.
fn tree_sitter_asserted_keywords(test_file: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut source_line: Option<&str> = None;
    for line in test_file.lines() {
        let comment_start = line.len() - line.trim_start().len();
        let Some(after_slashes) = line.trim_start().strip_prefix("//") else {
            source_line = Some(line);
            continue;
        };
        let marker = after_slashes.trim_start();
        let marker_column = comment_start + 2 + (after_slashes.len() - marker.len());
        let (column, captures) = if let Some(rest) = marker.strip_prefix('^') {
            (marker_column, rest)
        } else if let Some(rest) = marker.strip_prefix("<-") {
            (comment_start, rest)
        } else {
            source_line = Some(line);
            continue;
        };
        let keyword_capture = captures
            .split_whitespace()
            .filter(|capture| !capture.starts_with('!'))
            .any(is_tree_sitter_keyword_capture);
        if !keyword_capture {
            continue;
        }
        if let Some(word) = source_line.and_then(|source| word_around(source, column)) {
            found.insert(word.to_string());
        }
    }
    found
}

/// The keywords a tree-sitter query file names: as anonymous nodes (`"if"`) or, for
/// the literals the grammar makes named nodes of, as node types (`(true)`).
fn tree_sitter_query_keywords(query: &str) -> BTreeSet<String> {
    let code: String = query
        .lines()
        .map(|line| line.split_once(';').map_or(line, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n");
    all_keywords()
        .into_iter()
        .filter(|keyword| {
            code.contains(&format!("\"{keyword}\"")) || code.contains(&format!("({keyword})"))
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn the_tree_sitter_highlight_query_names_every_keyword() {
    let named = tree_sitter_query_keywords(&read("tree-sitter-flow/queries/highlights.scm"));
    assert_eq!(
        missing(&all_keywords(), &named),
        Vec::<&str>::new(),
        "keywords grammar/tree-sitter-flow/queries/highlights.scm does not name"
    );
}

#[test]
fn the_tree_sitter_highlight_test_asserts_a_keyword_capture_on_every_keyword() {
    let asserted =
        tree_sitter_asserted_keywords(&read("tree-sitter-flow/test/highlight/keywords.flow"));
    assert_eq!(
        missing(&all_keywords(), &asserted),
        Vec::<&str>::new(),
        "keywords grammar/tree-sitter-flow/test/highlight/keywords.flow does not assert a keyword capture on"
    );
}

// ------------------------------------------------------------------ the readers

#[test]
fn textmate_assertions_are_read_by_column() {
    let file = "\
// SYNTAX TEST \"source.flow\" \"x\"
step s = wait until t
// <---- keyword.declaration.step.flow
//     ^ keyword.operator.assignment.flow
//       ^^^^ keyword.control.flow
//            ^^^^^ variable.other.flow
//                  ^ keyword.control.flow
  let x = null
//  ^^ keyword.declaration.let.flow
//    ^ - keyword.other.flow
//        ^^^^ - constant.language.null.flow
";
    let asserted = textmate_asserted_keywords(file);
    // `=` is no word, `until` is asserted a variable, the carets under `let` cover
    // only part of it, and `x` and `null` have keyword scopes only as exclusions.
    assert_eq!(
        asserted.into_iter().collect::<Vec<_>>(),
        vec!["step".to_string(), "t".to_string(), "wait".to_string()]
    );
}

#[test]
fn tree_sitter_assertions_are_read_by_column() {
    let file = "\
import \"x\"
// <- keyword.import
  if a then b else c
//^ keyword.conditional
//   ^ !keyword
//     ^^ keyword.conditional
//            ^ variable
  on manual
//   ^ keyword
";
    let asserted = tree_sitter_asserted_keywords(file);
    assert_eq!(
        asserted.into_iter().collect::<Vec<_>>(),
        vec![
            "if".to_string(),
            "import".to_string(),
            "manual".to_string(),
            "then".to_string(),
        ]
    );
}

#[test]
fn regexes_and_queries_are_read_for_their_words() {
    assert_eq!(
        regex_words(r"\b(?:let|set)\s+(webhook)\b")
            .into_iter()
            .collect::<Vec<_>>(),
        vec!["let".to_string(), "set".to_string(), "webhook".to_string()]
    );
    let query =
        "; \"fn\" in a comment does not count\n[\"if\" \"else\"] @keyword\n(true) @boolean\n";
    let named = tree_sitter_query_keywords(query);
    assert_eq!(
        named.into_iter().collect::<Vec<_>>(),
        vec!["else".to_string(), "if".to_string(), "true".to_string()]
    );
}
