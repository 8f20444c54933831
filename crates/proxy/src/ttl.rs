//! TTL classes: how long a read stays fresh, by what it reads (defaults from the seed).

use std::time::Duration;

pub fn ttl_for(path: &str, default: Duration) -> Duration {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let secs = match segs.as_slice() {
        ["repos", _, _, "issues"] => 300,
        ["repos", _, _, "issues", n] if n.parse::<u64>().is_ok() => 600,
        ["repos", _, _] => 3600,
        ["users", _] | ["user"] => 86_400,
        _ => return default,
    };
    Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let d = Duration::from_secs(42);
        assert_eq!(ttl_for("/repos/o/r/issues", d).as_secs(), 300);
        assert_eq!(ttl_for("/repos/o/r/issues/7", d).as_secs(), 600);
        assert_eq!(ttl_for("/repos/o/r", d).as_secs(), 3600);
        assert_eq!(ttl_for("/users/octocat", d).as_secs(), 86_400);
        assert_eq!(ttl_for("/user", d).as_secs(), 86_400);
        assert_eq!(ttl_for("/repos/o/r/issues/7/comments", d).as_secs(), 42);
        assert_eq!(ttl_for("/repos/o/r/issues/labels", d).as_secs(), 42);
        assert_eq!(ttl_for("/graphql", d).as_secs(), 42);
    }
}
