//! Client of kubo's RPC API (<https://docs.ipfs.tech/reference/kubo/rpc/>), normally on
//! `http://127.0.0.1:5001`.
//!
//! Every call is a `POST /api/v0/<command>?arg=..`; kubo refuses GET with 405. Errors come as
//! `{"Message": .., "Code": .., "Type": "error"}` with HTTP 500 (400 for a bad argument), or,
//! for a streaming command that fails midway, in an `X-Stream-Error` trailer after a 200.
//! `dag/import` takes the CAR as `multipart/form-data` and answers one JSON line per root,
//! `{"Root": {"Cid": {"/": ..}, "PinErrorMsg": ..}}`.
//!
//! Nothing kubo returns is trusted: `block_get` hashes the bytes, `fetch_car` verifies every
//! block and the completeness of the DAG.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use http::{HeaderMap, HeaderValue, Method, header};
use hyper::body::Incoming;
use serde::Deserialize;

use super::error::{IpfsError, car_reason, parse_cid};
use super::transport::{self, Http};
use super::verify::CarStats;
use crate::block::{self, MAX_BLOCK, Verdict};
use crate::car::CarReader;

const SERVICE: &str = "kubo";
/// Room for small JSON answers and error bodies.
const SMALL_BODY: u64 = 1 << 20;
/// Largest CAR `fetch_car` accepts. Snapshots are bounded by the store size; this only stops a
/// runaway stream from filling the disk.
pub const DEFAULT_MAX_CAR: u64 = 8 << 30;

/// kubo's error body.
#[derive(Debug, Deserialize)]
pub(crate) struct KuboErrorBody {
    #[serde(rename = "Message")]
    pub message: String,
    #[serde(rename = "Type")]
    pub kind: String,
}

/// A kubo node reached over its RPC API.
#[derive(Clone)]
pub struct KuboClient {
    http: Http,
    max_car: u64,
    offline: bool,
}

impl KuboClient {
    /// `api_url` is the RPC base, e.g. `http://127.0.0.1:5001` (a trailing `/` is fine). No
    /// request is made here; [`KuboClient::version`] probes the node.
    pub fn new(api_url: &str) -> Result<Self, IpfsError> {
        Ok(KuboClient {
            http: Http::new(SERVICE, api_url, "http://127.0.0.1:5001")?,
            max_car: DEFAULT_MAX_CAR,
            offline: false,
        })
    }

    /// Adds kubo's global `offline=true` to every call: only blocks the node already holds
    /// are used, so an unknown CID is "not found" at once instead of a network search that
    /// lasts until the timeout. Off by default, since warming through a local node usually
    /// wants it to fetch from the network.
    pub fn with_offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Bounds connecting, waiting for each answer, and each pause inside a body (30 s by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.http.set_timeout(timeout);
        self
    }

    /// The largest CAR [`KuboClient::fetch_car`] accepts (8 GiB by default).
    pub fn with_max_car(mut self, limit: u64) -> Self {
        self.max_car = limit;
        self
    }

    pub fn api_url(&self) -> &str {
        self.http.base()
    }

    /// `version`: the node's version string, e.g. `0.32.1`. The cheapest probe that the API is
    /// there and is kubo.
    pub async fn version(&self) -> Result<String, IpfsError> {
        #[derive(Deserialize)]
        struct Version {
            #[serde(rename = "Version")]
            version: String,
        }
        let body = self.call("version", "version", "", None).await?;
        let v: Version = self.json("version", &body)?;
        Ok(v.version)
    }

    /// `dag/import`: sends a CAR and returns the roots kubo reports. With `pin_roots`, kubo pins
    /// each root recursively, which fails unless the whole DAG is in the CAR (or already held).
    pub async fn dag_import(&self, car: Bytes, pin_roots: bool) -> Result<Vec<Cid>, IpfsError> {
        // Refuse what kubo would refuse before sending it, and learn the roots it should report.
        let header_roots = CarReader::new(&car[..])
            .map_err(|e| IpfsError::BadCar {
                source_url: "the CAR to import".into(),
                reason: car_reason(&e),
            })?
            .roots()
            .to_vec();
        let len = car.len() as u64;
        let content = futures_util::stream::iter([Ok::<_, std::io::Error>(car)]);
        self.import(content, len, header_roots, pin_roots).await
    }

    /// Like [`KuboClient::dag_import`], streaming the CAR from a file instead of memory.
    pub async fn dag_import_file(&self, car: &Path, pin_roots: bool) -> Result<Vec<Cid>, IpfsError> {
        let path = car.to_owned();
        let header_roots = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&path).map_err(|e| transport::io_error("opening", &path, e))?;
            CarReader::new(file)
                .map(|r| r.roots().to_vec())
                .map_err(|e| IpfsError::BadCar {
                    source_url: path.display().to_string(),
                    reason: car_reason(&e),
                })
        })
        .await
        .map_err(|e| transport::io_error("reading", car, std::io::Error::other(e.to_string())))??;
        let file = tokio::fs::File::open(car)
            .await
            .map_err(|e| transport::io_error("opening", car, e))?;
        let len = file
            .metadata()
            .await
            .map_err(|e| transport::io_error("reading", car, e))?
            .len();
        self.import(transport::file_chunks(file), len, header_roots, pin_roots)
            .await
    }

    /// Sends `content` (`len` bytes) as the file part of a `dag/import` form.
    async fn import(
        &self,
        content: impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static,
        len: u64,
        header_roots: Vec<Cid>,
        pin_roots: bool,
    ) -> Result<Vec<Cid>, IpfsError> {
        const OP: &str = "dag/import";
        let boundary = boundary();
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"snapshot.car\"\r\n\
             Content-Type: application/vnd.ipld.car\r\n\r\n"
        );
        let tail = format!("\r\n--{boundary}--\r\n");
        let mut headers = HeaderMap::new();
        let content_type = format!("multipart/form-data; boundary={boundary}");
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&content_type).expect("the boundary is ASCII"),
        );
        let total = head.len() as u64 + len + tail.len() as u64;
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
        let body = transport::framed(Bytes::from(head), content, Bytes::from(tail));
        let query = format!("pin-roots={pin_roots}");
        let resp = self
            .http
            .send(OP, Method::POST, &self.path(OP, &query), headers, body)
            .await?;
        let body = self.answer(OP, resp, None).await?;

        #[derive(Deserialize)]
        struct Line {
            #[serde(rename = "Root")]
            root: Option<RootLine>,
        }
        #[derive(Deserialize)]
        struct RootLine {
            #[serde(rename = "Cid")]
            cid: Link,
            #[serde(rename = "PinErrorMsg", default)]
            pin_error: String,
        }
        #[derive(Deserialize)]
        struct Link {
            #[serde(rename = "/")]
            cid: String,
        }
        let mut roots = Vec::new();
        for line in body
            .split(|b| *b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        {
            if let Ok(err) = serde_json::from_slice::<KuboErrorBody>(line)
                && err.kind == "error"
            {
                return Err(self.api_error(OP, 200, err.message));
            }
            let line: Line = self.json(OP, line)?;
            let Some(root) = line.root else { continue };
            let cid = parse_cid(&root.cid.cid).map_err(|e| self.http.bad_response(OP, e.to_string()))?;
            if !root.pin_error.is_empty() {
                return Err(self.api_error(OP, 200, format!("pinning root {cid} failed: {}", root.pin_error)));
            }
            roots.push(cid);
        }
        if !pin_roots {
            // kubo reports roots only when it pins them.
            return Ok(header_roots);
        }
        if roots.is_empty() {
            return Err(self.http.bad_response(OP, "no root was reported pinned".into()));
        }
        Ok(roots)
    }

    /// `block/get`: one block, checked against `cid` before it is returned.
    pub async fn block_get(&self, cid: &Cid) -> Result<Bytes, IpfsError> {
        const OP: &str = "block/get";
        let data = self.call(OP, OP, &arg(cid), Some(cid)).await?;
        match block::verify(cid, &data) {
            Verdict::Match => Ok(data),
            Verdict::Mismatch => Err(IpfsError::Tampered {
                service: SERVICE,
                cid: *cid,
            }),
            Verdict::UnsupportedHash(code) => Err(self.http.bad_response(
                OP,
                format!("{cid} uses hash function 0x{code:x}; only sha2-256 can be checked"),
            )),
        }
    }

    /// `pin/add`: pins `cid` recursively (kubo fetches what it lacks, so bound this with the
    /// client's timeout when the DAG may not be local).
    pub async fn pin_add(&self, cid: &Cid) -> Result<(), IpfsError> {
        const OP: &str = "pin/add";
        #[derive(Deserialize)]
        struct Pins {
            #[serde(rename = "Pins", default)]
            pins: Option<Vec<String>>,
        }
        let body = self
            .call(OP, OP, &format!("{}&recursive=true", arg(cid)), Some(cid))
            .await?;
        // Progress lines may come first; the last line lists the pins.
        let last = body
            .split(|b| *b == b'\n')
            .rfind(|l| !l.iter().all(u8::is_ascii_whitespace))
            .unwrap_or_default();
        let pins: Pins = self.json(OP, last)?;
        let pinned = pins.pins.unwrap_or_default();
        if pinned.iter().any(|p| parse_cid(p).is_ok_and(|p| same_block(&p, cid))) {
            Ok(())
        } else {
            Err(self
                .http
                .bad_response(OP, format!("the answer does not list {cid} as pinned: {pinned:?}")))
        }
    }

    /// `pin/ls --type=recursive`: whether `cid` is pinned recursively. kubo answers "not pinned"
    /// with an error, which is `Ok(false)` here.
    pub async fn pin_ls(&self, cid: &Cid) -> Result<bool, IpfsError> {
        const OP: &str = "pin/ls";
        #[derive(Deserialize)]
        struct Keys {
            #[serde(rename = "Keys")]
            keys: std::collections::HashMap<String, serde_json::Value>,
        }
        let query = format!("{}&type=recursive", arg(cid));
        let resp = self
            .http
            .send(
                OP,
                Method::POST,
                &self.path(OP, &query),
                HeaderMap::new(),
                transport::empty(),
            )
            .await?;
        let body = match self.answer(OP, resp, Some(cid)).await {
            Ok(body) => body,
            Err(IpfsError::Api { message, .. }) if message.contains("not pinned") => return Ok(false),
            Err(e) => return Err(e),
        };
        let keys: Keys = self.json(OP, &body)?;
        Ok(keys
            .keys
            .keys()
            .any(|k| parse_cid(k).is_ok_and(|k| same_block(&k, cid))))
    }

    /// `dag/export`: the DAG under `root` as a CAR, every block verified and the DAG checked
    /// complete, written to `dest` (replaced only once the whole CAR checked out).
    pub async fn fetch_car(&self, root: &Cid, dest: &Path) -> Result<CarStats, IpfsError> {
        const OP: &str = "dag/export";
        let resp = self
            .http
            .send(
                OP,
                Method::POST,
                &self.path(OP, &arg(root)),
                HeaderMap::new(),
                transport::empty(),
            )
            .await?;
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            let body = self.http.read(OP, resp.into_body(), SMALL_BODY).await?;
            return Err(self.error_from(OP, status, &body, Some(root)));
        }
        let url = format!("{}/api/v0/{OP}?{}", self.http.base(), arg(root));
        super::fetch_verified(&self.http, OP, resp, self.max_car, root, dest, &url).await
    }

    /// POSTs `command?query` with no body and returns the body of a successful answer.
    async fn call(&self, op: &'static str, command: &str, query: &str, cid: Option<&Cid>) -> Result<Bytes, IpfsError> {
        let resp = self
            .http
            .send(
                op,
                Method::POST,
                &self.path(command, query),
                HeaderMap::new(),
                transport::empty(),
            )
            .await?;
        self.answer(op, resp, cid).await
    }

    async fn answer(
        &self,
        op: &'static str,
        resp: http::Response<Incoming>,
        cid: Option<&Cid>,
    ) -> Result<Bytes, IpfsError> {
        let status = resp.status();
        let limit = if op == "block/get" {
            MAX_BLOCK as u64 + 1024
        } else {
            SMALL_BODY
        };
        let body = self.http.read(op, resp.into_body(), limit).await?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(self.error_from(op, status.as_u16(), &body, cid))
        }
    }

    fn error_from(&self, op: &'static str, status: u16, body: &[u8], cid: Option<&Cid>) -> IpfsError {
        if status == 401 || status == 403 {
            return IpfsError::Unauthorized {
                service: SERVICE,
                status,
            };
        }
        match serde_json::from_slice::<KuboErrorBody>(body) {
            Ok(err) => {
                let lower = err.message.to_lowercase();
                if let Some(cid) = cid
                    && (lower.contains("not found") || lower.contains("could not find"))
                {
                    return IpfsError::NotFound {
                        service: SERVICE,
                        cid: *cid,
                    };
                }
                self.api_error(op, status, err.message)
            }
            Err(_) => {
                let text: String = String::from_utf8_lossy(body).chars().take(200).collect();
                self.http
                    .bad_response(op, format!("HTTP {status} without kubo's error body: {text:?}"))
            }
        }
    }

    fn api_error(&self, op: &'static str, status: u16, message: String) -> IpfsError {
        IpfsError::Api {
            service: SERVICE,
            op,
            status,
            message,
        }
    }

    fn json<'a, T: Deserialize<'a>>(&self, op: &'static str, body: &'a [u8]) -> Result<T, IpfsError> {
        serde_json::from_slice(body).map_err(|e| self.http.bad_response(op, format!("not the expected JSON: {e}")))
    }

    fn path(&self, command: &str, query: &str) -> String {
        let offline = if self.offline { "offline=true" } else { "" };
        let sep = if query.is_empty() || offline.is_empty() {
            ""
        } else {
            "&"
        };
        if query.is_empty() && offline.is_empty() {
            format!("/api/v0/{command}")
        } else {
            format!("/api/v0/{command}?{query}{sep}{offline}")
        }
    }
}

fn arg(cid: &Cid) -> String {
    format!("arg={}", transport::encode_query(&cid.to_string()))
}

/// kubo may answer with the CIDv0 or another base of the same CID; compare what they name.
fn same_block(a: &Cid, b: &Cid) -> bool {
    a == b || a.hash() == b.hash()
}

/// A multipart boundary unlikely to occur in a CAR: a fixed prefix and the clock's nanoseconds.
fn boundary() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("ghp2p-{nanos:x}-{:x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}
