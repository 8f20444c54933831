//! Talking to a running daemon over its Unix socket.

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::path::Path;

/// One request over the socket; a non-2xx answer is an error carrying the daemon's message.
pub async fn request(socket: &Path, method: hyper::Method, path: &str, body: Bytes) -> anyhow::Result<Bytes> {
    let stream = tokio::net::UnixStream::connect(socket).await.with_context(|| {
        format!(
            "no daemon at {} (start one with `gh-p2p-cache serve`)",
            socket.display()
        )
    })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(Full::new(body))?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!("daemon answered {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(body)
}

/// Whether a daemon accepts connections on `socket`.
pub async fn daemon_at(socket: &Path) -> bool {
    tokio::net::UnixStream::connect(socket).await.is_ok()
}
