//! Content addresses of envelopes: CIDv1, codec raw (0x55), multihash sha2-256 (0x12) over the
//! envelope bytes, so an IPFS node, a gateway and a peer all name a block the same way, and a
//! receiver can check a block against the name it asked for before it decrypts anything.

use cid::Cid;
use cid::multihash::Multihash;
use sha2::{Digest, Sha256};

/// Multicodec `raw`: the block is opaque bytes (our envelope), not IPLD data.
pub const RAW_CODEC: u64 = 0x55;
/// Multihash code of sha2-256.
pub const SHA2_256: u64 = 0x12;

/// Boxed: a CID is 80 bytes and this error is rare.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CidError {
    #[error(
        "content address {0} is not a CIDv1 raw sha2-256 address; ask for the block by the CID it was announced with"
    )]
    Unsupported(Box<Cid>),
    #[error(
        "block does not match its content address (expected {expected}, got {actual}); discard it and distrust the sender"
    )]
    Mismatch { expected: Box<Cid>, actual: Box<Cid> },
}

/// The content address of an envelope.
pub fn cid_of(envelope: &[u8]) -> Cid {
    let digest = Sha256::digest(envelope);
    let hash = Multihash::<64>::wrap(SHA2_256, &digest).expect("32 bytes fit a 64-byte multihash");
    Cid::new_v1(RAW_CODEC, hash)
}

/// Checks that `envelope` is the block `cid` names. Only CIDv1 raw sha2-256 addresses are
/// accepted: any other kind would need another hash function we do not trust blocks under.
pub fn verify_cid(cid: &Cid, envelope: &[u8]) -> Result<(), CidError> {
    let hash = cid.hash();
    if cid.version() != cid::Version::V1 || cid.codec() != RAW_CODEC || hash.code() != SHA2_256 || hash.size() != 32 {
        return Err(CidError::Unsupported(Box::new(*cid)));
    }
    let actual = cid_of(envelope);
    if actual.hash().digest() == hash.digest() {
        Ok(())
    } else {
        Err(CidError::Mismatch {
            expected: Box::new(*cid),
            actual: Box::new(actual),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_of_empty_block_matches_the_well_known_raw_cid() {
        // The CIDv1 raw sha2-256 of zero bytes, as `ipfs add --raw-leaves --cid-version 1` prints it.
        assert_eq!(
            cid_of(b"").to_string(),
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
    }

    #[test]
    fn verify_accepts_the_block_and_rejects_any_other() {
        let cid = cid_of(b"block");
        assert_eq!(verify_cid(&cid, b"block"), Ok(()));
        assert!(matches!(verify_cid(&cid, b"block!"), Err(CidError::Mismatch { .. })));
        assert!(
            verify_cid(&cid, b"block!")
                .unwrap_err()
                .to_string()
                .contains("discard it")
        );
    }

    #[test]
    fn other_kinds_of_cid_are_refused() {
        let digest = Sha256::digest(b"block");
        let sha256 = Multihash::<64>::wrap(SHA2_256, &digest).unwrap();
        let dag_pb = Cid::new_v1(0x70, sha256);
        assert_eq!(
            verify_cid(&dag_pb, b"block"),
            Err(CidError::Unsupported(Box::new(dag_pb)))
        );
        let v0 = Cid::new_v0(sha256).unwrap();
        assert_eq!(verify_cid(&v0, b"block"), Err(CidError::Unsupported(Box::new(v0))));
        let identity = Cid::new_v1(RAW_CODEC, Multihash::<64>::wrap(0x00, b"block").unwrap());
        assert_eq!(
            verify_cid(&identity, b"block"),
            Err(CidError::Unsupported(Box::new(identity)))
        );
        let short = Cid::new_v1(RAW_CODEC, Multihash::<64>::wrap(SHA2_256, &digest[..20]).unwrap());
        assert_eq!(
            verify_cid(&short, b"block"),
            Err(CidError::Unsupported(Box::new(short)))
        );
    }
}
