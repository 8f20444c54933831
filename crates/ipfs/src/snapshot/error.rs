//! Errors of reading a snapshot on top of the CAR errors.

use cid::Cid;

use crate::car::CarError;

/// Reading a snapshot failed. Per-envelope errors ([`SnapshotError::is_skippable`]) leave the
/// rest readable; the others stop the reading, and envelopes already handed out stay valid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    #[error(transparent)]
    Car(#[from] CarError),
    #[error(
        "the CAR's root {root} is not a DAG-CBOR block, so not a snapshot manifest: pass a snapshot \
         written by `gh-p2p-cache export`"
    )]
    RootNotManifest { root: Cid },
    #[error(
        "manifest block {cid} at byte {offset} is not a valid snapshot manifest ({reason}): export the snapshot again"
    )]
    BadManifest { cid: Cid, offset: u64, reason: String },
    #[error("manifest block {cid} is version {version}, newer than this build reads (1): upgrade gh-p2p-cache")]
    ManifestVersion { cid: Cid, version: u64 },
    #[error(
        "manifest block {cid} is not in the CAR, which ends at byte {offset}: the snapshot is incomplete; fetch or export it again"
    )]
    ManifestMissing { cid: Cid, offset: u64 },
    #[error(
        "manifest block {cid} did not come within the first {limit} bytes of blocks (reading stopped \
         at byte {offset}): this CAR does not put its manifest first; export it again with \
         `gh-p2p-cache export`, or read it with a larger buffer limit"
    )]
    ManifestNotFirst { cid: Cid, offset: u64, limit: usize },
    #[error("the manifest chain is longer than {limit} blocks: the snapshot is corrupt or hostile; refusing it")]
    ChainTooLong { limit: usize },
    #[error(
        "the snapshot ends at byte {offset} with {missing} of its {listed} envelopes not read intact: \
         it is truncated or incomplete; the envelopes read are valid, fetch or export it again for the rest"
    )]
    Incomplete { offset: u64, missing: usize, listed: usize },
    #[error("envelope {cid} at byte {offset} is {size} bytes but the manifest lists {listed}: skip it")]
    SizeMismatch {
        cid: Cid,
        offset: u64,
        size: usize,
        listed: u64,
    },
}

impl SnapshotError {
    /// True when only one envelope is bad and the next ones can still be read.
    pub fn is_skippable(&self) -> bool {
        match self {
            SnapshotError::Car(e) => e.is_skippable(),
            SnapshotError::SizeMismatch { .. } => true,
            _ => false,
        }
    }
}
