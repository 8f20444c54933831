//! `gh-p2p-cache report-error`: files an issue for an error, once per error across the fleet.
//! The algorithm is the `heal` crate's; the GitHub calls go through the daemon when one runs
//! (its cache, and its claims board shared with peers), else straight to GitHub.

use clap::Args;
use client::{Client, ReportRequest, Route};
use std::io::Read;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ReportErrorArgs {
    /// The repository to report in, OWNER/NAME.
    #[arg(long)]
    repo: String,
    /// The issue title (also part of the error's signature).
    #[arg(long)]
    title: String,
    /// The error's log: a file, or `-` for stdin (the last 256 KiB are kept).
    #[arg(long, value_name = "FILE|-")]
    log: Option<String>,
    /// Labels for a new issue, comma-separated.
    #[arg(long, value_delimiter = ',')]
    labels: Vec<String>,
    /// When the issue exists already, add a comment with this occurrence.
    #[arg(long)]
    comment_on_duplicate: bool,
    /// The daemon's socket [or GH_P2P_CACHE_SOCKET; used when a daemon answers there]
    #[arg(long)]
    socket: Option<PathBuf>,
    /// The daemon's URL, or GitHub's API when no daemon runs [or GH_P2P_CACHE_URL; else
    /// https://api.github.com]
    #[arg(long)]
    url: Option<String>,
}

/// Runs the verb; the exit code is `heal::ReportError::exit_code` (documented in README).
pub async fn run(args: ReportErrorArgs) -> u8 {
    match report(args).await {
        Ok(url) => {
            println!("{url}");
            0
        }
        Err((code, message)) => {
            eprintln!("error: {message}");
            code
        }
    }
}

async fn report(args: ReportErrorArgs) -> Result<String, (u8, String)> {
    let usage = |m: String| (1u8, m);
    let log = match args.log.as_deref() {
        None => String::new(),
        Some("-") => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| usage(format!("cannot read the log from stdin: {e}")))?;
            heal::text_of(&bytes)
        }
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| usage(format!("cannot read --log {path}: {e}")))?;
            heal::text_of(&bytes)
        }
    };
    let route = match (&args.socket, &args.url) {
        (Some(socket), _) if std::os::unix::net::UnixStream::connect(socket).is_ok() => Route::Socket(socket.clone()),
        (Some(socket), None) => {
            return Err((3, format!("no daemon answers at {}", socket.display())));
        }
        (_, Some(url)) => Route::Url(url.clone()),
        (None, None) => Route::from_env(),
    };
    let token = client::token_from_env().ok_or_else(|| usage("no token: set GITHUB_TOKEN or GH_TOKEN".into()))?;
    let gh = Client::builder()
        .route(route)
        .token(token)
        .build()
        .map_err(|e| usage(e.to_string()))?;
    let request = ReportRequest {
        repo: args.repo,
        title: args.title,
        log,
        labels: args.labels.into_iter().filter(|l| !l.trim().is_empty()).collect(),
        comment_on_duplicate: args.comment_on_duplicate,
    };
    let outcome = if gh.through_daemon() {
        gh.report_error_with(&gh.daemon_claims(), &request).await
    } else {
        gh.report_error(&request).await
    };
    let outcome = outcome.map_err(|e| (e.exit_code(), e.to_string()))?;
    if outcome.created {
        eprintln!("filed a new issue (signature {})", outcome.signature);
    } else if let Some(closed) = outcome.duplicate_closed {
        eprintln!("closed #{closed}, a racing duplicate of this issue");
    }
    Ok(outcome.url)
}
