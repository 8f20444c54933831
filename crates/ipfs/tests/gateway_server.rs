//! The trustless gateway server (`ipfs::gateway_server`), judged by two verifying clients: our
//! own `GatewayClient`, and the IPFS project's `@helia/verified-fetch` (tests/verified-fetch,
//! run by node, offline: it only talks to the server on 127.0.0.1).
//!
//! The verified-fetch tests need node and `npm ci --prefix crates/ipfs/tests/verified-fetch`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use http_body_util::{BodyExt, Empty};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use ipfs::gateway_server::{BlockStore, MemoryBlocks, router};
use ipfs::{CarError, CarReader, GatewayClient, IpfsError, read_snapshot};
use serde_json::Value;

const CAR_TYPE: &str = "application/vnd.ipld.car; version=1; order=dfs; dups=n";
const INSTALL: &str = "run `npm ci --prefix crates/ipfs/tests/verified-fetch` (needs node 20+ and npm)";

/// A server on 127.0.0.1:0; dropping it stops it.
struct Served {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(store: Arc<dyn BlockStore>) -> Served {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = router(store);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Served { url, task }
}

/// A snapshot of `n` envelopes with manifest blocks of at most `limit` bytes, its root, the
/// envelopes, and a server of its blocks.
async fn snapshot_server(n: usize, limit: usize) -> (Served, Vec<u8>, Cid, Vec<(Cid, Bytes, ipfs::EntryMeta)>) {
    let envelopes = common::envelopes(n, 500);
    let (car, root) = common::snapshot(&envelopes, limit);
    let blocks = MemoryBlocks::from_car(&car[..]).unwrap();
    assert_eq!(blocks.roots(), [root]);
    let server = serve(Arc::new(blocks)).await;
    (server, car, root, envelopes)
}

fn client(url: &str) -> GatewayClient {
    GatewayClient::new(vec![url.to_owned()])
        .unwrap()
        .with_timeout(Duration::from_secs(5))
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    /// The body, or the error that cut it.
    body: Result<Bytes, String>,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    fn body(&self) -> &Bytes {
        self.body.as_ref().unwrap()
    }
}

/// The answer, or the error that cut the connection before its head was read.
async fn try_request(method: Method, url: &str, headers: &[(&str, &str)]) -> Result<Answer, String> {
    let http = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut req = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = http
        .request(req.body(Empty::new()).unwrap())
        .await
        .map_err(|e| format!("{e:?}"))?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).map_err(|e| e.to_string());
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

async fn request(method: Method, url: &str, headers: &[(&str, &str)]) -> Answer {
    try_request(method, url, headers).await.unwrap()
}

async fn get(url: &str, headers: &[(&str, &str)]) -> Answer {
    request(Method::GET, url, headers).await
}

/// Every block of a CAR, verified, in order.
fn car_blocks(car: &[u8]) -> (Vec<Cid>, Vec<Cid>) {
    let reader = CarReader::new(car).unwrap();
    let roots = reader.roots().to_vec();
    (roots, reader.map(|b| b.unwrap().cid).collect())
}

#[tokio::test]
async fn raw_blocks_round_trip_through_our_verifying_client() {
    let (server, car, root, envelopes) = snapshot_server(6, 1 << 20).await;
    let gw = client(&server.url);
    for (cid, data, _) in &envelopes {
        assert_eq!(&gw.fetch_block(cid).await.unwrap(), data);
    }
    let (_, all) = car_blocks(&car);
    let manifest = gw.fetch_block(&root).await.unwrap();
    assert_eq!(all[0], root);
    assert!(!manifest.is_empty());

    let cid = envelopes[0].0;
    let answer = get(&format!("{}/ipfs/{cid}?format=raw", server.url), &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), "application/vnd.ipld.raw");
    assert_eq!(answer.header("x-content-type-options"), "nosniff");
    assert_eq!(answer.header("cache-control"), "public, max-age=29030400, immutable");
    assert_eq!(answer.header("etag"), format!("\"{cid}.raw\""));
    assert_eq!(answer.header("content-length"), "500");
    assert_eq!(answer.header("x-ipfs-roots"), cid.to_string());
    assert_eq!(answer.body(), &envelopes[0].1);

    // Accept alone picks raw too, and `format` wins over Accept.
    let by_accept = get(
        &format!("{}/ipfs/{cid}", server.url),
        &[("accept", "text/html, application/vnd.ipld.raw;q=0.9")],
    )
    .await;
    assert_eq!((by_accept.status, by_accept.body()), (StatusCode::OK, &envelopes[0].1));
    let format_wins = get(
        &format!("{}/ipfs/{cid}?format=raw", server.url),
        &[("accept", "application/vnd.ipld.car")],
    )
    .await;
    assert_eq!(format_wins.header("content-type"), "application/vnd.ipld.raw");

    // A CIDv1 of another codec with the same multihash names the same bytes.
    let as_cbor = Cid::new_v1(ipfs::block::DAG_CBOR, *cid.hash());
    let same = get(&format!("{}/ipfs/{as_cbor}?format=raw", server.url), &[]).await;
    assert_eq!(same.body(), &envelopes[0].1);
}

#[tokio::test]
async fn a_car_of_a_multi_block_manifest_chain_round_trips_byte_for_byte() {
    // 300 envelopes with 4 KiB manifest blocks: a chain of several manifest blocks.
    let (server, car, root, envelopes) = snapshot_server(300, 4096).await;
    let (_, written) = car_blocks(&car);
    let manifest_blocks = written.len() - envelopes.len();
    assert!(manifest_blocks >= 3, "{manifest_blocks} manifest blocks");

    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("fetched.car");
    let report = client(&server.url).fetch_car(&root, &dest).await.unwrap();
    assert_eq!(report.stats.blocks, written.len() as u64);
    assert_eq!(report.stats.duplicates, 0);
    assert!(report.rejected.is_empty());
    // The client writes verified blocks in the snapshot's own order: the same bytes come back.
    assert_eq!(std::fs::read(&dest).unwrap(), car);
    let (manifest, items) = read_snapshot(std::fs::File::open(&dest).unwrap()).unwrap();
    assert_eq!(manifest.entries.len(), 300);
    assert_eq!(items.filter(Result::is_ok).count(), 300);

    let answer = get(
        &format!("{}/ipfs/{root}", server.url),
        &[("accept", "application/vnd.ipld.car; version=1; order=unk; dups=n")],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), CAR_TYPE);
    assert_eq!(answer.header("x-content-type-options"), "nosniff");
    assert_eq!(answer.header("cache-control"), "public, max-age=29030400, immutable");
    assert_eq!(answer.header("etag"), format!("\"{root}.car.dfs.n.all\""));
    assert_eq!(answer.header("content-length"), "", "streamed");
    // Depth-first: the manifest chain first (`next` is encoded before `entries`), then the
    // envelopes of the last manifest block, back to the first one's: every block once, but
    // not the snapshot file's order (our client puts them back in that order, as above).
    let (roots, served) = car_blocks(answer.body());
    assert_eq!(roots, [root]);
    assert_eq!(&served[..manifest_blocks], &written[..manifest_blocks]);
    let mut sorted = served.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), written.len(), "each block once");
    let mut expected = written.clone();
    expected.sort();
    assert_eq!(sorted, expected);
    assert_eq!(answer.body().len(), car.len());

    // A sub-DAG: the second manifest block and everything under it.
    let second = written[1];
    let sub = get(&format!("{}/ipfs/{second}?format=car", server.url), &[]).await;
    let (roots, blocks) = car_blocks(sub.body());
    assert_eq!(roots, [second]);
    assert_eq!(blocks[0], second);
    assert!(blocks.len() < written.len());
}

#[tokio::test]
async fn dag_scope_block_and_entity_give_the_root_block_only() {
    let (server, _, root, _) = snapshot_server(5, 1 << 20).await;
    for (query, scope) in [
        ("dag-scope=block", "block"),
        ("dag-scope=entity", "entity"),
        ("entity-bytes=0:*", "entity"),
    ] {
        let answer = get(&format!("{}/ipfs/{root}?format=car&{query}", server.url), &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "{query}");
        assert_eq!(answer.header("etag"), format!("\"{root}.car.dfs.n.{scope}\""));
        assert_eq!(car_blocks(answer.body()), (vec![root], vec![root]), "{query}");
    }
}

#[tokio::test]
async fn dups_y_sends_a_block_each_time_the_walk_meets_it() {
    // A manifest listing the same envelope twice is refused by our writer, so build the DAG by
    // hand: a DAG-CBOR node linking one raw block twice.
    let leaf = Bytes::from_static(b"shared leaf");
    let leaf_cid = ipfs::block::raw_cid(&leaf);
    let node = Bytes::from(serde_ipld_dagcbor::to_vec(&vec![leaf_cid, leaf_cid]).unwrap());
    let node_cid = ipfs::block::cid_of(ipfs::block::DAG_CBOR, &node);
    let mut blocks = MemoryBlocks::new();
    blocks.insert(&leaf_cid, leaf);
    blocks.insert(&node_cid, node);
    let server = serve(Arc::new(blocks)).await;

    let once = get(&format!("{}/ipfs/{node_cid}?format=car", server.url), &[]).await;
    assert_eq!(car_blocks(once.body()).1, [node_cid, leaf_cid]);
    for (query, accept) in [
        ("format=car&car-dups=y", ""),
        ("", "application/vnd.ipld.car; order=dfs; dups=y"),
        ("format=car", "application/vnd.ipld.car; dups=y"),
    ] {
        let headers: Vec<(&str, &str)> = if accept.is_empty() {
            vec![]
        } else {
            vec![("accept", accept)]
        };
        let every = get(&format!("{}/ipfs/{node_cid}?{query}", server.url), &headers).await;
        assert_eq!(
            every.header("content-type"),
            "application/vnd.ipld.car; version=1; order=dfs; dups=y"
        );
        assert_eq!(every.header("etag"), format!("\"{node_cid}.car.dfs.y.all\""));
        assert_eq!(
            car_blocks(every.body()).1,
            [node_cid, leaf_cid, leaf_cid],
            "{query} {accept}"
        );
    }
}

/// A URL, its request headers and the status expected.
type Case<'a> = (String, Vec<(&'a str, &'a str)>, StatusCode);

#[tokio::test]
async fn unknown_malformed_and_unsupported_requests_get_the_spec_statuses() {
    let (server, _, root, envelopes) = snapshot_server(2, 1 << 20).await;
    let url = &server.url;
    let unknown = ipfs::block::raw_cid(b"not in the store");
    let cases: Vec<Case> = vec![
        (
            format!("{url}/ipfs/{unknown}?format=raw"),
            vec![],
            StatusCode::NOT_FOUND,
        ),
        (
            format!("{url}/ipfs/{unknown}?format=car"),
            vec![],
            StatusCode::NOT_FOUND,
        ),
        (
            format!("{url}/ipfs/not-a-cid?format=raw"),
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (format!("{url}/ipfs/{root}"), vec![], StatusCode::BAD_REQUEST),
        (
            format!("{url}/ipfs/{root}?format=dag-json"),
            vec![],
            StatusCode::NOT_ACCEPTABLE,
        ),
        (
            format!("{url}/ipfs/{root}?format=tar"),
            vec![],
            StatusCode::NOT_ACCEPTABLE,
        ),
        (
            format!("{url}/ipfs/{root}"),
            vec![("accept", "text/html")],
            StatusCode::NOT_ACCEPTABLE,
        ),
        (
            format!("{url}/ipfs/{root}"),
            vec![("accept", "application/vnd.ipld.raw;q=0")],
            StatusCode::NOT_ACCEPTABLE,
        ),
        (
            format!("{url}/ipfs/{root}"),
            vec![("accept", "application/vnd.ipld.car; version=2")],
            StatusCode::NOT_ACCEPTABLE,
        ),
        (
            format!("{url}/ipfs/{root}?format=car&car-version=2"),
            vec![],
            StatusCode::NOT_ACCEPTABLE,
        ),
        (
            format!("{url}/ipfs/{root}?format=car&dag-scope=most"),
            vec![],
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("{url}/ipfs/{root}/entries/0?format=car"),
            vec![],
            StatusCode::NOT_IMPLEMENTED,
        ),
        (
            format!("{url}/ipfs/{root}?format=car&car-order=bfs"),
            vec![],
            StatusCode::NOT_ACCEPTABLE,
        ),
        (format!("{url}/ipfs/{root}?format=raw&format=x"), vec![], StatusCode::OK),
        (
            format!("{url}/ipfs/{unknown}?format=raw"),
            vec![("cache-control", "only-if-cached")],
            StatusCode::PRECONDITION_FAILED,
        ),
        (
            format!("{url}/ipns/example.com?format=raw"),
            vec![],
            StatusCode::NOT_FOUND,
        ),
    ];
    for (url, headers, status) in cases {
        let answer = get(&url, &headers).await;
        assert_eq!(answer.status, status, "{url} {headers:?}: {:?}", answer.body);
        // Our errors say why, in plain text (the /ipns/ 404 is axum's: no route).
        if status != StatusCode::OK && url.contains("/ipfs/") {
            assert!(answer.header("content-type").starts_with("text/plain"), "{url}");
            assert!(!answer.body().is_empty(), "{url}: says why");
        }
    }
    // Our client reports an unknown CID as not found, not as tampering.
    let err = client(url).fetch_block(&unknown).await.unwrap_err();
    assert!(err.to_string().contains("has no block"), "{err}");
    assert!(
        matches!(err, IpfsError::AllGatewaysFailed { tampered: 0, .. }),
        "{err:?}"
    );
    drop(envelopes);
}

#[tokio::test]
async fn head_answers_the_headers_without_a_body() {
    let (server, _, root, envelopes) = snapshot_server(2, 1 << 20).await;
    let cid = envelopes[1].0;
    let raw = request(Method::HEAD, &format!("{}/ipfs/{cid}?format=raw", server.url), &[]).await;
    assert_eq!(raw.status, StatusCode::OK);
    assert_eq!(raw.header("content-type"), "application/vnd.ipld.raw");
    assert_eq!(raw.header("content-length"), "500");
    assert_eq!(raw.header("etag"), format!("\"{cid}.raw\""));
    assert!(raw.body().is_empty());

    let car = request(Method::HEAD, &format!("{}/ipfs/{root}?format=car", server.url), &[]).await;
    assert_eq!(car.status, StatusCode::OK);
    assert_eq!(car.header("content-type"), CAR_TYPE);
    assert_eq!(
        car.header("content-length"),
        "",
        "a CAR's length is not known before streaming"
    );
    assert!(car.body().is_empty());

    let unknown = ipfs::block::raw_cid(b"absent");
    let missing = request(Method::HEAD, &format!("{}/ipfs/{unknown}?format=raw", server.url), &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_matching_etag_gets_304_and_the_identity_probe_answers() {
    let (server, _, _, envelopes) = snapshot_server(1, 1 << 20).await;
    let cid = envelopes[0].0;
    let etag = format!("\"{cid}.raw\"");
    let again = get(
        &format!("{}/ipfs/{cid}?format=raw", server.url),
        &[("if-none-match", etag.as_str())],
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body().is_empty());

    // The spec's probe: the empty identity CID is always there.
    let probe = get(&format!("{}/ipfs/bafkqaaa?format=raw", server.url), &[]).await;
    assert_eq!(probe.status, StatusCode::OK);
    assert!(probe.body().is_empty());
}

/// A store that lacks one block.
struct Without(MemoryBlocks, Cid);

impl BlockStore for Without {
    fn get(&self, cid: &Cid) -> Option<Bytes> {
        (cid.hash() != self.1.hash()).then(|| self.0.get(cid)).flatten()
    }
}

#[tokio::test]
async fn a_missing_child_cuts_the_car_after_the_200_and_our_client_refuses_it() {
    let envelopes = common::envelopes(4, 500);
    let (car, root) = common::snapshot(&envelopes, 1 << 20);
    let blocks = MemoryBlocks::from_car(&car[..]).unwrap();
    let server = serve(Arc::new(Without(blocks, envelopes[2].0))).await;
    // The root is there, so the answer starts as a 200; the missing block cuts the connection
    // (before the head is even flushed when the CAR is this small), never a clean end.
    match try_request(Method::GET, &format!("{}/ipfs/{root}?format=car", server.url), &[]).await {
        Ok(answer) => {
            assert_eq!(answer.status, StatusCode::OK);
            assert!(answer.body.is_err(), "the body must end in an error, not cleanly");
        }
        Err(e) => assert!(e.contains("IncompleteMessage"), "{e}"),
    }

    let dir = tempfile::tempdir().unwrap();
    let err = client(&server.url)
        .fetch_car(&root, &dir.path().join("x.car"))
        .await
        .unwrap_err();
    assert!(!dir.path().join("x.car").exists(), "{err}");
}

#[test]
fn memory_blocks_refuse_a_car_with_an_altered_block() {
    let envelopes = common::envelopes(3, 500);
    let (mut car, _) = common::snapshot(&envelopes, 1 << 20);
    let last = car.len() - 1;
    car[last] ^= 1;
    let err = MemoryBlocks::from_car(&car[..]).unwrap_err();
    assert!(matches!(err, CarError::HashMismatch { .. }), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let err = MemoryBlocks::from_file(&dir.path().join("absent.car")).unwrap_err();
    assert!(matches!(err, CarError::Io { .. }), "{err}");
}

// --- @helia/verified-fetch ----------------------------------------------------------------------

fn vf_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verified-fetch")
}

/// `node fetch.mjs GATEWAY CID ACCEPT`, parsed: its JSON line.
async fn verified_fetch(gateway: &str, cid: &Cid, accept: &str) -> Value {
    let modules = vf_dir().join("node_modules/@helia/verified-fetch");
    assert!(modules.exists(), "{} is missing: {INSTALL}", modules.display());
    let output = tokio::process::Command::new("node")
        .args(["fetch.mjs", gateway, &cid.to_string(), accept])
        .current_dir(vf_dir())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("fetch.mjs did not finish in 60 s")
        .unwrap_or_else(|e| panic!("cannot run node: {e}; {INSTALL}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("blocked a request"),
        "verified-fetch tried to leave 127.0.0.1: {stderr}"
    );
    let line = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no output; stderr: {stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}; stderr: {stderr}"))
}

fn body_of(got: &Value) -> Vec<u8> {
    let hex = got["bodyHex"].as_str().unwrap_or_else(|| panic!("no body: {got}"));
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test]
async fn verified_fetch_gets_an_envelope_and_the_manifest_root() {
    // Three manifest blocks, so the CAR below takes verified-fetch down a chain.
    let (server, car, root, envelopes) = snapshot_server(40, 1024).await;
    let blocks = MemoryBlocks::from_car(&car[..]).unwrap();

    let (cid, data, _) = &envelopes[1];
    let got = verified_fetch(&server.url, cid, "application/vnd.ipld.raw").await;
    assert_eq!(got["status"], 200, "{got}");
    assert_eq!(body_of(&got), &data[..]);

    let manifest = blocks.get(&root).unwrap();
    let got = verified_fetch(&server.url, &root, "application/vnd.ipld.raw").await;
    assert_eq!(got["status"], 200, "{got}");
    assert_eq!(body_of(&got), &manifest[..]);
    let got = verified_fetch(&server.url, &root, "application/vnd.ipld.dag-cbor").await;
    assert_eq!(got["status"], 200, "{got}");
    assert_eq!(body_of(&got), &manifest[..]);

    // As a CAR that verified-fetch assembles itself from verified blocks: the whole snapshot.
    let got = verified_fetch(&server.url, &root, "application/vnd.ipld.car").await;
    assert_eq!(got["status"], 200, "{got}");
    let (roots, mut fetched) = car_blocks(&body_of(&got));
    assert_eq!(roots, [root]);
    let (_, mut ours) = car_blocks(&car);
    fetched.sort();
    ours.sort();
    assert_eq!(fetched, ours);
}

/// A store that flips a byte of one block whenever it is read, and counts those reads.
struct Tampering(MemoryBlocks, Cid, AtomicUsize);

impl Tampering {
    fn new(blocks: MemoryBlocks, cid: Cid) -> Arc<Self> {
        Arc::new(Tampering(blocks, cid, AtomicUsize::new(0)))
    }

    fn served(&self) -> usize {
        self.2.load(Ordering::SeqCst)
    }
}

impl BlockStore for Tampering {
    fn get(&self, cid: &Cid) -> Option<Bytes> {
        let data = self.0.get(cid)?;
        if cid.hash() != self.1.hash() {
            return Some(data);
        }
        self.2.fetch_add(1, Ordering::SeqCst);
        let mut bad = data.to_vec();
        bad[0] ^= 0xff;
        Some(bad.into())
    }
}

#[tokio::test]
async fn verified_fetch_refuses_an_altered_block() {
    let envelopes = common::envelopes(3, 500);
    let (car, root) = common::snapshot(&envelopes, 1 << 20);
    let blocks = MemoryBlocks::from_car(&car[..]).unwrap();

    // verified-fetch answers 504 when no gateway gave a block that hashes to its CID (the same
    // as when none answers at all: hence the count of altered blocks actually served).
    let store = Tampering::new(blocks.clone(), envelopes[0].0);
    let bad_envelope = serve(store.clone()).await;
    let got = verified_fetch(&bad_envelope.url, &envelopes[0].0, "application/vnd.ipld.raw").await;
    assert_eq!(got["status"], 504, "{got}");
    assert!(store.served() > 0, "the altered block was never asked for");
    assert!(
        got.get("bodyHex")
            .is_none_or(|b| b != &Value::from(hex(&envelopes[0].1)))
    );

    let store = Tampering::new(blocks.clone(), root);
    let bad_manifest = serve(store.clone()).await;
    let got = verified_fetch(&bad_manifest.url, &root, "application/vnd.ipld.dag-cbor").await;
    assert_eq!(got["status"], 504, "{got}");
    assert!(store.served() > 0, "the altered block was never asked for");

    // An altered envelope under an honest root: the CAR verified-fetch builds fails, naming it.
    let store = Tampering::new(blocks, envelopes[1].0);
    let bad_leaf = serve(store.clone()).await;
    let got = verified_fetch(&bad_leaf.url, &root, "application/vnd.ipld.car").await;
    // (a 200, then the body fails while being read)
    let error = got["error"].as_str().unwrap_or_else(|| panic!("no error: {got}"));
    assert!(error.contains(&envelopes[1].0.to_string()), "{error}");
    assert!(store.served() > 0, "the altered block was never asked for");
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}
