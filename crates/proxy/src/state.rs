//! Everything a request handler needs, shared behind one `Arc`.

use crate::clock::Clock;
use crate::coalesce::Coalescer;
use crate::config::ProxyConfig;
use crate::governor::{GovernedError, Governor};
use crate::invalidation::Invalidations;
use crate::proof::Proofs;
use crate::response::Fetched;
use crate::stats::{Stats, StatsSnapshot};
use crate::upstream::Upstream;
use entry::{CacheKey, Fingerprint, FingerprintKey, StoredResponse};
use std::sync::Arc;
use store::Store;

const FINGERPRINT_KEY_META: &str = "fingerprint_key_v1";

pub(crate) type Outcome = Result<Arc<Fetched>, GovernedError>;

/// Work `POST /_cache/finish` does after flushing: publishing the store somewhere (IPFS now,
/// peers later). Returns where it went (`place`, `label`, e.g. `"IPFS"` and a root CID).
pub type FinishHook = Arc<
    dyn Fn(Arc<Store>) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(String, String), String>> + Send>>
        + Send
        + Sync,
>;

pub struct State {
    pub(crate) config: ProxyConfig,
    pub(crate) store: Arc<Store>,
    pub(crate) upstream: Upstream,
    pub(crate) stats: Stats,
    pub(crate) clock: Clock,
    pub(crate) fingerprints: FingerprintKey,
    pub(crate) invalidations: Invalidations,
    /// Keyed also by the invalidation generation (see `Invalidations::generation`).
    pub(crate) coalescer: Coalescer<(CacheKey, Fingerprint, u64), Outcome>,
    pub(crate) governor: Governor,
    pub(crate) proofs: Proofs,
    pub(crate) etag_health: crate::etag_health::EtagHealth,
    pub(crate) rewrites: crate::rewrite::RewriteMemo,
    finish_hooks: std::sync::Mutex<Vec<FinishHook>>,
    published: std::sync::Mutex<Vec<crate::stats::Published>>,
    peers: std::sync::OnceLock<Arc<dyn crate::peers::Peers>>,
    claims: std::sync::OnceLock<Arc<dyn crate::peers::ClaimService>>,
    peers_off: std::sync::Mutex<String>,
    warm: std::sync::Mutex<Vec<crate::peers::WarmSource>>,
}

impl State {
    pub fn new(config: ProxyConfig, store: Arc<Store>) -> Arc<Self> {
        // The fingerprint key persists with the store so fingerprints survive restarts.
        let (fingerprints, to_persist) =
            FingerprintKey::load_or_generate(store.meta_get(FINGERPRINT_KEY_META).as_deref());
        if let Some(bytes) = to_persist {
            store.meta_put(FINGERPRINT_KEY_META, bytes);
        }
        let invalidations = Invalidations::load(&store);
        let upstream = Upstream::new(config.upstream.clone(), config.upstream_timeout);
        let governor = Governor::new(config.governor.clone());
        Arc::new(State {
            config,
            store,
            upstream,
            stats: Stats::default(),
            clock: Clock::default(),
            fingerprints,
            invalidations,
            coalescer: Coalescer::new(),
            governor,
            proofs: Proofs::default(),
            etag_health: Default::default(),
            rewrites: crate::rewrite::RewriteMemo::new(64 << 20),
            finish_hooks: std::sync::Mutex::new(Vec::new()),
            published: std::sync::Mutex::new(Vec::new()),
            peers: std::sync::OnceLock::new(),
            claims: std::sync::OnceLock::new(),
            peers_off: std::sync::Mutex::new("no peers configured (give --peer TICKET and a secret)".into()),
            warm: std::sync::Mutex::new(Vec::new()),
        })
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn stats(&self) -> StatsSnapshot {
        let mut snap = self.stats.snapshot(&self.store.stats());
        snap.published = self.published.lock().expect("published lock").clone();
        snap.warm = self.warm.lock().expect("warm lock").clone();
        (snap.cross_token_etags_confirmed, snap.cross_token_etags_rejected) = self.etag_health.counts();
        snap
    }

    /// One upstream attempt, counted: GitHub charges every answer but authorized 304s and its
    /// own 5xx failures.
    pub(crate) async fn send_upstream(
        &self,
        method: http::Method,
        path: &str,
        query: Option<&str>,
        headers: http::HeaderMap,
        body: bytes::Bytes,
    ) -> Result<crate::upstream::UpstreamResponse, crate::upstream::UpstreamError> {
        let result = self.upstream.send(method, path, query, headers, body).await;
        match &result {
            Ok(r) => self
                .stats
                .upstream(r.status != http::StatusCode::NOT_MODIFIED && !r.status.is_server_error()),
            Err(_) => self.stats.upstream_error(),
        }
        result
    }

    /// Attaches peer sync (once; later calls are ignored).
    pub fn attach_peers(&self, peers: Arc<dyn crate::peers::Peers>) {
        let _ = self.peers.set(peers);
    }

    /// Attaches the claim board behind `POST /_cache/claims` (once).
    pub fn attach_claims(&self, claims: Arc<dyn crate::peers::ClaimService>) {
        let _ = self.claims.set(claims);
    }

    pub(crate) fn claims(&self) -> Option<&Arc<dyn crate::peers::ClaimService>> {
        self.claims.get()
    }

    /// Why peer sharing is off, for `/_cache/peers` (e.g. "no secret").
    pub fn set_peers_off_reason(&self, reason: impl Into<String>) {
        *self.peers_off.lock().expect("peers_off lock") = reason.into();
    }

    pub(crate) fn peers_off_reason(&self) -> String {
        self.peers_off.lock().expect("peers_off lock").clone()
    }

    pub(crate) fn peers(&self) -> Option<&Arc<dyn crate::peers::Peers>> {
        self.peers.get()
    }

    /// Records what warm start loaded from one source (shown in the stats under `warm`).
    pub fn record_warm(&self, source: crate::peers::WarmSource) {
        self.warm.lock().expect("warm lock").push(source);
    }

    /// A peer's answer for `key`, waiting no longer than the configured deadline.
    pub(crate) async fn ask_peers(&self, key: &str) -> Option<StoredResponse> {
        let peers = self.peers.get()?;
        tokio::time::timeout(self.config.peer_deadline, peers.lookup(key))
            .await
            .ok()
            .flatten()
    }

    /// Stores an answer fetched from GitHub and tells peers about it.
    pub(crate) fn store_fetched(&self, key: &str, entry: Arc<StoredResponse>) {
        self.store.put(key, entry.clone());
        if let Some(peers) = self.peers.get() {
            peers.stored(key, &entry);
        }
    }

    /// Adds work for `POST /_cache/finish` (run after the flush, in order).
    pub fn on_finish(&self, hook: FinishHook) {
        self.finish_hooks.lock().expect("finish hooks lock").push(hook);
    }

    /// Flushes, then runs every finish hook; failures are logged and reported, never fatal.
    pub async fn finish(&self) {
        self.flush().await;
        let hooks = self.finish_hooks.lock().expect("finish hooks lock").clone();
        for hook in hooks {
            let published = match hook(self.store.clone()).await {
                Ok((place, label)) => {
                    if place == "IPFS"
                        && let Some(peers) = self.peers.get()
                    {
                        peers.published_root(&label);
                    }
                    crate::stats::Published {
                        place,
                        label,
                        error: None,
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "publishing at finish failed");
                    crate::stats::Published {
                        place: String::new(),
                        label: String::new(),
                        error: Some(e),
                    }
                }
            };
            self.published.lock().expect("published lock").push(published);
        }
    }

    /// Makes every stored entry durable (shutdown and `/_cache/finish`).
    pub async fn flush(&self) {
        self.store.flush().await;
    }
}
