//! The trustless gateway client against fake gateways, honest and hostile.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use cid::Cid;
use ipfs::block::raw_cid;
use ipfs::doubles::{FakeGateway, GatewayFaults};
use ipfs::{GatewayClient, IpfsError, read_snapshot};

fn client(urls: &[String]) -> GatewayClient {
    GatewayClient::new(urls.to_vec())
        .unwrap()
        .with_timeout(Duration::from_secs(5))
}

async fn snapshot_gateway(n: usize) -> (FakeGateway, Vec<u8>, Cid, Vec<(Cid, Bytes, ipfs::EntryMeta)>) {
    let envelopes = common::envelopes(n, 500);
    let (car, root) = common::snapshot(&envelopes, 1 << 20);
    let gw = FakeGateway::from_car(&car).await.unwrap();
    (gw, car, root, envelopes)
}

#[tokio::test]
async fn a_verified_car_is_written_and_reads_as_the_snapshot() {
    let (gw, car, root, _) = snapshot_gateway(8).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("snap.car");
    let report = client(&[gw.url()]).fetch_car(&root, &dest).await.unwrap();
    assert_eq!(report.gateway, gw.url());
    assert_eq!(report.stats.blocks, 9);
    assert!(report.rejected.is_empty());
    assert_eq!(std::fs::read(&dest).unwrap(), car);
    let (manifest, items) = read_snapshot(std::fs::File::open(&dest).unwrap()).unwrap();
    assert_eq!(manifest.entries.len(), 8);
    assert_eq!(items.filter(Result::is_ok).count(), 8);
}

#[tokio::test]
async fn a_gateway_altering_a_block_is_rejected_counted_and_the_next_one_used() {
    let (bad, car, root, envelopes) = snapshot_gateway(5).await;
    bad.set_faults(GatewayFaults {
        alter_block: Some(envelopes[2].0),
        ..Default::default()
    });
    let good = FakeGateway::from_car(&car).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("snap.car");

    let report = client(&[bad.url(), good.url()]).fetch_car(&root, &dest).await.unwrap();
    assert_eq!(report.gateway, good.url());
    assert_eq!(report.tampered(), 1);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].url, bad.url());
    assert!(
        report.rejected[0].error.contains("do not hash"),
        "{}",
        report.rejected[0].error
    );
    assert_eq!(std::fs::read(&dest).unwrap(), car);
    assert_eq!((bad.requests(), good.requests()), (1, 1));
}

#[tokio::test]
async fn blocks_in_any_order_with_duplicates_are_laid_out_manifest_first() {
    let envelopes = common::envelopes(200, 64);
    let (car, root) = common::snapshot(&envelopes, 1024);
    let gw = FakeGateway::from_car(&car).await.unwrap();
    gw.set_faults(GatewayFaults {
        shuffle: true,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("snap.car");
    let report = client(&[gw.url()]).fetch_car(&root, &dest).await.unwrap();
    assert_eq!(report.stats.duplicates, 1);
    assert_eq!(std::fs::read(&dest).unwrap(), car);
}

#[tokio::test]
async fn unrelated_blocks_are_dropped() {
    let (gw, _car, _root, envelopes) = snapshot_gateway(3).await;
    // Ask for one envelope's DAG: the gateway sends just that block.
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("one.car");
    let report = client(&[gw.url()]).fetch_car(&envelopes[1].0, &dest).await.unwrap();
    assert_eq!(report.stats.blocks, 1);
    let blocks: Vec<_> = ipfs::CarReader::new(std::fs::File::open(&dest).unwrap())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].data, envelopes[1].1);
}

#[tokio::test]
async fn an_oversized_answer_is_refused() {
    let (gw, _car, root, _) = snapshot_gateway(8).await;
    let c = client(&[gw.url()]).with_max_car(1000);
    let dir = tempfile::tempdir().unwrap();
    let err = c.fetch_car(&root, &dir.path().join("s.car")).await.unwrap_err();
    assert!(err.to_string().contains("over 1000 bytes"), "{err}");
}

#[tokio::test]
async fn a_truncated_car_is_rejected() {
    let (gw, _car, root, _) = snapshot_gateway(5).await;
    // A clean cut between sections: a valid, shorter CAR that only completeness can catch.
    gw.set_faults(GatewayFaults {
        truncate_after_blocks: Some(3),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("snap.car");
    let err = client(&[gw.url()]).fetch_car(&root, &dest).await.unwrap_err();
    let IpfsError::AllGatewaysFailed { attempts, tampered, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(*tampered, 0);
    assert!(attempts[0].contains("lacks 3 block"), "{err}");
    assert!(!dest.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no spool files left");
}

#[tokio::test]
async fn a_gateway_missing_the_root_is_not_found_and_the_next_is_tried() {
    let (gw, car, root, _) = snapshot_gateway(2).await;
    let empty = FakeGateway::start([]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = client(&[empty.url(), gw.url()])
        .fetch_car(&root, &dir.path().join("s.car"))
        .await
        .unwrap();
    assert!(
        report.rejected[0].error.contains("has no block"),
        "{:?}",
        report.rejected
    );
    assert_eq!(std::fs::read(dir.path().join("s.car")).unwrap(), car);
}

#[tokio::test]
async fn a_gateway_that_is_not_trustless_is_rejected() {
    let (gw, _car, root, _) = snapshot_gateway(2).await;
    gw.set_faults(GatewayFaults {
        wrong_content_type: true,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let err = client(&[gw.url()])
        .fetch_car(&root, &dir.path().join("s.car"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a trustless gateway"), "{err}");
}

#[tokio::test]
async fn raw_blocks_are_verified_and_altered_ones_refused() {
    let (gw, car, _root, envelopes) = snapshot_gateway(3).await;
    let c = client(&[gw.url()]);
    assert_eq!(c.fetch_block(&envelopes[0].0).await.unwrap(), envelopes[0].1);

    gw.set_faults(GatewayFaults {
        alter_block: Some(envelopes[0].0),
        ..Default::default()
    });
    let err = c.fetch_block(&envelopes[0].0).await.unwrap_err();
    assert!(matches!(err, IpfsError::AllGatewaysFailed { tampered: 1, .. }), "{err}");

    let good = FakeGateway::from_car(&car).await.unwrap();
    let both = client(&[gw.url(), good.url()]);
    assert_eq!(both.fetch_block(&envelopes[0].0).await.unwrap(), envelopes[0].1);
}

#[tokio::test]
async fn unreachable_gateways_fail_quickly_as_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let started = Instant::now();
    let err = client(&[format!("http://127.0.0.1:{port}")])
        .fetch_car(&raw_cid(b"x"), &std::env::temp_dir().join("never-written.car"))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(err.to_string().contains("unreachable"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn no_gateway_is_a_configuration_error() {
    assert!(matches!(GatewayClient::new(vec![]), Err(IpfsError::BadUrl { .. })));
}

#[tokio::test]
async fn an_unwritable_destination_stops_at_once() {
    let (gw, car, root, _) = snapshot_gateway(2).await;
    let second = FakeGateway::from_car(&car).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("no-such-dir").join("s.car");
    let err = client(&[gw.url(), second.url()])
        .fetch_car(&root, &dest)
        .await
        .unwrap_err();
    assert!(matches!(err, IpfsError::Io { .. }), "{err}");
    assert_eq!(second.requests(), 0);
}

#[tokio::test]
async fn a_gateway_that_stalls_midway_times_out_and_the_next_is_used() {
    let (slow, car, root, _) = snapshot_gateway(4).await;
    slow.set_faults(GatewayFaults {
        stall: true,
        ..Default::default()
    });
    let good = FakeGateway::from_car(&car).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("s.car");
    let c = GatewayClient::new(vec![slow.url(), good.url()])
        .unwrap()
        .with_timeout(Duration::from_millis(200));
    let report = c.fetch_car(&root, &dest).await.unwrap();
    assert_eq!(report.gateway, good.url());
    assert!(
        report.rejected[0].error.contains("did not answer"),
        "{:?}",
        report.rejected
    );
    assert_eq!(std::fs::read(&dest).unwrap(), car);
}
