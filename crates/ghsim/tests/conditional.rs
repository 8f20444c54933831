//! ETags (GitHub's token-specific formula) and conditional requests over real sockets:
//! weak and strong `If-None-Match`, `If-Modified-Since`, which 304s are free.

mod common;

use common::*;
use ghsim::{Sim, SimConfig};
use http::StatusCode;
use sha2::{Digest, Sha256};

fn sha_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(h.finalize())
}

#[tokio::test]
async fn etag_is_githubs_formula_over_the_uncompressed_body() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!("{}/repos/octo/hello/issues/3", sim.base_url);
    let bearer = format!("Bearer {TOKEN_ALICE}");
    let r = get_with(
        &url,
        &[
            ("accept", "*/*"),
            ("authorization", &bearer),
            ("accept-encoding", "gzip"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-encoding"), "gzip");
    let body = r.bytes();
    // FACTS.md: `Accept: */*` and `Authorization: Bearer X` hash `*/*:Bearer X:<body>`
    let want = sha_hex(&[b"*/*:", bearer.as_bytes(), b":", &body]);
    assert_eq!(r.header("etag"), format!("W/\"{want}\""));

    // An empty Accept (what `gh api` sends) adds just ':'; Cookie comes last.
    let tok = auth(TOKEN_BOB);
    let r = get_with(&url, &[("accept", ""), ("authorization", &tok), ("cookie", "c=1")]).await;
    let want = sha_hex(&[b":", tok.as_bytes(), b":", b"c=1:", &r.bytes()]);
    assert_eq!(r.header("etag"), format!("W/\"{want}\""));

    // Nothing but the body when no header of the three is present.
    let r = get_with(&url, &[]).await;
    assert_eq!(r.header("etag"), format!("W/\"{}\"", sha_hex(&[&r.bytes()])));
    sim.shutdown().await;
}

#[tokio::test]
async fn if_none_match_weak_or_strong_answers_a_free_304() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!("{}/repos/octo/hello/issues?state=all", sim.base_url);
    let tok = auth(TOKEN_ALICE);
    let first = get_with(&url, &[("authorization", &tok)]).await;
    assert_eq!(first.rate("used"), 1);
    let etag = first.header("etag").to_owned();
    let strong = etag.trim_start_matches("W/").to_owned();
    for tag in [etag.as_str(), strong.as_str(), &format!("\"nope\", {etag}")] {
        let r = get_with(&url, &[("authorization", &tok), ("if-none-match", tag)]).await;
        assert_eq!(r.status, StatusCode::NOT_MODIFIED, "{tag}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), etag);
        assert_eq!(r.rate("used"), 1, "an authorized 304 is free");
        assert_eq!(r.rate("remaining"), 4999);
    }
    let r = get_with(&url, &[("authorization", &tok), ("if-none-match", "W/\"0000\"")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.rate("used"), 2);

    let s = sim.stats();
    assert_eq!(s.not_modified, 3);
    assert_eq!(s.status(304), 3);
    assert_eq!(s.units_by_login["alice"], 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn etags_are_token_specific_and_recomputable_for_another_token() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!("{}/repos/octo/hello", sim.base_url);
    let (alice, carol) = (auth(TOKEN_ALICE), auth(TOKEN_CAROL));
    let a = get_with(&url, &[("authorization", &alice)]).await;
    // Alice's tag means nothing for carol...
    let r = get_with(&url, &[("authorization", &carol), ("if-none-match", a.header("etag"))]).await;
    assert_eq!(r.status, StatusCode::OK);
    // ...but recomputing it for carol over alice's body revalidates for free.
    let for_carol = sha_hex(&[carol.as_bytes(), b":", &a.bytes()]);
    let r = get_with(
        &url,
        &[
            ("authorization", &carol),
            ("if-none-match", &format!("W/\"{for_carol}\"")),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_eq!(sim.stats().units_by_login["carol"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn if_modified_since_answers_304_and_anonymous_304s_are_charged() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let url = format!("{}/repos/octo/hello/issues/5", sim.base_url);
    let r = get(&url, None).await;
    assert_eq!(r.header("cache-control"), "public, max-age=60, s-maxage=60");
    let lm = r.header("last-modified").to_owned();
    assert_eq!(r.rate("limit"), 60);
    let r = get_with(&url, &[("if-modified-since", &lm)]).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_eq!(r.rate("used"), 2, "an unauthorized 304 still costs a unit");
    let r = get_with(&url, &[("if-modified-since", "Mon, 01 Jan 2024 00:00:00 GMT")]).await;
    assert_eq!(r.status, StatusCode::OK);
    // Authorized: free.
    let tok = auth(TOKEN_BOB);
    let r = get_with(&url, &[("authorization", &tok), ("if-modified-since", &lm)]).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_eq!(r.rate("used"), 0);
    assert_eq!(sim.stats().units_by_login.get(ghsim::ANONYMOUS), Some(&3));
    sim.shutdown().await;
}
