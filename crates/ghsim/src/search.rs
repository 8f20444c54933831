//! Issue search as `/search/issues` and GraphQL `search(type: ISSUE)` share it: a parser for the
//! `q` syntax subset we model and the matcher over the caller's readable repositories.
//!
//! Modelled qualifiers: `repo:o/r`, `user:`/`org:`, `is:issue|pr|open|closed`, `type:`,
//! `state:`, `label:` (repeatable, quoted names, `-label:` to exclude), `no:label`,
//! `no:assignee`, `author:`, `assignee:`, `in:title|body|comments`, `sort:field-dir`. Free text
//! matches whole query words (and quoted phrases) case-insensitively as substrings of title and
//! body (or the `in:` fields). Other qualifiers are ignored.

use crate::auth::Caller;
use crate::model::{Issue, IssueState, Model, RepoIdx};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueQuery {
    pub repos: Vec<String>,
    pub owners: Vec<String>,
    pub state: Option<IssueState>,
    /// `is:pr` / `type:pr`: no pull requests are modelled, so nothing matches.
    pub pull_requests: bool,
    pub labels: Vec<String>,
    pub not_labels: Vec<String>,
    pub no_label: bool,
    pub no_assignee: bool,
    pub author: Option<String>,
    pub assignee: Option<String>,
    pub words: Vec<String>,
    pub in_title: bool,
    pub in_body: bool,
    pub in_comments: bool,
    /// From a `sort:created-desc` qualifier: (field, ascending).
    pub sort: Option<(String, bool)>,
}

/// Splits on whitespace, keeping double-quoted parts (also after `label:`) together.
fn tokens(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in q.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl IssueQuery {
    pub fn parse(q: &str) -> Self {
        let mut s = IssueQuery::default();
        for tok in tokens(q) {
            let (neg, t) = match tok.strip_prefix('-') {
                Some(rest) if rest.contains(':') => (true, rest),
                _ => (false, tok.as_str()),
            };
            let Some((key, value)) = t.split_once(':').filter(|(k, _)| is_qualifier(k)) else {
                s.words.push(tok.to_lowercase());
                continue;
            };
            let value = value.to_owned();
            match (key.to_ascii_lowercase().as_str(), value.to_ascii_lowercase().as_str()) {
                ("repo", _) => s.repos.push(value),
                ("user" | "org", _) => s.owners.push(value),
                ("is" | "type", "issue") => {}
                ("is" | "type", "pr" | "pull-request") => s.pull_requests = true,
                ("is" | "state", "open") => s.state = Some(IssueState::Open),
                ("is" | "state", "closed") => s.state = Some(IssueState::Closed),
                ("label", _) if neg => s.not_labels.push(value),
                ("label", _) => s.labels.push(value),
                ("no", "label") => s.no_label = true,
                ("no", "assignee") => s.no_assignee = true,
                ("author", _) => s.author = Some(value),
                ("assignee", _) => s.assignee = Some(value),
                ("in", fields) => {
                    for f in fields.split(',') {
                        match f {
                            "title" => s.in_title = true,
                            "body" => s.in_body = true,
                            "comments" => s.in_comments = true,
                            _ => {}
                        }
                    }
                }
                ("sort", spec) => {
                    let (field, dir) = spec.rsplit_once('-').unwrap_or((spec, "desc"));
                    s.sort = Some((field.to_owned(), dir == "asc"));
                }
                _ => {}
            }
        }
        if !(s.in_title || s.in_body || s.in_comments) {
            s.in_title = true;
            s.in_body = true;
        }
        s
    }

    pub fn matches(&self, owner: &str, issue: &Issue) -> bool {
        if self.pull_requests {
            return false;
        }
        if !self.owners.is_empty() && !self.owners.iter().any(|o| o.eq_ignore_ascii_case(owner)) {
            return false;
        }
        if self.state.is_some_and(|s| s != issue.state) {
            return false;
        }
        let has_label = |name: &String| issue.labels.iter().any(|l| l.eq_ignore_ascii_case(name));
        if !self.labels.iter().all(has_label) || self.not_labels.iter().any(has_label) {
            return false;
        }
        if self.no_label && !issue.labels.is_empty() {
            return false;
        }
        if self.no_assignee && !issue.assignees.is_empty() {
            return false;
        }
        if self
            .author
            .as_ref()
            .is_some_and(|a| !a.eq_ignore_ascii_case(&issue.user))
        {
            return false;
        }
        if let Some(a) = &self.assignee
            && !issue.assignees.iter().any(|x| x.eq_ignore_ascii_case(a))
        {
            return false;
        }
        self.score(issue) > 0 || self.words.is_empty()
    }

    /// How many of the free-text words occur in the searched fields (0 = no match unless
    /// there are no words); every word must occur somewhere.
    pub fn score(&self, issue: &Issue) -> usize {
        let mut hay = String::new();
        if self.in_title {
            hay.push_str(&issue.title.to_lowercase());
            hay.push('\n');
        }
        if self.in_body {
            hay.push_str(&issue.body.as_deref().unwrap_or("").to_lowercase());
            hay.push('\n');
        }
        if self.in_comments {
            for c in &issue.comments {
                hay.push_str(&c.body.to_lowercase());
                hay.push('\n');
            }
        }
        if self.words.iter().all(|w| hay.contains(w.as_str())) {
            self.words.len()
        } else {
            0
        }
    }
}

fn is_qualifier(key: &str) -> bool {
    const KNOWN: [&str; 14] = [
        "repo", "user", "org", "is", "type", "state", "label", "no", "author", "assignee", "in", "sort", "created",
        "updated",
    ];
    KNOWN.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// A `repo:` qualifier named a repository that does not exist or that the caller cannot see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the listed users and repositories cannot be searched")]
pub struct CannotSearch;

/// Runs `query` over what `caller` can read; returns (repository, issue number) pairs sorted by
/// `sort` (`created`, `updated`, `comments`, otherwise best match) and `ascending`.
pub fn search(
    model: &Model,
    caller: &Caller,
    query: &IssueQuery,
    sort: Option<&str>,
    ascending: bool,
) -> Result<Vec<(RepoIdx, u64)>, CannotSearch> {
    let mut repos: Vec<RepoIdx> = Vec::new();
    if query.repos.is_empty() {
        repos.extend((0..model.repos.len()).filter(|&i| caller.can_read(&model.repos[i])));
    } else {
        for full in &query.repos {
            let (o, n) = full.split_once('/').ok_or(CannotSearch)?;
            let idx = model.repo_idx(o, n).filter(|&i| caller.can_read(&model.repos[i]));
            repos.push(idx.ok_or(CannotSearch)?);
        }
    }
    let mut hits: Vec<(RepoIdx, &Issue)> = repos
        .iter()
        .flat_map(|&ri| model.repos[ri].issues.iter().map(move |i| (ri, i)))
        .filter(|(ri, i)| query.matches(&model.repos[*ri].owner, i))
        .collect();
    let (sort, ascending) = match &query.sort {
        Some((f, asc)) => (Some(f.as_str()), *asc),
        None => (sort, ascending),
    };
    hits.sort_by(|(ra, a), (rb, b)| {
        let ord = match sort {
            Some("created") => a.created_at.cmp(&b.created_at),
            Some("updated") => a.updated_at.cmp(&b.updated_at),
            Some("comments") => a.comments.len().cmp(&b.comments.len()),
            // best match: more words found first, then newest
            _ => {
                return query
                    .score(b)
                    .cmp(&query.score(a))
                    .then(b.created_at.cmp(&a.created_at))
                    .then(rb.cmp(ra));
            }
        };
        let ord = ord.then(a.number.cmp(&b.number)).then(ra.cmp(rb));
        if ascending { ord } else { ord.reverse() }
    });
    Ok(hits.into_iter().map(|(ri, i)| (ri, i.number)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qualifiers_and_words() {
        let q = IssueQuery::parse(r#"repo:octo/hello is:issue is:open label:"help wanted" -label:bug Crash in:title"#);
        assert_eq!(q.repos, ["octo/hello"]);
        assert_eq!(q.state, Some(IssueState::Open));
        assert_eq!(q.labels, ["help wanted"]);
        assert_eq!(q.not_labels, ["bug"]);
        assert_eq!(q.words, ["crash"]);
        assert!(q.in_title && !q.in_body);
        let q = IssueQuery::parse("state:closed timeout sort:updated-asc");
        assert_eq!(q.state, Some(IssueState::Closed));
        assert!(q.in_title && q.in_body);
        assert_eq!(q.sort, Some(("updated".into(), true)));
        // a colon in free text that is no qualifier stays a word
        assert_eq!(IssueQuery::parse("error: foo").words, ["error:", "foo"]);
    }
}
