//! "Everything since T" on [`SNAPSHOT_ALPN`](crate::SNAPSHOT_ALPN), for a peer that joins late
//! (gossip has no history).
//!
//! ```text
//! request   u64 since_ms (big-endian); then FIN
//! response  a CAR v1 snapshot (crates/ipfs SNAPSHOT.md): manifest first, then the envelopes
//! ```
//!
//! The same bytes as a snapshot file, written by `ipfs::write_snapshot` and read by
//! `ipfs::read_snapshot` on blocking threads, joined to the QUIC stream by channel pumps
//! (`pipe`). The reader checks every
//! block's hash; this side checks the CID again and opens each envelope. Any failure rejects the
//! whole snapshot and the server is disconnected and counted as a bad peer. With
//! `PeerNode::snapshot_since_into` the checked envelopes are handed over in batches while the
//! rest still arrives (warm start stores them meanwhile); those already handed over stay valid.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cid::Cid;
use ipfs::{CarError, EntryMeta, SnapshotError};
use iroh::endpoint::{Connection, RecvStream, SendStream};
use iroh::protocol::{AcceptError, ProtocolHandler};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::SyncError;
use crate::auth::admit;
use crate::fetch::{Verified, bad_peer, check};
use crate::frame::linger;
use crate::node::Shared;

/// What a snapshot brought back: every envelope verified and opened.
#[derive(Debug, Default)]
pub struct SnapshotOutcome {
    /// Every envelope, unless they were handed over in batches as they arrived (then empty).
    pub blocks: Vec<Verified>,
    /// Envelopes received, checked and opened.
    pub received: u64,
    /// The manifest's creation time (server clock, unix ms): ask for `since = created_ms` next.
    pub created_ms: u64,
}

/// Serving side.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotHandler(pub Arc<Shared>);

impl ProtocolHandler for SnapshotHandler {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        let shared = &self.0;
        if !admit(shared, &conn).await {
            return Ok(());
        }
        // Snapshots are the expensive request: a few at a time, the others are told to retry.
        let Ok(_permit) = shared.snapshot_permits.clone().try_acquire_owned() else {
            tracing::info!(remote = %conn.remote_id(), "snapshot refused: busy");
            crate::frame::close_conn(&conn, crate::close::BUSY, "busy, retry later");
            linger(&conn, shared.request_timeout).await;
            return Ok(());
        };
        let Ok(Ok((send, mut recv))) = tokio::time::timeout(shared.request_timeout, conn.accept_bi()).await else {
            return Ok(());
        };
        let Ok(Ok(since)) = tokio::time::timeout(shared.request_timeout, recv.read_u64()).await else {
            return Ok(());
        };
        let source = shared.source.clone();
        let written = send_snapshot(send, shared.keys.key_id().to_string(), move || {
            let cids = source.since(since);
            let blocks = source.get_many(&cids);
            cids.into_iter()
                .zip(blocks)
                .filter_map(|(cid, b)| b.map(|b| (cid, b)))
                .filter(|(_, b)| b.len() <= entry::MAX_ENVELOPE_BYTES)
                .collect()
        })
        .await;
        match written {
            Ok(n) => {
                shared.stats.add(|c| &c.blocks_served, n);
                linger(&conn, shared.snapshot_timeout).await;
            }
            Err(reason) => tracing::warn!(remote = %conn.remote_id(), %reason, "snapshot not sent"),
        }
        Ok(())
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Writes a CAR snapshot of the envelopes `items` gives (called on a blocking thread) to `send`
/// and finishes the stream, returning how many envelopes went out. On failure the stream is
/// reset, not finished: the reader must not take it for complete.
pub(crate) async fn send_snapshot(
    send: SendStream,
    key_id: String,
    items: impl FnOnce() -> Vec<(Cid, Bytes)> + Send + 'static,
) -> Result<u64, String> {
    let (mut out, pump) = crate::pipe::writer(send);
    let written = tokio::task::spawn_blocking(move || {
        let items: Vec<_> = items()
            .into_iter()
            .map(|(cid, b)| {
                let meta = EntryMeta {
                    key_id: Some(key_id.clone()),
                    expires_ms: None,
                };
                (cid, b, meta)
            })
            .collect();
        let n = items.len() as u64;
        ipfs::write_snapshot(&mut out, now_ms(), items).map_err(|e| e.to_string())?;
        std::io::Write::flush(&mut out).map_err(|e| e.to_string())?;
        Ok::<_, String>(n)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    // The writer is dropped with the blocking task, so the pump has everything.
    match (written, pump.await) {
        (Ok(n), Ok(Ok(mut send))) => send.finish().map(|_| n).map_err(|e| e.to_string()),
        (Err(reason), Ok(Ok(mut send))) => {
            let _ = send.reset(crate::close::PROTOCOL.into());
            Err(reason)
        }
        (Err(reason), _) => Err(reason),
        (Ok(_), Ok(Err(e))) => Err(e.to_string()),
        (Ok(_), Err(e)) => Err(e.to_string()),
    }
}

/// Requesting side.
pub(crate) async fn snapshot_from(
    shared: &Arc<Shared>,
    conn: Connection,
    since_ms: u64,
    batches: Option<BlockBatches>,
) -> Result<SnapshotOutcome, SyncError> {
    let peer = conn.remote_id();
    // The server may refuse (busy) before our request is out: say so rather than "broken".
    let failed = |reason: String| busy_or(&conn, SyncError::Protocol { peer, reason });
    let (mut send, recv) = conn.open_bi().await.map_err(|e| failed(e.to_string()))?;
    send.write_u64(since_ms).await.map_err(|e| failed(e.to_string()))?;
    send.finish().map_err(|e| failed(e.to_string()))?;
    let outcome = receive_snapshot_into(shared, &conn, recv, batches).await;
    if outcome.is_ok() {
        crate::frame::close_conn(&conn, crate::close::DONE, "ok");
    }
    outcome
}

/// Reads a whole CAR snapshot from `recv` within the snapshot time limit, checking and opening
/// every envelope; a bad one disconnects the sender and counts it.
pub(crate) async fn receive_snapshot(
    shared: &Arc<Shared>,
    conn: &Connection,
    recv: RecvStream,
) -> Result<SnapshotOutcome, SyncError> {
    receive_snapshot_into(shared, conn, recv, None).await
}

async fn receive_snapshot_into(
    shared: &Arc<Shared>,
    conn: &Connection,
    recv: RecvStream,
    batches: Option<BlockBatches>,
) -> Result<SnapshotOutcome, SyncError> {
    let peer = conn.remote_id();
    let (input, pump) = crate::pipe::reader(recv, shared.max_snapshot_bytes);
    let worker = {
        let shared = shared.clone();
        let conn = conn.clone();
        tokio::task::spawn_blocking(move || read_all(&shared, &conn, input, batches))
    };
    let outcome = match tokio::time::timeout(shared.snapshot_timeout, worker).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(SyncError::Protocol {
            peer,
            reason: format!("snapshot reader failed: {e}"),
        }),
        Err(_) => {
            crate::frame::close_conn(conn, crate::close::PROTOCOL, "too slow");
            Err(SyncError::Timeout { peer })
        }
    };
    pump.abort();
    outcome
}

/// `err`, unless the remote closed the connection to refuse us (busy, for a snapshot).
fn busy_or(conn: &Connection, err: SyncError) -> SyncError {
    crate::frame::refusal(conn).unwrap_or(err)
}

/// A stream that ends early (server gone, busy, limit reached) is a failed transfer; anything
/// that fails a check is bad data and costs the peer.
fn is_transfer_failure(e: &SnapshotError) -> bool {
    matches!(
        e,
        SnapshotError::Car(CarError::Io { .. } | CarError::Empty)
            | SnapshotError::Incomplete { .. }
            | SnapshotError::ManifestMissing { .. }
    )
}

/// Verified blocks handed over in batches while a snapshot is still arriving.
pub type BlockBatches = std::sync::mpsc::SyncSender<Vec<Verified>>;

/// Blocks per batch handed to a [`BlockBatches`] receiver.
pub const BATCH: usize = 1024;

fn read_all<R: std::io::Read>(
    shared: &Shared,
    conn: &Connection,
    input: R,
    batches: Option<BlockBatches>,
) -> Result<SnapshotOutcome, SyncError> {
    let peer = conn.remote_id();
    let fail = |e: SnapshotError| {
        if is_transfer_failure(&e) {
            busy_or(
                conn,
                SyncError::Protocol {
                    peer,
                    reason: e.to_string(),
                },
            )
        } else {
            bad_peer(
                shared,
                conn,
                SyncError::Protocol {
                    peer,
                    reason: e.to_string(),
                },
            )
        }
    };
    let bad = |reason: String| bad_peer(shared, conn, SyncError::Protocol { peer, reason });
    let (manifest, mut envelopes) = ipfs::read_snapshot(input).map_err(fail)?;
    let mut outcome = SnapshotOutcome {
        blocks: Vec::with_capacity(if batches.is_some() {
            BATCH
        } else {
            manifest.entries.len()
        }),
        received: 0,
        created_ms: manifest.created_ms,
    };
    let mut count = 0u64;
    for item in envelopes.by_ref() {
        let envelope = item.map_err(fail)?;
        outcome.blocks.push(check(shared, conn, &envelope.cid, envelope.data)?);
        count += 1;
        if let Some(tx) = &batches
            && outcome.blocks.len() >= BATCH
        {
            // A receiver that went away only stops the handing over, not the checking.
            let _ = tx.send(std::mem::take(&mut outcome.blocks));
        }
    }
    let missing = envelopes.missing().count();
    if missing > 0 {
        return Err(bad(format!("{missing} envelopes listed in the manifest never came")));
    }
    if let Some(tx) = &batches
        && !outcome.blocks.is_empty()
    {
        let _ = tx.send(std::mem::take(&mut outcome.blocks));
    }
    outcome.received = count;
    Ok(outcome)
}
