//! The slice of GitHub's GraphQL schema the simulator answers: `Query` (repository, viewer,
//! user, rateLimit, search, node), `Mutation` results, and the object types Repository, Issue,
//! IssueComment, Label, User, their connections, and small value objects. A field outside this
//! slice is reported as undefined, so unsupported client queries fail loudly.

use serde_json::{Value, json};

use super::exec::{Args, FieldError, Out};
use super::mutation::Outcome;
use crate::auth::Caller;
use crate::limits::Snapshot;
use crate::model::{Comment, Issue, IssueState, Label, Model, Repo, User, UserKind};
use crate::render::Urls;
use crate::search::{self, IssueQuery};
use crate::time::Timestamp;

/// Everything resolvers may read.
pub struct Env<'m> {
    pub model: &'m Model,
    pub caller: &'m Caller,
    pub urls: &'m Urls,
    /// The caller's graphql bucket after this query was charged.
    pub rate: Snapshot,
    pub cost: u64,
    pub node_count: u64,
    /// Results of the mutation's root fields, by response key.
    pub mutations: Vec<(String, Result<Outcome, FieldError>)>,
}

/// An object a field can resolve to; borrows the model.
#[derive(Debug, Clone)]
pub enum Obj<'m> {
    Query,
    Mutation,
    Repo(&'m Repo),
    Issue(&'m Repo, &'m Issue),
    Comment(&'m Repo, &'m Issue, &'m Comment),
    Label(&'m Repo, &'m Label),
    User(&'m User),
    Conn(Conn<'m>),
    /// A plain object whose fields are all known up front (PageInfo, RateLimit, payloads...).
    Value(&'static str, Vec<(&'static str, Out<'m>)>),
}

#[derive(Debug, Clone)]
pub struct Conn<'m> {
    pub typename: &'static str,
    pub edge_typename: &'static str,
    pub total: usize,
    /// (index in the whole list, node) for this page.
    pub page: Vec<(usize, Obj<'m>)>,
    pub has_next: bool,
    pub has_prev: bool,
    /// Search connections also answer `issueCount` etc.
    pub search: bool,
}

pub fn typename(obj: &Obj<'_>) -> &'static str {
    match obj {
        Obj::Query => "Query",
        Obj::Mutation => "Mutation",
        Obj::Repo(_) => "Repository",
        Obj::Issue(..) => "Issue",
        Obj::Comment(..) => "IssueComment",
        Obj::Label(..) => "Label",
        Obj::User(u) => match u.kind {
            UserKind::User => "User",
            UserKind::Organization => "Organization",
        },
        Obj::Conn(c) => c.typename,
        Obj::Value(t, _) => t,
    }
}

/// Whether a fragment on `cond` applies to an object of type `typename` (same type, or an
/// interface / union it belongs to).
pub fn type_matches(typename: &str, cond: &str) -> bool {
    if typename == cond {
        return true;
    }
    let parents: &[&str] = match typename {
        "Issue" => &[
            "Node",
            "Assignable",
            "Closable",
            "Comment",
            "Labelable",
            "Lockable",
            "Reactable",
            "RepositoryNode",
            "Subscribable",
            "UniformResourceLocatable",
            "Updatable",
            "UpdatableComment",
            "SearchResultItem",
            "IssueOrPullRequest",
        ],
        "IssueComment" => &[
            "Node",
            "Comment",
            "Deletable",
            "Minimizable",
            "Reactable",
            "RepositoryNode",
            "Updatable",
            "UpdatableComment",
            "UniformResourceLocatable",
            "IssueTimelineItems",
        ],
        "Repository" => &[
            "Node",
            "RepositoryInfo",
            "UniformResourceLocatable",
            "Starrable",
            "Subscribable",
            "SearchResultItem",
        ],
        "User" => &[
            "Node",
            "Actor",
            "RepositoryOwner",
            "ProfileOwner",
            "UniformResourceLocatable",
            "SearchResultItem",
            "Assignee",
        ],
        "Organization" => &[
            "Node",
            "Actor",
            "RepositoryOwner",
            "ProfileOwner",
            "UniformResourceLocatable",
            "SearchResultItem",
        ],
        "Label" => &["Node"],
        _ => &[],
    };
    parents.contains(&cond)
}

const MAX_PAGE: i64 = 100;

fn cursor(index: usize) -> String {
    hex::encode(format!("cursor:{index}"))
}

fn decode_cursor(c: &str) -> Option<usize> {
    let raw = String::from_utf8(hex::decode(c).ok()?).ok()?;
    raw.strip_prefix("cursor:")?.parse().ok()
}

/// Pages `items` with `first`/`after` or `last`/`before`, as GitHub requires (one of `first`
/// or `last`, at most 100).
pub fn connection<'m>(
    typename: &'static str,
    edge_typename: &'static str,
    items: Vec<Obj<'m>>,
    args: &Args<'_>,
) -> Result<Out<'m>, FieldError> {
    let name = &args.field.name;
    let (first, last) = (args.int("first"), args.int("last"));
    if first.is_none() && last.is_none() {
        return Err(FieldError::failed(
            "MISSING_PAGINATION_BOUNDARIES",
            format!(
                "You must provide a `first` or `last` value to properly paginate the `{name}` connection."
            ),
        ));
    }
    for (arg, n) in [("first", first), ("last", last)] {
        if let Some(n) = n.filter(|n| !(0..=MAX_PAGE).contains(n)) {
            return Err(FieldError::failed(
                "EXCESSIVE_PAGINATION",
                format!(
                    "Requesting {n} records on the `{name}` connection exceeds the `{arg}` limit of 100 records."
                ),
            ));
        }
    }
    let total = items.len();
    let start = args
        .str("after")
        .and_then(|c| decode_cursor(&c))
        .map_or(0, |i| i + 1)
        .min(total);
    let end = args
        .str("before")
        .and_then(|c| decode_cursor(&c))
        .unwrap_or(total)
        .clamp(start, total);
    let (mut lo, mut hi) = (start, end);
    if let Some(f) = first {
        hi = hi.min(lo + f as usize);
    }
    if let Some(l) = last {
        lo = lo.max(hi.saturating_sub(l as usize));
    }
    let page = items
        .into_iter()
        .enumerate()
        .skip(lo)
        .take(hi - lo)
        .collect();
    Ok(Out::Obj(Obj::Conn(Conn {
        typename,
        edge_typename,
        total,
        page,
        has_next: hi < total,
        has_prev: lo > 0,
        search: false,
    })))
}

fn ts(t: Timestamp) -> Out<'static> {
    Out::str(t.iso())
}

fn not_found(what: String) -> FieldError {
    FieldError::failed("NOT_FOUND", what)
}

/// Resolves `field` on `obj`.
pub fn resolve<'m>(
    env: &Env<'m>,
    obj: &Obj<'m>,
    field: &str,
    args: &Args<'_>,
) -> Result<Out<'m>, FieldError> {
    match obj {
        Obj::Query => query(env, field, args),
        Obj::Mutation => env
            .mutations
            .iter()
            .find(|(k, _)| k == args.key())
            .map(|(_, r)| r.clone())
            .ok_or(FieldError::Undefined)?
            .map(|o| o.project(env.model)),
        Obj::Repo(r) => repository(env, r, field, args),
        Obj::Issue(r, i) => issue(env, r, i, field, args),
        Obj::Comment(r, i, c) => comment(env, r, i, c, field),
        Obj::Label(r, l) => label(env, r, l, field),
        Obj::User(u) => user(env, u, field),
        Obj::Conn(c) => conn(c, field),
        Obj::Value(_, fields) => fields
            .iter()
            .find(|(k, _)| *k == field)
            .map(|(_, v)| v.clone())
            .ok_or(FieldError::Undefined),
    }
}

fn query<'m>(env: &Env<'m>, field: &str, args: &Args<'_>) -> Result<Out<'m>, FieldError> {
    let m = env.model;
    Ok(match field {
        "repository" => {
            let owner = args.str("owner").unwrap_or_default();
            let name = args.str("name").unwrap_or_default();
            let repo = m
                .repo_idx(&owner, &name)
                .map(|i| &m.repos[i])
                .filter(|r| env.caller.can_read(r));
            Out::Obj(Obj::Repo(repo.ok_or_else(|| {
                not_found(format!(
                    "Could not resolve to a Repository with the name '{owner}/{name}'."
                ))
            })?))
        }
        "viewer" => match env.caller.login.as_deref().and_then(|l| m.user(l)) {
            Some(u) => Out::Obj(Obj::User(u)),
            None => Out::Null,
        },
        "user" | "organization" | "repositoryOwner" => {
            let login = args.str("login").unwrap_or_default();
            let u = m
                .user(&login)
                .filter(|u| field != "organization" || u.kind == UserKind::Organization);
            let what = if field == "organization" {
                "an Organization"
            } else {
                "a User"
            };
            Out::Obj(Obj::User(u.ok_or_else(|| {
                not_found(format!(
                    "Could not resolve to {what} with the login of '{login}'."
                ))
            })?))
        }
        "rateLimit" => Out::Obj(Obj::Value(
            "RateLimit",
            vec![
                ("limit", Out::val(env.rate.limit)),
                ("cost", Out::val(env.cost)),
                ("remaining", Out::val(env.rate.remaining())),
                ("used", Out::val(env.rate.used)),
                ("resetAt", ts(Timestamp(env.rate.reset))),
                ("nodeCount", Out::val(env.node_count)),
            ],
        )),
        "search" => search_field(env, args)?,
        "node" => node(env, &args.str("id").unwrap_or_default()),
        "nodes" => {
            let ids = args
                .get("ids")
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            Out::List(
                ids.iter()
                    .map(|id| node(env, id.as_str().unwrap_or_default()))
                    .collect(),
            )
        }
        _ => return Err(FieldError::Undefined),
    })
}

fn node<'m>(env: &Env<'m>, id: &str) -> Out<'m> {
    for r in env.model.repos.iter().filter(|r| env.caller.can_read(r)) {
        if r.node_id() == id {
            return Out::Obj(Obj::Repo(r));
        }
        for i in &r.issues {
            if i.node_id() == id {
                return Out::Obj(Obj::Issue(r, i));
            }
            if let Some(c) = i.comments.iter().find(|c| c.node_id() == id) {
                return Out::Obj(Obj::Comment(r, i, c));
            }
        }
        if let Some(l) = r.labels.iter().find(|l| l.node_id() == id) {
            return Out::Obj(Obj::Label(r, l));
        }
    }
    env.model
        .users
        .iter()
        .find(|u| u.node_id() == id)
        .map_or(Out::Null, |u| Out::Obj(Obj::User(u)))
}

fn search_field<'m>(env: &Env<'m>, args: &Args<'_>) -> Result<Out<'m>, FieldError> {
    let q = args.str("query").unwrap_or_default();
    let kind = args.str("type").unwrap_or_default();
    let items: Vec<Obj<'m>> = if kind == "ISSUE" {
        let query = IssueQuery::parse(&q);
        // An unknown or hidden repo: GitHub's GraphQL search just finds nothing.
        search::search(env.model, env.caller, &query, None, false)
            .unwrap_or_default()
            .into_iter()
            .map(|(ri, n)| {
                let r = &env.model.repos[ri];
                Obj::Issue(r, r.issue(n).expect("hit exists"))
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut out = connection(
        "SearchResultItemConnection",
        "SearchResultItemEdge",
        items,
        args,
    )?;
    if let Out::Obj(Obj::Conn(c)) = &mut out {
        c.search = true;
    }
    Ok(out)
}

fn conn<'m>(c: &Conn<'m>, field: &str) -> Result<Out<'m>, FieldError> {
    Ok(match field {
        "totalCount" => Out::val(c.total),
        "issueCount" if c.search => Out::val(c.total),
        "repositoryCount" | "userCount" | "discussionCount" | "wikiCount" | "codeCount"
            if c.search =>
        {
            Out::val(0)
        }
        "nodes" => Out::List(c.page.iter().map(|(_, o)| Out::Obj(o.clone())).collect()),
        "edges" => Out::List(
            c.page
                .iter()
                .map(|(i, o)| {
                    Out::Obj(Obj::Value(
                        c.edge_typename,
                        vec![
                            ("cursor", Out::str(cursor(*i))),
                            ("node", Out::Obj(o.clone())),
                        ],
                    ))
                })
                .collect(),
        ),
        "pageInfo" => {
            let start = c.page.first().map(|(i, _)| cursor(*i));
            let end = c.page.last().map(|(i, _)| cursor(*i));
            Out::Obj(Obj::Value(
                "PageInfo",
                vec![
                    ("hasNextPage", Out::val(c.has_next)),
                    ("hasPreviousPage", Out::val(c.has_prev)),
                    ("startCursor", Out::opt_str(start)),
                    ("endCursor", Out::opt_str(end)),
                ],
            ))
        }
        _ => return Err(FieldError::Undefined),
    })
}

fn empty_conn<'m>(typename: &'static str, args: &Args<'_>) -> Result<Out<'m>, FieldError> {
    connection(typename, "Edge", Vec::new(), args)
}

fn repository<'m>(
    env: &Env<'m>,
    r: &'m Repo,
    field: &str,
    args: &Args<'_>,
) -> Result<Out<'m>, FieldError> {
    let m = env.model;
    let push = env.caller.can_push(r);
    Ok(match field {
        "id" => Out::str(r.node_id()),
        "databaseId" => Out::val(r.id),
        "name" => Out::str(r.name.clone()),
        "nameWithOwner" => Out::str(r.full_name()),
        "owner" => m
            .user(&r.owner)
            .map_or(Out::Null, |u| Out::Obj(Obj::User(u))),
        "description" => Out::opt_str(r.description.clone()),
        "url" => Out::str(format!("{}/{}", env.urls.web, r.full_name())),
        "resourcePath" => Out::str(format!("/{}", r.full_name())),
        "sshUrl" => Out::str(format!(
            "git@{}:{}.git",
            env.urls.web.trim_start_matches("http://"),
            r.full_name()
        )),
        "homepageUrl" | "mirrorUrl" | "parent" | "templateRepository" | "licenseInfo"
        | "primaryLanguage" => Out::Null,
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
        "hasIssuesEnabled" | "hasWikiEnabled" | "hasProjectsEnabled" | "mergeCommitAllowed"
        | "rebaseMergeAllowed" | "squashMergeAllowed" | "forkingAllowed" => Out::val(true),
        "viewerPermission" => Out::str(if push { "ADMIN" } else { "READ" }),
        "viewerCanAdminister" | "viewerCanCreateProjects" | "viewerCanUpdateTopics" => {
            Out::val(push)
        }
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
            let labels = r
                .labels
                .iter()
                .filter(|l| q.as_ref().is_none_or(|q| l.name.to_lowercase().contains(q)))
                .map(|l| Obj::Label(r, l))
                .collect();
            connection("LabelConnection", "LabelEdge", labels, args)?
        }
        "label" => {
            let name = args.str("name").unwrap_or_default();
            r.label(&name)
                .map_or(Out::Null, |l| Out::Obj(Obj::Label(r, l)))
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
    let list = |v: Option<&Value>| -> Option<Vec<String>> {
        v?.as_array().map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
    };
    let states = list(args.get("states").as_ref()).or_else(|| list(filter.get("states")));
    let labels = list(args.get("labels").as_ref()).or_else(|| list(filter.get("labels")));
    let s = |k: &str| filter.get(k).and_then(Value::as_str).map(str::to_owned);
    let (created_by, assignee) = (s("createdBy"), s("assignee"));
    let since = s("since").and_then(|t| Timestamp::parse_iso(&t));
    let mut out: Vec<&Issue> = r
        .issues
        .iter()
        .filter(|i| {
            states.as_ref().is_none_or(|st| {
                st.iter()
                    .any(|s| (s == "OPEN") == (i.state == IssueState::Open))
            })
        })
        .filter(|i| {
            labels.as_ref().is_none_or(|ls| {
                ls.iter()
                    .any(|l| i.labels.iter().any(|x| x.eq_ignore_ascii_case(l)))
            })
        })
        .filter(|i| {
            created_by
                .as_ref()
                .is_none_or(|c| c.eq_ignore_ascii_case(&i.user))
        })
        .filter(|i| match assignee.as_deref() {
            None => true,
            Some("*") => !i.assignees.is_empty(),
            Some(a) => i.assignees.iter().any(|x| x.eq_ignore_ascii_case(a)),
        })
        .filter(|i| since.is_none_or(|t| i.updated_at >= t))
        .collect();
    let order = args.get("orderBy").unwrap_or(Value::Null);
    let field = order
        .get("field")
        .and_then(Value::as_str)
        .unwrap_or("CREATED_AT");
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

fn association(r: &Repo, login: &str) -> &'static str {
    if login.eq_ignore_ascii_case(&r.owner) {
        "OWNER"
    } else if ["octocat", "alice"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(login))
    {
        "MEMBER"
    } else {
        "NONE"
    }
}

fn actor<'m>(m: &'m Model, login: &str) -> Out<'m> {
    m.user(login).map_or(Out::Null, |u| Out::Obj(Obj::User(u)))
}

fn issue<'m>(
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
        "url" => Out::str(format!(
            "{}/{}/issues/{}",
            env.urls.web,
            r.full_name(),
            i.number
        )),
        "resourcePath" => Out::str(format!("/{}/issues/{}", r.full_name(), i.number)),
        "state" => Out::str(if i.state == IssueState::Open {
            "OPEN"
        } else {
            "CLOSED"
        }),
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
            let users = logins
                .iter()
                .filter_map(|l| m.user(l))
                .map(Obj::User)
                .collect();
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

fn comment<'m>(
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

fn label<'m>(env: &Env<'m>, r: &'m Repo, l: &'m Label, field: &str) -> Result<Out<'m>, FieldError> {
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

fn user<'m>(env: &Env<'m>, u: &'m User, field: &str) -> Result<Out<'m>, FieldError> {
    Ok(match field {
        "id" => Out::str(u.node_id()),
        "databaseId" => Out::val(u.id),
        "login" => Out::str(u.login.clone()),
        "name" => Out::opt_str(u.name.clone()),
        "url" => Out::str(format!("{}/{}", env.urls.web, u.login)),
        "resourcePath" => Out::str(format!("/{}", u.login)),
        "avatarUrl" => Out::str(format!(
            "https://avatars.githubusercontent.com/u/{}?v=4",
            u.id
        )),
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

/// JSON for `Value` fields tests want to compare (used by mutation payloads).
pub fn client_mutation_id(id: &Option<String>) -> Out<'static> {
    id.as_ref().map_or(Out::Null, |s| Out::Scalar(json!(s)))
}
