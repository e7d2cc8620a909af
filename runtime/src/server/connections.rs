//! Serving connections: hyper's HTTP/1 server under the axum router, with the
//! limits of [`HttpLimits`] and a graceful stop.
//!
//! `axum::serve` builds hyper's connection builder itself and exposes none of its
//! settings, and the limits on a request's head (how many header fields, how many
//! bytes, how long it may take to arrive) exist only there: hyper applies them
//! while it parses, before a request reaches the router. So the server accepts
//! connections itself, the way `axum::serve` does: each connection is served on a
//! task of its own, with its remote address given to handlers as `ConnectInfo`;
//! when `shutdown` resolves no connection is accepted any more, every open one is
//! told to close after the request in flight, and [`serve`] returns once all have
//! closed.

use super::limits::HttpLimits;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tower::ServiceExt as _;

/// hyper's own default for the number of header fields. Setting any number makes
/// hyper allocate the header array on the heap for every request (about 5% of its
/// parsing time, its documentation says), so this one is left unset.
const HYPER_MAX_HEADERS: usize = 100;

/// hyper's smallest read buffer; a smaller one panics.
const MIN_READ_BUFFER: usize = 8192;

/// Serves `router` on `listener` until `shutdown` resolves and every connection
/// has closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_buf_size(limits.max_header_bytes.max(MIN_READ_BUFFER));
    if limits.max_headers != HYPER_MAX_HEADERS {
        builder.max_headers(limits.max_headers);
    }
    let builder = Arc::new(builder);
    let (stop, stopping) = watch::channel(false);
    // Every connection task holds a sender; `recv` ends when the last is dropped.
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    pause_after(&error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        tokio::spawn(connection(
            Arc::clone(&builder),
            router.clone(),
            stream,
            remote,
            stopping.clone(),
            open.clone(),
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    drop(open);
    let _ = all_closed.recv().await;
}

/// Serves one connection until it closes, or until the server stops and the
/// request in flight (if any) is answered.
async fn connection(
    builder: Arc<http1::Builder>,
    router: Router,
    stream: TcpStream,
    remote: SocketAddr,
    mut stopping: watch::Receiver<bool>,
    _open: mpsc::Sender<()>,
) {
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(remote));
        router.clone().oneshot(request)
    });
    let served = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(served);
    let stopped = async move {
        // The guard `wait_for` returns is not `Send`: dropped here.
        let _ = stopping.wait_for(|stop| *stop).await.map(|_| ());
    };
    tokio::select! {
        result = served.as_mut() => log_end(result),
        () = stopped => {
            served.as_mut().graceful_shutdown();
            log_end(served.await);
        }
    }
}

/// A connection that ends in an error (the client went away, a head over the
/// limits, a head too slow) is the client's business: logged at debug level only.
fn log_end(result: Result<(), hyper::Error>) {
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended");
    }
}

/// After a failed `accept`: at once for an error of that one connection; a second
/// for the others (out of file descriptors, out of memory), which would otherwise
/// spin the loop. A transport pause in wall time, not workflow time, so not read
/// through the runtime's clock.
async fn pause_after(error: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::warn!(%error, "cannot accept a connection; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
