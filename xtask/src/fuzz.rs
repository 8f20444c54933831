//! `cargo xtask fuzz`: a bounded run of every cargo-fuzz target (envelope opening, scrubbing,
//! CAR reading). Needs the nightly toolchain and cargo-fuzz (installed here if missing).

use anyhow::{Context, bail};
use std::process::Command;

/// (crate directory, target, seed directories besides the corpus).
const TARGETS: &[(&str, &str, &[&str])] = &[
    ("crates/entry", "open_envelope", &["fuzz/seeds/open_envelope"]),
    ("crates/entry", "scrub", &[]),
    ("crates/ipfs", "read_car", &["fuzz/seeds/read_car"]),
];

pub fn run(seconds: u64) -> anyhow::Result<()> {
    let root = crate::procs::workspace_root();
    let have = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        eprintln!("installing cargo-fuzz (cargo install --locked cargo-fuzz)");
        let ok = Command::new("cargo")
            .args(["install", "--locked", "cargo-fuzz"])
            .status()?
            .success();
        if !ok {
            bail!("cargo install --locked cargo-fuzz failed");
        }
    }
    for (dir, target, seeds) in TARGETS {
        let corpus = format!("fuzz/corpus/{target}");
        std::fs::create_dir_all(root.join(dir).join(&corpus))?;
        eprintln!("fuzzing {dir} {target} for {seconds} s");
        let status = Command::new("cargo")
            .current_dir(root.join(dir))
            .args(["+nightly", "fuzz", "run", target, &corpus])
            .args(seeds.iter())
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .status()
            .with_context(|| format!("cannot run cargo +nightly fuzz in {dir}"))?;
        if !status.success() {
            bail!("fuzz target {target} in {dir} failed (a crash reproducer is under {dir}/fuzz/artifacts/{target})");
        }
    }
    eprintln!("every fuzz target ran {seconds} s without a crash");
    Ok(())
}
