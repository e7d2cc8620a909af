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
    // No diagnostic is a warning yet; this checks the flag exists and denies nothing
    // when there is nothing to deny.
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
         error: checked 1 file: no problems; 1 path could not be read\n"
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
    let dir = project(&[
        ("proj/z.flow", CLEAN),
        ("proj/a.flow", CLEAN),
        ("proj/nested/deeper/c.flow", CLEAN),
        ("proj/nested/b.flow", CLEAN),
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
    ] {
        assert!(stdout(&output).contains(documented), "{documented}");
    }

    let output = flowc(dir.path(), &["--version"]);
    assert_eq!(
        stdout(&output),
        format!("flowc {}\n", env!("CARGO_PKG_VERSION"))
    );
}
