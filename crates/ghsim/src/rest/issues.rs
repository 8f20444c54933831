//! Issue and issue-comment endpoints: list (filters, sort, pages), get, create, update,
//! comments list and create.

use std::collections::HashMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use serde_json::{Map, Value, json};

use super::{ApiError, ApiResult, Ctx, Paging, Reply, parse_object, readable_repo};
use crate::model::{Issue, IssuePatch, IssueState, Model, NewIssue, RepoIdx};
use crate::render::{comment_json, issue_json};
use crate::state::{SimState, lock};
use crate::time::Timestamp;

const DOCS_CREATE: &str = "https://docs.github.com/rest/issues/issues#create-an-issue";
const DOCS_UPDATE: &str = "https://docs.github.com/rest/issues/issues#update-an-issue";
const DOCS_COMMENT: &str = "https://docs.github.com/rest/issues/comments#create-an-issue-comment";

fn number(s: &str) -> Result<u64, ApiError> {
    s.parse().map_err(|_| ApiError::not_found())
}

pub async fn list(
    State(st): State<SimState>,
    Extension(ctx): Extension<Ctx>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> ApiResult {
    let model = lock(&st.shared().model);
    let r = &model.repos[readable_repo(&model, &ctx.caller, &owner, &repo)?];
    let state = q.get("state").map_or("open", String::as_str);
    let labels: Vec<&str> = q
        .get("labels")
        .map(|l| l.split(',').map(str::trim).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let since = q.get("since").and_then(|s| Timestamp::parse_iso(s));
    let creator = q.get("creator");
    let assignee = q.get("assignee").map(String::as_str);
    let mut items: Vec<&Issue> = r
        .issues
        .iter()
        .filter(|i| match state {
            "closed" => i.state == IssueState::Closed,
            "all" => true,
            _ => i.state == IssueState::Open,
        })
        .filter(|i| {
            labels
                .iter()
                .all(|l| i.labels.iter().any(|x| x.eq_ignore_ascii_case(l)))
        })
        .filter(|i| since.is_none_or(|s| i.updated_at >= s))
        .filter(|i| creator.is_none_or(|c| c.eq_ignore_ascii_case(&i.user)))
        .filter(|i| match assignee {
            None => true,
            Some("*") => !i.assignees.is_empty(),
            Some("none") => i.assignees.is_empty(),
            Some(a) => i.assignees.iter().any(|x| x.eq_ignore_ascii_case(a)),
        })
        .collect();
    let sort = q.get("sort").map_or("created", String::as_str);
    items.sort_by(|a, b| {
        let ord = match sort {
            "updated" => a.updated_at.cmp(&b.updated_at),
            "comments" => a.comments.len().cmp(&b.comments.len()),
            _ => a.created_at.cmp(&b.created_at),
        };
        ord.then(a.number.cmp(&b.number))
    });
    if q.get("direction").map(String::as_str) != Some("asc") {
        items.reverse();
    }
    let (page, link) = Paging::from_query(&q).apply(items, &ctx, &uri);
    let body = page
        .iter()
        .map(|i| issue_json(&ctx.urls, &model, r, i, false))
        .collect();
    Ok(Reply::ok(Value::Array(body)).modified(r.issues_updated_at).link(link))
}

pub async fn get(
    State(st): State<SimState>,
    Extension(ctx): Extension<Ctx>,
    Path((owner, repo, n)): Path<(String, String, String)>,
) -> ApiResult {
    let model = lock(&st.shared().model);
    let r = &model.repos[readable_repo(&model, &ctx.caller, &owner, &repo)?];
    let issue = r.issue(number(&n)?).ok_or_else(ApiError::not_found)?;
    Ok(Reply::ok(issue_json(&ctx.urls, &model, r, issue, true)).modified(issue.updated_at))
}

/// Strings, or objects with a `name` (GitHub accepts both for labels).
fn names(v: Option<&Value>) -> Option<Vec<String>> {
    let arr = v?.as_array()?;
    Some(
        arr.iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("name").and_then(Value::as_str).map(str::to_owned),
                _ => None,
            })
            .collect(),
    )
}

/// Labels are created on the fly and assignees kept only for collaborators; GitHub silently
/// drops both for everyone else.
fn labels_and_assignees(
    model: &mut Model,
    ri: RepoIdx,
    push: bool,
    obj: &Map<String, Value>,
) -> (Option<Vec<String>>, Option<Vec<String>>) {
    let labels = names(obj.get("labels")).map(|ls| {
        if push {
            ls.iter().map(|l| model.ensure_label(ri, l)).collect()
        } else {
            Vec::new()
        }
    });
    let mut assignees = names(obj.get("assignees"));
    if let Some(Value::String(a)) = obj.get("assignee") {
        assignees.get_or_insert_with(Vec::new).insert(0, a.clone());
    }
    let assignees = assignees.map(|a| {
        a.into_iter()
            .filter(|l| push && model.user(l).is_some())
            .collect::<Vec<_>>()
    });
    (labels, assignees)
}

fn title_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        // GitHub accepts a number as a title
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub async fn create(
    State(st): State<SimState>,
    Extension(ctx): Extension<Ctx>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let login = ctx.caller.login.clone().ok_or_else(ApiError::requires_auth)?;
    let mut model = lock(&st.shared().model);
    let ri = readable_repo(&model, &ctx.caller, &owner, &repo)?;
    let obj = parse_object(&body, DOCS_CREATE)?;
    let title = title_of(obj.get("title")).ok_or_else(|| ApiError::missing_field("Issue", "title", DOCS_CREATE))?;
    let push = ctx.caller.can_push(&model.repos[ri]);
    let (labels, assignees) = labels_and_assignees(&mut model, ri, push, &obj);
    let new = NewIssue {
        title,
        body: obj.get("body").and_then(Value::as_str).map(str::to_owned),
        labels: labels.unwrap_or_default(),
        assignees: assignees.unwrap_or_default(),
    };
    let n = model.create_issue(ri, &login, new);
    let r = &model.repos[ri];
    let issue = r.issue(n).expect("just created");
    let body = issue_json(&ctx.urls, &model, r, issue, true);
    let location = body["url"].as_str().unwrap_or_default().to_owned();
    Ok(Reply::created(body, location).modified(issue.updated_at))
}

pub async fn update(
    State(st): State<SimState>,
    Extension(ctx): Extension<Ctx>,
    Path((owner, repo, n)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let login = ctx.caller.login.clone().ok_or_else(ApiError::requires_auth)?;
    let mut model = lock(&st.shared().model);
    let ri = readable_repo(&model, &ctx.caller, &owner, &repo)?;
    let n = number(&n)?;
    let author = model.repos[ri].issue(n).ok_or_else(ApiError::not_found)?.user.clone();
    let obj = parse_object(&body, DOCS_UPDATE)?;
    let push = ctx.caller.can_push(&model.repos[ri]);
    if !push && !author.eq_ignore_ascii_case(&login) {
        return Err(ApiError::no_push_access());
    }
    let invalid = |field: &str| {
        ApiError::validation(
            json!([{"resource": "Issue", "code": "invalid", "field": field}]),
            DOCS_UPDATE,
        )
    };
    let title = match obj.get("title") {
        None => None,
        Some(v) => Some(title_of(Some(v)).ok_or_else(|| invalid("title"))?),
    };
    let state = match obj.get("state").map(|v| v.as_str()) {
        None => None,
        Some(Some("open")) => Some(IssueState::Open),
        Some(Some("closed")) => Some(IssueState::Closed),
        Some(_) => return Err(invalid("state")),
    };
    let (labels, assignees) = labels_and_assignees(&mut model, ri, push, &obj);
    let patch = IssuePatch {
        title,
        body: obj.get("body").map(|b| b.as_str().map(str::to_owned)),
        state,
        state_reason: obj.get("state_reason").and_then(Value::as_str).map(str::to_owned),
        labels,
        assignees,
    };
    model.update_issue(ri, n, &login, patch);
    let r = &model.repos[ri];
    let issue = r.issue(n).expect("exists");
    Ok(Reply::ok(issue_json(&ctx.urls, &model, r, issue, true)).modified(issue.updated_at))
}

pub async fn list_comments(
    State(st): State<SimState>,
    Extension(ctx): Extension<Ctx>,
    Path((owner, repo, n)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> ApiResult {
    let model = lock(&st.shared().model);
    let r = &model.repos[readable_repo(&model, &ctx.caller, &owner, &repo)?];
    let issue = r.issue(number(&n)?).ok_or_else(ApiError::not_found)?;
    let since = q.get("since").and_then(|s| Timestamp::parse_iso(s));
    let items: Vec<_> = issue
        .comments
        .iter()
        .filter(|c| since.is_none_or(|s| c.updated_at >= s))
        .collect();
    let (page, link) = Paging::from_query(&q).apply(items, &ctx, &uri);
    let body = page
        .iter()
        .map(|c| comment_json(&ctx.urls, &model, r, issue, c))
        .collect();
    // The issue's updated_at moves with every new comment, so it bounds the list's age.
    Ok(Reply::ok(Value::Array(body)).modified(issue.updated_at).link(link))
}

pub async fn create_comment(
    State(st): State<SimState>,
    Extension(ctx): Extension<Ctx>,
    Path((owner, repo, n)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let login = ctx.caller.login.clone().ok_or_else(ApiError::requires_auth)?;
    let mut model = lock(&st.shared().model);
    let ri = readable_repo(&model, &ctx.caller, &owner, &repo)?;
    let n = number(&n)?;
    model.repos[ri].issue(n).ok_or_else(ApiError::not_found)?;
    let obj = parse_object(&body, DOCS_COMMENT)?;
    let text = obj
        .get("body")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::missing_field("IssueComment", "body", DOCS_COMMENT))?;
    let id = model.add_comment(ri, n, &login, text).expect("issue exists");
    let r = &model.repos[ri];
    let issue = r.issue(n).expect("exists");
    let c = issue.comments.iter().find(|c| c.id == id).expect("just added");
    let body = comment_json(&ctx.urls, &model, r, issue, c);
    let location = body["url"].as_str().unwrap_or_default().to_owned();
    Ok(Reply::created(body, location).modified(c.updated_at))
}
