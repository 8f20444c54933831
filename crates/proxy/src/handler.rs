//! The request path: control endpoints, then classification, then the read path (cache) or the
//! pass-through path, then the finishing touches for the listener the request came in on.

use crate::classify::{Class, classify, normalize_path};
use crate::control;
use crate::errors::github_error;
use crate::governor::GovernedError;
use crate::read::{ReadRequest, read};
use crate::response::{self, Finish};
use crate::state::State;
use crate::stats::Mode;
use crate::upstream::UpstreamError;
use crate::write::pass_through;
use axum::Router;
use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Method, Request, StatusCode, header};
use std::sync::Arc;
use std::time::Instant;

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
        return control::handle(&state, &parts.method, &path, &parts.uri, body).await;
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
    let class = classify(&parts.method, &path, query, &parts.headers, &body, &state.config.ttl);
    let result = match class {
        Class::Read(spec) => {
            let req = ReadRequest {
                headers: &parts.headers,
                path: &path,
                query,
                body: &body,
            };
            read(&state, &req, &spec).await
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
        upstream_base,
        rewrites: &state.rewrites,
    };
    match result {
        Ok(answer) => {
            let (mode, len) = (answer.mode, answer.body.len());
            let resp = response::build(answer, &finish);
            state.stats.record(mode, resp.status(), len, started.elapsed());
            resp
        }
        Err(e) => {
            let mut resp = match &e {
                GovernedError::Blocked(wait) => {
                    let mut r = github_error(
                        StatusCode::TOO_MANY_REQUESTS,
                        &format!(
                            "gh-p2p-cache: this token's GitHub rate limit is exhausted; retry in {} s (no cached copy to serve)",
                            wait.as_secs().max(1)
                        ),
                    );
                    if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
                        r.headers_mut().insert(header::RETRY_AFTER, v);
                    }
                    r
                }
                GovernedError::Upstream(UpstreamError::Timeout(..)) => {
                    github_error(StatusCode::GATEWAY_TIMEOUT, &format!("gh-p2p-cache: {e}"))
                }
                GovernedError::Upstream(_) => github_error(StatusCode::BAD_GATEWAY, &format!("gh-p2p-cache: {e}")),
            };
            tracing::warn!(error = %e, path, "upstream failed");
            resp.headers_mut().insert("x-cache", HeaderValue::from_static("MISS"));
            state.stats.record(Mode::Miss, resp.status(), 0, started.elapsed());
            resp
        }
    }
}
