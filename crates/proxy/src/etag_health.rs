//! Is GitHub still accepting the ETags we recompute for other tokens?
//!
//! The formula is observed, not documented (FACTS.md). If GitHub changes it, a cross-token
//! conditional request comes back 200 with the very body we hold. After a few such answers and
//! no 304 at all, recomputation is switched off and cross-token revalidation falls back to
//! `If-Modified-Since` where that is safe, else to a full fetch.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Rejections, with no confirmation ever, before recomputation is considered broken.
const REJECTIONS_BEFORE_FALLBACK: u64 = 3;

#[derive(Default)]
pub struct EtagHealth {
    confirmed: AtomicU64,
    rejected: AtomicU64,
}

impl EtagHealth {
    /// Records one cross-token conditional request: a 304 confirms the formula; a 200 carrying
    /// exactly the stored body means GitHub did not recognise our ETag.
    pub fn observe(&self, not_modified: bool, same_body_resent: bool) {
        if not_modified {
            self.confirmed.fetch_add(1, Relaxed);
        } else if same_body_resent {
            let n = self.rejected.fetch_add(1, Relaxed) + 1;
            if n == REJECTIONS_BEFORE_FALLBACK && self.confirmed.load(Relaxed) == 0 {
                tracing::warn!(
                    "GitHub rejects recomputed ETags; cross-token revalidation falls back to If-Modified-Since"
                );
            }
        }
    }

    pub fn broken(&self) -> bool {
        self.confirmed.load(Relaxed) == 0 && self.rejected.load(Relaxed) >= REJECTIONS_BEFORE_FALLBACK
    }

    pub fn counts(&self) -> (u64, u64) {
        (self.confirmed.load(Relaxed), self.rejected.load(Relaxed))
    }
}

/// Paths whose answer is the same for every token that may read it, so a 304 to
/// `If-Modified-Since` from one token confirms the copy another token fetched.
pub fn same_for_every_reader(path: &str) -> bool {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["repos", _, _, kind, ..] => matches!(
            *kind,
            "issues"
                | "pulls"
                | "labels"
                | "milestones"
                | "releases"
                | "commits"
                | "contents"
                | "branches"
                | "tags"
                | "git"
        ),
        ["users", _] => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_only_after_repeated_rejections_and_no_confirmation() {
        let h = EtagHealth::default();
        h.observe(false, true);
        h.observe(false, false);
        h.observe(false, true);
        assert!(!h.broken());
        h.observe(false, true);
        assert!(h.broken());
        let ok = EtagHealth::default();
        ok.observe(true, false);
        for _ in 0..10 {
            ok.observe(false, true);
        }
        assert!(
            !ok.broken(),
            "one confirmation proves the formula; later 200s are real changes or other causes"
        );
    }

    #[test]
    fn reader_independent_paths() {
        assert!(same_for_every_reader("/repos/o/r/issues"));
        assert!(same_for_every_reader("/repos/o/r/issues/1/comments"));
        assert!(same_for_every_reader("/users/octocat"));
        assert!(!same_for_every_reader("/repos/o/r"), "carries per-user permissions");
        assert!(!same_for_every_reader("/user"));
        assert!(!same_for_every_reader("/repos/o/r/collaborators/x/permission"));
        assert!(!same_for_every_reader("/search/issues"));
    }
}
