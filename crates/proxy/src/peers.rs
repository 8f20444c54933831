//! What the proxy asks of peer sync, behind a trait so the proxy knows nothing of iroh: the
//! binary implements [`Peers`] over the `sync` crate.
//!
//! Architecture Invariant: peers are an addition, never a dependency. A lookup is bounded by
//! [`ProxyConfig::peer_deadline`](crate::ProxyConfig) here, whatever the implementation does,
//! and [`Peers::stored`] must return at once (queue the work).

use entry::StoredResponse;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub type PeerLookup<'a> = Pin<Box<dyn Future<Output = Option<StoredResponse>> + Send + 'a>>;

pub trait Peers: Send + Sync + 'static {
    /// A new answer fetched from GitHub was stored under `key`: share it (announce). Must not
    /// block.
    fn stored(&self, key: &str, entry: &Arc<StoredResponse>);
    /// An entry for `key` held by a peer, verified and opened (its `token_fp` is
    /// `Fingerprint::PEER`), or `None`. The proxy stops waiting at its deadline.
    fn lookup<'a>(&'a self, key: &'a str) -> PeerLookup<'a>;
    /// What `GET /_cache/peers` shows.
    fn describe(&self) -> serde_json::Value;
    /// A snapshot of this cache was published to IPFS under `root` (at `/_cache/finish`): tell
    /// the peers. Must not block.
    fn published_root(&self, _root: &str) {}
}

/// Where warm start found entries, for the stats (`warm`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct WarmSource {
    /// `disk`, `peer <id>`, `sync-node <id>`, `actions-cache`, `ipfs`.
    pub source: String,
    pub entries: u64,
    pub millis: u64,
    pub error: Option<String>,
}

/// A request to the daemon's claim board (`POST /_cache/claims`): runners reporting the same
/// error agree on which of them files the issue (see the `heal` crate).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum ClaimRequest {
    /// `holder` (a caller's random id) asks for `key` (repository and signature).
    Claim { key: String, holder: String },
    /// The issue for `key` is `number` at `url`.
    Resolve { key: String, number: u64, url: String },
    /// `holder` failed; the next claimer gets the claim.
    Abandon { key: String, holder: String },
}

/// The board's answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "claim", rename_all = "lowercase")]
pub enum ClaimReply {
    /// The caller holds the claim: find or file the issue, then resolve (or abandon).
    Mine,
    /// The issue exists.
    Known { number: u64, url: String },
    /// Another caller holds the claim; ask again shortly.
    Pending,
}

pub type ClaimFuture<'a> = Pin<Box<dyn Future<Output = ClaimReply> + Send + 'a>>;

/// The daemon's claim board (local, or backed by a sync-node's). Never fails: a board that cannot
/// be reached answers `Mine`, and the reporter's duplicate check keeps one open issue anyway.
pub trait ClaimService: Send + Sync + 'static {
    fn call(&self, request: ClaimRequest) -> ClaimFuture<'_>;
}
