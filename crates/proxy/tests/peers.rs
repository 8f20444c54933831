//! The proxy's side of peer sync, with a test double for the peer layer: what a miss asks of
//! peers, how a peer's entry is served (`PEER`), and that peers never hold a request up.

mod common;

use common::*;
use entry::{Fingerprint, StoredResponse};
use proxy::{PeerLookup, Peers, ProxyConfig, SharePolicy, UpstreamBase};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::Store;

/// Peers that hold whatever `seed` put there, answer after `delay`, and record announcements.
#[derive(Default)]
struct FakePeers {
    held: Mutex<HashMap<String, StoredResponse>>,
    delay: Duration,
    stored: Mutex<Vec<String>>,
    asked: Mutex<Vec<String>>,
}

impl Peers for FakePeers {
    fn stored(&self, key: &str, _entry: &Arc<StoredResponse>) {
        self.stored.lock().unwrap().push(key.to_owned());
    }

    fn lookup<'a>(&'a self, key: &'a str) -> PeerLookup<'a> {
        Box::pin(async move {
            self.asked.lock().unwrap().push(key.to_owned());
            tokio::time::sleep(self.delay).await;
            self.held.lock().unwrap().get(key).cloned()
        })
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({ "enabled": true, "peers": [] })
    }
}

fn config(sim: &ghsim::SimHandle) -> ProxyConfig {
    ProxyConfig::new(UpstreamBase::parse(&sim.base_url).unwrap())
}

/// Fetches `path` with `token` through a peer-less proxy and returns what a peer would hold:
/// the stored entry with the PEER fingerprint (as `entry::open` gives it).
async fn entry_from_another_runner(sim: &ghsim::SimHandle, path: &str, token: &str) -> (String, StoredResponse) {
    let dir = tempfile::tempdir().unwrap();
    let a = Proxy::start(&sim.base_url, Store::memory_only(1 << 24), dir.path()).await;
    let r = send(Via::Unix(&a.socket), Req::get(path).token(token)).await;
    assert_eq!(r.x_cache(), "MISS");
    let mut found = None;
    a.state.store().scan_blocking(&mut |k, v| {
        if k.contains(path) {
            found = Some((k.to_owned(), v.clone()));
        }
    });
    a.stop().await;
    let (key, mut entry) = found.expect("A stored the answer");
    entry.token_fp = Fingerprint::PEER;
    (key, entry)
}

/// A proxy under the trust policy whose peers hold what Alice fetched at `path` elsewhere.
async fn trusting_proxy_whose_peers_hold(sim: &ghsim::SimHandle, path: &str, dir: &std::path::Path) -> Proxy {
    let (key, entry) = entry_from_another_runner(sim, path, TOKEN_ALICE).await;
    let peers = Arc::new(FakePeers::default());
    peers.held.lock().unwrap().insert(key, entry);
    let mut cfg = config(sim);
    cfg.policy = SharePolicy::Trust;
    let p = Proxy::start_with(cfg, Store::memory_only(1 << 24), dir).await;
    p.state.attach_peers(peers);
    p
}

#[tokio::test]
async fn a_miss_served_from_a_peer_costs_no_rate_limit_and_is_then_a_hit() {
    let sim = sim().await;
    let (key, entry) = entry_from_another_runner(&sim, "/repos/octo/hello/issues/1", TOKEN_ALICE).await;
    let peers = Arc::new(FakePeers::default());
    peers.held.lock().unwrap().insert(key.clone(), entry);
    let dir = tempfile::tempdir().unwrap();
    let b = Proxy::start_with(config(&sim), Store::memory_only(1 << 24), dir.path()).await;
    b.state.attach_peers(peers.clone());
    let units = sim.stats().units_total();
    let calls = sim.stats().count("GET /repos/{owner}/{repo}/issues/{number}");

    let first = send(
        Via::Unix(&b.socket),
        Req::get("/repos/octo/hello/issues/1").token(TOKEN_BOB),
    )
    .await;
    assert_eq!(first.status, 200);
    assert_eq!(first.x_cache(), "PEER");
    assert_eq!(first.json()["number"], 1);
    // Verified with GitHub for Bob's token by a conditional request: a free 304.
    assert_eq!(sim.stats().units_total(), units, "a peer's entry costs no rate limit");
    assert_eq!(
        sim.stats().count("GET /repos/{owner}/{repo}/issues/{number}"),
        calls + 1
    );
    assert_eq!(*peers.asked.lock().unwrap(), vec![key.clone()]);

    // Confirmed for Bob: now Bob's own entry, a plain hit with no upstream call.
    let second = send(
        Via::Unix(&b.socket),
        Req::get("/repos/octo/hello/issues/1").token(TOKEN_BOB),
    )
    .await;
    assert_eq!(second.x_cache(), "HIT");
    assert_eq!(
        sim.stats().count("GET /repos/{owner}/{repo}/issues/{number}"),
        calls + 1
    );
    assert!(
        peers.stored.lock().unwrap().is_empty(),
        "a peer's entry is not re-announced"
    );
    let stats = b.state.stats();
    assert_eq!(stats.p2p_contributions, 1);
    b.stop().await;
}

#[tokio::test]
async fn under_the_trust_policy_a_peer_entry_is_served_without_asking_github() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let b = trusting_proxy_whose_peers_hold(&sim, "/repos/octo/hello", dir.path()).await;
    let before = sim.stats().total_requests;
    let r = send(Via::Unix(&b.socket), Req::get("/repos/octo/hello").token(TOKEN_BOB)).await;
    assert_eq!(r.x_cache(), "PEER");
    assert_eq!(sim.stats().total_requests, before, "no upstream call at all");
    b.stop().await;
}

#[tokio::test]
async fn a_no_cache_read_gets_a_peer_entry_only_once_github_confirms_it_even_under_trust() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let b = trusting_proxy_whose_peers_hold(&sim, "/repos/octo/hello/issues/1", dir.path()).await;
    let before = sim.stats().count("GET /repos/{owner}/{repo}/issues/{number}");
    let r = send(
        Via::Unix(&b.socket),
        Req::get("/repos/octo/hello/issues/1")
            .token(TOKEN_BOB)
            .header("cache-control", "no-cache"),
    )
    .await;
    assert_eq!(r.x_cache(), "PEER");
    assert_eq!(
        sim.stats().count("GET /repos/{owner}/{repo}/issues/{number}"),
        before + 1,
        "confirmed upstream (a free 304)"
    );
    b.stop().await;
}

#[tokio::test]
async fn slow_peers_never_hold_a_miss_past_the_deadline() {
    let sim = sim().await;
    let (key, entry) = entry_from_another_runner(&sim, "/repos/octo/hello", TOKEN_ALICE).await;
    let peers = Arc::new(FakePeers {
        delay: Duration::from_secs(30),
        ..Default::default()
    });
    peers.held.lock().unwrap().insert(key, entry);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&sim);
    cfg.peer_deadline = Duration::from_millis(50);
    let b = Proxy::start_with(cfg, Store::memory_only(1 << 24), dir.path()).await;
    b.state.attach_peers(peers);
    let started = Instant::now();
    let r = send(Via::Unix(&b.socket), Req::get("/repos/octo/hello").token(TOKEN_BOB)).await;
    assert_eq!(r.x_cache(), "MISS");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited {:?}",
        started.elapsed()
    );
    b.stop().await;
}

#[tokio::test]
async fn new_answers_are_announced_and_peers_show_on_the_control_endpoint() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let b = Proxy::start_with(config(&sim), Store::memory_only(1 << 24), dir.path()).await;
    let off = send(Via::Unix(&b.socket), Req::get("/_cache/peers")).await;
    assert_eq!(off.json()["enabled"], false);
    assert!(off.json()["reason"].as_str().unwrap().contains("--peer"));

    let peers = Arc::new(FakePeers::default());
    b.state.attach_peers(peers.clone());
    let r = send(Via::Unix(&b.socket), Req::get("/repos/octo/hello").token(TOKEN_ALICE)).await;
    assert_eq!(r.x_cache(), "MISS", "nobody held it");
    let hit = send(Via::Unix(&b.socket), Req::get("/repos/octo/hello").token(TOKEN_ALICE)).await;
    assert_eq!(hit.x_cache(), "HIT");
    let stored = peers.stored.lock().unwrap().clone();
    assert_eq!(stored.len(), 1, "announced once: {stored:?}");
    assert!(stored[0].contains("/repos/octo/hello"));
    let on = send(Via::Unix(&b.socket), Req::get("/_cache/peers")).await;
    assert_eq!(on.json()["enabled"], true);
    b.stop().await;
}
