//! A GitHub client routed through the gh-p2p-cache daemon: [octocrab] over the daemon's Unix
//! socket or its loopback URL (GitHub directly when no daemon runs), with the calls the
//! auto-healing wrapper needs and deduplicated error reports ([`Client::report_error`], the
//! algorithm of the `heal` crate).
//!
//! Reads go through the daemon's cache: a repeated [`Client::list_issues`] is answered by the
//! daemon without spending GitHub's rate limit. [`Client::use_cache`]`(false)` makes a request
//! ask GitHub again (`Cache-Control: no-cache`: the daemon revalidates, which is free when
//! nothing changed).
//!
//! ```no_run
//! # async fn run() -> Result<(), client::ClientError> {
//! use client::{Client, IssueState};
//!
//! // GH_P2P_CACHE_SOCKET / GH_P2P_CACHE_URL and GITHUB_TOKEN / GH_TOKEN, as the Action sets them.
//! let gh = Client::from_env()?;
//! let open = gh.list_issues("octo/hello", IssueState::Open, &["bug"]).await?;
//! println!("{} open bugs", open.len());
//! let fresh = gh.use_cache(false).get_issue("octo/hello", 1).await?;
//! println!("#1 is {:?}", fresh.state);
//! # Ok(())
//! # }
//! ```
//!
//! Reporting an error: the first report files an issue, the others find it.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use client::{Client, ReportRequest};
//!
//! let gh = Client::builder().socket("/run/gh-p2p-cache.sock").token("ghp_...").build()?;
//! let outcome = gh
//!     .report_error(&ReportRequest {
//!         repo: "octo/hello".into(),
//!         title: "nightly build failed".into(),
//!         log: std::fs::read_to_string("build.log").unwrap_or_default(),
//!         labels: vec!["ci-failure".into()],
//!         comment_on_duplicate: false,
//!     })
//!     .await?;
//! println!("{}", outcome.url);
//! # Ok(())
//! # }
//! ```

mod daemon_claims;
mod route;
mod tracker;

pub use daemon_claims::DaemonClaims;

pub use heal::{LocalClaims, ReportError, ReportOutcome, ReportRequest};
pub use octocrab;
pub use octocrab::models::issues::Issue;
pub use route::{GITHUB_API, Route};

use heal::RepoName;
use octocrab::Octocrab;
use octocrab::params;
use std::path::PathBuf;
use std::sync::Arc;

/// Which issues [`Client::list_issues`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IssueState {
    #[default]
    Open,
    Closed,
    All,
}

/// The most pages [`Client::list_issues`] and [`Client::search_issues`] read (100 a page).
pub const MAX_PAGES: u32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot use route {0}: give a socket path or an http(s) URL")]
    BadRoute(String),
    #[error("the token cannot be used: {0}")]
    BadToken(&'static str),
    #[error(transparent)]
    BadRepo(#[from] ReportError),
    #[error("GitHub answered {status}: {message}")]
    GitHub { status: u16, message: String },
    #[error("the request failed: {0}; is the daemon running?")]
    Transport(String),
}

impl ClientError {
    /// The HTTP status GitHub (or the daemon) answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::GitHub { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<octocrab::Error> for ClientError {
    fn from(e: octocrab::Error) -> Self {
        match e {
            octocrab::Error::GitHub { source, .. } => ClientError::GitHub {
                status: source.status_code.as_u16(),
                message: source.message,
            },
            // Scrubbed anyway: transport errors name URLs, never headers.
            other => ClientError::Transport(heal::Normalizer::default().scrub(&other.to_string()).into_owned()),
        }
    }
}

/// Builds a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    route: Route,
    token: Option<String>,
}

impl ClientBuilder {
    /// Through the daemon's Unix socket.
    pub fn socket(mut self, path: impl Into<PathBuf>) -> Self {
        self.route = Route::Socket(path.into());
        self
    }

    /// Through a base URL: the daemon's `http://127.0.0.1:PORT`, or GitHub's API itself.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.route = Route::Url(url.into());
        self
    }

    pub fn route(mut self, route: Route) -> Self {
        self.route = route;
        self
    }

    /// The token sent as `Authorization: Bearer`; never logged.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    pub fn build(self) -> Result<Client, ClientError> {
        let token = self.token.as_deref();
        Ok(Client {
            cached: route::octocrab(&self.route, route::fixed_headers(token, false)?)?,
            fresh: route::octocrab(&self.route, route::fixed_headers(token, true)?)?,
            use_cache: true,
            claims: Arc::new(LocalClaims::new()),
            normalizer: Arc::new(heal::Normalizer::default()),
            route: self.route,
        })
    }
}

/// The token in `GITHUB_TOKEN`, else `GH_TOKEN` (empty values skipped), as `gh` reads it.
pub fn token_from_env() -> Option<String> {
    ["GITHUB_TOKEN", "GH_TOKEN"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|t| !t.trim().is_empty()))
}

/// A GitHub client routed through the daemon. Cheap to clone (clones share connections and the
/// claims board).
#[derive(Clone)]
pub struct Client {
    cached: Octocrab,
    fresh: Octocrab,
    use_cache: bool,
    claims: Arc<LocalClaims>,
    normalizer: Arc<heal::Normalizer>,
    route: Route,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("route", &self.route)
            .field("use_cache", &self.use_cache)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// GitHub's API directly, until [`ClientBuilder::socket`] or [`ClientBuilder::base_url`]
    /// says otherwise.
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            route: Route::Url(GITHUB_API.to_owned()),
            token: None,
        }
    }

    /// The route of [`Route::from_env`] and the token in `GITHUB_TOKEN` or `GH_TOKEN`.
    pub fn from_env() -> Result<Client, ClientError> {
        let token = token_from_env();
        let mut builder = Client::builder().route(Route::from_env());
        if let Some(token) = token {
            builder = builder.token(token);
        }
        builder.build()
    }

    pub fn route(&self) -> &Route {
        &self.route
    }

    /// This client with the cache allowed (`true`, the default) or bypassed for freshness
    /// (`false`: every request carries `Cache-Control: no-cache`).
    pub fn use_cache(&self, yes: bool) -> Client {
        Client {
            use_cache: yes,
            ..self.clone()
        }
    }

    /// The underlying octocrab instance (honouring [`Client::use_cache`]) for calls not
    /// wrapped here. Follow `Link` URLs with care: through a Unix socket they name GitHub, so
    /// page by number instead.
    pub fn octocrab(&self) -> &Octocrab {
        if self.use_cache { &self.cached } else { &self.fresh }
    }

    /// Issues of `repo` (`owner/name`) in `state` carrying all of `labels`, oldest first, up to
    /// [`MAX_PAGES`] pages.
    pub async fn list_issues(&self, repo: &str, state: IssueState, labels: &[&str]) -> Result<Vec<Issue>, ClientError> {
        let repo: RepoName = repo.parse()?;
        let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        let state = match state {
            IssueState::Open => params::State::Open,
            IssueState::Closed => params::State::Closed,
            IssueState::All => params::State::All,
        };
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let items = self.list_page(&repo, state, &labels, page).await?;
            let full = items.len() >= 100;
            out.extend(items);
            if !full {
                break;
            }
        }
        Ok(out)
    }

    pub(crate) async fn list_page(
        &self,
        repo: &RepoName,
        state: params::State,
        labels: &[String],
        page: u32,
    ) -> Result<Vec<Issue>, ClientError> {
        let handler = self.octocrab().issues(&repo.owner, &repo.name);
        let mut list = handler
            .list()
            .state(state)
            .sort(params::issues::Sort::Created)
            .direction(params::Direction::Ascending)
            .per_page(100u8)
            .page(page);
        if !labels.is_empty() {
            list = list.labels(labels);
        }
        Ok(list.send().await?.items)
    }

    pub async fn get_issue(&self, repo: &str, number: u64) -> Result<Issue, ClientError> {
        let repo: RepoName = repo.parse()?;
        Ok(self.octocrab().issues(&repo.owner, &repo.name).get(number).await?)
    }

    /// Creates an issue (a write: never cached; the daemon invalidates what it touches).
    pub async fn create_issue(
        &self,
        repo: &str,
        title: &str,
        body: &str,
        labels: &[&str],
    ) -> Result<Issue, ClientError> {
        let repo: RepoName = repo.parse()?;
        let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        Ok(self
            .octocrab()
            .issues(&repo.owner, &repo.name)
            .create(title)
            .body(body)
            .labels(labels)
            .send()
            .await?)
    }

    /// Issues matching a search query (`repo:o/r is:open ...`), up to [`MAX_PAGES`] pages.
    pub async fn search_issues(&self, query: &str) -> Result<Vec<Issue>, ClientError> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let items = self.search_page(query, page).await?;
            let full = items.len() >= 100;
            out.extend(items);
            if !full {
                break;
            }
        }
        Ok(out)
    }

    pub(crate) async fn search_page(&self, query: &str, page: u32) -> Result<Vec<Issue>, ClientError> {
        Ok(self
            .octocrab()
            .search()
            .issues_and_pull_requests(query)
            .per_page(100u8)
            .page(page)
            .send()
            .await?
            .items)
    }

    /// Reports an error, deduplicated (see the `heal` crate): finds the open issue carrying the
    /// error's signature or creates it. Reporters sharing this client (or its clones) coordinate
    /// through its claims board.
    pub async fn report_error(&self, req: &ReportRequest) -> Result<ReportOutcome, ReportError> {
        heal::report_error(self, self.claims.as_ref(), &self.normalizer, req).await
    }

    /// The daemon's claims board (shared with its peers through the sync-node), reached the way
    /// this client reaches the daemon.
    pub fn daemon_claims(&self) -> DaemonClaims {
        DaemonClaims::new(self.cached.clone())
    }

    /// Whether requests go to a gh-p2p-cache daemon (its socket, or a loopback URL) rather than
    /// to GitHub itself.
    pub fn through_daemon(&self) -> bool {
        match &self.route {
            Route::Socket(_) => true,
            Route::Url(url) => {
                url.starts_with("http://127.") || url.starts_with("http://localhost") || url.starts_with("http://[::1]")
            }
        }
    }

    /// [`Client::report_error`] with another claims board (one shared with peers).
    pub async fn report_error_with<C: heal::Claims>(
        &self,
        claims: &C,
        req: &ReportRequest,
    ) -> Result<ReportOutcome, ReportError> {
        heal::report_error(self, claims, &self.normalizer, req).await
    }
}
