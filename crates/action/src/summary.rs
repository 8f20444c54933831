//! The job summary: a table and Mermaid charts of how requests were answered and what the
//! rate limit was spared.

use serde_json::Value;

/// Entries that came from, or went to, one source or sink.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Moved {
    pub place: String,
    pub label: String,
    pub entries: u64,
}

pub fn markdown(stats: &Value, restored: &[Moved], saved: &[Moved], notes: &[String]) -> String {
    let n = |k: &str| stats[k].as_u64().unwrap_or(0);
    let modes = [
        ("HIT", n("cache_hits")),
        ("REVALIDATED", n("revalidated")),
        ("COALESCED", n("coalesced")),
        ("PEER", n("p2p_contributions")),
        ("STALE", n("stale_served")),
        ("MISS", n("cache_misses")),
        ("BYPASS", n("bypassed")),
    ];
    let mut md = String::from("## gh-p2p-cache\n\n| answered as | requests |\n| --- | ---: |\n");
    for (mode, count) in modes {
        md.push_str(&format!("| `{mode}` | {count} |\n"));
    }
    md.push_str(&format!("| **total** | **{}** |\n\n", n("total_requests")));
    md.push_str(&format!(
        "Served from cache: **{:.1} %**. Rate limit: **{} units used, {} saved**. Bytes saved: {}.\n\n",
        stats["hit_rate"].as_f64().unwrap_or(0.0) * 100.0,
        n("rate_limit_units_used"),
        n("rate_limit_units_saved"),
        n("bytes_saved"),
    ));
    if n("total_requests") > 0 {
        md.push_str("```mermaid\npie title Requests by X-Cache\n");
        for (mode, count) in modes.iter().filter(|(_, c)| *c > 0) {
            md.push_str(&format!("    \"{mode}\" : {count}\n"));
        }
        md.push_str("```\n\n");
    }
    if n("rate_limit_units_used") + n("rate_limit_units_saved") > 0 {
        md.push_str(&format!(
            "```mermaid\npie title Rate-limit units\n    \"used\" : {}\n    \"saved\" : {}\n```\n\n",
            n("rate_limit_units_used"),
            n("rate_limit_units_saved")
        ));
    }
    if restored.is_empty() {
        md.push_str("Warm start: nothing restored.\n");
    }
    for m in restored {
        md.push_str(&format!(
            "Warm start: {} entries restored from {} (`{}`).\n",
            m.entries, m.place, m.label
        ));
    }
    for m in saved {
        md.push_str(&format!(
            "Saved {} entries to {} (`{}`).\n",
            m.entries, m.place, m.label
        ));
    }
    for note in notes {
        md.push_str(&format!("\n> {note}\n"));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_charts() {
        let stats = serde_json::json!({"total_requests": 10, "cache_hits": 6, "cache_misses": 4, "hit_rate": 0.6,
            "rate_limit_units_used": 4, "rate_limit_units_saved": 6, "bytes_saved": 1234});
        let restored = [Moved {
            place: "the Actions cache".into(),
            label: "k".into(),
            entries: 3,
        }];
        let md = markdown(&stats, &restored, &[], &["no secret".into()]);
        assert!(md.contains("| `HIT` | 6 |") && md.contains("**10**") && md.contains("60.0 %"));
        assert!(
            md.contains("pie title Requests by X-Cache") && md.contains("\"MISS\" : 4") && !md.contains("\"PEER\"")
        );
        assert!(md.contains("3 entries restored") && md.contains("> no secret"));
    }
}
