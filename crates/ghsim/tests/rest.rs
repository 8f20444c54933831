//! REST behaviour over real sockets: access and authentication, gzip, writes, request-body
//! errors, Host-based URLs, standard headers and stats.

mod common;

use common::*;
use ghsim::{Sim, SimConfig};
use http::{Method, StatusCode};
use serde_json::json;

const NOT_FOUND: &str = r#"{"documentation_url":"https://docs.github.com/rest","message":"Not Found"}"#;

#[tokio::test]
async fn private_repository_is_404_for_bob_and_anonymous_and_200_for_alice() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    for path in [
        "/repos/octo/secret",
        "/repos/octo/secret/issues",
        "/repos/octo/secret/issues/1",
        "/repos/octo/secret/labels",
    ] {
        let url = format!("{}{path}", sim.base_url);
        for token in [Some(TOKEN_BOB), None] {
            let r = get(&url, token).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path} {token:?}");
            assert_eq!(String::from_utf8(r.bytes()).unwrap(), NOT_FOUND);
        }
        assert_eq!(get(&url, Some(TOKEN_ALICE)).await.status, StatusCode::OK, "{path}");
    }
    let repo = get(&format!("{}/repos/octo/secret", sim.base_url), Some(TOKEN_ALICE))
        .await
        .json();
    assert_eq!(repo["private"], true);
    assert_eq!(repo["permissions"]["push"], true);
    // Writes to a hidden repository are 404 too, and nothing is created.
    let r = post_json(
        &format!("{}/repos/octo/secret/issues", sim.base_url),
        TOKEN_BOB,
        &json!({"title": "x"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Search hides it from bob (422 when named) and shows it to alice.
    let q = format!("{}/search/issues?q=repo:octo/secret", sim.base_url);
    assert_eq!(get(&q, Some(TOKEN_BOB)).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(get(&q, Some(TOKEN_ALICE)).await.json()["total_count"], 5);
    let all = format!("{}/search/issues?q=rotate+the+deploy+key", sim.base_url);
    assert_eq!(get(&all, Some(TOKEN_BOB)).await.json()["total_count"], 0);
    assert_eq!(get(&all, Some(TOKEN_ALICE)).await.json()["total_count"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_token_is_401_and_both_schemes_work() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!("{}/user", sim.base_url);
    let r = get_with(
        &url,
        &[("authorization", "token ghp_000000000000000000000000000000000000")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json(),
        json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
    );
    let bearer = format!("Bearer {TOKEN_CAROL}");
    assert_eq!(
        get_with(&url, &[("authorization", &bearer)]).await.json()["login"],
        "carol"
    );
    assert_eq!(get(&url, Some(TOKEN_BOB)).await.json()["login"], "bob");
    assert_eq!(get(&url, None).await.status, StatusCode::UNAUTHORIZED);
    let octocat = get(&format!("{}/users/octocat", sim.base_url), None).await;
    assert_eq!(octocat.json()["id"], 583231);
    assert!(octocat.opt_header("last-modified").is_some());
    assert_eq!(
        get(&format!("{}/users/nobody-here", sim.base_url), None).await.status,
        StatusCode::NOT_FOUND
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn gzip_only_when_accepted() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!("{}/repos/octo/hello/issues", sim.base_url);
    let plain = get(&url, Some(TOKEN_ALICE)).await;
    assert!(plain.opt_header("content-encoding").is_none());
    let tok = auth(TOKEN_ALICE);
    let zipped = get_with(
        &url,
        &[("authorization", &tok), ("accept-encoding", "deflate, gzip;q=1.0")],
    )
    .await;
    assert_eq!(zipped.header("content-encoding"), "gzip");
    assert!(zipped.body.len() < plain.body.len() / 3);
    assert_eq!(zipped.bytes(), plain.bytes().to_vec());
    assert_eq!(
        zipped.header("etag"),
        plain.header("etag"),
        "the ETag is over the uncompressed body"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn writes_update_the_model_and_list_validators() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let list = format!("{}/repos/octo/hello/issues", sim.base_url);
    let tok = auth(TOKEN_BOB);
    let before = get(&list, Some(TOKEN_BOB)).await;
    let (etag, lm) = (
        before.header("etag").to_owned(),
        before.header("last-modified").to_owned(),
    );

    let r = post_json(
        &list,
        TOKEN_BOB,
        &json!({"title": "New bug", "body": "it broke", "labels": ["bug"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let created = r.json();
    assert_eq!(created["number"], 121);
    assert_eq!(created["user"]["login"], "bob");
    assert_eq!(
        created["labels"],
        json!([]),
        "labels from non-collaborators are dropped, as on GitHub"
    );
    assert_eq!(
        r.header("location"),
        format!("{}/repos/octo/hello/issues/121", sim.base_url)
    );
    assert!(r.opt_header("etag").is_some());

    let r = get_with(&list, &[("authorization", &tok), ("if-none-match", &etag)]).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the list changed, so the old ETag no longer matches"
    );
    assert_eq!(r.json()[0]["number"], 121);
    let r = get_with(&list, &[("authorization", &tok), ("if-modified-since", &lm)]).await;
    assert_eq!(r.status, StatusCode::OK, "Last-Modified moved forward");
    let lm2 = r.header("last-modified").to_owned();

    // Comment, then close via PATCH (bob authored it, so he may).
    let issue = format!("{list}/121");
    let r = post_json(&format!("{issue}/comments"), TOKEN_BOB, &json!({"body": "more detail"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = send(
        Method::PATCH,
        &issue,
        &[("authorization", &tok)],
        Some(br#"{"state":"closed"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    let got = r.json();
    assert_eq!(
        (got["state"].as_str(), got["comments"].as_u64()),
        (Some("closed"), Some(1))
    );
    assert_eq!(got["closed_by"]["login"], "bob");
    let r = get_with(&list, &[("authorization", &tok), ("if-modified-since", &lm2)]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json()[0]["number"],
        119,
        "closed issues leave the default (open) list"
    );
    // Someone else's issue: bob has no push rights.
    let r = send(
        Method::PATCH,
        &format!("{list}/1"),
        &[("authorization", &tok)],
        Some(br#"{"title":"x"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Alice is a collaborator: her labels stick, unknown ones are created.
    let r = post_json(
        &list,
        TOKEN_ALICE,
        &json!({"title": "Labelled", "labels": ["bug", "triage"]}),
    )
    .await;
    let labels = r.json()["labels"].clone();
    let names: Vec<&str> = labels
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bug", "triage"]);
    assert_eq!(sim.stats().units_by_login["bob"], 8, "writes cost one core unit each");
    sim.shutdown().await;
}

#[tokio::test]
async fn request_body_errors_are_githubs() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let list = format!("{}/repos/octo/hello/issues", sim.base_url);
    let tok = auth(TOKEN_ALICE);
    let r = send(Method::POST, &list, &[("authorization", &tok)], Some(b"{not json"))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["message"], "Problems parsing JSON");
    let r = post_json(&list, TOKEN_ALICE, &json!({"body": "no title"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.json();
    assert_eq!(body["message"], "Validation Failed");
    assert_eq!(
        body["errors"],
        json!([{"resource": "Issue", "code": "missing_field", "field": "title"}])
    );
    let r = post_json(&format!("{list}/1/comments"), TOKEN_ALICE, &json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = send(Method::POST, &list, &[], Some(br#"{"title":"anon"}"#))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let labels = format!("{}/repos/octo/hello/labels", sim.base_url);
    let r = post_json(&labels, TOKEN_ALICE, &json!({"name": "bug"})).await;
    assert_eq!(r.json()["errors"][0]["code"], "already_exists");
    assert_eq!(
        post_json(&labels, TOKEN_ALICE, &json!({"name": "p1", "color": "ff0000"}))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        post_json(&labels, TOKEN_BOB, &json!({"name": "p2"})).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(get(&format!("{labels}/p1"), None).await.json()["color"], "ff0000");
    // The model is unchanged by the failed attempts.
    assert_eq!(sim.state().with_model(|m| m.repos[0].issues.len()), 120);
    sim.shutdown().await;
}

#[tokio::test]
async fn body_urls_follow_the_host_header() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let tok = auth(TOKEN_ALICE);
    let r = get_with(
        &format!("{}/repos/octo/hello/issues/2", sim.base_url),
        &[("host", "api.github.com"), ("authorization", &tok)],
    )
    .await;
    let issue = r.json();
    assert_eq!(issue["url"], "http://api.github.com/repos/octo/hello/issues/2");
    assert_eq!(issue["repository_url"], "http://api.github.com/repos/octo/hello");
    assert_eq!(
        issue["comments_url"],
        "http://api.github.com/repos/octo/hello/issues/2/comments"
    );
    assert_eq!(
        issue["labels_url"],
        "http://api.github.com/repos/octo/hello/issues/2/labels{/name}"
    );
    assert_eq!(issue["user"]["url"], "http://api.github.com/users/alice");
    assert_eq!(issue["html_url"], "http://api.github.com/octo/hello/issues/2");
    sim.shutdown().await;
}

#[tokio::test]
async fn standard_headers_and_stats() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!("{}/repos/octo/hello/issues", sim.base_url);
    let r = get(&url, Some(TOKEN_ALICE)).await;
    assert_eq!(r.header("cache-control"), "private, max-age=60, s-maxage=60");
    let vary: Vec<&str> = r.headers.get_all("vary").iter().map(|v| v.to_str().unwrap()).collect();
    assert!(vary.contains(&"Accept, Authorization, Cookie, X-GitHub-OTP"));
    assert_eq!(r.header("content-type"), "application/json; charset=utf-8");
    assert_eq!(r.header("x-github-api-version-selected"), "2022-11-28");
    assert!(!r.header("x-github-request-id").is_empty());
    assert_eq!(r.header("x-ratelimit-resource"), "core");
    assert!(r.rate("reset") > 1_700_000_000);
    let rl = get(&format!("{}/rate_limit", sim.base_url), Some(TOKEN_ALICE)).await;
    assert_eq!(rl.json()["resources"]["core"]["used"], 1, "/rate_limit itself is free");
    assert_eq!(rl.json()["resources"]["graphql"]["limit"], 5000);
    get(&url, Some(TOKEN_BOB)).await;
    graphql(
        &format!("http://{}/graphql", sim.addr),
        TOKEN_ALICE,
        "{ viewer { login } }",
        json!({}),
    )
    .await;

    let s = sim.stats();
    assert_eq!(s.total_requests, 4);
    assert_eq!(s.count("GET /repos/{owner}/{repo}/issues"), 2);
    assert_eq!(s.count("GET /rate_limit"), 1);
    assert_eq!(s.count("POST /graphql"), 1);
    assert_eq!(s.status(200), 4);
    assert_eq!(s.units_total(), 3);
    assert_eq!(s.max_in_flight, 1);
    // The HTTP view is the same snapshot, and /_sim/ calls are not counted.
    let root = format!("http://{}", sim.addr);
    let over_http: ghsim::SimStats =
        serde_json::from_value(get(&format!("{root}/_sim/stats"), None).await.json()).unwrap();
    assert_eq!(over_http, s);
    let r = send(Method::POST, &format!("{root}/_sim/reset-stats"), &[], None)
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(sim.stats().total_requests, 0);
    sim.shutdown().await;
}
