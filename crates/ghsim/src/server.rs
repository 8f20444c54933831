//! Serving the router over TCP with hyper directly, so an injected reset can really drop the
//! connection (RST, no response) and shutdown can release stalled requests.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::SimConfig;
use crate::faults::Faults;
use crate::pipeline::ResetConnection;
use crate::state::SimState;
use crate::stats::SimStats;

/// Entry point for running a simulator on a socket.
pub struct Sim;

impl Sim {
    /// Binds 127.0.0.1:0 and serves in the background.
    pub async fn start(config: SimConfig) -> anyhow::Result<SimHandle> {
        Self::bind(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Binds `addr` and serves in the background.
    pub async fn bind(config: SimConfig, addr: SocketAddr) -> anyhow::Result<SimHandle> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding simulator to {addr}"))?;
        let addr = listener.local_addr().context("reading the simulator's bound address")?;
        let state = SimState::new(config);
        let base_url = format!("http://{addr}{}", state.config().prefix);
        let graphql_url = format!("http://{addr}{}", state.config().graphql_path());
        let task = tokio::spawn(serve(listener, crate::app(state.clone()), state.clone()));
        tracing::info!(%addr, prefix = %state.config().prefix, "ghsim serving");
        Ok(SimHandle {
            addr,
            base_url,
            graphql_url,
            state,
            task: Some(task),
        })
    }
}

/// A running simulator.
pub struct SimHandle {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT{prefix}`: the REST base URL.
    pub base_url: String,
    /// Where GraphQL lives: `http://127.0.0.1:PORT/graphql` (or `/api/graphql` with `/api/v3`).
    pub graphql_url: String,
    state: SimState,
    /// Taken by `shutdown`; a handle dropped without it still stops its server.
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    pub fn stats(&self) -> SimStats {
        self.state.stats()
    }

    pub fn set_faults(&self, f: Faults) {
        self.state.set_faults(f);
    }

    pub fn clear_faults(&self) {
        self.state.clear_faults();
    }

    pub fn reset_stats(&self) {
        self.state.reset_stats();
    }

    /// The shared state, for inspecting the model or waiting on the in-flight gauge.
    pub fn state(&self) -> &SimState {
        &self.state
    }

    /// Stops accepting, ends stalled requests (their connections close without a response),
    /// lets other requests finish for up to 5 s, then returns.
    pub async fn shutdown(mut self) {
        self.state.begin_shutdown();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimHandle {
    /// A test that fails before `shutdown` must not leave a server (and stalled requests)
    /// running on its runtime.
    fn drop(&mut self) {
        self.state.begin_shutdown();
    }
}

/// Accepts until shutdown; then waits (bounded) for open connections to finish.
async fn serve(listener: TcpListener, app: Router, state: SimState) {
    let tracker = TaskTracker::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    tracker.spawn(connection(stream, app.clone(), state.clone()));
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            () = state.shutdown_signal() => break,
        }
    }
    tracker.close();
    if tokio::time::timeout(Duration::from_secs(5), tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 5 s; abandoning them");
    }
}

/// The error that makes hyper drop a connection without answering.
#[derive(Debug, thiserror::Error)]
#[error("connection reset by fault injection")]
struct InjectedReset;

async fn connection(stream: TcpStream, app: Router, state: SimState) {
    let reset = Arc::new(AtomicBool::new(false));
    let io = TokioIo::new(ResettableStream {
        inner: stream,
        reset: reset.clone(),
    });
    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let app = app.clone();
        let reset = reset.clone();
        async move {
            let resp = app
                .oneshot(req.map(Body::new))
                .await
                .unwrap_or_else(|e: Infallible| match e {});
            if resp.extensions().get::<ResetConnection>().is_some() {
                reset.store(true, Ordering::Relaxed);
                return Err(InjectedReset);
            }
            Ok(resp)
        }
    });
    let conn = http1::Builder::new().serve_connection(io, svc);
    tokio::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        () = state.shutdown_signal() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// A TCP stream that, when flagged, closes with RST (zero linger) instead of FIN, so the
/// client sees "connection reset" rather than a clean end of stream.
struct ResettableStream {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            // Zero linger never blocks: close discards buffers and sends RST at once.
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
