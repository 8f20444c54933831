//! Small connection helpers shared by the protocols: "wait for the peer to close", so a server
//! never drops a connection with data still in flight, and closing with one of our codes.

use std::time::Duration;

use iroh::endpoint::Connection;

/// After a server has finished its streams, lets the client close the connection (it knows when
/// it has read everything); dropping it earlier could cut unacknowledged data.
pub(crate) async fn linger(conn: &Connection, limit: Duration) {
    let _ = tokio::time::timeout(limit, conn.closed()).await;
}

pub(crate) fn close_conn(conn: &Connection, code: u32, reason: &str) {
    conn.close(code.into(), reason.as_bytes());
}
