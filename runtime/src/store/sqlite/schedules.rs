//! The fires of `on schedule` triggers in SQLite (migration 0006).
//!
//! A fire is one row of `schedule_fires`, keyed by workflow and fire time, written
//! by the same writer job that inserts the fire's run (through `start_run`'s own
//! [`PendingRun`](super::PendingRun)), so the two commit together or not at all.
//! The writer thread runs one job at a time, so two schedulers racing for the
//! same fire are serialised: the second finds the first one's row and starts
//! nothing.

use super::{PendingRun, SqliteStore, execute, query_row};
use crate::clock::Millis;
use crate::store::{BoxFuture, NewRun, Result, Started};
use rusqlite::{OptionalExtension, params};

impl SqliteStore {
    pub(super) fn insert_fire(
        &self,
        new: NewRun,
        fire_at: Millis,
    ) -> BoxFuture<'static, Result<Option<Started>>> {
        let clock = self.clock();
        let pending = PendingRun::new(new, &*self.ids());
        self.write(move |conn| {
            let fired = query_row(
                conn,
                "SELECT 1 FROM schedule_fires WHERE workflow = ?1 AND fire_at = ?2",
                params![pending.workflow, fire_at],
                |_| Ok(()),
            )
            .optional()?;
            if fired.is_some() {
                return Ok(None);
            }
            let started = pending.insert(conn, clock.now_ms())?;
            execute(
                conn,
                "INSERT INTO schedule_fires (workflow, fire_at, deployment, run_id)
                 VALUES (?1, ?2, ?3, ?4)",
                params![pending.workflow, fire_at, pending.deployment, started.run],
            )?;
            Ok(Some(started))
        })
    }

    pub(super) fn select_last_fire(
        &self,
        workflow: &str,
    ) -> BoxFuture<'static, Result<Option<Millis>>> {
        let workflow = workflow.to_owned();
        self.read(move |conn| {
            Ok(query_row(
                conn,
                "SELECT MAX(fire_at) FROM schedule_fires WHERE workflow = ?1",
                [&workflow],
                |row| row.get(0),
            )?)
        })
    }
}
