//! Export and import end to end over real stores: round trip, secrets scrubbed, wrong secret,
//! tampering, truncation, and the newer version winning.

use bytes::Bytes;
use entry::{Fingerprint, Keys, Scrubber, Secret, StoredResponse};
use share::{ImportError, export, import};
use std::sync::Arc;
use store::Store;

fn keys(secret: &str) -> Keys {
    // Few iterations: derivation cost is not what these tests are about.
    Keys::derive_with_iterations(&Secret::from_text(secret).unwrap(), "octo/hello", 1000)
}

fn response(body: &str, fetched_at_ms: u64) -> Arc<StoredResponse> {
    Arc::new(StoredResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("etag".into(), "W/\"x\"".into()),
        ],
        body: Bytes::from(body.to_owned()),
        fetched_at_ms,
        ttl_secs: 300,
        token_fp: Fingerprint([7; 16]),
        etag: Some("W/\"x\"".into()),
        last_modified: None,
        request_accept: None,
        tags: vec!["octo/hello".into()],
        validators: Vec::new(),
    })
}

fn filled(dir: &std::path::Path, n: usize) -> Store {
    let store = Store::open(dir, 1 << 24, 1 << 30).unwrap();
    for i in 0..n {
        let body = format!(
            r#"{{"id":{i},"updated_at":"2026-01-01T00:00:{:02}Z","title":"issue {i}"}}"#,
            i % 60
        );
        store.put(
            &format!("GET /repos/octo/hello/issues/{i} accept=*/*"),
            response(&body, 1_000 + i as u64),
        );
    }
    store
}

fn export_to_vec(store: &Store, keys: &Keys) -> (Vec<u8>, share::ExportReport) {
    let mut car = Vec::new();
    let report = export(store, keys, &Scrubber::new(&[]).unwrap(), &mut car, 1, &mut |_, _| {}).unwrap();
    (car, report)
}

#[tokio::test]
async fn round_trip_marks_entries_as_received_and_scrubs_secrets() {
    let a = tempfile::tempdir().unwrap();
    let store = filled(a.path(), 50);
    store.put(
        "GET /user accept=*/*",
        response(r#"{"leak":"ghp_abcdefghijklmnopqrstuvwxyz0123456789"}"#, 5),
    );
    store.flush().await;
    let k = keys("fleet secret");
    let (car, out) = export_to_vec(&store, &k);
    assert_eq!((out.entries, out.scrubbed, out.too_large), (51, 1, 0));
    assert!(
        !String::from_utf8_lossy(&car).contains("issue 7"),
        "bodies are encrypted"
    );

    let b = tempfile::tempdir().unwrap();
    let fresh = Store::open(b.path(), 1 << 24, 1 << 30).unwrap();
    let report = import(&fresh, &k, &car[..], &mut |_, _| {}).unwrap();
    assert_eq!(
        (report.imported, report.rejected, report.foreign, report.bad_blocks),
        (51, 0, 0, 0)
    );
    let got = fresh.get("GET /repos/octo/hello/issues/7 accept=*/*").await.unwrap();
    let original = store.get("GET /repos/octo/hello/issues/7 accept=*/*").await.unwrap();
    assert_eq!(
        (&got.body, got.fetched_at_ms, &got.tags),
        (&original.body, original.fetched_at_ms, &original.tags)
    );
    assert_eq!(
        got.token_fp,
        Fingerprint::PEER,
        "received entries are revalidated before serving"
    );
    let user = fresh.get("GET /user accept=*/*").await.unwrap();
    assert!(
        !String::from_utf8_lossy(&user.body).contains("ghp_abcdef"),
        "{:?}",
        user.body
    );

    // Importing the same snapshot again changes nothing.
    let again = import(&fresh, &k, &car[..], &mut |_, _| {}).unwrap();
    assert_eq!((again.imported, again.kept_local), (0, 51));
}

#[test]
fn another_secret_imports_nothing() {
    let a = tempfile::tempdir().unwrap();
    let (car, _) = export_to_vec(&filled(a.path(), 5), &keys("one"));
    let b = tempfile::tempdir().unwrap();
    let fresh = Store::open(b.path(), 1 << 24, 1 << 30).unwrap();
    let report = import(&fresh, &keys("two"), &car[..], &mut |_, _| {}).unwrap();
    assert_eq!((report.imported, report.foreign), (0, 5));
    assert_eq!(fresh.stats().disk.entries, 0);
}

#[test]
fn tampered_blocks_are_skipped_and_the_rest_imported() {
    let a = tempfile::tempdir().unwrap();
    let k = keys("s");
    let (mut car, _) = export_to_vec(&filled(a.path(), 10), &k);
    // Flip a byte near the end: inside the last envelope's ciphertext.
    let at = car.len() - 20;
    car[at] ^= 0x40;
    let b = tempfile::tempdir().unwrap();
    let fresh = Store::open(b.path(), 1 << 24, 1 << 30).unwrap();
    let report = import(&fresh, &k, &car[..], &mut |_, _| {}).unwrap();
    assert_eq!((report.imported, report.bad_blocks), (9, 1), "{report:?}");
}

#[test]
fn a_truncated_snapshot_says_where_and_keeps_what_came_before() {
    let a = tempfile::tempdir().unwrap();
    let k = keys("s");
    let (car, _) = export_to_vec(&filled(a.path(), 10), &k);
    let b = tempfile::tempdir().unwrap();
    let fresh = Store::open(b.path(), 1 << 24, 1 << 30).unwrap();
    // Keep a store entry that must survive whatever the import does.
    fresh.put("GET /mine accept=*/*", response("{}", 1));
    match import(&fresh, &k, &car[..car.len() - 50], &mut |_, _| {}) {
        Err(ImportError::Stopped { error, report }) => {
            assert!(error.to_string().contains("byte"), "{error}");
            assert_eq!(report.imported, 9);
        }
        other => panic!("{other:?}"),
    }
    assert!(fresh.get_blocking("GET /mine accept=*/*").is_some());
    for cut in [0, 5, 40, 100] {
        let e = import(&fresh, &k, &car[..cut], &mut |_, _| {}).unwrap_err();
        assert!(!e.to_string().is_empty());
    }
    assert!(import(&fresh, &k, &b"not a car at all"[..], &mut |_, _| {}).is_err());
}

#[tokio::test]
async fn the_newer_version_wins_either_way() {
    let k = keys("s");
    let key = "GET /repos/octo/hello/issues/1 accept=*/*";
    let older = tempfile::tempdir().unwrap();
    let old_store = Store::open(older.path(), 1 << 24, 1 << 30).unwrap();
    old_store.put(key, response(r#"{"id":1,"updated_at":"2026-01-01T00:00:00Z"}"#, 10));
    let newer = tempfile::tempdir().unwrap();
    let new_store = Store::open(newer.path(), 1 << 24, 1 << 30).unwrap();
    new_store.put(key, response(r#"{"id":1,"updated_at":"2026-02-01T00:00:00Z"}"#, 20));
    old_store.flush().await;
    new_store.flush().await;
    let (old_car, _) = export_to_vec(&old_store, &k);
    let (new_car, _) = export_to_vec(&new_store, &k);

    let r = import(&new_store, &k, &old_car[..], &mut |_, _| {}).unwrap();
    assert_eq!(
        (r.imported, r.kept_local),
        (0, 1),
        "an older copy does not replace a newer one"
    );
    let r = import(&old_store, &k, &new_car[..], &mut |_, _| {}).unwrap();
    assert_eq!(r.imported, 1);
    assert!(String::from_utf8_lossy(&old_store.get(key).await.unwrap().body).contains("2026-02"));
}
