//! The configuration file: the lowest layer under flags and environment.
//!
//! `--config FILE`, else `GH_P2P_CACHE_CONFIG`, else `~/.config/gh-p2p-cache/config.toml` if it
//! exists. Each setting is the environment variable's name without the `GH_P2P_CACHE_` prefix,
//! in kebab-case (`max-disk = "4GiB"`), and `[ttl-for]` holds per-operation TTLs. A setting is
//! applied as its environment variable when that variable is unset, which gives exactly the
//! precedence flags > environment > file > defaults, with one parser for both.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// Settings a file may hold, and the variable each stands for.
const KEYS: &[(&str, &str)] = &[
    ("socket", "GH_P2P_CACHE_SOCKET"),
    ("listen", "GH_P2P_CACHE_LISTEN"),
    ("upstream", "GH_P2P_CACHE_UPSTREAM"),
    ("cache-dir", "GH_P2P_CACHE_DIR"),
    ("ttl", "GH_P2P_CACHE_TTL"),
    ("max-memory", "GH_P2P_CACHE_MAX_MEMORY"),
    ("max-disk", "GH_P2P_CACHE_MAX_DISK"),
    ("policy", "GH_P2P_CACHE_POLICY"),
    ("max-stale", "GH_P2P_CACHE_MAX_STALE"),
    ("max-concurrent", "GH_P2P_CACHE_MAX_CONCURRENT"),
    ("write-spacing", "GH_P2P_CACHE_WRITE_SPACING"),
    ("log", "GH_P2P_CACHE_LOG"),
    ("secret-file", "GH_P2P_CACHE_SECRET_FILE"),
    ("scope", "GH_P2P_CACHE_SCOPE"),
    ("scrub-patterns", "GH_P2P_CACHE_SCRUB_PATTERNS"),
    ("ipfs-api", "GH_P2P_CACHE_IPFS_API"),
    ("peers", "GH_P2P_CACHE_PEERS"),
    ("relay", "GH_P2P_CACHE_RELAY"),
    ("mdns", "GH_P2P_CACHE_MDNS"),
    ("peer-bind", "GH_P2P_CACHE_PEER_BIND"),
    ("peer-deadline", "GH_P2P_CACHE_PEER_DEADLINE"),
    ("warm-deadline", "GH_P2P_CACHE_WARM_DEADLINE"),
    ("publish-deadline", "GH_P2P_CACHE_PUBLISH_DEADLINE"),
];

/// The seed's names: set in the environment, they outrank the file like our own names do.
const SEED_ALIASES: &[(&str, &str)] = &[
    ("GH_P2P_CACHE_DIR", "IPFS_GITHUB_CACHE_DIR"),
    ("GH_P2P_CACHE_TTL", "IPFS_GITHUB_CACHE_TTL"),
    ("GH_P2P_CACHE_MAX_DISK", "IPFS_GITHUB_CACHE_MAX_SIZE"),
];

/// Which file to read, from the command line, the environment or the default place.
pub fn locate(args: &[String]) -> Option<(PathBuf, bool)> {
    let mut iter = args.iter();
    while let Some(a) = iter.next() {
        if a == "--config" {
            return iter.next().map(|p| (PathBuf::from(p), true));
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some((PathBuf::from(p), true));
        }
    }
    if let Ok(p) = std::env::var("GH_P2P_CACHE_CONFIG") {
        return Some((PathBuf::from(p), true));
    }
    let default = dirs::config_dir()?.join("gh-p2p-cache").join("config.toml");
    default.exists().then_some((default, false))
}

/// The (variable, value) pairs a file sets.
pub fn parse(path: &Path, text: &str) -> anyhow::Result<Vec<(String, String)>> {
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
    let mut out = Vec::new();
    for (key, value) in &table {
        if key == "ttl-for" {
            let Some(ops) = value.as_table() else {
                bail!("config file {}: [ttl-for] must be a table", path.display())
            };
            for (op, v) in ops {
                if !proxy::OPERATIONS.contains(&op.as_str()) {
                    bail!(
                        "config file {}: unknown operation {op:?} in [ttl-for]; known: {}",
                        path.display(),
                        proxy::OPERATIONS.join(", ")
                    );
                }
                out.push((
                    format!("GH_P2P_CACHE_TTL_{}", op.to_ascii_uppercase()),
                    scalar(path, key, v)?,
                ));
            }
            continue;
        }
        let Some((_, var)) = KEYS.iter().find(|(k, _)| *k == key.replace('_', "-")) else {
            let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
            bail!(
                "config file {}: unknown setting {key:?}; known: {}, [ttl-for]",
                path.display(),
                known.join(", ")
            );
        };
        out.push(((*var).to_owned(), scalar(path, key, value)?));
    }
    Ok(out)
}

fn scalar(path: &Path, key: &str, v: &toml::Value) -> anyhow::Result<String> {
    match v {
        // A list (scrub-patterns) travels as one value per line.
        toml::Value::Array(items) if items.iter().all(|i| i.is_str()) => {
            Ok(items.iter().filter_map(|i| i.as_str()).collect::<Vec<_>>().join("\n"))
        }
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        _ => bail!("config file {}: {key} must be a string or a number", path.display()),
    }
}

/// Reads the file (if any) and sets each of its settings whose variable is unset.
///
/// Must run before any other thread exists (it sets environment variables).
pub fn apply(args: &[String]) -> anyhow::Result<()> {
    let Some((path, explicit)) = locate(args) else {
        return Ok(());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read config file {}", path.display())),
    };
    for (var, value) in parse(&path, &text)? {
        let alias_set = SEED_ALIASES
            .iter()
            .any(|(ours, seed)| *ours == var && std::env::var_os(seed).is_some());
        if std::env::var_os(&var).is_none() && !alias_set {
            // SAFETY: called at the start of `main`, before the runtime or any thread starts.
            unsafe { std::env::set_var(&var, value) };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_map_to_variables() {
        let got = parse(
            Path::new("c.toml"),
            "max-disk = \"4GiB\"\nmax_concurrent = 50\n[ttl-for]\nlist_issues = \"60s\"\n",
        )
        .unwrap();
        assert!(got.contains(&("GH_P2P_CACHE_MAX_DISK".into(), "4GiB".into())));
        assert!(got.contains(&("GH_P2P_CACHE_MAX_CONCURRENT".into(), "50".into())));
        assert!(got.contains(&("GH_P2P_CACHE_TTL_LIST_ISSUES".into(), "60s".into())));
    }

    #[test]
    fn hostile_files_are_clear_errors() {
        for (text, needle) in [
            ("not toml = = =", "not valid TOML"),
            ("tokens = \"x\"", "unknown setting \"tokens\""),
            ("[ttl-for]\nget_everything = \"1s\"", "unknown operation"),
            ("ttl-for = 5", "must be a table"),
            ("ttl = [1, 2]", "string or a number"),
        ] {
            let e = parse(Path::new("c.toml"), text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
            assert!(e.contains("c.toml"), "names the file: {e}");
        }
    }

    #[test]
    fn locate_prefers_the_flag() {
        let args = vec!["gh-p2p-cache".into(), "serve".into(), "--config=/x.toml".into()];
        assert_eq!(locate(&args), Some((PathBuf::from("/x.toml"), true)));
        let args = vec!["gh-p2p-cache".into(), "--config".into(), "/y.toml".into()];
        assert_eq!(locate(&args), Some((PathBuf::from("/y.toml"), true)));
    }
}
