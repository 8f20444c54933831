//! Envelopes by CID on [`FETCH_ALPN`](crate::FETCH_ALPN).
//!
//! One request per bidirectional stream; a connection carries any number of them.
//!
//! ```text
//! request   u16 count (1..=MAX_CIDS_PER_REQUEST) | count × (u8 len | CID bytes); then FIN
//! response  for each requested CID, in order: u32 len | envelope bytes  (len = 0xFFFF_FFFF: not held)
//! ```
//!
//! Lengths are big-endian; an envelope is at most `entry::MAX_ENVELOPE_BYTES` (1 MiB). The
//! requester checks each block against the CID it asked for, then opens it with `entry::open`; a
//! block that fails either check disconnects the server and counts it as a bad peer.

use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use entry::SharedEntry;
use iroh::EndpointId;
use iroh::endpoint::{Connection, RecvStream, SendStream};
use iroh::protocol::{AcceptError, ProtocolHandler};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::auth::admit;
use crate::frame::close_conn;
use crate::node::Shared;
use crate::{SyncError, close};

/// Most CIDs in one request (a full gossip batch fits in one request).
pub const MAX_CIDS_PER_REQUEST: usize = 256;
const MISSING: u32 = u32::MAX;
const MAX_CID_LEN: usize = 128;

/// A received envelope that matched its CID and opened under our keys.
#[derive(Debug, Clone)]
pub struct Verified {
    pub cid: Cid,
    /// The envelope exactly as received: store it as is to serve it on.
    pub envelope: Bytes,
    pub entry: SharedEntry,
}

/// What a fetch brought back.
#[derive(Debug, Default)]
pub struct FetchOutcome {
    pub blocks: Vec<Verified>,
    /// Requested CIDs the peer does not hold.
    pub missing: Vec<Cid>,
}

/// Serving side.
#[derive(Debug, Clone)]
pub(crate) struct FetchHandler(pub Arc<Shared>);

impl ProtocolHandler for FetchHandler {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        let shared = &self.0;
        if !admit(shared, &conn).await {
            return Ok(());
        }
        // Requests until the client closes the connection.
        while let Ok((send, recv)) = conn.accept_bi().await {
            match serve_one(shared, send, recv).await {
                Ok(()) => {}
                Err(Serve::Malformed(reason)) => {
                    let peer = conn.remote_id();
                    tracing::warn!(%peer, %reason, "malformed fetch request; disconnecting");
                    shared.stats.add(|c| &c.bad_peers, 1);
                    shared.auth.remove(&peer);
                    close_conn(&conn, close::PROTOCOL, "malformed request");
                    break;
                }
                Err(Serve::Transfer(reason)) => {
                    tracing::debug!(remote = %conn.remote_id(), %reason, "fetch request abandoned");
                    break;
                }
            }
        }
        Ok(())
    }
}

/// Why serving one request stopped: the requester broke the format (counted), or the transfer
/// itself failed (the requester went away, a timeout: not held against it).
enum Serve {
    Malformed(String),
    Transfer(String),
}

async fn serve_one(shared: &Arc<Shared>, mut send: SendStream, mut recv: RecvStream) -> Result<(), Serve> {
    let cids = tokio::time::timeout(shared.request_timeout, read_request(&mut recv))
        .await
        .map_err(|_| Serve::Transfer("request timed out".to_string()))??;
    let source = shared.source.clone();
    let blocks = tokio::task::spawn_blocking(move || source.get_many(&cids))
        .await
        .map_err(|e| Serve::Transfer(format!("block source failed: {e}")))?;
    send_blocks(shared, &mut send, blocks).await.map_err(Serve::Transfer)
}

async fn send_blocks(shared: &Shared, send: &mut SendStream, blocks: Vec<Option<Bytes>>) -> Result<(), String> {
    for block in blocks {
        match block {
            Some(b) if b.len() <= entry::MAX_ENVELOPE_BYTES => {
                send.write_u32(b.len() as u32).await.map_err(|e| e.to_string())?;
                send.write_all(&b).await.map_err(|e| e.to_string())?;
                shared.stats.add(|c| &c.blocks_served, 1);
            }
            _ => send.write_u32(MISSING).await.map_err(|e| e.to_string())?,
        }
    }
    send.finish().map_err(|e| e.to_string())?;
    Ok(())
}

async fn read_request(recv: &mut RecvStream) -> Result<Vec<Cid>, Serve> {
    let io = |e: std::io::Error| Serve::Transfer(e.to_string());
    let count = recv.read_u16().await.map_err(io)? as usize;
    if count == 0 || count > MAX_CIDS_PER_REQUEST {
        return Err(Serve::Malformed(format!(
            "{count} CIDs requested, between 1 and {MAX_CIDS_PER_REQUEST} allowed"
        )));
    }
    let mut cids = Vec::with_capacity(count);
    for _ in 0..count {
        let len = recv.read_u8().await.map_err(io)? as usize;
        if len > MAX_CID_LEN {
            return Err(Serve::Malformed(format!("a CID of {len} bytes")));
        }
        let mut buf = vec![0u8; len];
        recv.read_exact(&mut buf)
            .await
            .map_err(|e| Serve::Transfer(e.to_string()))?;
        cids.push(Cid::try_from(&buf[..]).map_err(|e| Serve::Malformed(format!("bad CID: {e}")))?);
    }
    Ok(cids)
}

pub(crate) fn encode_request(cids: &[Cid]) -> Result<Vec<u8>, SyncError> {
    if cids.is_empty() || cids.len() > MAX_CIDS_PER_REQUEST {
        return Err(SyncError::TooManyCids {
            count: cids.len(),
            max: MAX_CIDS_PER_REQUEST,
        });
    }
    let mut out = Vec::with_capacity(2 + cids.len() * 37);
    out.extend_from_slice(&(cids.len() as u16).to_be_bytes());
    for cid in cids {
        let bytes = cid.to_bytes();
        debug_assert!(bytes.len() <= MAX_CID_LEN);
        out.push(bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

/// Requesting side: asks `peer` for `cids` over `conn` and checks every block.
pub(crate) async fn fetch_on(shared: &Shared, conn: &Connection, cids: &[Cid]) -> Result<FetchOutcome, SyncError> {
    let peer = conn.remote_id();
    let request = encode_request(cids)?;
    let proto = |reason: String| SyncError::Protocol { peer, reason };
    let (mut send, mut recv) = conn
        .open_bi()
        .await
        .map_err(|e| refused_or(peer, conn, e.to_string()))?;
    send.write_all(&request)
        .await
        .map_err(|e| refused_or(peer, conn, e.to_string()))?;
    send.finish().map_err(|e| proto(e.to_string()))?;
    let mut outcome = FetchOutcome::default();
    for cid in cids {
        let len = recv
            .read_u32()
            .await
            .map_err(|e| refused_or(peer, conn, e.to_string()))?;
        if len == MISSING {
            outcome.missing.push(*cid);
            continue;
        }
        if len as usize > entry::MAX_ENVELOPE_BYTES {
            return Err(bad_peer(
                shared,
                conn,
                proto(format!("a block of {len} bytes is over 1 MiB")),
            ));
        }
        let mut buf = vec![0u8; len as usize];
        recv.read_exact(&mut buf).await.map_err(|e| proto(e.to_string()))?;
        let envelope = Bytes::from(buf);
        outcome.blocks.push(check(shared, conn, cid, envelope)?);
    }
    Ok(outcome)
}

/// CID first (cheap, says the sender lied), then AEAD.
pub(crate) fn check(shared: &Shared, conn: &Connection, cid: &Cid, envelope: Bytes) -> Result<Verified, SyncError> {
    let peer = conn.remote_id();
    if entry::verify_cid(cid, &envelope).is_err() {
        return Err(bad_peer(
            shared,
            conn,
            SyncError::BadBlock {
                peer,
                cid: Box::new(*cid),
            },
        ));
    }
    match entry::open(&shared.keys, &envelope) {
        Ok(entry) => {
            shared.stats.add(|c| &c.blocks_verified, 1);
            Ok(Verified {
                cid: *cid,
                envelope,
                entry,
            })
        }
        Err(e) => Err(bad_peer(
            shared,
            conn,
            SyncError::BadEnvelope {
                peer,
                reason: e.to_string(),
            },
        )),
    }
}

/// Disconnects and forgets a peer that sent bad data, counts it, and passes the error on.
pub(crate) fn bad_peer(shared: &Shared, conn: &Connection, err: SyncError) -> SyncError {
    let peer = conn.remote_id();
    tracing::warn!(%peer, error = %err, "disconnecting a bad peer");
    shared.stats.add(|c| &c.bad_peers, 1);
    shared.auth.remove(&peer);
    shared.forget_connection(&peer);
    close_conn(conn, close::BAD_DATA, "bad data");
    err
}

/// A read or write that failed because the server closed on us to refuse (no handshake) is a
/// refusal, anything else a protocol failure.
fn refused_or(peer: EndpointId, conn: &Connection, reason: String) -> SyncError {
    crate::frame::refusal(conn).unwrap_or(SyncError::Protocol { peer, reason })
}
