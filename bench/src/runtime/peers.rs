//! The peers flowc is measured against, started and loaded by the same code
//! that measures flowc, in the same run.
//!
//! Installing them is the job of `../shared/peers/README.md` (everything lands in
//! `/tmp/peers`); here each peer is started from that install exactly as the README
//! starts it, given the README's workload, measured, and stopped (its whole process
//! group, see [`Service`]). A peer that is not installed is reported as such rather
//! than failing the whole benchmark.
//!
//! Webhook servers (the axum floor, Node-RED, n8n) get the same `wrk` command and
//! body as `flowc serve`. Durable steps: Restate's `ten/run` handler (ten
//! journaled `ctx.run` steps) under `wrk` at 16 connections, one request being one
//! workflow, as in the peers' baseline; DBOS through its own script
//! (`durable/dbos_steps.py`, SQLite system database, 8 threads). The peers' steps
//! compute `acc + i` in process; flowc's steps each make an HTTP call, which is the
//! harder job.

use super::process::{self, Service};
use super::wrk;
use anyhow::{Context as _, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where the peers are installed and where their scripts are.
#[derive(Clone, Debug)]
pub struct Places {
    /// The install root, `/tmp/peers`.
    pub install: PathBuf,
    /// The peers' scripts and configurations, `../shared/peers`.
    pub scripts: PathBuf,
}

/// The wrk settings every webhook peer gets.
#[derive(Clone, Debug)]
pub struct Load<'a> {
    pub script: &'a Path,
    pub connections: usize,
    pub seconds: u64,
    pub repeat: usize,
}

/// An error meaning "this peer is not installed here": reported, not fatal.
#[derive(Debug)]
pub struct Missing(pub String);

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not installed: {}", self.0)
    }
}

impl std::error::Error for Missing {}

fn require(path: &Path) -> Result<()> {
    if path.exists() {
        Ok(())
    } else {
        Err(Missing(path.display().to_string()).into())
    }
}

/// A scratch directory under the install root, emptied first.
fn scratch(places: &Places, name: &str) -> Result<PathBuf> {
    let dir = places.install.join("bench-run").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot empty {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// POSTs the benchmark body until the answer is 2xx (the server has loaded its
/// flows), or fails after `timeout`.
fn wait_ready(service: &mut Service, url: &str, timeout: Duration) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::new();
    let deadline = Instant::now() + timeout;
    loop {
        let answer = runtime.block_on(async {
            let response = client
                .post(url)
                .header("content-type", "application/json")
                .body(wrk::BODY)
                .timeout(Duration::from_secs(10))
                .send()
                .await?;
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            anyhow::Ok((status, body))
        });
        let last = match answer {
            Ok((status, _)) if status.is_success() => return Ok(()),
            Ok((status, body)) => format!("{status}: {body}"),
            Err(error) => format!("{error:#}"),
        };
        service.check_alive()?;
        if Instant::now() > deadline {
            bail!(
                "{} did not answer {url} with 2xx within {timeout:?} (last: {last}); its log ends with:\n{}",
                service.name,
                service.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A short warm-up, then `repeat` wrk runs.
fn load(url: &str, load: &Load<'_>) -> Result<Vec<wrk::Report>> {
    wrk::run(url, load.script, load.connections, 2)?;
    (0..load.repeat)
        .map(|_| wrk::run(url, load.script, load.connections, load.seconds))
        .collect()
}

/// The axum floor: parse the JSON body, build five fields, answer; nothing stored.
pub fn floor(places: &Places, settings: &Load<'_>) -> Result<Vec<wrk::Report>> {
    let binary = places.install.join("target/release/httpfloor");
    require(&binary)?;
    let dir = scratch(places, "floor")?;
    let port = process::free_port()?;
    let mut command = Command::new(&binary);
    command.arg(port.to_string());
    let mut service = Service::spawn("httpfloor", command, &dir.join("log.txt"))?;
    service.wait_for_port(process::loopback(port), Duration::from_secs(10))?;
    let url = format!("http://127.0.0.1:{port}/echo");
    wait_ready(&mut service, &url, Duration::from_secs(10))?;
    load(&url, settings)
}

/// Node-RED: `http in` → `function` (the transform) → `http response`; nothing
/// persisted.
pub fn nodered(places: &Places, settings: &Load<'_>) -> Result<Vec<wrk::Report>> {
    let binary = places
        .install
        .join("npm-nodered/node_modules/.bin/node-red");
    require(&binary)?;
    let home = scratch(places, "nodered-home")?;
    std::fs::copy(
        places.scripts.join("webhook/nodered_flows.json"),
        home.join("flows.json"),
    )
    .context("cannot copy the Node-RED flows")?;
    let port = process::free_port()?;
    let mut command = Command::new(&binary);
    command.args(["--no-telemetry", "-u"]).arg(&home).args([
        "-p",
        &port.to_string(),
        "-D",
        "uiHost=127.0.0.1",
        "flows.json",
    ]);
    let mut service = Service::spawn("Node-RED", command, &home.join("log.txt"))?;
    service.wait_for_port(process::loopback(port), Duration::from_secs(60))?;
    let url = format!("http://127.0.0.1:{port}/bench");
    wait_ready(&mut service, &url, Duration::from_secs(60))?;
    load(&url, settings)
}

/// n8n with its SQLite database, every execution saved: Webhook → Set → respond
/// with the last node.
pub fn n8n(places: &Places, settings: &Load<'_>) -> Result<Vec<wrk::Report>> {
    let root = places.install.join("npm-n8n");
    let binary = root.join("node_modules/.bin/n8n");
    require(&binary)?;
    let home = scratch(places, "n8n-home")?;
    let port = process::free_port()?;
    let workflow = places.scripts.join("webhook/n8n_webhook_workflow.json");
    let n8n = |args: &[&str]| {
        let mut command = Command::new(&binary);
        command.args(args).current_dir(&root);
        // What `webhook/n8n_env.sh` exports, with this run's home and port.
        command
            .env("N8N_USER_FOLDER", &home)
            .env("N8N_LISTEN_ADDRESS", "127.0.0.1")
            .env("N8N_PORT", port.to_string())
            .env("N8N_HOST", "127.0.0.1")
            .env("N8N_DIAGNOSTICS_ENABLED", "false")
            .env("N8N_VERSION_NOTIFICATIONS_ENABLED", "false")
            .env("N8N_TEMPLATES_ENABLED", "false")
            .env("N8N_PERSONALIZATION_ENABLED", "false")
            .env("N8N_HIRING_BANNER_ENABLED", "false")
            .env("N8N_COMMUNITY_PACKAGES_ENABLED", "false")
            .env("N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS", "false")
            .env("N8N_SECURE_COOKIE", "false")
            .env("N8N_LOG_LEVEL", "warn")
            .env("DB_TYPE", "sqlite")
            .env("EXECUTIONS_MODE", "regular");
        command
    };
    let workflow_arg = format!("--input={}", workflow.display());
    for (what, args) in [
        ("import", vec!["import:workflow", workflow_arg.as_str()]),
        ("publish", vec!["publish:workflow", "--id=benchwebhook0001"]),
    ] {
        let output = n8n(&args)
            .output()
            .with_context(|| format!("cannot run n8n {what}"))?;
        if !output.status.success() {
            bail!(
                "n8n {what} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let mut service = Service::spawn("n8n", n8n(&["start"]), &home.join("log.txt"))?;
    service.wait_for_port(process::loopback(port), Duration::from_secs(180))?;
    let url = format!("http://127.0.0.1:{port}/webhook/bench");
    wait_ready(&mut service, &url, Duration::from_secs(120))?;
    load(&url, settings)
}

/// Restate: `ten/run`, ten journaled steps, one request one workflow; the
/// reports' requests per second are workflows per second.
pub fn restate(places: &Places, settings: &Load<'_>) -> Result<Vec<wrk::Report>> {
    let modules = places.install.join("npm-restate/node_modules");
    let server = modules.join("@restatedev/restate-server-linux-x64/bin/restate-server");
    require(&server)?;
    // The server's ports are fixed by its defaults: refuse to run beside another.
    for port in [8080, 9070, 5122] {
        if process::port_in_use(port) {
            bail!("Restate needs 127.0.0.1:{port}, which is in use");
        }
    }
    let dir = scratch(places, "restate")?;
    let mut command = Command::new(&server);
    command
        .arg("--no-logo")
        .env("RESTATE_DISABLE_TELEMETRY", "true")
        .env("RESTATE_BIND_IP", "127.0.0.1")
        .env("RESTATE_BASE_DIR", dir.join("data"));
    let mut restate = Service::spawn("restate-server", command, &dir.join("server.log"))?;
    restate.wait_for_port(process::loopback(9070), Duration::from_secs(60))?;
    restate.wait_for_port(process::loopback(8080), Duration::from_secs(60))?;

    let port = process::free_port()?;
    let mut command = Command::new("node");
    command
        .arg(places.scripts.join("durable/restate_service.js"))
        .arg(port.to_string())
        .env("NODE_PATH", &modules);
    let mut service = Service::spawn("Restate service", command, &dir.join("service.log"))?;
    service.wait_for_port(process::loopback(port), Duration::from_secs(30))?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let registered = runtime.block_on(async {
        let response = reqwest::Client::new()
            .post("http://127.0.0.1:9070/deployments")
            .json(&serde_json::json!({ "uri": format!("http://127.0.0.1:{port}") }))
            .send()
            .await?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        anyhow::Ok((status, body))
    })?;
    if !registered.0.is_success() {
        bail!(
            "Restate refused the deployment: {} {}",
            registered.0,
            registered.1
        );
    }
    let url = "http://127.0.0.1:8080/ten/run";
    wait_ready(&mut restate, url, Duration::from_secs(60))?;
    let reports = load(url, settings);
    drop(service);
    drop(restate);
    reports
}

/// What `durable/dbos_steps.py` prints (the fields used here).
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub struct Dbos {
    pub seq_steps_per_s: f64,
    pub seq_p50_ms: f64,
    pub conc: u64,
    pub conc_runs: u64,
    pub conc_steps_per_s: f64,
}

/// DBOS (Python, SQLite system database), the README's command, `repeat` times
/// on a fresh database each.
pub fn dbos(places: &Places, repeat: usize) -> Result<Vec<Dbos>> {
    let python = places.install.join("venv/bin/python");
    require(&python)?;
    let script = places.scripts.join("durable/dbos_steps.py");
    let mut results = Vec::with_capacity(repeat);
    for pass in 0..repeat {
        let dir = scratch(places, &format!("dbos-{pass}"))?;
        let output = Command::new(&python)
            .arg(&script)
            .arg(dir.join("sys.sqlite"))
            .args(["50", "200", "8"])
            .current_dir(&dir)
            .output()
            .context("cannot run the DBOS script")?;
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text.lines().rev().find(|line| line.starts_with('{'));
        match (output.status.success(), line) {
            (true, Some(line)) => results
                .push(serde_json::from_str(line).with_context(|| format!("cannot read `{line}`"))?),
            _ => bail!(
                "the DBOS script failed ({}): {text}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }
    Ok(results)
}
