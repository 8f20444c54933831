//! The real `gh` (Debian's 2.23) against the simulator, through a Unix-socket bridge as gh's
//! `http_unix_socket` setting requires.

use std::path::Path;
use std::process::Output;

use ghsim::{Sim, SimConfig, TOKEN_ALICE};
use tokio::net::{TcpStream, UnixListener};
use tokio::process::Command;

async fn gh(config_dir: &Path, args: &[&str]) -> Output {
    let out = Command::new("gh")
        .args(args)
        .env("GH_CONFIG_DIR", config_dir)
        .env("GH_TOKEN", TOKEN_ALICE)
        // gh caches some answers under TMPDIR; keep runs independent.
        .env("TMPDIR", config_dir)
        .env("GH_NO_UPDATE_NOTIFIER", "1")
        .env("GH_PROMPT_DISABLED", "1")
        .env("NO_COLOR", "1")
        .env_remove("GH_HOST")
        .env_remove("GH_ENTERPRISE_TOKEN")
        .env_remove("GITHUB_TOKEN")
        .output()
        .await
        .expect("gh not found: install it with `apt-get install -y gh` (Debian's gh 2.23)");
    assert!(
        out.status.success(),
        "gh {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test]
async fn gh_lists_creates_and_reads_issues() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("gh.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let addr = sim.addr;
    let bridge = tokio::spawn(async move {
        while let Ok((mut unix, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut tcp) = TcpStream::connect(addr).await {
                    let _ = tokio::io::copy_bidirectional(&mut unix, &mut tcp).await;
                }
            });
        }
    });
    gh(
        dir.path(),
        &["config", "set", "http_unix_socket", sock.to_str().unwrap()],
    )
    .await;

    let out = gh(dir.path(), &["issue", "list", "-R", "octo/hello"]).await;
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 30);
    assert!(
        lines[0].starts_with("119\tOPEN\tWrong exit code on network error\tdocumentation\t"),
        "{}",
        lines[0]
    );

    let out = gh(
        dir.path(),
        &[
            "issue",
            "create",
            "-R",
            "octo/hello",
            "--title",
            "From gh",
            "--body",
            "Body",
        ],
    )
    .await;
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "http://api.github.com/octo/hello/issues/121"
    );

    let out = gh(
        dir.path(),
        &[
            "api",
            "repos/octo/hello/issues/121",
            "--jq",
            ".title + \" by \" + .user.login",
        ],
    )
    .await;
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "From gh by alice");

    let s = sim.stats();
    assert_eq!(s.count("POST /graphql"), 3, "issue list is one query, issue create two");
    assert_eq!(s.count("GET /repos/{owner}/{repo}/issues/{number}"), 1);
    assert_eq!(s.units_by_login["alice"], 4);
    bridge.abort();
    sim.shutdown().await;
}
