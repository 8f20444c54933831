//! The `heal` algorithm's view of GitHub, over this client: [`heal::IssueTracker`] for
//! [`Client`], with GitHub's answers sorted into "refused" and "unavailable".

use crate::{Client, ClientError, Issue};
use heal::{FoundIssue, IssueTracker, RepoName, TrackerError};
use octocrab::models::IssueState;
use octocrab::params;

fn found(issue: Issue) -> FoundIssue {
    FoundIssue {
        number: issue.number,
        url: issue.html_url.to_string(),
        body: issue.body,
        open: issue.state == IssueState::Open,
        labels: issue.labels.into_iter().map(|l| l.name).collect(),
    }
}

/// 401, 404, 410, 422 and a 403 that is not about rate limits are GitHub saying no; the rest
/// (429, 5xx, a rate-limit 403, no answer) are "try later".
fn sort(e: ClientError) -> TrackerError {
    match e {
        ClientError::GitHub { status, message }
            if matches!(status, 401 | 404 | 410 | 422)
                || (status == 403 && !message.to_ascii_lowercase().contains("rate limit")) =>
        {
            TrackerError::Refused { status, message }
        }
        other => TrackerError::Unavailable(other.to_string()),
    }
}

impl IssueTracker for Client {
    async fn search_issues(&self, query: &str, fresh: bool) -> Result<Vec<FoundIssue>, TrackerError> {
        let items = self.use_cache(!fresh).search_page(query, 1).await.map_err(sort)?;
        Ok(items.into_iter().map(found).collect())
    }

    async fn list_open_issues(
        &self,
        repo: &RepoName,
        labels: &[String],
        page: u32,
        fresh: bool,
    ) -> Result<Vec<FoundIssue>, TrackerError> {
        let items = self
            .use_cache(!fresh)
            .list_page(repo, params::State::Open, labels, page)
            .await
            .map_err(sort)?;
        Ok(items.into_iter().map(found).collect())
    }

    async fn list_newest_open_issues(&self, repo: &RepoName, fresh: bool) -> Result<Vec<FoundIssue>, TrackerError> {
        let items = self
            .use_cache(!fresh)
            .octocrab()
            .issues(&repo.owner, &repo.name)
            .list()
            .state(params::State::Open)
            .sort(params::issues::Sort::Created)
            .direction(params::Direction::Descending)
            .per_page(100u8)
            .page(1u32)
            .send()
            .await
            .map_err(|e| sort(e.into()))?
            .items;
        Ok(items.into_iter().map(found).collect())
    }

    async fn create_issue(
        &self,
        repo: &RepoName,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<FoundIssue, TrackerError> {
        let issue = self
            .octocrab()
            .issues(&repo.owner, &repo.name)
            .create(title)
            .body(body)
            .labels(labels.to_vec())
            .send()
            .await
            .map_err(|e| sort(e.into()))?;
        Ok(found(issue))
    }

    async fn comment(&self, repo: &RepoName, number: u64, body: &str) -> Result<(), TrackerError> {
        self.octocrab()
            .issues(&repo.owner, &repo.name)
            .create_comment(number, body)
            .await
            .map_err(|e| sort(e.into()))?;
        Ok(())
    }

    async fn close_issue(&self, repo: &RepoName, number: u64) -> Result<(), TrackerError> {
        self.octocrab()
            .issues(&repo.owner, &repo.name)
            .update(number)
            .state(IssueState::Closed)
            .send()
            .await
            .map_err(|e| sort(e.into()))?;
        Ok(())
    }
}
