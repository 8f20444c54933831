//! Starting the daemon so it outlives the `main` step, and stopping it in `post`.
//!
//! FACTS.md: a step stays open while a child holds its stdout/stderr, and a process writing to
//! a closed pipe gets EPIPE. So the daemon gets its own session, stdin from /dev/null and
//! stdout/stderr to a log file. `RUNNER_TRACKING_ID` stays in its environment so the runner can
//! still clean it up at job end.

use crate::settings::Settings;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot start the daemon: {0}")]
    Spawn(std::io::Error),
    #[error("the daemon exited during start-up ({status}); its log ends with:\n{log}")]
    Exited { status: String, log: String },
    #[error("the daemon was not ready within {0:?}; its log ends with:\n{1}")]
    NotReady(Duration, String),
}

pub struct Started {
    pub pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

/// Starts `exe serve ...` detached and waits until its socket accepts connections.
pub fn start(exe: &Path, s: &Settings, deadline: Duration) -> Result<Started, DaemonError> {
    std::fs::create_dir_all(&s.work_dir).map_err(DaemonError::Spawn)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&s.log_file)
        .map_err(DaemonError::Spawn)?;
    let log_err = log.try_clone().map_err(DaemonError::Spawn)?;
    let mut cmd = Command::new(exe);
    cmd.arg("serve")
        .arg("--socket")
        .arg(&s.socket)
        .arg("--cache-dir")
        .arg(&s.cache_dir)
        .args(["--upstream", &s.upstream, "--listen", "127.0.0.1:0"])
        .args(&s.serve_flags)
        .env("GH_P2P_CACHE_LOG", &s.log_level)
        .env("GH_P2P_CACHE_SCOPE", &s.repository)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // SAFETY: setsid is async-signal-safe; it detaches the daemon from the step's session.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    match &s.secret {
        Some(secret) => cmd.env("GH_P2P_CACHE_SECRET", secret),
        None => cmd.env_remove("GH_P2P_CACHE_SECRET"),
    };
    let mut child = cmd.spawn().map_err(DaemonError::Spawn)?;
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(DaemonError::Exited {
                status: status.to_string(),
                log: log_tail(&s.log_file),
            });
        }
        if let Some(url) = ready_url(&s.log_file)
            && std::os::unix::net::UnixStream::connect(&s.socket).is_ok()
        {
            return Ok(Started { pid: child.id(), url });
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            return Err(DaemonError::NotReady(deadline, log_tail(&s.log_file)));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `tcp=` address from the daemon's ready line.
fn ready_url(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().rev().find(|l| l.starts_with("gh-p2p-cache serving "))?;
    let addr = line.split("tcp=").nth(1)?.trim();
    (addr != "-").then(|| format!("http://{addr}"))
}

pub fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// SIGTERM, then wait for the process to go (it flushes the store); SIGKILL after `grace`.
/// Returns true if it stopped on SIGTERM.
pub fn stop(pid: u32, grace: Duration) -> bool {
    let pid = pid as libc::pid_t;
    // SAFETY: plain kill(2) calls on a pid we started.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        return true; // already gone
    }
    let started = Instant::now();
    while started.elapsed() < grace {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(pid, libc::SIGKILL) };
    false
}

/// Alive and not a zombie (the daemon was orphaned when `main` exited; whoever reaps it may be
/// slow, and a zombie has finished everything it will do).
pub fn alive(pid: libc::pid_t) -> bool {
    if unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_none_or(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}
