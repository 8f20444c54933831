//! The daemon's claim board behind `POST /_cache/claims`: a local board for the callers on this
//! machine, in front of the sync-node's board once peers are up. Only the local holder of a key
//! asks the sync-node, so one runner makes one remote claim per error however many of its
//! processes report it.

use crate::Link;
use proxy::{ClaimFuture, ClaimReply, ClaimRequest, ClaimService};
use std::sync::{Arc, OnceLock};
use sync::{ClaimAnswer, ClaimBoard, ClaimOp};

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

    async fn remote(&self, key: &str, op: ClaimOp<'_>) -> Option<ClaimAnswer> {
        self.link.get()?.claim(key, op).await
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
                    let _ = self.remote(&key, ClaimOp::Resolve { number, url: &url }).await;
                    ClaimReply::Known { number, url }
                }
                ClaimRequest::Abandon { key, holder } => {
                    self.local.abandon(&holder, &key);
                    let _ = self.remote(&key, ClaimOp::Abandon).await;
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
