//! Snapshots: CAR v1 files whose root is the manifest and whose other blocks are envelopes.
//!
//! Block order is manifest first: the manifest chain, root first, then the envelopes in manifest
//! order. A reader then knows every entry (and can decide what to skip) before the first
//! envelope arrives, and never buffers. Writing stays one pass because the manifest needs only
//! CIDs and metadata, which the caller has before it reads any envelope back from its store.

mod error;
mod read;
mod write;

pub use error::SnapshotError;
pub use read::{Envelope, Envelopes, ReadOptions, ReadStats, read_snapshot, read_snapshot_with};
pub use write::{SnapshotWriter, write_snapshot};
