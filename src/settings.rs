//! Defaults and value parsing shared by the verbs: where the socket and cache live, sizes,
//! durations, and the seed's environment aliases.

use anyhow::{Context, bail};
use std::path::PathBuf;
use std::time::Duration;

/// The seed's environment names, accepted when our own is unset.
pub fn env_alias(ours: &str, seed: &str) -> Option<String> {
    std::env::var(ours)
        .ok()
        .or_else(|| std::env::var(seed).ok())
        .filter(|v| !v.trim().is_empty())
}

/// `$XDG_RUNTIME_DIR/gh-p2p-cache/api.sock`, else `/tmp/gh-p2p-cache-UID/api.sock`; falls back
/// to a short path when the preferred one is over the socket path limit.
pub fn default_socket() -> PathBuf {
    let uid = unsafe_free_uid();
    let preferred = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("gh-p2p-cache").join("api.sock"),
        _ => std::env::temp_dir()
            .join(format!("gh-p2p-cache-{uid}"))
            .join("api.sock"),
    };
    if preferred.as_os_str().len() <= proxy::server::MAX_SOCKET_PATH {
        preferred
    } else {
        PathBuf::from(format!("/tmp/ghp2p-{uid}/s"))
    }
}

/// The user cache directory (`~/.cache/gh-p2p-cache` on Linux).
pub fn default_cache_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("gh-p2p-cache")
}

fn unsafe_free_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    // The owner of our own /proc entry is our uid; avoids libc for one number.
    std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0)
}

/// `512MiB`, `2GiB`, `100MB`, `4096` (bytes).
pub fn parse_size(s: &str) -> anyhow::Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .with_context(|| format!("size {s:?} must start with a number, like 512MiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => bail!("unknown size unit {other:?} in {s:?}; use B, KiB, MiB, GiB, KB, MB or GB"),
    };
    let bytes = n * mult as f64;
    if !(1.0..=1e15).contains(&bytes) {
        bail!("size {s:?} is out of range");
    }
    Ok(bytes as u64)
}

/// `300`, `300s`, `5m`, `1h`, `7d`.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .with_context(|| format!("duration {s:?} must look like 300, 90s, 5m, 1h or 7d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        other => bail!("unknown duration unit {other:?} in {s:?}; use s, m, h or d"),
    };
    Ok(Duration::from_secs(secs))
}

/// Like [`parse_duration`], also accepting milliseconds (`250ms`).
pub fn parse_duration_ms(s: &str) -> anyhow::Result<Duration> {
    match s.trim().strip_suffix("ms") {
        Some(n) => Ok(Duration::from_millis(
            n.parse().with_context(|| format!("duration {s:?}"))?,
        )),
        None => parse_duration(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("2 GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("100MB").unwrap(), 100_000_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        for bad in ["", "MiB", "12XB", "-5", "0", "1e30"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300").unwrap().as_secs(), 300);
        assert_eq!(parse_duration("5m").unwrap().as_secs(), 300);
        assert_eq!(parse_duration("7d").unwrap().as_secs(), 604_800);
        for bad in ["", "m", "5w", "-1", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn millisecond_durations() {
        assert_eq!(parse_duration_ms("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration_ms("2s").unwrap(), Duration::from_secs(2));
        assert!(parse_duration_ms("xms").is_err());
    }

    #[test]
    fn default_socket_fits_the_limit() {
        assert!(default_socket().as_os_str().len() <= proxy::server::MAX_SOCKET_PATH);
    }
}
