//! Claims on [`CLAIM_ALPN`](crate::CLAIM_ALPN): runners that hit the same error agree, through
//! one node (a sync-node) that keeps a [`ClaimBoard`], on which of them files the issue.
//!
//! One request per bidirectional stream, after the handshake:
//!
//! ```text
//! request   u8 op (1 claim, 2 resolve, 3 abandon) | u16 len | signature (UTF-8, ≤ 256 bytes)
//!           resolve only: u64 issue number | u16 len | issue URL (UTF-8, ≤ 1024 bytes); then FIN
//! response  u8 answer (1 mine, 2 known, 3 pending)
//!           known only: u64 issue number | u16 len | issue URL (abandon answers pending)
//! ```
//!
//! `mine`: the caller holds the claim for [`ClaimBoard::lease`] and should look for, or file, the
//! issue and then resolve it (or abandon it on failure: the next claimer gets `mine`). `known`: the issue exists. `pending`: someone else holds the claim;
//! ask again shortly. A holder that never resolves loses the claim when the lease ends.
//! Integers are big-endian. The board is in memory: GitHub holds the truth (the issue and its
//! marker), the board only spares the API the race.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iroh::EndpointId;
use iroh::endpoint::{Connection, RecvStream, SendStream};
use iroh::protocol::{AcceptError, ProtocolHandler};
use tokio::io::AsyncReadExt;

use crate::auth::admit;
use crate::frame::{close_conn, linger};
use crate::node::Shared;
use crate::{SyncError, close};

pub const MAX_SIGNATURE: usize = 256;
pub const MAX_URL: usize = 1024;
/// Signatures a board remembers; the oldest are forgotten beyond it.
const MAX_CLAIMS: usize = 100_000;

const OP_CLAIM: u8 = 1;
const OP_RESOLVE: u8 = 2;
const OP_ABANDON: u8 = 3;
const MINE: u8 = 1;
const KNOWN: u8 = 2;
const PENDING: u8 = 3;

/// What a claim got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimAnswer {
    /// The caller holds the claim: find or file the issue, then resolve.
    Mine,
    /// The issue exists.
    Known { number: u64, url: String },
    /// Another runner holds the claim; ask again shortly.
    Pending,
}

#[derive(Debug, Clone)]
enum Slot<H> {
    Leased { holder: H, until: Instant },
    Known { number: u64, url: String },
}

/// Claims by signature, held by `H` (a peer's endpoint id on a sync-node; a local caller's id in
/// a daemon, which asks its sync-node in turn).
#[derive(Debug)]
pub struct ClaimBoard<H = EndpointId> {
    slots: Mutex<HashMap<String, (u64, Slot<H>)>>,
    seq: std::sync::atomic::AtomicU64,
    /// How long a claim holds without a resolve.
    pub lease: Duration,
}

impl<H: Clone + PartialEq> Default for ClaimBoard<H> {
    fn default() -> Self {
        ClaimBoard::new(Duration::from_secs(60))
    }
}

impl<H: Clone + PartialEq> ClaimBoard<H> {
    pub fn new(lease: Duration) -> Self {
        ClaimBoard {
            slots: Mutex::new(HashMap::new()),
            seq: Default::default(),
            lease,
        }
    }

    /// `who` asks for `signature`.
    pub fn claim(&self, who: H, signature: &str) -> ClaimAnswer {
        let now = Instant::now();
        let mut slots = self.slots.lock().expect("claims lock");
        match slots.get(signature).map(|(_, s)| s.clone()) {
            Some(Slot::Known { number, url }) => ClaimAnswer::Known { number, url },
            Some(Slot::Leased { holder, until }) if until > now && holder != who => ClaimAnswer::Pending,
            _ => {
                if slots.len() >= MAX_CLAIMS
                    && let Some(oldest) = slots.iter().min_by_key(|(_, (seq, _))| *seq).map(|(k, _)| k.clone())
                {
                    slots.remove(&oldest);
                }
                let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let slot = Slot::Leased {
                    holder: who,
                    until: now + self.lease,
                };
                slots.insert(signature.to_owned(), (seq, slot));
                ClaimAnswer::Mine
            }
        }
    }

    /// `who` gave up its claim on `signature` (a failure): the next claimer gets it. Returns
    /// whether `who` held it (nobody else can give it up).
    pub fn abandon(&self, who: &H, signature: &str) -> bool {
        let mut slots = self.slots.lock().expect("claims lock");
        if let Some((_, Slot::Leased { holder, .. })) = slots.get(signature)
            && holder == who
        {
            slots.remove(signature);
            return true;
        }
        false
    }

    /// The issue for `signature` is `number` at `url` (from anyone: it exists on GitHub).
    pub fn resolve(&self, signature: &str, number: u64, url: &str) {
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut slots = self.slots.lock().expect("claims lock");
        slots.insert(
            signature.to_owned(),
            (
                seq,
                Slot::Known {
                    number,
                    url: url.to_owned(),
                },
            ),
        );
    }
}

/// Serving side: present on nodes given a board.
#[derive(Debug, Clone)]
pub(crate) struct ClaimHandler(pub Arc<Shared>);

impl ProtocolHandler for ClaimHandler {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        let shared = &self.0;
        if !admit(shared, &conn).await {
            return Ok(());
        }
        let Some(board) = shared.claims.clone() else {
            close_conn(&conn, close::NO_SINK, "this node keeps no claims");
            linger(&conn, shared.request_timeout).await;
            return Ok(());
        };
        let remote = conn.remote_id();
        loop {
            let Ok(Ok((mut send, mut recv))) = tokio::time::timeout(shared.request_timeout, conn.accept_bi()).await
            else {
                return Ok(());
            };
            let request = tokio::time::timeout(shared.request_timeout, read_request(&mut recv)).await;
            let answer = match request {
                Ok(Ok(Request::Claim(sig))) => board.claim(remote, &sig),
                Ok(Ok(Request::Resolve(sig, number, url))) => {
                    board.resolve(&sig, number, &url);
                    ClaimAnswer::Known { number, url }
                }
                Ok(Ok(Request::Abandon(sig))) => {
                    board.abandon(&remote, &sig);
                    ClaimAnswer::Pending
                }
                _ => {
                    close_conn(&conn, close::PROTOCOL, "bad claim request");
                    return Ok(());
                }
            };
            if write_answer(&mut send, &answer).await.is_err() {
                return Ok(());
            }
        }
    }
}

enum Request {
    Claim(String),
    Abandon(String),
    Resolve(String, u64, String),
}

async fn read_text(recv: &mut RecvStream, max: usize) -> Result<String, String> {
    let len = recv.read_u16().await.map_err(|_| "truncated claim")? as usize;
    if len == 0 || len > max {
        return Err(format!("claim text of {len} bytes (1..={max})"));
    }
    let mut buf = vec![0; len];
    recv.read_exact(&mut buf).await.map_err(|_| "truncated claim")?;
    String::from_utf8(buf).map_err(|_| "claim text is not UTF-8".to_owned())
}

async fn read_request(recv: &mut RecvStream) -> Result<Request, String> {
    let op = recv.read_u8().await.map_err(|_| "empty claim")?;
    let sig = read_text(recv, MAX_SIGNATURE).await?;
    match op {
        OP_CLAIM => Ok(Request::Claim(sig)),
        OP_ABANDON => Ok(Request::Abandon(sig)),
        OP_RESOLVE => {
            let number = recv.read_u64().await.map_err(|_| "truncated resolve")?;
            let url = read_text(recv, MAX_URL).await?;
            Ok(Request::Resolve(sig, number, url))
        }
        other => Err(format!("unknown claim op {other}")),
    }
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u16).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

async fn write_answer(send: &mut SendStream, answer: &ClaimAnswer) -> std::io::Result<()> {
    let mut out = Vec::new();
    match answer {
        ClaimAnswer::Mine => out.push(MINE),
        ClaimAnswer::Pending => out.push(PENDING),
        ClaimAnswer::Known { number, url } => {
            out.push(KNOWN);
            out.extend_from_slice(&number.to_be_bytes());
            put_text(&mut out, url);
        }
    }
    send.write_all(&out).await?;
    send.finish().map_err(std::io::Error::other)
}

/// Client side: one request on `conn`.
/// What a client asks.
#[derive(Debug, Clone, Copy)]
pub enum ClaimOp<'a> {
    Claim,
    Resolve { number: u64, url: &'a str },
    Abandon,
}

pub(crate) async fn ask(conn: &Connection, signature: &str, op: ClaimOp<'_>) -> Result<ClaimAnswer, SyncError> {
    if signature.is_empty() || signature.len() > MAX_SIGNATURE {
        return Err(SyncError::BadClaim(format!(
            "signature of {} bytes (1..={MAX_SIGNATURE})",
            signature.len()
        )));
    }
    let mut out = Vec::new();
    out.push(match op {
        ClaimOp::Claim => OP_CLAIM,
        ClaimOp::Resolve { .. } => OP_RESOLVE,
        ClaimOp::Abandon => OP_ABANDON,
    });
    put_text(&mut out, signature);
    if let ClaimOp::Resolve { number, url } = op {
        if url.is_empty() || url.len() > MAX_URL {
            return Err(SyncError::BadClaim(format!(
                "issue URL of {} bytes (1..={MAX_URL})",
                url.len()
            )));
        }
        out.extend_from_slice(&number.to_be_bytes());
        put_text(&mut out, url);
    }
    let peer = conn.remote_id();
    let lost = |what: &str| {
        crate::frame::refusal(conn).unwrap_or(SyncError::Connect {
            peer,
            reason: format!("claim exchange broken ({what})"),
        })
    };
    let (mut send, mut recv) = conn.open_bi().await.map_err(|e| lost(&e.to_string()))?;
    send.write_all(&out).await.map_err(|e| lost(&e.to_string()))?;
    send.finish().map_err(|e| lost(&e.to_string()))?;
    let tag = recv.read_u8().await.map_err(|e| lost(&e.to_string()))?;
    let protocol = |reason: String| SyncError::Protocol { peer, reason };
    match tag {
        MINE => Ok(ClaimAnswer::Mine),
        PENDING => Ok(ClaimAnswer::Pending),
        KNOWN => {
            let number = recv.read_u64().await.map_err(|e| lost(&e.to_string()))?;
            let url = read_text(&mut recv, MAX_URL).await.map_err(protocol)?;
            Ok(ClaimAnswer::Known { number, url })
        }
        other => Err(protocol(format!("unknown claim answer {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> EndpointId {
        iroh::SecretKey::from_bytes(&[n; 32]).public()
    }

    #[test]
    fn first_claimer_wins_others_wait_then_learn_the_issue() {
        let board: ClaimBoard = ClaimBoard::new(Duration::from_secs(60));
        assert_eq!(board.claim(id(1), "sig"), ClaimAnswer::Mine);
        assert_eq!(board.claim(id(2), "sig"), ClaimAnswer::Pending);
        // The holder asking again keeps it.
        assert_eq!(board.claim(id(1), "sig"), ClaimAnswer::Mine);
        board.resolve("sig", 7, "https://github.com/o/r/issues/7");
        let known = ClaimAnswer::Known {
            number: 7,
            url: "https://github.com/o/r/issues/7".into(),
        };
        assert_eq!(board.claim(id(2), "sig"), known);
        assert_eq!(board.claim(id(3), "other"), ClaimAnswer::Mine);
        // Only the holder can give a claim up.
        board.abandon(&id(1), "other");
        assert_eq!(board.claim(id(1), "other"), ClaimAnswer::Pending);
        board.abandon(&id(3), "other");
        assert_eq!(board.claim(id(1), "other"), ClaimAnswer::Mine);
    }

    #[test]
    fn an_abandoned_claim_passes_on_when_its_lease_ends() {
        let board: ClaimBoard = ClaimBoard::new(Duration::from_millis(1));
        assert_eq!(board.claim(id(1), "sig"), ClaimAnswer::Mine);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(board.claim(id(2), "sig"), ClaimAnswer::Mine);
    }
}
