//! Where entries live on this machine: a bounded memory tier in front of a bounded, crash-safe
//! redb disk tier, behind one small trait.
//!
//! Architecture Invariant: a storage failure is a cache miss, never a failed request. Errors
//! are logged and counted here; callers of [`Store`] only ever see `Option`.

mod blocks;
mod disk;
mod memory;
mod tiered;

pub use blocks::BlockRow;
pub use disk::{DB_FILE, DiskTier, OpenError};
pub use memory::MemoryTier;
pub use tiered::{Store, StoreStats};

use entry::StoredResponse;
use std::sync::Arc;

/// One storage tier. Few required methods; optional ones have defaults.
pub trait Tier: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<Arc<StoredResponse>>, StoreError>;
    fn put(&self, key: &str, value: Arc<StoredResponse>) -> Result<(), StoreError>;
    fn remove(&self, key: &str) -> Result<(), StoreError>;
    fn usage(&self) -> Usage;
    /// Removes every entry.
    fn clear(&self) -> Result<(), StoreError>;
    /// Makes every accepted write durable.
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// A cheap probe that the tier works (used by health checks).
    fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// How much a tier holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub entries: u64,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("disk store error: {0}")]
    Disk(String),
    #[error("disk writer is gone (daemon shutting down)")]
    WriterGone,
    #[error("disk write queue is full; write dropped")]
    QueueFull,
}
