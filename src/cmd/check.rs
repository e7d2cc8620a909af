//! `flowc check`: find the `.flow` files named on the command line, analyse the
//! program they make (imports included) and report what the compiler found.
//!
//! This is the command CI runs, so it is built to say everything in one pass and to
//! be exact about how it ended. The files named or found are the roots of one
//! program; the files they import are read from disk through the [`DiskLoader`] that
//! `build` and `eval` use, and checked too. A root that cannot be read is reported
//! on one line of its own and the others are still checked; should the compiler
//! panic, each root is analysed alone so that the rest is still reported. The exit
//! code is the worst thing that happened (see [`Exit`]). How the diagnostics are
//! printed is [`output`]'s business; `--verbose` adds each workflow's worst-case
//! duration and the next fire times of its schedules, from the system clock.

use super::loader::DiskLoader;
use super::output::{self, Checked, Format, Workflow};
use super::{Exit, WARNING, error, io_message, labelled, note};
use anyhow::Context;
use flowc_compiler::{Analysis, FileId, SourceFile, report};
use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use walkdir::WalkDir;

pub const AFTER_HELP: &str = "\
Examples:
  flowc check                          every .flow file under the current directory
  flowc check workflows/ billing.flow  a directory and a file
  cat order.flow | flowc check -       standard input, shown as <stdin>
  flowc check --format github          annotations for GitHub Actions
  flowc check --format json | jq .valid
  flowc check --verbose jobs.flow      also worst-case durations and next cron fires

Exit status: 0 no errors, 1 errors found, 2 bad arguments or an unreadable path,
3 internal error. See `flowc check --help` for the JSON output's schema.";

pub const AFTER_LONG_HELP: &str = r#"Examples:
  flowc check                          every .flow file under the current directory
  flowc check workflows/ billing.flow  a directory and a file
  cat order.flow | flowc check -       standard input, shown as <stdin>
  flowc check --format github          annotations for GitHub Actions
  flowc check --format sarif > flowc.sarif
  flowc check --format json | jq '.diagnostics[] | .code'
  flowc check --verbose jobs.flow      also worst-case durations and next cron fires

What is checked:
  The files named or found are the roots of one program: names are shared
  between them, so a type declared twice or a webhook path claimed by two
  workflows is an error even when the two are in different files. Each `import
  "PATH"` is read from disk, relative to the importing file, and the imported
  file is checked too; its diagnostics are reported under its own path, and it
  is listed in "files" after the file that imports it. An import that cannot be
  read is a diagnostic (E0304) of the importing file, not an unreadable path.
  Warnings (codes W....) do not fail the check unless --deny-warnings.

Exit status:
  0  no errors; warnings are allowed unless --deny-warnings
  1  errors (or, under --deny-warnings, warnings) were found
  2  bad arguments, or a path could not be read (missing, unreadable, not UTF-8);
     each such path is one `error: cannot read PATH: REASON` line on stderr and
     the other paths are still checked
  3  internal error: flowc itself failed on a file; please report it
When several of these happen, the largest code wins.

JSON output (--format json), version 1:
  One object on standard output. Fields appear in this order and keep their
  meaning for as long as "version" is 1; new fields may be added.

  {
    "version": 1,             always 1 for this schema
    "valid": true,            true exactly when the exit status is 0
    "error_count": 0,         number of diagnostics with severity "error"
    "warning_count": 0,       number of diagnostics with severity "warning"
    "files": ["a.flow"],      every file that was checked, in checking order
    "diagnostics": [          in file order, then source order
      {
        "file": "a.flow",     as in "files"; standard input is "<stdin>"
        "code": "E0201",      `flowc explain CODE` describes it
        "severity": "error",  "error" or "warning"
        "message": "expected `}`, found `step`",
        "start": {"line": 3, "column": 5, "byte": 40},  of the primary label
        "end":   {"line": 3, "column": 9, "byte": 44},  exclusive
        "labels": [           the primary label first
          {"message": "expected `}`", "primary": true, "start": {..}, "end": {..},
           "file": "a.flow"}  the label's own file: another file of the program
        ],                    for a related place there (a webhook claimed twice)
        "notes": ["..."],     strings, possibly none
        "help": "..."         a string, or null
      }
    ],
    "workflows": [            every workflow, with or without --verbose
      {
        "name": "nightly",
        "file": "a.flow",     where it is declared, and on which line
        "line": 12,
        "bound_ms": 90000,    worst-case duration in milliseconds, or null when
                              unbounded (a `for` over a list of unknown length,
        "unbounded": null,    an await without a timeout, ...): then this says why
        "schedules": [        one per `on schedule` trigger
          {"cron": "30 2 * * *", "tz": "Europe/Paris",
           "next": ["2025-03-30T02:30:00+02:00", ...]}  the next 5 fire times
        ]                     from now, RFC 3339 in the schedule's time zone
      }
    ]
  }

  Lines and columns start at 1; columns count Unicode characters (code
  points), bytes count UTF-8 bytes from the start of the file (0-based).

Verbose (--verbose, human format):
  After the diagnostics, one line per workflow with its worst-case duration,
  then for each of its schedules the next 5 fire times from the system clock,
  in the schedule's time zone, as RFC 3339 with the offset at that instant:
    workflow nightly (a.flow:12): at most 1m 30s
      on schedule "30 2 * * *" tz "Europe/Paris", next 5 fire times:
        2025-03-30T02:30:00+02:00
        ...
    workflow each (a.flow:20): unbounded, because of a `for` over `items`, ...
  A time skipped by a daylight-saving gap fires when the gap ends; a repeated
  one fires once. Standard error also names each file as it is read.

GitHub format (--format github):
  One workflow command per diagnostic, for example
    ::error file=a.flow,line=3,col=5,endLine=3,endColumn=9,title=E0201::expected `}`, found `step`
  Notes and help follow the message on lines of their own (escaped as %0A).

SARIF format (--format sarif):
  A SARIF 2.1.0 log with one run; one rule per code that occurs, results with
  their code as ruleId and a region with 1-based lines and columns (code points)
  plus byteOffset and byteLength; secondary labels are relatedLocations, each in
  the artifact (file) it points into."#;

#[derive(clap::Args)]
pub struct Args {
    /// Files and directories to check; `-` reads standard input.
    #[arg(value_name = "PATH", default_value = ".")]
    paths: Vec<PathBuf>,

    /// How to print diagnostics.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Human)]
    format: Format,

    /// Exit with status 1 when there are warnings, not only errors.
    #[arg(long)]
    deny_warnings: bool,

    /// Print diagnostics and errors only: no summary line, no notes.
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,

    /// Also print each workflow's worst-case duration and the next 5 fire times of
    /// each schedule (human format), and name each file on standard error as it is
    /// read.
    #[arg(short, long)]
    verbose: bool,
}

pub fn run(args: &Args) -> anyhow::Result<Exit> {
    install_panic_hook();
    let mut unreadable = 0;
    let inputs = inputs(args, &mut unreadable);

    let mut roots = Vec::new();
    for input in inputs {
        let name = input.name();
        if args.verbose {
            note(format_args!("checking {name}"));
        }
        match input.read() {
            Ok(text) => roots.push(SourceFile { path: name, text }),
            Err(reason) => {
                error(format_args!("cannot read {name}: {reason}"));
                unreadable += 1;
            }
        }
    }

    let project = check_project(roots);
    let internal = project.crashed.len();
    for (name, panic) in &project.crashed {
        labelled(
            super::ERROR,
            "internal error",
            format_args!(
                "flowc crashed while checking {name}: {panic}; please report this \
                 to the flowc developers with the file that triggered it"
            ),
        );
    }
    let checked = project.files;

    let counts = Counts::of(&checked);
    let denied = counts.errors > 0 || (args.deny_warnings && counts.warnings > 0);
    let exit = [
        (denied, Exit::Diagnostics),
        (unreadable > 0, Exit::Failure),
        (internal > 0, Exit::Internal),
    ]
    .into_iter()
    .filter(|(happened, _)| *happened)
    .map(|(_, exit)| exit)
    .max()
    .unwrap_or(Exit::Success);

    let mut stdout = anstream::stdout().lock();
    let report = output::Report {
        files: &checked,
        valid: exit == Exit::Success,
        error_count: counts.errors,
        warning_count: counts.warnings,
        color: super::stdout_has_color(),
        workflows: &project.workflows,
        show_workflows: args.verbose,
    };
    output::write(args.format, &report, &mut stdout).context("cannot write to standard output")?;
    stdout.flush().context("cannot write to standard output")?;
    drop(stdout);

    if !args.quiet {
        summarize(&counts, args.deny_warnings, unreadable, internal);
    }
    Ok(exit)
}

/// What checking the roots found: every file of the project with its diagnostics,
/// the workflows for `--verbose`, and the roots the compiler crashed on.
struct Project {
    files: Vec<Checked>,
    workflows: Vec<Workflow>,
    /// (name of a root, description of the panic).
    crashed: Vec<(String, String)>,
}

/// Analyses the roots as one program, imports read from disk. Should the compiler
/// panic, each root is analysed on its own, so that one bad file does not hide
/// what the others have to say; the roots it still panics on are `crashed`.
fn check_project(roots: Vec<SourceFile>) -> Project {
    let now = now_ms();
    let mut project = Project {
        files: Vec::new(),
        workflows: Vec::new(),
        crashed: Vec::new(),
    };
    if roots.is_empty() {
        return project;
    }
    match analyze(roots.clone()) {
        Ok(analysis) => {
            project.files = checked_files(&analysis, &[]);
            project.workflows = report::workflows(&analysis, now);
        }
        Err(_) if roots.len() > 1 => {
            for root in roots {
                let name = root.path.clone();
                match analyze(vec![root]) {
                    Ok(analysis) => {
                        let known: Vec<String> =
                            project.files.iter().map(|file| file.path.clone()).collect();
                        let mut files = checked_files(&analysis, &known);
                        // Labels pointing into other files were numbered for this
                        // analysis; renumber them for the merged list.
                        renumber(&mut files, &analysis, &project.files);
                        project.files.extend(files);
                        project.workflows.extend(report::workflows(&analysis, now));
                    }
                    Err(panic) => project.crashed.push((name, panic)),
                }
            }
        }
        Err(panic) => {
            let name = roots
                .first()
                .map(|root| root.path.clone())
                .unwrap_or_default();
            project.crashed.push((name, panic));
        }
    }
    project
}

/// Runs the compiler, turning a panic into a description of it.
fn analyze(roots: Vec<SourceFile>) -> Result<Analysis, String> {
    if let Ok(mut last) = LAST_PANIC.lock() {
        *last = None;
    }
    panic::catch_unwind(AssertUnwindSafe(|| {
        flowc_compiler::analyze(roots, &DiskLoader)
    }))
    .map_err(|payload| {
        let recorded = LAST_PANIC.lock().ok().and_then(|mut last| last.take());
        recorded.unwrap_or_else(|| {
            payload
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_owned())
        })
    })
}

/// The files of an analysis with their diagnostics, in the analysis's order, except
/// those whose path is in `skip` (already reported by an earlier analysis).
fn checked_files(analysis: &Analysis, skip: &[String]) -> Vec<Checked> {
    report::files(analysis)
        .into_iter()
        .filter(|file| !skip.contains(&file.path))
        .collect()
}

/// Rewrites the file of every label in `files` (numbered as in `analysis`) to the
/// index the same path has in `before ++ files`.
fn renumber(files: &mut [Checked], analysis: &Analysis, before: &[Checked]) {
    let paths: Vec<String> = before
        .iter()
        .chain(files.iter())
        .map(|file| file.path.clone())
        .collect();
    for file in files.iter_mut() {
        for diagnostic in &mut file.diagnostics {
            for label in &mut diagnostic.labels {
                label.file = label.file.and_then(|id| {
                    let path = &analysis.file(id)?.path;
                    let index = paths.iter().position(|known| known == path)?;
                    Some(FileId(u32::try_from(index).ok()?))
                });
            }
        }
    }
}

/// The system clock in milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    use flowc_runtime::clock::Clock as _;
    flowc_runtime::clock::SystemClock.now_ms()
}

/// One thing to check.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    /// The name diagnostics are reported under.
    fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_owned(),
            Input::File(path) => path.to_string_lossy().into_owned(),
        }
    }

    /// The text of the input, or why it cannot be had, in words for `cannot read
    /// PATH: REASON`.
    fn read(&self) -> Result<String, String> {
        let bytes = match self {
            Input::Stdin => {
                let mut bytes = Vec::new();
                io::stdin().lock().read_to_end(&mut bytes).map(|_| bytes)
            }
            Input::File(path) => std::fs::read(path),
        }
        .map_err(|err| io_message(&err))?;
        String::from_utf8(bytes).map_err(|err| {
            let bytes = err.as_bytes();
            let valid = &bytes[..err.utf8_error().valid_up_to()];
            let valid = std::str::from_utf8(valid).unwrap_or_default();
            let line = valid.matches('\n').count() + 1;
            let column = valid
                .rsplit('\n')
                .next()
                .unwrap_or_default()
                .chars()
                .count()
                + 1;
            format!("not valid UTF-8 (line {line}, column {column})")
        })
    }
}

/// Turns the PATH arguments into the inputs to check, in order and without
/// repeats, printing an error for each path that cannot be used.
fn inputs(args: &Args, unreadable: &mut usize) -> Vec<Input> {
    let mut inputs = Vec::new();
    for path in &args.paths {
        if path.as_os_str() == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        match std::fs::metadata(path) {
            Err(err) => {
                error(format_args!(
                    "cannot read {}: {}",
                    path.display(),
                    io_message(&err)
                ));
                *unreadable += 1;
            }
            Ok(metadata) if metadata.is_dir() => {
                let before = inputs.len();
                walk(path, &mut inputs, unreadable);
                if inputs.len() == before && !args.quiet {
                    note(format_args!("no .flow files in {}", path.display()));
                }
            }
            // A file named on the command line is checked whatever its extension.
            Ok(_) => inputs.push(Input::File(tidy(path))),
        }
    }
    let mut seen = HashSet::new();
    inputs.retain(|input| seen.insert(input.clone()));
    inputs
}

/// Adds every `*.flow` file under `root` to `inputs`, sorted by name within each
/// directory, skipping hidden entries and `target` directories (build output).
fn walk(root: &Path, inputs: &mut Vec<Input>, unreadable: &mut usize) {
    let entries = WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| entry.depth() == 0 || !is_skipped(entry));
    for entry in entries {
        match entry {
            Ok(entry) => {
                let path = entry.path();
                if entry.file_type().is_file() && path.extension().is_some_and(|ext| ext == "flow")
                {
                    inputs.push(Input::File(tidy(path)));
                }
            }
            Err(err) => {
                let path = err.path().unwrap_or(root).display();
                let reason = match (err.io_error(), err.loop_ancestor()) {
                    (_, Some(ancestor)) => {
                        format!("symbolic link loop back to {}", ancestor.display())
                    }
                    (Some(io), None) => io_message(io),
                    (None, None) => err.to_string(),
                };
                error(format_args!("cannot read {path}: {reason}"));
                *unreadable += 1;
            }
        }
    }
}

fn is_skipped(entry: &walkdir::DirEntry) -> bool {
    let name = entry.file_name().to_string_lossy();
    name.starts_with('.') || (entry.file_type().is_dir() && name == "target")
}

/// `./a/b.flow` → `a/b.flow`, so that walking `.` reports the paths people type.
fn tidy(path: &Path) -> PathBuf {
    match path.strip_prefix(".") {
        Ok(rest) if !rest.as_os_str().is_empty() => rest.to_path_buf(),
        _ => path.to_path_buf(),
    }
}

/// The message and place of the last panic, recorded by the hook from
/// [`install_panic_hook`] so that it can be reported in one line.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Replaces the default panic output (several lines about a thread) with a record
/// that [`analyze`] reports as one line. With `RUST_BACKTRACE` set, the default output
/// is printed as well, for whoever debugs the report.
fn install_panic_hook() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let message = info.payload_as_str().unwrap_or("panic");
        let text = match info.location() {
            Some(location) => format!("{message} (at {location})"),
            None => message.to_owned(),
        };
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(text);
        }
        if std::env::var_os("RUST_BACKTRACE").is_some() {
            default(info);
        }
    }));
}

#[derive(Default)]
struct Counts {
    errors: usize,
    warnings: usize,
    files: usize,
    files_with_diagnostics: usize,
}

impl Counts {
    fn of(checked: &[Checked]) -> Counts {
        let mut counts = Counts {
            files: checked.len(),
            ..Counts::default()
        };
        for file in checked {
            let errors = file.diagnostics.iter().filter(|d| d.is_error()).count();
            counts.errors += errors;
            counts.warnings += file.diagnostics.len() - errors;
            counts.files_with_diagnostics += usize::from(!file.diagnostics.is_empty());
        }
        counts
    }
}

/// Prints the closing line on standard error: `error: 3 errors, 1 warning in 2 of 5
/// files`, or `checked 5 files: no problems`.
fn summarize(counts: &Counts, deny_warnings: bool, unreadable: usize, internal: usize) {
    let mut text = if counts.errors + counts.warnings == 0 {
        if unreadable + internal > 0 {
            format!("checked {}", plural(counts.files, "file"))
        } else {
            format!("checked {}: no problems", plural(counts.files, "file"))
        }
    } else {
        let mut found = Vec::new();
        if counts.errors > 0 {
            found.push(plural(counts.errors, "error"));
        }
        if counts.warnings > 0 {
            found.push(plural(counts.warnings, "warning"));
        }
        let files = if counts.files_with_diagnostics == counts.files {
            plural(counts.files, "file")
        } else {
            format!(
                "{} of {}",
                counts.files_with_diagnostics,
                plural(counts.files, "file")
            )
        };
        format!("{} in {files}", found.join(", "))
    };
    let warnings_denied = deny_warnings && counts.errors == 0 && counts.warnings > 0;
    if warnings_denied {
        text.push_str(" (denied by --deny-warnings)");
    }
    if unreadable > 0 {
        text.push_str(&format!(
            "; {} could not be read",
            plural(unreadable, "path")
        ));
    }
    if internal > 0 {
        text.push_str(&format!(
            "; {} hit an internal error",
            plural(internal, "file")
        ));
    }
    if counts.errors > 0 || warnings_denied || unreadable > 0 || internal > 0 {
        error(text);
    } else if counts.warnings > 0 {
        labelled(WARNING, "warning", text);
    } else {
        let _ = writeln!(anstream::stderr().lock(), "{text}");
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
