-- 0005: what parked runs wait for, events, the context store, child runs and
-- pausing. Earlier migrations stay as they shipped.

-- One row per thing a run waits for: a timer (`wait`), a handle (`callback`,
-- `approval`: created with the handle, so a delivery that comes before the
-- `await` is kept), a correlated wait (`await event`, `await webhook`), a child
-- run (`call`) or the run's own `timeout` (`deadline`). `open` until resolved
-- (`result` holds what the wait yields), timed out or cancelled with its run.
CREATE TABLE waits (
    run          TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    path         TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN
                     ('timer', 'callback', 'approval', 'event', 'webhook', 'child', 'deadline')),
    status       TEXT    NOT NULL CHECK (status IN ('open', 'resolved', 'timed_out', 'cancelled')),
    -- When a timer is due, or when the wait times out; NULL for never.
    deadline     INTEGER,
    -- The SHA-256 (hex) of a handle's token: the token itself is never stored.
    token        TEXT    UNIQUE,
    -- Correlated waits: `event:NAME` or `webhook:METHOD /path`; the key the
    -- checker extracted, as canonical JSON, and the residual predicate (IR JSON).
    topic        TEXT,
    key_path     TEXT,
    key_value    TEXT,
    predicate    TEXT,
    -- What a person or a listing needs: an approval's message, a callback's type,
    -- a child's run id.
    detail       TEXT,
    result       TEXT,
    created_at   INTEGER NOT NULL,
    resolved_at  INTEGER,
    PRIMARY KEY (run, path)
) STRICT;

-- The timer loop reads the next deadline and the due waits.
CREATE INDEX waits_due ON waits (deadline) WHERE status = 'open' AND deadline IS NOT NULL;
-- An incoming message finds its waiting runs by topic and key, not by a scan.
CREATE INDEX waits_by_key ON waits (topic, key_value) WHERE status = 'open' AND topic IS NOT NULL;

-- The key paths (JSON arrays of field names) that waits on a topic have used: an
-- incoming message reads each from its payload and looks the waits up by value.
CREATE TABLE wait_keys (
    topic     TEXT NOT NULL,
    key_path  TEXT NOT NULL,
    PRIMARY KEY (topic, key_path)
) STRICT, WITHOUT ROWID;

-- Every emitted event and every request to an `await webhook` path: delivered to
-- event triggers and waiting runs once (`delivered`), kept for lookback windows.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    topic        TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    -- The run and path of an `emit` (NULL from outside): a replay emits once.
    source_run   TEXT,
    source_path  TEXT,
    emitted_at   INTEGER NOT NULL,
    delivered    INTEGER NOT NULL DEFAULT 0 CHECK (delivered IN (0, 1))
) STRICT;

CREATE UNIQUE INDEX events_by_source ON events (source_run, source_path)
    WHERE source_run IS NOT NULL;
CREATE INDEX events_undelivered ON events (seq) WHERE delivered = 0;
CREATE INDEX events_by_topic ON events (topic, emitted_at);

-- `context.key` of each workflow, across runs.
CREATE TABLE context (
    workflow    TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (workflow, key)
) STRICT, WITHOUT ROWID;

-- The run (and its step path) that `call`ed this one.
ALTER TABLE runs ADD COLUMN parent TEXT;
ALTER TABLE runs ADD COLUMN parent_path TEXT;
-- A paused run starts no new step until resumed.
ALTER TABLE runs ADD COLUMN paused INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1));

CREATE INDEX runs_by_parent ON runs (parent) WHERE parent IS NOT NULL;
