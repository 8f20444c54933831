//! Writing a snapshot in one pass: header and manifest from metadata, then envelopes streamed.

use std::collections::HashSet;
use std::io::Write;

use bytes::Bytes;
use cid::Cid;

use crate::block::{self, MAX_BLOCK, Verdict};
use crate::car::{CarWriter, WriteError};
use crate::manifest::{self, EntryMeta, Manifest, ManifestEntry};

/// Smallest manifest block limit accepted: a block must hold at least one entry with room to
/// spare for a key id.
const MIN_BLOCK_LIMIT: usize = 1024;

/// Writes a snapshot whose manifest is known up front, then takes the envelopes one at a time.
///
/// [`SnapshotWriter::new`] writes the CAR header (root = manifest) and the manifest blocks;
/// [`SnapshotWriter::write_envelope`] must then get every listed envelope, in manifest order, and
/// checks each against its CID and size; [`SnapshotWriter::finish`] checks none is missing. So
/// only one envelope is in memory at a time however big the snapshot. If any step fails the
/// output is incomplete and should be deleted.
pub struct SnapshotWriter<W: Write> {
    car: CarWriter<W>,
    root: Cid,
    /// CID and size of every listed envelope, in the order they must be written.
    expected: Vec<(Cid, u64)>,
    written: usize,
}

impl<W: Write> SnapshotWriter<W> {
    /// Writes header and manifest. Each CID may be listed once.
    pub fn new(out: W, manifest: &Manifest) -> Result<Self, WriteError> {
        Self::with_manifest_block_limit(out, manifest, MAX_BLOCK)
    }

    /// Like [`SnapshotWriter::new`] with manifest blocks of at most `limit` bytes (1 KiB to 1 MiB).
    /// Only tests need less than the 1 MiB default, to get multi-block manifests from few entries.
    pub fn with_manifest_block_limit(out: W, manifest: &Manifest, limit: usize) -> Result<Self, WriteError> {
        if !(MIN_BLOCK_LIMIT..=MAX_BLOCK).contains(&limit) {
            return Err(WriteError::BadBlockLimit { limit });
        }
        // A manifest listing a CID twice would ask the reader to deliver one block twice.
        let mut listed = HashSet::with_capacity(manifest.entries.len());
        if let Some(dup) = manifest.entries.iter().find(|e| !listed.insert(e.cid)) {
            return Err(WriteError::DuplicateEntry { cid: dup.cid });
        }
        // Refused here rather than when the envelope comes, before anything is written.
        if let Some(big) = manifest.entries.iter().find(|e| e.size > MAX_BLOCK as u64) {
            return Err(WriteError::BlockTooLarge {
                cid: big.cid,
                size: big.size as usize,
                limit: MAX_BLOCK,
            });
        }
        let blocks = manifest::encode_chain(manifest, limit)?;
        let root = blocks[0].cid;
        let mut car = CarWriter::new(out, &[root])?;
        for block in &blocks {
            car.write_block(&block.cid, &block.bytes)?;
        }
        let expected = manifest.entries.iter().map(|e| (e.cid, e.size)).collect();
        Ok(SnapshotWriter {
            car,
            root,
            expected,
            written: 0,
        })
    }

    /// The snapshot's root: the CID of the first manifest block.
    pub fn root(&self) -> Cid {
        self.root
    }

    /// Writes the next envelope in manifest order, after checking it hashes to the listed CID.
    pub fn write_envelope(&mut self, data: &[u8]) -> Result<(), WriteError> {
        let index = self.written;
        let Some(&(cid, listed)) = self.expected.get(index) else {
            return Err(WriteError::UnexpectedEnvelope {
                listed: self.expected.len(),
            });
        };
        if block::verify(&cid, data) != Verdict::Match {
            return Err(WriteError::EnvelopeMismatch { index, cid });
        }
        if data.len() as u64 != listed {
            return Err(WriteError::SizeMismatch {
                index,
                cid,
                size: data.len(),
                listed,
            });
        }
        self.car.write_block(&cid, data)?;
        self.written += 1;
        Ok(())
    }

    /// Checks every listed envelope was written, flushes, and returns the output.
    pub fn finish(self) -> Result<W, WriteError> {
        let listed = self.expected.len();
        if self.written < listed {
            return Err(WriteError::MissingEnvelopes {
                missing: listed - self.written,
                listed,
            });
        }
        self.car.finish()
    }
}

/// Writes a snapshot of `envelopes` (CID, bytes, metadata) made at `created_ms`, returning its
/// root. Holds all envelopes in memory (cheap when they are `Bytes` already held elsewhere);
/// for big snapshots read from disk use [`SnapshotWriter`]. A repeated CID is written once.
pub fn write_snapshot<W: Write>(
    out: W,
    created_ms: u64,
    envelopes: impl IntoIterator<Item = (Cid, Bytes, EntryMeta)>,
) -> Result<Cid, WriteError> {
    let mut seen = HashSet::new();
    let mut manifest = Manifest {
        created_ms,
        entries: Vec::new(),
    };
    let mut data = Vec::new();
    for (cid, bytes, meta) in envelopes {
        if seen.insert(cid) {
            manifest.entries.push(ManifestEntry {
                cid,
                size: bytes.len() as u64,
                meta,
            });
            data.push(bytes);
        }
    }
    let mut writer = SnapshotWriter::new(out, &manifest)?;
    for bytes in &data {
        writer.write_envelope(bytes)?;
    }
    let root = writer.root();
    writer.finish()?;
    Ok(root)
}
