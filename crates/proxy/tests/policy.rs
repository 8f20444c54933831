//! The GitHub-aware rules: stale-if-error, the rate-limit governor, explicit invalidation,
//! TTL configuration and hints, the trust policy, GraphQL sharing by proof, and the metrics.

mod common;

use common::*;
use ghsim::{Faults, Limits, SimConfig};
use http::{Method, StatusCode};
use proxy::{GovernorConfig, ProxyConfig, SharePolicy, UpstreamBase};
use std::time::Duration;
use store::Store;

fn config(sim: &ghsim::SimHandle) -> ProxyConfig {
    ProxyConfig::new(UpstreamBase::parse(&sim.base_url).unwrap())
}

#[tokio::test]
async fn github_failing_serves_stale_copies_with_a_warning_within_max_staleness() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start_with(config(&sim), Store::memory_only(1 << 24), dir.path()).await;
    let path = "/repos/octo/hello/issues/3";
    let fresh = send(Via::Unix(&p.socket), Req::get(path).token(TOKEN_ALICE)).await;
    p.state.clock().advance(Duration::from_secs(11 * 60));
    sim.set_faults(Faults {
        fail_next: 100,
        fail_status: 502,
        ..Default::default()
    });
    let stale = send(Via::Unix(&p.socket), Req::get(path).token(TOKEN_ALICE)).await;
    assert_eq!((stale.status, stale.x_cache()), (StatusCode::OK, "STALE"));
    assert_eq!(stale.body, fresh.body);
    let warnings: Vec<_> = stale
        .headers
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(warnings.iter().any(|w| w.starts_with("110 ")), "{warnings:?}");

    // Another token cannot be given the copy: GitHub never confirmed its access.
    let bob = send(Via::Unix(&p.socket), Req::get(path).token(TOKEN_BOB)).await;
    assert_eq!(bob.status, StatusCode::BAD_GATEWAY);

    // Past the maximum staleness (24 h by default) the error goes through.
    p.state.clock().advance(Duration::from_secs(24 * 3600));
    let too_old = send(Via::Unix(&p.socket), Req::get(path).token(TOKEN_ALICE)).await;
    assert_eq!(too_old.status, StatusCode::BAD_GATEWAY);
    assert_eq!(p.state.stats().stale_served, 1);
    p.stop().await;
}

#[tokio::test]
async fn github_unreachable_serves_stale_copies() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start_with(config(&sim), Store::memory_only(1 << 24), dir.path()).await;
    send(
        Via::Unix(&p.socket),
        Req::get("/repos/octo/hello/issues?per_page=3").token(TOKEN_ALICE),
    )
    .await;
    p.state.clock().advance(Duration::from_secs(6 * 60));
    sim.shutdown().await;
    let r = send(
        Via::Unix(&p.socket),
        Req::get("/repos/octo/hello/issues?per_page=3").token(TOKEN_ALICE),
    )
    .await;
    assert_eq!((r.status, r.x_cache()), (StatusCode::OK, "STALE"));
    p.stop().await;
}

#[tokio::test]
async fn an_exhausted_budget_serves_stale_without_asking_github() {
    let sim = sim_with(SimConfig {
        limits: Limits {
            core: 3,
            ..Limits::default()
        },
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start_with(config(&sim), Store::memory_only(1 << 24), dir.path()).await;
    for path in [
        "/repos/octo/hello/issues/1",
        "/repos/octo/hello/issues/2",
        "/repos/octo/hello/issues/4",
    ] {
        assert_eq!(
            send(Via::Unix(&p.socket), Req::get(path).token(TOKEN_ALICE))
                .await
                .status,
            StatusCode::OK
        );
    }
    p.state.clock().advance(Duration::from_secs(11 * 60));
    let before = sim.stats().total_requests;
    let r = send(
        Via::Unix(&p.socket),
        Req::get("/repos/octo/hello/issues/1").token(TOKEN_ALICE),
    )
    .await;
    assert_eq!((r.status, r.x_cache()), (StatusCode::OK, "STALE"));
    assert_eq!(
        sim.stats().total_requests,
        before,
        "the governor did not spend a request it knew would fail"
    );
    // Nothing cached: a clear 429 with Retry-After rather than a request GitHub would refuse.
    let r = send(
        Via::Unix(&p.socket),
        Req::get("/repos/octo/hello/issues/5").token(TOKEN_ALICE),
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
    assert!(r.header("retry-after").is_some());
    assert!(r.json()["message"].as_str().unwrap().contains("rate limit"));
    // Other tokens are unaffected.
    let bob = send(
        Via::Unix(&p.socket),
        Req::get("/repos/octo/hello/issues/5").token(TOKEN_BOB),
    )
    .await;
    assert_eq!(bob.status, StatusCode::OK);
    p.stop().await;
}

#[tokio::test]
async fn the_governor_keeps_concurrency_under_the_secondary_limit() {
    let sim = sim_with(SimConfig {
        max_in_flight: 3,
        ..Default::default()
    })
    .await;
    sim.set_faults(Faults {
        latency_ms: 100,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&sim);
    cfg.governor = GovernorConfig {
        max_concurrent: 3,
        ..GovernorConfig::default()
    };
    let p = Proxy::start_with(cfg, Store::memory_only(1 << 24), dir.path()).await;
    let mut tasks = Vec::new();
    for n in 1..=12 {
        let socket = p.socket.clone();
        tasks.push(tokio::spawn(async move {
            let path = format!("/repos/octo/hello/issues/{n}");
            send(Via::Unix(&socket), Req::get(&path).token(TOKEN_ALICE))
                .await
                .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let s = sim.stats();
    assert_eq!(s.status(403), 0, "no secondary-limit refusals: {s:?}");
    assert!(s.max_in_flight <= 3, "{s:?}");
    p.stop().await;
}

#[tokio::test]
async fn writes_of_one_token_are_spaced_apart() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&sim);
    cfg.governor = GovernorConfig {
        write_spacing: Duration::from_millis(300),
        ..GovernorConfig::default()
    };
    let p = Proxy::start_with(cfg, Store::memory_only(1 << 24), dir.path()).await;
    let started = std::time::Instant::now();
    for i in 0..3 {
        let body = format!(r#"{{"title":"spaced {i}"}}"#);
        let r = send(
            Via::Unix(&p.socket),
            Req::post("/repos/octo/hello/issues", body).token(TOKEN_ALICE),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "three writes need two gaps: {:?}",
        started.elapsed()
    );
    p.stop().await;
}

#[tokio::test]
async fn explicit_invalidation_by_key_and_prefix() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(
        &sim.base_url,
        Store::open(&dir.path().join("c"), 1 << 24, 1 << 26).unwrap(),
        dir.path(),
    )
    .await;
    for path in [
        "/repos/octo/hello/issues/1",
        "/repos/octo/hello/issues/2",
        "/users/octocat",
    ] {
        send(Via::Unix(&p.socket), Req::get(path).token(TOKEN_ALICE)).await;
    }
    let r = send(
        Via::Unix(&p.socket),
        Req::post("/_cache/invalidate", r#"{"prefix":"/repos/octo/hello/issues"}"#),
    )
    .await;
    assert_eq!((r.status, r.json()["invalidated"].as_u64()), (StatusCode::OK, Some(2)));
    let r = send(
        Via::Unix(&p.socket),
        Req::post("/_cache/invalidate?key=GET%20/users/octocat", ""),
    )
    .await;
    assert_eq!(r.json()["invalidated"], 1);
    for path in ["/repos/octo/hello/issues/1", "/users/octocat"] {
        assert_eq!(
            send(Via::Unix(&p.socket), Req::get(path).token(TOKEN_ALICE))
                .await
                .x_cache(),
            "MISS"
        );
    }
    for bad in [r#"{"prefix":""}"#, r#"{"key":"a","prefix":"b"}"#, r#"{}"#] {
        let r = send(Via::Unix(&p.socket), Req::post("/_cache/invalidate", bad)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    for bad in ["not json", r#"{"prefix": 5}"#, r#"{"pattern":"x"}"#] {
        let r = send(Via::Unix(&p.socket), Req::post("/_cache/invalidate", bad)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    p.stop().await;
}

#[tokio::test]
async fn ttl_configuration_and_the_gh_cache_hint() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&sim);
    cfg.ttl.set("list_issues", Duration::from_secs(60)).unwrap();
    let p = Proxy::start_with(cfg, Store::memory_only(1 << 24), dir.path()).await;
    let plain = "/repos/octo/hello/issues?per_page=2";
    let hinted = "/repos/octo/hello/issues?per_page=3";
    send(Via::Unix(&p.socket), Req::get(plain).token(TOKEN_ALICE)).await;
    send(
        Via::Unix(&p.socket),
        Req::get(hinted).token(TOKEN_ALICE).header("x-gh-cache-ttl", "1h0m0s"),
    )
    .await;
    p.state.clock().advance(Duration::from_secs(61));
    assert_ne!(
        send(Via::Unix(&p.socket), Req::get(plain).token(TOKEN_ALICE))
            .await
            .x_cache(),
        "HIT"
    );
    p.state.clock().advance(Duration::from_secs(30 * 60));
    let h = send(
        Via::Unix(&p.socket),
        Req::get(hinted).token(TOKEN_ALICE).header("x-gh-cache-ttl", "1h0m0s"),
    )
    .await;
    assert_eq!(h.x_cache(), "HIT", "gh asked for an hour");
    p.stop().await;
}

#[tokio::test]
async fn trust_policy_shares_fresh_entries_without_asking() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&sim);
    cfg.policy = SharePolicy::Trust;
    let p = Proxy::start_with(cfg, Store::memory_only(1 << 24), dir.path()).await;
    send(Via::Unix(&p.socket), Req::get("/repos/octo/hello").token(TOKEN_ALICE)).await;
    let bob = send(Via::Unix(&p.socket), Req::get("/repos/octo/hello").token(TOKEN_BOB)).await;
    assert_eq!(bob.x_cache(), "HIT");
    assert_eq!(sim.stats().count("GET /repos/{owner}/{repo}"), 1);
    p.stop().await;
}

const ISSUE_LIST: &str = "fragment issue on Issue {number,title,url,state,updatedAt,labels(first:100){nodes{id,name,description,color},totalCount},stateReason}\n\tquery IssueList($owner: String!, $repo: String!, $limit: Int, $endCursor: String, $states: [IssueState!] = OPEN, $assignee: String, $author: String, $mention: String) {\n\t\trepository(owner: $owner, name: $repo) {\n\t\t\thasIssuesEnabled\n\t\t\tissues(first: $limit, after: $endCursor, orderBy: {field: CREATED_AT, direction: DESC}, states: $states, filterBy: {assignee: $assignee, createdBy: $author, mentioned: $mention}) {\n\t\t\t\ttotalCount\n\t\t\t\tnodes {\n\t\t\t\t\t...issue\n\t\t\t\t}\n\t\t\t\tpageInfo {\n\t\t\t\t\thasNextPage\n\t\t\t\t\tendCursor\n\t\t\t\t}\n\t\t\t}\n\t\t}\n\t}";

fn issue_list(repo: &str) -> String {
    serde_json::json!({ "query": ISSUE_LIST, "variables": { "limit": 30, "owner": "octo", "repo": repo, "states": ["OPEN"] } })
        .to_string()
}

#[tokio::test]
async fn graphql_answers_go_to_another_token_only_after_it_proves_access() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 24), dir.path()).await;
    let a = send(
        Via::Unix(&p.socket),
        Req::post("/graphql", issue_list("hello")).token(TOKEN_ALICE),
    )
    .await;
    assert_eq!((a.status, a.x_cache()), (StatusCode::OK, "MISS"), "{:?}", a.body);
    assert_eq!(sim.stats().count("POST /graphql"), 1);
    // Bob proves he can read octo/hello (one REST call), then gets the cached answer.
    let b = send(
        Via::Unix(&p.socket),
        Req::post("/graphql", issue_list("hello")).token(TOKEN_BOB),
    )
    .await;
    assert_eq!((b.x_cache(), &b.body), ("HIT", &a.body));
    assert_eq!(sim.stats().count("POST /graphql"), 1);
    let repo_reads = sim.stats().count("GET /repos/{owner}/{repo}");
    // The proof is remembered.
    let b2 = send(
        Via::Unix(&p.socket),
        Req::post("/graphql", issue_list("hello")).token(TOKEN_BOB),
    )
    .await;
    assert_eq!(b2.x_cache(), "HIT");
    assert_eq!(sim.stats().count("GET /repos/{owner}/{repo}"), repo_reads);
    // A third token proves with a conditional request on the cached repository. The repository
    // answer carries per-user `permissions`, so carol (admin) gets a 200 where bob got his own.
    let c = send(
        Via::Unix(&p.socket),
        Req::post("/graphql", issue_list("hello")).token(TOKEN_CAROL),
    )
    .await;
    assert_eq!(c.x_cache(), "HIT");
    assert_eq!(sim.stats().count("POST /graphql"), 1);
    assert!(sim.stats().units_by_login.get("carol").copied().unwrap_or(0) <= 1);

    // A private repository: bob's proof fails and he never sees alice's answer.
    let a = send(
        Via::Unix(&p.socket),
        Req::post("/graphql", issue_list("secret")).token(TOKEN_ALICE),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let b = send(
        Via::Unix(&p.socket),
        Req::post("/graphql", issue_list("secret")).token(TOKEN_BOB),
    )
    .await;
    assert_ne!(b.x_cache(), "HIT");
    assert_ne!(b.body, a.body);
    assert!(String::from_utf8_lossy(&b.body).contains("errors"), "{:?}", b.body);
    p.stop().await;
}

#[tokio::test]
async fn metrics_scrape_cleanly_with_the_prometheus_parser() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 24), dir.path()).await;
    send(Via::Unix(&p.socket), Req::get("/repos/octo/hello").token(TOKEN_ALICE)).await;
    send(Via::Unix(&p.socket), Req::get("/repos/octo/hello").token(TOKEN_ALICE)).await;
    send(
        Via::Unix(&p.socket),
        Req::get("/repos/octo/hello").method(Method::HEAD).token(TOKEN_BOB),
    )
    .await;
    let m = send(Via::Tcp(p.tcp), Req::get("/_cache/metrics")).await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(
        m.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let parsed = parse_with_prometheus_client(&m.body);
    for family in [
        "ghp2p_responses",
        "ghp2p_upstream_request_duration_seconds",
        "ghp2p_ratelimit_remaining",
        "ghp2p_governor_queue_depth",
        "ghp2p_store_entries",
        "ghp2p_store_bytes",
        "ghp2p_rate_limit_units_used",
    ] {
        assert!(parsed.get(family).is_some(), "{family} missing from {parsed}");
    }
    let hits = &parsed["ghp2p_responses"]["samples"];
    assert!(
        hits.as_array()
            .unwrap()
            .iter()
            .any(|s| s["labels"]["mode"] == "HIT" && s["value"] == 1.0),
        "{hits}"
    );
    let remaining = &parsed["ghp2p_ratelimit_remaining"]["samples"][0];
    assert_eq!(remaining["labels"]["resource"], "core");
    assert!(remaining["value"].as_f64().unwrap() > 4000.0);
    p.stop().await;
}

/// Parses the exposition with the Prometheus project's own Python parser (prometheus_client).
fn parse_with_prometheus_client(text: &[u8]) -> serde_json::Value {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for fam in text_string_to_metric_families(sys.stdin.read()):
    out[fam.name] = {"type": fam.type, "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in fam.samples]}
print(json.dumps(out))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (scripts/test installs prometheus_client for it)");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser rejected the metrics (is prometheus_client installed? ./scripts/test does it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn graphql_answers_revalidate_for_free_through_rest_indicators_and_see_changes() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 24), dir.path()).await;
    let first = send(
        Via::Unix(&p.socket),
        Req::post("/graphql", issue_list("hello")).token(TOKEN_ALICE),
    )
    .await;
    assert_eq!(first.x_cache(), "MISS");
    // An hour later (past every TTL), another token with the same access asks the same.
    p.state.clock().advance(Duration::from_secs(3600));
    let units_before = sim.stats().units_total();
    let again = send(
        Via::Unix(&p.socket),
        Req::post("/graphql", issue_list("hello")).token(TOKEN_CAROL),
    )
    .await;
    assert_eq!((again.x_cache(), &again.body), ("REVALIDATED", &first.body));
    assert_eq!(sim.stats().count("POST /graphql"), 1);
    assert_eq!(sim.stats().units_total(), units_before, "indicators answered 304: free");

    // A change made on GitHub behind the cache's back shows through the indicators.
    let created = send(
        Via::Tcp(sim.addr),
        Req::post("/repos/octo/hello/issues", r#"{"title":"made on github.com directly"}"#).token(TOKEN_ALICE),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    p.state.clock().advance(Duration::from_secs(3600));
    let after = send(
        Via::Unix(&p.socket),
        Req::post("/graphql", issue_list("hello")).token(TOKEN_CAROL),
    )
    .await;
    assert_eq!(after.x_cache(), "MISS");
    assert!(String::from_utf8_lossy(&after.body).contains("made on github.com directly"));
    assert_eq!(sim.stats().count("POST /graphql"), 2);
    p.stop().await;
}

#[tokio::test]
async fn when_github_rejects_recomputed_etags_cross_token_revalidation_falls_back_safely() {
    let sim = sim_with(SimConfig {
        etag_salt: Some("formula-v2".into()),
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let p = Proxy::start(&sim.base_url, Store::memory_only(1 << 24), dir.path()).await;
    // Four issues fetched by alice, then asked for by carol (same access): each recomputed ETag
    // is refused (200 with the same body); after three the proxy stops recomputing.
    for n in 1..=4 {
        let path = format!("/repos/octo/hello/issues/{n}");
        send(Via::Unix(&p.socket), Req::get(&path).token(TOKEN_ALICE)).await;
    }
    for n in 1..=3 {
        let path = format!("/repos/octo/hello/issues/{n}");
        let r = send(Via::Unix(&p.socket), Req::get(&path).token(TOKEN_CAROL)).await;
        assert_eq!((r.status, r.x_cache()), (StatusCode::OK, "MISS"));
    }
    let s = p.state.stats();
    assert_eq!((s.cross_token_etags_confirmed, s.cross_token_etags_rejected), (0, 3));
    // Now If-Modified-Since carries the fourth, for free, on a reader-independent path ...
    let before = sim.stats().units_by_login.get("carol").copied().unwrap_or(0);
    let r = send(
        Via::Unix(&p.socket),
        Req::get("/repos/octo/hello/issues/4").token(TOKEN_CAROL),
    )
    .await;
    assert_eq!((r.status, r.x_cache()), (StatusCode::OK, "REVALIDATED"));
    assert_eq!(sim.stats().units_by_login.get("carol").copied().unwrap_or(0), before);
    // ... but never on a per-user one: the repository record (with its permissions) is fetched.
    send(Via::Unix(&p.socket), Req::get("/repos/octo/hello").token(TOKEN_ALICE)).await;
    let r = send(Via::Unix(&p.socket), Req::get("/repos/octo/hello").token(TOKEN_BOB)).await;
    assert_eq!(r.x_cache(), "MISS");
    p.stop().await;
}
