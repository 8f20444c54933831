//! Two peers in two network namespaces joined by a veth pair, each a separate process driven
//! over stdin and stdout: this test binary again, run with `GHP2P_NETNS_ROLE` set (`seed` or
//! `fetch`; see [`run_peer`]). First a fetcher bootstraps from the seed's ticket; then a second
//! fetcher is given nothing and finds the seed by mDNS. Both fetch what the seed announced and
//! check it (CID, AEAD, hints).
//!
//! The peers bind `0.0.0.0:0` with mDNS on and no relays. The namespaces have no route anywhere
//! else, so nothing (multicast included) leaves them; they are named after this process and
//! deleted on drop, even when the test fails. Needs root: without it the test says so and returns
//! (the one skip allowed).
//!
//! Peer protocol:
//!
//! ```text
//! seed    prints `READY <ticket>`; on `ANNOUNCE` waits for a gossip neighbour, announces its
//!         entries and prints `ANNOUNCED <messages>`; ends at the end of its input
//! fetch   reads `JOIN <ticket>` (bootstrap from the ticket) or `MDNS` (find peers on the link);
//!         prints `JOINED <peer id>` with a neighbour, then, for the first announcement, fetches
//!         every entry (each checked by CID and opened) and prints `FETCHED <count> <first key>`
//!         if every hint matches its key; exits
//! ```

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sync::{Announced, MemorySource, PeerConfig, PeerNode, key_hint};
use tokio::io::{AsyncBufReadExt, BufReader as AsyncBufReader};

const LIMIT: Duration = Duration::from_secs(40);
const ROLE: &str = "GHP2P_NETNS_ROLE";
const TEST: &str = "an_entry_announced_in_one_namespace_is_fetched_and_verified_in_another";

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().expect("run `ip`");
    assert!(status.success(), "`ip {}` failed", args.join(" "));
}

fn ensure_ip() {
    if Command::new("ip").arg("-V").output().is_ok_and(|o| o.status.success()) {
        return;
    }
    let installed = Command::new("apt-get")
        .args(["install", "-y", "iproute2"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed,
        "`ip` is missing and `apt-get install -y iproute2` failed: install iproute2"
    );
}

/// Two namespaces `a` and `b` with one veth link between them (10.231.0.1 and .2), deleted on
/// drop (which removes the link too).
struct Namespaces {
    a: String,
    b: String,
}

impl Namespaces {
    fn create() -> Namespaces {
        let tag = std::process::id();
        let net = Namespaces {
            a: format!("ghp2p-{tag}-a"),
            b: format!("ghp2p-{tag}-b"),
        };
        for ns in [&net.a, &net.b] {
            ip(&["netns", "add", ns]);
        }
        // Both ends are created inside the namespaces: nothing is left in ours.
        ip(&[
            "-n", &net.a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &net.b,
        ]);
        for (ns, dev, addr) in [(&net.a, "va", "10.231.0.1/24"), (&net.b, "vb", "10.231.0.2/24")] {
            ip(&["-n", ns, "addr", "add", addr, "dev", dev]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            // mDNS (224.0.0.251) goes out on the link; there is no other route.
            ip(&["-n", ns, "route", "add", "224.0.0.0/4", "dev", dev]);
        }
        net
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A peer process inside a namespace; killed on drop.
struct Peer {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Peer {
    fn spawn(name: &'static str, ns: &str, role: &str) -> Peer {
        // This binary again, running only this test, which plays `role`.
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(std::env::current_exe().unwrap())
            .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
            .env(ROLE, role)
            .env("NETNS_SECRET", "netns fleet secret")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the peer with `ip netns exec`");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Peer {
            name,
            stdin: child.stdin.take(),
            child,
            lines,
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// What follows `prefix` in the first line that holds it.
    fn expect(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    println!("{}: {line}", self.name);
                    // libtest's "test … " may stand before it on the line.
                    if let Some(at) = line.find(prefix) {
                        return line[at + prefix.len()..].to_string();
                    }
                }
                Err(e) => panic!("{} did not print `{prefix}…` ({e:?})", self.name),
            }
        }
    }

    fn finish(mut self) {
        self.stdin.take();
        let deadline = Instant::now() + LIMIT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{} exited with {status}", self.name);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{} did not exit", self.name);
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_entry_announced_in_one_namespace_is_fetched_and_verified_in_another() {
    if let Ok(role) = std::env::var(ROLE) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(run_peer(&role));
        return;
    }
    if !is_root() {
        println!("skipping: needs root for network namespaces");
        return;
    }
    ensure_ip();
    let net = Namespaces::create();
    let first_key = "GET_/repos/octo/hello/issues/0_accept=*/*";

    let mut seed = Peer::spawn("seed", &net.a, "seed");
    let ticket = seed.expect("READY ");
    let seed_addr = sync::parse_ticket(&ticket).unwrap();
    let ips: Vec<_> = seed_addr.ip_addrs().map(|a| a.ip()).collect();
    assert!(ips.contains(&"10.231.0.1".parse().unwrap()), "{ips:?}");
    assert_eq!(seed_addr.relay_urls().count(), 0);

    // Bootstrapped from the ticket, across the namespaces.
    let mut by_ticket = Peer::spawn("by-ticket", &net.b, "fetch");
    by_ticket.send(&format!("JOIN {ticket}"));
    assert_eq!(by_ticket.expect("JOINED "), seed_addr.id.to_string());
    seed.send("ANNOUNCE");
    assert_eq!(seed.expect("ANNOUNCED "), "1");
    assert_eq!(by_ticket.expect("FETCHED "), format!("5 {first_key}"));
    by_ticket.finish();

    // Given nothing: finds the seed by mDNS on the link.
    let mut by_mdns = Peer::spawn("by-mdns", &net.b, "fetch");
    by_mdns.send("MDNS");
    assert_eq!(by_mdns.expect("JOINED "), seed_addr.id.to_string());
    seed.send("ANNOUNCE");
    assert_eq!(seed.expect("ANNOUNCED "), "1");
    assert_eq!(by_mdns.expect("FETCHED "), format!("5 {first_key}"));
    by_mdns.finish();
    seed.finish();
}

const ENTRIES: usize = 5;
const PEER_LIMIT: Duration = Duration::from_secs(30);

/// The peer side, run in a copy of this test binary inside a namespace.
async fn run_peer(role: &str) {
    let secret = std::env::var("NETNS_SECRET").expect("NETNS_SECRET is set");
    let keys = common::keys(&secret);
    let source = Arc::new(MemorySource::new());
    let mut items = Vec::new();
    if role == "seed" {
        for i in 0..ENTRIES {
            let e = common::entry(i);
            let sealed = entry::seal(&keys, &e).unwrap();
            source.insert(i as u64, sealed.envelope);
            items.push(Announced {
                cid: sealed.cid,
                hint: key_hint(&e.key),
            });
        }
    }
    let mut lines = AsyncBufReader::new(tokio::io::stdin()).lines();
    let mut config = PeerConfig::new(keys, source);
    config.bind_addr = "0.0.0.0:0".parse().unwrap();
    config.mdns = true;
    if role == "fetch" {
        let line = lines.next_line().await.unwrap().expect("JOIN or MDNS");
        if let Some(ticket) = line.strip_prefix("JOIN ") {
            config.bootstrap = vec![sync::parse_ticket(ticket).unwrap()];
        }
    }
    let node = PeerNode::bind(config).await.expect("bind");
    match role {
        "seed" => {
            println!("READY {}", node.ticket());
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "ANNOUNCE" {
                    tokio::time::timeout(PEER_LIMIT, node.wait_for_neighbors(1))
                        .await
                        .expect("a neighbour within 30 s");
                    println!("ANNOUNCED {}", node.announce(&items).await.unwrap());
                }
            }
        }
        "fetch" => {
            let mut heard = node.subscribe();
            tokio::time::timeout(PEER_LIMIT, node.wait_for_neighbors(1))
                .await
                .expect("a neighbour within 30 s");
            let peer = node.peers().into_iter().find(|p| p.neighbor).expect("a neighbour");
            println!("JOINED {}", peer.id);
            let announcement = tokio::time::timeout(PEER_LIMIT, heard.recv())
                .await
                .expect("an announcement within 30 s")
                .unwrap();
            let cids: Vec<_> = announcement.items.iter().map(|i| i.cid).collect();
            let got = node.fetch(announcement.origin, &cids).await.expect("fetch");
            assert!(got.missing.is_empty());
            for (block, item) in got.blocks.iter().zip(&announcement.items) {
                assert_eq!(key_hint(&block.entry.key), item.hint, "hint of {}", block.entry.key);
            }
            println!(
                "FETCHED {} {}",
                got.blocks.len(),
                got.blocks[0].entry.key.replace(' ', "_")
            );
        }
        other => panic!("unknown role {other}"),
    }
    node.shutdown().await;
}
