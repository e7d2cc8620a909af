//! The scheduler: starts the runs of `on schedule` triggers when their cron
//! expressions come due.
//!
//! Fire times come from [`flowc_compiler::cron`], the module the checker
//! validates schedules with, so a schedule fires at exactly the times
//! `flowc check --verbose` prints, daylight saving rules included (SPEC.md
//! §13.6). What is durable is the store's record of each fire, one per workflow
//! and fire time, written in the transaction that starts the fire's run
//! ([`Store::fire_schedule`]): the scheduler itself keeps nothing that a restart
//! would lose, and a restart never starts a fire twice.
//!
//! A fire that was missed (the server was down, the store failing) is not made up
//! tick by tick: when the scheduler finds that the latest fire time at or before
//! now comes after the workflow's last recorded fire (or, for a workflow that never
//! fired, after its deployment was created), it fires once, for that latest time.
//! Several schedule triggers of one workflow fire once per distinct instant. Which
//! instant is due is decided by the pure [`Timetable`], which tests can drive
//! without a store or a clock.
//!
//! The scheduler reads the active deployments when it starts and again after each
//! [`Scheduler::reload`]; whoever activates or deactivates a deployment calls it.
//! It sleeps on the runtime's [`Clock`] until the next fire time, so tests move a
//! [`TestClock`](crate::clock::TestClock) instead of waiting. Store errors are
//! logged and retried after [`RETRY`] of that clock; nothing here panics.

use crate::clock::{Clock, Millis};
use crate::store::{DeploymentId, NewRun, RunId, Store};
use flowc_compiler::cron;
use flowc_compiler::ir;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long the scheduler waits before trying again after a store error.
pub const RETRY: Duration = Duration::from_secs(1);

/// What the scheduler calls with the id of each run it starts (stored as
/// pending): the server hands it to the engine.
pub type Spawn = Arc<dyn Fn(RunId) + Send + Sync>;

/// The schedule triggers of one workflow, parsed: when it fires.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timetable {
    /// Each trigger's schedule and IANA zone.
    triggers: Vec<(cron::Schedule, String)>,
}

impl Timetable {
    /// The schedule triggers of `workflow`. A trigger whose cron expression or zone
    /// the checker would reject (possible only in IR not built by this compiler)
    /// is left out with a warning.
    pub fn of(workflow: &ir::Workflow) -> Timetable {
        let mut triggers = Vec::new();
        for trigger in &workflow.triggers {
            let ir::Trigger::Schedule { cron: text, tz } = trigger else {
                continue;
            };
            match cron::parse(text) {
                Ok(_) if !cron::is_valid_time_zone(tz) => tracing::warn!(
                    workflow = workflow.name.as_str(),
                    tz = tz.as_str(),
                    "a schedule is ignored: unknown time zone"
                ),
                Ok(schedule) => triggers.push((schedule, tz.clone())),
                Err(error) => tracing::warn!(
                    workflow = workflow.name.as_str(),
                    cron = text.as_str(),
                    %error,
                    "a schedule is ignored: invalid cron expression"
                ),
            }
        }
        Timetable { triggers }
    }

    /// A timetable of the given `(cron expression, zone)` pairs; an expression
    /// that does not parse is returned as the error.
    pub fn parse<'a>(
        triggers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Timetable, cron::Error> {
        let triggers = triggers
            .into_iter()
            .map(|(text, tz)| Ok((cron::parse(text)?, tz.to_owned())))
            .collect::<Result<_, cron::Error>>()?;
        Ok(Timetable { triggers })
    }

    /// Whether the workflow has no (usable) schedule trigger.
    pub fn is_empty(&self) -> bool {
        self.triggers.is_empty()
    }

    /// The first fire time strictly after `after`, over every trigger: two
    /// triggers matching the same instant make one fire.
    pub fn next_after(&self, after: Millis) -> Option<Millis> {
        self.triggers
            .iter()
            .filter_map(|(schedule, tz)| schedule.next_after(after, tz))
            .min()
    }

    /// The fire that is due at `now` when every fire up to `since` has been made:
    /// the latest fire time in `(since, now]`, or `None` when there is none. After
    /// downtime this is the one fire that stands for all the missed ones.
    pub fn due(&self, since: Millis, now: Millis) -> Option<Millis> {
        if now <= since {
            return None;
        }
        // Walking forward from `since` would take a step per missed fire, which
        // after a long downtime of a frequent schedule is many. So look back from
        // `now` over a window that grows until it holds a fire or reaches `since`.
        let mut window: Millis = 60 * 60 * 1000;
        loop {
            let from = now.saturating_sub(window).max(since);
            let mut latest = None;
            let mut cursor = from;
            while let Some(next) = self.next_after(cursor) {
                if next > now {
                    break;
                }
                latest = Some(next);
                cursor = next;
            }
            if latest.is_some() || from == since {
                return latest;
            }
            window = window.saturating_mul(8);
        }
    }
}

/// Starts the runs of the `on schedule` triggers of every active deployment. See
/// the module documentation; [`Scheduler::run`] is the loop.
pub struct Scheduler {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    spawn: Spawn,
    reload: Notify,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").finish_non_exhaustive()
    }
}

/// One scheduled workflow, as the loop keeps it between fires.
struct Planned {
    workflow: String,
    /// The active deployment that defines it: its runs start on this one.
    deployment: DeploymentId,
    timetable: Timetable,
    /// Every fire up to this time is made: the last recorded fire or, for a
    /// workflow that never fired, its deployment's creation.
    since: Millis,
}

impl Scheduler {
    /// A scheduler over `store`, sleeping on `clock`, handing each run it starts
    /// to `spawn`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, spawn: Spawn) -> Scheduler {
        Scheduler {
            store,
            clock,
            spawn,
            reload: Notify::new(),
        }
    }

    /// Makes the loop read the active deployments again (after a deployment was
    /// activated or deactivated), waking it if it sleeps. A reload asked for while
    /// the loop is busy is kept until it next waits.
    pub fn reload(&self) {
        self.reload.notify_one();
    }

    /// The loop, until `shutdown` resolves: read the active deployments' schedules,
    /// make the fires that are due, sleep on the clock until the next fire time
    /// (or a [`reload`](Scheduler::reload)), and again. A fire in flight when
    /// `shutdown` resolves is finished first, so its run is handed to `spawn`.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut plan: Option<Vec<Planned>> = None;
        loop {
            let deadline = match &mut plan {
                Some(planned) => self.fire_due(planned).await,
                None => match self.plan().await {
                    Ok(loaded) => {
                        tracing::debug!(workflows = loaded.len(), "schedules loaded");
                        plan = Some(loaded);
                        continue;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot read the schedules; retrying in 1 s");
                        Some(self.retry_at())
                    }
                },
            };
            tokio::select! {
                biased;
                () = &mut shutdown => return,
                () = self.reload.notified() => plan = None,
                () = self.sleep(deadline) => {}
            }
        }
    }

    /// Reads the scheduled workflows of the active deployments and where each
    /// stands.
    async fn plan(&self) -> crate::store::Result<Vec<Planned>> {
        // Oldest first: should two active deployments define a workflow, the
        // newer one's definition is the one that fires.
        let mut latest: BTreeMap<String, (DeploymentId, Millis, Timetable)> = BTreeMap::new();
        for deployment in self.store.active_deployments().await? {
            for workflow in &deployment.program.workflows {
                let timetable = Timetable::of(workflow);
                if timetable.is_empty() {
                    latest.remove(&workflow.name);
                } else {
                    latest.insert(
                        workflow.name.clone(),
                        (deployment.id.clone(), deployment.created_at, timetable),
                    );
                }
            }
        }
        let mut planned = Vec::with_capacity(latest.len());
        for (workflow, (deployment, created_at, timetable)) in latest {
            let since = self.store.last_fire(&workflow).await?.unwrap_or(created_at);
            planned.push(Planned {
                workflow,
                deployment,
                timetable,
                since,
            });
        }
        Ok(planned)
    }

    /// Makes every fire that is due now; returns when the next one is (or when to
    /// try again after an error).
    async fn fire_due(&self, planned: &mut [Planned]) -> Option<Millis> {
        let now = self.clock.now_ms();
        let mut deadline: Option<Millis> = None;
        for entry in planned.iter_mut() {
            if let Some(fire_at) = entry.timetable.due(entry.since, now) {
                if let Err(error) = self.fire(entry, fire_at).await {
                    tracing::warn!(
                        workflow = entry.workflow.as_str(),
                        fire_at,
                        %error,
                        "a schedule could not fire; retrying in 1 s"
                    );
                    deadline = earliest(deadline, Some(self.retry_at()));
                    continue;
                }
                entry.since = fire_at;
            }
            deadline = earliest(deadline, entry.timetable.next_after(entry.since.max(now)));
        }
        deadline
    }

    /// Records the fire and starts its run, then hands the run to `spawn`. A fire
    /// that was already recorded starts nothing.
    async fn fire(&self, entry: &Planned, fire_at: Millis) -> crate::store::Result<()> {
        let new = NewRun {
            deployment: entry.deployment.clone(),
            workflow: entry.workflow.clone(),
            // A scheduled workflow takes no parameters (E0421), and a workflow
            // without parameters is started with `null`.
            input: serde_json::Value::Null,
            idempotency_key: None,
            trigger: "schedule".to_owned(),
            delivery: None,
            webhook: None,
            replay_of: None,
        };
        match self.store.fire_schedule(new, fire_at).await? {
            Some(started) => {
                tracing::info!(
                    workflow = entry.workflow.as_str(),
                    run_id = started.run.as_str(),
                    fire_at,
                    "schedule fired"
                );
                (self.spawn)(started.run);
            }
            None => tracing::debug!(
                workflow = entry.workflow.as_str(),
                fire_at,
                "schedule already fired"
            ),
        }
        Ok(())
    }

    fn retry_at(&self) -> Millis {
        let retry = Millis::try_from(RETRY.as_millis()).unwrap_or(Millis::MAX);
        self.clock.now_ms().saturating_add(retry)
    }

    /// Sleeps until `deadline`, or forever without one.
    async fn sleep(&self, deadline: Option<Millis>) {
        match deadline {
            Some(deadline) => self.clock.sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    }
}

fn earliest(left: Option<Millis>, right: Option<Millis>) -> Option<Millis> {
    match (left, right) {
        (Some(left), Some(right)) => Some(left.min(right)),
        (left, right) => left.or(right),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Millis = 60_000;
    const HOUR: Millis = 60 * MINUTE;
    const DAY: Millis = 24 * HOUR;
    /// 2025-01-01T00:00:00Z, a Wednesday.
    const NEW_YEAR: Millis = 1_735_689_600_000;

    fn timetable(triggers: &[(&str, &str)]) -> Timetable {
        Timetable::parse(triggers.iter().copied()).expect("valid cron")
    }

    #[test]
    fn two_triggers_on_the_same_instant_fire_once() {
        let both = timetable(&[("0 * * * *", "UTC"), ("*/30 * * * *", "UTC")]);
        let mut fires = Vec::new();
        let mut cursor = NEW_YEAR;
        while let Some(next) = both
            .next_after(cursor)
            .filter(|next| *next <= NEW_YEAR + 2 * HOUR)
        {
            fires.push(next);
            cursor = next;
        }
        let expected: Vec<Millis> = (1..=4).map(|half| NEW_YEAR + half * 30 * MINUTE).collect();
        assert_eq!(fires, expected);
    }

    #[test]
    fn the_due_fire_is_the_latest_after_since_and_not_after_now() {
        let quarter = timetable(&[("*/15 * * * *", "UTC")]);
        // Nothing after `since` yet.
        assert_eq!(quarter.due(NEW_YEAR, NEW_YEAR + 14 * MINUTE), None);
        // Exactly at a fire time: due.
        assert_eq!(
            quarter.due(NEW_YEAR, NEW_YEAR + 15 * MINUTE),
            Some(NEW_YEAR + 15 * MINUTE)
        );
        // Already made.
        assert_eq!(
            quarter.due(NEW_YEAR + 15 * MINUTE, NEW_YEAR + 20 * MINUTE),
            None
        );
        // Three days down: one fire, the latest.
        assert_eq!(
            quarter.due(NEW_YEAR, NEW_YEAR + 3 * DAY + 7 * MINUTE),
            Some(NEW_YEAR + 3 * DAY)
        );
        // The clock moved back: nothing.
        assert_eq!(quarter.due(NEW_YEAR, NEW_YEAR - DAY), None);
    }

    #[test]
    fn the_due_fire_is_found_far_back() {
        // Midnight on 1 January, last fired ten years ago: the window grows until
        // it reaches this year's fire.
        let yearly = timetable(&[("@yearly", "UTC")]);
        let long_ago = NEW_YEAR - 3653 * DAY;
        assert_eq!(yearly.due(long_ago, NEW_YEAR + 200 * DAY), Some(NEW_YEAR));
        // With nothing between since and now, the search stops at since.
        assert_eq!(yearly.due(NEW_YEAR, NEW_YEAR + 200 * DAY), None);
    }

    #[test]
    fn a_workflow_without_schedules_has_an_empty_timetable() {
        assert!(timetable(&[]).is_empty());
        assert_eq!(timetable(&[]).next_after(NEW_YEAR), None);
        assert_eq!(timetable(&[]).due(NEW_YEAR, NEW_YEAR + DAY), None);
    }

    #[test]
    fn earliest_ignores_missing_deadlines() {
        assert_eq!(earliest(None, None), None);
        assert_eq!(earliest(Some(2), None), Some(2));
        assert_eq!(earliest(None, Some(3)), Some(3));
        assert_eq!(earliest(Some(5), Some(3)), Some(3));
    }
}
