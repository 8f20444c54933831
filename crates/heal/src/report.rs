//! The report-error algorithm: claim, find, create only when nothing was found, check for a
//! racing duplicate, resolve the claim.

use crate::claims::{Claim, Claims};
use crate::normalize::Normalizer;
use crate::request::{Checked, RepoName, ReportRequest};
use crate::{MARKER_PREFIX, ReportError, parse_marker};
use std::future::Future;

/// An issue as the algorithm needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundIssue {
    pub number: u64,
    /// The page for people (`html_url`).
    pub url: String,
    pub body: Option<String>,
    pub open: bool,
    pub labels: Vec<String>,
}

/// Why a call to GitHub failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerError {
    /// GitHub answered and said no: bad credentials, no permission, no such repository,
    /// invalid request (401, 403 other than rate limits, 404, 410, 422).
    #[error("GitHub refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    /// No answer, or one that says "later": network or daemon failure, 5xx, rate limits.
    #[error("GitHub could not be reached or is unavailable: {0}")]
    Unavailable(String),
}

/// The GitHub calls the algorithm makes. `fresh` asks the cache to revalidate with GitHub
/// (`Cache-Control: no-cache`) instead of answering from a possibly stale copy.
pub trait IssueTracker: Sync {
    /// The first page (up to 100) of `GET /search/issues?q=...`.
    fn search_issues(
        &self,
        query: &str,
        fresh: bool,
    ) -> impl Future<Output = Result<Vec<FoundIssue>, TrackerError>> + Send;
    /// One page (1-based, 100 a page, oldest first) of the repository's open issues carrying
    /// all of `labels`.
    fn list_open_issues(
        &self,
        repo: &RepoName,
        labels: &[String],
        page: u32,
        fresh: bool,
    ) -> impl Future<Output = Result<Vec<FoundIssue>, TrackerError>> + Send;
    /// The repository's newest open issues (one page of up to 100, newest first, any labels):
    /// what was filed while we were filing.
    fn list_newest_open_issues(
        &self,
        repo: &RepoName,
        fresh: bool,
    ) -> impl Future<Output = Result<Vec<FoundIssue>, TrackerError>> + Send;
    fn create_issue(
        &self,
        repo: &RepoName,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> impl Future<Output = Result<FoundIssue, TrackerError>> + Send;
    fn comment(
        &self,
        repo: &RepoName,
        number: u64,
        body: &str,
    ) -> impl Future<Output = Result<(), TrackerError>> + Send;
    fn close_issue(&self, repo: &RepoName, number: u64) -> impl Future<Output = Result<(), TrackerError>> + Send;
}

/// What [`report_error`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOutcome {
    /// The issue that stands for this error.
    pub url: String,
    pub number: u64,
    /// This call created it.
    pub created: bool,
    /// This call created an issue, found an earlier one with the same signature, and closed
    /// its own (this number) as a duplicate.
    pub duplicate_closed: Option<u64>,
    pub signature: String,
}

/// How many pages of open issues the fallback lists (search unavailable) before it concludes
/// there is no issue yet.
pub const MAX_LIST_PAGES: u32 = 10;
const PER_PAGE: usize = 100;

/// Reports an error: see the crate documentation for the steps and their API cost.
pub async fn report_error<T: IssueTracker, C: Claims>(
    tracker: &T,
    claims: &C,
    normalizer: &Normalizer,
    req: &ReportRequest,
) -> Result<ReportOutcome, ReportError> {
    let checked = Checked::new(req, normalizer)?;
    let repo_key = checked.repo.to_string();
    match claims.claim(&repo_key, &checked.signature).await {
        Claim::Known { url, number } => {
            if req.comment_on_duplicate {
                tracker
                    .comment(&checked.repo, number, &checked.occurrence_comment())
                    .await?;
            }
            Ok(ReportOutcome {
                url,
                number,
                created: false,
                duplicate_closed: None,
                signature: checked.signature,
            })
        }
        Claim::Mine => {
            let outcome = find_or_create(tracker, &checked, req.comment_on_duplicate).await;
            match &outcome {
                Ok(o) => claims.resolve(&repo_key, &o.signature, &o.url, o.number).await,
                Err(_) => claims.abandon(&repo_key, &checked.signature).await,
            }
            outcome
        }
    }
}

async fn find_or_create<T: IssueTracker>(
    tracker: &T,
    req: &Checked,
    comment_on_duplicate: bool,
) -> Result<ReportOutcome, ReportError> {
    let outcome = |issue: &FoundIssue, created, duplicate_closed| ReportOutcome {
        url: issue.url.clone(),
        number: issue.number,
        created,
        duplicate_closed,
        signature: req.signature.clone(),
    };
    if let Some(existing) = find(tracker, req, false).await? {
        tracing::debug!(number = existing.number, signature = %req.signature, "error already reported");
        if comment_on_duplicate {
            tracker
                .comment(&req.repo, existing.number, &req.occurrence_comment())
                .await?;
        }
        return Ok(outcome(&existing, false, None));
    }
    let ours = tracker
        .create_issue(&req.repo, &req.title, &req.issue_body(), &req.labels)
        .await?;
    tracing::info!(number = ours.number, signature = %req.signature, "reported a new error");
    // Someone may have created the same issue meanwhile: it is among the newest open issues,
    // whatever labels it got (GitHub drops labels a token may not set), and listing is
    // consistent where search indexes with a delay. One read, past the cache.
    let newest = tracker.list_newest_open_issues(&req.repo, true).await?;
    let Some(first) = earliest(newest, &req.signature) else {
        return Ok(outcome(&ours, true, None));
    };
    if first.number >= ours.number {
        return Ok(outcome(&ours, true, None));
    }
    // Ours is the later one: close it, pointing at the first.
    let note = format!(
        "Duplicate of #{} ({}), which reports the same error (signature `{}`); closing this one.",
        first.number, first.url, req.signature
    );
    tracker.comment(&req.repo, ours.number, &note).await?;
    tracker.close_issue(&req.repo, ours.number).await?;
    tracing::info!(closed = ours.number, kept = first.number, "closed a racing duplicate");
    if comment_on_duplicate {
        tracker
            .comment(&req.repo, first.number, &req.occurrence_comment())
            .await?;
    }
    Ok(outcome(&first, false, Some(ours.number)))
}

/// The earliest open issue of the repository whose marker carries the signature.
async fn find<T: IssueTracker>(tracker: &T, req: &Checked, fresh: bool) -> Result<Option<FoundIssue>, ReportError> {
    let query = format!(
        "repo:{} is:issue is:open \"{MARKER_PREFIX}{}\" in:body",
        req.repo, req.signature
    );
    match tracker.search_issues(&query, fresh).await {
        Ok(found) => return Ok(earliest(found, &req.signature)),
        // Bad credentials fail the listing as well; say so now.
        Err(TrackerError::Refused { status: 401, message }) => {
            return Err(ReportError::Refused { status: 401, message });
        }
        Err(e) => tracing::debug!(error = %e, "search unavailable; listing open issues instead"),
    }
    let mut best: Option<FoundIssue> = None;
    for page in 1..=MAX_LIST_PAGES {
        let found = tracker.list_open_issues(&req.repo, &req.labels, page, fresh).await?;
        let full = found.len() >= PER_PAGE;
        if let Some(hit) = earliest(found, &req.signature)
            && best.as_ref().is_none_or(|b| hit.number < b.number)
        {
            best = Some(hit);
        }
        if !full {
            break;
        }
    }
    Ok(best)
}

/// Search is fuzzy (and may match quoted text elsewhere): keep only open issues whose marker
/// is exactly ours, and of those the first filed.
fn earliest(found: Vec<FoundIssue>, signature: &str) -> Option<FoundIssue> {
    found
        .into_iter()
        .filter(|i| i.open && i.body.as_deref().and_then(parse_marker) == Some(signature))
        .min_by_key(|i| i.number)
}
