//! The embedded store: one SQLite file in WAL mode, written by one thread.
//!
//! Writes go through the [writer thread](super::writer), which commits whatever is
//! queued in one transaction (group commit); reads run on a small pool of read-only
//! connections in tokio's blocking pool, and WAL lets them proceed while the writer
//! commits. Opening applies the numbered migrations and sets, then reads back and
//! checks, every PRAGMA the store relies on: `journal_mode=WAL`, `synchronous`,
//! `busy_timeout` and `foreign_keys`.
//!
//! Durability. With [`Durability::Full`] (the default, `synchronous=FULL`) a write
//! whose future has resolved survives a process crash *and* a power loss or kernel
//! panic: the WAL is fsynced at every commit. [`Durability::Normal`]
//! (`synchronous=NORMAL`, `--durability=normal`) skips that fsync and syncs only at
//! checkpoints: a process crash (`kill -9`, a panic) still loses nothing, because
//! the WAL is in the operating system's page cache, but a power loss or OS crash can
//! lose the last commits — acknowledged webhooks and journaled steps included. The
//! database is never corrupted either way. Group commit already amortises the fsync
//! over a whole batch, so `Normal` is for machines whose disks make even that slow.
//!
//! Futures returned by [`SqliteStore`] must be polled inside a tokio runtime (reads
//! use `spawn_blocking`). A write is queued when its method is called, before the
//! future is first polled.

use super::migrate;
use super::writer::{self, Writer};

mod deliveries;
mod schedules;
mod waits;
use super::{
    BoxFuture, Delivery, DeliveryFilter, DeliveryPage, Deployed, Deployment, DeploymentId,
    DeploymentSummary, Error, IdGen, NewDelivery, NewRun, Page, RandomIds, Result, Run, RunDetail,
    RunFilter, RunOutcome, RunPage, RunStatus, SecretBlob, SecretName, Started, Step, StepOutcome,
    StepStatus, Store, StoredSecret, Write,
};
use crate::clock::{Clock, Millis, SystemClock};
use flowc_compiler::ir::Program;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// How hard a commit works to survive a power loss. See the module documentation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: every commit is fsynced.
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives process crashes, not power loss.
    Normal,
}

impl Durability {
    /// The value `PRAGMA synchronous` reads back as.
    pub fn synchronous(self) -> i64 {
        match self {
            Durability::Full => 2,
            Durability::Normal => 1,
        }
    }
}

/// How to open a [`SqliteStore`].
#[derive(Clone)]
pub struct Options {
    /// The database file; created (with its directory's `-wal` and `-shm`
    /// companions) when missing.
    pub path: PathBuf,
    pub durability: Durability,
    /// How long a connection waits for another process's lock before failing.
    pub busy_timeout: Duration,
    /// The most writes committed in one transaction.
    pub max_batch: usize,
    /// The most read-only connections, and reads at once: a read waits for an
    /// idle connection rather than opening one (opening reads the schema again).
    pub readers: usize,
    /// Where every timestamp comes from.
    pub clock: Arc<dyn Clock>,
    /// Where every id comes from.
    pub ids: Arc<dyn IdGen>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("path", &self.path)
            .field("durability", &self.durability)
            .field("busy_timeout", &self.busy_timeout)
            .field("max_batch", &self.max_batch)
            .field("readers", &self.readers)
            .finish_non_exhaustive()
    }
}

impl Options {
    /// Defaults: full durability, a 5 s busy timeout, batches of up to 1024 writes,
    /// 8 readers, the system clock and random ULIDs.
    pub fn new(path: impl Into<PathBuf>) -> Options {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        Options {
            path: path.into(),
            durability: Durability::Full,
            busy_timeout: Duration::from_secs(5),
            max_batch: 1024,
            readers: 8,
            ids: Arc::new(RandomIds::new(Arc::clone(&clock))),
            clock,
        }
    }

    /// Opens (creating and migrating when needed) the database and starts its
    /// writer thread.
    pub fn open(self) -> Result<SqliteStore> {
        SqliteStore::open(self)
    }
}

/// The PRAGMAs the store depends on, as a connection reads them back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pragmas {
    pub journal_mode: String,
    pub synchronous: i64,
    pub busy_timeout: i64,
    pub foreign_keys: bool,
    pub user_version: i64,
}

/// A handle to the SQLite store. Cheap to clone; the writer thread stops when the
/// last handle is dropped or [`SqliteStore::close`] is called.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.options.path)
            .finish_non_exhaustive()
    }
}

struct Inner {
    options: Options,
    writer: Writer,
    readers: Mutex<Vec<Connection>>,
    /// What committed writes woke (see `store::Wakes`).
    wakes: super::Wakes,
    /// One permit per reader connection: at most that many reads run at once, so
    /// every read finds an idle connection once they are all open.
    reading: Arc<Semaphore>,
    closed: AtomicBool,
}

impl SqliteStore {
    pub fn open(options: Options) -> Result<SqliteStore> {
        let mut conn = Connection::open(&options.path)?;
        configure_writer(&conn, &options)?;
        migrate::migrate(&mut conn)?;
        let writer = Writer::spawn(conn, options.max_batch)?;
        let reading = Arc::new(Semaphore::new(options.readers.max(1)));
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                options,
                writer,
                readers: Mutex::new(Vec::new()),
                reading,
                closed: AtomicBool::new(false),
                wakes: super::Wakes::default(),
            }),
        })
    }

    /// The schema version a fresh database is migrated to.
    pub fn schema_version() -> i64 {
        migrate::latest()
    }

    /// Transactions the writer has committed since open: fewer than the writes when
    /// group commit is batching. For tests and metrics.
    pub fn commits(&self) -> u64 {
        self.inner.writer.stats.commits.load(Ordering::Relaxed)
    }

    /// Writes the writer has executed since open.
    pub fn writes(&self) -> u64 {
        self.inner.writer.stats.jobs.load(Ordering::Relaxed)
    }

    /// The PRAGMAs as the writer connection reads them back.
    pub fn writer_pragmas(&self) -> BoxFuture<'static, Result<Pragmas>> {
        self.write(read_pragmas)
    }

    /// The PRAGMAs as a reader connection reads them back.
    pub fn reader_pragmas(&self) -> BoxFuture<'static, Result<Pragmas>> {
        self.read(read_pragmas)
    }

    /// `PRAGMA integrity_check`: `["ok"]` for a healthy database.
    pub fn integrity_check(&self) -> BoxFuture<'static, Result<Vec<String>>> {
        self.read(|conn| {
            let mut statement = conn.prepare("PRAGMA integrity_check")?;
            let rows = statement.query_map([], |row| row.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
    }

    /// Commits what is queued, stops the writer and closes every connection. Later
    /// calls on any handle fail with [`Error::Closed`].
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        let _ = self.inner.writer.close().await;
        if let Ok(mut readers) = self.inner.readers.lock() {
            readers.clear();
        }
    }

    fn write<T, F>(&self, work: F) -> BoxFuture<'static, Result<T>>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T> + Send + 'static,
    {
        let receiver = self.inner.writer.submit(work);
        Box::pin(writer::answer(receiver))
    }

    fn read<T, F>(&self, work: F) -> BoxFuture<'static, Result<T>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let permit = Arc::clone(&inner.reading)
                .acquire_owned()
                .await
                .map_err(|_| Error::Closed)?;
            let task = tokio::task::spawn_blocking(move || {
                let conn = inner.take_reader()?;
                let result = work(&conn);
                inner.give_back(conn);
                drop(permit);
                result
            });
            task.await
                .map_err(|error| Error::Database(format!("read task failed: {error}")))?
        })
    }

    fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.inner.options.clock)
    }

    fn wakes_queue(&self) -> &super::Wakes {
        &self.inner.wakes
    }

    /// Turns writes into entries on the caller's thread (see [`Entry`]).
    fn entries(&self, writes: Vec<Write>) -> Vec<Entry> {
        let ids = self.ids();
        writes
            .into_iter()
            .map(|write| Entry::of(write, ids.as_ref()))
            .collect()
    }

    fn ids(&self) -> Arc<dyn IdGen> {
        Arc::clone(&self.inner.options.ids)
    }

    #[cfg(test)]
    /// Blocks the writer inside a transaction until the returned sender is used or
    /// dropped, so a test can queue writes deterministically.
    fn hold_writer(&self) -> std::sync::mpsc::Sender<()> {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started, has_started) = std::sync::mpsc::channel::<()>();
        drop(self.write(move |_| {
            let _ = started.send(());
            let _ = held.recv();
            Ok(())
        }));
        // Once the job runs, its batch is closed: later writes queue behind it.
        let _ = has_started.recv();
        release
    }
}

impl Inner {
    fn take_reader(&self) -> Result<Connection> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        if let Some(conn) = self.readers.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.options.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(self.options.busy_timeout)?;
        keep_plans(&conn)?;
        conn.execute_batch("PRAGMA query_only = ON")?;
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(mut idle) = self.readers.lock()
            && idle.len() < self.options.readers.max(1)
        {
            idle.push(conn);
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(error: rusqlite::Error) -> Error {
        Error::Database(error.to_string())
    }
}

/// Prepared statements each connection keeps: every statement the store runs
/// fits, so none of the hot ones is ever parsed again (rusqlite's default is 16).
const STATEMENT_CACHE: usize = 64;

/// Makes a connection keep its prepared statements: a cache big enough for every
/// statement the store runs (rusqlite's default is 16), and SQLite's query planner
/// stability guarantee. Without the latter, a statement whose plan looked at a
/// bound value (the planner does when a table has partial indexes, as `runs`
/// has) is compiled again every time that parameter is bound to another value,
/// which is every time: a run id.
fn keep_plans(conn: &Connection) -> Result<()> {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

fn configure_writer(conn: &Connection, options: &Options) -> Result<()> {
    conn.busy_timeout(options.busy_timeout)?;
    keep_plans(conn)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    expect("journal_mode", mode.to_ascii_lowercase(), "wal".to_owned())?;
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {}; PRAGMA foreign_keys = ON;",
        options.durability.synchronous()
    ))?;
    let pragmas = read_pragmas(conn)?;
    expect(
        "synchronous",
        pragmas.synchronous,
        options.durability.synchronous(),
    )?;
    expect("foreign_keys", pragmas.foreign_keys, true)?;
    let timeout = i64::try_from(options.busy_timeout.as_millis()).unwrap_or(i64::MAX);
    expect("busy_timeout", pragmas.busy_timeout, timeout)?;
    Ok(())
}

fn expect<T: PartialEq + ToString>(pragma: &'static str, found: T, expected: T) -> Result<()> {
    if found == expected {
        Ok(())
    } else {
        Err(Error::Pragma {
            pragma,
            found: found.to_string(),
            expected: expected.to_string(),
        })
    }
}

fn read_pragmas(conn: &Connection) -> Result<Pragmas> {
    let one = |sql: &str| -> Result<i64> { Ok(conn.query_row(sql, [], |row| row.get(0))?) };
    Ok(Pragmas {
        journal_mode: conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?,
        synchronous: one("PRAGMA synchronous")?,
        busy_timeout: one("PRAGMA busy_timeout")?,
        foreign_keys: one("PRAGMA foreign_keys")? == 1,
        user_version: one("PRAGMA user_version")?,
    })
}

// ---------------------------------------------------------------- row helpers

fn to_json_text(value: &serde_json::Value) -> String {
    value.to_string()
}

fn json_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<serde_json::Value>> {
    let text: Option<String> = row.get(index)?;
    text.map(|text| {
        serde_json::from_str(&text).map_err(|error| {
            rusqlite::Error::FromSqlConversionFailure(
                index,
                rusqlite::types::Type::Text,
                Box::new(error),
            )
        })
    })
    .transpose()
}

fn conversion_error(index: usize, message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, message.into())
}

/// The columns `run_from_row` reads, in its order. A macro, not a `const`, so that
/// statements using it stay literals for `concat!` and the statement cache.
macro_rules! run_columns {
    () => {
        "id, deployment, workflow, status, trigger, input, output, error, idempotency_key, \
         created_at, updated_at, webhook, replay_of, retries, parent, paused"
    };
}

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<Run> {
    let status: String = row.get(3)?;
    Ok(Run {
        id: row.get(0)?,
        deployment: row.get(1)?,
        workflow: row.get(2)?,
        status: RunStatus::parse(&status)
            .ok_or_else(|| conversion_error(3, format!("unknown run status `{status}`")))?,
        trigger: row.get(4)?,
        input: json_column(row, 5)?.unwrap_or(serde_json::Value::Null),
        output: json_column(row, 6)?,
        error: json_column(row, 7)?,
        idempotency_key: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
        webhook: json_column(row, 11)?,
        replay_of: row.get(12)?,
        retries: row.get(13)?,
        parent: row.get(14)?,
        paused: row.get(15)?,
    })
}

fn step_from_row(row: &Row<'_>) -> rusqlite::Result<Step> {
    let status: String = row.get(2)?;
    Ok(Step {
        path: row.get(0)?,
        attempt: row.get(1)?,
        status: StepStatus::parse(&status)
            .ok_or_else(|| conversion_error(2, format!("unknown step status `{status}`")))?,
        input: json_column(row, 3)?,
        output: json_column(row, 4)?,
        error: json_column(row, 5)?,
        started_at: row.get(6)?,
        finished_at: row.get(7)?,
        generation: row.get(8)?,
    })
}

/// "The run has not ended", as an SQL condition (a macro for `concat!`). Written
/// as comparisons rather than `status IN (…)`: SQLite evaluates an `IN` list of
/// more than two constants through a temporary table opened for every execution,
/// and this condition is on every journal write. It is also, word for word, the
/// condition of the partial index `runs_unfinished` (migration 0003), so that
/// `runs_to_resume` uses that index.
macro_rules! unfinished {
    () => {
        "(status = 'pending' OR status = 'running' OR status = 'waiting')"
    };
}
pub(crate) use unfinished;

/// Runs a statement through the connection's cache of prepared statements: the
/// statements of the hot path (a run's start, each step's journal writes, its end)
/// are parsed once per connection, not once per call.
fn execute(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// A read transaction begun and ended through the statement cache, so that what
/// one read returns (a run and its steps) comes from one snapshot of the database.
struct Snapshot<'c>(&'c Connection);

impl<'c> Snapshot<'c> {
    fn begin(conn: &'c Connection) -> rusqlite::Result<Snapshot<'c>> {
        execute(conn, "BEGIN", [])?;
        Ok(Snapshot(conn))
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        // A reader goes back to the pool: it must not keep an old snapshot open.
        if execute(self.0, "COMMIT", []).is_err() && !self.0.is_autocommit() {
            let _ = self.0.execute_batch("ROLLBACK");
        }
    }
}

/// Reads one row through the statement cache (see [`execute`]).
fn query_row<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    read: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, read)
}

/// What `touch_run` runs before every step write.
const TOUCH_RUN: &str = concat!(
    "UPDATE runs SET updated_at = ?2 WHERE id = ?1 AND ",
    unfinished!()
);

/// Every unfinished run, oldest first, through the partial index.
const RESUME: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE ",
    unfinished!(),
    " ORDER BY created_at, id"
);

/// The unfinished runs a restart starts again: through the same partial index,
/// without reading the parked ones' rows.
const RESTART: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE ",
    unfinished!(),
    " AND status != 'waiting' AND paused = 0 ORDER BY created_at, id"
);

/// Sets a non-terminal run's `updated_at` (and maybe more), or explains why not.
fn touch_run(conn: &Connection, run: &str, now: Millis) -> Result<()> {
    let changed = execute(conn, TOUCH_RUN, params![run, now])?;
    if changed == 0 {
        return Err(not_open(conn, run)?);
    }
    Ok(())
}

/// The error for a run that is missing or already finished.
fn not_open(conn: &Connection, run: &str) -> Result<Error> {
    let status: Option<String> = query_row(
        conn,
        "SELECT status FROM runs WHERE id = ?1",
        [run],
        |row| row.get(0),
    )
    .optional()?;
    Ok(match status {
        None => Error::NotFound {
            kind: "run",
            id: run.to_owned(),
        },
        Some(status) => Error::Conflict(format!("run `{run}` has already {status}")),
    })
}

/// A [`Write`] with its JSON already turned into text. The conversion happens on
/// the caller's thread: the writer thread, which every write waits for, only
/// binds and steps, and the JSON trees (many small allocations) are freed where
/// they were made rather than across threads.
enum Entry {
    Status(RunStatus),
    Finish {
        status: RunStatus,
        output: Option<String>,
        error: Option<String>,
    },
    StepStarted {
        path: String,
        attempt: i64,
        input: Option<String>,
    },
    StepFinished {
        path: String,
        attempt: i64,
        status: StepStatus,
        output: Option<String>,
        error: Option<String>,
    },
    Record {
        path: String,
        output: String,
    },
    OpenWait(waits::OpenWait),
    Emit {
        id: String,
        path: String,
        topic: String,
        payload: String,
    },
    SetContext {
        workflow: String,
        key: String,
        value: Option<String>,
    },
}

impl Entry {
    fn of(write: Write, ids: &dyn IdGen) -> Entry {
        match write {
            Write::Status(status) => Entry::Status(status),
            Write::Finish(outcome) => {
                let (status, output, error) = match outcome {
                    RunOutcome::Succeeded(output) => (RunStatus::Succeeded, Some(output), None),
                    RunOutcome::Failed(error) => (RunStatus::Failed, None, Some(error)),
                    RunOutcome::Cancelled => (RunStatus::Cancelled, None, None),
                    // Not an end: refused by `apply` as the status it names.
                    RunOutcome::Waiting => (RunStatus::Waiting, None, None),
                };
                Entry::Finish {
                    status,
                    output: output.as_ref().map(to_json_text),
                    error: error.as_ref().map(to_json_text),
                }
            }
            Write::StepStarted {
                path,
                attempt,
                input,
            } => Entry::StepStarted {
                path,
                attempt,
                input: input.as_ref().map(to_json_text),
            },
            Write::StepFinished {
                path,
                attempt,
                outcome,
            } => {
                let (status, output, error) = match outcome {
                    StepOutcome::Succeeded(output) => (StepStatus::Succeeded, Some(output), None),
                    StepOutcome::Failed(error) => (StepStatus::Failed, None, Some(error)),
                };
                Entry::StepFinished {
                    path,
                    attempt,
                    status,
                    output: output.as_ref().map(to_json_text),
                    error: error.as_ref().map(to_json_text),
                }
            }
            Write::Record { path, output } => Entry::Record {
                path,
                output: to_json_text(&output),
            },
            Write::OpenWait(wait) => Entry::OpenWait(waits::OpenWait::of(wait)),
            Write::Emit {
                path,
                topic,
                payload,
            } => Entry::Emit {
                id: ids.new_id(),
                path,
                topic,
                payload: to_json_text(&payload),
            },
            Write::SetContext {
                workflow,
                key,
                value,
            } => Entry::SetContext {
                workflow,
                key,
                value: value.as_ref().map(to_json_text),
            },
        }
    }
}

/// One journal write of run `run`, inside the writer's transaction. Every write
/// first checks that the run has not ended: that is how a run cancelled meanwhile
/// stops its engine.
fn apply(
    conn: &Connection,
    run: &str,
    entry: &Entry,
    now: Millis,
    wakes: &mut Vec<super::Wake>,
) -> Result<()> {
    match entry {
        Entry::Status(status) => {
            let changed = execute(
                conn,
                concat!(
                    "UPDATE runs SET status = ?2, updated_at = ?3 WHERE id = ?1 AND ",
                    unfinished!()
                ),
                params![run, status.as_str(), now],
            )?;
            if changed == 0 {
                return Err(not_open(conn, run)?);
            }
        }
        Entry::Finish {
            status,
            output,
            error,
        } => {
            let changed = execute(
                conn,
                concat!(
                    "UPDATE runs SET status = ?2, output = ?3, error = ?4, updated_at = ?5
                     WHERE id = ?1 AND ",
                    unfinished!()
                ),
                params![run, status.as_str(), output, error, now],
            )?;
            if changed == 0 {
                return Err(not_open(conn, run)?);
            }
            waits::ended(conn, run, status.as_str(), now, wakes)?;
        }
        Entry::StepStarted {
            path,
            attempt,
            input,
        } => {
            touch_run(conn, run, now)?;
            let inserted = execute(
                conn,
                "INSERT INTO steps (run, path, attempt, status, input, started_at, generation)
                 VALUES (?1, ?2, ?3, 'started', ?4, ?5,
                         (SELECT retries FROM runs WHERE id = ?1))
                 ON CONFLICT (run, path, attempt) DO NOTHING",
                params![run, path, attempt, input, now],
            )?;
            if inserted == 0 {
                return Err(Error::Conflict(format!(
                    "step `{path}` attempt {attempt} of run `{run}` was already journaled"
                )));
            }
        }
        Entry::StepFinished {
            path,
            attempt,
            status,
            output,
            error,
        } => {
            touch_run(conn, run, now)?;
            let changed = execute(
                conn,
                "UPDATE steps SET status = ?4, output = ?5, error = ?6, finished_at = ?7
                 WHERE run = ?1 AND path = ?2 AND attempt = ?3 AND status = 'started'",
                params![run, path, attempt, status.as_str(), output, error, now],
            )?;
            if changed == 0 {
                let exists = query_row(
                    conn,
                    "SELECT 1 FROM steps WHERE run = ?1 AND path = ?2 AND attempt = ?3",
                    params![run, path, attempt],
                    |_| Ok(()),
                )
                .optional()?;
                return Err(match exists {
                    None => Error::NotFound {
                        kind: "step",
                        id: format!("{run}/{path}#{attempt}"),
                    },
                    Some(()) => Error::Conflict(format!(
                        "step `{path}` attempt {attempt} of run `{run}` has already finished"
                    )),
                });
            }
        }
        Entry::Record { path, output } => {
            touch_run(conn, run, now)?;
            let inserted = execute(
                conn,
                "INSERT INTO steps (run, path, attempt, status, output, started_at, finished_at)
                 VALUES (?1, ?2, 1, 'succeeded', ?3, ?4, ?4)
                 ON CONFLICT (run, path, attempt) DO NOTHING",
                params![run, path, output, now],
            )?;
            if inserted == 0 {
                return Err(Error::Conflict(format!(
                    "step `{path}` of run `{run}` was already journaled"
                )));
            }
        }
        Entry::OpenWait(wait) => {
            touch_run(conn, run, now)?;
            waits::open(conn, run, wait, now, wakes)?;
        }
        Entry::Emit {
            id,
            path,
            topic,
            payload,
        } => {
            touch_run(conn, run, now)?;
            if waits::insert_event(conn, id, topic, payload, Some((run, path)), now)? {
                wakes.push(super::Wake::Events);
            }
        }
        Entry::SetContext {
            workflow,
            key,
            value,
        } => {
            touch_run(conn, run, now)?;
            waits::set_context(conn, workflow, key, value.as_deref(), now)?;
        }
    }
    Ok(())
}

fn workflows_of(conn: &Connection, deployment: &str) -> Result<Vec<String>> {
    let mut statement = conn.prepare_cached(
        "SELECT workflow FROM deployment_workflows WHERE deployment = ?1 ORDER BY workflow",
    )?;
    let rows = statement.query_map([deployment], |row| row.get(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
}

fn load_deployment(conn: &Connection, id: &str) -> Result<Option<Deployment>> {
    let row = query_row(
        conn,
        "SELECT id, hash, version, active, created_at, ir FROM deployments WHERE id = ?1",
        [id],
        |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, bool>(3)?,
                row.get::<_, Millis>(4)?,
                row.get::<_, Vec<u8>>(5)?,
            ))
        },
    )
    .optional()?;
    let Some((id, hash, version, active, created_at, ir)) = row else {
        return Ok(None);
    };
    let program = Program::from_binary(&ir).map_err(|error| Error::Corrupt {
        what: "IR",
        message: error.to_string(),
    })?;
    Ok(Some(Deployment {
        workflows: workflows_of(conn, &id)?,
        id,
        hash,
        version,
        active,
        created_at,
        program: Arc::new(program),
    }))
}

/// A run for `start_run` to store, prepared on the caller's thread rather than
/// on the writer thread, which every write waits for (see `Entry`): its JSON as
/// text (the trees are dropped here, not on the writer's thread) and its ids (the
/// run id goes unused when the key finds a run). `fire_schedule` inserts one too,
/// inside the job that records the fire.
struct PendingRun {
    run_id: String,
    delivery_id: Option<String>,
    input: String,
    webhook: Option<String>,
    deployment: DeploymentId,
    workflow: String,
    idempotency_key: Option<String>,
    trigger: String,
    delivery: Option<Delivery>,
    replay_of: Option<String>,
}

impl PendingRun {
    fn new(run: NewRun, ids: &dyn IdGen) -> PendingRun {
        PendingRun {
            run_id: ids.new_id(),
            delivery_id: run.delivery.as_ref().map(|_| ids.new_id()),
            input: to_json_text(&run.input),
            webhook: run.webhook.as_ref().map(to_json_text),
            deployment: run.deployment,
            workflow: run.workflow,
            idempotency_key: run.idempotency_key,
            trigger: run.trigger,
            delivery: run.delivery,
            replay_of: run.replay_of,
        }
    }

    /// Stores the run as pending, or finds the run its provider delivery id or
    /// idempotency key already started, and records its delivery; inside the
    /// writer's transaction, at `now`.
    fn insert(&self, conn: &Connection, now: Millis) -> Result<Started> {
        let PendingRun {
            run_id,
            delivery_id,
            input,
            webhook,
            deployment,
            workflow,
            idempotency_key,
            trigger,
            delivery,
            replay_of,
        } = self;
        let defined = query_row(
            conn,
            "SELECT 1 FROM deployment_workflows WHERE deployment = ?1 AND workflow = ?2",
            params![deployment, workflow],
            |_| Ok(()),
        )
        .optional()?;
        if defined.is_none() {
            return Err(Error::NotFound {
                kind: "workflow",
                id: format!("{} (deployment {})", workflow, deployment),
            });
        }
        // A provider's redelivery first, then the idempotency key.
        let redelivered = match delivery.as_ref().and_then(|d| d.delivery_id.as_deref()) {
            Some(provider_id) => deliveries::run_of_delivery(conn, workflow, provider_id)?,
            None => None,
        };
        let existing: Option<String> = match &idempotency_key {
            _ if redelivered.is_some() => redelivered,
            Some(key) => query_row(
                conn,
                "SELECT id FROM runs WHERE workflow = ?1 AND idempotency_key = ?2",
                params![workflow, key],
                |row| row.get(0),
            )
            .optional()?,
            None => None,
        };
        let started = match existing {
            Some(id) => Started {
                run: id,
                created: false,
                delivery: delivery_id.clone(),
            },
            None => {
                let id = run_id.clone();
                execute(
                    conn,
                    "INSERT INTO runs (id, deployment, workflow, status, trigger, input,
                                       idempotency_key, created_at, updated_at, webhook,
                                       replay_of)
                     VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?7, ?8, ?9)",
                    params![
                        id,
                        deployment,
                        workflow,
                        trigger,
                        input,
                        idempotency_key,
                        now,
                        webhook,
                        replay_of
                    ],
                )?;
                Started {
                    run: id,
                    created: true,
                    delivery: delivery_id.clone(),
                }
            }
        };
        if let (Some(delivery), Some(id)) = (&delivery, &delivery_id) {
            deliveries::insert_accepted(
                conn,
                &deliveries::Accepted {
                    id,
                    now,
                    method: &delivery.method,
                    path: &delivery.path,
                    workflow,
                    status: delivery.status,
                    delivery_id: delivery.delivery_id.as_deref(),
                    idempotency_key: idempotency_key.as_deref(),
                    run: &started.run,
                    created: started.created,
                },
            )?;
        }
        Ok(started)
    }
}

impl Store for SqliteStore {
    fn deploy(&self, program: &Program) -> BoxFuture<'_, Result<Deployed>> {
        let hash = program.hash();
        let ir = program.to_binary();
        let ir_version = program.ir_version;
        let workflows: Vec<String> = program
            .workflows
            .iter()
            .map(|workflow| workflow.name.clone())
            .collect();
        let (clock, ids) = (self.clock(), self.ids());
        if ir.is_empty() {
            return Box::pin(async {
                Err(Error::Corrupt {
                    what: "IR",
                    message: "the program could not be encoded".into(),
                })
            });
        }
        self.write(move |conn| {
            let existing = query_row(
                conn,
                "SELECT id, version FROM deployments WHERE hash = ?1",
                [&hash],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
            if let Some((id, version)) = existing {
                return Ok(Deployed {
                    id,
                    version,
                    created: false,
                });
            }
            let version: i64 = query_row(
                conn,
                "SELECT COALESCE(MAX(version), 0) + 1 FROM deployments",
                [],
                |row| row.get(0),
            )?;
            let id = ids.new_id();
            execute(
                conn,
                "INSERT INTO deployments (id, hash, ir_version, ir, version, active, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
                params![id, hash, ir_version, ir, version, clock.now_ms()],
            )?;
            let mut insert = conn.prepare_cached(
                "INSERT OR IGNORE INTO deployment_workflows (deployment, workflow) VALUES (?1, ?2)",
            )?;
            for workflow in &workflows {
                insert.execute(params![id, workflow])?;
            }
            Ok(Deployed {
                id,
                version,
                created: true,
            })
        })
    }

    fn activate(&self, deployment: &str) -> BoxFuture<'_, Result<Vec<DeploymentId>>> {
        let deployment = deployment.to_owned();
        self.write(move |conn| {
            let changed = execute(
                conn,
                "UPDATE deployments SET active = 1 WHERE id = ?1",
                [&deployment],
            )?;
            if changed == 0 {
                return Err(Error::NotFound {
                    kind: "deployment",
                    id: deployment.clone(),
                });
            }
            let mut statement = conn.prepare(
                "UPDATE deployments SET active = 0
                 WHERE active = 1 AND id != ?1 AND id IN (
                     SELECT other.deployment
                     FROM deployment_workflows AS other
                     JOIN deployment_workflows AS mine ON mine.workflow = other.workflow
                     WHERE mine.deployment = ?1)
                 RETURNING id",
            )?;
            let rows = statement.query_map([&deployment], |row| row.get(0))?;
            let mut replaced = rows.collect::<rusqlite::Result<Vec<String>>>()?;
            replaced.sort();
            Ok(replaced)
        })
    }

    fn deactivate(&self, deployment: &str) -> BoxFuture<'_, Result<()>> {
        let deployment = deployment.to_owned();
        self.write(move |conn| {
            let changed = execute(
                conn,
                "UPDATE deployments SET active = 0 WHERE id = ?1",
                [&deployment],
            )?;
            if changed == 0 {
                return Err(Error::NotFound {
                    kind: "deployment",
                    id: deployment.clone(),
                });
            }
            Ok(())
        })
    }

    fn get_deployment(&self, deployment: &str) -> BoxFuture<'_, Result<Option<Deployment>>> {
        let deployment = deployment.to_owned();
        self.read(move |conn| load_deployment(conn, &deployment))
    }

    fn list_deployments(&self) -> BoxFuture<'_, Result<Vec<DeploymentSummary>>> {
        self.read(|conn| {
            let transaction = conn.unchecked_transaction()?;
            let mut statement = transaction.prepare(
                "SELECT id, hash, version, active, created_at FROM deployments
                 ORDER BY version DESC",
            )?;
            let rows = statement.query_map([], |row| {
                Ok(DeploymentSummary {
                    id: row.get(0)?,
                    hash: row.get(1)?,
                    version: row.get(2)?,
                    active: row.get(3)?,
                    created_at: row.get(4)?,
                    workflows: Vec::new(),
                })
            })?;
            let mut summaries = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            for summary in &mut summaries {
                summary.workflows = workflows_of(&transaction, &summary.id)?;
            }
            Ok(summaries)
        })
    }

    fn active_deployments(&self) -> BoxFuture<'_, Result<Vec<Deployment>>> {
        self.read(|conn| {
            let transaction = conn.unchecked_transaction()?;
            let ids = {
                let mut statement = transaction
                    .prepare("SELECT id FROM deployments WHERE active = 1 ORDER BY version")?;
                let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            let mut deployments = Vec::with_capacity(ids.len());
            for id in ids {
                deployments.extend(load_deployment(&transaction, &id)?);
            }
            Ok(deployments)
        })
    }

    fn start_run(&self, run: NewRun) -> BoxFuture<'_, Result<Started>> {
        let clock = self.clock();
        let pending = PendingRun::new(run, &*self.ids());
        self.write(move |conn| pending.insert(conn, clock.now_ms()))
    }

    fn set_run_status(&self, run: &str, status: RunStatus) -> BoxFuture<'_, Result<()>> {
        self.journal(run, vec![Write::Status(status)])
    }

    fn finish_run(&self, run: &str, outcome: RunOutcome) -> BoxFuture<'_, Result<()>> {
        self.journal(run, vec![Write::Finish(outcome)])
    }

    fn retry_run(&self, run: &str) -> BoxFuture<'_, Result<()>> {
        let run = run.to_owned();
        let clock = self.clock();
        self.write_waking(move |conn, wakes| {
            let now = clock.now_ms();
            let changed = execute(
                conn,
                "UPDATE runs SET status = 'pending', error = NULL, output = NULL,
                     retries = retries + 1, updated_at = ?2
                 WHERE id = ?1 AND status = 'failed'",
                params![run, now],
            )?;
            if changed > 0 && waits::reopen(conn, &run, now)? {
                wakes.push(super::Wake::Timer);
            }
            if changed == 0 {
                let status: Option<String> = query_row(
                    conn,
                    "SELECT status FROM runs WHERE id = ?1",
                    [&run],
                    |row| row.get(0),
                )
                .optional()?;
                return Err(match status {
                    None => Error::NotFound {
                        kind: "run",
                        id: run.clone(),
                    },
                    Some(status) => Error::Conflict(format!("run `{run}` is {status}, not failed")),
                });
            }
            Ok(())
        })
    }

    fn get_run(&self, run: &str) -> BoxFuture<'_, Result<Option<RunDetail>>> {
        let run = run.to_owned();
        self.read(move |conn| {
            let snapshot = Snapshot::begin(conn)?;
            let found = query_row(
                snapshot.0,
                concat!("SELECT ", run_columns!(), " FROM runs WHERE id = ?1"),
                [&run],
                run_from_row,
            )
            .optional()?;
            let Some(found) = found else {
                return Ok(None);
            };
            let mut statement = snapshot.0.prepare_cached(
                "SELECT path, attempt, status, input, output, error, started_at, finished_at,
                        generation
                 FROM steps WHERE run = ?1 ORDER BY started_at, path, attempt",
            )?;
            let steps = statement
                .query_map([&run], step_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let waits = SqliteStore::waits_of(snapshot.0, &run)?;
            Ok(Some(RunDetail {
                run: found,
                steps,
                waits,
            }))
        })
    }

    fn list_runs(&self, filter: RunFilter, page: Page) -> BoxFuture<'_, Result<RunPage>> {
        self.read(move |conn| {
            let mut clauses: Vec<&str> = Vec::new();
            let mut values: Vec<rusqlite::types::Value> = Vec::new();
            if let Some(workflow) = filter.workflow {
                clauses.push("workflow = ?");
                values.push(workflow.into());
            }
            if let Some(status) = filter.status {
                clauses.push("status = ?");
                values.push(status.as_str().to_owned().into());
            }
            if let Some(deployment) = filter.deployment {
                clauses.push("deployment = ?");
                values.push(deployment.into());
            }
            if let Some(after) = page.after {
                clauses.push("(created_at, id) < (SELECT created_at, id FROM runs WHERE id = ?)");
                values.push(after.into());
            }
            let limit = page.limit.clamp(1, 1000);
            values.push(i64::from(limit + 1).into());
            let filter = if clauses.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", clauses.join(" AND "))
            };
            let mut statement = conn.prepare(&format!(
                "SELECT {} FROM runs {filter} ORDER BY created_at DESC, id DESC LIMIT ?",
                run_columns!()
            ))?;
            let mut runs = statement
                .query_map(rusqlite::params_from_iter(values), run_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let more = runs.len() > limit as usize;
            runs.truncate(limit as usize);
            let next = if more {
                runs.last().map(|run| run.id.clone())
            } else {
                None
            };
            Ok(RunPage { runs, next })
        })
    }

    fn runs_to_restart(&self) -> BoxFuture<'_, Result<Vec<Run>>> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(RESTART)?;
            Ok(statement
                .query_map([], run_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn runs_to_resume(&self) -> BoxFuture<'_, Result<Vec<Run>>> {
        self.read(|conn| {
            let mut statement = conn.prepare(RESUME)?;
            Ok(statement
                .query_map([], run_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn step_started(
        &self,
        run: &str,
        path: &str,
        attempt: i64,
        input: Option<serde_json::Value>,
    ) -> BoxFuture<'_, Result<()>> {
        let path = path.to_owned();
        self.journal(
            run,
            vec![Write::StepStarted {
                path,
                attempt,
                input,
            }],
        )
    }

    fn step_finished(
        &self,
        run: &str,
        path: &str,
        attempt: i64,
        outcome: StepOutcome,
    ) -> BoxFuture<'_, Result<()>> {
        let path = path.to_owned();
        self.journal(
            run,
            vec![Write::StepFinished {
                path,
                attempt,
                outcome,
            }],
        )
    }

    fn record_step(
        &self,
        run: &str,
        path: &str,
        output: serde_json::Value,
    ) -> BoxFuture<'_, Result<()>> {
        let path = path.to_owned();
        self.journal(run, vec![Write::Record { path, output }])
    }

    /// One job for the writer thread, so the writes commit together (or, should one
    /// fail, are rolled back together by the job's savepoint).
    fn journal(&self, run: &str, writes: Vec<Write>) -> BoxFuture<'_, Result<()>> {
        let terminal = writes.iter().find_map(|write| match write {
            Write::Status(status) if status.is_terminal() => Some(*status),
            Write::Finish(RunOutcome::Waiting) => Some(RunStatus::Waiting),
            _ => None,
        });
        if let Some(status) = terminal {
            return Box::pin(async move {
                Err(Error::Conflict(format!(
                    "`{}` ends a run: use finish_run",
                    status.as_str()
                )))
            });
        }
        let run = run.to_owned();
        let clock = self.clock();
        let entries = self.entries(writes);
        self.write_waking(move |conn, wakes| {
            let now = clock.now_ms();
            for entry in &entries {
                apply(conn, &run, entry, now, wakes)?;
            }
            Ok(())
        })
    }

    fn wakes(&self) -> &super::Wakes {
        self.wakes_queue()
    }

    fn park(
        &self,
        run: &str,
        writes: Vec<Write>,
        awaiting: Vec<String>,
    ) -> BoxFuture<'_, Result<bool>> {
        let entries = self.entries(writes);
        self.park_run(run, entries, awaiting)
    }

    fn resolve_wait(
        &self,
        run: &str,
        path: &str,
        result: serde_json::Value,
    ) -> BoxFuture<'_, Result<super::Resolution>> {
        self.resolve_wait_at(run, path, result)
    }

    fn wait_by_token(&self, token: &str) -> BoxFuture<'_, Result<Option<super::Wait>>> {
        self.wait_with_token(token)
    }

    fn open_waits(
        &self,
        kind: super::WaitKind,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<super::Wait>>> {
        self.waits_open(kind, limit)
    }

    fn next_deadline(&self) -> BoxFuture<'_, Result<Option<Millis>>> {
        self.first_deadline()
    }

    fn fire_due(&self, now: Millis, limit: u32) -> BoxFuture<'_, Result<usize>> {
        self.fire_due_waits(now, limit)
    }

    fn store_event(
        &self,
        topic: &str,
        payload: serde_json::Value,
    ) -> BoxFuture<'_, Result<super::StoredEvent>> {
        self.insert_outside_event(topic, payload)
    }

    fn undelivered_events_after(
        &self,
        after: i64,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<super::StoredEvent>>> {
        self.events_undelivered_after(after, limit)
    }

    fn undelivered_events(&self, limit: u32) -> BoxFuture<'_, Result<Vec<super::StoredEvent>>> {
        self.events_undelivered(limit)
    }

    fn mark_delivered(&self, seqs: Vec<i64>) -> BoxFuture<'_, Result<()>> {
        self.event_delivered(seqs)
    }

    fn key_paths(&self, topic: &str) -> BoxFuture<'_, Result<Vec<String>>> {
        self.topic_key_paths(topic)
    }

    fn matching_waits(
        &self,
        topic: &str,
        keys: Vec<String>,
        at: Millis,
    ) -> BoxFuture<'_, Result<Vec<super::Wait>>> {
        let found = self.waits_matching(vec![(topic.to_owned(), keys, at)]);
        Box::pin(async move { Ok(found.await?.into_iter().next().unwrap_or_default()) })
    }

    fn matching_waits_many(
        &self,
        lookups: Vec<(String, Vec<String>, Millis)>,
    ) -> BoxFuture<'_, Result<Vec<Vec<super::Wait>>>> {
        self.waits_matching(lookups)
    }

    fn recent_events(
        &self,
        topic: &str,
        since: Millis,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<super::StoredEvent>>> {
        self.events_since(topic, since, limit)
    }

    fn get_context(
        &self,
        workflow: &str,
    ) -> BoxFuture<'_, Result<std::collections::BTreeMap<String, serde_json::Value>>> {
        self.context_of(workflow)
    }

    fn patch_context(
        &self,
        workflow: &str,
        entries: Vec<(String, Option<serde_json::Value>)>,
    ) -> BoxFuture<'_, Result<()>> {
        self.context_patch(workflow, entries)
    }

    fn set_paused(&self, run: &str, paused: bool) -> BoxFuture<'_, Result<()>> {
        self.pause(run, paused)
    }

    fn record_delivery(&self, delivery: NewDelivery) -> BoxFuture<'_, Result<String>> {
        self.insert_delivery(delivery)
    }

    fn set_delivery_status(&self, delivery: &str, status: u16) -> BoxFuture<'_, Result<()>> {
        self.update_delivery_status(delivery, status)
    }

    fn list_deliveries(
        &self,
        filter: DeliveryFilter,
        page: Page,
    ) -> BoxFuture<'_, Result<DeliveryPage>> {
        self.select_deliveries(filter, page)
    }

    fn prune_deliveries(&self, before: Millis) -> BoxFuture<'_, Result<u64>> {
        self.delete_deliveries(before)
    }

    fn put_secret(&self, name: &str, blob: SecretBlob) -> BoxFuture<'_, Result<()>> {
        let name = name.to_owned();
        let clock = self.clock();
        self.write(move |conn| {
            execute(
                conn,
                "INSERT INTO secrets (name, ciphertext, nonce, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET ciphertext = excluded.ciphertext,
                     nonce = excluded.nonce, updated_at = excluded.updated_at",
                params![name, blob.ciphertext, blob.nonce, clock.now_ms()],
            )?;
            Ok(())
        })
    }

    fn get_secret(&self, name: &str) -> BoxFuture<'_, Result<Option<StoredSecret>>> {
        let name = name.to_owned();
        self.read(move |conn| {
            Ok(query_row(
                conn,
                "SELECT name, ciphertext, nonce, updated_at FROM secrets WHERE name = ?1",
                [&name],
                |row| {
                    Ok(StoredSecret {
                        name: row.get(0)?,
                        blob: SecretBlob {
                            ciphertext: row.get(1)?,
                            nonce: row.get(2)?,
                        },
                        updated_at: row.get(3)?,
                    })
                },
            )
            .optional()?)
        })
    }

    fn list_secrets(&self) -> BoxFuture<'_, Result<Vec<SecretName>>> {
        self.read(|conn| {
            let mut statement =
                conn.prepare("SELECT name, updated_at FROM secrets ORDER BY name")?;
            Ok(statement
                .query_map([], |row| {
                    Ok(SecretName {
                        name: row.get(0)?,
                        updated_at: row.get(1)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn delete_secret(&self, name: &str) -> BoxFuture<'_, Result<bool>> {
        let name = name.to_owned();
        self.write(move |conn| {
            Ok(execute(conn, "DELETE FROM secrets WHERE name = ?1", [&name])? > 0)
        })
    }

    fn fire_schedule(
        &self,
        new: NewRun,
        fire_at: Millis,
    ) -> BoxFuture<'_, Result<Option<Started>>> {
        self.insert_fire(new, fire_at)
    }

    fn last_fire(&self, workflow: &str) -> BoxFuture<'_, Result<Option<Millis>>> {
        self.select_last_fire(workflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TestClock;
    use crate::store::SequentialIds;

    /// The opcodes of `sql` compiled against a freshly migrated database.
    fn opcodes(sql: &str) -> Vec<String> {
        let mut conn = Connection::open_in_memory().expect("open");
        migrate::migrate(&mut conn).expect("migrate");
        let mut explain = conn.prepare(&format!("EXPLAIN {sql}")).expect("explain");
        let count = explain.parameter_count();
        explain
            .query_map(
                rusqlite::params_from_iter(std::iter::repeat_n(rusqlite::types::Null, count)),
                |row| row.get(1),
            )
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    }

    #[test]
    fn the_unfinished_condition_needs_no_temporary_table() {
        // `status IN ('pending', 'running', 'waiting')` compiled to an
        // `OpenEphemeral` that every journal write paid for.
        let touch = opcodes(TOUCH_RUN);
        assert!(
            !touch.iter().any(|opcode| opcode == "OpenEphemeral"),
            "{touch:?}"
        );
    }

    #[test]
    fn resuming_reads_the_index_of_unfinished_runs() {
        let mut conn = Connection::open_in_memory().expect("open");
        migrate::migrate(&mut conn).expect("migrate");
        let mut explain = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {RESUME}"))
            .expect("explain");
        let plan: Vec<String> = explain
            .query_map([], |row| row.get(3))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert!(
            plan.iter()
                .any(|step| step.contains("USING INDEX runs_unfinished")),
            "{plan:?}"
        );
    }

    #[tokio::test]
    async fn group_commit_puts_every_queued_write_in_one_transaction() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut options = Options::new(dir.path().join("flowc.db"));
        options.clock = Arc::new(TestClock::new(1_000));
        options.ids = Arc::new(SequentialIds::new());
        let store = options.open().expect("open");
        let (commits, writes) = (store.commits(), store.writes());

        // The writer sits inside a transaction until released; meanwhile 100 writes
        // queue up behind it.
        let release = store.hold_writer();
        let pending: Vec<_> = (0..100)
            .map(|index| {
                store.put_secret(
                    &format!("secret_{index:03}"),
                    SecretBlob {
                        ciphertext: vec![1, 2, 3],
                        nonce: vec![4],
                    },
                )
            })
            .collect();
        drop(release);
        for write in pending {
            write.await.expect("write");
        }

        // One commit for the batch that held the writer, one for the 100 behind it.
        assert_eq!(store.commits() - commits, 2);
        assert_eq!(store.writes() - writes, 101);
        assert_eq!(store.list_secrets().await.expect("list").len(), 100);
    }

    #[tokio::test]
    async fn a_batch_with_a_failing_write_runs_the_others_once_more_and_keeps_them_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Options::new(dir.path().join("flowc.db"))
            .open()
            .expect("open");
        let insert = |name: &'static str| {
            move |conn: &Connection| -> Result<i64> {
                // A plain INSERT: run twice in one transaction, it would conflict.
                let inserted = conn.execute(
                    "INSERT INTO secrets (name, ciphertext, nonce, updated_at)
                     VALUES (?1, x'00', x'00', 0)",
                    [name],
                )?;
                let count: i64 =
                    conn.query_row("SELECT COUNT(*) FROM secrets", [], |row| row.get(0))?;
                Ok(i64::try_from(inserted).unwrap_or(0) * 100 + count)
            }
        };
        let release = store.hold_writer();
        let before = store.write(insert("before"));
        let failing = store
            .write(|_: &Connection| -> Result<()> { Err(Error::Conflict("on purpose".into())) });
        let after = store.write(insert("after"));
        drop(release);
        // Each answer is the one of the run that committed: one row, then two.
        assert_eq!(before.await.expect("before"), 101);
        assert!(matches!(failing.await, Err(Error::Conflict(_))));
        assert_eq!(after.await.expect("after"), 102);
        assert_eq!(store.list_secrets().await.expect("list").len(), 2);
    }

    #[tokio::test]
    async fn a_failing_write_is_rolled_back_alone_and_its_batch_commits() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Options::new(dir.path().join("flowc.db"))
            .open()
            .expect("open");
        let release = store.hold_writer();
        let good = store.put_secret(
            "kept",
            SecretBlob {
                ciphertext: vec![1],
                nonce: vec![2],
            },
        );
        // Writes a row, then fails: the row must not survive.
        let bad = store.write(|conn| -> Result<()> {
            conn.execute(
                "INSERT INTO secrets (name, ciphertext, nonce, updated_at) VALUES ('lost', x'00', x'00', 0)",
                [],
            )?;
            Err(Error::Conflict("on purpose".into()))
        });
        drop(release);
        assert!(matches!(bad.await, Err(Error::Conflict(_))));
        good.await.expect("good write");
        let names: Vec<String> = store
            .list_secrets()
            .await
            .expect("list")
            .into_iter()
            .map(|secret| secret.name)
            .collect();
        assert_eq!(names, ["kept"]);
    }
}
