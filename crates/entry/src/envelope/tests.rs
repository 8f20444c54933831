//! Sealing and opening through the crate-internal entry points (fixed nonces, raw plaintexts);
//! hostile envelopes through the public API are in `tests/hostile_envelopes.rs`.

use super::*;
use crate::{CacheKey, Fingerprint, Secret, verify_cid};

fn keys(scope: &str) -> Keys {
    Keys::derive_with_iterations(&Secret::from_text("fleet secret").unwrap(), scope, 2)
}

pub(crate) fn entry(body: &[u8]) -> SharedEntry {
    let response = StoredResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Bytes::copy_from_slice(body),
        fetched_at_ms: 1_700_000_000_000,
        ttl_secs: 300,
        token_fp: Fingerprint([7; 16]),
        etag: Some("W/\"abc\"".into()),
        last_modified: None,
        request_accept: Some("*/*".into()),
        tags: vec!["octo/hello".into()],
        validators: vec![],
    };
    SharedEntry::new(
        &CacheKey::from_stored("GET /repos/octo/hello accept=*/*".into()),
        response,
    )
}

#[test]
fn round_trip_and_content_address() {
    let k = keys("octo");
    let e = entry(br#"{"id":1}"#);
    let sealed = seal(&k, &e).unwrap();
    assert_eq!(open(&k, &sealed.envelope).unwrap(), e);
    assert_eq!(verify_cid(&sealed.cid, &sealed.envelope), Ok(()));
    assert_eq!(&sealed.envelope[..4], b"GHPC");
    assert_eq!(sealed.envelope[4], ENVELOPE_VERSION);
    assert_eq!(EnvelopeHeader::parse(&sealed.envelope).unwrap().key_id, k.key_id());
}

#[test]
fn every_seal_has_a_fresh_nonce() {
    let k = keys("octo");
    let e = entry(b"{}");
    let a = seal(&k, &e).unwrap();
    let b = seal(&k, &e).unwrap();
    assert_ne!(a.envelope[13..HEADER_LEN], b.envelope[13..HEADER_LEN]);
    assert_ne!(a.cid, b.cid);
}

#[test]
fn the_token_fingerprint_never_leaves() {
    let k = keys("octo");
    let mut e = entry(b"{}");
    e.response.token_fp = Fingerprint([0xee; 16]);
    let opened = open(&k, &seal(&k, &e).unwrap().envelope).unwrap();
    assert_eq!(opened.response.token_fp, Fingerprint::PEER);
    // Nor does a sender's own fingerprint come through to the receiver.
    let mut record = entry(b"{}").response;
    record.token_fp = Fingerprint([0x11; 16]);
    let record = record.encode();
    let plain = postcard::to_allocvec(&PlainOut {
        key: "k",
        validation: [0; 32],
        response: &record,
    })
    .unwrap();
    let opened = open(&k, &seal_plaintext(&k, &plain, [2; 12])).unwrap();
    assert_eq!(opened.response.token_fp, Fingerprint::PEER);
    assert!(
        plaintext(&e).windows(16).all(|w| w != [0xee; 16]),
        "fingerprint bytes in the plaintext"
    );
}

#[test]
fn size_limit_applies_to_the_whole_envelope() {
    let k = keys("octo");
    // Everything but the body costs the same for any body between 2^14 and 2^21 bytes (the
    // length varints keep their width), so measure it once there.
    let overhead = seal(&k, &entry(&vec![b'a'; 1 << 19])).unwrap().envelope.len() - (1 << 19);
    let largest_body = MAX_ENVELOPE_BYTES - overhead;
    let fits = seal(&k, &entry(&vec![b'a'; largest_body])).unwrap();
    assert_eq!(fits.envelope.len(), MAX_ENVELOPE_BYTES);
    assert_eq!(open(&k, &fits.envelope).unwrap().response.body.len(), largest_body);
    let err = seal(&k, &entry(&vec![b'a'; largest_body + 1])).unwrap_err();
    assert!(matches!(err, SealError::TooLarge { size } if size == MAX_ENVELOPE_BYTES + 1));
    assert!(err.to_string().contains("1 MiB"), "{err}");
}

#[test]
fn garbage_inside_a_valid_seal_is_an_inner_error() {
    let k = keys("octo");
    let open_plain = |plain: &[u8]| open(&k, &seal_plaintext(&k, plain, [1; 12]));
    assert!(matches!(open_plain(b""), Err(OpenError::Inner(InnerError::Layout(_)))));
    assert!(matches!(
        open_plain(&[0xff; 40]),
        Err(OpenError::Inner(InnerError::Layout(_)))
    ));

    let good = plaintext(&entry(b"{}"));
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(matches!(
        open_plain(&trailing),
        Err(OpenError::Inner(InnerError::TrailingBytes(1)))
    ));

    // A stored-response record of another version, as a newer build would write it.
    let record = {
        let mut r = entry(b"{}").response.encode();
        r[0] = 99;
        r
    };
    let plain = PlainOut {
        key: "k",
        validation: [0; 32],
        response: &record,
    };
    let plain = postcard::to_allocvec(&plain).unwrap();
    let err = open_plain(&plain).unwrap_err();
    assert!(matches!(
        err,
        OpenError::Inner(InnerError::Response(DecodeError::Version(99)))
    ));
    assert!(err.to_string().contains("version 99"), "{err}");
}

#[test]
fn the_plaintext_is_key_validation_then_record() {
    // FORMAT.md describes the plaintext byte by byte; this pins that description.
    let e = entry(&[b' '; 200]);
    let plain = plaintext(&e);
    let mut on_the_wire = e.response.clone();
    on_the_wire.token_fp = Fingerprint::ANONYMOUS; // zero: the fingerprint never leaves
    let record = on_the_wire.encode();
    let mut expected = vec![e.key.len() as u8];
    expected.extend_from_slice(e.key.as_bytes());
    expected.extend_from_slice(&e.validation);
    expected.extend_from_slice(&[(record.len() & 0x7f) as u8 | 0x80, (record.len() >> 7) as u8]);
    expected.extend_from_slice(&record);
    assert!(
        record.len() >= 128 && record.len() < 1 << 14,
        "two-byte varint in this example"
    );
    assert_eq!(plain, expected);
}

#[test]
fn moving_an_envelope_to_another_scope_fails_even_with_the_same_key_bytes() {
    // Same secret and scope, so the same key id and cipher; only the scope in the associated
    // data differs. The tag must catch it (defence in depth beyond the key id).
    let k = keys("octo");
    let sealed = seal(&k, &entry(b"{}")).unwrap();
    let mut moved = k.clone();
    moved.set_scope_for_test("other");
    assert!(matches!(open(&moved, &sealed.envelope), Err(OpenError::Tampered)));
}
