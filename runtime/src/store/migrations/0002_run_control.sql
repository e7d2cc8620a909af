-- 0002: run control and webhook metadata. Migration 0001 stays as it shipped;
-- these columns are added with defaults so existing rows stay valid.

-- The `webhook` record a delivery showed the run (headers without authentication,
-- query, method, path, remote address), as JSON; NULL for runs not started by a
-- webhook.
ALTER TABLE runs ADD COLUMN webhook TEXT;

-- The run this one replays (a new run of the same deployment and workflow).
ALTER TABLE runs ADD COLUMN replay_of TEXT REFERENCES runs (id);

-- How many times the run was retried after failing. A step attempt journaled
-- before the latest retry belongs to an older generation: its failure is not
-- replayed, the step runs again.
ALTER TABLE runs ADD COLUMN retries INTEGER NOT NULL DEFAULT 0 CHECK (retries >= 0);

-- The run's `retries` when the attempt was journaled.
ALTER TABLE steps ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;

CREATE INDEX runs_by_replay_of ON runs (replay_of) WHERE replay_of IS NOT NULL;
