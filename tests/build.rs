//! End-to-end tests of `flowc build`: the examples compile to IR in both forms, the
//! hash is printed and is the same for both, and a program with errors writes
//! nothing.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn flowc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// The `sha256:…` hash of a `wrote … (hash sha256:…)` line.
fn hash(stderr: &str) -> String {
    let start = stderr.find("(hash sha256:").unwrap() + "(hash ".len();
    let end = start + stderr[start..].find(')').unwrap();
    let hash = &stderr[start..end];
    assert_eq!(hash.len(), "sha256:".len() + 64, "{stderr}");
    assert!(
        hash["sha256:".len()..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{hash}"
    );
    hash.to_owned()
}

#[test]
fn examples_build_to_json_and_binary_with_one_hash() {
    let dir = tempfile::tempdir().unwrap();
    let examples = examples();
    let examples = examples.to_str().unwrap();

    let output = flowc(
        dir.path(),
        &[
            "build",
            examples,
            "-o",
            "examples.ir.json",
            "--emit",
            "ir-json",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json_hash = hash(&stderr(&output));
    assert!(
        stderr(&output).starts_with("wrote examples.ir.json (hash sha256:"),
        "{}",
        stderr(&output)
    );
    let text = std::fs::read_to_string(dir.path().join("examples.ir.json")).unwrap();
    let ir: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(ir["ir_version"], 1);
    assert!(
        !ir["workflows"].as_array().unwrap().is_empty(),
        "the examples have workflows"
    );

    let output = flowc(
        dir.path(),
        &["build", examples, "-o", "examples.ir", "--emit", "ir"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(hash(&stderr(&output)), json_hash);
    let binary = std::fs::read(dir.path().join("examples.ir")).unwrap();
    assert!(!binary.is_empty());
    assert!(
        binary.len() < text.len(),
        "the binary form is the compact one"
    );
}

#[test]
fn json_goes_to_standard_output_without_o() {
    let dir = tempfile::tempdir().unwrap();
    let file = examples().join("payment_validation.flow");
    let output = flowc(dir.path(), &["build", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let ir: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(ir["ir_version"], 1);
    assert!(
        stderr(&output).starts_with("wrote the IR to standard output (hash sha256:"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn binary_to_a_pipe_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let file = examples().join("payment_validation.flow");
    let output = flowc(
        dir.path(),
        &["build", file.to_str().unwrap(), "--emit", "ir"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!output.stdout.is_empty());
}

#[test]
fn errors_write_nothing_and_exit_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.flow"),
        "fn double(x: int) -> int = x * \"two\"\n",
    )
    .unwrap();
    let output = flowc(dir.path(), &["build", "bad.flow", "-o", "bad.ir"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let stderr = stderr(&output);
    assert!(stderr.contains("Error:"), "{stderr}");
    assert!(stderr.contains("bad.flow:1:"), "{stderr}");
    assert!(
        stderr.ends_with("error: 1 error in 1 file; nothing written\n"),
        "{stderr}"
    );
    assert!(!dir.path().join("bad.ir").exists());
}

#[test]
fn unreadable_paths_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let output = flowc(dir.path(), &["build", "missing.flow"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: cannot read missing.flow: No such file or directory\n"
    );
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let output = flowc(dir.path(), &["build", "empty"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stderr(&output), "error: no .flow files in empty\n");
}
