//! Primary rate limits: one bucket per login and resource (`core`, `search`, `graphql`), each
//! with a window that starts at its first use and resets an hour (search: a minute) later.

use std::collections::HashMap;

use crate::auth::Caller;
use crate::config::Limits;
use crate::time::Timestamp;

/// The rate-limit resource a request is charged to (`x-ratelimit-resource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Core,
    Search,
    Graphql,
}

impl Resource {
    pub fn name(self) -> &'static str {
        match self {
            Resource::Core => "core",
            Resource::Search => "search",
            Resource::Graphql => "graphql",
        }
    }

    fn window_secs(self) -> i64 {
        match self {
            Resource::Search => 60,
            Resource::Core | Resource::Graphql => 3600,
        }
    }
}

/// One bucket as the `x-ratelimit-*` headers and `/rate_limit` show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub resource: Resource,
    pub limit: u64,
    pub used: u64,
    /// Epoch seconds.
    pub reset: i64,
}

impl Snapshot {
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }
}

#[derive(Debug)]
struct Bucket {
    used: u64,
    reset: i64,
}

#[derive(Debug)]
pub struct Limiter {
    limits: Limits,
    buckets: HashMap<(String, Resource), Bucket>,
}

impl Limiter {
    pub fn new(limits: Limits) -> Self {
        Limiter {
            limits,
            buckets: HashMap::new(),
        }
    }

    fn limit_for(&self, caller: &Caller, res: Resource) -> u64 {
        match (caller.is_authenticated(), res) {
            (true, Resource::Core) => self.limits.core,
            (true, Resource::Search) => self.limits.search,
            (_, Resource::Graphql) => self.limits.graphql,
            (false, Resource::Core) => self.limits.anonymous_core,
            // GitHub allows 10 unauthenticated searches a minute.
            (false, Resource::Search) => self.limits.search.min(10),
        }
    }

    fn bucket(&mut self, caller: &Caller, res: Resource) -> (&mut Bucket, u64) {
        let limit = self.limit_for(caller, res);
        let now = Timestamp::now().0;
        let b = self.buckets.entry((caller.key().to_owned(), res)).or_insert(Bucket {
            used: 0,
            reset: now + res.window_secs(),
        });
        if now >= b.reset {
            *b = Bucket {
                used: 0,
                reset: now + res.window_secs(),
            };
        }
        (b, limit)
    }

    pub fn peek(&mut self, caller: &Caller, res: Resource) -> Snapshot {
        let (b, limit) = self.bucket(caller, res);
        Snapshot {
            resource: res,
            limit,
            used: b.used,
            reset: b.reset,
        }
    }

    /// Takes `cost` units if they are all there; otherwise takes nothing and returns `Err`.
    pub fn try_consume(&mut self, caller: &Caller, res: Resource, cost: u64) -> Result<Snapshot, Snapshot> {
        let (b, limit) = self.bucket(caller, res);
        let ok = b.used + cost <= limit;
        if ok {
            b.used += cost;
        }
        let snap = Snapshot {
            resource: res,
            limit,
            used: b.used,
            reset: b.reset,
        };
        if ok { Ok(snap) } else { Err(snap) }
    }

    /// Gives back units taken up front for a request that turned out free (an authorized 304).
    pub fn refund(&mut self, caller: &Caller, res: Resource, units: u64) {
        let (b, _) = self.bucket(caller, res);
        b.used = b.used.saturating_sub(units);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Access;

    #[test]
    fn consume_until_empty_then_refuse() {
        let mut l = Limiter::new(Limits {
            core: 2,
            ..Limits::default()
        });
        let alice = Caller {
            login: Some("alice".into()),
            access: Access::All,
        };
        assert_eq!(l.try_consume(&alice, Resource::Core, 1).unwrap().remaining(), 1);
        assert_eq!(l.try_consume(&alice, Resource::Core, 1).unwrap().remaining(), 0);
        assert!(l.try_consume(&alice, Resource::Core, 1).is_err());
        l.refund(&alice, Resource::Core, 1);
        assert_eq!(l.peek(&alice, Resource::Core).remaining(), 1);
        // other resources and other callers are separate buckets
        assert_eq!(l.peek(&alice, Resource::Search).remaining(), 30);
        assert_eq!(l.peek(&Caller::anonymous(), Resource::Core).limit, 60);
        assert_eq!(l.peek(&Caller::anonymous(), Resource::Search).limit, 10);
    }
}
