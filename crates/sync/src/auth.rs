//! The handshake on [`AUTH_ALPN`](crate::AUTH_ALPN) and the set of peers that passed it.
//!
//! Mutual challenge–response, one bidirectional stream, dialer D and listener L:
//!
//! ```text
//! D -> L  nonce_d (32 random bytes)
//! L -> D  nonce_l (32) | HMAC(k, "gh-p2p-cache auth/1 listener\0" | id_L | id_D | nonce_d | nonce_l)
//! D -> L  HMAC(k, "gh-p2p-cache auth/1 dialer\0" | id_D | id_L | nonce_l | nonce_d)
//! L -> D  0x01 (accepted), then L waits for D to close
//! ```
//!
//! `k` is `Keys::peer_auth_key()`; `id_X` are the endpoint ids that iroh's TLS already
//! authenticated, so a transcript is bound to this pair of endpoints and these fresh nonces: it
//! cannot be replayed to another peer or later. The two roles use different labels, so a proof
//! a listener hands out cannot be reflected back as a dialer's proof. A failure is counted
//! (`Stats::auth_failures`) and the connection closed with [`close::AUTH_FAILED`].
//!
//! Passing puts the remote id into an [`AuthSet`] with an expiry; the fetch, snapshot and gossip
//! handlers refuse connections from ids that are not in it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use iroh::EndpointId;
use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, ProtocolHandler};
use sha2::Sha256;
use tokio::io::AsyncReadExt;

use crate::frame::{close_conn, linger};
use crate::node::Shared;
use crate::{AUTH_ALPN, SyncError, close};

const LISTENER_LABEL: &[u8] = b"gh-p2p-cache auth/1 listener\0";
const DIALER_LABEL: &[u8] = b"gh-p2p-cache auth/1 dialer\0";
const NONCE_LEN: usize = 32;
const TAG_LEN: usize = 32;
const ACCEPTED: u8 = 1;

/// Remote ids that passed the handshake, each until its expiry, with when it passed and when it
/// was last seen (a handshake or a request it made or we made of it).
#[derive(Debug)]
pub struct AuthSet {
    ttl: Duration,
    peers: Mutex<HashMap<EndpointId, Passed>>,
}

#[derive(Debug, Clone, Copy)]
struct Passed {
    until: Instant,
    since_ms: u64,
    last_seen_ms: u64,
}

/// One authenticated peer, as [`AuthSet::list`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authenticated {
    pub id: EndpointId,
    /// When its current handshake passed (unix ms).
    pub since_ms: u64,
    /// When it last passed a handshake or made a request, or we made one of it (unix ms).
    pub last_seen_ms: u64,
}

impl AuthSet {
    pub fn new(ttl: Duration) -> Self {
        AuthSet {
            ttl,
            peers: Mutex::new(HashMap::new()),
        }
    }

    pub fn insert(&self, peer: EndpointId) {
        let mut peers = self.peers.lock().expect("poisoned");
        let now = Instant::now();
        peers.retain(|_, p| p.until > now);
        let ms = crate::snapshot::now_ms();
        peers.insert(
            peer,
            Passed {
                until: now + self.ttl,
                since_ms: ms,
                last_seen_ms: ms,
            },
        );
    }

    pub fn remove(&self, peer: &EndpointId) {
        self.peers.lock().expect("poisoned").remove(peer);
    }

    /// Records that `peer` was just seen (it made a request, or we made one of it).
    pub fn touch(&self, peer: &EndpointId) {
        if let Some(p) = self.peers.lock().expect("poisoned").get_mut(peer) {
            p.last_seen_ms = crate::snapshot::now_ms();
        }
    }

    /// Peers whose handshake has not expired, by id.
    pub fn list(&self) -> Vec<Authenticated> {
        let now = Instant::now();
        let mut out: Vec<Authenticated> = (self.peers.lock().expect("poisoned").iter())
            .filter(|(_, p)| p.until > now)
            .map(|(id, p)| Authenticated {
                id: *id,
                since_ms: p.since_ms,
                last_seen_ms: p.last_seen_ms,
            })
            .collect();
        out.sort_by_key(|a| a.id);
        out
    }

    /// Whether `peer` passed the handshake and stays valid for at least `margin` more.
    pub fn is_valid_for(&self, peer: &EndpointId, margin: Duration) -> bool {
        let peers = self.peers.lock().expect("poisoned");
        peers.get(peer).is_some_and(|p| p.until > Instant::now() + margin)
    }

    /// Whether `peer` passed the handshake and has not expired: what servers check.
    pub fn is_valid(&self, peer: &EndpointId) -> bool {
        self.is_valid_for(peer, Duration::ZERO)
    }

    /// What a dialer checks before reusing a past handshake: half the lifetime left, so the
    /// listener (which recorded it a moment earlier) has not expired it yet.
    pub(crate) fn is_fresh(&self, peer: &EndpointId) -> bool {
        self.is_valid_for(peer, self.ttl / 2)
    }
}

fn tag(key: &[u8; 32], label: &[u8], a: &EndpointId, b: &EndpointId, n1: &[u8], n2: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(label);
    mac.update(a.as_bytes());
    mac.update(b.as_bytes());
    mac.update(n1);
    mac.update(n2);
    mac
}

/// The listening side of the handshake.
#[derive(Debug, Clone)]
pub(crate) struct AuthHandler(pub Arc<Shared>);

impl ProtocolHandler for AuthHandler {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        let shared = &self.0;
        let remote = conn.remote_id();
        let local = shared.endpoint.id();
        let key = *shared.keys.peer_auth_key();
        let exchange = async {
            let (mut send, mut recv) = conn.accept_bi().await.map_err(|e| e.to_string())?;
            let mut nonce_d = [0u8; NONCE_LEN];
            recv.read_exact(&mut nonce_d).await.map_err(|e| e.to_string())?;
            let nonce_l: [u8; NONCE_LEN] = rand::random();
            let proof = tag(&key, LISTENER_LABEL, &local, &remote, &nonce_d, &nonce_l)
                .finalize()
                .into_bytes();
            let mut out = Vec::with_capacity(NONCE_LEN + TAG_LEN);
            out.extend_from_slice(&nonce_l);
            out.extend_from_slice(&proof);
            send.write_all(&out).await.map_err(|e| e.to_string())?;
            let mut theirs = [0u8; TAG_LEN];
            recv.read_exact(&mut theirs).await.map_err(|e| e.to_string())?;
            tag(&key, DIALER_LABEL, &remote, &local, &nonce_l, &nonce_d)
                .verify_slice(&theirs)
                .map_err(|_| "wrong proof".to_string())?;
            shared.auth.insert(remote);
            send.write_all(&[ACCEPTED]).await.map_err(|e| e.to_string())?;
            send.finish().map_err(|e| e.to_string())?;
            Ok::<_, String>(())
        };
        match tokio::time::timeout(shared.request_timeout, exchange).await {
            Ok(Ok(())) => {
                shared.stats.add(|c| &c.auth_ok, 1);
                tracing::debug!(%remote, "peer passed the handshake");
                linger(&conn, shared.request_timeout).await;
            }
            Ok(Err(reason)) => {
                shared.stats.add(|c| &c.auth_failures, 1);
                tracing::warn!(%remote, %reason, "peer failed the handshake");
                close_conn(&conn, close::AUTH_FAILED, "handshake failed");
            }
            Err(_) => {
                shared.stats.add(|c| &c.auth_failures, 1);
                tracing::warn!(%remote, "peer timed out in the handshake");
                close_conn(&conn, close::AUTH_FAILED, "handshake timed out");
            }
        }
        Ok(())
    }
}

/// The dialing side: runs the handshake with `peer` and records it on success.
pub(crate) async fn authenticate(shared: &Shared, peer: EndpointId) -> Result<(), SyncError> {
    let local = shared.endpoint.id();
    let key = *shared.keys.peer_auth_key();
    let conn = shared.connect(peer, AUTH_ALPN).await?;
    let exchange = async {
        let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
        let nonce_d: [u8; NONCE_LEN] = rand::random();
        send.write_all(&nonce_d).await.map_err(|e| e.to_string())?;
        let mut reply = [0u8; NONCE_LEN + TAG_LEN];
        recv.read_exact(&mut reply).await.map_err(|e| e.to_string())?;
        let (nonce_l, proof) = reply.split_at(NONCE_LEN);
        tag(&key, LISTENER_LABEL, &peer, &local, &nonce_d, nonce_l)
            .verify_slice(proof)
            .map_err(|_| "wrong proof".to_string())?;
        let ours = tag(&key, DIALER_LABEL, &local, &peer, nonce_l, &nonce_d)
            .finalize()
            .into_bytes();
        send.write_all(&ours).await.map_err(|e| e.to_string())?;
        send.finish().map_err(|e| e.to_string())?;
        let verdict = recv
            .read_u8()
            .await
            .map_err(|_| "the peer did not accept our proof".to_string())?;
        if verdict != ACCEPTED {
            return Err("the peer did not accept our proof".to_string());
        }
        Ok::<_, String>(())
    };
    let result = tokio::time::timeout(shared.request_timeout, exchange).await;
    match result {
        Ok(Ok(())) => {
            shared.auth.insert(peer);
            shared.stats.add(|c| &c.auth_ok, 1);
            close_conn(&conn, close::DONE, "ok");
            Ok(())
        }
        Ok(Err(reason)) => {
            shared.stats.add(|c| &c.auth_failures, 1);
            close_conn(&conn, close::AUTH_FAILED, "handshake failed");
            Err(SyncError::AuthFailed { peer, reason })
        }
        Err(_) => {
            shared.stats.add(|c| &c.auth_failures, 1);
            close_conn(&conn, close::AUTH_FAILED, "handshake timed out");
            Err(SyncError::Timeout { peer })
        }
    }
}

/// Refuses `conn` unless its remote passed the handshake; counts refusals. A refused
/// connection is closed and left to the remote to drop (so it reads the close code) before this
/// returns `false`.
pub(crate) async fn admit(shared: &Shared, conn: &Connection) -> bool {
    if shared.auth.is_valid(&conn.remote_id()) {
        shared.auth.touch(&conn.remote_id());
        return true;
    }
    shared.stats.add(|c| &c.refused_unauthenticated, 1);
    tracing::warn!(remote = %conn.remote_id(), alpn = %String::from_utf8_lossy(conn.alpn()), "refused a peer that has not passed the handshake");
    close_conn(conn, close::UNAUTHENTICATED, "handshake first");
    linger(conn, shared.request_timeout).await;
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(seed: u8) -> EndpointId {
        iroh::SecretKey::from_bytes(&[seed; 32]).public()
    }

    #[test]
    fn a_proof_holds_only_for_its_endpoints_nonces_role_and_key() {
        let key = [1u8; 32];
        let (a, b, c) = (id(1), id(2), id(3));
        let (n1, n2) = ([5u8; 32], [6u8; 32]);
        let proof = tag(&key, LISTENER_LABEL, &a, &b, &n1, &n2).finalize().into_bytes();
        assert!(tag(&key, LISTENER_LABEL, &a, &b, &n1, &n2).verify_slice(&proof).is_ok());
        // Replayed to another peer, with the roles swapped, as the other role, under fresh
        // nonces or another secret: refused.
        for other in [
            tag(&key, LISTENER_LABEL, &a, &c, &n1, &n2),
            tag(&key, LISTENER_LABEL, &b, &a, &n1, &n2),
            tag(&key, DIALER_LABEL, &a, &b, &n1, &n2),
            tag(&key, LISTENER_LABEL, &a, &b, &[7u8; 32], &n2),
            tag(&key, LISTENER_LABEL, &a, &b, &n2, &n1),
            tag(&[2u8; 32], LISTENER_LABEL, &a, &b, &n1, &n2),
        ] {
            assert!(other.verify_slice(&proof).is_err());
        }
    }

    #[test]
    fn the_set_forgets_removed_and_expired_peers() {
        let set = AuthSet::new(Duration::from_secs(3600));
        set.insert(id(1));
        assert!(set.is_valid(&id(1)) && set.is_fresh(&id(1)) && !set.is_valid(&id(2)));
        let listed = set.list();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, id(1));
        assert!(listed[0].since_ms > 0 && listed[0].last_seen_ms >= listed[0].since_ms);
        set.remove(&id(1));
        assert!(!set.is_valid(&id(1)) && set.list().is_empty());
        let expired = AuthSet::new(Duration::ZERO);
        expired.insert(id(1));
        assert!(!expired.is_valid(&id(1)) && expired.list().is_empty());
    }
}
