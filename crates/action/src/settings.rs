//! What the Action's steps work with: its inputs, the runner's environment, and the paths under
//! the runner's temporary directory.

use crate::runner::Runner;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `RUNNER_TEMP/gh-p2p-cache`: the cache directory, log, snapshot and gh config live here.
    pub work_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub socket: PathBuf,
    pub log_file: PathBuf,
    pub upstream: String,
    pub repository: String,
    /// The fleet's secret (the `secret` input), if any.
    pub secret: Option<String>,
    pub actions_cache: bool,
    pub warm_timeout: Duration,
    /// `serve` flags passed through from inputs.
    pub serve_flags: Vec<String>,
    /// Sync-node tickets (the `peers` input); used only with a secret.
    pub peers: Vec<String>,
    pub log_level: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Runner(#[from] crate::runner::RunnerError),
    #[error("input {name}: {message}")]
    Input { name: &'static str, message: String },
}

impl Settings {
    pub fn read(runner: &Runner) -> Result<Settings, SettingsError> {
        let temp = runner
            .var("RUNNER_TEMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let work_dir = temp.join("gh-p2p-cache");
        let socket = match runner.input("socket-path") {
            Some(p) => PathBuf::from(p),
            None => short_socket(&work_dir),
        };
        let warm_timeout = match runner.input("warm-timeout") {
            None => Duration::from_secs(30),
            Some(v) => parse_secs(&v).ok_or(SettingsError::Input {
                name: "warm-timeout",
                message: format!("{v:?} is not a duration like 30s, 2m or 45"),
            })?,
        };
        let mut serve_flags = Vec::new();
        for (input, flag) in [
            ("ttl", "--ttl"),
            ("max-memory", "--max-memory"),
            ("max-disk", "--max-disk"),
            ("policy", "--policy"),
        ] {
            if let Some(v) = runner.input(input) {
                serve_flags.push(flag.to_owned());
                serve_flags.push(v);
            }
        }
        let peers: Vec<String> = runner
            .input("peers")
            .unwrap_or_default()
            .split([',', '\n', ' '])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        let secret = runner.input("secret");
        if secret.is_some() {
            // Peers need the secret (the daemon gets it in its environment, never as a flag).
            for ticket in &peers {
                serve_flags.push("--peer".to_owned());
                serve_flags.push(ticket.clone());
            }
            if !peers.is_empty() {
                serve_flags.push("--warm-deadline".to_owned());
                serve_flags.push(format!("{}s", warm_timeout.as_secs().max(1)));
                if let Some(relay) = runner.input("relay") {
                    serve_flags.push("--relay".to_owned());
                    serve_flags.push(relay);
                }
            }
        }
        Ok(Settings {
            peers,
            cache_dir: work_dir.join("cache"),
            log_file: work_dir.join("daemon.log"),
            work_dir,
            socket,
            upstream: runner
                .var("GITHUB_API_URL")
                .unwrap_or("https://api.github.com")
                .to_owned(),
            repository: runner.var("GITHUB_REPOSITORY").unwrap_or("local/repository").to_owned(),
            secret,
            actions_cache: runner.input_bool("actions-cache", true)?,
            warm_timeout,
            serve_flags,
            log_level: runner.input("log-level").unwrap_or_else(|| "info".to_owned()),
        })
    }
}

/// Unix socket paths are limited to 108 bytes: a deep `RUNNER_TEMP` falls back to /tmp.
fn short_socket(work_dir: &std::path::Path) -> PathBuf {
    let preferred = work_dir.join("api.sock");
    if preferred.as_os_str().len() <= 100 {
        preferred
    } else {
        std::env::temp_dir()
            .join(format!("ghp2p-{}", std::process::id()))
            .join("s")
    }
}

fn parse_secs(v: &str) -> Option<Duration> {
    let v = v.trim();
    let (n, mult) = match v.char_indices().last()? {
        (i, 's') => (&v[..i], 1),
        (i, 'm') => (&v[..i], 60),
        _ => (v, 1),
    };
    n.parse::<u64>().ok().map(|n| Duration::from_secs(n * mult))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn inputs_and_defaults() {
        let env: HashMap<String, String> = [
            ("RUNNER_TEMP", "/r/t"),
            ("INPUT_WARM-TIMEOUT", "2m"),
            ("INPUT_MAX-DISK", "1GiB"),
            ("INPUT_ACTIONS-CACHE", "false"),
            ("GITHUB_API_URL", "https://ghe.example/api/v3"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let s = Settings::read(&Runner::new(env, Box::new(std::io::sink()))).unwrap();
        assert_eq!(s.socket, PathBuf::from("/r/t/gh-p2p-cache/api.sock"));
        assert_eq!(s.warm_timeout, Duration::from_secs(120));
        assert_eq!(s.serve_flags, ["--max-disk", "1GiB"]);
        assert!(!s.actions_cache);
        assert_eq!(s.upstream, "https://ghe.example/api/v3");
    }

    #[test]
    fn bad_inputs_are_named() {
        let env: HashMap<String, String> = [("INPUT_WARM-TIMEOUT", "soon")]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let e = Settings::read(&Runner::new(env, Box::new(std::io::sink()))).unwrap_err();
        assert!(e.to_string().contains("warm-timeout"), "{e}");
        let deep = "/x".repeat(60);
        let env: HashMap<String, String> = [("RUNNER_TEMP".to_owned(), deep)].into_iter().collect();
        let s = Settings::read(&Runner::new(env, Box::new(std::io::sink()))).unwrap();
        assert!(s.socket.as_os_str().len() < 108);
    }
}
