//! `flowc runs list|show|retry|replay|cancel|pause|resume`: the runs of a
//! server, through its admin API.
//!
//! This is where an operator looks when something went wrong: `list` finds the
//! run, `show` prints everything the journal knows about it (every step attempt
//! with its input, output, error and timing), and `retry`, `replay`, `cancel`,
//! `pause` and `resume` act on it; `cancel` and `retry` also take every run of a
//! workflow at once (`--workflow`). The human output is for reading; `--json` prints the API's own JSON
//! for scripts, so the two never have to agree on a format.

use super::api::{self, Client, Target, segment};
use super::present::{self, Table};
use super::{Exit, error, note, read_json_arg};
use anstyle::Style;
use anyhow::Context as _;
use flowc_runtime::clock::{Clock as _, SystemClock};
use reqwest::Method;
use serde_json::{Value as Json, json};
use std::io::{IsTerminal as _, Write as _};

pub const AFTER_HELP: &str = "\
Examples:
  flowc runs list                       the 20 newest runs
  flowc runs list --workflow order --status failed --all
  flowc runs show 01JB4T0M6V8Q          one run, every step's input and output
  flowc runs retry 01JB4T0M6V8Q         a failed run again, from its failed step
  flowc runs replay 01JB4T0M6V8Q --input @fixed.json
  flowc runs cancel 01JB4T0M6V8Q
  flowc runs cancel --workflow order --status waiting
  flowc runs retry --workflow order          every failed run of order
  flowc runs pause 01JB4T0M6V8Q

The server is --server URL, FLOWC_SERVER or http://127.0.0.1:8080; the admin
token comes from --token-file FILE, FLOWC_ADMIN_TOKEN or ./flowc.admin-token.

Exit status: 0 done, 1 the server refused (an unknown run, a run that cannot be
retried or cancelled, a wrong token), 2 bad arguments, no token, or the server
cannot be reached.";

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// List runs, newest first.
    ///
    /// A table of id, workflow, status, what started the run, when, and how long it
    /// took (so far, for a run still under way). On a terminal times are relative
    /// ("5m ago"); otherwise they are RFC 3339 in UTC.
    #[command(after_help = LIST_HELP)]
    List(ListArgs),

    /// Show one run and every step of it.
    ///
    /// The run's workflow, deployment, status, trigger, input, output or error and
    /// timings, then each step attempt in the order it started: status, duration,
    /// its input and output as indented JSON, and its error.
    #[command(after_help = SHOW_HELP)]
    Show(ShowArgs),

    /// Run a failed run again from its failed step, or every failed run of a
    /// workflow (--workflow).
    ///
    /// The steps that succeeded keep their results and are not performed again;
    /// the step that failed is attempted anew. Only a failed run can be retried.
    #[command(after_help = RETRY_HELP)]
    Retry(RetryArgs),

    /// Start a new run of the same workflow with the same input, or another.
    ///
    /// The new run uses the deployment the old one ran on, starts from the top and
    /// journals its own steps; the old run is left as it is.
    #[command(after_help = REPLAY_HELP)]
    Replay(ReplayArgs),

    /// Cancel a run that has not finished, or every such run of a workflow
    /// (--workflow, optionally --status).
    #[command(after_help = CANCEL_HELP)]
    Cancel(CancelArgs),

    /// Pause a run: it starts no new step until resumed.
    ///
    /// A step under way finishes first; a run waiting for a timer, an event or
    /// a callback stays parked and, once woken, stops before its next step.
    #[command(after_help = PAUSE_HELP)]
    Pause(ActArgs),

    /// Resume a paused run from where it stopped.
    #[command(after_help = PAUSE_HELP)]
    Resume(ActArgs),
}

const LIST_HELP: &str = "\
Examples:
  flowc runs list
  flowc runs list --workflow order --status failed
  flowc runs list --all --json | jq -r '.runs[].id'

Exit status: 0 listed (even none), 1 the server refused, 2 bad arguments, no token,
or the server cannot be reached.";

const SHOW_HELP: &str = "\
Examples:
  flowc runs show 01JB4T0M6V8Q
  flowc runs show 01JB4T0M6V8Q --json | jq '.steps[] | select(.status == \"failed\")'

Exit status: 0 shown, 1 no such run (or another refusal), 2 bad arguments, no
token, or the server cannot be reached.";

const RETRY_HELP: &str = "\
Examples:
  flowc runs retry 01JB4T0M6V8Q
  flowc runs retry 01JB4T0M6V8Q --json
  flowc runs retry --workflow order         every failed run of order

Exit status: 0 the retry is under way (with --workflow: for every failed run, even
none), 1 no such run or it has not failed, 2 bad arguments, no token, or the server
cannot be reached.";

const REPLAY_HELP: &str = "\
Examples:
  flowc runs replay 01JB4T0M6V8Q                         the same input
  flowc runs replay 01JB4T0M6V8Q --input '{\"id\": \"o-8\"}'
  flowc runs replay 01JB4T0M6V8Q --input @order.json     the input from a file
  jq '.amount = 5' order.json | flowc runs replay 01JB4T0M6V8Q --input -

Exit status: 0 the new run is started (its id is printed), 1 the server refused
(no such run, an input of the wrong type), 2 bad arguments (input that is not
JSON), no token, or the server cannot be reached.";

const CANCEL_HELP: &str = "\
Examples:
  flowc runs cancel 01JB4T0M6V8Q
  flowc runs cancel --workflow order                   every run of order not yet ended
  flowc runs cancel --workflow order --status waiting  only the parked ones

Exit status: 0 cancelled (with --workflow: every matching run, even none), 1 no
such run or it has already finished, 2 bad arguments, no token, or the server
cannot be reached.";

const PAUSE_HELP: &str = "\
Examples:
  flowc runs pause 01JB4T0M6V8Q
  flowc runs resume 01JB4T0M6V8Q

Exit status: 0 done, 1 no such run or it has already finished, 2 bad arguments, no
token, or the server cannot be reached.";

/// The statuses of runs that have not ended: what a bulk cancel may select.
const UNFINISHED: [&str; 3] = ["pending", "running", "waiting"];

const STATUSES: [&str; 6] = [
    "pending",
    "running",
    "waiting",
    "succeeded",
    "failed",
    "cancelled",
];

#[derive(clap::Args)]
struct ListArgs {
    /// Only runs of this workflow.
    #[arg(long, value_name = "NAME")]
    workflow: Option<String>,

    /// Only runs with this status.
    #[arg(long, value_name = "STATUS", value_parser = STATUSES)]
    status: Option<String>,

    /// Only runs of this deployment (its id).
    #[arg(long, value_name = "ID")]
    deployment: Option<String>,

    /// How many runs to ask for per page.
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    limit: u32,

    /// Follow the pages to the end instead of stopping after the first.
    #[arg(long)]
    all: bool,

    /// Print the API's JSON (`{"runs": [...], "next": ...}`); with --all, one
    /// object with every run and `"next": null`.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    target: Target,
}

#[derive(clap::Args)]
struct ShowArgs {
    /// The run's id.
    #[arg(value_name = "ID")]
    id: String,

    /// Print the API's JSON (`{"run": ..., "steps": [...]}`).
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    target: Target,
}

#[derive(clap::Args)]
struct ActArgs {
    /// The run's id.
    #[arg(value_name = "ID")]
    id: String,

    /// Print the API's JSON answer.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    target: Target,
}

#[derive(clap::Args)]
struct CancelArgs {
    /// The run's id; or --workflow for every run of a workflow.
    #[arg(
        value_name = "ID",
        required_unless_present = "workflow",
        conflicts_with = "workflow"
    )]
    id: Option<String>,

    /// Cancel every run of this workflow that has not ended.
    #[arg(long, value_name = "NAME")]
    workflow: Option<String>,

    /// With --workflow: only the runs with this status.
    #[arg(long, value_name = "STATUS", requires = "workflow", value_parser = UNFINISHED)]
    status: Option<String>,

    /// Print the API's JSON answer.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    target: Target,
}

#[derive(clap::Args)]
struct RetryArgs {
    /// The run's id; or --workflow for every failed run of a workflow.
    #[arg(
        value_name = "ID",
        required_unless_present = "workflow",
        conflicts_with = "workflow"
    )]
    id: Option<String>,

    /// Retry every failed run of this workflow.
    #[arg(long, value_name = "NAME")]
    workflow: Option<String>,

    /// Print the API's JSON answer.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    target: Target,
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// The run's id.
    #[arg(value_name = "ID")]
    id: String,

    /// The new run's input: JSON text, @FILE for a file, or - for standard input.
    /// The old run's input when absent.
    #[arg(long, value_name = "JSON|@FILE|-")]
    input: Option<String>,

    /// Print the API's JSON answer.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    target: Target,
}

pub fn run(args: &Args) -> anyhow::Result<Exit> {
    match &args.command {
        Command::List(args) => list(args),
        Command::Show(args) => show(args),
        Command::Retry(args) => match &args.id {
            Some(id) => act(id, args.json, &args.target, "retry"),
            None => bulk(
                args.workflow.as_deref(),
                None,
                args.json,
                &args.target,
                "retry",
            ),
        },
        Command::Cancel(args) => match &args.id {
            Some(id) => act(id, args.json, &args.target, "cancel"),
            None => bulk(
                args.workflow.as_deref(),
                args.status.as_deref(),
                args.json,
                &args.target,
                "cancel",
            ),
        },
        Command::Pause(args) => act(&args.id, args.json, &args.target, "pause"),
        Command::Resume(args) => act(&args.id, args.json, &args.target, "resume"),
        Command::Replay(args) => replay(args),
    }
}

fn client(target: &Target) -> Result<Client, Exit> {
    Client::new(target).map_err(|err| err.report())
}

fn list(args: &ListArgs) -> anyhow::Result<Exit> {
    let client = match client(&args.target) {
        Ok(client) => client,
        Err(exit) => return Ok(exit),
    };
    let filters = [
        ("workflow", args.workflow.clone()),
        ("status", args.status.clone()),
        ("deployment", args.deployment.clone()),
        ("limit", Some(args.limit.to_string())),
    ];
    let fetched = api::block_on(client.pages("/runs", "runs", &filters, args.all))?;
    let (runs, next) = match fetched {
        Ok(fetched) => fetched,
        Err(err) => return Ok(err.report()),
    };
    let mut stdout = anstream::stdout().lock();
    if args.json {
        let text = serde_json::to_string_pretty(&json!({ "runs": runs, "next": next }))
            .context("cannot write JSON")?;
        writeln!(stdout, "{text}").context("cannot write to standard output")?;
        return Ok(Exit::Success);
    }
    if runs.is_empty() {
        note("no runs");
        return Ok(Exit::Success);
    }
    let relative = std::io::stdout().is_terminal();
    let now = SystemClock.now_ms();
    let mut table = Table::new(vec![
        "ID", "WORKFLOW", "STATUS", "TRIGGER", "STARTED", "DURATION",
    ]);
    for run in &runs {
        let status = text(run, "status");
        let created = number(run, "created_at");
        let started = match created {
            Some(at) if relative => present::ago(at, now),
            Some(at) => present::instant(at),
            None => "-".to_owned(),
        };
        table.row(vec![
            (text(run, "id"), Style::new()),
            (text(run, "workflow"), Style::new()),
            (status.clone(), present::status_style(&status)),
            (text(run, "trigger"), Style::new()),
            (started, Style::new()),
            (run_duration(run, now), Style::new()),
        ]);
    }
    write!(stdout, "{}", table.render()).context("cannot write to standard output")?;
    drop(stdout);
    if let Some(cursor) = next {
        note(format_args!(
            "{} runs shown; there are more (--all follows every page, next cursor {cursor})",
            runs.len()
        ));
    }
    Ok(Exit::Success)
}

fn show(args: &ShowArgs) -> anyhow::Result<Exit> {
    let client = match client(&args.target) {
        Ok(client) => client,
        Err(exit) => return Ok(exit),
    };
    let fetched = api::block_on(async {
        let mut detail = client.get(&format!("/runs/{}", segment(&args.id))).await?;
        // The run names its deployment by id; people know deployments by their
        // version, which the deployment's own record has. Without it the id is
        // shown, so a failure here is no reason to fail the command.
        if !args.json {
            let deployment = detail
                .get("run")
                .and_then(|run| run.get("deployment"))
                .and_then(Json::as_str)
                .map(str::to_owned);
            if let Some(deployment) = deployment {
                let path = format!("/deployments/{}", segment(&deployment));
                if let (Ok(summary), Some(object)) =
                    (client.get(&path).await, detail.as_object_mut())
                {
                    object.insert("deployment".to_owned(), summary);
                }
            }
        }
        Ok::<_, api::Error>(detail)
    })?;
    let detail = match fetched {
        Ok(detail) => detail,
        Err(err) => return Ok(err.report()),
    };
    let mut stdout = anstream::stdout().lock();
    let text = if args.json {
        let mut text = serde_json::to_string_pretty(&detail).context("cannot write JSON")?;
        text.push('\n');
        text
    } else {
        render_detail(&detail, SystemClock.now_ms())
    };
    write!(stdout, "{text}").context("cannot write to standard output")?;
    Ok(Exit::Success)
}

fn act(id: &str, json: bool, target: &Target, action: &str) -> anyhow::Result<Exit> {
    let path = format!("/runs/{}/{action}", segment(id));
    let answer = match api::call(target, Method::POST, &path, None)? {
        Ok(answer) => answer,
        Err(exit) => return Ok(exit),
    };
    if json {
        api::print(&answer)?;
        return Ok(Exit::Success);
    }
    let run = answer.get("run_id").and_then(Json::as_str).unwrap_or(id);
    match action {
        "retry" => println!("retrying run {run} from its failed step"),
        "pause" => println!("paused run {run}: it starts no new step until resumed"),
        "resume" => println!("resumed run {run}"),
        _ => println!("cancelled run {run}"),
    }
    Ok(Exit::Success)
}

/// `cancel` or `retry` of every run of `workflow` (with `status`), through
/// `POST /runs/{action}`: one line, then the runs' ids.
fn bulk(
    workflow: Option<&str>,
    status: Option<&str>,
    json: bool,
    target: &Target,
    action: &str,
) -> anyhow::Result<Exit> {
    let mut filter = serde_json::Map::new();
    if let Some(workflow) = workflow {
        filter.insert("workflow".into(), Json::String(workflow.to_owned()));
    }
    if let Some(status) = status {
        filter.insert("status".into(), Json::String(status.to_owned()));
    }
    let body = Json::Object(filter);
    let path = format!("/runs/{action}");
    let answer = match api::call(target, Method::POST, &path, Some(&body))? {
        Ok(answer) => answer,
        Err(exit) => return Ok(exit),
    };
    if json {
        api::print(&answer)?;
        return Ok(Exit::Success);
    }
    let runs: Vec<&str> = answer
        .get("runs")
        .and_then(Json::as_array)
        .map(|runs| runs.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let of = workflow.map_or_else(String::new, |workflow| format!(" of {workflow}"));
    if runs.is_empty() {
        let which = if action == "retry" {
            "failed run"
        } else {
            "run to cancel"
        };
        note(format_args!("no {which}{of}"));
        return Ok(Exit::Success);
    }
    let verb = if action == "retry" {
        "retrying"
    } else {
        "cancelled"
    };
    let plural = if runs.len() == 1 { "" } else { "s" };
    println!("{verb} {} run{plural}{of}", runs.len());
    for run in runs {
        println!("  {run}");
    }
    Ok(Exit::Success)
}

fn replay(args: &ReplayArgs) -> anyhow::Result<Exit> {
    let input = match &args.input {
        Some(spec) => match read_input(spec) {
            Ok(input) => Some(input),
            Err(message) => {
                error(message);
                return Ok(Exit::Failure);
            }
        },
        None => None,
    };
    let body = input.map(|input| json!({ "input": input }));
    let path = format!("/runs/{}/replay", segment(&args.id));
    let answer = match api::call(&args.target, Method::POST, &path, body.as_ref())? {
        Ok(answer) => answer,
        Err(exit) => return Ok(exit),
    };
    if args.json {
        api::print(&answer)?;
        return Ok(Exit::Success);
    }
    let new = answer.get("run_id").and_then(Json::as_str).unwrap_or("?");
    println!("started run {new}, a replay of {}", args.id);
    Ok(Exit::Success)
}

/// An input given as JSON text, `@FILE` or `-` (standard input), parsed. The
/// error names where the text came from.
pub fn read_input(spec: &str) -> Result<Json, String> {
    read_json_arg(spec, |from| from.unwrap_or("--input").to_owned())
}

/// The text of a string field, `-` when absent.
fn text(json: &Json, field: &str) -> String {
    match json.get(field) {
        Some(Json::String(text)) => text.clone(),
        Some(Json::Null) | None => "-".to_owned(),
        Some(other) => other.to_string(),
    }
}

fn number(json: &Json, field: &str) -> Option<i64> {
    json.get(field).and_then(Json::as_i64)
}

fn is_finished(status: &str) -> bool {
    matches!(status, "succeeded" | "failed" | "cancelled")
}

/// How long a run took, or has taken so far (`12s…`) when it is under way.
fn run_duration(run: &Json, now: i64) -> String {
    let status = text(run, "status");
    match (number(run, "created_at"), number(run, "updated_at")) {
        (Some(start), Some(end)) if is_finished(&status) => present::duration(end - start),
        (Some(start), _) => format!("{}…", present::duration(now - start)),
        _ => "-".to_owned(),
    }
}

/// The deployment a run is pinned to, with its version when the answer has it
/// (as `deployment_version`, or a `deployment` object with `id` and `version`).
fn deployment_label(detail: &Json, run: &Json) -> String {
    let version = number(run, "deployment_version")
        .or_else(|| {
            run.get("deployment")
                .and_then(|d| d.get("version"))
                .and_then(Json::as_i64)
        })
        .or_else(|| {
            detail
                .get("deployment")
                .and_then(|d| d.get("version"))
                .and_then(Json::as_i64)
        });
    let id = match run.get("deployment") {
        Some(Json::Object(object)) => object
            .get("id")
            .and_then(Json::as_str)
            .unwrap_or("-")
            .to_owned(),
        _ => text(run, "deployment"),
    };
    match version {
        Some(version) => format!("version {version} ({id})"),
        None => id,
    }
}

/// A run or step error, `{code, kind, message, step?, status?}`, on one line:
/// `R0104: the server answered 500 (step `charge`, HTTP 500)`.
pub fn error_line(error: &Json) -> String {
    let Some(message) = error.get("message").and_then(Json::as_str) else {
        return error.to_string();
    };
    let mut line = match error.get("code").and_then(Json::as_str) {
        Some(code) => format!("{code}: {message}"),
        None => message.to_owned(),
    };
    let mut context = Vec::new();
    if let Some(step) = error.get("step").and_then(Json::as_str) {
        context.push(format!("step `{step}`"));
    }
    if let Some(status) = error.get("status").and_then(Json::as_u64) {
        context.push(format!("HTTP {status}"));
    }
    if !context.is_empty() {
        line.push_str(&format!(" ({})", context.join(", ")));
    }
    line
}

const LABEL_WIDTH: usize = 11;

fn field(out: &mut String, label: &str, value: impl std::fmt::Display) {
    let bold = super::BOLD;
    out.push_str(&format!("{bold}{label:<LABEL_WIDTH$}{bold:#} {value}\n"));
}

fn block(out: &mut String, label: &str, value: &Json, indent: usize) {
    let bold = super::BOLD;
    out.push_str(&format!(
        "{}{bold}{label}{bold:#}\n{}\n",
        " ".repeat(indent),
        present::json_block(value, indent + 2)
    ));
}

/// The human form of `GET /runs/{id}`: the run, then every step.
fn render_detail(detail: &Json, now: i64) -> String {
    let null = Json::Null;
    let run = detail.get("run").unwrap_or(&null);
    let mut out = String::new();
    let status = text(run, "status");
    let style = present::status_style(&status);
    field(&mut out, "run", text(run, "id"));
    field(&mut out, "workflow", text(run, "workflow"));
    field(&mut out, "deployment", deployment_label(detail, run));
    field(&mut out, "status", format_args!("{style}{status}{style:#}"));
    field(&mut out, "trigger", text(run, "trigger"));
    if let Some(key) = run.get("idempotency_key").and_then(Json::as_str) {
        field(&mut out, "key", key);
    }
    if let Some(created) = number(run, "created_at") {
        field(
            &mut out,
            "started",
            format_args!(
                "{} ({})",
                present::instant(created),
                present::ago(created, now)
            ),
        );
        if let Some(updated) = number(run, "updated_at") {
            if is_finished(&status) {
                field(
                    &mut out,
                    "finished",
                    format_args!(
                        "{} (took {})",
                        present::instant(updated),
                        present::duration(updated - created)
                    ),
                );
            } else {
                field(
                    &mut out,
                    "updated",
                    format_args!(
                        "{} (running for {})",
                        present::instant(updated),
                        present::duration(now - created)
                    ),
                );
            }
        }
    }
    block(&mut out, "input", run.get("input").unwrap_or(&null), 0);
    match (run.get("output"), run.get("error")) {
        (_, Some(err)) if !err.is_null() => {
            let bad = present::BAD;
            field(
                &mut out,
                "error",
                format_args!("{bad}{}{bad:#}", error_line(err)),
            );
        }
        (Some(output), _) if !output.is_null() || status == "succeeded" => {
            block(&mut out, "output", output, 0);
        }
        _ => {}
    }

    for wait in detail
        .get("waits")
        .and_then(Json::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter(|wait| text(wait, "status") == "open" && text(wait, "kind") != "deadline")
    {
        field(&mut out, "waiting", describe_wait(wait, now));
    }

    let steps: &[Json] = detail
        .get("steps")
        .and_then(Json::as_array)
        .map_or(&[], Vec::as_slice);
    out.push('\n');
    let bold = super::BOLD;
    if steps.is_empty() {
        out.push_str(&format!("{bold}steps{bold:#} none journaled\n"));
        return out;
    }
    out.push_str(&format!("{bold}steps{bold:#} ({})\n", steps.len()));
    for (index, step) in steps.iter().enumerate() {
        render_step(&mut out, index + 1, step);
    }
    out
}

/// What an open wait waits for, in a few words: `timer nap until …`, `approval
/// review: "Refund r-1 …" (expires in 23h)`, `event paid`, `child run 01J…`.
fn describe_wait(wait: &Json, now: i64) -> String {
    let path = text(wait, "path");
    let kind = text(wait, "kind");
    let detail = wait.get("detail").unwrap_or(&Json::Null);
    let mut line = match kind.as_str() {
        "timer" => {
            let until = number(wait, "deadline").map_or_else(|| "-".to_owned(), present::instant);
            return format!("timer {path} until {until}");
        }
        "approval" => match detail.get("message").and_then(Json::as_str) {
            Some(message) => format!("approval {path}: {message:?}"),
            None => format!("approval {path}"),
        },
        "child" => format!(
            "child run {} ({path})",
            detail.get("run").and_then(Json::as_str).unwrap_or("?")
        ),
        "event" | "webhook" => format!(
            "{} ({path})",
            wait.get("topic")
                .and_then(Json::as_str)
                .unwrap_or(kind.as_str())
                .replacen(':', " ", 1)
        ),
        _ => format!("{kind} {path}"),
    };
    if let Some(deadline) = number(wait, "deadline") {
        line.push_str(&format!(
            " (times out in {})",
            present::duration((deadline - now).max(0))
        ));
    }
    line
}

fn render_step(out: &mut String, number_: usize, step: &Json) {
    let status = text(step, "status");
    let style = present::status_style(&status);
    let path = text(step, "path");
    let recorded = step.get("recorded").and_then(Json::as_bool) == Some(true)
        || flowc_runtime::engine::is_recorded_path(&path);
    let bold = super::BOLD;
    let dim = present::DIM;
    if recorded {
        let value = step
            .get("output")
            .map_or_else(|| "null".to_owned(), Json::to_string);
        out.push_str(&format!(
            "{number_:>3}. {bold}{path}{bold:#}  {dim}recorded{dim:#}  {value}\n"
        ));
        return;
    }
    let attempt = number(step, "attempt").unwrap_or(1);
    let took = match (number(step, "started_at"), number(step, "finished_at")) {
        (Some(start), Some(end)) => present::duration(end - start),
        (Some(_), None) => "unfinished".to_owned(),
        _ => "-".to_owned(),
    };
    let started = number(step, "started_at").map_or_else(|| "-".to_owned(), present::instant);
    out.push_str(&format!(
        "{number_:>3}. {bold}{path}{bold:#}  attempt {attempt}  {style}{status}{style:#}  {took}  {dim}started {started}{dim:#}\n"
    ));
    let null = Json::Null;
    block(out, "input", step.get("input").unwrap_or(&null), 5);
    if let Some(output) = step.get("output").filter(|output| !output.is_null()) {
        block(out, "output", output, 5);
    }
    if let Some(err) = step.get("error").filter(|err| !err.is_null()) {
        // The step is the one shown above: no need to name it again.
        let mut err = err.clone();
        if let Some(object) = err.as_object_mut() {
            object.remove("step");
        }
        let err = &err;
        let bad = present::BAD;
        out.push_str(&format!(
            "     {bold}error{bold:#} {bad}{}{bad:#}\n",
            error_line(err)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_one_line_with_their_step_and_status() {
        let error = json!({"code": "R0104", "kind": "http", "message": "the server answered 500",
                           "step": "charge", "status": 500});
        assert_eq!(
            error_line(&error),
            "R0104: the server answered 500 (step `charge`, HTTP 500)"
        );
        assert_eq!(error_line(&json!("odd")), "\"odd\"");
    }

    #[test]
    fn a_waiting_run_says_what_it_waits_for() {
        let detail = json!({
            "run": {"id": "r1", "deployment": "d1", "workflow": "refund", "status": "waiting",
                    "trigger": "webhook", "input": {}, "created_at": 1000, "updated_at": 1000},
            "steps": [],
            "waits": [
                {"path": "nap", "kind": "timer", "status": "resolved", "deadline": 2000},
                {"path": "review", "kind": "approval", "status": "open", "deadline": 3_601_000,
                 "detail": {"message": "Refund r-1"}},
                {"path": "paid", "kind": "event", "status": "open", "topic": "event:paid",
                 "deadline": null},
                {"path": "#deadline", "kind": "deadline", "status": "open", "deadline": 9_000_000}
            ]
        });
        let plain = strip(&render_detail(&detail, 1000));
        assert!(
            plain.contains("waiting     approval review: \"Refund r-1\" (times out in 1h 00m)"),
            "{plain}"
        );
        assert!(plain.contains("waiting     event paid (paid)"), "{plain}");
        assert!(
            !plain.contains("nap"),
            "a resolved wait is not shown: {plain}"
        );
        assert!(!plain.contains("#deadline"), "{plain}");
    }

    #[test]
    fn a_run_shows_every_step_with_its_input_and_output() {
        let detail = json!({
            "run": {"id": "r1", "deployment": "d1", "deployment_version": 2, "workflow": "order",
                    "status": "failed", "trigger": "webhook", "input": {"id": "o-1"},
                    "output": null, "error": {"code": "R0104", "message": "boom", "step": "pay"},
                    "created_at": 1000, "updated_at": 2500},
            "steps": [
                {"path": "quote", "attempt": 1, "status": "succeeded", "input": {"url": "/q"},
                 "output": {"status": 200}, "error": null, "started_at": 1000, "finished_at": 1100},
                {"path": "pay", "attempt": 2, "status": "failed", "input": {"url": "/p"},
                 "output": null, "error": {"code": "R0104", "message": "boom"},
                 "started_at": 1200, "finished_at": 2400}
            ]
        });
        let text = render_detail(&detail, 10_000);
        let plain = strip(&text);
        assert!(plain.contains("deployment  version 2 (d1)"), "{plain}");
        assert!(
            plain.contains("error       R0104: boom (step `pay`)"),
            "{plain}"
        );
        assert!(plain.contains("took 1.50s"), "{plain}");
        assert!(
            plain.contains("1. quote  attempt 1  succeeded  100ms"),
            "{plain}"
        );
        assert!(plain.contains("\"status\": 200"), "{plain}");
        assert!(
            plain.contains("2. pay  attempt 2  failed  1.20s"),
            "{plain}"
        );
        assert!(plain.contains("     error R0104: boom"), "{plain}");
    }

    fn strip(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}
