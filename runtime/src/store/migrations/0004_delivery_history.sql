-- 0004: the delivery history. `webhook_deliveries` held the accepted requests
-- only; it now holds every request that reached a webhook (a method and path
-- some active workflow claims), accepted or refused, with what was answered and
-- why, and the provider's id of the delivery, which maps a redelivery to the run
-- the first one started. A refused delivery has no run. The table is rebuilt
-- because `run` loses its NOT NULL; the rows it had are kept, as `accepted` (they
-- created their run) or `duplicate` (their idempotency key found one), with no
-- status: the answer was not recorded then. Rows older than the retention
-- (`flowc serve --delivery-retention`, 7 days by default) are pruned.
CREATE TABLE webhook_deliveries_0004 (
    id               TEXT    NOT NULL PRIMARY KEY,
    received_at      INTEGER NOT NULL,
    method           TEXT    NOT NULL,
    path             TEXT    NOT NULL,
    workflow         TEXT    NOT NULL,
    outcome          TEXT    NOT NULL CHECK (outcome IN ('accepted', 'duplicate', 'rejected')),
    -- The HTTP status answered; NULL for rows from before this migration.
    status           INTEGER CHECK (status BETWEEN 100 AND 599),
    -- Why it was refused (`signature mismatch`), or what else happened; never a
    -- secret, a signature or the body.
    reason           TEXT,
    -- The provider's id of the delivery (`X-GitHub-Delivery`, `webhook-id`,
    -- `X-Shopify-Webhook-Id`, Slack's `event_id`, Stripe's event `id`).
    delivery_id      TEXT,
    idempotency_key  TEXT,
    run              TEXT    REFERENCES runs (id) ON DELETE CASCADE,
    created_run      INTEGER NOT NULL DEFAULT 0 CHECK (created_run IN (0, 1))
) STRICT;

INSERT INTO webhook_deliveries_0004
    (id, received_at, method, path, workflow, outcome, status, reason, delivery_id,
     idempotency_key, run, created_run)
SELECT id, received_at, method, path, workflow,
       CASE created_run WHEN 1 THEN 'accepted' ELSE 'duplicate' END,
       NULL, NULL, NULL, idempotency_key, run, created_run
FROM webhook_deliveries;

DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_0004 RENAME TO webhook_deliveries;

CREATE INDEX webhook_deliveries_by_run ON webhook_deliveries (run) WHERE run IS NOT NULL;
-- The history, newest first, and pruning by age.
CREATE INDEX webhook_deliveries_by_received ON webhook_deliveries (received_at, id);
-- The history of one path.
CREATE INDEX webhook_deliveries_by_path ON webhook_deliveries (path, received_at, id);
-- A redelivery finds the run the first delivery with its id started.
CREATE INDEX webhook_deliveries_by_delivery_id ON webhook_deliveries (workflow, delivery_id)
    WHERE delivery_id IS NOT NULL;
