//! The one error type of the crate's public operations.

use iroh::EndpointId;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("could not bind the peer endpoint: {0}; check the bind address")]
    Bind(String),
    #[error("could not reach peer {peer}: {reason}; check its address or ticket")]
    Connect { peer: EndpointId, reason: String },
    #[error("peer {peer} failed the handshake: {reason}; both sides need the same secret and scope")]
    AuthFailed { peer: EndpointId, reason: String },
    #[error("peer {peer} refused us: {reason}")]
    Refused { peer: EndpointId, reason: String },
    #[error("peer {peer} sent a block that does not match {cid}; it was disconnected and counted as bad")]
    BadBlock { peer: EndpointId, cid: Box<cid::Cid> },
    #[error("peer {peer} sent an envelope that does not open ({reason}); it was disconnected and counted as bad")]
    BadEnvelope { peer: EndpointId, reason: String },
    #[error("peer {peer} accepts no published blocks (it has no sink); publish to a sync-node")]
    NoSink { peer: EndpointId },
    #[error("peer {peer} rejected what we published: {reason}")]
    Rejected { peer: EndpointId, reason: String },
    #[error("block {cid} cannot be published: {reason}; publish envelopes under their own CIDs")]
    Unpublishable { cid: Box<cid::Cid>, reason: String },
    #[error("peer {peer} broke the protocol: {reason}; it was disconnected")]
    Protocol { peer: EndpointId, reason: String },
    #[error("peer {peer} did not answer in time")]
    Timeout { peer: EndpointId },
    #[error("too many CIDs in one request ({count}, at most {max}); split the request")]
    TooManyCids { count: usize, max: usize },
    #[error("claim not sent: {0}")]
    BadClaim(String),
    #[error("gossip failed: {0}")]
    Gossip(String),
    #[error("the ticket does not parse: {0}; copy it whole from the peer's `ticket()`")]
    Ticket(String),
}
