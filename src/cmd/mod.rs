//! The command line: clap definitions, dispatch to one module per subcommand, exit
//! codes and the few styled lines (`error: …`, `note: …`) every subcommand prints.
//!
//! Subcommand modules parse nothing and compute nothing of their own: they turn
//! arguments into calls to the compiler and its results into text. Colour is decided
//! once, here, from `--color` and the environment (`NO_COLOR`, `CLICOLOR_FORCE`,
//! whether the stream is a terminal) and handed to anstream, which strips escapes from
//! everything written through it when colour is off.

mod api;
mod approve;
mod build;
mod check;
mod context;
mod deploy;
mod emit;
mod eval;
mod explain;
mod fmt;
mod loader;
mod local;
mod lsp;
mod output;
mod present;
mod repl;
mod run;
mod runs;
mod secrets;
mod serve;
mod webhooks;

use anstream::ColorChoice;
use anstyle::{AnsiColor, Style};
use clap::{Parser, Subcommand, ValueEnum};
use std::fmt::Display;
use std::io::{self, Write};
use std::process::ExitCode;

/// Runs `flowc` with the process's arguments and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.color.apply();
    let result = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Repl(args) => repl::run(&args),
        Command::Build(args) => build::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Deploy(args) => deploy::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Runs(args) => runs::run(&args),
        Command::Secrets(args) => secrets::run(&args),
        Command::Webhooks(args) => webhooks::run(&args),
        Command::Emit(args) => emit::run(&args),
        Command::Context(args) => context::run(&args),
        Command::Approve(args) => approve::run(&args, true),
        Command::Reject(args) => approve::run(&args, false),
        Command::Fmt(args) => fmt::run(&args),
        Command::Lsp(args) => lsp::run(&args),
    };
    match result {
        Ok(exit) => exit.into(),
        // A reader that goes away early (`flowc check | head`) is not a failure.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            error(format_args!("{err:#}"));
            Exit::Failure.into()
        }
    }
}

/// How a `flowc` run ended. When several things went wrong the largest code wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Nothing to report, or warnings only.
    Success = 0,
    /// The checked sources have errors (or warnings, under `--deny-warnings`).
    Diagnostics = 1,
    /// Bad arguments, or a path that could not be read.
    Failure = 2,
    /// flowc itself failed: a bug to report.
    Internal = 3,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// Exit status, shown at the end of the top-level help.
const EXIT_CODES: &str = "\
Exit status:
  0  no errors (warnings are allowed unless --deny-warnings)
  1  the sources have errors
  2  bad arguments, or a path could not be read
  3  internal error in flowc (please report it)";

#[derive(Parser)]
#[command(
    name = "flowc",
    version,
    about = "Check, run and operate Flow workflows",
    long_about = "\
flowc is the toolchain of Flow, a typed workflow language: a workflow is a typed
function whose steps (HTTP calls, waits, approvals, child workflows) are checked
before anything runs, then executed durably by a journaling runtime.

flowc checks `.flow` files (`check`, `explain`), tries expressions (`eval`,
`repl`), compiles programs to IR (`build`), runs them durably (`serve`, or `run`
for one run without a server) and operates a running server (`deploy`, `runs`,
`approve`, `reject`, `emit`, `context`, `secrets`).",
    after_help = format!("\
Examples:
  flowc check                    check every .flow file under the current directory
  flowc check --format github    the same, as GitHub Actions annotations
  flowc explain E0201            what diagnostic E0201 means and how to fix it
  flowc eval 'input.total * 2' --input order.json
                                 evaluate an expression against a JSON document
  flowc repl --input order.json  explore the document interactively
  flowc build examples/ -o app.ir
                                 compile to IR for the runtime
  flowc serve examples/          deploy the examples and serve their webhooks
  flowc runs show RUN            a run of that server, step by step
  flowc run app.flow --input @order.json
                                 one run here, without a server

{EXIT_CODES}"),
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    /// When to colour the output.
    ///
    /// `auto` colours a terminal unless the `NO_COLOR` environment variable is set to a
    /// non-empty value; `CLICOLOR_FORCE=1` colours even when the output is not a
    /// terminal.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value_t = Color::Auto,
        global = true
    )]
    color: Color,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Report every error and warning in .flow files.
    ///
    /// Checks each PATH: a file, a directory (searched recursively for `*.flow` files,
    /// skipping hidden entries and `target` directories, in sorted order) or `-` for
    /// standard input. With no PATH, checks the current directory. Every file is
    /// checked even when an earlier one has errors or cannot be read.
    ///
    /// Diagnostics go to standard output in the chosen --format; the summary line,
    /// notes and errors about unreadable paths go to standard error.
    #[command(
        after_help = check::AFTER_HELP,
        after_long_help = check::AFTER_LONG_HELP,
    )]
    Check(check::Args),

    /// Show the explanation page of a diagnostic code.
    ///
    /// Every diagnostic flowc reports carries a code such as `E0201`; its page says
    /// what happened, shows a small program that triggers it, and how to fix it.
    /// Codes are matched without regard to case.
    #[command(after_help = explain::AFTER_HELP)]
    Explain(explain::Args),

    /// Evaluate one expression against a JSON document and print the result.
    ///
    /// The document read with --input is bound to `input`; its type is inferred from
    /// the document (integers are `int`, lists of records unify their fields) unless
    /// --input-type names a type, against which the document is then checked. The
    /// result is printed as JSON. Type errors and run-time errors (division by
    /// zero, an index out of range, ...) are diagnostics, shown as `flowc check`
    /// shows them, against the expression (`<expr>`).
    #[command(after_help = eval::AFTER_HELP)]
    Eval(eval::Args),

    /// Evaluate expressions interactively, with completion and history.
    ///
    /// Every result is printed as `value : type`. FILE's types, functions and
    /// connections are in scope, and --input binds a JSON document to `input`.
    /// When standard input is not a terminal, lines are read as they come, with no
    /// prompt, so a session can be scripted.
    #[command(after_help = repl::AFTER_HELP)]
    Repl(repl::Args),

    /// Check .flow files and write the compiled program (IR).
    ///
    /// PATH is a file or a directory (searched for `*.flow` files as by `check`).
    /// When the files have errors, they are printed as `check` prints them and
    /// nothing is written. Otherwise the IR goes to FILE (or standard output) as
    /// indented JSON or in the compact binary form, and its content hash is
    /// printed on standard error.
    #[command(after_help = build::AFTER_HELP)]
    Build(build::Args),

    /// Deploy .flow files and serve their webhooks until Ctrl-C.
    ///
    /// Each PATH (a file, or a directory searched for *.flow files as by `check`)
    /// becomes one program, checked as `check` does: with errors nothing is
    /// deployed. The program is deployed and activated in the database, and every
    /// `on webhook` trigger of every active workflow is served: a request is
    /// verified, its JSON body checked against the workflow's input type, and the
    /// run stored before the answer `202 {"run_id": ...}`. The webhook URLs and
    /// where the admin token is are printed at start.
    #[command(after_help = serve::AFTER_HELP)]
    Serve(serve::Args),

    /// Check .flow files and deploy them to a running server.
    ///
    /// The files are checked first as `check` does: with errors they are printed
    /// and nothing is sent. Then every file of the program (imports included) goes
    /// to the server's admin API, which compiles, stores and, unless
    /// --no-activate, activates it; the version, its hash and each webhook URL are
    /// printed. A refusal (a secret missing from the server's vault, a webhook path
    /// another active deployment claims) is printed one line per problem.
    #[command(after_help = deploy::AFTER_HELP)]
    Deploy(deploy::Args),

    /// Run one workflow once, here, without a server.
    ///
    /// PATH is checked as `check` does, the program stored in an embedded
    /// database (temporary unless --db), and a run of the workflow started with
    /// --input, checked against its input type. The engine `serve` uses runs it
    /// in this process, for real: HTTP steps call their URLs. Each step is shown
    /// as it starts and ends, and the output is printed as JSON at the end.
    #[command(after_help = run::AFTER_HELP)]
    Run(run::Args),

    /// List, inspect, retry, replay and cancel the runs of a server.
    ///
    /// Talks to a running server's admin API. `show` prints every step of a run
    /// with its input, output, attempts, error and timing; --json prints the
    /// API's JSON instead of text.
    #[command(after_help = runs::AFTER_HELP)]
    Runs(runs::Args),

    /// Set, list and remove the secrets workflows use as `secrets.NAME`.
    ///
    /// Secrets are stored encrypted in the database (flowc.db unless --db) under
    /// the master key next to it (flowc.key) or FLOWC_MASTER_KEY. Values are read
    /// from standard input or a prompt that does not echo, never from arguments,
    /// and are never printed.
    #[command(after_help = secrets::AFTER_HELP)]
    Secrets(secrets::Args),

    /// Show what became of the requests sent to a server's webhooks.
    ///
    /// Talks to a running server's admin API. `deliveries` lists every request
    /// that reached a webhook, accepted or refused, with its status, the reason
    /// of a refusal, the provider's delivery id and the run it started.
    #[command(after_help = webhooks::AFTER_HELP)]
    Webhooks(webhooks::Args),

    /// Emit an event to a server: it starts the event's workflows and wakes the
    /// runs awaiting it.
    ///
    /// Talks to a running server's admin API. An active deployment must declare
    /// the event, and the payload must have its type. The event is stored and
    /// its id printed; one run of every workflow with `on event NAME` starts, and
    /// every run waiting at `await event NAME` whose `where` holds goes on.
    #[command(after_help = emit::AFTER_HELP)]
    Emit(emit::Args),

    /// Read and change a workflow's context on a server.
    ///
    /// Talks to a running server's admin API. The context is what a workflow's
    /// runs keep across runs (`set context.KEY = …`, read as `context.KEY`):
    /// `get` prints it, `set` changes one key, and `null` removes it.
    #[command(after_help = context::AFTER_HELP)]
    Context(context::Args),

    /// Approve the approval a run of a server waits for.
    ///
    /// Talks to a running server's admin API. A run waiting at `await` on an
    /// `approval(…)` handle goes on with `{ approved: true, by, comment }`, as if
    /// someone had followed the handle's approve URL. When the run waits for
    /// several approvals, the oldest is decided.
    #[command(after_help = approve::APPROVE_HELP)]
    Approve(approve::Args),

    /// Reject the approval a run of a server waits for.
    ///
    /// Like `approve`, but the run's `await` yields `{ approved: false, by,
    /// comment }`.
    #[command(after_help = approve::REJECT_HELP)]
    Reject(approve::Args),

    /// Rewrite .flow files in the one canonical layout.
    #[command(after_help = fmt::AFTER_HELP)]
    Fmt(fmt::Args),

    /// Run the language server over standard input and output, for editors.
    #[command(after_help = lsp::AFTER_HELP)]
    Lsp(lsp::Args),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Color {
    /// Colour when writing to a terminal, honouring NO_COLOR and CLICOLOR_FORCE.
    Auto,
    /// Always colour, even into a pipe or a file.
    Always,
    /// Never colour.
    Never,
}

impl Color {
    /// Makes the choice for every stream written through anstream from now on.
    fn apply(self) {
        let choice = match self {
            Color::Auto => ColorChoice::Auto,
            Color::Always => ColorChoice::Always,
            Color::Never => ColorChoice::Never,
        };
        choice.write_global();
    }
}

/// Whether text written to standard output should carry colour, for renderers that
/// colour themselves (ariadne) rather than through anstream.
pub fn stdout_has_color() -> bool {
    anstream::AutoStream::choice(&io::stdout()) != ColorChoice::Never
}

/// Styles of the labels that open a line (`error:`, `note:`); anstream drops them
/// when colour is off.
pub const ERROR: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)));
pub const WARNING: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
pub const NOTE: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan)));
pub const HELP: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));
pub const BOLD: Style = Style::new().bold();

/// Prints `error: message` on standard error.
pub fn error(message: impl Display) {
    labelled(ERROR, "error", message);
}

/// Prints `note: message` on standard error.
pub fn note(message: impl Display) {
    labelled(NOTE, "note", message);
}

/// Prints `help: message` on standard error.
pub fn help(message: impl Display) {
    labelled(HELP, "help", message);
}

/// Prints one `label: message` line on standard error. A failure to write to
/// standard error has nowhere to be reported, so it is ignored.
pub fn labelled(style: Style, label: &str, message: impl Display) {
    let mut stderr = anstream::stderr().lock();
    let _ = writeln!(stderr, "{style}{label}:{style:#} {message}");
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|err| err.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// The message of an IO error without the ` (os error 2)` that `Display` appends:
/// `No such file or directory`.
pub fn io_message(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text,
    }
}

/// JSON given as an argument: the text itself, `@FILE` or `-` (standard input),
/// parsed. A parse error begins with what `origin` names the text by, given the
/// file or `standard input` it came from (`None` for the text itself).
pub fn read_json_arg(
    spec: &str,
    origin: impl FnOnce(Option<&str>) -> String,
) -> Result<serde_json::Value, String> {
    let (text, origin) = if spec == "-" {
        let mut text = String::new();
        io::Read::read_to_string(&mut io::stdin(), &mut text)
            .map_err(|err| format!("cannot read standard input: {}", io_message(&err)))?;
        (text, origin(Some("standard input")))
    } else if let Some(file) = spec.strip_prefix('@') {
        let text = std::fs::read_to_string(file)
            .map_err(|err| format!("cannot read {file}: {}", io_message(&err)))?;
        (text, origin(Some(file)))
    } else {
        (spec.to_owned(), origin(None))
    };
    serde_json::from_str(&text).map_err(|err| format!("{origin} is not valid JSON: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn io_messages_drop_the_os_error_number() {
        let err = io::Error::from_raw_os_error(2);
        assert!(
            !io_message(&err).contains("os error"),
            "{}",
            io_message(&err)
        );
        let custom = io::Error::other("plain (words)");
        assert_eq!(io_message(&custom), "plain (words)");
    }
}
