//! The request path: control endpoints, then classification, then the read (cache), write
//! (pass through, invalidate) or bypass path.

use crate::classify::{Class, classify, normalize_path};
use crate::control;
use crate::errors::github_error;
use crate::response::{self, Answer, Fetched, Finish};
use crate::state::{Outcome, State};
use crate::stats::Mode;
use crate::upstream::{UpstreamError, UpstreamResponse};
use axum::Router;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use entry::{CacheKey, EtagInputs, Fingerprint, StoredResponse, github_etag};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which listener a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    Unix,
    Tcp,
}

/// The whole HTTP surface, without sockets.
pub fn app(state: Arc<State>, kind: ListenerKind) -> Router {
    Router::new().fallback(move |req: Request<Body>| {
        let state = state.clone();
        async move { handle(state, kind, req).await }
    })
}

async fn handle(state: Arc<State>, kind: ListenerKind, req: Request<Body>) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let path = normalize_path(parts.uri.path()).to_owned();
    if path == "/_cache" || path.starts_with("/_cache/") {
        state.stats.control();
        return control::handle(&state, &parts.method, &path).await;
    }
    let body = match axum::body::to_bytes(body, state.config.max_request_body).await {
        Ok(b) => b,
        Err(e) => {
            state.stats.rejected();
            let too_large = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            return if too_large {
                github_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("request body over {} bytes", state.config.max_request_body),
                )
            } else {
                github_error(StatusCode::BAD_REQUEST, &format!("cannot read request body: {e}"))
            };
        }
    };
    let query = parts.uri.query();
    let class = classify(
        &parts.method,
        &path,
        query,
        &parts.headers,
        &body,
        state.config.default_ttl,
    );
    let result = match class {
        Class::Read { key, tag, ttl, graphql } => {
            read(&state, &parts, &path, query, &body, ReadSpec { key, tag, ttl, graphql }).await
        }
        Class::Write { tags } => pass_through(&state, &parts, &path, query, body, Some(&tags)).await,
        Class::Bypass => pass_through(&state, &parts, &path, query, body, None).await,
    };
    let upstream_base = state.config.upstream.base_url();
    let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let finish = Finish {
        head: parts.method == Method::HEAD,
        if_none_match: parts.headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()),
        proxy_base: response::proxy_base(kind, host),
        upstream_base: &upstream_base,
    };
    match result {
        Ok(answer) => {
            let (mode, len) = (answer.mode, answer.body.len());
            let resp = response::build(answer, &finish);
            state.stats.record(mode, len, started.elapsed());
            resp
        }
        Err(e) => {
            state.stats.record(Mode::Miss, 0, started.elapsed());
            let status = match e {
                UpstreamError::Timeout(..) => StatusCode::GATEWAY_TIMEOUT,
                _ => StatusCode::BAD_GATEWAY,
            };
            tracing::warn!(error = %e, path, "upstream failed");
            let mut resp = github_error(status, &format!("gh-p2p-cache: {e}"));
            resp.headers_mut().insert("x-cache", HeaderValue::from_static("MISS"));
            resp
        }
    }
}

struct ReadSpec {
    key: CacheKey,
    tag: Option<String>,
    ttl: Duration,
    graphql: bool,
}

/// `token X` and `Bearer X` name the same token.
fn token_of(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let token = value
        .strip_prefix("token ")
        .or_else(|| value.strip_prefix("Bearer "))
        .or_else(|| value.strip_prefix("bearer "))
        .unwrap_or(value);
    Some(token.trim())
}

fn etag_inputs(headers: &HeaderMap) -> EtagInputs<'_> {
    let h = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    EtagInputs {
        accept: h(header::ACCEPT),
        authorization: h(header::AUTHORIZATION),
        cookie: h(header::COOKIE),
    }
}

impl State {
    fn usable(&self, entry: &StoredResponse, fp: Fingerprint, now: u64) -> bool {
        entry.token_fp == fp
            && entry.is_fresh(now)
            && !self.invalidations.is_stale(entry.tag.as_deref(), entry.fetched_at_ms)
    }
}

async fn read(
    state: &Arc<State>,
    parts: &Parts,
    path: &str,
    query: Option<&str>,
    body: &Bytes,
    spec: ReadSpec,
) -> Result<Answer, UpstreamError> {
    let fp = state.fingerprints.fingerprint(token_of(&parts.headers));
    let cached = state.store.get(spec.key.as_str()).await;
    if let Some(c) = &cached
        && state.usable(c, fp, state.clock.now_ms())
    {
        return Ok(Answer::from_entry(c, Mode::Hit, None));
    }
    let (outcome, ran) = state
        .coalescer
        .run((spec.key.clone(), fp), || {
            fetch(state, parts, path, query, body, &spec, fp, cached)
        })
        .await;
    let fetched = outcome?;
    let mode = if ran { fetched.mode } else { Mode::Coalesced };
    // An entry fetched with another token carries that token's ETag; give this one its own.
    let etag = (fetched.entry.token_fp != fp && fetched.entry.etag.is_some())
        .then(|| github_etag(etag_inputs(&parts.headers), &fetched.entry.body));
    Ok(Answer::from_entry(&fetched.entry, mode, etag))
}

#[allow(clippy::too_many_arguments)]
async fn fetch(
    state: &Arc<State>,
    parts: &Parts,
    path: &str,
    query: Option<&str>,
    body: &Bytes,
    spec: &ReadSpec,
    fp: Fingerprint,
    cached: Option<Arc<StoredResponse>>,
) -> Outcome {
    // A leader that finished just before we became one may have refreshed the entry.
    if let Some(c) = state.store.get(spec.key.as_str()).await
        && state.usable(&c, fp, state.clock.now_ms())
    {
        return Ok(Arc::new(Fetched {
            entry: c,
            mode: Mode::Hit,
        }));
    }
    let mut headers = response::forward_headers(&parts.headers);
    if let Some(c) = cached.as_deref().filter(|_| !spec.graphql) {
        if c.token_fp == fp {
            set_header(&mut headers, header::IF_NONE_MATCH, c.etag.as_deref());
            set_header(&mut headers, header::IF_MODIFIED_SINCE, c.last_modified.as_deref());
        } else if c.etag.is_some() {
            // Another token's entry: only an ETag computed for *this* token proves GitHub would
            // send it this body. If-Modified-Since alone would not (per-user answers).
            let mine = github_etag(etag_inputs(&parts.headers), &c.body);
            set_header(&mut headers, header::IF_NONE_MATCH, Some(&mine));
        }
    }
    let (method, upstream_body) = if spec.graphql {
        (Method::POST, body.clone())
    } else {
        (Method::GET, Bytes::new())
    };
    let sent_at = state.clock.now_ms();
    let resp = match state.upstream.send(method, path, query, headers, upstream_body).await {
        Ok(r) => r,
        Err(e) => {
            state.stats.upstream_error();
            return Err(e);
        }
    };
    state.stats.upstream(costs_units(&resp));
    if resp.status == StatusCode::NOT_MODIFIED
        && let Some(c) = cached
    {
        let mut renewed = (*c).clone();
        renewed.fetched_at_ms = sent_at;
        let renewed = Arc::new(renewed);
        state.store.put(spec.key.as_str(), renewed.clone());
        return Ok(Arc::new(Fetched {
            entry: renewed,
            mode: Mode::Revalidated,
        }));
    }
    let cacheable = is_cacheable(&resp, spec.graphql);
    let header = |name| {
        resp.headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let entry = Arc::new(StoredResponse {
        status: resp.status.as_u16(),
        headers: response::stored_headers(&resp.headers),
        etag: header(header::ETAG),
        last_modified: header(header::LAST_MODIFIED),
        body: resp.body,
        fetched_at_ms: sent_at,
        ttl_secs: u32::try_from(spec.ttl.as_secs()).unwrap_or(u32::MAX),
        token_fp: fp,
        request_accept: parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        tag: spec.tag.clone(),
    });
    if cacheable {
        state.store.put(spec.key.as_str(), entry.clone());
    }
    Ok(Arc::new(Fetched {
        entry,
        mode: Mode::Miss,
    }))
}

fn set_header(headers: &mut HeaderMap, name: header::HeaderName, value: Option<&str>) {
    if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(name, v);
    }
}

/// GitHub does not charge authorized 304s; 5xx answers are its own failures.
fn costs_units(resp: &UpstreamResponse) -> bool {
    resp.status != StatusCode::NOT_MODIFIED && !resp.status.is_server_error()
}

/// Only complete, successful, cookie-free answers are stored; GraphQL answers carrying
/// `errors` (including GitHub's over-limit 200) are not.
fn is_cacheable(resp: &UpstreamResponse, graphql: bool) -> bool {
    resp.status == StatusCode::OK
        && !resp.headers.contains_key(header::SET_COOKIE)
        && !(graphql && memchr::memmem::find(&resp.body, b"\"errors\"").is_some())
}

async fn pass_through(
    state: &Arc<State>,
    parts: &Parts,
    path: &str,
    query: Option<&str>,
    body: Bytes,
    invalidates: Option<&[String]>,
) -> Result<Answer, UpstreamError> {
    let headers = response::forward_headers(&parts.headers);
    // Writes are never retried here: one that may have reached GitHub must not run twice.
    let resp = match state
        .upstream
        .send(parts.method.clone(), path, query, headers, body)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            state.stats.upstream_error();
            return Err(e);
        }
    };
    state.stats.upstream(costs_units(&resp));
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
