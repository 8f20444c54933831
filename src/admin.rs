//! The admin verbs: `stats`, `invalidate`, `clean`, `clear`. Each talks to the running daemon
//! when one answers on the socket, else works on the cache directory directly.

use crate::client::{daemon_at, request};
use crate::settings::{default_cache_dir, default_socket, env_alias, parse_duration};
use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use std::path::PathBuf;

/// Where the cache is: a daemon's socket, else a cache directory.
#[derive(Args, Debug)]
pub struct Target {
    /// The daemon's socket [default: as for serve]
    #[arg(long, env = "GH_P2P_CACHE_SOCKET")]
    socket: Option<PathBuf>,
    /// The cache directory to use when no daemon answers [default: as for serve]
    #[arg(long)]
    cache_dir: Option<PathBuf>,
}

enum Reached {
    Daemon(PathBuf),
    Offline(store::Store, PathBuf),
}

impl Target {
    async fn reach(self) -> anyhow::Result<Reached> {
        let socket = self.socket.unwrap_or_else(default_socket);
        if daemon_at(&socket).await {
            return Ok(Reached::Daemon(socket));
        }
        let dir = self
            .cache_dir
            .or_else(|| env_alias("GH_P2P_CACHE_DIR", "IPFS_GITHUB_CACHE_DIR").map(PathBuf::from))
            .unwrap_or_else(default_cache_dir);
        if !dir.join(store::DB_FILE).exists() {
            bail!(
                "no daemon at {} and no cache in {} (start one with `gh-p2p-cache serve`, or pass --socket / --cache-dir)",
                socket.display(),
                dir.display()
            );
        }
        // No eviction bound: an admin command must not evict on its own.
        let store = store::Store::open(&dir, 16 << 20, u64::MAX).with_context(|| {
            format!(
                "no daemon answers at {}; opening {} directly",
                socket.display(),
                dir.display()
            )
        })?;
        Ok(Reached::Offline(store, dir))
    }
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

pub async fn stats(args: StatsArgs) -> anyhow::Result<()> {
    match args.target.reach().await? {
        Reached::Daemon(socket) => {
            let body = request(&socket, hyper::Method::GET, "/_cache/stats", Bytes::new()).await?;
            let v: serde_json::Value =
                serde_json::from_slice(&body).context("the daemon answered with invalid JSON")?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", daemon_table(&socket, &v));
            }
        }
        Reached::Offline(store, dir) => {
            let s = store.stats();
            let range = store.age_range().await;
            if args.json {
                let v = serde_json::json!({
                    "cache_dir": dir,
                    "daemon": false,
                    "disk_entries": s.disk.entries,
                    "disk_bytes": s.disk.bytes,
                    "oldest_fetch_ms": range.map(|r| r.0),
                    "newest_fetch_ms": range.map(|r| r.1),
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("cache directory {} (no daemon running)", dir.display());
                println!("entries   {} ({} on disk)", s.disk.entries, human_bytes(s.disk.bytes));
                if let Some((oldest, newest)) = range {
                    let now = now_ms();
                    println!(
                        "fetched   oldest {} ago, newest {} ago",
                        human_age(now, oldest),
                        human_age(now, newest)
                    );
                }
            }
        }
    }
    Ok(())
}

fn daemon_table(socket: &std::path::Path, v: &serde_json::Value) -> String {
    use std::fmt::Write;
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(out, "gh-p2p-cache daemon at {}", socket.display());
    let _ = writeln!(
        out,
        "requests      {:>8}   served from cache {:.1} %",
        n("total_requests"),
        v["hit_rate"].as_f64().unwrap_or(0.0) * 100.0
    );
    for (label, key) in [
        ("HIT", "cache_hits"),
        ("REVALIDATED", "revalidated"),
        ("COALESCED", "coalesced"),
        ("STALE", "stale_served"),
        ("PEER", "p2p_contributions"),
        ("MISS", "cache_misses"),
        ("BYPASS", "bypassed"),
    ] {
        let _ = writeln!(out, "  {label:<11} {:>8}", n(key));
    }
    let _ = writeln!(
        out,
        "upstream      {:>8}   rate-limit units used {}, saved {}",
        n("upstream_requests"),
        n("rate_limit_units_used"),
        n("rate_limit_units_saved")
    );
    let _ = writeln!(out, "bytes saved   {:>8}", human_bytes(n("bytes_saved")));
    let l = &v["latency_ms"];
    let ms = |k: &str| l[k].as_f64().unwrap_or(0.0);
    let _ = writeln!(
        out,
        "latency ms    p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}",
        ms("p50"),
        ms("p90"),
        ms("p99"),
        ms("max")
    );
    let st = &v["store"];
    let sn = |k: &str| st[k].as_u64().unwrap_or(0);
    let _ = writeln!(
        out,
        "store         memory {} entries ({}), disk {} entries ({})",
        sn("memory_entries"),
        human_bytes(sn("memory_bytes")),
        sn("disk_entries"),
        human_bytes(sn("disk_bytes"))
    );
    out
}

#[derive(Args, Debug)]
pub struct InvalidateArgs {
    /// One entry: its full key, or `GET /path?query`.
    #[arg(conflicts_with = "prefix", required_unless_present = "prefix")]
    key: Option<String>,
    /// Every entry whose key or path starts with this, e.g. /repos/OWNER/REPO.
    #[arg(long)]
    prefix: Option<String>,
    #[command(flatten)]
    target: Target,
}

pub async fn invalidate(args: InvalidateArgs) -> anyhow::Result<()> {
    let removed = match args.target.reach().await? {
        Reached::Daemon(socket) => {
            let body = match (&args.key, &args.prefix) {
                (Some(k), _) => serde_json::json!({ "key": k }),
                (_, Some(p)) => serde_json::json!({ "prefix": p }),
                _ => bail!("give a KEY or --prefix"),
            };
            post_count(&socket, "/_cache/invalidate", body, "invalidated").await?
        }
        Reached::Offline(store, _) => {
            let (key, prefix) = (args.key.clone(), args.prefix.clone());
            let n = store
                .remove_where(move |k, _| match (&key, &prefix) {
                    (Some(key), _) => k == key || k.split(" accept=").next() == Some(key.as_str()),
                    (_, Some(p)) => {
                        k.starts_with(p.as_str())
                            || k.split_once(' ').is_some_and(|(_, rest)| rest.starts_with(p.as_str()))
                    }
                    _ => false,
                })
                .await;
            n as u64
        }
    };
    println!("invalidated {removed} entries");
    Ok(())
}

#[derive(Args, Debug)]
pub struct CleanArgs {
    /// Remove entries fetched (or last revalidated) longer ago than this, e.g. 7d, 12h.
    #[arg(long, value_name = "DURATION")]
    older_than: String,
    #[command(flatten)]
    target: Target,
}

pub async fn clean(args: CleanArgs) -> anyhow::Result<()> {
    let age = parse_duration(&args.older_than).context("--older-than")?;
    let removed = match args.target.reach().await? {
        Reached::Daemon(socket) => {
            post_count(
                &socket,
                "/_cache/clean",
                serde_json::json!({ "older_than_secs": age.as_secs() }),
                "removed",
            )
            .await?
        }
        Reached::Offline(store, _) => {
            let cutoff = now_ms().saturating_sub(age.as_millis() as u64);
            store.remove_where(move |_, e| e.fetched_at_ms < cutoff).await as u64
        }
    };
    println!("removed {removed} entries older than {}", args.older_than);
    Ok(())
}

#[derive(Args, Debug)]
pub struct ClearArgs {
    #[command(flatten)]
    target: Target,
}

pub async fn clear(args: ClearArgs) -> anyhow::Result<()> {
    let removed = match args.target.reach().await? {
        Reached::Daemon(socket) => post_count(&socket, "/_cache/clear", serde_json::json!({}), "removed").await?,
        Reached::Offline(store, _) => store.remove_where(|_, _| true).await as u64,
    };
    println!("removed {removed} entries");
    Ok(())
}

async fn post_count(socket: &std::path::Path, path: &str, body: serde_json::Value, field: &str) -> anyhow::Result<u64> {
    let answer = request(socket, hyper::Method::POST, path, Bytes::from(body.to_string())).await?;
    let v: serde_json::Value = serde_json::from_slice(&answer).context("the daemon answered with invalid JSON")?;
    v[field]
        .as_u64()
        .with_context(|| format!("the daemon's answer lacks {field:?}: {v}"))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

fn human_age(now: u64, then: u64) -> String {
    let s = now.saturating_sub(then) / 1000;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
        assert_eq!(human_age(10_000_000, 10_000_000 - 90_000), "90 s");
        assert_eq!(human_age(100_000_000, 100_000_000 - 3 * 3_600_000), "3 h");
        assert_eq!(human_age(100_000_000, 100_000_000 - 1_800_000), "30 min");
        assert_eq!(human_age(1_000_000_000, 0), "11 d");
    }
}

#[derive(Args, Debug)]
pub struct PeersArgs {
    /// Print JSON instead of a summary.
    #[arg(long)]
    json: bool,
    /// The daemon's socket [default: as for serve]
    #[arg(long, env = "GH_P2P_CACHE_SOCKET")]
    socket: Option<PathBuf>,
}

/// `peers`: the running daemon's peer link (who it is, who it knows, what went each way).
pub async fn peers(args: PeersArgs) -> anyhow::Result<()> {
    let socket = args.socket.unwrap_or_else(default_socket);
    if !daemon_at(&socket).await {
        bail!(
            "no daemon at {} (peers exist only while `gh-p2p-cache serve` runs)",
            socket.display()
        );
    }
    let body = request(&socket, hyper::Method::GET, "/_cache/peers", Bytes::new()).await?;
    let v: serde_json::Value = serde_json::from_slice(&body).context("the daemon answered with invalid JSON")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    print!("{}", peers_summary(&v));
    Ok(())
}

fn peers_summary(v: &serde_json::Value) -> String {
    if v["enabled"] != true {
        return format!("peer sharing is off: {}\n", v["reason"].as_str().unwrap_or("unknown"));
    }
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let mut out = format!(
        "id       {}\nticket   {}\n",
        v["id"].as_str().unwrap_or("?"),
        v["ticket"].as_str().unwrap_or("?")
    );
    let peers = v["peers"].as_array().map(Vec::as_slice).unwrap_or_default();
    out.push_str(&format!(
        "peers    {} authenticated, {} gossip neighbours\n",
        peers.len(),
        n("neighbors")
    ));
    for p in peers {
        out.push_str(&format!("  - {}\n", p["id"].as_str().unwrap_or("?")));
    }
    out.push_str(&format!(
        "shared   {} sealed, {} announced, {} published to sync-nodes\n\
         received {} prefetched, {} found on a miss, {} blocks verified\n\
         refused  {} failed handshakes, {} bad peers, {} bad gossip\n",
        n("sealed"),
        n("announced"),
        n("published"),
        n("prefetched"),
        n("found_at_peers"),
        n("blocks_verified"),
        n("auth_failures"),
        n("bad_peers"),
        n("bad_gossip"),
    ));
    out
}

#[cfg(test)]
mod peers_tests {
    #[test]
    fn the_summary_says_why_sharing_is_off_and_counts_when_on() {
        let off = super::peers_summary(&serde_json::json!({"enabled": false, "reason": "no secret"}));
        assert_eq!(off, "peer sharing is off: no secret\n");
        let on = super::peers_summary(&serde_json::json!({
            "enabled": true, "id": "abc", "ticket": "t", "neighbors": 2,
            "peers": [{"id": "p1"}], "sealed": 5, "announced": 5, "published": 3,
        }));
        assert!(on.contains("1 authenticated, 2 gossip neighbours"), "{on}");
        assert!(on.contains("5 sealed, 5 announced, 3 published"), "{on}");
    }
}
