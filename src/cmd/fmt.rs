//! `flowc fmt`: rewrite .flow files in the one canonical layout.
//!
//! (to be written)

use super::Exit;

pub const AFTER_HELP: &str = "";

#[derive(clap::Args)]
pub struct Args {
    /// Files or directories to format; `-` formats standard input to standard output.
    #[arg(value_name = "PATH")]
    paths: Vec<std::path::PathBuf>,
}

pub fn run(_args: &Args) -> anyhow::Result<Exit> {
    Ok(Exit::Success)
}
