//! GitHub's token-specific ETag (see FACTS.md) and the conditional-request checks built on it.
//! This is the one place the formula lives.

use http::HeaderMap;
use http::header::{ACCEPT, AUTHORIZATION, COOKIE};
use sha2::{Digest, Sha256};

/// Hex SHA-256 over `value:` for each of Accept, Authorization, Cookie that is present (an
/// empty value still contributes `:`), then the uncompressed body.
pub fn compute(accept: Option<&[u8]>, authorization: Option<&[u8]>, cookie: Option<&[u8]>, body: &[u8]) -> String {
    let mut h = Sha256::new();
    for v in [accept, authorization, cookie].into_iter().flatten() {
        h.update(v);
        h.update(b":");
    }
    h.update(body);
    hex::encode(h.finalize())
}

/// [`compute`] with the three headers taken from a request. A header sent several times is
/// joined with `, `, the way it reads as one field.
pub fn for_request(headers: &HeaderMap, body: &[u8]) -> String {
    let joined = |name| {
        let mut vals = headers.get_all(name).iter().peekable();
        vals.peek()?;
        Some(vals.map(|v| v.as_bytes()).collect::<Vec<_>>().join(&b", "[..]))
    };
    let (a, z, c) = (joined(ACCEPT), joined(AUTHORIZATION), joined(COOKIE));
    compute(a.as_deref(), z.as_deref(), c.as_deref(), body)
}

/// How GitHub sends it: weak.
pub fn weak(hex: &str) -> String {
    format!("W/\"{hex}\"")
}

/// `If-None-Match` matches when any listed tag equals ours ignoring `W/` and quotes, or is `*`.
pub fn if_none_match(header: &str, hex: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"') == hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_matches_facts_example() {
        let body = br#"{"a":1}"#;
        let want = hex::encode(Sha256::digest(b"*/*:Bearer X:{\"a\":1}"));
        assert_eq!(compute(Some(b"*/*"), Some(b"Bearer X"), None, body), want);
        // empty header value adds just ':'
        let want = hex::encode(Sha256::digest(b"::{\"a\":1}"));
        assert_eq!(compute(Some(b""), None, Some(b""), body), want);
        // nothing present: hash of the body alone
        assert_eq!(compute(None, None, None, body), hex::encode(Sha256::digest(body)));
    }

    #[test]
    fn if_none_match_ignores_weakness_and_lists() {
        assert!(if_none_match("W/\"abc\"", "abc"));
        assert!(if_none_match("\"abc\"", "abc"));
        assert!(if_none_match("\"x\", W/\"abc\"", "abc"));
        assert!(if_none_match("*", "abc"));
        assert!(!if_none_match("\"abd\"", "abc"));
    }
}
