//! Test data: envelope-like blocks and snapshots made of them.
#![allow(dead_code)] // each test binary uses a different part

use bytes::Bytes;
use cid::Cid;
use ipfs::{EntryMeta, Manifest, ManifestEntry, SnapshotWriter, block::raw_cid};

/// `n` distinct pseudo-random blocks of `size` bytes (the first 8 bytes are the index, so no two
/// are equal), with key ids and expiry times on some entries.
pub fn envelopes(n: usize, size: usize) -> Vec<(Cid, Bytes, EntryMeta)> {
    (0..n)
        .map(|i| {
            let mut data = vec![0u8; size.max(8)];
            data[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let mut state = i as u64 ^ 0x9e37_79b9_7f4a_7c15;
            for byte in &mut data[8..] {
                // xorshift64: cheap bytes that compress badly, like ciphertext.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *byte = state as u8;
            }
            let meta = EntryMeta {
                key_id: (i % 3 != 0).then(|| format!("k{}", i % 2)),
                expires_ms: (i % 2 == 0).then_some(1_750_000_000_000 + i as u64),
            };
            let data = Bytes::from(data);
            (raw_cid(&data), data, meta)
        })
        .collect()
}

pub fn manifest_of(created_ms: u64, envelopes: &[(Cid, Bytes, EntryMeta)]) -> Manifest {
    let entries = envelopes
        .iter()
        .map(|(cid, data, meta)| ManifestEntry {
            cid: *cid,
            size: data.len() as u64,
            meta: meta.clone(),
        })
        .collect();
    Manifest { created_ms, entries }
}

/// A snapshot CAR of `envelopes` with manifest blocks of at most `limit` bytes; returns it and its root.
pub fn snapshot(envelopes: &[(Cid, Bytes, EntryMeta)], limit: usize) -> (Vec<u8>, Cid) {
    let manifest = manifest_of(1_700_000_000_000, envelopes);
    let mut writer = SnapshotWriter::with_manifest_block_limit(Vec::new(), &manifest, limit).unwrap();
    for (_, data, _) in envelopes {
        writer.write_envelope(data).unwrap();
    }
    let root = writer.root();
    (writer.finish().unwrap(), root)
}
