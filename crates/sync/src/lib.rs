//! Peer sync over iroh: every daemon is an iroh endpoint; peers that share the fleet's secret
//! prove it to each other, announce new entries on a gossip topic derived from the secret, and
//! serve each other's envelopes by CID and whole snapshots since a time.
//!
//! - [`PeerNode`] ([`node`]): one endpoint, its [`iroh::protocol::Router`] and the gossip topic.
//! - [`auth`]: the handshake on [`AUTH_ALPN`] (mutual HMAC challenge–response under
//!   `Keys::peer_auth_key`) and the set of peers that passed it. Every other protocol, gossip
//!   included, refuses a connection whose remote id is not in that set.
//! - [`fetch`]: envelopes by CID on [`FETCH_ALPN`].
//! - [`announce`]: gossip announcements (batches of CIDs with a key hint each, sealed with
//!   `entry::seal_gossip`, under 3.5 KiB). A hint only: gossip drops messages under bursts and has
//!   no history, fetch and snapshot are the reliable path.
//! - [`snapshot`]: "everything since T" on [`SNAPSHOT_ALPN`], streamed as a CAR v1 snapshot
//!   (`ipfs::write_snapshot` / `ipfs::read_snapshot`, the same bytes as the file format).
//! - [`claim`]: a sync-node's board of who files the issue for an error signature, on
//!   [`CLAIM_ALPN`].
//! - [`publish`]: a runner pushes envelopes to a sync-node on [`PUBLISH_ALPN`] (a CAR snapshot,
//!   like [`snapshot`] in the other direction) and gets an acknowledgement once they are stored.
//! - [`discovery`]: opt-in relays ([`RelayChoice`]) and mDNS on the local network.
//! - [`source`]: [`BlockSource`], what the serving side reads blocks from, and [`BlockSink`],
//!   where a node stores what is published to it.
//!
//! Architecture Invariant: everything received is checked before use (CID, then AEAD with
//! `entry::open`); a peer that sends bad data is disconnected, forgotten by the authenticated set
//! and counted in [`Stats`]. Key material stays in `entry`: this crate passes
//! `Keys::peer_auth_key()` to HMAC for the handshake and otherwise calls `entry` functions.

pub mod announce;
pub mod auth;
pub mod claim;
pub mod discovery;
mod error;
pub mod fetch;
mod frame;
pub mod node;
mod pipe;
pub mod publish;
pub mod snapshot;
pub mod source;
mod stats;

pub use announce::{Announced, Announcement, MAX_ANNOUNCE_BYTES, SNAPSHOT_ROOT_HINT, key_hint};
pub use claim::{ClaimAnswer, ClaimBoard, ClaimOp};
pub use discovery::RelayChoice;
pub use error::SyncError;
pub use fetch::{FetchOutcome, MAX_CIDS_PER_REQUEST, Verified};
pub use node::{PeerConfig, PeerInfo, PeerNode, parse_ticket};
pub use publish::PublishAck;
pub use snapshot::SnapshotOutcome;
pub use source::{BlockSink, BlockSource, MemorySource};
pub use stats::Stats;

/// Handshake: both sides prove they hold the secret before anything else is served.
pub const AUTH_ALPN: &[u8] = b"gh-p2p-cache/auth/1";
/// Envelopes by CID.
pub const FETCH_ALPN: &[u8] = b"gh-p2p-cache/fetch/1";
/// A CAR snapshot of everything since a time.
pub const SNAPSHOT_ALPN: &[u8] = b"gh-p2p-cache/snapshot/1";
/// A CAR snapshot pushed to a node that stores it and acknowledges.
pub const PUBLISH_ALPN: &[u8] = b"gh-p2p-cache/publish/1";
/// Claims on error signatures, kept by a sync-node (see [`claim`]).
pub const CLAIM_ALPN: &[u8] = b"gh-p2p-cache/claim/1";

/// QUIC application close codes this crate sends.
pub mod close {
    /// Normal end of a protocol exchange.
    pub const DONE: u32 = 0;
    /// The handshake failed: the remote does not hold our secret (or lied).
    pub const AUTH_FAILED: u32 = 1;
    /// A protocol other than the handshake was used before the handshake.
    pub const UNAUTHENTICATED: u32 = 2;
    /// The remote broke the wire format.
    pub const PROTOCOL: u32 = 3;
    /// The remote sent a block that does not match its CID or does not open.
    pub const BAD_DATA: u32 = 4;
    /// Too many snapshot requests or publishes at once: retry later.
    pub const BUSY: u32 = 5;
    /// A publish to a node that has no [`BlockSink`](crate::BlockSink): publish elsewhere.
    pub const NO_SINK: u32 = 6;
    /// The published blocks were verified but the sink failed to store them: retry later.
    pub const STORE_FAILED: u32 = 7;
}
