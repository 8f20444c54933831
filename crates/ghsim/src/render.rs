//! REST JSON shapes of the model's objects, close to api.github.com's. Every API URL is built
//! from the request's `Host` and the prefix, so a proxy forwarding with the simulator's Host gets
//! URLs that point back at the simulator.

use serde_json::{Value, json};

use crate::auth::Caller;
use crate::model::{Comment, Issue, Label, Model, Repo, User, UserKind};
use crate::time::Timestamp;

/// Where links in bodies point: `api` = `http://{Host}{prefix}`, `web` = `http://{Host}`.
#[derive(Debug, Clone)]
pub struct Urls {
    pub api: String,
    pub web: String,
}

fn ts(t: Timestamp) -> Value {
    Value::String(t.iso())
}

fn opt_ts(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, ts)
}

/// Stands in for a login the model does not know (cannot happen with seeded data, but a
/// custom model could name one).
fn ghost(login: &str) -> User {
    User {
        login: login.to_owned(),
        id: 10_137,
        name: None,
        kind: UserKind::User,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
    }
}

pub fn user_simple_by_login(u: &Urls, model: &Model, login: &str) -> Value {
    match model.user(login) {
        Some(user) => user_simple(u, user),
        None => user_simple(u, &ghost(login)),
    }
}

pub fn user_simple(u: &Urls, user: &User) -> Value {
    let api = format!("{}/users/{}", u.api, user.login);
    json!({
        "login": user.login,
        "id": user.id,
        "node_id": user.node_id(),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{}?v=4", user.id),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("{}/{}", u.web, user.login),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": match user.kind { UserKind::User => "User", UserKind::Organization => "Organization" },
        "user_view_type": "public",
        "site_admin": false,
    })
}

/// `GET /users/{login}`; with `private` (the caller's own `/user`) the private counters too.
pub fn user_full(u: &Urls, model: &Model, user: &User, private: bool) -> Value {
    let mut v = user_simple(u, user);
    let public_repos = model
        .repos
        .iter()
        .filter(|r| !r.private && r.owner.eq_ignore_ascii_case(&user.login))
        .count();
    let o = v.as_object_mut().expect("object");
    for (k, val) in [
        ("name", json!(user.name)),
        ("company", Value::Null),
        ("blog", json!("")),
        ("location", Value::Null),
        ("email", Value::Null),
        ("hireable", Value::Null),
        ("bio", Value::Null),
        ("twitter_username", Value::Null),
        ("public_repos", json!(public_repos)),
        ("public_gists", json!(0)),
        ("followers", json!(0)),
        ("following", json!(0)),
        ("created_at", ts(user.created_at)),
        ("updated_at", ts(user.updated_at)),
    ] {
        o.insert(k.to_owned(), val);
    }
    if private {
        for (k, val) in [
            ("private_gists", json!(0)),
            ("total_private_repos", json!(0)),
            ("owned_private_repos", json!(0)),
            ("disk_usage", json!(0)),
            ("collaborators", json!(0)),
            ("two_factor_authentication", json!(true)),
        ] {
            o.insert(k.to_owned(), val);
        }
    }
    v
}

fn repo_api(u: &Urls, repo: &Repo) -> String {
    format!("{}/repos/{}/{}", u.api, repo.owner, repo.name)
}

pub fn repo_json(u: &Urls, model: &Model, repo: &Repo, caller: &Caller) -> Value {
    let api = repo_api(u, repo);
    let open = repo.open_issues();
    let mut v = json!({
        "id": repo.id,
        "node_id": repo.node_id(),
        "name": repo.name,
        "full_name": repo.full_name(),
        "private": repo.private,
        "owner": user_simple_by_login(u, model, &repo.owner),
        "html_url": format!("{}/{}", u.web, repo.full_name()),
        "description": repo.description,
        "fork": false,
        "url": api,
        "forks_url": format!("{api}/forks"),
        "issue_comment_url": format!("{api}/issues/comments{{/number}}"),
        "issue_events_url": format!("{api}/issues/events{{/number}}"),
        "issues_url": format!("{api}/issues{{/number}}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "pulls_url": format!("{api}/pulls{{/number}}"),
        "releases_url": format!("{api}/releases{{/id}}"),
        "contents_url": format!("{api}/contents/{{+path}}"),
        "commits_url": format!("{api}/commits{{/sha}}"),
        "git_url": format!("git://{}/{}.git", u.web.trim_start_matches("http://"), repo.full_name()),
        "clone_url": format!("{}/{}.git", u.web, repo.full_name()),
        "created_at": ts(repo.created_at),
        "updated_at": ts(repo.updated_at),
        "pushed_at": ts(repo.pushed_at),
        "homepage": Value::Null,
        "size": 108,
        "stargazers_count": 42,
        "watchers_count": 42,
        "language": "Rust",
        "has_issues": true,
        "has_projects": true,
        "has_downloads": true,
        "has_wiki": true,
        "has_pages": false,
        "has_discussions": false,
        "forks_count": 7,
        "mirror_url": Value::Null,
        "archived": false,
        "disabled": false,
        "open_issues_count": open,
        "license": Value::Null,
        "allow_forking": true,
        "is_template": false,
        "web_commit_signoff_required": false,
        "topics": [],
        "visibility": if repo.private { "private" } else { "public" },
        "forks": 7,
        "open_issues": open,
        "watchers": 42,
        "default_branch": repo.default_branch,
        "network_count": 7,
        "subscribers_count": 3,
    });
    if caller.is_authenticated() {
        let push = caller.can_push(repo);
        v["permissions"] = json!({
            "admin": push, "maintain": push, "push": push, "triage": push, "pull": true,
        });
    }
    v
}

pub fn label_json(u: &Urls, repo: &Repo, label: &Label) -> Value {
    json!({
        "id": label.id,
        "node_id": label.node_id(),
        "url": format!("{}/labels/{}", repo_api(u, repo), encode_path(&label.name)),
        "name": label.name,
        "color": label.color,
        "default": label.default,
        "description": label.description,
    })
}

/// Members of the `octo` organization; decides `author_association`.
pub(crate) fn association(repo: &Repo, login: &str) -> &'static str {
    if login.eq_ignore_ascii_case(&repo.owner) {
        "OWNER"
    } else if ["octocat", "alice"].iter().any(|m| m.eq_ignore_ascii_case(login)) {
        "MEMBER"
    } else {
        "NONE"
    }
}

/// `full` adds what only `GET .../issues/{n}` carries (`closed_by`).
pub fn issue_json(u: &Urls, model: &Model, repo: &Repo, issue: &Issue, full: bool) -> Value {
    let api = format!("{}/issues/{}", repo_api(u, repo), issue.number);
    let labels: Vec<Value> = issue
        .labels
        .iter()
        .filter_map(|name| repo.label(name))
        .map(|l| label_json(u, repo, l))
        .collect();
    let assignees: Vec<Value> = issue
        .assignees
        .iter()
        .map(|a| user_simple_by_login(u, model, a))
        .collect();
    let mut v = json!({
        "url": api,
        "repository_url": repo_api(u, repo),
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": format!("{}/{}/issues/{}", u.web, repo.full_name(), issue.number),
        "id": issue.id,
        "node_id": issue.node_id(),
        "number": issue.number,
        "title": issue.title,
        "user": user_simple_by_login(u, model, &issue.user),
        "labels": labels,
        "state": issue.state.rest(),
        "locked": issue.locked,
        "assignee": assignees.first().cloned().unwrap_or(Value::Null),
        "assignees": assignees,
        "milestone": Value::Null,
        "comments": issue.comments.len(),
        "created_at": ts(issue.created_at),
        "updated_at": ts(issue.updated_at),
        "closed_at": opt_ts(issue.closed_at),
        "author_association": association(repo, &issue.user),
        "active_lock_reason": Value::Null,
        "sub_issues_summary": {"total": 0, "completed": 0, "percent_completed": 0},
        "body": issue.body,
        "reactions": reactions(&format!("{api}/reactions")),
        "timeline_url": format!("{api}/timeline"),
        "performed_via_github_app": Value::Null,
        "state_reason": issue.state_reason,
    });
    if full {
        v["closed_by"] = issue
            .closed_by
            .as_deref()
            .map_or(Value::Null, |l| user_simple_by_login(u, model, l));
    }
    v
}

pub fn comment_json(u: &Urls, model: &Model, repo: &Repo, issue: &Issue, c: &Comment) -> Value {
    let api = format!("{}/issues/comments/{}", repo_api(u, repo), c.id);
    json!({
        "url": api,
        "html_url": format!(
            "{}/{}/issues/{}#issuecomment-{}", u.web, repo.full_name(), issue.number, c.id
        ),
        "issue_url": format!("{}/issues/{}", repo_api(u, repo), issue.number),
        "id": c.id,
        "node_id": c.node_id(),
        "user": user_simple_by_login(u, model, &c.user),
        "created_at": ts(c.created_at),
        "updated_at": ts(c.updated_at),
        "author_association": association(repo, &c.user),
        "body": c.body,
        "reactions": reactions(&format!("{api}/reactions")),
        "performed_via_github_app": Value::Null,
    })
}

fn reactions(url: &str) -> Value {
    json!({
        "url": url, "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
        "confused": 0, "heart": 0, "rocket": 0, "eyes": 0,
    })
}

/// Percent-encodes a path segment (label names contain spaces).
pub fn encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
