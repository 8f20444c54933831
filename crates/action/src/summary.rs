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
    for w in stats["warm"].as_array().map(Vec::as_slice).unwrap_or_default() {
        match w["error"].as_str() {
            None => md.push_str(&format!(
                "Warm start: {} entries from {} in {} ms.\n",
                w["entries"].as_u64().unwrap_or(0),
                w["source"].as_str().unwrap_or("?"),
                w["millis"].as_u64().unwrap_or(0)
            )),
            Some(e) => md.push_str(&format!(
                "Warm start from {} failed: {e}.\n",
                w["source"].as_str().unwrap_or("?")
            )),
        }
    }
    for p in stats["published"].as_array().map(Vec::as_slice).unwrap_or_default() {
        match (p["place"].as_str(), p["error"].as_str()) {
            (Some("peers"), None) => {
                md.push_str(&format!("Shared with peers: {}.\n", p["label"].as_str().unwrap_or("")))
            }
            (_, Some(e)) => md.push_str(&format!("Publishing at the end of the job failed: {e}.\n")),
            _ => {}
        }
    }
    if n("p2p_contributions") > 0 {
        md.push_str(&format!(
            "Peers answered {} requests (`PEER`).\n",
            n("p2p_contributions")
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

    #[test]
    fn what_came_from_and_went_to_peers() {
        let stats = serde_json::json!({"total_requests": 3, "p2p_contributions": 2,
            "warm": [{"source": "sync-node abc", "entries": 40, "millis": 12, "error": null}],
            "published": [{"place": "peers", "label": "5 entries acknowledged by abc", "error": null},
                          {"place": "", "label": "", "error": "xyz: no acknowledgement within 30s"}]});
        let md = markdown(&stats, &[], &[], &[]);
        assert!(md.contains("40 entries from sync-node abc"), "{md}");
        assert!(md.contains("Shared with peers: 5 entries acknowledged by abc."), "{md}");
        assert!(md.contains("failed: xyz: no acknowledgement"), "{md}");
        assert!(md.contains("Peers answered 2 requests"), "{md}");
    }
}
