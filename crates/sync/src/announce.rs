//! Gossip announcements: "I (origin) hold these CIDs, and this is a hint of which cache key each
//! holds", batched under [`MAX_ANNOUNCE_BYTES`] and sealed with `entry::seal_gossip` (AES-256-GCM
//! under the gossip sub-key), so relays and strangers who learn the topic read nothing.
//!
//! Plaintext, sealed as a whole (docs/FORMAT.md, "Gossip messages", describes the sealing):
//!
//! ```text
//! u8 version (1) | origin endpoint id (32) | u16 count
//! | count × (u8 len | CID bytes | u64 hint)
//! ```
//!
//! The hint is the caller's (the daemon: [`key_hint`] of the cache key's text), so a node missing
//! key K can tell which announced CID holds K without fetching them all. It is only a hint: what
//! a fetch brings back is opened and its real key read from inside the envelope.
//!
//! The random nonce of the sealing makes a re-announcement of the same CIDs a new message (gossip
//! drops repeats). A replayed message only repeats a hint: receivers fetch and verify what they
//! need.

use bytes::Bytes;
use cid::Cid;
use entry::{GOSSIP_OVERHEAD, GossipError, Keys};
use iroh::EndpointId;
use sha2::{Digest, Sha256};

/// Largest announcement sent, sealing included: iroh-gossip's 4 KiB message limit minus its
/// framing (a bigger broadcast silently kills the sender's links) with a margin.
pub const MAX_ANNOUNCE_BYTES: usize = 3584;
const VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 32 + 2;
const HINT_LEN: usize = 8;
const MAX_PLAINTEXT: usize = MAX_ANNOUNCE_BYTES - GOSSIP_OVERHEAD;

/// One announced envelope and the caller's hint of what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Announced {
    pub cid: Cid,
    /// Chosen by the announcer; the daemon uses [`key_hint`] of the cache key.
    pub hint: u64,
}

/// The hint for a cache key: the first 8 bytes of SHA-256 of its text, big-endian (never
/// [`SNAPSHOT_ROOT_HINT`]).
pub fn key_hint(key: &str) -> u64 {
    let digest = Sha256::digest(key.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("8 of 32 bytes")).min(SNAPSHOT_ROOT_HINT - 1)
}

/// The hint of an announced snapshot root (a CAR manifest published to IPFS), not an entry:
/// receivers note it and never fetch it as an envelope.
pub const SNAPSHOT_ROOT_HINT: u64 = u64::MAX;

/// An authenticated announcement: `origin` says it holds `items`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// Who to fetch from (not the neighbour that relayed it).
    pub origin: EndpointId,
    pub items: Vec<Announced>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("announcement does not open: {0}")]
    Sealing(#[from] GossipError),
    #[error("announcement is malformed: {0}")]
    Malformed(&'static str),
}

/// Splits `items` into as few messages as fit [`MAX_ANNOUNCE_BYTES`], each sealed. Items whose
/// CID is over 255 bytes are skipped (ours are 36).
pub fn encode(keys: &Keys, origin: EndpointId, items: &[Announced]) -> Vec<Bytes> {
    let mut messages = Vec::new();
    let mut plain = start(origin);
    let mut count = 0u16;
    for item in items {
        let cid = item.cid.to_bytes();
        if cid.len() > u8::MAX as usize {
            continue;
        }
        let size = 1 + cid.len() + HINT_LEN;
        if plain.len() + size > MAX_PLAINTEXT || count == u16::MAX {
            messages.push(seal(keys, plain, count));
            plain = start(origin);
            count = 0;
        }
        plain.push(cid.len() as u8);
        plain.extend_from_slice(&cid);
        plain.extend_from_slice(&item.hint.to_be_bytes());
        count += 1;
    }
    if count > 0 {
        messages.push(seal(keys, plain, count));
    }
    messages
}

fn start(origin: EndpointId) -> Vec<u8> {
    let mut plain = Vec::with_capacity(MAX_PLAINTEXT);
    plain.push(VERSION);
    plain.extend_from_slice(origin.as_bytes());
    plain.extend_from_slice(&[0, 0]);
    plain
}

fn seal(keys: &Keys, mut plain: Vec<u8>, count: u16) -> Bytes {
    plain[33..35].copy_from_slice(&count.to_be_bytes());
    let message = entry::seal_gossip(keys, &plain);
    debug_assert!(message.len() <= MAX_ANNOUNCE_BYTES);
    Bytes::from(message)
}

/// Opens and parses one message.
pub fn decode(keys: &Keys, message: &[u8]) -> Result<Announcement, DecodeError> {
    if message.len() > MAX_ANNOUNCE_BYTES {
        return Err(DecodeError::Malformed("over the size limit"));
    }
    let plain = entry::open_gossip(keys, message)?;
    if plain.len() < HEADER_LEN {
        return Err(DecodeError::Malformed("too short"));
    }
    if plain[0] != VERSION {
        return Err(DecodeError::Malformed("unknown announcement version"));
    }
    let origin_bytes: [u8; 32] = plain[1..33].try_into().expect("32 bytes");
    let origin = EndpointId::from_bytes(&origin_bytes).map_err(|_| DecodeError::Malformed("bad origin id"))?;
    let count = u16::from_be_bytes([plain[33], plain[34]]) as usize;
    let mut rest = &plain[HEADER_LEN..];
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        let (&len, tail) = rest.split_first().ok_or(DecodeError::Malformed("truncated"))?;
        if tail.len() < len as usize + HINT_LEN {
            return Err(DecodeError::Malformed("truncated"));
        }
        let (cid, tail) = tail.split_at(len as usize);
        let (hint, tail) = tail.split_at(HINT_LEN);
        items.push(Announced {
            cid: Cid::try_from(cid).map_err(|_| DecodeError::Malformed("bad CID"))?,
            hint: u64::from_be_bytes(hint.try_into().expect("8 bytes")),
        });
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(DecodeError::Malformed("trailing bytes"));
    }
    Ok(Announcement { origin, items })
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

    fn items(n: usize) -> Vec<Announced> {
        (0..n)
            .map(|i| Announced {
                cid: entry::cid_of(&(i as u64).to_be_bytes()),
                hint: key_hint(&format!("GET /repos/o/r/issues/{i}")),
            })
            .collect()
    }

    #[test]
    fn batches_stay_under_the_limit_and_round_trip() {
        let k = keys("s");
        let all = items(1000);
        let messages = encode(&k, origin(), &all);
        assert!(messages.len() > 1);
        assert!(messages.iter().all(|m| m.len() <= MAX_ANNOUNCE_BYTES));
        let back: Vec<Announced> = messages.iter().flat_map(|m| decode(&k, m).unwrap().items).collect();
        assert_eq!(back, all);
        assert_eq!(decode(&k, &messages[0]).unwrap().origin, origin());
        // 36-byte CIDs and 8-byte hints: 78 per message ((3584 - 37 - 35) / 45), so 1000 need 13.
        assert_eq!((MAX_ANNOUNCE_BYTES - GOSSIP_OVERHEAD - HEADER_LEN) / 45, 78);
        assert_eq!(messages.len(), 13);
        // A full message uses the room: the next item would not have fit.
        assert!(messages[0].len() + 45 > MAX_ANNOUNCE_BYTES, "{}", messages[0].len());
        assert!(encode(&k, origin(), &[]).is_empty());
    }

    #[test]
    fn another_secret_a_flipped_bit_or_an_oversized_message_is_refused() {
        let k = keys("s");
        let message = encode(&k, origin(), &items(3)).remove(0);
        assert!(matches!(
            decode(&keys("other"), &message),
            Err(DecodeError::Sealing(GossipError::ForeignKey { .. }))
        ));
        for i in 0..message.len() {
            let mut bad = message.to_vec();
            bad[i] ^= 0x10;
            assert!(decode(&k, &bad).is_err(), "flipped byte {i} accepted");
        }
        assert!(decode(&k, &message[..20]).is_err());
        // Nobody may make a receiver open something bigger than a sender would ever send.
        let big = entry::seal_gossip(&k, &vec![0u8; MAX_ANNOUNCE_BYTES]);
        assert_eq!(decode(&k, &big), Err(DecodeError::Malformed("over the size limit")));
    }

    #[test]
    fn a_sealed_message_whose_plaintext_lies_about_its_count_is_malformed() {
        let k = keys("s");
        let mut plain = start(origin());
        plain[33..35].copy_from_slice(&2u16.to_be_bytes());
        let message = entry::seal_gossip(&k, &plain);
        assert_eq!(decode(&k, &message), Err(DecodeError::Malformed("truncated")));
    }

    #[test]
    fn the_hint_is_the_first_eight_bytes_of_sha256_big_endian() {
        // sha256("abc") = ba7816bf8f01cfea 414140de5dae2223 ...
        assert_eq!(key_hint("abc"), 0xba78_16bf_8f01_cfea);
    }
}
