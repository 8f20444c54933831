//! Hostile envelopes through the public API: every truncation, every single-bit flip, foreign
//! secrets and scopes, oversized and random input. Each must be a precise error, never a panic
//! and never a successful open. Keys use a tiny PBKDF2 count: derivation cost is not under test.

use bytes::Bytes;
use entry::{
    CacheKey, EnvelopeHeader, Fingerprint, HEADER_LEN, Keys, MAX_ENVELOPE_BYTES, OpenError, Secret, SharedEntry,
    StoredResponse, cid_of, open, seal, verify_cid,
};
use rand::{Rng, SeedableRng};

fn keys(secret: &str, scope: &str) -> Keys {
    Keys::derive_with_iterations(&Secret::from_text(secret).unwrap(), scope, 3)
}

fn sample() -> SharedEntry {
    let response = StoredResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/json; charset=utf-8".into()),
            ("date".into(), "Wed, 31 Jan 2024 12:00:00 GMT".into()),
        ],
        body: Bytes::from_static(br#"[{"id":1,"number":7,"title":"flaky test","updated_at":"2024-01-31T12:00:00Z"}]"#),
        fetched_at_ms: 1_706_702_400_000,
        ttl_secs: 300,
        token_fp: Fingerprint::ANONYMOUS,
        etag: Some("W/\"5d0f\"".into()),
        last_modified: None,
        request_accept: Some("application/vnd.github+json".into()),
        tags: vec!["octo/hello".into()],
        validators: vec![],
    };
    SharedEntry::new(
        &CacheKey::from_stored("GET /repos/octo/hello/issues accept=*/*".into()),
        response,
    )
}

#[test]
fn every_truncation_is_refused() {
    let k = keys("s", "octo");
    let envelope = seal(&k, &sample()).unwrap().envelope;
    for len in 0..envelope.len() {
        match open(&k, &envelope[..len]) {
            Err(OpenError::Malformed(_)) if len < HEADER_LEN + 16 => {}
            Err(OpenError::Tampered) if len >= HEADER_LEN + 16 => {}
            other => panic!("truncated to {len} of {}: {other:?}", envelope.len()),
        }
    }
}

#[test]
fn every_single_bit_flip_is_refused_with_the_right_reason() {
    let k = keys("s", "octo");
    let envelope = seal(&k, &sample()).unwrap().envelope.to_vec();
    for byte in 0..envelope.len() {
        for bit in 0..8 {
            let mut bad = envelope.clone();
            bad[byte] ^= 1 << bit;
            let got = open(&k, &bad);
            let ok = match byte {
                0..=3 => matches!(got, Err(OpenError::Malformed(_))),
                4 => matches!(got, Err(OpenError::UnsupportedVersion(v)) if v == 1 ^ (1 << bit)),
                5..=12 => matches!(got, Err(OpenError::ForeignKey { .. })),
                _ => matches!(got, Err(OpenError::Tampered)),
            };
            assert!(ok, "flipping bit {bit} of byte {byte} gave {got:?}");
            assert!(
                verify_cid(&cid_of(&envelope), &bad).is_err(),
                "CID missed byte {byte} bit {bit}"
            );
        }
    }
}

#[test]
fn another_secret_or_scope_cannot_open_and_is_told_apart_from_tampering() {
    let sealed = seal(&keys("s", "octo"), &sample()).unwrap();
    for (secret, scope) in [("other", "octo"), ("s", "octo/other"), ("s", "")] {
        let err = open(&keys(secret, scope), &sealed.envelope).unwrap_err();
        assert!(matches!(err, OpenError::ForeignKey { .. }), "{secret}/{scope}: {err:?}");
        assert!(
            err.to_string()
                .starts_with("undecryptable: written with another secret"),
            "{err}"
        );
    }
    // A different PBKDF2 count is a different key, not a corrupt envelope.
    let err = open(
        &Keys::derive_with_iterations(&Secret::from_text("s").unwrap(), "octo", 4),
        &sealed.envelope,
    );
    assert!(matches!(err, Err(OpenError::ForeignKey { .. })));
}

#[test]
fn empty_oversized_and_foreign_blocks() {
    let k = keys("s", "octo");
    assert!(matches!(open(&k, b""), Err(OpenError::Malformed(m)) if m.contains("empty")));
    let huge = vec![0u8; MAX_ENVELOPE_BYTES + 1];
    let err = open(&k, &huge).unwrap_err();
    assert!(matches!(err, OpenError::TooLarge { size } if size == MAX_ENVELOPE_BYTES + 1));
    assert!(err.to_string().contains("1 MiB"), "{err}");
    // An oversized block with a perfect header is still refused before any decryption.
    let mut huge_valid = seal(&k, &sample()).unwrap().envelope.to_vec();
    huge_valid.resize(MAX_ENVELOPE_BYTES + 1, 0);
    assert!(matches!(open(&k, &huge_valid), Err(OpenError::TooLarge { .. })));
    // A JSON document, a CAR header and a PNG are not envelopes.
    for foreign in [&b"{\"a\":1}"[..], &b"\x3a\xa2eroots"[..], &b"\x89PNG\r\n\x1a\n"[..]] {
        assert!(matches!(open(&k, foreign), Err(OpenError::Malformed(_))));
    }
}

#[test]
fn random_bytes_behind_a_valid_header_never_open() {
    let k = keys("s", "octo");
    let envelope = seal(&k, &sample()).unwrap().envelope;
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    for _ in 0..2000 {
        let len = rng.random_range(0..512);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if rng.random_bool(0.5) && bytes.len() >= HEADER_LEN {
            bytes[..13].copy_from_slice(&envelope[..13]); // our magic, version and key id
        }
        assert!(open(&k, &bytes).is_err());
        let _ = EnvelopeHeader::parse(&bytes);
    }
}

#[test]
fn error_messages_say_what_to_do() {
    let k = keys("s", "octo");
    let mut v2 = seal(&k, &sample()).unwrap().envelope.to_vec();
    v2[4] = 2;
    let err = open(&k, &v2).unwrap_err();
    assert!(err.to_string().contains("version 2 is not supported") && err.to_string().contains("upgrade"));
    let mut tampered = seal(&k, &sample()).unwrap().envelope.to_vec();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(open(&k, &tampered).unwrap_err().to_string().contains("discard it"));
}
