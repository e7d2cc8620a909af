//! The editor queries that help while typing: completion, signature help, semantic
//! tokens, folding ranges and code actions, through `flowc_compiler::ide` on
//! fixtures with a cursor (`$0`).

// `support/` has no `mod.rs`, so the shared fixture helper is included by path.
#[path = "support/fixture.rs"]
mod fixture;

use fixture::fixture;
use flowc_compiler::ide::{
    self, ActionKind, CompletionItem, CompletionKind, FoldKind, SemanticToken, TokenKind,
};
use flowc_compiler::{Analysis, FileId, NoImports, SourceFile, Span, analyze};

const PAYMENTS: &str = r#"
type Payment = { transactionId: string, amount: float, currency: "BRL" | "USD", note?: string }
type Score = { score: int, reasons: [string] }
event payment_seen = { id: string }

connection fraud {
  base_url: "https://fraud.example.com/v1"
  auth: bearer { token: secrets.fraud_token }
}

connection ledger {
  base_url: "https://ledger.example.com"
}

/// Whether a score is too risky.
fn risky(score: Score) -> bool = score.score >= 80

workflow settle(id: string) -> string {
  return id
}

workflow validate(payment: Payment) -> bool {
  on webhook POST "/payments" {
    idempotency_key: payment.transactionId
  }
  step check = http POST fraud "/score" { json: { id: payment.transactionId } } -> Score
  let funded = payment.amount > 10.0
  for reason in check.body.reasons {
    step log = http POST ledger "/log" { json: { reason: reason } }
  }
  __CURSOR__
  return funded
}
"#;

/// The completion labels with the cursor where `__CURSOR__` is, after replacing
/// it by `text`.
fn complete_at(text: &str) -> Vec<CompletionItem> {
    complete(&PAYMENTS.replace("__CURSOR__", text))
}

fn complete(text: &str) -> Vec<CompletionItem> {
    let fixture = fixture(text);
    ide::completion(&fixture.analysis, fixture.file, fixture.offset)
}

fn labels(items: &[CompletionItem]) -> Vec<&str> {
    items.iter().map(|item| item.label.as_str()).collect()
}

#[track_caller]
fn check(items: &[CompletionItem], present: &[&str], absent: &[&str]) {
    let labels = labels(items);
    for label in present {
        assert!(labels.contains(label), "{label} is missing from {labels:?}");
    }
    for label in absent {
        assert!(
            !labels.contains(label),
            "{label} should not be in {labels:?}"
        );
    }
}

fn item<'a>(items: &'a [CompletionItem], label: &str) -> &'a CompletionItem {
    items
        .iter()
        .find(|item| item.label == label)
        .unwrap_or_else(|| panic!("no {label} in {:?}", labels(items)))
}

// ------------------------------------------------------------------ completion

#[test]
fn item_keywords_at_top_level() {
    let items = complete(
        &PAYMENTS
            .replace("__CURSOR__", "")
            .replace("/// Whether a score", "$0\n/// Whether a score"),
    );
    check(
        &items,
        &[
            "type",
            "event",
            "connection",
            "fn",
            "workflow",
            "import",
            "test",
        ],
        &["step", "let", "payment", "len"],
    );
    assert!(
        items
            .iter()
            .all(|item| item.kind == CompletionKind::Keyword)
    );
    check(&complete("$0"), &["workflow", "import"], &["step"]);
    check(
        &complete("import \"./a.flow\"\n$0"),
        &["workflow", "import"],
        &["step", "len"],
    );
}

#[test]
fn parameters_and_lambda_parameters_in_a_fn_body() {
    let items = complete("type L = { qty: int }\nfn total(lines: [L], extra: int) -> int = $0");
    check(
        &items,
        &["lines", "extra", "len", "sum"],
        &["step", "qty", "L"],
    );
    let items =
        complete("type L = { qty: int }\nfn total(lines: [L]) -> int = lines.map(l => l.$0).sum()");
    check(&items, &["qty"], &["lines", "l"]);
}

#[test]
fn statement_keywords_in_a_workflow_body() {
    let items = complete_at("$0");
    check(
        &items,
        &[
            "step", "let", "if", "for", "match", "parallel", "try", "return", "emit", "set", "fail",
        ],
        // A trigger may not follow statements, and declarations are not statements.
        &["on", "workflow", "type", "len", "payment", "mock"],
    );
}

#[test]
fn triggers_and_settings_before_the_first_statement() {
    let items = complete("workflow w() {\n  on manual\n  $0\n}\n");
    check(
        &items,
        &["on", "settings", "step", "let"],
        &["workflow", "GET"],
    );
    let items = complete("workflow w() {\n  on $0\n}\n");
    check(
        &items,
        &["webhook", "schedule", "event", "manual"],
        &["step", "workflow"],
    );
}

#[test]
fn step_actions_after_step_name_equals() {
    let items = complete_at("step next = $0");
    check(
        &items,
        &["http", "call", "wait", "await", "http POST"],
        &["step", "payment", "len", "Payment"],
    );
    let post = item(&items, "http POST");
    assert!(post.snippet);
    assert_eq!(
        post.insert_text.as_deref(),
        Some("http POST ${1:connection} \"${2:/path}\"")
    );
}

#[test]
fn http_methods_then_connections() {
    check(
        &complete_at("step next = http $0"),
        &["GET", "POST", "PUT", "DELETE", "PATCH"],
        &["fraud", "payment", "step"],
    );
    let items = complete_at("step next = http POST $0");
    check(
        &items,
        &["fraud", "ledger"],
        &["Payment", "POST", "payment"],
    );
    assert_eq!(item(&items, "fraud").kind, CompletionKind::Connection);
}

#[test]
fn fields_of_a_typed_parameter_after_a_dot() {
    let items = complete_at("let x = payment.$0");
    check(
        &items,
        &["transactionId", "amount", "currency", "note"],
        &["score", "payment", "step", "body"],
    );
    assert_eq!(item(&items, "amount").detail.as_deref(), Some("float"));
    assert_eq!(item(&items, "note").detail.as_deref(), Some("string?"));
    // A half-typed field still lists them all; the editor filters by the prefix.
    check(
        &complete_at("let x = payment.am$0"),
        &["amount"],
        &["score"],
    );
}

#[test]
fn fields_of_a_step_result_and_its_body() {
    check(
        &complete_at("let x = check.$0"),
        &["body", "status", "headers"],
        &["score", "amount"],
    );
    let items = complete_at("let x = check.body.$0");
    check(&items, &["score", "reasons"], &["body", "amount", "status"]);
    assert_eq!(item(&items, "reasons").detail.as_deref(), Some("[string]"));
    // Methods of the standard library that take a list, after a list.
    check(
        &complete_at("let x = check.body.reasons.$0"),
        &["len", "map", "join"],
        &["score", "upper"],
    );
}

#[test]
fn yield_inside_a_collecting_for_only() {
    check(
        &complete_at("let xs = for r in check.body.reasons {\n    $0\n  }"),
        &["yield", "step", "let"],
        &["on"],
    );
    check(
        &complete_at("for r in check.body.reasons {\n    $0\n  }"),
        &["step", "let"],
        &["yield"],
    );
}

#[test]
fn context_keys_written_in_the_project() {
    let items = complete(
        "workflow a() {\n  set context.last_seen = \"x\"\n}\nworkflow b() {\n  let x = context.$0\n}\n",
    );
    check(&items, &["last_seen"], &["x", "len"]);
}

#[test]
fn webhook_fields_and_secret_names() {
    check(
        &complete_at("let x = webhook.$0"),
        &["headers", "query", "method", "path", "remote_ip"],
        &["amount", "fraud_token"],
    );
    let items = complete_at("let x = secrets.$0");
    check(&items, &["fraud_token"], &["payment", "headers", "len"]);
    assert_eq!(item(&items, "fraud_token").kind, CompletionKind::Secret);
}

#[test]
fn names_in_scope_and_functions_in_an_expression() {
    let items = complete_at("if $0");
    check(
        &items,
        &[
            "payment", "check", "funded", "risky", "len", "webhook", "true",
        ],
        // `reason` and `log` are bound inside the loop only; `settle` is a workflow.
        &["reason", "log", "step", "settle", "Payment"],
    );
    assert_eq!(item(&items, "check").kind, CompletionKind::Step);
    assert_eq!(item(&items, "funded").detail.as_deref(), Some("bool"));
    let len = item(&items, "len");
    assert_eq!(len.kind, CompletionKind::Function);
    assert!(
        len.detail
            .as_deref()
            .is_some_and(|detail| detail.starts_with("len("))
    );
    assert!(len.documentation.is_some());
    assert_eq!(
        item(&items, "risky").documentation.as_deref(),
        Some("Whether a score is too risky.")
    );
}

#[test]
fn loop_variables_inside_the_loop_only() {
    let text = PAYMENTS.replace("__CURSOR__", "").replace(
        "step log = http POST ledger \"/log\" { json: { reason: reason } }",
        "step log = http POST ledger \"/log\" { json: { reason: reason } }\n    let y = $0",
    );
    check(
        &complete(&text),
        &["reason", "log", "check", "payment"],
        &["settle"],
    );
}

#[test]
fn declarations_after_call_emit_and_in_types() {
    check(
        &complete_at("step child = call $0"),
        &["settle", "validate"],
        &["risky", "fraud", "payment"],
    );
    check(
        &complete_at("emit $0"),
        &["payment_seen"],
        &["Payment", "settle", "payment"],
    );
    check(
        &complete("event paid = { id: string }\nworkflow w(x: string) {\n  on event $0\n}\n"),
        &["paid"],
        &["w", "string"],
    );
    let items = complete_at("let typed: $0");
    check(
        &items,
        &["Payment", "Score", "string", "int", "json"],
        &["payment", "check", "fraud", "len"],
    );
    check(
        &complete("type A = { a: int }\nfn f(x: $0"),
        &["A", "string"],
        &["f", "x", "len"],
    );
    check(
        &complete("type A = { a: int }\ntype B = { b: $0 }"),
        &["A", "int"],
        &["len", "step"],
    );
}

#[test]
fn option_names_in_option_blocks() {
    check(
        &complete_at("step next = http POST fraud \"/x\" {\n    $0\n  }"),
        &["json", "headers", "timeout", "retry", "expect"],
        &["payment", "step", "base_url"],
    );
    check(
        &complete_at("step next = http POST fraud \"/x\" { json: {}, $0 }"),
        &["json", "auth"],
        &["payment", "verify"],
    );
    // After an option's colon comes a value, not an option name.
    check(
        &complete_at("step next = http POST fraud \"/x\" { json: $0 }"),
        &["payment"],
        &["expect"],
    );
    check(
        &complete("connection c {\n  $0\n}\n"),
        &["base_url", "auth", "circuit_breaker"],
        &["json", "step"],
    );
    check(
        &complete("workflow w() {\n  on webhook POST \"/w\" {\n    $0\n  }\n}\n"),
        &["verify", "idempotency_key", "respond"],
        &["json", "step", "on"],
    );
    check(
        &complete("workflow w() {\n  settings { $0 }\n}\n"),
        &["max_concurrency", "timeout", "on_failure"],
        &["verify", "step"],
    );
}

#[test]
fn built_in_forms_and_workflows_as_option_values() {
    check(
        &complete("connection c {\n  auth: $0\n}\n"),
        &["bearer", "basic", "api_key", "oauth2_client_credentials"],
        &["github", "json", "len"],
    );
    check(
        &complete("workflow w() {\n  on webhook POST \"/w\" {\n    verify: $0\n  }\n}\n"),
        &["github", "stripe", "header_token", "hmac_sha256"],
        &["bearer", "len"],
    );
    check(
        &complete("workflow w() {\n  on webhook POST \"/w\" { respond: $0 }\n}\n"),
        &["accepted", "wait"],
        &["github"],
    );
    check(
        &complete("workflow other() { }\nworkflow w() {\n  settings { on_failure: $0 }\n}\n"),
        &["other", "w"],
        &["accepted", "len"],
    );
    check(
        &complete_at("step next = http POST fraud \"/x\" { retry: $0 }"),
        &["exponential"],
        &["payment"],
    );
}

/// Every option name completion offers is one the checker knows: writing it
/// gives no "unknown option" diagnostic.
#[test]
fn offered_option_names_are_known_to_the_checker() {
    let blocks = [
        "connection c {\n  __\n}\n",
        "workflow w() {\n  settings { __ }\n}\n",
        "workflow w() {\n  on webhook POST \"/w\" { __ }\n}\n",
        "workflow w() {\n  step s = http POST \"https://x.example.com\" { __ }\n}\n",
    ];
    for block in blocks {
        let items = complete(&block.replace("__", "$0"));
        assert!(items.len() >= 4, "{block}: {:?}", labels(&items));
        for item in &items {
            assert_eq!(item.kind, CompletionKind::Field);
            let analysis = analyze_text(&block.replace("__", &format!("{}: 1", item.label)));
            let unknown: Vec<_> = analysis
                .diagnostics
                .iter()
                .filter(|d| d.diagnostic.code.as_str() == "E0418")
                .map(|d| d.diagnostic.message.clone())
                .collect();
            assert!(unknown.is_empty(), "{}: {unknown:?}", item.label);
        }
    }
}

#[test]
fn patterns_of_a_match_on_a_literal_union() {
    let items = complete_at("match payment.currency {\n    $0\n  }");
    check(&items, &["\"BRL\"", "\"USD\"", "_"], &["payment", "step"]);
    let items = complete_at("match payment.currency {\n    \"BRL\" => return false\n    $0\n  }");
    check(&items, &["\"USD\"", "_"], &["step", "len"]);
    // After `=>` comes the arm's statement.
    check(
        &complete_at("match payment.currency {\n    \"BRL\" => $0\n  }"),
        &["step", "return"],
        &["\"USD\""],
    );
}

#[test]
fn fields_of_an_await_binding_in_its_predicate() {
    let items = complete_at("step got = await event payment_seen as seen where seen.$0");
    check(&items, &["id"], &["amount", "body"]);
}

#[test]
fn await_offers_waits_and_handles() {
    let items = complete_at("let done = callback(timeout: 1h)\n  step waited = await $0");
    check(&items, &["event", "webhook", "done"], &["payment", "http"]);
    check(
        &complete_at("step got = await event $0"),
        &["payment_seen"],
        &["payment", "webhook"],
    );
}

#[test]
fn nothing_inside_strings_and_comments() {
    assert!(complete_at("let x = \"pay$0\"").is_empty());
    assert!(complete_at("// payment.$0").is_empty());
    assert!(complete_at("/* step $0 */").is_empty());
    // Inside an interpolation is an expression again.
    check(
        &complete_at("let x = \"a ${pay$0}\""),
        &["payment"],
        &["step"],
    );
}

#[test]
fn completion_never_panics_on_broken_text() {
    let texts = [
        "",
        "$0",
        "workflow",
        "workflow w(é: ñ) { step ünï = http POST \"/ü\" { json: { a: 1 } } let x = ü.$0",
        "type T = { a: \"unterminated\nworkflow w() { let x = (((( $0",
        "/* open comment $0",
        "workflow w() {\n  step s = await event\n  match x {\n  \"a\" => $0",
    ];
    for text in texts {
        let fixture = fixture(&format!("{text}$0").replacen("$0$0", "$0", 1));
        let source = fixture.text(fixture.file).to_string();
        for offset in 0..=source.len() as u32 + 3 {
            let _ = ide::completion(&fixture.analysis, fixture.file, offset);
            let _ = ide::signature_help(&fixture.analysis, fixture.file, offset);
            let range = Span::new(offset as usize, offset as usize);
            let _ = ide::code_actions(&fixture.analysis, fixture.file, range);
        }
        let _ = ide::semantic_tokens(&fixture.analysis, fixture.file);
        let _ = ide::folding_ranges(&fixture.analysis, fixture.file);
    }
}

/// Every query at many offsets of every example (a prime step lands on all kinds
/// of tokens, inside multi-byte characters too), never panicking.
#[test]
fn queries_never_panic_across_the_examples() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    for entry in std::fs::read_dir(dir).expect("examples").flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|ext| ext != "flow") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("example");
        let analysis = analyze_text(&text);
        let len = u32::try_from(text.len()).expect("small");
        for offset in (0..=len + 1).step_by(29) {
            let _ = ide::completion(&analysis, FileId(0), offset);
            let _ = ide::signature_help(&analysis, FileId(0), offset);
            let range = Span::new(offset as usize, (offset as usize + 40).min(text.len()));
            let _ = ide::code_actions(&analysis, FileId(0), range);
        }
        assert!(!ide::semantic_tokens(&analysis, FileId(0)).is_empty());
        assert!(!ide::folding_ranges(&analysis, FileId(0)).is_empty());
    }
}

#[test]
fn non_ascii_text_before_the_cursor() {
    let items = complete(
        "type P = { name: string, b: int }\nworkflow w(p: P) {\n  let s = \"ça va ✓ 😀\"\n  let x = p.$0\n}\n",
    );
    check(&items, &["name", "b"], &["s", "p"]);
    // An offset inside a multi-byte character answers as at its start.
    let fixture = fixture("workflow w() {\n  let é = 1\n  let x = é$0\n}\n");
    let inside = fixture.offset - 1;
    let _ = ide::completion(&fixture.analysis, fixture.file, inside);
}

#[test]
fn completion_in_an_imported_file() {
    let items = complete(
        "//- main.flow\nimport \"./types.flow\"\nworkflow w(o: Order) {\n  let x = o.$0\n}\n//- types.flow\ntype Order = { id: string, total: int }\n",
    );
    check(&items, &["id", "total"], &["o"]);
}

// ------------------------------------------------------------------ signature help

fn signature(text: &str) -> Option<ide::SignatureHelp> {
    let fixture = fixture(text);
    ide::signature_help(&fixture.analysis, fixture.file, fixture.offset)
}

fn active_name(help: &ide::SignatureHelp) -> &str {
    let index = help.active_parameter.expect("an active parameter") as usize;
    let (start, end) = help.parameters[index];
    &help.label[start as usize..end as usize]
}

#[test]
fn signature_of_a_fn_with_the_active_parameter() {
    let text = "fn add(a: int, b: int) -> int = a + b\nfn g() -> int = add(1, $0)\n";
    let help = signature(text).expect("signature help");
    assert_eq!(help.label, "fn add(a: int, b: int) -> int");
    assert_eq!(active_name(&help), "b: int");
    let help = signature("fn add(a: int, b: int) -> int = a + b\nfn g() -> int = add($0)\n")
        .expect("signature help");
    assert_eq!(active_name(&help), "a: int");
    // Nested calls: the innermost open call is the one helped.
    let help =
        signature("fn add(a: int, b: int) -> int = a + b\nfn g() -> int = add(len(\"x$0\"), 2)\n");
    assert!(help.is_none(), "inside a string there is no help");
    let help =
        signature("fn add(a: int, b: int) -> int = a + b\nfn g() -> int = add(1, len($0))\n")
            .expect("signature help");
    assert!(help.label.starts_with("len("), "{}", help.label);
}

#[test]
fn signature_of_stdlib_functions_methods_and_named_arguments() {
    let help = signature("fn g(xs: [string]) -> string = join(xs, $0)").expect("help");
    assert!(help.label.starts_with("join("), "{}", help.label);
    assert!(
        active_name(&help).starts_with("sep"),
        "{}",
        active_name(&help)
    );
    assert!(help.documentation.is_some());
    // As a method, the receiver is the first parameter.
    let help = signature("fn g(xs: [string]) -> string = xs.join($0)").expect("help");
    assert!(
        active_name(&help).starts_with("sep"),
        "{}",
        active_name(&help)
    );
    // A named argument is matched by its name, not its position.
    let help = signature(
        "workflow child(a: int, b: string) { }\nworkflow w() {\n  step c = call child(b: \"x\", a: $0)\n}\n",
    )
    .expect("help");
    assert_eq!(help.label, "workflow child(a: int, b: string)");
    assert_eq!(active_name(&help), "a: int");
    assert!(signature("fn g() -> int = 1 + $0").is_none());
}

// ------------------------------------------------------------------ semantic tokens

#[test]
fn semantic_tokens_of_a_small_file() {
    let text =
        "// note\ntype T = { a: int }\n/* two\nlines */\nfn f(x: T) -> int = x.a + len(\"s\")\n";
    let fixture = fixture(&format!("{text}$0"));
    let tokens = ide::semantic_tokens(&fixture.analysis, fixture.file);
    let shown: Vec<(std::string::String, TokenKind, bool)> = tokens
        .iter()
        .map(|token| {
            (
                fixture.slice(fixture.file, token.span).to_string(),
                token.kind,
                token.declaration,
            )
        })
        .collect();
    use TokenKind::*;
    let expected: Vec<(&str, TokenKind, bool)> = vec![
        ("// note", Comment, false),
        ("type", Keyword, false),
        ("T", Type, true),
        ("=", Operator, false),
        ("a", Property, true),
        ("int", Type, false),
        ("/* two", Comment, false),
        ("lines */", Comment, false),
        ("fn", Keyword, false),
        ("f", Function, true),
        ("x", Parameter, true),
        ("T", Type, false),
        ("->", Operator, false),
        ("int", Type, false),
        ("=", Operator, false),
        ("x", Parameter, false),
        ("a", Property, false),
        ("+", Operator, false),
        ("len", Function, false),
        ("\"", String, false),
        ("s", String, false),
        ("\"", String, false),
    ];
    let expected: Vec<(std::string::String, TokenKind, bool)> = expected
        .into_iter()
        .map(|(text, kind, declaration)| (text.to_string(), kind, declaration))
        .collect();
    assert_eq!(shown, expected);
    assert_sorted_single_line(fixture.text(fixture.file), &tokens);
}

fn assert_sorted_single_line(text: &str, tokens: &[SemanticToken]) {
    for pair in tokens.windows(2) {
        assert!(pair[0].span.end <= pair[1].span.start, "{pair:?} overlap");
    }
    for token in tokens {
        assert!(!token.span.is_empty());
        assert!(
            !text[token.span.range()].contains('\n'),
            "{token:?} spans lines"
        );
    }
}

#[test]
fn semantic_tokens_of_an_example_are_sorted_and_single_line() {
    let text = include_str!("../../examples/payment_validation.flow");
    let analysis = analyze(
        vec![SourceFile {
            path: "main.flow".to_string(),
            text: text.to_string(),
        }],
        &NoImports,
    );
    let tokens = ide::semantic_tokens(&analysis, FileId(0));
    assert_sorted_single_line(text, &tokens);
    let kind_of = |needle: &str| {
        let at = text.find(needle).expect("needle") as u32;
        tokens
            .iter()
            .find(|token| token.span.start == at)
            .map(|token| (token.kind, token.declaration))
    };
    assert_eq!(kind_of("Payment = {"), Some((TokenKind::Type, true)));
    assert_eq!(kind_of("fraud {"), Some((TokenKind::Namespace, true)));
    assert_eq!(
        kind_of("workflow payment_validation"),
        Some((TokenKind::Keyword, false))
    );
    assert_eq!(kind_of("10s"), Some((TokenKind::Number, false)));
    assert_eq!(kind_of("// Scenario"), Some((TokenKind::Comment, false)));
}

// ------------------------------------------------------------------ folding

#[test]
fn folding_ranges() {
    let text = "import \"./a.flow\"\nimport \"./b.flow\"\n\n// one\n// two\ntype T = {\n  a: int,\n}\nworkflow w() {\n  on manual\n  if true {\n    return\n  }\n}\n$0";
    let fixture = fixture(&format!(
        "//- main.flow\n{text}\n//- a.flow\ntype A = int\n//- b.flow\ntype B = int\n"
    ));
    let folds = ide::folding_ranges(&fixture.analysis, fixture.file);
    let shown: Vec<(String, FoldKind)> = folds
        .iter()
        .map(|fold| {
            (
                fixture.slice(fixture.file, fold.span).to_string(),
                fold.kind,
            )
        })
        .collect();
    let expected = vec![
        (
            "import \"./a.flow\"\nimport \"./b.flow\"".to_string(),
            FoldKind::Imports,
        ),
        ("// one\n// two".to_string(), FoldKind::Comment),
        ("type T = {\n  a: int,\n}".to_string(), FoldKind::Region),
        ("{\n  a: int,\n}".to_string(), FoldKind::Region),
        (
            "workflow w() {\n  on manual\n  if true {\n    return\n  }\n}".to_string(),
            FoldKind::Region,
        ),
        ("{\n    return\n  }".to_string(), FoldKind::Region),
    ];
    assert_eq!(shown, expected);
}

// ------------------------------------------------------------------ code actions

fn apply(text: &str, edits: &[ide::Edit]) -> String {
    let mut edits: Vec<&ide::Edit> = edits.iter().collect();
    edits.sort_by_key(|edit| std::cmp::Reverse(edit.span.start));
    let mut out = text.to_string();
    for edit in edits {
        out.replace_range(edit.span.range(), &edit.text);
    }
    out
}

fn analyze_text(text: &str) -> Analysis {
    analyze(
        vec![SourceFile {
            path: "main.flow".to_string(),
            text: text.to_string(),
        }],
        &NoImports,
    )
}

#[track_caller]
fn assert_clean(text: &str) {
    let analysis = analyze_text(text);
    let errors: Vec<_> = analysis
        .diagnostics
        .iter()
        .filter(|d| d.diagnostic.is_error())
        .map(|d| format!("{} {}", d.diagnostic.code, d.diagnostic.message))
        .collect();
    assert!(errors.is_empty(), "{errors:?} in\n{text}");
}

/// The one action titled `title` at the fixture's cursor, applied to its text.
fn fixed(text: &str, title: &str) -> String {
    let fixture = fixture(text);
    let actions = ide::code_actions(&fixture.analysis, fixture.file, fixture.range);
    let action = actions
        .iter()
        .find(|action| action.title.contains(title))
        .unwrap_or_else(|| {
            panic!(
                "no action {title:?} in {:?}",
                actions.iter().map(|a| &a.title).collect::<Vec<_>>()
            )
        });
    assert_eq!(action.kind, ActionKind::QuickFix);
    apply(fixture.text(fixture.file), &action.edits)
}

#[test]
fn did_you_mean_fixes_apply_cleanly() {
    let base = "type P = { amount: int }\nworkflow w(payment: P) -> int {\n  return __\n}\n";
    let fixed_field = fixed(
        &base.replace("__", "payment.amout$0"),
        "replace with `amount`",
    );
    assert!(fixed_field.contains("payment.amount"), "{fixed_field}");
    assert_clean(&fixed_field);
    let fixed_name = fixed(
        &base.replace("__", "paymnt$0.amount"),
        "replace with `payment`",
    );
    assert_clean(&fixed_name);
    let fixed_type = fixed(
        "type Payment = { amount: int }\nworkflow w(p: Paymnt$0) -> int {\n  return p.amount\n}\n",
        "replace with `Payment`",
    );
    assert_clean(&fixed_type);
    let fixed_step = fixed(
        "workflow child() { }\nworkflow w() {\n  step c = call chlid$0()\n}\n",
        "replace with `child`",
    );
    assert_clean(&fixed_step);
    let fixed_option = fixed(
        "workflow w() {\n  step s = http GET \"https://x.example.com\" { timout$0: 5s }\n}\n",
        "replace with `timeout`",
    );
    assert!(fixed_option.contains("{ timeout: 5s }"), "{fixed_option}");
    assert_clean(&fixed_option);
    let fixed_event = fixed(
        "event paid = { id: string }\nworkflow w() {\n  emit piad$0 { id: \"x\" }\n}\n",
        "replace with `paid`",
    );
    assert_clean(&fixed_event);
    // The diagnostic says which code it fixes.
    let fixture = fixture(&base.replace("__", "payment.amout$0"));
    let actions = ide::code_actions(&fixture.analysis, fixture.file, fixture.range);
    assert!(
        actions
            .iter()
            .any(|action| action.fixes.is_some() && action.preferred)
    );
}

#[test]
fn missing_match_arms_are_added_indented() {
    let text = "type C = \"BRL\" | \"USD\" | \"EUR\"\nworkflow w(c: C) {\n  $0match c {\n    \"BRL\" => return\n  }\n}\n";
    let out = fixed(text, "missing `match` arms");
    assert_eq!(
        out,
        "type C = \"BRL\" | \"USD\" | \"EUR\"\nworkflow w(c: C) {\n  match c {\n    \"BRL\" => return,\n    \"EUR\" => fail \"not handled yet\",\n    \"USD\" => fail \"not handled yet\",\n  }\n}\n"
    );
    assert_clean(&out);
    // A match expression gets arms with a value of its type.
    let text = "fn f(c: \"a\" | \"b\" | null) -> int = match c$0 { \"a\" => 1 }\n";
    let out = fixed(text, "missing `match` arms");
    assert_clean(&out);
    assert!(out.contains("\"b\" => 1"), "{out}");
    assert!(out.contains("null => 1"), "{out}");
}

#[test]
fn a_timeout_is_added_to_waits() {
    let text = "event paid = { id: string }\nworkflow w(id: string) {\n  step p = await event paid as e where e.id == id$0\n}\n";
    let out = fixed(text, "add a timeout");
    assert!(out.contains("where e.id == id (timeout: 1h)"), "{out}");
    assert_clean(&out);
    let text = "event paid = { id: string }\nworkflow w(id: string) {\n  step p = await event paid as e where e.id == id (lookback: 1m)$0\n}\n";
    let out = fixed(text, "add a timeout");
    assert!(out.contains("(timeout: 1h, lookback: 1m)"), "{out}");
    assert_clean(&out);
    let text = "workflow w() {\n  let done = callback$0()\n  step r = await done\n}\n";
    let handle = fixture(text);
    let actions = ide::code_actions(&handle.analysis, handle.file, handle.range);
    assert!(
        actions
            .iter()
            .any(|action| action.fixes.is_some_and(|code| code.as_str() == "E0413")),
        "{actions:?}"
    );
    let out = fixed(text, "add a timeout");
    assert!(out.contains("callback(timeout: 1h)"), "{out}");
    assert_clean(&out);
    let text = "workflow w() {\n  let ok = approval(message: \"go?\")$0\n  step r = await ok\n}\n";
    let out = fixed(text, "add a timeout");
    assert!(out.contains("approval(timeout: 1h, message:"), "{out}");
    assert_clean(&out);
    // A wait that has one is offered nothing.
    let fixture = fixture(
        "event paid = { id: string }\nworkflow w(id: string) {\n  step p = await event paid as e where e.id == id (timeout: 1m)$0\n}\n",
    );
    let actions = ide::code_actions(&fixture.analysis, fixture.file, fixture.range);
    assert!(actions.is_empty(), "{actions:?}");
}

/// At every `.` of the examples (but after a `json` value), completion offers the
/// field or method written after it: what was written is what an editor should
/// have proposed.
#[test]
fn every_field_access_of_the_examples_is_offered() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("examples")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "flow"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 5);
    let mut checked = 0;
    let mut missed = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("example");
        let analysis = analyze_text(&text);
        let lexed = flowc_compiler::syntax::lex(&text);
        for (index, token) in lexed.tokens.iter().enumerate() {
            if !matches!(
                token,
                flowc_compiler::syntax::Token::Dot | flowc_compiler::syntax::Token::QuestionDot
            ) {
                continue;
            }
            let Some(next) = lexed.spans.get(index + 1) else {
                continue;
            };
            let dot = lexed.spans[index];
            if next.start != dot.end {
                continue;
            }
            // Fields of `json` values are not known before run time.
            let json = analysis.info.types.iter().any(|typed| {
                typed.span.end == dot.start && typed.ty == flowc_compiler::ty::Ty::Json
            });
            if json {
                continue;
            }
            let written = &text[next.range()];
            let items = ide::completion(&analysis, FileId(0), dot.end);
            checked += 1;
            if !items.iter().any(|item| item.label == written) {
                let line = text[..dot.end as usize].lines().count();
                missed.push(format!("{}:{line} .{written}", path.display()));
            }
        }
    }
    assert!(checked > 100, "only {checked} field accesses");
    assert!(
        missed.is_empty(),
        "{} of {checked} missed: {missed:#?}",
        missed.len()
    );
}

/// The same with the field name deleted, as while typing it: the text around the
/// dot no longer parses (`x.trim().`, `p => p.` in a lambda, `intent.` before
/// `.id &&`), and the base's type still comes through. Names after `secrets.` and
/// `context.` are the project's other uses of them, so the one deleted is not
/// among them.
#[test]
fn every_field_access_of_the_examples_is_offered_while_typed() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("examples")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "flow"))
        .collect();
    paths.sort();
    let mut checked = 0;
    let mut missed = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("example");
        let analysis = analyze_text(&text);
        let lexed = flowc_compiler::syntax::lex(&text);
        for (index, token) in lexed.tokens.iter().enumerate() {
            if !matches!(
                token,
                flowc_compiler::syntax::Token::Dot | flowc_compiler::syntax::Token::QuestionDot
            ) {
                continue;
            }
            let (Some(next), Some(base)) = (
                lexed.spans.get(index + 1),
                index.checked_sub(1).and_then(|at| lexed.spans.get(at)),
            ) else {
                continue;
            };
            let dot = lexed.spans[index];
            let json = analysis.info.types.iter().any(|typed| {
                typed.span.end == dot.start && typed.ty == flowc_compiler::ty::Ty::Json
            });
            if next.start != dot.end || json || matches!(&text[base.range()], "secrets" | "context")
            {
                continue;
            }
            let written = &text[next.range()];
            let typing = format!(
                "{}{}",
                &text[..dot.end as usize],
                &text[next.end as usize..]
            );
            let items = ide::completion(&analyze_text(&typing), FileId(0), dot.end);
            checked += 1;
            if !items.iter().any(|item| item.label == written) {
                let line = text[..dot.end as usize].lines().count();
                missed.push(format!("{}:{line} .{written}", path.display()));
            }
        }
    }
    assert!(checked > 100, "only {checked} field accesses");
    assert!(
        missed.is_empty(),
        "{} of {checked} missed: {missed:#?}",
        missed.len()
    );
}
