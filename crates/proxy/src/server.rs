//! Binding the app to a Unix socket and loopback TCP, and shutting down without losing writes.
//!
//! Shutdown: stop accepting, let in-flight requests finish within a deadline, flush the store,
//! remove the socket file.

use crate::handler::{ListenerKind, app};
use crate::state::State;
use axum::serve::ListenerExt;
use std::future::Future;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

/// Linux limits `sun_path` to 108 bytes including the terminating NUL.
pub const MAX_SOCKET_PATH: usize = 107;
/// How long in-flight requests get to finish at shutdown.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct Listeners {
    pub unix: Option<(UnixListener, PathBuf)>,
    pub tcp: Option<TcpListener>,
}

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("socket path {0} is {1} bytes; the limit is {MAX_SOCKET_PATH}: choose a shorter --socket")]
    PathTooLong(PathBuf, usize),
    #[error("another daemon is already serving on {0}; stop it or choose another --socket")]
    InUse(PathBuf),
    #[error("cannot bind {0}: {1}")]
    Io(String, io::Error),
}

/// Binds a Unix socket with mode 0600. A directory we create for it gets mode 0700; a stale
/// socket file left by a dead daemon is replaced, a live one is an error.
pub async fn bind_unix(path: &Path) -> Result<UnixListener, BindError> {
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(BindError::PathTooLong(path.to_owned(), len));
    }
    let io_err = |e| BindError::Io(path.display().to_string(), e);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        std::fs::create_dir_all(dir).map_err(io_err)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io_err)?;
    }
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(BindError::InUse(path.to_owned()));
        }
        std::fs::remove_file(path).map_err(io_err)?;
    }
    let listener = UnixListener::bind(path).map_err(io_err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io_err)?;
    Ok(listener)
}

/// Serves until `shutdown` resolves, then drains and flushes.
pub async fn run(state: Arc<State>, listeners: Listeners, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    let cancel = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut socket_path = None;
    if let Some((listener, path)) = listeners.unix {
        socket_path = Some(path);
        let router = app(state.clone(), ListenerKind::Unix);
        let c = cancel.clone();
        tasks.spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(c.cancelled_owned())
                .await
        });
    }
    if let Some(listener) = listeners.tcp {
        let router = app(state.clone(), ListenerKind::Tcp);
        let listener = listener.tap_io(|tcp| {
            // Small request/response exchanges: Nagle would add delayed-ACK stalls.
            let _ = tcp.set_nodelay(true);
        });
        let c = cancel.clone();
        tasks.spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(c.cancelled_owned())
                .await
        });
    }
    shutdown.await;
    tracing::info!("shutting down: draining in-flight requests");
    cancel.cancel();
    let drained = tokio::time::timeout(DRAIN_DEADLINE, async {
        while let Some(r) = tasks.join_next().await {
            if let Ok(Err(e)) = r {
                tracing::warn!(error = %e, "listener ended with an error");
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!("in-flight requests still open after {DRAIN_DEADLINE:?}; closing them");
        tasks.abort_all();
    }
    state.flush().await;
    if let Some(path) = socket_path {
        let _ = std::fs::remove_file(path);
    }
    tracing::info!("stopped; store flushed");
    Ok(())
}
