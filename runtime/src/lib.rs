//! The flowc runtime: it stores deployed IR, will run workflows durably against a
//! journal, and will serve webhooks, callbacks, approvals and the admin API.
//!
//! Here today: `clock` (the one source of time, with a test clock), `store` (SQLite
//! with migrations and a group-commit writer thread, behind a `Store` trait so
//! PostgreSQL can follow), `vault` (secrets encrypted at rest, a `SecretString` that
//! cannot be printed, a scrubber) and `outbound` (HTTP with auth, retries, circuit
//! breakers and an egress hook). To come, per `ARCHITECTURE.md`: `engine` (the IR
//! interpreter plus the journal), `schedule` (timers, cron) and `server` (axum). The
//! runtime depends on `flowc-compiler` and never the other way round.

pub mod clock;
pub mod outbound;
pub mod store;
pub mod vault;
