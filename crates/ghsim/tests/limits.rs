//! Primary limits per resource, GraphQL cost and RATE_LIMITED, the secondary (concurrency) limit.

mod common;

use common::*;
use ghsim::{Faults, Limits, Sim, SimConfig};
use http::StatusCode;
use serde_json::json;

fn small(limits: Limits) -> SimConfig {
    SimConfig {
        limits,
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn exhausted_core_answers_403_with_headers() {
    let sim = Sim::start(small(Limits {
        core: 3,
        ..Limits::default()
    }))
    .await
    .unwrap();
    let url = format!("{}/repos/octo/hello", sim.base_url);
    let mut etag = String::new();
    for remaining in [2, 1, 0] {
        let r = get(&url, Some(TOKEN_ALICE)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!((r.rate("limit"), r.rate("remaining")), (3, remaining));
        etag = r.header("etag").to_owned();
    }
    let r = get(&url, Some(TOKEN_ALICE)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded for user ID 1001.")
    );
    assert_eq!((r.rate("remaining"), r.rate("used")), (0, 3));
    assert_eq!(r.header("x-ratelimit-resource"), "core");
    // Conservative choice (see crate docs): exhausted means 403 even for a would-be 304.
    let tok = auth(TOKEN_ALICE);
    let r = get_with(&url, &[("authorization", &tok), ("if-none-match", &etag)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Writes are refused too, and change nothing.
    let r = post_json(&format!("{url}/issues"), TOKEN_ALICE, &json!({"title": "x"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(sim.state().with_model(|m| m.repos[0].issues.len()), 120);
    // Other logins and other resources have their own buckets; /rate_limit stays free.
    assert_eq!(get(&url, Some(TOKEN_BOB)).await.status, StatusCode::OK);
    let rl = get(&format!("{}/rate_limit", sim.base_url), Some(TOKEN_ALICE)).await;
    assert_eq!(rl.status, StatusCode::OK);
    assert_eq!(rl.json()["resources"]["core"]["remaining"], 0);
    assert_eq!(rl.json()["resources"]["search"]["remaining"], 30);
    assert_eq!(sim.stats().units_by_login["alice"], 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn anonymous_and_search_limits_are_separate() {
    let sim = Sim::start(small(Limits {
        search: 2,
        anonymous_core: 1,
        ..Limits::default()
    }))
    .await
    .unwrap();
    let search = format!("{}/search/issues?q=crash", sim.base_url);
    for _ in 0..2 {
        assert_eq!(get(&search, Some(TOKEN_BOB)).await.status, StatusCode::OK);
    }
    let r = get(&search, Some(TOKEN_BOB)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.header("x-ratelimit-resource"), "search");
    assert_eq!(
        get(&format!("{}/repos/octo/hello", sim.base_url), Some(TOKEN_BOB))
            .await
            .status,
        StatusCode::OK
    );

    let anon = format!("{}/users/octocat", sim.base_url);
    assert_eq!(get(&anon, None).await.status, StatusCode::OK);
    let r = get(&anon, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded for 127.0.0.1.")
    );
    assert_eq!(r.rate("limit"), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn graphql_cost_follows_connections_and_over_limit_is_200_rate_limited() {
    let sim = Sim::start(small(Limits {
        graphql: 4,
        ..Limits::default()
    }))
    .await
    .unwrap();
    let gql = format!("http://{}/graphql", sim.addr);
    // 1 (issues) + 100 (comments under each of 100 issues) + 100 (labels) = 201 -> cost 2
    let q = r#"{ rateLimit { cost remaining limit used }
                repository(owner: "octo", name: "hello") {
                  issues(first: 100) { nodes { comments(first: 100) { totalCount } labels(first: 100) { totalCount } } } } }"#;
    let r = graphql(&gql, TOKEN_ALICE, q, json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("x-ratelimit-resource"), "graphql");
    let rl = &r.json()["data"]["rateLimit"];
    assert_eq!(
        (rl["cost"].as_u64(), rl["remaining"].as_u64(), rl["used"].as_u64()),
        (Some(2), Some(2), Some(2))
    );
    assert_eq!(r.rate("used"), 2);
    // A dry run reports the cost without charging it.
    let r = graphql(
        &gql,
        TOKEN_ALICE,
        "{ rateLimit(dryRun: true) { cost remaining } }",
        json!({}),
    )
    .await;
    assert_eq!(r.json()["data"]["rateLimit"], json!({"cost": 1, "remaining": 2}));
    // Cost 2 again fits exactly; then even a cost-1 query is over.
    assert!(
        graphql(&gql, TOKEN_ALICE, q, json!({}))
            .await
            .json()
            .get("errors")
            .is_none()
    );
    let r = graphql(&gql, TOKEN_ALICE, "{ viewer { login } }", json!({})).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "GitHub answers an exhausted GraphQL limit with 200"
    );
    let body = r.json();
    assert_eq!(body["errors"][0]["type"], "RATE_LIMITED");
    assert!(body.get("data").is_none());
    assert_eq!(r.rate("remaining"), 0);
    assert_eq!(sim.stats().units_by_login["alice"], 4);
    // REST is a different resource.
    assert_eq!(
        get(&format!("{}/user", sim.base_url), Some(TOKEN_ALICE)).await.status,
        StatusCode::OK
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn too_many_concurrent_requests_hit_the_secondary_limit() {
    let sim = Sim::start(SimConfig {
        max_in_flight: 2,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    // Stalls hold the first two in flight for as long as their clients wait: unlike latency,
    // no timing on a loaded machine can let them finish before the third arrives.
    sim.set_faults(Faults {
        stall_next: 2,
        ..Faults::default()
    });
    let url = format!("{}/repos/octo/hello", sim.base_url);
    let held: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { get(&url, Some(TOKEN_ALICE)).await })
        })
        .collect();
    sim.state().wait_in_flight(2).await;
    let r = get(&url, Some(TOKEN_ALICE)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.header("retry-after"), "60");
    assert_eq!(r.rate("limit"), 5000);
    let msg = r.json()["message"].as_str().unwrap().to_owned();
    assert!(msg.starts_with("You have exceeded a secondary rate limit."), "{msg}");
    // The held clients give up; once their requests are gone the limit no longer bites.
    for h in held {
        h.abort();
    }
    tokio::time::timeout(std::time::Duration::from_secs(5), sim.state().wait_idle())
        .await
        .expect("released");
    assert_eq!(get(&url, Some(TOKEN_ALICE)).await.status, StatusCode::OK);
    let s = sim.stats();
    assert_eq!((s.max_in_flight, s.status(403), s.status(200)), (3, 1, 1));
    assert_eq!(
        s.units_by_login["alice"], 1,
        "neither stalled nor secondary-limited requests are charged"
    );
    sim.shutdown().await;
}
