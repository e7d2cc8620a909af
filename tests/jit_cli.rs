//! `flowc eval --jit always` against `--jit off`: the same output, byte for byte,
//! values and error diagnostics alike, over expressions that reach the places
//! where native code must hand back to the interpreter (overflow, division by
//! zero, NaN and infinity, string ordering, null, `??`, `?.`, templates, stdlib
//! calls); `--lines`, one result per line, identical in both modes, errors naming
//! their line; `flowc run` with the same output in every mode; a bad `--jit`
//! value refused in one line.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn flowc(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
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

/// The document bound to `input` in the cases below.
const INPUT: &str = r#"{
  "amount": 1500.5, "currency": "BRL", "score": 42, "count": 3, "big": 9223372036854775807,
  "zero": 0, "name": " Ana ", "email": null, "tags": ["new", "vip"],
  "customer": {"name": "Ana", "address": null, "vip": true},
  "items": [{"p": 2, "q": 3}, {"p": 1, "q": 4}]
}"#;

/// An expression and how `flowc eval` must end: `Ok` with this standard output,
/// or `Err` with a diagnostic of this code.
type Case = (&'static str, Result<&'static str, &'static str>);

const CASES: &[Case] = &[
    // Arithmetic, and where it fails.
    ("1 + 2 * 3", Ok("7")),
    ("input.count * 7 - 1", Ok("20")),
    ("input.count / 2", Ok("1")),
    ("(-7) % 3", Ok("-1")),
    ("9223372036854775807 + 1", Err("R0001")),
    ("input.big + 1", Err("R0001")),
    ("input.big * 2", Err("R0001")),
    ("0 - 9223372036854775807 - 2", Err("R0001")),
    ("1 / 0", Err("R0002")),
    ("input.count / input.zero", Err("R0002")),
    ("input.count % input.zero", Err("R0002")),
    ("input.amount * 2.0", Ok("3001.0")),
    ("input.amount + input.count", Ok("1503.5")),
    // Floats: infinity and NaN are values, written as null.
    ("1.0 / 0.0", Ok("null")),
    ("(0.0 / 0.0) == (0.0 / 0.0)", Ok("false")),
    ("(0.0 / 0.0) != (0.0 / 0.0)", Ok("true")),
    ("(0.0 / 0.0) < 1.0", Ok("false")),
    ("(1.0 / 0.0) > 1e308", Ok("true")),
    ("to_string(1.0 / 0.0)", Ok("\"inf\"")),
    ("to_string(0.0 / 0.0)", Ok("\"NaN\"")),
    ("0.1 + 0.2", Ok("0.30000000000000004")),
    // Comparisons and logic.
    (
        "input.amount > 1000 && input.currency == \"BRL\" && input.score < 80",
        Ok("true"),
    ),
    ("input.score >= 42 || input.nothing_here", Err("")),
    ("!(input.count == 3)", Ok("false")),
    ("input.count == 3.0", Ok("true")),
    (
        "if input.score < 50 then \"low\" else \"high\"",
        Ok("\"low\""),
    ),
    // Strings: ordering is by code point.
    ("\"a\" < \"b\"", Ok("true")),
    ("\"B\" < \"a\"", Ok("true")),
    ("\"é\" > \"z\"", Ok("true")),
    ("\"abc\" < \"ab\"", Ok("false")),
    ("input.currency == \"BRL\"", Ok("true")),
    (
        "input.currency + \"/\" + input.customer.name",
        Ok("\"BRL/Ana\""),
    ),
    ("\"vip\" in input.tags", Ok("true")),
    // Null handling, `??` and `?.`.
    ("input.email ?? \"none\"", Ok("\"none\"")),
    ("input.customer.address?.city", Ok("null")),
    (
        "input.customer.address?.city ?? \"unknown\"",
        Ok("\"unknown\""),
    ),
    ("input.email == null", Ok("true")),
    ("input.customer.name ?? \"x\"", Ok("\"Ana\"")),
    // Templates.
    (
        "\"${input.customer.name} owes ${input.amount}\"",
        Ok("\"Ana owes 1500.5\""),
    ),
    ("\"n=${input.count + 1}\"", Ok("\"n=4\"")),
    ("\"${input.big + 1}\"", Err("R0001")),
    // Stdlib calls.
    ("input.name.trim().upper()", Ok("\"ANA\"")),
    ("lower(\"ÀB\")", Ok("\"àb\"")),
    ("len(input.name)", Ok("5")),
    ("input.currency.starts_with(\"BR\")", Ok("true")),
    ("input.customer.name.ends_with(\"na\")", Ok("true")),
    ("abs(-5)", Ok("5")),
    ("abs(-9223372036854775807 - 1)", Err("R0001")),
    ("round(2.5)", Ok("3")),
    ("floor(-1.5)", Ok("-2")),
    ("max(input.count, 10)", Ok("10")),
    ("to_int(\"42\")", Ok("42")),
    ("input.items.map(i => i.p * i.q).sum()", Ok("10")),
    ("input.items.filter(i => i.p > 1).len()", Ok("1")),
    ("input.items[5].p", Err("R0003")),
    (
        "{ total: input.amount, vip: input.customer.vip }",
        Ok("{\"total\":1500.5,\"vip\":true}"),
    ),
    ("90m + 30s", Ok("\"5430s\"")),
];

/// Runs `flowc eval EXPR --input input.json --compact --jit MODE`.
fn eval(dir: &Path, expr: &str, mode: &str) -> Output {
    flowc(
        dir,
        &[
            "eval",
            expr,
            "--input",
            "input.json",
            "--compact",
            "--jit",
            mode,
        ],
        "",
    )
}

#[test]
fn always_and_off_print_the_same_for_every_case() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input.json"), INPUT).unwrap();
    assert!(CASES.len() >= 50, "{} cases", CASES.len());
    let mut wrong = Vec::new();
    for (expr, expected) in CASES {
        let off = eval(dir.path(), expr, "off");
        let always = eval(dir.path(), expr, "always");
        let shown = |output: &Output| {
            format!(
                "exit {:?}\nstdout: {}stderr: {}",
                output.status.code(),
                text(&output.stdout),
                text(&output.stderr)
            )
        };
        if off.stdout != always.stdout
            || off.stderr != always.stderr
            || off.status.code() != always.status.code()
        {
            wrong.push(format!(
                "{expr}: the tiers differ\n--- off\n{}\n--- always\n{}",
                shown(&off),
                shown(&always)
            ));
            continue;
        }
        // Both agree; they must also be right.
        let stdout = text(&off.stdout);
        let stderr = text(&off.stderr);
        let right = match expected {
            Ok(value) => off.status.code() == Some(0) && stdout == format!("{value}\n"),
            // A type error: the checker refuses it before any tier runs.
            Err("") => off.status.code() == Some(1) && stdout.is_empty(),
            Err(code) => {
                off.status.code() == Some(1)
                    && stdout.is_empty()
                    && stderr.starts_with(&format!("[{code}] Error: "))
            }
        };
        if !right {
            wrong.push(format!("{expr}: expected {expected:?}\n{}", shown(&off)));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// Records of the benchmark's shape, with lines that must fail.
const LINES: &str = r#"{"amount": 2000, "currency": "BRL", "score": 50}
{"amount": 10.5, "currency": "USD", "score": 90}

{"amount": 1500, "currency": "BRL", "score": 80}
not json
{"amount": "x", "currency": "BRL", "score": 1}
{"amount": 9223372036854775807, "currency": "BRL", "score": 1}
{"amount": 1e3, "currency": "BRL", "score": null}
"#;

#[test]
fn lines_give_one_result_per_line_in_both_modes_and_errors_name_their_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("records.jsonl"), LINES).unwrap();
    let condition = "input.amount > 1000 && input.currency == \"BRL\" && input.score < 80";
    let mapping = "{ id: input.currency, double: input.amount * 2, ok: input.score < 80 }";
    let mut outputs = Vec::new();
    for expr in [condition, mapping] {
        let mut per_mode = Vec::new();
        for mode in ["off", "always", "auto"] {
            let output = flowc(
                dir.path(),
                &["eval", expr, "--lines", "records.jsonl", "--jit", mode],
                "",
            );
            per_mode.push((mode, output));
        }
        let (_, off) = &per_mode[0];
        for (mode, output) in &per_mode[1..] {
            assert_eq!(
                (
                    text(&output.stdout),
                    text(&output.stderr),
                    output.status.code()
                ),
                (text(&off.stdout), text(&off.stderr), off.status.code()),
                "{expr}: --jit {mode} against --jit off"
            );
        }
        outputs.push(per_mode.swap_remove(0).1);
    }

    let condition = &outputs[0];
    assert_eq!(condition.status.code(), Some(1), "some lines fail");
    // Lines 1, 2, 4, 7 and 8 (whose `1e3` is the float 1000.0).
    assert_eq!(text(&condition.stdout), "true\nfalse\nfalse\ntrue\nfalse\n");
    let stderr = text(&condition.stderr);
    assert!(
        stderr.contains("error: line 5 of records.jsonl is not JSON"),
        "{stderr}"
    );
    assert!(stderr.contains("on line 6 of records.jsonl"), "{stderr}");
    assert!(!stderr.contains("line 7"), "{stderr}");

    let mapping = &outputs[1];
    assert_eq!(mapping.status.code(), Some(1));
    assert_eq!(
        text(&mapping.stdout),
        concat!(
            "{\"double\":4000,\"id\":\"BRL\",\"ok\":true}\n",
            "{\"double\":21.0,\"id\":\"USD\",\"ok\":false}\n",
            "{\"double\":3000,\"id\":\"BRL\",\"ok\":false}\n",
        )
    );
    let stderr = text(&mapping.stderr);
    assert!(
        stderr.contains("error: line 5 of records.jsonl is not JSON"),
        "{stderr}"
    );
    // `"x" * 2` on line 6, an overflow on line 7, `null < 80` on line 8.
    assert!(stderr.contains("on line 6 of records.jsonl"), "{stderr}");
    assert!(stderr.contains("[R0001]"), "{stderr}");
    assert!(stderr.contains("on line 7 of records.jsonl"), "{stderr}");
    assert!(stderr.contains("on line 8 of records.jsonl"), "{stderr}");
}

#[test]
fn lines_read_standard_input_and_auto_answers_the_same_past_its_threshold() {
    let dir = tempfile::tempdir().unwrap();
    // More lines than `--jit auto` interprets before compiling.
    let mut input = String::new();
    let mut expected = String::new();
    for n in 0..1500 {
        input.push_str(&format!("{{\"n\": {n}, \"s\": \"x{n}\"}}\n"));
        expected.push_str(&format!("\"x{n}:{}\"\n", n * 3));
    }
    for mode in ["off", "auto", "always"] {
        let output = flowc(
            dir.path(),
            &[
                "eval",
                "\"${input.s}:${input.n * 3}\"",
                "--lines",
                "-",
                "--jit",
                mode,
            ],
            &input,
        );
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert!(text(&output.stdout) == expected, "--jit {mode}");
    }
}

#[test]
fn lines_with_an_input_type_refuse_the_lines_that_do_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("types.flow"),
        "type Payment = { amount: float, currency: \"BRL\" | \"USD\" }\n",
    )
    .unwrap();
    let lines =
        "{\"amount\": 3, \"currency\": \"BRL\"}\n{\"amount\": 1.5, \"currency\": \"EUR\"}\n";
    let mut seen = Vec::new();
    for mode in ["off", "always"] {
        let output = flowc(
            dir.path(),
            &[
                "eval",
                "input.amount * 2.0",
                "--lines",
                "-",
                "--load",
                "types.flow",
                "--input-type",
                "Payment",
                "--jit",
                mode,
            ],
            lines,
        );
        assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
        assert_eq!(text(&output.stdout), "6.0\n");
        let stderr = text(&output.stderr);
        assert!(
            stderr.starts_with("error: line 2 of <stdin> does not match `Payment`"),
            "{stderr}"
        );
        seen.push(stderr);
    }
    assert_eq!(seen[0], seen[1]);
}

#[test]
fn a_bad_jit_value_exits_two_with_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["eval", "1", "--jit", "fast"][..],
        &["run", "x.flow", "--jit", "sometimes"],
        &["serve", "x.flow", "--jit", "ON"],
        &["run", "x.flow", "--jit-threshold", "0"],
        &["serve", "x.flow", "--jit-threshold", "many"],
    ] {
        let output = flowc(dir.path(), args, "");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        let stderr = text(&output.stderr);
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|line| line.starts_with("error:"))
            .collect();
        assert_eq!(errors.len(), 1, "{args:?}: {stderr}");
        let flag = if args.contains(&"--jit") {
            "--jit"
        } else {
            "--jit-threshold"
        };
        assert!(errors[0].contains(flag), "{args:?}: {stderr}");
        if flag == "--jit" {
            assert!(
                errors[0].contains("expected auto, always or off"),
                "{args:?}: {stderr}"
            );
        }
    }
    // Nothing was created by the refused `serve`.
    assert!(!dir.path().join("flowc.db").exists());
}

/// A workflow whose expressions fail on some inputs.
const WORKFLOW: &str = r#"
workflow grade(order: { amount: float, currency: string, score: int, count: int }) -> { ok: bool, label: string, per_item: int } {
  on manual
  let ok = order.amount > 1000.0 && order.currency == "BRL" && order.score < 80
  let label = "${order.currency}:${order.score}"
  return { ok: ok, label: label, per_item: order.score / order.count }
}
"#;

#[test]
fn run_gives_the_same_output_under_every_jit_mode() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("grade.flow"), WORKFLOW).unwrap();
    let inputs = [
        (
            r#"{"amount": 1500.5, "currency": "BRL", "score": 42, "count": 4}"#,
            Some(r#"{"label":"BRL:42","ok":true,"per_item":10}"#),
        ),
        (
            r#"{"amount": 10, "currency": "USD", "score": 90, "count": 1}"#,
            Some(r#"{"label":"USD:90","ok":false,"per_item":90}"#),
        ),
        // Division by zero fails the run, with the interpreter's error.
        (
            r#"{"amount": 1, "currency": "BRL", "score": 1, "count": 0}"#,
            None,
        ),
    ];
    for (input, expected) in inputs {
        let mut seen = Vec::new();
        for mode in ["off", "always", "auto"] {
            let output = flowc(
                dir.path(),
                &[
                    "run",
                    "grade.flow",
                    "--input",
                    input,
                    "--jit",
                    mode,
                    "--jit-threshold",
                    "1",
                ],
                "",
            );
            let stdout = text(&output.stdout);
            match expected {
                Some(expected) => {
                    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
                    let got: serde_json::Value = serde_json::from_str(&stdout).unwrap();
                    let want: serde_json::Value = serde_json::from_str(expected).unwrap();
                    assert_eq!(got, want, "--jit {mode}");
                }
                None => {
                    assert_eq!(output.status.code(), Some(1), "--jit {mode}");
                    assert!(text(&output.stderr).contains("R0002"), "--jit {mode}");
                }
            }
            seen.push((stdout, output.status.code()));
        }
        assert!(
            seen.windows(2).all(|pair| pair[0] == pair[1]),
            "{input}: {seen:?}"
        );
    }
}

/// The differential suite's generator (`compiler/tests/jit/generate.rs`), so a
/// sample of its expressions goes through the real `flowc eval`.
#[allow(dead_code)]
#[path = "../compiler/tests/jit/generate.rs"]
mod generate;

/// A seeded sample of the differential suite's expressions, each over a few of
/// its random inputs, through the binary: `flowc eval --lines --jit always` and
/// `--jit off` end the same way with the same standard output and error, byte for
/// byte. (The whole suite, 100,000 expressions, runs in-process in
/// `compiler/tests/jit.rs` through the same `jit::compile` and fallback.)
#[test]
fn a_sample_of_the_differential_suite_agrees_through_the_cli() {
    use flowc_compiler::ty::Ty;
    use flowc_compiler::value::Value;
    use generate::{Generator, INPUT_TYPE, Rng, Want, case_seed};
    const EXPRESSIONS: u64 = 200;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("types.flow"), format!("{INPUT_TYPE}\n")).unwrap();
    let analysis = flowc_compiler::analyze(
        vec![flowc_compiler::SourceFile {
            path: "types.flow".into(),
            text: INPUT_TYPE.into(),
        }],
        &flowc_compiler::NoImports,
    );
    let types = analysis.program.types;
    let input_type = Ty::Named {
        name: "Input".into(),
    };
    let mut answered = 0;
    for case in 0..EXPRESSIONS {
        let mut rng = Rng::new(case_seed(0x05ee_dc11, case));
        let source = Generator::new(&mut rng).top(&Want::ALL);
        // Inputs whose JSON text reads back as an `Input`: NaN and the
        // infinities have no JSON, nor do the extreme durations and times. (The
        // others are refused by `--input-type` alike in both modes, which
        // would only make the sample smaller.)
        let mut lines = Vec::new();
        while lines.len() < 4 {
            let json = generate::input(&mut rng).to_json();
            if Value::from_json_typed(&json, &input_type, &types).is_ok() {
                lines.push(json.to_string());
            }
        }
        std::fs::write(dir.path().join("inputs.jsonl"), lines.join("\n") + "\n").unwrap();
        let run = |mode: &str| {
            flowc(
                dir.path(),
                &[
                    "eval",
                    &source,
                    "--load",
                    "types.flow",
                    "--input-type",
                    "Input",
                    "--lines",
                    "inputs.jsonl",
                    "--jit",
                    mode,
                ],
                "",
            )
        };
        let (always, off) = (run("always"), run("off"));
        assert_eq!(
            (
                always.status.code(),
                text(&always.stdout),
                text(&always.stderr)
            ),
            (off.status.code(), text(&off.stdout), text(&off.stderr)),
            "case {case}: {source}\ninputs:\n{}",
            lines.join("\n")
        );
        answered += text(&off.stdout).lines().count();
    }
    // Most expressions check and most evaluations succeed: the sample is not
    // vacuous (every line refused would agree too).
    assert!(
        answered > usize::try_from(2 * EXPRESSIONS).unwrap(),
        "only {answered} answers"
    );
}
