//! Announce → fetch → verify latency from A to B on loopback, N = 200 entries one after the
//! other (a measurement, not a test):
//!
//! ```text
//! cargo run --release -p sync --example propagation [-- N]
//! ```
//!
//! For each entry: A stores the sealed envelope and announces its CID; B receives the
//! announcement, fetches the envelope from the announcer, checks its CID and opens it. The clock
//! runs from just before `announce` to the end of the check. The first entry (which pays for the
//! handshake and the fetch connection) is reported apart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use entry::{CacheKey, Fingerprint, Keys, Secret, SharedEntry, StoredResponse};
use iroh::address_lookup::MemoryLookup;
use sync::{Announced, MemorySource, PeerConfig, PeerNode, key_hint};

fn entry(i: usize) -> SharedEntry {
    // About 4 KiB of JSON, a typical single-resource answer.
    let body = format!(
        r#"{{"id":{i},"updated_at":"2026-11-25T10:00:00Z","body":"{}"}}"#,
        "x".repeat(4000)
    );
    let response = StoredResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Bytes::from(body),
        fetched_at_ms: 1_750_000_000_000,
        ttl_secs: 60,
        token_fp: Fingerprint::ANONYMOUS,
        etag: None,
        last_modified: None,
        request_accept: Some("*/*".into()),
        tags: vec![],
        validators: vec![],
    };
    SharedEntry::new(
        &CacheKey::from_stored(format!("GET /repos/octo/hello/issues/{i}")),
        response,
    )
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    // One PBKDF2 iteration: the measurement is about the network path, not key derivation.
    let keys = Arc::new(Keys::derive_with_iterations(
        &Secret::from_text("bench").unwrap(),
        "bench",
        1,
    ));
    let lookup = MemoryLookup::new();
    let source_a = Arc::new(MemorySource::new());
    let mut config = PeerConfig::new(keys.clone(), source_a.clone());
    config.lookup = Some(lookup.clone());
    let a = PeerNode::bind(config).await.expect("bind A");
    let mut config = PeerConfig::new(keys.clone(), Arc::new(MemorySource::new()));
    config.lookup = Some(lookup.clone());
    config.bootstrap = vec![a.addr()];
    let b = PeerNode::bind(config).await.expect("bind B");
    let mut heard = b.subscribe();
    tokio::time::timeout(Duration::from_secs(10), b.wait_for_neighbors(1))
        .await
        .expect("B joined A's topic");
    tokio::time::timeout(Duration::from_secs(10), a.wait_for_neighbors(1))
        .await
        .expect("A sees B");

    let sealed: Vec<_> = (0..=n)
        .map(|i| {
            let e = entry(i);
            (entry::seal(&keys, &e).unwrap(), key_hint(&e.key))
        })
        .collect();
    let mut gossip = Vec::with_capacity(n);
    let mut total = Vec::with_capacity(n);
    let mut first = Duration::ZERO;
    for (i, (s, hint)) in sealed.iter().enumerate() {
        let start = Instant::now();
        source_a.insert(i as u64, s.envelope.clone());
        let item = Announced {
            cid: s.cid,
            hint: *hint,
        };
        a.announce(&[item]).await.expect("announce");
        let heard_at = loop {
            let announcement = tokio::time::timeout(Duration::from_secs(10), heard.recv())
                .await
                .expect("announcement within 10 s")
                .expect("subscription open");
            if announcement.items.contains(&item) {
                break Instant::now();
            }
        };
        let got = b.fetch(a.id(), &[s.cid]).await.expect("fetch");
        assert_eq!(got.blocks.len(), 1);
        assert_eq!(got.blocks[0].envelope, s.envelope);
        let done = start.elapsed();
        if i == 0 {
            first = done;
        } else {
            gossip.push(heard_at - start);
            total.push(done);
        }
    }
    gossip.sort();
    total.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "propagation A -> B on loopback, {n} entries of {} bytes, one at a time",
        sealed[1].0.envelope.len()
    );
    println!("  first entry (handshake + connection): {:.2} ms", ms(first));
    println!(
        "  announce -> heard:            p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        ms(pct(&gossip, 0.50)),
        ms(pct(&gossip, 0.99)),
        ms(gossip[gossip.len() - 1])
    );
    println!(
        "  announce -> fetched+verified: p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        ms(pct(&total, 0.50)),
        ms(pct(&total, 0.99)),
        ms(total[total.len() - 1])
    );
    let (sa, sb) = (a.stats(), b.stats());
    println!(
        "  A served {}, B verified {}, bad peers {}, gossip lagged {}",
        sa.blocks_served, sb.blocks_verified, sb.bad_peers, sb.gossip_lagged
    );
    a.shutdown().await;
    b.shutdown().await;
}
