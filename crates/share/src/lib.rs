//! Moving entries between this machine's store and snapshots (CAR v1 files of sealed envelopes),
//! the one format that travels to the Actions cache, to peers and to IPFS.
//!
//! - [`export_file`] / [`import_file`]: the same over a snapshot file (written atomically).
//! - [`export()`]: every stored entry, scrubbed, sealed under the fleet's keys, written as a
//!   snapshot.
//! - [`import()`]: every envelope checked (CID by the reader, AEAD by `entry::open`), the newer
//!   version of each key kept; bad blocks are skipped and counted.
//!
//! Both are blocking (file I/O, redb, AES): run them off the async threads.

mod export;
mod import;

pub use export::{ExportError, ExportReport, export, export_file, seal_entry};
pub use import::{ImportError, ImportReport, import, import_file, store_received};

/// Progress callback: (done, total). Called often; keep it cheap.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);
