//! The disk tier: one redb file, bounded in bytes, written by a single batching writer thread.
//!
//! Reads open their own read transaction (callers run them off the async threads). Writes go
//! through a bounded queue to one dedicated thread that commits them in batches; when the queue
//! is full a write is dropped and counted (a dropped write is a later miss, never an error
//! for the client). Eviction is oldest-written first, by a sequence number kept beside each
//! entry.

use crate::{StoreError, Tier, Usage};
use entry::StoredResponse;
use redb::{
    Database, DatabaseError, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

/// Versioned table names: a format change gets new tables instead of misreading old ones.
const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entries_v1");
const ORDER: TableDefinition<u64, &str> = TableDefinition::new("order_v1");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta_v1");

const SCHEMA_KEY: &str = "schema";
const SCHEMA: &[u8] = b"gh-p2p-cache/1";
const SEQ_KEY: &str = "next_seq";
const BYTES_KEY: &str = "total_bytes";
pub const DB_FILE: &str = "cache.redb";
const QUEUE: usize = 4096;
const BATCH: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cache directory {0} is in use by another gh-p2p-cache process; stop it or pick another --cache-dir")]
    InUse(PathBuf),
    #[error("cannot create cache directory {path}: {source}")]
    Dir { path: PathBuf, source: std::io::Error },
    #[error("cannot open cache database {path}: {message}")]
    Db { path: PathBuf, message: String },
}

enum Op {
    Put(String, Vec<u8>),
    Remove(String),
    Clear,
    Meta(String, Vec<u8>),
    Flush(mpsc::SyncSender<Result<(), String>>),
}

pub struct DiskTier {
    db: Arc<Database>,
    tx: Mutex<Option<mpsc::SyncSender<Op>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
    /// Set when a corrupt or foreign file was moved aside at open.
    pub moved_aside: Option<PathBuf>,
}

#[derive(Default)]
struct Counters {
    entries: AtomicU64,
    bytes: AtomicU64,
    dropped_writes: AtomicU64,
    evicted: AtomicU64,
}

impl DiskTier {
    /// Opens (or creates) `dir/cache.redb`. A corrupt or foreign file is moved aside with a
    /// warning and a fresh one created; a file held by another process is an error.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, OpenError> {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Dir {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(DB_FILE);
        let mut moved_aside = None;
        let db = match open_checked(&path) {
            Ok(db) => db,
            Err(OpenAttempt::InUse) => return Err(OpenError::InUse(dir.to_owned())),
            Err(OpenAttempt::Unusable(why)) => {
                let aside = aside_name(&path);
                tracing::warn!(path = %path.display(), aside = %aside.display(), %why, "cache database unusable; moved aside, starting empty");
                std::fs::rename(&path, &aside).map_err(|e| OpenError::Db {
                    path: path.clone(),
                    message: format!("{why}; moving it aside failed: {e}"),
                })?;
                moved_aside = Some(aside);
                match open_checked(&path) {
                    Ok(db) => db,
                    Err(OpenAttempt::InUse) => return Err(OpenError::InUse(dir.to_owned())),
                    Err(OpenAttempt::Unusable(why)) => {
                        return Err(OpenError::Db { path, message: why });
                    }
                }
            }
        };
        let db = Arc::new(db);
        let counters = Arc::new(Counters::default());
        init_counters(&db, &counters).map_err(|message| OpenError::Db {
            path: path.clone(),
            message,
        })?;
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let writer = {
            let db = db.clone();
            let counters = counters.clone();
            std::thread::Builder::new()
                .name("redb-writer".into())
                .spawn(move || writer_loop(&db, &rx, max_bytes, &counters))
                .map_err(|e| OpenError::Db {
                    path,
                    message: format!("cannot start writer thread: {e}"),
                })?
        };
        Ok(DiskTier {
            db,
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            counters,
            moved_aside,
        })
    }

    fn send(&self, op: Op) -> Result<(), StoreError> {
        let guard = self.tx.lock().expect("disk sender lock");
        let tx = guard.as_ref().ok_or(StoreError::WriterGone)?;
        match tx.try_send(op) {
            Ok(()) => Ok(()),
            Err(mpsc::TrySendError::Full(_)) => {
                self.counters.dropped_writes.fetch_add(1, Ordering::Relaxed);
                Err(StoreError::QueueFull)
            }
            Err(mpsc::TrySendError::Disconnected(_)) => Err(StoreError::WriterGone),
        }
    }

    /// Like [`Tier::put`], but waits for room in the write queue instead of dropping the write:
    /// for bulk loads (imports), which must not lose entries. Blocks; call off async threads.
    pub fn put_wait(&self, key: &str, value: &StoredResponse) -> Result<(), StoreError> {
        let guard = self.tx.lock().expect("disk sender lock");
        let tx = guard.as_ref().ok_or(StoreError::WriterGone)?.clone();
        drop(guard);
        tx.send(Op::Put(key.to_owned(), value.encode()))
            .map_err(|_| StoreError::WriterGone)
    }

    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(disk_err)?;
        let table = match txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(disk_err(e)),
        };
        Ok(table.get(key).map_err(disk_err)?.map(|v| v.value().to_vec()))
    }

    /// Queues a metadata write (committed with the next batch).
    pub fn meta_put(&self, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.send(Op::Meta(key.to_owned(), value))
    }

    /// Every key currently stored (for admin commands and tests).
    pub fn keys(&self) -> Result<Vec<String>, StoreError> {
        let txn = self.db.begin_read().map_err(disk_err)?;
        let table = match txn.open_table(ENTRIES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(disk_err(e)),
        };
        let mut out = Vec::new();
        for row in table.iter().map_err(disk_err)? {
            out.push(row.map_err(disk_err)?.0.value().to_owned());
        }
        Ok(out)
    }

    /// Looks up many keys in one read transaction (bulk imports); unreadable records are misses.
    pub fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<StoredResponse>>, StoreError> {
        let txn = self.db.begin_read().map_err(disk_err)?;
        let table = match txn.open_table(ENTRIES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(keys.iter().map(|_| None).collect()),
            Err(e) => return Err(disk_err(e)),
        };
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let found = table.get(*key).map_err(disk_err)?;
            out.push(found.and_then(|raw| StoredResponse::decode(raw.value().get(8..).unwrap_or_default()).ok()));
        }
        Ok(out)
    }

    /// Visits every readable entry (unreadable records are skipped).
    pub fn scan(&self, visit: &mut dyn FnMut(&str, &StoredResponse)) -> Result<(), StoreError> {
        let txn = self.db.begin_read().map_err(disk_err)?;
        let table = match txn.open_table(ENTRIES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(disk_err(e)),
        };
        for row in table.iter().map_err(disk_err)? {
            let (k, v) = row.map_err(disk_err)?;
            if let Ok(r) = StoredResponse::decode(v.value().get(8..).unwrap_or_default()) {
                visit(k.value(), &r);
            }
        }
        Ok(())
    }

    pub(crate) fn db(&self) -> &Database {
        &self.db
    }

    pub fn dropped_writes(&self) -> u64 {
        self.counters.dropped_writes.load(Ordering::Relaxed)
    }

    pub fn evicted(&self) -> u64 {
        self.counters.evicted.load(Ordering::Relaxed)
    }

    /// Flushes and stops the writer thread. Later writes fail with `WriterGone`.
    pub fn close(&self) -> Result<(), StoreError> {
        let result = self.flush();
        drop(self.tx.lock().expect("disk sender lock").take());
        if let Some(handle) = self.writer.lock().expect("writer handle lock").take() {
            let _ = handle.join();
        }
        result
    }
}

impl Drop for DiskTier {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl Tier for DiskTier {
    fn get(&self, key: &str) -> Result<Option<Arc<StoredResponse>>, StoreError> {
        let txn = self.db.begin_read().map_err(disk_err)?;
        let table = match txn.open_table(ENTRIES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(disk_err(e)),
        };
        let Some(raw) = table.get(key).map_err(disk_err)? else {
            return Ok(None);
        };
        let raw = raw.value();
        let record = raw.get(8..).unwrap_or_default();
        match StoredResponse::decode(record) {
            Ok(r) => Ok(Some(Arc::new(r))),
            Err(e) => {
                // An unreadable record is a miss; drop it so it stops costing a read.
                tracing::warn!(key, error = %e, "dropping unreadable disk entry");
                let _ = self.send(Op::Remove(key.to_owned()));
                Ok(None)
            }
        }
    }

    fn put(&self, key: &str, value: Arc<StoredResponse>) -> Result<(), StoreError> {
        self.send(Op::Put(key.to_owned(), value.encode()))
    }

    fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.send(Op::Remove(key.to_owned()))
    }

    fn usage(&self) -> Usage {
        Usage {
            entries: self.counters.entries.load(Ordering::Relaxed),
            bytes: self.counters.bytes.load(Ordering::Relaxed),
        }
    }

    fn clear(&self) -> Result<(), StoreError> {
        self.send(Op::Clear)
    }

    fn flush(&self) -> Result<(), StoreError> {
        let (done_tx, done_rx) = mpsc::sync_channel(1);
        {
            let guard = self.tx.lock().expect("disk sender lock");
            let tx = guard.as_ref().ok_or(StoreError::WriterGone)?;
            // A flush waits for room rather than being dropped: it is how shutdown loses nothing.
            tx.send(Op::Flush(done_tx)).map_err(|_| StoreError::WriterGone)?;
        }
        done_rx
            .recv()
            .map_err(|_| StoreError::WriterGone)?
            .map_err(StoreError::Disk)
    }

    fn check(&self) -> Result<(), StoreError> {
        self.db.begin_read().map(drop).map_err(disk_err)
    }
}

pub(crate) fn disk_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Disk(e.to_string())
}

enum OpenAttempt {
    InUse,
    Unusable(String),
}

fn open_checked(path: &Path) -> Result<Database, OpenAttempt> {
    let db = match Database::create(path) {
        Ok(db) => db,
        Err(DatabaseError::DatabaseAlreadyOpen) => return Err(OpenAttempt::InUse),
        Err(e) => return Err(OpenAttempt::Unusable(e.to_string())),
    };
    check_schema(&db).map_err(OpenAttempt::Unusable)?;
    Ok(db)
}

/// A database is ours if its meta table names our schema, or if it is brand new (no tables).
fn check_schema(db: &Database) -> Result<(), String> {
    let txn = db.begin_write().map_err(|e| e.to_string())?;
    {
        let tables: Vec<String> = txn
            .list_tables()
            .map_err(|e| e.to_string())?
            .map(|t| t.name().to_owned())
            .collect();
        let mut meta = txn.open_table(META).map_err(|e| e.to_string())?;
        let schema = meta
            .get(SCHEMA_KEY)
            .map_err(|e| e.to_string())?
            .map(|v| v.value().to_vec());
        match schema {
            Some(s) if s == SCHEMA => {}
            Some(other) => {
                return Err(format!(
                    "schema {:?} is not {:?}",
                    String::from_utf8_lossy(&other),
                    "gh-p2p-cache/1"
                ));
            }
            None if tables.is_empty() => {
                meta.insert(SCHEMA_KEY, SCHEMA).map_err(|e| e.to_string())?;
            }
            None => {
                return Err(format!("not a gh-p2p-cache database (tables: {})", tables.join(", ")));
            }
        }
    }
    txn.commit().map_err(|e| e.to_string())
}

fn aside_name(path: &Path) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    path.with_extension(format!("redb.unusable-{stamp}"))
}

fn init_counters(db: &Database, counters: &Counters) -> Result<(), String> {
    let txn = db.begin_read().map_err(|e| e.to_string())?;
    let entries = match txn.open_table(ENTRIES) {
        Ok(t) => t.len().map_err(|e| e.to_string())?,
        Err(redb::TableError::TableDoesNotExist(_)) => 0,
        Err(e) => return Err(e.to_string()),
    };
    let meta = txn.open_table(META).map_err(|e| e.to_string())?;
    let bytes = read_u64(&meta, BYTES_KEY).map_err(|e| e.to_string())?;
    counters.entries.store(entries, Ordering::Relaxed);
    counters.bytes.store(bytes, Ordering::Relaxed);
    Ok(())
}

fn read_u64(table: &impl ReadableTable<&'static str, &'static [u8]>, key: &str) -> Result<u64, redb::StorageError> {
    Ok(table
        .get(key)?
        .and_then(|v| <[u8; 8]>::try_from(v.value()).ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0))
}

fn writer_loop(db: &Database, rx: &mpsc::Receiver<Op>, max_bytes: u64, counters: &Counters) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let mut waiters = Vec::new();
        let result = apply_batch(db, batch, max_bytes, counters, &mut waiters);
        if let Err(e) = &result {
            tracing::error!(error = %e, "disk batch failed; its writes are lost (entries become misses)");
        }
        for w in waiters {
            let _ = w.send(result.clone());
        }
    }
}

fn apply_batch(
    db: &Database,
    batch: Vec<Op>,
    max_bytes: u64,
    counters: &Counters,
    waiters: &mut Vec<mpsc::SyncSender<Result<(), String>>>,
) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let txn = db.begin_write().map_err(|x| e(&x))?;
    {
        let mut entries = txn.open_table(ENTRIES).map_err(|x| e(&x))?;
        let mut order = txn.open_table(ORDER).map_err(|x| e(&x))?;
        let mut meta = txn.open_table(META).map_err(|x| e(&x))?;
        let mut seq = read_u64(&meta, SEQ_KEY).map_err(|x| e(&x))?;
        let mut bytes = read_u64(&meta, BYTES_KEY).map_err(|x| e(&x))?;
        for op in batch {
            match op {
                Op::Put(key, record) => {
                    bytes -= remove_entry(&mut entries, &mut order, &key)
                        .map_err(|x| e(&x))?
                        .min(bytes);
                    let mut value = Vec::with_capacity(8 + record.len());
                    value.extend_from_slice(&seq.to_le_bytes());
                    value.extend_from_slice(&record);
                    entries.insert(key.as_str(), value.as_slice()).map_err(|x| e(&x))?;
                    order.insert(seq, key.as_str()).map_err(|x| e(&x))?;
                    bytes += stored_size(&key, value.len());
                    seq += 1;
                }
                Op::Remove(key) => {
                    bytes -= remove_entry(&mut entries, &mut order, &key)
                        .map_err(|x| e(&x))?
                        .min(bytes);
                }
                Op::Clear => {
                    entries.retain(|_, _| false).map_err(|x| e(&x))?;
                    order.retain(|_, _| false).map_err(|x| e(&x))?;
                    txn.open_table(crate::blocks::BLOCKS)
                        .and_then(|mut b| b.retain(|_, _| false).map_err(Into::into))
                        .map_err(|x| e(&x))?;
                    txn.open_table(crate::blocks::BLOCK_KEYS)
                        .and_then(|mut b| b.retain(|_, _| false).map_err(Into::into))
                        .map_err(|x| e(&x))?;
                    bytes = 0;
                }
                Op::Meta(key, value) => {
                    meta.insert(key.as_str(), value.as_slice()).map_err(|x| e(&x))?;
                }
                Op::Flush(w) => waiters.push(w),
            }
        }
        // Evict oldest-written entries until under the bound.
        while bytes > max_bytes {
            let Some((old_seq, old_key)) = order
                .first()
                .map_err(|x| e(&x))?
                .map(|(s, k)| (s.value(), k.value().to_owned()))
            else {
                break;
            };
            order.remove(old_seq).map_err(|x| e(&x))?;
            if let Some(v) = entries.remove(old_key.as_str()).map_err(|x| e(&x))? {
                bytes -= stored_size(&old_key, v.value().len()).min(bytes);
            }
            counters.evicted.fetch_add(1, Ordering::Relaxed);
        }
        meta.insert(SEQ_KEY, seq.to_le_bytes().as_slice()).map_err(|x| e(&x))?;
        meta.insert(BYTES_KEY, bytes.to_le_bytes().as_slice())
            .map_err(|x| e(&x))?;
        counters
            .entries
            .store(entries.len().map_err(|x| e(&x))?, Ordering::Relaxed);
        counters.bytes.store(bytes, Ordering::Relaxed);
    }
    txn.commit().map_err(|x| e(&x))
}

/// Removes a key and its order row; returns the bytes it accounted for.
fn remove_entry(
    entries: &mut redb::Table<&str, &[u8]>,
    order: &mut redb::Table<u64, &str>,
    key: &str,
) -> Result<u64, redb::StorageError> {
    let Some(old) = entries.remove(key)? else {
        return Ok(0);
    };
    let old = old.value();
    let size = stored_size(key, old.len());
    if let Some(seq) = old.get(..8).and_then(|s| <[u8; 8]>::try_from(s).ok()) {
        order.remove(u64::from_le_bytes(seq))?;
    }
    Ok(size)
}

fn stored_size(key: &str, value_len: usize) -> u64 {
    (key.len() + value_len) as u64
}
