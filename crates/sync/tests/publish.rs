//! Publish with acknowledgement on loopback: a runner pushes envelopes to a sync-node that
//! stores them; strangers, forgers and nodes without a sink get nothing stored.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use common::*;
use iroh::address_lookup::MemoryLookup;
use sync::{BlockSink, MemorySource, PeerConfig, PeerNode, PublishAck, SyncError, Verified};

/// A sync-node: serves and stores into the same memory source.
async fn sync_node(keys: Arc<entry::Keys>, store: Arc<MemorySource>, lookup: &MemoryLookup) -> PeerNode {
    let mut config = PeerConfig::new(keys, store.clone());
    config.sink = Some(store);
    config.lookup = Some(lookup.clone());
    PeerNode::bind(config).await.unwrap()
}

fn blocks(sealed: &[(Cid, Bytes, entry::SharedEntry)]) -> Vec<(Cid, Bytes)> {
    sealed.iter().map(|(c, b, _)| (*c, b.clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_envelopes_are_stored_acknowledged_and_served_on() {
    tokio::time::timeout(LIMIT, async {
        let secret = keys("fleet secret");
        let lookup = MemoryLookup::new();
        let store = Arc::new(MemorySource::new());
        let s = sync_node(secret.clone(), store.clone(), &lookup).await;
        let (source, sealed) = filled(&secret, 7);
        let runner = node(secret.clone(), source, &lookup, &[]).await;

        // A repeated block is sent once and counted once.
        let mut sent = blocks(&sealed);
        sent.push(sent[0].clone());
        let ack = runner.publish(s.id(), sent).await.unwrap();
        assert_eq!(ack, PublishAck { received: 7, stored: 7 });
        // Durable on acknowledgement: the sink holds every envelope, byte for byte, already.
        assert_eq!(store.len(), 7);
        for (cid, envelope, _) in &sealed {
            assert_eq!(sync::BlockSource::get(&*store, cid).as_ref(), Some(envelope));
        }
        assert_eq!(runner.stats().blocks_published, 7);
        let ss = s.stats();
        assert_eq!((ss.blocks_stored, ss.blocks_verified, ss.bad_peers), (7, 7, 0));

        // Another runner that joins later gets them from the sync-node.
        let late = node(secret.clone(), Arc::new(MemorySource::new()), &lookup, &[]).await;
        let got = late.snapshot_since(s.id(), 0).await.unwrap();
        let mut got: Vec<Cid> = got.blocks.iter().map(|b| b.cid).collect();
        let mut want: Vec<Cid> = sealed.iter().map(|(c, _, _)| *c).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);

        // An empty publish is acknowledged as empty.
        assert_eq!(
            runner.publish(s.id(), Vec::new()).await.unwrap(),
            PublishAck { received: 0, stored: 0 }
        );
        for n in [s, runner, late] {
            n.shutdown().await;
        }
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_publish() {
    tokio::time::timeout(LIMIT, async {
        let lookup = MemoryLookup::new();
        let store = Arc::new(MemorySource::new());
        let s = sync_node(keys("fleet secret"), store.clone(), &lookup).await;
        let other = keys("another secret");
        let (source, sealed) = filled(&other, 3);
        let m = node(other, source, &lookup, &[]).await;
        let err = m.publish(s.id(), blocks(&sealed)).await.unwrap_err();
        assert!(matches!(err, SyncError::AuthFailed { .. }), "{err}");
        // Skipping the handshake: refused before a byte is read.
        assert_refused(&m, s.id(), sync::PUBLISH_ALPN, b"not a CAR").await;
        s.wait_for_stats(|st| st.refused_unauthenticated == 1).await;
        assert!(store.is_empty());
        assert_eq!(s.stats().blocks_stored, 0);
        s.shutdown().await;
        m.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_forged_block_rejects_the_publish_and_costs_the_publisher() {
    tokio::time::timeout(LIMIT, async {
        let secret = keys("fleet secret");
        let lookup = MemoryLookup::new();
        let store = Arc::new(MemorySource::new());
        let s = sync_node(secret.clone(), store.clone(), &lookup).await;
        let (source, sealed) = filled(&secret, 4);
        let runner = node(secret.clone(), source, &lookup, &[]).await;
        // Matches its CID, but sealed under another secret: only the receiver can tell.
        let junk = entry::seal(&keys("another secret"), &entry(9)).unwrap();
        let mut sent = blocks(&sealed);
        sent.insert(2, (junk.cid, junk.envelope));
        let err = runner.publish(s.id(), sent).await.unwrap_err();
        assert!(matches!(err, SyncError::Rejected { .. }), "{err}");
        s.wait_for_stats(|st| st.bad_peers == 1).await;
        // All or nothing: the good blocks before the bad one are not stored either.
        assert!(store.is_empty());
        assert_eq!((s.stats().blocks_stored, runner.stats().blocks_published), (0, 0));

        // A block under another block's CID never leaves the publisher.
        let err = runner
            .publish(s.id(), vec![(sealed[0].0, sealed[1].1.clone())])
            .await
            .unwrap_err();
        assert!(matches!(err, SyncError::Unpublishable { .. }), "{err}");
        s.shutdown().await;
        runner.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// Fails every store, like a full disk.
struct Broken;

impl BlockSink for Broken {
    fn store(&self, _blocks: Vec<Verified>) -> Result<u64, String> {
        Err("disk full".into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_a_sink_or_with_a_failing_one_acknowledges_nothing() {
    tokio::time::timeout(LIMIT, async {
        let secret = keys("fleet secret");
        let lookup = MemoryLookup::new();
        let plain = node(secret.clone(), Arc::new(MemorySource::new()), &lookup, &[]).await;
        let (source, sealed) = filled(&secret, 2);
        let runner = node(secret.clone(), source, &lookup, &[]).await;
        let err = runner.publish(plain.id(), blocks(&sealed)).await.unwrap_err();
        assert!(matches!(err, SyncError::NoSink { .. }), "{err}");

        let mut config = PeerConfig::new(secret.clone(), Arc::new(MemorySource::new()));
        config.sink = Some(Arc::new(Broken));
        config.lookup = Some(lookup.clone());
        let broken = PeerNode::bind(config).await.unwrap();
        let err = runner.publish(broken.id(), blocks(&sealed)).await.unwrap_err();
        match &err {
            SyncError::Rejected { reason, .. } => assert!(reason.contains("disk full"), "{err}"),
            other => panic!("expected a rejection, got {other}"),
        }
        // Neither is the publisher's fault.
        for n in [&plain, &broken] {
            assert_eq!(n.stats().bad_peers, 0);
        }
        assert_eq!(runner.stats().blocks_published, 0);
        for n in [plain, broken, runner] {
            n.shutdown().await;
        }
    })
    .await
    .expect("test timed out");
}
