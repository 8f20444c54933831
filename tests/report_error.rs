//! `gh-p2p-cache report-error` as a CI step runs it: through a daemon in front of the simulator,
//! and straight to "GitHub" when no daemon runs; bad input and failures map to exit codes.

mod support;

use ghsim::{Sim, SimConfig, TOKEN_ALICE};
use std::process::{Output, Stdio};
use support::Daemon;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

const CREATE: &str = "POST /repos/{owner}/{repo}/issues";

fn report(token: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gh-p2p-cache"));
    c.arg("report-error")
        .args(args)
        .env("GITHUB_TOKEN", token)
        .env_remove("GH_TOKEN")
        .env_remove("GH_P2P_CACHE_SOCKET")
        .env_remove("GH_P2P_CACHE_URL")
        .env("GH_P2P_CACHE_LOG", "warn")
        .stdin(Stdio::null());
    c
}

async fn with_log(mut cmd: Command, log: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(log.as_bytes()).await.unwrap();
    drop(stdin);
    child.wait_with_output().await.unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout {}\nstderr {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_reports_of_one_error_through_the_daemon_file_one_issue() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&sim.base_url, dir.path()).await;
    let socket = d.socket.display().to_string();
    let args = [
        "--repo",
        "octo/hello",
        "--title",
        "nightly build failed",
        "--log",
        "-",
        "--labels",
        "ci-failure",
        "--socket",
        &socket,
    ];
    let mut urls = Vec::new();
    for (i, at) in ["2026-11-25T10:00:01Z", "2026-11-25T11:59:59Z", "2026-11-26T03:00:00Z"]
        .iter()
        .enumerate()
    {
        let log = format!("{at} error: linker failed at 0x7ffd{i:04x} in /tmp/build-{i}/out.o\n");
        let out = with_log(report(TOKEN_ALICE, &args), &log).await;
        assert!(out.status.success(), "{}", text(&out));
        urls.push(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    assert!(urls[0].contains("/octo/hello/issues/"), "{urls:?}");
    assert!(urls.iter().all(|u| *u == urls[0]), "one issue for one error: {urls:?}");
    assert_eq!(sim.stats().count(CREATE), 1);

    // Another error is another issue.
    let out = with_log(report(TOKEN_ALICE, &args), "error: disk full\n").await;
    assert!(out.status.success(), "{}", text(&out));
    assert_ne!(String::from_utf8_lossy(&out.stdout).trim(), urls[0]);
    assert_eq!(sim.stats().count(CREATE), 2);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_daemon_it_reports_straight_to_github_and_exit_codes_say_what_failed() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("build.log");
    std::fs::write(&log, "error: flaky test timed out after 30.2s\n").unwrap();
    let log = log.display().to_string();
    let base = ["--title", "tests timed out", "--log", &log, "--url", &sim.base_url];

    let ok = report(TOKEN_ALICE, &[&["--repo", "octo/hello"][..], &base].concat())
        .output()
        .await
        .unwrap();
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("/octo/hello/issues/"),
        "{}",
        text(&ok)
    );

    let cases: &[(&[&str], &str, i32)] = &[
        (&["--repo", "not a repo", "--title", "t", "--log", &log], TOKEN_ALICE, 1),
        (
            &["--repo", "octo/hello", "--title", "t", "--log", "/nonexistent/log"],
            TOKEN_ALICE,
            1,
        ),
        (
            &["--repo", "octo/hello", "--title", "t", "--log", &log],
            "ghp_not_a_valid_token",
            2,
        ),
        // A usage error is exit 1 here too (clap's own is 2, which means "GitHub refused").
        (&["--repo", "octo/hello"], TOKEN_ALICE, 1),
        (
            &["--repo", "octo/hello", "--title", "t", "--colour", "red"],
            TOKEN_ALICE,
            1,
        ),
    ];
    for (args, token, code) in cases {
        let mut args: Vec<&str> = args.to_vec();
        args.extend_from_slice(&["--url", &sim.base_url]);
        let out = report(token, &args).output().await.unwrap();
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("error:"),
            "{}",
            text(&out)
        );
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("panicked"),
            "{}",
            text(&out)
        );
    }
    let empty_title = report(
        TOKEN_ALICE,
        &["--repo", "octo/hello", "--title", " ", "--url", &sim.base_url],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(empty_title.status.code(), Some(1), "{}", text(&empty_title));
    let unreachable = report(
        TOKEN_ALICE,
        &["--repo", "octo/hello", "--title", "t", "--url", "http://127.0.0.1:9"],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(unreachable.status.code(), Some(3), "{}", text(&unreachable));
    let no_daemon = report(
        TOKEN_ALICE,
        &[
            "--repo",
            "octo/hello",
            "--title",
            "t",
            "--socket",
            "/nonexistent/api.sock",
        ],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(no_daemon.status.code(), Some(3), "{}", text(&no_daemon));
    let no_token = report("", &["--repo", "octo/hello", "--title", "t", "--url", &sim.base_url])
        .output()
        .await
        .unwrap();
    assert_eq!(no_token.status.code(), Some(1), "{}", text(&no_token));
}
