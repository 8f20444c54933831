//! A fake kubo RPC API: `version`, `dag/import`, `dag/export`, `block/get`, `pin/add`, `pin/ls`
//! under `/api/v0/`, blocks in memory.
//!
//! What it models (<https://docs.ipfs.tech/reference/kubo/rpc/>):
//! - POST only: other methods get 405, as kubo answers browsers; unknown commands get 404;
//! - errors as `{"Message", "Code", "Type": "error"}`: HTTP 400 / code 1 for a bad request
//!   (not multipart, no boundary, no file part, an invalid CID argument), HTTP 500 / code 0 when
//!   the command fails (a broken multipart body or CAR, a block over 1 MiB, a block not found);
//! - `dag/import`: a `multipart/form-data` body with one or more CAR file parts; every block is
//!   hashed (a mismatch fails the whole import, nothing is stored); blocks over 1 MiB are refused
//!   with kubo's message unless `allow-big-block=true`; with `pin-roots` (default true) each
//!   header root is pinned recursively, which needs its whole DAG present, else the root line
//!   carries a `PinErrorMsg`; answers one `{"Root": {"Cid": {"/": ..}, "PinErrorMsg": ..}}`
//!   line per root (none with `pin-roots=false`);
//! - `dag/export?arg=ROOT`: a CAR v1 with the root in its header and the DAG depth-first, each
//!   block once; a missing child ends the stream early (kubo reports it in a trailer);
//! - `block/get`, `pin/add` (recursive; needs the whole DAG), `pin/ls?type=recursive`
//!   ("path '..' is not pinned" as an error when not pinned);
//! - fault switches ([`KuboFaults`]): alter a block in `block/get` and `dag/export`, hang.
//!
//! What it does not model: the network (a block not held locally is "not found" at once, as
//! with `offline=true`, where kubo online would search for it until a timeout; the fake only
//! counts `offline=true` calls); UnixFS, `add`,
//! `cat`; dag-pb and other codecs' links (only DAG-CBOR links are followed); direct and
//! indirect pins, pin names, `pin rm`, garbage collection; `stats`/`silent` of `dag/import`;
//! `--progress` output of `pin/add`; authentication (kubo's `API.Authorizations`); streaming
//! errors in trailers (the stream just ends); exact message texts beyond the ones quoted above.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use cid::Cid;
use serde_json::json;

use super::{Blocks, Server, car_bytes, multipart};
use crate::block::MAX_BLOCK;
use crate::car::{CarError, CarReader};

/// kubo's refusal of a block over 1 MiB (`--allow-big-block` lifts it).
pub const BIG_BLOCK_MESSAGE: &str = "produced block is over 1MiB: big blocks can't be exchanged with other peers. \
     consider using UnixFS for automatic chunking of bigger files, or pass --allow-big-block to override";

/// Failures to inject. All off by default.
#[derive(Debug, Clone, Default)]
pub struct KuboFaults {
    /// Flip a byte of this block whenever it is served (`block/get`, `dag/export`).
    pub alter_block: Option<Cid>,
    /// Never answer any call.
    pub hang: bool,
}

#[derive(Default)]
struct Inner {
    blocks: Blocks,
    pins: HashSet<Cid>,
    faults: KuboFaults,
    imports: u32,
    offline_calls: u32,
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake; dropping it stops it.
pub struct FakeKubo {
    shared: Shared,
    server: Server,
}

impl FakeKubo {
    pub async fn start() -> std::io::Result<Self> {
        let shared = Shared::default();
        let app = Router::new()
            .route("/api/v0/{*command}", any(command))
            .layer(DefaultBodyLimit::max(256 << 20))
            .with_state(shared.clone());
        Ok(FakeKubo {
            shared,
            server: Server::start(app).await?,
        })
    }

    /// The RPC base URL, `http://127.0.0.1:PORT`.
    pub fn api_url(&self) -> String {
        self.server.url()
    }

    pub fn set_faults(&self, faults: KuboFaults) {
        lock(&self.shared).faults = faults;
    }

    /// Puts a block in the store as `block/put` would (no checks: tests may plant bad data).
    pub fn insert_block(&self, cid: &Cid, data: impl Into<Bytes>) {
        lock(&self.shared).blocks.insert(cid, data.into());
    }

    pub fn has_block(&self, cid: &Cid) -> bool {
        lock(&self.shared).blocks.get(cid).is_some()
    }

    pub fn block_count(&self) -> usize {
        lock(&self.shared).blocks.len()
    }

    pub fn is_pinned(&self, cid: &Cid) -> bool {
        lock(&self.shared).pins.iter().any(|p| p.hash() == cid.hash())
    }

    /// Calls made with kubo's global `offline=true` so far.
    pub fn offline_calls(&self) -> u32 {
        lock(&self.shared).offline_calls
    }

    /// Successful `dag/import` calls so far.
    pub fn imports(&self) -> u32 {
        lock(&self.shared).imports
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// kubo's error body with its status: 400 / code 1 for a bad request, 500 / code 0 otherwise.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let code = if status == StatusCode::BAD_REQUEST { 1 } else { 0 };
    let body = json!({"Message": message.into(), "Code": code, "Type": "error"});
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn not_found(cid: &Cid) -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("block was not found locally (offline): ipld: could not find {cid}"),
    )
}

fn json_line(value: serde_json::Value) -> String {
    let mut s = value.to_string();
    s.push('\n');
    s
}

/// Query arguments in order, percent-decoded (kubo takes `arg` repeatedly).
fn query_args(query: &Option<String>) -> Vec<(String, String)> {
    query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn flag(args: &[(String, String)], name: &str, default: bool) -> bool {
    match args.iter().rev().find(|(k, _)| k == name) {
        Some((_, v)) => v.is_empty() || v == "true" || v == "1",
        None => default,
    }
}

/// The CID in the first `arg`, parsed as kubo does (a `/ipfs/` prefix is accepted).
fn cid_arg(args: &[(String, String)]) -> Result<Cid, Response> {
    let Some((_, raw)) = args.iter().find(|(k, _)| k == "arg") else {
        return Err(error(StatusCode::BAD_REQUEST, "argument \"cid\" is required"));
    };
    let text = raw.strip_prefix("/ipfs/").unwrap_or(raw);
    Cid::try_from(text).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("invalid path {raw:?}: {}", e.to_string().to_lowercase()),
        )
    })
}

async fn command(
    State(shared): State<Shared>,
    Path(command): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if lock(&shared).faults.hang {
        std::future::pending::<()>().await;
    }
    if method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, "405 - Method Not Allowed\n").into_response();
    }
    let args = query_args(&query);
    if flag(&args, "offline", false) {
        lock(&shared).offline_calls += 1;
    }
    match command.as_str() {
        "version" => {
            let body = json!({"Version": "0.32.1", "Commit": "fake", "Repo": "16", "System": "amd64/linux", "Golang": "go1.23"});
            ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
        }
        "dag/import" => dag_import(&shared, &args, &headers, body),
        "dag/export" => dag_export(&shared, &args),
        "block/get" => block_get(&shared, &args),
        "pin/add" => pin_add(&shared, &args),
        "pin/ls" => pin_ls(&shared, &args),
        _ => (StatusCode::NOT_FOUND, "404 page not found\n").into_response(),
    }
}

fn dag_import(shared: &Shared, args: &[(String, String)], headers: &HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = match multipart::boundary(content_type) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let parts = match multipart::parse(&body, &boundary) {
        Ok(parts) => parts,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let files: Vec<_> = parts
        .into_iter()
        .filter(|p| p.filename.is_some() || p.name.is_some())
        .collect();
    if files.is_empty() {
        return error(StatusCode::BAD_REQUEST, "argument \"path\" is required");
    }
    let allow_big = flag(args, "allow-big-block", false);
    let pin_roots = flag(args, "pin-roots", true);

    // Read every CAR before storing anything, so a bad one leaves the store as it was.
    let mut roots = Vec::new();
    let mut new_blocks = Vec::new();
    for file in &files {
        let reader = match CarReader::new(&file.data[..]) {
            Ok(r) => r,
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("invalid CAR: {e}")),
        };
        roots.extend_from_slice(reader.roots());
        for item in reader {
            match item {
                Ok(block) if block.data.len() > MAX_BLOCK && !allow_big => {
                    return error(StatusCode::INTERNAL_SERVER_ERROR, BIG_BLOCK_MESSAGE);
                }
                Ok(block) => new_blocks.push((block.cid, block.data)),
                Err(CarError::TooLarge { what: "section", .. }) if !allow_big => {
                    return error(StatusCode::INTERNAL_SERVER_ERROR, BIG_BLOCK_MESSAGE);
                }
                Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("invalid CAR: {e}")),
            }
        }
    }
    let mut inner = lock(shared);
    for (cid, data) in new_blocks {
        inner.blocks.insert(&cid, data);
    }
    inner.imports += 1;
    if !pin_roots {
        return (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "").into_response();
    }
    if roots.len() > 1 {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "only one dag root can be pinned per request",
        );
    }
    let mut out = String::new();
    for root in roots {
        let (_, missing) = inner.blocks.dag(&root);
        let pin_error = match missing {
            None => {
                inner.pins.insert(root);
                String::new()
            }
            Some(cid) => format!("block was not found locally (offline): ipld: could not find {cid}"),
        };
        out.push_str(&json_line(
            json!({"Root": {"Cid": {"/": root.to_string()}, "PinErrorMsg": pin_error}}),
        ));
    }
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}

fn dag_export(shared: &Shared, args: &[(String, String)]) -> Response {
    let root = match cid_arg(args) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let inner = lock(shared);
    if inner.blocks.get(&root).is_none() {
        return not_found(&root);
    }
    let (mut blocks, _missing) = inner.blocks.dag(&root);
    if let Some(bad) = &inner.faults.alter_block {
        for (cid, data) in &mut blocks {
            if cid.hash() == bad.hash() {
                *data = altered(data);
            }
        }
    }
    let car = car_bytes(&root, &blocks);
    ([(header::CONTENT_TYPE, "application/vnd.ipld.car")], Body::from(car)).into_response()
}

fn block_get(shared: &Shared, args: &[(String, String)]) -> Response {
    let cid = match cid_arg(args) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let inner = lock(shared);
    let Some(data) = inner.blocks.get(&cid) else {
        return not_found(&cid);
    };
    let data = match &inner.faults.alter_block {
        Some(bad) if bad.hash() == cid.hash() => altered(data),
        _ => data.clone(),
    };
    ([(header::CONTENT_TYPE, "text/plain")], data).into_response()
}

fn pin_add(shared: &Shared, args: &[(String, String)]) -> Response {
    let cid = match cid_arg(args) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut inner = lock(shared);
    if let (_, Some(missing)) = inner.blocks.dag(&cid) {
        return not_found(&missing);
    }
    inner.pins.insert(cid);
    (
        [(header::CONTENT_TYPE, "application/json")],
        json_line(json!({"Pins": [cid.to_string()]})),
    )
        .into_response()
}

fn pin_ls(shared: &Shared, args: &[(String, String)]) -> Response {
    let cid = match cid_arg(args) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let inner = lock(shared);
    if inner.pins.iter().any(|p| p.hash() == cid.hash()) {
        let body = json!({"Keys": {cid.to_string(): {"Type": "recursive", "Name": ""}}});
        ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
    } else {
        error(StatusCode::INTERNAL_SERVER_ERROR, format!("path '{cid}' is not pinned"))
    }
}

/// The block with its first byte flipped (an empty block gains a byte).
pub(crate) fn altered(data: &Bytes) -> Bytes {
    let mut v = data.to_vec();
    match v.first_mut() {
        Some(b) => *b ^= 0xff,
        None => v.push(0),
    }
    Bytes::from(v)
}
