//! Runtime metrics, served at `GET /metrics` in the Prometheus text format 0.0.4.
//!
//! Why in-house: the format is a few lines of text per series, and what the runtime
//! counts is a handful of counters, gauges and histograms. The `prometheus-client`
//! crate writes OpenMetrics text (a different content type, `# EOF`, `_created`
//! series) and the `prometheus` crate brings protobuf and a registry of its own;
//! atomics in one registry are less code than either integration.
//!
//! One registry per process ([`global`]), the way Prometheus clients keep a default
//! registry: the engine, ingress, the outbound client and the store's writer thread
//! report with one call each at the point where a thing happens, without a handle
//! threaded through every constructor. Several servers in one process (tests) share
//! the counts. Reporting costs an atomic add, plus a read-locked map lookup for a
//! labelled series; rendering reads everything once.
//!
//! Label values are bounded by what is deployed, never by what a request sends: a
//! workflow's name, a webhook's *declared* path (a request to a path no webhook
//! has is counted under `path="unknown"`, so a scanner cannot grow the series nor
//! read back which paths it tried), a connection's name (`"none"` for a step
//! without one, rather than its host, which an input may choose), and fixed words.
//! No label holds a secret, a header or a body. As a second bound, a family keeps at
//! most [`MAX_SERIES`] label sets; further ones are counted under `"_other"`.
//!
//! | metric | type | labels | what |
//! | --- | --- | --- | --- |
//! | `flowc_runs_started_total` | counter | `workflow` | runs the engine began interpreting (a run resumed after a restart or retried counts again) |
//! | `flowc_runs_finished_total` | counter | `workflow`, `status` | runs that ended: `succeeded`, `failed`, `cancelled` |
//! | `flowc_runs_in_progress` | gauge | `workflow` | runs being interpreted now |
//! | `flowc_step_duration_seconds` | histogram | `workflow`, `outcome` | `http` steps sent (not replayed), from the start to the result: `succeeded`, `failed` |
//! | `flowc_webhook_requests_total` | counter | `path`, `status`, `verification` | every answer of the webhook endpoint: the declared path or `unknown`, the HTTP status, and `none` (no `verify:`), `passed`, `failed`, `unavailable` (secret missing), `not_reached` (refused before: 404, 405, 429, 413, 408, unreadable body) or `unknown` |
//! | `flowc_outbound_calls_total` | counter | `connection`, `outcome` | calls of the outbound client (all attempts of one step count once): `ok`, `http_error`, `timeout`, `connect_error`, `refused_by_egress`, `breaker_open`, `token_error`, `bad_response`, `invalid_request`, `missing_secret` |
//! | `flowc_egress_refusals_total` | counter | `connection` | calls the egress guard refused (a private address or a scheme other than http/https) |
//! | `flowc_breaker_state` | gauge | `connection` | a connection's circuit breaker: 0 closed, 1 half-open, 2 open |
//! | `flowc_breaker_opened_total` | counter | `connection` | times a breaker opened (from closed, or a failed probe) |
//! | `flowc_store_commits_total` | counter | | transactions the SQLite writer thread committed (or tried to) |
//! | `flowc_store_writes_total` | counter | | writes those transactions held |
//! | `flowc_store_writes_per_commit` | histogram | | writes per transaction: how much group commit batches |
//! | `flowc_jit_expressions_compiled_total` | counter | | expressions of deployed programs compiled to native code (`--jit`) |
//! | `flowc_jit_expressions_unsupported_total` | counter | | expressions the JIT declined: interpreted for good |
//! | `flowc_jit_compile_seconds_total` | counter | | time spent compiling them |
//! | `flowc_jit_evaluations_total` | counter | `tier` | evaluations of deployed programs' expressions: `interpreter` (not compiled, or not yet), `native` (answered by native code), `bailed` (native code handed the evaluation back to the interpreter: an error, or a value of another kind than the checker's) |
//! | `process_resident_memory_bytes` | gauge | | the process's resident set size (Linux only) |
//!
//! Durations are read from the runtime's [`Clock`](crate::clock::Clock) by the
//! caller, so a test clock shows zero-length steps. The JIT's counts are the
//! sums over every deployment's evaluator, those retired included
//! ([`jit::Registry`](crate::jit::Registry)); compile time is measured by the
//! compiler, not the runtime's clock.

use crate::jit;
use crate::outbound::{self, Breaker, BreakerState};
use crate::server::Problem;
use crate::server::routes::{Lookup, Routes};
use crate::store::{Run, RunOutcome};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock, Weak};

/// Where the server answers.
pub const PATH: &str = "/metrics";

/// The content type of the Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The most label sets one family keeps; the rest share the label values
/// [`OVERFLOW`].
pub const MAX_SERIES: usize = 1000;

/// The label value of every series past [`MAX_SERIES`].
pub const OVERFLOW: &str = "_other";

/// The registry every part of the runtime reports to.
pub fn global() -> &'static Metrics {
    static GLOBAL: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &GLOBAL
}

/// Every metric of the runtime. [`global`] is the one the runtime uses; a
/// `Metrics` of its own is for tests of this module.
pub struct Metrics {
    runs_started: Family<Counter>,
    runs_finished: Family<Counter>,
    runs_in_progress: Family<Gauge>,
    step_duration: Family<Histogram>,
    webhook_requests: Family<Counter>,
    outbound_calls: Family<Counter>,
    egress_refusals: Family<Counter>,
    breaker_opened: Family<Counter>,
    /// Each connection's breaker, read when the metrics are rendered. Weak: a
    /// breaker replaced after a redeploy is not kept alive (nor reported) here.
    breakers: Mutex<HashMap<String, Weak<Breaker>>>,
    store_commits: Family<Counter>,
    store_writes: Family<Counter>,
    store_batch: Family<Histogram>,
    /// The deployments' tiered evaluators, read when the metrics are rendered.
    jit: Arc<jit::Registry>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Step durations, in milliseconds: 5 ms to 5 minutes.
const STEP_BUCKETS_MS: &[u64] = &[
    5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000,
];

/// Writes per commit.
const BATCH_BUCKETS: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            runs_started: Family::new(
                "flowc_runs_started_total",
                "Runs the engine began interpreting (resumed and retried runs count again).",
                &["workflow"],
                Shape::Counter,
            ),
            runs_finished: Family::new(
                "flowc_runs_finished_total",
                "Runs that ended, by status (succeeded, failed, cancelled).",
                &["workflow", "status"],
                Shape::Counter,
            ),
            runs_in_progress: Family::new(
                "flowc_runs_in_progress",
                "Runs being interpreted now.",
                &["workflow"],
                Shape::Gauge,
            ),
            step_duration: Family::new(
                "flowc_step_duration_seconds",
                "Duration of the http steps sent, from start to result.",
                &["workflow", "outcome"],
                Shape::Histogram {
                    bounds: STEP_BUCKETS_MS,
                    divisor: 1000.0,
                },
            ),
            webhook_requests: Family::new(
                "flowc_webhook_requests_total",
                "Webhook requests answered, by declared path (or unknown), status and verification outcome.",
                &["path", "status", "verification"],
                Shape::Counter,
            ),
            outbound_calls: Family::new(
                "flowc_outbound_calls_total",
                "Outbound calls (every attempt of one call together), by connection (none without one) and outcome.",
                &["connection", "outcome"],
                Shape::Counter,
            ),
            egress_refusals: Family::new(
                "flowc_egress_refusals_total",
                "Outbound calls the egress guard refused.",
                &["connection"],
                Shape::Counter,
            ),
            breaker_opened: Family::new(
                "flowc_breaker_opened_total",
                "Times a connection's circuit breaker opened.",
                &["connection"],
                Shape::Counter,
            ),
            breakers: Mutex::new(HashMap::new()),
            store_commits: Family::new(
                "flowc_store_commits_total",
                "Transactions the store's writer thread committed (or tried to).",
                &[],
                Shape::Counter,
            ),
            store_writes: Family::new(
                "flowc_store_writes_total",
                "Writes in the store's transactions.",
                &[],
                Shape::Counter,
            ),
            store_batch: Family::new(
                "flowc_store_writes_per_commit",
                "Writes per store transaction (group commit).",
                &[],
                Shape::Histogram {
                    bounds: BATCH_BUCKETS,
                    divisor: 1.0,
                },
            ),
            jit: Arc::default(),
        }
    }

    /// The tiered evaluators this registry reports
    /// ([`jit::Evaluator::counted_by`]).
    pub fn jit(&self) -> &Arc<jit::Registry> {
        &self.jit
    }

    /// A run is about to be interpreted. The [`Live`] keeps it counted in
    /// progress until dropped; a run that has already ended (the engine only
    /// returns its outcome) or could not be read is not counted at all.
    pub fn run_started(&self, run: Option<&Run>) -> Live<'_> {
        let Some(run) = run.filter(|run| !run.status.is_terminal()) else {
            return Live {
                metrics: self,
                workflow: None,
            };
        };
        self.runs_started.series(&[&run.workflow]).add(1);
        self.runs_in_progress.series(&[&run.workflow]).add(1);
        Live {
            metrics: self,
            workflow: Some(run.workflow.clone()),
        }
    }

    /// An `http` step was sent and its result is known.
    pub fn step_finished(&self, workflow: &str, duration_ms: i64, succeeded: bool) {
        let outcome = if succeeded { "succeeded" } else { "failed" };
        self.step_duration.observe(
            &[workflow, outcome],
            u64::try_from(duration_ms).unwrap_or(0),
        );
    }

    /// One call of the outbound client ended with `result`; the result is
    /// handed back, so the call site stays one expression.
    pub fn outbound_call<T>(
        &self,
        connection: Option<&str>,
        result: Result<T, outbound::Error>,
    ) -> Result<T, outbound::Error> {
        let connection = connection.unwrap_or("none");
        let outcome = match &result {
            Ok(_) => "ok",
            Err(error) => outbound_outcome(error),
        };
        self.outbound_calls.series(&[connection, outcome]).add(1);
        if matches!(result, Err(outbound::Error::Egress { .. })) {
            self.egress_refusals.series(&[connection]).add(1);
        }
        result
    }

    /// `connection`'s breaker is `breaker`: its state is reported from now on.
    /// Called on every call with a breaker; only a new breaker takes the lock
    /// for writing.
    pub fn watch_breaker(&self, connection: &str, breaker: &Arc<Breaker>) {
        let mut breakers = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        match breakers.get(connection) {
            Some(known) if std::ptr::eq(known.as_ptr(), Arc::as_ptr(breaker)) => {}
            _ if breakers.len() >= MAX_SERIES && !breakers.contains_key(connection) => {}
            _ => {
                breakers.insert(connection.to_string(), Arc::downgrade(breaker));
            }
        }
    }

    /// A breaker went from `before` to `after`; an opening is counted for the
    /// connection it belongs to (when [`Metrics::watch_breaker`] has named it).
    pub fn breaker_moved(&self, breaker: &Breaker, before: BreakerState, after: BreakerState) {
        let opened = matches!(after, BreakerState::Open { .. })
            && !matches!(before, BreakerState::Open { .. });
        if !opened {
            return;
        }
        let connection = {
            let breakers = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
            breakers
                .iter()
                .find(|(_, known)| std::ptr::eq(known.as_ptr(), breaker))
                .map(|(name, _)| name.clone())
        };
        if let Some(connection) = connection {
            self.breaker_opened.series(&[&connection]).add(1);
        }
    }

    /// The store's writer committed (or tried to commit) `writes` writes in one
    /// transaction.
    pub fn store_commit(&self, writes: usize) {
        let writes = u64::try_from(writes).unwrap_or(u64::MAX);
        self.store_commits.series(&[]).add(1);
        self.store_writes.series(&[]).add(writes);
        self.store_batch.observe(&[], writes);
    }

    /// Every metric in the Prometheus text format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        self.runs_started.render(&mut out);
        self.runs_finished.render(&mut out);
        self.runs_in_progress.render(&mut out);
        self.step_duration.render(&mut out);
        self.webhook_requests.render(&mut out);
        self.outbound_calls.render(&mut out);
        self.egress_refusals.render(&mut out);
        self.render_breakers(&mut out);
        self.breaker_opened.render(&mut out);
        self.store_commits.render(&mut out);
        self.store_writes.render(&mut out);
        self.store_batch.render(&mut out);
        self.render_jit(&mut out);
        if let Some(rss) = resident_memory_bytes() {
            header(
                &mut out,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                "gauge",
            );
            let _ = writeln!(out, "process_resident_memory_bytes {rss}");
        }
        out
    }

    /// The `flowc_jit_*` counters, summed over the evaluators.
    fn render_jit(&self, out: &mut String) {
        let counts = self.jit.totals();
        let counters = [
            (
                "flowc_jit_expressions_compiled_total",
                "Expressions of deployed programs compiled to native code.",
                counts.compiled,
            ),
            (
                "flowc_jit_expressions_unsupported_total",
                "Expressions the JIT declined (interpreted for good).",
                counts.unsupported,
            ),
        ];
        for (name, help, value) in counters {
            header(out, name, help, "counter");
            let _ = writeln!(out, "{name} {value}");
        }
        header(
            out,
            "flowc_jit_compile_seconds_total",
            "Time spent compiling expressions to native code.",
            "counter",
        );
        let _ = writeln!(
            out,
            "flowc_jit_compile_seconds_total {}",
            format_float(counts.compile_micros as f64 / 1e6)
        );
        header(
            out,
            "flowc_jit_evaluations_total",
            "Evaluations of deployed programs' expressions, by the tier that answered (bailed: native code handed back to the interpreter).",
            "counter",
        );
        // The compiler counts a bailed evaluation as interpreted too; here each
        // evaluation is under one tier.
        let tiers = [
            ("bailed", counts.bailed),
            (
                "interpreter",
                counts.interpreted.saturating_sub(counts.bailed),
            ),
            ("native", counts.native),
        ];
        for (tier, value) in tiers {
            let _ = writeln!(
                out,
                "flowc_jit_evaluations_total{{tier=\"{tier}\"}} {value}"
            );
        }
    }

    /// `flowc_breaker_state`, read from the live breakers (dropping the entries
    /// of breakers that are gone).
    fn render_breakers(&self, out: &mut String) {
        // The breakers are read after the map's lock is released: a breaker
        // reports its moves (`breaker_moved`) while holding its own lock, so
        // taking its lock under this one could deadlock.
        let live: Vec<(String, Arc<Breaker>)> = {
            let mut breakers = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
            breakers.retain(|_, breaker| breaker.strong_count() > 0);
            breakers
                .iter()
                .filter_map(|(name, breaker)| Some((name.clone(), breaker.upgrade()?)))
                .collect()
        };
        let mut states: Vec<(String, u8)> = live
            .into_iter()
            .map(|(name, breaker)| {
                let state = match breaker.state() {
                    BreakerState::Closed { .. } => 0,
                    BreakerState::HalfOpen => 1,
                    BreakerState::Open { .. } => 2,
                };
                (name, state)
            })
            .collect();
        states.sort();
        header(
            out,
            "flowc_breaker_state",
            "A connection's circuit breaker: 0 closed, 1 half-open, 2 open.",
            "gauge",
        );
        for (connection, state) in states {
            let _ = writeln!(
                out,
                "flowc_breaker_state{{connection=\"{}\"}} {state}",
                escape_label(&connection)
            );
        }
    }
}

/// A run counted in progress; see [`Metrics::run_started`].
#[must_use = "the run stops counting as in progress when this is dropped"]
pub struct Live<'m> {
    metrics: &'m Metrics,
    /// `None` when the run is not counted.
    workflow: Option<String>,
}

impl std::fmt::Debug for Live<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("workflow", &self.workflow)
            .finish()
    }
}

impl Live<'_> {
    /// The run ended with `result`: counted by status. An engine failure (`Err`)
    /// leaves the run to be resumed, so it has not finished.
    pub fn finished<E>(self, result: &Result<RunOutcome, E>) {
        let (Some(workflow), Ok(outcome)) = (&self.workflow, result) else {
            return;
        };
        let status = match outcome {
            RunOutcome::Succeeded(_) => "succeeded",
            RunOutcome::Failed(_) => "failed",
            RunOutcome::Cancelled => "cancelled",
            // Parked or queued: it has not finished.
            RunOutcome::Waiting => return,
        };
        self.metrics
            .runs_finished
            .series(&[workflow, status])
            .add(1);
    }
}

impl Drop for Live<'_> {
    fn drop(&mut self) {
        if let Some(workflow) = &self.workflow {
            self.metrics.runs_in_progress.series(&[workflow]).sub(1);
        }
    }
}

/// One webhook request on its way through ingress: what it is counted under
/// once answered. The path label is the declared path or `unknown`, decided
/// before the request is read.
#[derive(Debug)]
pub struct Webhook {
    /// The declared path; `None` for a path no webhook has.
    path: Option<String>,
    /// Whether the route found for the method has a `verify:` form.
    verifies: bool,
}

impl Webhook {
    /// `request`'s method and path, looked up in `routes`.
    pub fn seen(routes: &Routes, request: &Request) -> Webhook {
        let path = request.uri().path();
        match routes.lookup(request.method().as_str(), path) {
            Lookup::Found(route) => Webhook {
                path: Some(route.path.clone()),
                verifies: route.verify.is_some(),
            },
            // The path exists (lookups are exact), with other methods.
            Lookup::WrongMethod(_) => Webhook {
                path: Some(path.to_string()),
                verifies: false,
            },
            Lookup::NotFound => Webhook {
                path: None,
                verifies: false,
            },
        }
    }

    /// Counts a response that is not an error and hands it back.
    pub fn answered(self, response: Response) -> Response {
        let verification = if self.verifies { "passed" } else { "none" };
        self.count(response.status(), verification);
        response
    }

    /// Counts a refusal and turns it into its response.
    pub fn refused(self, problem: Problem) -> Response {
        let verification = verification(self.verifies, problem.code);
        self.count(problem.status, verification);
        problem.into_response()
    }

    fn count(&self, status: StatusCode, verification: &str) {
        let path = self.path.as_deref().unwrap_or("unknown");
        global()
            .webhook_requests
            .series(&[path, status.as_str(), verification])
            .add(1);
    }
}

/// What a refusal says of the verification, from its code. Ingress refuses in a
/// fixed order (SPEC §5.1): route, rate limit, body size and time, verification,
/// then the body's content. A code not listed here is `unknown` rather than a
/// guess.
fn verification(verifies: bool, code: &str) -> &'static str {
    match code {
        "not_found" | "method_not_allowed" | "rate_limited" | "payload_too_large"
        | "body_timeout" | "bad_body" => "not_reached",
        "unauthorized" => "failed",
        "verification_unavailable" => "unavailable",
        "unsupported_media_type"
        | "malformed_json"
        | "input_mismatch"
        | "idempotency_key"
        | "internal" => {
            if verifies {
                "passed"
            } else {
                "none"
            }
        }
        _ => "unknown",
    }
}

/// The outcome label of a failed outbound call, from its code (`error.rs`).
fn outbound_outcome(error: &outbound::Error) -> &'static str {
    match error.code() {
        "R0101" | "R0102" => "invalid_request",
        "R0103" => "connect_error",
        "R0104" => "timeout",
        "R0105" => "http_error",
        "R0106" => "breaker_open",
        "R0107" | "R0108" | "R0109" => "bad_response",
        "R0110" => "token_error",
        "R0111" => "refused_by_egress",
        "R0112" => "missing_secret",
        _ => "other",
    }
}

// ---------------------------------------------------------------- families

/// What kind of series a family holds, and how it is written.
enum Shape {
    Counter,
    Gauge,
    /// Bucket bounds in the unit observed; values are written divided by
    /// `divisor` (milliseconds observed, seconds written).
    Histogram {
        bounds: &'static [u64],
        divisor: f64,
    },
}

#[derive(Default)]
struct Counter(AtomicU64);

impl Counter {
    fn add(&self, by: u64) {
        self.0.fetch_add(by, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct Gauge(AtomicI64);

impl Gauge {
    fn add(&self, by: i64) {
        self.0.fetch_add(by, Ordering::Relaxed);
    }

    fn sub(&self, by: i64) {
        self.0.fetch_sub(by, Ordering::Relaxed);
    }
}

/// The most buckets a histogram has (the `+Inf` one is `count`).
const MAX_BUCKETS: usize = 16;

/// Per-bucket counts (not cumulative: each observation adds to one bucket),
/// their count and sum, in the unit observed; the bounds are the family's.
#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; MAX_BUCKETS],
    count: AtomicU64,
    sum: AtomicU64,
}

impl Histogram {
    fn observe(&self, bounds: &[u64], value: u64) {
        if let Some(index) = bounds.iter().position(|bound| value <= *bound)
            && let Some(bucket) = self.buckets.get(index)
        {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }
}

/// One metric: its name, help, label names and series by label values.
struct Family<C> {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    shape: Shape,
    /// By the label values joined with `\u{1f}`; the values themselves kept for
    /// rendering.
    series: RwLock<HashMap<String, Labelled<C>>>,
}

/// A series: its label values and its cell.
type Labelled<C> = (Vec<String>, Arc<C>);

const SEPARATOR: char = '\u{1f}';

impl<C: Default> Family<C> {
    fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        shape: Shape,
    ) -> Family<C> {
        Family {
            name,
            help,
            labels,
            shape,
            series: RwLock::new(HashMap::new()),
        }
    }

    /// The series of `values` (one per label name), created at its first use.
    fn series(&self, values: &[&str]) -> Arc<C> {
        let key = values.join(&SEPARATOR.to_string());
        if let Some((_, cell)) = self
            .series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return Arc::clone(cell);
        }
        let mut series = self.series.write().unwrap_or_else(PoisonError::into_inner);
        let (key, values) = if series.len() >= MAX_SERIES && !series.contains_key(&key) {
            let values = vec![OVERFLOW.to_string(); values.len()];
            (values.join(&SEPARATOR.to_string()), values)
        } else {
            (
                key,
                values.iter().map(|value| (*value).to_string()).collect(),
            )
        };
        let (_, cell) = series
            .entry(key)
            .or_insert_with(|| (values, Arc::new(C::default())));
        Arc::clone(cell)
    }
}

impl Family<Histogram> {
    /// Adds `value` to the series of `values`.
    fn observe(&self, values: &[&str], value: u64) {
        let bounds = match self.shape {
            Shape::Histogram { bounds, .. } => &bounds[..bounds.len().min(MAX_BUCKETS)],
            _ => &[],
        };
        self.series(values).observe(bounds, value);
    }
}

/// Writes a family: `# HELP`, `# TYPE`, then its series sorted by label values.
trait Render {
    fn render(&self, out: &mut String);
}

impl<C: Default + Value> Render for Family<C> {
    fn render(&self, out: &mut String) {
        let kind = match self.shape {
            Shape::Counter => "counter",
            Shape::Gauge => "gauge",
            Shape::Histogram { .. } => "histogram",
        };
        header(out, self.name, self.help, kind);
        let mut series: Vec<Labelled<C>> = self
            .series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|(values, cell)| (values.clone(), Arc::clone(cell)))
            .collect();
        // An unlabelled family is always written, as 0 before anything happened.
        if self.labels.is_empty() && series.is_empty() {
            series.push((Vec::new(), Arc::new(C::default())));
        }
        series.sort_by(|a, b| a.0.cmp(&b.0));
        for (values, cell) in series {
            let labels: Vec<(&str, &str)> = self
                .labels
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            cell.write(self.name, &labels, &self.shape, out);
        }
    }
}

/// How a cell writes its lines.
trait Value {
    fn write(&self, name: &str, labels: &[(&str, &str)], shape: &Shape, out: &mut String);
}

impl Value for Counter {
    fn write(&self, name: &str, labels: &[(&str, &str)], _: &Shape, out: &mut String) {
        let _ = writeln!(
            out,
            "{name}{} {}",
            label_set(labels, None),
            self.0.load(Ordering::Relaxed)
        );
    }
}

impl Value for Gauge {
    fn write(&self, name: &str, labels: &[(&str, &str)], _: &Shape, out: &mut String) {
        let _ = writeln!(
            out,
            "{name}{} {}",
            label_set(labels, None),
            self.0.load(Ordering::Relaxed)
        );
    }
}

impl Value for Histogram {
    fn write(&self, name: &str, labels: &[(&str, &str)], shape: &Shape, out: &mut String) {
        let (bounds, divisor) = match shape {
            Shape::Histogram { bounds, divisor } => (*bounds, *divisor),
            _ => (&[][..], 1.0),
        };
        // Read the count first: observations landing meanwhile may make a bucket
        // exceed it by a little, never `+Inf` fall below a bucket.
        let mut cumulative = 0u64;
        for (bound, bucket) in bounds.iter().zip(self.buckets.iter()) {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = format_float(*bound as f64 / divisor);
            let _ = writeln!(
                out,
                "{name}_bucket{} {cumulative}",
                label_set(labels, Some(&le))
            );
        }
        let count = self.count.load(Ordering::Relaxed).max(cumulative);
        let _ = writeln!(
            out,
            "{name}_bucket{} {count}",
            label_set(labels, Some("+Inf"))
        );
        let sum = self.sum.load(Ordering::Relaxed) as f64 / divisor;
        let _ = writeln!(
            out,
            "{name}_sum{} {}",
            label_set(labels, None),
            format_float(sum)
        );
        let _ = writeln!(out, "{name}_count{} {count}", label_set(labels, None));
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// `{a="x",b="y"}` (with `le` last for a bucket), or nothing without labels.
fn label_set(labels: &[(&str, &str)], le: Option<&str>) -> String {
    if labels.is_empty() && le.is_none() {
        return String::new();
    }
    let mut text = String::from("{");
    let pairs = labels
        .iter()
        .copied()
        .chain(le.map(|le| ("le", le)))
        .enumerate();
    for (index, (name, value)) in pairs {
        if index > 0 {
            text.push(',');
        }
        let _ = write!(text, "{name}=\"{}\"", escape_label(value));
    }
    text.push('}');
    text
}

/// A label value as the format wants it: `\`, `"` and newlines escaped.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `0.005`, `1`, `300`: Rust's shortest round-trip form, which Prometheus reads.
fn format_float(value: f64) -> String {
    format!("{value}")
}

/// The resident set size from `/proc/self/status` (`VmRSS`, in kB); `None` where
/// there is no procfs.
fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kilobytes.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::BreakerConfig;
    use std::time::Duration;

    fn lines(text: &str, prefix: &str) -> Vec<String> {
        text.lines()
            .filter(|line| line.starts_with(prefix))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn counters_are_written_by_label_values_sorted_and_escaped() {
        let metrics = Metrics::new();
        let _ = metrics.outbound_call::<()>(Some("crm"), Ok(()));
        let _ = metrics.outbound_call::<()>(Some("crm"), Ok(()));
        let _ = metrics.outbound_call::<()>(
            Some("a\"b"),
            Err(outbound::Error::Egress {
                target: "10.0.0.1:80".into(),
                ip: None,
                reason: "private".into(),
            }),
        );
        let text = metrics.render();
        assert_eq!(
            lines(&text, "flowc_outbound_calls_total"),
            [
                "flowc_outbound_calls_total{connection=\"a\\\"b\",outcome=\"refused_by_egress\"} 1",
                "flowc_outbound_calls_total{connection=\"crm\",outcome=\"ok\"} 2",
            ]
        );
        assert_eq!(
            lines(&text, "flowc_egress_refusals_total"),
            ["flowc_egress_refusals_total{connection=\"a\\\"b\"} 1"]
        );
        assert!(text.contains("# TYPE flowc_outbound_calls_total counter\n"));
    }

    #[test]
    fn histograms_are_cumulative_with_inf_sum_and_count() {
        let metrics = Metrics::new();
        for ms in [3, 7, 7, 400, 1_000_000] {
            metrics.step_finished("order", ms, true);
        }
        let text = metrics.render();
        let series = lines(&text, "flowc_step_duration_seconds");
        assert!(series.contains(
            &"flowc_step_duration_seconds_bucket{workflow=\"order\",outcome=\"succeeded\",le=\"0.005\"} 1"
                .to_string()
        ));
        assert!(series.contains(
            &"flowc_step_duration_seconds_bucket{workflow=\"order\",outcome=\"succeeded\",le=\"0.01\"} 3"
                .to_string()
        ));
        assert!(series.contains(
            &"flowc_step_duration_seconds_bucket{workflow=\"order\",outcome=\"succeeded\",le=\"300\"} 4"
                .to_string()
        ));
        assert!(series.contains(
            &"flowc_step_duration_seconds_bucket{workflow=\"order\",outcome=\"succeeded\",le=\"+Inf\"} 5"
                .to_string()
        ));
        assert!(series.contains(
            &"flowc_step_duration_seconds_sum{workflow=\"order\",outcome=\"succeeded\"} 1000.417"
                .to_string()
        ));
        assert!(
            series.contains(
                &"flowc_step_duration_seconds_count{workflow=\"order\",outcome=\"succeeded\"} 5"
                    .to_string()
            )
        );
    }

    #[test]
    fn a_family_keeps_a_bounded_number_of_series() {
        let metrics = Metrics::new();
        for index in 0..MAX_SERIES + 10 {
            metrics.step_finished(&format!("w{index}"), 1, false);
        }
        let text = metrics.render();
        let counts = lines(&text, "flowc_step_duration_seconds_count");
        assert_eq!(counts.len(), MAX_SERIES + 1);
        assert!(
            counts.contains(
                &"flowc_step_duration_seconds_count{workflow=\"_other\",outcome=\"_other\"} 10"
                    .to_string()
            )
        );
    }

    #[test]
    fn a_run_counts_in_progress_until_it_finishes_and_ended_runs_not_at_all() {
        let metrics = Metrics::new();
        let mut run = Run {
            id: "r1".into(),
            deployment: "d1".into(),
            workflow: "order".into(),
            status: crate::store::RunStatus::Pending,
            trigger: "webhook".into(),
            input: serde_json::Value::Null,
            output: None,
            error: None,
            idempotency_key: None,
            created_at: 0,
            updated_at: 0,
            webhook: None,
            replay_of: None,
            retries: 0,
            parent: None,
            paused: false,
        };
        let live = metrics.run_started(Some(&run));
        assert!(
            metrics
                .render()
                .contains("flowc_runs_in_progress{workflow=\"order\"} 1\n")
        );
        live.finished::<()>(&Ok(RunOutcome::Failed(serde_json::Value::Null)));
        run.status = crate::store::RunStatus::Succeeded;
        metrics
            .run_started(Some(&run))
            .finished::<()>(&Ok(RunOutcome::Cancelled));
        metrics.run_started(None).finished::<()>(&Err(()));
        let text = metrics.render();
        assert_eq!(
            lines(&text, "flowc_runs_"),
            [
                "flowc_runs_started_total{workflow=\"order\"} 1",
                "flowc_runs_finished_total{workflow=\"order\",status=\"failed\"} 1",
                "flowc_runs_in_progress{workflow=\"order\"} 0",
            ]
        );
    }

    #[test]
    fn breakers_report_their_state_and_count_openings() {
        let metrics = Metrics::new();
        let breaker = Breaker::new(BreakerConfig {
            failures: 1,
            reset_after: Duration::from_secs(30),
        });
        metrics.watch_breaker("fraud", &breaker);
        assert!(
            metrics
                .render()
                .contains("flowc_breaker_state{connection=\"fraud\"} 0\n")
        );
        let open = BreakerState::Open { until: 30_000 };
        metrics.breaker_moved(&breaker, BreakerState::Closed { failures: 0 }, open);
        metrics.breaker_moved(&breaker, open, open);
        if let Ok(permit) = breaker.admit(0) {
            permit.failure(0);
        }
        let text = metrics.render();
        assert!(text.contains("flowc_breaker_state{connection=\"fraud\"} 2\n"));
        assert!(text.contains("flowc_breaker_opened_total{connection=\"fraud\"} 1\n"));
        drop(breaker);
        assert!(!metrics.render().contains("flowc_breaker_state{"));
    }

    #[test]
    fn the_store_family_is_written_before_any_commit() {
        let metrics = Metrics::new();
        assert!(metrics.render().contains("\nflowc_store_commits_total 0\n"));
        metrics.store_commit(3);
        metrics.store_commit(1);
        let text = metrics.render();
        assert!(text.contains("\nflowc_store_commits_total 2\n"));
        assert!(text.contains("\nflowc_store_writes_total 4\n"));
        assert!(text.contains("\nflowc_store_writes_per_commit_bucket{le=\"2\"} 1\n"));
        assert!(text.contains("\nflowc_store_writes_per_commit_bucket{le=\"4\"} 2\n"));
    }

    #[test]
    fn refusals_say_how_far_verification_got() {
        assert_eq!(verification(true, "not_found"), "not_reached");
        assert_eq!(verification(true, "payload_too_large"), "not_reached");
        assert_eq!(verification(true, "unauthorized"), "failed");
        assert_eq!(
            verification(true, "verification_unavailable"),
            "unavailable"
        );
        assert_eq!(verification(true, "input_mismatch"), "passed");
        assert_eq!(verification(false, "input_mismatch"), "none");
        assert_eq!(verification(true, "rate_limited"), "not_reached");
        assert_eq!(verification(true, "a_code_to_come"), "unknown");
    }
}
