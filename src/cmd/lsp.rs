//! `flowc lsp`: the language server over standard input and output.
//!
//! (to be written)

use super::Exit;

pub const AFTER_HELP: &str = "";

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: &Args) -> anyhow::Result<Exit> {
    Ok(Exit::Success)
}
