//! The navigation queries of `compiler::ide` through multi-file fixtures with a
//! cursor: hover, definition, references, rename, document and workspace symbols,
//! inlay hints. Broken files, non-ASCII text, offsets at the end of a file and inside
//! a multi-byte character are input too: the queries answer what they can and never
//! panic.

// The fixture helper is shared with the other editor tests; `support/` has no
// `mod.rs`, so the file is included by path.
#[path = "support/fixture.rs"]
mod fixture;

use fixture::{Fixture, fixture};
use flowc_compiler::ide::{self, Location, SymbolKind};

/// A project of two files: declarations in `types.flow`, a workflow using them in
/// `main.flow`. `$0` goes where each test wants it.
fn project(cursor_in_main: &str, cursor_in_types: &str) -> String {
    format!(
        r#"//- main.flow
import "types.flow"

/// Scores a payment.
workflow pay(payment: Payment) -> int {{
  on webhook POST "/pay"
  step check = http POST fraud "/score" {{
    json: {{ amount: payment.amount }}
  }} -> Score
  let total = check.body.score + 1
  for reason in check.body.reasons {{
    step log = http POST fraud "/log" {{ json: {{ reason: reason }} }}
  }}
  return {cursor_in_main}
}}
//- types.flow
/// A payment as the shop sends it.
type Payment = {{ amount: float, {cursor_in_types}currency: string }}
type Score = {{ score: int, reasons: [string] }}

/// The fraud engine.
connection fraud {{
  base_url: "https://fraud.example.com"
}}
"#
    )
}

/// The text at each location, with its file's path: `main.flow:check`.
fn texts(fixture: &Fixture, locations: &[Location]) -> Vec<String> {
    locations
        .iter()
        .map(|location| {
            format!(
                "{}:{}",
                fixture.path(location.file),
                fixture.slice(location.file, location.span)
            )
        })
        .collect()
}

fn at(fixture: &Fixture, path: &str, needle: &str) -> u32 {
    fixture.find(path, needle)
}

#[test]
fn the_project_fixture_checks_clean() {
    let fixture = fixture(&project("total$0", ""));
    let errors: Vec<_> = fixture
        .analysis
        .diagnostics
        .iter()
        .filter(|d| d.diagnostic.is_error())
        .map(|d| d.diagnostic.message.clone())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

// ------------------------------------------------------------------ definition

#[test]
fn definition_of_a_let_a_step_and_a_loop_variable() {
    let fixture = fixture(&project("to$0tal", ""));
    let found =
        ide::definition(&fixture.analysis, fixture.file, fixture.offset).expect("a definition");
    assert_eq!(texts(&fixture, &[found]), ["main.flow:total"]);
    assert_eq!(found.span.start, at(&fixture, "main.flow", "total ="));

    let main = fixture.id("main.flow");
    let use_of_check = at(&fixture, "main.flow", "check.body.score") + 2;
    let found = ide::definition(&fixture.analysis, main, use_of_check).expect("a step");
    assert_eq!(found.span.start, at(&fixture, "main.flow", "check ="));

    let use_of_reason = at(&fixture, "main.flow", "reason: reason") + 8;
    let found = ide::definition(&fixture.analysis, main, use_of_reason).expect("a loop var");
    assert_eq!(found.span.start, at(&fixture, "main.flow", "reason in"));
}

#[test]
fn definition_across_files_for_types_connections_and_fields() {
    let fixture = fixture(&project("total$0", ""));
    let main = fixture.id("main.flow");
    let types = fixture.id("types.flow");
    let cases = [
        ("Payment)", "Payment ="),
        ("fraud \"/score\"", "fraud {"),
        ("Score\n", "Score ="),
        ("amount }}", "amount: float"),
        ("score + 1", "score: int"),
    ];
    for (needle, target) in cases {
        let offset = at(&fixture, "main.flow", needle.trim_end_matches("}}"));
        let found = ide::definition(&fixture.analysis, main, offset)
            .unwrap_or_else(|| panic!("no definition at {needle:?}"));
        assert_eq!(found.file, types, "{needle:?}");
        assert_eq!(
            found.span.start,
            at(&fixture, "types.flow", target),
            "{needle:?}"
        );
    }
}

#[test]
fn definition_on_an_import_path_is_the_file() {
    let fixture = fixture(&project("total", "").replace("import \"types", "import \"ty$0pes"));
    let found = ide::definition(&fixture.analysis, fixture.file, fixture.offset)
        .expect("the imported file");
    assert_eq!(fixture.path(found.file), "types.flow");
    assert_eq!((found.span.start, found.span.end), (0, 0));
}

#[test]
fn references_of_an_import_path_are_every_import_of_that_file() {
    let fixture = fixture(
        r#"//- main.flow
import "ty$0pes.flow"
import "more.flow"
workflow w(order: Order) -> int {
  on manual
  return order.total + extra(1)
}
//- types.flow
type Order = { total: int }
//- more.flow
import "types.flow"
fn extra(x: int) -> int = x
"#,
    );
    let types = fixture.id("types.flow");
    let found = ide::references(&fixture.analysis, fixture.file, fixture.offset, false);
    let mut places: Vec<(String, String)> = found
        .iter()
        .map(|place| {
            (
                fixture.path(place.file).to_string(),
                fixture.slice(place.file, place.span).to_string(),
            )
        })
        .collect();
    places.sort();
    assert_eq!(
        places,
        vec![
            ("main.flow".to_string(), "\"types.flow\"".to_string()),
            ("more.flow".to_string(), "\"types.flow\"".to_string()),
        ]
    );
    let with_file = ide::references(&fixture.analysis, fixture.file, fixture.offset, true);
    assert_eq!(with_file.len(), 3);
    assert_eq!((with_file[0].file, with_file[0].span.start), (types, 0));
}

#[test]
fn definition_of_a_workflow_called_and_a_function() {
    let fixture = fixture(
        r#"
fn double(x: int) -> int = x * 2

workflow child(n: int) -> int {
  on manual
  return double(n)
}

workflow parent() -> int {
  on manual
  step result = call chi$0ld(n: 2)
  return result
}
"#,
    );
    let found =
        ide::definition(&fixture.analysis, fixture.file, fixture.offset).expect("the workflow");
    assert_eq!(fixture.slice(found.file, found.span), "child");
    assert_eq!(found.span.start, fixture.find("main.flow", "child("));
    let call = fixture.find("main.flow", "double(n)");
    let found = ide::definition(&fixture.analysis, fixture.file, call).expect("the fn");
    assert_eq!(found.span.start, fixture.find("main.flow", "double("));
}

#[test]
fn nothing_to_go_to_on_a_keyword_or_whitespace() {
    let fixture = fixture(&project("total", "").replace("  on webhook", "  o$0n webhook"));
    assert_eq!(
        ide::definition(&fixture.analysis, fixture.file, fixture.offset),
        None
    );
}

// ------------------------------------------------------------------ references

#[test]
fn references_of_a_type_across_files() {
    let fixture = fixture(&project("total", "").replace("type Score", "type Sc$0ore"));
    let with = ide::references(&fixture.analysis, fixture.file, fixture.offset, true);
    assert_eq!(
        texts(&fixture, &with),
        ["types.flow:Score", "main.flow:Score"]
    );
    let without = ide::references(&fixture.analysis, fixture.file, fixture.offset, false);
    assert_eq!(texts(&fixture, &without), ["main.flow:Score"]);
}

#[test]
fn references_of_a_step_from_a_use() {
    let fixture =
        fixture(&project("total", "").replace("let total = check", "let total = ch$0eck"));
    let found = ide::references(&fixture.analysis, fixture.file, fixture.offset, true);
    assert_eq!(
        texts(&fixture, &found),
        ["main.flow:check", "main.flow:check", "main.flow:check"]
    );
    let starts: Vec<u32> = found.iter().map(|location| location.span.start).collect();
    assert_eq!(starts[0], fixture.find("main.flow", "check ="));
}

#[test]
fn references_of_a_field_include_record_literals_of_its_type() {
    let fixture = fixture(
        r#"
type Order = { $0id: string, qty: int }

fn make(n: int) -> Order = { id: "a", qty: n }

workflow w(order: Order) -> string {
  on manual
  return order.id
}
"#,
    );
    let found = ide::references(&fixture.analysis, fixture.file, fixture.offset, true);
    let starts: Vec<u32> = found.iter().map(|location| location.span.start).collect();
    assert_eq!(
        starts,
        [
            fixture.find("main.flow", "id: string"),
            fixture.find("main.flow", "id: \"a\""),
            fixture.find("main.flow", "id\n"),
        ]
    );
}

#[test]
fn references_of_a_connection_and_an_event() {
    let fixture = fixture(
        r#"
event paid = { id: string }
connection bank { base_url: "https://bank.example.com" }

workflow a() {
  on manual
  step one = http GET ba$0nk "/x"
  step two = http GET bank "/y"
  emit paid { id: "1" }
}

workflow b(e: { id: string }) {
  on event paid
  step three = http GET bank "/z"
}
"#,
    );
    let found = ide::references(&fixture.analysis, fixture.file, fixture.offset, false);
    assert_eq!(texts(&fixture, &found).len(), 3);
    let paid = fixture.find("main.flow", "paid {");
    let found = ide::references(&fixture.analysis, fixture.file, paid, true);
    assert_eq!(found.len(), 3, "{:?}", texts(&fixture, &found));
}

// ------------------------------------------------------------------ rename

#[test]
fn rename_a_type_edits_every_file() {
    let fixture = fixture(&project("total", "").replace("type Payment", "type Pay$0ment"));
    let edits =
        ide::rename(&fixture.analysis, fixture.file, fixture.offset, "Charge").expect("a rename");
    let places: Vec<String> = edits
        .iter()
        .map(|edit| {
            format!(
                "{}:{}->{}",
                fixture.path(edit.file),
                fixture.slice(edit.file, edit.span),
                edit.text
            )
        })
        .collect();
    assert_eq!(
        places,
        ["main.flow:Payment->Charge", "types.flow:Payment->Charge"]
    );
}

#[test]
fn rename_a_let_edits_its_uses_only() {
    let fixture = fixture(&project("to$0tal", ""));
    let edits =
        ide::rename(&fixture.analysis, fixture.file, fixture.offset, "sum").expect("a rename");
    let starts: Vec<u32> = edits.iter().map(|edit| edit.span.start).collect();
    assert_eq!(
        starts,
        [
            fixture.find("main.flow", "total ="),
            fixture.find("main.flow", "total\n}"),
        ]
    );
    assert_eq!(
        ide::prepare_rename(&fixture.analysis, fixture.file, fixture.offset),
        Some(Ok(flowc_compiler::Span::new(
            fixture.find("main.flow", "total\n}") as usize,
            fixture.find("main.flow", "total\n}") as usize + 5,
        )))
    );
}

#[test]
fn rename_refuses_bad_names_and_clashes() {
    let fixture = fixture(&project("to$0tal", ""));
    let refused = |new_name: &str| {
        ide::rename(&fixture.analysis, fixture.file, fixture.offset, new_name)
            .expect_err(new_name)
            .0
    };
    assert_eq!(refused("2x"), "`2x` is not a valid name");
    assert_eq!(refused("a-b"), "`a-b` is not a valid name");
    assert_eq!(refused(""), "`` is not a valid name");
    assert_eq!(refused("workflow"), "`workflow` is a keyword");
    assert_eq!(refused("webhook"), "`webhook` is reserved");
    assert_eq!(
        refused("check"),
        "`check` is already the name of another binding in this declaration"
    );

    let types = fixture.id("types.flow");
    let score_type = fixture.find("types.flow", "Score =");
    let refused = ide::rename(&fixture.analysis, types, score_type, "Payment").expect_err("clash");
    assert_eq!(refused.0, "`Payment` is already the name of a type");
    let refused =
        ide::rename(&fixture.analysis, types, score_type, "string").expect_err("built in");
    assert_eq!(refused.0, "`string` is already the name of a built-in type");
    let field = fixture.find("types.flow", "score: int");
    let refused = ide::rename(&fixture.analysis, types, field, "reasons").expect_err("field");
    assert_eq!(
        refused.0,
        "`reasons` is already the name of another field of this type"
    );
}

#[test]
fn rename_refuses_keywords_and_stdlib_functions_under_the_cursor() {
    let fixture = fixture(
        r#"
workflow w(xs: [int]) -> int {
  on manual
  ret$0urn xs.sum()
}
"#,
    );
    let refusal = ide::prepare_rename(&fixture.analysis, fixture.file, fixture.offset);
    assert_eq!(
        refusal,
        Some(Err(ide::RenameError("`return` is a keyword".to_string())))
    );
    let sum = fixture.find("main.flow", "sum()") + 1;
    let refusal = ide::rename(&fixture.analysis, fixture.file, sum, "total").expect_err("stdlib");
    assert_eq!(refusal.0, "`sum` is a function of the standard library");
    let blank = fixture.find("main.flow", "\n  on");
    assert_eq!(
        ide::prepare_rename(&fixture.analysis, fixture.file, blank),
        None
    );
}

#[test]
fn rename_a_function_refuses_another_declaration_and_the_stdlib() {
    let fixture = fixture(
        r#"
fn dou$0ble(x: int) -> int = x * 2
connection bank { base_url: "https://bank.example.com" }
workflow w() -> int {
  on manual
  return double(2)
}
"#,
    );
    let refused = |new_name: &str| {
        ide::rename(&fixture.analysis, fixture.file, fixture.offset, new_name)
            .expect_err(new_name)
            .0
    };
    assert_eq!(
        refused("bank"),
        "`bank` is already the name of another declaration"
    );
    assert_eq!(
        refused("w"),
        "`w` is already the name of another declaration"
    );
    assert_eq!(
        refused("upper"),
        "`upper` is already the name of a function of the standard library"
    );
    let edits =
        ide::rename(&fixture.analysis, fixture.file, fixture.offset, "twice").expect("a rename");
    assert_eq!(edits.len(), 2);
}

// ------------------------------------------------------------------ hover

fn hover_text(fixture: &Fixture) -> String {
    ide::hover(&fixture.analysis, fixture.file, fixture.offset)
        .map(|hover| hover.markdown)
        .unwrap_or_default()
}

#[test]
fn hover_shows_the_type_of_a_path() {
    let fixture =
        fixture(&project("total", "").replace("check.body.score +", "check.body.sc$0ore +"));
    let hover = ide::hover(&fixture.analysis, fixture.file, fixture.offset).expect("a hover");
    assert_eq!(fixture.slice(fixture.file, hover.span), "score");
    assert_eq!(hover.markdown, "```flow\nScore.score: int\n```");

    let fixture =
        self::fixture(&project("total", "").replace("check.body.score +", "check.bo$0dy.score +"));
    assert!(
        hover_text(&fixture).contains("Score"),
        "{}",
        hover_text(&fixture)
    );
}

#[test]
fn hover_on_an_expression_shows_its_type() {
    let fixture = fixture(&project("total", "").replace("score + 1", "score +$0 1"));
    assert_eq!(hover_text(&fixture), "```flow\nint\n```");
}

#[test]
fn hover_on_a_step_and_a_let_shows_their_types() {
    let fixture = fixture(&project("total", "").replace("step check", "step ch$0eck"));
    let text = hover_text(&fixture);
    assert!(text.starts_with("```flow\nstep check: {"), "{text}");
    assert!(text.contains("body: Score"), "{text}");

    let fixture = self::fixture(&project("tot$0al", ""));
    assert_eq!(hover_text(&fixture), "```flow\nlet total: int\n```");
}

#[test]
fn hover_on_a_declaration_shows_its_header_and_docs() {
    let fixture =
        fixture(&project("total", "").replace("(payment: Payment)", "(payment: Pay$0ment)"));
    assert_eq!(
        hover_text(&fixture),
        "```flow\ntype Payment = { amount: float, currency: string }\n```\n\nA payment as the shop sends it."
    );
    let fixture = self::fixture(&project("total", "").replace("workflow pay", "workflow p$0ay"));
    assert_eq!(
        hover_text(&fixture),
        "```flow\nworkflow pay(payment: Payment) -> int\n```\n\nScores a payment.\n\nresult: `int`"
    );
    let fixture = self::fixture(
        &project("total", "").replace("POST fraud \"/score\"", "POST fr$0aud \"/score\""),
    );
    assert_eq!(
        hover_text(&fixture),
        "```flow\nconnection fraud\n```\n\nThe fraud engine."
    );
}

#[test]
fn hover_on_a_stdlib_function_shows_its_signature_and_docs() {
    let fixture = fixture(
        r#"
workflow w(xs: [int]) -> int {
  on manual
  return xs.s$0um()
}
"#,
    );
    let text = hover_text(&fixture);
    let doc = flowc_compiler::stdlib::lookup("sum").expect("sum").doc;
    assert!(text.starts_with("```flow\nfn sum("), "{text}");
    assert!(text.ends_with(doc), "{text}");
}

#[test]
fn hover_after_non_ascii_text_and_at_odd_offsets() {
    let fixture = fixture(
        r#"
workflow w() -> string {
  on manual
  let café = "naïve ☕"
  let n = "日本語".len()
  return "ünïcödé ${n$0}"
}
"#,
    );
    assert_eq!(hover_text(&fixture), "```flow\nlet n: int\n```");
    let text = fixture.text(fixture.file);
    let inside_char = u32::try_from(text.find('☕').expect("cup") + 1).expect("small");
    let end = u32::try_from(text.len()).expect("small");
    for offset in [0, inside_char, end, end + 10, u32::MAX] {
        let _ = ide::hover(&fixture.analysis, fixture.file, offset);
        let _ = ide::definition(&fixture.analysis, fixture.file, offset);
        let _ = ide::references(&fixture.analysis, fixture.file, offset, true);
        let _ = ide::prepare_rename(&fixture.analysis, fixture.file, offset);
        let _ = ide::rename(&fixture.analysis, fixture.file, offset, "x");
    }
    let non_ascii_name = fixture.find("main.flow", "café");
    assert_eq!(
        ide::definition(&fixture.analysis, fixture.file, non_ascii_name + 2),
        None
    );
}

// ------------------------------------------------------------------ broken files

#[test]
fn queries_on_a_broken_file_answer_from_what_parsed() {
    let fixture = fixture(
        r#"//- main.flow
import "missing.flow"
type Order = { id: string, qty: int }

workflow w(order: Order) -> string {
  on manual
  step s = http GET "https://x.example.com/${order.$0id}" -> Order
  let bad = s.body.nope +
  if {
}

workflow broken( {
"#,
    );
    let found =
        ide::definition(&fixture.analysis, fixture.file, fixture.offset).expect("the field");
    assert_eq!(found.span.start, fixture.find("main.flow", "id: string"));
    assert!(hover_text(&fixture).contains("Order.id: string"));
    let symbols = ide::document_symbols(&fixture.analysis, fixture.file);
    let names: Vec<&str> = symbols.iter().map(|symbol| symbol.name.as_str()).collect();
    assert!(
        names.starts_with(&["missing.flow", "Order", "w"]),
        "{names:?}"
    );
    let end = u32::try_from(fixture.text(fixture.file).len()).expect("small");
    let whole = flowc_compiler::Span::new(0, end as usize);
    let _ = ide::inlay_hints(&fixture.analysis, fixture.file, whole);
    for offset in 0..=end {
        let _ = ide::hover(&fixture.analysis, fixture.file, offset);
        let _ = ide::references(&fixture.analysis, fixture.file, offset, true);
        let _ = ide::prepare_rename(&fixture.analysis, fixture.file, offset);
    }
}

#[test]
fn queries_on_an_empty_file() {
    let fixture = fixture("$0");
    assert_eq!(ide::hover(&fixture.analysis, fixture.file, 0), None);
    assert_eq!(ide::definition(&fixture.analysis, fixture.file, 0), None);
    assert!(ide::references(&fixture.analysis, fixture.file, 0, true).is_empty());
    assert!(ide::document_symbols(&fixture.analysis, fixture.file).is_empty());
    assert!(ide::workspace_symbols(&fixture.analysis, "").is_empty());
    assert!(ide::inlay_hints(&fixture.analysis, fixture.file, fixture.range).is_empty());
    assert!(ide::rename(&fixture.analysis, fixture.file, 0, "x").is_err());
}

// ------------------------------------------------------------------ symbols

/// An outline as indented lines: `kind name (detail)`.
fn outline(symbols: &[ide::Symbol], depth: usize, out: &mut String) {
    for symbol in symbols {
        out.push_str(&"  ".repeat(depth));
        out.push_str(&format!("{:?} {}", symbol.kind, symbol.name));
        if let Some(detail) = &symbol.detail {
            out.push_str(&format!(" ({detail})"));
        }
        out.push('\n');
        outline(&symbol.children, depth + 1, out);
    }
}

#[test]
fn document_symbols_outline_workflows_triggers_and_steps() {
    let fixture = fixture(
        r#"
import "other.flow"
type Order = { id: string }
event shipped = { id: string }
connection shop { base_url: "https://shop.example.com" }
fn id_of(order: Order) -> string = order.id

workflow ship(order: Order) {
  on webhook POST "/orders"
  on schedule "0 * * * *" tz "Europe/Lisbon"
  on manual
  let id = id_of(order)
  if id == "" {
    step log = http POST shop "/log"
  }
  for n in [1, 2] {
    parallel {
      step a = http GET shop "/a/${n}"
      wait 1s
    }
  }
  emit shipped { id: id }
}

workflow notify(e: { id: string }) {
  on event shipped
}

test "ships$0" {
  let x = 1
  assert x == 1
}
//- other.flow
"#,
    );
    let mut text = String::new();
    outline(
        &ide::document_symbols(&fixture.analysis, fixture.file),
        0,
        &mut text,
    );
    assert_eq!(
        text,
        r#"Import other.flow
Type Order
Event shipped ({ id: string })
Connection shop
Function id_of ((Order) -> string)
Workflow ship
  Trigger on webhook POST /orders
  Trigger on schedule "0 * * * *" tz "Europe/Lisbon"
  Trigger on manual
  Let id (string)
  Step log ({ body: json, headers: { [string]: string }, status: int })
  Step a ({ body: json, headers: { [string]: string }, status: int })
Workflow notify
  Trigger on event shipped
Test ships
  Let x (int)
"#
    );
    for symbol in ide::document_symbols(&fixture.analysis, fixture.file) {
        assert!(symbol.span.start <= symbol.selection.start);
        assert!(symbol.selection.end <= symbol.span.end);
    }
}

#[test]
fn workspace_symbols_match_a_substring_case_insensitively_across_files() {
    let fixture = fixture(&project("total$0", ""));
    let found: Vec<String> = ide::workspace_symbols(&fixture.analysis, "PAY")
        .iter()
        .map(|(file, symbol)| format!("{}:{:?}:{}", fixture.path(*file), symbol.kind, symbol.name))
        .collect();
    assert_eq!(found, ["main.flow:Workflow:pay", "types.flow:Type:Payment"]);
    let everything = ide::workspace_symbols(&fixture.analysis, "");
    let kinds: Vec<SymbolKind> = everything.iter().map(|(_, symbol)| symbol.kind).collect();
    assert_eq!(
        kinds,
        [
            SymbolKind::Workflow,
            SymbolKind::Type,
            SymbolKind::Type,
            SymbolKind::Connection
        ]
    );
}

// ------------------------------------------------------------------ inlay hints

#[test]
fn inlay_hints_for_steps_and_unwritten_lets_in_range() {
    let fixture = fixture(
        r#"
type Score = { score: int }
workflow w() -> int {
  on manual
  $0step s = http GET "https://x.example.com" -> Score
  let written: int = s.body.score
  let inferred = [s.body.score, written]
  for x in inferred {
    let twice = x * 2
  }
  $0let outside = 1
  return outside + written
}
"#,
    );
    let hints: Vec<String> = ide::inlay_hints(&fixture.analysis, fixture.file, fixture.range)
        .iter()
        .map(|hint| {
            let before = fixture
                .text(fixture.file)
                .get(..hint.offset as usize)
                .unwrap_or("");
            let word = before.rsplit(' ').next().unwrap_or("");
            format!("{word}{}", hint.label)
        })
        .collect();
    assert_eq!(
        hints,
        [
            "s: { body: Score, headers: { [string]: string }, status: int }",
            "inferred: [int]",
            "twice: int",
        ]
    );
}

#[test]
fn hover_on_an_import_names_the_file() {
    let fixture = fixture(&project("total", "").replace("import \"types", "import \"$0types"));
    let hover = ide::hover(&fixture.analysis, fixture.file, fixture.offset).expect("a hover");
    assert_eq!(hover.markdown, "```flow\nimport \"types.flow\"\n```");
    assert_eq!(fixture.slice(fixture.file, hover.span), "\"types.flow\"");
}

#[test]
fn rename_a_step_from_a_use_edits_the_step_and_every_use() {
    let fixture =
        fixture(&project("total", "").replace("for reason in check", "for reason in che$0ck"));
    let edits =
        ide::rename(&fixture.analysis, fixture.file, fixture.offset, "scored").expect("a rename");
    let mut text = fixture.text(fixture.file).to_string();
    for edit in edits.iter().rev() {
        assert_eq!(edit.file, fixture.file);
        text.replace_range(edit.span.range(), &edit.text);
    }
    assert_eq!(text.matches("scored").count(), 3, "{text}");
    assert!(!text.contains("check"), "{text}");
}

#[test]
fn definition_of_an_event_from_its_trigger_and_its_emit() {
    let fixture = fixture(
        r#"
event paid = { id: string }

workflow a() {
  on manual
  emit paid { id: "1" }
}

workflow b(e: { id: string }) {
  on event pa$0id
}
"#,
    );
    let declared = fixture.find("main.flow", "paid =");
    let found = ide::definition(&fixture.analysis, fixture.file, fixture.offset).expect("event");
    assert_eq!(found.span.start, declared);
    let emit = fixture.find("main.flow", "paid {");
    let found = ide::definition(&fixture.analysis, fixture.file, emit).expect("event");
    assert_eq!(found.span.start, declared);
}
