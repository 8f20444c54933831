//! `cargo xtask bench`: the hit benchmark's sequence. Build the servers, start the simulator,
//! nginx in front of it and our daemon in front of it, warm one hit and prove every cache answers
//! it as a hit, measure latency and throughput of the four targets in one run, and write the
//! figures and ratios to `BENCHMARKS.md`.

use crate::BenchArgs;
use crate::load::{self, Endpoint, Expect, RequestShape, Target};
use crate::nginx;
use crate::procs::{self, CpuSnapshot, Proc};
use crate::report::{self, Measured, Report, Setup};
use anyhow::{Context, bail};
use hyper::header::HeaderValue;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tempfile::TempDir;

/// Upper bound of `--seconds`: the whole run must fit in the issue-list TTL (5 minutes, for
/// ours and nginx alike) or late responses stop being hits (which the checks would catch).
pub const MAX_SECONDS: u64 = 30;
/// Sequential requests per target before the latency figures start counting.
const WARMUP: u64 = 500;
/// Targets are interleaved in this many rounds (see `load`).
const ROUNDS: u32 = 5;
/// How long a server gets to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The hit: an issue list, the most common CI read (TTL 5 minutes).
const PATH: &str = "/repos/octo/hello/issues?per_page=30";
const ACCEPT: &str = "application/vnd.github+json";
/// Far above what warming plus the direct-call measurements send in an hour.
const SIM_CORE_LIMIT: &str = "1000000000";

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let (sim_bin, daemon_bin) = procs::build_servers()?;
    // One thread for the load generator: the servers keep the rest of the machine.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the load generator's runtime")?;
    let report = runtime.block_on(async {
        tokio::select! {
            r = measure(args, &sim_bin, &daemon_bin) => r,
            _ = tokio::signal::ctrl_c() => bail!("interrupted; the servers were stopped"),
        }
    })?;
    let section = report.section();
    println!("\n{section}");
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| procs::workspace_root().join("BENCHMARKS.md"));
    report::write(&out, &section)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// The three servers and where they listen. Fields drop in declaration order: the servers
/// stop before their temporary directory is removed.
struct Servers {
    ours: Proc,
    nginx: Proc,
    sim: Proc,
    sim_addr: SocketAddr,
    nginx_addr: SocketAddr,
    ours_addr: SocketAddr,
    socket: PathBuf,
    _tmp: TempDir,
}

impl Servers {
    async fn start(sim_bin: &Path, daemon_bin: &Path) -> anyhow::Result<Servers> {
        let tmp = tempfile::Builder::new()
            .prefix("ghp2p-bench-")
            .tempdir()
            .context("cannot create a temporary directory")?;
        eprintln!("starting ghsim, nginx and gh-p2p-cache in {}", tmp.path().display());

        let mut cmd = Command::new(sim_bin);
        cmd.args(["--listen", "127.0.0.1:0", "--core-limit", SIM_CORE_LIMIT]);
        let mut sim = Proc::spawn("ghsim", cmd, &tmp.path().join("ghsim.log"), true)?;
        let sim_url = sim.ready_line("ghsim listening on ", READY_TIMEOUT).await?;
        let sim_addr = parse_base_url(&sim_url)?;

        let nginx_dir = tmp.path().join("nginx");
        std::fs::create_dir(&nginx_dir).context("cannot create the nginx directory")?;
        let nginx_addr = SocketAddr::from(([127, 0, 0, 1], procs::free_port()?));
        let nginx = nginx::start(&nginx_dir, nginx_addr, sim_addr).await?;

        let socket = tmp.path().join("s.sock");
        let mut cmd = Command::new(daemon_bin);
        cmd.arg("serve")
            .arg("--socket")
            .arg(&socket)
            .args(["--listen", "127.0.0.1:0", "--upstream", &sim_url, "--memory-only"])
            .env("GH_P2P_CACHE_LOG", "warn");
        let mut ours = Proc::spawn("gh-p2p-cache", cmd, &tmp.path().join("daemon.log"), true)?;
        let serving = ours.ready_line("gh-p2p-cache serving ", READY_TIMEOUT).await?;
        let ours_addr = parse_serving_line(&serving)?;
        Ok(Servers {
            ours,
            nginx,
            sim,
            sim_addr,
            nginx_addr,
            ours_addr,
            socket,
            _tmp: tmp,
        })
    }

    /// The four measured targets; the first is the only one that is not a cache.
    fn targets(&self) -> anyhow::Result<Vec<Target>> {
        let host = |addr: SocketAddr| HeaderValue::from_str(&addr.to_string());
        Ok(vec![
            Target {
                name: "simulator direct (TCP)",
                endpoint: Endpoint::Tcp(self.sim_addr),
                host: host(self.sim_addr)?,
                hit_header: None,
                server_pids: vec![self.sim.pid()],
            },
            Target {
                name: "nginx proxy_cache (TCP)",
                endpoint: Endpoint::Tcp(self.nginx_addr),
                host: host(self.nginx_addr)?,
                hit_header: Some("x-cache-status"),
                server_pids: vec![self.nginx.pid()],
            },
            Target {
                name: "ours (Unix socket)",
                endpoint: Endpoint::Unix(self.socket.clone()),
                // What gh sends over the socket.
                host: HeaderValue::from_static("api.github.com"),
                hit_header: Some("x-cache"),
                server_pids: vec![self.ours.pid()],
            },
            Target {
                name: "ours (TCP)",
                endpoint: Endpoint::Tcp(self.ours_addr),
                host: host(self.ours_addr)?,
                hit_header: Some("x-cache"),
                server_pids: vec![self.ours.pid()],
            },
        ])
    }

    /// Our daemon's count of upstream requests.
    async fn ours_upstream_requests(&self) -> anyhow::Result<u64> {
        let ep = Endpoint::Unix(self.socket.clone());
        counter("ours", ep, "/_cache/stats", "upstream_requests").await
    }

    /// API requests the simulator has received.
    async fn sim_requests(&self) -> anyhow::Result<u64> {
        counter("ghsim", Endpoint::Tcp(self.sim_addr), "/_sim/stats", "total_requests").await
    }

    fn ensure_running(&mut self) -> anyhow::Result<()> {
        self.sim.ensure_running()?;
        self.nginx.ensure_running()?;
        self.ours.ensure_running()
    }
}

/// Runs the servers for the duration of the measurements; they and their temporary directory
/// are gone when this returns, whether it succeeds, fails or is cancelled.
async fn measure(args: &BenchArgs, sim_bin: &Path, daemon_bin: &Path) -> anyhow::Result<Report> {
    let mut servers = Servers::start(sim_bin, daemon_bin).await?;
    let shape = RequestShape {
        path_and_query: PATH.into(),
        authorization: Some(HeaderValue::from_str(&format!("token {}", ghsim::TOKEN_ALICE))?),
        accept: HeaderValue::from_static(ACCEPT),
    };
    let targets = servers.targets()?;
    let targets = warm_and_check(targets, &shape).await?;
    // Proof, besides the per-response headers, that the caches never went upstream while
    // measured: our daemon's own count, and the simulator seeing only the direct calls.
    let ours_upstream_before = servers.ours_upstream_requests().await?;
    let sim_requests_before = servers.sim_requests().await?;
    // What other processes take from the shared machine is measured, not guessed: machine-wide
    // busy time minus ours (this process, its children, nginx's workers).
    let bench_roots = [std::process::id(), servers.nginx.pid()];
    let (busy_before, ours_before) = (procs::machine_busy()?, CpuSnapshot::take(&bench_roots, true)?);
    let measuring = Instant::now();

    eprintln!(
        "latency: {} sequential requests per target after {WARMUP} warm-up...",
        args.requests
    );
    let latency = load::latency(&targets, &shape, WARMUP, args.requests, ROUNDS).await?;
    eprintln!(
        "throughput: {} connections for {} s per target...",
        args.connections, args.seconds
    );
    let throughput = load::throughput(
        &targets,
        &shape,
        args.connections,
        Duration::from_secs(args.seconds),
        ROUNDS,
    )
    .await?;

    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let others = procs::machine_busy()?
        .saturating_sub(busy_before)
        .saturating_sub(CpuSnapshot::take(&bench_roots, true)?.since(&ours_before));
    let others_share = others.as_secs_f64() / (measuring.elapsed().as_secs_f64() * cpus as f64);
    if others_share > 0.1 {
        eprintln!(
            "warning: other processes used {:.0}% of the machine's CPU during the measurements; \
             figures are noisier than on a quiet machine",
            others_share * 100.0
        );
    }
    servers.ensure_running()?;
    let ours_upstream = servers.ours_upstream_requests().await? - ours_upstream_before;
    if ours_upstream != 0 {
        bail!("our daemon sent {ours_upstream} upstream requests during the measurements; they were not all hits");
    }
    let direct_calls: u64 = targets
        .iter()
        .zip(&throughput)
        .filter(|((t, _), _)| t.hit_header.is_none())
        .map(|(_, th)| WARMUP + args.requests + th.responses)
        .sum();
    let sim_requests = servers.sim_requests().await? - sim_requests_before;
    if sim_requests != direct_calls {
        bail!(
            "the simulator received {sim_requests} requests during the measurements but only {direct_calls} \
             were direct calls: a cache went upstream"
        );
    }

    let mut measured = targets
        .into_iter()
        .zip(latency)
        .zip(throughput)
        .map(|(((t, expect), latency), throughput)| Measured {
            name: t.name,
            latency,
            throughput,
            body_len: expect.body_len,
        });
    let mut next = || measured.next().context("a target's figures are missing");
    let (direct, nginx_m, ours_unix, ours_tcp) = (next()?, next()?, next()?, next()?);

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    Ok(Report {
        date_utc: report::utc_timestamp(now),
        machine: report::machine(),
        command: command_line(),
        setup: Setup {
            path: PATH,
            accept: ACCEPT,
            requests: args.requests,
            warmup: WARMUP,
            rounds: ROUNDS,
            connections: args.connections,
            seconds: args.seconds,
            cpus,
            others_share,
            nginx_version: nginx::version(),
        },
        direct,
        nginx: nginx_m,
        ours_unix,
        ours_tcp,
    })
}

/// Sends the first request through each cache (a miss that stores the answer), then proves the
/// next request to every cache target is a hit; returns each target with what its responses
/// must look like.
async fn warm_and_check(targets: Vec<Target>, shape: &RequestShape) -> anyhow::Result<Vec<(Target, Expect)>> {
    for t in targets.iter().filter(|t| t.hit_header.is_some()) {
        let a = load::probe(t, shape).await?;
        if a.status != hyper::StatusCode::OK {
            bail!(
                "{}: warming {PATH} answered {} (is the simulator serving it?)",
                t.name,
                a.status
            );
        }
    }
    let mut out = Vec::with_capacity(targets.len());
    for t in targets {
        let a = load::probe(&t, shape).await?;
        if a.status != hyper::StatusCode::OK {
            bail!("{}: {PATH} answered {}", t.name, a.status);
        }
        if let Some(h) = t.hit_header
            && a.cache.as_deref() != Some("HIT")
        {
            bail!(
                "{}: the request after warming answered {h}: {:?}, not HIT; refusing to measure misses",
                t.name,
                a.cache
            );
        }
        let expect = Expect {
            hit_header: t.hit_header,
            body_len: a.body_len,
        };
        out.push((t, expect));
    }
    Ok(out)
}

/// A numeric field of a JSON control endpoint (`/_cache/stats`, `/_sim/stats`).
async fn counter(name: &'static str, endpoint: Endpoint, path: &str, field: &str) -> anyhow::Result<u64> {
    let target = Target {
        name,
        endpoint,
        host: HeaderValue::from_static("localhost"),
        hit_header: None,
        server_pids: Vec::new(),
    };
    let shape = RequestShape {
        path_and_query: path.into(),
        authorization: None,
        accept: HeaderValue::from_static("application/json"),
    };
    let body = load::fetch_body(&target, &shape).await?;
    let json: serde_json::Value =
        serde_json::from_slice(&body).with_context(|| format!("{name} {path} is not JSON"))?;
    json.get(field)
        .and_then(|v| v.as_u64())
        .with_context(|| format!("{name} {path} has no numeric {field}"))
}

/// `http://127.0.0.1:PORT` (the simulator's announced base URL, no path prefix) to an address.
fn parse_base_url(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("simulator URL {url:?} is not http://"))?;
    if rest.contains('/') {
        bail!("simulator URL {url:?} has a path prefix; the benchmark starts it without one");
    }
    rest.parse().with_context(|| format!("simulator URL {url:?}"))
}

/// `unix=PATH tcp=ADDR` (after the daemon's ready prefix) to the TCP address.
fn parse_serving_line(line: &str) -> anyhow::Result<SocketAddr> {
    let tcp = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("tcp="))
        .with_context(|| format!("no tcp= in the daemon's ready line {line:?}"))?;
    tcp.parse().with_context(|| format!("tcp address in {line:?}"))
}

/// The command as typed, for the report.
fn command_line() -> String {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .map(|a| {
            if a.contains(char::is_whitespace) {
                format!("'{a}'")
            } else {
                a
            }
        })
        .collect();
    format!("cargo xtask {}", args.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_lines() {
        assert_eq!(
            parse_base_url("http://127.0.0.1:4242").unwrap(),
            "127.0.0.1:4242".parse().unwrap()
        );
        assert!(parse_base_url("http://127.0.0.1:4242/api/v3").is_err());
        assert_eq!(
            parse_serving_line("unix=/tmp/a b/s.sock tcp=127.0.0.1:99").unwrap(),
            "127.0.0.1:99".parse().unwrap()
        );
        assert!(parse_serving_line("unix=/tmp/s.sock tcp=-").is_err());
    }
}
