//! The store the proxy uses: memory first, then disk, with failures turned into misses.

use crate::{DiskTier, MemoryTier, OpenError, Tier, Usage};
use entry::StoredResponse;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Store {
    memory: MemoryTier,
    disk: Option<Arc<DiskTier>>,
    errors: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct StoreStats {
    pub memory: Usage,
    pub disk: Usage,
    pub errors: u64,
    pub dropped_writes: u64,
    pub evicted: u64,
}

impl Store {
    pub fn memory_only(max_memory: u64) -> Self {
        Store {
            memory: MemoryTier::new(max_memory),
            disk: None,
            errors: AtomicU64::new(0),
        }
    }

    pub fn open(dir: &Path, max_memory: u64, max_disk: u64) -> Result<Self, OpenError> {
        let disk = DiskTier::open(dir, max_disk)?;
        Ok(Store {
            memory: MemoryTier::new(max_memory),
            disk: Some(Arc::new(disk)),
            errors: AtomicU64::new(0),
        })
    }

    pub fn disk(&self) -> Option<&DiskTier> {
        self.disk.as_deref()
    }

    /// Looks in memory, then on disk (off the async threads); a disk hit is promoted to memory.
    pub async fn get(&self, key: &str) -> Option<Arc<StoredResponse>> {
        if let Ok(Some(hit)) = self.memory.get(key) {
            return Some(hit);
        }
        let disk = self.disk.clone()?;
        let owned = key.to_owned();
        let found = match tokio::task::spawn_blocking(move || disk.get(&owned)).await {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                self.failed("get", &e);
                None
            }
            Err(e) => {
                self.failed("get", &e);
                None
            }
        };
        if let Some(hit) = &found {
            let _ = self.memory.put(key, hit.clone());
        }
        found
    }

    /// Stores in memory at once and queues the disk write.
    pub fn put(&self, key: &str, value: Arc<StoredResponse>) {
        let _ = self.memory.put(key, value.clone());
        if let Some(disk) = &self.disk
            && let Err(e) = disk.put(key, value)
        {
            self.failed("put", &e);
        }
    }

    /// Stores without ever dropping the disk write (waits for queue room): bulk imports.
    /// With a disk tier the entry goes to disk only (reads promote it to memory later), so a
    /// bulk load does not churn the memory tier. Blocks; call it off the async threads.
    pub fn put_blocking(&self, key: &str, value: Arc<StoredResponse>) {
        match &self.disk {
            Some(disk) => {
                if let Err(e) = disk.put_wait(key, &value) {
                    self.failed("put", &e);
                }
                let _ = self.memory.remove(key);
            }
            None => {
                let _ = self.memory.put(key, value);
            }
        }
    }

    /// Looks up many keys at once (bulk imports): memory first, the rest in one disk read.
    pub fn get_many_blocking(&self, keys: &[&str]) -> Vec<Option<Arc<StoredResponse>>> {
        let mut out: Vec<Option<Arc<StoredResponse>>> =
            keys.iter().map(|k| self.memory.get(k).ok().flatten()).collect();
        if let Some(disk) = &self.disk {
            let missing: Vec<&str> = keys
                .iter()
                .zip(&out)
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| *k)
                .collect();
            if !missing.is_empty() {
                match disk.get_many(&missing) {
                    Ok(found) => {
                        let mut found = found.into_iter();
                        for slot in out.iter_mut().filter(|v| v.is_none()) {
                            *slot = found.next().flatten().map(Arc::new);
                        }
                    }
                    Err(e) => self.failed("get_many", &e),
                }
            }
        }
        out
    }

    /// Waits until every accepted write is durable. Blocks; call it off the async threads.
    pub fn flush_blocking(&self) {
        if let Some(disk) = &self.disk
            && let Err(e) = disk.flush()
        {
            self.failed("flush", &e);
        }
    }

    /// Visits every entry: the disk tier when there is one (it holds everything the memory
    /// tier does once flushed), else the memory tier. Blocks; call it off the async threads.
    pub fn scan_blocking(&self, visit: &mut dyn FnMut(&str, &StoredResponse)) {
        match &self.disk {
            Some(disk) => {
                if let Err(e) = disk.scan(visit) {
                    self.failed("scan", &e);
                }
            }
            None => self.memory.scan(visit),
        }
    }

    /// Looks up one key without promoting it (blocking; for bulk imports).
    pub fn get_blocking(&self, key: &str) -> Option<Arc<StoredResponse>> {
        if let Ok(Some(hit)) = self.memory.get(key) {
            return Some(hit);
        }
        self.disk.as_ref().and_then(|d| d.get(key).ok().flatten())
    }

    pub fn remove(&self, key: &str) {
        let _ = self.memory.remove(key);
        if let Some(disk) = &self.disk
            && let Err(e) = disk.remove(key)
        {
            self.failed("remove", &e);
        }
    }

    pub fn clear(&self) {
        let _ = self.memory.clear();
        if let Some(disk) = &self.disk
            && let Err(e) = disk.clear()
        {
            self.failed("clear", &e);
        }
    }

    /// Removes every entry for which `matches(key, entry)` holds, in both tiers; returns how
    /// many distinct keys were removed. Durable when it returns.
    pub async fn remove_where<F>(&self, matches: F) -> usize
    where
        F: Fn(&str, &StoredResponse) -> bool + Send + Sync + 'static,
    {
        let matches = Arc::new(matches);
        let mut keys = std::collections::BTreeSet::new();
        self.memory.scan(&mut |k, v| {
            if matches(k, v) {
                keys.insert(k.to_owned());
            }
        });
        if let Some(disk) = self.disk.clone() {
            let m = matches.clone();
            let found = tokio::task::spawn_blocking(move || {
                let mut found = Vec::new();
                disk.scan(&mut |k, v| {
                    if m(k, v) {
                        found.push(k.to_owned());
                    }
                })
                .map(|()| found)
            })
            .await;
            match found {
                Ok(Ok(found)) => keys.extend(found),
                Ok(Err(e)) => self.failed("scan", &e),
                Err(e) => self.failed("scan", &e),
            }
        }
        for k in &keys {
            self.remove(k);
        }
        self.flush().await;
        keys.len()
    }

    /// Oldest and newest fetch times (Unix ms) over both tiers, or `None` when empty.
    pub async fn age_range(&self) -> Option<(u64, u64)> {
        let mut range: Option<(u64, u64)> = None;
        let mut see = |t: u64| range = Some(range.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
        self.memory.scan(&mut |_, v| see(v.fetched_at_ms));
        if let Some(disk) = self.disk.clone() {
            let times = tokio::task::spawn_blocking(move || {
                let mut times = Vec::new();
                disk.scan(&mut |_, v| times.push(v.fetched_at_ms)).map(|()| times)
            })
            .await;
            if let Ok(Ok(times)) = times {
                times.into_iter().for_each(&mut see);
            }
        }
        range
    }

    /// Waits until every accepted write is durable.
    pub async fn flush(&self) {
        let Some(disk) = self.disk.clone() else {
            return;
        };
        match tokio::task::spawn_blocking(move || disk.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.failed("flush", &e),
            Err(e) => self.failed("flush", &e),
        }
    }

    pub fn meta_get(&self, key: &str) -> Option<Vec<u8>> {
        let disk = self.disk.as_ref()?;
        disk.meta_get(key).unwrap_or_else(|e| {
            self.failed("meta_get", &e);
            None
        })
    }

    pub fn meta_put(&self, key: &str, value: Vec<u8>) {
        if let Some(disk) = &self.disk
            && let Err(e) = disk.meta_put(key, value)
        {
            self.failed("meta_put", &e);
        }
    }

    pub fn stats(&self) -> StoreStats {
        self.memory.sync();
        StoreStats {
            memory: self.memory.usage(),
            disk: self.disk.as_ref().map(|d| d.usage()).unwrap_or_default(),
            errors: self.errors.load(Ordering::Relaxed),
            dropped_writes: self.disk.as_ref().map(|d| d.dropped_writes()).unwrap_or(0),
            evicted: self.disk.as_ref().map(|d| d.evicted()).unwrap_or(0),
        }
    }

    pub fn check(&self) -> Result<(), String> {
        match &self.disk {
            Some(d) => d.check().map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }

    fn failed(&self, op: &str, e: &dyn std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(op, error = %e, "cache store operation failed; treating as a miss");
    }
}
