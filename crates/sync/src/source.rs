//! Where the serving side gets envelopes: the daemon implements [`BlockSource`] over its store;
//! [`MemorySource`] serves tests and the propagation example.

use std::collections::HashMap;
use std::sync::RwLock;

use bytes::Bytes;
use cid::Cid;

/// Envelopes this node can serve. Called from `spawn_blocking`, so a disk-backed implementation
/// may block; it must not panic. Return only envelopes sealed for sharing (never raw entries).
pub trait BlockSource: Send + Sync + 'static {
    /// The envelope whose CID is `cid`, if held.
    fn get(&self, cid: &Cid) -> Option<Bytes>;
    /// CIDs of the envelopes stored (or updated) at or after `ms` (unix milliseconds).
    fn since(&self, ms: u64) -> Vec<Cid>;
}

/// An in-memory [`BlockSource`]: envelopes with the time they were added.
#[derive(Debug, Default)]
pub struct MemorySource {
    blocks: RwLock<HashMap<Cid, (u64, Bytes)>>,
}

impl MemorySource {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an envelope stored at `ms` and returns its CID.
    pub fn insert(&self, ms: u64, envelope: Bytes) -> Cid {
        let cid = entry::cid_of(&envelope);
        self.blocks.write().expect("poisoned").insert(cid, (ms, envelope));
        cid
    }

    pub fn len(&self) -> usize {
        self.blocks.read().expect("poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl BlockSource for MemorySource {
    fn get(&self, cid: &Cid) -> Option<Bytes> {
        self.blocks.read().expect("poisoned").get(cid).map(|(_, b)| b.clone())
    }

    fn since(&self, ms: u64) -> Vec<Cid> {
        let blocks = self.blocks.read().expect("poisoned");
        let mut out: Vec<(u64, Cid)> = blocks
            .iter()
            .filter(|(_, (t, _))| *t >= ms)
            .map(|(c, (t, _))| (*t, *c))
            .collect();
        out.sort();
        out.into_iter().map(|(_, c)| c).collect()
    }
}
