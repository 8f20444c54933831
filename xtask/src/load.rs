//! The load generator: hyper HTTP/1.1 client connections over TCP or a Unix socket, one request
//! shape, a check on every response, sequential latency runs and concurrent throughput runs.
//!
//! Targets are measured in interleaved rounds (target A, B, C, D, then A, B, C, D again...) so
//! that a change in background load on the shared machine affects them alike and the ratios
//! stay meaningful. The generator runs in the caller's runtime; the benchmark gives it a single
//! thread so the servers keep most of the two cores.

use crate::procs::CpuSnapshot;
use anyhow::{Context, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper::header::{ACCEPT, AUTHORIZATION, HOST, HeaderMap, HeaderValue, USER_AGENT};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// A request that takes longer than this fails the benchmark (a hit takes well under 1 ms).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Latency histogram range in microseconds, three significant digits.
const MAX_LATENCY_US: u64 = 60_000_000;

type Sender = http1::SendRequest<Empty<Bytes>>;

/// Where a server listens.
#[derive(Clone, Debug)]
pub enum Endpoint {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// One server under measurement.
pub struct Target {
    pub name: &'static str,
    pub endpoint: Endpoint,
    /// `Host` header to send (gh sends `api.github.com` over the Unix socket).
    pub host: HeaderValue,
    /// For caches, the response header that must say `HIT` on every measured response.
    pub hit_header: Option<&'static str>,
    /// Processes whose CPU time (with their direct children's) is charged to this target.
    pub server_pids: Vec<u32>,
}

/// The one request every target answers: method GET, path+query, `Authorization`, `Accept`.
#[derive(Clone)]
pub struct RequestShape {
    pub path_and_query: String,
    pub authorization: Option<HeaderValue>,
    pub accept: HeaderValue,
}

impl RequestShape {
    fn build(&self, host: &HeaderValue) -> anyhow::Result<Request<Empty<Bytes>>> {
        let mut headers = HeaderMap::with_capacity(4);
        headers.insert(HOST, host.clone());
        if let Some(auth) = &self.authorization {
            headers.insert(AUTHORIZATION, auth.clone());
        }
        headers.insert(ACCEPT, self.accept.clone());
        headers.insert(USER_AGENT, HeaderValue::from_static("gh-p2p-cache-bench"));
        let mut req = Request::get(self.path_and_query.as_str())
            .body(Empty::new())
            .context("cannot build the request")?;
        *req.headers_mut() = headers;
        Ok(req)
    }
}

/// What a response looked like, as far as the benchmark cares.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// The value of the target's hit header, if it has one and the response carried it.
    pub cache: Option<String>,
    pub body_len: usize,
}

/// What every measured response of a target must look like.
#[derive(Clone, Debug)]
pub struct Expect {
    pub hit_header: Option<&'static str>,
    pub body_len: usize,
}

impl Expect {
    fn check(&self, target: &str, a: &Answer) -> anyhow::Result<()> {
        if a.status != StatusCode::OK {
            bail!("{target}: status {} instead of 200", a.status);
        }
        if let Some(h) = self.hit_header
            && a.cache.as_deref() != Some("HIT")
        {
            bail!(
                "{target}: {h}: {:?} instead of HIT; the benchmark would be measuring misses",
                a.cache
            );
        }
        if a.body_len != self.body_len {
            bail!("{target}: body of {} bytes instead of {}", a.body_len, self.body_len);
        }
        Ok(())
    }
}

/// Opens one keep-alive HTTP/1.1 connection; its driver runs as a task of the current runtime.
pub async fn connect(endpoint: &Endpoint) -> anyhow::Result<Sender> {
    match endpoint {
        Endpoint::Tcp(addr) => {
            let stream = tokio::net::TcpStream::connect(addr)
                .await
                .with_context(|| format!("cannot connect to {addr}"))?;
            // Small request/response exchanges: Nagle would add delayed-ACK stalls.
            stream.set_nodelay(true)?;
            handshake(stream).await
        }
        Endpoint::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(path)
                .await
                .with_context(|| format!("cannot connect to {}", path.display()))?;
            handshake(stream).await
        }
    }
}

async fn handshake<S>(stream: S) -> anyhow::Result<Sender>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP/1.1 handshake failed")?;
    // The driver ends when the connection closes; its errors surface through the sender.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request and reads the whole body, counting its bytes.
async fn exchange(sender: &mut Sender, req: Request<Empty<Bytes>>, hit_header: Option<&str>) -> anyhow::Result<Answer> {
    let work = async {
        sender.ready().await.context("connection closed")?;
        let resp = sender.send_request(req).await.context("request failed")?;
        let status = resp.status();
        let cache = hit_header
            .and_then(|h| resp.headers().get(h))
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let mut body = resp.into_body();
        let mut body_len = 0;
        while let Some(frame) = body.frame().await {
            if let Some(data) = frame.context("reading the body failed")?.data_ref() {
                body_len += data.len();
            }
        }
        Ok(Answer {
            status,
            cache,
            body_len,
        })
    };
    tokio::time::timeout(REQUEST_TIMEOUT, work)
        .await
        .with_context(|| format!("no complete response within {REQUEST_TIMEOUT:?}"))?
}

/// One request on a fresh connection (warming and hit checks).
pub async fn probe(target: &Target, shape: &RequestShape) -> anyhow::Result<Answer> {
    let mut sender = connect(&target.endpoint).await.context(target.name)?;
    exchange(&mut sender, shape.build(&target.host)?, target.hit_header)
        .await
        .context(target.name)
}

/// GET on a fresh connection, returning the body of a 200 (control endpoints).
pub async fn fetch_body(target: &Target, shape: &RequestShape) -> anyhow::Result<Bytes> {
    let mut sender = connect(&target.endpoint).await.context(target.name)?;
    let work = async {
        sender.ready().await.context("connection closed")?;
        let resp = sender.send_request(shape.build(&target.host)?).await?;
        if resp.status() != StatusCode::OK {
            bail!("status {}", resp.status());
        }
        Ok(resp.into_body().collect().await?.to_bytes())
    };
    tokio::time::timeout(REQUEST_TIMEOUT, work)
        .await
        .with_context(|| format!("no complete response within {REQUEST_TIMEOUT:?}"))?
        .with_context(|| format!("{} {}", target.name, shape.path_and_query))
}

/// Latency percentiles of one target, in microseconds.
pub struct Latency {
    pub p50_us: u64,
    pub p99_us: u64,
}

/// `warmup` then `requests` sequential requests per target, each target on one keep-alive
/// connection, in `rounds` interleaved rounds; every response is checked.
pub async fn latency(
    targets: &[(Target, Expect)],
    shape: &RequestShape,
    warmup: u64,
    requests: u64,
    rounds: u32,
) -> anyhow::Result<Vec<Latency>> {
    let rounds = u64::from(rounds);
    let mut senders = Vec::with_capacity(targets.len());
    let mut hists = Vec::with_capacity(targets.len());
    for (t, expect) in targets {
        let mut sender = connect(&t.endpoint).await.context(t.name)?;
        for _ in 0..warmup {
            let a = exchange(&mut sender, shape.build(&t.host)?, t.hit_header)
                .await
                .context(t.name)?;
            expect.check(t.name, &a)?;
        }
        senders.push(sender);
        hists.push(Histogram::<u64>::new_with_bounds(1, MAX_LATENCY_US, 3)?);
    }
    for round in 0..rounds {
        let n = requests / rounds + u64::from(round < requests % rounds);
        for (((t, expect), sender), hist) in targets.iter().zip(&mut senders).zip(&mut hists) {
            for _ in 0..n {
                let req = shape.build(&t.host)?;
                let start = Instant::now();
                let a = exchange(sender, req, t.hit_header).await.context(t.name)?;
                let us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                expect.check(t.name, &a)?;
                hist.saturating_record(us.max(1));
            }
        }
    }
    Ok(hists
        .iter()
        .map(|h| Latency {
            p50_us: h.value_at_quantile(0.50),
            p99_us: h.value_at_quantile(0.99),
        })
        .collect())
}

/// Throughput of one target and the CPU it cost.
#[derive(Default)]
pub struct Throughput {
    pub responses: u64,
    pub elapsed: Duration,
    /// CPU time of the target's server processes while it was under load.
    pub server_cpu: Duration,
    /// CPU time of this load generator while it was loading the target.
    pub client_cpu: Duration,
}

impl Throughput {
    pub fn per_second(&self) -> f64 {
        self.responses as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    pub fn server_cpu_us_per_response(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / (self.responses.max(1) as f64)
    }
    /// Load generator CPU as a share of one core.
    pub fn client_core_share(&self) -> f64 {
        self.client_cpu.as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// `connections` keep-alive connections per target, each sending requests back to back, for
/// `duration` per target split into `rounds` interleaved rounds; every response is checked.
pub async fn throughput(
    targets: &[(Target, Expect)],
    shape: &RequestShape,
    connections: u64,
    duration: Duration,
    rounds: u32,
) -> anyhow::Result<Vec<Throughput>> {
    let mut pools: Vec<Vec<Sender>> = Vec::with_capacity(targets.len());
    for (t, _) in targets {
        let mut pool = Vec::new();
        for _ in 0..connections {
            pool.push(connect(&t.endpoint).await.context(t.name)?);
        }
        pools.push(pool);
    }
    let me = std::process::id();
    let mut results: Vec<Throughput> = targets.iter().map(|_| Throughput::default()).collect();
    let slice = duration / rounds;
    for _ in 0..rounds {
        for (((t, expect), pool), result) in targets.iter().zip(&mut pools).zip(&mut results) {
            let server_before = CpuSnapshot::take(&t.server_pids, true)?;
            let client_before = CpuSnapshot::take(&[me], false)?;
            let start = Instant::now();
            let deadline = start + slice;
            let mut tasks = JoinSet::new();
            for mut sender in pool.drain(..) {
                let (shape, host, expect) = (shape.clone(), t.host.clone(), expect.clone());
                let (name, hit_header) = (t.name, t.hit_header);
                tasks.spawn(async move {
                    let mut count = 0u64;
                    // Bounded by the deadline; each exchange is bounded by REQUEST_TIMEOUT.
                    while Instant::now() < deadline {
                        let a = exchange(&mut sender, shape.build(&host)?, hit_header)
                            .await
                            .context(name)?;
                        expect.check(name, &a)?;
                        count += 1;
                    }
                    anyhow::Ok((sender, count))
                });
            }
            while let Some(joined) = tasks.join_next().await {
                let (sender, count) = joined.context("a load task panicked")??;
                pool.push(sender);
                result.responses += count;
            }
            result.elapsed += start.elapsed();
            result.server_cpu += CpuSnapshot::take(&t.server_pids, true)?.since(&server_before);
            result.client_cpu += CpuSnapshot::take(&[me], false)?.since(&client_before);
        }
    }
    Ok(results)
}
