//! `flowc-bench`: generated projects, parse and analysis throughput, measured the same way on
//! every machine.
//!
//! `flowc-bench gen --lines N --out DIR` writes a deterministic project (see
//! `generate`); `flowc-bench parse [DIR]` reads every `.flow` file under DIR into
//! memory (generating a 100,000-line project in a temporary directory when no DIR
//! is given), checks that it parses without a diagnostic, then times lexing and
//! lexing plus parsing on one thread. Absolute figures depend on the machine, so it
//! also times two baselines in the same run, counting newlines with `memchr` and
//! lexing alone, and prints each phase as a ratio to them. `flowc-bench check
//! [DIR]` checks that the project analyzes without an error, then times whole-program
//! analysis the same way (see `check`), and the `flowc` binary over DIR.
//! `flowc-bench editor` the latency of re-analysis after an edit and of the
//! editor's queries on one 5,000-line file (see `editor`).
//! `flowc-bench expr --records FILE` times expression evaluation over JSON Lines
//! records: the interpreter, the JIT, hand-written Rust and the peers (see `expr`).
//! `flowc-bench runtime` measures the runtime beside its peers (see `runtime`);
//! `flowc-bench parked` the memory of 100,000 parked runs in `flowc serve`, how
//! fast they wake at one instant and how fast events find their awaiting runs (see
//! `parked`).
//!
//! A benchmark reads the wall clock by definition; this binary is the one place
//! outside the runtime's `Clock` that may.

#![allow(clippy::disallowed_methods)]

mod check;
mod editor;
mod expr;
mod generate;
mod memory;
mod parked;
mod runtime;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use flowc_compiler::syntax;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The goal for lexing plus parsing on one core, in lines per second.
const GOAL_LINES_PER_SECOND: f64 = 1_000_000.0;

#[derive(Parser)]
#[command(
    name = "flowc-bench",
    about = "Benchmarks of the flowc compiler and runtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a generated project of realistic workflows.
    Gen {
        /// Total lines to generate.
        #[arg(long, default_value_t = 100_000)]
        lines: usize,
        /// Files to spread them over [default: one per 500 lines].
        #[arg(long)]
        files: Option<usize>,
        /// The directory to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Measure lex and lex+parse throughput on one thread.
    Parse {
        /// A directory of `.flow` files [default: a generated project in a temporary
        /// directory].
        dir: Option<PathBuf>,
        /// Lines of the generated project when no DIR is given.
        #[arg(long, default_value_t = 100_000)]
        lines: usize,
        /// Timed runs per phase, at least.
        #[arg(long, default_value_t = 7)]
        runs: usize,
        /// Keep running a phase until this many seconds have passed (up to 50 runs).
        #[arg(long, default_value_t = 2.0)]
        min_seconds: f64,
    },
    /// Measure whole-program analysis (parse, resolve, type check, IR) on one
    /// thread, against lex and lex+parse, and time the `flowc` binary.
    Check {
        /// A directory of `.flow` files [default: a generated project in a temporary
        /// directory].
        dir: Option<PathBuf>,
        /// Lines of the generated project when no DIR is given.
        #[arg(long, default_value_t = 100_000)]
        lines: usize,
        /// Timed runs per phase, at least (never fewer than 5).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Keep running a phase until this many seconds have passed (up to 50 runs).
        #[arg(long, default_value_t = 2.0)]
        min_seconds: f64,
        /// The `flowc` binary to time [default: `flowc` next to this binary, when
        /// built].
        #[arg(long)]
        flowc: Option<PathBuf>,
        /// Do not time the `flowc` binary.
        #[arg(long)]
        no_binary: bool,
    },
    /// Measure the editor's latency on one large file: re-analysis after a
    /// one-character edit, completion, hover and references (p50/p99).
    Editor {
        /// Lines of the generated file.
        #[arg(long, default_value_t = 5_000)]
        lines: usize,
        /// Timed calls per query.
        #[arg(long, default_value_t = 200)]
        iterations: usize,
        /// Also write the generated file here.
        #[arg(long)]
        write: Option<PathBuf>,
    },
    /// Measure the runtime (checkpointed steps/s, webhook ingestion, latency,
    /// memory) side by side with its peers; prints a table with ratios.
    Runtime(RuntimeArgs),
    /// Measure expression evaluation over JSON Lines records: the interpreter,
    /// the JIT, hand-written Rust and the peers, side by side (issue 8).
    Expr(ExprArgs),
    /// Measure 100,000 parked runs in `flowc serve`: resident memory, the wake
    /// rate of one `wait until` instant, and events matched to `await event`s.
    Parked(ParkedArgs),
}

#[derive(clap::Args)]
struct ExprArgs {
    /// The records, one JSON document a line (`../shared/peers/expr/gen_records.py`).
    #[arg(long)]
    records: PathBuf,
    /// Timed runs per phase; the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Compiles timed per expression for the compile-time figure.
    #[arg(long, default_value_t = 200)]
    compiles: usize,
    /// The peers' figures from `run_expr.py` (JSON lines) to put in the table.
    #[arg(long)]
    peers: Option<PathBuf>,
    /// Also time whole runs of this `flowc` binary's `eval --lines`.
    #[arg(long)]
    flowc: Option<PathBuf>,
    /// Also append every figure as a JSON line to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// With --flowc, also measure webhook ingestion through `flowc serve --jit
    /// off` and `--jit auto` with wrk passes of this many seconds.
    #[arg(long)]
    webhook_seconds: Option<u64>,
    /// wrk connections for the webhook figure.
    #[arg(long, default_value_t = 16)]
    connections: usize,
}

#[derive(clap::Args)]
struct ParkedArgs {
    /// The `flowc` binary to serve with [default: `flowc` next to this binary].
    #[arg(long)]
    flowc: Option<PathBuf>,
    /// Runs per phase.
    #[arg(long, default_value_t = 100_000)]
    runs: usize,
    /// Requests in flight at once while posting webhooks and events.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds from the first webhook to the timers' wake-up instant [default:
    /// runs / 5,000 + 20].
    #[arg(long)]
    park_seconds: Option<f64>,
    /// Only these phases (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<parked::Phase>,
    /// Also write every figure as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RuntimeArgs {
    /// The `flowc` binary to serve with [default: `flowc` next to this binary].
    #[arg(long)]
    flowc: Option<PathBuf>,
    /// What `flowc serve` deploys for the idle-memory figure.
    #[arg(long, default_value = "examples")]
    examples: PathBuf,
    /// Where the peers are installed (see ../shared/peers/README.md).
    #[arg(long, default_value = "/tmp/peers")]
    peers: PathBuf,
    /// The peers' scripts and configurations [default: ../shared/peers].
    #[arg(long)]
    peer_scripts: Option<PathBuf>,
    /// Only these sections (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<runtime::Section>,
    /// Not these sections (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    skip: Vec<runtime::Section>,
    /// Passes per figure; the median is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Runs per steps pass.
    #[arg(long, default_value_t = 10_000)]
    runs: usize,
    /// HTTP steps per run in the steps benchmark.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Runs in flight at once in the steps benchmark.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Sequential runs timed for the latency figures.
    #[arg(long, default_value_t = 1000)]
    latency_runs: usize,
    /// HTTP steps per run in the latency figures.
    #[arg(long, default_value_t = 3)]
    latency_steps: usize,
    /// wrk connections for the webhook servers (Restate always gets 16).
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Seconds per wrk pass.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Also write every figure, passes included, as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gen { lines, files, out } => gen_command(lines, files, &out),
        Command::Parse {
            dir,
            lines,
            runs,
            min_seconds,
        } => parse_command(dir, lines, runs, min_seconds),
        Command::Check {
            dir,
            lines,
            runs,
            min_seconds,
            flowc,
            no_binary,
        } => check::run(check::Options {
            dir,
            lines,
            runs,
            min_seconds,
            flowc,
            no_binary,
        }),
        Command::Editor {
            lines,
            iterations,
            write,
        } => editor::run(editor::Options {
            lines,
            iterations: iterations.max(1),
            write,
        }),
        Command::Runtime(args) => runtime::run(runtime::Options {
            flowc: args.flowc,
            examples: args.examples,
            places: runtime::Places {
                install: args.peers,
                scripts: args.peer_scripts.unwrap_or_else(runtime::default_scripts),
            },
            only: args.only,
            skip: args.skip,
            repeat: args.repeat,
            runs: args.runs,
            steps: args.steps,
            concurrency: args.concurrency,
            latency_runs: args.latency_runs,
            latency_steps: args.latency_steps,
            connections: args.connections,
            seconds: args.seconds,
            json: args.json,
        }),
        Command::Expr(args) => expr::run(&expr::Options {
            records: args.records,
            runs: args.runs,
            compiles: args.compiles,
            peers: args.peers,
            flowc: args.flowc,
            json: args.json,
            webhook_seconds: args.webhook_seconds,
            connections: args.connections,
        }),
        Command::Parked(args) => parked::run(parked::Options {
            flowc: args.flowc,
            runs: args.runs,
            concurrency: args.concurrency,
            park_seconds: args.park_seconds,
            only: args.only,
            json: args.json,
        }),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn default_files(lines: usize) -> usize {
    lines.div_ceil(500).max(1)
}

/// Generates a project into `out` and checks it parses cleanly.
fn gen_command(lines: usize, files: Option<usize>, out: &Path) -> Result<ExitCode> {
    let files = files.unwrap_or_else(|| default_files(lines));
    let sources = write_project(lines, files, out)?;
    if let Some(report) = first_diagnostic(&sources) {
        eprint!("{report}");
        eprintln!("error: the generated project does not parse cleanly");
        return Ok(ExitCode::FAILURE);
    }
    let total: usize = sources.iter().map(|file| count_lines(&file.source)).sum();
    let bytes: usize = sources.iter().map(|file| file.source.len()).sum();
    println!(
        "wrote {} files, {} lines, {} bytes to {}",
        sources.len(),
        thousands(total as f64),
        thousands(bytes as f64),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// One source file held in memory.
struct SourceFile {
    path: String,
    source: String,
}

fn write_project(lines: usize, files: usize, out: &Path) -> Result<Vec<SourceFile>> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let project = generate::project(generate::Options { lines, files });
    let mut written = Vec::with_capacity(project.len());
    for file in project {
        let path = out.join(&file.name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, &file.source)
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(SourceFile {
            path: path.display().to_string(),
            source: file.source,
        });
    }
    Ok(written)
}

/// Every `.flow` file under `dir`, sorted by path, read into memory.
fn read_project(dir: &Path) -> Result<Vec<SourceFile>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("cannot walk {}", dir.display()))?;
        let path = entry.path();
        if entry.file_type().is_file() && path.extension().is_some_and(|ext| ext == "flow") {
            let source = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            files.push(SourceFile {
                path: path.display().to_string(),
                source,
            });
        }
    }
    if files.is_empty() {
        bail!("no .flow files under {}", dir.display());
    }
    Ok(files)
}

/// The first diagnostic of the first file that has one, rendered.
fn first_diagnostic(files: &[SourceFile]) -> Option<String> {
    files.iter().find_map(|file| {
        let parse = syntax::parse(&file.source);
        let first = parse.diagnostics.first()?;
        Some(flowc_compiler::diagnostic::render(
            first,
            &file.path,
            &file.source,
            false,
        ))
    })
}

fn count_lines(source: &str) -> usize {
    let newlines = memchr::memchr_iter(b'\n', source.as_bytes()).count();
    newlines + usize::from(!source.is_empty() && !source.ends_with('\n'))
}

/// The median and fastest of a phase's timed runs.
struct Timing {
    median: Duration,
    fastest: Duration,
    runs: usize,
}

/// Runs `phase` once to warm up, then times it at least `min_runs` times and until
/// `min_seconds` have passed, at most 50 times.
fn time_phase(min_runs: usize, min_seconds: f64, mut phase: impl FnMut()) -> Timing {
    time_runs(min_runs, min_seconds, || (), |()| phase())
}

/// [`time_phase`] for a phase that consumes its input: `setup` makes a fresh one
/// before each run, untimed.
fn time_runs<T>(
    min_runs: usize,
    min_seconds: f64,
    mut setup: impl FnMut() -> T,
    mut phase: impl FnMut(T),
) -> Timing {
    phase(setup());
    let budget = Duration::from_secs_f64(min_seconds.max(0.0));
    let mut durations = Vec::new();
    let mut spent = Duration::ZERO;
    while durations.len() < min_runs.max(1) || (spent < budget && durations.len() < 50) {
        let input = setup();
        let start = Instant::now();
        phase(input);
        let elapsed = start.elapsed();
        spent += elapsed;
        durations.push(elapsed);
    }
    durations.sort();
    Timing {
        median: durations[durations.len() / 2],
        fastest: durations[0],
        runs: durations.len(),
    }
}

fn parse_command(
    dir: Option<PathBuf>,
    lines: usize,
    runs: usize,
    min_seconds: f64,
) -> Result<ExitCode> {
    // The temporary directory lives until the end of the measurement.
    let temporary;
    let dir = match dir {
        Some(dir) => dir,
        None => {
            temporary = tempfile::tempdir().context("cannot create a temporary directory")?;
            let dir = temporary.path().to_path_buf();
            write_project(lines, default_files(lines), &dir)?;
            dir
        }
    };
    let files = read_project(&dir)?;
    let sources: Vec<&str> = files.iter().map(|file| file.source.as_str()).collect();
    let total_lines: usize = sources.iter().map(|source| count_lines(source)).sum();
    let total_bytes: usize = sources.iter().map(|source| source.len()).sum();

    // Memory first, on a heap that has parsed nothing yet.
    let largest = files
        .iter()
        .max_by_key(|file| file.source.len())
        .context("no files")?;
    let ast = memory::largest_ast(&largest.source, syntax::parse);

    if let Some(report) = first_diagnostic(&files) {
        eprint!("{report}");
        eprintln!("error: the benchmark input must parse without diagnostics");
        return Ok(ExitCode::FAILURE);
    }
    let tokens: usize = sources
        .iter()
        .map(|source| syntax::lex(source).tokens.len())
        .sum();

    let newline = time_phase(runs, min_seconds, || {
        for source in &sources {
            black_box(memchr::memchr_iter(b'\n', black_box(source).as_bytes()).count());
        }
    });
    let (lex, lex_peak) = memory::peak_during(|| {
        time_phase(runs, min_seconds, || {
            for source in &sources {
                black_box(syntax::lex(black_box(source)));
            }
        })
    });
    let (parse, parse_peak) = memory::peak_during(|| {
        time_phase(runs, min_seconds, || {
            for source in &sources {
                black_box(syntax::parse(black_box(source)));
            }
        })
    });

    // The fixed cost of one `parse` call, and whether it leaks, show best on an
    // empty file. Last, so that what it leaks does not inflate the figures above.
    let empty_calls = 2_000;
    let empty_start = Instant::now();
    let leak = memory::growth_per_call(empty_calls, || {
        black_box(syntax::parse(black_box("")));
    });
    let empty_call = empty_start.elapsed() / empty_calls as u32;

    let per_second = |count: usize, time: Duration| count as f64 / time.as_secs_f64();
    let lines_per_second = |time: Duration| per_second(total_lines, time);
    let parse_only = parse.median.saturating_sub(lex.median);

    println!("flowc-bench parse: one thread, release build expected");
    let mix = LineMix::of(&sources);
    println!(
        "input: {} files, {} lines, {} bytes, {} tokens ({})",
        files.len(),
        thousands(total_lines as f64),
        thousands(total_bytes as f64),
        thousands(tokens as f64),
        dir.display()
    );
    println!(
        "mix: {:.1} bytes and {:.1} tokens a line; {:.0}% comment lines, {:.0}% blank",
        total_bytes as f64 / total_lines.max(1) as f64,
        tokens as f64 / total_lines.max(1) as f64,
        100.0 * mix.comment as f64 / total_lines.max(1) as f64,
        100.0 * mix.blank as f64 / total_lines.max(1) as f64,
    );
    println!(
        "largest file: {} ({} lines, {} bytes)",
        largest.path,
        thousands(count_lines(&largest.source) as f64),
        thousands(largest.source.len() as f64)
    );
    println!();
    println!(
        "{:<22} {:>11} {:>11} {:>14} {:>10} {:>12} {:>8}",
        "phase (median)", "time/run", "fastest", "lines/s", "MiB/s", "× newlines", "× lex"
    );
    let row = |name: &str, timing: &Timing| {
        println!(
            "{:<22} {:>11} {:>11} {:>14} {:>10.1} {:>12.1} {:>8.2}",
            format!("{name} ({} runs)", timing.runs),
            millis(timing.median),
            millis(timing.fastest),
            thousands(lines_per_second(timing.median)),
            per_second(total_bytes, timing.median) / (1024.0 * 1024.0),
            ratio(timing.median, newline.median),
            ratio(timing.median, lex.median),
        );
    };
    row("newline count", &newline);
    row("lex", &lex);
    row("lex+parse", &parse);
    println!(
        "{:<22} {:>11} {:>11} {:>14} {:>10.1}",
        "parse alone (diff)",
        millis(parse_only),
        "",
        thousands(lines_per_second(parse_only)),
        per_second(total_bytes, parse_only) / (1024.0 * 1024.0),
    );
    println!();
    println!("peak memory (VmHWM over the resident size before the phase):");
    println!("  lex        {}", lex_peak.describe());
    println!("  lex+parse  {}", parse_peak.describe());
    println!(
        "  largest file, parsed alone: {}",
        ast.describe(largest.source.len())
    );
    println!(
        "  parse(\"\"), {empty_calls} calls: {:.1} µs a call; {}",
        empty_call.as_secs_f64() * 1e6,
        match leak {
            Some(kib) if kib >= 0.5 =>
                format!("resident size grows {kib:.1} KiB a call and never comes back: a leak"),
            Some(_) => "no growth in resident size".to_string(),
            None => "resident size unavailable".to_string(),
        }
    );
    println!();
    let achieved = lines_per_second(parse.median);
    let verdict = if achieved >= GOAL_LINES_PER_SECOND {
        "met"
    } else {
        "NOT met"
    };
    println!(
        "goal: ≥ {} lines/s lex+parse on one core: {verdict} ({} lines/s, {:.0}% of the goal)",
        thousands(GOAL_LINES_PER_SECOND),
        thousands(achieved),
        100.0 * achieved / GOAL_LINES_PER_SECOND
    );
    Ok(ExitCode::SUCCESS)
}

/// How many lines hold only a comment, and how many nothing: what a "line" in
/// lines per second is made of.
struct LineMix {
    comment: usize,
    blank: usize,
}

impl LineMix {
    fn of(sources: &[&str]) -> LineMix {
        let mut mix = LineMix {
            comment: 0,
            blank: 0,
        };
        for line in sources.iter().flat_map(|source| source.lines()) {
            let line = line.trim();
            if line.is_empty() {
                mix.blank += 1;
            } else if line.starts_with("//") || line.starts_with("/*") || line.starts_with('*') {
                mix.comment += 1;
            }
        }
        mix
    }
}

fn ratio(time: Duration, baseline: Duration) -> f64 {
    time.as_secs_f64() / baseline.as_secs_f64().max(f64::MIN_POSITIVE)
}

fn millis(time: Duration) -> String {
    format!("{:.2} ms", time.as_secs_f64() * 1_000.0)
}

/// `1234567.8` → `"1,234,568"`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_000.0), "1,000");
        assert_eq!(thousands(1_234_567.4), "1,234,567");
    }

    #[test]
    fn lines_count_a_last_line_without_newline() {
        assert_eq!(count_lines(""), 0);
        assert_eq!(count_lines("a\nb\n"), 2);
        assert_eq!(count_lines("a\nb"), 2);
    }
}
