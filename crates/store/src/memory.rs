//! The memory tier: a moka cache (TinyLFU admission, LRU eviction) bounded in bytes.

use crate::{StoreError, Tier, Usage};
use entry::StoredResponse;
use moka::sync::Cache;
use std::sync::Arc;

pub struct MemoryTier {
    cache: Cache<String, Arc<StoredResponse>>,
}

impl MemoryTier {
    pub fn new(max_bytes: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|k: &String, v: &Arc<StoredResponse>| u32::try_from(k.len() + v.weight()).unwrap_or(u32::MAX))
            .build();
        MemoryTier { cache }
    }
}

impl Tier for MemoryTier {
    fn get(&self, key: &str) -> Result<Option<Arc<StoredResponse>>, StoreError> {
        Ok(self.cache.get(key))
    }

    fn put(&self, key: &str, value: Arc<StoredResponse>) -> Result<(), StoreError> {
        self.cache.insert(key.to_owned(), value);
        Ok(())
    }

    fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.cache.invalidate(key);
        Ok(())
    }

    fn usage(&self) -> Usage {
        // moka applies pending maintenance lazily; the figures are approximate by design.
        Usage {
            entries: self.cache.entry_count(),
            bytes: self.cache.weighted_size(),
        }
    }

    fn clear(&self) -> Result<(), StoreError> {
        self.cache.invalidate_all();
        Ok(())
    }
}

impl MemoryTier {
    /// Visits every entry held.
    pub fn scan(&self, visit: &mut dyn FnMut(&str, &StoredResponse)) {
        for (k, v) in self.cache.iter() {
            visit(&k, &v);
        }
    }

    /// Every key currently held.
    pub fn keys(&self) -> Vec<String> {
        self.cache.iter().map(|(k, _)| (*k).clone()).collect()
    }

    /// Runs moka's pending maintenance so `usage` is exact (tests, stats snapshots).
    pub fn sync(&self) {
        self.cache.run_pending_tasks();
    }
}
