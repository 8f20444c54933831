//! Talking to a running daemon over its Unix socket (used by `stats` and later admin verbs).

use crate::settings::default_socket;
use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// The daemon's socket [default: as for serve]
    #[arg(long, env = "GH_P2P_CACHE_SOCKET")]
    socket: Option<PathBuf>,
}

pub async fn stats(args: StatsArgs) -> anyhow::Result<()> {
    let socket = args.socket.unwrap_or_else(default_socket);
    let body = get(&socket, "/_cache/stats").await?;
    let value: serde_json::Value = serde_json::from_slice(&body).context("the daemon answered with invalid JSON")?;
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

#[derive(Args, Debug)]
pub struct InvalidateArgs {
    /// One entry: its key as `/_cache/stats` tools show it, or `GET /path?query`.
    #[arg(conflicts_with = "prefix", required_unless_present = "prefix")]
    key: Option<String>,
    /// Every entry whose key or path starts with this, e.g. /repos/OWNER/REPO.
    #[arg(long)]
    prefix: Option<String>,
    /// The daemon's socket [default: as for serve]
    #[arg(long, env = "GH_P2P_CACHE_SOCKET")]
    socket: Option<PathBuf>,
}

pub async fn invalidate(args: InvalidateArgs) -> anyhow::Result<()> {
    let socket = args.socket.unwrap_or_else(default_socket);
    let body = serde_json::json!({ "key": args.key, "prefix": args.prefix });
    let body = serde_json::Value::Object(
        body.as_object()
            .unwrap()
            .clone()
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .collect(),
    );
    let answer = request(
        &socket,
        hyper::Method::POST,
        "/_cache/invalidate",
        Bytes::from(body.to_string()),
    )
    .await?;
    let v: serde_json::Value = serde_json::from_slice(&answer).context("the daemon answered with invalid JSON")?;
    println!("invalidated {} entries", v["invalidated"]);
    Ok(())
}

/// One GET over the socket; a non-2xx answer is an error carrying the daemon's message.
pub async fn get(socket: &Path, path: &str) -> anyhow::Result<Bytes> {
    request(socket, hyper::Method::GET, path, Bytes::new()).await
}

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
