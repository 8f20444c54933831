//! Cache entries as the rest of the system sees them: the cache key, the stored response record
//! and its binary encoding, and the keyed token fingerprint.
//!
//! This crate is pure (no I/O, no clocks of its own) and is the only place that handles key
//! material. Later it also owns envelopes, CIDs and scrubbing (see ARCHITECTURE.md).

mod etag;
mod fingerprint;
mod key;
mod response;

pub use etag::{EtagInputs, etags_match, github_etag};
pub use fingerprint::{Fingerprint, FingerprintKey};
pub use key::{CacheKey, KeyParts};
pub use response::{DecodeError, FORMAT_VERSION, StoredResponse, Validator};
