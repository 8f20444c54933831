//! Shared by the end-to-end tests: the `gh-p2p-cache` binary as a daemon.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct Daemon {
    pub child: Child,
    pub socket: PathBuf,
    pub tcp: String,
}

impl Daemon {
    pub async fn start(upstream: &str, dir: &Path) -> Daemon {
        Self::start_with(upstream, dir, &[], &[]).await
    }

    /// With extra `serve` flags and environment.
    pub async fn start_with(upstream: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let socket = dir.join("api.sock");
        let mut child = Command::new(env!("CARGO_BIN_EXE_gh-p2p-cache"))
            .args(["serve", "--listen", "127.0.0.1:0", "--upstream", upstream])
            .args(args)
            .envs(env.iter().copied())
            .arg("--socket")
            .arg(&socket)
            .arg("--cache-dir")
            .arg(dir.join("cache"))
            .env("GH_P2P_CACHE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn gh-p2p-cache");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("daemon ready within 30 s")
            .unwrap()
            .expect("daemon printed its ready line");
        let tcp = ready
            .split("tcp=")
            .nth(1)
            .expect("tcp= in ready line")
            .trim()
            .to_owned();
        assert!(
            tokio::net::UnixStream::connect(&socket).await.is_ok(),
            "socket accepts after ready line"
        );
        Daemon { child, socket, tcp }
    }

    /// SIGTERM and wait: the daemon must exit cleanly and remove its socket.
    pub async fn stop(mut self) {
        let pid = self.child.id().unwrap().to_string();
        let ok = Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
        assert!(ok.success());
        let status = tokio::time::timeout(std::time::Duration::from_secs(20), self.child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "daemon exit status {status}");
        assert!(!self.socket.exists(), "socket file removed at shutdown");
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.tcp)
    }
}
