//! Peers on loopback: three nodes sharing a secret, a stranger with another secret, and servers
//! that lie. Every test is bounded by a timeout; nothing sleeps to synchronize.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use common::*;
use iroh::address_lookup::MemoryLookup;
use sync::{Announced, BlockSource, MemorySource, PeerConfig, PeerNode, SyncError, close, key_hint};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announce_then_fetch_brings_the_exact_envelopes() {
    tokio::time::timeout(LIMIT, async {
        let secret = keys("fleet secret");
        let lookup = MemoryLookup::new();
        let (source_a, sealed) = filled(&secret, 5);
        let a = node(secret.clone(), source_a, &lookup, &[]).await;
        let b = node(secret.clone(), Arc::new(MemorySource::new()), &lookup, &[&a]).await;
        assert_loopback_only(&a);
        assert_loopback_only(&b);
        let mut heard = b.subscribe();
        a.wait_for_neighbors(1).await;
        b.wait_for_neighbors(1).await;

        let cids: Vec<Cid> = sealed.iter().map(|(c, _, _)| *c).collect();
        assert_eq!(a.announce(&announced(&sealed)).await.unwrap(), 1);
        let announcement = heard.recv().await.unwrap();
        assert_eq!(announcement.origin, a.id());
        assert_eq!(announcement.items, announced(&sealed));
        // B misses entry 3's key: the hint says which CID holds it.
        let wanted = key_hint(&entry(3).key);
        let hit: Vec<&Announced> = announcement.items.iter().filter(|i| i.hint == wanted).collect();
        assert_eq!(hit.len(), 1);
        assert_eq!(hit[0].cid, cids[3]);

        let got = b
            .fetch(announcement.origin, &cids_of(&announcement.items))
            .await
            .unwrap();
        assert!(got.missing.is_empty());
        assert_eq!(got.blocks.len(), 5);
        for (block, (cid, envelope, e)) in got.blocks.iter().zip(&sealed) {
            assert_eq!((&block.cid, &block.envelope, &block.entry), (cid, envelope, e));
        }
        // Something A does not hold comes back as missing, not as an error.
        let unknown = entry::cid_of(b"not held");
        let got = b.fetch(a.id(), &[cids[0], unknown]).await.unwrap();
        assert_eq!((got.blocks.len(), got.missing), (1, vec![unknown]));

        a.wait_for_stats(|s| s.blocks_served == 6).await;
        let (sa, sb) = (a.stats(), b.stats());
        assert_eq!((sa.blocks_served, sb.blocks_verified), (6, 6));
        assert_eq!(
            (sa.auth_failures, sb.auth_failures, sb.bad_peers, sb.bad_gossip),
            (0, 0, 0, 0)
        );
        assert_eq!((sa.announcements_sent, sb.announcements_received), (1, 1));
        a.shutdown().await;
        b.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcements_cross_the_swarm_and_peers_met_there_are_authenticated_first() {
    tokio::time::timeout(LIMIT, async {
        let secret = keys("fleet secret");
        let lookup = MemoryLookup::new();
        let (source_a, sealed) = filled(&secret, 3);
        let a = node(secret.clone(), source_a, &lookup, &[]).await;
        let b = node(secret.clone(), Arc::new(MemorySource::new()), &lookup, &[&a]).await;
        b.wait_for_neighbors(1).await;
        // C only knows B; A reaches it through the swarm.
        let c = node(secret.clone(), Arc::new(MemorySource::new()), &lookup, &[&b]).await;
        let mut heard = c.subscribe();
        c.wait_for_neighbors(1).await;
        let items = announced(&sealed);
        a.announce(&items).await.unwrap();
        let announcement = heard.recv().await.unwrap();
        assert_eq!((announcement.origin, &announcement.items), (a.id(), &items));
        // C never met A: the fetch runs the handshake first.
        let got = c
            .fetch(announcement.origin, &cids_of(&announcement.items))
            .await
            .unwrap();
        assert_eq!(got.blocks.len(), 3);
        for n in [&a, &b, &c] {
            let s = n.stats();
            assert_eq!(
                (s.auth_failures, s.refused_unauthenticated, s.bad_peers),
                (0, 0, 0),
                "{s:?}"
            );
        }
        for n in [a, b, c] {
            n.shutdown().await;
        }
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_fails_the_handshake_and_gets_nothing() {
    tokio::time::timeout(LIMIT, async {
        let secret = keys("fleet secret");
        let lookup = MemoryLookup::new();
        let (source_a, sealed) = filled(&secret, 3);
        let a = node(secret, source_a, &lookup, &[]).await;
        let m = node(keys("another secret"), Arc::new(MemorySource::new()), &lookup, &[]).await;
        let cids: Vec<Cid> = sealed.iter().map(|(c, _, _)| *c).collect();

        let err = m.fetch(a.id(), &cids).await.unwrap_err();
        assert!(matches!(err, SyncError::AuthFailed { .. }), "{err}");
        let err = m.snapshot_since(a.id(), 0).await.unwrap_err();
        assert!(matches!(err, SyncError::AuthFailed { .. }), "{err}");
        assert_eq!(m.stats().auth_failures, 2);
        // A counts when its side of the exchange ends, just after M's call returns.
        a.wait_for_stats(|s| s.auth_failures == 2).await;

        // Skipping the handshake: fetch and snapshot answer nothing and close the connection.
        let mut request = vec![0, 1, cids[0].to_bytes().len() as u8];
        request.extend_from_slice(&cids[0].to_bytes());
        assert_refused(&m, a.id(), sync::FETCH_ALPN, &request).await;
        assert_refused(&m, a.id(), sync::SNAPSHOT_ALPN, &0u64.to_be_bytes()).await;
        a.wait_for_stats(|s| s.refused_unauthenticated == 2).await;
        // Gossip: A tries the handshake with M (dialing back), which fails, then refuses.
        assert_refused(&m, a.id(), iroh_gossip::ALPN, b"hello").await;
        a.wait_for_stats(|s| s.refused_unauthenticated == 3).await;
        let sa = a.stats();
        assert_eq!((sa.auth_failures, sa.blocks_served, sa.auth_ok), (3, 0, 0));
        assert_eq!(m.stats().blocks_verified, 0);
        a.shutdown().await;
        m.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_request_from_a_fleet_peer_costs_it() {
    tokio::time::timeout(LIMIT, async {
        let secret = keys("fleet secret");
        let lookup = MemoryLookup::new();
        let a = node(secret.clone(), Arc::new(MemorySource::new()), &lookup, &[]).await;
        let b = node(secret, Arc::new(MemorySource::new()), &lookup, &[]).await;
        b.authenticate(a.id()).await.unwrap();
        let conn = b.endpoint().connect(a.id(), sync::FETCH_ALPN).await.unwrap();
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        // Zero CIDs: not a request.
        send.write_all(&[0, 0]).await.unwrap();
        send.finish().unwrap();
        // Nothing comes back (the stream may end cleanly or be cut by the close).
        let answer = recv.read_to_end(1 << 20).await;
        assert!(answer.as_ref().map_or(true, |bytes| bytes.is_empty()), "{answer:?}");
        match conn.closed().await {
            iroh::endpoint::ConnectionError::ApplicationClosed(c) => assert_eq!(c.error_code, close::PROTOCOL.into()),
            other => panic!("expected an application close, got {other:?}"),
        }
        a.wait_for_stats(|s| s.bad_peers == 1).await;
        // Forgotten: the next connection needs a new handshake.
        assert_refused(&b, a.id(), sync::FETCH_ALPN, &[0, 0]).await;
        a.shutdown().await;
        b.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// Holds every snapshot inside `since` until released, so one can be kept in flight.
struct Held {
    entered: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl BlockSource for Held {
    fn get(&self, _cid: &Cid) -> Option<Bytes> {
        None
    }
    fn since(&self, _ms: u64) -> Vec<Cid> {
        if let Some(entered) = self.entered.lock().unwrap().take() {
            let _ = entered.send(());
        }
        let _ = self.release.lock().unwrap().recv();
        Vec::new()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_beyond_the_limit_are_refused_as_busy_not_as_bad() {
    tokio::time::timeout(LIMIT, async {
        let secret = keys("fleet secret");
        let lookup = MemoryLookup::new();
        let (entered_tx, entered) = tokio::sync::oneshot::channel();
        let (release, release_rx) = std::sync::mpsc::channel();
        let held = Arc::new(Held {
            entered: std::sync::Mutex::new(Some(entered_tx)),
            release: std::sync::Mutex::new(release_rx),
        });
        let mut config = PeerConfig::new(secret.clone(), held);
        config.lookup = Some(lookup.clone());
        config.max_concurrent_snapshots = 1;
        let a = Arc::new(PeerNode::bind(config).await.unwrap());
        let b = Arc::new(node(secret.clone(), Arc::new(MemorySource::new()), &lookup, &[]).await);
        let c = node(secret, Arc::new(MemorySource::new()), &lookup, &[]).await;
        let first = tokio::spawn({
            let (a, b) = (a.clone(), b.clone());
            async move { b.snapshot_since(a.id(), 0).await }
        });
        entered.await.unwrap();
        let err = c.snapshot_since(a.id(), 0).await.unwrap_err();
        assert!(matches!(err, SyncError::Refused { .. }), "{err}");
        release.send(()).unwrap();
        release.send(()).unwrap();
        assert!(first.await.unwrap().unwrap().blocks.is_empty());
        assert_eq!((b.stats().bad_peers, c.stats().bad_peers), (0, 0));
        c.shutdown().await;
    })
    .await
    .expect("test timed out");
}

/// Serves whatever it is asked for with bytes of its own.
struct Liar {
    cids: Vec<Cid>,
    reply: Bytes,
}

impl BlockSource for Liar {
    fn get(&self, _cid: &Cid) -> Option<Bytes> {
        Some(self.reply.clone())
    }
    fn since(&self, _ms: u64) -> Vec<Cid> {
        self.cids.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_sends_forged_blocks_is_rejected_and_counted() {
    tokio::time::timeout(LIMIT, async {
        let secret = keys("fleet secret");
        let lookup = MemoryLookup::new();
        let (_, sealed) = filled(&secret, 2);
        let asked: Vec<Cid> = sealed.iter().map(|(c, _, _)| *c).collect();
        // Holds the secret, passes the handshake, then answers with a block that is not the one asked for.
        let forged = Arc::new(Liar {
            cids: asked.clone(),
            reply: Bytes::from_static(b"GHPC forged"),
        });
        let liar = node(secret.clone(), forged, &lookup, &[]).await;
        let b = node(secret.clone(), Arc::new(MemorySource::new()), &lookup, &[]).await;

        let err = b.fetch(liar.id(), &asked).await.unwrap_err();
        assert!(matches!(err, SyncError::BadBlock { .. }), "{err}");
        assert_eq!((b.stats().bad_peers, b.stats().blocks_verified), (1, 0));
        // Over snapshots the liar's own CAR writer refuses to put a block under a CID it does not
        // match, so B sees a cut stream: a failed transfer, not (provably) bad data.
        let err = b.snapshot_since(liar.id(), 0).await.unwrap_err();
        assert!(matches!(err, SyncError::Protocol { .. }), "{err}");
        assert_eq!((b.stats().bad_peers, b.stats().blocks_verified), (1, 0));

        // A block that matches its CID but does not open under the secret (sealed under another).
        let junk = entry::seal(&keys("another secret"), &entry(9)).unwrap();
        let sealer = Arc::new(Liar {
            cids: vec![junk.cid],
            reply: junk.envelope.clone(),
        });
        let sealer = node(secret.clone(), sealer, &lookup, &[]).await;
        let err = b.fetch(sealer.id(), &[junk.cid]).await.unwrap_err();
        assert!(matches!(err, SyncError::BadEnvelope { .. }), "{err}");
        let err = b.snapshot_since(sealer.id(), 0).await.unwrap_err();
        assert!(matches!(err, SyncError::BadEnvelope { .. }), "{err}");
        assert_eq!((b.stats().bad_peers, b.stats().blocks_verified), (3, 0));
        for n in [liar, b, sealer] {
            n.shutdown().await;
        }
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_gets_everything_through_a_snapshot() {
    tokio::time::timeout(LIMIT, async {
        let secret = keys("fleet secret");
        let lookup = MemoryLookup::new();
        let (source_a, sealed) = filled(&secret, 40);
        let a = node(secret.clone(), source_a, &lookup, &[]).await;
        let b = node(secret.clone(), Arc::new(MemorySource::new()), &lookup, &[&a]).await;
        a.wait_for_neighbors(1).await;
        let cids: Vec<Cid> = sealed.iter().map(|(c, _, _)| *c).collect();
        a.announce(&announced(&sealed)).await.unwrap();

        // C was not there for the announcement; gossip has no history.
        let c = node(secret.clone(), Arc::new(MemorySource::new()), &lookup, &[&a]).await;
        c.wait_for_neighbors(1).await;
        let all = c.snapshot_since(a.id(), 0).await.unwrap();
        assert!(all.created_ms > 0);
        assert_eq!(all.blocks.len(), 40);
        for (block, (cid, envelope, e)) in all.blocks.iter().zip(&sealed) {
            assert_eq!((&block.cid, &block.envelope, &block.entry), (cid, envelope, e));
        }
        let recent = c.snapshot_since(a.id(), 30).await.unwrap();
        let got: Vec<Cid> = recent.blocks.iter().map(|b| b.cid).collect();
        assert_eq!(got, cids[30..]);
        assert_eq!(c.stats().blocks_verified, 50);
        assert_eq!(c.stats().bad_peers, 0);
        // Nothing since the end: an empty snapshot, not an error.
        assert!(c.snapshot_since(a.id(), 1_000).await.unwrap().blocks.is_empty());
        for n in [a, b, c] {
            n.shutdown().await;
        }
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_and_persistent_identities() {
    tokio::time::timeout(LIMIT, async {
        let secret = keys("fleet secret");
        let (source, sealed) = filled(&secret, 1);
        let key = iroh::SecretKey::from_bytes(&[42u8; 32]);
        let mut config = PeerConfig::new(secret.clone(), source);
        config.secret_key = Some(key.clone());
        let a = PeerNode::bind(config).await.unwrap();
        assert_eq!(a.id(), key.public());
        let ticket = a.ticket();
        // No shared address book: the ticket alone is enough to reach A.
        let mut config = PeerConfig::new(secret, Arc::new(MemorySource::new()));
        config.bootstrap = vec![sync::parse_ticket(&ticket).unwrap()];
        let b = PeerNode::bind(config).await.unwrap();
        b.wait_for_neighbors(1).await;
        let got = b.fetch(a.id(), &[sealed[0].0]).await.unwrap();
        assert_eq!(got.blocks[0].envelope, sealed[0].1);
        assert!(matches!(
            sync::parse_ticket("endpointnonsense"),
            Err(SyncError::Ticket(_))
        ));
        a.shutdown().await;
        b.shutdown().await;
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_can_be_handed_over_in_batches_as_it_arrives() {
    tokio::time::timeout(LIMIT, async {
        let secret = keys("fleet secret");
        let lookup = MemoryLookup::new();
        let n = sync::snapshot::BATCH * 2 + 7;
        let (source, _) = filled(&secret, n);
        let a = node(secret.clone(), source, &lookup, &[]).await;
        let b = node(secret.clone(), Arc::new(MemorySource::new()), &lookup, &[]).await;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let counting = std::thread::spawn(move || {
            rx.into_iter()
                .map(|batch: Vec<sync::Verified>| batch.len())
                .collect::<Vec<_>>()
        });
        let outcome = b.snapshot_since_into(a.id(), 0, tx).await.unwrap();
        let sizes = counting.join().unwrap();
        assert_eq!(sizes, vec![sync::snapshot::BATCH, sync::snapshot::BATCH, 7]);
        assert_eq!(outcome.received, n as u64);
        assert!(outcome.blocks.is_empty(), "all handed over");
    })
    .await
    .expect("test timed out");
}
