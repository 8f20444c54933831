//! The shareable entry: what goes inside an envelope, how two versions of one cache key are told
//! apart (the validation hash) and which of them wins (upstream `Date`, then fetch time).

use sha2::{Digest, Sha256};
use std::cmp::Ordering;
use std::time::SystemTime;

use crate::{CacheKey, Fingerprint, StoredResponse};

/// One cache entry as it travels between runners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedEntry {
    /// The cache key's text (`CacheKey::as_str`).
    pub key: String,
    /// The response. Its `token_fp` means nothing on another machine: it never leaves (sealing
    /// writes zero) and is [`Fingerprint::PEER`] in every entry made by [`SharedEntry::new`] or
    /// `open`, so a received entry cannot pass for one this machine's tokens fetched.
    pub response: StoredResponse,
    /// [`validation_hash`] of `response`, computed by the sender.
    pub validation: [u8; 32],
}

impl SharedEntry {
    /// Prepares a stored entry for sharing: computes its validation hash and replaces the token
    /// fingerprint with [`Fingerprint::PEER`]. Scrub the body and headers first (see `Scrubber`) if they may carry secrets.
    pub fn new(key: &CacheKey, mut response: StoredResponse) -> SharedEntry {
        response.token_fp = Fingerprint::PEER;
        let validation = validation_hash(&response);
        SharedEntry {
            key: key.as_str().to_owned(),
            response,
            validation,
        }
    }
}

/// Fields whose value changes whenever GitHub's object changes (`updated_at`, commit `sha`s).
const VERSION_FIELDS: &[&[&str]] = &[
    &["sha"],
    &["updated_at"],
    &["pushed_at"],
    &["commit", "sha"],
    &["head", "sha"],
    &["object", "sha"],
];
/// Fields that say *which* object it is, hashed alongside so a list that swaps one item for
/// another with the same timestamp still differs.
const IDENTITY_FIELDS: &[&[&str]] = &[&["id"], &["node_id"]];

/// A hash that is equal for two responses showing the same version of one resource.
///
/// When the body is a JSON object, or an array of objects, and every object carries a version
/// field (`sha`, `updated_at`, `pushed_at`, `commit.sha`, `head.sha`, `object.sha`), the hash
/// covers those fields (with identities, positions and the list length): answers to two tokens
/// that differ only in per-viewer details (a repository's `permissions`) then agree. Otherwise it
/// covers the whole body. The status is always included. docs/FORMAT.md gives the exact bytes.
///
/// GitHub's ETag is deliberately left out: it is keyed by the requesting token (FACTS.md), so the
/// same version fetched by two tokens would look like two versions; it adds nothing over the body
/// it is computed from.
pub fn validation_hash(response: &StoredResponse) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"gh-p2p-cache validation v1\0");
    h.update(response.status.to_be_bytes());
    match version_fields(&response.body) {
        Some(fields) => {
            h.update(b"fields\0");
            for (path, value) in fields {
                // Paths hold no NUL and JSON text escapes it, so NUL separates unambiguously.
                h.update(path.as_bytes());
                h.update([0]);
                h.update(value.as_bytes());
                h.update([0]);
            }
        }
        None => {
            h.update(b"body\0");
            h.update(Sha256::digest(&response.body));
        }
    }
    h.finalize().into()
}

/// `(path, JSON text)` of every version and identity field, or `None` when some object in the
/// answer has no version field (or the body is not such JSON) and only the whole body will do.
fn version_fields(body: &[u8]) -> Option<Vec<(String, String)>> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' && *first != b'[' {
        return None; // Not JSON of interest; skip the parse.
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut out = Vec::new();
    match &value {
        serde_json::Value::Object(_) => object_fields("", &value, &mut out)?,
        serde_json::Value::Array(items) => {
            out.push(("len".to_owned(), items.len().to_string()));
            for (i, item) in items.iter().enumerate() {
                object_fields(&format!("{i}."), item, &mut out)?;
            }
        }
        _ => return None,
    }
    Some(out)
}

fn object_fields(prefix: &str, object: &serde_json::Value, out: &mut Vec<(String, String)>) -> Option<()> {
    let versions = push_fields(prefix, object, VERSION_FIELDS, out);
    push_fields(prefix, object, IDENTITY_FIELDS, out);
    (versions > 0).then_some(())
}

/// Appends the non-null `fields` of `object`; returns how many there were.
fn push_fields(prefix: &str, object: &serde_json::Value, fields: &[&[&str]], out: &mut Vec<(String, String)>) -> usize {
    let before = out.len();
    for path in fields {
        let found = path.iter().try_fold(object, |v, name| v.get(name));
        if let Some(v) = found.filter(|v| !v.is_null()) {
            out.push((format!("{prefix}{}", path.join(".")), v.to_string()));
        }
    }
    out.len() - before
}

/// Orders two versions of one cache key by recency: `Greater` when `a` is newer. The upstream
/// `Date` header decides (GitHub's clock, the same for every runner); then `fetched_at_ms` (the
/// fetching runner's clock); then the validation hash, so every runner picks the same winner
/// whatever order the versions arrive in. An entry without a readable `Date` is older than one
/// with it.
pub fn cmp_recency(a: &SharedEntry, b: &SharedEntry) -> Ordering {
    upstream_date(&a.response)
        .cmp(&upstream_date(&b.response))
        .then(a.response.fetched_at_ms.cmp(&b.response.fetched_at_ms))
        .then(a.validation.cmp(&b.validation))
}

fn upstream_date(response: &StoredResponse) -> Option<SystemTime> {
    httpdate::parse_http_date(response.header("date")?.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn response(body: &str, date: Option<&str>, fetched_at_ms: u64) -> StoredResponse {
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        if let Some(d) = date {
            headers.push(("Date".to_owned(), d.to_owned()));
        }
        StoredResponse {
            status: 200,
            headers,
            body: Bytes::from(body.to_owned()),
            fetched_at_ms,
            ttl_secs: 60,
            token_fp: Fingerprint([9; 16]),
            etag: Some("W/\"e\"".into()),
            last_modified: None,
            request_accept: None,
            tags: vec![],
            validators: vec![],
        }
    }

    fn hash(body: &str) -> [u8; 32] {
        validation_hash(&response(body, None, 0))
    }

    #[test]
    fn version_fields_decide_when_every_object_has_one() {
        let a = r#"{"id":1,"updated_at":"2024-01-31T12:00:00Z","permissions":{"admin":true}}"#;
        let b = r#"{"id":1,"updated_at":"2024-01-31T12:00:00Z","permissions":{"admin":false}}"#;
        let c = r#"{"id":1,"updated_at":"2024-02-01T00:00:00Z","permissions":{"admin":true}}"#;
        assert_eq!(hash(a), hash(b), "per-viewer details do not make another version");
        assert_ne!(hash(a), hash(c));
        assert_ne!(
            hash(r#"{"commit":{"sha":"abc"},"name":"main"}"#),
            hash(r#"{"commit":{"sha":"abd"},"name":"main"}"#)
        );
    }

    #[test]
    fn lists_compare_items_identities_and_length() {
        let one = r#"[{"id":1,"updated_at":"t1"},{"id":2,"updated_at":"t1"}]"#;
        let swapped = r#"[{"id":1,"updated_at":"t1"},{"id":3,"updated_at":"t1"}]"#;
        let longer = r#"[{"id":1,"updated_at":"t1"},{"id":2,"updated_at":"t1"},{"id":3,"updated_at":"t1"}]"#;
        assert_ne!(hash(one), hash(swapped));
        assert_ne!(hash(one), hash(longer));
        assert_eq!(hash(one), hash(&one.replace(',', ", ")), "formatting is not a version");
    }

    #[test]
    fn whole_body_counts_when_fields_do_not_cover_the_answer() {
        // Labels have no version field: a rename must still be a new version.
        assert_ne!(
            hash(r#"[{"id":1,"name":"bug"}]"#),
            hash(r#"[{"id":1,"name":"defect"}]"#)
        );
        // One item without a version field is enough to fall back.
        let mixed = |n: &str| format!(r#"[{{"id":1,"updated_at":"t"}},{{"id":2,"name":"{n}"}}]"#);
        assert_ne!(hash(&mixed("a")), hash(&mixed("b")));
        assert_ne!(hash("not json"), hash("not json!"));
        assert_ne!(hash(r#"{"data":{"x":1}}"#), hash(r#"{"data":{"x":2}}"#));
        assert_eq!(hash("[]"), hash(" [ ] "));
    }

    #[test]
    fn status_and_not_the_etag_count() {
        let mut a = response(r#"{"sha":"1"}"#, None, 0);
        let mut b = a.clone();
        b.etag = Some("W/\"other-token\"".into());
        assert_eq!(validation_hash(&a), validation_hash(&b));
        a.status = 404;
        assert_ne!(validation_hash(&a), validation_hash(&b));
    }

    #[test]
    fn new_replaces_the_token_fingerprint() {
        let key = CacheKey::from_stored("GET /x accept=*/*".into());
        let e = SharedEntry::new(&key, response("{}", None, 0));
        assert_eq!(e.response.token_fp, Fingerprint::PEER);
        assert_eq!(e.key, "GET /x accept=*/*");
        assert_eq!(e.validation, validation_hash(&e.response));
    }

    fn shared(date: Option<&str>, fetched_at_ms: u64) -> SharedEntry {
        let key = CacheKey::from_stored("GET /x accept=*/*".into());
        SharedEntry::new(&key, response("{}", date, fetched_at_ms))
    }

    #[test]
    fn upstream_date_wins_over_local_fetch_time() {
        let early = shared(Some("Wed, 31 Jan 2024 12:00:00 GMT"), 9_000);
        let late = shared(Some("Wed, 31 Jan 2024 12:00:01 GMT"), 1_000);
        assert_eq!(cmp_recency(&late, &early), Ordering::Greater);
        assert_eq!(cmp_recency(&early, &late), Ordering::Less);
    }

    #[test]
    fn fetch_time_breaks_date_ties_and_missing_dates_are_oldest() {
        let d = Some("Wed, 31 Jan 2024 12:00:00 GMT");
        assert_eq!(cmp_recency(&shared(d, 2), &shared(d, 1)), Ordering::Greater);
        assert_eq!(cmp_recency(&shared(None, 9), &shared(d, 1)), Ordering::Less);
        assert_eq!(cmp_recency(&shared(Some("garbage"), 9), &shared(d, 1)), Ordering::Less);
        assert_eq!(cmp_recency(&shared(d, 1), &shared(d, 1)), Ordering::Equal);
    }

    #[test]
    fn full_ties_are_broken_the_same_way_everywhere() {
        let d = Some("Wed, 31 Jan 2024 12:00:00 GMT");
        let mut a = shared(d, 1);
        let mut b = shared(d, 1);
        a.validation = [1; 32];
        b.validation = [2; 32];
        assert_eq!(cmp_recency(&a, &b), cmp_recency(&b, &a).reverse());
        assert_ne!(cmp_recency(&a, &b), Ordering::Equal);
    }
}
