//! `cargo xtask`: project automation (`.cargo/config.toml` aliases it to a release run of this
//! crate). This file owns the command line and dispatch; each task lives in its own module.
//!
//! `cargo xtask bench` measures cache-hit latency and throughput of our daemon side by side with
//! the simulator called directly and with nginx's `proxy_cache`, and the rate-limit units a
//! "CI day" workload costs under four caching models, then writes the figures to
//! `BENCHMARKS.md`, and times snapshot export and import (`--only hits|workload|snapshot|peers|heal` runs one).

mod bench;
mod fuzz;
mod heal_bench;
mod load;
mod nginx;
mod peers_bench;
mod procs;
mod report;
mod snapshot_bench;
mod workload;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Project automation for gh-p2p-cache")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Cache-hit latency (p50/p99) and throughput: ours (Unix socket, TCP) vs nginx proxy_cache
    /// vs the simulator called directly; and the CI-day workload's rate-limit units under four
    /// caching models. Each measured side by side in one run; results go to BENCHMARKS.md.
    Bench(BenchArgs),
    /// A bounded run of every cargo-fuzz target (envelopes, scrubbing, CAR reading).
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
        seconds: u64,
    },
}

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Sequential requests per target for the latency figures (after a fixed warm-up).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(100..=100_000))]
    pub requests: u64,
    /// Seconds of load per target for the throughput figures.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=bench::MAX_SECONDS))]
    pub seconds: u64,
    /// Concurrent keep-alive connections per target for the throughput figures.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub connections: u64,
    /// Which benchmarks to run; all by default.
    #[arg(long, value_parser = ["hits", "workload", "snapshot", "peers", "heal"])]
    pub only: Option<String>,
    /// Markdown file whose benchmark sections are replaced [default: BENCHMARKS.md at the
    /// workspace root].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn run_benches(args: &BenchArgs) -> anyhow::Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| procs::workspace_root().join("BENCHMARKS.md"));
    let wanted = |name: &str| args.only.as_deref().is_none_or(|only| only == name);
    if wanted("hits") {
        bench::run(args)?;
    }
    if wanted("workload") {
        workload::run(&out)?;
    }
    if wanted("snapshot") {
        snapshot_bench::run(&out)?;
    }
    if wanted("peers") {
        peers_bench::run(&out)?;
    }
    if wanted("heal") {
        heal_bench::run(&out)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => run_benches(&args),
        Command::Fuzz { seconds } => fuzz::run(seconds),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
