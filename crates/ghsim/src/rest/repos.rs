//! Repository, label, user, issue-search and `/rate_limit` endpoints.

use std::collections::HashMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Ctx, Paging, Reply, parse_object, readable_repo};
use crate::limits::{Resource, Snapshot};
use crate::render::{issue_json, label_json, repo_json, user_full};
use crate::search::{CannotSearch, IssueQuery, search};
use crate::state::{SimState, lock};

const DOCS_LABEL: &str = "https://docs.github.com/rest/issues/labels#create-a-label";
const DOCS_SEARCH: &str = "https://docs.github.com/rest/search/search#search-issues-and-pull-requests";

pub async fn get_repo(
    State(st): State<SimState>,
    Extension(ctx): Extension<Ctx>,
    Path((owner, repo)): Path<(String, String)>,
) -> ApiResult {
    let model = lock(&st.shared().model);
    let r = &model.repos[readable_repo(&model, &ctx.caller, &owner, &repo)?];
    Ok(Reply::ok(repo_json(&ctx.urls, &model, r, &ctx.caller)).modified(r.updated_at))
}

pub async fn list_labels(
    State(st): State<SimState>,
    Extension(ctx): Extension<Ctx>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> ApiResult {
    let model = lock(&st.shared().model);
    let r = &model.repos[readable_repo(&model, &ctx.caller, &owner, &repo)?];
    let newest = r.labels.iter().map(|l| l.created_at).max();
    let (page, link) = Paging::from_query(&q).apply(r.labels.iter().collect(), &ctx, &uri);
    let body = page.iter().map(|l| label_json(&ctx.urls, r, l)).collect();
    let reply = Reply::ok(Value::Array(body)).link(link);
    Ok(match newest {
        Some(t) => reply.modified(t),
        None => reply,
    })
}

pub async fn get_label(
    State(st): State<SimState>,
    Extension(ctx): Extension<Ctx>,
    Path((owner, repo, name)): Path<(String, String, String)>,
) -> ApiResult {
    let model = lock(&st.shared().model);
    let r = &model.repos[readable_repo(&model, &ctx.caller, &owner, &repo)?];
    let l = r.label(&name).ok_or_else(ApiError::not_found)?;
    Ok(Reply::ok(label_json(&ctx.urls, r, l)).modified(l.created_at))
}

pub async fn create_label(
    State(st): State<SimState>,
    Extension(ctx): Extension<Ctx>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    if !ctx.caller.is_authenticated() {
        return Err(ApiError::requires_auth());
    }
    let mut model = lock(&st.shared().model);
    let ri = readable_repo(&model, &ctx.caller, &owner, &repo)?;
    if !ctx.caller.can_push(&model.repos[ri]) {
        return Err(ApiError::no_push_access());
    }
    let obj = parse_object(&body, DOCS_LABEL)?;
    let name = obj
        .get("name")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::missing_field("Label", "name", DOCS_LABEL))?;
    if model.repos[ri].label(name).is_some() {
        return Err(ApiError::validation(
            json!([{"resource": "Label", "code": "already_exists", "field": "name"}]),
            DOCS_LABEL,
        ));
    }
    let color = obj.get("color").and_then(Value::as_str).unwrap_or("ededed");
    let description = obj.get("description").and_then(Value::as_str).map(str::to_owned);
    let name = model.create_label(ri, name, color, description);
    let r = &model.repos[ri];
    let l = r.label(&name).expect("just created");
    let body = label_json(&ctx.urls, r, l);
    let location = body["url"].as_str().unwrap_or_default().to_owned();
    Ok(Reply::created(body, location).modified(l.created_at))
}

pub async fn get_user(
    State(st): State<SimState>,
    Extension(ctx): Extension<Ctx>,
    Path(login): Path<String>,
) -> ApiResult {
    let model = lock(&st.shared().model);
    let user = model.user(&login).ok_or_else(ApiError::not_found)?;
    Ok(Reply::ok(user_full(&ctx.urls, &model, user, false)).modified(user.updated_at))
}

pub async fn get_authenticated_user(State(st): State<SimState>, Extension(ctx): Extension<Ctx>) -> ApiResult {
    let login = ctx.caller.login.as_deref().ok_or_else(ApiError::requires_auth)?;
    let model = lock(&st.shared().model);
    let user = model.user(login).ok_or_else(ApiError::not_found)?;
    Ok(Reply::ok(user_full(&ctx.urls, &model, user, true)).modified(user.updated_at))
}

pub async fn search_issues(
    State(st): State<SimState>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> ApiResult {
    let Some(text) = q.get("q").filter(|t| !t.trim().is_empty()) else {
        return Err(ApiError::validation(
            json!([{"resource": "Search", "field": "q", "code": "missing"}]),
            DOCS_SEARCH,
        ));
    };
    let query = IssueQuery::parse(text);
    let model = lock(&st.shared().model);
    let ascending = q.get("order").map(String::as_str) == Some("asc");
    let hits = search(&model, &ctx.caller, &query, q.get("sort").map(String::as_str), ascending)
        .map_err(|CannotSearch| {
            ApiError::validation(
                json!([{
                    "message": "The listed users and repositories cannot be searched either because the resources do not exist or you do not have permission to view them.",
                    "resource": "Search", "field": "q", "code": "invalid",
                }]),
                DOCS_SEARCH,
            )
        })?;
    let total = hits.len();
    // GitHub serves at most the first 1000 results of a search.
    let hits: Vec<_> = hits.into_iter().take(1000).collect();
    let (page, link) = Paging::from_query(&q).apply(hits, &ctx, &uri);
    let items: Vec<Value> = page
        .iter()
        .map(|&(ri, n)| {
            let r = &model.repos[ri];
            let mut v = issue_json(&ctx.urls, &model, r, r.issue(n).expect("hit exists"), false);
            v["score"] = json!(1.0);
            v
        })
        .collect();
    let body = json!({"total_count": total, "incomplete_results": false, "items": items});
    Ok(Reply::ok(body).link(link))
}

fn bucket_json(s: &Snapshot) -> Value {
    json!({
        "limit": s.limit, "used": s.used, "remaining": s.remaining(), "reset": s.reset,
        "resource": s.resource.name(),
    })
}

/// Free, like GitHub's: the pipeline does not charge it.
pub async fn rate_limit(State(st): State<SimState>, Extension(ctx): Extension<Ctx>) -> ApiResult {
    let mut limiter = lock(&st.shared().limiter);
    let core = limiter.peek(&ctx.caller, Resource::Core);
    let search = limiter.peek(&ctx.caller, Resource::Search);
    let mut resources = json!({
        "core": bucket_json(&core),
        "search": bucket_json(&search),
    });
    if ctx.caller.is_authenticated() {
        resources["graphql"] = bucket_json(&limiter.peek(&ctx.caller, Resource::Graphql));
    }
    let body = json!({"resources": resources, "rate": bucket_json(&core)});
    Ok(Reply {
        status: StatusCode::OK,
        ..Reply::ok(body)
    })
}
