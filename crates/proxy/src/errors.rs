//! Error answers shaped like GitHub's own (`{"message", "documentation_url"}`), so clients
//! that parse GitHub errors show ours sensibly.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

const DOCS: &str = "https://docs.github.com/rest";

pub fn github_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "message": message, "documentation_url": DOCS });
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}
