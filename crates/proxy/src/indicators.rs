//! GraphQL revalidation by indicators.
//!
//! GraphQL has no conditional requests, but a repository's REST resources do, and they cost
//! nothing when unchanged. Before a GraphQL answer about a repository is fetched, the cache reads
//! two indicators through itself: the repository record (`/repos/O/R`: its metadata and
//! `pushed_at`) and its most recently updated issue or pull request
//! (`/repos/O/R/issues?state=all&sort=updated&direction=desc&per_page=1`: any issue, pull request,
//! label assignment or comment bumps an `updated_at`). Their bodies' hashes are stored with the
//! answer. Later, past the answer's TTL or for another token, both are asked again with
//! conditional requests (free 304s); if both still say the same, the answer still holds.
//! Queries that read what these indicators do not cover (releases, refs, checks, ...) are never
//! revalidated this way (see `graphql::NOT_COVERED`).

use crate::classify::{Class, classify};
use crate::read::{ReadRequest, read};
use crate::state::State;
use entry::{Fingerprint, Validator};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use std::sync::Arc;

fn indicator_paths(repo: &str) -> [(String, Option<&'static str>); 2] {
    [
        (format!("/repos/{repo}"), None),
        (
            format!("/repos/{repo}/issues"),
            Some("direction=desc&per_page=1&sort=updated&state=all"),
        ),
    ]
}

/// Reads the indicators now, asking GitHub (conditionally) even if fresh copies are cached.
/// `None` if any of them is not a 200.
async fn read_all(state: &Arc<State>, headers: &HeaderMap, repo: &str) -> Option<Vec<(String, bytes::Bytes)>> {
    let mut probe = HeaderMap::new();
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        probe.insert(header::AUTHORIZATION, auth.clone());
    }
    probe.insert(header::ACCEPT, HeaderValue::from_static("application/vnd.github+json"));
    let mut out = Vec::new();
    for (path, query) in indicator_paths(repo) {
        let Class::Read(mut spec) = classify(&Method::GET, &path, query, &probe, b"", &state.config.ttl) else {
            return None;
        };
        spec.force_revalidate = true;
        let empty = bytes::Bytes::new();
        let req = ReadRequest {
            headers: &probe,
            path: &path,
            query,
            body: &empty,
        };
        // Boxed: the read path calls back into here, and async recursion needs an indirection.
        let answer = Box::pin(read(state, &req, &spec)).await.ok()?;
        if answer.status != StatusCode::OK {
            return None;
        }
        let shown = match query {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        out.push((shown, answer.body));
    }
    Some(out)
}

/// The validators to store with an answer fetched right after this call.
pub async fn baseline(state: &Arc<State>, headers: &HeaderMap, repo: &str) -> Option<Vec<Validator>> {
    let read = read_all(state, headers, repo).await?;
    Some(read.iter().map(|(path, body)| Validator::new(path, body)).collect())
}

/// If every validator still holds, returns the time the check started (the answer's new
/// fetch time) and records that this token can read `repo`.
pub async fn still_hold(
    state: &Arc<State>,
    headers: &HeaderMap,
    fp: Fingerprint,
    repo: &str,
    validators: &[Validator],
) -> Option<u64> {
    let started = state.clock.now_ms();
    let now = read_all(state, headers, repo).await?;
    let holds = validators.len() == now.len()
        && validators
            .iter()
            .zip(&now)
            .all(|(v, (path, body))| v.path == *path && v.holds_for(body));
    // Whatever the bodies say, a 200 for both proves this token can read the repository.
    let repo_ttl = state.config.ttl.ttl("get_repo").as_millis() as u64;
    state.proofs.record(fp, repo, started + repo_ttl);
    holds.then_some(started)
}
