//! Publish with acknowledgement on [`PUBLISH_ALPN`](crate::PUBLISH_ALPN): a runner pushes its
//! envelopes to a sync-node and learns when they are durably stored, so it can stop holding them.
//!
//! After the handshake, one bidirectional stream:
//!
//! ```text
//! client -> server  a CAR v1 snapshot (crates/ipfs SNAPSHOT.md) of the envelopes; then FIN
//! server -> client  u64 received | u64 stored (big-endian), after its sink returned; then FIN
//! ```
//!
//! The same bytes and code as [`snapshot`](crate::snapshot), in the other direction. The server
//! checks every block (CID, then `entry::open`); a bad one rejects the whole publish: nothing is
//! stored, the publisher is disconnected and counted as a bad peer, and it sees
//! `close::BAD_DATA`. A node without a [`BlockSink`](crate::BlockSink) closes with
//! `close::NO_SINK`, one already receiving as many publishes as it takes with `close::BUSY`, a
//! failing sink with `close::STORE_FAILED`; no acknowledgement comes in any of these cases.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, ProtocolHandler};

use crate::auth::admit;
use crate::frame::{close_conn, linger, refusal};
use crate::node::Shared;
use crate::snapshot::{receive_snapshot, send_snapshot};
use crate::{SyncError, close};

/// What the receiving node acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishAck {
    /// Envelopes it received, verified and handed to its sink.
    pub received: u64,
    /// How many of them its sink holds durably now (fewer when it declined some, such as older
    /// versions of keys it holds).
    pub stored: u64,
}

/// Longest close reason sent (QUIC carries it in one packet).
const MAX_REASON: usize = 200;

/// Serving side.
#[derive(Debug, Clone)]
pub(crate) struct PublishHandler(pub Arc<Shared>);

impl ProtocolHandler for PublishHandler {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        let shared = &self.0;
        if !admit(shared, &conn).await {
            return Ok(());
        }
        let remote = conn.remote_id();
        let Some(sink) = shared.sink.clone() else {
            tracing::info!(%remote, "publish refused: this node has no sink");
            close_conn(&conn, close::NO_SINK, "this node stores nothing published to it");
            linger(&conn, shared.request_timeout).await;
            return Ok(());
        };
        let Ok(_permit) = shared.publish_permits.clone().try_acquire_owned() else {
            tracing::info!(%remote, "publish refused: busy");
            close_conn(&conn, close::BUSY, "busy, retry later");
            linger(&conn, shared.request_timeout).await;
            return Ok(());
        };
        let Ok(Ok((mut send, recv))) = tokio::time::timeout(shared.request_timeout, conn.accept_bi()).await else {
            return Ok(());
        };
        // A bad block has already closed the connection and counted the publisher.
        let outcome = match receive_snapshot(shared, &conn, recv).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::warn!(%remote, error = %e, "publish not received");
                close_conn(&conn, close::PROTOCOL, "publish not received");
                return Ok(());
            }
        };
        let received = outcome.blocks.len() as u64;
        let stored = tokio::task::spawn_blocking(move || sink.store(outcome.blocks))
            .await
            .map_err(|e| format!("the sink panicked: {e}"))
            .and_then(|r| r);
        let stored = match stored {
            Ok(n) => n.min(received),
            Err(reason) => {
                tracing::warn!(%remote, %reason, received, "published blocks not stored");
                let said: String = format!("could not store: {reason}").chars().take(MAX_REASON).collect();
                close_conn(&conn, close::STORE_FAILED, &said);
                linger(&conn, shared.request_timeout).await;
                return Ok(());
            }
        };
        shared.stats.add(|c| &c.blocks_stored, stored);
        let mut ack = [0u8; 16];
        ack[..8].copy_from_slice(&received.to_be_bytes());
        ack[8..].copy_from_slice(&stored.to_be_bytes());
        let sent = async {
            send.write_all(&ack).await.map_err(|e| e.to_string())?;
            send.finish().map_err(|e| e.to_string())
        };
        match sent.await {
            Ok(()) => linger(&conn, shared.request_timeout).await,
            Err(reason) => tracing::warn!(%remote, %reason, "publish stored but not acknowledged"),
        }
        Ok(())
    }
}

/// Checks what a caller asks to publish (each block under its own CID, within the size limit)
/// and drops repeated CIDs, so the acknowledgement can be compared with what was sent.
pub(crate) fn prepare(blocks: Vec<(Cid, Bytes)>) -> Result<Vec<(Cid, Bytes)>, SyncError> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(blocks.len());
    for (cid, bytes) in blocks {
        let unpublishable = |reason: String| SyncError::Unpublishable {
            cid: Box::new(cid),
            reason,
        };
        if bytes.len() > entry::MAX_ENVELOPE_BYTES {
            return Err(unpublishable(format!("{} bytes is over the 1 MiB limit", bytes.len())));
        }
        entry::verify_cid(&cid, &bytes).map_err(|e| unpublishable(e.to_string()))?;
        if seen.insert(cid) {
            out.push((cid, bytes));
        }
    }
    Ok(out)
}

/// Publishing side: sends `blocks` (already [`prepare`]d) over `conn` and waits for the
/// acknowledgement: the transfer within the snapshot time limit, the acknowledgement within the
/// request time limit after it.
pub(crate) async fn publish_to(
    shared: &Shared,
    conn: &Connection,
    blocks: Vec<(Cid, Bytes)>,
) -> Result<PublishAck, SyncError> {
    let peer = conn.remote_id();
    let failed = |reason: String| refusal(conn).unwrap_or(SyncError::Protocol { peer, reason });
    let count = blocks.len() as u64;
    let key_id = shared.keys.key_id().to_string();
    let (send, mut recv) = conn.open_bi().await.map_err(|e| failed(e.to_string()))?;
    let transfer = send_snapshot(send, key_id, move || blocks);
    match tokio::time::timeout(shared.snapshot_timeout, transfer).await {
        Ok(Ok(_)) => {}
        Ok(Err(reason)) => return Err(failed(reason)),
        Err(_) => {
            close_conn(conn, close::PROTOCOL, "too slow");
            return Err(SyncError::Timeout { peer });
        }
    }
    let mut ack = [0u8; 16];
    match tokio::time::timeout(shared.request_timeout, recv.read_exact(&mut ack)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(failed(e.to_string())),
        Err(_) => {
            close_conn(conn, close::PROTOCOL, "no acknowledgement in time");
            return Err(SyncError::Timeout { peer });
        }
    }
    let ack = PublishAck {
        received: u64::from_be_bytes(ack[..8].try_into().expect("8 bytes")),
        stored: u64::from_be_bytes(ack[8..].try_into().expect("8 bytes")),
    };
    if ack.received != count || ack.stored > ack.received {
        close_conn(conn, close::PROTOCOL, "acknowledgement does not match");
        return Err(SyncError::Protocol {
            peer,
            reason: format!(
                "acknowledged {} received and {} stored of {count} sent",
                ack.received, ack.stored
            ),
        });
    }
    close_conn(conn, close::DONE, "ok");
    shared.stats.add(|c| &c.blocks_published, ack.stored);
    Ok(ack)
}
