//! `flowc-bench runtime`: the runtime's speed and memory, measured side by side
//! with its peers in one run on one machine (issue 4).
//!
//! Figures drift between machines and with the load other processes put on
//! them, so each peer is measured in the same run as flowc, one system at a time
//! (each server is stopped before the next starts), and the table prints ratios.
//! Every figure is the median of `--repeat` passes (3 by default). Sections:
//!
//! - `steps`: checkpointed steps/s through the library (`library.rs`): a fresh
//!   SQLite store (`synchronous=FULL`), runs of a 10-step chain, each step an HTTP
//!   call to a local server (`downstream.rs`), started by `Store::start_run` and
//!   run by `Engine::run`, 64 at once;
//! - `serve-steps`: the same chain in the release `flowc serve`, runs started by
//!   webhooks (`serve.rs`);
//! - `latency`, `serve-latency`: one 3-step run at a time, start to output, through
//!   the library and through a `respond: wait` webhook;
//! - `ingest`: `wrk -t1 -c16 -d10s` POSTing JSON to a webhook of `flowc serve`
//!   that answers 202 after the run's commit, with the server's resident memory
//!   idle, under the load and at its peak; `idle`: resident memory with the
//!   examples deployed;
//! - peers (`peers.rs`): the axum floor, Node-RED and n8n under the same wrk
//!   command; Restate and DBOS on their ten-step workflows.
//!
//! A peer that is not installed, or a section that fails, is reported in the
//! table and the rest goes on; the exit status is 1 if anything failed.

mod downstream;
mod flows;
mod library;
mod peers;
pub(crate) mod process;
pub(crate) mod serve;
pub(crate) mod wrk;

pub use peers::Places;

use anyhow::{Context as _, Result};
use downstream::Downstream;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The goals of issue 4.
const GOAL_STEPS_PER_SECOND: f64 = 20_000.0;
const GOAL_ACCEPTS_PER_SECOND: f64 = 20_000.0;
const GOAL_ACCEPT_P99_MS: f64 = 20.0;
const GOAL_LATENCY_P50_MS: f64 = 5.0;
const GOAL_IDLE_MIB: f64 = 30.0;

/// A part of the benchmark, for `--only` and `--skip`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    Steps,
    ServeSteps,
    Latency,
    ServeLatency,
    Ingest,
    Idle,
    Floor,
    Nodered,
    N8n,
    Restate,
    Dbos,
}

/// What `flowc-bench runtime` was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    pub flowc: Option<PathBuf>,
    pub examples: PathBuf,
    pub places: peers::Places,
    pub only: Vec<Section>,
    pub skip: Vec<Section>,
    pub repeat: usize,
    pub runs: usize,
    pub steps: usize,
    pub concurrency: usize,
    pub latency_runs: usize,
    pub latency_steps: usize,
    pub connections: usize,
    pub seconds: u64,
    pub json: Option<PathBuf>,
}

/// A section's (or a phase's) result: figures, or why there are none.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome<T> {
    Done(T),
    NotInstalled(String),
    Failed(String),
    Skipped,
}

impl<T> Outcome<T> {
    fn done(&self) -> Option<&T> {
        match self {
            Outcome::Done(value) => Some(value),
            _ => None,
        }
    }

    pub(crate) fn failed(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }

    /// What to print in place of figures.
    pub(crate) fn note(&self) -> String {
        match self {
            Outcome::Done(_) => String::new(),
            Outcome::NotInstalled(what) => format!("not installed ({what})"),
            Outcome::Failed(why) => format!("FAILED: {}", why.lines().next().unwrap_or("")),
            Outcome::Skipped => "skipped".into(),
        }
    }
}

/// Medians of repeated passes, with the passes.
#[derive(Clone, Debug, Serialize)]
struct Repeated<T> {
    median: T,
    passes: Vec<T>,
}

#[derive(Clone, Copy, Debug, Serialize)]
struct WrkMedian {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn wrk_median(reports: Vec<wrk::Report>) -> Repeated<WrkMedian> {
    let pick = |f: fn(&wrk::Report) -> f64| median(reports.iter().map(f).collect());
    Repeated {
        median: WrkMedian {
            requests_per_second: pick(|r| r.requests_per_second),
            p50_ms: pick(|r| r.p50_ms),
            p99_ms: pick(|r| r.p99_ms),
        },
        passes: reports
            .iter()
            .map(|r| WrkMedian {
                requests_per_second: r.requests_per_second,
                p50_ms: r.p50_ms,
                p99_ms: r.p99_ms,
            })
            .collect(),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Everything one run measured; written as JSON with `--json`.
#[derive(Debug, Serialize)]
struct Results {
    machine: Machine,
    steps: Outcome<Vec<library::StepsPass>>,
    /// µs to decode the chain's stored program once (paid per run).
    decode_us: Outcome<f64>,
    serve_steps: Outcome<Vec<serve::ServeSteps>>,
    latency: Outcome<library::Latency>,
    serve_latency: Outcome<library::Latency>,
    ingest: Outcome<serve::Ingest>,
    idle_examples: Outcome<process::Memory>,
    floor: Outcome<Repeated<WrkMedian>>,
    nodered: Outcome<Repeated<WrkMedian>>,
    n8n: Outcome<Repeated<WrkMedian>>,
    restate: Outcome<Repeated<WrkMedian>>,
    dbos: Outcome<Vec<peers::Dbos>>,
}

#[derive(Debug, Serialize)]
struct Machine {
    cores: usize,
    load_before: String,
    load_after: String,
}

/// The load average over 1, 5 and 15 minutes, as `/proc/loadavg` says it.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// The `flowc` binary: `given` (`--flowc PATH`), else the one next to this
/// binary.
pub(crate) fn flowc_binary(given: Option<&Path>) -> Result<PathBuf> {
    match given {
        Some(path) => Ok(path.to_path_buf()),
        None => Ok(std::env::current_exe()
            .context("cannot find this binary")?
            .with_file_name("flowc")),
    }
}

/// Fails unless `flowc` is a file, saying how to build one.
pub(crate) fn ensure_flowc(flowc: &Path) -> Result<()> {
    if !flowc.is_file() {
        anyhow::bail!(
            "no flowc binary at {} (cargo build --release -p flowc, or --flowc PATH)",
            flowc.display()
        );
    }
    Ok(())
}

/// Runs the wanted sections, prints the table and optionally writes JSON.
pub fn run(options: Options) -> Result<ExitCode> {
    let wanted = |section: Section| {
        (options.only.is_empty() || options.only.contains(&section))
            && !options.skip.contains(&section)
    };
    let flowc = flowc_binary(options.flowc.as_deref())?;
    let needs_flowc = [
        Section::ServeSteps,
        Section::ServeLatency,
        Section::Ingest,
        Section::Idle,
    ]
    .into_iter()
    .any(wanted);
    if needs_flowc {
        ensure_flowc(&flowc)?;
    }
    let scratch = tempfile::tempdir()?;
    let script = scratch.path().join("post.lua");
    wrk::write_script(&script)?;
    let load = peers::Load {
        script: &script,
        connections: options.connections,
        seconds: options.seconds,
        repeat: options.repeat,
    };
    let downstream = Downstream::start()?;
    let machine_before = load_average();
    let repeat = options.repeat.max(1);

    let mut results = Results {
        machine: Machine {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            load_before: machine_before,
            load_after: String::new(),
        },
        steps: Outcome::Skipped,
        decode_us: Outcome::Skipped,
        serve_steps: Outcome::Skipped,
        latency: Outcome::Skipped,
        serve_latency: Outcome::Skipped,
        ingest: Outcome::Skipped,
        idle_examples: Outcome::Skipped,
        floor: Outcome::Skipped,
        nodered: Outcome::Skipped,
        n8n: Outcome::Skipped,
        restate: Outcome::Skipped,
        dbos: Outcome::Skipped,
    };

    if wanted(Section::Steps) {
        results.steps = section("steps (library)", || {
            (0..repeat)
                .map(|_| {
                    library::steps(
                        &downstream,
                        options.runs,
                        options.steps,
                        options.concurrency,
                    )
                })
                .collect()
        });
        results.decode_us = section("program decoding", || {
            library::decode_us(&downstream.base, options.steps)
        });
    }
    if wanted(Section::ServeSteps) {
        results.serve_steps = section("steps (flowc serve)", || {
            (0..repeat)
                .map(|_| {
                    serve::steps(
                        &flowc,
                        &downstream,
                        options.runs,
                        options.steps,
                        options.concurrency,
                    )
                })
                .collect()
        });
    }
    if wanted(Section::Latency) {
        results.latency = section("latency (library)", || {
            library::latency(&downstream, options.latency_runs, options.latency_steps)
        });
    }
    if wanted(Section::ServeLatency) {
        results.serve_latency = section("latency (flowc serve, respond: wait)", || {
            serve::latency(
                &flowc,
                &downstream,
                options.latency_runs,
                options.latency_steps,
            )
        });
    }
    if wanted(Section::Ingest) {
        results.ingest = section("webhook ingestion (flowc serve)", || {
            serve::ingest(
                &flowc,
                &script,
                options.connections,
                options.seconds,
                repeat,
            )
        });
    }
    if wanted(Section::Idle) {
        results.idle_examples = section("idle memory (flowc serve examples/)", || {
            // `flowc serve` runs in a temporary directory: give it an absolute path.
            let examples = std::fs::canonicalize(&options.examples)
                .with_context(|| format!("cannot find {}", options.examples.display()))?;
            serve::idle_examples(&flowc, &examples)
        });
    }
    let places = &options.places;
    if wanted(Section::Floor) {
        results.floor = section("axum floor", || peers::floor(places, &load).map(wrk_median));
    }
    if wanted(Section::Nodered) {
        results.nodered = section("Node-RED", || peers::nodered(places, &load).map(wrk_median));
    }
    if wanted(Section::N8n) {
        results.n8n = section("n8n", || peers::n8n(places, &load).map(wrk_median));
    }
    if wanted(Section::Restate) {
        let restate_load = peers::Load {
            connections: 16,
            ..load.clone()
        };
        results.restate = section("Restate", || {
            peers::restate(places, &restate_load).map(wrk_median)
        });
    }
    if wanted(Section::Dbos) {
        results.dbos = section("DBOS", || peers::dbos(places, repeat));
    }
    drop(downstream);
    results.machine.load_after = load_average();

    print_table(&options, &results);
    if let Some(path) = &options.json {
        let text = serde_json::to_string_pretty(&results)?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let failed = [
        results.steps.failed(),
        results.serve_steps.failed(),
        results.latency.failed(),
        results.serve_latency.failed(),
        results.ingest.failed(),
        results.idle_examples.failed(),
        results.floor.failed(),
        results.nodered.failed(),
        results.n8n.failed(),
        results.restate.failed(),
        results.dbos.failed(),
    ]
    .contains(&true);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs one section, saying so on stderr; a missing peer or an error becomes
/// the section's outcome.
fn section<T>(name: &str, measure: impl FnOnce() -> Result<T>) -> Outcome<T> {
    eprintln!("[{}] {name}…", load_average());
    match measure() {
        Ok(value) => Outcome::Done(value),
        Err(error) => match error.downcast_ref::<peers::Missing>() {
            Some(missing) => {
                eprintln!("  not installed: {}", missing.0);
                Outcome::NotInstalled(missing.0.clone())
            }
            None => {
                eprintln!("  error: {error:#}");
                Outcome::Failed(format!("{error:#}"))
            }
        },
    }
}

fn thousands(value: f64) -> String {
    if !value.is_finite() {
        return "-".into();
    }
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if value < 0.0 { format!("-{out}") } else { out }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn met(yes: bool) -> &'static str {
    if yes { "met" } else { "NOT met" }
}

fn ratio(flowc: Option<f64>, peer: f64) -> String {
    match flowc {
        Some(flowc) if peer > 0.0 => format!("{:.1}×", flowc / peer),
        _ => "-".into(),
    }
}

fn print_table(options: &Options, results: &Results) {
    let m = &results.machine;
    println!();
    println!(
        "flowc-bench runtime: {} cores, load average {} before, {} after; medians of {}",
        m.cores, m.load_before, m.load_after, options.repeat
    );

    // Steps.
    println!();
    println!(
        "Checkpointed steps/s: {} runs × {} steps, synchronous=FULL (flowc steps are HTTP calls; peers' steps are in-process `acc + i`)",
        thousands(options.runs as f64),
        options.steps
    );
    println!(
        "  {:<44} {:>10} {:>9} {:>6}  {:>9}  note",
        "system", "steps/s", "runs/s", "conc", "flowc ×"
    );
    let library_steps = results
        .steps
        .done()
        .map(|passes| median(passes.iter().map(|p| p.steps_per_second).collect()));
    match &results.steps {
        Outcome::Done(passes) => {
            let writes: u64 = passes.iter().map(|p| p.writes).sum();
            let commits: u64 = passes.iter().map(|p| p.commits).sum::<u64>().max(1);
            let steps = library_steps.unwrap_or(f64::NAN);
            println!(
                "  {:<44} {:>10} {:>9} {:>6}  {:>9}  {:.1} writes/commit, {:.0} µs CPU/step, writer busy {:.0}%; passes {}",
                "flowc library (start_run + Engine::run)",
                thousands(steps),
                thousands(steps / options.steps as f64),
                options.concurrency,
                "1.0×",
                writes as f64 / commits as f64,
                median(passes.iter().map(|p| p.cpu_us_per_step).collect()),
                100.0 * median(passes.iter().map(|p| p.writer_busy).collect()),
                passes
                    .iter()
                    .map(|p| thousands(p.steps_per_second))
                    .collect::<Vec<_>>()
                    .join(" / ")
            );
        }
        other => println!("  {:<44} {}", "flowc library", other.note()),
    }
    if let Outcome::Done(decode) = &results.decode_us {
        println!(
            "  {:<44} {decode:.0} µs (Program::from_binary of the {}-step chain; the engine caches it per deployment)",
            "  decoding the stored program once", options.steps
        );
    }
    match &results.serve_steps {
        Outcome::Done(passes) => {
            let steps = median(passes.iter().map(|p| p.steps_per_second).collect());
            println!(
                "  {:<44} {:>10} {:>9} {:>6}  {:>9}  passes {}",
                "flowc serve (webhook-started runs)",
                thousands(steps),
                thousands(steps / options.steps as f64),
                options.concurrency,
                ratio(library_steps, steps),
                passes
                    .iter()
                    .map(|p| thousands(p.steps_per_second))
                    .collect::<Vec<_>>()
                    .join(" / ")
            );
        }
        other => println!("  {:<44} {}", "flowc serve", other.note()),
    }
    match &results.restate {
        Outcome::Done(repeated) => {
            let runs = repeated.median.requests_per_second;
            println!(
                "  {:<44} {:>10} {:>9} {:>6}  {:>9}  wrk -c16 on ten/run",
                "Restate 1.7 + JS SDK",
                thousands(runs * 10.0),
                thousands(runs),
                16,
                ratio(library_steps, runs * 10.0)
            );
        }
        other => println!("  {:<44} {}", "Restate", other.note()),
    }
    match &results.dbos {
        Outcome::Done(passes) => {
            let steps = median(passes.iter().map(|p| p.conc_steps_per_s).collect());
            println!(
                "  {:<44} {:>10} {:>9} {:>6}  {:>9}  dbos_steps.py 50 200 8",
                "DBOS (Python, SQLite)",
                thousands(steps),
                thousands(steps / 10.0),
                8,
                ratio(library_steps, steps)
            );
        }
        other => println!("  {:<44} {}", "DBOS", other.note()),
    }
    if let Some(steps) = library_steps {
        println!(
            "  goal ≥ {} steps/s (library): {}",
            thousands(GOAL_STEPS_PER_SECOND),
            met(steps >= GOAL_STEPS_PER_SECOND)
        );
    }

    // Ingestion.
    println!();
    println!(
        "Webhook ingestion: wrk -t1 -c{} -d{}s, POST of a 94-byte JSON body",
        options.connections, options.seconds
    );
    println!(
        "  {:<44} {:>10} {:>9} {:>9}  {:>9}  note",
        "server", "req/s", "p50 ms", "p99 ms", "flowc ×"
    );
    let flowc_accepts = results
        .ingest
        .done()
        .map(|ingest| wrk_median(ingest.runs.clone()).median);
    match &results.ingest {
        Outcome::Done(ingest) => {
            if let Some(m) = flowc_accepts {
                println!(
                    "  {:<44} {:>10} {:>9.2} {:>9.2}  {:>9}  202 after commit; drained in {} s",
                    "flowc serve (respond: accepted)",
                    thousands(m.requests_per_second),
                    m.p50_ms,
                    m.p99_ms,
                    "1.0×",
                    ingest
                        .drain_seconds
                        .iter()
                        .map(|s| format!("{s:.1}"))
                        .collect::<Vec<_>>()
                        .join(" / ")
                );
            }
        }
        other => println!("  {:<44} {}", "flowc serve", other.note()),
    }
    let flowc_rps = flowc_accepts.map(|m| m.requests_per_second);
    for (name, outcome, note) in [
        ("axum floor (nothing stored)", &results.floor, "floor"),
        ("Node-RED 4 (nothing stored)", &results.nodered, ""),
        ("n8n 2 (executions saved to SQLite)", &results.n8n, ""),
    ] {
        match outcome {
            Outcome::Done(repeated) => {
                let m = repeated.median;
                println!(
                    "  {:<44} {:>10} {:>9.2} {:>9.2}  {:>9}  {note}",
                    name,
                    thousands(m.requests_per_second),
                    m.p50_ms,
                    m.p99_ms,
                    ratio(flowc_rps, m.requests_per_second)
                );
            }
            other => println!("  {:<44} {}", name, other.note()),
        }
    }
    if let Some(m) = flowc_accepts {
        println!(
            "  goal ≥ {} accepts/s: {}; p99 < {} ms: {}",
            thousands(GOAL_ACCEPTS_PER_SECOND),
            met(m.requests_per_second >= GOAL_ACCEPTS_PER_SECOND),
            GOAL_ACCEPT_P99_MS,
            met(m.p99_ms < GOAL_ACCEPT_P99_MS)
        );
    }

    // Latency.
    println!();
    println!(
        "End-to-end latency: one {}-step run at a time, {} runs, each step an HTTP call on loopback",
        options.latency_steps, options.latency_runs
    );
    for (name, outcome) in [
        ("flowc library (start_run → Engine::run)", &results.latency),
        (
            "flowc serve (webhook, respond: wait)",
            &results.serve_latency,
        ),
    ] {
        match outcome {
            Outcome::Done(latency) => println!(
                "  {:<44} p50 {:>6.2} ms  p99 {:>6.2} ms  mean {:>6.2} ms  goal p50 < {} ms: {}",
                name,
                latency.p50_ms,
                latency.p99_ms,
                latency.mean_ms,
                GOAL_LATENCY_P50_MS,
                met(latency.p50_ms < GOAL_LATENCY_P50_MS)
            ),
            other => println!("  {:<44} {}", name, other.note()),
        }
    }

    // Memory.
    println!();
    println!("Resident memory of flowc serve (VmRSS / VmHWM from /proc)");
    match &results.idle_examples {
        Outcome::Done(memory) => println!(
            "  {:<44} {:>10}  goal < {} MiB: {}",
            "idle, examples/ deployed",
            mib(memory.rss_kib),
            GOAL_IDLE_MIB,
            met((memory.rss_kib as f64 / 1024.0) < GOAL_IDLE_MIB)
        ),
        other => println!("  {:<44} {}", "idle, examples/ deployed", other.note()),
    }
    if let Outcome::Done(ingest) = &results.ingest {
        println!(
            "  {:<44} {:>10}",
            "idle, ingestion workflow",
            mib(ingest.idle.rss_kib)
        );
        println!(
            "  {:<44} {:>10}",
            "under the wrk load (largest VmRSS sampled)",
            mib(ingest.load_rss_kib)
        );
        println!(
            "  {:<44} {:>10}",
            "peak (VmHWM)",
            mib(ingest.peak_kib.max(ingest.load_rss_kib))
        );
    }
}

/// The default peers' scripts directory: `../shared/peers` from the workspace.
pub fn default_scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/peers")
}
