//! The one error type of the cache client, and the redaction every server-supplied text goes
//! through before it lands in an error or a log line.
//!
//! The cache service is an internal API that may change or fail at any time, so every failure is
//! a value the caller turns into a warning. Two secrets pass through this module's inputs: the
//! runtime token (a bearer credential for the whole job) and the `sig` parameter of the signed
//! blob URLs (a SAS signature). Neither may appear in a message.

use std::path::PathBuf;
use std::time::Duration;

/// Why a cache operation failed. Messages are lower-case and carry no secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// `ACTIONS_RESULTS_URL` or the runtime token is unusable.
    #[error("actions cache is not configured correctly: {0}")]
    Config(String),
    /// A key the service would refuse (the toolkit's rules: at most 512 characters, no commas, at
    /// most 10 keys in one lookup).
    #[error("invalid cache key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    /// The service answered 401: the runtime token expired or is not valid for the cache.
    #[error("actions cache {method} was refused with http 401: the runtime token was not accepted ({msg})")]
    Unauthorized { method: &'static str, msg: String },
    /// The service answered 429. Not retried, like the toolkit: a rate limit that resets in
    /// minutes is not worth holding a job step for.
    #[error("actions cache {method} is rate limited (http 429){}", retry_hint(.retry_after))]
    RateLimited {
        method: &'static str,
        retry_after: Option<Duration>,
    },
    /// The repository's cache storage is full ("insufficient usage" in the service's message).
    #[error("actions cache storage quota is exhausted, nothing new can be saved: {msg}")]
    QuotaExceeded { msg: String },
    /// Any other Twirp error, after the retries for 5xx ran out.
    #[error("actions cache {method} failed with http {status} ({code}): {msg}")]
    Service {
        method: &'static str,
        status: u16,
        code: String,
        msg: String,
    },
    /// A 200 answer with `ok: false` and a message, e.g. a read-only token (pull requests from
    /// forks) asking to create an entry, or a finalize the service refused.
    #[error("actions cache {method} was declined: {msg}")]
    Declined { method: &'static str, msg: String },
    /// A 2xx answer we could not make sense of.
    #[error("actions cache {method} sent an unexpected answer: {detail}")]
    InvalidResponse { method: &'static str, detail: String },
    /// The blob store answered with an error status (its code is Azure's, e.g. `AuthenticationFailed`).
    #[error("blob {op} of {url} failed with http {status}{}", code_suffix(.code))]
    Blob {
        op: &'static str,
        url: String,
        status: u16,
        code: String,
    },
    /// No answer (or no progress) within the configured bound.
    #[error("actions cache {op} timed out after {}", human(*.after))]
    Timeout { op: String, after: Duration },
    /// Connecting or talking to the server failed.
    #[error("actions cache {op} could not reach the server: {detail}")]
    Transport { op: String, detail: String },
    /// The blob is larger than we accept (10 GiB, the service's own per-repository limit).
    #[error("{what} of {size} bytes is over the {limit} byte limit")]
    TooLarge { what: &'static str, size: u64, limit: u64 },
    /// The download ended before the announced length.
    #[error("incomplete download: expected {expected} bytes, received {received}")]
    Truncated { expected: u64, received: u64 },
    /// A local file could not be read or written.
    #[error("{action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CacheError {
    /// True when retrying the whole operation later might succeed (the service or network was
    /// unwell), false when it would fail the same way (configuration, keys, quota, credentials).
    pub fn is_transient(&self) -> bool {
        match self {
            CacheError::Service { status, .. } | CacheError::Blob { status, .. } => *status >= 500,
            CacheError::RateLimited { .. }
            | CacheError::Timeout { .. }
            | CacheError::Transport { .. }
            | CacheError::Truncated { .. } => true,
            _ => false,
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CacheError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

fn retry_hint(after: &Option<Duration>) -> String {
    match after {
        Some(d) => format!(", retry after {}", human(*d)),
        None => String::new(),
    }
}

fn code_suffix(code: &str) -> String {
    if code.is_empty() {
        String::new()
    } else {
        format!(" ({code})")
    }
}

fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Scrubs secrets out of text that came from a server or from an error chain: every `sig=` query
/// value, and the runtime token wherever it occurs. Also bounds the length, since a misbehaving
/// server can answer with anything.
#[derive(Clone)]
pub(crate) struct Redactor {
    token: String,
}

const MAX_TEXT: usize = 300;

impl Redactor {
    pub(crate) fn new(token: &str) -> Self {
        Redactor {
            token: token.to_owned(),
        }
    }

    pub(crate) fn clean(&self, text: &str) -> String {
        let mut out = redact_sig(text);
        if !self.token.is_empty() && out.contains(&self.token) {
            out = out.replace(&self.token, "[token]");
        }
        let out = out.trim();
        if out.len() > MAX_TEXT {
            let mut end = MAX_TEXT;
            while !out.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…", &out[..end])
        } else {
            out.to_owned()
        }
    }
}

/// Replaces the value of every `sig=` parameter (case-insensitive) with `[redacted]`.
pub(crate) fn redact_sig(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find("sig=") {
        let start = search + found;
        // Only a parameter name: at the start, or after `?`, `&`, or a non-alphanumeric character
        // (so `xsig=` stays, but `?sig=` and ` sig=` are scrubbed).
        let is_param = start == 0 || !lower.as_bytes()[start - 1].is_ascii_alphanumeric();
        let value_start = start + "sig=".len();
        if is_param {
            let value_end = text[value_start..]
                .find(|c: char| c == '&' || c == '#' || c == '"' || c == '\'' || c == '<' || c.is_whitespace())
                .map_or(text.len(), |i| value_start + i);
            out.push_str(&text[last..value_start]);
            out.push_str("[redacted]");
            last = value_end;
            search = value_end;
        } else {
            search = value_start;
        }
    }
    out.push_str(&text[last..]);
    out
}

/// A URL as it may be logged: scheme, host and path, with the query string (where a SAS URL keeps
/// its signature) cut off.
pub(crate) fn display_url(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("?");
    let authority = uri.authority().map_or("", |a| a.as_str());
    let tail = if uri.query().is_some() { "?…" } else { "" };
    format!("{scheme}://{authority}{}{tail}", uri.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig_values_are_redacted_wherever_they_appear() {
        assert_eq!(
            redact_sig("https://a.blob.core.windows.net/c/b?sv=1&sig=abc%2Bdef&se=2"),
            "https://a.blob.core.windows.net/c/b?sv=1&sig=[redacted]&se=2"
        );
        assert_eq!(
            redact_sig("SIG=xyz and sig=\"q\""),
            "SIG=[redacted] and sig=[redacted]\"q\""
        );
        assert_eq!(redact_sig("no secret, xsig=keep"), "no secret, xsig=keep");
        assert_eq!(redact_sig("ends with sig="), "ends with sig=[redacted]");
    }

    #[test]
    fn the_token_and_long_text_are_scrubbed() {
        let r = Redactor::new("tok123");
        assert_eq!(r.clean("bad token tok123 here"), "bad token [token] here");
        let long = "é".repeat(400);
        assert!(r.clean(&long).chars().count() <= MAX_TEXT / 2 + 1);
    }

    #[test]
    fn urls_are_displayed_without_their_query() {
        let uri: http::Uri = "https://acct.blob.core.windows.net/c/blob?sv=x&sig=secret"
            .parse()
            .unwrap();
        assert_eq!(display_url(&uri), "https://acct.blob.core.windows.net/c/blob?…");
    }
}
