//! `ghsim`: a simulated GitHub REST and GraphQL API, faithful enough to measure a cache
//! honestly. Tests start it with [`Sim::start`]; benchmarks run the `ghsim` binary.
//!
//! # What is modelled
//! - Data: org `octo` with public `octo/hello` ([`Seed::issues_per_repo`] issues, default
//!   labels, comments) and private `octo/secret`; users octocat, alice, bob, carol.
//! - REST: `GET /repos/{o}/{r}`; issues list (`state`, `labels`, `sort`, `direction`, `since`,
//!   `creator`, `assignee`, `per_page`, `page`, `Link`), get, create, update; comments list and
//!   create; labels list, get, create; `/users/{login}`, `/user`, `/search/issues`,
//!   `/rate_limit`. Search `q` understands `repo:o/r`, `user:`/`org:`, `is:issue|pr|open|closed`,
//!   `type:`, `state:`, `label:` (repeatable, quoted, negatable), `no:label`, `no:assignee`,
//!   `author:`, `assignee:`, `in:title|body|comments`, `sort:field-dir`, and free-text words
//!   (all must occur in title and body, or the `in:` fields).
//! - GraphQL (`POST /graphql`, or `/api/graphql` with prefix `/api/v3`): a small parser and
//!   executor with fragments, variables, aliases and `@skip`/`@include`, over a slice of the
//!   schema: `repository` (with `issues`, `issue`, `labels`, ...), `viewer`, `user`,
//!   `rateLimit`, `search(type: ISSUE)`, `node(s)`, and the mutations `createIssue`,
//!   `updateIssue`, `closeIssue`, `reopenIssue`, `addComment`, `addLabelsToLabelable`,
//!   `removeLabelsFromLabelable`. Enough for gh 2.23's `issue list` (also `--label`,
//!   `--search`, `--state all` past 100), `issue create`, `issue view [--comments]`,
//!   `issue close/reopen/comment/edit`, `issue status`, `api graphql` (captured queries in
//!   `tests/fixtures/gh-2.23-queries.json`).
//! - Tokens with per-repository access ([`Access`]); private repositories answer 404 to
//!   everyone else; unknown tokens 401; no token = anonymous.
//! - GitHub's token-specific ETag (see FACTS.md), `Last-Modified`, `If-None-Match` /
//!   `If-Modified-Since` answered 304 (free when authorized), GitHub's standard headers, gzip.
//! - Primary limits per login and resource with `x-ratelimit-*` headers; the secondary limit on
//!   concurrent requests; GraphQL cost as GitHub computes it.
//! - Fault injection and counters under `/_sim/` (outside any prefix, never counted or
//!   charged): `GET /_sim/stats` ([`SimStats`]), `POST /_sim/reset-stats`, and
//!   `GET|POST|DELETE /_sim/faults` ([`Faults`]; `POST` replaces the settings).
//!
//! # What is not modelled
//! - Pull requests, commits, contents, releases, checks, orgs/teams, milestones, reactions,
//!   projects, events, timelines (empty where clients ask), webhooks, issue locking.
//! - GraphQL: no type checking of arguments or variables, no introspection beyond
//!   `__type(name:) { fields { name } }` (which gh uses on GHES), no
//!   `Field 'x' is missing required arguments` checks; only the fields resolved in
//!   `graphql/schema.rs` and `graphql/objects.rs` exist (others are `undefinedField` errors).
//!   Cursors and node ids are opaque but not GitHub's format. No node limit beyond
//!   `first`/`last` <= 100.
//! - Search: no `created:`/`updated:`/`comments:` ranges, no `involves:`/`mentions:`, no
//!   relevance ranking beyond "more words matched first"; GraphQL search with a hidden
//!   repository finds nothing instead of failing.
//! - Rate limits: secondary limits by points per minute or content creation are not
//!   modelled, only concurrency. When a bucket is exhausted, even a conditional request that
//!   would have been a 304 gets the 403 (the conservative reading). Anonymous callers share
//!   one bucket. `/rate_limit` only lists `core`, `search`, `graphql`.
//! - Permissions are coarse: a collaborator (push rights) is a token with [`Access::All`] or
//!   listed in [`Access::Only`]; anyone who can read a repository may open issues and comment;
//!   only collaborators and the author may edit an issue.
//! - Shapes: JSON keys come out sorted (GitHub's order differs; no client relies on it);
//!   `Link` URLs use `/repos/{owner}/{repo}/...` where GitHub uses `/repositories/{id}/...`.
//!   Each write is stamped with the current second, but strictly after the previous write, so
//!   `Last-Modified` always moves (a burst of writes may run a few seconds ahead of the clock).
//! - HTTP/2, TLS, `Accept` media types (every answer is JSON, `application/vnd.github.*`
//!   previews are ignored), JSON pretty-printing, `X-GitHub-OTP`, cookies (beyond the ETag).

// serde_json's json! macro recurses once per key; the repository object has ~50.
#![recursion_limit = "256"]

mod auth;
mod config;
mod control;
mod etag;
mod faults;
mod graphql;
mod limits;
mod model;
mod pipeline;
mod render;
mod rest;
mod search;
mod seed;
mod server;
mod state;
mod stats;
mod time;

use axum::Router;

pub use auth::ANONYMOUS;
pub use config::{Access, Limits, Seed, SimConfig, TOKEN_ALICE, TOKEN_BOB, TOKEN_CAROL, TokenSpec, default_tokens};
pub use faults::Faults;
pub use model::{Comment, Issue, IssueState, Label, Model, Repo, User, UserKind};
pub use server::{Sim, SimHandle};
pub use state::SimState;
pub use stats::SimStats;
pub use time::Timestamp;

/// The whole simulator as a router: `/_sim/` control endpoints plus the API (behind the
/// pipeline that authenticates, limits, counts and decorates). Usable without a socket via
/// `tower::ServiceExt::oneshot`; an injected reset then shows as a bodiless 500.
pub fn app(state: SimState) -> Router {
    let api = rest::routes(&state).layer(axum::middleware::from_fn_with_state(state.clone(), pipeline::api));
    control::routes().merge(api).with_state(state)
}
