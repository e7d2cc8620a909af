//! Golden tests of `flowc eval`: an expression, an input document and the exact
//! output, exit code and (where it is a contract) standard error.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

// ------------------------------------------------------------------ helpers

fn run(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("eval")
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// A temporary directory with the files every case may use.
fn fixtures() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("order.json", ORDER),
        (
            "payment.json",
            r#"{"transactionId":"t-1","amount":10.5,"currency":"BRL"}"#,
        ),
        (
            "bad_payment.json",
            r#"{"transactionId":"t-1","amount":"ten","currency":"BRL"}"#,
        ),
        ("payment.flow", PAYMENT_FLOW),
        ("broken.json", "{\"items\": [1, 2,}"),
    ];
    for (name, contents) in files {
        std::fs::write(dir.path().join(name), contents).unwrap();
    }
    dir
}

const ORDER: &str = r#"{"items":[{"p":2,"q":3},{"p":1,"q":4}],"customer":{"name":"Ana","email":null},"tags":["new","vip"]}"#;

const PAYMENT_FLOW: &str = r#"type Payment = { transactionId: string, amount: float, currency: "BRL" | "USD" }

fn fee(amount: float) -> float = amount * 0.02
"#;

/// Runs `flowc eval ARGS` with `stdin` and checks the exit code and the exact
/// standard output and standard error.
#[track_caller]
fn golden(args: &[&str], stdin: &str, code: i32, stdout: &str, stderr: &str) {
    let dir = fixtures();
    let output = run(dir.path(), args, stdin);
    let (out, err) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(
        output.status.code(),
        Some(code),
        "flowc eval {args:?}\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert_eq!(out, stdout, "stdout of flowc eval {args:?}");
    assert_eq!(err, stderr, "stderr of flowc eval {args:?}");
}

// ------------------------------------------------------------------ values

#[test]
fn the_issue_example_sums_products() {
    golden(
        &["input.items.map(i => i.p * i.q).sum()", "--input", "-"],
        r#"{"items":[{"p":2,"q":3},{"p":1,"q":4}]}"#,
        0,
        "10\n",
        "",
    );
}

#[test]
fn arithmetic_without_input() {
    golden(&["1 + 2 * 3"], "", 0, "7\n", "");
    golden(&["7 / 2"], "", 0, "3\n", "");
    golden(&["7.0 / 2"], "", 0, "3.5\n", "");
}

#[test]
fn strings_and_interpolation() {
    golden(
        &[
            r#""${input.customer.name} has ${input.items.len()} items""#,
            "--input",
            "order.json",
        ],
        "",
        0,
        "\"Ana has 2 items\"\n",
        "",
    );
}

#[test]
fn lists_print_as_indented_json_or_compact() {
    golden(
        &["input.items.map(i => i.p)", "--input", "order.json"],
        "",
        0,
        "[\n  2,\n  1\n]\n",
        "",
    );
    golden(
        &[
            "input.items.filter(i => i.q > 3)",
            "--input",
            "order.json",
            "--compact",
        ],
        "",
        0,
        "[{\"p\":1,\"q\":4}]\n",
        "",
    );
}

#[test]
fn records_are_built_and_printed_with_sorted_keys() {
    golden(
        &[
            "{ total: input.items.map(i => i.p * i.q).sum(), first: input.tags[0] }",
            "--input",
            "order.json",
            "-c",
        ],
        "",
        0,
        "{\"first\":\"new\",\"total\":10}\n",
        "",
    );
}

#[test]
fn null_safety() {
    golden(
        &["input.customer.email ?? \"none\"", "--input", "order.json"],
        "",
        0,
        "\"none\"\n",
        "",
    );
}

#[test]
fn if_then_else() {
    golden(
        &[
            "if input.items.len() > 1 then \"many\" else \"one\"",
            "--input",
            "order.json",
        ],
        "",
        0,
        "\"many\"\n",
        "",
    );
}

#[test]
fn durations_print_as_text() {
    golden(&["90m + 30m", "--type"], "", 0, "\"2h\" : duration\n", "");
}

#[test]
fn type_flag_prints_the_inferred_type() {
    golden(
        &["input.items[0]", "--input", "order.json", "--type", "-c"],
        "",
        0,
        "{\"p\":2,\"q\":3} : { p: int, q: int }\n",
        "",
    );
    golden(
        &["input.customer", "--input", "order.json", "--type", "-c"],
        "",
        0,
        "{\"email\":null,\"name\":\"Ana\"} : { email: null, name: string }\n",
        "",
    );
}

#[test]
fn clock_and_random_come_from_the_system() {
    let dir = fixtures();
    let output = run(dir.path(), &["uuid()"], "");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let uuid = text(&output.stdout);
    let uuid = uuid.trim().trim_matches('"');
    assert_eq!(uuid.len(), 36, "{uuid}");
    assert_eq!(&uuid[14..15], "4", "a version-4 UUID: {uuid}");
    let again = run(dir.path(), &["uuid()"], "");
    assert_ne!(text(&again.stdout).trim().trim_matches('"'), uuid);

    let output = run(dir.path(), &["now()", "--type"], "");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let now = text(&output.stdout);
    assert!(now.ends_with("Z\" : time\n"), "{now}");
    // Any year from this century: the clock is real, not the epoch.
    assert!(now.starts_with("\"20"), "{now}");
}

// ------------------------------------------------------------------ --load and --input-type

#[test]
fn input_type_from_a_loaded_file() {
    golden(
        &[
            "input.currency",
            "--input",
            "payment.json",
            "--load",
            "payment.flow",
            "--input-type",
            "Payment",
            "--type",
        ],
        "",
        0,
        "\"BRL\" : \"BRL\" | \"USD\"\n",
        "",
    );
    golden(
        &[
            "fee(input.amount)",
            "--input",
            "payment.json",
            "--load",
            "payment.flow",
            "--input-type",
            "Payment",
        ],
        "",
        0,
        "0.21\n",
        "",
    );
}

#[test]
fn input_not_matching_its_type_exits_one_naming_the_path() {
    golden(
        &[
            "input.amount",
            "--input",
            "bad_payment.json",
            "--load",
            "payment.flow",
            "--input-type",
            "Payment",
        ],
        "",
        1,
        "",
        "error: the input does not match `Payment` at `$.amount`: expected `float`, found the string \"ten\"\n",
    );
}

#[test]
fn unknown_input_type_exits_two() {
    golden(
        &[
            "input",
            "--input",
            "payment.json",
            "--load",
            "payment.flow",
            "--input-type",
            "Paymnet",
        ],
        "",
        2,
        "",
        "error: unknown type `Paymnet` in --input-type; the loaded files declare `Payment`\n",
    );
}

// ------------------------------------------------------------------ errors

#[test]
fn type_errors_exit_one_with_the_rendered_diagnostic() {
    let dir = fixtures();
    let output = run(dir.path(), &["1 + \"two\""], "");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(text(&output.stdout), "");
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("[E04"), "{stderr}");
    assert!(stderr.contains("Error:"), "{stderr}");
    assert!(stderr.contains("╭─[ <expr>:1:"), "{stderr}");
    assert!(stderr.contains(" 1 │ 1 + \"two\""), "{stderr}");
}

#[test]
fn unknown_names_exit_one() {
    let dir = fixtures();
    let output = run(dir.path(), &["input.itemz", "--input", "order.json"], "");
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("<expr>:1:7"), "{stderr}");
    assert!(stderr.contains("items"), "a suggestion: {stderr}");
}

#[test]
fn runtime_errors_exit_one_pointing_into_the_expression() {
    let dir = fixtures();
    let output = run(
        dir.path(),
        &["10 / (input.items.len() - 2)", "--input", "order.json"],
        "",
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(text(&output.stdout), "");
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("[R0002] Error: integer division by zero"),
        "{stderr}"
    );
    assert!(stderr.contains("╭─[ <expr>:1:1 ]"), "{stderr}");

    let output = run(
        dir.path(),
        &["input.items[5].p", "--input", "order.json"],
        "",
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("[R0003] Error: index 5 is out of range"),
        "{stderr}"
    );
}

#[test]
fn bad_json_exits_two_with_one_line() {
    golden(
        &["input", "--input", "broken.json"],
        "",
        2,
        "",
        "error: cannot parse broken.json as JSON: expected value at line 1 column 17\n",
    );
    golden(
        &["input", "--input", "-"],
        "not json",
        2,
        "",
        "error: cannot parse <stdin> as JSON: expected ident at line 1 column 2\n",
    );
}

#[test]
fn missing_files_exit_two() {
    golden(
        &["input", "--input", "missing.json"],
        "",
        2,
        "",
        "error: cannot read missing.json: No such file or directory\n",
    );
    golden(
        &["1", "--load", "missing.flow"],
        "",
        2,
        "",
        "error: cannot read missing.flow: No such file or directory\n",
    );
}

#[test]
fn help_documents_the_command_with_examples() {
    let dir = fixtures();
    let output = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(["eval", "--help"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = text(&output.stdout);
    assert!(help.contains("Examples:"), "{help}");
    assert!(help.contains("--input-type"), "{help}");
}
