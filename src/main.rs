//! The `flowc` binary: the one executable people install, run in CI and deploy.
//!
//! This file only hands over to [`cmd`], which parses the arguments with clap and
//! prints. Everything the commands compute comes from the library crates
//! (`flowc-compiler` today, `flowc-runtime` and `flowc-lsp` later), so the binary stays
//! the only place that knows about argument syntax, exit codes and terminal colours.

mod cmd;

use std::process::ExitCode;

fn main() -> ExitCode {
    cmd::main()
}
