//! Pathological inputs: the front end must finish on them without a panic or a stack
//! overflow, on the default 2 MiB stack of a test thread, and report E0204 where the
//! nesting bound is crossed.
//!
//! `balance` bounds the depth of brackets plus operators before the parser runs, so
//! every later stage may recurse on the tree. These tests feed it what a generator
//! or a fuzzer might: thousands of open brackets, long prefix and infix chains, deep
//! string interpolations and `else if` ladders. Each also prints the tree and drops
//! it, the two other walks that would overflow on an unbounded tree. The tests say
//! nothing about the exact limit (it is private to `balance`), only that input well
//! under it is accepted and input far over it is reported.

use flowc_compiler::syntax::{self, pretty};

/// Parses `source`, prints its tree, and returns the diagnostic codes, in order.
fn codes(source: &str) -> Vec<&'static str> {
    let parsed = syntax::parse(source);
    let printed = pretty::module(&parsed.module);
    assert!(printed.starts_with("(module"), "{printed}");
    parsed
        .diagnostics
        .iter()
        .map(|diagnostic| diagnostic.code.as_str())
        .collect()
}

/// The input reports "nesting is too deep" (E0204), and not a flood of diagnostics.
fn assert_too_deep(source: &str) {
    let codes = codes(source);
    assert!(codes.contains(&"E0204"), "expected E0204, got {codes:?}");
    assert!(codes.len() <= 8, "too many diagnostics: {codes:?}");
}

/// The input parses without any diagnostic.
fn assert_clean(source: &str) {
    let codes = codes(source);
    assert!(codes.is_empty(), "expected no diagnostics, got {codes:?}");
}

fn nested(open: &str, inner: &str, close: &str, depth: usize) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

#[test]
fn ten_thousand_parentheses() {
    assert_too_deep(&format!(
        "fn f() -> int = {}",
        nested("(", "1", ")", 10_000)
    ));
}

#[test]
fn ten_thousand_unclosed_parentheses() {
    // Each `(` kept under the limit is reported as unclosed (E0202), the rest are cut
    // off with one E0204: the count depends on the limit, not on the input.
    let codes = codes(&format!("fn f() -> int = {}", "(".repeat(10_000)));
    assert!(codes.contains(&"E0204"), "expected E0204, got {codes:?}");
    assert!(
        codes.iter().all(|code| ["E0202", "E0204"].contains(code)),
        "{codes:?}"
    );
    assert!(codes.len() <= 300, "{} diagnostics", codes.len());
}

#[test]
fn ten_thousand_brackets() {
    assert_too_deep(&format!(
        "fn f() -> [int] = {}",
        nested("[", "1", "]", 10_000)
    ));
}

#[test]
fn ten_thousand_record_braces() {
    assert_too_deep(&format!(
        "fn f() -> json = {}",
        nested("{ a: ", "1", " }", 10_000)
    ));
}

#[test]
fn ten_thousand_bare_braces() {
    assert_too_deep(&format!("workflow w() {}", nested("{", "", "}", 10_000)));
}

#[test]
fn ten_thousand_nested_if_blocks() {
    let body = nested("if c { ", "return", " }", 10_000);
    assert_too_deep(&format!("workflow w(c: bool) {{ {body} }}"));
}

#[test]
fn a_hundred_thousand_prefix_operators() {
    assert_too_deep(&format!("fn f(x: bool) -> bool = {}x", "!".repeat(100_000)));
}

#[test]
fn a_hundred_thousand_term_sum() {
    let sum = vec!["1"; 100_000].join(" + ");
    assert_too_deep(&format!("fn f() -> int = {sum}"));
}

#[test]
fn a_hundred_thousand_field_accesses() {
    assert_too_deep(&format!(
        "fn f(x: json) -> json = x{}",
        ".a".repeat(100_000)
    ));
}

#[test]
fn ten_thousand_nested_interpolations() {
    let mut text = "\"x\"".to_string();
    for _ in 0..10_000 {
        text = format!("\"${{{text}}}\"");
    }
    assert_too_deep(&format!("fn f() -> string = {text}"));
}

#[test]
fn twenty_thousand_else_ifs() {
    let mut body = String::from("workflow w(c: bool) {\n  if c {\n  }");
    for _ in 0..20_000 {
        body.push_str(" else if c {\n  }");
    }
    body.push_str(" else {\n  }\n}\n");
    assert_too_deep(&body);
}

#[test]
fn twenty_thousand_else_ifs_in_an_expression() {
    let mut body = String::from("fn f(c: bool) -> int = if c then 0");
    for _ in 0..20_000 {
        body.push_str(" else if c then 0");
    }
    body.push_str(" else 1\n");
    assert_too_deep(&body);
}

#[test]
fn the_rest_of_the_file_still_parses_after_the_limit() {
    let deep = format!("fn f() -> int = {}", nested("(", "1", ")", 10_000));
    let parsed = syntax::parse(&format!("{deep}\n\nfn g() -> int = (1\n"));
    let codes: Vec<&str> = parsed.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert!(codes.contains(&"E0204"), "{codes:?}");
    assert!(
        codes.contains(&"E0202"),
        "the unclosed `(` in g is reported too: {codes:?}"
    );
    assert_eq!(
        parsed.module.items.len(),
        2,
        "both functions are in the tree"
    );
}

#[test]
fn moderate_nesting_is_accepted() {
    assert_clean(&format!("fn f() -> int = {}", nested("(", "1", ")", 50)));
    assert_clean(&format!("fn f() -> [int] = {}", nested("[", "1", "]", 50)));
    assert_clean(&format!("fn f(x: bool) -> bool = {}x", "!".repeat(100)));
    assert_clean(&format!("fn f() -> int = {}", vec!["1"; 100].join(" + ")));
    let mut text = "\"x\"".to_string();
    for _ in 0..30 {
        text = format!("\"${{{text}}}\"");
    }
    assert_clean(&format!("fn f() -> string = {text}"));
    let mut ladder = String::from("workflow w(c: bool) {\n  if c {\n  }");
    for _ in 0..50 {
        ladder.push_str(" else if c {\n  }");
    }
    ladder.push_str("\n}\n");
    assert_clean(&ladder);
}

#[test]
fn long_flat_input_is_not_nesting() {
    // Ten thousand statements and list elements side by side are wide, not deep.
    let statements = "  let x = (1 + 2) * 3\n".repeat(10_000);
    assert_clean(&format!("workflow w() {{\n{statements}}}\n"));
    let list = vec!["[1, 2]"; 10_000].join(", ");
    assert_clean(&format!("fn f() -> [[int]] = [{list}]"));
}

/// A program as deep as the nesting bound allows must also survive the IR's
/// round trips: the store keeps a deployment as CBOR and `flowc build` writes
/// JSON, and both readers have recursion limits of their own (found when a
/// program 125 operators deep checked clean and then could not be run).
#[test]
fn programs_near_the_nesting_bound_survive_the_ir_round_trips() {
    use flowc_compiler::ir::Program;
    use flowc_compiler::{NoImports, SourceFile, analyze};
    const DEPTH: usize = 200;
    let sum = vec!["x"; DEPTH].join(" + ");
    // A bracket and the expression inside it are two levels each.
    let parens = nested("(", "x", ")", DEPTH / 2);
    let lists = nested("[", "x", "]", DEPTH / 2);
    let mut ladder = String::from("if x > 0 then 0");
    for at in 1..DEPTH / 2 {
        ladder.push_str(&format!(" else if x > {at} then {at}"));
    }
    ladder.push_str(" else -1");
    let mut blocks = String::new();
    // Indented: a declaration keyword (`let`) at the start of a line would
    // end the unclosed blocks before it, by design.
    for _ in 0..DEPTH / 4 {
        blocks.push_str("  if x > 0 {\n");
    }
    blocks.push_str("    let y = x\n");
    blocks.push_str(&"  }\n".repeat(DEPTH / 4));
    let source = format!(
        "workflow deep(x: int) -> int {{\n  on manual\n{blocks}  let s = {sum}\n  \
         let p = {parens}\n  let l = {lists}\n  let e = {ladder}\n  return s + p + e\n}}\n"
    );
    let analysis = analyze(
        vec![SourceFile {
            path: "deep.flow".into(),
            text: source,
        }],
        &NoImports,
    );
    let codes: Vec<_> = analysis
        .diagnostics
        .iter()
        .map(|found| found.diagnostic.code.as_str())
        .filter(|code| code.starts_with('E'))
        .collect();
    assert!(codes.is_empty(), "{codes:?}");
    let program = analysis.program;
    let from_binary = Program::from_binary(&program.to_binary()).expect("CBOR back");
    assert_eq!(from_binary, program);
    let from_json = Program::from_json(&program.to_json()).expect("JSON back");
    assert_eq!(from_json, program);
    assert_eq!(from_json.hash(), program.hash());
}
