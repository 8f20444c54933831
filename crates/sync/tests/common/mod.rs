//! Helpers shared by the integration tests: keys, entries, filled sources, nodes on loopback.
#![allow(dead_code)] // each test binary uses its own subset

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use entry::{CacheKey, Fingerprint, Keys, Secret, SharedEntry, StoredResponse};
use iroh::address_lookup::MemoryLookup;
use sync::{Announced, BlockSource, MemorySource, PeerConfig, PeerNode, close, key_hint};

pub const LIMIT: Duration = Duration::from_secs(30);

pub fn keys(secret: &str) -> Arc<Keys> {
    Arc::new(Keys::derive_with_iterations(
        &Secret::from_text(secret).unwrap(),
        "octo/hello",
        1,
    ))
}

pub fn entry(i: usize) -> SharedEntry {
    let response = StoredResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Bytes::from(format!(
            r#"{{"id":{i},"updated_at":"2026-11-25T10:00:{:02}Z"}}"#,
            i % 60
        )),
        fetched_at_ms: 1_750_000_000_000 + i as u64,
        ttl_secs: 60,
        token_fp: Fingerprint::ANONYMOUS,
        etag: None,
        last_modified: None,
        request_accept: Some("*/*".into()),
        tags: vec!["octo/hello".into()],
        validators: vec![],
    };
    SharedEntry::new(
        &CacheKey::from_stored(format!("GET /repos/octo/hello/issues/{i} accept=*/*")),
        response,
    )
}

/// Seals `n` entries under `keys` into a fresh source, entry i stored at time i.
pub fn filled(keys: &Keys, n: usize) -> (Arc<MemorySource>, Vec<(Cid, Bytes, SharedEntry)>) {
    let source = Arc::new(MemorySource::new());
    let mut sealed = Vec::new();
    for i in 0..n {
        let e = entry(i);
        let s = entry::seal(keys, &e).unwrap();
        assert_eq!(source.insert(i as u64, s.envelope.clone()), s.cid);
        sealed.push((s.cid, s.envelope, e));
    }
    (source, sealed)
}

pub async fn node(
    keys: Arc<Keys>,
    source: Arc<dyn BlockSource>,
    lookup: &MemoryLookup,
    bootstrap: &[&PeerNode],
) -> PeerNode {
    let mut config = PeerConfig::new(keys, source);
    config.lookup = Some(lookup.clone());
    config.bootstrap = bootstrap.iter().map(|n| n.addr()).collect();
    config.request_timeout = Duration::from_secs(5);
    PeerNode::bind(config).await.unwrap()
}

/// What the daemon announces for sealed entries: each CID with the hint of its cache key.
pub fn announced(sealed: &[(Cid, Bytes, SharedEntry)]) -> Vec<Announced> {
    sealed
        .iter()
        .map(|(cid, _, e)| Announced {
            cid: *cid,
            hint: key_hint(&e.key),
        })
        .collect()
}

pub fn cids_of(items: &[Announced]) -> Vec<Cid> {
    items.iter().map(|i| i.cid).collect()
}

pub fn assert_loopback_only(node: &PeerNode) {
    let addr = node.addr();
    assert!(addr.ip_addrs().count() > 0);
    for ip in addr.ip_addrs() {
        assert!(ip.ip().is_loopback(), "{ip} is not on loopback");
    }
    assert_eq!(addr.relay_urls().count(), 0, "no relay may be configured");
}

/// Speaks `alpn` to `peer` without a handshake: the request may or may not get out before the
/// refusal (a race), but no byte comes back and the close carries `UNAUTHENTICATED`.
pub async fn assert_refused(from: &PeerNode, peer: iroh::EndpointId, alpn: &[u8], request: &[u8]) {
    use iroh::endpoint::ConnectionError;
    let conn = match from.endpoint().connect(peer, alpn).await {
        Ok(conn) => conn,
        Err(e) => panic!("the QUIC handshake itself should pass: {e}"),
    };
    let exchange = async {
        let (mut send, mut recv) = conn.open_bi().await.ok()?;
        send.write_all(request).await.ok()?;
        send.finish().ok()?;
        recv.read_to_end(1 << 20).await.ok()
    };
    let answer = exchange.await;
    assert!(answer.as_ref().is_none_or(|bytes| bytes.is_empty()), "{answer:?}");
    match conn.closed().await {
        ConnectionError::ApplicationClosed(c) => assert_eq!(c.error_code, close::UNAUTHENTICATED.into()),
        other => panic!("expected an application close, got {other:?}"),
    }
}
