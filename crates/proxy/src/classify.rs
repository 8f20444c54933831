//! What kind of request is this? Path normalization, the cache key, the invalidation tag and
//! the TTL of a read, or the tags a write invalidates.

use crate::ttl::ttl_for;
use entry::{CacheKey, KeyParts};
use http::{HeaderMap, Method};
use std::time::Duration;

/// Tag shared by every GraphQL entry.
pub const TAG_GRAPHQL: &str = "graphql";
/// Tag shared by every search entry.
pub const TAG_SEARCH: &str = "search";
/// Pseudo-tag that invalidates everything.
pub const TAG_ALL: &str = "*";

#[derive(Debug)]
pub enum Class {
    /// A cacheable read.
    Read {
        key: CacheKey,
        tag: Option<String>,
        ttl: Duration,
        graphql: bool,
    },
    /// A write: passed through; on success it invalidates `tags`.
    Write { tags: Vec<String> },
    /// Passed through untouched (never cached, invalidates nothing).
    Bypass,
}

/// Strips an Enterprise-style prefix so `/api/v3/x` and `/x` (and `/api/graphql`, `/graphql`)
/// are the same request whatever the client's base URL.
pub fn normalize_path(path: &str) -> &str {
    if path == "/api/graphql" {
        return "/graphql";
    }
    match path.strip_prefix("/api/v3") {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}

pub fn classify(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    default_ttl: Duration,
) -> Class {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if path == "/graphql" && method == Method::POST {
        return match graphql_operation(body) {
            GraphqlOp::Query => Class::Read {
                key: CacheKey::new(&KeyParts {
                    method: "POST",
                    path,
                    query: None,
                    accept: header("accept"),
                    api_version: header("x-github-api-version"),
                    graphql_body: Some(body),
                }),
                tag: Some(TAG_GRAPHQL.to_owned()),
                ttl: default_ttl,
                graphql: true,
            },
            // A mutation may change anything GraphQL or REST can see.
            GraphqlOp::Mutation => Class::Write {
                tags: vec![TAG_ALL.to_owned()],
            },
            GraphqlOp::Other => Class::Bypass,
        };
    }
    if method == Method::GET || method == Method::HEAD {
        if never_cached(path) {
            return Class::Bypass;
        }
        let key = CacheKey::new(&KeyParts {
            method: "GET",
            path,
            query,
            accept: header("accept"),
            api_version: header("x-github-api-version"),
            graphql_body: None,
        });
        return Class::Read {
            key,
            tag: read_tag(path),
            ttl: ttl_for(path, default_ttl),
            graphql: false,
        };
    }
    if method == Method::OPTIONS {
        return Class::Bypass;
    }
    // POST / PATCH / PUT / DELETE: what they can change.
    let tags = match repo_of(path) {
        Some(repo) => vec![repo, TAG_SEARCH.to_owned(), TAG_GRAPHQL.to_owned()],
        None => vec![TAG_ALL.to_owned()],
    };
    Class::Write { tags }
}

/// `owner/repo` (lower-cased: GitHub names are case-insensitive) for `/repos/{owner}/{repo}...`.
pub fn repo_of(path: &str) -> Option<String> {
    let mut segs = path.trim_start_matches('/').split('/');
    match (segs.next(), segs.next(), segs.next()) {
        (Some("repos"), Some(o), Some(r)) if !o.is_empty() && !r.is_empty() => {
            Some(format!("{}/{}", o.to_ascii_lowercase(), r.to_ascii_lowercase()))
        }
        _ => None,
    }
}

fn read_tag(path: &str) -> Option<String> {
    if path.starts_with("/search/") {
        return Some(TAG_SEARCH.to_owned());
    }
    repo_of(path)
}

/// Endpoints whose answers carry credentials or are one-shot; never stored.
fn never_cached(path: &str) -> bool {
    path.starts_with("/authorizations")
        || path.starts_with("/applications/")
        || (path.starts_with("/app/installations/") && path.ends_with("/access_tokens"))
        || path == "/rate_limit"
        || path.starts_with("/_")
}

#[derive(Debug, PartialEq, Eq)]
enum GraphqlOp {
    Query,
    Mutation,
    Other,
}

/// Decides conservatively: anything that might be a mutation is treated as one.
fn graphql_operation(body: &[u8]) -> GraphqlOp {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return GraphqlOp::Other;
    };
    let Some(query) = v.get("query").and_then(|q| q.as_str()) else {
        return GraphqlOp::Other;
    };
    let words = || {
        query
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
    };
    if words().any(|w| w == "mutation") {
        GraphqlOp::Mutation
    } else if words().any(|w| w == "subscription") {
        GraphqlOp::Other
    } else {
        GraphqlOp::Query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(method: Method, path: &str, body: &str) -> Class {
        classify(
            &method,
            path,
            None,
            &HeaderMap::new(),
            body.as_bytes(),
            Duration::from_secs(300),
        )
    }

    #[test]
    fn prefixes_are_stripped() {
        assert_eq!(normalize_path("/api/v3/repos/o/r"), "/repos/o/r");
        assert_eq!(normalize_path("/api/graphql"), "/graphql");
        assert_eq!(normalize_path("/api/v3"), "/");
        assert_eq!(normalize_path("/api/v3x"), "/api/v3x");
        assert_eq!(normalize_path("/repos/o/r"), "/repos/o/r");
    }

    #[test]
    fn reads_writes_and_bypasses() {
        assert!(matches!(class(Method::GET, "/repos/O/R/issues", ""), Class::Read { tag: Some(t), .. } if t == "o/r"));
        assert!(matches!(class(Method::GET, "/search/issues", ""), Class::Read { tag: Some(t), .. } if t == "search"));
        assert!(matches!(class(Method::GET, "/rate_limit", ""), Class::Bypass));
        assert!(matches!(class(Method::POST, "/repos/o/r/issues", "{}"), Class::Write { tags } if tags[0] == "o/r"));
        assert!(matches!(class(Method::DELETE, "/user/keys/1", ""), Class::Write { tags } if tags == ["*"]));
    }

    #[test]
    fn graphql_queries_are_reads_and_mutations_are_writes() {
        let q = r#"{"query":"query IssueList($owner:String!){ repository(owner:$owner){ id } }","variables":{"owner":"o"}}"#;
        assert!(matches!(
            class(Method::POST, "/graphql", q),
            Class::Read { graphql: true, .. }
        ));
        assert!(matches!(
            class(Method::POST, "/graphql", r#"{"query":"{ viewer { login } }"}"#),
            Class::Read { .. }
        ));
        let m = r#"{"query":"mutation IssueCreate($input: CreateIssueInput!){ createIssue(input:$input){ issue { url } } }"}"#;
        assert!(matches!(class(Method::POST, "/graphql", m), Class::Write { .. }));
        assert!(matches!(class(Method::POST, "/graphql", "not json"), Class::Bypass));
        assert!(matches!(
            class(Method::POST, "/graphql", r#"{"query":42}"#),
            Class::Bypass
        ));
    }
}
