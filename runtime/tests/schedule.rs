//! The scheduler over a temp-file SQLite store and a test clock: simulated weeks
//! of several cron expressions, across the 2025 daylight saving changes of New
//! York, compared with fire times computed here independently (a minute-by-minute
//! walk in `jiff` applying SPEC.md §13.6); a scheduler restarted in the middle
//! never fires twice, three days of downtime fire once, a reload picks up a new
//! deployment. Time moves only when the test moves it: each step waits until the
//! scheduler sleeps again, so nothing here sleeps for real.

mod common;

use flowc_runtime::clock::{Clock, Millis, TestClock};
use flowc_runtime::schedule::{Scheduler, Spawn};
use flowc_runtime::store::sqlite::{Durability, Options, SqliteStore};
use flowc_runtime::store::{Error, NewRun, SequentialIds, Store};
use jiff::Timestamp;
use jiff::civil::{DateTime, Weekday};
use jiff::tz::TimeZone;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

const MINUTE: Millis = 60_000;
const HOUR: Millis = 60 * MINUTE;
const DAY: Millis = 24 * HOUR;
/// How far the test moves the clock at a time: not a divisor of any schedule's
/// period, so most fires are noticed a little late, as a busy server would.
const STEP: Millis = 7 * MINUTE;

fn at(text: &str) -> Millis {
    text.parse::<Timestamp>()
        .expect("a timestamp")
        .as_millisecond()
}

// ---------------------------------------------------------------------------
// The independent computation of fire times.

/// A schedule as this test understands it: which local wall-clock minutes match,
/// in which zone. Written by hand for each expression, not parsed.
struct Expected {
    zone: &'static str,
    matches: fn(DateTime) -> bool,
}

/// Every instant in `(from, to]` at which `expected` fires: walking the UTC
/// minutes, each instant stands for the local minutes after the latest local
/// time already seen, up to its own. Normally that is its own minute; at a
/// spring-forward gap, also the skipped minutes (which fire when the gap ends);
/// inside a fall-back fold, none (a repeated local time fires the first time only).
fn brute_force(expected: &Expected, from: Millis, to: Millis) -> Vec<Millis> {
    let zone = TimeZone::get(expected.zone).expect("a zone");
    let local = |instant: Millis| {
        zone.to_datetime(Timestamp::from_millisecond(instant).expect("an instant"))
    };
    // Start the walk a day early, so the latest local time seen is known.
    let mut instant = from - from.rem_euclid(MINUTE) - DAY;
    let mut seen = local(instant);
    let mut fires = Vec::new();
    while instant < to {
        instant += MINUTE;
        let now = local(instant);
        let mut fires_here = false;
        let mut minute = seen;
        while minute < now {
            minute = minute
                .checked_add(jiff::Span::new().minutes(1))
                .expect("a minute later");
            fires_here |= (expected.matches)(minute);
        }
        if now > seen {
            seen = now;
        }
        if fires_here && instant > from {
            fires.push(instant);
        }
    }
    fires
}

/// The union of several triggers' fires: one per distinct instant.
fn brute_force_all(triggers: &[Expected], from: Millis, to: Millis) -> Vec<Millis> {
    let all: BTreeSet<Millis> = triggers
        .iter()
        .flat_map(|expected| brute_force(expected, from, to))
        .collect();
    all.into_iter().collect()
}

fn weekday(date: DateTime) -> bool {
    !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

#[test]
fn the_independent_computation_applies_the_daylight_saving_rules() {
    // 02:30 does not exist in New York on 2025-03-09: it fires at 03:00 EDT.
    let half_past_two = Expected {
        zone: "America/New_York",
        matches: |t| t.hour() == 2 && t.minute() == 30,
    };
    assert_eq!(
        brute_force(
            &half_past_two,
            at("2025-03-08T12:00:00Z"),
            at("2025-03-10T12:00:00Z")
        ),
        [at("2025-03-09T07:00:00Z"), at("2025-03-10T06:30:00Z")]
    );
    // 01:30 happens twice on 2025-11-02: it fires at the first (EDT).
    let half_past_one = Expected {
        zone: "America/New_York",
        matches: |t| t.hour() == 1 && t.minute() == 30,
    };
    assert_eq!(
        brute_force(
            &half_past_one,
            at("2025-11-01T12:00:00Z"),
            at("2025-11-03T12:00:00Z")
        ),
        [at("2025-11-02T05:30:00Z"), at("2025-11-03T06:30:00Z")]
    );
}

// ---------------------------------------------------------------------------
// The simulation.

/// A test clock that reports every deadline the scheduler sleeps until, so the
/// test knows when the scheduler has done what the time it was given asked for.
struct ProbeClock {
    clock: TestClock,
    sleeps: mpsc::UnboundedSender<Millis>,
}

impl Clock for ProbeClock {
    fn now_ms(&self) -> Millis {
        self.clock.now_ms()
    }

    fn sleep_until(&self, deadline: Millis) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let _ = self.sleeps.send(deadline);
        self.clock.sleep_until(deadline)
    }
}

/// One scheduler task and how to talk to it.
struct Running {
    scheduler: Arc<Scheduler>,
    sleeps: mpsc::UnboundedReceiver<Millis>,
    /// What the scheduler last said it sleeps until.
    deadline: Millis,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

struct Sim {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Arc<SqliteStore>,
    clock: TestClock,
    spawn: Spawn,
    spawned: mpsc::UnboundedReceiver<String>,
    /// Every run handed to `spawn` so far, in order.
    all_spawned: Vec<String>,
    running: Option<Running>,
}

impl Sim {
    fn new(start: Millis) -> Sim {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("flowc.db");
        let clock = TestClock::new(start);
        let mut options = Options::new(&path);
        options.clock = Arc::new(clock.clone());
        options.ids = Arc::new(SequentialIds::new());
        options.durability = Durability::Normal;
        let store = Arc::new(options.open().expect("open store"));
        let (sender, spawned) = mpsc::unbounded_channel();
        let spawn: Spawn = Arc::new(move |run| {
            let _ = sender.send(run);
        });
        Sim {
            _dir: dir,
            path,
            store,
            clock,
            spawn,
            spawned,
            all_spawned: Vec::new(),
            running: None,
        }
    }

    /// Deploys and activates a program; its id.
    async fn deploy(&self, source: &str) -> String {
        let deployed = self
            .store
            .deploy(&common::compile(source))
            .await
            .expect("deploy");
        self.store.activate(&deployed.id).await.expect("activate");
        deployed.id
    }

    /// Starts a new scheduler and waits until it has done what is due and sleeps.
    async fn start(&mut self) {
        assert!(self.running.is_none(), "a scheduler is running");
        let (sleeps_sender, mut sleeps) = mpsc::unbounded_channel();
        let clock = ProbeClock {
            clock: self.clock.clone(),
            sleeps: sleeps_sender,
        };
        let store: Arc<dyn Store> = Arc::clone(&self.store) as Arc<dyn Store>;
        let scheduler = Arc::new(Scheduler::new(
            store,
            Arc::new(clock),
            Arc::clone(&self.spawn),
        ));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(Arc::clone(&scheduler).run(async move {
            let _ = stopped.await;
        }));
        let deadline = next_sleep(&mut sleeps).await;
        self.running = Some(Running {
            scheduler,
            sleeps,
            deadline,
            stop,
            task,
        });
    }

    /// Stops the scheduler and waits for its task to end.
    async fn stop(&mut self) {
        let running = self.running.take().expect("a scheduler is running");
        let _ = running.stop.send(());
        running.task.await.expect("the scheduler ends cleanly");
    }

    /// Asks the running scheduler to read the deployments again and waits until
    /// it sleeps once more.
    async fn reload(&mut self) {
        let running = self.running.as_mut().expect("a scheduler is running");
        running.scheduler.reload();
        running.deadline = next_sleep(&mut running.sleeps).await;
    }

    /// Moves the clock to `end` in steps of [`STEP`]; after each step that
    /// reaches the scheduler's deadline, waits until it sleeps again.
    async fn advance_to(&mut self, end: Millis) {
        while self.clock.now_ms() < end {
            let step = STEP.min(end - self.clock.now_ms());
            self.clock.advance(Duration::from_millis(
                u64::try_from(step).expect("a positive step"),
            ));
            if let Some(running) = self.running.as_mut() {
                while running.deadline <= self.clock.now_ms() {
                    running.deadline = next_sleep(&mut running.sleeps).await;
                }
            }
        }
    }

    /// The runs spawned since the last call.
    fn take_spawned(&mut self) -> Vec<String> {
        let mut runs = Vec::new();
        while let Ok(run) = self.spawned.try_recv() {
            runs.push(run);
        }
        self.all_spawned.extend(runs.iter().cloned());
        runs
    }

    /// Every recorded fire: workflow → (fire time, run id), in time order.
    fn fires(&self) -> BTreeMap<String, Vec<(Millis, String)>> {
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("read the database");
        let mut statement = conn
            .prepare(
                "SELECT workflow, fire_at, run_id FROM schedule_fires ORDER BY workflow, fire_at",
            )
            .expect("prepare");
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?))
            })
            .expect("query");
        let mut fires: BTreeMap<String, Vec<(Millis, String)>> = BTreeMap::new();
        for row in rows {
            let (workflow, fire_at, run) = row.expect("a row");
            fires.entry(workflow).or_default().push((fire_at, run));
        }
        fires
    }
}

/// The next deadline the scheduler sleeps until. The real-time limit only keeps
/// a broken scheduler from hanging the test.
async fn next_sleep(sleeps: &mut mpsc::UnboundedReceiver<Millis>) -> Millis {
    tokio::time::timeout(Duration::from_secs(60), sleeps.recv())
        .await
        .expect("the scheduler sleeps again")
        .expect("the scheduler is running")
}

/// Checks every recorded fire against `expected` (workflow → fire times) and its
/// run: started by `schedule` with a `null` input on `deployment`, within a step
/// of its fire time or, for the missed fires `late` lists, at the restart time it
/// gives; and every run was handed to `spawn` exactly once.
async fn check_fires(
    sim: &mut Sim,
    deployment: &str,
    expected: &BTreeMap<&str, Vec<Millis>>,
    late: Option<(Millis, &[Millis])>,
) {
    let fires = sim.fires();
    let mut runs = BTreeSet::new();
    for (workflow, want) in expected {
        let got: Vec<Millis> = fires
            .get(*workflow)
            .map(|fires| fires.iter().map(|(at, _)| *at).collect())
            .unwrap_or_default();
        assert_eq!(
            got.iter().map(|t| show(*t)).collect::<Vec<_>>(),
            want.iter().map(|t| show(*t)).collect::<Vec<_>>(),
            "fires of `{workflow}`"
        );
        for (fire_at, run) in fires.get(*workflow).into_iter().flatten() {
            let detail = sim
                .store
                .get_run(run)
                .await
                .expect("read run")
                .expect("the fire's run exists");
            assert_eq!(detail.run.workflow, *workflow);
            assert_eq!(detail.run.trigger, "schedule");
            assert_eq!(detail.run.input, serde_json::Value::Null);
            assert_eq!(detail.run.deployment, deployment);
            let started = detail.run.created_at;
            match late {
                Some((restart, missed)) if missed.contains(fire_at) => {
                    assert_eq!(started, restart, "the missed fire {}", show(*fire_at));
                }
                _ => assert!(
                    (*fire_at..*fire_at + STEP).contains(&started),
                    "`{workflow}` fired for {} at {}",
                    show(*fire_at),
                    show(started)
                ),
            }
            assert!(runs.insert(run.clone()), "run {run} recorded twice");
        }
    }
    assert_eq!(
        fires.keys().map(String::as_str).collect::<Vec<_>>(),
        expected.keys().copied().collect::<Vec<_>>(),
        "the workflows that fired"
    );
    sim.take_spawned();
    let spawned = &sim.all_spawned;
    assert_eq!(spawned.len(), runs.len(), "every run spawned once");
    assert_eq!(spawned.iter().cloned().collect::<BTreeSet<_>>(), runs);
}

fn show(instant: Millis) -> String {
    Timestamp::from_millisecond(instant)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

const MARCH: &str = r#"
workflow quarter() {
  on schedule "*/15 * * * *"
}
workflow standup() {
  on schedule "0 9 * * MON-FRI" tz "America/Sao_Paulo"
}
workflow nightly() {
  on schedule "30 2 * * *" tz "America/New_York"
}
workflow twice() {
  on schedule "0 */2 * * *"
  on schedule "0 9 * * *" tz "America/New_York"
}
"#;

fn march_expectations() -> Vec<(&'static str, Vec<Expected>)> {
    vec![
        (
            "quarter",
            vec![Expected {
                zone: "UTC",
                matches: |t| t.minute() % 15 == 0,
            }],
        ),
        (
            "standup",
            vec![Expected {
                zone: "America/Sao_Paulo",
                matches: |t| t.hour() == 9 && t.minute() == 0 && weekday(t),
            }],
        ),
        (
            "nightly",
            vec![Expected {
                zone: "America/New_York",
                matches: |t| t.hour() == 2 && t.minute() == 30,
            }],
        ),
        (
            "twice",
            vec![
                Expected {
                    zone: "UTC",
                    matches: |t| t.hour() % 2 == 0 && t.minute() == 0,
                },
                Expected {
                    zone: "America/New_York",
                    matches: |t| t.hour() == 9 && t.minute() == 0,
                },
            ],
        ),
    ]
}

#[tokio::test]
async fn a_week_across_the_spring_change_fires_as_computed_and_a_restart_fires_nothing_twice() {
    let start = at("2025-03-05T00:00:00Z");
    // 07:00Z on 2025-03-09 is 03:00 EDT, where New York's 02:30 fires: the
    // restart happens just after that fire was made.
    let restart = at("2025-03-09T07:00:00Z");
    let end = at("2025-03-13T00:00:00Z");
    let mut sim = Sim::new(start);
    let deployment = sim.deploy(MARCH).await;
    sim.start().await;
    sim.advance_to(restart).await;
    let before_restart = sim.take_spawned().len();
    sim.stop().await;

    // The new scheduler finds every fire so far recorded: it starts nothing.
    sim.start().await;
    assert_eq!(sim.take_spawned(), Vec::<String>::new());
    assert!(
        sim.store
            .last_fire("nightly")
            .await
            .expect("last fire")
            .is_some_and(|last| last == restart)
    );
    sim.advance_to(end).await;
    sim.stop().await;

    let expected: BTreeMap<&str, Vec<Millis>> = march_expectations()
        .into_iter()
        .map(|(workflow, triggers)| (workflow, brute_force_all(&triggers, start, end)))
        .collect();
    // The gap: 02:30 on 2025-03-09 fires once, at 03:00 EDT; the days around it
    // at 02:30 EST and EDT. Two triggers meeting at 14:00Z fire once.
    assert!(expected["nightly"].contains(&restart));
    assert!(expected["nightly"].contains(&at("2025-03-08T07:30:00Z")));
    assert!(expected["nightly"].contains(&at("2025-03-10T06:30:00Z")));
    assert!(expected["twice"].contains(&at("2025-03-07T14:00:00Z")));
    assert!(expected["twice"].contains(&at("2025-03-10T13:00:00Z")));
    assert_eq!(expected["quarter"].len(), 8 * 24 * 4);
    let total: usize = expected.values().map(Vec::len).sum();
    assert!(before_restart > 0 && before_restart < total);
    check_fires(&mut sim, &deployment, &expected, None).await;
}

const NOVEMBER: &str = r#"
workflow early() {
  on schedule "30 1 * * *" tz "America/New_York"
}
workflow halves() {
  on schedule "*/30 * * * *" tz "America/New_York"
}
"#;

fn november_expectations() -> Vec<(&'static str, Vec<Expected>)> {
    vec![
        (
            "early",
            vec![Expected {
                zone: "America/New_York",
                matches: |t| t.hour() == 1 && t.minute() == 30,
            }],
        ),
        (
            "halves",
            vec![Expected {
                zone: "America/New_York",
                matches: |t| t.minute() % 30 == 0,
            }],
        ),
    ]
}

#[tokio::test]
async fn a_week_across_the_autumn_change_fires_as_computed_and_three_days_down_fire_once() {
    let start = at("2025-10-30T00:00:00Z");
    let down = at("2025-11-03T12:05:00Z");
    let up = down + 3 * DAY;
    let end = at("2025-11-08T00:00:00Z");
    let mut sim = Sim::new(start);
    let deployment = sim.deploy(NOVEMBER).await;
    sim.start().await;
    sim.advance_to(down).await;
    sim.stop().await;
    assert!(!sim.take_spawned().is_empty());

    // Three days pass with no scheduler.
    sim.advance_to(up).await;
    assert_eq!(sim.fires().values().map(Vec::len).sum::<usize>(), {
        november_expectations()
            .iter()
            .map(|(_, triggers)| brute_force_all(triggers, start, down).len())
            .sum::<usize>()
    });

    // Back up: each workflow fires once, for its latest missed time.
    sim.start().await;
    let caught_up = sim.take_spawned();
    assert_eq!(caught_up.len(), 2, "{caught_up:?}");
    sim.advance_to(end).await;
    sim.stop().await;

    let mut missed = Vec::new();
    let expected: BTreeMap<&str, Vec<Millis>> = november_expectations()
        .into_iter()
        .map(|(workflow, triggers)| {
            let mut fires = brute_force_all(&triggers, start, down);
            let latest_missed = *brute_force_all(&triggers, down, up)
                .last()
                .expect("a fire while down");
            missed.push(latest_missed);
            fires.push(latest_missed);
            fires.extend(brute_force_all(&triggers, up, end));
            (workflow, fires)
        })
        .collect();
    // The fold: 01:30 fires at its first occurrence (EDT) only; every half hour
    // fires once, the repeated 01:00 and 01:30 EST not at all.
    assert!(expected["early"].contains(&at("2025-11-02T05:30:00Z")));
    assert!(!expected["early"].contains(&at("2025-11-02T06:30:00Z")));
    for (instant, fires) in [
        ("2025-11-02T05:00:00Z", true),
        ("2025-11-02T05:30:00Z", true),
        ("2025-11-02T06:00:00Z", false),
        ("2025-11-02T06:30:00Z", false),
        ("2025-11-02T07:00:00Z", true),
    ] {
        assert_eq!(
            expected["halves"].contains(&at(instant)),
            fires,
            "{instant}"
        );
    }
    assert_eq!(
        missed,
        [at("2025-11-06T06:30:00Z"), at("2025-11-06T12:00:00Z")]
    );
    check_fires(&mut sim, &deployment, &expected, Some((up, &missed))).await;
}

#[tokio::test]
async fn a_reload_picks_up_a_new_deployment_and_drops_a_deactivated_one() {
    let start = at("2025-06-02T00:00:00Z");
    let mut sim = Sim::new(start);
    let hourly = sim
        .deploy("workflow hourly() {\n  on schedule \"@hourly\"\n}\n")
        .await;
    sim.start().await;
    sim.advance_to(start + 2 * HOUR).await;
    assert_eq!(sim.take_spawned().len(), 2);

    // A second deployment: fires from the next reload on, counted from its
    // creation (nothing missed).
    sim.advance_to(start + 2 * HOUR + 10 * MINUTE).await;
    let quarter = sim
        .deploy("workflow quarter() {\n  on schedule \"*/15 * * * *\"\n}\n")
        .await;
    sim.reload().await;
    assert_eq!(sim.take_spawned(), Vec::<String>::new());
    sim.advance_to(start + 3 * HOUR).await;
    // 02:15, 02:30, 02:45, 03:00 and the hourly 03:00.
    assert_eq!(sim.take_spawned().len(), 5);

    sim.store.deactivate(&hourly).await.expect("deactivate");
    sim.reload().await;
    sim.advance_to(start + 4 * HOUR).await;
    assert_eq!(sim.take_spawned().len(), 4);
    sim.stop().await;

    let fires = sim.fires();
    assert_eq!(fires["hourly"].len(), 3);
    assert_eq!(fires["quarter"].len(), 8);
    assert_eq!(
        fires["quarter"].first().map(|(at, _)| *at),
        Some(start + 2 * HOUR + 15 * MINUTE)
    );
    let detail = sim
        .store
        .get_run(&fires["quarter"][0].1)
        .await
        .expect("read")
        .expect("run");
    assert_eq!(detail.run.deployment, quarter);
}

// ---------------------------------------------------------------------------
// The store's part.

#[tokio::test]
async fn a_fire_is_recorded_once_with_its_run() {
    let sim = Sim::new(at("2025-01-01T00:00:00Z"));
    let deployment = sim.deploy(NOVEMBER).await;
    let new = |workflow: &str| NewRun {
        deployment: deployment.clone(),
        workflow: workflow.into(),
        input: serde_json::Value::Null,
        idempotency_key: None,
        trigger: "schedule".into(),
        delivery: None,
        webhook: None,
        replay_of: None,
    };
    let fire_at = at("2025-01-01T00:00:00Z");
    assert_eq!(sim.store.last_fire("early").await.expect("last"), None);
    let first = sim
        .store
        .fire_schedule(new("early"), fire_at)
        .await
        .expect("fire")
        .expect("a new fire");
    assert!(first.created);
    // The same fire again, from this or another workflow's point of view.
    assert_eq!(
        sim.store
            .fire_schedule(new("early"), fire_at)
            .await
            .expect("fire again"),
        None
    );
    let other = sim
        .store
        .fire_schedule(new("halves"), fire_at)
        .await
        .expect("another workflow's fire")
        .expect("a new fire");
    assert_ne!(other.run, first.run);
    let earlier = sim
        .store
        .fire_schedule(new("early"), fire_at - DAY)
        .await
        .expect("an earlier fire")
        .expect("a new fire");
    assert_ne!(earlier.run, first.run);
    assert_eq!(
        sim.store.last_fire("early").await.expect("last"),
        Some(fire_at)
    );
    // A workflow the deployment lacks: no run, no fire recorded.
    assert!(matches!(
        sim.store.fire_schedule(new("missing"), fire_at).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(sim.store.last_fire("missing").await.expect("last"), None);
    let fires = sim.fires();
    assert_eq!(fires["early"].len(), 2);
    assert_eq!(fires["early"][1], (fire_at, first.run));
    assert_eq!(fires["halves"].len(), 1);
}
