//! Where the serving side gets envelopes and where published ones go: the daemon implements
//! [`BlockSource`] over its store, a sync-node also [`BlockSink`]; [`MemorySource`] is both, for
//! tests and the examples.

use std::collections::HashMap;
use std::sync::RwLock;

use bytes::Bytes;
use cid::Cid;

use crate::fetch::Verified;

/// Envelopes this node can serve. Called from `spawn_blocking`, so a disk-backed implementation
/// may block; it must not panic. Return only envelopes sealed for sharing (never raw entries).
pub trait BlockSource: Send + Sync + 'static {
    /// The envelope whose CID is `cid`, if held.
    fn get(&self, cid: &Cid) -> Option<Bytes>;
    /// CIDs of the envelopes stored (or updated) at or after `ms` (unix milliseconds).
    fn since(&self, ms: u64) -> Vec<Cid>;
    /// The envelopes of `cids`, in order (`None` where not held). Override when one batched
    /// read is cheaper than many (a disk store).
    fn get_many(&self, cids: &[Cid]) -> Vec<Option<Bytes>> {
        cids.iter().map(|c| self.get(c)).collect()
    }
}

/// Where a node stores envelopes published to it (`PeerNode::publish` on the other side). Called
/// from `spawn_blocking` with blocks already checked against their CIDs and opened.
pub trait BlockSink: Send + Sync + 'static {
    /// Stores `blocks` and returns how many of them it now holds because of this call (an
    /// envelope it already held counts; one it declined, such as an older version of a key it
    /// holds, does not). **Durable on return**: the publisher is told they are safe. An `Err`
    /// reaches the publisher as a rejection (`close::STORE_FAILED`) with its text.
    fn store(&self, blocks: Vec<Verified>) -> Result<u64, String>;
}

/// An in-memory [`BlockSource`] and [`BlockSink`]: envelopes with the time they were added.
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

impl BlockSink for MemorySource {
    /// Keeps every block, stamped with the time it arrived.
    fn store(&self, blocks: Vec<Verified>) -> Result<u64, String> {
        let now = crate::snapshot::now_ms();
        let n = blocks.len() as u64;
        let mut held = self.blocks.write().expect("poisoned");
        for block in blocks {
            held.insert(block.cid, (now, block.envelope));
        }
        Ok(n)
    }
}
