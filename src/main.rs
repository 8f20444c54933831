//! `gh-p2p-cache`: the command-line entry point. Parses arguments, installs logging and
//! dispatches to the verbs; the work lives in the library crates.

mod admin;
mod client;
mod config_file;
mod ipfs_cmd;
mod report_error;
mod serve;
mod settings;
mod snapshots;
mod sync_node;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "gh-p2p-cache",
    version,
    about = "A shared, content-addressed cache for the GitHub API in CI"
)]
struct Cli {
    /// Configuration file (TOML) [or GH_P2P_CACHE_CONFIG; default: ~/.config/gh-p2p-cache/config.toml]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// Parsed once at start; boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the caching daemon in the foreground.
    Serve(serve::ServeArgs),
    /// Show the cache's statistics (a running daemon's, else the cache directory's).
    Stats(admin::StatsArgs),
    /// Show the running daemon's peers (who it is, who it knows, what was shared).
    Peers(admin::PeersArgs),
    /// Drop cached entries by key or by prefix.
    Invalidate(admin::InvalidateArgs),
    /// Remove entries fetched longer ago than a duration.
    Clean(admin::CleanArgs),
    /// Remove every entry.
    Clear(admin::ClearArgs),
    /// Write the cache as a snapshot: scrubbed, sealed, content-addressed, a CAR v1 file.
    Export(snapshots::ExportArgs),
    /// Load a snapshot into the cache, verifying every block; the newer version of a key wins.
    Import(snapshots::ImportArgs),
    /// Export the cache and publish the snapshot to IPFS (kubo, and/or a pinning service).
    Publish(ipfs_cmd::PublishArgs),
    /// Load a snapshot into the cache: from IPFS by its root CID (kubo or trustless gateways),
    /// or from a sync-node (--peer TICKET).
    Warm(ipfs_cmd::WarmArgs),
    /// The long-lived node that keeps the fleet's shared cache: periodic snapshots, a trustless
    /// IPFS gateway for them, and publishing to kubo.
    SyncNode(sync_node::SyncNodeArgs),
    /// File an issue for an error, once per error across the fleet (exit 0 reported, 1 bad
    /// input, 2 GitHub refused, 3 GitHub or the daemon unreachable).
    ReportError(report_error::ReportErrorArgs),
    /// The GitHub Action's steps (run by dist/main.js and dist/post.js).
    Action {
        #[arg(value_parser = ["main", "post"])]
        step: String,
    },
}

fn main() -> ExitCode {
    // The file is the lowest layer: it fills unset variables before clap reads flags and env.
    let args: Vec<String> = std::env::args().collect();
    if let Err(e) = config_file::apply(&args) {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // report-error documents exit 1 for usage errors (2 means GitHub refused).
        Err(e) if e.use_stderr() && args.iter().skip(1).any(|a| a == "report-error") => {
            let _ = e.print();
            return ExitCode::from(1);
        }
        Err(e) => e.exit(),
    };
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Stats(args) => admin::stats(args).await,
            Command::Peers(args) => admin::peers(args).await,
            Command::Invalidate(args) => admin::invalidate(args).await,
            Command::Clean(args) => admin::clean(args).await,
            Command::Clear(args) => admin::clear(args).await,
            Command::Export(args) => snapshots::export(args).await,
            Command::Import(args) => snapshots::import(args).await,
            Command::Publish(args) => ipfs_cmd::publish(args).await,
            Command::Warm(args) => ipfs_cmd::warm(args).await,
            Command::SyncNode(args) => sync_node::run(args).await,
            Command::ReportError(args) => {
                let code = report_error::run(args).await;
                if code != 0 {
                    std::process::exit(code.into());
                }
                Ok(())
            }
            Command::Action { step } => {
                let exe =
                    std::env::current_exe().map_err(|e| anyhow::anyhow!("cannot find this binary's path: {e}"))?;
                let code = action::run(&step, &action::runner::Runner::from_env(), &exe).await;
                if code != 0 {
                    std::process::exit(code);
                }
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; `GH_P2P_CACHE_LOG` (or `RUST_LOG`) sets the filter.
fn init_tracing() {
    let filter = std::env::var("GH_P2P_CACHE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        // Plain text when stderr is a log file (the Action's daemon log), colours on a terminal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
