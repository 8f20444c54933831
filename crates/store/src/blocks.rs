//! Sealed envelopes kept exactly as received, by CID: what a sync-node serves to peers.
//!
//! Envelopes are sealed with a fresh nonce, so re-sealing an entry gives a new CID; a node that
//! passes entries on must keep the bytes it received for the CIDs others asked for. They live in
//! their own table of the same redb file, written directly (one durable transaction per call,
//! not through the batching writer): a call returns only once the blocks are on disk, which is
//! what a sync-node's acknowledgement promises.
//!
//! Value layout: `u64` big-endian unix milliseconds when stored, then the envelope.

use crate::StoreError;
use crate::disk::{DiskTier, disk_err};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

pub(crate) const BLOCKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("blocks_v1");

impl DiskTier {
    /// Stores `(cid bytes, stored at ms, envelope)` durably; returns how many were new (a CID
    /// already held keeps its first time and bytes: same CID, same bytes).
    pub fn put_blocks(&self, blocks: &[(Vec<u8>, u64, &[u8])]) -> Result<u64, StoreError> {
        let txn = self.db().begin_write().map_err(disk_err)?;
        let mut added = 0;
        {
            let mut table = txn.open_table(BLOCKS).map_err(disk_err)?;
            let mut value = Vec::new();
            for (cid, ms, envelope) in blocks {
                if table.get(cid.as_slice()).map_err(disk_err)?.is_some() {
                    continue;
                }
                value.clear();
                value.extend_from_slice(&ms.to_be_bytes());
                value.extend_from_slice(envelope);
                table.insert(cid.as_slice(), value.as_slice()).map_err(disk_err)?;
                added += 1;
            }
        }
        txn.commit().map_err(disk_err)?;
        Ok(added)
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

    #[test]
    fn blocks_round_trip_survive_reopen_and_filter_by_time() {
        let dir = tempfile::tempdir().unwrap();
        {
            let disk = DiskTier::open(dir.path(), u64::MAX).unwrap();
            let added = disk
                .put_blocks(&[(b"a".to_vec(), 10, b"AAA"), (b"b".to_vec(), 20, b"BBB")])
                .unwrap();
            assert_eq!(added, 2);
            // Same CID again: kept once, first bytes win.
            assert_eq!(disk.put_blocks(&[(b"a".to_vec(), 30, b"XXX")]).unwrap(), 0);
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
    fn an_empty_database_has_no_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let disk = DiskTier::open(dir.path(), u64::MAX).unwrap();
        assert_eq!(disk.block_count().unwrap(), 0);
        assert!(disk.blocks_since(0).unwrap().is_empty());
        assert_eq!(disk.get_blocks(&[b"x"]).unwrap(), vec![None]);
    }
}
