//! Cache entries as the rest of the system sees them: the cache key, the stored response record
//! and its binary encoding, the keyed token fingerprint, and the shareable form of an entry: keys
//! derived from the fleet's secret, sealed content-addressed envelopes, and scrubbing.
//!
//! This crate is pure (no I/O, no clocks of its own, no async) and is the only place that handles
//! key material. The envelope format is specified in docs/FORMAT.md.
//!
//! Sharing an entry, in order: [`Scrubber::scrub`] the body and [`Scrubber::scrub_headers`],
//! [`SharedEntry::new`], [`seal`] under [`Keys`] derived once with [`Keys::derive`] (slow: run it
//! in `spawn_blocking`); a receiver checks [`verify_cid`], then [`open`]s, then keeps the newer
//! version by [`cmp_recency`].

mod address;
mod envelope;
mod etag;
mod fingerprint;
mod gossip;
mod key;
mod keys;
mod response;
mod scrub;
mod secret;
mod shared;
#[cfg(test)]
mod vectors;

pub use address::{CidError, RAW_CODEC, SHA2_256, cid_of, verify_cid};
pub use cid::Cid;
#[cfg(feature = "fuzzing")]
pub use envelope::fuzzing;
pub use envelope::{
    ENVELOPE_VERSION, EnvelopeHeader, HEADER_LEN, InnerError, MAGIC, MAX_ENVELOPE_BYTES, OpenError, SealError, Sealed,
    open, seal,
};
pub use etag::{EtagInputs, etags_match, github_etag};
pub use fingerprint::{Fingerprint, FingerprintKey};
pub use gossip::{GOSSIP_OVERHEAD, GOSSIP_VERSION, GossipError, open_gossip, seal_gossip};
pub use key::{CacheKey, KeyParts};
pub use keys::{KeyId, Keys, PBKDF2_ITERATIONS};
pub use response::{DecodeError, FORMAT_VERSION, StoredResponse, Validator};
pub use scrub::{DROPPED_HEADERS, ScrubPatternError, Scrubber};
pub use secret::{Secret, SecretError, token_mode_warning};
pub use shared::{SharedEntry, cmp_recency, validation_hash};
