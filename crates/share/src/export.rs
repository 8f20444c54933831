//! Export: store → scrub → seal → snapshot.

use crate::Progress;
use bytes::Bytes;
use entry::{CacheKey, Keys, Scrubber, SharedEntry, StoredResponse};
use ipfs::{EntryMeta, Manifest, ManifestEntry, SnapshotWriter};
use std::io::Write;
use store::Store;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    pub entries: u64,
    /// Entries left out because, sealed, they would exceed the 1 MiB block limit.
    pub too_large: u64,
    /// Entries whose body or headers had secrets redacted.
    pub scrubbed: u64,
    pub bytes: u64,
    /// The manifest root: what to pin and announce.
    pub root: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write the snapshot: {0} (the output is incomplete; delete it)")]
    Write(#[from] ipfs::WriteError),
    #[error("cannot write the snapshot {path}: {source}")]
    File { path: String, source: std::io::Error },
}

/// [`export`] to `path`, stamped with the current time. Written beside it first and renamed into
/// place only when complete, so a failure never leaves a half-written snapshot.
pub fn export_file(
    store: &Store,
    keys: &Keys,
    scrubber: &Scrubber,
    path: &std::path::Path,
    progress: Progress<'_>,
) -> Result<ExportReport, ExportError> {
    let io = |source| ExportError::File {
        path: path.display().to_string(),
        source,
    };
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".partial");
    let tmp = path.with_file_name(tmp_name);
    let out = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let report = export(store, keys, scrubber, out, now, progress);
    match report {
        Ok(r) => {
            std::fs::rename(&tmp, path).map_err(io)?;
            Ok(r)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Seals every stored entry and writes a snapshot to `out`.
pub fn export(
    store: &Store,
    keys: &Keys,
    scrubber: &Scrubber,
    out: impl Write,
    created_ms: u64,
    progress: Progress<'_>,
) -> Result<ExportReport, ExportError> {
    let mut stored: Vec<(String, StoredResponse)> = Vec::new();
    // Everything accepted so far, including writes still queued for the disk.
    store.flush_blocking();
    store.scan_blocking(&mut |k, v| stored.push((k.to_owned(), v.clone())));
    let total = stored.len() as u64;
    let mut report = ExportReport::default();
    let key_id = keys.key_id().to_string();
    // Sealed envelopes are held until the manifest (which lists them all) is written first.
    let mut sealed: Vec<Bytes> = Vec::with_capacity(stored.len());
    let mut manifest = Manifest {
        created_ms,
        entries: Vec::with_capacity(stored.len()),
    };
    for (i, (key, mut response)) in stored.into_iter().enumerate() {
        if scrub(scrubber, &mut response) {
            report.scrubbed += 1;
        }
        let expires_ms = response.fetched_at_ms + u64::from(response.ttl_secs) * 1000;
        match seal_scrubbed(keys, key, response) {
            Ok(s) => {
                manifest.entries.push(ManifestEntry {
                    cid: s.cid,
                    size: s.envelope.len() as u64,
                    meta: EntryMeta {
                        key_id: Some(key_id.clone()),
                        expires_ms: Some(expires_ms),
                    },
                });
                report.bytes += s.envelope.len() as u64;
                sealed.push(s.envelope);
            }
            Err(e) => {
                tracing::debug!(error = %e, "entry left out of the snapshot");
                report.too_large += 1;
            }
        }
        progress(i as u64 + 1, total);
    }
    let mut writer = SnapshotWriter::new(out, &manifest)?;
    report.root = writer.root().to_string();
    for envelope in &sealed {
        writer.write_envelope(envelope)?;
    }
    writer.finish()?;
    report.entries = sealed.len() as u64;
    Ok(report)
}

/// Scrubs one stored entry and seals it for sharing (what a peer announces and serves).
pub fn seal_entry(
    keys: &Keys,
    scrubber: &Scrubber,
    key: String,
    mut response: StoredResponse,
) -> Result<entry::Sealed, entry::SealError> {
    scrub(scrubber, &mut response);
    seal_scrubbed(keys, key, response)
}

fn seal_scrubbed(keys: &Keys, key: String, response: StoredResponse) -> Result<entry::Sealed, entry::SealError> {
    entry::seal(keys, &SharedEntry::new(&CacheKey::from_stored(key), response))
}

/// Redacts secrets from the body and headers; true if anything changed.
fn scrub(scrubber: &Scrubber, response: &mut StoredResponse) -> bool {
    let mut changed = false;
    if let std::borrow::Cow::Owned(clean) = scrubber.scrub(&response.body) {
        response.body = Bytes::from(clean);
        changed = true;
    }
    let before = response.headers.clone();
    scrubber.scrub_headers(&mut response.headers);
    changed || before != response.headers
}
