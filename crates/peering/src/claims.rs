//! The daemon's claim board behind `POST /_cache/claims`: a local board for the callers on this
//! machine, in front of the sync-node's board once peers are up. Only the local holder of a key
//! asks the sync-node, so one runner makes one remote claim per error however many of its
//! processes report it.

use crate::Link;
use proxy::{ClaimFuture, ClaimReply, ClaimRequest, ClaimService};
use std::sync::{Arc, OnceLock};
use sync::{ClaimAnswer, ClaimBoard, ClaimOp};

/// The longest a claim waits for the sync-node's board.
const REMOTE_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

enum OwnedOp {
    Resolve { number: u64, url: String },
    Abandon,
}

#[derive(Default)]
pub struct DaemonClaims {
    local: ClaimBoard<String>,
    link: OnceLock<Arc<Link>>,
}

impl DaemonClaims {
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on, claims go to the sync-nodes `link` knows too.
    pub fn attach(&self, link: Arc<Link>) {
        let _ = self.link.set(link);
    }

    /// The sync-node's answer, or `None` when there is none or it does not answer within
    /// [`REMOTE_LIMIT`] (the reporter then goes ahead; its duplicate check covers it).
    async fn remote(&self, key: &str, op: ClaimOp<'_>) -> Option<ClaimAnswer> {
        let link = self.link.get()?;
        tokio::time::timeout(REMOTE_LIMIT, link.claim(key, op))
            .await
            .ok()
            .flatten()
    }

    /// Tells the sync-node without making the caller wait.
    fn remote_in_background(&self, key: String, op: OwnedOp) {
        let Some(link) = self.link.get().cloned() else {
            return;
        };
        tokio::spawn(async move {
            let op = match &op {
                OwnedOp::Resolve { number, url } => ClaimOp::Resolve { number: *number, url },
                OwnedOp::Abandon => ClaimOp::Abandon,
            };
            let _ = tokio::time::timeout(REMOTE_LIMIT * 5, link.claim(&key, op)).await;
        });
    }
}

fn reply(answer: ClaimAnswer) -> ClaimReply {
    match answer {
        ClaimAnswer::Mine => ClaimReply::Mine,
        ClaimAnswer::Pending => ClaimReply::Pending,
        ClaimAnswer::Known { number, url } => ClaimReply::Known { number, url },
    }
}

impl ClaimService for DaemonClaims {
    fn call(&self, request: ClaimRequest) -> ClaimFuture<'_> {
        Box::pin(async move {
            match request {
                ClaimRequest::Claim { key, holder } => match self.local.claim(holder.clone(), &key) {
                    ClaimAnswer::Mine => match self.remote(&key, ClaimOp::Claim).await {
                        // No sync-node, or it cannot be reached: ours (the duplicate check after
                        // filing still keeps one open issue).
                        None | Some(ClaimAnswer::Mine) => ClaimReply::Mine,
                        Some(ClaimAnswer::Known { number, url }) => {
                            self.local.resolve(&key, number, &url);
                            ClaimReply::Known { number, url }
                        }
                        Some(ClaimAnswer::Pending) => {
                            // Another runner holds it: let go locally so whoever asks next
                            // asks the sync-node again.
                            self.local.abandon(&holder, &key);
                            ClaimReply::Pending
                        }
                    },
                    other => reply(other),
                },
                ClaimRequest::Resolve { key, number, url } => {
                    self.local.resolve(&key, number, &url);
                    self.remote_in_background(
                        key,
                        OwnedOp::Resolve {
                            number,
                            url: url.clone(),
                        },
                    );
                    ClaimReply::Known { number, url }
                }
                ClaimRequest::Abandon { key, holder } => {
                    // Only the local holder's claim is this runner's claim at the sync-node.
                    if self.local.abandon(&holder, &key) {
                        self.remote_in_background(key, OwnedOp::Abandon);
                    }
                    ClaimReply::Pending
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(key: &str, holder: &str) -> ClaimRequest {
        ClaimRequest::Claim {
            key: key.into(),
            holder: holder.into(),
        }
    }

    #[tokio::test]
    async fn without_peers_the_local_board_decides() {
        let board = DaemonClaims::new();
        assert_eq!(board.call(claim("o/r#s", "a")).await, ClaimReply::Mine);
        assert_eq!(board.call(claim("o/r#s", "b")).await, ClaimReply::Pending);
        // Someone who never held it cannot give it up.
        board
            .call(ClaimRequest::Abandon {
                key: "o/r#s".into(),
                holder: "b".into(),
            })
            .await;
        assert_eq!(board.call(claim("o/r#s", "c")).await, ClaimReply::Pending);
        let known = board
            .call(ClaimRequest::Resolve {
                key: "o/r#s".into(),
                number: 3,
                url: "u".into(),
            })
            .await;
        assert_eq!(
            known,
            ClaimReply::Known {
                number: 3,
                url: "u".into()
            }
        );
        assert_eq!(board.call(claim("o/r#s", "b")).await, known);
        assert_eq!(board.call(claim("o/r#t", "b")).await, ClaimReply::Mine);
        board
            .call(ClaimRequest::Abandon {
                key: "o/r#t".into(),
                holder: "b".into(),
            })
            .await;
        assert_eq!(board.call(claim("o/r#t", "c")).await, ClaimReply::Mine);
    }
}
