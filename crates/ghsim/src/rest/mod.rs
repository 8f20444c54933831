//! The REST API: the route table, the reply and error types every handler returns, and the
//! pagination (`per_page`, `page`, `Link`) they share. Auth, limits, ETags and headers are
//! applied around these handlers by `pipeline`.

mod issues;
mod repos;

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::model::{Model, RepoIdx};
use crate::render::Urls;
use crate::state::SimState;
use crate::time::Timestamp;

pub(crate) const DOCS: &str = "https://docs.github.com/rest";

/// Per-request facts the pipeline hands to handlers.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub caller: Caller,
    pub urls: Urls,
    /// `http://{Host}` followed by the request path, for `Link` headers.
    pub request_base: String,
}

/// The API routes, with the configured prefix in front of every REST path.
pub(crate) fn routes(state: &SimState) -> Router<SimState> {
    let p = &state.config().prefix;
    let r = |path: &str| format!("{p}{path}");
    Router::new()
        .route(&r("/repos/{owner}/{repo}"), get(repos::get_repo))
        .route(
            &r("/repos/{owner}/{repo}/issues"),
            get(issues::list).post(issues::create),
        )
        .route(
            &r("/repos/{owner}/{repo}/issues/{number}"),
            get(issues::get).patch(issues::update),
        )
        .route(
            &r("/repos/{owner}/{repo}/issues/{number}/comments"),
            get(issues::list_comments).post(issues::create_comment),
        )
        .route(
            &r("/repos/{owner}/{repo}/labels"),
            get(repos::list_labels).post(repos::create_label),
        )
        .route(&r("/repos/{owner}/{repo}/labels/{name}"), get(repos::get_label))
        .route(&r("/users/{login}"), get(repos::get_user))
        .route(&r("/user"), get(repos::get_authenticated_user))
        .route(&r("/search/issues"), get(repos::search_issues))
        .route(&r("/rate_limit"), get(repos::rate_limit))
        .route(&state.shared().graphql_path, post(crate::graphql::handle))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// A successful JSON answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub last_modified: Option<Timestamp>,
    pub link: Option<String>,
    pub location: Option<String>,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Reply {
            status: StatusCode::OK,
            body,
            last_modified: None,
            link: None,
            location: None,
        }
    }

    pub fn created(body: Value, location: String) -> Self {
        Reply {
            status: StatusCode::CREATED,
            location: Some(location),
            ..Reply::ok(body)
        }
    }

    pub fn modified(mut self, t: Timestamp) -> Self {
        self.last_modified = Some(t);
        self
    }

    pub fn link(mut self, link: Option<String>) -> Self {
        self.link = link;
        self
    }
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).expect("json values serialize");
    let mut resp = (status, Bytes::from(bytes)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut resp = json_response(self.status, &self.body);
        let h = resp.headers_mut();
        for (name, value) in [
            (header::LAST_MODIFIED, self.last_modified.map(|t| t.http_date())),
            (header::LINK, self.link),
            (header::LOCATION, self.location),
        ] {
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                h.insert(name, v);
            }
        }
        resp
    }
}

/// An error answered the way GitHub does: a status and `{"message", "documentation_url", ...}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, message: &str, docs: &str) -> Self {
        ApiError {
            status,
            body: json!({"message": message, "documentation_url": docs}),
        }
    }

    /// Also what a private repository looks like to someone without access.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found", DOCS)
    }

    pub fn bad_credentials() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Bad credentials", DOCS)
    }

    pub fn requires_auth() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Requires authentication", DOCS)
    }

    pub fn bad_json(docs: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Problems parsing JSON", docs)
    }

    pub fn validation(errors: Value, docs: &str) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({"message": "Validation Failed", "errors": errors, "documentation_url": docs}),
        }
    }

    pub fn missing_field(resource: &str, field: &str, docs: &str) -> Self {
        Self::validation(
            json!([{"resource": resource, "code": "missing_field", "field": field}]),
            docs,
        )
    }

    pub fn no_push_access() -> Self {
        Self::new(StatusCode::FORBIDDEN, "Must have admin rights to Repository.", DOCS)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

pub type ApiResult = Result<Reply, ApiError>;

/// The repository `owner/name` if `caller` may read it; 404 otherwise, never 403, so private
/// repositories cannot be told apart from missing ones.
pub(crate) fn readable_repo(model: &Model, caller: &Caller, owner: &str, name: &str) -> Result<RepoIdx, ApiError> {
    model
        .repo_idx(owner, name)
        .filter(|&i| caller.can_read(&model.repos[i]))
        .ok_or_else(ApiError::not_found)
}

/// Parses a request body as a JSON object (GitHub: 400 `Problems parsing JSON` otherwise).
pub(crate) fn parse_object(body: &[u8], docs: &str) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ApiError::bad_json(docs)),
    }
}

/// `per_page` (default 30, at most 100) and `page` (from 1).
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub per_page: usize,
    pub page: usize,
}

impl Paging {
    pub fn from_query(q: &HashMap<String, String>) -> Self {
        let num = |k: &str| q.get(k).and_then(|v| v.trim().parse::<usize>().ok());
        Paging {
            // 0 or garbage means the default, as on GitHub; more than 100 means 100.
            per_page: num("per_page").filter(|&n| n > 0).unwrap_or(30).min(100),
            page: num("page").unwrap_or(1).max(1),
        }
    }

    /// The items of this page and the `Link` header for the whole list.
    pub fn apply<T>(&self, items: Vec<T>, ctx: &Ctx, uri: &Uri) -> (Vec<T>, Option<String>) {
        let total = items.len();
        let last = total.div_ceil(self.per_page).max(1);
        let link = link_header(&ctx.request_base, uri, self.page, last);
        let page = items
            .into_iter()
            .skip((self.page - 1) * self.per_page)
            .take(self.per_page)
            .collect();
        (page, link)
    }
}

/// GitHub's order: prev, next, last, first; absolute URLs keeping the other query parameters.
fn link_header(base: &str, uri: &Uri, page: usize, last: usize) -> Option<String> {
    let kept: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty() && kv.split('=').next() != Some("page"))
        .collect();
    let url = |n: usize| {
        let mut q = kept.join("&");
        if !q.is_empty() {
            q.push('&');
        }
        format!("<{base}{}?{q}page={n}>", uri.path())
    };
    let mut rels = Vec::new();
    if page > 1 {
        rels.push(format!("{}; rel=\"prev\"", url(page.min(last + 1) - 1)));
    }
    if page < last {
        rels.push(format!("{}; rel=\"next\"", url(page + 1)));
        rels.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        rels.push(format!("{}; rel=\"first\"", url(1)));
    }
    (!rels.is_empty()).then(|| rels.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_shapes() {
        let uri: Uri = "/repos/o/r/issues?state=all&page=2&per_page=10".parse().unwrap();
        let l = link_header("http://h", &uri, 2, 4).unwrap();
        assert_eq!(
            l,
            "<http://h/repos/o/r/issues?state=all&per_page=10&page=1>; rel=\"prev\", \
             <http://h/repos/o/r/issues?state=all&per_page=10&page=3>; rel=\"next\", \
             <http://h/repos/o/r/issues?state=all&per_page=10&page=4>; rel=\"last\", \
             <http://h/repos/o/r/issues?state=all&per_page=10&page=1>; rel=\"first\""
        );
        let uri: Uri = "/x".parse().unwrap();
        assert_eq!(link_header("http://h", &uri, 1, 1), None);
        assert_eq!(
            link_header("http://h", &uri, 1, 2).unwrap(),
            "<http://h/x?page=2>; rel=\"next\", <http://h/x?page=2>; rel=\"last\""
        );
    }
}
