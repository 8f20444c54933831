//! Test harness: the simulator, a proxy on a temporary Unix socket and loopback TCP, and a
//! minimal HTTP/1.1 client for both.

#![allow(dead_code)]

use bytes::Bytes;
use ghsim::{Sim, SimConfig, SimHandle};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use proxy::server::{Listeners, bind_unix};
use proxy::{ProxyConfig, State, UpstreamBase};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use store::Store;

#[allow(unused_imports)]
pub use ghsim::{TOKEN_ALICE, TOKEN_BOB, TOKEN_CAROL};

pub struct Proxy {
    pub state: Arc<State>,
    pub socket: PathBuf,
    pub tcp: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy in front of `upstream` with `store`.
    pub async fn start(upstream: &str, store: Store, dir: &Path) -> Proxy {
        Self::start_with(ProxyConfig::new(UpstreamBase::parse(upstream).unwrap()), store, dir).await
    }

    pub async fn start_with(config: ProxyConfig, store: Store, dir: &Path) -> Proxy {
        let state = State::new(config, Arc::new(store));
        let socket = dir.join(format!("p{}.sock", rand_suffix()));
        let unix = bind_unix(&socket).await.unwrap();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let listeners = Listeners {
            unix: Some((unix, socket.clone())),
            tcp: Some(tcp),
        };
        let s = state.clone();
        let task = tokio::spawn(async move {
            proxy::server::run(s, listeners, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Proxy {
            state,
            socket,
            tcp: addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Graceful shutdown; returns once the store is flushed and the socket removed.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.tcp)
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

pub async fn sim() -> SimHandle {
    Sim::start(SimConfig::default()).await.unwrap()
}

pub async fn sim_with(config: SimConfig) -> SimHandle {
    Sim::start(config).await.unwrap()
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn x_cache(&self) -> &str {
        self.headers
            .get("x-cache")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("<none>")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub enum Via<'a> {
    Unix(&'a Path),
    Tcp(SocketAddr),
}

pub struct Req<'a> {
    pub method: Method,
    pub path: &'a str,
    pub headers: Vec<(&'a str, String)>,
    pub body: Bytes,
}

impl<'a> Req<'a> {
    pub fn get(path: &'a str) -> Self {
        Req {
            method: Method::GET,
            path,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub fn post(path: &'a str, body: impl Into<Bytes>) -> Self {
        Req {
            method: Method::POST,
            path,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn method(mut self, m: Method) -> Self {
        self.method = m;
        self
    }

    pub fn token(self, token: &str) -> Self {
        self.header("authorization", format!("token {token}"))
    }

    pub fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

pub async fn send(via: Via<'_>, req: Req<'_>) -> Resp {
    let host = match &via {
        Via::Unix(_) => "api.github.com".to_owned(),
        Via::Tcp(addr) => addr.to_string(),
    };
    let mut builder = Request::builder().method(req.method).uri(req.path).header("host", host);
    for (k, v) in &req.headers {
        builder = builder.header(*k, v);
    }
    let request = builder.body(Full::new(req.body)).unwrap();
    let resp = match via {
        Via::Unix(path) => {
            let io = TokioIo::new(tokio::net::UnixStream::connect(path).await.unwrap());
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            sender.send_request(request).await.unwrap()
        }
        Via::Tcp(addr) => {
            let io = TokioIo::new(tokio::net::TcpStream::connect(addr).await.unwrap());
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            sender.send_request(request).await.unwrap()
        }
    };
    let (parts, body) = resp.into_parts();
    Resp {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}
