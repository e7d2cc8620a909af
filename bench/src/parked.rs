//! `flowc-bench parked`: what parked runs cost and how fast they wake (issue 6).
//!
//! A parked run holds no task and no frame, only rows in the store, so the
//! release `flowc serve` should hold 100,000 of them in little memory and wake
//! them fast. Two phases, each on a fresh server with its own temporary database
//! and the admin API open on loopback (`--no-admin-token`):
//!
//! - **timers**: N webhooks start runs of `parked`, each `wait until p.at` with
//!   the same `at` a little in the future, far enough for every run to park first
//!   (N / 5,000 s + 20 s unless `--park-seconds` says otherwise; a run that is
//!   not parked when `at` passes fails the phase, since the wake could not be
//!   timed). Resident memory once all N are `waiting` and the server has settled
//!   for two seconds; then the wake rate: N over the time from `at` to the last
//!   run's `succeeded`.
//! - **events**: N webhooks start runs of `awaiting`, each `await event paid`
//!   with its own id; resident memory once all N wait; then N events posted to
//!   `/api/v1/events/paid`, one per run: the rate of those posts, and the matched
//!   rate, N over the time from the first event sent to the last run's
//!   `succeeded`.
//!
//! Counts by status are read from the database file through a read-only SQLite
//! connection (a WAL reader never blocks the server's writer); the end of a phase
//! is the largest `updated_at` the runs' final writes recorded, so the figure does
//! not depend on how often the benchmark looks.

use crate::runtime::process::Memory;
use crate::runtime::serve::{self, Serve};
use crate::runtime::{Outcome, ensure_flowc, flowc_binary, load_average};
use anyhow::{Context as _, Result, bail};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The goals of issue 6 and item 5.
const GOAL_PARKED_MIB: f64 = 100.0;
const GOAL_WAKES_PER_SECOND: f64 = 5_000.0;
const GOAL_MATCHES_PER_SECOND: f64 = 5_000.0;

/// The program both phases deploy.
const PROGRAM: &str = r#"event paid = { id: string }

type Park = { at: time, id: string }

workflow parked(p: Park) {
  on webhook POST "/park"
  step nap = wait until p.at
}

workflow awaiting(p: Park) {
  on webhook POST "/await"
  step got = await event paid as e where e.id == p.id (timeout: 1h)
}
"#;

/// A phase of the benchmark, for `--only`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Timers,
    Events,
}

/// What `flowc-bench parked` was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    pub flowc: Option<PathBuf>,
    pub runs: usize,
    pub concurrency: usize,
    pub park_seconds: Option<f64>,
    pub only: Vec<Phase>,
    pub json: Option<PathBuf>,
}

/// The timer phase's figures.
#[derive(Clone, Debug, Serialize)]
pub struct Timers {
    pub runs: usize,
    /// Seconds from now to `at` when the first webhook was sent.
    pub lead_seconds: f64,
    /// Webhooks accepted per second while posting.
    pub posts_per_second: f64,
    /// Seconds from the first webhook to every run `waiting`.
    pub park_seconds: f64,
    /// Resident memory with every run parked, after two quiet seconds.
    pub parked: Memory,
    /// Seconds from `at` to the last run's `succeeded`.
    pub wake_seconds: f64,
    pub wakes_per_second: f64,
    /// `VmHWM` at the end of the phase.
    pub peak_kib: u64,
}

/// The event phase's figures.
#[derive(Clone, Debug, Serialize)]
pub struct Events {
    pub runs: usize,
    /// Webhooks accepted per second while starting the runs.
    pub webhooks_per_second: f64,
    /// Seconds from the first webhook to every run `waiting`.
    pub park_seconds: f64,
    /// Resident memory with every run waiting, after two quiet seconds.
    pub parked: Memory,
    /// Events accepted (202) per second while posting them.
    pub posts_per_second: f64,
    /// Seconds from the first event sent to the last run's `succeeded`.
    pub match_seconds: f64,
    pub matches_per_second: f64,
    /// `VmHWM` at the end of the phase.
    pub peak_kib: u64,
}

/// Everything one run measured; written as JSON with `--json`.
#[derive(Debug, Serialize)]
struct Results {
    runs: usize,
    concurrency: usize,
    cores: usize,
    load_before: String,
    load_after: String,
    timers: Outcome<Timers>,
    events: Outcome<Events>,
}

/// Runs the wanted phases, prints the table and optionally writes JSON.
pub fn run(options: Options) -> Result<ExitCode> {
    let flowc = flowc_binary(options.flowc.as_deref())?;
    ensure_flowc(&flowc)?;
    if options.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let wanted = |phase: Phase| options.only.is_empty() || options.only.contains(&phase);
    let load_before = load_average();
    let timers = if wanted(Phase::Timers) {
        eprintln!("timers: {} runs parked on one `wait until`", options.runs);
        outcome(timers(&flowc, &options))
    } else {
        Outcome::Skipped
    };
    let events = if wanted(Phase::Events) {
        eprintln!("events: {} runs awaiting one event each", options.runs);
        outcome(events(&flowc, &options))
    } else {
        Outcome::Skipped
    };
    let results = Results {
        runs: options.runs,
        concurrency: options.concurrency,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_before,
        load_after: load_average(),
        timers,
        events,
    };
    print_table(&results);
    if let Some(path) = &options.json {
        let text = serde_json::to_string_pretty(&results)?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let failed = results.timers.failed() || results.events.failed();
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn outcome<T>(result: Result<T>) -> Outcome<T> {
    match result {
        Ok(value) => Outcome::Done(value),
        Err(error) => {
            eprintln!("  error: {error:#}");
            Outcome::Failed(format!("{error:#}"))
        }
    }
}

/// The timer phase: park N runs on one instant, then time their wake.
fn timers(flowc: &Path, options: &Options) -> Result<Timers> {
    let runs = options.runs;
    let (dir, mut serve) = start(flowc)?;
    let db = open_db(dir.path())?;
    let lead = options.park_seconds.unwrap_or(runs as f64 / 5_000.0 + 20.0);
    let at_ms = wall_ms() + (lead * 1000.0) as i64;
    let at = flowc_compiler::value::format_time_rfc3339(at_ms);
    let url = serve.url("/park");
    let started = Instant::now();
    let posted = post_many(runs, options.concurrency, {
        let (url, at) = (url.clone(), at.clone());
        move |client, index| {
            client
                .post(&url)
                .json(&json!({ "at": at, "id": format!("t{index}") }))
        }
    })?;
    eprintln!(
        "  {} webhooks in {:.1} s; waiting for every run to park before {at}",
        runs, posted
    );
    let parked_after = wait_for(&mut serve, &db, "waiting", runs, || {
        if wall_ms() >= at_ms {
            bail!(
                "`at` ({at}, {lead:.0} s after the first webhook) passed before every run had parked, so the wake cannot be timed; give more --park-seconds"
            )
        }
        Ok(())
    })?;
    let park_seconds = (parked_after - started).as_secs_f64();
    eprintln!("  all {runs} parked after {park_seconds:.1} s");
    std::thread::sleep(Duration::from_secs(2));
    let parked = serve.service.memory()?;
    if wall_ms() >= at_ms {
        bail!(
            "`at` ({at}) passed during the two settling seconds, so the wake cannot be timed; give more --park-seconds"
        );
    }
    let waiting = counts(&db)?;
    if waiting.get("waiting").copied().unwrap_or(0) != runs as u64 {
        bail!("runs woke before `at`: {waiting:?}");
    }
    let left = Duration::from_millis(u64::try_from(at_ms - wall_ms()).unwrap_or(0));
    eprintln!(
        "  RSS {:.1} MiB; waking at {at}, in {:.1} s",
        mib(parked.rss_kib),
        left.as_secs_f64()
    );
    std::thread::sleep(left);
    let last_ms = wait_finished(&mut serve, &db, runs)?;
    let wake_seconds = (last_ms - at_ms) as f64 / 1000.0;
    let peak_kib = serve.service.memory()?.hwm_kib;
    Ok(Timers {
        runs,
        lead_seconds: lead,
        posts_per_second: runs as f64 / posted,
        park_seconds,
        parked,
        wake_seconds,
        wakes_per_second: runs as f64 / wake_seconds.max(0.001),
        peak_kib,
    })
}

/// The event phase: park N runs on `await event`, then post one event for each.
fn events(flowc: &Path, options: &Options) -> Result<Events> {
    let runs = options.runs;
    let (dir, mut serve) = start(flowc)?;
    let db = open_db(dir.path())?;
    let at = flowc_compiler::value::format_time_rfc3339(wall_ms());
    let url = serve.url("/await");
    let started = Instant::now();
    let posted = post_many(runs, options.concurrency, move |client, index| {
        client
            .post(&url)
            .json(&json!({ "at": at, "id": format!("e{index}") }))
    })?;
    eprintln!("  {runs} webhooks in {posted:.1} s; waiting for every run to park");
    let parked_after = wait_for(&mut serve, &db, "waiting", runs, || Ok(()))?;
    let park_seconds = (parked_after - started).as_secs_f64();
    std::thread::sleep(Duration::from_secs(2));
    let parked = serve.service.memory()?;
    eprintln!(
        "  all {runs} waiting after {park_seconds:.1} s, RSS {:.1} MiB; posting {runs} events",
        mib(parked.rss_kib)
    );
    let url = serve.url("/api/v1/events/paid");
    let first_ms = wall_ms();
    let posted_events = post_many(runs, options.concurrency, move |client, index| {
        client
            .post(&url)
            .json(&json!({ "id": format!("e{index}") }))
    })?;
    let last_ms = wait_finished(&mut serve, &db, runs)?;
    let match_seconds = (last_ms - first_ms) as f64 / 1000.0;
    let peak_kib = serve.service.memory()?.hwm_kib;
    Ok(Events {
        runs,
        webhooks_per_second: runs as f64 / posted,
        park_seconds,
        parked,
        posts_per_second: runs as f64 / posted_events,
        match_seconds,
        matches_per_second: runs as f64 / match_seconds.max(0.001),
        peak_kib,
    })
}

/// `flowc serve` on a free loopback port with the program deployed, the admin
/// API open (`--no-admin-token`) and its database in a temporary directory.
fn start(flowc: &Path) -> Result<(tempfile::TempDir, Serve)> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("parked.flow");
    std::fs::write(&file, PROGRAM)?;
    let serve = Serve::start_with(flowc, dir.path(), &[file], &["--no-admin-token"])?;
    Ok((dir, serve))
}

/// A read-only connection to the database of the server [`start`] started in
/// `dir`.
fn open_db(dir: &Path) -> Result<Connection> {
    let path = dir.join("flowc.db");
    let db = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {} read-only", path.display()))?;
    db.busy_timeout(Duration::from_secs(5))?;
    Ok(db)
}

/// Sends `count` requests built by `request`, `concurrency` at once, on a tokio
/// runtime of one worker; every answer must be 202. The seconds it took.
fn post_many(
    count: usize,
    concurrency: usize,
    request: impl Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> Result<f64> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let client = reqwest::Client::new();
    let start = Instant::now();
    runtime.block_on(serve::post_many(&client, count, concurrency, request))?;
    Ok(start.elapsed().as_secs_f64())
}

/// Runs by status.
fn counts(db: &Connection) -> Result<BTreeMap<String, u64>> {
    let mut statement = db.prepare_cached("SELECT status, count(*) FROM runs GROUP BY status")?;
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
    })?;
    let mut counts = BTreeMap::new();
    for row in rows {
        let (status, count) = row?;
        counts.insert(status, u64::try_from(count).unwrap_or(0));
    }
    Ok(counts)
}

/// Polls until `runs` runs have `status`, calling `check` between polls; the
/// instant it saw them. Fails when a run failed, the server exited or nothing
/// moved for a minute.
fn wait_for(
    serve: &mut Serve,
    db: &Connection,
    status: &str,
    runs: usize,
    mut check: impl FnMut() -> Result<()>,
) -> Result<Instant> {
    let mut last = BTreeMap::new();
    let mut moved = Instant::now();
    loop {
        let now = counts(db)?;
        if now.get(status).copied().unwrap_or(0) == runs as u64 {
            return Ok(Instant::now());
        }
        if let Some(failed) = now.get("failed") {
            bail!(
                "{failed} runs failed ({now:?}); the server's log ends with:\n{}",
                serve.service.log_tail()
            );
        }
        if now != last {
            last = now;
            moved = Instant::now();
        } else if moved.elapsed() > Duration::from_secs(60) {
            bail!("no run changed status for a minute: {last:?}");
        }
        serve.service.check_alive()?;
        check()?;
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until all `runs` runs have succeeded; the largest `updated_at` among
/// them (when the last one ended, on the server's clock).
fn wait_finished(serve: &mut Serve, db: &Connection, runs: usize) -> Result<i64> {
    wait_for(serve, db, "succeeded", runs, || Ok(()))?;
    let last: Option<i64> = db.query_row(
        "SELECT max(updated_at) FROM runs WHERE status = 'succeeded'",
        [],
        |row| row.get(0),
    )?;
    last.context("no succeeded run")
}

/// Milliseconds since the Unix epoch on the wall clock, as the server's
/// `SystemClock` reads it.
fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One line of the table: a figure, its value, its goal and whether it is met.
struct Row {
    figure: String,
    value: String,
    goal: &'static str,
    met: Option<bool>,
}

fn rate(value: f64) -> String {
    format!("{}/s", crate::thousands(value))
}

fn print_table(results: &Results) {
    let mut rows = Vec::new();
    match &results.timers {
        Outcome::Done(t) => {
            let rss = mib(t.parked.rss_kib);
            rows.extend([
                Row {
                    figure: "timers: webhooks accepted".into(),
                    value: rate(t.posts_per_second),
                    goal: "-",
                    met: None,
                },
                Row {
                    figure: format!("timers: all parked after (lead {:.0} s)", t.lead_seconds),
                    value: format!("{:.1} s", t.park_seconds),
                    goal: "-",
                    met: None,
                },
                Row {
                    figure: "timers: RSS with all parked".into(),
                    value: format!("{rss:.1} MiB"),
                    goal: "< 100 MiB",
                    met: Some(rss < GOAL_PARKED_MIB),
                },
                Row {
                    figure: format!("timers: wake (all in {:.2} s)", t.wake_seconds),
                    value: rate(t.wakes_per_second),
                    goal: ">= 5,000/s",
                    met: Some(t.wakes_per_second >= GOAL_WAKES_PER_SECOND),
                },
                Row {
                    figure: "timers: peak RSS (VmHWM)".into(),
                    value: format!("{:.1} MiB", mib(t.peak_kib)),
                    goal: "-",
                    met: None,
                },
            ]);
        }
        other => rows.push(not_done("timers", other)),
    }
    match &results.events {
        Outcome::Done(e) => {
            let rss = mib(e.parked.rss_kib);
            rows.extend([
                Row {
                    figure: "events: webhooks accepted".into(),
                    value: rate(e.webhooks_per_second),
                    goal: "-",
                    met: None,
                },
                Row {
                    figure: "events: all waiting after".into(),
                    value: format!("{:.1} s", e.park_seconds),
                    goal: "-",
                    met: None,
                },
                Row {
                    figure: "events: RSS with all waiting".into(),
                    value: format!("{rss:.1} MiB"),
                    goal: "< 100 MiB",
                    met: Some(rss < GOAL_PARKED_MIB),
                },
                Row {
                    figure: "events: events accepted (POST)".into(),
                    value: rate(e.posts_per_second),
                    goal: "-",
                    met: None,
                },
                Row {
                    figure: format!("events: matched (all in {:.2} s)", e.match_seconds),
                    value: rate(e.matches_per_second),
                    goal: ">= 5,000/s",
                    met: Some(e.matches_per_second >= GOAL_MATCHES_PER_SECOND),
                },
                Row {
                    figure: "events: peak RSS (VmHWM)".into(),
                    value: format!("{:.1} MiB", mib(e.peak_kib)),
                    goal: "-",
                    met: None,
                },
            ]);
        }
        other => rows.push(not_done("events", other)),
    }
    println!();
    println!(
        "flowc-bench parked: {} runs per phase, {} requests in flight, {} cores, load average {} before, {} after",
        crate::thousands(results.runs as f64),
        results.concurrency,
        results.cores,
        results.load_before,
        results.load_after
    );
    println!("  {:<40} {:>12}  {:<11} met?", "figure", "value", "goal");
    for row in rows {
        let met = match row.met {
            Some(true) => "met",
            Some(false) => "NOT met",
            None => "",
        };
        println!(
            "  {:<40} {:>12}  {:<11} {met}",
            row.figure, row.value, row.goal
        );
    }
}

fn not_done<T>(phase: &str, outcome: &Outcome<T>) -> Row {
    Row {
        figure: phase.into(),
        value: outcome.note(),
        goal: "-",
        met: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_checks_without_diagnostics() {
        let analysis = flowc_compiler::analyze(
            vec![flowc_compiler::SourceFile {
                path: "parked.flow".into(),
                text: PROGRAM.into(),
            }],
            &flowc_compiler::NoImports,
        );
        let codes: Vec<_> = analysis
            .diagnostics
            .iter()
            .map(|entry| entry.diagnostic.code)
            .collect();
        assert!(codes.is_empty(), "{codes:?}");
    }
}
