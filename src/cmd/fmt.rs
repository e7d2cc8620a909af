//! `flowc fmt`: rewrite .flow files in the one canonical layout.
//!
//! The layout itself is the compiler's ([`flowc_compiler::fmt::format`]); this
//! module finds the files (as `flowc check` does), reads them, and either rewrites
//! the ones that change, lists them (`--check`, for CI) or prints what would change
//! as a unified diff (`--diff`). A rewrite goes to a temporary file beside the
//! original, renamed over it, so an interrupted run never leaves half a file. A
//! file that does not parse is left alone and its diagnostics are printed as `flowc
//! check` prints them: the formatter never guesses around a broken tree.

use super::eval::render_diagnostics;
use super::loader::flow_files;
use super::{Exit, error, io_message};
use flowc_compiler::fmt::format;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

pub const AFTER_HELP: &str = "\
Examples:
  flowc fmt                       rewrite every .flow file under the current directory
  flowc fmt workflows/ a.flow     a directory and a file
  flowc fmt --check               list the files that are not formatted (exit 1 if any)
  flowc fmt --diff orders.flow    show what would change, change nothing
  cat a.flow | flowc fmt -        format standard input to standard output

The layout: two spaces of indentation, lines of at most 100 columns where they
can break, a bracketed list that does not fit (or that its author broke after
the opening bracket) one element a line; comments, blank lines between groups
and the spelling of literals are kept. See grammar/SPEC.md, \"Canonical layout\".

Exit status: 0 nothing to change (or everything rewritten), 1 a file would
change under --check or --diff, or does not parse, 2 a path cannot be read or
written.";

#[derive(clap::Args)]
pub struct Args {
    /// Files or directories to format (default: the current directory); `-`
    /// formats standard input to standard output.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Write nothing; list the files whose layout would change and exit 1 if any.
    #[arg(long)]
    check: bool,

    /// Write nothing; print a unified diff of what would change and exit 1 if any.
    #[arg(long, conflicts_with = "check")]
    diff: bool,
}

/// What to do with a file whose layout changes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Write,
    Check,
    Diff,
}

pub fn run(args: &Args) -> anyhow::Result<Exit> {
    let mode = if args.check {
        Mode::Check
    } else if args.diff {
        Mode::Diff
    } else {
        Mode::Write
    };
    let default = [PathBuf::from(".")];
    let paths = if args.paths.is_empty() {
        &default[..]
    } else {
        &args.paths[..]
    };
    let mut exit = Exit::Success;
    for path in paths {
        if path.as_os_str() == "-" {
            exit = exit.max(stdin(mode)?);
            continue;
        }
        let files = match flow_files(path) {
            Ok(files) => files,
            Err(err) => {
                error(format_args!("{err:#}"));
                exit = exit.max(Exit::Failure);
                continue;
            }
        };
        for file in files {
            exit = exit.max(one_file(&file, mode)?);
        }
    }
    Ok(exit)
}

/// Formats standard input to standard output (or, under `--check` and `--diff`,
/// reports as for a file named `<stdin>`).
fn stdin(mode: Mode) -> anyhow::Result<Exit> {
    let mut bytes = Vec::new();
    if let Err(err) = io::stdin().lock().read_to_end(&mut bytes) {
        error(format_args!(
            "cannot read standard input: {}",
            io_message(&err)
        ));
        return Ok(Exit::Failure);
    }
    let Ok(source) = String::from_utf8(bytes) else {
        error("cannot read standard input: not valid UTF-8");
        return Ok(Exit::Failure);
    };
    let name = "<stdin>";
    let formatted = match format(&source) {
        Ok(formatted) => formatted,
        Err(diagnostics) => {
            render_diagnostics(name, &source, &diagnostics);
            return Ok(Exit::Diagnostics);
        }
    };
    let mut out = io::stdout().lock();
    match mode {
        Mode::Write => out.write_all(formatted.as_bytes())?,
        Mode::Check | Mode::Diff if formatted == source => {}
        Mode::Check => writeln!(out, "{name}")?,
        Mode::Diff => out.write_all(diff(name, &source, &formatted).as_bytes())?,
    }
    out.flush()?;
    let changed = formatted != source && mode != Mode::Write;
    Ok(if changed {
        Exit::Diagnostics
    } else {
        Exit::Success
    })
}

fn one_file(path: &Path, mode: Mode) -> anyhow::Result<Exit> {
    let shown = shown(path);
    let source = match std::fs::read_to_string(path) {
        Ok(source) => source,
        Err(err) => {
            let reason = match err.kind() {
                io::ErrorKind::InvalidData => "not valid UTF-8".to_owned(),
                _ => io_message(&err),
            };
            error(format_args!("cannot read {shown}: {reason}"));
            return Ok(Exit::Failure);
        }
    };
    let formatted = match format(&source) {
        Ok(formatted) => formatted,
        Err(diagnostics) => {
            render_diagnostics(&shown, &source, &diagnostics);
            return Ok(Exit::Diagnostics);
        }
    };
    if formatted == source {
        return Ok(Exit::Success);
    }
    let mut out = io::stdout().lock();
    match mode {
        Mode::Check => {
            writeln!(out, "{shown}")?;
            Ok(Exit::Diagnostics)
        }
        Mode::Diff => {
            out.write_all(diff(&shown, &source, &formatted).as_bytes())?;
            Ok(Exit::Diagnostics)
        }
        Mode::Write => match write_atomically(path, &formatted) {
            Ok(()) => Ok(Exit::Success),
            Err(err) => {
                error(format_args!("cannot write {shown}: {}", io_message(&err)));
                Ok(Exit::Failure)
            }
        },
    }
}

/// Replaces a file's contents through a temporary file in the same directory,
/// renamed over it, keeping the file's permissions.
fn write_atomically(path: &Path, contents: &str) -> io::Result<()> {
    let permissions = std::fs::metadata(path)?.permissions();
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(contents.as_bytes())?;
    temp.as_file().sync_all()?;
    std::fs::set_permissions(temp.path(), permissions)?;
    temp.persist(path).map_err(|err| err.error)?;
    Ok(())
}

/// A unified diff from the file as it is to the file formatted.
fn diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(name, name)
        .to_string()
}

/// `./a/b.flow` → `a/b.flow`, as people type paths.
fn shown(path: &Path) -> String {
    let path = match path.strip_prefix(".") {
        Ok(rest) if !rest.as_os_str().is_empty() => rest,
        _ => path,
    };
    path.display().to_string()
}
