//! A fake IPFS Pinning Service (`ipfs-pinning-service.yaml` 0.1.x of
//! <https://github.com/ipfs/pinning-services-api-spec>): `POST /pins`, `GET /pins`,
//! `GET /pins/{requestid}`, `DELETE /pins/{requestid}`.
//!
//! What it models:
//! - `Authorization: Bearer <token>` on every call, else 401 `{"error": {"reason":
//!   "UNAUTHORIZED", "details": ..}}`; errors in the spec's `Failure` shape;
//! - `POST /pins` takes a `Pin` (`cid` required and a valid CID, `name` up to 255 characters,
//!   `origins`, `meta`), answers 202 with a `PinStatus` in `queued`, with a fresh `requestid`,
//!   a unique `created` timestamp and one delegate;
//! - the status moves one step (`queued` → `pinning` → `pinned`) every
//!   [`PinningFaults::gets_per_step`] status reads of that request, or stays `queued`
//!   ([`PinningFaults::stall`]), or goes to `failed` ([`PinningFaults::fail`]);
//! - `GET /pins` filters by `cid` (repeatable), `name` (exact), `status` (repeatable; only
//!   `pinned` when absent, as the spec says), newest first, `limit` (default 10, 1..=1000),
//!   `count` = all matches.
//!
//! What it does not model: `before`/`after`/`meta`/`match` filters, replacing a pin
//! (`POST /pins/{requestid}`), actually fetching the DAG (it never looks at blocks),
//! `info.status_details` beyond a fixed text for failures, insufficient funds (409), rate limits.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cid::Cid;
use serde_json::{Value, json};

use super::Server;
use super::kubo::percent_decode;

/// Behaviour switches. Default: one status read per step, so a pin is `pinned` on the second
/// read after creation.
#[derive(Debug, Clone)]
pub struct PinningFaults {
    pub gets_per_step: u32,
    /// Requests never leave `queued`.
    pub stall: bool,
    /// Requests go to `failed` on their first status read.
    pub fail: bool,
}

impl Default for PinningFaults {
    fn default() -> Self {
        PinningFaults {
            gets_per_step: 1,
            stall: false,
            fail: false,
        }
    }
}

struct Pin {
    requestid: String,
    cid: String,
    name: Option<String>,
    created: String,
    status: &'static str,
    reads: u32,
}

impl Pin {
    fn to_json(&self) -> Value {
        let mut pin = json!({"cid": self.cid});
        if let Some(name) = &self.name {
            pin["name"] = json!(name);
        }
        let mut status = json!({
            "requestid": self.requestid,
            "status": self.status,
            "created": self.created,
            "pin": pin,
            "delegates": ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWFakePinningServiceDelegate"],
        });
        if self.status == "failed" {
            status["info"] = json!({"status_details": "the fake was told to fail"});
        }
        status
    }
}

struct Inner {
    token: String,
    pins: Vec<Pin>,
    faults: PinningFaults,
    next_id: u64,
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake; dropping it stops it.
pub struct FakePinning {
    shared: Shared,
    server: Server,
}

impl FakePinning {
    /// Starts the fake, accepting `token` as the only access token.
    pub async fn start(token: &str) -> std::io::Result<Self> {
        let shared = Arc::new(Mutex::new(Inner {
            token: token.to_owned(),
            pins: Vec::new(),
            faults: PinningFaults::default(),
            next_id: 1,
        }));
        let app = Router::new()
            .route("/pins", get(list).post(add))
            .route("/pins/{requestid}", get(status).delete(remove))
            .with_state(shared.clone());
        Ok(FakePinning {
            shared,
            server: Server::start(app).await?,
        })
    }

    /// The API endpoint (what goes before `/pins`).
    pub fn endpoint(&self) -> String {
        self.server.url()
    }

    pub fn set_faults(&self, faults: PinningFaults) {
        lock(&self.shared).faults = faults;
    }

    /// `(cid, status)` of every request, oldest first.
    pub fn pins(&self) -> Vec<(String, String)> {
        lock(&self.shared)
            .pins
            .iter()
            .map(|p| (p.cid.clone(), p.status.to_owned()))
            .collect()
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

fn failure(status: StatusCode, reason: &str, details: &str) -> Response {
    let body = json!({"error": {"reason": reason, "details": details}});
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn ok(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn authorized(inner: &Inner, headers: &HeaderMap) -> Result<(), Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if given == Some(inner.token.as_str()) {
        Ok(())
    } else {
        Err(failure(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Access token is missing or invalid",
        ))
    }
}

async fn add(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut inner = lock(&shared);
    if let Err(r) = authorized(&inner, &headers) {
        return r;
    }
    let Ok(pin) = serde_json::from_slice::<Value>(&body) else {
        return failure(StatusCode::BAD_REQUEST, "BAD_REQUEST", "the body is not JSON");
    };
    let Some(cid) = pin.get("cid").and_then(Value::as_str) else {
        return failure(StatusCode::BAD_REQUEST, "BAD_REQUEST", "cid is required");
    };
    if Cid::try_from(cid).is_err() {
        return failure(StatusCode::BAD_REQUEST, "BAD_REQUEST", "cid is not a valid CID");
    }
    let name = match pin.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(n)) if n.chars().count() <= 255 => Some(n.clone()),
        Some(_) => {
            return failure(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "name must be a string of at most 255 characters",
            );
        }
    };
    let id = inner.next_id;
    inner.next_id += 1;
    let pin = Pin {
        requestid: format!("fake-{id:08}"),
        cid: cid.to_owned(),
        name,
        // Unique per request, as pagination by `created` requires.
        created: format!("2026-01-01T00:00:00.{id:06}Z"),
        status: "queued",
        reads: 0,
    };
    let body = pin.to_json();
    inner.pins.push(pin);
    ok(StatusCode::ACCEPTED, body)
}

async fn status(State(shared): State<Shared>, Path(requestid): Path<String>, headers: HeaderMap) -> Response {
    let mut guard = lock(&shared);
    let inner = &mut *guard;
    if let Err(r) = authorized(inner, &headers) {
        return r;
    }
    let faults = inner.faults.clone();
    let Some(pin) = inner.pins.iter_mut().find(|p| p.requestid == requestid) else {
        return failure(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The specified resource was not found",
        );
    };
    pin.reads += 1;
    if faults.fail && pin.status != "pinned" {
        pin.status = "failed";
    } else if !faults.stall && pin.reads.is_multiple_of(faults.gets_per_step.max(1)) {
        pin.status = match pin.status {
            "queued" => "pinning",
            "pinning" => "pinned",
            s => s,
        };
    }
    ok(StatusCode::OK, pin.to_json())
}

async fn remove(State(shared): State<Shared>, Path(requestid): Path<String>, headers: HeaderMap) -> Response {
    let mut inner = lock(&shared);
    if let Err(r) = authorized(&inner, &headers) {
        return r;
    }
    let before = inner.pins.len();
    inner.pins.retain(|p| p.requestid != requestid);
    if inner.pins.len() == before {
        return failure(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The specified resource was not found",
        );
    }
    StatusCode::ACCEPTED.into_response()
}

async fn list(State(shared): State<Shared>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let inner = lock(&shared);
    if let Err(r) = authorized(&inner, &headers) {
        return r;
    }
    let (mut cids, mut statuses, mut name, mut limit) = (Vec::new(), Vec::new(), None, 10usize);
    for pair in query.as_deref().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            // Both `?cid=a&cid=b` and `?cid=a,b` appear in the wild.
            "cid" => cids.extend(v.split(',').map(str::to_owned)),
            "status" => {
                for s in v.split(',') {
                    if !matches!(s, "queued" | "pinning" | "pinned" | "failed") {
                        return failure(StatusCode::BAD_REQUEST, "BAD_REQUEST", &format!("unknown status {s:?}"));
                    }
                    statuses.push(s.to_owned());
                }
            }
            "name" => name = Some(v),
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => limit = n,
                _ => return failure(StatusCode::BAD_REQUEST, "BAD_REQUEST", "limit must be 1 to 1000"),
            },
            _ => {}
        }
    }
    if statuses.is_empty() {
        statuses.push("pinned".into());
    }
    let matching: Vec<&Pin> = inner
        .pins
        .iter()
        .rev()
        .filter(|p| cids.is_empty() || cids.contains(&p.cid))
        .filter(|p| statuses.iter().any(|s| s == p.status))
        .filter(|p| name.as_ref().is_none_or(|n| p.name.as_ref() == Some(n)))
        .collect();
    let results: Vec<Value> = matching.iter().take(limit).map(|p| p.to_json()).collect();
    ok(StatusCode::OK, json!({"count": matching.len(), "results": results}))
}
