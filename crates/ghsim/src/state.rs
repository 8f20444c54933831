//! The shared state of one simulator instance: the model, limits, counters, faults, the
//! in-flight gauge and the shutdown signal. Cloning is cheap (one `Arc`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::config::SimConfig;
use crate::faults::Faults;
use crate::limits::Limiter;
use crate::model::Model;
use crate::seed;
use crate::stats::SimStats;

/// Handle on a simulator's state; `app(state)` serves it, tests may inspect it directly.
#[derive(Clone)]
pub struct SimState(Arc<Shared>);

pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    pub(crate) graphql_path: String,
    pub(crate) model: Mutex<Model>,
    pub(crate) limiter: Mutex<Limiter>,
    pub(crate) stats: Mutex<SimStats>,
    pub(crate) faults: Mutex<Faults>,
    /// Requests currently in flight; a watch so tests can wait for a level without sleeping.
    pub(crate) in_flight: watch::Sender<usize>,
    /// Flips to true once; releases stalled requests and stops the server.
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) request_seq: AtomicU64,
}

/// Locks a mutex, ignoring poisoning: a panicked handler leaves the counters usable and the
/// model consistent (every write is a few field assignments).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimState {
    pub fn new(config: SimConfig) -> Self {
        let model = seed::build(&config);
        SimState(Arc::new(Shared {
            graphql_path: config.graphql_path(),
            limiter: Mutex::new(Limiter::new(config.limits)),
            model: Mutex::new(model),
            stats: Mutex::new(SimStats::default()),
            faults: Mutex::new(Faults::default()),
            in_flight: watch::Sender::new(0),
            shutdown: watch::Sender::new(false),
            request_seq: AtomicU64::new(0),
            config,
        }))
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.0
    }

    pub fn config(&self) -> &SimConfig {
        &self.0.config
    }

    pub fn stats(&self) -> SimStats {
        let mut s = lock(&self.0.stats).clone();
        s.in_flight = self.in_flight() as u64;
        s
    }

    pub fn reset_stats(&self) {
        let mut s = lock(&self.0.stats);
        *s = SimStats::default();
        s.max_in_flight = *self.0.in_flight.borrow() as u64;
    }

    /// Replaces the fault settings. Panics on an unsendable `fail_status` (a test bug);
    /// `POST /_sim/faults` answers 400 instead.
    pub fn set_faults(&self, faults: Faults) {
        if let Err(e) = faults.validate() {
            panic!("invalid faults: {e}");
        }
        *lock(&self.0.faults) = faults;
    }

    pub fn clear_faults(&self) {
        *lock(&self.0.faults) = Faults::default();
    }

    pub fn faults(&self) -> Faults {
        lock(&self.0.faults).clone()
    }

    /// API requests in flight right now.
    pub fn in_flight(&self) -> usize {
        *self.0.in_flight.borrow()
    }

    /// Resolves once at least `n` API requests are in flight at the same time.
    pub async fn wait_in_flight(&self, n: usize) {
        let mut rx = self.0.in_flight.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = rx.wait_for(|v| *v >= n).await;
    }

    /// Resolves once no API request is in flight (e.g. after a client gave up on a stall).
    pub async fn wait_idle(&self) {
        let mut rx = self.0.in_flight.subscribe();
        let _ = rx.wait_for(|v| *v == 0).await;
    }

    /// Runs `f` on the model, e.g. to read what a test should expect.
    pub fn with_model<R>(&self, f: impl FnOnce(&mut Model) -> R) -> R {
        f(&mut lock(&self.0.model))
    }

    /// Releases stalled requests (they end without a response) and stops servers on this state.
    pub fn begin_shutdown(&self) {
        self.0.shutdown.send_replace(true);
    }

    pub(crate) async fn shutdown_signal(&self) {
        let mut rx = self.0.shutdown.subscribe();
        let _ = rx.wait_for(|v| *v).await;
    }

    pub(crate) fn next_request_id(&self) -> String {
        let n = self.0.request_seq.fetch_add(1, Ordering::Relaxed) + 1;
        // Shaped like GitHub's `X-GitHub-Request-Id` (five hex groups).
        format!(
            "C0DE:{:04X}:{:06X}:{:06X}:{:08X}",
            n % 0xFFFF,
            n * 7 % 0xFF_FFFF,
            n,
            n * 13
        )
    }

    /// Enters one request into the in-flight gauge; returns the level including it.
    pub(crate) fn enter(&self) -> (InFlightGuard, usize) {
        let mut level = 0;
        self.0.in_flight.send_modify(|v| {
            *v += 1;
            level = *v;
        });
        let mut s = lock(&self.0.stats);
        s.max_in_flight = s.max_in_flight.max(level as u64);
        (InFlightGuard(self.clone()), level)
    }
}

/// Leaves the in-flight gauge when the request ends, however it ends (also when hyper drops
/// the handler future because the connection went away).
pub(crate) struct InFlightGuard(SimState);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.0.in_flight.send_modify(|v| *v = v.saturating_sub(1));
    }
}
