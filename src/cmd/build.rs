//! `flowc build`: check a program and write its IR, the form the runtime deploys.
//!
//! Building is checking plus one step: when the files have no errors, the lowered
//! program is serialised, as indented JSON for people and tools or in the compact
//! binary form the store keeps, and its content hash, which names a deployment, is
//! printed. With errors nothing is written, so a stale IR file is never mistaken
//! for the current one.

use super::loader;
use super::{Exit, error, io_message};
use anyhow::Context as _;
use clap::ValueEnum;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

pub const AFTER_HELP: &str = "\
Examples:
  flowc build examples/ -o examples.ir.json    every example, as indented JSON
  flowc build app.flow --emit ir -o app.ir     the compact binary form
  flowc build app.flow | jq .ir_version        JSON on standard output

On success, standard error names the file written and the program's hash:
  wrote app.ir (hash sha256:…)

Exit status: 0 written, 1 the sources have errors (printed as by `flowc check`;
nothing is written), 2 bad arguments or a path that cannot be read or written,
3 internal error.";

#[derive(clap::Args)]
pub struct Args {
    /// A .flow file, or a directory searched recursively for *.flow files.
    #[arg(value_name = "PATH")]
    path: PathBuf,

    /// Where to write the IR; standard output when absent.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// The form of the IR.
    #[arg(long, value_enum, value_name = "FORM", default_value_t = Emit::IrJson)]
    emit: Emit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Emit {
    /// Indented JSON, for people and tools.
    IrJson,
    /// The compact binary form the runtime stores.
    Ir,
}

pub fn run(args: &Args) -> anyhow::Result<Exit> {
    if args.output.is_none() && args.emit == Emit::Ir && io::stdout().is_terminal() {
        error("refusing to write binary IR to a terminal");
        super::help("write it to a file with `-o FILE`, or use `--emit ir-json`");
        return Ok(Exit::Failure);
    }
    let roots = match loader::flow_files(&args.path) {
        Ok(roots) => roots,
        Err(err) => {
            error(format_args!("{err:#}"));
            return Ok(Exit::Failure);
        }
    };
    if roots.is_empty() {
        error(format_args!("no .flow files in {}", args.path.display()));
        return Ok(Exit::Failure);
    }

    let analysis = match loader::analyze(&roots) {
        Ok(analysis) => analysis,
        Err(err) => {
            error(format_args!("{err:#}"));
            return Ok(Exit::Failure);
        }
    };
    loader::render(&analysis);
    let errors = loader::error_count(&analysis);
    if errors > 0 {
        error(format_args!(
            "{} in {}; nothing written",
            plural(errors, "error"),
            plural(analysis.files.len(), "file")
        ));
        return Ok(Exit::Diagnostics);
    }
    let program = analysis.program;

    let bytes = match args.emit {
        Emit::IrJson => {
            let mut text = program.to_json();
            text.push('\n');
            text.into_bytes()
        }
        Emit::Ir => program.to_binary(),
    };
    let hash = format!("sha256:{}", program.hash());
    match &args.output {
        Some(path) => {
            if let Err(err) = std::fs::write(path, &bytes) {
                error(format_args!(
                    "cannot write {}: {}",
                    path.display(),
                    io_message(&err)
                ));
                return Ok(Exit::Failure);
            }
            status(format_args!("wrote {} (hash {hash})", path.display()));
        }
        None => {
            let mut stdout = io::stdout().lock();
            stdout
                .write_all(&bytes)
                .and_then(|()| stdout.flush())
                .context("cannot write to standard output")?;
            status(format_args!(
                "wrote the IR to standard output (hash {hash})"
            ));
        }
    }
    Ok(Exit::Success)
}

/// Prints a plain line on standard error, where progress goes.
fn status(message: impl std::fmt::Display) {
    let _ = writeln!(anstream::stderr().lock(), "{message}");
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
