//! `gh-p2p-cache sync-node`: the long-lived node that keeps a fleet's shared cache between runs.
//!
//! For now it keeps a persistent store, turns it into a snapshot on an interval, serves the
//! latest snapshot as a trustless IPFS gateway (`GET /ipfs/{cid}?format=raw|car`), and
//! publishes each snapshot to kubo when `--ipfs-api` is given. Peer sync (accepting publishes
//! from runners, serving snapshots over iroh) joins it with the `sync` crate.

use crate::settings::{default_cache_dir, parse_duration};
use anyhow::Context;
use clap::Args;
use ipfs::gateway_server::{BlockStore, MemoryBlocks};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

#[derive(Args, Debug)]
pub struct SyncNodeArgs {
    /// The node's cache directory [default: ~/.cache/gh-p2p-cache/sync-node]
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Where to serve the trustless gateway (GET /ipfs/{cid}?format=raw|car).
    #[arg(long, env = "GH_P2P_CACHE_GATEWAY_LISTEN", default_value = "127.0.0.1:8080")]
    gateway_listen: SocketAddr,
    /// How often to snapshot the store (and publish it).
    #[arg(long, default_value = "10m")]
    snapshot_every: String,
    /// Publish every snapshot to this kubo RPC API (root pinned).
    #[arg(long, env = "GH_P2P_CACHE_IPFS_API")]
    ipfs_api: Option<String>,
    /// File holding the fleet's secret [or GH_P2P_CACHE_SECRET_FILE / GH_P2P_CACHE_SECRET]
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// Sharing scope [or GH_P2P_CACHE_SCOPE, else $GITHUB_REPOSITORY, else "default"]
    #[arg(long)]
    scope: Option<String>,
    #[command(flatten)]
    peers: peering::PeerArgs,
    /// Run a relay on this address (plain HTTP; put TLS in front for the internet) for peers
    /// that cannot reach each other directly; the node uses it too unless --relay says
    /// otherwise. Give runners `--relay http://ADDR` (the Action's `relay` input).
    #[arg(long, value_name = "ADDR")]
    relay_listen: Option<SocketAddr>,
}

/// How many snapshots the gateway keeps serving: a root handed out a moment ago (in a job
/// summary, to a peer) must stay fetchable after the next snapshot replaces it.
const KEEP_SNAPSHOTS: usize = 3;

/// The latest snapshots' blocks, newest first.
#[derive(Default)]
struct Latest(RwLock<Vec<Arc<MemoryBlocks>>>);

impl Latest {
    fn push(&self, blocks: MemoryBlocks) {
        let mut list = self.0.write().expect("snapshots lock");
        list.insert(0, Arc::new(blocks));
        list.truncate(KEEP_SNAPSHOTS);
    }
}

impl BlockStore for Latest {
    fn get(&self, cid: &entry::Cid) -> Option<bytes::Bytes> {
        self.0.read().expect("snapshots lock").iter().find_map(|b| b.get(cid))
    }
}

pub async fn run(args: SyncNodeArgs) -> anyhow::Result<()> {
    let every = parse_duration(&args.snapshot_every).context("--snapshot-every")?;
    anyhow::ensure!(every.as_secs() >= 1, "--snapshot-every must be at least 1s");
    let dir = args
        .cache_dir
        .clone()
        .unwrap_or_else(|| default_cache_dir().join("sync-node"));
    let secret = crate::snapshots::secret_from(args.secret_file.as_ref(), false)?;
    let scope = crate::snapshots::scope_from(args.scope.as_ref());
    let keys = Arc::new(tokio::task::spawn_blocking(move || entry::Keys::derive(&secret, &scope)).await?);
    let store = Arc::new(store::Store::open(&dir, 256 << 20, u64::MAX)?);
    let kubo = args.ipfs_api.as_deref().map(ipfs::KuboClient::new).transpose()?;
    let latest = Arc::new(Latest::default());

    let shutdown = crate::serve::shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(args.gateway_listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.gateway_listen))?;
    let gateway_addr = listener.local_addr()?;
    let relay = match args.relay_listen {
        Some(addr) => Some(start_relay(addr).await?),
        None => None,
    };
    let mut peer_args = args.peers.clone();
    if let Some((_, url)) = &relay
        && peer_args.relay.is_none()
        && std::env::var_os("GH_P2P_CACHE_RELAY").is_none()
    {
        peer_args.relay = Some(url.clone());
    }
    let (node, blocks) = peering::sync_role::start(&peer_args, keys.clone(), store.clone(), &dir).await?;
    if relay.is_some() {
        // The ticket should carry the relay, so runners that cannot reach this node directly
        // find it there; the endpoint picks its home relay a moment after binding.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while node.addr().relay_urls().next().is_none() {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .await;
    }
    let router = ipfs::gateway_server::router(latest.clone()).merge(metrics_router(node.clone(), blocks.clone()));
    let cancel = tokio_util::sync::CancellationToken::new();
    let server = {
        let c = cancel.clone();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(c.cancelled_owned())
                .await
        })
    };
    say(&format!(
        "gh-p2p-cache sync-node gateway=http://{gateway_addr} dir={} id={}",
        dir.display(),
        node.id()
    ));
    if let Some((_, url)) = &relay {
        say(&format!("relay={url}"));
    }
    say(&format!("ticket={}", node.ticket()));

    let snapshots = dir.join("snapshots");
    std::fs::create_dir_all(&snapshots)?;
    let work = async {
        // Sealing uses fresh nonces, so every snapshot has a new root: make one only when the
        // store changed (by entry count and size; a revalidation alone does not count).
        let mut last_seen = None;
        loop {
            let usage = store.stats().disk;
            if last_seen == Some((usage.entries, usage.bytes)) {
                tokio::time::sleep(every).await;
                continue;
            }
            match snapshot(&store, &keys, &snapshots).await {
                Ok((root, entries, blocks)) => {
                    last_seen = Some((usage.entries, usage.bytes));
                    latest.push(blocks);
                    say(&format!("snapshot root={root} entries={entries}"));
                    if let Some(kubo) = &kubo {
                        match kubo.dag_import_file(&snapshots.join("latest.car"), true).await {
                            Ok(_) => say(&format!("published root={root} to {}", kubo.api_url())),
                            Err(e) => tracing::warn!(error = %e, "publishing to IPFS failed; will retry next time"),
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "snapshot failed; will retry next time"),
            }
            tokio::time::sleep(every).await;
        }
    };
    tokio::select! {
        _ = shutdown => {}
        _ = work => {}
    }
    cancel.cancel();
    let _ = server.await;
    if let Ok(node) = Arc::try_unwrap(node) {
        node.shutdown().await;
    }
    if let Some((server, _)) = relay
        && let Err(e) = server.shutdown().await
    {
        tracing::warn!(error = %e, "the relay did not shut down cleanly");
    }
    store.flush().await;
    Ok(())
}

/// An iroh relay (plain HTTP) on `addr`; returns it with its URL.
async fn start_relay(addr: SocketAddr) -> anyhow::Result<(iroh_relay::server::Server, String)> {
    let mut config = iroh_relay::server::ServerConfig::default();
    config.relay = Some(iroh_relay::server::RelayConfig::new(addr));
    let server = iroh_relay::server::Server::spawn(config)
        .await
        .with_context(|| format!("cannot run a relay on {addr}"))?;
    let bound = server.http_addr().context("the relay has no HTTP address")?;
    Ok((server, format!("http://{bound}")))
}

/// `GET /metrics`: the node's peer counters and what it holds, as Prometheus text.
fn metrics_router(node: Arc<sync::PeerNode>, blocks: Arc<peering::blocks::DiskBlocks>) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (node, blocks) = (node.clone(), blocks.clone());
            async move {
                let held = tokio::task::spawn_blocking(move || blocks.count()).await.unwrap_or(0);
                let s = node.stats();
                let mut out = String::new();
                let mut metric = |name: &str, help: &str, kind: &str, value: u64| {
                    out.push_str(&format!(
                        "# HELP ghp2p_sync_{name} {help}\n# TYPE ghp2p_sync_{name} {kind}\nghp2p_sync_{name} {value}\n"
                    ));
                };
                metric("blocks_held", "Envelopes held on disk.", "gauge", held);
                metric(
                    "neighbors",
                    "Direct gossip neighbours.",
                    "gauge",
                    node.neighbor_count() as u64,
                );
                metric("auth_ok_total", "Handshakes passed.", "counter", s.auth_ok);
                metric("auth_failures_total", "Handshakes failed.", "counter", s.auth_failures);
                metric(
                    "bad_peers_total",
                    "Peers disconnected for bad data.",
                    "counter",
                    s.bad_peers,
                );
                metric(
                    "announcements_received_total",
                    "Announcements received.",
                    "counter",
                    s.announcements_received,
                );
                metric(
                    "blocks_served_total",
                    "Envelopes served to peers.",
                    "counter",
                    s.blocks_served,
                );
                metric(
                    "blocks_verified_total",
                    "Envelopes received and verified.",
                    "counter",
                    s.blocks_verified,
                );
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    out,
                )
            }
        }),
    )
}

/// Exports the store to `dir/latest.car` (atomically) and loads its blocks for the gateway.
async fn snapshot(
    store: &Arc<store::Store>,
    keys: &Arc<entry::Keys>,
    dir: &Path,
) -> anyhow::Result<(String, u64, MemoryBlocks)> {
    let (store, keys, dir) = (store.clone(), keys.clone(), dir.to_owned());
    tokio::task::spawn_blocking(move || {
        let file = dir.join("latest.car");
        let report = share::export_file(&store, &keys, &entry::Scrubber::new(&[])?, &file, &mut |_, _| {})?;
        let blocks = MemoryBlocks::from_file(&file)?;
        Ok((report.root, report.entries, blocks))
    })
    .await?
}

/// One machine-readable line on stdout (errors ignored: stdout may be closed).
fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
