//! Lists over real sockets: pagination with `Link` headers, issue search, and the same in
//! prefix (GitHub Enterprise Server) mode.

mod common;

use common::*;
use ghsim::{Sim, SimConfig};
use http::StatusCode;
use serde_json::{Value, json};

/// The numbers of `rel` in a Link header.
fn link(r: &Resp, rel: &str) -> Option<String> {
    let l = r.opt_header("link")?;
    l.split(", ").find(|p| p.ends_with(&format!("rel=\"{rel}\""))).map(|p| {
        p.split(';')
            .next()
            .unwrap()
            .trim_matches(|c| c == '<' || c == '>')
            .to_owned()
    })
}

#[tokio::test]
async fn pagination_follows_link_headers_with_absolute_urls() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let first = format!("{}/repos/octo/hello/issues?state=all&per_page=50", sim.base_url);
    let r = get(&first, Some(TOKEN_ALICE)).await;
    assert_eq!(r.json().as_array().unwrap().len(), 50);
    let base = format!("{}/repos/octo/hello/issues?state=all&per_page=50", sim.base_url);
    assert_eq!(link(&r, "next").unwrap(), format!("{base}&page=2"));
    assert_eq!(link(&r, "last").unwrap(), format!("{base}&page=3"));
    assert!(link(&r, "prev").is_none() && link(&r, "first").is_none());

    let mut seen = Vec::new();
    let mut next = Some(first);
    let mut pages = 0;
    while let Some(url) = next {
        let r = get(&url, Some(TOKEN_ALICE)).await;
        if pages == 1 {
            assert_eq!(link(&r, "prev").unwrap(), format!("{base}&page=1"));
            assert_eq!(link(&r, "first").unwrap(), format!("{base}&page=1"));
        }
        seen.extend(
            r.json()
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["number"].as_u64().unwrap()),
        );
        next = link(&r, "next");
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 120);
    assert_eq!(seen, (1..=120).rev().collect::<Vec<_>>(), "newest first by default");

    // per_page caps at 100; filters and sort apply before paging.
    let r = get(
        &format!("{}/repos/octo/hello/issues?state=all&per_page=500", sim.base_url),
        Some(TOKEN_ALICE),
    )
    .await;
    assert_eq!(r.json().as_array().unwrap().len(), 100);
    let url = format!("{}/repos/octo/hello/issues?per_page=0&page=x", sim.base_url);
    assert_eq!(get(&url, None).await.json().as_array().unwrap().len(), 30, "defaults");
    let r = get(
        &format!(
            "{}/repos/octo/hello/issues?labels=bug,enhancement&state=all&direction=asc",
            sim.base_url
        ),
        None,
    )
    .await;
    let nums: Vec<u64> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    assert_eq!(nums, vec![15, 30, 45, 60, 75, 90, 105, 120]);
    assert!(r.opt_header("link").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn search_issues_supports_the_documented_qualifiers() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let all = get(
        &format!("{}/repos/octo/hello/issues?state=all&per_page=100", sim.base_url),
        Some(TOKEN_ALICE),
    )
    .await;
    let mut issues: Vec<Value> = all.json().as_array().unwrap().clone();
    issues.extend(
        get(
            &format!("{}/repos/octo/hello/issues?state=all&per_page=100&page=2", sim.base_url),
            None,
        )
        .await
        .json()
        .as_array()
        .unwrap()
        .clone(),
    );
    assert_eq!(issues.len(), 120);
    fn has(i: &Value, l: &str) -> bool {
        i["labels"].as_array().unwrap().iter().any(|x| x["name"] == l)
    }
    fn text(i: &Value) -> String {
        format!("{} {}", i["title"], i["body"]).to_lowercase()
    }
    type Expect = Box<dyn Fn(&Value) -> bool>;
    let cases: Vec<(&str, Expect)> = vec![
        (
            "repo:octo/hello is:issue is:open label:bug",
            Box::new(|i| i["state"] == "open" && has(i, "bug")),
        ),
        (
            "repo:octo/hello state:closed readme",
            Box::new(|i| i["state"] == "closed" && text(i).contains("readme")),
        ),
        (
            "repo:octo/hello cache in:title",
            Box::new(|i| i["title"].as_str().unwrap().to_lowercase().contains("cache")),
        ),
        (
            "repo:octo/hello label:bug label:documentation",
            Box::new(|i| has(i, "bug") && has(i, "documentation")),
        ),
        ("repo:octo/hello offline", Box::new(|i| text(i).contains("offline"))),
        ("repo:octo/hello is:pr", Box::new(|_| false)),
    ];
    for (q, pred) in cases {
        let want = issues.iter().filter(|i| pred(i)).count();
        assert!(want > 0 || q.ends_with("is:pr"), "{q} should match something");
        let r = get(
            &format!("{}/search/issues?q={}&per_page=100", sim.base_url, q.replace(' ', "+")),
            Some(TOKEN_BOB),
        )
        .await;
        assert_eq!(r.header("x-ratelimit-resource"), "search");
        let body = r.json();
        assert_eq!(body["total_count"], want, "{q}");
        assert_eq!(body["items"].as_array().unwrap().len(), want, "{q}");
        assert_eq!(body["incomplete_results"], false);
    }
    // Sorting and paging with Link.
    let r = get(
        &format!(
            "{}/search/issues?q=repo:octo/hello&sort=created&order=asc&per_page=10",
            sim.base_url
        ),
        None,
    )
    .await;
    assert_eq!(r.json()["items"][0]["number"], 1);
    assert!(link(&r, "next").unwrap().ends_with("&per_page=10&page=2"));
    let r = get(&format!("{}/search/issues", sim.base_url), None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    sim.shutdown().await;
}

#[tokio::test]
async fn prefix_mode_poses_as_enterprise_server() {
    let sim = Sim::start(SimConfig {
        prefix: "/api/v3".into(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert!(sim.base_url.ends_with("/api/v3"));
    assert!(sim.graphql_url.ends_with("/api/graphql"));
    let repo = get(&format!("{}/repos/octo/hello", sim.base_url), Some(TOKEN_ALICE))
        .await
        .json();
    assert_eq!(repo["url"], format!("{}/repos/octo/hello", sim.base_url));
    assert_eq!(repo["html_url"], format!("http://{}/octo/hello", sim.addr));
    let root = format!("http://{}", sim.addr);
    assert_eq!(
        get(&format!("{root}/repos/octo/hello"), Some(TOKEN_ALICE)).await.status,
        StatusCode::NOT_FOUND
    );
    let r = graphql(&sim.graphql_url, TOKEN_ALICE, "{ viewer { login } }", json!({})).await;
    assert_eq!(r.json()["data"]["viewer"]["login"], "alice");
    assert_eq!(
        graphql(
            &format!("{root}/graphql"),
            TOKEN_ALICE,
            "{ viewer { login } }",
            json!({})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let r = get(&format!("{}/repos/octo/hello/issues?per_page=5", sim.base_url), None).await;
    assert!(
        link(&r, "next")
            .unwrap()
            .starts_with(&format!("{}/repos/octo/hello/issues?", sim.base_url))
    );
    // /_sim/ lives outside the prefix; route keys do not carry it.
    let stats = get(&format!("{root}/_sim/stats"), None).await.json();
    assert_eq!(stats["by_route"]["GET /repos/{owner}/{repo}"], 1);
    assert_eq!(stats["by_route"]["GET /repos/{owner}/{repo}/issues"], 1);
    assert_eq!(stats["by_route"]["POST /graphql"], 1);
    assert_eq!(stats["by_route"]["GET (unmatched)"], 1);
    assert_eq!(stats["by_route"]["POST (unmatched)"], 1);
    sim.shutdown().await;
}
