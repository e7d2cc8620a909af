//! `flowc-bench check`: whole-program analysis throughput.
//!
//! Times [`flowc_compiler::analyze`] (load and parse, resolve, type check, lower to
//! IR) over every file of a project as roots of one program, on one thread, with
//! lexing alone and lexing plus parsing timed in the same run as baselines. The
//! stages are also timed one by one through the compiler's public stage functions,
//! so a slow figure says where to look. Before anything is timed the project must
//! analyze without an error: a benchmark of error recovery would measure the wrong
//! thing. Optionally, the real `flowc` binary is timed over the same directory.

use crate::memory;
use crate::{
    SourceFile, Timing, count_lines, millis, ratio, read_project, thousands, time_runs,
    write_project,
};
use anyhow::{Context as _, Result};
use flowc_compiler::{Loader, Severity, check, resolve, syntax};
use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The goal for `flowc check` of the generated project, in lines per second.
const GOAL_LINES_PER_SECOND: f64 = 500_000.0;

/// What the `check` command was asked to do.
pub struct Options {
    pub dir: Option<PathBuf>,
    pub lines: usize,
    pub runs: usize,
    pub min_seconds: f64,
    /// The `flowc` binary to time; `None` to look next to this one.
    pub flowc: Option<PathBuf>,
    pub no_binary: bool,
}

/// Imports answered from the project in memory, as `flowc check`'s disk loader
/// would answer them from the directory, so that no file IO is timed.
struct MemoryLoader {
    files: HashMap<String, String>,
}

impl Loader for MemoryLoader {
    fn load(&self, path: &str) -> Result<String, String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| format!("{path} is not part of the project"))
    }
}

fn roots_of(files: &[SourceFile]) -> Vec<flowc_compiler::SourceFile> {
    files
        .iter()
        .map(|file| flowc_compiler::SourceFile {
            path: file.path.clone(),
            text: file.source.clone(),
        })
        .collect()
}

/// Analyzes the project once and reports its diagnostics, grouped by code with the
/// first few rendered. Returns the number of errors and of warnings.
fn report_diagnostics(analysis: &flowc_compiler::Analysis) -> (usize, usize) {
    let mut by_code: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    let (mut errors, mut warnings) = (0, 0);
    for entry in &analysis.diagnostics {
        let diagnostic = &entry.diagnostic;
        match diagnostic.severity {
            Severity::Error => errors += 1,
            _ => warnings += 1,
        }
        let examples = by_code
            .entry((diagnostic.severity.as_str(), diagnostic.code.as_str()))
            .or_default();
        if examples.len() < 2
            && let Some(file) = analysis.file(entry.file)
        {
            examples.push(flowc_compiler::diagnostic::render(
                diagnostic, &file.path, &file.text, false,
            ));
        }
    }
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for entry in &analysis.diagnostics {
        let diagnostic = &entry.diagnostic;
        *counts
            .entry((diagnostic.severity.as_str(), diagnostic.code.as_str()))
            .or_default() += 1;
    }
    for ((severity, code), examples) in &by_code {
        eprintln!(
            "{severity} {code}: {} times",
            counts.get(&(*severity, *code)).copied().unwrap_or(0)
        );
        for example in examples {
            eprint!("{example}");
        }
    }
    (errors, warnings)
}

/// Times the `flowc` binary over `dir`: one warm-up, then `runs` runs; the median.
fn time_binary(flowc: &Path, dir: &Path, args: &[&str], runs: usize) -> Result<Duration> {
    let run = || -> Result<Duration> {
        let start = Instant::now();
        let status = Command::new(flowc)
            .arg("check")
            .args(args)
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .with_context(|| format!("cannot run {}", flowc.display()))?;
        let elapsed = start.elapsed();
        anyhow::ensure!(
            status.success(),
            "{} check {} failed: {status}",
            flowc.display(),
            dir.display()
        );
        Ok(elapsed)
    };
    run()?;
    let mut durations = (0..runs.max(1))
        .map(|_| run())
        .collect::<Result<Vec<_>>>()?;
    durations.sort();
    Ok(durations[durations.len() / 2])
}

pub fn run(options: Options) -> Result<ExitCode> {
    let temporary;
    let dir = match options.dir {
        Some(dir) => dir,
        None => {
            temporary = tempfile::tempdir().context("cannot create a temporary directory")?;
            let dir = temporary.path().to_path_buf();
            write_project(options.lines, crate::default_files(options.lines), &dir)?;
            dir
        }
    };
    let files = read_project(&dir)?;
    let loader = MemoryLoader {
        files: files
            .iter()
            .map(|file| (resolve::normalize(&file.path), file.source.clone()))
            .collect(),
    };
    let total_lines: usize = files.iter().map(|file| count_lines(&file.source)).sum();
    let total_bytes: usize = files.iter().map(|file| file.source.len()).sum();

    // Memory first, on a heap that has analyzed nothing yet: the peak of one
    // `analyze`, and what its result holds while it is kept.
    let (analysis, first_peak) =
        memory::peak_during(|| flowc_compiler::analyze(roots_of(&files), &loader));
    let (errors, warnings) = report_diagnostics(&analysis);
    drop(analysis);
    if errors > 0 {
        eprintln!(
            "error: the benchmark input must analyze without errors ({errors} errors, {warnings} warnings)"
        );
        return Ok(ExitCode::FAILURE);
    }

    let (runs, min_seconds) = (options.runs.max(5), options.min_seconds);
    let sources: Vec<&str> = files.iter().map(|file| file.source.as_str()).collect();
    let lex = time_runs(
        runs,
        min_seconds,
        || (),
        |()| {
            for source in &sources {
                black_box(syntax::lex(black_box(source)));
            }
        },
    );
    let parse = time_runs(
        runs,
        min_seconds,
        || (),
        |()| {
            for source in &sources {
                black_box(syntax::parse(black_box(source)));
            }
        },
    );
    // The roots are cloned outside the timed part: `analyze` takes them by value.
    let (analyze, analyze_peak) = memory::peak_during(|| {
        time_runs(
            runs,
            min_seconds,
            || roots_of(&files),
            |roots| {
                black_box(flowc_compiler::analyze(roots, &loader));
            },
        )
    });

    // The same work stage by stage, each stage timed over its own input.
    let load = time_runs(
        runs,
        min_seconds,
        || roots_of(&files),
        |roots| {
            black_box(resolve::load(roots, &loader));
        },
    );
    let declarations = time_runs(
        runs,
        min_seconds,
        || resolve::load(roots_of(&files), &loader),
        |(loaded, mut diagnostics)| {
            black_box(resolve::declarations(&loaded, &mut diagnostics));
        },
    );
    let program = time_runs(
        runs,
        min_seconds,
        || {
            let (loaded, mut diagnostics) = resolve::load(roots_of(&files), &loader);
            let declarations = resolve::declarations(&loaded, &mut diagnostics);
            (loaded, declarations, diagnostics)
        },
        |(loaded, declarations, mut diagnostics)| {
            black_box(check::program(&loaded, declarations, &mut diagnostics));
        },
    );

    let flowc = match (&options.flowc, options.no_binary) {
        (_, true) => None,
        (Some(path), false) => Some(path.clone()),
        (None, false) => std::env::current_exe()
            .ok()
            .map(|exe| exe.with_file_name("flowc"))
            .filter(|path| path.is_file()),
    };
    let binary = match &flowc {
        Some(flowc) => Some((
            time_binary(flowc, &dir, &[], runs)?,
            time_binary(flowc, &dir, &["--format", "json"], runs)?,
        )),
        None => None,
    };

    let lines_per_second = |time: Duration| total_lines as f64 / time.as_secs_f64();
    println!("flowc-bench check: one thread, release build expected");
    println!(
        "input: {} files, {} lines, {} bytes ({}); analyze: 0 errors, {warnings} warnings",
        files.len(),
        thousands(total_lines as f64),
        thousands(total_bytes as f64),
        dir.display()
    );
    println!();
    println!(
        "{:<38} {:>11} {:>11} {:>14} {:>8} {:>12}",
        "phase (median)", "time/run", "fastest", "lines/s", "× lex", "× lex+parse"
    );
    let row = |name: &str, timing: &Timing| {
        println!(
            "{:<38} {:>11} {:>11} {:>14} {:>8.2} {:>12.2}",
            format!("{name} ({} runs)", timing.runs),
            millis(timing.median),
            millis(timing.fastest),
            thousands(lines_per_second(timing.median)),
            ratio(timing.median, lex.median),
            ratio(timing.median, parse.median),
        );
    };
    row("lex", &lex);
    row("lex+parse", &parse);
    row("analyze", &analyze);
    row("  resolve::load (parse)", &load);
    row("  resolve::declarations", &declarations);
    row("  check::program (types, IR)", &program);
    if let (Some(flowc), Some((human, json))) = (&flowc, binary) {
        println!();
        println!(
            "{} check, wall clock, median of {runs} runs (process, file reads, output):",
            flowc.display()
        );
        for (name, time) in [("human", human), ("--format json", json)] {
            println!(
                "  {name:<14} {:>11} {:>14} lines/s",
                millis(time),
                thousands(lines_per_second(time))
            );
        }
    }
    println!();
    println!("peak memory (VmHWM over the resident size before the phase):");
    println!("  first analyze, fresh heap   {}", first_peak.describe());
    println!("  timed analyze runs          {}", analyze_peak.describe());
    println!();
    let achieved = lines_per_second(analyze.median);
    let verdict = if achieved >= GOAL_LINES_PER_SECOND {
        "met"
    } else {
        "NOT met"
    };
    println!(
        "goal: ≥ {} lines/s for analyze on one core: {verdict} ({} lines/s, {:.0}% of the goal)",
        thousands(GOAL_LINES_PER_SECOND),
        thousands(achieved),
        100.0 * achieved / GOAL_LINES_PER_SECOND
    );
    Ok(ExitCode::SUCCESS)
}
