//! Field resolvers of the object types: Repository (with its `issues` connection filters),
//! Issue, IssueComment, Label, User.

use serde_json::Value;

use super::exec::{Args, FieldError, Out};
use super::schema::{Env, Obj, connection, empty_conn, not_found, ts};
use crate::model::{Comment, Issue, IssueState, Label, Model, Repo, User, UserKind};
use crate::render::association;
use crate::time::Timestamp;

pub(super) fn repository<'m>(env: &Env<'m>, r: &'m Repo, field: &str, args: &Args<'_>) -> Result<Out<'m>, FieldError> {
    let m = env.model;
    let push = env.caller.can_push(r);
    Ok(match field {
        "id" => Out::str(r.node_id()),
        "databaseId" => Out::val(r.id),
        "name" => Out::str(r.name.clone()),
        "nameWithOwner" => Out::str(r.full_name()),
        "owner" => m.user(&r.owner).map_or(Out::Null, |u| Out::Obj(Obj::User(u))),
        "description" => Out::opt_str(r.description.clone()),
        "url" => Out::str(format!("{}/{}", env.urls.web, r.full_name())),
        "resourcePath" => Out::str(format!("/{}", r.full_name())),
        "sshUrl" => Out::str(format!(
            "git@{}:{}.git",
            env.urls.web.trim_start_matches("http://"),
            r.full_name()
        )),
        "homepageUrl" | "mirrorUrl" | "parent" | "templateRepository" | "licenseInfo" | "primaryLanguage" => Out::Null,
        "isPrivate" => Out::val(r.private),
        "visibility" => Out::str(if r.private { "PRIVATE" } else { "PUBLIC" }),
        "isFork"
        | "isArchived"
        | "isTemplate"
        | "isEmpty"
        | "isLocked"
        | "isMirror"
        | "isDisabled"
        | "hasDiscussionsEnabled"
        | "isSecurityPolicyEnabled"
        | "deleteBranchOnMerge"
        | "viewerHasStarred" => Out::val(false),
        "hasIssuesEnabled" | "hasWikiEnabled" | "hasProjectsEnabled" | "mergeCommitAllowed" | "rebaseMergeAllowed"
        | "squashMergeAllowed" | "forkingAllowed" => Out::val(true),
        "viewerPermission" => Out::str(if push { "ADMIN" } else { "READ" }),
        "viewerCanAdminister" | "viewerCanCreateProjects" | "viewerCanUpdateTopics" => Out::val(push),
        "createdAt" => ts(r.created_at),
        "updatedAt" => ts(r.updated_at),
        "pushedAt" => ts(r.pushed_at),
        "stargazerCount" => Out::val(42),
        "forkCount" => Out::val(7),
        "diskUsage" => Out::val(108),
        "defaultBranchRef" => Out::Obj(Obj::Value(
            "Ref",
            vec![
                ("name", Out::str(r.default_branch.clone())),
                ("prefix", Out::str("refs/heads/")),
                ("id", Out::str(format!("REF_kwDO{}", r.id))),
            ],
        )),
        "issue" | "issueOrPullRequest" => {
            let n = args.int("number").unwrap_or(0);
            let i = u64::try_from(n).ok().and_then(|n| r.issue(n));
            Out::Obj(Obj::Issue(
                r,
                i.ok_or_else(|| {
                    not_found(format!(
                        "Could not resolve to an issue or pull request with the number of {n}."
                    ))
                })?,
            ))
        }
        "issues" => {
            let issues = filter_issues(r, args);
            connection(
                "IssueConnection",
                "IssueEdge",
                issues.into_iter().map(|i| Obj::Issue(r, i)).collect(),
                args,
            )?
        }
        "labels" => {
            let q = args.str("query").map(|q| q.to_lowercase());
            let mut labels: Vec<&Label> = r
                .labels
                .iter()
                .filter(|l| q.as_ref().is_none_or(|q| l.name.to_lowercase().contains(q)))
                .collect();
            let order = args.get("orderBy").unwrap_or(Value::Null);
            match order.get("field").and_then(Value::as_str) {
                Some("NAME") => labels.sort_by_key(|l| l.name.to_lowercase()),
                _ => labels.sort_by_key(|l| (l.created_at, l.id)),
            }
            if order.get("direction").and_then(Value::as_str) == Some("DESC") {
                labels.reverse();
            }
            let labels = labels.into_iter().map(|l| Obj::Label(r, l)).collect();
            connection("LabelConnection", "LabelEdge", labels, args)?
        }
        "label" => {
            let name = args.str("name").unwrap_or_default();
            r.label(&name).map_or(Out::Null, |l| Out::Obj(Obj::Label(r, l)))
        }
        "assignableUsers" | "mentionableUsers" | "collaborators" => {
            let users = m
                .users
                .iter()
                .filter(|u| u.kind == UserKind::User)
                .map(Obj::User)
                .collect();
            connection("UserConnection", "UserEdge", users, args)?
        }
        "milestones" => empty_conn("MilestoneConnection", args)?,
        "projects" => empty_conn("ProjectConnection", args)?,
        "projectsV2" => empty_conn("ProjectV2Connection", args)?,
        "pullRequests" => empty_conn("PullRequestConnection", args)?,
        "issueTemplates" | "pullRequestTemplates" | "repositoryTopics" => Out::List(Vec::new()),
        _ => return Err(FieldError::Undefined),
    })
}

/// The `issues` connection's arguments: `states`, `labels`, `orderBy`, `filterBy`.
fn filter_issues<'m>(r: &'m Repo, args: &Args<'_>) -> Vec<&'m Issue> {
    let filter = args.get("filterBy").unwrap_or(Value::Null);
    // GraphQL input coercion: a single value where a list is expected is a one-item list.
    let list = |v: Option<&Value>| -> Option<Vec<String>> {
        match v? {
            Value::Array(a) => Some(a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()),
            Value::String(s) => Some(vec![s.clone()]),
            _ => None,
        }
    };
    let states = list(args.get("states").as_ref()).or_else(|| list(filter.get("states")));
    let labels = list(args.get("labels").as_ref()).or_else(|| list(filter.get("labels")));
    let s = |k: &str| filter.get(k).and_then(Value::as_str).map(str::to_owned);
    let (created_by, assignee, mentioned) = (s("createdBy"), s("assignee"), s("mentioned"));
    let since = s("since").and_then(|t| Timestamp::parse_iso(&t));
    let mut out: Vec<&Issue> = r
        .issues
        .iter()
        .filter(|i| {
            states
                .as_ref()
                .is_none_or(|st| st.iter().any(|s| (s == "OPEN") == (i.state == IssueState::Open)))
        })
        .filter(|i| {
            labels
                .as_ref()
                .is_none_or(|ls| ls.iter().any(|l| i.labels.iter().any(|x| x.eq_ignore_ascii_case(l))))
        })
        .filter(|i| created_by.as_ref().is_none_or(|c| c.eq_ignore_ascii_case(&i.user)))
        .filter(|i| match assignee.as_deref() {
            None => true,
            Some("*") => !i.assignees.is_empty(),
            Some(a) => i.assignees.iter().any(|x| x.eq_ignore_ascii_case(a)),
        })
        .filter(|i| since.is_none_or(|t| i.updated_at >= t))
        .filter(|i| {
            mentioned.as_ref().is_none_or(|m| {
                let at = format!("@{}", m.to_lowercase());
                i.body.as_deref().unwrap_or("").to_lowercase().contains(&at)
                    || i.comments.iter().any(|c| c.body.to_lowercase().contains(&at))
            })
        })
        .collect();
    let order = args.get("orderBy").unwrap_or(Value::Null);
    let field = order.get("field").and_then(Value::as_str).unwrap_or("CREATED_AT");
    out.sort_by(|a, b| {
        match field {
            "UPDATED_AT" => a.updated_at.cmp(&b.updated_at),
            "COMMENTS" => a.comments.len().cmp(&b.comments.len()),
            _ => a.created_at.cmp(&b.created_at),
        }
        .then(a.number.cmp(&b.number))
    });
    // GitHub's default order for `issues` is oldest first.
    if order.get("direction").and_then(Value::as_str) == Some("DESC") {
        out.reverse();
    }
    out
}

fn actor<'m>(m: &'m Model, login: &str) -> Out<'m> {
    m.user(login).map_or(Out::Null, |u| Out::Obj(Obj::User(u)))
}

pub(super) fn issue<'m>(
    env: &Env<'m>,
    r: &'m Repo,
    i: &'m Issue,
    field: &str,
    args: &Args<'_>,
) -> Result<Out<'m>, FieldError> {
    let m = env.model;
    let viewer = env.caller.login.as_deref().unwrap_or_default();
    Ok(match field {
        "id" => Out::str(i.node_id()),
        "databaseId" | "fullDatabaseId" => Out::val(i.id),
        "number" => Out::val(i.number),
        "title" => Out::str(i.title.clone()),
        "body" | "bodyText" => Out::str(i.body.clone().unwrap_or_default()),
        "bodyHTML" => Out::str(format!("<p>{}</p>", i.body.clone().unwrap_or_default())),
        "url" => Out::str(format!("{}/{}/issues/{}", env.urls.web, r.full_name(), i.number)),
        "resourcePath" => Out::str(format!("/{}/issues/{}", r.full_name(), i.number)),
        "state" => Out::str(if i.state == IssueState::Open { "OPEN" } else { "CLOSED" }),
        "stateReason" => Out::opt_str(i.state_reason.as_ref().map(|s| s.to_uppercase())),
        "closed" => Out::val(i.state == IssueState::Closed),
        "closedAt" => i.closed_at.map_or(Out::Null, ts),
        "createdAt" | "publishedAt" => ts(i.created_at),
        "updatedAt" => ts(i.updated_at),
        "lastEditedAt" | "milestone" | "activeLockReason" | "editor" => Out::Null,
        "author" => actor(m, &i.user),
        "authorAssociation" => Out::str(association(r, &i.user)),
        "locked" => Out::val(i.locked),
        "isPinned" | "includesCreatedEdit" => Out::val(false),
        "viewerDidAuthor" => Out::val(i.user.eq_ignore_ascii_case(viewer)),
        "viewerCanUpdate" | "viewerCanClose" | "viewerCanReopen" => {
            Out::val(env.caller.can_push(r) || i.user.eq_ignore_ascii_case(viewer))
        }
        "repository" => Out::Obj(Obj::Repo(r)),
        "reactionGroups" => Out::List(Vec::new()),
        "labels" => {
            let labels = i
                .labels
                .iter()
                .filter_map(|n| r.label(n))
                .map(|l| Obj::Label(r, l))
                .collect();
            connection("LabelConnection", "LabelEdge", labels, args)?
        }
        "assignees" | "participants" => {
            let logins: Vec<&String> = if field == "assignees" {
                i.assignees.iter().collect()
            } else {
                let mut v = vec![&i.user];
                v.extend(i.comments.iter().map(|c| &c.user));
                v.dedup();
                v
            };
            let users = logins.iter().filter_map(|l| m.user(l)).map(Obj::User).collect();
            connection("UserConnection", "UserEdge", users, args)?
        }
        "comments" => {
            let comments = i.comments.iter().map(|c| Obj::Comment(r, i, c)).collect();
            connection("IssueCommentConnection", "IssueCommentEdge", comments, args)?
        }
        "projectCards" => empty_conn("ProjectCardConnection", args)?,
        "projectItems" => empty_conn("ProjectV2ItemConnection", args)?,
        "timelineItems" => empty_conn("IssueTimelineItemsConnection", args)?,
        _ => return Err(FieldError::Undefined),
    })
}

pub(super) fn comment<'m>(
    env: &Env<'m>,
    r: &'m Repo,
    i: &'m Issue,
    c: &'m Comment,
    field: &str,
) -> Result<Out<'m>, FieldError> {
    let viewer = env.caller.login.as_deref().unwrap_or_default();
    Ok(match field {
        "id" => Out::str(c.node_id()),
        "databaseId" | "fullDatabaseId" => Out::val(c.id),
        "body" | "bodyText" => Out::str(c.body.clone()),
        "url" => Out::str(format!(
            "{}/{}/issues/{}#issuecomment-{}",
            env.urls.web,
            r.full_name(),
            i.number,
            c.id
        )),
        "author" => actor(env.model, &c.user),
        "authorAssociation" => Out::str(association(r, &c.user)),
        "createdAt" | "publishedAt" => ts(c.created_at),
        "updatedAt" => ts(c.updated_at),
        "lastEditedAt" | "minimizedReason" | "editor" => Out::Null,
        "includesCreatedEdit" | "isMinimized" => Out::val(false),
        "viewerDidAuthor" => Out::val(c.user.eq_ignore_ascii_case(viewer)),
        "reactionGroups" => Out::List(Vec::new()),
        "issue" => Out::Obj(Obj::Issue(r, i)),
        "repository" => Out::Obj(Obj::Repo(r)),
        _ => return Err(FieldError::Undefined),
    })
}

pub(super) fn label<'m>(env: &Env<'m>, r: &'m Repo, l: &'m Label, field: &str) -> Result<Out<'m>, FieldError> {
    Ok(match field {
        "id" => Out::str(l.node_id()),
        "name" => Out::str(l.name.clone()),
        "color" => Out::str(l.color.clone()),
        "description" => Out::opt_str(l.description.clone()),
        "isDefault" => Out::val(l.default),
        "url" => Out::str(format!(
            "{}/{}/labels/{}",
            env.urls.web,
            r.full_name(),
            crate::render::encode_path(&l.name)
        )),
        "createdAt" | "updatedAt" => ts(l.created_at),
        "repository" => Out::Obj(Obj::Repo(r)),
        _ => return Err(FieldError::Undefined),
    })
}

pub(super) fn user<'m>(env: &Env<'m>, u: &'m User, field: &str) -> Result<Out<'m>, FieldError> {
    Ok(match field {
        "id" => Out::str(u.node_id()),
        "databaseId" => Out::val(u.id),
        "login" => Out::str(u.login.clone()),
        "name" => Out::opt_str(u.name.clone()),
        "url" => Out::str(format!("{}/{}", env.urls.web, u.login)),
        "resourcePath" => Out::str(format!("/{}", u.login)),
        "avatarUrl" => Out::str(format!("https://avatars.githubusercontent.com/u/{}?v=4", u.id)),
        "email" | "bio" | "company" | "location" | "websiteUrl" => Out::str(""),
        "twitterUsername" | "status" => Out::Null,
        "createdAt" => ts(u.created_at),
        "updatedAt" => ts(u.updated_at),
        "isSiteAdmin" | "isBountyHunter" | "isHireable" | "isEmployee" => Out::val(false),
        "isViewer" => Out::val(
            env.caller
                .login
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(&u.login)),
        ),
        _ => return Err(FieldError::Undefined),
    })
}
