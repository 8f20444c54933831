//! Request coalescing: concurrent identical requests share one upstream exchange.
//!
//! The first caller for a key runs the future; callers arriving while it runs wait for its
//! result. If the leader is cancelled (its client hung up), a waiter takes over, so one
//! impatient client cannot fail the others.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

pub struct Coalescer<K, V> {
    inflight: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K: Eq + Hash + Clone, V: Clone> Coalescer<K, V> {
    pub fn new() -> Self {
        Coalescer {
            inflight: Mutex::new(HashMap::new()),
        }
    }

    /// Returns the shared result and whether this caller ran the future itself.
    pub async fn run<F, Fut>(&self, key: K, f: F) -> (V, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let cell = self
            .inflight
            .lock()
            .expect("coalescer lock")
            .entry(key.clone())
            .or_default()
            .clone();
        let mut ran = false;
        let value = cell
            .get_or_init(|| {
                ran = true;
                f()
            })
            .await
            .clone();
        if ran {
            let mut map = self.inflight.lock().expect("coalescer lock");
            if map.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                map.remove(&key);
            }
        }
        (value, ran)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_callers_share_one_run_and_later_callers_run_again() {
        let c = Arc::new(Coalescer::<&str, u32>::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let (c, runs, mut rx) = (c.clone(), runs.clone(), release_rx.clone());
            tasks.push(tokio::spawn(async move {
                c.run("k", || async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    let _ = rx.wait_for(|v| *v).await;
                    7
                })
                .await
            }));
        }
        // Let every task reach the cell before releasing the leader.
        while Arc::strong_count(&c) > 1 && c.inflight.lock().unwrap().get("k").map(Arc::strong_count).unwrap_or(0) < 6 {
            tokio::task::yield_now().await;
        }
        release_tx.send(true).unwrap();
        let mut leaders = 0;
        for t in tasks {
            let (v, ran) = t.await.unwrap();
            assert_eq!(v, 7);
            leaders += usize::from(ran);
        }
        assert_eq!((leaders, runs.load(Ordering::SeqCst)), (1, 1));
        let (v, ran) = c.run("k", || async { 8 }).await;
        assert_eq!((v, ran), (8, true), "finished keys are not cached here");
    }

    #[tokio::test]
    async fn a_cancelled_leader_hands_over() {
        let c = Arc::new(Coalescer::<&str, u32>::new());
        let leader = {
            let c = c.clone();
            tokio::spawn(async move { c.run("k", std::future::pending::<u32>).await })
        };
        while c.inflight.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        leader.abort();
        let _ = leader.await;
        let (v, ran) = c.run("k", || async { 3 }).await;
        assert_eq!((v, ran), (3, true));
    }
}
