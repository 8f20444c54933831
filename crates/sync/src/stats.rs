//! Counters a node keeps about its peers; they feed `/_cache/stats` once the daemon is wired.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a node's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Handshakes that passed (either side).
    pub auth_ok: u64,
    /// Handshakes a remote failed: wrong secret, bad proof, broken exchange.
    pub auth_failures: u64,
    /// Connections on fetch, snapshot or gossip from a remote that had not passed the handshake.
    pub refused_unauthenticated: u64,
    /// Peers disconnected for sending data that failed a check (CID, AEAD, wire format).
    pub bad_peers: u64,
    /// Gossip messages dropped because they failed authentication or did not parse.
    pub bad_gossip: u64,
    /// Times the gossip subscription lagged and messages were lost.
    pub gossip_lagged: u64,
    /// Gossip messages sent by `announce`.
    pub announcements_sent: u64,
    /// Authenticated gossip messages received.
    pub announcements_received: u64,
    /// Envelopes served to peers (fetch and snapshot).
    pub blocks_served: u64,
    /// Envelopes received, verified and opened (fetch, snapshot and publish).
    pub blocks_verified: u64,
    /// Envelopes published to this node that its sink stored.
    pub blocks_stored: u64,
    /// Envelopes this node published that a peer acknowledged as stored.
    pub blocks_published: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Ticks on every change, so callers can wait for a count instead of polling.
    changed: tokio::sync::watch::Sender<()>,
    pub auth_ok: AtomicU64,
    pub auth_failures: AtomicU64,
    pub refused_unauthenticated: AtomicU64,
    pub bad_peers: AtomicU64,
    pub bad_gossip: AtomicU64,
    pub gossip_lagged: AtomicU64,
    pub announcements_sent: AtomicU64,
    pub announcements_received: AtomicU64,
    pub blocks_served: AtomicU64,
    pub blocks_verified: AtomicU64,
    pub blocks_stored: AtomicU64,
    pub blocks_published: AtomicU64,
}

impl Counters {
    pub fn add(&self, pick: fn(&Counters) -> &AtomicU64, by: u64) {
        pick(self).fetch_add(by, Ordering::Relaxed);
        self.changed.send_replace(());
    }

    /// Waits until `done` holds for the counters.
    pub async fn wait_until(&self, mut done: impl FnMut(&Stats) -> bool) {
        let mut rx = self.changed.subscribe();
        loop {
            rx.mark_unchanged();
            if done(&self.snapshot()) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    pub fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            auth_ok: get(&self.auth_ok),
            auth_failures: get(&self.auth_failures),
            refused_unauthenticated: get(&self.refused_unauthenticated),
            bad_peers: get(&self.bad_peers),
            bad_gossip: get(&self.bad_gossip),
            gossip_lagged: get(&self.gossip_lagged),
            announcements_sent: get(&self.announcements_sent),
            announcements_received: get(&self.announcements_received),
            blocks_served: get(&self.blocks_served),
            blocks_verified: get(&self.blocks_verified),
            blocks_stored: get(&self.blocks_stored),
            blocks_published: get(&self.blocks_published),
        }
    }
}
