//! Snapshots written by `SnapshotWriter`/`write_snapshot` read back identically with
//! `read_snapshot`, including multi-block manifests, foreign block orders and bad blocks.

mod common;

use bytes::Bytes;
use cid::Cid;
use common::{envelopes, manifest_of, snapshot};
use ipfs::block::{DAG_CBOR, MAX_BLOCK, raw_cid};
use ipfs::{
    CarReader, CarWriter, EntryMeta, ReadOptions, ReadStats, SnapshotError, SnapshotWriter, WriteError, read_snapshot,
    read_snapshot_with, write_snapshot,
};

/// Reads a snapshot, insisting every item is good, and returns manifest, envelopes and stats.
fn read_all(car: &[u8]) -> (ipfs::Manifest, Vec<(Cid, Bytes, usize)>, ReadStats) {
    let (manifest, mut blocks) = read_snapshot(car).unwrap();
    let got = blocks
        .by_ref()
        .map(|e| e.map(|e| (e.cid, e.data, e.index)).unwrap())
        .collect();
    (manifest, got, blocks.stats())
}

fn assert_round_trip(n: usize, limit: usize) -> usize {
    let input = envelopes(n, 100);
    let (car, root) = snapshot(&input, limit);
    let (manifest, got, stats) = read_all(&car);
    assert_eq!(manifest, manifest_of(1_700_000_000_000, &input));
    assert_eq!(got.len(), n);
    for (i, ((cid, data, index), (want_cid, want_data, _))) in got.iter().zip(&input).enumerate() {
        assert_eq!((cid, data, *index), (want_cid, want_data, i));
    }
    assert_eq!(
        stats,
        ReadStats {
            envelopes: n as u64,
            ..ReadStats::default()
        }
    );

    let reader = CarReader::new(&car[..]).unwrap();
    assert_eq!(reader.roots(), [root]);
    let blocks: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(blocks[0].cid, root, "manifest root comes first");
    let manifest_blocks = blocks.iter().take_while(|b| b.cid.codec() == DAG_CBOR).count();
    assert_eq!(blocks.len(), manifest_blocks + n);
    assert!(
        blocks
            .iter()
            .all(|b| b.data.len() <= limit || b.cid.codec() != DAG_CBOR)
    );
    manifest_blocks
}

#[test]
fn empty_snapshot_round_trips() {
    assert_eq!(assert_round_trip(0, MAX_BLOCK), 1);
}

#[test]
fn one_entry_round_trips() {
    assert_eq!(assert_round_trip(1, MAX_BLOCK), 1);
}

#[test]
fn thousand_entries_round_trip_in_one_manifest_block() {
    assert_eq!(assert_round_trip(1000, MAX_BLOCK), 1);
}

#[test]
fn thousand_entries_round_trip_over_a_manifest_chain() {
    let blocks = assert_round_trip(1000, 4096);
    assert!(blocks >= 10, "{blocks} manifest blocks");
}

#[test]
fn write_snapshot_takes_envelopes_and_drops_repeats() {
    let mut input = envelopes(5, 64);
    input.push(input[2].clone());
    let mut car = Vec::new();
    let root = write_snapshot(&mut car, 42, input.clone()).unwrap();
    let (manifest, got, _) = read_all(&car);
    assert_eq!(manifest.created_ms, 42);
    assert_eq!(manifest.entries.len(), 5);
    assert_eq!(got.len(), 5);
    assert_eq!(CarReader::new(&car[..]).unwrap().roots(), [root]);
}

#[test]
fn writer_refuses_wrong_missing_extra_and_duplicate_envelopes() {
    let input = envelopes(3, 64);
    let manifest = manifest_of(0, &input);

    let mut w = SnapshotWriter::new(Vec::new(), &manifest).unwrap();
    let err = w.write_envelope(&input[1].1).unwrap_err();
    assert!(matches!(err, WriteError::EnvelopeMismatch { index: 0, .. }), "{err}");

    let mut w = SnapshotWriter::new(Vec::new(), &manifest).unwrap();
    w.write_envelope(&input[0].1).unwrap();
    let err = w.finish().unwrap_err();
    assert!(
        matches!(err, WriteError::MissingEnvelopes { missing: 2, listed: 3 }),
        "{err}"
    );
    assert!(err.to_string().contains("incomplete"), "{err}");

    let mut w = SnapshotWriter::new(Vec::new(), &manifest).unwrap();
    for (_, data, _) in &input {
        w.write_envelope(data).unwrap();
    }
    assert!(matches!(
        w.write_envelope(&input[0].1),
        Err(WriteError::UnexpectedEnvelope { listed: 3 })
    ));

    let mut dup = manifest.clone();
    dup.entries.push(dup.entries[0].clone());
    assert!(matches!(
        SnapshotWriter::new(Vec::new(), &dup),
        Err(WriteError::DuplicateEntry { .. })
    ));

    let mut wrong_size = manifest.clone();
    wrong_size.entries[0].size += 1;
    let mut w = SnapshotWriter::new(Vec::new(), &wrong_size).unwrap();
    assert!(matches!(
        w.write_envelope(&input[0].1),
        Err(WriteError::SizeMismatch { .. })
    ));

    assert!(matches!(
        SnapshotWriter::with_manifest_block_limit(Vec::new(), &manifest, 100),
        Err(WriteError::BadBlockLimit { .. })
    ));
}

#[test]
fn envelopes_over_one_mib_are_refused_before_anything_is_written() {
    let big = Bytes::from(vec![7u8; MAX_BLOCK + 1]);
    let mut out = Vec::new();
    let err = write_snapshot(&mut out, 0, [(raw_cid(&big), big, EntryMeta::default())]).unwrap_err();
    assert!(matches!(err, WriteError::BlockTooLarge { .. }), "{err}");
    assert!(out.is_empty());
    // Exactly 1 MiB is fine.
    let max = Bytes::from(vec![7u8; MAX_BLOCK]);
    let (_, got, _) = {
        let mut car = Vec::new();
        write_snapshot(&mut car, 0, [(raw_cid(&max), max.clone(), EntryMeta::default())]).unwrap();
        read_all(&car)
    };
    assert_eq!(got[0].1, max);
}

/// Rewrites `car` with the same root and its blocks in the order `order` gives.
fn reorder(car: &[u8], order: impl FnOnce(&mut Vec<ipfs::Block>)) -> Vec<u8> {
    let reader = CarReader::new(car).unwrap();
    let roots = reader.roots().to_vec();
    let mut blocks: Vec<_> = reader.map(Result::unwrap).collect();
    order(&mut blocks);
    let mut w = CarWriter::new(Vec::new(), &roots).unwrap();
    for b in &blocks {
        w.write_block(&b.cid, &b.data).unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn manifest_after_the_envelopes_is_found_within_the_buffer_limit() {
    let input = envelopes(300, 100);
    let (car, _) = snapshot(&input, 2048);
    // Envelopes first, then the manifest chain backwards: the worst order for the reader.
    let foreign = reorder(&car, |blocks| {
        let chain = blocks.iter().take_while(|b| b.cid.codec() == DAG_CBOR).count();
        blocks.rotate_left(chain);
        blocks[300..].reverse();
    });
    let (manifest, got, stats) = read_all(&foreign);
    assert_eq!(manifest, manifest_of(1_700_000_000_000, &input));
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        input.iter().map(|i| i.0).collect::<Vec<_>>()
    );
    assert_eq!(stats.envelopes, 300);

    let small = ReadOptions { max_buffered: 10_000 };
    let err = read_snapshot_with(&foreign[..], small).err().unwrap();
    assert!(
        matches!(err, SnapshotError::ManifestNotFirst { limit: 10_000, .. }),
        "{err}"
    );
}

#[test]
fn unlisted_and_repeated_blocks_are_dropped_and_counted() {
    let input = envelopes(4, 100);
    let (car, _) = snapshot(&input, MAX_BLOCK);
    let stranger = Bytes::from_static(b"not in the manifest");
    let extra = reorder(&car, |blocks| {
        let copy = blocks[2].clone();
        blocks.push(copy);
        blocks.push(ipfs::Block {
            cid: raw_cid(&stranger),
            data: stranger.clone(),
            offset: 0,
        });
    });
    let (_, got, stats) = read_all(&extra);
    assert_eq!(got.len(), 4);
    assert_eq!(
        stats,
        ReadStats {
            envelopes: 4,
            bad: 0,
            unlisted: 1,
            duplicates: 1
        }
    );
}

#[test]
fn missing_envelopes_are_reported_after_the_end() {
    let input = envelopes(5, 100);
    let (car, _) = snapshot(&input, MAX_BLOCK);
    let short = reorder(&car, |blocks| {
        blocks.remove(3); // manifest is block 0, so this is envelope 2
    });
    let (_, mut blocks) = read_snapshot(&short[..]).unwrap();
    let items: Vec<_> = blocks.by_ref().collect();
    assert_eq!(items.len(), 5, "four envelopes, then the error");
    assert!(items[..4].iter().all(Result::is_ok));
    let err = items[4].as_ref().unwrap_err();
    let end = short.len() as u64;
    assert!(
        matches!(err, SnapshotError::Incomplete { offset, missing: 1, listed: 5 } if *offset == end),
        "{err}"
    );
    assert!(!err.is_skippable());
    assert_eq!(blocks.missing().collect::<Vec<_>>(), [2]);
    assert!(blocks.next().is_none());
}

#[test]
fn manifest_missing_from_the_car_is_an_error() {
    let input = envelopes(2, 100);
    let (car, root) = snapshot(&input, MAX_BLOCK);
    let headless = reorder(&car, |blocks| {
        blocks.remove(0);
    });
    let err = read_snapshot(&headless[..]).err().unwrap();
    assert!(
        matches!(err, SnapshotError::ManifestMissing { cid, .. } if cid == root),
        "{err}"
    );
}

#[test]
fn a_raw_root_is_not_a_snapshot() {
    let data = b"just a block";
    let mut w = CarWriter::new(Vec::new(), &[raw_cid(data)]).unwrap();
    w.write_block(&raw_cid(data), data).unwrap();
    let car = w.finish().unwrap();
    let err = read_snapshot(&car[..]).err().unwrap();
    assert!(matches!(err, SnapshotError::RootNotManifest { .. }), "{err}");
    assert!(err.to_string().contains("gh-p2p-cache export"), "{err}");
}
