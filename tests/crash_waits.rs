//! The crash test of waiting runs: `kill -9` while runs sleep on timers, wait
//! for callbacks and approvals, fan out and call children loses nothing and
//! repeats nothing that was not already under way.
//!
//! Each of 32 webhook deliveries starts a run that goes through every kind of
//! wait the runtime has: an HTTP step, `wait 1s` (on the system clock), a
//! `callback(timeout: 1m)` whose URL is sent to the downstream, which the test
//! then posts to, an `approval(timeout: 1m)` approved through `flowc approve
//! RUN` (even deliveries) or `POST /api/v1/runs/{id}/approve` (odd ones), a
//! `for` over five items with `concurrency: 3`, a `call` of a child workflow
//! with an HTTP step of its own, and a last HTTP step. Each callback and
//! approval is used at a seeded moment: before the step that hands it out is
//! answered (its wait is resolved before the run awaits it), a few milliseconds
//! after (racing the run's park), or once the run has parked.
//!
//! `flowc serve` is SIGKILLed fourteen times and restarted on the same
//! database; each kill aims at one phase, and all nine are aimed at: an HTTP
//! step of each of the five kinds (its request held in flight until the kill,
//! or just answered), a run asleep on its timer, a callback being posted, an
//! approval being decided. Callbacks and approvals that got no answer are used
//! again after the restart, until every run has ended.
//!
//! Then: every delivery has one run and every run (and its child) succeeded with
//! the value the chain computes, which needs every step's and every wait's real
//! result; every HTTP step reached the downstream under exactly one
//! `Idempotency-Key: {run}/{path}`, repeated only under that key and only by a
//! process started after a kill; every callback and approval resolved its run
//! once (a handed-out token never answered 404, nor 410 before it was used;
//! used, it answers 410); no run or wait is left open; and the database passes
//! `PRAGMA integrity_check` after a graceful stop.
//!
//! The schedule (which phase each kill aims at, held or how long after, and when
//! each callback and approval is used) comes from a seeded generator: the seed
//! is printed, and `FLOWC_CRASH_SEED=N` replays it (the schedule, not the
//! interleaving, which the operating system decides).

#![allow(clippy::unwrap_used)]
#![allow(
    clippy::disallowed_methods,
    reason = "the kill schedule is wall-clock by nature; waits are bounded by deadlines, nothing asserts on time"
)]

mod support;

use flowc_runtime::store::{RunDetail, RunStatus, StepStatus, WaitStatus};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, mpsc};
use std::time::{Duration, Instant};
use support::{Deliveries, Recorded, Recorder, Reply, Rng};

const ORDERS: usize = 32;
const KILLS: usize = 14;
/// Deliveries released before the first kill; two more before each kill, so
/// every kill has fresh runs that reach the phase it aims at.
const FIRST_BATCH: usize = ORDERS - 2 * KILLS;
const SENDERS: usize = 4;
const ITEMS: [i64; 5] = [10, 20, 30, 40, 50];
/// How long a kill waits for a run to reach its phase.
const TRIGGER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a delivery may go unacknowledged.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(40);
/// How long the runs have to end once the kills are over.
const END_TIMEOUT: Duration = Duration::from_secs(30);

/// Every step's answer is `n + 1`, and each step sends what the previous ones
/// gave (with the callback's `v` and the items' answers mixed in), so the output
/// `160 + v` comes out only if every result was the real one.
const PROGRAM: &str = r#"
type Order = { id: string, items: [int] }
type Count = { n: int }

workflow child(req: { id: string, n: int }) -> Count {
  step c1 = http POST "BASE/child" { json: { id: req.id, n: req.n } } -> Count
  return { n: c1.body.n }
}

workflow order(order: Order) -> { id: string, n: int, note: string? } {
  on webhook POST "/orders" {
    idempotency_key: order.id
  }
  step first = http POST "BASE/first" { json: { id: order.id, n: 0 } } -> Count
  step nap = wait 1s
  let cb = callback(timeout: 1m) -> { v: int }
  step hand = http POST "BASE/hand" { json: { id: order.id, n: first.body.n, url: cb.url } } -> Count
  step got = await cb
  let review = approval(timeout: 1m, message: "order ${order.id}")
  step ask = http POST "BASE/ask" { json: { id: order.id, n: hand.body.n + got.v, url: review.review_url } } -> Count
  step decision = await review
  if !decision.approved {
    fail "order ${order.id} was rejected"
  }
  let counts = for x in order.items (concurrency: 3) {
    step item = http POST "BASE/item" { json: { id: order.id, n: x } } -> Count
    yield item.body.n
  }
  step sub = call child({ id: order.id, n: ask.body.n })
  step last = http POST "BASE/last" { json: { id: order.id, n: sub.n + counts.sum() } } -> Count
  return { id: order.id, n: last.body.n, note: decision.comment }
}
"#;

/// Delivery `i`'s id.
fn order_id(i: usize) -> String {
    format!("o-{i}")
}

/// The `v` delivery `i`'s callback carries.
fn callback_v(i: usize) -> i64 {
    1000 * i64::try_from(i).unwrap()
}

/// The comment delivery `i`'s approval carries.
fn comment(i: usize) -> String {
    format!("ok for o-{i}")
}

/// The delivery index of `o-N`.
fn index_of(id: &str) -> Option<usize> {
    id.strip_prefix("o-")?.parse().ok()
}

// ---------------------------------------------------------------- the kill schedule

/// What a kill aims at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The run's first HTTP step.
    First,
    /// The run asleep on `wait 1s` (its first step just answered).
    Nap,
    /// The step that hands the callback URL out.
    Hand,
    /// The test posting a callback.
    Callback,
    /// The step that hands the approval out.
    Ask,
    /// The test approving a run.
    Approve,
    /// An iteration's HTTP step in the `for`.
    Item,
    /// The child's HTTP step.
    Child,
    /// The run's last step.
    Last,
}

const PHASES: [Phase; 9] = [
    Phase::First,
    Phase::Nap,
    Phase::Hand,
    Phase::Callback,
    Phase::Ask,
    Phase::Approve,
    Phase::Item,
    Phase::Child,
    Phase::Last,
];

impl Phase {
    /// The phases a downstream request to `path` reaches.
    fn of_path(path: &str) -> &'static [Phase] {
        match path {
            "/first" => &[Phase::First, Phase::Nap],
            "/hand" => &[Phase::Hand],
            "/ask" => &[Phase::Ask],
            "/item" => &[Phase::Item],
            "/child" => &[Phase::Child],
            "/last" => &[Phase::Last],
            _ => &[],
        }
    }

    /// Whether a kill may hold this phase's request in flight (a downstream call
    /// the test answers only after the kill).
    fn can_hold(self) -> bool {
        !matches!(self, Phase::Nap | Phase::Callback | Phase::Approve)
    }
}

/// One kill: its phase, whether the request that reached it is held until the
/// kill, and otherwise how long after it the kill comes.
#[derive(Clone, Copy, Debug)]
struct Kill {
    phase: Phase,
    hold: bool,
    delay_ms: u64,
}

/// Every phase once in a seeded order, then seeded phases up to `KILLS`.
fn schedule(rng: &mut Rng) -> Vec<Kill> {
    let mut phases = PHASES.to_vec();
    rng.shuffle(&mut phases);
    while phases.len() < KILLS {
        phases.push(PHASES[usize::try_from(rng.next() % PHASES.len() as u64).unwrap()]);
    }
    phases
        .into_iter()
        .map(|phase| {
            let hold = phase.can_hold() && rng.next().is_multiple_of(2);
            let delay_ms = match phase {
                // Inside the second the run sleeps.
                Phase::Nap => rng.between(100, 900),
                // While the decision is being stored or answered.
                Phase::Callback | Phase::Approve => rng.between(0, 30),
                _ if hold => 0,
                _ => rng.between(0, 300),
            };
            Kill {
                phase,
                hold,
                delay_ms,
            }
        })
        .collect()
}

/// The phase the next kill aims at, and the news that a run reached it.
struct Aim {
    armed: Mutex<Option<Kill>>,
    reached: Mutex<mpsc::Sender<Phase>>,
    /// Kills so far: a held request is answered once this moves on.
    kills: AtomicU64,
}

impl Aim {
    fn arm(&self, kill: Kill) {
        *self.armed.lock().unwrap() = Some(kill);
    }

    fn disarm(&self) {
        *self.armed.lock().unwrap() = None;
    }

    /// Called where a run reaches one of `phases`: when the armed kill aims at
    /// one of them, it is disarmed and told. Then, if the kill holds the request,
    /// this returns only once the server was killed (or 5 s passed).
    fn reached(&self, phases: &[Phase]) {
        let (hold, before) = {
            let mut armed = self.armed.lock().unwrap();
            match *armed {
                Some(kill) if phases.contains(&kill.phase) => {
                    *armed = None;
                    // Read before the news goes out: the kill it brings comes after.
                    let before = self.kills.load(Ordering::SeqCst);
                    let _ = self.reached.lock().unwrap().send(kill.phase);
                    (kill.hold, before)
                }
                _ => return,
            }
        };
        if hold {
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.kills.load(Ordering::SeqCst) == before && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

// ---------------------------------------------------------------- callbacks and approvals

/// When a callback or an approval is used, relative to the step that hands it
/// out: seeded per delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timing {
    /// By the downstream before it answers the step: the wait is resolved
    /// before the run reaches its `await`.
    Early,
    /// By the downstream this long after it answered (0–5 ms): racing the
    /// run's park.
    Racing(Duration),
    /// By the driver, 0–30 ms later: the run has parked.
    Later,
}

impl Timing {
    fn of(seed: u64, index: usize, is_callback: bool) -> Timing {
        let mut rng =
            Rng(seed ^ (index as u64).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ u64::from(is_callback));
        match rng.next() % 4 {
            0 => Timing::Early,
            1 => Timing::Later,
            _ => Timing::Racing(Duration::from_micros(rng.between(0, 5000))),
        }
    }
}

/// How one attempt at a callback or an approval ended.
#[derive(Clone, Debug)]
enum Attempt {
    /// Taken: 200, or exit 0.
    Taken,
    /// Refused as used or undecidable: 410 for a callback, `no_open_approval`
    /// for an approval.
    Refused,
    /// No answer (the server was down or died mid-request): the outcome is
    /// unknown. (What went wrong is shown by failure messages.)
    Unknown(#[allow(dead_code)] String),
    /// Anything else.
    Other(String),
}

/// A callback or an approval the test drives to its end.
struct Decision {
    run: String,
    index: usize,
    /// `/callbacks/TOKEN` for a callback; `None` for an approval.
    callback: Option<String>,
    /// When the driver may take it up.
    due: Instant,
    /// An attempt is under way (at most one at a time).
    busy: bool,
    attempts: Vec<Attempt>,
    /// Taken (or refused after an attempt whose outcome is unknown).
    done: bool,
    /// Refused once more after it was done: the token is single-use.
    confirmed: bool,
}

impl Decision {
    fn unknown_before(&self) -> bool {
        self.attempts
            .iter()
            .any(|attempt| matches!(attempt, Attempt::Unknown(_)))
    }

    fn what(&self) -> String {
        match &self.callback {
            Some(path) => format!("callback {path} of run {} (o-{})", self.run, self.index),
            None => format!("approval of run {} (o-{})", self.run, self.index),
        }
    }
}

/// Which decision: the run, and whether it is its callback (else its approval).
type DecisionKey = (String, bool);

/// Posts every callback and approves every approval the downstream was handed,
/// from the downstream's threads or its own, until told to stop.
struct Driver {
    seed: u64,
    dir: PathBuf,
    addr: Arc<RwLock<String>>,
    token: RwLock<String>,
    aim: Arc<Aim>,
    stop: AtomicBool,
    decisions: Mutex<BTreeMap<DecisionKey, Decision>>,
    /// Answers that must never happen, as they came.
    violations: Mutex<Vec<String>>,
}

impl Driver {
    /// The driver's own thread: takes up every due decision not yet confirmed.
    fn work(&self) {
        while !self.stop.load(Ordering::SeqCst) {
            let now = Instant::now();
            let due: Vec<DecisionKey> = self
                .decisions
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, decision)| {
                    !decision.confirmed && !decision.busy && decision.due <= now
                })
                .map(|(key, _)| key.clone())
                .collect();
            for key in due {
                if self.stop.load(Ordering::SeqCst) {
                    return;
                }
                self.act(&key);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The downstream received `request`, which hands out a callback (`/hand`)
    /// or an approval (`/ask`): the decision is taken in, and used as its timing
    /// says. Called before the request is answered; what runs after the answer
    /// is returned.
    fn handed(self: &Arc<Self>, request: &Recorded) -> Option<Box<dyn FnOnce() + Send>> {
        let is_callback = match request.path() {
            "/hand" => true,
            "/ask" => false,
            _ => return None,
        };
        let run = request
            .header("idempotency-key")?
            .split_once('/')
            .map(|(run, _)| run.to_string())?;
        let body = request.json();
        let index = body["id"].as_str().and_then(index_of)?;
        let callback = if is_callback {
            let url = body["url"].as_str().unwrap_or_default();
            Some(url[url.find("/callbacks/")?..].to_string())
        } else {
            None
        };
        let timing = Timing::of(self.seed, index, is_callback);
        let key = (run.clone(), is_callback);
        let later = Duration::from_millis(match timing {
            Timing::Later => (self.seed ^ index as u64) % 31,
            // The downstream's threads take these up; the driver only if they
            // failed.
            Timing::Early | Timing::Racing(_) => 100,
        });
        self.decisions
            .lock()
            .unwrap()
            .entry(key.clone())
            .or_insert_with(|| Decision {
                run,
                index,
                callback,
                due: Instant::now() + later,
                busy: false,
                attempts: Vec::new(),
                done: false,
                confirmed: false,
            });
        match timing {
            Timing::Early => {
                self.act(&key);
                None
            }
            Timing::Racing(delay) => {
                let driver = Arc::clone(self);
                Some(Box::new(move || {
                    std::thread::spawn(move || {
                        std::thread::sleep(delay);
                        driver.act(&key);
                    });
                }))
            }
            Timing::Later => None,
        }
    }

    /// One attempt at a decision, unless one is under way or it is confirmed.
    fn act(&self, key: &DecisionKey) {
        let (run, index, callback, done) = {
            let mut decisions = self.decisions.lock().unwrap();
            let decision = decisions.get_mut(key).unwrap();
            if decision.busy || decision.confirmed {
                return;
            }
            decision.busy = true;
            (
                decision.run.clone(),
                decision.index,
                decision.callback.clone(),
                decision.done,
            )
        };
        if !done {
            self.aim.reached(&[if callback.is_some() {
                Phase::Callback
            } else {
                Phase::Approve
            }]);
        }
        let attempt = match &callback {
            Some(path) => self.post_callback(path, index),
            None => self.approve(&run, index),
        };
        let mut decisions = self.decisions.lock().unwrap();
        let decision = decisions.get_mut(key).unwrap();
        decision.busy = false;
        match &attempt {
            Attempt::Taken if decision.done => self.violation(format!(
                "{} was taken a second time: {:?}",
                decision.what(),
                decision.attempts
            )),
            Attempt::Taken => decision.done = true,
            Attempt::Refused if decision.done => decision.confirmed = true,
            // Refused with no earlier attempt that may have been taken unseen:
            // the token was handed out, and nobody had used it.
            Attempt::Refused if !decision.unknown_before() => self.violation(format!(
                "{} was refused before anyone used it (attempts so far: {:?})",
                decision.what(),
                decision.attempts
            )),
            Attempt::Refused => {
                decision.done = true;
                decision.confirmed = true;
            }
            Attempt::Unknown(_) => {}
            Attempt::Other(answer) => {
                self.violation(format!("{} answered {answer}", decision.what()));
            }
        }
        decision.attempts.push(attempt);
    }

    fn violation(&self, what: String) {
        println!("VIOLATION: {what}");
        self.violations.lock().unwrap().push(what);
    }

    fn post_callback(&self, path: &str, index: usize) -> Attempt {
        let addr = self.addr.read().unwrap().clone();
        let body = json!({ "v": callback_v(index) }).to_string();
        match support::send(&addr, "POST", path, &[], &body) {
            Ok((200, _)) => Attempt::Taken,
            Ok((410, _)) => Attempt::Refused,
            Ok((status, answer)) => Attempt::Other(format!("{status} {answer}")),
            Err(error) => Attempt::Unknown(error.to_string()),
        }
    }

    /// `flowc approve RUN` for even deliveries, the admin API for odd ones.
    fn approve(&self, run: &str, index: usize) -> Attempt {
        let addr = self.addr.read().unwrap().clone();
        let comment = comment(index);
        if index.is_multiple_of(2) {
            let url = format!("http://{addr}");
            let done = support::run(
                &self.dir,
                &[
                    "approve",
                    run,
                    "--by",
                    "tester",
                    "--comment",
                    &comment,
                    "--server",
                    &url,
                    "--token-file",
                    "data.admin-token",
                ],
            );
            match done.code {
                Some(0) => Attempt::Taken,
                Some(1) if done.stderr.contains("no_open_approval") => Attempt::Refused,
                // The server could not be reached, or went away mid-request.
                Some(2) => Attempt::Unknown(done.stderr),
                _ => Attempt::Other(done.to_string()),
            }
        } else {
            let bearer = format!("Bearer {}", self.token.read().unwrap());
            let body = json!({ "by": "tester", "comment": comment }).to_string();
            match support::send(
                &addr,
                "POST",
                &format!("/api/v1/runs/{run}/approve"),
                &[("Authorization", &bearer)],
                &body,
            ) {
                Ok((200, _)) => Attempt::Taken,
                Ok((409, answer)) if answer.contains("no_open_approval") => Attempt::Refused,
                Ok((status, answer)) => Attempt::Other(format!("{status} {answer}")),
                Err(error) => Attempt::Unknown(error.to_string()),
            }
        }
    }
}

// ---------------------------------------------------------------- the downstream

/// `{ n }` in, `{ n: n + 1 }` out, on every path. A request the armed kill aims
/// at is held until the kill when the kill says so; one that hands out a
/// callback or an approval goes to the driver.
fn downstream(aim: &Aim, driver: &OnceLock<Arc<Driver>>, request: &Recorded) -> Reply {
    aim.reached(Phase::of_path(request.path()));
    let after = driver.get().and_then(|driver| driver.handed(request));
    let reply = match request.json()["n"].as_i64() {
        Some(n) if request.method == "POST" => Reply::json(200, json!({ "n": n + 1 })),
        _ => Reply::json(400, json!({ "error": "expected POST {n}" })),
    };
    // The recorder writes the answer once this returns: a thread that waits a
    // few milliseconds races the run that reads it.
    if let Some(after) = after {
        after();
    }
    reply
}

#[test]
fn waits_timers_approvals_and_fan_out_survive_sigkills() {
    let seed = support::crash_seed();
    println!("crash test seed: {seed} (FLOWC_CRASH_SEED={seed} repeats the kill schedule)");
    let mut rng = Rng(seed);
    let kills = schedule(&mut rng);
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (reached, hits) = mpsc::channel();
    let aim = Arc::new(Aim {
        armed: Mutex::new(None),
        reached: Mutex::new(reached),
        kills: AtomicU64::new(0),
    });
    let driver_cell: Arc<OnceLock<Arc<Driver>>> = Arc::default();
    let recorder = Recorder::start({
        let (aim, driver) = (Arc::clone(&aim), Arc::clone(&driver_cell));
        move |request| downstream(&aim, &driver, request)
    });
    support::write(
        dir.path(),
        "app.flow",
        &PROGRAM.replace("BASE", recorder.base()),
    );
    let addr: Arc<RwLock<String>> = Arc::default();
    let driver = Arc::new(Driver {
        seed,
        dir: dir.path().to_path_buf(),
        addr: Arc::clone(&addr),
        token: RwLock::default(),
        aim: Arc::clone(&aim),
        stop: AtomicBool::new(false),
        decisions: Mutex::default(),
        violations: Mutex::default(),
    });
    assert!(driver_cell.set(Arc::clone(&driver)).is_ok());

    let (mut server, mut port) = support::serve_on(dir.path(), "app.flow", support::free_port());
    *addr.write().unwrap() = server.addr.clone();
    *driver.token.write().unwrap() = std::fs::read_to_string(dir.path().join("data.admin-token"))
        .unwrap()
        .trim()
        .to_string();
    let bodies = (0..ORDERS)
        .map(|i| {
            let body = json!({ "id": order_id(i), "items": ITEMS }).to_string();
            (order_id(i), body)
        })
        .collect();
    let deliveries = Deliveries::new(
        "/orders",
        bodies,
        DELIVERY_DEADLINE,
        FIRST_BATCH,
        Arc::clone(&addr),
    );
    let sender_threads = deliveries.spawn(SENDERS);
    let driver_thread = {
        let driver = Arc::clone(&driver);
        std::thread::spawn(move || driver.work())
    };

    // Aim, wait for a run to get there, kill, restart.
    let mut missed = Vec::new();
    for (k, kill) in kills.iter().enumerate() {
        deliveries
            .released
            .store(FIRST_BATCH + 2 * (k + 1), Ordering::SeqCst);
        aim.arm(*kill);
        let landed = match hits.recv_timeout(TRIGGER_TIMEOUT) {
            Ok(_) => true,
            Err(_) => {
                aim.disarm();
                missed.push(kill.phase);
                false
            }
        };
        std::thread::sleep(Duration::from_millis(kill.delay_ms));
        server.kill();
        aim.kills.fetch_add(1, Ordering::SeqCst);
        println!(
            "kill {}/{KILLS} at {:?} ({}): {} downstream calls so far, {:.1}s in",
            k + 1,
            kill.phase,
            match (landed, kill.hold) {
                (false, _) => "no run got there in time".to_string(),
                (true, true) => "its request held in flight".to_string(),
                (true, false) => format!("{} ms after", kill.delay_ms),
            },
            recorder.count(),
            began.elapsed().as_secs_f64()
        );
        recorder.next_epoch();
        let (restarted, now) = support::serve_on(dir.path(), "app.flow", port);
        (server, port) = (restarted, now);
        *addr.write().unwrap() = server.addr.clone();
    }
    deliveries.released.store(ORDERS, Ordering::SeqCst);
    assert!(
        missed.is_empty(),
        "kills aimed at {missed:?} found no run there within {TRIGGER_TIMEOUT:?}; server output:\n{}",
        server.output()
    );
    for thread in sender_threads {
        thread.join().unwrap();
    }
    let acknowledged = deliveries.acknowledged(&server);
    let refused: Vec<String> = deliveries
        .other_answers()
        .into_iter()
        .filter(|answer| !answer.contains(": 5"))
        .collect();
    assert!(
        refused.is_empty(),
        "a valid delivery was refused: {refused:#?}"
    );

    // The driver goes on until every run has ended on the last server.
    let db = dir.path().join("data.db");
    support::wait_for_runs_to_end(&db, END_TIMEOUT, &server);
    // Every decision confirmed single-use, then the driver stops.
    support::wait_until(
        Duration::from_secs(10),
        || {
            let decisions = driver.decisions.lock().unwrap();
            decisions.len() == 2 * ORDERS && decisions.values().all(|d| d.confirmed)
        },
        || {
            let decisions = driver.decisions.lock().unwrap();
            format!(
                "{} callbacks and approvals seen (expected {}), unconfirmed: {:?}",
                decisions.len(),
                2 * ORDERS,
                decisions
                    .values()
                    .filter(|d| !d.confirmed)
                    .map(|d| (d.what(), d.attempts.clone()))
                    .collect::<Vec<_>>()
            )
        },
    );
    driver.stop.store(true, Ordering::SeqCst);
    driver_thread.join().unwrap();
    let violations = driver.violations.lock().unwrap().clone();
    assert!(
        violations.is_empty(),
        "callbacks or approvals answered what they must not: {violations:#?}\nserver output:\n{}",
        server.output()
    );

    let runs = support::stop_and_read_runs(&mut server, &db);
    let children = check_runs(&runs, &acknowledged);
    let decisions = driver.decisions.lock().unwrap();
    check_decisions(&decisions, &acknowledged);
    check_downstream(&recorder.requests(), &acknowledged, &children);
    println!(
        "all {ORDERS} runs and their children succeeded in {:.1}s; {} downstream calls",
        began.elapsed().as_secs_f64(),
        recorder.count()
    );
}

/// One run per delivery and one child per run, all succeeded with the values the
/// chain computes, every wait resolved once and none left open. The child of
/// each delivery's run, by run.
fn check_runs(runs: &[RunDetail], acknowledged: &[String]) -> HashMap<String, String> {
    let by_id: HashMap<&str, &RunDetail> = runs
        .iter()
        .map(|detail| (detail.run.id.as_str(), detail))
        .collect();
    let parents: Vec<&RunDetail> = runs
        .iter()
        .filter(|detail| detail.run.workflow == "order")
        .collect();
    let children: Vec<&RunDetail> = runs
        .iter()
        .filter(|detail| detail.run.workflow == "child")
        .collect();
    assert_eq!(
        (parents.len(), children.len(), runs.len()),
        (ORDERS, ORDERS, 2 * ORDERS),
        "expected one run per delivery and one child each"
    );
    for detail in runs {
        assert!(
            detail.run.status.is_terminal(),
            "run {} was left {}",
            detail.run.id,
            detail.run.status.as_str()
        );
        let open: Vec<&str> = detail
            .waits
            .iter()
            .filter(|wait| wait.status == WaitStatus::Open)
            .map(|wait| wait.path.as_str())
            .collect();
        assert!(
            open.is_empty(),
            "run {} has open waits {open:?}",
            detail.run.id
        );
    }
    let mut child_of = HashMap::new();
    for (i, run_id) in acknowledged.iter().enumerate() {
        let id = order_id(i);
        let detail = by_id.get(run_id.as_str()).unwrap_or_else(|| {
            panic!("{id} was acknowledged with run {run_id}, which is not stored")
        });
        let run = &detail.run;
        assert_eq!(run.idempotency_key.as_deref(), Some(id.as_str()));
        support::assert_succeeded(run, &id);
        let v = callback_v(i);
        assert_eq!(
            run.output,
            Some(json!({ "id": id, "n": 160 + v, "note": comment(i) })),
            "output of {run_id} ({id})"
        );
        for (path, result) in [
            ("nap", json!({ "ok": null })),
            ("cb", json!({ "ok": { "v": v } })),
            (
                "review",
                json!({ "ok": { "approved": true, "by": "tester", "comment": comment(i) } }),
            ),
        ] {
            let wait = detail
                .waits
                .iter()
                .find(|wait| wait.path == path)
                .unwrap_or_else(|| panic!("run {run_id} has no wait `{path}`: {:?}", detail.waits));
            assert_eq!(
                (wait.status, wait.result.as_ref()),
                (WaitStatus::Resolved, Some(&result)),
                "wait `{path}` of run {run_id}"
            );
        }
        // Each wait gave its step one result, journaled once.
        for path in ["nap", "got", "decision", "sub"] {
            let finished: Vec<_> = detail
                .steps
                .iter()
                .filter(|step| step.path == path && step.status != StepStatus::Started)
                .collect();
            assert!(
                finished.len() == 1 && finished[0].status == StepStatus::Succeeded,
                "run {run_id}: step `{path}` should have finished once, succeeded: {finished:?}"
            );
        }
        let sub = detail.waits.iter().find(|wait| wait.path == "sub").unwrap();
        let child = sub.detail.as_ref().unwrap()["run"].as_str().unwrap();
        let child_detail = by_id
            .get(child)
            .unwrap_or_else(|| panic!("the child {child} of run {run_id} is not stored"));
        assert_eq!(
            (
                child_detail.run.parent.as_deref(),
                child_detail.run.idempotency_key.clone(),
                child_detail.run.status,
                child_detail.run.output.clone(),
            ),
            (
                Some(run_id.as_str()),
                Some(format!("{run_id}/sub")),
                RunStatus::Succeeded,
                Some(json!({ "n": 4 + v })),
            ),
            "the child of run {run_id}"
        );
        assert_eq!(
            sub.result,
            Some(json!({ "ok": { "n": 4 + v } })),
            "wait `sub` of {run_id}"
        );
        child_of.insert(run_id.clone(), child.to_string());
    }
    child_of
}

/// Every run's callback and approval was taken once, or taken unseen when an
/// attempt got no answer, and refused once used.
fn check_decisions(decisions: &BTreeMap<(String, bool), Decision>, acknowledged: &[String]) {
    for run in acknowledged {
        for is_callback in [true, false] {
            let decision = decisions
                .get(&(run.clone(), is_callback))
                .unwrap_or_else(|| {
                    panic!(
                        "run {run}: no {} was handed out",
                        if is_callback { "callback" } else { "approval" }
                    )
                });
            let taken = decision
                .attempts
                .iter()
                .filter(|attempt| matches!(attempt, Attempt::Taken))
                .count();
            assert!(
                taken == 1 || (taken == 0 && decision.unknown_before()),
                "{}: {:?}",
                decision.what(),
                decision.attempts
            );
            assert!(
                decision.confirmed,
                "{}: {:?}",
                decision.what(),
                decision.attempts
            );
        }
    }
    let unseen = decisions
        .values()
        .filter(|decision| {
            !decision
                .attempts
                .iter()
                .any(|attempt| matches!(attempt, Attempt::Taken))
        })
        .count();
    let retried = decisions
        .values()
        .filter(|decision| decision.unknown_before())
        .count();
    println!(
        "{} callbacks and approvals: {retried} sent again after no answer, {unseen} of those \
         taken by an attempt whose answer was lost",
        decisions.len()
    );
}

/// Every HTTP step reached the downstream under its `{run}/{path}` key with the
/// body the chain implies; a repeat carries the same key and comes from a process
/// started after a kill.
fn check_downstream(
    requests: &[Recorded],
    acknowledged: &[String],
    children: &HashMap<String, String>,
) {
    support::assert_all_keyed(requests);
    let mut by_key: BTreeMap<&str, Vec<&Recorded>> = BTreeMap::new();
    let mut by_effect: BTreeMap<(String, String, i64), Vec<&Recorded>> = BTreeMap::new();
    for request in requests {
        by_key
            .entry(request.header("idempotency-key").unwrap_or_default())
            .or_default()
            .push(request);
        let body = request.json();
        let id = body["id"].as_str().unwrap_or_default().to_string();
        // The items of one run differ only by their `n`.
        let n = if request.path() == "/item" {
            body["n"].as_i64().unwrap_or_default()
        } else {
            0
        };
        by_effect
            .entry((id, request.path().to_string(), n))
            .or_default()
            .push(request);
    }
    let mut expected_keys = 0;
    for (i, run) in acknowledged.iter().enumerate() {
        let id = order_id(i);
        let v = callback_v(i);
        let child = &children[run];
        let hand = by_key
            .get(format!("{run}/hand").as_str())
            .and_then(|calls| calls.first())
            .unwrap_or_else(|| panic!("run {run} ({id}) never handed its callback out"));
        let url = hand.json()["url"].clone();
        let review = by_key
            .get(format!("{run}/ask").as_str())
            .and_then(|calls| calls.first())
            .unwrap_or_else(|| panic!("run {run} ({id}) never handed its approval out"))
            .json()["url"]
            .clone();
        let mut expected = vec![
            (
                format!("{run}/first"),
                "/first",
                json!({ "id": id, "n": 0 }),
            ),
            (
                format!("{run}/hand"),
                "/hand",
                json!({ "id": id, "n": 1, "url": url }),
            ),
            (
                format!("{run}/ask"),
                "/ask",
                json!({ "id": id, "n": 2 + v, "url": review }),
            ),
            (
                format!("{child}/c1"),
                "/child",
                json!({ "id": id, "n": 3 + v }),
            ),
            (
                format!("{run}/last"),
                "/last",
                json!({ "id": id, "n": 4 + v + ITEMS.iter().map(|x| x + 1).sum::<i64>() }),
            ),
        ];
        for (k, x) in ITEMS.iter().enumerate() {
            expected.push((
                format!("{run}/items[{k}].item"),
                "/item",
                json!({ "id": id, "n": x }),
            ));
        }
        expected_keys += expected.len();
        for (key, path, body) in expected {
            let calls = by_key
                .get(key.as_str())
                .unwrap_or_else(|| panic!("the downstream never saw a call keyed {key} ({id})"));
            for call in calls {
                assert_eq!(
                    (call.method.as_str(), call.path(), call.json()),
                    ("POST", path, body.clone()),
                    "a call keyed {key}"
                );
            }
        }
    }
    assert_eq!(
        by_key.len(),
        expected_keys,
        "calls under keys that name no step of an acknowledged run: {:?}",
        by_key.keys().collect::<Vec<_>>()
    );
    let repeats = support::repeats(by_effect.iter().map(|((id, path, n), calls)| {
        (format!("{id}'s call to {path} (n {n})"), calls.as_slice())
    }));
    println!(
        "{} downstream calls for {expected_keys} steps; {} repeated after a kill:",
        requests.len(),
        repeats.len()
    );
    for repeat in &repeats {
        println!("  {repeat}");
    }
}
