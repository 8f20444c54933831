//! GraphQL: replay of what gh 2.23 really sends (tests/fixtures/gh-2.23-queries.json, see
//! capture_gh.py), and GitHub-shaped errors.

mod common;

use std::collections::HashMap;

use common::*;
use ghsim::{IssueState, Sim, SimConfig, SimHandle};
use http::{Method, StatusCode};
use serde_json::{Value, json};

const FIXTURE: &str = include_str!("fixtures/gh-2.23-queries.json");

/// Sends one captured request to `sim`; returns the parsed answer.
async fn replay(sim: &SimHandle, req: &Value) -> Value {
    let method = Method::from_bytes(req["method"].as_str().unwrap().as_bytes()).unwrap();
    let url = format!("http://{}{}", sim.addr, req["path"].as_str().unwrap());
    let headers: Vec<(String, String)> = req["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().replace("{TOKEN}", TOKEN_ALICE)))
        .collect();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let body = req.get("body").map(|b| serde_json::to_vec(b).unwrap());
    let r = send(method, &url, &headers, body.as_deref()).await.unwrap();
    assert_eq!(r.status, StatusCode::OK, "{url}");
    let v = r.json();
    assert!(v.get("errors").is_none(), "{}: {v}", req["path"]);
    v
}

#[tokio::test]
async fn replays_gh_2_23_issue_commands() {
    let doc: Value = serde_json::from_str(FIXTURE).unwrap();
    assert!(doc["gh_version"].as_str().unwrap().starts_with("gh version 2.23.0"));
    let mut sims: HashMap<String, SimHandle> = HashMap::new();
    for ex in doc["exchanges"].as_array().unwrap() {
        let prefix = ex["prefix"].as_str().unwrap().to_owned();
        if !sims.contains_key(&prefix) {
            let sim = Sim::start(SimConfig {
                prefix: prefix.clone(),
                ..SimConfig::default()
            })
            .await
            .unwrap();
            sims.insert(prefix.clone(), sim);
        }
        let sim = &sims[&prefix];
        let cmd = ex["command"].as_str().unwrap();
        assert_eq!(ex["exit_code"], 0, "{cmd} succeeded when captured");
        let mut answers = Vec::new();
        for req in ex["requests"].as_array().unwrap() {
            answers.push(replay(sim, req).await);
        }
        let data = |i: usize| answers[i]["data"].clone();
        let issue = |n: u64| sim.state().with_model(|m| m.repos[0].issue(n).cloned().unwrap());
        match cmd {
            "gh issue list -R octo/hello" => {
                let issues = &data(0)["repository"]["issues"];
                assert_eq!(issues["totalCount"], 90);
                assert_eq!(issues["nodes"].as_array().unwrap().len(), 30);
                assert_eq!(issues["nodes"][0]["number"], 119);
                assert_eq!(
                    issues["nodes"][0]["url"],
                    format!("http://{}/octo/hello/issues/119", sim.addr)
                );
                assert_eq!(issues["pageInfo"]["hasNextPage"], true);
            }
            "gh issue list -R octo/hello --state all --limit 130" => {
                let (a, b) = (&data(0)["repository"]["issues"], &data(1)["repository"]["issues"]);
                assert_eq!(
                    (a["nodes"].as_array().unwrap().len(), &a["pageInfo"]["hasNextPage"]),
                    (100, &json!(true))
                );
                assert_eq!(
                    (b["nodes"].as_array().unwrap().len(), &b["pageInfo"]["hasNextPage"]),
                    (20, &json!(false))
                );
                assert_eq!(b["nodes"][19]["number"], 1);
            }
            "gh issue list -R octo/hello --label bug --limit 3" => {
                let s = &data(0)["search"];
                assert_eq!(s["issueCount"], 30, "open issues with a multiple of 3 that is not of 4");
                for n in s["nodes"].as_array().unwrap() {
                    assert!(
                        n["labels"]["nodes"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|l| l["name"] == "bug")
                    );
                }
                assert_eq!(s["nodes"].as_array().unwrap().len(), 3);
            }
            "gh issue create -R octo/hello --title T --body B" => {
                assert_eq!(data(0)["repository"]["viewerPermission"], "ADMIN");
                let url = data(1)["createIssue"]["issue"]["url"].clone();
                assert_eq!(url, format!("http://{}/octo/hello/issues/121", sim.addr));
                assert_eq!(issue(121).title, "T");
            }
            "gh issue view 6 -R octo/hello --comments" => {
                assert_eq!(data(1)["node"]["comments"]["totalCount"], 2);
            }
            "gh issue close 7 -R octo/hello" => assert_eq!(issue(7).state, IssueState::Closed),
            "gh issue reopen 7 -R octo/hello" => assert_eq!(issue(7).state, IssueState::Open),
            "gh issue comment 8 -R octo/hello --body hi" => {
                assert!(
                    data(1)["addComment"]["commentEdge"]["node"]["url"]
                        .as_str()
                        .unwrap()
                        .contains("#issuecomment-")
                );
                assert_eq!(issue(8).comments.last().unwrap().body, "hi");
            }
            c if c.starts_with("gh issue edit 9") => {
                let i = issue(9);
                assert_eq!(
                    (i.title.as_str(), i.labels.clone()),
                    ("NewTitle", vec!["enhancement".to_owned()])
                );
            }
            "gh issue status -R octo/hello" => {
                assert_eq!(data(0)["viewer"]["login"], "alice");
                let assigned = &data(1)["repository"]["assigned"]["nodes"];
                assert!(assigned.as_array().unwrap().iter().all(|n| n["state"] == "OPEN"));
                assert_eq!(data(1)["repository"]["mentioned"]["totalCount"], 0);
            }
            c if c.starts_with("gh api graphql") => {
                assert!(data(0)["rateLimit"]["remaining"].is_u64())
            }
            c if c.starts_with("gh api repos") => {
                assert_eq!(answers[0].as_array().unwrap().len(), 2)
            }
            c if c.contains("ghe.example") => {
                let fields = data(0)["Issue"]["fields"].clone();
                assert!(fields.as_array().unwrap().iter().any(|f| f["name"] == "stateReason"));
                assert_eq!(data(1)["repository"]["issues"]["nodes"].as_array().unwrap().len(), 3);
            }
            _ => {}
        }
    }
    let stats = sims[""].stats();
    assert_eq!(stats.count("POST /graphql"), 24);
    assert_eq!(stats.status(200), 25);
    for (_, sim) in sims {
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn errors_look_like_githubs() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let gql = sim.graphql_url.clone();
    // Unknown field: a validation error, no data, nothing charged.
    let r = graphql(&gql, TOKEN_ALICE, "query Q { viewer { login nope } }", json!({})).await;
    let body = r.json();
    assert!(body.get("data").is_none());
    assert_eq!(
        body["errors"][0]["message"],
        "Field 'nope' doesn't exist on type 'User'"
    );
    assert_eq!(body["errors"][0]["extensions"]["code"], "undefinedField");
    assert_eq!(body["errors"][0]["path"], json!(["query Q", "viewer", "nope"]));
    assert_eq!(r.rate("used"), 0);
    // Syntax error.
    let r = graphql(&gql, TOKEN_ALICE, "{ viewer { } }", json!({})).await;
    assert!(
        r.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Parse error on \"}\"")
    );
    // A repository the caller cannot see: null plus NOT_FOUND, like a missing one.
    let q = "query($o: String!, $n: String!) { repository(owner: $o, name: $n) { name } }";
    for token in [TOKEN_BOB, TOKEN_ALICE] {
        let name = if token == TOKEN_BOB { "secret" } else { "missing" };
        let body = graphql(&gql, token, q, json!({"o": "octo", "n": name})).await.json();
        assert_eq!(body["data"]["repository"], Value::Null);
        assert_eq!(body["errors"][0]["type"], "NOT_FOUND");
        assert_eq!(
            body["errors"][0]["message"],
            format!("Could not resolve to a Repository with the name 'octo/{name}'.")
        );
    }
    let body = graphql(&gql, TOKEN_ALICE, q, json!({"o": "octo", "n": "secret"}))
        .await
        .json();
    assert_eq!(body["data"]["repository"]["name"], "secret");
    // Connections need first or last.
    let body = graphql(
        &gql,
        TOKEN_ALICE,
        r#"{ repository(owner:"octo",name:"hello") { issues { totalCount } } }"#,
        json!({}),
    )
    .await
    .json();
    assert_eq!(body["errors"][0]["type"], "MISSING_PAGINATION_BOUNDARIES");
    // Bad JSON, no query, no token.
    let tok = auth(TOKEN_ALICE);
    let r = send(Method::POST, &gql, &[("authorization", &tok)], Some(b"{"))
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Problems parsing JSON"))
    );
    let r = send(Method::POST, &gql, &[("authorization", &tok)], Some(b"{}"))
        .await
        .unwrap();
    assert!(
        r.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("query attribute")
    );
    let r = send(Method::POST, &gql, &[], Some(br#"{"query":"{viewer{login}}"}"#))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_mutation_that_fails_validation_changes_nothing() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let q = r#"mutation($id: ID!) { createIssue(input: {repositoryId: $id, title: "x"}) { issue { number nope } } }"#;
    let body = graphql(&sim.graphql_url, TOKEN_ALICE, q, json!({"id": "R_kgDO1296269"}))
        .await
        .json();
    assert_eq!(body["errors"][0]["extensions"]["code"], "undefinedField");
    assert_eq!(sim.state().with_model(|m| m.repos[0].issues.len()), 120);
    // Several writes in one invalid request are all undone, timestamps included.
    let before = sim
        .state()
        .with_model(|m| (m.repos[0].issue(7).cloned().unwrap(), m.repos[0].issues_updated_at));
    let q = r#"mutation {
        a: closeIssue(input: {issueId: "I_kwDO100000009"}) { issue { number } }
        b: addComment(input: {subjectId: "I_kwDO100000009", body: "x"}) { subject { nope } } }"#;
    let body = graphql(&sim.graphql_url, TOKEN_ALICE, q, json!({})).await.json();
    assert_eq!(
        body["errors"][0]["message"],
        "Field 'nope' doesn't exist on type 'Issue'"
    );
    let after = sim
        .state()
        .with_model(|m| (m.repos[0].issue(7).cloned().unwrap(), m.repos[0].issues_updated_at));
    assert_eq!(before.0.number, 7);
    assert_eq!(
        (after.0.state, after.0.comments.len(), after.0.updated_at),
        (before.0.state, 0, before.0.updated_at)
    );
    assert_eq!(after.1, before.1);
    // The same mutation, valid, with aliases, fragments and directives.
    let q = r#"mutation($id: ID!, $skip: Boolean!) {
        made: createIssue(input: {repositoryId: $id, title: "x", clientMutationId: "c1"}) {
          clientMutationId issue { ...f author @skip(if: $skip) { login } } } }
      fragment f on Issue { n: number state __typename }"#;
    let body = graphql(
        &sim.graphql_url,
        TOKEN_BOB,
        q,
        json!({"id": "R_kgDO1296269", "skip": true}),
    )
    .await
    .json();
    assert_eq!(
        body,
        json!({"data": {"made": {"clientMutationId": "c1", "issue": {"n": 121, "state": "OPEN", "__typename": "Issue"}}}})
    );
    sim.shutdown().await;
}
