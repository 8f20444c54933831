//! Measures snapshot read + verify throughput: 100k envelope-sized (2 KiB) blocks, written once,
//! then read back with `CarReader` (hash checks only) and `read_snapshot` (hash checks, manifest
//! lookups, size checks), from memory and from a file. A measurement, not a test:
//!
//! `cargo run --release -p ipfs --example car_speed [ENTRIES] [BLOCK_BYTES]`

use std::fs::File;
use std::io::BufWriter;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ipfs::block::raw_cid;
use ipfs::{CarReader, EntryMeta, Manifest, ManifestEntry, SnapshotWriter, read_snapshot};
use sha2::{Digest, Sha256};

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().expect("numbers: ENTRIES BLOCK_BYTES"));
    let n = args.next().unwrap_or(100_000);
    let size = args.next().unwrap_or(2048);

    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let blocks: Vec<Bytes> = (0..n)
        .map(|_| {
            let data: Vec<u8> = (0..size)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            Bytes::from(data)
        })
        .collect();
    let meta = EntryMeta {
        key_id: Some("0123456789abcdef".into()),
        expires_ms: Some(1_800_000_000_000),
    };
    let entries = blocks
        .iter()
        .map(|b| ManifestEntry {
            cid: raw_cid(b),
            size: b.len() as u64,
            meta: meta.clone(),
        })
        .collect();
    let manifest = Manifest {
        created_ms: 1_700_000_000_000,
        entries,
    };
    let mb = (n * size) as f64 / 1e6;
    println!("{n} blocks of {size} bytes ({mb:.0} MB)");

    let hashed = time(|| {
        for b in &blocks {
            std::hint::black_box(Sha256::digest(b));
        }
    });
    report("sha2-256 alone (the floor)", n, mb, hashed);

    let mut car = Vec::with_capacity(n * (size + 40) + (1 << 20));
    let wrote = time(|| {
        car.clear();
        let mut w = SnapshotWriter::new(&mut car, &manifest).unwrap();
        for b in &blocks {
            w.write_envelope(b).unwrap();
        }
        w.finish().unwrap();
    });
    report("write snapshot to memory (manifest + hash check)", n, mb, wrote);

    let read = time(|| {
        let count = count_ok(CarReader::new(&car[..]).unwrap());
        assert_eq!(count, n + manifest_blocks(&car));
    });
    report("CarReader from memory (verify every block)", n, mb, read);

    let snap = time(|| {
        let (m, envelopes) = read_snapshot(&car[..]).unwrap();
        assert_eq!(m.entries.len(), n);
        assert_eq!(count_ok(envelopes), n);
    });
    report("read_snapshot from memory (manifest, verify, index)", n, mb, snap);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("speed.car");
    let mut file = BufWriter::new(File::create(&path).unwrap());
    std::io::Write::write_all(&mut file, &car).unwrap();
    drop(file);
    let from_file = time(|| {
        let (_, envelopes) = read_snapshot(File::open(&path).unwrap()).unwrap();
        assert_eq!(count_ok(envelopes), n);
    });
    report("read_snapshot from a file (page cache)", n, mb, from_file);
}

/// Counts items, failing on any error; each block is dropped at once, as an importer would.
fn count_ok<T, E: std::fmt::Debug>(items: impl Iterator<Item = Result<T, E>>) -> usize {
    let mut n = 0;
    for item in items {
        item.unwrap();
        n += 1;
    }
    n
}

fn manifest_blocks(car: &[u8]) -> usize {
    CarReader::new(car)
        .unwrap()
        .take_while(|b| b.as_ref().unwrap().cid.codec() == ipfs::block::DAG_CBOR)
        .count()
}

/// Best of three runs, to keep other builds on the shared cores out of the number.
fn time(mut f: impl FnMut()) -> Duration {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap()
}

fn report(what: &str, n: usize, mb: f64, took: Duration) {
    let secs = took.as_secs_f64();
    println!(
        "{what:<55} {:>9.0} blocks/s {:>7.0} MB/s  ({:.1} ms)",
        n as f64 / secs,
        mb / secs,
        secs * 1e3
    );
}
