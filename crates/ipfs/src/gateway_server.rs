//! A trustless gateway server (<https://specs.ipfs.tech/http-gateways/trustless-gateway/>) over
//! a [`BlockStore`]: what a sync-node serves its latest snapshot with, so that any IPFS client
//! that verifies (our [`GatewayClient`](crate::GatewayClient), `@helia/verified-fetch`, kubo's
//! gateway routing) can fetch the cache's blocks from it. Non-recursive: it serves its store and
//! never fetches from anywhere else.
//!
//! Served (`GET` and `HEAD`, which answers the same head without a body):
//! - `/ipfs/{cid}?format=raw` or `Accept: application/vnd.ipld.raw`: the block, as
//!   `application/vnd.ipld.raw` with its `Content-Length`.
//! - `/ipfs/{cid}?format=car` or `Accept: application/vnd.ipld.car`: a CAR v1 with `{cid}` as its
//!   root and the DAG under it depth-first, streamed block by block
//!   (`application/vnd.ipld.car; version=1; order=dfs; dups=n`, or `dups=y` with every repeat
//!   when the client asks for that). DAG-CBOR links are followed in encoded order (as `ipfs dag
//!   export` does); every other codec is a leaf. `dag-scope=all` (default), `entity` and `block`
//!   are honoured; for DAG-CBOR and raw an entity is its one block, and `entity-bytes` means
//!   `entity` (the spec's rule for content that is not a UnixFS file).
//! - `format` wins over `Accept` (the spec: it SHOULD); `Accept` entries are taken in order,
//!   `q=0` ones skipped; `car-version`/`car-order`/`car-dups` win over the `Accept` parameters.
//! - Statuses: 404 for a CID not in the store (412 with `Cache-Control: only-if-cached`); 400
//!   for a malformed CID, a bad `dag-scope`, or a request naming no response type at all (strict
//!   trustless mode, as the spec asks); 406 for any other format or media type (`dag-json`,
//!   `tar`, `text/html`, CAR version 2, `order` other than `dfs`/`unk`…); 501 for a path under
//!   the CID. Answers carry `X-Content-Type-Options: nosniff`; successful ones an immutable
//!   `Cache-Control`, an `Etag` (`"{cid}.raw"`, `"{cid}.car.dfs.{n|y}.{scope}"`; a matching
//!   `If-None-Match` gets 304), `Content-Disposition: attachment`, `Vary: Accept`, `X-Ipfs-Path`
//!   and `X-Ipfs-Roots`.
//! - A block missing under a present root (a store that does not hold the whole DAG) aborts the
//!   CAR body after the 200, as the spec allows: clients see a cut connection, not a clean end.
//! - Identity-hash CIDs (such as the spec's `bafkqaaa` probe) are answered from the CID itself.
//!
//! Not served: paths under the CID, UnixFS, IPNS (`/ipns/`, 404), CAR v2, `Content-Location`.
//!
//! Nothing is verified on the way out: blocks are hashed when they enter the store
//! ([`MemoryBlocks`] loads through [`CarReader`], which checks every block), and clients verify
//! again anyway, which is the point of a trustless gateway.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::{BufMut, Bytes, BytesMut};
use cid::Cid;
use cid::multihash::Multihash;

use crate::block::DAG_CBOR;
use crate::car::{CarError, CarReader};
use crate::net::links::dag_cbor_links;

/// Multihash code of the identity "hash": the digest is the data.
const IDENTITY: u64 = 0x00;
const RAW_TYPE: &str = "application/vnd.ipld.raw";
const CAR_TYPE: &str = "application/vnd.ipld.car";
const CAR_CONTENT_TYPE: &str = "application/vnd.ipld.car; version=1; order=dfs; dups=n";
const CAR_CONTENT_TYPE_DUPS: &str = "application/vnd.ipld.car; version=1; order=dfs; dups=y";
/// A year in seconds (the trustless gateway spec's example for immutable content).
const CACHE_CONTROL: &str = "public, max-age=29030400, immutable";

/// Where the server takes blocks from. `get` is called from async handlers, once per block
/// served, so it must be quick (memory, or an mmap'd file), never a network round trip.
///
/// Implementations look blocks up by multihash or by the whole CID as they like; what they
/// return should hash to `cid` (the server does not check, clients do).
pub trait BlockStore: Send + Sync {
    fn get(&self, cid: &Cid) -> Option<Bytes>;
}

impl<S: BlockStore + ?Sized> BlockStore for Arc<S> {
    fn get(&self, cid: &Cid) -> Option<Bytes> {
        (**self).get(cid)
    }
}

/// Blocks in memory, by multihash as IPFS block stores key them: a CID with another codec or
/// version but the same hash names the same bytes.
#[derive(Debug, Default, Clone)]
pub struct MemoryBlocks {
    by_hash: HashMap<Multihash<64>, Bytes>,
    roots: Vec<Cid>,
}

impl MemoryBlocks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every block of a CAR (a snapshot), each checked against its CID by [`CarReader`]. Any
    /// error, even one the reader could skip (a block that does not hash to its CID), fails the
    /// load: a server must not offer bytes it cannot vouch for.
    pub fn from_car<R: Read>(input: R) -> Result<Self, CarError> {
        let reader = CarReader::new(input)?;
        let mut blocks = MemoryBlocks {
            roots: reader.roots().to_vec(),
            ..Self::default()
        };
        for block in reader {
            let block = block?;
            blocks.by_hash.insert(*block.cid.hash(), block.data);
        }
        Ok(blocks)
    }

    /// [`MemoryBlocks::from_car`] of a file.
    pub fn from_file(path: &Path) -> Result<Self, CarError> {
        let file = std::fs::File::open(path).map_err(|source| CarError::Io { offset: 0, source })?;
        Self::from_car(file)
    }

    /// Adds a block the caller vouches for (its bytes hash to `cid`).
    pub fn insert(&mut self, cid: &Cid, data: Bytes) {
        self.by_hash.insert(*cid.hash(), data);
    }

    /// The roots of the CAR it was loaded from (a snapshot's manifest root), empty otherwise.
    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// Number of distinct blocks.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

impl BlockStore for MemoryBlocks {
    fn get(&self, cid: &Cid) -> Option<Bytes> {
        self.by_hash.get(cid.hash()).cloned()
    }
}

/// The gateway's routes, `/ipfs/{cid}` (and the paths under it, which answer 501), serving
/// `store`. Serve it with `axum::serve`; mount it under a prefix with `Router::nest` if needed.
pub fn router(store: Arc<dyn BlockStore>) -> Router {
    Router::new()
        .route("/ipfs/{cid}", get(serve))
        .route("/ipfs/{cid}/{*path}", get(path_under_cid))
        .with_state(store)
}

/// What the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Raw,
    /// `dups`: send a block again each time the walk meets it (`dups=y`).
    Car {
        dups: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    All,
    Entity,
    Block,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::Entity => "entity",
            Scope::Block => "block",
        }
    }
}

fn plain(status: StatusCode, message: impl Into<String>) -> Response {
    let mut message = message.into();
    message.push('\n');
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        message,
    )
        .into_response()
}

async fn path_under_cid(UrlPath((cid, path)): UrlPath<(String, String)>) -> Response {
    plain(
        StatusCode::NOT_IMPLEMENTED,
        format!("/ipfs/{cid}/{path}: this gateway serves blocks and DAGs by CID, not paths under them"),
    )
}

/// Decoded `key=value` pairs of a query string.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                None => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One `Accept` entry: the media type (lower case) and its parameters.
struct MediaRange {
    media: String,
    params: Vec<(String, String)>,
}

impl MediaRange {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn parse_media_range(entry: &str) -> MediaRange {
    let mut parts = entry.split(';').map(str::trim);
    let media = parts.next().unwrap_or("").to_ascii_lowercase();
    let params = parts
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"').to_owned()))
        .collect();
    MediaRange { media, params }
}

/// The format from `?format=` (which wins, as the spec says) or the first acceptable `Accept`
/// entry. CAR parameters come from `car-version`/`car-order`/`car-dups` in the query, else from
/// the `Accept` entry. `Err` is the answer to give instead.
fn negotiate(params: &[(String, String)], headers: &HeaderMap) -> Result<Format, Response> {
    if let Some((_, format)) = params.iter().find(|(k, _)| k == "format") {
        return match format.as_str() {
            "raw" => Ok(Format::Raw),
            "car" => {
                let accepted_car = accept_entries(headers)
                    .map(parse_media_range)
                    .find(|r| r.media == CAR_TYPE);
                let param = |query: &str, accept: &str| {
                    params
                        .iter()
                        .find(|(k, _)| k == query)
                        .map(|(_, v)| v.as_str())
                        .or_else(|| accepted_car.as_ref().and_then(|r| r.param(accept)))
                };
                let dups = check_car_params(
                    param("car-version", "version"),
                    param("car-order", "order"),
                    param("car-dups", "dups"),
                )?;
                Ok(Format::Car { dups })
            }
            other => Err(plain(
                StatusCode::NOT_ACCEPTABLE,
                format!("format={other} is not served here: this trustless gateway answers format=raw or format=car"),
            )),
        };
    }
    let accept: Vec<&str> = accept_entries(headers).collect();
    if accept.is_empty() {
        return Err(plain(
            StatusCode::BAD_REQUEST,
            "this is a trustless gateway: ask for ?format=raw or ?format=car, or send Accept: application/vnd.ipld.raw or application/vnd.ipld.car",
        ));
    }
    let mut refusal = None;
    for entry in &accept {
        let range = parse_media_range(entry);
        if range.param("q").and_then(|q| q.parse::<f32>().ok()) == Some(0.0) {
            continue;
        }
        match range.media.as_str() {
            RAW_TYPE => return Ok(Format::Raw),
            CAR_TYPE => match check_car_params(range.param("version"), range.param("order"), range.param("dups")) {
                Ok(dups) => return Ok(Format::Car { dups }),
                Err(response) => refusal = refusal.or(Some(response)),
            },
            _ => {}
        }
    }
    Err(refusal.unwrap_or_else(|| {
        plain(
            StatusCode::NOT_ACCEPTABLE,
            format!(
                "none of Accept: {} is served here: this trustless gateway answers application/vnd.ipld.raw or application/vnd.ipld.car",
                accept.join(", ")
            ),
        )
    }))
}

fn accept_entries(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// CAR version 1 only; any order (we send dfs, which satisfies `unk`); `Ok(true)` when the client
/// asks for duplicates (`dups=y`), which the spec then requires.
fn check_car_params(version: Option<&str>, order: Option<&str>, dups: Option<&str>) -> Result<bool, Response> {
    let refuse = |what: String| Err(plain(StatusCode::NOT_ACCEPTABLE, what));
    match version {
        None | Some("1") => {}
        Some(v) => return refuse(format!("CAR version {v} is not served here, only version=1")),
    }
    match order {
        None | Some("dfs") | Some("unk") => {}
        Some(o) => return refuse(format!("CAR order {o} is not served here, only order=dfs")),
    }
    match dups {
        None | Some("n") => Ok(false),
        Some("y") => Ok(true),
        Some(d) => refuse(format!("CAR dups={d} is not understood (y or n)")),
    }
}

/// `dag-scope`; `entity-bytes` implies `entity`, and for the codecs served here (DAG-CBOR maps
/// and single raw blocks) the spec makes that the whole answer.
fn scope(params: &[(String, String)]) -> Result<Scope, Response> {
    if params.iter().any(|(k, _)| k == "entity-bytes") {
        return Ok(Scope::Entity);
    }
    match params.iter().find(|(k, _)| k == "dag-scope").map(|(_, v)| v.as_str()) {
        None | Some("all") => Ok(Scope::All),
        Some("entity") => Ok(Scope::Entity),
        Some("block") => Ok(Scope::Block),
        Some(other) => Err(plain(
            StatusCode::BAD_REQUEST,
            format!("dag-scope={other} is not one of all, entity, block"),
        )),
    }
}

/// A block from the store, or from the CID itself for identity hashes.
fn lookup(store: &dyn BlockStore, cid: &Cid) -> Option<Bytes> {
    if cid.hash().code() == IDENTITY {
        return Some(Bytes::copy_from_slice(cid.hash().digest()));
    }
    store.get(cid)
}

async fn serve(
    State(store): State<Arc<dyn BlockStore>>,
    method: Method,
    UrlPath(cid_text): UrlPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Ok(cid) = Cid::try_from(cid_text.as_str()) else {
        return plain(StatusCode::BAD_REQUEST, format!("invalid CID {cid_text:?}"));
    };
    let params = query_pairs(query.as_deref());
    let format = match negotiate(&params, &headers) {
        Ok(format) => format,
        Err(response) => return response,
    };
    let scope = match format {
        Format::Car { .. } => match scope(&params) {
            Ok(scope) => scope,
            Err(response) => return response,
        },
        Format::Raw => Scope::Block,
    };
    let Some(root) = lookup(&*store, &cid) else {
        // This gateway never fetches from elsewhere, so "not cached" and "not found" coincide;
        // the spec still wants 412 for `only-if-cached`.
        let only_if_cached = headers
            .get_all(header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|d| d.trim().eq_ignore_ascii_case("only-if-cached")));
        let status = if only_if_cached {
            StatusCode::PRECONDITION_FAILED
        } else {
            StatusCode::NOT_FOUND
        };
        return plain(status, format!("{cid} is not in this gateway's store"));
    };
    let (etag, content_type, file_name) = match format {
        Format::Raw => (format!("\"{cid}.raw\""), RAW_TYPE, format!("{cid}.bin")),
        Format::Car { dups } => (
            format!("\"{cid}.car.dfs.{}.{}\"", if dups { "y" } else { "n" }, scope.name()),
            if dups { CAR_CONTENT_TYPE_DUPS } else { CAR_CONTENT_TYPE },
            format!("{cid}.car"),
        ),
    };
    let mut out = HeaderMap::new();
    let mut set = |name: header::HeaderName, value: String| {
        if let Ok(value) = HeaderValue::try_from(value) {
            out.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, content_type.into());
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff".into());
    set(header::CACHE_CONTROL, CACHE_CONTROL.into());
    set(header::ETAG, etag.clone());
    set(header::VARY, "Accept".into());
    set(
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{file_name}\""),
    );
    set(
        header::HeaderName::from_static("x-ipfs-path"),
        format!("/ipfs/{cid_text}"),
    );
    set(header::HeaderName::from_static("x-ipfs-roots"), cid.to_string());
    if format == Format::Raw {
        set(header::CONTENT_LENGTH, root.len().to_string());
    }

    if if_none_match(&headers, &etag) {
        out.remove(header::CONTENT_LENGTH);
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    if method == Method::HEAD {
        // A raw block's length is set above; a CAR's is unknown until it is streamed, so its
        // HEAD gets a body of unknown size (no `Content-Length: 0`).
        let body = match format {
            Format::Raw => Body::empty(),
            Format::Car { .. } => Body::from_stream(futures_util::stream::empty::<Result<Bytes, std::io::Error>>()),
        };
        return (out, body).into_response();
    }
    let body = match format {
        Format::Raw => Body::from(root),
        Format::Car { dups } => Body::from_stream(car_stream(store, cid, root, scope, dups)),
    };
    (out, body).into_response()
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// The CAR, one chunk per section (the header goes with the first block).
struct CarWalk {
    store: Arc<dyn BlockStore>,
    scope: Scope,
    /// Send a block each time it is met (`dups=y`), not once.
    dups: bool,
    /// Next CIDs to visit, top last; the root's data rides along with it.
    stack: Vec<(Cid, Option<Bytes>)>,
    seen: HashSet<Cid>,
    header: Option<Bytes>,
}

fn car_stream(
    store: Arc<dyn BlockStore>,
    root: Cid,
    data: Bytes,
    scope: Scope,
    dups: bool,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let walk = CarWalk {
        store,
        scope,
        dups,
        stack: vec![(root, Some(data))],
        seen: HashSet::new(),
        header: Some(car_header(&root)),
    };
    futures_util::stream::unfold(Some(walk), |walk| async move {
        let mut walk = walk?;
        match walk.next_section() {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(walk))),
            Ok(None) => None,
            Err(missing) => {
                tracing::warn!(%missing, "trustless gateway: a block under the requested root is missing; CAR cut short");
                let error = std::io::Error::other(format!("{missing} is missing from the store"));
                Some((Err(error), None))
            }
        }
    })
}

impl CarWalk {
    /// The next section (with the header before the first), `None` at the end, `Err(cid)` for a
    /// block the store lacks.
    fn next_section(&mut self) -> Result<Option<Bytes>, Cid> {
        loop {
            let Some((cid, data)) = self.stack.pop() else {
                return Ok(None);
            };
            if !self.seen.insert(cid) && !self.dups {
                continue;
            }
            let data = match data {
                Some(data) => data,
                None => lookup(&*self.store, &cid).ok_or(cid)?,
            };
            if self.scope == Scope::All && cid.codec() == DAG_CBOR {
                // Links in encoded order, as `ipfs dag export` meets them: for a snapshot this
                // is the manifest chain, then the envelopes, the file's own order.
                if let Some(links) = dag_cbor_links(&data) {
                    self.stack.extend(
                        links
                            .into_iter()
                            .rev()
                            .filter(|c| c.hash().code() != IDENTITY && (self.dups || !self.seen.contains(c)))
                            .map(|c| (c, None)),
                    );
                }
            }
            let cid_bytes = cid.to_bytes();
            let header = self.header.take();
            let mut chunk =
                BytesMut::with_capacity(header.as_ref().map_or(0, Bytes::len) + 10 + cid_bytes.len() + data.len());
            if let Some(header) = header {
                chunk.put(header);
            }
            put_varint(&mut chunk, (cid_bytes.len() + data.len()) as u64);
            chunk.put_slice(&cid_bytes);
            chunk.put(data);
            return Ok(Some(chunk.freeze()));
        }
    }
}

/// varint(len) and the DAG-CBOR header `{roots: [root], version: 1}`.
fn car_header(root: &Cid) -> Bytes {
    // A writer given no blocks holds exactly the header.
    let writer = crate::car::CarWriter::new(Vec::new(), &[*root]).expect("one root");
    Bytes::from(writer.finish().expect("writing to memory"))
}

fn put_varint(out: &mut BytesMut, mut value: u64) {
    while value >= 0x80 {
        out.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    out.put_u8(value as u8);
}
