//! Our snapshots judged by the IPFS project's own tools: npm `ipfs-car` (`roots`, and `blocks`,
//! which verifies every block's hash) and `@ipld/car` + `@ipld/dag-cbor` (check_snapshot.mjs,
//! which also proves every manifest block is canonical DAG-CBOR).
//!
//! Needs node and the packages of `tests/js`: `npm ci --prefix crates/ipfs/tests/js`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cid::Cid;
use common::{envelopes, snapshot};
use ipfs::CarReader;
use ipfs::block::MAX_BLOCK;
use serde_json::Value;

const INSTALL: &str = "run `npm ci --prefix crates/ipfs/tests/js` (needs node and npm: apt-get install nodejs npm)";

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(js_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {INSTALL}", program.display()))
}

/// Runs `ipfs-car ARGS FILE`.
fn ipfs_car(args: &[&str]) -> Output {
    let bin = js_dir().join("node_modules/.bin/ipfs-car");
    assert!(bin.exists(), "{} is missing: {INSTALL}", bin.display());
    run(&bin, args)
}

fn check_snapshot(file: &str) -> Output {
    let script = js_dir().join("node_modules/@ipld/dag-cbor");
    assert!(script.exists(), "{} is missing: {INSTALL}", script.display());
    run(Path::new("node"), &["check_snapshot.mjs", file])
}

fn lines(output: &Output) -> Vec<String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

fn strings(cids: impl IntoIterator<Item = Cid>) -> Vec<String> {
    cids.into_iter().map(|c| c.to_string()).collect()
}

/// Writes a snapshot of `n` envelopes to a temporary file and checks it with every tool.
fn judge(n: usize, manifest_limit: usize) -> usize {
    let input = envelopes(n, 300);
    let (car, root) = snapshot(&input, manifest_limit);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snapshot.car");
    std::fs::write(&file, &car).unwrap();
    let file = file.to_str().unwrap();

    // What we wrote, block by block, as our own reader sees it.
    let ours: Vec<Cid> = CarReader::new(&car[..]).unwrap().map(|b| b.unwrap().cid).collect();
    let manifest_blocks = ours.len() - n;
    assert_eq!(
        &ours[manifest_blocks..],
        &input.iter().map(|e| e.0).collect::<Vec<_>>()[..]
    );

    assert_eq!(lines(&ipfs_car(&["roots", file])), strings([root]), "ipfs-car roots");
    assert_eq!(
        lines(&ipfs_car(&["blocks", file])),
        strings(ours.iter().copied()),
        "ipfs-car blocks"
    );

    let seen: Value = serde_json::from_str(&lines(&check_snapshot(file)).join("\n")).unwrap();
    assert_eq!(seen["roots"], serde_json::json!(strings([root])));
    assert_eq!(seen["blocks"], serde_json::json!(strings(ours.iter().copied())));
    assert_eq!(
        seen["manifestBlocks"],
        serde_json::json!(strings(ours[..manifest_blocks].iter().copied()))
    );
    assert_eq!(seen["created"], 1_700_000_000_000_u64);
    let entries = seen["entries"].as_array().unwrap();
    assert_eq!(entries.len(), n);
    for (seen, (cid, data, meta)) in entries.iter().zip(&input) {
        assert_eq!(seen["cid"], cid.to_string());
        assert_eq!(seen["size"], data.len());
        assert_eq!(seen.get("kid").and_then(Value::as_str), meta.key_id.as_deref());
        assert_eq!(seen.get("exp").and_then(Value::as_u64), meta.expires_ms);
    }
    manifest_blocks
}

#[test]
fn ipfs_tools_read_a_snapshot_with_a_manifest_chain() {
    let manifest_blocks = judge(200, 2048);
    assert!(manifest_blocks > 3, "{manifest_blocks} manifest blocks");
}

#[test]
fn ipfs_tools_read_an_empty_snapshot() {
    assert_eq!(judge(0, MAX_BLOCK), 1);
}

#[test]
fn ipfs_car_blocks_rejects_a_tampered_snapshot() {
    let (mut car, _) = snapshot(&envelopes(5, 300), MAX_BLOCK);
    let last = car.len() - 1;
    car[last] ^= 0x01;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tampered.car");
    std::fs::write(&file, &car).unwrap();
    let file = file.to_str().unwrap();

    let output = ipfs_car(&["blocks", file]);
    assert!(!output.status.success(), "ipfs-car blocks accepted a tampered block");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("HashMismatch"), "unexpected failure: {stderr}");
    assert!(
        !check_snapshot(file).status.success(),
        "check_snapshot.mjs accepted a tampered block"
    );
}
