//! GitHub's REST ETag, recomputed for a given requester.
//!
//! Observed formula (FACTS.md): hex SHA-256 over, for each of the request headers `Accept`,
//! `Authorization`, `Cookie` in that order and only when present, its value followed by `:`,
//! then the uncompressed body. Recomputing it for another token lets that token revalidate a
//! shared entry with `If-None-Match` for free, and GitHub still checks that token's access: a 304
//! means GitHub would have sent *this* body to *this* token. It lives here because its input
//! includes the token.

use sha2::{Digest, Sha256};

/// The request headers that feed GitHub's ETag; `None` means the header was absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct EtagInputs<'a> {
    pub accept: Option<&'a str>,
    pub authorization: Option<&'a str>,
    pub cookie: Option<&'a str>,
}

/// The weak ETag GitHub would send for `body` to a request carrying `inputs`.
pub fn github_etag(inputs: EtagInputs<'_>, body: &[u8]) -> String {
    let mut h = Sha256::new();
    for value in [inputs.accept, inputs.authorization, inputs.cookie]
        .into_iter()
        .flatten()
    {
        h.update(value.as_bytes());
        h.update(b":");
    }
    h.update(body);
    format!("W/\"{}\"", hex::encode(h.finalize()))
}

/// Compares two ETags ignoring the weak prefix, as GitHub does for `If-None-Match`.
pub fn etags_match(a: &str, b: &str) -> bool {
    strip_weak(a) == strip_weak(b)
}

fn strip_weak(tag: &str) -> &str {
    tag.trim().strip_prefix("W/").unwrap_or(tag.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_matches_the_documented_example() {
        // FACTS.md: `Accept: */*` and `Authorization: Bearer X` hash `*/*:Bearer X:<body>`.
        let body = br#"{"a":1}"#;
        let expected = format!("W/\"{}\"", hex::encode(Sha256::digest(b"*/*:Bearer X:{\"a\":1}")));
        let got = github_etag(
            EtagInputs {
                accept: Some("*/*"),
                authorization: Some("Bearer X"),
                cookie: None,
            },
            body,
        );
        assert_eq!(got, expected);
    }

    #[test]
    fn empty_header_adds_only_the_colon_and_absent_adds_nothing() {
        let empty = github_etag(
            EtagInputs {
                accept: Some(""),
                ..Default::default()
            },
            b"b",
        );
        let absent = github_etag(EtagInputs::default(), b"b");
        assert_eq!(empty, format!("W/\"{}\"", hex::encode(Sha256::digest(b":b"))));
        assert_eq!(absent, format!("W/\"{}\"", hex::encode(Sha256::digest(b"b"))));
    }

    #[test]
    fn different_tokens_give_different_etags() {
        let a = github_etag(
            EtagInputs {
                authorization: Some("token A"),
                ..Default::default()
            },
            b"x",
        );
        let b = github_etag(
            EtagInputs {
                authorization: Some("token B"),
                ..Default::default()
            },
            b"x",
        );
        assert_ne!(a, b);
    }

    #[test]
    fn weak_prefix_is_ignored_when_comparing() {
        assert!(etags_match("W/\"abc\"", "\"abc\""));
        assert!(etags_match(" \"abc\" ", "W/\"abc\""));
        assert!(!etags_match("\"abc\"", "\"abd\""));
    }
}
