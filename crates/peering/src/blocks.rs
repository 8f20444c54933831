//! Where a node keeps the envelopes it serves to peers.
//!
//! - [`RunnerBlocks`]: a runner's, in memory and bounded in bytes (oldest dropped first): what
//!   it sealed from its own answers and what it received, kept as received so a CID announced
//!   by anyone stays fetchable here.
//! - [`DiskBlocks`]: a sync-node's, in the redb blocks table (durable), which also loads every
//!   received entry into the node's store so its IPFS snapshots carry them.

use bytes::Bytes;
use entry::Cid;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use store::Store;
use sync::{BlockSink, BlockSource, Verified};

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[derive(Default)]
struct Held {
    by_cid: HashMap<Cid, (u64, Bytes)>,
    /// (stored at, sequence) → CID, oldest first, for `since` and eviction.
    order: BTreeMap<(u64, u64), Cid>,
    seq: u64,
    bytes: u64,
}

/// A runner's envelopes, in memory.
pub struct RunnerBlocks {
    held: Mutex<Held>,
    max_bytes: u64,
}

impl RunnerBlocks {
    pub fn new(max_bytes: u64) -> Self {
        RunnerBlocks {
            held: Mutex::new(Held::default()),
            max_bytes,
        }
    }

    /// Keeps `envelope` under `cid` (already checked or sealed here).
    pub fn insert(&self, cid: Cid, envelope: Bytes) {
        let mut held = self.held.lock().expect("blocks lock");
        if held.by_cid.contains_key(&cid) {
            return;
        }
        let at = now_ms();
        held.seq += 1;
        let seq = held.seq;
        held.bytes += envelope.len() as u64;
        held.order.insert((at, seq), cid);
        held.by_cid.insert(cid, (seq, envelope));
        while held.bytes > self.max_bytes {
            let Some((_, old)) = held.order.pop_first() else {
                break;
            };
            if let Some((_, b)) = held.by_cid.remove(&old) {
                held.bytes -= b.len() as u64;
            }
        }
    }

    pub fn contains(&self, cid: &Cid) -> bool {
        self.held.lock().expect("blocks lock").by_cid.contains_key(cid)
    }

    pub fn len(&self) -> usize {
        self.held.lock().expect("blocks lock").by_cid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl BlockSource for RunnerBlocks {
    fn get(&self, cid: &Cid) -> Option<Bytes> {
        self.held
            .lock()
            .expect("blocks lock")
            .by_cid
            .get(cid)
            .map(|(_, b)| b.clone())
    }

    fn since(&self, ms: u64) -> Vec<Cid> {
        let held = self.held.lock().expect("blocks lock");
        held.order.range((ms, 0)..).map(|(_, c)| *c).collect()
    }
}

impl BlockSink for RunnerBlocks {
    fn store(&self, blocks: Vec<Verified>) -> Result<u64, String> {
        let n = blocks.len() as u64;
        for b in blocks {
            self.insert(b.cid, b.envelope);
        }
        Ok(n)
    }
}

/// A sync-node's envelopes, on disk, plus the entries they hold in its store.
pub struct DiskBlocks {
    store: Arc<Store>,
}

impl DiskBlocks {
    /// `store` must have a disk tier (a sync-node never runs memory-only).
    pub fn new(store: Arc<Store>) -> anyhow::Result<Self> {
        anyhow::ensure!(store.disk().is_some(), "a sync-node needs a disk store");
        Ok(DiskBlocks { store })
    }

    pub fn count(&self) -> u64 {
        self.store.disk().and_then(|d| d.block_count().ok()).unwrap_or(0)
    }
}

impl BlockSource for DiskBlocks {
    fn get(&self, cid: &Cid) -> Option<Bytes> {
        let disk = self.store.disk()?;
        let bytes = cid.to_bytes();
        match disk.get_blocks(&[bytes.as_slice()]) {
            Ok(mut found) => found.pop().flatten().map(Bytes::from),
            Err(e) => {
                tracing::warn!(error = %e, "reading a block failed");
                None
            }
        }
    }

    fn get_many(&self, cids: &[Cid]) -> Vec<Option<Bytes>> {
        let Some(disk) = self.store.disk() else {
            return cids.iter().map(|_| None).collect();
        };
        let keys: Vec<Vec<u8>> = cids.iter().map(Cid::to_bytes).collect();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        match disk.get_blocks(&refs) {
            Ok(found) => found.into_iter().map(|b| b.map(Bytes::from)).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "reading blocks failed");
                cids.iter().map(|_| None).collect()
            }
        }
    }

    fn since(&self, ms: u64) -> Vec<Cid> {
        let Some(disk) = self.store.disk() else {
            return Vec::new();
        };
        match disk.blocks_since(ms) {
            Ok(cids) => cids.iter().filter_map(|c| Cid::try_from(c.as_slice()).ok()).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "listing blocks failed");
                Vec::new()
            }
        }
    }
}

impl BlockSink for DiskBlocks {
    /// Durable on return: the envelopes in one committed transaction, the entries flushed.
    fn store(&self, blocks: Vec<Verified>) -> Result<u64, String> {
        let disk = self.store.disk().ok_or("no disk store")?;
        let at = now_ms();
        let cids: Vec<Vec<u8>> = blocks.iter().map(|b| b.cid.to_bytes()).collect();
        let rows: Vec<store::BlockRow<'_>> = blocks
            .iter()
            .zip(&cids)
            .map(|(b, cid)| store::BlockRow {
                cid,
                stored_ms: at,
                envelope: b.envelope.as_ref(),
                key_hint: sync::key_hint(&b.entry.key),
                version_ms: b.entry.response.fetched_at_ms,
            })
            .collect();
        // Held: new, or already here; an older version of a key held newer is declined.
        let held = disk.put_blocks(&rows).map_err(|e| e.to_string())?;
        let entries = blocks.into_iter().map(|b| b.entry).collect();
        share::store_received(&self.store, entries);
        self.store.flush_blocking();
        Ok(held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runner_blocks_are_bounded_oldest_first_and_listed_by_time() {
        let blocks = RunnerBlocks::new(10);
        let cids: Vec<Cid> = (0..4u8)
            .map(|i| {
                let env = Bytes::from(vec![i; 4]);
                let cid = entry::cid_of(&env);
                blocks.insert(cid, env);
                cid
            })
            .collect();
        // 4 × 4 bytes over a 10-byte bound: the two oldest went.
        assert_eq!(blocks.len(), 2);
        assert!(!blocks.contains(&cids[0]) && !blocks.contains(&cids[1]));
        assert_eq!(blocks.get(&cids[3]).unwrap(), Bytes::from(vec![3u8; 4]));
        assert_eq!(blocks.since(0), vec![cids[2], cids[3]]);
        assert!(blocks.since(u64::MAX).is_empty());
    }
}
