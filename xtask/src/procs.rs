//! Child processes for the benchmark: building the binaries, spawning servers that die with us,
//! waiting for their readiness, stopping them on every exit path, and reading their CPU time.
//!
//! Processes are spawned from the main thread with `PR_SET_PDEATHSIG`, so even a SIGKILL of the
//! xtask leaves no server behind; on ordinary exits (including errors and panics) `Drop` sends
//! SIGTERM and escalates to SIGKILL after a deadline.

use anyhow::{Context, bail};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a stopped server gets to exit after SIGTERM before it is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(5);
/// How often readiness and exit are polled.
const POLL: Duration = Duration::from_millis(10);

/// The shared cargo target directory (the project's convention), or cargo's default.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("target"),
    }
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Builds the servers in release mode with the same cargo and target directory as this xtask,
/// and returns the paths of `ghsim` and `gh-p2p-cache`.
pub fn build_servers() -> anyhow::Result<(PathBuf, PathBuf)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building ghsim and gh-p2p-cache (release)...");
    let status = Command::new(&cargo)
        .args(["build", "--release", "-p", "ghsim", "-p", "gh-p2p-cache", "--bins"])
        .current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", target_dir())
        .status()
        .context("cannot run cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p ghsim -p gh-p2p-cache --bins failed ({status})");
    }
    let release = target_dir().join("release");
    let bin = |name: &str| {
        let path = release.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(anyhow::anyhow!(
                "{} was not built; does the package still have a binary named {name}?",
                path.display()
            ))
        }
    };
    Ok((bin("ghsim")?, bin("gh-p2p-cache")?))
}

/// A running server. Dropping it stops it.
pub struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
    stdout: Option<mpsc::Receiver<String>>,
}

impl Proc {
    /// Spawns `cmd` with stdin from /dev/null, stderr appended to `log`, and stdout either
    /// captured line by line (`capture_stdout`) or discarded.
    pub fn spawn(name: &'static str, mut cmd: Command, log: &Path, capture_stdout: bool) -> anyhow::Result<Self> {
        let log_file = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stderr(log_file)
            .stdout(if capture_stdout { Stdio::piped() } else { Stdio::null() });
        // SAFETY: the closure only calls prctl, which is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", cmd.get_program()))?;
        let stdout = child.stdout.take().map(|out| {
            let (tx, rx) = mpsc::channel();
            // Reads until the child closes stdout, so a server never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    // After readiness nobody listens any more; keep draining regardless.
                    let _ = tx.send(line);
                }
            });
            rx
        });
        Ok(Proc {
            name,
            child,
            log: log.to_owned(),
            stdout,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the first stdout line, which must start with `prefix`, and returns the rest.
    pub async fn ready_line(&mut self, prefix: &str, timeout: Duration) -> anyhow::Result<String> {
        let rx = self
            .stdout
            .as_ref()
            .with_context(|| format!("{}: stdout was not captured", self.name))?;
        let deadline = Instant::now() + timeout;
        loop {
            match rx.try_recv() {
                Ok(line) => match line.strip_prefix(prefix) {
                    Some(rest) => return Ok(rest.trim().to_owned()),
                    None => bail!("{}: unexpected first line {line:?}, wanted {prefix:?}...", self.name),
                },
                Err(mpsc::TryRecvError::Disconnected) => {
                    bail!("{} exited before it was ready{}", self.name, self.log_tail())
                }
                Err(mpsc::TryRecvError::Empty) => {}
            }
            if Instant::now() > deadline {
                bail!("{} not ready after {timeout:?}{}", self.name, self.log_tail());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until `addr` accepts TCP connections (for servers that print nothing).
    pub async fn ready_tcp(&mut self, addr: std::net::SocketAddr, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            self.ensure_running()?;
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} does not accept connections on {addr} after {timeout:?}{}",
                    self.name,
                    self.log_tail()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Fails if the process has exited (a crash during the benchmark must not go unnoticed).
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => bail!("{} exited ({status}){}", self.name, self.log_tail()),
            Err(e) => Err(e).with_context(|| format!("cannot poll {}", self.name)),
        }
    }

    /// The last lines of the process's stderr log, formatted for an error message.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    fn stop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let Ok(pid) = libc::pid_t::try_from(self.child.id()) else {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return;
        };
        // SAFETY: plain syscall on our own, not yet reaped, child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_DEADLINE;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(POLL);
        }
        eprintln!("{} ignored SIGTERM for {STOP_DEADLINE:?}; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last lines of a log file, prefixed for appending to an error message; empty if none.
pub fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(15)..];
    if tail.is_empty() {
        String::new()
    } else {
        format!("; last lines of {}:\n{}", log.display(), tail.join("\n"))
    }
}

/// A free loopback port, for servers that cannot report the port they bound (nginx). The port
/// is released before use, so another process could take it first; nginx then fails loudly.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// CPU time (user plus system, all threads) of processes at one instant, by pid.
#[derive(Default)]
pub struct CpuSnapshot(HashMap<u32, Duration>);

impl CpuSnapshot {
    /// The processes `roots` and, with `children`, their direct children (nginx's workers,
    /// cache manager and cache loader come and go: they are found anew each time).
    pub fn take(roots: &[u32], children: bool) -> anyhow::Result<Self> {
        let mut pids: Vec<u32> = roots.to_vec();
        let listing = if children {
            Some(std::fs::read_dir("/proc").context("cannot list /proc")?)
        } else {
            None
        };
        for entry in listing.into_iter().flatten() {
            let entry = entry?;
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(stat) = read_stat(pid)
                && stat_fields(&stat)
                    .and_then(|f| f.get(1).and_then(|p| p.parse::<u32>().ok()))
                    .is_some_and(|ppid| roots.contains(&ppid))
            {
                pids.push(pid);
            }
        }
        let ticks = clock_ticks()?;
        let mut times = HashMap::with_capacity(pids.len());
        for pid in pids {
            // A process may exit between listing and reading: it simply no longer counts.
            let Some(stat) = read_stat(pid) else { continue };
            let fields = stat_fields(&stat).with_context(|| format!("cannot parse /proc/{pid}/stat"))?;
            // After the command name: state is field 0, utime field 11, stime field 12.
            let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
            let t = num(11)
                .zip(num(12))
                .map(|(u, s)| u + s)
                .with_context(|| format!("cannot parse /proc/{pid}/stat"))?;
            times.insert(pid, Duration::from_micros(t * 1_000_000 / ticks));
        }
        Ok(CpuSnapshot(times))
    }

    /// CPU used since `earlier` by the processes alive now (a process that exited in between
    /// loses its share; nginx's are idle helpers).
    pub fn since(&self, earlier: &CpuSnapshot) -> Duration {
        self.0
            .iter()
            .map(|(pid, t)| t.saturating_sub(earlier.0.get(pid).copied().unwrap_or_default()))
            .sum()
    }
}

/// CPU time the whole machine spent busy (all cores, all processes) since boot, from /proc/stat.
pub fn machine_busy() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").context("cannot read /proc/stat")?;
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .context("no cpu line in /proc/stat")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse::<u64>())
        .collect::<Result<_, _>>()
        .context("cannot parse /proc/stat")?;
    // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
    let busy: u64 = fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    Ok(Duration::from_micros(busy * 1_000_000 / clock_ticks()?))
}

fn read_stat(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()
}

fn clock_ticks() -> anyhow::Result<u64> {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks)
        .ok()
        .filter(|t| *t > 0)
        .context("sysconf(_SC_CLK_TCK) failed")
}

/// The fields of /proc/PID/stat after the parenthesized command name (which may hold spaces).
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_skip_a_command_name_with_spaces() {
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194304 100 0 0 0 7 3 0 0 20 0 1 0";
        let f = stat_fields(stat).unwrap();
        assert_eq!(f[0], "S");
        assert_eq!(f[1], "1");
        assert_eq!(f[11], "7");
        assert_eq!(f[12], "3");
    }

    #[test]
    fn own_cpu_time_is_counted() {
        let me = std::process::id();
        let before = CpuSnapshot::take(&[me], false).unwrap();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        // Burn CPU until the clock-tick counters move (bounded: on a busy machine this thread
        // may get little CPU per wall-clock second).
        while start.elapsed() < Duration::from_secs(5) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            if CpuSnapshot::take(&[me], false).unwrap().since(&before) > Duration::ZERO {
                return;
            }
        }
        panic!("no CPU time counted after 5 s of spinning");
    }
}
