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

mod support;

use flowc_runtime::store::StepStatus;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use support::{Deliveries, Recorded, Recorder, Reply, Rng};

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

/// The downstream: `{ n }` in, `{ n: n + 1 }` out, for `/s1` … `/s5`.
fn downstream(request: &Recorded) -> Reply {
    match request.json()["n"].as_i64() {
        Some(n) if request.method == "POST" => Reply::json(200, json!({ "n": n + 1 })),
        _ => Reply::json(400, json!({ "error": "expected POST {n}" })),
    }
}

#[test]
fn two_hundred_deliveries_survive_ten_sigkills() {
    let seed = support::crash_seed();
    println!("crash test seed: {seed} (FLOWC_CRASH_SEED={seed} repeats the kill schedule)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(downstream);
    support::write(
        dir.path(),
        "app.flow",
        &PROGRAM.replace("BASE", recorder.base()),
    );

    let (mut server, mut port) = support::serve_on(dir.path(), "app.flow", support::free_port());
    let bodies = (0..DELIVERIES)
        .map(|i| {
            let (id, n) = delivery(i);
            let body = json!({ "id": id, "n": n }).to_string();
            (id, body)
        })
        .collect();
    let addr = Arc::new(RwLock::new(server.addr.clone()));
    let deliveries = Deliveries::new("/chain", bodies, DELIVERY_DEADLINE, 0, Arc::clone(&addr));
    let threads = deliveries.spawn(SENDERS);

    // Release a batch, let it run for a random while, kill, restart.
    for kill in 1..=KILLS {
        deliveries
            .released
            .store(kill * DELIVERIES / KILLS, Ordering::SeqCst);
        let delay = rng.between(30, 400);
        std::thread::sleep(Duration::from_millis(delay));
        server.kill();
        println!(
            "kill {kill}/{KILLS} after {delay} ms: {}/{DELIVERIES} deliveries \
             acknowledged, {} downstream calls so far",
            deliveries.count_acknowledged(),
            recorder.count()
        );
        recorder.next_epoch();
        let (restarted, now) = support::serve_on(dir.path(), "app.flow", port);
        server = restarted;
        if now != port {
            port = now;
            *addr.write().unwrap() = server.addr.clone();
        }
    }
    for thread in threads {
        thread.join().unwrap();
    }
    let acknowledged = deliveries.acknowledged(&server);
    let other_answers = deliveries.other_answers();
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
        deliveries.unacknowledged(),
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

    let runs = support::stop_and_read_runs(&mut server, &db);

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
        support::assert_succeeded(run, &id);
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
    support::assert_all_keyed(&requests);
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
    let duplicates = support::repeats(
        by_effect
            .iter()
            .map(|((id, path), calls)| (format!("{id}'s call to {path}"), calls.as_slice())),
    );
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
