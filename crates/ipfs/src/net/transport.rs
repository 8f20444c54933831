//! The HTTP layer under the three clients: one pooled hyper client (HTTP/1.1, rustls with webpki
//! roots, plain http allowed since kubo listens on loopback), base-URL checks, and body readers
//! that bound both size and stalls.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use http::{HeaderMap, Method, Request, Response, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::error::IpfsError;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type ReqBody = UnsyncBoxBody<Bytes, BoxError>;

/// Default bound on connecting, on waiting for an answer's head, and on each pause between two
/// pieces of a body. Loopback kubo answers in milliseconds; a gateway streaming a big CAR may
/// take long in total, which is fine as long as bytes keep coming.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// One service at one base URL.
#[derive(Clone)]
pub(crate) struct Http {
    client: Client<HttpsConnector<HttpConnector>, ReqBody>,
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:5001`.
    base: String,
    pub(crate) service: &'static str,
    pub(crate) timeout: Duration,
}

impl Http {
    pub(crate) fn new(service: &'static str, url: &str, example: &'static str) -> Result<Self, IpfsError> {
        let bad = |reason: &str| IpfsError::BadUrl {
            service,
            url: url.to_owned(),
            reason: reason.to_owned(),
            example,
        };
        let base = url.trim().trim_end_matches('/');
        let uri: Uri = base.parse().map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            Some(_) => return Err(bad("only http and https are supported")),
            None => return Err(bad("it has no scheme")),
        }
        if uri.authority().is_none() {
            return Err(bad("it has no host"));
        }
        if uri.query().is_some() {
            return Err(bad("a base URL takes no query"));
        }
        Ok(Http {
            client: client(DEFAULT_TIMEOUT),
            base: base.to_owned(),
            service,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        self.client = client(timeout);
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request to `path_and_query` (starting with `/`) and waits for the answer's head.
    pub(crate) async fn send(
        &self,
        op: &'static str,
        method: Method,
        path_and_query: &str,
        headers: HeaderMap,
        body: ReqBody,
    ) -> Result<Response<Incoming>, IpfsError> {
        let url = format!("{}{}", self.base, path_and_query);
        let mut req = Request::builder()
            .method(method)
            .uri(&url)
            .body(body)
            .map_err(|e| self.bad_response(op, format!("cannot build the request: {e}")))?;
        req.headers_mut().extend(headers);
        match tokio::time::timeout(self.timeout, self.client.request(req)).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(IpfsError::Unreachable {
                service: self.service,
                url: self.base.clone(),
                detail: error_chain(&e),
            }),
            Err(_) => Err(self.timed_out(op)),
        }
    }

    /// Reads a whole (small) body, refusing more than `limit` bytes.
    pub(crate) async fn read(&self, op: &'static str, mut body: Incoming, limit: u64) -> Result<Bytes, IpfsError> {
        let mut out = Vec::new();
        let mut total = 0;
        while let Some(chunk) = self.next_chunk(op, &mut body, &mut total, limit).await? {
            out.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(out))
    }

    /// Streams a body into `file`, refusing more than `limit` bytes; returns the length.
    pub(crate) async fn read_to_file(
        &self,
        op: &'static str,
        mut body: Incoming,
        limit: u64,
        file: &mut tokio::fs::File,
        path: &Path,
    ) -> Result<u64, IpfsError> {
        let mut total = 0;
        while let Some(chunk) = self.next_chunk(op, &mut body, &mut total, limit).await? {
            file.write_all(&chunk).await.map_err(|e| io_error("writing", path, e))?;
        }
        file.flush().await.map_err(|e| io_error("writing", path, e))?;
        Ok(total)
    }

    /// The next piece of a body, each wait bounded by the timeout, the total by `limit`.
    async fn next_chunk(
        &self,
        op: &'static str,
        body: &mut Incoming,
        total: &mut u64,
        limit: u64,
    ) -> Result<Option<Bytes>, IpfsError> {
        loop {
            let frame = match tokio::time::timeout(self.timeout, body.frame()).await {
                Err(_) => return Err(self.timed_out(op)),
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => {
                    // The connection broke mid-body: the answer is cut short.
                    return Err(self.bad_response(op, format!("the body broke off: {}", error_chain(&e))));
                }
                Ok(Some(Ok(frame))) => frame,
            };
            let chunk = match frame.into_data() {
                Ok(chunk) => chunk,
                Err(frame) => {
                    // kubo reports an error that happens after it started streaming in a trailer.
                    if let Some(message) = frame.trailers_ref().and_then(|t| t.get("x-stream-error")) {
                        let message = String::from_utf8_lossy(message.as_bytes()).into_owned();
                        if !message.is_empty() {
                            return Err(IpfsError::Api {
                                service: self.service,
                                op,
                                status: 200,
                                message,
                            });
                        }
                    }
                    continue;
                }
            };
            *total += chunk.len() as u64;
            if *total > limit {
                return Err(IpfsError::TooLarge {
                    service: self.service,
                    op,
                    limit,
                });
            }
            return Ok(Some(chunk));
        }
    }

    pub(crate) fn timed_out(&self, op: &'static str) -> IpfsError {
        IpfsError::Timeout {
            service: self.service,
            url: self.base.clone(),
            op,
            after: self.timeout,
        }
    }

    pub(crate) fn bad_response(&self, op: &'static str, reason: String) -> IpfsError {
        IpfsError::BadResponse {
            service: self.service,
            op,
            url: self.base.clone(),
            reason,
        }
    }
}

fn client(connect_timeout: Duration) -> Client<HttpsConnector<HttpConnector>, ReqBody> {
    let mut http = HttpConnector::new();
    // The https connector decides which schemes are allowed, not this one.
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(4)
        .build(https)
}

pub(crate) fn empty() -> ReqBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

pub(crate) fn full(bytes: impl Into<Bytes>) -> ReqBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

/// A body of `head`, then `content` as it streams, then `tail`, without copying into one buffer.
pub(crate) fn framed(
    head: Bytes,
    content: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    tail: Bytes,
) -> ReqBody {
    let frames = stream::iter([Ok(head)])
        .chain(content)
        .chain(stream::iter([Ok(tail)]))
        .map(|chunk| chunk.map(Frame::data).map_err(BoxError::from));
    StreamBody::new(frames).boxed_unsync()
}

/// A file's bytes in chunks of up to 256 KiB.
pub(crate) fn file_chunks(file: tokio::fs::File) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 256 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// `err: cause: cause`, since hyper's top-level messages ("client error (Connect)") say little.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

pub(crate) fn io_error(what: &'static str, path: &Path, source: std::io::Error) -> IpfsError {
    IpfsError::Io {
        what,
        path: path.display().to_string(),
        source,
    }
}

/// Percent-encodes a query value (CIDs and names are mostly safe; names may hold anything).
pub(crate) fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
