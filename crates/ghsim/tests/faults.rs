//! Fault injection observed by a real client: failures, connection resets, stalls, latency,
//! and the `/_sim/faults` endpoints.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ghsim::{Faults, Sim, SimConfig};
use http::{Method, StatusCode};

#[tokio::test]
async fn fail_next_answers_the_status_then_recovers() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    sim.set_faults(Faults {
        fail_next: 3,
        fail_status: 502,
        ..Faults::default()
    });
    let url = format!("{}/repos/octo/hello", sim.base_url);
    for _ in 0..3 {
        let r = get(&url, Some(TOKEN_ALICE)).await;
        assert_eq!(r.status, StatusCode::BAD_GATEWAY);
        assert_eq!(r.json()["message"], "Bad Gateway");
        assert_eq!(r.rate("limit"), 5000, "the caller's own bucket, not the anonymous one");
    }
    assert_eq!(get(&url, Some(TOKEN_ALICE)).await.status, StatusCode::OK);
    let s = sim.stats();
    assert_eq!((s.status(502), s.faults_injected, s.total_requests), (3, 3, 4));
    assert_eq!(s.units_by_login["alice"], 1, "failed requests are not charged");
    sim.shutdown().await;
}

#[tokio::test]
async fn reset_next_drops_the_connection_without_a_response() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    sim.set_faults(Faults {
        reset_next: 2,
        ..Faults::default()
    });
    let url = format!("{}/repos/octo/hello/issues", sim.base_url);
    for _ in 0..2 {
        let err = send(Method::GET, &url, &[], None)
            .await
            .err()
            .expect("the connection is reset");
        assert!(!err.is_connect(), "the connection was made, then dropped: {err:?}");
    }
    assert_eq!(get(&url, None).await.status, StatusCode::OK);
    let s = sim.stats();
    assert_eq!((s.total_requests, s.faults_injected), (3, 2));
    assert_eq!(s.by_status.values().sum::<u64>(), 1, "resets send no status");
    sim.shutdown().await;
}

#[tokio::test]
async fn stall_next_never_answers_until_the_client_gives_up() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    sim.set_faults(Faults {
        stall_next: 1,
        ..Faults::default()
    });
    let url = format!("{}/user", sim.base_url);
    let stalled = tokio::time::timeout(Duration::from_millis(200), get(&url, Some(TOKEN_ALICE))).await;
    assert!(stalled.is_err(), "the client times out");
    // Giving up closes the connection, which ends the stalled request on the server too.
    tokio::time::timeout(Duration::from_secs(5), sim.state().wait_idle())
        .await
        .expect("stall released");
    assert_eq!(get(&url, Some(TOKEN_ALICE)).await.status, StatusCode::OK);
    // A stalled request held by a live client ends when the simulator shuts down.
    sim.set_faults(Faults {
        stall_next: 1,
        ..Faults::default()
    });
    let pending = tokio::spawn(async move { send(Method::GET, &url, &[], None).await.map(|r| r.status) });
    sim.state().wait_in_flight(1).await;
    let started = Instant::now();
    sim.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(pending.await.unwrap().is_err(), "no response, the connection closes");
}

#[tokio::test]
async fn latency_delays_every_api_request() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    sim.set_faults(Faults {
        latency_ms: 120,
        ..Faults::default()
    });
    let started = Instant::now();
    assert_eq!(
        get(&format!("{}/rate_limit", sim.base_url), None).await.status,
        StatusCode::OK
    );
    assert!(started.elapsed() >= Duration::from_millis(120));
    sim.clear_faults();
    assert_eq!(sim.state().faults(), Faults::default());
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_are_switchable_over_http() {
    let sim = Sim::start(SimConfig {
        prefix: "/api/v3".into(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let faults = format!("http://{}/_sim/faults", sim.addr);
    let body = br#"{"latency_ms": 0, "fail_next": 1, "fail_status": 503, "reset_next": 0, "stall_next": 0}"#;
    let r = send(Method::POST, &faults, &[], Some(body)).await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["fail_status"], 503);
    assert_eq!(get(&faults, None).await.json()["fail_next"], 1);
    assert_eq!(
        get(&format!("{}/user", sim.base_url), Some(TOKEN_BOB)).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // Bad settings are refused and leave the current ones alone.
    for bad in [&b"{nope"[..], br#"{"fail_status": 42}"#, br#"{"unknown": 1}"#] {
        assert_eq!(
            send(Method::POST, &faults, &[], Some(bad)).await.unwrap().status,
            StatusCode::BAD_REQUEST
        );
    }
    send(Method::POST, &faults, &[], Some(br#"{"fail_next": 5}"#))
        .await
        .unwrap();
    assert_eq!(
        send(Method::DELETE, &faults, &[], None).await.unwrap().status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get(&format!("{}/user", sim.base_url), Some(TOKEN_BOB)).await.status,
        StatusCode::OK
    );
    assert_eq!(sim.stats().total_requests, 2, "/_sim/ requests are not counted");
    sim.shutdown().await;
}
