//! TTL classes: how long a read stays fresh, by the operation it performs.
//!
//! Operations carry the seed's names (`list_issues`, `get_repo`, ...) so its
//! `set_operation_ttl` maps onto `--ttl-for list_issues=60s` and `GH_P2P_CACHE_TTL_LIST_ISSUES`.
//! Defaults from the seed: issue lists 5 min, single issues 10 min, repositories 1 h, users 24 h,
//! everything else the default TTL.

use std::collections::HashMap;
use std::time::Duration;

/// Every operation name a TTL can be set for.
pub const OPERATIONS: &[&str] = &[
    "list_issues",
    "get_issue",
    "list_comments",
    "list_labels",
    "list_pulls",
    "get_pull",
    "get_repo",
    "get_user",
    "search",
    "graphql",
    "default",
];

/// The operation a read performs, from its normalized path.
pub fn operation_of(path: &str) -> &'static str {
    if path == "/graphql" {
        return "graphql";
    }
    if path.starts_with("/search/") {
        return "search";
    }
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["repos", _, _, "issues"] => "list_issues",
        ["repos", _, _, "issues", n] if n.parse::<u64>().is_ok() => "get_issue",
        ["repos", _, _, "issues", n, "comments"] if n.parse::<u64>().is_ok() => "list_comments",
        ["repos", _, _, "issues", "comments"] => "list_comments",
        ["repos", _, _, "labels"] => "list_labels",
        ["repos", _, _, "pulls"] => "list_pulls",
        ["repos", _, _, "pulls", n] if n.parse::<u64>().is_ok() => "get_pull",
        ["repos", _, _] => "get_repo",
        ["users", _] | ["user"] => "get_user",
        _ => "default",
    }
}

#[derive(Debug, Clone)]
pub struct TtlTable {
    default: Duration,
    overrides: HashMap<&'static str, Duration>,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown operation {0:?}; known: {known}", known = OPERATIONS.join(", "))]
pub struct UnknownOperation(pub String);

impl TtlTable {
    pub fn new(default: Duration) -> Self {
        TtlTable {
            default,
            overrides: HashMap::new(),
        }
    }

    /// The seed's `set_operation_ttl`.
    pub fn set(&mut self, operation: &str, ttl: Duration) -> Result<(), UnknownOperation> {
        let op = OPERATIONS
            .iter()
            .find(|o| **o == operation)
            .ok_or_else(|| UnknownOperation(operation.to_owned()))?;
        if *op == "default" {
            self.default = ttl;
        } else {
            self.overrides.insert(op, ttl);
        }
        Ok(())
    }

    pub fn ttl(&self, operation: &str) -> Duration {
        if let Some(t) = self.overrides.get(operation) {
            return *t;
        }
        let secs = match operation {
            "list_issues" => 300,
            "get_issue" => 600,
            "get_repo" => 3600,
            "get_user" => 86_400,
            _ => return self.default,
        };
        Duration::from_secs(secs)
    }
}

/// gh's `--cache 1h` sends `X-Gh-Cache-Ttl: 1h0m0s` (Go's duration format).
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.trim().chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push(chars.next()?);
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        total += n * match unit.as_str() {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        any = true;
    }
    (any && num.is_empty() && (0.0..1e9).contains(&total)).then(|| Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_and_default_classes() {
        let t = TtlTable::new(Duration::from_secs(42));
        let ttl = |p: &str| t.ttl(operation_of(p)).as_secs();
        assert_eq!(ttl("/repos/o/r/issues"), 300);
        assert_eq!(ttl("/repos/o/r/issues/7"), 600);
        assert_eq!(ttl("/repos/o/r"), 3600);
        assert_eq!(ttl("/users/octocat"), 86_400);
        assert_eq!(ttl("/user"), 86_400);
        assert_eq!(ttl("/repos/o/r/issues/7/comments"), 42);
        assert_eq!(ttl("/graphql"), 42);
        assert_eq!(operation_of("/repos/o/r/issues/labels"), "default");
    }

    #[test]
    fn overrides_and_unknown_names() {
        let mut t = TtlTable::new(Duration::from_secs(300));
        t.set("list_issues", Duration::from_secs(60)).unwrap();
        t.set("default", Duration::from_secs(10)).unwrap();
        assert_eq!(t.ttl("list_issues").as_secs(), 60);
        assert_eq!(t.ttl("graphql").as_secs(), 10);
        assert_eq!(t.ttl("get_repo").as_secs(), 3600);
        let e = t.set("get_everything", Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().contains("list_issues"), "{e}");
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h0m0s"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("250ms"), Some(Duration::from_millis(250)));
        for bad in ["", "h", "5", "5x", "-1s", "1e99h", "5m3"] {
            assert_eq!(parse_go_duration(bad), None, "{bad:?}");
        }
    }
}
