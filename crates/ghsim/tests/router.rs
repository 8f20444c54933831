//! `app(state)` without a socket: the router alone, driven with `tower::ServiceExt::oneshot`.

use axum::body::Body;
use ghsim::{Faults, SimConfig, SimState, TOKEN_ALICE, app};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("token {TOKEN_ALICE}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn the_router_serves_and_counts_without_a_socket() {
    let state = SimState::new(SimConfig::default());
    let resp = app(state.clone())
        .oneshot(get("/repos/octo/secret/issues/2"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "4999");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let issue: serde_json::Value = serde_json::from_slice(&body).unwrap();
    // No Host header: URLs fall back to localhost.
    assert_eq!(issue["url"], "http://localhost/repos/octo/secret/issues/2");
    let s = state.stats();
    assert_eq!(s.count("GET /repos/{owner}/{repo}/issues/{number}"), 1);
    assert_eq!(s.units_by_login["alice"], 1);

    // Without a connection to drop, an injected reset shows as a bodiless 500.
    state.set_faults(Faults {
        reset_next: 1,
        ..Faults::default()
    });
    let resp = app(state.clone()).oneshot(get("/user")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(resp.into_body().collect().await.unwrap().to_bytes().is_empty());
}
