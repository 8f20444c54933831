//! The simulated GitHub data: users, repositories, issues, comments, labels, and the writes that
//! change them. Pure data; who may see what is decided in `auth`, JSON shapes in `render`.

use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    User,
    Organization,
}

#[derive(Debug, Clone)]
pub struct User {
    pub login: String,
    pub id: u64,
    pub name: Option<String>,
    pub kind: UserKind,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl User {
    pub fn node_id(&self) -> String {
        match self.kind {
            UserKind::User => format!("U_kgDO{}", self.id),
            UserKind::Organization => format!("O_kgDO{}", self.id),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Label {
    pub id: u64,
    pub name: String,
    pub color: String,
    pub description: Option<String>,
    pub default: bool,
    pub created_at: Timestamp,
}

impl Label {
    pub fn node_id(&self) -> String {
        format!("LA_kwDO{}", self.id)
    }
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: u64,
    pub user: String,
    pub body: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Comment {
    pub fn node_id(&self) -> String {
        format!("IC_kwDO{}", self.id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueState {
    Open,
    Closed,
}

impl IssueState {
    pub fn rest(self) -> &'static str {
        match self {
            IssueState::Open => "open",
            IssueState::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub id: u64,
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub user: String,
    pub state: IssueState,
    /// `completed`, `not_planned` or `reopened`; `None` for issues never closed.
    pub state_reason: Option<String>,
    /// Label names; the label objects live on the repository.
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub comments: Vec<Comment>,
    pub locked: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    pub closed_by: Option<String>,
}

impl Issue {
    pub fn node_id(&self) -> String {
        format!("I_kwDO{}", self.id)
    }
}

#[derive(Debug, Clone)]
pub struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub description: Option<String>,
    pub private: bool,
    pub default_branch: String,
    pub created_at: Timestamp,
    /// Bumped whenever the repository's own JSON changes (e.g. `open_issues_count`), so
    /// `If-Modified-Since` never hides a changed body.
    pub updated_at: Timestamp,
    pub pushed_at: Timestamp,
    /// Indexed by `number - 1`.
    pub issues: Vec<Issue>,
    pub labels: Vec<Label>,
    /// Newest change to any issue or comment: the `Last-Modified` of issue and comment lists.
    pub issues_updated_at: Timestamp,
}

impl Repo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    pub fn node_id(&self) -> String {
        format!("R_kgDO{}", self.id)
    }

    pub fn issue(&self, number: u64) -> Option<&Issue> {
        let idx = usize::try_from(number).ok()?.checked_sub(1)?;
        self.issues.get(idx)
    }

    pub fn label(&self, name: &str) -> Option<&Label> {
        self.labels.iter().find(|l| l.name.eq_ignore_ascii_case(name))
    }

    pub fn open_issues(&self) -> usize {
        self.issues.iter().filter(|i| i.state == IssueState::Open).count()
    }
}

/// Fields of a new issue (already validated).
#[derive(Debug, Clone, Default)]
pub struct NewIssue {
    pub title: String,
    pub body: Option<String>,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
}

/// A partial update of an issue; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct IssuePatch {
    pub title: Option<String>,
    pub body: Option<Option<String>>,
    pub state: Option<IssueState>,
    pub state_reason: Option<String>,
    pub labels: Option<Vec<String>>,
    pub assignees: Option<Vec<String>>,
}

/// Index of a repository inside [`Model::repos`]; stable because repositories are never removed.
pub type RepoIdx = usize;

/// The way back from one write to an issue (GraphQL takes it when a mutation's response turns
/// out invalid, so that the request changes nothing, without copying the whole model).
#[derive(Debug, Clone)]
pub struct Undo {
    repo: RepoIdx,
    /// `None`: the write creates an issue; undo drops issues beyond `issue_count`.
    issue: Option<Box<Issue>>,
    issue_count: usize,
    updated_at: Timestamp,
    issues_updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub users: Vec<User>,
    pub repos: Vec<Repo>,
    pub(crate) next_id: u64,
    /// Time of the last write. Every write gets a strictly later second, so two writes in the
    /// same wall-clock second still produce distinct `Last-Modified` values.
    pub(crate) last_write: Timestamp,
}

impl Model {
    pub fn user(&self, login: &str) -> Option<&User> {
        self.users.iter().find(|u| u.login.eq_ignore_ascii_case(login))
    }

    pub fn repo_idx(&self, owner: &str, name: &str) -> Option<RepoIdx> {
        self.repos
            .iter()
            .position(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
    }

    pub fn repo_by_node_id(&self, node_id: &str) -> Option<RepoIdx> {
        self.repos.iter().position(|r| r.node_id() == node_id)
    }

    /// Finds an issue by its GraphQL node id.
    pub fn issue_by_node_id(&self, node_id: &str) -> Option<(RepoIdx, u64)> {
        self.repos
            .iter()
            .enumerate()
            .find_map(|(ri, r)| r.issues.iter().find(|i| i.node_id() == node_id).map(|i| (ri, i.number)))
    }

    /// Records how `repo` (and issue `number`, if given) look now, before a write.
    pub fn undo_point(&self, repo: RepoIdx, number: Option<u64>) -> Undo {
        let r = &self.repos[repo];
        Undo {
            repo,
            issue: number.and_then(|n| r.issue(n)).map(|i| Box::new(i.clone())),
            issue_count: r.issues.len(),
            updated_at: r.updated_at,
            issues_updated_at: r.issues_updated_at,
        }
    }

    /// Puts back what [`Model::undo_point`] recorded. Undo in reverse order of writes.
    pub fn undo(&mut self, undo: Undo) {
        let r = &mut self.repos[undo.repo];
        r.issues.truncate(undo.issue_count);
        if let Some(issue) = undo.issue {
            let idx = issue.number as usize - 1;
            r.issues[idx] = *issue;
        }
        r.updated_at = undo.updated_at;
        r.issues_updated_at = undo.issues_updated_at;
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A write timestamp: now, but strictly after the previous write.
    fn tick(&mut self) -> Timestamp {
        let t = Timestamp::now().max(Timestamp(self.last_write.0 + 1));
        self.last_write = t;
        t
    }

    /// Creates a label unless one of that name exists; returns its name as stored.
    pub fn ensure_label(&mut self, repo: RepoIdx, name: &str) -> String {
        if let Some(l) = self.repos[repo].label(name) {
            return l.name.clone();
        }
        self.create_label(repo, name, "ededed", None)
    }

    /// Caller checks for duplicates first (GitHub answers 422 `already_exists`).
    pub fn create_label(&mut self, repo: RepoIdx, name: &str, color: &str, description: Option<String>) -> String {
        let id = self.next_id();
        let now = self.tick();
        self.repos[repo].labels.push(Label {
            id,
            name: name.to_owned(),
            color: color.trim_start_matches('#').to_lowercase(),
            description,
            default: false,
            created_at: now,
        });
        name.to_owned()
    }

    pub fn create_issue(&mut self, repo: RepoIdx, author: &str, new: NewIssue) -> u64 {
        let id = self.next_id();
        let now = self.tick();
        let r = &mut self.repos[repo];
        let number = r.issues.len() as u64 + 1;
        r.issues.push(Issue {
            id,
            number,
            title: new.title,
            body: new.body,
            user: author.to_owned(),
            state: IssueState::Open,
            state_reason: None,
            labels: new.labels,
            assignees: new.assignees,
            comments: Vec::new(),
            locked: false,
            created_at: now,
            updated_at: now,
            closed_at: None,
            closed_by: None,
        });
        r.issues_updated_at = now;
        // open_issues_count is part of the repository's JSON
        r.updated_at = now;
        number
    }

    /// Applies `patch`; returns false when the issue does not exist.
    pub fn update_issue(&mut self, repo: RepoIdx, number: u64, by: &str, patch: IssuePatch) -> bool {
        let now = self.tick();
        let r = &mut self.repos[repo];
        let Some(issue) = usize::try_from(number)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| r.issues.get_mut(i))
        else {
            return false;
        };
        if let Some(t) = patch.title {
            issue.title = t;
        }
        if let Some(b) = patch.body {
            issue.body = b;
        }
        if let Some(l) = patch.labels {
            issue.labels = l;
        }
        if let Some(a) = patch.assignees {
            issue.assignees = a;
        }
        if let Some(state) = patch.state {
            if state != issue.state {
                match state {
                    IssueState::Closed => {
                        issue.closed_at = Some(now);
                        issue.closed_by = Some(by.to_owned());
                        issue.state_reason = Some(patch.state_reason.clone().unwrap_or_else(|| "completed".into()));
                    }
                    IssueState::Open => {
                        issue.closed_at = None;
                        issue.state_reason = Some("reopened".into());
                    }
                }
                issue.state = state;
                r.updated_at = now;
            } else if let Some(reason) = patch.state_reason {
                issue.state_reason = Some(reason);
            }
        } else if let Some(reason) = patch.state_reason {
            issue.state_reason = Some(reason);
        }
        issue.updated_at = now;
        r.issues_updated_at = now;
        true
    }

    /// Adds a comment; returns its id, or `None` when the issue does not exist.
    pub fn add_comment(&mut self, repo: RepoIdx, number: u64, author: &str, body: &str) -> Option<u64> {
        let id = self.next_id();
        let now = self.tick();
        let r = &mut self.repos[repo];
        let issue = usize::try_from(number)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| r.issues.get_mut(i))?;
        issue.comments.push(Comment {
            id,
            user: author.to_owned(),
            body: body.to_owned(),
            created_at: now,
            updated_at: now,
        });
        issue.updated_at = now;
        r.issues_updated_at = now;
        Some(id)
    }
}
