//! [`PeerNode`]: one iroh endpoint with its router (handshake, fetch, snapshot, publish, gossip) and the
//! gossip topic derived from the secret.
//!
//! By default the endpoint stays where it is bound: no relays, no DNS or pkarr address lookup, no
//! port mapper, no multicast; peers are found only through the addresses given (bootstrap peers,
//! tickets, a shared [`MemoryLookup`]). Relays and mDNS are opt-in ([`crate::discovery`]).
//! Binding never waits for the network.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cid::Cid;
use entry::Keys;
use futures_util::StreamExt;
use iroh::address_lookup::MemoryLookup;
use iroh::endpoint::{Connection, PortmapperConfig, presets};
use iroh::protocol::{AcceptError, ProtocolHandler, Router};
use iroh::{Endpoint, EndpointAddr, EndpointId, SecretKey};
use iroh_gossip::api::{Event, GossipSender};
use iroh_gossip::{Gossip, TopicId};
use iroh_tickets::endpoint::EndpointTicket;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::announce::{self, Announced, Announcement};
use crate::auth::{AuthHandler, AuthSet, authenticate};
use crate::discovery::{RelayChoice, spawn_mdns_joiner, start_mdns};
use crate::fetch::{FetchHandler, FetchOutcome, fetch_on};
use crate::frame::close_conn;
use crate::publish::{PublishAck, PublishHandler, prepare, publish_to};
use crate::snapshot::{SnapshotHandler, SnapshotOutcome, snapshot_from};
use crate::source::{BlockSink, BlockSource};
use crate::stats::{Counters, Stats};
use crate::{AUTH_ALPN, FETCH_ALPN, PUBLISH_ALPN, SNAPSHOT_ALPN, SyncError, close};

/// iroh-gossip's default, stated so the batching limit below it is checked against it.
const GOSSIP_MAX_MESSAGE: usize = 4096;
// An announcement with gossip's framing must stay under the limit (FACTS: about 40 bytes).
const _: () = assert!(crate::MAX_ANNOUNCE_BYTES + 64 <= GOSSIP_MAX_MESSAGE);
/// Announcements buffered per subscriber; a slow subscriber loses the oldest (hint only).
const ANNOUNCEMENT_BUFFER: usize = 1024;

/// How to build a [`PeerNode`].
#[derive(Clone)]
pub struct PeerConfig {
    /// Derived from the fleet's secret (`Keys::derive`, once per process).
    pub keys: Arc<Keys>,
    /// What this node serves.
    pub source: Arc<dyn BlockSource>,
    /// Where envelopes published to this node go (a sync-node). `None` (the default): publishes
    /// are refused with `close::NO_SINK`.
    pub sink: Option<Arc<dyn BlockSink>>,
    /// A claim board to keep for the fleet (a sync-node's); `None` refuses claims.
    pub claims: Option<Arc<crate::claim::ClaimBoard>>,
    /// The endpoint's identity: `None` for a fresh one (a runner), a stored key for a sync-node
    /// whose ticket must stay valid across restarts.
    pub secret_key: Option<SecretKey>,
    /// Where to bind the UDP socket. Default `127.0.0.1:0`; `0.0.0.0:0` to be reachable from
    /// other machines.
    pub bind_addr: SocketAddr,
    /// Relay servers, for peers that cannot reach each other directly. Default
    /// [`RelayChoice::Disabled`]. Connecting to them happens in the background.
    pub relay: RelayChoice,
    /// Advertise this node and find fleet peers on the local network by mDNS (multicast), then
    /// authenticate with and join each. Default off.
    pub mdns: bool,
    /// Peers to authenticate with and join the gossip topic through.
    pub bootstrap: Vec<EndpointAddr>,
    /// Address book shared with other nodes (tests: one for all nodes; this node adds its own
    /// address to it). `None`: a private one holding the bootstrap addresses.
    pub lookup: Option<MemoryLookup>,
    /// How long a passed handshake admits a peer. Default 10 minutes.
    pub auth_ttl: Duration,
    /// Limit on each exchange (handshake, one fetch). Default 10 s.
    pub request_timeout: Duration,
    /// Limit on a whole snapshot transfer. Default 5 minutes.
    pub snapshot_timeout: Duration,
    /// Largest snapshot accepted. Default 4 GiB.
    pub max_snapshot_bytes: u64,
    /// Snapshots served at once (each holds its envelopes in memory while it streams), and
    /// likewise publishes received at once. Default 2.
    pub max_concurrent_snapshots: usize,
}

impl PeerConfig {
    pub fn new(keys: Arc<Keys>, source: Arc<dyn BlockSource>) -> Self {
        PeerConfig {
            keys,
            source,
            sink: None,
            claims: None,
            secret_key: None,
            bind_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            relay: RelayChoice::Disabled,
            mdns: false,
            bootstrap: Vec::new(),
            lookup: None,
            auth_ttl: Duration::from_secs(600),
            request_timeout: Duration::from_secs(10),
            snapshot_timeout: Duration::from_secs(300),
            max_snapshot_bytes: 4 << 30,
            max_concurrent_snapshots: 2,
        }
    }
}

impl std::fmt::Debug for PeerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConfig")
            .field("keys", &self.keys)
            .field("persistent_id", &self.secret_key.as_ref().map(|k| k.public()))
            .field("bind_addr", &self.bind_addr)
            .field("relay", &self.relay)
            .field("mdns", &self.mdns)
            .field("bootstrap", &self.bootstrap)
            .field("sink", &self.sink.is_some())
            .finish_non_exhaustive()
    }
}

/// State shared by the node and its protocol handlers.
pub(crate) struct Shared {
    pub endpoint: Endpoint,
    pub keys: Arc<Keys>,
    pub source: Arc<dyn BlockSource>,
    pub sink: Option<Arc<dyn BlockSink>>,
    pub claims: Option<Arc<crate::claim::ClaimBoard>>,
    pub auth: AuthSet,
    pub stats: Counters,
    pub lookup: MemoryLookup,
    pub request_timeout: Duration,
    pub snapshot_timeout: Duration,
    pub max_snapshot_bytes: u64,
    /// Snapshots served at once; more are refused with `close::BUSY`.
    pub snapshot_permits: Arc<tokio::sync::Semaphore>,
    /// Publishes received at once; more are refused with `close::BUSY`.
    pub publish_permits: Arc<tokio::sync::Semaphore>,
    /// Open fetch connections, reused across requests.
    fetch_conns: Mutex<HashMap<EndpointId, Connection>>,
    /// Open claim connections, reused across requests.
    claim_conns: Mutex<HashMap<EndpointId, Connection>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("id", &self.endpoint.id())
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) async fn connect(&self, peer: EndpointId, alpn: &[u8]) -> Result<Connection, SyncError> {
        match tokio::time::timeout(self.request_timeout, self.endpoint.connect(peer, alpn)).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(SyncError::Connect {
                peer,
                reason: e.to_string(),
            }),
            Err(_) => Err(SyncError::Timeout { peer }),
        }
    }

    /// Runs the handshake unless a recent one still holds.
    pub(crate) async fn ensure_authenticated(&self, peer: EndpointId) -> Result<(), SyncError> {
        if self.auth.is_fresh(&peer) {
            self.auth.touch(&peer);
            return Ok(());
        }
        authenticate(self, peer).await
    }

    pub(crate) fn forget_connection(&self, peer: &EndpointId) {
        self.fetch_conns.lock().expect("poisoned").remove(peer);
    }

    async fn fetch_connection(&self, peer: EndpointId) -> Result<Connection, SyncError> {
        if let Some(conn) = self.fetch_conns.lock().expect("poisoned").get(&peer)
            && conn.close_reason().is_none()
        {
            return Ok(conn.clone());
        }
        let conn = self.connect(peer, FETCH_ALPN).await?;
        self.fetch_conns.lock().expect("poisoned").insert(peer, conn.clone());
        Ok(conn)
    }
}

/// Gossip behind the handshake: a connection from a remote that has not passed it triggers one
/// (we dial back on the handshake ALPN); only then does gossip get the connection. Peers learned
/// through the swarm (not bootstrap peers) arrive this way.
#[derive(Debug, Clone)]
struct GatedGossip {
    shared: Arc<Shared>,
    gossip: Gossip,
}

impl ProtocolHandler for GatedGossip {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        let remote = conn.remote_id();
        if !self.shared.auth.is_valid(&remote)
            && let Err(e) = authenticate(&self.shared, remote).await
        {
            self.shared.stats.add(|c| &c.refused_unauthenticated, 1);
            tracing::warn!(%remote, error = %e, "refused gossip from a peer that failed the handshake");
            close_conn(&conn, close::UNAUTHENTICATED, "handshake first");
            return Ok(());
        }
        ProtocolHandler::accept(&self.gossip, conn).await
    }

    async fn shutdown(&self) {
        ProtocolHandler::shutdown(&self.gossip).await
    }
}

/// A peer: an iroh endpoint serving the handshake, fetch, snapshot, publish and gossip protocols.
#[derive(Debug)]
pub struct PeerNode {
    shared: Arc<Shared>,
    router: Router,
    sender: GossipSender,
    announcements: broadcast::Sender<Announcement>,
    neighbors: watch::Receiver<BTreeSet<EndpointId>>,
    tasks: Vec<JoinHandle<()>>,
}

/// A peer this node knows now, for diagnostics (`/_cache/peers`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PeerInfo {
    pub id: EndpointId,
    /// When its current handshake passed (unix ms); `None` for a gossip neighbour whose handshake
    /// has expired.
    pub authenticated_since_ms: Option<u64>,
    /// When it last passed a handshake or made a request, or we made one of it (unix ms).
    pub last_seen_ms: Option<u64>,
    /// A direct neighbour on the gossip topic.
    pub neighbor: bool,
}

impl PeerNode {
    /// Binds the endpoint, starts serving, subscribes to the topic and, in the background,
    /// authenticates with the bootstrap peers (and those mDNS finds) and joins the topic through
    /// them. Never waits for the network: relays connect in the background (`Endpoint::online`
    /// is never awaited; without relays it would never resolve).
    pub async fn bind(config: PeerConfig) -> Result<PeerNode, SyncError> {
        let lookup = config.lookup.clone().unwrap_or_default();
        for addr in &config.bootstrap {
            lookup.add_endpoint_info(addr.clone());
        }
        let mut builder = Endpoint::builder(presets::Minimal)
            .clear_ip_transports()
            .bind_addr(config.bind_addr)
            .map_err(|e| SyncError::Bind(e.to_string()))?
            .relay_mode(config.relay.mode())
            .clear_address_lookup()
            .address_lookup(lookup.clone())
            .portmapper_config(PortmapperConfig::Disabled);
        if let Some(key) = config.secret_key.clone() {
            builder = builder.secret_key(key);
        }
        let endpoint = builder.bind().await.map_err(|e| SyncError::Bind(e.to_string()))?;
        lookup.add_endpoint_info(endpoint.addr());
        let mdns = if config.mdns {
            Some(start_mdns(&endpoint, &config.keys)?)
        } else {
            None
        };

        let shared = Arc::new(Shared {
            endpoint: endpoint.clone(),
            keys: config.keys.clone(),
            source: config.source.clone(),
            sink: config.sink.clone(),
            claims: config.claims.clone(),
            auth: AuthSet::new(config.auth_ttl),
            stats: Counters::default(),
            lookup,
            request_timeout: config.request_timeout,
            snapshot_timeout: config.snapshot_timeout,
            max_snapshot_bytes: config.max_snapshot_bytes,
            snapshot_permits: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_snapshots.max(1))),
            publish_permits: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_snapshots.max(1))),
            fetch_conns: Mutex::new(HashMap::new()),
            claim_conns: Mutex::new(HashMap::new()),
        });
        let gossip = Gossip::builder()
            .max_message_size(GOSSIP_MAX_MESSAGE)
            .spawn(endpoint.clone());
        let router = Router::builder(endpoint)
            .accept(AUTH_ALPN, AuthHandler(shared.clone()))
            .accept(FETCH_ALPN, FetchHandler(shared.clone()))
            .accept(SNAPSHOT_ALPN, SnapshotHandler(shared.clone()))
            .accept(PUBLISH_ALPN, PublishHandler(shared.clone()))
            .accept(crate::CLAIM_ALPN, crate::claim::ClaimHandler(shared.clone()))
            .accept(
                iroh_gossip::ALPN,
                GatedGossip {
                    shared: shared.clone(),
                    gossip: gossip.clone(),
                },
            )
            .spawn();

        let topic = TopicId::from_bytes(config.keys.gossip_topic());
        let (sender, mut receiver) = gossip
            .subscribe(topic, Vec::new())
            .await
            .map_err(|e| SyncError::Gossip(e.to_string()))?
            .split();
        let (announcements, _) = broadcast::channel(ANNOUNCEMENT_BUFFER);
        let (neighbors_tx, neighbors) = watch::channel(BTreeSet::new());

        let receive = {
            let shared = shared.clone();
            let announcements = announcements.clone();
            tokio::spawn(async move {
                while let Some(event) = receiver.next().await {
                    match event {
                        Ok(Event::Received(message)) => match announce::decode(&shared.keys, &message.content) {
                            Ok(a) => {
                                shared.stats.add(|c| &c.announcements_received, 1);
                                // No subscriber is fine: announcements are hints.
                                let _ = announcements.send(a);
                            }
                            Err(e) => {
                                shared.stats.add(|c| &c.bad_gossip, 1);
                                tracing::warn!(from = %message.delivered_from, error = %e, "dropped a gossip message");
                            }
                        },
                        Ok(Event::NeighborUp(id)) => {
                            neighbors_tx.send_modify(|n| {
                                n.insert(id);
                            });
                        }
                        Ok(Event::NeighborDown(id)) => {
                            neighbors_tx.send_modify(|n| {
                                n.remove(&id);
                            });
                        }
                        Ok(Event::Lagged) => {
                            shared.stats.add(|c| &c.gossip_lagged, 1);
                            tracing::warn!("gossip subscription lagged; announcements were lost");
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "gossip subscription ended");
                            break;
                        }
                    }
                }
            })
        };

        let mut tasks = vec![receive];
        if let Some(mdns) = mdns {
            tasks.push(spawn_mdns_joiner(mdns, shared.clone(), sender.clone()));
        }
        let mut node = PeerNode {
            shared,
            router,
            sender,
            announcements,
            neighbors,
            tasks,
        };
        if !config.bootstrap.is_empty() {
            let join = node.spawn_join(config.bootstrap);
            node.tasks.push(join);
        }
        Ok(node)
    }

    fn spawn_join(&self, peers: Vec<EndpointAddr>) -> JoinHandle<()> {
        let shared = self.shared.clone();
        let sender = self.sender.clone();
        tokio::spawn(async move {
            let _ = join(&shared, &sender, peers).await;
        })
    }

    /// Authenticates with `peers` and joins the gossip topic through those that pass. Returns
    /// how many passed.
    pub async fn join_peers(&self, peers: Vec<EndpointAddr>) -> Result<usize, SyncError> {
        join(&self.shared, &self.sender, peers).await
    }

    /// This node's id.
    pub fn id(&self) -> EndpointId {
        self.shared.endpoint.id()
    }

    /// This node's id and direct addresses, to give to others.
    pub fn addr(&self) -> EndpointAddr {
        self.shared.endpoint.addr()
    }

    /// [`PeerNode::addr`] as an iroh endpoint ticket (the `peers` input of the action).
    pub fn ticket(&self) -> String {
        EndpointTicket::new(self.addr()).to_string()
    }

    /// The underlying endpoint (for tests and diagnostics).
    pub fn endpoint(&self) -> &Endpoint {
        &self.shared.endpoint
    }

    /// Remembers where `addr`'s endpoint can be reached.
    pub fn add_peer_addr(&self, addr: EndpointAddr) {
        self.shared.lookup.add_endpoint_info(addr);
    }

    /// Runs the handshake with `peer` (needed before fetch and snapshot; they do it themselves).
    pub async fn authenticate(&self, peer: EndpointId) -> Result<(), SyncError> {
        authenticate(&self.shared, peer).await
    }

    /// Fetches `cids` (at most [`crate::MAX_CIDS_PER_REQUEST`]) from `peer`: each block is
    /// checked against its CID and opened. A peer that sends a bad block is disconnected and
    /// counted, and the whole request fails.
    pub async fn fetch(&self, peer: EndpointId, cids: &[Cid]) -> Result<FetchOutcome, SyncError> {
        crate::fetch::encode_request(cids)?;
        let shared = &self.shared;
        shared.ensure_authenticated(peer).await?;
        let conn = shared.fetch_connection(peer).await?;
        match tokio::time::timeout(shared.request_timeout, fetch_on(shared, &conn, cids)).await {
            Ok(Err(SyncError::Refused { .. })) => {
                // The peer's record of our handshake expired before ours: redo it once.
                shared.forget_connection(&peer);
                shared.auth.remove(&peer);
                shared.ensure_authenticated(peer).await?;
                let conn = shared.fetch_connection(peer).await?;
                tokio::time::timeout(shared.request_timeout, fetch_on(shared, &conn, cids))
                    .await
                    .map_err(|_| SyncError::Timeout { peer })?
            }
            Ok(result) => result,
            Err(_) => {
                shared.forget_connection(&peer);
                close_conn(&conn, close::PROTOCOL, "too slow");
                Err(SyncError::Timeout { peer })
            }
        }
    }

    /// Asks `peer` for everything it stored since `since_ms` as a CAR snapshot; every envelope
    /// is checked and opened, and any bad block rejects the snapshot (and the peer).
    pub async fn snapshot_since(&self, peer: EndpointId, since_ms: u64) -> Result<SnapshotOutcome, SyncError> {
        let shared = &self.shared;
        shared.ensure_authenticated(peer).await?;
        let conn = shared.connect(peer, SNAPSHOT_ALPN).await?;
        snapshot_from(shared, conn, since_ms, None).await
    }

    /// [`PeerNode::snapshot_since`], handing the checked envelopes to `batches` as they arrive
    /// (in batches of [`crate::snapshot::BATCH`]) so the caller can store them meanwhile. Each
    /// handed-over envelope is verified; a later bad block still fails the call and costs the
    /// peer, but what was handed over stays valid.
    pub async fn snapshot_since_into(
        &self,
        peer: EndpointId,
        since_ms: u64,
        batches: crate::snapshot::BlockBatches,
    ) -> Result<SnapshotOutcome, SyncError> {
        let shared = &self.shared;
        shared.ensure_authenticated(peer).await?;
        let conn = shared.connect(peer, SNAPSHOT_ALPN).await?;
        snapshot_from(shared, conn, since_ms, Some(batches)).await
    }

    /// Pushes `blocks` (envelopes under their own CIDs; repeats are sent once) to `peer` and
    /// waits until its sink has stored them durably. The peer verifies every block; one bad block
    /// rejects them all ([`SyncError::Rejected`]). A peer without a sink answers
    /// [`SyncError::NoSink`]. Limits: the transfer `snapshot_timeout`, the acknowledgement after
    /// it `request_timeout`.
    pub async fn publish(&self, peer: EndpointId, blocks: Vec<(Cid, bytes::Bytes)>) -> Result<PublishAck, SyncError> {
        let blocks = prepare(blocks)?;
        let shared = &self.shared;
        shared.ensure_authenticated(peer).await?;
        let conn = shared.connect(peer, PUBLISH_ALPN).await?;
        publish_to(shared, &conn, blocks).await
    }

    /// Asks `peer`'s claim board (a sync-node's) about `signature`; see [`crate::claim`].
    pub async fn claim(
        &self,
        peer: EndpointId,
        signature: &str,
        op: crate::claim::ClaimOp<'_>,
    ) -> Result<crate::claim::ClaimAnswer, SyncError> {
        let shared = &self.shared;
        shared.ensure_authenticated(peer).await?;
        let cached = shared
            .claim_conns
            .lock()
            .expect("poisoned")
            .get(&peer)
            .filter(|c| c.close_reason().is_none())
            .cloned();
        let conn = match cached {
            Some(c) => c,
            None => {
                let c = shared.connect(peer, crate::CLAIM_ALPN).await?;
                shared.claim_conns.lock().expect("poisoned").insert(peer, c.clone());
                c
            }
        };
        let result = tokio::time::timeout(shared.request_timeout, crate::claim::ask(&conn, signature, op))
            .await
            .map_err(|_| SyncError::Timeout { peer })
            .and_then(|r| r);
        if result.is_err() {
            shared.claim_conns.lock().expect("poisoned").remove(&peer);
        }
        result
    }

    /// Announces `items` on the topic in as few sealed messages as fit, returning how many were
    /// sent. A hint: neighbours may miss it; they catch up by snapshot.
    pub async fn announce(&self, items: &[Announced]) -> Result<usize, SyncError> {
        let messages = announce::encode(&self.shared.keys, self.id(), items);
        let n = messages.len();
        for message in messages {
            debug_assert!(message.len() <= crate::MAX_ANNOUNCE_BYTES);
            self.sender
                .broadcast(message)
                .await
                .map_err(|e| SyncError::Gossip(e.to_string()))?;
            self.shared.stats.add(|c| &c.announcements_sent, 1);
        }
        Ok(n)
    }

    /// Announcements that opened under our keys, from now on. A receiver that falls behind by more than
    /// 1024 loses the oldest (`RecvError::Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<Announcement> {
        self.announcements.subscribe()
    }

    /// Waits until the gossip topic has at least `n` direct neighbours.
    pub async fn wait_for_neighbors(&self, n: usize) {
        let mut rx = self.neighbors.clone();
        let _ = rx.wait_for(|ids| ids.len() >= n).await;
    }

    /// Direct gossip neighbours now.
    pub fn neighbor_count(&self) -> usize {
        self.neighbors.borrow().len()
    }

    /// Peers whose handshake holds and gossip neighbours, by id.
    pub fn peers(&self) -> Vec<PeerInfo> {
        let neighbors = self.neighbors.borrow().clone();
        let mut out: Vec<PeerInfo> = self
            .shared
            .auth
            .list()
            .into_iter()
            .map(|a| PeerInfo {
                id: a.id,
                authenticated_since_ms: Some(a.since_ms),
                last_seen_ms: Some(a.last_seen_ms),
                neighbor: neighbors.contains(&a.id),
            })
            .collect();
        for id in neighbors {
            if !out.iter().any(|p| p.id == id) {
                out.push(PeerInfo {
                    id,
                    authenticated_since_ms: None,
                    last_seen_ms: None,
                    neighbor: true,
                });
            }
        }
        out.sort_by_key(|p| p.id);
        out
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats.snapshot()
    }

    /// Waits until the counters satisfy `done` (counts bumped by the other side of a connection
    /// land a moment after the call that caused them returns).
    pub async fn wait_for_stats(&self, done: impl FnMut(&Stats) -> bool) {
        self.shared.stats.wait_until(done).await
    }

    /// Leaves the topic, closes every connection and the endpoint.
    pub async fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
        // The router shuts the gossip actor down through its handler (leaving the topic).
        if let Err(e) = self.router.shutdown().await {
            tracing::warn!(error = %e, "peer router did not shut down cleanly");
        }
    }
}

impl Drop for PeerNode {
    fn drop(&mut self) {
        // Without `shutdown` the router aborts on drop; the background tasks go with it.
        for task in &self.tasks {
            task.abort();
        }
    }
}

pub(crate) async fn join(
    shared: &Arc<Shared>,
    sender: &GossipSender,
    peers: Vec<EndpointAddr>,
) -> Result<usize, SyncError> {
    let mut passed = Vec::new();
    for addr in peers {
        let id = addr.id;
        shared.lookup.add_endpoint_info(addr);
        match authenticate(shared, id).await {
            Ok(()) => passed.push(id),
            Err(e) => tracing::warn!(peer = %id, error = %e, "bootstrap peer not joined"),
        }
    }
    let n = passed.len();
    if n > 0 {
        sender
            .join_peers(passed)
            .await
            .map_err(|e| SyncError::Gossip(e.to_string()))?;
    }
    Ok(n)
}

/// Parses a ticket from [`PeerNode::ticket`] into an address for [`PeerConfig::bootstrap`].
pub fn parse_ticket(ticket: &str) -> Result<EndpointAddr, SyncError> {
    let ticket: EndpointTicket = ticket.trim().parse().map_err(|e| SyncError::Ticket(format!("{e}")))?;
    Ok(ticket.endpoint_addr().clone())
}
