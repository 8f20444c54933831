//! Hostile and broken input: every error names an offset, nothing panics, and no block that does
//! not match its CID is ever handed out.

mod common;

use std::collections::HashSet;
use std::io::{self, Read};

use bytes::Bytes;
use cid::Cid;
use cid::multihash::Multihash;
use common::{envelopes, snapshot};
use ipfs::block::{MAX_BLOCK, RAW, raw_cid};
use ipfs::{CarError, CarReader, CarWriter, SnapshotError, read_snapshot};

/// A small valid snapshot (manifest + 3 envelopes) and its envelopes.
fn small() -> (Vec<u8>, HashSet<(Cid, Bytes)>) {
    let input = envelopes(3, 40);
    let (car, _) = snapshot(&input, MAX_BLOCK);
    (car, input.into_iter().map(|(cid, data, _)| (cid, data)).collect())
}

/// Offsets of section starts (and of the end) in a valid CAR.
fn boundaries(car: &[u8]) -> Vec<u64> {
    let mut reader = CarReader::new(car).unwrap();
    let mut at = vec![reader.offset()];
    while let Some(block) = reader.next() {
        block.unwrap();
        at.push(reader.offset());
    }
    at
}

/// Reads `car` as a snapshot to the end; returns the fatal error if any. Panics if an envelope
/// not in `genuine` is handed out.
fn read_to_end(car: &[u8], genuine: &HashSet<(Cid, Bytes)>) -> Option<SnapshotError> {
    let (_, blocks) = match read_snapshot(car) {
        Ok(read) => read,
        Err(e) => return Some(e),
    };
    for item in blocks {
        match item {
            Ok(e) => assert!(genuine.contains(&(e.cid, e.data)), "a forged envelope was handed out"),
            Err(e) if e.is_skippable() => {}
            Err(e) => return Some(e),
        }
    }
    None
}

#[test]
fn every_truncation_point_is_an_error_naming_the_offset_or_a_clean_short_read() {
    let (car, genuine) = small();
    let boundaries = boundaries(&car);
    for cut in 0..car.len() {
        let err = read_to_end(&car[..cut], &genuine);
        if boundaries.contains(&(cut as u64)) && cut >= boundaries[0] as usize {
            // A CAR cut between sections is a valid shorter CAR: only the manifest tells.
            let err = err.unwrap_or_else(|| panic!("cut at {cut} read as complete"));
            match err {
                SnapshotError::ManifestMissing { offset, .. } | SnapshotError::Incomplete { offset, .. } => {
                    assert_eq!(offset, cut as u64, "{err}");
                }
                other => panic!("cut {cut}: unexpected error {other}"),
            }
            assert!(err.to_string().contains(&format!("byte {cut}")), "{err}");
            continue;
        }
        let err = err.unwrap_or_else(|| panic!("cut at {cut} read as complete"));
        let text = err.to_string();
        assert!(text.contains(&format!("byte {cut}")) || cut == 0, "cut {cut}: {text}");
        match &err {
            SnapshotError::Car(CarError::Empty) => assert_eq!(cut, 0),
            SnapshotError::Car(CarError::NotCar { .. }) => assert!(cut < boundaries[0] as usize),
            SnapshotError::Car(CarError::Truncated { offset, end, .. }) => {
                assert_eq!(*end, cut as u64);
                assert!(boundaries.contains(offset), "cut {cut}: {text}");
            }
            other => panic!("cut {cut}: unexpected error {other}"),
        }
    }
}

#[test]
fn every_flipped_bit_is_caught_or_harmless() {
    let (car, genuine) = small();
    let mut caught = 0;
    for i in 0..car.len() {
        for bit in 0..8 {
            let mut bad = car.clone();
            bad[i] ^= 1 << bit;
            // Any outcome but a forged envelope (checked inside) or a panic is acceptable.
            caught += usize::from(read_to_end(&bad, &genuine).is_some());
        }
    }
    assert!(caught > 0);
}

#[test]
fn random_bytes_never_panic() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (car, genuine) = small();
    let header_len = boundaries(&car)[0] as usize;
    for round in 0..2000 {
        let len = (next() % 600) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 2 == 0 {
            // Half behind a valid header, so the section parser gets the garbage.
            bytes.splice(0..0, car[..header_len].iter().copied());
        }
        read_to_end(&bytes, &genuine);
        for item in CarReader::new(&bytes[..]).into_iter().flatten() {
            let _ = item;
        }
    }
}

fn header_only() -> Vec<u8> {
    CarWriter::new(Vec::new(), &[raw_cid(b"root")])
        .unwrap()
        .finish()
        .unwrap()
}

#[test]
fn a_huge_declared_section_length_is_refused_without_reading_it() {
    let mut car = header_only();
    let at = car.len() as u64;
    car.extend([0xff, 0xff, 0xff, 0xff, 0x0f]); // 4 GiB
    let err = CarReader::new(&car[..]).unwrap().next().unwrap().unwrap_err();
    assert!(
        matches!(err, CarError::TooLarge { offset, len: 0xffff_ffff, .. } if offset == at),
        "{err}"
    );
    assert!(err.to_string().contains(&format!("byte {at}")), "{err}");
    assert!(!err.is_skippable());

    let huge_header = [0xff, 0xff, 0xff, 0xff, 0x0f, 0xa1];
    let err = CarReader::new(&huge_header[..]).err().unwrap();
    assert!(matches!(err, CarError::TooLarge { offset: 0, .. }), "{err}");
}

#[test]
fn a_ten_byte_varint_is_an_overflow() {
    let mut car = header_only();
    let at = car.len() as u64;
    car.extend([0xff; 10]);
    let err = CarReader::new(&car[..]).unwrap().next().unwrap().unwrap_err();
    assert!(
        matches!(err, CarError::VarintOverflow { offset, .. } if offset == at),
        "{err}"
    );
}

#[test]
fn a_zero_length_section_is_corrupt() {
    let mut car = header_only();
    car.push(0);
    let err = CarReader::new(&car[..]).unwrap().next().unwrap().unwrap_err();
    assert!(matches!(err, CarError::EmptySection { .. }), "{err}");
}

#[test]
fn a_block_that_does_not_match_its_cid_is_skipped_and_the_next_one_read() {
    let (car, _) = small();
    let bounds = boundaries(&car);
    // Last byte of the section of envelope 1 (block 2, after the manifest): inside its data.
    let mut bad = car.clone();
    bad[bounds[3] as usize - 1] ^= 0x01;

    let items: Vec<_> = CarReader::new(&bad[..]).unwrap().collect();
    assert_eq!(items.len(), 4);
    let err = items[2].as_ref().unwrap_err();
    assert!(
        matches!(err, CarError::HashMismatch { offset, .. } if *offset == bounds[2]),
        "{err}"
    );
    assert!(err.is_skippable());
    assert!(err.to_string().contains(&format!("byte {}", bounds[2])), "{err}");
    assert!(items[3].is_ok(), "the block after the bad one is read");

    let (_, mut blocks) = read_snapshot(&bad[..]).unwrap();
    let good: Vec<_> = blocks.by_ref().filter_map(Result::ok).map(|e| e.index).collect();
    assert_eq!(good, [0, 2]);
    assert_eq!(blocks.stats().bad, 1);
    assert_eq!(blocks.missing().collect::<Vec<_>>(), [1]);
}

#[test]
fn a_corrupt_manifest_block_stops_the_snapshot() {
    let (car, _) = small();
    let bounds = boundaries(&car);
    let mut bad = car.clone();
    bad[bounds[1] as usize - 1] ^= 0x01;
    let err = read_snapshot(&bad[..]).err().unwrap();
    assert!(
        matches!(err, SnapshotError::BadManifest { offset, .. } if offset == bounds[0]),
        "{err}"
    );
}

#[test]
fn bad_cids_and_other_hash_functions_are_skippable() {
    let mut car = header_only();
    // A CID claiming a 64-byte digest inside a 6-byte section.
    car.extend([0x06, 0x01, 0x55, 0x12, 0x40, 0x00, 0x00]);
    // An identity-hash CID: valid, but nothing to check it with.
    let identity = Cid::new_v1(RAW, Multihash::wrap(0x00, b"abc").unwrap());
    let mut w = CarWriter::new(Vec::new(), &[raw_cid(b"root")]).unwrap();
    w.write_block(&identity, b"abc").unwrap();
    w.write_block(&raw_cid(b"good"), b"good").unwrap();
    let tail = w.finish().unwrap();
    car.extend(&tail[header_only().len()..]);

    let items: Vec<_> = CarReader::new(&car[..]).unwrap().collect();
    assert!(matches!(&items[0], Err(CarError::BadCid { .. })), "{:?}", items[0]);
    assert!(
        matches!(&items[1], Err(CarError::UnsupportedHash { code: 0, .. })),
        "{:?}",
        items[1]
    );
    assert_eq!(items[2].as_ref().unwrap().data, "good");
    assert!(items[..2].iter().all(|i| i.as_ref().unwrap_err().is_skippable()));
}

#[test]
fn header_errors_say_what_is_wrong() {
    let err = CarReader::new(&b""[..]).err().unwrap();
    assert!(matches!(err, CarError::Empty), "{err}");
    assert!(err.to_string().contains("empty"));

    // The CAR v2 pragma, then anything.
    let v2 = b"\x0a\xa1\x67version\x02rest of a v2 file";
    let err = CarReader::new(&v2[..]).err().unwrap();
    assert!(matches!(err, CarError::UnsupportedVersion { version: 2 }), "{err}");
    assert!(err.to_string().contains("CAR v1"), "{err}");

    // {roots: [], version: 1}
    let no_roots = b"\x11\xa2\x65roots\x80\x67version\x01";
    let err = CarReader::new(&no_roots[..]).err().unwrap();
    assert!(matches!(err, CarError::NoRoots), "{err}");

    for text in [
        &b"hello, not a car at all\n"[..],
        b"{\"json\": true}",
        b"\x1f\x8b\x08\x00gzip",
    ] {
        let err = CarReader::new(text).err().unwrap();
        assert!(matches!(err, CarError::NotCar { offset: 0, .. }), "{err}");
        assert!(err.to_string().starts_with("not a CAR"), "{err}");
    }
}

/// Fails with an I/O error after `left` bytes.
struct FailingAfter<'a> {
    data: &'a [u8],
    left: usize,
}

impl Read for FailingAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.left).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.left -= n;
        Ok(n)
    }
}

#[test]
fn io_errors_name_the_offset_and_end_the_reading() {
    let (car, _) = small();
    let bounds = boundaries(&car);
    let input = FailingAfter {
        data: &car,
        left: bounds[2] as usize + 1,
    };
    let items: Vec<_> = CarReader::new(input).unwrap().collect();
    assert_eq!(items.len(), 3, "two blocks, then the error, then nothing");
    let err = items[2].as_ref().unwrap_err();
    assert!(matches!(err, CarError::Io { .. }), "{err}");
    assert!(err.to_string().contains("disk on fire"), "{err}");
    assert!(!err.is_skippable());
}
