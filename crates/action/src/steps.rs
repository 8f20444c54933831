//! The two steps. `main`: warm the cache from the Actions cache, start the daemon, route `gh`
//! and later steps through it. `post`: finish, stop, save the snapshot, write the summary.
//!
//! A cache failure is a warning, never a failed job, unless the `strict` input is true.

use crate::actions_cache::{ActionsCache, version_for};
use crate::runner::Runner;
use crate::settings::Settings;
use crate::summary::{SnapshotNote, markdown};
use crate::{control, daemon, ghconfig};
use entry::{Keys, Scrubber, Secret};
use std::path::Path;
use std::time::Duration;

const KEY_PREFIX: &str = "gh-p2p-cache-v1";

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
    let secret = match &s.secret {
        Some(text) => Secret::from_text(text),
        None => Secret::from_text(&format!("gh-p2p-cache actions-cache {}", s.repository)),
    };
    let secret = secret.unwrap_or_else(|_| Secret::from_text("gh-p2p-cache").expect("non-empty"));
    Keys::derive(&secret, &s.repository)
}

async fn derive_keys(s: &Settings) -> Result<Keys, String> {
    let s = s.clone();
    tokio::task::spawn_blocking(move || keys(&s))
        .await
        .map_err(|e| e.to_string())
}

fn actions_cache(runner: &Runner) -> Option<Result<ActionsCache, String>> {
    let url = runner.var("ACTIONS_RESULTS_URL")?;
    let token = runner.var("ACTIONS_RUNTIME_TOKEN")?;
    Some(ActionsCache::new(url, token).map_err(|e| e.to_string()))
}

async fn main(runner: &Runner, exe: &Path) -> Result<(), String> {
    let s = Settings::read(runner).map_err(|e| e.to_string())?;
    for secret_input in ["github-token", "secret"] {
        if let Some(v) = runner.input(secret_input) {
            runner.mask(&v);
        }
    }
    for inactive in ["peers", "ipfs-api", "ipfs-root", "pinning-service"] {
        if runner.input(inactive).is_some() {
            runner.warning(&format!(
                "gh-p2p-cache: input `{inactive}` is accepted but not active yet in this version"
            ));
        }
    }
    std::fs::create_dir_all(&s.work_dir).map_err(|e| format!("cannot create {}: {e}", s.work_dir.display()))?;

    let mut restored = None;
    if s.actions_cache {
        match actions_cache(runner) {
            None => runner.notice("gh-p2p-cache: no Actions cache service in this environment; starting cold"),
            Some(Err(e)) => runner.warning(&format!("gh-p2p-cache: Actions cache unusable: {e}")),
            Some(Ok(cache)) => match tokio::time::timeout(s.warm_timeout, warm(&s, &cache)).await {
                Ok(Ok(r)) => restored = r,
                Ok(Err(e)) => runner.warning(&format!("gh-p2p-cache: warm start from the Actions cache failed: {e}")),
                Err(_) => runner.warning(&format!(
                    "gh-p2p-cache: warm start took over {:?}; starting with what was loaded",
                    s.warm_timeout
                )),
            },
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
    let io = |e: crate::runner::RunnerError| e.to_string();
    runner.save_state("pid", &started.pid.to_string()).map_err(io)?;
    runner
        .save_state("socket", &s.socket.display().to_string())
        .map_err(io)?;
    if let Some((key, count)) = &restored {
        runner.save_state("restored_key", key).map_err(io)?;
        runner.save_state("restored_count", &count.to_string()).map_err(io)?;
    }
    runner
        .export_var("GH_CONFIG_DIR", &gh_dir.display().to_string())
        .map_err(io)?;
    runner
        .export_var("GH_P2P_CACHE_SOCKET", &s.socket.display().to_string())
        .map_err(io)?;
    runner.export_var("GH_P2P_CACHE_URL", &started.url).map_err(io)?;
    runner
        .set_output("socket", &s.socket.display().to_string())
        .map_err(io)?;
    runner.set_output("url", &started.url).map_err(io)?;
    runner.line(&format!(
        "gh-p2p-cache: serving on {} and {} (pid {}); gh, and clients using GH_P2P_CACHE_URL, go through it",
        s.socket.display(),
        started.url,
        started.pid
    ));
    Ok(())
}

/// Restores the newest snapshot for these keys and imports it into the cache directory.
async fn warm(s: &Settings, cache: &ActionsCache) -> Result<Option<(String, u64)>, String> {
    let keys = derive_keys(s).await?;
    let prefix = format!("{KEY_PREFIX}-{}-", keys.key_id());
    let file = s.work_dir.join("restored.car");
    let Some(restored) = cache
        .restore(
            &prefix,
            std::slice::from_ref(&prefix),
            &version_for("snapshot-v1"),
            &file,
        )
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let matched = restored.matched_key;
    let dir = s.cache_dir.clone();
    let report = tokio::task::spawn_blocking(move || -> Result<share::ImportReport, String> {
        let store = store::Store::open(&dir, 16 << 20, u64::MAX).map_err(|e| e.to_string())?;
        let input = std::io::BufReader::new(std::fs::File::open(&file).map_err(|e| e.to_string())?);
        let r = share::import(&store, &keys, input, &mut |_, _| {}).map_err(|e| e.to_string());
        let _ = std::fs::remove_file(&file);
        r
    })
    .await
    .map_err(|e| e.to_string())??;
    Ok(Some((matched, report.imported)))
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
    if !tokio::task::spawn_blocking(move || daemon::stop(pid, Duration::from_secs(15)))
        .await
        .unwrap_or(false)
    {
        runner.warning("gh-p2p-cache: the daemon did not stop on SIGTERM within 15 s and was killed");
    }

    let mut saved = None;
    if s.actions_cache {
        match actions_cache(runner) {
            Some(Ok(cache)) => match save(runner, &s, &cache).await {
                Ok(r) => saved = r,
                Err(e) => runner.warning(&format!("gh-p2p-cache: saving to the Actions cache failed: {e}")),
            },
            Some(Err(e)) => runner.warning(&format!("gh-p2p-cache: Actions cache unusable: {e}")),
            None => notes
                .push("No Actions cache service in this environment: nothing was saved for the next run.".to_owned()),
        }
    }
    if s.secret.is_none() {
        notes.push(
            "No `secret` input: entries are shared through this repository's Actions cache only. Set `secret` to share them encrypted between runners."
                .to_owned(),
        );
    }
    let restored = runner.state("restored_key").map(|k| {
        (
            k,
            runner.state("restored_count").and_then(|c| c.parse().ok()).unwrap_or(0),
        )
    });
    let md = markdown(&stats, &SnapshotNote { restored, saved }, &notes);
    if let Err(e) = runner.append_summary(&md) {
        runner.warning(&format!("gh-p2p-cache: job summary not written: {e}"));
    }
    let n = |k: &str| stats[k].as_u64().unwrap_or(0);
    let io = |e: crate::runner::RunnerError| e.to_string();
    runner
        .set_output("hit-rate", &format!("{:.3}", stats["hit_rate"].as_f64().unwrap_or(0.0)))
        .map_err(io)?;
    runner
        .set_output("requests", &n("total_requests").to_string())
        .map_err(io)?;
    runner
        .set_output("rate-limit-saved", &n("rate_limit_units_saved").to_string())
        .map_err(io)?;
    runner.set_output("ipfs-root", "").map_err(io)?;
    runner.group("gh-p2p-cache daemon log");
    runner.print_verbatim(&std::fs::read_to_string(&s.log_file).unwrap_or_default());
    runner.end_group();
    Ok(())
}

/// Exports the cache directory and saves it under a key unique to this job.
async fn save(runner: &Runner, s: &Settings, cache: &ActionsCache) -> Result<Option<(String, u64)>, String> {
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
    let key = format!("{KEY_PREFIX}-{}-{unique}", keys.key_id());
    let file = s.work_dir.join("snapshot.car");
    let (dir, out) = (s.cache_dir.clone(), file.clone());
    let report = tokio::task::spawn_blocking(move || -> Result<share::ExportReport, String> {
        let store = store::Store::open(&dir, 16 << 20, u64::MAX).map_err(|e| e.to_string())?;
        let w = std::io::BufWriter::new(std::fs::File::create(&out).map_err(|e| e.to_string())?);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        share::export(
            &store,
            &keys,
            &Scrubber::new(&[]).map_err(|e| e.to_string())?,
            w,
            now,
            &mut |_, _| {},
        )
        .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())??;
    if report.entries == 0 {
        return Ok(None);
    }
    cache
        .save(&key, &version_for("snapshot-v1"), &file)
        .await
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&file);
    Ok(Some((key, report.entries)))
}
