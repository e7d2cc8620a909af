-- 0006: the fires of `on schedule` triggers. One row per workflow and fire time
-- (the instant the cron expression matched, not when the scheduler got to it),
-- written in the transaction that starts the fire's run: a scheduler that
-- restarts, or a second one on the same database, finds the row and starts
-- nothing, so no fire runs twice. Keyed by workflow name rather than deployment:
-- a new deployment of a workflow carries on from its predecessor's last fire.
CREATE TABLE schedule_fires (
    workflow    TEXT    NOT NULL,
    fire_at     INTEGER NOT NULL,
    -- The deployment whose schedule fired, and the run the fire started. The
    -- fire outlives its run: were runs ever pruned, the fire must stay recorded.
    deployment  TEXT    NOT NULL REFERENCES deployments (id),
    run_id      TEXT    REFERENCES runs (id) ON DELETE SET NULL,
    PRIMARY KEY (workflow, fire_at)
) STRICT, WITHOUT ROWID;
