//! The read path: answer from the store when the entry may go to this token, else one shared
//! upstream exchange that revalidates or replaces it, else (GitHub failing) a stale entry.

use crate::classify::ReadSpec;
use crate::config::SharePolicy;
use crate::governor::{GovernedError, Kind, resource_of};
use crate::response::{self, Answer, Fetched};
use crate::state::{Outcome, State};
use crate::stats::Mode;
use crate::upstream::UpstreamResponse;
use bytes::Bytes;
use entry::{EtagInputs, Fingerprint, StoredResponse, github_etag};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use std::sync::Arc;

/// How old an answer kept alive by its indicators may get before it is refetched anyway.
const MAX_INDICATOR_AGE_MS: u64 = 24 * 3600 * 1000;

/// The parts of a client request the read path needs.
pub struct ReadRequest<'a> {
    pub headers: &'a HeaderMap,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub body: &'a Bytes,
}

/// `token X` and `Bearer X` name the same token.
pub fn token_of(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let token = value
        .strip_prefix("token ")
        .or_else(|| value.strip_prefix("Bearer "))
        .or_else(|| value.strip_prefix("bearer "))
        .unwrap_or(value);
    Some(token.trim())
}

pub fn etag_inputs(headers: &HeaderMap) -> EtagInputs<'_> {
    let h = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    EtagInputs {
        accept: h(header::ACCEPT),
        authorization: h(header::AUTHORIZATION),
        cookie: h(header::COOKIE),
    }
}

impl State {
    /// Fresh, not invalidated by a write, and fetched by this token (or trusted).
    fn fresh_for(&self, entry: &StoredResponse, fp: Fingerprint, now: u64) -> bool {
        (entry.token_fp == fp || self.config.policy == SharePolicy::Trust)
            && entry.is_fresh(now)
            && !self.invalidations.is_stale(&entry.tags, entry.fetched_at_ms)
    }

    /// May `entry` be served because GitHub is failing?
    fn stale_ok(&self, entry: &StoredResponse, fp: Fingerprint, now: u64) -> bool {
        let limit = u64::from(entry.ttl_secs) * 1000 + self.config.max_stale.as_millis() as u64;
        (entry.token_fp == fp || self.config.policy == SharePolicy::Trust)
            && now.saturating_sub(entry.fetched_at_ms) <= limit
            && !self.invalidations.is_stale(&entry.tags, entry.fetched_at_ms)
    }
}

pub async fn read(state: &Arc<State>, req: &ReadRequest<'_>, spec: &ReadSpec) -> Result<Answer, GovernedError> {
    let fp = state.fingerprints.fingerprint(token_of(req.headers));
    if state.config.partition_by_token {
        let mut own = ReadSpec {
            key: spec.key.partitioned(&fp.0),
            tags: spec.tags.clone(),
            ttl: spec.ttl,
            graphql: None,
            force_revalidate: spec.force_revalidate,
        };
        // A partitioned cache never shares, so GraphQL needs no proof; keep it a GraphQL read.
        own.graphql = spec.graphql.as_ref().map(|_| crate::classify::GraphqlRead {
            shareable_repo: None,
            indicators_cover: false,
        });
        return read_unpartitioned(state, req, &own, fp).await;
    }
    read_unpartitioned(state, req, spec, fp).await
}

async fn read_unpartitioned(
    state: &Arc<State>,
    req: &ReadRequest<'_>,
    spec: &ReadSpec,
    fp: Fingerprint,
) -> Result<Answer, GovernedError> {
    let cached = state.store.get(spec.key.as_str()).await;
    if let Some(c) = cached.as_ref().filter(|_| !spec.force_revalidate) {
        let now = state.clock.now_ms();
        if state.fresh_for(c, fp, now) {
            return Ok(Answer::from_entry(c, hit_mode(c), None).remembered_as(&spec.key, c.fetched_at_ms));
        }
        // GraphQL has no ETags: a fresh answer about one repository goes to another token once
        // that token has shown GitHub it can read the repository.
        if let Some(repo) = spec.graphql.as_ref().and_then(|g| g.shareable_repo.as_deref())
            && c.is_fresh(now)
            && !state.invalidations.is_stale(&c.tags, c.fetched_at_ms)
            && crate::proof::can_read(state, req.headers, fp, repo).await
        {
            return Ok(Answer::from_entry(c, hit_mode(c), None).remembered_as(&spec.key, c.fetched_at_ms));
        }
        // Past its TTL (or another token's): the REST indicators it was fetched with still say
        // the same, for free, so the answer still holds; reading them is also this token's proof.
        if let Some(repo) = spec.graphql.as_ref().filter(|g| g.indicators_cover).and(c.tags.get(1))
            && !c.validators.is_empty()
            && now.saturating_sub(c.fetched_at_ms) <= MAX_INDICATOR_AGE_MS
            && let Some(checked_at) = crate::indicators::still_hold(state, req.headers, fp, repo, &c.validators).await
        {
            let mut renewed = (**c).clone();
            renewed.fetched_at_ms = checked_at;
            let renewed = Arc::new(renewed);
            state.store.put(spec.key.as_str(), renewed.clone());
            return Ok(
                Answer::from_entry(&renewed, Mode::Revalidated, None).remembered_as(&spec.key, renewed.fetched_at_ms)
            );
        }
    }
    let (outcome, ran) = state
        .coalescer
        .run((spec.key.clone(), fp, state.invalidations.generation()), || {
            fetch(state, req, spec, fp, cached)
        })
        .await;
    let fetched = outcome?;
    let mode = match fetched.mode {
        Mode::Miss | Mode::Revalidated | Mode::Peer if !ran => Mode::Coalesced,
        m => m,
    };
    // An entry fetched with another token carries that token's ETag; give this one its own.
    let etag = (fetched.entry.token_fp != fp && fetched.entry.etag.is_some())
        .then(|| github_etag(etag_inputs(req.headers), &fetched.entry.body));
    Ok(Answer::from_entry(&fetched.entry, mode, etag).remembered_as(&spec.key, fetched.entry.fetched_at_ms))
}

async fn fetch(
    state: &Arc<State>,
    req: &ReadRequest<'_>,
    spec: &ReadSpec,
    fp: Fingerprint,
    cached: Option<Arc<StoredResponse>>,
) -> Outcome {
    // A leader that finished just before we became one may have refreshed the entry (unless
    // the client asked for GitHub's word now).
    if !spec.force_revalidate
        && let Some(c) = state.store.get(spec.key.as_str()).await
        && state.fresh_for(&c, fp, state.clock.now_ms())
    {
        return Ok(Arc::new(Fetched {
            mode: hit_mode(&c),
            entry: c,
        }));
    }
    // Nothing here: a peer may have it (bounded by the peer deadline). Its copy is then
    // revalidated like another token's (a free 304), or served as is under the trust policy.
    let mut cached = cached;
    if cached.is_none()
        && !state.config.partition_by_token
        && let Some(received) = state.ask_peers(spec.key.as_str()).await
    {
        let received = Arc::new(received);
        state.store.put(spec.key.as_str(), received.clone());
        // A client asking for a fresh answer (no-cache) gets the peer's copy only once GitHub
        // confirms it, whatever the policy.
        if !spec.force_revalidate && state.fresh_for(&received, fp, state.clock.now_ms()) {
            return Ok(Arc::new(Fetched {
                entry: received,
                mode: Mode::Peer,
            }));
        }
        cached = Some(received);
    }
    let mut headers = response::forward_headers(req.headers);
    let mut recomputed_etag = false;
    if let Some(c) = cached.as_deref().filter(|_| spec.graphql.is_none()) {
        if c.token_fp == fp {
            set_header(&mut headers, header::IF_NONE_MATCH, c.etag.as_deref());
            set_header(&mut headers, header::IF_MODIFIED_SINCE, c.last_modified.as_deref());
        } else if c.etag.is_some() && !state.etag_health.broken() {
            // Another token's entry: only an ETag computed for *this* token proves GitHub would
            // send it this body.
            let mine = github_etag(etag_inputs(req.headers), &c.body);
            set_header(&mut headers, header::IF_NONE_MATCH, Some(&mine));
            recomputed_etag = true;
        } else if crate::etag_health::same_for_every_reader(req.path) {
            // GitHub stopped accepting recomputed ETags: fall back to If-Modified-Since, but only
            // where the answer cannot differ between readers (never /user, never /repos/O/R
            // with its per-user permissions), or a 304 could confirm someone else's view.
            set_header(&mut headers, header::IF_MODIFIED_SINCE, c.last_modified.as_deref());
        }
    }
    // Indicators are read *before* the answer is fetched: a change between the two then shows
    // as a difference later (a refetch), never as a change the baseline already contains.
    let indicated = spec
        .graphql
        .as_ref()
        .filter(|g| g.indicators_cover && state.config.graphql_indicators);
    let validators = match (indicated, spec.tags.get(1)) {
        (Some(_), Some(repo)) => crate::indicators::baseline(state, req.headers, repo)
            .await
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let (method, body) = if spec.graphql.is_some() {
        (Method::POST, req.body.clone())
    } else {
        (Method::GET, Bytes::new())
    };
    let sent_at = state.clock.now_ms();
    let result = state
        .governor
        .run(
            fp,
            Kind::Read,
            resource_of(req.path),
            || state.clock.now_ms() / 1000,
            || state.send_upstream(method.clone(), req.path, req.query, headers.clone(), body.clone()),
        )
        .await;
    let resp = match result {
        Ok(resp) if !failing(&resp) => resp,
        failed => {
            // Stale-if-error: GitHub is failing or refusing; a recent enough copy keeps the job going.
            if let Some(c) = cached.as_ref().filter(|c| state.stale_ok(c, fp, state.clock.now_ms())) {
                tracing::warn!(path = req.path, "upstream failing; serving a stale entry");
                return Ok(Arc::new(Fetched {
                    entry: c.clone(),
                    mode: Mode::Stale,
                }));
            }
            failed?
        }
    };
    if recomputed_etag && let Some(c) = cached.as_deref() {
        state.etag_health.observe(
            resp.status == StatusCode::NOT_MODIFIED,
            resp.status == StatusCode::OK && resp.body == c.body,
        );
    }
    if resp.status == StatusCode::NOT_MODIFIED
        && let Some(c) = cached
    {
        let mut renewed = (*c).clone();
        renewed.fetched_at_ms = sent_at;
        let from_peer = c.token_fp == Fingerprint::PEER;
        if from_peer && recomputed_etag {
            // GitHub confirmed this token's own ETag for the peer's body: from now on the entry
            // is this token's, revalidated with that ETag.
            renewed.token_fp = fp;
            renewed.etag = Some(github_etag(etag_inputs(req.headers), &c.body));
        }
        let renewed = Arc::new(renewed);
        state.store.put(spec.key.as_str(), renewed.clone());
        return Ok(Arc::new(Fetched {
            entry: renewed,
            mode: if from_peer { Mode::Peer } else { Mode::Revalidated },
        }));
    }
    let cacheable = is_cacheable(&resp, spec.graphql.is_some());
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
        request_accept: req
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        tags: spec.tags.clone(),
        validators,
    });
    if cacheable {
        state.store_fetched(spec.key.as_str(), entry.clone());
    }
    Ok(Arc::new(Fetched {
        entry,
        mode: Mode::Miss,
    }))
}

/// A fresh entry served without asking GitHub: a peer's (trust policy) or our own.
fn hit_mode(entry: &StoredResponse) -> Mode {
    if entry.token_fp == Fingerprint::PEER {
        Mode::Peer
    } else {
        Mode::Hit
    }
}

/// GitHub failing (5xx) or refusing for rate limits (403/429 with limit headers).
fn failing(resp: &UpstreamResponse) -> bool {
    let limited = (resp.status == StatusCode::FORBIDDEN || resp.status == StatusCode::TOO_MANY_REQUESTS)
        && (resp.headers.contains_key(header::RETRY_AFTER)
            || resp
                .headers
                .get("x-ratelimit-remaining")
                .is_some_and(|v| v.as_bytes() == b"0"));
    resp.status.is_server_error() || limited
}

fn set_header(headers: &mut HeaderMap, name: header::HeaderName, value: Option<&str>) {
    if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(name, v);
    }
}

/// Only complete, successful, cookie-free answers are stored; GraphQL answers carrying
/// `errors` (including GitHub's over-limit 200) are not.
fn is_cacheable(resp: &UpstreamResponse, graphql: bool) -> bool {
    resp.status == StatusCode::OK
        && !resp.headers.contains_key(header::SET_COOKIE)
        && !(graphql && memchr::memmem::find(&resp.body, b"\"errors\"").is_some())
}
