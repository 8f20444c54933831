//! The same test bodies against the memory tier and the disk tier, plus disk-only behaviour:
//! persistence across reopen, the byte bound, and corrupt, foreign or busy cache directories.

use bytes::Bytes;
use entry::{Fingerprint, StoredResponse};
use std::sync::Arc;
use store::{DiskTier, MemoryTier, Store, Tier};

fn response(body: &str) -> Arc<StoredResponse> {
    Arc::new(StoredResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Bytes::from(body.to_owned()),
        fetched_at_ms: 1,
        ttl_secs: 60,
        token_fp: Fingerprint([1; 16]),
        etag: Some("W/\"e\"".into()),
        last_modified: None,
        request_accept: None,
        tags: vec!["o/r".into()],
        validators: Vec::new(),
    })
}

fn put_get_remove(tier: &dyn Tier) {
    assert!(tier.get("k1").unwrap().is_none());
    tier.put("k1", response("one")).unwrap();
    tier.put("k2", response("two")).unwrap();
    tier.flush().unwrap();
    assert_eq!(tier.get("k1").unwrap().unwrap().body, "one");
    tier.put("k1", response("uno")).unwrap();
    tier.flush().unwrap();
    assert_eq!(tier.get("k1").unwrap().unwrap().body, "uno", "a put replaces");
    tier.remove("k1").unwrap();
    tier.flush().unwrap();
    assert!(tier.get("k1").unwrap().is_none());
    assert_eq!(tier.get("k2").unwrap().unwrap().body, "two", "other keys untouched");
    tier.clear().unwrap();
    tier.flush().unwrap();
    assert!(tier.get("k2").unwrap().is_none());
    tier.check().unwrap();
}

#[test]
fn memory_tier_contract() {
    put_get_remove(&MemoryTier::new(1 << 20));
}

#[test]
fn disk_tier_contract() {
    let dir = tempfile::tempdir().unwrap();
    put_get_remove(&DiskTier::open(dir.path(), 1 << 20).unwrap());
}

#[test]
fn memory_tier_is_bounded_in_bytes() {
    let tier = MemoryTier::new(20_000);
    for i in 0..100 {
        tier.put(&format!("k{i}"), response(&"x".repeat(1000))).unwrap();
    }
    tier.sync();
    assert!(tier.usage().bytes <= 20_000, "{:?}", tier.usage());
    assert!(tier.usage().entries < 100);
}

#[test]
fn disk_tier_survives_reopen_and_counts_usage() {
    let dir = tempfile::tempdir().unwrap();
    {
        let disk = DiskTier::open(dir.path(), 1 << 20).unwrap();
        disk.put("k", response("kept")).unwrap();
        disk.meta_put("m", b"v".to_vec()).unwrap();
        disk.close().unwrap();
    }
    let disk = DiskTier::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(disk.get("k").unwrap().unwrap().body, "kept");
    assert_eq!(disk.meta_get("m").unwrap().unwrap(), b"v");
    assert_eq!(disk.usage().entries, 1);
    assert!(disk.usage().bytes > 0);
    assert!(disk.moved_aside.is_none());
}

#[test]
fn disk_tier_evicts_oldest_first_within_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let disk = DiskTier::open(dir.path(), 10_000).unwrap();
    for i in 0..50 {
        disk.put(&format!("k{i:02}"), response(&"y".repeat(1000))).unwrap();
    }
    disk.flush().unwrap();
    assert!(disk.usage().bytes <= 10_000, "{:?}", disk.usage());
    assert!(disk.get("k00").unwrap().is_none(), "oldest evicted");
    assert!(disk.get("k49").unwrap().is_some(), "newest kept");
    assert!(disk.evicted() >= 40);
    assert_eq!(disk.keys().unwrap().len() as u64, disk.usage().entries);
}

#[test]
fn corrupt_database_is_moved_aside_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cache.redb"),
        b"this is not a redb file at all, just garbage bytes",
    )
    .unwrap();
    let disk = DiskTier::open(dir.path(), 1 << 20).unwrap();
    let aside = disk.moved_aside.clone().expect("moved aside");
    assert_eq!(
        std::fs::read(&aside).unwrap(),
        b"this is not a redb file at all, just garbage bytes",
        "original kept"
    );
    disk.put("k", response("fresh")).unwrap();
    disk.flush().unwrap();
    assert!(disk.get("k").unwrap().is_some());
}

#[test]
fn foreign_redb_database_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = redb::Database::create(dir.path().join("cache.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("someone_elses");
            txn.open_table(def).unwrap().insert("x", 1).unwrap();
        }
        txn.commit().unwrap();
    }
    let disk = DiskTier::open(dir.path(), 1 << 20).unwrap();
    assert!(disk.moved_aside.is_some());
}

#[test]
fn busy_cache_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let _first = DiskTier::open(dir.path(), 1 << 20).unwrap();
    let err = DiskTier::open(dir.path(), 1 << 20).err().expect("second open fails");
    assert!(err.to_string().contains("in use by another gh-p2p-cache"), "{err}");
}

#[test]
fn undecodable_record_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    {
        let disk = DiskTier::open(dir.path(), 1 << 20).unwrap();
        disk.put("k", response("v")).unwrap();
        disk.close().unwrap();
    }
    {
        // Overwrite the record with garbage behind the store's back.
        let db = redb::Database::create(dir.path().join("cache.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("entries_v1");
            txn.open_table(def)
                .unwrap()
                .insert("k", [0u8, 0, 0, 0, 0, 0, 0, 0, 99, 1, 2].as_slice())
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let disk = DiskTier::open(dir.path(), 1 << 20).unwrap();
    assert!(disk.get("k").unwrap().is_none());
}

#[tokio::test]
async fn tiered_store_promotes_disk_hits_and_flushes() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), 1 << 20, 1 << 20).unwrap();
        store.put("k", response("v"));
        store.flush().await;
    }
    let store = Store::open(dir.path(), 1 << 20, 1 << 20).unwrap();
    assert_eq!(store.stats().memory.entries, 0);
    assert_eq!(store.get("k").await.unwrap().body, "v");
    assert_eq!(store.stats().memory.entries, 1, "promoted");
    assert_eq!(store.stats().errors, 0);
}
