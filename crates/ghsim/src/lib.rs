//! `ghsim`: a simulated GitHub REST and GraphQL API, faithful enough to measure a cache
//! honestly. Tests start it with [`Sim::start`]; benchmarks run the `ghsim` binary.
//!
//! # What is modelled
//! - Data: org `octo` with public `octo/hello` ([`Seed::issues_per_repo`] issues, default
//!   labels, comments) and private `octo/secret`; users octocat, alice, bob, carol.
//! - REST: `GET /repos/{o}/{r}`; issues list (`state`, `labels`, `sort`, `direction`, `since`,
//!   `creator`, `assignee`, `per_page`, `page`, `Link`), get, create, update; comments list and
//!   create; labels list, get, create; `/users/{login}`, `/user`, `/search/issues` (see
//!   [`search`] for the `q` subset), `/rate_limit`.
//! - GraphQL (`POST /graphql`, or `/api/graphql` with prefix `/api/v3`): a small parser and
//!   executor with fragments, variables, aliases and `@skip`/`@include`, over a slice of the
//!   schema: `repository` (with `issues`, `issue`, `labels`, ...), `viewer`, `user`,
//!   `rateLimit`, `search(type: ISSUE)`, `node(s)`, and the mutations `createIssue`,
//!   `updateIssue`, `closeIssue`, `reopenIssue`, `addComment`. Enough for `gh issue list`,
//!   `gh issue create`, `gh issue view`-style queries (fixtures in `tests/fixtures/`).
//! - Tokens with per-repository access ([`Access`]); private repositories answer 404 to
//!   everyone else; unknown tokens 401; no token = anonymous.
//! - GitHub's token-specific ETag ([`etag`]), `Last-Modified`, `If-None-Match` /
//!   `If-Modified-Since` answered 304 (free when authorized), GitHub's standard headers, gzip.
//! - Primary limits per login and resource with `x-ratelimit-*` headers; the secondary limit on
//!   concurrent requests; GraphQL cost as GitHub computes it.
//! - Fault injection and counters under `/_sim/` ([`Faults`], [`SimStats`]).
//!
//! # What is not modelled
//! - Pull requests, commits, contents, releases, checks, orgs/teams, milestones, reactions,
//!   projects, events, timelines (empty where clients ask), webhooks, issue locking.
//! - GraphQL: no type checking of arguments or variables, no introspection, no
//!   `Field 'x' is missing required arguments` checks; only the fields listed in
//!   `graphql/schema.rs` exist (others are `undefinedField` errors). Cursors are opaque but not
//!   GitHub's format. No GraphQL node/edge limits beyond `first`/`last` <= 100.
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
//! - HTTP/2, TLS, `Accept` media types (every answer is JSON, `application/vnd.github.*`
//!   previews are ignored), JSON pretty-printing, `X-GitHub-OTP`, cookies (beyond the ETag).

// serde_json's json! macro recurses once per key; the repository object has ~50.
#![recursion_limit = "256"]

mod auth;
mod config;
mod control;
pub mod etag;
mod faults;
mod graphql;
mod limits;
mod model;
mod pipeline;
mod render;
mod rest;
pub mod search;
mod seed;
mod server;
mod state;
mod stats;
mod time;

use axum::Router;

pub use auth::ANONYMOUS;
pub use config::{
    Access, Limits, Seed, SimConfig, TOKEN_ALICE, TOKEN_BOB, TOKEN_CAROL, TokenSpec, default_tokens,
};
pub use faults::Faults;
pub use model::{Comment, Issue, IssueState, Label, Model, Repo, User, UserKind};
pub use server::{Sim, SimHandle, serve};
pub use state::SimState;
pub use stats::SimStats;
pub use time::Timestamp;

/// The whole simulator as a router: `/_sim/` control endpoints plus the API (behind the
/// pipeline that authenticates, limits, counts and decorates). Usable without a socket via
/// `tower::ServiceExt::oneshot`; an injected reset then shows as a bodiless 500.
pub fn app(state: SimState) -> Router {
    let api = rest::routes(&state).layer(axum::middleware::from_fn_with_state(
        state.clone(),
        pipeline::api,
    ));
    control::routes().merge(api).with_state(state)
}
