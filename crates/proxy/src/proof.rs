//! Proof of read access for sharing GraphQL answers across tokens.
//!
//! GraphQL has no ETags, so a cached answer about a repository goes to another token only after
//! that token has read the repository itself through the cache: `GET /repos/{owner}/{repo}`,
//! which is a free 304 when the repository is already cached for any token (the ETag recomputed
//! for this token) and GitHub's own access check either way. A success is remembered per token
//! fingerprint for the repository TTL.

use crate::classify::{Class, classify};
use crate::read::{ReadRequest, read};
use crate::state::State;
use entry::Fingerprint;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Proofs {
    until_ms: Mutex<HashMap<(Fingerprint, String), u64>>,
}

impl Proofs {
    /// Records that `fp` can read `repo` until `until_ms` (indicator checks prove it too).
    pub fn record(&self, fp: Fingerprint, repo: &str, until_ms: u64) {
        self.until_ms
            .lock()
            .expect("proofs lock")
            .insert((fp, repo.to_owned()), until_ms);
    }
}

pub async fn can_read(state: &Arc<State>, headers: &HeaderMap, fp: Fingerprint, repo: &str) -> bool {
    let now = state.clock.now_ms();
    let key = (fp, repo.to_owned());
    if state
        .proofs
        .until_ms
        .lock()
        .expect("proofs lock")
        .get(&key)
        .is_some_and(|t| *t > now)
    {
        return true;
    }
    let mut probe = HeaderMap::new();
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        probe.insert(header::AUTHORIZATION, auth.clone());
    }
    probe.insert(header::ACCEPT, HeaderValue::from_static("application/vnd.github+json"));
    let path = format!("/repos/{repo}");
    let Class::Read(spec) = classify(&Method::GET, &path, None, &probe, b"", &state.config.ttl) else {
        return false;
    };
    let body = bytes::Bytes::new();
    let req = ReadRequest {
        headers: &probe,
        path: &path,
        query: None,
        body: &body,
    };
    // Boxed: the read path may call back into this proof (a GraphQL read proving a repository
    // read), and async recursion needs an indirection.
    let answer = Box::pin(read(state, &req, &spec)).await;
    let ok = matches!(&answer, Ok(a) if a.status == StatusCode::OK);
    if ok {
        let until = now + spec.ttl.as_millis() as u64;
        state.proofs.until_ms.lock().expect("proofs lock").insert(key, until);
    }
    ok
}
