//! Load from `wrk`: one loopback URL, a JSON POST body, a fixed duration; the
//! figures read back from wrk's `--latency` report.
//!
//! Every server, flowc and peers alike, gets exactly the same command (`wrk -t1
//! -cN -dS --latency -s post.lua URL`) and the same body, the one the peers'
//! `durable/post.lua` sends, so their figures compare.

use anyhow::{Context as _, Result, bail};
use std::path::Path;
use std::process::Command;

/// The body every webhook benchmark posts (the peers' `post.lua` body).
pub const BODY: &str = r#"{"id":7,"amount":1523.5,"currency":"BRL","score":42,"customer":{"first":"Ana","last":"Silva"}}"#;

/// What one wrk run reported.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    /// Answers that were not 2xx or 3xx.
    pub non_2xx: u64,
    /// wrk's "Socket errors" line, empty when there were none.
    pub socket_errors: String,
}

/// Writes the Lua script that makes wrk POST [`BODY`] as JSON.
pub fn write_script(path: &Path) -> Result<()> {
    let script = format!(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = '{BODY}'\n"
    );
    std::fs::write(path, script).with_context(|| format!("cannot write {}", path.display()))
}

/// One wrk run against a loopback `url`.
pub fn run(url: &str, script: &Path, connections: usize, seconds: u64) -> Result<Report> {
    if !(url.starts_with("http://127.0.0.1:") || url.starts_with("http://localhost:")) {
        bail!("wrk is only pointed at loopback, not {url}");
    }
    let output = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "10s",
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(url)
        .output()
        .context("cannot run wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {}{}",
            output.status,
            text,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse(&text).with_context(|| format!("cannot read wrk's report:\n{text}"))
}

/// Reads wrk's `--latency` report.
pub fn parse(text: &str) -> Result<Report> {
    let after = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
    };
    let requests_per_second: f64 = after("Requests/sec:")
        .context("no Requests/sec line")?
        .parse()?;
    let p50_ms = duration_ms(after("50%").context("no 50% line")?)?;
    let p99_ms = duration_ms(after("99%").context("no 99% line")?)?;
    let requests = text
        .lines()
        .find_map(|line| {
            let (count, rest) = line.trim().split_once(' ')?;
            rest.starts_with("requests in")
                .then(|| count.parse::<u64>().ok())?
        })
        .context("no `N requests in` line")?;
    let non_2xx = after("Non-2xx or 3xx responses:")
        .map(str::parse::<u64>)
        .transpose()?
        .unwrap_or(0);
    let socket_errors = after("Socket errors:").unwrap_or("").to_string();
    Ok(Report {
        requests_per_second,
        p50_ms,
        p99_ms,
        requests,
        non_2xx,
        socket_errors,
    })
}

/// `123.45us`, `1.20ms`, `2.00s` in milliseconds.
fn duration_ms(text: &str) -> Result<f64> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .context("a duration without a unit")?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse()?;
    Ok(match unit {
        "us" => value / 1e3,
        "ms" => value,
        "s" => value * 1e3,
        "m" => value * 60e3,
        _ => bail!("unknown unit `{unit}`"),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 10s test @ http://127.0.0.1:18080/echo
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   152.31us  201.20us   8.87ms   97.10%
    Req/Sec    98.20k     3.01k  103.47k    72.00%
  Latency Distribution
     50%  128.00us
     75%  150.00us
     90%  190.00us
     99%    1.36ms
  977310 requests in 10.00s, 150.06MB read
  Non-2xx or 3xx responses: 12
Requests/sec:  97730.82
Transfer/sec:     15.01MB
";

    #[test]
    fn reads_a_latency_report() {
        let report = parse(SAMPLE).unwrap();
        assert_eq!(report.requests, 977_310);
        assert_eq!(report.non_2xx, 12);
        assert!((report.requests_per_second - 97_730.82).abs() < 1e-6);
        assert!((report.p50_ms - 0.128).abs() < 1e-9);
        assert!((report.p99_ms - 1.36).abs() < 1e-9);
        assert_eq!(report.socket_errors, "");
    }

    #[test]
    fn a_report_without_latencies_is_an_error() {
        assert!(parse("Requests/sec: 5\n").is_err());
    }
}
