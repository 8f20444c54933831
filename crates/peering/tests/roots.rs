//! A snapshot root published to IPFS at finish is announced to the peers, who note it and never
//! try to fetch it as an entry.

use entry::{Keys, Secret};
use peering::{Link, PeerArgs};
use proxy::Peers;
use std::sync::Arc;
use std::time::Duration;
use store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_root_reaches_the_peers_as_a_root_not_an_entry() {
    let keys = Arc::new(Keys::derive_with_iterations(
        &Secret::from_text("fleet").unwrap(),
        "octo/hello",
        1,
    ));
    let store = || Arc::new(Store::memory_only(1 << 24));
    let b = Link::start(
        &PeerArgs::loopback(Vec::new()),
        keys.clone(),
        store(),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let a = Link::start(
        &PeerArgs::loopback(vec![b.node().ticket()]),
        keys,
        store(),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        a.node().wait_for_neighbors(1).await;
        b.node().wait_for_neighbors(1).await;
    })
    .await
    .expect("A and B joined the topic");

    a.published_root("not a CID");
    let root = entry::cid_of(b"a snapshot manifest");
    a.published_root(&root.to_string());
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let roots = b.announced_roots();
            if !roots.is_empty() {
                return roots;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("B heard of the root");
    assert_eq!(seen, vec![(a.node().id(), root)]);
    let described = b.describe();
    assert_eq!(described["ipfs_roots"][0]["root"], root.to_string());
    // Not fetched as an envelope: nothing prefetched, nobody counted as a bad peer.
    assert_eq!(described["prefetched"], 0);
    assert_eq!(b.node().stats().bad_peers, 0);
    assert_eq!(a.node().stats().bad_peers, 0);
}
