//! The HTTP layer under the Twirp and blob calls: one pooled hyper client (HTTP/1.1, rustls with
//! webpki roots, plain http allowed for the local fake), a request body that streams a file, a
//! bounded body reader, and the retry schedule.

use super::error::{CacheError, Redactor};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, ReadBuf};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type ReqBody = UnsyncBoxBody<Bytes, BoxError>;

/// The shared client. Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub(crate) struct Transport {
    client: Client<HttpsConnector<HttpConnector>, ReqBody>,
}

impl Transport {
    pub(crate) fn new(connect_timeout: Duration) -> Self {
        let mut http = HttpConnector::new();
        // The https connector below decides which schemes are allowed, not this one.
        http.enforce_http(false);
        http.set_connect_timeout(Some(connect_timeout));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(4)
            .build(https);
        Transport { client }
    }

    /// Sends one request and returns when the response head has arrived. Callers bound it with
    /// a timeout; the error is turned into text with its whole source chain, scrubbed.
    pub(crate) async fn send(&self, req: Request<ReqBody>, redactor: &Redactor) -> Result<Response<Incoming>, String> {
        self.client
            .request(req)
            .await
            .map_err(|e| redactor.clean(&error_chain(&e)))
    }
}

/// An in-memory request body.
pub(crate) fn full(bytes: impl Into<Bytes>) -> ReqBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

/// Reads a whole (small) response body, refusing more than `limit` bytes.
pub(crate) async fn read_limited(body: Incoming, limit: usize, redactor: &Redactor) -> Result<Bytes, String> {
    Limited::new(body, limit)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| redactor.clean(&error_chain(e.as_ref())))
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

/// Streams exactly `len` bytes of an open file as a request body. A file that turns out shorter
/// (it shrank after we measured it) ends the body with an error rather than a short upload.
pub(crate) struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
    buf: Box<[u8]>,
}

const FILE_CHUNK: usize = 256 * 1024;

impl FileBody {
    pub(crate) fn new(file: tokio::fs::File, len: u64) -> Self {
        let cap = usize::try_from(len).unwrap_or(FILE_CHUNK).clamp(1, FILE_CHUNK);
        FileBody {
            file,
            remaining: len,
            buf: vec![0; cap].into_boxed_slice(),
        }
    }

    pub(crate) fn boxed(self) -> ReqBody {
        self.map_err(BoxError::from).boxed_unsync()
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = usize::try_from(this.remaining).map_or(this.buf.len(), |r| r.min(this.buf.len()));
        let mut read = ReadBuf::new(&mut this.buf[..want]);
        ready!(Pin::new(&mut this.file).poll_read(cx, &mut read))?;
        let filled = read.filled();
        if filled.is_empty() {
            return Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file became shorter while it was being uploaded",
            ))));
        }
        this.remaining -= filled.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(filled)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// How often and how patiently a failed call is repeated. Only answers that say "try again"
/// (500, 502, 503, 504) are retried, as in the toolkit; timeouts and connection failures are not,
/// so the time an operation can take stays a small multiple of the configured bounds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) base_delay: Duration,
}

impl RetryPolicy {
    pub(crate) fn is_retryable(status: http::StatusCode) -> bool {
        matches!(status.as_u16(), 500 | 502 | 503 | 504)
    }

    /// The pause after failed attempt `attempt` (0-based): the base delay doubled each time, capped
    /// at 30 s, with up to a quarter of jitter so parallel jobs do not retry in lockstep.
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(16));
        let delay = self.base_delay.saturating_mul(factor).min(Duration::from_secs(30));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        delay + delay.mul_f64(f64::from(nanos % 1000) / 4000.0)
    }
}

/// A `CacheError::Transport` for an operation.
pub(crate) fn transport_error(op: impl Into<String>, detail: String) -> CacheError {
    CacheError::Transport { op: op.into(), detail }
}
