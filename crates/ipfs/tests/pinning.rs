//! The Pinning Service API client against the fake service.

use std::time::{Duration, Instant};

use ipfs::block::raw_cid;
use ipfs::doubles::{FakePinning, PinningFaults};
use ipfs::{IpfsError, PinState, PinningClient};

const TOKEN: &str = "secret-token";

async fn service() -> (FakePinning, PinningClient) {
    let fake = FakePinning::start(TOKEN).await.unwrap();
    let client = PinningClient::new(&fake.endpoint(), TOKEN)
        .unwrap()
        .with_timeout(Duration::from_secs(5))
        .with_poll_interval(Duration::from_millis(5));
    (fake, client)
}

#[tokio::test]
async fn a_pin_progresses_to_pinned_within_the_deadline() {
    let (fake, client) = service().await;
    let cid = raw_cid(b"snapshot root");
    let status = client
        .pin(&cid, "gh-p2p-cache snapshot", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(status.status, PinState::Pinned);
    assert_eq!(status.cid, cid);
    assert_eq!(status.name.as_deref(), Some("gh-p2p-cache snapshot"));
    assert!(!status.delegates.is_empty());
    assert_eq!(fake.pins(), vec![(cid.to_string(), "pinned".to_owned())]);

    // Listed as pinned, and pinning again reuses the request instead of making a new one.
    let listed = client.list(&cid, &[PinState::Pinned]).await.unwrap();
    assert_eq!(listed.len(), 1);
    let again = client.pin(&cid, "again", Duration::from_secs(5)).await.unwrap();
    assert_eq!(again.requestid, status.requestid);
    assert_eq!(fake.pins().len(), 1);
}

#[tokio::test]
async fn a_passing_deadline_returns_the_last_status() {
    let (fake, client) = service().await;
    fake.set_faults(PinningFaults {
        stall: true,
        ..Default::default()
    });
    let cid = raw_cid(b"slow");
    let started = Instant::now();
    let err = client.pin(&cid, "slow", Duration::from_millis(150)).await.unwrap_err();
    let IpfsError::PinDeadline { last, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(last.status, PinState::Queued);
    assert!(err.to_string().contains("queued"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_failed_pin_is_an_error_with_the_services_details() {
    let (fake, client) = service().await;
    fake.set_faults(PinningFaults {
        fail: true,
        ..Default::default()
    });
    let err = client
        .pin(&raw_cid(b"x"), "x", Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(&err, IpfsError::PinFailed { details: Some(_), .. }), "{err}");
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized() {
    let (fake, _) = service().await;
    let client = PinningClient::new(&fake.endpoint(), "wrong").unwrap();
    let err = client
        .pin(&raw_cid(b"x"), "x", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, IpfsError::Unauthorized { status: 401, .. }), "{err}");
    assert!(!format!("{client:?}").contains("wrong"), "the token is never printed");
    assert!(fake.pins().is_empty());
}

#[tokio::test]
async fn list_filters_by_status_and_defaults_to_pinned() {
    let (fake, client) = service().await;
    fake.set_faults(PinningFaults {
        stall: true,
        ..Default::default()
    });
    let cid = raw_cid(b"queued one");
    let added = client.add(&cid, "q").await.unwrap();
    assert_eq!(added.status, PinState::Queued);
    assert!(client.list(&cid, &[PinState::Pinned]).await.unwrap().is_empty());
    let queued = client.list(&cid, &[PinState::Queued, PinState::Pinning]).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].requestid, added.requestid);
    assert_eq!(client.status(&added.requestid).await.unwrap().status, PinState::Queued);
    let err = client.status("no-such-request").await.unwrap_err();
    assert!(matches!(err, IpfsError::Api { status: 404, .. }), "{err}");
}

#[tokio::test]
async fn an_unreachable_service_is_unavailable_quickly() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let client = PinningClient::new(&format!("http://127.0.0.1:{port}"), TOKEN).unwrap();
    let started = Instant::now();
    let err = client
        .pin(&raw_cid(b"x"), "x", Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}
