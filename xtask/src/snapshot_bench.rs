//! Snapshot export and import of 100k entries with full verification (CID of every block, AEAD
//! of every envelope), timed side by side in one run. Target: import at least 50k entries/s.

use anyhow::Context;
use bytes::Bytes;
use entry::{Fingerprint, Keys, Scrubber, Secret, StoredResponse};
use std::sync::Arc;
use std::time::Instant;
use store::Store;

pub const ENTRIES: usize = 100_000;
const BODY_BYTES: usize = 2048;

fn body(i: usize) -> Bytes {
    let head = format!(r#"{{"id":{i},"number":{i},"updated_at":"2026-01-01T00:00:00Z","title":"issue {i}","body":""#);
    let mut s = head.into_bytes();
    s.resize(BODY_BYTES - 2, b'x');
    s.extend_from_slice(b"\"}");
    Bytes::from(s)
}

/// The benchmark's `i`th cache key.
pub fn key_for(i: usize) -> String {
    format!("GET /repos/octo/hello/issues/{i} accept=application/vnd.github+json")
}

/// The benchmark's `i`th entry: an issue with a 2 KiB body.
pub fn entry_for(i: usize) -> StoredResponse {
    StoredResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json; charset=utf-8".into())],
        body: body(i),
        fetched_at_ms: 1_700_000_000_000 + i as u64,
        ttl_secs: 300,
        token_fp: Fingerprint([1; 16]),
        etag: Some(format!("W/\"{i:064x}\"")),
        last_modified: None,
        request_accept: Some("application/vnd.github+json".into()),
        tags: vec!["octo/hello".into()],
        validators: Vec::new(),
    }
}

pub fn run(out: &std::path::Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("temporary directory")?;
    let started = Instant::now();
    let keys = Keys::derive(&Secret::from_text("benchmark secret")?, "octo/hello");
    let derive = started.elapsed();

    let source = Store::open(&dir.path().join("a"), 64 << 20, u64::MAX)?;
    for i in 0..ENTRIES {
        source.put_blocking(&key_for(i), Arc::new(entry_for(i)));
    }
    source.flush_blocking();

    let car_path = dir.path().join("snap.car");
    let t = Instant::now();
    let file = std::io::BufWriter::new(std::fs::File::create(&car_path)?);
    let exported = share::export(&source, &keys, &Scrubber::new(&[])?, file, 1, &mut |_, _| {})?;
    let export_secs = t.elapsed().as_secs_f64();
    let car_bytes = std::fs::metadata(&car_path)?.len();

    let target = Store::open(&dir.path().join("b"), 64 << 20, u64::MAX)?;
    let t = Instant::now();
    let input = std::io::BufReader::new(std::fs::File::open(&car_path)?);
    let imported = share::import(&target, &keys, input, &mut |_, _| {})?;
    target.flush_blocking();
    let import_secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(imported.imported == ENTRIES as u64, "imported {imported:?}");
    anyhow::ensure!(
        target.stats().disk.entries == ENTRIES as u64,
        "disk holds {:?}",
        target.stats().disk
    );

    let export_rate = exported.entries as f64 / export_secs;
    let import_rate = imported.imported as f64 / import_secs;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let verdict = if import_rate >= 50_000.0 {
        format!("PASS: import {import_rate:.0} entries/s ≥ 50,000")
    } else {
        format!(
            "MISS: import {import_rate:.0} entries/s is {:.0} % below 50,000",
            100.0 * (1.0 - import_rate / 50_000.0)
        )
    };
    let section = format!(
        "<!-- bench:snapshot:start -->\n## Snapshots: export and import of {ENTRIES} entries\n\n\
         - Date: {}\n- Command: `cargo xtask bench --only snapshot`\n- Machine: {}\n\
         - Entries: {BODY_BYTES}-byte JSON bodies in a redb store. Export scans the store, scrubs, seals \
         (AES-256-GCM) and writes a CAR v1 file; import reads it back verifying every block's CID and \
         every envelope's AEAD tag, keeps the newer version per key and writes to a fresh redb store \
         (flushed, durable). Key derivation (PBKDF2, 600k iterations) is done once, before: {:.0} ms.\n\n\
         | step | entries | seconds | entries/s |\n| --- | ---: | ---: | ---: |\n\
         | export (scan, scrub, seal, write CAR) | {} | {export_secs:.2} | {export_rate:.0} |\n\
         | import (read, verify CID, open, store) | {} | {import_secs:.2} | {import_rate:.0} |\n\n\
         Snapshot size: {:.1} MiB. {verdict}\n<!-- bench:snapshot:end -->\n",
        crate::report::utc_timestamp(now),
        crate::report::machine(),
        derive.as_secs_f64() * 1000.0,
        exported.entries,
        imported.imported,
        car_bytes as f64 / (1024.0 * 1024.0),
    );
    println!("\n{section}");
    crate::report::write(out, &section)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
