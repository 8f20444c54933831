//! The built-in secret patterns: what each one matches, which part of the match is the secret,
//! and the check that keeps ordinary prose ("basic authentication") from being redacted.
//!
//! Patterns run in ASCII mode (`(?-u)`) over bytes: bodies need not be UTF-8, and ASCII word
//! boundaries keep the whole scan in the regex crate's fast DFA.

/// One kind of secret. When `pattern` has a capture group, only that group is replaced (the
/// `Bearer ` word or a URL's scheme stay readable); otherwise the whole match is.
pub(super) struct Rule {
    pub name: &'static str,
    pub pattern: &'static str,
    pub verify: fn(&[u8]) -> bool,
}

fn always(_: &[u8]) -> bool {
    true
}

pub(super) const RULES: &[Rule] = &[
    Rule {
        // PEM, OpenSSH and PGP private keys. Without an END line everything to the end goes: a
        // truncated key still leaks key material.
        name: "private-key",
        pattern: r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY[A-Z0-9 ]{0,20}-----(?s:.)*?(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY[A-Z0-9 ]{0,20}-----|\z)",
        verify: always,
    },
    Rule {
        // Classic (`ghp_` + 36), OAuth, user-to-server, installation and refresh tokens; the
        // 20-character floor keeps documentation like `ghp_xxx` readable.
        name: "github-token",
        pattern: r"gh[pousr]_[A-Za-z0-9]{20,255}",
        verify: always,
    },
    Rule {
        name: "github-token",
        pattern: r"github_pat_[A-Za-z0-9_]{20,255}",
        verify: always,
    },
    Rule {
        name: "url-credentials",
        pattern: r#"\b[A-Za-z][A-Za-z0-9+.\-]{0,30}://([^\s/?#@:"'<>\\]+:[^\s/?#@"'<>\\]+)@"#,
        verify: always,
    },
    Rule {
        name: "bearer",
        pattern: r"\b(?i:bearer)[ \t]+([A-Za-z0-9._~+/\-]{16,}=*)",
        verify: not_a_lowercase_word,
    },
    Rule {
        name: "basic",
        pattern: r"\b(?i:basic)[ \t]+([A-Za-z0-9+/]{4,}={0,2})",
        verify: is_base64_user_password,
    },
    Rule {
        name: "aws-access-key-id",
        pattern: r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
        verify: always,
    },
    Rule {
        // `aws_secret_access_key = ...` in ini files, env dumps and JSON alike; the name stays.
        name: "aws-secret-access-key",
        pattern: r#"(?i:aws_?secret_?access_?key)["']?[ \t]*[:=][ \t]*["']?([A-Za-z0-9/+=]{20,})"#,
        verify: always,
    },
];

/// "Bearer authentication" is prose (and `snake_case` a name); a credential has digits, capitals
/// or punctuation.
fn not_a_lowercase_word(token: &[u8]) -> bool {
    !token.iter().all(|&b| b.is_ascii_lowercase() || b == b'_')
}

/// A Basic credential is base64 of `user:password`; "basic authentication" decodes to noise.
fn is_base64_user_password(b64: &[u8]) -> bool {
    let Some(decoded) = decode_base64(b64) else {
        return false;
    };
    let Ok(text) = std::str::from_utf8(&decoded) else {
        return false;
    };
    text.contains(':') && !text.chars().any(char::is_control)
}

/// Standard base64, padded or not. Only used to recognise a Basic credential, so no crate for it.
fn decode_base64(input: &[u8]) -> Option<Vec<u8>> {
    let body = input
        .strip_suffix(b"==")
        .or_else(|| input.strip_suffix(b"="))
        .unwrap_or(input);
    if input.len() != body.len() && !input.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in body {
        acc = (acc << 6) | u32::from(value(c)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decoding() {
        assert_eq!(decode_base64(b"dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(decode_base64(b"YTpi").unwrap(), b"a:b");
        assert_eq!(decode_base64(b"YTpiYw==").unwrap(), b"a:bc");
        assert_eq!(decode_base64(b"YTpiYw").unwrap(), b"a:bc");
        assert_eq!(decode_base64(b"YTpiYWM=").unwrap(), b"a:bac");
        assert!(decode_base64(b"YTpiY").is_none());
        assert!(decode_base64(b"YTpiYw=").is_none());
        assert!(decode_base64(b"YT*i").is_none());
    }

    #[test]
    fn basic_credentials_are_told_from_prose() {
        assert!(is_base64_user_password(b"dXNlcjpwYXNz"));
        assert!(!is_base64_user_password(b"authentication"));
        assert!(!is_base64_user_password(b"auth"));
        assert!(!is_base64_user_password(b"dXNlcg==")); // "user": no colon
    }

    #[test]
    fn every_rule_compiles_alone() {
        for rule in RULES {
            regex::bytes::Regex::new(&format!("(?-u){}", rule.pattern)).unwrap();
        }
    }
}
