//! `gh-p2p-cache serve`: opens the store, binds the listeners and runs until SIGTERM/SIGINT.

use crate::settings::{default_cache_dir, default_socket, env_alias, parse_duration, parse_duration_ms, parse_size};
use anyhow::Context;
use clap::Args;
use proxy::server::{Listeners, bind_unix};
use proxy::{ProxyConfig, State, UpstreamBase};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Unix socket to serve on [default: $XDG_RUNTIME_DIR/gh-p2p-cache/api.sock or /tmp/gh-p2p-cache-UID/api.sock]
    #[arg(long, env = "GH_P2P_CACHE_SOCKET")]
    socket: Option<PathBuf>,
    /// Also serve on this loopback TCP address (clients use http://ADDR as their base URL).
    #[arg(long, env = "GH_P2P_CACHE_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// GitHub API base URL; may carry a path prefix (GitHub Enterprise Server: https://HOST/api/v3).
    #[arg(long, env = "GH_P2P_CACHE_UPSTREAM", default_value = "https://api.github.com")]
    upstream: String,
    /// Cache directory [default: ~/.cache/gh-p2p-cache; alias IPFS_GITHUB_CACHE_DIR]
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Keep entries in memory only (nothing written to disk).
    #[arg(long, conflicts_with = "cache_dir")]
    memory_only: bool,
    /// Default freshness for reads outside the named TTL classes [default: 300s; alias IPFS_GITHUB_CACHE_TTL]
    #[arg(long)]
    ttl: Option<String>,
    /// Memory tier bound [default: 256MiB]
    #[arg(long, env = "GH_P2P_CACHE_MAX_MEMORY")]
    max_memory: Option<String>,
    /// Disk tier bound [default: 2GiB; alias IPFS_GITHUB_CACHE_MAX_SIZE]
    #[arg(long)]
    max_disk: Option<String>,
    /// Freshness for one operation, OPERATION=DURATION (repeatable), e.g. list_issues=60s;
    /// also GH_P2P_CACHE_TTL_<OPERATION>. Operations: list_issues, get_issue, list_comments,
    /// list_labels, list_pulls, get_pull, get_repo, get_user, search, graphql, default.
    #[arg(long = "ttl-for", value_name = "OPERATION=DURATION")]
    ttl_for: Vec<String>,
    /// verify: another token gets an entry only after GitHub confirms its access (free 304);
    /// trust: skip that for fleets where every token has the same access.
    #[arg(long, env = "GH_P2P_CACHE_POLICY", default_value = "verify", value_parser = ["verify", "trust"])]
    policy: String,
    /// How long past its TTL an entry may be served while GitHub fails (stale-if-error).
    #[arg(long, env = "GH_P2P_CACHE_MAX_STALE", default_value = "24h")]
    max_stale: String,
    /// Upstream requests in flight at once (GitHub's secondary limit is 100).
    #[arg(long, env = "GH_P2P_CACHE_MAX_CONCURRENT", default_value_t = 80)]
    max_concurrent: usize,
    /// Minimum gap between two writes of one token.
    #[arg(long, env = "GH_P2P_CACHE_WRITE_SPACING", default_value = "1s")]
    write_spacing: String,
    /// Publish the cache to this kubo RPC API at `POST /_cache/finish` (sealed with the secret
    /// from GH_P2P_CACHE_SECRET or GH_P2P_CACHE_SECRET_FILE; the root CID goes into the stats)
    #[arg(long, env = "GH_P2P_CACHE_IPFS_API")]
    ipfs_api: Option<String>,
    #[command(flatten)]
    peers: peering::PeerArgs,
    /// How long a miss may wait for peers before going to GitHub.
    #[arg(long, env = "GH_P2P_CACHE_PEER_DEADLINE", default_value = "150ms")]
    peer_deadline: String,
    /// How long warm start from the sync-node may take (it runs while the daemon serves).
    #[arg(long, env = "GH_P2P_CACHE_WARM_DEADLINE", default_value = "20s")]
    warm_deadline: String,
    /// How long `POST /_cache/finish` waits for the sync-node's acknowledgement.
    #[arg(long, env = "GH_P2P_CACHE_PUBLISH_DEADLINE", default_value = "30s")]
    publish_deadline: String,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let upstream = UpstreamBase::parse(&args.upstream)?;
    let mut config = ProxyConfig::new(upstream);
    if let Some(ttl) = args
        .ttl
        .or_else(|| env_alias("GH_P2P_CACHE_TTL", "IPFS_GITHUB_CACHE_TTL"))
    {
        config.ttl = proxy::TtlTable::new(parse_duration(&ttl).context("--ttl")?);
    }
    apply_operation_ttls(&mut config.ttl, &args.ttl_for)?;
    config.policy = if args.policy == "trust" {
        proxy::SharePolicy::Trust
    } else {
        proxy::SharePolicy::Verify
    };
    config.max_stale = parse_duration(&args.max_stale).context("--max-stale")?;
    if args.max_concurrent == 0 || args.max_concurrent > 100 {
        anyhow::bail!("--max-concurrent must be between 1 and 100 (GitHub refuses more than 100 at once)");
    }
    config.governor.max_concurrent = args.max_concurrent;
    config.governor.write_spacing = parse_duration_ms(&args.write_spacing).context("--write-spacing")?;
    config.peer_deadline = parse_duration_ms(&args.peer_deadline).context("--peer-deadline")?;
    let warm_deadline = parse_duration_ms(&args.warm_deadline).context("--warm-deadline")?;
    let publish_deadline = parse_duration_ms(&args.publish_deadline).context("--publish-deadline")?;
    args.peers.check()?;
    let max_memory = parse_size(&args.max_memory.unwrap_or_else(|| "256MiB".into())).context("--max-memory")?;
    let max_disk = args
        .max_disk
        .or_else(|| env_alias("GH_P2P_CACHE_MAX_DISK", "IPFS_GITHUB_CACHE_MAX_SIZE"))
        .map(|s| parse_size(&s).context("--max-disk"))
        .transpose()?
        .unwrap_or(2 << 30);
    let store = if args.memory_only {
        store::Store::memory_only(max_memory)
    } else {
        let dir = args
            .cache_dir
            .or_else(|| env_alias("GH_P2P_CACHE_DIR", "IPFS_GITHUB_CACHE_DIR").map(PathBuf::from))
            .unwrap_or_else(default_cache_dir);
        let store = store::Store::open(&dir, max_memory, max_disk)?;
        if let Some(aside) = store.disk().and_then(|d| d.moved_aside.as_ref()) {
            tracing::warn!(aside = %aside.display(), "the cache database was unusable and was moved aside; starting empty");
        }
        tracing::info!(dir = %dir.display(), "cache directory");
        store
    };
    let store = Arc::new(store);
    let state = State::new(config, store.clone());
    if let Some(api) = &args.ipfs_api {
        state.on_finish(publish_hook(api).await?);
    }
    // Peers join in the background: the daemon serves at once, with or without them.
    // Peers asked for: a secret that is given but unusable fails here, like a bad ticket; none
    // at all turns sharing off (and /_cache/peers says so).
    let secret_given =
        std::env::var_os("GH_P2P_CACHE_SECRET").is_some() || std::env::var_os("GH_P2P_CACHE_SECRET_FILE").is_some();
    let secret = match crate::snapshots::secret_from(None, false) {
        Ok(s) => Some(s),
        Err(e) if secret_given && args.peers.wanted() => return Err(e.context("peer sharing needs a usable secret")),
        Err(_) => None,
    };
    let scope = crate::snapshots::scope_from(None);
    // The claim board for `report-error`: local, then backed by the sync-node once peers are up.
    let claims = Arc::new(peering::claims::DaemonClaims::new());
    state.attach_claims(claims.clone());
    peering::start_in_background(
        args.peers,
        claims,
        secret,
        scope,
        state.clone(),
        store,
        warm_deadline,
        publish_deadline,
    );

    let shutdown = shutdown_signal()?;
    let socket = args.socket.unwrap_or_else(default_socket);
    let unix = bind_unix(&socket).await?;
    let tcp = match args.listen {
        Some(addr) => {
            if !addr.ip().is_loopback() {
                anyhow::bail!("--listen {addr} is not a loopback address; the cache serves only this machine");
            }
            Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr}"))?,
            )
        }
        None => None,
    };
    let tcp_addr = tcp.as_ref().map(|l| l.local_addr()).transpose()?;
    // One machine-readable line on stdout; write errors are ignored (stdout may be closed).
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "gh-p2p-cache serving unix={} tcp={}",
        socket.display(),
        tcp_addr.map(|a| a.to_string()).unwrap_or_else(|| "-".into())
    );
    let _ = out.flush();
    tracing::info!(socket = %socket.display(), tcp = ?tcp_addr, upstream = %args.upstream, "ready");

    proxy::server::run(
        state,
        Listeners {
            unix: Some((unix, socket)),
            tcp,
        },
        shutdown,
    )
    .await?;
    Ok(())
}

/// `--ttl-for` flags win over `GH_P2P_CACHE_TTL_<OPERATION>` variables.
fn apply_operation_ttls(table: &mut proxy::TtlTable, flags: &[String]) -> anyhow::Result<()> {
    for op in proxy::OPERATIONS {
        let var = format!("GH_P2P_CACHE_TTL_{}", op.to_ascii_uppercase());
        if let Ok(v) = std::env::var(&var) {
            table.set(op, parse_duration(&v).with_context(|| var.clone())?)?;
        }
    }
    for flag in flags {
        let (op, dur) = flag
            .split_once('=')
            .with_context(|| format!("--ttl-for {flag:?} must look like OPERATION=DURATION, e.g. list_issues=60s"))?;
        table.set(
            op.trim(),
            parse_duration(dur).with_context(|| format!("--ttl-for {flag:?}"))?,
        )?;
    }
    Ok(())
}

/// Installs the SIGTERM/SIGINT handlers now (before the ready line, so a signal sent the
/// moment the socket is up is not lost to the default action) and resolves on the first signal.
pub(crate) fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    })
}

/// A `POST /_cache/finish` hook that exports the store and imports it into kubo, pinned.
async fn publish_hook(api: &str) -> anyhow::Result<proxy::FinishHook> {
    let kubo = Arc::new(ipfs::KuboClient::new(api).with_context(|| format!("--ipfs-api {api}"))?);
    let secret = crate::snapshots::secret_from(None, false).context("--ipfs-api publishes sealed snapshots")?;
    let scope = crate::snapshots::scope_from(None);
    // Derivation is slow by design: once, at start, off the async threads.
    let keys = Arc::new(tokio::task::spawn_blocking(move || entry::Keys::derive(&secret, &scope)).await?);
    Ok(Arc::new(move |store: Arc<store::Store>| {
        let (kubo, keys) = (kubo.clone(), keys.clone());
        Box::pin(async move {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let file = dir.path().join("snapshot.car");
            let out = file.clone();
            let report = tokio::task::spawn_blocking(move || -> Result<share::ExportReport, String> {
                let scrubber = entry::Scrubber::new(&[]).map_err(|e| e.to_string())?;
                share::export_file(&store, &keys, &scrubber, &out, &mut |_, _| {}).map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())??;
            let roots = kubo.dag_import_file(&file, true).await.map_err(|e| e.to_string())?;
            if !roots.iter().any(|r| r.to_string() == report.root) {
                return Err(format!(
                    "kubo imported roots {roots:?}, not the snapshot's root {}",
                    report.root
                ));
            }
            tracing::info!(root = %report.root, entries = report.entries, "published to IPFS");
            Ok(("IPFS".to_owned(), report.root))
        })
    }))
}
