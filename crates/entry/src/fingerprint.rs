//! Keyed token fingerprints: entries remember *which* token fetched them without storing it.
//!
//! HMAC-SHA256 under a per-cache random key, truncated to 128 bits. Without the key a stored
//! fingerprint cannot be tested against guessed tokens.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

/// The secret key for fingerprints. Never logged (its `Debug` is redacted).
#[derive(Clone)]
pub struct FingerprintKey([u8; 32]);

impl FingerprintKey {
    pub const LEN: usize = 32;

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        FingerprintKey(bytes)
    }

    /// Reads a key persisted earlier; `None` when the bytes have the wrong length.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(FingerprintKey)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A new random key, from the operating system's generator.
    pub fn generate() -> Self {
        FingerprintKey(rand::random())
    }

    /// Reuses a persisted key, or makes one. Returns the bytes to persist when a new key was
    /// made (the old one was absent or malformed).
    pub fn load_or_generate(persisted: Option<&[u8]>) -> (Self, Option<Vec<u8>>) {
        match persisted.and_then(Self::from_slice) {
            Some(k) => (k, None),
            None => {
                let k = Self::generate();
                let bytes = k.0.to_vec();
                (k, Some(bytes))
            }
        }
    }

    /// Fingerprint of a token; `None` (anonymous) has its own fixed fingerprint.
    pub fn fingerprint(&self, token: Option<&str>) -> Fingerprint {
        let Some(token) = token else {
            return Fingerprint::ANONYMOUS;
        };
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("hmac takes any key length");
        mac.update(token.as_bytes());
        let out = mac.finalize().into_bytes();
        let mut fp = [0u8; 16];
        fp.copy_from_slice(&out[..16]);
        Fingerprint(fp)
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FingerprintKey(<redacted>)")
    }
}

/// A token's fingerprint. Safe to store and log.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint(pub [u8; 16]);

impl Fingerprint {
    pub const ANONYMOUS: Fingerprint = Fingerprint([0; 16]);
    /// Entries received from peers. Matches no token (nor the anonymous caller), so every
    /// requester revalidates such an entry with GitHub before it is served as a `HIT`.
    pub const PEER: Fingerprint = Fingerprint([0xff; 16]);
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", hex::encode(&self.0[..4]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_token_same_fingerprint_other_key_other_fingerprint() {
        let k1 = FingerprintKey::from_bytes([1; 32]);
        let k2 = FingerprintKey::from_bytes([2; 32]);
        assert_eq!(k1.fingerprint(Some("ghp_a")), k1.fingerprint(Some("ghp_a")));
        assert_ne!(k1.fingerprint(Some("ghp_a")), k1.fingerprint(Some("ghp_b")));
        assert_ne!(k1.fingerprint(Some("ghp_a")), k2.fingerprint(Some("ghp_a")));
        assert_eq!(k1.fingerprint(None), Fingerprint::ANONYMOUS);
        assert_ne!(k1.fingerprint(Some("")), Fingerprint::ANONYMOUS);
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let k = FingerprintKey::from_bytes([0xab; 32]);
        assert!(!format!("{k:?}").contains("ab"));
    }

    #[test]
    fn load_or_generate_reuses_valid_keys_only() {
        let (k, new) = FingerprintKey::load_or_generate(Some(&[5; 32]));
        assert_eq!((k.as_bytes(), new), (&[5; 32], None));
        let (k, new) = FingerprintKey::load_or_generate(Some(&[5; 3]));
        assert_eq!(new.as_deref(), Some(&k.as_bytes()[..]));
        let (k2, _) = FingerprintKey::load_or_generate(None);
        assert_ne!(k.as_bytes(), k2.as_bytes());
    }

    #[test]
    fn from_slice_checks_length() {
        assert!(FingerprintKey::from_slice(&[0; 31]).is_none());
        assert!(FingerprintKey::from_slice(&[0; 32]).is_some());
    }
}
