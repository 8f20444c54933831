//! The pass-through path: writes and uncacheable requests go upstream once (never retried) and
//! a successful write invalidates what it may have changed.

use crate::governor::{GovernedError, Kind, resource_of};
use crate::read::token_of;
use crate::response::{self, Answer};
use crate::state::State;
use crate::stats::Mode;
use bytes::Bytes;
use http::Method;
use http::request::Parts;
use std::sync::Arc;

pub async fn pass_through(
    state: &Arc<State>,
    parts: &Parts,
    path: &str,
    query: Option<&str>,
    body: Bytes,
    invalidates: Option<&[String]>,
) -> Result<Answer, GovernedError> {
    let fp = state.fingerprints.fingerprint(token_of(&parts.headers));
    let headers = response::forward_headers(&parts.headers);
    let idempotent = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    // Only idempotent requests may be retried; a write may have reached GitHub already.
    let kind = if idempotent && invalidates.is_none() {
        Kind::Read
    } else {
        Kind::Write
    };
    let resp = state
        .governor
        .run(
            fp,
            kind,
            resource_of(path),
            || state.clock.now_ms() / 1000,
            || state.send_upstream(parts.method.clone(), path, query, headers.clone(), body.clone()),
        )
        .await?;
    if let Some(tags) = invalidates
        && resp.status.is_success()
    {
        state.invalidations.invalidate(&state.store, tags, state.clock.now_ms());
    }
    Ok(Answer {
        status: resp.status,
        headers: response::stored_headers(&resp.headers),
        body: resp.body,
        mode: Mode::Bypass,
        etag: None,
    })
}
