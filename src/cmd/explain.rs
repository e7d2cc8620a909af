//! `flowc explain CODE`: print the page that explains a diagnostic code.
//!
//! A diagnostic says in one line what is wrong; its page (kept with the compiler, in
//! `compiler/diagnostics/`) says why, with an example and its fix. Pages are Markdown
//! and are printed as they are, which reads well in a terminal and pipes cleanly into
//! a Markdown viewer; on a terminal the title line is bold.

use super::{BOLD, Exit, error, help};
use flowc_compiler::codes;
use std::io::Write;

pub const AFTER_HELP: &str = "\
Examples:
  flowc explain E0201     the page of E0201
  flowc explain e0201     the same: codes are matched without regard to case
  flowc explain --list    every code with its title";

#[derive(clap::Args)]
pub struct Args {
    /// The code to explain, as printed in a diagnostic: `E0201`.
    #[arg(value_name = "CODE", required_unless_present = "list")]
    code: Option<String>,

    /// List every code with its title instead.
    #[arg(long, conflicts_with = "code")]
    list: bool,
}

pub fn run(args: &Args) -> anyhow::Result<Exit> {
    let mut stdout = anstream::stdout().lock();
    if args.list {
        for page in codes::all() {
            writeln!(stdout, "{BOLD}{}{BOLD:#}  {}", page.code, page.title)?;
        }
        stdout.flush()?;
        return Ok(Exit::Success);
    }
    let code = args.code.as_deref().unwrap_or_default();
    let Some(page) = codes::explain(code) else {
        drop(stdout);
        error(format_args!("unknown diagnostic code `{}`", code.trim()));
        help("`flowc explain --list` shows every code");
        return Ok(Exit::Failure);
    };
    let (title, rest) = page.text.split_once('\n').unwrap_or((page.text, ""));
    writeln!(stdout, "{BOLD}{title}{BOLD:#}")?;
    stdout.write_all(rest.as_bytes())?;
    if !rest.is_empty() && !rest.ends_with('\n') {
        writeln!(stdout)?;
    }
    stdout.flush()?;
    Ok(Exit::Success)
}
