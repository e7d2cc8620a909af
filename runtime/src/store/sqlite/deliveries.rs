//! The delivery history in SQLite: every request that reached a webhook, with
//! its outcome, and the provider delivery ids a redelivery is matched against.
//!
//! Accepted deliveries are written by `start_run`, in the transaction that
//! creates (or finds) their run, through [`insert_accepted`] and
//! [`run_of_delivery`]: two redeliveries racing each other are serialised by the
//! writer thread, so the second finds the first one's row. Refusals are written
//! on their own ([`SqliteStore::insert_delivery`]). Pruning deletes by age, in
//! batches, each its own writer job, so that a large backlog does not hold the
//! writer (and every run's journal) for long.

use super::{SqliteStore, execute, query_row};
use crate::clock::Millis;
use crate::store::{
    BoxFuture, DeliveryFilter, DeliveryOutcome, DeliveryPage, Error, NewDelivery, Page, Result,
    StoredDelivery,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

/// The most rows one pruning job deletes.
const PRUNE_BATCH: i64 = 5000;

/// The columns `delivery_from_row` reads, in its order.
const COLUMNS: &str = "id, received_at, method, path, workflow, outcome, status, reason, \
                       delivery_id, idempotency_key, run, created_run";

/// The run that the first delivery of `workflow` with the provider id
/// `delivery_id` started or was mapped to, if the history still has it.
pub(super) fn run_of_delivery(
    conn: &Connection,
    workflow: &str,
    delivery_id: &str,
) -> Result<Option<String>> {
    Ok(query_row(
        conn,
        "SELECT run FROM webhook_deliveries
         WHERE workflow = ?1 AND delivery_id = ?2 AND run IS NOT NULL
         ORDER BY received_at, id LIMIT 1",
        params![workflow, delivery_id],
        |row| row.get(0),
    )
    .optional()?)
}

/// One accepted (or duplicate) delivery, inside `start_run`'s transaction.
pub(super) struct Accepted<'a> {
    pub id: &'a str,
    pub now: Millis,
    pub method: &'a str,
    pub path: &'a str,
    pub workflow: &'a str,
    pub status: u16,
    pub delivery_id: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    pub run: &'a str,
    pub created: bool,
}

pub(super) fn insert_accepted(conn: &Connection, delivery: &Accepted<'_>) -> Result<()> {
    let outcome = if delivery.created {
        DeliveryOutcome::Accepted
    } else {
        DeliveryOutcome::Duplicate
    };
    execute(
        conn,
        "INSERT INTO webhook_deliveries
             (id, received_at, method, path, workflow, outcome, status, delivery_id,
              idempotency_key, run, created_run)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            delivery.id,
            delivery.now,
            delivery.method,
            delivery.path,
            delivery.workflow,
            outcome.as_str(),
            delivery.status,
            delivery.delivery_id,
            delivery.idempotency_key,
            delivery.run,
            delivery.created
        ],
    )?;
    Ok(())
}

fn delivery_from_row(row: &Row<'_>) -> rusqlite::Result<StoredDelivery> {
    let outcome: String = row.get(5)?;
    Ok(StoredDelivery {
        id: row.get(0)?,
        received_at: row.get(1)?,
        method: row.get(2)?,
        path: row.get(3)?,
        workflow: row.get(4)?,
        outcome: DeliveryOutcome::parse(&outcome).ok_or_else(|| {
            super::conversion_error(5, format!("unknown delivery outcome `{outcome}`"))
        })?,
        status: row.get(6)?,
        reason: row.get(7)?,
        delivery_id: row.get(8)?,
        idempotency_key: row.get(9)?,
        run: row.get(10)?,
        created_run: row.get(11)?,
    })
}

impl SqliteStore {
    pub(super) fn insert_delivery(
        &self,
        delivery: NewDelivery,
    ) -> BoxFuture<'static, Result<String>> {
        let (clock, ids) = (self.clock(), self.ids());
        let id = ids.new_id();
        self.write(move |conn| {
            execute(
                conn,
                "INSERT INTO webhook_deliveries
                     (id, received_at, method, path, workflow, outcome, status, reason,
                      delivery_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    id,
                    clock.now_ms(),
                    delivery.method,
                    delivery.path,
                    delivery.workflow,
                    delivery.outcome.as_str(),
                    delivery.status,
                    delivery.reason,
                    delivery.delivery_id
                ],
            )?;
            Ok(id.clone())
        })
    }

    pub(super) fn update_delivery_status(
        &self,
        delivery: &str,
        status: u16,
    ) -> BoxFuture<'static, Result<()>> {
        let delivery = delivery.to_owned();
        self.write(move |conn| {
            let changed = execute(
                conn,
                "UPDATE webhook_deliveries SET status = ?2 WHERE id = ?1",
                params![delivery, status],
            )?;
            if changed == 0 {
                return Err(Error::NotFound {
                    kind: "delivery",
                    id: delivery.clone(),
                });
            }
            Ok(())
        })
    }

    pub(super) fn select_deliveries(
        &self,
        filter: DeliveryFilter,
        page: Page,
    ) -> BoxFuture<'static, Result<DeliveryPage>> {
        self.read(move |conn| {
            let mut clauses: Vec<&str> = Vec::new();
            let mut values: Vec<rusqlite::types::Value> = Vec::new();
            if let Some(path) = filter.path {
                clauses.push("path = ?");
                values.push(path.into());
            }
            if let Some(outcome) = filter.outcome {
                clauses.push("outcome = ?");
                values.push(outcome.as_str().to_owned().into());
            }
            if let Some(after) = page.after {
                clauses.push(
                    "(received_at, id) < (SELECT received_at, id FROM webhook_deliveries \
                     WHERE id = ?)",
                );
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
                "SELECT {COLUMNS} FROM webhook_deliveries {filter}
                 ORDER BY received_at DESC, id DESC LIMIT ?"
            ))?;
            let mut deliveries = statement
                .query_map(rusqlite::params_from_iter(values), delivery_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let more = deliveries.len() > limit as usize;
            deliveries.truncate(limit as usize);
            let next = if more {
                deliveries.last().map(|delivery| delivery.id.clone())
            } else {
                None
            };
            Ok(DeliveryPage { deliveries, next })
        })
    }

    pub(super) fn delete_deliveries(&self, before: Millis) -> BoxFuture<'static, Result<u64>> {
        let store = self.clone();
        Box::pin(async move {
            let mut deleted: u64 = 0;
            loop {
                let batch = store
                    .write(move |conn| {
                        Ok(execute(
                            conn,
                            "DELETE FROM webhook_deliveries WHERE id IN (
                                 SELECT id FROM webhook_deliveries WHERE received_at < ?1
                                 ORDER BY received_at LIMIT ?2)",
                            params![before, PRUNE_BATCH],
                        )?)
                    })
                    .await?;
                deleted += u64::try_from(batch).unwrap_or(0);
                if i64::try_from(batch).unwrap_or(PRUNE_BATCH) < PRUNE_BATCH {
                    return Ok(deleted);
                }
            }
        })
    }
}
