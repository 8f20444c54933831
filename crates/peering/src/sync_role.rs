//! The sync-node's peer role: a persistent identity (its ticket survives restarts), every
//! envelope kept on disk ([`DiskBlocks`]), publishes acknowledged once durable, snapshots served,
//! and everything peers announce fetched and kept.

use super::PeerArgs;
use super::blocks::DiskBlocks;
use anyhow::Context;
use entry::Keys;
use std::path::Path;
use std::sync::Arc;
use store::Store;
use sync::PeerNode;

const KEY_FILE: &str = "peer.key";

/// Loads the node's secret key from `dir/peer.key`, creating it (mode 0600) on first start.
pub fn identity(dir: &Path) -> anyhow::Result<iroh::SecretKey> {
    let path = dir.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
                anyhow::anyhow!(
                    "{} is not a 32-byte key; move it aside to get a new identity (and a new ticket)",
                    path.display()
                )
            })?;
            Ok(iroh::SecretKey::from_bytes(&bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = iroh::SecretKey::generate();
            write_private(&path, &key.to_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("partial");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    // A leftover file keeps its mode on open: make sure it is ours alone.
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Starts the sync-node's endpoint: source and sink are the disk blocks.
pub async fn start(
    args: &PeerArgs,
    keys: Arc<Keys>,
    store: Arc<Store>,
    dir: &Path,
) -> anyhow::Result<(Arc<PeerNode>, Arc<DiskBlocks>)> {
    let blocks = Arc::new(DiskBlocks::new(store)?);
    let (mut config, _) = args.config(keys, blocks.clone())?;
    config.secret_key = Some(identity(dir)?);
    config.sink = Some(blocks.clone());
    config.claims = Some(Arc::new(sync::ClaimBoard::default()));
    let node = Arc::new(PeerNode::bind(config).await.context("cannot start the peer endpoint")?);
    tokio::spawn(keep_everything(Arc::downgrade(&node), blocks.clone()));
    Ok((node, blocks))
}

/// Fetches whatever peers announce that is not held yet, and keeps it.
async fn keep_everything(node: std::sync::Weak<PeerNode>, blocks: Arc<DiskBlocks>) {
    let mut rx = match node.upgrade() {
        Some(n) => n.subscribe(),
        None => return,
    };
    loop {
        let a = match rx.recv().await {
            Ok(a) => a,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => return,
        };
        let Some(node) = node.upgrade() else { return };
        let wanted: Vec<entry::Cid> = {
            let blocks = blocks.clone();
            let cids: Vec<entry::Cid> = a.items.iter().map(|i| i.cid).collect();
            tokio::task::spawn_blocking(move || {
                cids.into_iter()
                    .filter(|c| sync::BlockSource::get(&*blocks, c).is_none())
                    .collect()
            })
            .await
            .unwrap_or_default()
        };
        for chunk in wanted.chunks(sync::MAX_CIDS_PER_REQUEST) {
            match node.fetch(a.origin, chunk).await {
                Ok(outcome) => {
                    let blocks = blocks.clone();
                    let got = outcome.blocks;
                    let _ = tokio::task::spawn_blocking(move || sync::BlockSink::store(&*blocks, got)).await;
                }
                Err(e) => {
                    tracing::debug!(peer = %a.origin.fmt_short(), error = %e, "fetching announced entries failed");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_persists_and_a_bad_key_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let first = identity(dir.path()).unwrap();
        let again = identity(dir.path()).unwrap();
        assert_eq!(first.public(), again.public());
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(dir.path().join(KEY_FILE), b"short").unwrap();
        let err = identity(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a 32-byte key"), "{err}");
    }
}
