//! Errors of reading and writing CAR files. Every read error names the byte offset where it
//! happened, so a bad file can be inspected (`xxd -s OFFSET`) and a report says where it broke.

use std::io;

use cid::Cid;

/// Reading a CAR failed. [`CarError::is_skippable`] tells apart a bad block inside intact framing
/// (skip it, count it, read on) from a broken file (stop; what was read before stays good).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CarError {
    #[error("the file is empty, not a CAR: pass a snapshot written by `gh-p2p-cache export`")]
    Empty,
    #[error("not a CAR v1 file (header at byte {offset}: {reason}): pass a snapshot written by `gh-p2p-cache export`")]
    NotCar { offset: u64, reason: String },
    #[error(
        "unsupported CAR version {version} (header at byte 0): only CAR v1 is read; convert it to \
         CAR v1 or export the snapshot again"
    )]
    UnsupportedVersion { version: u64 },
    #[error("the CAR header lists no root: a snapshot's root is its manifest; export the snapshot again")]
    NoRoots,
    #[error(
        "the CAR ends at byte {end}, inside the {what} that starts at byte {offset}: the file is \
         truncated; copy or download it again"
    )]
    Truncated { offset: u64, end: u64, what: &'static str },
    #[error("the {what} at byte {offset} is a varint over 9 bytes: the CAR is corrupt from there on")]
    VarintOverflow { offset: u64, what: &'static str },
    #[error(
        "the {what} at byte {offset} declares {len} bytes, over the {limit}-byte limit: the CAR is \
         corrupt or was not written for 1 MiB blocks; refusing to read further"
    )]
    TooLarge {
        offset: u64,
        what: &'static str,
        len: u64,
        limit: usize,
    },
    #[error("the section at byte {offset} declares length 0: the CAR is corrupt from there on")]
    EmptySection { offset: u64 },
    #[error("reading the CAR failed at byte {offset}: {source}")]
    Io { offset: u64, source: io::Error },
    #[error("the section at byte {offset} does not start with a valid CID ({reason}): skip the block")]
    BadCid { offset: u64, reason: String },
    #[error(
        "block {cid} at byte {offset} uses hash function 0x{code:x}; only sha2-256 (0x12) can be \
         checked: skip the block"
    )]
    UnsupportedHash { offset: u64, cid: Cid, code: u64 },
    #[error("block {cid} at byte {offset} does not match its CID (corrupt or tampered): skip the block")]
    HashMismatch { offset: u64, cid: Cid },
}

impl CarError {
    /// True when only this block is bad and reading can go on with the next section: the section
    /// length was sound, so the framing after it is intact. Every other error ends the reading.
    pub fn is_skippable(&self) -> bool {
        matches!(
            self,
            CarError::BadCid { .. } | CarError::UnsupportedHash { .. } | CarError::HashMismatch { .. }
        )
    }

    /// Byte offset in the CAR where the failing header or section starts.
    pub fn offset(&self) -> u64 {
        match self {
            CarError::Empty | CarError::UnsupportedVersion { .. } | CarError::NoRoots => 0,
            CarError::NotCar { offset, .. }
            | CarError::Truncated { offset, .. }
            | CarError::VarintOverflow { offset, .. }
            | CarError::TooLarge { offset, .. }
            | CarError::EmptySection { offset }
            | CarError::Io { offset, .. }
            | CarError::BadCid { offset, .. }
            | CarError::UnsupportedHash { offset, .. }
            | CarError::HashMismatch { offset, .. } => *offset,
        }
    }
}

/// Writing a CAR or a snapshot failed. After any of these the output is incomplete: delete it
/// and export again (a reader would reject it or report missing blocks).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    #[error("writing the CAR failed at byte {offset}: {source}; check free space and permissions, then export again")]
    Io { offset: u64, source: io::Error },
    #[error("a CAR needs at least one root: pass the manifest's CID")]
    NoRoots,
    #[error("block {cid} is {size} bytes, over the {limit}-byte block limit: leave it out of the snapshot")]
    BlockTooLarge { cid: Cid, size: usize, limit: usize },
    #[error(
        "envelope {index} does not hash to {cid}, the CID the manifest lists for it: pass envelopes \
         unchanged and in manifest order"
    )]
    EnvelopeMismatch { index: usize, cid: Cid },
    #[error(
        "envelope {index} ({cid}) is {size} bytes but the manifest lists {listed}: build the manifest from the same envelopes"
    )]
    SizeMismatch {
        index: usize,
        cid: Cid,
        size: usize,
        listed: u64,
    },
    #[error("the manifest lists {cid} twice: list each envelope once")]
    DuplicateEntry { cid: Cid },
    #[error("all {listed} envelopes listed in the manifest are written; an extra one was passed")]
    UnexpectedEnvelope { listed: usize },
    #[error(
        "{missing} of the {listed} envelopes listed in the manifest were not written: the CAR is incomplete, delete it"
    )]
    MissingEnvelopes { missing: usize, listed: usize },
    #[error(
        "the manifest entry for {cid} encodes to {size} bytes, more than a {limit}-byte manifest \
         block holds: shorten its key id"
    )]
    EntryTooLarge { cid: Cid, size: usize, limit: usize },
    #[error("manifest block limit {limit} is out of range: use 1024 to 1048576 bytes")]
    BadBlockLimit { limit: usize },
    #[error("encoding DAG-CBOR failed: {0}")]
    Encode(String),
}
