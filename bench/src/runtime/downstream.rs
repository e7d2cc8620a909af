//! The fast local API every benchmarked HTTP step calls.
//!
//! The steps benchmark measures the runtime's checkpointing, not a remote
//! service, so the step target must cost as little as possible: an axum server on
//! its own thread (a current-thread tokio runtime, so it takes at most one core
//! away from the engine) that answers `POST /add {acc, i}` with `{acc: acc + i}`.
//! That keeps each step a real HTTP round trip on loopback whose result the next
//! step depends on, the shape of the peers' "trivial step" `acc + i`. It counts
//! the requests it answered, which is how a benchmark through `flowc serve` knows
//! the runs it started have done their steps.

use anyhow::{Context as _, Result, anyhow};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value as Json_, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// A running downstream server; stopped when dropped.
pub struct Downstream {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base: String,
    answered: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Deserialize)]
struct Add {
    acc: i64,
    i: i64,
}

impl Downstream {
    /// Binds a free loopback port and serves on a thread of its own.
    pub fn start() -> Result<Downstream> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .context("cannot bind the downstream server")?;
        listener.set_nonblocking(true)?;
        let base = format!("http://{}", listener.local_addr()?);
        let answered = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = oneshot::channel::<()>();
        let counter = Arc::clone(&answered);
        let thread = std::thread::Builder::new()
            .name("downstream".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        eprintln!("error: the downstream server cannot start: {error}");
                        return;
                    }
                };
                runtime.block_on(async move {
                    let app = Router::new().route("/add", post(add)).with_state(counter);
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        eprintln!("error: the downstream listener cannot be registered");
                        return;
                    };
                    // Stop at once, open keep-alive connections included: the
                    // connection tasks go with the runtime.
                    tokio::select! {
                        served = axum::serve(listener, app) => {
                            if let Err(error) = served {
                                eprintln!("error: the downstream server failed: {error}");
                            }
                        }
                        _ = stopped => {}
                    }
                });
            })
            .map_err(|error| anyhow!("cannot start the downstream thread: {error}"))?;
        Ok(Downstream {
            base,
            answered,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Requests answered since start.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }
}

impl Drop for Downstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn add(State(answered): State<Arc<AtomicU64>>, Json(add): Json<Add>) -> Json<Json_> {
    answered.fetch_add(1, Ordering::Relaxed);
    Json(json!({ "acc": add.acc.wrapping_add(add.i) }))
}
