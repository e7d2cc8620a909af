//! `flowc webhooks deliveries [PATH]`: the delivery history of a server's
//! webhooks, through its admin API.
//!
//! When a provider says "we sent it", this is where to look: every request that
//! reached a webhook, accepted, mapped to an earlier run (duplicate) or refused,
//! with the status it got, why it was refused, the provider's delivery id and the
//! run it started. Requests to unknown paths are not recorded by the server, so
//! they are not here. `--json` prints the API's own JSON.

use super::api::{self, Client, Target};
use super::present::{self, BAD, BUSY, DIM, GOOD, Table};
use super::{Exit, note};
use anstyle::Style;
use anyhow::Context as _;
use flowc_runtime::clock::{Clock as _, SystemClock};
use serde_json::{Value as Json, json};
use std::io::{IsTerminal as _, Write as _};

pub const AFTER_HELP: &str = "\
Examples:
  flowc webhooks deliveries                     the 20 newest deliveries to any webhook
  flowc webhooks deliveries /github/push        those to one path
  flowc webhooks deliveries --outcome rejected  the refused ones, with their reasons
  flowc webhooks deliveries --all --json | jq '.deliveries[] | select(.delivery_id == \"d-1\")'

The server is --server URL, FLOWC_SERVER or http://127.0.0.1:8080; the admin
token comes from --token-file FILE, FLOWC_ADMIN_TOKEN or ./flowc.admin-token.";

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// List the deliveries to the server's webhooks, newest first.
    ///
    /// A table of when each request came, its outcome (accepted: it started a
    /// run; duplicate: its provider delivery id or idempotency key mapped it to
    /// an earlier run; rejected: refused, no run), the status it was answered,
    /// the path, the provider's delivery id, the run, and the reason of a
    /// refusal (`signature mismatch`, `timestamp outside the 300 s window`, ...).
    /// The server keeps deliveries for `flowc serve --delivery-retention` days
    /// (7 by default) and never records requests to unknown paths.
    #[command(after_help = DELIVERIES_HELP)]
    Deliveries(DeliveriesArgs),
}

const DELIVERIES_HELP: &str = "\
Examples:
  flowc webhooks deliveries
  flowc webhooks deliveries /stripe/events --outcome rejected
  flowc webhooks deliveries --all --json

Exit status: 0 listed (even none), 1 the server refused, 2 bad arguments, no token,
or the server cannot be reached.";

const OUTCOMES: [&str; 3] = ["accepted", "duplicate", "rejected"];

#[derive(clap::Args)]
struct DeliveriesArgs {
    /// Only deliveries to this webhook path (as declared: `/github/push`).
    #[arg(value_name = "PATH")]
    path: Option<String>,

    /// Only deliveries with this outcome.
    #[arg(long, value_name = "OUTCOME", value_parser = OUTCOMES)]
    outcome: Option<String>,

    /// How many deliveries to ask for per page.
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=500))]
    limit: u32,

    /// Follow the pages to the end instead of stopping after the first.
    #[arg(long)]
    all: bool,

    /// Print the API's JSON (`{"deliveries": [...], "next": ...}`); with --all,
    /// one object with every delivery and `"next": null`.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    target: Target,
}

pub fn run(args: &Args) -> anyhow::Result<Exit> {
    match &args.command {
        Command::Deliveries(args) => deliveries(args),
    }
}

fn deliveries(args: &DeliveriesArgs) -> anyhow::Result<Exit> {
    let client = match Client::new(&args.target) {
        Ok(client) => client,
        Err(err) => return Ok(err.report()),
    };
    let filters = [
        ("path", args.path.clone()),
        ("outcome", args.outcome.clone()),
        ("limit", Some(args.limit.to_string())),
    ];
    let fetched =
        api::block_on(client.pages("/webhooks/deliveries", "deliveries", &filters, args.all))?;
    let (deliveries, next) = match fetched {
        Ok(fetched) => fetched,
        Err(err) => return Ok(err.report()),
    };
    let mut stdout = anstream::stdout().lock();
    if args.json {
        let text = serde_json::to_string_pretty(&json!({ "deliveries": deliveries, "next": next }))
            .context("cannot write JSON")?;
        writeln!(stdout, "{text}").context("cannot write to standard output")?;
        return Ok(Exit::Success);
    }
    if deliveries.is_empty() {
        note(match &args.path {
            Some(path) => format!("no deliveries to {path}"),
            None => "no deliveries".to_owned(),
        });
        return Ok(Exit::Success);
    }
    let relative = std::io::stdout().is_terminal();
    let now = SystemClock.now_ms();
    let mut table = Table::new(vec![
        "RECEIVED", "OUTCOME", "STATUS", "METHOD", "PATH", "DELIVERY", "RUN", "REASON",
    ]);
    for delivery in &deliveries {
        let received = match delivery.get("received_at").and_then(Json::as_i64) {
            Some(at) if relative => present::ago(at, now),
            Some(at) => present::instant(at),
            None => "-".to_owned(),
        };
        let outcome = text(delivery, "outcome");
        let style = match outcome.as_str() {
            "accepted" => GOOD,
            "duplicate" => BUSY,
            "rejected" => BAD,
            _ => Style::new(),
        };
        let status = delivery
            .get("status")
            .and_then(Json::as_u64)
            .map_or_else(|| "-".to_owned(), |status| status.to_string());
        table.row(vec![
            (received, Style::new()),
            (outcome, style),
            (status, Style::new()),
            (text(delivery, "method"), Style::new()),
            (text(delivery, "path"), Style::new()),
            (text(delivery, "delivery_id"), DIM),
            (text(delivery, "run"), Style::new()),
            (text(delivery, "reason"), Style::new()),
        ]);
    }
    write!(stdout, "{}", table.render()).context("cannot write to standard output")?;
    drop(stdout);
    if let Some(cursor) = next {
        note(format_args!(
            "{} deliveries shown; there are more (--all follows every page, next cursor {cursor})",
            deliveries.len()
        ));
    }
    Ok(Exit::Success)
}

/// A string field, or `-` when it is absent or null.
fn text(value: &Json, field: &str) -> String {
    value
        .get(field)
        .and_then(Json::as_str)
        .filter(|text| !text.is_empty())
        .map_or_else(|| "-".to_owned(), str::to_owned)
}
