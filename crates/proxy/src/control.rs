//! Control endpoints under `/_cache/` (same socket and listener as the API).

use crate::errors::github_error;
use crate::state::State;
use axum::Json;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, Uri, header};
use serde::Deserialize;
use std::sync::Arc;

const KNOWN: &str = "GET /_cache/health, GET /_cache/stats, GET /_cache/metrics, GET /_cache/peers, \
                     POST /_cache/claims, POST /_cache/invalidate, POST /_cache/clean, POST /_cache/clear, \
                     POST /_cache/finish";
const MAX_CONTROL_BODY: usize = 64 * 1024;

/// `POST /_cache/invalidate` body (or the same names as query parameters).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvalidateRequest {
    /// One entry: its full key, or `GET /path?query` (what comes before ` accept=`).
    pub key: Option<String>,
    /// Every entry whose key, or whose path, starts with this.
    pub prefix: Option<String>,
}

pub async fn handle(state: &Arc<State>, method: &Method, path: &str, uri: &Uri, body: Body) -> Response {
    match (method.as_str(), path.trim_end_matches('/')) {
        ("GET", "/_cache/health") => match state.store.check() {
            Ok(()) => Json(serde_json::json!({ "status": "ok" })).into_response(),
            Err(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "degraded", "store": e })),
            )
                .into_response(),
        },
        ("GET", "/_cache/stats") => Json(state.stats()).into_response(),
        ("GET", "/_cache/peers") => Json(match state.peers() {
            Some(peers) => peers.describe(),
            None => serde_json::json!({ "enabled": false, "reason": state.peers_off_reason() }),
        })
        .into_response(),
        ("GET", "/_cache/metrics") => {
            let mut resp = crate::metrics::render(state).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            resp
        }
        ("POST", "/_cache/claims") => claims(state, body).await,
        ("POST", "/_cache/invalidate") => invalidate(state, uri, body).await,
        ("POST", "/_cache/clean") => clean(state, body).await,
        ("POST", "/_cache/clear") => {
            let removed = state.store.remove_where(|_, _| true).await;
            Json(serde_json::json!({ "removed": removed })).into_response()
        }
        // Flush everything to disk, run the publishing hooks (peers, IPFS) and report.
        ("POST", "/_cache/finish") => {
            state.finish().await;
            Json(state.stats()).into_response()
        }
        (
            _,
            "/_cache/health" | "/_cache/stats" | "/_cache/metrics" | "/_cache/peers" | "/_cache/claims"
            | "/_cache/invalidate" | "/_cache/clean" | "/_cache/clear" | "/_cache/finish",
        ) => github_error(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("method {method} not allowed on {path}; known: {KNOWN}"),
        ),
        _ => github_error(
            StatusCode::NOT_FOUND,
            &format!("unknown control endpoint {path}; known: {KNOWN}"),
        ),
    }
}

async fn claims(state: &Arc<State>, body: Body) -> Response {
    let Some(board) = state.claims().cloned() else {
        return github_error(StatusCode::SERVICE_UNAVAILABLE, "this daemon keeps no claim board");
    };
    let bytes = match axum::body::to_bytes(body, MAX_CONTROL_BODY).await {
        Ok(b) => b,
        Err(_) => return github_error(StatusCode::PAYLOAD_TOO_LARGE, "claims body over 64 KiB"),
    };
    let request: crate::peers::ClaimRequest = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            return github_error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "claims body is not {{\"op\": \"claim\"|\"resolve\"|\"abandon\", \"key\": ..., \"holder\": ...}}: {e}"
                ),
            );
        }
    };
    let key = match &request {
        crate::peers::ClaimRequest::Claim { key, .. }
        | crate::peers::ClaimRequest::Resolve { key, .. }
        | crate::peers::ClaimRequest::Abandon { key, .. } => key,
    };
    if key.is_empty() || key.len() > 256 {
        return github_error(StatusCode::UNPROCESSABLE_ENTITY, "claim key must be 1 to 256 bytes");
    }
    Json(board.call(request).await).into_response()
}

async fn invalidate(state: &Arc<State>, uri: &Uri, body: Body) -> Response {
    let bytes = match axum::body::to_bytes(body, MAX_CONTROL_BODY).await {
        Ok(b) => b,
        Err(_) => return github_error(StatusCode::PAYLOAD_TOO_LARGE, "invalidate body over 64 KiB"),
    };
    let parsed: Result<InvalidateRequest, String> = if bytes.iter().all(u8::is_ascii_whitespace) {
        serde_urlencoded_like(uri.query().unwrap_or(""))
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| format!("invalidate body is not {{\"key\": ...}} or {{\"prefix\": ...}}: {e}"))
    };
    let req = match parsed {
        Ok(r) => r,
        Err(e) => return github_error(StatusCode::BAD_REQUEST, &e),
    };
    let removed = match (req.key.as_deref(), req.prefix.as_deref()) {
        (Some(k), None) if !k.is_empty() => {
            let k = k.to_owned();
            state
                .store
                .remove_where(move |key, _| key == k || key_request_line(key) == k)
                .await
        }
        (None, Some(p)) if !p.is_empty() => {
            let p = p.to_owned();
            state
                .store
                .remove_where(move |key, _| key.starts_with(&p) || key_path(key).starts_with(&p))
                .await
        }
        _ => {
            return github_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "give exactly one non-empty `key` or `prefix`",
            );
        }
    };
    Json(serde_json::json!({ "invalidated": removed })).into_response()
}

/// `POST /_cache/clean` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CleanRequest {
    /// Entries fetched (or last revalidated) longer ago than this are removed.
    older_than_secs: u64,
}

async fn clean(state: &Arc<State>, body: Body) -> Response {
    let bytes = match axum::body::to_bytes(body, MAX_CONTROL_BODY).await {
        Ok(b) => b,
        Err(_) => return github_error(StatusCode::PAYLOAD_TOO_LARGE, "clean body over 64 KiB"),
    };
    let req: CleanRequest = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            return github_error(
                StatusCode::BAD_REQUEST,
                &format!("clean body is not {{\"older_than_secs\": N}}: {e}"),
            );
        }
    };
    let cutoff = state
        .clock
        .now_ms()
        .saturating_sub(req.older_than_secs.saturating_mul(1000));
    let removed = state
        .store
        .remove_where(move |_, entry| entry.fetched_at_ms < cutoff)
        .await;
    Json(serde_json::json!({ "removed": removed })).into_response()
}

/// `GET /repos/o/r?x=1 accept=*/*` → `GET /repos/o/r?x=1`.
fn key_request_line(key: &str) -> &str {
    key.split(" accept=").next().unwrap_or(key)
}

/// `GET /repos/o/r?x=1 accept=*/*` → `/repos/o/r?x=1 accept=*/*`.
fn key_path(key: &str) -> &str {
    key.split_once(' ').map(|(_, rest)| rest).unwrap_or(key)
}

/// `key=...` / `prefix=...` from a query string, percent-decoded.
fn serde_urlencoded_like(query: &str) -> Result<InvalidateRequest, String> {
    let mut req = InvalidateRequest::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v).ok_or_else(|| format!("bad percent-encoding in {pair:?}"))?;
        match k {
            "key" => req.key = Some(v),
            "prefix" => req.prefix = Some(v),
            other => return Err(format!("unknown parameter {other:?}; use key or prefix")),
        }
    }
    Ok(req)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_parts() {
        assert_eq!(key_request_line("GET /repos/o/r?a=1 accept=*/*"), "GET /repos/o/r?a=1");
        assert_eq!(key_path("GET /repos/o/r accept=*/*"), "/repos/o/r accept=*/*");
    }

    #[test]
    fn query_parameters() {
        let r = serde_urlencoded_like("prefix=%2Frepos%2Fo").unwrap();
        assert_eq!(r.prefix.as_deref(), Some("/repos/o"));
        assert!(serde_urlencoded_like("bogus=1").is_err());
        assert!(serde_urlencoded_like("key=%zz").is_err());
        assert!(serde_urlencoded_like("key=%e9").is_err(), "not UTF-8");
    }
}
