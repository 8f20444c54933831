//! Peer sync end to end, offline on loopback: real `gh-p2p-cache` daemons and a sync-node (relays
//! disabled, endpoints bound to 127.0.0.1) in front of the simulator, driven with curl.

mod support;

use ghsim::{Sim, SimConfig, SimHandle, TOKEN_ALICE, TOKEN_BOB, TOKEN_CAROL};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use support::Daemon;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const SECRET: &str = "fleet secret for the peer tests";
const SCOPE: &str = "octo/hello";
const ISSUE: &str = "/repos/octo/hello/issues/1";
const ISSUE_ROUTE: &str = "GET /repos/{owner}/{repo}/issues/{number}";

struct SyncNode {
    child: Child,
    ticket: String,
    dir: PathBuf,
    bind: String,
}

/// A UDP port free now, so a restarted node can bind the same one (its ticket holds it).
fn free_udp_port() -> String {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().to_string()
}

impl SyncNode {
    async fn start(dir: &Path) -> SyncNode {
        Self::start_at(dir, &free_udp_port()).await
    }

    async fn start_at(dir: &Path, bind: &str) -> SyncNode {
        Self::start_with(dir, bind, &["--relay", "disabled"]).await.0
    }

    /// With other relay flags; also returns the node's relay URL when it runs one.
    async fn start_with(dir: &Path, bind: &str, relay_flags: &[&str]) -> (SyncNode, Option<String>) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gh-p2p-cache"))
            .args(["sync-node", "--gateway-listen", "127.0.0.1:0", "--snapshot-every", "1h"])
            .args(relay_flags)
            .args(["--peer-bind", bind])
            .arg("--cache-dir")
            .arg(dir)
            .env("GH_P2P_CACHE_SECRET", SECRET)
            .env("GH_P2P_CACHE_SCOPE", SCOPE)
            .env("GH_P2P_CACHE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the sync-node");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut relay = None;
        let ticket = loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .expect("the sync-node prints its ticket within 60 s")
                .unwrap()
                .expect("the sync-node printed its ticket before exiting");
            if let Some(url) = line.strip_prefix("relay=") {
                relay = Some(url.trim().to_owned());
            }
            if let Some(t) = line.strip_prefix("ticket=") {
                break t.trim().to_owned();
            }
        };
        // Keep draining stdout so the node never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let node = SyncNode {
            child,
            ticket,
            dir: dir.to_owned(),
            bind: bind.to_owned(),
        };
        (node, relay)
    }

    /// SIGKILL: no chance to flush anything it had not already made durable.
    async fn crash(mut self) -> (PathBuf, String) {
        self.child.kill().await.unwrap();
        (self.dir, self.bind)
    }
}

fn peer_flags(ticket: &str) -> Vec<String> {
    [
        "--peer",
        ticket,
        "--relay",
        "disabled",
        "--peer-bind",
        "127.0.0.1:0",
        "--policy",
        "trust",
    ]
    .map(str::to_owned)
    .to_vec()
}

async fn runner(sim: &SimHandle, dir: &Path, ticket: &str, secret: &str) -> Daemon {
    let flags = peer_flags(ticket);
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    let d = Daemon::start_with(
        &sim.base_url,
        dir,
        &args,
        &[("GH_P2P_CACHE_SECRET", secret), ("GH_P2P_CACHE_SCOPE", SCOPE)],
    )
    .await;
    // Peers attach in the background (key derivation, then the endpoint).
    wait_for(&d, "/_cache/peers", "the peer link is up", |v| v["enabled"] == true).await;
    d
}

async fn control(d: &Daemon, method: &str, path: &str) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-sS", "-X", method, "--unix-socket"])
        .arg(&d.socket)
        .arg(format!("http://localhost{path}"))
        .output()
        .await
        .expect("curl is installed (./scripts/test installs it)");
    assert!(
        out.status.success(),
        "curl {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{path}: {e}: {:?}", out.stdout))
}

async fn wait_for(d: &Daemon, path: &str, what: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v = control(d, "GET", path).await;
        if done(&v) {
            return v;
        }
        assert!(tokio::time::Instant::now() < until, "{what}: not within 30 s: {v:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET path` through the daemon's socket; returns the X-Cache header and the status.
async fn get(d: &Daemon, token: &str, path: &str) -> (String, u16) {
    let out = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-D", "-", "--unix-socket"])
        .arg(&d.socket)
        .args(["-H", &format!("Authorization: token {token}")])
        .arg(format!("http://api.github.com{path}"))
        .output()
        .await
        .expect("curl is installed (./scripts/test installs it)");
    let head = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let x_cache = head
        .lines()
        .find_map(|l| l.strip_prefix("x-cache: "))
        .unwrap_or("<none>")
        .trim()
        .to_owned();
    (x_cache, status)
}

async fn sim() -> SimHandle {
    Sim::start(SimConfig::default()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entry_fetched_at_one_runner_is_served_at_another_as_peer_and_a_late_joiner_warms_from_the_sync_node() {
    let sim = sim().await;
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let node = SyncNode::start(dirs[0].path()).await;
    let a = runner(&sim, dirs[1].path(), &node.ticket, SECRET).await;
    let b = runner(&sim, dirs[2].path(), &node.ticket, SECRET).await;

    assert_eq!(get(&a, TOKEN_ALICE, ISSUE).await, ("MISS".into(), 200));
    let upstream = sim.stats().count(ISSUE_ROUTE);
    // A announced it; B fetched, verified and stored it in the background.
    wait_for(&b, "/_cache/peers", "B received A's entry", |v| {
        v["prefetched"].as_u64() >= Some(1)
    })
    .await;
    assert_eq!(get(&b, TOKEN_BOB, ISSUE).await, ("PEER".into(), 200));
    assert_eq!(
        sim.stats().count(ISSUE_ROUTE),
        upstream,
        "B served it with no upstream call"
    );
    assert_eq!(control(&b, "GET", "/_cache/stats").await["p2p_contributions"], 1);

    // Finish publishes to the sync-node and waits for its acknowledgement.
    let finished = control(&a, "POST", "/_cache/finish").await;
    let published = &finished["published"];
    assert!(
        published
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["place"] == "peers" && p["error"].is_null()),
        "{published:#}"
    );

    // A late joiner warms from the sync-node while it already serves.
    let c = runner(&sim, dirs[3].path(), &node.ticket, SECRET).await;
    let stats = wait_for(&c, "/_cache/stats", "C warmed from the sync-node", |v| {
        v["warm"].as_array().is_some_and(|w| !w.is_empty())
    })
    .await;
    let warm = &stats["warm"][0];
    assert!(warm["source"].as_str().unwrap().starts_with("sync-node"), "{warm:#}");
    assert!(warm["entries"].as_u64().unwrap() >= 1, "{warm:#}");
    assert_eq!(get(&c, TOKEN_CAROL, ISSUE).await, ("PEER".into(), 200));
    assert_eq!(sim.stats().count(ISSUE_ROUTE), upstream);

    for d in [a, b, c] {
        d.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_gets_nothing_and_a_sync_node_crash_loses_nothing_it_acknowledged() {
    let sim = sim().await;
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let node = SyncNode::start(dirs[0].path()).await;
    let a = runner(&sim, dirs[1].path(), &node.ticket, SECRET).await;
    for path in [ISSUE, "/repos/octo/hello"] {
        assert_eq!(get(&a, TOKEN_ALICE, path).await.0, "MISS");
    }
    let finished = control(&a, "POST", "/_cache/finish").await;
    let line = finished["published"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["place"] == "peers")
        .unwrap_or_else(|| panic!("{finished:#}"))
        .clone();
    assert!(line["error"].is_null(), "{line:#}");
    assert!(
        line["label"].as_str().unwrap().starts_with("2 entries acknowledged"),
        "{line:#}"
    );

    // A stranger with another secret: the handshake fails, it gets nothing, it gives nothing.
    let stranger = runner(&sim, dirs[2].path(), &node.ticket, "not the fleet's secret").await;
    // Its attempts are over (the warm start from the sync-node failed at the handshake) before
    // anything is asserted.
    let stats = wait_for(&stranger, "/_cache/stats", "the stranger's warm start ended", |v| {
        v["warm"].as_array().is_some_and(|w| !w.is_empty())
    })
    .await;
    let warm = &stats["warm"][0];
    assert_eq!(warm["entries"], 0, "{warm:#}");
    assert!(warm["error"].as_str().unwrap().contains("handshake"), "{warm:#}");
    let peers = control(&stranger, "GET", "/_cache/peers").await;
    assert_eq!(peers["peers"].as_array().map(Vec::len), Some(0), "{peers:#}");
    let upstream = sim.stats().count(ISSUE_ROUTE);
    assert_eq!(get(&stranger, TOKEN_BOB, ISSUE).await.0, "MISS");
    assert_eq!(sim.stats().count(ISSUE_ROUTE), upstream + 1);
    let refused = control(&stranger, "POST", "/_cache/finish").await;
    let refused = refused["published"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["place"].as_str() == Some(""))
        .cloned();
    assert!(
        refused.is_some_and(|p| !p["error"].is_null()),
        "publishing without the secret must fail"
    );
    stranger.stop().await;
    a.stop().await;

    // Crash the sync-node; it restarts with the same identity and everything it acknowledged.
    let ticket = node.ticket.clone();
    let (dir, bind) = node.crash().await;
    let node = SyncNode::start_at(&dir, &bind).await;
    assert_eq!(node.ticket, ticket, "a sync-node's ticket survives restarts");
    let fresh = dirs[3].path().join("cache");
    let out = Command::new(env!("CARGO_BIN_EXE_gh-p2p-cache"))
        .args([
            "warm",
            "--peer",
            &ticket,
            "--relay",
            "disabled",
            "--peer-bind",
            "127.0.0.1:0",
        ])
        .arg("--cache-dir")
        .arg(&fresh)
        .env("GH_P2P_CACHE_SECRET", SECRET)
        .env("GH_P2P_CACHE_SCOPE", SCOPE)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "warm: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("warmed 2 entries from sync-node"), "{stdout}");
    drop(node);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_peers_and_relays_unreachable_the_daemon_starts_and_serves_in_its_normal_time() {
    let sim = sim().await;
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    // A ticket whose node is gone.
    let node = SyncNode::start(dirs[0].path()).await;
    let ticket = node.ticket.clone();
    node.crash().await;

    let started = std::time::Instant::now();
    let d = Daemon::start_with(
        &sim.base_url,
        dirs[1].path(),
        &[
            "--peer",
            &ticket,
            "--relay",
            "https://127.0.0.1:1",
            "--peer-bind",
            "127.0.0.1:0",
        ],
        &[("GH_P2P_CACHE_SECRET", SECRET), ("GH_P2P_CACHE_SCOPE", SCOPE)],
    )
    .await;
    let ready = started.elapsed();
    let asked = std::time::Instant::now();
    assert_eq!(get(&d, TOKEN_ALICE, ISSUE).await, ("MISS".into(), 200));
    let first = asked.elapsed();
    assert!(ready < Duration::from_secs(5), "ready after {ready:?}");
    assert!(first < Duration::from_secs(2), "first answer after {first:?}");
    // The warm start from the missing node failed, and says so, while the daemon served.
    let stats = wait_for(&d, "/_cache/stats", "the warm start gave up", |v| {
        v["warm"].as_array().is_some_and(|w| !w.is_empty())
    })
    .await;
    assert!(stats["warm"][0]["error"].is_string(), "{stats:#}");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runner_that_knows_the_sync_node_only_through_its_relay_reaches_it() {
    let sim = sim().await;
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (node, relay) =
        SyncNode::start_with(dirs[0].path(), &free_udp_port(), &["--relay-listen", "127.0.0.1:0"]).await;
    let relay = relay.expect("the sync-node printed relay=");
    let a = runner(&sim, dirs[1].path(), &node.ticket, SECRET).await;
    assert_eq!(get(&a, TOKEN_ALICE, ISSUE).await.0, "MISS");
    let finished = control(&a, "POST", "/_cache/finish").await;
    assert!(
        finished["published"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["place"] == "peers" && p["error"].is_null()),
        "{finished:#}"
    );
    a.stop().await;

    // A ticket with no address but the relay: the runner can only get there through it.
    let addr = sync::parse_ticket(&node.ticket).unwrap();
    assert_eq!(
        addr.relay_urls().map(|u| u.to_string()).collect::<Vec<_>>(),
        vec![format!("{relay}/")],
        "the printed ticket carries the node's relay"
    );
    let relay_only = iroh::EndpointAddr::new(addr.id).with_relay_url(relay.parse().unwrap());
    assert_eq!(relay_only.ip_addrs().count(), 0);
    let ticket = iroh_tickets::endpoint::EndpointTicket::new(relay_only).to_string();
    let flags = [
        "--peer",
        ticket.as_str(),
        "--relay",
        relay.as_str(),
        "--peer-bind",
        "127.0.0.1:0",
        "--policy",
        "trust",
    ];
    let b = Daemon::start_with(
        &sim.base_url,
        dirs[2].path(),
        &flags,
        &[("GH_P2P_CACHE_SECRET", SECRET), ("GH_P2P_CACHE_SCOPE", SCOPE)],
    )
    .await;
    let stats = wait_for(&b, "/_cache/stats", "B warmed through the relay", |v| {
        v["warm"].as_array().is_some_and(|w| !w.is_empty())
    })
    .await;
    let warm = &stats["warm"][0];
    assert!(warm["error"].is_null(), "{warm:#}");
    assert_eq!(warm["entries"], 1, "{warm:#}");
    let upstream = sim.stats().count(ISSUE_ROUTE);
    assert_eq!(get(&b, TOKEN_BOB, ISSUE).await, ("PEER".into(), 200));
    assert_eq!(sim.stats().count(ISSUE_ROUTE), upstream);
    b.stop().await;
    drop(node);
}
