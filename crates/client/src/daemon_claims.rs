//! [`DaemonClaims`]: the claims board of the daemon (`POST /_cache/claims`), which asks its
//! sync-node in turn, so reporters on every runner of a fleet agree on who files an issue.

use heal::{Claim, Claims};
use octocrab::Octocrab;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// The daemon's answer (`proxy::ClaimReply` on the wire).
#[derive(Debug, Deserialize)]
#[serde(tag = "claim", rename_all = "lowercase")]
enum Reply {
    Mine,
    Known { number: u64, url: String },
    Pending,
}

#[derive(Debug, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Request<'a> {
    Claim { key: &'a str, holder: &'a str },
    Resolve { key: &'a str, number: u64, url: &'a str },
    Abandon { key: &'a str, holder: &'a str },
}

/// Claims kept by the daemon the client talks to. Never fails: a daemon that does not answer
/// (or keeps answering "pending" past the wait) makes this reporter go ahead itself, and the
/// duplicate check after filing keeps one open issue.
#[derive(Debug, Clone)]
pub struct DaemonClaims {
    octocrab: Octocrab,
    holder: String,
    wait: Duration,
}

impl DaemonClaims {
    /// Through `octocrab` (a [`crate::Client`]'s, routed to the daemon).
    pub fn new(octocrab: Octocrab) -> Self {
        DaemonClaims {
            octocrab,
            holder: format!("{}-{:016x}", std::process::id(), rand::random::<u64>()),
            wait: heal::LocalClaims::DEFAULT_WAIT,
        }
    }

    /// Waits at most `wait` for another runner's claim before going ahead.
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    async fn call(&self, request: &Request<'_>) -> Option<Reply> {
        match self.octocrab.post::<_, Reply>("/_cache/claims", Some(request)).await {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::debug!(error = %e, "the daemon's claims board did not answer");
                None
            }
        }
    }
}

fn key(repo: &str, signature: &str) -> String {
    format!("{}#{signature}", repo.to_ascii_lowercase())
}

impl Claims for DaemonClaims {
    async fn claim(&self, repo: &str, signature: &str) -> Claim {
        let key = key(repo, signature);
        let started = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            match self
                .call(&Request::Claim {
                    key: &key,
                    holder: &self.holder,
                })
                .await
            {
                None | Some(Reply::Mine) => return Claim::Mine,
                Some(Reply::Known { number, url }) => return Claim::Known { url, number },
                Some(Reply::Pending) if started.elapsed() >= self.wait => {
                    tracing::warn!(
                        signature,
                        "another runner's claim did not resolve in time; reporting anyway"
                    );
                    return Claim::Mine;
                }
                Some(Reply::Pending) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
            }
        }
    }

    async fn resolve(&self, repo: &str, signature: &str, url: &str, number: u64) {
        let key = key(repo, signature);
        self.call(&Request::Resolve { key: &key, number, url }).await;
    }

    async fn abandon(&self, repo: &str, signature: &str) {
        let key = key(repo, signature);
        self.call(&Request::Abandon {
            key: &key,
            holder: &self.holder,
        })
        .await;
    }
}
