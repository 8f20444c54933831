//! An in-memory fake of the Actions cache service v2, for tests: the three Twirp methods and the
//! blob endpoints their signed URLs point at, on `127.0.0.1:0`.
//!
//! Written from the protocol (the toolkit's generated `cache.ts` messages and Twirp's error
//! conventions, Azure Blob's Put Blob / Put Block / Put Block List / Get Blob), not from our
//! client, so the two can disagree: it parses requests as JSON values rather than with the
//! client's structs, and answers in the service's own shapes.
//!
//! What it models:
//! - `Authorization: Bearer <token>` on every Twirp call (401 `unauthenticated` otherwise), POST
//!   and `application/json` only (`bad_route` otherwise), `malformed` for bad JSON,
//!   `invalid_argument` for an empty key or version;
//! - `CreateCacheEntry` reserves key + version and hands out an upload URL; a second create of
//!   the same key + version, reserved or finalized, is 409 `already_exists` with the service's
//!   message; `FinalizeCacheEntryUpload` makes the entry visible once the blob holds exactly
//!   `size_bytes` bytes;
//! - `GetCacheEntryDownloadURL` matches only finalized entries of the same version: the exact
//!   key, else for each restore key in order the most recently finalized entry whose key starts
//!   with it; a miss is `200 {"ok": false}`;
//! - blob URLs `/blob/<id>?sv=..&sp=..&sig=..` whose signature is checked (403
//!   `AuthenticationFailed`), with separate upload (`sp=cw`) and download (`sp=r`) signatures;
//!   Put Blob requires `x-ms-blob-type: BlockBlob`; Put Block requires base64 block ids of one
//!   length; Put Block List commits `<Latest>`/`<Uncommitted>` ids in the order listed;
//! - fault switches ([`Faults`]): failing Twirp calls with a status, hanging Twirp calls,
//!   rejecting the token, a read-only token, refused signatures, failing blob uploads with 503,
//!   truncated and stalled downloads.
//!
//! What it does not model: scopes (branches, the default-branch fallback, pull-request merge
//! refs) — every entry is visible to every call; eviction (7 days unused) and the 10 GB
//! per-repository quota ("insufficient usage"); expiry of reservations, of signed URLs and of
//! the token; the protobuf flavour of Twirp; Azure's ranged GETs, HEAD, MD5 and conditional
//! headers; rate limits; and the service's exact answers where the toolkit is silent (an
//! unknown finalize is `not_found`, a size mismatch `invalid_argument` — our choices).

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::any;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, header};
use hyper::body::Frame;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

const SERVICE_PREFIX: &str = "/twirp/github.actions.results.api.v1.CacheService/";
/// The largest request body the blob endpoint accepts (everything is kept in memory).
const MAX_BLOB_REQUEST: usize = 512 * 1024 * 1024;

/// Failures to inject. All off by default.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Answer the next this many Twirp calls with `twirp_failure_status` (500 when 0) and a
    /// Twirp `internal` (or matching) error, before looking at them.
    pub twirp_failures: u32,
    pub twirp_failure_status: u16,
    /// Never answer a Twirp call.
    pub hang_twirp: bool,
    /// Refuse every token with 401, as for an expired one.
    pub reject_token: bool,
    /// `CreateCacheEntry` answers `ok: false` like the service does for a token without a
    /// writable scope (pull requests from forks).
    pub read_only: bool,
    /// Hand out signed URLs whose signature the blob endpoint refuses (403).
    pub wrong_signatures: bool,
    /// Answer the next this many blob PUTs with 503 `ServerBusy`.
    pub blob_put_failures: u32,
    /// Downloads announce the full `Content-Length`, send half, and close the connection.
    pub truncate_downloads: bool,
    /// Downloads send half the body and then nothing, keeping the connection open.
    pub stall_downloads: bool,
}

/// Counts of what the fake served, for tests to assert on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub create_calls: u32,
    pub finalize_calls: u32,
    pub lookup_calls: u32,
    pub unauthorized: u32,
    pub single_puts: u32,
    pub block_puts: u32,
    pub block_lists: u32,
    pub downloads: u32,
}

/// One entry as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    pub key: String,
    pub version: String,
    /// The committed blob's size, if any.
    pub size: Option<u64>,
    pub finalized: bool,
}

struct Entry {
    key: String,
    version: String,
    blob: u64,
    /// Order of finalization; `None` while only reserved.
    finalized: Option<u64>,
    entry_id: i64,
}

#[derive(Default)]
struct Blob {
    committed: Option<Bytes>,
    uncommitted: HashMap<String, Bytes>,
}

#[derive(Default)]
struct Inner {
    entries: Vec<Entry>,
    blobs: HashMap<u64, Blob>,
    next_blob: u64,
    next_seq: u64,
    faults: Faults,
    stats: Stats,
}

struct Shared {
    token: String,
    secret: String,
    addr: SocketAddr,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking handler must not wedge the other tests' calls.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sig(&self, blob: u64, perm: &str) -> String {
        let digest = Sha256::digest(format!("{}|{blob}|{perm}", self.secret));
        hex::encode(&digest[..16])
    }

    fn signed_url(&self, inner: &Inner, blob: u64, perm: &str) -> String {
        let sig = if inner.faults.wrong_signatures {
            "bm90LXRoZS1zaWduYXR1cmU%3D".to_owned()
        } else {
            self.sig(blob, perm)
        };
        format!(
            "http://{}/blob/{blob}?sv=2023-11-03&sr=b&sp={perm}&sig={sig}",
            self.addr
        )
    }
}

/// The running fake. Dropping it stops accepting connections.
pub struct FakeCacheService {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCacheService {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeCacheService {
    /// Starts the fake on `127.0.0.1:0`, accepting `token` as the runtime token.
    pub async fn start(token: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            secret: format!("fake-{nanos}-{addr}"),
            addr,
            inner: Mutex::new(Inner::default()),
        });
        let app = Router::new()
            .route("/twirp/{service}/{method}", any(twirp))
            .route("/blob/{id}", any(blob).layer(DefaultBodyLimit::max(MAX_BLOB_REQUEST)))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeCacheService { shared, server })
    }

    /// The value for `ACTIONS_RESULTS_URL`.
    pub fn results_url(&self) -> String {
        format!("http://{}/", self.shared.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().faults = faults;
    }

    pub fn stats(&self) -> Stats {
        self.shared.lock().stats.clone()
    }

    /// Every entry, reserved or finalized, oldest first.
    pub fn entries(&self) -> Vec<EntryInfo> {
        let inner = self.shared.lock();
        inner
            .entries
            .iter()
            .map(|e| EntryInfo {
                key: e.key.clone(),
                version: e.version.clone(),
                size: inner
                    .blobs
                    .get(&e.blob)
                    .and_then(|b| b.committed.as_ref())
                    .map(|b| b.len() as u64),
                finalized: e.finalized.is_some(),
            })
            .collect()
    }

    /// Adds a finalized entry directly, as if another job had saved it.
    pub fn seed(&self, key: &str, version: &str, data: impl Into<Bytes>) {
        let mut inner = self.shared.lock();
        let blob = inner.next_blob;
        inner.next_blob += 1;
        inner.blobs.insert(
            blob,
            Blob {
                committed: Some(data.into()),
                uncommitted: HashMap::new(),
            },
        );
        inner.next_seq += 1;
        let seq = inner.next_seq;
        inner.entries.push(Entry {
            key: key.to_owned(),
            version: version.to_owned(),
            blob,
            finalized: Some(seq),
            entry_id: seq as i64,
        });
    }
}

fn twirp_error(status: StatusCode, code: &str, msg: &str) -> axum::response::Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"code": code, "msg": msg}).to_string(),
    )
        .into_response()
}

fn twirp_ok(body: Value) -> axum::response::Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Twirp's code for an HTTP status we are asked to fail with.
fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid_argument",
        401 => "unauthenticated",
        403 => "permission_denied",
        404 => "not_found",
        409 => "already_exists",
        429 => "resource_exhausted",
        501 => "unimplemented",
        503 => "unavailable",
        _ => "internal",
    }
}

async fn twirp(
    State(shared): State<Arc<Shared>>,
    Path((service, method)): Path<(String, String)>,
    http_method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let faults = shared.lock().faults.clone();
    if faults.hang_twirp {
        std::future::pending::<()>().await;
    }
    let path = format!("/twirp/{service}/{method}");
    if !path.starts_with(SERVICE_PREFIX) {
        return twirp_error(
            StatusCode::NOT_FOUND,
            "bad_route",
            &format!("no handler for path {path:?}"),
        );
    }
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == shared.token);
    if !authorized || faults.reject_token {
        shared.lock().stats.unauthorized += 1;
        return twirp_error(StatusCode::UNAUTHORIZED, "unauthenticated", "invalid or expired token");
    }
    {
        let mut inner = shared.lock();
        if inner.faults.twirp_failures > 0 {
            inner.faults.twirp_failures -= 1;
            let status = StatusCode::from_u16(inner.faults.twirp_failure_status)
                .ok()
                .filter(|s| s.as_u16() >= 400)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return twirp_error(status, code_for(status), "injected failure");
        }
    }
    if http_method != Method::POST {
        return twirp_error(
            StatusCode::NOT_FOUND,
            "bad_route",
            &format!("unsupported method {http_method} (only POST is allowed)"),
        );
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/json") {
        return twirp_error(
            StatusCode::NOT_FOUND,
            "bad_route",
            &format!("unexpected Content-Type: {content_type:?}"),
        );
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return twirp_error(
                StatusCode::BAD_REQUEST,
                "malformed",
                "the json request could not be decoded",
            );
        }
    };
    let fields = match Fields::parse(&request) {
        Ok(f) => f,
        Err(msg) => return twirp_error(StatusCode::BAD_REQUEST, "malformed", &msg),
    };
    if fields.key.is_empty() {
        return twirp_error(StatusCode::BAD_REQUEST, "invalid_argument", "key is required");
    }
    if fields.version.is_empty() {
        return twirp_error(StatusCode::BAD_REQUEST, "invalid_argument", "version is required");
    }
    match method.as_str() {
        "CreateCacheEntry" => create(&shared, fields, faults.read_only),
        "FinalizeCacheEntryUpload" => finalize(&shared, fields),
        "GetCacheEntryDownloadURL" => lookup(&shared, fields),
        other => twirp_error(
            StatusCode::NOT_FOUND,
            "bad_route",
            &format!("no handler for method {other:?}"),
        ),
    }
}

/// The request fields the three methods use, read the way a proto3 JSON parser would (int64 as
/// a string or a number, absent fields at their defaults, unknown fields ignored).
struct Fields {
    key: String,
    version: String,
    restore_keys: Vec<String>,
    size_bytes: Option<i64>,
}

impl Fields {
    fn parse(v: &Value) -> Result<Self, String> {
        let string = |name: &str| -> Result<String, String> {
            match v.get(name) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(format!("{name} must be a string")),
            }
        };
        let restore_keys = match v.get("restore_keys") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned).ok_or("restore_keys must hold strings"))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("restore_keys must be an array".to_owned()),
        };
        let size_bytes = match v.get("size_bytes") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.parse().map_err(|_| "size_bytes must be an int64")?),
            Some(Value::Number(n)) => Some(n.as_i64().ok_or("size_bytes must be an int64")?),
            Some(_) => return Err("size_bytes must be an int64".to_owned()),
        };
        Ok(Fields {
            key: string("key")?,
            version: string("version")?,
            restore_keys,
            size_bytes,
        })
    }
}

fn create(shared: &Shared, f: Fields, read_only: bool) -> axum::response::Response {
    let mut inner = shared.lock();
    inner.stats.create_calls += 1;
    if read_only {
        return twirp_ok(json!({
            "ok": false,
            "signed_upload_url": "",
            "message": "cache write denied: token has no writable scopes"
        }));
    }
    if inner.entries.iter().any(|e| e.key == f.key && e.version == f.version) {
        return twirp_error(
            StatusCode::CONFLICT,
            "already_exists",
            "cache entry with the same key, version, and scope already exists",
        );
    }
    let blob = inner.next_blob;
    inner.next_blob += 1;
    inner.blobs.insert(blob, Blob::default());
    inner.entries.push(Entry {
        key: f.key,
        version: f.version,
        blob,
        finalized: None,
        entry_id: 0,
    });
    twirp_ok(json!({"ok": true, "signed_upload_url": shared.signed_url(&inner, blob, "cw"), "message": ""}))
}

fn finalize(shared: &Shared, f: Fields) -> axum::response::Response {
    let mut guard = shared.lock();
    let inner = &mut *guard;
    inner.stats.finalize_calls += 1;
    let Some(index) = inner
        .entries
        .iter()
        .position(|e| e.key == f.key && e.version == f.version && e.finalized.is_none())
    else {
        return twirp_error(StatusCode::NOT_FOUND, "not_found", "cache entry not found");
    };
    let uploaded = inner
        .blobs
        .get(&inner.entries[index].blob)
        .and_then(|b| b.committed.as_ref())
        .map(|b| b.len() as i64);
    if uploaded.is_none() || uploaded != f.size_bytes {
        return twirp_error(
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            &format!(
                "uploaded size {} does not match size_bytes {}",
                uploaded.map_or("none".to_owned(), |u| u.to_string()),
                f.size_bytes.map_or("none".to_owned(), |s| s.to_string())
            ),
        );
    }
    inner.next_seq += 1;
    let seq = inner.next_seq;
    let entry = &mut inner.entries[index];
    entry.finalized = Some(seq);
    entry.entry_id = seq as i64;
    twirp_ok(json!({"ok": true, "entry_id": entry.entry_id.to_string(), "message": ""}))
}

fn lookup(shared: &Shared, f: Fields) -> axum::response::Response {
    let mut inner = shared.lock();
    inner.stats.lookup_calls += 1;
    let newest = |pred: &dyn Fn(&Entry) -> bool| {
        inner
            .entries
            .iter()
            .filter(|e| e.finalized.is_some() && e.version == f.version && pred(e))
            .max_by_key(|e| e.finalized)
    };
    let found = newest(&|e| e.key == f.key).or_else(|| {
        f.restore_keys
            .iter()
            .find_map(|prefix| newest(&|e| e.key.starts_with(prefix.as_str())))
    });
    match found {
        Some(e) => twirp_ok(json!({
            "ok": true,
            "signed_download_url": shared.signed_url(&inner, e.blob, "r"),
            "matched_key": e.key,
        })),
        None => twirp_ok(json!({"ok": false, "signed_download_url": "", "matched_key": ""})),
    }
}

fn azure_error(status: StatusCode, code: &str, message: &str) -> axum::response::Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/xml"),
            (header::HeaderName::from_static("x-ms-error-code"), code),
        ],
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"#
        ),
    )
        .into_response()
}

async fn blob(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let Ok(id) = id.parse::<u64>() else {
        return azure_error(
            StatusCode::NOT_FOUND,
            "BlobNotFound",
            "The specified blob does not exist.",
        );
    };
    let perm = if method == Method::GET { "r" } else { "cw" };
    let sig_ok =
        query.get("sig").is_some_and(|s| *s == shared.sig(id, perm)) && query.get("sp").is_some_and(|p| p == perm);
    if !sig_ok {
        return azure_error(
            StatusCode::FORBIDDEN,
            "AuthenticationFailed",
            "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
        );
    }
    match method {
        Method::PUT => put(&shared, id, &query, &headers, body),
        Method::GET => get(&shared, id),
        _ => azure_error(
            StatusCode::BAD_REQUEST,
            "UnsupportedHttpVerb",
            "The resource doesn't support the specified HTTP verb.",
        ),
    }
}

fn is_base64(s: &str) -> bool {
    !s.is_empty()
        && s.len().is_multiple_of(4)
        && s.trim_end_matches('=')
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
}

fn put(
    shared: &Shared,
    id: u64,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let mut inner = shared.lock();
    if inner.faults.blob_put_failures > 0 {
        inner.faults.blob_put_failures -= 1;
        return azure_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServerBusy",
            "The server is currently unable to receive requests.",
        );
    }
    match query.get("comp").map(String::as_str) {
        None => {
            let blob_type = headers.get("x-ms-blob-type").and_then(|v| v.to_str().ok());
            match blob_type {
                Some("BlockBlob") => {}
                Some(_) => {
                    return azure_error(
                        StatusCode::BAD_REQUEST,
                        "InvalidHeaderValue",
                        "x-ms-blob-type must be BlockBlob here.",
                    );
                }
                None => {
                    return azure_error(
                        StatusCode::BAD_REQUEST,
                        "MissingRequiredHeader",
                        "An HTTP header that's mandatory for this request is not specified: x-ms-blob-type.",
                    );
                }
            }
            inner.stats.single_puts += 1;
            let Some(blob) = inner.blobs.get_mut(&id) else {
                return azure_error(
                    StatusCode::NOT_FOUND,
                    "ContainerNotFound",
                    "The specified container does not exist.",
                );
            };
            blob.committed = Some(body);
            blob.uncommitted.clear();
            StatusCode::CREATED.into_response()
        }
        Some("block") => {
            let Some(block_id) = query.get("blockid").filter(|b| is_base64(b)) else {
                return azure_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidQueryParameterValue",
                    "Value for one of the query parameters specified in the request URI is invalid: blockid.",
                );
            };
            inner.stats.block_puts += 1;
            let Some(blob) = inner.blobs.get_mut(&id) else {
                return azure_error(
                    StatusCode::NOT_FOUND,
                    "ContainerNotFound",
                    "The specified container does not exist.",
                );
            };
            if blob.uncommitted.keys().any(|k| k.len() != block_id.len()) {
                return azure_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidBlobOrBlock",
                    "The specified blob or block content is invalid.",
                );
            }
            blob.uncommitted.insert(block_id.clone(), body);
            StatusCode::CREATED.into_response()
        }
        Some("blocklist") => {
            inner.stats.block_lists += 1;
            let Some(ids) = parse_block_list(&body) else {
                return azure_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidXmlDocument",
                    "XML specified is not syntactically valid.",
                );
            };
            let Some(blob) = inner.blobs.get_mut(&id) else {
                return azure_error(
                    StatusCode::NOT_FOUND,
                    "ContainerNotFound",
                    "The specified container does not exist.",
                );
            };
            let mut data = Vec::new();
            for block_id in &ids {
                match blob.uncommitted.get(block_id) {
                    Some(block) => data.extend_from_slice(block),
                    None => {
                        return azure_error(
                            StatusCode::BAD_REQUEST,
                            "InvalidBlockList",
                            "The specified block list is invalid.",
                        );
                    }
                }
            }
            blob.committed = Some(data.into());
            blob.uncommitted.clear();
            StatusCode::CREATED.into_response()
        }
        Some(_) => azure_error(
            StatusCode::BAD_REQUEST,
            "InvalidQueryParameterValue",
            "Value for one of the query parameters specified in the request URI is invalid: comp.",
        ),
    }
}

/// The ids of a `<BlockList>` in order (`<Latest>` and `<Uncommitted>`; we keep no committed
/// blocks apart from the blob, so `<Committed>` ids are unknown and fail the commit).
fn parse_block_list(body: &[u8]) -> Option<Vec<String>> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<BlockList>")? + "<BlockList>".len();
    let end = text.rfind("</BlockList>")?;
    let mut rest = text.get(start..end)?.trim();
    let mut ids = Vec::new();
    while !rest.is_empty() {
        let open_end = rest.find('>')?;
        let tag = rest.strip_prefix('<')?.get(..open_end - 1)?;
        if !matches!(tag, "Latest" | "Uncommitted" | "Committed") {
            return None;
        }
        let close = format!("</{tag}>");
        let value_end = rest.find(&close)?;
        ids.push(rest[open_end + 1..value_end].trim().to_owned());
        rest = rest[value_end + close.len()..].trim_start();
    }
    Some(ids)
}

fn get(shared: &Shared, id: u64) -> axum::response::Response {
    let mut inner = shared.lock();
    inner.stats.downloads += 1;
    let (truncate, stall) = (inner.faults.truncate_downloads, inner.faults.stall_downloads);
    let Some(data) = inner.blobs.get(&id).and_then(|b| b.committed.clone()) else {
        return azure_error(
            StatusCode::NOT_FOUND,
            "BlobNotFound",
            "The specified blob does not exist.",
        );
    };
    drop(inner);
    let len = data.len();
    let body = if truncate || stall {
        Body::new(PartialBody {
            chunk: Some(data.slice(..len / 2)),
            hang: stall,
            yielded: false,
        })
    } else {
        Body::from(data)
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
            (
                header::HeaderName::from_static("x-ms-blob-type"),
                "BlockBlob".to_owned(),
            ),
        ],
        body,
    )
        .into_response()
}

/// A body that sends one chunk, then either ends (short of its `Content-Length`, so the server
/// closes the connection) or never sends anything again.
struct PartialBody {
    chunk: Option<Bytes>,
    hang: bool,
    /// Whether we already answered `Pending` once after the chunk. hyper flushes what it has
    /// written when the body is pending; ending right after the chunk would make it drop the
    /// unflushed head and chunk along with the connection, which is not a truncated download.
    yielded: bool,
}

impl hyper::body::Body for PartialBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(chunk) = self.chunk.take() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if self.hang {
            return Poll::Pending;
        }
        if !self.yielded {
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_lists_parse_in_order() {
        let xml = br#"<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>AAAA</Latest> <Uncommitted>BBBB</Uncommitted></BlockList>"#;
        assert_eq!(parse_block_list(xml), Some(vec!["AAAA".to_owned(), "BBBB".to_owned()]));
        assert_eq!(parse_block_list(b"<BlockList><Bogus>x</Bogus></BlockList>"), None);
        assert_eq!(parse_block_list(b"<BlockList></BlockList>"), Some(vec![]));
    }

    #[test]
    fn base64_check() {
        assert!(is_base64("AAAA"));
        assert!(is_base64("ab+/cd=="));
        assert!(!is_base64("abc"));
        assert!(!is_base64("ab-_"));
    }
}
