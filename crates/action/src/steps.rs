//! The two steps. `main`: warm the cache from its sources, start the daemon, route `gh` and
//! later steps through it. `post`: finish, stop, export the snapshot to every sink, write the
//! summary and outputs.
//!
//! A cache failure is a warning, never a failed job, unless the `strict` input is true.

use crate::runner::{Runner, RunnerError};
use crate::settings::Settings;
use crate::summary::{Moved, markdown};
use crate::tiers::{Sink, Source, Tiers};
use crate::{control, daemon, ghconfig};
use entry::{Keys, Scrubber, Secret};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Runs a step; returns the process exit code. Failures become warnings unless strict.
pub async fn run(step: &str, runner: &Runner, exe: &Path) -> i32 {
    let strict = runner.input_bool("strict", false).unwrap_or(false);
    let result = match step {
        "main" => main(runner, exe).await,
        "post" => post(runner).await,
        other => Err(format!("unknown step {other:?}; use main or post")),
    };
    match result {
        Ok(()) => 0,
        Err(e) if strict => {
            runner.error(&format!("gh-p2p-cache: {e}"));
            1
        }
        Err(e) => {
            runner.warning(&format!(
                "gh-p2p-cache: {e} (the job goes on without the cache; set `strict: true` to fail instead)"
            ));
            0
        }
    }
}

/// The snapshot's keys: the fleet secret if given, else one derived from the repository name.
/// Without a secret the snapshot is readable by whoever can read this repository's Actions
/// cache (the same people who can read its workflow logs); tokens are scrubbed either way.
fn keys(s: &Settings) -> Keys {
    let text = match &s.secret {
        Some(secret) => secret.clone(),
        None => format!("gh-p2p-cache actions-cache {}", s.repository),
    };
    let secret = Secret::from_text(&text).unwrap_or_else(|_| Secret::from_text("gh-p2p-cache").expect("non-empty"));
    Keys::derive(&secret, &s.repository)
}

/// Key derivation is slow by design: off the async threads.
async fn derive_keys(s: &Settings) -> Result<Arc<Keys>, String> {
    let s = s.clone();
    tokio::task::spawn_blocking(move || Arc::new(keys(&s)))
        .await
        .map_err(|e| e.to_string())
}

fn io(e: RunnerError) -> String {
    e.to_string()
}

async fn main(runner: &Runner, exe: &Path) -> Result<(), String> {
    let s = Settings::read(runner).map_err(|e| e.to_string())?;
    for secret_input in ["github-token", "secret"] {
        if let Some(v) = runner.input(secret_input) {
            runner.mask(&v);
        }
    }
    std::fs::create_dir_all(&s.work_dir).map_err(|e| format!("cannot create {}: {e}", s.work_dir.display()))?;

    let tiers = Tiers::from_runner(runner, s.actions_cache);
    for note in &tiers.notes {
        runner.notice(&format!("gh-p2p-cache: {note}; starting cold"));
    }
    let mut restored: Vec<Moved> = Vec::new();
    if !tiers.sources.is_empty() {
        match tokio::time::timeout(s.warm_timeout, warm(runner, &s, &tiers.sources, &mut restored)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => runner.warning(&format!("gh-p2p-cache: warm start failed: {e}")),
            Err(_) => runner.warning(&format!(
                "gh-p2p-cache: warm start took over {:?}; starting with what was loaded",
                s.warm_timeout
            )),
        }
    }

    let started = {
        let (exe, s2) = (exe.to_owned(), s.clone());
        tokio::task::spawn_blocking(move || daemon::start(&exe, &s2, Duration::from_secs(20)))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
    };
    let user_gh = ghconfig::user_dir(runner.var("GH_CONFIG_DIR"), runner.var("HOME"));
    let gh_dir = ghconfig::write(&s.work_dir.join("gh"), user_gh.as_deref(), &s.socket)
        .map_err(|e| format!("cannot write the gh configuration: {e}"))?;
    let socket = s.socket.display().to_string();
    runner.save_state("pid", &started.pid.to_string()).map_err(io)?;
    runner.save_state("socket", &socket).map_err(io)?;
    runner
        .save_state(
            "restored",
            &serde_json::to_string(&restored).map_err(|e| e.to_string())?,
        )
        .map_err(io)?;
    runner
        .export_var("GH_CONFIG_DIR", &gh_dir.display().to_string())
        .map_err(io)?;
    runner.export_var("GH_P2P_CACHE_SOCKET", &socket).map_err(io)?;
    // Later steps can run `gh-p2p-cache report-error` (and the other verbs).
    if let Some(dir) = exe.parent()
        && let Err(e) = runner.add_path(dir)
    {
        runner.warning(&format!("gh-p2p-cache: the binary was not put on PATH: {e}"));
    }
    runner.export_var("GH_P2P_CACHE_URL", &started.url).map_err(io)?;
    runner.set_output("socket", &socket).map_err(io)?;
    runner.set_output("url", &started.url).map_err(io)?;
    runner.line(&format!(
        "gh-p2p-cache: serving on {socket} and {} (pid {}); gh, and clients using GH_P2P_CACHE_URL, go through it",
        started.url, started.pid
    ));
    Ok(())
}

/// Tries each source in order; every snapshot found is imported (the newer version of each key
/// wins), and what each brought is recorded as it lands, so a deadline keeps what arrived.
async fn warm(runner: &Runner, s: &Settings, sources: &[Source], restored: &mut Vec<Moved>) -> Result<(), String> {
    let keys = derive_keys(s).await?;
    for source in sources {
        let file = s.work_dir.join("restored.car");
        let label = match source.fetch(&keys, &file).await {
            Ok(Some(label)) => label,
            Ok(None) => continue,
            Err(e) => {
                runner.warning(&format!("gh-p2p-cache: warm start from {} failed: {e}", source.name()));
                continue;
            }
        };
        let (dir, k) = (s.cache_dir.clone(), keys.clone());
        let report = tokio::task::spawn_blocking(move || -> Result<share::ImportReport, String> {
            let store = store::Store::open(&dir, 16 << 20, u64::MAX).map_err(|e| e.to_string())?;
            let r = share::import_file(&store, &k, &file, &mut |_, _| {}).map_err(|e| e.to_string());
            let _ = std::fs::remove_file(&file);
            r
        })
        .await
        .map_err(|e| e.to_string())??;
        restored.push(Moved {
            place: source.name().to_owned(),
            label,
            entries: report.imported,
        });
    }
    Ok(())
}

async fn post(runner: &Runner) -> Result<(), String> {
    let s = Settings::read(runner).map_err(|e| e.to_string())?;
    let Some(pid) = runner.state("pid").and_then(|p| p.parse::<u32>().ok()) else {
        runner.line("gh-p2p-cache: the main step did not start the daemon; nothing to finish");
        return Ok(());
    };
    let socket = runner
        .state("socket")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| s.socket.clone());
    let mut notes = Vec::new();
    let stats = match control::call(&socket, "POST", "/_cache/finish", Duration::from_secs(30)).await {
        Ok(v) => v,
        Err(e) => {
            runner.warning(&format!("gh-p2p-cache: could not read final statistics: {e}"));
            serde_json::json!({})
        }
    };
    let stopped = tokio::task::spawn_blocking(move || daemon::stop(pid, Duration::from_secs(15)))
        .await
        .unwrap_or(false);
    if !stopped {
        runner.warning("gh-p2p-cache: the daemon did not stop on SIGTERM within 15 s and was killed");
    }

    let tiers = Tiers::from_runner(runner, s.actions_cache);
    for note in &tiers.notes {
        notes.push(format!("Nothing was saved for the next run: {note}."));
    }
    let saved = match save(runner, &s, &tiers.sinks).await {
        Ok(saved) => saved,
        Err(e) => {
            runner.warning(&format!("gh-p2p-cache: exporting the snapshot failed: {e}"));
            Vec::new()
        }
    };
    if s.secret.is_none() && !s.peers.is_empty() {
        notes.push(
            "Peer sharing is off: the `peers` input needs the `secret` input (peers prove they hold it before \
             anything is exchanged)."
                .to_owned(),
        );
    }
    if s.secret.is_none() {
        notes.push(
            "No `secret` input: the snapshot in this repository's Actions cache is sealed with keys derived from the \
             repository name. Set `secret` to seal it with keys only your secret holders have."
                .to_owned(),
        );
    }
    let restored: Vec<Moved> = runner
        .state("restored")
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default();
    let md = markdown(&stats, &restored, &saved, &notes);
    if let Err(e) = runner.append_summary(&md) {
        runner.warning(&format!("gh-p2p-cache: job summary not written: {e}"));
    }
    // The runner drops a post step's outputs (no context name); they are set for completeness,
    // and the summary carries the same figures.
    let n = |k: &str| stats[k].as_u64().unwrap_or(0);
    runner
        .set_output("hit-rate", &format!("{:.3}", stats["hit_rate"].as_f64().unwrap_or(0.0)))
        .map_err(io)?;
    runner
        .set_output("requests", &n("total_requests").to_string())
        .map_err(io)?;
    runner
        .set_output("rate-limit-saved", &n("rate_limit_units_saved").to_string())
        .map_err(io)?;
    let ipfs_root = saved
        .iter()
        .find(|m| m.place == "IPFS")
        .map(|m| m.label.as_str())
        .unwrap_or("");
    runner.set_output("ipfs-root", ipfs_root).map_err(io)?;
    runner.group("gh-p2p-cache daemon log");
    runner.print_verbatim(&std::fs::read_to_string(&s.log_file).unwrap_or_default());
    runner.end_group();
    Ok(())
}

/// Exports the cache directory once and publishes it to every sink.
async fn save(runner: &Runner, s: &Settings, sinks: &[Sink]) -> Result<Vec<Moved>, String> {
    if sinks.is_empty() {
        return Ok(Vec::new());
    }
    let keys = derive_keys(s).await?;
    let unique = format!(
        "{}-{}-{}-{}",
        runner.var("GITHUB_RUN_ID").unwrap_or("0"),
        runner.var("GITHUB_RUN_ATTEMPT").unwrap_or("1"),
        runner.var("GITHUB_JOB").unwrap_or("job"),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let file = s.work_dir.join("snapshot.car");
    let (dir, out, k) = (s.cache_dir.clone(), file.clone(), keys.clone());
    let report = tokio::task::spawn_blocking(move || -> Result<share::ExportReport, String> {
        let store = store::Store::open(&dir, 16 << 20, u64::MAX).map_err(|e| e.to_string())?;
        let scrubber = Scrubber::new(&[]).map_err(|e| e.to_string())?;
        share::export_file(&store, &k, &scrubber, &out, &mut |_, _| {}).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())??;
    let mut saved = Vec::new();
    if report.entries > 0 {
        for sink in sinks {
            match sink.publish(&keys, &file, &unique).await {
                Ok(label) => saved.push(Moved {
                    place: sink.name().to_owned(),
                    label,
                    entries: report.entries,
                }),
                Err(e) => runner.warning(&format!("gh-p2p-cache: saving to {} failed: {e}", sink.name())),
            }
        }
    }
    let _ = std::fs::remove_file(&file);
    Ok(saved)
}
