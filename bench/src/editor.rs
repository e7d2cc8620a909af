//! `flowc-bench editor`: how fast the editor's questions are answered on a large
//! file.
//!
//! The language server analyses the whole text again after every edit and answers
//! completion and hover from that analysis, so what a user feels is the latency of
//! one re-analysis and of one query, not throughput. This command generates one
//! deterministic file of about 5,000 lines (types, connections, workflows with
//! steps: the `generate` module's output as one file), checks that it analyses
//! without an error, then times, one call at a time: `analyze` of the text after a
//! one-character edit (a space inserted at the start of a different line each
//! time), `ide::completion` right after a `.` at positions spread over the file,
//! `ide::hover` on the field after such a `.`, and `ide::references` of that field.
//! It prints p50, p99 and the maximum of each, against the goals (re-analysis p99
//! < 20 ms, completion p99 < 10 ms), and the stages of `analyze` timed one by one
//! so a slow figure says where to look. A result is dropped after the clock stops
//! (an editor drops the old analysis off the path of the next answer); the drop of
//! an analysis is timed on its own.

use crate::generate;
use anyhow::{Result, bail};
use flowc_compiler::{FileId, Loader, SourceFile, analyze, check, ide, resolve};
use std::collections::HashMap;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The goal for the p99 of a re-analysis after an edit.
const GOAL_ANALYSIS: Duration = Duration::from_millis(20);
/// The goal for the p99 of a completion.
const GOAL_COMPLETION: Duration = Duration::from_millis(10);

/// What the `editor` command was asked to do.
pub struct Options {
    pub lines: usize,
    pub iterations: usize,
    /// Also write the generated file here, to profile or open it.
    pub write: Option<std::path::PathBuf>,
}

/// Imports answered from memory, so no file IO is timed.
struct MemoryLoader(HashMap<String, String>);

impl Loader for MemoryLoader {
    fn load(&self, path: &str) -> Result<String, String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| format!("{path} is not part of the project"))
    }
}

pub fn run(options: Options) -> Result<ExitCode> {
    let mut files = generate::project(generate::Options {
        lines: options.lines,
        files: 1,
    });
    if files.is_empty() {
        bail!("the generator wrote nothing");
    }
    let main = files.remove(0);
    let loader = MemoryLoader(
        files
            .into_iter()
            .map(|file| (file.name, file.source))
            .collect(),
    );
    if let Some(path) = &options.write {
        std::fs::write(path, &main.source)?;
    }
    let analyse = |text: &str| {
        analyze(
            vec![SourceFile {
                path: main.name.clone(),
                text: text.to_string(),
            }],
            &loader,
        )
    };
    let baseline = analyse(&main.source);
    if let Some(error) = baseline
        .diagnostics
        .iter()
        .find(|entry| entry.diagnostic.is_error())
    {
        bail!(
            "the generated file does not analyse cleanly: {} {}",
            error.diagnostic.code.as_str(),
            error.diagnostic.message
        );
    }
    let lines = main.source.lines().count();
    let info = &baseline.info;
    let mut spans: Vec<(u32, u32, u32)> = info
        .types
        .iter()
        .map(|typed| (typed.file.0, typed.span.start, typed.span.end))
        .collect();
    spans.sort_unstable();
    spans.dedup();
    println!(
        "facts: {} typed spans ({} distinct), {} references, {} definitions",
        info.types.len(),
        spans.len(),
        info.references.len(),
        info.definitions.len()
    );
    println!(
        "file: {} lines, {} bytes (+ {} imported files); {} iterations per query",
        lines,
        main.source.len(),
        baseline.files.len().saturating_sub(1),
        options.iterations
    );

    // (a) Re-analysis after a one-character edit, a different line each time.
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(main.source.match_indices('\n').map(|(at, _)| at + 1))
        .filter(|&at| at < main.source.len())
        .collect();
    let mut edited = Vec::with_capacity(options.iterations);
    for iteration in 0..options.iterations {
        let at = line_starts[(iteration * 7919) % line_starts.len()];
        let mut text = main.source.clone();
        text.insert(at, ' ');
        edited.push(text);
    }
    let analysis_times = time_each(&edited, |text| analyse(text));
    let mut drop_times: Vec<Duration> = edited[..edited.len().min(50)]
        .iter()
        .map(|text| {
            let analysis = analyse(text);
            let start = Instant::now();
            drop(black_box(analysis));
            start.elapsed()
        })
        .collect();
    drop_times.sort();
    let stages = stage_times(&edited[..edited.len().min(50)], &main.name, &loader);

    // (b) Completion, hover and references after a `.` of a field access.
    let file = FileId(0);
    let dots = field_dots(&main.source, 20);
    if dots.is_empty() {
        bail!("the generated file has no field access to complete");
    }
    let positions: Vec<u32> = (0..options.iterations)
        .map(|iteration| dots[iteration % dots.len()])
        .collect();
    let answered = dots
        .iter()
        .filter(|&&at| !ide::completion(&baseline, file, at).is_empty())
        .count();
    let hovered = dots
        .iter()
        .filter(|&&at| ide::hover(&baseline, file, at + 1).is_some())
        .count();
    println!(
        "positions: {} after a `.` ({answered} with completions, {hovered} with a hover)",
        dots.len()
    );
    let completion_times = time_each(&positions, |&at| ide::completion(&baseline, file, at));
    let hover_times = time_each(&positions, |&at| ide::hover(&baseline, file, at + 1));
    let references_times = time_each(&positions, |&at| {
        ide::references(&baseline, file, at + 1, true)
    });
    let symbols_times = time_each(&positions[..positions.len().min(50)], |_| {
        ide::document_symbols(&baseline, file)
    });

    println!("{:<34} {:>9} {:>9} {:>9}  goal", "", "p50", "p99", "max");
    let mut met = true;
    met &= row(
        "re-analysis after a 1-char edit",
        &analysis_times,
        Some(GOAL_ANALYSIS),
    );
    met &= row(
        "completion after `.`",
        &completion_times,
        Some(GOAL_COMPLETION),
    );
    for (stage, times) in &stages {
        row(&format!("  of which {stage}"), times, None);
    }
    row("dropping the old analysis", &drop_times, None);
    row("hover on a field", &hover_times, None);
    row("references of a field", &references_times, None);
    row("document symbols", &symbols_times, None);
    Ok(if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The stages of `analyze` timed one by one through the compiler's public stage
/// functions, over the edited texts: where a slow re-analysis spends its time.
fn stage_times(
    texts: &[String],
    path: &str,
    loader: &dyn Loader,
) -> Vec<(&'static str, Vec<Duration>)> {
    let mut load = Vec::new();
    let mut declarations = Vec::new();
    let mut checking = Vec::new();
    for text in texts {
        let start = Instant::now();
        let (files, mut diagnostics) = resolve::load(
            vec![SourceFile {
                path: path.to_string(),
                text: text.clone(),
            }],
            loader,
        );
        load.push(start.elapsed());
        let start = Instant::now();
        let declared = resolve::declarations(&files, &mut diagnostics);
        declarations.push(start.elapsed());
        let start = Instant::now();
        let checked = check::program(&files, declared, &mut diagnostics);
        checking.push(start.elapsed());
        drop(black_box((files, diagnostics, checked)));
    }
    let mut stages = vec![
        ("lex + parse (resolve::load)", load),
        ("resolve::declarations", declarations),
        ("check::program", checking),
    ];
    for (_, times) in &mut stages {
        times.sort();
    }
    stages
}

/// Offsets right after a `.` between two names (`order.id`), spread evenly over
/// the text, at most `count`.
fn field_dots(text: &str, count: usize) -> Vec<u32> {
    let bytes = text.as_bytes();
    let is_name = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let all: Vec<u32> = bytes
        .iter()
        .enumerate()
        .filter(|&(at, &byte)| {
            byte == b'.'
                && at > 0
                && is_name(bytes[at - 1])
                && !bytes[at - 1].is_ascii_digit()
                && bytes
                    .get(at + 1)
                    .is_some_and(|&next| next.is_ascii_lowercase())
        })
        .filter_map(|(at, _)| u32::try_from(at + 1).ok())
        .collect();
    if all.len() <= count {
        return all;
    }
    (0..count)
        .map(|index| all[index * all.len() / count])
        .collect()
}

/// Times `work` once per input, one call at a time. What `work` returns is dropped
/// after the clock stops: an editor replaces its analysis and drops the old one
/// off the path of the next answer (the drop is timed on its own, see `run`).
fn time_each<T, R>(inputs: &[T], mut work: impl FnMut(&T) -> R) -> Vec<Duration> {
    // One untimed call first, so the first timing does not pay for cold caches.
    if let Some(first) = inputs.first() {
        drop(work(first));
    }
    let mut times: Vec<Duration> = inputs
        .iter()
        .map(|input| {
            let start = Instant::now();
            let result = work(input);
            let elapsed = start.elapsed();
            drop(black_box(result));
            elapsed
        })
        .collect();
    times.sort();
    times
}

/// The `q` quantile of sorted times (nearest rank).
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Prints one row; returns whether its p99 meets the goal (true without one).
fn row(name: &str, sorted: &[Duration], goal: Option<Duration>) -> bool {
    let p99 = quantile(sorted, 0.99);
    let verdict = match goal {
        Some(goal) if p99 < goal => format!("< {} ms: met", goal.as_millis()),
        Some(goal) => format!("< {} ms: NOT met", goal.as_millis()),
        None => String::new(),
    };
    println!(
        "{name:<34} {:>9} {:>9} {:>9}  {verdict}",
        ms(quantile(sorted, 0.5)),
        ms(p99),
        ms(sorted.last().copied().unwrap_or_default()),
    );
    goal.is_none_or(|goal| p99 < goal)
}

fn ms(time: Duration) -> String {
    format!("{:.2} ms", time.as_secs_f64() * 1000.0)
}
