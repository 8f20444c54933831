//! Small connection helpers shared by the protocols: "wait for the peer to close", so a server
//! never drops a connection with data still in flight, closing with one of our codes, and reading
//! a refusal out of the code the remote closed with.

use std::time::Duration;

use iroh::endpoint::{Connection, ConnectionError};

use crate::{SyncError, close};

/// After a server has finished its streams, lets the client close the connection (it knows when
/// it has read everything); dropping it earlier could cut unacknowledged data.
pub(crate) async fn linger(conn: &Connection, limit: Duration) {
    let _ = tokio::time::timeout(limit, conn.closed()).await;
}

pub(crate) fn close_conn(conn: &Connection, code: u32, reason: &str) {
    conn.close(code.into(), reason.as_bytes());
}

/// The error a remote's close means when it closed `conn` to refuse us (busy, no sink, bad data,
/// store failed, no handshake); `None` for any other end.
pub(crate) fn refusal(conn: &Connection) -> Option<SyncError> {
    let Some(ConnectionError::ApplicationClosed(c)) = conn.close_reason() else {
        return None;
    };
    let peer = conn.remote_id();
    let said = String::from_utf8_lossy(&c.reason).into_owned();
    let code = u32::try_from(c.error_code.into_inner()).ok()?;
    Some(match code {
        close::BUSY => SyncError::Refused {
            peer,
            reason: "busy serving other transfers; retry later".into(),
        },
        close::UNAUTHENTICATED => SyncError::Refused {
            peer,
            reason: "the peer has no record of our handshake".into(),
        },
        close::NO_SINK => SyncError::NoSink { peer },
        close::BAD_DATA | close::STORE_FAILED => SyncError::Rejected { peer, reason: said },
        _ => return None,
    })
}
