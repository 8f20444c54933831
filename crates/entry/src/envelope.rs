//! The envelope: one shared entry sealed with AES-256-GCM, the unit that travels to peers, into
//! CAR snapshots, the Actions cache and IPFS. docs/FORMAT.md is the normative description.
//!
//! ```text
//! offset  size  field
//! 0       4     magic "GHPC"
//! 4       1     format version (1)
//! 5       8     key id
//! 13      12    nonce (random per envelope)
//! 25      n+16  AES-256-GCM ciphertext of the plaintext, then the 16-byte tag
//! ```
//!
//! The associated data is the 25 header bytes, then the scope's length (u32, big-endian) and the
//! scope: a flipped header byte, or an envelope moved to another scope, fails the tag.
//! Plaintext (postcard): the cache key text, the 32-byte validation hash, and the stored-response
//! record (`StoredResponse::encode`, with its own version byte).

use aes_gcm::aead::{Aead, Payload};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::address::cid_of;
use crate::{DecodeError, Fingerprint, KeyId, Keys, SharedEntry, StoredResponse};

#[cfg(test)]
mod tests;

pub const MAGIC: [u8; 4] = *b"GHPC";
/// The envelope format this build writes and reads.
pub const ENVELOPE_VERSION: u8 = 1;
/// Largest envelope sealed or opened: IPFS nodes refuse blocks above 1 MiB by default.
pub const MAX_ENVELOPE_BYTES: usize = 1 << 20;
pub const HEADER_LEN: usize = 4 + 1 + 8 + NONCE_LEN;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A sealed entry and its content address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub cid: cid::Cid,
    pub envelope: Bytes,
}

/// The clear-text header of an envelope: enough to route or drop it without the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeHeader {
    pub version: u8,
    pub key_id: KeyId,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "entry is too large to share: its envelope would be {size} bytes, over the 1 MiB IPFS block limit; \
         keep it local"
    )]
    TooLarge { size: usize },
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("envelope is malformed: {0}; discard it")]
    Malformed(&'static str),
    #[error("envelope is {size} bytes, over the 1 MiB IPFS block limit; discard it")]
    TooLarge { size: usize },
    #[error(
        "envelope format version {0} is not supported (this build reads version {ENVELOPE_VERSION}); \
         upgrade gh-p2p-cache on every runner"
    )]
    UnsupportedVersion(u8),
    #[error(
        "undecryptable: written with another secret or scope (key id {found}, ours {ours}); check that every \
         runner uses the same `secret` and scope"
    )]
    ForeignKey { found: KeyId, ours: KeyId },
    #[error("envelope failed authentication (tampered or corrupted); discard it and distrust the sender")]
    Tampered,
    #[error("envelope decrypted but its entry is unreadable: {0}; the sender runs an incompatible build")]
    Inner(#[from] InnerError),
}

#[derive(Debug, thiserror::Error)]
pub enum InnerError {
    #[error("bad layout: {0}")]
    Layout(#[from] postcard::Error),
    #[error("{0} unexpected bytes after the entry")]
    TrailingBytes(usize),
    #[error("stored response: {0}")]
    Response(#[from] DecodeError),
}

/// The plaintext, borrowed for sealing.
#[derive(Serialize)]
struct PlainOut<'a> {
    key: &'a str,
    validation: [u8; 32],
    response: &'a [u8],
}

#[derive(Deserialize)]
struct PlainIn<'a> {
    key: String,
    validation: [u8; 32],
    response: &'a [u8],
}

/// Seals an entry under a fresh random nonce. The token fingerprint never leaves the machine:
/// it is written as zero whatever the entry holds (`open` makes it [`Fingerprint::PEER`]).
pub fn seal(keys: &Keys, entry: &SharedEntry) -> Result<Sealed, SealError> {
    seal_with_nonce(keys, entry, rand::random())
}

pub(crate) fn seal_with_nonce(keys: &Keys, entry: &SharedEntry, nonce: [u8; 12]) -> Result<Sealed, SealError> {
    let plaintext = plaintext(entry);
    let size = HEADER_LEN + plaintext.len() + TAG_LEN;
    if size > MAX_ENVELOPE_BYTES {
        return Err(SealError::TooLarge { size });
    }
    let envelope = Bytes::from(seal_plaintext(keys, &plaintext, nonce));
    Ok(Sealed {
        cid: cid_of(&envelope),
        envelope,
    })
}

fn plaintext(entry: &SharedEntry) -> Vec<u8> {
    let mut response = entry.response.clone();
    response.token_fp = Fingerprint::ANONYMOUS;
    let record = response.encode();
    let plain = PlainOut {
        key: &entry.key,
        validation: entry.validation,
        response: &record,
    };
    postcard::to_allocvec(&plain).expect("serializing plain data into a Vec cannot fail")
}

/// Encrypts any plaintext into an envelope. With a caller-chosen nonce only for test vectors and
/// fuzzing: reusing a nonce under one key breaks AES-GCM.
pub(crate) fn seal_plaintext(keys: &Keys, plaintext: &[u8], nonce: [u8; 12]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&MAGIC);
    out.push(ENVELOPE_VERSION);
    out.extend_from_slice(&keys.key_id().0);
    out.extend_from_slice(&nonce);
    let aad = associated_data(&out, keys.scope());
    let ciphertext = keys
        .cipher()
        .encrypt(
            &nonce.into(),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .expect("AES-GCM encrypts any message under 64 GiB");
    out.extend_from_slice(&ciphertext);
    out
}

fn associated_data(header: &[u8], scope: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(HEADER_LEN + 4 + scope.len());
    aad.extend_from_slice(&header[..HEADER_LEN]);
    // Scopes are short names; a longer one could not be typed into a workflow anyway.
    let len = u32::try_from(scope.len()).unwrap_or(u32::MAX);
    aad.extend_from_slice(&len.to_be_bytes());
    aad.extend_from_slice(scope.as_bytes());
    aad
}

impl EnvelopeHeader {
    /// Checks size, magic and version, and reads the key id; no keys needed.
    pub fn parse(envelope: &[u8]) -> Result<EnvelopeHeader, OpenError> {
        if envelope.len() > MAX_ENVELOPE_BYTES {
            return Err(OpenError::TooLarge { size: envelope.len() });
        }
        if envelope.is_empty() {
            return Err(OpenError::Malformed("it is empty"));
        }
        if !MAGIC.starts_with(&envelope[..envelope.len().min(4)]) {
            return Err(OpenError::Malformed("it does not start with the GHPC magic"));
        }
        let Some(&version) = envelope.get(4) else {
            return Err(OpenError::Malformed("it is truncated inside the header"));
        };
        if version != ENVELOPE_VERSION {
            return Err(OpenError::UnsupportedVersion(version));
        }
        if envelope.len() < HEADER_LEN + TAG_LEN {
            return Err(OpenError::Malformed("it is truncated: shorter than a header and a tag"));
        }
        let key_id = KeyId(envelope[5..13].try_into().expect("8 bytes"));
        Ok(EnvelopeHeader { version, key_id })
    }
}

/// Opens an envelope sealed under `keys`: checks size, magic, version, key id, the AEAD tag (which
/// also covers the header and the scope) and the entry inside. The response comes back tagged
/// [`Fingerprint::PEER`], whatever the sender wrote: store it as it is and every token, the
/// anonymous one too, revalidates it before it is served.
pub fn open(keys: &Keys, envelope: &[u8]) -> Result<SharedEntry, OpenError> {
    let plaintext = open_plaintext(keys, envelope)?;
    Ok(decode_plaintext(&plaintext)?)
}

fn open_plaintext(keys: &Keys, envelope: &[u8]) -> Result<Vec<u8>, OpenError> {
    let header = EnvelopeHeader::parse(envelope)?;
    if header.key_id != keys.key_id() {
        return Err(OpenError::ForeignKey {
            found: header.key_id,
            ours: keys.key_id(),
        });
    }
    let nonce: [u8; 12] = envelope[13..HEADER_LEN].try_into().expect("12 bytes");
    let aad = associated_data(envelope, keys.scope());
    keys.cipher()
        .decrypt(
            &nonce.into(),
            Payload {
                msg: &envelope[HEADER_LEN..],
                aad: &aad,
            },
        )
        .map_err(|_| OpenError::Tampered)
}

fn decode_plaintext(plaintext: &[u8]) -> Result<SharedEntry, InnerError> {
    let (plain, rest) = postcard::take_from_bytes::<PlainIn<'_>>(plaintext)?;
    if !rest.is_empty() {
        return Err(InnerError::TrailingBytes(rest.len()));
    }
    let mut response = StoredResponse::decode(plain.response)?;
    response.token_fp = Fingerprint::PEER;
    Ok(SharedEntry {
        key: plain.key,
        response,
        validation: plain.validation,
    })
}

/// Entry points that take a caller-chosen nonce or raw plaintext, for the fuzz targets
/// (`--features fuzzing`). Never for the product: a repeated nonce breaks AES-GCM.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    use super::*;

    pub fn seal_plaintext(keys: &Keys, plaintext: &[u8], nonce: [u8; 12]) -> Vec<u8> {
        super::seal_plaintext(keys, plaintext, nonce)
    }

    pub fn seal_with_nonce(keys: &Keys, entry: &SharedEntry, nonce: [u8; 12]) -> Result<Sealed, SealError> {
        super::seal_with_nonce(keys, entry, nonce)
    }

    /// The plaintext `seal` would encrypt for `entry`.
    pub fn plaintext(entry: &SharedEntry) -> Vec<u8> {
        super::plaintext(entry)
    }
}
