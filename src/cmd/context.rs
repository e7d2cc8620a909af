//! `flowc context get|set`: a workflow's context on a server (the values its
//! runs keep across runs with `set context.KEY = …`), through the admin API.
//!
//! `get` prints the context as one JSON object; `set` changes one key, `null`
//! removing it, in one write (`PATCH /api/v1/workflows/NAME/context`).

use super::api::{self, Target, segment};
use super::emit::read_json;
use super::{Exit, error};
use reqwest::Method;
use serde_json::{Map, Value as Json};

pub const AFTER_HELP: &str = "\
Examples:
  flowc context get sync                   every key of workflow sync's context
  flowc context set sync cursor '\"c-42\"'   one key (the value is JSON: quote strings)
  flowc context set sync limit 100
  flowc context set sync cursor null       remove the key

The server is --server URL, FLOWC_SERVER or http://127.0.0.1:8080; the admin
token comes from --token-file FILE, FLOWC_ADMIN_TOKEN or ./flowc.admin-token.

Exit status: 0 done, 1 the server refused (no active deployment defines the
workflow, a wrong token), 2 bad arguments (a value that is not JSON), no token, or
the server cannot be reached.";

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Print a workflow's context as one JSON object.
    #[command(after_help = AFTER_HELP)]
    Get(GetArgs),

    /// Set one key of a workflow's context; the value `null` removes the key.
    ///
    /// Runs started or woken after the change read the new value; what a run
    /// has already read stays as it was (its reads are journaled).
    #[command(after_help = AFTER_HELP)]
    Set(SetArgs),
}

#[derive(clap::Args)]
struct GetArgs {
    /// The workflow's name.
    #[arg(value_name = "WORKFLOW")]
    workflow: String,

    #[command(flatten)]
    target: Target,
}

#[derive(clap::Args)]
struct SetArgs {
    /// The workflow's name.
    #[arg(value_name = "WORKFLOW")]
    workflow: String,

    /// The key (`cursor` for `context.cursor`).
    #[arg(value_name = "KEY")]
    key: String,

    /// The value: JSON text (`null` removes the key), @FILE, or - for standard
    /// input.
    #[arg(value_name = "JSON|@FILE|-")]
    value: String,

    /// Print the context after the change, as JSON.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    target: Target,
}

pub fn run(args: &Args) -> anyhow::Result<Exit> {
    match &args.command {
        Command::Get(args) => get(args),
        Command::Set(args) => set(args),
    }
}

fn path(workflow: &str) -> String {
    format!("/workflows/{}/context", segment(workflow))
}

fn get(args: &GetArgs) -> anyhow::Result<Exit> {
    let context = match api::call(&args.target, Method::GET, &path(&args.workflow), None)? {
        Ok(context) => context,
        Err(exit) => return Ok(exit),
    };
    api::print(&context)?;
    Ok(Exit::Success)
}

fn set(args: &SetArgs) -> anyhow::Result<Exit> {
    let value = match read_json(&args.value, "the value") {
        Ok(value) => value,
        Err(message) => {
            error(message);
            return Ok(Exit::Failure);
        }
    };
    let removed = value.is_null();
    let body = Json::Object(Map::from_iter([(args.key.clone(), value)]));
    let path = path(&args.workflow);
    let context = match api::call(&args.target, Method::PATCH, &path, Some(&body))? {
        Ok(context) => context,
        Err(exit) => return Ok(exit),
    };
    if args.json {
        api::print(&context)?;
    } else if removed {
        println!("removed context.{} of {}", args.key, args.workflow);
    } else {
        println!("set context.{} of {}", args.key, args.workflow);
    }
    Ok(Exit::Success)
}
