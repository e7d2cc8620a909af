//! `flowc secrets set|list|rm`: the vault of a database, from the command line.
//!
//! Workflows refer to secrets as `secrets.NAME`; their values live encrypted in
//! the database (see `flowc_runtime::vault`) under the master key next to it. A
//! value is read from standard input or from a prompt that does not echo, never
//! from the arguments, which other users of the machine can see and shells
//! remember. Nothing here prints a value: `list` shows names and when each was
//! set. The commands talk to the database directly, so they work with or without
//! a server running on it.

use super::local::{self, DEFAULT_DB};
use super::present::{self, Table};
use super::{Exit, error, help, io_message};
use anyhow::Context as _;
use flowc_runtime::clock::{Clock as _, SystemClock};
use flowc_runtime::vault::{self, SecretString, Vault};
use std::io::{self, IsTerminal as _, Read as _, Write as _};
use std::path::PathBuf;

pub const AFTER_HELP: &str = "\
Examples:
  flowc secrets set STRIPE_KEY               prompt for the value (not echoed)
  printf %s \"$KEY\" | flowc secrets set STRIPE_KEY
                                             the value from standard input
  flowc secrets list                         names and when each was set
  flowc secrets list --json --db /var/lib/flowc/flowc.db
  flowc secrets rm STRIPE_KEY

Values are encrypted with the master key in <db>.key (created, mode 0600, by the
first command that needs it) or FLOWC_MASTER_KEY. A server running on the same
database sees a new value at its next use.

Exit status: 0 done, 1 `rm` of a secret that does not exist, 2 bad arguments
(an invalid name, an empty value), or a database or key that cannot be used.";

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Store a secret's value, replacing any earlier one.
    ///
    /// The value is read from standard input when it is not a terminal (one
    /// trailing newline is dropped), otherwise from a prompt that does not echo.
    /// NAME is what workflows write after `secrets.`: a letter or `_`, then
    /// letters, digits or `_`.
    #[command(after_help = SET_HELP)]
    Set {
        /// The secret's name, as in `secrets.NAME`.
        name: String,
        #[command(flatten)]
        db: Db,
    },

    /// List the stored secrets: names and when each was set, never values.
    #[command(after_help = LIST_HELP)]
    List {
        #[command(flatten)]
        db: Db,
        /// Print `{"secrets": [{"name", "updated_at"}]}` (milliseconds since the
        /// epoch) instead of a table.
        #[arg(long)]
        json: bool,
    },

    /// Remove a secret.
    #[command(after_help = RM_HELP)]
    Rm {
        /// The secret's name.
        name: String,
        #[command(flatten)]
        db: Db,
    },
}

const SET_HELP: &str = "\
Examples:
  flowc secrets set STRIPE_KEY                       prompt for the value
  flowc secrets set STRIPE_KEY < key.txt             from a file
  vault read -field=key secret/stripe | flowc secrets set STRIPE_KEY

Exit status: 0 stored, 2 an invalid name, an empty value, or a database or key
that cannot be used.";

const LIST_HELP: &str = "\
Examples:
  flowc secrets list
  flowc secrets list --json | jq -r '.secrets[].name'

Exit status: 0 listed, 2 no such database, or one that cannot be read.";

const RM_HELP: &str = "\
Examples:
  flowc secrets rm STRIPE_KEY
  flowc secrets rm STRIPE_KEY --db /var/lib/flowc/flowc.db

Exit status: 0 removed, 1 there was no such secret, 2 an invalid name or a
database that cannot be used.";

/// The database option every subcommand takes.
#[derive(clap::Args)]
struct Db {
    /// The SQLite database whose vault to use.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_DB)]
    db: PathBuf,
}

pub fn run(args: &Args) -> anyhow::Result<Exit> {
    match &args.command {
        Command::Set { name, db } => set(name, &db.db),
        Command::List { db, json } => list(&db.db, *json),
        Command::Rm { name, db } => remove(name, &db.db),
    }
}

fn set(name: &str, db: &std::path::Path) -> anyhow::Result<Exit> {
    if let Err(err) = vault::validate_name(name) {
        error(err);
        return Ok(Exit::Failure);
    }
    let value = match read_value(name) {
        Ok(value) => value,
        Err(message) => {
            error(message);
            return Ok(Exit::Failure);
        }
    };
    if value.is_empty() {
        error(format_args!(
            "the value of `{name}` is empty; nothing stored"
        ));
        return Ok(Exit::Failure);
    }
    let Some(store) = local::open_store(db) else {
        return Ok(Exit::Failure);
    };
    let Some(key) = local::master_key(db) else {
        return Ok(Exit::Failure);
    };
    super::api::block_on(async {
        let existed = match store.get_secret(name).await {
            Ok(found) => found.is_some(),
            Err(err) => {
                error(format_args!("cannot read {}: {err}", db.display()));
                return Ok(Exit::Failure);
            }
        };
        let vault = Vault::new(&key, std::sync::Arc::clone(&store));
        if let Err(err) = vault.set(name, &value).await {
            error(format_args!("cannot store `{name}`: {err}"));
            return Ok(Exit::Failure);
        }
        let verb = if existed { "replaced" } else { "stored" };
        println!("{verb} secret `{name}` in {}", db.display());
        Ok(Exit::Success)
    })?
}

/// The value from standard input, or from a prompt without echo on a terminal.
fn read_value(name: &str) -> Result<SecretString, String> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        let value = rpassword::prompt_password(format!("value of {name}: "))
            .map_err(|err| format!("cannot read the value: {}", io_message(&err)))?;
        return Ok(SecretString::new(value));
    }
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    stdin.lock().read_to_end(&mut bytes).map_err(|err| {
        format!(
            "cannot read the value from standard input: {}",
            io_message(&err)
        )
    })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| "the value on standard input is not valid UTF-8".to_owned())?;
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text);
    Ok(SecretString::new(text))
}

fn list(db: &std::path::Path, json: bool) -> anyhow::Result<Exit> {
    let Some(store) = local::open_existing_store(db) else {
        return Ok(Exit::Failure);
    };
    let secrets = match super::api::block_on(store.list_secrets())? {
        Ok(secrets) => secrets,
        Err(err) => {
            error(format_args!("cannot read {}: {err}", db.display()));
            return Ok(Exit::Failure);
        }
    };
    let mut stdout = anstream::stdout().lock();
    if json {
        let text = serde_json::to_string_pretty(&serde_json::json!({ "secrets": secrets }))
            .context("cannot write JSON")?;
        writeln!(stdout, "{text}").context("cannot write to standard output")?;
        return Ok(Exit::Success);
    }
    if secrets.is_empty() {
        super::note(format_args!("no secrets in {}", db.display()));
        return Ok(Exit::Success);
    }
    let now = SystemClock.now_ms();
    let mut table = Table::new(vec!["NAME", "SET"]);
    for secret in &secrets {
        let when = format!(
            "{} ({})",
            present::instant(secret.updated_at),
            present::ago(secret.updated_at, now)
        );
        table.row(vec![
            (secret.name.clone(), anstyle::Style::new()),
            (when, present::DIM),
        ]);
    }
    write!(stdout, "{}", table.render()).context("cannot write to standard output")?;
    Ok(Exit::Success)
}

fn remove(name: &str, db: &std::path::Path) -> anyhow::Result<Exit> {
    if let Err(err) = vault::validate_name(name) {
        error(err);
        return Ok(Exit::Failure);
    }
    let Some(store) = local::open_existing_store(db) else {
        return Ok(Exit::Failure);
    };
    match super::api::block_on(store.delete_secret(name))? {
        Ok(true) => {
            println!("removed secret `{name}` from {}", db.display());
            Ok(Exit::Success)
        }
        Ok(false) => {
            error(format_args!("no secret `{name}` in {}", db.display()));
            help("`flowc secrets list` shows the names there are");
            Ok(Exit::Diagnostics)
        }
        Err(err) => {
            error(format_args!("cannot remove `{name}`: {err}"));
            Ok(Exit::Failure)
        }
    }
}
