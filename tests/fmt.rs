//! End-to-end tests of `flowc fmt`: files rewritten in place (only those that
//! change), `--check` and `--diff` writing nothing and exiting 1 when something
//! would change, standard input to standard output, a file that does not parse
//! left untouched with its diagnostics, and an unreadable path.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

const MESSY: &str = "type   T={a:int}\nworkflow w( x : int ){ return {ok:true} }\n";
const TIDY: &str = "type T = { a: int }\nworkflow w(x: int) {\n  return { ok: true }\n}\n";

/// Runs `flowc ARGS` in `dir` with `stdin`.
fn run(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowc starts");
    child
        .stdin
        .take()
        .expect("a stdin pipe")
        .write_all(stdin)
        .expect("stdin is written");
    child.wait_with_output().expect("flowc ends")
}

fn project(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (path, contents) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("a directory");
        std::fs::write(path, contents).expect("the file is written");
    }
    dir
}

fn read(dir: &TempDir, path: &str) -> String {
    std::fs::read_to_string(dir.path().join(path)).expect("the file is readable")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("an exit code")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("UTF-8 output")
}

#[test]
fn rewrites_the_files_that_change_in_place() {
    let dir = project(&[
        ("a.flow", MESSY),
        ("sub/b.flow", TIDY),
        ("notes.txt", MESSY),
    ]);
    let before = std::fs::metadata(dir.path().join("sub/b.flow"))
        .and_then(|metadata| metadata.modified())
        .expect("a modification time");
    let output = run(dir.path(), &["fmt"], b"");
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    assert_eq!(read(&dir, "a.flow"), TIDY);
    assert_eq!(read(&dir, "sub/b.flow"), TIDY);
    assert_eq!(
        read(&dir, "notes.txt"),
        MESSY,
        "only .flow files are formatted"
    );
    let after = std::fs::metadata(dir.path().join("sub/b.flow"))
        .and_then(|metadata| metadata.modified())
        .expect("a modification time");
    assert_eq!(before, after, "a formatted file is not written again");
    // No temporary file is left beside the rewritten one.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("the directory is readable")
        .map(|entry| entry.expect("an entry").file_name())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn check_lists_the_files_that_would_change_writes_nothing_and_exits_1() {
    let dir = project(&[("a.flow", MESSY), ("b.flow", TIDY), ("c.flow", MESSY)]);
    let output = run(dir.path(), &["fmt", "--check", "."], b"");
    assert_eq!(code(&output), 1);
    assert_eq!(stdout(&output), "a.flow\nc.flow\n");
    assert_eq!(read(&dir, "a.flow"), MESSY);

    let output = run(dir.path(), &["fmt", "--check", "b.flow"], b"");
    assert_eq!(code(&output), 0);
    assert_eq!(stdout(&output), "");
}

#[test]
fn diff_prints_a_unified_diff_and_writes_nothing() {
    let dir = project(&[("a.flow", "type   T = int\n")]);
    let output = run(dir.path(), &["fmt", "--diff", "a.flow"], b"");
    assert_eq!(code(&output), 1);
    assert_eq!(
        stdout(&output),
        "--- a.flow\n+++ a.flow\n@@ -1 +1 @@\n-type   T = int\n+type T = int\n"
    );
    assert_eq!(read(&dir, "a.flow"), "type   T = int\n");

    let tidy = run(dir.path(), &["fmt", "--diff", "-"], TIDY.as_bytes());
    assert_eq!(code(&tidy), 0);
    assert_eq!(stdout(&tidy), "");
}

#[test]
fn standard_input_is_formatted_to_standard_output() {
    let dir = project(&[]);
    let output = run(dir.path(), &["fmt", "-"], MESSY.as_bytes());
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), TIDY);

    let output = run(dir.path(), &["fmt", "--check", "-"], MESSY.as_bytes());
    assert_eq!(code(&output), 1);
    assert_eq!(stdout(&output), "<stdin>\n");
}

#[test]
fn a_file_with_a_syntax_error_is_left_alone_with_its_diagnostics() {
    let broken = "workflow w( {\n  return\n}\n";
    let dir = project(&[("bad.flow", broken), ("good.flow", MESSY)]);
    let output = run(dir.path(), &["fmt"], b"");
    assert_eq!(code(&output), 1);
    assert_eq!(read(&dir, "bad.flow"), broken);
    assert_eq!(
        read(&dir, "good.flow"),
        TIDY,
        "the other files are still formatted"
    );
    let err = stderr(&output);
    assert!(err.contains("[E0202] Error: unclosed `(`"), "{err}");
    assert!(err.contains("bad.flow:1:11"), "{err}");
}

#[test]
fn an_unreadable_path_is_one_error_line_and_exit_2() {
    let dir = project(&[("a.flow", MESSY)]);
    let output = run(dir.path(), &["fmt", "missing.flow", "a.flow"], b"");
    assert_eq!(code(&output), 2);
    assert_eq!(
        stderr(&output),
        "error: cannot read missing.flow: No such file or directory\n"
    );
    assert_eq!(
        read(&dir, "a.flow"),
        TIDY,
        "the readable path is still formatted"
    );
}

#[test]
fn check_and_diff_do_not_go_together() {
    let dir = project(&[]);
    let output = run(dir.path(), &["fmt", "--check", "--diff"], b"");
    assert_eq!(code(&output), 2);
}
