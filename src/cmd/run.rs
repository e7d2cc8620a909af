//! `flowc run`: one run of one workflow, here and now, without a server.
//!
//! The quickest way to try a workflow against real APIs: the file is compiled as
//! `flowc check` compiles it (errors end the command before anything runs), the
//! program is stored in an embedded SQLite database (a temporary one, deleted
//! afterwards, unless `--db` names one to keep), a run is started with the input
//! checked against the workflow's parameter type, and the same engine `flowc
//! serve` uses interprets it in this process, journaling every step. While it
//! runs, the journal is read every 100 ms and each step is printed as it starts
//! and ends, on standard error; the run's output is printed on standard output at
//! the end, so `flowc run … | jq` sees only JSON. A run that waits (`wait`, an
//! `await`, a `call`) parks as under `flowc serve`, and this process wakes it:
//! the command returns when the run ends.
//!
//! Secrets come from the vault of the database: with `--db`, the one `flowc
//! secrets set --db` fills; a temporary database has none. Every secret the
//! workflow uses is looked up before the run starts, so a missing one is an
//! error naming it rather than a failed step halfway through.
//!
//! Outbound calls pass the egress guard of `flowc serve` with one difference:
//! loopback is open by default, because a local run is how a workflow is tried
//! against services on the developer's own machine. Private networks and cloud
//! metadata stay closed unless `--allow-egress` or `--allow-private-network`
//! opens them.
//!
//! `--jit` and `--jit-threshold` are `flowc serve`'s: when the engine compiles
//! the program's expressions to native code.

use super::local;
use super::present;
use super::runs::{error_line, read_input};
use super::{Exit, error, help, loader, note};
use anyhow::Context as _;
use flowc_compiler::ir::{Program, Workflow};
use flowc_runtime::clock::{Clock, SystemClock};
use flowc_runtime::dispatch::Dispatcher;
use flowc_runtime::engine::{self, Engine, NoSecrets, SecretSource, is_recorded_path};
use flowc_runtime::outbound::{Allow, Client, Egress};
use flowc_runtime::store::{NewRun, RunOutcome, RunStatus, Step, StepStatus, Store};
use flowc_runtime::vault::Vault;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub const AFTER_HELP: &str = "\
Examples:
  flowc run order.flow --input '{\"id\": \"o-1\", \"amount\": 3}'
  flowc run jobs/ --workflow nightly                 one workflow of several
  flowc run order.flow --input @order.json | jq .total
  curl -s https://example.com/order.json | flowc run order.flow --input -
  flowc run order.flow --input @order.json --db dev.db
                                         keep the run, use dev.db's secrets
  flowc run order.flow --input @order.json --jit always
                                         compile every expression before its first use

Progress goes to standard error (live on a terminal, one line per event
otherwise); the run's output, as JSON, to standard output.

Outbound calls pass the egress guard of `flowc serve` (see `flowc serve
--help`), except that loopback (127.0.0.0/8, ::1) is open: a local run calls
services on this machine. Private networks and cloud metadata (169.254.169.254)
stay closed unless --allow-egress or --allow-private-network opens them.

Exit status: 0 the run succeeded, 1 the sources have errors (printed as by
`flowc check`) or the run failed (its error is printed), 2 bad arguments, an
unreadable path, no such workflow, an input that is not JSON or not of the
workflow's input type, a secret the workflow uses missing from the vault, or a
database that cannot be used.";

#[derive(clap::Args)]
pub struct Args {
    /// A .flow file, or a directory searched for *.flow files as by `check`.
    #[arg(value_name = "PATH")]
    path: PathBuf,

    /// The workflow to run; needed only when the program has several.
    #[arg(long, short, value_name = "NAME")]
    workflow: Option<String>,

    /// The run's input: JSON text, @FILE for a file, or - for standard input.
    #[arg(long, short, value_name = "JSON|@FILE|-")]
    input: Option<String>,

    /// Keep the run in this SQLite database (created when missing) and use its
    /// vault; without it, a temporary database is used and deleted.
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,

    #[command(flatten)]
    egress: super::serve::EgressArgs,

    #[command(flatten)]
    jit: super::serve::JitArgs,
}

pub fn run(args: &Args) -> anyhow::Result<Exit> {
    let analysis = match loader::compile(std::slice::from_ref(&args.path), "run") {
        Ok(analysis) => analysis,
        Err(exit) => return Ok(exit),
    };
    let program = analysis.program;
    let Some(workflow) = choose(&program, args.workflow.as_deref()) else {
        return Ok(Exit::Failure);
    };
    let input = match &args.input {
        Some(spec) => match read_input(spec) {
            Ok(input) => input,
            Err(message) => {
                error(message);
                return Ok(Exit::Failure);
            }
        },
        None if workflow.params.is_empty() => Json::Null,
        None => {
            error(format_args!(
                "workflow `{}` takes an input of type `{}`",
                workflow.name,
                engine::input_type(workflow)
            ));
            help("give it with --input JSON, --input @FILE or --input - (standard input)");
            return Ok(Exit::Failure);
        }
    };
    // Checked as the engine will bind it, so a mismatch is reported before a run
    // is stored, the way a webhook's 422 is.
    if let Err(mismatch) = engine::check_input(&program, workflow, &input) {
        error(format_args!(
            "the input does not have the type of `{}`'s input: {mismatch}",
            workflow.name
        ));
        return Ok(Exit::Failure);
    }
    let name = workflow.name.clone();

    // A temporary database lives in a directory of its own, with its WAL files,
    // and goes with it at the end.
    let temporary;
    let db = match &args.db {
        Some(db) => db.clone(),
        None => {
            temporary = tempfile::tempdir().context("cannot create a temporary directory")?;
            temporary.path().join("run.db")
        }
    };
    let Some(store) = local::open_store(&db) else {
        return Ok(Exit::Failure);
    };
    let secrets: Arc<dyn SecretSource> = if args.db.is_some() {
        let Some(key) = local::master_key(&db) else {
            return Ok(Exit::Failure);
        };
        Arc::new(Vault::new(&key, Arc::clone(&store)))
    } else {
        Arc::new(NoSecrets)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let kept = args.db.as_ref().map(|db| db.display().to_string());
    let guard = args.egress.guard(Allow::loopback());
    if guard.is_none() {
        super::serve::EgressArgs::warn_off();
    }
    runtime.block_on(execute(Job {
        store,
        secrets,
        program,
        workflow: name,
        input,
        kept,
        egress: super::serve::EgressArgs::egress(guard.as_ref()),
        jit: args.jit.options(),
    }))
}

/// The workflow to run: the one named, or the only one. Prints why there is none
/// (listing the workflows there are) otherwise.
fn choose<'p>(program: &'p Program, wanted: Option<&str>) -> Option<&'p Workflow> {
    let names = || {
        program
            .workflows
            .iter()
            .map(|workflow| format!("`{}`", workflow.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (wanted, program.workflows.as_slice()) {
        (_, []) => {
            error("the program has no workflow to run");
            None
        }
        (Some(wanted), workflows) => {
            let found = workflows.iter().find(|workflow| workflow.name == wanted);
            if found.is_none() {
                error(format_args!(
                    "no workflow `{wanted}`; the program has {}",
                    names()
                ));
            }
            found
        }
        (None, [only]) => Some(only),
        (None, _) => {
            error(format_args!(
                "the program has several workflows: {}; choose one with --workflow NAME",
                names()
            ));
            None
        }
    }
}

struct Job {
    store: Arc<dyn Store>,
    secrets: Arc<dyn SecretSource>,
    program: Program,
    workflow: String,
    input: Json,
    /// The database's name when it is kept (`--db`).
    kept: Option<String>,
    egress: Arc<dyn Egress>,
    jit: flowc_runtime::jit::Options,
}

async fn execute(job: Job) -> anyhow::Result<Exit> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = job.store;
    match engine::missing_secrets(&job.program, job.secrets.as_ref()).await {
        Ok(missing) => {
            let missing: Vec<_> = missing
                .into_iter()
                .filter(|secret| secret.workflows.contains(&job.workflow))
                .collect();
            for secret in &missing {
                match &job.kept {
                    Some(db) => error(format_args!(
                        "secret `{}` is not in the vault of {db}; set it with \
                         `flowc secrets set {} --db {db}`",
                        secret.name, secret.name
                    )),
                    None => error(format_args!(
                        "workflow `{}` uses secret `{}`, and a temporary database has none",
                        job.workflow, secret.name
                    )),
                }
            }
            if !missing.is_empty() {
                if job.kept.is_none() {
                    help(
                        "set secrets with `flowc secrets set NAME --db FILE` and run with --db FILE",
                    );
                }
                return Ok(Exit::Failure);
            }
        }
        Err(message) => {
            error(format_args!("cannot read the vault: {message}"));
            return Ok(Exit::Failure);
        }
    }
    let deployed = match store.deploy(&job.program).await {
        Ok(deployed) => deployed,
        Err(err) => {
            error(format_args!("cannot store the program: {err}"));
            return Ok(Exit::Failure);
        }
    };
    let started = match store
        .start_run(NewRun {
            deployment: deployed.id,
            workflow: job.workflow.clone(),
            input: job.input,
            idempotency_key: None,
            trigger: "manual".to_owned(),
            delivery: None,
            webhook: None,
            replay_of: None,
        })
        .await
    {
        Ok(started) => started,
        Err(err) => {
            error(format_args!("cannot start the run: {err}"));
            return Ok(Exit::Failure);
        }
    };
    let run_id = started.run;
    if let Some(db) = &job.kept {
        note(format_args!("run {run_id} of `{}` in {db}", job.workflow));
    }

    let client = Client::builder(Arc::clone(&clock))
        .egress(job.egress)
        .build()
        .context("cannot build the HTTP client")?;
    let engine = Arc::new(
        Engine::new(
            Arc::clone(&store),
            Arc::new(client),
            job.secrets,
            Arc::clone(&clock),
        )
        .with_jit(job.jit),
    );
    // Waits, child runs and events need the dispatcher; the run itself is
    // interpreted here first, so an engine failure is this command's error.
    let dispatcher = Dispatcher::new(Arc::clone(&engine));
    if let Err(err) = dispatcher.reload().await {
        error(format_args!("cannot read the deployment: {err}"));
        return Ok(Exit::Failure);
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(Arc::clone(&dispatcher).serve(async move {
        let _ = stopped.await;
    }));
    let mut task = {
        let run_id = run_id.clone();
        tokio::spawn(async move { engine.run(&run_id).await })
    };
    let mut progress = Progress::new(std::io::stderr().is_terminal());
    let mut result = loop {
        tokio::select! {
            result = &mut task => break result,
            () = tokio::time::sleep(Duration::from_millis(100)) => {
                if let Ok(Some(detail)) = store.get_run(&run_id).await {
                    progress.update(&detail.steps);
                }
            }
        }
    };
    // Parked (a wait, an approval, a child): the dispatcher wakes it; the end
    // is read from the store.
    while matches!(result, Ok(Ok(RunOutcome::Waiting))) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(Some(detail)) = store.get_run(&run_id).await {
            progress.update(&detail.steps);
            let run = &detail.run;
            result = Ok(Ok(match run.status {
                RunStatus::Succeeded => {
                    RunOutcome::Succeeded(run.output.clone().unwrap_or_default())
                }
                RunStatus::Failed => RunOutcome::Failed(run.error.clone().unwrap_or_default()),
                RunStatus::Cancelled => RunOutcome::Cancelled,
                _ => RunOutcome::Waiting,
            }));
        }
    }
    let _ = stop.send(());
    let _ = serving.await;
    if let Ok(Some(detail)) = store.get_run(&run_id).await {
        progress.update(&detail.steps);
    }
    progress.finish();

    let outcome = match result {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(err)) => {
            error(format_args!("the run stopped: {err}"));
            return Ok(Exit::Failure);
        }
        Err(err) => {
            error(format_args!("the run stopped: {err}"));
            return Ok(Exit::Internal);
        }
    };
    match outcome {
        RunOutcome::Succeeded(output) => {
            let text = serde_json::to_string_pretty(&output).context("cannot write JSON")?;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{text}").context("cannot write to standard output")?;
            Ok(Exit::Success)
        }
        RunOutcome::Failed(err) => {
            error(format_args!("the run failed: {}", error_line(&err)));
            Ok(Exit::Diagnostics)
        }
        RunOutcome::Cancelled => {
            error("the run was cancelled");
            Ok(Exit::Diagnostics)
        }
        RunOutcome::Waiting => Ok(Exit::Internal),
    }
}

/// Prints step events from successive reads of the journal, each once.
///
/// On a terminal, a started step shows as one line that is rewritten in place
/// when it ends; elsewhere every start and end is a line of its own, for logs.
struct Progress {
    terminal: bool,
    /// The status last printed for each attempt.
    printed: HashMap<(String, i64), StepStatus>,
    /// The attempt shown on the unfinished last line of a terminal, and that
    /// line's width, to overwrite it when the attempt ends.
    open: Option<((String, i64), usize)>,
}

impl Progress {
    fn new(terminal: bool) -> Progress {
        Progress {
            terminal,
            printed: HashMap::new(),
            open: None,
        }
    }

    fn update(&mut self, steps: &[Step]) {
        for step in steps {
            if is_recorded_path(&step.path) {
                continue;
            }
            let key = (step.path.clone(), step.attempt);
            let before = self.printed.get(&key).copied();
            if before == Some(step.status) {
                continue;
            }
            if before.is_none() && (step.status == StepStatus::Started || !self.terminal) {
                self.started(step);
            }
            if step.status != StepStatus::Started {
                self.finished(step);
            }
            self.printed.insert(key, step.status);
        }
    }

    fn attempt(step: &Step) -> String {
        if step.attempt > 1 {
            format!(" (attempt {})", step.attempt)
        } else {
            String::new()
        }
    }

    fn started(&mut self, step: &Step) {
        let mut stderr = anstream::stderr().lock();
        if !self.terminal {
            let _ = writeln!(stderr, "step {} started{}", step.path, Self::attempt(step));
            return;
        }
        self.close_line(&mut stderr);
        let busy = present::BUSY;
        let line = format!("  … {}{}", step.path, Self::attempt(step));
        let _ = write!(stderr, "{busy}{line}{busy:#}");
        let _ = stderr.flush();
        self.open = Some(((step.path.clone(), step.attempt), line.chars().count()));
    }

    fn finished(&mut self, step: &Step) {
        let took = step
            .finished_at
            .map(|end| present::duration(end - step.started_at))
            .unwrap_or_default();
        let failure = step
            .error
            .as_ref()
            .map(|err| {
                let field = |name: &str| err.get(name).and_then(Json::as_str).unwrap_or("");
                format!(": {}: {}", field("code"), field("message"))
            })
            .unwrap_or_default();
        let mut stderr = anstream::stderr().lock();
        if !self.terminal {
            let _ = writeln!(
                stderr,
                "step {} {} in {took}{failure}",
                step.path,
                step.status.as_str()
            );
            return;
        }
        let (mark, style) = match step.status {
            StepStatus::Succeeded => ("✓", present::GOOD),
            _ => ("✗", present::BAD),
        };
        let line = format!(
            "  {mark} {}{}  {took}{failure}",
            step.path,
            Self::attempt(step)
        );
        let pad = match self.open.take() {
            Some((open, width)) if open.0 == step.path && open.1 == step.attempt => {
                let _ = write!(stderr, "\r");
                width.saturating_sub(line.chars().count())
            }
            Some(_) => {
                let _ = writeln!(stderr);
                0
            }
            None => 0,
        };
        let _ = writeln!(stderr, "{style}{line}{style:#}{}", " ".repeat(pad));
    }

    /// Ends an unfinished line so the next event starts on its own.
    fn close_line(&mut self, stderr: &mut impl std::io::Write) {
        if self.open.take().is_some() {
            let _ = writeln!(stderr);
        }
    }

    fn finish(&mut self) {
        let mut stderr = anstream::stderr().lock();
        self.close_line(&mut stderr);
    }
}
