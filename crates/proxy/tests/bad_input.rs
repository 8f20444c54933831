//! Hostile and broken input: clear GitHub-shaped errors, the daemon keeps serving, nothing
//! stored is lost.

mod common;

use common::*;
use ghsim::Faults;
use http::StatusCode;
use proxy::{ProxyConfig, UpstreamBase};
use store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn assert_github_error(r: &Resp, status: StatusCode, needle: &str) {
    assert_eq!(r.status, status, "{:?}", r.body);
    let j = r.json();
    let msg = j["message"].as_str().expect("message field");
    assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
    assert!(j["documentation_url"].is_string());
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = ProxyConfig::new(UpstreamBase::parse(&sim.base_url).unwrap());
    config.max_request_body = 1024;
    let p = Proxy::start_with(config, Store::memory_only(1 << 20), dir.path()).await;
    let r = send(
        Via::Unix(&p.socket),
        Req::post("/repos/octo/hello/issues", vec![b'x'; 4096]).token(TOKEN_ALICE),
    )
    .await;
    assert_github_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "over 1024 bytes");
    assert_eq!(sim.stats().total_requests, 0, "nothing reached upstream");
    assert_eq!(p.state.stats().rejected_requests, 1);
    p.stop().await;
}

#[tokio::test]
async fn unknown_control_paths_and_methods_are_clear_errors() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 20), dir.path()).await;
    let r = send(Via::Unix(&p.socket), Req::get("/_cache/nope")).await;
    assert_github_error(&r, StatusCode::NOT_FOUND, "unknown control endpoint /_cache/nope");
    let r = send(Via::Unix(&p.socket), Req::post("/_cache/stats", "")).await;
    assert_github_error(&r, StatusCode::METHOD_NOT_ALLOWED, "not allowed");
    let r = send(Via::Unix(&p.socket), Req::get("/_cache/health")).await;
    assert_eq!(r.json()["status"], "ok");
    let s = send(Via::Tcp(p.tcp), Req::get("/_cache/stats")).await.json();
    for field in [
        "total_requests",
        "cache_hits",
        "cache_misses",
        "hit_rate",
        "revalidated",
        "stale_served",
        "coalesced",
        "p2p_contributions",
        "upstream_requests",
        "rate_limit_units_used",
        "rate_limit_units_saved",
        "bytes_saved",
        "latency_ms",
    ] {
        assert!(s.get(field).is_some(), "stats lack {field}: {s}");
    }
    assert_eq!(sim.stats().total_requests, 0);
    p.stop().await;
}

#[tokio::test]
async fn unreachable_upstream_is_a_502_and_the_daemon_keeps_serving_what_it_has() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let base = sim.base_url.clone();
    let p = Proxy::start(&base, Store::memory_only(1 << 20), dir.path()).await;
    let cached = send(Via::Unix(&p.socket), Req::get("/repos/octo/hello").token(TOKEN_ALICE)).await;
    assert_eq!(cached.status, StatusCode::OK);
    sim.shutdown().await;
    let r = send(Via::Unix(&p.socket), Req::get("/users/octocat").token(TOKEN_ALICE)).await;
    assert_github_error(&r, StatusCode::BAD_GATEWAY, "unreachable");
    assert_eq!(p.state.stats().upstream_errors, 3, "a read is tried three times");
    assert_eq!(r.x_cache(), "MISS");
    let again = send(Via::Unix(&p.socket), Req::get("/repos/octo/hello").token(TOKEN_ALICE)).await;
    assert_eq!(
        (again.status, again.x_cache()),
        (StatusCode::OK, "HIT"),
        "stored entries are not lost"
    );
    assert_eq!(
        send(Via::Unix(&p.socket), Req::get("/_cache/health")).await.status,
        StatusCode::OK
    );
    p.stop().await;
}

#[tokio::test]
async fn reads_retry_a_passing_5xx_and_pass_on_a_lasting_one_uncached() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 20), dir.path()).await;
    sim.set_faults(Faults {
        fail_next: 1,
        fail_status: 502,
        ..Default::default()
    });
    let r = send(Via::Unix(&p.socket), Req::get("/users/octocat").token(TOKEN_ALICE)).await;
    assert_eq!(
        (r.status, r.x_cache()),
        (StatusCode::OK, "MISS"),
        "retried after one 502"
    );
    assert_eq!(sim.stats().count("GET /users/{login}"), 2);

    sim.set_faults(Faults {
        fail_next: 10,
        fail_status: 503,
        ..Default::default()
    });
    let r = send(Via::Unix(&p.socket), Req::get("/users/alice").token(TOKEN_ALICE)).await;
    assert_eq!(
        r.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "three attempts, then GitHub's answer"
    );
    assert_eq!(sim.stats().count("GET /users/{login}"), 5);
    sim.clear_faults();
    let r = send(Via::Unix(&p.socket), Req::get("/users/alice").token(TOKEN_ALICE)).await;
    assert_eq!(
        (r.status, r.x_cache()),
        (StatusCode::OK, "MISS"),
        "the error was not cached"
    );
    p.stop().await;
}

#[tokio::test]
async fn a_reset_read_is_retried_and_a_reset_write_is_not() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 20), dir.path()).await;
    sim.set_faults(Faults {
        reset_next: 1,
        ..Default::default()
    });
    let r = send(Via::Unix(&p.socket), Req::get("/users/octocat").token(TOKEN_ALICE)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    sim.set_faults(Faults {
        reset_next: 1,
        ..Default::default()
    });
    let before = sim.stats().total_requests;
    let w = send(
        Via::Unix(&p.socket),
        Req::post("/repos/octo/hello/issues", r#"{"title":"t"}"#).token(TOKEN_ALICE),
    )
    .await;
    assert_github_error(&w, StatusCode::BAD_GATEWAY, "unreachable");
    assert_eq!(
        sim.stats().total_requests - before,
        1,
        "a write that may have reached GitHub is not sent again"
    );
    p.stop().await;
}

#[tokio::test]
async fn a_stalled_upstream_times_out_with_504() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = ProxyConfig::new(UpstreamBase::parse(&sim.base_url).unwrap());
    config.upstream_timeout = std::time::Duration::from_millis(300);
    let p = Proxy::start_with(config, Store::memory_only(1 << 20), dir.path()).await;
    sim.set_faults(Faults {
        stall_next: 1,
        ..Default::default()
    });
    let r = send(Via::Unix(&p.socket), Req::get("/users/octocat").token(TOKEN_ALICE)).await;
    assert_github_error(&r, StatusCode::GATEWAY_TIMEOUT, "did not answer");
    sim.clear_faults();
    let r = send(Via::Unix(&p.socket), Req::get("/users/octocat").token(TOKEN_ALICE)).await;
    assert_eq!(r.status, StatusCode::OK);
    p.stop().await;
}

#[tokio::test]
async fn malformed_http_gets_400_and_the_next_connection_is_served() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 20), dir.path()).await;
    for garbage in [
        &b"NOT HTTP AT ALL\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n",
        b"\x00\x01\x02\xff\r\n\r\n",
    ] {
        let mut s = tokio::net::UnixStream::connect(&p.socket).await.unwrap();
        s.write_all(garbage).await.unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut out)).await;
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 400"), "{garbage:?} -> {text:?}");
    }
    let ok = send(Via::Unix(&p.socket), Req::get("/_cache/health")).await;
    assert_eq!(ok.status, StatusCode::OK);
    p.stop().await;
}

#[tokio::test]
async fn a_second_daemon_on_the_same_socket_is_refused() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 20), dir.path()).await;
    let err = proxy::server::bind_unix(&p.socket)
        .await
        .expect_err("second bind refused");
    assert!(err.to_string().contains("already serving"), "{err}");
    let long = dir.path().join("x".repeat(120));
    let err = proxy::server::bind_unix(&long).await.expect_err("long path refused");
    assert!(err.to_string().contains("the limit is 107"), "{err}");
    p.stop().await;
}
