//! Client of trustless gateways
//! (<https://specs.ipfs.tech/http-gateways/trustless-gateway/>): `GET /ipfs/{cid}?format=car`
//! with `Accept: application/vnd.ipld.car`, or `?format=raw` for one block.
//!
//! A gateway is not trusted: it may alter blocks, cut a CAR short (the spec lets it stop
//! mid-stream after a 200 when it misses a child block), put other roots in the header, repeat
//! blocks or add unrelated ones. Every block is hashed, the DAG under the requested root must be
//! complete, and the header's roots are ignored. A gateway that fails any of that is skipped,
//! counted, and the next one is asked.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use http::{HeaderMap, HeaderValue, Method, header};

use super::error::IpfsError;
use super::transport::{self, Http};
use super::verify::CarStats;
use crate::block::{self, MAX_BLOCK, Verdict};

const SERVICE: &str = "gateway";
const CAR_TYPE: &str = "application/vnd.ipld.car";
const RAW_TYPE: &str = "application/vnd.ipld.raw";

/// One gateway that did not give a verified answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayAttempt {
    pub url: String,
    pub error: String,
    /// It sent a block that does not hash to its CID.
    pub tampered: bool,
}

/// How a fetch went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayReport {
    /// The gateway whose answer was used.
    pub gateway: String,
    pub stats: CarStats,
    /// Gateways tried before it, in order, with why they were skipped.
    pub rejected: Vec<GatewayAttempt>,
}

impl GatewayReport {
    /// How many gateways sent altered blocks.
    pub fn tampered(&self) -> usize {
        self.rejected.iter().filter(|a| a.tampered).count()
    }
}

/// A list of trustless gateways, asked in order until one gives a verified answer.
#[derive(Clone)]
pub struct GatewayClient {
    gateways: Vec<Http>,
    max_car: u64,
}

impl GatewayClient {
    /// `urls` are gateway origins such as `https://trustless-gateway.link` or
    /// `http://127.0.0.1:8080` (a path prefix is kept). At least one is needed.
    pub fn new(urls: Vec<String>) -> Result<Self, IpfsError> {
        if urls.is_empty() {
            return Err(IpfsError::BadUrl {
                service: SERVICE,
                url: String::new(),
                reason: "no gateway given".into(),
                example: "https://trustless-gateway.link",
            });
        }
        let gateways = urls
            .iter()
            .map(|u| Http::new(SERVICE, u, "https://trustless-gateway.link"))
            .collect::<Result<_, _>>()?;
        Ok(GatewayClient {
            gateways,
            max_car: super::kubo::DEFAULT_MAX_CAR,
        })
    }

    /// Bounds connecting, waiting for each answer, and each pause inside a body, per gateway.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        for g in &mut self.gateways {
            g.set_timeout(timeout);
        }
        self
    }

    /// The largest CAR accepted from a gateway (8 GiB by default).
    pub fn with_max_car(mut self, limit: u64) -> Self {
        self.max_car = limit;
        self
    }

    /// Fetches the DAG under `root` as a CAR into `dest`. The first gateway whose whole answer
    /// verifies wins; `dest` is only written from a verified answer.
    pub async fn fetch_car(&self, root: &Cid, dest: &Path) -> Result<GatewayReport, IpfsError> {
        let mut rejected = Vec::new();
        for gateway in &self.gateways {
            match self.fetch_car_from(gateway, root, dest).await {
                Ok(stats) => {
                    return Ok(GatewayReport {
                        gateway: gateway.base().to_owned(),
                        stats,
                        rejected,
                    });
                }
                // A local problem (the destination cannot be written) is not the gateway's fault,
                // and the next gateway would meet it too.
                Err(e @ IpfsError::Io { .. }) => return Err(e),
                Err(e) => {
                    tracing::warn!(gateway = gateway.base(), %root, error = %e, "gateway answer rejected");
                    rejected.push(GatewayAttempt {
                        url: gateway.base().to_owned(),
                        tampered: matches!(e, IpfsError::Tampered { .. }),
                        error: e.to_string(),
                    });
                }
            }
        }
        Err(all_failed(root, &rejected))
    }

    /// Fetches one block with `?format=raw`, hashed against `cid`; the first verified answer wins.
    pub async fn fetch_block(&self, cid: &Cid) -> Result<Bytes, IpfsError> {
        let mut rejected = Vec::new();
        for gateway in &self.gateways {
            match self.fetch_block_from(gateway, cid).await {
                Ok(data) => return Ok(data),
                Err(e) => rejected.push(GatewayAttempt {
                    url: gateway.base().to_owned(),
                    tampered: matches!(e, IpfsError::Tampered { .. }),
                    error: e.to_string(),
                }),
            }
        }
        Err(all_failed(cid, &rejected))
    }

    async fn fetch_car_from(&self, gateway: &Http, root: &Cid, dest: &Path) -> Result<CarStats, IpfsError> {
        const OP: &str = "GET ?format=car";
        let path = format!("/ipfs/{root}?format=car&dag-scope=all");
        let resp = self
            .get(gateway, OP, &path, "application/vnd.ipld.car; version=1")
            .await?;
        check_answer(gateway, OP, &resp, root, CAR_TYPE)?;
        let url = format!("{}{path}", gateway.base());
        super::fetch_verified(gateway, OP, resp, self.max_car, root, dest, &url).await
    }

    async fn fetch_block_from(&self, gateway: &Http, cid: &Cid) -> Result<Bytes, IpfsError> {
        const OP: &str = "GET ?format=raw";
        let resp = self
            .get(gateway, OP, &format!("/ipfs/{cid}?format=raw"), RAW_TYPE)
            .await?;
        check_answer(gateway, OP, &resp, cid, RAW_TYPE)?;
        let data = gateway.read(OP, resp.into_body(), MAX_BLOCK as u64).await?;
        match block::verify(cid, &data) {
            Verdict::Match => Ok(data),
            Verdict::Mismatch => Err(IpfsError::Tampered {
                service: SERVICE,
                cid: *cid,
            }),
            Verdict::UnsupportedHash(code) => Err(gateway.bad_response(
                OP,
                format!("{cid} uses hash function 0x{code:x}; only sha2-256 can be checked"),
            )),
        }
    }

    async fn get(
        &self,
        gateway: &Http,
        op: &'static str,
        path: &str,
        accept: &'static str,
    ) -> Result<http::Response<hyper::body::Incoming>, IpfsError> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
        gateway.send(op, Method::GET, path, headers, transport::empty()).await
    }
}

fn check_answer(
    gateway: &Http,
    op: &'static str,
    resp: &http::Response<hyper::body::Incoming>,
    cid: &Cid,
    want_type: &str,
) -> Result<(), IpfsError> {
    let status = resp.status().as_u16();
    match status {
        200 => {}
        404 | 410 => {
            return Err(IpfsError::NotFound {
                service: SERVICE,
                cid: *cid,
            });
        }
        401 | 403 => {
            return Err(IpfsError::Unauthorized {
                service: SERVICE,
                status,
            });
        }
        _ => {
            return Err(IpfsError::Api {
                service: SERVICE,
                op,
                status,
                message: format!("{} answered HTTP {status}", gateway.base()),
            });
        }
    }
    // The spec has clients check the type before reading: a gateway that ignores the request
    // and renders HTML or a deserialized file must not be read as a CAR.
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(want_type) {
        return Err(gateway.bad_response(
            op,
            format!("Content-Type is {content_type:?}, not {want_type}: not a trustless gateway"),
        ));
    }
    if want_type == CAR_TYPE
        && let Some(version) = content_type
            .split(';')
            .skip(1)
            .filter_map(|p| p.trim().strip_prefix("version="))
            .next()
        && version.trim_matches('"') != "1"
    {
        return Err(gateway.bad_response(op, format!("CAR version {version} was sent; only 1 is read")));
    }
    Ok(())
}

fn all_failed(root: &Cid, rejected: &[GatewayAttempt]) -> IpfsError {
    IpfsError::AllGatewaysFailed {
        root: *root,
        attempts: rejected.iter().map(|a| format!("{}: {}", a.url, a.error)).collect(),
        tampered: rejected.iter().filter(|a| a.tampered).count(),
    }
}
