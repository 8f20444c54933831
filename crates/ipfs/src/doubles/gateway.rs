//! A fake trustless gateway serving a block map: `GET /ipfs/{cid}?format=raw|car`.
//!
//! What it models (<https://specs.ipfs.tech/http-gateways/trustless-gateway/>):
//! - the response type from `format` (which wins) or `Accept`; neither is 400, as a gateway in
//!   strict trustless mode answers; other formats 400;
//! - raw: the block as `application/vnd.ipld.raw`, 404 when the root block is missing;
//! - car: `application/vnd.ipld.car; version=1; order=dfs; dups=n`, the requested CID as header
//!   root, the DAG depth-first (DAG-CBOR links), each block once; a missing child ends the
//!   stream early after the 200, as the spec allows;
//! - `Content-Disposition: attachment` and an `Etag`;
//! - fault switches ([`GatewayFaults`]): alter a block, cut the CAR after N blocks, send blocks
//!   out of order with a duplicate, stall halfway, answer with the wrong content type, answer 500.
//!
//! What it does not model: paths under the CID, `dag-scope=block|entity`, `entity-bytes`,
//! `car-order`/`car-dups` negotiation (always dfs, no duplicates), HEAD, IPNS, the `bafkqaaa`
//! probe, `Cache-Control: only-if-cached`, recursive fetching from the network.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cid::Cid;
use futures_util::StreamExt;

use super::kubo::{altered, percent_decode};
use super::{Blocks, Server, car_bytes};

/// Failures to inject. All off by default.
#[derive(Debug, Clone, Default)]
pub struct GatewayFaults {
    /// Flip a byte of this block whenever it is served.
    pub alter_block: Option<Cid>,
    /// Serve only this many blocks of a CAR, then end the body (a clean cut between sections).
    pub truncate_after_blocks: Option<usize>,
    /// Send the first half of a CAR, then nothing, keeping the connection open.
    pub stall: bool,
    /// Send a CAR's blocks in reverse order, with the first one repeated at the end: the spec
    /// lets a gateway use any order (`order=unk`) and send duplicates unless asked otherwise.
    pub shuffle: bool,
    /// Answer CAR requests with `text/html`, as a plain (non-trustless) gateway might.
    pub wrong_content_type: bool,
    /// Answer everything with 500.
    pub fail: bool,
}

#[derive(Default)]
struct Inner {
    blocks: Blocks,
    faults: GatewayFaults,
    requests: u32,
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake; dropping it stops it.
pub struct FakeGateway {
    shared: Shared,
    server: Server,
}

impl FakeGateway {
    /// Starts serving `blocks`.
    pub async fn start(blocks: impl IntoIterator<Item = (Cid, Bytes)>) -> std::io::Result<Self> {
        let shared = Shared::default();
        {
            let mut inner = lock(&shared);
            for (cid, data) in blocks {
                inner.blocks.insert(&cid, data);
            }
        }
        let app = Router::new()
            .route("/ipfs/{cid}", get(serve))
            .with_state(shared.clone());
        Ok(FakeGateway {
            shared,
            server: Server::start(app).await?,
        })
    }

    /// Starts serving the blocks of a CAR (read without checks, so tests may plant bad ones).
    pub async fn from_car(car: &[u8]) -> std::io::Result<Self> {
        let blocks: Vec<(Cid, Bytes)> = crate::car::CarReader::new(car)
            .map_err(std::io::Error::other)?
            .filter_map(Result::ok)
            .map(|b| (b.cid, b.data))
            .collect();
        Self::start(blocks).await
    }

    /// The gateway origin, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn set_faults(&self, faults: GatewayFaults) {
        lock(&self.shared).faults = faults;
    }

    /// Requests served so far.
    pub fn requests(&self) -> u32 {
        lock(&self.shared).requests
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

enum Format {
    Raw,
    Car,
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response()
}

async fn serve(
    State(shared): State<Shared>,
    Path(cid): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut inner = lock(&shared);
    inner.requests += 1;
    if inner.faults.fail {
        return (StatusCode::INTERNAL_SERVER_ERROR, "failed\n").into_response();
    }
    let Ok(cid) = Cid::try_from(cid.as_str()) else {
        return bad_request(&format!("invalid CID {cid:?}"));
    };
    let format_param = query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == "format")
        .map(|(_, v)| percent_decode(v));
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let format = match format_param.as_deref() {
        Some("raw") => Format::Raw,
        Some("car") => Format::Car,
        Some(other) => return bad_request(&format!("unsupported format {other:?}")),
        None if accept.contains("application/vnd.ipld.raw") => Format::Raw,
        None if accept.contains("application/vnd.ipld.car") => Format::Car,
        None => return bad_request("this is a trustless gateway: ask for format=raw or format=car"),
    };
    let Some(root) = inner.blocks.get(&cid).cloned() else {
        return (StatusCode::NOT_FOUND, format!("{cid} not found\n")).into_response();
    };
    let alter = |c: &Cid, data: Bytes| match &inner.faults.alter_block {
        Some(bad) if bad.hash() == c.hash() => altered(&data),
        _ => data,
    };
    match format {
        Format::Raw => {
            let data = alter(&cid, root);
            let headers = [
                (header::CONTENT_TYPE, "application/vnd.ipld.raw".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{cid}.bin\""),
                ),
                (header::ETAG, format!("\"{cid}.raw\"")),
            ];
            (headers, data).into_response()
        }
        Format::Car => {
            let (blocks, _missing) = inner.blocks.dag(&cid);
            let mut blocks: Vec<(Cid, Bytes)> = blocks.into_iter().map(|(c, d)| (c, alter(&c, d))).collect();
            if inner.faults.shuffle && !blocks.is_empty() {
                blocks.reverse();
                blocks.push(blocks[0].clone());
            }
            if let Some(n) = inner.faults.truncate_after_blocks {
                blocks.truncate(n);
            }
            let content_type = if inner.faults.wrong_content_type {
                "text/html; charset=utf-8"
            } else {
                "application/vnd.ipld.car; version=1; order=dfs; dups=n"
            };
            let content_type = if inner.faults.shuffle {
                "application/vnd.ipld.car; version=1; order=unk; dups=y"
            } else {
                content_type
            };
            let headers = [
                (header::CONTENT_TYPE, content_type.to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{cid}.car\""),
                ),
                (header::ETAG, format!("\"{cid}.car.dfs.n\"")),
            ];
            let car = Bytes::from(car_bytes(&cid, &blocks));
            if inner.faults.stall {
                let half = car.slice(..car.len() / 2);
                let first = futures_util::stream::iter([Ok::<_, std::io::Error>(half)]);
                let body = Body::from_stream(first.chain(futures_util::stream::pending()));
                return (headers, body).into_response();
            }
            (headers, Body::from(car)).into_response()
        }
    }
}
