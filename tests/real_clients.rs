//! Real clients end to end: Debian's `gh` through `http_unix_socket`, `curl --unix-socket`,
//! @octokit/rest and PyGithub through the TCP base URL, all against the `gh-p2p-cache` binary
//! in front of the simulator. `scripts/test` installs the clients; a missing one fails here
//! with the step that installs it.

use ghsim::{Sim, SimConfig, SimHandle, TOKEN_ALICE, TOKEN_BOB, TOKEN_CAROL};
use std::path::Path;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

mod support;

use support::Daemon;

const REPO_ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `curl -i` through the daemon's socket, as a client addressing api.github.com would.
fn curl_api(socket: &Path, token: &str, path: &str) -> Command {
    let mut c = Command::new("curl");
    c.args(["-sS", "-i", "--unix-socket"]).arg(socket).args([
        "-H",
        &format!("Authorization: token {token}"),
        &format!("http://api.github.com{path}"),
    ]);
    c
}

fn require(tool: &str, install: &str) {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{tool} is not installed: run ./scripts/test, which does `{install}`"
    );
}

async fn run(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn daemon_stats(d: &Daemon) -> serde_json::Value {
    let out = run(Command::new(env!("CARGO_BIN_EXE_gh-p2p-cache"))
        .args(["stats", "--json"])
        .arg("--socket")
        .arg(&d.socket))
    .await;
    serde_json::from_str(&out).unwrap()
}

async fn sim() -> SimHandle {
    Sim::start(SimConfig::default()).await.unwrap()
}

fn gh(config_dir: &Path) -> Command {
    let mut c = Command::new("gh");
    c.env("GH_CONFIG_DIR", config_dir)
        .env("GH_TOKEN", TOKEN_ALICE)
        .env("GH_NO_UPDATE_NOTIFIER", "1")
        .env("GH_PROMPT_DISABLED", "1")
        .env("NO_COLOR", "1")
        .env_remove("GH_HOST")
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_ENTERPRISE_TOKEN");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gh_cli_through_the_unix_socket() {
    require("gh", "apt-get install gh");
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&sim.base_url, dir.path()).await;
    let config = dir.path().join("gh");
    run(gh(&config).args(["config", "set", "http_unix_socket"]).arg(&d.socket)).await;

    let first = run(gh(&config).args(["api", "repos/octo/hello"])).await;
    let second = run(gh(&config).args(["api", "-i", "repos/octo/hello"])).await;
    assert!(first.contains("\"full_name\":\"octo/hello\""), "{first}");
    assert!(second.to_ascii_lowercase().contains("x-cache: hit"), "{second}");
    assert_eq!(sim.stats().count("GET /repos/{owner}/{repo}"), 1);

    let list = run(gh(&config).args(["issue", "list", "-R", "octo/hello"])).await;
    assert!(!list.trim().is_empty(), "gh issue list printed nothing");
    let graphql_calls = sim.stats().count("POST /graphql");
    let list_again = run(gh(&config).args(["issue", "list", "-R", "octo/hello"])).await;
    assert_eq!(list, list_again);
    assert_eq!(
        sim.stats().count("POST /graphql"),
        graphql_calls,
        "second gh issue list served from cache"
    );

    let title = "Created by gh through gh-p2p-cache";
    let url = run(gh(&config).args([
        "issue",
        "create",
        "-R",
        "octo/hello",
        "--title",
        title,
        "--body",
        "hello",
    ]))
    .await;
    assert!(url.contains("/issues/"), "gh issue create printed {url:?}");
    let after = run(gh(&config).args(["issue", "list", "-R", "octo/hello"])).await;
    assert!(
        after.contains(title),
        "the list after a write shows the new issue:\n{after}"
    );

    let stats = daemon_stats(&d).await;
    assert!(stats["cache_hits"].as_u64().unwrap() >= 2, "{stats}");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_through_the_socket_and_a_restart_keeps_entries() {
    require("curl", "apt-get install curl");
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let curl = |socket: &Path| {
        let mut c = Command::new("curl");
        c.args(["-sS", "-i", "--unix-socket"]).arg(socket).args([
            "-H",
            &format!("Authorization: token {TOKEN_BOB}"),
            "http://api.github.com/repos/octo/hello/issues/1",
        ]);
        c
    };
    let d = Daemon::start(&sim.base_url, dir.path()).await;
    let a = run(&mut curl(&d.socket)).await.to_ascii_lowercase();
    let b = run(&mut curl(&d.socket)).await.to_ascii_lowercase();
    assert!(a.contains("x-cache: miss"), "{a}");
    assert!(b.contains("x-cache: hit"), "{b}");
    d.stop().await;

    let d = Daemon::start(&sim.base_url, dir.path()).await;
    let c = run(&mut curl(&d.socket)).await.to_ascii_lowercase();
    assert!(c.contains("x-cache: hit"), "served from disk after restart: {c}");
    assert_eq!(sim.stats().count("GET /repos/{owner}/{repo}/issues/{number}"), 1);
    let table = run(Command::new(env!("CARGO_BIN_EXE_gh-p2p-cache"))
        .arg("stats")
        .arg("--socket")
        .arg(&d.socket))
    .await;
    assert!(
        table.contains("HIT") && table.contains("served from cache 100.0 %"),
        "{table}"
    );
    d.stop().await;

    // The admin verbs work on the cache directory when no daemon runs.
    let admin = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gh-p2p-cache"));
        c.args(args)
            .arg("--socket")
            .arg(dir.path().join("gone.sock"))
            .arg("--cache-dir")
            .arg(dir.path().join("cache"));
        c
    };
    let stats: serde_json::Value = serde_json::from_str(&run(&mut admin(&["stats", "--json"])).await).unwrap();
    assert_eq!(
        (stats["daemon"].as_bool(), stats["disk_entries"].as_u64()),
        (Some(false), Some(1)),
        "{stats}"
    );
    let kept = run(&mut admin(&["clean", "--older-than", "1h"])).await;
    assert!(kept.starts_with("removed 0 entries"), "{kept}");
    let gone = run(&mut admin(&["clean", "--older-than", "0s"])).await;
    assert!(gone.starts_with("removed 1 entries"), "{gone}");
    let stats: serde_json::Value = serde_json::from_str(&run(&mut admin(&["stats", "--json"])).await).unwrap();
    assert_eq!(stats["disk_entries"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn octokit_paginates_through_the_tcp_base_url() {
    require("node", "apt-get install nodejs");
    let script = Path::new(REPO_ROOT).join("tests/clients/octokit_flow.mjs");
    assert!(
        Path::new(REPO_ROOT)
            .join("tests/clients/node_modules/@octokit/rest")
            .exists(),
        "@octokit/rest is not installed: run ./scripts/test, which does `npm ci` in tests/clients"
    );
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&sim.base_url, dir.path()).await;
    for round in 0..2 {
        let out = run(Command::new("node")
            .arg(&script)
            .args([&d.base_url(), TOKEN_ALICE, "octo", "hello"]))
        .await;
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["repo"], "octo/hello");
        assert_eq!(v["issues"], 120, "every page followed through the proxy: {v}");
        let numbers: std::collections::BTreeSet<u64> = v["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .collect();
        assert_eq!(numbers.len(), 120, "no duplicates across pages");
        assert_eq!(v["x_cache"][1], "HIT");
        if round == 1 {
            assert_eq!(v["x_cache"][0], "HIT");
        }
    }
    let s = sim.stats();
    assert_eq!(
        s.count("GET /repos/{owner}/{repo}/issues"),
        3,
        "3 pages of 50 fetched once"
    );
    assert_eq!(s.count("GET /repos/{owner}/{repo}"), 1);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pygithub_paginates_through_the_tcp_base_url() {
    require("python3", "apt-get install python3");
    let probe = std::process::Command::new("python3")
        .args(["-c", "import github"])
        .output()
        .unwrap();
    assert!(
        probe.status.success(),
        "PyGithub is not installed: run ./scripts/test, which does `pip install -r tests/clients/requirements.txt`"
    );
    let script = Path::new(REPO_ROOT).join("tests/clients/pygithub_flow.py");
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&sim.base_url, dir.path()).await;
    for _ in 0..2 {
        let out = run(Command::new("python3")
            .arg(&script)
            .args([&d.base_url(), TOKEN_ALICE, "octo/hello"]))
        .await;
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["repo"], "octo/hello");
        assert_eq!(v["issues"], 120, "{v}");
    }
    let s = sim.stats();
    assert_eq!(
        s.count("GET /repos/{owner}/{repo}/issues"),
        4,
        "4 pages of 30 fetched once, then hits"
    );
    let stats = daemon_stats(&d).await;
    assert!(stats["cache_hits"].as_u64().unwrap() >= 5, "{stats}");
    let out = run(Command::new(env!("CARGO_BIN_EXE_gh-p2p-cache"))
        .args(["invalidate", "--prefix", "/repos/octo/hello/issues", "--socket"])
        .arg(&d.socket))
    .await;
    assert_eq!(out.trim(), "invalidated 4 entries");
    let out = run(Command::new("python3")
        .arg(&script)
        .args([&d.base_url(), TOKEN_ALICE, "octo/hello"]))
    .await;
    assert!(out.contains("\"issues\": 120"), "{out}");
    assert_eq!(
        sim.stats().count("GET /repos/{owner}/{repo}/issues"),
        8,
        "pages fetched again after invalidation"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_moves_the_cache_to_a_fresh_runner_and_entries_revalidate_for_free() {
    require("curl", "apt-get install curl");
    let sim = sim().await;
    let first = tempfile::tempdir().unwrap();
    let d = Daemon::start(&sim.base_url, first.path()).await;
    for path in [
        "/repos/octo/hello/issues/1",
        "/repos/octo/hello/issues?per_page=5",
        "/users/octocat",
    ] {
        run(&mut curl_api(&d.socket, TOKEN_ALICE, path)).await;
    }
    d.stop().await;

    let car = first.path().join("snap.car");
    let cli = |args: &[&str], dir: &Path, secret: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gh-p2p-cache"));
        c.args(args)
            .arg("--cache-dir")
            .arg(dir.join("cache"))
            .env("GH_P2P_CACHE_SECRET", secret)
            .env("GH_P2P_CACHE_SCOPE", "octo/hello");
        c
    };
    let out = run(&mut cli(
        &["export", car.to_str().unwrap(), "--scrub", "The Octocat"],
        first.path(),
        "fleet secret",
    ))
    .await;
    assert!(out.starts_with("exported 3 entries"), "{out}");
    let bad = cli(&["export", "/dev/null", "--scrub", "("], first.path(), "s")
        .output()
        .await
        .unwrap();
    let bad_err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && bad_err.contains("\"(\""),
        "a bad pattern is a clear error: {bad_err}"
    );
    // The IPFS project's own tool accepts the file and every block's hash.
    let tool = Path::new(REPO_ROOT).join("crates/ipfs/tests/js/node_modules/.bin/ipfs-car");
    assert!(
        tool.exists(),
        "ipfs-car missing: run ./scripts/test (npm ci --prefix crates/ipfs/tests/js)"
    );
    let blocks = run(Command::new(&tool).arg("blocks").arg(&car)).await;
    assert_eq!(blocks.lines().count(), 4, "a manifest and three envelopes: {blocks}");

    let second = tempfile::tempdir().unwrap();
    let wrong = run(&mut cli(
        &["import", car.to_str().unwrap()],
        second.path(),
        "another secret",
    ))
    .await;
    assert!(
        wrong.starts_with("imported 0 entries") && wrong.contains("3 sealed with another secret"),
        "{wrong}"
    );
    let right = run(&mut cli(
        &["import", car.to_str().unwrap()],
        second.path(),
        "fleet secret",
    ))
    .await;
    assert!(right.starts_with("imported 3 entries"), "{right}");

    let before = sim.stats();
    let d = Daemon::start(&sim.base_url, second.path()).await;
    // The configured pattern was redacted from what left the machine, so that copy no longer
    // matches GitHub's and is refetched (one unit) rather than confirmed.
    let octocat = run(&mut curl_api(&d.socket, TOKEN_CAROL, "/users/octocat")).await;
    assert!(octocat.to_ascii_lowercase().contains("x-cache: miss"), "{octocat}");
    assert!(octocat.contains("The Octocat"), "the refetched body is GitHub's own");
    let r = run(&mut curl_api(&d.socket, TOKEN_CAROL, "/repos/octo/hello/issues/1"))
        .await
        .to_ascii_lowercase();
    assert!(
        r.contains("x-cache: peer"),
        "a received entry is confirmed by GitHub first (a free 304), and says where it came from: {r}"
    );
    let after = sim.stats();
    assert_eq!(
        after.units_total(),
        before.units_total() + 1,
        "the confirmation was a free 304; the one unit is the scrubbed user's refetch"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_to_ipfs_and_warm_a_fresh_daemon_from_the_root_cid() {
    require("curl", "apt-get install curl");
    let sim = sim().await;
    let kubo = ipfs::doubles::FakeKubo::start().await.unwrap();
    let pinning = ipfs::doubles::FakePinning::start("pin-token").await.unwrap();
    let first = tempfile::tempdir().unwrap();
    let d = Daemon::start(&sim.base_url, first.path()).await;
    for path in ["/repos/octo/hello", "/repos/octo/hello/issues/2"] {
        run(&mut curl_api(&d.socket, TOKEN_ALICE, path)).await;
    }
    d.stop().await;
    let cli = |args: &[&str], dir: &Path| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gh-p2p-cache"));
        c.args(args)
            .arg("--cache-dir")
            .arg(dir.join("cache"))
            .env("GH_P2P_CACHE_SECRET", "fleet secret")
            .env("GH_P2P_CACHE_SCOPE", "octo/hello")
            .env("GH_P2P_CACHE_PINNING_TOKEN", "pin-token");
        c
    };
    let out = run(&mut cli(
        &[
            "publish",
            "--ipfs-api",
            &kubo.api_url(),
            "--pinning-service",
            &pinning.endpoint(),
            "--pin-timeout",
            "20s",
        ],
        first.path(),
    ))
    .await;
    let root = out
        .lines()
        .last()
        .unwrap()
        .strip_prefix("root ")
        .expect("root line")
        .to_owned();
    assert!(out.contains("is pinned"), "{out}");
    let root_cid = ipfs::parse_cid(&root).unwrap();
    assert!(kubo.is_pinned(&root_cid), "kubo pinned the root");

    // Unreachable IPFS: a clear error, nothing imported.
    let second = tempfile::tempdir().unwrap();
    let bad = cli(
        &["warm", "--ipfs-root", &root, "--ipfs-api", "http://127.0.0.1:9"],
        second.path(),
    )
    .output()
    .await
    .unwrap();
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("127.0.0.1:9"));
    let bad = cli(
        &["warm", "--ipfs-root", "not-a-cid", "--ipfs-api", &kubo.api_url()],
        second.path(),
    )
    .output()
    .await
    .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--ipfs-root"));

    let warmed = run(&mut cli(
        &["warm", "--ipfs-root", &root, "--ipfs-api", &kubo.api_url()],
        second.path(),
    ))
    .await;
    assert!(warmed.starts_with("warmed 2 entries"), "{warmed}");

    // A fresh daemon on the warmed cache: with the trust policy a hit needs no upstream call.
    let socket = second.path().join("api.sock");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gh-p2p-cache"))
        .args(["serve", "--policy", "trust", "--upstream", &sim.base_url])
        .arg("--socket")
        .arg(&socket)
        .arg("--cache-dir")
        .arg(second.path().join("cache"))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    lines.next_line().await.unwrap().expect("ready line");
    let before = sim.stats().total_requests;
    let r = run(&mut curl_api(&socket, TOKEN_BOB, "/repos/octo/hello/issues/2"))
        .await
        .to_ascii_lowercase();
    assert!(
        r.contains("x-cache: peer"),
        "trusted, and from the shared snapshot: {r}"
    );
    assert_eq!(sim.stats().total_requests, before, "served without an upstream call");
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finish_publishes_to_ipfs_when_configured_and_survives_ipfs_being_down() {
    require("curl", "apt-get install curl");
    let sim = sim().await;
    let kubo = ipfs::doubles::FakeKubo::start().await.unwrap();
    for (api, expect_ok) in [(kubo.api_url(), true), ("http://127.0.0.1:9".to_owned(), false)] {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("api.sock");
        let mut child = Command::new(env!("CARGO_BIN_EXE_gh-p2p-cache"))
            .args(["serve", "--upstream", &sim.base_url, "--ipfs-api", &api])
            .arg("--socket")
            .arg(&socket)
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .env("GH_P2P_CACHE_SECRET", "fleet secret")
            .env("GH_P2P_CACHE_LOG", "error")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        lines.next_line().await.unwrap().expect("ready line");
        let curl = |args: &[&str]| {
            let mut c = Command::new("curl");
            c.args(["-sS", "--unix-socket"]).arg(&socket).args(args);
            c
        };
        run(&mut curl(&[
            "-H",
            &format!("Authorization: token {TOKEN_ALICE}"),
            "http://api.github.com/users/octocat",
        ]))
        .await;
        let out = run(&mut curl(&["-X", "POST", "http://localhost/_cache/finish"])).await;
        let stats: serde_json::Value = serde_json::from_str(&out).unwrap();
        let published = &stats["published"][0];
        if expect_ok {
            assert_eq!(published["place"], "IPFS", "{stats}");
            let root = ipfs::parse_cid(published["label"].as_str().unwrap()).unwrap();
            assert!(kubo.is_pinned(&root));
        } else {
            assert!(published["error"].as_str().unwrap().contains("127.0.0.1:9"), "{stats}");
            assert_eq!(stats["total_requests"], 1, "finish still reported the figures");
        }
        child.kill().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_node_snapshots_its_store_and_serves_it_as_a_trustless_gateway() {
    require("curl", "apt-get install curl");
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&sim.base_url, dir.path()).await;
    for path in ["/repos/octo/hello", "/users/octocat"] {
        let mut c = Command::new("curl");
        c.args(["-sS", "--unix-socket"]).arg(&d.socket).args([
            "-H",
            &format!("Authorization: token {TOKEN_ALICE}"),
            &format!("http://api.github.com{path}"),
        ]);
        run(&mut c).await;
    }
    d.stop().await;

    let mut node = Command::new(env!("CARGO_BIN_EXE_gh-p2p-cache"))
        .args(["sync-node", "--gateway-listen", "127.0.0.1:0", "--snapshot-every", "1s"])
        .args(["--relay", "disabled", "--peer-bind", "127.0.0.1:0"])
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .env("GH_P2P_CACHE_SECRET", "fleet secret")
        .env("GH_P2P_CACHE_SCOPE", "octo/hello")
        .env("GH_P2P_CACHE_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let gateway = first
        .split("gateway=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    let ticket = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(ticket.starts_with("ticket="), "{ticket}");
    let snap = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(snap.contains("entries=2"), "{snap}");
    let root = snap
        .split("root=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();

    // Our verifying gateway client, then a fresh cache warmed through the gateway.
    let dest = dir.path().join("fetched.car");
    ipfs::GatewayClient::new(vec![gateway.clone()])
        .unwrap()
        .fetch_car(&ipfs::parse_cid(&root).unwrap(), &dest)
        .await
        .unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let mut warm = Command::new(env!("CARGO_BIN_EXE_gh-p2p-cache"));
    warm.args(["warm", "--ipfs-root", &root, "--gateway", &gateway])
        .arg("--cache-dir")
        .arg(fresh.path().join("cache"))
        .env("GH_P2P_CACHE_SECRET", "fleet secret")
        .env("GH_P2P_CACHE_SCOPE", "octo/hello");
    let out = run(&mut warm).await;
    assert!(out.starts_with("warmed 2 entries"), "{out}");

    let pid = node.id().unwrap().to_string();
    run(Command::new("kill").args(["-TERM", &pid])).await;
    let status = tokio::time::timeout(std::time::Duration::from_secs(20), node.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "sync-node exits cleanly on SIGTERM: {status}");
}
