//! The benchmark's Markdown: the figures table, the ratios measured in the same run, the verdict
//! against the product targets, and replacing this benchmark's section of `BENCHMARKS.md`
//! (between its markers) without touching other benchmarks' sections.

use crate::load::{Latency, Throughput};
use anyhow::Context;
use std::fmt::Write as _;
use std::path::Path;

pub const START_MARKER: &str = "<!-- bench:hits:start -->";
pub const END_MARKER: &str = "<!-- bench:hits:end -->";
const FILE_INTRO: &str = "# Benchmarks\n\nLatest figures of the project's benchmarks, one section per benchmark. Each section is \
rewritten by the command it names; figures are only comparable within one section (same run, same machine).\n";

/// Issue target: memory-tier hit p50 over the Unix socket.
pub const P50_UNIX_TARGET_US: u64 = 150;

/// One target's figures.
pub struct Measured {
    pub name: &'static str,
    pub latency: Latency,
    pub throughput: Throughput,
    pub body_len: usize,
}

/// How the figures were measured.
pub struct Setup {
    pub path: &'static str,
    pub accept: &'static str,
    pub requests: u64,
    pub warmup: u64,
    pub rounds: u32,
    pub connections: u64,
    pub seconds: u64,
    pub cpus: usize,
    /// Share of the machine's CPU time other processes used during the measurements.
    pub others_share: f64,
    pub nginx_version: String,
}

impl Setup {
    /// Bullet lines saying what was measured and how.
    fn lines(&self) -> Vec<String> {
        let Setup {
            path,
            accept,
            requests,
            warmup,
            rounds,
            connections,
            seconds,
            cpus,
            others_share,
            ref nginx_version,
        } = *self;
        vec![
            format!(
                "Request: `GET {path}` with `Authorization: token <ghsim alice>` and `Accept: {accept}`, answered \
                 by the simulator `ghsim` (no added latency). Every measured response is checked (200, same body \
                 length, and `X-Cache: HIT` from ours, `X-Cache-Status: HIT` from nginx), and the simulator \
                 received only the direct calls while the caches were measured: no cache went upstream."
            ),
            format!(
                "Latency: {requests} sequential requests per target on one keep-alive connection after {warmup} \
                 warm-up requests, targets interleaved in {rounds} rounds; whole response (headers and body), \
                 hdrhistogram, µs."
            ),
            format!(
                "Throughput: {connections} keep-alive connections per target sending back to back, {seconds} s \
                 per target in {rounds} interleaved rounds."
            ),
            format!(
                "Load generator: hyper 1 HTTP/1.1 client on one tokio thread, sharing the {cpus} cores with the \
                 servers; its CPU use is in the table. Throughput is what each server achieves next to a busy \
                 client, not its ceiling."
            ),
            format!(
                "Other processes used {:.0}% of the machine's CPU time during the measurements (machine-wide \
                 busy time from /proc/stat minus the benchmark's own processes).",
                others_share * 100.0
            ),
            format!(
                "Ours: `gh-p2p-cache serve --memory-only` (memory tier), `GH_P2P_CACHE_LOG=warn`. nginx \
                 ({nginx_version}): `proxy_cache` in front of the simulator, 2 workers, key = method, URI, `Accept`, \
                 `X-GitHub-Api-Version` and `Authorization`, 200s cached 5 min ignoring \
                 `Cache-Control`/`Vary`/`Expires`/`Set-Cookie`, `proxy_cache_lock on`, keep-alive upstream; its \
                 hits are read from cache files (page cache) with `sendfile on` and `tcp_nopush off` (with \
                 Debian's `tcp_nopush on` every keep-alive hit stalled ~40 ms). Config: `xtask/src/nginx.rs`."
            ),
            "The simulator row is a baseline, not a cache: it renders every response. Real GitHub answers in \
             tens to hundreds of milliseconds, not on loopback."
                .to_owned(),
        ]
    }
}

/// Everything the section shows.
pub struct Report {
    pub date_utc: String,
    pub machine: String,
    pub command: String,
    pub setup: Setup,
    pub direct: Measured,
    pub nginx: Measured,
    pub ours_unix: Measured,
    pub ours_tcp: Measured,
}

impl Report {
    /// The Markdown section, markers included.
    pub fn section(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{START_MARKER}");
        let _ = writeln!(s, "## Cache hits: latency and throughput\n");
        let _ = writeln!(s, "- Date: {}", self.date_utc);
        let _ = writeln!(s, "- Command: `{}`", self.command);
        let _ = writeln!(s, "- Machine: {}", self.machine);
        for line in self.setup.lines() {
            let _ = writeln!(s, "- {line}");
        }
        let _ = writeln!(
            s,
            "\n| target | hit p50 µs | hit p99 µs | hits/s | server CPU µs/hit | load generator CPU | body bytes |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
        for m in [&self.direct, &self.nginx, &self.ours_unix, &self.ours_tcp] {
            let t = &m.throughput;
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:.1} | {:.0}% of a core | {} |",
                m.name,
                m.latency.p50_us,
                m.latency.p99_us,
                thousands(t.per_second().round() as u64),
                t.server_cpu_us_per_response(),
                t.client_core_share() * 100.0,
                m.body_len
            );
        }
        let _ = writeln!(
            s,
            "\nServer CPU µs/hit: user+system CPU time of the target's processes (from /proc) during its \
             throughput runs, divided by its responses. Load generator CPU: this benchmark's client in the same runs."
        );
        let _ = writeln!(
            s,
            "\nRatios from the same run (latency below 1× and throughput above 1× favour ours):\n"
        );
        let _ = writeln!(s, "| comparison | p50 | p99 | hits/s | server CPU/hit |");
        let _ = writeln!(s, "|---|---:|---:|---:|---:|");
        for (a, b) in [
            (&self.ours_unix, &self.nginx),
            (&self.ours_tcp, &self.nginx),
            (&self.ours_unix, &self.direct),
            (&self.ours_tcp, &self.direct),
        ] {
            let _ = writeln!(
                s,
                "| {} vs {} | {} | {} | {} | {} |",
                a.name,
                b.name,
                ratio(a.latency.p50_us as f64, b.latency.p50_us as f64),
                ratio(a.latency.p99_us as f64, b.latency.p99_us as f64),
                ratio(a.throughput.per_second(), b.throughput.per_second()),
                ratio(
                    a.throughput.server_cpu_us_per_response(),
                    b.throughput.server_cpu_us_per_response()
                ),
            );
        }
        let _ = writeln!(s, "\nTargets:\n");
        for line in self.verdicts() {
            let _ = writeln!(s, "- {line}");
        }
        let _ = writeln!(s, "{END_MARKER}");
        s
    }

    /// PASS/MISS lines against the targets, saying by how much a target was missed.
    pub fn verdicts(&self) -> Vec<String> {
        let mut out = Vec::new();
        let p50 = self.ours_unix.latency.p50_us;
        out.push(if p50 <= P50_UNIX_TARGET_US {
            format!("PASS: memory-tier hit p50 over the Unix socket is {p50} µs (target ≤ {P50_UNIX_TARGET_US} µs)")
        } else {
            format!(
                "MISS: memory-tier hit p50 over the Unix socket is {p50} µs, {} µs ({:.0}%) over the target of {P50_UNIX_TARGET_US} µs",
                p50 - P50_UNIX_TARGET_US,
                (p50 as f64 / P50_UNIX_TARGET_US as f64 - 1.0) * 100.0
            )
        });
        let theirs = self.nginx.throughput.per_second();
        for ours in [&self.ours_unix, &self.ours_tcp] {
            let rate = ours.throughput.per_second();
            out.push(if rate >= theirs {
                format!(
                    "PASS: {} hit throughput {} hits/s ≥ nginx's {} hits/s",
                    ours.name,
                    thousands(rate.round() as u64),
                    thousands(theirs.round() as u64)
                )
            } else {
                format!(
                    "MISS: {} hit throughput {} hits/s is {:.0}% below nginx's {} hits/s",
                    ours.name,
                    thousands(rate.round() as u64),
                    (1.0 - rate / theirs) * 100.0,
                    thousands(theirs.round() as u64)
                )
            });
        }
        out
    }
}

fn ratio(a: f64, b: f64) -> String {
    let r = a / b;
    if !(b > 0.0 && r.is_finite()) {
        "n/a".into()
    } else if r >= 0.1 {
        format!("{r:.2}×")
    } else {
        format!("{r:.4}×")
    }
}

/// 12345 -> "12,345".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The markers of a section: its first line is `<!-- bench:NAME:start -->`.
fn markers(section: &str) -> anyhow::Result<(String, String)> {
    let first = section.lines().next().unwrap_or_default().trim();
    let name = first
        .strip_prefix("<!-- bench:")
        .and_then(|r| r.strip_suffix(":start -->"))
        .with_context(|| format!("a section must start with <!-- bench:NAME:start -->, not {first:?}"))?;
    Ok((first.to_owned(), format!("<!-- bench:{name}:end -->")))
}

/// Replaces the benchmark's section of `existing` (markers included, named by the section's
/// first line) with `section`, appends it if absent, and starts a new file with the intro if
/// `existing` is empty.
pub fn splice(existing: &str, section: &str) -> anyhow::Result<String> {
    if existing.trim().is_empty() {
        return Ok(format!("{FILE_INTRO}\n{section}"));
    }
    let (start_marker, end_marker) = markers(section)?;
    match (existing.find(&start_marker), existing.find(&end_marker)) {
        (Some(start), Some(end)) if start < end => {
            let after = end + end_marker.len();
            let rest = existing[after..].strip_prefix('\n').unwrap_or(&existing[after..]);
            Ok(format!("{}{section}{rest}", &existing[..start]))
        }
        (None, None) => {
            let sep = if existing.ends_with("\n\n") {
                ""
            } else if existing.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            Ok(format!("{existing}{sep}{section}"))
        }
        _ => anyhow::bail!("the markers {start_marker} and {end_marker} are damaged; fix them by hand"),
    }
}

/// Writes the section into `path`, keeping everything outside the markers.
pub fn write(path: &Path, section: &str) -> anyhow::Result<()> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let text = splice(&existing, section).with_context(|| format!("in {}", path.display()))?;
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// `YYYY-MM-DD HH:MM UTC` for a Unix time (the simulator's calendar code does the civil date).
pub fn utc_timestamp(unix_secs: u64) -> String {
    let iso = ghsim::Timestamp(unix_secs as i64).iso();
    format!("{} {} UTC", &iso[..10], &iso[11..16])
}

/// `N CPUs (model)` from the scheduler and /proc/cpuinfo.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs ({model}), Linux")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(utc_timestamp(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc_timestamp(1_767_225_599), "2025-12-31 23:59 UTC");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn splice_creates_replaces_and_appends() {
        let one = format!("{START_MARKER}\nold\n{END_MARKER}\n");
        let two = format!("{START_MARKER}\nnew\n{END_MARKER}\n");
        let created = splice("", &one).unwrap();
        assert!(created.starts_with("# Benchmarks"));
        assert!(created.ends_with(&one));

        let other = "<!-- bench:other:start -->\nx\n<!-- bench:other:end -->\n";
        let file = format!("# B\n\n{one}\n{other}");
        let replaced = splice(&file, &two).unwrap();
        assert_eq!(replaced, format!("# B\n\n{two}\n{other}"));

        let appended = splice("# B\n", &two).unwrap();
        assert_eq!(appended, format!("# B\n\n{two}"));

        assert!(splice(&format!("# B\n{END_MARKER}\n{START_MARKER}\n"), &two).is_err());
    }
}
