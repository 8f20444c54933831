//! The upstream client: one pooled HTTP/1.1 client (TLS through rustls with webpki roots) that
//! asks for gzip and hands back decompressed bodies, so stored bodies are byte-for-byte what
//! GitHub sent.

use crate::config::UpstreamBase;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Largest decompressed upstream body we accept (GitHub's own answers stay far below this).
const MAX_BODY: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Debug, thiserror::Error, Clone)]
pub enum UpstreamError {
    #[error("upstream {0} unreachable: {1}")]
    Unreachable(String, String),
    #[error("upstream {0} did not answer within {1:?}")]
    Timeout(String, Duration),
    #[error("upstream {0} sent an unreadable body: {1}")]
    BadBody(String, String),
}

pub struct Upstream {
    base: UpstreamBase,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    latency: LatencyBuckets,
}

/// Upper bounds (seconds) of the upstream latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// A cumulative-on-read histogram of upstream exchange durations.
#[derive(Default)]
pub struct LatencyBuckets {
    counts: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl LatencyBuckets {
    fn record(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// Cumulative counts per bucket (the last is +Inf), and the sum in seconds.
    pub fn snapshot(&self) -> (Vec<u64>, f64) {
        let mut total = 0;
        let cumulative = self
            .counts
            .iter()
            .map(|c| {
                total += c.load(Ordering::Relaxed);
                total
            })
            .collect();
        (cumulative, self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6)
    }
}

impl Upstream {
    pub fn new(base: UpstreamBase, timeout: Duration) -> Self {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build(https);
        Upstream {
            base,
            client,
            timeout,
            latency: LatencyBuckets::default(),
        }
    }

    /// Sends one request. `headers` are the client's, already filtered; `Host` and
    /// `Accept-Encoding` are set here.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: Option<&str>,
        mut headers: HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let uri = self.base.uri_for(path, query);
        let host = self.base.authority().to_owned();
        headers.insert(
            header::HOST,
            HeaderValue::from_str(&host).map_err(|e| self.unreachable(&e))?,
        );
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let mut req = Request::builder()
            .method(method)
            .uri(&uri)
            .body(Full::new(body))
            .map_err(|e| self.unreachable(&e))?;
        *req.headers_mut() = headers;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| self.unreachable(&error_chain(&e)))?;
            let (parts, body) = resp.into_parts();
            let raw = http_body_util::Limited::new(body, MAX_BODY)
                .collect()
                .await
                .map_err(|e| UpstreamError::BadBody(self.base.base_url().to_owned(), e.to_string()))?
                .to_bytes();
            let mut headers = parts.headers;
            let body = decode_body(&mut headers, raw)
                .map_err(|e| UpstreamError::BadBody(self.base.base_url().to_owned(), e))?;
            Ok(UpstreamResponse {
                status: parts.status,
                headers,
                body,
            })
        };
        let started = std::time::Instant::now();
        let result = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(UpstreamError::Timeout(self.base.base_url().to_owned(), self.timeout)),
        };
        self.latency.record(started.elapsed());
        result
    }

    pub fn latency(&self) -> &LatencyBuckets {
        &self.latency
    }

    fn unreachable(&self, e: &dyn std::fmt::Display) -> UpstreamError {
        UpstreamError::Unreachable(self.base.base_url().to_owned(), e.to_string())
    }
}

/// hyper's top-level client error says little; the source chain says what failed.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// Undoes `Content-Encoding: gzip` and fixes the headers to describe the decoded body.
fn decode_body(headers: &mut HeaderMap, raw: Bytes) -> Result<Bytes, String> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let body = match encoding {
        None | Some("") | Some("identity") => raw,
        Some(e) if e.eq_ignore_ascii_case("gzip") => {
            let mut out = Vec::with_capacity(raw.len() * 4);
            flate2::read::GzDecoder::new(&raw[..])
                .take(MAX_BODY as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("gzip: {e}"))?;
            if out.len() > MAX_BODY {
                return Err(format!("decompressed body over {MAX_BODY} bytes"));
            }
            Bytes::from(out)
        }
        Some(other) => return Err(format!("unsupported content-encoding {other:?}")),
    };
    headers.remove(header::CONTENT_ENCODING);
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::TRANSFER_ENCODING);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_is_decoded_and_headers_fixed() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"{\"a\":1}").unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("99"));
        let body = decode_body(&mut h, Bytes::from(enc.finish().unwrap())).unwrap();
        assert_eq!(body, "{\"a\":1}");
        assert!(h.get(header::CONTENT_ENCODING).is_none() && h.get(header::CONTENT_LENGTH).is_none());
    }

    #[test]
    fn broken_gzip_and_unknown_encodings_are_errors() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert!(decode_body(&mut h, Bytes::from_static(b"\x1f\x8b not really")).is_err());
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        assert!(decode_body(&mut h, Bytes::from_static(b"x")).is_err());
    }
}
