//! The auto-healing scenario of issue 8, in one process: the GitHub simulator, a sync-node, and
//! a fleet of runners, each a real daemon (the proxy on a Unix socket, peer sync through the
//! sync-node, the claims board) with a reporter that calls `report_error` through it with the
//! `client` crate. [`run`] plays it with or without the cache; the test in `tests/` and
//! `cargo xtask bench --only heal` both call it.
//!
//! Without the cache each report is its own `report-error` run talking to the simulator
//! directly: no cache, no claims board, nothing remembered between reports. GitHub allows 30
//! searches a minute per token, which 5,000 such reports would exhaust at once; that run raises
//! the simulator's search limit so it measures what the reports cost rather than how they fail.

use anyhow::Context;
use client::{Client, ReportRequest};
use entry::{Keys, Secret};
use ghsim::{Sim, SimConfig, SimHandle};
use peering::{Link, PeerArgs};
use proxy::server::{Listeners, bind_unix};
use proxy::{ProxyConfig, State, UpstreamBase};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::Store;

/// The scenario's size.
#[derive(Debug, Clone, Copy)]
pub struct Fleet {
    pub runners: usize,
    /// Reports each runner makes, spread over the distinct errors.
    pub reports_per_runner: usize,
    pub distinct_errors: usize,
    /// Through daemons sharing a sync-node (`true`), or straight to GitHub.
    pub through_cache: bool,
}

impl Fleet {
    /// Issue 8's: 20 runners × 250 reports of 3 errors = 5,000 reports.
    pub const ISSUE_8: Fleet = Fleet {
        runners: 20,
        reports_per_runner: 250,
        distinct_errors: 3,
        through_cache: true,
    };
}

/// What the run did, as GitHub (the simulator) saw it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub reports: usize,
    /// Open issues carrying a signature marker at the end: number and signature.
    pub open_issues: Vec<(u64, String)>,
    /// Issues created (including racing duplicates closed afterwards).
    pub created: u64,
    /// Rate-limit units the whole run spent.
    pub units: u64,
    /// Requests GitHub received.
    pub upstream_requests: u64,
    /// Distinct issue URLs the reports returned.
    pub urls: usize,
    pub elapsed: Duration,
}

const REPO: &str = "octo/hello";
const TOKENS: [&str; 3] = [ghsim::TOKEN_ALICE, ghsim::TOKEN_BOB, ghsim::TOKEN_CAROL];

/// One occurrence of error `e`: the same error each time, with the noise a real log has.
fn occurrence(runner: usize, n: usize, e: usize) -> ReportRequest {
    let log = format!(
        "2026-11-25T{:02}:{:02}:{:02}.{:03}Z step 4 failed\n\
         error[E{e:04}]: component {e} crashed at 0x7ffd{:08x} in /tmp/build-{runner}-{n}/target/out\n\
         see https://github.com/{REPO}/actions/runs/{}/job/{}\n",
        n % 24,
        n % 60,
        (n * 7) % 60,
        n % 1000,
        n * 31 + runner,
        1_000_000 + n,
        2_000_000 + runner,
    );
    ReportRequest {
        repo: REPO.into(),
        title: format!("component {e} crashes in CI"),
        log,
        labels: vec!["ci-failure".into()],
        comment_on_duplicate: false,
    }
}

/// A runner's daemon: the proxy on a socket, with its claims board and peer link.
struct Daemon {
    socket: PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn daemon(
    sim: &SimHandle,
    dir: &std::path::Path,
    i: usize,
    keys: &Arc<Keys>,
    ticket: &str,
) -> anyhow::Result<Daemon> {
    let mut config = ProxyConfig::new(UpstreamBase::parse(&sim.base_url)?);
    // Each runner's creates and closes are spaced as usual; a short spacing keeps the test quick.
    config.governor.write_spacing = Duration::from_millis(50);
    let store = Arc::new(Store::memory_only(64 << 20));
    let state = State::new(config, store.clone());
    let claims = Arc::new(peering::claims::DaemonClaims::new());
    state.attach_claims(claims.clone());
    let link = Link::start(
        &PeerArgs::loopback(vec![ticket.to_owned()]),
        keys.clone(),
        store,
        Duration::from_secs(10),
    )
    .await?;
    state.attach_peers(link.clone());
    claims.attach(link);
    let socket = dir.join(format!("r{i}.sock"));
    let unix = bind_unix(&socket).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let listeners = Listeners {
        unix: Some((unix, socket.clone())),
        tcp: None,
    };
    let task = tokio::spawn(async move {
        let _ = proxy::server::run(state, listeners, async {
            let _ = stopped.await;
        })
        .await;
    });
    Ok(Daemon { socket, stop, task })
}

/// Plays the scenario and counts what GitHub saw.
pub async fn run(fleet: Fleet) -> anyhow::Result<Outcome> {
    let mut sim_config = SimConfig::default();
    if !fleet.through_cache {
        sim_config.limits.search = 1_000_000;
        sim_config.limits.core = 1_000_000;
    }
    let sim = Sim::start(sim_config).await.context("the simulator")?;
    let dir = tempfile::tempdir()?;
    let mut daemons = Vec::new();
    let mut _node = None;
    if fleet.through_cache {
        let keys = Arc::new(
            tokio::task::spawn_blocking(|| Keys::derive(&Secret::from_text("fleet secret").expect("secret"), REPO))
                .await?,
        );
        let node_dir = dir.path().join("sync-node");
        let node_store = Arc::new(Store::open(&node_dir, 64 << 20, u64::MAX)?);
        let (node, _blocks) =
            peering::sync_role::start(&PeerArgs::loopback(Vec::new()), keys.clone(), node_store, &node_dir).await?;
        let ticket = node.ticket();
        for i in 0..fleet.runners {
            daemons.push(daemon(&sim, dir.path(), i, &keys, &ticket).await?);
        }
        _node = Some(node);
    }
    let before = sim.stats();
    let started = Instant::now();
    let mut reporters = Vec::new();
    for r in 0..fleet.runners {
        let builder = Client::builder().token(TOKENS[r % TOKENS.len()]);
        let gh = match daemons.get(r) {
            Some(d) => builder.socket(&d.socket).build()?,
            None => builder.base_url(&sim.base_url).build()?,
        };
        reporters.push(tokio::spawn(async move {
            let claims = gh.daemon_claims();
            let mut urls = Vec::with_capacity(fleet.reports_per_runner);
            for n in 0..fleet.reports_per_runner {
                let req = occurrence(r, n, n % fleet.distinct_errors);
                let outcome = if gh.through_daemon() {
                    gh.report_error_with(&claims, &req).await
                } else {
                    // A fresh process per report: nothing shared, nothing remembered.
                    gh.report_error_with(&heal::LocalClaims::new(), &req).await
                };
                urls.push(outcome.map_err(|e| anyhow::anyhow!("runner {r}, report {n}: {e}"))?.url);
            }
            anyhow::Ok(urls)
        }));
    }
    let mut urls = std::collections::BTreeSet::new();
    for reporter in reporters {
        urls.extend(reporter.await??);
    }
    let elapsed = started.elapsed();
    let after = sim.stats();
    let open_issues = open_reported_issues(&sim).await?;
    for d in daemons {
        let _ = d.stop.send(());
        let _ = d.task.await;
    }
    Ok(Outcome {
        reports: fleet.runners * fleet.reports_per_runner,
        open_issues,
        created: after.count("POST /repos/{owner}/{repo}/issues") - before.count("POST /repos/{owner}/{repo}/issues"),
        units: after.units_total() - before.units_total(),
        upstream_requests: after.total_requests - before.total_requests,
        urls: urls.len(),
        elapsed,
    })
}

/// Open issues whose body carries a signature marker, read from the simulator directly (after
/// the units were counted).
async fn open_reported_issues(sim: &SimHandle) -> anyhow::Result<Vec<(u64, String)>> {
    let gh = Client::builder()
        .base_url(&sim.base_url)
        .token(ghsim::TOKEN_ALICE)
        .build()?;
    let open = gh
        .list_issues(REPO, client::IssueState::Open, &[])
        .await
        .map_err(|e| anyhow::anyhow!("listing the issues: {e}"))?;
    Ok(open
        .iter()
        .filter_map(|i| {
            i.body
                .as_deref()
                .and_then(heal::parse_marker)
                .map(|s| (i.number, s.to_string()))
        })
        .collect())
}
