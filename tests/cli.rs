//! The command line as a user meets it: bad flags and environment give clear errors, a corrupt
//! cache directory is moved aside, admin verbs talk to a running daemon.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gh-p2p-cache"));
    c.env("GH_P2P_CACHE_LOG", "warn").stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("GH_P2P_CACHE_") || k.starts_with("IPFS_GITHUB_CACHE") {
            c.env_remove(k);
        }
    }
    c
}

fn serve_fails(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> String {
    let mut c = bin();
    c.arg("serve")
        .arg("--socket")
        .arg(dir.join("s.sock"))
        .arg("--cache-dir")
        .arg(dir.join("c"))
        .args(extra);
    for (k, v) in env {
        c.env(k, v);
    }
    let out: Output = c.output().unwrap();
    assert!(!out.status.success(), "serve {extra:?} {env:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("error:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Flags, environment, and a phrase the error must contain.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn hostile_flags_and_environment_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[Case] = &[
        (&["--upstream", "ftp://x"], &[], "is not a URL"),
        (&["--listen", "0.0.0.0:0"], &[], "not a loopback address"),
        (&["--ttl", "5 weeks"], &[], "--ttl"),
        (&["--ttl-for", "list_issues"], &[], "OPERATION=DURATION"),
        (&["--ttl-for", "get_everything=5m"], &[], "unknown operation"),
        (&["--max-concurrent", "500"], &[], "between 1 and 100"),
        (&["--max-disk", "lots"], &[], "--max-disk"),
        (&[], &[("IPFS_GITHUB_CACHE_MAX_SIZE", "12XB")], "unknown size unit"),
        (
            &[],
            &[("GH_P2P_CACHE_TTL_LIST_ISSUES", "soon")],
            "GH_P2P_CACHE_TTL_LIST_ISSUES",
        ),
        (&[], &[("IPFS_GITHUB_CACHE_TTL", "-1")], "--ttl"),
        (&["--peer", "not-a-ticket"], &[], "not a sync-node ticket"),
        (&[], &[("GH_P2P_CACHE_PEERS", "x,y")], "not a sync-node ticket"),
        (&["--relay", "ftp://relay"], &[], "give n0, disabled, or a relay URL"),
        (
            &[],
            &[("GH_P2P_CACHE_PEER_BIND", "everywhere")],
            "GH_P2P_CACHE_PEER_BIND",
        ),
        (&["--peer-deadline", "soon"], &[], "--peer-deadline"),
        (&["--publish-deadline", "forever"], &[], "--publish-deadline"),
    ];
    for (flags, env, needle) in cases {
        let err = serve_fails(dir.path(), flags, env);
        assert!(err.contains(needle), "{flags:?} {env:?}: {err}");
    }
    let long = format!("--socket={}", dir.path().join("x".repeat(120)).display());
    let out = bin().args(["serve", &long, "--memory-only"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("the limit is 107"));
}

#[test]
fn admin_verbs_without_a_daemon_say_how_to_start_one() {
    let dir = tempfile::tempdir().unwrap();
    for verb in [&["stats"][..], &["invalidate", "--prefix", "/repos"]] {
        let out = bin()
            .args(verb)
            .arg("--socket")
            .arg(dir.path().join("none.sock"))
            .arg("--cache-dir")
            .arg(dir.path().join("none"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("gh-p2p-cache serve"),
            "{verb:?}"
        );
    }
    let out = bin().args(["invalidate"]).output().unwrap();
    assert!(!out.status.success(), "invalidate needs a key or --prefix");
}

#[test]
fn a_corrupt_cache_directory_is_moved_aside_and_the_daemon_starts() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("cache.redb"), vec![0xA5u8; 8192]).unwrap();
    let mut child = bin()
        .arg("serve")
        .arg("--socket")
        .arg(dir.path().join("s.sock"))
        .arg("--cache-dir")
        .arg(&cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    assert!(line.starts_with("gh-p2p-cache serving"), "{line:?}");
    let aside: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("unusable"))
        .collect();
    assert_eq!(aside.len(), 1, "the corrupt file is kept beside the new one");
    assert_eq!(std::fs::read(aside[0].path()).unwrap(), vec![0xA5u8; 8192]);
    Command::new("kill").arg(child.id().to_string()).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("moved aside"));
}

/// Starts `serve` with `flags`, `env` and a config file, reads its ready line, stops it.
fn ready_line(dir: &Path, config: &str, flags: &[&str], env: &[(&str, &str)]) -> String {
    let file = dir.join("config.toml");
    std::fs::write(&file, config).unwrap();
    let mut c = bin();
    c.arg("--config")
        .arg(&file)
        .arg("serve")
        .arg("--memory-only")
        .args(flags);
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    Command::new("kill").arg(child.id().to_string()).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        line.starts_with("gh-p2p-cache serving"),
        "{line:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    line
}

#[test]
fn flags_beat_environment_beat_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let sock = |n: &str| dir.path().join(n).display().to_string();
    let config = format!("socket = \"{}\"\nlisten = \"127.0.0.1:0\"\n", sock("file.sock"));
    assert!(ready_line(dir.path(), &config, &[], &[]).contains("file.sock"));
    let env_sock = sock("env.sock");
    assert!(ready_line(dir.path(), &config, &[], &[("GH_P2P_CACHE_SOCKET", &env_sock)]).contains("env.sock"));
    let flag_sock = sock("flag.sock");
    let line = ready_line(
        dir.path(),
        &config,
        &["--socket", &flag_sock],
        &[("GH_P2P_CACHE_SOCKET", &env_sock)],
    );
    assert!(line.contains("flag.sock") && line.contains("tcp=127.0.0.1:"), "{line}");
}

#[test]
fn a_bad_config_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    for (text, needle) in [
        ("listen = \"0.0.0.0:80\"", "not a loopback"),
        ("colour = \"blue\"", "unknown setting"),
    ] {
        std::fs::write(&file, text).unwrap();
        let out = bin()
            .arg("--config")
            .arg(&file)
            .args(["serve", "--memory-only"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{text}: {err}");
    }
    let out = bin()
        .arg("--config")
        .arg(dir.path().join("missing.toml"))
        .arg("stats")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config file"));
}

#[test]
fn the_sync_node_unit_and_container_file_use_flags_the_binary_has() {
    let help = bin().args(["sync-node", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let root = env!("CARGO_MANIFEST_DIR");
    for file in [
        "docs/sync-node/gh-p2p-cache-sync-node.service",
        "docs/sync-node/Containerfile",
    ] {
        let text = std::fs::read_to_string(Path::new(root).join(file)).unwrap();
        let commands: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        let flags: Vec<&str> = commands
            .split(|c: char| c.is_whitespace() || c == '"' || c == ',')
            .filter(|w| {
                w.starts_with("--") && w.len() > 2 && w[2..].chars().all(|c| c.is_ascii_lowercase() || c == '-')
            })
            .filter(|w| {
                ![
                    "--release",
                    "--locked",
                    "--bin",
                    "--name",
                    "--secret",
                    "--no-install-recommends",
                    "--system",
                    "--home-dir",
                    "--create-home",
                    "--from",
                ]
                .contains(w)
            })
            .collect();
        assert!(flags.len() >= 3, "{file}: found {flags:?}");
        for flag in flags {
            assert!(
                help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                "{file} uses {flag}, which `sync-node` does not have"
            );
        }
    }
}
