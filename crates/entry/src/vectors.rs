//! Committed test vectors: the real iteration count, a fixed secret and scope, and an envelope
//! sealed with a fixed nonce. A change to any of these bytes is a format change: bump the
//! envelope version and update docs/FORMAT.md, which repeats these values.

use crate::envelope::seal_with_nonce;
use crate::*;
use bytes::Bytes;
use std::sync::OnceLock;

const SECRET: &str = "correct horse battery staple";
const SCOPE: &str = "octo-org/hello-world";
const NONCE: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

/// Derived once for the whole test binary: 600 000 iterations take about 2 s unoptimized. The
/// values were checked against an independent implementation (Python hashlib, hmac and
/// cryptography's AESGCM) when they were committed.
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys::derive(&Secret::from_text(SECRET).unwrap(), SCOPE))
}

const ENVELOPE_HEX: &str = concat!(
    "4748504301b02ba72cdf1395e8000102030405060708090a0bc1590190071904f409879d3318a700cd89d46ac5bbacaf",
    "89733df013074ee3833fef151a71c99d7b1390a878f5ea8a99efb457020a1b8c48ba55a60bc8bb3d2c0f6f723275a80f",
    "fe41ef6c467ef079a3e7af2975ae31a0f05e1613a3b16acbbaa40e68add7dee8a256f90f24f93b23ee94429652d972c7",
    "43212b3106367fbfb41c70f65eb1bd4e8ee4dc469a588f7496e7d634a5a841fe7765d80053b3b2efc618defb3c529cae",
    "9dbff67cd98320c26751090a7e8bda748ce54f488c06f204f622c432f7f9691a0839fa3d4005a9ac6c887d67229dce2f",
    "edb5ec5a58e8ebf4cc57e63bd800d7ddd99f6ef473e69875642cce1107d7e43575cd798d269700bb72f580a155d5a67d",
    "ae26a4276d7963e31a33d2a4d20b9f5fb2be149c49",
);

fn entry() -> SharedEntry {
    let response = StoredResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/json; charset=utf-8".into()),
            ("date".into(), "Wed, 31 Jan 2024 12:00:00 GMT".into()),
        ],
        body: Bytes::from_static(br#"{"id":1,"updated_at":"2024-01-31T12:00:00Z"}"#),
        fetched_at_ms: 1_706_702_400_000,
        ttl_secs: 3600,
        token_fp: Fingerprint::ANONYMOUS,
        etag: Some("W/\"abc\"".into()),
        last_modified: None,
        request_accept: Some("*/*".into()),
        tags: vec![SCOPE.into()],
        validators: vec![],
    };
    SharedEntry::new(
        &CacheKey::from_stored(format!("GET /repos/{SCOPE} accept=*/*")),
        response,
    )
}

#[test]
fn derived_keys() {
    let k = keys();
    assert_eq!(k.key_id().to_string(), "b02ba72cdf1395e8");
    assert_eq!(
        hex::encode(k.peer_auth_key()),
        "15d9ad8fbaf2e56a8af31f5370ba01d0062ab8631d362d63c18a1a6ae3e9ddbe"
    );
    assert_eq!(
        hex::encode(k.gossip_topic()),
        "e587d0797c9a786f105f877fd0188771b002412c72d2a53c44b2c4d8e8049da7"
    );
}

#[test]
fn validation_hash_of_the_entry() {
    assert_eq!(
        hex::encode(entry().validation),
        "28af631a138114c46f15676d0c9e65189bd32b9f03f01044e7cf687bbad702c1"
    );
}

#[test]
fn sealed_envelope_and_its_cid() {
    let sealed = seal_with_nonce(keys(), &entry(), NONCE).unwrap();
    assert_eq!(hex::encode(&sealed.envelope), ENVELOPE_HEX);
    assert_eq!(
        sealed.cid.to_string(),
        "bafkreidglmtoap7wrpu6cc5wv26qzz7t6vhd3jdykm5jsgggqfw6prqg2y"
    );
    assert_eq!(sealed.envelope.len(), 309);
}

#[test]
fn the_committed_envelope_opens() {
    let envelope = hex::decode(ENVELOPE_HEX).unwrap();
    assert_eq!(open(keys(), &envelope).unwrap(), entry());
    assert_eq!(
        verify_cid(
            &"bafkreidglmtoap7wrpu6cc5wv26qzz7t6vhd3jdykm5jsgggqfw6prqg2y"
                .parse()
                .unwrap(),
            &envelope
        ),
        Ok(())
    );
}

const GOSSIP_HEX: &str =
    "01b02ba72cdf1395e8000102030405060708090a0b57e1d9ec537b499190e8b61dfed2b75b3adee8fcbf7733cf77b3c0d0";

#[test]
fn sealed_gossip_message() {
    let sealed = crate::gossip::seal_gossip_with_nonce(keys(), b"hello, fleet", NONCE);
    assert_eq!(hex::encode(&sealed), GOSSIP_HEX);
    assert_eq!(sealed.len(), 12 + GOSSIP_OVERHEAD);
    assert_eq!(
        open_gossip(keys(), &hex::decode(GOSSIP_HEX).unwrap()).unwrap(),
        b"hello, fleet"
    );
}
