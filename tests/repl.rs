//! End-to-end tests of `flowc repl`: a scripted session through a pipe, compared
//! line for line, and an interactive one on a real terminal driven through tmux
//! (completion of a field name, an entry over several lines, the history file).

#![allow(clippy::unwrap_used)]
// Waiting for tmux to show a screen needs a real deadline; nothing is timed.
#![allow(clippy::disallowed_methods)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const ORDER: &str =
    r#"{"items":[{"p":2,"q":3},{"p":1,"q":4}],"customer":{"name":"Ana","email":null}}"#;

const PAYMENT_FLOW: &str = r#"type Payment = { transactionId: string, amount: float, currency: "BRL" | "USD" }

fn fee(amount: float) -> float = amount * 0.02
"#;

fn fixtures() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("order.json"), ORDER).unwrap();
    std::fs::write(dir.path().join("payment.flow"), PAYMENT_FLOW).unwrap();
    std::fs::write(
        dir.path().join("payment.json"),
        r#"{"transactionId":"t-1","amount":10.5,"currency":"BRL"}"#,
    )
    .unwrap();
    dir
}

fn repl(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .arg("repl")
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("XDG_STATE_HOME", dir.join("state"))
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

// ------------------------------------------------------------------ scripted

/// Every kind of entry, one after the other: the session's output is exactly the
/// results, in order, and the errors are diagnostics on standard error.
#[test]
fn scripted_session() {
    let dir = fixtures();
    let script = r#"1 + 2
input.items.len()
input.items.map(i => i.p * i.q).sum()
:let total = input.items.map(i => i.p * i.q).sum()
total * 2
:type input.items
:type total > 5
[1,
  2,
  3]
{ b: "x", a: 1 }
input.customer.email ?? "none"
if total > 5 then "big" else "small"
"total: ${total}"
:let t = 2h
t + 30m
total / (total - 10)
:vars
:load payment.flow
fee(100.0)
:input payment.json
input.currency
:let ys = [
  10,
  20
]
ys.map(v => v / 10)
:nope
:quit
99
"#;
    let output = repl(dir.path(), &["--input", "order.json"], script);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let expected = r#"3 : int
2 : int
10 : int
total = 10 : int
20 : int
[{ p: int, q: int }]
bool
[1,2,3] : [int]
{"a":1,"b":"x"} : { a: int, b: "x" }
"none" : "none"
"big" : "big" | "small"
"total: 10" : string
t = "2h" : duration
"150m" : duration
input : { customer: { email: null, name: string }, items: [{ p: int, q: int }] }
total = 10 : int
t = "2h" : duration
loaded payment.flow: 1 type, 1 function
2.0 : float
input : { amount: float, currency: string, transactionId: string }
"BRL" : string
ys = [10,20] : [int]
[1,2] : [int]
"#;
    assert_eq!(text(&output.stdout), expected);
    let stderr = text(&output.stderr);
    // The division by zero, against the line as typed, then the unknown command.
    assert!(
        stderr.starts_with("[R0002] Error: integer division by zero"),
        "{stderr}"
    );
    assert!(stderr.contains("╭─[ <repl>:1:1 ]"), "{stderr}");
    assert!(stderr.contains(" 1 │ total / (total - 10)"), "{stderr}");
    assert!(
        stderr.ends_with("error: unknown command `:nope`; `:help` lists the commands\n"),
        "{stderr}"
    );
}

#[test]
fn the_issue_example() {
    let dir = fixtures();
    let output = repl(dir.path(), &[], "1 + 2\n:quit\n");
    assert_eq!(text(&output.stdout), "3 : int\n");
    assert_eq!(text(&output.stderr), "");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn errors_point_into_the_typed_line() {
    let dir = fixtures();
    let output = repl(dir.path(), &[], ":let x = 1 + \"a\"\nx\n");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(text(&output.stdout), "");
    let stderr = text(&output.stderr);
    // The diagnostic shows the whole `:let` line, with the column of `1 + "a"`.
    assert!(stderr.contains("<repl>:1:10"), "{stderr}");
    assert!(stderr.contains(" 1 │ :let x = 1 + \"a\""), "{stderr}");
    // `x` was not bound.
    assert!(stderr.contains("`x`"), "{stderr}");
}

#[test]
fn a_file_given_on_the_command_line_is_in_scope() {
    let dir = fixtures();
    let output = repl(
        dir.path(),
        &["payment.flow"],
        ":type fee(50.0)\nfee(50.0)\n",
    );
    assert_eq!(text(&output.stderr), "");
    assert_eq!(text(&output.stdout), "float\n1.0 : float\n");
}

#[test]
fn end_of_input_ends_the_session_and_an_open_entry_is_still_run() {
    let dir = fixtures();
    let output = repl(dir.path(), &[], "[1,\n2");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(text(&output.stdout), "");
    // The entry was incomplete: it is checked as it is, and its error shown.
    assert!(text(&output.stderr).contains("Error:"));
    let output = repl(dir.path(), &[], "[1,\n\n2\n");
    // An empty line ends an open entry: two entries, one error and one result.
    assert_eq!(text(&output.stdout), "2 : int\n");
}

#[test]
fn missing_files_exit_two() {
    let dir = fixtures();
    let output = repl(dir.path(), &["missing.flow"], "");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "error: cannot read missing.flow: No such file or directory\n"
    );
    let output = repl(dir.path(), &["--input", "missing.json"], "");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "error: cannot read missing.json: No such file or directory\n"
    );
}

// ------------------------------------------------------------------ on a terminal

/// One tmux server of its own (its socket in the test's directory), so the test
/// neither sees nor disturbs the user's sessions.
struct Tmux {
    socket: std::path::PathBuf,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "repl"];
        args.extend_from_slice(keys);
        let output = self.run(&args);
        assert!(output.status.success(), "{}", text(&output.stderr));
    }

    /// Types literal text (no key names).
    fn type_text(&self, text: &str) {
        self.send(&["-l", text]);
    }

    fn screen(&self) -> String {
        text(&self.run(&["capture-pane", "-p", "-t", "repl"]).stdout)
    }

    /// Waits until the screen satisfies `ready`, and returns it; fails with the
    /// last screen after a generous deadline (the deadline is not what is tested).
    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waiting for {what}; the screen is:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn interactive_session_completes_fields_and_reads_several_lines() {
    if Command::new("tmux").arg("-V").output().is_err() {
        println!("note: tmux is not installed; skipping the interactive REPL test");
        return;
    }
    let dir = fixtures();
    let tmux = Tmux {
        socket: dir.path().join("tmux.sock"),
    };
    let state = dir.path().join("state");
    let command = format!(
        "env XDG_STATE_HOME='{}' NO_COLOR=1 TERM=xterm '{}' repl --input order.json",
        state.display(),
        env!("CARGO_BIN_EXE_flowc"),
    );
    let output = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "repl",
        "-x",
        "100",
        "-y",
        "30",
        "-c",
        dir.path().to_str().unwrap(),
        &command,
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    // capture-pane drops trailing blanks, so the empty prompt reads `flow>`.
    tmux.wait_for("the prompt", |screen| screen.contains("flow>"));

    // A unique field completes in place: `input.cus` → `input.customer`.
    tmux.type_text("input.cus");
    tmux.send(&["Tab"]);
    tmux.wait_for("`customer` completed", |screen| {
        screen.contains("flow> input.customer")
    });
    tmux.type_text(".na");
    tmux.send(&["Tab"]);
    tmux.wait_for("`name` completed", |screen| {
        screen.contains("flow> input.customer.name")
    });
    tmux.send(&["Enter"]);
    tmux.wait_for("the name", |screen| screen.contains("\"Ana\" : string"));

    // Two fields of a list element: Tab twice lists them.
    tmux.type_text("input.items[0].");
    tmux.send(&["Tab"]);
    tmux.send(&["Tab"]);
    let screen = tmux.wait_for("the fields listed", |screen| {
        screen.lines().any(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            words == ["p", "q"]
        })
    });
    assert!(screen.contains("flow> input.items[0]."), "{screen}");
    tmux.type_text("q");
    tmux.send(&["Enter"]);
    tmux.wait_for("the field's value", |screen| screen.contains("3 : int"));

    // An open bracket continues the entry on the next line.
    tmux.type_text("[1,");
    tmux.send(&["Enter"]);
    tmux.type_text("2]");
    tmux.send(&["Enter"]);
    tmux.wait_for("the list", |screen| screen.contains("[1,2] : [int]"));

    tmux.type_text(":quit");
    tmux.send(&["Enter"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while tmux.run(&["has-session", "-t", "repl"]).status.success() {
        assert!(Instant::now() < deadline, "the REPL did not quit");
        std::thread::sleep(Duration::from_millis(50));
    }

    let history = std::fs::read_to_string(state.join("flowc").join("history")).unwrap();
    assert!(history.contains("input.customer.name"), "{history}");
    assert!(history.contains(":quit"), "{history}");
}
