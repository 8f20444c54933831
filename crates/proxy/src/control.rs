//! Control endpoints under `/_cache/` (same socket and listener as the API).

use crate::errors::github_error;
use crate::state::State;
use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use std::sync::Arc;

const KNOWN: &str = "GET /_cache/health, GET /_cache/stats, POST /_cache/finish";

pub async fn handle(state: &Arc<State>, method: &Method, path: &str) -> Response {
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
        // Flush everything to disk and report; publishing to peers and IPFS joins this later.
        ("POST", "/_cache/finish") => {
            state.flush().await;
            Json(state.stats()).into_response()
        }
        (_, "/_cache/health" | "/_cache/stats" | "/_cache/finish") => github_error(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("method {method} not allowed on {path}; known: {KNOWN}"),
        ),
        _ => github_error(
            StatusCode::NOT_FOUND,
            &format!("unknown control endpoint {path}; known: {KNOWN}"),
        ),
    }
}
