//! `export FILE.car` and `import FILE.car`: snapshots of the cache directory, sealed under keys
//! derived from the fleet's secret. They work on the cache directory, so the daemon must not be
//! running (the Action exports after stopping it and imports before starting it).

use crate::settings::{default_cache_dir, env_alias};
use anyhow::{Context, bail};
use clap::Args;
use entry::{Keys, Scrubber, Secret};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct KeyArgs {
    /// File holding the fleet's secret [or GH_P2P_CACHE_SECRET_FILE; or the secret itself in GH_P2P_CACHE_SECRET]
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// Derive the keys from a personal access token shared by the fleet (GH_TOKEN or
    /// GITHUB_TOKEN) when no secret is given. Per-job tokens cannot share.
    #[arg(long)]
    token_mode: bool,
    /// Sharing scope: entries sealed under one scope open only under the same scope
    /// [or GH_P2P_CACHE_SCOPE; default: $GITHUB_REPOSITORY, else "default"]
    #[arg(long)]
    scope: Option<String>,
    /// The cache directory [default: as for serve]
    #[arg(long)]
    cache_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Where to write the snapshot (a CAR v1 file).
    file: PathBuf,
    /// Also redact what this regular expression matches (repeatable), on top of the built-in
    /// GitHub token, credential, AWS key and private-key rules [or GH_P2P_CACHE_SCRUB_PATTERNS,
    /// one pattern per line]
    #[arg(long = "scrub", value_name = "REGEX")]
    scrub: Vec<String>,
    #[command(flatten)]
    keys: KeyArgs,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The snapshot to read (a CAR v1 file written by `export`).
    file: PathBuf,
    #[command(flatten)]
    keys: KeyArgs,
}

impl KeyArgs {
    fn secret(&self) -> anyhow::Result<Secret> {
        secret_from(self.secret_file.as_ref(), self.token_mode)
    }

    fn scope(&self) -> String {
        scope_from(self.scope.as_ref())
    }

    fn dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .or_else(|| env_alias("GH_P2P_CACHE_DIR", "IPFS_GITHUB_CACHE_DIR").map(PathBuf::from))
            .unwrap_or_else(default_cache_dir)
    }

    /// Derives the keys (slow by design) and opens the store, both off the async threads.
    pub async fn open(&self) -> anyhow::Result<(Arc<Keys>, Arc<store::Store>)> {
        let secret = self.secret()?;
        let scope = self.scope();
        let dir = self.dir();
        let keys = tokio::task::spawn_blocking(move || Keys::derive(&secret, &scope)).await?;
        let store = store::Store::open(&dir, 64 << 20, u64::MAX)
            .with_context(|| format!("cannot open the cache in {} (stop the daemon first)", dir.display()))?;
        Ok((Arc::new(keys), Arc::new(store)))
    }
}

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let mut patterns = args.scrub.clone();
    if let Ok(lines) = std::env::var("GH_P2P_CACHE_SCRUB_PATTERNS") {
        patterns.extend(
            lines
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned),
        );
    }
    let scrubber = Scrubber::new(&patterns.iter().map(String::as_str).collect::<Vec<_>>())?;
    let (keys, store) = args.keys.open().await?;
    let file = args.file.clone();
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<share::ExportReport> {
        let mut bar = Progress::new("sealing");
        let result = share::export_file(&store, &keys, &scrubber, &file, &mut |d, t| bar.tick(d, t));
        bar.done();
        Ok(result?)
    })
    .await??;
    println!(
        "exported {} entries ({} bytes) to {}; root {}{}",
        report.entries,
        report.bytes,
        args.file.display(),
        report.root,
        if report.too_large > 0 {
            format!("; {} too large to share", report.too_large)
        } else {
            String::new()
        }
    );
    Ok(())
}

pub async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let (keys, store) = args.keys.open().await?;
    let file = args.file.clone();
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<share::ImportReport> {
        let mut bar = Progress::new("importing");
        let result = share::import_file(&store, &keys, &file, &mut |d, t| bar.tick(d, t));
        bar.done();
        result.with_context(|| format!("in {}", file.display()))
    })
    .await??;
    println!(
        "imported {} entries from {} ({} kept local, {} sealed with another secret, {} rejected, {} bad blocks, {} missing)",
        report.imported,
        args.file.display(),
        report.kept_local,
        report.foreign,
        report.rejected,
        report.bad_blocks,
        report.missing
    );
    Ok(())
}

/// A progress bar on a terminal; a line per quarter otherwise (CI logs).
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    label: &'static str,
    last_quarter: u64,
}

impl Progress {
    pub fn new(label: &'static str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(0);
            b.set_style(
                indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b.set_message(label);
            b
        });
        Progress {
            bar,
            label,
            last_quarter: 0,
        }
    }

    pub fn tick(&mut self, done: u64, total: u64) {
        match &self.bar {
            Some(b) => {
                b.set_length(total);
                b.set_position(done);
            }
            None if total > 0 => {
                let quarter = done * 4 / total;
                if quarter > self.last_quarter {
                    self.last_quarter = quarter;
                    eprintln!("{}: {done}/{total}", self.label);
                }
            }
            None => {}
        }
    }

    pub fn done(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// The fleet's secret: `--secret-file` / `GH_P2P_CACHE_SECRET_FILE`, else `GH_P2P_CACHE_SECRET`,
/// else (token mode) the shared token in `GH_TOKEN` / `GITHUB_TOKEN`.
pub fn secret_from(secret_file: Option<&PathBuf>, token_mode: bool) -> anyhow::Result<Secret> {
    let from_env = std::env::var_os("GH_P2P_CACHE_SECRET_FILE").map(PathBuf::from);
    if let Some(path) = secret_file.or(from_env.as_ref()) {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read --secret-file {}", path.display()))?;
        return Secret::from_text(&text).with_context(|| format!("--secret-file {}", path.display()));
    }
    if let Ok(text) = std::env::var("GH_P2P_CACHE_SECRET") {
        return Secret::from_text(&text).context("GH_P2P_CACHE_SECRET");
    }
    if token_mode {
        let token = std::env::var("GH_TOKEN")
            .or_else(|_| std::env::var("GITHUB_TOKEN"))
            .context("--token-mode needs GH_TOKEN or GITHUB_TOKEN")?;
        if let Some(warning) = entry::token_mode_warning(&token) {
            eprintln!("warning: {warning}");
        }
        return Secret::from_token(&token).context("--token-mode");
    }
    bail!(
        "no secret: entries are sealed with keys derived from it; set GH_P2P_CACHE_SECRET, pass --secret-file FILE, or --token-mode"
    )
}

/// `--scope`, else `GH_P2P_CACHE_SCOPE`, else `GITHUB_REPOSITORY`, else `default`.
pub fn scope_from(flag: Option<&String>) -> String {
    flag.cloned()
        .or_else(|| std::env::var("GH_P2P_CACHE_SCOPE").ok())
        .or_else(|| std::env::var("GITHUB_REPOSITORY").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "default".to_owned())
}
