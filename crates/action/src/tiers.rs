//! Where a warm start comes from and where a finished job's snapshot goes: ordered lists of
//! sources and sinks. The GitHub Actions cache is the first of each; peers and IPFS plug in here
//! as further variants, and the steps need not change.

use crate::actions_cache::{ActionsCache, version_for};
use crate::runner::Runner;
use entry::Keys;
use std::path::Path;

const KEY_PREFIX: &str = "gh-p2p-cache-v1";

pub enum Source {
    ActionsCache(ActionsCache),
}

pub enum Sink {
    ActionsCache(ActionsCache),
}

/// The configured sources and sinks, and notes on the ones that could not be used.
pub struct Tiers {
    pub sources: Vec<Source>,
    pub sinks: Vec<Sink>,
    pub notes: Vec<String>,
}

impl Tiers {
    pub fn from_runner(runner: &Runner, actions_cache_enabled: bool) -> Tiers {
        let mut tiers = Tiers {
            sources: Vec::new(),
            sinks: Vec::new(),
            notes: Vec::new(),
        };
        if actions_cache_enabled {
            let make =
                || ActionsCache::new(runner.var("ACTIONS_RESULTS_URL")?, runner.var("ACTIONS_RUNTIME_TOKEN")?).into();
            match make() {
                Some(Ok(_)) => {
                    // One client per list: each is used on its own step.
                    if let Some(Ok(c)) = make() {
                        tiers.sources.push(Source::ActionsCache(c));
                    }
                    if let Some(Ok(c)) = make() {
                        tiers.sinks.push(Sink::ActionsCache(c));
                    }
                }
                Some(Err(e)) => tiers.notes.push(format!("the Actions cache is unusable: {e}")),
                None => tiers
                    .notes
                    .push("no Actions cache service in this environment".to_owned()),
            }
        }
        tiers
    }
}

impl Source {
    pub fn name(&self) -> &'static str {
        match self {
            Source::ActionsCache(_) => "the Actions cache",
        }
    }

    /// Writes the newest snapshot these keys can open to `dest`; returns what it was (a key).
    pub async fn fetch(&self, keys: &Keys, dest: &Path) -> Result<Option<String>, String> {
        match self {
            Source::ActionsCache(cache) => {
                // Keyed by key id, so only snapshots these keys can open are restored.
                let prefix = format!("{KEY_PREFIX}-{}-", keys.key_id());
                let found = cache
                    .restore(
                        &prefix,
                        std::slice::from_ref(&prefix),
                        &version_for("snapshot-v1"),
                        dest,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(found.map(|r| r.matched_key))
            }
        }
    }
}

impl Sink {
    pub fn name(&self) -> &'static str {
        match self {
            Sink::ActionsCache(_) => "the Actions cache",
        }
    }

    /// Publishes the snapshot in `file`; `unique` names this job's copy. Returns where it went.
    pub async fn publish(&self, keys: &Keys, file: &Path, unique: &str) -> Result<String, String> {
        match self {
            Sink::ActionsCache(cache) => {
                let key = format!("{KEY_PREFIX}-{}-{unique}", keys.key_id());
                cache
                    .save(&key, &version_for("snapshot-v1"), file)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(key)
            }
        }
    }
}
