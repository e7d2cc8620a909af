//! `flowc approve RUN` and `flowc reject RUN`: decide the approval a run of a
//! server waits for, through the admin API.
//!
//! A run that reached `step decision = await review`, where `review` is an
//! `approval(…)` handle, waits until someone follows the handle's approve or
//! reject URL, or until an operator decides here. Both commands decide the run's
//! oldest open approval (`POST /api/v1/runs/{id}/approve` or `/reject`); `--by`
//! and `--comment` become the `by` and `comment` the run's `await` yields.

use super::Exit;
use super::api::{self, Target, segment};
use reqwest::Method;
use serde_json::{Map, Value as Json};

pub const APPROVE_HELP: &str = "\
Examples:
  flowc approve 01JB4T0M6V8Q
  flowc approve 01JB4T0M6V8Q --by alice --comment 'refund checked'

The run's `await` yields { approved: true, by, comment }. The server is --server
URL, FLOWC_SERVER or http://127.0.0.1:8080; the admin token comes from
--token-file FILE, FLOWC_ADMIN_TOKEN or ./flowc.admin-token.

Exit status: 0 approved, 1 the server refused (no such run, or it waits for no
approval), 2 bad arguments, no token, or the server cannot be reached.";

pub const REJECT_HELP: &str = "\
Examples:
  flowc reject 01JB4T0M6V8Q
  flowc reject 01JB4T0M6V8Q --by alice --comment 'amount too high'

The run's `await` yields { approved: false, by, comment }. The server is --server
URL, FLOWC_SERVER or http://127.0.0.1:8080; the admin token comes from
--token-file FILE, FLOWC_ADMIN_TOKEN or ./flowc.admin-token.

Exit status: 0 rejected, 1 the server refused (no such run, or it waits for no
approval), 2 bad arguments, no token, or the server cannot be reached.";

#[derive(clap::Args)]
pub struct Args {
    /// The run's id.
    #[arg(value_name = "RUN")]
    run: String,

    /// Who decides, as the run sees it (`decision.by`).
    #[arg(long, value_name = "NAME")]
    by: Option<String>,

    /// Why, as the run sees it (`decision.comment`).
    #[arg(long, value_name = "TEXT")]
    comment: Option<String>,

    /// Print the API's JSON answer (`{"run_id", "step", "approved"}`).
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    target: Target,
}

/// `flowc approve` (`approved`) or `flowc reject`.
pub fn run(args: &Args, approved: bool) -> anyhow::Result<Exit> {
    let mut body = Map::new();
    if let Some(by) = &args.by {
        body.insert("by".into(), Json::String(by.clone()));
    }
    if let Some(comment) = &args.comment {
        body.insert("comment".into(), Json::String(comment.clone()));
    }
    let action = if approved { "approve" } else { "reject" };
    let path = format!("/runs/{}/{action}", segment(&args.run));
    let body = Json::Object(body);
    let answer = match api::call(&args.target, Method::POST, &path, Some(&body))? {
        Ok(answer) => answer,
        Err(exit) => return Ok(exit),
    };
    if args.json {
        api::print(&answer)?;
        return Ok(Exit::Success);
    }
    let run = answer
        .get("run_id")
        .and_then(Json::as_str)
        .unwrap_or(&args.run);
    let done = if approved { "approved" } else { "rejected" };
    match answer.get("step").and_then(Json::as_str) {
        Some(step) => println!("{done} run {run} (step {step})"),
        None => println!("{done} run {run}"),
    }
    Ok(Exit::Success)
}
