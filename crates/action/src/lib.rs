//! The GitHub Action's runtime, run by `gh-p2p-cache action main|post` from the `dist/` shims.
//!
//! - [`runner`]: our own small layer over the runner's file commands and workflow commands
//!   (inputs, state, outputs, environment, job summary with its size guard, groups, masks).
//! - [`actions_cache`]: the GitHub Actions cache service (v2, Twirp) client that saves and
//!   restores the snapshot.
//! - `steps`: `main` (warm from the Actions cache, start the daemon detached, route `gh` through
//!   it) and `post` (finish, stop, save the snapshot, job summary, outputs, daemon log).

pub mod actions_cache;
mod control;
mod daemon;
mod ghconfig;
pub mod runner;
mod settings;
mod steps;
mod summary;
mod tiers;

pub use steps::run;
