//! Reaching peers beyond the addresses a node is given: relays (for peers that cannot reach each
//! other directly) and mDNS on the local network. Both are opt-in ([`PeerConfig`] defaults keep
//! a node on its bind address), and neither is waited for: a relay connects in the background,
//! and peers found by mDNS are authenticated and joined as they appear.
//!
//! The mDNS service name carries the start of the key id (public, it is in every envelope), so
//! nodes of other fleets on the same network are not even tried.
//!
//! [`PeerConfig`]: crate::PeerConfig

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use entry::Keys;
use futures_util::StreamExt;
use iroh::{Endpoint, RelayMode, RelayUrl};
use iroh_gossip::api::GossipSender;
use iroh_mdns_address_lookup::{DiscoveryEvent, MdnsAddressLookup};
use tokio::task::JoinHandle;

use crate::SyncError;
use crate::node::{Shared, join};

/// Which relay servers the endpoint uses. A relay carries traffic only when the peers cannot
/// reach each other directly, and never sees plaintext (QUIC is end-to-end).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RelayChoice {
    /// No relay: only direct addresses (tests, one network).
    #[default]
    Disabled,
    /// n0's public relays: rate-limited, no uptime promise.
    N0,
    /// One's own relay, such as a sync-node's.
    Custom(RelayUrl),
}

impl RelayChoice {
    pub(crate) fn mode(&self) -> RelayMode {
        match self {
            RelayChoice::Disabled => RelayMode::Disabled,
            RelayChoice::N0 => RelayMode::Default,
            RelayChoice::Custom(url) => RelayMode::custom([url.clone()]),
        }
    }
}

/// How long after a failed attempt a peer announced by mDNS is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(30);

fn service_name(keys: &Keys) -> String {
    format!("ghp2p-{}", &keys.key_id().to_string()[..8])
}

/// Starts advertising this endpoint on the local network and looking up peers there.
pub(crate) fn start_mdns(endpoint: &Endpoint, keys: &Keys) -> Result<MdnsAddressLookup, SyncError> {
    let mdns = MdnsAddressLookup::builder()
        .service_name(service_name(keys))
        .build(endpoint.id())
        .map_err(|e| SyncError::Bind(format!("mDNS: {e}")))?;
    endpoint
        .address_lookup()
        .map_err(|e| SyncError::Bind(format!("mDNS: {e}")))?
        .add(mdns.clone());
    Ok(mdns)
}

/// Authenticates with and joins every fleet peer mDNS finds, one at a time.
pub(crate) fn spawn_mdns_joiner(mdns: MdnsAddressLookup, shared: Arc<Shared>, sender: GossipSender) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut events = mdns.subscribe().await;
        let mut tried: HashMap<iroh::EndpointId, Instant> = HashMap::new();
        while let Some(event) = events.next().await {
            let DiscoveryEvent::Discovered { endpoint_info, .. } = event else {
                continue;
            };
            let addr = endpoint_info.into_endpoint_addr();
            let id = addr.id;
            if id == shared.endpoint.id()
                || shared.auth.is_valid(&id)
                || tried.get(&id).is_some_and(|at| at.elapsed() < RETRY_AFTER)
            {
                continue;
            }
            tried.insert(id, Instant::now());
            tracing::debug!(peer = %id, "found by mDNS; joining");
            if let Err(e) = join(&shared, &sender, vec![addr]).await {
                tracing::warn!(peer = %id, error = %e, "peer found by mDNS not joined");
            }
        }
    })
}
