//! The stored response record and its versioned binary encoding.
//!
//! The body is kept exactly as GitHub sent it (decompressed, byte for byte) with the request's
//! `Accept`, so an ETag can later be recomputed for another token (see FACTS.md). URL rewriting
//! happens only on the way out to a client, never here.

use crate::Fingerprint;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Bumped whenever the encoding changes; older records decode as errors (treated as misses).
/// Shared envelopes embed this record: bump `ENVELOPE_VERSION` with it (docs/FORMAT.md).
pub const FORMAT_VERSION: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    /// Response headers worth replaying (hop-by-hop and encoding headers already removed).
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// When the request that produced (or last revalidated) this entry was sent, Unix ms.
    pub fetched_at_ms: u64,
    /// Freshness lifetime in seconds, from the TTL class.
    pub ttl_secs: u32,
    /// Fingerprint of the token whose request produced `etag`.
    pub token_fp: Fingerprint,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The `Accept` value the upstream request carried (part of GitHub's ETag input).
    pub request_accept: Option<String>,
    /// Invalidation tags: `owner/repo`, `search`, `graphql`.
    pub tags: Vec<String>,
    /// For answers without ETags (GraphQL): REST resources read just before this answer was
    /// fetched, with the hash of what they said then. While every one still says the same, the
    /// answer still holds (see ARCHITECTURE.md, "GraphQL revalidation by indicators").
    pub validators: Vec<Validator>,
}

/// One REST resource whose unchanged body vouches for a stored answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    /// Normalized path and query, e.g. `/repos/o/r/issues?state=all&sort=updated&per_page=1`.
    pub path: String,
    pub body_sha256: [u8; 32],
}

impl Validator {
    pub fn new(path: &str, body: &[u8]) -> Self {
        use sha2::Digest;
        Validator {
            path: path.to_owned(),
            body_sha256: sha2::Sha256::digest(body).into(),
        }
    }

    pub fn holds_for(&self, body: &[u8]) -> bool {
        use sha2::Digest;
        <[u8; 32]>::from(sha2::Sha256::digest(body)) == self.body_sha256
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("empty record")]
    Empty,
    #[error("record format version {0} is not supported (this build reads {FORMAT_VERSION})")]
    Version(u8),
    #[error("record is corrupt: {0}")]
    Corrupt(#[from] postcard::Error),
}

impl StoredResponse {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![FORMAT_VERSION];
        // Serializing owned, plain data into a Vec cannot fail.
        out.extend(postcard::to_allocvec(self).expect("serialize stored response"));
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        match bytes.split_first() {
            None => Err(DecodeError::Empty),
            Some((&FORMAT_VERSION, rest)) => Ok(postcard::from_bytes(rest)?),
            Some((&v, _)) => Err(DecodeError::Version(v)),
        }
    }

    /// Approximate memory footprint, used to bound the memory tier in bytes.
    pub fn weight(&self) -> usize {
        let headers: usize = self.headers.iter().map(|(k, v)| k.len() + v.len() + 48).sum();
        self.body.len() + headers + 256
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Age in seconds at `now_ms` (0 if the clock went backwards).
    pub fn age_secs(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.fetched_at_ms) / 1000
    }

    pub fn is_fresh(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.fetched_at_ms) < u64::from(self.ttl_secs) * 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoredResponse {
        StoredResponse {
            status: 200,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("etag".into(), "W/\"abc\"".into()),
            ],
            body: Bytes::from_static(b"{\"id\":1}"),
            fetched_at_ms: 1_700_000_000_000,
            ttl_secs: 300,
            token_fp: Fingerprint([7; 16]),
            etag: Some("W/\"abc\"".into()),
            last_modified: None,
            request_accept: Some("*/*".into()),
            tags: vec!["octo/hello".into()],
            validators: vec![Validator::new("/repos/octo/hello", b"{}")],
        }
    }

    #[test]
    fn round_trip() {
        let r = sample();
        assert_eq!(StoredResponse::decode(&r.encode()).unwrap(), r);
    }

    #[test]
    fn hostile_bytes_are_errors_not_panics() {
        assert!(matches!(StoredResponse::decode(&[]), Err(DecodeError::Empty)));
        assert!(matches!(
            StoredResponse::decode(&[9, 1, 2]),
            Err(DecodeError::Version(9))
        ));
        let enc = sample().encode();
        for cut in 1..enc.len() {
            assert!(
                StoredResponse::decode(&enc[..cut]).is_err(),
                "truncated at {cut} decoded"
            );
        }
        let mut huge_len = vec![FORMAT_VERSION];
        huge_len.extend([0xc8, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(StoredResponse::decode(&huge_len).is_err());
    }

    #[test]
    fn validators_hold_only_for_the_same_body() {
        let v = Validator::new("/x", b"one");
        assert!(v.holds_for(b"one"));
        assert!(!v.holds_for(b"one "));
    }

    #[test]
    fn freshness() {
        let r = sample();
        assert!(r.is_fresh(r.fetched_at_ms + 299_999));
        assert!(!r.is_fresh(r.fetched_at_ms + 300_000));
        assert!(r.is_fresh(r.fetched_at_ms - 5), "clock going backwards counts as fresh");
        assert_eq!(r.age_secs(r.fetched_at_ms + 61_000), 61);
    }
}
