//! Key derivation: from the fleet's secret and a scope to the keys that seal entries,
//! authenticate peers, name the gossip topic and seal gossip messages.
//!
//! `master = PBKDF2-HMAC-SHA256(secret, "gh-p2p-cache v1 scope\0" || scope, 600 000, 32)`, then
//! HKDF-SHA256 (`master` as the pseudo-random key) expands one sub-key per purpose, so a leak of
//! one (the gossip topic is public to relays) says nothing about the others. docs/FORMAT.md is the
//! normative description; the test vectors in `tests` pin it.

use aes_gcm::{Aes256Gcm, KeyInit};
use hkdf::Hkdf;
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroizing;

use crate::Secret;

/// PBKDF2 iterations for [`Keys::derive`] (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
pub const PBKDF2_ITERATIONS: u32 = 600_000;

const SALT_PREFIX: &[u8] = b"gh-p2p-cache v1 scope\0";
const INFO_ENCRYPTION: &[u8] = b"gh-p2p-cache v1 entry-encryption";
const INFO_PEER_AUTH: &[u8] = b"gh-p2p-cache v1 peer-auth";
const INFO_GOSSIP_TOPIC: &[u8] = b"gh-p2p-cache v1 gossip-topic";
const INFO_GOSSIP_ENCRYPTION: &[u8] = b"gh-p2p-cache v1 gossip-encryption";
const INFO_KEY_ID: &[u8] = b"gh-p2p-cache v1 key-id";

/// Names a (secret, scope) pair without revealing either: public, safe to log, written in every
/// envelope so a receiver can tell "another secret" from "tampered".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Everything derived from one secret and scope. Derive once per process and share it (`Arc`);
/// key bytes are wiped on drop and `Debug` shows only the key id and scope.
#[derive(Clone)]
pub struct Keys {
    scope: String,
    key_id: KeyId,
    /// Holds the AES key schedule, wiped on drop (the `aes` crate's `zeroize` feature).
    cipher: Aes256Gcm,
    peer_auth: Zeroizing<[u8; 32]>,
    gossip_topic: [u8; 32],
    /// Seals gossip messages (`crate::gossip`); wiped on drop like `cipher`.
    gossip_cipher: Aes256Gcm,
}

impl Keys {
    /// Derives the keys with [`PBKDF2_ITERATIONS`].
    ///
    /// **Slow on purpose** (the cost that makes guessing the secret from a public envelope
    /// expensive): about 70 ms on a CPU with SHA extensions in a release build, 0.3–1 s without
    /// them, seconds in a debug build. Call it once per process, and from async code only inside
    /// `tokio::task::spawn_blocking`.
    pub fn derive(secret: &Secret, scope: &str) -> Keys {
        Self::derive_with_iterations(secret, scope, PBKDF2_ITERATIONS)
    }

    /// Like [`Keys::derive`] with another iteration count (at least 1). For tests, benchmarks and
    /// fuzzing only: keys derived with any other count than [`PBKDF2_ITERATIONS`] have another key
    /// id and open nothing sealed by the product.
    pub fn derive_with_iterations(secret: &Secret, scope: &str, iterations: u32) -> Keys {
        let mut salt = Vec::with_capacity(SALT_PREFIX.len() + scope.len());
        salt.extend_from_slice(SALT_PREFIX);
        salt.extend_from_slice(scope.as_bytes());
        let mut master = Zeroizing::new([0u8; 32]);
        pbkdf2::pbkdf2_hmac::<Sha256>(secret.expose(), &salt, iterations.max(1), master.as_mut_slice());

        // The PBKDF2 output is already uniformly random, so it serves as HKDF's PRK directly.
        let hkdf = Hkdf::<Sha256>::from_prk(master.as_slice()).expect("a 32-byte PRK is long enough");
        let expand = |info: &[u8]| {
            let mut out = Zeroizing::new([0u8; 32]);
            hkdf.expand(info, out.as_mut_slice())
                .expect("32 bytes is within HKDF's output limit");
            out
        };
        let encryption = expand(INFO_ENCRYPTION);
        let key_id = expand(INFO_KEY_ID);
        let gossip_encryption = expand(INFO_GOSSIP_ENCRYPTION);
        Keys {
            scope: scope.to_owned(),
            key_id: KeyId(key_id[..8].try_into().expect("8 of 32 bytes")),
            cipher: Aes256Gcm::new(encryption.as_slice().into()),
            peer_auth: expand(INFO_PEER_AUTH),
            gossip_topic: *expand(INFO_GOSSIP_TOPIC),
            gossip_cipher: Aes256Gcm::new(gossip_encryption.as_slice().into()),
        }
    }

    /// Public; written into every envelope and safe to log.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The key peers prove knowledge of before they are served (an HMAC key for the sync crate's
    /// challenge-response). Secret: never log or send it.
    pub fn peer_auth_key(&self) -> &[u8; 32] {
        &self.peer_auth
    }

    /// The gossip topic id. Seen by relays and bootstrap peers, so not secret, but unguessable
    /// without the secret: strangers cannot join or even find the topic.
    pub fn gossip_topic(&self) -> [u8; 32] {
        self.gossip_topic
    }

    pub(crate) fn cipher(&self) -> &Aes256Gcm {
        &self.cipher
    }

    pub(crate) fn gossip_cipher(&self) -> &Aes256Gcm {
        &self.gossip_cipher
    }
}

#[cfg(test)]
impl Keys {
    /// Keeps the key bytes but changes the scope bound into the associated data.
    pub(crate) fn set_scope_for_test(&mut self, scope: &str) {
        self.scope = scope.to_owned();
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("key_id", &self.key_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str, scope: &str) -> Keys {
        Keys::derive_with_iterations(&Secret::from_text(secret).unwrap(), scope, 2)
    }

    #[test]
    fn scope_and_secret_both_separate_keys() {
        let a = keys("secret", "octo/one");
        assert_eq!(a.key_id(), keys("secret", "octo/one").key_id());
        assert_ne!(a.key_id(), keys("secret", "octo/two").key_id());
        assert_ne!(a.key_id(), keys("other", "octo/one").key_id());
        // The iteration count is part of the key: a test count never opens product envelopes.
        let more = Keys::derive_with_iterations(&Secret::from_text("secret").unwrap(), "octo/one", 3);
        assert_ne!(a.key_id(), more.key_id());
    }

    #[test]
    fn sub_keys_differ_from_each_other() {
        let k = keys("secret", "s");
        assert_ne!(k.peer_auth_key(), &k.gossip_topic());
        assert_ne!(&k.peer_auth_key()[..8], &k.key_id().0);
    }

    #[test]
    fn debug_shows_key_id_and_scope_but_no_key_bytes() {
        let k = keys("secret", "octo/one");
        let shown = format!("{k:?}");
        assert!(
            shown.contains(&k.key_id().to_string()) && shown.contains("octo/one"),
            "{shown}"
        );
        for secret_bytes in [&k.peer_auth_key()[..], &k.gossip_topic()[..]] {
            assert!(!shown.contains(&hex::encode(&secret_bytes[..4])), "{shown}");
        }
        assert!(!shown.contains("secret"));
    }
}
