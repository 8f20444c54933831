//! What a report is made of, checked before anything is sent: the repository name, the title,
//! the labels, and the issue and comment bodies built from the scrubbed log.

use crate::normalize::Normalizer;
use crate::{ReportError, marker};
use std::fmt;
use std::str::FromStr;

/// GitHub's limit on an issue title, in characters.
pub const MAX_TITLE_CHARS: usize = 256;
/// GitHub's limit on a label name, in characters.
pub const MAX_LABEL_CHARS: usize = 50;
/// How much of the (scrubbed) log goes into a new issue's body; GitHub's limit on a body is
/// 65,536 characters.
pub const MAX_BODY_LOG_CHARS: usize = 60_000;
/// How much of the log goes into a "seen again" comment.
pub const MAX_COMMENT_LOG_CHARS: usize = 2_000;

/// A repository as `owner/name`, checked against GitHub's naming rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoName {
    pub owner: String,
    pub name: String,
}

impl FromStr for RepoName {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, ReportError> {
        let bad = || ReportError::Usage(format!("repository {s:?} is not of the form OWNER/NAME"));
        let (owner, name) = s.trim().split_once('/').ok_or_else(bad)?;
        let owner_ok = (1..=39).contains(&owner.len())
            && owner.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !owner.starts_with('-');
        let name_ok = (1..=100).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && name != "."
            && name != "..";
        if owner_ok && name_ok {
            Ok(RepoName {
                owner: owner.to_owned(),
                name: name.to_owned(),
            })
        } else {
            Err(bad())
        }
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// What to report. `log` is text; [`crate::text_of`] turns arbitrary bytes into it.
#[derive(Debug, Clone, Default)]
pub struct ReportRequest {
    /// `owner/name`.
    pub repo: String,
    pub title: String,
    pub log: String,
    pub labels: Vec<String>,
    /// Comment on the existing issue when the error is already reported (one write per
    /// occurrence; off by default).
    pub comment_on_duplicate: bool,
}

/// A request after checking and scrubbing: nothing in it holds a credential.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub repo: RepoName,
    pub title: String,
    /// The scrubbed log (for bodies).
    pub log: String,
    pub labels: Vec<String>,
    pub signature: String,
}

impl Checked {
    pub fn new(req: &ReportRequest, normalizer: &Normalizer) -> Result<Self, ReportError> {
        let repo: RepoName = req.repo.parse()?;
        let title = one_line(&normalizer.scrub(&req.title));
        if title.is_empty() {
            return Err(ReportError::Usage("the title is empty; give the error a title".into()));
        }
        let title: String = title.chars().take(MAX_TITLE_CHARS).collect();
        let log = crate::text_of(req.log.as_bytes());
        let log = normalizer.scrub(&log).into_owned();
        let mut labels: Vec<String> = Vec::new();
        for label in &req.labels {
            let label = one_line(label);
            if label.is_empty() {
                continue;
            }
            if label.chars().count() > MAX_LABEL_CHARS {
                return Err(ReportError::Usage(format!(
                    "label {label:?} is longer than {MAX_LABEL_CHARS} characters"
                )));
            }
            if !labels.iter().any(|l| l.eq_ignore_ascii_case(&label)) {
                labels.push(label);
            }
        }
        let signature = crate::signature(&title, &normalizer.normalize(&log));
        Ok(Checked {
            repo,
            title,
            log,
            labels,
            signature,
        })
    }

    /// The new issue's body: the end of the log in a code block, and the marker.
    pub fn issue_body(&self) -> String {
        let mut body = String::new();
        if !self.log.trim().is_empty() {
            body.push_str(&fenced(tail_chars(&self.log, MAX_BODY_LOG_CHARS)));
            body.push('\n');
        }
        body.push_str(
            "Reported by `gh-p2p-cache report-error`: later occurrences of this error (same signature) are \
             deduplicated into this issue.\n\n",
        );
        body.push_str(&marker(&self.signature));
        body.push('\n');
        body
    }

    /// A "seen again" comment on an existing issue.
    pub fn occurrence_comment(&self) -> String {
        let mut body = String::from("This error occurred again.\n");
        if !self.log.trim().is_empty() {
            body.push('\n');
            body.push_str(&fenced(tail_chars(&self.log, MAX_COMMENT_LOG_CHARS)));
        }
        body
    }
}

/// Control characters dropped, whitespace collapsed, trimmed.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn tail_chars(s: &str, max: usize) -> &str {
    match s.char_indices().rev().nth(max.saturating_sub(1)) {
        Some((i, _)) if max > 0 => &s[i..],
        _ => s,
    }
}

/// A code block whose fence is longer than any backtick run inside, so the log cannot close it.
fn fenced(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{}\n{fence}\n", text.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_and_fences() {
        assert_eq!(tail_chars("abcdef", 2), "ef");
        assert_eq!(tail_chars("ab", 5), "ab");
        assert_eq!(tail_chars("héllo", 4), "éllo");
        let f = fenced("a ```` b");
        assert!(f.starts_with("`````text\n") && f.ends_with("\n`````\n"), "{f}");
        assert_eq!(fenced("x"), "```text\nx\n```\n");
    }
}
