//! What kind of request is this? Path normalization, the cache key, the invalidation tags and
//! TTL of a read, or the tags a write invalidates.

use crate::graphql::{self, GraphqlOp};
use crate::ttl::{TtlTable, operation_of, parse_go_duration};
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
pub struct ReadSpec {
    pub key: CacheKey,
    pub tags: Vec<String>,
    pub ttl: Duration,
    pub graphql: Option<GraphqlRead>,
    /// Ask GitHub even when a fresh entry exists (indicator checks need GitHub's word now).
    pub force_revalidate: bool,
}

/// What a GraphQL read may be shared on.
#[derive(Debug, Clone)]
pub struct GraphqlRead {
    /// `owner/repo` when the query reads only that repository (shareable after a proof).
    pub shareable_repo: Option<String>,
    /// The repository's REST indicators vouch for the answer (free revalidation).
    pub indicators_cover: bool,
}

#[derive(Debug)]
pub enum Class {
    /// A cacheable read.
    Read(ReadSpec),
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
    ttls: &TtlTable,
) -> Class {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // gh's `--cache DURATION` is an explicit request for that lifetime.
    let hinted = header("x-gh-cache-ttl").and_then(parse_go_duration);
    if path == "/graphql" && method == Method::POST {
        return match graphql::analyze(body) {
            GraphqlOp::Query {
                repo,
                shareable,
                indicators_cover,
            } => {
                let mut tags = vec![TAG_GRAPHQL.to_owned()];
                tags.extend(repo.clone());
                Class::Read(ReadSpec {
                    key: CacheKey::new(&KeyParts {
                        method: "POST",
                        path,
                        query: None,
                        accept: header("accept"),
                        api_version: header("x-github-api-version"),
                        graphql_body: Some(body),
                    }),
                    tags,
                    ttl: hinted.unwrap_or_else(|| ttls.ttl("graphql")),
                    graphql: Some(GraphqlRead {
                        shareable_repo: repo.filter(|_| shareable),
                        indicators_cover,
                    }),
                    force_revalidate: no_cache(headers),
                })
            }
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
        let ttl = hinted.unwrap_or_else(|| ttls.ttl(operation_of(path)));
        return Class::Read(ReadSpec {
            key,
            tags: read_tags(path),
            ttl,
            graphql: None,
            force_revalidate: no_cache(headers),
        });
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

fn read_tags(path: &str) -> Vec<String> {
    if path.starts_with("/search/") {
        return vec![TAG_SEARCH.to_owned()];
    }
    repo_of(path).into_iter().collect()
}

/// `Cache-Control: no-cache` (or `max-age=0`, or the old `Pragma: no-cache`): the client wants
/// GitHub's word now. The read still goes through the cache: a conditional request (a free 304
/// when nothing changed) that renews the entry.
fn no_cache(headers: &HeaderMap) -> bool {
    let directives = |name| {
        headers
            .get_all(name)
            .into_iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|d| d.trim().to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    directives(http::header::CACHE_CONTROL)
        .iter()
        .any(|d| d == "no-cache" || d == "max-age=0")
        || directives(http::header::PRAGMA).iter().any(|d| d == "no-cache")
}

/// Endpoints whose answers carry credentials or are one-shot; never stored.
fn never_cached(path: &str) -> bool {
    path.starts_with("/authorizations")
        || path.starts_with("/applications/")
        || (path.starts_with("/app/installations/") && path.ends_with("/access_tokens"))
        || path == "/rate_limit"
        || path.starts_with("/_")
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
            &TtlTable::new(Duration::from_secs(300)),
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
        assert!(matches!(class(Method::GET, "/repos/O/R/issues", ""), Class::Read(r) if r.tags == ["o/r"]));
        assert!(matches!(class(Method::GET, "/search/issues", ""), Class::Read(r) if r.tags == ["search"]));
        assert!(matches!(class(Method::GET, "/rate_limit", ""), Class::Bypass));
        assert!(matches!(class(Method::POST, "/repos/o/r/issues", "{}"), Class::Write { tags } if tags[0] == "o/r"));
        assert!(matches!(class(Method::DELETE, "/user/keys/1", ""), Class::Write { tags } if tags == ["*"]));
    }

    #[test]
    fn gh_cache_ttl_hint_sets_the_lifetime() {
        let mut h = HeaderMap::new();
        h.insert("x-gh-cache-ttl", "1h0m0s".parse().unwrap());
        let c = classify(
            &Method::GET,
            "/repos/o/r/issues",
            None,
            &h,
            b"",
            &TtlTable::new(Duration::from_secs(300)),
        );
        assert!(matches!(c, Class::Read(r) if r.ttl == Duration::from_secs(3600)));
    }

    #[test]
    fn no_cache_forces_revalidation() {
        let read = |name: &str, value: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
            let ttls = TtlTable::new(Duration::from_secs(300));
            match classify(&Method::GET, "/repos/o/r/issues", None, &h, b"", &ttls) {
                Class::Read(r) => r.force_revalidate,
                other => panic!("{other:?}"),
            }
        };
        assert!(read("cache-control", "no-cache"));
        assert!(read("cache-control", "private, No-Cache"));
        assert!(read("cache-control", "max-age=0"));
        assert!(read("pragma", "no-cache"));
        assert!(!read("cache-control", "max-age=60"));
        assert!(!read("cache-control", "no-store-ish"));
        assert!(matches!(class(Method::GET, "/repos/o/r", ""), Class::Read(r) if !r.force_revalidate));
    }

    #[test]
    fn graphql_queries_are_reads_tagged_with_their_repository() {
        let q = r#"{"query":"query IssueList($owner:String!,$repo:String!){ repository(owner:$owner,name:$repo){ issues(first:5){ nodes { number } } } }","variables":{"owner":"O","repo":"R"}}"#;
        match class(Method::POST, "/graphql", q) {
            Class::Read(r) => {
                assert_eq!(r.tags, ["graphql", "o/r"]);
                assert_eq!(r.graphql.unwrap().shareable_repo.as_deref(), Some("o/r"));
            }
            other => panic!("{other:?}"),
        }
        let m = r#"{"query":"mutation IssueCreate($input: CreateIssueInput!){ createIssue(input:$input){ issue { url } } }"}"#;
        assert!(matches!(class(Method::POST, "/graphql", m), Class::Write { .. }));
        assert!(matches!(class(Method::POST, "/graphql", "not json"), Class::Bypass));
    }
}
