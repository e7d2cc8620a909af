//! The runtime as users run it: the release `flowc serve` binary on a loopback
//! port with a temporary database, driven over HTTP.
//!
//! Four measurements: webhook ingestion under `wrk` (a 202 is only sent after the
//! run is committed, so every accept is a durable write), the process's resident
//! memory idle and under that load, checkpointed steps per second when the runs
//! are started by webhooks, and the latency of a short run answered with `respond:
//! wait`. After a load, webhook-started runs are still executing in the
//! background; the server is given time to finish them (its CPU time stops
//! growing) before the next load, and that drain time is reported.

use super::downstream::Downstream;
use super::flows::{self, Trigger};
use super::library::{self, Latency};
use super::process::{self, Memory, Service};
use super::wrk;
use anyhow::{Context as _, Result, bail};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A `flowc serve` process on a free loopback port with its own database.
pub struct Serve {
    pub service: Service,
    pub port: u16,
}

impl Serve {
    /// Starts `flowc serve PATHS --db DIR/flowc.db` and waits until it listens.
    pub fn start(flowc: &Path, dir: &Path, paths: &[PathBuf]) -> Result<Serve> {
        // The downstream the chains call listens on loopback, which the egress
        // guard closes by default.
        Serve::start_with(flowc, dir, paths, &["--allow-egress", "127.0.0.1/32"])
    }

    /// Starts `flowc serve PATHS --db DIR/flowc.db … ARGS` and waits until it
    /// listens.
    pub fn start_with(flowc: &Path, dir: &Path, paths: &[PathBuf], args: &[&str]) -> Result<Serve> {
        let port = process::free_port()?;
        let mut command = Command::new(flowc);
        command
            .arg("serve")
            .args(paths)
            .arg("--db")
            .arg(dir.join("flowc.db"))
            .arg("--addr")
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .current_dir(dir)
            .env_remove("FLOWC_MASTER_KEY")
            .env_remove("FLOWC_ADMIN_TOKEN");
        let mut service = Service::spawn("flowc serve", command, &dir.join("serve.log"))?;
        service.wait_for_port(process::loopback(port), Duration::from_secs(30))?;
        Ok(Serve { service, port })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// Webhook ingestion through `flowc serve`, with its memory.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Ingest {
    pub runs: Vec<wrk::Report>,
    /// Resident memory after start, before any request.
    pub idle: Memory,
    /// The largest `VmRSS` sampled (every 100 ms) while wrk ran.
    pub load_rss_kib: u64,
    /// `VmHWM` at the end: the peak over the whole benchmark.
    pub peak_kib: u64,
    /// Seconds after each load until the server's CPU time stopped growing (the
    /// runs the accepted webhooks started, finishing).
    pub drain_seconds: Vec<f64>,
}

/// `repeat` wrk runs of `seconds` each against the ingestion webhook.
pub fn ingest(
    flowc: &Path,
    script: &Path,
    connections: usize,
    seconds: u64,
    repeat: usize,
) -> Result<Ingest> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("ingest.flow");
    std::fs::write(&file, flows::ingest())?;
    let serve = Serve::start(flowc, dir.path(), &[file])?;
    std::thread::sleep(Duration::from_secs(1));
    let idle = serve.service.memory()?;
    let url = serve.url(flows::INGEST_PATH);
    // Warm-up: connections, allocator arenas, SQLite's page cache.
    wrk::run(&url, script, connections, 2)?;
    wait_idle(serve.service.pid(), Duration::from_secs(120))?;
    let mut runs = Vec::with_capacity(repeat);
    let mut drain_seconds = Vec::with_capacity(repeat);
    let mut load_rss_kib = 0;
    for _ in 0..repeat {
        let sampling = AtomicBool::new(true);
        let pid = serve.service.pid();
        let (report, sampled) = std::thread::scope(|scope| {
            let sampler = scope.spawn(|| {
                let mut most = 0;
                while sampling.load(Ordering::Relaxed) {
                    if let Ok(memory) = Memory::of(pid) {
                        most = most.max(memory.rss_kib);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                most
            });
            let report = wrk::run(&url, script, connections, seconds);
            sampling.store(false, Ordering::Relaxed);
            (report, sampler.join().unwrap_or(0))
        });
        let report = report?;
        if report.non_2xx > 0 {
            bail!(
                "flowc serve answered {} of {} webhooks with an error; its log ends with:\n{}",
                report.non_2xx,
                report.requests,
                serve.service.log_tail()
            );
        }
        load_rss_kib = load_rss_kib.max(sampled);
        runs.push(report);
        drain_seconds.push(wait_idle(pid, Duration::from_secs(300))?);
    }
    let peak_kib = serve.service.memory()?.hwm_kib;
    Ok(Ingest {
        runs,
        idle,
        load_rss_kib,
        peak_kib,
        drain_seconds,
    })
}

/// Resident memory of `flowc serve` with every example deployed, after it has
/// settled for two seconds.
pub fn idle_examples(flowc: &Path, examples: &Path) -> Result<Memory> {
    let dir = tempfile::tempdir()?;
    let serve = Serve::start(flowc, dir.path(), &[examples.to_path_buf()])?;
    std::thread::sleep(Duration::from_secs(2));
    serve.service.memory()
}

/// Checkpointed steps per second with runs started by webhooks.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ServeSteps {
    pub runs: usize,
    pub steps_per_run: usize,
    pub concurrency: usize,
    /// From the first webhook sent to the last step answered downstream.
    pub seconds: f64,
    pub steps_per_second: f64,
}

/// `runs` webhooks (`concurrency` in flight) to a `steps`-step chain; timed until
/// the downstream server has answered every run's every step.
pub fn steps(
    flowc: &Path,
    downstream: &Downstream,
    runs: usize,
    steps: usize,
    concurrency: usize,
) -> Result<ServeSteps> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("chain.flow");
    std::fs::write(
        &file,
        flows::chain(&downstream.base, steps, Trigger::WebhookAccepted),
    )?;
    let mut serve = Serve::start(flowc, dir.path(), &[file])?;
    let url = serve.url(flows::CHAIN_PATH);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let client = reqwest::Client::new();
    let before = downstream.answered();
    let expected = before + (runs * steps) as u64;
    let start = Instant::now();
    runtime.block_on(post_many(&client, runs, concurrency, move |client, _| {
        client.post(&url).json(&json!({ "acc": 0 }))
    }))?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while downstream.answered() < expected {
        if Instant::now() > deadline {
            bail!(
                "only {} of {} steps reached the downstream server in 10 minutes",
                downstream.answered() - before,
                runs * steps
            );
        }
        serve.service.check_alive()?;
        std::thread::sleep(Duration::from_millis(1));
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(ServeSteps {
        runs,
        steps_per_run: steps,
        concurrency,
        seconds,
        steps_per_second: (runs * steps) as f64 / seconds,
    })
}

/// Sends `count` requests built by `request` (from the client and the
/// request's index), `concurrency` at once; every answer must be 202.
pub(crate) async fn post_many(
    client: &reqwest::Client,
    count: usize,
    concurrency: usize,
    request: impl Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> Result<()> {
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let client = client.clone();
        let request = Arc::clone(&request);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    break;
                }
                let response = request(&client, index)
                    .send()
                    .await
                    .context("a request failed")?;
                let status = response.status().as_u16();
                if status != 202 {
                    let body = response.text().await.unwrap_or_default();
                    bail!("request {index} answered {status}: {body}");
                }
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await.context("a request task panicked")??;
    }
    Ok(())
}

/// Sequential `respond: wait` webhooks to a `steps`-step chain: each answered
/// with the run's output once it has ended.
pub fn latency(
    flowc: &Path,
    downstream: &Downstream,
    runs: usize,
    steps: usize,
) -> Result<Latency> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("chain.flow");
    std::fs::write(
        &file,
        flows::chain(&downstream.base, steps, Trigger::WebhookWait),
    )?;
    let serve = Serve::start(flowc, dir.path(), &[file])?;
    let url = serve.url(flows::CHAIN_PATH);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let expected = flows::chain_sum(steps);
    let mut times = runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut times = Vec::with_capacity(runs);
        for index in 0..runs + 50 {
            let start = Instant::now();
            let response = client
                .post(&url)
                .json(&json!({ "acc": 0 }))
                .send()
                .await
                .context("a webhook request failed")?;
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            let elapsed = start.elapsed();
            if status != 200 || body.trim() != expected.to_string() {
                bail!(
                    "a `respond: wait` webhook answered {status} `{body}`, expected 200 `{expected}` (is `respond: wait` in this build?)"
                );
            }
            // The first 50 warm the connection and the caches.
            if index >= 50 {
                times.push(elapsed);
            }
        }
        anyhow::Ok(times)
    })?;
    Ok(library::summarize(runs, steps, &mut times))
}

/// Waits until process `pid` has used no CPU for half a second; the seconds that
/// took.
fn wait_idle(pid: u32, timeout: Duration) -> Result<f64> {
    let start = Instant::now();
    let mut last = cpu_ticks(pid)?;
    let mut still_since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = cpu_ticks(pid)?;
        if now != last {
            last = now;
            still_since = Instant::now();
        } else if still_since.elapsed() >= Duration::from_millis(500) {
            return Ok((still_since - start).as_secs_f64());
        }
        if start.elapsed() > timeout {
            bail!("flowc serve was still busy {timeout:?} after the load");
        }
    }
}

/// User plus system CPU time of a process, in clock ticks (`/proc/PID/stat`).
fn cpu_ticks(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    // The command name is in parentheses and may hold spaces: count from after it.
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3 of the line, utime 14 and stime 15.
    match (fields.get(11), fields.get(12)) {
        (Some(user), Some(system)) => Ok(user.parse::<u64>()? + system.parse::<u64>()?),
        _ => bail!("{path} is not in the expected format"),
    }
}
