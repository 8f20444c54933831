//! Auto-healing: deduplicated error reports. A failing job reports its error; the first report
//! of an error files an issue, every later one finds it. No network of its own: the GitHub calls
//! go through an [`IssueTracker`] (the `client` crate implements it over the daemon), and
//! concurrent reporters coordinate through a [`Claims`] board.
//!
//! # The steps of [`report_error`]
//! 1. Check the request ([`ReportError::Usage`] for a bad repository name, an empty title, an
//!    over-long label), scrub credentials from the title and log ([`entry::Scrubber`]: no token
//!    ever reaches an issue), normalize the log ([`normalize`]) and derive the [`signature`].
//! 2. Claim the signature on the [`Claims`] board. If another reporter already knows the issue,
//!    answer with it (optionally commenting): no GitHub call at all.
//! 3. Look for an open issue whose body carries the hidden [`marker`]: the search
//!    `repo:O/R is:issue is:open "gh-p2p-cache:signature=XXXX" in:body` through the cache (one
//!    cached read; repeated reports are cache hits), or, when search is unavailable (rate limited,
//!    failing), the repository's open issues with the request's labels, up to
//!    [`MAX_LIST_PAGES`] pages.
//! 4. Create the issue only when none was found: title, the end of the scrubbed log in a code
//!    block, the marker.
//! 5. Look again, past the cache, among the repository's newest open issues (one page, any
//!    labels: GitHub drops labels a token may not set): if an earlier open issue carries the same
//!    signature (another reporter raced us), comment on ours with a link to it, close ours, and answer with the
//!    earlier one. Racing reporters therefore converge on the lowest-numbered issue.
//! 6. Resolve the claim, so waiting reporters get the answer.
//!
//! # Exit codes of `gh-p2p-cache report-error`
//! [`ReportError::exit_code`]:
//! - `0`: reported; the issue URL (found or created) is printed on stdout.
//! - `1`: usage or bad input (repository not `OWNER/NAME`, empty title, unreadable log file).
//! - `2`: GitHub refused (bad credentials, no permission, no such repository, invalid request).
//! - `3`: network or daemon failure, GitHub unavailable or rate limited: try again later.

mod claims;
mod normalize;
mod report;
mod request;
mod signature;

pub use claims::{Claim, Claims, LocalClaims};
pub use normalize::{MAX_LOG_BYTES, NormalizeOptions, Normalizer, normalize, text_of};
pub use report::{FoundIssue, IssueTracker, MAX_LIST_PAGES, ReportOutcome, TrackerError, report_error};
pub use request::{
    MAX_BODY_LOG_CHARS, MAX_COMMENT_LOG_CHARS, MAX_LABEL_CHARS, MAX_TITLE_CHARS, RepoName, ReportRequest,
};
pub use signature::{MARKER_PREFIX, SIGNATURE_LEN, marker, parse_marker, signature};

/// Why a report failed; each kind has its exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("bad input: {0}")]
    Usage(String),
    #[error("GitHub refused the report ({status}): {message}; check the token's access to the repository")]
    Refused { status: u16, message: String },
    #[error("could not reach GitHub or the daemon: {0}; try again later")]
    Unavailable(String),
}

impl ReportError {
    /// 1 usage, 2 refused, 3 unavailable (0 is success).
    pub fn exit_code(&self) -> u8 {
        match self {
            ReportError::Usage(_) => 1,
            ReportError::Refused { .. } => 2,
            ReportError::Unavailable(_) => 3,
        }
    }
}

impl From<TrackerError> for ReportError {
    fn from(e: TrackerError) -> Self {
        match e {
            TrackerError::Refused { status, message } => ReportError::Refused { status, message },
            TrackerError::Unavailable(message) => ReportError::Unavailable(message),
        }
    }
}
