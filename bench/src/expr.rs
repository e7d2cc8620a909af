//! `flowc-bench expr`: expression evaluation over JSON Lines records, flowc's
//! interpreter and JIT side by side with hand-written Rust and the peers (issue 8).
//!
//! Two expressions, the peers' (`../shared/peers/expr/`): the condition
//! `amount > 1000 && currency == "BRL" && score < 80` and a 5-field mapping
//! with string concatenation and arithmetic. Over the same records, in one
//! process, each phase is timed `--runs` times and its median reported:
//!
//! - *parse*: turning every line into what evaluation reads — a flowc
//!   [`Value`] (serde_json, then `Value::from_json`), one [`Slots`] per record
//!   (`jit::decode`, driven by the compiled expression's layout), typed structs
//!   (serde derive) or a `serde_json::Value`;
//! - *eval*: evaluating over those, parsing excluded — the interpreter, the JIT
//!   (`Compiled::eval_bool_slots`; the mapping's answer read in place through
//!   `eval_answer`, as the typed Rust reads its struct, and also built as a
//!   `Value` by `eval_slots`), and the same expressions written by hand in Rust
//!   over typed structs and over `serde_json::Value`;
//! - *end to end*: one line at a time, parse and evaluate (and, for the mapping,
//!   write the result as JSON text — flowc's JIT straight from its output slots,
//!   as `flowc eval --lines` does), the lines already in memory;
//! - *compile*: `jit::compile` of each expression, the median of `--compiles`.
//!
//! Before timing, every record is evaluated every way and the answers compared
//! (the condition's truth, the mapping's JSON): a difference is an error, not a
//! figure. `--peers FILE` merges the JSON lines `run_expr.py` wrote in the same
//! session (jq, jaq, the `cel` crate, jsonata); `--flowc BIN` also times whole
//! runs of `flowc eval --lines` as jq and jaq are timed (the process, output to
//! `/dev/null`). The table prints records per second and how many times faster
//! flowc's JIT is, and which of the issue's goals are met.

use anyhow::{Context as _, Result, bail};
use flowc_compiler::eval::{self, Fixed, Frame, Limits};
use flowc_compiler::jit::{self, Compiled, Slots, decode::Decoder};
use flowc_compiler::value::{self, Value};
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

pub const CONDITION: &str = r#"input.amount > 1000 && input.currency == "BRL" && input.score < 80"#;
pub const MAPPING: &str = r#"{ id: input.id, name: input.customer.first + " " + input.customer.last, city: input.customer.address.city, total: input.amount * input.qty + input.fee, high: input.amount > 1000 }"#;

/// The goals of issue 8.
const GOAL_OVER_INTERPRETER: f64 = 10.0;
const GOAL_OVER_CEL: f64 = 10.0;
const GOAL_WITHIN_TYPED: f64 = 2.0;
const GOAL_COMPILE: Duration = Duration::from_millis(1);
const GOAL_END_TO_END: f64 = 1_000_000.0;
const GOAL_OVER_JAQ: f64 = 3.0;

/// What `flowc-bench expr` was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    pub records: PathBuf,
    pub runs: usize,
    pub compiles: usize,
    pub peers: Option<PathBuf>,
    pub flowc: Option<PathBuf>,
    pub json: Option<PathBuf>,
    /// Seconds of each wrk pass of the webhook figure; `None`: no webhook figure.
    pub webhook_seconds: Option<u64>,
    pub connections: usize,
}

/// One measured figure, as a JSON line.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Figure {
    tool: String,
    /// `cond` or `map`, as the peers' scripts name them.
    expr: String,
    /// `parse`, `eval`, `e2e`, `cli` (a whole process) or `compile`.
    phase: String,
    records: usize,
    runs_s: Vec<f64>,
    median_s: f64,
    /// Records per second (for `compile`, compiles per second).
    rps: f64,
}

/// Which expression.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Condition,
    Mapping,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::Condition => "cond",
            Which::Mapping => "map",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Which::Condition => CONDITION,
            Which::Mapping => MAPPING,
        }
    }
}

pub fn run(options: &Options) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&options.records)
        .with_context(|| format!("cannot read {}", options.records.display()))?;
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let Some(first) = lines.first() else {
        bail!("{} holds no records", options.records.display());
    };
    let first: serde_json::Value =
        serde_json::from_str(first).context("the first record is not JSON")?;
    // The type of `input` is inferred from the first record, as `flowc eval` does.
    let env = flowc_compiler::ExprEnv {
        variables: vec![("input".into(), value::infer_type(&first))],
        ..Default::default()
    };
    let runs = options.runs.max(1);
    let mut bench = Bench {
        lines: &lines,
        runs,
        figures: Vec::new(),
        notes: Vec::new(),
        json: options.json.clone(),
    };
    eprintln!(
        "flowc-bench expr: {} records from {}, {runs} runs per phase",
        lines.len(),
        options.records.display()
    );
    for which in [Which::Condition, Which::Mapping] {
        let checked = flowc_compiler::check_expression(which.source(), &env);
        let Some(expr) = checked.expr else {
            bail!(
                "{}: the expression does not check: {:?}",
                which.name(),
                checked.diagnostics
            );
        };
        let compiled = match jit::compile(&expr, &env.types) {
            Ok(compiled) => Some(compiled),
            Err(unsupported) => {
                bench
                    .notes
                    .push(format!("{}: JIT {unsupported}", which.name()));
                None
            }
        };
        let frame_size = checked.frame_size as usize;
        verify(which, &expr, frame_size, compiled.as_ref(), &lines)?;
        bench.interpreter(which, &expr, frame_size)?;
        if let Some(compiled) = &compiled {
            bench.jit(which, compiled, &expr, frame_size)?;
            bench.compile_time(which, &expr, &env.types, options.compiles.max(1))?;
        }
        bench.native(which)?;
    }
    if let Some(flowc) = &options.flowc {
        // `flowc serve` runs in a directory of its own.
        let flowc = &std::fs::canonicalize(flowc)
            .with_context(|| format!("no flowc binary at {}", flowc.display()))?;
        bench.cli(flowc, &options.records)?;
        if let Some(seconds) = options.webhook_seconds {
            bench.webhook(flowc, &lines, seconds, options.connections)?;
        }
    }
    let peers = match &options.peers {
        Some(path) => read_peers(path)?,
        None => Vec::new(),
    };
    print_table(&bench.figures, &peers, lines.len(), runs, &bench.notes);
    Ok(ExitCode::SUCCESS)
}

/// The figures so far, and where they go.
struct Bench<'a> {
    lines: &'a [&'a str],
    runs: usize,
    figures: Vec<Figure>,
    notes: Vec<String>,
    json: Option<PathBuf>,
}

impl Bench<'_> {
    /// Times `phase` `runs` times (after one untimed run that also warms the
    /// caches), records and prints the median.
    fn time<T>(
        &mut self,
        tool: &str,
        which: Which,
        phase: &str,
        count: usize,
        mut run: impl FnMut() -> T,
    ) -> Result<T> {
        let mut output = run();
        let mut runs_s = Vec::with_capacity(self.runs);
        for _ in 0..self.runs {
            let started = Instant::now();
            output = black_box(run());
            runs_s.push(started.elapsed().as_secs_f64());
        }
        self.record(tool, which, phase, count, runs_s)?;
        Ok(output)
    }

    fn record(
        &mut self,
        tool: &str,
        which: Which,
        phase: &str,
        count: usize,
        runs_s: Vec<f64>,
    ) -> Result<()> {
        let median_s = median(&runs_s);
        let figure = Figure {
            tool: tool.to_string(),
            expr: which.name().to_string(),
            phase: phase.to_string(),
            records: count,
            runs_s,
            median_s,
            rps: count as f64 / median_s.max(f64::MIN_POSITIVE),
        };
        let line = serde_json::to_string(&figure)?;
        println!("{line}");
        if let Some(path) = &self.json {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            writeln!(file, "{line}")?;
        }
        self.figures.push(figure);
        Ok(())
    }

    fn interpreter(
        &mut self,
        which: Which,
        expr: &flowc_compiler::ir::Expr,
        frame_size: usize,
    ) -> Result<()> {
        let lines = self.lines;
        let n = lines.len();
        let values = self.time("flowc-interp", which, "parse", n, || {
            lines
                .iter()
                .map(|line| parse_value(line))
                .collect::<Result<Vec<Value>>>()
        })?;
        let values = values?;
        let ctx = Fixed::new(0);
        let limits = Limits::default();
        let mut frame = Frame::new(frame_size);
        self.time("flowc-interp", which, "eval", n, || {
            let mut count = 0usize;
            for value in &values {
                frame.set(0, value.clone());
                count += answer(which, eval::eval(expr, &mut frame, &ctx, &limits).ok());
            }
            count
        })?;
        drop(values);
        let mut out = Vec::new();
        self.time("flowc-interp", which, "e2e", n, || {
            let mut count = 0usize;
            for line in lines {
                let Ok(value) = parse_value(line) else {
                    continue;
                };
                frame.set(0, value);
                let result = eval::eval(expr, &mut frame, &ctx, &limits).ok();
                count += write_answer(which, result, &mut out);
            }
            count
        })?;
        Ok(())
    }

    fn jit(
        &mut self,
        which: Which,
        compiled: &Compiled,
        expr: &flowc_compiler::ir::Expr,
        frame_size: usize,
    ) -> Result<()> {
        let lines = self.lines;
        let n = lines.len();
        let decoder = Decoder::new(compiled.layout());
        let slots = self.time("flowc-jit", which, "parse", n, || {
            lines
                .iter()
                .map(|line| {
                    let mut slots = Slots::new();
                    decoder.decode(line, &mut slots).map(|()| slots)
                })
                .collect::<Result<Vec<Slots>, _>>()
        })?;
        let mut slots = slots.context("a record does not decode")?;
        let limits = Limits::default();
        let bails = self.time("flowc-jit", which, "eval", n, || {
            let mut bails = 0usize;
            let mut count = 0usize;
            for record in &mut slots {
                match which {
                    Which::Condition => match compiled.eval_bool_slots(record, &limits) {
                        Some(truth) => count += usize::from(truth),
                        None => bails += 1,
                    },
                    // The answer read where the native code left it, as the
                    // typed Rust reads its struct's field.
                    Which::Mapping => match compiled.eval_answer(record, &limits, |answer| {
                        black_box(answer)
                            .field("name")
                            .and_then(|name| name.as_str())
                            .map_or(0, str::len)
                    }) {
                        Some(len) => count += len,
                        None => bails += 1,
                    },
                }
            }
            black_box(count);
            bails
        })?;
        if which == Which::Mapping {
            // The same, with the answer built as a `Value` (what the runtime
            // keeps in a run's frame).
            self.time("flowc-jit-value", which, "eval", n, || {
                let mut count = 0usize;
                for record in &slots {
                    if let Some(value) = compiled.eval_slots(record, &limits) {
                        count += usize::from(black_box(value).is_null());
                    }
                }
                count
            })?;
        }
        if bails > 0 {
            self.notes.push(format!(
                "{}: the JIT bailed out on {bails} of {n} records (the interpreter answers those)",
                which.name()
            ));
        }
        drop(slots);
        // End to end, a record the native code bails on is parsed and
        // interpreted, as the tiered evaluator would.
        let ctx = Fixed::new(0);
        let mut frame = Frame::new(frame_size);
        let mut record = Slots::new();
        let mut out = Vec::new();
        self.time("flowc-jit", which, "e2e", n, || {
            let mut count = 0usize;
            for line in lines {
                if decoder.decode(line, &mut record).is_err() {
                    continue;
                }
                // The mapping's JSON text is written straight from the output
                // slots, as `flowc eval --lines` writes it.
                let native = match which {
                    Which::Condition => compiled.eval_bool_slots(&record, &limits).map(usize::from),
                    Which::Mapping => {
                        out.clear();
                        compiled
                            .eval_answer(&record, &limits, |answer| answer.write_json(&mut out))
                            .and_then(|written| written.then_some(out.len()))
                    }
                };
                count += match native {
                    Some(count) => count,
                    None => {
                        let result = parse_value(line).ok().and_then(|value| {
                            frame.set(0, value);
                            eval::eval(expr, &mut frame, &ctx, &limits).ok()
                        });
                        write_answer(which, result, &mut out)
                    }
                };
            }
            count
        })?;
        Ok(())
    }

    fn compile_time(
        &mut self,
        which: Which,
        expr: &flowc_compiler::ir::Expr,
        types: &flowc_compiler::ty::TypeTable,
        compiles: usize,
    ) -> Result<()> {
        let mut times = Vec::with_capacity(compiles);
        for _ in 0..compiles {
            let started = Instant::now();
            let compiled = jit::compile(expr, types);
            times.push(started.elapsed().as_secs_f64());
            if compiled.is_err() {
                bail!("{}: compiled once, then not", which.name());
            }
        }
        self.record("flowc-jit", which, "compile", 1, times)
    }

    /// The same expressions written by hand in Rust, over typed structs and over
    /// `serde_json::Value`.
    fn native(&mut self, which: Which) -> Result<()> {
        let lines = self.lines;
        let n = lines.len();
        let structs = self.time("rust-typed", which, "parse", n, || {
            lines
                .iter()
                .map(|line| serde_json::from_str::<Record>(line))
                .collect::<Result<Vec<Record>, _>>()
        })?;
        let structs = structs.context("a record does not fit the typed structs")?;
        self.time("rust-typed", which, "eval", n, || {
            let mut count = 0usize;
            for record in &structs {
                count += match which {
                    Which::Condition => usize::from(record.condition()),
                    Which::Mapping => black_box(record.mapping()).name.len(),
                };
            }
            count
        })?;
        drop(structs);
        let mut out = Vec::new();
        self.time("rust-typed", which, "e2e", n, || {
            let mut count = 0usize;
            for line in lines {
                let Ok(record) = serde_json::from_str::<Record>(line) else {
                    continue;
                };
                match which {
                    Which::Condition => count += usize::from(record.condition()),
                    Which::Mapping => {
                        out.clear();
                        if serde_json::to_writer(&mut out, &record.mapping()).is_ok() {
                            count += out.len();
                        }
                    }
                }
            }
            count
        })?;

        let documents = self.time("rust-value", which, "parse", n, || {
            lines
                .iter()
                .map(|line| serde_json::from_str::<serde_json::Value>(line))
                .collect::<Result<Vec<_>, _>>()
        })?;
        let documents = documents.context("a record is not JSON")?;
        self.time("rust-value", which, "eval", n, || {
            let mut count = 0usize;
            for document in &documents {
                count += match which {
                    Which::Condition => usize::from(json_condition(document)),
                    Which::Mapping => black_box(json_mapping(document))
                        .as_object()
                        .map_or(0, |o| o.len()),
                };
            }
            count
        })?;
        drop(documents);
        self.time("rust-value", which, "e2e", n, || {
            let mut count = 0usize;
            for line in lines {
                let Ok(document) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                match which {
                    Which::Condition => count += usize::from(json_condition(&document)),
                    Which::Mapping => {
                        out.clear();
                        if serde_json::to_writer(&mut out, &json_mapping(&document)).is_ok() {
                            count += out.len();
                        }
                    }
                }
            }
            count
        })?;
        Ok(())
    }

    /// Whole runs of `flowc eval --lines`, timed as `run_expr.py` times jq and
    /// jaq: the process from start to exit, the output to `/dev/null`.
    fn cli(&mut self, flowc: &Path, records: &Path) -> Result<()> {
        let help = Command::new(flowc)
            .args(["eval", "--help"])
            .output()
            .with_context(|| format!("cannot run {}", flowc.display()))?;
        if !String::from_utf8_lossy(&help.stdout).contains("--lines") {
            self.notes
                .push("flowc eval has no --lines yet: no whole-run figures for flowc".into());
            return Ok(());
        }
        let n = self.lines.len();
        for which in [Which::Condition, Which::Mapping] {
            for mode in ["always", "off"] {
                let mut runs_s = Vec::with_capacity(self.runs);
                for _ in 0..self.runs {
                    let started = Instant::now();
                    let status = Command::new(flowc)
                        .arg("eval")
                        .arg(which.source())
                        .arg("--lines")
                        .arg(records)
                        .args(["--jit", mode])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::inherit())
                        .status()
                        .with_context(|| format!("cannot run {}", flowc.display()))?;
                    runs_s.push(started.elapsed().as_secs_f64());
                    if !status.success() {
                        bail!("flowc eval --lines --jit {mode} failed ({status})");
                    }
                }
                let tool = if mode == "off" {
                    "flowc-cli-interp"
                } else {
                    "flowc-cli-jit"
                };
                self.record(tool, which, "cli", n, runs_s)?;
            }
        }
        Ok(())
    }
}

/// The webhook workflow: the condition filters, the mapping answers. `respond:
/// wait` puts the whole run, the condition included, on the request's path.
const WEBHOOK_FLOW: &str = r#"type Order = {
  id: int, amount: float, currency: string, score: int, qty: int, fee: float,
  customer: { first: string, last: string, address: { city: string } },
}

workflow filtered(order: Order) -> { id: int, name: string, city: string, total: float, high: bool } {
  on webhook POST "/orders" { respond: wait }
  if order.amount > 1000.0 && order.currency == "BRL" && order.score < 80 {
    return {
      id: order.id,
      name: order.customer.first + " " + order.customer.last,
      city: order.customer.address.city,
      total: order.amount * order.qty + order.fee,
      high: order.amount > 1000.0,
    }
  }
  return { id: order.id, name: "", city: "", total: 0.0, high: false }
}
"#;

impl Bench<'_> {
    /// Webhook ingestion through `flowc serve --jit off` and `--jit auto`: wrk
    /// POSTs one record (the first the condition holds for) to a workflow whose
    /// run starts with `if <condition>`, `--runs` passes (at most 3) after a
    /// warm-up pass that also takes `auto` past its threshold.
    fn webhook(
        &mut self,
        flowc: &Path,
        lines: &[&str],
        seconds: u64,
        connections: usize,
    ) -> Result<()> {
        let help = Command::new(flowc)
            .args(["serve", "--help"])
            .output()
            .with_context(|| format!("cannot run {}", flowc.display()))?;
        if !String::from_utf8_lossy(&help.stdout).contains("--jit") {
            self.notes
                .push("flowc serve has no --jit yet: no webhook figures".into());
            return Ok(());
        }
        let body = lines
            .iter()
            .find(|line| {
                serde_json::from_str::<serde_json::Value>(line)
                    .is_ok_and(|record| json_condition(&record))
            })
            .context("no record satisfies the condition")?;
        for mode in ["off", "auto"] {
            let dir = tempfile::tempdir()?;
            let file = dir.path().join("filtered.flow");
            std::fs::write(&file, WEBHOOK_FLOW)?;
            let script = dir.path().join("post.lua");
            std::fs::write(
                &script,
                format!(
                    "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = [[{body}]]\n"
                ),
            )?;
            let serve = crate::runtime::serve::Serve::start_with(
                flowc,
                dir.path(),
                &[file],
                &["--jit", mode],
            )?;
            let url = serve.url("/orders");
            wrk(&url, &script, connections, 2)?;
            let mut runs_s = Vec::new();
            let mut latencies = Vec::new();
            for _ in 0..self.runs.min(3) {
                let (rate, p50, p99) = wrk(&url, &script, connections, seconds)?;
                runs_s.push(1.0 / rate.max(f64::MIN_POSITIVE));
                latencies.push((p50, p99));
            }
            drop(serve);
            let tool = format!("flowc-serve-jit-{mode}");
            self.record(&tool, Which::Condition, "webhook", 1, runs_s)?;
            self.notes.push(format!(
                "webhook --jit {mode}: p50/p99 of each pass (ms): {}",
                latencies
                    .iter()
                    .map(|(p50, p99)| format!("{p50:.2}/{p99:.2}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(())
    }
}

/// One `wrk -t1 -cN -dS --latency` pass against a loopback URL (the runtime
/// benchmark's runner): requests per second, p50 and p99 in milliseconds.
/// Every answer must be a 2xx.
fn wrk(url: &str, script: &Path, connections: usize, seconds: u64) -> Result<(f64, f64, f64)> {
    let report = crate::runtime::wrk::run(url, script, connections, seconds)?;
    if report.non_2xx > 0 || !report.socket_errors.is_empty() {
        bail!(
            "wrk against {url}: {} answers were not 2xx; socket errors: {}",
            report.non_2xx,
            report.socket_errors
        );
    }
    Ok((report.requests_per_second, report.p50_ms, report.p99_ms))
}

/// Evaluates every record every way and fails on the first disagreement.
fn verify(
    which: Which,
    expr: &flowc_compiler::ir::Expr,
    frame_size: usize,
    compiled: Option<&Compiled>,
    lines: &[&str],
) -> Result<()> {
    let ctx = Fixed::new(0);
    let limits = Limits::default();
    let mut frame = Frame::new(frame_size);
    let decoder = compiled.map(|compiled| Decoder::new(compiled.layout()));
    let mut slots = Slots::new();
    let mut agreed = 0usize;
    let mut bailed = 0usize;
    for (index, line) in lines.iter().enumerate() {
        let record = index + 1;
        frame.set(0, parse_value(line)?);
        let interpreted = eval::eval(expr, &mut frame, &ctx, &limits)
            .map_err(|error| anyhow::anyhow!("record {record}: the interpreter fails: {error:?}"))?
            .to_json();
        let typed: Record = serde_json::from_str(line)
            .with_context(|| format!("record {record} does not fit the typed structs"))?;
        let document: serde_json::Value = serde_json::from_str(line)?;
        let (typed, by_value) = match which {
            Which::Condition => (
                serde_json::Value::Bool(typed.condition()),
                serde_json::Value::Bool(json_condition(&document)),
            ),
            Which::Mapping => (
                serde_json::to_value(typed.mapping())?,
                json_mapping(&document),
            ),
        };
        if interpreted != typed || interpreted != by_value {
            bail!(
                "{} record {record}: the interpreter gives {interpreted}, Rust over typed structs {typed}, over serde_json::Value {by_value}",
                which.name()
            );
        }
        if let (Some(compiled), Some(decoder)) = (compiled, &decoder) {
            decoder
                .decode(line, &mut slots)
                .with_context(|| format!("record {record} does not decode"))?;
            let native = match which {
                Which::Condition => compiled.eval_bool_slots(&slots, &limits).map(Value::Bool),
                Which::Mapping => compiled.eval_slots(&slots, &limits),
            };
            // A bail is not a disagreement: the interpreter answers then.
            if let Some(native) = native {
                let native = native.to_json();
                if native != interpreted {
                    bail!(
                        "{} record {record}: the JIT gives {native}, the interpreter {interpreted}",
                        which.name()
                    );
                }
                // The text written from the output slots, as end to end writes it.
                let mut text = Vec::new();
                let written = compiled
                    .eval_answer(&slots, &limits, |answer| answer.write_json(&mut text))
                    .unwrap_or(false);
                if !written || text != serde_json::to_vec(&interpreted)? {
                    bail!(
                        "{} record {record}: the JIT writes {}, the interpreter's text is {interpreted}",
                        which.name(),
                        String::from_utf8_lossy(&text)
                    );
                }
                agreed += 1;
            } else {
                bailed += 1;
            }
        }
    }
    eprintln!(
        "{}: {} records agree between the interpreter and Rust{}",
        which.name(),
        lines.len(),
        if compiled.is_some() {
            format!("; {agreed} also with the JIT, {bailed} left to the interpreter (bailed)")
        } else {
            String::new()
        }
    );
    Ok(())
}

fn parse_value(line: &str) -> Result<Value> {
    let json: serde_json::Value = serde_json::from_str(line).context("a record is not JSON")?;
    Ok(Value::from_json(&json))
}

/// A number that depends on the answer, so that the work is not optimised away:
/// 1 for a true condition, the number of fields of a mapping.
fn answer(which: Which, value: Option<Value>) -> usize {
    match (which, value) {
        (Which::Condition, Some(Value::Bool(truth))) => usize::from(truth),
        (Which::Mapping, Some(Value::Record(fields))) => fields.len(),
        _ => 0,
    }
}

/// [`answer`], after writing a mapping's result as JSON text into `out` (end to
/// end, the result leaves the process as text, as the peers' totals count it).
fn write_answer(which: Which, value: Option<Value>, out: &mut Vec<u8>) -> usize {
    if which == Which::Mapping
        && let Some(value) = &value
    {
        out.clear();
        if serde_json::to_writer(&mut *out, &value.to_json()).is_err() {
            return 0;
        }
    }
    answer(which, value)
}

/// A record with the generator's shape, for the hand-written Rust.
#[derive(Deserialize)]
struct Record {
    id: i64,
    amount: f64,
    currency: String,
    score: i64,
    qty: i64,
    fee: f64,
    customer: Customer,
}

#[derive(Deserialize)]
struct Customer {
    first: String,
    last: String,
    address: Address,
}

#[derive(Deserialize)]
struct Address {
    city: String,
}

#[derive(Serialize)]
struct Mapped<'a> {
    city: &'a str,
    high: bool,
    id: i64,
    name: String,
    total: f64,
}

impl Record {
    fn condition(&self) -> bool {
        self.amount > 1000.0 && self.currency == "BRL" && self.score < 80
    }

    fn mapping(&self) -> Mapped<'_> {
        Mapped {
            city: &self.customer.address.city,
            high: self.amount > 1000.0,
            id: self.id,
            name: format!("{} {}", self.customer.first, self.customer.last),
            total: self.amount * self.qty as f64 + self.fee,
        }
    }
}

fn json_condition(record: &serde_json::Value) -> bool {
    record["amount"]
        .as_f64()
        .is_some_and(|amount| amount > 1000.0)
        && record["currency"].as_str() == Some("BRL")
        && record["score"].as_i64().is_some_and(|score| score < 80)
}

fn json_mapping(record: &serde_json::Value) -> serde_json::Value {
    let customer = &record["customer"];
    let amount = record["amount"].as_f64().unwrap_or_default();
    let qty = record["qty"].as_i64().unwrap_or_default();
    serde_json::json!({
        "id": record["id"].clone(),
        "name": format!(
            "{} {}",
            customer["first"].as_str().unwrap_or_default(),
            customer["last"].as_str().unwrap_or_default()
        ),
        "city": customer["address"]["city"].clone(),
        "total": amount * qty as f64 + record["fee"].as_f64().unwrap_or_default(),
        "high": amount > 1000.0,
    })
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        len if len % 2 == 1 => sorted[len / 2],
        len => (sorted[len / 2 - 1] + sorted[len / 2]) / 2.0,
    }
}

/// A figure `run_expr.py` measured: jq and jaq whole runs (`rps`), the others'
/// evaluation (`eval_rps`) and parse-plus-evaluation (`total_rps_excl_read`).
#[derive(Clone, Debug, Deserialize)]
struct Peer {
    tool: String,
    expr: String,
    rps: Option<f64>,
    eval_rps: Option<f64>,
    total_rps_excl_read: Option<f64>,
}

fn read_peers(path: &Path) -> Result<Vec<Peer>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).with_context(|| format!("not a peer figure: {line}"))
        })
        .collect()
}

/// The table: one row per tool and phase, the condition and the mapping side by
/// side, each with how many times faster flowc's JIT is in the same phase.
fn print_table(figures: &[Figure], peers: &[Peer], records: usize, runs: usize, notes: &[String]) {
    let ours = |tool: &str, phase: &str, expr: &str| {
        figures
            .iter()
            .find(|f| f.tool == tool && f.phase == phase && f.expr == expr)
            .map(|f| f.rps)
    };
    let peer = |tool: &str, expr: &str, field: fn(&Peer) -> Option<f64>| {
        peers
            .iter()
            .filter(|p| p.tool == tool && p.expr == expr)
            .find_map(field)
    };
    println!();
    println!(
        "expressions over {} records, median of {runs} runs; records/s, and how many times faster flowc's JIT is (× JIT > 1: the JIT is faster)",
        thousands(records as f64)
    );
    println!(
        "{:<46} {:>12} {:>8} {:>12} {:>8}",
        "tool", "condition", "× JIT", "mapping", "× JIT"
    );
    type Rate<'r> = Box<dyn Fn(&str) -> Option<f64> + 'r>;
    let section =
        |title: &str, reference: &dyn Fn(&str) -> Option<f64>, rows: Vec<(&str, Rate<'_>)>| {
            println!("{title}");
            for (label, rate) in rows {
                let cond = rate("cond");
                let map = rate("map");
                if cond.is_none() && map.is_none() {
                    continue;
                }
                let cell = |rate: Option<f64>, expr: &str| match (rate, reference(expr)) {
                    (Some(rate), Some(jit)) => (rate_text(rate), format!("{:.1}", jit / rate)),
                    (Some(rate), None) => (rate_text(rate), String::new()),
                    (None, _) => ("–".to_string(), String::new()),
                };
                let (c, cr) = cell(cond, "cond");
                let (m, mr) = cell(map, "map");
                println!("  {label:<44} {c:>12} {cr:>8} {m:>12} {mr:>8}");
            }
        };
    let jit_eval = |e: &str| ours("flowc-jit", "eval", e);
    section(
        "evaluation only (records already parsed or decoded)",
        &jit_eval,
        vec![
            (
                "flowc JIT (the answer read in place)",
                Box::new(move |e| ours("flowc-jit", "eval", e)),
            ),
            (
                "flowc JIT, the answer built as a Value",
                Box::new(move |e| ours("flowc-jit-value", "eval", e)),
            ),
            (
                "flowc interpreter",
                Box::new(move |e| ours("flowc-interp", "eval", e)),
            ),
            (
                "Rust over typed structs (this run)",
                Box::new(move |e| ours("rust-typed", "eval", e)),
            ),
            (
                "Rust over serde_json::Value (this run)",
                Box::new(move |e| ours("rust-value", "eval", e)),
            ),
            (
                "Rust over typed structs (peers' harness)",
                Box::new(move |e| peer("rust-native-typed", e, |p| p.eval_rps)),
            ),
            (
                "Rust over serde_json::Value (peers' harness)",
                Box::new(move |e| peer("rust-native-value", e, |p| p.eval_rps)),
            ),
            (
                "cel crate 0.13",
                Box::new(move |e| peer("rust-cel", e, |p| p.eval_rps)),
            ),
            (
                "jsonata (Node)",
                Box::new(move |e| peer("jsonata", e, |p| p.eval_rps)),
            ),
            (
                "jmespath (Python)",
                Box::new(move |e| peer("jmespath-py", e, |p| p.eval_rps)),
            ),
        ],
    );
    let jit_parse = |e: &str| ours("flowc-jit", "parse", e);
    section(
        "parsing only (every line into what evaluation reads)",
        &jit_parse,
        vec![
            (
                "flowc typed decode into slots",
                Box::new(move |e| ours("flowc-jit", "parse", e)),
            ),
            (
                "serde_json, then flowc Value",
                Box::new(move |e| ours("flowc-interp", "parse", e)),
            ),
            (
                "serde derive into typed structs",
                Box::new(move |e| ours("rust-typed", "parse", e)),
            ),
            (
                "serde_json::Value",
                Box::new(move |e| ours("rust-value", "parse", e)),
            ),
        ],
    );
    let jit_e2e = |e: &str| ours("flowc-jit", "e2e", e);
    section(
        "end to end in one process (parse + eval, mapping also written as JSON)",
        &jit_e2e,
        vec![
            (
                "flowc JIT with typed decode",
                Box::new(move |e| ours("flowc-jit", "e2e", e)),
            ),
            (
                "flowc interpreter with serde_json",
                Box::new(move |e| ours("flowc-interp", "e2e", e)),
            ),
            (
                "Rust over typed structs",
                Box::new(move |e| ours("rust-typed", "e2e", e)),
            ),
            (
                "Rust over serde_json::Value",
                Box::new(move |e| ours("rust-value", "e2e", e)),
            ),
            (
                "cel crate 0.13 (parse, convert, eval, write)",
                Box::new(move |e| peer("rust-cel", e, |p| p.total_rps_excl_read)),
            ),
            (
                "jsonata (parse, eval, write)",
                Box::new(move |e| peer("jsonata", e, |p| p.total_rps_excl_read)),
            ),
        ],
    );
    let cli_jit = |e: &str| ours("flowc-cli-jit", "cli", e);
    section(
        "whole CLI run (read the file, write every answer to /dev/null)",
        &cli_jit,
        vec![
            (
                "flowc eval --lines --jit always",
                Box::new(move |e| ours("flowc-cli-jit", "cli", e)),
            ),
            (
                "flowc eval --lines --jit off",
                Box::new(move |e| ours("flowc-cli-interp", "cli", e)),
            ),
            ("jaq", Box::new(move |e| peer("jaq", e, |p| p.rps))),
            ("jq", Box::new(move |e| peer("jq", e, |p| p.rps))),
        ],
    );
    let serve_off = |e: &str| ours("flowc-serve-jit-off", "webhook", e);
    section(
        "webhook ingestion, respond: wait, `if <condition>` (requests/s; × JIT: --jit auto / this row)",
        &|e| ours("flowc-serve-jit-auto", "webhook", e),
        vec![
            (
                "flowc serve --jit auto",
                Box::new(move |e| ours("flowc-serve-jit-auto", "webhook", e)),
            ),
            ("flowc serve --jit off", Box::new(serve_off)),
        ],
    );
    let compile = |expr: &str| {
        figures
            .iter()
            .find(|f| f.tool == "flowc-jit" && f.phase == "compile" && f.expr == expr)
            .map(|f| Duration::from_secs_f64(f.median_s))
    };
    if let (Some(cond), Some(map)) = (compile("cond"), compile("map")) {
        println!(
            "compile time (median): condition {:.0} µs, mapping {:.0} µs",
            cond.as_secs_f64() * 1e6,
            map.as_secs_f64() * 1e6
        );
    }
    for note in notes {
        println!("note: {note}");
    }

    println!();
    println!("goals (issue 8):");
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    for expr in ["cond", "map"] {
        let name = if expr == "cond" {
            "condition"
        } else {
            "mapping"
        };
        let Some(jit) = jit_eval(expr) else {
            println!("  {name}: no JIT figure (not compiled)");
            continue;
        };
        if let Some(interp) = ours("flowc-interp", "eval", expr) {
            let times = jit / interp;
            println!(
                "  {name}: JIT ≥ {GOAL_OVER_INTERPRETER}× the interpreter: {} ({times:.1}×)",
                verdict(times >= GOAL_OVER_INTERPRETER)
            );
        }
        if let Some(cel) = peer("rust-cel", expr, |p| p.eval_rps) {
            let times = jit / cel;
            println!(
                "  {name}: JIT ≥ {GOAL_OVER_CEL}× the cel crate: {} ({times:.1}×)",
                verdict(times >= GOAL_OVER_CEL)
            );
        }
        if let Some(typed) = ours("rust-typed", "eval", expr) {
            let slower = typed / jit;
            println!(
                "  {name}: JIT within {GOAL_WITHIN_TYPED}× of Rust over typed structs: {} (Rust is {slower:.2}× the JIT)",
                verdict(slower <= GOAL_WITHIN_TYPED)
            );
        }
        if let Some(time) = compile(expr) {
            println!(
                "  {name}: compile < {} ms: {} ({:.0} µs)",
                GOAL_COMPILE.as_millis(),
                verdict(time < GOAL_COMPILE),
                time.as_secs_f64() * 1e6
            );
        }
    }
    if let Some(e2e) = jit_e2e("cond") {
        println!(
            "  condition end to end ≥ 1 M rec/s (in process): {} ({})",
            verdict(e2e >= GOAL_END_TO_END),
            rate_text(e2e)
        );
    }
    if let Some(cli) = cli_jit("cond") {
        println!(
            "  condition end to end ≥ 1 M rec/s (whole flowc eval --lines run): {} ({})",
            verdict(cli >= GOAL_END_TO_END),
            rate_text(cli)
        );
    }
    if let Some(jaq) = peer("jaq", "cond", |p| p.rps) {
        if let Some(cli) = cli_jit("cond") {
            println!(
                "  condition whole run ≥ {GOAL_OVER_JAQ}× jaq's: {} ({:.1}×)",
                verdict(cli >= GOAL_OVER_JAQ * jaq),
                cli / jaq
            );
        }
        if let Some(e2e) = jit_e2e("cond") {
            println!(
                "  condition in-process end to end ≥ {GOAL_OVER_JAQ}× jaq's whole run: {} ({:.1}×)",
                verdict(e2e >= GOAL_OVER_JAQ * jaq),
                e2e / jaq
            );
        }
    }
}

/// `1234567.0` → `"1.23 M"`, `51234.0` → `"51.2 k"`.
fn rate_text(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2} M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1} k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

fn thousands(value: f64) -> String {
    super::thousands(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_written_expressions_agree_on_a_record() {
        let line = r#"{"id":7,"amount":1500.5,"currency":"BRL","score":42,"qty":3,"fee":1.25,"customer":{"first":"Ana","last":"Silva","address":{"city":"Recife","country":"BR"}},"tags":["vip"]}"#;
        let typed: Record = serde_json::from_str(line).expect("the record fits");
        let document: serde_json::Value = serde_json::from_str(line).expect("JSON");
        assert!(typed.condition());
        assert!(json_condition(&document));
        let mapped = serde_json::to_value(typed.mapping()).expect("serializable");
        assert_eq!(mapped, json_mapping(&document));
        assert_eq!(mapped["name"], "Ana Silva");
        assert_eq!(mapped["total"], 1500.5 * 3.0 + 1.25);
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
