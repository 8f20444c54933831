//! `publish` and `warm`: snapshots to and from IPFS. `publish` exports the cache directory,
//! imports the CAR into kubo (pinning its root) and optionally asks a pinning service to pin it;
//! `warm --ipfs-root CID` fetches a snapshot through kubo or trustless gateways, verifies every
//! block, and imports it. Like `export`/`import`, they work on the cache directory.

use crate::snapshots::{KeyArgs, Progress};
use anyhow::{Context, bail};
use clap::Args;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct PublishArgs {
    /// kubo RPC API, like http://127.0.0.1:5001 [or GH_P2P_CACHE_IPFS_API]
    #[arg(long, env = "GH_P2P_CACHE_IPFS_API")]
    ipfs_api: Option<String>,
    /// IPFS Pinning Service API endpoint to pin the root with [or GH_P2P_CACHE_PINNING_SERVICE];
    /// its bearer token comes from GH_P2P_CACHE_PINNING_TOKEN
    #[arg(long, env = "GH_P2P_CACHE_PINNING_SERVICE")]
    pinning_service: Option<String>,
    /// How long to wait for the pinning service to report `pinned`.
    #[arg(long, default_value = "60s")]
    pin_timeout: String,
    #[command(flatten)]
    keys: KeyArgs,
}

#[derive(Args, Debug)]
pub struct WarmArgs {
    /// Root CID of the snapshot [or GH_P2P_CACHE_IPFS_ROOT]
    #[arg(long, env = "GH_P2P_CACHE_IPFS_ROOT")]
    ipfs_root: Option<String>,
    /// kubo RPC API to fetch through [or GH_P2P_CACHE_IPFS_API]
    #[arg(long, env = "GH_P2P_CACHE_IPFS_API")]
    ipfs_api: Option<String>,
    /// Trustless gateways to try in order (repeatable) when no kubo API is given
    /// [or GH_P2P_CACHE_GATEWAYS, comma-separated]
    #[arg(long = "gateway", value_name = "URL")]
    gateways: Vec<String>,
    #[command(flatten)]
    keys: KeyArgs,
    #[command(flatten)]
    peers: peering::PeerArgs,
    /// How long warming from a sync-node may take.
    #[arg(long, default_value = "60s")]
    deadline: String,
}

pub async fn publish(args: PublishArgs) -> anyhow::Result<()> {
    if args.ipfs_api.is_none() && args.pinning_service.is_none() {
        bail!("nowhere to publish: pass --ipfs-api URL (kubo) and/or --pinning-service URL");
    }
    let pin_timeout = crate::settings::parse_duration(&args.pin_timeout).context("--pin-timeout")?;
    let (keys, store) = args.keys.open().await?;
    let dir = tempfile::tempdir().context("temporary directory")?;
    let file = dir.path().join("snapshot.car");
    let report = {
        let (keys, store, file) = (keys.clone(), store.clone(), file.clone());
        tokio::task::spawn_blocking(move || -> anyhow::Result<share::ExportReport> {
            let mut bar = Progress::new("sealing");
            let r = share::export_file(&store, &keys, &entry::Scrubber::new(&[])?, &file, &mut |d, t| {
                bar.tick(d, t)
            });
            bar.done();
            Ok(r?)
        })
        .await??
    };
    let root = ipfs::parse_cid(&report.root).context("the snapshot's root")?;
    if let Some(api) = &args.ipfs_api {
        let kubo = ipfs::KuboClient::new(api)?;
        let roots = kubo
            .dag_import_file(&file, true)
            .await
            .with_context(|| format!("publishing to kubo at {api}"))?;
        if !roots.contains(&root) {
            bail!("kubo at {api} imported roots {roots:?}, not our root {root}");
        }
        println!(
            "published {} entries to kubo at {api}; root {root} (pinned)",
            report.entries
        );
    }
    if let Some(endpoint) = &args.pinning_service {
        let token = std::env::var("GH_P2P_CACHE_PINNING_TOKEN")
            .context("the pinning service needs GH_P2P_CACHE_PINNING_TOKEN")?;
        let client = ipfs::PinningClient::new(endpoint, &token)?;
        let status = client
            .pin(&root, "gh-p2p-cache snapshot", pin_timeout)
            .await
            .with_context(|| format!("pinning {root} at {endpoint}"))?;
        println!("pinning service {endpoint}: {root} is {}", status.status.as_str());
    }
    println!("root {root}");
    Ok(())
}

pub async fn warm(args: WarmArgs) -> anyhow::Result<()> {
    let Some(root) = args.ipfs_root.as_deref() else {
        if args.peers.wanted() {
            return warm_from_peers(args).await;
        }
        bail!("nothing to warm from: pass --ipfs-root CID (IPFS) or --peer TICKET (a sync-node)");
    };
    let root = ipfs::parse_cid(root).context("--ipfs-root")?;
    let mut gateways = args.gateways.clone();
    if gateways.is_empty()
        && let Ok(list) = std::env::var("GH_P2P_CACHE_GATEWAYS")
    {
        gateways = list
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect();
    }
    if args.ipfs_api.is_none() && gateways.is_empty() {
        bail!("nowhere to fetch {root} from: pass --ipfs-api URL (kubo) or --gateway URL");
    }
    let (keys, store) = args.keys.open().await?;
    let dir = tempfile::tempdir().context("temporary directory")?;
    let file = dir.path().join("snapshot.car");
    let source = match &args.ipfs_api {
        Some(api) => {
            ipfs::KuboClient::new(api)?
                .with_timeout(Duration::from_secs(120))
                .fetch_car(&root, &file)
                .await
                .with_context(|| format!("fetching {root} from kubo at {api}"))?;
            format!("kubo at {api}")
        }
        None => {
            let report = ipfs::GatewayClient::new(gateways)?
                .fetch_car(&root, &file)
                .await
                .with_context(|| format!("fetching {root}"))?;
            for attempt in &report.rejected {
                eprintln!("warning: gateway skipped: {attempt:?}");
            }
            format!("gateway {}", report.gateway)
        }
    };
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<share::ImportReport> {
        let mut bar = Progress::new("importing");
        let r = share::import_file(&store, &keys, &file, &mut |d, t| bar.tick(d, t));
        bar.done();
        Ok(r?)
    })
    .await??;
    println!(
        "warmed {} entries from {root} via {source} ({} kept local, {} sealed with another secret, {} rejected)",
        report.imported, report.kept_local, report.foreign, report.rejected
    );
    Ok(())
}

/// `warm --peer TICKET`: a snapshot from the first sync-node that answers, into the cache dir.
async fn warm_from_peers(args: WarmArgs) -> anyhow::Result<()> {
    let deadline = crate::settings::parse_duration(&args.deadline).context("--deadline")?;
    let (keys, store) = args.keys.open().await?;
    let link = peering::Link::start(&args.peers, keys, store.clone(), deadline).await?;
    let warmed = link.warm(deadline).await;
    store.flush().await;
    if let Some(e) = warmed.error {
        bail!("warming from peers failed: {e}");
    }
    println!(
        "warmed {} entries from {} in {} ms",
        warmed.entries, warmed.source, warmed.millis
    );
    Ok(())
}
