//! The flowc runtime: it stores deployed IR, runs workflows durably against a
//! journal, and will serve webhooks, callbacks, approvals and the admin API.
//!
//! Here today: `clock` (the one source of time, with a test clock), `store` (SQLite
//! with migrations and a group-commit writer thread, behind a `Store` trait so
//! PostgreSQL can follow), `vault` (secrets encrypted at rest, a `SecretString` that
//! cannot be printed, a scrubber), `outbound` (HTTP with auth, retries, circuit
//! breakers and an egress hook) and `engine` (the IR interpreter plus the journal:
//! `let`, `http` steps, `if`, `match`, `try`, `fail`, `return` so far; cancel,
//! retry from the failed step and replay) and `server` (axum: webhook ingress with
//! verification, typed bodies and idempotent starts, and the admin API under
//! `/api/v1`). Structured events go to `tracing`; the binary chooses where they
//! are written. `schedule` starts the runs of `on schedule` triggers as their cron
//! expressions come due, each fire recorded once. `jit` holds each deployment's
//! tiered evaluator (interpreter first, native code once an expression is hot)
//! and the counts of all of them. The runtime depends on
//! `flowc-compiler` and never the other way round.

pub mod clock;
pub mod dispatch;
pub mod engine;
pub mod jit;
pub mod logging;
pub mod metrics;
pub mod outbound;
pub mod schedule;
pub mod server;
pub mod store;
pub mod vault;
