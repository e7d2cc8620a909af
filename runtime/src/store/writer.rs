//! The one thread that writes to SQLite, committing queued writes in groups.
//!
//! SQLite allows one writer at a time, and with `synchronous=FULL` every commit
//! costs an fsync. So every write goes through a channel to this thread, which
//! takes the first job, drains whatever else is queued (up to a batch limit), runs
//! them all in one `BEGIN IMMEDIATE … COMMIT`, and only then answers each caller:
//! durability costs one fsync per batch, not per write, and callers hear "done" only
//! once their write is on disk (the shape of effectum's `db_writer.rs`). A job
//! that fails (a constraint, a conflict) must be rolled back alone, its caller
//! getting its error while the rest commit. Jobs almost never fail, so a batch
//! first runs them all in one plain transaction; only if one fails is that
//! transaction rolled back and the batch run again with a `SAVEPOINT` around each
//! job. A job is therefore a function that can run twice (`Fn`); its result is
//! the one of the run that commits.

use super::{Error, Result};
use rusqlite::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use tokio::sync::oneshot;

/// A write, type-erased for the queue.
pub(crate) trait Job: Send {
    /// Runs the write inside the batch's transaction and keeps its result
    /// (replacing that of an earlier run); false when it failed (and its writes
    /// must be rolled back).
    fn execute(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: its own result if the batch committed, else the
    /// commit's error.
    fn answer(self: Box<Self>, committed: std::result::Result<(), &Error>);
}

/// A write returning `T`, answered through a oneshot channel.
struct Typed<T, F> {
    work: F,
    result: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Job for Typed<T, F>
where
    T: Send,
    F: Fn(&Connection) -> Result<T> + Send,
{
    fn execute(&mut self, conn: &Connection) -> bool {
        let result = (self.work)(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, committed: std::result::Result<(), &Error>) {
        let result = match committed {
            Ok(()) => self.result.unwrap_or(Err(Error::Closed)),
            Err(error) => Err(Error::Database(format!("commit failed: {error}"))),
        };
        // The caller may have stopped waiting; its write is committed regardless.
        let _ = self.reply.send(result);
    }
}

/// Counters a test (or a metrics endpoint) can read.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Transactions committed (or attempted) by the writer.
    pub(crate) commits: AtomicU64,
    /// Jobs executed.
    pub(crate) jobs: AtomicU64,
}

pub(crate) enum Message {
    Job(Box<dyn Job>),
    /// Finish what is queued before this, then stop and close the connection.
    Close(oneshot::Sender<()>),
}

/// The sending side, shared by every handle of the store.
pub(crate) struct Writer {
    sender: mpsc::Sender<Message>,
    pub(crate) stats: Arc<Stats>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub(crate) fn spawn(conn: Connection, max_batch: usize) -> Result<Writer> {
        let (sender, receiver) = mpsc::channel();
        let stats = Arc::new(Stats::default());
        let thread_stats = Arc::clone(&stats);
        std::thread::Builder::new()
            .name("flowc-store-writer".into())
            .spawn(move || run(conn, &receiver, max_batch.max(1), &thread_stats))
            .map_err(|error| Error::Database(format!("cannot start the writer thread: {error}")))?;
        Ok(Writer { sender, stats })
    }

    /// Queues `work`; the receiver resolves once its batch has committed. The job is
    /// queued now, not when the receiver is first polled.
    pub(crate) fn submit<T, F>(&self, work: F) -> oneshot::Receiver<Result<T>>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, receiver) = oneshot::channel();
        let job = Box::new(Typed {
            work,
            result: None,
            reply,
        });
        // A closed channel drops the job and with it `reply`: the caller sees Closed.
        let _ = self.sender.send(Message::Job(job));
        receiver
    }

    /// Asks the thread to stop after the jobs queued so far.
    pub(crate) fn close(&self) -> oneshot::Receiver<()> {
        let (reply, receiver) = oneshot::channel();
        let _ = self.sender.send(Message::Close(reply));
        receiver
    }
}

/// Awaits a submitted job's answer.
pub(crate) async fn answer<T>(receiver: oneshot::Receiver<Result<T>>) -> Result<T> {
    receiver.await.unwrap_or(Err(Error::Closed))
}

fn run(conn: Connection, receiver: &mpsc::Receiver<Message>, max_batch: usize, stats: &Stats) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(max_batch);
    let mut closing = None;
    // `recv` fails once every handle is gone: then the thread ends.
    while let Ok(first) = receiver.recv() {
        match first {
            Message::Job(job) => batch.push(job),
            Message::Close(reply) => closing = Some(reply),
        }
        while closing.is_none() && batch.len() < max_batch {
            match receiver.try_recv() {
                Ok(Message::Job(job)) => batch.push(job),
                Ok(Message::Close(reply)) => closing = Some(reply),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            commit_batch(&conn, &mut batch, stats);
        }
        if let Some(reply) = closing.take() {
            drop(conn);
            let _ = reply.send(());
            return;
        }
    }
}

fn commit_batch(conn: &Connection, batch: &mut Vec<Box<dyn Job>>, stats: &Stats) {
    stats.commits.fetch_add(1, Ordering::Relaxed);
    crate::metrics::global().store_commit(batch.len());
    stats.jobs.fetch_add(
        u64::try_from(batch.len()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    let committed = match run_plain(conn, batch) {
        Ok(true) => control(conn, "COMMIT").map_err(Error::from),
        // A job failed: none of the batch is kept, and every job runs again, each
        // in a savepoint, so that only the failing ones are rolled back.
        Ok(false) => control(conn, "ROLLBACK")
            .map_err(Error::from)
            .and_then(|()| run_isolated(conn, batch)),
        Err(error) => Err(error),
    };
    if committed.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for job in batch.drain(..) {
        job.answer(committed.as_ref().map(|_| ()));
    }
}

/// Runs every job in one transaction, stopping at the first that fails; whether
/// they all succeeded. The transaction is left open.
fn run_plain(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<bool> {
    control(conn, "BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        if !job.execute(conn) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs every job in its own savepoint, rolling back those that fail, and
/// commits the rest.
fn run_isolated(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<()> {
    control(conn, "BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        control(conn, "SAVEPOINT job")?;
        if !job.execute(conn) {
            // The job answers with its own error; its partial writes go.
            control(conn, "ROLLBACK TO job")?;
        }
        control(conn, "RELEASE job")?;
    }
    control(conn, "COMMIT")?;
    Ok(())
}

/// A transaction-control statement, prepared once per connection: these run two
/// or three times per write, and parsing them each time was a visible share of the
/// writer's time.
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}
