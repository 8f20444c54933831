//! Proxy settings and the parsed upstream base URL.

use crate::governor::GovernorConfig;
use crate::ttl::TtlTable;
use http::Uri;
use std::time::Duration;

/// Whether an entry fetched with one token may go to another without GitHub's confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SharePolicy {
    /// Another token gets an entry only after a free conditional request proves its access.
    #[default]
    Verify,
    /// Fleets where every secret holder has the same access skip the proof.
    Trust,
}

#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub upstream: UpstreamBase,
    /// Freshness lifetimes by operation.
    pub ttl: TtlTable,
    /// Largest request body accepted from a client.
    pub max_request_body: usize,
    /// Total time allowed for one upstream exchange.
    pub upstream_timeout: Duration,
    pub governor: GovernorConfig,
    /// How long past its TTL an entry may still be served when GitHub fails (stale-if-error).
    pub max_stale: Duration,
    pub policy: SharePolicy,
    /// Keys entries by token as well (each token its own cache, revalidating with its own
    /// ETags): the model of per-token caching proxies, kept for the workload benchmark's
    /// side-by-side comparison. Not offered on the command line.
    pub partition_by_token: bool,
    /// GraphQL answers keep REST indicators for free revalidation (see `indicators`). Off, a
    /// GraphQL answer lives exactly its TTL: the model of a plain TTL cache in the benchmark.
    pub graphql_indicators: bool,
    /// How long a miss waits for peers before going to GitHub (only with peers attached).
    pub peer_deadline: Duration,
}

impl ProxyConfig {
    pub fn new(upstream: UpstreamBase) -> Self {
        ProxyConfig {
            upstream,
            ttl: TtlTable::new(Duration::from_secs(300)),
            max_request_body: 10 * 1024 * 1024,
            upstream_timeout: Duration::from_secs(30),
            governor: GovernorConfig::default(),
            max_stale: Duration::from_secs(24 * 3600),
            policy: SharePolicy::Verify,
            partition_by_token: false,
            graphql_indicators: true,
            peer_deadline: Duration::from_millis(150),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("upstream {0:?} is not a URL like https://api.github.com or https://ghe.example/api/v3")]
    BadUpstream(String),
}

/// `https://api.github.com`, `https://ghe.example/api/v3`, or a test server with a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamBase {
    scheme: String,
    authority: String,
    /// Path prefix without a trailing slash (`""` or `/api/v3`).
    prefix: String,
    /// `scheme://authority/prefix`, kept because every response compares against it.
    base: String,
}

impl UpstreamBase {
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let bad = || ConfigError::BadUpstream(url.to_owned());
        let uri: Uri = url.trim().parse().map_err(|_| bad())?;
        let scheme = uri
            .scheme_str()
            .filter(|s| *s == "http" || *s == "https")
            .ok_or_else(bad)?;
        let authority = uri.authority().ok_or_else(bad)?.as_str();
        if authority.contains('@') || uri.query().is_some() {
            return Err(bad());
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        let base = format!("{scheme}://{authority}{prefix}");
        Ok(UpstreamBase {
            scheme: scheme.to_owned(),
            authority: authority.to_owned(),
            prefix,
            base,
        })
    }

    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The base as it appears in URLs GitHub puts in bodies and `Link` headers.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Upstream URI for a normalized request path (`/repos/...` or `/graphql`).
    pub fn uri_for(&self, path: &str, query: Option<&str>) -> String {
        let path = if path == "/graphql" {
            self.graphql_path()
        } else {
            format!("{}{}", self.prefix, path)
        };
        match query {
            Some(q) if !q.is_empty() => format!("{}://{}{}?{}", self.scheme, self.authority, path, q),
            _ => format!("{}://{}{}", self.scheme, self.authority, path),
        }
    }

    /// GitHub Enterprise Server serves GraphQL at `/api/graphql` beside `/api/v3`.
    fn graphql_path(&self) -> String {
        match self.prefix.strip_suffix("/v3") {
            Some(api) if api.ends_with("/api") => format!("{api}/graphql"),
            _ => format!("{}/graphql", self.prefix),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_dot_com() {
        let u = UpstreamBase::parse("https://api.github.com").unwrap();
        assert_eq!(
            u.uri_for("/repos/o/r", Some("a=1")),
            "https://api.github.com/repos/o/r?a=1"
        );
        assert_eq!(u.uri_for("/graphql", None), "https://api.github.com/graphql");
        assert_eq!(u.base_url(), "https://api.github.com");
    }

    #[test]
    fn enterprise_server_prefix() {
        let u = UpstreamBase::parse("https://ghe.example/api/v3/").unwrap();
        assert_eq!(u.uri_for("/user", None), "https://ghe.example/api/v3/user");
        assert_eq!(u.uri_for("/graphql", None), "https://ghe.example/api/graphql");
    }

    #[test]
    fn test_server_prefix() {
        let u = UpstreamBase::parse("http://127.0.0.1:9/prefix").unwrap();
        assert_eq!(u.uri_for("/graphql", None), "http://127.0.0.1:9/prefix/graphql");
    }

    #[test]
    fn hostile_upstreams_are_rejected() {
        for bad in [
            "",
            "api.github.com",
            "ftp://x",
            "https://user:pw@x",
            "http://x/?q=1",
            "http://",
            "\u{0}",
        ] {
            assert!(UpstreamBase::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
