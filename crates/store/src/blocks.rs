//! Sealed envelopes kept exactly as received, by CID: what a sync-node serves to peers.
//!
//! Envelopes are sealed with a fresh nonce, so re-sealing an entry gives a new CID; a node that
//! passes entries on must keep the bytes it received for the CIDs others asked for. They live in
//! their own table of the same redb file, written directly (one durable transaction per call,
//! not through the batching writer): a call returns only once the blocks are on disk, which is
//! what a sync-node's acknowledgement promises.
//!
//! Only the newest envelope of each cache key is kept (`block_keys_v1`: key hint → version and
//! CID), so the table is bounded by the number of keys, however often runners publish them.
//!
//! Value layout: `u64` big-endian unix milliseconds when stored, then the envelope.

use crate::StoreError;
use crate::disk::{DiskTier, disk_err};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

pub(crate) const BLOCKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("blocks_v1");

/// The envelope kept for each key: key hint → version (the entry's fetch time, ms) and CID.
pub(crate) const BLOCK_KEYS: TableDefinition<u64, &[u8]> = TableDefinition::new("block_keys_v1");

/// One envelope to keep.
#[derive(Debug, Clone, Copy)]
pub struct BlockRow<'a> {
    pub cid: &'a [u8],
    /// When it was stored here (unix ms): what `blocks_since` filters on.
    pub stored_ms: u64,
    pub envelope: &'a [u8],
    /// Which cache key it holds (a hash of it), and that entry's version (its fetch time):
    /// only the newest envelope of a key is kept.
    pub key_hint: u64,
    pub version_ms: u64,
}

impl DiskTier {
    /// Stores envelopes durably, one per key: a newer version of a key replaces the older
    /// envelope, an older one is declined. Returns how many of `rows` are held after the commit
    /// (new, or already held under the same CID).
    pub fn put_blocks(&self, rows: &[BlockRow<'_>]) -> Result<u64, StoreError> {
        let txn = self.db().begin_write().map_err(disk_err)?;
        let mut held = 0;
        {
            let mut table = txn.open_table(BLOCKS).map_err(disk_err)?;
            let mut keys = txn.open_table(BLOCK_KEYS).map_err(disk_err)?;
            let mut value = Vec::new();
            for row in rows {
                if table.get(row.cid).map_err(disk_err)?.is_some() {
                    held += 1;
                    continue;
                }
                let current = keys.get(row.key_hint).map_err(disk_err)?.map(|v| v.value().to_vec());
                if let Some(current) = current {
                    let version = current
                        .get(..8)
                        .and_then(|b| <[u8; 8]>::try_from(b).ok())
                        .map(u64::from_be_bytes);
                    if version.is_some_and(|v| v > row.version_ms) {
                        continue;
                    }
                    table.remove(current.get(8..).unwrap_or_default()).map_err(disk_err)?;
                }
                value.clear();
                value.extend_from_slice(&row.stored_ms.to_be_bytes());
                value.extend_from_slice(row.envelope);
                table.insert(row.cid, value.as_slice()).map_err(disk_err)?;
                value.clear();
                value.extend_from_slice(&row.version_ms.to_be_bytes());
                value.extend_from_slice(row.cid);
                keys.insert(row.key_hint, value.as_slice()).map_err(disk_err)?;
                held += 1;
            }
        }
        txn.commit().map_err(disk_err)?;
        Ok(held)
    }

    /// Looks up envelopes by CID in one read transaction.
    pub fn get_blocks(&self, cids: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let txn = self.db().begin_read().map_err(disk_err)?;
        let table = match txn.open_table(BLOCKS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(cids.iter().map(|_| None).collect()),
            Err(e) => return Err(disk_err(e)),
        };
        let mut out = Vec::with_capacity(cids.len());
        for cid in cids {
            let found = table.get(*cid).map_err(disk_err)?;
            out.push(found.and_then(|v| v.value().get(8..).map(<[u8]>::to_vec)));
        }
        Ok(out)
    }

    /// CIDs of the envelopes stored at or after `ms`, oldest first.
    pub fn blocks_since(&self, ms: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let txn = self.db().begin_read().map_err(disk_err)?;
        let table = match txn.open_table(BLOCKS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(disk_err(e)),
        };
        let mut found = Vec::new();
        for row in table.iter().map_err(disk_err)? {
            let (k, v) = row.map_err(disk_err)?;
            let Some(at) = v.value().get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
                continue;
            };
            let at = u64::from_be_bytes(at);
            if at >= ms {
                found.push((at, k.value().to_vec()));
            }
        }
        found.sort();
        Ok(found.into_iter().map(|(_, cid)| cid).collect())
    }

    /// How many envelopes are held.
    pub fn block_count(&self) -> Result<u64, StoreError> {
        let txn = self.db().begin_read().map_err(disk_err)?;
        match txn.open_table(BLOCKS) {
            Ok(t) => t.len().map_err(disk_err),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
            Err(e) => Err(disk_err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(cid: &'a [u8], stored_ms: u64, envelope: &'a [u8], key_hint: u64, version_ms: u64) -> BlockRow<'a> {
        BlockRow {
            cid,
            stored_ms,
            envelope,
            key_hint,
            version_ms,
        }
    }

    #[test]
    fn blocks_round_trip_survive_reopen_and_filter_by_time() {
        let dir = tempfile::tempdir().unwrap();
        {
            let disk = DiskTier::open(dir.path(), u64::MAX).unwrap();
            let held = disk
                .put_blocks(&[row(b"a", 10, b"AAA", 1, 100), row(b"b", 20, b"BBB", 2, 100)])
                .unwrap();
            assert_eq!(held, 2);
            // Same CID again: held once, first bytes win, and counted as held.
            assert_eq!(disk.put_blocks(&[row(b"a", 30, b"XXX", 1, 100)]).unwrap(), 1);
        }
        let disk = DiskTier::open(dir.path(), u64::MAX).unwrap();
        assert_eq!(disk.block_count().unwrap(), 2);
        assert_eq!(
            disk.get_blocks(&[b"a", b"zz", b"b"]).unwrap(),
            vec![Some(b"AAA".to_vec()), None, Some(b"BBB".to_vec())]
        );
        assert_eq!(disk.blocks_since(0).unwrap(), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(disk.blocks_since(15).unwrap(), vec![b"b".to_vec()]);
        assert!(disk.blocks_since(21).unwrap().is_empty());
    }

    #[test]
    fn only_the_newest_envelope_of_a_key_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let disk = DiskTier::open(dir.path(), u64::MAX).unwrap();
        disk.put_blocks(&[row(b"v1", 10, b"one", 7, 100)]).unwrap();
        // A newer version of key 7 replaces it.
        assert_eq!(disk.put_blocks(&[row(b"v2", 20, b"two", 7, 200)]).unwrap(), 1);
        assert_eq!(
            disk.get_blocks(&[b"v1", b"v2"]).unwrap(),
            vec![None, Some(b"two".to_vec())]
        );
        // An older one arriving late is declined.
        assert_eq!(disk.put_blocks(&[row(b"v0", 30, b"zero", 7, 50)]).unwrap(), 0);
        assert_eq!(disk.block_count().unwrap(), 1);
        assert_eq!(disk.blocks_since(0).unwrap(), vec![b"v2".to_vec()]);
    }

    #[test]
    fn an_empty_database_has_no_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let disk = DiskTier::open(dir.path(), u64::MAX).unwrap();
        assert_eq!(disk.block_count().unwrap(), 0);
        assert!(disk.blocks_since(0).unwrap().is_empty());
        assert_eq!(disk.get_blocks(&[b"x"]).unwrap(), vec![None]);
    }
}
