//! The formatter's contract, checked three ways.
//!
//! 1. **Laws over every program we have**: each fixture under `tests/ui/` that
//!    parses without errors, and each example, formats to a text that formats to
//!    itself (idempotence), parses to the same tree (compared as `syntax::pretty`
//!    prints it, spans removed) and holds every comment of the input in order.
//! 2. **Golden cases** per construct group: a small messy input and its canonical
//!    layout, through one terse helper, [`check`].
//! 3. **A property**: any layout of a program (other spaces, newlines, indentation
//!    between its tokens) formats to the same text as the program itself.

use flowc_compiler::fmt::{format, layout};
use flowc_compiler::syntax::{self, Token, pretty};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

/// Formats `input` and compares with `expected`, then checks the laws on it.
#[track_caller]
fn check(input: &str, expected: &str) {
    let formatted = format(input).expect("the input parses");
    assert_eq!(
        formatted, expected,
        "\n--- input\n{input}\n--- formatted\n{formatted}\n--- expected\n{expected}"
    );
    laws(input).expect("the laws hold");
}

/// The tree of a source as `syntax::pretty` prints it, without its spans and line breaks.
fn tree(source: &str) -> String {
    let printed = pretty::module(&syntax::parse(source).module);
    let mut out = String::with_capacity(printed.len());
    let mut rest = printed.as_str();
    while let Some(at) = rest.find(" @") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    // Where the printer breaks its lines depends on the width of the spans it
    // printed: compare the words only.
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn comment_texts(source: &str) -> Vec<String> {
    syntax::lex(source)
        .comments
        .iter()
        .map(|span| source[span.range()].trim_end().to_string())
        .collect()
}

/// Idempotence, the same tree, the same comments in the same order.
fn laws(input: &str) -> Result<(), String> {
    let once = layout(input).map_err(|errors| format!("does not format: {errors:?}"))?;
    let twice = layout(&once).map_err(|errors| {
        format!("the formatted text does not parse: {errors:?}\n--- formatted\n{once}")
    })?;
    if once != twice {
        return Err(format!(
            "not idempotent\n{}",
            first_difference(&once, &twice)
        ));
    }
    if tree(input) != tree(&once) {
        return Err(format!(
            "the tree changed\n--- formatted\n{once}\n--- before\n{}\n--- after\n{}",
            tree(input),
            tree(&once)
        ));
    }
    if comment_texts(input) != comment_texts(&once) {
        return Err(format!(
            "comments changed\n--- before\n{:?}\n--- after\n{:?}",
            comment_texts(input),
            comment_texts(&once)
        ));
    }
    if once.lines().any(|line| line.ends_with([' ', '\t'])) {
        return Err(format!("a line ends with whitespace\n{once}"));
    }
    Ok(())
}

/// The first line where two texts differ, with the lines around it.
fn first_difference(once: &str, twice: &str) -> String {
    let once: Vec<&str> = once.lines().collect();
    let twice: Vec<&str> = twice.lines().collect();
    let at = (0..once.len().max(twice.len()))
        .find(|&line| once.get(line) != twice.get(line))
        .unwrap_or(0);
    let from = at.saturating_sub(4);
    format!(
        "--- once, from line {}\n{}\n--- twice\n{}",
        from + 1,
        once[from.min(once.len())..(at + 4).min(once.len())].join("\n"),
        twice[from.min(twice.len())..(at + 4).min(twice.len())].join("\n"),
    )
}

fn flow_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("the directory is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            flow_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "flow") {
            out.push(path);
        }
    }
}

#[test]
fn every_fixture_and_example_keeps_its_tree_and_comments_and_formats_once() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    flow_files(&root.join("tests/ui"), &mut files);
    flow_files(&root.join("../examples"), &mut files);
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in &files {
        let source = std::fs::read_to_string(path).expect("the fixture is readable");
        if syntax::parse(&source)
            .diagnostics
            .iter()
            .any(|diagnostic| diagnostic.is_error())
        {
            continue;
        }
        checked += 1;
        if let Err(problem) = laws(&source) {
            failures.push(format!("{}: {problem}", path.display()));
        }
    }
    assert!(checked > 100, "only {checked} programs parsed");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_file_that_does_not_parse_is_refused_with_its_diagnostics() {
    let errors = format("workflow w( {").expect_err("a syntax error");
    assert!(!errors.is_empty());
    assert!(
        errors
            .iter()
            .all(|error| error.code.as_str().starts_with("E0"))
    );
    let errors = format("type T = \"open").expect_err("a lexical error");
    assert_eq!(errors[0].code.as_str(), "E0102");
}

#[test]
fn empty_and_blank_files_format_to_nothing() {
    check("", "");
    check("\n\n  \n", "");
}

#[test]
fn the_lexer_records_every_comment_in_order() {
    let source = "// a\ntype T = /* b /* nested */ */ int // c\n/// d\n//// e\ntype U = int";
    assert_eq!(
        comment_texts(source),
        ["// a", "/* b /* nested */ */", "// c", "/// d", "//// e"]
    );
}

// ---------------------------------------------------------------- golden cases

#[test]
fn declarations() {
    check(
        r#"import   "./shared.flow"
type   Score={score:int,reasons:[string]}
event  paid = { id : string }
fn   double( x :int )->int=x*2
"#,
        r#"import "./shared.flow"
type Score = { score: int, reasons: [string] }
event paid = { id: string }
fn double(x: int) -> int = x * 2
"#,
    );
}

#[test]
fn types() {
    check(
        r#"type T = {
  a : "BRL"|"USD" ,b?:int?, c: [ { d: (int | null)? } ], e: (string?)? }
type U = { a: int, b: int }
"#,
        r#"type T = {
  a: "BRL" | "USD",
  b?: int?,
  c: [{ d: (int | null)? }],
  e: (string?)?,
}
type U = { a: int, b: int }
"#,
    );
}

#[test]
fn a_record_type_that_does_not_fit_breaks_with_trailing_commas() {
    check(
        "type Payment = { transactionId: string, amount: float, currency: \"BRL\" | \"USD\", customerId: string, extra: int }\n",
        r#"type Payment = {
  transactionId: string,
  amount: float,
  currency: "BRL" | "USD",
  customerId: string,
  extra: int,
}
"#,
    );
}

#[test]
fn connections() {
    check(
        r#"connection fraud { base_url: "https://fraud.example.com/v1", auth: bearer { token: secrets.t },
    timeout: 10s
  retry: exponential(attempts: 5, initial: 1s, max: 8s) }
connection empty {}
"#,
        r#"connection fraud {
  base_url: "https://fraud.example.com/v1"
  auth: bearer { token: secrets.t }
  timeout: 10s
  retry: exponential(attempts: 5, initial: 1s, max: 8s)
}
connection empty {}
"#,
    );
}

#[test]
fn workflows_with_triggers_and_settings() {
    check(
        r#"workflow w(p: Payment)->{ok:bool}{
on webhook POST "/p" { verify: header_token("X-T", secrets.k), idempotency_key: p.id }
on schedule "0 * * * *"   tz "Europe/Lisbon"
  on event paid
on manual
settings { max_concurrency: 1, timeout: 2h }
return {ok:true}
}
workflow empty() {}
"#,
        r#"workflow w(p: Payment) -> { ok: bool } {
  on webhook POST "/p" { verify: header_token("X-T", secrets.k), idempotency_key: p.id }
  on schedule "0 * * * *" tz "Europe/Lisbon"
  on event paid
  on manual
  settings {
    max_concurrency: 1
    timeout: 2h
  }
  return { ok: true }
}
workflow empty() {}
"#,
    );
}

#[test]
fn statements() {
    check(
        r#"workflow w(x: int) {
  let a : int = 1
  set context.last = a
  if a>1 { fail "big" } else if a < 0 { return } else { return a }
  match a { 1 | 2 => return 1
    _ => { emit done { a: a } } }
  for i in [1,2] ( concurrency : 5 ) { yield i }
  let rs = for i in xs { yield i }
  parallel { step a1 = wait 1s
    { step b = wait until now() } }
  try { step c = call child(a) } catch err { fail err.message }
}
"#,
        r#"workflow w(x: int) {
  let a: int = 1
  set context.last = a
  if a > 1 {
    fail "big"
  } else if a < 0 {
    return
  } else {
    return a
  }
  match a {
    1 | 2 => return 1
    _ => {
      emit done { a: a }
    }
  }
  for i in [1, 2] (concurrency: 5) {
    yield i
  }
  let rs = for i in xs {
    yield i
  }
  parallel {
    step a1 = wait 1s
    {
      step b = wait until now()
    }
  }
  try {
    step c = call child(a)
  } catch err {
    fail err.message
  }
}
"#,
    );
}

#[test]
fn steps_and_handles() {
    check(
        r#"workflow w(x: int) {
  step s = http POST fraud "/score" { json: { id: x } } -> Score
  step u = http GET ("https://" + x.host)
  step t = http PATCH "https://e.com/${x}" {
    json: { a: 1 }
    expect: [200]
  }
  let cb = callback( timeout : 1h )->Job
  let r = approval(timeout: 24h, message: "ok?")
  step j = await cb
  step e = await event paid as p where p.id==x ( timeout: 1h )
  step d = await webhook POST "/hooks" as h : Hook where h.id == x
}
"#,
        r#"workflow w(x: int) {
  step s = http POST fraud "/score" { json: { id: x } } -> Score
  step u = http GET ("https://" + x.host)
  step t = http PATCH "https://e.com/${x}" {
    json: { a: 1 }
    expect: [200]
  }
  let cb = callback(timeout: 1h) -> Job
  let r = approval(timeout: 24h, message: "ok?")
  step j = await cb
  step e = await event paid as p where p.id == x (timeout: 1h)
  step d = await webhook POST "/hooks" as h: Hook where h.id == x
}
"#,
    );
}

#[test]
fn a_long_await_breaks_before_where_then_before_its_options() {
    check(
        r#"workflow w(x: int) {
  step finished = await event deploy_finished as e where e.deployment_id == deploy.body.id (timeout: 45m)
  step outcome = await webhook POST "/stripe/events" as d where d.data.object.id == intent.body.id && d.type in ["payment_intent.succeeded", "payment_intent.payment_failed"] (timeout: 1h, lookback: 10m)
}
"#,
        r#"workflow w(x: int) {
  step finished = await event deploy_finished as e
    where e.deployment_id == deploy.body.id (timeout: 45m)
  step outcome = await webhook POST "/stripe/events" as d
    where d.data.object.id == intent.body.id
      && d.type in ["payment_intent.succeeded", "payment_intent.payment_failed"]
    (timeout: 1h, lookback: 10m)
}
"#,
    );
}

#[test]
fn tests_with_mocks_and_asserts() {
    check(
        r#"test "it works" {
  mock http POST fraud "/score" => { status: 200, body: { score: 10 } }
  step out = call w({ a: 1 })
  assert out.ok ,  "passed through"
}
"#,
        r#"test "it works" {
  mock http POST fraud "/score" => { status: 200, body: { score: 10 } }
  step out = call w({ a: 1 })
  assert out.ok, "passed through"
}
"#,
    );
}

#[test]
fn expressions() {
    check(
        r#"fn f(x: T) -> int = -x.a?.b[0] + !(x.c) * len( x.d ) % 2
fn g(x: T) -> int = if x.a then 1 else 2
fn h(x: T) -> int = x.xs.map( y=>y*2 ).reduce((a,b) => a + b)
fn i(x: T) -> U = x.j as U
fn j(x: T) -> bool = x.a in [1,2,3] && x.b ?? false
fn k(x: T) -> int = match x { 1 => 2, _ => 3 }
"#,
        r#"fn f(x: T) -> int = -x.a?.b[0] + !(x.c) * len(x.d) % 2
fn g(x: T) -> int = if x.a then 1 else 2
fn h(x: T) -> int = x.xs.map(y => y * 2).reduce((a, b) => a + b)
fn i(x: T) -> U = x.j as U
fn j(x: T) -> bool = x.a in [1, 2, 3] && x.b ?? false
fn k(x: T) -> int =
  match x {
    1 => 2,
    _ => 3,
  }
"#,
    );
}

#[test]
fn literals_keep_their_spelling() {
    check(
        "fn f() -> json = [1_000, 1.5e3, 2.50, 10ms, 24h, \"a\\n\\u{e9}\\${x}\", true, null]\n",
        "fn f() -> json = [1_000, 1.5e3, 2.50, 10ms, 24h, \"a\\n\\u{e9}\\${x}\", true, null]\n",
    );
}

#[test]
fn templates_format_their_expressions_and_keep_their_text() {
    check(
        "fn f(x: T) -> string = \"a  ${ x.a+1 } b ${ \"in ${x.b}\" }\"\n",
        "fn f(x: T) -> string = \"a  ${x.a + 1} b ${\"in ${x.b}\"}\"\n",
    );
}

#[test]
fn long_chains_break_before_their_operators() {
    check(
        r#"workflow w(x: int) {
  let funded = balance.body.accountStatus == "active" && balance.body.currentBalance >= payment.amount
}
"#,
        r#"workflow w(x: int) {
  let funded = balance.body.accountStatus == "active"
    && balance.body.currentBalance >= payment.amount
}
"#,
    );
}

#[test]
fn long_argument_lists_break_one_argument_a_line() {
    check(
        r#"workflow w(x: int) {
  let review = approval(timeout: 24h, message: "Set customer ${customer.id} to ${company} (${employees} employees)?")
  step out = call payment_validation({ transactionId: "txn-98765", amount: 1500.0, currency: "BRL", id: "c" })
}
"#,
        r#"workflow w(x: int) {
  let review = approval(
    timeout: 24h,
    message: "Set customer ${customer.id} to ${company} (${employees} employees)?",
  )
  step out = call payment_validation({
    transactionId: "txn-98765"
    amount: 1500.0
    currency: "BRL"
    id: "c"
  })
}
"#,
    );
}

#[test]
fn a_record_or_list_written_across_lines_stays_broken() {
    check(
        r#"workflow w(x: int) {
  return {
    a: 1, b: [
      1, 2]
  }
}
"#,
        r#"workflow w(x: int) {
  return {
    a: 1
    b: [
      1,
      2,
    ]
  }
}
"#,
    );
}

#[test]
fn comments_stay_in_place() {
    check(
        r#"// The header.

/// The doc.
type T = int // trailing
// Between.
workflow w(x: int) {
  // First.
  step a = wait 1s // after a


  /* before b */ step b = wait 2s
  return {
    // inside
    a: 1, // after field
    /* block */
  }
  // At the end.
}
// The end.
"#,
        r#"// The header.

/// The doc.
type T = int // trailing
// Between.
workflow w(x: int) {
  // First.
  step a = wait 1s // after a

  /* before b */ step b = wait 2s
  return {
    // inside
    a: 1 // after field
    /* block */
  }
  // At the end.
}
// The end.
"#,
    );
}

#[test]
fn a_line_comment_inside_a_flat_group_breaks_it() {
    check(
        "fn f(x: int) -> json = [1, // one\n2]\n",
        "fn f(x: int) -> json = [\n  1, // one\n  2,\n]\n",
    );
}

#[test]
fn blank_lines_collapse_and_vanish_at_block_edges() {
    check(
        "\n\ntype A = int\n\n\n\ntype B = int\nworkflow w() {\n\n  return\n\n}\n\n\n",
        "type A = int\n\ntype B = int\nworkflow w() {\n  return\n}\n",
    );
}

// ---------------------------------------------------------------- property

/// The tokens of a program; `(` right after a callee is written glued to it, since
/// a spaced `(` is a group paren.
const TOKENS: &[&str] = &[
    "workflow",
    "w(",
    "p",
    ":",
    "P",
    ")",
    "->",
    "{",
    "ok",
    ":",
    "bool",
    "}",
    "{",
    "on",
    "manual",
    "// a comment",
    "let",
    "a",
    "=",
    "p",
    ".",
    "xs",
    ".",
    "map(",
    "x",
    "=>",
    "x",
    "*",
    "2",
    ")",
    "step",
    "s",
    "=",
    "http",
    "POST",
    "c",
    "\"/s\"",
    "{",
    "json",
    ":",
    "{",
    "a",
    ":",
    "[",
    "a",
    ",",
    "1",
    "]",
    "}",
    "}",
    "->",
    "S",
    "if",
    "s",
    ".",
    "ok",
    "&&",
    "!",
    "a",
    "{",
    "return",
    "{",
    "ok",
    ":",
    "true",
    "}",
    "}",
    "/* b */",
    "return",
    "{",
    "ok",
    ":",
    "false",
    "}",
    "}",
];

/// The program's tokens with a comment or whitespace chosen after each: every
/// comment text is unique, so a comment moved past another shows.
fn with_comments(gaps: &[u8]) -> String {
    let mut out = String::new();
    for (index, token) in TOKENS.iter().enumerate() {
        out.push_str(token);
        let gap = gaps.get(index).copied().unwrap_or(0) % 6;
        match gap {
            _ if token.starts_with("//") => out.push('\n'),
            0 | 1 => out.push(' '),
            2 => out.push('\n'),
            3 => out.push_str(&format!(" // c{index}\n")),
            4 => out.push_str(&format!(" /* c{index} */ ")),
            _ => out.push_str(&format!("\n/* c{index} */\n")),
        }
    }
    out
}

/// The program's tokens with the chosen whitespace after each (a line comment is
/// always followed by a newline). No line is indented: a `}` that starts a line
/// less indented than the line of its `{` is read as closing an outer bracket
/// (`syntax::balance`), so indentation is not free in every input.
fn relayout(gaps: &[u8]) -> String {
    let mut out = String::new();
    for (index, token) in TOKENS.iter().enumerate() {
        out.push_str(token);
        let gap = gaps.get(index).copied().unwrap_or(0) % 5;
        out.push_str(match gap {
            _ if token.starts_with("//") => "\n",
            0 => " ",
            1 => "\n",
            2 => "   ",
            3 => "\n\n\n",
            _ => "\t",
        });
    }
    out
}

proptest! {
    #[test]
    fn comments_anywhere_are_kept_in_order(gaps in proptest::collection::vec(any::<u8>(), TOKENS.len())) {
        let source = with_comments(&gaps);
        laws(&source).map_err(|problem| TestCaseError::fail(format!("{problem}\n--- source\n{source}")))?;
    }

    #[test]
    fn any_layout_keeps_the_tree_and_the_comments(gaps in proptest::collection::vec(any::<u8>(), TOKENS.len())) {
        let source = relayout(&gaps);
        laws(&source).map_err(TestCaseError::fail)?;
        prop_assert_eq!(tree(&source), tree(&relayout(&[])));
    }
}

/// Pieces of Flow, glued at random: most results do not parse, some do.
const PIECES: &[&str] = &[
    "workflow w() {",
    "workflow v(x: int) -> int {",
    "}",
    "{",
    "(",
    ")",
    "[",
    "]",
    ",",
    "\n",
    "\n\n",
    " ",
    "  ",
    "// c\n",
    "/// d\n",
    "/* b */",
    "/* x\n y */",
    "step s = ",
    "let a = ",
    "return ",
    "return",
    "x",
    "-1",
    "1.5e3",
    "10s",
    "\"t\"",
    "\"a ${x} b\"",
    "x.y",
    "f(x)",
    "a: 1",
    "{ a: 1 }",
    "[1, 2]",
    "if x { return }",
    " else ",
    "match x {",
    "1 => ",
    "_ => ",
    "http GET \"u\"",
    " -> T",
    "&&",
    "??",
    "+",
    "=>",
    "type T = ",
    "int",
    "{ a: int }",
    "|",
    "on manual",
    "wait 1s",
    "emit e ",
    "fail \"m\"",
    "fn f() -> int = ",
    "as T",
    "é",
];

proptest! {
    #[test]
    fn random_input_never_panics_and_what_formats_obeys_the_laws(
        picks in proptest::collection::vec(0..PIECES.len(), 0..40)
    ) {
        let source: String = picks.iter().map(|&pick| PIECES[pick]).collect();
        if format(&source).is_ok() {
            laws(&source).map_err(|problem| TestCaseError::fail(format!("{problem}\n--- source\n{source}")))?;
        }
    }
}

/// An example with comments put between its tokens: after token `i` when
/// `picks[i % len]` says so, a block comment, a trailing line comment or a line
/// comment on a line of its own, each with a unique text. Nothing goes inside a
/// string or between a callee and its call paren; a new line takes the
/// indentation of the line the next token was on, as a person would write it.
fn example_with_comments(source: &str, picks: &[u8]) -> String {
    let lexed = syntax::lex(source);
    let mut out = String::new();
    let mut copied = 0;
    let mut in_string = 0usize;
    for (index, (token, span)) in lexed.tokens.iter().zip(&lexed.spans).enumerate() {
        match token {
            Token::StrStart => in_string += 1,
            Token::StrEnd => in_string = in_string.saturating_sub(1),
            _ => {}
        }
        let Some(next) = lexed.spans.get(index + 1) else {
            break;
        };
        if in_string > 0 || lexed.tokens[index + 1] == Token::CallParen {
            continue;
        }
        let pick = picks.get(index % picks.len().max(1)).copied().unwrap_or(0) % 8;
        let at = span.end as usize;
        let line_start = source[..next.start as usize]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let indent: String = source[line_start..]
            .chars()
            .take_while(|c| *c == ' ')
            .collect();
        let insert = match pick {
            5 => format!(" /* c{index} */ "),
            6 => format!(" // c{index}\n{indent}"),
            7 => format!("\n{indent}// c{index}\n{indent}"),
            _ => continue,
        };
        out.push_str(&source[copied..at]);
        out.push_str(&insert);
        copied = at;
    }
    out.push_str(&source[copied..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn comments_anywhere_in_the_examples_are_kept(
        example in 0usize..6,
        picks in proptest::collection::vec(any::<u8>(), 1..300),
    ) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let mut files = Vec::new();
        flow_files(&root, &mut files);
        let path = &files[example % files.len()];
        let source = std::fs::read_to_string(path).expect("the example is readable");
        let commented = example_with_comments(&source, &picks);
        // A comment can make a bracket read as closing an outer one (see
        // `relayout`); such an input is not a program, and not the formatter's.
        prop_assume!(format(&commented).is_ok());
        laws(&commented).map_err(|problem| TestCaseError::fail(format!("{problem}\n--- source\n{commented}")))?;
    }
}

#[test]
fn deep_nesting_crlf_and_a_byte_order_mark_are_no_trouble() {
    // Near the deepest the parser allows (E0204 past 256 levels, where a bracket
    // in an expression counts two), on a test thread's small stack.
    let depth = 60;
    let nested = format!(
        "fn f(x: int) -> json = {}x{}\n",
        "[(".repeat(depth),
        ")]".repeat(depth)
    );
    laws(&nested).expect("deep nesting formats");
    let chain = format!("fn f(x: int) -> int = x{}\n", " + x".repeat(200));
    laws(&chain).expect("a long chain formats");
    check(
        "type T = int // c\r\ntype U = int\r\n",
        "type T = int // c\ntype U = int\n",
    );
    check("\u{feff}type T = int\n", "type T = int\n");
}

#[test]
fn a_block_comment_of_several_lines_gets_a_line_of_its_own() {
    check(
        "workflow w() {\n  /* one\n          two */ return { a: 1 }\n}\n",
        "workflow w() {\n  /* one\n          two */\n  return { a: 1 }\n}\n",
    );
}

#[test]
fn a_broken_head_puts_the_brace_on_a_line_of_its_own() {
    // A `{` at the end of an indented continuation line would leave its `}` less
    // indented than the `{` line, which the parser reads as a bracket left open.
    check(
        r#"workflow w() {
  if some_long_condition_name.with_a_field == "a value that is long" && another_condition_name.field_two >= 12345 {
    for x in some_long_list_name.with_a_field ?? another_list_name.with_another_field ?? default_list (concurrency: 5) {
      step s = wait 1s
    }
  }
}
"#,
        r#"workflow w() {
  if some_long_condition_name.with_a_field == "a value that is long"
    && another_condition_name.field_two >= 12345
  {
    for x in some_long_list_name.with_a_field
      ?? another_list_name.with_another_field
      ?? default_list
    (concurrency: 5) {
      step s = wait 1s
    }
  }
}
"#,
    );
}

#[test]
fn a_comment_above_a_keyword_stays_above_it() {
    check(
        r#"workflow w() {
  step paid = await event payment_succeeded as e
    // warning[W0404]
    where e.amount > 100 (timeout: 1h)
  let label = if paid.amount > 1000
    // A big one.
    then "big"
    /* The rest. */ else "small"
}
"#,
        r#"workflow w() {
  step paid = await event payment_succeeded as e
    // warning[W0404]
    where e.amount > 100 (timeout: 1h)
  let label = if paid.amount > 1000
    // A big one.
    then "big"
    /* The rest. */ else "small"
}
"#,
    );
}

#[test]
fn a_head_ending_in_a_parenthesized_chain_breaks_the_same_way() {
    check(
        r#"workflow w() {
  if x {
    if !(some_long_condition_name.with_a_field == "a value that is long" && another_condition_name.field_two >= 12345) {
      return
    }
  }
}
"#,
        r#"workflow w() {
  if x {
    if !(some_long_condition_name.with_a_field == "a value that is long"
      && another_condition_name.field_two >= 12345)
    {
      return
    }
  }
}
"#,
    );
}
