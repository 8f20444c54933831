//! The simulator's own endpoints under `/_sim/` (outside any prefix, never counted or charged):
//! stats, stats reset, and run-time fault settings.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::faults::Faults;
use crate::state::SimState;

pub(crate) fn routes() -> Router<SimState> {
    Router::new()
        .route("/_sim/stats", get(stats))
        .route("/_sim/reset-stats", post(reset_stats))
        .route("/_sim/faults", get(get_faults).post(set_faults).delete(clear_faults))
}

async fn stats(State(st): State<SimState>) -> Response {
    Json(st.stats()).into_response()
}

async fn reset_stats(State(st): State<SimState>) -> StatusCode {
    st.reset_stats();
    StatusCode::NO_CONTENT
}

async fn get_faults(State(st): State<SimState>) -> Response {
    Json(st.faults()).into_response()
}

/// Replaces the fault settings; answers with what is now in force.
async fn set_faults(State(st): State<SimState>, body: Bytes) -> Response {
    let faults: Faults = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => {
            let msg = format!("invalid faults: {e}");
            return (StatusCode::BAD_REQUEST, Json(json!({ "message": msg }))).into_response();
        }
    };
    if let Err(e) = faults.validate() {
        return (StatusCode::BAD_REQUEST, Json(json!({ "message": e }))).into_response();
    }
    st.set_faults(faults);
    Json(st.faults()).into_response()
}

async fn clear_faults(State(st): State<SimState>) -> StatusCode {
    st.clear_faults();
    StatusCode::NO_CONTENT
}
