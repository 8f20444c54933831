//! The "CI day" workload benchmark: 20 jobs, each with a fresh token, each making the same
//! realistic mix of GitHub calls (and, in the second run, a few writes), under four caching
//! models side by side. It counts the rate-limit units the simulator charged.
//!
//! Models:
//! - no cache: every call goes to GitHub;
//! - private per-job cache: a fresh cache per job (what `gh api --cache` gives);
//! - per-token partitioned: one long-lived cache whose entries belong to the token that fetched
//!   them, revalidated with that token's ETags (ghproxy's model);
//! - ours: one long-lived cache shared across tokens with proof by conditional requests. A single
//!   daemon stands for perfect sharing between the day's runners (what the Actions cache, peers
//!   and IPFS tiers provide).
//!
//! Jobs are an hour apart on the proxies' clocks, so every TTL has lapsed between jobs and
//! sharing must go through revalidation.

use anyhow::{Context, bail};
use bytes::Bytes;
use ghsim::{Access, Limits, Sim, SimConfig, SimHandle, TokenSpec};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use proxy::server::Listeners;
use proxy::{ProxyConfig, State, UpstreamBase};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub const JOBS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    NoCache,
    PrivatePerJob,
    PerTokenPartitioned,
    Ours,
}

impl Model {
    pub const ALL: [Model; 4] = [
        Model::NoCache,
        Model::PrivatePerJob,
        Model::PerTokenPartitioned,
        Model::Ours,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Model::NoCache => "no cache",
            Model::PrivatePerJob => "private per-job cache (gh api --cache)",
            Model::PerTokenPartitioned => "per-token partitioned revalidation (ghproxy)",
            Model::Ours => "gh-p2p-cache (shared, verified)",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub model: Model,
    pub units: u64,
    pub upstream_requests: u64,
    pub calls: u64,
    /// Reads after the same job's write that did not show the write.
    pub stale_after_write: u64,
}

const ISSUE_LIST: &str = "fragment issue on Issue {number,title,url,state,updatedAt,labels(first:100){nodes{id,name,description,color},totalCount},stateReason}\n\tquery IssueList($owner: String!, $repo: String!, $limit: Int, $endCursor: String, $states: [IssueState!] = OPEN, $assignee: String, $author: String, $mention: String) {\n\t\trepository(owner: $owner, name: $repo) {\n\t\t\thasIssuesEnabled\n\t\t\tissues(first: $limit, after: $endCursor, orderBy: {field: CREATED_AT, direction: DESC}, states: $states, filterBy: {assignee: $assignee, createdBy: $author, mentioned: $mention}) {\n\t\t\t\ttotalCount\n\t\t\t\tnodes {\n\t\t\t\t\t...issue\n\t\t\t\t}\n\t\t\t\tpageInfo {\n\t\t\t\t\thasNextPage\n\t\t\t\t\tendCursor\n\t\t\t\t}\n\t\t\t}\n\t\t}\n\t}";

fn job_token(job: usize) -> String {
    format!("ghp_{job:02}{}", "j".repeat(34))
}

fn sim_config() -> SimConfig {
    // Every job token has the same access, as GITHUB_TOKENs of one repository's jobs do.
    let tokens = (0..JOBS)
        .map(|j| TokenSpec::new(&job_token(j), &format!("job{j:02}"), Access::All))
        .collect();
    SimConfig {
        tokens,
        limits: Limits {
            core: 1_000_000,
            search: 1_000_000,
            graphql: 1_000_000,
            anonymous_core: 60,
        },
        ..SimConfig::default()
    }
}

/// A running proxy for one model.
struct Running {
    state: Arc<State>,
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn start_proxy(sim: &SimHandle, model: Model) -> anyhow::Result<Running> {
    let mut config = ProxyConfig::new(UpstreamBase::parse(&sim.base_url)?);
    config.partition_by_token = model == Model::PerTokenPartitioned;
    // gh's own cache keeps an answer for its TTL and no longer; so does this model.
    config.graphql_indicators = model != Model::PrivatePerJob;
    // Writes are spaced by the governor; keep the run short without changing what is counted.
    config.governor.write_spacing = Duration::ZERO;
    let state = State::new(config, Arc::new(store::Store::memory_only(256 << 20)));
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = tcp.local_addr()?;
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let s = state.clone();
    let task = tokio::spawn(async move {
        let _ = proxy::server::run(
            s,
            Listeners {
                unix: None,
                tcp: Some(tcp),
            },
            async {
                let _ = rx.await;
            },
        )
        .await;
    });
    Ok(Running {
        state,
        addr,
        stop,
        task,
    })
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: Option<String>,
) -> anyhow::Result<(u16, Bytes)> {
    let io = TokioIo::new(tokio::net::TcpStream::connect(addr).await?);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("authorization", format!("token {token}"))
        .header("accept", "application/vnd.github+json")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.unwrap_or_default())))?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    Ok((status, resp.into_body().collect().await?.to_bytes()))
}

/// One job's calls against `addr`; returns (calls made, stale reads after its own write).
async fn job(addr: SocketAddr, j: usize, writes: bool) -> anyhow::Result<(u64, u64)> {
    let token = job_token(j);
    let gql = serde_json::json!({ "query": ISSUE_LIST, "variables": { "limit": 30, "owner": "octo", "repo": "hello", "states": ["OPEN"] } })
        .to_string();
    let reads: [(&str, &str, Option<&str>); 6] = [
        ("GET", "/repos/octo/hello", None),
        ("GET", "/repos/octo/hello/issues?state=open&per_page=50", None),
        (
            "GET",
            "/search/issues?q=repo%3Aocto%2Fhello+is%3Aissue+label%3Abug",
            None,
        ),
        ("GET", "/users/octocat", None),
        ("POST", "/graphql", Some(gql.as_str())),
        ("GET", "/repos/octo/hello/issues/1/comments", None),
    ];
    let mut calls = 0;
    let mut stale = 0;
    // A job's steps ask again what earlier steps asked: the mix runs at the start and the end.
    for pass in 0..2 {
        for (method, path, body) in reads {
            let (status, _) = call(addr, method, path, &token, body.map(str::to_owned)).await?;
            if status != 200 {
                bail!("job {j}: {method} {path} answered {status}");
            }
            calls += 1;
        }
        if writes && pass == 0 && j % 4 == 3 {
            let marker = format!("written by job {j}");
            let body = serde_json::json!({ "body": marker }).to_string();
            let (status, _) = call(addr, "POST", "/repos/octo/hello/issues/1/comments", &token, Some(body)).await?;
            if status != 201 {
                bail!("job {j}: comment answered {status}");
            }
            calls += 1;
            let (_, after) = call(addr, "GET", "/repos/octo/hello/issues/1/comments", &token, None).await?;
            calls += 1;
            if !String::from_utf8_lossy(&after).contains(&marker) {
                stale += 1;
            }
        }
    }
    Ok((calls, stale))
}

pub async fn run_model(model: Model, writes: bool) -> anyhow::Result<Outcome> {
    let sim = Sim::start(sim_config()).await.context("start the simulator")?;
    let mut calls = 0;
    let mut stale = 0;
    let shared = match model {
        Model::PerTokenPartitioned => Some(start_proxy(&sim, model).await?),
        Model::Ours => Some(start_proxy(&sim, model).await?),
        _ => None,
    };
    for j in 0..JOBS {
        let (c, s) = match (model, &shared) {
            (Model::NoCache, _) => job(sim.addr, j, writes).await?,
            (Model::PrivatePerJob, _) => {
                let p = start_proxy(&sim, model).await?;
                let r = job(p.addr, j, writes).await?;
                p.stop().await;
                r
            }
            (_, Some(p)) => {
                let r = job(p.addr, j, writes).await?;
                p.state.clock().advance(Duration::from_secs(3600));
                r
            }
            (_, None) => unreachable!("shared models start a proxy"),
        };
        calls += c;
        stale += s;
    }
    if let Some(p) = shared {
        p.stop().await;
    }
    let stats = sim.stats();
    sim.shutdown().await;
    Ok(Outcome {
        model,
        units: stats.units_total(),
        upstream_requests: stats.total_requests,
        calls,
        stale_after_write: stale,
    })
}

/// Both runs (without and with writes), every model.
pub async fn run_all() -> anyhow::Result<(Vec<Outcome>, Vec<Outcome>)> {
    let mut reads_only = Vec::new();
    let mut with_writes = Vec::new();
    for model in Model::ALL {
        reads_only.push(run_model(model, false).await?);
        with_writes.push(run_model(model, true).await?);
    }
    Ok((reads_only, with_writes))
}

/// Markdown for BENCHMARKS.md, with the targets judged.
pub fn report(reads_only: &[Outcome], with_writes: &[Outcome], command: &str, date: &str) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "{WORKLOAD_START}");
    let _ = writeln!(out, "## Workload: a CI day (rate-limit units)\n");
    let _ = writeln!(
        out,
        "- Date: {date}\n- Command: `{command}`\n- Machine: {}\n",
        crate::report::machine()
    );
    let _ = writeln!(
        out,
        "{JOBS} jobs, each with a fresh token and the same mix run twice (get repository, list open issues, \
         search issues, get user, gh's GraphQL issue list, list comments); jobs an hour apart so every TTL \
         has lapsed. The second run adds a comment in every fourth job and reads it back. Units are what \
         the simulator charged (primary limit, all resources).\n"
    );
    for (title, rows) in [("Reads only", reads_only), ("With writes", with_writes)] {
        let base = rows
            .iter()
            .find(|r| r.model == Model::NoCache)
            .map(|r| r.units.max(1))
            .unwrap_or(1);
        let _ = writeln!(out, "### {title}\n");
        let _ = writeln!(
            out,
            "| model | calls | upstream requests | units | % of no cache | stale reads after own write |"
        );
        let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: |");
        for r in rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.1} % | {} |",
                r.model.name(),
                r.calls,
                r.upstream_requests,
                r.units,
                100.0 * r.units as f64 / base as f64,
                r.stale_after_write
            );
        }
        let _ = writeln!(out);
    }
    let units = |rows: &[Outcome], m: Model| rows.iter().find(|r| r.model == m).map(|r| r.units).unwrap_or(0);
    let ours = units(reads_only, Model::Ours);
    let none = units(reads_only, Model::NoCache).max(1);
    let partitioned_ratio = units(reads_only, Model::PerTokenPartitioned) as f64 / ours.max(1) as f64;
    let partitioned_ratio_w =
        units(with_writes, Model::PerTokenPartitioned) as f64 / units(with_writes, Model::Ours).max(1) as f64;
    let stale: u64 = with_writes
        .iter()
        .filter(|r| r.model == Model::Ours)
        .map(|r| r.stale_after_write)
        .sum();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let _ = writeln!(out, "Targets:\n");
    let _ = writeln!(
        out,
        "- ours at or under 5 % of no cache (reads only): {:.1} %, {}",
        100.0 * ours as f64 / none as f64,
        verdict(ours * 20 <= none)
    );
    let _ = writeln!(
        out,
        "- at least 10x fewer units than the per-token model: {partitioned_ratio:.1}x reads only, {partitioned_ratio_w:.1}x with writes, {}",
        verdict(partitioned_ratio >= 10.0)
    );
    let _ = writeln!(
        out,
        "- no stale read after the same job wrote: {stale} stale, {}",
        verdict(stale == 0)
    );
    let _ = writeln!(out, "{WORKLOAD_END}");
    out
}

const WORKLOAD_START: &str = "<!-- bench:workload:start -->";
const WORKLOAD_END: &str = "<!-- bench:workload:end -->";

/// `cargo xtask bench --only workload`: runs every model and writes its section.
pub fn run(out: &std::path::Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (reads_only, with_writes) = runtime.block_on(run_all())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let section = report(
        &reads_only,
        &with_writes,
        "cargo xtask bench --only workload",
        &crate::report::utc_timestamp(now),
    );
    println!("\n{section}");
    crate::report::write(out, &section)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
