//! In-memory test doubles of kubo's RPC API, a trustless gateway and an IPFS Pinning Service,
//! each an axum server on `127.0.0.1:0` (feature `doubles`; always on in this crate's tests).
//!
//! They are written from the specs and kubo's documented behaviour, not from our clients, so
//! the clients are tested against what a real service would say: they parse multipart forms and
//! JSON themselves, hash every block they take in, refuse blocks over 1 MiB like kubo, and answer
//! errors in each service's own shape. Each module says what it does not model.

mod gateway;
mod kubo;
mod multipart;
mod pinning;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use bytes::Bytes;
use cid::Cid;

pub use gateway::{FakeGateway, GatewayFaults};
pub use kubo::{FakeKubo, KuboFaults};
pub use pinning::{FakePinning, PinningFaults};

use crate::block::DAG_CBOR;
use crate::car::CarWriter;

/// A running server; dropping it stops it.
struct Server {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(app: axum::Router) -> std::io::Result<Server> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Server { addr, task })
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Blocks by multihash, as IPFS block stores key them: a CID with another codec or version but
/// the same hash names the same bytes.
#[derive(Default, Clone)]
pub(crate) struct Blocks {
    by_hash: HashMap<Vec<u8>, Bytes>,
}

impl Blocks {
    pub(crate) fn get(&self, cid: &Cid) -> Option<&Bytes> {
        self.by_hash.get(&cid.hash().to_bytes())
    }

    pub(crate) fn insert(&mut self, cid: &Cid, data: Bytes) {
        self.by_hash.insert(cid.hash().to_bytes(), data);
    }

    pub(crate) fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// The DAG under `root` in depth-first order, each block once, following DAG-CBOR links
    /// (as `ipfs dag export` and a gateway's `dag-scope=all` do). Stops at the first block it
    /// lacks and returns it, like a server that meets a missing child mid-stream.
    pub(crate) fn dag(&self, root: &Cid) -> (Vec<(Cid, Bytes)>, Option<Cid>) {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![*root];
        while let Some(cid) = stack.pop() {
            if !seen.insert(cid) || cid.hash().code() == 0 {
                continue;
            }
            let Some(data) = self.get(&cid) else {
                return (out, Some(cid));
            };
            if cid.codec() == DAG_CBOR {
                // Links in encoded order, as kubo's traversal meets them: DAG-CBOR sorts map
                // keys by length first, so a manifest's `next` comes before its `entries`.
                if let Some(links) = crate::net::links::dag_cbor_links(data) {
                    stack.extend(links.into_iter().rev());
                }
            }
            out.push((cid, data.clone()));
        }
        (out, None)
    }
}

/// A CAR v1 of `blocks` under `root`, written as given (no checks: doubles may serve bad data).
pub(crate) fn car_bytes(root: &Cid, blocks: &[(Cid, Bytes)]) -> Vec<u8> {
    let mut w = CarWriter::new(Vec::new(), &[*root]).expect("one root");
    for (cid, data) in blocks {
        w.write_block(cid, data).expect("writing to memory");
    }
    w.finish().expect("writing to memory")
}
