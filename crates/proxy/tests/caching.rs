//! The caching rules end to end: proxy on real sockets in front of the simulator.

mod common;

use common::*;
use ghsim::{Faults, SimConfig};
use http::{Method, StatusCode};
use std::time::Duration;
use store::Store;

#[tokio::test]
async fn second_identical_read_is_a_hit_with_one_upstream_call() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 24), dir.path()).await;
    let first = send(Via::Unix(&p.socket), Req::get("/repos/octo/hello").token(TOKEN_ALICE)).await;
    assert_eq!((first.status, first.x_cache()), (StatusCode::OK, "MISS"));
    let second = send(Via::Unix(&p.socket), Req::get("/repos/octo/hello").token(TOKEN_ALICE)).await;
    assert_eq!((second.status, second.x_cache()), (StatusCode::OK, "HIT"));
    assert_eq!(first.body, second.body);
    assert_eq!(sim.stats().count("GET /repos/{owner}/{repo}"), 1);
    let stats = p.state.stats();
    assert_eq!(
        (stats.cache_hits, stats.cache_misses, stats.upstream_requests),
        (1, 1, 1)
    );
    assert_eq!(stats.rate_limit_units_used, 1);
    assert_eq!(stats.rate_limit_units_saved, 1);
    assert!(stats.bytes_saved > 0);
    p.stop().await;
}

#[tokio::test]
async fn entries_survive_a_restart_on_disk() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let p = Proxy::start(
        &sim.base_url,
        Store::open(&cache, 1 << 24, 1 << 26).unwrap(),
        dir.path(),
    )
    .await;
    let first = send(
        Via::Unix(&p.socket),
        Req::get("/repos/octo/hello/issues?per_page=5").token(TOKEN_ALICE),
    )
    .await;
    assert_eq!(first.x_cache(), "MISS");
    p.stop().await;

    let p = Proxy::start(
        &sim.base_url,
        Store::open(&cache, 1 << 24, 1 << 26).unwrap(),
        dir.path(),
    )
    .await;
    let again = send(
        Via::Unix(&p.socket),
        Req::get("/repos/octo/hello/issues?per_page=5").token(TOKEN_ALICE),
    )
    .await;
    assert_eq!(again.x_cache(), "HIT");
    assert_eq!(again.body, first.body);
    assert_eq!(sim.stats().count("GET /repos/{owner}/{repo}/issues"), 1);
    p.stop().await;
}

#[tokio::test]
async fn stale_entries_revalidate_with_a_free_304() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 24), dir.path()).await;
    let r = send(
        Via::Unix(&p.socket),
        Req::get("/repos/octo/hello/issues/3").token(TOKEN_ALICE),
    )
    .await;
    assert_eq!(r.x_cache(), "MISS");
    p.state.clock().advance(Duration::from_secs(9 * 60));
    let r = send(
        Via::Unix(&p.socket),
        Req::get("/repos/octo/hello/issues/3").token(TOKEN_ALICE),
    )
    .await;
    assert_eq!(r.x_cache(), "HIT", "single issues stay fresh for 10 minutes");
    p.state.clock().advance(Duration::from_secs(2 * 60));
    let r = send(
        Via::Unix(&p.socket),
        Req::get("/repos/octo/hello/issues/3").token(TOKEN_ALICE),
    )
    .await;
    assert_eq!((r.status, r.x_cache()), (StatusCode::OK, "REVALIDATED"));
    assert_eq!(r.json()["number"], 3);
    let s = sim.stats();
    assert_eq!(s.not_modified, 1);
    assert_eq!(
        s.units_by_login.get("alice").copied().unwrap_or(0),
        1,
        "the 304 was free"
    );
    let r = send(
        Via::Unix(&p.socket),
        Req::get("/repos/octo/hello/issues/3").token(TOKEN_ALICE),
    )
    .await;
    assert_eq!(r.x_cache(), "HIT", "revalidation renewed freshness");
    p.stop().await;
}

#[tokio::test]
async fn another_token_revalidates_for_free_and_never_sees_what_it_cannot_read() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 24), dir.path()).await;
    // Public data fetched by alice, then asked for by bob: a free conditional request.
    let a = send(
        Via::Unix(&p.socket),
        Req::get("/repos/octo/hello/issues?per_page=10").token(TOKEN_ALICE),
    )
    .await;
    assert_eq!(a.x_cache(), "MISS");
    let b = send(
        Via::Unix(&p.socket),
        Req::get("/repos/octo/hello/issues?per_page=10").token(TOKEN_BOB),
    )
    .await;
    assert_eq!((b.status, b.x_cache()), (StatusCode::OK, "REVALIDATED"));
    assert_eq!(a.body, b.body);
    assert_ne!(a.header("etag"), b.header("etag"), "each token sees its own ETag");
    assert_eq!(sim.stats().units_by_login.get("bob").copied().unwrap_or(0), 0);

    // Private data fetched by alice is never handed to bob.
    let a = send(Via::Unix(&p.socket), Req::get("/repos/octo/secret").token(TOKEN_ALICE)).await;
    assert_eq!(a.status, StatusCode::OK);
    for _ in 0..2 {
        let b = send(Via::Unix(&p.socket), Req::get("/repos/octo/secret").token(TOKEN_BOB)).await;
        assert_eq!(b.status, StatusCode::NOT_FOUND, "bob got {:?}", b.body);
        assert!(!String::from_utf8_lossy(&b.body).contains("secret\""), "{:?}", b.body);
    }
    let anon = send(Via::Unix(&p.socket), Req::get("/repos/octo/secret")).await;
    assert_eq!(anon.status, StatusCode::NOT_FOUND);
    // Alice's entry is still hers.
    let a2 = send(Via::Unix(&p.socket), Req::get("/repos/octo/secret").token(TOKEN_ALICE)).await;
    assert_eq!((a2.status, a2.x_cache()), (StatusCode::OK, "HIT"));
    p.stop().await;
}

#[tokio::test]
async fn concurrent_identical_reads_are_coalesced() {
    let sim = sim().await;
    sim.set_faults(Faults {
        latency_ms: 300,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 24), dir.path()).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let socket = p.socket.clone();
        tasks.push(tokio::spawn(async move {
            send(Via::Unix(&socket), Req::get("/users/octocat").token(TOKEN_ALICE)).await
        }));
    }
    let mut modes = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, StatusCode::OK);
        modes.push(r.x_cache().to_owned());
    }
    modes.sort();
    assert_eq!(sim.stats().count("GET /users/{login}"), 1, "modes: {modes:?}");
    assert_eq!(modes.iter().filter(|m| *m == "MISS").count(), 1, "{modes:?}");
    assert_eq!(modes.iter().filter(|m| *m == "COALESCED").count(), 7, "{modes:?}");
    p.stop().await;
}

#[tokio::test]
async fn a_write_invalidates_the_repository_reads() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 24), dir.path()).await;
    let list = "/repos/octo/hello/issues?state=open&sort=created&direction=desc&per_page=5";
    let before = send(Via::Unix(&p.socket), Req::get(list).token(TOKEN_ALICE)).await;
    assert_eq!(
        send(Via::Unix(&p.socket), Req::get(list).token(TOKEN_ALICE))
            .await
            .x_cache(),
        "HIT"
    );
    let created = send(
        Via::Unix(&p.socket),
        Req::post(
            "/repos/octo/hello/issues",
            r#"{"title":"written through the cache","body":"b"}"#,
        )
        .token(TOKEN_ALICE),
    )
    .await;
    assert_eq!((created.status, created.x_cache()), (StatusCode::CREATED, "BYPASS"));
    let number = created.json()["number"].as_u64().unwrap();
    let after = send(Via::Unix(&p.socket), Req::get(list).token(TOKEN_ALICE)).await;
    assert_ne!(after.x_cache(), "HIT");
    assert_ne!(before.body, after.body);
    assert_eq!(
        after.json()[0]["number"].as_u64(),
        Some(number),
        "the new issue is listed"
    );
    p.stop().await;
}

#[tokio::test]
async fn tcp_clients_get_urls_rewritten_to_the_proxy_and_socket_clients_do_not() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 24), dir.path()).await;
    let path = "/repos/octo/hello/issues?per_page=10";
    let tcp = send(Via::Tcp(p.tcp), Req::get(path).token(TOKEN_ALICE)).await;
    let link = tcp.header("link").expect("paginated list has a Link header");
    assert!(link.contains(&format!("<{}/", p.base_url())), "{link}");
    assert!(!link.contains(&sim.base_url), "{link}");
    let url = tcp.json()[0]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&p.base_url()), "{url}");

    let unix = send(Via::Unix(&p.socket), Req::get(path).token(TOKEN_ALICE)).await;
    assert_eq!(unix.x_cache(), "HIT");
    assert!(unix.header("link").unwrap().contains(&sim.base_url));
    assert!(
        unix.json()[0]["url"].as_str().unwrap().starts_with(&sim.base_url),
        "stored copy untouched"
    );
    p.stop().await;
}

#[tokio::test]
async fn gzip_from_upstream_is_decoded_and_clients_get_identity() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 24), dir.path()).await;
    for expected in ["MISS", "HIT"] {
        let r = send(
            Via::Unix(&p.socket),
            Req::get("/users/alice")
                .token(TOKEN_ALICE)
                .header("accept-encoding", "gzip"),
        )
        .await;
        assert_eq!(r.x_cache(), expected);
        assert!(r.header("content-encoding").is_none());
        assert_eq!(r.json()["login"], "alice");
    }
    p.stop().await;
}

#[tokio::test]
async fn head_and_client_conditionals_are_answered_from_the_cache() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 24), dir.path()).await;
    let full = send(Via::Unix(&p.socket), Req::get("/repos/octo/hello").token(TOKEN_ALICE)).await;
    let etag = full.header("etag").unwrap().to_owned();
    let head = send(
        Via::Unix(&p.socket),
        Req::get("/repos/octo/hello").method(Method::HEAD).token(TOKEN_ALICE),
    )
    .await;
    assert_eq!(
        (head.status, head.x_cache(), head.body.len()),
        (StatusCode::OK, "HIT", 0)
    );
    let cond = send(
        Via::Unix(&p.socket),
        Req::get("/repos/octo/hello")
            .token(TOKEN_ALICE)
            .header("if-none-match", etag),
    )
    .await;
    assert_eq!((cond.status, cond.body.len()), (StatusCode::NOT_MODIFIED, 0));
    assert_eq!(sim.stats().count("GET /repos/{owner}/{repo}"), 1);
    p.stop().await;
}

#[tokio::test]
async fn graphql_queries_are_cached_and_mutations_pass_through_and_invalidate() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 24), dir.path()).await;
    let q = r#"{"query":"query { rateLimit { remaining } viewer { login } }"}"#;
    let a = send(Via::Unix(&p.socket), Req::post("/graphql", q).token(TOKEN_ALICE)).await;
    assert_eq!((a.status, a.x_cache()), (StatusCode::OK, "MISS"), "{:?}", a.body);
    let b = send(Via::Unix(&p.socket), Req::post("/graphql", q).token(TOKEN_ALICE)).await;
    assert_eq!(b.x_cache(), "HIT");
    let c = send(Via::Unix(&p.socket), Req::post("/graphql", q).token(TOKEN_BOB)).await;
    assert_eq!(c.x_cache(), "MISS", "GraphQL answers are not shared across tokens here");
    let id_query = r#"{"query":"query { repository(owner:\"octo\", name:\"hello\") { id } }"}"#;
    let repo_id = send(Via::Unix(&p.socket), Req::post("/graphql", id_query).token(TOKEN_ALICE))
        .await
        .json()["data"]["repository"]["id"]
        .as_str()
        .expect("repository id")
        .to_owned();
    let m = serde_json::json!({
        "query": "mutation IssueCreate($input: CreateIssueInput!) { createIssue(input: $input) { issue { id url } } }",
        "variables": { "input": { "repositoryId": repo_id, "title": "via GraphQL", "body": "b" } }
    })
    .to_string();
    let w = send(Via::Unix(&p.socket), Req::post("/graphql", m).token(TOKEN_ALICE)).await;
    assert_eq!((w.status, w.x_cache()), (StatusCode::OK, "BYPASS"));
    assert!(
        w.json()["data"]["createIssue"]["issue"]["url"].is_string(),
        "{:?}",
        w.body
    );
    let d = send(Via::Unix(&p.socket), Req::post("/graphql", q).token(TOKEN_ALICE)).await;
    assert_eq!(d.x_cache(), "MISS", "a successful mutation invalidates GraphQL entries");
    p.stop().await;
}

#[tokio::test]
async fn enterprise_prefix_upstream_and_prefixed_clients() {
    let sim = sim_with(SimConfig {
        prefix: "/api/v3".into(),
        ..Default::default()
    })
    .await;
    assert!(sim.base_url.ends_with("/api/v3"));
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 24), dir.path()).await;
    let a = send(
        Via::Unix(&p.socket),
        Req::get("/api/v3/repos/octo/hello").token(TOKEN_ALICE),
    )
    .await;
    assert_eq!((a.status, a.x_cache()), (StatusCode::OK, "MISS"));
    let b = send(Via::Unix(&p.socket), Req::get("/repos/octo/hello").token(TOKEN_ALICE)).await;
    assert_eq!(b.x_cache(), "HIT", "prefixed and bare paths are one entry");
    let q = r#"{"query":"query { viewer { login } }"}"#;
    let g = send(Via::Unix(&p.socket), Req::post("/api/graphql", q).token(TOKEN_ALICE)).await;
    assert_eq!(g.status, StatusCode::OK, "{:?}", g.body);
    p.stop().await;
}
