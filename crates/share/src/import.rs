//! Import: snapshot → verify → open → keep the newer version → store.

use crate::Progress;
use entry::{Keys, OpenError, SharedEntry, cmp_recency};
use std::cmp::Ordering;
use std::io::Read;
use std::sync::Arc;
use store::Store;

/// What an import did. Every envelope lands in exactly one bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Stored (new keys, or newer than the stored version).
    pub imported: u64,
    /// Valid, but the store already held the same or a newer version.
    pub kept_local: u64,
    /// Sealed under another secret or scope.
    pub foreign: u64,
    /// Failed the AEAD check or decoded badly: tampered or corrupt.
    pub rejected: u64,
    /// Blocks whose bytes did not match their CID (or their listed size); skipped.
    pub bad_blocks: u64,
    /// Listed in the manifest but never read intact.
    pub missing: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Snapshot(Box<ipfs::SnapshotError>),
    #[error("cannot read the snapshot {path}: {source}")]
    File { path: String, source: std::io::Error },
    /// Reading stopped part way; `report` says what was imported before (all of it valid).
    #[error("{error}; {} entries were imported before it and are kept", report.imported)]
    Stopped {
        error: Box<ipfs::SnapshotError>,
        report: ImportReport,
    },
}

impl From<ipfs::SnapshotError> for ImportError {
    fn from(e: ipfs::SnapshotError) -> Self {
        ImportError::Snapshot(Box::new(e))
    }
}

/// Reads a snapshot into `store`. Never half-applies an entry: each is verified whole before
/// it is stored, and a fatal error keeps what was imported before it. Everything imported is
/// durable when it returns.
pub fn import(
    store: &Store,
    keys: &Keys,
    input: impl Read,
    progress: Progress<'_>,
) -> Result<ImportReport, ImportError> {
    let (manifest, envelopes) = ipfs::read_snapshot(input)?;
    let total = manifest.entries.len() as u64;
    let mut report = ImportReport::default();
    let mut done = 0;
    let mut batch: Vec<SharedEntry> = Vec::with_capacity(BATCH);
    for item in envelopes {
        done += 1;
        let envelope = match item {
            Ok(env) => env,
            Err(e) if e.is_skippable() => {
                tracing::warn!(error = %e, "skipping a bad block");
                report.bad_blocks += 1;
                continue;
            }
            Err(ipfs::SnapshotError::Incomplete { missing, .. }) => {
                report.missing = missing as u64;
                break;
            }
            Err(error) => {
                keep_newer(store, &mut batch, &mut report);
                store.flush_blocking();
                return Err(ImportError::Stopped {
                    error: Box::new(error),
                    report,
                });
            }
        };
        match entry::open(keys, &envelope.data) {
            Ok(received) => {
                batch.push(received);
                if batch.len() == BATCH {
                    keep_newer(store, &mut batch, &mut report);
                }
            }
            Err(OpenError::ForeignKey { .. }) => report.foreign += 1,
            Err(e) => {
                tracing::warn!(cid = %envelope.cid, error = %e, "rejecting an envelope");
                report.rejected += 1;
            }
        }
        progress(done.min(total), total);
    }
    keep_newer(store, &mut batch, &mut report);
    // Durable when this returns: the caller may start serving from the store at once.
    store.flush_blocking();
    progress(total, total);
    Ok(report)
}

/// Entries looked up and stored together (one read transaction per batch).
const BATCH: usize = 1024;

/// Stores received entries (already verified and opened), each unless the store holds the
/// same or a newer version of its key; counts `imported` and `kept_local`. Blocking.
pub fn store_received(store: &Store, entries: Vec<SharedEntry>) -> ImportReport {
    let mut report = ImportReport::default();
    let mut batch = Vec::with_capacity(BATCH.min(entries.len()));
    for e in entries {
        batch.push(e);
        if batch.len() == BATCH {
            keep_newer(store, &mut batch, &mut report);
        }
    }
    keep_newer(store, &mut batch, &mut report);
    report
}

/// Stores each received entry unless the store holds the same or a newer version of its key.
fn keep_newer(store: &Store, batch: &mut Vec<SharedEntry>, report: &mut ImportReport) {
    // Another machine's clock stamped these: one running ahead must not make its entries
    // look fresher than anything fetched here now.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(u64::MAX);
    for received in batch.iter_mut() {
        received.response.fetched_at_ms = received.response.fetched_at_ms.min(now);
    }
    let keys: Vec<&str> = batch.iter().map(|e| e.key.as_str()).collect();
    let local = store.get_many_blocking(&keys);
    for (received, local) in batch.drain(..).zip(local) {
        if let Some(local) = local {
            let local = SharedEntry::new(&entry::CacheKey::from_stored(received.key.clone()), (*local).clone());
            if local.validation == received.validation || cmp_recency(&received, &local) != Ordering::Greater {
                report.kept_local += 1;
                continue;
            }
        }
        store.put_blocking(&received.key, Arc::new(received.response));
        report.imported += 1;
    }
}

/// [`import`] from a snapshot file.
pub fn import_file(
    store: &Store,
    keys: &Keys,
    path: &std::path::Path,
    progress: Progress<'_>,
) -> Result<ImportReport, ImportError> {
    let file = std::fs::File::open(path).map_err(|source| ImportError::File {
        path: path.display().to_string(),
        source,
    })?;
    import(store, keys, std::io::BufReader::new(file), progress)
}
