//! In TCP base-URL mode, upstream URLs in `Link` headers and JSON bodies are rewritten to the
//! proxy's own base so paginating clients (PyGithub, octokit) stay on the proxy. Only on the
//! way out: stored bodies stay exactly as GitHub sent them.

use bytes::Bytes;
use memchr::memmem;

/// Replaces every occurrence of `from` with `to`; returns the input untouched when absent.
pub fn replace_all(input: &Bytes, from: &str, to: &str) -> Bytes {
    let finder = memmem::Finder::new(from.as_bytes());
    let mut iter = finder.find_iter(input).peekable();
    if iter.peek().is_none() {
        return input.clone();
    }
    let mut out = Vec::with_capacity(input.len() + 64);
    let mut last = 0;
    for pos in iter {
        out.extend_from_slice(&input[last..pos]);
        out.extend_from_slice(to.as_bytes());
        last = pos + from.len();
    }
    out.extend_from_slice(&input[last..]);
    Bytes::from(out)
}

/// JSON bodies escape `/` optionally; GitHub does not, but match the escaped form too.
pub fn rewrite_body(body: &Bytes, upstream_base: &str, proxy_base: &str) -> Bytes {
    let once = replace_all(body, upstream_base, proxy_base);
    let escaped_from = upstream_base.replace('/', "\\/");
    let escaped_to = proxy_base.replace('/', "\\/");
    replace_all(&once, &escaped_from, &escaped_to)
}

/// Rewritten bodies of stored versions, so a TCP hit does not redo the rewrite. Keyed by cache
/// key, fetch time and proxy base: a refreshed entry has a new fetch time and misses here.
pub struct RewriteMemo {
    bodies: moka::sync::Cache<(String, u64, String), Bytes>,
}

impl RewriteMemo {
    pub fn new(max_bytes: u64) -> Self {
        let bodies = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|k: &(String, u64, String), v: &Bytes| u32::try_from(k.0.len() + v.len() + 64).unwrap_or(u32::MAX))
            .build();
        RewriteMemo { bodies }
    }

    pub fn get_or_rewrite(&self, key: String, at: u64, base: &str, body: &Bytes, upstream_base: &str) -> Bytes {
        self.bodies
            .get_with((key, at, base.to_owned()), || rewrite_body(body, upstream_base, base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_every_occurrence_and_leaves_others() {
        let b = Bytes::from_static(br#"{"url":"https://api.github.com/repos/o/r","html_url":"https://github.com/o/r","x":"https://api.github.com/u"}"#);
        let out = rewrite_body(&b, "https://api.github.com", "http://127.0.0.1:8080");
        assert_eq!(
            out,
            r#"{"url":"http://127.0.0.1:8080/repos/o/r","html_url":"https://github.com/o/r","x":"http://127.0.0.1:8080/u"}"#
        );
    }

    #[test]
    fn memo_reuses_per_version_and_base() {
        let memo = RewriteMemo::new(1 << 20);
        let body = Bytes::from_static(b"https://api.github.com/x");
        let a = memo.get_or_rewrite("k".into(), 1, "http://h:1", &body, "https://api.github.com");
        assert_eq!(a, "http://h:1/x");
        let changed = Bytes::from_static(b"https://api.github.com/y");
        assert_eq!(
            memo.get_or_rewrite("k".into(), 1, "http://h:1", &changed, "https://api.github.com"),
            a,
            "same version"
        );
        assert_eq!(
            memo.get_or_rewrite("k".into(), 2, "http://h:1", &changed, "https://api.github.com"),
            "http://h:1/y"
        );
        assert_eq!(
            memo.get_or_rewrite("k".into(), 2, "http://h:2", &changed, "https://api.github.com"),
            "http://h:2/y"
        );
    }

    #[test]
    fn escaped_slashes_and_absent_bases() {
        let b = Bytes::from_static(br#"{"url":"https:\/\/api.github.com\/x"}"#);
        assert_eq!(
            rewrite_body(&b, "https://api.github.com", "http://h:1"),
            r#"{"url":"http:\/\/h:1\/x"}"#
        );
        let plain = Bytes::from_static(b"nothing here");
        assert_eq!(rewrite_body(&plain, "https://api.github.com", "http://h:1"), plain);
    }
}
