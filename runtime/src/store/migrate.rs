//! Numbered SQL migrations, applied in order at open.
//!
//! The schema's version is SQLite's `user_version`: migration `N` (the file
//! `migrations/000N_*.sql`) is applied, together with `PRAGMA user_version = N`, in
//! one transaction, so a crash leaves the database at the previous version or the
//! next, never between. Opening a database that is already current does nothing; a
//! database from a newer flowc is refused rather than written with an old schema.

use super::{Error, Result};
use rusqlite::Connection;

/// Every migration, in order: (version, SQL). Versions are 1, 2, 3, … without gaps.
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_run_control.sql")),
    (3, include_str!("migrations/0003_unfinished_index.sql")),
    (4, include_str!("migrations/0004_delivery_history.sql")),
    (5, include_str!("migrations/0005_waits.sql")),
    (6, include_str!("migrations/0006_schedule_fires.sql")),
];

/// The schema version this build writes.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |(version, _)| *version)
}

/// Brings the database to [`latest`]; returns how many migrations ran.
pub(crate) fn migrate(conn: &mut Connection) -> Result<usize> {
    let found = user_version(conn)?;
    let latest = latest();
    if found > latest {
        return Err(Error::SchemaTooNew { found, latest });
    }
    let mut applied = 0;
    for (version, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > found) {
        let transaction =
            conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated between our read and our lock.
        if user_version(&transaction)? >= *version {
            continue;
        }
        transaction.execute_batch(sql)?;
        transaction.execute_batch(&format!("PRAGMA user_version = {version}"))?;
        transaction.commit()?;
        applied += 1;
    }
    Ok(applied)
}

pub(crate) fn user_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |row| row.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(conn: &Connection) -> Vec<String> {
        let mut statement = conn
            .prepare("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name")
            .expect("prepare");
        statement
            .query_map([], |row| row.get(0))
            .expect("query")
            .collect::<std::result::Result<_, _>>()
            .expect("rows")
    }

    #[test]
    fn versions_are_numbered_from_one_without_gaps() {
        for (index, (version, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version, i64::try_from(index).expect("small") + 1);
        }
    }

    #[test]
    fn a_fresh_database_ends_at_the_latest_version_and_migrating_again_is_a_no_op() {
        let mut conn = Connection::open_in_memory().expect("open");
        assert_eq!(user_version(&conn).expect("version"), 0);
        assert_eq!(migrate(&mut conn).expect("migrate"), MIGRATIONS.len());
        assert_eq!(user_version(&conn).expect("version"), latest());
        let before = schema(&conn);
        assert!(before.iter().any(|sql| sql.contains("CREATE TABLE runs")));
        assert_eq!(migrate(&mut conn).expect("migrate again"), 0);
        assert_eq!(user_version(&conn).expect("version"), latest());
        assert_eq!(schema(&conn), before);
    }

    #[test]
    fn a_version_1_database_keeps_its_runs_and_steps_through_migration_2() {
        let mut conn = Connection::open_in_memory().expect("open");
        let (_, first) = MIGRATIONS[0];
        conn.execute_batch(first).expect("migration 1");
        conn.execute_batch("PRAGMA user_version = 1")
            .expect("set version");
        conn.execute_batch(
            "INSERT INTO deployments (id, hash, ir_version, ir, version, created_at)
                 VALUES ('d', 'h', 1, x'00', 1, 0);
             INSERT INTO runs (id, deployment, workflow, status, trigger, input,
                               created_at, updated_at)
                 VALUES ('r', 'd', 'w', 'failed', 'manual', '{}', 0, 0);
             INSERT INTO steps (run, path, attempt, status, started_at)
                 VALUES ('r', 's', 1, 'failed', 0);",
        )
        .expect("version 1 rows");
        assert_eq!(migrate(&mut conn).expect("migrate"), MIGRATIONS.len() - 1);
        assert_eq!(user_version(&conn).expect("version"), latest());
        let run: (Option<String>, Option<String>, i64) = conn
            .query_row(
                "SELECT webhook, replay_of, retries FROM runs WHERE id = 'r'",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .expect("run");
        assert_eq!(run, (None, None, 0));
        let generation: i64 = conn
            .query_row("SELECT generation FROM steps WHERE run = 'r'", [], |row| {
                row.get(0)
            })
            .expect("step");
        assert_eq!(generation, 0);
    }

    #[test]
    fn a_version_3_database_keeps_its_deliveries_through_migration_4() {
        let mut conn = Connection::open_in_memory().expect("open");
        for (_, sql) in &MIGRATIONS[..3] {
            conn.execute_batch(sql).expect("migrations 1 to 3");
        }
        conn.execute_batch("PRAGMA user_version = 3")
            .expect("set version");
        conn.execute_batch(
            "INSERT INTO deployments (id, hash, ir_version, ir, version, created_at)
                 VALUES ('d', 'h', 1, x'00', 1, 0);
             INSERT INTO runs (id, deployment, workflow, status, trigger, input,
                               idempotency_key, created_at, updated_at)
                 VALUES ('r', 'd', 'w', 'succeeded', 'webhook', '{}', 'k', 0, 0);
             INSERT INTO webhook_deliveries
                 (id, method, path, workflow, idempotency_key, run, created_run, received_at)
                 VALUES ('a', 'POST', '/p', 'w', 'k', 'r', 1, 10),
                        ('b', 'POST', '/p', 'w', 'k', 'r', 0, 20);",
        )
        .expect("version 3 rows");
        assert_eq!(migrate(&mut conn).expect("migrate"), MIGRATIONS.len() - 3);
        let mut statement = conn
            .prepare(
                "SELECT id, received_at, outcome, status, reason, delivery_id, idempotency_key,
                        run, created_run
                 FROM webhook_deliveries ORDER BY id",
            )
            .expect("prepare");
        type Row = (
            String,
            i64,
            String,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            bool,
        );
        let rows: Vec<Row> = statement
            .query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                    row.get(7)?,
                    row.get(8)?,
                ))
            })
            .expect("query")
            .collect::<std::result::Result<_, _>>()
            .expect("rows");
        let some = |text: &str| Some(text.to_string());
        assert_eq!(
            rows,
            vec![
                (
                    "a".into(),
                    10,
                    "accepted".into(),
                    None,
                    None,
                    None,
                    some("k"),
                    some("r"),
                    true
                ),
                (
                    "b".into(),
                    20,
                    "duplicate".into(),
                    None,
                    None,
                    None,
                    some("k"),
                    some("r"),
                    false
                ),
            ]
        );
        // A refused delivery has no run; an unknown outcome is refused.
        conn.execute_batch(
            "INSERT INTO webhook_deliveries (id, received_at, method, path, workflow, outcome,
                                             status, reason)
                 VALUES ('c', 30, 'POST', '/p', 'w', 'rejected', 401, 'signature mismatch')",
        )
        .expect("a refusal");
        assert!(
            conn.execute_batch(
                "INSERT INTO webhook_deliveries (id, received_at, method, path, workflow, outcome)
                     VALUES ('d', 40, 'POST', '/p', 'w', 'lost')",
            )
            .is_err()
        );
    }

    #[test]
    fn a_database_from_a_newer_build_is_refused() {
        let mut conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(&format!("PRAGMA user_version = {}", latest() + 1))
            .expect("set version");
        match migrate(&mut conn) {
            Err(Error::SchemaTooNew {
                found,
                latest: ours,
            }) => {
                assert_eq!((found, ours), (latest() + 1, latest()));
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }
}
