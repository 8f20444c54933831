//! The caching proxy: an HTTP/1.1 server on a Unix socket and loopback TCP that serves the GitHub
//! API from the store, revalidates with conditional requests, coalesces identical requests and
//! passes writes through.
//!
//! Handlers are built by [`app`] so they can be tested without sockets; [`server::run`] binds
//! them to listeners with graceful shutdown.

mod classify;
mod clock;
mod coalesce;
mod config;
mod control;
mod errors;
mod etag_health;
mod governor;
mod graphql;
mod handler;
mod indicators;
mod invalidation;
mod metrics;
mod peers;
mod proof;
mod read;
mod response;
mod rewrite;
pub mod server;
mod state;
mod stats;
mod ttl;
mod upstream;
mod write;

pub use clock::Clock;
pub use config::{ConfigError, ProxyConfig, SharePolicy, UpstreamBase};
pub use governor::GovernorConfig;
pub use handler::{ListenerKind, app};
pub use peers::{ClaimFuture, ClaimReply, ClaimRequest, ClaimService, PeerLookup, Peers, WarmSource};
pub use state::{FinishHook, State};
pub use stats::{Published, StatsSnapshot};
pub use ttl::{OPERATIONS, TtlTable, UnknownOperation, parse_go_duration};
