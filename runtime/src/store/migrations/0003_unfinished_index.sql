-- 0003: the index of unfinished runs, with its condition written as comparisons.
-- SQLite evaluates a partial index's condition whenever a row's status is written
-- (a run started, moved to running, ended), and an `IN` list of more than two
-- constants is evaluated through a temporary table opened and freed each time;
-- three `=` comparisons joined by OR cost nothing. The store's statements use the
-- same expression, so the planner still finds this index for `runs_to_resume`.
DROP INDEX runs_unfinished;
CREATE INDEX runs_unfinished ON runs (created_at, id)
    WHERE status = 'pending' OR status = 'running' OR status = 'waiting';
