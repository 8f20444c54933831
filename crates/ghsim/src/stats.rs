//! Counters behind `GET /_sim/stats`: what the simulated GitHub was asked and what it charged,
//! so tests can assert "exactly one upstream call" and benchmarks can count units saved.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A snapshot of the counters. Logins, never tokens, name the rate-limit units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// API requests received (not `/_sim/`), including ones answered by an injected fault.
    pub total_requests: u64,
    /// Responses sent, by status; reset and stalled requests have none.
    pub by_status: BTreeMap<u16, u64>,
    /// 304 responses (also counted under 304 in `by_status`).
    pub not_modified: u64,
    /// Primary rate-limit units charged, by login (`(anonymous)` without a token).
    pub units_by_login: BTreeMap<String, u64>,
    /// Requests by route template, e.g. `GET /repos/{owner}/{repo}/issues` or `POST /graphql`,
    /// independent of the path prefix. Unrouted paths count under `GET (unmatched)`.
    pub by_route: BTreeMap<String, u64>,
    /// Highest number of API requests in flight at once.
    pub max_in_flight: u64,
    /// API requests in flight when the snapshot was taken (stalled ones included).
    #[serde(default)]
    pub in_flight: u64,
    /// Requests answered by an injected fault (fail, reset or stall).
    #[serde(default)]
    pub faults_injected: u64,
}

impl SimStats {
    /// All primary rate-limit units charged, over every login and resource.
    pub fn units_total(&self) -> u64 {
        self.units_by_login.values().sum()
    }

    /// Requests seen for a route template such as `GET /repos/{owner}/{repo}`.
    pub fn count(&self, route: &str) -> u64 {
        self.by_route.get(route).copied().unwrap_or(0)
    }

    /// Responses sent with this status.
    pub fn status(&self, code: u16) -> u64 {
        self.by_status.get(&code).copied().unwrap_or(0)
    }

    pub(crate) fn record_request(&mut self, route: &str) {
        self.total_requests += 1;
        *self.by_route.entry(route.to_owned()).or_default() += 1;
    }

    pub(crate) fn record_status(&mut self, code: u16) {
        *self.by_status.entry(code).or_default() += 1;
        if code == 304 {
            self.not_modified += 1;
        }
    }

    pub(crate) fn record_units(&mut self, login: &str, units: u64) {
        if units > 0 {
            *self.units_by_login.entry(login.to_owned()).or_default() += units;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_and_json_round_trip() {
        let mut s = SimStats::default();
        s.record_request("GET /user");
        s.record_status(304);
        s.record_units("alice", 2);
        s.record_units("bob", 1);
        assert_eq!(s.units_total(), 3);
        assert_eq!(s.count("GET /user"), 1);
        assert_eq!(s.count("GET /nope"), 0);
        assert_eq!(s.not_modified, 1);
        let back: SimStats = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
}
