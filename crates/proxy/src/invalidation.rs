//! Write-driven invalidation by tag, as times: an entry is stale if it was fetched at or before
//! the last successful write to its tag. Persisted through the store's metadata so a restart
//! cannot resurrect entries a write made stale.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use store::Store;

const META_KEY: &str = "invalidations_v1";

#[derive(Default)]
pub struct Invalidations {
    by_tag: RwLock<HashMap<String, u64>>,
    /// Bumped by every invalidation: reads coalesce only within one generation, so a read that
    /// follows a write never joins an upstream fetch sent before it (read-your-writes).
    generation: AtomicU64,
}

impl Invalidations {
    pub fn load(store: &Store) -> Self {
        let map = store
            .meta_get(META_KEY)
            .and_then(|raw| serde_json::from_slice::<HashMap<String, u64>>(&raw).ok())
            .unwrap_or_default();
        Invalidations {
            by_tag: RwLock::new(map),
            generation: AtomicU64::new(0),
        }
    }

    /// How many invalidations this process has recorded.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// True if an entry with `tags`, fetched at `fetched_at_ms`, predates a write to any of them.
    pub fn is_stale(&self, tags: &[String], fetched_at_ms: u64) -> bool {
        let map = self.by_tag.read().expect("invalidations lock");
        let all = map.get(crate::classify::TAG_ALL).copied().unwrap_or(0);
        let own = tags
            .iter()
            .filter_map(|t| map.get(t.as_str()))
            .copied()
            .max()
            .unwrap_or(0);
        fetched_at_ms <= all.max(own)
    }

    pub fn invalidate(&self, store: &Store, tags: &[String], at_ms: u64) {
        let encoded = {
            let mut map = self.by_tag.write().expect("invalidations lock");
            for t in tags {
                let slot = map.entry(t.clone()).or_insert(0);
                *slot = (*slot).max(at_ms);
            }
            serde_json::to_vec(&*map).expect("serialize invalidation map")
        };
        self.generation.fetch_add(1, Ordering::AcqRel);
        store.meta_put(META_KEY, encoded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_the_global_tag() {
        let store = Store::memory_only(1 << 20);
        let inv = Invalidations::load(&store);
        let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(!inv.is_stale(&tags(&["o/r"]), 10));
        assert_eq!(inv.generation(), 0);
        inv.invalidate(&store, &tags(&["o/r"]), 100);
        assert_eq!(inv.generation(), 1);
        assert!(inv.is_stale(&tags(&["o/r"]), 100));
        assert!(inv.is_stale(&tags(&["graphql", "o/r"]), 100), "any tag counts");
        assert!(!inv.is_stale(&tags(&["o/r"]), 101));
        assert!(!inv.is_stale(&tags(&["x/y"]), 50));
        inv.invalidate(&store, &tags(&["*"]), 200);
        assert!(inv.is_stale(&tags(&["x/y"]), 150));
        assert!(inv.is_stale(&[], 150));
    }
}
