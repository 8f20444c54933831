//! Relays and the peer list on loopback: an unreachable relay must neither delay binding nor
//! stop peers that reach each other directly. (mDNS multicasts, so it is tested only inside
//! network namespaces: tests/netns.rs.)

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use iroh::address_lookup::MemoryLookup;
use sync::{MemorySource, PeerConfig, PeerNode, RelayChoice};

const BIND_LIMIT: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_relay_delays_nothing_and_peers_sync_directly() {
    tokio::time::timeout(LIMIT, async {
        let secret = keys("fleet secret");
        let lookup = MemoryLookup::new();
        // Nothing listens on port 1: the relay never connects.
        let relay: iroh::RelayUrl = "http://127.0.0.1:1".parse().unwrap();
        let (source_a, sealed) = filled(&secret, 3);
        let bind = |source: Arc<MemorySource>, bootstrap: Vec<iroh::EndpointAddr>| {
            let mut config = PeerConfig::new(secret.clone(), source);
            config.relay = RelayChoice::Custom(relay.clone());
            config.lookup = Some(lookup.clone());
            config.bootstrap = bootstrap;
            async move {
                let start = Instant::now();
                let node = tokio::time::timeout(BIND_LIMIT, PeerNode::bind(config))
                    .await
                    .expect("bind waited for the relay")
                    .unwrap();
                (node, start.elapsed())
            }
        };
        let (a, took_a) = bind(source_a, vec![]).await;
        let (b, took_b) = bind(Arc::new(MemorySource::new()), vec![a.addr()]).await;
        println!("bind with an unreachable relay: {took_a:?}, {took_b:?}");
        let mut heard = b.subscribe();
        a.wait_for_neighbors(1).await;
        b.wait_for_neighbors(1).await;
        a.announce(&announced(&sealed)).await.unwrap();
        let announcement = heard.recv().await.unwrap();
        let got = b
            .fetch(announcement.origin, &cids_of(&announcement.items))
            .await
            .unwrap();
        assert_eq!(got.blocks.len(), 3);
        for (block, (cid, envelope, _)) in got.blocks.iter().zip(&sealed) {
            assert_eq!((&block.cid, &block.envelope), (cid, envelope));
        }

        // Each lists the other: authenticated, seen, and a gossip neighbour.
        for (node, other) in [(&a, &b), (&b, &a)] {
            let peers = node.peers();
            assert_eq!(peers.len(), 1, "{peers:?}");
            let p = &peers[0];
            assert_eq!(p.id, other.id());
            assert!(p.neighbor);
            let since = p.authenticated_since_ms.expect("authenticated");
            assert!(p.last_seen_ms.expect("seen") >= since);
            let json = serde_json::to_value(p).unwrap();
            assert_eq!(json["id"], other.id().to_string());
            assert_eq!(json["neighbor"], true);
        }
        a.shutdown().await;
        b.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_alone_lists_no_peers_and_a_failed_handshake_adds_none() {
    tokio::time::timeout(LIMIT, async {
        let lookup = MemoryLookup::new();
        let a = node(keys("fleet secret"), Arc::new(MemorySource::new()), &lookup, &[]).await;
        let m = node(keys("another secret"), Arc::new(MemorySource::new()), &lookup, &[]).await;
        assert!(a.peers().is_empty());
        assert!(m.authenticate(a.id()).await.is_err());
        a.wait_for_stats(|s| s.auth_failures == 1).await;
        assert!(a.peers().is_empty() && m.peers().is_empty());
        a.shutdown().await;
        m.shutdown().await;
    })
    .await
    .expect("test timed out");
}
