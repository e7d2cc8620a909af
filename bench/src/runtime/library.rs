//! The runtime through its library API: checkpointed steps per second and the
//! latency of one short run, with nothing in between (no HTTP ingress).
//!
//! Each pass opens a fresh SQLite store in a temporary directory
//! (`synchronous=FULL`, the default), deploys the chain workflow, and starts runs
//! with `Store::start_run` then interprets them with `Engine::run`, at most
//! `concurrency` at a time on a multi-threaded tokio runtime. A run only counts
//! when its output is the sum its steps must produce. The store's writer counters
//! (writes and commits) are reported too: their ratio is the group-commit batch
//! size, the figure that decides whether the fsync is amortised.

use super::downstream::Downstream;
use super::flows::{self, Trigger};
use anyhow::{Context as _, Result, bail};
use flowc_runtime::clock::{Clock, SystemClock};
use flowc_runtime::engine::{Engine, NoSecrets};
use flowc_runtime::outbound::Client;
use flowc_runtime::store::sqlite::{Durability, Options, SqliteStore};
use flowc_runtime::store::{NewRun, RunOutcome, Store};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One timed pass of the steps benchmark.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StepsPass {
    pub runs: usize,
    pub steps_per_run: usize,
    pub concurrency: usize,
    pub seconds: f64,
    pub steps_per_second: f64,
    pub runs_per_second: f64,
    /// Store writes during the timed part.
    pub writes: u64,
    /// Transactions (each one fsync with `synchronous=FULL`) during the timed part.
    pub commits: u64,
    /// CPU time of this whole process (engine, store, client and the downstream
    /// server) per step, in microseconds: a figure that holds on a busy machine.
    pub cpu_us_per_step: f64,
    /// CPU time of the store's writer thread as a share of the wall time: near 1.0
    /// means the single writer is what limits throughput.
    pub writer_busy: f64,
}

/// Latency of sequential runs, in milliseconds.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Latency {
    pub runs: usize,
    pub steps_per_run: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
}

/// A deployed chain on a fresh store, with an engine to run it.
struct Bed {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    engine: Arc<Engine>,
    deployment: String,
    expected: i64,
}

impl Bed {
    async fn new(downstream: &Downstream, steps: usize) -> Result<Bed> {
        let program = flows::compile(&flows::chain(&downstream.base, steps, Trigger::Manual))?;
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        let mut options = Options::new(dir.path().join("flowc.db"));
        options.durability = Durability::Full;
        let store = Arc::new(options.open().context("cannot open the store")?);
        let deployed = store.deploy(&program).await.context("cannot deploy")?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let client = Client::builder(Arc::clone(&clock))
            .build()
            .context("cannot build the outbound client")?;
        let engine = Arc::new(Engine::new(
            store.clone(),
            Arc::new(client),
            Arc::new(NoSecrets),
            clock,
        ));
        Ok(Bed {
            _dir: dir,
            store,
            engine,
            deployment: deployed.id,
            expected: flows::chain_sum(steps),
        })
    }

    /// Starts one run and interprets it to the end; an error unless it succeeded
    /// with the expected sum.
    async fn one_run(
        store: &SqliteStore,
        engine: &Engine,
        deployment: &str,
        expected: i64,
    ) -> Result<()> {
        let started = store
            .start_run(NewRun {
                deployment: deployment.to_string(),
                workflow: "chain".into(),
                input: json!({ "acc": 0 }),
                idempotency_key: None,
                trigger: "manual".into(),
                delivery: None,
                webhook: None,
                replay_of: None,
            })
            .await
            .context("start_run failed")?;
        match engine.run(&started.run).await {
            Ok(RunOutcome::Succeeded(output)) if output == json!(expected) => Ok(()),
            Ok(other) => bail!(
                "run {} ended as {other:?}, expected {expected}",
                started.run
            ),
            Err(error) => bail!("run {} could not be run: {error}", started.run),
        }
    }

    /// `runs` runs, at most `concurrency` at once.
    async fn many(&self, runs: usize, concurrency: usize) -> Result<()> {
        let next = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::with_capacity(concurrency);
        for _ in 0..concurrency.max(1) {
            let next = Arc::clone(&next);
            let store = Arc::clone(&self.store);
            let engine = Arc::clone(&self.engine);
            let deployment = self.deployment.clone();
            let expected = self.expected;
            workers.push(tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < runs {
                    Bed::one_run(&store, &engine, &deployment, expected).await?;
                }
                anyhow::Ok(())
            }));
        }
        for worker in workers {
            worker.await.context("a run task panicked")??;
        }
        Ok(())
    }
}

/// Microseconds to decode the chain's stored program (`Program::from_binary`, the
/// CBOR the store keeps): what a run would pay if the engine's per-deployment
/// cache of decoded programs missed, to set against `cpu_us_per_step × steps`.
pub fn decode_us(base: &str, steps: usize) -> Result<f64> {
    let program = flows::compile(&flows::chain(base, steps, Trigger::Manual))?;
    let bytes = program.to_binary();
    let rounds = 2000;
    let start = Instant::now();
    for _ in 0..rounds {
        let decoded = flowc_compiler::ir::Program::from_binary(std::hint::black_box(&bytes))
            .context("the program does not decode")?;
        std::hint::black_box(decoded);
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds))
}

/// The name the store gives its writer thread (as `/proc` shows it, cut to 15
/// bytes).
const WRITER_THREAD: &str = "flowc-store-wri";

/// CPU time from `/proc/self`, in seconds (clock ticks of 10 ms).
mod cpu {
    fn ticks(stat: &str) -> f64 {
        // After the parenthesised name: utime and stime are the 12th and 13th fields.
        let rest = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |at: usize| {
            fields
                .get(at)
                .and_then(|text| text.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (field(11) + field(12)) / 100.0
    }

    pub fn process_seconds() -> f64 {
        std::fs::read_to_string("/proc/self/stat")
            .map(|stat| ticks(&stat))
            .unwrap_or(0.0)
    }

    /// The summed CPU time of this process's threads called `name`.
    pub fn thread_seconds(name: &str) -> f64 {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return 0.0;
        };
        tasks
            .flatten()
            .filter(|task| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|comm| comm.trim() == name)
            })
            .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
            .map(|stat| ticks(&stat))
            .sum()
    }
}

fn tokio_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start a tokio runtime")
}

/// One pass of `runs` runs of a `steps`-step chain, `concurrency` at once, after
/// a warm-up of `concurrency` runs on the same store.
pub fn steps(
    downstream: &Downstream,
    runs: usize,
    steps: usize,
    concurrency: usize,
) -> Result<StepsPass> {
    tokio_runtime()?.block_on(async {
        let bed = Bed::new(downstream, steps).await?;
        bed.many(concurrency, concurrency).await?;
        let (writes, commits) = (bed.store.writes(), bed.store.commits());
        let cpu = cpu::process_seconds();
        let writer = cpu::thread_seconds(WRITER_THREAD);
        let start = Instant::now();
        bed.many(runs, concurrency).await?;
        let seconds = start.elapsed().as_secs_f64();
        let cpu = cpu::process_seconds() - cpu;
        let writer = cpu::thread_seconds(WRITER_THREAD) - writer;
        let pass = StepsPass {
            runs,
            steps_per_run: steps,
            concurrency,
            seconds,
            steps_per_second: (runs * steps) as f64 / seconds,
            runs_per_second: runs as f64 / seconds,
            writes: bed.store.writes() - writes,
            commits: bed.store.commits() - commits,
            cpu_us_per_step: cpu * 1e6 / (runs * steps).max(1) as f64,
            writer_busy: writer / seconds,
        };
        bed.store.close().await;
        Ok(pass)
    })
}

/// `runs` runs of a `steps`-step chain one after the other, each timed from
/// `start_run` to the end of `Engine::run`, after 50 untimed runs.
pub fn latency(downstream: &Downstream, runs: usize, steps: usize) -> Result<Latency> {
    tokio_runtime()?.block_on(async {
        let bed = Bed::new(downstream, steps).await?;
        for _ in 0..50 {
            Bed::one_run(&bed.store, &bed.engine, &bed.deployment, bed.expected).await?;
        }
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            Bed::one_run(&bed.store, &bed.engine, &bed.deployment, bed.expected).await?;
            times.push(start.elapsed());
        }
        bed.store.close().await;
        Ok(summarize(runs, steps, &mut times))
    })
}

/// Percentiles of sequential timings (nearest rank).
pub fn summarize(runs: usize, steps: usize, times: &mut [Duration]) -> Latency {
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let at = |q: f64| {
        if times.is_empty() {
            return 0.0;
        }
        let rank = ((q * times.len() as f64).ceil() as usize).clamp(1, times.len());
        ms(times[rank - 1])
    };
    let mean = if times.is_empty() {
        0.0
    } else {
        times.iter().map(|d| ms(*d)).sum::<f64>() / times.len() as f64
    };
    Latency {
        runs,
        steps_per_run: steps,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        mean_ms: mean,
    }
}
