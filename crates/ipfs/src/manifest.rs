//! The snapshot manifest: which envelopes a snapshot holds, as a chain of DAG-CBOR blocks.
//!
//! Each manifest block is
//! `{"v": 1, "kind": "gh-p2p-cache/snapshot", "created": <unix ms>, "entries": [..], "next"?: <link>}`
//! with entries `{"cid": <link>, "size": <bytes>, "kid"?: <key id>, "exp"?: <unix ms>}`. Links are
//! CIDs (CBOR tag 42), so IPFS tools see the whole snapshot as one DAG and pin it by its root.
//! Manifests over the block limit (1 MiB) continue in the block `next` links to.
//!
//! The manifest is plaintext, published to IPFS for anyone to read. It holds only what an
//! importer needs to skip entries without decrypting them (CID, size, opaque key id, expiry):
//! never cache keys, URLs, repository or scope names, which would tell the world what a fleet
//! fetched. Those live inside the encrypted envelopes.
//!
//! Readers ignore fields they do not know, so optional fields can be added without a new `v`.

use cid::Cid;
use serde::{Deserialize, Serialize};

use crate::block::{self, DAG_CBOR};
use crate::car::WriteError;

/// The `kind` every manifest block carries, so a foreign DAG-CBOR root is told apart at once.
pub const KIND: &str = "gh-p2p-cache/snapshot";
/// The manifest format version this build writes and reads.
pub const VERSION: u64 = 1;

/// What the manifest says about an envelope besides its CID and size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryMeta {
    /// Opaque id of the key the envelope is sealed with, so an importer that lacks the key skips
    /// the entry without decrypting it. Must not reveal the scope or secret (e.g. a truncated
    /// HKDF output in hex), since anyone can read the manifest.
    pub key_id: Option<String>,
    /// Unix milliseconds after which the entry is not worth importing (past any staleness a
    /// reader would serve), so expired entries are skipped before decryption.
    pub expires_ms: Option<u64>,
}

/// One envelope listed in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// CIDv1, raw codec, sha2-256 of the envelope bytes.
    pub cid: Cid,
    /// Length of the envelope in bytes.
    pub size: u64,
    pub meta: EntryMeta,
}

/// A snapshot's manifest, all chain blocks joined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// When the snapshot was made, in unix milliseconds (from the root block).
    pub created_ms: u64,
    pub entries: Vec<ManifestEntry>,
}

#[derive(Serialize)]
struct EntryOut<'a> {
    cid: &'a Cid,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<u64>,
}

impl<'a> From<&'a ManifestEntry> for EntryOut<'a> {
    fn from(entry: &'a ManifestEntry) -> Self {
        EntryOut {
            cid: &entry.cid,
            size: entry.size,
            kid: entry.meta.key_id.as_deref(),
            exp: entry.meta.expires_ms,
        }
    }
}

/// Field order does not matter: the encoder sorts keys the DAG-CBOR way (length, then bytes).
#[derive(Serialize)]
struct BlockOut<'a> {
    v: u64,
    kind: &'a str,
    created: u64,
    entries: &'a [EntryOut<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<Cid>,
}

#[derive(Deserialize)]
struct EntryIn {
    cid: Cid,
    size: u64,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    exp: Option<u64>,
}

#[derive(Deserialize)]
struct BlockIn {
    created: u64,
    entries: Vec<EntryIn>,
    #[serde(default)]
    next: Option<Cid>,
}

/// Decoded before the rest so that a future version or a foreign block gets a precise error
/// rather than a complaint about some field whose shape changed.
#[derive(Deserialize)]
struct Probe {
    v: u64,
    kind: String,
}

/// One encoded manifest block.
pub(crate) struct EncodedBlock {
    pub cid: Cid,
    pub bytes: Vec<u8>,
}

/// Splits `manifest` into blocks of at most `limit` bytes, linked by `next`, root first.
///
/// Blocks are encoded last to first because each one's CID goes into the `next` of the block
/// before it; the root's CID is known only at the end, which is why the whole manifest (CIDs and
/// metadata only, ~60 bytes an entry) is built before anything is written.
pub(crate) fn encode_chain(manifest: &Manifest, limit: usize) -> Result<Vec<EncodedBlock>, WriteError> {
    let entries: Vec<EntryOut> = manifest.entries.iter().map(EntryOut::from).collect();
    let encode = |entries: &[EntryOut], next: Option<Cid>| {
        let block = BlockOut {
            v: VERSION,
            kind: KIND,
            created: manifest.created_ms,
            entries,
            next,
        };
        serde_ipld_dagcbor::to_vec(&block).map_err(|e| WriteError::Encode(e.to_string()))
    };
    // A block's size is this overhead plus its entries' sizes; the 8 covers the entries array's
    // length prefix growing from 1 byte (empty) to at most 9.
    let placeholder_next = block::cid_of(DAG_CBOR, b"");
    let overhead = encode(&[], Some(placeholder_next))?.len() + 8;

    let mut chunks = Vec::new();
    let (mut start, mut used) = (0, overhead);
    for (i, entry) in entries.iter().enumerate() {
        let size = serde_ipld_dagcbor::to_vec(entry)
            .map_err(|e| WriteError::Encode(e.to_string()))?
            .len();
        if overhead + size > limit {
            return Err(WriteError::EntryTooLarge {
                cid: *entry.cid,
                size,
                limit,
            });
        }
        if used + size > limit {
            chunks.push(start..i);
            (start, used) = (i, overhead);
        }
        used += size;
    }
    // Always at least one block, so an empty snapshot still has a manifest root.
    chunks.push(start..entries.len());

    let mut blocks = Vec::with_capacity(chunks.len());
    let mut next = None;
    for range in chunks.into_iter().rev() {
        let bytes = encode(&entries[range], next)?;
        if bytes.len() > limit {
            return Err(WriteError::Encode(format!(
                "manifest block of {} bytes over the {limit}-byte limit",
                bytes.len()
            )));
        }
        let cid = block::cid_of(DAG_CBOR, &bytes);
        next = Some(cid);
        blocks.push(EncodedBlock { cid, bytes });
    }
    blocks.reverse();
    Ok(blocks)
}

/// One decoded manifest block.
pub(crate) struct DecodedBlock {
    pub created_ms: u64,
    pub entries: Vec<ManifestEntry>,
    pub next: Option<Cid>,
}

/// Why a block is not a manifest block this build can read.
pub(crate) enum DecodeError {
    /// A manifest, but of a newer version.
    Version(u64),
    /// Not a manifest at all, or a malformed one.
    Invalid(String),
}

pub(crate) fn decode_block(bytes: &[u8]) -> Result<DecodedBlock, DecodeError> {
    let probe: Probe = serde_ipld_dagcbor::from_slice(bytes)
        .map_err(|e| DecodeError::Invalid(format!("not a DAG-CBOR map with \"v\" and \"kind\": {e}")))?;
    if probe.kind != KIND {
        return Err(DecodeError::Invalid(format!("kind is {:?}, not {KIND:?}", probe.kind)));
    }
    if probe.v != VERSION {
        return Err(DecodeError::Version(probe.v));
    }
    let block: BlockIn = serde_ipld_dagcbor::from_slice(bytes).map_err(|e| DecodeError::Invalid(e.to_string()))?;
    if let Some(next) = &block.next
        && next.codec() != DAG_CBOR
    {
        return Err(DecodeError::Invalid(format!(
            "\"next\" links to {next}, which is not DAG-CBOR"
        )));
    }
    let entries = block
        .entries
        .into_iter()
        .map(|e| ManifestEntry {
            cid: e.cid,
            size: e.size,
            meta: EntryMeta {
                key_id: e.kid,
                expires_ms: e.exp,
            },
        })
        .collect();
    Ok(DecodedBlock {
        created_ms: block.created,
        entries,
        next: block.next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{MAX_BLOCK, raw_cid};

    fn manifest(n: usize) -> Manifest {
        let entries = (0..n)
            .map(|i| ManifestEntry {
                cid: raw_cid(&i.to_le_bytes()),
                size: 2048 + i as u64,
                meta: EntryMeta {
                    key_id: (i % 2 == 0).then(|| "k1".to_string()),
                    expires_ms: (i % 3 == 0).then_some(1_700_000_000_000 + i as u64),
                },
            })
            .collect();
        Manifest {
            created_ms: 1_700_000_000_000,
            entries,
        }
    }

    fn decode_chain(blocks: &[EncodedBlock]) -> Manifest {
        let mut out = Manifest::default();
        for (i, encoded) in blocks.iter().enumerate() {
            let Ok(block) = decode_block(&encoded.bytes) else {
                panic!("block {i} does not decode")
            };
            assert_eq!(
                block.next,
                blocks.get(i + 1).map(|b| b.cid),
                "block {i} links to the next one"
            );
            out.created_ms = block.created_ms;
            out.entries.extend(block.entries);
        }
        out
    }

    #[test]
    fn small_manifest_is_one_block_without_next() {
        let m = manifest(10);
        let blocks = encode_chain(&m, MAX_BLOCK).unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(decode_chain(&blocks), m);
        assert_eq!(blocks[0].cid.codec(), DAG_CBOR);
    }

    #[test]
    fn big_manifest_splits_into_blocks_under_the_limit() {
        let m = manifest(1000);
        let blocks = encode_chain(&m, 2048).unwrap();
        assert!(blocks.len() > 20, "{} blocks", blocks.len());
        assert!(blocks.iter().all(|b| b.bytes.len() <= 2048));
        // Packing is greedy: every block but the last is nearly full.
        assert!(blocks[..blocks.len() - 1].iter().all(|b| b.bytes.len() > 2048 - 100));
        assert_eq!(decode_chain(&blocks), m);
    }

    #[test]
    fn empty_manifest_still_has_a_root_block() {
        let blocks = encode_chain(&manifest(0), MAX_BLOCK).unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(decode_chain(&blocks), manifest(0));
    }

    #[test]
    fn an_entry_too_big_for_any_block_is_refused() {
        let mut m = manifest(1);
        m.entries[0].meta.key_id = Some("x".repeat(2000));
        assert!(matches!(encode_chain(&m, 1024), Err(WriteError::EntryTooLarge { .. })));
    }

    #[test]
    fn keys_are_in_dag_cbor_order_and_absent_options_are_left_out() {
        let mut m = manifest(1);
        m.entries[0].meta = EntryMeta::default();
        let bytes = &encode_chain(&m, MAX_BLOCK).unwrap()[0].bytes;
        let text = String::from_utf8_lossy(bytes);
        let at = |key: &str| text.find(key).unwrap_or_else(|| panic!("{key} missing"));
        assert!(at("kind") < at("created") && at("created") < at("entries"));
        assert!(at("cid") < at("size"));
        assert!(!text.contains("kid") && !text.contains("exp") && !text.contains("next"));
    }

    #[test]
    fn newer_versions_and_foreign_blocks_are_told_apart() {
        #[derive(Serialize)]
        struct Future<'a> {
            v: u64,
            kind: &'a str,
            entries: &'a str,
        }
        let future = serde_ipld_dagcbor::to_vec(&Future {
            v: 2,
            kind: KIND,
            entries: "changed",
        })
        .unwrap();
        assert!(matches!(decode_block(&future), Err(DecodeError::Version(2))));
        let foreign = serde_ipld_dagcbor::to_vec(&Future {
            v: 1,
            kind: "other",
            entries: "",
        })
        .unwrap();
        assert!(matches!(decode_block(&foreign), Err(DecodeError::Invalid(_))));
        assert!(matches!(decode_block(b"\xff"), Err(DecodeError::Invalid(_))));
    }
}
