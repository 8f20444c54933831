//! What the fuzz targets share: the keys they open envelopes with (one PBKDF2 iteration: the
//! derivation is not under test) and a sample entry for seeds.

use bytes::Bytes;
use entry::{CacheKey, Fingerprint, Keys, Secret, SharedEntry, StoredResponse};
use std::sync::OnceLock;

pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys::derive_with_iterations(&Secret::from_text("fuzz secret").unwrap(), "fuzz/scope", 1))
}

pub fn sample_entry(body: &[u8]) -> SharedEntry {
    let response = StoredResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("date".into(), "Wed, 31 Jan 2024 12:00:00 GMT".into()),
        ],
        body: Bytes::copy_from_slice(body),
        fetched_at_ms: 1_706_702_400_000,
        ttl_secs: 300,
        token_fp: Fingerprint::ANONYMOUS,
        etag: Some("W/\"abc\"".into()),
        last_modified: None,
        request_accept: Some("*/*".into()),
        tags: vec!["fuzz/scope".into()],
        validators: vec![],
    };
    SharedEntry::new(
        &CacheKey::from_stored("GET /repos/fuzz/scope accept=*/*".into()),
        response,
    )
}
