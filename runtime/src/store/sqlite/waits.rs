//! Waits, events and the context store in SQLite (see `store/waits.rs` for the
//! model).
//!
//! Every function here runs inside a writer job or a read snapshot; the ones that
//! move a run out of `waiting` return what they woke, and the caller announces it
//! on the store's [`Wakes`](crate::store::Wakes) only after the commit, so the
//! dispatcher never reads a state older than the announcement.

use super::{SqliteStore, execute, json_column, query_row, to_json_text};
use crate::clock::Millis;
use crate::store::{
    BoxFuture, Error, NewWait, Resolution, Result, StoredEvent, Wait, WaitKind, WaitStatus, Wake,
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Value as Json, json};

/// The columns `wait_from_row` reads, in its order.
macro_rules! wait_columns {
    () => {
        "run, path, kind, status, deadline, topic, key_value, predicate, detail, result, \
         created_at, resolved_at"
    };
}

pub(super) fn wait_from_row(row: &Row<'_>) -> rusqlite::Result<Wait> {
    let kind: String = row.get(2)?;
    let status: String = row.get(3)?;
    Ok(Wait {
        run: row.get(0)?,
        path: row.get(1)?,
        kind: WaitKind::parse(&kind)
            .ok_or_else(|| super::conversion_error(2, format!("unknown wait kind `{kind}`")))?,
        status: WaitStatus::parse(&status)
            .ok_or_else(|| super::conversion_error(3, format!("unknown wait status `{status}`")))?,
        deadline: row.get(4)?,
        topic: row.get(5)?,
        key_value: row.get(6)?,
        predicate: json_column(row, 7)?,
        detail: json_column(row, 8)?,
        result: json_column(row, 9)?,
        created_at: row.get(10)?,
        resolved_at: row.get(11)?,
    })
}

/// A wait with its JSON already text (see `Entry` in `sqlite.rs`).
pub(super) struct OpenWait {
    path: String,
    kind: WaitKind,
    deadline: Option<Millis>,
    token: Option<String>,
    topic: Option<String>,
    key_path: Option<String>,
    key_value: Option<String>,
    predicate: Option<String>,
    detail: Option<String>,
    /// A child wait's run.
    child: Option<String>,
}

impl OpenWait {
    pub(super) fn of(wait: NewWait) -> OpenWait {
        let child = match (&wait.kind, &wait.detail) {
            (WaitKind::Child, Some(detail)) => {
                detail.get("run").and_then(Json::as_str).map(str::to_owned)
            }
            _ => None,
        };
        // The key value is `[path, value]`: its first element is the key path.
        let key_path = wait.key_value.as_deref().and_then(|text| {
            serde_json::from_str::<Json>(text)
                .ok()
                .and_then(|key| key.get(0).map(ToString::to_string))
        });
        OpenWait {
            path: wait.path,
            kind: wait.kind,
            deadline: wait.deadline,
            token: wait.token,
            topic: wait.topic,
            key_path,
            key_value: wait.key_value,
            predicate: wait.predicate.as_ref().map(to_json_text),
            detail: wait.detail.as_ref().map(to_json_text),
            child,
        }
    }
}

/// Opens a wait of `run`. A child wait links the child to its parent and, when
/// the child has already ended, is resolved at once with its outcome.
pub(super) fn open(
    conn: &Connection,
    run: &str,
    wait: &OpenWait,
    now: Millis,
    wakes: &mut Vec<Wake>,
) -> Result<()> {
    let inserted = execute(
        conn,
        "INSERT INTO waits (run, path, kind, status, deadline, token, topic, key_path, key_value,
                            predicate, detail, created_at)
         VALUES (?1, ?2, ?3, 'open', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (run, path) DO NOTHING",
        params![
            run,
            wait.path,
            wait.kind.as_str(),
            wait.deadline,
            wait.token,
            wait.topic,
            wait.key_path,
            wait.key_value,
            wait.predicate,
            wait.detail,
            now
        ],
    )?;
    if inserted == 0 {
        return Err(Error::Conflict(format!(
            "wait `{}` of run `{run}` was already opened",
            wait.path
        )));
    }
    if wait.deadline.is_some() {
        wakes.push(Wake::Timer);
    }
    if let (Some(topic), Some(key_path)) = (&wait.topic, &wait.key_path) {
        execute(
            conn,
            "INSERT INTO wait_keys (topic, key_path) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![topic, key_path],
        )?;
    }
    if let Some(child) = &wait.child {
        execute(
            conn,
            "UPDATE runs SET parent = ?2, parent_path = ?3 WHERE id = ?1",
            params![child, run, wait.path],
        )?;
        let ended: Option<(String, Option<String>, Option<String>)> = query_row(
            conn,
            "SELECT status, output, error FROM runs WHERE id = ?1
               AND status IN ('succeeded', 'failed', 'cancelled')",
            [child],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
        match ended {
            Some((status, output, error)) => {
                let result = child_result(child, &status, output, error);
                settle(conn, run, &wait.path, WaitStatus::Resolved, &result, now)?;
            }
            // The child is pending: it starts once this commits.
            None => wakes.push(Wake::Run(child.clone())),
        }
    }
    Ok(())
}

/// What a child's end gives the `call` that waits for it.
fn child_result(child: &str, status: &str, output: Option<String>, error: Option<String>) -> Json {
    let parse = |text: Option<String>| {
        text.and_then(|text| serde_json::from_str::<Json>(&text).ok())
            .unwrap_or(Json::Null)
    };
    match status {
        "succeeded" => json!({ "ok": parse(output) }),
        "failed" => {
            let cause = parse(error);
            let message = cause
                .get("message")
                .and_then(Json::as_str)
                .unwrap_or("the child run failed")
                .to_owned();
            json!({ "error": {
                "code": "R0301",
                "kind": "child_failed",
                "message": format!("child run {child} failed: {message}"),
                "child": child,
                "cause": cause,
            }})
        }
        _ => json!({ "error": {
            "code": "R0302",
            "kind": "child_cancelled",
            "message": format!("child run {child} was cancelled"),
            "child": child,
        }}),
    }
}

/// Moves an open wait to `status` with `result`; true when it was open.
fn settle(
    conn: &Connection,
    run: &str,
    path: &str,
    status: WaitStatus,
    result: &Json,
    now: Millis,
) -> Result<bool> {
    let changed = execute(
        conn,
        "UPDATE waits SET status = ?3, result = ?4, resolved_at = ?5
         WHERE run = ?1 AND path = ?2 AND status = 'open'",
        params![run, path, status.as_str(), to_json_text(result), now],
    )?;
    Ok(changed > 0)
}

/// Reopens the waits a failed run's end closed (timed out, or cancelled with
/// the run) for a retry: open again from `now`, each with as long as it had
/// (a callback's or approval's token works again; a correlated wait sees only
/// messages from now). A `call`'s wait is not reopened: it gets its child's
/// outcome (a child cancelled with its parent fails the step, R0302). True
/// when a reopened wait has a deadline.
pub(super) fn reopen(conn: &Connection, run: &str, now: Millis) -> Result<bool> {
    let closed_children: Vec<(String, Option<String>)> = {
        let mut statement = conn.prepare_cached(
            "SELECT path, detail FROM waits WHERE run = ?1 AND kind = 'child'
               AND (status = 'timed_out' OR status = 'cancelled')",
        )?;
        statement
            .query_map([run], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    for (path, detail) in closed_children {
        let child = detail
            .and_then(|text| serde_json::from_str::<Json>(&text).ok())
            .and_then(|detail| detail.get("run").and_then(Json::as_str).map(str::to_owned));
        let ended: Option<(String, Option<String>, Option<String>)> = match &child {
            Some(child) => query_row(
                conn,
                "SELECT status, output, error FROM runs WHERE id = ?1",
                [child],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?,
            None => None,
        };
        let (status, output, error) = ended.unwrap_or(("cancelled".into(), None, None));
        let result = child_result(child.as_deref().unwrap_or("?"), &status, output, error);
        execute(
            conn,
            "UPDATE waits SET status = 'resolved', result = ?3, resolved_at = ?4
             WHERE run = ?1 AND path = ?2",
            params![run, path, to_json_text(&result), now],
        )?;
    }
    execute(
        conn,
        "UPDATE waits SET status = 'open', result = NULL, resolved_at = NULL,
             deadline = CASE WHEN deadline IS NULL THEN NULL
                             ELSE ?2 + max(deadline - created_at, 0) END,
             created_at = ?2
         WHERE run = ?1 AND kind != 'child'
           AND (status = 'timed_out' OR status = 'cancelled')",
        params![run, now],
    )?;
    Ok(query_row(
        conn,
        "SELECT 1 FROM waits WHERE run = ?1 AND status = 'open' AND deadline IS NOT NULL",
        [run],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

/// Moves a parked run back to pending; true when it was parked.
fn wake(conn: &Connection, run: &str, now: Millis) -> Result<bool> {
    let changed = execute(
        conn,
        "UPDATE runs SET status = 'pending', updated_at = ?2 WHERE id = ?1 AND status = 'waiting'",
        params![run, now],
    )?;
    Ok(changed > 0)
}

/// Resolves a wait and wakes its run.
pub(super) fn resolve(
    conn: &Connection,
    run: &str,
    path: &str,
    result: &Json,
    now: Millis,
    wakes: &mut Vec<Wake>,
) -> Result<Resolution> {
    if !settle(conn, run, path, WaitStatus::Resolved, result, now)? {
        let exists = query_row(
            conn,
            "SELECT 1 FROM waits WHERE run = ?1 AND path = ?2",
            params![run, path],
            |_| Ok(()),
        )
        .optional()?;
        return Ok(match exists {
            Some(()) => Resolution::Gone,
            None => Resolution::NotFound,
        });
    }
    if wake(conn, run, now)? {
        wakes.push(Wake::Run(run.to_owned()));
        Ok(Resolution::Woke)
    } else {
        Ok(Resolution::Resolved)
    }
}

/// What a run's end does to its waits, its parent and its children: open waits
/// are cancelled, the parent's `call` is resolved with the outcome (and the parent
/// woken), and a cancelled run's children are cancelled too.
pub(super) fn ended(
    conn: &Connection,
    run: &str,
    status: &str,
    now: Millis,
    wakes: &mut Vec<Wake>,
) -> Result<()> {
    execute(
        conn,
        "UPDATE waits SET status = 'cancelled', resolved_at = ?2
         WHERE run = ?1 AND status = 'open'",
        params![run, now],
    )?;
    type Linked = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let row: Option<Linked> = query_row(
        conn,
        "SELECT parent, parent_path, output, error FROM runs WHERE id = ?1",
        [run],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
    )
    .optional()?;
    if let Some((Some(parent), Some(path), output, error)) = row {
        let result = child_result(run, status, output, error);
        resolve(conn, &parent, &path, &result, now, wakes)?;
    }
    if status == "cancelled" || status == "failed" {
        let children: Vec<String> = {
            let mut statement = conn.prepare_cached(concat!(
                "SELECT id FROM runs WHERE parent = ?1 AND ",
                super::unfinished!()
            ))?;
            statement
                .query_map([run], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        for child in children {
            execute(
                conn,
                "UPDATE runs SET status = 'cancelled', updated_at = ?2 WHERE id = ?1",
                params![child, now],
            )?;
            wakes.push(Wake::Stop(child.clone()));
            ended(conn, &child, "cancelled", now, wakes)?;
        }
    }
    Ok(())
}

/// The error a timed-out wait gives its `await`.
fn timeout_error(wait: &Wait) -> Json {
    let what = match wait.kind {
        WaitKind::Callback => "the callback",
        WaitKind::Approval => "the approval",
        WaitKind::Event => "the event",
        WaitKind::Webhook => "the webhook",
        WaitKind::Child => "the child run",
        WaitKind::Timer | WaitKind::Deadline => "the timer",
    };
    json!({ "error": {
        "code": "R0300",
        "kind": "timeout",
        "message": format!("{what} `{}` timed out", wait.path),
        "step": wait.path,
    }})
}

/// Handles the due waits (see `Store::fire_due`).
fn fire_due(conn: &Connection, now: Millis, limit: u32, wakes: &mut Vec<Wake>) -> Result<usize> {
    let due: Vec<Wait> = {
        let mut statement = conn.prepare_cached(concat!(
            "SELECT ",
            wait_columns!(),
            " FROM waits WHERE status = 'open' AND deadline IS NOT NULL AND deadline <= ?1
              ORDER BY deadline LIMIT ?2"
        ))?;
        statement
            .query_map(params![now, limit], wait_from_row)?
            .collect::<rusqlite::Result<_>>()?
    };
    for wait in &due {
        match wait.kind {
            WaitKind::Timer => {
                settle(
                    conn,
                    &wait.run,
                    &wait.path,
                    WaitStatus::Resolved,
                    &json!({ "ok": null }),
                    now,
                )?;
            }
            WaitKind::Deadline => {
                settle(
                    conn,
                    &wait.run,
                    &wait.path,
                    WaitStatus::TimedOut,
                    &json!(null),
                    now,
                )?;
                let error = json!({
                    "code": "R0303",
                    "kind": "timeout",
                    "message": "the run exceeded its timeout",
                });
                let changed = execute(
                    conn,
                    concat!(
                        "UPDATE runs SET status = 'failed', error = ?2, updated_at = ?3
                         WHERE id = ?1 AND ",
                        super::unfinished!()
                    ),
                    params![wait.run, to_json_text(&error), now],
                )?;
                if changed > 0 {
                    wakes.push(Wake::Stop(wait.run.clone()));
                    ended(conn, &wait.run, "failed", now, wakes)?;
                }
                continue;
            }
            _ => {
                settle(
                    conn,
                    &wait.run,
                    &wait.path,
                    WaitStatus::TimedOut,
                    &timeout_error(wait),
                    now,
                )?;
            }
        }
        if wake(conn, &wait.run, now)? {
            wakes.push(Wake::Run(wait.run.clone()));
        }
    }
    Ok(due.len())
}

/// Stores an event; `None` when (run, path) already emitted it.
pub(super) fn insert_event(
    conn: &Connection,
    id: &str,
    topic: &str,
    payload: &str,
    source: Option<(&str, &str)>,
    now: Millis,
) -> Result<bool> {
    let (run, path) = source.unzip();
    let inserted = execute(
        conn,
        "INSERT INTO events (id, topic, payload, source_run, source_path, emitted_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT DO NOTHING",
        params![id, topic, payload, run, path, now],
    )?;
    Ok(inserted > 0)
}

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        seq: row.get(0)?,
        id: row.get(1)?,
        topic: row.get(2)?,
        payload: json_column(row, 3)?.unwrap_or(Json::Null),
        source_run: row.get(4)?,
        emitted_at: row.get(5)?,
    })
}

const EVENT_COLUMNS: &str = "seq, id, topic, payload, source_run, emitted_at";

/// Sets or removes one context key.
pub(super) fn set_context(
    conn: &Connection,
    workflow: &str,
    key: &str,
    value: Option<&str>,
    now: Millis,
) -> Result<()> {
    match value {
        Some(value) => execute(
            conn,
            "INSERT INTO context (workflow, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (workflow, key) DO UPDATE SET value = ?3, updated_at = ?4",
            params![workflow, key, value, now],
        )?,
        None => execute(
            conn,
            "DELETE FROM context WHERE workflow = ?1 AND key = ?2",
            params![workflow, key],
        )?,
    };
    Ok(())
}

impl SqliteStore {
    /// A write that may wake runs: its wakes are announced once it committed.
    pub(super) fn write_waking<T, F>(&self, work: F) -> BoxFuture<'static, Result<T>>
    where
        T: Send + 'static,
        F: Fn(&Connection, &mut Vec<Wake>) -> Result<T> + Send + 'static,
    {
        let done = self.write(move |conn| {
            let mut wakes = Vec::new();
            let value = work(conn, &mut wakes)?;
            Ok((value, wakes))
        });
        let store = self.clone();
        Box::pin(async move {
            let (value, wakes) = done.await?;
            store.wakes_queue().push(wakes);
            Ok(value)
        })
    }

    pub(super) fn park_run(
        &self,
        run: &str,
        entries: Vec<super::Entry>,
        awaiting: Vec<String>,
    ) -> BoxFuture<'static, Result<bool>> {
        let run = run.to_owned();
        let clock = self.clock();
        self.write_waking(move |conn, wakes| {
            let now = clock.now_ms();
            for entry in &entries {
                super::apply(conn, &run, entry, now, wakes)?;
            }
            for path in &awaiting {
                let status: Option<String> = query_row(
                    conn,
                    "SELECT status FROM waits WHERE run = ?1 AND path = ?2",
                    params![run, path],
                    |row| row.get(0),
                )
                .optional()?;
                if status.as_deref() != Some("open") {
                    return Ok(false);
                }
            }
            let changed = execute(
                conn,
                concat!(
                    "UPDATE runs SET status = 'waiting', updated_at = ?2 WHERE id = ?1 AND ",
                    super::unfinished!()
                ),
                params![run, now],
            )?;
            if changed == 0 {
                return Err(super::not_open(conn, &run)?);
            }
            Ok(true)
        })
    }

    pub(super) fn resolve_wait_at(
        &self,
        run: &str,
        path: &str,
        result: Json,
    ) -> BoxFuture<'static, Result<Resolution>> {
        let (run, path) = (run.to_owned(), path.to_owned());
        let clock = self.clock();
        self.write_waking(move |conn, wakes| {
            resolve(conn, &run, &path, &result, clock.now_ms(), wakes)
        })
    }

    pub(super) fn wait_with_token(&self, token: &str) -> BoxFuture<'static, Result<Option<Wait>>> {
        let token = token.to_owned();
        self.read(move |conn| {
            Ok(query_row(
                conn,
                concat!("SELECT ", wait_columns!(), " FROM waits WHERE token = ?1"),
                [&token],
                wait_from_row,
            )
            .optional()?)
        })
    }

    pub(super) fn waits_open(
        &self,
        kind: WaitKind,
        limit: u32,
    ) -> BoxFuture<'static, Result<Vec<Wait>>> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(concat!(
                "SELECT ",
                wait_columns!(),
                " FROM waits WHERE status = 'open' AND kind = ?1 ORDER BY created_at, run LIMIT ?2"
            ))?;
            Ok(statement
                .query_map(params![kind.as_str(), limit], wait_from_row)?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    pub(super) fn first_deadline(&self) -> BoxFuture<'static, Result<Option<Millis>>> {
        self.read(|conn| {
            Ok(query_row(
                conn,
                "SELECT min(deadline) FROM waits WHERE status = 'open' AND deadline IS NOT NULL",
                [],
                |row| row.get(0),
            )?)
        })
    }

    pub(super) fn fire_due_waits(
        &self,
        now: Millis,
        limit: u32,
    ) -> BoxFuture<'static, Result<usize>> {
        self.write_waking(move |conn, wakes| fire_due(conn, now, limit, wakes))
    }

    pub(super) fn insert_outside_event(
        &self,
        topic: &str,
        payload: Json,
    ) -> BoxFuture<'static, Result<StoredEvent>> {
        let id = self.ids().new_id();
        let topic = topic.to_owned();
        let text = to_json_text(&payload);
        let clock = self.clock();
        self.write_waking(move |conn, wakes| {
            let now = clock.now_ms();
            insert_event(conn, &id, &topic, &text, None, now)?;
            wakes.push(Wake::Events);
            let seq = conn.last_insert_rowid();
            Ok(StoredEvent {
                seq,
                id: id.clone(),
                topic: topic.clone(),
                payload: payload.clone(),
                source_run: None,
                emitted_at: now,
            })
        })
    }

    pub(super) fn events_undelivered_after(
        &self,
        after: i64,
        limit: u32,
    ) -> BoxFuture<'static, Result<Vec<StoredEvent>>> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE delivered = 0 AND seq > ?1
                 ORDER BY seq LIMIT ?2"
            ))?;
            Ok(statement
                .query_map(params![after, limit], event_from_row)?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    pub(super) fn events_undelivered(
        &self,
        limit: u32,
    ) -> BoxFuture<'static, Result<Vec<StoredEvent>>> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE delivered = 0 ORDER BY seq LIMIT ?1"
            ))?;
            Ok(statement
                .query_map([limit], event_from_row)?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    pub(super) fn event_delivered(&self, seqs: Vec<i64>) -> BoxFuture<'static, Result<()>> {
        self.write(move |conn| {
            for seq in &seqs {
                execute(
                    conn,
                    "UPDATE events SET delivered = 1 WHERE seq = ?1",
                    [seq],
                )?;
            }
            Ok(())
        })
    }

    pub(super) fn topic_key_paths(&self, topic: &str) -> BoxFuture<'static, Result<Vec<String>>> {
        let topic = topic.to_owned();
        self.read(move |conn| {
            let mut statement =
                conn.prepare_cached("SELECT key_path FROM wait_keys WHERE topic = ?1")?;
            Ok(statement
                .query_map([&topic], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    pub(super) fn waits_matching(
        &self,
        lookups: Vec<(String, Vec<String>, Millis)>,
    ) -> BoxFuture<'static, Result<Vec<Vec<Wait>>>> {
        // Every lookup in one read: one hand-off to a reader thread per batch
        // of messages, not one per message.
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(concat!(
                "SELECT ",
                wait_columns!(),
                " FROM waits WHERE status = 'open' AND topic = ?1 AND key_value IS ?2
                  AND created_at <= ?3 ORDER BY created_at, run"
            ))?;
            let unkeyed: Option<String> = None;
            let mut all = Vec::with_capacity(lookups.len());
            for (topic, keys, at) in &lookups {
                let mut found = Vec::new();
                for key in keys.iter().map(Some).chain([unkeyed.as_ref()]) {
                    let rows = statement.query_map(params![topic, key, at], wait_from_row)?;
                    for row in rows {
                        found.push(row?);
                    }
                }
                all.push(found);
            }
            Ok(all)
        })
    }

    pub(super) fn events_since(
        &self,
        topic: &str,
        since: Millis,
        limit: u32,
    ) -> BoxFuture<'static, Result<Vec<StoredEvent>>> {
        let topic = topic.to_owned();
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE topic = ?1 AND emitted_at >= ?2
                 ORDER BY seq LIMIT ?3"
            ))?;
            Ok(statement
                .query_map(params![topic, since, limit], event_from_row)?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    pub(super) fn context_of(
        &self,
        workflow: &str,
    ) -> BoxFuture<'static, Result<std::collections::BTreeMap<String, Json>>> {
        let workflow = workflow.to_owned();
        self.read(move |conn| {
            let mut statement =
                conn.prepare_cached("SELECT key, value FROM context WHERE workflow = ?1")?;
            let mut context = std::collections::BTreeMap::new();
            let rows = statement.query_map([&workflow], |row| {
                Ok((row.get::<_, String>(0)?, json_column(row, 1)?))
            })?;
            for row in rows {
                let (key, value) = row?;
                context.insert(key, value.unwrap_or(Json::Null));
            }
            Ok(context)
        })
    }

    pub(super) fn context_patch(
        &self,
        workflow: &str,
        entries: Vec<(String, Option<Json>)>,
    ) -> BoxFuture<'static, Result<()>> {
        let workflow = workflow.to_owned();
        let entries: Vec<(String, Option<String>)> = entries
            .into_iter()
            .map(|(key, value)| (key, value.as_ref().map(to_json_text)))
            .collect();
        let clock = self.clock();
        self.write(move |conn| {
            let now = clock.now_ms();
            for (key, value) in &entries {
                set_context(conn, &workflow, key, value.as_deref(), now)?;
            }
            Ok(())
        })
    }

    pub(super) fn pause(&self, run: &str, paused: bool) -> BoxFuture<'static, Result<()>> {
        let run = run.to_owned();
        let clock = self.clock();
        self.write_waking(move |conn, wakes| {
            let changed = execute(
                conn,
                concat!(
                    "UPDATE runs SET paused = ?2, updated_at = ?3 WHERE id = ?1 AND ",
                    super::unfinished!()
                ),
                params![run, paused, clock.now_ms()],
            )?;
            if changed == 0 {
                return Err(super::not_open(conn, &run)?);
            }
            if !paused {
                // A run that stopped at a step boundary because it was paused is
                // `pending`: it is interpreted again.
                wakes.push(Wake::Run(run.clone()));
            }
            Ok(())
        })
    }

    pub(super) fn waits_of(conn: &Connection, run: &str) -> Result<Vec<Wait>> {
        let mut statement = conn.prepare_cached(concat!(
            "SELECT ",
            wait_columns!(),
            " FROM waits WHERE run = ?1 ORDER BY created_at, path"
        ))?;
        Ok(statement
            .query_map([run], wait_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }
}
