//! Who is calling: the `Authorization` header mapped to a configured token, and what that
//! caller may read or push. Tokens themselves never leave this module's lookup.

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::config::{Access, TokenSpec};
use crate::model::Repo;

/// Bucket and stats key for requests without a token (GitHub limits those per IP; every
/// simulator client is on loopback, so they share one bucket). Parentheses keep it from
/// colliding with a real login.
pub const ANONYMOUS: &str = "(anonymous)";

/// The identity a request runs as.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `None` for anonymous requests.
    pub login: Option<String>,
    pub access: Access,
}

impl Caller {
    pub fn anonymous() -> Self {
        Caller {
            login: None,
            access: Access::Public,
        }
    }

    pub fn is_authenticated(&self) -> bool {
        self.login.is_some()
    }

    /// Login for rate-limit buckets and stats.
    pub fn key(&self) -> &str {
        self.login.as_deref().unwrap_or(ANONYMOUS)
    }

    /// Private repositories exist only for collaborators; everyone else gets a 404, exactly as
    /// for a repository that does not exist.
    pub fn can_read(&self, repo: &Repo) -> bool {
        !repo.private || self.can_push(repo)
    }

    pub fn can_push(&self, repo: &Repo) -> bool {
        self.is_authenticated() && self.access.is_collaborator(&repo.full_name())
    }
}

/// The header named a token the simulator does not know (GitHub: 401 `Bad credentials`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bad credentials")]
pub struct BadCredentials;

/// Accepts `token X` and `Bearer X` (scheme case-insensitive); no header means anonymous.
pub fn resolve(headers: &HeaderMap, tokens: &[TokenSpec]) -> Result<Caller, BadCredentials> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(Caller::anonymous());
    };
    let value = value.to_str().map_err(|_| BadCredentials)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(BadCredentials)?;
    if !scheme.eq_ignore_ascii_case("token") && !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BadCredentials);
    }
    let token = token.trim();
    tokens
        .iter()
        .find(|t| t.token == token)
        .map(|t| Caller {
            login: Some(t.login.clone()),
            access: t.access.clone(),
        })
        .ok_or(BadCredentials)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{TOKEN_ALICE, TOKEN_BOB, default_tokens};

    fn with_auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn both_schemes_resolve() {
        let tokens = default_tokens();
        let a = resolve(&with_auth(&format!("token {TOKEN_ALICE}")), &tokens).unwrap();
        assert_eq!(a.login.as_deref(), Some("alice"));
        let b = resolve(&with_auth(&format!("Bearer {TOKEN_BOB}")), &tokens).unwrap();
        assert_eq!(b.login.as_deref(), Some("bob"));
        assert!(resolve(&HeaderMap::new(), &tokens).unwrap().login.is_none());
        assert_eq!(
            resolve(&with_auth("token ghp_nope"), &tokens).unwrap_err(),
            BadCredentials
        );
        assert_eq!(resolve(&with_auth("Basic abc"), &tokens).unwrap_err(), BadCredentials);
    }
}
