//! Errors of the network clients. One enum for all three services, since callers treat them
//! alike: [`IpfsError::is_unavailable`] errors become a warning ("IPFS skipped"), the rest say
//! what was wrong with the input or the answer.

use std::time::Duration;

use cid::Cid;

use super::pinning::PinStatus;
use crate::car::CarError;

/// A call to kubo, a gateway or a pinning service failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IpfsError {
    #[error("invalid {service} URL {url:?} ({reason}): pass an http:// or https:// URL such as {example}")]
    BadUrl {
        service: &'static str,
        url: String,
        reason: String,
        example: &'static str,
    },
    #[error("the {service} access token is unusable ({reason}): pass the token the service issued")]
    BadToken {
        service: &'static str,
        reason: &'static str,
    },
    #[error("{input:?} is not a CID ({reason}): pass a CID such as bafy... or bafk...")]
    BadCid { input: String, reason: String },
    #[error("{service} at {url} is unreachable ({detail}): is it running?")]
    Unreachable {
        service: &'static str,
        url: String,
        detail: String,
    },
    #[error("{service} at {url} did not answer {op} within {after:?}: is it overloaded or stuck?")]
    Timeout {
        service: &'static str,
        url: String,
        op: &'static str,
        after: Duration,
    },
    #[error("{service} refused the access token (HTTP {status}): check the token")]
    Unauthorized { service: &'static str, status: u16 },
    #[error("{service} has no block {cid}: publish the snapshot first, or fetch it from another source")]
    NotFound { service: &'static str, cid: Cid },
    #[error("{service} answered {op} with HTTP {status}: {message}")]
    Api {
        service: &'static str,
        op: &'static str,
        status: u16,
        message: String,
    },
    #[error("{service} answered {op} with something unexpected ({reason}): is {url} really {service}?")]
    BadResponse {
        service: &'static str,
        op: &'static str,
        url: String,
        reason: String,
    },
    #[error("{service} answered {op} with over {limit} bytes: refusing the rest")]
    TooLarge {
        service: &'static str,
        op: &'static str,
        limit: u64,
    },
    #[error("{service} returned bytes for {cid} that do not hash to it (corrupt or tampered): refused")]
    Tampered { service: &'static str, cid: Cid },
    #[error("the CAR from {source_url} is not usable: {reason}")]
    BadCar { source_url: String, reason: String },
    #[error(
        "the CAR from {source_url} lacks {missing} block(s) of the DAG under {root} (first: {first}): \
         it is truncated or incomplete; refused"
    )]
    Incomplete {
        source_url: String,
        root: Cid,
        missing: usize,
        first: Cid,
    },
    #[error("every gateway failed for {root} ({tampered} sent altered blocks): {}", attempts.join("; "))]
    AllGatewaysFailed {
        root: Cid,
        attempts: Vec<String>,
        /// How many gateways sent blocks that do not match their CIDs.
        tampered: usize,
    },
    #[error("the pinning service reports pin {requestid} of {cid} as failed{}", details.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    PinFailed {
        cid: Cid,
        requestid: String,
        details: Option<String>,
    },
    #[error("{cid} was not pinned within {after:?}: the last status was {last}; check the pinning service later")]
    PinDeadline { cid: Cid, after: Duration, last: PinStatus },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
}

impl IpfsError {
    /// True when the service could not be reached or did not answer in time: nothing is wrong
    /// with the input, so the caller logs a warning and goes on without IPFS.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            IpfsError::Unreachable { .. } | IpfsError::Timeout { .. } | IpfsError::AllGatewaysFailed { .. }
        )
    }
}

/// Parses a CID given as text (CIDv0 `Qm...` or CIDv1 multibase), with an error that says so.
pub fn parse_cid(input: &str) -> Result<Cid, IpfsError> {
    let trimmed = input.trim();
    Cid::try_from(trimmed).map_err(|e| IpfsError::BadCid {
        input: input.to_owned(),
        reason: e.to_string().to_lowercase(),
    })
}

/// The reason of a CAR error without the advice aimed at local files.
pub(crate) fn car_reason(e: &CarError) -> String {
    e.to_string()
}
