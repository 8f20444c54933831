//! Peer sync on loopback, through the daemon's own code (`peering::Link`, the sync-node role):
//!
//! - propagation: an answer stored at runner A (`Peers::stored`: seal, announce) until it is in
//!   runner B's store (announcement received, envelope fetched from A, CID and AEAD verified,
//!   stored), one entry at a time; p50 and p99. Target p99 ≤ 50 ms.
//! - warm start: a fresh runner loads a sync-node's 100k entries (snapshot over iroh, every
//!   envelope verified, stored durably), beside the same entries imported from a local snapshot
//!   file (no network) in the same run. Target ≤ 2 s.

use crate::snapshot_bench::{ENTRIES, entry_for, key_for};
use anyhow::Context;
use entry::{Keys, Scrubber, Secret};
use hdrhistogram::Histogram;
use peering::{Link, PeerArgs};
use proxy::Peers;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::Store;

const SAMPLES: usize = 500;

pub fn run(out: &std::path::Path) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let keys = Arc::new(
            tokio::task::spawn_blocking(|| {
                Keys::derive(&Secret::from_text("benchmark secret").expect("secret"), "octo/hello")
            })
            .await?,
        );
        let (p50, p99, max) = propagation(&keys).await?;
        let (peer_secs, transfer_secs, file_secs, warmed) = warm(&keys).await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let verdict = |ok: bool, what: String| format!("{}: {what}", if ok { "PASS" } else { "MISS" });
        let section = format!(
            "<!-- bench:peers:start -->\n## Peer sync on loopback\n\n\
             - Date: {}\n- Command: `cargo xtask bench --only peers`\n- Machine: {}\n\
             - Both through the daemon's code (`peering::Link`, the sync-node role), iroh endpoints on \
             127.0.0.1 with relays disabled, in one process.\n\n\
             **Propagation A → B** ({SAMPLES} entries, one at a time): stored at A (sealed, announced on \
             gossip) until stored at B (announcement received, envelope fetched from A, CID and AEAD \
             verified, stored).\n\n\
             | p50 | p99 | max |\n| ---: | ---: | ---: |\n| {:.2} ms | {:.2} ms | {:.2} ms |\n\n{}\n\n\
             **Warm start of {ENTRIES} entries** (2 KiB bodies) from a sync-node's redb store: snapshot \
             over iroh, every envelope verified, stored durably in a fresh redb store; beside it, the same \
             entries imported from a local snapshot file.\n\n\
             | source | entries | seconds | ratio to the local file |\n| --- | ---: | ---: | ---: |\n\
             | sync-node over iroh | {warmed} | {peer_secs:.2} | {:.2}× |\n\
             | of which the transfer (snapshot sent, every envelope checked and opened) | {ENTRIES} | \
             {transfer_secs:.2} | |\n\
             | local snapshot file | {ENTRIES} | {file_secs:.2} | 1.00× |\n\n{}\n<!-- bench:peers:end -->\n",
            crate::report::utc_timestamp(now),
            crate::report::machine(),
            p50,
            p99,
            max,
            verdict(p99 <= 50.0, format!("propagation p99 {p99:.2} ms, target ≤ 50 ms")),
            peer_secs / file_secs,
            if peer_secs <= 2.0 {
                verdict(true, format!("warm start {peer_secs:.2} s, target ≤ 2 s"))
            } else {
                verdict(
                    false,
                    format!(
                        "warm start {peer_secs:.2} s, {:.0} % over the 2 s target. Why: both ends run here, \
                         in one process on 2 shared cores: the sync-node reads 100k envelopes from redb and \
                         streams them, the runner checks every CID and opens every envelope (the transfer \
                         alone: {transfer_secs:.2} s) and stores the entries durably while the rest \
                         arrives; storing alone takes about what the local import takes ({file_secs:.2} s). \
                         With the sync-node on its own machine the runner's share is the transfer's checks \
                         plus the storing",
                        100.0 * (peer_secs / 2.0 - 1.0)
                    ),
                )
            },
        );
        println!("\n{section}");
        crate::report::write(out, &section)?;
        eprintln!("wrote {}", out.display());
        Ok(())
    })
}

async fn propagation(keys: &Arc<Keys>) -> anyhow::Result<(f64, f64, f64)> {
    let store_b = Arc::new(Store::memory_only(1 << 30));
    let b = Link::start(
        &PeerArgs::loopback(Vec::new()),
        keys.clone(),
        store_b.clone(),
        Duration::from_secs(10),
    )
    .await?;
    let a = Link::start(
        &PeerArgs::loopback(vec![b.node().ticket()]),
        keys.clone(),
        Arc::new(Store::memory_only(1 << 30)),
        Duration::from_secs(10),
    )
    .await?;
    // Both sides: a broadcast before A sees B as a neighbour goes nowhere (gossip keeps no
    // history; the daemon's misses and snapshots cover that, the benchmark waits).
    tokio::time::timeout(Duration::from_secs(10), async {
        a.node().wait_for_neighbors(1).await;
        b.node().wait_for_neighbors(1).await;
    })
    .await
    .context("A and B joined the gossip topic")?;
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for i in 0..SAMPLES + 50 {
        let key = key_for(i);
        let entry = Arc::new(entry_for(i));
        let started = Instant::now();
        a.stored(&key, &entry);
        loop {
            if store_b.get(&key).await.is_some() {
                break;
            }
            anyhow::ensure!(started.elapsed() < Duration::from_secs(10), "entry {i} never reached B");
            tokio::time::sleep(Duration::from_micros(100)).await;
        }
        if i >= 50 {
            h.record(started.elapsed().as_micros().max(1) as u64)?;
        }
    }
    let ms = |v: u64| v as f64 / 1000.0;
    Ok((ms(h.value_at_quantile(0.5)), ms(h.value_at_quantile(0.99)), ms(h.max())))
}

async fn warm(keys: &Arc<Keys>) -> anyhow::Result<(f64, f64, f64, u64)> {
    let dir = tempfile::tempdir()?;
    let node_dir = dir.path().join("node");
    let node_store = Arc::new(Store::open(&node_dir, 64 << 20, u64::MAX)?);
    {
        let (keys, store) = (keys.clone(), node_store.clone());
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let scrubber = Scrubber::new(&[])?;
            let disk = store.disk().context("disk")?;
            for chunk in (0..ENTRIES).collect::<Vec<_>>().chunks(10_000) {
                let sealed: Vec<_> = chunk
                    .iter()
                    .map(|&i| share::seal_entry(&keys, &scrubber, key_for(i), entry_for(i)))
                    .collect::<Result<_, _>>()?;
                let cids: Vec<Vec<u8>> = sealed.iter().map(|s| s.cid.to_bytes()).collect();
                let rows: Vec<_> = sealed
                    .iter()
                    .zip(&cids)
                    .zip(chunk)
                    .map(|((s, cid), &i)| store::BlockRow {
                        cid,
                        stored_ms: 1,
                        envelope: s.envelope.as_ref(),
                        key_hint: sync::key_hint(&key_for(i)),
                        version_ms: entry_for(i).fetched_at_ms,
                    })
                    .collect();
                disk.put_blocks(&rows)?;
            }
            Ok(())
        })
        .await??;
    }
    let (node, _blocks) =
        peering::sync_role::start(&PeerArgs::loopback(Vec::new()), keys.clone(), node_store, &node_dir).await?;

    let runner_store = Arc::new(Store::open(&dir.path().join("runner"), 64 << 20, u64::MAX)?);
    let runner = Link::start(
        &PeerArgs::loopback(vec![node.ticket()]),
        keys.clone(),
        runner_store.clone(),
        Duration::from_secs(10),
    )
    .await?;
    // The transfer alone (snapshot over iroh, every envelope checked and opened), then the whole
    // warm start (the same, and storing) for the table.
    let started = Instant::now();
    let outcome = runner.node().snapshot_since(node.id(), 0).await?;
    anyhow::ensure!(
        outcome.blocks.len() == ENTRIES,
        "snapshot of {} blocks",
        outcome.blocks.len()
    );
    drop(outcome);
    let transfer_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let warmed = runner.warm(Duration::from_secs(120)).await;
    runner_store.flush().await;
    let peer_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(warmed.error.is_none(), "warm failed: {:?}", warmed.error);
    anyhow::ensure!(warmed.entries == ENTRIES as u64, "warmed {} entries", warmed.entries);

    // The same entries from a local snapshot file.
    let file = dir.path().join("snap.car");
    let (keys2, file2) = (keys.clone(), file.clone());
    let store_for_export = runner_store.clone();
    let file_secs = tokio::task::spawn_blocking(move || -> anyhow::Result<f64> {
        share::export_file(&store_for_export, &keys2, &Scrubber::new(&[])?, &file2, &mut |_, _| {})?;
        let fresh = Store::open(&file2.with_extension("store"), 64 << 20, u64::MAX)?;
        let t = Instant::now();
        let r = share::import_file(&fresh, &keys2, &file2, &mut |_, _| {})?;
        anyhow::ensure!(r.imported == ENTRIES as u64, "imported {r:?}");
        Ok(t.elapsed().as_secs_f64())
    })
    .await??;
    Ok((peer_secs, transfer_secs, file_secs, warmed.entries))
}
