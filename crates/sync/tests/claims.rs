//! Claims on loopback: runners ask a sync-node's board which of them files the issue for an
//! error; one wins, the others wait and then learn the issue; strangers get nothing.

mod common;

use std::sync::Arc;

use common::*;
use iroh::address_lookup::MemoryLookup;
use sync::{ClaimAnswer, ClaimBoard, ClaimOp, MemorySource, PeerConfig, PeerNode, SyncError};

async fn coordinator(keys: Arc<entry::Keys>, lookup: &MemoryLookup, board: bool) -> PeerNode {
    let mut config = PeerConfig::new(keys, Arc::new(MemorySource::new()));
    config.claims = board.then(|| Arc::new(ClaimBoard::default()));
    config.lookup = Some(lookup.clone());
    PeerNode::bind(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_runner_wins_a_claim_and_the_others_learn_the_issue() {
    tokio::time::timeout(LIMIT, async {
        let secret = keys("fleet secret");
        let lookup = MemoryLookup::new();
        let s = coordinator(secret.clone(), &lookup, true).await;
        let a = node(secret.clone(), Arc::new(MemorySource::new()), &lookup, &[]).await;
        let b = node(secret.clone(), Arc::new(MemorySource::new()), &lookup, &[]).await;
        let sig = "octo/hello#0123456789abcdef";

        assert_eq!(a.claim(s.id(), sig, ClaimOp::Claim).await.unwrap(), ClaimAnswer::Mine);
        assert_eq!(
            b.claim(s.id(), sig, ClaimOp::Claim).await.unwrap(),
            ClaimAnswer::Pending
        );
        let url = "https://github.com/octo/hello/issues/9";
        let known = ClaimAnswer::Known {
            number: 9,
            url: url.into(),
        };
        assert_eq!(
            a.claim(s.id(), sig, ClaimOp::Resolve { number: 9, url }).await.unwrap(),
            known
        );
        assert_eq!(b.claim(s.id(), sig, ClaimOp::Claim).await.unwrap(), known);

        // A claimer that fails gives the claim to the next one.
        let other = "octo/hello#fedcba9876543210";
        assert_eq!(b.claim(s.id(), other, ClaimOp::Claim).await.unwrap(), ClaimAnswer::Mine);
        assert_eq!(
            a.claim(s.id(), other, ClaimOp::Claim).await.unwrap(),
            ClaimAnswer::Pending
        );
        b.claim(s.id(), other, ClaimOp::Abandon).await.unwrap();
        assert_eq!(a.claim(s.id(), other, ClaimOp::Claim).await.unwrap(), ClaimAnswer::Mine);
    })
    .await
    .expect("within the limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_bad_requests_and_nodes_without_a_board_get_nothing() {
    tokio::time::timeout(LIMIT, async {
        let secret = keys("fleet secret");
        let lookup = MemoryLookup::new();
        let s = coordinator(secret.clone(), &lookup, true).await;
        let stranger = node(keys("another secret"), Arc::new(MemorySource::new()), &lookup, &[]).await;
        let err = stranger.claim(s.id(), "o/r#s", ClaimOp::Claim).await.unwrap_err();
        assert!(matches!(err, SyncError::AuthFailed { .. }), "{err}");

        let a = node(secret.clone(), Arc::new(MemorySource::new()), &lookup, &[]).await;
        for bad in [String::new(), "x".repeat(300)] {
            let err = a.claim(s.id(), &bad, ClaimOp::Claim).await.unwrap_err();
            assert!(matches!(err, SyncError::BadClaim(_)), "{err}");
        }
        let long_url = "u".repeat(2000);
        let err = a
            .claim(
                s.id(),
                "o/r#s",
                ClaimOp::Resolve {
                    number: 1,
                    url: &long_url,
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, SyncError::BadClaim(_)), "{err}");
        // Still served after refusing those locally.
        assert_eq!(
            a.claim(s.id(), "o/r#s", ClaimOp::Claim).await.unwrap(),
            ClaimAnswer::Mine
        );

        let boardless = coordinator(secret.clone(), &lookup, false).await;
        assert!(a.claim(boardless.id(), "o/r#s", ClaimOp::Claim).await.is_err());
        // A raw, malformed request from an authenticated peer is answered with nothing but a
        // protocol close, and the node goes on serving.
        let conn = a.endpoint().connect(s.id(), sync::CLAIM_ALPN).await.unwrap();
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        send.write_all(&[9, 0, 1, b'x']).await.unwrap();
        send.finish().unwrap();
        let answer = recv.read_to_end(1 << 10).await.unwrap_or_default();
        assert!(answer.is_empty(), "{answer:?}");
        match conn.closed().await {
            iroh::endpoint::ConnectionError::ApplicationClosed(c) => {
                assert_eq!(c.error_code, sync::close::PROTOCOL.into())
            }
            other => panic!("expected a protocol close, got {other:?}"),
        }
        assert_eq!(
            a.claim(s.id(), "o/r#t", ClaimOp::Claim).await.unwrap(),
            ClaimAnswer::Mine
        );
    })
    .await
    .expect("within the limit");
}
