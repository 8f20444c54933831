//! Claims: who is reporting a signature right now. The first reporter of a signature gets
//! [`Claim::Mine`] and files (or finds) the issue; the others wait for it and get
//! [`Claim::Known`] without asking GitHub at all.
//!
//! [`LocalClaims`] serves the reporters of one process. A board shared between machines (the
//! daemon telling its peers) implements the same trait.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;

/// The answer to [`Claims::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Nobody else is on it: find or create the issue, then [`Claims::resolve`] (or
    /// [`Claims::abandon`] on failure).
    Mine,
    /// The issue for this signature is known.
    Known { url: String, number: u64 },
}

/// A board of claims, keyed by repository (`owner/name`, any case) and signature.
///
/// Infallible by design: a board that cannot be reached answers [`Claim::Mine`], and the
/// duplicate check after creating keeps the result to one open issue anyway.
pub trait Claims: Sync {
    fn claim(&self, repo: &str, signature: &str) -> impl Future<Output = Claim> + Send;
    /// The issue for the signature is `number` at `url`.
    fn resolve(&self, repo: &str, signature: &str, url: &str, number: u64) -> impl Future<Output = ()> + Send;
    /// The claimer failed; the next waiter gets [`Claim::Mine`].
    fn abandon(&self, repo: &str, signature: &str) -> impl Future<Output = ()> + Send;
}

#[derive(Debug, Clone)]
enum Slot {
    Pending,
    Resolved { url: String, number: u64 },
    Abandoned,
}

/// Claims within one process: a map of signatures to a watch channel that waiters follow.
#[derive(Debug)]
pub struct LocalClaims {
    slots: Mutex<HashMap<String, watch::Sender<Slot>>>,
    wait: Duration,
}

impl LocalClaims {
    /// How long a waiter waits for the claimer by default before it goes ahead itself.
    pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);

    pub fn new() -> Self {
        Self::with_wait(Self::DEFAULT_WAIT)
    }

    /// Waiters give up on a claimer after `wait` and report themselves (a stuck claimer must
    /// not stop every report; the duplicate check handles the overlap).
    pub fn with_wait(wait: Duration) -> Self {
        LocalClaims {
            slots: Mutex::new(HashMap::new()),
            wait,
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<Slot>>> {
        // A panic while holding the lock cannot leave the map inconsistent (single operations).
        self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for LocalClaims {
    fn default() -> Self {
        Self::new()
    }
}

fn key(repo: &str, signature: &str) -> String {
    format!("{}#{signature}", repo.to_ascii_lowercase())
}

impl Claims for LocalClaims {
    async fn claim(&self, repo: &str, signature: &str) -> Claim {
        let key = key(repo, signature);
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            let mut rx = {
                let mut slots = self.slots();
                match slots.get(&key) {
                    Some(tx) => tx.subscribe(),
                    None => {
                        slots.insert(key, watch::channel(Slot::Pending).0);
                        return Claim::Mine;
                    }
                }
            };
            let settled = tokio::time::timeout_at(deadline, rx.wait_for(|s| !matches!(s, Slot::Pending))).await;
            let slot = match settled {
                Err(_elapsed) => return Claim::Mine,
                // The sender went away (abandoned and removed): look again.
                Ok(Err(_closed)) => continue,
                Ok(Ok(slot)) => slot.clone(),
            };
            match slot {
                Slot::Resolved { url, number } => return Claim::Known { url, number },
                Slot::Abandoned | Slot::Pending => continue,
            }
        }
    }

    async fn resolve(&self, repo: &str, signature: &str, url: &str, number: u64) {
        let resolved = Slot::Resolved {
            url: url.to_owned(),
            number,
        };
        let mut slots = self.slots();
        match slots.get(&key(repo, signature)) {
            Some(tx) => {
                tx.send_replace(resolved);
            }
            None => {
                slots.insert(key(repo, signature), watch::channel(resolved).0);
            }
        }
    }

    async fn abandon(&self, repo: &str, signature: &str) {
        if let Some(tx) = self.slots().remove(&key(repo, signature)) {
            tx.send_replace(Slot::Abandoned);
        }
    }
}
