//! The rate-limit governor: every upstream exchange passes through here.
//!
//! It keeps upstream concurrency under GitHub's secondary limit, spaces each token's writes,
//! tracks `x-ratelimit-*` per token fingerprint and resource, honours `retry-after` and
//! `x-ratelimit-reset`, and retries idempotent reads after 5xx answers and connection failures
//! with jittered backoff. A write is never retried: it may have reached GitHub.

use crate::upstream::{UpstreamError, UpstreamResponse};
use entry::Fingerprint;
use http::StatusCode;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct GovernorConfig {
    /// Upstream requests in flight at once (GitHub's secondary limit is 100, REST and GraphQL).
    pub max_concurrent: usize,
    /// Minimum gap between two writes of one token (GitHub advises at least 1 s).
    pub write_spacing: Duration,
    /// How long a read may wait for a blocked budget before giving up (then stale or error).
    pub max_read_wait: Duration,
    /// How long a write may wait for a blocked budget.
    pub max_write_wait: Duration,
    /// Extra attempts for an idempotent read after a 5xx or a connection failure.
    pub read_retries: u32,
    /// First backoff step; doubles per attempt, with ±50 % jitter.
    pub backoff: Duration,
}

impl Default for GovernorConfig {
    fn default() -> Self {
        GovernorConfig {
            max_concurrent: 80,
            write_spacing: Duration::from_secs(1),
            max_read_wait: Duration::from_secs(2),
            max_write_wait: Duration::from_secs(120),
            read_retries: 2,
            backoff: Duration::from_millis(100),
        }
    }
}

/// Last known primary budget of one token for one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub limit: u64,
    pub remaining: u64,
    pub used: u64,
    /// Unix seconds at which the window resets.
    pub reset_epoch: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
}

#[derive(Debug, thiserror::Error, Clone)]
pub enum GovernedError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("rate limit for this token is exhausted for {0:?} more; not sent")]
    Blocked(Duration),
}

pub struct Governor {
    config: GovernorConfig,
    permits: Semaphore,
    budgets: Mutex<HashMap<(Fingerprint, String), Budget>>,
    blocked_until: Mutex<HashMap<Fingerprint, Instant>>,
    next_write: Mutex<HashMap<Fingerprint, Instant>>,
    waiting: AtomicI64,
}

impl Governor {
    pub fn new(config: GovernorConfig) -> Self {
        Governor {
            permits: Semaphore::new(config.max_concurrent.max(1)),
            config,
            budgets: Mutex::default(),
            blocked_until: Mutex::default(),
            next_write: Mutex::default(),
            waiting: AtomicI64::new(0),
        }
    }

    /// Requests waiting for a permit, a write slot or a blocked budget.
    pub fn queue_depth(&self) -> i64 {
        self.waiting.load(Ordering::Relaxed)
    }

    pub fn budgets(&self) -> Vec<(Fingerprint, String, Budget)> {
        let map = self.budgets.lock().expect("budgets lock");
        map.iter().map(|((fp, r), b)| (*fp, r.clone(), *b)).collect()
    }

    /// Runs `send` (called again for each retry) under the governor's rules. `now_epoch` gives
    /// wall-clock Unix seconds, to interpret `x-ratelimit-reset`.
    pub async fn run<F, Fut>(
        &self,
        fp: Fingerprint,
        kind: Kind,
        resource: &str,
        now_epoch: impl Fn() -> u64,
        mut send: F,
    ) -> Result<UpstreamResponse, GovernedError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<UpstreamResponse, UpstreamError>>,
    {
        let mut attempt = 0;
        loop {
            self.waiting.fetch_add(1, Ordering::Relaxed);
            let admitted = self.admit(fp, kind, resource, &now_epoch).await;
            let permit = match admitted {
                Ok(()) => self.permits.acquire().await.ok(),
                Err(e) => {
                    self.waiting.fetch_sub(1, Ordering::Relaxed);
                    return Err(e);
                }
            };
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            let result = send().await;
            drop(permit);
            if let Ok(resp) = &result {
                self.observe(fp, resp, &now_epoch);
            }
            let retryable = match &result {
                Ok(resp) => resp.status.is_server_error(),
                Err(UpstreamError::Unreachable(..)) => true,
                Err(_) => false,
            };
            if kind == Kind::Read && retryable && attempt < self.config.read_retries {
                attempt += 1;
                tokio::time::sleep(self.backoff(attempt)).await;
                continue;
            }
            return result.map_err(GovernedError::from);
        }
    }

    /// Waits for this token's write slot and any block on its budget.
    async fn admit(
        &self,
        fp: Fingerprint,
        kind: Kind,
        resource: &str,
        now_epoch: &impl Fn() -> u64,
    ) -> Result<(), GovernedError> {
        if let Some(wait) = self.blocked_for(fp, resource, now_epoch()) {
            let limit = match kind {
                Kind::Read => self.config.max_read_wait,
                Kind::Write => self.config.max_write_wait,
            };
            if wait > limit {
                return Err(GovernedError::Blocked(wait));
            }
            tokio::time::sleep(wait).await;
        }
        if kind == Kind::Write {
            let slot = {
                let mut next = self.next_write.lock().expect("write slots lock");
                let now = Instant::now();
                let slot = next.get(&fp).copied().filter(|t| *t > now).unwrap_or(now);
                next.insert(fp, slot + self.config.write_spacing);
                slot
            };
            tokio::time::sleep_until(slot).await;
        }
        Ok(())
    }

    /// How long this token must wait before sending to `resource`, if at all.
    fn blocked_for(&self, fp: Fingerprint, resource: &str, now_epoch: u64) -> Option<Duration> {
        let now = Instant::now();
        let retry_after = self
            .blocked_until
            .lock()
            .expect("blocked lock")
            .get(&fp)
            .copied()
            .filter(|t| *t > now);
        let from_retry = retry_after.map(|t| t - now);
        let exhausted = self
            .budgets
            .lock()
            .expect("budgets lock")
            .get(&(fp, resource.to_owned()))
            .copied();
        let from_budget = exhausted
            .filter(|b| b.remaining == 0 && b.reset_epoch > now_epoch)
            .map(|b| Duration::from_secs(b.reset_epoch - now_epoch));
        from_retry.into_iter().chain(from_budget).max()
    }

    fn observe(&self, fp: Fingerprint, resp: &UpstreamResponse, now_epoch: &impl Fn() -> u64) {
        let h = |name: &str| {
            resp.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if let (Some(limit), Some(remaining), Some(reset)) = (
            h("x-ratelimit-limit"),
            h("x-ratelimit-remaining"),
            h("x-ratelimit-reset"),
        ) {
            let resource = resp
                .headers
                .get("x-ratelimit-resource")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("core")
                .to_owned();
            let used = h("x-ratelimit-used").unwrap_or(limit.saturating_sub(remaining));
            self.budgets.lock().expect("budgets lock").insert(
                (fp, resource),
                Budget {
                    limit,
                    remaining,
                    used,
                    reset_epoch: reset,
                },
            );
        }
        let limited = resp.status == StatusCode::TOO_MANY_REQUESTS
            || (resp.status == StatusCode::FORBIDDEN
                && (resp.headers.contains_key("retry-after") || h("x-ratelimit-remaining") == Some(0)));
        if limited {
            let wait = match (h("retry-after"), h("x-ratelimit-remaining"), h("x-ratelimit-reset")) {
                (Some(secs), _, _) => Duration::from_secs(secs),
                (None, Some(0), Some(reset)) => Duration::from_secs(reset.saturating_sub(now_epoch())),
                // A secondary limit without retry-after: GitHub says wait at least a minute.
                _ => Duration::from_secs(60),
            };
            let until = Instant::now() + wait;
            let mut blocked = self.blocked_until.lock().expect("blocked lock");
            let slot = blocked.entry(fp).or_insert(until);
            *slot = (*slot).max(until);
            tracing::warn!(
                wait_secs = wait.as_secs(),
                "GitHub rate limit hit; holding this token's requests"
            );
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.config.backoff.saturating_mul(1 << (attempt - 1).min(10));
        let jitter: f64 = 0.5 + rand::random::<f64>();
        base.mul_f64(jitter)
    }
}

/// The primary-limit resource a request draws on.
pub fn resource_of(path: &str) -> &'static str {
    if path == "/graphql" {
        "graphql"
    } else if path.starts_with("/search/") {
        "search"
    } else {
        "core"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue};
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    const FP: Fingerprint = Fingerprint([1; 16]);

    fn resp(status: u16, headers: &[(&'static str, &str)]) -> UpstreamResponse {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        UpstreamResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: h,
            body: Bytes::new(),
        }
    }

    fn epoch() -> u64 {
        1_000_000
    }

    #[tokio::test(start_paused = true)]
    async fn reads_retry_5xx_and_resets_but_writes_never_retry() {
        let g = Governor::new(GovernorConfig::default());
        let calls = AtomicUsize::new(0);
        let r = g
            .run(FP, Kind::Read, "core", epoch, || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    match n {
                        0 => Err(UpstreamError::Unreachable("u".into(), "reset".into())),
                        1 => Ok(resp(502, &[])),
                        _ => Ok(resp(200, &[])),
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!((r.status, calls.load(Ordering::SeqCst)), (StatusCode::OK, 3));

        let calls = AtomicUsize::new(0);
        let r = g
            .run(FP, Kind::Write, "core", epoch, || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok(resp(502, &[])) }
            })
            .await
            .unwrap();
        assert_eq!((r.status, calls.load(Ordering::SeqCst)), (StatusCode::BAD_GATEWAY, 1));
        let calls = AtomicUsize::new(0);
        let e = g
            .run(FP, Kind::Write, "core", epoch, || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(UpstreamError::Unreachable("u".into(), "reset".into())) }
            })
            .await;
        assert!(e.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn reads_give_up_after_their_retries() {
        let g = Governor::new(GovernorConfig {
            read_retries: 2,
            ..Default::default()
        });
        let calls = AtomicUsize::new(0);
        let r = g
            .run(FP, Kind::Read, "core", epoch, || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok(resp(503, &[])) }
            })
            .await
            .unwrap();
        assert_eq!(
            (r.status, calls.load(Ordering::SeqCst)),
            (StatusCode::SERVICE_UNAVAILABLE, 3)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn writes_of_one_token_are_spaced() {
        let g = Governor::new(GovernorConfig {
            write_spacing: Duration::from_secs(1),
            ..Default::default()
        });
        let start = Instant::now();
        let mut sent_at = Vec::new();
        for _ in 0..3 {
            g.run(FP, Kind::Write, "core", epoch, || async { Ok(resp(201, &[])) })
                .await
                .unwrap();
            sent_at.push(Instant::now() - start);
        }
        assert_eq!(
            sent_at,
            [Duration::ZERO, Duration::from_secs(1), Duration::from_secs(2)]
        );
        // Another token is not held back by the first one's spacing.
        let t = Instant::now();
        g.run(Fingerprint([2; 16]), Kind::Write, "core", epoch, || async {
            Ok(resp(201, &[]))
        })
        .await
        .unwrap();
        assert_eq!(Instant::now() - t, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_holds_reads_briefly_then_refuses_them() {
        let g = Governor::new(GovernorConfig {
            max_read_wait: Duration::from_secs(2),
            ..Default::default()
        });
        let r = g
            .run(FP, Kind::Read, "core", epoch, || async {
                Ok(resp(429, &[("retry-after", "1")]))
            })
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        let t = Instant::now();
        g.run(FP, Kind::Read, "core", epoch, || async { Ok(resp(200, &[])) })
            .await
            .unwrap();
        assert_eq!(Instant::now() - t, Duration::from_secs(1), "waited out retry-after");

        g.run(FP, Kind::Read, "core", epoch, || async {
            Ok(resp(403, &[("retry-after", "60")]))
        })
        .await
        .unwrap();
        let e = g
            .run(FP, Kind::Read, "core", epoch, || async { Ok(resp(200, &[])) })
            .await;
        assert!(
            matches!(e, Err(GovernedError::Blocked(d)) if d == Duration::from_secs(60)),
            "{e:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_exhausted_budget_blocks_only_its_token_and_resource() {
        let g = Governor::new(GovernorConfig::default());
        let headers = [
            ("x-ratelimit-limit", "1000"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-used", "1000"),
            ("x-ratelimit-reset", "1000600"),
            ("x-ratelimit-resource", "core"),
        ];
        g.run(FP, Kind::Read, "core", epoch, || async move { Ok(resp(200, &headers)) })
            .await
            .unwrap();
        assert_eq!(
            g.budgets(),
            vec![(
                FP,
                "core".to_owned(),
                Budget {
                    limit: 1000,
                    remaining: 0,
                    used: 1000,
                    reset_epoch: 1_000_600
                }
            )]
        );
        let e = g
            .run(FP, Kind::Read, "core", epoch, || async { Ok(resp(200, &[])) })
            .await;
        assert!(
            matches!(e, Err(GovernedError::Blocked(d)) if d == Duration::from_secs(600)),
            "{e:?}"
        );
        assert!(
            g.run(FP, Kind::Read, "search", epoch, || async { Ok(resp(200, &[])) })
                .await
                .is_ok()
        );
        assert!(
            g.run(Fingerprint([9; 16]), Kind::Read, "core", epoch, || async {
                Ok(resp(200, &[]))
            })
            .await
            .is_ok()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_is_capped() {
        let g = Arc::new(Governor::new(GovernorConfig {
            max_concurrent: 2,
            ..Default::default()
        }));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let (g, in_flight, peak) = (g.clone(), in_flight.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                g.run(FP, Kind::Read, "core", epoch, || {
                    let (in_flight, peak) = (in_flight.clone(), peak.clone());
                    async move {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        Ok(resp(200, &[]))
                    }
                })
                .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert_eq!(g.queue_depth(), 0);
    }

    #[test]
    fn resources() {
        assert_eq!(resource_of("/graphql"), "graphql");
        assert_eq!(resource_of("/search/issues"), "search");
        assert_eq!(resource_of("/repos/o/r"), "core");
    }
}
