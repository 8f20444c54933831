//! The network side: clients of kubo's RPC API, trustless gateways and IPFS Pinning Services.
//!
//! Whatever comes back is verified before use: single blocks are hashed against their CID, CARs
//! are checked block by block and for completeness of the DAG under the requested root, and only
//! then written to their destination (see `verify`). Errors are one enum, [`IpfsError`]; the
//! ones for which [`IpfsError::is_unavailable`] holds (nothing listening, no answer in time)
//! are meant to become a warning: the cache works without IPFS.

mod error;
mod gateway;
mod kubo;
pub(crate) mod links;
mod pinning;
mod transport;
mod verify;

use std::path::{Path, PathBuf};

use cid::Cid;
use hyper::body::Incoming;

pub use error::{IpfsError, parse_cid};
pub use gateway::{GatewayAttempt, GatewayClient, GatewayReport};
pub use kubo::KuboClient;
pub use pinning::{PinState, PinStatus, PinningClient};
pub use transport::DEFAULT_TIMEOUT;
pub use verify::CarStats;

use self::transport::{Http, io_error};

/// Streams a CAR answer into a spool file beside `dest`, verifies it into a second file and
/// renames that over `dest`: `dest` is never left half-written, and a bad answer leaves no file.
pub(crate) async fn fetch_verified(
    http: &Http,
    op: &'static str,
    resp: ::http::Response<Incoming>,
    limit: u64,
    root: &Cid,
    dest: &Path,
    source_url: &str,
) -> Result<CarStats, IpfsError> {
    let spool = sibling(dest, "download");
    let checked = sibling(dest, "verified");
    let result = async {
        let mut file = tokio::fs::File::create(&spool)
            .await
            .map_err(|e| io_error("creating", &spool, e))?;
        http.read_to_file(op, resp.into_body(), limit, &mut file, &spool)
            .await?;
        drop(file);
        let (spool2, checked2, root, url, service) = (
            spool.clone(),
            checked.clone(),
            *root,
            source_url.to_owned(),
            http.service,
        );
        let stats = tokio::task::spawn_blocking(move || verify::verify_car(&spool2, &root, &checked2, service, &url))
            .await
            .map_err(|e| io_error("verifying", &spool, std::io::Error::other(e.to_string())))??;
        tokio::fs::rename(&checked, dest)
            .await
            .map_err(|e| io_error("renaming into", dest, e))?;
        Ok(stats)
    }
    .await;
    let _ = tokio::fs::remove_file(&spool).await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&checked).await;
    }
    result
}

/// `dir/.name.what` beside `dest`, so the final rename stays on one file system.
fn sibling(dest: &Path, what: &str) -> PathBuf {
    let name = dest
        .file_name()
        .map_or_else(|| "car".into(), |n| n.to_string_lossy().into_owned());
    dest.with_file_name(format!(".{name}.{what}"))
}
