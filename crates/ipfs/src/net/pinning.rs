//! Client of the IPFS Pinning Service API
//! (<https://github.com/ipfs/pinning-services-api-spec>, `ipfs-pinning-service.yaml` 0.1.x).
//!
//! `POST /pins` with `{"cid", "name"}` and `Authorization: Bearer <token>` answers 202 with a
//! `PinStatus` (`requestid`, `status`, `created`, `pin`, `delegates`, `info`); the status moves
//! `queued` → `pinning` → `pinned`, or `failed`, and is polled with `GET /pins/{requestid}`.
//! `GET /pins?cid=..&status=..` lists pins; without a status filter services list only `pinned`
//! ones. Errors are `{"error": {"reason", "details"}}`; 401 means a missing or bad token.

use std::fmt;
use std::time::Duration;

use cid::Cid;
use http::{HeaderMap, HeaderValue, Method, header};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::error::{IpfsError, parse_cid};
use super::transport::{self, Http, encode_query};

const SERVICE: &str = "pinning service";
const SMALL_BODY: u64 = 4 << 20;

/// Where a pin request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinState {
    Queued,
    Pinning,
    Pinned,
    Failed,
}

impl PinState {
    pub fn as_str(self) -> &'static str {
        match self {
            PinState::Queued => "queued",
            PinState::Pinning => "pinning",
            PinState::Pinned => "pinned",
            PinState::Failed => "failed",
        }
    }
}

/// A pin request as the service reports it (the spec's `PinStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinStatus {
    pub requestid: String,
    pub status: PinState,
    pub cid: Cid,
    pub name: Option<String>,
    /// RFC 3339 timestamp the service gave the request.
    pub created: String,
    /// Multiaddrs the service asks data providers to connect to.
    pub delegates: Vec<String>,
    /// `info.status_details`, if the service gave one (queue position, failure reason).
    pub details: Option<String>,
}

impl fmt::Display for PinStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (request {})", self.status.as_str(), self.requestid)?;
        if let Some(d) = &self.details {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct WireStatus {
    requestid: String,
    status: PinState,
    created: String,
    pin: WirePin,
    #[serde(default)]
    delegates: Vec<String>,
    #[serde(default)]
    info: Option<std::collections::HashMap<String, String>>,
}

#[derive(Serialize, Deserialize)]
struct WirePin {
    cid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

#[derive(Deserialize)]
struct WireResults {
    #[allow(dead_code)]
    count: u64,
    results: Vec<WireStatus>,
}

#[derive(Deserialize)]
struct WireFailure {
    error: WireFailureInner,
}

#[derive(Deserialize)]
struct WireFailureInner {
    reason: String,
    #[serde(default)]
    details: Option<String>,
}

/// One pinning service endpoint with its access token.
#[derive(Clone)]
pub struct PinningClient {
    http: Http,
    auth: HeaderValue,
    poll: Duration,
}

impl fmt::Debug for PinningClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the token.
        f.debug_struct("PinningClient")
            .field("endpoint", &self.http.base())
            .finish()
    }
}

impl PinningClient {
    /// `endpoint` is the API base the service documents (the part before `/pins`).
    pub fn new(endpoint: &str, token: &str) -> Result<Self, IpfsError> {
        let http = Http::new(SERVICE, endpoint, "https://api.pinata.cloud/psa")?;
        let token = token.trim();
        if token.is_empty() {
            return Err(IpfsError::BadToken {
                service: SERVICE,
                reason: "it is empty",
            });
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| IpfsError::BadToken {
            service: SERVICE,
            reason: "it holds characters an HTTP header cannot carry",
        })?;
        auth.set_sensitive(true);
        Ok(PinningClient {
            http,
            auth,
            poll: Duration::from_millis(500),
        })
    }

    /// Bounds connecting and waiting for each answer (30 s by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.http.set_timeout(timeout);
        self
    }

    /// First pause between two status checks (500 ms by default); it doubles up to 5 s.
    pub fn with_poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Asks the service to pin `cid` under `name` and waits until it reports `pinned`. An
    /// existing `pinned` request for the same CID is reused. `failed` is an error; so is a
    /// deadline that passes first, carrying the last status seen (the pin may still complete).
    pub async fn pin(&self, cid: &Cid, name: &str, deadline: Duration) -> Result<PinStatus, IpfsError> {
        let until = Instant::now() + deadline;
        if let Some(done) = self
            .list(cid, &[PinState::Pinned])
            .await?
            .into_iter()
            .find(|p| p.status == PinState::Pinned)
        {
            return Ok(done);
        }
        let mut status = self.add(cid, name).await?;
        let mut pause = self.poll;
        loop {
            match status.status {
                PinState::Pinned => return Ok(status),
                PinState::Failed => {
                    return Err(IpfsError::PinFailed {
                        cid: *cid,
                        requestid: status.requestid,
                        details: status.details,
                    });
                }
                PinState::Queued | PinState::Pinning => {}
            }
            let now = Instant::now();
            if now >= until {
                return Err(IpfsError::PinDeadline {
                    cid: *cid,
                    after: deadline,
                    last: status,
                });
            }
            tokio::time::sleep(pause.min(until - now)).await;
            pause = (pause * 2).min(Duration::from_secs(5));
            let requestid = status.requestid.clone();
            status = match self.status(&requestid).await {
                Ok(s) => s,
                // Running out of time on the last check still reports what was seen before.
                Err(IpfsError::Timeout { .. }) if Instant::now() >= until => {
                    return Err(IpfsError::PinDeadline {
                        cid: *cid,
                        after: deadline,
                        last: status,
                    });
                }
                Err(e) => return Err(e),
            };
        }
    }

    /// `POST /pins`: a new pin request; returns the service's first status (usually `queued`).
    pub async fn add(&self, cid: &Cid, name: &str) -> Result<PinStatus, IpfsError> {
        const OP: &str = "POST /pins";
        let name: String = name.chars().take(255).collect();
        let body = serde_json::to_vec(&WirePin {
            cid: cid.to_string(),
            name: (!name.is_empty()).then_some(name),
        })
        .expect("a pin encodes");
        let mut headers = self.headers();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let body = self
            .request(OP, Method::POST, "/pins", headers, transport::full(body))
            .await?;
        self.parse_status(OP, &body)
    }

    /// `GET /pins/{requestid}`: the current status of one request.
    pub async fn status(&self, requestid: &str) -> Result<PinStatus, IpfsError> {
        const OP: &str = "GET /pins/{requestid}";
        let path = format!("/pins/{}", encode_query(requestid));
        let body = self
            .request(OP, Method::GET, &path, self.headers(), transport::empty())
            .await?;
        self.parse_status(OP, &body)
    }

    /// `GET /pins?cid=..&status=..`: this token's requests for `cid` in the given states.
    pub async fn list(&self, cid: &Cid, states: &[PinState]) -> Result<Vec<PinStatus>, IpfsError> {
        const OP: &str = "GET /pins";
        let mut path = format!("/pins?cid={}", encode_query(&cid.to_string()));
        for s in states {
            path.push_str("&status=");
            path.push_str(s.as_str());
        }
        let body = self
            .request(OP, Method::GET, &path, self.headers(), transport::empty())
            .await?;
        let results: WireResults = serde_json::from_slice(&body)
            .map_err(|e| self.http.bad_response(OP, format!("not a PinResults object: {e}")))?;
        results.results.into_iter().map(|w| self.convert(OP, w)).collect()
    }

    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, self.auth.clone());
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        headers
    }

    async fn request(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: transport::ReqBody,
    ) -> Result<bytes::Bytes, IpfsError> {
        let resp = self.http.send(op, method, path, headers, body).await?;
        let status = resp.status().as_u16();
        let body = self.http.read(op, resp.into_body(), SMALL_BODY).await?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        if status == 401 || status == 403 {
            return Err(IpfsError::Unauthorized {
                service: SERVICE,
                status,
            });
        }
        let message = match serde_json::from_slice::<WireFailure>(&body) {
            Ok(f) => match f.error.details {
                Some(d) => format!("{}: {d}", f.error.reason),
                None => f.error.reason,
            },
            Err(_) => String::from_utf8_lossy(&body).chars().take(200).collect(),
        };
        Err(IpfsError::Api {
            service: SERVICE,
            op,
            status,
            message,
        })
    }

    fn parse_status(&self, op: &'static str, body: &[u8]) -> Result<PinStatus, IpfsError> {
        let wire: WireStatus = serde_json::from_slice(body)
            .map_err(|e| self.http.bad_response(op, format!("not a PinStatus object: {e}")))?;
        self.convert(op, wire)
    }

    fn convert(&self, op: &'static str, w: WireStatus) -> Result<PinStatus, IpfsError> {
        let cid = parse_cid(&w.pin.cid).map_err(|e| self.http.bad_response(op, e.to_string()))?;
        Ok(PinStatus {
            requestid: w.requestid,
            status: w.status,
            cid,
            name: w.pin.name,
            created: w.created,
            delegates: w.delegates,
            details: w.info.and_then(|mut i| i.remove("status_details")),
        })
    }
}
