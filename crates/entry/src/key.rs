//! The cache key: what makes two requests "the same request" for caching purposes.
//!
//! Method, normalized path, sorted query, `Accept`, the API version header and, for GraphQL, a
//! hash of the query and variables. The `Authorization` header is deliberately absent: entries
//! are shared across tokens and tagged with a token fingerprint instead.

use sha2::{Digest, Sha256};
use std::fmt;

/// The parts of a request that identify a cacheable read.
#[derive(Debug, Clone, Default)]
pub struct KeyParts<'a> {
    pub method: &'a str,
    /// Path without any API prefix (`/repos/o/r/issues`, `/graphql`).
    pub path: &'a str,
    /// Raw query string without the `?`; it is sorted here.
    pub query: Option<&'a str>,
    pub accept: Option<&'a str>,
    pub api_version: Option<&'a str>,
    /// For GraphQL: the request body, hashed after normalization.
    pub graphql_body: Option<&'a [u8]>,
}

/// A cache key in a readable, stable textual form (it is also the disk key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(String);

impl CacheKey {
    pub fn new(parts: &KeyParts<'_>) -> Self {
        let mut s = String::with_capacity(parts.path.len() + 64);
        s.push_str(&parts.method.to_ascii_uppercase());
        s.push(' ');
        s.push_str(parts.path);
        if let Some(q) = parts.query.filter(|q| !q.is_empty()) {
            let mut pairs: Vec<&str> = q.split('&').filter(|p| !p.is_empty()).collect();
            pairs.sort_unstable();
            if !pairs.is_empty() {
                s.push('?');
                s.push_str(&pairs.join("&"));
            }
        }
        // An empty Accept (gh api sends one) and a missing one mean the same to GitHub.
        let accept = parts.accept.map(str::trim).filter(|a| !a.is_empty());
        s.push_str(" accept=");
        s.push_str(accept.unwrap_or("*/*"));
        if let Some(v) = parts.api_version.map(str::trim).filter(|v| !v.is_empty()) {
            s.push_str(" v=");
            s.push_str(v);
        }
        if let Some(body) = parts.graphql_body {
            s.push_str(" gql=");
            s.push_str(&graphql_hash(body));
        }
        CacheKey(s)
    }

    /// The same key in a cache partitioned by token (`tok=` and a fingerprint).
    pub fn partitioned(&self, fingerprint: &[u8]) -> Self {
        CacheKey(format!("{} tok={}", self.0, hex::encode(fingerprint)))
    }

    /// Wraps a key read back from storage.
    pub fn from_stored(s: String) -> Self {
        CacheKey(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Hash of a GraphQL request body. A body that parses as JSON is re-serialized (object keys
/// sorted by serde_json's map) and the query's whitespace collapsed, so formatting differences
/// between clients do not split the cache.
fn graphql_hash(body: &[u8]) -> String {
    let normalized = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut v) => {
            if let Some(q) = v.get_mut("query")
                && let Some(text) = q.as_str()
            {
                *q = serde_json::Value::String(text.split_whitespace().collect::<Vec<_>>().join(" "));
            }
            serde_json::to_vec(&v).unwrap_or_else(|_| body.to_vec())
        }
        Err(_) => body.to_vec(),
    };
    hex::encode(&Sha256::digest(&normalized)[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str, query: Option<&str>, accept: Option<&str>) -> CacheKey {
        CacheKey::new(&KeyParts {
            method: "get",
            path,
            query,
            accept,
            ..Default::default()
        })
    }

    #[test]
    fn query_order_does_not_matter() {
        assert_eq!(
            key("/repos/o/r/issues", Some("state=open&per_page=5"), None),
            key("/repos/o/r/issues", Some("per_page=5&state=open"), None)
        );
    }

    #[test]
    fn accept_separates_entries_and_empty_accept_is_default() {
        assert_ne!(
            key("/x", None, Some("application/vnd.github.raw")),
            key("/x", None, None)
        );
        assert_eq!(key("/x", None, Some("")), key("/x", None, None));
        assert_eq!(key("/x", None, None).as_str(), "GET /x accept=*/*");
    }

    #[test]
    fn graphql_whitespace_and_key_order_are_normalized() {
        let a = br#"{"query":"query  Q {\n viewer { login } }","variables":{"a":1,"b":2}}"#;
        let b = br#"{"variables":{"b":2,"a":1},"query":"query Q { viewer { login } }"}"#;
        let c = br#"{"variables":{"b":3,"a":1},"query":"query Q { viewer { login } }"}"#;
        let k = |body: &[u8]| {
            CacheKey::new(&KeyParts {
                method: "POST",
                path: "/graphql",
                graphql_body: Some(body),
                ..Default::default()
            })
        };
        assert_eq!(k(a), k(b));
        assert_ne!(k(a), k(c));
    }

    #[test]
    fn api_version_is_part_of_the_key() {
        let with = CacheKey::new(&KeyParts {
            method: "GET",
            path: "/x",
            api_version: Some("2022-11-28"),
            ..Default::default()
        });
        assert_ne!(with, key("/x", None, None));
    }
}
