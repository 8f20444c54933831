//! The IPFS side of the cache: snapshots as CAR v1 files, and the clients that move them.
//!
//! A snapshot is a CAR v1 file whose root is a DAG-CBOR manifest listing encrypted envelopes
//! (opaque blocks of at most 1 MiB, CIDv1 raw sha2-256), followed by those envelopes. The same
//! bytes go to IPFS (`dag/import`), the GitHub Actions cache and peers. `SNAPSHOT.md` beside this
//! crate describes the layout; `NETWORK.md` the clients, what they verify, and the doubles.
//!
//! - [`car`]: the CAR v1 container, any blocks: [`CarWriter`], and [`CarReader`], which streams
//!   and checks every block against its CID.
//! - [`manifest`]: the manifest's data model and its DAG-CBOR encoding as a chain of blocks.
//! - [`snapshot`]: both together: [`SnapshotWriter`] / [`write_snapshot`] and [`read_snapshot`].
//! - [`net`]: async clients of kubo's RPC API ([`KuboClient`]), trustless gateways
//!   ([`GatewayClient`]) and IPFS Pinning Services ([`PinningClient`]); everything they fetch is
//!   verified before use.
//! - `gateway_server` (feature `gateway-server`): a trustless gateway serving a `BlockStore`
//!   (raw blocks and CARs) over axum, for sync-nodes.
//! - `doubles` (feature `doubles`): in-memory kubo, gateway and pinning service for tests.
//!
//! Decryption and AEAD checks are the caller's: this crate hands out blocks whose hashes match
//! and lets the importer decide what to keep. The format modules are synchronous
//! (`std::io::Read`/`Write`); only `net` is async (tokio).
//!
//! ```
//! use bytes::Bytes;
//! use ipfs::{EntryMeta, block::raw_cid, read_snapshot, write_snapshot};
//!
//! let envelope = Bytes::from_static(b"sealed bytes from the entry crate");
//! let mut car = Vec::new();
//! let meta = EntryMeta { key_id: Some("3f9a0c2e".into()), expires_ms: None };
//! let root = write_snapshot(&mut car, 1_750_000_000_000, [(raw_cid(&envelope), envelope.clone(), meta)])?;
//! println!("pin and announce {root}");
//!
//! let (manifest, envelopes) = read_snapshot(&car[..])?;
//! assert_eq!(manifest.entries.len(), 1);
//! for item in envelopes {
//!     match item {
//!         // Hash checked; decrypt (AEAD) and store it, or count it as bad.
//!         Ok(env) => assert_eq!((env.index, env.data.clone()), (0, envelope.clone())),
//!         Err(e) if e.is_skippable() => eprintln!("skipped: {e}"),
//!         Err(e) => return Err(e.into()),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// A `Cid` is 88 bytes inline (its multihash reserves 64 digest bytes), and the blocks in every
// `Ok` carry one too, so these `Result`s are this big whatever the error: boxing errors would cost
// an allocation and save nothing.
#![allow(clippy::result_large_err)]

pub mod block;
pub mod car;
#[cfg(feature = "doubles")]
pub mod doubles;
#[cfg(feature = "gateway-server")]
pub mod gateway_server;
pub mod manifest;
pub mod net;
pub mod snapshot;
mod varint;

pub use car::{Block, CarError, CarReader, CarWriter, WriteError};
pub use manifest::{EntryMeta, Manifest, ManifestEntry};
pub use net::{
    CarStats, GatewayAttempt, GatewayClient, GatewayReport, IpfsError, KuboClient, PinState, PinStatus, PinningClient,
    parse_cid,
};
pub use snapshot::{
    Envelope, Envelopes, ReadOptions, ReadStats, SnapshotError, SnapshotWriter, read_snapshot, read_snapshot_with,
    write_snapshot,
};
