//! CIDs of the blocks we write and the one check every block read goes through.
//!
//! Every CID we make is CIDv1 with a sha2-256 multihash: codec raw (0x55) for envelopes, dag-cbor
//! (0x71) for manifest blocks. Reading accepts any codec but only sha2-256, the one hash the
//! product promises (PRODUCT.md, "Sharing, safely"); a block we cannot hash-check is never used.

use cid::Cid;
use cid::multihash::Multihash;
use sha2::{Digest, Sha256};

/// Multicodec code of raw bytes: the codec of envelope blocks.
pub const RAW: u64 = 0x55;
/// Multicodec code of DAG-CBOR: the codec of manifest blocks and of the CAR header.
pub const DAG_CBOR: u64 = 0x71;
/// Multihash code of sha2-256.
pub const SHA2_256: u64 = 0x12;

/// Largest block we write or accept: IPFS implementations agree on 1 MiB as a safe block size
/// (bitswap and gateways may refuse bigger ones), and envelopes are capped at it.
pub const MAX_BLOCK: usize = 1 << 20;

/// CIDv1 of `data` with codec `codec` and a sha2-256 multihash.
pub fn cid_of(codec: u64, data: &[u8]) -> Cid {
    let digest = Sha256::digest(data);
    Cid::new_v1(codec, wrap_sha256(&digest.into()))
}

/// CIDv1, codec raw, sha2-256 of an envelope's bytes: the address peers and IPFS use for it.
pub fn raw_cid(data: &[u8]) -> Cid {
    cid_of(RAW, data)
}

/// Result of checking a block's bytes against the CID it came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Match,
    Mismatch,
    /// The CID names a hash function other than sha2-256 (code given).
    UnsupportedHash(u64),
}

/// Hashes `data` and compares it with `cid`'s digest.
pub fn verify(cid: &Cid, data: &[u8]) -> Verdict {
    let hash = cid.hash();
    if hash.code() != SHA2_256 || hash.size() != 32 {
        return Verdict::UnsupportedHash(hash.code());
    }
    if Sha256::digest(data).as_slice() == hash.digest() {
        Verdict::Match
    } else {
        Verdict::Mismatch
    }
}

fn wrap_sha256(digest: &[u8; 32]) -> Multihash<64> {
    Multihash::wrap(SHA2_256, digest).expect("a 32-byte digest fits a 64-byte multihash")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_cid_matches_the_well_known_cid_of_hello_world() {
        // `ipfs block put --cid-codec raw` of "hello world" (no newline) gives this CID.
        let cid = raw_cid(b"hello world");
        assert_eq!(
            cid.to_string(),
            "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
        );
        assert_eq!(verify(&cid, b"hello world"), Verdict::Match);
        assert_eq!(verify(&cid, b"hello world!"), Verdict::Mismatch);
    }

    #[test]
    fn other_hash_functions_are_unsupported_not_mismatched() {
        let identity = Cid::new_v1(RAW, Multihash::wrap(0x00, b"abc").unwrap());
        assert_eq!(verify(&identity, b"abc"), Verdict::UnsupportedHash(0));
    }
}
