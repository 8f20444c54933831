//! `/_cache/metrics` in the Prometheus text exposition format (version 0.0.4).

use crate::state::State;
use crate::upstream::LATENCY_BUCKETS;
use std::fmt::Write;

pub fn render(state: &State) -> String {
    let mut out = String::with_capacity(4096);
    let snap = state.stats();

    family(
        &mut out,
        "ghp2p_responses_total",
        "counter",
        "Proxied responses by X-Cache mode and status class.",
    );
    for (mode, class, n) in state.stats.by_mode_status() {
        let _ = writeln!(
            out,
            "ghp2p_responses_total{{mode=\"{}\",status=\"{}xx\"}} {n}",
            mode.as_str(),
            class / 100
        );
    }

    family(
        &mut out,
        "ghp2p_upstream_request_duration_seconds",
        "histogram",
        "Upstream exchange durations.",
    );
    let (cumulative, sum) = state.upstream.latency().snapshot();
    for (i, count) in cumulative.iter().enumerate() {
        let le = LATENCY_BUCKETS
            .get(i)
            .map(|b| b.to_string())
            .unwrap_or_else(|| "+Inf".into());
        let _ = writeln!(
            out,
            "ghp2p_upstream_request_duration_seconds_bucket{{le=\"{le}\"}} {count}"
        );
    }
    let _ = writeln!(out, "ghp2p_upstream_request_duration_seconds_sum {sum}");
    let _ = writeln!(
        out,
        "ghp2p_upstream_request_duration_seconds_count {}",
        cumulative.last().copied().unwrap_or(0)
    );

    let budgets = state.governor.budgets();
    family(
        &mut out,
        "ghp2p_ratelimit_remaining",
        "gauge",
        "Last seen x-ratelimit-remaining per resource and token fingerprint.",
    );
    for (fp, resource, b) in &budgets {
        let _ = writeln!(
            out,
            "ghp2p_ratelimit_remaining{{resource=\"{}\",token=\"{}\"}} {}",
            escape(resource),
            short(fp),
            b.remaining
        );
    }
    family(
        &mut out,
        "ghp2p_ratelimit_limit",
        "gauge",
        "Last seen x-ratelimit-limit per resource and token fingerprint.",
    );
    for (fp, resource, b) in &budgets {
        let _ = writeln!(
            out,
            "ghp2p_ratelimit_limit{{resource=\"{}\",token=\"{}\"}} {}",
            escape(resource),
            short(fp),
            b.limit
        );
    }

    family(
        &mut out,
        "ghp2p_governor_queue_depth",
        "gauge",
        "Upstream requests waiting in the rate-limit governor.",
    );
    let _ = writeln!(out, "ghp2p_governor_queue_depth {}", state.governor.queue_depth());

    family(&mut out, "ghp2p_store_entries", "gauge", "Entries per store tier.");
    let _ = writeln!(
        out,
        "ghp2p_store_entries{{tier=\"memory\"}} {}",
        snap.store.memory_entries
    );
    let _ = writeln!(out, "ghp2p_store_entries{{tier=\"disk\"}} {}", snap.store.disk_entries);
    family(&mut out, "ghp2p_store_bytes", "gauge", "Bytes per store tier.");
    let _ = writeln!(out, "ghp2p_store_bytes{{tier=\"memory\"}} {}", snap.store.memory_bytes);
    let _ = writeln!(out, "ghp2p_store_bytes{{tier=\"disk\"}} {}", snap.store.disk_bytes);

    for (name, help, value) in [
        (
            "ghp2p_upstream_requests_total",
            "Upstream exchanges, retries included.",
            snap.upstream_requests,
        ),
        (
            "ghp2p_upstream_errors_total",
            "Upstream exchanges that failed without an answer.",
            snap.upstream_errors,
        ),
        (
            "ghp2p_rate_limit_units_used_total",
            "Upstream answers GitHub counts against the primary limit.",
            snap.rate_limit_units_used,
        ),
        (
            "ghp2p_rate_limit_units_saved_total",
            "Requests answered without spending a rate-limit unit.",
            snap.rate_limit_units_saved,
        ),
        (
            "ghp2p_bytes_saved_total",
            "Body bytes served without a full upstream transfer.",
            snap.bytes_saved,
        ),
    ] {
        family(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {value}");
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn short(fp: &entry::Fingerprint) -> String {
    fp.0[..4].iter().map(|b| format!("{b:02x}")).collect()
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
