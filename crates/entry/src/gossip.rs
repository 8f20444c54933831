//! Sealed gossip messages: any plaintext (the sync crate's announcements) encrypted under the
//! gossip sub-key, so relays and strangers who learn the topic read nothing of it. docs/FORMAT.md
//! is the normative description.
//!
//! ```text
//! offset  size  field
//! 0       1     gossip format version (1)
//! 1       8     key id
//! 9       12    nonce (random per message)
//! 21      n+16  AES-256-GCM ciphertext of the plaintext, then the 16-byte tag
//! ```
//!
//! The associated data is the label `"gh-p2p-cache gossip/1" 00` then the version and key id
//! (the first 9 bytes): a flipped header byte fails the tag, and the label keeps a gossip message
//! from ever passing for anything else sealed under a key of this crate.

use aes_gcm::aead::{Aead, Payload};

use crate::{KeyId, Keys};

/// The gossip format this build writes and reads.
pub const GOSSIP_VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 8 + NONCE_LEN;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Bytes [`seal_gossip`] adds to a plaintext: header (version, key id, nonce) and tag.
pub const GOSSIP_OVERHEAD: usize = HEADER_LEN + TAG_LEN;
const LABEL: &[u8] = b"gh-p2p-cache gossip/1\0";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GossipError {
    #[error("gossip message is malformed: {0}; drop it")]
    Malformed(&'static str),
    #[error("gossip format version {0} is not supported (this build reads version {GOSSIP_VERSION}); upgrade")]
    UnsupportedVersion(u8),
    #[error("gossip message sealed under another secret or scope (key id {found}, ours {ours})")]
    ForeignKey { found: KeyId, ours: KeyId },
    #[error("gossip message failed authentication (tampered or corrupted); drop it")]
    Tampered,
}

/// Encrypts `plaintext` under the gossip key with a fresh random nonce; the result is
/// [`GOSSIP_OVERHEAD`] bytes longer.
pub fn seal_gossip(keys: &Keys, plaintext: &[u8]) -> Vec<u8> {
    seal_gossip_with_nonce(keys, plaintext, rand::random())
}

/// With a caller-chosen nonce only for test vectors: reusing a nonce under one key breaks AES-GCM.
pub(crate) fn seal_gossip_with_nonce(keys: &Keys, plaintext: &[u8], nonce: [u8; NONCE_LEN]) -> Vec<u8> {
    let mut out = Vec::with_capacity(GOSSIP_OVERHEAD + plaintext.len());
    out.push(GOSSIP_VERSION);
    out.extend_from_slice(&keys.key_id().0);
    out.extend_from_slice(&nonce);
    let ciphertext = keys
        .gossip_cipher()
        .encrypt(
            &nonce.into(),
            Payload {
                msg: plaintext,
                aad: &associated_data(&out),
            },
        )
        .expect("AES-GCM encrypts any message under 64 GiB");
    out.extend_from_slice(&ciphertext);
    out
}

fn associated_data(message: &[u8]) -> Vec<u8> {
    [LABEL, &message[..9]].concat()
}

/// Checks version, key id and tag, and returns the plaintext.
pub fn open_gossip(keys: &Keys, message: &[u8]) -> Result<Vec<u8>, GossipError> {
    let Some(&version) = message.first() else {
        return Err(GossipError::Malformed("it is empty"));
    };
    if version != GOSSIP_VERSION {
        return Err(GossipError::UnsupportedVersion(version));
    }
    if message.len() < GOSSIP_OVERHEAD {
        return Err(GossipError::Malformed("it is shorter than a header and a tag"));
    }
    let found = KeyId(message[1..9].try_into().expect("8 bytes"));
    if found != keys.key_id() {
        return Err(GossipError::ForeignKey {
            found,
            ours: keys.key_id(),
        });
    }
    let nonce: [u8; NONCE_LEN] = message[9..HEADER_LEN].try_into().expect("12 bytes");
    keys.gossip_cipher()
        .decrypt(
            &nonce.into(),
            Payload {
                msg: &message[HEADER_LEN..],
                aad: &associated_data(message),
            },
        )
        .map_err(|_| GossipError::Tampered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    fn keys(secret: &str, scope: &str) -> Keys {
        Keys::derive_with_iterations(&Secret::from_text(secret).unwrap(), scope, 1)
    }

    #[test]
    fn round_trip_with_the_stated_overhead_and_fresh_nonces() {
        let k = keys("s", "octo");
        for plaintext in [&b""[..], b"hello", &[7u8; 3000]] {
            let sealed = seal_gossip(&k, plaintext);
            assert_eq!(sealed.len(), plaintext.len() + GOSSIP_OVERHEAD);
            assert_eq!(open_gossip(&k, &sealed).unwrap(), plaintext);
        }
        assert_ne!(seal_gossip(&k, b"same"), seal_gossip(&k, b"same"));
    }

    #[test]
    fn every_flipped_bit_another_secret_or_scope_and_truncation_are_refused() {
        let k = keys("s", "octo");
        let sealed = seal_gossip(&k, b"announcement");
        for i in 0..sealed.len() {
            for bit in 0..8 {
                let mut bad = sealed.clone();
                bad[i] ^= 1 << bit;
                assert!(open_gossip(&k, &bad).is_err(), "byte {i} bit {bit} accepted");
            }
        }
        assert!(matches!(
            open_gossip(&keys("other", "octo"), &sealed),
            Err(GossipError::ForeignKey { .. })
        ));
        assert!(matches!(
            open_gossip(&keys("s", "elsewhere"), &sealed),
            Err(GossipError::ForeignKey { .. })
        ));
        assert_eq!(
            open_gossip(&k, &sealed[..GOSSIP_OVERHEAD - 1]),
            Err(GossipError::Malformed("it is shorter than a header and a tag"))
        );
        assert_eq!(open_gossip(&k, &[]), Err(GossipError::Malformed("it is empty")));
        assert_eq!(open_gossip(&k, &sealed[..sealed.len() - 1]), Err(GossipError::Tampered));
    }

    #[test]
    fn the_gossip_key_is_not_the_entry_key() {
        // GCM's ciphertext (without the tag) depends only on key, nonce and plaintext: under the
        // same nonce, different bytes mean a different key.
        let k = keys("s", "octo");
        let plaintext = [0u8; 32];
        let gossip = seal_gossip_with_nonce(&k, &plaintext, [0; 12]);
        let envelope = crate::envelope::seal_plaintext(&k, &plaintext, [0; 12]);
        let body = |m: &[u8], header: usize| m[header..header + 32].to_vec();
        assert_ne!(body(&gossip, HEADER_LEN), body(&envelope, crate::HEADER_LEN));
    }
}
