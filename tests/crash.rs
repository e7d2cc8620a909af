//! The crash test: `kill -9` at any moment loses nothing and repeats nothing that
//! was not already under way.
//!
//! 200 webhook deliveries go to a five-step workflow (each step an HTTP call whose
//! body depends on the previous step's answer) from 16 senders at a time, while
//! `flowc serve` is SIGKILLed ten times at random moments and restarted on the same
//! database and port. A delivery that got no `202` is sent again until one comes.
//! Then, once every run has ended: every acknowledged delivery has exactly one run
//! (sent again, it answers with the same run id), every run succeeded with the
//! value the chain computes, each of the 1,000 steps reached the downstream under
//! `Idempotency-Key: {run_id}/{step}`, a call seen twice carried the same key both
//! times and was repeated only by a process started after a kill, and the
//! database passes `PRAGMA integrity_check` after a graceful stop.
//!
//! The kill moments come from a seeded generator: the seed is printed, and
//! `FLOWC_CRASH_SEED=N` replays the same schedule (the moments, not the
//! interleaving, which the operating system decides).

#![allow(clippy::unwrap_used)]
#![allow(
    clippy::disallowed_methods,
    reason = "the kill schedule is wall-clock by nature; waits are bounded by deadlines, nothing asserts on time"
)]

mod support;

use flowc_runtime::store::{RunStatus, StepStatus, sqlite};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use support::{Recorded, Recorder, Reply, Served};

const DELIVERIES: usize = 200;
const KILLS: usize = 10;
const SENDERS: usize = 16;
const STEPS: usize = 5;
/// How long a delivery may go unacknowledged before the test gives up on it.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(90);

/// Five calls in a chain: step k sends `n` from step k − 1's answer, and the
/// downstream answers `n + 1`, so a run of input `n` returns `n + 5` only if every
/// step saw its predecessor's real result.
const PROGRAM: &str = r#"
type Order = { id: string, n: int }
type Count = { n: int }

workflow chain(order: Order) -> Order {
  on webhook POST "/chain" {
    idempotency_key: order.id
  }
  step s1 = http POST "BASE/s1" { json: { id: order.id, n: order.n } } -> Count
  step s2 = http POST "BASE/s2" { json: { id: order.id, n: s1.body.n } } -> Count
  step s3 = http POST "BASE/s3" { json: { id: order.id, n: s2.body.n } } -> Count
  step s4 = http POST "BASE/s4" { json: { id: order.id, n: s3.body.n } } -> Count
  step s5 = http POST "BASE/s5" { json: { id: order.id, n: s4.body.n } } -> Count
  return { id: order.id, n: s5.body.n }
}
"#;

/// Delivery `i`'s id and its input `n`.
fn delivery(i: usize) -> (String, i64) {
    (format!("d-{i}"), i64::try_from(i).unwrap() * 10)
}

/// SplitMix64: a seeded generator is all the kill schedule needs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

fn seed() -> u64 {
    match std::env::var("FLOWC_CRASH_SEED") {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("FLOWC_CRASH_SEED={text} is not a number")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

/// What the senders share with the test.
struct Senders {
    /// The next delivery a sender takes.
    next: AtomicUsize,
    /// Deliveries below this index may be sent: the test releases them in
    /// batches, so every interval between two kills has new work in flight.
    released: AtomicUsize,
    /// Where the server listens now.
    addr: RwLock<String>,
    /// The run id each delivery was acknowledged with.
    acknowledged: Mutex<Vec<Option<String>>>,
    /// Sends that got no `202` (refused, cut off by a kill, or another status).
    unacknowledged: AtomicUsize,
    /// Answers other than `202`, for the report.
    other_answers: Mutex<Vec<String>>,
}

impl Senders {
    /// Takes deliveries until none are left, sending each until it is acknowledged.
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::SeqCst);
            if i >= DELIVERIES {
                return;
            }
            let deadline = Instant::now() + DELIVERY_DEADLINE;
            while i >= self.released.load(Ordering::SeqCst) {
                if Instant::now() > deadline {
                    return;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            let (id, n) = delivery(i);
            let body = json!({ "id": id, "n": n }).to_string();
            // The test reports a delivery still unacknowledged at the deadline.
            while Instant::now() < deadline {
                let addr = self.addr.read().unwrap().clone();
                match support::send(&addr, "POST", "/chain", &[], &body) {
                    Ok((202, answer)) => {
                        let json: serde_json::Value =
                            serde_json::from_str(&answer).unwrap_or_default();
                        if let Some(run) = json["run_id"].as_str() {
                            self.acknowledged.lock().unwrap()[i] = Some(run.to_string());
                            break;
                        }
                        self.other_answers
                            .lock()
                            .unwrap()
                            .push(format!("{id}: 202 without a run id: {answer}"));
                    }
                    Ok((status, answer)) => {
                        self.other_answers
                            .lock()
                            .unwrap()
                            .push(format!("{id}: {status} {answer}"));
                    }
                    Err(_) => {}
                }
                self.unacknowledged.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Starts the server on `port`, or (if that port cannot be had back) on a new one;
/// returns the server and the port it took.
fn start(dir: &Path, port: u16) -> (Served, u16) {
    let addr = format!("127.0.0.1:{port}");
    let args = ["app.flow", "--db", "data.db", "--addr", &addr];
    let mut last = String::new();
    for _ in 0..20 {
        match Served::start(dir, &args, &[]) {
            Ok(served) => return (served, port),
            Err(output) => last = output,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("port {port} could not be had back ({last}); moving to a new port");
    let served = Served::start(
        dir,
        &["app.flow", "--db", "data.db", "--addr", "127.0.0.1:0"],
        &[],
    )
    .unwrap_or_else(|output| panic!("flowc serve does not start again:\n{output}"));
    let port = served.addr.rsplit(':').next().unwrap().parse().unwrap();
    (served, port)
}

/// The downstream: `{ n }` in, `{ n: n + 1 }` out, for `/s1` … `/s5`.
fn downstream(request: &Recorded) -> Reply {
    match request.json()["n"].as_i64() {
        Some(n) if request.method == "POST" => Reply::json(200, json!({ "n": n + 1 })),
        _ => Reply::json(400, json!({ "error": "expected POST {n}" })),
    }
}

#[test]
fn two_hundred_deliveries_survive_ten_sigkills() {
    let seed = seed();
    println!("crash test seed: {seed} (FLOWC_CRASH_SEED={seed} repeats the kill schedule)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(downstream);
    support::write(
        dir.path(),
        "app.flow",
        &PROGRAM.replace("BASE", recorder.base()),
    );

    let (mut server, mut port) = start(dir.path(), support::free_port());
    let senders = Arc::new(Senders {
        next: AtomicUsize::new(0),
        released: AtomicUsize::new(0),
        addr: RwLock::new(server.addr.clone()),
        acknowledged: Mutex::new(vec![None; DELIVERIES]),
        unacknowledged: AtomicUsize::new(0),
        other_answers: Mutex::default(),
    });
    let threads: Vec<_> = (0..SENDERS)
        .map(|_| {
            let senders = Arc::clone(&senders);
            std::thread::spawn(move || senders.work())
        })
        .collect();

    // Release a batch, let it run for a random while, kill, restart.
    for kill in 1..=KILLS {
        senders
            .released
            .store(kill * DELIVERIES / KILLS, Ordering::SeqCst);
        let delay = rng.between(30, 400);
        std::thread::sleep(Duration::from_millis(delay));
        server.kill();
        let acknowledged = count_acknowledged(&senders);
        println!(
            "kill {kill}/{KILLS} after {delay} ms: {acknowledged}/{DELIVERIES} deliveries \
             acknowledged, {} downstream calls so far",
            recorder.count()
        );
        recorder.next_epoch();
        let (restarted, now) = start(dir.path(), port);
        server = restarted;
        if now != port {
            port = now;
            *senders.addr.write().unwrap() = server.addr.clone();
        }
    }
    for thread in threads {
        thread.join().unwrap();
    }
    let acknowledged: Vec<String> = senders
        .acknowledged
        .lock()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, run)| {
            run.clone().unwrap_or_else(|| {
                panic!(
                    "delivery d-{i} was never acknowledged within {DELIVERY_DEADLINE:?}; \
                     server output:\n{}",
                    server.output()
                )
            })
        })
        .collect();
    let other_answers = senders.other_answers.lock().unwrap().clone();
    let client_errors: Vec<&String> = other_answers
        .iter()
        .filter(|answer| answer.split(' ').nth(1).is_some_and(|s| s.starts_with('4')))
        .collect();
    assert!(
        client_errors.is_empty(),
        "a valid delivery was refused: {client_errors:#?}"
    );
    println!(
        "all {DELIVERIES} deliveries acknowledged; {} sends went unacknowledged and were \
         repeated ({} answered with another status)",
        senders.unacknowledged.load(Ordering::SeqCst),
        other_answers.len()
    );

    // Let every run finish on the last server.
    let db = dir.path().join("data.db");
    support::wait_for_runs_to_end(&db, Duration::from_secs(60), &server);

    // Sent again, every delivery answers with the run it started.
    let addr = server.addr.clone();
    std::thread::scope(|scope| {
        for sender in 0..SENDERS {
            let (addr, acknowledged) = (&addr, &acknowledged);
            scope.spawn(move || {
                for i in (sender..DELIVERIES).step_by(SENDERS) {
                    let (id, n) = delivery(i);
                    let body = json!({ "id": id, "n": n }).to_string();
                    assert_eq!(
                        support::run_id(support::post(addr, "/chain", &[], &body)),
                        acknowledged[i],
                        "{id} sent again maps to another run"
                    );
                }
            });
        }
    });

    let status = server.stop();
    assert!(
        status.success(),
        "flowc serve did not stop cleanly on SIGTERM ({status:?}):\n{}",
        server.output()
    );

    let runs = support::block_on(async {
        let store = sqlite::Options::new(&db).open().unwrap();
        assert_eq!(
            store.integrity_check().await.unwrap(),
            ["ok"],
            "PRAGMA integrity_check"
        );
        let runs = support::all_runs(&store).await;
        store.close().await;
        runs
    });

    // Exactly one run per delivery: the one its acknowledgement named.
    let by_key: HashMap<&str, _> = runs
        .iter()
        .filter_map(|detail| Some((detail.run.idempotency_key.as_deref()?, detail)))
        .collect();
    assert_eq!(
        runs.len(),
        DELIVERIES,
        "expected one run per delivery, found {} runs ({} distinct keys)",
        runs.len(),
        by_key.len()
    );
    for (i, run_id) in acknowledged.iter().enumerate() {
        let (id, n) = delivery(i);
        let detail = by_key
            .get(id.as_str())
            .unwrap_or_else(|| panic!("no run has the idempotency key {id}"));
        let run = &detail.run;
        assert_eq!(&run.id, run_id, "{id} was acknowledged with another run");
        assert_eq!(
            run.status,
            RunStatus::Succeeded,
            "run {run_id} ({id}) ended {} with {:?}",
            run.status.as_str(),
            run.error
        );
        let expected = json!({ "id": id, "n": n + i64::try_from(STEPS).unwrap() });
        assert_eq!(run.output.as_ref(), Some(&expected), "output of {run_id}");
        for k in 1..=STEPS {
            let path = format!("s{k}");
            assert!(
                detail
                    .steps
                    .iter()
                    .any(|step| step.path == path && step.status == StepStatus::Succeeded),
                "run {run_id} has no succeeded attempt of {path} in its journal: {:?}",
                detail.steps
            );
        }
    }
    let repeated_attempts = runs
        .iter()
        .flat_map(|detail| &detail.steps)
        .filter(|step| step.attempt > 1)
        .count();

    // The downstream's side: every call keyed, every step's call arrived under its
    // key with the body its predecessor's answer implies.
    let requests = recorder.requests();
    let unkeyed: Vec<_> = requests
        .iter()
        .filter(|request| request.header("idempotency-key").is_none())
        .map(|request| format!("{} {} {}", request.method, request.target, request.text()))
        .collect();
    assert!(
        unkeyed.is_empty(),
        "calls without an Idempotency-Key: {unkeyed:#?}"
    );
    let mut by_idempotency_key: BTreeMap<&str, Vec<&Recorded>> = BTreeMap::new();
    let mut by_effect: BTreeMap<(String, String), Vec<&Recorded>> = BTreeMap::new();
    for request in &requests {
        let key = request.header("idempotency-key").unwrap_or_default();
        by_idempotency_key.entry(key).or_default().push(request);
        let id = request.json()["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        by_effect
            .entry((id, request.path().to_string()))
            .or_default()
            .push(request);
    }
    for (i, run_id) in acknowledged.iter().enumerate() {
        let (id, n) = delivery(i);
        for k in 1..=STEPS {
            let key = format!("{run_id}/s{k}");
            let calls = by_idempotency_key.get(key.as_str()).unwrap_or_else(|| {
                panic!(
                    "the downstream never saw step s{k} of run {run_id} ({id}): no call keyed {key}"
                )
            });
            let expected = json!({ "id": id, "n": n + i64::try_from(k).unwrap() - 1 });
            for call in calls {
                assert_eq!(
                    (call.method.as_str(), call.path(), call.json()),
                    ("POST", format!("/s{k}").as_str(), expected.clone()),
                    "a call keyed {key}"
                );
            }
        }
    }
    assert_eq!(
        by_idempotency_key.len(),
        DELIVERIES * STEPS,
        "calls under keys that name no step of an acknowledged run"
    );

    // A repeated call carries the first one's key, and comes from a later process.
    let mut duplicates = Vec::new();
    for ((id, path), calls) in &by_effect {
        let keys: Vec<_> = calls
            .iter()
            .map(|call| call.header("idempotency-key").unwrap_or_default())
            .collect();
        assert!(
            keys.iter().all(|key| *key == keys[0]),
            "{id}'s call to {path} was repeated under another key: {keys:?}"
        );
        if calls.len() > 1 {
            let epochs: Vec<u64> = calls.iter().map(|call| call.epoch).collect();
            assert!(
                epochs.windows(2).all(|pair| pair[0] < pair[1]),
                "{id}'s call to {path} (key {}) was repeated without a kill in between: \
                 server generations {epochs:?}",
                keys[0]
            );
            duplicates.push(format!(
                "{} ×{} (server generations {epochs:?})",
                keys[0],
                calls.len()
            ));
        }
    }
    println!(
        "{} downstream calls for {} steps; {} repeated after a kill, {repeated_attempts} \
         journaled attempts beyond the first:",
        requests.len(),
        DELIVERIES * STEPS,
        duplicates.len()
    );
    for duplicate in &duplicates {
        println!("  {duplicate}");
    }
}

fn count_acknowledged(senders: &Senders) -> usize {
    senders
        .acknowledged
        .lock()
        .unwrap()
        .iter()
        .filter(|run| run.is_some())
        .count()
}
