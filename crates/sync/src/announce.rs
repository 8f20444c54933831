//! Gossip announcements: "I (origin) hold these CIDs", batched under [`MAX_ANNOUNCE_BYTES`] and
//! authenticated with HMAC-SHA256 under `Keys::peer_auth_key()` (a label separates it from the
//! handshake's use of the key).
//!
//! Authenticated, not encrypted: CIDs name ciphertext and reveal nothing about entries, and the
//! topic is only known to holders of the secret and to relays. Encrypting them needs a gossip
//! key from `entry` (only `entry` may derive key material); requested as `Keys::gossip_key()`.
//!
//! ```text
//! u8 version (1) | key id (8) | origin endpoint id (32) | nonce (8) | u16 count
//! | count × (u8 len | CID bytes) | HMAC-SHA256 tag (32) over "gh-p2p-cache gossip/1\0" | all before it
//! ```
//!
//! The random nonce makes a re-announcement of the same CIDs a new message (gossip drops
//! repeats). A replayed message only repeats a hint: receivers fetch and verify what they need.

use bytes::Bytes;
use cid::Cid;
use entry::Keys;
use hmac::{Hmac, Mac};
use iroh::EndpointId;
use sha2::Sha256;

/// Largest announcement sent: iroh-gossip's 4 KiB message limit minus its framing (a bigger
/// broadcast silently kills the sender's links) with a margin.
pub const MAX_ANNOUNCE_BYTES: usize = 3584;
const VERSION: u8 = 1;
const LABEL: &[u8] = b"gh-p2p-cache gossip/1\0";
const HEADER_LEN: usize = 1 + 8 + 32 + 8 + 2;
const TAG_LEN: usize = 32;

/// An authenticated announcement: `origin` says it holds `cids`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// Who to fetch from (not the neighbour that relayed it).
    pub origin: EndpointId,
    pub cids: Vec<Cid>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("announcement is malformed: {0}")]
    Malformed(&'static str),
    #[error("announcement is sealed under another key id")]
    ForeignKey,
    #[error("announcement fails authentication")]
    BadTag,
}

fn mac(keys: &Keys) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(keys.peer_auth_key()).expect("HMAC takes any key length");
    mac.update(LABEL);
    mac
}

/// Splits `cids` into as few messages as fit [`MAX_ANNOUNCE_BYTES`], each authenticated.
pub fn encode(keys: &Keys, origin: EndpointId, cids: &[Cid]) -> Vec<Bytes> {
    let mut messages = Vec::new();
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let mut size = HEADER_LEN + TAG_LEN;
    for cid in cids {
        let bytes = cid.to_bytes();
        if bytes.len() > u8::MAX as usize {
            continue;
        }
        if size + 1 + bytes.len() > MAX_ANNOUNCE_BYTES || batch.len() == u16::MAX as usize {
            messages.push(seal(keys, origin, &batch));
            batch.clear();
            size = HEADER_LEN + TAG_LEN;
        }
        size += 1 + bytes.len();
        batch.push(bytes);
    }
    if !batch.is_empty() {
        messages.push(seal(keys, origin, &batch));
    }
    messages
}

fn seal(keys: &Keys, origin: EndpointId, cids: &[Vec<u8>]) -> Bytes {
    let mut out = Vec::with_capacity(MAX_ANNOUNCE_BYTES);
    out.push(VERSION);
    out.extend_from_slice(&keys.key_id().0);
    out.extend_from_slice(origin.as_bytes());
    out.extend_from_slice(&rand::random::<[u8; 8]>());
    out.extend_from_slice(&(cids.len() as u16).to_be_bytes());
    for cid in cids {
        out.push(cid.len() as u8);
        out.extend_from_slice(cid);
    }
    let mut mac = mac(keys);
    mac.update(&out);
    out.extend_from_slice(&mac.finalize().into_bytes());
    debug_assert!(out.len() <= MAX_ANNOUNCE_BYTES);
    Bytes::from(out)
}

/// Checks and parses one message.
pub fn decode(keys: &Keys, message: &[u8]) -> Result<Announcement, DecodeError> {
    if message.len() < HEADER_LEN + TAG_LEN {
        return Err(DecodeError::Malformed("too short"));
    }
    if message[0] != VERSION {
        return Err(DecodeError::Malformed("unknown version"));
    }
    if message[1..9] != keys.key_id().0 {
        return Err(DecodeError::ForeignKey);
    }
    let (body, tag) = message.split_at(message.len() - TAG_LEN);
    let mut mac = mac(keys);
    mac.update(body);
    mac.verify_slice(tag).map_err(|_| DecodeError::BadTag)?;
    let origin_bytes: [u8; 32] = body[9..41].try_into().expect("32 bytes");
    let origin = EndpointId::from_bytes(&origin_bytes).map_err(|_| DecodeError::Malformed("bad origin id"))?;
    let count = u16::from_be_bytes([body[49], body[50]]) as usize;
    let mut rest = &body[HEADER_LEN..];
    let mut cids = Vec::with_capacity(count);
    for _ in 0..count {
        let (&len, tail) = rest.split_first().ok_or(DecodeError::Malformed("truncated"))?;
        if tail.len() < len as usize {
            return Err(DecodeError::Malformed("truncated"));
        }
        let (cid, tail) = tail.split_at(len as usize);
        cids.push(Cid::try_from(cid).map_err(|_| DecodeError::Malformed("bad CID"))?);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(DecodeError::Malformed("trailing bytes"));
    }
    Ok(Announcement { origin, cids })
}

#[cfg(test)]
mod tests {
    use super::*;
    use entry::Secret;

    fn keys(secret: &str) -> Keys {
        Keys::derive_with_iterations(&Secret::from_text(secret).unwrap(), "test", 1)
    }

    fn origin() -> EndpointId {
        iroh::SecretKey::from_bytes(&[7u8; 32]).public()
    }

    fn cids(n: usize) -> Vec<Cid> {
        (0..n).map(|i| entry::cid_of(&(i as u64).to_be_bytes())).collect()
    }

    #[test]
    fn batches_stay_under_the_limit_and_round_trip() {
        let k = keys("s");
        let all = cids(1000);
        let messages = encode(&k, origin(), &all);
        assert!(messages.len() > 1);
        assert!(messages.iter().all(|m| m.len() <= MAX_ANNOUNCE_BYTES));
        let back: Vec<Cid> = messages.iter().flat_map(|m| decode(&k, m).unwrap().cids).collect();
        assert_eq!(back, all);
        assert_eq!(decode(&k, &messages[0]).unwrap().origin, origin());
        // 36-byte CIDs: about 94 per message, so 1000 need 11.
        assert_eq!(
            messages.len(),
            1000usize.div_ceil((MAX_ANNOUNCE_BYTES - HEADER_LEN - TAG_LEN) / 37)
        );
    }

    #[test]
    fn another_secret_or_a_flipped_bit_is_refused() {
        let k = keys("s");
        let message = encode(&k, origin(), &cids(3)).remove(0);
        assert_eq!(decode(&keys("other"), &message), Err(DecodeError::ForeignKey));
        for i in [0usize, 9, 45, 60, message.len() - 1] {
            let mut bad = message.to_vec();
            bad[i] ^= 1;
            assert!(decode(&k, &bad).is_err(), "flipped byte {i} accepted");
        }
        assert!(decode(&k, &message[..20]).is_err());
    }
}
