//! The Action on a fake runner: temporary `GITHUB_*` files, `INPUT_*` variables, stdout as a
//! pipe, the real Node shims and the real binary, the simulator as GitHub and a fake Actions
//! cache service. `main` must return while the daemon serves; a later step's `gh` goes through
//! the socket; `post` stops the daemon, writes the summary and outputs and saves the snapshot;
//! a second run restores it and spends far fewer rate-limit units.

use action::actions_cache::fake::FakeCacheService as FakeCache;
use action::runner::parse_file_commands;
use ghsim::{Sim, SimConfig, TOKEN_ALICE, TOKEN_CAROL};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const REPO_ROOT: &str = env!("CARGO_MANIFEST_DIR");
const RUNTIME_TOKEN: &str = "fake-runtime-token";

struct Job {
    dir: PathBuf,
    env: HashMap<String, String>,
}

impl Job {
    fn new(root: &Path, name: &str, token: &str, api: &str, cache: &FakeCache) -> Job {
        let dir = root.join(name);
        std::fs::create_dir_all(dir.join("temp")).unwrap();
        std::fs::create_dir_all(dir.join("home")).unwrap();
        let mut env = HashMap::new();
        for f in [
            "GITHUB_OUTPUT",
            "GITHUB_STATE",
            "GITHUB_ENV",
            "GITHUB_STEP_SUMMARY",
            "GITHUB_PATH",
        ] {
            let p = dir.join(f);
            std::fs::write(&p, "").unwrap();
            env.insert(f.to_owned(), p.display().to_string());
        }
        for (k, v) in [
            ("RUNNER_TEMP", dir.join("temp").display().to_string()),
            ("HOME", dir.join("home").display().to_string()),
            ("RUNNER_TRACKING_ID", format!("github_{name}")),
            ("GITHUB_API_URL", api.to_owned()),
            ("GITHUB_REPOSITORY", "octo/hello".to_owned()),
            ("GITHUB_RUN_ID", "1".to_owned()),
            ("GITHUB_JOB", name.to_owned()),
            ("ACTIONS_RESULTS_URL", cache.results_url()),
            ("ACTIONS_RUNTIME_TOKEN", RUNTIME_TOKEN.to_owned()),
            ("INPUT_GITHUB-TOKEN", token.to_owned()),
            ("INPUT_BINARY-PATH", env!("CARGO_BIN_EXE_gh-p2p-cache").to_owned()),
            ("INPUT_LOG-LEVEL", "info".to_owned()),
            ("INPUT_ACTIONS-CACHE", "true".to_owned()),
        ] {
            env.insert(k.to_owned(), v);
        }
        Job { dir, env }
    }

    /// Runs a shim like the runner does (stdout a pipe), with a deadline.
    fn step(&self, script: &str, extra: &HashMap<String, String>) -> String {
        let mut cmd = Command::new("node");
        cmd.arg(Path::new(REPO_ROOT).join("dist").join(script))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .envs(&self.env)
            .envs(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd.spawn().expect("node runs the shim");
        let out = wait_with_deadline(child, Duration::from_secs(90));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{script} failed: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!stdout.contains("::warning::"), "{script} warned:\n{stdout}");
        stdout
    }

    fn file(&self, name: &str) -> Vec<(String, String)> {
        parse_file_commands(&std::fs::read_to_string(self.dir.join(name)).unwrap())
    }

    fn later_step_env(&self) -> HashMap<String, String> {
        self.file("GITHUB_ENV").into_iter().collect()
    }

    fn state_env(&self) -> HashMap<String, String> {
        self.file("GITHUB_STATE")
            .into_iter()
            .map(|(k, v)| (format!("STATE_{k}"), v))
            .collect()
    }
}

fn wait_with_deadline(mut child: std::process::Child, deadline: Duration) -> std::process::Output {
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            panic!("step did not return within {deadline:?}: a child kept its output open?");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn gh(later: &HashMap<String, String>, token: &str, args: &[&str]) -> String {
    let out = Command::new("gh")
        .args(args)
        .env("GH_CONFIG_DIR", &later["GH_CONFIG_DIR"])
        .env("GH_TOKEN", token)
        .env("GH_NO_UPDATE_NOTIFIER", "1")
        .env("GH_PROMPT_DISABLED", "1")
        .env_remove("GH_HOST")
        .output()
        .expect("gh is installed (./scripts/test does apt-get install gh)");
    assert!(
        out.status.success(),
        "gh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pid_alive(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty()
        && !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_and_post_on_a_fake_runner_then_a_second_run_restores_the_snapshot() {
    assert!(Path::new(REPO_ROOT).join("dist/main.js").exists());
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let cache = FakeCache::start(RUNTIME_TOKEN).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let api = sim.base_url.clone();

    // Run 1.
    let job = Job::new(root.path(), "first", TOKEN_ALICE, &api, &cache);
    let j = std::sync::Arc::new(job);
    let j1 = j.clone();
    tokio::task::spawn_blocking(move || j1.step("main.js", &HashMap::new()))
        .await
        .unwrap();
    let later = j.later_step_env();
    let socket = PathBuf::from(&later["GH_P2P_CACHE_SOCKET"]);
    assert!(
        std::os::unix::net::UnixStream::connect(&socket).is_ok(),
        "main returned and the daemon serves"
    );
    let outputs: HashMap<_, _> = j.file("GITHUB_OUTPUT").into_iter().collect();
    assert_eq!(outputs["socket"], socket.display().to_string());
    // Later steps find the binary on PATH (for `gh-p2p-cache report-error`).
    let path_dirs = std::fs::read_to_string(j.dir.join("GITHUB_PATH")).unwrap();
    let on_path = path_dirs.lines().next().expect("a directory was put on PATH");
    assert!(
        std::path::Path::new(on_path).join("gh-p2p-cache").exists(),
        "{on_path} holds the binary"
    );
    assert!(outputs["url"].starts_with("http://127.0.0.1:"));

    let first = gh(&later, TOKEN_ALICE, &["api", "repos/octo/hello"]);
    assert!(first.contains("octo/hello"));
    gh(&later, TOKEN_ALICE, &["api", "repos/octo/hello"]);
    gh(&later, TOKEN_ALICE, &["issue", "list", "-R", "octo/hello"]);
    gh(&later, TOKEN_ALICE, &["api", "repos/octo/hello/issues?per_page=20"]);
    let run1_units = sim.stats().units_total();
    assert!(run1_units >= 3, "{:?}", sim.stats());

    let state = j.state_env();
    let pid: i32 = state["STATE_pid"].parse().unwrap();
    let j2 = j.clone();
    let post_out = tokio::task::spawn_blocking(move || j2.step("post.js", &state))
        .await
        .unwrap();
    assert!(!pid_alive(pid), "post stopped the daemon");
    assert!(post_out.contains("::group::gh-p2p-cache daemon log"));
    let summary = std::fs::read_to_string(j.dir.join("GITHUB_STEP_SUMMARY")).unwrap();
    assert!(
        summary.contains("| `HIT` | 1 |") && summary.contains("pie title"),
        "{summary}"
    );
    assert!(summary.len() < 1024 * 1024);
    let outputs: HashMap<_, _> = j.file("GITHUB_OUTPUT").into_iter().collect();
    assert_eq!(outputs["requests"], "4", "{outputs:?}");
    assert!(outputs["rate-limit-saved"].parse::<u64>().unwrap() >= 1);
    assert!(outputs.contains_key("hit-rate"));
    assert_eq!(cache.entries().len(), 1, "the snapshot was saved");

    // Run 2: a fresh runner and a fresh token restore the snapshot.
    let job = std::sync::Arc::new(Job::new(root.path(), "second", TOKEN_CAROL, &api, &cache));
    let j3 = job.clone();
    tokio::task::spawn_blocking(move || j3.step("main.js", &HashMap::new()))
        .await
        .unwrap();
    let state = job.state_env();
    let restored: serde_json::Value = serde_json::from_str(&state["STATE_restored"]).unwrap();
    assert!(restored[0]["entries"].as_u64().unwrap() >= 3, "{state:?}");
    let later = job.later_step_env();
    let before = sim.stats().units_total();
    gh(&later, TOKEN_CAROL, &["api", "repos/octo/hello/issues?per_page=20"]);
    gh(&later, TOKEN_CAROL, &["issue", "list", "-R", "octo/hello"]);
    let run2_units = sim.stats().units_total() - before;
    assert!(
        run2_units * 3 <= run1_units,
        "run 2 spent {run2_units} units, run 1 {run1_units}"
    );
    let j4 = job.clone();
    tokio::task::spawn_blocking(move || j4.step("post.js", &state))
        .await
        .unwrap();
    let summary = std::fs::read_to_string(job.dir.join("GITHUB_STEP_SUMMARY")).unwrap();
    assert!(summary.contains("restored from the Actions cache"), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_action_publishes_to_ipfs_and_a_later_job_warms_from_the_root() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let cache = FakeCache::start(RUNTIME_TOKEN).await.unwrap();
    let kubo = ipfs::doubles::FakeKubo::start().await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let api = sim.base_url.clone();

    let mut job = Job::new(root.path(), "publisher", TOKEN_ALICE, &api, &cache);
    job.env.insert("INPUT_ACTIONS-CACHE".into(), "false".into());
    job.env.insert("INPUT_IPFS-API".into(), kubo.api_url());
    job.env.insert("INPUT_SECRET".into(), "fleet secret".into());
    let job = std::sync::Arc::new(job);
    let j = job.clone();
    tokio::task::spawn_blocking(move || j.step("main.js", &HashMap::new()))
        .await
        .unwrap();
    let later = job.later_step_env();
    gh(&later, TOKEN_ALICE, &["api", "repos/octo/hello/issues?per_page=10"]);
    let state = job.state_env();
    let j = job.clone();
    tokio::task::spawn_blocking(move || j.step("post.js", &state))
        .await
        .unwrap();
    let outputs: HashMap<_, _> = job.file("GITHUB_OUTPUT").into_iter().collect();
    let cid = outputs["ipfs-root"].clone();
    assert!(cid.starts_with("bafy"), "{outputs:?}");
    assert!(kubo.is_pinned(&ipfs::parse_cid(&cid).unwrap()));
    let summary = std::fs::read_to_string(job.dir.join("GITHUB_STEP_SUMMARY")).unwrap();
    assert!(summary.contains(&format!("to IPFS (`{cid}`)")), "{summary}");
    assert_eq!(cache.entries().len(), 0, "actions-cache: false saved nothing there");

    let mut next = Job::new(root.path(), "reader", TOKEN_CAROL, &api, &cache);
    next.env.insert("INPUT_ACTIONS-CACHE".into(), "false".into());
    next.env.insert("INPUT_IPFS-API".into(), kubo.api_url());
    next.env.insert("INPUT_IPFS-ROOT".into(), cid.clone());
    next.env.insert("INPUT_SECRET".into(), "fleet secret".into());
    let next = std::sync::Arc::new(next);
    let j = next.clone();
    tokio::task::spawn_blocking(move || j.step("main.js", &HashMap::new()))
        .await
        .unwrap();
    let restored: serde_json::Value = serde_json::from_str(&next.state_env()["STATE_restored"]).unwrap();
    assert_eq!(restored[0]["place"], "IPFS");
    assert!(restored[0]["entries"].as_u64().unwrap() >= 1, "{restored}");
    let before = sim.stats().units_total();
    gh(
        &next.later_step_env(),
        TOKEN_CAROL,
        &["api", "repos/octo/hello/issues?per_page=10"],
    );
    assert_eq!(
        sim.stats().units_total(),
        before,
        "the IPFS-warmed entry revalidated for free"
    );
    let state = next.state_env();
    let j = next.clone();
    tokio::task::spawn_blocking(move || j.step("post.js", &state))
        .await
        .unwrap();
}
