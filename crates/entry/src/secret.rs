//! The sharing secret as bytes, and what a GitHub token can and cannot do as one.
//!
//! The caller reads the secret (a file, `GH_P2P_CACHE_SECRET`, the action's `secret` input, or a
//! shared personal token in token-derived mode); this module only holds it. The bytes are wiped
//! when the last copy is dropped and never appear in `Debug` output.

use std::fmt;
use zeroize::Zeroizing;

/// The shared secret every runner of a fleet holds. Wiped on drop; `Debug` shows no bytes.
#[derive(Clone)]
pub struct Secret(Zeroizing<Vec<u8>>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("the sharing secret is empty: set the `secret` input (or GH_P2P_CACHE_SECRET) to a long random value")]
    Empty,
}

impl Secret {
    /// The secret exactly as given (a binary key file, say).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, SecretError> {
        let bytes = Zeroizing::new(bytes.into());
        if bytes.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Secret(bytes))
    }

    /// A secret typed by a person or read from a text file or an environment variable. Leading
    /// and trailing ASCII whitespace is dropped, so `secret.txt` with a final newline and the same
    /// value in an environment variable give the same keys on every runner.
    pub fn from_text(text: &str) -> Result<Self, SecretError> {
        Self::new(text.trim_ascii().as_bytes())
    }

    /// Token-derived mode: a personal token shared by every job of a fleet is the secret (the
    /// scope keeps its keys apart from other uses). Only a token that every job holds works; see
    /// [`token_mode_warning`] for the ones that cannot.
    pub fn from_token(token: &str) -> Result<Self, SecretError> {
        Self::from_text(token)
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Why a token cannot serve as a fleet's secret in token-derived mode, or `None` when it can.
///
/// Token-derived sharing works only when every job holds the same token. The per-job
/// `GITHUB_TOKEN` (and any GitHub App installation token, `ghs_`) differs in every job, so each job
/// would derive its own keys and silently share nothing; the action prints this text instead.
pub fn token_mode_warning(token: &str) -> Option<&'static str> {
    let token = token.trim_ascii();
    if token.starts_with("ghs_") || is_legacy_installation_token(token) {
        Some(
            "ghs_ tokens (GITHUB_TOKEN, GitHub App installation tokens) are per job: entries cannot be shared \
             between jobs; set the `secret` input",
        )
    } else if token.starts_with("ghu_") {
        Some(
            "ghu_ tokens expire after 8 hours: entries shared under one cannot be opened once it is refreshed; \
             set the `secret` input",
        )
    } else if token.is_empty() {
        Some("no token to derive a sharing key from: set the `secret` input")
    } else {
        None
    }
}

/// Installation tokens before the 2021 format change: `v1.` and 40 hex digits.
fn is_legacy_installation_token(token: &str) -> bool {
    token
        .strip_prefix("v1.")
        .is_some_and(|rest| rest.len() == 40 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_secrets_are_refused_with_a_hint() {
        assert_eq!(Secret::new(Vec::new()).unwrap_err(), SecretError::Empty);
        assert_eq!(Secret::from_text(" \n").unwrap_err(), SecretError::Empty);
        assert!(SecretError::Empty.to_string().contains("`secret` input"));
    }

    #[test]
    fn text_secrets_ignore_surrounding_whitespace_but_bytes_are_exact() {
        assert_eq!(Secret::from_text("s3cret\n").unwrap().expose(), b"s3cret");
        assert_eq!(Secret::new(b"s3cret\n".to_vec()).unwrap().expose(), b"s3cret\n");
    }

    #[test]
    fn debug_shows_no_secret() {
        let s = Secret::from_text("hunter2-hunter2").unwrap();
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn per_job_tokens_are_recognised() {
        let ghs = token_mode_warning("ghs_16C7e42F292c6912E7710c838347Ae178B4a").unwrap();
        assert!(ghs.contains("per job") && ghs.contains("`secret` input"), "{ghs}");
        assert!(
            token_mode_warning(&format!("v1.{}", "a".repeat(40)))
                .unwrap()
                .contains("per job")
        );
        assert!(token_mode_warning("ghu_abc").unwrap().contains("8 hours"));
        assert!(token_mode_warning("").is_some());
    }

    #[test]
    fn shared_personal_tokens_are_fine() {
        assert_eq!(token_mode_warning("ghp_16C7e42F292c6912E7710c838347Ae178B4a"), None);
        assert_eq!(token_mode_warning("github_pat_11ABCDEFG0abcdefghij_klmnop"), None);
        assert_eq!(token_mode_warning("v1.nothex"), None);
    }
}
