//! The signature of an error (what makes two reports "the same") and the hidden marker that
//! carries it in an issue body, where a search can find it.

use regex::Regex;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// What precedes the signature in the marker and in search queries.
pub const MARKER_PREFIX: &str = "gh-p2p-cache:signature=";

/// Hex digits of a signature (64 bits of SHA-256).
pub const SIGNATURE_LEN: usize = 16;

/// The first [`SIGNATURE_LEN`] hex digits of SHA-256 over the normalized title, a newline and
/// the normalized log. The title is normalized here (titles often carry times or ids too).
pub fn signature(title: &str, normalized_log: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(crate::normalize(title).as_bytes());
    hash.update(b"\n");
    hash.update(normalized_log.as_bytes());
    let mut hex = hex::encode(hash.finalize());
    hex.truncate(SIGNATURE_LEN);
    hex
}

/// `<!-- gh-p2p-cache:signature=XXXX -->`: invisible in the rendered issue, found by search.
pub fn marker(signature: &str) -> String {
    format!("<!-- {MARKER_PREFIX}{signature} -->")
}

/// The signature in a body's marker, if it has one (the first, if several).
pub fn parse_marker(body: &str) -> Option<&str> {
    static MARKER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"<!--\s*gh-p2p-cache:signature=([0-9a-f]{16})\s*-->").expect("marker pattern compiles")
    });
    MARKER.captures(body).and_then(|c| c.get(1)).map(|m| m.as_str())
}
