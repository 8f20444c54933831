//! Where a warm start comes from and where a finished job's snapshot goes: ordered lists of
//! sources and sinks. The GitHub Actions cache is the first of each; peers and IPFS plug in here
//! as further variants, and the steps need not change.

use crate::actions_cache::{ActionsCache, version_for};
use crate::runner::Runner;
use entry::Keys;
use std::path::Path;

const KEY_PREFIX: &str = "gh-p2p-cache-v1";

pub enum Source {
    ActionsCache(Box<ActionsCache>),
    /// A snapshot named by its root CID, fetched through kubo or trustless gateways.
    Ipfs(Box<IpfsSource>),
}

pub struct IpfsSource {
    root: entry::Cid,
    kubo: Option<ipfs::KuboClient>,
    gateways: Option<ipfs::GatewayClient>,
}

pub struct IpfsSink {
    kubo: Option<ipfs::KuboClient>,
    pinning: Option<ipfs::PinningClient>,
}

pub enum Sink {
    ActionsCache(Box<ActionsCache>),
    /// kubo (`dag/import`, pinning the root) and/or a pinning service.
    Ipfs(Box<IpfsSink>),
}

/// The configured sources and sinks, and notes on the ones that could not be used.
pub struct Tiers {
    pub sources: Vec<Source>,
    pub sinks: Vec<Sink>,
    pub notes: Vec<String>,
}

impl Tiers {
    pub fn from_runner(runner: &Runner, actions_cache_enabled: bool) -> Tiers {
        let mut tiers = Tiers {
            sources: Vec::new(),
            sinks: Vec::new(),
            notes: Vec::new(),
        };
        if actions_cache_enabled {
            let make =
                || ActionsCache::new(runner.var("ACTIONS_RESULTS_URL")?, runner.var("ACTIONS_RUNTIME_TOKEN")?).into();
            match make() {
                Some(Ok(_)) => {
                    // One client per list: each is used on its own step.
                    if let Some(Ok(c)) = make() {
                        tiers.sources.push(Source::ActionsCache(Box::new(c)));
                    }
                    if let Some(Ok(c)) = make() {
                        tiers.sinks.push(Sink::ActionsCache(Box::new(c)));
                    }
                }
                Some(Err(e)) => tiers.notes.push(format!("the Actions cache is unusable: {e}")),
                None => tiers
                    .notes
                    .push("no Actions cache service in this environment".to_owned()),
            }
        }
        tiers.add_ipfs(runner);
        tiers
    }

    /// The `ipfs-api`, `ipfs-root` and `pinning-service` inputs (the service's token comes from
    /// `GH_P2P_CACHE_PINNING_TOKEN`, gateways from `GH_P2P_CACHE_GATEWAYS`).
    fn add_ipfs(&mut self, runner: &Runner) {
        let kubo = || {
            runner
                .input("ipfs-api")
                .map(|u| ipfs::KuboClient::new(&u).map_err(|e| e.to_string()))
        };
        let gateways: Vec<String> = runner
            .var("GH_P2P_CACHE_GATEWAYS")
            .map(|g| {
                g.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(root) = runner.input("ipfs-root") {
            match ipfs::parse_cid(&root) {
                Err(e) => self.notes.push(format!("input ipfs-root: {e}")),
                Ok(root) => {
                    let kubo = match kubo() {
                        Some(Ok(k)) => Some(k),
                        Some(Err(e)) => {
                            self.notes.push(format!("input ipfs-api: {e}"));
                            None
                        }
                        None => None,
                    };
                    let gateways = if gateways.is_empty() {
                        None
                    } else {
                        match ipfs::GatewayClient::new(gateways.clone()) {
                            Ok(g) => Some(g),
                            Err(e) => {
                                self.notes.push(format!("GH_P2P_CACHE_GATEWAYS: {e}"));
                                None
                            }
                        }
                    };
                    if kubo.is_none() && gateways.is_none() {
                        self.notes
                            .push("ipfs-root needs ipfs-api or GH_P2P_CACHE_GATEWAYS to fetch it from".to_owned());
                    } else {
                        self.sources
                            .push(Source::Ipfs(Box::new(IpfsSource { root, kubo, gateways })));
                    }
                }
            }
        }
        let kubo = match kubo() {
            Some(Ok(k)) => Some(k),
            Some(Err(e)) => {
                self.notes.push(format!("input ipfs-api: {e}"));
                None
            }
            None => None,
        };
        let pinning = runner.input("pinning-service").and_then(|endpoint| {
            let Some(token) = runner.var("GH_P2P_CACHE_PINNING_TOKEN") else {
                self.notes
                    .push("pinning-service needs its bearer token in GH_P2P_CACHE_PINNING_TOKEN".to_owned());
                return None;
            };
            ipfs::PinningClient::new(&endpoint, token)
                .map_err(|e| self.notes.push(format!("input pinning-service: {e}")))
                .ok()
        });
        if kubo.is_some() || pinning.is_some() {
            self.sinks.push(Sink::Ipfs(Box::new(IpfsSink { kubo, pinning })));
        }
    }
}

impl Source {
    pub fn name(&self) -> &'static str {
        match self {
            Source::ActionsCache(_) => "the Actions cache",
            Source::Ipfs(_) => "IPFS",
        }
    }

    /// Writes the newest snapshot these keys can open to `dest`; returns what it was (a key).
    pub async fn fetch(&self, keys: &Keys, dest: &Path) -> Result<Option<String>, String> {
        match self {
            Source::ActionsCache(cache) => {
                // Keyed by key id, so only snapshots these keys can open are restored.
                let prefix = format!("{KEY_PREFIX}-{}-", keys.key_id());
                let found = cache
                    .restore(
                        &prefix,
                        std::slice::from_ref(&prefix),
                        &version_for("snapshot-v1"),
                        dest,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(found.map(|r| r.matched_key))
            }
            Source::Ipfs(src) => {
                let IpfsSource { root, kubo, gateways } = &**src;
                let mut errors = Vec::new();
                if let Some(kubo) = kubo {
                    match kubo.fetch_car(root, dest).await {
                        Ok(_) => return Ok(Some(root.to_string())),
                        Err(e) => errors.push(format!("kubo: {e}")),
                    }
                }
                if let Some(gateways) = gateways {
                    match gateways.fetch_car(root, dest).await {
                        Ok(_) => return Ok(Some(root.to_string())),
                        Err(e) => errors.push(format!("gateways: {e}")),
                    }
                }
                Err(errors.join("; "))
            }
        }
    }
}

impl Sink {
    pub fn name(&self) -> &'static str {
        match self {
            Sink::ActionsCache(_) => "the Actions cache",
            Sink::Ipfs(_) => "IPFS",
        }
    }

    /// Publishes the snapshot in `file`; `unique` names this job's copy. Returns where it went.
    pub async fn publish(&self, keys: &Keys, file: &Path, unique: &str) -> Result<String, String> {
        match self {
            Sink::ActionsCache(cache) => {
                let key = format!("{KEY_PREFIX}-{}-{unique}", keys.key_id());
                cache
                    .save(&key, &version_for("snapshot-v1"), file)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(key)
            }
            Sink::Ipfs(sink) => {
                let IpfsSink { kubo, pinning } = &**sink;
                let root = snapshot_root(file)?;
                if let Some(kubo) = kubo {
                    let roots = kubo.dag_import_file(file, true).await.map_err(|e| e.to_string())?;
                    if !roots.contains(&root) {
                        return Err(format!("kubo imported roots {roots:?}, not the snapshot's root {root}"));
                    }
                }
                if let Some(pinning) = pinning {
                    pinning
                        .pin(&root, "gh-p2p-cache snapshot", std::time::Duration::from_secs(60))
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok(root.to_string())
            }
        }
    }
}

/// The root CID named in a snapshot file's header.
fn snapshot_root(file: &Path) -> Result<entry::Cid, String> {
    let f = std::io::BufReader::new(std::fs::File::open(file).map_err(|e| e.to_string())?);
    let reader = ipfs::CarReader::new(f).map_err(|e| e.to_string())?;
    reader
        .roots()
        .first()
        .copied()
        .ok_or_else(|| "the snapshot has no root".to_owned())
}
