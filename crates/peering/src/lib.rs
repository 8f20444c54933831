//! The daemon's side of peer sync: the proxy's [`proxy::Peers`] hook over a `sync::PeerNode`
//! ([`Link`]), and the sync-node's role ([`sync_role`]).
//!
//! - New answers are scrubbed, sealed and kept ([`blocks::RunnerBlocks`]), then announced with a
//!   hint of their key, in batches of what queued up meanwhile (debounced by coalescing).
//! - Announcements from peers are remembered by key hint, and the announced envelopes fetched
//!   in the background, verified and stored (the newer version of a key wins).
//! - A miss whose key was announced fetches that envelope from its origin (the proxy bounds the
//!   wait by its peer deadline).
//! - `POST /_cache/finish` pushes everything sealed here since the last publish to every
//!   `--peer` (the sync-nodes) and waits for their acknowledgement, within a deadline.
//! - Warm start: a snapshot from the first `--peer` that answers, loaded into the store.
//!
//! Architecture Invariant: nothing here delays serving. Keys are derived and the endpoint bound
//! after the daemon is ready; until then the proxy simply has no peers.

pub mod blocks;
pub mod claims;
pub mod sync_role;

use anyhow::Context;
use blocks::RunnerBlocks;
use clap::Args;
use entry::{Cid, Keys, StoredResponse};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::Store;
use sync::{Announced, PeerConfig, PeerNode, RelayChoice};
use tokio::sync::mpsc;

/// Peer flags shared by `serve`, `warm` and `sync-node`.
#[derive(Args, Debug, Clone, Default)]
pub struct PeerArgs {
    /// A peer's ticket (a sync-node's), repeatable [or GH_P2P_CACHE_PEERS, comma- or
    /// space-separated]. Needs a secret (GH_P2P_CACHE_SECRET or GH_P2P_CACHE_SECRET_FILE).
    #[arg(long = "peer", value_name = "TICKET")]
    pub peers: Vec<String>,
    /// Relays for peers behind NAT: `n0` (n0's public relays), `disabled`, or a relay URL
    /// [or GH_P2P_CACHE_RELAY; default n0]
    #[arg(long, value_name = "n0|disabled|URL")]
    pub relay: Option<String>,
    /// Find peers on the local network by mDNS (self-hosted fleets) [or GH_P2P_CACHE_MDNS=1]
    #[arg(long)]
    pub mdns: bool,
    /// UDP address the peer endpoint binds [or GH_P2P_CACHE_PEER_BIND; default 0.0.0.0:0]
    #[arg(long, value_name = "ADDR")]
    pub peer_bind: Option<SocketAddr>,
}

impl PeerArgs {
    fn tickets(&self) -> Vec<String> {
        let mut out = self.peers.clone();
        if out.is_empty()
            && let Ok(env) = std::env::var("GH_P2P_CACHE_PEERS")
        {
            out = env
                .split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        out
    }

    fn mdns(&self) -> bool {
        self.mdns || std::env::var("GH_P2P_CACHE_MDNS").is_ok_and(|v| v == "1" || v == "true")
    }

    /// Loopback only, relays off: for tests and benchmarks on one machine.
    pub fn loopback(tickets: Vec<String>) -> Self {
        PeerArgs {
            peers: tickets,
            relay: Some("disabled".into()),
            mdns: false,
            peer_bind: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        }
    }

    /// Whether anything asks for peers (tickets or mDNS).
    pub fn wanted(&self) -> bool {
        !self.tickets().is_empty() || self.mdns()
    }

    /// Checks the flags (tickets, relay, bind address) without starting anything: bad values
    /// fail the command at once instead of silently turning sharing off.
    pub fn check(&self) -> anyhow::Result<()> {
        self.parsed().map(drop)
    }

    fn parsed(&self) -> anyhow::Result<(Vec<iroh::EndpointAddr>, RelayChoice, SocketAddr)> {
        let bootstrap = self
            .tickets()
            .iter()
            .map(|t| {
                let shown: String = t.chars().take(24).collect();
                sync::parse_ticket(t).with_context(|| format!("--peer {shown}…: not a sync-node ticket"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let relay = self
            .relay
            .clone()
            .or_else(|| std::env::var("GH_P2P_CACHE_RELAY").ok())
            .unwrap_or_else(|| "n0".into());
        let relay = parse_relay(&relay)?;
        let bind = match self.peer_bind {
            Some(a) => a,
            None => match std::env::var("GH_P2P_CACHE_PEER_BIND") {
                Ok(v) => v.parse().with_context(|| format!("GH_P2P_CACHE_PEER_BIND={v:?}"))?,
                Err(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
            },
        };
        Ok((bootstrap, relay, bind))
    }

    /// The node configuration these flags describe, and the bootstrap peers.
    pub fn config(
        &self,
        keys: Arc<Keys>,
        source: Arc<dyn sync::BlockSource>,
    ) -> anyhow::Result<(PeerConfig, Vec<iroh::EndpointAddr>)> {
        let (bootstrap, relay, bind) = self.parsed()?;
        let mut config = PeerConfig::new(keys, source);
        config.bootstrap = bootstrap.clone();
        config.relay = relay;
        config.mdns = self.mdns();
        config.bind_addr = bind;
        Ok((config, bootstrap))
    }
}

pub fn parse_relay(s: &str) -> anyhow::Result<RelayChoice> {
    match s.trim() {
        "n0" | "default" => Ok(RelayChoice::N0),
        "disabled" | "off" | "none" => Ok(RelayChoice::Disabled),
        url if url.starts_with("http://") || url.starts_with("https://") => Ok(RelayChoice::Custom(
            url.parse()
                .with_context(|| format!("--relay {url:?} is not a relay URL"))?,
        )),
        other => anyhow::bail!("--relay {other:?}: give n0, disabled, or a relay URL (https://…)"),
    }
}

/// Counters the link keeps, shown at `/_cache/peers`.
#[derive(Default)]
struct Counters {
    sealed: AtomicU64,
    announced: AtomicU64,
    prefetched: AtomicU64,
    prefetch_skipped: AtomicU64,
    looked_up: AtomicU64,
    found: AtomicU64,
    published: AtomicU64,
    dropped: AtomicU64,
}

/// Largest number of key hints remembered from announcements.
const MAX_HINTS: usize = 500_000;
/// Snapshot roots remembered from peers.
const MAX_ROOTS: usize = 16;
/// Announced batches fetched at once in the background.
const PREFETCH_CONCURRENCY: usize = 4;
/// How long a new answer's announcement waits for the link's first gossip neighbour.
const JOIN_GRACE: Duration = Duration::from_secs(3);
/// New answers waiting to be sealed; beyond this they are not shared (counted).
const SEAL_QUEUE: usize = 8192;

/// The daemon's peer link.
pub struct Link {
    node: PeerNode,
    store: Arc<Store>,
    blocks: Arc<RunnerBlocks>,
    sync_nodes: Vec<iroh::EndpointId>,
    hints: Mutex<HashMap<u64, (iroh::EndpointId, Cid)>>,
    /// Sealed here and not yet acknowledged by a sync-node: CID and cache key (to seal again
    /// if the envelope was evicted from memory meanwhile).
    unpublished: Mutex<Vec<(Cid, String)>>,
    keys: Arc<Keys>,
    /// Whether the first announcement already waited for a gossip neighbour.
    joined_once: std::sync::atomic::AtomicBool,
    /// Snapshot roots peers published to IPFS (origin, root), newest last, at most
    /// [`MAX_ROOTS`].
    roots: Mutex<std::collections::VecDeque<(iroh::EndpointId, Cid)>>,
    /// Roots of snapshots this daemon published, to announce.
    roots_out: mpsc::UnboundedSender<Cid>,
    to_seal: mpsc::Sender<(String, Arc<StoredResponse>)>,
    counters: Counters,
    publish_deadline: Duration,
}

impl Link {
    /// Binds the endpoint (never waits for the network) and starts the background work.
    pub async fn start(
        args: &PeerArgs,
        keys: Arc<Keys>,
        store: Arc<Store>,
        publish_deadline: Duration,
    ) -> anyhow::Result<Arc<Link>> {
        let blocks = Arc::new(RunnerBlocks::new(256 << 20));
        let (config, bootstrap) = args.config(keys.clone(), blocks.clone())?;
        let node = PeerNode::bind(config).await.context("cannot start the peer endpoint")?;
        let (to_seal, sealing) = mpsc::channel(SEAL_QUEUE);
        let (roots_out, mut roots_in) = mpsc::unbounded_channel::<Cid>();
        let link = Arc::new(Link {
            node,
            store,
            blocks,
            sync_nodes: bootstrap.iter().map(|a| a.id).collect(),
            hints: Mutex::new(HashMap::new()),
            unpublished: Mutex::new(Vec::new()),
            keys: keys.clone(),
            joined_once: std::sync::atomic::AtomicBool::new(false),
            roots: Mutex::new(std::collections::VecDeque::new()),
            roots_out,
            to_seal,
            counters: Counters::default(),
            publish_deadline,
        });
        tokio::spawn(seal_and_announce(Arc::downgrade(&link), keys, sealing));
        tokio::spawn(follow_announcements(Arc::downgrade(&link)));
        let weak = Arc::downgrade(&link);
        tokio::spawn(async move {
            while let Some(root) = roots_in.recv().await {
                let Some(link) = weak.upgrade() else { return };
                if let Err(e) = link.announce_root(root).await {
                    tracing::debug!(error = %e, "announcing a snapshot root failed");
                }
            }
        });
        tracing::info!(id = %link.node.id(), peers = bootstrap.len(), "peer endpoint up");
        Ok(link)
    }

    pub fn node(&self) -> &PeerNode {
        &self.node
    }

    /// Loads a snapshot from the first sync-node that gives one, within `deadline`.
    pub async fn warm(&self, deadline: Duration) -> proxy::WarmSource {
        let started = Instant::now();
        let mut errors = Vec::new();
        let mut loaded = 0;
        for peer in &self.sync_nodes {
            let left = deadline.saturating_sub(started.elapsed());
            // Stored while the snapshot still arrives: each batch handed over is verified.
            // The envelopes are not kept for serving on: the sync-node serves them.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<sync::Verified>>(4);
            let store = self.store.clone();
            let storing = tokio::task::spawn_blocking(move || {
                rx.into_iter()
                    .map(|batch| share::store_received(&store, batch.into_iter().map(|b| b.entry).collect()).imported)
                    .sum::<u64>()
            });
            let received = tokio::time::timeout(left, self.node.snapshot_since_into(*peer, 0, tx)).await;
            let entries = storing.await.unwrap_or(0);
            let error = match received {
                Ok(Ok(_)) => None,
                Ok(Err(e)) => Some(format!("{}: {e}", peer.fmt_short())),
                Err(_) => Some(format!("{}: no snapshot within {deadline:?}", peer.fmt_short())),
            };
            match error {
                None => {
                    return proxy::WarmSource {
                        source: format!("sync-node {}", peer.fmt_short()),
                        entries: loaded + entries,
                        millis: started.elapsed().as_millis() as u64,
                        error: None,
                    };
                }
                Some(e) if entries > 0 => {
                    loaded += entries;
                    errors.push(format!("{e} ({entries} entries loaded before it)"));
                }
                Some(e) => errors.push(e),
            }
        }
        proxy::WarmSource {
            source: "peers".into(),
            entries: loaded,
            millis: started.elapsed().as_millis() as u64,
            error: Some(if errors.is_empty() {
                "no sync-node given".into()
            } else {
                errors.join("; ")
            }),
        }
    }

    /// Pushes what was sealed here since the last publish to every sync-node; returns a line
    /// for the stats.
    pub async fn publish(&self) -> Result<String, String> {
        if self.sync_nodes.is_empty() {
            return Err("no sync-node given (--peer)".into());
        }
        let pending: Vec<(Cid, String)> = self.unpublished.lock().expect("unpublished lock").clone();
        let taken = pending.len();
        // Envelopes evicted from memory since they were sealed are sealed again from the store.
        let (blocks, store, keys) = (self.blocks.clone(), self.store.clone(), self.keys.clone());
        let (envelopes, gone) = tokio::task::spawn_blocking(move || {
            let scrubber = entry::Scrubber::new(&[]).ok();
            let mut gone = 0u64;
            let mut out = Vec::with_capacity(pending.len());
            for (cid, key) in pending {
                if let Some(b) = sync::BlockSource::get(&*blocks, &cid) {
                    out.push((cid, b));
                    continue;
                }
                let resealed = scrubber
                    .as_ref()
                    .zip(store.get_blocking(&key))
                    .and_then(|(scrubber, entry)| share::seal_entry(&keys, scrubber, key, (*entry).clone()).ok());
                match resealed {
                    Some(s) => out.push((s.cid, s.envelope)),
                    None => gone += 1,
                }
            }
            (out, gone)
        })
        .await
        .map_err(|e| e.to_string())?;
        let mut lines = Vec::new();
        let mut failed = Vec::new();
        for peer in &self.sync_nodes {
            match tokio::time::timeout(self.publish_deadline, self.node.publish(*peer, envelopes.clone())).await {
                Ok(Ok(ack)) => lines.push(format!("{} entries acknowledged by {}", ack.received, peer.fmt_short())),
                Ok(Err(e)) => failed.push(format!("{}: {e}", peer.fmt_short())),
                Err(_) => failed.push(format!(
                    "{}: no acknowledgement within {:?}",
                    peer.fmt_short(),
                    self.publish_deadline
                )),
            }
        }
        if lines.is_empty() {
            return Err(failed.join("; "));
        }
        // Only appends happened meanwhile: what was taken is the front of the list.
        self.unpublished.lock().expect("unpublished lock").drain(..taken);
        self.counters.published.fetch_add(envelopes.len() as u64, Relaxed);
        if gone > 0 {
            lines.push(format!("{gone} entries left the store before they could be published"));
        }
        lines.extend(failed);
        Ok(lines.join("; "))
    }

    /// Snapshot roots peers announced (they published them to IPFS), newest last.
    pub fn announced_roots(&self) -> Vec<(iroh::EndpointId, Cid)> {
        self.roots.lock().expect("roots lock").iter().copied().collect()
    }

    /// Tells the peers that a snapshot of this cache is on IPFS under `root`.
    pub async fn announce_root(&self, root: Cid) -> Result<(), sync::SyncError> {
        let item = Announced {
            cid: root,
            hint: sync::SNAPSHOT_ROOT_HINT,
        };
        self.node.announce(&[item]).await.map(drop)
    }

    /// Asks the first sync-node that answers; `None` when there is none or none answers.
    pub async fn claim(&self, key: &str, op: sync::ClaimOp<'_>) -> Option<sync::ClaimAnswer> {
        for peer in &self.sync_nodes {
            match self.node.claim(*peer, key, op).await {
                Ok(answer) => return Some(answer),
                Err(e) => tracing::debug!(peer = %peer.fmt_short(), error = %e, "claim not answered"),
            }
        }
        None
    }

    fn remember(&self, origin: iroh::EndpointId, items: &[Announced]) {
        let mut hints = self.hints.lock().expect("hints lock");
        if hints.len() + items.len() > MAX_HINTS {
            hints.clear();
        }
        for item in items {
            hints.insert(item.hint, (origin, item.cid));
        }
    }

    /// Fetches `cids` from `origin` (then, for what it did not give, from the sync-nodes, which
    /// keep everything and are reachable by ticket), keeps the envelopes and stores the entries;
    /// returns the entries fetched.
    async fn fetch_and_store(&self, origin: iroh::EndpointId, cids: &[Cid]) -> Vec<(String, StoredResponse)> {
        let mut got = Vec::new();
        let mut left: Vec<Cid> = cids.to_vec();
        let fallbacks = self.sync_nodes.iter().filter(|n| **n != origin).copied();
        for peer in std::iter::once(origin).chain(fallbacks) {
            if left.is_empty() {
                break;
            }
            let mut missing = Vec::new();
            for chunk in left.chunks(sync::MAX_CIDS_PER_REQUEST) {
                match self.node.fetch(peer, chunk).await {
                    Ok(outcome) => {
                        missing.extend(outcome.missing);
                        for b in outcome.blocks {
                            self.blocks.insert(b.cid, b.envelope);
                            got.push(b.entry);
                        }
                    }
                    Err(e) => {
                        tracing::debug!(peer = %peer.fmt_short(), error = %e, "fetch from a peer failed");
                        missing.extend_from_slice(chunk);
                    }
                }
            }
            left = missing;
        }
        if got.is_empty() {
            return Vec::new();
        }
        let store = self.store.clone();
        let entries = got.clone();
        let _ = tokio::task::spawn_blocking(move || share::store_received(&store, entries)).await;
        got.into_iter().map(|e| (e.key, e.response)).collect()
    }
}

impl proxy::Peers for Link {
    fn stored(&self, key: &str, entry: &Arc<StoredResponse>) {
        if self.to_seal.try_send((key.to_owned(), entry.clone())).is_err() {
            self.counters.dropped.fetch_add(1, Relaxed);
        }
    }

    fn lookup<'a>(&'a self, key: &'a str) -> proxy::PeerLookup<'a> {
        Box::pin(async move {
            let hint = sync::key_hint(key);
            let (origin, cid) = *self.hints.lock().expect("hints lock").get(&hint)?;
            self.counters.looked_up.fetch_add(1, Relaxed);
            // The origin and the sync-nodes at once, first verified answer wins: a runner behind
            // NAT must not use up the deadline before the sync-node is asked.
            let mut asks: futures_util::stream::FuturesUnordered<_> = std::iter::once(origin)
                .chain(self.sync_nodes.iter().copied().filter(|n| *n != origin))
                .map(|peer| async move { self.node.fetch(peer, &[cid]).await })
                .collect();
            let mut block = None;
            while let Some(answer) = futures_util::StreamExt::next(&mut asks).await {
                if let Ok(outcome) = answer
                    && let Some(b) = outcome.blocks.into_iter().next()
                {
                    block = Some(b);
                    break;
                }
            }
            drop(asks);
            let b = block?;
            // Kept to serve on; the proxy stores the entry it is given (no second write here).
            self.blocks.insert(b.cid, b.envelope);
            let now = blocks::now_ms();
            let found = (b.entry.key == key).then(|| {
                let mut r = b.entry.response;
                // Another machine's clock: never fresher than now here.
                r.fetched_at_ms = r.fetched_at_ms.min(now);
                r
            });
            if found.is_some() {
                self.counters.found.fetch_add(1, Relaxed);
            }
            found
        })
    }

    fn published_root(&self, root: &str) {
        match root.parse::<Cid>() {
            Ok(cid) => {
                // Announced by a background task: this must not block the finish hooks.
                let _ = self.roots_out.send(cid);
            }
            Err(_) => tracing::warn!(root, "not announcing a root that is not a CID"),
        }
    }

    fn describe(&self) -> serde_json::Value {
        let c = |a: &AtomicU64| a.load(Relaxed);
        let s = self.node.stats();
        serde_json::json!({
            "enabled": true,
            "id": self.node.id().to_string(),
            "ticket": self.node.ticket(),
            "sync_nodes": self.sync_nodes.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "peers": self.node.peers(),
            "ipfs_roots": self.announced_roots().iter().map(|(o, r)| serde_json::json!({"from": o.to_string(), "root": r.to_string()})).collect::<Vec<_>>(),
            "neighbors": self.node.neighbor_count(),
            "blocks_held": self.blocks.len(),
            "sealed": c(&self.counters.sealed),
            "announced": c(&self.counters.announced),
            "prefetched": c(&self.counters.prefetched),
            "prefetch_skipped": c(&self.counters.prefetch_skipped),
            "looked_up": c(&self.counters.looked_up),
            "found_at_peers": c(&self.counters.found),
            "published": c(&self.counters.published),
            "not_shared_queue_full": c(&self.counters.dropped),
            "auth_ok": s.auth_ok,
            "auth_failures": s.auth_failures,
            "refused_unauthenticated": s.refused_unauthenticated,
            "bad_peers": s.bad_peers,
            "bad_gossip": s.bad_gossip,
            "announcements_sent": s.announcements_sent,
            "announcements_received": s.announcements_received,
            "blocks_served": s.blocks_served,
            "blocks_verified": s.blocks_verified,
        })
    }
}

/// Seals new answers, keeps them, and announces them in debounced batches.
async fn seal_and_announce(
    link: std::sync::Weak<Link>,
    keys: Arc<Keys>,
    mut sealing: mpsc::Receiver<(String, Arc<StoredResponse>)>,
) {
    let scrubber = match entry::Scrubber::new(&[]) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::error!(error = %e, "no scrubber; nothing will be shared");
            return;
        }
    };
    while let Some(first) = sealing.recv().await {
        // Debounced by coalescing, not by a timer: what queued up while the last batch was sealed
        // and announced goes out together; a lone answer goes out at once.
        let mut batch = vec![first];
        while batch.len() < sync::MAX_CIDS_PER_REQUEST {
            match sealing.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let (keys, scrubber) = (keys.clone(), scrubber.clone());
        let sealed = tokio::task::spawn_blocking(move || {
            batch
                .into_iter()
                .filter_map(|(key, entry)| {
                    let hint = sync::key_hint(&key);
                    share::seal_entry(&keys, &scrubber, key.clone(), (*entry).clone())
                        .ok()
                        .map(|s| (hint, key, s))
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let Some(link) = link.upgrade() else { return };
        let mut items = Vec::with_capacity(sealed.len());
        for (hint, key, s) in sealed {
            link.blocks.insert(s.cid, s.envelope);
            link.unpublished.lock().expect("unpublished lock").push((s.cid, key));
            items.push(Announced { cid: s.cid, hint });
        }
        link.counters.sealed.fetch_add(items.len() as u64, Relaxed);
        // Gossip keeps no history: an announcement made before the topic has a neighbour is
        // lost. Give a fresh link a moment to join (this is a background task; nothing waits).
        // Once per link: with the sync-node down, later batches must not wait each time.
        if link.node.neighbor_count() == 0 && !link.sync_nodes.is_empty() && !link.joined_once.swap(true, Relaxed) {
            let _ = tokio::time::timeout(JOIN_GRACE, link.node.wait_for_neighbors(1)).await;
        }
        match link.node.announce(&items).await {
            Ok(_) => {
                link.counters.announced.fetch_add(items.len() as u64, Relaxed);
            }
            Err(e) => tracing::debug!(error = %e, "announcing failed (peers catch up by snapshot)"),
        }
    }
}

/// Remembers what peers announce and fetches it in the background.
async fn follow_announcements(link: std::sync::Weak<Link>) {
    let prefetching = Arc::new(tokio::sync::Semaphore::new(PREFETCH_CONCURRENCY));
    let mut rx = match link.upgrade() {
        Some(l) => l.node.subscribe(),
        None => return,
    };
    loop {
        let announcement = match rx.recv().await {
            Ok(a) => a,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::debug!(lost = n, "announcements lost; peers catch up by snapshot");
                continue;
            }
            Err(_) => return,
        };
        let Some(link) = link.upgrade() else { return };
        // Snapshot roots are noted, never fetched as envelopes.
        let (roots, items): (Vec<Announced>, Vec<Announced>) = announcement
            .items
            .iter()
            .partition(|i| i.hint == sync::SNAPSHOT_ROOT_HINT);
        if !roots.is_empty() {
            let mut known = link.roots.lock().expect("roots lock");
            for r in roots {
                known.push_back((announcement.origin, r.cid));
                if known.len() > MAX_ROOTS {
                    known.pop_front();
                }
            }
        }
        // Hints first, at once: a miss can use them while the fetches below run.
        link.remember(announcement.origin, &items);
        let wanted: Vec<Cid> = items
            .iter()
            .map(|i| i.cid)
            .filter(|c| !link.blocks.contains(c))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        // Fetched beside the loop, a few at a time: an unreachable origin must not hold up the
        // announcements behind it (they would be lost once the subscription lags). With every
        // slot busy this batch is not prefetched; its hints let a miss fetch it.
        let Ok(permit) = prefetching.clone().try_acquire_owned() else {
            link.counters.prefetch_skipped.fetch_add(wanted.len() as u64, Relaxed);
            continue;
        };
        tokio::spawn(async move {
            let got = link.fetch_and_store(announcement.origin, &wanted).await;
            link.counters.prefetched.fetch_add(got.len() as u64, Relaxed);
            drop(permit);
        });
    }
}

/// The finish hook: publish to the sync-nodes.
pub fn finish_hook(link: Arc<Link>) -> proxy::FinishHook {
    Arc::new(move |_store| {
        let link = link.clone();
        Box::pin(async move { link.publish().await.map(|line| ("peers".to_owned(), line)) })
    })
}

/// Derives the keys and starts the link in the background, attaching it to `state` once up,
/// and warms from the sync-nodes. Serving never waits for any of it. `secret` is `None` when
/// none was given (sharing is then off, and `/_cache/peers` says why).
#[allow(clippy::too_many_arguments)]
pub fn start_in_background(
    args: PeerArgs,
    claims: Arc<claims::DaemonClaims>,
    secret: Option<entry::Secret>,
    scope: String,
    state: Arc<proxy::State>,
    store: Arc<Store>,
    warm_deadline: Duration,
    publish_deadline: Duration,
) {
    if !args.wanted() {
        return;
    }
    let Some(secret) = secret else {
        let why = "no secret: peer sharing is off (set GH_P2P_CACHE_SECRET or GH_P2P_CACHE_SECRET_FILE)";
        tracing::warn!("{why}");
        state.set_peers_off_reason(why);
        return;
    };
    tokio::spawn(async move {
        let keys = match tokio::task::spawn_blocking(move || Keys::derive(&secret, &scope)).await {
            Ok(k) => Arc::new(k),
            Err(e) => {
                state.set_peers_off_reason(format!("key derivation failed: {e}"));
                return;
            }
        };
        let link = match Link::start(&args, keys, store, publish_deadline).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "peer sharing is off");
                state.set_peers_off_reason(format!("{e:#}"));
                return;
            }
        };
        state.attach_peers(link.clone());
        claims.attach(link.clone());
        if !link.sync_nodes.is_empty() {
            state.on_finish(finish_hook(link.clone()));
            let warmed = link.warm(warm_deadline).await;
            tracing::info!(source = %warmed.source, entries = warmed.entries, error = ?warmed.error, "warm start from peers");
            state.record_warm(warmed);
        }
    });
}
