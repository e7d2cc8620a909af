//! End-to-end tests of the `flowc` binary: what CI and people see. Each test writes a
//! few `.flow` files into a temporary directory, runs the real executable there and
//! checks its exit code, standard output and standard error, byte for byte where the
//! format is a contract (GitHub annotations, summary lines) and field by field where
//! it is structured (JSON, SARIF).

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

// ------------------------------------------------------------------ helpers

/// Runs `flowc ARGS` in `dir` with `stdin` and extra environment variables. The
/// colour variables of the test runner's own environment are removed first, so
/// every run starts from "not a terminal, nothing forced".
fn run(dir: &Path, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowc"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("RUST_BACKTRACE")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn flowc(dir: &Path, args: &[&str]) -> Output {
    run(dir, args, b"", &[])
}

/// A temporary directory holding `files`, given as (relative path, contents).
fn project(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    dir
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap()
}

const CLEAN: &str = "\
type Payment = { amount: float }
fn double(x: int) -> int = x * 2
";

/// Exactly one error: E0101 at line 1, column 25.
const BROKEN: &str = "fn f(x: int) -> int = x @\n";

/// Three lexical errors on three lines: an unterminated string (E0102), a stray
/// `@` (E0101) and a duration with an unknown unit (E0106), each in a position the
/// parser accepts, so that nothing but the three is reported.
const LEXICAL: &str = r#"fn greet(name: string) -> string = "hello
fn stray(x: int) -> int = x @
fn delay(x: int) -> duration = 10y
"#;

/// (code, start line, start column, start byte, end line, end column, end byte) of
/// each diagnostic in `LEXICAL`.
const LEXICAL_EXPECTED: [(&str, u64, u64, u64, u64, u64, u64); 3] = [
    ("E0102", 1, 36, 35, 1, 42, 41),
    ("E0101", 2, 29, 70, 2, 30, 71),
    ("E0106", 3, 32, 103, 3, 35, 106),
];

// ------------------------------------------------------------------ exit codes

#[test]
fn clean_file_exits_zero() {
    let dir = project(&[("ok.flow", CLEAN)]);
    let output = flowc(dir.path(), &["check", "ok.flow"]);
    assert_eq!(code(&output), 0);
    assert_eq!(stdout(&output), "");
    assert_eq!(stderr(&output), "checked 1 file: no problems\n");
}

#[test]
fn errors_exit_one() {
    let dir = project(&[("bad.flow", LEXICAL), ("ok.flow", CLEAN)]);
    let output = flowc(dir.path(), &["check"]);
    assert_eq!(code(&output), 1);
    assert_eq!(stderr(&output), "error: 3 errors in 1 of 2 files\n");
}

#[test]
fn deny_warnings_parses_and_a_clean_file_still_passes() {
    // The flag denies nothing when there is nothing to deny.
    let dir = project(&[("ok.flow", CLEAN)]);
    let output = flowc(dir.path(), &["check", "--deny-warnings", "ok.flow"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let output = flowc(dir.path(), &["check", "--deny-warnings", "--format=json"]);
    assert_eq!(json(&output)["valid"], true);
}

#[test]
fn usage_errors_exit_two() {
    let dir = project(&[]);
    let cases: [&[&str]; 6] = [
        &["check", "--format", "xml"],
        &["check", "--no-such-flag"],
        &["check", "--quiet", "--verbose"],
        &["explain"],
        &["explain", "E0101", "--list"],
        &["no-such-command"],
    ];
    for args in cases {
        let output = flowc(dir.path(), args);
        assert_eq!(code(&output), 2, "flowc {args:?}: {}", stderr(&output));
        assert!(stderr(&output).starts_with("error: "), "flowc {args:?}");
    }
    // No command at all prints the short help, as a usage error.
    let output = flowc(dir.path(), &[]);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("Usage: flowc"));
}

#[test]
fn missing_file_exits_two_with_one_line_and_the_rest_is_checked() {
    let dir = project(&[("ok.flow", CLEAN), ("bad.flow", LEXICAL)]);
    let output = flowc(
        dir.path(),
        &["check", "missing.flow", "ok.flow", "bad.flow"],
    );
    assert_eq!(code(&output), 2);
    assert_eq!(
        stderr(&output),
        "error: cannot read missing.flow: No such file or directory\n\
         error: 3 errors in 1 of 2 files; 1 path could not be read\n"
    );
    assert!(stdout(&output).contains("bad.flow:1:36"));
}

#[test]
fn non_utf8_file_exits_two() {
    let dir = project(&[("ok.flow", CLEAN)]);
    std::fs::write(
        dir.path().join("latin1.flow"),
        b"type A = int\n// caf\xe9\n",
    )
    .unwrap();
    let output = flowc(dir.path(), &["check", "--format", "json"]);
    assert_eq!(code(&output), 2);
    assert_eq!(
        stderr(&output),
        "error: cannot read latin1.flow: not valid UTF-8 (line 2, column 7)\n\
         error: checked 1 file; 1 path could not be read\n"
    );
    let report = json(&output);
    assert_eq!(report["valid"], false);
    assert_eq!(report["files"], serde_json::json!(["ok.flow"]));
}

// ------------------------------------------------------------------ three errors, four formats

#[test]
fn three_lexical_errors_human() {
    let dir = project(&[("lex.flow", LEXICAL)]);
    let output = flowc(dir.path(), &["check", "lex.flow"]);
    assert_eq!(code(&output), 1);
    let text = stdout(&output);
    for (code, line, column, ..) in LEXICAL_EXPECTED {
        assert!(text.contains(&format!("[{code}] Error")), "{text}");
        assert!(
            text.contains(&format!("lex.flow:{line}:{column}")),
            "{text}"
        );
    }
    assert!(text.contains("unterminated string"), "{text}");
    assert!(text.contains("unexpected character `@`"), "{text}");
    assert!(text.contains("invalid duration `10y`"), "{text}");
    assert!(!text.contains('\x1b'), "no colour into a pipe");
    assert_eq!(stderr(&output), "error: 3 errors in 1 file\n");
}

#[test]
fn three_lexical_errors_json() {
    let dir = project(&[("lex.flow", LEXICAL)]);
    let output = flowc(dir.path(), &["check", "--format", "json", "lex.flow"]);
    assert_eq!(code(&output), 1);
    let report = json(&output);
    assert_eq!(report["version"], 1);
    assert_eq!(report["valid"], false);
    assert_eq!(report["error_count"], 3);
    assert_eq!(report["warning_count"], 0);
    assert_eq!(report["files"], serde_json::json!(["lex.flow"]));
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 3, "{report:#}");
    for (diagnostic, expected) in diagnostics.iter().zip(LEXICAL_EXPECTED) {
        let (code, line, column, byte, end_line, end_column, end_byte) = expected;
        assert_eq!(diagnostic["file"], "lex.flow");
        assert_eq!(diagnostic["code"], code);
        assert_eq!(diagnostic["severity"], "error");
        assert!(diagnostic["message"].as_str().unwrap().len() > 3);
        let start = serde_json::json!({"line": line, "column": column, "byte": byte});
        let end = serde_json::json!({"line": end_line, "column": end_column, "byte": end_byte});
        assert_eq!(diagnostic["start"], start, "{diagnostic:#}");
        assert_eq!(diagnostic["end"], end, "{diagnostic:#}");
        let labels = diagnostic["labels"].as_array().unwrap();
        assert_eq!(labels[0]["primary"], true);
        assert!(labels[0]["message"].is_string());
        assert_eq!(labels[0]["start"], start);
        assert_eq!(labels[0]["end"], end);
        assert!(diagnostic["notes"].is_array());
        assert!(diagnostic["help"].is_string() || diagnostic["help"].is_null());
    }
    // The `@` has no help; the unterminated string does.
    assert!(diagnostics[0]["help"].is_string());
    assert!(diagnostics[1]["help"].is_null());
}

#[test]
fn json_fields_come_in_documented_order() {
    let dir = project(&[("lex.flow", LEXICAL)]);
    let text = stdout(&flowc(dir.path(), &["check", "--format", "json"]));
    let top = [
        "\"version\"",
        "\"valid\"",
        "\"error_count\"",
        "\"warning_count\"",
        "\"files\"",
        "\"diagnostics\"",
        "\"file\"",
        "\"code\"",
        "\"severity\"",
        "\"message\"",
        "\"start\"",
        "\"end\"",
        "\"labels\"",
        "\"notes\"",
        "\"help\"",
        "\"workflows\"",
    ];
    let positions: Vec<usize> = top.iter().map(|key| text.find(key).unwrap()).collect();
    assert!(positions.is_sorted(), "{text}");
}

#[test]
fn three_lexical_errors_github() {
    let dir = project(&[("lex.flow", LEXICAL)]);
    let output = flowc(dir.path(), &["check", "--format", "github", "lex.flow"]);
    assert_eq!(code(&output), 1);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with(
            "::error file=lex.flow,line=1,col=36,endLine=1,endColumn=42,title=E0102::unterminated string%0Ahelp: "
        ),
        "{text}"
    );
    assert_eq!(
        lines[1],
        "::error file=lex.flow,line=2,col=29,endLine=2,endColumn=30,title=E0101::unexpected character `@`"
    );
    assert!(
        lines[2].starts_with(
            "::error file=lex.flow,line=3,col=32,endLine=3,endColumn=35,title=E0106::invalid duration `10y`"
        ),
        "{text}"
    );
}

#[test]
fn github_escapes_properties() {
    let dir = project(&[("a,b:c.flow", BROKEN)]);
    let output = flowc(dir.path(), &["check", "--format=github"]);
    assert_eq!(
        stdout(&output),
        "::error file=a%2Cb%3Ac.flow,line=1,col=25,endLine=1,endColumn=26,title=E0101::unexpected character `@`\n"
    );
}

#[test]
fn three_lexical_errors_sarif() {
    let dir = project(&[("lex.flow", LEXICAL)]);
    let output = flowc(dir.path(), &["check", "--format", "sarif", "lex.flow"]);
    assert_eq!(code(&output), 1);
    let sarif = json(&output);
    assert_eq!(sarif["version"], "2.1.0");
    assert!(
        sarif["$schema"]
            .as_str()
            .unwrap()
            .contains("sarif-schema-2.1.0")
    );
    let runs = sarif["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "flowc");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));

    let rules = driver["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules
        .iter()
        .map(|rule| rule["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["E0101", "E0102", "E0106"]);
    assert_eq!(rules[0]["shortDescription"]["text"], "unexpected character");
    for rule in rules {
        assert!(rule["fullDescription"]["text"].as_str().unwrap().len() > 10);
        assert!(
            rule["help"]["markdown"]
                .as_str()
                .unwrap()
                .starts_with("# E01")
        );
    }

    let results = runs[0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for (result, expected) in results.iter().zip(LEXICAL_EXPECTED) {
        let (code, line, column, byte, end_line, end_column, end_byte) = expected;
        assert_eq!(result["ruleId"], code);
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], code);
        assert_eq!(result["level"], "error");
        assert!(result["message"]["text"].is_string());
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "lex.flow");
        assert_eq!(
            location["region"],
            serde_json::json!({
                "startLine": line, "startColumn": column,
                "endLine": end_line, "endColumn": end_column,
                "byteOffset": byte, "byteLength": end_byte - byte,
            })
        );
    }
}

/// Three broken declarations between good ones: each is reported once, where it is,
/// and the parser recovers in time for the next. Depends on the recovering parser
/// (E02xx); it fails while `compiler/src/syntax/parser.rs` is a stub.
#[test]
fn three_parse_errors_each_reported_once() {
    let source = "\
type Payment = { amount: float }
type = { id: string }
fn double(x: int) -> int = x * 2
fn (x: int) -> int = x
event paid = Payment
event = Payment
workflow ok(p: Payment) -> int {
  return 1
}
";
    let dir = project(&[("parse.flow", source)]);
    let output = flowc(dir.path(), &["check", "--format", "json"]);
    assert_eq!(code(&output), 1);
    let report = json(&output);
    let found: Vec<(String, u64)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let code = d["code"].as_str().unwrap();
            (code[..3].to_owned(), d["start"]["line"].as_u64().unwrap())
        })
        .collect();
    let expected = [("E02", 2), ("E02", 4), ("E02", 6)];
    let expected: Vec<(String, u64)> = expected
        .iter()
        .map(|(code, line)| ((*code).to_owned(), *line))
        .collect();
    assert_eq!(found, expected, "{report:#}");
}

#[test]
fn columns_count_characters_and_bytes_count_bytes() {
    let dir = project(&[("u.flow", "fn s() -> string = \"日本\" @\n")]);
    let report = json(&flowc(dir.path(), &["check", "--format=json"]));
    let start = &report["diagnostics"][0]["start"];
    assert_eq!(
        *start,
        serde_json::json!({"line": 1, "column": 25, "byte": 28})
    );
}

// ------------------------------------------------------------------ inputs

#[test]
fn stdin_is_read_from_dash() {
    let dir = project(&[]);
    let output = run(
        dir.path(),
        &["check", "--format", "github", "-"],
        BROKEN.as_bytes(),
        &[],
    );
    assert_eq!(code(&output), 1);
    assert_eq!(
        stdout(&output),
        "::error file=<stdin>,line=1,col=25,endLine=1,endColumn=26,title=E0101::unexpected character `@`\n"
    );
    let output = run(dir.path(), &["check", "-"], CLEAN.as_bytes(), &[]);
    assert_eq!(code(&output), 0);
}

#[test]
fn directories_are_walked_in_order_for_flow_files_only() {
    // The files found make one program, so each declares names of its own.
    let dir = project(&[
        ("proj/z.flow", "fn z() -> int = 1\n"),
        ("proj/a.flow", "fn a() -> int = 1\n"),
        ("proj/nested/deeper/c.flow", "fn c() -> int = 1\n"),
        ("proj/nested/b.flow", "fn b() -> int = 1\n"),
        ("proj/notes.txt", BROKEN),
        ("proj/flow", BROKEN),
        ("proj/.hidden/h.flow", BROKEN),
        ("proj/.h.flow", BROKEN),
        ("proj/target/t.flow", BROKEN),
    ]);
    let output = flowc(dir.path(), &["check", "--format", "json"]);
    assert_eq!(code(&output), 0, "{}", stdout(&output));
    let expected = [
        "proj/a.flow",
        "proj/nested/b.flow",
        "proj/nested/deeper/c.flow",
        "proj/z.flow",
    ];
    assert_eq!(json(&output)["files"], serde_json::json!(expected));

    let output = flowc(
        &dir.path().join("proj"),
        &["check", "--format", "json", "."],
    );
    let expected = expected.map(|path| path.strip_prefix("proj/").unwrap());
    assert_eq!(json(&output)["files"], serde_json::json!(expected));

    // A file named on the command line is checked whatever its extension, and once.
    let output = flowc(dir.path(), &["check", "proj/notes.txt", "proj/notes.txt"]);
    assert_eq!(code(&output), 1);
    assert_eq!(stderr(&output), "error: 1 error in 1 file\n");
}

#[test]
fn a_directory_without_flow_files_is_a_note() {
    let dir = project(&[("empty/readme.md", "# nothing here")]);
    let output = flowc(dir.path(), &["check", "empty"]);
    assert_eq!(code(&output), 0);
    assert_eq!(
        stderr(&output),
        "note: no .flow files in empty\nchecked 0 files: no problems\n"
    );
}

#[test]
fn quiet_prints_only_diagnostics_and_verbose_names_files() {
    let dir = project(&[("lex.flow", LEXICAL), ("ok.flow", CLEAN)]);
    let output = flowc(dir.path(), &["check", "-q", "--format=github"]);
    assert_eq!(code(&output), 1);
    assert_eq!(stderr(&output), "");
    assert_eq!(stdout(&output).lines().count(), 3);

    let output = flowc(dir.path(), &["check", "--verbose", "ok.flow"]);
    assert_eq!(
        stderr(&output),
        "note: checking ok.flow\nchecked 1 file: no problems\n"
    );
}

// ------------------------------------------------------------------ colour

#[test]
fn colour_follows_flag_and_environment() {
    let dir = project(&[("lex.flow", LEXICAL)]);
    let has_escape =
        |output: &Output| output.stdout.contains(&0x1b) || output.stderr.contains(&0x1b);
    let check = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["check"];
        all.extend_from_slice(args);
        has_escape(&run(dir.path(), &all, b"", env))
    };
    assert!(!check(&[], &[]), "a pipe is not a terminal");
    assert!(!check(&["--color", "never"], &[]));
    assert!(!check(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]));
    assert!(check(&["--color", "always"], &[]));
    assert!(check(&["--color", "always"], &[("NO_COLOR", "1")]));
    assert!(check(&[], &[("CLICOLOR_FORCE", "1")]));
    assert!(!check(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]));
    // An empty NO_COLOR does not count.
    assert!(check(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "")]));
    // Machine formats never carry colour.
    let output = run(
        dir.path(),
        &["check", "--color=always", "--format=json"],
        b"",
        &[],
    );
    assert!(!output.stdout.contains(&0x1b));
}

// ------------------------------------------------------------------ explain

#[test]
fn explain_prints_the_page() {
    let dir = project(&[]);
    let output = flowc(dir.path(), &["explain", "E0101"]);
    assert_eq!(code(&output), 0);
    let page = stdout(&output);
    assert!(
        page.starts_with("# E0101: unexpected character\n"),
        "{page}"
    );
    assert!(page.contains("## "), "{page}");
    assert_eq!(stdout(&flowc(dir.path(), &["explain", "e0101"])), page);
}

#[test]
fn explain_unknown_code_exits_two() {
    let dir = project(&[]);
    let output = flowc(dir.path(), &["explain", "E9999"]);
    assert_eq!(code(&output), 2);
    assert_eq!(stdout(&output), "");
    assert_eq!(
        stderr(&output),
        "error: unknown diagnostic code `E9999`\nhelp: `flowc explain --list` shows every code\n"
    );
}

#[test]
fn explain_list_names_every_page() {
    let pages = Path::new(env!("CARGO_MANIFEST_DIR")).join("compiler/diagnostics");
    let mut codes: Vec<String> = std::fs::read_dir(pages)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_suffix(".md").map(str::to_owned))
        .collect();
    codes.sort();
    assert!(codes.len() > 10);

    let dir = project(&[]);
    let output = flowc(dir.path(), &["explain", "--list"]);
    assert_eq!(code(&output), 0);
    let listed: Vec<String> = stdout(&output)
        .lines()
        .map(|line| line.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(listed, codes);
    assert!(stdout(&output).contains("E0101  unexpected character\n"));
}

// ------------------------------------------------------------------ help

#[test]
fn help_and_version() {
    let dir = project(&[]);
    let output = flowc(dir.path(), &["--help"]);
    assert_eq!(code(&output), 0);
    assert!(stdout(&output).contains("Examples:"));
    assert!(stdout(&output).contains("Exit status:"));

    let output = flowc(dir.path(), &["check", "--help"]);
    assert_eq!(code(&output), 0);
    for documented in [
        "\"version\": 1",
        "\"diagnostics\"",
        "::error file=",
        "SARIF 2.1.0",
        "\"workflows\"",
        "\"bound_ms\"",
        "next 5 fire times",
        "E0304",
    ] {
        assert!(stdout(&output).contains(documented), "{documented}");
    }

    let output = flowc(dir.path(), &["--version"]);
    assert_eq!(
        stdout(&output),
        format!("flowc {}\n", env!("CARGO_PKG_VERSION"))
    );
}

// ------------------------------------------------------------------ the whole program

/// Exactly one type error: E0401 at line 3, columns 39–50 (bytes 81–92), the
/// `order.total` that is a `float` where a `string` is due.
const ORDERS: &str = "\
type Order = { id: string, total: float }

fn describe(order: Order) -> string = order.total
";

/// (line, column, byte) of the start and the end of the E0401 in `ORDERS`.
const ORDERS_START: (u64, u64, u64) = (3, 39, 81);
const ORDERS_END: (u64, u64, u64) = (3, 50, 92);

/// Imports `ORDERS` from a subdirectory and is clean itself.
const SHIP: &str = "\
import \"lib/orders.flow\"

workflow ship(order: Order) -> string {
  on manual
  return describe(order)
}
";

fn position((line, column, byte): (u64, u64, u64)) -> Value {
    serde_json::json!({"line": line, "column": column, "byte": byte})
}

#[test]
fn a_type_error_in_all_four_formats() {
    let dir = project(&[("lib/orders.flow", ORDERS)]);
    let (start, end) = (ORDERS_START, ORDERS_END);

    let output = flowc(dir.path(), &["check", "lib/orders.flow"]);
    assert_eq!(code(&output), 1);
    let text = stdout(&output);
    assert!(
        text.contains("[E0401] Error: expected `string`, found `float`"),
        "{text}"
    );
    assert!(text.contains("lib/orders.flow:3:39"), "{text}");
    assert_eq!(stderr(&output), "error: 1 error in 1 file\n");

    let output = flowc(dir.path(), &["check", "--format=json", "lib/orders.flow"]);
    assert_eq!(code(&output), 1);
    let report = json(&output);
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{report:#}");
    assert_eq!(diagnostics[0]["file"], "lib/orders.flow");
    assert_eq!(diagnostics[0]["code"], "E0401");
    assert_eq!(diagnostics[0]["start"], position(start));
    assert_eq!(diagnostics[0]["end"], position(end));
    assert_eq!(diagnostics[0]["labels"][0]["file"], "lib/orders.flow");

    let output = flowc(dir.path(), &["check", "--format=github", "lib/orders.flow"]);
    assert_eq!(code(&output), 1);
    assert!(
        stdout(&output).starts_with(
            "::error file=lib/orders.flow,line=3,col=39,endLine=3,endColumn=50,\
             title=E0401::expected `string`, found `float`"
        ),
        "{}",
        stdout(&output)
    );
    assert_eq!(stdout(&output).lines().count(), 1);

    let output = flowc(dir.path(), &["check", "--format=sarif", "lib/orders.flow"]);
    assert_eq!(code(&output), 1);
    let sarif = json(&output);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["ruleId"], "E0401");
    let location = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "lib/orders.flow");
    assert_eq!(
        location["region"],
        serde_json::json!({
            "startLine": 3, "startColumn": 39, "endLine": 3, "endColumn": 50,
            "byteOffset": 81, "byteLength": 11,
        })
    );
}

#[test]
fn an_error_in_an_imported_file_is_reported_under_its_path() {
    let dir = project(&[("ship.flow", SHIP), ("lib/orders.flow", ORDERS)]);

    // Only the importing file is named; the imported one is checked through it.
    let output = flowc(dir.path(), &["check", "--format=json", "ship.flow"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(
        report["files"],
        serde_json::json!(["ship.flow", "lib/orders.flow"])
    );
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{report:#}");
    assert_eq!(diagnostics[0]["file"], "lib/orders.flow");
    assert_eq!(diagnostics[0]["code"], "E0401");
    assert_eq!(diagnostics[0]["start"], position(ORDERS_START));
    assert_eq!(stderr(&output), "error: 1 error in 1 of 2 files\n");

    let output = flowc(dir.path(), &["check", "ship.flow"]);
    assert!(
        stdout(&output).contains("lib/orders.flow:3:39"),
        "{}",
        stdout(&output)
    );

    let output = flowc(dir.path(), &["check", "--format=github", "ship.flow"]);
    assert!(
        stdout(&output).starts_with("::error file=lib/orders.flow,line=3,col=39,"),
        "{}",
        stdout(&output)
    );

    let sarif = json(&flowc(
        dir.path(),
        &["check", "--format=sarif", "ship.flow"],
    ));
    let location = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "lib/orders.flow");
    assert_eq!(location["region"]["startLine"], 3);

    // Walking the directory finds both as roots; each file is reported once.
    let output = flowc(dir.path(), &["check", "--format=json"]);
    let report = json(&output);
    assert_eq!(
        report["files"],
        serde_json::json!(["lib/orders.flow", "ship.flow"])
    );
    assert_eq!(report["error_count"], 1, "{report:#}");
}

#[test]
fn a_missing_import_is_a_diagnostic() {
    let dir = project(&[("main.flow", "import \"nowhere.flow\"\n")]);
    let output = flowc(dir.path(), &["check", "--format=github", "main.flow"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with(
            "::error file=main.flow,line=1,col=8,endLine=1,endColumn=22,title=E0304::\
             cannot import `nowhere.flow`"
        ),
        "{}",
        stdout(&output)
    );
    assert_eq!(stderr(&output), "error: 1 error in 1 file\n");
}

#[test]
fn one_webhook_path_claimed_in_two_files() {
    let hook = |name: &str| {
        format!(
            "workflow {name}(body: json) -> int {{\n  on webhook POST \"/orders\"\n  return 1\n}}\n"
        )
    };
    let dir = project(&[
        ("first.flow", &hook("alpha")),
        ("second.flow", &hook("omega")),
    ]);

    let output = flowc(dir.path(), &["check", "--format=json"]);
    assert_eq!(code(&output), 1);
    let report = json(&output);
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{report:#}");
    let diagnostic = &diagnostics[0];
    assert_eq!(diagnostic["code"], "E0501");
    assert_eq!(diagnostic["file"], "second.flow");
    assert_eq!(diagnostic["start"]["line"], 2);
    let labels: Vec<(&str, u64)> = diagnostic["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|label| {
            (
                label["file"].as_str().unwrap(),
                label["start"]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(labels, [("second.flow", 2), ("first.flow", 2)]);
    assert_eq!(diagnostic["labels"][0]["primary"], true);
    assert_eq!(diagnostic["labels"][1]["primary"], false);
    assert_eq!(
        diagnostic["labels"][1]["start"],
        serde_json::json!({"line": 2, "column": 19, "byte": 54})
    );

    // People see the other file's place in a note.
    let output = flowc(dir.path(), &["check"]);
    let text = stdout(&output);
    assert!(text.contains("second.flow:2:19"), "{text}");
    assert!(text.contains("first.flow:2:19"), "{text}");

    // SARIF: the related location is in the other artifact.
    let sarif = json(&flowc(dir.path(), &["check", "--format=sarif"]));
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "second.flow"
    );
    let related = &result["relatedLocations"][0]["physicalLocation"];
    assert_eq!(related["artifactLocation"]["uri"], "first.flow");
    assert_eq!(related["region"]["startLine"], 2);
    assert_eq!(related["region"]["startColumn"], 19);
}

/// True for `2025-03-30T02:30:00+02:00`: RFC 3339 with a numeric offset.
fn is_rfc3339_with_offset(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    bytes.len() == 25
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19)
        && (bytes[19] == b'+' || bytes[19] == b'-')
        && digits(20..22)
        && bytes[22] == b':'
        && digits(23..25)
}

const NIGHTLY: &str = "\
workflow nightly() -> int {
  on schedule \"30 2 * * *\" tz \"Europe/Paris\"
  step pause = wait 90s
  return 1
}

workflow each(items: [int]) -> int {
  on manual
  for item in items {
    step nap = wait 1s
  }
  return 0
}
";

#[test]
fn verbose_prints_bounds_and_next_fire_times() {
    let dir = project(&[("nightly.flow", NIGHTLY)]);
    let output = flowc(dir.path(), &["check", "--verbose", "nightly.flow"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0], "workflow nightly (nightly.flow:1): at most 1m 30s",
        "{text}"
    );
    assert_eq!(
        lines[1],
        "  on schedule \"30 2 * * *\" tz \"Europe/Paris\", next 5 fire times:"
    );
    let times: Vec<&str> = lines[2..7].iter().map(|line| line.trim_start()).collect();
    for time in &times {
        assert!(is_rfc3339_with_offset(time), "{time}");
        assert!(
            time.ends_with("+01:00") || time.ends_with("+02:00"),
            "{time}"
        );
        assert_eq!(&time[11..19], "02:30:00", "{time}");
    }
    assert!(times.is_sorted(), "{text}");
    assert!(
        lines[7].starts_with("workflow each (nightly.flow:7): unbounded, because of "),
        "{text}"
    );
    assert!(lines[7].contains("`for`"), "{text}");
    assert_eq!(lines.len(), 8, "{text}");

    // Without --verbose, nothing of it.
    let output = flowc(dir.path(), &["check", "nightly.flow"]);
    assert_eq!(stdout(&output), "");

    // JSON always carries it.
    let report = json(&flowc(dir.path(), &["check", "--format=json"]));
    let workflows = report["workflows"].as_array().unwrap();
    assert_eq!(workflows.len(), 2, "{report:#}");
    assert_eq!(workflows[0]["name"], "nightly");
    assert_eq!(workflows[0]["file"], "nightly.flow");
    assert_eq!(workflows[0]["bound_ms"], 90_000);
    let schedule = &workflows[0]["schedules"][0];
    assert_eq!(schedule["cron"], "30 2 * * *");
    assert_eq!(schedule["tz"], "Europe/Paris");
    let next = schedule["next"].as_array().unwrap();
    assert_eq!(next.len(), 5);
    assert!(
        next.iter()
            .all(|time| is_rfc3339_with_offset(time.as_str().unwrap()))
    );
    assert_eq!(workflows[1]["name"], "each");
    assert!(workflows[1]["bound_ms"].is_null());
    assert!(workflows[1]["unbounded"].is_string());
    assert_eq!(workflows[1]["schedules"], serde_json::json!([]));
}

#[test]
fn warnings_fail_only_under_deny_warnings() {
    let source = "workflow tidy() -> int {\n  on manual\n  let spare = 1\n  return 2\n}\n";
    let dir = project(&[("tidy.flow", source)]);

    let output = flowc(dir.path(), &["check", "--format=github", "tidy.flow"]);
    assert_eq!(code(&output), 0);
    assert!(
        stdout(&output).starts_with(
            "::warning file=tidy.flow,line=3,col=7,endLine=3,endColumn=12,title=W0401::unused let `spare`"
        ),
        "{}",
        stdout(&output)
    );
    assert_eq!(stderr(&output), "warning: 1 warning in 1 file\n");

    let output = flowc(dir.path(), &["check", "--deny-warnings", "tidy.flow"]);
    assert_eq!(code(&output), 1);
    assert!(stdout(&output).contains("[W0401] Warning: unused let `spare`"));
    assert_eq!(
        stderr(&output),
        "error: 1 warning in 1 file (denied by --deny-warnings)\n"
    );

    let report = json(&flowc(dir.path(), &["check", "--format=json"]));
    assert_eq!(report["valid"], true);
    assert_eq!(report["warning_count"], 1);
    let report = json(&flowc(
        dir.path(),
        &["check", "--format=json", "--deny-warnings"],
    ));
    assert_eq!(report["valid"], false);
}

#[test]
fn the_examples_check_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for format in ["human", "json", "github", "sarif"] {
        let output = flowc(root, &["check", "--format", format, "examples"]);
        assert_eq!(code(&output), 0, "{format}: {}", stdout(&output));
    }
    let report = json(&flowc(root, &["check", "--format=json", "examples"]));
    assert_eq!(report["diagnostics"], serde_json::json!([]));
    assert!(report["files"].as_array().unwrap().len() >= 5);
    // The scheduled example shows its next fires.
    let output = flowc(root, &["check", "--verbose", "examples"]);
    assert!(
        stdout(&output).contains("on schedule "),
        "{}",
        stdout(&output)
    );
}
