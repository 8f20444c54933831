//! Counters behind `/_cache/stats`: how requests were answered, what they cost upstream, and
//! how long they took.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// How a response was produced; sent to clients as `X-Cache`. `PEER` joins with peer sync; its
/// counter already reports zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Hit,
    Miss,
    Revalidated,
    Stale,
    Coalesced,
    Bypass,
    /// The body came from a peer (confirmed for this token by a free 304, or trusted).
    Peer,
}

impl Mode {
    pub const ALL: [Mode; 7] = [
        Mode::Hit,
        Mode::Miss,
        Mode::Revalidated,
        Mode::Stale,
        Mode::Coalesced,
        Mode::Bypass,
        Mode::Peer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Hit => "HIT",
            Mode::Miss => "MISS",
            Mode::Revalidated => "REVALIDATED",
            Mode::Stale => "STALE",
            Mode::Coalesced => "COALESCED",
            Mode::Bypass => "BYPASS",
            Mode::Peer => "PEER",
        }
    }

    /// Answered without a full upstream transfer.
    fn served_from_cache(self) -> bool {
        matches!(
            self,
            Mode::Hit | Mode::Revalidated | Mode::Stale | Mode::Coalesced | Mode::Peer
        )
    }
}

#[derive(Default)]
pub struct Stats {
    total: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    revalidated: AtomicU64,
    stale: AtomicU64,
    coalesced: AtomicU64,
    peer: AtomicU64,
    bypass: AtomicU64,
    control: AtomicU64,
    upstream_requests: AtomicU64,
    upstream_errors: AtomicU64,
    units_used: AtomicU64,
    bytes_saved: AtomicU64,
    client_errors: AtomicU64,
    /// Responses by mode (index: `Mode as usize`) and status class (1xx..5xx).
    by_mode_status: [[AtomicU64; 5]; Mode::ALL.len()],
    /// Microseconds, 1 µs to 60 s, 3 significant digits.
    latency: Mutex<Option<Histogram<u64>>>,
}

/// Where `POST /_cache/finish` published the cache (or why it could not).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Published {
    pub place: String,
    /// A root CID for IPFS.
    pub label: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatsSnapshot {
    pub total_requests: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub hit_rate: f64,
    pub revalidated: u64,
    pub stale_served: u64,
    pub coalesced: u64,
    pub p2p_contributions: u64,
    pub bypassed: u64,
    pub upstream_requests: u64,
    pub upstream_errors: u64,
    pub rate_limit_units_used: u64,
    pub rate_limit_units_saved: u64,
    pub bytes_saved: u64,
    pub rejected_requests: u64,
    /// Cross-token conditional requests GitHub answered 304 to our recomputed ETag.
    pub cross_token_etags_confirmed: u64,
    /// ... and those it answered 200 with the same body (the formula may have changed).
    pub cross_token_etags_rejected: u64,
    pub latency_ms: Latency,
    pub store: StoreFigures,
    /// Filled by `POST /_cache/finish` when publishing is configured.
    #[serde(default)]
    pub published: Vec<Published>,
    /// Where warm start loaded entries from, per source.
    #[serde(default)]
    pub warm: Vec<crate::peers::WarmSource>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StoreFigures {
    pub memory_entries: u64,
    pub memory_bytes: u64,
    pub disk_entries: u64,
    pub disk_bytes: u64,
    pub errors: u64,
    pub dropped_writes: u64,
    pub evicted: u64,
}

impl Stats {
    pub fn record(&self, mode: Mode, status: http::StatusCode, body_len: usize, elapsed: Duration) {
        self.total.fetch_add(1, Relaxed);
        let class = (status.as_u16() / 100).clamp(1, 5) as usize - 1;
        self.by_mode_status[mode as usize][class].fetch_add(1, Relaxed);
        let counter = match mode {
            Mode::Hit => &self.hits,
            Mode::Miss => &self.misses,
            Mode::Revalidated => &self.revalidated,
            Mode::Stale => &self.stale,
            Mode::Coalesced => &self.coalesced,
            Mode::Bypass => &self.bypass,
            Mode::Peer => &self.peer,
        };
        counter.fetch_add(1, Relaxed);
        if mode.served_from_cache() {
            self.bytes_saved.fetch_add(body_len as u64, Relaxed);
        }
        let micros = (elapsed.as_micros() as u64).clamp(1, 60_000_000);
        let mut h = self.latency.lock().expect("latency lock");
        h.get_or_insert_with(|| Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"))
            .saturating_record(micros);
    }

    /// A request rejected before reaching the cache (bad input).
    pub fn rejected(&self) {
        self.client_errors.fetch_add(1, Relaxed);
    }

    pub fn control(&self) {
        self.control.fetch_add(1, Relaxed);
    }

    /// One upstream exchange finished; `costly` when GitHub would count it against the limit.
    pub fn upstream(&self, costly: bool) {
        self.upstream_requests.fetch_add(1, Relaxed);
        if costly {
            self.units_used.fetch_add(1, Relaxed);
        }
    }

    pub fn upstream_error(&self) {
        self.upstream_requests.fetch_add(1, Relaxed);
        self.upstream_errors.fetch_add(1, Relaxed);
    }

    /// `(mode, status class, count)` for every combination seen.
    pub fn by_mode_status(&self) -> Vec<(Mode, u16, u64)> {
        let mut out = Vec::new();
        for mode in Mode::ALL {
            for (i, c) in self.by_mode_status[mode as usize].iter().enumerate() {
                let n = c.load(Relaxed);
                if n > 0 {
                    out.push((mode, (i as u16 + 1) * 100, n));
                }
            }
        }
        out
    }

    pub fn snapshot(&self, store: &store::StoreStats) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Relaxed);
        let total = get(&self.total);
        let served_from_cache =
            get(&self.hits) + get(&self.revalidated) + get(&self.stale) + get(&self.coalesced) + get(&self.peer);
        let latency = match &*self.latency.lock().expect("latency lock") {
            Some(h) => {
                let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
                Latency {
                    p50: ms(0.5),
                    p90: ms(0.9),
                    p99: ms(0.99),
                    max: h.max() as f64 / 1000.0,
                }
            }
            None => Latency::default(),
        };
        StatsSnapshot {
            total_requests: total,
            cache_hits: get(&self.hits),
            cache_misses: get(&self.misses),
            hit_rate: if total == 0 {
                0.0
            } else {
                served_from_cache as f64 / total as f64
            },
            revalidated: get(&self.revalidated),
            stale_served: get(&self.stale),
            coalesced: get(&self.coalesced),
            p2p_contributions: get(&self.peer),
            bypassed: get(&self.bypass),
            upstream_requests: get(&self.upstream_requests),
            upstream_errors: get(&self.upstream_errors),
            rate_limit_units_used: get(&self.units_used),
            rate_limit_units_saved: served_from_cache,
            bytes_saved: get(&self.bytes_saved),
            rejected_requests: get(&self.client_errors),
            cross_token_etags_confirmed: 0,
            cross_token_etags_rejected: 0,
            latency_ms: latency,
            published: Vec::new(),
            warm: Vec::new(),
            store: StoreFigures {
                memory_entries: store.memory.entries,
                memory_bytes: store.memory.bytes,
                disk_entries: store.disk.entries,
                disk_bytes: store.disk.bytes,
                errors: store.errors,
                dropped_writes: store.dropped_writes,
                evicted: store.evicted,
            },
        }
    }
}
