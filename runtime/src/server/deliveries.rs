//! `GET /api/v1/webhooks/deliveries`: the delivery history of the webhooks, for
//! `flowc webhooks deliveries` and for anyone asking "the provider says it sent
//! it: what happened?".
//!
//! Every request that reached a webhook is there, newest first: accepted (it
//! started a run), duplicate (its provider delivery id or idempotency key mapped
//! it to the run an earlier delivery started) or rejected (no run), with the
//! status it was answered, the reason of a refusal (`signature mismatch`,
//! `timestamp outside the 300 s window`, `input mismatch at $.x: …`), the
//! provider's delivery id and the run. Never a secret, a signature or a body.
//! Requests to unknown paths are not recorded (they answer 404 alike, and a
//! scanner must not grow the table). Deliveries older than the retention
//! (`flowc serve --delivery-retention`, 7 days by default) are pruned.
//!
//! Registered by the admin router (behind its token) like its own routes.

use super::Shared;
use super::admin::{bad_query, paged_query};
use super::openapi::ProblemSchema;
use super::problem::Problem;
use crate::store::{DeliveryFilter, DeliveryOutcome, Page, StoredDelivery};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// What became of a delivery.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    /// Verified and valid: it started a run (or was Slack's URL verification,
    /// answered without one).
    Accepted,
    /// Mapped to the run an earlier delivery with the same provider id or
    /// idempotency key started.
    Duplicate,
    /// Refused: no run.
    Rejected,
}

impl From<DeliveryOutcome> for Outcome {
    fn from(outcome: DeliveryOutcome) -> Outcome {
        match outcome {
            DeliveryOutcome::Accepted => Outcome::Accepted,
            DeliveryOutcome::Duplicate => Outcome::Duplicate,
            DeliveryOutcome::Rejected => Outcome::Rejected,
        }
    }
}

/// One delivery of the history.
#[derive(Serialize, ToSchema)]
struct DeliveryJson {
    id: String,
    /// Milliseconds since the Unix epoch.
    received_at: i64,
    /// Upper case: `POST`.
    method: String,
    path: String,
    workflow: String,
    outcome: Outcome,
    /// The HTTP status answered (`null` for deliveries recorded before the
    /// history kept it).
    status: Option<u16>,
    /// Why it was refused, or what else happened; never a secret or a signature.
    reason: Option<String>,
    /// The provider's id of the delivery (`X-GitHub-Delivery`, `webhook-id`,
    /// `X-Shopify-Webhook-Id`, Slack's `event_id`, Stripe's event `id`).
    delivery_id: Option<String>,
    idempotency_key: Option<String>,
    /// The run it started or was mapped to; `null` when refused.
    run: Option<String>,
    /// Whether this delivery created `run`.
    created_run: bool,
}

impl From<StoredDelivery> for DeliveryJson {
    fn from(delivery: StoredDelivery) -> DeliveryJson {
        DeliveryJson {
            id: delivery.id,
            received_at: delivery.received_at,
            method: delivery.method,
            path: delivery.path,
            workflow: delivery.workflow,
            outcome: delivery.outcome.into(),
            status: delivery.status,
            reason: delivery.reason,
            delivery_id: delivery.delivery_id,
            idempotency_key: delivery.idempotency_key,
            run: delivery.run,
            created_run: delivery.created_run,
        }
    }
}

/// One page of deliveries, newest first.
#[derive(Serialize, ToSchema)]
struct Deliveries {
    deliveries: Vec<DeliveryJson>,
    /// The `after` of the next page, when there may be one.
    next: Option<String>,
}

/// The filters and page of `GET /webhooks/deliveries`. Read by [`query`], which
/// refuses anything else; this type describes them for the document.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "the document's view of what `query` reads")]
struct DeliveriesQuery {
    /// Only deliveries to this webhook path (`/github/push`).
    path: Option<String>,
    /// Only deliveries with this outcome.
    outcome: Option<Outcome>,
    /// How many deliveries a page holds (50 by default).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The `next` of the previous page.
    after: Option<String>,
}

/// `path`, `outcome`, `limit` and `after`.
fn query(query: Option<&str>) -> Result<(DeliveryFilter, Page), Problem> {
    let mut filter = DeliveryFilter::default();
    let page = paged_query(query, "path, outcome, limit or after", |name, value| {
        match name {
            "path" => filter.path = Some(value),
            "outcome" => {
                filter.outcome = Some(DeliveryOutcome::parse(&value).ok_or_else(|| {
                    bad_query(format!(
                        "`outcome` is `{value}`; expected accepted, duplicate or rejected"
                    ))
                })?);
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok((filter, page))
}

/// The webhook delivery history.
#[utoipa::path(
    get,
    path = "/webhooks/deliveries",
    operation_id = "list_deliveries",
    tag = "webhooks",
    summary = "List webhook deliveries (accepted, duplicate, rejected), newest first",
    params(DeliveriesQuery),
    responses(
        (status = 200, description = "one page", body = Deliveries),
        (status = 400, description = "`bad_query`: an unknown parameter, one given twice, or a value out of range", body = ProblemSchema),
    ),
)]
pub(super) async fn list_deliveries(
    State(shared): State<Arc<Shared>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (filter, page) = match query(raw.as_deref()) {
        Ok(parsed) => parsed,
        Err(problem) => return problem.into_response(),
    };
    let page = match shared.store.list_deliveries(filter, page).await {
        Ok(page) => page,
        Err(error) => {
            tracing::error!(%error, "the delivery history could not be read");
            return Problem::internal().into_response();
        }
    };
    let body = Deliveries {
        deliveries: page
            .deliveries
            .into_iter()
            .map(DeliveryJson::from)
            .collect(),
        next: page.next,
    };
    let text = serde_json::to_string(&body).unwrap_or_else(|_| "{}".into());
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_reads_its_four_parameters_and_refuses_the_rest() {
        let (filter, page) = query(Some(
            "path=%2Fgithub%2Fpush&outcome=rejected&limit=5&after=d1",
        ))
        .expect("valid");
        assert_eq!(filter.path.as_deref(), Some("/github/push"));
        assert_eq!(filter.outcome, Some(DeliveryOutcome::Rejected));
        assert_eq!((page.limit, page.after.as_deref()), (5, Some("d1")));
        for bad in [
            "outcome=lost",
            "limit=0",
            "limit=501",
            "path=a&path=b",
            "status=1",
        ] {
            let problem = query(Some(bad)).expect_err(bad);
            assert_eq!(problem.code, "bad_query", "{bad}");
        }
    }
}
