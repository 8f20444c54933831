//! The default data set: org `octo` with public `octo/hello` (many issues, labels, comments) and
//! private `octo/secret`, users octocat, alice, bob and carol. Deterministic, so every run and
//! every test sees the same bodies (and so the same ETags for the same token).

use crate::config::SimConfig;
use crate::model::{Comment, Issue, IssueState, Label, Model, Repo, User, UserKind};
use crate::time::Timestamp;

/// 2024-01-01T00:00:00Z: seeded items are dated after this.
const BASE: i64 = 1_704_067_200;
const HOUR: i64 = 3600;

const SUBJECTS: [&str; 12] = [
    "Crash when parsing the config file",
    "Timeout fetching releases",
    "Memory leak in the cache layer",
    "Typo in the README",
    "Add support for GitHub Enterprise",
    "Retry on secondary rate limits",
    "Document the socket flag",
    "Panic on empty response body",
    "Slow startup with a large cache",
    "Support ETag revalidation",
    "Wrong exit code on network error",
    "Improve error message for a bad token",
];

const BODIES: [&str; 5] = [
    "Steps to reproduce:\n1. run the tool in CI\n2. watch it fail\n\nExpected: it works.",
    "This happens on every run since the last upgrade. Logs attached below.",
    "It would be great if this worked offline as well.",
    "The documentation does not mention this case at all.",
    "Seen on Linux and macOS runners; Windows not tested.",
];

const AUTHORS: [&str; 3] = ["octocat", "alice", "bob"];

pub fn build(config: &SimConfig) -> Model {
    let mut next_id = 100_000_000;
    let mut id = || {
        next_id += 1;
        next_id
    };
    let mut users = vec![
        user("octocat", 583_231, "The Octocat", UserKind::User),
        user("alice", 1001, "Alice Liddell", UserKind::User),
        user("bob", 1002, "Bob Builder", UserKind::User),
        user("carol", 1003, "Carol Danvers", UserKind::User),
        user("octo", 9919, "Octo Org", UserKind::Organization),
    ];
    // Tokens from a custom config must belong to someone `/user` can describe.
    for t in &config.tokens {
        if !users.iter().any(|u| u.login.eq_ignore_ascii_case(&t.login)) {
            let uid = 2000 + users.len() as u64;
            users.push(user(&t.login, uid, &t.login, UserKind::User));
        }
    }

    let labels = |id: &mut dyn FnMut() -> u64| -> Vec<Label> {
        [
            ("bug", "d73a4a", "Something isn't working"),
            ("documentation", "0075ca", "Improvements or additions to documentation"),
            ("duplicate", "cfd3d7", "This issue or pull request already exists"),
            ("enhancement", "a2eeef", "New feature or request"),
            ("good first issue", "7057ff", "Good for newcomers"),
            ("help wanted", "008672", "Extra attention is needed"),
            ("invalid", "e4e669", "This doesn't seem right"),
            ("question", "d876e3", "Further information is requested"),
            ("wontfix", "ffffff", "This will not be worked on"),
        ]
        .into_iter()
        .map(|(name, color, desc)| Label {
            id: id(),
            name: name.into(),
            color: color.into(),
            description: Some(desc.into()),
            default: true,
            created_at: Timestamp(BASE - 30 * 24 * HOUR),
        })
        .collect()
    };

    let n = config.seed.issues_per_repo;
    let hello_issues: Vec<Issue> = (1..=n as u64).map(|i| hello_issue(i, &mut id)).collect();
    let secret_issues: Vec<Issue> = (1..=n.min(5) as u64).map(|i| secret_issue(i, &mut id)).collect();

    let hello = repo(
        1_296_269,
        "hello",
        Some("My first repository on GitHub!"),
        false,
        hello_issues,
        labels(&mut id),
    );
    let secret = repo(
        1_296_270,
        "secret",
        Some("Deployment notes, do not share"),
        true,
        secret_issues,
        labels(&mut id),
    );
    let last_write = hello.issues_updated_at.max(secret.issues_updated_at);
    Model {
        users,
        repos: vec![hello, secret],
        next_id: id(),
        last_write,
    }
}

fn user(login: &str, id: u64, name: &str, kind: UserKind) -> User {
    User {
        login: login.into(),
        id,
        name: Some(name.into()),
        kind,
        created_at: Timestamp(BASE - 4 * 365 * 24 * HOUR),
        updated_at: Timestamp(BASE - 24 * HOUR),
    }
}

fn repo(id: u64, name: &str, description: Option<&str>, private: bool, issues: Vec<Issue>, labels: Vec<Label>) -> Repo {
    let newest = issues.iter().map(|i| i.updated_at).max().unwrap_or(Timestamp(BASE));
    Repo {
        id,
        owner: "octo".into(),
        name: name.into(),
        description: description.map(Into::into),
        private,
        default_branch: "main".into(),
        created_at: Timestamp(BASE - 200 * 24 * HOUR),
        updated_at: newest,
        pushed_at: newest,
        issues,
        labels,
        issues_updated_at: newest,
    }
}

/// Issue `i` of `octo/hello`: every 3rd is a bug, every 5th an enhancement, every 7th
/// documentation; every 4th is closed; every 6th has two comments, every 10th one more.
fn hello_issue(i: u64, id: &mut dyn FnMut() -> u64) -> Issue {
    let idx = i as usize - 1;
    let created = Timestamp(BASE + i as i64 * 6 * HOUR);
    let mut labels = Vec::new();
    if i.is_multiple_of(3) {
        labels.push("bug".to_owned());
    }
    if i.is_multiple_of(5) {
        labels.push("enhancement".to_owned());
    }
    if i.is_multiple_of(7) {
        labels.push("documentation".to_owned());
    }
    let mut comments = Vec::new();
    let n_comments = usize::from(i.is_multiple_of(6)) * 2 + usize::from(i.is_multiple_of(10));
    for c in 0..n_comments {
        let at = Timestamp(created.0 + (c as i64 + 1) * HOUR);
        comments.push(Comment {
            id: id(),
            user: AUTHORS[(idx + c + 1) % 3].into(),
            body: format!("Confirmed on version 1.{i}.{c}; same symptoms here."),
            created_at: at,
            updated_at: at,
        });
    }
    let closed = i.is_multiple_of(4);
    let mut updated = Timestamp(created.0 + (i as i64 % 5) * HOUR);
    if let Some(last) = comments.last() {
        updated = updated.max(last.updated_at);
    }
    let closed_at = closed.then(|| Timestamp(updated.0 + 48 * HOUR));
    Issue {
        id: id(),
        number: i,
        title: SUBJECTS[idx % SUBJECTS.len()].into(),
        body: Some(BODIES[idx % BODIES.len()].into()),
        user: AUTHORS[idx % 3].into(),
        state: if closed { IssueState::Closed } else { IssueState::Open },
        state_reason: closed.then(|| "completed".into()),
        labels,
        assignees: if i.is_multiple_of(9) {
            vec!["alice".into()]
        } else {
            Vec::new()
        },
        comments,
        locked: false,
        created_at: created,
        updated_at: closed_at.unwrap_or(updated),
        closed_at,
        closed_by: closed.then(|| "alice".into()),
    }
}

fn secret_issue(i: u64, id: &mut dyn FnMut() -> u64) -> Issue {
    const TITLES: [&str; 5] = [
        "Rotate the deploy key",
        "Incident 42 postmortem",
        "Move secrets to the vault",
        "Audit token scopes",
        "Staging database password leaked in logs",
    ];
    let created = Timestamp(BASE + i as i64 * 24 * HOUR);
    Issue {
        id: id(),
        number: i,
        title: TITLES[(i as usize - 1) % TITLES.len()].into(),
        body: Some("Internal only. Do not copy outside the team.".into()),
        user: "alice".into(),
        state: IssueState::Open,
        state_reason: None,
        labels: if i % 2 == 1 { vec!["bug".into()] } else { Vec::new() },
        assignees: vec!["alice".into()],
        comments: Vec::new(),
        locked: false,
        created_at: created,
        updated_at: created,
        closed_at: None,
        closed_by: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_seed_has_the_documented_shape() {
        let m = build(&SimConfig::default());
        let hello = &m.repos[m.repo_idx("octo", "hello").unwrap()];
        assert!(!hello.private);
        assert_eq!(hello.issues.len(), 120);
        assert_eq!(hello.open_issues(), 90);
        assert!(hello.issues.iter().any(|i| !i.comments.is_empty()));
        let secret = &m.repos[m.repo_idx("octo", "secret").unwrap()];
        assert!(secret.private);
        assert_eq!(secret.issues.len(), 5);
        for login in ["octocat", "alice", "bob", "carol"] {
            assert!(m.user(login).is_some(), "{login}");
        }
        assert!(m.last_write >= hello.issues_updated_at);
    }
}
