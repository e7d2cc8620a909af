//! The flowc runtime: it will store deployed IR, run workflows durably against a
//! journal, and serve webhooks, callbacks, approvals and the admin API.
//!
//! Nothing lives here yet. The modules to come, per `ARCHITECTURE.md`: `store`
//! (SQLite, later PostgreSQL), `engine` (the IR interpreter plus the journal),
//! `schedule` (timers, cron), `server` (axum), `outbound` (reqwest with auth, retry,
//! circuit breaker and the egress guard), `vault` and `clock`. The runtime depends on
//! `flowc-compiler` and never the other way round.

pub mod clock;
pub mod outbound;
pub mod store;
pub mod vault;
