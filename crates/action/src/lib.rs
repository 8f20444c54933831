//! The GitHub Action's runtime, run by `gh-p2p-cache action main|post` from the `dist/` shims.
//!
//! - [`runner`]: our own small layer over the runner's file commands and workflow commands
//!   (inputs, state, outputs, environment, job summary with its size guard, groups, masks).
//! - [`actions_cache`]: the GitHub Actions cache service (v2, Twirp) client that saves and
//!   restores the snapshot.

pub mod actions_cache;
pub mod runner;
