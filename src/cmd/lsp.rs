//! `flowc lsp`: the language server over standard input and output.
//!
//! Editors start it themselves; people rarely type it. The server lives in the
//! `flowc-lsp` crate; this command only builds a runtime for it and hands it the
//! process's standard streams.

use super::Exit;
use anyhow::Context as _;

pub const AFTER_HELP: &str = "\
Speaks the Language Server Protocol (3.17) over standard input and output, for
editors: diagnostics as `flowc check FILE` gives them (pushed as you type), hover,
go to definition, references, rename, completion, signature help, outline,
workspace symbols, semantic highlighting, folding, formatting (as `flowc fmt`),
code actions and inlay hints. Each open file is checked as the root of its own
program, with its imports; nothing is ever run or deployed.

Positions are UTF-16 code units, as the protocol's default. Logs go to the editor
(window/logMessage); standard output carries only the protocol.

Editor set-up: see grammar/README.md.";

#[derive(clap::Args)]
pub struct Args {
    /// Accepted for editors that pass it (the VS Code client does); standard
    /// input and output are the only transport.
    #[arg(long, hide = true)]
    stdio: bool,
}

pub fn run(_args: &Args) -> anyhow::Result<Exit> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the language server's runtime")?;
    runtime.block_on(flowc_lsp::serve_stdio());
    // The reader of standard input may still be blocked in a read; do not wait
    // for it.
    runtime.shutdown_background();
    Ok(Exit::Success)
}
