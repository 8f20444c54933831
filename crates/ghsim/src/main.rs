//! The `ghsim` binary: runs the simulator on a TCP address for benchmarks and manual use.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use ghsim::{Faults, Limits, Seed, Sim, SimConfig};

/// A simulated GitHub REST/GraphQL API.
#[derive(Debug, Parser)]
#[command(name = "ghsim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Path prefix, e.g. /api/v3 to pose as GitHub Enterprise Server.
    #[arg(long, default_value = "")]
    prefix: String,
    /// Issues in the public repository octo/hello.
    #[arg(long, default_value_t = 120)]
    issues: usize,
    /// Latency added to every API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Primary core limit per token and hour.
    #[arg(long, default_value_t = 5000)]
    core_limit: u64,
    /// Concurrent requests above which the secondary limit answers 403.
    #[arg(long, default_value_t = 100)]
    max_in_flight: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "ghsim=info".into()))
        .init();
    let args = Args::parse();
    let prefix = args.prefix.trim_end_matches('/').to_owned();
    if !prefix.is_empty() && !prefix.starts_with('/') {
        anyhow::bail!("--prefix must start with '/' (got {prefix:?}), e.g. --prefix /api/v3");
    }
    let config = SimConfig {
        prefix,
        limits: Limits {
            core: args.core_limit,
            ..Limits::default()
        },
        max_in_flight: args.max_in_flight,
        seed: Seed {
            issues_per_repo: args.issues,
        },
        ..SimConfig::default()
    };
    let sim = Sim::bind(config, args.listen).await?;
    if args.latency_ms > 0 {
        sim.set_faults(Faults {
            latency_ms: args.latency_ms,
            ..Faults::default()
        });
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "ghsim listening on {}", sim.base_url).context("writing the listening line")?;
    out.flush().context("flushing stdout")?;
    drop(out);

    shutdown_signal().await?;
    tracing::info!("shutting down");
    sim.shutdown().await;
    Ok(())
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}
