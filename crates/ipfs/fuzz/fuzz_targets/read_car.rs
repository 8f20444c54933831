//! Arbitrary bytes as a CAR and as a snapshot: no panic, no endless loop, no unbounded allocation,
//! and every block or envelope handed out hashes to its CID.
#![no_main]

use ipfs::block::{Verdict, verify};
use ipfs::{CarReader, ReadOptions, read_snapshot_with};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(reader) = CarReader::new(data) {
        for block in reader.flatten() {
            assert_eq!(verify(&block.cid, &block.data), Verdict::Match);
        }
    }
    // A small buffer limit so the "manifest comes late" path is reached with small inputs.
    let options = ReadOptions { max_buffered: 4096 };
    if let Ok((manifest, envelopes)) = read_snapshot_with(data, options) {
        for envelope in envelopes.flatten() {
            assert_eq!(verify(&envelope.cid, &envelope.data), Verdict::Match);
            assert_eq!(manifest.entries[envelope.index].cid, envelope.cid);
        }
    }
});
